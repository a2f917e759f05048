//! `dossier-bench`: load on the real server binary, compared with raw SQL doing the same work on the
//! same database in the same run.
//!
//! It starts `dossier serve` (the release binary next to this one) on a fresh database, drives
//! `POST /api/v1/dossiers` and `GET /api/v1/track/{code}` from 64 keep-alive HTTP/1.1 connections
//! for a fixed time, then runs the baselines: on PostgreSQL `pgbench` with scripts of the same
//! statements, on SQLite a raw loop over the same driver. It reports req/s, p50/p99 latency, the
//! ratios and the server's peak resident memory (VmHWM).
//!
//! ```sh
//! cargo build --release --workspace --bins
//! target/release/dossier-bench --db sqlite
//! target/release/dossier-bench --db postgres --pg-url postgres://postgres@127.0.0.1:5432/postgres
//! ```

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Db {
    Sqlite,
    Postgres,
}

#[derive(Parser)]
#[command(about = "Load benchmarks of the dossier service against raw SQL baselines")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    db: Db,
    /// PostgreSQL server to make a fresh benchmark database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of load per phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Dossiers the tracking phase reads from.
    #[arg(long, default_value_t = 2000)]
    track_pool: usize,
    /// The server's database pool (`database.max_connections`); empty for the server's default.
    #[arg(long)]
    db_pool: Option<u32>,
}

/// Latencies and count of one phase.
struct Phase {
    name: String,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Phase {
    /// Answered as expected, per second: a failed request is not a result.
    fn rate(&self) -> f64 {
        (self.requests - self.errors) as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let idx = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[idx]) / 1000.0
    }
    fn print(&self) {
        println!(
            "{:<34} {:>10.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests, {} errors)",
            self.name,
            self.rate(),
            self.percentile(0.50),
            self.percentile(0.99),
            self.requests,
            self.errors
        );
    }
}

/// What each connection sends.
#[derive(Clone)]
enum Load {
    /// A pickup request, written around its applicant's phone (the text before and after it): each
    /// request has a phone of its own, as citizens do, so the per-phone limit counts what it would
    /// count in real use.
    Create(Bytes, Bytes),
    Track(Arc<Vec<String>>),
}

async fn run_load(
    name: &str,
    port: u16,
    load: Load,
    connections: usize,
    seconds: u64,
    expect: u16,
) -> anyhow::Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        let stop = stop.clone();
        let load = load.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::with_capacity(200_000);
            let mut errors = 0u64;
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let req = match &load {
                    Load::Create(head, tail) => {
                        let mut body = Vec::with_capacity(head.len() + 10 + tail.len());
                        body.extend_from_slice(head);
                        body.extend_from_slice(format!("09{:08}", i % 100_000_000).as_bytes());
                        body.extend_from_slice(tail);
                        Request::post("/api/v1/dossiers")
                            .header("host", "127.0.0.1")
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)))?
                    }
                    Load::Track(codes) => {
                        Request::get(format!("/api/v1/track/{}", codes[i % codes.len()]))
                            .header("host", "127.0.0.1")
                            .body(Full::new(Bytes::new()))?
                    }
                };
                i += connections;
                let started = Instant::now();
                let res = sender.send_request(req).await?;
                let status = res.status().as_u16();
                res.into_body().collect().await?;
                latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                if status != expect {
                    errors += 1;
                }
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        latencies_us.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(Phase {
        name: name.to_owned(),
        requests: latencies_us.len() as u64,
        errors,
        elapsed,
        latencies_us,
    })
}

fn request_body() -> Value {
    json!({
        "procedure_code": "1.001612",
        "agency_code": "UBND-P-HOANKIEM",
        "service_mode": "send_and_return",
        "applicant": {"full_name": "Nguyễn Văn An", "phone": "0912345678", "email": "an@example.vn", "id_number": "001090012345"},
        "pickup_address": {"line": "12 Tràng Tiền", "ward_code": "00070", "province_code": "01"},
        "return_address": null,
        "documents": [{"name": "Tờ khai đăng ký", "original": true, "copies": 1}],
        "with_appointment": false,
        "fee_exemption": "none"
    })
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

async fn wait_ready(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let req = Request::get("/health/ready")
                .header("host", "127.0.0.1")
                .body(Full::new(Bytes::new()))?;
            if let Ok(res) = sender.send_request(req).await
                && res.status().is_success()
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become ready")
}

/// Creates `n` dossiers through the API and returns their codes.
async fn create_codes(port: u16, n: usize) -> anyhow::Result<Vec<String>> {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/dossiers");
    let mut codes = Vec::with_capacity(n);
    for _ in 0..n {
        let res = client.post(&url).json(&request_body()).send().await?;
        let status = res.status();
        let v: Value = res.json().await?;
        codes.push(
            v["code"]
                .as_str()
                .with_context(|| format!("no code in the answer ({status}): {v}"))?
                .to_owned(),
        );
    }
    Ok(codes)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let exe = std::env::current_exe()?;
    let server_bin = exe.with_file_name("dossier");
    if !server_bin.exists() {
        bail!(
            "{} not found: run `cargo build --release --workspace --bins` first",
            server_bin.display()
        );
    }
    let dir = tempfile::tempdir()?;
    let (db_url, pg_db) = match args.db {
        Db::Sqlite => (
            format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
            None,
        ),
        Db::Postgres => {
            let name = format!("dossier_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(args.pg_url.as_str()).await?;
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE \"{name}\""),
                ))
                .await?;
            admin.close().await?;
            let base = args
                .pg_url
                .rsplit_once('/')
                .map_or(args.pg_url.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), Some(name))
        }
    };
    let port = free_port()?;
    // The demo reference data the requests name (`serve` seeds nothing on PostgreSQL by itself).
    let seeded = tokio::process::Command::new(&server_bin)
        .args(["seed", "--database-url", &db_url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .await
        .context("seed the database")?;
    anyhow::ensure!(seeded.success(), "seeding the database failed");
    let mut server = tokio::process::Command::new(&server_bin);
    if let Some(pool) = args.db_pool {
        server.env("DOSSIER__DATABASE__MAX_CONNECTIONS", pool.to_string());
    }
    // The limits stay on — every request is counted — with ceilings this one client never reaches,
    // so the figures include what the limiter costs.
    for limit in [
        "PUBLIC_WRITES_PER_MINUTE",
        "PUBLIC_READS_PER_MINUTE",
        "KEY_REQUESTS_PER_MINUTE",
        "OPEN_REQUESTS_PER_PHONE",
    ] {
        server.env(format!("DOSSIER__LIMITS__{limit}"), "1000000000");
    }
    let mut server = server
        .args([
            "serve",
            "--no-worker",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &db_url,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("start the server")?;
    let pid = server.id().context("server pid")?;
    wait_ready(port).await?;
    println!(
        "dossier-bench: {:?}, {} connections, {} s per phase, server pid {pid}",
        args.db, args.connections, args.seconds
    );

    let result = async {
        let mut template = request_body();
        template["applicant"]["phone"] = json!("PHONE");
        let template = serde_json::to_string(&template)?;
        let (head, tail) = template
            .split_once("PHONE")
            .context("the request template has no phone")?;
        let create = run_load(
            "POST /api/v1/dossiers",
            port,
            Load::Create(
                Bytes::copy_from_slice(head.as_bytes()),
                Bytes::copy_from_slice(tail.as_bytes()),
            ),
            args.connections,
            args.seconds,
            201,
        )
        .await?;
        create.print();
        let codes = Arc::new(
            create_codes(port, args.track_pool)
                .await
                .context("create the dossiers to track")?,
        );
        let track = run_load(
            "GET /api/v1/track/{code}",
            port,
            Load::Track(codes),
            args.connections,
            args.seconds,
            200,
        )
        .await?;
        track.print();
        if create.errors + track.errors > 0 {
            bail!(
                "{} requests were not answered as expected: this run measures nothing",
                create.errors + track.errors
            );
        }
        let peak = peak_rss_kib(pid);
        server.kill().await.ok();
        match args.db {
            Db::Postgres => {
                let insert =
                    pgbench(&db_url, INSERT_SCRIPT_PG, args.connections, args.seconds).await?;
                let read = pgbench(
                    &db_url,
                    &track_script_pg(&db_url).await?,
                    args.connections,
                    args.seconds,
                )
                .await?;
                insert.print();
                read.print();
                println!(
                    "ratio insert: API {:.0} / raw {:.0} = {:.0}%",
                    create.rate(),
                    insert.rate(),
                    100.0 * create.rate() / insert.rate()
                );
                println!(
                    "ratio track:  API {:.0} / raw {:.0} = {:.0}%",
                    track.rate(),
                    read.rate(),
                    100.0 * track.rate() / read.rate()
                );
            }
            Db::Sqlite => {
                let raw = sqlite_insert_loop(&db_url, args.seconds).await?;
                raw.print();
                println!(
                    "ratio insert: API {:.0} / raw {:.0} = {:.0}%",
                    create.rate(),
                    raw.rate(),
                    100.0 * create.rate() / raw.rate()
                );
            }
        }
        match peak {
            Some(kib) => println!("server peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
            None => println!("server peak memory: unavailable"),
        }
        anyhow::Ok(())
    }
    .await;
    server.kill().await.ok();
    if let Some(name) = pg_db {
        let admin = Database::connect(args.pg_url.as_str()).await?;
        admin
            .execute_raw(Statement::from_string(
                admin.get_database_backend(),
                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            ))
            .await?;
    }
    result
}

/// The statements `POST /api/v1/dossiers` commits, as one raw transaction per request. (JSON keeps a
/// space after each colon: pgbench reads `:name` as one of its variables.)
const INSERT_SCRIPT_PG: &str = r#"
BEGIN;
INSERT INTO dossiers (code, status, service_mode, procedure_code, agency_code, office_code, applicant_full_name, applicant_phone, applicant_email, applicant_id_number, pickup_line, pickup_ward_code, pickup_province_code, return_line, return_ward_code, return_province_code, documents, with_appointment, fee_exemption, route_class, postage_vnd, admin_fee_vnd, total_vnd, access_token_hash, language, created_at, updated_at)
VALUES (substr(md5(random()::text), 1, 11), 'pickup_requested', 'send_and_return', '1.001612', 'UBND-P-HOANKIEM', '100000', 'Nguyễn Văn An', '0912345678', 'an@example.vn', '001090012345', '12 Tràng Tiền', '00070', '01', '12 Tràng Tiền', '00070', '01', '[{"name": "Tờ khai đăng ký", "original": true, "copies": 1}]', false, 'none', 'local', 52000, 8000, 60000, md5(random()::text) || md5(random()::text), 'vi', now(), now()) RETURNING id \gset
INSERT INTO legs (dossier_id, direction, route_class, status, failed_attempts, created_at, updated_at) VALUES (:id, 'inbound', 'local', 'planned', 0, now(), now()), (:id, 'outbound', 'local', 'planned', 0, now(), now());
INSERT INTO dossier_events (dossier_id, at, kind, source, actor, to_status, recorded_at) VALUES (:id, now(), 'requested', 'api', 'public', 'pickup_requested', now());
COMMIT;
"#;

/// The reads `GET /api/v1/track/{code}` makes, by a random existing dossier.
async fn track_script_pg(db_url: &str) -> anyhow::Result<String> {
    let db = Database::connect(db_url).await?;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT min(id) AS lo, max(id) AS hi FROM dossiers",
        ))
        .await?
        .context("no dossiers")?;
    let lo: i64 = row.try_get("", "lo")?;
    let hi: i64 = row.try_get("", "hi")?;
    db.close().await?;
    Ok(format!(
        r#"
\set id random({lo}, {hi})
SELECT * FROM dossiers WHERE id = :id;
SELECT * FROM agencies WHERE code = 'UBND-P-HOANKIEM';
SELECT * FROM legs WHERE dossier_id = :id ORDER BY id;
SELECT * FROM dossier_events WHERE dossier_id = :id ORDER BY at, id;
"#
    ))
}

async fn pgbench(
    db_url: &str,
    script: &str,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Phase> {
    let file = tempfile::Builder::new().suffix(".sql").tempfile()?;
    std::fs::write(file.path(), script)?;
    let log_dir = tempfile::tempdir()?;
    let out = tokio::process::Command::new("pgbench")
        .current_dir(log_dir.path())
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &connections.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-l",
            "-f",
        ])
        .arg(file.path())
        .arg(db_url)
        .output()
        .await
        .context("run pgbench (Debian package postgresql-contrib / postgresql-client)")?;
    if !out.status.success() {
        bail!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .context("pgbench printed no tps")?;
    // Per-transaction latencies from the logs (column 3, microseconds).
    let mut latencies_us = Vec::new();
    for entry in std::fs::read_dir(log_dir.path())? {
        let content = std::fs::read_to_string(entry?.path())?;
        latencies_us.extend(
            content
                .lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok()),
        );
    }
    latencies_us.sort_unstable();
    let requests = (tps * seconds as f64) as u64;
    let first = script
        .lines()
        .find(|l| l.starts_with("INSERT") || l.starts_with("SELECT"))
        .unwrap_or("");
    let kind = if first.starts_with("INSERT") {
        "raw SQL insert tx (pgbench)"
    } else {
        "raw SQL track reads (pgbench)"
    };
    Ok(Phase {
        name: kind.to_owned(),
        requests,
        errors: 0,
        elapsed: Duration::from_secs(seconds),
        latencies_us,
    })
}

/// The same insert transaction as the API's, in a loop over one SQLite connection of the same driver.
async fn sqlite_insert_loop(db_url: &str, seconds: u64) -> anyhow::Result<Phase> {
    let store = domain_store(db_url).await?;
    let backend = store.get_database_backend();
    let started = Instant::now();
    let mut latencies_us = Vec::new();
    let mut n: u64 = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        let txn = sea_orm::TransactionTrait::begin(&store).await?;
        let code = format!("R{n:010}");
        let res = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO dossiers (code, status, service_mode, procedure_code, agency_code, office_code, applicant_full_name, applicant_phone, applicant_email, applicant_id_number, pickup_line, pickup_ward_code, pickup_province_code, return_line, return_ward_code, return_province_code, documents, with_appointment, fee_exemption, route_class, postage_vnd, admin_fee_vnd, total_vnd, access_token_hash, language, created_at, updated_at) VALUES (?, 'pickup_requested', 'send_and_return', '1.001612', 'UBND-P-HOANKIEM', '100000', 'Nguyễn Văn An', '0912345678', 'an@example.vn', '001090012345', '12 Tràng Tiền', '00070', '01', '12 Tràng Tiền', '00070', '01', '[{\"name\":\"Tờ khai đăng ký\",\"original\":true,\"copies\":1}]', false, 'none', 'local', 52000, 8000, 60000, ?, 'vi', datetime('now'), datetime('now'))",
                [code.clone().into(), format!("hash-{code}").into()],
            ))
            .await?;
        let id = i64::try_from(res.last_insert_id())?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO legs (dossier_id, direction, route_class, status, failed_attempts, created_at, updated_at) VALUES (?, 'inbound', 'local', 'planned', 0, datetime('now'), datetime('now')), (?, 'outbound', 'local', 'planned', 0, datetime('now'), datetime('now'))",
            [id.into(), id.into()],
        ))
        .await?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO dossier_events (dossier_id, at, kind, source, actor, to_status, recorded_at) VALUES (?, datetime('now'), 'requested', 'api', 'public', 'pickup_requested', datetime('now'))",
            [id.into()],
        ))
        .await?;
        txn.commit().await?;
        latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
        n += 1;
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(Phase {
        name: "raw SQL insert tx loop (SQLite)".into(),
        requests: n,
        errors: 0,
        elapsed,
        latencies_us,
    })
}

/// One SQLite connection with the service's pragmas (WAL, synchronous=NORMAL).
async fn domain_store(db_url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(db_url.to_owned());
    options
        .max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
        });
    Ok(Database::connect(options).await?)
}
