//! Request body limits: JSON bodies over 64 KiB are refused with 413 before anything reads them,
//! whether or not the client sent a `Content-Length`. The one exception is an offline scanner's batch
//! upload (`POST /api/v1/scans/batch`, up to 1,000 scans), allowed [`MAX_SCAN_BATCH_BODY`], and the
//! carrier's push (`POST /api/v1/carrier/events`, up to [`MAX_PUSH_RECORDS`] records), allowed
//! [`MAX_CARRIER_PUSH_BODY`] — each only to a request that carries what its route asks for (an API
//! key; the carrier's signature), and at most [`LARGE_BODIES_AT_ONCE`] such bodies at a time, so that
//! anonymous clients cannot make the process hold megabytes per connection before anything checks
//! who they are.

use std::sync::Arc;
use std::time::Duration;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result, http::StatusCode};
use tokio::sync::Semaphore;

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

/// The most bodies above the JSON limit (scan batches, carrier pushes) read and handled at once.
pub const LARGE_BODIES_AT_ONCE: usize = 8;

/// How long a large body waits for its turn before it is answered 429.
pub const LARGE_BODY_WAIT: Duration = Duration::from_secs(10);

/// The header the carrier signs its push with.
const CARRIER_SIGNATURE: &str = "x-dossier-signature";

/// The body limit of `req`: the larger limit of a scan batch only with an API key, of a carrier push
/// only with the carrier's signature (checked by the route, which needs the body for it); else the
/// JSON limit, and the route refuses the request for its credentials.
pub fn limit_for(req: &Request, default: usize) -> usize {
    let has_api_key =
        || crate::rate_limit::bearer_of(req).is_some_and(|token| token.starts_with("dk_"));
    match req.uri().path() {
        SCAN_BATCH_PATH if has_api_key() => default.max(MAX_SCAN_BATCH_BODY),
        CARRIER_PUSH_PATH if req.headers().contains_key(CARRIER_SIGNATURE) => {
            default.max(MAX_CARRIER_PUSH_BODY)
        }
        _ => default,
    }
}

/// Buffers request bodies up to a limit and refuses larger ones.
pub struct BodyLimit {
    pub max: usize,
    /// Turns for bodies above `max` ([`LARGE_BODIES_AT_ONCE`]).
    pub large: Arc<Semaphore>,
}

impl BodyLimit {
    /// Bodies up to `max`, and [`LARGE_BODIES_AT_ONCE`] larger ones where a route allows them.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            large: Arc::new(Semaphore::new(LARGE_BODIES_AT_ONCE)),
        }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint {
            inner,
            max: self.max,
            large: self.large.clone(),
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max: usize,
    large: Arc<Semaphore>,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let max = limit_for(&req, self.max);
        // A large body holds a turn while it is read and handled.
        let _turn = if max > self.max {
            match tokio::time::timeout(LARGE_BODY_WAIT, self.large.clone().acquire_owned()).await {
                Ok(Ok(turn)) => Some(turn),
                Ok(Err(_)) | Err(_) => {
                    return Ok(crate::error::ApiError::too_many(
                        "too many large uploads at once; try again after the time in Retry-After",
                        LARGE_BODY_WAIT.as_secs(),
                    )
                    .into_response());
                }
            }
        } else {
            None
        };
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
