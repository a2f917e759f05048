//! The load on the server: one phase of requests from many keep-alive connections ([`run_load`]),
//! and each phase run from every connection count with the best rate taken ([`best_of`], [`BestOf`]).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::checkpoint;
use bench::cpu::{cpu_seconds, micros_per, postgres_cpu_seconds};
use bytes::Bytes;
use serde_json::Value;

use crate::http1;
use crate::server::Server;

/// Latencies and count of one phase.
pub struct Phase {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub latencies_us: Vec<u32>,
}

impl Phase {
    /// Answered as expected, per second: a failed request is not a result.
    pub fn rate(&self) -> f64 {
        (self.requests - self.errors) as f64 / self.elapsed.as_secs_f64()
    }
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let idx = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[idx]) / 1000.0
    }
    pub fn print(&self) {
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
pub enum Load {
    /// A pickup request, written around its applicant's phone (the text before and after it): each
    /// request has a phone of its own, as citizens do, so the per-phone limit counts what it would
    /// count in real use.
    Create(Bytes, Bytes),
    Track(Arc<Vec<String>>),
}

/// Sends `load` from `connections` connections for `seconds`; the phase, and the codes of the
/// dossiers a `Create` load made.
pub async fn run_load(
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
pub const P99_BOUND_MS: f64 = 20.0;

/// One phase run from each of `connections` connection counts in turn.
pub struct Best {
    /// The run with the highest rate.
    pub phase: Phase,
    /// Its connection count.
    pub connections: usize,
    /// The highest rate of the runs whose p99 was under [`P99_BOUND_MS`], if any was.
    pub rate_within_p99_bound: Option<f64>,
    /// The server's CPU time per request over that run, in µs.
    pub cpu_us: Option<f64>,
    /// PostgreSQL's CPU time per request over that run (all its processes), in µs; `None` on SQLite.
    pub pg_cpu_us: Option<f64>,
    /// The codes every run's pickup requests made.
    pub codes: Vec<String>,
}

/// Runs `load` from each of `connections` connection counts for `seconds`, printing each run, and
/// keeps the best rate, as [`crate::baselines::keep_best`] does for the baselines. Fails on any
/// unexpected answer.
pub async fn best_of(
    name: &str,
    server: &Server,
    load: &Load,
    connections: &[usize],
    seconds: u64,
    expect: u16,
) -> anyhow::Result<Best> {
    let mut runs = BestOf::new(name, server, load, seconds, expect);
    for &count in connections {
        runs.run(count).await?;
    }
    runs.finish()
}

/// A phase run from one connection count at a time, the best rate kept: [`best_of`] in steps, so
/// that a baseline can run at the same count right after each run of the service.
pub struct BestOf<'a> {
    name: &'a str,
    server: &'a Server,
    load: &'a Load,
    seconds: u64,
    expect: u16,
    best: Option<Best>,
    within_bound: Option<f64>,
    codes: Vec<String>,
}

impl<'a> BestOf<'a> {
    pub fn new(
        name: &'a str,
        server: &'a Server,
        load: &'a Load,
        seconds: u64,
        expect: u16,
    ) -> Self {
        Self {
            name,
            server,
            load,
            seconds,
            expect,
            best: None,
            within_bound: None,
            codes: Vec::new(),
        }
    }

    /// One run from `count` connections, printed. Fails on any unexpected answer.
    pub async fn run(&mut self, count: usize) -> anyhow::Result<()> {
        let server = self.server;
        checkpoint(&server.db_url).await?;
        let cpu_before = cpu_seconds(server.pid);
        let own_before = cpu_seconds(std::process::id());
        let on_postgres = server.db_url.starts_with("postgres");
        let pg_before = on_postgres.then(postgres_cpu_seconds).flatten();
        let (phase, made) = run_load(
            &format!("{} [{count} conn]", self.name),
            server.port,
            self.load.clone(),
            count,
            self.seconds,
            self.expect,
        )
        .await?;
        let cpu_after = cpu_seconds(server.pid);
        let own_after = cpu_seconds(std::process::id());
        let pg_after = on_postgres.then(postgres_cpu_seconds).flatten();
        phase.print();
        ensure_clean(&phase)?;
        self.codes.extend(made);
        let requests = phase.requests as f64;
        let cpu_us = micros_per(cpu_before, cpu_after, requests);
        let own_us = micros_per(own_before, own_after, requests);
        let pg_us = micros_per(pg_before, pg_after, requests);
        if let (Some(cpu), Some(own)) = (cpu_us, own_us) {
            let pg = pg_us.map_or_else(String::new, |pg| format!(", PostgreSQL {pg:.0} µs"));
            println!("  CPU per request: server {cpu:.0} µs{pg}, this load generator {own:.0} µs");
        }
        if phase.percentile(0.99) < P99_BOUND_MS {
            self.within_bound = Some(
                self.within_bound
                    .map_or(phase.rate(), |r: f64| r.max(phase.rate())),
            );
        }
        if self
            .best
            .as_ref()
            .is_none_or(|b| phase.rate() > b.phase.rate())
        {
            self.best = Some(Best {
                phase,
                connections: count,
                rate_within_p99_bound: None,
                cpu_us,
                pg_cpu_us: pg_us,
                codes: Vec::new(),
            });
        }
        Ok(())
    }

    /// The best run, with every run's codes; printed.
    pub fn finish(self) -> anyhow::Result<Best> {
        let mut best = self.best.context("no connection count to run")?;
        best.codes = self.codes;
        best.rate_within_p99_bound = self.within_bound;
        println!(
            "  best: {:.0} req/s at {} connections, p99 {:.2} ms; best with p99 < {P99_BOUND_MS} ms: {}",
            best.phase.rate(),
            best.connections,
            best.phase.percentile(0.99),
            self.within_bound
                .map_or_else(|| "none".to_owned(), |r| format!("{r:.0} req/s")),
        );
        Ok(best)
    }
}

/// The `code` of a pickup request's answer.
pub fn code_of(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Some(v.get("code")?.as_str()?.to_owned())
}

pub fn ensure_clean(phase: &Phase) -> anyhow::Result<()> {
    if phase.errors > 0 {
        bail!(
            "{}: {} requests were not answered as expected: this run measures nothing",
            phase.name,
            phase.errors
        );
    }
    Ok(())
}
