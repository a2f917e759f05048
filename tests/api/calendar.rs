//! The working calendar's make-up days: a Saturday or Sunday an administrator declares a working day
//! counts in every deadline; entering or removing one (or a holiday) recounts, in the same
//! transaction, the deadlines still running — and each moved date is on the dossier's timeline.
//! Deadlines already past stay.

use chrono::{Datelike, Days, NaiveDate, TimeDelta, Utc, Weekday};
use entity::dossier;
use entity::enums::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::{TestApp, valid_request};

use super::postal::{
    Days5, Keys, confirm, date_of, dossier as dossier_view, draft, expect_error, get, json_of,
    local_today, post,
};

/// Đăng ký việc nuôi con nuôi trong nước: 30 working days to rule, five required documents.
const ADOPTION: &str = "2.001263";

/// An adoption dossier filed at the desk today; returns its code.
async fn filed(app: &TestApp, keys: &Keys) -> String {
    let mut body = valid_request();
    body["procedure_code"] = ADOPTION.into();
    body["documents"] = (1..=5)
        .map(|i| json!({"code": format!("{ADOPTION}-0{i}"), "original": true, "copies": 0}))
        .collect();
    let created = json_of(app.post_dossier(&body).await, 201).await;
    let code = created["code"].as_str().expect("code").to_owned();
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    json_of(
        post(
            app,
            &format!("/api/v1/dossiers/{code}/pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total}),
        )
        .await,
        200,
    )
    .await;
    let record = draft(app, &keys.postal, "to_agency", &[&code]).await;
    confirm(app, &keys.agency, record["id"].as_i64().expect("id")).await;
    code
}

/// The first Saturday after `d`.
fn saturday_after(d: NaiveDate) -> NaiveDate {
    let mut day = d + Days::new(1);
    while day.weekday() != Weekday::Sat {
        day = day + Days::new(1);
    }
    day
}

fn moved_events(d: &Value) -> usize {
    d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "due_date_moved")
        .count()
}

#[tokio::test]
async fn a_make_up_saturday_moves_running_due_dates_earlier_and_back_when_removed() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let code = filed(&app, &keys).await;
    let late = filed(&app, &keys).await;
    // The second dossier's deadline has passed already: it stays where it is.
    dossier::Entity::update_many()
        .col_expr(
            dossier::Column::ResultDueAt,
            Expr::value(Utc::now() - TimeDelta::hours(1)),
        )
        .filter(dossier::Column::Code.eq(late.as_str()))
        .exec(&app.store.write)
        .await
        .expect("expire");
    let late_before = dossier_view(&app, &late, &keys.agency).await["result_due_at"].clone();

    let d = dossier_view(&app, &code, &keys.agency).await;
    let old_due = date_of(&d["result_due_at"]);
    let filed_on = date_of(&d["filed_at"]);
    let saturday = saturday_after(filed_on.max(local_today()));
    assert!(saturday < old_due);

    let saved = json_of(
        post(
            &app,
            "/api/v1/admin/working-days",
            Some(&admin),
            &json!({"date": saturday.to_string(), "name": "Làm bù"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(saved["date"], saturday.to_string());
    let listed = json_of(
        get(&app, "/api/v1/admin/working-days", Some(&admin)).await,
        200,
    )
    .await;
    assert_eq!(listed.as_array().expect("list").len(), 1);

    // Counted here, independently: the same 30 working days with the Saturday among them.
    let days = Days5::from_db(&app).await;
    let desk = days.desk_date(super::postal::parse_time(&d["filed_at"]));
    let mut expected = desk;
    let mut left = 30;
    while left > 0 {
        expected = expected + Days::new(1);
        if days.is_working(expected) || expected == saturday {
            left -= 1;
        }
    }
    let d = dossier_view(&app, &code, &keys.agency).await;
    assert_eq!(date_of(&d["result_due_at"]), expected);
    assert!(expected < old_due);
    assert_eq!(moved_events(&d), 1);
    assert_eq!(
        d["status"], "received_by_agency",
        "a moved date is not a status change"
    );
    let late_after = dossier_view(&app, &late, &keys.agency).await;
    assert_eq!(late_after["result_due_at"], late_before);
    assert_eq!(moved_events(&late_after), 0);

    // Removed again: back to the old date, and the timeline says so.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/admin/working-days/{saturday}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    json_of(res, 200).await;
    let d = dossier_view(&app, &code, &keys.agency).await;
    assert_eq!(date_of(&d["result_due_at"]), old_due);
    assert_eq!(moved_events(&d), 2);

    // A holiday inside the window moves it one working day later.
    let monday = saturday + Days::new(2);
    json_of(
        post(
            &app,
            "/api/v1/admin/holidays",
            Some(&admin),
            &json!({"date": monday.to_string(), "name": "Nghỉ bù"}),
        )
        .await,
        201,
    )
    .await;
    let d = dossier_view(&app, &code, &keys.agency).await;
    assert!(date_of(&d["result_due_at"]) > old_due);
    assert_eq!(moved_events(&d), 3);
}

#[tokio::test]
async fn a_weekday_is_not_a_make_up_day_and_nothing_is_stored_or_moved() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let code = filed(&app, &keys).await;
    let before = dossier_view(&app, &code, &keys.agency).await;
    let mut weekday = local_today() + Days::new(7);
    while matches!(weekday.weekday(), Weekday::Sat | Weekday::Sun) {
        weekday = weekday + Days::new(1);
    }
    expect_error(
        post(
            &app,
            "/api/v1/admin/working-days",
            Some(&admin),
            &json!({"date": weekday.to_string(), "name": "Làm bù"}),
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
            "/api/v1/admin/working-days",
            Some(&keys.agency),
            &json!({"date": saturday_after(weekday).to_string(), "name": "Làm bù"}),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    let listed = json_of(
        get(&app, "/api/v1/admin/working-days", Some(&admin)).await,
        200,
    )
    .await;
    assert!(listed.as_array().expect("list").is_empty());
    let after = dossier_view(&app, &code, &keys.agency).await;
    assert_eq!(after["result_due_at"], before["result_due_at"]);
    assert_eq!(after["timeline"], before["timeline"]);
}
