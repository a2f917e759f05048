//! The probes of a stand-alone `dossier worker`: `GET /metrics`, `GET /health/live` and
//! `GET /health/ready` on an address of its own (`worker.metrics_bind`), so each worker process is
//! scraped and watched like the API. The same recorder and the same readiness rule as the API's
//! routes; anything else answers 404 in the error envelope.

use anyhow::Context;
use domain::store::Store;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, Server, get, handler};
use secrecy::{ExposeSecret, SecretString};

use crate::routes::health::HealthOut;

/// The probes' listener, bound and ready to serve.
pub struct Probes {
    acceptor: TcpAcceptor,
    store: Store,
    metrics_token: Option<SecretString>,
}

impl Probes {
    /// Installs the metrics recorder and binds `addr`, so a taken port stops the worker at start.
    pub async fn bind(addr: &str, store: Store) -> anyhow::Result<Self> {
        crate::routes::metrics::install();
        let acceptor = TcpListener::bind(addr.to_owned())
            .into_acceptor()
            .await
            .with_context(|| format!("Failed to listen for the worker's probes on {addr}"))?;
        Ok(Self {
            acceptor,
            store,
            metrics_token: None,
        })
    }

    /// Requires `Authorization: Bearer <token>` on `/metrics` (`metrics.token`), when set.
    pub fn with_metrics_token(mut self, token: Option<SecretString>) -> Self {
        self.metrics_token = token.filter(|t| !t.expose_secret().is_empty());
        self
    }

    /// The port the probes listen on.
    pub fn port(&self) -> Option<u16> {
        self.acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let app = Route::new()
            .at("/metrics", get(metrics))
            .at("/health/live", get(live))
            .at("/health/ready", get(ready))
            .catch_all_error(crate::error::render_poem_error)
            .data(self.store)
            .data(MetricsToken(self.metrics_token));
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(std::time::Duration::from_secs(5)))
            .await
    }
}

/// The token `/metrics` requires, if any.
#[derive(Clone)]
struct MetricsToken(Option<SecretString>);

#[handler]
fn metrics(request: &Request, token: Data<&MetricsToken>) -> Response {
    if !crate::routes::metrics::may_read(request, token.0.0.as_ref()) {
        return crate::error::ApiError::unauthorized(
            "the metrics need `Authorization: Bearer <metrics token>`",
        )
        .into_response();
    }
    let body = crate::routes::metrics::render();
    body.with_content_type("text/plain; charset=utf-8")
        .into_response()
}

#[handler]
fn live() -> Json<HealthOut> {
    Json(HealthOut {
        status: "ok".into(),
        carrier_sync: None,
    })
}

#[handler]
async fn ready(store: Data<&Store>) -> Response {
    let (status, body) = crate::routes::health::readiness(&store).await;
    Json(body).with_status(status).into_response()
}
