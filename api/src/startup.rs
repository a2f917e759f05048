//! Building and running the application: connect, migrate, seed, bind, serve. `build` binds the
//! listener before it returns, so tests can bind port 0 and read the port.

use std::sync::Arc;

use anyhow::Context;
use domain::store::Store;
use migration::MigratorTrait;
use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretSlice};

use crate::access_log::AccessLog;
use crate::error::render_poem_error;
use crate::limits::{BodyLimit, MAX_JSON_BODY};
use crate::rate_limit::{PageHooks, RateLimit, RateLimits};
use crate::routes::admin::AdminApi;
use crate::routes::carrier::CarrierApi;
use crate::routes::events::EventFeedApi;
use crate::routes::labels::LabelApi;
use crate::routes::metrics::MetricsApi;
use crate::routes::reports::ReportApi;
use crate::routes::webhooks::WebhookApi;
use crate::routes::{agency::AgencyApi, handovers::HandoverApi, postal::PostalApi};
use crate::routes::{audit::AuditApi, keys::KeyApi};
use crate::routes::{dossiers::DossierApi, health::HealthApi, reference::ReferenceApi};
use crate::settings::Settings;
use crate::state::AppState;

/// Every group of operations the service serves, in the order the OpenAPI document lists them.
pub type ApiGroups = (
    ReferenceApi,
    DossierApi,
    HealthApi,
    LabelApi,
    PostalApi,
    HandoverApi,
    AgencyApi,
    WebhookApi,
    CarrierApi,
    MetricsApi,
    ReportApi,
    AdminApi,
    EventFeedApi,
    (KeyApi, AuditApi),
    crate::routes::CitizenRightsApis,
);

/// The service's OpenAPI description, generated from the code.
pub fn openapi_service() -> OpenApiService<ApiGroups, ()> {
    OpenApiService::new(
        (
            ReferenceApi,
            DossierApi,
            HealthApi,
            LabelApi,
            PostalApi,
            HandoverApi,
            AgencyApi,
            WebhookApi,
            CarrierApi,
            MetricsApi,
            ReportApi,
            AdminApi,
            EventFeedApi,
            (KeyApi, AuditApi),
            crate::routes::citizen_rights_apis(),
        ),
        "Dossiers by public post",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Administrative-procedure dossiers carried by the public postal service and results brought \
         home (Decision 45/2016/QĐ-TTg). Staff and machines authenticate with `Authorization: Bearer dk_…`, \
         citizens with the `dt_…` access token of their dossier.",
    )
}

/// Applies every migration, refusing a database written by a newer version of the service.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    let known: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let has_table = migration::Migrator::get_migration_models(db).await.ok();
    if let Some(applied) = has_table
        && let Some(unknown) = applied.iter().find(|m| !known.contains(&m.version))
    {
        anyhow::bail!(
            "the database was migrated by a newer version of this service (it has migration `{}`, \
             which this version does not know); run the newer version or restore a matching backup",
            unknown.version
        );
    }
    let pending = migration::Migrator::get_pending_migrations(db)
        .await
        .map(|p| p.len())
        .unwrap_or_default();
    migration::Migrator::up(db, None)
        .await
        .context("Failed to apply database migrations")?;
    if pending > 0 {
        // One line for all of them: the migrator's own logs are at `warn` by default.
        tracing::info!(
            migrations.applied = pending,
            "database schema brought up to date"
        );
    }
    Ok(())
}

/// The shortest configured label-signing key accepted: HMAC-SHA256 is as strong as 32 bytes of key.
const MIN_LABEL_KEY_LEN: usize = 32;

/// The key that signs labels' QR tokens: the configured one, else the one kept in the database (made
/// on the first start), so that every replica signs and verifies alike.
async fn label_signing_key(
    settings: &Settings,
    db: &DatabaseConnection,
) -> anyhow::Result<SecretSlice<u8>> {
    if let Some(key) = &settings.labels.signing_key {
        let bytes = key.expose_secret().as_bytes();
        anyhow::ensure!(
            bytes.len() >= MIN_LABEL_KEY_LEN,
            "labels.signing_key (DOSSIER__LABELS__SIGNING_KEY) must be at least {MIN_LABEL_KEY_LEN} \
             bytes; or leave it unset to let the service keep a random key in the database"
        );
        return Ok(SecretSlice::from(bytes.to_vec()));
    }
    let key =
        domain::ops::service_keys::get_or_create(db, domain::ops::service_keys::LABEL_SIGNING)
            .await
            .context("Failed to load the label-signing key")?;
    Ok(SecretSlice::from(key))
}

/// A built application, listening.
pub struct Application {
    port: u16,
    listener: tokio::net::TcpListener,
    /// How long a connection may take to send a request's headers.
    header_timeout: std::time::Duration,
    state: AppState,
    /// The admin key made on the first start of an empty database, to print once.
    pub first_admin_key: Option<String>,
    /// Whether demo data was seeded on this start.
    pub seeded: bool,
}

impl Application {
    /// Connects, migrates, seeds (when asked and the database is empty) and binds the listener.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        crate::routes::metrics::install();
        if let Some(dir) =
            sqlite_file(&settings.database.url).and_then(|p| std::path::Path::new(p).parent())
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("Failed to create the data directory {}", dir.display())
            })?;
        }
        let mut store = Store::connect_with(
            &settings.database.url,
            settings.database.max_connections,
            std::time::Duration::from_millis(settings.database.lock_timeout_ms),
        )
        .await
        .context("Failed to connect to the database")?;
        store.open_requests_per_phone = settings.limits.open_requests_per_phone;
        migrate(&store.write).await?;
        let mut seeded = false;
        let mut first_admin_key = None;
        if settings.server.seed_demo {
            seeded = domain::ops::seed::seed_demo_if_empty(&store.write)
                .await
                .context("Failed to seed demo data")?;
            if seeded {
                let key = domain::ops::keys::create_api_key(
                    &store.write,
                    domain::ops::keys::NewApiKey {
                        role: entity::enums::Role::Admin,
                        name: "first administrator".into(),
                        office_code: None,
                        agency_code: None,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("Failed to create the first admin key: {e}"))?;
                first_admin_key = Some(key.secret);
            }
        }
        let outlets = settings.outlets();
        if outlets.phone || outlets.portal {
            // Phone notices and portal calls are written from now on; a worker started with these
            // settings delivers them (and declares the same when it starts).
            domain::ops::integrations::declare_outlets(&store.write, outlets)
                .await
                .context("Failed to record the configured phone and portal outlets")?;
        }
        let label_key = label_signing_key(settings, &store.write).await?;
        let listener = tokio::net::TcpListener::bind(settings.server.bind.as_str())
            .await
            .with_context(|| format!("Failed to listen on {}", settings.server.bind))?;
        let port = listener
            .local_addr()
            .context("Failed to read the bound port")?
            .port();
        let state = AppState::new(crate::state::Shared {
            allow_private_webhooks: settings.webhooks.allow_private_networks,
            carrier_sync: settings
                .carrier
                .base_url
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty()),
            track_cache: crate::track_cache::TrackCache::for_store(
                &store,
                settings.server.track_cache,
            ),
            store,
            public_base_url: Arc::from(settings.public_base_url(port)),
            label_key: Arc::new(label_key),
            carrier_push_key: settings
                .carrier
                .webhook_secret
                .as_ref()
                .map(|s| s.expose_secret().as_bytes().to_vec())
                .filter(|k| !k.is_empty())
                .map(|k| Arc::new(SecretSlice::from(k))),
            guards: Arc::new(crate::state::Guards {
                rate_limits: Arc::new(RateLimits::new(&settings.limits, &settings.server)?),
                metrics_token: settings
                    .metrics
                    .token
                    .clone()
                    .filter(|t| !t.expose_secret().is_empty()),
                reports: crate::state::ReportLimits {
                    slots: tokio::sync::Semaphore::new(settings.limits.reports_at_once),
                    wait: std::time::Duration::from_secs(settings.limits.report_wait_secs),
                    timeout: std::time::Duration::from_millis(settings.limits.report_timeout_ms),
                },
            }),
            complaint_answer_days: settings.complaints.answer_working_days,
        });
        Ok(Self {
            port,
            listener,
            header_timeout: std::time::Duration::from_secs(
                settings.server.header_timeout_secs.max(1),
            ),
            state,
            first_admin_key,
            seeded,
        })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL people reach the service at.
    pub fn base_url(&self) -> &str {
        &self.state.public_base_url
    }

    /// The store, for the worker and tests.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let limits = self.state.guards.rate_limits.clone();
        let forget_idle = tokio::spawn(async move {
            let mut every = tokio::time::interval(crate::rate_limit::FORGET_IDLE_EVERY);
            loop {
                every.tick().await;
                limits.forget_idle();
            }
        });
        let _stop_forgetting = AbortOnDrop(forget_idle);
        let app = routes(self.state);
        crate::serve::serve(
            self.listener,
            app,
            self.header_timeout,
            shutdown,
            std::time::Duration::from_secs(10),
        )
        .await
    }

    /// Serves until the process is told to stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }
}

/// Ends a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The whole route tree with its middleware.
pub fn routes(state: AppState) -> impl poem::Endpoint {
    let api = openapi_service().server(state.public_base_url.to_string());
    let allow = crate::allow::AllowOn405::from_spec(&api.spec());
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let rate_limit = RateLimit(
        state.guards.rate_limits.clone(),
        PageHooks {
            session_key: |req| {
                req.data::<AppState>()
                    .and_then(|state| crate::web::session::session_key_id(state, req))
            },
            refusal_page: crate::web::too_many_requests_page,
        },
    );
    let api_routes = Route::new()
        .nest("/", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs);
    crate::web::mount(api_routes)
        .with(BodyLimit::new(MAX_JSON_BODY))
        .with(rate_limit)
        .catch_all_error(render_poem_error)
        .with(allow)
        .with(AccessLog)
        .around(crate::client_ip::scope)
        .data(state)
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}
