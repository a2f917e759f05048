//! Who may read what: a citizen token opens its own dossier only; postal and agency keys see only the
//! dossiers of their office or agency; unknown credentials are refused.

use entity::enums::Role;
use tests::{TestApp, error_of};

#[tokio::test]
async fn a_citizen_token_opens_only_its_own_dossier() {
    let app = TestApp::spawn().await;
    let mine = app.create_valid_dossier().await;
    let theirs = app.create_valid_dossier().await;
    let token = mine["access_token"].as_str().expect("token");
    let their_code = theirs["code"].as_str().expect("code");

    let res = app.get_dossier(their_code, Some(token)).await;
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "{}",
        res.status()
    );
    assert_eq!(error_of(res).await.0, "forbidden");
    // Nor can it cancel someone else's.
    let res = app.cancel(their_code, Some(token)).await;
    assert_eq!(res.status(), 403);
    let res = app.get_dossier(their_code, None).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn staff_of_another_office_or_agency_cannot_read_the_dossier() {
    let app = TestApp::spawn().await;
    // Picked up by office 100000 (Hoàn Kiếm), filed with agency UBND-P-HOANKIEM.
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");

    let own_office = app.key(Role::Postal, Some("100000"), None).await;
    let other_office = app.key(Role::Postal, Some("700000"), None).await;
    let own_agency = app.key(Role::Agency, None, Some("UBND-P-HOANKIEM")).await;
    let other_agency = app.key(Role::Agency, None, Some("UBND-P-SAIGON")).await;
    let admin = app.key(Role::Admin, None, None).await;

    for key in [&own_office, &own_agency, &admin] {
        assert_eq!(app.get_dossier(code, Some(key)).await.status(), 200);
    }
    for key in [&other_office, &other_agency] {
        let res = app.get_dossier(code, Some(key)).await;
        assert!(
            matches!(res.status().as_u16(), 403 | 404),
            "{}",
            res.status()
        );
        let body = res.text().await.expect("body");
        assert!(
            !body.contains("Nguyễn Văn An"),
            "leaks personal data: {body}"
        );
    }
    // An agency may not cancel a citizen's pickup; another office may not either.
    assert_eq!(app.cancel(code, Some(&own_agency)).await.status(), 403);
    assert_eq!(app.cancel(code, Some(&other_office)).await.status(), 403);
}

#[tokio::test]
async fn unknown_or_malformed_credentials_are_unauthorized() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    for bad in ["dk_not-a-key", "dt_not-a-token", "something", ""] {
        let res = app.get_dossier(code, Some(bad)).await;
        assert_eq!(res.status(), 401, "{bad:?}");
        assert_eq!(error_of(res).await.0, "unauthorized");
    }
    let res = app
        .client
        .get(app.url(&format!("/api/v1/dossiers/{code}")))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
    // A bad credential on a public endpoint is refused too, never silently ignored.
    let res = app
        .client
        .get(app.url("/api/v1/agencies"))
        .bearer_auth("dk_wrong")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "reference reads ignore credentials");
}

#[tokio::test]
async fn an_agency_key_registers_return_dossiers_only_for_its_own_agency() {
    let app = TestApp::spawn().await;
    let other_agency = app.key(Role::Agency, None, Some("UBND-P-SAIGON")).await;
    let mut body = tests::valid_request();
    body["service_mode"] = "return".into();
    body["return_address"] = body["pickup_address"].clone();
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(&other_agency)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403);
    assert_eq!(app.dossier_count().await, 0);
}
