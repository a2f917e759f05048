//! Rate limits of the public internet (API.md "Public-internet limits"), kept by `governor`'s keyed
//! GCRA limiters:
//!
//! - public writes per client: `POST /api/v1/dossiers` without a staff key, the web request form's
//!   `POST /`, staff sign-in attempts (`POST /staff`), a citizen's cancel from the tracking page
//!   (`POST /t/{code}/cancel`);
//! - public reads per client: `/api/v1/track/*`, `/t/*`, `/l/*`;
//! - a citizen's requests with a dossier's access token (`Bearer dt_…`: the dossier, its slip and
//!   receipt, cancel, supplement, complaints) count as the public's: a read against the client's
//!   public reads, a write against its public writes. A token costs nothing to get (one pickup
//!   request), so it buys no allowance of its own;
//! - every request made with an API key (`Bearer dk_…`), per key; every request of a staff web
//!   session, per key behind the session (all sessions of one key share that count).
//!
//! The client is the socket's peer address, or the last `X-Forwarded-For` hop when the peer is a
//! trusted proxy (`server.trusted_proxies`), in canonical form (an IPv4 peer of an IPv6 socket,
//! `::ffff:a.b.c.d`, is `a.b.c.d`). An IPv6 client is counted by its /64 network, the block one
//! subscriber gets: counted by whole address, one host could take 2^64 allowances. The check runs
//! before the body is read and before any
//! handler, so a refused request stores nothing. A request costs one keyed check (a lock-free map
//! lookup on a `Copy` key); keys are hashed, never kept, and idle limiter entries are dropped every
//! minute by [`RateLimits::forget_idle`].

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::settings::{LimitSettings, ServerSettings};

/// How often idle limiter entries are forgotten.
pub const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// The limiters of one process.
pub struct RateLimits {
    writes: DefaultKeyedRateLimiter<IpAddr>,
    reads: DefaultKeyedRateLimiter<IpAddr>,
    keys: DefaultKeyedRateLimiter<u64>,
    /// Hashes API keys into the `keys` limiter's keys, so no secret is held in memory.
    key_hasher: std::hash::RandomState,
    trusted_proxies: Vec<IpAddr>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// Parses `server.trusted_proxies` (comma-separated addresses), in canonical form.
pub fn parse_trusted_proxies(list: &str) -> anyhow::Result<Vec<IpAddr>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>()
                .map(|ip| ip.to_canonical())
                .map_err(|_| {
                    anyhow::anyhow!(
                        "server.trusted_proxies (DOSSIER__SERVER__TRUSTED_PROXIES) holds `{s}`, \
                     which is not an IP address"
                    )
                })
        })
        .collect()
}

impl RateLimits {
    pub fn new(limits: &LimitSettings, server: &ServerSettings) -> anyhow::Result<Self> {
        Ok(Self {
            writes: RateLimiter::keyed(per_minute(limits.public_writes_per_minute)),
            reads: RateLimiter::keyed(per_minute(limits.public_reads_per_minute)),
            keys: RateLimiter::keyed(per_minute(limits.key_requests_per_minute)),
            key_hasher: std::hash::RandomState::new(),
            trusted_proxies: parse_trusted_proxies(&server.trusted_proxies)?,
        })
    }

    /// Drops the entries of clients and keys that are back to a fresh state, so the limiters' memory
    /// follows the clients of the last minute, not of all time.
    pub fn forget_idle(&self) {
        for limiter in [&self.writes, &self.reads] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.keys.retain_recent();
        self.keys.shrink_to_fit();
    }

    /// The client of `req`: the peer, or the last `X-Forwarded-For` hop when the peer is a trusted
    /// proxy; in canonical form.
    pub fn client_of(&self, req: &Request) -> Option<IpAddr> {
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map(|a| a.ip().to_canonical())?;
        if self.trusted_proxies.is_empty() || !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.rsplit(','))
            .map(str::trim)
            .find(|hop| !hop.is_empty());
        Some(
            forwarded
                .and_then(|hop| hop.parse::<IpAddr>().ok())
                .map_or(peer, |hop| hop.to_canonical()),
        )
    }

    /// Whether `req` may go on; `Err` holds how long the client must wait. `session_key` is the key
    /// behind the request's staff session cookie, if any.
    fn check(&self, req: &Request, session_key: Option<i64>) -> Result<(), Duration> {
        let path = req.uri().path();
        let (key, citizen) = match bearer_of(req) {
            Some(token) if token.starts_with("dk_") => (Some(token), false),
            Some(token) => (None, token.starts_with("dt_")),
            None => (None, false),
        };
        let is_write = req.method() == Method::POST
            && (path == "/"
                || path == "/staff"
                || path.starts_with("/t/")
                || (path == "/api/v1/dossiers" && key.is_none())
                || citizen);
        let is_read = !is_write
            && (citizen
                || path.starts_with("/api/v1/track/")
                || path.starts_with("/t/")
                || path == "/t"
                || path.starts_with("/l/"));
        let limiter = if is_write {
            Some(&self.writes)
        } else if is_read {
            Some(&self.reads)
        } else {
            None
        };
        if let Some(limiter) = limiter
            && let Some(client) = self.client_of(req)
            && let Err(not_until) = limiter.check_key(&counted_as(client))
        {
            return Err(not_until.wait_time_from(limiter.clock().now()));
        }
        let hashed = match (key, session_key) {
            (Some(key), _) => Some(self.key_hasher.hash_one(key)),
            (None, Some(id)) => Some(self.key_hasher.hash_one(("session", id))),
            (None, None) => None,
        };
        if let Some(hashed) = hashed
            && let Err(not_until) = self.keys.check_key(&hashed)
        {
            return Err(not_until.wait_time_from(self.keys.clock().now()));
        }
        Ok(())
    }
}

/// The bearer token of a request (an API key `dk_…` or a dossier's access token `dt_…`), if any,
/// trimmed.
pub(crate) fn bearer_of(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    Some(token)
}

/// The address a client's allowance is kept under: an IPv4 address as it is, an IPv6 address by
/// its /64 network (the block one subscriber line or host is given).
fn counted_as(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from_bits(
            v6.to_bits() & !u128::from(u64::MAX),
        )),
    }
}

/// Whole seconds to wait, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// What the limits need from the pages, handed over by `startup` so that this module does not depend
/// on the web module: the key behind a request's staff web session, and the page a browser is
/// refused with.
#[derive(Clone, Copy)]
pub struct PageHooks {
    /// The key behind the request's staff web session, if it has a valid one.
    pub session_key: fn(&Request) -> Option<i64>,
    /// The page of a refused request, given the seconds to wait (the caller sets `Retry-After`).
    pub refusal_page: fn(&Request, u64) -> Response,
}

/// Whether the refused request came from a web page (answered with a page, not JSON).
fn is_page(req: &Request) -> bool {
    let path = req.uri().path();
    path == "/"
        || path == "/t"
        || path.starts_with("/t/")
        || path == "/staff"
        || path.starts_with("/staff/")
        || (path.starts_with("/l/") && crate::views::wants_html(req))
}

/// The 429 answer: the error envelope (or a page for browsers) with `Retry-After`.
pub fn too_many_requests(
    req: &Request,
    hooks: &PageHooks,
    retry_after: u64,
    message: &str,
) -> Response {
    let mut response = if is_page(req) {
        (hooks.refusal_page)(req, retry_after)
    } else {
        crate::error::ApiError::too_many(message, retry_after).into_response()
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response.set_status(StatusCode::TOO_MANY_REQUESTS);
    response
}

/// The middleware that applies [`RateLimits`].
pub struct RateLimit(pub Arc<RateLimits>, pub PageHooks);

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RateLimitEndpoint {
            inner,
            limits: self.0.clone(),
            hooks: self.1,
        }
    }
}

pub struct RateLimitEndpoint<E> {
    inner: E,
    limits: Arc<RateLimits>,
    hooks: PageHooks,
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let session_key = (self.hooks.session_key)(&req);
        if let Err(wait) = self.limits.check(&req, session_key) {
            return Ok(too_many_requests(
                &req,
                &self.hooks,
                retry_after_secs(wait),
                "too many requests from this client; try again after the time in Retry-After",
            ));
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_network_and_an_ipv4_one_whole() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        assert_eq!(counted_as(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            counted_as(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            counted_as(ip("2001:db8:1:2::7"))
        );
        assert_ne!(
            counted_as(ip("2001:db8:1:3::1")),
            counted_as(ip("2001:db8:1:2::1"))
        );
        assert_eq!(counted_as(ip("203.0.113.7")), ip("203.0.113.7"));
    }

    #[test]
    fn trusted_proxies_are_kept_in_canonical_form() {
        let parsed = parse_trusted_proxies("::ffff:10.0.0.5, 2001:db8::1").expect("valid");
        assert_eq!(
            parsed,
            vec![
                "10.0.0.5".parse::<IpAddr>().expect("v4"),
                "2001:db8::1".parse::<IpAddr>().expect("v6")
            ]
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
