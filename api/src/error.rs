//! The API's one error type and the envelope of API.md: `{"error": {"code", "message", "details"}}`.
//!
//! Error policy: handlers return `Result<_, ApiError>` and use `?` on domain results; the mapping from
//! `OpError` (not found, validation, invalid transition, conflict, forbidden, database) happens here
//! and only here. Failures outside handlers (unknown routes, unreadable bodies, oversized payloads,
//! wrong content types) are rendered into the same envelope by [`render_poem_error`]. A 500 answer
//! never carries internals: the detail goes to the log, once, here.

use domain::lifecycle::InvalidTransition;
use domain::ops::{FieldError, OpError};
use poem::http::StatusCode;
use poem_openapi::{ApiResponse, Object, payload::Json};

/// The body of every non-2xx answer.
#[derive(Debug, Clone, Object)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Machine-readable: `bad_request`, `unauthorized`, `forbidden`, `not_found`, `invalid_transition`,
    /// `conflict`, `payload_too_large`, `unsupported_media_type`, `validation_failed`, `rate_limited`,
    /// `unavailable` (the database cannot be reached just now), `internal`.
    pub code: String,
    /// For people.
    pub message: String,
    /// One entry per invalid field (validation failures); absent on other errors.
    #[oai(default, skip_serializing_if_is_empty)]
    pub details: Vec<ErrorDetail>,
}

/// One invalid field.
#[derive(Debug, Clone, Object)]
pub struct ErrorDetail {
    /// The JSON path of the field, e.g. `applicant.phone`.
    pub field: String,
    pub message: String,
}

/// Every error answer of the API.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "extractor_error")]
pub enum ApiError {
    /// Malformed JSON, wrong types, bad query parameters.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No or unknown credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorEnvelope>),
    /// Valid credentials, not allowed.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such resource.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// `invalid_transition` or `conflict`.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// Body over the limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorEnvelope>),
    /// Not JSON where JSON is required.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorEnvelope>),
    /// Well-formed but invalid values; `details` names each field.
    #[oai(status = 422)]
    ValidationFailed(Json<ErrorEnvelope>),
    /// Too many requests; `Retry-After` says when to try again.
    #[oai(status = 429)]
    RateLimited(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// `unavailable`: the database cannot be reached just now (a restart, a failover); nothing was
    /// changed, and `Retry-After` says when to try again.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// A bug; the body carries no internals.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}

fn envelope(
    code: &str,
    message: impl Into<String>,
    details: Vec<ErrorDetail>,
) -> Json<ErrorEnvelope> {
    Json(ErrorEnvelope {
        error: ErrorBody {
            code: code.to_owned(),
            message: message.into(),
            details,
        },
    })
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(envelope("bad_request", message, vec![]))
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(envelope("unauthorized", message, vec![]))
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(envelope("forbidden", message, vec![]))
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(envelope("not_found", message, vec![]))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(envelope("conflict", message, vec![]))
    }
    pub fn invalid_transition(message: impl Into<String>) -> Self {
        Self::Conflict(envelope("invalid_transition", message, vec![]))
    }
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let details = errors
            .into_iter()
            .map(|e| ErrorDetail {
                field: e.field,
                message: e.message,
            })
            .collect();
        Self::ValidationFailed(envelope(
            "validation_failed",
            "some fields are invalid",
            details,
        ))
    }
    /// 429 `rate_limited`, to try again after `retry_after_secs`.
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::RateLimited(envelope("rate_limited", message, vec![]), retry_after_secs)
    }
    /// A failure that is our fault: logged here with its cause, answered without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.cause = %cause, "request failed");
        Self::Internal(envelope(
            "internal",
            "something went wrong on our side; it has been logged",
            vec![],
        ))
    }
}

impl From<OpError> for ApiError {
    fn from(err: OpError) -> Self {
        match err {
            OpError::NotFound(what) => Self::not_found(format!("no such {what}")),
            OpError::Validation(errors) => Self::validation(errors),
            OpError::InvalidTransition(t) => Self::from(t),
            OpError::TransitionRefused(message) => Self::invalid_transition(message),
            OpError::Conflict(message) => Self::conflict(message),
            OpError::Forbidden(message) => Self::forbidden(message),
            OpError::TooMany {
                message,
                retry_after_secs,
            } => Self::too_many(message, retry_after_secs),
            OpError::Db(db) => Self::from(db),
        }
    }
}

impl From<InvalidTransition> for ApiError {
    fn from(t: InvalidTransition) -> Self {
        Self::invalid_transition(t.to_string())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                Self::conflict("this already exists")
            }
            _ if matches!(err, sea_orm::DbErr::RecordNotFound(_)) => {
                Self::not_found("no such record")
            }
            _ if database_unreachable(&err) => {
                tracing::warn!(error.cause = %err, "the database cannot be reached");
                Self::Unavailable(
                    envelope(
                        "unavailable",
                        "the service cannot reach its database just now; nothing was changed, try again shortly",
                        vec![],
                    ),
                    RETRY_WHEN_UNREACHABLE_SECS,
                )
            }
            _ if lock_not_available(&err) => {
                tracing::warn!(error.cause = %err, "a lock the request needed was held too long");
                Self::Unavailable(
                    envelope(
                        "unavailable",
                        "a record this request needs is held by other work just now; nothing was changed, try again shortly",
                        vec![],
                    ),
                    RETRY_WHEN_UNREACHABLE_SECS,
                )
            }
            _ => Self::internal(&err),
        }
    }
}

/// Whether `err` is PostgreSQL giving up on a lock after `lock_timeout` (SQLSTATE 55P03).
fn lock_not_available(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx))) =
        err
    else {
        return false;
    };
    match sqlx.as_ref() {
        sea_orm::sqlx::Error::Database(db) => db.code().is_some_and(|code| code == "55P03"),
        _ => false,
    }
}

/// When a client may try again after the database could not be reached.
const RETRY_WHEN_UNREACHABLE_SECS: u64 = 5;

/// Whether `err` says the database could not be reached (no connection to be had, a connection lost
/// mid-statement, a server shutting down or starting up) rather than that a statement was wrong.
fn database_unreachable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        sea_orm::sqlx::Error::Io(_)
        | sea_orm::sqlx::Error::PoolTimedOut
        | sea_orm::sqlx::Error::PoolClosed
        | sea_orm::sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's class 57: admin shutdown, crash shutdown, cannot connect now.
        sea_orm::sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| matches!(code.as_ref(), "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Renders a failure of an extractor (body, parameter, credentials) inside a handler.
fn extractor_error(err: poem::Error) -> ApiError {
    let message = err.to_string();
    match err.status() {
        StatusCode::UNAUTHORIZED => ApiError::unauthorized(message),
        StatusCode::FORBIDDEN => ApiError::forbidden(message),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(envelope("payload_too_large", message, vec![]))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType(envelope("unsupported_media_type", message, vec![]))
        }
        StatusCode::NOT_FOUND => ApiError::not_found(message),
        status if status.is_server_error() => ApiError::internal(&err),
        _ => ApiError::bad_request(message),
    }
}

/// Largest accepted JSON body (API.md). The body limit (`limits`) enforces it; it lives here so that
/// the envelope's 413 answer can name it without the error module depending on the limits.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// Renders any error that reached the top of the route tree into the envelope. Answers that handlers
/// already rendered pass through unchanged.
pub async fn render_poem_error(err: poem::Error) -> poem::Response {
    use poem::IntoResponse;
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "bad_request",
            "this method is not allowed on this path".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            format!("the body is over the limit of {} bytes", MAX_JSON_BODY),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", err.to_string()),
        StatusCode::UNAUTHORIZED => ("unauthorized", err.to_string()),
        StatusCode::FORBIDDEN => ("forbidden", err.to_string()),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests".to_owned()),
        s if s.is_server_error() => {
            tracing::error!(error.cause = %err, "request failed");
            (
                "internal",
                "something went wrong on our side; it has been logged".to_owned(),
            )
        }
        _ => ("bad_request", err.to_string()),
    };
    let status = if status.is_server_error() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    };
    let body = envelope(code, message, vec![]);
    (status, body).into_response()
}
