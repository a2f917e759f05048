//! The worker as production runs it: stand-alone `dossier worker` processes on one PostgreSQL
//! database, a burst of e-mail over a pool smaller than the burst, one worker killed with `kill -9`
//! in the middle of its sends, an SMTP server that says nothing, a SIGTERM with sends in flight, one
//! killed with `kill -9` in the middle of reading the carrier's feed, and two reading a backlog of the
//! feed that takes longer than their lease.

use std::collections::HashMap;
use std::time::Duration;

use entity::enums::OutboxStatus;
use entity::outbox;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tests::outbox_fixture::{message_key, queue_emails};
use tests::smtp_sink::SmtpSink;
use tests::{TestApp, test_database_url};

use crate::{Process, eventually};

/// The processes' settings: a small SMTP pool, short leases and deadlines, quick retries.
fn worker_env(
    app: &TestApp,
    sink: &SmtpSink,
    smtp_timeout_secs: u64,
) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", app.database_url.clone()),
        ("DOSSIER__SMTP__URL", sink.url()),
        ("DOSSIER__OUTBOX__SMTP_POOL_SIZE", "4".into()),
        ("DOSSIER__OUTBOX__CONCURRENCY", "8".into()),
        ("DOSSIER__OUTBOX__BATCH_SIZE", "50".into()),
        ("DOSSIER__OUTBOX__LEASE_SECS", "4".into()),
        (
            "DOSSIER__OUTBOX__SMTP_TIMEOUT_SECS",
            smtp_timeout_secs.to_string(),
        ),
        (
            "DOSSIER__OUTBOX__ATTEMPT_TIMEOUT_SECS",
            (smtp_timeout_secs + 5).to_string(),
        ),
        ("DOSSIER__OUTBOX__SHUTDOWN_DRAIN_SECS", "1".into()),
        ("DOSSIER__OUTBOX__RETRY_BASE_SECS", "1".into()),
        ("DOSSIER__OUTBOX__RETRY_CAP_SECS", "1".into()),
        ("DOSSIER__OUTBOX__MAX_ATTEMPTS", "50".into()),
    ]
}

/// Outbox rows by status.
async fn rows_with(app: &TestApp, status: OutboxStatus) -> u64 {
    outbox::Entity::find()
        .filter(outbox::Column::Status.eq(status))
        .count(&app.store.read)
        .await
        .expect("count outbox rows")
}

/// How many times the sink accepted each message key.
fn accepted_keys(sink: &SmtpSink) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for mail in sink.messages() {
        let key = message_key(&mail.data).expect("every message has a Message-ID");
        *seen.entry(key).or_insert(0) += 1;
    }
    seen
}

fn on_postgres() -> bool {
    if test_database_url().is_none() {
        eprintln!(
            "note: worker process tests need PostgreSQL (TEST_DATABASE_URL); skipped on SQLite"
        );
        return false;
    }
    true
}

#[tokio::test]
async fn a_burst_of_mail_is_sent_exactly_once_when_one_of_two_worker_processes_is_killed_mid_send()
{
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await.expect("sink");
    let dir = tempfile::tempdir().expect("temp dir");
    let burst = 600;
    let keys = queue_emails(&app.store, "burst", burst)
        .await
        .expect("queue");
    let env = worker_env(&app, &sink, 5);
    let mut doomed = Process::start("worker-a", &["worker"], &env, dir.path());
    let survivor = Process::start("worker-b", &["worker"], &env, dir.path());

    // Midway: both workers are sending when the sink starts holding its answers to the final `.`.
    assert!(
        eventually(Duration::from_secs(30), || async {
            sink.count() >= burst / 4
        })
        .await,
        "the workers sent {} of {burst} within 30 s; logs:\n{}\n{}",
        sink.count(),
        doomed.log_text(),
        survivor.log_text()
    );
    sink.hold_replies(true);
    // Each worker has 4 connections: once 8 messages wait for their answer, every send of the doomed
    // worker is in the middle of its conversation, and what it sent before is recorded.
    assert!(
        eventually(Duration::from_secs(5), || async { sink.held() >= 8 }).await,
        "only {} sends were held",
        sink.held()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    doomed.kill_9().await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            sink.dropped_while_held() >= 4
        })
        .await,
        "the killed worker's conversations did not end"
    );
    sink.hold_replies(false);

    // The survivor finishes the burst, the killed worker's claim included once its lease ran out.
    let done = eventually(Duration::from_secs(60), || async {
        rows_with(&app, OutboxStatus::Done).await == burst as u64
    })
    .await;
    assert!(
        done,
        "{} of {burst} e-mails done after 60 s; survivor's log:\n{}",
        rows_with(&app, OutboxStatus::Done).await,
        survivor.log_text()
    );
    let seen = accepted_keys(&sink);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    let missing: Vec<_> = keys.iter().filter(|k| !seen.contains_key(*k)).collect();
    assert!(missing.is_empty(), "never sent: {missing:?}");
    assert_eq!(sink.count(), burst);
    let still_claimed = outbox::Entity::find()
        .filter(outbox::Column::LockedBy.is_not_null())
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(still_claimed, 0, "rows stay claimed after the burst");
}

#[tokio::test]
async fn carrier_sync_keeps_its_cadence_while_the_smtp_server_says_nothing() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await.expect("sink");
    sink.mute(true);
    let carrier = carrier_sandbox::Sandbox::start(carrier_sandbox::SandboxConfig::default())
        .await
        .expect("carrier sandbox");
    let c = carrier.config().clone();
    let dir = tempfile::tempdir().expect("temp dir");
    queue_emails(&app.store, "stuck", 20).await.expect("queue");
    let mut env = worker_env(&app, &sink, 2);
    env.extend([
        ("DOSSIER__CARRIER__BASE_URL", carrier.base_url()),
        ("DOSSIER__CARRIER__CONSUMER_KEY", c.consumer_key.clone()),
        (
            "DOSSIER__CARRIER__CONSUMER_SECRET",
            c.consumer_secret.clone(),
        ),
        ("DOSSIER__CARRIER__CUSTOMER_CODE", c.customer_code.clone()),
        ("DOSSIER__CARRIER__POLL_INTERVAL_SECS", "1".into()),
    ]);
    let worker = Process::start("worker", &["worker"], &env, dir.path());

    // The e-mails hang on connections that are never greeted; their deadline makes each a failed
    // attempt with its error recorded, given back for a later retry.
    let failed_attempts = eventually(Duration::from_secs(15), || async {
        outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
            .filter(outbox::Column::Attempts.gte(1))
            .filter(outbox::Column::LastError.contains("did not finish within"))
            .count(&app.store.read)
            .await
            .expect("count")
            == 20
    })
    .await;
    assert!(
        failed_attempts,
        "stuck sends were not recorded as failed attempts; log:\n{}",
        worker.log_text()
    );
    assert!(
        sink.connections() > 0,
        "the worker never reached the SMTP server"
    );

    // Meanwhile, and still now, the carrier feed is read about once a second.
    let before = carrier.stats().tracking_feed;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let reads = carrier.stats().tracking_feed - before;
    assert!(
        reads >= 3,
        "the feed was read {reads} times in 5 s while e-mail was stuck; log:\n{}",
        worker.log_text()
    );

    // And the mail goes out once the server talks again.
    sink.mute(false);
    assert!(
        eventually(Duration::from_secs(30), || async {
            rows_with(&app, OutboxStatus::Done).await == 20
        })
        .await,
        "the e-mails were not sent once the server answered; log:\n{}",
        worker.log_text()
    );
    // Each one arrived; a send whose deadline ran out just as the server was taking it may have
    // been repeated (at least once, the same Message-ID), which is why this counts keys.
    assert_eq!(accepted_keys(&sink).len(), 20);
}

#[tokio::test]
async fn a_worker_stopped_with_sends_in_flight_exits_within_its_grace_and_gives_its_rows_back_at_once()
 {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await.expect("sink");
    sink.hold_replies(true);
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = queue_emails(&app.store, "stop", 40).await.expect("queue");
    // A long send deadline and a five-minute lease: neither may be what frees the rows.
    let mut env = worker_env(&app, &sink, 60);
    env.push(("DOSSIER__OUTBOX__LEASE_SECS", "300".into()));
    let mut worker = Process::start("worker", &["worker"], &env, dir.path());
    assert!(
        eventually(Duration::from_secs(15), || async { sink.held() >= 4 }).await,
        "no send reached the sink; log:\n{}",
        worker.log_text()
    );

    let took = worker.terminate(Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    let held = outbox::Entity::find()
        .filter(outbox::Column::LockedBy.is_not_null())
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(
        held,
        0,
        "a stopped worker still holds rows; log:\n{}",
        worker.log_text()
    );
    assert_eq!(rows_with(&app, OutboxStatus::Pending).await, 40);
    assert!(
        eventually(Duration::from_secs(5), || async {
            sink.dropped_while_held() >= 4
        })
        .await,
        "the abandoned conversations were not closed"
    );
    assert_eq!(
        sink.count(),
        0,
        "a message was accepted although its send was abandoned"
    );

    // The next worker sends every one of them, once.
    sink.hold_replies(false);
    let next = Process::start("next", &["worker"], &worker_env(&app, &sink, 5), dir.path());
    assert!(
        eventually(Duration::from_secs(30), || async {
            rows_with(&app, OutboxStatus::Done).await == 40
        })
        .await,
        "log:\n{}",
        next.log_text()
    );
    let seen = accepted_keys(&sink);
    assert_eq!(seen.len(), 40);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert!(keys.iter().all(|k| seen.contains_key(k)));
}

/// The carrier-sync settings of a worker process reading `carrier`, with a short feed lease so that a
/// killed worker's lease runs out within the test.
fn carrier_env(
    app: &TestApp,
    carrier: &carrier_sandbox::SandboxHandle,
) -> Vec<(&'static str, String)> {
    let c = carrier.config();
    vec![
        ("DATABASE_URL", app.database_url.clone()),
        ("DOSSIER__CARRIER__BASE_URL", carrier.base_url()),
        ("DOSSIER__CARRIER__CONSUMER_KEY", c.consumer_key.clone()),
        (
            "DOSSIER__CARRIER__CONSUMER_SECRET",
            c.consumer_secret.clone(),
        ),
        ("DOSSIER__CARRIER__CUSTOMER_CODE", c.customer_code.clone()),
        ("DOSSIER__CARRIER__POLL_INTERVAL_SECS", "1".into()),
        ("DOSSIER__CARRIER__FEED_LEASE_SECS", "3".into()),
    ]
}

/// The feed cursor as the database holds it (0 before the first read).
async fn feed_cursor(app: &TestApp) -> i64 {
    entity::carrier_cursor::Entity::find()
        .one(&app.store.read)
        .await
        .expect("read the cursor")
        .map_or(0, |c| c.last_id)
}

/// Carrier events stored.
async fn stored_events(app: &TestApp) -> u64 {
    entity::carrier_event::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count carrier events")
}

#[tokio::test]
async fn a_worker_killed_mid_feed_read_loses_no_carrier_event_and_the_next_one_records_each_once() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let carrier = carrier_sandbox::Sandbox::start(carrier_sandbox::SandboxConfig::default())
        .await
        .expect("carrier sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    // 600 parcels that each move every minute: picked up, at the office, in transit, delivering,
    // delivered. The first two steps are published now, the rest later.
    let script = carrier_sandbox::Script::every(Duration::from_secs(60), &[6, 7, 10, 12, 14]);
    carrier.bulk_orders(600, "KILL-", Some(&script));
    carrier.advance(Duration::from_secs(150));
    let first = carrier.records().len();
    assert!(first >= 1200, "{first} records published first");
    let env = carrier_env(&app, &carrier);
    let mut doomed = Process::start("worker-a", &["worker"], &env, dir.path());
    let first_end = carrier.records().last().map_or(0, |r| r.id);
    assert!(
        eventually(Duration::from_secs(15), || async {
            feed_cursor(&app).await == first_end && stored_events(&app).await == first as u64
        })
        .await,
        "the first records were not synced; log:\n{}",
        doomed.log_text()
    );

    // Now the carrier answers each feed page after 700 ms, and 1,800 more records wait: reading
    // them from the cursor (less the overlap window of 500) takes six pages, over four seconds.
    carrier.inject(carrier_sandbox::Fault::SlowAnswer {
        times: 1000,
        delay_ms: 700,
        scope: carrier_sandbox::Scope::Tracking,
    });
    carrier.advance(Duration::from_secs(600));
    let all = carrier.records();
    let end = all.last().map_or(0, |r| r.id);
    assert!(all.len() >= 3000, "{} records in all", all.len());
    // Kill it once its third page since then has been asked for: the carrier is holding that
    // answer, so the worker is in the middle of a read with pages in hand and nothing stored.
    let pages_before = carrier.stats().tracking_feed;
    assert!(
        eventually(Duration::from_secs(15), || async {
            carrier.stats().tracking_feed >= pages_before + 3
        })
        .await,
        "the worker did not read on; log:\n{}",
        doomed.log_text()
    );
    doomed.kill_9().await;
    let cursor_at_kill = feed_cursor(&app).await;
    let stored_at_kill = stored_events(&app).await;
    assert!(
        cursor_at_kill < end && stored_at_kill < all.len() as u64,
        "the kill did not land mid-read: cursor {cursor_at_kill} of {end}, {stored_at_kill} of {} \
         stored",
        all.len()
    );

    // The next worker takes the feed once the dead one's lease has run out and reads to the end.
    let next = Process::start("worker-b", &["worker"], &env, dir.path());
    assert!(
        eventually(Duration::from_secs(30), || async {
            feed_cursor(&app).await == end
        })
        .await,
        "the cursor stayed at {} of {end}; log:\n{}",
        feed_cursor(&app).await,
        next.log_text()
    );

    // Every carrier record is stored once: none lost, none doubled.
    let stored = entity::carrier_event::Entity::find()
        .all(&app.store.read)
        .await
        .expect("read carrier events");
    let mut times: HashMap<(String, i64), usize> = HashMap::new();
    for event in &stored {
        *times
            .entry((event.item_code.clone(), event.carrier_event_id))
            .or_insert(0) += 1;
    }
    let doubled: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "stored more than once: {doubled:?}");
    let lost: Vec<i64> = all
        .iter()
        .filter(|r| !times.contains_key(&(r.item_code.to_string(), r.id)))
        .map(|r| r.id)
        .collect();
    assert!(lost.is_empty(), "never stored: {lost:?}");
    assert_eq!(stored.len(), all.len());
    let cursor = entity::carrier_cursor::Entity::find()
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("the cursor");
    assert_eq!(cursor.last_id, end, "the cursor ends at the feed's end");
}

/// Each stored carrier event, by (item code, carrier id), and how many times it is stored.
async fn stored_tally(app: &TestApp) -> HashMap<(String, i64), usize> {
    let mut times = HashMap::new();
    for event in entity::carrier_event::Entity::find()
        .all(&app.store.read)
        .await
        .expect("read carrier events")
    {
        *times
            .entry((event.item_code, event.carrier_event_id))
            .or_insert(0) += 1;
    }
    times
}

#[tokio::test]
async fn two_workers_sync_a_backlog_longer_than_the_feed_lease_once_and_to_its_end() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let carrier = carrier_sandbox::Sandbox::start(carrier_sandbox::SandboxConfig::default())
        .await
        .expect("carrier sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    // 1,000 parcels, five events each: 5,000 records, ten pages of 500.
    let script = carrier_sandbox::Script::every(Duration::from_secs(60), &[6, 7, 10, 12, 14]);
    carrier.bulk_orders(1000, "LEASE-", Some(&script));
    carrier.advance(Duration::from_secs(600));
    let all = carrier.records();
    let end = all.last().map_or(0, |r| r.id);
    assert_eq!(all.len(), 5000);
    // The first page takes 4 s, longer than the whole 3 s lease, and every other one 700 ms: reading
    // the backlog takes about 10 s, more than three leases.
    carrier.inject(carrier_sandbox::Fault::SlowAnswer {
        times: 1,
        delay_ms: 4000,
        scope: carrier_sandbox::Scope::Tracking,
    });
    carrier.inject(carrier_sandbox::Fault::SlowAnswer {
        times: 1000,
        delay_ms: 700,
        scope: carrier_sandbox::Scope::Tracking,
    });
    let env = carrier_env(&app, &carrier);
    let a = Process::start("worker-a", &["worker"], &env, dir.path());
    let b = Process::start("worker-b", &["worker"], &env, dir.path());

    // The cursor moves on while the backlog is read, not only at its end.
    assert!(
        eventually(Duration::from_secs(20), || async {
            let cursor = feed_cursor(&app).await;
            cursor > 0 && cursor < end
        })
        .await,
        "the cursor did not move during the read; logs:\n{}\n{}",
        a.log_text(),
        b.log_text()
    );
    assert!(
        eventually(Duration::from_secs(60), || async {
            feed_cursor(&app).await == end
        })
        .await,
        "the cursor stayed at {} of {end}; logs:\n{}\n{}",
        feed_cursor(&app).await,
        a.log_text(),
        b.log_text()
    );

    // Every record stored once: none lost, none doubled.
    let times = stored_tally(&app).await;
    let doubled: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "stored more than once: {doubled:?}");
    let lost: Vec<i64> = all
        .iter()
        .filter(|r| !times.contains_key(&(r.item_code.to_string(), r.id)))
        .map(|r| r.id)
        .collect();
    assert!(lost.is_empty(), "never stored: {} records", lost.len());
    assert_eq!(times.len(), all.len());
}
