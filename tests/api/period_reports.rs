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

/// Makes the database refuse to record `agency`'s period reports (a trigger that raises), until
/// [`accept_reports`].
async fn refuse_reports_of(app: &TestApp, agency: &str) {
    use sea_orm::ConnectionTrait;
    let statements = if tests::test_database_url().is_some() {
        vec![
            format!(
                "CREATE FUNCTION refuse_report() RETURNS trigger AS $$ BEGIN \
                 IF NEW.agency_code = '{agency}' THEN RAISE EXCEPTION 'report refused'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER refuse_report BEFORE INSERT ON period_reports \
             FOR EACH ROW EXECUTE FUNCTION refuse_report()"
                .to_owned(),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER refuse_report BEFORE INSERT ON period_reports \
             WHEN NEW.agency_code = '{agency}' BEGIN SELECT RAISE(ABORT, 'report refused'); END"
        )]
    };
    for sql in statements {
        app.store
            .write
            .execute_unprepared(&sql)
            .await
            .expect("install the trigger");
    }
}

async fn accept_reports(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    let sql = if tests::test_database_url().is_some() {
        "DROP TRIGGER refuse_report ON period_reports"
    } else {
        "DROP TRIGGER refuse_report"
    };
    app.store
        .write
        .execute_unprepared(sql)
        .await
        .expect("drop the trigger");
}

async fn reports_of(app: &TestApp) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = period_report::Entity::find()
        .all(&app.store.read)
        .await
        .expect("period reports")
        .into_iter()
        .map(|r| (r.period, r.agency_code))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn an_agency_whose_report_fails_holds_back_no_other_and_gets_its_own_on_a_later_round() {
    let app = TestApp::spawn().await;
    let mut codes: Vec<String> = agency::Entity::find()
        .all(&app.store.read)
        .await
        .expect("agencies")
        .into_iter()
        .map(|a| a.code)
        .collect();
    codes.sort();
    assert!(codes.len() >= 2, "the test needs two agencies: {codes:?}");
    let now = chrono::Utc::now();
    let periods: Vec<String> =
        domain::ops::period_reports::periods_due(domain::sla::local_date(now))
            .into_iter()
            .filter_map(|p| p.preset)
            .collect();
    let pairs = |codes: &[String]| {
        let mut all: Vec<(String, String)> = periods
            .iter()
            .flat_map(|p| codes.iter().map(move |c| (p.clone(), c.clone())))
            .collect();
        all.sort();
        all
    };
    // The first agency's reports cannot be recorded.
    let failing = codes[0].clone();
    refuse_reports_of(&app, &failing).await;
    assert_eq!(
        worker::period_reports::step(&app.store, Some(ALERTS), now).await,
        StepOutcome::Worked
    );
    assert_eq!(reports_of(&app).await, pairs(&codes[1..]));
    assert_eq!(
        report_mails(&app).await.len(),
        periods.len() * (codes.len() - 1)
    );
    // Still refused: nothing new, nothing sent twice.
    assert_eq!(
        worker::period_reports::step(&app.store, Some(ALERTS), now).await,
        StepOutcome::Idle
    );
    assert_eq!(reports_of(&app).await, pairs(&codes[1..]));

    // The fault gone, a later round sends the failed agency's reports, and only those.
    accept_reports(&app).await;
    assert_eq!(
        worker::period_reports::step(&app.store, Some(ALERTS), now).await,
        StepOutcome::Worked
    );
    assert_eq!(reports_of(&app).await, pairs(&codes));
    let mails = report_mails(&app).await;
    assert_eq!(mails.len(), periods.len() * codes.len());
    for code in &codes {
        assert_eq!(
            mails
                .iter()
                .filter(|m| m["notice"]["agency_code"] == code.as_str())
                .count(),
            periods.len(),
            "agency {code}'s reports not sent exactly once"
        );
    }
}
