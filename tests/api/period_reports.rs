//! Reports sent on time (Circular 17 Art. 13): after a quarter ends, each agency (at its e-mail) and
//! the operators' alert address get the period's summary with the CSV attached — exactly once per
//! period and agency, even with two workers at once and a worker run again later.

use entity::{agency, outbox, period_report};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use tests::TestApp;
use worker::StepOutcome;

use super::postal::AGENCY;

const ALERTS: &str = "ops@dossier.example.vn";

async fn report_mails(app: &TestApp) -> Vec<Value> {
    outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("email"))
        .all(&app.store.read)
        .await
        .expect("outbox")
        .into_iter()
        .map(|r| r.payload)
        .filter(|p| p["notice"]["template"] == "period_report")
        .collect()
}

#[tokio::test]
async fn each_agency_gets_the_report_of_the_period_just_ended_exactly_once() {
    let app = TestApp::spawn().await;
    agency::Entity::update_many()
        .col_expr(
            agency::Column::Email,
            Expr::value("motcua@hoankiem.example.vn"),
        )
        .filter(agency::Column::Code.eq(AGENCY))
        .exec(&app.store.write)
        .await
        .expect("agency e-mail");
    app.create_valid_dossier().await;
    let agencies = agency::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count") as usize;
    let now = chrono::Utc::now();
    let periods = domain::ops::period_reports::periods_due(domain::sla::local_date(now)).len();

    // Two workers at once.
    let (a, b) = tokio::join!(
        worker::period_reports::step(&app.store, Some(ALERTS), now),
        worker::period_reports::step(&app.store, Some(ALERTS), now),
    );
    assert!(
        a == StepOutcome::Worked || b == StepOutcome::Worked,
        "{a:?} {b:?}"
    );
    // And again after a restart.
    assert_eq!(
        worker::period_reports::step(&app.store, Some(ALERTS), now).await,
        StepOutcome::Idle
    );

    let rows = period_report::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count") as usize;
    assert_eq!(rows, periods * agencies);
    let mails = report_mails(&app).await;
    // The alert address gets every agency's; the one agency with an address gets its own.
    assert_eq!(mails.len(), periods * (agencies + 1));
    let to_agency: Vec<&Value> = mails
        .iter()
        .filter(|m| m["to"] == "motcua@hoankiem.example.vn")
        .collect();
    assert_eq!(to_agency.len(), periods);
    for m in &to_agency {
        assert_eq!(m["notice"]["agency_code"], AGENCY);
        let csv = m["notice"]["csv"].as_str().expect("csv");
        assert!(csv.contains("by_status,pickup_requested,"), "{csv}");
        assert!(
            m["notice"]["csv_file_name"]
                .as_str()
                .is_some_and(|n| n.ends_with(".csv"))
        );
    }
    assert_eq!(
        mails.iter().filter(|m| m["to"] == ALERTS).count(),
        periods * agencies
    );
}
