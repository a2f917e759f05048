//! `dossier-bench`: load on the real server binary, compared in the same run with the same work done
//! the fastest honest way without the server.
//!
//! It starts `dossier serve --no-worker` (the release binary next to this one) on a fresh database and
//! runs `--rounds` rounds, each alternating the service and its baselines. Each phase of the service
//! runs from 8, 16, 32 and 64 keep-alive HTTP/1.1 connections (`--connections`), the best rate taken
//! with its latencies, as the pgbench baselines run at those client counts and take the best:
//! 1. `POST /api/v1/dossiers`, then the intake baselines: on PostgreSQL pgbench running the service's own
//!    statement (captured on the wire from the server, see [`pg_capture`]) and the minimal dossier+event
//!    transaction, each at 8, 16, 32 and 64 clients, the best taken; on SQLite the service's three
//!    statements per dossier, 64 dossiers per transaction as the service's writer batches them, over
//!    the same driver, pragmas and allocator;
//! 2. `GET /api/v1/track/{code}` over every dossier made so far (at least `--codes`), then on PostgreSQL
//!    pgbench running the service's captured tracking statement over the same codes; on SQLite a
//!    second server with the tracking cache off reads the same codes (uncached);
//! 3. tracking while pickup requests are written (a quarter of the connections write).
//!
//! Any answer but the expected one fails the run. It prints each round, then per figure the median and
//! the spread (min–max) over the rounds, the ratios, and the server's peak resident memory. Each run
//! also says whose CPU time it took, since the load, the server and PostgreSQL share the machine's
//! cores: per request, the server's, PostgreSQL's and the load generator's; per pgbench transaction,
//! PostgreSQL's and pgbench's. The load goes through [`http1::Conn`], a client as lean as pgbench.
//!
//! ```sh
//! cargo build --release -p dossier -p bench --bins
//! target/release/dossier-bench --db sqlite
//! target/release/dossier-bench --db postgres --pg-url postgres://postgres@127.0.0.1:5432/postgres
//! ```

mod http1;
mod pg_capture;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::cpu::{cpu_seconds, finished_children_cpu_seconds, micros_per, postgres_cpu_seconds};
use bench::{admin_sql, database_url, raise_limits};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
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
    /// Concurrent keep-alive connections of each run of a phase, the best rate taken (as the pgbench
    /// baselines take their best client count).
    #[arg(long, value_delimiter = ',', default_values_t = [8, 16, 32, 64])]
    connections: Vec<usize>,
    /// Seconds of load per phase of the service.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Seconds of each pgbench run (one per client count).
    #[arg(long, default_value_t = 5)]
    baseline_seconds: u64,
    /// Rounds of service and baselines, alternating.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Only the service's phases, no baselines: to compare two builds of the server, each put next to
    /// this binary, in alternating runs.
    #[arg(long)]
    service_only: bool,
    /// Least number of distinct dossiers the tracking phases read.
    #[arg(long, default_value_t = 20_000)]
    codes: usize,
    /// The server's database pool (`database.max_connections`); empty for the server's default.
    #[arg(long)]
    db_pool: Option<u32>,
    /// `NAME=VALUE` set in the server's environment only (as `TOKIO_WORKER_THREADS=1`); repeatable.
    #[arg(long, value_parser = parse_env)]
    server_env: Vec<(String, String)>,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

/// The service's allocator (the `dossier` binary's), so the SQLite baseline runs as the service does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Sends `load` from `connections` connections for `seconds`; the phase, and the codes of the
/// dossiers a `Create` load made.
async fn run_load(
    name: &str,
    port: u16,
    load: Load,
    connections: usize,
    seconds: u64,
    expect: u16,
) -> anyhow::Result<(Phase, Vec<String>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(connections);
    // Each run's phones differ from every earlier run's: one phone per request, as citizens have.
    static PHONES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    for c in 0..connections {
        let stop = stop.clone();
        let load = load.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = http1::Conn::connect(port).await?;
            let mut latencies = Vec::with_capacity(200_000);
            let mut codes = Vec::new();
            let mut errors = 0u64;
            let mut path = String::with_capacity(64);
            let mut phone = String::with_capacity(10);
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let answer = match &load {
                    Load::Create(head, tail) => {
                        let n = PHONES.fetch_add(1, Ordering::Relaxed);
                        phone.clear();
                        write!(phone, "09{:08}", n % 100_000_000)?;
                        conn.post_json("/api/v1/dossiers", &[head, phone.as_bytes(), tail])
                            .await?
                    }
                    Load::Track(codes) => {
                        path.clear();
                        path.push_str("/api/v1/track/");
                        path.push_str(&codes[i % codes.len()]);
                        conn.get(&path).await?
                    }
                };
                latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                if answer.status != expect {
                    errors += 1;
                } else if matches!(load, Load::Create(..))
                    && let Some(code) = code_of(answer.body)
                {
                    codes.push(code);
                }
                i += connections;
            }
            anyhow::Ok((latencies, errors, codes))
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    let mut codes = Vec::new();
    for t in tasks {
        let (l, e, c) = t.await??;
        latencies_us.extend(l);
        errors += e;
        codes.extend(c);
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok((
        Phase {
            name: name.to_owned(),
            requests: latencies_us.len() as u64,
            errors,
            elapsed,
            latencies_us,
        },
        codes,
    ))
}

/// The p99 latency a phase's rate is also read under (`p99 < 20 ms` in the targets).
const P99_BOUND_MS: f64 = 20.0;

/// One phase run from each of `connections` connection counts in turn.
struct Best {
    /// The run with the highest rate.
    phase: Phase,
    /// Its connection count.
    connections: usize,
    /// The highest rate of the runs whose p99 was under [`P99_BOUND_MS`], if any was.
    rate_within_p99_bound: Option<f64>,
    /// The server's CPU time per request over that run, in µs.
    cpu_us: Option<f64>,
    /// PostgreSQL's CPU time per request over that run (all its processes), in µs; `None` on SQLite.
    pg_cpu_us: Option<f64>,
    /// The codes every run's pickup requests made.
    codes: Vec<String>,
}

/// Runs `load` from each of `connections` connection counts for `seconds`, printing each run, and
/// keeps the best rate, as [`pgbench_best`] does for the baselines. Fails on any unexpected answer.
async fn best_of(
    name: &str,
    server: &Server,
    load: &Load,
    connections: &[usize],
    seconds: u64,
    expect: u16,
) -> anyhow::Result<Best> {
    let mut best: Option<Best> = None;
    let mut within_bound: Option<f64> = None;
    let mut codes = Vec::new();
    for &count in connections {
        checkpoint(&server.db_url).await?;
        let cpu_before = cpu_seconds(server.pid);
        let own_before = cpu_seconds(std::process::id());
        let on_postgres = server.db_url.starts_with("postgres");
        let pg_before = on_postgres.then(postgres_cpu_seconds).flatten();
        let (phase, made) = run_load(
            &format!("{name} [{count} conn]"),
            server.port,
            load.clone(),
            count,
            seconds,
            expect,
        )
        .await?;
        let cpu_after = cpu_seconds(server.pid);
        let own_after = cpu_seconds(std::process::id());
        let pg_after = on_postgres.then(postgres_cpu_seconds).flatten();
        phase.print();
        ensure_clean(&phase)?;
        codes.extend(made);
        let requests = phase.requests as f64;
        let cpu_us = micros_per(cpu_before, cpu_after, requests);
        let own_us = micros_per(own_before, own_after, requests);
        let pg_us = micros_per(pg_before, pg_after, requests);
        if let (Some(cpu), Some(own)) = (cpu_us, own_us) {
            let pg = pg_us.map_or_else(String::new, |pg| format!(", PostgreSQL {pg:.0} µs"));
            println!("  CPU per request: server {cpu:.0} µs{pg}, this load generator {own:.0} µs");
        }
        if phase.percentile(0.99) < P99_BOUND_MS {
            within_bound = Some(within_bound.map_or(phase.rate(), |r: f64| r.max(phase.rate())));
        }
        if best.as_ref().is_none_or(|b| phase.rate() > b.phase.rate()) {
            best = Some(Best {
                phase,
                connections: count,
                rate_within_p99_bound: None,
                cpu_us,
                pg_cpu_us: pg_us,
                codes: Vec::new(),
            });
        }
    }
    let mut best = best.context("no connection count to run")?;
    best.codes = codes;
    best.rate_within_p99_bound = within_bound;
    println!(
        "  best: {:.0} req/s at {} connections, p99 {:.2} ms; best with p99 < {P99_BOUND_MS} ms: {}",
        best.phase.rate(),
        best.connections,
        best.phase.percentile(0.99),
        within_bound.map_or_else(|| "none".to_owned(), |r| format!("{r:.0} req/s")),
    );
    Ok(best)
}

/// The `code` of a pickup request's answer.
fn code_of(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Some(v.get("code")?.as_str()?.to_owned())
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
        if let Ok(mut conn) = http1::Conn::connect(port).await
            && let Ok(answer) = conn.get("/health/ready").await
            && (200..300).contains(&answer.status)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become ready")
}

/// A running `dossier serve --no-worker`.
struct Server {
    child: tokio::process::Child,
    port: u16,
    pid: u32,
    db_url: String,
}

/// Starts the server on `db_url` with the limits on (every request is counted) at ceilings this one
/// client never reaches, so the figures include what the limiter costs.
async fn start_server(
    bin: &std::path::Path,
    db_url: &str,
    env: &[(String, String)],
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = tokio::process::Command::new(bin);
    raise_limits(&mut command);
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command
        .args([
            "serve",
            "--no-worker",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            db_url,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("start the server")?;
    let pid = child.id().context("server pid")?;
    wait_ready(port).await?;
    Ok(Server {
        child,
        port,
        pid,
        db_url: db_url.to_owned(),
    })
}

/// Writes PostgreSQL's dirty pages out before a measured run (`CHECKPOINT`), so that no run of the
/// service or of a baseline pays for the writes of the one before it.
async fn checkpoint(db_url: &str) -> anyhow::Result<()> {
    if !db_url.starts_with("postgres") {
        return Ok(());
    }
    admin_sql(db_url, "CHECKPOINT".to_owned()).await
}

/// Each figure's value per round.
#[derive(Default)]
struct Figures(BTreeMap<String, Vec<f64>>);

impl Figures {
    fn add(&mut self, name: &str, value: f64) {
        self.0.entry(name.to_owned()).or_default().push(value);
    }

    fn print(&self) {
        println!("\n== median [min–max] over the rounds");
        for (name, values) in &self.0 {
            let mut v = values.clone();
            v.sort_by(f64::total_cmp);
            let median = v[v.len() / 2];
            println!(
                "{name:<58} {median:>10.1}  [{:.1}–{:.1}]",
                v[0],
                v[v.len() - 1]
            );
        }
    }
}

fn ensure_clean(phase: &Phase) -> anyhow::Result<()> {
    if phase.errors > 0 {
        bail!(
            "{}: {} requests were not answered as expected: this run measures nothing",
            phase.name,
            phase.errors
        );
    }
    Ok(())
}

/// One thread drives every connection of the load, as each of pgbench's threads drives its clients:
/// no work stealing or waking of a second runtime thread, so the load generator takes less of the
/// cores it shares with the server and PostgreSQL.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let exe = std::env::current_exe()?;
    let server_bin = exe.with_file_name("dossier");
    if !server_bin.exists() {
        bail!(
            "{} not found: run `cargo build --release -p dossier -p bench --bins` first",
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
            admin_sql(&args.pg_url, format!("CREATE DATABASE \"{name}\"")).await?;
            (database_url(&args.pg_url, &name), Some(name))
        }
    };
    // The demo reference data the requests name (`serve` seeds nothing on PostgreSQL by itself).
    let seeded = tokio::process::Command::new(&server_bin)
        .args(["seed", "--database-url", &db_url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .await
        .context("seed the database")?;
    anyhow::ensure!(seeded.success(), "seeding the database failed");
    let mut env = args.server_env.clone();
    if let Some(pool) = args.db_pool {
        env.push((
            "DOSSIER__DATABASE__MAX_CONNECTIONS".to_owned(),
            pool.to_string(),
        ));
    }
    let result = run(&args, &server_bin, &db_url, &env).await;
    if let Some(name) = pg_db {
        admin_sql(
            &args.pg_url,
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )
        .await?;
    }
    result
}

async fn run(
    args: &Args,
    server_bin: &std::path::Path,
    db_url: &str,
    env: &[(String, String)],
) -> anyhow::Result<()> {
    let scripts = match args.db {
        Db::Postgres if !args.service_only => Some(
            capture_scripts(server_bin, db_url, env)
                .await
                .context("capture the service's statements")?,
        ),
        _ => None,
    };
    let mut server = start_server(server_bin, db_url, env).await?;
    // SQLite keeps tracking views in memory: a second server on the same file reads without.
    let mut uncached = match args.db {
        Db::Sqlite if !args.service_only => {
            let mut env = env.to_vec();
            env.push(("DOSSIER__SERVER__TRACK_CACHE".into(), "false".into()));
            Some(start_server(server_bin, db_url, &env).await?)
        }
        _ => None,
    };
    println!(
        "dossier-bench: {:?}, {:?} connections, {} s per run, {} rounds, server pid {}",
        args.db, args.connections, args.seconds, args.rounds, server.pid
    );
    let mut template = request_body();
    template["applicant"]["phone"] = json!("PHONE");
    let template = serde_json::to_string(&template)?;
    let (head, tail) = template
        .split_once("PHONE")
        .context("the request template has no phone")?;
    let create = Load::Create(
        Bytes::copy_from_slice(head.as_bytes()),
        Bytes::copy_from_slice(tail.as_bytes()),
    );
    let mut figures = Figures::default();
    let mut codes: Vec<String> = Vec::new();
    for round in 1..=args.rounds {
        println!("\n-- round {round}");
        // Intake: the service, then its baselines.
        let intake = best_of(
            "POST /api/v1/dossiers",
            &server,
            &create,
            &args.connections,
            args.seconds,
            201,
        )
        .await?;
        codes.extend(intake.codes);
        figures.add("intake: service req/s", intake.phase.rate());
        figures.add("intake: service p99 ms", intake.phase.percentile(0.99));
        figures.add(
            &format!("intake: service req/s with p99 < {P99_BOUND_MS} ms"),
            intake.rate_within_p99_bound.unwrap_or(0.0),
        );
        figures.add(
            "intake: service best at connections",
            intake.connections as f64,
        );
        if let Some(per_request) = intake.cpu_us {
            figures.add("intake: server CPU µs per request", per_request);
        }
        if let Some(per_request) = intake.pg_cpu_us {
            figures.add("intake: PostgreSQL CPU µs per request", per_request);
        }
        let intake = intake.phase;
        match (&args.db, &scripts) {
            _ if args.service_only => {}
            (Db::Postgres, Some(scripts)) => {
                let minimal = pgbench_best(
                    db_url,
                    &[MINIMAL_TXN_PG.to_owned()],
                    &[],
                    args.baseline_seconds,
                )
                .await?;
                minimal.print("pgbench: minimal dossier+event transaction");
                let own = pgbench_best(
                    db_url,
                    &scripts.intake,
                    &scripts.intake_defines,
                    args.baseline_seconds,
                )
                .await?;
                own.print("pgbench: the service's captured intake");
                figures.add(
                    "intake: pgbench minimal txn tps (best clients)",
                    minimal.tps,
                );
                figures.add(
                    "intake: pgbench service statement tps (best clients)",
                    own.tps,
                );
                figures.add(
                    "intake: service / minimal txn %",
                    100.0 * intake.rate() / minimal.tps,
                );
                figures.add(
                    "intake: service / its own statement %",
                    100.0 * intake.rate() / own.tps,
                );
            }
            _ => {
                let raw = sqlite_batched_insert(db_url, args.seconds).await?;
                raw.print();
                figures.add("intake: SQLite batched raw insert /s", raw.rate());
                figures.add(
                    "intake: service / batched raw %",
                    100.0 * intake.rate() / raw.rate(),
                );
            }
        }
        // Enough distinct dossiers to track.
        while codes.len() < args.codes {
            let (more, made) = run_load(
                "(dossiers to track)",
                server.port,
                create.clone(),
                16,
                2,
                201,
            )
            .await?;
            ensure_clean(&more)?;
            codes.extend(made);
        }
        let tracked = Arc::new(spread(&codes));
        let name = match args.db {
            Db::Sqlite => format!("GET /api/v1/track ({} codes, cache on)", tracked.len()),
            Db::Postgres => format!("GET /api/v1/track ({} codes)", tracked.len()),
        };
        let track = best_of(
            &name,
            &server,
            &Load::Track(tracked.clone()),
            &args.connections,
            args.seconds,
            200,
        )
        .await?;
        let track_connections = track.connections;
        if let Some(per_request) = track.cpu_us {
            figures.add("tracking: server CPU µs per request", per_request);
        }
        if let Some(per_request) = track.pg_cpu_us {
            figures.add("tracking: PostgreSQL CPU µs per request", per_request);
        }
        figures.add(
            &format!("tracking: service req/s with p99 < {P99_BOUND_MS} ms"),
            track.rate_within_p99_bound.unwrap_or(0.0),
        );
        let track = track.phase;
        match (&args.db, &scripts, &uncached) {
            _ if args.service_only => {
                figures.add("tracking: service req/s", track.rate());
                figures.add("tracking: service p99 ms", track.percentile(0.99));
            }
            (Db::Postgres, Some(scripts), _) => {
                figures.add("tracking: service req/s", track.rate());
                figures.add("tracking: service p99 ms", track.percentile(0.99));
                let mut defines = scripts.track_defines.clone();
                defines.push(format!("codes={}", number_codes(db_url, &tracked).await?));
                let own = pgbench_best(
                    db_url,
                    std::slice::from_ref(&scripts.track),
                    &defines,
                    args.baseline_seconds,
                )
                .await?;
                own.print("pgbench: the service's captured tracking");
                if let Some(per_transaction) = own.pg_cpu_us {
                    figures.add(
                        "tracking: pgbench: PostgreSQL CPU µs per transaction",
                        per_transaction,
                    );
                }
                figures.add(
                    "tracking: pgbench service statements tps (best clients)",
                    own.tps,
                );
                figures.add(
                    "tracking: service / its own statements %",
                    100.0 * track.rate() / own.tps,
                );
            }
            (_, _, Some(uncached)) => {
                figures.add("tracking: service, cache on, req/s", track.rate());
                figures.add(
                    "tracking: service, cache on, p99 ms",
                    track.percentile(0.99),
                );
                let cold = best_of(
                    &format!("GET /api/v1/track ({} codes, cache off)", tracked.len()),
                    uncached,
                    &Load::Track(tracked.clone()),
                    &args.connections,
                    args.seconds,
                    200,
                )
                .await?
                .phase;
                figures.add("tracking: service, cache off, req/s", cold.rate());
                figures.add(
                    "tracking: service, cache off, p99 ms",
                    cold.percentile(0.99),
                );
            }
            _ => {}
        }
        // Tracking while a quarter of the connections write pickup requests, from as many
        // connections as tracking read best from.
        let writers = (track_connections / 4).max(1);
        let readers = track_connections.saturating_sub(writers).max(1);
        let (reads, writes) = tokio::join!(
            run_load(
                "GET /api/v1/track while writing",
                server.port,
                Load::Track(tracked.clone()),
                readers,
                args.seconds,
                200,
            ),
            run_load(
                "POST /api/v1/dossiers meanwhile",
                server.port,
                create.clone(),
                writers,
                args.seconds,
                201,
            ),
        );
        let ((reads, _), (writes, made)) = (reads?, writes?);
        reads.print();
        writes.print();
        ensure_clean(&reads)?;
        ensure_clean(&writes)?;
        codes.extend(made);
        figures.add("under writes: tracking req/s", reads.rate());
        figures.add("under writes: tracking p99 ms", reads.percentile(0.99));
        figures.add("under writes: pickup requests req/s", writes.rate());
    }
    figures.print();
    match peak_rss_kib(server.pid) {
        Some(kib) => println!("server peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("server peak memory: unavailable"),
    }
    server.child.kill().await.ok();
    if let Some(s) = uncached.as_mut() {
        s.child.kill().await.ok();
    }
    Ok(())
}

/// The codes in an order that spreads neighbours apart (consecutive requests read unrelated
/// dossiers), without a random generator: a fixed stride coprime with the length.
fn spread(codes: &[String]) -> Vec<String> {
    let n = codes.len();
    let mut stride = 7919 % n.max(1);
    while stride > 1 && gcd(stride, n) != 1 {
        stride += 1;
    }
    let stride = stride.max(1);
    (0..n).map(|i| codes[(i * stride) % n].clone()).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The smallest honest transaction a pickup request needs: its dossier row and its first event,
/// committed together. (JSON keeps a space after each colon: pgbench reads `:name` as a variable.)
const MINIMAL_TXN_PG: &str = r#"
BEGIN;
INSERT INTO dossiers (code, status, service_mode, procedure_code, agency_code, office_code, applicant_full_name, applicant_phone, applicant_email, applicant_id_number, pickup_line, pickup_ward_code, pickup_province_code, return_line, return_ward_code, return_province_code, documents, with_appointment, fee_exemption, route_class, postage_vnd, admin_fee_vnd, total_vnd, access_token_hash, language, created_at, updated_at) VALUES (substr(md5(random()::text), 1, 11), 'pickup_requested', 'send_and_return', '1.001612', 'UBND-P-HOANKIEM', '100000', 'Nguyễn Văn An', '0912345678', 'an@example.vn', '001090012345', '12 Tràng Tiền', '00070', '01', '12 Tràng Tiền', '00070', '01', '[{"name": "Tờ khai đăng ký", "original": true, "copies": 1}]', false, 'none', 'local', 52000, 8000, 60000, md5(random()::text) || md5(random()::text), 'vi', now(), now()) RETURNING id \gset
INSERT INTO dossier_events (dossier_id, at, kind, source, actor, to_status, recorded_at) VALUES (:id, now(), 'requested', 'api', 'public', 'pickup_requested', now());
COMMIT;
"#;

/// pgbench scripts of the service's own statements, with the variables they read.
struct Scripts {
    intake: Vec<String>,
    intake_defines: Vec<String>,
    /// The tracking read, its code drawn per transaction from [`TRACK_CODES`] (`-D codes=…` rows).
    track: String,
    track_defines: Vec<String>,
}

/// The table the tracking baseline draws its codes from: the codes the service's tracking phase
/// read, numbered from 1, so that pgbench reads the same dossiers as the service (not the rows the
/// intake baselines wrote, which have no parcels, nor a handful over and over).
const TRACK_CODES: &str = "bench_track_codes";

/// Fills [`TRACK_CODES`] with `codes`; their number.
async fn number_codes(db_url: &str, codes: &[String]) -> anyhow::Result<u64> {
    let db = Database::connect(db_url).await?;
    let backend = db.get_database_backend();
    for sql in [
        format!(
            "CREATE TABLE IF NOT EXISTS {TRACK_CODES} (n int8 PRIMARY KEY, code text NOT NULL)"
        ),
        format!("TRUNCATE {TRACK_CODES}"),
    ] {
        db.execute_raw(Statement::from_string(backend, sql)).await?;
    }
    for (chunk_index, chunk) in codes.chunks(1000).enumerate() {
        let mut sql = format!("INSERT INTO {TRACK_CODES} (n, code) VALUES ");
        for (i, _) in chunk.iter().enumerate() {
            let n = chunk_index * 1000 + i + 1;
            if i > 0 {
                sql.push_str(", ");
            }
            write!(sql, "({n}, ${})", i + 1)?;
        }
        let values = chunk.iter().map(|c| c.clone().into());
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    db.execute_raw(Statement::from_string(
        backend,
        format!("ANALYZE {TRACK_CODES}"),
    ))
    .await?;
    db.close().await?;
    Ok(u64::try_from(codes.len())?)
}

/// Runs a server whose database connection passes through [`pg_capture::Capture`], sends it one
/// pickup request and one tracking read after a warm-up of each, and writes what it sent to
/// PostgreSQL for each as pgbench scripts.
async fn capture_scripts(
    server_bin: &std::path::Path,
    db_url: &str,
    env: &[(String, String)],
) -> anyhow::Result<Scripts> {
    let mut url = reqwest::Url::parse(db_url)?;
    let upstream = format!(
        "{}:{}",
        url.host_str().context("no host in the database URL")?,
        url.port().unwrap_or(5432)
    );
    let capture = pg_capture::Capture::start(upstream).await?;
    url.set_port(Some(capture.port))
        .map_err(|()| anyhow::anyhow!("cannot set the port"))?;
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let mut server = start_server(server_bin, url.as_str(), env).await?;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", server.port);
    let request = |phone: &str| {
        let mut body = request_body();
        body["applicant"]["phone"] = json!(phone);
        client
            .post(format!("{base}/api/v1/dossiers"))
            .json(&body)
            .send()
    };
    let warm: Value = request("0911111111")
        .await?
        .error_for_status()?
        .json()
        .await?;
    let warm_code = warm["code"].as_str().context("no code")?.to_owned();
    client
        .get(format!("{base}/api/v1/track/{warm_code}"))
        .send()
        .await?
        .error_for_status()?;
    capture.record();
    let made: Value = request("0987654321")
        .await?
        .error_for_status()?
        .json()
        .await?;
    let intake = capture.take();
    let code = made["code"].as_str().context("no code")?.to_owned();
    capture.record();
    client
        .get(format!("{base}/api/v1/track/{code}"))
        .send()
        .await?
        .error_for_status()?;
    let track = capture.take();
    server.child.kill().await.ok();
    anyhow::ensure!(
        !intake.is_empty() && !track.is_empty(),
        "nothing was captured"
    );
    println!("captured for a pickup request:");
    for c in &intake {
        println!("  {}", c.sql.chars().take(160).collect::<String>());
    }
    println!("captured for a tracking read:");
    for c in &track {
        println!("  {}", c.sql.chars().take(160).collect::<String>());
    }

    // Values that must differ per request: the dossier's code, its token's hash, the phone.
    let vary_intake = |v: &str| -> Option<String> {
        if v == code {
            Some("substr(md5(random()::text), 1, 11)".into())
        } else if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some("md5(random()::text) || md5(random()::text)".into())
        } else if v.len() <= 13 && v.ends_with("987654321") {
            let prefix = &v[..v.len() - 9];
            Some(format!(
                "'{prefix}' || lpad(floor(random() * 1000000000)::int8::text, 9, '0')"
            ))
        } else {
            None
        }
    };
    let mut intake_script = String::new();
    let mut intake_defines = Vec::new();
    for (i, c) in intake.iter().enumerate() {
        let prefix = format!("i{i}p");
        intake_script.push_str(&c.pgbench_line(&prefix, &vary_intake));
        intake_script.push('\n');
        intake_defines.extend(
            c.pgbench_defines(&prefix)
                .into_iter()
                .filter(|d| vary_intake(d.split_once('=').map_or("", |(_, v)| v)).is_none()),
        );
    }
    // The tracked code is the one value that changes: each transaction reads one drawn at random
    // from every dossier's (a primary-key read of a small table inside the statement, the same for
    // every transaction).
    let vary_track =
        |v: &str| (v == code).then(|| format!("SELECT code FROM {TRACK_CODES} WHERE n = :track_n"));
    let mut track_script = String::from("\\set track_n random(1, :codes)\n");
    let mut track_defines = Vec::new();
    for (i, c) in track.iter().enumerate() {
        let prefix = format!("t{i}p");
        track_script.push_str(&c.pgbench_line(&prefix, &vary_track));
        track_script.push('\n');
        track_defines.extend(
            c.pgbench_defines(&prefix)
                .into_iter()
                .filter(|d| d.split_once('=').map_or("", |(_, v)| v) != code),
        );
    }
    Ok(Scripts {
        intake: vec![intake_script],
        intake_defines,
        track: track_script,
        track_defines,
    })
}

/// The best of pgbench at 8, 16, 32 and 64 clients.
struct Baseline {
    tps: f64,
    clients: usize,
    latency_ms: f64,
    /// PostgreSQL's CPU time per transaction, in µs.
    pg_cpu_us: Option<f64>,
    /// pgbench's own CPU time per transaction, in µs.
    client_cpu_us: Option<f64>,
}

impl Baseline {
    fn print(&self, name: &str) {
        println!(
            "{name:<44} {:>10.0} tps  avg latency {:>6.2} ms  (best at {} clients)",
            self.tps, self.latency_ms, self.clients
        );
        if let (Some(pg), Some(client)) = (self.pg_cpu_us, self.client_cpu_us) {
            println!("  CPU per transaction: PostgreSQL {pg:.0} µs, pgbench {client:.0} µs");
        }
    }
}

async fn pgbench_best(
    db_url: &str,
    scripts: &[String],
    defines: &[String],
    seconds: u64,
) -> anyhow::Result<Baseline> {
    let mut best: Option<Baseline> = None;
    for clients in [8, 16, 32, 64] {
        let run = pgbench(db_url, scripts, defines, clients, seconds).await?;
        if best.as_ref().is_none_or(|b| run.tps > b.tps) {
            best = Some(run);
        }
    }
    best.context("no pgbench run")
}

async fn pgbench(
    db_url: &str,
    scripts: &[String],
    defines: &[String],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Baseline> {
    checkpoint(db_url).await?;
    let dir = tempfile::tempdir()?;
    let mut command = tokio::process::Command::new("pgbench");
    command.args([
        "-n",
        "-M",
        "prepared",
        "-c",
        &clients.to_string(),
        "-j",
        "2",
        "-T",
        &seconds.to_string(),
    ]);
    for (i, script) in scripts.iter().enumerate() {
        let path = dir.path().join(format!("script{i}.sql"));
        std::fs::write(&path, script)?;
        command.arg("-f").arg(path);
    }
    for define in defines {
        command.arg("-D").arg(define);
    }
    let pg_before = postgres_cpu_seconds();
    let client_before = finished_children_cpu_seconds();
    let out = command
        .arg(db_url)
        .output()
        .await
        .context("run pgbench (Debian package postgresql-client)")?;
    // The backends pgbench used end with it; their time is counted once the postmaster has
    // collected them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pg_after = postgres_cpu_seconds();
    let client_after = finished_children_cpu_seconds();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("aborted") {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let value_after = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split('=').nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let tps = value_after("tps").context("pgbench printed no tps")?;
    let transactions = text
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("pgbench printed no number of transactions")?;
    Ok(Baseline {
        tps,
        clients,
        latency_ms: value_after("latency average").unwrap_or(0.0),
        pg_cpu_us: micros_per(pg_before, pg_after, transactions),
        client_cpu_us: micros_per(client_before, client_after, transactions),
    })
}

/// The service's SQLite writes without the service: its three statements per dossier (the dossier
/// with its phone's count, the two parcels, the first event reading the webhooks and outlets), 64
/// dossiers per transaction as its writer batches them, over one connection of the same driver.
async fn sqlite_batched_insert(db_url: &str, seconds: u64) -> anyhow::Result<Phase> {
    let store = domain_store(db_url).await?;
    let backend = store.get_database_backend();
    // Codes and phones of their own in every round.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    let mut n: u64 = 0;
    let mut latencies_us = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        let txn = sea_orm::TransactionTrait::begin(&store).await?;
        for _ in 0..64 {
            let k = NEXT.fetch_add(1, Ordering::Relaxed);
            let code = format!("R{k:010}");
            let phone = format!("08{:08}", k % 100_000_000);
            let row = txn
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    "INSERT INTO dossiers (code, status, service_mode, procedure_code, agency_code, office_code, applicant_full_name, applicant_phone, applicant_email, applicant_id_number, pickup_line, pickup_ward_code, pickup_province_code, return_line, return_ward_code, return_province_code, documents, with_appointment, fee_exemption, route_class, postage_vnd, admin_fee_vnd, total_vnd, access_token_hash, language, created_at, updated_at) SELECT ?, 'pickup_requested', 'send_and_return', '1.001612', 'UBND-P-HOANKIEM', '100000', 'Nguyễn Văn An', ?, 'an@example.vn', '001090012345', '12 Tràng Tiền', '00070', '01', '12 Tràng Tiền', '00070', '01', '[{\"code\":\"1.001612-01\",\"name\":\"Tờ khai đăng ký\",\"original\":true,\"copies\":1}]', false, 'none', 'local', 52000, 8000, 60000, ?, 'vi', ?, ? WHERE (SELECT COUNT(*) FROM dossiers WHERE applicant_phone = ? AND status IN ('pickup_requested', 'pickup_scheduled', 'pickup_failed')) < ? RETURNING id",
                    [
                        code.clone().into(),
                        phone.clone().into(),
                        format!("hash-{code}").into(),
                        chrono::Utc::now().into(),
                        chrono::Utc::now().into(),
                        phone.into(),
                        1_000_000_000i64.into(),
                    ],
                ))
                .await?
                .context("the dossier was not inserted")?;
            let id: i64 = row.try_get("", "id")?;
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO legs (dossier_id, direction, route_class, status, failed_attempts, created_at, updated_at) VALUES (?, 'inbound', 'local', 'planned', 0, ?, ?), (?, 'outbound', 'local', 'planned', 0, ?, ?)",
                [
                    id.into(),
                    chrono::Utc::now().into(),
                    chrono::Utc::now().into(),
                    id.into(),
                    chrono::Utc::now().into(),
                    chrono::Utc::now().into(),
                ],
            ))
            .await?;
            txn.query_one_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO dossier_events (dossier_id, at, kind, source, actor, to_status, recorded_at) VALUES (?, ?, 'requested', 'api', 'public', 'pickup_requested', ?) RETURNING *, EXISTS (SELECT 1 FROM webhooks WHERE active = 1 AND agency_code = ?) AS agency_has_webhook, EXISTS (SELECT 1 FROM integration_states WHERE name IN ('outlets.phone', 'outlets.portal') AND value = 'on') AS outlets_on",
                [
                    id.into(),
                    chrono::Utc::now().into(),
                    chrono::Utc::now().into(),
                    "UBND-P-HOANKIEM".into(),
                ],
            ))
            .await?;
            n += 1;
        }
        txn.commit().await?;
        latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(Phase {
        name: "SQLite raw, 64 per transaction".into(),
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
