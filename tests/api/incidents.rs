//! Incidents and complaints (Decision 45 Art. 14; Circular 17 Art. 8): a lost, damaged or delayed
//! parcel is recorded by staff who may see the dossier, joins its timeline and its `incidents`, and is
//! e-mailed to the citizen and the agency; a citizen's complaint gets an answer deadline, is listed for
//! administrators and the dossier's post office (flagged `overdue` once the deadline passes), and its
//! answer closes it and is e-mailed to the citizen.

use entity::enums::Role;
use entity::{agency, complaint, incident, outbox};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;

use super::postal::{
    AGENCY, Keys, OTHER_AGENCY, OTHER_OFFICE, dossier, expect_error, get, json_of, picked_up, post,
};

/// The e-mails waiting in the outbox, as their payloads.
async fn emails(app: &TestApp) -> Vec<Value> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("email"))
        .all(&app.store.read)
        .await
        .expect("outbox")
        .into_iter()
        .map(|r| r.payload)
        .collect()
}

#[tokio::test]
async fn an_incident_is_recorded_on_the_timeline_and_told_to_the_citizen_and_the_agency() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    agency::Entity::update_many()
        .col_expr(
            agency::Column::Email,
            Expr::value("motcua@hoankiem.example.vn"),
        )
        .filter(agency::Column::Code.eq(AGENCY))
        .exec(&app.store.write)
        .await
        .expect("agency e-mail");
    let (code, _) = picked_up(&app, &keys.postal).await;
    let path = format!("/api/v1/dossiers/{code}/incidents");
    let before = emails(&app).await.len();

    // Refusals store nothing: bad fields, a parcel the dossier does not have yet being fine but an
    // unknown kind not, a stranger's key, another agency, no key.
    expect_error(
        post(
            &app,
            &path,
            Some(&keys.postal),
            &json!({"kind": "stolen", "leg": "inbound", "compensation_vnd": -5}),
        )
        .await,
        422,
        "validation_failed",
        &["kind", "compensation_vnd"],
    )
    .await;
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    let other_agency = app.key(Role::Agency, None, Some(OTHER_AGENCY)).await;
    let body = json!({"kind": "damaged", "leg": "inbound", "note": "Bì hồ sơ bị ướt", "compensation_vnd": 50000});
    for key in [&other_office, &other_agency] {
        expect_error(
            post(&app, &path, Some(key), &body).await,
            403,
            "forbidden",
            &[],
        )
        .await;
    }
    expect_error(
        post(&app, &path, None, &body).await,
        401,
        "unauthorized",
        &[],
    )
    .await;
    let created = app.create_valid_dossier().await;
    let token = created["access_token"].as_str().expect("token");
    let own = format!(
        "/api/v1/dossiers/{}/incidents",
        created["code"].as_str().expect("code")
    );
    expect_error(
        post(&app, &own, Some(token), &body).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    let stored = incident::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(stored, 0);
    assert_eq!(emails(&app).await.len(), before);

    // Recorded by the office, then by the agency.
    let recorded = json_of(post(&app, &path, Some(&keys.postal), &body).await, 201).await;
    assert_eq!(recorded["kind"], "damaged");
    assert_eq!(recorded["leg"], "inbound");
    assert_eq!(recorded["compensation_vnd"], 50000);
    json_of(
        post(
            &app,
            &path,
            Some(&keys.agency),
            &json!({"kind": "delayed", "leg": "inbound"}),
        )
        .await,
        201,
    )
    .await;
    let d = dossier(&app, &code, &keys.postal).await;
    let incidents = d["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[0]["note"], "Bì hồ sơ bị ướt");
    let timeline = d["timeline"].as_array().expect("timeline");
    assert_eq!(
        timeline.iter().filter(|e| e["kind"] == "incident").count(),
        2
    );

    let mails = emails(&app).await;
    let incident_mails: Vec<&Value> = mails
        .iter()
        .filter(|m| m["notice"]["template"] == "incident")
        .collect();
    assert_eq!(incident_mails.len(), 4, "citizen and agency, twice");
    let damaged: Vec<&&Value> = incident_mails
        .iter()
        .filter(|m| m["notice"]["kind"] == "damaged")
        .collect();
    assert!(damaged.iter().any(|m| m["to"] == "an@example.vn"));
    assert!(
        damaged
            .iter()
            .any(|m| m["to"] == "motcua@hoankiem.example.vn")
    );
    assert!(
        damaged
            .iter()
            .all(|m| m["notice"]["compensation_vnd"] == 50000)
    );
}

#[tokio::test]
async fn a_complaint_has_a_deadline_is_flagged_when_it_passes_and_its_answer_is_emailed() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let admin = app.key(Role::Admin, None, None).await;
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");
    let path = format!("/api/v1/dossiers/{code}/complaints");
    let text = "Nhân viên bưu chính đến muộn hai ngày so với lịch hẹn";

    // Refused: no text, a staff key, another dossier's token, no credentials. Nothing stored.
    expect_error(
        post(&app, &path, Some(token), &json!({"text": "  "})).await,
        422,
        "validation_failed",
        &["text"],
    )
    .await;
    expect_error(
        post(&app, &path, Some(&keys.postal), &json!({"text": text})).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    let stranger = app.create_valid_dossier().await;
    expect_error(
        post(
            &app,
            &path,
            stranger["access_token"].as_str(),
            &json!({"text": text}),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        post(&app, &path, None, &json!({"text": text})).await,
        401,
        "unauthorized",
        &[],
    )
    .await;
    assert_eq!(
        complaint::Entity::find()
            .count(&app.store.read)
            .await
            .expect("count"),
        0
    );

    let filed = json_of(
        post(&app, &path, Some(token), &json!({"text": text})).await,
        201,
    )
    .await;
    assert_eq!(filed["status"], "open");
    let id = filed["id"].as_i64().expect("id");
    let due =
        chrono::DateTime::parse_from_rfc3339(filed["due_at"].as_str().expect("due")).expect("time");
    // 15 working days: three weeks of five working days, less a weekend at most.
    assert!(
        due > chrono::Utc::now() + chrono::TimeDelta::days(18),
        "{due}"
    );
    assert!(
        due < chrono::Utc::now() + chrono::TimeDelta::days(40),
        "{due}"
    );

    // Listed for administrators and the dossier's office, not for another office or an agency.
    for key in [&admin, &keys.postal] {
        let list = json_of(
            get(&app, "/api/v1/complaints?status=open", Some(key)).await,
            200,
        )
        .await;
        let items = list["complaints"].as_array().expect("complaints");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], id);
        assert_eq!(items[0]["dossier_code"], code);
        assert_eq!(items[0]["overdue"], false);
    }
    let list = json_of(
        get(&app, "/api/v1/complaints?status=open", Some(&other_office)).await,
        200,
    )
    .await;
    assert_eq!(list["complaints"], json!([]));
    expect_error(
        get(&app, "/api/v1/complaints", Some(&keys.agency)).await,
        403,
        "forbidden",
        &[],
    )
    .await;

    // Past its deadline, it is flagged.
    complaint::Entity::update_many()
        .col_expr(
            complaint::Column::DueAt,
            Expr::value(chrono::Utc::now() - chrono::TimeDelta::hours(1)),
        )
        .filter(complaint::Column::Id.eq(id))
        .exec(&app.store.write)
        .await
        .expect("backdate");
    let list = json_of(
        get(&app, "/api/v1/complaints?status=open", Some(&admin)).await,
        200,
    )
    .await;
    assert_eq!(list["complaints"][0]["overdue"], true);

    // Another office may not answer it; an empty answer is refused; nothing is e-mailed.
    let answer = format!("/api/v1/complaints/{id}/answer");
    let reply = "Bưu điện xin lỗi Ông/Bà và đã nhắc nhở nhân viên";
    expect_error(
        post(&app, &answer, Some(&other_office), &json!({"text": reply})).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        post(&app, &answer, Some(&keys.postal), &json!({})).await,
        422,
        "validation_failed",
        &["text"],
    )
    .await;
    let before = emails(&app).await;
    assert!(
        !before
            .iter()
            .any(|m| m["notice"]["template"] == "complaint_answered")
    );

    let answered = json_of(
        post(&app, &answer, Some(&keys.postal), &json!({"text": reply})).await,
        200,
    )
    .await;
    assert_eq!(answered["status"], "answered");
    assert_eq!(answered["overdue"], false);
    let mails = emails(&app).await;
    let sent: Vec<&Value> = mails
        .iter()
        .filter(|m| m["notice"]["template"] == "complaint_answered")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["to"], "an@example.vn");
    assert_eq!(sent[0]["notice"]["answer"], reply);
    let list = json_of(
        get(&app, "/api/v1/complaints?status=open", Some(&admin)).await,
        200,
    )
    .await;
    assert_eq!(list["complaints"], json!([]));
    // Answered once only.
    expect_error(
        post(&app, &answer, Some(&admin), &json!({"text": reply})).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
}

#[tokio::test]
async fn three_complaints_about_a_dossier_may_wait_at_once_and_every_complaint_is_listed_page_by_page()
 {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let mut filed = Vec::new();
    for _ in 0..2 {
        let created = app.create_valid_dossier().await;
        let code = created["code"].as_str().expect("code").to_owned();
        let token = created["access_token"].as_str().expect("token").to_owned();
        let path = format!("/api/v1/dossiers/{code}/complaints");
        for n in 0..3 {
            let text = format!("Khiếu nại số {n}: chưa thấy ai đến lấy hồ sơ");
            let res = json_of(
                post(&app, &path, Some(&token), &json!({"text": text})).await,
                201,
            )
            .await;
            filed.push(res["id"].as_i64().expect("id"));
        }
        // A fourth while three wait: refused, nothing stored.
        expect_error(
            post(
                &app,
                &path,
                Some(&token),
                &json!({"text": "Thêm một khiếu nại"}),
            )
            .await,
            409,
            "conflict",
            &[],
        )
        .await;
    }
    assert_eq!(
        complaint::Entity::find()
            .count(&app.store.read)
            .await
            .expect("count"),
        6
    );
    // Once one is answered, the citizen may file again.
    let answer = format!("/api/v1/complaints/{}/answer", filed[0]);
    json_of(
        post(&app, &answer, Some(&admin), &json!({"text": "Đã xử lý"})).await,
        200,
    )
    .await;

    // Two at a time: three pages reach all six, oldest first, and the last says so.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let path = match &after {
            Some(cursor) => format!("/api/v1/complaints?limit=2&after={cursor}"),
            None => "/api/v1/complaints?limit=2".to_owned(),
        };
        let page = json_of(get(&app, &path, Some(&admin)).await, 200).await;
        let items = page["complaints"].as_array().expect("complaints");
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|c| c["id"].as_i64().expect("id")));
        match page["next_cursor"].as_str() {
            Some(cursor) => after = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, filed);
    for bad in ["limit=0", "limit=501", "after=abc"] {
        expect_error(
            get(&app, &format!("/api/v1/complaints?{bad}"), Some(&admin)).await,
            400,
            "bad_request",
            &[],
        )
        .await;
    }
}
