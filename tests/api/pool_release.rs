//! A pooled database connection goes back to its pool clean however its user let go of it: a query
//! dropped before its answer came, a transaction dropped without a commit. (The vendored sqlx-core
//! settles the connection where it is dropped, and in a task of its own when there is an answer
//! still to wait for.)

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Statement, TransactionTrait};
use tests::EmptyDatabase;

/// A query that takes about a second on either database.
fn slow_query(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "SELECT pg_sleep(1)",
        _ => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             SELECT max(x) FROM c"
        }
    }
}

async fn number(db: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = tokio::time::timeout(
        Duration::from_secs(30),
        db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)),
    )
    .await
    .expect("an answer in time")
    .expect(sql)
    .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a number")
}

#[tokio::test]
async fn a_connection_let_go_mid_query_or_mid_transaction_comes_back_clean() {
    let empty = EmptyDatabase::new().await;
    // One connection: whoever asks next gets the one just let go of.
    let mut options = ConnectOptions::new(empty.url.clone());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let db = Database::connect(options).await.expect("connect");
    let backend = db.get_database_backend();
    db.execute_unprepared("CREATE TABLE kept (x BIGINT)")
        .await
        .expect("table");

    for _ in 0..3 {
        // A query dropped while the database is still working on it.
        let dropped = tokio::time::timeout(
            Duration::from_millis(100),
            db.execute_unprepared(slow_query(backend)),
        )
        .await;
        assert!(dropped.is_err(), "the slow query was still running");
        // The next query gets its own answer, not the dropped one's.
        assert_eq!(number(&db, "SELECT CAST(41 + 1 AS BIGINT)").await, 42);

        // A transaction dropped without a commit is rolled back.
        let txn = db.begin().await.expect("begin");
        txn.execute_unprepared("INSERT INTO kept (x) VALUES (1)")
            .await
            .expect("insert");
        drop(txn);
        assert_eq!(number(&db, "SELECT count(*) FROM kept").await, 0);
    }
    // And the connection still commits.
    let txn = db.begin().await.expect("begin");
    txn.execute_unprepared("INSERT INTO kept (x) VALUES (7)")
        .await
        .expect("insert");
    txn.commit().await.expect("commit");
    assert_eq!(
        number(&db, "SELECT CAST(sum(x) AS BIGINT) FROM kept").await,
        7
    );
    db.close().await.expect("close");
}
