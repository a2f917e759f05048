//! The post office's day: the pickup worklist, scheduling, pickups with allocated or typed S10 item
//! codes, failed pickups, and deliveries — and the whole chain of custody from a citizen's request to
//! the result delivered, or returned to the agency after two failed notices two working days apart.
//!
//! Also the helpers the handover and scan tests share.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeDelta, Timelike, Utc, Weekday};
use entity::enums::Role;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};
use tests::{TestApp, error_of};

/// The demo office that serves the example request's address (Hoàn Kiếm, Hà Nội).
pub const OFFICE: &str = "100000";
/// Another office, in TP. Hồ Chí Minh.
pub const OTHER_OFFICE: &str = "700000";
/// The example request's agency.
pub const AGENCY: &str = "UBND-P-HOANKIEM";
/// Another agency.
pub const OTHER_AGENCY: &str = "UBND-P-SAIGON";

/// The keys a chain of custody needs.
pub struct Keys {
    pub postal: String,
    pub agency: String,
}

impl Keys {
    pub async fn new(app: &TestApp) -> Keys {
        Keys {
            postal: app.key(Role::Postal, Some(OFFICE), None).await,
            agency: app.key(Role::Agency, None, Some(AGENCY)).await,
        }
    }
}

/// `POST path` with a JSON body and a bearer key.
pub async fn post(
    app: &TestApp,
    path: &str,
    bearer: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).json(body);
    if let Some(bearer) = bearer {
        req = req.bearer_auth(bearer);
    }
    req.send().await.expect("request")
}

/// `GET path` with a bearer key.
pub async fn get(app: &TestApp, path: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(bearer) = bearer {
        req = req.bearer_auth(bearer);
    }
    req.send().await.expect("request")
}

/// Asserts the status and returns the JSON body.
pub async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body = res.text().await.expect("body");
    assert_eq!(got, status, "unexpected answer: {body}");
    serde_json::from_str(&body).expect("JSON body")
}

/// Asserts an error answer: its status, code and (when given) the fields it names.
pub async fn expect_error(res: reqwest::Response, status: u16, code: &str, fields: &[&str]) {
    assert_eq!(res.status().as_u16(), status);
    let (got, named) = error_of(res).await;
    assert_eq!(got, code);
    for field in fields {
        assert!(named.iter().any(|f| f == field), "{field} not in {named:?}");
    }
}

/// The dossier as its post office sees it.
pub async fn dossier(app: &TestApp, code: &str, bearer: &str) -> Value {
    json_of(app.get_dossier(code, Some(bearer)).await, 200).await
}

/// A dossier's leg in `direction`.
pub fn leg<'a>(dossier: &'a Value, direction: &str) -> &'a Value {
    dossier["legs"]
        .as_array()
        .and_then(|legs| legs.iter().find(|l| l["direction"] == direction))
        .expect("leg")
}

/// The local date in Vietnam now.
pub fn local_today() -> NaiveDate {
    (Utc::now() + TimeDelta::hours(7)).date_naive()
}

/// An RFC 3339 time `offset` from now, in Vietnam's offset.
pub fn vn_time(offset: TimeDelta) -> String {
    let tz = FixedOffset::east_opt(7 * 3600).expect("+07:00");
    (Utc::now() + offset).with_timezone(&tz).to_rfc3339()
}

/// A fresh scan id.
pub fn scan_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Creates a pickup request and records its pickup with an allocated item code; returns the code and
/// the inbound item code.
pub async fn picked_up(app: &TestApp, postal: &str) -> (String, String) {
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code").to_owned();
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    let body = json!({"documents_checked": true, "fee_collected_vnd": total, "item_code": null});
    let d = json_of(
        post(
            app,
            &format!("/api/v1/dossiers/{code}/pickup"),
            Some(postal),
            &body,
        )
        .await,
        200,
    )
    .await;
    let item = leg(&d, "inbound")["item_code"]
        .as_str()
        .expect("item code")
        .to_owned();
    (code, item)
}

/// Drafts a record and returns its body.
pub async fn draft(app: &TestApp, bearer: &str, direction: &str, codes: &[&str]) -> Value {
    let body = json!({"direction": direction, "agency_code": AGENCY, "dossier_codes": codes});
    json_of(
        post(app, "/api/v1/handovers", Some(bearer), &body).await,
        201,
    )
    .await
}

/// Signs a record and returns its body.
pub async fn confirm(app: &TestApp, bearer: &str, id: i64) -> Value {
    json_of(
        post(
            app,
            &format!("/api/v1/handovers/{id}/confirm"),
            Some(bearer),
            &json!({}),
        )
        .await,
        200,
    )
    .await
}

/// Takes a picked-up dossier to the agency, through its ruling, and back to the post: the dossier is
/// `result_with_post` and its outbound parcel has an item code, which is returned.
pub async fn to_result_with_post(app: &TestApp, keys: &Keys, code: &str) -> String {
    let record = draft(app, &keys.postal, "to_agency", &[code]).await;
    confirm(app, &keys.agency, record["id"].as_i64().expect("id")).await;
    let d = json_of(
        post(
            app,
            &format!("/api/v1/dossiers/{code}/verdict"),
            Some(&keys.agency),
            &json!({"decision": "accepted"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "processing");
    let d = json_of(
        post(
            app,
            &format!("/api/v1/dossiers/{code}/result"),
            Some(&keys.agency),
            &json!({"note": "Bản sao trích lục đã ký"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "result_ready");
    let record = draft(app, &keys.agency, "to_post", &[code]).await;
    let signed = confirm(app, &keys.postal, record["id"].as_i64().expect("id")).await;
    signed["items"][0]["item_code"]
        .as_str()
        .expect("outbound item code")
        .to_owned()
}

/// Working days as the law counts them, written here independently of the service's calendar.
pub struct Days5 {
    pub holidays: HashSet<NaiveDate>,
}

impl Days5 {
    pub async fn from_db(app: &TestApp) -> Days5 {
        let holidays = entity::holiday::Entity::find()
            .all(&app.store.read)
            .await
            .expect("holidays")
            .into_iter()
            .map(|h| h.date)
            .collect();
        Days5 { holidays }
    }

    pub fn is_working(&self, d: NaiveDate) -> bool {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&d)
    }

    /// The n-th working day strictly after `d`.
    pub fn after(&self, d: NaiveDate, n: u32) -> NaiveDate {
        let mut day = d;
        let mut left = n;
        while left > 0 {
            day = day + Days::new(1);
            if self.is_working(day) {
                left -= 1;
            }
        }
        day
    }

    /// The date a desk receipt at `t` counts from: that local date if it is a working day and before
    /// 15:00, else the next working day (Decree 61 Art. 18).
    pub fn desk_date(&self, t: DateTime<FixedOffset>) -> NaiveDate {
        let local = t.with_timezone(&FixedOffset::east_opt(7 * 3600).expect("+07:00"));
        let date = local.date_naive();
        if self.is_working(date) && local.hour() < 15 {
            date
        } else {
            self.after(date, 1)
        }
    }
}

/// Adds a public holiday to the test database, as an administrator would.
pub async fn add_holiday(app: &TestApp, date: NaiveDate) {
    entity::holiday::Entity::insert(entity::holiday::ActiveModel {
        date: Set(date),
        name: Set("Ngày nghỉ kiểm thử".into()),
    })
    .exec(&app.store.write)
    .await
    .expect("insert holiday");
}

/// The local date of an RFC 3339 time in an answer.
pub fn date_of(v: &Value) -> NaiveDate {
    parse_time(v).date_naive()
}

/// An RFC 3339 time in an answer.
pub fn parse_time(v: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(v.as_str().expect("time")).expect("RFC 3339")
}

/// The timeline kinds of a dossier, oldest first.
pub fn kinds(d: &Value) -> Vec<String> {
    d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_whole_chain_ends_returned_to_agency_after_two_notices_two_working_days_apart() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;

    // A holiday on the working day after today's desk date, so that both the inbound leg's J+1 and the
    // agency's result due date have to step over it.
    let calendar = Days5::from_db(&app).await;
    let tz = FixedOffset::east_opt(7 * 3600).expect("+07:00");
    let holiday = calendar.after(calendar.desk_date(Utc::now().with_timezone(&tz)), 1);
    add_holiday(&app, holiday).await;
    let calendar = Days5::from_db(&app).await;
    assert!(calendar.holidays.contains(&holiday));

    // The citizen's request shows on the office's worklist with what the postman needs, and nothing more.
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    let list = json_of(get(&app, "/api/v1/pickups", Some(&keys.postal)).await, 200).await;
    let entry = list
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["code"] == code)
        .expect("on the worklist")
        .clone();
    assert_eq!(entry["status"], "pickup_requested");
    assert_eq!(entry["applicant"]["full_name"], "Nguyễn Văn An");
    assert_eq!(entry["applicant"]["phone"], "0912345678");
    assert_eq!(entry["pickup_address"]["line"], "12 Tràng Tiền");
    assert_eq!(entry["fees"]["total_vnd"], total);
    let raw = entry.to_string();
    assert!(
        !raw.contains("001090012345") && !raw.contains("an@example.vn"),
        "{raw}"
    );

    // Schedule: not in the past; then for today, in the morning.
    let yesterday = local_today() - Days::new(1);
    let path = format!("/api/v1/dossiers/{code}/schedule");
    expect_error(
        post(
            &app,
            &path,
            Some(&keys.postal),
            &json!({"date": yesterday.to_string(), "window": "morning"}),
        )
        .await,
        422,
        "validation_failed",
        &["date"],
    )
    .await;
    expect_error(
        post(
            &app,
            &path,
            Some(&keys.postal),
            &json!({"date": local_today().to_string(), "window": "evening"}),
        )
        .await,
        422,
        "validation_failed",
        &["window"],
    )
    .await;
    let d = json_of(
        post(
            &app,
            &path,
            Some(&keys.postal),
            &json!({"date": local_today().to_string(), "window": "morning"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "pickup_scheduled");
    let list = json_of(
        get(
            &app,
            "/api/v1/pickups?status=pickup_scheduled",
            Some(&keys.postal),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(list[0]["code"], code);
    assert_eq!(list[0]["scheduled_date"], local_today().to_string());
    assert_eq!(list[0]["scheduled_window"], "morning");

    // Pickup: documents must be checked and the fee must be the dossier's total.
    let path = format!("/api/v1/dossiers/{code}/pickup");
    expect_error(
        post(
            &app,
            &path,
            Some(&keys.postal),
            &json!({"documents_checked": false, "fee_collected_vnd": total - 1}),
        )
        .await,
        422,
        "validation_failed",
        &["documents_checked"],
    )
    .await;
    expect_error(
        post(
            &app,
            &path,
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total - 1}),
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
            &path,
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total, "item_code": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "picked_up");
    let inbound = leg(&d, "inbound");
    let item = inbound["item_code"].as_str().expect("item code").to_owned();
    let parsed = domain::s10::ItemCode::parse(&item).expect("a valid S10 code");
    assert_eq!(parsed.as_str(), item);
    assert_eq!(parsed.indicator(), "EB");
    assert_eq!(parsed.country(), "VN");
    assert!(
        (10_000_000..=19_999_999).contains(&parsed.serial()),
        "from the office's range"
    );
    assert_eq!(inbound["status"], "picked_up");
    // Route class local: J + 1 working day, J being today's local date.
    let due = parse_time(&inbound["due_at"]);
    assert_eq!(due.date_naive(), calendar.after(local_today(), 1));
    assert_eq!((due.hour(), due.minute(), due.second()), (23, 59, 59));
    let slips = entity::pickup_slip::Entity::find()
        .all(&app.store.read)
        .await
        .expect("slips");
    assert_eq!(slips.len(), 1);
    assert_eq!(slips[0].item_code, item);
    assert_eq!(slips[0].j_date, local_today());
    assert_eq!(slips[0].fee_collected_vnd, total);
    assert!(slips[0].documents_checked);
    // Picked up, it leaves the open worklist; a second pickup is refused by the lifecycle.
    let list = json_of(get(&app, "/api/v1/pickups", Some(&keys.postal)).await, 200).await;
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .all(|p| p["code"] != code)
    );
    expect_error(
        post(
            &app,
            &path,
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total}),
        )
        .await,
        409,
        "invalid_transition",
        &[],
    )
    .await;

    // Scans on the way: departed, arrived.
    for event in ["departed", "arrived"] {
        let scan = json!({
            "scan_id": scan_id(),
            "item_code": item,
            "event": event,
            "at": vn_time(TimeDelta::zero()),
            "location": "Bưu cục Hoàn Kiếm",
        });
        let res = json_of(
            post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await,
            201,
        )
        .await;
        assert_eq!(res["result"], "accepted");
        assert_eq!(res["status"], "in_transit");
        assert_eq!(res["applied"], true);
    }

    // Handover to the agency, signed by the agency: the legal filing time and the result due date.
    let record = draft(&app, &keys.postal, "to_agency", &[code]).await;
    assert_eq!(record["status"], "pending");
    assert_eq!(record["direction"], "to_agency");
    assert_eq!(record["items"][0]["dossier_code"], code);
    assert_eq!(record["items"][0]["item_code"], item.as_str());
    let number = record["number"].as_str().expect("number");
    assert!(number.starts_with(&format!("BBGN-{OFFICE}-")), "{number}");
    let id = record["id"].as_i64().expect("id");
    let signed = confirm(&app, &keys.agency, id).await;
    assert_eq!(signed["status"], "confirmed");
    let d = dossier(&app, code, &keys.agency).await;
    assert_eq!(d["status"], "received_by_agency");
    assert_eq!(leg(&d, "inbound")["status"], "handed_over");
    let filed_at = parse_time(&d["filed_at"]);
    assert_eq!(filed_at, parse_time(&signed["confirmed_at"]));
    // Procedure 1.001612 takes 1 working day from the desk date.
    let expected_due = calendar.after(calendar.desk_date(filed_at), 1);
    assert!(
        calendar.desk_date(filed_at) < holiday && holiday < expected_due,
        "the due date steps over the holiday {holiday}"
    );
    let result_due = parse_time(&d["result_due_at"]);
    assert_eq!(result_due.date_naive(), expected_due);
    assert_eq!((result_due.hour(), result_due.minute()), (23, 59));

    // The agency rules and has the result; it hands it back to the post, which signs.
    let verdict = format!("/api/v1/dossiers/{code}/verdict");
    expect_error(
        post(
            &app,
            &verdict,
            Some(&keys.postal),
            &json!({"decision": "accepted"}),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    json_of(
        post(
            &app,
            &verdict,
            Some(&keys.agency),
            &json!({"decision": "accepted"}),
        )
        .await,
        200,
    )
    .await;
    json_of(
        post(
            &app,
            &format!("/api/v1/dossiers/{code}/result"),
            Some(&keys.agency),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let record = draft(&app, &keys.agency, "to_post", &[code]).await;
    assert_eq!(record["items"][0]["item_code"], Value::Null);
    let signed = confirm(&app, &keys.postal, record["id"].as_i64().expect("id")).await;
    let outbound_item = signed["items"][0]["item_code"]
        .as_str()
        .expect("outbound item");
    let out = domain::s10::ItemCode::parse(outbound_item).expect("valid S10");
    assert_ne!(out.as_str(), item);
    let d = dossier(&app, code, &keys.postal).await;
    assert_eq!(d["status"], "result_with_post");
    let outbound = leg(&d, "outbound");
    assert_eq!(outbound["item_code"], outbound_item);
    assert_eq!(
        date_of(&outbound["due_at"]),
        calendar.after(local_today(), 1),
        "J + 1 working day from the handover"
    );

    // Two failed deliveries: the second one day after the first is refused, saying from when it may be
    // made; one two weeks later counts, and the result goes back to the agency.
    let delivery = format!("/api/v1/dossiers/{code}/delivery");
    let first_at = Utc::now() - TimeDelta::days(14);
    // The result went to the post before the first notice (no parcel event may come before that).
    entity::leg::Entity::update_many()
        .col_expr(
            entity::leg::Column::StartedAt,
            sea_orm::sea_query::Expr::value(first_at - TimeDelta::days(1)),
        )
        .filter(entity::leg::Column::ItemCode.eq(outbound_item))
        .exec(&app.store.write)
        .await
        .expect("the parcel's start");
    let first =
        json!({"outcome": "failed", "reason": "Không có người nhận", "at": first_at.to_rfc3339()});
    let d = json_of(post(&app, &delivery, Some(&keys.postal), &first).await, 200).await;
    assert_eq!(d["status"], "delivery_failed");
    assert_eq!(leg(&d, "outbound")["failed_attempts"], 1);
    let too_soon = json!({
        "outcome": "failed",
        "reason": "Vắng nhà",
        "at": (first_at + TimeDelta::days(1)).to_rfc3339(),
    });
    let res = post(&app, &delivery, Some(&keys.postal), &too_soon).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_transition");
    let first_local = (first_at + TimeDelta::hours(7)).date_naive();
    let earliest = calendar.after(first_local, 2);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains(&earliest.to_string()), "{message}");
    let d = dossier(&app, code, &keys.postal).await;
    assert_eq!(
        d["status"], "delivery_failed",
        "the refused notice changed nothing"
    );
    assert_eq!(leg(&d, "outbound")["failed_attempts"], 1);
    // Not in the future either.
    expect_error(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({"outcome": "failed", "reason": "x", "at": vn_time(TimeDelta::hours(2))}),
        )
        .await,
        422,
        "validation_failed",
        &["at"],
    )
    .await;
    let second = json!({"outcome": "failed", "reason": "Vắng nhà lần hai"});
    let d = json_of(
        post(&app, &delivery, Some(&keys.postal), &second).await,
        200,
    )
    .await;
    assert_eq!(d["status"], "returned_to_agency");
    let outbound = leg(&d, "outbound");
    assert_eq!(outbound["failed_attempts"], 2);
    assert_eq!(outbound["status"], "returned");
    let kinds = kinds(&d);
    for kind in [
        "requested",
        "pickup_scheduled",
        "picked_up",
        "departed",
        "arrived",
        "handover_created",
        "received_by_agency",
        "accepted",
        "result_ready",
        "handed_to_post",
        "delivery_failed",
        "returned_to_agency",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    assert_eq!(kinds.last().map(String::as_str), Some("returned_to_agency"));
    let attempts = entity::delivery_attempt::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(attempts, 2, "the refused attempt stored nothing");
    // Nothing more can happen.
    expect_error(
        post(&app, &delivery, Some(&keys.postal), &second).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
}

#[tokio::test]
async fn a_result_is_delivered_against_an_identity_document_even_to_a_proxy() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, _) = picked_up(&app, &keys.postal).await;
    let outbound_item = to_result_with_post(&app, &keys, &code).await;

    // Out for delivery, by scan.
    let scan = json!({
        "scan_id": scan_id(),
        "item_code": outbound_item,
        "event": "out_for_delivery",
        "at": vn_time(TimeDelta::zero()),
    });
    let res = json_of(
        post(&app, "/api/v1/scans", Some(&keys.postal), &scan).await,
        201,
    )
    .await;
    assert_eq!(res["status"], "out_for_delivery");

    let delivery = format!("/api/v1/dossiers/{code}/delivery");
    expect_error(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({"outcome": "delivered"}),
        )
        .await,
        422,
        "validation_failed",
        &["recipient"],
    )
    .await;
    expect_error(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({
                "outcome": "delivered",
                "recipient": {"full_name": "Trần Thị Bình", "id_number": "12345"},
            }),
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
            &delivery,
            Some(&keys.postal),
            &json!({"outcome": "lost"}),
        )
        .await,
        422,
        "validation_failed",
        &["outcome"],
    )
    .await;
    // Another office may not deliver it.
    let other = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    expect_error(
        post(
            &app,
            &delivery,
            Some(&other),
            &json!({
                "outcome": "delivered",
                "recipient": {"full_name": "Trần Thị Bình", "id_number": "c1234567", "proxy": true,
                              "authorization_ref": "Giấy ủy quyền số 12/UQ ngày 01/12/2026"},
            }),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;

    let body = json!({
        "outcome": "delivered",
        "recipient": {"full_name": "Trần Thị Bình", "id_number": "c1234567", "proxy": true,
                      "authorization_ref": "Giấy ủy quyền số 12/UQ ngày 01/12/2026"},
    });
    let d = json_of(post(&app, &delivery, Some(&keys.postal), &body).await, 200).await;
    assert_eq!(d["status"], "delivered");
    let outbound = leg(&d, "outbound");
    assert_eq!(outbound["status"], "delivered");
    assert!(outbound["delivered_at"].is_string());
    let attempts = entity::delivery_attempt::Entity::find()
        .all(&app.store.read)
        .await
        .expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].recipient_full_name.as_deref(),
        Some("Trần Thị Bình")
    );
    assert_eq!(attempts[0].recipient_id_number.as_deref(), Some("C1234567"));
    assert!(attempts[0].proxy);
    // The public view shows the status, never who signed.
    let tracked = app.track(&code).await.text().await.expect("body");
    assert!(tracked.contains("delivered"));
    assert!(
        !tracked.contains("Trần Thị Bình") && !tracked.contains("C1234567"),
        "{tracked}"
    );
}

#[tokio::test]
async fn a_typed_item_code_is_validated_and_cannot_be_used_twice() {
    let app = TestApp::spawn().await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let first = app.create_valid_dossier().await;
    let second = app.create_valid_dossier().await;
    let total = first["fees"]["total_vnd"].as_i64().expect("total");
    let path = |d: &Value| {
        format!(
            "/api/v1/dossiers/{}/pickup",
            d["code"].as_str().unwrap_or_default()
        )
    };

    expect_error(
        post(
            &app,
            &path(&first),
            Some(&postal),
            &json!({
                "documents_checked": true,
                "fee_collected_vnd": total,
                "item_code": "RR123456784VN",
            }),
        )
        .await,
        422,
        "validation_failed",
        &["item_code"],
    )
    .await;
    let d = json_of(
        post(
            &app,
            &path(&first),
            Some(&postal),
            &json!({
                "documents_checked": true,
                "fee_collected_vnd": total,
                "item_code": " rr123456785vn ",
            }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(leg(&d, "inbound")["item_code"], "RR123456785VN");
    expect_error(
        post(
            &app,
            &path(&second),
            Some(&postal),
            &json!({
                "documents_checked": true,
                "fee_collected_vnd": total,
                "item_code": "RR123456785VN",
            }),
        )
        .await,
        409,
        "conflict",
        &[],
    )
    .await;
    let d = dossier(&app, second["code"].as_str().expect("code"), &postal).await;
    assert_eq!(
        d["status"], "pickup_requested",
        "the refused pickup changed nothing"
    );
}

#[tokio::test]
async fn concurrent_pickups_never_share_an_allocated_item_code() {
    let app = TestApp::spawn().await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let mut dossiers = Vec::new();
    for _ in 0..16 {
        dossiers.push(app.create_valid_dossier().await);
    }
    let pickups = dossiers.iter().map(|d| {
        let path = format!(
            "/api/v1/dossiers/{}/pickup",
            d["code"].as_str().unwrap_or_default()
        );
        let body = json!({"documents_checked": true, "fee_collected_vnd": d["fees"]["total_vnd"]});
        let app = &app;
        let postal = &postal;
        async move { post(app, &path, Some(postal), &body).await }
    });
    let answers = futures_util::future::join_all(pickups).await;
    let mut codes = HashSet::new();
    for res in answers {
        let d = json_of(res, 200).await;
        let item = leg(&d, "inbound")["item_code"]
            .as_str()
            .expect("item")
            .to_owned();
        assert!(domain::s10::ItemCode::parse(&item).is_ok());
        assert!(codes.insert(item), "an item code was handed out twice");
    }
    assert_eq!(codes.len(), 16);
}

#[tokio::test]
async fn a_spent_item_code_range_is_a_clear_conflict() {
    let app = TestApp::spawn().await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    app.store
        .write
        .execute_unprepared(
            "UPDATE item_code_ranges SET next_serial = last_serial + 1 WHERE office_code = '100000'",
        )
        .await
        .expect("spend the range");
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let res = post(
        &app,
        &format!("/api/v1/dossiers/{code}/pickup"),
        Some(&postal),
        &json!({"documents_checked": true, "fee_collected_vnd": created["fees"]["total_vnd"]}),
    )
    .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "conflict");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("no item codes left"), "{message}");
    assert_eq!(
        dossier(&app, code, &postal).await["status"],
        "pickup_requested"
    );
}

#[tokio::test]
async fn a_failed_pickup_needs_a_reason_and_can_be_rescheduled() {
    let app = TestApp::spawn().await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let path = format!("/api/v1/dossiers/{code}/pickup-failed");
    expect_error(
        post(&app, &path, Some(&postal), &json!({})).await,
        422,
        "validation_failed",
        &["reason"],
    )
    .await;
    let d = json_of(
        post(
            &app,
            &path,
            Some(&postal),
            &json!({"reason": "Không liên lạc được"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "pickup_failed");
    let last = d["timeline"]
        .as_array()
        .and_then(|t| t.last())
        .expect("event");
    assert_eq!(last["kind"], "pickup_failed");
    assert_eq!(last["note"], "Không liên lạc được");
    assert!(
        last["actor"]
            .as_str()
            .unwrap_or_default()
            .starts_with("postal:")
    );
    // Still on the worklist, and it may be booked again.
    let list = json_of(get(&app, "/api/v1/pickups", Some(&postal)).await, 200).await;
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .any(|p| p["code"] == code && p["status"] == "pickup_failed")
    );
    let tomorrow = local_today() + Days::new(1);
    let d = json_of(
        post(
            &app,
            &format!("/api/v1/dossiers/{code}/schedule"),
            Some(&postal),
            &json!({"date": tomorrow.to_string(), "window": "afternoon"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "pickup_scheduled");
}

#[tokio::test]
async fn postal_operations_are_for_the_dossiers_own_office_only() {
    let app = TestApp::spawn().await;
    let other = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    let agency = app.key(Role::Agency, None, Some(AGENCY)).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let total = created["fees"]["total_vnd"].clone();
    let schedule = json!({"date": local_today().to_string(), "window": "morning"});
    let pickup = json!({"documents_checked": true, "fee_collected_vnd": total});
    for (path, body) in [
        (format!("/api/v1/dossiers/{code}/schedule"), &schedule),
        (format!("/api/v1/dossiers/{code}/pickup"), &pickup),
        (
            format!("/api/v1/dossiers/{code}/pickup-failed"),
            &json!({"reason": "x"}),
        ),
    ] {
        expect_error(
            post(&app, &path, Some(&other), body).await,
            403,
            "forbidden",
            &[],
        )
        .await;
        expect_error(
            post(&app, &path, Some(&agency), body).await,
            403,
            "forbidden",
            &[],
        )
        .await;
        expect_error(
            post(&app, &path, None, body).await,
            401,
            "unauthorized",
            &[],
        )
        .await;
    }
    expect_error(
        post(
            &app,
            "/api/v1/dossiers/ABCDE-FGHJK/schedule",
            Some(&other),
            &schedule,
        )
        .await,
        404,
        "not_found",
        &[],
    )
    .await;
    // The other office's worklist does not show it; a bad status filter is a bad request.
    let list = json_of(get(&app, "/api/v1/pickups", Some(&other)).await, 200).await;
    assert!(list.as_array().expect("list").is_empty());
    expect_error(
        get(&app, "/api/v1/pickups?status=lost", Some(&other)).await,
        400,
        "bad_request",
        &[],
    )
    .await;
    expect_error(
        get(&app, "/api/v1/pickups", Some(&agency)).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        get(&app, "/api/v1/pickups", None).await,
        401,
        "unauthorized",
        &[],
    )
    .await;
    let events = entity::dossier_event::Entity::find()
        .filter(entity::dossier_event::Column::Kind.ne(entity::enums::EventKind::Requested))
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(events, 0, "refused operations wrote no events");
}

#[tokio::test]
async fn the_openapi_document_lists_the_postal_and_handover_operations() {
    let app = TestApp::spawn().await;
    let spec = json_of(get(&app, "/openapi.json", None).await, 200).await;
    let paths = spec["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/pickups", "get"),
        ("/api/v1/dossiers/{code}/schedule", "post"),
        ("/api/v1/dossiers/{code}/pickup", "post"),
        ("/api/v1/dossiers/{code}/pickup-failed", "post"),
        ("/api/v1/dossiers/{code}/delivery", "post"),
        ("/api/v1/scans", "post"),
        ("/api/v1/scans/batch", "post"),
        ("/api/v1/handovers", "post"),
        ("/api/v1/handovers/{id}", "get"),
        ("/api/v1/handovers/{id}/confirm", "post"),
        ("/api/v1/dossiers/{code}/verdict", "post"),
        ("/api/v1/dossiers/{code}/result", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_return_only_dossier_goes_home_from_the_desk() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let mut body = tests::valid_request();
    body["service_mode"] = "return".into();
    body["return_address"] = body["pickup_address"].clone();
    body["pickup_address"] = Value::Null;
    let created = json_of(
        post(&app, "/api/v1/dossiers", Some(&keys.agency), &body).await,
        201,
    )
    .await;
    let code = created["code"].as_str().expect("code");
    assert_eq!(created["status"], "awaiting_result");
    // Nothing to pick up.
    expect_error(
        post(
            &app,
            &format!("/api/v1/dossiers/{code}/pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": created["fees"]["total_vnd"]}),
        )
        .await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    json_of(
        post(
            &app,
            &format!("/api/v1/dossiers/{code}/result"),
            Some(&keys.agency),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let record = draft(&app, &keys.agency, "to_post", &[code]).await;
    let signed = confirm(&app, &keys.postal, record["id"].as_i64().expect("id")).await;
    let item = signed["items"][0]["item_code"].as_str().expect("item");
    assert!(domain::s10::ItemCode::parse(item).is_ok());
    let d = dossier(&app, code, &keys.postal).await;
    assert_eq!(d["status"], "result_with_post");
    assert_eq!(leg(&d, "outbound")["item_code"], item);
}

#[tokio::test]
async fn no_parcel_event_may_be_dated_before_the_post_took_the_parcel_in() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let (code, inbound) = picked_up(&app, &keys.postal).await;
    let outbound = to_result_with_post(&app, &keys, &code).await;
    let before = dossier(&app, &code, &keys.postal).await;
    let yesterday = vn_time(TimeDelta::days(-1));

    // A delivery dated the day before the result was handed to the post: refused, field `at`.
    let delivery = format!("/api/v1/dossiers/{code}/delivery");
    expect_error(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({"outcome": "delivered", "at": yesterday,
                    "recipient": {"full_name": "Nguyễn Văn An", "id_number": "001090012345",
                                  "proxy": false}}),
        )
        .await,
        422,
        "validation_failed",
        &["at"],
    )
    .await;
    expect_error(
        post(
            &app,
            &delivery,
            Some(&keys.postal),
            &json!({"outcome": "failed", "reason": "Không có người nhận", "at": yesterday}),
        )
        .await,
        422,
        "validation_failed",
        &["at"],
    )
    .await;
    // The same by scan, for either parcel.
    for (item, event) in [(&outbound, "delivery_failed"), (&inbound, "arrived")] {
        let res = post(
            &app,
            "/api/v1/scans",
            Some(&keys.postal),
            &json!({"scan_id": scan_id(), "item_code": item, "event": event, "at": yesterday}),
        )
        .await;
        expect_error(res, 422, "validation_failed", &["at"]).await;
    }
    // Nothing changed; a time after the handover is taken.
    let after = dossier(&app, &code, &keys.postal).await;
    assert_eq!(after["status"], before["status"]);
    assert_eq!(after["timeline"], before["timeline"]);
    let res = post(
        &app,
        "/api/v1/scans",
        Some(&keys.postal),
        &json!({"scan_id": scan_id(), "item_code": outbound, "event": "out_for_delivery",
                "at": vn_time(TimeDelta::zero())}),
    )
    .await;
    assert_eq!(json_of(res, 201).await["status"], "out_for_delivery");
}
