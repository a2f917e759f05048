//! Administrators keep the reference data: agencies, procedures with their documents and agencies,
//! post offices with their S10 ranges, tariffs and holidays. Admin keys only; every field checked;
//! every write audited with the record before and after; changes apply to the very next request.

use chrono::NaiveDate;
use entity::admin_audit;
use entity::enums::Role;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};
use tests::{TestApp, error_of, valid_request};

use crate::postal::{OFFICE, expect_error, get, json_of, leg, picked_up, post};

const PATHS: [&str; 5] = [
    "/api/v1/admin/agencies",
    "/api/v1/admin/procedures",
    "/api/v1/admin/offices",
    "/api/v1/admin/tariffs",
    "/api/v1/admin/holidays",
];

fn new_agency() -> Value {
    json!({
        "code": "UBND-P-CUANAM",
        "name": "Ủy ban nhân dân phường Cửa Nam",
        "identifier": "000.00.17.H01",
        "province_code": "01",
        "ward_code": "00073",
        "address": "Số 8 Lý Thường Kiệt, phường Cửa Nam, Hà Nội",
        "email": "motcua.cuanam@hanoi.gov.vn"
    })
}

fn new_procedure(agencies: &[&str]) -> Value {
    json!({
        "code": "1.004227",
        "name": "Đăng ký kết hôn",
        "admin_fee_vnd": 0,
        "processing_days": 3,
        "documents": [
            {"name": "Tờ khai đăng ký kết hôn", "original_required": true},
            {"name": "Giấy xác nhận tình trạng hôn nhân", "original_required": true}
        ],
        "agency_codes": agencies
    })
}

async fn audit_rows(app: &TestApp) -> Vec<admin_audit::Model> {
    admin_audit::Entity::find()
        .order_by_asc(admin_audit::Column::Id)
        .all(&app.store.read)
        .await
        .expect("audit rows")
}

async fn admin_key(app: &TestApp) -> String {
    app.key(Role::Admin, None, None).await
}

fn codes(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|v| v[key].as_str().expect(key).to_owned())
        .collect()
}

#[tokio::test]
async fn only_an_admin_key_reads_or_writes_reference_data() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let agency = app.key(Role::Agency, None, Some("UBND-P-HOANKIEM")).await;
    let citizen = app.create_valid_dossier().await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let holiday = json!({"date": "2027-02-05", "name": "Tết Nguyên Đán"});

    for path in PATHS {
        expect_error(get(&app, path, None).await, 401, "unauthorized", &[]).await;
        expect_error(
            post(&app, path, None, &holiday).await,
            401,
            "unauthorized",
            &[],
        )
        .await;
        for other in [&postal, &agency, &citizen] {
            expect_error(get(&app, path, Some(other)).await, 403, "forbidden", &[]).await;
            expect_error(
                post(&app, path, Some(other), &holiday).await,
                403,
                "forbidden",
                &[],
            )
            .await;
        }
        let list = json_of(get(&app, path, Some(&admin)).await, 200).await;
        assert!(!list.as_array().expect("list").is_empty(), "{path}");
    }
    let res = app
        .client
        .delete(app.url("/api/v1/admin/holidays/2026-09-02"))
        .bearer_auth(&agency)
        .send()
        .await
        .expect("request");
    expect_error(res, 403, "forbidden", &[]).await;
    assert!(audit_rows(&app).await.is_empty());
}

#[tokio::test]
async fn a_new_agency_and_procedure_take_pickup_requests_at_once() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    // Read the reference data once so that a stale snapshot would be in the cache.
    assert_eq!(
        app.create_valid_dossier().await["status"],
        "pickup_requested"
    );

    let agency = json_of(
        post(&app, "/api/v1/admin/agencies", Some(&admin), &new_agency()).await,
        201,
    )
    .await;
    let mut named = new_agency();
    named["province_name"] = "Thành phố Hà Nội".into();
    named["ward_name"] = "Phường Cửa Nam".into();
    // The portal knows the agency by its own code until an administrator gives it another.
    named["portal_unit_code"] = "UBND-P-CUANAM".into();
    assert_eq!(agency, named);
    let procedure = json_of(
        post(
            &app,
            "/api/v1/admin/procedures",
            Some(&admin),
            &new_procedure(&["UBND-P-CUANAM", "UBND-P-BADINH"]),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        procedure["agency_codes"],
        json!(["UBND-P-BADINH", "UBND-P-CUANAM"])
    );

    let mut request = valid_request();
    request["agency_code"] = json!("UBND-P-CUANAM");
    request["procedure_code"] = json!("1.004227");
    request["documents"] =
        json!([{"name": "Tờ khai đăng ký kết hôn", "original": true, "copies": 1}]);
    let res = app.post_dossier(&request).await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );

    // The public reads show them too.
    let public = json_of(
        get(&app, "/api/v1/procedures?agency=UBND-P-CUANAM", None).await,
        200,
    )
    .await;
    assert_eq!(codes(&public, "code"), ["1.004227"]);
    assert_eq!(
        public[0]["documents"][1]["name"],
        "Giấy xác nhận tình trạng hôn nhân"
    );
    let agencies = json_of(get(&app, "/api/v1/agencies", None).await, 200).await;
    assert!(codes(&agencies, "code").contains(&"UBND-P-CUANAM".to_owned()));
}

#[tokio::test]
async fn replacing_a_procedure_rewrites_its_documents_and_agencies_and_is_audited() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let before = json_of(
        get(&app, "/api/v1/admin/procedures", Some(&admin)).await,
        200,
    )
    .await;
    let old = before
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["code"] == "1.001612")
        .expect("seeded procedure")
        .clone();
    assert_eq!(old["documents"].as_array().expect("docs").len(), 2);

    let replacement = json!({
        "code": "1.001612",
        "name": "Cấp bản sao trích lục hộ tịch",
        "admin_fee_vnd": 10000,
        "processing_days": 2,
        "documents": [{"name": "Tờ khai cấp bản sao trích lục", "original_required": true,
                       "code": "1.001612-01", "required": false}],
        "agency_codes": ["UBND-P-SAIGON"]
    });
    let saved = json_of(
        post(&app, "/api/v1/admin/procedures", Some(&admin), &replacement).await,
        200,
    )
    .await;
    assert_eq!(saved, replacement);
    let listed = json_of(
        get(&app, "/api/v1/admin/procedures", Some(&admin)).await,
        200,
    )
    .await;
    let listed = listed
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["code"] == "1.001612")
        .expect("procedure")
        .clone();
    assert_eq!(listed, replacement);

    // Hoàn Kiếm no longer handles it: its next request for it is refused; Sài Gòn's list has it.
    let res = app.post_dossier(&valid_request()).await;
    let (code, fields) = error_of(res).await;
    assert_eq!(code, "validation_failed");
    assert!(
        fields
            .iter()
            .any(|f| f == "procedure_code" || f == "agency_code"),
        "{fields:?}"
    );
    let saigon = json_of(
        get(&app, "/api/v1/procedures?agency=UBND-P-SAIGON", None).await,
        200,
    )
    .await;
    let p = saigon
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["code"] == "1.001612")
        .expect("listed for Sài Gòn")
        .clone();
    assert_eq!(p["documents"].as_array().expect("docs").len(), 1);
    assert_eq!(p["admin_fee_vnd"], 10000);

    let rows = audit_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.entity.as_str(), row.code.as_str(), row.action.as_str()),
        ("procedure", "1.001612", "replace")
    );
    assert_eq!(row.api_key_name, "test admin");
    assert!(row.api_key_id.is_some());
    assert_eq!(row.before.as_ref(), Some(&old));
    assert_eq!(row.after.as_ref(), Some(&replacement));
}

#[tokio::test]
async fn every_kind_of_write_is_audited_once_with_its_key() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let writes = [
        ("/api/v1/admin/agencies", new_agency()),
        (
            "/api/v1/admin/procedures",
            new_procedure(&["UBND-P-HOANKIEM"]),
        ),
        (
            "/api/v1/admin/offices",
            json!({"code": "100900", "name": "Bưu điện Cửa Nam", "province_code": "01",
                   "ward_code": "00073", "address": "2 Lê Duẩn, Hà Nội"}),
        ),
        (
            "/api/v1/admin/tariffs",
            json!({"route_class": "local", "postage_vnd": 27000}),
        ),
        (
            "/api/v1/admin/holidays",
            json!({"date": "2027-04-16", "name": "Giỗ Tổ Hùng Vương"}),
        ),
    ];
    for (path, body) in &writes {
        let res = post(&app, path, Some(&admin), body).await;
        assert!(
            matches!(res.status().as_u16(), 200 | 201),
            "{path}: {}",
            res.status()
        );
    }
    let rows = audit_rows(&app).await;
    let seen: Vec<(String, String, String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.entity.clone(),
                r.code.clone(),
                r.action.clone(),
                r.before.is_some(),
            )
        })
        .collect();
    let expected = [
        ("agency", "UBND-P-CUANAM", "create", false),
        ("procedure", "1.004227", "create", false),
        ("office", "100900", "create", false),
        ("tariff", "local", "replace", true),
        ("holiday", "2027-04-16", "create", false),
    ];
    assert_eq!(
        seen,
        expected
            .iter()
            .map(|(e, c, a, b)| (e.to_string(), c.to_string(), a.to_string(), *b))
            .collect::<Vec<_>>()
    );
    assert!(
        rows.iter()
            .all(|r| r.api_key_name == "test admin" && r.after.is_some())
    );
    assert_eq!(
        rows[3].before.as_ref().expect("before")["postage_vnd"],
        26000
    );
    assert_eq!(rows[3].after.as_ref().expect("after")["postage_vnd"], 27000);
}

#[tokio::test]
async fn invalid_reference_data_is_refused_naming_each_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "/api/v1/admin/agencies",
            json!({"code": "ubnd p", "name": "  ", "identifier": "H29", "province_code": "1",
                   "ward_code": "7O", "address": "", "email": "motcua@"}),
            vec![
                "code",
                "name",
                "identifier",
                "province_code",
                "ward_code",
                "address",
                "email",
            ],
        ),
        (
            "/api/v1/admin/agencies",
            json!({}),
            vec!["code", "name", "province_code", "ward_code", "address"],
        ),
        (
            "/api/v1/admin/procedures",
            json!({"code": "1001612", "name": "", "admin_fee_vnd": -1, "processing_days": 0,
                   "documents": [{"name": ""}, {"name": "Tờ khai", "original_required": true},
                                 {"name": "tờ khai", "original_required": false}],
                   "agency_codes": ["NO-SUCH-AGENCY", "UBND-P-HOANKIEM", "UBND-P-HOANKIEM"]}),
            vec![
                "code",
                "name",
                "admin_fee_vnd",
                "processing_days",
                "documents[0].name",
                "documents[0].original_required",
                "documents[2].name",
                "agency_codes[0]",
                "agency_codes[2]",
            ],
        ),
        (
            "/api/v1/admin/procedures",
            json!({"code": "1.001612", "name": "X", "admin_fee_vnd": 2_000_000_000_i64,
                   "processing_days": 366, "documents": []}),
            vec![
                "admin_fee_vnd",
                "processing_days",
                "documents",
                "agency_codes",
            ],
        ),
        (
            "/api/v1/admin/offices",
            json!({"code": "10000", "name": "Bưu cục", "province_code": "001", "ward_code": "00070",
                   "address": "x", "item_code_range": {"service_indicator": "eb",
                   "first_serial": 20, "last_serial": 10}}),
            vec![
                "code",
                "province_code",
                "item_code_range.service_indicator",
                "item_code_range.last_serial",
            ],
        ),
        (
            "/api/v1/admin/offices",
            json!({"code": "100901", "name": "Bưu cục", "province_code": "01", "ward_code": "00070",
                   "address": "x", "item_code_range": {"service_indicator": "ZZ",
                   "first_serial": -1, "last_serial": 100_000_000}}),
            vec![
                "item_code_range.service_indicator",
                "item_code_range.first_serial",
                "item_code_range.last_serial",
            ],
        ),
        (
            "/api/v1/admin/tariffs",
            json!({"route_class": "by_air", "postage_vnd": -5}),
            vec!["route_class", "postage_vnd"],
        ),
        (
            "/api/v1/admin/tariffs",
            json!({}),
            vec!["route_class", "postage_vnd"],
        ),
        (
            "/api/v1/admin/holidays",
            json!({"date": "2027-02-30", "name": ""}),
            vec!["date", "name"],
        ),
        (
            "/api/v1/admin/holidays",
            json!({"date": "05/02/2027", "name": "Tết"}),
            vec!["date"],
        ),
        (
            "/api/v1/admin/holidays",
            json!({"date": "1999-01-01", "name": "Tết"}),
            vec!["date"],
        ),
    ];
    let before: Vec<Value> = {
        let mut lists = Vec::new();
        for path in PATHS {
            lists.push(json_of(get(&app, path, Some(&admin)).await, 200).await);
        }
        lists
    };
    for (path, body, fields) in cases {
        let res = post(&app, path, Some(&admin), &body).await;
        assert_eq!(res.status(), 422, "{path} {body}");
        let (code, named) = error_of(res).await;
        assert_eq!(code, "validation_failed");
        let mut named_sorted = named.clone();
        named_sorted.sort();
        let mut expected: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        expected.sort();
        assert_eq!(named_sorted, expected, "{path} {body}");
    }
    // Wrong JSON types are malformed requests.
    for (path, body) in [
        (
            "/api/v1/admin/procedures",
            json!({"code": "1.001612", "admin_fee_vnd": "free"}),
        ),
        (
            "/api/v1/admin/tariffs",
            json!({"route_class": "local", "postage_vnd": 26000.5}),
        ),
        (
            "/api/v1/admin/holidays",
            json!({"date": ["2027-02-05"], "name": "Tết"}),
        ),
    ] {
        expect_error(
            post(&app, path, Some(&admin), &body).await,
            400,
            "bad_request",
            &[],
        )
        .await;
    }
    for (path, old) in PATHS.iter().zip(before) {
        assert_eq!(
            json_of(get(&app, path, Some(&admin)).await, 200).await,
            old,
            "{path}"
        );
    }
    assert!(audit_rows(&app).await.is_empty());
}

#[tokio::test]
async fn a_new_tariff_sets_the_postage_of_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let first = app.create_valid_dossier().await;
    let class = first["route_class"]
        .as_str()
        .expect("route class")
        .to_owned();
    let postage = first["fees"]["postage_vnd"].as_i64().expect("postage");
    let tariffs = json_of(get(&app, "/api/v1/admin/tariffs", Some(&admin)).await, 200).await;
    assert_eq!(
        codes(&tariffs, "route_class"),
        [
            "local",
            "intra_province",
            "inter_province_major",
            "inter_province"
        ]
    );
    let per_leg = tariffs
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["route_class"] == class.as_str())
        .expect("tariff")["postage_vnd"]
        .as_i64()
        .expect("postage");

    let saved = json_of(
        post(
            &app,
            "/api/v1/admin/tariffs",
            Some(&admin),
            &json!({"route_class": class, "postage_vnd": per_leg * 2}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(saved["postage_vnd"], per_leg * 2);
    let second = app.create_valid_dossier().await;
    assert_eq!(second["fees"]["postage_vnd"], postage * 2);
}

#[tokio::test]
async fn holidays_are_entered_renamed_listed_by_year_and_removable() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let tet = NaiveDate::from_ymd_opt(2027, 2, 5).expect("date");
    // A snapshot is cached before the change …
    let catalog = app
        .store
        .catalog
        .get(&app.store.read)
        .await
        .expect("catalog");
    assert!(!catalog.calendar().is_holiday(tet));

    let created = json_of(
        post(
            &app,
            "/api/v1/admin/holidays",
            Some(&admin),
            &json!({"date": "2027-02-05", "name": "Tết"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created, json!({"date": "2027-02-05", "name": "Tết"}));
    // … and the next read already has the holiday.
    let catalog = app
        .store
        .catalog
        .get(&app.store.read)
        .await
        .expect("catalog");
    assert!(catalog.calendar().is_holiday(tet));

    json_of(
        post(
            &app,
            "/api/v1/admin/holidays",
            Some(&admin),
            &json!({"date": "2027-02-05", "name": "Tết Nguyên Đán"}),
        )
        .await,
        200,
    )
    .await;
    let year = json_of(
        get(&app, "/api/v1/admin/holidays?year=2027", Some(&admin)).await,
        200,
    )
    .await;
    assert!(
        year.as_array()
            .expect("list")
            .iter()
            .all(|h| h["date"].as_str().expect("date").starts_with("2027-"))
    );
    assert!(
        year.as_array()
            .expect("list")
            .contains(&json!({"date": "2027-02-05", "name": "Tết Nguyên Đán"}))
    );
    expect_error(
        get(&app, "/api/v1/admin/holidays?year=next", Some(&admin)).await,
        400,
        "bad_request",
        &[],
    )
    .await;

    let delete = |date: &str| {
        app.client
            .delete(app.url(&format!("/api/v1/admin/holidays/{date}")))
            .bearer_auth(&admin)
            .send()
    };
    let removed = json_of(delete("2027-02-05").await.expect("request"), 200).await;
    assert_eq!(removed["name"], "Tết Nguyên Đán");
    let catalog = app
        .store
        .catalog
        .get(&app.store.read)
        .await
        .expect("catalog");
    assert!(!catalog.calendar().is_holiday(tet));
    expect_error(
        delete("2027-02-05").await.expect("request"),
        404,
        "not_found",
        &[],
    )
    .await;
    expect_error(
        delete("2027-13-01").await.expect("request"),
        400,
        "bad_request",
        &[],
    )
    .await;

    let actions: Vec<(String, bool, bool)> = audit_rows(&app)
        .await
        .into_iter()
        .map(|r| (r.action, r.before.is_some(), r.after.is_some()))
        .collect();
    assert_eq!(
        actions,
        [
            ("create".to_owned(), false, true),
            ("replace".to_owned(), true, true),
            ("delete".to_owned(), true, false)
        ]
    );
}

#[tokio::test]
async fn an_office_range_is_resized_in_place_and_a_used_one_is_closed_never_reused() {
    let app = TestApp::spawn().await;
    let admin = admin_key(&app).await;
    let office = |range: Value| {
        json!({"code": "100900", "name": "Bưu điện Cửa Nam", "province_code": "01",
               "ward_code": "00073", "address": "2 Lê Duẩn, Hà Nội", "item_code_range": range})
    };
    let created = json_of(
        post(
            &app,
            "/api/v1/admin/offices",
            Some(&admin),
            &office(json!({"service_indicator": "EB", "first_serial": 50_000_000, "last_serial": 50_000_999})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        created["item_code_ranges"],
        json!([{"service_indicator": "EB", "first_serial": 50_000_000, "last_serial": 50_000_999, "next_serial": 50_000_000}])
    );
    // Overlapping the seeded range of office 100000 (EB 10000000–19999999): refused.
    let res = post(
        &app,
        "/api/v1/admin/offices",
        Some(&admin),
        &office(json!({"service_indicator": "EB", "first_serial": 19_999_000, "last_serial": 20_000_500})),
    )
    .await;
    expect_error(
        res,
        422,
        "validation_failed",
        &["item_code_range.first_serial"],
    )
    .await;
    // The same indicator and first serial: resized.
    let resized = json_of(
        post(
            &app,
            "/api/v1/admin/offices",
            Some(&admin),
            &office(json!({"service_indicator": "EB", "first_serial": 50_000_000, "last_serial": 50_001_999})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(resized["item_code_ranges"][0]["last_serial"], 50_001_999);
    assert_eq!(
        resized["item_code_ranges"]
            .as_array()
            .expect("ranges")
            .len(),
        1
    );

    // The seeded office 100000 has issued a code: a new range closes the old one, which stays.
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let (_, first_item) = picked_up(&app, &postal).await;
    assert!(first_item.starts_with("EB10000000"), "{first_item}");
    let hoan_kiem = json!({"code": OFFICE, "name": "Bưu điện Trung tâm Hà Nội", "province_code": "01",
        "ward_code": "00070", "address": "75 Đinh Tiên Hoàng, phường Hoàn Kiếm, Hà Nội",
        "item_code_range": {"service_indicator": "EB", "first_serial": 70_000_000, "last_serial": 70_999_999}});
    let replaced = json_of(
        post(&app, "/api/v1/admin/offices", Some(&admin), &hoan_kiem).await,
        200,
    )
    .await;
    assert_eq!(
        replaced["item_code_ranges"],
        json!([
            {"service_indicator": "EB", "first_serial": 10_000_000, "last_serial": 19_999_999, "next_serial": 20_000_000},
            {"service_indicator": "EB", "first_serial": 70_000_000, "last_serial": 70_999_999, "next_serial": 70_000_000}
        ])
    );
    let (code, _) = picked_up(&app, &postal).await;
    let d = json_of(app.get_dossier(&code, Some(&postal)).await, 200).await;
    let item = leg(&d, "inbound")["item_code"]
        .as_str()
        .expect("item")
        .to_owned();
    assert!(item.starts_with("EB70000000"), "{item}");
    // The closed range still blocks overlaps.
    let res = post(
        &app,
        "/api/v1/admin/offices",
        Some(&admin),
        &office(json!({"service_indicator": "EB", "first_serial": 10_000_000, "last_serial": 10_000_010})),
    )
    .await;
    expect_error(
        res,
        422,
        "validation_failed",
        &["item_code_range.first_serial"],
    )
    .await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_admin_operations_and_the_feed() {
    let app = TestApp::spawn().await;
    let spec = json_of(get(&app, "/openapi.json", None).await, 200).await;
    let paths = &spec["paths"];
    for path in PATHS {
        let post = &paths[path]["post"];
        assert!(post.is_object(), "POST {path}");
        for status in ["200", "201", "401", "403", "422"] {
            assert!(
                post["responses"][status].is_object(),
                "POST {path} {status}"
            );
        }
        assert!(paths[path]["get"].is_object(), "GET {path}");
    }
    assert!(paths["/api/v1/admin/holidays/{date}"]["delete"].is_object());
    let feed = &paths["/api/v1/events"]["get"];
    let params: Vec<&str> = feed["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["after", "limit"]);
}

#[tokio::test]
async fn holidays_of_a_year_outside_the_calendar_are_an_empty_list() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    for year in ["-222996", "1999", "2101"] {
        let res = app
            .client
            .get(app.url(&format!("/api/v1/admin/holidays?year={year}")))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{year}");
        let list: serde_json::Value = res.json().await.expect("json");
        assert_eq!(list, serde_json::json!([]), "{year}");
    }
}
