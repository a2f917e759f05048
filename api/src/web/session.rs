//! Staff sessions and form tokens of the web pages.
//!
//! - A member of staff signs in once with their office's or agency's API key; the answer is a cookie
//!   `dossier_session = {key id}.{expiry}.{nonce}.{tag}`, the tag an HMAC-SHA256 under a key derived
//!   from the label-signing key (kept in `AppState`, the same on every replica). The cookie carries no
//!   secret: the key itself is never stored in it. Every request reads the session's row and the key's
//!   row again, so signing out (which ends the row) and a revoked or expired key end the session at
//!   once, in every process. The cookie is `HttpOnly`, `SameSite=Strict`, and `Secure`
//!   when the service is reached over https.
//! - Every form posts a token (`csrf`) tied to the browser: for staff, an HMAC of the session's nonce;
//!   for the public forms, an HMAC of a random visitor nonce kept in its own cookie. A post whose token
//!   does not match changes nothing.
//! - A short-lived `dossier_flash` cookie carries the one-line outcome of an action across the
//!   redirect that follows it (post, redirect, get).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::ops::access::{Actor, StaffKey};
use hmac::{Hmac, Mac};
use poem::http::{HeaderValue, header};
use poem::web::Redirect;
use poem::{FromRequest, IntoResponse, Request, RequestBody, Response};
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::state::AppState;

/// The staff session cookie.
pub const SESSION_COOKIE: &str = "dossier_session";
/// The visitor nonce behind the public forms' tokens.
pub const VISITOR_COOKIE: &str = "dossier_visitor";
/// The outcome of the last action, shown once.
pub const FLASH_COOKIE: &str = "dossier_flash";
/// How long a sign-in lasts: a working day and a half.
pub const SESSION_HOURS: i64 = 12;

/// Separates the session key from every other use of the label-signing key.
const SESSION_CONTEXT: &[u8] = b"dossier/web-session/v1\0";

/// The value of cookie `name` in the request, if it is there.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// Whether cookies must be marked `Secure`: the service is reached over https.
pub fn secure(state: &AppState) -> bool {
    state.public_base_url.starts_with("https://")
}

/// A `Set-Cookie` value for the pages (path `/`, `HttpOnly`, `SameSite=Strict`).
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> String {
    let secure = if secure(state) { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}")
}

/// Adds a `Set-Cookie` header to `response`.
pub fn append_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn session_key(state: &AppState) -> Hmac<Sha256> {
    let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(state.label_key.expose_secret())
        .expect("HMAC accepts any key length");
    derive.update(SESSION_CONTEXT);
    let key = derive.finalize().into_bytes();
    <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC accepts any key length")
}

fn tag(state: &AppState, message: &str) -> String {
    let mut mac = session_key(state);
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn tag_matches(state: &AppState, message: &str, given: &str) -> bool {
    let Ok(given) = URL_SAFE_NO_PAD.decode(given) else {
        return false;
    };
    let mut mac = session_key(state);
    mac.update(message.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// A fresh random nonce, 128 bits, base64url.
pub fn nonce() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// The form token that goes with `nonce` (a session's or a visitor's).
pub fn csrf_token(state: &AppState, nonce: &str) -> String {
    tag(state, &format!("csrf.{nonce}"))
}

/// Whether `given` is the form token of `nonce` (compared in constant time).
pub fn csrf_ok(state: &AppState, nonce: &str, given: &str) -> bool {
    tag_matches(state, &format!("csrf.{nonce}"), given)
}

/// A new session for the API key `key_id`: the cookie value, the session's nonce, and its end.
pub fn issue(state: &AppState, key_id: i64) -> (String, String, chrono::DateTime<Utc>) {
    let expires = Utc::now().timestamp() + SESSION_HOURS * 3600;
    let nonce = nonce();
    let body = format!("{key_id}.{expires}.{nonce}");
    let tag = tag(state, &body);
    let ends = chrono::DateTime::from_timestamp(expires, 0).unwrap_or_else(Utc::now);
    (format!("{body}.{tag}"), nonce, ends)
}

/// The key id and nonce of a session cookie this service signed and that has not expired.
fn open(state: &AppState, value: &str) -> Option<(i64, String)> {
    let (body, tag) = value.rsplit_once('.')?;
    if !tag_matches(state, body, tag) {
        return None;
    }
    let mut parts = body.splitn(3, '.');
    let key_id: i64 = parts.next()?.parse().ok()?;
    let expires: i64 = parts.next()?.parse().ok()?;
    let nonce = parts.next()?.to_owned();
    (expires > Utc::now().timestamp()).then_some((key_id, nonce))
}

/// The key behind the request's session cookie, if the cookie is genuine and unexpired (no database
/// read: a signed-out session or a revoked key is refused later, by [`StaffSession::of`]).
pub fn session_key_id(state: &AppState, req: &Request) -> Option<i64> {
    cookie(req, SESSION_COOKIE)
        .and_then(|v| open(state, &v))
        .map(|(key_id, _)| key_id)
}

/// A signed-in member of staff.
#[derive(Debug, Clone)]
pub struct StaffSession {
    /// The actor every use-case is called with: the key behind the session.
    pub actor: Actor,
    pub key: StaffKey,
    /// The token the session's forms post.
    pub csrf: String,
    nonce: String,
}

impl StaffSession {
    /// Whether a posted form token belongs to this session.
    pub fn csrf_ok(&self, state: &AppState, given: &str) -> bool {
        csrf_ok(state, &self.nonce, given)
    }

    /// Ends the session on the server: its cookie is refused from now on, even if replayed.
    pub async fn end(&self, state: &AppState) -> Result<(), domain::ops::OpError> {
        domain::ops::sessions::end_session(&state.store.write, &self.key, &self.nonce).await
    }

    /// The session of the request, if it has a valid one that was not signed out and whose key is
    /// neither revoked nor expired.
    pub async fn of(req: &Request) -> poem::Result<Option<StaffSession>> {
        let Some(state) = req.data::<AppState>() else {
            return Ok(None);
        };
        let Some((key_id, nonce)) = cookie(req, SESSION_COOKIE).and_then(|v| open(state, &v))
        else {
            return Ok(None);
        };
        let key = domain::ops::sessions::session_key(&state.store.read, key_id, &nonce)
            .await
            .map_err(|err| {
                tracing::error!(error.cause = %err, "session key lookup failed");
                poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
            })?;
        if let Some(staff) = &key {
            crate::auth::note_use(state, &Actor::Staff(staff.clone()));
        }
        Ok(key.map(|staff| StaffSession {
            actor: Actor::Staff(staff.clone()),
            key: staff,
            csrf: csrf_token(state, &nonce),
            nonce,
        }))
    }
}

/// Pages for staff only: without a session the browser is sent to the sign-in page, which brings it
/// back afterwards.
impl<'a> FromRequest<'a> for StaffSession {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        match StaffSession::of(req).await? {
            Some(session) => Ok(session),
            None => {
                let next = req
                    .uri()
                    .path_and_query()
                    .map_or("/staff", |p| p.as_str())
                    .to_owned();
                let location = format!("/staff?next={}", percent_encode(&next));
                Err(poem::Error::from_response(
                    Redirect::see_other(location).into_response(),
                ))
            }
        }
    }
}

/// The session, when there is one, for pages that anyone may see.
#[derive(Debug, Clone)]
pub struct MaybeStaff(pub Option<StaffSession>);

impl<'a> FromRequest<'a> for MaybeStaff {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(MaybeStaff(StaffSession::of(req).await?))
    }
}

/// The visitor nonce of the request (set by the page middleware when the browser had none).
#[derive(Debug, Clone)]
pub struct Visitor(pub String);

/// The form token for a visitor's public forms.
pub fn visitor_csrf(state: &AppState, req: &Request) -> String {
    req.extensions()
        .get::<Visitor>()
        .map(|v| csrf_token(state, &v.0))
        .unwrap_or_default()
}

/// Whether a public form's posted token matches the visitor's cookie.
pub fn visitor_csrf_ok(state: &AppState, req: &Request, given: &str) -> bool {
    cookie(req, VISITOR_COOKIE).is_some_and(|nonce| csrf_ok(state, &nonce, given))
}

/// Whether an action succeeded or was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Ok,
    Error,
}

/// One line about the last action, shown on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

impl Flash {
    /// The CSS class of its banner.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Ok => "notice ok",
            FlashKind::Error => "notice error",
        }
    }

    /// Whether it reports a refusal.
    pub fn is_error(&self) -> bool {
        self.kind == FlashKind::Error
    }

    /// The flash carried by the request, if any.
    pub fn of(req: &Request) -> Option<Flash> {
        let raw = cookie(req, FLASH_COOKIE)?;
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (kind, text) = text.split_once('\n')?;
        let kind = match kind {
            "ok" => FlashKind::Ok,
            "error" => FlashKind::Error,
            _ => return None,
        };
        Some(Flash {
            kind,
            text: text.to_owned(),
        })
    }
}

/// A redirect (303) to `location` that shows `text` there once.
pub fn redirect_with(state: &AppState, location: &str, kind: FlashKind, text: &str) -> Response {
    let kind = match kind {
        FlashKind::Ok => "ok",
        FlashKind::Error => "error",
    };
    let text: String = text.chars().take(600).collect();
    let value = URL_SAFE_NO_PAD.encode(format!("{kind}\n{text}"));
    let mut response = Redirect::see_other(location).into_response();
    append_cookie(&mut response, &set_cookie(state, FLASH_COOKIE, &value, 120));
    response
}

/// `text` percent-encoded for a query value.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local path to go back to after signing in: only paths of this site, never another host. The path
/// must be printable ASCII and, as given and after each of up to four rounds of percent-decoding
/// (for double-encoded forms), begin with one `/` not followed by `/` or `\`, and hold no `\` and no
/// control character (browsers drop tabs and line breaks, and read `\` as `/`).
pub fn safe_next(next: Option<&str>) -> Option<String> {
    const ROUNDS: usize = 4;
    let next = next?;
    if next.is_empty() || !next.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let local = |path: &str| {
        path.starts_with('/')
            && !path[1..].starts_with(['/', '\\'])
            && !path.contains('\\')
            && !path.chars().any(char::is_control)
    };
    let mut form = next.to_owned();
    for _ in 0..ROUNDS {
        if !local(&form) {
            return None;
        }
        let decoded = percent_encoding::percent_decode_str(&form)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == form {
            return Some(next.to_owned());
        }
        form = decoded;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/staff/scan")).as_deref(),
            Some("/staff/scan")
        );
        assert_eq!(safe_next(Some("//evil.example/")), None);
        assert_eq!(safe_next(Some("https://evil.example/")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
        assert_eq!(safe_next(Some("/\t/evil.example")), None);
        assert_eq!(safe_next(Some("/%09/evil.example")), None);
        assert_eq!(safe_next(Some("/%2F%2Fevil.example")), None);
        assert_eq!(safe_next(Some("%2F%2Fevil.example")), None);
        assert_eq!(safe_next(Some("/%252F/evil.example")), None);
        assert_eq!(safe_next(Some("/%5Cevil.example")), None);
        assert_eq!(safe_next(Some("/%250D%250A/evil.example")), None);
        assert_eq!(
            safe_next(Some("/staff/scan%3Fevent%3Ddeparted")).as_deref(),
            Some("/staff/scan%3Fevent%3Ddeparted")
        );
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("/staff/scan?event=departed"),
            "/staff/scan%3Fevent%3Ddeparted"
        );
    }
}
