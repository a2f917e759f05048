//! A JSON answer written straight from the value's `serde::Serialize`, for a view answered very often
//! (the public tracking view). poem-openapi's `Json` first turns the whole view into a
//! `serde_json::Value` tree, a string and a map entry for every field, and then writes that tree.
//!
//! The OpenAPI document shows the view's own schema (its `poem_openapi::Object`), so the view derives
//! both; `views::tests::direct_json_is_the_documented_json` checks, for each view answered this way, that
//! both give the same JSON. Fields with a time are written as poem-openapi writes them
//! ([`rfc3339`]).

use chrono::{DateTime, FixedOffset};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

/// A `200` JSON answer of `T`, documented as poem-openapi's `Json<T>` is.
pub struct DirectJson<T>(pub T);

impl<T: Type> Payload for DirectJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type("application/json; charset=utf-8")
                .body(body),
            Err(err) => {
                // Only a view that cannot be written as JSON gets here (a map with keys that are not
                // strings): a defect, answered as poem-openapi's `Json` would answer it.
                tracing::error!(error.cause = %err, "a view could not be written as JSON");
                Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .body(err.to_string())
            }
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for DirectJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: <Self as Payload>::CONTENT_TYPE,
                    schema: <Self as Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// A time as poem-openapi writes one (`to_rfc3339`: `+00:00`, never `Z`), for
/// `#[serde(serialize_with = "rfc3339")]`.
pub fn rfc3339<S: serde::Serializer>(
    at: &DateTime<FixedOffset>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339())
}

/// [`rfc3339`] for an optional time.
pub fn rfc3339_opt<S: serde::Serializer>(
    at: &Option<DateTime<FixedOffset>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, serializer),
        None => serializer.serialize_none(),
    }
}
