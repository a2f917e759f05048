//! Zalo's rotating refresh token across `dossier worker` processes on one PostgreSQL database, with the
//! real sandbox over HTTP. Once Zalo answered a refresh, the refresh token it was given is dead: a
//! worker stopped (SIGTERM, with a drain shorter than Zalo's answer) keeps the answer's tokens before it
//! exits, and a worker killed with `kill -9` after a refresh and while its message is on its way loses
//! nothing either. Each time the next worker's refresh presents the latest token and succeeds, and the
//! notice arrives once.

use std::time::Duration;

use domain::ops::integrations::{ZALO_TOKENS, get_state};
use entity::enums::OutboxStatus;
use entity::outbox;
use notify_sandbox::{ExpiryAnswer, NotifyConfig, NotifySandbox, Service};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tests::notify_fixture::{request_dossiers, worker_env};
use tests::{TestApp, test_database_url};

use crate::{Process, eventually};

async fn phone_notices(app: &TestApp) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("phone_notice"))
        .all(&app.store.read)
        .await
        .expect("read the outbox")
}

/// Whether the database keeps the refresh token Zalo will take next.
async fn keeps(app: &TestApp, sandbox: &NotifySandbox) -> bool {
    get_state(&app.store.read, ZALO_TOKENS)
        .await
        .ok()
        .flatten()
        .is_some_and(|v| v.contains(&sandbox.current_refresh_token()))
}

#[tokio::test]
async fn the_rotated_zalo_refresh_token_survives_a_worker_stopped_or_killed_around_a_refresh() {
    if test_database_url().is_none() {
        eprintln!(
            "note: worker process tests need PostgreSQL (TEST_DATABASE_URL); skipped on SQLite"
        );
        return;
    }
    let app = TestApp::spawn().await;
    let sandbox = NotifySandbox::start(NotifyConfig::default())
        .await
        .expect("notify sandbox");
    let configured = sandbox.config().zalo_refresh_token.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = worker_env(&sandbox.base_url(), sandbox.config());
    env.extend([
        ("DATABASE_URL", app.database_url.clone()),
        (
            "DOSSIER__SMTP__MAIL_DIR",
            dir.path().join("mail").display().to_string(),
        ),
        ("DOSSIER__OUTBOX__LEASE_SECS", "3".into()),
        ("DOSSIER__OUTBOX__RETRY_BASE_SECS", "1".into()),
        ("DOSSIER__OUTBOX__RETRY_CAP_SECS", "1".into()),
        ("DOSSIER__OUTBOX__MAX_ATTEMPTS", "50".into()),
        ("DOSSIER__OUTBOX__INTEGRATION_TIMEOUT_SECS", "10".into()),
        ("DOSSIER__OUTBOX__ATTEMPT_TIMEOUT_SECS", "20".into()),
        ("DOSSIER__OUTBOX__SHUTDOWN_DRAIN_SECS", "1".into()),
    ]);

    // 1. Zalo makes the refresh at once and answers after 3 s; the worker is stopped meanwhile, with a
    //    drain of 1 s. It keeps the answer's tokens before it exits.
    sandbox.set_oauth_answer_delay(Some(Duration::from_secs(3)));
    let mut stopped = Process::start("worker-a", &["worker"], &env, dir.path());
    assert!(
        eventually(Duration::from_secs(30), || async {
            let o = domain::ops::integrations::outlets(&app.store.read)
                .await
                .unwrap_or_default();
            o.phone
        })
        .await,
        "the worker did not declare its outlets; log:\n{}",
        stopped.log_text()
    );
    request_dossiers(&app, 1).await.expect("request");
    assert!(
        eventually(Duration::from_secs(30), || async {
            sandbox.counts().token_refreshes == 1
        })
        .await,
        "no refresh within 30 s; log:\n{}",
        stopped.log_text()
    );
    let rotated = sandbox.current_refresh_token();
    stopped.terminate(Duration::from_secs(28)).await;
    assert!(
        keeps(&app, &sandbox).await,
        "the rotated refresh token was lost; log:\n{}",
        stopped.log_text()
    );
    assert!(sandbox.zns().is_empty() && sandbox.sms().is_empty());
    sandbox.set_oauth_answer_delay(None);

    // 2. The access token expired; the next worker refreshes with the kept token and is killed while
    //    its message is on its way (every ZNS call answers after 3 s).
    sandbox.expire_access_token(ExpiryAnswer::ErrorCode);
    sandbox.set_delay(Service::Zns, Duration::from_secs(3));
    let mut killed = Process::start("worker-b", &["worker"], &env, dir.path());
    assert!(
        eventually(Duration::from_secs(40), || async {
            sandbox.counts().token_refreshes == 2 && keeps(&app, &sandbox).await
        })
        .await,
        "the second refresh was not kept; log:\n{}",
        killed.log_text()
    );
    let rotated_again = sandbox.current_refresh_token();
    killed.kill_9().await;
    assert!(sandbox.zns().is_empty() && sandbox.sms().is_empty());

    // 3. Expired once more: the worker after the kill refreshes with the token kept before the kill,
    //    and succeeds; the notice arrives once, by ZNS.
    sandbox.set_delay(Service::Zns, Duration::ZERO);
    sandbox.expire_access_token(ExpiryAnswer::ErrorCode);
    let last = Process::start("worker-c", &["worker"], &env, dir.path());
    assert!(
        eventually(Duration::from_secs(40), || async {
            let rows = phone_notices(&app).await;
            !rows.is_empty() && rows.iter().all(|r| r.status == OutboxStatus::Done)
        })
        .await,
        "the notice was not sent; log:\n{}",
        last.log_text()
    );
    assert_eq!(
        sandbox.refresh_tokens_used(),
        vec![configured, rotated, rotated_again]
    );
    let counts = sandbox.counts();
    assert_eq!(counts.token_refresh_refused, 0, "{counts:?}");
    assert_eq!(counts.token_refreshes, 3, "{counts:?}");
    let rows = phone_notices(&app).await;
    let sent: Vec<String> = sandbox.zns().into_iter().map(|m| m.tracking_id).collect();
    assert_eq!(
        sent,
        rows.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(),
        "each notice by ZNS exactly once"
    );
    assert!(sandbox.sms().is_empty(), "no notice went by SMS");
    assert_eq!(counts.zns_duplicates, 0, "{counts:?}");
}
