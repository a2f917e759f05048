//! Tests that run the real `dossier` binary as child processes — workers killed with `kill -9`,
//! stopped with SIGTERM, several of them on one PostgreSQL database — against the tests' SMTP sink and
//! carrier sandbox. They need PostgreSQL (`TEST_DATABASE_URL`): on SQLite, where one worker is the
//! rule, they print a note and pass.

mod notify_processes;
mod worker_processes;
mod zalo_processes;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A `dossier` child process, killed when dropped; its log goes to a file, printed on demand.
pub struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `dossier <args>` with `env` (on top of this process's environment, without any
    /// `DOSSIER_…` or `DATABASE_URL` of the caller's), logging to `<dir>/<name>.log`.
    pub fn start(name: &str, args: &[&str], env: &[(&str, String)], dir: &Path) -> Process {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("create the process log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_dossier"));
        command.args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("DOSSIER") || key == "DATABASE_URL" {
                command.env_remove(key);
            }
        }
        command
            .env("RUST_LOG", "info")
            .env("DOSSIER_CONFIG", dir.join("none.toml"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .kill_on_drop(true);
        let child = command.spawn().expect("start the dossier binary");
        Process { child, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// `kill -9`: the process ends at once, holding whatever it held.
    pub async fn kill_9(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }

    /// Sends SIGTERM and waits for the process to end; returns how long that took.
    pub async fn terminate(&mut self, patience: Duration) -> Duration {
        let started = tokio::time::Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        match tokio::time::timeout(patience, self.child.wait()).await {
            Ok(_) => started.elapsed(),
            Err(_) => panic!(
                "the process did not end within {patience:?} of SIGTERM; its log:\n{}",
                self.log_text()
            ),
        }
    }

    /// What the process logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Polls `check` every 20 ms until it holds or `within` passes; `false` on timeout.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
