//! The agency's desk: its worklist (only its own dossiers, filtered by status and by passed deadlines,
//! paged with a stable cursor), its rulings (supplements naming the missing documents, refusals with
//! reasons travelling back as results), and a `send` dossier's result collected in person — and that an
//! agency key can do none of it to another agency's dossiers.

use std::collections::{HashMap, HashSet};

use chrono::{TimeDelta, Utc};
use entity::enums::{LegDirection, Role};
use entity::{dossier, leg, outbox};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;

use super::postal::{
    AGENCY, Keys, OTHER_AGENCY, confirm, dossier, draft, expect_error, get, json_of, kinds,
    picked_up, post,
};

/// Another agency that handles the example procedure and is served by the same post office.
const NEIGHBOUR: &str = "UBND-P-BADINH";

/// A dossier picked up and handed to the agency by a signed record: `received_by_agency`.
async fn received(app: &TestApp, keys: &Keys) -> String {
    let (code, _) = picked_up(app, &keys.postal).await;
    let record = draft(app, &keys.postal, "to_agency", &[&code]).await;
    confirm(app, &keys.agency, record["id"].as_i64().expect("id")).await;
    code
}

/// A `send` dossier (the citizen collects the result) at the agency: `received_by_agency`.
async fn received_send_only(app: &TestApp, keys: &Keys) -> String {
    let mut body = tests::valid_request();
    body["service_mode"] = "send".into();
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

/// `POST /api/v1/dossiers/{code}/{action}`.
async fn act(
    app: &TestApp,
    bearer: Option<&str>,
    code: &str,
    action: &str,
    body: &Value,
) -> reqwest::Response {
    post(
        app,
        &format!("/api/v1/dossiers/{code}/{action}"),
        bearer,
        body,
    )
    .await
}

/// Every page of the worklist at `query` (without `after`), in order; asserts each page's size.
async fn all_pages(app: &TestApp, bearer: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/api/v1/agency/dossiers?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(cursor) = &after {
            path.push_str(&format!("&after={cursor}"));
        }
        let page = json_of(get(app, &path, Some(bearer)).await, 200).await;
        let got = page["items"].as_array().expect("items").clone();
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(got.len(), limit, "only a full page has a next page");
                after = Some(cursor.to_owned());
            }
            None => return items,
        }
    }
    panic!("the worklist never ended");
}

fn codes(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["code"].as_str().expect("code").to_owned())
        .collect()
}

#[tokio::test]
async fn the_worklist_pages_through_every_dossier_of_the_agency_exactly_once() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;

    // 17 dossiers for the agency, 3 for its neighbour (same office).
    let mut ours = Vec::new();
    for _ in 0..17 {
        let created = app.create_valid_dossier().await;
        ours.push(created["code"].as_str().expect("code").to_owned());
    }
    let mut theirs = Vec::new();
    for _ in 0..3 {
        let mut body = tests::valid_request();
        body["agency_code"] = NEIGHBOUR.into();
        let created = json_of(app.post_dossier(&body).await, 201).await;
        theirs.push(created["code"].as_str().expect("code").to_owned());
    }
    // Two of ours move on, so that a status filter has something to choose.
    let at_agency = received(&app, &keys).await;
    ours.push(at_agency.clone());

    for limit in [1, 4, 5, 50] {
        let listed = codes(&all_pages(&app, &keys.agency, "", limit).await);
        let unique: HashSet<&String> = listed.iter().collect();
        assert_eq!(unique.len(), listed.len(), "limit {limit}: a dossier twice");
        assert_eq!(
            unique,
            ours.iter().collect::<HashSet<_>>(),
            "limit {limit}: exactly the agency's dossiers"
        );
    }
    // In registration order, with what the desk needs.
    let first = &all_pages(&app, &keys.agency, "", 50).await;
    assert_eq!(codes(first), ours);
    let item = first
        .iter()
        .find(|i| i["code"] == at_agency.as_str())
        .expect("listed");
    assert_eq!(item["status"], "received_by_agency");
    assert_eq!(item["service_mode"], "send_and_return");
    assert_eq!(item["procedure_code"], "1.001612");
    assert!(item["filed_at"].is_string());
    assert!(item["result_due_at"].is_string());
    assert_eq!(item["overdue"], false);
    let legs = item["legs"].as_array().expect("legs");
    assert_eq!(legs.len(), 2);
    assert_eq!(legs[0]["direction"], "inbound");
    assert_eq!(legs[0]["status"], "handed_over");
    assert!(legs[0]["item_code"].is_string());
    assert!(legs[0]["due_at"].is_string());
    let raw = item.to_string();
    assert!(
        !raw.contains("001090012345") && !raw.contains("0912345678"),
        "no personal data on the list: {raw}"
    );

    // A status filter, one status or a comma list.
    let listed = codes(&all_pages(&app, &keys.agency, "status=received_by_agency", 2).await);
    assert_eq!(listed, vec![at_agency.clone()]);
    let listed = codes(
        &all_pages(
            &app,
            &keys.agency,
            "status=received_by_agency,pickup_requested",
            3,
        )
        .await,
    );
    assert_eq!(listed.len(), ours.len());

    // Dossiers registered while a client pages arrive on a later page, and none comes twice.
    let page = json_of(
        get(&app, "/api/v1/agency/dossiers?limit=10", Some(&keys.agency)).await,
        200,
    )
    .await;
    let cursor = page["next_cursor"]
        .as_str()
        .expect("more to come")
        .to_owned();
    let late = app.create_valid_dossier().await;
    let mut seen = codes(page["items"].as_array().expect("items"));
    let mut after = Some(cursor);
    while let Some(cursor) = after {
        let next = json_of(
            get(
                &app,
                &format!("/api/v1/agency/dossiers?limit=10&after={cursor}"),
                Some(&keys.agency),
            )
            .await,
            200,
        )
        .await;
        seen.extend(codes(next["items"].as_array().expect("items")));
        after = next["next_cursor"].as_str().map(str::to_owned);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    assert_eq!(seen.len(), ours.len() + 1);
    assert_eq!(seen.last().map(String::as_str), late["code"].as_str());

    // The administrator names an agency, or sees every agency's.
    let admin = app.key(Role::Admin, None, None).await;
    let listed = codes(&all_pages(&app, &admin, &format!("agency={NEIGHBOUR}"), 2).await);
    assert_eq!(listed, theirs);
    let everything = codes(&all_pages(&app, &admin, "", 7).await);
    assert_eq!(everything.len(), ours.len() + theirs.len() + 1);
    expect_error(
        get(&app, "/api/v1/agency/dossiers?agency=NO-SUCH", Some(&admin)).await,
        404,
        "not_found",
        &[],
    )
    .await;
}

#[tokio::test]
async fn the_overdue_filter_splits_the_worklist_as_the_dossier_views_do() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let late_parcel = picked_up(&app, &keys.postal).await.0;
    let late_desk = received(&app, &keys).await;
    let on_time = received(&app, &keys).await;
    let waiting = app.create_valid_dossier().await["code"]
        .as_str()
        .expect("code")
        .to_owned();

    let past = Utc::now() - TimeDelta::hours(2);
    let id_of = |code: String| {
        let app = &app;
        async move {
            domain::ops::dossiers::find_by_code(&app.store.read, &code)
                .await
                .expect("read")
                .expect("dossier")
                .id
        }
    };
    leg::Entity::update_many()
        .col_expr(leg::Column::DueAt, Expr::value(past))
        .filter(leg::Column::DossierId.eq(id_of(late_parcel.clone()).await))
        .filter(leg::Column::Direction.eq(LegDirection::Inbound))
        .exec(&app.store.write)
        .await
        .expect("update");
    dossier::Entity::update_many()
        .col_expr(dossier::Column::ResultDueAt, Expr::value(past))
        .filter(dossier::Column::Id.eq(id_of(late_desk.clone()).await))
        .exec(&app.store.write)
        .await
        .expect("update");

    let late: HashSet<String> = codes(&all_pages(&app, &keys.agency, "overdue=true", 10).await)
        .into_iter()
        .collect();
    // One at a time, in registration order.
    assert_eq!(
        codes(&all_pages(&app, &keys.agency, "overdue=true", 1).await),
        vec![late_parcel.clone(), late_desk.clone()]
    );
    assert_eq!(
        codes(&all_pages(&app, &keys.agency, "overdue=false", 1).await),
        vec![on_time.clone(), waiting.clone()]
    );
    let fine: HashSet<String> = codes(&all_pages(&app, &keys.agency, "overdue=false", 10).await)
        .into_iter()
        .collect();
    assert_eq!(
        late,
        HashSet::from([late_parcel.clone(), late_desk.clone()])
    );
    assert_eq!(fine, HashSet::from([on_time.clone(), waiting.clone()]));
    for code in [&late_parcel, &late_desk, &on_time, &waiting] {
        let view = dossier(&app, code, &keys.agency).await;
        assert_eq!(view["overdue"], late.contains(code.as_str()), "{code}");
    }
    // Filters combine.
    let listed = codes(
        &all_pages(
            &app,
            &keys.agency,
            "overdue=true&status=received_by_agency",
            10,
        )
        .await,
    );
    assert_eq!(listed, vec![late_desk.clone()]);
    let all = all_pages(&app, &keys.agency, "", 10).await;
    let flags: HashMap<String, bool> = all
        .iter()
        .map(|i| {
            (
                i["code"].as_str().expect("code").to_owned(),
                i["overdue"].as_bool().expect("flag"),
            )
        })
        .collect();
    assert!(flags[&late_parcel]);
    assert!(flags[&late_desk]);
    assert!(!flags[&on_time]);
}

#[tokio::test]
async fn bad_worklist_parameters_are_a_bad_request_and_only_agency_staff_may_list() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    app.create_valid_dossier().await;
    for query in [
        "status=lost",
        "status=processing,lost",
        "overdue=yes",
        "overdue=1",
        "limit=0",
        "limit=201",
        "limit=ten",
        "limit=-3",
        "after=not-a-cursor",
        "after=MTIz",
    ] {
        let res = get(
            &app,
            &format!("/api/v1/agency/dossiers?{query}"),
            Some(&keys.agency),
        )
        .await;
        assert_eq!(res.status().as_u16(), 400, "{query}");
        let body: Value = res.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "bad_request", "{query}: {body}");
        assert!(body["error"]["message"].is_string());
    }
    // Empty values are no filter at all.
    let page = json_of(
        get(
            &app,
            "/api/v1/agency/dossiers?status=&overdue=&after=",
            Some(&keys.agency),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
    assert!(page["next_cursor"].is_null());

    expect_error(
        get(&app, "/api/v1/agency/dossiers", None).await,
        401,
        "unauthorized",
        &[],
    )
    .await;
    let created = app.create_valid_dossier().await;
    let citizen = created["access_token"].as_str().expect("token");
    for key in [keys.postal.as_str(), citizen] {
        expect_error(
            get(&app, "/api/v1/agency/dossiers", Some(key)).await,
            403,
            "forbidden",
            &[],
        )
        .await;
    }
}

#[tokio::test]
async fn an_agency_key_cannot_list_rule_on_or_close_another_agencys_dossiers() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let stranger = app.key(Role::Agency, None, Some(OTHER_AGENCY)).await;
    let code = received(&app, &keys).await;
    let send_only = received_send_only(&app, &keys).await;
    for c in [&code, &send_only] {
        act(
            &app,
            Some(&keys.agency),
            c,
            "verdict",
            &json!({"decision": "accepted"}),
        )
        .await;
        act(&app, Some(&keys.agency), c, "result", &json!({})).await;
    }
    let unruled = received(&app, &keys).await;
    let events_before = app.event_count().await;

    // Its worklist does not show them, and naming their agency is refused.
    let listed = all_pages(&app, &stranger, "", 50).await;
    assert!(listed.is_empty(), "{listed:?}");
    expect_error(
        get(
            &app,
            &format!("/api/v1/agency/dossiers?agency={AGENCY}"),
            Some(&stranger),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    // Naming its own agency is fine.
    json_of(
        get(
            &app,
            &format!("/api/v1/agency/dossiers?agency={OTHER_AGENCY}"),
            Some(&stranger),
        )
        .await,
        200,
    )
    .await;

    // It cannot rule, record a result, mark a collection, or read the dossier.
    for decision in [
        json!({"decision": "accepted"}),
        json!({"decision": "rejected", "reason": "Không thuộc thẩm quyền"}),
        json!({"decision": "supplement_requested", "reason": "Thiếu", "missing_documents": ["Giấy chứng sinh"]}),
    ] {
        expect_error(
            act(&app, Some(&stranger), &unruled, "verdict", &decision).await,
            403,
            "forbidden",
            &[],
        )
        .await;
    }
    expect_error(
        act(&app, Some(&stranger), &unruled, "result", &json!({})).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        act(&app, Some(&stranger), &send_only, "collected", &json!({})).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        app.get_dossier(&send_only, Some(&stranger)).await,
        403,
        "forbidden",
        &[],
    )
    .await;
    // Nor can the post office or the citizen act for the desk; an unknown code is not found.
    expect_error(
        act(
            &app,
            Some(&keys.postal),
            &send_only,
            "collected",
            &json!({}),
        )
        .await,
        403,
        "forbidden",
        &[],
    )
    .await;
    expect_error(
        act(&app, None, &send_only, "collected", &json!({})).await,
        401,
        "unauthorized",
        &[],
    )
    .await;
    expect_error(
        act(
            &app,
            Some(&keys.agency),
            "ZZZZ-ZZZZ",
            "collected",
            &json!({}),
        )
        .await,
        404,
        "not_found",
        &[],
    )
    .await;

    // Nothing changed.
    assert_eq!(app.event_count().await, events_before);
    assert_eq!(
        dossier(&app, &unruled, &keys.agency).await["status"],
        "received_by_agency"
    );
    assert_eq!(
        dossier(&app, &send_only, &keys.agency).await["status"],
        "result_ready"
    );
}

#[tokio::test]
async fn a_supplement_request_names_the_missing_documents_for_the_timeline_and_the_citizen() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let code = received(&app, &keys).await;

    // A reason is required, and the list only goes with a supplement request.
    expect_error(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "verdict",
            &json!({"decision": "supplement_requested", "missing_documents": ["Giấy chứng sinh"]}),
        )
        .await,
        422,
        "validation_failed",
        &["reason"],
    )
    .await;
    expect_error(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "verdict",
            &json!({"decision": "accepted", "missing_documents": ["Giấy chứng sinh"]}),
        )
        .await,
        422,
        "validation_failed",
        &["missing_documents"],
    )
    .await;
    expect_error(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "verdict",
            &json!({"decision": "supplement_requested", "reason": "Thiếu giấy tờ", "missing_documents": ["  "]}),
        )
        .await,
        422,
        "validation_failed",
        &["missing_documents[0]"],
    )
    .await;
    assert_eq!(
        dossier(&app, &code, &keys.agency).await["status"],
        "received_by_agency"
    );

    let d = json_of(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "verdict",
            &json!({
                "decision": "supplement_requested",
                "reason": "Bản sao chưa được chứng thực",
                "missing_documents": ["Giấy chứng sinh (bản chính)", "Sổ hộ khẩu"]
            }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "supplement_requested");
    let event = d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == "supplement_requested")
        .expect("event")
        .clone();
    let note = event["note"].as_str().expect("note");
    assert_eq!(
        note,
        "Giấy chứng sinh (bản chính); Sổ hộ khẩu — Bản sao chưa được chứng thực"
    );
    assert_eq!(event["source"], "api");

    // The citizen's e-mail waits in the outbox, written with the event, listing what to bring.
    let id = domain::ops::dossiers::find_by_code(&app.store.read, &code)
        .await
        .expect("read")
        .expect("dossier")
        .id;
    let mails: Vec<Value> = outbox::Entity::find()
        .filter(outbox::Column::DossierId.eq(id))
        .filter(outbox::Column::Kind.eq("email"))
        .all(&app.store.read)
        .await
        .expect("outbox")
        .into_iter()
        .map(|row| row.payload)
        .filter(|p| p["notice"]["template"] == "supplement_requested")
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["notice"]["items"], note);
    assert_eq!(mails[0]["recipient"], "citizen");

    // The citizen brings them: accepted for processing.
    let d = json_of(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "verdict",
            &json!({"decision": "accepted"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "processing");
    assert_eq!(d["outcome"], "accepted");
}

#[tokio::test]
async fn a_refusal_with_reasons_travels_back_as_a_result_with_outcome_rejected() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let code = received(&app, &keys).await;
    expect_error(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "verdict",
            &json!({"decision": "rejected"}),
        )
        .await,
        422,
        "validation_failed",
        &["reason"],
    )
    .await;
    let d = json_of(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "verdict",
            &json!({"decision": "rejected", "reason": "Hồ sơ không thuộc thẩm quyền giải quyết"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "rejected");
    assert_eq!(d["outcome"], "rejected");
    // A refused dossier is not accepted afterwards; its refusal is its result.
    expect_error(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "verdict",
            &json!({"decision": "accepted"}),
        )
        .await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    let d = json_of(
        act(
            &app,
            Some(&keys.agency),
            &code,
            "result",
            &json!({"note": "Văn bản trả lời từ chối"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d["status"], "result_ready");
    assert_eq!(d["outcome"], "rejected");
    let timeline = d["timeline"].as_array().expect("timeline");
    let rejected = timeline
        .iter()
        .find(|e| e["kind"] == "rejected")
        .expect("rejected event");
    assert_eq!(rejected["note"], "Hồ sơ không thuộc thẩm quyền giải quyết");
    assert_eq!(
        kinds(&d)[kinds(&d).len() - 2..],
        ["rejected".to_owned(), "result_ready".to_owned()]
    );
}

#[tokio::test]
async fn a_send_dossiers_result_is_collected_in_person_once_it_is_ready() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let code = received_send_only(&app, &keys).await;
    let collected = |bearer: &str| {
        let (app, code, bearer) = (&app, code.clone(), bearer.to_owned());
        async move {
            act(
                app,
                Some(&bearer),
                &code,
                "collected",
                &json!({"note": "Đã nhận tại bộ phận một cửa"}),
            )
            .await
        }
    };

    // Not before the result is ready.
    expect_error(
        collected(&keys.agency).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    act(
        &app,
        Some(&keys.agency),
        &code,
        "verdict",
        &json!({"decision": "accepted"}),
    )
    .await;
    expect_error(
        collected(&keys.agency).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    json_of(
        act(&app, Some(&keys.agency), &code, "result", &json!({})).await,
        200,
    )
    .await;
    let events_before = app.event_count().await;

    // A body that is not JSON is refused and changes nothing.
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/collected")))
        .bearer_auth(&keys.agency)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    expect_error(res, 400, "bad_request", &[]).await;
    assert_eq!(app.event_count().await, events_before);

    let d = json_of(collected(&keys.agency).await, 200).await;
    assert_eq!(d["status"], "collected_in_person");
    let event = d["timeline"]
        .as_array()
        .expect("timeline")
        .last()
        .expect("event")
        .clone();
    assert_eq!(event["kind"], "collected_in_person");
    assert_eq!(event["status"], "collected_in_person");
    assert_eq!(event["source"], "api");
    assert_eq!(event["note"], "Đã nhận tại bộ phận một cửa");
    assert_eq!(app.event_count().await, events_before + 1);
    // Once.
    expect_error(
        collected(&keys.agency).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
    assert_eq!(app.event_count().await, events_before + 1);

    // A dossier whose result the post carries home is not collected at the desk; nor is a return-only
    // dossier; a body-less request is fine.
    let home = received(&app, &keys).await;
    act(
        &app,
        Some(&keys.agency),
        &home,
        "verdict",
        &json!({"decision": "accepted"}),
    )
    .await;
    act(&app, Some(&keys.agency), &home, "result", &json!({})).await;
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{home}/collected")))
        .bearer_auth(&keys.agency)
        .send()
        .await
        .expect("request");
    expect_error(res, 409, "invalid_transition", &[]).await;
    let mut body = tests::valid_request();
    body["service_mode"] = "return".into();
    body["return_address"] = body["pickup_address"].clone();
    body["pickup_address"] = Value::Null;
    let desk = json_of(
        post(&app, "/api/v1/dossiers", Some(&keys.agency), &body).await,
        201,
    )
    .await;
    let desk = desk["code"].as_str().expect("code");
    act(&app, Some(&keys.agency), desk, "result", &json!({})).await;
    expect_error(
        act(&app, Some(&keys.agency), desk, "collected", &json!({})).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_agency_operations() {
    let app = TestApp::spawn().await;
    let spec = json_of(get(&app, "/openapi.json", None).await, 200).await;
    let paths = spec["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/agency/dossiers", "get"),
        ("/api/v1/dossiers/{code}/verdict", "post"),
        ("/api/v1/dossiers/{code}/result", "post"),
        ("/api/v1/dossiers/{code}/collected", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
    }
    let params: Vec<&str> = paths["/api/v1/agency/dossiers"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["status", "overdue", "limit", "after", "agency"] {
        assert!(params.contains(&name), "{name} in {params:?}");
    }
}
