//! The HTTP carrier adapter against an in-process carrier sandbox on port 0, over real HTTP: tokens,
//! orders, per-order reads, and the feed read to its end under every fault CARRIER.md lists. Nothing
//! sleeps to wait for work: the sandbox's clock is moved by hand, and sync loops are bounded.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carrier_sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle, Scope, Script};
use chrono::DateTime;
use worker::carrier::{
    Carrier, CarrierConfig, CarrierError, FeedRead, HttpCarrier, OrderRequest, RetryPolicy,
    StatusCode, TrackingRecord, feed_with_overlap,
};

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        start_time: DateTime::from_timestamp(1_795_000_000, 0),
        delivery_failure_rate: 0.3,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

fn config(s: &SandboxHandle) -> CarrierConfig {
    let mut config = CarrierConfig::new(
        s.base_url(),
        s.config().consumer_key.clone(),
        s.config().consumer_secret.clone().into(),
        s.config().customer_code.clone(),
    );
    config.timeout = Duration::from_millis(400);
    config.connect_timeout = Duration::from_millis(400);
    config.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
    };
    config
}

fn adapter(s: &SandboxHandle) -> HttpCarrier {
    HttpCarrier::new(config(s)).expect("adapter builds")
}

/// A sandbox with `orders` parcels that have all reached the end of their path.
async fn settled_world(orders: u32) -> SandboxHandle {
    let s = sandbox().await;
    s.bulk_orders(orders, "W-", None);
    s.advance(15 * DAY);
    s
}

fn order(number: &str, item_code: Option<&str>) -> OrderRequest {
    OrderRequest {
        order_number: number.into(),
        cod_amount: 0,
        sender_name: "Nguyễn Văn A".into(),
        sender_address: "1 Tràng Tiền".into(),
        sender_province: "01".into(),
        sender_ward: "00070".into(),
        sender_tel: "0912345678".into(),
        sender_email: None,
        receiver_name: "Bộ phận một cửa".into(),
        receiver_address: "2 Lý Thái Tổ".into(),
        receiver_province: "79".into(),
        receiver_ward: "26734".into(),
        receiver_tel: "0283".into(),
        receiver_email: None,
        sender_desc: "Hồ sơ TTHC 1.001612".into(),
        description: "Hồ sơ".into(),
        item_code: item_code.map(str::to_owned),
    }
}

/// Reads the feed cycle after cycle, as the sync loop will, until a cycle reaches the end and brings
/// no id not seen before; checks that no batch holds an id twice. Bounded, so a bug cannot hang it.
async fn sync_all(carrier: &impl Carrier, read: &FeedRead) -> (BTreeMap<i64, TrackingRecord>, i64) {
    let mut all = BTreeMap::new();
    let mut cursor = 0;
    for _ in 0..50 {
        let batch = feed_with_overlap(carrier, cursor, read)
            .await
            .expect("the feed is read despite the fault");
        let ids: HashSet<i64> = batch.records.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), batch.records.len(), "an id twice in one batch");
        assert!(batch.cursor >= cursor, "the cursor never goes back");
        let before = all.len();
        for record in batch.records {
            all.insert(record.id, record);
        }
        cursor = batch.cursor;
        if batch.reached_end && all.len() == before {
            return (all, cursor);
        }
    }
    panic!("the feed never settled");
}

fn read(page_size: u32) -> FeedRead {
    FeedRead {
        page_size,
        overlap: 50,
        max_pages: 1000,
    }
}

/// Every record the sandbox holds was read once, with the same content.
fn assert_same_as_sandbox(s: &SandboxHandle, read: &BTreeMap<i64, TrackingRecord>) {
    let truth = s.records();
    let truth_ids: Vec<i64> = truth.iter().map(|r| r.id).collect();
    let read_ids: Vec<i64> = read.keys().copied().collect();
    assert_eq!(read_ids, truth_ids);
    for expected in &truth {
        let got = &read[&expected.id];
        assert_eq!(got.item_code, &*expected.item_code);
        assert_eq!(got.order_number, &*expected.order_number);
        assert_eq!(got.customer_code, &*expected.customer_code);
        assert_eq!(got.status_code, StatusCode(i64::from(expected.status_code)));
        assert_eq!(got.event_time, expected.event_time);
        assert_eq!(got.pos_id, &*expected.pos_id);
        assert_eq!(got.status_message, &*expected.status_message);
        assert_eq!(got.notes, &*expected.notes);
    }
}

#[tokio::test]
async fn the_token_is_fetched_once_and_refreshed_when_the_carrier_revokes_it_early() {
    let s = settled_world(3).await;
    let carrier = adapter(&s);
    carrier.feed(0, 5).await.expect("first page");
    carrier.feed(5, 5).await.expect("second page");
    assert_eq!(s.stats().token, 1, "one token serves many calls");

    s.revoke_tokens();
    let page = carrier.feed(10, 5).await.expect("refreshed and retried");
    assert!(!page.records.is_empty());
    let stats = s.stats();
    assert_eq!(stats.token, 2);
    assert_eq!(stats.unauthorized, 1);
    assert_eq!(carrier.stats().token_refreshes, 1);
}

#[tokio::test]
async fn wrong_credentials_are_a_typed_error_not_a_retry_loop() {
    let s = sandbox().await;
    let mut bad = config(&s);
    bad.consumer_secret = "wrong".into();
    let carrier = HttpCarrier::new(bad).expect("adapter builds");
    let error = carrier.feed(0, 10).await.expect_err("refused");
    assert!(
        matches!(error, CarrierError::Credentials { status: 401 }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(s.stats().token, 1);
}

#[tokio::test]
async fn create_order_is_idempotent_on_order_number() {
    let s = sandbox().await;
    let carrier = adapter(&s);
    let kept = carrier
        .create_order(&order("000.00.01.H29-260310-0420-I", Some("EB000717595VN")))
        .await
        .expect("accepted");
    assert_eq!(kept.item_code, "EB000717595VN");
    assert_eq!(kept.status, "00");
    let again = carrier
        .create_order(&order("000.00.01.H29-260310-0420-I", Some("EB000717595VN")))
        .await
        .expect("same answer");
    assert_eq!(again, kept);

    let allocated = carrier
        .create_order(&order("X-1-O", None))
        .await
        .expect("accepted");
    assert_eq!(allocated.item_code.len(), 13);
    assert_eq!(
        carrier
            .create_order(&order("X-1-O", None))
            .await
            .expect("same"),
        allocated
    );
    assert_eq!(s.world_stats().orders, 2);

    let refused = carrier
        .create_order(&order("X-2-O", Some("EB000717594VN")))
        .await
        .expect_err("a bad check digit is refused");
    assert!(
        matches!(&refused, CarrierError::Refused { status, .. } if status == "02"),
        "{refused:?}"
    );
    assert!(!refused.is_transient());
}

#[tokio::test]
async fn an_order_whose_answer_was_too_slow_is_retried_and_created_once() {
    let s = sandbox().await;
    let carrier = adapter(&s);
    s.inject(Fault::SlowAnswer {
        times: 1,
        delay_ms: 1_500,
        scope: Scope::Orders,
    });
    let answer = carrier
        .create_order(&order("SLOW-1-O", None))
        .await
        .expect("accepted");
    assert_eq!(s.world_stats().orders, 1);
    assert_eq!(
        s.stats().order_post,
        2,
        "the first answer was lost to the timeout"
    );
    assert_eq!(
        s.order("SLOW-1-O").and_then(|a| a.item_code),
        Some(answer.item_code)
    );
}

#[tokio::test]
async fn the_feed_read_to_the_end_sees_every_record_once() {
    let s = settled_world(60).await;
    let carrier = adapter(&s);
    let (records, cursor) = sync_all(&carrier, &read(100)).await;
    assert_same_as_sandbox(&s, &records);
    assert_eq!(Some(&cursor), records.keys().last());
    let stats = s.stats();
    assert!(
        stats.tracking_feed < 20,
        "{} records in {} feed requests",
        records.len(),
        stats.tracking_feed
    );
}

#[tokio::test]
async fn the_feed_survives_429_and_honours_retry_after() {
    let s = settled_world(20).await;
    let carrier = adapter(&s);
    s.inject(Fault::TooManyRequests {
        times: 1,
        retry_after_secs: 1,
        scope: Scope::Tracking,
    });
    let started = Instant::now();
    let (records, _) = sync_all(&carrier, &read(50)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
    assert_same_as_sandbox(&s, &records);
    assert_eq!(s.stats().failures_injected, 1);
}

#[tokio::test]
async fn the_feed_survives_server_errors() {
    let s = settled_world(20).await;
    let carrier = adapter(&s);
    s.inject(Fault::ServerError {
        times: 4,
        status: 500,
        scope: Scope::Any,
    });
    s.inject(Fault::ServerError {
        times: 3,
        status: 503,
        scope: Scope::Tracking,
    });
    let (records, _) = sync_all(&carrier, &read(30)).await;
    assert_same_as_sandbox(&s, &records);
    assert_eq!(s.stats().failures_injected, 7);
    assert_eq!(carrier.stats().retries, 7);
}

#[tokio::test]
async fn the_feed_survives_connection_resets() {
    let s = settled_world(20).await;
    let carrier = adapter(&s);
    s.inject(Fault::ConnectionReset {
        times: 3,
        scope: Scope::Tracking,
    });
    let (records, _) = sync_all(&carrier, &read(30)).await;
    assert_same_as_sandbox(&s, &records);
    assert_eq!(s.stats().failures_injected, 3);
}

#[tokio::test]
async fn the_feed_survives_answers_slower_than_the_timeout() {
    let s = settled_world(20).await;
    let carrier = adapter(&s);
    s.inject(Fault::SlowAnswer {
        times: 2,
        delay_ms: 1_500,
        scope: Scope::Tracking,
    });
    let (records, _) = sync_all(&carrier, &read(30)).await;
    assert_same_as_sandbox(&s, &records);
    assert_eq!(carrier.stats().retries, 2);
}

#[tokio::test]
async fn the_feed_survives_duplicate_records_within_and_across_pages() {
    let s = settled_world(30).await;
    let carrier = adapter(&s);
    s.inject(Fault::DuplicateRecords { pages: 1000 });
    let page = carrier.feed(0, 10).await.expect("page");
    let ids: Vec<i64> = page.records.iter().map(|r| r.id).collect();
    assert_eq!(ids[0], ids[1], "the carrier does repeat records");
    let (records, _) = sync_all(&carrier, &read(25)).await;
    assert_same_as_sandbox(&s, &records);
}

#[tokio::test]
async fn the_feed_keeps_events_whose_times_are_out_of_order() {
    let s = sandbox().await;
    s.bulk_orders(20, "T-", None);
    s.advance(Duration::from_secs(3 * 3600));
    s.inject(Fault::OutOfOrderTimes { records: 10 });
    s.advance(15 * DAY);
    let carrier = adapter(&s);
    let (records, _) = sync_all(&carrier, &read(40)).await;
    assert_same_as_sandbox(&s, &records);
    let mut latest: BTreeMap<&str, chrono::DateTime<chrono::FixedOffset>> = BTreeMap::new();
    let mut earlier_than_seen = 0;
    for r in records.values() {
        match latest.get(r.item_code.as_str()) {
            Some(&t) if r.event_time < t => earlier_than_seen += 1,
            _ => {
                latest.insert(&r.item_code, r.event_time);
            }
        }
    }
    assert!(earlier_than_seen >= 10, "{earlier_than_seen}");
}

#[tokio::test]
async fn the_feed_delivers_records_of_unknown_items_as_they_are() {
    let s = settled_world(10).await;
    let unknown = s.inject(Fault::UnknownItems { records: 6 });
    let carrier = adapter(&s);
    let (records, _) = sync_all(&carrier, &read(20)).await;
    assert_same_as_sandbox(&s, &records);
    for u in &unknown {
        let got = &records[&u.id];
        assert_eq!(got.item_code, &*u.item_code);
    }
    assert!(records.values().any(|r| r.customer_code != "DOSSIER"));
    assert!(records.values().any(|r| r.order_number.is_empty()));
}

#[tokio::test]
async fn the_feed_survives_a_token_that_expires_early_mid_read() {
    let s = settled_world(20).await;
    let carrier = adapter(&s);
    let first = carrier.feed(0, 10).await.expect("first page");
    s.revoke_tokens();
    let second = carrier.feed(first.last_id, 10).await.expect("refreshed");
    assert!(second.records.iter().all(|r| r.id > first.last_id));
    s.inject(Fault::RevokeTokens);
    let (records, _) = sync_all(&carrier, &read(15)).await;
    assert_same_as_sandbox(&s, &records);
    assert_eq!(s.stats().token, 3);
}

#[tokio::test]
async fn a_late_record_below_the_cursor_is_lost_without_overlap_and_recovered_with_it() {
    for overlap in [0, 500] {
        let s = sandbox().await;
        s.bulk_orders(30, "L-", None);
        s.advance(DAY / 4);
        let carrier = adapter(&s);
        let read = FeedRead {
            page_size: 40,
            overlap,
            max_pages: 1000,
        };
        let (mut all, cursor) = sync_all(&carrier, &read).await;
        s.inject(Fault::LateRecords { records: 1 });
        s.advance(15 * DAY);
        let mut cursor = cursor;
        for _ in 0..3 {
            let batch = feed_with_overlap(&carrier, cursor, &read)
                .await
                .expect("read");
            cursor = batch.cursor;
            for r in batch.records {
                all.insert(r.id, r);
            }
        }
        let truth = s.records();
        assert_eq!(
            s.world_stats().held_records,
            0,
            "the late record was published"
        );
        let missing: Vec<i64> = truth
            .iter()
            .map(|r| r.id)
            .filter(|id| !all.contains_key(id))
            .collect();
        if overlap == 0 {
            assert_eq!(
                missing.len(),
                1,
                "the late record is below the cursor: {missing:?}"
            );
            assert!(missing[0] < cursor);
        } else {
            assert!(
                missing.is_empty(),
                "the overlap window recovers it: {missing:?}"
            );
            assert_same_as_sandbox(&s, &all);
        }
    }
}

#[tokio::test]
async fn per_order_reads_give_that_orders_events_in_order() {
    let s = sandbox().await;
    let carrier = adapter(&s);
    carrier
        .create_order(&order("O-1-O", None))
        .await
        .expect("accepted");
    carrier
        .create_order(&order("O-2-O", None))
        .await
        .expect("accepted");
    s.set_script(
        "O-1-O",
        &Script::every(Duration::from_secs(3600), &[6, 7, 10, 12, 15, 12, 77, 14]),
    )
    .expect("scripted");
    assert!(
        carrier
            .order_events("O-1-O")
            .await
            .expect("read")
            .is_empty()
    );
    s.advance(DAY);
    let events = carrier.order_events("O-1-O").await.expect("read");
    let codes: Vec<i64> = events.iter().map(|r| r.status_code.0).collect();
    assert_eq!(codes, vec![6, 7, 10, 12, 15, 12, 77, 14]);
    assert!(!events[6].status_code.is_known(), "an unknown code is kept");
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert!(events.iter().all(|r| r.order_number == "O-1-O"));
    assert!(
        carrier
            .order_events("NOBODY")
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(s.stats().tracking_order, 3);
}

#[tokio::test]
async fn persistent_failures_end_in_a_typed_error_after_bounded_attempts() {
    let s = settled_world(2).await;
    let carrier = adapter(&s);
    carrier.feed(0, 1).await.expect("token in hand");
    s.inject(Fault::ServerError {
        times: 100,
        status: 502,
        scope: Scope::Tracking,
    });
    let error = carrier.feed(0, 10).await.expect_err("gives up");
    assert!(
        matches!(
            error,
            CarrierError::Server {
                status: 502,
                attempts: 5
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient());
    s.clear_faults();

    s.inject(Fault::TooManyRequests {
        times: 100,
        retry_after_secs: 0,
        scope: Scope::Tracking,
    });
    let error = carrier.feed(0, 10).await.expect_err("gives up");
    assert!(
        matches!(error, CarrierError::RateLimited { attempts: 5, .. }),
        "{error:?}"
    );
    s.clear_faults();

    s.inject(Fault::ConnectionReset {
        times: 100,
        scope: Scope::Tracking,
    });
    let error = carrier.feed(0, 10).await.expect_err("gives up");
    assert!(
        matches!(error, CarrierError::Network { attempts: 5, .. }),
        "{error:?}"
    );
    s.clear_faults();
    assert_eq!(s.stats().tracking_feed, 16);
    carrier
        .feed(0, 10)
        .await
        .expect("recovers once the carrier does");
}

#[tokio::test]
async fn concurrent_calls_stay_within_the_cap() {
    let s = settled_world(8).await;
    let mut cfg = config(&s);
    cfg.max_concurrency = 2;
    cfg.timeout = Duration::from_secs(5);
    let carrier = Arc::new(HttpCarrier::new(cfg).expect("adapter"));
    carrier.feed(0, 1).await.expect("token in hand");
    s.inject(Fault::SlowAnswer {
        times: 8,
        delay_ms: 150,
        scope: Scope::Tracking,
    });
    let mut tasks = Vec::new();
    for n in 1..=8 {
        let carrier = carrier.clone();
        tasks.push(tokio::spawn(async move {
            carrier.order_events(&format!("W-{n:07}")).await
        }));
    }
    for task in tasks {
        assert!(!task.await.expect("task").expect("read").is_empty());
    }
    assert_eq!(s.stats().max_in_flight, 2);
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_is_an_error_of_that_call_not_a_memory_hog() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A carrier that answers every request with 9 MiB and no length.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
                    .await;
                let chunk = vec![b' '; 64 * 1024];
                for _ in 0..(9 * 16) {
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut config = CarrierConfig::new(
        base,
        "key".to_owned(),
        "secret".to_owned().into(),
        "C0001".to_owned(),
    );
    config.timeout = Duration::from_secs(10);
    config.retry = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_millis(5),
    };
    let carrier = HttpCarrier::new(config).expect("adapter builds");
    let error = carrier
        .create_order(&order("BIG-1", None))
        .await
        .expect_err("an oversized answer fails the call");
    assert_eq!(error.kind(), "decode", "{error}");
    assert!(error.to_string().contains("larger than"), "{error}");
    server.abort();
}

#[tokio::test]
async fn a_retry_after_longer_than_a_call_waits_holds_every_caller_off_until_it_passes() {
    let s = settled_world(2).await;
    let carrier = adapter(&s);
    carrier.feed(0, 1).await.expect("token in hand");
    // A call waits out at most 2 s (the policy's `max_retry_after`); the carrier asks for 3.
    s.inject(Fault::TooManyRequests {
        times: 1,
        retry_after_secs: 3,
        scope: Scope::Tracking,
    });
    let before = s.stats().carrier_requests();
    let started = Instant::now();
    let error = carrier.feed(0, 10).await.expect_err("told to wait 3 s");
    assert!(
        matches!(error, CarrierError::RateLimited { retry_after: Some(wait), .. }
            if wait > Duration::from_secs(2)),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1), "not waited out");
    assert!(error.is_transient());

    // Every caller — the feed, per-order reads, new orders — is held off, without a request.
    assert!(carrier.resting().is_some());
    for error in [
        carrier.feed(0, 10).await.err(),
        carrier.order_events("W-0000001").await.err(),
        carrier.create_order(&order("HOLD-1-I", None)).await.err(),
    ] {
        assert!(
            matches!(error, Some(CarrierError::RateLimited { .. })),
            "{error:?}"
        );
    }
    assert_eq!(
        s.stats().carrier_requests(),
        before + 1,
        "one request: the 429"
    );

    // Once the time has passed, calls go through again.
    while carrier.held_off_for().is_some() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(2900));
    assert!(carrier.resting().is_none());
    carrier.feed(0, 10).await.expect("after the hold-off");
    carrier
        .create_order(&order("HOLD-1-I", None))
        .await
        .expect("the order once the carrier is ready");
}
