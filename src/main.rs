//! `dossier`: the command line of the dossier service. It parses settings and flags, then calls into
//! the crates: `serve` (API, and the worker unless `--no-worker`), `worker`, `migrate`, `keys create`, `seed`.

use anyhow::Context;
use api::{Application, Settings};
use clap::{Parser, Subcommand};
use domain::store::Store;
use entity::enums::Role;
use tokio::sync::watch;

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
    let store = Store::connect(&settings.database.url, settings.database.max_connections)
        .await
        .context("Failed to connect to the database")?;
    api::startup::migrate(&store.write).await?;
    Ok(store)
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
    api::telemetry::init_subscriber(api::telemetry::get_subscriber(
        "info",
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
        } => {
            let mut settings = with_database(settings, db);
            if let Some(bind) = bind {
                settings.server.bind = bind;
            }
            if no_seed {
                settings.server.seed_demo = false;
            }
            if no_worker {
                settings.server.run_worker = false;
            }
            serve(settings).await
        }
        Command::Worker { db } => {
            let settings = with_database(settings, db);
            let store = connect_migrated(&settings).await?;
            let (_tx, rx) = shutdown_signal();
            worker::run(store, worker::WorkerSettings::default(), rx).await;
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
        Command::Keys {
            command:
                KeysCommand::Create {
                    role,
                    office,
                    agency,
                    name,
                    db,
                },
        } => {
            let settings = with_database(settings, db);
            let store = connect_migrated(&settings).await?;
            let issued = domain::ops::keys::create_api_key(
                &store.write,
                domain::ops::keys::NewApiKey {
                    role,
                    name,
                    office_code: office,
                    agency_code: agency,
                },
            )
            .await
            .map_err(|e| match e {
                domain::ops::OpError::Validation(errors) => anyhow::anyhow!(
                    "{}",
                    errors
                        .iter()
                        .map(|e| format!("--{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                other => anyhow::anyhow!(other),
            })?;
            println!(
                "API key #{} created for role {role}; it is shown only now:",
                issued.id
            );
            println!("{}", issued.secret);
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(&settings).await?;
    let base = app.base_url().to_owned();
    if app.seeded {
        println!(
            "Demo reference data seeded (agencies, procedures, post offices, tariffs, holidays)."
        );
    }
    if let Some(key) = &app.first_admin_key {
        println!("First administrator key (shown once; keep it safe):\n  {key}");
    }
    println!("Dossier service listening on {base}");
    println!("  API docs:      {base}/docs");
    println!("  OpenAPI:       {base}/openapi.json");
    println!("  Health:        {base}/health/ready");
    println!("  Agencies:      {base}/api/v1/agencies");
    let (tx, rx) = shutdown_signal();
    let worker = settings.server.run_worker.then(|| {
        tokio::spawn(worker::run(
            app.store().clone(),
            worker::WorkerSettings::default(),
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
        let _ = worker.await;
    }
    served.context("The server stopped with an error")
}
