//! `dossier-bench`: load on the real server binary, compared in the same run with the same work done
//! the fastest honest way without the server.
//!
//! It starts `dossier serve --no-worker` (the release binary next to this one) on a fresh database and
//! runs `--rounds` rounds, each alternating the service and its baselines. Each phase of the service
//! runs from 8, 16, 32 and 64 keep-alive HTTP/1.1 connections (`--connections`), the best rate taken
//! with its latencies; on PostgreSQL each of those runs is followed at once by its pgbench baselines at
//! as many clients (the machine's speed drifts: the two sides of a ratio run seconds apart), the best
//! of each taken:
//! 1. `POST /api/v1/dossiers`; on PostgreSQL, after each run, pgbench running the service's own
//!    statement (captured on the wire from the server, see [`pg_capture`]) and the minimal
//!    dossier+event transaction; on SQLite, after the phase, the service's three statements per
//!    dossier, 64 dossiers per transaction as the service's writer batches them, over the same driver,
//!    pragmas and allocator;
//! 2. `GET /api/v1/track/{code}` over every dossier made so far (at least `--codes`); on PostgreSQL,
//!    after each run, pgbench running the service's captured tracking statement over the same codes;
//!    on SQLite, after the phase, a second server with the tracking cache off reads the same codes
//!    (uncached);
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

mod baselines;
mod http1;
mod load;
mod pg_capture;
mod relay;
mod server;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;

use anyhow::{Context, bail};
use bench::cpu::micros_per;
use bench::{admin_sql, database_url, name_and_value};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use serde_json::json;
use tests::valid_request;

use baselines::{
    MINIMAL_TXN_PG, capture_scripts, keep_best, number_codes, pgbench, sqlite_batched_insert,
};
use load::{BestOf, Load, P99_BOUND_MS, best_of, ensure_clean, run_load};
use relay::Relay;
use server::{peak_rss_kib, start_server};

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
    #[arg(long, value_parser = name_and_value)]
    server_env: Vec<(String, String)>,
    /// On PostgreSQL, also run each tracking baseline through a relay that only passes bytes on
    /// (HAProxy, Debian package `haproxy`): the rate a process in the middle leaves on this machine.
    #[arg(long)]
    relay: bool,
}

/// The service's allocator (the `dossier` binary's), so the SQLite baseline runs as the service does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// One thread drives every connection of the load, as each of pgbench's threads drives its clients:
/// no work stealing or waking of a second runtime thread, so the load generator takes less of the
/// cores it shares with the server and PostgreSQL.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.relay && (args.db != Db::Postgres || args.service_only) {
        bail!(
            "--relay runs the PostgreSQL baselines again: it needs --db postgres, without --service-only"
        );
    }
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
    let mut template = valid_request();
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
        // Intake: the service from each connection count; on PostgreSQL each run is followed at once
        // by its baselines at as many clients, so that the two sides of a ratio run seconds apart on
        // a machine whose speed drifts.
        let pg_scripts = scripts
            .as_ref()
            .filter(|_| args.db == Db::Postgres && !args.service_only);
        let mut intake = BestOf::new("POST /api/v1/dossiers", &server, &create, args.seconds, 201);
        let (mut minimal, mut own) = (None, None);
        for &count in &args.connections {
            intake.run(count).await?;
            if let Some(scripts) = pg_scripts {
                let run = pgbench(
                    db_url,
                    &[MINIMAL_TXN_PG.to_owned()],
                    &[],
                    count,
                    args.baseline_seconds,
                )
                .await?;
                run.print_run("pgbench: minimal dossier+event transaction");
                keep_best(&mut minimal, run);
                let run = pgbench(
                    db_url,
                    &scripts.intake,
                    &scripts.intake_defines,
                    count,
                    args.baseline_seconds,
                )
                .await?;
                run.print_run("pgbench: the service's captured intake");
                keep_best(&mut own, run);
            }
        }
        let intake = intake.finish()?;
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
        match (&args.db, minimal.zip(own)) {
            _ if args.service_only => {}
            (Db::Postgres, Some((minimal, own))) => {
                minimal.print_best("pgbench: minimal dossier+event transaction");
                own.print_best("pgbench: the service's captured intake");
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
        // On PostgreSQL each run is followed at once by pgbench reading the same codes with the
        // service's statement at as many clients.
        let pg_track = match pg_scripts {
            Some(scripts) => {
                let mut defines = scripts.track_defines.clone();
                defines.push(format!("codes={}", number_codes(db_url, &tracked).await?));
                Some((std::slice::from_ref(&scripts.track), defines))
            }
            None => None,
        };
        let mut relay = match &pg_track {
            Some(_) if args.relay => Some(Relay::start(db_url).await?),
            _ => None,
        };
        let track_load = Load::Track(tracked.clone());
        let mut track = BestOf::new(&name, &server, &track_load, args.seconds, 200);
        let mut own_track = None;
        let mut relayed_track = None;
        for &count in &args.connections {
            track.run(count).await?;
            if let Some((script, defines)) = &pg_track {
                let run = pgbench(db_url, script, defines, count, args.baseline_seconds).await?;
                run.print_run("pgbench: the service's captured tracking");
                keep_best(&mut own_track, run);
                if let Some(relay) = relay.as_mut() {
                    relay.ensure_running()?;
                    let before = relay.cpu_seconds();
                    let mut run =
                        pgbench(&relay.url, script, defines, count, args.baseline_seconds).await?;
                    run.relay_cpu_us = micros_per(before, relay.cpu_seconds(), run.transactions);
                    run.print_run("pgbench: the same, through a relay");
                    keep_best(&mut relayed_track, run);
                }
            }
        }
        if let Some(relay) = relay {
            relay.stop().await?;
        }
        let track = track.finish()?;
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
        match (&args.db, own_track, &uncached) {
            _ if args.service_only => {
                figures.add("tracking: service req/s", track.rate());
                figures.add("tracking: service p99 ms", track.percentile(0.99));
            }
            (Db::Postgres, Some(own), _) => {
                figures.add("tracking: service req/s", track.rate());
                figures.add("tracking: service p99 ms", track.percentile(0.99));
                own.print_best("pgbench: the service's captured tracking");
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
                if let Some(relayed) = relayed_track {
                    relayed.print_best("pgbench: the same, through a relay");
                    figures.add(
                        "tracking: pgbench through a relay tps (best clients)",
                        relayed.tps,
                    );
                    if let Some(per_transaction) = relayed.relay_cpu_us {
                        figures.add("tracking: relay CPU µs per transaction", per_transaction);
                    }
                    figures.add(
                        "tracking: pgbench through a relay / direct %",
                        100.0 * relayed.tps / own.tps,
                    );
                    figures.add(
                        "tracking: service / pgbench through a relay %",
                        100.0 * track.rate() / relayed.tps,
                    );
                }
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
