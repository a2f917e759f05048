//! Typed settings: defaults, then an optional file (`dossier.toml`, or the path in `DOSSIER_CONFIG`),
//! then environment variables `DOSSIER__SECTION__KEY` (e.g. `DOSSIER__CARRIER__BASE_URL`). Secrets are
//! `SecretString` and never printed.

use secrecy::SecretString;
use serde::Deserialize;

/// Everything the service can be told.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    /// Where people reach the service, for links; defaults to `http://{bind}`.
    pub public_base_url: Option<String>,
    pub carrier: CarrierSettings,
    pub smtp: SmtpSettings,
    /// Parcel labels.
    #[serde(default)]
    pub labels: LabelSettings,
    /// Delivery of e-mails and webhooks from the outbox.
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// A stand-alone `dossier worker` process.
    #[serde(default)]
    pub worker: WorkerProcessSettings,
    /// Rate limits of the public internet (`DOSSIER__LIMITS__…`).
    #[serde(default)]
    pub limits: LimitSettings,
    /// `GET /metrics`.
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// Agency systems' webhooks.
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// Citizens' complaints (Circular 17 Art. 8).
    #[serde(default)]
    pub complaints: ComplaintSettings,
    /// Where administrators are told what needs them (`DOSSIER__ALERTS__…`).
    #[serde(default)]
    pub alerts: AlertSettings,
    /// The brandname SMS gateway (`DOSSIER__SMS__…`).
    #[serde(default)]
    pub sms: SmsSettings,
    /// Zalo Notification Service (`DOSSIER__ZALO__…`).
    #[serde(default)]
    pub zalo: ZaloSettings,
    /// The national public-service portal (`DOSSIER__PORTAL__…`).
    #[serde(default)]
    pub portal: PortalSettings,
}

/// The brandname SMS gateway (INTEGRATIONS.md §1); off while `url` is unset.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SmsSettings {
    /// The gateway's base URL (`DOSSIER__SMS__URL`).
    pub url: Option<String>,
    pub api_key: Option<String>,
    pub secret_key: Option<SecretString>,
    pub brandname: Option<String>,
}

impl SmsSettings {
    /// Whether SMS is configured.
    pub fn configured(&self) -> bool {
        self.url.as_deref().is_some_and(|u| !u.trim().is_empty())
    }
}

/// Zalo Notification Service (INTEGRATIONS.md §2); off while the app, the refresh token or the
/// template is unset.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ZaloSettings {
    /// `DOSSIER__ZALO__BASE_URL`, default `https://business.openapi.zalo.me`.
    pub base_url: String,
    /// `DOSSIER__ZALO__OAUTH_URL`, default `https://oauth.zaloapp.com`.
    pub oauth_url: String,
    pub app_id: Option<String>,
    pub secret_key: Option<SecretString>,
    /// The first refresh token; Zalo rotates it and the service keeps the latest in the database.
    pub refresh_token: Option<SecretString>,
    /// The approved "dossier status" template.
    pub template_id: Option<String>,
}

impl Default for ZaloSettings {
    fn default() -> Self {
        Self {
            base_url: "https://business.openapi.zalo.me".to_owned(),
            oauth_url: "https://oauth.zaloapp.com".to_owned(),
            app_id: None,
            secret_key: None,
            refresh_token: None,
            template_id: None,
        }
    }
}

impl ZaloSettings {
    /// Whether ZNS is configured.
    pub fn configured(&self) -> bool {
        let set = |v: Option<&str>| v.is_some_and(|v| !v.trim().is_empty());
        set(self.app_id.as_deref())
            && set(self.template_id.as_deref())
            && set(self
                .refresh_token
                .as_ref()
                .map(secrecy::ExposeSecret::expose_secret))
    }
}

/// The national public-service portal (INTEGRATIONS.md §3); off while `base_url` is unset.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PortalSettings {
    /// `DOSSIER__PORTAL__BASE_URL`.
    pub base_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The `dstcode` header of the login.
    pub dstcode: Option<String>,
}

impl PortalSettings {
    /// Whether the portal is configured.
    pub fn configured(&self) -> bool {
        self.base_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
    }
}

/// Where administrators are told what needs them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlertSettings {
    /// The administrators' address (`DOSSIER__ALERTS__EMAIL`): it gets a copy of every agency's
    /// periodic report (Circular 17 Art. 13).
    pub email: Option<String>,
}

/// Agency systems' webhooks.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhookSettings {
    /// Accept webhook URLs that are `http://`, carry credentials or reach non-public addresses
    /// (loopback, private, link-local, …), and deliver to them
    /// (`DOSSIER__WEBHOOKS__ALLOW_PRIVATE_NETWORKS=true`, for closed networks and tests). Off by
    /// default: only `https://` URLs of public addresses, checked again on the address connected to.
    #[serde(default)]
    pub allow_private_networks: bool,
}

/// Rate limits (API.md "Public-internet limits").
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Per client: `POST /api/v1/dossiers` without a staff key, the web request form, staff sign-in
    /// attempts.
    pub public_writes_per_minute: u32,
    /// Per client: `/api/v1/track/*`, `/t/*`, `/l/*`.
    pub public_reads_per_minute: u32,
    /// Per API key, every request.
    pub key_requests_per_minute: u32,
    /// Open pickup requests (`pickup_requested`, `pickup_scheduled`, `pickup_failed`) per applicant
    /// phone.
    pub open_requests_per_phone: u32,
    /// Reports made at once by one process; the next waits for a turn.
    pub reports_at_once: usize,
    /// How long a report waits for a turn before it is refused (429).
    pub report_wait_secs: u64,
    /// How long a report's statements may run (PostgreSQL's `statement_timeout`; on SQLite the whole
    /// report is bounded by a timer). 0 allows no time at all: every report is refused, a switch for
    /// an operator whose database is in trouble.
    pub report_timeout_ms: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            public_writes_per_minute: 30,
            public_reads_per_minute: 600,
            key_requests_per_minute: 6000,
            open_requests_per_phone: 5,
            reports_at_once: 2,
            report_wait_secs: 10,
            report_timeout_ms: 30_000,
        }
    }
}

/// `GET /metrics` (on `dossier serve` and on a stand-alone worker's metrics endpoint).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricsSettings {
    /// When set, `/metrics` requires `Authorization: Bearer <token>` (`DOSSIER__METRICS__TOKEN`).
    pub token: Option<SecretString>,
}

/// Citizens' complaints.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ComplaintSettings {
    /// Working days to answer a complaint (`DOSSIER__COMPLAINTS__ANSWER_WORKING_DAYS`, default 15:
    /// the sources differ between 5, 7 and 15).
    pub answer_working_days: u32,
}

impl Default for ComplaintSettings {
    fn default() -> Self {
        Self {
            answer_working_days: domain::ops::complaints::DEFAULT_ANSWER_WORKING_DAYS,
        }
    }
}

/// A stand-alone `dossier worker` process (`dossier serve` shows its in-process worker's metrics on
/// its own `/metrics`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorkerProcessSettings {
    /// Where the worker serves `GET /metrics`, `/health/live` and `/health/ready`
    /// (`DOSSIER__WORKER__METRICS_BIND`, e.g. `127.0.0.1:9108`); unset, it serves nothing.
    pub metrics_bind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    /// Seed demo reference data into an empty database.
    pub seed_demo: bool,
    /// Run the worker loops inside the server process.
    pub run_worker: bool,
    /// Log as JSON lines instead of text.
    pub json_logs: bool,
    /// Proxies whose last `X-Forwarded-For` hop names the client (comma-separated addresses).
    #[serde(default)]
    pub trusted_proxies: String,
    /// A connection whose request headers are not complete within this many seconds is closed.
    #[serde(default = "default_header_timeout_secs")]
    pub header_timeout_secs: u64,
    /// Keep public tracking views in memory between reads (SQLite only; off to measure the database).
    #[serde(default = "default_track_cache")]
    pub track_cache: bool,
}

fn default_track_cache() -> bool {
    true
}

fn default_header_timeout_secs() -> u64 {
    10
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    /// PostgreSQL pool size per process (default 16: enough in flight for commits to share each flush,
    /// few enough that the database's backends do not crowd its CPUs and stretch every answer's tail).
    /// SQLite uses one writer and at most four readers whatever this says.
    pub max_connections: u32,
    /// On PostgreSQL, how long a statement may wait for a lock another session holds (its
    /// `lock_timeout`, default 10,000 ms) before it fails: a request is then answered 503 with
    /// nothing changed, and a worker's step fails and is tried again, instead of either waiting
    /// behind a stuck session for as long as it lives. Sent as a connection startup parameter; 0 sends
    /// none, and the server's own setting holds (for a connection pooler that refuses them).
    #[serde(default = "default_lock_timeout_ms")]
    pub lock_timeout_ms: u64,
}

fn default_lock_timeout_ms() -> u64 {
    domain::store::DEFAULT_LOCK_TIMEOUT.as_millis() as u64
}

/// The carrier's tracking API (CARRIER.md).
#[derive(Debug, Clone, Deserialize)]
pub struct CarrierSettings {
    pub base_url: Option<String>,
    pub consumer_key: Option<String>,
    pub consumer_secret: Option<SecretString>,
    pub customer_code: Option<String>,
    pub poll_interval_secs: u64,
    pub webhook_secret: Option<SecretString>,
    /// How long a worker holds the feed cursor while it reads (`DOSSIER__CARRIER__FEED_LEASE_SECS`,
    /// default 120): a worker that dies mid-read is replaced by another after this.
    #[serde(default = "default_feed_lease_secs")]
    pub feed_lease_secs: u64,
}

/// The feed cursor's lease unless configured: long enough for a slow read of a large backlog.
fn default_feed_lease_secs() -> u64 {
    120
}

/// Outgoing mail.
#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    /// e.g. `smtp://127.0.0.1:2525` (plain), `smtp://host:587?tls=required` or
    /// `smtp+starttls://host:587` (STARTTLS), `smtps://user:password@host:465` (TLS); unset writes
    /// `.eml` files under `mail_dir`.
    pub url: Option<SecretString>,
    pub from: String,
    /// Where `.eml` files go without SMTP (`DOSSIER__SMTP__MAIL_DIR`); `./data/mail` by default.
    #[serde(default)]
    pub mail_dir: Option<String>,
}

/// How the worker delivers the outbox: retries back off as `retry_base_secs · 2^attempts`, at most
/// `retry_cap_secs` apart, and after `max_attempts` the row is kept as `failed` for an administrator.
/// Webhook deliveries follow their own schedule instead (`domain::webhook_retry`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OutboxSettings {
    pub retry_base_secs: u64,
    pub retry_cap_secs: u64,
    pub max_attempts: i32,
    /// Rows claimed per step.
    pub batch_size: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How long a claim holds its rows before another worker may take them.
    pub lease_secs: u64,
    /// How long one webhook attempt may take.
    pub webhook_timeout_secs: u64,
    /// SMTP connections kept open at once.
    pub smtp_pool_size: u32,
    /// The overall deadline of one e-mail: the wait for a pooled connection, connecting and the
    /// whole SMTP conversation together.
    pub smtp_timeout_secs: u64,
    /// The most any one delivery attempt may take, all included.
    pub attempt_timeout_secs: u64,
    /// When the worker stops, how long deliveries in flight may still take before their rows are
    /// given back.
    pub shutdown_drain_secs: u64,
    /// How long one call to the SMS gateway, Zalo or the portal may take.
    pub integration_timeout_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            retry_base_secs: 30,
            retry_cap_secs: 6 * 3600,
            max_attempts: 12,
            batch_size: 200,
            concurrency: 16,
            lease_secs: 300,
            webhook_timeout_secs: 10,
            smtp_pool_size: 10,
            smtp_timeout_secs: 30,
            attempt_timeout_secs: 60,
            shutdown_drain_secs: 5,
            integration_timeout_secs: 10,
        }
    }
}

/// Parcel labels.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LabelSettings {
    /// The key that signs the tokens in labels' QR codes, at least 32 bytes
    /// (`DOSSIER__LABELS__SIGNING_KEY`). Unset, the service makes a random key on its first start and
    /// keeps it in the database, so every replica signs alike and printed labels survive restarts.
    pub signing_key: Option<SecretString>,
}

/// The default SQLite database of the embedded mode.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/dossier.db?mode=rwc";
/// The default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

impl Settings {
    /// Loads defaults, the optional file and the environment.
    pub fn load() -> Result<Self, config::ConfigError> {
        let file = std::env::var("DOSSIER_CONFIG").unwrap_or_else(|_| "dossier.toml".to_owned());
        config::Config::builder()
            .set_default("server.bind", DEFAULT_BIND)?
            .set_default("server.seed_demo", true)?
            .set_default("server.run_worker", true)?
            .set_default("server.json_logs", false)?
            .set_default("database.url", DEFAULT_DATABASE_URL)?
            .set_default("database.max_connections", 16)?
            .set_default("carrier.poll_interval_secs", 30)?
            .set_default(
                "smtp.from",
                "Dịch vụ hồ sơ qua bưu chính <no-reply@dossier.local>",
            )?
            .add_source(config::File::with_name(&file).required(false))
            .add_source(
                config::Environment::with_prefix("DOSSIER")
                    .prefix_separator("__")
                    .separator("__"),
            )
            .build()?
            .try_deserialize()
    }

    /// The outside systems configured here: phone notices (ZNS or SMS) and the portal.
    pub fn outlets(&self) -> domain::ops::integrations::Outlets {
        domain::ops::integrations::Outlets {
            phone: self.sms.configured() || self.zalo.configured(),
            portal: self.portal.configured(),
        }
    }

    /// The base of links handed to people.
    pub fn public_base_url(&self, bound_port: u16) -> String {
        match &self.public_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let host = self
                    .server
                    .bind
                    .rsplit_once(':')
                    .map_or("127.0.0.1", |(h, _)| h);
                let host = if host == "0.0.0.0" || host == "[::]" {
                    "127.0.0.1"
                } else {
                    host
                };
                format!("http://{host}:{bound_port}")
            }
        }
    }
}
