//! Carrier orders and per-order reads against the in-process carrier sandbox over real HTTP: a parcel's
//! order is placed from the outbox once the parcel has its item code (inbound at pickup, outbound when
//! the result is handed to the post), with the sender and receiver the carrier needs; the dossier then
//! moves as the carrier reports; a carrier that is down delays the order, never the pickup; parcels the
//! feed is quiet about are read one by one; and `/metrics` shows the counters moving.

use std::sync::Arc;
use std::time::Duration;

use carrier_sandbox::{Fault, SandboxHandle, Scope, Script};
use domain::ops::carrier_orders::Quietness;
use domain::ops::outbox::{DeliveryKind, RetryPolicy};
use entity::enums::OutboxStatus;
use entity::{carrier_order, outbox};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;
use worker::StepOutcome;
use worker::carrier::HttpCarrier;
use worker::mail::MailSettings;
use worker::outbox::{OutboxDeps, OutboxSettings};
use worker::quiet::{self, QuietSettings};

use super::carrier::{
    adapter, carrier_config, carrier_event_count, carrier_timeline_count, expected, sandbox,
    sync_settings, sync_until_idle,
};
use super::postal::{AGENCY, Keys, dossier, leg, picked_up, to_result_with_post};
use super::supplements::{supplement_parcel, supplement_sent};

pub(super) const HOUR: Duration = Duration::from_secs(3600);

/// An outbox worker placing orders at `carrier`, writing e-mails as files into `mail`, retrying within
/// milliseconds.
pub(super) fn orders_worker(carrier: &Arc<HttpCarrier>, mail: &std::path::Path) -> OutboxDeps {
    OutboxDeps::new(&OutboxSettings {
        mail: MailSettings {
            dir: mail.to_owned(),
            ..MailSettings::default()
        },
        retry: RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            max_attempts: 20,
        },
        batch_size: 50,
        ..OutboxSettings::default()
    })
    .expect("outbox worker")
    .with_carrier(carrier.clone())
}

/// The carrier-order rows of the outbox.
async fn order_rows(app: &TestApp) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq(DeliveryKind::CarrierOrder.as_str()))
        .all(&app.store.read)
        .await
        .expect("outbox rows")
}

/// Steps the outbox until no carrier order is pending, polling with a deadline (retries are due
/// within milliseconds).
pub(super) async fn place_orders(app: &TestApp, deps: &OutboxDeps) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = order_rows(app).await;
        if rows.iter().all(|r| r.status != OutboxStatus::Pending) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "carrier orders still pending: {rows:?}"
        );
        if worker::outbox::step(&app.store, deps).await != StepOutcome::Worked {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn order_row(app: &TestApp, order_number: &str) -> carrier_order::Model {
    carrier_order::Entity::find()
        .filter(carrier_order::Column::OrderNumber.eq(order_number))
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("carrier order row")
}

/// Gives a parcel's order a scripted path from the sandbox's now.
pub(super) fn script(sandbox: &SandboxHandle, order_number: &str, codes: &[i32]) {
    sandbox
        .set_script(order_number, &Script::every(HOUR, codes))
        .expect("the order exists at the carrier");
}

/// Per-order reads of every order with no news since now, read again only after an hour.
fn eager_quiet(holder: &str) -> QuietSettings {
    QuietSettings {
        quietness: Quietness {
            quiet_for: Duration::ZERO,
            recheck_every: HOUR,
        },
        batch: 10,
        concurrency: 2,
        lease: Duration::from_secs(30),
        holder: holder.to_owned(),
    }
}

#[tokio::test]
async fn a_parcels_order_is_placed_when_it_is_picked_up_and_the_dossier_moves_as_the_carrier_reports()
 {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());

    let (code, item) = picked_up(&app, &keys.postal).await;
    let number = format!("{code}-I");
    assert!(
        sandbox.order(&number).is_none(),
        "never placed inside the pickup request"
    );
    let row = order_rows(&app).await;
    assert_eq!(row.len(), 1, "written with the item code");
    let payload = row[0].payload.to_string();
    assert!(
        !payload.contains("Nguyễn") && !payload.contains("0912345678"),
        "no personal data in the outbox: {payload}"
    );

    place_orders(&app, &orders).await;
    let answer = sandbox.order(&number).expect("placed at the carrier");
    assert_eq!(answer.item_code.as_deref(), Some(item.as_str()));
    let sent = sandbox.order_request(&number).expect("the request");
    assert_eq!(sent.customer_code.as_deref(), Some("DOSSIER"));
    assert_eq!(sent.item_code.as_deref(), Some(item.as_str()));
    assert_eq!(sent.sender_name.as_deref(), Some("Nguyễn Văn An"));
    assert_eq!(sent.sender_tel.as_deref(), Some("0912345678"));
    assert_eq!(sent.sender_address.as_deref(), Some("12 Tràng Tiền"));
    assert_eq!(sent.sender_province.as_deref(), Some("01"));
    assert_eq!(sent.sender_ward.as_deref(), Some("00070"));
    assert!(sent.receiver_name.as_deref().is_some_and(|n| !n.is_empty()));
    assert_eq!(sent.cod_amount, Some(0));
    assert!(order_row(&app, &number).await.placed_at.is_some());

    script(&sandbox, &number, &[6, 7, 10]);
    sandbox.advance(4 * HOUR);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "in_transit");
    assert_eq!(leg(&d, "inbound")["status"], "in_transit");
    let from_carrier: Vec<&Value> = d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["source"] == "carrier")
        .collect();
    assert_eq!(from_carrier.len(), 2, "accepted at office, departed");
    let (records, scannable) = expected(&sandbox, std::slice::from_ref(&item));
    assert_eq!(carrier_event_count(&app).await, records);
    assert_eq!(carrier_timeline_count(&app).await, scannable);

    // Nothing is placed twice.
    place_orders(&app, &orders).await;
    assert_eq!(sandbox.stats().order_post, 1);
    assert_eq!(sandbox.world_stats().orders, 1);
}

#[tokio::test]
async fn a_supplements_parcel_gets_a_carrier_order_of_its_own_placed_once() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());

    // The citizen sends the supplement from another address than the dossier's.
    let (code, _) = supplement_sent(
        &app,
        &keys,
        json!({"line": "5 Hàng Bài", "ward_code": "00073", "province_code": "01"}),
    )
    .await;
    place_orders(&app, &orders).await;
    let first = format!("{code}-I");
    assert!(sandbox.order(&first).is_some(), "the dossier's own parcel");
    let number = format!("{code}-I2");

    let d = dossier(&app, &code, &keys.postal).await;
    let postage = d["fees"]["supplement_postage_vnd"]
        .as_i64()
        .expect("postage");
    let d: Value = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/pickup")))
        .bearer_auth(&keys.postal)
        .json(&json!({"documents_checked": true, "fee_collected_vnd": postage}))
        .send()
        .await
        .expect("pickup")
        .json()
        .await
        .expect("json");
    assert_eq!(d["status"], "supplement_requested", "{d}");
    let item = supplement_parcel(&d)["item_code"]
        .as_str()
        .expect("item code")
        .to_owned();
    assert!(
        sandbox.order(&number).is_none(),
        "never placed inside the pickup request"
    );
    let row = order_row(&app, &number).await;
    assert_eq!(row.item_code, item);
    assert!(row.placed_at.is_none());

    place_orders(&app, &orders).await;
    let answer = sandbox.order(&number).expect("placed at the carrier");
    assert_eq!(answer.item_code.as_deref(), Some(item.as_str()));
    let sent = sandbox.order_request(&number).expect("the request");
    assert_eq!(sent.order_number.as_deref(), Some(number.as_str()));
    assert_eq!(sent.item_code.as_deref(), Some(item.as_str()));
    assert_eq!(sent.sender_name.as_deref(), Some("Nguyễn Văn An"));
    assert_eq!(sent.sender_address.as_deref(), Some("5 Hàng Bài"));
    assert_eq!(sent.sender_ward.as_deref(), Some("00073"));
    assert!(order_row(&app, &number).await.placed_at.is_some());
    // The dossier's own order is untouched, and nothing is placed twice.
    let own = sandbox.order_request(&first).expect("the first order");
    assert_eq!(own.sender_address.as_deref(), Some("12 Tràng Tiền"));
    place_orders(&app, &orders).await;
    assert_eq!(sandbox.stats().order_post, 2);
    assert_eq!(sandbox.world_stats().orders, 2);

    // The carrier's reports move the supplement's parcel; the dossier still waits for it.
    script(&sandbox, &first, &[]);
    script(&sandbox, &number, &[6, 7, 10]);
    sandbox.advance(4 * HOUR);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "supplement_requested");
    assert_eq!(supplement_parcel(&d)["status"], "in_transit", "{d}");
}

/// A dossier whose result is with the post, its outbound order placed; returns (code, order number).
pub(super) async fn result_at_carrier(
    app: &TestApp,
    keys: &Keys,
    sandbox: &SandboxHandle,
    orders: &OutboxDeps,
) -> (String, String) {
    let (code, _) = picked_up(app, &keys.postal).await;
    place_orders(app, orders).await;
    // The inbound parcel's own path plays no part here.
    script(sandbox, &format!("{code}-I"), &[]);
    let item = to_result_with_post(app, keys, &code).await;
    let number = format!("{code}-O");
    assert!(sandbox.order(&number).is_none());
    place_orders(app, orders).await;
    let answer = sandbox.order(&number).expect("outbound order placed");
    assert_eq!(answer.item_code.as_deref(), Some(item.as_str()));
    let sent = sandbox.order_request(&number).expect("the request");
    assert_eq!(sent.receiver_name.as_deref(), Some("Nguyễn Văn An"));
    assert_eq!(sent.receiver_tel.as_deref(), Some("0912345678"));
    assert_eq!(sent.receiver_province.as_deref(), Some("01"));
    let agency: Vec<Value> = app
        .client
        .get(app.url("/api/v1/agencies"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let agency_name = agency
        .iter()
        .find(|a| a["code"] == AGENCY)
        .and_then(|a| a["name"].as_str())
        .expect("agency");
    assert_eq!(sent.sender_name.as_deref(), Some(agency_name));
    assert_eq!(
        dossier(app, &code, &keys.postal).await["status"],
        "result_with_post"
    );
    (code, number)
}

#[tokio::test]
async fn a_result_handed_to_the_post_is_ordered_and_goes_out_for_delivery_then_delivered() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());
    let (code, number) = result_at_carrier(&app, &keys, &sandbox, &orders).await;

    script(&sandbox, &number, &[6, 7, 10, 12, 14]);
    sandbox.advance(4 * HOUR + HOUR / 2);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "out_for_delivery");
    assert_eq!(leg(&d, "outbound")["status"], "out_for_delivery");

    sandbox.advance(2 * HOUR);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "delivered");
    assert_eq!(leg(&d, "outbound")["status"], "delivered");
    assert!(leg(&d, "outbound")["delivered_at"].is_string());

    // A delivered parcel is done: it is never read one by one.
    let order = order_row(&app, &number).await;
    assert!(order.final_at.is_some());
    sandbox.reset_stats();
    assert_eq!(
        quiet::step(&app.store, carrier.as_ref(), &eager_quiet("q")).await,
        StepOutcome::Idle
    );
    assert_eq!(sandbox.stats().tracking_order, 0);
}

#[tokio::test]
async fn a_failed_delivery_reported_by_the_carrier_is_the_dossiers_failed_delivery() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());
    let (code, number) = result_at_carrier(&app, &keys, &sandbox, &orders).await;

    script(&sandbox, &number, &[6, 7, 10, 12, 15]);
    sandbox.advance(6 * HOUR);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "delivery_failed");
    let outbound = leg(&d, "outbound");
    assert_eq!(outbound["status"], "delivery_failed");
    assert_eq!(outbound["failed_attempts"], 1);
    assert!(
        order_row(&app, &number).await.final_at.is_none(),
        "a failed attempt is not the end"
    );
}

#[tokio::test]
async fn a_second_failure_the_carrier_reports_too_soon_joins_the_timeline_uncounted() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());
    let (code, number) = result_at_carrier(&app, &keys, &sandbox, &orders).await;

    // Out for delivery, failed, out again and failed again two hours later: the law counts a second
    // notice only two working days after the first (DOMAIN.md, Circular 17 Art. 5.2h).
    script(&sandbox, &number, &[6, 7, 10, 12, 15, 12, 15]);
    sandbox.advance(8 * HOUR);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    let d = dossier(&app, &code, &keys.postal).await;
    let outbound = leg(&d, "outbound");
    assert_eq!(outbound["failed_attempts"], 1, "{d}");
    assert_ne!(d["status"], "returned_to_agency");
    let failures: Vec<&Value> = d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "delivery_failed" && e["source"] == "carrier")
        .collect();
    assert_eq!(failures.len(), 2, "both attempts are on the timeline: {d}");
    assert!(failures[0]["status"].is_string(), "the first counts: {d}");
    assert!(
        failures[1]["status"].is_null(),
        "the second moves nothing: {d}"
    );
    let note = failures[1]["note"].as_str().expect("a note");
    assert!(note.contains("not counted as a notice"), "{note}");
    assert_eq!(
        carrier_timeline_count(&app).await,
        expected(
            &sandbox,
            &[outbound["item_code"].as_str().expect("item").to_owned()]
        )
        .1,
        "every scannable record of the parcel made a timeline event"
    );
}

#[tokio::test]
async fn a_carrier_that_is_down_delays_the_order_not_the_pickup_and_the_order_is_placed_once() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    // Short timeouts so that a slow answer counts as lost.
    let mut config = carrier_config(&sandbox);
    config.timeout = Duration::from_millis(300);
    let carrier = Arc::new(HttpCarrier::new(config).expect("adapter"));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());

    sandbox.inject(Fault::ServerError {
        times: 1000,
        status: 503,
        scope: Scope::Orders,
    });
    let (code, item) = picked_up(&app, &keys.postal).await;
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "picked_up"
    );
    assert_eq!(
        worker::outbox::step(&app.store, &orders).await,
        StepOutcome::Worked
    );
    let rows = order_rows(&app).await;
    assert_eq!(rows[0].status, OutboxStatus::Pending, "kept for a retry");
    assert_eq!(rows[0].attempts, 1);
    let error = rows[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("503"), "{error}");
    assert!(!error.contains("Nguyễn") && !error.contains("0912345678"));
    assert!(sandbox.order(&format!("{code}-I")).is_none());

    // Back up, but its first answer is lost to the timeout: the retry gets the same order.
    sandbox.clear_faults();
    sandbox.inject(Fault::SlowAnswer {
        times: 1,
        delay_ms: 1000,
        scope: Scope::Orders,
    });
    sandbox.reset_stats();
    place_orders(&app, &orders).await;
    assert_eq!(
        sandbox.stats().order_post,
        2,
        "sent again after the lost answer"
    );
    assert_eq!(sandbox.world_stats().orders, 1, "one order at the carrier");
    let placed = sandbox.order(&format!("{code}-I")).expect("placed");
    assert_eq!(placed.item_code.as_deref(), Some(item.as_str()));
    assert_eq!(order_rows(&app).await[0].status, OutboxStatus::Done);
}

#[tokio::test]
async fn an_order_the_carrier_refuses_is_kept_as_failed_for_an_administrator() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let mut config = carrier_config(&sandbox);
    config.customer_code = "NOT-OUR-CUSTOMER".into();
    let carrier = Arc::new(HttpCarrier::new(config).expect("adapter"));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());

    let (code, _) = picked_up(&app, &keys.postal).await;
    place_orders(&app, &orders).await;
    let rows = order_rows(&app).await;
    assert_eq!(rows[0].status, OutboxStatus::Failed, "not retried");
    assert_eq!(rows[0].attempts, 1);
    assert!(
        rows[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("refused")),
        "{:?}",
        rows[0].last_error
    );
    assert!(sandbox.order(&format!("{code}-I")).is_none());
    assert!(
        order_row(&app, &format!("{code}-I"))
            .await
            .placed_at
            .is_none()
    );
}

#[tokio::test]
async fn events_the_feed_never_served_are_found_by_reading_quiet_orders_one_by_one() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());
    let mut dossiers = Vec::new();
    for _ in 0..5 {
        dossiers.push(picked_up(&app, &keys.postal).await);
    }
    place_orders(&app, &orders).await;
    // The first three parcels move first (every 10 minutes), and the feed loses all their events.
    for (i, (code, _)) in dossiers.iter().enumerate() {
        let every = if i < 3 { HOUR / 6 } else { HOUR };
        sandbox
            .set_script(&format!("{code}-I"), &Script::every(every, &[6, 7, 10]))
            .expect("the order exists at the carrier");
    }
    sandbox.inject(Fault::MissingFromFeed { records: 9 });
    sandbox.advance(4 * HOUR);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    let items: Vec<String> = dossiers.iter().map(|(_, item)| item.clone()).collect();
    let (records, scannable) = expected(&sandbox, &items);
    assert_eq!(records, 15);
    assert!(
        carrier_event_count(&app).await < records,
        "the feed lost some"
    );
    let behind = {
        let mut n = 0;
        for (code, _) in &dossiers {
            if dossier(&app, code, &keys.postal).await["status"] == "picked_up" {
                n += 1;
            }
        }
        n
    };
    assert_eq!(behind, 3, "parcels the feed said nothing of");

    sandbox.reset_stats();
    assert_eq!(
        quiet::step(&app.store, carrier.as_ref(), &eager_quiet("q1")).await,
        StepOutcome::Worked
    );
    let stats = sandbox.stats();
    assert_eq!(stats.tracking_order, 5, "each quiet order read once");
    assert!(
        stats.max_in_flight <= 2,
        "at most `concurrency` reads at once: {}",
        stats.max_in_flight
    );
    assert_eq!(carrier_event_count(&app).await, records, "nothing lost");
    assert_eq!(
        carrier_timeline_count(&app).await,
        scannable,
        "nothing twice"
    );
    for (code, _) in &dossiers {
        assert_eq!(
            dossier(&app, code, &keys.postal).await["status"],
            "in_transit",
            "{code}"
        );
    }

    // Read orders wait `recheck_every`; the feed and the reads agree, so nothing changes again.
    sandbox.reset_stats();
    assert_eq!(
        quiet::step(&app.store, carrier.as_ref(), &eager_quiet("q2")).await,
        StepOutcome::Idle
    );
    assert_eq!(sandbox.stats().carrier_requests(), 0);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    assert_eq!(carrier_event_count(&app).await, records);
    assert_eq!(carrier_timeline_count(&app).await, scannable);
}

/// The sum of a metric's samples whose line contains every one of `labels` (e.g. `via="poll"`).
fn metric(page: &str, name: &str, labels: &[&str]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics_page(app: &TestApp) -> String {
    let res = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    res.text().await.expect("body")
}

#[tokio::test]
async fn the_metrics_page_shows_ingest_carrier_errors_and_the_outbox_moving() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());
    // The recorder is process-wide and other tests run alongside: every check is "grew by at least".
    let before = metrics_page(&app).await;
    let grew = |after: &str, name: &str, labels: &[&str]| {
        metric(after, name, labels) - metric(&before, name, labels)
    };

    // The first attempt at the order fails (the adapter tries 4 times); the outbox retries it.
    sandbox.inject(Fault::ServerError {
        times: 4,
        status: 502,
        scope: Scope::Orders,
    });
    let (code, _) = picked_up(&app, &keys.postal).await;
    place_orders(&app, &orders).await;
    script(&sandbox, &format!("{code}-I"), &[6, 7, 10]);
    sandbox.advance(4 * HOUR);
    // The feed fails for good once (the adapter tries 4 times), then duplicates and strangers.
    sandbox.inject(Fault::ServerError {
        times: 4,
        status: 500,
        scope: Scope::Tracking,
    });
    assert_eq!(
        worker::sync::step(&app.store, carrier.as_ref(), &sync_settings("m")).await,
        StepOutcome::Failed
    );
    sandbox.inject(Fault::DuplicateRecords { pages: 2 });
    sandbox.inject(Fault::UnknownItems { records: 2 });
    sync_until_idle(&app, &carrier, &sync_settings("m")).await;

    let after = metrics_page(&app).await;
    for line in [
        "dossier_carrier_events_ingested_total",
        "dossier_carrier_events_duplicate_total",
        "dossier_carrier_events_unknown_item_total",
        "dossier_carrier_errors_total",
        "dossier_outbox_sent_total",
        "dossier_carrier_ingest_lag_seconds_bucket",
    ] {
        assert!(after.contains(line), "{line} missing from:\n{after}");
    }
    assert!(
        grew(
            &after,
            "dossier_carrier_events_ingested_total",
            &[r#"via="poll""#]
        ) >= 5.0
    );
    assert!(grew(&after, "dossier_carrier_events_duplicate_total", &[]) >= 1.0);
    assert!(grew(&after, "dossier_carrier_events_unknown_item_total", &[]) >= 2.0);
    assert!(
        grew(
            &after,
            "dossier_carrier_errors_total",
            &[r#"kind="server""#, r#"call="tracking.feed""#]
        ) >= 1.0
    );
    assert!(
        grew(
            &after,
            "dossier_carrier_retries_total",
            &[r#"reason="500""#]
        ) >= 3.0
    );
    assert!(
        grew(
            &after,
            "dossier_outbox_sent_total",
            &[r#"kind="carrier_order""#]
        ) >= 1.0
    );
    assert!(
        grew(
            &after,
            "dossier_outbox_failed_total",
            &[r#"kind="carrier_order""#, r#"outcome="retry""#]
        ) >= 1.0
    );
    assert!(grew(&after, "dossier_carrier_ingest_lag_seconds_count", &[]) >= 5.0);
    assert!(!after.contains("Nguyễn") && !after.contains("0912345678"));
}

#[tokio::test]
async fn two_workers_reading_quiet_orders_at_once_read_each_order_once() {
    if tests::test_database_url().is_none() {
        // One worker on SQLite (ARCHITECTURE.md); the claims are exercised on PostgreSQL.
        return;
    }
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());
    let mut items = Vec::new();
    for _ in 0..6 {
        items.push(picked_up(&app, &keys.postal).await);
    }
    place_orders(&app, &orders).await;
    for (code, _) in &items {
        script(&sandbox, &format!("{code}-I"), &[6, 7, 10]);
    }
    sandbox.inject(Fault::MissingFromFeed { records: 18 });
    sandbox.advance(4 * HOUR);
    sandbox.reset_stats();
    let small = |holder: &str| QuietSettings {
        batch: 3,
        ..eager_quiet(holder)
    };
    let (a, b) = (small("a"), small("b"));
    for _ in 0..4 {
        tokio::join!(
            quiet::step(&app.store, carrier.as_ref(), &a),
            quiet::step(&app.store, carrier.as_ref(), &b)
        );
    }
    assert_eq!(sandbox.stats().tracking_order, 6, "each order read once");
    let codes: Vec<String> = items.iter().map(|(_, item)| item.clone()).collect();
    let (records, scannable) = expected(&sandbox, &codes);
    assert_eq!(carrier_event_count(&app).await, records);
    assert_eq!(carrier_timeline_count(&app).await, scannable);
}

#[tokio::test]
async fn an_order_answered_408_or_425_is_tried_again_and_one_answered_409_is_not() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());

    // "Again, later" a few times within one call: placed on the first outbox attempt.
    sandbox.inject(Fault::ErrorStatus {
        times: 1,
        status: 408,
        scope: Scope::Orders,
    });
    sandbox.inject(Fault::ErrorStatus {
        times: 1,
        status: 425,
        scope: Scope::Orders,
    });
    let (code, _) = picked_up(&app, &keys.postal).await;
    assert_eq!(
        worker::outbox::step(&app.store, &orders).await,
        StepOutcome::Worked
    );
    let rows = order_rows(&app).await;
    assert_eq!(
        rows[0].status,
        OutboxStatus::Done,
        "{:?}",
        rows[0].last_error
    );
    assert_eq!(sandbox.stats().order_post, 3);
    assert!(sandbox.order(&format!("{code}-I")).is_some());

    // 408 on every attempt: the row waits for a later attempt, it is not given up.
    sandbox.inject(Fault::ErrorStatus {
        times: 1000,
        status: 408,
        scope: Scope::Orders,
    });
    let (second, _) = picked_up(&app, &keys.postal).await;
    worker::outbox::step(&app.store, &orders).await;
    let row = order_row(&app, &format!("{second}-I")).await;
    let outbox_row = order_rows(&app)
        .await
        .into_iter()
        .find(|r| r.status != OutboxStatus::Done)
        .expect("the second order's row");
    assert_eq!(outbox_row.status, OutboxStatus::Pending, "kept for a retry");
    assert!(row.placed_at.is_none());
    sandbox.clear_faults();
    place_orders(&app, &orders).await;
    assert!(sandbox.order(&format!("{second}-I")).is_some());

    // 409: CARRIER.md answers a repeated order the same, so a conflict is a refusal of this one.
    sandbox.inject(Fault::ErrorStatus {
        times: 1000,
        status: 409,
        scope: Scope::Orders,
    });
    let (third, _) = picked_up(&app, &keys.postal).await;
    place_orders(&app, &orders).await;
    let failed: Vec<_> = order_rows(&app)
        .await
        .into_iter()
        .filter(|r| r.status == OutboxStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 1);
    assert!(sandbox.order(&format!("{third}-I")).is_none());
}
