//! E-mail against an SMTP server that defers, refuses or goes away in the middle of a conversation
//! (the tests' sink answering a chosen reply at `RCPT TO`, at `DATA` or at the message's final `.`):
//! a 4xx keeps the e-mail pending with the error recorded and retries it after a growing wait until
//! the server accepts; a 5xx fails it for good at once, listed for the administrators and never tried
//! again; a connection dropped after the final `.` and before the answer is a failed attempt, retried.
//!
//! The worker is driven step by step on a backoff of one second (doubling), so the waits are real
//! but short.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ops::outbox::RetryPolicy;
use entity::enums::{OutboxStatus, Role};
use entity::outbox;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::Value;
use tests::TestApp;
use tests::outbox_fixture::{message_key, queue_emails};
use tests::smtp_sink::{SmtpReply, SmtpSink, SmtpStage};
use worker::StepOutcome;
use worker::outbox::{OutboxDeps, step};

use super::notifications::deps_with;

/// The wait after a first failed attempt; doubled after each further one.
const BASE: Duration = Duration::from_secs(1);
const DEADLINE: Duration = Duration::from_secs(15);

/// A worker mailing `sink`, retrying after [`BASE`], 2 × [`BASE`], 4 × [`BASE`] …
fn deps(sink: &SmtpSink) -> OutboxDeps {
    let mut deps = deps_with(Some(sink.url()), std::env::temp_dir().join("unused"), 12);
    deps.settings.retry = RetryPolicy {
        base: BASE,
        cap: Duration::from_secs(10),
        max_attempts: 12,
    };
    deps
}

/// Every e-mail row, oldest first.
async fn rows(app: &TestApp) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(&app.store.read)
        .await
        .expect("read the outbox")
}

/// The one e-mail row.
async fn the_row(app: &TestApp) -> outbox::Model {
    let mut rows = rows(app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.remove(0)
}

/// Steps the worker until a step works (the row is due and attempted); returns when that step
/// started and ended.
async fn next_attempt(app: &TestApp, deps: &OutboxDeps) -> (DateTime<Utc>, DateTime<Utc>) {
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let started = Utc::now();
        match step(&app.store, deps).await {
            StepOutcome::Worked => return (started, Utc::now()),
            StepOutcome::Idle | StepOutcome::Failed => {
                assert!(
                    tokio::time::Instant::now() < until,
                    "no attempt was due within {DEADLINE:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// How many times the sink took in each message key (acknowledged or not).
fn copies(sink: &SmtpSink) -> Vec<(String, bool)> {
    sink.messages()
        .iter()
        .map(|m| {
            (
                message_key(&m.data).expect("every message has a Message-ID"),
                m.acknowledged,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_4xx_to_rcpt_or_data_keeps_the_e_mail_pending_with_its_error_and_retries_it_with_backoff_until_accepted()
 {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink);
    let keys = queue_emails(&app.store, "deferred", 1)
        .await
        .expect("queue");
    // The server defers the message three times, at each point of the conversation where a server
    // may: the recipient, the DATA command, and the message once sent whole.
    let deferrals = [
        (SmtpStage::Rcpt, 450, "4.2.1 Mailbox busy, try again later"),
        (SmtpStage::Data, 451, "4.3.0 Local error, try again later"),
        (SmtpStage::EndOfData, 452, "4.3.1 Insufficient storage"),
    ];
    for (stage, code, text) in deferrals {
        sink.reply_next(stage, SmtpReply::code(code, text));
    }

    for (i, (stage, code, _)) in deferrals.into_iter().enumerate() {
        let (started, ended) = next_attempt(&app, &deps).await;
        assert_eq!(
            sink.reached(stage),
            1,
            "attempt {} was deferred at {stage:?}",
            i + 1
        );
        let row = the_row(&app).await;
        assert_eq!(
            row.status,
            OutboxStatus::Pending,
            "attempt {}: {row:?}",
            i + 1
        );
        assert_eq!(row.attempts, i as i32 + 1);
        assert_eq!(
            row.last_error.as_deref(),
            Some(format!("SMTP server deferred the message ({code})").as_str()),
            "the error is recorded, without the server's words"
        );
        assert!(row.locked_by.is_none(), "given back: {row:?}");
        // Retried after a wait that doubles: 1 s, 2 s, 4 s.
        let wait = chrono::Duration::from_std(BASE * (1 << i)).expect("wait");
        let slack = chrono::Duration::milliseconds(5);
        assert!(
            row.next_attempt_at >= started + wait - slack
                && row.next_attempt_at <= ended + wait + slack,
            "attempt {}: next at {}, attempted between {started} and {ended}, wait {wait}",
            i + 1,
            row.next_attempt_at
        );
        // Not before then.
        assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
        assert!(
            Utc::now() < row.next_attempt_at,
            "the test was too slow to see the wait"
        );
        assert_eq!(sink.count(), 0, "nothing was accepted yet");
    }

    // The fourth attempt is accepted: delivered once, and done.
    let (started, _) = next_attempt(&app, &deps).await;
    let row = the_row(&app).await;
    assert!(started >= row.created_at + chrono::Duration::from_std(BASE * 7).expect("wait"));
    assert_eq!(row.status, OutboxStatus::Done, "{row:?}");
    assert_eq!(row.attempts, 3);
    assert!(row.done_at.is_some());
    assert_eq!(copies(&sink), vec![(keys[0].clone(), true)]);
    assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
}

#[tokio::test]
async fn a_5xx_fails_the_e_mail_for_good_at_once_listed_for_the_administrators_and_never_retried() {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink);
    queue_emails(&app.store, "refused", 2).await.expect("queue");
    // One is refused at its recipient, the other once sent whole.
    sink.reply_next(
        SmtpStage::Rcpt,
        SmtpReply::code(550, "5.1.1 No such user here"),
    );
    sink.reply_next(
        SmtpStage::EndOfData,
        SmtpReply::code(554, "5.7.1 Message rejected as spam"),
    );

    next_attempt(&app, &deps).await;
    let expected: HashSet<String> = [550, 554]
        .iter()
        .map(|code| format!("SMTP server refused the message permanently ({code})"))
        .collect();
    let check = |rows: Vec<outbox::Model>| {
        assert_eq!(rows.len(), 2);
        for row in &rows {
            assert_eq!(row.status, OutboxStatus::Failed, "{row:?}");
            assert_eq!(row.attempts, 1, "one attempt only: {row:?}");
            assert!(row.locked_by.is_none() && row.done_at.is_none(), "{row:?}");
        }
        let errors: HashSet<String> = rows.iter().filter_map(|r| r.last_error.clone()).collect();
        assert_eq!(errors, expected);
    };
    check(rows(&app).await);

    // Long past any wait the backoff would have given a retry, nothing is tried again.
    tokio::time::sleep(BASE * 3).await;
    for _ in 0..3 {
        assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
    }
    check(rows(&app).await);
    assert_eq!(sink.reached(SmtpStage::Rcpt), 2, "no second conversation");
    assert_eq!(sink.count(), 0, "the refused messages were not kept");

    // The administrators find both on the failed list, with the reason.
    let admin = app.key(Role::Admin, None, None).await;
    let res = app
        .client
        .get(app.url("/api/v1/admin/outbox?status=failed"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let listed: Value = res.json().await.expect("json");
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let errors: HashSet<String> = listed
        .iter()
        .map(|r| r["last_error"].as_str().expect("last_error").to_owned())
        .collect();
    assert_eq!(errors, expected);
}

/// The one case where a receiver sees the same Message-ID twice: the server took in the whole
/// message and the connection dropped before its answer to the final `.`. The worker cannot know
/// whether the server kept it, so it counts a failed attempt and sends again; the Message-ID is the
/// same on both, and receivers (or their mail servers) drop the repeat by it. A 4xx or 5xx answer,
/// or a connection lost before the final `.`, never leads to a second copy.
#[tokio::test]
async fn a_connection_dropped_after_the_final_dot_is_a_failed_attempt_retried_under_the_same_message_id()
 {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await.expect("sink");
    let deps = deps(&sink);
    let keys = queue_emails(&app.store, "dropped", 1).await.expect("queue");
    sink.reply_next(SmtpStage::EndOfData, SmtpReply::Drop);

    let (started, ended) = next_attempt(&app, &deps).await;
    let row = the_row(&app).await;
    assert_eq!(row.status, OutboxStatus::Pending, "{row:?}");
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_error.as_deref(), Some("SMTP connection failed"));
    let wait = chrono::Duration::from_std(BASE).expect("wait");
    assert!(
        row.next_attempt_at >= started + wait - chrono::Duration::milliseconds(5)
            && row.next_attempt_at <= ended + wait + chrono::Duration::milliseconds(5),
        "{row:?}"
    );
    assert_eq!(
        copies(&sink),
        vec![(keys[0].clone(), false)],
        "the server took the message in and never answered"
    );

    next_attempt(&app, &deps).await;
    let row = the_row(&app).await;
    assert_eq!(row.status, OutboxStatus::Done, "{row:?}");
    assert_eq!(row.attempts, 1);
    assert_eq!(
        copies(&sink),
        vec![(keys[0].clone(), false), (keys[0].clone(), true)],
        "the same Message-ID, twice"
    );
    assert_eq!(step(&app.store, &deps).await, StepOutcome::Idle);
}
