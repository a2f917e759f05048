//! Webhooks, second version, end to end with a real receiver started here: a 410 disables the webhook
//! at once; `Retry-After` (seconds or an HTTP date) puts the next attempt off; when a delivery's
//! retries run out the webhook is disabled and the operators get one e-mail a day per webhook; a
//! rotated secret signs beside the old one for a day (checked here with an HMAC of the test's own) and
//! alone after; every attempt is listed with its HTTP status and never the receiver's body; enabling
//! brings deliveries back; each of these is audited; refused requests change nothing.
//!
//! Also what the first version's tests leave out: a 4xx other than 410 is a failure like a 5xx,
//! retried on the schedule and, when it never stops, running the retries out; a receiver that does
//! not answer in time is a timed-out attempt, and while it hangs the worker's other lanes (e-mail)
//! keep moving.
//!
//! The worker is driven step by step (the worker's own loops run where lanes are the point). The service has no clock to move, so "time passes" by moving a
//! row's due time (or a rotated secret's expiry) into the past; the schedule itself is the real one
//! where its waits are checked, and a schedule of zero waits (same number of attempts) where the test
//! runs through all ten attempts.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::{SubsecRound, Utc};
use domain::webhook_retry::WebhookRetrySchedule;
use entity::enums::{OutboxStatus, Role};
use entity::{outbox, webhook};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use sha2::Sha256;
use tests::TestApp;
use tests::outbox_fixture::{message_key, queue_emails};
use tests::smtp_sink::SmtpSink;
use worker::StepOutcome;
use worker::outbox::{OutboxDeps, step};

use super::notifications::{deps_with, register, subjects_to};
use super::postal::AGENCY;

/// Where the operators' alerts go (`DOSSIER__ALERTS__EMAIL`).
const OPS: &str = "truc-van-hanh@dossier.test";
/// What the receiver says in every answer's body, which must never show in a listing.
const RECEIVER_SAYS: &str = "receiver-private-diagnostics-7f3a";
const DEADLINE: Duration = Duration::from_secs(30);

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
struct Heard {
    delivery_id: String,
    timestamp: String,
    /// `webhook-signature`, as sent.
    signatures: String,
    /// `X-Dossier-Signature`, as sent.
    dossier_signature: String,
    body: Vec<u8>,
}

/// An answer the receiver will give.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    /// Never answer: hold the request until the sender gives up.
    hang: bool,
}

/// A webhook receiver on the loopback: it answers the scripted answers in order, then `otherwise`,
/// always with [`RECEIVER_SAYS`] in the body.
struct Receiver {
    url: String,
    heard: Arc<Mutex<Vec<Heard>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    async fn start(otherwise: u16) -> Receiver {
        use poem::listener::{Acceptor, Listener};
        let heard: Arc<Mutex<Vec<Heard>>> = Arc::default();
        let script: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind");
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .expect("port");
        let (log, answers) = (Arc::clone(&heard), Arc::clone(&script));
        let endpoint = poem::endpoint::make(move |req: poem::Request| {
            let (log, answers) = (Arc::clone(&log), Arc::clone(&answers));
            async move {
                let header = |name: &str| {
                    req.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let mut seen = Heard {
                    delivery_id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signatures: header("webhook-signature"),
                    dossier_signature: header("X-Dossier-Signature"),
                    body: Vec::new(),
                };
                seen.body = req.into_body().into_vec().await.unwrap_or_default();
                log.lock().expect("lock").push(seen);
                let answer = answers.lock().expect("lock").pop_front().unwrap_or(Answer {
                    status: otherwise,
                    retry_after: None,
                    hang: false,
                });
                if answer.hang {
                    return std::future::pending::<poem::Response>().await;
                }
                let mut res = poem::Response::builder()
                    .status(poem::http::StatusCode::from_u16(answer.status).expect("status"));
                if let Some(after) = answer.retry_after {
                    res = res.header("Retry-After", after);
                }
                res.body(RECEIVER_SAYS)
            }
        });
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            heard,
            script,
        }
    }

    fn then(&self, status: u16, retry_after: Option<String>) {
        self.script.lock().expect("lock").push_back(Answer {
            status,
            retry_after,
            hang: false,
        });
    }

    /// The next request gets no answer at all.
    fn then_hang(&self) {
        self.script.lock().expect("lock").push_back(Answer {
            status: 0,
            retry_after: None,
            hang: true,
        });
    }

    fn heard(&self) -> Vec<Heard> {
        self.heard.lock().expect("lock").clone()
    }
}

/// `v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`, computed here from the specification,
/// not with the service's code.
fn expected_signature(key: &[u8], heard: &Heard) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(format!("{}.{}.", heard.delivery_id, heard.timestamp).as_bytes());
    mac.update(&heard.body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// `sha256=<hex HMAC-SHA256 of the body>`.
fn expected_dossier_signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A worker mailing the SMTP sink and alerting [`OPS`], one delivery at a time, on `schedule`.
fn deps(sink: &SmtpSink, schedule: WebhookRetrySchedule) -> OutboxDeps {
    let mut deps = deps_with(Some(sink.url()), std::env::temp_dir().join("unused"), 50);
    deps.settings.webhook_retry = schedule;
    deps.settings.alerts_email = Some(OPS.to_owned());
    deps.settings.batch_size = 1;
    deps.settings.concurrency = 1;
    deps
}

/// Ten attempts like the real schedule, with no wait between them.
fn no_waits() -> WebhookRetrySchedule {
    WebhookRetrySchedule {
        delays: vec![Duration::ZERO; 9],
        ..WebhookRetrySchedule::default()
    }
}

/// Steps the worker until nothing is due.
async fn work(app: &TestApp, deps: &OutboxDeps) {
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        assert!(
            tokio::time::Instant::now() < until,
            "the worker never idled"
        );
        match step(&app.store, deps).await {
            StepOutcome::Idle => return,
            StepOutcome::Worked => {}
            StepOutcome::Failed => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Registers a webhook for [`AGENCY`] and returns its id.
async fn new_webhook(app: &TestApp, admin: &str, url: &str, secret: &str) -> i64 {
    let res = register(
        app,
        Some(admin),
        &json!({"url": url, "secret": secret, "agency_code": AGENCY}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    body["id"].as_i64().expect("id")
}

async fn new_dossier(app: &TestApp) {
    app.create_valid_dossier().await;
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

async fn ok_json(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("json")
}

async fn get_webhook(app: &TestApp, admin: &str, id: i64) -> Value {
    ok_json(
        call(
            app,
            reqwest::Method::GET,
            &format!("/api/v1/admin/webhooks/{id}"),
            Some(admin),
            None,
        )
        .await,
    )
    .await
}

/// The deliveries listing of webhook `id` as raw text (to look for what must not be there) and JSON.
async fn deliveries(app: &TestApp, admin: &str, id: i64, query: &str) -> (String, Value) {
    let res = call(
        app,
        reqwest::Method::GET,
        &format!("/api/v1/admin/webhooks/{id}/deliveries{query}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("body");
    let json = serde_json::from_str(&text).expect("json");
    (text, json)
}

async fn enable(app: &TestApp, admin: &str, id: i64) -> Value {
    ok_json(
        call(
            app,
            reqwest::Method::POST,
            &format!("/api/v1/admin/webhooks/{id}/enable"),
            Some(admin),
            None,
        )
        .await,
    )
    .await
}

/// The audit entries `{kind}.{verb}` = `action` on `target`.
async fn audited(app: &TestApp, admin: &str, action: &str, target: &str) -> Vec<Value> {
    let page = ok_json(
        call(
            app,
            reqwest::Method::GET,
            "/api/v1/admin/audit?limit=500",
            Some(admin),
            None,
        )
        .await,
    )
    .await;
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == action && e["target"] == target)
        .cloned()
        .collect()
}

/// The webhook deliveries in the outbox for webhook `id`, oldest first.
async fn rows_of(app: &TestApp, id: i64) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("webhook"))
        .order_by_asc(outbox::Column::Id)
        .all(&app.store.read)
        .await
        .expect("rows")
        .into_iter()
        .filter(|r| r.payload["webhook_id"].as_i64() == Some(id))
        .collect()
}

/// Makes delivery `id` due now, as if its wait had passed.
async fn make_due(app: &TestApp, id: i64) {
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::NextAttemptAt,
            Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(outbox::Column::Id.eq(id))
        .exec(&app.store.write)
        .await
        .expect("update");
}

#[tokio::test]
async fn a_410_disables_the_webhook_at_once_stops_its_deliveries_and_enabling_brings_them_back() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink, no_waits());
    let receiver = Receiver::start(204).await;
    receiver.then(410, None);
    let id = new_webhook(
        &app,
        &admin,
        &receiver.url,
        "a-long-shared-secret-0123456789",
    )
    .await;
    let listed = ok_json(
        call(
            &app,
            reqwest::Method::GET,
            "/api/v1/admin/webhooks",
            Some(&admin),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(listed[0]["enabled"], true);
    assert_eq!(listed[0]["disabled_at"], Value::Null);
    new_dossier(&app).await;
    new_dossier(&app).await;

    work(&app, &deps).await;

    assert_eq!(receiver.heard().len(), 1, "nothing after the 410");
    let hook = get_webhook(&app, &admin, id).await;
    assert_eq!(hook["enabled"], false, "{hook}");
    assert_eq!(hook["active"], false, "{hook}");
    assert!(hook["disabled_at"].is_string(), "{hook}");
    assert!(
        hook["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("410")),
        "{hook}"
    );
    let rows = rows_of(&app, id).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, OutboxStatus::Failed, "{row:?}");
        assert!(
            row.last_error
                .as_deref()
                .is_some_and(|e| e.contains("disabled")),
            "{row:?}"
        );
    }
    assert_eq!(rows[0].attempts, 1);
    assert_eq!(rows[1].attempts, 0, "the pending one was stopped unsent");
    let (text, list) = deliveries(&app, &admin, id, "").await;
    assert!(!text.contains(RECEIVER_SAYS), "{text}");
    let attempts = list["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{list}");
    assert_eq!(attempts[0]["outcome"], "gone");
    assert_eq!(attempts[0]["http_status"], 410);
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["next_attempt_at"], Value::Null);
    let disabled = audited(&app, &admin, "webhook.disable", &format!("webhook:{id}")).await;
    assert_eq!(disabled.len(), 1, "{disabled:?}");
    assert_eq!(disabled[0]["actor"], "worker");
    assert_eq!(
        sink.count(),
        0,
        "a 410 is not an alert: retries did not run out"
    );

    // Disabled: a new event queues nothing for it.
    new_dossier(&app).await;
    work(&app, &deps).await;
    assert_eq!(rows_of(&app, id).await.len(), 2);
    assert_eq!(receiver.heard().len(), 1);

    let enabled = enable(&app, &admin, id).await;
    assert_eq!(enabled["enabled"], true);
    assert_eq!(enabled["disabled_reason"], Value::Null);
    let audit = audited(&app, &admin, "webhook.enable", &format!("webhook:{id}")).await;
    assert_eq!(audit.len(), 1);
    assert!(
        audit[0]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("key #"))
    );
    // Enabling an enabled webhook changes nothing and audits nothing.
    enable(&app, &admin, id).await;
    assert_eq!(
        audited(&app, &admin, "webhook.enable", &format!("webhook:{id}"))
            .await
            .len(),
        1
    );

    new_dossier(&app).await;
    work(&app, &deps).await;
    assert_eq!(receiver.heard().len(), 2, "deliveries are back");
    let rows = rows_of(&app, id).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].status, OutboxStatus::Done);
    let (_, list) = deliveries(&app, &admin, id, "").await;
    let attempts = list["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["outcome"], "delivered");
    assert_eq!(attempts[1]["http_status"], 204);
    assert_eq!(attempts[1]["delivery_status"], "done");
}

#[tokio::test]
async fn failed_attempts_follow_the_schedule_and_a_longer_retry_after_up_to_a_day() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let sink = SmtpSink::start().await.expect("sink");
    // The real schedule: 5 s, 5 min, 30 min, 2 h … with up to 10 % jitter.
    let deps = deps(&sink, WebhookRetrySchedule::default());
    let receiver = Receiver::start(204).await;
    let three_hours_on = (Utc::now() + chrono::Duration::hours(3)).trunc_subsecs(0);
    let in_3_hours = three_hours_on
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    receiver.then(500, None);
    receiver.then(503, Some("3600".to_owned()));
    receiver.then(503, Some(in_3_hours));
    receiver.then(503, Some((30 * 86_400).to_string()));
    receiver.then(429, Some("1".to_owned()));
    let id = new_webhook(
        &app,
        &admin,
        &receiver.url,
        "a-long-shared-secret-0123456789",
    )
    .await;
    new_dossier(&app).await;
    let row_id = rows_of(&app, id).await[0].id;

    // (lowest, highest) wait after each failed answer, in seconds; the third is an HTTP date, checked
    // against that date.
    let expected: [(i64, i64); 5] = [
        (5, 6),           // the first step, 5 s plus jitter
        (3600, 3601),     // Retry-After: 3600 beats the 5 min step
        (-1, 1),          // an HTTP date three hours ahead beats 30 min
        (86_400, 86_401), // 30 days asked, capped at the 24 h step
        (18_000, 19_801), // Retry-After: 1 is shorter than the 5 h step, which wins
    ];
    for (i, (low, high)) in expected.into_iter().enumerate() {
        let before = Utc::now();
        work(&app, &deps).await;
        let after = Utc::now();
        assert_eq!(receiver.heard().len(), i + 1, "attempt {}", i + 1);
        let row = outbox::Entity::find_by_id(row_id)
            .one(&app.store.read)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(row.status, OutboxStatus::Pending);
        let (from, to) = if i == 2 {
            (three_hours_on, three_hours_on)
        } else {
            (before, after)
        };
        assert!(
            row.next_attempt_at >= from + chrono::Duration::seconds(low)
                && row.next_attempt_at <= to + chrono::Duration::seconds(high),
            "attempt {}: next at {} (between {from} and {to}, then {low}..{high} s)",
            i + 1,
            row.next_attempt_at
        );
        // Not before then: the worker has nothing to do.
        assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
        assert_eq!(receiver.heard().len(), i + 1);
        make_due(&app, row_id).await;
    }
    work(&app, &deps).await;
    assert_eq!(receiver.heard().len(), 6);
    let delivery_ids: Vec<String> = receiver
        .heard()
        .into_iter()
        .map(|h| h.delivery_id)
        .collect();
    assert!(
        delivery_ids.iter().all(|d| *d == delivery_ids[0]),
        "one delivery id"
    );

    let (text, list) = deliveries(&app, &admin, id, "").await;
    assert!(!text.contains(RECEIVER_SAYS), "{text}");
    let attempts = list["attempts"].as_array().expect("attempts");
    let codes: Vec<i64> = attempts
        .iter()
        .map(|a| a["http_status"].as_i64().expect("code"))
        .collect();
    assert_eq!(codes, [500, 503, 503, 503, 429, 204]);
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(
        outcomes,
        [
            "failed",
            "failed",
            "failed",
            "failed",
            "failed",
            "delivered"
        ]
    );
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], n as i64 + 1);
        assert_eq!(a["outbox_id"], row_id);
        assert_eq!(a["delivery_id"], delivery_ids[0].as_str());
        assert!(
            a["attempted_at"]
                .as_str()
                .is_some_and(|t| t.ends_with("+07:00"))
        );
        assert_eq!(a["next_attempt_at"].is_string(), n < 5, "{a}");
    }
    assert_eq!(
        attempts[0]["error"], "the receiver answered HTTP 500",
        "our words, not the receiver's"
    );
    assert_eq!(get_webhook(&app, &admin, id).await["enabled"], true);
}

#[tokio::test]
async fn when_retries_run_out_the_webhook_is_disabled_and_the_operators_are_e_mailed_once_a_day() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink, no_waits());
    let down = Receiver::start(500).await;
    let also_down = Receiver::start(502).await;
    let first = new_webhook(&app, &admin, &down.url, "a-long-shared-secret-0123456789").await;
    let second = new_webhook(
        &app,
        &admin,
        &also_down.url,
        "another-long-shared-secret-987",
    )
    .await;
    new_dossier(&app).await;

    work(&app, &deps).await;

    assert_eq!(down.heard().len(), 10, "ten attempts in all");
    assert_eq!(also_down.heard().len(), 10);
    for id in [first, second] {
        let hook = get_webhook(&app, &admin, id).await;
        assert_eq!(hook["enabled"], false, "{hook}");
        assert!(
            hook["disabled_reason"]
                .as_str()
                .is_some_and(|r| r.contains("10 attempts")),
            "{hook}"
        );
        let rows = rows_of(&app, id).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, OutboxStatus::Failed);
        assert_eq!(rows[0].attempts, 10);
    }
    let alerts = subjects_to(&sink, OPS);
    assert_eq!(alerts.len(), 2, "one per webhook: {alerts:?}");
    for id in [first, second] {
        assert!(
            alerts.iter().any(|s| s.contains(&format!("Webhook {id} "))),
            "{alerts:?}"
        );
    }
    let mail = String::from_utf8_lossy(&sink.messages()[0].data).into_owned();
    assert!(!mail.contains("secret"), "no secret in the alert");

    // Enabled again and failing again the same day: disabled again, and no second e-mail.
    enable(&app, &admin, first).await;
    new_dossier(&app).await;
    work(&app, &deps).await;
    assert_eq!(down.heard().len(), 20);
    assert_eq!(also_down.heard().len(), 10, "the other one stays disabled");
    assert_eq!(get_webhook(&app, &admin, first).await["enabled"], false);
    assert_eq!(
        subjects_to(&sink, OPS).len(),
        2,
        "at most once a day per webhook"
    );
    let unsent = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("email"))
        .filter(outbox::Column::Status.ne(OutboxStatus::Done))
        .all(&app.store.read)
        .await
        .expect("rows");
    assert!(unsent.is_empty(), "{unsent:?}");

    let target = format!("webhook:{first}");
    let disabled = audited(&app, &admin, "webhook.disable", &target).await;
    assert_eq!(disabled.len(), 2);
    assert!(disabled.iter().all(|e| e["actor"] == "worker"));
    assert_eq!(
        audited(&app, &admin, "webhook.enable", &target).await.len(),
        1
    );
    assert_eq!(
        audited(
            &app,
            &admin,
            "webhook.disable",
            &format!("webhook:{second}")
        )
        .await
        .len(),
        1
    );

    // Twenty attempts, paged like the other admin lists.
    let (text, page) = deliveries(&app, &admin, first, "?limit=15").await;
    assert!(!text.contains(RECEIVER_SAYS), "{text}");
    assert_eq!(page["attempts"].as_array().map(Vec::len), Some(15));
    let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
    let (_, rest) = deliveries(&app, &admin, first, &format!("?after={cursor}&limit=15")).await;
    let rest_attempts = rest["attempts"].as_array().expect("attempts");
    assert_eq!(rest_attempts.len(), 5);
    assert_eq!(rest_attempts[4]["attempt"], 10);
    assert_eq!(rest_attempts[4]["http_status"], 500);
    assert_eq!(rest_attempts[4]["delivery_status"], "failed");
    let end = rest["next_cursor"].as_str().expect("cursor").to_owned();
    let (_, empty) = deliveries(&app, &admin, first, &format!("?after={end}")).await;
    assert_eq!(empty["attempts"].as_array().map(Vec::len), Some(0));
    assert_eq!(empty["next_cursor"], end.as_str());
    let (_, theirs) = deliveries(&app, &admin, second, "").await;
    assert_eq!(theirs["attempts"].as_array().map(Vec::len), Some(10));
    assert!(
        theirs["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .all(|a| a["http_status"] == 502)
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_previous_one_for_a_day_and_alone_after() {
    const OLD: &str = "the-first-shared-secret-2026";
    let new_key: [u8; 24] = *b"rotated-key-bytes-123456";
    let new_secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(new_key)
    );
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink, no_waits());
    let receiver = Receiver::start(204).await;
    let id = new_webhook(&app, &admin, &receiver.url, OLD).await;

    let res = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/admin/webhooks/{id}/rotate-secret"),
        Some(&admin),
        Some(json!({"secret": new_secret})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("body");
    assert!(!text.contains(OLD) && !text.contains(&new_secret), "{text}");
    let rotated: Value = serde_json::from_str(&text).expect("json");
    let until = chrono::DateTime::parse_from_rfc3339(
        rotated["previous_key_expires_at"].as_str().expect("expiry"),
    )
    .expect("time");
    let in_a_day = Utc::now() + chrono::Duration::hours(24);
    assert!(
        (until.to_utc() - in_a_day).num_seconds().abs() < 60,
        "{rotated}"
    );
    let listed = call(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/webhooks",
        Some(&admin),
        None,
    )
    .await
    .text()
    .await
    .expect("body");
    assert!(
        !listed.contains(OLD) && !listed.contains(&new_secret) && !listed.contains("secret"),
        "{listed}"
    );
    let audit = audited(&app, &admin, "webhook.rotate", &format!("webhook:{id}")).await;
    assert_eq!(audit.len(), 1);
    let audit_text = audit[0].to_string();
    assert!(!audit_text.contains(OLD) && !audit_text.contains(&new_secret));

    new_dossier(&app).await;
    work(&app, &deps).await;
    let heard = receiver.heard();
    assert_eq!(heard.len(), 1);
    let within_the_day: Vec<&str> = heard[0].signatures.split(' ').collect();
    assert_eq!(
        within_the_day,
        [
            expected_signature(&new_key, &heard[0]).as_str(),
            expected_signature(OLD.as_bytes(), &heard[0]).as_str()
        ],
        "both secrets sign, the new one first"
    );
    assert_eq!(
        heard[0].dossier_signature,
        expected_dossier_signature(new_secret.as_bytes(), &heard[0].body)
    );

    // A day later (the expiry moved into the past): only the new secret signs.
    webhook::Entity::update_many()
        .col_expr(
            webhook::Column::PreviousSecretExpiresAt,
            Expr::value(Some(Utc::now() - chrono::Duration::seconds(1))),
        )
        .filter(webhook::Column::Id.eq(id))
        .exec(&app.store.write)
        .await
        .expect("update");
    assert_eq!(
        get_webhook(&app, &admin, id).await["previous_key_expires_at"],
        Value::Null
    );
    new_dossier(&app).await;
    work(&app, &deps).await;
    let heard = receiver.heard();
    assert_eq!(heard.len(), 2);
    assert_eq!(heard[1].signatures, expected_signature(&new_key, &heard[1]));
}

#[tokio::test]
async fn refused_webhook_requests_answer_the_error_envelope_and_change_nothing() {
    const SECRET: &str = "a-long-shared-secret-0123456789";
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let agency_key = app.key(Role::Agency, None, Some(AGENCY)).await;
    let receiver = Receiver::start(204).await;
    let id = new_webhook(&app, &admin, &receiver.url, SECRET).await;
    let rotate = format!("/api/v1/admin/webhooks/{id}/rotate-secret");
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;

    for (body, field) in [
        (json!({"secret": "short"}), "secret"),
        (json!({"secret": "x".repeat(257)}), "secret"),
        (json!({}), "secret"),
    ] {
        let res = call(&app, post.clone(), &rotate, Some(&admin), Some(body)).await;
        assert_eq!(res.status(), 422);
        let (code, fields) = tests::error_of(res).await;
        assert_eq!(code, "validation_failed");
        assert_eq!(fields, vec![field]);
    }
    for (method, path, body) in [
        (
            post.clone(),
            "/api/v1/admin/webhooks/999999/rotate-secret",
            Some(json!({"secret": "another-long-secret-value"})),
        ),
        (post.clone(), "/api/v1/admin/webhooks/999999/enable", None),
        (
            get.clone(),
            "/api/v1/admin/webhooks/999999/deliveries",
            None,
        ),
        (get.clone(), "/api/v1/admin/webhooks/999999", None),
    ] {
        let res = call(&app, method, path, Some(&admin), body).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(tests::error_of(res).await.0, "not_found", "{path}");
    }
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?after=abc", "after"),
    ] {
        let res = call(
            &app,
            get.clone(),
            &format!("/api/v1/admin/webhooks/{id}/deliveries{query}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(res.status(), 422, "{query}");
        assert_eq!(tests::error_of(res).await.1, vec![field], "{query}");
    }
    let paths = [
        (
            post.clone(),
            rotate.clone(),
            Some(json!({"secret": "another-long-secret-value"})),
        ),
        (
            post.clone(),
            format!("/api/v1/admin/webhooks/{id}/enable"),
            None,
        ),
        (
            get.clone(),
            format!("/api/v1/admin/webhooks/{id}/deliveries"),
            None,
        ),
        (get.clone(), format!("/api/v1/admin/webhooks/{id}"), None),
    ];
    for (method, path, body) in &paths {
        let res = call(&app, method.clone(), path, Some(&agency_key), body.clone()).await;
        assert_eq!(res.status(), 403, "{path}");
        assert_eq!(tests::error_of(res).await.0, "forbidden", "{path}");
        let res = call(&app, method.clone(), path, None, body.clone()).await;
        assert_eq!(res.status(), 401, "{path}");
        assert_eq!(tests::error_of(res).await.0, "unauthorized", "{path}");
    }

    let stored = webhook::Entity::find_by_id(id)
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("webhook");
    assert_eq!(stored.secret, SECRET, "the secret is unchanged");
    assert_eq!(stored.previous_secret, None);
    assert!(stored.active);
    for action in ["webhook.rotate", "webhook.enable"] {
        assert!(
            audited(&app, &admin, action, &format!("webhook:{id}"))
                .await
                .is_empty(),
            "{action}"
        );
    }
}

#[tokio::test]
async fn a_4xx_other_than_410_is_retried_on_the_schedule_and_the_webhook_stays_enabled() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let sink = SmtpSink::start().await.expect("sink");
    // The real schedule: 5 s, 5 min, 30 min … with up to 10 % jitter.
    let deps = deps(&sink, WebhookRetrySchedule::default());
    let receiver = Receiver::start(204).await;
    receiver.then(400, None);
    receiver.then(404, None);
    receiver.then(422, None);
    let id = new_webhook(
        &app,
        &admin,
        &receiver.url,
        "a-long-shared-secret-0123456789",
    )
    .await;
    new_dossier(&app).await;
    let row_id = rows_of(&app, id).await[0].id;

    // (lowest, highest) wait after each refusal, in seconds: the schedule's steps plus jitter.
    let expected: [(i64, i64); 3] = [(5, 6), (300, 331), (1800, 1981)];
    for (i, (low, high)) in expected.into_iter().enumerate() {
        let before = Utc::now();
        work(&app, &deps).await;
        let after = Utc::now();
        assert_eq!(receiver.heard().len(), i + 1, "attempt {}", i + 1);
        let row = outbox::Entity::find_by_id(row_id)
            .one(&app.store.read)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(row.status, OutboxStatus::Pending, "attempt {}", i + 1);
        assert_eq!(row.attempts, i as i32 + 1);
        assert!(
            row.next_attempt_at >= before + chrono::Duration::seconds(low)
                && row.next_attempt_at <= after + chrono::Duration::seconds(high),
            "attempt {}: next at {} (between {before} and {after}, then {low}..{high} s)",
            i + 1,
            row.next_attempt_at
        );
        assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
        assert_eq!(get_webhook(&app, &admin, id).await["enabled"], true);
        make_due(&app, row_id).await;
    }
    work(&app, &deps).await;
    assert_eq!(receiver.heard().len(), 4);

    let (text, list) = deliveries(&app, &admin, id, "").await;
    assert!(!text.contains(RECEIVER_SAYS), "{text}");
    let attempts = list["attempts"].as_array().expect("attempts");
    let codes: Vec<i64> = attempts
        .iter()
        .map(|a| a["http_status"].as_i64().expect("code"))
        .collect();
    assert_eq!(codes, [400, 404, 422, 204]);
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(outcomes, ["failed", "failed", "failed", "delivered"]);
    assert_eq!(attempts[1]["error"], "the receiver answered HTTP 404");
    let hook = get_webhook(&app, &admin, id).await;
    assert_eq!(hook["enabled"], true, "only a 410 disables at once: {hook}");
    assert_eq!(hook["disabled_reason"], Value::Null);
    assert_eq!(sink.count(), 0, "no alert");
}

#[tokio::test]
async fn a_receiver_that_only_answers_4xx_runs_the_retries_out_and_the_operators_are_e_mailed_once()
{
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink, no_waits());
    let refusing = Receiver::start(403).await;
    let id = new_webhook(
        &app,
        &admin,
        &refusing.url,
        "a-long-shared-secret-0123456789",
    )
    .await;
    new_dossier(&app).await;
    new_dossier(&app).await;

    work(&app, &deps).await;

    // The first delivery ran its ten attempts out and disabled the webhook, which stopped the second.
    assert_eq!(refusing.heard().len(), 10, "ten attempts, no more");
    let hook = get_webhook(&app, &admin, id).await;
    assert_eq!(hook["enabled"], false, "{hook}");
    assert!(
        hook["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("10 attempts")),
        "{hook}"
    );
    let rows = rows_of(&app, id).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.status == OutboxStatus::Failed),
        "{rows:?}"
    );
    assert_eq!(rows[0].attempts, 10);
    assert_eq!(rows[1].attempts, 0, "stopped unsent");
    let alerts = subjects_to(&sink, OPS);
    assert_eq!(alerts.len(), 1, "one alert: {alerts:?}");
    assert!(alerts[0].contains(&format!("Webhook {id} ")), "{alerts:?}");
    let (_, list) = deliveries(&app, &admin, id, "").await;
    let attempts = list["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 10);
    assert!(attempts.iter().all(|a| a["http_status"] == 403), "{list}");
    assert_eq!(attempts[9]["next_attempt_at"], Value::Null);

    // Nothing more happens: no further attempt, no second alert.
    work(&app, &deps).await;
    assert_eq!(refusing.heard().len(), 10);
    assert_eq!(subjects_to(&sink, OPS).len(), 1);
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_in_time_is_a_timed_out_attempt_and_e_mail_goes_out_meanwhile()
 {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let sink = SmtpSink::start().await.expect("sink");
    let receiver = Receiver::start(204).await;
    receiver.then_hang();
    let id = new_webhook(
        &app,
        &admin,
        &receiver.url,
        "a-long-shared-secret-0123456789",
    )
    .await;
    new_dossier(&app).await;
    let row_id = rows_of(&app, id).await[0].id;

    // The worker's own loops, one per lane, with a two-second webhook timeout and one second
    // between webhook attempts; the overall deadline of an attempt is far beyond both.
    let timeout = Duration::from_secs(2);
    let mut settings = deps(&sink, no_waits()).settings;
    settings.webhook_timeout = timeout;
    settings.attempt_timeout = Duration::from_secs(60);
    settings.webhook_retry = WebhookRetrySchedule {
        delays: vec![Duration::from_secs(1); 9],
        jitter_percent: 0,
        ..WebhookRetrySchedule::default()
    };
    settings.poll_interval = Duration::from_millis(50);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker::run(
        app.store.clone(),
        worker::WorkerSettings {
            idle_interval: Duration::from_secs(60),
            outbox: settings,
            carrier: None,
            alerts_email: None,
        },
        stopped,
    ));

    // The receiver holds the first attempt.
    let until = tokio::time::Instant::now() + DEADLINE;
    while receiver.heard().is_empty() {
        assert!(tokio::time::Instant::now() < until, "no webhook attempt");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let held_since = tokio::time::Instant::now();

    // Meanwhile e-mail goes out: the webhook lane's wait holds back nothing else.
    let keys: HashSet<String> = queue_emails(&app.store, "meanwhile", 3)
        .await
        .expect("queue")
        .into_iter()
        .collect();
    let sent = || -> HashSet<String> {
        sink.messages()
            .iter()
            .filter_map(|m| message_key(&m.data))
            .filter(|k| keys.contains(k))
            .collect()
    };
    while sent().len() < 3 && held_since.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent_within = held_since.elapsed();
    let row = outbox::Entity::find_by_id(row_id)
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(
        row.attempts, 0,
        "the webhook attempt had already ended: {row:?}"
    );
    assert!(
        sent() == keys && sent_within < timeout,
        "{} of 3 e-mails went out in {sent_within:?} while the webhook hung",
        sent().len()
    );

    // The hung attempt ends at the timeout as a timed-out attempt, retried a second later, and the
    // retry is delivered.
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let row = outbox::Entity::find_by_id(row_id)
            .one(&app.store.read)
            .await
            .expect("read")
            .expect("row");
        if row.status == OutboxStatus::Done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "not delivered: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        held_since.elapsed() >= timeout,
        "the retry came before the timeout"
    );
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the worker stops")
        .expect("the worker ends cleanly");

    assert_eq!(receiver.heard().len(), 2);
    let (_, list) = deliveries(&app, &admin, id, "").await;
    let attempts = list["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{list}");
    assert_eq!(attempts[0]["outcome"], "timeout", "{list}");
    assert_eq!(attempts[0]["http_status"], Value::Null);
    assert_eq!(attempts[0]["error"], "the receiver did not answer in time");
    assert!(attempts[0]["next_attempt_at"].is_string(), "{list}");
    assert_eq!(attempts[1]["outcome"], "delivered");
    assert_eq!(attempts[1]["http_status"], 204);
    assert_eq!(get_webhook(&app, &admin, id).await["enabled"], true);
}
