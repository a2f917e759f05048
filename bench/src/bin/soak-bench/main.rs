//! `soak-bench`: half an hour of mixed load on PostgreSQL with the service's real processes, its
//! memory sampled every minute, and every dossier checked at the end.
//!
//! It makes a fresh database `soak_<pid>` on `--pg-url`'s server (dropped at the end unless `--keep`),
//! seeds the demo reference data and makes a postal key (office 100000) and one agency key per
//! `--agencies` with `dossier keys create`, then runs, as production does:
//! - `dossier serve --no-worker` (the release binary next to this one) with the public-internet limits
//!   on at ceilings the load never reaches;
//! - a stand-alone `dossier worker`, pointed at the carrier sandbox (`DOSSIER__CARRIER__*`, the feed read
//!   every `--poll-secs`) and at an SMTP receiver (`DOSSIER__SMTP__URL`);
//! - in this process, the two outside parties: the carrier sandbox (real time, parcels moving
//!   `--carrier-pace` times faster than usual, so a parcel's journey takes seconds) and a receiving SMTP
//!   server that counts messages by Message-ID.
//!
//! For `--minutes` (30) it sends, at fixed rates from a few keep-alive connections each: pickup
//! requests (`--rate`, 10 per second, each with an e-mail address), tracking reads and citizens' own
//! reads (`--read-rate`, 50 per second), and the staff's work that follows every request — pickups
//! (some booked first), `departed` scans one by one and in offline batches, handover records both
//! ways, verdicts, results, collections at the desk and identity confirmations of the deliveries the
//! carrier reports — so every dossier travels to `delivered` with the worker ordering parcels, reading
//! the carrier's feed and e-mailing each step (see `load.rs`). Every minute it prints the requests by kind, their rates,
//! errors and p99 latency, each process's resident memory (`VmRSS`) and CPU, the outbox backlog, the
//! e-mails received, the carrier events stored, and how busy the whole machine was (PostgreSQL, this
//! process and anything else running count too: a figure to read before trusting the others).
//!
//! Then it stops the load, waits (at most `--drain-secs`) until the outbox is empty, every parcel has
//! finished its journey at the carrier and the worker has read the whole feed, stops the worker and
//! the server with SIGTERM, and checks the database (see `check.rs`): every dossier made is there,
//! none else, each in a status that fits what the load last did to it; each status is the `to_status`
//! of the dossier's last status-changing event and the changes chain; no event twice; scans stored
//! once; every outbox row delivered, every e-mail received exactly once (the receiver's Message-IDs
//! against the rows sent); every carrier event stored once and every one up to the feed cursor stored;
//! every parcel ordered at the carrier.
//!
//! The run passes when all of these hold:
//! 1. every answer had its expected status (and every batch of scans was accepted whole);
//! 2. neither process logged an ERROR (warnings are counted and shown, not failed);
//! 3. no growth after warm-up, for each process: its last RSS sample is at most the highest of the
//!    first third of the samples from the end of the warm-up (`--warmup-minutes`, 5) on, plus
//!    `--growth-percent` (10 %) of that or `--growth-mib` (16 MiB), whichever is larger;
//! 4. the outbox drained within `--drain-secs`, and both processes stopped cleanly on SIGTERM;
//! 5. every closing check holds.
//!
//! ```sh
//! cargo build --release -p dossier -p bench --bins
//! target/release/soak-bench                                  # 30 minutes
//! target/release/soak-bench --minutes 2 --warmup-minutes 1   # a quick check
//! ```
//!
//! The processes' logs (JSON, warnings and errors only) are written to a directory that is kept when
//! the run fails or with `--keep`. Nothing personal is printed: counts, not names or phones.

mod check;
mod load;
mod proc;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::cpu::{cpu_seconds, machine_ticks};
use bench::{admin_sql, database_url, free_port, name_and_value, raise_limits};
use clap::Parser;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use ::tests::smtp_sink::SmtpSink;
use load::{Load, LoadConfig, Pipeline};
use proc::{Process, dossier_command, rss_kib, wait_ready};
use stats::{Kind, KindStats, Stats, p99_ms};

#[derive(Parser)]
#[command(
    about = "A soak run of the dossier service on PostgreSQL: mixed load, memory, consistency"
)]
struct Args {
    /// PostgreSQL server to make the soak's database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// Minutes of load.
    #[arg(long, default_value_t = 30)]
    minutes: u32,
    /// Minutes of warm-up, after which memory must not keep growing.
    #[arg(long, default_value_t = 5)]
    warmup_minutes: u32,
    /// Pickup requests per second (each followed by the staff's work on it: about four more requests
    /// per second for each).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Reads per second: public tracking, and one in ten a citizen's own view.
    #[arg(long, default_value_t = 50.0)]
    read_rate: f64,
    /// Connections sending pickup requests.
    #[arg(long, default_value_t = 2)]
    citizens: usize,
    /// Connections reading.
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// Clerks (one connection each) at the post office, and as many at the agencies.
    #[arg(long, default_value_t = 2)]
    clerks: usize,
    /// Seconds between handover records, each way.
    #[arg(long, default_value_t = 5)]
    handover_secs: u64,
    /// The agencies the requests go to: three in four to the first, the fourth to the second.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "UBND-P-HOANKIEM,UBND-P-SAIGON"
    )]
    agencies: Vec<String>,
    /// How many times faster than usual parcels move at the carrier (event times stay real).
    #[arg(long, default_value_t = 3600.0)]
    carrier_pace: f64,
    /// Chance that a delivery attempt fails at the carrier.
    #[arg(long, default_value_t = 0.1)]
    carrier_failure_rate: f64,
    /// Seconds between the worker's reads of the carrier's feed.
    #[arg(long, default_value_t = 2)]
    poll_secs: u64,
    /// Longest wait, after the load, for the outbox and the carrier to settle.
    #[arg(long, default_value_t = 300)]
    drain_secs: u64,
    /// Allowed growth after warm-up, in percent of the baseline…
    #[arg(long, default_value_t = 10.0)]
    growth_percent: f64,
    /// …or in MiB, whichever is larger.
    #[arg(long, default_value_t = 16.0)]
    growth_mib: f64,
    /// Keep the database and the logs.
    #[arg(long)]
    keep: bool,
    /// The `dossier` binary the worker runs (by default the one beside this binary, as `serve`): a
    /// build with `--features system-allocator`, under a heap profiler (`bench/scripts/worker-heap.sh`).
    #[arg(long)]
    worker_bin: Option<PathBuf>,
    /// `NAME=VALUE` for the worker's environment only (repeatable), such as a heap profiler's
    /// `LD_PRELOAD`.
    #[arg(long = "worker-env", value_name = "NAME=VALUE", value_parser = name_and_value)]
    worker_env: Vec<(String, String)>,
}

/// The load generator's own allocator, as the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    // Minute 0 is sampled before any load: a warm-up of at least a minute keeps it out of the
    // baseline, and a sample after the warm-up is needed to judge anything.
    if args.warmup_minutes == 0 || args.warmup_minutes >= args.minutes {
        bail!("--warmup-minutes must be at least 1 and less than --minutes");
    }
    if args.agencies.is_empty() || args.rate <= 0.0 || args.read_rate <= 0.0 {
        bail!("--agencies, --rate and --read-rate must not be empty or zero");
    }
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("dossier");
    if !bin.exists() {
        bail!(
            "{} not found: run `cargo build --release -p dossier -p bench --bins` first",
            bin.display()
        );
    }
    // The processes run in a directory of their own: the worker's binary by its whole path.
    if let Some(worker_bin) = &mut args.worker_bin {
        *worker_bin = std::fs::canonicalize(&*worker_bin)
            .with_context(|| format!("--worker-bin {}", worker_bin.display()))?;
    }
    let dir = tempfile::Builder::new().prefix("soak-").tempdir()?;
    let name = format!("soak_{}", std::process::id());
    admin_sql(&args.pg_url, format!("CREATE DATABASE \"{name}\"")).await?;
    let db_url = database_url(&args.pg_url, &name);
    // Ctrl-C drops the run (its child processes are killed with it) and still drops the database.
    let outcome = tokio::select! {
        outcome = run(&args, &bin, &db_url, dir.path()) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let passed = matches!(outcome, Ok(true));
    if args.keep {
        println!("database kept: {db_url}");
    } else {
        admin_sql(
            &args.pg_url,
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )
        .await?;
    }
    if args.keep || !passed {
        let kept = dir.keep();
        println!("logs kept in {}", kept.display());
    }
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => std::process::exit(1),
        Err(e) => Err(e),
    }
}

/// One process's samples: (minute, VmRSS KiB).
#[derive(Default)]
struct Samples(Vec<(u32, u64)>);

/// What the growth rule says about one process.
struct Growth {
    baseline_kib: u64,
    baseline_minutes: (u32, u32),
    last_kib: u64,
    last_minute: u32,
    limit_kib: u64,
    /// Least-squares slope of the samples after warm-up, KiB per minute.
    slope_kib_per_min: f64,
}

impl Growth {
    fn ok(&self) -> bool {
        self.last_kib <= self.limit_kib
    }
}

/// The growth rule (see the module doc): the samples from minute `warmup` on; the baseline is the
/// highest of their first third (at least one, never the last); the last sample may exceed it by
/// `percent` of it or `mib`, whichever is larger.
fn growth(samples: &[(u32, u64)], warmup: u32, percent: f64, mib: f64) -> Option<Growth> {
    let post: Vec<(u32, u64)> = samples
        .iter()
        .copied()
        .filter(|(m, _)| *m >= warmup)
        .collect();
    if post.len() < 2 {
        return None;
    }
    let first = (post.len() / 3).clamp(1, post.len() - 1);
    let baseline_kib = post[..first].iter().map(|(_, k)| *k).max().unwrap_or(0);
    let &(last_minute, last_kib) = post.last()?;
    let margin = (baseline_kib as f64 * percent / 100.0).max(mib * 1024.0);
    let n = post.len() as f64;
    let mean_x = post.iter().map(|(m, _)| f64::from(*m)).sum::<f64>() / n;
    let mean_y = post.iter().map(|(_, k)| *k as f64).sum::<f64>() / n;
    let sxx: f64 = post
        .iter()
        .map(|(m, _)| (f64::from(*m) - mean_x).powi(2))
        .sum();
    let sxy: f64 = post
        .iter()
        .map(|(m, k)| (f64::from(*m) - mean_x) * (*k as f64 - mean_y))
        .sum();
    Some(Growth {
        baseline_kib,
        baseline_minutes: (post[0].0, post[first - 1].0),
        last_kib,
        last_minute,
        limit_kib: baseline_kib + margin as u64,
        slope_kib_per_min: if sxx > 0.0 { sxy / sxx } else { 0.0 },
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The database of the run, for the per-minute figures and the closing checks.
async fn monitor_connection(db_url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(db_url.to_owned());
    options.max_connections(2).sqlx_logging(false);
    Ok(Database::connect(options).await?)
}

async fn single_number(db: &DatabaseConnection, sql: &str) -> Option<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .ok()??;
    row.try_get::<i64>("", "n").ok()
}

/// The service's processes, and what they cost so far.
struct Watched {
    processes: Vec<Process>,
    samples: Vec<Samples>,
    cpu_before: Vec<Option<f64>>,
    /// This process's CPU time (the load, the carrier sandbox, the SMTP receiver).
    own_before: Option<f64>,
    /// The machine's busy and total CPU ticks.
    machine_before: Option<(u64, u64)>,
}

impl Watched {
    fn sample(&mut self, minute: u32) -> Vec<(Option<u64>, Option<f64>)> {
        let mut out = Vec::new();
        for (i, p) in self.processes.iter().enumerate() {
            let rss = rss_kib(p.pid);
            if let Some(kib) = rss {
                self.samples[i].0.push((minute, kib));
            }
            let cpu = cpu_seconds(p.pid);
            let used = match (self.cpu_before[i], cpu) {
                (Some(before), Some(now)) => Some(now - before),
                _ => None,
            };
            self.cpu_before[i] = cpu;
            out.push((rss, used));
        }
        out
    }

    /// Since the last call: the CPU seconds this process used, and the share of the machine's CPU
    /// time that was busy (every core counted).
    fn machine(&mut self) -> (Option<f64>, Option<f64>) {
        let own = cpu_seconds(std::process::id());
        let own_used = match (self.own_before, own) {
            (Some(before), Some(now)) => Some(now - before),
            _ => None,
        };
        self.own_before = own;
        let machine = machine_ticks();
        let busy = match (self.machine_before, machine) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                Some((b1.saturating_sub(b0)) as f64 / (t1 - t0) as f64)
            }
            _ => None,
        };
        self.machine_before = machine;
        (own_used, busy)
    }
}

/// Prints one minute's lines.
async fn report_minute(
    args: &Args,
    minute: u32,
    seconds: f64,
    stats: &[KindStats],
    watched: &mut Watched,
    db: &DatabaseConnection,
    sink: &SmtpSink,
) {
    let n = |k: Kind| stats.get(k as usize).map_or(0, |s| s.count);
    let rate = |k: Kind| n(k) as f64 / seconds;
    let mut public_lat = Vec::new();
    let mut staff_lat = Vec::new();
    let mut all_lat = Vec::new();
    let mut staff = 0;
    let mut errors = 0;
    for (k, s) in Kind::ALL.iter().zip(stats) {
        errors += s.errors;
        all_lat.extend_from_slice(&s.latencies_us);
        if k.is_public() {
            public_lat.extend_from_slice(&s.latencies_us);
        } else {
            staff += s.count;
            staff_lat.extend_from_slice(&s.latencies_us);
        }
    }
    println!(
        "[{minute:>2}/{}] request {} ({:.1}/s), cancel {}, track {} ({:.1}/s), view {} | staff {} \
         ({:.1}/s) | errors {errors} | p99 {:.1} ms (public {:.1}, staff {:.1})",
        args.minutes,
        n(Kind::Request),
        rate(Kind::Request),
        n(Kind::Cancel),
        n(Kind::Track),
        rate(Kind::Track),
        n(Kind::View),
        staff,
        staff as f64 / seconds,
        p99_ms(&mut all_lat),
        p99_ms(&mut public_lat),
        p99_ms(&mut staff_lat),
    );
    println!(
        "        staff: {}",
        Kind::ALL
            .iter()
            .filter(|k| !k.is_public())
            .map(|k| format!("{} {}", k.name(), n(*k)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let used = watched.sample(minute);
    let memory: Vec<String> = watched
        .processes
        .iter()
        .zip(used)
        .map(|(p, (rss, cpu))| {
            format!(
                "{} {} MiB, CPU {}",
                p.name,
                rss.map_or("?".to_owned(), |k| format!("{:.1}", mib(k))),
                cpu.map_or("?".to_owned(), |c| format!("{:.0} %", 100.0 * c / seconds))
            )
        })
        .collect();
    let pending = single_number(
        db,
        "SELECT count(*) AS n FROM outbox WHERE status = 'pending'",
    )
    .await;
    let failed = single_number(
        db,
        "SELECT count(*) AS n FROM outbox WHERE status = 'failed'",
    )
    .await;
    let carrier = single_number(db, "SELECT count(*) AS n FROM carrier_events").await;
    let shown = |v: Option<i64>| v.map_or("?".to_owned(), |v| v.to_string());
    let (warnings, log_errors) = watched.processes.iter().fold((0, 0), |(w, e), p| {
        (w + p.logs.warnings(), e + p.logs.errors())
    });
    let (own, busy) = watched.machine();
    println!(
        "        RSS {} | outbox pending {}, failed {} | e-mails received {} | carrier events {} | \
         logged warnings {warnings}, errors {log_errors} | machine CPU {} busy ({} cores), load \
         generator and sandboxes {}",
        memory.join("; "),
        shown(pending),
        shown(failed),
        sink.count(),
        shown(carrier),
        busy.map_or("?".to_owned(), |b| format!("{:.0} %", 100.0 * b)),
        std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get),
        own.map_or("?".to_owned(), |c| format!("{:.0} %", 100.0 * c / seconds)),
    );
}

/// Starts everything, runs the load, drains, stops, checks; whether the run passed.
async fn run(args: &Args, bin: &Path, db_url: &str, dir: &Path) -> anyhow::Result<bool> {
    println!("soak-bench: preparing {db_url}");
    proc::run_to_end(
        {
            let mut c = dossier_command(bin, dir);
            c.args(["seed", "--database-url", db_url]);
            c
        },
        "dossier seed",
    )
    .await?;
    let key = |role: &str, scope: Option<(&str, &str)>, name: &str| {
        let mut c = dossier_command(bin, dir);
        c.args(["keys", "create", "--role", role, "--name", name]);
        if let Some((flag, value)) = scope {
            c.args([flag, value]);
        }
        c.args(["--database-url", db_url]);
        c
    };
    let last_line = |out: String| out.lines().last().unwrap_or_default().trim().to_owned();
    let postal_key = last_line(
        proc::run_to_end(
            key("postal", Some(("--office", "100000")), "Soak post office"),
            "dossier keys create --role postal",
        )
        .await?,
    );
    let mut agencies = Vec::new();
    for code in &args.agencies {
        let k = last_line(
            proc::run_to_end(
                key("agency", Some(("--agency", code)), "Soak agency desk"),
                "dossier keys create --role agency",
            )
            .await?,
        );
        agencies.push((code.clone(), k));
    }

    let sandbox = carrier_sandbox::Sandbox::start(carrier_sandbox::SandboxConfig {
        speed: 1.0,
        pace: args.carrier_pace,
        delivery_failure_rate: args.carrier_failure_rate,
        ..carrier_sandbox::SandboxConfig::default()
    })
    .await
    .context("start the carrier sandbox")?;
    let sink = SmtpSink::start_keeping_ids()
        .await
        .context("start the SMTP receiver")?;

    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = dossier_command(bin, dir);
    raise_limits(&mut serve);
    serve.args([
        "serve",
        "--no-worker",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--database-url",
        db_url,
    ]);
    let server = Process::spawn("serve", serve, dir.join("serve.log"))?;
    wait_ready(&format!("{base}/health/ready"), Duration::from_secs(60)).await?;

    let metrics_port = free_port()?;
    let c = sandbox.config();
    let mut worker = dossier_command(args.worker_bin.as_deref().unwrap_or(bin), dir);
    worker
        .envs(args.worker_env.iter().map(|(name, value)| (name, value)))
        .env("DOSSIER__SMTP__URL", sink.url())
        .env("DOSSIER__CARRIER__BASE_URL", sandbox.base_url())
        .env("DOSSIER__CARRIER__CONSUMER_KEY", &c.consumer_key)
        .env("DOSSIER__CARRIER__CONSUMER_SECRET", &c.consumer_secret)
        .env("DOSSIER__CARRIER__CUSTOMER_CODE", &c.customer_code)
        .env(
            "DOSSIER__CARRIER__POLL_INTERVAL_SECS",
            args.poll_secs.to_string(),
        )
        .env("DOSSIER__PUBLIC_BASE_URL", &base)
        .env(
            "DOSSIER__WORKER__METRICS_BIND",
            format!("127.0.0.1:{metrics_port}"),
        )
        .args(["worker", "--database-url", db_url]);
    let worker = Process::spawn("worker", worker, dir.join("worker.log"))?;
    wait_ready(
        &format!("http://127.0.0.1:{metrics_port}/health/ready"),
        Duration::from_secs(60),
    )
    .await?;

    let db = monitor_connection(db_url).await?;
    println!(
        "soak-bench: {} min ({} min warm-up) on PostgreSQL; serve pid {}, worker pid {}; {:.1} pickup \
         requests/s from {} connections, {:.1} reads/s from {}, {} clerks per desk; carrier pace \
         {}×, feed read every {} s; logs in {}",
        args.minutes,
        args.warmup_minutes,
        server.pid,
        worker.pid,
        args.rate,
        args.citizens,
        args.read_rate,
        args.readers,
        args.clerks,
        args.carrier_pace,
        args.poll_secs,
        dir.display()
    );
    println!(
        "pass rules: every answer as expected; no ERROR logged; after the warm-up each process's last \
         RSS ≤ the highest of the first third of its samples from minute {} on + max({} %, {} MiB); \
         the outbox drained within {} s and both processes stop on SIGTERM; every closing check holds",
        args.warmup_minutes, args.growth_percent, args.growth_mib, args.drain_secs
    );

    let mut watched = Watched {
        samples: vec![Samples::default(), Samples::default()],
        cpu_before: vec![cpu_seconds(server.pid), cpu_seconds(worker.pid)],
        processes: vec![server, worker],
        own_before: None,
        machine_before: None,
    };
    watched.sample(0);
    watched.machine();
    let pipeline = Arc::new(Pipeline::new(agencies.len()));
    let stats = Arc::new(Stats::default());
    let config = LoadConfig {
        base: base.clone(),
        rate: args.rate,
        read_rate: args.read_rate,
        citizens: args.citizens,
        readers: args.readers,
        clerks: args.clerks,
        handover_every: Duration::from_secs(args.handover_secs.max(1)),
        postal_key,
        agencies,
    };
    let mut failures: Vec<String> = Vec::new();
    let load = Load::start(&config, &pipeline, &stats)?;
    let started = Instant::now();
    let mut last_minute_at = started;
    'minutes: for minute in 1..=args.minutes {
        let due = started + Duration::from_secs(60 * u64::from(minute));
        while Instant::now() < due {
            tokio::time::sleep(Duration::from_millis(500)).await;
            for p in &mut watched.processes {
                if let Some(status) = p.exited() {
                    failures.push(format!("{} exited during the load ({status})", p.name));
                    break 'minutes;
                }
            }
        }
        let seconds = last_minute_at.elapsed().as_secs_f64();
        last_minute_at = Instant::now();
        let minute_stats = stats.take_minute();
        report_minute(
            args,
            minute,
            seconds,
            &minute_stats,
            &mut watched,
            &db,
            &sink,
        )
        .await;
    }
    load.stop().await?;
    let load_seconds = started.elapsed().as_secs_f64().max(1.0);
    println!(
        "load stopped after {:.1} min; dossiers by how far the load took them: {}",
        started.elapsed().as_secs_f64() / 60.0,
        pipeline
            .stages()
            .iter()
            .map(|(s, n)| format!("{} {n}", s.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let drained = drain(args, &db, &sandbox, &pipeline).await;
    if let Err(why) = &drained {
        failures.push(why.clone());
    }
    let peaks: Vec<Option<u64>> = watched
        .processes
        .iter()
        .map(|p| proc::peak_rss_kib(p.pid))
        .collect();
    // The worker first, as an operator would: nothing is left for it to do.
    for p in watched.processes.iter_mut().rev() {
        let grace = Duration::from_secs(if p.name == "worker" { 45 } else { 20 });
        match p.terminate(grace).await {
            Ok(status) if status.success() => println!("{} stopped on SIGTERM", p.name),
            Ok(status) => failures.push(format!("{} exited with {status} on SIGTERM", p.name)),
            Err(e) => failures.push(format!("{e:#}")),
        }
    }

    println!("\n== requests over the whole run");
    let totals = stats.totals();
    let seconds = load_seconds;
    let mut errors = 0;
    for (k, s) in Kind::ALL.iter().zip(totals) {
        errors += s.errors;
        let mut lat = s.latencies_us;
        println!(
            "  {:<11} {:>8} ({:>6.1}/s)  errors {:>3}  p99 {:>7.1} ms",
            k.name(),
            s.count,
            s.count as f64 / seconds,
            s.errors,
            p99_ms(&mut lat)
        );
    }
    if errors > 0 {
        failures.push(format!(
            "{errors} answers were not the expected ones: {}",
            stats
                .errors()
                .iter()
                .map(|(e, n)| format!("{e} (×{n})"))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }

    println!("\n== memory (VmRSS at the end of each minute)");
    for (i, p) in watched.processes.iter().enumerate() {
        let samples = &watched.samples[i].0;
        println!(
            "  {:<6} {}  (peak VmHWM {})",
            p.name,
            samples
                .iter()
                .map(|(m, k)| format!("{m}: {:.1}", mib(*k)))
                .collect::<Vec<_>>()
                .join(", "),
            peaks[i].map_or("?".to_owned(), |k| format!("{:.1} MiB", mib(k)))
        );
        match growth(
            samples,
            args.warmup_minutes,
            args.growth_percent,
            args.growth_mib,
        ) {
            Some(g) => {
                let line = format!(
                    "{}: last sample (minute {}) {:.1} MiB, baseline {:.1} MiB (highest of minutes \
                     {}–{}), limit {:.1} MiB; trend after warm-up {:+.2} MiB/min",
                    p.name,
                    g.last_minute,
                    mib(g.last_kib),
                    mib(g.baseline_kib),
                    g.baseline_minutes.0,
                    g.baseline_minutes.1,
                    mib(g.limit_kib),
                    g.slope_kib_per_min / 1024.0
                );
                println!("  {} {line}", if g.ok() { "ok    " } else { "FAILED" });
                if !g.ok() {
                    failures.push(format!("memory grew after warm-up: {line}"));
                }
            }
            None => failures.push(format!("{}: too few memory samples to judge", p.name)),
        }
    }

    println!("\n== logs");
    for p in &watched.processes {
        println!(
            "  {:<6} {} warnings, {} errors ({})",
            p.name,
            p.logs.warnings(),
            p.logs.errors(),
            p.log_file.display()
        );
        for sample in p.logs.samples() {
            println!("         {sample}");
        }
        if p.logs.errors() > 0 {
            failures.push(format!("{} logged {} errors", p.name, p.logs.errors()));
        }
    }

    println!("\n== closing checks");
    let findings = check::run(&db, &pipeline, &sink, &sandbox).await?;
    for line in &findings.lines {
        println!("{line}");
    }
    failures.extend(findings.failures);
    db.close().await.ok();
    sandbox.shutdown().await;

    println!();
    if failures.is_empty() {
        println!("VERDICT: PASS");
        Ok(true)
    } else {
        println!("VERDICT: FAIL");
        for f in &failures {
            println!("  - {f}");
        }
        Ok(false)
    }
}

/// Waits until nothing is left to do: no outbox row pending, no parcel still on its way at the
/// carrier, and the worker's cursor at the end of the feed — twice in a row, a few seconds apart.
async fn drain(
    args: &Args,
    db: &DatabaseConnection,
    sandbox: &carrier_sandbox::SandboxHandle,
    pipeline: &Pipeline,
) -> Result<(), String> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.drain_secs);
    let mut settled_once = false;
    let mut said = Instant::now();
    loop {
        let pending = single_number(
            db,
            "SELECT count(*) AS n FROM outbox WHERE status = 'pending'",
        )
        .await
        .unwrap_or(-1);
        let cursor = single_number(
            db,
            "SELECT last_id AS n FROM carrier_cursor WHERE carrier = 'vnpost'",
        )
        .await
        .unwrap_or(0);
        let world = sandbox.world_stats();
        let moving = world.scheduled_events;
        let unread = world.last_id - cursor;
        let settled = pending == 0 && moving == 0 && unread <= 0;
        if settled && settled_once {
            println!(
                "drained in {:.1} s: outbox empty, every parcel at the end of its journey, the feed \
                 read to its end (id {cursor})",
                started.elapsed().as_secs_f64()
            );
            let with_post = pipeline
                .stages()
                .iter()
                .find(|(s, _)| *s == load::Stage::WithPost)
                .map_or(0, |(_, n)| *n);
            println!("{with_post} results were handed to the post during the load");
            return Ok(());
        }
        settled_once = settled;
        if Instant::now() >= deadline {
            return Err(format!(
                "not drained within {} s: {pending} outbox rows pending, {moving} carrier events \
                 still to happen, {unread} feed records unread",
                args.drain_secs
            ));
        }
        if said.elapsed() >= Duration::from_secs(10) {
            said = Instant::now();
            println!(
                "  draining: {pending} outbox rows pending, {moving} carrier events still to \
                 happen, {unread} feed records unread"
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::growth;

    const MIB: u64 = 1024;

    #[test]
    fn flat_memory_after_warm_up_passes() {
        let samples: Vec<(u32, u64)> = (0..=30)
            .map(|m| (m, (60 + m.min(5)) as u64 * MIB))
            .collect();
        let g = growth(&samples, 5, 10.0, 16.0).expect("judged");
        assert!(g.ok());
        assert_eq!(g.baseline_minutes, (5, 12));
    }

    #[test]
    fn steady_growth_fails() {
        let samples: Vec<(u32, u64)> = (0..=30).map(|m| (m, (60 + 2 * m) as u64 * MIB)).collect();
        let g = growth(&samples, 5, 10.0, 16.0).expect("judged");
        assert!(!g.ok(), "60 → 120 MiB is growth");
        assert!((g.slope_kib_per_min / 1024.0 - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_short_run_compares_its_last_sample_with_the_end_of_warm_up() {
        let g = growth(
            &[(0, 50 * MIB), (1, 60 * MIB), (2, 70 * MIB)],
            1,
            10.0,
            16.0,
        )
        .expect("judged");
        assert_eq!(g.baseline_kib, 60 * MIB);
        assert_eq!(g.limit_kib, 76 * MIB);
        assert!(g.ok());
        assert!(growth(&[(0, 1), (1, 1)], 1, 10.0, 16.0).is_none());
    }
}
