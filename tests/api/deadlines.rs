//! The legal clocks: each parcel's due date (Circular 17 Art. 7, J + n working days by route class,
//! doubled with an appointment slip), the agency's result due date from the filing time and the
//! procedure's processing days, the one-stop desk's 15:00 cut-off, holidays entered as data by an
//! administrator — and the overdue sweep raising one `overdue` event per missed deadline, never twice.
//!
//! The service reads the real clock, so dates are set up around today: a Tết week is entered starting
//! on the next working day, and every expectation is counted here, independently, with
//! [`Days5`](super::postal::Days5).

use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeDelta, TimeZone, Utc};
use entity::enums::{LegDirection, Role};
use entity::{dossier, leg};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;
use worker::StepOutcome;

use super::postal::{
    Days5, Keys, confirm, dossier as dossier_view, draft, json_of, leg as leg_of, local_today,
    parse_time, post,
};

/// Circular 17 Art. 7, written out again: (route class, J + n, J + n with an appointment slip).
const TRANSIT: &[(&str, u32, u32)] = &[
    ("local", 1, 2),
    ("intra_province", 2, 4),
    ("inter_province_major", 3, 6),
    ("inter_province", 4, 8),
];

/// A pickup address of each route class from the demo agency (Hoàn Kiếm, Hà Nội: province 01, ward
/// 00070): the same ward, another ward of Hà Nội, TP. Hồ Chí Minh (both major cities), phường Hà Giang 1 of Tuyên Quang.
fn address_of(class: &str) -> Value {
    let (province, ward) = match class {
        "local" => ("01", "00070"),
        "intra_province" => ("01", "00004"),
        "inter_province_major" => ("79", "26740"),
        _ => ("08", "00694"),
    };
    json!({"line": "Số 5 ngõ Huế", "province_code": province, "ward_code": ward})
}

fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("+07:00")
}

/// 23:59:59 local time on `d`: the last instant of a due date.
fn end_of(d: NaiveDate) -> DateTime<FixedOffset> {
    vn().from_local_datetime(&d.and_hms_opt(23, 59, 59).expect("time"))
        .single()
        .expect("one instant")
}

/// The time of the first timeline event of `kind`.
fn event_at(d: &Value, kind: &str) -> DateTime<FixedOffset> {
    let event = d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event in {d}"));
    parse_time(&event["at"])
}

/// The `overdue` events of a dossier, oldest first.
fn overdue_events(d: &Value) -> Vec<Value> {
    d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "overdue")
        .cloned()
        .collect()
}

/// Enters a week of public holidays through the administrators' API, from `first` on.
async fn enter_tet_week(app: &TestApp, admin: &str, first: NaiveDate) -> Vec<NaiveDate> {
    let days: Vec<NaiveDate> = (0..7).map(|i| first + Days::new(i)).collect();
    for day in &days {
        let res = post(
            app,
            "/api/v1/admin/holidays",
            Some(admin),
            &json!({"date": day.to_string(), "name": "Tết Nguyên Đán"}),
        )
        .await;
        assert!(
            res.status().is_success(),
            "holiday {day}: {}",
            res.text().await.unwrap_or_default()
        );
    }
    days
}

/// Registers a `send_and_return` dossier at the office's counter with a pickup address of `class`.
async fn counter_dossier(
    app: &TestApp,
    postal: &str,
    class: &str,
    with_appointment: bool,
) -> Value {
    let mut body = tests::valid_request();
    body["pickup_address"] = address_of(class);
    body["with_appointment"] = with_appointment.into();
    let created = json_of(
        post(app, "/api/v1/dossiers", Some(postal), &body).await,
        201,
    )
    .await;
    assert_eq!(created["route_class"], class, "{created}");
    created
}

/// Records the pickup of a dossier made by [`counter_dossier`].
async fn pick_up(app: &TestApp, postal: &str, created: &Value) -> Value {
    let code = created["code"].as_str().expect("code");
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    json_of(
        post(
            app,
            &format!("/api/v1/dossiers/{code}/pickup"),
            Some(postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total}),
        )
        .await,
        200,
    )
    .await
}

/// An agency's action on a dossier that must succeed.
async fn act(app: &TestApp, bearer: &str, code: &str, action: &str, body: Value) -> Value {
    json_of(
        post(
            app,
            &format!("/api/v1/dossiers/{code}/{action}"),
            Some(bearer),
            &body,
        )
        .await,
        200,
    )
    .await
}

/// Runs the overdue sweep until it has nothing left; returns how many steps did work.
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

async fn dossier_id(app: &TestApp, code: &str) -> i64 {
    domain::ops::dossiers::find_by_code(&app.store.read, code)
        .await
        .expect("read")
        .expect("dossier")
        .id
}

/// Moves a parcel's due time into the past, as if its days had gone by.
async fn expire_leg(app: &TestApp, code: &str, direction: LegDirection) {
    let id = dossier_id(app, code).await;
    let res = leg::Entity::update_many()
        .col_expr(
            leg::Column::DueAt,
            Expr::value(Utc::now() - TimeDelta::hours(1)),
        )
        .filter(leg::Column::DossierId.eq(id))
        .filter(leg::Column::Direction.eq(direction))
        .exec(&app.store.write)
        .await
        .expect("update leg");
    assert_eq!(res.rows_affected, 1);
}

/// Moves the agency's result due time into the past.
async fn expire_result(app: &TestApp, code: &str) {
    let id = dossier_id(app, code).await;
    dossier::Entity::update_many()
        .col_expr(
            dossier::Column::ResultDueAt,
            Expr::value(Utc::now() - TimeDelta::hours(1)),
        )
        .filter(dossier::Column::Id.eq(id))
        .exec(&app.store.write)
        .await
        .expect("update dossier");
}

#[tokio::test]
async fn parcels_are_due_j_plus_n_working_days_past_weekends_and_a_tet_week_for_every_route_class()
{
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;

    // Tết, entered by an administrator as a week of holidays from the next working day on: every
    // parcel posted today is due after it, and some of the counts run over weekends too.
    let before = Days5::from_db(&app).await;
    let tet = enter_tet_week(&app, &admin, before.after(local_today(), 1)).await;
    let calendar = Days5::from_db(&app).await;
    for day in &tet {
        assert!(!calendar.is_working(*day));
    }

    // One dossier per route class, with and without an appointment slip.
    let mut cases = Vec::new();
    for &(class, plain, with_slip) in TRANSIT {
        for (appointment, n) in [(false, plain), (true, with_slip)] {
            let created = counter_dossier(&app, &keys.postal, class, appointment).await;
            let d = pick_up(&app, &keys.postal, &created).await;
            let code = created["code"].as_str().expect("code").to_owned();
            cases.push((code, class, appointment, n, d));
        }
    }

    // Inbound: J is the date of the pickup (the slip); due at the end of the n-th working day after J.
    for (code, class, appointment, n, d) in &cases {
        let j = event_at(d, "picked_up").date_naive();
        let due = calendar.after(j, *n);
        let inbound = leg_of(d, "inbound");
        assert_eq!(inbound["route_class"], *class);
        assert_eq!(
            parse_time(&inbound["due_at"]),
            end_of(due),
            "{code}: {class}, appointment {appointment}, J {j}"
        );
        assert!(calendar.is_working(due));
        if j < tet[0] {
            assert!(due > tet[6], "{class} {appointment}: due {due} inside Tết");
        }
    }
    // The slip doubles every count.
    let due_of = |class: &str, appointment: bool| {
        cases
            .iter()
            .find(|c| c.1 == class && c.2 == appointment)
            .map(|c| parse_time(&leg_of(&c.4, "inbound")["due_at"]))
            .expect("case")
    };
    for &(class, _, _) in TRANSIT {
        assert!(due_of(class, true) > due_of(class, false), "{class}");
    }

    // The agency signs one handover record for all of them: each is filed now, and the agency's result
    // is due one working day (the procedure's processing time) after the desk date of the filing.
    let codes: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
    let record = draft(&app, &keys.postal, "to_agency", &codes).await;
    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    for code in &codes {
        let d = dossier_view(&app, code, &keys.agency).await;
        assert_eq!(d["status"], "received_by_agency");
        let filed = parse_time(&d["filed_at"]);
        let due = calendar.after(calendar.desk_date(filed), 1);
        assert_eq!(parse_time(&d["result_due_at"]), end_of(due), "{code}");
        assert_eq!(leg_of(&d, "inbound")["status"], "handed_over");
        assert_eq!(d["overdue"], false);
        act(
            &app,
            &keys.agency,
            code,
            "verdict",
            json!({"decision": "accepted"}),
        )
        .await;
        act(&app, &keys.agency, code, "result", json!({})).await;
    }

    // Outbound: J is the date the post took the result (the `to_post` record signed).
    let record = draft(&app, &keys.agency, "to_post", &codes).await;
    confirm(&app, &keys.postal, record["id"].as_i64().expect("id")).await;
    for (code, class, appointment, n, _) in &cases {
        let d = dossier_view(&app, code, &keys.postal).await;
        let j = event_at(&d, "handed_to_post").date_naive();
        let outbound = leg_of(&d, "outbound");
        assert_eq!(outbound["route_class"], *class);
        assert_eq!(outbound["status"], "picked_up");
        assert_eq!(
            parse_time(&outbound["due_at"]),
            end_of(calendar.after(j, *n)),
            "{code}: {class}, appointment {appointment}, J {j}"
        );
    }
}

#[tokio::test]
async fn a_desk_receipt_counts_from_today_before_three_in_the_afternoon_and_from_the_next_working_day_after()
 {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let before = Days5::from_db(&app).await;
    let tet = enter_tet_week(&app, &admin, before.after(local_today(), 1)).await;
    let calendar = Days5::from_db(&app).await;

    // The citizen filed at the desk: a `return` dossier registered by the agency's key, filed at once.
    // 1.001193 takes 1 working day, 2.001263 takes 30.
    for (procedure, days) in [("1.001193", 1), ("2.001263", 30)] {
        let mut body = tests::valid_request();
        body["procedure_code"] = procedure.into();
        body["service_mode"] = "return".into();
        body["return_address"] = body["pickup_address"].clone();
        body["pickup_address"] = Value::Null;
        let created = json_of(
            post(&app, "/api/v1/dossiers", Some(&keys.agency), &body).await,
            201,
        )
        .await;
        assert_eq!(created["status"], "awaiting_result");
        let code = created["code"].as_str().expect("code");
        let d = dossier_view(&app, code, &keys.agency).await;
        let filed = parse_time(&d["filed_at"]);
        assert_eq!(filed, parse_time(&created["created_at"]));

        // Decree 61 Art. 18: received on a working day up to 15:00:00, it counts from that day; after
        // 15:00 (or on a day off) from the next working day — Tết included.
        let local = filed.with_timezone(&vn());
        let cutoff = chrono::NaiveTime::from_hms_opt(15, 0, 0).expect("15:00");
        let counted_from = if calendar.is_working(local.date_naive()) && local.time() <= cutoff {
            local.date_naive()
        } else {
            calendar.after(local.date_naive(), 1)
        };
        assert_eq!(calendar.desk_date(filed), counted_from);
        let due = calendar.after(counted_from, days);
        assert_eq!(
            parse_time(&d["result_due_at"]),
            end_of(due),
            "{procedure} filed {local}"
        );
        assert!(due > tet[6], "{procedure}: due {due} must fall after Tết");
        // No parcel moves before the result exists.
        assert!(leg_of(&d, "outbound")["due_at"].is_null());
        assert_eq!(d["overdue"], false);
    }

    // The rule itself, at both sides of 15:00 on the last working day before this Tết week (the
    // service's own calendar, built from the same holiday rows).
    let cal = domain::ops::reference::working_calendar(&app.store.read)
        .await
        .expect("calendar");
    let eve = (1..=7)
        .map(|i| tet[0] - Days::new(i))
        .find(|d| calendar.is_working(*d))
        .expect("a working day before Tết");
    let at = |h: u32, m: u32, s: u32| {
        vn().from_local_datetime(&eve.and_hms_opt(h, m, s).expect("time"))
            .single()
            .expect("instant")
            .with_timezone(&Utc)
    };
    // Received "after 15:00" moves; 15:00:00 itself is not after it.
    assert_eq!(domain::sla::desk_receipt_date(&cal, at(14, 59, 59)), eve);
    assert_eq!(domain::sla::desk_receipt_date(&cal, at(15, 0, 0)), eve);
    assert_eq!(
        domain::sla::desk_receipt_date(&cal, at(15, 0, 1)),
        calendar.after(eve, 1)
    );
    assert!(calendar.after(eve, 1) > tet[6]);
    assert_eq!(
        domain::sla::result_due_date(&cal, at(15, 0, 0), 1),
        calendar.after(eve, 1)
    );
    assert_eq!(
        domain::sla::result_due_date(&cal, at(15, 0, 1), 1),
        calendar.after(calendar.after(eve, 1), 1)
    );
}

#[tokio::test]
async fn each_missed_deadline_raises_one_overdue_event_however_many_sweeps_run() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;

    // Nothing is late yet: the sweep finds nothing.
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code").to_owned();
    pick_up(&app, &keys.postal, &created).await;
    let other = app.create_valid_dossier().await;
    pick_up(&app, &keys.postal, &other).await;
    let on_time = other["code"].as_str().expect("code").to_owned();
    assert_eq!(sweep_until_idle(&app).await, 0);

    // 1. The inbound parcel's deadline passes while it is on its way: one event, whatever the sweeps.
    expire_leg(&app, &code, LegDirection::Inbound).await;
    let d = dossier_view(&app, &code, &keys.postal).await;
    assert_eq!(d["overdue"], true, "the view says so before any sweep");
    assert_eq!(sweep_until_idle(&app).await, 1);
    for _ in 0..3 {
        assert_eq!(sweep_until_idle(&app).await, 0);
    }
    let d = dossier_view(&app, &code, &keys.agency).await;
    let events = overdue_events(&d);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["source"], "system");
    assert_eq!(events[0]["actor"], "system");
    let note = events[0]["note"].as_str().expect("note");
    assert!(note.starts_with("inbound parcel"), "{note}");
    assert!(note.contains("delivery due"), "{note}");
    assert_eq!(d["status"], "picked_up", "raising changes no status");

    // 2. At the agency: the inbound parcel is done; the agency's own deadline passes.
    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    let d = dossier_view(&app, &code, &keys.agency).await;
    assert_eq!(
        d["overdue"], false,
        "the parcel arrived; the agency's time runs"
    );
    assert_eq!(sweep_until_idle(&app).await, 0);
    expire_result(&app, &code).await;
    assert_eq!(
        dossier_view(&app, &code, &keys.agency).await["overdue"],
        true
    );
    assert_eq!(sweep_until_idle(&app).await, 1);
    assert_eq!(sweep_until_idle(&app).await, 0);
    let d = dossier_view(&app, &code, &keys.agency).await;
    let events = overdue_events(&d);
    assert_eq!(events.len(), 2);
    let note = events[1]["note"].as_str().expect("note");
    assert!(note.starts_with("agency result due"), "{note}");
    assert!(events[1]["status"].is_null());

    // Still late while processing: no second event for the same deadline.
    act(
        &app,
        &keys.agency,
        &code,
        "verdict",
        json!({"decision": "accepted"}),
    )
    .await;
    assert_eq!(sweep_until_idle(&app).await, 0);
    assert_eq!(
        overdue_events(&dossier_view(&app, &code, &keys.agency).await).len(),
        2
    );

    // The agency sets a new date on an appointment slip: a new deadline, which may pass in its turn —
    // but not while the agency waits for supplements: its clock stands still then.
    let d = act(
        &app,
        &keys.agency,
        &code,
        "verdict",
        json!({"decision": "supplement_requested", "reason": "Thiếu giấy tờ",
               "missing_documents": ["Giấy chứng sinh"],
               "result_due_date": local_today().to_string()}),
    )
    .await;
    assert_eq!(d["overdue"], false);
    assert_eq!(sweep_until_idle(&app).await, 0);
    expire_result(&app, &code).await;
    assert_eq!(sweep_until_idle(&app).await, 0);
    assert_eq!(
        dossier_view(&app, &code, &keys.agency).await["overdue"],
        false
    );
    // The papers reach the desk and the agency accepts: its processing time counts anew from then,
    // so the date that passed while it waited no longer stands …
    act(
        &app,
        &keys.agency,
        &code,
        "verdict",
        json!({"decision": "accepted"}),
    )
    .await;
    assert_eq!(sweep_until_idle(&app).await, 0);
    assert_eq!(
        dossier_view(&app, &code, &keys.agency).await["overdue"],
        false
    );
    // … and the new one may pass in its turn.
    expire_result(&app, &code).await;
    assert_eq!(sweep_until_idle(&app).await, 1);
    assert_eq!(sweep_until_idle(&app).await, 0);
    assert_eq!(
        overdue_events(&dossier_view(&app, &code, &keys.agency).await).len(),
        3
    );

    // The result is ready: the agency's deadline no longer matters.
    act(&app, &keys.agency, &code, "result", json!({})).await;
    let d = dossier_view(&app, &code, &keys.agency).await;
    assert_eq!(d["overdue"], false);

    // 3. The outbound parcel's deadline passes before delivery: one more event, naming it.
    let record = draft(&app, &keys.agency, "to_post", &[&code]).await;
    confirm(&app, &keys.postal, record["id"].as_i64().expect("id")).await;
    assert_eq!(sweep_until_idle(&app).await, 0);
    expire_leg(&app, &code, LegDirection::Outbound).await;
    assert_eq!(sweep_until_idle(&app).await, 1);
    for _ in 0..3 {
        assert_eq!(sweep_until_idle(&app).await, 0);
    }
    let d = dossier_view(&app, &code, &keys.postal).await;
    let events = overdue_events(&d);
    assert_eq!(events.len(), 4);
    assert!(
        events[3]["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("outbound parcel")),
        "{events:?}"
    );
    assert_eq!(d["overdue"], true);

    // A dossier nobody was late on has no overdue event.
    let d = dossier_view(&app, &on_time, &keys.postal).await;
    assert!(overdue_events(&d).is_empty());
    assert_eq!(d["overdue"], false);
}

#[tokio::test]
async fn a_deadline_passed_after_the_work_was_done_raises_nothing() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code").to_owned();
    pick_up(&app, &keys.postal, &created).await;
    let record = draft(&app, &keys.postal, "to_agency", &[&code]).await;
    confirm(&app, &keys.agency, record["id"].as_i64().expect("id")).await;
    act(
        &app,
        &keys.agency,
        &code,
        "verdict",
        json!({"decision": "accepted"}),
    )
    .await;
    act(&app, &keys.agency, &code, "result", json!({})).await;

    // The parcel was handed over and the result is ready: both due times lie in the past now.
    expire_leg(&app, &code, LegDirection::Inbound).await;
    expire_result(&app, &code).await;
    assert_eq!(sweep_until_idle(&app).await, 0);
    let d = dossier_view(&app, &code, &keys.agency).await;
    assert!(overdue_events(&d).is_empty());
    assert_eq!(d["overdue"], false);
}

#[tokio::test]
async fn concurrent_sweeps_raise_each_deadline_exactly_once() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let mut codes = Vec::new();
    for _ in 0..12 {
        let created = app.create_valid_dossier().await;
        pick_up(&app, &keys.postal, &created).await;
        codes.push(created["code"].as_str().expect("code").to_owned());
    }
    for code in &codes {
        expire_leg(&app, code, LegDirection::Inbound).await;
    }
    let now = domain::clock::now();
    // Four sweeps at once, each taking small batches so that they meet on the same rows.
    let sweeps = futures_util::future::join_all(
        (0..4).map(|_| domain::ops::deadlines::sweep(&app.store, now, 5)),
    )
    .await;
    let mut raised = 0;
    for s in sweeps {
        raised += s.expect("sweep").legs;
    }
    // Whatever the first round left is raised by later sweeps; nothing is raised twice.
    loop {
        let more = domain::ops::deadlines::sweep(&app.store, now, 5)
            .await
            .expect("sweep")
            .legs;
        if more == 0 {
            break;
        }
        raised += more;
    }
    assert_eq!(raised, codes.len());
    for code in &codes {
        let d = dossier_view(&app, code, &keys.postal).await;
        assert_eq!(overdue_events(&d).len(), 1, "{code}");
    }
    assert_eq!(sweep_until_idle(&app).await, 0);
}
