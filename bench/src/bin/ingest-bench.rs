//! `ingest-bench`: carrier events ingested per second from the feed (targets: 20,000/s into PostgreSQL,
//! 10,000/s into SQLite).
//!
//! For each database it prepares `--parcels` picked-up dossiers whose parcels the in-process carrier
//! sandbox knows, moves the sandbox's clock `--hours` ahead (by default every parcel goes the whole way:
//! picked up, at the office, in transit, out for delivery, a failed attempt now and then, delivered),
//! then runs the worker's sync cycle — take the cursor's lease, read the feed from the cursor with the
//! overlap window, store and apply the records and move the cursor in one transaction — until the feed
//! has nothing new. It prints events per second overall (HTTP reads of the feed included) and for the
//! storing alone (`ingest_feed`: carrier events inserted, dossiers moved through the scans path with
//! their timeline, outbox and parcel updates), and checks that every record was stored once.
//!
//! ```sh
//! cargo run --release -p bench --bin ingest-bench -- --db sqlite --db postgres
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::carrier_fixture::{Db, Fixture};
use clap::Parser;
use domain::ops::carrier_ingest::{self, CarrierRecord};
use worker::carrier::{FeedRead, feed_with_overlap};
use worker::sync::to_domain;

#[derive(Parser)]
#[command(about = "Carrier events ingested per second from the feed, on SQLite and PostgreSQL")]
struct Args {
    /// Databases to measure (repeat the flag for several).
    #[arg(long, value_enum, default_values_t = [Db::Sqlite, Db::Postgres])]
    db: Vec<Db>,
    /// PostgreSQL server to make a fresh benchmark database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// Parcels in flight.
    #[arg(long, default_value_t = 20_000)]
    parcels: u32,
    /// Simulated hours the carrier moves its parcels before the sync starts.
    #[arg(long, default_value_t = 96)]
    hours: u64,
    /// Records per feed page (the sandbox serves at most 1,000).
    #[arg(long, default_value_t = 1000)]
    page_size: u32,
    /// Feed pages per cycle, i.e. per transaction.
    #[arg(long, default_value_t = 20)]
    pages_per_cycle: u32,
}

/// The service's allocator (the `dossier` binary's), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for db in args.db.clone() {
        run(&args, db).await?;
    }
    Ok(())
}

async fn run(args: &Args, db: Db) -> anyhow::Result<()> {
    println!("ingest-bench on {}:", db.name());
    let fixture = Fixture::new(db, &args.pg_url, args.parcels).await?;
    fixture
        .sandbox
        .advance(Duration::from_secs(args.hours * 3600));
    let truth = fixture.sandbox.world_stats().records;
    let carrier = fixture.adapter()?;
    let read = FeedRead {
        page_size: args.page_size,
        overlap: 500,
        max_pages: args.pages_per_cycle,
    };
    let holder = "ingest-bench";
    let lease = Duration::from_secs(600);
    fixture.sandbox.reset_stats();

    let mut reading = Duration::ZERO;
    let mut storing = Duration::ZERO;
    let (mut new, mut duplicates, mut applied, mut cycles) = (0u64, 0u64, 0u64, 0u32);
    let started = Instant::now();
    loop {
        let cursor = carrier_ingest::take_lease(&fixture.store, holder, lease)
            .await?
            .context("the lease is free in a fresh database")?;
        let t = Instant::now();
        let batch = feed_with_overlap(&carrier, cursor, &read).await?;
        reading += t.elapsed();
        let records: Vec<CarrierRecord> = batch.records.iter().map(to_domain).collect();
        let t = Instant::now();
        let report = carrier_ingest::ingest_feed(&fixture.store, holder, &records, batch.cursor)
            .await?
            .context("the lease was lost")?;
        storing += t.elapsed();
        cycles += 1;
        new += report.new;
        duplicates += report.duplicates + batch.duplicates;
        applied += report.applied;
        if report.new == 0 && batch.cursor <= cursor {
            break;
        }
    }
    let elapsed = started.elapsed();

    let stored = fixture.count("carrier_events").await?;
    if u64::try_from(stored)? != truth || new != truth {
        bail!("stored {stored} events ({new} new) but the carrier has {truth}");
    }
    let requests = fixture.sandbox.stats();
    let per_sec = |d: Duration| new as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "  {new} carrier events for {} parcels in {:.2} s: {:.0} events/s overall, {:.0} events/s storing \
         ({:.2} s storing, {:.2} s reading the feed)",
        fixture.parcels.len(),
        elapsed.as_secs_f64(),
        per_sec(elapsed),
        per_sec(storing),
        storing.as_secs_f64(),
        reading.as_secs_f64(),
    );
    println!(
        "  {cycles} cycles, {} HTTP requests ({} feed pages, {} token), {duplicates} duplicates dropped \
         (overlap re-reads), {applied} records moved a dossier",
        requests.carrier_requests(),
        requests.tracking_feed,
        requests.token,
    );
    let statuses = fixture.statuses().await?;
    println!(
        "  dossiers by status: {}",
        statuses
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    fixture.finish().await
}
