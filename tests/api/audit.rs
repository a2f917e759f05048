//! The audit trail: every privileged action leaves one entry (who, what, on what, from where, before
//! and after, never a secret), read by administrators only, page by page; on PostgreSQL the trail and
//! the dossier timeline refuse UPDATE and DELETE.

use entity::enums::{OutboxStatus, Role};
use entity::outbox;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde_json::{Value, json};
use tests::TestApp;

use crate::staff_web::{self, Jar};

const WEBHOOK_SECRET: &str = "audit-webhook-secret-0123456789";

async fn audit_page(app: &TestApp, bearer: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/admin/audit{query}")))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("request")
}

/// Every entry of the trail, read page by page (3 a page).
async fn whole_trail(app: &TestApp, admin: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = String::new();
    loop {
        let res = audit_page(app, admin, &format!("?limit=3&after={after}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.expect("json");
        let got = page["entries"].as_array().expect("entries").clone();
        let next = page["next_cursor"]
            .as_str()
            .expect("next_cursor")
            .to_owned();
        if got.is_empty() {
            assert_eq!(
                next,
                after.clone().max("0".into()),
                "an empty page keeps the cursor"
            );
            return entries;
        }
        assert!(got.len() <= 3);
        assert_eq!(got.last().map(|e| e["cursor"].clone()), Some(json!(next)));
        entries.extend(got);
        after = next;
    }
}

fn find<'a>(entries: &'a [Value], action: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no `{action}` entry in {entries:#?}"))
}

#[tokio::test]
async fn every_privileged_action_leaves_an_audit_entry_without_secrets() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let admin_id: i64 = entity::api_key::Entity::find()
        .filter(entity::api_key::Column::Name.eq("test admin"))
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("the admin key")
        .id;

    // A key made and revoked.
    let res = app
        .client
        .post(app.url("/api/v1/admin/keys"))
        .bearer_auth(&admin)
        .json(&json!({"role": "postal", "office_code": "100000", "name": "Quầy 3"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.expect("json");
    let postal_key = made["key"].as_str().expect("key").to_owned();
    let postal_id = made["id"].as_i64().expect("id");
    // Staff sign in on the web with it, and someone fails to.
    staff_web::sign_in(&app.base_url, &mut Jar::default(), &postal_key).await;
    let res = staff_web::try_sign_in(&app.base_url, &mut Jar::default(), "dk_not-a-key").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .post(app.url(&format!("/api/v1/admin/keys/{postal_id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);

    // A webhook registered.
    let res = app
        .client
        .post(app.url("/api/v1/admin/webhooks"))
        .bearer_auth(&admin)
        .json(&json!({"url": "https://agency.example.vn/hooks?token=abc", "secret": WEBHOOK_SECRET, "agency_code": "UBND-P-HOANKIEM"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
    let webhook_id = res.json::<Value>().await.expect("json")["id"].clone();

    // A reference-data write.
    let res = app
        .client
        .post(app.url("/api/v1/admin/holidays"))
        .bearer_auth(&admin)
        .json(&json!({"date": "2027-02-05", "name": "Tết Nguyên Đán"}))
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{}", res.status());

    // A failed delivery put back in the queue.
    let dossier = app.post_dossier(&tests::valid_request()).await;
    assert_eq!(dossier.status(), StatusCode::CREATED);
    let row = outbox::Entity::find()
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("an outbox row for the new dossier");
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Failed))
        .filter(outbox::Column::Id.eq(row.id))
        .exec(&app.store.write)
        .await
        .expect("fail the row");
    let res = app
        .client
        .post(app.url(&format!("/api/v1/admin/outbox/{}/retry", row.id)))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);

    let raw = audit_page(&app, &admin, "?limit=500")
        .await
        .text()
        .await
        .expect("body");
    for secret in [&postal_key[3..], WEBHOOK_SECRET, "token=abc", &admin[3..]] {
        assert!(!raw.contains(secret), "a secret in the trail: {raw}");
    }
    let entries = whole_trail(&app, &admin).await;

    let created = find(&entries, "api_key.create");
    assert_eq!(created["target"], format!("api_key:{postal_id}"));
    assert_eq!(created["actor_key_id"], admin_id);
    assert!(
        created["actor"]
            .as_str()
            .is_some_and(|a| a.contains("test admin"))
    );
    assert_eq!(created["client_ip"], "127.0.0.1");
    assert!(created["before"].is_null());
    assert_eq!(created["after"]["role"], "postal");
    assert!(
        created["at"]
            .as_str()
            .is_some_and(|t| t.ends_with("+07:00"))
    );

    let revoked = find(&entries, "api_key.revoke");
    assert_eq!(revoked["target"], format!("api_key:{postal_id}"));
    assert!(revoked["before"]["revoked_at"].is_null());
    assert!(revoked["after"]["revoked_at"].is_string());

    let signed_in = find(&entries, "staff_session.sign_in");
    assert_eq!(signed_in["actor_key_id"], postal_id);
    assert_eq!(signed_in["client_ip"], "127.0.0.1");
    let failed = find(&entries, "staff_session.sign_in_failed");
    assert!(failed["actor_key_id"].is_null());
    assert_eq!(failed["actor"], "unknown");

    let registered = find(&entries, "webhook.register");
    assert_eq!(registered["target"], format!("webhook:{webhook_id}"));
    assert_eq!(registered["after"]["agency_code"], "UBND-P-HOANKIEM");

    let holiday = find(&entries, "holiday.create");
    assert_eq!(holiday["target"], "holiday:2027-02-05");
    assert_eq!(holiday["client_ip"], "127.0.0.1");

    let requeued = find(&entries, "outbox.requeue");
    assert_eq!(requeued["target"], format!("outbox:{}", row.id));
    assert_eq!(requeued["actor_key_id"], admin_id);
}

#[tokio::test]
async fn only_administrators_read_the_audit_trail() {
    let app = TestApp::spawn().await;
    let postal = app.key(Role::Postal, Some("100000"), None).await;
    let admin = app.key(Role::Admin, None, None).await;
    assert_eq!(
        audit_page(&app, &postal, "").await.status(),
        StatusCode::FORBIDDEN
    );
    let res = app
        .client
        .get(app.url("/api/v1/admin/audit"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = audit_page(&app, &admin, "?after=yesterday").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = audit_page(&app, &admin, "?limit=0").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = audit_page(&app, &admin, "").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn on_postgresql_the_timeline_and_the_audit_trail_refuse_updates_and_deletes() {
    if tests::test_database_url().is_none() {
        return;
    }
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    assert_eq!(
        app.post_dossier(&tests::valid_request()).await.status(),
        StatusCode::CREATED
    );
    let res = app
        .client
        .post(app.url("/api/v1/admin/holidays"))
        .bearer_auth(&admin)
        .json(&json!({"date": "2027-02-06", "name": "Tết"}))
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success());
    let events_before = app.event_count().await;
    assert!(events_before > 0);
    let db = &app.store.write;
    for sql in [
        "UPDATE dossier_events SET note = 'rewritten'",
        "DELETE FROM dossier_events",
        "UPDATE admin_audit SET api_key_name = 'someone else'",
        "DELETE FROM admin_audit",
        "TRUNCATE admin_audit",
    ] {
        let result = db
            .execute_raw(Statement::from_string(db.get_database_backend(), sql))
            .await;
        assert!(result.is_err(), "`{sql}` was allowed");
    }
    assert_eq!(app.event_count().await, events_before);
    let trail: Value = audit_page(&app, &admin, "")
        .await
        .json()
        .await
        .expect("json");
    let entries = trail["entries"].as_array().expect("entries");
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["actor"] != "someone else"));
}
