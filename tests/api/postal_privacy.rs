//! What the post office and the citizen see of staff and applicants: a postal key never receives the
//! applicant's identity number or e-mail (API or pages), and a citizen's timeline names the actor by
//! role and office or agency, never by a key's name.

use entity::enums::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::TestApp;

use crate::staff_web::{self, Jar};

const OFFICE: &str = "100000";
const ID_NUMBER: &str = "001090012345";
const EMAIL: &str = "an@example.vn";
/// A key named after the clerk who holds it.
const CLERK: &str = "Trần Thị Bưu Tá";

async fn dossier_json(app: &TestApp, code: &str, bearer: &str) -> Value {
    let res = app.get_dossier(code, Some(bearer)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("json")
}

/// A postal key of office 100000 named after a person, made through the admin API.
async fn clerk_key(app: &TestApp) -> String {
    let admin = app.key(Role::Admin, None, None).await;
    let res = app
        .client
        .post(app.url("/api/v1/admin/keys"))
        .bearer_auth(&admin)
        .json(&json!({"role": "postal", "office_code": OFFICE, "name": CLERK}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.expect("json")["key"]
        .as_str()
        .expect("key")
        .to_owned()
}

#[tokio::test]
async fn postal_keys_never_receive_the_applicants_identity_number_or_email() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;

    let seen = dossier_json(&app, code, &postal).await;
    assert_eq!(seen["applicant"]["full_name"], "Nguyễn Văn An", "{seen}");
    assert!(seen["applicant"].get("id_number").is_none(), "{seen}");
    assert!(seen["applicant"]["email"].is_null(), "{seen}");
    let raw = seen.to_string();
    assert!(!raw.contains(ID_NUMBER) && !raw.contains(EMAIL), "{raw}");

    // The office's worklist neither.
    let res = app
        .client
        .get(app.url("/api/v1/pickups?status=pickup_requested"))
        .bearer_auth(&postal)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let raw = res.text().await.expect("body");
    assert!(raw.contains(code), "{raw}");
    assert!(!raw.contains(ID_NUMBER) && !raw.contains(EMAIL), "{raw}");

    // Nor the pages a signed-in postal clerk opens.
    let mut jar = Jar::default();
    staff_web::sign_in(&app.base_url, &mut jar, &postal).await;
    for page in [format!("/staff/dossiers/{code}"), format!("/t/{code}")] {
        let res = staff_web::get(&app.base_url, &mut jar, &page).await;
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        let html = res.text().await.expect("page");
        assert!(
            html.contains("Nguyễn Văn An"),
            "{page} shows the dossier in full"
        );
        assert!(!html.contains(ID_NUMBER) && !html.contains(EMAIL), "{page}");
    }

    // The citizen, the agency and administrators still do.
    for bearer in [
        token.to_owned(),
        app.key(Role::Agency, None, Some("UBND-P-HOANKIEM")).await,
        app.key(Role::Admin, None, None).await,
    ] {
        let seen = dossier_json(&app, code, &bearer).await;
        assert_eq!(seen["applicant"]["id_number"], ID_NUMBER);
        assert_eq!(seen["applicant"]["email"], EMAIL);
    }
}

#[tokio::test]
async fn a_citizens_timeline_names_the_office_not_the_key() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");
    let clerk = clerk_key(&app).await;
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/pickup-failed")))
        .bearer_auth(&clerk)
        .json(&json!({"reason": "Không liên lạc được"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);

    let seen = dossier_json(&app, code, token).await;
    let raw = seen.to_string();
    assert!(!raw.contains(CLERK), "{raw}");
    let failed = seen["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == "pickup_failed")
        .expect("the failed pickup")
        .clone();
    assert_eq!(failed["actor"], format!("postal:{OFFICE}"));

    let res = app
        .client
        .get(app.url(&format!("/t/{code}?k={token}")))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("page");
    assert!(html.contains("Nguyễn Văn An"), "the full tracking page");
    assert!(!html.contains(CLERK), "no key's name on the tracking page");
}
