//! The server under load: `dossier serve --no-worker` started, waited for and read from `/proc`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::{free_port, raise_limits};

use crate::http1;

pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

pub async fn wait_ready(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut conn) = http1::Conn::connect(port).await
            && let Ok(answer) = conn.get("/health/ready").await
            && (200..300).contains(&answer.status)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become ready")
}

/// A running `dossier serve --no-worker`.
pub struct Server {
    pub child: tokio::process::Child,
    pub port: u16,
    pub pid: u32,
    pub db_url: String,
}

/// Starts the server on `db_url` with the limits on (every request is counted) at ceilings this one
/// client never reaches, so the figures include what the limiter costs.
pub async fn start_server(
    bin: &std::path::Path,
    db_url: &str,
    env: &[(String, String)],
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = tokio::process::Command::new(bin);
    raise_limits(&mut command);
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command
        .args([
            "serve",
            "--no-worker",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            db_url,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("start the server")?;
    let pid = child.id().context("server pid")?;
    wait_ready(port).await?;
    Ok(Server {
        child,
        port,
        pid,
        db_url: db_url.to_owned(),
    })
}
