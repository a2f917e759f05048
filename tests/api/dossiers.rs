//! The pickup request round trip: create, read with the token, track in public, cancel.

use serde_json::Value;
use tests::{TestApp, error_of, valid_request};

#[tokio::test]
async fn pickup_request_round_trip_shows_status_to_the_public_without_personal_data() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");
    assert_eq!(created["status"], "pickup_requested");
    assert_eq!(created["route_class"], "local");
    assert!(token.starts_with("dt_"));
    assert!(
        created["tracking_url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/t/{code}"))
    );
    let fees = &created["fees"];
    assert_eq!(
        fees["total_vnd"].as_i64(),
        Some(
            fees["postage_vnd"].as_i64().expect("postage")
                + fees["admin_fee_vnd"].as_i64().expect("fee")
        )
    );
    assert!(
        created["created_at"]
            .as_str()
            .expect("time")
            .ends_with("+07:00")
    );

    let res = app.get_dossier(code, Some(token)).await;
    assert_eq!(res.status(), 200);
    let dossier: Value = res.json().await.expect("json");
    assert_eq!(dossier["code"], code);
    assert_eq!(dossier["status"], "pickup_requested");
    assert_eq!(dossier["applicant"]["full_name"], "Nguyễn Văn An");
    assert_eq!(dossier["applicant"]["phone"], "0912345678");
    assert_eq!(dossier["pickup_address"]["line"], "12 Tràng Tiền");
    assert_eq!(
        dossier["return_address"]["line"], "12 Tràng Tiền",
        "return defaults to pickup"
    );
    assert_eq!(dossier["documents"][0]["name"], "Tờ khai đăng ký");
    assert_eq!(dossier["legs"].as_array().map(Vec::len), Some(2));
    assert_eq!(dossier["overdue"], false);
    let timeline = dossier["timeline"].as_array().expect("timeline");
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0]["kind"], "requested");
    assert_eq!(timeline[0]["status"], "pickup_requested");
    assert_eq!(timeline[0]["source"], "api");

    let res = app.track(code).await;
    assert_eq!(res.status(), 200);
    let raw = res.text().await.expect("body");
    for personal in [
        "Nguyễn Văn An",
        "0912345678",
        "an@example.vn",
        "001090012345",
        "Tràng Tiền",
    ] {
        assert!(
            !raw.contains(personal),
            "tracking view leaks `{personal}`: {raw}"
        );
    }
    let tracked: Value = serde_json::from_str(&raw).expect("json");
    assert_eq!(tracked["code"], code);
    assert_eq!(tracked["status"], "pickup_requested");
    assert_eq!(tracked["service_mode"], "send_and_return");
    assert_eq!(tracked["agency_name"], "Ủy ban nhân dân phường Hoàn Kiếm");
    assert_eq!(tracked["timeline"][0]["status"], "pickup_requested");
    for key in [
        "applicant",
        "pickup_address",
        "return_address",
        "documents",
        "access_token",
    ] {
        assert!(tracked.get(key).is_none(), "tracking view has `{key}`");
    }

    // Codes are accepted as people type them.
    let res = app.track(&code.to_lowercase().replace('-', "")).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn tracking_an_unknown_code_is_not_found() {
    let app = TestApp::spawn().await;
    for code in [
        "ABCDE-FGHJK",
        "not-a-code",
        "RR123456785VN",
        "RR123456786VN",
    ] {
        let res = app.track(code).await;
        assert_eq!(res.status(), 404, "{code}");
        assert_eq!(error_of(res).await.0, "not_found");
    }
}

#[tokio::test]
async fn citizen_cancels_before_pickup_and_the_timeline_records_it() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");

    let res = app.cancel(code, None).await;
    assert_eq!(res.status(), 401);

    let res = app.cancel(code, Some(token)).await;
    assert_eq!(res.status(), 200);
    let dossier: Value = res.json().await.expect("json");
    assert_eq!(dossier["status"], "cancelled");
    let timeline = dossier["timeline"].as_array().expect("timeline");
    assert_eq!(
        timeline.last().map(|e| e["kind"].clone()),
        Some("cancelled".into())
    );
    assert_eq!(
        timeline.last().map(|e| e["actor"].clone()),
        Some("citizen".into())
    );
    assert!(
        dossier["legs"]
            .as_array()
            .expect("legs")
            .iter()
            .all(|l| l["status"] == "cancelled")
    );

    // A second cancel does not fit the status.
    let res = app.cancel(code, Some(token)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_of(res).await.0, "invalid_transition");
    assert_eq!(app.event_count().await, 2);
}

#[tokio::test]
async fn cancel_accepts_a_reason_and_the_post_office_may_cancel_its_own_pickups() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let postal = app
        .key(entity::enums::Role::Postal, Some("100000"), None)
        .await;
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/cancel")))
        .bearer_auth(&postal)
        .json(&serde_json::json!({"reason": "Công dân gọi điện hủy"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let dossier: Value = res.json().await.expect("json");
    assert_eq!(dossier["status"], "cancelled");
    assert_eq!(dossier["timeline"][1]["note"], "Công dân gọi điện hủy");
}

#[tokio::test]
async fn fee_exemptions_apply_to_postage_in_integer_vnd() {
    let app = TestApp::spawn().await;
    let mut body = valid_request();
    body["fee_exemption"] = "heroic_mother".into();
    let res = app.post_dossier(&body).await;
    assert_eq!(res.status(), 201);
    let free: Value = res.json().await.expect("json");
    assert_eq!(free["fees"]["postage_vnd"], 0);

    body["fee_exemption"] = "war_invalid".into();
    body["service_mode"] = "send".into();
    let res = app.post_dossier(&body).await;
    let half: Value = res.json().await.expect("json");
    body["fee_exemption"] = "none".into();
    let res = app.post_dossier(&body).await;
    let full: Value = res.json().await.expect("json");
    assert_eq!(
        half["fees"]["postage_vnd"].as_i64().expect("half"),
        full["fees"]["postage_vnd"].as_i64().expect("full") / 2
    );
}

#[tokio::test]
async fn route_class_follows_the_two_addresses() {
    let app = TestApp::spawn().await;
    let mut body = valid_request();
    body["service_mode"] = "send".into();
    // Same province, another ward.
    body["pickup_address"]["ward_code"] = "00004".into();
    let res: Value = app.post_dossier(&body).await.json().await.expect("json");
    assert_eq!(res["route_class"], "intra_province");
    // TP. Hồ Chí Minh to Hà Nội: two major cities.
    body["pickup_address"] =
        serde_json::json!({"line": "2 Công xã Paris", "ward_code": "26740", "province_code": "79"});
    let res: Value = app.post_dossier(&body).await.json().await.expect("json");
    assert_eq!(res["route_class"], "inter_province_major");
}

#[tokio::test]
async fn an_agency_desk_registers_a_return_only_dossier_that_waits_for_its_result() {
    let app = TestApp::spawn().await;
    let agency = app
        .key(entity::enums::Role::Agency, None, Some("UBND-P-HOANKIEM"))
        .await;
    let mut body = valid_request();
    body["service_mode"] = "return".into();
    body["return_address"] = body["pickup_address"].clone();
    body["pickup_address"] = Value::Null;
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(&agency)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    assert_eq!(created["status"], "awaiting_result");
    let code = created["code"].as_str().expect("code");
    let dossier: Value = app
        .get_dossier(code, Some(&agency))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(dossier["legs"].as_array().map(Vec::len), Some(1));
    assert_eq!(dossier["legs"][0]["direction"], "outbound");
    assert!(dossier["result_due_at"].is_string());

    // The public cannot register a return-only dossier.
    let res = app.post_dossier(&body).await;
    assert_eq!(res.status(), 422);
    assert_eq!(error_of(res).await.1, ["service_mode"]);
}

async fn tracked_status(app: &TestApp, code: &str) -> String {
    let res = app.track(code).await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.expect("json");
    view["status"].as_str().expect("status").to_owned()
}

#[tokio::test]
async fn tracking_shows_each_change_at_once_even_after_repeated_reads() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");
    for _ in 0..5 {
        assert_eq!(tracked_status(&app, code).await, "pickup_requested");
    }
    let res = app.cancel(code, Some(token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        tracked_status(&app, code).await,
        "cancelled",
        "the view read before the cancellation must not be served after it"
    );
}

#[tokio::test]
async fn tracking_shows_a_change_written_by_another_process_within_a_second() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    assert_eq!(tracked_status(&app, code).await, "pickup_requested");
    // Another process (say a separate worker) writes through a connection of its own.
    let other = sea_orm::Database::connect(app.database_url.as_str())
        .await
        .expect("connect");
    other
        .execute_raw(Statement::from_sql_and_values(
            other.get_database_backend(),
            match other.get_database_backend() {
                sea_orm::DbBackend::Postgres => {
                    "UPDATE dossiers SET status = 'pickup_scheduled' WHERE code = $1"
                }
                _ => "UPDATE dossiers SET status = 'pickup_scheduled' WHERE code = ?",
            },
            [code.into()],
        ))
        .await
        .expect("update");
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    loop {
        let status = tracked_status(&app, code).await;
        if status == "pickup_scheduled" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {status} after 1.5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
