//! The soak's child processes: `dossier` commands with a clean environment, their logs counted by
//! level, and their resident memory from `/proc` (their CPU time is read by `bench::cpu`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A `dossier` command that reads no settings but the ones given here: it runs in `dir` (no
/// `dossier.toml` of the caller's), without any `DOSSIER…` or `DATABASE_URL` variable of the caller's,
/// logging warnings and errors only, as JSON lines.
pub fn dossier_command(bin: &Path, dir: &Path) -> Command {
    let mut command = Command::from(::tests::process::dossier_command_of(bin, dir));
    command
        .env("RUST_LOG", "warn")
        .env("DOSSIER__SERVER__JSON_LOGS", "true")
        .stdin(Stdio::null());
    command
}

/// Runs a one-off `dossier` command to its end; its standard output.
pub async fn run_to_end(mut command: Command, what: &str) -> anyhow::Result<String> {
    // Its error, if any, is shown whole: without a backtrace.
    let out = command
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .with_context(|| format!("run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What a process logged, by level. Only the counts and the first few distinct messages are kept in
/// memory; every line goes to its log file.
#[derive(Default)]
pub struct LogCounts {
    pub warnings: AtomicU64,
    pub errors: AtomicU64,
    /// Up to [`LogCounts::SAMPLES`] distinct `level target: message` of warnings and errors.
    samples: std::sync::Mutex<Vec<String>>,
}

impl LogCounts {
    const SAMPLES: usize = 12;

    /// Counts one line of a JSON log (a line that is not JSON — a panic's message — is an error).
    fn count(&self, line: &str) {
        let (level, summary) = match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => {
                let level = v["level"].as_str().unwrap_or("?").to_ascii_uppercase();
                let message = v["fields"]["message"].as_str().unwrap_or_default();
                let target = v["target"].as_str().unwrap_or_default();
                let summary = format!("{level} {target}: {message}");
                (level, summary)
            }
            Err(_) if line.trim().is_empty() => return,
            Err(_) => ("ERROR".to_owned(), format!("(not JSON) {line}")),
        };
        match level.as_str() {
            "ERROR" => self.errors.fetch_add(1, Ordering::Relaxed),
            "WARN" => self.warnings.fetch_add(1, Ordering::Relaxed),
            _ => return,
        };
        if let Ok(mut samples) = self.samples.lock()
            && samples.len() < Self::SAMPLES
        {
            let summary: String = summary.chars().take(240).collect();
            if !samples.contains(&summary) {
                samples.push(summary);
            }
        }
    }

    pub fn warnings(&self) -> u64 {
        self.warnings.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn samples(&self) -> Vec<String> {
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A running `dossier` process: killed when dropped, unless it was stopped first.
pub struct Process {
    pub name: &'static str,
    pub pid: u32,
    child: Child,
    pub logs: Arc<LogCounts>,
    pub log_file: PathBuf,
}

impl Process {
    /// Starts `command`, its standard output discarded and its standard error counted and written to
    /// `log_file`.
    pub fn spawn(
        name: &'static str,
        mut command: Command,
        log_file: PathBuf,
    ) -> anyhow::Result<Self> {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        let pid = child.id().context("the child's pid")?;
        let logs = Arc::new(LogCounts::default());
        if let Some(stderr) = child.stderr.take() {
            let logs = logs.clone();
            let path = log_file.clone();
            tokio::spawn(async move {
                let Ok(mut file) = tokio::fs::File::create(&path).await else {
                    return;
                };
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.count(&line);
                    let _ = file.write_all(line.as_bytes()).await;
                    let _ = file.write_all(b"\n").await;
                }
                let _ = file.flush().await;
            });
        }
        Ok(Self {
            name,
            pid,
            child,
            logs,
            log_file,
        })
    }

    /// Whether it is still running; its exit status when it is not.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM and waits up to `grace` for the process to exit; its exit status, or an error if
    /// it did not stop in time (then it is killed).
    pub async fn terminate(&mut self, grace: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await
            .context("run kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {} failed", self.pid);
        }
        let started = Instant::now();
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await.ok();
                bail!(
                    "{} did not exit within {:.0} s of SIGTERM",
                    self.name,
                    started.elapsed().as_secs_f64()
                )
            }
        }
    }
}

/// A process's resident memory (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmRSS:")
}

/// A process's peak resident memory (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmHWM:")
}

fn status_field_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Waits (up to `within`) until `GET {url}` answers 2xx.
pub async fn wait_ready(url: &str, within: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(res) = client.get(url).send().await
            && res.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer within {} s", within.as_secs())
}

#[cfg(test)]
mod tests {
    use super::LogCounts;

    #[test]
    fn counts_json_log_lines_by_level() {
        let logs = LogCounts::default();
        logs.count(r#"{"timestamp":"2026-12-06T07:00:00Z","level":"WARN","fields":{"message":"slow"},"target":"worker::outbox"}"#);
        logs.count(r#"{"timestamp":"2026-12-06T07:00:01Z","level":"ERROR","fields":{"message":"failed"},"target":"api"}"#);
        logs.count(r#"{"timestamp":"2026-12-06T07:00:02Z","level":"INFO","fields":{"message":"fine"},"target":"api"}"#);
        logs.count("thread 'main' panicked at src/main.rs:1:1");
        logs.count("");
        assert_eq!((logs.warnings(), logs.errors()), (1, 2));
        assert_eq!(
            logs.samples(),
            vec![
                "WARN worker::outbox: slow".to_owned(),
                "ERROR api: failed".to_owned(),
                "(not JSON) thread 'main' panicked at src/main.rs:1:1".to_owned(),
            ]
        );
    }
}
