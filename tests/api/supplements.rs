//! Supplements by post: the agency names the documents missing from a dossier; the citizen sends them
//! by post as a second inbound parcel (purpose `supplement`), picked up, handed over and signed for
//! like the first; the dossier is then back in `processing`, its result due date counted anew from
//! the supplement's filing. While the agency waits, its clock stands still: no `overdue` event.

use chrono::{TimeDelta, Utc};
use entity::{dossier, leg};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::{TestApp, valid_request};
use worker::StepOutcome;

use super::postal::{
    Keys, confirm, dossier as dossier_view, draft, expect_error, get, json_of, parse_time, post,
    scan_id, vn_time,
};

const MISSING: &str = "Giấy tờ tùy thân (bản sao)";

fn path(code: &str, action: &str) -> String {
    format!("/api/v1/dossiers/{code}/{action}")
}

/// The overdue sweep, run until it has nothing left; returns how many steps did work.
async fn sweep_until_idle(app: &TestApp) -> usize {
    for worked in 0..20 {
        match worker::deadlines::step(&app.store).await {
            StepOutcome::Worked => {}
            StepOutcome::Idle => return worked,
            StepOutcome::Failed => panic!("the overdue sweep failed"),
        }
    }
    panic!("the overdue sweep never ran out of work");
}

fn kinds_of(d: &Value, kind: &str) -> usize {
    d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == kind)
        .count()
}

async fn leg_count(app: &TestApp) -> u64 {
    leg::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count")
}

/// A dossier (a war invalid's: postage at half) taken to the agency and accepted for processing;
/// returns its code and access token.
async fn processing(app: &TestApp, keys: &Keys) -> (String, String) {
    let mut body = valid_request();
    body["fee_exemption"] = "war_invalid".into();
    let created = json_of(app.post_dossier(&body).await, 201).await;
    let code = created["code"].as_str().expect("code").to_owned();
    let token = created["access_token"].as_str().expect("token").to_owned();
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    json_of(
        post(
            app,
            &path(&code, "pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total}),
        )
        .await,
        200,
    )
    .await;
    let record = draft(app, &keys.postal, "to_agency", &[&code]).await;
    confirm(app, &keys.agency, record["id"].as_i64().expect("id")).await;
    let d = json_of(
        post(
            app,
            &path(&code, "verdict"),
            Some(&keys.agency),
            &json!({"decision": "accepted"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "processing");
    (code, token)
}

/// Moves the agency's result due time into the past, as if its days had gone by.
async fn expire_result(app: &TestApp, code: &str) {
    let res = dossier::Entity::update_many()
        .col_expr(
            dossier::Column::ResultDueAt,
            Expr::value(Utc::now() - TimeDelta::hours(1)),
        )
        .filter(dossier::Column::Code.eq(code))
        .exec(&app.store.write)
        .await
        .expect("update dossier");
    assert_eq!(res.rows_affected, 1);
}

#[tokio::test]
async fn a_supplement_request_must_name_the_missing_documents() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, token) = processing(&app, &keys).await;
    let before = dossier_view(&app, &code, &keys.agency).await;
    for body in [
        json!({"decision": "supplement_requested", "reason": "Thiếu giấy tờ"}),
        json!({"decision": "supplement_requested", "reason": "Thiếu giấy tờ", "missing_documents": []}),
    ] {
        expect_error(
            post(&app, &path(&code, "verdict"), Some(&keys.agency), &body).await,
            422,
            "validation_failed",
            &["missing_documents"],
        )
        .await;
    }
    let after = dossier_view(&app, &code, &keys.agency).await;
    assert_eq!(after["status"], "processing");
    assert_eq!(after["timeline"], before["timeline"]);

    // Named, they are shown to the citizen in the dossier view.
    json_of(
        post(
            &app,
            &path(&code, "verdict"),
            Some(&keys.agency),
            &json!({"decision": "supplement_requested", "reason": "Thiếu giấy tờ",
                    "missing_documents": [MISSING]}),
        )
        .await,
        200,
    )
    .await;
    let d = dossier_view(&app, &code, &token).await;
    assert_eq!(d["status"], "supplement_requested");
    assert_eq!(d["missing_documents"], json!([MISSING]));
}

#[tokio::test]
async fn a_supplement_sent_by_post_returns_the_dossier_to_processing_with_a_new_due_date() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, token) = processing(&app, &keys).await;
    json_of(
        post(
            &app,
            &path(&code, "verdict"),
            Some(&keys.agency),
            &json!({"decision": "supplement_requested", "reason": "Thiếu giấy tờ",
                    "missing_documents": [MISSING]}),
        )
        .await,
        200,
    )
    .await;

    // The agency's old due date passes while it waits: its clock stands still, nothing is overdue.
    expire_result(&app, &code).await;
    let old_due = parse_time(&dossier_view(&app, &code, &token).await["result_due_at"]);
    assert_eq!(sweep_until_idle(&app).await, 0);
    let d = dossier_view(&app, &code, &token).await;
    assert_eq!(d["overdue"], false);
    assert_eq!(kinds_of(&d, "overdue"), 0);

    // The citizen's page names what to send; the public view does not.
    let page = |query: String| {
        let url = app.url(&format!("/t/{code}{query}"));
        async move {
            reqwest::Client::new()
                .get(url)
                .header("accept", "text/html")
                .send()
                .await
                .expect("request")
                .text()
                .await
                .expect("page")
        }
    };
    let own = page(format!("?k={token}")).await;
    assert!(
        own.contains("missing-documents") && own.contains(MISSING),
        "{own}"
    );
    let public = page(String::new()).await;
    assert!(!public.contains("missing-documents"), "{public}");

    // The citizen sends the missing document by post.
    let documents = json!([{"name": MISSING, "original": false, "copies": 1}]);
    let d = json_of(
        post(
            &app,
            &path(&code, "supplement"),
            Some(&token),
            &json!({"documents": documents, "pickup_address": null}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(d["status"], "supplement_requested");
    let parcel = d["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["purpose"] == "supplement")
        .cloned()
        .expect("a supplement parcel");
    assert_eq!(parcel["direction"], "inbound");
    assert_eq!(parcel["status"], "planned");
    // One inbound leg's postage (26,000 VND in Hà Nội), halved for a war invalid.
    assert_eq!(d["fees"]["supplement_postage_vnd"], 13_000);

    // It is on the office's pickup worklist.
    let list = json_of(
        get(
            &app,
            "/api/v1/pickups?status=pickup_requested",
            Some(&keys.postal),
        )
        .await,
        200,
    )
    .await;
    let item = list
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["code"] == code.as_str())
        .cloned()
        .expect("the supplement on the worklist");
    assert_eq!(item["purpose"], "supplement");
    assert_eq!(item["documents"][0]["name"], MISSING);
    assert_eq!(item["fees"]["supplement_postage_vnd"], 13_000);

    // Not yet picked up: it cannot be handed over.
    let body = json!({"direction": "to_agency", "agency_code": "UBND-P-HOANKIEM", "dossier_codes": [code]});
    expect_error(
        post(&app, "/api/v1/handovers", Some(&keys.postal), &body).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    // The pickup collects the supplement's postage, not the dossier's total.
    expect_error(
        post(
            &app,
            &path(&code, "pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": 26_000}),
        )
        .await,
        422,
        "validation_failed",
        &["fee_collected_vnd"],
    )
    .await;
    let d = json_of(
        post(
            &app,
            &path(&code, "pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": 13_000}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "supplement_requested");
    let parcel = d["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["purpose"] == "supplement")
        .cloned()
        .expect("the supplement parcel");
    assert_eq!(parcel["status"], "picked_up");
    let item_code = parcel["item_code"].as_str().expect("item code").to_owned();

    // On its way: a scan moves the parcel, and the dossier still waits for it.
    let scan = json!({
        "scan_id": scan_id(),
        "item_code": item_code,
        "event": "departed",
        "at": vn_time(TimeDelta::zero()),
        "location": "Bưu cục Hoàn Kiếm",
    });
    let scanned = json_of(
        post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await,
        201,
    )
    .await;
    assert_eq!(scanned["result"], "accepted", "{scanned}");
    assert_eq!(scanned["applied"], true, "{scanned}");
    assert_eq!(scanned["status"], "supplement_requested", "{scanned}");
    let d = dossier_view(&app, &code, &token).await;
    let parcel = d["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["purpose"] == "supplement")
        .cloned()
        .expect("the supplement parcel");
    assert_eq!(parcel["status"], "in_transit", "{d}");

    // Still waiting, still no overdue however often the sweep runs.
    assert_eq!(sweep_until_idle(&app).await, 0);

    // Handed over and signed for: back in processing, due anew from the supplement's filing.
    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    assert_eq!(record["items"][0]["item_code"], item_code.as_str());
    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    let d = dossier_view(&app, &code, &token).await;
    assert_eq!(d["status"], "processing");
    assert!(parse_time(&d["result_due_at"]) > old_due, "{d}");
    assert_eq!(d["overdue"], false);
    assert_eq!(kinds_of(&d, "overdue"), 0);
    assert_eq!(d["missing_documents"], json!([]));
    assert!(
        !page(format!("?k={token}"))
            .await
            .contains("missing-documents")
    );
    let parcel = d["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["purpose"] == "supplement")
        .cloned()
        .expect("the supplement parcel");
    assert_eq!(parcel["status"], "handed_over");
    assert_eq!(sweep_until_idle(&app).await, 0);
    // The public view names the parcel's purpose too.
    let tracked = json_of(get(&app, &format!("/api/v1/track/{code}"), None).await, 200).await;
    assert!(
        tracked["legs"]
            .as_array()
            .expect("legs")
            .iter()
            .any(|l| l["purpose"] == "supplement" && l["status"] == "handed_over")
    );
}

#[tokio::test]
async fn only_the_citizen_sends_a_supplement_and_only_when_one_is_asked_for() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, token) = processing(&app, &keys).await;
    let (_, other_token) = processing(&app, &keys).await;
    let body = json!({"documents": [{"name": MISSING, "original": false, "copies": 1}],
                      "pickup_address": null});
    let legs = leg_count(&app).await;

    // Nothing was asked for yet.
    expect_error(
        post(&app, &path(&code, "supplement"), Some(&token), &body).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    json_of(
        post(
            &app,
            &path(&code, "verdict"),
            Some(&keys.agency),
            &json!({"decision": "supplement_requested", "reason": "Thiếu giấy tờ",
                    "missing_documents": [MISSING]}),
        )
        .await,
        200,
    )
    .await;
    let before = dossier_view(&app, &code, &token).await;
    expect_error(
        post(&app, &path(&code, "supplement"), None, &body).await,
        401,
        "unauthorized",
        &[],
    )
    .await;
    for bearer in [&keys.postal, &keys.agency, &other_token] {
        expect_error(
            post(&app, &path(&code, "supplement"), Some(bearer), &body).await,
            403,
            "forbidden",
            &[],
        )
        .await;
    }
    expect_error(
        post(
            &app,
            &path(&code, "supplement"),
            Some(&token),
            &json!({"documents": [], "pickup_address": null}),
        )
        .await,
        422,
        "validation_failed",
        &["documents"],
    )
    .await;
    expect_error(
        post(
            &app,
            &path(&code, "supplement"),
            Some(&token),
            &json!({"documents": body["documents"],
                    "pickup_address": {"line": "1 Lê Duẩn", "ward_code": "26740", "province_code": "01"}}),
        )
        .await,
        422,
        "validation_failed",
        &["pickup_address.ward_code"],
    )
    .await;
    assert_eq!(leg_count(&app).await, legs);
    assert_eq!(
        dossier_view(&app, &code, &token).await["timeline"],
        before["timeline"]
    );

    // Sent once; a second time is a conflict.
    json_of(
        post(&app, &path(&code, "supplement"), Some(&token), &body).await,
        201,
    )
    .await;
    assert_eq!(leg_count(&app).await, legs + 1);
    expect_error(
        post(&app, &path(&code, "supplement"), Some(&token), &body).await,
        409,
        "conflict",
        &[],
    )
    .await;
    assert_eq!(leg_count(&app).await, legs + 1);
}

/// The supplement's parcel of a dossier view.
pub(super) fn supplement_parcel(d: &Value) -> Value {
    d["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["purpose"] == "supplement")
        .cloned()
        .expect("a supplement parcel")
}

/// Asks a processing dossier for a supplement (a war invalid's: 13,000 VND postage).
async fn ask_for_supplement(app: &TestApp, keys: &Keys, code: &str) {
    json_of(
        post(
            app,
            &path(code, "verdict"),
            Some(&keys.agency),
            &json!({"decision": "supplement_requested", "reason": "Thiếu giấy tờ",
                    "missing_documents": [MISSING]}),
        )
        .await,
        200,
    )
    .await;
}

/// The citizen sends the supplement by post, from the dossier's pickup address.
async fn send_supplement(app: &TestApp, code: &str, token: &str) {
    json_of(
        post(
            app,
            &path(code, "supplement"),
            Some(token),
            &json!({"documents": [{"name": MISSING, "original": false, "copies": 1}],
                    "pickup_address": null}),
        )
        .await,
        201,
    )
    .await;
}

/// A dossier waiting for its supplement, sent by the citizen from `pickup_address` (or the dossier's
/// own pickup address) and not yet picked up; returns its code and access token. Its first inbound
/// parcel was picked up.
pub(super) async fn supplement_sent(
    app: &TestApp,
    keys: &Keys,
    pickup_address: Value,
) -> (String, String) {
    let (code, token) = processing(app, keys).await;
    ask_for_supplement(app, keys, &code).await;
    json_of(
        post(
            app,
            &path(&code, "supplement"),
            Some(&token),
            &json!({"documents": [{"name": MISSING, "original": false, "copies": 1}],
                    "pickup_address": pickup_address}),
        )
        .await,
        201,
    )
    .await;
    (code, token)
}

/// The office's worklist entry of `code` under `status`, if listed.
async fn worklist_entry(app: &TestApp, keys: &Keys, status: &str, code: &str) -> Option<Value> {
    let list = json_of(
        get(
            app,
            &format!("/api/v1/pickups?status={status}"),
            Some(&keys.postal),
        )
        .await,
        200,
    )
    .await;
    list.as_array()
        .expect("list")
        .iter()
        .find(|p| p["code"] == code)
        .cloned()
}

#[tokio::test]
async fn a_supplement_pickup_is_scheduled_fails_and_is_scheduled_again_like_a_first_pickup() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, token) = processing(&app, &keys).await;
    ask_for_supplement(&app, &keys, &code).await;
    let today = super::postal::local_today();
    let morning = json!({"date": today.to_string(), "window": "morning"});
    let failed = json!({"reason": "Không có ai ở nhà"});

    // Nothing to collect before the citizen sends it.
    for (action, body) in [("schedule", &morning), ("pickup-failed", &failed)] {
        expect_error(
            post(&app, &path(&code, action), Some(&keys.postal), body).await,
            409,
            "invalid_transition",
            &[],
        )
        .await;
    }
    send_supplement(&app, &code, &token).await;
    let entry = worklist_entry(&app, &keys, "pickup_requested", &code)
        .await
        .expect("listed as requested");
    assert_eq!(entry["purpose"], "supplement");
    assert_eq!(entry["status"], "supplement_requested");
    assert_eq!(entry["pickup_status"], "pickup_requested");

    // A booking with the first pickup's rules: not in the past, a known half-day; a failure needs a
    // reason. Refusals store nothing.
    let before = dossier_view(&app, &code, &token).await;
    let yesterday = today - chrono::Days::new(1);
    for (action, body, field) in [
        (
            "schedule",
            json!({"date": yesterday.to_string(), "window": "morning"}),
            "date",
        ),
        (
            "schedule",
            json!({"date": today.to_string(), "window": "evening"}),
            "window",
        ),
        ("pickup-failed", json!({"reason": ""}), "reason"),
    ] {
        expect_error(
            post(&app, &path(&code, action), Some(&keys.postal), &body).await,
            422,
            "validation_failed",
            &[field],
        )
        .await;
    }
    let after = dossier_view(&app, &code, &token).await;
    assert_eq!(after["timeline"], before["timeline"]);
    assert_eq!(supplement_parcel(&after)["status"], "planned");

    // Booked: the parcel is scheduled, the dossier still waits for it.
    let d = json_of(
        post(&app, &path(&code, "schedule"), Some(&keys.postal), &morning).await,
        200,
    )
    .await;
    assert_eq!(d["status"], "supplement_requested");
    let parcel = supplement_parcel(&d);
    assert_eq!(parcel["status"], "pickup_scheduled");
    assert_eq!(parcel["pickup_date"], today.to_string());
    assert_eq!(parcel["pickup_window"], "morning");
    assert_eq!(kinds_of(&d, "pickup_scheduled"), 1);
    assert!(
        worklist_entry(&app, &keys, "pickup_requested", &code)
            .await
            .is_none()
    );
    let entry = worklist_entry(&app, &keys, "pickup_scheduled", &code)
        .await
        .expect("listed as scheduled");
    assert_eq!(entry["purpose"], "supplement");
    assert_eq!(entry["pickup_status"], "pickup_scheduled");
    assert_eq!(entry["scheduled_date"], today.to_string());
    assert_eq!(entry["scheduled_window"], "morning");
    // The clerk's page tells the supplement's stage.
    let mut jar = crate::staff_web::Jar::default();
    crate::staff_web::sign_in(&app.base_url, &mut jar, &keys.postal).await;
    let page = crate::staff_web::get(&app.base_url, &mut jar, "/staff/pickups?lang=en")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Supplement · Pickup scheduled"), "{page}");
    // The dossier's page offers the parcel's actions, and the public view shows its stage.
    let page = crate::staff_web::get(
        &app.base_url,
        &mut jar,
        &format!("/staff/dossiers/{code}?lang=en"),
    )
    .await
    .text()
    .await
    .expect("page");
    assert!(
        page.contains(&format!("/staff/dossiers/{code}/pickup-failed")),
        "{page}"
    );
    let tracked = json_of(get(&app, &format!("/api/v1/track/{code}"), None).await, 200).await;
    assert!(
        tracked["legs"]
            .as_array()
            .expect("legs")
            .iter()
            .any(|l| l["purpose"] == "supplement" && l["status"] == "pickup_scheduled"),
        "{tracked}"
    );

    // The postman came and could not collect it: failed, once; the dossier still waits.
    let d = json_of(
        post(
            &app,
            &path(&code, "pickup-failed"),
            Some(&keys.postal),
            &failed,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "supplement_requested");
    assert_eq!(supplement_parcel(&d)["status"], "pickup_failed");
    assert_eq!(kinds_of(&d, "pickup_failed"), 1);
    let entry = worklist_entry(&app, &keys, "pickup_failed", &code)
        .await
        .expect("listed as failed");
    assert_eq!(entry["pickup_status"], "pickup_failed");
    expect_error(
        post(
            &app,
            &path(&code, "pickup-failed"),
            Some(&keys.postal),
            &failed,
        )
        .await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    let page = crate::staff_web::get(&app.base_url, &mut jar, "/staff/pickups?lang=en")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Supplement · Pickup failed"), "{page}");

    // Booked again, for the afternoon, and collected.
    let d = json_of(
        post(
            &app,
            &path(&code, "schedule"),
            Some(&keys.postal),
            &json!({"date": today.to_string(), "window": "afternoon"}),
        )
        .await,
        200,
    )
    .await;
    let parcel = supplement_parcel(&d);
    assert_eq!(parcel["status"], "pickup_scheduled");
    assert_eq!(parcel["pickup_window"], "afternoon");
    assert_eq!(
        sweep_until_idle(&app).await,
        0,
        "the agency's clock is stopped"
    );
    let d = json_of(
        post(
            &app,
            &path(&code, "pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": 13_000}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "supplement_requested");
    assert_eq!(supplement_parcel(&d)["status"], "picked_up");
    // Picked up: nothing more to book or fail.
    for (action, body) in [("schedule", &morning), ("pickup-failed", &failed)] {
        expect_error(
            post(&app, &path(&code, action), Some(&keys.postal), body).await,
            409,
            "invalid_transition",
            &[],
        )
        .await;
    }
    assert!(
        worklist_entry(&app, &keys, "supplement_requested", &code)
            .await
            .is_none()
    );

    // Handed over and signed for: back in processing.
    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    let d = dossier_view(&app, &code, &token).await;
    assert_eq!(d["status"], "processing");
    assert_eq!(supplement_parcel(&d)["status"], "handed_over");
    assert_eq!(kinds_of(&d, "overdue"), 0);
}

/// Records the pickup of a sent supplement (13,000 VND postage); returns its parcel's item code.
async fn pick_up_supplement(app: &TestApp, keys: &Keys, code: &str) -> String {
    let d = json_of(
        post(
            app,
            &path(code, "pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": 13_000}),
        )
        .await,
        200,
    )
    .await;
    let parcel = supplement_parcel(&d);
    assert_eq!(parcel["status"], "picked_up");
    parcel["item_code"].as_str().expect("item code").to_owned()
}

/// The note of the dossier's last timeline event of `kind`.
fn last_note(d: &Value, kind: &str) -> String {
    d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .rev()
        .find(|e| e["kind"] == kind)
        .and_then(|e| e["note"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn no_ruling_strands_a_supplement_on_its_way_to_the_desk() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, token) = supplement_sent(&app, &keys, Value::Null).await;
    let item_code = pick_up_supplement(&app, &keys, &code).await;
    let before = dossier_view(&app, &code, &token).await;

    // Picked up, not yet signed for: neither an acceptance nor a refusal, and the answer says why.
    for body in [
        json!({"decision": "accepted"}),
        json!({"decision": "rejected", "reason": "Không đủ điều kiện"}),
    ] {
        let res = post(&app, &path(&code, "verdict"), Some(&keys.agency), &body).await;
        assert_eq!(res.status().as_u16(), 409);
        let answer: Value = res.json().await.expect("error body");
        assert_eq!(answer["error"]["code"], "invalid_transition", "{answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("on its way") && message.contains(&item_code),
            "{message}"
        );
    }
    let after = dossier_view(&app, &code, &token).await;
    assert_eq!(after["status"], "supplement_requested");
    assert_eq!(after["timeline"], before["timeline"]);
    assert_eq!(supplement_parcel(&after)["status"], "picked_up");

    // Signed for at the desk, it is back in processing, and the agency may rule.
    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    let d = dossier_view(&app, &code, &token).await;
    assert_eq!(d["status"], "processing");
    assert_eq!(supplement_parcel(&d)["status"], "handed_over");
    json_of(
        post(
            &app,
            &path(&code, "verdict"),
            Some(&keys.agency),
            &json!({"decision": "rejected", "reason": "Không đủ điều kiện"}),
        )
        .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn an_acceptance_before_the_supplement_is_collected_closes_its_pickup_and_restarts_the_clock()
{
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, token) = supplement_sent(&app, &keys, Value::Null).await;
    assert!(
        worklist_entry(&app, &keys, "pickup_requested", &code)
            .await
            .is_some()
    );
    // The first due date passed while the agency waited.
    expire_result(&app, &code).await;
    let accepted_at = Utc::now();

    // The citizen brought the papers to the desk: the agency accepts.
    let d = json_of(
        post(
            &app,
            &path(&code, "verdict"),
            Some(&keys.agency),
            &json!({"decision": "accepted"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "processing");
    let d = dossier_view(&app, &code, &token).await;
    // Processing time counted anew from the acceptance: due after it, nothing overdue.
    assert!(parse_time(&d["result_due_at"]) > accepted_at, "{d}");
    assert_eq!(d["overdue"], false, "{d}");
    assert_eq!(sweep_until_idle(&app).await, 0);
    assert_eq!(
        kinds_of(&dossier_view(&app, &code, &token).await, "overdue"),
        0
    );

    // The pickup nobody made is closed: off the worklist, no postage owed, and the timeline says so.
    assert_eq!(supplement_parcel(&d)["status"], "cancelled", "{d}");
    assert_eq!(d["fees"]["supplement_postage_vnd"], 0, "{d}");
    for status in ["pickup_requested", "supplement_requested"] {
        assert!(worklist_entry(&app, &keys, status, &code).await.is_none());
    }
    let list = json_of(get(&app, "/api/v1/pickups", Some(&keys.postal)).await, 200).await;
    assert!(
        !list
            .as_array()
            .expect("list")
            .iter()
            .any(|p| p["code"] == code.as_str()),
        "{list}"
    );
    let note = last_note(&d, "accepted");
    assert!(note.contains("pickup is closed"), "{note}");
    assert!(note.contains("counted anew"), "{note}");
    // Nothing was handed over for it: the dossier's slip has no page for it.
    let slip = get(
        &app,
        &format!("/api/v1/dossiers/{code}/slip.pdf"),
        Some(&token),
    )
    .await;
    assert_eq!(slip.status(), 200);
    let pdf = slip.bytes().await.expect("body");
    let pages = pdf_extract::extract_text_from_mem_by_pages(&pdf).expect("the PDF's text");
    assert_eq!(pages.len(), 1, "{pages:?}");
    expect_error(
        post(
            &app,
            &path(&code, "pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": 13_000}),
        )
        .await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_refusal_before_the_supplement_is_collected_closes_its_pickup() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, token) = supplement_sent(&app, &keys, Value::Null).await;
    let d = json_of(
        post(
            &app,
            &path(&code, "verdict"),
            Some(&keys.agency),
            &json!({"decision": "rejected", "reason": "Quá hạn bổ sung"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "rejected");
    let d = dossier_view(&app, &code, &token).await;
    assert_eq!(supplement_parcel(&d)["status"], "cancelled", "{d}");
    assert_eq!(d["fees"]["supplement_postage_vnd"], 0, "{d}");
    assert!(
        worklist_entry(&app, &keys, "pickup_requested", &code)
            .await
            .is_none()
    );
    let note = last_note(&d, "rejected");
    assert!(
        note.contains("Quá hạn bổ sung") && note.contains("pickup is closed"),
        "{note}"
    );
    assert_eq!(d["overdue"], false, "{d}");
}

#[tokio::test]
async fn a_supplement_carries_only_documents_the_procedure_lists() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, token) = processing(&app, &keys).await;
    ask_for_supplement(&app, &keys, &code).await;
    let before = dossier_view(&app, &code, &token).await;
    let legs = leg_count(&app).await;

    // Two documents the procedure does not list (one by name, one by another procedure's code),
    // beside one it lists: refused, each named in its own detail, nothing stored.
    let res = post(
        &app,
        &path(&code, "supplement"),
        Some(&token),
        &json!({"documents": [
            {"name": "Sổ hộ khẩu", "original": true, "copies": 0},
            {"name": MISSING, "original": false, "copies": 1},
            {"code": "2.001263-01", "original": true, "copies": 1},
        ], "pickup_address": null}),
    )
    .await;
    assert_eq!(res.status().as_u16(), 422);
    let body: Value = res.json().await.expect("error body");
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
    let details = body["error"]["details"].as_array().expect("details");
    assert_eq!(details.len(), 2, "{body}");
    assert!(details.iter().all(|d| d["field"] == "documents"), "{body}");
    let messages: Vec<&str> = details
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    assert!(messages[0].contains("Sổ hộ khẩu"), "{body}");
    assert!(messages[1].contains("2.001263-01"), "{body}");
    let after = dossier_view(&app, &code, &token).await;
    assert_eq!(after["timeline"], before["timeline"]);
    assert_eq!(after["fees"]["supplement_postage_vnd"], 0);
    assert_eq!(leg_count(&app).await, legs);
    assert!(
        worklist_entry(&app, &keys, "pickup_requested", &code)
            .await
            .is_none()
    );

    // A listed document by its code alone, without the procedure's required form (the dossier
    // has it): accepted, under the list's name.
    json_of(
        post(
            &app,
            &path(&code, "supplement"),
            Some(&token),
            &json!({"documents": [{"code": "1.001612-02", "original": false, "copies": 1}],
                    "pickup_address": null}),
        )
        .await,
        201,
    )
    .await;
    let entry = worklist_entry(&app, &keys, "pickup_requested", &code)
        .await
        .expect("the supplement on the worklist");
    assert_eq!(entry["documents"][0]["name"], MISSING, "{entry}");
}
