//! The national public-service portal adapter (INTEGRATIONS.md §3, through the provincial service
//! bus): log in for a session, keep it, and call `DongBoHoSoMC` / `CapNhatTienDoHoSoMC` with it. A
//! session the portal no longer knows (HTTP 401 or `error_code` 401) is replaced by a new login and
//! the call made once more. Each call also carries the outbox row's id in `X-Request-Id`, so the
//! portal's logs (and the sandbox) can tell a retried call from a new one.

use std::time::Duration;

use reqwest::Client;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::answer::exchange;

/// How to reach the portal.
#[derive(Clone)]
pub struct PortalConfig {
    pub base_url: String,
    pub username: String,
    pub password: SecretString,
    /// The `dstcode` header of the login.
    pub dstcode: String,
    /// The deadline of one call, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for PortalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalConfig")
            .field("base_url", &self.base_url)
            .field("dstcode", &self.dstcode)
            .finish_non_exhaustive()
    }
}

/// The portal client with its session.
pub struct PortalClient {
    client: Client,
    login_url: String,
    service_url: String,
    config: PortalConfig,
    session: tokio::sync::Mutex<Option<String>>,
}

/// Shows where it calls, never the session.
impl std::fmt::Debug for PortalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct PortalAnswer {
    error_code: i64,
    #[serde(default)]
    session: Option<String>,
}

enum Called {
    Done,
    SessionExpired,
}

impl PortalClient {
    /// Sets up the HTTP client.
    pub fn new(config: PortalConfig) -> anyhow::Result<Self> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        anyhow::ensure!(
            base.starts_with("http://") || base.starts_with("https://"),
            "the portal URL must be http:// or https://"
        );
        let client = Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()?;
        Ok(Self {
            client,
            login_url: format!("{base}/login"),
            service_url: format!("{base}/service"),
            config,
            session: tokio::sync::Mutex::new(None),
        })
    }

    /// Calls `service` for unit `madonvi` with `data`; `Err` says why it did not go through.
    pub async fn call(
        &self,
        service: &str,
        madonvi: &str,
        data: serde_json::Value,
        request_id: &str,
    ) -> Result<(), String> {
        let session = self.session(None).await?;
        match self
            .call_with(&session, service, madonvi, &data, request_id)
            .await?
        {
            Called::Done => Ok(()),
            Called::SessionExpired => {
                let session = self.session(Some(&session)).await?;
                match self
                    .call_with(&session, service, madonvi, &data, request_id)
                    .await?
                {
                    Called::Done => Ok(()),
                    Called::SessionExpired => {
                        Err("the portal refused a session it had just opened".to_owned())
                    }
                }
            }
        }
    }

    async fn call_with(
        &self,
        session: &str,
        service: &str,
        madonvi: &str,
        data: &serde_json::Value,
        request_id: &str,
    ) -> Result<Called, String> {
        let body =
            json!({"session": session, "madonvi": madonvi, "service": service, "data": data});
        let answer = exchange(
            self.client
                .post(&self.service_url)
                .header("X-Request-Id", request_id)
                .json(&body),
        )
        .await
        .map_err(|e| format!("portal: {e}"))?;
        if answer.status.as_u16() == 401 {
            return Ok(Called::SessionExpired);
        }
        if !answer.status.is_success() {
            return Err(format!("portal: HTTP {}", answer.status.as_u16()));
        }
        let parsed: PortalAnswer = answer.json().map_err(|e| format!("portal: {e}"))?;
        match parsed.error_code {
            0 => Ok(Called::Done),
            401 => Ok(Called::SessionExpired),
            other => Err(format!("portal refused {service}: error_code {other}")),
        }
    }

    /// The session to use: the one in hand unless it `expired`, else a new login.
    async fn session(&self, expired: Option<&str>) -> Result<String, String> {
        let mut held = self.session.lock().await;
        if let Some(session) = held.as_deref()
            && Some(session) != expired
        {
            return Ok(session.to_owned());
        }
        let body = json!({
            "username": self.config.username,
            "password": self.config.password.expose_secret(),
        });
        let answer = exchange(
            self.client
                .post(&self.login_url)
                .header("dstcode", &self.config.dstcode)
                .json(&body),
        )
        .await
        .map_err(|e| format!("portal login: {e}"))?;
        if !answer.status.is_success() {
            return Err(format!("portal login: HTTP {}", answer.status.as_u16()));
        }
        let parsed: PortalAnswer = answer.json().map_err(|e| format!("portal login: {e}"))?;
        match (parsed.error_code, parsed.session) {
            (0, Some(session)) if !session.is_empty() => {
                tracing::info!("logged in to the portal");
                *held = Some(session.clone());
                Ok(session)
            }
            (code, _) => Err(format!("portal login refused: error_code {code}")),
        }
    }
}
