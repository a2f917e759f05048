//! The test harness: [`TestApp::spawn`] starts the real application on port 0 with a fresh database
//! (a SQLite file in a temporary directory, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is
//! set), seeded with the demo reference data, and offers one helper per endpoint.
//!
//! Where to add: a black-box test of an endpoint goes in `api/<area>.rs` (registered in `api/main.rs`),
//! using [`TestApp`] and the fixtures here (`smtp_sink`, `outbox_fixture`, `notify_fixture`); a test that
//! needs real `dossier` processes (kill -9, two workers) goes in `processes/`; a browser test in `web/`.
//! Every test runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set.

pub mod notify_fixture;
pub mod outbox_fixture;
pub mod process;
pub mod smtp_sink;

use std::sync::Arc;

use api::settings::{
    CarrierSettings, DatabaseSettings, LabelSettings, ServerSettings, Settings, SmtpSettings,
};
use domain::store::Store;
use entity::enums::Role;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use serde_json::{Value, json};

/// A running application and a client for it.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// The database URL the app uses.
    pub database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// On PostgreSQL, the server and the name of the database made for this app, dropped with it.
    pg_database: Option<(String, String)>,
    _dir: Arc<tempfile::TempDir>,
}

/// Which database the suite runs against.
pub fn test_database_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Makes a fresh database and returns its URL (and on PostgreSQL the server's URL and the database's
/// name, to drop it afterwards).
async fn fresh_database(dir: &tempfile::TempDir) -> (String, Option<(String, String)>) {
    match test_database_url() {
        None => (
            format!("sqlite://{}/dossier.db?mode=rwc", dir.path().display()),
            None,
        ),
        Some(server_url) => {
            let name = format!("dossier_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(server_url.as_str())
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE \"{name}\""),
                ))
                .await
                .expect("create the test database");
            admin.close().await.ok();
            let (base, query) = match server_url.split_once('?') {
                Some((b, q)) => (b.to_owned(), format!("?{q}")),
                None => (server_url.clone(), String::new()),
            };
            let base = match base.rsplit_once('/') {
                Some((prefix, _db))
                    if prefix.contains("//") && prefix.len() > "postgres://".len() =>
                {
                    prefix.to_owned()
                }
                _ => base,
            };
            (format!("{base}/{name}{query}"), Some((server_url, name)))
        }
    }
}

/// Drops a test database on `server_url`, closing the connections still open to it. Runs on a thread
/// of its own, as it is called from `Drop` inside the test's runtime.
fn drop_database(server_url: String, name: String) {
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let admin = sea_orm::Database::connect(server_url.as_str()).await.ok()?;
            let result = admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                ))
                .await;
            admin.close().await.ok();
            result.ok()
        })
    })
    .join();
    if !matches!(dropped, Ok(Some(_))) {
        eprintln!("note: the test database could not be dropped; `.ci/run` drops leftovers");
    }
}

/// A fresh database with nothing in it (not even migrations), dropped with this guard.
pub struct EmptyDatabase {
    pub url: String,
    pg_database: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl EmptyDatabase {
    /// A fresh, empty database of the suite's kind (SQLite, or PostgreSQL with `TEST_DATABASE_URL`).
    pub async fn new() -> EmptyDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg_database) = fresh_database(&dir).await;
        EmptyDatabase {
            url,
            pg_database,
            _dir: dir,
        }
    }
}

impl Drop for EmptyDatabase {
    fn drop(&mut self) {
        if let Some((server_url, name)) = self.pg_database.take() {
            drop_database(server_url, name);
        }
    }
}

/// Settings for a test instance on `database_url`.
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        server: ServerSettings {
            bind: "127.0.0.1:0".into(),
            seed_demo: true,
            run_worker: false,
            json_logs: false,
            trusted_proxies: String::new(),
            header_timeout_secs: 10,
            track_cache: true,
        },
        database: DatabaseSettings {
            url: database_url.to_owned(),
            max_connections: 8,
            lock_timeout_ms: domain::store::DEFAULT_LOCK_TIMEOUT.as_millis() as u64,
        },
        public_base_url: None,
        labels: LabelSettings { signing_key: None },
        carrier: CarrierSettings {
            base_url: None,
            consumer_key: None,
            consumer_secret: None,
            customer_code: None,
            poll_interval_secs: 1,
            webhook_secret: None,
            feed_lease_secs: 120,
        },
        smtp: SmtpSettings {
            url: None,
            from: "test <test@dossier.local>".into(),
            mail_dir: None,
        },
        outbox: Default::default(),
        worker: Default::default(),
        // The suite posts many dossiers from one address with one phone; the limits' own tests
        // lower these.
        limits: api::settings::LimitSettings {
            public_writes_per_minute: 1_000_000,
            public_reads_per_minute: 1_000_000,
            key_requests_per_minute: 1_000_000,
            open_requests_per_phone: 1_000_000,
            ..Default::default()
        },
        metrics: Default::default(),
        webhooks: api::settings::WebhookSettings {
            allow_private_networks: true,
        },
        complaints: Default::default(),
        alerts: Default::default(),
        sms: Default::default(),
        zalo: Default::default(),
        portal: Default::default(),
    }
}

impl TestApp {
    /// Starts the application on a fresh, seeded database.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Starts the application like [`TestApp::spawn`], with settings changed by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_database) = fresh_database(&dir).await;
        let mut settings = test_settings(&database_url);
        adjust(&mut settings);
        if settings.webhooks.allow_private_networks {
            // The worker's receivers in tests listen on the loopback.
            worker::webhooks::set_allow_private_networks(true);
        }
        let app = api::Application::build(&settings)
            .await
            .expect("build the app");
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let store = app.store().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            base_url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            store,
            database_url,
            stop: Some(tx),
            pg_database,
            _dir: Arc::new(dir),
        }
    }

    /// A URL on the app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Makes an API key directly in the store, as `dossier keys create` would.
    pub async fn key(&self, role: Role, office: Option<&str>, agency: Option<&str>) -> String {
        domain::ops::keys::create_api_key(
            &self.store.write,
            domain::ops::keys::NewApiKey {
                role,
                name: format!("test {role}"),
                office_code: office.map(str::to_owned),
                agency_code: agency.map(str::to_owned),
            },
        )
        .await
        .expect("create key")
        .secret
    }

    /// `POST /api/v1/dossiers` with a JSON body.
    pub async fn post_dossier(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/dossiers"))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `POST /api/v1/dossiers` with a JSON body and an `Idempotency-Key`.
    pub async fn post_dossier_with_key(&self, body: &Value, key: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/dossiers"))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `GET /api/v1/dossiers/{code}` with a bearer credential.
    pub async fn get_dossier(&self, code: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .get(self.url(&format!("/api/v1/dossiers/{code}")));
        if let Some(bearer) = bearer {
            req = req.bearer_auth(bearer);
        }
        req.send().await.expect("request")
    }

    /// `GET /api/v1/track/{code}`.
    pub async fn track(&self, code: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/api/v1/track/{code}")))
            .send()
            .await
            .expect("request")
    }

    /// `POST /api/v1/dossiers/{code}/cancel`.
    pub async fn cancel(&self, code: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(&format!("/api/v1/dossiers/{code}/cancel")));
        if let Some(bearer) = bearer {
            req = req.bearer_auth(bearer);
        }
        req.send().await.expect("request")
    }

    /// How many dossiers are stored.
    pub async fn dossier_count(&self) -> u64 {
        entity::dossier::Entity::find()
            .count(&self.store.read)
            .await
            .expect("count")
    }

    /// How many timeline events are stored.
    pub async fn event_count(&self) -> u64 {
        entity::dossier_event::Entity::find()
            .count(&self.store.read)
            .await
            .expect("count")
    }

    /// Creates a valid pickup request and returns the 201 body.
    pub async fn create_valid_dossier(&self) -> Value {
        let res = self.post_dossier(&valid_request()).await;
        assert_eq!(res.status(), 201, "create failed");
        res.json().await.expect("json")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((server_url, name)) = self.pg_database.take() {
            drop_database(server_url, name);
        }
    }
}

/// The example request of API.md, valid against the demo data.
pub fn valid_request() -> Value {
    json!({
        "procedure_code": "1.001612",
        "agency_code": "UBND-P-HOANKIEM",
        "service_mode": "send_and_return",
        "applicant": {"full_name": "Nguyễn Văn An", "phone": "0912345678", "email": "an@example.vn", "id_number": "001090012345"},
        "pickup_address": {"line": "12 Tràng Tiền", "ward_code": "00070", "province_code": "01"},
        "return_address": null,
        "documents": [{"name": "Tờ khai đăng ký", "original": true, "copies": 1}],
        "with_appointment": false,
        "fee_exemption": "none"
    })
}

/// Reads an error envelope and returns `(code, fields named in details)`.
pub async fn error_of(res: reqwest::Response) -> (String, Vec<String>) {
    let body: Value = res.json().await.expect("error body is JSON");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned();
    assert!(
        body["error"]["message"].is_string(),
        "error.message missing: {body}"
    );
    let fields = body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (code, fields)
}
