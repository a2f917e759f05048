//! Carrier sync and push against the in-process carrier sandbox over real HTTP: parcels move as the
//! carrier reports, every event is stored once whatever the carrier does (duplicates, 5xx, out-of-order
//! times, unknown items, late records below the cursor), an interrupted step loses nothing, two
//! workers never ingest twice, and pushed and polled copies of a record are one event.

use std::sync::Arc;
use std::time::Duration;

use carrier_sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle, Scope, Script};
use domain::ops::carrier_ingest::{self, ReceivedVia};
use entity::enums::EventSource;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::SecretString;
use serde_json::{Value, json};
use tests::TestApp;
use worker::StepOutcome;
use worker::carrier::{CarrierConfig, FeedRead, HttpCarrier, RetryPolicy};
use worker::sync::{SyncSettings, step};

use chrono::TimeDelta;

use super::postal::{Keys, dossier, picked_up, post, scan_id, vn_time};

const PUSH_SECRET: &str = "carrier-push-secret-for-tests";

pub(super) async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig::default())
        .await
        .expect("start the sandbox")
}

pub(super) fn adapter(sandbox: &SandboxHandle) -> HttpCarrier {
    HttpCarrier::new(carrier_config(sandbox)).expect("adapter")
}

/// The adapter's settings for `sandbox`, retrying within milliseconds.
pub(super) fn carrier_config(sandbox: &SandboxHandle) -> CarrierConfig {
    let c = sandbox.config();
    let mut config = CarrierConfig::new(
        sandbox.base_url(),
        c.consumer_key.clone(),
        SecretString::from(c.consumer_secret.clone()),
        c.customer_code.clone(),
    );
    config.timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_millis(50),
    };
    config
}

pub(super) fn sync_settings(holder: &str) -> SyncSettings {
    SyncSettings {
        feed: FeedRead {
            page_size: 4,
            overlap: 50,
            max_pages: 5,
        },
        lease: Duration::from_secs(30),
        holder: holder.to_owned(),
    }
}

/// A whole worker's settings: the carrier `sync`, and e-mails written as files under `mail_dir`.
fn worker_settings(
    sync: worker::CarrierSync,
    mail_dir: &std::path::Path,
) -> worker::WorkerSettings {
    worker::WorkerSettings {
        outbox: worker::outbox::OutboxSettings {
            mail: worker::mail::MailSettings {
                dir: mail_dir.to_owned(),
                ..Default::default()
            },
            ..Default::default()
        },
        carrier: Some(sync),
        ..Default::default()
    }
}

/// Runs sync steps until one finds nothing new (failed steps are retried, at most `limit` steps).
pub(super) async fn sync_until_idle(app: &TestApp, carrier: &HttpCarrier, settings: &SyncSettings) {
    for _ in 0..60 {
        if step(&app.store, carrier, settings).await == StepOutcome::Idle {
            return;
        }
    }
    panic!("the sync never went idle");
}

/// A picked-up dossier whose inbound parcel the carrier knows, on `codes` one hour apart.
async fn dossier_at_carrier(
    app: &TestApp,
    keys: &Keys,
    sandbox: &SandboxHandle,
    codes: &[i32],
) -> (String, String) {
    let (code, item) = picked_up(app, &keys.postal).await;
    let order = carrier_sandbox::OrderRequest {
        customer_code: Some(sandbox.config().customer_code.clone()),
        order_number: Some(format!("{code}-I")),
        sender_name: Some("Công dân".into()),
        sender_address: Some("1 Tràng Tiền".into()),
        sender_province: Some("01".into()),
        sender_tel: Some("0900000000".into()),
        receiver_name: Some("UBND".into()),
        receiver_address: Some("2 Lý Thái Tổ".into()),
        receiver_province: Some("01".into()),
        receiver_tel: Some("0240000000".into()),
        item_code: Some(item.clone()),
        ..Default::default()
    };
    let script = Script::every(Duration::from_secs(3600), codes);
    let answer = sandbox.create_order(&order, Some(&script));
    assert_eq!(answer.status, "00", "{}", answer.message);
    assert_eq!(answer.item_code.as_deref(), Some(item.as_str()));
    (code, item)
}

pub(super) async fn carrier_event_count(app: &TestApp) -> u64 {
    entity::carrier_event::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count")
}

pub(super) async fn carrier_timeline_count(app: &TestApp) -> u64 {
    entity::dossier_event::Entity::find()
        .filter(entity::dossier_event::Column::Source.eq(EventSource::Carrier))
        .count(&app.store.read)
        .await
        .expect("count")
}

/// The carrier's truth: every visible record, and how many of them are for our items and scannable.
pub(super) fn expected(sandbox: &SandboxHandle, items: &[String]) -> (u64, u64) {
    let records = sandbox.records();
    let scannable = records
        .iter()
        .filter(|r| items.iter().any(|i| i.as_str() == &*r.item_code))
        .filter(|r| domain::carrier_codes::scan_event_of(r.status_code.into()).is_some())
        .count();
    (records.len() as u64, scannable as u64)
}

#[tokio::test]
async fn a_picked_up_parcel_moves_to_in_transit_as_the_carrier_reports() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = adapter(&sandbox);
    let (code, item) = dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10, 12, 14]).await;
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "picked_up"
    );

    sandbox.advance(Duration::from_secs(10 * 3600));
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;

    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "in_transit");
    let (records, scannable) = expected(&sandbox, &[item]);
    assert_eq!(records, 5);
    assert_eq!(carrier_event_count(&app).await, 5);
    assert_eq!(carrier_timeline_count(&app).await, scannable);
    // Again: nothing changes.
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    assert_eq!(carrier_event_count(&app).await, 5);
    assert_eq!(carrier_timeline_count(&app).await, scannable);
}

#[tokio::test]
async fn with_every_fault_injected_each_event_is_stored_once_and_none_is_lost() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = adapter(&sandbox);
    let mut items = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..3 {
        let (code, item) = dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10, 99, 12]).await;
        codes.push(code);
        items.push(item);
    }
    sandbox.inject(Fault::DuplicateRecords { pages: 3 });
    sandbox.inject(Fault::OutOfOrderTimes { records: 3 });
    sandbox.inject(Fault::LateRecords { records: 2 });
    sandbox.inject(Fault::ServerError {
        times: 2,
        status: 500,
        scope: Scope::default(),
    });
    sandbox.advance(Duration::from_secs(3 * 3600));
    sandbox.inject(Fault::UnknownItems { records: 3 });
    let settings = sync_settings("w1");
    sync_until_idle(&app, &carrier, &settings).await;
    sandbox.advance(Duration::from_secs(10 * 3600));
    sync_until_idle(&app, &carrier, &settings).await;
    sandbox.release_held_records();
    sync_until_idle(&app, &carrier, &settings).await;

    let (records, scannable) = expected(&sandbox, &items);
    assert_eq!(records, 3 * 5 + 3, "the carrier's own count");
    assert_eq!(carrier_event_count(&app).await, records);
    assert_eq!(carrier_timeline_count(&app).await, scannable);
    let unknown = entity::carrier_event::Entity::find()
        .filter(entity::carrier_event::Column::DossierId.is_null())
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(unknown, 3, "unknown items kept for reconciliation");
    let kept_code = entity::carrier_event::Entity::find()
        .filter(entity::carrier_event::Column::StatusCode.eq(99))
        .count(&app.store.read)
        .await
        .expect("count");
    assert!(kept_code >= 3, "unknown status codes are kept");
    for code in &codes {
        let status = dossier(&app, code, &keys.postal).await["status"].clone();
        assert_eq!(status, "in_transit", "{code}");
    }
}

#[tokio::test]
async fn a_step_dropped_before_its_commit_loses_nothing_and_stores_nothing_twice() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = adapter(&sandbox);
    let (code, item) = dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10]).await;
    sandbox.advance(Duration::from_secs(5 * 3600));

    // A worker takes the lease, reads and ingests, then dies before committing.
    let cursor = carrier_ingest::take_lease(&app.store, "dying", Duration::ZERO)
        .await
        .expect("lease")
        .expect("free lease");
    let batch = worker::carrier::feed_with_overlap(&carrier, cursor, &FeedRead::default())
        .await
        .expect("feed");
    let records: Vec<_> = batch.records.iter().map(worker::sync::to_domain).collect();
    {
        let txn = app.store.begin().await.expect("txn");
        let report = carrier_ingest::ingest_in(&txn, &records, ReceivedVia::Poll)
            .await
            .expect("ingest");
        assert_eq!(report.new, 3);
        drop(txn);
    }
    assert_eq!(carrier_event_count(&app).await, 0);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "picked_up"
    );

    // Its lease expires; another worker takes over and stores everything once.
    tokio::time::sleep(Duration::from_millis(5)).await;
    sync_until_idle(&app, &carrier, &sync_settings("survivor")).await;
    let (records, scannable) = expected(&sandbox, &[item]);
    assert_eq!(carrier_event_count(&app).await, records);
    assert_eq!(carrier_timeline_count(&app).await, scannable);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "in_transit"
    );
}

#[tokio::test]
async fn two_workers_at_once_ingest_each_event_once() {
    if tests::test_database_url().is_none() {
        // One worker on SQLite (ARCHITECTURE.md); the lease is exercised on PostgreSQL.
        return;
    }
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = adapter(&sandbox);
    let mut items = Vec::new();
    for _ in 0..4 {
        items.push(
            dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10, 12])
                .await
                .1,
        );
    }
    sandbox.advance(Duration::from_secs(10 * 3600));
    let (a, b) = (sync_settings("a"), sync_settings("b"));
    for _ in 0..40 {
        let (x, y) = tokio::join!(
            step(&app.store, &carrier, &a),
            step(&app.store, &carrier, &b)
        );
        // A step that trips over the other worker's work (a broken lease) fails: it must not.
        assert!(
            x != StepOutcome::Failed && y != StepOutcome::Failed,
            "a worker's step failed: {x:?} {y:?}"
        );
        if x == StepOutcome::Idle && y == StepOutcome::Idle {
            break;
        }
    }
    sync_until_idle(&app, &carrier, &a).await;
    let (records, scannable) = expected(&sandbox, &items);
    assert_eq!(carrier_event_count(&app).await, records);
    assert_eq!(carrier_timeline_count(&app).await, scannable);
}

async fn push(app: &TestApp, body: &[u8], signature: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/carrier/events"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(sig) = signature {
        req = req.header("X-Dossier-Signature", sig);
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn pushed_events_need_the_signature_and_are_one_event_with_their_polled_copy() {
    let app = TestApp::spawn_with(|s| {
        s.carrier.webhook_secret = Some(SecretString::from(PUSH_SECRET.to_owned()));
    })
    .await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = adapter(&sandbox);
    let (code, item) = dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10]).await;
    sandbox.advance(Duration::from_secs(5 * 3600));
    let body = serde_json::to_vec(&json!({"content": sandbox.records()})).expect("json");

    // Wrong or missing signature: 401 in the envelope, nothing stored.
    for sig in [
        None,
        Some("sha256=00".to_owned()),
        Some(carrier_ingest::push_signature(b"wrong-secret", &body)),
    ] {
        let res = push(&app, &body, sig.as_deref()).await;
        assert_eq!(res.status(), 401);
        let err: Value = res.json().await.expect("json");
        assert!(err["error"]["code"].is_string(), "{err}");
    }
    assert_eq!(carrier_event_count(&app).await, 0);

    let sig = carrier_ingest::push_signature(PUSH_SECRET.as_bytes(), &body);
    let res = push(&app, &body, Some(&sig)).await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.expect("json");
    assert_eq!(out["new"], 3);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "in_transit"
    );
    let (records, scannable) = expected(&sandbox, &[item]);
    assert_eq!(carrier_event_count(&app).await, records);
    let timeline = carrier_timeline_count(&app).await;
    assert_eq!(timeline, scannable);

    // The same records pushed again and polled: still one event each.
    let again: Value = push(&app, &body, Some(&sig))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(again["new"], 0);
    assert_eq!(again["duplicates"], 3);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    assert_eq!(carrier_event_count(&app).await, records);
    assert_eq!(carrier_timeline_count(&app).await, timeline);
}

#[tokio::test]
async fn carrier_push_is_off_without_a_secret() {
    let app = TestApp::spawn().await;
    let res = push(&app, br#"{"content":[]}"#, Some("sha256=00")).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_worker_killed_at_any_instant_and_restarted_loses_nothing_and_stores_nothing_twice() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mut items = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..3 {
        let (code, item) = dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10, 12]).await;
        codes.push(code);
        items.push(item);
    }
    sandbox.advance(Duration::from_secs(10 * 3600));
    // Slow answers, so that some kills land while a page is read and others while a batch is stored.
    sandbox.inject(Fault::SlowAnswer {
        times: 4,
        delay_ms: 15,
        scope: Scope::Tracking,
    });

    // Workers killed (their task dropped) after 0 to 80 ms; their leases end at once (TTL 0), as if
    // they had expired.
    for (i, after_ms) in [0u64, 1, 2, 5, 10, 20, 40, 80].into_iter().enumerate() {
        let store = app.store.clone();
        let carrier = carrier.clone();
        let settings = SyncSettings {
            lease: Duration::ZERO,
            ..sync_settings(&format!("killed-{i}"))
        };
        let worker = tokio::spawn(async move { step(&store, carrier.as_ref(), &settings).await });
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        worker.abort();
        let _ = worker.await;
    }

    // A worker started afterwards finishes the job.
    sync_until_idle(&app, &carrier, &sync_settings("restarted")).await;
    let (records, scannable) = expected(&sandbox, &items);
    assert_eq!(records, 3 * 4);
    assert_eq!(
        carrier_event_count(&app).await,
        records,
        "every event, once"
    );
    assert_eq!(carrier_timeline_count(&app).await, scannable);
    for code in &codes {
        assert_eq!(
            dossier(&app, code, &keys.postal).await["status"],
            "in_transit",
            "{code}"
        );
    }
}

#[tokio::test]
async fn a_worker_told_to_stop_while_reading_the_feed_gives_its_lease_back_at_once() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let (code, item) = dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10]).await;
    sandbox.advance(Duration::from_secs(5 * 3600));
    sandbox.inject(Fault::SlowAnswer {
        times: 1,
        delay_ms: 10_000,
        scope: Scope::Tracking,
    });
    let mail = tempfile::tempdir().expect("temp dir");
    let mut sync = worker::CarrierSync::new(carrier_config(&sandbox), Duration::from_secs(1));
    sync.sync = SyncSettings {
        lease: Duration::from_secs(600),
        ..sync_settings("stopping")
    };
    let settings = worker_settings(sync, mail.path());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker::run(app.store.clone(), settings, stopped));

    // The worker holds the lease and waits for a slow page.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sandbox.stats().tracking_feed == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never read the feed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cursor = entity::carrier_cursor::Entity::find_by_id(carrier_ingest::CARRIER.to_owned())
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("cursor row");
    assert_eq!(cursor.lease_holder.as_deref(), Some("stopping"));

    // SIGTERM: the worker stops well before the page would have come, and gives the lease back.
    stop.send(true).expect("signal");
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the worker stops without waiting for the slow page")
        .expect("the worker ends cleanly");
    let cursor = entity::carrier_cursor::Entity::find_by_id(carrier_ingest::CARRIER.to_owned())
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("cursor row");
    assert_eq!(cursor.lease_holder, None, "lease released");
    assert_eq!(cursor.last_id, 0, "nothing half-stored");
    assert_eq!(carrier_event_count(&app).await, 0);

    // The next worker does not wait for the 10-minute lease to expire.
    sync_until_idle(&app, &adapter(&sandbox), &sync_settings("next")).await;
    let (records, scannable) = expected(&sandbox, &[item]);
    assert_eq!(carrier_event_count(&app).await, records);
    assert_eq!(carrier_timeline_count(&app).await, scannable);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "in_transit"
    );
}

#[tokio::test]
async fn a_stand_alone_worker_serves_its_metrics_and_health_probes() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let sandbox = sandbox().await;
    let (code, _item) = dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10]).await;
    sandbox.advance(Duration::from_secs(5 * 3600));

    // What `dossier worker` does with `worker.metrics_bind` set.
    let probes = api::probes::Probes::bind("127.0.0.1:0", app.store.clone())
        .await
        .expect("bind the probes");
    let base = format!("http://127.0.0.1:{}", probes.port().expect("port"));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut probes_stop = stopped.clone();
    let probes = tokio::spawn(probes.run_until(async move {
        let _ = probes_stop.wait_for(|s| *s).await;
    }));
    let mail = tempfile::tempdir().expect("temp dir");
    let mut sync = worker::CarrierSync::new(carrier_config(&sandbox), Duration::from_secs(1));
    sync.sync = sync_settings("stand-alone");
    let settings = worker_settings(sync, mail.path());
    let running = tokio::spawn(worker::run(app.store.clone(), settings, stopped));

    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let moved = dossier(&app, &code, &keys.postal).await["status"] == "in_transit";
        let res = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("scrape");
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with("text/plain")
        );
        let text = res.text().await.expect("body");
        let ingested = text.lines().any(|l| {
            l.starts_with("dossier_carrier_events_ingested_total{via=\"poll\"}")
                && l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v > 0.0)
        });
        if moved && ingested && text.contains("dossier_carrier_sync_cycles_total") {
            assert!(
                !text.contains(&code),
                "metrics carry kinds and counts, not dossiers"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker's metrics never showed its sync:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in ["/health/live", "/health/ready"] {
        let res = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("probe");
        assert_eq!(res.status(), 200, "{path}");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["status"], "ok", "{path}");
    }
    let res = client
        .get(format!("{base}/api/v1/track/{code}"))
        .send()
        .await
        .expect("other path");
    assert_eq!(res.status(), 404, "the probes serve nothing else");
    let body: Value = res.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], "not_found");

    stop.send(true).expect("signal");
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the worker stops")
        .expect("cleanly");
    tokio::time::timeout(Duration::from_secs(10), probes)
        .await
        .expect("the probes stop")
        .expect("cleanly")
        .expect("served");
}

/// A pushed record of `item` with carrier id `id`, status `code`, at `event_time`.
fn pushed_record(
    sandbox_customer: &str,
    item: &str,
    id: i64,
    code: i64,
    event_time: &str,
) -> Value {
    json!({"id": id, "customerCode": sandbox_customer, "orderNumber": "", "itemCode": item,
        "eventTime": event_time, "posId": "100000", "statusCode": code,
        "statusMessage": "Đã đến bưu cục", "notes": ""})
}

#[tokio::test]
async fn a_carrier_event_dated_in_the_future_does_not_freeze_the_dossier() {
    let app = TestApp::spawn_with(|s| {
        s.carrier.webhook_secret = Some(SecretString::from(PUSH_SECRET.to_owned()));
    })
    .await;
    let keys = Keys::new(&app).await;
    let (code, item) = picked_up(&app, &keys.postal).await;
    let send = |records: Vec<Value>| {
        let app = &app;
        async move {
            let body = serde_json::to_vec(&json!({"content": records})).expect("json");
            let sig = carrier_ingest::push_signature(PUSH_SECRET.as_bytes(), &body);
            let res = push(app, &body, Some(&sig)).await;
            assert_eq!(res.status(), 200);
        }
    };

    // The carrier's clock (or a typo) dates the office's acceptance in 2099.
    send(vec![pushed_record(
        "C",
        &item,
        9001,
        7,
        "2099-11-23T09:15:00+07:00",
    )])
    .await;
    let stored = entity::carrier_event::Entity::find()
        .filter(entity::carrier_event::Column::CarrierEventId.eq(9001))
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("the record is stored");
    assert_eq!(
        stored.event_time,
        chrono::DateTime::parse_from_rfc3339("2099-11-23T09:15:00+07:00").expect("time"),
        "the carrier's own time is kept with its record"
    );
    let d = dossier(&app, &code, &keys.postal).await;
    let accepted = d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["source"] == "carrier")
        .expect("the carrier's event is on the timeline")
        .clone();
    assert!(
        accepted["at"].as_str().expect("at") < "2098",
        "applied at its arrival, not in 2099: {accepted}"
    );
    assert!(
        accepted["note"]
            .as_str()
            .is_some_and(|n| n.contains("2099-11-23T09:15:00+07:00")),
        "the note shows the carrier's time: {accepted}"
    );

    // The next carrier event, dated now, moves the dossier …
    send(vec![pushed_record(
        "C",
        &item,
        9002,
        10,
        &vn_time(TimeDelta::seconds(1)),
    )])
    .await;
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "in_transit",
        "a later carrier event still applies"
    );

    // … and so does a handheld scan after it.
    let scan = json!({"scan_id": scan_id(), "item_code": item, "event": "arrived",
        "at": vn_time(TimeDelta::seconds(2))});
    let res = post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await;
    assert_eq!(res.status(), 201);
    let answer: Value = res.json().await.expect("json");
    assert_eq!(
        answer["applied"], true,
        "a later handheld scan still applies: {answer}"
    );
}

/// `GET /api/v1/admin/carrier/unreadable` with `bearer`.
async fn unreadable_records(app: &TestApp, bearer: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/admin/carrier/unreadable"))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn an_unreadable_carrier_record_is_kept_for_administrators_and_the_cursor_passes_it_once() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(entity::enums::Role::Admin, None, None).await;
    let sandbox = sandbox().await;
    let carrier = adapter(&sandbox);
    let (code, item) = dossier_at_carrier(&app, &keys, &sandbox, &[7, 12, 10]).await;
    sandbox.advance(Duration::from_secs(3600));
    assert_eq!(sandbox.records().len(), 1);
    // The next record breaks the contract; the one after it is readable again.
    sandbox.inject(Fault::UnreadableRecords { records: 1 });
    sandbox.advance(Duration::from_secs(5 * 3600));
    let records = sandbox.records();
    let unreadable: Vec<bool> = records.iter().map(|r| r.unreadable).collect();
    assert_eq!(unreadable, [false, true, false]);
    let bad = records[1].id;

    let settings = sync_settings("w1");
    sync_until_idle(&app, &carrier, &settings).await;

    // The readable ones are stored and applied …
    assert_eq!(carrier_event_count(&app).await, 2);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "in_transit"
    );
    // … the cursor is past all three …
    let cursor = entity::carrier_cursor::Entity::find_by_id(carrier_ingest::CARRIER.to_owned())
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("cursor row");
    assert_eq!(cursor.last_id, records[2].id);
    // … and the unreadable one is kept, for administrators only.
    let res = unreadable_records(&app, &admin).await;
    assert_eq!(res.status(), 200);
    let listed: Value = res.json().await.expect("json");
    let kept = listed["records"].as_array().expect("records");
    assert_eq!(kept.len(), 1, "{listed}");
    assert_eq!(kept[0]["carrier_event_id"], bad);
    assert_eq!(kept[0]["raw_truncated"], false);
    assert_eq!(kept[0]["received_via"], "poll");
    let raw: Value =
        serde_json::from_str(kept[0]["raw"].as_str().expect("raw")).expect("the raw JSON");
    assert_eq!(raw["itemCode"], item.as_str());
    assert_eq!(raw["eventTime"], carrier_sandbox::UNREADABLE_EVENT_TIME);
    assert!(
        kept[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not a time")),
        "{listed}"
    );
    assert_eq!(unreadable_records(&app, &keys.postal).await.status(), 403);

    // Read again (the overlap window re-reads it): still kept once.
    sandbox.advance(Duration::from_secs(3600));
    sync_until_idle(&app, &carrier, &settings).await;
    let listed: Value = unreadable_records(&app, &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["records"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_push_with_an_unreadable_record_keeps_it_and_applies_the_others() {
    let app = TestApp::spawn_with(|s| {
        s.carrier.webhook_secret = Some(SecretString::from(PUSH_SECRET.to_owned()));
    })
    .await;
    let keys = Keys::new(&app).await;
    let admin = app.key(entity::enums::Role::Admin, None, None).await;
    let sandbox = sandbox().await;
    let (code, _item) = dossier_at_carrier(&app, &keys, &sandbox, &[6, 7, 10]).await;
    sandbox.advance(Duration::from_secs(5 * 3600));
    let mut content = serde_json::to_value(sandbox.records()).expect("json");
    let records = content.as_array_mut().expect("records");
    assert_eq!(records.len(), 3);
    // The middle record breaks the contract: a time that is not one.
    let bad_id = records[1]["id"].as_i64().expect("id");
    records[1]["eventTime"] = json!("hôm qua");
    let body = serde_json::to_vec(&json!({ "content": content })).expect("json");
    let sig = carrier_ingest::push_signature(PUSH_SECRET.as_bytes(), &body);
    let res = push(&app, &body, Some(&sig)).await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.expect("json");
    assert_eq!(
        (out["new"].as_u64(), out["unreadable"].as_u64()),
        (Some(2), Some(1)),
        "{out}"
    );
    assert_eq!(carrier_event_count(&app).await, 2);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "in_transit"
    );
    // Kept for administrators, once however often it is pushed.
    push(&app, &body, Some(&sig)).await;
    let listed: Value = unreadable_records(&app, &admin)
        .await
        .json()
        .await
        .expect("json");
    let kept = listed["records"].as_array().expect("records");
    assert_eq!(kept.len(), 1, "{listed}");
    assert_eq!(kept[0]["carrier_event_id"], bad_id);
    assert_eq!(kept[0]["received_via"], "push");
}
