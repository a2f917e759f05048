//! Phone notices and portal calls sent by two `dossier worker` processes on one PostgreSQL database,
//! one of them killed with `kill -9` while its sends are in flight: every SMS, ZNS message and portal
//! call still arrives exactly once at the sandbox by its `RequestId`, `tracking_id` or `X-Request-Id`,
//! and each dossier's portal calls arrive in the order of its changes.

use std::collections::HashMap;
use std::time::Duration;

use entity::enums::OutboxStatus;
use entity::outbox;
use notify_sandbox::{NotifyConfig, NotifySandbox, Service};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tests::notify_fixture::{JOURNEY, change, phone, request_dossiers, worker_env};
use tests::{TestApp, test_database_url};

use crate::{Process, eventually};

async fn rows(app: &TestApp, kind: &str) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq(kind))
        .order_by_asc(outbox::Column::Id)
        .all(&app.store.read)
        .await
        .expect("read the outbox")
}

#[tokio::test]
async fn each_sms_zns_message_and_portal_call_arrives_once_when_a_worker_is_killed_mid_send() {
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
    // Slow answers keep sends in flight when the worker dies.
    for service in [Service::Sms, Service::Zns, Service::PortalService] {
        sandbox.set_delay(service, Duration::from_millis(150));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = worker_env(&sandbox.base_url(), sandbox.config());
    env.extend([
        ("DATABASE_URL", app.database_url.clone()),
        (
            "DOSSIER__SMTP__MAIL_DIR",
            dir.path().join("mail").display().to_string(),
        ),
        ("DOSSIER__OUTBOX__CONCURRENCY", "8".into()),
        ("DOSSIER__OUTBOX__BATCH_SIZE", "20".into()),
        ("DOSSIER__OUTBOX__LEASE_SECS", "3".into()),
        ("DOSSIER__OUTBOX__RETRY_BASE_SECS", "1".into()),
        ("DOSSIER__OUTBOX__RETRY_CAP_SECS", "1".into()),
        ("DOSSIER__OUTBOX__MAX_ATTEMPTS", "50".into()),
        ("DOSSIER__OUTBOX__INTEGRATION_TIMEOUT_SECS", "5".into()),
        ("DOSSIER__OUTBOX__ATTEMPT_TIMEOUT_SECS", "10".into()),
    ]);
    let mut doomed = Process::start("worker-a", &["worker"], &env, dir.path());
    let survivor = Process::start("worker-b", &["worker"], &env, dir.path());
    assert!(
        eventually(Duration::from_secs(30), || async {
            let o = domain::ops::integrations::outlets(&app.store.read)
                .await
                .unwrap_or_default();
            o.phone && o.portal
        })
        .await,
        "the workers did not declare their outlets; log:\n{}",
        doomed.log_text()
    );

    let dossiers = 40;
    for i in (0..dossiers).step_by(3) {
        sandbox.refuse_zns_phone(&format!("84{}", &phone(i)[1..]));
    }
    let ids = request_dossiers(&app, dossiers).await.expect("requests");
    for (kind, to, leg) in JOURNEY {
        for id in &ids {
            change(&app.store, *id, kind, to, leg)
                .await
                .expect("change");
        }
    }
    let phone_rows = rows(&app, "phone_notice").await;
    let portal_rows = rows(&app, "portal_call").await;
    assert_eq!(phone_rows.len(), dossiers * 5);
    assert_eq!(portal_rows.len(), dossiers * 4);
    let taken = || sandbox.sms().len() + sandbox.zns().len() + sandbox.portal_calls().len();
    let all = phone_rows.len() + portal_rows.len();
    assert!(
        eventually(Duration::from_secs(60), || async { taken() >= all / 4 }).await,
        "only {} of {all} arrived within 60 s; logs:\n{}\n{}",
        taken(),
        doomed.log_text(),
        survivor.log_text()
    );
    doomed.kill_9().await;

    let done = eventually(Duration::from_secs(90), || async {
        let mut left = 0;
        for kind in ["phone_notice", "portal_call"] {
            left += rows(&app, kind)
                .await
                .iter()
                .filter(|r| r.status != OutboxStatus::Done)
                .count();
        }
        left == 0
    })
    .await;
    assert!(
        done,
        "not everything was sent; survivor's log:\n{}",
        survivor.log_text()
    );

    let mut seen: HashMap<String, usize> = HashMap::new();
    for id in sandbox
        .sms()
        .into_iter()
        .map(|m| m.request_id)
        .chain(sandbox.zns().into_iter().map(|m| m.tracking_id))
    {
        *seen.entry(id).or_default() += 1;
    }
    for row in &phone_rows {
        assert_eq!(
            seen.remove(&row.id.to_string()),
            Some(1),
            "phone notice {} did not arrive exactly once",
            row.id
        );
    }
    assert!(seen.is_empty(), "messages no row stands for: {seen:?}");
    let calls = sandbox.portal_calls();
    let call_ids: Vec<String> = calls.iter().filter_map(|c| c.request_id.clone()).collect();
    let mut sorted = call_ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), calls.len(), "a portal call arrived twice");
    let mut expected: Vec<String> = portal_rows.iter().map(|r| r.id.to_string()).collect();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "portal calls lost or unknown");
    // Per dossier, in the order of its changes.
    let mut by_dossier: HashMap<String, Vec<i64>> = HashMap::new();
    for c in &calls {
        by_dossier
            .entry(c.data[0]["MaHoSo"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(c.data[0]["TrangThaiHoSo"].as_i64().unwrap_or_default());
    }
    for (code, order) in &by_dossier {
        assert_eq!(
            order,
            &vec![2, 4, 9, 10],
            "dossier {code}'s calls out of order"
        );
    }
    let counts = sandbox.counts();
    eprintln!(
        "repeats the receivers dropped: sms {}, zns {}, portal {}",
        counts.sms_duplicates, counts.zns_duplicates, counts.portal_duplicates
    );
    // Only what the killed worker had in flight may have been sent a second time.
    assert!(
        counts.sms_duplicates + counts.zns_duplicates + counts.portal_duplicates <= 16,
        "{counts:?}"
    );
}
