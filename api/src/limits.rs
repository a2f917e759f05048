//! Request body limits: JSON bodies over 64 KiB are refused with 413 before anything reads them,
//! whether or not the client sent a `Content-Length`. The one exception is an offline scanner's batch
//! upload (`POST /api/v1/scans/batch`, up to 1,000 scans), allowed [`MAX_SCAN_BATCH_BODY`], and the
//! carrier's push (`POST /api/v1/carrier/events`, up to [`MAX_PUSH_RECORDS`] records), allowed
//! [`MAX_CARRIER_PUSH_BODY`].

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result, http::StatusCode};

/// How long a request's body may take to arrive once its headers are in; a slower one is answered
/// 408 and its connection closed.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Largest accepted JSON body (API.md); defined beside the envelope that names it in a 413 answer.
pub use crate::error::MAX_JSON_BODY;

/// Largest accepted scan batch: 1,000 scans of up to about 1 KiB each.
pub const MAX_SCAN_BATCH_BODY: usize = 1024 * 1024;

/// The path whose body may be up to [`MAX_SCAN_BATCH_BODY`].
pub const SCAN_BATCH_PATH: &str = "/api/v1/scans/batch";

/// The most records one carrier push may carry.
pub const MAX_PUSH_RECORDS: usize = 1000;

/// The largest carrier record accepted in a push, as JSON: its id, time and status code, an item
/// code, order number, customer code and post office, and its status message and notes in full
/// Vietnamese text, with room to spare.
pub const MAX_PUSH_RECORD_BYTES: usize = 2 * 1024;

/// Largest accepted carrier push: [`MAX_PUSH_RECORDS`] records of [`MAX_PUSH_RECORD_BYTES`] each.
pub const MAX_CARRIER_PUSH_BODY: usize = MAX_PUSH_RECORDS * MAX_PUSH_RECORD_BYTES;

/// The path of the carrier push, whose body may be up to [`MAX_CARRIER_PUSH_BODY`].
pub const CARRIER_PUSH_PATH: &str = "/api/v1/carrier/events";

/// The body limit of a request to `path`.
pub fn limit_for(path: &str, default: usize) -> usize {
    match path {
        SCAN_BATCH_PATH => default.max(MAX_SCAN_BATCH_BODY),
        CARRIER_PUSH_PATH => default.max(MAX_CARRIER_PUSH_BODY),
        _ => default,
    }
}

/// Buffers request bodies up to a limit and refuses larger ones.
pub struct BodyLimit {
    pub max: usize,
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint {
            inner,
            max: self.max,
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max: usize,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let max = limit_for(req.uri().path(), self.max);
        let declared = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max as u64) {
            return Err(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        let body = req.take_body();
        // A request that has no body (a GET, as hyper knows from its head) has nothing to wait for.
        if body.is_empty() || declared == Some(0) {
            req.set_body(body);
        } else {
            let Ok(read) = tokio::time::timeout(BODY_TIMEOUT, body.into_bytes_limit(max)).await
            else {
                let refusal = poem::Error::from_string(
                    format!(
                        "the body did not arrive within {} seconds",
                        BODY_TIMEOUT.as_secs()
                    ),
                    StatusCode::REQUEST_TIMEOUT,
                );
                let mut response = crate::error::render_poem_error(refusal).await;
                response.headers_mut().insert(
                    poem::http::header::CONNECTION,
                    poem::http::HeaderValue::from_static("close"),
                );
                return Ok(response);
            };
            match read {
                Ok(bytes) => req.set_body(bytes),
                Err(poem::error::ReadBodyError::PayloadTooLarge) => {
                    return Err(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE));
                }
                Err(_) => {
                    return Err(poem::Error::from_string(
                        "the body could not be read",
                        StatusCode::BAD_REQUEST,
                    ));
                }
            }
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
