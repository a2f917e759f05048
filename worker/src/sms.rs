//! The SMS gateway adapter (INTEGRATIONS.md §1, shaped like eSMS's JSON API): one brandname message
//! per call, `RequestId` = the outbox row's id, so a message retried after a crash is recognisably the
//! same one. `CodeResult` `100` is accepted; the gateway's answer to a `RequestId` it already accepted
//! ([`DUPLICATE_REQUEST`]) means the message went before and is not sent again; any other answer is a
//! failed attempt, retried by the outbox.

use std::time::Duration;

use reqwest::Client;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::answer::exchange;

/// The path of the send call under the gateway's base URL.
pub const SEND_PATH: &str = "MainService.svc/json/SendMultipleMessage_V4_post_json/";
/// `CodeResult` of an accepted message.
pub const ACCEPTED: &str = "100";
/// `CodeResult` of a `RequestId` the gateway already accepted.
pub const DUPLICATE_REQUEST: &str = "124";

/// Where and as whom messages are sent.
#[derive(Clone)]
pub struct SmsConfig {
    /// The gateway's base URL.
    pub url: String,
    pub api_key: String,
    pub secret_key: SecretString,
    pub brandname: String,
    /// The deadline of one call, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig")
            .field("url", &self.url)
            .field("brandname", &self.brandname)
            .finish_non_exhaustive()
    }
}

/// The SMS gateway.
#[derive(Debug)]
pub struct SmsClient {
    client: Client,
    send_url: String,
    config: SmsConfig,
}

/// The gateway's answer.
#[derive(Debug, Deserialize)]
struct SendAnswer {
    #[serde(rename = "CodeResult")]
    code: serde_json::Value,
    #[serde(rename = "SMSID", default)]
    sms_id: Option<serde_json::Value>,
}

impl SmsClient {
    /// Sets up the HTTP client; fails on a base URL that is not http(s).
    pub fn new(config: SmsConfig) -> anyhow::Result<Self> {
        let base = config.url.trim().trim_end_matches('/');
        anyhow::ensure!(
            base.starts_with("http://") || base.starts_with("https://"),
            "the SMS gateway URL must be http:// or https://"
        );
        let client = Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()?;
        Ok(Self {
            client,
            send_url: format!("{base}/{SEND_PATH}"),
            config,
        })
    }

    /// Sends `content` to `phone` (`0…`) as message `request_id`. `Ok` with the gateway's message id
    /// when it took the message (now or on an earlier attempt), else why not (no personal data).
    pub async fn send(
        &self,
        phone: &str,
        content: &str,
        request_id: &str,
    ) -> Result<String, String> {
        let body = json!({
            "ApiKey": self.config.api_key,
            "SecretKey": self.config.secret_key.expose_secret(),
            "Phone": phone,
            "Content": content,
            "Brandname": self.config.brandname,
            "SmsType": "2",
            "IsUnicode": "0",
            "RequestId": request_id,
        });
        let answer = exchange(self.client.post(&self.send_url).json(&body))
            .await
            .map_err(|e| format!("SMS gateway: {e}"))?;
        if !answer.status.is_success() {
            return Err(format!("SMS gateway: HTTP {}", answer.status.as_u16()));
        }
        let parsed: SendAnswer = answer.json().map_err(|e| format!("SMS gateway: {e}"))?;
        let code = match &parsed.code {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let id = parsed
            .sms_id
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default();
        match code.as_str() {
            ACCEPTED | DUPLICATE_REQUEST => Ok(id),
            other => Err(format!(
                "SMS gateway refused the message: CodeResult {}",
                other.chars().take(16).collect::<String>()
            )),
        }
    }
}
