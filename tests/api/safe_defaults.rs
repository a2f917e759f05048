//! Safe defaults of `dossier serve`: on PostgreSQL an empty database stays empty (no demo data, no key
//! printed, no carrier sandbox; carrier sync off and said so on `/health/ready`) unless `--demo` is
//! given, and the first administrator key comes from `dossier keys create --role admin`. SQLite keeps
//! its embedded default: demo data, a first key and the carrier sandbox.

use reqwest::StatusCode;
use serde_json::Value;
use tests::EmptyDatabase;
use tests::process::{ChildProcess, run_dossier};

async fn get_json(url: &str, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn printed_key(stdout: &str) -> Option<String> {
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("dk_"))
        .map(str::to_owned)
}

#[tokio::test]
async fn on_postgresql_serve_seeds_nothing_prints_no_key_and_says_carrier_sync_is_off() {
    if tests::test_database_url().is_none() {
        return;
    }
    let db = EmptyDatabase::new().await;
    let child = ChildProcess::serve(&["--database-url", &db.url], &[]).await;

    let (status, agencies) = get_json(&child.url("/api/v1/agencies"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(agencies, Value::Array(vec![]), "no demo agencies");
    let (status, ready) = get_json(&child.url("/health/ready"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["carrier_sync"], "off", "{ready}");
    let stdout = child.stdout();
    assert_eq!(printed_key(&stdout), None, "{stdout}");
    assert!(!stdout.contains("embedded sandbox"), "{stdout}");

    // The first administrator key comes from the command line.
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_dossier(&[
            "keys",
            "create",
            "--role",
            "admin",
            "--name",
            "ops",
            "--database-url",
            &url,
        ])
    })
    .await
    .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = stdout
        .lines()
        .last()
        .expect("a last line")
        .trim()
        .to_owned();
    let (status, keys) = get_json(&child.url("/api/v1/admin/keys"), Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
}

#[tokio::test]
async fn on_postgresql_serve_with_demo_seeds_prints_a_key_and_runs_the_sandbox() {
    if tests::test_database_url().is_none() {
        return;
    }
    let db = EmptyDatabase::new().await;
    let child = ChildProcess::serve(&["--demo", "--database-url", &db.url], &[]).await;
    let (_, agencies) = get_json(&child.url("/api/v1/agencies"), None).await;
    assert!(
        agencies.as_array().is_some_and(|a| !a.is_empty()),
        "{agencies}"
    );
    let stdout = child.stdout();
    let key = printed_key(&stdout).expect("the first administrator key");
    let (status, _) = get_json(&child.url("/api/v1/admin/keys"), Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(stdout.contains("embedded sandbox"), "{stdout}");
    let (_, ready) = get_json(&child.url("/health/ready"), None).await;
    assert_eq!(ready["carrier_sync"], "on", "{ready}");
}

#[tokio::test]
async fn sqlite_keeps_its_embedded_demo_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/dossier.db?mode=rwc", dir.path().display());
    let child = ChildProcess::serve(&["--database-url", &url], &[]).await;
    let (_, agencies) = get_json(&child.url("/api/v1/agencies"), None).await;
    assert!(
        agencies.as_array().is_some_and(|a| !a.is_empty()),
        "{agencies}"
    );
    let stdout = child.stdout();
    assert!(printed_key(&stdout).is_some(), "{stdout}");
    assert!(stdout.contains("embedded sandbox"), "{stdout}");
    let (status, ready) = get_json(&child.url("/health/ready"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["carrier_sync"], "on", "{ready}");
}
