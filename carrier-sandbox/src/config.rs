//! How a sandbox is set up: where it listens, the credentials it accepts, the customer it serves, and
//! how its simulated world behaves (seed, speed of time, how often deliveries fail).

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Everything a sandbox needs to start; [`Default`] gives a loopback sandbox on a free port whose clock
/// stands still until told to move, which is what tests want.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port (read it back from the handle).
    pub bind: SocketAddr,
    /// The consumer key accepted at `POST /token`.
    pub consumer_key: String,
    /// The consumer secret accepted at `POST /token`.
    pub consumer_secret: String,
    /// The customer code orders must carry; tracking records of our parcels carry it too.
    pub customer_code: String,
    /// The customer code used for records of other customers' parcels (fault injection).
    pub other_customer_code: String,
    /// Lifetime of an access token, in real time (tokens are protocol, not simulation).
    pub token_ttl: Duration,
    /// Simulated seconds per real second; 0 freezes the clock so only `advance` moves it.
    pub speed: f64,
    /// How many times faster than usual parcels move along their default path (scripts are taken as
    /// written). A demo at real time with `pace` 60 sees a parcel move in minutes while every
    /// `eventTime` stays a real time, which a sped-up clock (`speed`) would put in the future.
    pub pace: f64,
    /// Seeds every random choice (paths, delays, failures), so runs are repeatable.
    pub seed: u64,
    /// The simulated time at start; `None` means now.
    pub start_time: Option<DateTime<Utc>>,
    /// Chance that a delivery attempt fails (status 15) before the parcel is delivered.
    pub delivery_failure_rate: f64,
    /// The largest `pagesize` honoured by the feed; larger asks are clamped.
    pub max_page_size: usize,
    /// Service indicator of labels the sandbox allocates (`EB` = EMS).
    pub item_indicator: String,
    /// Country code of labels the sandbox allocates.
    pub item_country: String,
    /// First serial of the sandbox's own label range.
    pub first_serial: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            consumer_key: "sandbox-key".into(),
            consumer_secret: "sandbox-secret".into(),
            customer_code: "DOSSIER".into(),
            other_customer_code: "OTHERCUST".into(),
            token_ttl: Duration::from_secs(3600),
            speed: 0.0,
            pace: 1.0,
            seed: 45_2016,
            start_time: None,
            delivery_failure_rate: 0.1,
            max_page_size: 1000,
            item_indicator: "EB".into(),
            item_country: "VN".into(),
            first_serial: 10_000_000,
        }
    }
}
