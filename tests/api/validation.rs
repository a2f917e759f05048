//! Each invalid field of a pickup request is refused with 422 naming it, and nothing is stored.

use serde_json::{Value, json};
use tests::{TestApp, error_of, valid_request};

/// Applies `change` to a valid request and expects 422 naming `field`.
async fn assert_rejected(app: &TestApp, field: &str, change: impl FnOnce(&mut Value)) {
    let mut body = valid_request();
    change(&mut body);
    let res = app.post_dossier(&body).await;
    assert_eq!(res.status(), 422, "{field}: {body}");
    let (code, fields) = error_of(res).await;
    assert_eq!(code, "validation_failed");
    assert!(
        fields.iter().any(|f| f == field),
        "expected `{field}` in {fields:?}"
    );
}

#[tokio::test]
async fn each_invalid_field_is_named_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    assert_rejected(&app, "applicant.phone", |b| {
        b["applicant"]["phone"] = "12345".into()
    })
    .await;
    assert_rejected(&app, "applicant.phone", |b| {
        b["applicant"]["phone"] = "09123abc78".into()
    })
    .await;
    assert_rejected(&app, "applicant.phone", |b| {
        b["applicant"].as_object_mut().map(|a| a.remove("phone"));
    })
    .await;
    assert_rejected(&app, "applicant.email", |b| {
        b["applicant"]["email"] = "an@".into()
    })
    .await;
    assert_rejected(&app, "applicant.email", |b| {
        b["applicant"]["email"] = "an example@vn.vn".into()
    })
    .await;
    assert_rejected(&app, "applicant.id_number", |b| {
        b["applicant"]["id_number"] = "0010900123".into()
    })
    .await;
    assert_rejected(&app, "applicant.id_number", |b| {
        b["applicant"]["id_number"] = "00109001234X".into()
    })
    .await;
    assert_rejected(&app, "applicant.full_name", |b| {
        b["applicant"]["full_name"] = "   ".into()
    })
    .await;
    assert_rejected(&app, "applicant.full_name", |b| {
        b["applicant"]["full_name"] = "Nguyễn ".repeat(40).into()
    })
    .await;
    assert_rejected(&app, "procedure_code", |b| {
        b["procedure_code"] = "9.999999".into()
    })
    .await;
    assert_rejected(&app, "procedure_code", |b| {
        b["procedure_code"] = "2.000488".into()
    })
    .await;
    assert_rejected(&app, "agency_code", |b| {
        b["agency_code"] = "NO-SUCH-AGENCY".into()
    })
    .await;
    assert_rejected(&app, "service_mode", |b| {
        b["service_mode"] = "teleport".into()
    })
    .await;
    assert_rejected(&app, "fee_exemption", |b| b["fee_exemption"] = "vip".into()).await;
    assert_rejected(&app, "documents", |b| b["documents"] = json!([])).await;
    assert_rejected(&app, "documents", |b| {
        b.as_object_mut().map(|o| o.remove("documents"));
    })
    .await;
    assert_rejected(&app, "documents[0].name", |b| {
        b["documents"][0]["name"] = "x".repeat(201).into()
    })
    .await;
    assert_rejected(&app, "documents[0].copies", |b| {
        b["documents"][0]["copies"] = (-1).into()
    })
    .await;
    assert_rejected(&app, "pickup_address", |b| {
        b["pickup_address"] = Value::Null
    })
    .await;
    assert_rejected(&app, "pickup_address.line", |b| {
        b["pickup_address"]["line"] = "đ".repeat(201).into()
    })
    .await;
    assert_rejected(&app, "pickup_address.ward_code", |b| {
        b["pickup_address"]["ward_code"] = "7".into()
    })
    .await;
    assert_rejected(&app, "pickup_address.province_code", |b| {
        b["pickup_address"]["province_code"] = "1".into()
    })
    .await;
    assert_rejected(&app, "pickup_address.province_code", |b| {
        // Cà Mau: a real province and ward, but no demo post office serves it.
        b["pickup_address"]["province_code"] = "96".into();
        b["pickup_address"]["ward_code"] = "32002".into();
    })
    .await;
    assert_rejected(&app, "return_address.ward_code", |b| {
        b["return_address"] =
            json!({"line": "1 Hàng Bài", "ward_code": "abcde", "province_code": "01"});
    })
    .await;
    assert_eq!(app.dossier_count().await, 0);
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn every_bad_field_of_one_request_is_reported_together() {
    let app = TestApp::spawn().await;
    let mut body = valid_request();
    body["applicant"]["phone"] = "1".into();
    body["applicant"]["email"] = "nope".into();
    body["documents"] = json!([]);
    let res = app.post_dossier(&body).await;
    assert_eq!(res.status(), 422);
    let (_, fields) = error_of(res).await;
    assert_eq!(fields, ["applicant.phone", "applicant.email", "documents"]);
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_bad_requests_and_store_nothing() {
    let app = TestApp::spawn().await;
    for raw in [
        "{",
        "{\"procedure_code\": }",
        "[]",
        "null",
        "\"text\"",
        "{\"documents\": \"many\"}",
        "{\"with_appointment\": \"yes\"}",
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/dossiers"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 400, "{raw}");
        assert_eq!(error_of(res).await.0, "bad_request", "{raw}");
    }
    assert_eq!(app.dossier_count().await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_unsupported_media_type() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .header("content-type", "text/plain")
        .body(valid_request().to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 415);
    assert_eq!(error_of(res).await.0, "unsupported_media_type");
    assert_eq!(app.dossier_count().await, 0);
}

#[tokio::test]
async fn phones_in_international_form_are_stored_in_local_form() {
    let app = TestApp::spawn().await;
    let mut body = valid_request();
    body["applicant"]["phone"] = "+84 912 345 678".into();
    let created: Value = app.post_dossier(&body).await.json().await.expect("json");
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");
    let dossier: Value = app
        .get_dossier(code, Some(token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(dossier["applicant"]["phone"], "0912345678");
}
