//! An optional JSON body: empty means none (e.g. `POST …/cancel` with no body), anything else must be
//! JSON of the expected shape.

use poem::{FromRequest, Request, RequestBody, http::StatusCode};
use serde::de::DeserializeOwned;

/// The parsed body, or `None` when the request had no body.
pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: DeserializeOwned> FromRequest<'a> for OptionalJson<T> {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = body.take()?.into_vec().await.map_err(|_| {
            poem::Error::from_string("the body could not be read", StatusCode::BAD_REQUEST)
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        let is_json = req
            .content_type()
            .and_then(|ct| ct.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
        if !is_json {
            return Err(poem::Error::from_string(
                "send the body as `Content-Type: application/json`",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ));
        }
        serde_json::from_slice(&bytes)
            .map(|v| Self(Some(v)))
            .map_err(|e| {
                poem::Error::from_string(
                    format!("the body is not valid JSON: {e}"),
                    StatusCode::BAD_REQUEST,
                )
            })
    }
}
