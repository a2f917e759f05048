//! Webhooks of agency systems (the national integration platform's side): an administrator registers
//! a URL and a shared secret for one agency; from then on every timeline event of that agency's
//! dossiers is delivered there through the outbox, signed with the secret.
//!
//! The secret is stored because signing needs it; it is never returned, listed or logged.

use entity::enums::Role;
use entity::{agency, webhook};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder};
use secrecy::{ExposeSecret, SecretString};

use super::OpError;
use super::access::Actor;
use super::validation::Checker;

/// The shortest secret accepted: HMAC-SHA256 keys shorter than this are guessable.
pub const MIN_SECRET_CHARS: usize = 16;
/// The longest secret accepted.
pub const MAX_SECRET_CHARS: usize = 256;
/// The longest URL accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// A registration as it arrived.
#[derive(Debug, Default)]
pub struct WebhookRequest {
    pub url: Option<String>,
    pub secret: Option<SecretString>,
    pub agency_code: Option<String>,
    /// Whether non-public targets are allowed (`DOSSIER__WEBHOOKS__ALLOW_PRIVATE_NETWORKS`).
    pub allow_private_networks: bool,
}

/// A registered webhook as administrators see it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookView {
    pub id: i64,
    pub agency_code: String,
    pub url: String,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<webhook::Model> for WebhookView {
    fn from(w: webhook::Model) -> Self {
        Self {
            id: w.id,
            agency_code: w.agency_code,
            url: w.url,
            active: w.active,
            created_at: w.created_at,
        }
    }
}

fn admin(actor: &Actor) -> Result<(), OpError> {
    actor
        .staff_with_role(Role::Admin)
        .map(|_| ())
        .ok_or_else(|| OpError::Forbidden("webhooks are managed with an admin key".into()))
}

/// Why a webhook URL is not acceptable, if it is not. It must be an absolute `https://` URL naming a
/// host, without credentials, whose host is not a non-public address ([`crate::net::is_public_ip`]) nor
/// `localhost`. With `allow_private_networks` (a closed network), `http://`, credentials and
/// non-public hosts are accepted. Host names are checked again when a delivery connects: the address
/// connected to must be public.
pub fn check_url(url: &str, allow_private_networks: bool) -> Result<(), &'static str> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err("is too long");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters");
    }
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("https://") && !lower.starts_with("http://") {
        return Err("must be an https:// URL");
    }
    // Parsed as the delivering HTTP client parses it, so `http://2130706433/` is 127.0.0.1 here too.
    let parsed = url::Url::parse(url).map_err(|_| "is not a valid URL")?;
    let Some(host) = parsed.host() else {
        return Err("must name a host");
    };
    if allow_private_networks {
        return Ok(());
    }
    if parsed.scheme() != "https" {
        return Err("must be an https:// URL");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials");
    }
    let public = match host {
        url::Host::Ipv4(ip) => crate::net::is_public_ip(ip.into()),
        url::Host::Ipv6(ip) => crate::net::is_public_ip(ip.into()),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name.contains('.') && name != "localhost" && !name.ends_with(".localhost")
        }
    };
    if public {
        Ok(())
    } else {
        Err("must reach a public address (not loopback, private, link-local or metadata)")
    }
}

/// Registers a webhook for an agency (admin key only).
#[tracing::instrument(skip_all)]
pub async fn register_webhook(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    request: &WebhookRequest,
) -> Result<WebhookView, OpError> {
    admin(actor)?;
    let mut c = Checker::new();
    let url = c.required_text("url", request.url.as_deref(), MAX_URL_CHARS);
    if let Some(url) = &url
        && let Err(msg) = check_url(url, request.allow_private_networks)
    {
        c.fail("url", msg);
    }
    let secret = match &request.secret {
        None => {
            c.fail("secret", "is required");
            None
        }
        Some(s) => {
            let n = s.expose_secret().chars().count();
            if n < MIN_SECRET_CHARS {
                c.fail(
                    "secret",
                    format!("must be at least {MIN_SECRET_CHARS} characters"),
                );
                None
            } else if n > MAX_SECRET_CHARS {
                c.fail(
                    "secret",
                    format!("must be at most {MAX_SECRET_CHARS} characters"),
                );
                None
            } else {
                Some(s.expose_secret().to_owned())
            }
        }
    };
    let agency_code = c.required_text("agency_code", request.agency_code.as_deref(), 50);
    if let Some(code) = &agency_code
        && agency::Entity::find_by_id(code.clone())
            .one(conn)
            .await?
            .is_none()
    {
        c.fail("agency_code", "is not a known agency");
    }
    c.finish().map_err(OpError::Validation)?;
    let (Some(url), Some(secret), Some(agency_code)) = (url, secret, agency_code) else {
        return Err(OpError::Validation(vec![]));
    };
    let saved = webhook::ActiveModel {
        agency_code: Set(agency_code),
        url: Set(url),
        secret: Set(secret),
        active: Set(true),
        created_by: Set(actor.audit_name()),
        created_at: Set(crate::clock::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    super::audit::record(
        conn,
        super::audit::AuditRecord {
            actor: actor.into(),
            entity: "webhook",
            code: &saved.id.to_string(),
            action: "register",
            before: None,
            // The secret is left out; the URL may carry a token in its path, so only its origin is kept.
            after: Some(serde_json::json!({
                "agency_code": saved.agency_code,
                "url_origin": url_origin(&saved.url),
                "active": saved.active,
            })),
        },
    )
    .await?;
    tracing::info!(webhook.id = saved.id, agency.code = %saved.agency_code, "webhook registered");
    Ok(saved.into())
}

/// `scheme://host[:port]` of a URL, without credentials, path or query.
fn url_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

/// Puts the failed outbox row `id` back in the queue and audits it, in one transaction (admin key
/// only). `false` when there is no failed row with that id.
pub async fn requeue_delivery(
    conn: &sea_orm::DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Result<bool, OpError> {
    admin(actor)?;
    let txn = sea_orm::TransactionTrait::begin(conn).await?;
    if !super::outbox::requeue(&txn, id).await? {
        return Ok(false);
    }
    super::audit::record(
        &txn,
        super::audit::AuditRecord {
            actor: actor.into(),
            entity: "outbox",
            code: &id.to_string(),
            action: "requeue",
            before: Some(serde_json::json!({"status": "failed"})),
            after: Some(serde_json::json!({"status": "pending"})),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Every registered webhook, without secrets (admin key only).
pub async fn list_webhooks(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Vec<WebhookView>, OpError> {
    admin(actor)?;
    Ok(webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_absolute_https_urls_of_public_hosts() {
        for ok in [
            "https://agency.example.vn/hooks/dossiers",
            "HTTPS://Example.VN",
            "https://203.162.4.190:8443/hook",
            "https://[2001:4860:4860::8888]/x",
        ] {
            assert_eq!(check_url(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "ftp://example.vn",
            "example.vn/hook",
            "https://",
            "https:///path",
            "https://host:notaport/",
            "https://exa mple.vn",
            "http://agency.example.vn/hook",
            "https://user:pass@agency.example.vn/hook",
            "https://token@agency.example.vn/hook",
            "https://localhost/hook",
            "https://api.localhost/hook",
            "https://intranet/hook",
            "https://127.0.0.1/hook",
            "https://2130706433/hook",
            "https://0x7f.1/hook",
            "https://10.1.2.3/hook",
            "https://172.20.0.5/hook",
            "https://192.168.1.10/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.1.1/hook",
            "https://0.0.0.0/hook",
            "https://224.0.0.1/hook",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://[fe80::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[::ffff:a9fe:a9fe]/hook",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn on_a_closed_network_http_and_private_hosts_are_accepted() {
        for ok in [
            "http://127.0.0.1:8081/hook",
            "http://[::1]:9000/x",
            "https://10.1.2.3/hook",
            "http://receiver/hook",
        ] {
            assert_eq!(check_url(ok, true), Ok(()), "{ok}");
        }
        for bad in ["ftp://example.vn", "https://", "https://exa mple.vn"] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
    }
}
