//! Notifications and integrations: e-mails over a real SMTP conversation with a sink started here,
//! signed webhooks to a receiver started here, and the outbox's promises — nothing lost when the mail
//! server is down or a worker dies between claim and send, nothing sent twice, failures kept for the
//! administrators. The worker is driven step by step; waits poll with a deadline.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use domain::ops::access::Actor;
use domain::ops::outbox::RetryPolicy;
use domain::ops::{NewEvent, append_event};
use entity::enums::{DossierStatus, EventKind, EventSource, LegDirection, OutboxStatus, Role};
use entity::{agency, dossier, dossier_event, leg, outbox};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use tests::smtp_sink::{ReceivedMail, SmtpSink};
use tests::{TestApp, valid_request};
use worker::StepOutcome;
use worker::mail::MailSettings;
use worker::outbox::{OutboxDeps, OutboxSettings, step};

use super::postal::{AGENCY, Keys, confirm, draft, picked_up, to_result_with_post};

const FROM: &str = "Dịch vụ hồ sơ qua bưu chính <no-reply@dossier.test>";
const DEADLINE: Duration = Duration::from_secs(15);

/// A worker for `app` sending mail to `smtp_url` (or `.eml` files into `dir`), retrying within
/// milliseconds so that tests never wait for a backoff (webhooks: ten attempts, 1 ms apart).
pub(super) fn deps_with(
    smtp_url: Option<String>,
    dir: std::path::PathBuf,
    max_attempts: i32,
) -> OutboxDeps {
    OutboxDeps::new(&OutboxSettings {
        mail: MailSettings {
            smtp_url: smtp_url.map(SecretString::from),
            from: FROM.to_owned(),
            dir,
            pool_size: 4,
            timeout: Duration::from_secs(5),
        },
        public_base_url: "https://hoso.example.vn".to_owned(),
        retry: RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_attempts,
        },
        webhook_retry: domain::webhook_retry::WebhookRetrySchedule {
            delays: vec![Duration::from_millis(1); 9],
            ..Default::default()
        },
        batch_size: 50,
        concurrency: 8,
        lease: Duration::from_secs(60),
        webhook_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(10),
        ..OutboxSettings::default()
    })
    .expect("set up the outbox worker")
}

fn deps(sink: &SmtpSink) -> OutboxDeps {
    deps_with(Some(sink.url()), std::env::temp_dir().join("unused"), 50)
}

/// E-mails and webhook deliveries not yet delivered (or given up). Carrier orders are left out: these
/// tests' worker has no carrier, so it does not claim them.
async fn pending(app: &TestApp) -> u64 {
    outbox::Entity::find()
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::Kind.is_in(["email", "webhook"]))
        .count(&app.store.read)
        .await
        .expect("count")
}

/// Steps the worker until the outbox holds nothing pending, polling with a deadline.
async fn deliver_all(app: &TestApp, deps: &OutboxDeps) {
    let until = tokio::time::Instant::now() + DEADLINE;
    while pending(app).await > 0 {
        assert!(
            tokio::time::Instant::now() < until,
            "the outbox did not drain in time"
        );
        if step(&app.store, deps).await != StepOutcome::Worked {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A pickup request made through the API; `extra` is merged into the example body.
async fn new_dossier(app: &TestApp, extra: Value) -> (String, i64) {
    let mut body = valid_request();
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let res = app.post_dossier(&body).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    let code = created["code"].as_str().expect("code").to_owned();
    let id = dossier::Entity::find()
        .filter(dossier::Column::Code.eq(code.as_str()))
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("dossier")
        .id;
    (code, id)
}

/// Moves a dossier to `to` and appends the event, in one transaction, the way the use-cases do.
/// `prepare` changes the dossier and its legs first (inside the same transaction).
async fn record(
    app: &TestApp,
    dossier_id: i64,
    kind: EventKind,
    to: DossierStatus,
    leg_dir: Option<LegDirection>,
    note: Option<&str>,
) -> dossier_event::Model {
    let txn = app.store.begin().await.expect("begin");
    let d = dossier::Entity::find_by_id(dossier_id)
        .one(&txn)
        .await
        .expect("read")
        .expect("dossier");
    let from = d.status;
    let mut active: dossier::ActiveModel = d.into();
    active.status = Set(to);
    if kind == EventKind::ReceivedByAgency {
        active.filed_at = Set(Some("2026-11-23T03:05:00Z".parse().expect("time")));
        active.result_due_at = Set(Some(domain::sla::end_of_local_day(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 4).expect("date"),
        )));
    }
    active.update(&txn).await.expect("update");
    let event = append_event(
        &txn,
        dossier_id,
        &Actor::System,
        NewEvent {
            at: Utc::now(),
            kind,
            source: EventSource::System,
            from_status: Some(from),
            to_status: Some(to),
            leg: leg_dir,
            location: None,
            note: note.map(str::to_owned),
        },
    )
    .await
    .expect("append");
    txn.commit().await.expect("commit");
    event
}

async fn set_failed_notices(app: &TestApp, dossier_id: i64, notices: i32) {
    leg::Entity::update_many()
        .col_expr(leg::Column::FailedAttempts, Expr::value(notices))
        .col_expr(leg::Column::ItemCode, Expr::value("EB000717595VN"))
        .filter(leg::Column::DossierId.eq(dossier_id))
        .filter(leg::Column::Direction.eq(LegDirection::Outbound))
        .exec(&app.store.write)
        .await
        .expect("update leg");
}

pub(super) fn parse(mail: &ReceivedMail) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(&mail.data)
        .expect("a parseable message")
}

fn header_block(mail: &ReceivedMail) -> String {
    let raw = String::from_utf8_lossy(&mail.data).into_owned();
    raw.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

fn by_message_id(mails: &[ReceivedMail]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in mails {
        let id = parse(m).message_id().expect("Message-ID").to_owned();
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

#[tokio::test]
async fn the_citizen_is_told_over_smtp_in_vietnamese_when_the_dossier_reaches_the_agency() {
    let sink = SmtpSink::start().await.expect("sink");
    let app = TestApp::spawn().await;
    let deps = deps(&sink);
    let (code, id) = new_dossier(&app, json!({})).await;
    let event = record(
        &app,
        id,
        EventKind::ReceivedByAgency,
        DossierStatus::ReceivedByAgency,
        Some(LegDirection::Inbound),
        None,
    )
    .await;
    deliver_all(&app, &deps).await;

    let mails = sink.wait_for(1, DEADLINE).await;
    assert_eq!(mails.len(), 1, "one e-mail for one event");
    let mail = &mails[0];
    assert_eq!(mail.mail_from, "no-reply@dossier.test");
    assert_eq!(mail.rcpt_to, vec!["an@example.vn".to_owned()]);

    // Headers travel as 7-bit ASCII; the Vietnamese subject is RFC 2047-encoded and decodes exactly.
    let headers = header_block(mail);
    assert!(headers.is_ascii(), "raw headers must be ASCII:\n{headers}");
    assert!(
        headers.to_ascii_lowercase().contains("subject: =?utf-8?"),
        "{headers}"
    );
    let msg = parse(mail);
    assert_eq!(
        msg.subject(),
        Some(
            format!("Hồ sơ {code} đã được tiếp nhận tại Ủy ban nhân dân phường Hoàn Kiếm").as_str()
        )
    );
    assert_eq!(
        msg.message_id(),
        Some(format!("dossier-event-{}-citizen@dossier.test", event.id).as_str())
    );
    let from = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("no-reply@dossier.test"));
    assert_eq!(from.name(), Some("Dịch vụ hồ sơ qua bưu chính"));
    let to = msg.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("an@example.vn"));
    assert_eq!(to.name(), Some("Nguyễn Văn An"));

    // Plain text and HTML, saying the same: the legal filing time and the result's due date.
    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(msg.html_body_count(), 1);
    let text = msg.body_text(0).expect("text part").into_owned();
    let html = msg.body_html(0).expect("html part").into_owned();
    for part in [&text, &html] {
        assert!(part.contains("Kính gửi Ông/Bà Nguyễn Văn An"), "{part}");
        assert!(part.contains("Thời điểm nộp hồ sơ"), "{part}");
        assert!(part.contains("10:05 ngày 23/11/2026"), "{part}");
        assert!(part.contains("Ngày hẹn trả kết quả"), "{part}");
        assert!(part.contains("04/12/2026"), "{part}");
        assert!(
            part.contains(&format!("https://hoso.example.vn/t/{code}")),
            "{part}"
        );
    }
    assert!(html.contains("<a href=\"https://hoso.example.vn/t/"));

    // No more personal data than the citizen gave us about themselves and needs here.
    let raw = String::from_utf8_lossy(&mail.data);
    for secret in ["001090012345", "0912345678", "Tràng Tiền"] {
        assert!(!raw.contains(secret) && !text.contains(secret) && !html.contains(secret));
    }

    // Delivered once: another step sends nothing more.
    assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn signing_a_handover_record_e_mails_the_filing_time_through_the_real_endpoints() {
    let sink = SmtpSink::start().await.expect("sink");
    let app = TestApp::spawn().await;
    let deps = deps(&sink);
    let keys = Keys::new(&app).await;
    let (code, _item) = picked_up(&app, &keys.postal).await;
    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    deliver_all(&app, &deps).await;

    let mails = sink.wait_for(1, DEADLINE).await;
    let receipts: Vec<_> = mails
        .iter()
        .filter(|m| {
            parse(m)
                .subject()
                .is_some_and(|s| s.contains("đã được tiếp nhận tại"))
        })
        .collect();
    assert_eq!(receipts.len(), 1, "exactly one receipt e-mail");
    let msg = parse(receipts[0]);
    let text = msg.body_text(0).expect("text").into_owned();
    let shown: Value = app
        .get_dossier(&code, Some(&keys.agency))
        .await
        .json()
        .await
        .expect("dossier");
    let filed_at =
        chrono::DateTime::parse_from_rfc3339(shown["filed_at"].as_str().expect("filed_at"))
            .expect("time");
    let due = chrono::DateTime::parse_from_rfc3339(
        shown["result_due_at"].as_str().expect("result_due_at"),
    )
    .expect("time");
    assert!(
        text.contains(&filed_at.format("%H:%M ngày %d/%m/%Y").to_string()),
        "{text}"
    );
    assert!(text.contains(&due.format("%d/%m/%Y").to_string()), "{text}");
}

#[tokio::test]
async fn a_dossier_in_english_gets_english_mail_and_every_notice_kind_reaches_the_citizen() {
    let sink = SmtpSink::start().await.expect("sink");
    let app = TestApp::spawn().await;
    let deps = deps(&sink);
    let (code, id) = new_dossier(&app, json!({"language": "en"})).await;
    record(
        &app,
        id,
        EventKind::SupplementRequested,
        DossierStatus::SupplementRequested,
        None,
        Some("Bản sao giấy khai sinh <có chứng thực>"),
    )
    .await;
    record(
        &app,
        id,
        EventKind::ResultReady,
        DossierStatus::ResultReady,
        None,
        None,
    )
    .await;
    record(
        &app,
        id,
        EventKind::OutForDelivery,
        DossierStatus::OutForDelivery,
        Some(LegDirection::Outbound),
        None,
    )
    .await;
    set_failed_notices(&app, id, 1).await;
    record(
        &app,
        id,
        EventKind::DeliveryFailed,
        DossierStatus::DeliveryFailed,
        Some(LegDirection::Outbound),
        Some("notice 1: nobody at home"),
    )
    .await;
    set_failed_notices(&app, id, 2).await;
    record(
        &app,
        id,
        EventKind::DeliveryFailed,
        DossierStatus::DeliveryFailed,
        Some(LegDirection::Outbound),
        Some("notice 2: nobody at home"),
    )
    .await;
    // Events that tell the citizen nothing new send nothing.
    record(
        &app,
        id,
        EventKind::Departed,
        DossierStatus::DeliveryFailed,
        Some(LegDirection::Outbound),
        None,
    )
    .await;
    deliver_all(&app, &deps).await;

    let mut mails = sink.wait_for(5, DEADLINE).await;
    // Sent concurrently: put them back in the order of their events.
    mails.sort_by_key(|m| {
        parse(m)
            .message_id()
            .and_then(|id| id.strip_prefix("dossier-event-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|n| n.parse::<i64>().ok())
    });
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| parse(m).subject().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        subjects,
        vec![
            format!("Dossier {code}: supplementary documents requested"),
            format!("Dossier {code}: the result is ready"),
            format!("Dossier {code}: your result is out for delivery"),
            format!("Dossier {code}: delivery failed (notice 1)"),
            format!("Dossier {code}: delivery failed (notice 2)"),
        ]
    );
    let body = |i: usize| {
        let m = parse(&mails[i]);
        (
            m.body_text(0).unwrap_or_default().into_owned(),
            m.body_html(0).unwrap_or_default().into_owned(),
        )
    };
    // Which supplements: the agency's words, escaped in HTML.
    let (text, html) = body(0);
    assert!(text.contains("Bản sao giấy khai sinh <có chứng thực>"));
    assert!(html.contains("Bản sao giấy khai sinh &lt;có chứng thực&gt;"));
    assert!(text.contains(&format!("https://hoso.example.vn/t/{code}?lang=en")));
    // First notice: what to do and from when; second notice: the result goes back to the agency.
    let (text, _) = body(3);
    assert!(text.contains("The post will try again from "), "{text}");
    assert!(text.contains("nobody at home"), "{text}");
    assert!(!text.contains("notice 1:"), "{text}");
    let (text, _) = body(4);
    assert!(
        text.contains("the result goes back to Ủy ban nhân dân phường Hoàn Kiếm"),
        "{text}"
    );
}

#[tokio::test]
async fn delivery_tells_the_citizen_and_the_agency_without_the_citizens_details() {
    let sink = SmtpSink::start().await.expect("sink");
    let app = TestApp::spawn().await;
    let deps = deps(&sink);
    agency::Entity::update_many()
        .col_expr(
            agency::Column::Email,
            Expr::value("motcua@hoankiem.example.vn"),
        )
        .filter(agency::Column::Code.eq(AGENCY))
        .exec(&app.store.write)
        .await
        .expect("agency e-mail");
    let (code, id) = new_dossier(&app, json!({})).await;
    set_failed_notices(&app, id, 0).await;
    let event = record(
        &app,
        id,
        EventKind::Delivered,
        DossierStatus::Delivered,
        Some(LegDirection::Outbound),
        None,
    )
    .await;
    deliver_all(&app, &deps).await;

    let mails = sink.wait_for(2, DEADLINE).await;
    assert_eq!(mails.len(), 2);
    let to_agency = mails
        .iter()
        .find(|m| m.rcpt_to == ["motcua@hoankiem.example.vn"])
        .expect("the agency's e-mail");
    let to_citizen = mails
        .iter()
        .find(|m| m.rcpt_to == ["an@example.vn"])
        .expect("the citizen's e-mail");
    let agency_msg = parse(to_agency);
    assert_eq!(
        agency_msg.subject(),
        Some(format!("Hồ sơ {code}: kết quả đã được giao cho người nộp").as_str())
    );
    assert_eq!(
        agency_msg.message_id(),
        Some(format!("dossier-event-{}-agency@dossier.test", event.id).as_str())
    );
    let raw = String::from_utf8_lossy(&to_agency.data);
    let text = agency_msg.body_text(0).unwrap_or_default().into_owned();
    for personal in [
        "Nguyễn Văn An",
        "an@example.vn",
        "0912345678",
        "001090012345",
    ] {
        assert!(
            !text.contains(personal) && !raw.contains(personal),
            "{personal}"
        );
    }
    assert!(text.contains("EB000717595VN"));
    assert_eq!(
        parse(to_citizen).subject(),
        Some(format!("Hồ sơ {code}: đã giao kết quả").as_str())
    );
}

#[tokio::test]
async fn with_the_smtp_server_down_every_message_arrives_once_it_is_back_and_none_twice() {
    let sink = SmtpSink::start().await.expect("sink");
    let app = TestApp::spawn().await;
    let deps = deps(&sink);
    sink.stop().await;

    let mut expected = HashSet::new();
    for _ in 0..3 {
        let (_, id) = new_dossier(&app, json!({})).await;
        let e = record(
            &app,
            id,
            EventKind::ResultReady,
            DossierStatus::ResultReady,
            None,
            None,
        )
        .await;
        expected.insert(format!("dossier-event-{}-citizen@dossier.test", e.id));
    }
    // Down: every attempt fails, is counted and rescheduled; nothing is lost or given up.
    for _ in 0..3 {
        let until = tokio::time::Instant::now() + DEADLINE;
        while step(&app.store, &deps).await != StepOutcome::Worked {
            assert!(tokio::time::Instant::now() < until);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let rows = outbox::Entity::find()
        .all(&app.store.read)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row.status, OutboxStatus::Pending);
        assert!(row.attempts >= 1, "{row:?}");
        assert_eq!(row.last_error.as_deref(), Some("SMTP connection failed"));
        assert!(row.locked_by.is_none());
    }
    assert_eq!(sink.count(), 0);

    // Up again on the same port: everything arrives, once.
    sink.restart().await.expect("restart");
    deliver_all(&app, &deps).await;
    for _ in 0..3 {
        assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
    }
    let mails = sink.messages();
    let seen = by_message_id(&mails);
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    let rows = outbox::Entity::find()
        .all(&app.store.read)
        .await
        .expect("rows");
    assert!(
        rows.iter()
            .all(|r| r.status == OutboxStatus::Done && r.done_at.is_some())
    );
}

#[tokio::test]
async fn a_worker_that_dies_between_claim_and_send_loses_no_message() {
    let sink = SmtpSink::start().await.expect("sink");
    let app = TestApp::spawn().await;
    let deps = deps(&sink);
    let mut expected = HashSet::new();
    for _ in 0..4 {
        let (_, id) = new_dossier(&app, json!({})).await;
        let e = record(
            &app,
            id,
            EventKind::OutForDelivery,
            DossierStatus::OutForDelivery,
            Some(LegDirection::Outbound),
            None,
        )
        .await;
        expected.insert(format!("dossier-event-{}-citizen@dossier.test", e.id));
    }
    // A worker claims the batch and dies before sending anything.
    let lease = Duration::from_millis(300);
    let claimed = domain::ops::outbox::claim_batch(&app.store, "doomed-worker", 100, lease)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 4);
    drop(claimed);
    // While its lease holds, nobody else takes the rows.
    assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
    assert_eq!(sink.count(), 0);
    // Once it has run out, the next claim picks them up, and every message goes out once.
    deliver_all(&app, &deps).await;
    let seen = by_message_id(&sink.messages());
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}

#[tokio::test]
async fn failures_after_the_last_attempt_are_kept_listed_for_admins_and_can_be_requeued() {
    let sink = SmtpSink::start().await.expect("sink");
    let app = TestApp::spawn().await;
    let deps = deps_with(Some(sink.url()), std::env::temp_dir().join("unused"), 2);
    sink.stop().await;
    let (code, id) = new_dossier(&app, json!({})).await;
    record(
        &app,
        id,
        EventKind::ResultReady,
        DossierStatus::ResultReady,
        None,
        None,
    )
    .await;
    deliver_all(&app, &deps).await;
    let row = outbox::Entity::find()
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(row.status, OutboxStatus::Failed);
    assert_eq!(row.attempts, 2);

    let admin = app.key(Role::Admin, None, None).await;
    let agency_key = app.key(Role::Agency, None, Some(AGENCY)).await;
    let list = |bearer: Option<String>| {
        let mut req = app
            .client
            .get(app.url("/api/v1/admin/outbox?status=failed"));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send()
    };
    assert_eq!(list(None).await.expect("req").status(), 401);
    assert_eq!(
        list(Some(agency_key.clone())).await.expect("req").status(),
        403
    );
    let res = list(Some(admin.clone())).await.expect("req");
    assert_eq!(res.status(), 200);
    let rows: Value = res.json().await.expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["id"], row.id);
    assert_eq!(rows[0]["kind"], "email");
    assert_eq!(rows[0]["dossier_code"], code.as_str());
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["attempts"], 2);
    assert_eq!(rows[0]["last_error"], "SMTP connection failed");
    assert!(!rows.to_string().contains("an@example.vn"), "{rows}");
    let bad = app
        .client
        .get(app.url("/api/v1/admin/outbox?status=lost"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("req");
    assert_eq!(bad.status(), 400);

    // Fixed: the administrator requeues it and it goes out.
    sink.restart().await.expect("restart");
    let retry = |bearer: String| {
        app.client
            .post(app.url(&format!("/api/v1/admin/outbox/{}/retry", row.id)))
            .bearer_auth(bearer)
            .send()
    };
    assert_eq!(retry(agency_key).await.expect("req").status(), 403);
    assert_eq!(retry(admin.clone()).await.expect("req").status(), 200);
    assert_eq!(retry(admin).await.expect("req").status(), 404);
    deliver_all(&app, &deps).await;
    assert_eq!(sink.wait_for(1, DEADLINE).await.len(), 1);
}

#[tokio::test]
async fn without_smtp_each_message_is_written_as_an_eml_file() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("dir");
    let deps = deps_with(None, dir.path().join("mail"), 5);
    let (code, id) = new_dossier(&app, json!({})).await;
    let e = record(
        &app,
        id,
        EventKind::ResultReady,
        DossierStatus::ResultReady,
        None,
        None,
    )
    .await;
    deliver_all(&app, &deps).await;
    let path = dir
        .path()
        .join("mail")
        .join(format!("dossier-event-{}-citizen.eml", e.id));
    let bytes = std::fs::read(&path).expect("the .eml file");
    let msg = mail_parser::MessageParser::default()
        .parse(&bytes)
        .expect("parse");
    assert_eq!(
        msg.subject(),
        Some(format!("Hồ sơ {code}: đã có kết quả").as_str())
    );
    let files = std::fs::read_dir(dir.path().join("mail"))
        .expect("dir")
        .count();
    assert_eq!(files, 1, "no temporary files left behind");
}

/// What the test's webhook receiver saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    signature_ok: bool,
    /// The Standard Webhooks signature checks out, and its id is the delivery's.
    standard_ok: bool,
    delivery_header: String,
    timestamp_header: String,
    body: Value,
}

/// A receiver that checks signatures with `secret` and answers 500 to the first `failures` requests.
async fn webhook_receiver(
    secret: &'static str,
    failures: usize,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    use poem::listener::{Acceptor, Listener};
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let remaining = Arc::new(AtomicUsize::new(failures));
    let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind");
    let port = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().map(|s| s.port()))
        .expect("port");
    let log = Arc::clone(&seen);
    let endpoint = poem::endpoint::make(move |req: poem::Request| {
        let log = Arc::clone(&log);
        let remaining = Arc::clone(&remaining);
        async move {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let signature = header("X-Dossier-Signature");
            let delivery_header = header("X-Dossier-Delivery");
            let timestamp_header = header("X-Dossier-Timestamp");
            let standard_id = header("webhook-id");
            let standard_timestamp = header("webhook-timestamp");
            let standard_signatures = header("webhook-signature");
            let raw = req.into_body().into_vec().await.unwrap_or_default();
            let expected = worker::webhooks::standard_signature(
                secret.as_bytes(),
                &standard_id,
                standard_timestamp.parse().unwrap_or_default(),
                &raw,
            );
            let standard_ok = standard_id == delivery_header
                && standard_timestamp == timestamp_header
                && standard_signatures.split(' ').any(|s| s == expected);
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
            mac.update(&raw);
            let signature_ok = signature
                .strip_prefix("sha256=")
                .and_then(|h| hex::decode(h).ok())
                .is_some_and(|sig| mac.verify_slice(&sig).is_ok());
            let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            log.lock().expect("lock").push(Seen {
                signature_ok,
                standard_ok,
                delivery_header,
                timestamp_header,
                body,
            });
            let fail = remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if fail {
                poem::http::StatusCode::INTERNAL_SERVER_ERROR
            } else {
                poem::http::StatusCode::NO_CONTENT
            }
        }
    });
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    (format!("http://127.0.0.1:{port}/hooks/dossiers"), seen)
}

pub(super) async fn register(
    app: &TestApp,
    bearer: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/admin/webhooks"))
        .json(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn admins_register_webhooks_whose_secrets_never_come_back() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let agency_key = app.key(Role::Agency, None, Some(AGENCY)).await;
    let secret = "a-long-shared-secret-0123456789";
    let good =
        json!({"url": "https://agency.example.vn/hooks", "secret": secret, "agency_code": AGENCY});

    assert_eq!(register(&app, None, &good).await.status(), 401);
    assert_eq!(register(&app, Some(&agency_key), &good).await.status(), 403);
    let (code, fields) = tests::error_of(
        register(
            &app,
            Some(&admin),
            &json!({"url": "ftp://agency.example.vn", "secret": "short", "agency_code": "NOPE"}),
        )
        .await,
    )
    .await;
    assert_eq!(code, "validation_failed");
    assert_eq!(fields, vec!["url", "secret", "agency_code"]);

    let res = register(&app, Some(&admin), &good).await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.expect("body");
    assert!(!text.contains(secret), "{text}");
    let created: Value = serde_json::from_str(&text).expect("json");
    assert!(created["id"].as_i64().is_some());
    assert_eq!(created["agency_code"], AGENCY);
    assert_eq!(created["active"], true);

    let listed = app
        .client
        .get(app.url("/api/v1/admin/webhooks"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("req");
    assert_eq!(listed.status(), 200);
    let text = listed.text().await.expect("body");
    assert!(!text.contains(secret) && !text.contains("secret"), "{text}");
    let listed: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(listed[0]["url"], "https://agency.example.vn/hooks");
    let forbidden = app
        .client
        .get(app.url("/api/v1/admin/webhooks"))
        .bearer_auth(&agency_key)
        .send()
        .await
        .expect("req");
    assert_eq!(forbidden.status(), 403);
}

#[tokio::test]
async fn webhooks_are_signed_retried_after_a_500_and_sent_only_for_the_agencys_own_dossiers() {
    const SECRET: &str = "hoankiem-webhook-secret-2026";
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let (url, seen) = webhook_receiver(SECRET, 2).await;
    let res = register(
        &app,
        Some(&admin),
        &json!({"url": url, "secret": SECRET, "agency_code": AGENCY}),
    )
    .await;
    assert_eq!(res.status(), 201);
    // Another agency's webhook, on the same receiver: it must hear nothing of this dossier.
    let res = register(
        &app,
        Some(&admin),
        &json!({"url": url, "secret": "another-agencys-secret", "agency_code": "UBND-P-BADINH"}),
    )
    .await;
    assert_eq!(res.status(), 201);

    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink);
    let (code, _) = new_dossier(&app, json!({})).await;
    deliver_all(&app, &deps).await;

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3, "two 500s, then accepted: {seen:?}");
    let delivery = seen[0].delivery_header.clone();
    assert_eq!(delivery.len(), 32);
    for s in &seen {
        assert!(s.signature_ok, "bad signature: {s:?}");
        assert!(s.standard_ok, "bad Standard Webhooks signature: {s:?}");
        assert_eq!(
            s.delivery_header, delivery,
            "the same delivery id on every attempt"
        );
        assert_eq!(s.body["delivery_id"], delivery.as_str());
        assert_eq!(
            s.body["timestamp"].as_i64().map(|t| t.to_string()),
            Some(s.timestamp_header.clone()),
            "the signed body carries the timestamp"
        );
        let age = Utc::now().timestamp() - s.body["timestamp"].as_i64().unwrap_or_default();
        assert!((0..60).contains(&age));
        assert_eq!(s.body["event"]["dossier_code"], code.as_str());
        assert_eq!(s.body["event"]["kind"], "requested");
        assert_eq!(s.body["event"]["status"], "pickup_requested");
        assert_eq!(s.body["event"]["source"], "api");
        assert!(s.body["event"]["id"].as_i64().is_some());
        assert!(
            s.body["event"]["at"]
                .as_str()
                .is_some_and(|t| t.ends_with("+07:00")),
            "{}",
            s.body
        );
        let raw = s.body.to_string();
        for personal in ["Nguyễn", "0912345678", "an@example.vn", "001090012345"] {
            assert!(!raw.contains(personal));
        }
    }
    let row = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("webhook"))
        .all(&app.store.read)
        .await
        .expect("rows");
    assert_eq!(row.len(), 1);
    assert_eq!(row[0].status, OutboxStatus::Done);
    assert_eq!(row[0].attempts, 2);
    assert_eq!(sink.count(), 0, "a pickup request e-mails nobody");
}

#[tokio::test]
async fn workers_claiming_at_the_same_time_never_take_the_same_row() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let rows: Vec<outbox::ActiveModel> = (0..120)
        .map(|i| outbox::ActiveModel {
            kind: Set("webhook".to_owned()),
            dossier_id: Set(None),
            payload: Set(json!({"n": i})),
            status: Set(OutboxStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    outbox::Entity::insert_many(rows)
        .exec_without_returning(&app.store.write)
        .await
        .expect("queue");
    // Work of another kind is left to its own worker.
    outbox::ActiveModel {
        kind: Set("carrier_order".to_owned()),
        dossier_id: Set(None),
        payload: Set(json!({})),
        status: Set(OutboxStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&app.store.write)
    .await
    .expect("other work");
    let lease = Duration::from_secs(60);
    let claims = futures_util::future::join_all((0..4).map(|w| {
        let store = app.store.clone();
        async move {
            domain::ops::outbox::claim_batch(&store, &format!("worker-{w}"), 50, lease)
                .await
                .expect("claim")
        }
    }))
    .await;
    let mut all = Vec::new();
    for (w, claim) in claims.iter().enumerate() {
        for row in claim {
            assert_eq!(
                row.locked_by.as_deref(),
                Some(format!("worker-{w}").as_str())
            );
            all.push(row.id);
        }
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 120, "every due row claimed once");
    assert_eq!(distinct.len(), 120, "no row claimed twice");
    assert!(
        domain::ops::outbox::claim_batch(&app.store, "late", 50, lease)
            .await
            .expect("claim")
            .is_empty()
    );
}

/// The subjects of the e-mails `sink` received for `to`, in order.
pub(super) fn subjects_to(sink: &SmtpSink, to: &str) -> Vec<String> {
    sink.messages()
        .iter()
        .filter(|m| m.rcpt_to == [to])
        .map(|m| parse(m).subject().unwrap_or_default().to_owned())
        .collect()
}

/// The subjects of the citizen's e-mails after the first `before`, sorted (the outbox sends
/// concurrently).
fn citizen_subjects_since(sink: &SmtpSink, before: usize) -> Vec<String> {
    let mut subjects = subjects_to(sink, "an@example.vn").split_off(before);
    subjects.sort();
    subjects
}

/// The carrier order of the result's parcel `outbound` of the dossier `code`.
fn result_order(
    sandbox: &carrier_sandbox::SandboxHandle,
    code: &str,
    outbound: &str,
) -> carrier_sandbox::OrderRequest {
    carrier_sandbox::OrderRequest {
        customer_code: Some(sandbox.config().customer_code.clone()),
        order_number: Some(format!("{code}-O")),
        sender_name: Some("UBND".into()),
        sender_address: Some("2 Lý Thái Tổ".into()),
        sender_province: Some("01".into()),
        sender_tel: Some("0240000000".into()),
        receiver_name: Some("Công dân".into()),
        receiver_address: Some("1 Tràng Tiền".into()),
        receiver_province: Some("01".into()),
        receiver_tel: Some("0900000000".into()),
        item_code: Some(outbound.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_result_delivered_as_the_carrier_reports_it_is_told_to_the_citizen_and_the_agency() {
    const SECRET: &str = "hoankiem-webhook-secret-2026";
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink);
    let (code, _) = picked_up(&app, &keys.postal).await;
    let outbound = to_result_with_post(&app, &keys, &code).await;
    deliver_all(&app, &deps).await;
    let before = subjects_to(&sink, "an@example.vn").len();

    let admin = app.key(Role::Admin, None, None).await;
    let (url, seen) = webhook_receiver(SECRET, 0).await;
    let res = register(
        &app,
        Some(&admin),
        &json!({"url": url, "secret": SECRET, "agency_code": AGENCY}),
    )
    .await;
    assert_eq!(res.status(), 201);

    // The carrier takes the result out for delivery, then delivers it, an hour apart.
    let sandbox = super::carrier::sandbox().await;
    let order = result_order(&sandbox, &code, &outbound);
    let script = carrier_sandbox::Script::every(Duration::from_secs(3600), &[6, 12, 14]);
    assert_eq!(sandbox.create_order(&order, Some(&script)).status, "00");
    sandbox.advance(Duration::from_secs(3 * 3600));
    let carrier = super::carrier::adapter(&sandbox);
    super::carrier::sync_until_idle(&app, &carrier, &super::carrier::sync_settings("w1")).await;
    assert_eq!(
        super::postal::dossier(&app, &code, &keys.postal).await["status"],
        "delivered"
    );
    deliver_all(&app, &deps).await;

    // The outbox sends concurrently: compare without order.
    assert_eq!(
        citizen_subjects_since(&sink, before),
        [
            format!("Hồ sơ {code}: bưu tá đang giao kết quả"),
            format!("Hồ sơ {code}: đã giao kết quả"),
        ]
    );
    let seen = seen.lock().expect("lock").clone();
    let mut kinds: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| {
            assert!(s.signature_ok);
            assert!(s.standard_ok);
            (
                s.body["event"]["kind"].as_str().unwrap_or_default(),
                s.body["event"]["source"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [("delivered", "carrier"), ("out_for_delivery", "carrier")]
    );

    // Read again from the carrier: nothing new, nothing told twice.
    super::carrier::sync_until_idle(&app, &carrier, &super::carrier::sync_settings("w1")).await;
    deliver_all(&app, &deps).await;
    assert_eq!(subjects_to(&sink, "an@example.vn").len(), before + 2);
}

#[tokio::test]
async fn a_postmans_scan_of_the_delivery_is_told_to_the_citizen() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink);
    let (code, _) = picked_up(&app, &keys.postal).await;
    let outbound = to_result_with_post(&app, &keys, &code).await;
    deliver_all(&app, &deps).await;
    let before = subjects_to(&sink, "an@example.vn").len();

    let scan = json!({"scans": [{
        "scan_id": super::postal::scan_id(),
        "item_code": outbound,
        "event": "out_for_delivery",
        "at": super::postal::vn_time(chrono::TimeDelta::zero()),
    }]});
    let res = super::postal::post(&app, "/api/v1/scans/batch", Some(&keys.postal), &scan).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        super::postal::dossier(&app, &code, &keys.postal).await["status"],
        "out_for_delivery"
    );
    // The same upload again (an offline scanner resending): a duplicate, told once.
    let res = super::postal::post(&app, "/api/v1/scans/batch", Some(&keys.postal), &scan).await;
    assert_eq!(res.status(), 200);
    deliver_all(&app, &deps).await;
    assert_eq!(
        subjects_to(&sink, "an@example.vn")[before..],
        [format!("Hồ sơ {code}: bưu tá đang giao kết quả")]
    );
}

#[tokio::test]
async fn a_delivery_the_carrier_reports_after_the_postman_recorded_it_is_told_once() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink);
    let (code, _) = picked_up(&app, &keys.postal).await;
    let outbound = to_result_with_post(&app, &keys, &code).await;
    deliver_all(&app, &deps).await;
    let before = subjects_to(&sink, "an@example.vn").len();

    // The postman takes the result out and delivers it at the door, recorded on the handheld.
    for (event, ago) in [("out_for_delivery", 120), ("delivered", 60)] {
        let mut scan = json!({
            "scan_id": super::postal::scan_id(),
            "item_code": outbound,
            "event": event,
            "at": super::postal::vn_time(chrono::TimeDelta::seconds(-ago)),
        });
        if event == "delivered" {
            scan["recipient"] = json!({
                "full_name": "Nguyễn Văn An", "id_number": "001090012345", "proxy": false,
            });
        }
        let res = super::postal::post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
    }
    deliver_all(&app, &deps).await;

    // Later the carrier's feed reports the same parcel out for delivery and delivered.
    let sandbox = super::carrier::sandbox().await;
    let order = result_order(&sandbox, &code, &outbound);
    let script = carrier_sandbox::Script::every(Duration::from_secs(60), &[12, 14]);
    assert_eq!(sandbox.create_order(&order, Some(&script)).status, "00");
    sandbox.advance(Duration::from_secs(180));
    let carrier = super::carrier::adapter(&sandbox);
    super::carrier::sync_until_idle(&app, &carrier, &super::carrier::sync_settings("w1")).await;
    let timeline = super::postal::dossier(&app, &code, &keys.postal).await["timeline"].clone();
    let from_carrier = timeline
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["source"] == "carrier")
        .count();
    assert_eq!(
        from_carrier, 2,
        "the carrier's reports join the timeline: {timeline}"
    );
    deliver_all(&app, &deps).await;

    // Told once each: nothing more for the carrier's copies of what the postman recorded.
    assert_eq!(
        citizen_subjects_since(&sink, before),
        [
            format!("Hồ sơ {code}: bưu tá đang giao kết quả"),
            format!("Hồ sơ {code}: đã giao kết quả"),
        ]
    );
}
