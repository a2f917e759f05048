//! `GET /metrics`: the process's counters in the Prometheus text format (API.md "Operations").
//!
//! The service records through the `metrics` facade (ingest of carrier events in `domain`, the carrier
//! adapter, the feed sync, per-order reads and the outbox in `worker`); [`install`] puts one
//! process-wide Prometheus recorder behind it when the application is built, so `dossier serve`
//! exposes the counters of the worker it runs in-process. Histograms (the lag between a carrier
//! event's `eventTime` and its storing) have fixed buckets; samples are folded in by a small upkeep
//! thread and before each scrape. No metric carries personal data: labels are kinds, calls and outcomes.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::web::Data;
use poem_openapi::{OpenApi, payload::PlainText};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::ApiTags;
use crate::error::ApiError;
use crate::state::AppState;

/// Bucket bounds of duration histograms, in seconds: from near real time to a day late.
const SECONDS_BUCKETS: &[f64] = &[
    0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
];

/// How often histogram samples are folded in when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (the first call; later ones return the same handle). `None` when
/// another recorder was installed first, in which case `/metrics` answers an empty page.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::error!(error.cause = %error, "metrics buckets are invalid; metrics are off");
                    return None;
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::warn!(error.cause = %error, "another metrics recorder is installed; /metrics stays empty");
                return None;
            }
            domain::ops::carrier_ingest::describe_metrics();
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(error) = spawned {
                tracing::warn!(error.cause = %error, "no metrics upkeep thread; histograms fold in at scrapes only");
            }
            Some(handle)
        })
        .as_ref()
}

/// The metrics in the Prometheus text format, histogram samples folded in first (empty when no
/// recorder could be installed).
pub fn render() -> String {
    match install() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => String::new(),
    }
}

/// Whether `request` may read the metrics: always without a token, else only with
/// `Authorization: Bearer <token>` (compared in constant time).
pub fn may_read(request: &poem::Request, token: Option<&SecretString>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = request
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or_default();
    bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes()))
}

pub struct MetricsApi;

#[OpenApi(tag = "ApiTags::Operations")]
impl MetricsApi {
    /// The process's counters and histograms in the Prometheus text format: carrier events ingested,
    /// duplicates, unknown items, carrier errors by kind, outbox deliveries sent and failed, and the lag
    /// between a carrier event's time and its storing.
    ///
    /// With `metrics.token` set (`DOSSIER__METRICS__TOKEN`), only for `Authorization: Bearer <token>`.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(
        &self,
        state: Data<&AppState>,
        request: &poem::Request,
    ) -> Result<PlainText<String>, ApiError> {
        if !may_read(request, state.guards.metrics_token.as_ref()) {
            return Err(ApiError::unauthorized(
                "the metrics need `Authorization: Bearer <metrics token>`",
            ));
        }
        Ok(PlainText(render()))
    }
}
