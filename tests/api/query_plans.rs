//! The busiest reads use an index, whatever the table's size: the query plans of the statements that
//! find a dossier's parcels and timeline name no full scan of those tables.

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use tests::TestApp;

/// The plan of `sql` (with `values`) as text, with sequential scans ruled out where the planner allows it (on a
/// small table PostgreSQL would rightly prefer one).
async fn plan(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) -> String {
    // One connection for the setting and the question.
    let db = app.store.read.begin().await.expect("begin");
    let backend = db.get_database_backend();
    let explain = match backend {
        DbBackend::Postgres => {
            db.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .expect("set");
            format!("EXPLAIN {sql}")
        }
        _ => format!("EXPLAIN QUERY PLAN {sql}"),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, explain, values))
        .await
        .expect("explain");
    let lines: Vec<String> = rows
        .iter()
        .map(|row| {
            row.try_get::<String>("", "QUERY PLAN")
                .or_else(|_| row.try_get::<String>("", "detail"))
                .unwrap_or_default()
        })
        .collect();
    db.rollback().await.expect("rollback");
    lines.join("\n")
}

#[tokio::test]
async fn a_dossiers_parcels_and_timeline_are_read_through_an_index() {
    let app = TestApp::spawn().await;
    for (table, sql) in [
        (
            "legs",
            "SELECT id FROM legs WHERE dossier_id = 1 ORDER BY id",
        ),
        (
            "dossier_events",
            "SELECT id FROM dossier_events WHERE dossier_id = 1 ORDER BY at, id",
        ),
    ] {
        let plan = plan(&app, sql, Vec::new()).await;
        assert!(!plan.is_empty(), "no plan for {sql}");
        let full_scan = plan.lines().any(|l| {
            let l = l.trim_start_matches(|c: char| !c.is_alphabetic());
            l == format!("SCAN {table}")
                || l.starts_with(&format!("SCAN {table} "))
                || l.contains(&format!("Seq Scan on {table}"))
        });
        assert!(!full_scan, "{sql} reads all of {table}:\n{plan}");
    }
}

#[tokio::test]
async fn a_phones_open_requests_are_counted_through_their_index() {
    use sea_orm::QueryTrait;
    let app = TestApp::spawn().await;
    let backend = app.store.read.get_database_backend();
    let statement = domain::ops::dossiers::open_pickup_requests_of("0912345678").build(backend);
    let values = statement.values.map(|v| v.0).unwrap_or_default();
    let plan = plan(&app, &statement.sql, values).await;
    assert!(
        plan.contains("dossiers_open_by_phone"),
        "the count reads more than the phone's open requests:\n{plan}"
    );
}

#[tokio::test]
async fn a_phones_requests_of_the_last_day_are_counted_through_their_index() {
    use sea_orm::{PaginatorTrait, QuerySelect, QueryTrait};
    let app = TestApp::spawn().await;
    let backend = app.store.read.get_database_backend();
    let since = chrono::Utc::now() - chrono::TimeDelta::days(1);
    let statement = domain::ops::integrations::requests_for_phone_since("0912345678", since, 1_000)
        .select_only()
        .column(entity::dossier::Column::Id)
        .build(backend);
    let values = statement.values.map(|v| v.0).unwrap_or_default();
    let plan = plan(&app, &statement.sql, values).await;
    assert!(
        plan.contains("dossiers_phone_created"),
        "the count reads more than the phone's requests:\n{plan}"
    );
    // And the count itself runs.
    let n = domain::ops::integrations::requests_for_phone_since("0912345678", since, 1_000)
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_dossiers_open_complaints_are_counted_through_their_index() {
    let app = TestApp::spawn().await;
    let plan = plan(
        &app,
        "SELECT COUNT(*) FROM complaints WHERE dossier_id = 1 AND status = 'open'",
        Vec::new(),
    )
    .await;
    assert!(
        plan.contains("complaints_dossier_status"),
        "the count reads more than the dossier's complaints:\n{plan}"
    );
}
