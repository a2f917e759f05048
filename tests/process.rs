//! The real `dossier` binary as a child process: the one `cargo test --workspace` built beside the
//! tests (built here only when missing, or when `DOSSIER_TEST_REBUILD_BINARY` is set after a change
//! with `cargo test -p tests`), started on a free port, and killed when its guard is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The path of the `dossier` binary, built on first use.
pub fn dossier_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("the workspace above tests/")
                .to_owned();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            // The test binary lives in `<target>/<profile>/deps/`; the binary goes to `<target>/<profile>/`.
            let exe = std::env::current_exe().expect("the test binary's path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("the profile directory")
                .to_owned();
            let target_dir = profile_dir.parent().expect("the target directory");
            let binary = profile_dir.join(format!("dossier{}", std::env::consts::EXE_SUFFIX));
            // `cargo test --workspace` builds the binary with the tests (the root package's own
            // process tests need it); a build here would resolve features apart from that one and
            // rebuild half the dependencies.
            if binary.exists() && std::env::var_os("DOSSIER_TEST_REBUILD_BINARY").is_none() {
                return binary;
            }
            let status = Command::new(cargo)
                .current_dir(&workspace)
                .args(["build", "--bin", "dossier", "--target-dir"])
                .arg(target_dir)
                .stdout(Stdio::null())
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build --bin dossier failed");
            assert!(binary.exists(), "{} was not built", binary.display());
            binary
        })
        .clone()
}

/// A `dossier` command with a clean environment for settings: no settings file is read (the working
/// directory is a fresh temporary one) and no `DOSSIER__…` variable of the caller leaks in.
pub fn dossier_command(dir: &Path) -> Command {
    dossier_command_of(&dossier_binary(), dir)
}

/// [`dossier_command`] of the `dossier` binary at `bin` (a release build, for the benchmarks).
pub fn dossier_command_of(bin: &Path, dir: &Path) -> Command {
    let mut command = Command::new(bin);
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("DOSSIER") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `dossier ARGS…` to its end and returns what it printed.
pub fn run_dossier(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    dossier_command(dir.path())
        .args(args)
        .output()
        .expect("run dossier")
}

/// A free port on the loopback (free when asked; the child binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `dossier` child process, killed when dropped.
pub struct ChildProcess {
    child: Child,
    pub base_url: String,
    _dir: tempfile::TempDir,
}

impl ChildProcess {
    /// Starts `dossier serve --bind 127.0.0.1:<free port> ARGS…` with the extra environment `env`,
    /// and waits (up to 60 s) until `/health/live` answers. Standard output goes to `stdout.txt` in
    /// the child's working directory, readable with [`ChildProcess::stdout`].
    pub async fn serve(args: &[&str], env: &[(&str, &str)]) -> ChildProcess {
        // Built off the runtime's threads: the first build may take a while.
        let _binary = tokio::task::spawn_blocking(dossier_binary)
            .await
            .expect("build the binary");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let stdout = std::fs::File::create(dir.path().join("stdout.txt")).expect("stdout file");
        let mut command = dossier_command(dir.path());
        command
            .arg("serve")
            .args(["--bind", &bind])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null());
        let child = command.spawn().expect("start dossier serve");
        let mut process = ChildProcess {
            child,
            base_url: format!("http://{bind}"),
            _dir: dir,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("dossier serve exited early with {status}");
            }
            if let Ok(res) = client
                .get(format!("{}/health/live", process.base_url))
                .send()
                .await
                && res.status().is_success()
            {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "dossier serve did not listen within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A URL on the child.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// What the child printed on standard output so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stdout.txt")).unwrap_or_default()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
