//! `mail-bench`: how long the outbox worker takes to deliver 10,000 queued e-mails to a local SMTP
//! server over lettre's pooled connections (the target is under 30 seconds).
//!
//! It starts the application's store on a fresh database (the black-box tests' settings: a temporary
//! SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set), starts the tests'
//! SMTP sink on a free local port, queues `--count` e-mails in the outbox (realistic Vietnamese
//! notices, one per row, as `append_event` would write them), then times the worker's steps until the
//! outbox is empty, and checks that the sink got every message exactly once.
//!
//! ```sh
//! cargo run --release -p bench --bin mail-bench
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release -p bench --bin mail-bench
//! ```

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use domain::ops::outbox::RetryPolicy;
use entity::enums::OutboxStatus;
use entity::outbox;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::SecretString;
use tests::smtp_sink::SmtpSink;
use worker::StepOutcome;
use worker::mail::MailSettings;
use worker::outbox::{OutboxDeps, OutboxSettings};

#[derive(Parser)]
#[command(about = "Times the delivery of queued e-mails to a local SMTP sink")]
struct Args {
    /// E-mails to queue and deliver.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// SMTP connections in the pool.
    #[arg(long, default_value_t = 10)]
    pool: u32,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Rows claimed per worker step.
    #[arg(long, default_value_t = 500)]
    batch: u64,
}

/// The service's allocator (the `dossier` binary's), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sink = SmtpSink::start()
        .await
        .context("Failed to start the SMTP sink")?;
    let app = tests::TestApp::spawn().await;
    let backend = if tests::test_database_url().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    let queued_at = Instant::now();
    tests::outbox_fixture::queue_emails(&app.store, "bench", args.count)
        .await
        .context("Failed to queue the e-mails")?;
    println!(
        "queued {} e-mails on {backend} in {:.2} s",
        args.count,
        queued_at.elapsed().as_secs_f64()
    );

    let deps = OutboxDeps::new(&OutboxSettings {
        mail: MailSettings {
            smtp_url: Some(SecretString::from(sink.url())),
            from: "Dịch vụ hồ sơ qua bưu chính <no-reply@dossier.test>".to_owned(),
            pool_size: args.pool,
            ..MailSettings::default()
        },
        public_base_url: "https://hoso.example.vn".to_owned(),
        retry: RetryPolicy {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(100),
            max_attempts: 20,
        },
        batch_size: args.batch,
        concurrency: args.concurrency,
        ..OutboxSettings::default()
    })?;

    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    loop {
        match worker::outbox::step(&app.store, &deps).await {
            StepOutcome::Worked => {}
            StepOutcome::Idle | StepOutcome::Failed => {
                let left = outbox::Entity::find()
                    .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
                    .count(&app.store.read)
                    .await?;
                if left == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        if Instant::now() > deadline {
            bail!("the outbox did not drain within 5 minutes");
        }
    }
    let elapsed = started.elapsed();

    let messages = sink.messages();
    let ids: HashSet<String> = messages
        .iter()
        .filter_map(|m| tests::outbox_fixture::message_key(&m.data))
        .collect();
    let failed = outbox::Entity::find()
        .filter(outbox::Column::Status.eq(OutboxStatus::Failed))
        .count(&app.store.read)
        .await?;
    println!(
        "delivered {} e-mails ({} distinct Message-IDs, {failed} failed) over SMTP in {:.2} s: {:.0} e-mails/s \
         (pool {}, {} in flight, batches of {})",
        messages.len(),
        ids.len(),
        elapsed.as_secs_f64(),
        messages.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
        args.pool,
        args.concurrency,
        args.batch,
    );
    if messages.len() != args.count || ids.len() != args.count || failed > 0 {
        bail!("expected each of the {} e-mails exactly once", args.count);
    }
    if elapsed > Duration::from_secs(30) {
        bail!("slower than the 30 s target");
    }
    Ok(())
}
