//! A process between pgbench and PostgreSQL that only passes bytes on: HAProxy in TCP mode, with as
//! many threads as the server's runtime has. The service puts a process of its own between its load
//! and PostgreSQL, with two more wake-ups per request on cores the three share; pgbench through the
//! relay pays for that much and no more (no HTTP, no TLS of its own, no application), so its rate
//! is the most a service in the middle could read at on the machine the run is on.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::cpu::cpu_seconds;
use bench::free_port;

/// A running HAProxy that relays one port to PostgreSQL; killed when dropped, but [`Relay::stop`]
/// is the way to end it.
pub struct Relay {
    child: tokio::process::Child,
    pid: u32,
    /// `db_url` with the relay's address in place of PostgreSQL's.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Relay {
    /// Starts HAProxy (Debian package `haproxy`) relaying a free local port to `db_url`'s server.
    pub async fn start(db_url: &str) -> anyhow::Result<Self> {
        let mut url = reqwest::Url::parse(db_url).context("read the PostgreSQL URL")?;
        let host = url.host_str().context("the PostgreSQL URL names no host")?;
        let target = format!("{host}:{}", url.port().unwrap_or(5432));
        let port = free_port()?;
        url.set_port(Some(port))
            .map_err(|()| anyhow::anyhow!("the PostgreSQL URL takes no port"))?;
        url.set_host(Some("127.0.0.1"))?;
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("relay.cfg");
        std::fs::write(
            &config,
            format!(
                "global\n  nbthread {threads}\n  maxconn 4096\n\
                 defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10m\n  timeout server 10m\n\
                 listen postgres\n  bind 127.0.0.1:{port}\n  server postgres {target}\n"
            ),
        )?;
        // `-db`: in the foreground, so that it is this process's child and ends with it.
        let child = tokio::process::Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start haproxy (Debian package haproxy), needed by --relay")?;
        let pid = child.id().context("haproxy ended at once")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("haproxy did not listen on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            child,
            pid,
            url: url.to_string(),
            _dir: dir,
        })
    }

    /// The relay's CPU time so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.pid)
    }

    /// Stops the relay and waits for it, so that its CPU time joins this process's finished
    /// children's here, between measurements, not inside a later pgbench run's.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Whether the relay is still running (it could have ended on a bad configuration).
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!("haproxy ended: {status}"),
        }
    }
}
