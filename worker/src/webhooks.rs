//! Webhook deliveries to agency systems: one JSON POST per timeline event, signed so the receiver can
//! tell it came from us and was not replayed.
//!
//! The body is `{"delivery_id", "event": {"id", "dossier_code", "at", "kind", "status", "source"},
//! "timestamp"}`; headers `X-Dossier-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed with the
//! webhook's secret>`, `X-Dossier-Delivery` (the same on every attempt: receivers dedupe by it) and
//! `X-Dossier-Timestamp` (Unix seconds, also inside the signed body, so an old delivery cannot be
//! replayed with a fresh header). Every answer but a 2xx is a failure to retry; redirects are not
//! followed, so a delivery never lands anywhere but the registered URL.
//!
//! Each delivery is also signed per the Standard Webhooks specification, so receivers can use its
//! reference libraries: `webhook-id` (the delivery id, stable across retries), `webhook-timestamp`
//! (Unix seconds) and `webhook-signature: v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`,
//! keyed with the secret's bytes — or, for a secret written `whsec_<base64>`, with the bytes it
//! encodes.
//!
//! After a rotation of the secret, for a day both the new and the previous secret sign: the
//! `webhook-signature` header carries both signatures, separated by a space, the new one first
//! (receivers accept a delivery when any one matches); `X-Dossier-Signature` is always the new
//! secret's.
//!
//! Each attempt's outcome goes back as an [`AttemptReport`]: its HTTP status and `Retry-After`, never
//! the receiver's body.
//!
//! Only public addresses are connected to ([`domain::net::is_public_ip`]), unless the service runs on
//! a closed network (`webhooks.allow_private_networks`): the client's resolver drops every other
//! address a name resolves to, so the address checked is the one connected to (a name that resolved to
//! a public address at registration and to a private one now is refused), IP-literal hosts are checked
//! the same way, and no proxy from the environment stands in between.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use domain::ops::outbox::WebhookPayload;
use domain::ops::webhooks::AttemptReport;
use entity::enums::WebhookAttemptOutcome;
use hmac::{Hmac, Mac};
use sea_orm::ConnectionTrait;
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Dossier-Signature";
/// The header carrying the delivery id.
pub const DELIVERY_HEADER: &str = "X-Dossier-Delivery";
/// The header carrying the signing time.
pub const TIMESTAMP_HEADER: &str = "X-Dossier-Timestamp";

/// The Standard Webhooks headers: the message id, the signing time, the signatures.
pub const STANDARD_ID_HEADER: &str = "webhook-id";
/// See [`STANDARD_ID_HEADER`].
pub const STANDARD_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// See [`STANDARD_ID_HEADER`].
pub const STANDARD_SIGNATURE_HEADER: &str = "webhook-signature";

/// The key a secret stands for: a `whsec_<base64>` secret's decoded bytes, any other secret's own
/// bytes (also a `whsec_` one that does not decode, rather than signing with nothing).
pub fn secret_key(secret: &str) -> Vec<u8> {
    use base64::Engine as _;
    secret
        .strip_prefix("whsec_")
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// `v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`, one signature of the
/// [`STANDARD_SIGNATURE_HEADER`] (Standard Webhooks 1.0).
pub fn standard_signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`, the value of [`SIGNATURE_HEADER`].
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length; the error branch cannot happen.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The body of one delivery attempt, signed as sent.
pub fn body(payload: &WebhookPayload, timestamp: i64) -> Result<Vec<u8>, serde_json::Error> {
    let event = &payload.event;
    serde_json::to_vec(&serde_json::json!({
        "delivery_id": payload.delivery_id,
        "event": {
            "id": event.id,
            "dossier_code": event.dossier_code,
            // Like every time in the API: RFC 3339 in Vietnam's time.
            "at": domain::sla::to_local(event.at).to_rfc3339(),
            "kind": event.kind,
            "status": event.status,
            "source": event.source,
        },
        "timestamp": timestamp,
    }))
}

/// Why a delivery could not be attempted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Reading the webhook failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The receiver was tried: how it went (2xx is [`WebhookAttemptOutcome::Delivered`]).
    Attempted(AttemptReport),
    /// The webhook was disabled since the event: nothing was sent.
    Skipped,
}

/// A failed attempt's report.
fn failed(
    outcome: WebhookAttemptOutcome,
    error: String,
    http_status: Option<u16>,
) -> AttemptReport {
    AttemptReport {
        outcome,
        http_status,
        error: Some(error),
        retry_after: None,
        elapsed_ms: None,
    }
}

/// The process's network policy for webhooks: whether non-public addresses may be reached. Off until
/// the process's settings say otherwise ([`set_allow_private_networks`]).
static ALLOW_PRIVATE_NETWORKS: AtomicBool = AtomicBool::new(false);

/// Sets the network policy of the webhook clients this process makes from now on
/// (`webhooks.allow_private_networks`).
pub fn set_allow_private_networks(allow: bool) {
    ALLOW_PRIVATE_NETWORKS.store(allow, Ordering::SeqCst);
}

/// Why a connection was not made: the receiver's address is not public.
const NOT_PUBLIC: &str = "the receiver's address is not public";

/// Resolves names with the system resolver and keeps public addresses only.
#[derive(Debug, Clone, Copy)]
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| domain::net::is_public_ip(addr.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(NOT_PUBLIC.into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Posts webhook deliveries.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    allow_private_networks: bool,
}

impl WebhookClient {
    /// A client that gives each attempt `timeout`, follows no redirects, and reaches non-public
    /// addresses only if the process allows it ([`set_allow_private_networks`]).
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        Self::with_policy(timeout, ALLOW_PRIVATE_NETWORKS.load(Ordering::SeqCst))
    }

    /// A client like [`WebhookClient::new`] with the network policy given.
    pub fn with_policy(timeout: Duration, allow_private_networks: bool) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dossier-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private_networks {
            builder = builder
                .dns_resolver(Arc::new(PublicOnlyResolver))
                .no_proxy();
        }
        Ok(Self {
            http: builder.build()?,
            allow_private_networks,
        })
    }

    /// Whether `url` may be posted to now: with public addresses only, an IP-literal host must be
    /// public (names are checked by the resolver, on the address connected to).
    fn target_allowed(&self, url: &str) -> bool {
        if self.allow_private_networks {
            return true;
        }
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return false;
        };
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) => domain::net::is_public_ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => domain::net::is_public_ip(ip.into()),
            Some(url::Host::Domain(_)) => parsed.scheme() == "https",
            None => false,
        }
    }

    /// Sends one delivery attempt. The URL and the secrets are read now, so a webhook that was
    /// disabled gets nothing more and a rotated secret signs at once.
    pub async fn deliver(
        &self,
        conn: &impl ConnectionTrait,
        payload: &WebhookPayload,
    ) -> Result<Delivered, WebhookError> {
        let Some(hook) = domain::ops::webhooks::active_webhook(conn, payload.webhook_id).await?
        else {
            return Ok(Delivered::Skipped);
        };
        if !self.target_allowed(&hook.url) {
            return Ok(Delivered::Attempted(failed(
                WebhookAttemptOutcome::Refused,
                NOT_PUBLIC.to_owned(),
                None,
            )));
        }
        let now = domain::clock::now();
        let timestamp = now.timestamp();
        let body = match body(payload, timestamp) {
            Ok(body) => body,
            Err(e) => {
                return Ok(Delivered::Attempted(failed(
                    WebhookAttemptOutcome::Failed,
                    format!("the body could not be written: {e}"),
                    None,
                )));
            }
        };
        let signature = signature(hook.secret.as_bytes(), &body);
        let standard = domain::ops::webhooks::signing_secrets(&hook, now)
            .into_iter()
            .map(|secret| {
                standard_signature(&secret_key(secret), &payload.delivery_id, timestamp, &body)
            })
            .collect::<Vec<_>>()
            .join(" ");
        let started = std::time::Instant::now();
        let sent = self
            .http
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(DELIVERY_HEADER, &payload.delivery_id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(STANDARD_ID_HEADER, &payload.delivery_id)
            .header(STANDARD_TIMESTAMP_HEADER, timestamp.to_string())
            .header(STANDARD_SIGNATURE_HEADER, standard)
            .body(body)
            .send()
            .await;
        let elapsed_ms = i64::try_from(started.elapsed().as_millis()).ok();
        let mut report = match sent {
            Err(e) => {
                let (outcome, error) = describe(&e);
                failed(outcome, error, None)
            }
            Ok(answer) => {
                // Only the status and Retry-After are read; the body is dropped unread.
                let status = answer.status();
                let retry_after = answer
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| domain::webhook_retry::parse_retry_after(v, now));
                if status.is_success() {
                    AttemptReport {
                        outcome: WebhookAttemptOutcome::Delivered,
                        http_status: Some(status.as_u16()),
                        error: None,
                        retry_after: None,
                        elapsed_ms: None,
                    }
                } else {
                    let outcome = if status == reqwest::StatusCode::GONE {
                        WebhookAttemptOutcome::Gone
                    } else {
                        WebhookAttemptOutcome::Failed
                    };
                    AttemptReport {
                        retry_after,
                        ..failed(
                            outcome,
                            format!("the receiver answered HTTP {}", status.as_u16()),
                            Some(status.as_u16()),
                        )
                    }
                }
            }
        };
        report.elapsed_ms = elapsed_ms;
        Ok(Delivered::Attempted(report))
    }
}

/// A network failure in words that carry no URL (it may hold a token) and nothing the far side said,
/// with the outcome it stands for.
fn describe(err: &reqwest::Error) -> (WebhookAttemptOutcome, String) {
    let refused = std::iter::successors(Some(err as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .any(|e| e.to_string() == NOT_PUBLIC);
    if refused {
        (WebhookAttemptOutcome::Refused, NOT_PUBLIC.to_owned())
    } else if err.is_timeout() {
        (
            WebhookAttemptOutcome::Timeout,
            "the receiver did not answer in time".to_owned(),
        )
    } else if err.is_connect() {
        (
            WebhookAttemptOutcome::Unreachable,
            "the receiver could not be reached".to_owned(),
        )
    } else {
        (
            WebhookAttemptOutcome::Failed,
            "the request failed on the way".to_owned(),
        )
    }
}

#[cfg(test)]
mod standard_tests {
    use super::*;

    /// The vector of the Standard Webhooks reference libraries (`standardwebhooks` on PyPI computes
    /// the same value for these inputs).
    #[test]
    fn the_standard_signature_matches_the_reference_libraries() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(
            standard_signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_plain_secret_is_its_own_key() {
        assert_eq!(secret_key("a-long-shared-secret"), b"a-long-shared-secret");
        assert_eq!(secret_key("whsec_%%%"), b"whsec_%%%");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_raw_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
