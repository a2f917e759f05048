//! Handover records: who drafts and who signs, which dossiers may be listed, one open record per
//! dossier (in the API and in the schema), and who may read a record.

use entity::enums::Role;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use tests::TestApp;

use super::postal::{
    AGENCY, Keys, OTHER_AGENCY, OTHER_OFFICE, confirm, dossier, draft, expect_error, get, json_of,
    picked_up, post,
};

#[tokio::test]
async fn only_the_handing_side_drafts_and_only_the_receiving_side_signs() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, item) = picked_up(&app, &keys.postal).await;
    let body = json!({"direction": "to_agency", "agency_code": AGENCY, "dossier_codes": [code]});

    // An agency does not draft a record of dossiers handed to it; the public does not either.
    expect_error(
        post(&app, "/api/v1/handovers", Some(&keys.agency), &body).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        post(&app, "/api/v1/handovers", None, &body).await,
        401,
        "unauthorized",
        &[],
    )
    .await;

    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    let id = record["id"].as_i64().expect("id");
    assert_eq!(
        record["items"],
        json!([{"dossier_code": code, "item_code": item, "status": "picked_up", "admin_fee_vnd": 8000}])
    );
    let confirm_path = format!("/api/v1/handovers/{id}/confirm");
    // The post cannot sign its own record, nor can another agency.
    let other_agency = app.key(Role::Agency, None, Some(OTHER_AGENCY)).await;
    for key in [&keys.postal, &other_agency] {
        expect_error(
            post(&app, &confirm_path, Some(key), &json!({})).await,
            403,
            "forbidden",
            &[],
        )
        .await;
    }
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "picked_up"
    );

    // Either side reads it; strangers do not; unknown ids are not found.
    let path = format!("/api/v1/handovers/{id}");
    for key in [&keys.postal, &keys.agency] {
        let r = json_of(get(&app, &path, Some(key)).await, 200).await;
        assert_eq!(r["number"], record["number"]);
    }
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    for key in [&other_agency, &other_office] {
        expect_error(get(&app, &path, Some(key)).await, 403, "forbidden", &[]).await;
    }
    expect_error(
        get(&app, "/api/v1/handovers/999999", Some(&keys.postal)).await,
        404,
        "not_found",
        &[],
    )
    .await;

    let signed = confirm(&app, &keys.agency, id).await;
    assert_eq!(signed["status"], "confirmed");
    assert!(signed["confirmed_at"].is_string());
    assert_eq!(signed["items"][0]["status"], "received_by_agency");
    // Signed once only.
    expect_error(
        post(&app, &confirm_path, Some(&keys.agency), &json!({})).await,
        409,
        "conflict",
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_record_lists_only_dossiers_that_fit_it() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (picked, _) = picked_up(&app, &keys.postal).await;
    let requested = app.create_valid_dossier().await;
    let requested = requested["code"].as_str().expect("code").to_owned();

    // Not yet picked up: the lifecycle refuses it, and nothing is drafted.
    expect_error(
        post(
            &app,
            "/api/v1/handovers",
            Some(&keys.postal),
            &json!({
                "direction": "to_agency",
                "agency_code": AGENCY,
                "dossier_codes": [picked, requested],
            }),
        )
        .await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    // Filed with another agency, unknown, malformed or listed twice: each named.
    expect_error(
        post(
            &app,
            "/api/v1/handovers",
            Some(&keys.postal),
            &json!({
                "direction": "to_agency",
                "agency_code": OTHER_AGENCY,
                "dossier_codes": [picked],
            }),
        )
        .await,
        422,
        "validation_failed",
        &["dossier_codes[0]"],
    )
    .await;
    expect_error(
        post(
            &app,
            "/api/v1/handovers",
            Some(&keys.postal),
            &json!({
                "direction": "to_agency",
                "agency_code": AGENCY,
                "dossier_codes": [picked, "ABCDE-FGHJK", "??", picked],
            }),
        )
        .await,
        422,
        "validation_failed",
        &["dossier_codes[1]", "dossier_codes[2]", "dossier_codes[3]"],
    )
    .await;
    expect_error(
        post(
            &app,
            "/api/v1/handovers",
            Some(&keys.postal),
            &json!({"direction": "sideways", "agency_code": "NOPE", "dossier_codes": []}),
        )
        .await,
        422,
        "validation_failed",
        &["direction", "agency_code", "dossier_codes"],
    )
    .await;
    // Another office's dossier is not this office's to hand over.
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    expect_error(
        post(
            &app,
            "/api/v1/handovers",
            Some(&other_office),
            &json!({"direction": "to_agency", "agency_code": AGENCY, "dossier_codes": [picked]}),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    // An agency hands over its own results only, and only those ready.
    let other_agency = app.key(Role::Agency, None, Some(OTHER_AGENCY)).await;
    expect_error(
        post(
            &app,
            "/api/v1/handovers",
            Some(&other_agency),
            &json!({"direction": "to_post", "agency_code": AGENCY, "dossier_codes": [picked]}),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        post(
            &app,
            "/api/v1/handovers",
            Some(&keys.agency),
            &json!({"direction": "to_post", "agency_code": AGENCY, "dossier_codes": [picked]}),
        )
        .await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    let records = entity::handover_record::Entity::find()
        .all(&app.store.read)
        .await
        .expect("records");
    assert!(records.is_empty(), "refused drafts stored nothing");
}

#[tokio::test]
async fn a_dossier_cannot_be_on_two_open_records() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (a, _) = picked_up(&app, &keys.postal).await;
    let (b, _) = picked_up(&app, &keys.postal).await;
    let first = draft(&app, &keys.postal, "to_agency", &[&a]).await;
    let res = post(
        &app,
        "/api/v1/handovers",
        Some(&keys.postal),
        &json!({"direction": "to_agency", "agency_code": AGENCY, "dossier_codes": [b, a]}),
    )
    .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "conflict");
    let number = first["number"].as_str().expect("number");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(number),
        "{body}"
    );
    // Numbers of one office's day follow each other.
    let second = draft(&app, &keys.postal, "to_agency", &[&b]).await;
    assert_ne!(second["number"], first["number"]);
    assert!(
        second["number"]
            .as_str()
            .unwrap_or_default()
            .ends_with("-002"),
        "{second}"
    );

    // Racing drafts of the same dossier: exactly one wins.
    let (c, _) = picked_up(&app, &keys.postal).await;
    let body = json!({"direction": "to_agency", "agency_code": AGENCY, "dossier_codes": [c]});
    let racers = (0..6).map(|_| post(&app, "/api/v1/handovers", Some(&keys.postal), &body));
    let answers = futures_util::future::join_all(racers).await;
    let created = answers.iter().filter(|r| r.status() == 201).count();
    let refused = answers.iter().filter(|r| r.status() == 409).count();
    assert_eq!((created, refused), (1, 5));

    // Once signed, the dossier is free of the record (and has moved on).
    confirm(&app, &keys.agency, first["id"].as_i64().expect("id")).await;
    let items = entity::handover_item::Entity::find()
        .all(&app.store.read)
        .await
        .expect("items");
    let of_a: Vec<_> = items
        .iter()
        .filter(|i| i.open_dossier_id.is_none())
        .collect();
    assert_eq!(of_a.len(), 1);
}

#[tokio::test]
async fn the_schema_itself_keeps_a_dossier_off_two_open_records() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (a, _) = picked_up(&app, &keys.postal).await;
    let first = draft(&app, &keys.postal, "to_agency", &[&a]).await;
    let second = draft(
        &app,
        &keys.postal,
        "to_agency",
        &[&picked_up(&app, &keys.postal).await.0],
    )
    .await;
    let item = entity::handover_item::Entity::find()
        .all(&app.store.read)
        .await
        .expect("items")
        .into_iter()
        .find(|i| i.handover_id == first["id"].as_i64().unwrap_or_default())
        .expect("item");
    let sneak = entity::handover_item::ActiveModel {
        handover_id: Set(second["id"].as_i64().expect("id")),
        dossier_id: Set(item.dossier_id),
        open_dossier_id: Set(Some(item.dossier_id)),
        item_code: Set(None),
        ..Default::default()
    };
    let err = entity::handover_item::Entity::insert(sneak)
        .exec(&app.store.write)
        .await
        .expect_err("the unique index refuses it");
    assert!(domain::ops::dossiers::is_unique_violation(&err), "{err}");
}

#[tokio::test]
async fn results_travel_back_on_a_record_signed_by_the_dossiers_office() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, inbound) = picked_up(&app, &keys.postal).await;
    let outbound = super::postal::to_result_with_post(&app, &keys, &code).await;
    assert_ne!(outbound, inbound);
    let d = dossier(&app, &code, &keys.agency).await;
    assert_eq!(d["status"], "result_with_post");
    let timeline = d["timeline"].as_array().expect("timeline");
    let handed = timeline
        .iter()
        .find(|e| e["kind"] == "handed_to_post")
        .expect("handed_to_post");
    assert_eq!(handed["status"], "result_with_post");
    assert_eq!(handed["source"], "api");
    assert!(
        handed["actor"]
            .as_str()
            .unwrap_or_default()
            .starts_with("postal:")
    );
    assert!(
        handed["note"]
            .as_str()
            .unwrap_or_default()
            .contains(&outbound)
    );
}

/// The record's PDF as `bearer` gets it: the response, not yet read.
async fn handover_pdf(app: &TestApp, id: i64, bearer: Option<&str>) -> reqwest::Response {
    get(app, &format!("/api/v1/handovers/{id}/pdf"), bearer).await
}

/// The text of a PDF answered 200 as `application/pdf`.
pub(super) async fn pdf_text(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    let pdf = res.bytes().await.expect("body");
    assert!(pdf.starts_with(b"%PDF"));
    pdf_extract::extract_text_from_mem(&pdf).expect("the PDF's text extracts")
}

#[tokio::test]
async fn the_printed_record_names_its_dossiers_and_parties_for_either_side_only() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (first, first_item) = picked_up(&app, &keys.postal).await;
    let (second, _) = picked_up(&app, &keys.postal).await;
    let record = draft(&app, &keys.postal, "to_agency", &[&first, &second]).await;
    let id = record["id"].as_i64().expect("id");
    let number = record["number"].as_str().expect("number");

    let text = pdf_text(handover_pdf(&app, id, Some(&keys.postal)).await).await;
    for expected in [
        "BIÊN BẢN GIAO NHẬN HỒ SƠ",
        "Ủy ban nhân dân phường Hoàn Kiếm",
        AGENCY,
        number,
        first.as_str(),
        second.as_str(),
        first_item.as_str(),
        "chưa ký",
        "Đại diện bưu chính",
        "Đại diện cơ quan",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }

    confirm(&app, &keys.agency, id).await;
    let text = pdf_text(handover_pdf(&app, id, Some(&keys.agency)).await).await;
    assert!(text.contains("BIÊN BẢN GIAO NHẬN"), "{text}");
    assert!(!text.contains("chưa ký"), "{text}");
    assert!(text.contains("+07:00"), "{text}");

    // The same doors as the record itself.
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    let other_agency = app.key(Role::Agency, None, Some(OTHER_AGENCY)).await;
    for key in [&other_office, &other_agency] {
        expect_error(
            handover_pdf(&app, id, Some(key)).await,
            403,
            "forbidden",
            &[],
        )
        .await;
    }
    expect_error(handover_pdf(&app, id, None).await, 401, "unauthorized", &[]).await;
    expect_error(
        handover_pdf(&app, 999_999, Some(&keys.postal)).await,
        404,
        "not_found",
        &[],
    )
    .await;
}

/// The adoption procedure, whose admin fee is 400,000 VND.
const ADOPTION: &str = "2.001263";
const ADOPTION_FEE: i64 = 400_000;

/// A dossier of [`ADOPTION`], picked up with its fees, handed to the agency and accepted; the agency
/// then asks for a supplement, which the citizen sends and the post picks up. Returns its code.
async fn adoption_with_supplement_picked_up(app: &TestApp, keys: &Keys) -> String {
    let mut body = tests::valid_request();
    body["procedure_code"] = ADOPTION.into();
    body["documents"] = json!([
        {"code": "2.001263-01", "original": true, "copies": 1},
        {"code": "2.001263-02", "original": true, "copies": 1},
        {"code": "2.001263-03", "original": true, "copies": 1},
        {"code": "2.001263-04", "original": true, "copies": 1},
        {"code": "2.001263-05", "original": false, "copies": 1},
    ]);
    let created = json_of(app.post_dossier(&body).await, 201).await;
    assert_eq!(created["fees"]["admin_fee_vnd"], ADOPTION_FEE);
    let code = created["code"].as_str().expect("code").to_owned();
    let token = created["access_token"].as_str().expect("token").to_owned();
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    let dossier_path = |action: &str| format!("/api/v1/dossiers/{code}/{action}");
    json_of(
        post(
            app,
            &dossier_path("pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total}),
        )
        .await,
        200,
    )
    .await;
    let record = draft(app, &keys.postal, "to_agency", &[&code]).await;
    assert_eq!(record["items"][0]["admin_fee_vnd"], ADOPTION_FEE);
    assert_eq!(record["admin_fee_total_vnd"], ADOPTION_FEE);
    confirm(app, &keys.agency, record["id"].as_i64().expect("id")).await;
    json_of(
        post(
            app,
            &dossier_path("verdict"),
            Some(&keys.agency),
            &json!({"decision": "supplement_requested", "reason": "Thiếu giấy khám sức khỏe",
                    "missing_documents": ["Giấy khám sức khỏe của người nhận con nuôi"]}),
        )
        .await,
        200,
    )
    .await;
    let sent = json_of(
        post(
            app,
            &dossier_path("supplement"),
            Some(&token),
            &json!({"documents": [{"code": "2.001263-02", "original": true, "copies": 1}],
                    "pickup_address": null}),
        )
        .await,
        201,
    )
    .await;
    let postage = sent["fees"]["supplement_postage_vnd"]
        .as_i64()
        .expect("postage");
    assert!(postage > 0);
    json_of(
        post(
            app,
            &dossier_path("pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": postage}),
        )
        .await,
        200,
    )
    .await;
    code
}

#[tokio::test]
async fn a_supplements_record_hands_over_no_admin_fee_a_second_time() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let code = adoption_with_supplement_picked_up(&app, &keys).await;

    // The supplement's record: its line and its total carry no admin fee, drafted and signed.
    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    assert_eq!(record["items"][0]["admin_fee_vnd"], 0, "{record}");
    assert_eq!(record["admin_fee_total_vnd"], 0, "{record}");
    let id = record["id"].as_i64().expect("id");
    let signed = confirm(&app, &keys.agency, id).await;
    assert_eq!(signed["items"][0]["admin_fee_vnd"], 0, "{signed}");
    assert_eq!(signed["admin_fee_total_vnd"], 0, "{signed}");
    let read = json_of(
        get(&app, &format!("/api/v1/handovers/{id}"), Some(&keys.agency)).await,
        200,
    )
    .await;
    assert_eq!(read["admin_fee_total_vnd"], 0, "{read}");
    assert_eq!(
        dossier(&app, &code, &keys.agency).await["status"],
        "processing"
    );

    // The fees report counts the dossier's fee once: collected, handed over, nothing outstanding.
    let today = super::postal::local_today();
    let report = json_of(
        get(
            &app,
            &format!("/api/v1/reports/fees?from={today}&to={today}"),
            Some(&admin),
        )
        .await,
        200,
    )
    .await;
    let row = &report["agencies"][0];
    assert_eq!(row["agency_code"], AGENCY, "{report}");
    assert_eq!(row["dossiers"], 1, "{report}");
    assert_eq!(row["admin_fees_collected_vnd"], ADOPTION_FEE, "{report}");
    assert_eq!(row["admin_fees_handed_over_vnd"], ADOPTION_FEE, "{report}");
    assert_eq!(row["admin_fees_outstanding_vnd"], 0, "{report}");
}
