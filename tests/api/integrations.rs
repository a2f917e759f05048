//! The outside systems of INTEGRATIONS.md over real HTTP to the sandbox the project ships: citizen
//! notices to the phone by Zalo ZNS, by SMS when ZNS refuses the phone; Zalo's rotating tokens; the
//! national portal's session and its calls, in order per dossier and never holding a dossier back;
//! bad answers retried; each message exactly once. The worker is driven step by step.

use std::collections::HashMap;
use std::time::Duration;

use domain::ops::outbox::RetryPolicy;
use entity::enums::OutboxStatus;
use entity::outbox;
use notify_sandbox::{ExpiryAnswer, Fault, NotifyConfig, NotifySandbox, Service};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use secrecy::SecretString;
use serde_json::{Value, json};
use tests::TestApp;
use worker::StepOutcome;
use worker::mail::MailSettings;
use worker::outbox::{OutboxDeps, OutboxSettings, step};

use super::postal::{Keys, confirm, draft, json_of, picked_up, post};

const DEADLINE: Duration = Duration::from_secs(20);
const PUBLIC: &str = "https://hoso.example.vn";
/// The example request's phone.
const PHONE: &str = "0912345678";

/// An app whose settings name the sandbox (so it writes phone notices and portal calls), and a
/// worker for it.
struct Rig {
    app: TestApp,
    sandbox: NotifySandbox,
    _mail: tempfile::TempDir,
}

impl Rig {
    async fn start() -> Rig {
        let sandbox = NotifySandbox::start(NotifyConfig::default())
            .await
            .expect("sandbox");
        let base = sandbox.base_url();
        let c = sandbox.config().clone();
        let app = TestApp::spawn_with(|s| {
            s.sms = api::settings::SmsSettings {
                url: Some(base.clone()),
                api_key: Some(c.sms_api_key.clone()),
                secret_key: Some(SecretString::from(c.sms_secret_key.clone())),
                brandname: Some(c.sms_brandname.clone()),
            };
            s.zalo = api::settings::ZaloSettings {
                base_url: base.clone(),
                oauth_url: base.clone(),
                app_id: Some(c.zalo_app_id.clone()),
                secret_key: Some(SecretString::from(c.zalo_secret_key.clone())),
                refresh_token: Some(SecretString::from(c.zalo_refresh_token.clone())),
                template_id: Some(c.zalo_template_id.clone()),
            };
            s.portal = api::settings::PortalSettings {
                base_url: Some(base.clone()),
                username: Some(c.portal_username.clone()),
                password: Some(SecretString::from(c.portal_password.clone())),
                dstcode: Some(c.portal_dstcode.clone()),
            };
        })
        .await;
        Rig {
            app,
            sandbox,
            _mail: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A worker (a fresh one each call: nothing in memory, as after a restart) delivering to the
    /// sandbox, retrying within milliseconds; calls time out after `timeout`.
    fn worker(&self, timeout: Duration) -> OutboxDeps {
        OutboxDeps::new(&self.settings(timeout)).expect("set up the worker")
    }

    /// The settings of [`Rig::worker`].
    fn settings(&self, timeout: Duration) -> OutboxSettings {
        let base = self.sandbox.base_url();
        let c = self.sandbox.config();
        OutboxSettings {
            mail: MailSettings {
                dir: self._mail.path().to_path_buf(),
                ..MailSettings::default()
            },
            public_base_url: PUBLIC.to_owned(),
            retry: RetryPolicy {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(5),
                max_attempts: 50,
            },
            batch_size: 50,
            concurrency: 8,
            lease: Duration::from_secs(60),
            sms: Some(worker::sms::SmsConfig {
                url: base.clone(),
                api_key: c.sms_api_key.clone(),
                secret_key: SecretString::from(c.sms_secret_key.clone()),
                brandname: c.sms_brandname.clone(),
                timeout,
            }),
            zalo: Some(worker::zalo::ZaloConfig {
                base_url: base.clone(),
                oauth_url: base.clone(),
                app_id: c.zalo_app_id.clone(),
                secret_key: SecretString::from(c.zalo_secret_key.clone()),
                refresh_token: SecretString::from(c.zalo_refresh_token.clone()),
                template_id: c.zalo_template_id.clone(),
                timeout,
            }),
            portal: Some(worker::portal::PortalConfig {
                base_url: base,
                username: c.portal_username.clone(),
                password: SecretString::from(c.portal_password.clone()),
                dstcode: c.portal_dstcode.clone(),
                timeout,
            }),
            ..OutboxSettings::default()
        }
    }

    /// Rows of `kind`, oldest first.
    async fn rows(&self, kind: &str) -> Vec<outbox::Model> {
        outbox::Entity::find()
            .filter(outbox::Column::Kind.eq(kind))
            .order_by_asc(outbox::Column::Id)
            .all(&self.app.store.read)
            .await
            .expect("read the outbox")
    }

    /// Steps `worker` until no phone notice or portal call is pending, within a deadline.
    async fn deliver_all(&self, worker: &OutboxDeps) {
        let until = tokio::time::Instant::now() + DEADLINE;
        loop {
            let mut pending = 0;
            for kind in ["phone_notice", "portal_call", "email"] {
                pending += self
                    .rows(kind)
                    .await
                    .iter()
                    .filter(|r| r.status == OutboxStatus::Pending)
                    .count();
            }
            if pending == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "{pending} rows still pending; phone: {:?}; portal: {:?}",
                self.rows("phone_notice").await,
                self.rows("portal_call").await
            );
            if step(&self.app.store, worker).await != StepOutcome::Worked {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    /// Asserts that every phone notice reached the phone exactly once, by ZNS or by SMS, under its
    /// row's id, and nothing else did; returns (by ZNS, by SMS) row ids.
    async fn assert_each_phone_notice_once(&self) -> (Vec<String>, Vec<String>) {
        let rows = self.rows("phone_notice").await;
        assert!(!rows.is_empty(), "no phone notice was written");
        let zns: Vec<String> = self
            .sandbox
            .zns()
            .into_iter()
            .map(|m| m.tracking_id)
            .collect();
        let sms: Vec<String> = self
            .sandbox
            .sms()
            .into_iter()
            .map(|m| m.request_id)
            .collect();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for id in zns.iter().chain(sms.iter()) {
            *seen.entry(id.clone()).or_default() += 1;
        }
        for row in &rows {
            assert_eq!(row.status, OutboxStatus::Done, "row {} not done", row.id);
            assert_eq!(
                seen.remove(&row.id.to_string()),
                Some(1),
                "phone notice {} did not arrive exactly once (zns {zns:?}, sms {sms:?})",
                row.id
            );
        }
        assert!(seen.is_empty(), "messages no row stands for: {seen:?}");
        let counts = self.sandbox.counts();
        assert_eq!(counts.sms_duplicates, 0, "an SMS RequestId was sent twice");
        assert_eq!(counts.zns_duplicates, 0, "a ZNS tracking_id was sent twice");
        assert_eq!(counts.portal_duplicates, 0, "a portal call was made twice");
        (zns, sms)
    }
}

/// A pickup request for `phone`; returns its code.
async fn request_for(app: &TestApp, phone: &str) -> String {
    let mut body = tests::valid_request();
    body["applicant"]["phone"] = phone.into();
    let created = json_of(app.post_dossier(&body).await, 201).await;
    created["code"].as_str().expect("code").to_owned()
}

/// A dossier picked up and handed to the agency: `received_by_agency`, filed.
async fn filed(app: &TestApp, keys: &Keys) -> String {
    let (code, _) = picked_up(app, &keys.postal).await;
    let record = draft(app, &keys.postal, "to_agency", &[&code]).await;
    confirm(app, &keys.agency, record["id"].as_i64().expect("id")).await;
    code
}

async fn act(app: &TestApp, keys: &Keys, code: &str, action: &str, body: Value) -> Value {
    json_of(
        post(
            app,
            &format!("/api/v1/dossiers/{code}/{action}"),
            Some(&keys.agency),
            &body,
        )
        .await,
        200,
    )
    .await
}

/// The portal calls of dossier `code`: (service, TrangThaiHoSo), in the order the portal took them.
fn portal_calls_of(sandbox: &NotifySandbox, code: &str) -> Vec<(String, i64)> {
    sandbox
        .portal_calls()
        .into_iter()
        .filter(|c| c.data[0]["MaHoSo"] == code)
        .map(|c| {
            (
                c.service,
                c.data[0]["TrangThaiHoSo"].as_i64().expect("TrangThaiHoSo"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_notice_goes_by_zns_and_by_sms_instead_when_zns_refuses_the_phone() {
    let rig = Rig::start().await;
    rig.sandbox.refuse_zns_phone("84912345678");
    let by_sms = request_for(&rig.app, PHONE).await;
    let by_zns = request_for(&rig.app, "0987654321").await;
    let worker = rig.worker(Duration::from_secs(5));
    rig.deliver_all(&worker).await;

    let (zns, sms) = rig.assert_each_phone_notice_once().await;
    assert_eq!((zns.len(), sms.len()), (1, 1));
    let sms = &rig.sandbox.sms()[0];
    assert_eq!(sms.phone, PHONE);
    assert_eq!(sms.is_unicode, "0");
    assert_eq!(sms.sms_type, "2");
    assert_eq!(sms.brandname, rig.sandbox.config().sms_brandname);
    assert_eq!(
        sms.content,
        format!("Ho so {by_sms}: Da nhan yeu cau thu gom. Tra cuu: {PUBLIC}/t/{by_sms}")
    );
    assert!(sms.content.is_ascii() && sms.content.len() <= 160);
    let zns = &rig.sandbox.zns()[0];
    assert_eq!(zns.phone, "84987654321");
    assert_eq!(zns.template_id, rig.sandbox.config().zalo_template_id);
    assert_eq!(zns.template_data["dossier_code"], by_zns.as_str());
    assert_eq!(zns.template_data["status_text"], "Đã nhận yêu cầu thu gom");
    assert_eq!(
        zns.template_data["tracking_url"],
        format!("{PUBLIC}/t/{by_zns}")
    );
    assert_eq!(rig.sandbox.counts().zns_refused, 1);

    // The refused phone's later notices go straight to SMS: ZNS is not asked again for them.
    let keys = Keys::new(&rig.app).await;
    let total = json_of(rig.app.get_dossier(&by_sms, Some(&keys.postal)).await, 200).await["fees"]
        ["total_vnd"]
        .as_i64()
        .expect("total");
    json_of(
        post(
            &rig.app,
            &format!("/api/v1/dossiers/{by_sms}/pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total}),
        )
        .await,
        200,
    )
    .await;
    rig.deliver_all(&worker).await;
    rig.assert_each_phone_notice_once().await;
    let last = rig.sandbox.sms().last().cloned().expect("an SMS");
    assert_eq!(
        last.content,
        format!("Ho so {by_sms}: Buu dien da nhan ho so. Tra cuu: {PUBLIC}/t/{by_sms}")
    );
    assert_eq!(rig.sandbox.counts().zns_refused, 2);
}

#[tokio::test]
async fn an_expired_zalo_token_is_refreshed_once_and_the_rotated_refresh_token_is_used_next_even_after_a_restart()
 {
    let rig = Rig::start().await;
    let configured = rig.sandbox.config().zalo_refresh_token.clone();
    let worker = rig.worker(Duration::from_secs(5));
    request_for(&rig.app, PHONE).await;
    rig.deliver_all(&worker).await;
    assert_eq!(rig.sandbox.refresh_tokens_used(), vec![configured.clone()]);
    let rotated = rig.sandbox.current_refresh_token();
    assert_ne!(rotated, configured);

    // Expired, answered with HTTP 401: refreshed with the rotated token, the message sent once.
    rig.sandbox.expire_access_token(ExpiryAnswer::Http401);
    request_for(&rig.app, PHONE).await;
    rig.deliver_all(&worker).await;
    assert_eq!(
        rig.sandbox.refresh_tokens_used(),
        vec![configured.clone(), rotated.clone()]
    );

    // Expired, answered with ZNS's access-token error, to a worker started afresh: the refresh token
    // it uses is the latest one kept in the database, not the configured one.
    let rotated_again = rig.sandbox.current_refresh_token();
    rig.sandbox.expire_access_token(ExpiryAnswer::ErrorCode);
    let restarted = rig.worker(Duration::from_secs(5));
    request_for(&rig.app, PHONE).await;
    rig.deliver_all(&restarted).await;
    assert_eq!(
        rig.sandbox.refresh_tokens_used(),
        vec![configured, rotated, rotated_again]
    );
    let counts = rig.sandbox.counts();
    assert_eq!(counts.token_refresh_refused, 0);
    assert_eq!(counts.token_refreshes, 3);
    assert_eq!(counts.zns_token_refused, 2);
    let (zns, sms) = rig.assert_each_phone_notice_once().await;
    assert_eq!((zns.len(), sms.len()), (3, 0), "every notice went by ZNS");
}

#[tokio::test]
async fn a_zalo_refresh_answered_after_its_attempt_was_given_up_is_kept_and_the_next_refresh_succeeds()
 {
    let rig = Rig::start().await;
    let configured = rig.sandbox.config().zalo_refresh_token.clone();
    // Zalo rotates the refresh token at once but answers after the attempt's deadline.
    rig.sandbox
        .set_oauth_answer_delay(Some(Duration::from_millis(1500)));
    let mut settings = rig.settings(Duration::from_secs(5));
    settings.attempt_timeout = Duration::from_millis(500);
    let hasty = OutboxDeps::new(&settings).expect("set up the worker");
    request_for(&rig.app, PHONE).await;
    step(&rig.app.store, &hasty).await;
    let notice = &rig.rows("phone_notice").await[0];
    assert_eq!(notice.status, OutboxStatus::Pending);
    assert!(
        notice
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("did not finish"),
        "{notice:?}"
    );
    assert_eq!(rig.sandbox.counts().token_refreshes, 1);
    assert!(rig.sandbox.zns().is_empty() && rig.sandbox.sms().is_empty());
    // The worker keeps the answer it was still waiting for before it stops.
    hasty
        .phone
        .zns
        .as_ref()
        .expect("ZNS configured")
        .settle()
        .await;
    rig.sandbox.set_oauth_answer_delay(None);

    // A worker started afresh goes on from the kept tokens: the notice goes by ZNS, once.
    rig.deliver_all(&rig.worker(Duration::from_secs(5))).await;
    assert_eq!(rig.sandbox.refresh_tokens_used(), vec![configured.clone()]);
    // Its access token expired, the next refresh presents the rotated refresh token, and succeeds.
    let rotated = rig.sandbox.current_refresh_token();
    rig.sandbox.expire_access_token(ExpiryAnswer::ErrorCode);
    request_for(&rig.app, PHONE).await;
    rig.deliver_all(&rig.worker(Duration::from_secs(5))).await;
    assert_eq!(rig.sandbox.refresh_tokens_used(), vec![configured, rotated]);
    let counts = rig.sandbox.counts();
    assert_eq!(counts.token_refresh_refused, 0);
    assert_eq!(counts.token_refreshes, 2);
    let (zns, sms) = rig.assert_each_phone_notice_once().await;
    assert_eq!((zns.len(), sms.len()), (2, 0), "every notice went by ZNS");
}

#[tokio::test]
async fn when_zalo_refuses_the_refresh_token_notices_go_by_sms_until_a_new_one_is_configured() {
    let rig = Rig::start().await;
    // A refresh token Zalo no longer knows (one lost after a rotation, say).
    let mut settings = rig.settings(Duration::from_secs(5));
    if let Some(zalo) = settings.zalo.as_mut() {
        zalo.refresh_token = SecretString::from("rt-lost-after-rotation".to_owned());
    }
    let stale = OutboxDeps::new(&settings).expect("set up the worker");
    request_for(&rig.app, PHONE).await;
    rig.deliver_all(&stale).await;
    let counts = rig.sandbox.counts();
    assert_eq!(counts.token_refreshes, 0);
    assert!(counts.token_refresh_refused >= 1, "{counts:?}");
    let (zns, sms) = rig.assert_each_phone_notice_once().await;
    assert_eq!((zns.len(), sms.len()), (0, 1), "the notice went by SMS");

    // The operator configures a valid refresh token: the next notice goes by ZNS again.
    request_for(&rig.app, PHONE).await;
    rig.deliver_all(&rig.worker(Duration::from_secs(5))).await;
    assert_eq!(rig.sandbox.counts().token_refreshes, 1);
    let (zns, sms) = rig.assert_each_phone_notice_once().await;
    assert_eq!((zns.len(), sms.len()), (1, 1));
}

#[tokio::test]
async fn an_expired_portal_session_means_a_new_login_and_the_call_made_once_more() {
    let rig = Rig::start().await;
    let keys = Keys::new(&rig.app).await;
    let worker = rig.worker(Duration::from_secs(5));
    let code = filed(&rig.app, &keys).await;
    rig.deliver_all(&worker).await;
    assert_eq!(
        portal_calls_of(&rig.sandbox, &code),
        vec![("DongBoHoSoMC".to_owned(), 2)]
    );
    let sync = &rig.sandbox.portal_calls()[0];
    assert_eq!(
        sync.madonvi,
        super::postal::AGENCY,
        "the agency's code by default"
    );
    let d = &sync.data[0];
    assert_eq!(d["MaTTHC"], "1.001612");
    assert_eq!(d["ChuHoSo"], "Nguyễn Văn An");
    assert_eq!(d["HinhThuc"], 1);
    for field in ["NgayTiepNhan", "NgayHenTra"] {
        let t = d[field].as_str().expect(field);
        assert!(
            t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()),
            "{field}: {t}"
        );
    }
    let rows = rig.rows("portal_call").await;
    assert_eq!(sync.request_id, Some(rows[0].id.to_string()));

    // The agency's unit code at the portal, from the admin reference data.
    let admin = rig.app.key(entity::enums::Role::Admin, None, None).await;
    let agencies = json_of(
        super::postal::get(&rig.app, "/api/v1/admin/agencies", Some(&admin)).await,
        200,
    )
    .await;
    let mut agency = agencies
        .as_array()
        .and_then(|a| a.iter().find(|a| a["code"] == super::postal::AGENCY))
        .cloned()
        .expect("the agency");
    assert_eq!(agency["portal_unit_code"], super::postal::AGENCY);
    agency["portal_unit_code"] = "000.00.01.H26".into();
    let written = json_of(
        post(&rig.app, "/api/v1/admin/agencies", Some(&admin), &agency).await,
        200,
    )
    .await;
    assert_eq!(written["portal_unit_code"], "000.00.01.H26");

    // The session expires (error_code 401): one new login, the update made once.
    rig.sandbox.expire_portal_sessions(ExpiryAnswer::ErrorCode);
    act(
        &rig.app,
        &keys,
        &code,
        "verdict",
        json!({"decision": "accepted"}),
    )
    .await;
    rig.deliver_all(&worker).await;
    // Again, answered with HTTP 401.
    rig.sandbox.expire_portal_sessions(ExpiryAnswer::Http401);
    act(&rig.app, &keys, &code, "result", json!({"note": "Đã ký"})).await;
    rig.deliver_all(&worker).await;

    assert_eq!(
        portal_calls_of(&rig.sandbox, &code),
        vec![
            ("DongBoHoSoMC".to_owned(), 2),
            ("CapNhatTienDoHoSoMC".to_owned(), 4),
            ("CapNhatTienDoHoSoMC".to_owned(), 9),
        ]
    );
    let counts = rig.sandbox.counts();
    assert_eq!(counts.portal_logins, 3);
    assert_eq!(counts.portal_session_refused, 2);
    let calls = rig.sandbox.portal_calls();
    assert_eq!(calls[1].madonvi, "000.00.01.H26");
    assert_eq!(
        calls[1].data[0]["NoiDungXuLy"],
        "Hồ sơ đang được giải quyết"
    );
    assert_eq!(calls[2].data[0]["NoiDungXuLy"], "Đã có kết quả");
    assert!(
        calls[1].data[0]["NguoiXuLy"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    let ids: Vec<Option<String>> = calls.iter().map(|c| c.request_id.clone()).collect();
    let rows: Vec<Option<String>> = rig
        .rows("portal_call")
        .await
        .iter()
        .map(|r| Some(r.id.to_string()))
        .collect();
    assert_eq!(ids, rows, "each call once, in the order of the rows");
}

#[tokio::test]
async fn a_portal_outage_holds_no_dossier_back_and_its_calls_arrive_in_order_once_it_ends() {
    let rig = Rig::start().await;
    let keys = Keys::new(&rig.app).await;
    let worker = rig.worker(Duration::from_secs(5));
    rig.sandbox.set_outage(Service::PortalService, true);
    let first = filed(&rig.app, &keys).await;
    let second = filed(&rig.app, &keys).await;
    for _ in 0..5 {
        step(&rig.app.store, &worker).await;
    }
    // The dossiers move on while the portal is out.
    let d = act(
        &rig.app,
        &keys,
        &first,
        "verdict",
        json!({"decision": "accepted"}),
    )
    .await;
    assert_eq!(d["status"], "processing");
    for _ in 0..5 {
        step(&rig.app.store, &worker).await;
    }
    let d = act(&rig.app, &keys, &first, "result", json!({"note": "Đã ký"})).await;
    assert_eq!(d["status"], "result_ready");
    act(
        &rig.app,
        &keys,
        &second,
        "verdict",
        json!({"decision": "accepted"}),
    )
    .await;
    for _ in 0..5 {
        step(&rig.app.store, &worker).await;
    }
    assert!(rig.sandbox.portal_calls().is_empty());
    assert!(rig.sandbox.counts().faults > 0, "the worker never tried");
    // Only the first call of each dossier was tried; the later ones wait their turn.
    let rows = rig.rows("portal_call").await;
    assert_eq!(rows.len(), 5);
    for row in &rows {
        assert_eq!(row.status, OutboxStatus::Pending);
    }
    let tried: Vec<i32> = rows.iter().map(|r| r.attempts).collect();
    assert!(
        tried[0] > 0 && tried[1] > 0 && tried[2..].iter().all(|a| *a == 0),
        "attempts per row: {tried:?}"
    );
    // Phone notices went meanwhile.
    assert!(!rig.sandbox.zns().is_empty());

    rig.sandbox.set_outage(Service::PortalService, false);
    rig.deliver_all(&worker).await;
    assert_eq!(
        portal_calls_of(&rig.sandbox, &first),
        vec![
            ("DongBoHoSoMC".to_owned(), 2),
            ("CapNhatTienDoHoSoMC".to_owned(), 4),
            ("CapNhatTienDoHoSoMC".to_owned(), 9),
        ]
    );
    assert_eq!(
        portal_calls_of(&rig.sandbox, &second),
        vec![
            ("DongBoHoSoMC".to_owned(), 2),
            ("CapNhatTienDoHoSoMC".to_owned(), 4),
        ]
    );
    rig.assert_each_phone_notice_once().await;
}

#[tokio::test]
async fn html_garbage_huge_failing_and_slow_answers_are_failed_attempts_and_each_message_goes_once()
{
    let rig = Rig::start().await;
    rig.sandbox.refuse_zns_phone("84912345678");
    for fault in [Fault::Html, Fault::Garbage, Fault::Huge, Fault::Status(503)] {
        rig.sandbox.inject(Service::Sms, fault.clone(), 1);
        rig.sandbox.inject(Service::ZaloOauth, fault.clone(), 1);
        rig.sandbox.inject(Service::PortalLogin, fault.clone(), 1);
        rig.sandbox.inject(Service::PortalService, fault, 1);
    }
    rig.sandbox
        .inject(Service::Zns, Fault::Slow(Duration::from_secs(3)), 2);
    rig.sandbox
        .inject(Service::Sms, Fault::Slow(Duration::from_secs(3)), 1);
    let keys = Keys::new(&rig.app).await;
    request_for(&rig.app, "0987654321").await;
    filed(&rig.app, &keys).await;
    let worker = rig.worker(Duration::from_millis(800));
    rig.deliver_all(&worker).await;

    rig.assert_each_phone_notice_once().await;
    let rows = rig.rows("phone_notice").await;
    assert!(
        rows.iter().map(|r| r.attempts).sum::<i32>() >= 5,
        "the bad answers were not failed attempts: {rows:?}"
    );
    let calls = rig.sandbox.portal_calls();
    let portal_rows = rig.rows("portal_call").await;
    assert_eq!(calls.len(), portal_rows.len());
    assert!(portal_rows[0].attempts >= 4, "{portal_rows:?}");
    assert_eq!(rig.sandbox.counts().faults, 19);
}

#[tokio::test]
async fn pickup_requests_made_and_cancelled_in_a_loop_text_a_phone_at_most_three_times_a_day() {
    let rig = Rig::start().await;
    // Someone requests pickups for a stranger's phone and cancels each with the token it returns.
    for _ in 0..6 {
        let mut body = tests::valid_request();
        body["applicant"]["phone"] = PHONE.into();
        let created = json_of(rig.app.post_dossier(&body).await, 201).await;
        let code = created["code"].as_str().expect("code");
        let res = rig.app.cancel(code, created["access_token"].as_str()).await;
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
    }
    // Another phone is not held back by it.
    request_for(&rig.app, "0987654321").await;
    let worker = rig.worker(Duration::from_secs(5));
    rig.deliver_all(&worker).await;
    let (zns, sms) = rig.assert_each_phone_notice_once().await;
    let to_stranger = rig
        .sandbox
        .zns()
        .into_iter()
        .filter(|m| m.phone == "84912345678")
        .count()
        + rig
            .sandbox
            .sms()
            .into_iter()
            .filter(|m| m.phone == PHONE)
            .count();
    assert_eq!(to_stranger, 3, "zns {zns:?}, sms {sms:?}");
    assert_eq!(zns.len() + sms.len(), 4);
}
