//! `sync-bench`: 100,000 active parcels fully synced against the carrier sandbox (target: under 60 s),
//! and how many HTTP requests it took.
//!
//! It prepares `--parcels` picked-up dossiers whose parcels the in-process sandbox knows, moves the
//! sandbox's clock `--hours` ahead (by default 8 hours: each parcel has been picked up, received at the
//! office and is in transit — still active), then runs the worker's sync step (`worker::sync::step`,
//! exactly what `dossier worker` runs) until the feed has nothing new. It checks that every record the
//! carrier has is stored once and every parcel moved, and prints the time and the requests by kind: the
//! feed reads the news of every parcel at once, so it takes a few hundred requests where per-parcel
//! polling would take one per parcel (and the per-order fallback finds nothing left to read).
//!
//! ```sh
//! cargo run --release -p bench --bin sync-bench -- --db postgres
//! ```

use std::time::{Duration, Instant};

use anyhow::bail;
use bench::carrier_fixture::{Db, Fixture};
use clap::Parser;
use domain::ops::carrier_orders::Quietness;
use worker::StepOutcome;
use worker::carrier::FeedRead;
use worker::quiet::QuietSettings;
use worker::sync::SyncSettings;

#[derive(Parser)]
#[command(about = "100,000 active parcels fully synced against the carrier sandbox")]
struct Args {
    /// The database.
    #[arg(long, value_enum, default_value_t = Db::Postgres)]
    db: Db,
    /// PostgreSQL server to make a fresh benchmark database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    /// Parcels in flight.
    #[arg(long, default_value_t = 100_000)]
    parcels: u32,
    /// Simulated hours the carrier moves its parcels before the sync starts.
    #[arg(long, default_value_t = 8)]
    hours: u64,
}

/// The service's allocator (the `dossier` binary's), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("sync-bench on {}:", args.db.name());
    let fixture = Fixture::new(args.db, &args.pg_url, args.parcels).await?;
    fixture
        .sandbox
        .advance(Duration::from_secs(args.hours * 3600));
    let truth = fixture.sandbox.world_stats().records;
    let carrier = fixture.adapter()?;
    let settings = SyncSettings {
        feed: FeedRead {
            page_size: 1000,
            overlap: 500,
            max_pages: 20,
        },
        lease: Duration::from_secs(120),
        holder: "sync-bench".to_owned(),
    };
    fixture.sandbox.reset_stats();

    let started = Instant::now();
    let mut steps = 0u32;
    loop {
        steps += 1;
        match worker::sync::step(&fixture.store, &carrier, &settings).await {
            StepOutcome::Worked => {}
            StepOutcome::Idle => break,
            StepOutcome::Failed => bail!("a sync step failed; see the log"),
        }
    }
    let elapsed = started.elapsed();
    let feed = fixture.sandbox.stats();

    let stored = u64::try_from(fixture.count("carrier_events").await?)?;
    if stored != truth {
        bail!("stored {stored} events but the carrier has {truth}");
    }
    let statuses = fixture.statuses().await?;
    let moved: i64 = statuses
        .iter()
        .filter(|(s, _)| s != "picked_up")
        .map(|(_, n)| n)
        .sum();
    println!(
        "  {} parcels fully synced in {:.2} s: {truth} carrier events stored, {moved} dossiers moved \
         ({} sync steps)",
        fixture.parcels.len(),
        elapsed.as_secs_f64(),
        steps,
    );
    println!(
        "  HTTP requests: {} in all — {} feed pages, {} token, {} per-order reads ({:.4} per parcel)",
        feed.carrier_requests(),
        feed.tracking_feed,
        feed.token,
        feed.tracking_order,
        feed.carrier_requests() as f64 / f64::from(args.parcels.max(1)),
    );
    println!(
        "  dossiers by status: {}",
        statuses
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // The fallback after a full sync: one step over quiet orders (none is quiet yet: every parcel had
    // news moments ago), so it costs no request.
    fixture.sandbox.reset_stats();
    let quiet = QuietSettings {
        quietness: Quietness {
            quiet_for: Duration::from_secs(6 * 3600),
            recheck_every: Duration::from_secs(6 * 3600),
        },
        holder: "sync-bench".to_owned(),
        ..QuietSettings::default()
    };
    let outcome = worker::quiet::step(&fixture.store, &carrier, &quiet).await;
    println!(
        "  per-order fallback right after: {outcome:?}, {} requests",
        fixture.sandbox.stats().carrier_requests()
    );
    fixture.finish().await
}
