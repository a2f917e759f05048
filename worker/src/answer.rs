//! Reading an outside service's answer safely: the whole exchange under the client's timeout, the body
//! capped at [`MAX_ANSWER_BYTES`] (a huge or endless body fails the call instead of filling memory),
//! and JSON parsed into the few fields an adapter needs. An HTML error page, garbage, a truncated or
//! oversized body is an error the caller records as a failed attempt; nothing here panics.

use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

/// The most of an answer read from the SMS gateway, Zalo or the portal: their answers are a few
/// hundred bytes.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A whole answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Why an exchange gave no usable answer. Messages name no personal data and no secret.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("no answer within the deadline")]
    Timeout,
    #[error("the connection failed: {0}")]
    Network(String),
    #[error("the answer (HTTP {status}) is larger than {} KiB", MAX_ANSWER_BYTES / 1024)]
    TooLarge { status: u16 },
}

/// Sends `request` and reads its body up to [`MAX_ANSWER_BYTES`].
pub async fn exchange(request: RequestBuilder) -> Result<Answer, ExchangeError> {
    let mut response = request.send().await.map_err(network)?;
    let status = response.status();
    let declared = response.content_length().unwrap_or(0);
    if declared > MAX_ANSWER_BYTES as u64 {
        return Err(ExchangeError::TooLarge {
            status: status.as_u16(),
        });
    }
    let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(network)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ExchangeError::TooLarge {
                status: status.as_u16(),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer { status, body })
}

fn network(error: reqwest::Error) -> ExchangeError {
    if error.is_timeout() {
        ExchangeError::Timeout
    } else {
        // The URL may carry a query with credentials: keep only the kind of failure.
        let error = error.without_url();
        ExchangeError::Network(error.to_string())
    }
}

impl Answer {
    /// The body as JSON of type `T`, or a short description of what came instead.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let looks_html = self
                .body
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'<');
            if looks_html {
                format!(
                    "HTTP {}: an HTML page instead of JSON",
                    self.status.as_u16()
                )
            } else {
                format!("HTTP {}: unreadable JSON ({e})", self.status.as_u16())
            }
        })
    }
}
