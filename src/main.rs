//! `dossier`: the command line of the dossier service. It parses settings and flags, then calls into
//! the crates: `serve` (API, and the worker unless `--no-worker`), `worker`, `migrate`, `keys create`, `seed`.

use anyhow::Context;
use api::{Application, Settings};
use clap::{Parser, Subcommand};
use domain::store::Store;
use entity::enums::Role;
use tokio::sync::watch;

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "dossier",
    version,
    about = "Administrative dossiers carried by the public postal service"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args, Clone)]
struct DatabaseArg {
    /// Database URL (`sqlite://…` or `postgres://…`).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (and run the worker in the same process unless --no-worker).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "DOSSIER_BIND")]
        bind: Option<String>,
        #[command(flatten)]
        db: DatabaseArg,
        /// Do not run the worker loops in this process.
        #[arg(long)]
        no_worker: bool,
        /// Do not seed demo data into an empty database.
        #[arg(long)]
        no_seed: bool,
        /// On PostgreSQL, seed demo data into an empty database (printing its first administrator
        /// key) and run the embedded carrier sandbox, as SQLite does by default.
        #[arg(long)]
        demo: bool,
    },
    /// Run the worker loops only.
    Worker {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Seed demo reference data into an empty database.
    Seed {
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; it is printed once, alone on the last line.
    Create {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The post office of a `postal` key.
        #[arg(long)]
        office: Option<String>,
        /// The agency of an `agency` key.
        #[arg(long)]
        agency: Option<String>,
        /// Who holds the key.
        #[arg(long)]
        name: String,
        /// Days until the key expires; without it the key lasts until revoked.
        #[arg(long)]
        expires_in_days: Option<i64>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List keys: id, role, office or agency, name, created, last used, expires, revoked (never secrets).
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Revoke a key: every process refuses it from its next request on.
    Revoke {
        /// The key's id (see `dossier keys list`).
        id: i64,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|_| "one of: admin, postal, agency".to_owned())
}

fn with_database(mut settings: Settings, db: DatabaseArg) -> Settings {
    if let Some(url) = db.database_url {
        settings.database.url = url;
    }
    settings
}

async fn connect_migrated(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect_with(
        &settings.database.url,
        settings.database.max_connections,
        std::time::Duration::from_millis(settings.database.lock_timeout_ms),
    )
    .await
    .context("Failed to connect to the database")?;
    api::startup::migrate(&store.write).await?;
    Ok(store)
}

/// The worker's settings from the service's: mail, webhooks, retries, and the base of links in e-mails.
fn worker_settings(settings: &Settings, public_base_url: String) -> worker::WorkerSettings {
    let o = &settings.outbox;
    let secs = std::time::Duration::from_secs;
    let defaults = worker::WorkerSettings::default();
    let alerts_email = settings
        .alerts
        .email
        .clone()
        .filter(|e| !e.trim().is_empty());
    worker::WorkerSettings {
        outbox: worker::outbox::OutboxSettings {
            mail: worker::mail::MailSettings {
                smtp_url: settings.smtp.url.clone(),
                from: settings.smtp.from.clone(),
                dir: settings
                    .smtp
                    .mail_dir
                    .clone()
                    .map_or(defaults.outbox.mail.dir.clone(), Into::into),
                pool_size: o.smtp_pool_size,
                timeout: secs(o.smtp_timeout_secs.max(1)),
            },
            public_base_url,
            retry: domain::ops::outbox::RetryPolicy {
                base: secs(o.retry_base_secs.max(1)),
                cap: secs(o.retry_cap_secs.max(1)),
                max_attempts: o.max_attempts.max(1),
            },
            batch_size: o.batch_size,
            concurrency: o.concurrency,
            lease: secs(o.lease_secs.max(1)),
            webhook_timeout: secs(o.webhook_timeout_secs.max(1)),
            attempt_timeout: secs(o.attempt_timeout_secs.max(1)),
            shutdown_drain: secs(o.shutdown_drain_secs),
            alerts_email: alerts_email.clone(),
            sms: sms_config(settings),
            zalo: zalo_config(settings),
            portal: portal_config(settings),
            ..defaults.outbox.clone()
        },
        carrier: carrier_sync(settings),
        alerts_email,
        ..defaults
    }
}

/// The deadline of one call to the SMS gateway, Zalo or the portal.
fn integration_timeout(settings: &Settings) -> std::time::Duration {
    std::time::Duration::from_secs(settings.outbox.integration_timeout_secs.max(1))
}

fn empty_secret() -> secrecy::SecretString {
    secrecy::SecretString::from(String::new())
}

/// The SMS gateway from `sms.*`, when its URL is configured.
fn sms_config(settings: &Settings) -> Option<worker::sms::SmsConfig> {
    let s = &settings.sms;
    s.configured().then(|| worker::sms::SmsConfig {
        url: s.url.clone().unwrap_or_default(),
        api_key: s.api_key.clone().unwrap_or_default(),
        secret_key: s.secret_key.clone().unwrap_or_else(empty_secret),
        brandname: s.brandname.clone().unwrap_or_default(),
        timeout: integration_timeout(settings),
    })
}

/// Zalo ZNS from `zalo.*`, when the app, its refresh token and the template are configured.
fn zalo_config(settings: &Settings) -> Option<worker::zalo::ZaloConfig> {
    let z = &settings.zalo;
    z.configured().then(|| worker::zalo::ZaloConfig {
        base_url: z.base_url.clone(),
        oauth_url: z.oauth_url.clone(),
        app_id: z.app_id.clone().unwrap_or_default(),
        secret_key: z.secret_key.clone().unwrap_or_else(empty_secret),
        refresh_token: z.refresh_token.clone().unwrap_or_else(empty_secret),
        template_id: z.template_id.clone().unwrap_or_default(),
        timeout: integration_timeout(settings),
    })
}

/// The national portal from `portal.*`, when its URL is configured.
fn portal_config(settings: &Settings) -> Option<worker::portal::PortalConfig> {
    let p = &settings.portal;
    p.configured().then(|| worker::portal::PortalConfig {
        base_url: p.base_url.clone().unwrap_or_default(),
        username: p.username.clone().unwrap_or_default(),
        password: p.password.clone().unwrap_or_else(empty_secret),
        dstcode: p.dstcode.clone().unwrap_or_default(),
        timeout: integration_timeout(settings),
    })
}

/// The embedded default: with no SMS gateway, no Zalo app and no portal configured, one sandbox of
/// the three runs in this process and the worker delivers to it, so the demo shows every channel.
async fn embedded_integrations(
    settings: &mut Settings,
) -> anyhow::Result<Option<notify_sandbox::NotifySandbox>> {
    if settings.sms.configured()
        || settings.zalo.configured()
        || settings.portal.configured()
        || !settings.server.run_worker
    {
        return Ok(None);
    }
    let sandbox = notify_sandbox::NotifySandbox::start(notify_sandbox::NotifyConfig::default())
        .await
        .context("Failed to start the embedded SMS, Zalo and portal sandbox")?;
    let c = sandbox.config().clone();
    let base = sandbox.base_url();
    settings.sms = api::settings::SmsSettings {
        url: Some(base.clone()),
        api_key: Some(c.sms_api_key.clone()),
        secret_key: Some(secrecy::SecretString::from(c.sms_secret_key.clone())),
        brandname: Some(c.sms_brandname.clone()),
    };
    settings.zalo = api::settings::ZaloSettings {
        base_url: base.clone(),
        oauth_url: base.clone(),
        app_id: Some(c.zalo_app_id.clone()),
        secret_key: Some(secrecy::SecretString::from(c.zalo_secret_key.clone())),
        refresh_token: Some(secrecy::SecretString::from(c.zalo_refresh_token.clone())),
        template_id: Some(c.zalo_template_id.clone()),
    };
    settings.portal = api::settings::PortalSettings {
        base_url: Some(base),
        username: Some(c.portal_username.clone()),
        password: Some(secrecy::SecretString::from(c.portal_password.clone())),
        dstcode: Some(c.portal_dstcode.clone()),
    };
    Ok(Some(sandbox))
}

/// The carrier feed sync from `carrier.*`, when a carrier URL is configured.
fn carrier_sync(settings: &Settings) -> Option<worker::CarrierSync> {
    let c = &settings.carrier;
    let base_url = c.base_url.as_deref().filter(|u| !u.trim().is_empty())?;
    let config = worker::carrier::CarrierConfig::new(
        base_url,
        c.consumer_key.clone().unwrap_or_default(),
        c.consumer_secret
            .clone()
            .unwrap_or_else(|| secrecy::SecretString::from(String::new())),
        c.customer_code.clone().unwrap_or_default(),
    );
    let mut sync = worker::CarrierSync::new(
        config,
        std::time::Duration::from_secs(c.poll_interval_secs.max(1)),
    );
    sync.sync.lease = std::time::Duration::from_secs(c.feed_lease_secs.max(1));
    Some(sync)
}

/// The embedded default: with no carrier URL, a carrier sandbox runs in this process and the worker
/// reads it every few seconds, so a demo dossier visibly moves. Parcels move 60× faster than usual
/// (minutes instead of hours) on a real-time clock, so every event keeps a real time. The handle keeps
/// it running.
async fn embedded_carrier(
    settings: &mut Settings,
) -> anyhow::Result<Option<carrier_sandbox::SandboxHandle>> {
    if settings
        .carrier
        .base_url
        .as_deref()
        .is_some_and(|u| !u.trim().is_empty())
        || !settings.server.run_worker
    {
        return Ok(None);
    }
    let config = carrier_sandbox::SandboxConfig {
        speed: 1.0,
        pace: 60.0,
        ..Default::default()
    };
    let sandbox = carrier_sandbox::Sandbox::start(config)
        .await
        .context("Failed to start the embedded carrier sandbox")?;
    let c = sandbox.config();
    settings.carrier.base_url = Some(sandbox.base_url());
    settings.carrier.consumer_key = Some(c.consumer_key.clone());
    settings.carrier.consumer_secret = Some(secrecy::SecretString::from(c.consumer_secret.clone()));
    settings.carrier.customer_code = Some(c.customer_code.clone());
    settings.carrier.poll_interval_secs = settings.carrier.poll_interval_secs.min(5);
    Ok(Some(sandbox))
}

/// Refuses to start a worker whose mail or webhook settings can never work.
fn check_worker_settings(settings: &worker::WorkerSettings) -> anyhow::Result<()> {
    worker::outbox::OutboxDeps::new(&settings.outbox)
        .map(|_| ())
        .context("Failed to set up outgoing mail and webhooks")
}

/// How long a stopping worker may take to finish or give back the work in hand.
const WORKER_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the worker until it returns, or until [`WORKER_GRACE`] after the stop signal: a worker stuck
/// past that is dropped, and what it held comes back to the others when its leases expire.
async fn run_worker_with_grace(
    worker: impl std::future::Future<Output = ()>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::select! {
        () = worker => {}
        () = async {
            if stop.wait_for(|stopped| *stopped).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(WORKER_GRACE).await;
        } => {
            tracing::warn!(
                grace.secs = WORKER_GRACE.as_secs(),
                "the worker did not stop in time; the work it held returns when its leases expire"
            );
        }
    }
}

fn shutdown_signal() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    let (tx, rx) = watch::channel(false);
    let signal_tx = tx.clone();
    tokio::spawn(async move {
        wait_for_stop().await;
        let _ = signal_tx.send(true);
    });
    (tx, rx)
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `dossier` alone means `dossier serve`, with its flags' environment variables honoured.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 1 {
        args.push("serve".into());
    }
    let cli = Cli::parse_from(args);
    let settings = Settings::load().context("Failed to read the settings")?;
    worker::webhooks::set_allow_private_networks(settings.webhooks.allow_private_networks);
    api::telemetry::init_subscriber(api::telemetry::get_subscriber(
        // The migrator names every migration it applies; startup says it in one line instead.
        "info,sea_orm_migration=warn",
        settings.server.json_logs,
        std::io::stderr,
    ));
    let Some(command) = cli.command else {
        anyhow::bail!("no command given; see `dossier --help`");
    };
    match command {
        Command::Serve {
            bind,
            db,
            no_worker,
            no_seed,
            demo,
        } => {
            let mut settings = with_database(settings, db);
            if let Some(bind) = bind {
                settings.server.bind = bind;
            }
            // PostgreSQL is the production store: nothing made up goes in it unless asked for.
            let embedded = demo || !is_postgres(&settings.database.url);
            if !embedded {
                settings.server.seed_demo = false;
            }
            if no_seed {
                settings.server.seed_demo = false;
            }
            if no_worker {
                settings.server.run_worker = false;
            }
            serve(settings, embedded).await
        }
        Command::Worker { db } => {
            let settings = with_database(settings, db);
            let port = settings
                .server
                .bind
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse().ok())
                .unwrap_or(8080);
            let worker_settings = worker_settings(&settings, settings.public_base_url(port));
            check_worker_settings(&worker_settings)?;
            let store = connect_migrated(&settings).await?;
            let probes = match settings
                .worker
                .metrics_bind
                .as_deref()
                .filter(|b| !b.trim().is_empty())
            {
                Some(bind) => Some(
                    api::probes::Probes::bind(bind, store.clone())
                        .await?
                        .with_metrics_token(settings.metrics.token.clone()),
                ),
                None => None,
            };
            let (_tx, rx) = shutdown_signal();
            let probes = probes.map(|probes| {
                if let Some(port) = probes.port() {
                    tracing::info!(
                        probes.port = port,
                        "worker probes listening: /metrics, /health/live, /health/ready"
                    );
                }
                let mut stop = rx.clone();
                tokio::spawn(probes.run_until(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                }))
            });
            let stop = rx.clone();
            run_worker_with_grace(worker::run(store, worker_settings, rx), stop).await;
            if let Some(probes) = probes {
                probes.abort();
            }
            Ok(())
        }
        Command::Migrate { db } => {
            let settings = with_database(settings, db);
            connect_migrated(&settings).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Seed { db } => {
            let settings = with_database(settings, db);
            let store = connect_migrated(&settings).await?;
            if domain::ops::seed::seed_demo_if_empty(&store.write).await? {
                println!("demo reference data seeded");
            } else {
                println!("the database already has reference data; nothing seeded");
            }
            Ok(())
        }
        Command::Keys { command } => keys(settings, command).await,
    }
}

/// `dossier keys …`: made, listed and revoked as the operator on the command line (audited as such).
async fn keys(settings: Settings, command: KeysCommand) -> anyhow::Result<()> {
    let by = domain::ops::access::Actor::System;
    let cli_error = |e: domain::ops::OpError| match e {
        domain::ops::OpError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!(other),
    };
    match command {
        KeysCommand::Create {
            role,
            office,
            agency,
            name,
            expires_in_days,
            db,
        } => {
            let store = connect_migrated(&with_database(settings, db)).await?;
            let (issued, view) = domain::ops::keys::issue_api_key(
                &store.write,
                &by,
                domain::ops::keys::NewApiKey {
                    role,
                    name,
                    office_code: office,
                    agency_code: agency,
                },
                expires_in_days,
            )
            .await
            .map_err(cli_error)?;
            let until = view
                .expires_at
                .map(|t| format!(", valid until {}", domain::sla::to_local(t).to_rfc3339()))
                .unwrap_or_default();
            println!(
                "API key #{} created for role {role}{until}; it is shown only now:",
                issued.id
            );
            println!("{}", issued.secret);
            Ok(())
        }
        KeysCommand::List { db } => {
            let store = connect_migrated(&with_database(settings, db)).await?;
            let keys = domain::ops::keys::list_api_keys(&store.read, &by)
                .await
                .map_err(cli_error)?;
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or_else(
                    || "-".to_owned(),
                    |t| {
                        domain::sla::to_local(t)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    },
                )
            };
            println!(
                "{:>5}  {:<7} {:<20} {:<24} {:<16} {:<16} {:<16} {:<16}",
                "ID", "ROLE", "OFFICE/AGENCY", "NAME", "CREATED", "LAST USED", "EXPIRES", "REVOKED"
            );
            for k in keys {
                println!(
                    "{:>5}  {:<7} {:<20} {:<24} {:<16} {:<16} {:<16} {:<16}",
                    k.id,
                    k.role.to_string(),
                    k.office_code
                        .or(k.agency_code)
                        .unwrap_or_else(|| "-".into()),
                    k.name,
                    time(Some(k.created_at)),
                    time(k.last_used_at),
                    time(k.expires_at),
                    time(k.revoked_at),
                );
            }
            Ok(())
        }
        KeysCommand::Revoke { id, db } => {
            let store = connect_migrated(&with_database(settings, db)).await?;
            let view = domain::ops::keys::revoke_api_key(&store.write, &by, id)
                .await
                .map_err(|e| match e {
                    domain::ops::OpError::NotFound(_) => anyhow::anyhow!("no API key has id {id}"),
                    other => cli_error(other),
                })?;
            println!(
                "API key #{} ({}, {}) is revoked; every process refuses it from its next request on.",
                view.id, view.role, view.name
            );
            Ok(())
        }
    }
}

/// Whether `url` names a PostgreSQL database.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Serves; `embedded` (SQLite, or `--demo`) runs a carrier sandbox when no carrier is configured.
async fn serve(mut settings: Settings, embedded: bool) -> anyhow::Result<()> {
    let sandbox = if embedded {
        embedded_carrier(&mut settings).await?
    } else {
        None
    };
    // Like the carrier's: never on a production database unless `--demo` is given.
    let integrations = if embedded {
        embedded_integrations(&mut settings).await?
    } else {
        None
    };
    let app = Application::build(&settings).await?;
    let base = app.base_url().to_owned();
    let worker_settings = worker_settings(&settings, base.clone());
    if settings.server.run_worker {
        check_worker_settings(&worker_settings)?;
    }
    if app.seeded {
        println!(
            "Demo reference data seeded (agencies, procedures, post offices, tariffs, holidays)."
        );
    }
    if let Some(key) = &app.first_admin_key {
        println!("First administrator key (shown once; keep it safe):\n  {key}");
    }
    println!("Dossier service listening on {base}");
    println!("  Citizens:      {base}/  (pickup request form; tracking at {base}/t/CODE)");
    println!(
        "  Staff:         {base}/staff  (sign in with a postal or agency key: dossier keys create …)"
    );
    if !app.seeded && app.first_admin_key.is_none() {
        println!("  Admin key:     dossier keys create --role admin --name NAME");
    }
    println!("  API docs:      {base}/docs");
    println!("  OpenAPI:       {base}/openapi.json");
    println!("  Health:        {base}/health/ready");
    println!("  Agencies:      {base}/api/v1/agencies");
    if let Some(sandbox) = &sandbox {
        println!("  Carrier:       {} (embedded sandbox)", sandbox.base_url());
    } else if settings
        .carrier
        .base_url
        .as_deref()
        .is_none_or(|u| u.trim().is_empty())
    {
        println!(
            "  Carrier:       none configured; carrier sync is off (DOSSIER__CARRIER__BASE_URL)"
        );
    }
    if let Some(integrations) = &integrations {
        println!(
            "  SMS, Zalo, portal: {} (embedded sandbox; what it received: {}/_sandbox/received)",
            integrations.base_url(),
            integrations.base_url()
        );
    } else if !settings.sms.configured()
        && !settings.zalo.configured()
        && !settings.portal.configured()
    {
        println!(
            "  SMS, Zalo, portal: none configured; phone notices and portal sync are off \
             (DOSSIER__SMS__URL, DOSSIER__ZALO__APP_ID, DOSSIER__PORTAL__BASE_URL)"
        );
    }
    let (tx, rx) = shutdown_signal();
    let worker = settings.server.run_worker.then(|| {
        tokio::spawn(worker::run(
            app.store().clone(),
            worker_settings,
            rx.clone(),
        ))
    });
    let mut stop = rx.clone();
    let served = app
        .run_until(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await;
    let _ = tx.send(true);
    if let Some(worker) = worker {
        run_worker_with_grace(
            async {
                let _ = worker.await;
            },
            rx,
        )
        .await;
    }
    served.context("The server stopped with an error")
}
