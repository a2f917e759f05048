//! The administrative map in force since 1 July 2025: its 34 provinces and 3,321 wards and communes
//! are served publicly; every address the service takes must use their codes, with the ward inside
//! the province; answers carry the official names beside the codes.

use entity::enums::Role;
use serde_json::{Value, json};
use tests::{TestApp, valid_request};

use crate::postal::{OFFICE, expect_error, get, json_of, post};

#[tokio::test]
async fn the_map_lists_34_provinces_and_3321_wards_without_credentials() {
    let app = TestApp::spawn().await;
    let res = get(&app, "/api/v1/divisions", None).await;
    assert!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("max-age")),
        "the map is cacheable"
    );
    let map = json_of(res, 200).await;
    let provinces = map.as_array().expect("list");
    assert_eq!(provinces.len(), 34);
    let wards: usize = provinces
        .iter()
        .map(|p| p["wards"].as_array().expect("wards").len())
        .sum();
    assert_eq!(wards, 3321);
    let hanoi = provinces
        .iter()
        .find(|p| p["code"] == "01")
        .expect("Hà Nội");
    assert_eq!(hanoi["name"], "Thành phố Hà Nội");
    assert!(
        hanoi["wards"]
            .as_array()
            .expect("wards")
            .iter()
            .any(|w| w["code"] == "00070" && w["name"] == "Phường Hoàn Kiếm")
    );
    // Hà Giang (02) was merged into Tuyên Quang (08) and is gone.
    assert!(provinces.iter().all(|p| p["code"] != "02"));
}

#[tokio::test]
async fn a_pickup_address_with_a_ward_of_another_province_is_refused_on_the_ward() {
    let app = TestApp::spawn().await;
    let mut body = valid_request();
    // Phường Sài Gòn is in TP. Hồ Chí Minh, not in Hà Nội.
    body["pickup_address"]["ward_code"] = "26740".into();
    let res = app.post_dossier(&body).await;
    assert_eq!(res.status(), 422);
    let error: Value = res.json().await.expect("json");
    let details = error["error"]["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{error}");
    assert_eq!(details[0]["field"], "pickup_address.ward_code");
    assert!(
        details[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Phường Sài Gòn")),
        "{error}"
    );

    let mut body = valid_request();
    body["return_address"] =
        json!({"line": "Số 5 Hà Giang", "ward_code": "00688", "province_code": "02"});
    expect_error(
        app.post_dossier(&body).await,
        422,
        "validation_failed",
        &["return_address.ward_code", "return_address.province_code"],
    )
    .await;
    assert_eq!(app.dossier_count().await, 0);
    assert_eq!(app.event_count().await, 0);

    // The same request with the ward inside its province is taken.
    let mut body = valid_request();
    body["return_address"] =
        json!({"line": "2 Công xã Paris", "ward_code": "26740", "province_code": "79"});
    let created = json_of(app.post_dossier(&body).await, 201).await;
    assert_eq!(app.dossier_count().await, 1);
    let token = created["access_token"].as_str().expect("token");
    let d = json_of(
        app.get_dossier(created["code"].as_str().expect("code"), Some(token))
            .await,
        200,
    )
    .await;
    assert_eq!(d["pickup_address"]["ward_name"], "Phường Hoàn Kiếm");
    assert_eq!(d["pickup_address"]["province_name"], "Thành phố Hà Nội");
    assert_eq!(d["return_address"]["ward_name"], "Phường Sài Gòn");
    assert_eq!(
        d["return_address"]["province_name"],
        "Thành phố Hồ Chí Minh"
    );
}

#[tokio::test]
async fn an_agency_or_office_outside_the_map_is_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let agency = json!({
        "code": "UBND-P-CUANAM", "name": "Ủy ban nhân dân phường Cửa Nam", "identifier": null,
        "province_code": "79", "ward_code": "00073",
        "address": "Số 8 Lý Thường Kiệt, phường Cửa Nam, Hà Nội", "email": null
    });
    expect_error(
        post(&app, "/api/v1/admin/agencies", Some(&admin), &agency).await,
        422,
        "validation_failed",
        &["ward_code"],
    )
    .await;
    let office = json!({"code": "100900", "name": "Bưu điện Cửa Nam", "province_code": "01",
        "ward_code": "99999", "address": "2 Lê Duẩn, Hà Nội"});
    expect_error(
        post(&app, "/api/v1/admin/offices", Some(&admin), &office).await,
        422,
        "validation_failed",
        &["ward_code"],
    )
    .await;
    let agencies = json_of(get(&app, "/api/v1/agencies", None).await, 200).await;
    assert!(
        agencies
            .as_array()
            .expect("list")
            .iter()
            .all(|a| a["code"] != "UBND-P-CUANAM")
    );
    let offices = json_of(get(&app, "/api/v1/offices", None).await, 200).await;
    assert!(
        offices
            .as_array()
            .expect("list")
            .iter()
            .all(|o| o["code"] != "100900")
    );

    // With Cửa Nam's own province both are taken, and answered with the official names.
    let mut agency = agency;
    agency["province_code"] = "01".into();
    let stored = json_of(
        post(&app, "/api/v1/admin/agencies", Some(&admin), &agency).await,
        201,
    )
    .await;
    assert_eq!(stored["ward_name"], "Phường Cửa Nam");
    let mut office = office;
    office["ward_code"] = "00073".into();
    let stored = json_of(
        post(&app, "/api/v1/admin/offices", Some(&admin), &office).await,
        201,
    )
    .await;
    assert_eq!(stored["province_name"], "Thành phố Hà Nội");
}

#[tokio::test]
async fn every_demo_agency_and_office_lies_where_its_address_says() {
    let app = TestApp::spawn().await;
    let agencies = json_of(get(&app, "/api/v1/agencies", None).await, 200).await;
    let offices = json_of(get(&app, "/api/v1/offices", None).await, 200).await;
    for a in agencies.as_array().expect("list") {
        let ward = a["ward_name"].as_str().expect("ward_name");
        let place = ward.trim_start_matches("Phường ").trim_start_matches("Xã ");
        assert!(
            a["address"].as_str().expect("address").contains(place),
            "{a}"
        );
        assert!(!a["province_name"].as_str().expect("province").is_empty());
    }
    for o in offices.as_array().expect("list") {
        assert!(
            !o["ward_name"].as_str().expect("ward_name").is_empty(),
            "{o}"
        );
        assert!(!o["province_name"].as_str().expect("province").is_empty());
    }
    // The worklist shows the names beside the codes too.
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    app.create_valid_dossier().await;
    let list = json_of(
        get(
            &app,
            "/api/v1/pickups?status=pickup_requested",
            Some(&postal),
        )
        .await,
        200,
    )
    .await;
    let first = list
        .as_array()
        .and_then(|l| l.first())
        .cloned()
        .or_else(|| list["items"].as_array().and_then(|l| l.first()).cloned())
        .expect("one pickup");
    assert_eq!(first["pickup_address"]["ward_name"], "Phường Hoàn Kiếm");
}
