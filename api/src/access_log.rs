//! Request logging: one `debug` line per request (method, route path, status, latency) and a `warn` line
//! for server errors. Query strings are left out: they may carry personal data.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Logs each request once it is answered.
pub struct AccessLog;

impl<E: Endpoint> Middleware<E> for AccessLog {
    type Output = AccessLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AccessLogEndpoint { inner }
    }
}

pub struct AccessLogEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for AccessLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let method = req.method().clone();
        // The path shares the request's bytes: nothing copied unless a line is written.
        let uri = req.uri().clone();
        let response = self.inner.call(req).await.map(IntoResponse::into_response);
        let status = match &response {
            Ok(r) => r.status(),
            Err(e) => e.status(),
        };
        let micros = started.elapsed().as_micros();
        if status.is_server_error() {
            tracing::warn!(http.method = %method, http.path = %uri.path(), http.status = status.as_u16(), latency_us = micros, "request failed");
        } else {
            tracing::debug!(http.method = %method, http.path = %uri.path(), http.status = status.as_u16(), latency_us = micros, "request");
        }
        response
    }
}
