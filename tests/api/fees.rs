//! Fees on the agency's behalf (Decision 45 Art. 7.1, 11): the pickup collects exactly the dossier's
//! total, the handover record to the agency states the admin fees handed over with the dossiers (in
//! JSON and on paper), and the fees report says per agency what was collected, handed over and is
//! still outstanding.

use entity::enums::Role;
use entity::pickup_slip;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use tests::TestApp;

use super::handovers::pdf_text;
use super::postal::{
    AGENCY, Keys, OTHER_AGENCY, confirm, dossier, draft, expect_error, get, json_of, local_today,
    picked_up, post,
};

/// The example request's procedure (1.001612) has an admin fee of 8,000 VND.
const ADMIN_FEE: i64 = 8_000;

#[tokio::test]
async fn a_pickup_collects_exactly_the_dossiers_total_or_is_refused_with_nothing_stored() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    assert_eq!(created["fees"]["admin_fee_vnd"], ADMIN_FEE);
    let pickup = format!("/api/v1/dossiers/{code}/pickup");
    for wrong in [total - ADMIN_FEE, total + 1, 0] {
        expect_error(
            post(
                &app,
                &pickup,
                Some(&keys.postal),
                &json!({"documents_checked": true, "fee_collected_vnd": wrong, "item_code": null}),
            )
            .await,
            422,
            "validation_failed",
            &["fee_collected_vnd"],
        )
        .await;
    }
    let slips = pickup_slip::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(slips, 0, "a refused pickup stores no slip");
    assert_eq!(
        dossier(&app, code, &keys.postal).await["status"],
        "pickup_requested"
    );
    let d = json_of(
        post(
            &app,
            &pickup,
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total, "item_code": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "picked_up");
}

#[tokio::test]
async fn a_handover_record_to_the_agency_states_the_admin_fees_handed_over_with_the_dossiers() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (first, _) = picked_up(&app, &keys.postal).await;
    let (second, _) = picked_up(&app, &keys.postal).await;
    let record = draft(&app, &keys.postal, "to_agency", &[&first, &second]).await;
    let items = record["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(item["admin_fee_vnd"], ADMIN_FEE);
    }
    assert_eq!(record["admin_fee_total_vnd"], 2 * ADMIN_FEE);
    let id = record["id"].as_i64().expect("id");
    let text = pdf_text(
        get(
            &app,
            &format!("/api/v1/handovers/{id}/pdf"),
            Some(&keys.postal),
        )
        .await,
    )
    .await;
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Lệ phí"), "{flat}");
    assert!(
        flat.contains("Tổng lệ phí thu hộ bàn giao: 16.000 đồng"),
        "{flat}"
    );
    assert!(flat.contains("8.000"), "{flat}");
}

#[tokio::test]
async fn the_fees_report_shows_each_agency_what_was_collected_handed_over_and_outstanding() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let foreign = app.key(Role::Agency, None, Some(OTHER_AGENCY)).await;
    let (first, _) = picked_up(&app, &keys.postal).await;
    let (second, _) = picked_up(&app, &keys.postal).await;
    let _ = second;
    let record = draft(&app, &keys.postal, "to_agency", &[&first]).await;
    let today = local_today();
    let path = format!("/api/v1/reports/fees?from={today}&to={today}");

    // Drafted, not signed: nothing handed over yet.
    let report = json_of(get(&app, &path, Some(&admin)).await, 200).await;
    let row = &report["agencies"][0];
    assert_eq!(row["agency_code"], AGENCY);
    assert_eq!(row["dossiers"], 2);
    assert_eq!(row["admin_fees_collected_vnd"], 2 * ADMIN_FEE);
    assert_eq!(row["admin_fees_handed_over_vnd"], 0);
    assert_eq!(row["admin_fees_outstanding_vnd"], 2 * ADMIN_FEE);

    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    for key in [&admin, &keys.agency] {
        let report = json_of(get(&app, &path, Some(key)).await, 200).await;
        let agencies = report["agencies"].as_array().expect("agencies");
        assert_eq!(agencies.len(), 1);
        assert_eq!(agencies[0]["admin_fees_collected_vnd"], 2 * ADMIN_FEE);
        assert_eq!(agencies[0]["admin_fees_handed_over_vnd"], ADMIN_FEE);
        assert_eq!(agencies[0]["admin_fees_outstanding_vnd"], ADMIN_FEE);
        assert_eq!(report["total"]["admin_fees_outstanding_vnd"], ADMIN_FEE);
    }
    // Another agency sees its own figures only, and may not name ours.
    let own = json_of(get(&app, &path, Some(&foreign)).await, 200).await;
    assert_eq!(own["agencies"], json!([]));
    expect_error(
        get(&app, &format!("{path}&agency={AGENCY}"), Some(&foreign)).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        get(&app, &path, Some(&keys.postal)).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(get(&app, &path, None).await, 401, "unauthorized", &[]).await;
    // Another day: nothing.
    let tomorrow = today.succ_opt().expect("date");
    let report = json_of(
        get(
            &app,
            &format!("/api/v1/reports/fees?from={tomorrow}&to={tomorrow}"),
            Some(&admin),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(report["agencies"], json!([]));
}
