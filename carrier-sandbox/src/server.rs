//! The HTTP face of the sandbox: the carrier endpoints of CARRIER.md (`/token`, `/order/post`,
//! `/order/tracking`) behind a gate that counts every request and applies armed request failures, and
//! the control API under `/_sandbox` (the `control` module, handed in by the caller).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use poem::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use poem::web::headers::authorization::Basic;
use poem::web::headers::{Authorization, HeaderMapExt};
use poem::web::{Data, Form, Json, Query};
use poem::{
    Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route, get, handler, post,
};
use serde::Serialize;

use crate::config::SandboxConfig;
use crate::faults::{Endpoint as CarrierEndpoint, Failure, FailureQueue};
use crate::net::{self, Connections};
use crate::world::{OrderRequest, TrackingRecord, World};

/// Requests served, by endpoint, since start or the last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStats {
    /// `POST /token`.
    pub token: u64,
    /// `POST /order/post`.
    pub order_post: u64,
    /// `GET /order/tracking` in its feed form.
    pub tracking_feed: u64,
    /// `GET /order/tracking` in its per-order form.
    pub tracking_order: u64,
    /// Any other path outside `/_sandbox` (404s).
    pub other: u64,
    /// Calls of the control API.
    pub control: u64,
    /// Calls that an armed request failure hit.
    pub failures_injected: u64,
    /// Calls answered 401 (missing, wrong, expired or revoked token; bad credentials).
    pub unauthorized: u64,
    /// The most carrier calls in flight at once (shows whether a client caps its concurrency).
    pub max_in_flight: u64,
}

impl RequestStats {
    /// Every request to the carrier API (control calls excluded): what a sync cost the carrier.
    pub fn carrier_requests(&self) -> u64 {
        self.token + self.order_post + self.tracking_feed + self.tracking_order + self.other
    }
}

/// Atomic counters behind [`RequestStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    token: AtomicU64,
    order_post: AtomicU64,
    tracking_feed: AtomicU64,
    tracking_order: AtomicU64,
    other: AtomicU64,
    pub(crate) control: AtomicU64,
    failures_injected: AtomicU64,
    unauthorized: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// Counts a carrier call in flight until dropped (also when the client goes away mid-answer).
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Counters {
    fn count(&self, endpoint: CarrierEndpoint) {
        let counter = match endpoint {
            CarrierEndpoint::Token => &self.token,
            CarrierEndpoint::OrderPost => &self.order_post,
            CarrierEndpoint::TrackingFeed => &self.tracking_feed,
            CarrierEndpoint::TrackingOrder => &self.tracking_order,
            CarrierEndpoint::Other => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RequestStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RequestStats {
            token: get(&self.token),
            order_post: get(&self.order_post),
            tracking_feed: get(&self.tracking_feed),
            tracking_order: get(&self.tracking_order),
            other: get(&self.other),
            control: get(&self.control),
            failures_injected: get(&self.failures_injected),
            unauthorized: get(&self.unauthorized),
            max_in_flight: get(&self.max_in_flight),
        }
    }

    pub(crate) fn reset(&self) {
        for c in [
            &self.token,
            &self.order_post,
            &self.tracking_feed,
            &self.tracking_order,
            &self.other,
            &self.control,
            &self.failures_injected,
            &self.unauthorized,
            &self.max_in_flight,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// State shared by the server and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    pub(crate) world: Mutex<World>,
    pub(crate) failures: Mutex<FailureQueue>,
    /// Issued access tokens and when each stops working (real time).
    pub(crate) tokens: Mutex<HashMap<String, Instant>>,
    pub(crate) counters: Counters,
    pub(crate) connections: Connections,
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig) -> Shared {
        Shared {
            world: Mutex::new(World::new(&config)),
            config,
            failures: Mutex::new(FailureQueue::default()),
            tokens: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            connections: Connections::default(),
        }
    }

    /// The world, even if a panicking thread once held it (its data is still consistent enough for a
    /// sandbox, and a test should see the original panic, not a poison error).
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn failures(&self) -> MutexGuard<'_, FailureQueue> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tokens(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every token issued so far invalid.
    pub(crate) fn revoke_tokens(&self) {
        self.tokens().clear();
    }

    /// Whether the request carries a live bearer token.
    fn authorized(&self, req: &Request) -> bool {
        let Some(value) = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        self.tokens()
            .get(token.trim())
            .is_some_and(|expires| *expires > Instant::now())
    }
}

/// A JSON response with `status`.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(bytes),
        Err(_) => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .finish(),
    }
}

/// An OAuth-style error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        &serde_json::json!({ "error": error, "error_description": description }),
    )
}

/// Which carrier endpoint a request is for; `None` for the control API.
fn classify(req: &Request) -> Option<CarrierEndpoint> {
    let path = req.uri().path();
    if path.starts_with("/_sandbox") {
        return None;
    }
    Some(match path.trim_end_matches('/') {
        "/token" => CarrierEndpoint::Token,
        "/order/post" => CarrierEndpoint::OrderPost,
        "/order/tracking" => {
            let query = req.uri().query().unwrap_or("").to_ascii_lowercase();
            if query.contains("ordernumber=") {
                CarrierEndpoint::TrackingOrder
            } else {
                CarrierEndpoint::TrackingFeed
            }
        }
        _ => CarrierEndpoint::Other,
    })
}

/// Counts the request and applies the request failure armed for it, if any.
async fn gate<E: Endpoint>(
    shared: Arc<Shared>,
    next: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let Some(endpoint) = classify(&req) else {
        shared.counters.control.fetch_add(1, Ordering::Relaxed);
        return next.call(req).await.map(|r| r.into_response());
    };
    shared.counters.count(endpoint);
    let _in_flight = InFlight::enter(&shared.counters);
    let failure = shared.failures().take(endpoint);
    if failure.is_some() {
        shared
            .counters
            .failures_injected
            .fetch_add(1, Ordering::Relaxed);
    }
    match failure {
        None => next.call(req).await.map(|r| r.into_response()),
        Some(Failure::TooManyRequests(secs)) => Ok(Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header(RETRY_AFTER, secs.to_string())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(r#"{"error":"too_many_requests"}"#)),
        Some(Failure::Status(status)) => Ok(Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(if status >= 500 {
                r#"{"error":"server_error"}"#
            } else {
                r#"{"error":"request_error"}"#
            })),
        Some(Failure::ConnectionReset) => {
            if let Some(peer) = req.remote_addr().as_socket_addr() {
                net::reset(&shared.connections, peer);
            }
            // Never delivered: the connection fails before the answer is written.
            Ok(Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .finish())
        }
        Some(Failure::Slow(delay)) => {
            let answer = next.call(req).await.map(|r| r.into_response());
            tokio::time::sleep(delay).await;
            answer
        }
    }
}

/// `POST /token`: HTTP Basic consumer key and secret, `grant_type=client_credentials`.
#[handler]
async fn issue_token(
    req: &Request,
    shared: Data<&Arc<Shared>>,
    form: poem::Result<Form<HashMap<String, String>>>,
) -> Response {
    let credentials = req.headers().typed_get::<Authorization<Basic>>();
    let valid = credentials.is_some_and(|Authorization(basic)| {
        basic.username() == shared.config.consumer_key
            && basic.password() == shared.config.consumer_secret
    });
    if !valid {
        shared.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "consumer key or secret is wrong",
        );
    }
    let grant = form.ok().and_then(|Form(f)| f.get("grant_type").cloned());
    if grant.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let access_token = format!("{:032x}", rand::random::<u128>());
    let ttl = shared.config.token_ttl;
    {
        let mut tokens = shared.tokens();
        let now = Instant::now();
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(access_token.clone(), now + ttl);
    }
    json(
        StatusCode::OK,
        &serde_json::json!({
            "accessToken": access_token,
            "tokenType": "Bearer",
            "expiresIn": ttl.as_secs(),
        }),
    )
}

/// The 401 of every call without a live token.
fn unauthorized(shared: &Shared) -> Response {
    shared.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the access token is missing, expired or revoked",
    )
}

/// `POST /order/post`: accept, refuse or replay an order.
#[handler]
async fn order_post(
    req: &Request,
    shared: Data<&Arc<Shared>>,
    body: poem::Result<Json<OrderRequest>>,
) -> Response {
    if !shared.authorized(req) {
        return unauthorized(&shared);
    }
    let Ok(Json(order)) = body else {
        return json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"status": "99", "message": "the body must be a JSON order"}),
        );
    };
    let answer = shared.world().create_order(&order, None);
    json(StatusCode::OK, &answer)
}

/// A tracking answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TrackingAnswer {
    content: Vec<TrackingRecord>,
    last_id: i64,
}

/// `GET /order/tracking`: the feed after a cursor, or one order's events.
#[handler]
async fn tracking(
    req: &Request,
    shared: Data<&Arc<Shared>>,
    query: poem::Result<Query<HashMap<String, String>>>,
) -> Response {
    if !shared.authorized(req) {
        return unauthorized(&shared);
    }
    let params: HashMap<String, String> = query
        .map(|Query(q)| {
            q.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect()
        })
        .unwrap_or_default();
    let bad = |message: &str| {
        json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"error": "invalid_request", "error_description": message}),
        )
    };
    if let Some(order_number) = params.get("ordernumber") {
        let customer = params.get("customercode").map(String::as_str).unwrap_or("");
        let content = shared.world().order_records(customer, order_number);
        let last_id = content.iter().map(|r| r.id).max().unwrap_or(0);
        return json(StatusCode::OK, &TrackingAnswer { content, last_id });
    }
    let Some(size) = params.get("pagesize") else {
        return bad("give pagesize and lastId (the feed) or customerCode and orderNumber");
    };
    let size = match size.trim().parse::<usize>() {
        Ok(n) if n > 0 => n.min(shared.config.max_page_size),
        _ => return bad("pagesize must be a positive integer"),
    };
    let after = match params.get("lastid").map(|s| s.trim().parse::<i64>()) {
        None => 0,
        Some(Ok(k)) if k >= 0 => k,
        Some(_) => return bad("lastId must be a non-negative integer"),
    };
    let (content, last_id) = shared.world().feed(after, size);
    json(StatusCode::OK, &TrackingAnswer { content, last_id })
}

/// The whole application: carrier endpoints and the control API (`control`, nested under
/// `/_sandbox`) behind the gate.
pub(crate) fn app(shared: Arc<Shared>, control: Route) -> impl Endpoint + 'static {
    let gate_state = shared.clone();
    Route::new()
        .at("/token", post(issue_token))
        .at("/order/post", post(order_post))
        .at("/order/tracking", get(tracking))
        .nest("/_sandbox", control)
        .data(shared)
        .into_endpoint()
        .around(move |next, req| gate(gate_state.clone(), next, req))
}

/// How long a graceful shutdown waits for answers in flight (slow-answer faults included).
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
