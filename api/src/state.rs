//! What every handler shares: the store and the settings it needs.

use std::sync::Arc;

use domain::store::Store;
use secrecy::SecretSlice;

/// Shared by all handlers: one reference count to clone (every request carries a clone).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub store: Store,
    /// The address people reach the service at, for links (tracking URLs, label QR codes).
    pub public_base_url: Arc<str>,
    /// The key that signs and verifies the tokens in labels' QR codes (`domain::label_token`): from
    /// the settings, or made once and kept in the database, the same on every replica.
    pub label_key: Arc<SecretSlice<u8>>,
    /// The key of the carrier's pushed events' signature (`carrier.webhook_secret`); `None` turns
    /// carrier push off.
    pub carrier_push_key: Option<Arc<SecretSlice<u8>>>,
    /// Public tracking views kept between reads (SQLite only).
    pub track_cache: crate::track_cache::TrackCache,
    /// The public-internet limits of this process.
    pub guards: Arc<crate::state::Guards>,
    /// Whether webhooks may target non-public addresses (`webhooks.allow_private_networks`).
    pub allow_private_webhooks: bool,
    /// Working days to answer a complaint.
    pub complaint_answer_days: u32,
    /// Whether a carrier is configured, so that its tracking feed is read (`/health/ready` says).
    pub carrier_sync: bool,
}

/// The public-internet limits a process keeps (API.md "Public-internet limits").
pub struct Guards {
    /// Requests per client and per API key.
    pub rate_limits: Arc<crate::rate_limit::RateLimits>,
    /// The bearer token `GET /metrics` requires, when set (`metrics.token`).
    pub metrics_token: Option<secrecy::SecretString>,
    /// Reports running at once and how long they may take.
    pub reports: ReportLimits,
}

/// How many reports run at once in this process, how long the next waits for a turn, and how long
/// a report's statements may run.
pub struct ReportLimits {
    pub slots: tokio::sync::Semaphore,
    pub wait: std::time::Duration,
    pub timeout: std::time::Duration,
}
