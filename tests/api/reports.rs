//! The summary report (API.md "Reports"): every figure against a fixture computed by hand, the period
//! boundaries and presets, the CSV form, who may see which agency, and bad parameters.
//!
//! The fixture's dossiers are created through the API, then their times and states are set in the
//! store to known values, so that each figure below can be worked out on paper.

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use entity::enums::{DossierStatus, LegDirection, LegStatus, Role};
use entity::{dossier, leg};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::{TestApp, valid_request};

use super::postal::{
    Keys, expect_error, get, json_of, local_today, picked_up, post, to_result_with_post,
};

const HOANKIEM: &str = "UBND-P-HOANKIEM";
const BADINH: &str = "UBND-P-BADINH";
const SAIGON: &str = "UBND-P-SAIGON";
/// Cấp bản sao trích lục hộ tịch.
const COPY: &str = "1.001612";
/// Đăng ký khai sinh.
const BIRTH: &str = "1.001193";

/// A local time in Vietnam, `YYYY-MM-DD HH:MM:SS[.f]`, as UTC.
fn vn(text: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_str(&format!("{text} +07:00"), "%Y-%m-%d %H:%M:%S%.f %z")
        .expect("a local time")
        .with_timezone(&Utc)
}

/// A parcel's state in the fixture: status, started, due, delivered (local times), failed attempts.
struct LegState {
    status: LegStatus,
    started: Option<&'static str>,
    due: Option<&'static str>,
    delivered: Option<&'static str>,
    failed: i32,
}

fn parcel(
    status: LegStatus,
    started: Option<&'static str>,
    due: Option<&'static str>,
    delivered: Option<&'static str>,
    failed: i32,
) -> LegState {
    LegState {
        status,
        started,
        due,
        delivered,
        failed,
    }
}

/// Nothing happened to this parcel yet.
fn planned() -> LegState {
    parcel(LegStatus::Planned, None, None, None, 0)
}

/// One dossier of the fixture.
struct Fixture {
    agency: &'static str,
    procedure: &'static str,
    mode: &'static str,
    created: &'static str,
    status: DossierStatus,
    result_due: Option<&'static str>,
    inbound: Option<LegState>,
    outbound: Option<LegState>,
}

/// Creates a dossier through the API, then sets its times and states in the store.
async fn insert(app: &TestApp, f: Fixture) -> String {
    let mut body = valid_request();
    body["agency_code"] = json!(f.agency);
    body["procedure_code"] = json!(f.procedure);
    body["service_mode"] = json!(f.mode);
    if f.procedure == BIRTH {
        body["documents"] = json!([{"name": "Tờ khai đăng ký khai sinh", "original": true, "copies": 1},
                   {"name": "Giấy chứng sinh", "original": true, "copies": 0}]);
    }
    let res = if f.mode == "return" {
        let desk = app.key(Role::Agency, None, Some(f.agency)).await;
        post(app, "/api/v1/dossiers", Some(&desk), &body).await
    } else {
        app.post_dossier(&body).await
    };
    let created = json_of(res, 201).await;
    let code = created["code"].as_str().expect("code").to_owned();

    let d = dossier::Entity::find()
        .filter(dossier::Column::Code.eq(code.as_str()))
        .one(&app.store.write)
        .await
        .expect("read dossier")
        .expect("the dossier");
    let dossier_id = d.id;
    let mut active: dossier::ActiveModel = d.into();
    active.created_at = Set(vn(f.created));
    active.status = Set(f.status);
    active.result_due_at = Set(f.result_due.map(vn));
    active.update(&app.store.write).await.expect("set dossier");

    let legs = leg::Entity::find()
        .filter(leg::Column::DossierId.eq(dossier_id))
        .all(&app.store.write)
        .await
        .expect("read legs");
    assert_eq!(
        legs.len(),
        usize::from(f.inbound.is_some()) + usize::from(f.outbound.is_some()),
        "legs of a `{}` dossier",
        f.mode
    );
    for l in legs {
        let state = match l.direction {
            LegDirection::Inbound => f.inbound.as_ref(),
            LegDirection::Outbound => f.outbound.as_ref(),
        }
        .expect("a leg the fixture describes");
        let mut active: leg::ActiveModel = l.into();
        active.status = Set(state.status);
        active.started_at = Set(state.started.map(vn));
        active.due_at = Set(state.due.map(vn));
        active.delivered_at = Set(state.delivered.map(vn));
        active.failed_attempts = Set(state.failed);
        active.update(&app.store.write).await.expect("set leg");
    }
    code
}

/// The fixture: ten dossiers created in 2026-Q3 (two of them on its first and last instants), and one
/// just before and one just after it. Transit days are chosen so that every median is exact.
async fn fixture(app: &TestApp) {
    use DossierStatus as D;
    use LegStatus as L;
    let all = [
        // D1 — Hoàn Kiếm, first instant of Q3. In 1.0 d (on time), out 2.0 d (on time).
        Fixture {
            agency: HOANKIEM,
            procedure: COPY,
            mode: "send_and_return",
            created: "2026-07-01 00:00:00",
            status: D::Delivered,
            result_due: Some("2026-07-08 23:59:59"),
            inbound: Some(parcel(
                L::HandedOver,
                Some("2026-07-01 10:00:00"),
                Some("2026-07-03 23:59:59"),
                Some("2026-07-02 10:00:00"),
                0,
            )),
            outbound: Some(parcel(
                L::Delivered,
                Some("2026-07-10 08:00:00"),
                Some("2026-07-14 23:59:59"),
                Some("2026-07-12 08:00:00"),
                0,
            )),
        },
        // D2 — in 5.0 d (late); out 2.0 d, delivered half a second into the due time's last second:
        // still on time.
        Fixture {
            agency: HOANKIEM,
            procedure: COPY,
            mode: "send_and_return",
            created: "2026-07-15 09:00:00",
            status: D::Delivered,
            result_due: None,
            inbound: Some(parcel(
                L::HandedOver,
                Some("2026-07-15 10:00:00"),
                Some("2026-07-17 23:59:59"),
                Some("2026-07-20 10:00:00"),
                0,
            )),
            outbound: Some(parcel(
                L::Delivered,
                Some("2026-07-26 23:59:59.5"),
                Some("2026-07-28 23:59:59"),
                Some("2026-07-28 23:59:59.5"),
                0,
            )),
        },
        // D3 — in 2.0 d (on time); the result went back to the agency after two notices.
        Fixture {
            agency: HOANKIEM,
            procedure: BIRTH,
            mode: "send_and_return",
            created: "2026-08-03 14:00:00",
            status: D::ReturnedToAgency,
            result_due: None,
            inbound: Some(parcel(
                L::HandedOver,
                Some("2026-08-03 15:00:00"),
                Some("2026-08-05 23:59:59"),
                Some("2026-08-05 15:00:00"),
                0,
            )),
            outbound: Some(parcel(
                L::Returned,
                Some("2026-08-10 08:00:00"),
                Some("2026-08-12 23:59:59"),
                None,
                2,
            )),
        },
        // D4 — last instant of Q3. In 1.5 d (on time); out failed once, past due now.
        Fixture {
            agency: HOANKIEM,
            procedure: BIRTH,
            mode: "send_and_return",
            created: "2026-09-30 23:59:59.999",
            status: D::DeliveryFailed,
            result_due: None,
            inbound: Some(parcel(
                L::HandedOver,
                Some("2026-10-01 09:00:00"),
                Some("2026-10-05 23:59:59"),
                Some("2026-10-02 21:00:00"),
                0,
            )),
            outbound: Some(parcel(
                L::DeliveryFailed,
                Some("2026-10-05 08:00:00"),
                Some("2026-10-07 23:59:59"),
                None,
                1,
            )),
        },
        // D5 — Ba Đình, mode send. In 5.0 d (late); at the desk past the agency's deadline.
        Fixture {
            agency: BADINH,
            procedure: COPY,
            mode: "send",
            created: "2026-08-20 10:00:00",
            status: D::Processing,
            result_due: Some("2026-08-25 23:59:59"),
            inbound: Some(parcel(
                L::HandedOver,
                Some("2026-08-20 11:00:00"),
                Some("2026-08-24 23:59:59"),
                Some("2026-08-25 11:00:00"),
                0,
            )),
            outbound: None,
        },
        // D6 — in transit past its due time.
        Fixture {
            agency: BADINH,
            procedure: BIRTH,
            mode: "send_and_return",
            created: "2026-09-10 10:00:00",
            status: D::InTransit,
            result_due: None,
            inbound: Some(parcel(
                L::InTransit,
                Some("2026-09-10 11:00:00"),
                Some("2026-09-12 23:59:59"),
                None,
                0,
            )),
            outbound: Some(planned()),
        },
        // D7 — cancelled before pickup.
        Fixture {
            agency: BADINH,
            procedure: COPY,
            mode: "send_and_return",
            created: "2026-09-15 10:00:00",
            status: D::Cancelled,
            result_due: None,
            inbound: Some(parcel(L::Cancelled, None, None, None, 0)),
            outbound: Some(parcel(L::Cancelled, None, None, None, 0)),
        },
        // D8 — Sài Gòn, filed at the desk (mode return). Out 4.0 d (late), second attempt.
        Fixture {
            agency: SAIGON,
            procedure: COPY,
            mode: "return",
            created: "2026-09-01 08:00:00",
            status: D::Delivered,
            result_due: None,
            inbound: None,
            outbound: Some(parcel(
                L::Delivered,
                Some("2026-09-02 08:00:00"),
                Some("2026-09-04 23:59:59"),
                Some("2026-09-06 08:00:00"),
                1,
            )),
        },
        // D11 — Ba Đình. In 1.5 d (on time); out 3.5 d (late), second attempt.
        Fixture {
            agency: BADINH,
            procedure: BIRTH,
            mode: "send_and_return",
            created: "2026-07-20 10:00:00",
            status: D::Delivered,
            result_due: None,
            inbound: Some(parcel(
                L::HandedOver,
                Some("2026-07-20 11:00:00"),
                Some("2026-07-22 23:59:59"),
                Some("2026-07-21 23:00:00"),
                0,
            )),
            outbound: Some(parcel(
                L::Delivered,
                Some("2026-07-27 08:00:00"),
                Some("2026-07-29 23:59:59"),
                Some("2026-07-30 20:00:00"),
                1,
            )),
        },
        // D12 — Sài Gòn. In 2.0 d (on time); at the desk, its deadline far ahead.
        Fixture {
            agency: SAIGON,
            procedure: BIRTH,
            mode: "send_and_return",
            created: "2026-09-20 10:00:00",
            status: D::SupplementRequested,
            result_due: Some("2099-12-31 23:59:59"),
            inbound: Some(parcel(
                L::HandedOver,
                Some("2026-09-20 11:00:00"),
                Some("2026-09-26 23:59:59"),
                Some("2026-09-22 11:00:00"),
                0,
            )),
            outbound: Some(planned()),
        },
        // D9 and D10 — just outside Q3.
        Fixture {
            agency: HOANKIEM,
            procedure: COPY,
            mode: "send_and_return",
            created: "2026-06-30 23:59:59.999",
            status: D::PickupRequested,
            result_due: None,
            inbound: Some(planned()),
            outbound: Some(planned()),
        },
        Fixture {
            agency: HOANKIEM,
            procedure: COPY,
            mode: "send_and_return",
            created: "2026-10-01 00:00:00",
            status: D::PickupRequested,
            result_due: None,
            inbound: Some(planned()),
            outbound: Some(planned()),
        },
    ];
    for f in all {
        insert(app, f).await;
    }
}

/// `by_status` with these non-zero counts and every other status at zero.
fn statuses(non_zero: &[(&str, i64)]) -> Value {
    let all = DossierStatus::ALL.iter().map(|s| {
        let n = non_zero
            .iter()
            .find(|(name, _)| *name == s.as_str())
            .map_or(0, |(_, n)| *n);
        json!({"status": s.as_str(), "dossiers": n})
    });
    Value::Array(all.collect())
}

async fn summary(app: &TestApp, query: &str, bearer: Option<&str>) -> reqwest::Response {
    get(app, &format!("/api/v1/reports/summary?{query}"), bearer).await
}

/// The report's figures without the instant it was made.
fn figures(mut report: Value) -> Value {
    let at = report
        .as_object_mut()
        .and_then(|o| o.remove("generated_at"))
        .expect("generated_at");
    assert!(
        DateTime::parse_from_rfc3339(at.as_str().expect("a string"))
            .is_ok_and(|t| t.offset().local_minus_utc() == 7 * 3600),
        "generated_at in +07:00: {at}"
    );
    report["period"]
        .as_object_mut()
        .expect("period")
        .remove("covers")
        .expect("covers says which dossiers count");
    report
}

#[tokio::test]
async fn every_figure_of_a_quarter_matches_the_hand_computed_fixture() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let admin = app.key(Role::Admin, None, None).await;

    let report = json_of(summary(&app, "period=2026-Q3", Some(&admin)).await, 200).await;
    let expected = json!({
        "period": {"from": "2026-07-01", "to": "2026-09-30", "preset": "2026-Q3", "time_zone": "Asia/Ho_Chi_Minh"},
        "agency_code": null,
        "dossiers": 10,
        "by_status": statuses(&[
            ("delivered", 4),
            ("returned_to_agency", 1),
            ("delivery_failed", 1),
            ("processing", 1),
            ("in_transit", 1),
            ("cancelled", 1),
            ("supplement_requested", 1),
        ]),
        "by_procedure": [
            {"procedure_code": BIRTH, "procedure_name": "Đăng ký khai sinh", "dossiers": 5},
            {"procedure_code": COPY, "procedure_name": "Cấp bản sao trích lục hộ tịch", "dossiers": 5},
        ],
        "legs": [
            {
                "direction": "inbound", "legs": 9, "started": 8, "delivered": 7, "on_time": 5, "late": 2,
                "on_time_rate": 0.7143,
                // 1.0, 1.5, 1.5, 2.0, 2.0, 5.0, 5.0
                "median_transit_days": 2.0,
                "failed_attempts": 0, "legs_with_failed_attempts": 0, "returned_to_agency": 0, "overdue": 1,
            },
            {
                "direction": "outbound", "legs": 9, "started": 6, "delivered": 4, "on_time": 2, "late": 2,
                "on_time_rate": 0.5,
                // 2.0, 2.0, 3.5, 4.0
                "median_transit_days": 2.75,
                "failed_attempts": 5, "legs_with_failed_attempts": 4, "returned_to_agency": 1, "overdue": 1,
            },
        ],
        "agencies": [
            {
                "agency_code": BADINH, "agency_name": "Ủy ban nhân dân phường Ba Đình", "dossiers": 4,
                "inbound_delivered": 2, "inbound_on_time": 1, "inbound_late": 1, "inbound_on_time_rate": 0.5,
                "outbound_delivered": 1, "outbound_on_time": 0, "outbound_late": 1, "outbound_on_time_rate": 0.0,
                "on_time_rate": 0.3333,
                "failed_attempts": 1, "returned_to_agency": 0, "overdue_legs": 1, "overdue_results": 1,
            },
            {
                "agency_code": HOANKIEM, "agency_name": "Ủy ban nhân dân phường Hoàn Kiếm", "dossiers": 4,
                "inbound_delivered": 4, "inbound_on_time": 3, "inbound_late": 1, "inbound_on_time_rate": 0.75,
                "outbound_delivered": 2, "outbound_on_time": 2, "outbound_late": 0, "outbound_on_time_rate": 1.0,
                "on_time_rate": 0.8333,
                "failed_attempts": 3, "returned_to_agency": 1, "overdue_legs": 1, "overdue_results": 0,
            },
            {
                "agency_code": SAIGON, "agency_name": "Ủy ban nhân dân phường Sài Gòn", "dossiers": 2,
                "inbound_delivered": 1, "inbound_on_time": 1, "inbound_late": 0, "inbound_on_time_rate": 1.0,
                "outbound_delivered": 1, "outbound_on_time": 0, "outbound_late": 1, "outbound_on_time_rate": 0.0,
                "on_time_rate": 0.5,
                "failed_attempts": 1, "returned_to_agency": 0, "overdue_legs": 0, "overdue_results": 0,
            },
        ],
        "overdue": {"inbound_legs": 1, "outbound_legs": 1, "agency_results": 1},
    });
    assert_eq!(figures(report), expected);

    // The same quarter by dates, and an admin's report on one agency.
    let by_dates = json_of(
        summary(&app, "from=2026-07-01&to=2026-09-30", Some(&admin)).await,
        200,
    )
    .await;
    let mut expected_by_dates = expected.clone();
    expected_by_dates["period"]["preset"] = Value::Null;
    assert_eq!(figures(by_dates), expected_by_dates);

    let saigon = json_of(
        summary(
            &app,
            &format!("period=2026-q3&agency={SAIGON}"),
            Some(&admin),
        )
        .await,
        200,
    )
    .await;
    let saigon = figures(saigon);
    assert_eq!(saigon["agency_code"], SAIGON);
    assert_eq!(saigon["dossiers"], 2);
    assert_eq!(saigon["agencies"], json!([expected["agencies"][2]]));
    assert_eq!(
        saigon["legs"][1]["median_transit_days"], 4.0,
        "Sài Gòn's one timed result took 4 days"
    );
}

#[tokio::test]
async fn a_period_counts_dossiers_created_on_its_local_dates_both_ends_included() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let count = |query: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = json_of(summary(app, query, Some(&admin)).await, 200).await;
            r["dossiers"].as_i64().expect("dossiers")
        }
    };
    // D9 was created at 23:59:59.999 on 30 June, D1 at midnight on 1 July (local time).
    assert_eq!(count("from=2026-06-30&to=2026-06-30").await, 1);
    assert_eq!(count("from=2026-07-01&to=2026-07-01").await, 1);
    // D4 at 23:59:59.999 on 30 September, D10 at midnight on 1 October.
    assert_eq!(count("from=2026-09-30&to=2026-09-30").await, 1);
    assert_eq!(count("period=2026-Q4").await, 1);
    assert_eq!(count("period=2026-H1").await, 1);
    assert_eq!(count("period=2026-H2").await, 11);
    assert_eq!(count("period=2026").await, 12);
    assert_eq!(count("period=2025").await, 0);

    // The second half-year adds D10, which has no parcel under way: the same medians as Q3.
    let h2 = json_of(summary(&app, "period=2026-H2", Some(&admin)).await, 200).await;
    assert_eq!(h2["legs"][0]["median_transit_days"], 2.0);
    assert_eq!(h2["legs"][1]["median_transit_days"], 2.75);
    // D1 alone: in 1.0 day, out 2.0 days.
    let d1 = json_of(
        summary(&app, "from=2026-07-01&to=2026-07-01", Some(&admin)).await,
        200,
    )
    .await;
    assert_eq!(d1["legs"][0]["median_transit_days"], 1.0);
    assert_eq!(d1["legs"][1]["median_transit_days"], 2.0);

    let empty = figures(json_of(summary(&app, "period=2025", Some(&admin)).await, 200).await);
    assert_eq!(empty["by_procedure"], json!([]));
    assert_eq!(empty["agencies"], json!([]));
    assert_eq!(empty["legs"][0]["on_time_rate"], Value::Null);
    assert_eq!(empty["legs"][1]["median_transit_days"], Value::Null);
    assert_eq!(empty["period"]["from"], "2025-01-01");
    assert_eq!(empty["period"]["to"], "2025-12-31");
}

#[tokio::test]
async fn an_agency_key_reports_on_its_own_agency_only() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let hoankiem = app.key(Role::Agency, None, Some(HOANKIEM)).await;

    let own = figures(json_of(summary(&app, "period=2026-Q3", Some(&hoankiem)).await, 200).await);
    let named = figures(
        json_of(
            summary(
                &app,
                &format!("period=2026-Q3&agency={HOANKIEM}"),
                Some(&hoankiem),
            )
            .await,
            200,
        )
        .await,
    );
    assert_eq!(own, named);
    assert_eq!(own["agency_code"], HOANKIEM);
    assert_eq!(own["dossiers"], 4);
    assert_eq!(
        own["by_status"],
        statuses(&[
            ("delivered", 2),
            ("returned_to_agency", 1),
            ("delivery_failed", 1)
        ])
    );
    assert_eq!(
        own["by_procedure"],
        json!([
            {"procedure_code": BIRTH, "procedure_name": "Đăng ký khai sinh", "dossiers": 2},
            {"procedure_code": COPY, "procedure_name": "Cấp bản sao trích lục hộ tịch", "dossiers": 2},
        ])
    );
    assert_eq!(
        own["legs"],
        json!([
            {
                "direction": "inbound", "legs": 4, "started": 4, "delivered": 4, "on_time": 3, "late": 1,
                "on_time_rate": 0.75,
                // 1.0, 1.5, 2.0, 5.0
                "median_transit_days": 1.75,
                "failed_attempts": 0, "legs_with_failed_attempts": 0, "returned_to_agency": 0, "overdue": 0,
            },
            {
                "direction": "outbound", "legs": 4, "started": 4, "delivered": 2, "on_time": 2, "late": 0,
                "on_time_rate": 1.0,
                "median_transit_days": 2.0,
                "failed_attempts": 3, "legs_with_failed_attempts": 2, "returned_to_agency": 1, "overdue": 1,
            },
        ])
    );
    assert_eq!(own["agencies"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        own["overdue"],
        json!({"inbound_legs": 0, "outbound_legs": 1, "agency_results": 0})
    );

    // Another agency's figures are refused, whoever names them; nor does a post office get reports.
    for other in [BADINH, SAIGON, "NO-SUCH-AGENCY"] {
        expect_error(
            summary(
                &app,
                &format!("period=2026-Q3&agency={other}"),
                Some(&hoankiem),
            )
            .await,
            403,
            "forbidden",
            &[],
        )
        .await;
    }
    let keys = Keys::new(&app).await;
    expect_error(
        summary(&app, "period=2026-Q3", Some(&keys.postal)).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    let citizen = app.create_valid_dossier().await;
    let token = citizen["access_token"].as_str().expect("token");
    expect_error(
        summary(&app, "period=2026-Q3", Some(token)).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        summary(&app, "period=2026-Q3", None).await,
        401,
        "unauthorized",
        &[],
    )
    .await;

    // The same rule holds for the CSV form.
    let res = app
        .client
        .get(app.url(&format!(
            "/api/v1/reports/summary?period=2026-Q3&agency={BADINH}"
        )))
        .bearer_auth(&hoankiem)
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("request");
    expect_error(res, 403, "forbidden", &[]).await;
}

#[tokio::test]
async fn bad_report_parameters_are_refused_with_bad_request() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    for query in [
        "",
        "from=2026-07-01",
        "to=2026-09-30",
        "from=2026-09-30&to=2026-07-01",
        "from=2026-7-1&to=2026-09-30",
        "from=2026-02-30&to=2026-03-31",
        "from=01%2F07%2F2026&to=2026-09-30",
        "from=2026-07-01&to=2026-09-30&period=2026-Q3",
        "period=2026-Q5",
        "period=2026-H3",
        "period=26",
        "period=2026-Q3-extra",
        "period=Q3-2026",
        "period=",
        "period=2026&agency=NO-SUCH-AGENCY",
    ] {
        let res = summary(&app, query, Some(&admin)).await;
        assert_eq!(res.status(), 400, "`{query}` was not refused");
        let (code, _) = tests::error_of(res).await;
        assert_eq!(code, "bad_request", "`{query}`");
    }
}

/// Splits a CSV report into its sections: name, header, rows (fields split on commas; the fixture's
/// names hold none).
fn csv_sections(body: &str) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    body.split("\r\n\r\n")
        .map(|section| {
            let mut lines = section.split("\r\n").filter(|l| !l.is_empty());
            let name = lines.next().expect("section name").to_owned();
            let split = |l: &str| l.split(',').map(str::to_owned).collect::<Vec<_>>();
            let header = split(lines.next().expect("header row"));
            let rows = lines.map(split).collect();
            (name, header, rows)
        })
        .collect()
}

#[tokio::test]
async fn csv_gives_one_section_per_table_with_a_header_row_and_the_same_figures() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let res = app
        .client
        .get(app.url("/api/v1/reports/summary?period=2026-Q3"))
        .bearer_auth(&admin)
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().expect("ascii"),
        "text/csv; charset=utf-8"
    );
    let bytes = res.bytes().await.expect("body");
    let body = std::str::from_utf8(&bytes).expect("UTF-8");
    let body = body
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for spreadsheet programs");
    assert!(body.ends_with("\r\n"));

    let sections = csv_sections(body);
    let names: Vec<&str> = sections.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "summary",
            "by_status",
            "by_procedure",
            "legs",
            "agencies",
            "overdue"
        ]
    );
    for (name, header, rows) in &sections {
        for row in rows {
            assert_eq!(row.len(), header.len(), "a row of {name}: {row:?}");
        }
    }
    let (_, header, rows) = &sections[0];
    assert_eq!(
        header,
        &[
            "period_from",
            "period_to",
            "preset",
            "agency_code",
            "generated_at",
            "dossiers"
        ]
    );
    assert_eq!(rows[0][..4], ["2026-07-01", "2026-09-30", "2026-Q3", ""]);
    assert_eq!(rows[0][5], "10");

    let (_, header, rows) = &sections[1];
    assert_eq!(header, &["status", "dossiers"]);
    assert_eq!(rows.len(), DossierStatus::ALL.len());
    assert!(rows.contains(&vec!["delivered".to_owned(), "4".to_owned()]));
    assert!(rows.contains(&vec!["pickup_requested".to_owned(), "0".to_owned()]));

    let (_, header, rows) = &sections[2];
    assert_eq!(header, &["procedure_code", "procedure_name", "dossiers"]);
    assert_eq!(
        rows,
        &[
            vec![
                BIRTH.to_owned(),
                "Đăng ký khai sinh".to_owned(),
                "5".to_owned()
            ],
            vec![
                COPY.to_owned(),
                "Cấp bản sao trích lục hộ tịch".to_owned(),
                "5".to_owned()
            ],
        ]
    );

    let (_, header, rows) = &sections[3];
    assert_eq!(header[0], "direction");
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][column("on_time_rate")], "0.7143");
    assert_eq!(rows[0][column("median_transit_days")], "2");
    assert_eq!(rows[1][column("median_transit_days")], "2.75");
    assert_eq!(rows[1][column("failed_attempts")], "5");
    assert_eq!(rows[1][column("returned_to_agency")], "1");

    let (_, header, rows) = &sections[4];
    assert_eq!(header[..2], ["agency_code", "agency_name"]);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1][..3],
        [HOANKIEM, "Ủy ban nhân dân phường Hoàn Kiếm", "4"]
    );
    assert_eq!(
        rows[0][header
            .iter()
            .position(|h| h == "on_time_rate")
            .expect("rate")],
        "0.3333"
    );

    let (_, header, rows) = &sections[5];
    assert_eq!(header, &["inbound_legs", "outbound_legs", "agency_results"]);
    assert_eq!(
        rows,
        &[vec!["1".to_owned(), "1".to_owned(), "1".to_owned()]]
    );

    // Without a CSV preference the answer is JSON.
    for accept in [
        "application/json",
        "*/*",
        "text/csv;q=0.1, application/json",
    ] {
        let res = app
            .client
            .get(app.url("/api/v1/reports/summary?period=2026-Q3"))
            .bearer_auth(&admin)
            .header("Accept", accept)
            .send()
            .await
            .expect("request");
        let r = json_of(res, 200).await;
        assert_eq!(r["dossiers"], 10, "Accept: {accept}");
    }
}

#[tokio::test]
async fn legs_carried_through_the_api_start_at_pickup_and_at_the_handover_to_the_post() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let (code, _) = picked_up(&app, &keys.postal).await;
    to_result_with_post(&app, &keys, &code).await;
    let delivered = json!({
        "outcome": "delivered",
        "recipient": {"full_name": "Trần Thị Bình", "id_number": "001090012345", "proxy": false},
    });
    json_of(
        post(
            &app,
            &format!("/api/v1/dossiers/{code}/delivery"),
            Some(&keys.postal),
            &delivered,
        )
        .await,
        200,
    )
    .await;

    let today = local_today();
    let query = format!("from={today}&to={today}");
    let report = json_of(summary(&app, &query, Some(&admin)).await, 200).await;
    assert_eq!(report["dossiers"], 1);
    for (i, direction) in ["inbound", "outbound"].into_iter().enumerate() {
        let l = &report["legs"][i];
        assert_eq!(l["direction"], direction);
        assert_eq!(
            (
                &l["legs"],
                &l["started"],
                &l["delivered"],
                &l["on_time"],
                &l["late"]
            ),
            (&json!(1), &json!(1), &json!(1), &json!(1), &json!(0)),
            "{direction}: {l}"
        );
        let days = l["median_transit_days"].as_f64().expect("a median");
        assert!((0.0..0.01).contains(&days), "{direction} took {days} days");
    }

    // The legs' start times are the pickup and the signing of the handover to the post.
    let d = dossier::Entity::find()
        .filter(dossier::Column::Code.eq(code.as_str()))
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("dossier");
    let legs = leg::Entity::find()
        .filter(leg::Column::DossierId.eq(d.id))
        .all(&app.store.read)
        .await
        .expect("legs");
    let slip = entity::pickup_slip::Entity::find()
        .filter(entity::pickup_slip::Column::DossierId.eq(d.id))
        .one(&app.store.read)
        .await
        .expect("read")
        .expect("slip");
    for l in legs {
        let started = l.started_at.expect("started");
        match l.direction {
            LegDirection::Inbound => assert_eq!(started, slip.picked_up_at),
            LegDirection::Outbound => {
                assert!(started > slip.picked_up_at);
                assert!(l.delivered_at.is_some_and(|t| t >= started));
                assert!(started - slip.picked_up_at < TimeDelta::minutes(5));
            }
        }
    }
}

#[tokio::test]
async fn the_openapi_document_says_which_dossiers_a_period_covers_and_offers_csv() {
    let app = TestApp::spawn().await;
    let spec = json_of(get(&app, "/openapi.json", None).await, 200).await;
    let op = &spec["paths"]["/api/v1/reports/summary"]["get"];
    let description = op["description"].as_str().expect("a description");
    assert!(
        description.contains("created") && description.contains("both inclusive"),
        "{description}"
    );
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["from", "to", "period", "agency"]);
    let content = op["responses"]["200"]["content"]
        .as_object()
        .expect("content");
    assert!(content.keys().any(|k| k.starts_with("application/json")));
    assert!(content.contains_key("text/csv; charset=utf-8"));
}
