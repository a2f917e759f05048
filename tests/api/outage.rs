//! A database that cannot be reached: the API answers 503 `unavailable` with `Retry-After` (never a
//! 500), stores nothing, and answers again by itself once the database is back.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use tests::{TestApp, test_database_url, valid_request};

/// Runs `sql` as the server's administrator (outside the app's own database).
async fn as_admin(sql: &str) {
    let server = test_database_url().expect("PostgreSQL");
    let admin = sea_orm::Database::connect(server.as_str())
        .await
        .expect("connect as admin");
    admin
        .execute_raw(Statement::from_string(
            admin.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect(sql);
    admin.close().await.ok();
}

#[tokio::test]
async fn while_postgresql_refuses_connections_requests_get_503_and_the_service_recovers_by_itself()
{
    if test_database_url().is_none() {
        eprintln!("note: the outage test needs PostgreSQL (TEST_DATABASE_URL); skipped on SQLite");
        return;
    }
    let app = TestApp::spawn().await;
    let created = app.post_dossier(&valid_request()).await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.expect("json");
    let code = created["code"].as_str().expect("code").to_owned();
    let track = || async {
        app.client
            .get(app.url(&format!("/api/v1/track/{code}")))
            .send()
            .await
            .expect("track")
    };
    assert_eq!(track().await.status(), 200);
    let before = app.dossier_count().await;
    let name = app
        .database_url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .expect("database name")
        .to_owned();

    // The database stops taking connections, and the open ones are cut.
    as_admin(&format!(
        r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS false"#
    ))
    .await;
    as_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let res = app.post_dossier(&valid_request()).await;
    assert_eq!(res.status(), 503);
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s > 0), "{retry_after:?}");
    let (error, _) = tests::error_of(res).await;
    assert_eq!(error, "unavailable");
    // The public tracking read, which goes to the driver without sea-orm, is answered alike.
    let res = track().await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(tests::error_of(res).await.0, "unavailable");

    // Back again: the same process answers within 5 s, and the refused request left nothing.
    as_admin(&format!(
        r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS true"#
    ))
    .await;
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = app.post_dossier(&valid_request()).await.status();
        if status == 201 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "still {status} 5 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.dossier_count().await, before + 1);
    assert_eq!(track().await.status(), 200);
}
