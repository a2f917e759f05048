//! What the benchmark binaries (`src/bin/`) share: databases made on a PostgreSQL server for one run
//! and checkpointed before each measured run, the server started with its limits out of the load's
//! reach, CPU time read from `/proc` ([`cpu`]), free ports and `NAME=VALUE` options for child
//! processes, and the carrier benchmarks' fixture ([`carrier_fixture`]).

pub mod carrier_fixture;
pub mod cpu;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, Statement};

/// The URL of database `name` on the server of `server_url`, with its connection parameters
/// (`?sslmode=…`).
pub fn database_url(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (server_url, String::new()),
    };
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    format!("{prefix}/{name}{query}")
}

/// Runs one statement (`CREATE DATABASE`, `DROP DATABASE`, `CHECKPOINT`) on the server of `pg_url`.
pub async fn admin_sql(pg_url: &str, sql: String) -> anyhow::Result<()> {
    let admin = Database::connect(pg_url)
        .await
        .context("connect to the PostgreSQL server")?;
    admin
        .execute_raw(Statement::from_string(admin.get_database_backend(), sql))
        .await?;
    admin.close().await?;
    Ok(())
}

/// The per-client, per-key and per-phone limits of `dossier serve`, all kept on (so their cost is
/// in every figure) at a ceiling no benchmark reaches.
pub fn raise_limits(command: &mut tokio::process::Command) {
    for limit in [
        "PUBLIC_WRITES_PER_MINUTE",
        "PUBLIC_READS_PER_MINUTE",
        "KEY_REQUESTS_PER_MINUTE",
        "OPEN_REQUESTS_PER_PHONE",
    ] {
        command.env(format!("DOSSIER__LIMITS__{limit}"), "1000000000");
    }
}

/// Writes PostgreSQL's dirty pages out before a measured run (`CHECKPOINT`), so that no run of the
/// service or of a baseline pays for the writes of the one before it.
pub async fn checkpoint(db_url: &str) -> anyhow::Result<()> {
    if !db_url.starts_with("postgres") {
        return Ok(());
    }
    admin_sql(db_url, "CHECKPOINT".to_owned()).await
}

/// A free port on the loopback (free when asked; the child binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Reads a command-line `NAME=VALUE` (a variable for one child process's environment).
pub fn name_and_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}
