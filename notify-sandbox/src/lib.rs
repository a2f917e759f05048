//! A stand-alone emulation of the three outside systems of INTEGRATIONS.md, so that the service can be
//! demonstrated, tested and benchmarked without them:
//!
//! - the brandname SMS gateway (`POST /MainService.svc/json/SendMultipleMessage_V4_post_json/`, shaped
//!   like eSMS): checks the keys, answers `CodeResult` 100, and 124 to a `RequestId` it already took;
//! - Zalo's OAuth (`POST /v4/oa/access_token`, rotating the refresh token on every use) and ZNS
//!   (`POST /message/template`);
//! - the national portal through the provincial bus (`POST /login`, `POST /service`).
//!
//! Like receivers that dedupe by id, it takes a message once per `RequestId`, `tracking_id` or
//! `X-Request-Id` and counts the repeats, so tests see both what arrived and what was sent twice.
//! It records every message it took ([`NotifySandbox::sms`], [`NotifySandbox::zns`],
//! [`NotifySandbox::portal_calls`]), so tests can assert that each arrived exactly once, and it
//! misbehaves on request: ZNS refuses a phone, the access token or the portal session expires,
//! a service is out (503), answers an HTML page, garbage or a huge body, or answers slowly
//! ([`Fault`], [`NotifySandbox::set_outage`], [`NotifySandbox::set_delay`]). `GET /_sandbox/received`
//! shows what it received.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::{Data, Form, Json};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, get, handler, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The credentials the sandbox accepts, and where it listens.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Port 0 for a free port.
    pub bind: SocketAddr,
    pub sms_api_key: String,
    pub sms_secret_key: String,
    pub sms_brandname: String,
    pub zalo_app_id: String,
    pub zalo_secret_key: String,
    /// The first refresh token; random by default, so a database that kept a rotated token from an
    /// earlier sandbox never meets one that looks the same.
    pub zalo_refresh_token: String,
    pub zalo_template_id: String,
    pub portal_username: String,
    pub portal_password: String,
    pub portal_dstcode: String,
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 12]>()))
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            sms_api_key: "sandbox-api-key".to_owned(),
            sms_secret_key: "sandbox-secret-key".to_owned(),
            sms_brandname: "HOSO-BUUDIEN".to_owned(),
            zalo_app_id: "4318201234567890".to_owned(),
            zalo_secret_key: "sandbox-zalo-secret".to_owned(),
            zalo_refresh_token: random_token("rt-"),
            zalo_template_id: "412345".to_owned(),
            portal_username: "buudien".to_owned(),
            portal_password: "sandbox-portal-password".to_owned(),
            portal_dstcode: "VNPOST".to_owned(),
        }
    }
}

/// One of the emulated endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Sms,
    ZaloOauth,
    Zns,
    PortalLogin,
    PortalService,
}

/// A misbehaviour armed for the next calls of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This HTTP status with an HTML error page.
    Status(u16),
    /// 200 with an HTML page.
    Html,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with a body of several MiB.
    Huge,
    /// Answers after this long, with a 504 HTML page (a gateway that gave up).
    Slow(Duration),
}

/// An SMS as the gateway took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsReceived {
    pub request_id: String,
    pub phone: String,
    pub content: String,
    pub brandname: String,
    pub is_unicode: String,
    pub sms_type: String,
}

/// A ZNS message as Zalo took it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZnsReceived {
    pub tracking_id: String,
    pub phone: String,
    pub template_id: String,
    pub template_data: Value,
}

/// A portal call as the portal took it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortalReceived {
    /// The caller's `X-Request-Id`.
    pub request_id: Option<String>,
    pub service: String,
    pub madonvi: String,
    pub data: Value,
}

/// How an expired access token or session is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryAnswer {
    /// HTTP 401.
    Http401,
    /// HTTP 200 with the service's error code (ZNS `error` -124, portal `error_code` 401).
    ErrorCode,
}

/// Counts of what happened, beyond the messages taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// SMS requests repeating a `RequestId` already taken (answered 124, not sent again).
    pub sms_duplicates: u64,
    /// ZNS requests repeating a `tracking_id` already sent (answered like the first, not sent again).
    pub zns_duplicates: u64,
    /// ZNS requests refused for the phone.
    pub zns_refused: u64,
    /// ZNS requests refused for the access token.
    pub zns_token_refused: u64,
    /// Successful token refreshes.
    pub token_refreshes: u64,
    /// Refreshes refused (unknown or already used refresh token, wrong app or secret).
    pub token_refresh_refused: u64,
    /// Successful portal logins.
    pub portal_logins: u64,
    /// Portal calls refused for the session.
    pub portal_session_refused: u64,
    /// Portal calls repeating an `X-Request-Id` already taken (answered like the first, not taken again).
    pub portal_duplicates: u64,
    /// Calls a fault or an outage hit.
    pub faults: u64,
}

#[derive(Debug, Default)]
struct State {
    sms: Vec<SmsReceived>,
    sms_ids: HashSet<String>,
    zns: Vec<ZnsReceived>,
    zns_ids: HashSet<String>,
    portal: Vec<PortalReceived>,
    portal_ids: HashSet<String>,
    counts: Counts,
    refused_phones: HashSet<String>,
    refresh_token: String,
    /// Refresh tokens presented, in order (the latest first used is last).
    refresh_tokens_used: Vec<String>,
    access_token: Option<String>,
    zns_expiry: Option<ExpiryAnswer>,
    sessions: HashSet<String>,
    portal_expiry: Option<ExpiryAnswer>,
    faults: HashMap<Service, VecDeque<Fault>>,
    outages: HashSet<Service>,
    delays: HashMap<Service, Duration>,
    /// How long Zalo's OAuth waits before answering a refresh it already made.
    oauth_answer_delay: Option<Duration>,
    issued: u64,
}

#[derive(Debug)]
struct Shared {
    config: NotifyConfig,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct StartError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// A running sandbox; dropping it stops the server.
#[derive(Debug)]
pub struct NotifySandbox {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl NotifySandbox {
    /// Binds `config.bind` and serves until dropped.
    pub async fn start(config: NotifyConfig) -> Result<NotifySandbox, StartError> {
        let addr = config.bind;
        let err = |source| StartError { addr, source };
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(err)?;
        let local_addr = listener.local_addr().map_err(err)?;
        let acceptor = TcpAcceptor::from_tokio(listener).map_err(err)?;
        let state = State {
            refresh_token: config.zalo_refresh_token.clone(),
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(state),
        });
        let app = Route::new()
            .at(SMS_PATH, post(sms))
            .at(SMS_PATH.trim_end_matches('/'), post(sms))
            .at("/v4/oa/access_token", post(access_token))
            .at("/message/template", post(zns))
            .at("/login", post(login))
            .at("/service", post(portal_service))
            .at("/_sandbox/received", get(received))
            .data(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let signal = async {
                let _ = stopped.await;
            };
            if let Err(error) = poem::Server::new_with_acceptor(acceptor)
                .name("notify-sandbox")
                .run_with_graceful_shutdown(app, signal, Some(Duration::from_secs(1)))
                .await
            {
                tracing::error!(%error, "notify sandbox stopped with an error");
            }
        });
        Ok(NotifySandbox {
            shared,
            local_addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: the base URL of all three services.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The credentials it accepts.
    pub fn config(&self) -> &NotifyConfig {
        &self.shared.config
    }

    /// Every SMS taken, in order (a repeated `RequestId` is not taken twice).
    pub fn sms(&self) -> Vec<SmsReceived> {
        self.shared.state().sms.clone()
    }

    /// Every ZNS message sent, in order (a repeated `tracking_id` is not sent twice).
    pub fn zns(&self) -> Vec<ZnsReceived> {
        self.shared.state().zns.clone()
    }

    /// Every portal call taken, in order (a repeated `X-Request-Id` is not taken twice).
    pub fn portal_calls(&self) -> Vec<PortalReceived> {
        self.shared.state().portal.clone()
    }

    /// Counts of refusals, refreshes, logins and faults.
    pub fn counts(&self) -> Counts {
        self.shared.state().counts.clone()
    }

    /// The refresh tokens presented to the OAuth endpoint, in order.
    pub fn refresh_tokens_used(&self) -> Vec<String> {
        self.shared.state().refresh_tokens_used.clone()
    }

    /// The refresh token that the next refresh must present.
    pub fn current_refresh_token(&self) -> String {
        self.shared.state().refresh_token.clone()
    }

    /// ZNS refuses `phone` (`84…`) from now on, as for a phone without a Zalo account.
    pub fn refuse_zns_phone(&self, phone: &str) {
        self.shared.state().refused_phones.insert(phone.to_owned());
    }

    /// The access token in use expires now; ZNS answers the next calls with it as `answer` says.
    pub fn expire_access_token(&self, answer: ExpiryAnswer) {
        let mut s = self.shared.state();
        s.access_token = None;
        s.zns_expiry = Some(answer);
    }

    /// Every portal session expires now; calls with one are answered as `answer` says.
    pub fn expire_portal_sessions(&self, answer: ExpiryAnswer) {
        let mut s = self.shared.state();
        s.sessions.clear();
        s.portal_expiry = Some(answer);
    }

    /// Arms `fault` for the next `times` calls of `service`.
    pub fn inject(&self, service: Service, fault: Fault, times: usize) {
        let mut s = self.shared.state();
        let queue = s.faults.entry(service).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// While `out`, every call of `service` is answered 503 with an HTML page.
    pub fn set_outage(&self, service: Service, out: bool) {
        let mut s = self.shared.state();
        if out {
            s.outages.insert(service);
        } else {
            s.outages.remove(&service);
        }
    }

    /// Every call of `service` waits `delay` before it is handled (nothing is taken when the caller
    /// hangs up meanwhile).
    pub fn set_delay(&self, service: Service, delay: Duration) {
        self.shared.state().delays.insert(service, delay);
    }

    /// Zalo's OAuth makes each refresh at once (the presented refresh token is dead from then on) and
    /// answers only after `delay`: a caller that hangs up meanwhile never learns the new tokens.
    pub fn set_oauth_answer_delay(&self, delay: Option<Duration>) {
        self.shared.state().oauth_answer_delay = delay;
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for NotifySandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

const SMS_PATH: &str = "/MainService.svc/json/SendMultipleMessage_V4_post_json/";

fn html(status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .body("<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Service Unavailable</h1></body></html>")
}

/// Waits the service's delay, then applies an outage or the next armed fault: `Some` answer to give
/// instead of the normal one.
async fn gate(shared: &Shared, service: Service) -> Option<Response> {
    let delay = shared.state().delays.get(&service).copied();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let fault = {
        let mut s = shared.state();
        if s.outages.contains(&service) {
            s.counts.faults += 1;
            return Some(html(StatusCode::SERVICE_UNAVAILABLE));
        }
        let fault = s.faults.get_mut(&service).and_then(VecDeque::pop_front);
        if fault.is_some() {
            s.counts.faults += 1;
        }
        fault
    }?;
    match fault {
        Fault::Status(code) => Some(html(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )),
        Fault::Html => Some(html(StatusCode::OK)),
        Fault::Garbage => Some(
            Response::builder()
                .content_type("application/json")
                .body("{\"CodeResult\": 100, \"error\": 0, \"error_code\": 0 ... <truncated"),
        ),
        Fault::Huge => Some(
            Response::builder()
                .content_type("application/json")
                .body(format!("[{}0]", "0,".repeat(3 * 1024 * 1024))),
        ),
        Fault::Slow(wait) => {
            tokio::time::sleep(wait).await;
            Some(html(StatusCode::GATEWAY_TIMEOUT))
        }
    }
}

fn text_of(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[handler]
async fn sms(shared: Data<&Arc<Shared>>, body: Json<Value>) -> Response {
    if let Some(answer) = gate(&shared, Service::Sms).await {
        return answer;
    }
    let b = body.0;
    let c = &shared.config;
    if text_of(&b, "ApiKey") != c.sms_api_key || text_of(&b, "SecretKey") != c.sms_secret_key {
        return Json(json!({"CodeResult": "101", "ErrorMessage": "Authorize Failed"}))
            .into_response();
    }
    if text_of(&b, "Brandname") != c.sms_brandname {
        return Json(json!({"CodeResult": "104", "ErrorMessage": "Brandname does not exist"}))
            .into_response();
    }
    let request_id = text_of(&b, "RequestId");
    let mut s = shared.state();
    if !request_id.is_empty() && !s.sms_ids.insert(request_id.clone()) {
        s.counts.sms_duplicates += 1;
        return Json(json!({"CodeResult": "124", "ErrorMessage": "Duplicate RequestId"}))
            .into_response();
    }
    s.sms.push(SmsReceived {
        request_id,
        phone: text_of(&b, "Phone"),
        content: text_of(&b, "Content"),
        brandname: text_of(&b, "Brandname"),
        is_unicode: text_of(&b, "IsUnicode"),
        sms_type: text_of(&b, "SmsType"),
    });
    let id = s.sms.len();
    Json(json!({"CodeResult": "100", "SMSID": format!("sms-{id}")})).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    refresh_token: String,
    #[serde(default)]
    app_id: String,
    #[serde(default)]
    grant_type: String,
}

#[handler]
async fn access_token(
    shared: Data<&Arc<Shared>>,
    req: &Request,
    form: Form<TokenForm>,
) -> Response {
    if let Some(answer) = gate(&shared, Service::ZaloOauth).await {
        return answer;
    }
    let answer = take_refresh(&shared, req, &form);
    let late = shared.state().oauth_answer_delay;
    if let Some(delay) = late {
        tokio::time::sleep(delay).await;
    }
    answer
}

/// Makes the refresh `form` asks for, rotating the refresh token, or refuses it.
fn take_refresh(shared: &Shared, req: &Request, form: &TokenForm) -> Response {
    let c = &shared.config;
    let secret = req
        .headers()
        .get("secret_key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut s = shared.state();
    s.refresh_tokens_used.push(form.refresh_token.clone());
    if secret != c.zalo_secret_key
        || form.app_id != c.zalo_app_id
        || form.grant_type != "refresh_token"
        || form.refresh_token != s.refresh_token
    {
        s.counts.token_refresh_refused += 1;
        return Json(json!({"error": -14014, "error_name": "Invalid refresh token", "error_description": "Refresh token is invalid or was used already"}))
            .into_response();
    }
    s.issued += 1;
    let access = random_token(&format!("at{}-", s.issued));
    let refresh = random_token(&format!("rt{}-", s.issued));
    s.access_token = Some(access.clone());
    s.refresh_token = refresh.clone();
    s.counts.token_refreshes += 1;
    Json(json!({"access_token": access, "refresh_token": refresh, "expires_in": "90000"}))
        .into_response()
}

#[handler]
async fn zns(shared: Data<&Arc<Shared>>, req: &Request, body: Json<Value>) -> Response {
    if let Some(answer) = gate(&shared, Service::Zns).await {
        return answer;
    }
    let token = req
        .headers()
        .get("access_token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let b = body.0;
    let mut s = shared.state();
    if s.access_token.as_deref() != Some(token.as_str()) || token.is_empty() {
        s.counts.zns_token_refused += 1;
        return match s.zns_expiry {
            Some(ExpiryAnswer::Http401) => StatusCode::UNAUTHORIZED.into_response(),
            _ => Json(json!({"error": -124, "message": "Access token is invalid"})).into_response(),
        };
    }
    if text_of(&b, "template_id") != shared.config.zalo_template_id {
        return Json(json!({"error": -1124, "message": "Template is not approved"}))
            .into_response();
    }
    let phone = text_of(&b, "phone");
    if s.refused_phones.contains(&phone) {
        s.counts.zns_refused += 1;
        return Json(json!({"error": -118, "message": "Zalo account does not exist"}))
            .into_response();
    }
    let tracking_id = text_of(&b, "tracking_id");
    if !tracking_id.is_empty() && !s.zns_ids.insert(tracking_id.clone()) {
        s.counts.zns_duplicates += 1;
        return Json(json!({"error": 0, "message": "Success", "data": {"msg_id": format!("zns-{tracking_id}")}}))
            .into_response();
    }
    s.zns.push(ZnsReceived {
        tracking_id: tracking_id.clone(),
        phone,
        template_id: text_of(&b, "template_id"),
        template_data: b.get("template_data").cloned().unwrap_or(Value::Null),
    });
    Json(json!({"error": 0, "message": "Success", "data": {"msg_id": format!("zns-{tracking_id}"), "sent_time": "0"}}))
        .into_response()
}

#[handler]
async fn login(shared: Data<&Arc<Shared>>, req: &Request, body: Json<Value>) -> Response {
    if let Some(answer) = gate(&shared, Service::PortalLogin).await {
        return answer;
    }
    let c = &shared.config;
    let dstcode = req
        .headers()
        .get("dstcode")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if dstcode != c.portal_dstcode
        || text_of(&body, "username") != c.portal_username
        || text_of(&body, "password") != c.portal_password
    {
        return Json(json!({"error_code": 1, "message": "Sai thông tin đăng nhập"}))
            .into_response();
    }
    let session = random_token("ss-");
    let mut s = shared.state();
    s.sessions.insert(session.clone());
    s.counts.portal_logins += 1;
    Json(json!({"error_code": 0, "session": session})).into_response()
}

#[handler]
async fn portal_service(shared: Data<&Arc<Shared>>, req: &Request, body: Json<Value>) -> Response {
    if let Some(answer) = gate(&shared, Service::PortalService).await {
        return answer;
    }
    let request_id = req
        .headers()
        .get("X-Request-Id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let b = body.0;
    let mut s = shared.state();
    if !s.sessions.contains(&text_of(&b, "session")) {
        s.counts.portal_session_refused += 1;
        return match s.portal_expiry {
            Some(ExpiryAnswer::Http401) => StatusCode::UNAUTHORIZED.into_response(),
            _ => Json(json!({"error_code": 401, "message": "Phiên làm việc đã hết hạn"}))
                .into_response(),
        };
    }
    let name = text_of(&b, "service");
    if !matches!(name.as_str(), "DongBoHoSoMC" | "CapNhatTienDoHoSoMC") {
        return Json(json!({"error_code": 2, "message": "Dịch vụ không tồn tại"})).into_response();
    }
    if let Some(id) = &request_id
        && !s.portal_ids.insert(id.clone())
    {
        s.counts.portal_duplicates += 1;
        return Json(json!({"error_code": 0, "message": "Thành công"})).into_response();
    }
    s.portal.push(PortalReceived {
        request_id,
        service: name,
        madonvi: text_of(&b, "madonvi"),
        data: b.get("data").cloned().unwrap_or(Value::Null),
    });
    Json(json!({"error_code": 0, "message": "Thành công"})).into_response()
}

#[handler]
fn received(shared: Data<&Arc<Shared>>) -> Json<Value> {
    let s = shared.state();
    Json(json!({
        "sms": s.sms,
        "zns": s.zns,
        "portal": s.portal,
        "counts": s.counts,
    }))
}
