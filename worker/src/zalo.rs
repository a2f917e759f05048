//! The Zalo Notification Service adapter (INTEGRATIONS.md §2): one template message per call,
//! `tracking_id` = the outbox row's id.
//!
//! Access tokens come from the refresh token, which Zalo rotates on every refresh: the latest refresh
//! token and its access token are kept in `integration_states` (with a hash of the configured refresh
//! token, so that an operator who configures a new one is obeyed), so a restart or another worker goes
//! on from them. A refresh is made by one worker at a time (a row lock on PostgreSQL, a mutex in the
//! process on SQLite, where one worker runs); a worker whose token was refused first looks whether
//! another already refreshed. An expired token (HTTP 401, or an `error` about the access token) is
//! refreshed once and the call made again.
//!
//! Once Zalo answered a refresh, the refresh token it was given is dead: the answer's tokens are kept
//! at once, in a write of their own committed before anything else. A refresh runs to its end in a
//! task of its own, so an attempt given up meanwhile (its deadline, the worker's shutdown drain) never
//! drops the answer on the floor; the worker waits for it ([`ZaloClient::settle`]) before it exits.
//! When Zalo refuses the refresh token (a token lost anyway, or one the operator must renew), ZNS
//! cannot be used and the notice goes by SMS, as for a refusal; configuring a new refresh token ends it.
//!
//! `error` 0 is a sent message; another `error` is a refusal (e.g. the phone has no Zalo account), which
//! the caller answers with an SMS; HTTP 5xx, timeouts and unreadable answers are failed attempts.

use std::sync::Arc;
use std::time::Duration;

use domain::ops::integrations::{ZALO_TOKENS, get_state, lock_state, put_state};
use domain::store::Store;
use reqwest::Client;
use sea_orm::{DbBackend, TransactionTrait};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::answer::exchange;

/// The ZNS defaults of INTEGRATIONS.md.
pub const DEFAULT_BASE_URL: &str = "https://business.openapi.zalo.me";
/// Zalo's OAuth server.
pub const DEFAULT_OAUTH_URL: &str = "https://oauth.zaloapp.com";

/// `error` codes Zalo answers for an invalid or expired access token.
const TOKEN_ERRORS: [i64; 2] = [-124, -216];

/// The app and its template.
#[derive(Clone)]
pub struct ZaloConfig {
    pub base_url: String,
    pub oauth_url: String,
    pub app_id: String,
    pub secret_key: SecretString,
    /// The refresh token the operator configured; used until Zalo rotates it.
    pub refresh_token: SecretString,
    pub template_id: String,
    /// The deadline of one call, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for ZaloConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZaloConfig")
            .field("base_url", &self.base_url)
            .field("oauth_url", &self.oauth_url)
            .field("app_id", &self.app_id)
            .field("template_id", &self.template_id)
            .finish_non_exhaustive()
    }
}

/// What ZNS made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZnsOutcome {
    /// Sent, with Zalo's message id.
    Sent(String),
    /// Refused for this phone or message (`error` ≠ 0, not about the token).
    Refused { error: i64, message: String },
    /// ZNS cannot be used at all: Zalo refused the refresh token, so there is no access token.
    Unavailable(String),
}

/// Tokens as kept in the database.
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    /// SHA-256 of the configured refresh token these descend from.
    seed: String,
    refresh_token: String,
    access_token: Option<String>,
}

/// The ZNS client with the access token in hand.
pub struct ZaloClient {
    client: Client,
    send_url: String,
    refresher: Arc<Refresher>,
    /// The access token in hand; locked while a refresh runs.
    access: Arc<tokio::sync::Mutex<Option<String>>>,
}

/// What a refresh needs, shared with the task it runs in.
struct Refresher {
    client: Client,
    token_url: String,
    config: ZaloConfig,
}

/// Why there is no access token.
enum NoToken {
    /// Zalo could not be reached or its answer not kept: a failed attempt, tried again.
    Failed(String),
    /// Zalo refused the refresh token: ZNS cannot be used until a new one is configured.
    Refused(String),
}

/// Shows where it sends, never a token.
impl std::fmt::Debug for ZaloClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZaloClient")
            .field("config", &self.refresher.config)
            .finish_non_exhaustive()
    }
}

/// One answer of the template call.
enum Reply {
    Ok(String),
    TokenRefused,
    Refused { error: i64, message: String },
}

#[derive(Deserialize)]
struct TemplateAnswer {
    error: i64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl ZaloClient {
    /// Sets up the HTTP client.
    pub fn new(config: ZaloConfig) -> anyhow::Result<Self> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        let oauth = config.oauth_url.trim().trim_end_matches('/').to_owned();
        for url in [&base, &oauth] {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "the Zalo URLs must be http:// or https://"
            );
        }
        let client = Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()?;
        Ok(Self {
            client: client.clone(),
            send_url: format!("{base}/message/template"),
            refresher: Arc::new(Refresher {
                client,
                token_url: format!("{oauth}/v4/oa/access_token"),
                config,
            }),
            access: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    /// Waits until a token refresh in flight has ended and its tokens are kept (at most two calls'
    /// time): the worker calls this before it exits, after the outbox's drain.
    pub async fn settle(&self) {
        let patience = self.refresher.config.timeout * 2 + Duration::from_secs(5);
        let _ = tokio::time::timeout(patience, self.access.lock()).await;
    }

    /// Sends the dossier-status template to `phone` (`84…`) as message `tracking_id`.
    pub async fn send(
        &self,
        store: &Store,
        phone: &str,
        tracking_id: &str,
        template_data: serde_json::Value,
    ) -> Result<ZnsOutcome, String> {
        let token = match self.access_token(store, None).await {
            Ok(token) => token,
            Err(NoToken::Failed(error)) => return Err(error),
            Err(NoToken::Refused(error)) => return Ok(ZnsOutcome::Unavailable(error)),
        };
        let body = json!({
            "phone": phone,
            "template_id": self.refresher.config.template_id,
            "tracking_id": tracking_id,
            "template_data": template_data,
        });
        match self.post_template(&token, &body).await? {
            Reply::Ok(id) => Ok(ZnsOutcome::Sent(id)),
            Reply::Refused { error, message } => Ok(ZnsOutcome::Refused { error, message }),
            Reply::TokenRefused => {
                let fresh = match self.access_token(store, Some(&token)).await {
                    Ok(token) => token,
                    Err(NoToken::Failed(error)) => return Err(error),
                    Err(NoToken::Refused(error)) => return Ok(ZnsOutcome::Unavailable(error)),
                };
                match self.post_template(&fresh, &body).await? {
                    Reply::Ok(id) => Ok(ZnsOutcome::Sent(id)),
                    Reply::Refused { error, message } => Ok(ZnsOutcome::Refused { error, message }),
                    Reply::TokenRefused => {
                        Err("ZNS refused a freshly refreshed access token".to_owned())
                    }
                }
            }
        }
    }

    async fn post_template(&self, token: &str, body: &serde_json::Value) -> Result<Reply, String> {
        let answer = exchange(
            self.client
                .post(&self.send_url)
                .header("access_token", token)
                .json(body),
        )
        .await
        .map_err(|e| format!("ZNS: {e}"))?;
        if answer.status.as_u16() == 401 {
            return Ok(Reply::TokenRefused);
        }
        if !answer.status.is_success() {
            return Err(format!("ZNS: HTTP {}", answer.status.as_u16()));
        }
        let parsed: TemplateAnswer = answer.json().map_err(|e| format!("ZNS: {e}"))?;
        let message = parsed.message.unwrap_or_default();
        if parsed.error == 0 {
            let id = parsed
                .data
                .as_ref()
                .and_then(|d| d.get("msg_id"))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default();
            return Ok(Reply::Ok(id));
        }
        if TOKEN_ERRORS.contains(&parsed.error)
            || message.to_ascii_lowercase().contains("access token")
            || message.to_ascii_lowercase().contains("access_token")
        {
            return Ok(Reply::TokenRefused);
        }
        Ok(Reply::Refused {
            error: parsed.error,
            message: message.chars().take(120).collect(),
        })
    }

    /// The access token to use: the one in hand unless it is `refused`; else the one another worker
    /// stored since; else a new one from the latest refresh token, stored with the rotated refresh
    /// token before it is used. The refresh runs in a task of its own, to its end even when this
    /// attempt is given up meanwhile.
    async fn access_token(&self, store: &Store, refused: Option<&str>) -> Result<String, NoToken> {
        {
            let held = self.access.lock().await;
            if let Some(token) = held.as_deref()
                && Some(token) != refused
            {
                return Ok(token.to_owned());
            }
        }
        let task = tokio::spawn(refresh(
            self.refresher.clone(),
            self.access.clone(),
            store.clone(),
            refused.map(str::to_owned),
        ));
        task.await
            .map_err(|e| NoToken::Failed(format!("the Zalo token refresh stopped: {e}")))?
    }
}

/// The access token, refreshed when the one in hand is missing or `refused` (see
/// [`ZaloClient::access_token`]); the lock on `access` is held throughout.
async fn refresh(
    refresher: Arc<Refresher>,
    access: Arc<tokio::sync::Mutex<Option<String>>>,
    store: Store,
    refused: Option<String>,
) -> Result<String, NoToken> {
    let mut held = access.lock_owned().await;
    let refused = refused.as_deref();
    if let Some(token) = held.as_deref()
        && Some(token) != refused
    {
        return Ok(token.to_owned());
    }
    let seed = hex::encode(Sha256::digest(
        refresher.config.refresh_token.expose_secret().as_bytes(),
    ));
    let db = |e: sea_orm::DbErr| {
        NoToken::Failed(format!("reading or keeping the Zalo tokens failed: {e}"))
    };
    let token = if store.backend() == DbBackend::Postgres {
        // One refresh at a time across workers: the state row is locked while it happens, and the
        // new tokens committed as soon as Zalo's answer is read.
        let txn = store.write.begin().await.map_err(db)?;
        let stored = lock_state(&txn, ZALO_TOKENS).await.map_err(db)?;
        let token = refresher.fresh_token(&txn, &seed, stored, refused).await?;
        txn.commit().await.map_err(db)?;
        token
    } else {
        let stored = get_state(&store.write, ZALO_TOKENS).await.map_err(db)?;
        refresher
            .fresh_token(&store.write, &seed, stored, refused)
            .await?
    };
    *held = Some(token.clone());
    Ok(token)
}

impl Refresher {
    async fn fresh_token(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        seed: &str,
        stored: Option<String>,
        refused: Option<&str>,
    ) -> Result<String, NoToken> {
        let stored: Option<StoredTokens> = stored
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok())
            .filter(|s: &StoredTokens| s.seed == seed);
        if let Some(s) = &stored
            && let Some(access) = &s.access_token
            && Some(access.as_str()) != refused
        {
            return Ok(access.clone());
        }
        let refresh_token = stored.map_or_else(
            || self.config.refresh_token.expose_secret().to_owned(),
            |s| s.refresh_token,
        );
        let answer = exchange(
            self.client
                .post(&self.token_url)
                .header("secret_key", self.config.secret_key.expose_secret())
                .form(&[
                    ("refresh_token", refresh_token.as_str()),
                    ("app_id", self.config.app_id.as_str()),
                    ("grant_type", "refresh_token"),
                ]),
        )
        .await
        .map_err(|e| NoToken::Failed(format!("Zalo OAuth: {e}")))?;
        if !answer.status.is_success() {
            return Err(NoToken::Failed(format!(
                "Zalo OAuth: HTTP {}",
                answer.status.as_u16()
            )));
        }
        let parsed: TokenAnswer = answer
            .json()
            .map_err(|e| NoToken::Failed(format!("Zalo OAuth: {e}")))?;
        let (Some(access), Some(refresh)) = (parsed.access_token, parsed.refresh_token) else {
            let error = format!(
                "Zalo OAuth refused the refresh token (error {})",
                parsed
                    .error
                    .map_or_else(|| "unknown".to_owned(), |e| e.to_string())
            );
            tracing::error!(
                error.message = %error,
                "ZNS cannot be used until a new Zalo refresh token is configured; notices go by SMS"
            );
            return Err(NoToken::Refused(error));
        };
        let keep = serde_json::to_string(&StoredTokens {
            seed: seed.to_owned(),
            refresh_token: refresh,
            access_token: Some(access.clone()),
        })
        .map_err(|e| NoToken::Failed(format!("keeping the Zalo tokens failed: {e}")))?;
        put_state(conn, ZALO_TOKENS, &keep).await.map_err(|e| {
            NoToken::Failed(format!(
                "keeping the rotated Zalo refresh token failed: {e}"
            ))
        })?;
        tracing::info!("Zalo access token refreshed; the rotated refresh token is kept");
        Ok(access)
    }
}
