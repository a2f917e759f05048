//! `notify-bench`: 10,000 status changes and the time until every SMS, ZNS message and portal call
//! they cause reached the notify sandbox, each exactly once (the target is under 30 seconds).
//!
//! It starts the application on a fresh database (the black-box tests' settings: a temporary SQLite
//! file, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set) with the sandbox configured,
//! makes `--dossiers` pickup requests through the API, then moves each dossier through five changes
//! (filed, accepted, result ready, out for delivery, delivered: `--dossiers` × 5 changes) while two
//! outbox lanes of a worker (phone notices, portal calls) deliver, and times from the first change
//! to the last message taken. One phone in four has no Zalo account, so its notices go by SMS.
//!
//! ```sh
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release -p bench --bin notify-bench
//! ```

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use domain::ops::outbox::{DeliveryKind, RetryPolicy};
use notify_sandbox::{NotifyConfig, NotifySandbox};
use secrecy::SecretString;
use tests::notify_fixture::{
    JOURNEY, PHONE_NOTICES_PER_DOSSIER, PORTAL_CALLS_PER_DOSSIER, change, phone, request_dossiers,
};
use worker::StepOutcome;
use worker::outbox::{OutboxDeps, OutboxSettings, step_lane};

#[derive(Parser)]
#[command(about = "Times phone notices and portal calls of 10,000 status changes")]
struct Args {
    /// Dossiers; each makes 5 status changes.
    #[arg(long, default_value_t = 2_000)]
    dossiers: usize,
    /// Deliveries in flight at once per lane.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Rows claimed per worker step.
    #[arg(long, default_value_t = 500)]
    batch: u64,
    /// Writers making the status changes at once.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// Write every change first, then time the delivery alone (by default the worker delivers while
    /// the changes are written, and the time runs from the first change).
    #[arg(long)]
    queue_first: bool,
}

/// The service's allocator (the `dossier` binary's), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sandbox = NotifySandbox::start(NotifyConfig::default())
        .await
        .context("Failed to start the notify sandbox")?;
    let base = sandbox.base_url();
    let c = sandbox.config().clone();
    let app = tests::TestApp::spawn_with(|s| {
        s.sms.url = Some(base.clone());
        s.portal.base_url = Some(base.clone());
    })
    .await;
    let backend = if tests::test_database_url().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let timeout = Duration::from_secs(10);
    let mail = tempfile::tempdir()?;
    let deps = Arc::new(OutboxDeps::new(&OutboxSettings {
        mail: worker::mail::MailSettings {
            dir: mail.path().to_path_buf(),
            ..Default::default()
        },
        public_base_url: "https://hoso.example.vn".to_owned(),
        retry: RetryPolicy {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
            max_attempts: 50,
        },
        batch_size: args.batch,
        concurrency: args.concurrency,
        sms: Some(worker::sms::SmsConfig {
            url: base.clone(),
            api_key: c.sms_api_key.clone(),
            secret_key: SecretString::from(c.sms_secret_key.clone()),
            brandname: c.sms_brandname.clone(),
            timeout,
        }),
        zalo: Some(worker::zalo::ZaloConfig {
            base_url: base.clone(),
            oauth_url: base.clone(),
            app_id: c.zalo_app_id.clone(),
            secret_key: SecretString::from(c.zalo_secret_key.clone()),
            refresh_token: SecretString::from(c.zalo_refresh_token.clone()),
            template_id: c.zalo_template_id.clone(),
            timeout,
        }),
        portal: Some(worker::portal::PortalConfig {
            base_url: base.clone(),
            username: c.portal_username.clone(),
            password: SecretString::from(c.portal_password.clone()),
            dstcode: c.portal_dstcode.clone(),
            timeout,
        }),
        ..OutboxSettings::default()
    })?);
    domain::ops::integrations::declare_outlets(&app.store.write, deps.outlets()).await?;

    for i in (0..args.dossiers).step_by(4) {
        sandbox.refuse_zns_phone(&format!("84{}", &phone(i)[1..]));
    }
    let made_at = Instant::now();
    let ids = request_dossiers(&app, args.dossiers).await?;
    println!(
        "{} pickup requests on {backend} in {:.2} s",
        ids.len(),
        made_at.elapsed().as_secs_f64()
    );
    // The requests' own notices go first, untimed.
    let phone_lane: &'static [DeliveryKind] = &[DeliveryKind::PhoneNotice];
    let portal_lane: &'static [DeliveryKind] = &[DeliveryKind::PortalCall];
    while step_lane(&app.store, &deps, phone_lane, std::future::pending()).await
        == StepOutcome::Worked
    {}
    let before = sandbox.sms().len() + sandbox.zns().len();

    let mut started = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut lanes = Vec::new();
    let start_lanes = |lanes: &mut Vec<tokio::task::JoinHandle<()>>| {
        for lane in [phone_lane, portal_lane] {
            let (store, deps, mut stop) = (app.store.clone(), deps.clone(), stop_rx.clone());
            lanes.push(tokio::spawn(async move {
                while !*stop.borrow() {
                    if step_lane(&store, &deps, lane, std::future::pending()).await
                        != StepOutcome::Worked
                    {
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_millis(20)) => {}
                            _ = stop.changed() => {}
                        }
                    }
                }
            }));
        }
    };
    if !args.queue_first {
        start_lanes(&mut lanes);
    }
    let chunk = ids.len().div_ceil(args.writers.max(1));
    let mut writers = Vec::new();
    for part in ids.chunks(chunk.max(1)) {
        let (store, part) = (app.store.clone(), part.to_vec());
        writers.push(tokio::spawn(async move {
            for (kind, to, leg) in JOURNEY {
                for id in &part {
                    change(&store, *id, kind, to, leg).await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for w in writers {
        w.await??;
    }
    let changes = ids.len() * JOURNEY.len();
    println!(
        "{changes} status changes written in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let written = Instant::now();
    if args.queue_first {
        started = Instant::now();
        start_lanes(&mut lanes);
    }
    let phone_expected = before + ids.len() * (PHONE_NOTICES_PER_DOSSIER - 1);
    let portal_expected = ids.len() * PORTAL_CALLS_PER_DOSSIER;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let phone_taken = sandbox.sms().len() + sandbox.zns().len();
        let portal_taken = sandbox.portal_calls().len();
        if phone_taken >= phone_expected && portal_taken >= portal_expected {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "after 600 s: {phone_taken}/{phone_expected} phone messages, {portal_taken}/{portal_expected} portal calls"
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    println!(
        "the last message arrived {:.2} s after the last change was written",
        written.elapsed().as_secs_f64()
    );
    let _ = stop_tx.send(true);
    for lane in lanes {
        lane.await?;
    }

    let sms = sandbox.sms();
    let zns = sandbox.zns();
    let portal = sandbox.portal_calls();
    let phone_ids: HashSet<&str> = sms
        .iter()
        .map(|m| m.request_id.as_str())
        .chain(zns.iter().map(|m| m.tracking_id.as_str()))
        .collect();
    let counts = sandbox.counts();
    if phone_ids.len() != sms.len() + zns.len()
        || counts.sms_duplicates + counts.zns_duplicates + counts.portal_duplicates > 0
    {
        bail!("a message arrived twice: {counts:?}");
    }
    if sms.len() + zns.len() != phone_expected || portal.len() != portal_expected {
        bail!(
            "expected {phone_expected} phone messages and {portal_expected} portal calls, got {} and {}",
            sms.len() + zns.len(),
            portal.len()
        );
    }
    println!(
        "{changes} status changes → {} ZNS, {} SMS, {} portal calls, each exactly once, in {:.2} s ({:.0} messages/s) on {backend}",
        zns.len(),
        sms.len(),
        portal.len(),
        elapsed.as_secs_f64(),
        (phone_expected - before + portal_expected) as f64 / elapsed.as_secs_f64()
    );
    if elapsed > Duration::from_secs(30) {
        println!("over the 30 s target");
    }
    Ok(())
}
