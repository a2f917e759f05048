//! `scan-bench`: how long `POST /api/v1/scans/batch` takes to ingest an offline scanner's day — 1,000
//! scans — on PostgreSQL (the target is under one second).
//!
//! It makes a fresh PostgreSQL database, starts the application in process on port 0 (the settings of
//! the black-box tests: demo data seeded), creates and picks up `--dossiers` dossiers through the API,
//! then times batches of one `departed` scan per parcel, one `arrived` scan per parcel, and the first
//! batch resent (all duplicates). The database is dropped afterwards.
//!
//! ```sh
//! cargo run --release -p bench --bin scan-bench -- --pg-url postgres://postgres@127.0.0.1:5432/postgres
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::{admin_sql, database_url};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Times a 1,000-scan batch upload on PostgreSQL")]
struct Args {
    /// PostgreSQL server to make a fresh benchmark database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// Parcels, and scans per batch (at most 1,000, the API's batch limit).
    #[arg(long, default_value_t = 1000)]
    dossiers: usize,
    /// Requests in flight while preparing the dossiers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

/// Runs `jobs` with at most `limit` in flight and returns their answers in order.
async fn in_parallel<F, T>(jobs: Vec<F>, limit: usize) -> anyhow::Result<Vec<T>>
where
    F: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut handles = Vec::with_capacity(jobs.len());
    for job in jobs {
        let permit = semaphore.clone().acquire_owned().await?;
        handles.push(tokio::spawn(async move {
            let out = job.await;
            drop(permit);
            out
        }));
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await??);
    }
    Ok(out)
}

/// Posts a JSON body and returns the JSON answer, failing on an unexpected status.
async fn post_json(
    client: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
    body: &Value,
    expect: u16,
) -> anyhow::Result<Value> {
    let mut req = client.post(&url).json(body);
    if let Some(bearer) = bearer {
        req = req.bearer_auth(bearer);
    }
    let res = req.send().await.with_context(|| format!("POST {url}"))?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    if status != expect {
        bail!("POST {url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// What one batch upload took and how its scans were answered.
struct Upload {
    scans: usize,
    elapsed: Duration,
    accepted: u64,
    duplicates: u64,
    errors: u64,
}

/// Prints one upload's line and returns how many scans were accepted.
fn report(what: &str, u: &Upload) -> u64 {
    println!(
        "POST /api/v1/scans/batch  {} × {what:<9} {:>8.1} ms  (accepted {}, duplicates {}, errors {})",
        u.scans,
        u.elapsed.as_secs_f64() * 1000.0,
        u.accepted,
        u.duplicates,
        u.errors
    );
    u.accepted
}

/// Uploads one batch, timing the request from send to the last byte of the answer.
async fn upload(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    scans: &[Value],
) -> anyhow::Result<Upload> {
    let body = json!({ "scans": scans });
    let started = Instant::now();
    let res = post_json(
        client,
        format!("{base}/api/v1/scans/batch"),
        Some(key),
        &body,
        200,
    )
    .await?;
    let elapsed = started.elapsed();
    let n = |k: &str| res[k].as_u64().unwrap_or_default();
    Ok(Upload {
        scans: scans.len(),
        elapsed,
        accepted: n("accepted"),
        duplicates: n("duplicates"),
        errors: n("errors"),
    })
}

fn scans_of(items: &[String], event: &str) -> Vec<Value> {
    let at = chrono::Utc::now().to_rfc3339();
    items
        .iter()
        .map(|item| {
            json!({
                "scan_id": uuid::Uuid::new_v4().to_string(),
                "item_code": item,
                "event": event,
                "at": at,
                "location": "Trung tâm khai thác Hà Nội",
            })
        })
        .collect()
}

/// The service's allocator (the `dossier` binary's), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.dossiers == 0 || args.dossiers > 1000 {
        bail!("--dossiers must be between 1 and 1000 (the batch limit)");
    }
    let name = format!("dossier_scanbench_{}", uuid::Uuid::new_v4().simple());
    admin_sql(&args.pg_url, format!("CREATE DATABASE \"{name}\"")).await?;
    let url = database_url(&args.pg_url, &name);
    let result = run(&args, &url).await;
    admin_sql(
        &args.pg_url,
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await?;
    result
}

async fn run(args: &Args, url: &str) -> anyhow::Result<()> {
    let mut settings = tests::test_settings(url);
    settings.database.max_connections = 16;
    let app = api::Application::build(&settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let key = domain::ops::keys::create_api_key(
        &store.write,
        domain::ops::keys::NewApiKey {
            role: entity::enums::Role::Postal,
            name: "scan bench".into(),
            office_code: Some("100000".into()),
            agency_code: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("create the postal key: {e}"))?
    .secret;
    let client = reqwest::Client::new();

    let prepared = Instant::now();
    let creates = (0..args.dossiers)
        .map(|_| {
            let client = client.clone();
            let url = format!("{base}/api/v1/dossiers");
            async move { post_json(&client, url, None, &tests::valid_request(), 201).await }
        })
        .collect();
    let created = in_parallel(creates, args.concurrency).await?;
    let pickups = created
        .into_iter()
        .map(|d| {
            let client = client.clone();
            let key = key.clone();
            let url = format!(
                "{base}/api/v1/dossiers/{}/pickup",
                d["code"].as_str().unwrap_or_default()
            );
            let body =
                json!({"documents_checked": true, "fee_collected_vnd": d["fees"]["total_vnd"]});
            async move {
                let d = post_json(&client, url, Some(&key), &body, 200).await?;
                d["legs"]
                    .as_array()
                    .and_then(|legs| legs.iter().find(|l| l["direction"] == "inbound"))
                    .and_then(|l| l["item_code"].as_str())
                    .map(str::to_owned)
                    .context("no inbound item code")
            }
        })
        .collect();
    let items: Vec<String> = in_parallel(pickups, args.concurrency).await?;
    println!(
        "scan-bench: PostgreSQL, {} dossiers created and picked up through the API in {:.1} s",
        items.len(),
        prepared.elapsed().as_secs_f64()
    );

    let departed = scans_of(&items, "departed");
    let accepted = report("departed", &upload(&client, &base, &key, &departed).await?);
    if accepted != items.len() as u64 {
        bail!("expected every scan accepted");
    }
    let arrived = scans_of(&items, "arrived");
    report("arrived", &upload(&client, &base, &key, &arrived).await?);
    report("resent", &upload(&client, &base, &key, &departed).await?);
    let _ = stop.send(());
    let _ = server.await;
    store.close().await?;
    Ok(())
}
