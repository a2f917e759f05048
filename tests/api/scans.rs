//! Parcel scans: by item code or by the label's QR payload, one at a time or in batches from offline
//! scanners; duplicates, late scans, unknown parcels, other offices' parcels and malformed scans each
//! get their documented answer and store nothing wrong.

use chrono::TimeDelta;
use entity::enums::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;

use super::postal::{
    Keys, OTHER_OFFICE, confirm, dossier, draft, expect_error, json_of, kinds, picked_up, post,
    scan_id, vn_time,
};

async fn scan_count(app: &TestApp) -> u64 {
    entity::scan::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count")
}

/// The QR payload of a parcel's label, signed with the service's key.
async fn label_payload(app: &TestApp, item_code: &str) -> String {
    let key = domain::ops::service_keys::get_or_create(
        &app.store.write,
        domain::ops::service_keys::LABEL_SIGNING,
    )
    .await
    .expect("label key");
    let leg = entity::leg::Entity::find()
        .all(&app.store.read)
        .await
        .expect("legs")
        .into_iter()
        .find(|l| l.item_code.as_deref() == Some(item_code))
        .expect("leg");
    format!(
        "{}/l/{}",
        app.base_url,
        domain::label_token::sign(&key, leg.id)
    )
}

#[tokio::test]
async fn the_same_scan_id_twice_is_one_event() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, item) = picked_up(&app, &keys.postal).await;
    let before = app.event_count().await;
    let scan = json!({
        "scan_id": scan_id(),
        "item_code": item,
        "event": "departed",
        "at": vn_time(TimeDelta::zero()),
        "location": "Bưu cục Hoàn Kiếm",
    });
    let first = json_of(
        post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await,
        201,
    )
    .await;
    assert_eq!(first["result"], "accepted");
    assert_eq!(first["dossier_code"], code.as_str());
    let again = json_of(
        post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await,
        200,
    )
    .await;
    assert_eq!(again["result"], "duplicate");
    // Upper-case spelling of the same UUID is the same scan.
    let mut upper = scan.clone();
    upper["scan_id"] = scan["scan_id"]
        .as_str()
        .unwrap_or_default()
        .to_uppercase()
        .into();
    let again = json_of(
        post(&app, "/api/v1/scans", Some(&keys.postal), &upper).await,
        200,
    )
    .await;
    assert_eq!(again["result"], "duplicate");
    assert_eq!(app.event_count().await, before + 1);
    assert_eq!(scan_count(&app).await, 1);
    let d = dossier(&app, &code, &keys.postal).await;
    let last = d["timeline"]
        .as_array()
        .and_then(|t| t.last())
        .expect("event");
    assert_eq!(last["kind"], "departed");
    assert_eq!(last["source"], "scan");
    assert_eq!(last["location"], "Bưu cục Hoàn Kiếm");
    assert_eq!(last["status"], "in_transit");
}

#[tokio::test]
async fn a_late_scan_is_shown_in_time_order_without_moving_the_status_back() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, item) = picked_up(&app, &keys.postal).await;
    let between = chrono::Utc::now();
    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "received_by_agency"
    );

    // An offline scanner uploads, after the handover, an `arrived` scan made before it.
    let scan = json!({
        "scan_id": scan_id(),
        "item_code": item,
        "event": "arrived",
        "at": between.to_rfc3339(),
    });
    let res = json_of(
        post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await,
        201,
    )
    .await;
    assert_eq!(res["result"], "accepted");
    assert_eq!(res["applied"], false);
    assert_eq!(res["status"], "received_by_agency");
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "received_by_agency");
    let kinds = kinds(&d);
    let arrived = kinds.iter().position(|k| k == "arrived").expect("arrived");
    let received = kinds
        .iter()
        .position(|k| k == "received_by_agency")
        .expect("received");
    let picked = kinds.iter().position(|k| k == "picked_up").expect("picked");
    assert!(picked < arrived && arrived < received, "{kinds:?}");
    let event = &d["timeline"][arrived];
    assert_eq!(
        event["status"],
        Value::Null,
        "a late scan records no status"
    );

    // A scan in the present that the lifecycle does not take from here joins the timeline only.
    let scan = json!({
        "scan_id": scan_id(),
        "item_code": item,
        "event": "departed",
        "at": vn_time(TimeDelta::zero()),
    });
    let res = json_of(
        post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await,
        201,
    )
    .await;
    assert_eq!(res["applied"], false);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "received_by_agency"
    );
}

#[tokio::test]
async fn scans_of_one_batch_apply_in_time_order_whatever_their_order_in_the_upload() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, item) = picked_up(&app, &keys.postal).await;
    let outbound = super::postal::to_result_with_post(&app, &keys, &code).await;
    let _ = item;
    // Delivered at +2 s, out for delivery at +1 s: uploaded in the wrong order.
    let scans = json!({"scans": [
        {
            "scan_id": scan_id(),
            "item_code": outbound,
            "event": "delivered",
            "at": vn_time(TimeDelta::seconds(2)),
            "recipient": {"full_name": "Nguyễn Văn An", "id_number": "001090012345", "proxy": false},
        },
        {
            "scan_id": scan_id(),
            "item_code": outbound,
            "event": "out_for_delivery",
            "at": vn_time(TimeDelta::seconds(1)),
        },
    ]});
    let res = json_of(
        post(&app, "/api/v1/scans/batch", Some(&keys.postal), &scans).await,
        200,
    )
    .await;
    assert_eq!(res["accepted"], 2);
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "delivered");
    let kinds = kinds(&d);
    let n = kinds.len();
    assert_eq!(&kinds[n - 2..], ["out_for_delivery", "delivered"]);
}

#[tokio::test]
async fn unknown_parcels_other_offices_parcels_and_malformed_scans_store_nothing() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, item) = picked_up(&app, &keys.postal).await;
    let now = vn_time(TimeDelta::zero());
    let before = app.event_count().await;

    // A valid S10 code that no parcel carries.
    let unknown = domain::s10::ItemCode::from_serial("EB", 99_999_990, "VN").expect("code");
    expect_error(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &json!({
                "scan_id": scan_id(),
                "item_code": unknown.as_str(),
                "event": "departed",
                "at": now,
            }),
        )
        .await,
        404,
        "not_found",
        &[],
    )
    .await;
    // A forged or altered label.
    let payload = label_payload(&app, &item).await;
    let mut altered = payload.clone();
    let last = altered.pop().expect("char");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    expect_error(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &json!({"scan_id": scan_id(), "label": altered, "event": "departed", "at": now}),
        )
        .await,
        404,
        "not_found",
        &[],
    )
    .await;
    // Another office's staff.
    let other = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    expect_error(
        post(
            &app,
            "/api/v1/scans",
            Some(&other),
            &json!({"scan_id": scan_id(), "item_code": item, "event": "departed", "at": now}),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    // Not postal staff at all.
    expect_error(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.agency),
            &json!({"scan_id": scan_id(), "item_code": item, "event": "departed", "at": now}),
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
            "/api/v1/scans",
            None,
            &json!({"scan_id": scan_id(), "item_code": item, "event": "departed", "at": now}),
        )
        .await,
        401,
        "unauthorized",
        &[],
    )
    .await;
    // Malformed: each bad field named.
    let cases = [
        (
            json!({"item_code": item, "event": "departed", "at": now}),
            "scan_id",
        ),
        (
            json!({"scan_id": "not-a-uuid", "item_code": item, "event": "departed", "at": now}),
            "scan_id",
        ),
        (
            json!({"scan_id": scan_id(), "event": "departed", "at": now}),
            "item_code",
        ),
        (
            json!({"scan_id": scan_id(), "item_code": "EB123", "event": "departed", "at": now}),
            "item_code",
        ),
        (
            json!({
                "scan_id": scan_id(),
                "item_code": item,
                "label": payload,
                "event": "departed",
                "at": now,
            }),
            "label",
        ),
        (
            json!({"scan_id": scan_id(), "item_code": item, "event": "teleported", "at": now}),
            "event",
        ),
        (
            json!({
                "scan_id": scan_id(),
                "item_code": item,
                "event": "departed",
                "at": "yesterday",
            }),
            "at",
        ),
        (
            json!({
                "scan_id": scan_id(),
                "item_code": item,
                "event": "departed",
                "at": "2026-11-23T10:00:00",
            }),
            "at",
        ),
        (
            json!({
                "scan_id": scan_id(),
                "item_code": item,
                "event": "departed",
                "at": vn_time(TimeDelta::days(1)),
            }),
            "at",
        ),
        (
            json!({"scan_id": scan_id(), "item_code": item, "event": "departed"}),
            "at",
        ),
        (
            json!({
                "scan_id": scan_id(),
                "item_code": item,
                "event": "departed",
                "at": now,
                "location": "x".repeat(201),
            }),
            "location",
        ),
    ];
    for (body, field) in cases {
        expect_error(
            post(&app, "/api/v1/scans", Some(&keys.postal), &body).await,
            422,
            "validation_failed",
            &[field],
        )
        .await;
    }
    // Not JSON, or wrong types.
    let res = app
        .client
        .post(app.url("/api/v1/scans"))
        .bearer_auth(&keys.postal)
        .header("content-type", "application/json")
        .body("{\"scan_id\": ")
        .send()
        .await
        .expect("request");
    expect_error(res, 400, "bad_request", &[]).await;
    expect_error(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &json!({"scan_id": {"uuid": 42}, "item_code": item}),
        )
        .await,
        400,
        "bad_request",
        &[],
    )
    .await;

    assert_eq!(scan_count(&app).await, 0);
    assert_eq!(app.event_count().await, before);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "picked_up"
    );

    // The genuine label works.
    let res = json_of(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &json!({"scan_id": scan_id(), "label": payload, "event": "departed", "at": now}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(res["status"], "in_transit");
}

#[tokio::test]
async fn a_batch_answers_each_scan_in_order() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, item) = picked_up(&app, &keys.postal).await;
    let payload = label_payload(&app, &item).await;
    let now = vn_time(TimeDelta::zero());
    let stored = scan_id();
    json_of(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &json!({
                "scan_id": stored,
                "item_code": item,
                "event": "accepted_at_office",
                "at": vn_time(TimeDelta::seconds(-30)),
            }),
        )
        .await,
        201,
    )
    .await;
    let repeated = scan_id();
    let unknown = domain::s10::ItemCode::from_serial("EB", 99_999_991, "VN").expect("code");
    let batch = json!({"scans": [
        {
            "scan_id": repeated,
            "label": payload,
            "event": "departed",
            "at": now,
            "location": "Bưu cục Hoàn Kiếm",
        },
        {"scan_id": stored, "item_code": item, "event": "accepted_at_office", "at": now},
        {"scan_id": repeated, "item_code": item, "event": "departed", "at": now},
        {"scan_id": scan_id(), "item_code": unknown.as_str(), "event": "arrived", "at": now},
        42,
        {"scan_id": scan_id(), "item_code": item, "event": "arrived", "at": "soon"},
        {"scan_id": scan_id(), "item_code": item, "event": "arrived", "at": now},
    ]});
    let res = json_of(
        post(&app, "/api/v1/scans/batch", Some(&keys.postal), &batch).await,
        200,
    )
    .await;
    let results = res["results"].as_array().expect("results");
    let summary: Vec<(String, String)> = results
        .iter()
        .map(|r| {
            (
                r["result"].as_str().unwrap_or_default().to_owned(),
                r["error"]["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("accepted", ""),
        ("duplicate", ""),
        ("duplicate", ""),
        ("error", "not_found"),
        ("error", "bad_request"),
        ("error", "validation_failed"),
        ("accepted", ""),
    ];
    assert_eq!(
        summary,
        expected
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<Vec<_>>()
    );
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(results[5]["error"]["details"][0]["field"], "at");
    assert_eq!(
        (
            res["accepted"].as_u64(),
            res["duplicates"].as_u64(),
            res["errors"].as_u64()
        ),
        (Some(2), Some(2), Some(3))
    );
    assert_eq!(results[6]["status"], "in_transit");
    assert_eq!(scan_count(&app).await, 3);
    let d = dossier(&app, &code, &keys.postal).await;
    let scans = d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["source"] == "scan")
        .count();
    assert_eq!(scans, 3);

    // The same batch again: nothing new.
    let res = json_of(
        post(&app, "/api/v1/scans/batch", Some(&keys.postal), &batch).await,
        200,
    )
    .await;
    assert_eq!(res["accepted"], 0);
    assert_eq!(scan_count(&app).await, 3);

    // Limits: 1,000 scans at most; the list is required.
    let too_many: Vec<Value> = (0..1001).map(|_| json!({})).collect();
    expect_error(
        post(
            &app,
            "/api/v1/scans/batch",
            Some(&keys.postal),
            &json!({"scans": too_many}),
        )
        .await,
        422,
        "validation_failed",
        &["scans"],
    )
    .await;
    expect_error(
        post(&app, "/api/v1/scans/batch", Some(&keys.postal), &json!({})).await,
        422,
        "validation_failed",
        &["scans"],
    )
    .await;
    let other = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    let res = json_of(
        post(
            &app,
            "/api/v1/scans/batch",
            Some(&other),
            &json!({
                "scans": [{"scan_id": scan_id(), "item_code": item, "event": "arrived", "at": now}],
            }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(res["results"][0]["error"]["code"], "forbidden");
}

#[tokio::test]
async fn failed_delivery_scans_count_notices_like_the_delivery_endpoint() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, _) = picked_up(&app, &keys.postal).await;
    let outbound = super::postal::to_result_with_post(&app, &keys, &code).await;
    let first = json!({
        "scan_id": scan_id(),
        "item_code": outbound,
        "event": "delivery_failed",
        "at": vn_time(TimeDelta::zero()),
        "note": "Không có người nhận",
    });
    let res = json_of(
        post(&app, "/api/v1/scans", Some(&keys.postal), &first).await,
        201,
    )
    .await;
    assert_eq!(res["status"], "delivery_failed");
    // A second notice the same day is too soon.
    let again = json!({
        "scan_id": scan_id(),
        "item_code": outbound,
        "event": "delivery_failed",
        "at": vn_time(TimeDelta::seconds(1)),
    });
    expect_error(
        post(&app, "/api/v1/scans", Some(&keys.postal), &again).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "delivery_failed");
    assert_eq!(super::postal::leg(&d, "outbound")["failed_attempts"], 1);
    assert_eq!(scan_count(&app).await, 1);
}

#[tokio::test]
async fn tracking_by_dossier_code_or_item_code_shows_every_leg_and_the_whole_timeline_in_order() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, item) = picked_up(&app, &keys.postal).await;
    let scans = json!({"scans": [
        {"scan_id": scan_id(), "item_code": item, "event": "departed", "at": vn_time(TimeDelta::seconds(1))},
        {"scan_id": scan_id(), "item_code": item, "event": "arrived", "at": vn_time(TimeDelta::seconds(2))},
    ]});
    let res = post(&app, "/api/v1/scans/batch", Some(&keys.postal), &scans).await;
    assert_eq!(res.status(), 200);

    let full = dossier(&app, &code, &keys.postal).await;
    let by_code: Value = app.track(&code).await.json().await.expect("json");
    let by_item: Value = app.track(&item).await.json().await.expect("json");
    assert_eq!(by_code, by_item);
    let timeline = |v: &Value| -> Vec<(String, String, String)> {
        v["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap_or_default().to_owned(),
                    e["at"].as_str().unwrap_or_default().to_owned(),
                    e["status"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(timeline(&by_code), timeline(&full));
    assert_eq!(
        timeline(&by_code)
            .iter()
            .map(|(k, ..)| k.as_str())
            .collect::<Vec<_>>(),
        ["requested", "picked_up", "departed", "arrived"]
    );
    let legs = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["legs"]
            .as_array()
            .expect("legs")
            .iter()
            .map(|l| {
                (
                    l["direction"].clone(),
                    l["status"].clone(),
                    l["item_code"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(legs(&by_code), legs(&full));
    assert_eq!(by_code["legs"][0]["item_code"], item.as_str());
}

#[tokio::test]
async fn an_offline_delivery_uploaded_after_the_overdue_sweep_still_delivers() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, _) = picked_up(&app, &keys.postal).await;
    let outbound = super::postal::to_result_with_post(&app, &keys, &code).await;
    let res = json_of(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &json!({"scan_id": scan_id(), "item_code": outbound, "event": "out_for_delivery",
                    "at": vn_time(TimeDelta::zero())}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(res["status"], "out_for_delivery");

    // Delivered on an offline handheld; the scan waits on the device.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let delivered_at = vn_time(TimeDelta::zero());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // Meanwhile the parcel's due date passes and the sweep writes its `overdue` event.
    let res = entity::leg::Entity::update_many()
        .col_expr(
            entity::leg::Column::DueAt,
            Expr::value(chrono::Utc::now() - TimeDelta::hours(1)),
        )
        .filter(entity::leg::Column::ItemCode.eq(outbound.as_str()))
        .exec(&app.store.write)
        .await
        .expect("update leg");
    assert_eq!(res.rows_affected, 1);
    assert!(matches!(
        worker::deadlines::step(&app.store).await,
        worker::StepOutcome::Worked
    ));
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(kinds(&d).last().map(String::as_str), Some("overdue"), "{d}");

    // The handheld uploads its day: the delivery is applied, not dropped as late.
    let batch = json!({"scans": [{
        "scan_id": scan_id(),
        "item_code": outbound,
        "event": "delivered",
        "at": delivered_at,
        "recipient": {"full_name": "Nguyễn Văn An", "id_number": "001090012345", "proxy": false},
    }]});
    let res = json_of(
        post(&app, "/api/v1/scans/batch", Some(&keys.postal), &batch).await,
        200,
    )
    .await;
    assert_eq!(res["results"][0]["result"], "accepted", "{res}");
    assert_eq!(res["results"][0]["applied"], true, "{res}");
    assert_eq!(res["results"][0]["status"], "delivered", "{res}");
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "delivered", "{d}");
    let leg = super::postal::leg(&d, "outbound");
    assert_eq!(leg["status"], "delivered", "{d}");
    assert_eq!(leg["identity_confirmed"], true, "{d}");
    // In time order on the timeline: delivered before the overdue the sweep raised after it.
    let kinds = kinds(&d);
    let n = kinds.len();
    assert_eq!(&kinds[n - 2..], ["delivered", "overdue"], "{kinds:?}");
}
