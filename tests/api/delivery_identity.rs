//! Delivery to the right person (Decision 45 Art. 10): a result goes to the applicant, checked against
//! the identity document on the dossier, or to a proxy holding a written authorisation whose number
//! and date are kept; the same check on a handheld's `delivered` scan; a delivery the carrier reports
//! is an exception for the office until someone confirms who signed; in `return` mode the postage is
//! collected at the door.

use std::sync::Arc;

use entity::delivery_attempt;
use entity::enums::Role;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use tests::TestApp;

use super::carrier::{adapter, sandbox, sync_settings, sync_until_idle};
use super::carrier_orders::{HOUR, orders_worker, result_at_carrier, script};
use super::handovers::pdf_text;
use super::postal::{
    Keys, OTHER_OFFICE, confirm, dossier, draft, expect_error, get, json_of, leg, picked_up, post,
    scan_id, to_result_with_post, vn_time,
};

/// The applicant's identity document in the example request.
const APPLICANT_ID: &str = "001090012345";

async fn attempts(app: &TestApp) -> u64 {
    delivery_attempt::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count")
}

/// A picked-up dossier taken to `result_with_post`; returns (code, outbound item code).
async fn result_with_post(app: &TestApp, keys: &Keys) -> (String, String) {
    let (code, _) = picked_up(app, &keys.postal).await;
    let item = to_result_with_post(app, keys, &code).await;
    (code, item)
}

#[tokio::test]
async fn a_result_goes_only_to_the_applicant_or_to_a_proxy_with_a_written_authorisation() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, _) = result_with_post(&app, &keys).await;
    let delivery = format!("/api/v1/dossiers/{code}/delivery");

    // Someone else's identity document, not as a proxy: refused, nothing stored.
    expect_error(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({
                "outcome": "delivered",
                "recipient": {"full_name": "Lê Văn Cường", "id_number": "079201000001", "proxy": false,
                              "authorization_ref": null},
                "fee_collected_vnd": 0,
            }),
        )
        .await,
        422,
        "validation_failed",
        &["recipient.id_number"],
    )
    .await;
    // A proxy without the authorisation's number and date: refused.
    expect_error(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({
                "outcome": "delivered",
                "recipient": {"full_name": "Lê Văn Cường", "id_number": "079201000001", "proxy": true,
                              "authorization_ref": null},
            }),
        )
        .await,
        422,
        "validation_failed",
        &["recipient.authorization_ref"],
    )
    .await;
    // Postage was paid at pickup: nothing more is collected at the door.
    expect_error(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({
                "outcome": "delivered",
                "recipient": {"full_name": "Nguyễn Văn An", "id_number": APPLICANT_ID, "proxy": false},
                "fee_collected_vnd": 26000,
            }),
        )
        .await,
        422,
        "validation_failed",
        &["fee_collected_vnd"],
    )
    .await;
    assert_eq!(attempts(&app).await, 0, "refusals store nothing");
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "result_with_post");
    assert!(leg(&d, "outbound")["identity_confirmed"].is_null());

    // The applicant's own document, written with spaces around it: delivered, confirmed.
    let d = json_of(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({
                "outcome": "delivered",
                "recipient": {"full_name": "Nguyễn Văn An", "id_number": format!(" {APPLICANT_ID} "),
                              "proxy": false, "authorization_ref": null},
                "fee_collected_vnd": 0,
            }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "delivered");
    assert_eq!(leg(&d, "outbound")["identity_confirmed"], true);
    let stored = delivery_attempt::Entity::find()
        .all(&app.store.read)
        .await
        .expect("attempts");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].recipient_id_number.as_deref(), Some(APPLICANT_ID));
    assert!(!stored[0].proxy);
    assert_eq!(stored[0].fee_collected_vnd, Some(0));

    // A proxy with an authorisation, on another dossier: delivered, the authorisation kept.
    let (other, _) = result_with_post(&app, &keys).await;
    let d = json_of(
        post(
            &app,
            &format!("/api/v1/dossiers/{other}/delivery"),
            Some(&keys.postal),
            &json!({
                "outcome": "delivered",
                "recipient": {"full_name": "Lê Văn Cường", "id_number": "079201000001", "proxy": true,
                              "authorization_ref": "Giấy ủy quyền số 15/UQ ngày 02/12/2026"},
            }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "delivered");
    let stored = delivery_attempt::Entity::find()
        .all(&app.store.read)
        .await
        .expect("attempts");
    let proxy = stored
        .iter()
        .find(|a| a.proxy)
        .expect("the proxy's delivery");
    assert_eq!(
        proxy.authorization_ref.as_deref(),
        Some("Giấy ủy quyền số 15/UQ ngày 02/12/2026")
    );
}

#[tokio::test]
async fn a_delivered_scan_checks_the_recipient_and_a_batch_refuses_that_scan_alone() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, item) = result_with_post(&app, &keys).await;
    let (other_code, other_item) = result_with_post(&app, &keys).await;

    // A single scan without a recipient, or with someone else's document: refused.
    for recipient in [
        Value::Null,
        json!({"full_name": "Lê Văn Cường", "id_number": "079201000001", "proxy": false}),
    ] {
        let mut scan = json!({
            "scan_id": scan_id(),
            "item_code": item,
            "event": "delivered",
            "at": vn_time(chrono::TimeDelta::zero()),
        });
        if !recipient.is_null() {
            scan["recipient"] = recipient;
        }
        let res = post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await;
        let expected = if scan.get("recipient").is_some() {
            "recipient.id_number"
        } else {
            "recipient"
        };
        expect_error(res, 422, "validation_failed", &[expected]).await;
    }
    assert_eq!(attempts(&app).await, 0);
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "result_with_post"
    );

    // A batch: the scan with a stranger's document is refused alone, the others apply.
    let batch = json!({"scans": [
        {
            "scan_id": scan_id(),
            "item_code": item,
            "event": "delivered",
            "at": vn_time(chrono::TimeDelta::zero()),
            "recipient": {"full_name": "Lê Văn Cường", "id_number": "079201000001", "proxy": false},
        },
        {
            "scan_id": scan_id(),
            "item_code": other_item,
            "event": "delivered",
            "at": vn_time(chrono::TimeDelta::zero()),
            "recipient": {"full_name": "Nguyễn Văn An", "id_number": APPLICANT_ID, "proxy": false},
        },
    ]});
    let res = json_of(
        post(&app, "/api/v1/scans/batch", Some(&keys.postal), &batch).await,
        200,
    )
    .await;
    assert_eq!(res["accepted"], 1);
    assert_eq!(res["errors"], 1);
    assert_eq!(res["results"][0]["result"], "error");
    assert_eq!(res["results"][0]["error"]["code"], "validation_failed");
    assert_eq!(
        res["results"][0]["error"]["details"][0]["field"],
        "recipient.id_number"
    );
    assert_eq!(res["results"][1]["result"], "accepted");
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "result_with_post"
    );
    let d = dossier(&app, &other_code, &keys.postal).await;
    assert_eq!(d["status"], "delivered");
    assert_eq!(leg(&d, "outbound")["identity_confirmed"], true);
    assert_eq!(attempts(&app).await, 1);
}

#[tokio::test]
async fn a_carrier_reported_delivery_is_an_exception_until_the_identity_is_confirmed() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    let sandbox = sandbox().await;
    let carrier = Arc::new(adapter(&sandbox));
    let mail = tempfile::tempdir().expect("temp dir");
    let orders = orders_worker(&carrier, mail.path());
    let (code, number) = result_at_carrier(&app, &keys, &sandbox, &orders).await;

    // Nothing to settle yet.
    let list = json_of(
        get(&app, "/api/v1/exceptions", Some(&keys.postal)).await,
        200,
    )
    .await;
    assert_eq!(list["exceptions"], json!([]));

    script(&sandbox, &number, &[6, 7, 10, 12, 14]);
    sandbox.advance(7 * HOUR);
    sync_until_idle(&app, &carrier, &sync_settings("w1")).await;
    let d = dossier(&app, &code, &keys.postal).await;
    assert_eq!(d["status"], "delivered");
    assert_eq!(leg(&d, "outbound")["identity_confirmed"], false);

    // Listed for its office and for administrators, not for another office; agencies may not look.
    for key in [&keys.postal, &admin] {
        let list = json_of(get(&app, "/api/v1/exceptions", Some(key)).await, 200).await;
        let listed: Vec<&Value> = list["exceptions"]
            .as_array()
            .expect("list")
            .iter()
            .collect();
        assert_eq!(listed.len(), 1, "{list}");
        assert_eq!(listed[0]["dossier_code"], code);
        assert_eq!(listed[0]["identity_confirmed"], false);
    }
    let list = json_of(
        get(&app, "/api/v1/exceptions", Some(&other_office)).await,
        200,
    )
    .await;
    assert_eq!(list["exceptions"], json!([]));
    expect_error(
        get(&app, "/api/v1/exceptions", Some(&keys.agency)).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        get(&app, "/api/v1/exceptions", None).await,
        401,
        "unauthorized",
        &[],
    )
    .await;

    // A confirmation that does not hold stores nothing and leaves the exception listed.
    let identity = format!("/api/v1/dossiers/{code}/delivery/identity");
    let events_before = app.event_count().await;
    expect_error(
        post(
            &app,
            &identity,
            Some(&keys.postal),
            &json!({"recipient": {"full_name": "Lê Văn Cường", "id_number": "079201000001", "proxy": false}}),
        )
        .await,
        422,
        "validation_failed",
        &["recipient.id_number"],
    )
    .await;
    expect_error(
        post(
            &app,
            &identity,
            Some(&other_office),
            &json!({"recipient": {"full_name": "Nguyễn Văn An", "id_number": APPLICANT_ID, "proxy": false}}),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    assert_eq!(app.event_count().await, events_before);
    let list = json_of(
        get(&app, "/api/v1/exceptions", Some(&keys.postal)).await,
        200,
    )
    .await;
    assert_eq!(list["exceptions"].as_array().map(Vec::len), Some(1));

    // The applicant's document settles it.
    let d = json_of(
        post(
            &app,
            &identity,
            Some(&keys.postal),
            &json!({"recipient": {"full_name": "Nguyễn Văn An", "id_number": APPLICANT_ID, "proxy": false}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(leg(&d, "outbound")["identity_confirmed"], true);
    assert_eq!(d["status"], "delivered");
    assert!(
        d["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .any(|e| e["kind"] == "identity_confirmed")
    );
    let list = json_of(get(&app, "/api/v1/exceptions", Some(&admin)).await, 200).await;
    assert_eq!(list["exceptions"], json!([]));
    // Settled once: a second confirmation has nothing to settle.
    expect_error(
        post(
            &app,
            &identity,
            Some(&keys.postal),
            &json!({"recipient": {"full_name": "Nguyễn Văn An", "id_number": APPLICANT_ID, "proxy": false}}),
        )
        .await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
}

/// A `return` dossier made by the agency, its result handed to the post; returns (code, the postage
/// due at the door, the outbound item code).
async fn return_result_with_post(app: &TestApp, keys: &Keys) -> (String, i64, String) {
    let mut body = tests::valid_request();
    body["service_mode"] = "return".into();
    body["return_address"] = body["pickup_address"].clone();
    body["pickup_address"] = Value::Null;
    let created = json_of(
        post(app, "/api/v1/dossiers", Some(&keys.agency), &body).await,
        201,
    )
    .await;
    let code = created["code"].as_str().expect("code").to_owned();
    let postage = created["fees"]["postage_vnd"].as_i64().expect("postage");
    assert!(postage > 0);
    json_of(
        post(
            app,
            &format!("/api/v1/dossiers/{code}/result"),
            Some(&keys.agency),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let record = draft(app, &keys.agency, "to_post", &[&code]).await;
    confirm(app, &keys.postal, record["id"].as_i64().expect("id")).await;
    let d = dossier(app, &code, &keys.postal).await;
    let item = leg(&d, "outbound")["item_code"]
        .as_str()
        .expect("outbound item code")
        .to_owned();
    (code, postage, item)
}

#[tokio::test]
async fn in_return_mode_the_postage_is_collected_at_the_door() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, postage, _) = return_result_with_post(&app, &keys).await;

    let delivery = format!("/api/v1/dossiers/{code}/delivery");
    let recipient =
        json!({"full_name": "Nguyễn Văn An", "id_number": APPLICANT_ID, "proxy": false});
    for wrong in [Value::Null, json!(0), json!(postage - 1)] {
        let mut body = json!({"outcome": "delivered", "recipient": recipient});
        if !wrong.is_null() {
            body["fee_collected_vnd"] = wrong;
        }
        expect_error(
            post(&app, &delivery, Some(&keys.postal), &body).await,
            422,
            "validation_failed",
            &["fee_collected_vnd"],
        )
        .await;
    }
    assert_eq!(attempts(&app).await, 0);
    let d = json_of(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({"outcome": "delivered", "recipient": recipient, "fee_collected_vnd": postage}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "delivered");
    let stored = delivery_attempt::Entity::find()
        .all(&app.store.read)
        .await
        .expect("attempts");
    assert_eq!(stored[0].fee_collected_vnd, Some(postage));
}

/// A delivered scan as a handheld sends it, signed for by the applicant.
fn delivered_scan(item: &str, fee: Option<i64>) -> Value {
    let mut scan = json!({
        "scan_id": scan_id(),
        "item_code": item,
        "event": "delivered",
        "at": vn_time(chrono::TimeDelta::zero()),
        "recipient": {"full_name": "Nguyễn Văn An", "id_number": APPLICANT_ID, "proxy": false},
    });
    if let Some(fee) = fee {
        scan["fee_collected_vnd"] = fee.into();
    }
    scan
}

/// `n` VND as the receipt prints it: `26.000`.
fn vnd(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

#[tokio::test]
async fn a_delivered_scan_collects_the_postage_due_at_the_door_like_the_delivery_endpoint() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, postage, item) = return_result_with_post(&app, &keys).await;
    let (other, other_postage, other_item) = return_result_with_post(&app, &keys).await;
    let (paid, paid_item) = result_with_post(&app, &keys).await;
    let receipt = format!("/api/v1/dossiers/{code}/receipt.pdf");
    expect_error(
        get(&app, &receipt, Some(&keys.postal)).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;

    // `return` mode: no fee (absent means 0), or the wrong one, is refused; so is a fee on a scan
    // that collects nothing, and a fee where the postage was paid at pickup. Nothing is stored.
    let events_before = app.event_count().await;
    for wrong in [None, Some(0), Some(postage - 1), Some(postage + 1)] {
        expect_error(
            post(
                &app,
                "/api/v1/scans",
                Some(&keys.postal),
                &delivered_scan(&item, wrong),
            )
            .await,
            422,
            "validation_failed",
            &["fee_collected_vnd"],
        )
        .await;
    }
    expect_error(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &delivered_scan(&item, Some(-postage)),
        )
        .await,
        422,
        "validation_failed",
        &["fee_collected_vnd"],
    )
    .await;
    let mut out_for_delivery = delivered_scan(&item, Some(postage));
    out_for_delivery["event"] = "out_for_delivery".into();
    expect_error(
        post(&app, "/api/v1/scans", Some(&keys.postal), &out_for_delivery).await,
        422,
        "validation_failed",
        &["fee_collected_vnd"],
    )
    .await;
    expect_error(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &delivered_scan(&paid_item, Some(26000)),
        )
        .await,
        422,
        "validation_failed",
        &["fee_collected_vnd"],
    )
    .await;
    assert_eq!(attempts(&app).await, 0, "refusals store nothing");
    assert_eq!(app.event_count().await, events_before);
    for c in [&code, &paid] {
        assert_eq!(
            dossier(&app, c, &keys.postal).await["status"],
            "result_with_post"
        );
    }

    // A batch: the scan with the wrong fee is refused alone; the right fee and a dossier paid at
    // pickup with nothing to collect are delivered.
    let batch = json!({"scans": [
        delivered_scan(&item, Some(postage - 1000)),
        delivered_scan(&other_item, Some(other_postage)),
        delivered_scan(&paid_item, None),
    ]});
    let res = json_of(
        post(&app, "/api/v1/scans/batch", Some(&keys.postal), &batch).await,
        200,
    )
    .await;
    assert_eq!(res["accepted"], 2, "{res}");
    assert_eq!(res["errors"], 1, "{res}");
    assert_eq!(res["results"][0]["error"]["code"], "validation_failed");
    assert_eq!(
        res["results"][0]["error"]["details"][0]["field"],
        "fee_collected_vnd"
    );
    assert_eq!(
        dossier(&app, &code, &keys.postal).await["status"],
        "result_with_post"
    );
    for c in [&other, &paid] {
        assert_eq!(dossier(&app, c, &keys.postal).await["status"], "delivered");
    }

    // The right fee alone: delivered, the fee recorded with the delivery, and on the receipt.
    let res = json_of(
        post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &delivered_scan(&item, Some(postage)),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(res["status"], "delivered");
    let stored = delivery_attempt::Entity::find()
        .all(&app.store.read)
        .await
        .expect("attempts");
    assert_eq!(stored.len(), 3);
    let fees: Vec<Option<i64>> = stored.iter().map(|a| a.fee_collected_vnd).collect();
    assert!(fees.contains(&Some(postage)) && fees.contains(&Some(other_postage)));
    assert!(fees.contains(&Some(0)), "{fees:?}");
    let text = pdf_text(get(&app, &receipt, Some(&keys.postal)).await)
        .await
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("BIÊN LAI THU TIỀN"), "{text}");
    assert!(text.contains(&vnd(postage)), "{text}");
    assert!(text.contains(&item), "{text}");
}
