//! API keys: made, listed and revoked by administrators (API and command line), refused everywhere
//! once revoked or expired — by a second process on the same database too, within 5 s — with the web
//! sessions opened with them; and sign-out ends a session on the server.

use std::time::{Duration, Instant};

use entity::enums::Role;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;
use tests::process::{ChildProcess, run_dossier};

use crate::staff_web::{self, Jar};

const OFFICE: &str = "100000";

async fn create_key(app: &TestApp, admin: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/admin/keys"))
        .bearer_auth(admin)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn list_keys(app: &TestApp, bearer: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/admin/keys"))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("request")
}

async fn revoke(app: &TestApp, admin: &str, id: i64) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/admin/keys/{id}/revoke")))
        .bearer_auth(admin)
        .send()
        .await
        .expect("request")
}

async fn pickups_status(base: &str, key: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/pickups"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
        .status()
}

/// Makes a postal key through the API; `(id, secret)`.
async fn postal_key(app: &TestApp, admin: &str, extra: Value) -> (i64, String) {
    let mut body = json!({"role": "postal", "office_code": OFFICE, "name": "Quầy 1 Hoàn Kiếm"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let res = create_key(app, admin, &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.expect("json");
    (
        made["id"].as_i64().expect("id"),
        made["key"].as_str().expect("key").to_owned(),
    )
}

#[tokio::test]
async fn admins_make_keys_shown_once_and_listed_without_secrets() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let res = create_key(
        &app,
        &admin,
        &json!({"role": "postal", "office_code": OFFICE, "name": "Quầy 1", "expires_in_days": 30}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.expect("json");
    let secret = made["key"].as_str().expect("key").to_owned();
    assert!(secret.starts_with("dk_"), "{made}");
    assert!(made["expires_at"].is_string(), "{made}");
    assert_eq!(pickups_status(&app.base_url, &secret).await, StatusCode::OK);

    let res = list_keys(&app, &admin).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("body");
    assert!(!text.contains(&secret[3..]), "no secret in the list");
    let list: Value = serde_json::from_str(&text).expect("json");
    let listed = list
        .as_array()
        .expect("array")
        .iter()
        .find(|k| k["id"] == made["id"])
        .expect("the new key is listed");
    assert_eq!(listed["role"], "postal");
    assert_eq!(listed["office_code"], OFFICE);
    assert_eq!(listed["name"], "Quầy 1");
    assert!(listed["revoked_at"].is_null());
    assert!(listed["expires_at"].is_string());

    // Only administrators manage keys.
    assert_eq!(
        list_keys(&app, &secret).await.status(),
        StatusCode::FORBIDDEN
    );
    let res = create_key(&app, &secret, &json!({"role": "admin", "name": "me"})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .get(app.url("/api/v1/admin/keys"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_request_with_bad_fields_is_refused_naming_them_and_makes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let count = || async {
        let list: Value = list_keys(&app, &admin).await.json().await.expect("json");
        list.as_array().map(Vec::len)
    };
    let before = count().await;
    for (body, field) in [
        (json!({"name": "x"}), "role"),
        (json!({"role": "boss", "name": "x"}), "role"),
        (json!({"role": "postal", "name": "x"}), "office_code"),
        (
            json!({"role": "postal", "office_code": "999999", "name": "x"}),
            "office_code",
        ),
        (json!({"role": "agency", "name": "x"}), "agency_code"),
        (json!({"role": "admin", "name": ""}), "name"),
        (
            json!({"role": "admin", "name": "x", "expires_in_days": 0}),
            "expires_in_days",
        ),
    ] {
        let res = create_key(&app, &admin, &body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (code, fields) = tests::error_of(res).await;
        assert_eq!(code, "validation_failed");
        assert!(fields.contains(&field.to_owned()), "{body}: {fields:?}");
    }
    assert_eq!(count().await, before, "no key was made");
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_its_web_sessions_end() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let (id, key) = postal_key(&app, &admin, json!({})).await;
    let mut jar = Jar::default();
    staff_web::sign_in(&app.base_url, &mut jar, &key).await;
    assert!(staff_web::session_open(&app.base_url, &mut jar, "/staff/pickups").await);

    let res = revoke(&app, &admin, id).await;
    assert_eq!(res.status(), StatusCode::OK);
    let revoked: Value = res.json().await.expect("json");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");

    assert_eq!(
        pickups_status(&app.base_url, &key).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(!staff_web::session_open(&app.base_url, &mut jar, "/staff/pickups").await);
    // Nor can it sign in again.
    let res = staff_web::try_sign_in(&app.base_url, &mut Jar::default(), &key).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // An unknown id is 404.
    assert_eq!(
        revoke(&app, &admin, id + 1000).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_expired_key_is_refused_and_its_web_sessions_end() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let (id, key) = postal_key(&app, &admin, json!({"expires_in_days": 1})).await;
    let mut jar = Jar::default();
    staff_web::sign_in(&app.base_url, &mut jar, &key).await;
    assert_eq!(pickups_status(&app.base_url, &key).await, StatusCode::OK);

    // A day later (the key's end moved to a second ago).
    entity::api_key::Entity::update_many()
        .col_expr(
            entity::api_key::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(entity::api_key::Column::Id.eq(id))
        .exec(&app.store.write)
        .await
        .expect("move the expiry");
    assert_eq!(
        pickups_status(&app.base_url, &key).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(!staff_web::session_open(&app.base_url, &mut jar, "/staff/pickups").await);
}

#[tokio::test]
async fn a_key_revoked_in_one_process_is_refused_by_a_second_process_within_five_seconds() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let (id, key) = postal_key(&app, &admin, json!({})).await;
    let second = ChildProcess::serve(
        &[
            "--no-worker",
            "--no-seed",
            "--database-url",
            &app.database_url,
        ],
        &[],
    )
    .await;
    assert_eq!(pickups_status(&second.base_url, &key).await, StatusCode::OK);
    let mut jar = Jar::default();
    staff_web::sign_in(&second.base_url, &mut jar, &key).await;
    assert!(staff_web::session_open(&second.base_url, &mut jar, "/staff/pickups").await);

    assert_eq!(revoke(&app, &admin, id).await.status(), StatusCode::OK);
    let revoked_at = Instant::now();
    let deadline = revoked_at + Duration::from_secs(5);
    loop {
        let api_refused = pickups_status(&second.base_url, &key).await == StatusCode::UNAUTHORIZED;
        let session_ended =
            !staff_web::session_open(&second.base_url, &mut jar, "/staff/pickups").await;
        if api_refused && session_ended {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second process still accepts the revoked key after 5 s (API refused: {api_refused}, session ended: {session_ended})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server_so_a_replayed_cookie_is_refused() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let mut jar = Jar::default();
    staff_web::sign_in(&app.base_url, &mut jar, &key).await;
    let page = staff_web::get(&app.base_url, &mut jar, "/staff/pickups").await;
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = staff_web::csrf_of(&page.text().await.expect("page"));
    let copied = jar.clone();

    let res = staff_web::post(
        &app.base_url,
        &mut jar,
        "/staff/signout",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        jar.get("dossier_session").is_none(),
        "the browser forgets it"
    );

    // The old cookie, replayed, opens nothing.
    let mut replayed = copied;
    assert!(!staff_web::session_open(&app.base_url, &mut replayed, "/staff/pickups").await);
    // The key itself still works, and signs in anew.
    assert_eq!(pickups_status(&app.base_url, &key).await, StatusCode::OK);
    staff_web::sign_in(&app.base_url, &mut Jar::default(), &key).await;
}

#[tokio::test]
async fn a_keys_last_use_is_noted_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let (id, key) = postal_key(&app, &admin, json!({})).await;
    let last_used = || async {
        entity::api_key::Entity::find_by_id(id)
            .one(&app.store.read)
            .await
            .expect("read")
            .expect("the key")
            .last_used_at
    };
    assert_eq!(last_used().await, None);
    assert_eq!(pickups_status(&app.base_url, &key).await, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(5);
    let first = loop {
        if let Some(at) = last_used().await {
            break at;
        }
        assert!(Instant::now() < deadline, "last use not noted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for _ in 0..5 {
        assert_eq!(pickups_status(&app.base_url, &key).await, StatusCode::OK);
    }
    // A later note would have landed by the time the admin's list is read back.
    let list: Value = list_keys(&app, &admin).await.json().await.expect("json");
    assert_eq!(
        last_used().await,
        Some(first),
        "not rewritten within the minute"
    );
    let listed = list
        .as_array()
        .expect("array")
        .iter()
        .find(|k| k["id"] == id)
        .expect("listed")
        .clone();
    assert!(listed["last_used_at"].is_string(), "{listed}");
}

#[tokio::test]
async fn the_command_line_makes_lists_and_revokes_keys() {
    let app = TestApp::spawn().await;
    let db = app.database_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_dossier(&[
            "keys",
            "create",
            "--role",
            "postal",
            "--office",
            OFFICE,
            "--name",
            "Quầy 2",
            "--expires-in-days",
            "7",
            "--database-url",
            &db,
        ])
    })
    .await
    .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = stdout
        .lines()
        .last()
        .expect("the key on the last line")
        .trim()
        .to_owned();
    assert!(key.starts_with("dk_"), "{stdout}");
    assert_eq!(pickups_status(&app.base_url, &key).await, StatusCode::OK);
    let id: i64 = stdout
        .split('#')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("the key's id");

    let db = app.database_url.clone();
    let out =
        tokio::task::spawn_blocking(move || run_dossier(&["keys", "list", "--database-url", &db]))
            .await
            .expect("run");
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(listing.contains("Quầy 2"), "{listing}");
    assert!(listing.contains(OFFICE), "{listing}");
    assert!(!listing.contains(&key[3..]), "no secret in the list");

    let db = app.database_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_dossier(&["keys", "revoke", &id.to_string(), "--database-url", &db])
    })
    .await
    .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        pickups_status(&app.base_url, &key).await,
        StatusCode::UNAUTHORIZED
    );
}
