//! A headless Chromium driven over WebDriver: `chromedriver` (Debian's `chromium-driver`, or the
//! path in `CHROMEDRIVER`) is started on a free loopback port for each test and stopped with it.
//! Screenshots of whole pages go to `target/screenshots/` for a person to look at.
//!
//! On a machine without chromedriver the browser tests say so on standard error and pass without a
//! browser, so that `cargo test --workspace` works on a fresh machine; with
//! `DOSSIER_BROWSER_TESTS=required` (as `.ci/run` sets) a missing browser fails them instead.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// How long a page may take to show what a test waits for.
const PAGE_WAIT: Duration = Duration::from_secs(15);

/// A browser session on its own chromedriver.
pub struct Browser {
    pub client: Client,
    base_url: String,
    _driver: Child,
}

/// A free port on the loopback, for chromedriver.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where screenshots go: `target/screenshots/` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium for pages of `base_url`; `None` when this machine
    /// has no chromedriver and browser tests are not required.
    pub async fn start(base_url: &str) -> Option<Browser> {
        Browser::start_with(base_url, &[]).await
    }

    /// Like [`Browser::start`], with more Chromium switches (e.g. a fake camera's video file).
    pub async fn start_with(base_url: &str, extra_args: &[String]) -> Option<Browser> {
        let driver_path =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let required = std::env::var("DOSSIER_BROWSER_TESTS").is_ok_and(|v| v == "required");
        if !required && !std::path::Path::new(&driver_path).exists() {
            eprintln!(
                "NOTE: no {driver_path}: this browser test ran without a browser. Install Chromium \
                 and its driver (`apt-get install -y chromium chromium-driver`) or set CHROMEDRIVER; \
                 DOSSIER_BROWSER_TESTS=required makes a missing browser a failure."
            );
            return None;
        }
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {driver_path} ({e}): install Chromium and its driver \
                     (`apt-get install -y chromium chromium-driver`) or set CHROMEDRIVER"
                )
            });
        let driver_url = format!("http://127.0.0.1:{port}");
        let probe = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = probe
                .get(format!("{driver_url}/status"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {driver_url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--no-first-run",
                "--window-size=1100,900",
                "--lang=vi-VN",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream"
            ]
        });
        if let Some(args) = options["args"].as_array_mut() {
            args.extend(extra_args.iter().map(|a| json!(a)));
        }
        if let Ok(binary) = std::env::var("CHROME_BINARY") {
            options["binary"] = json!(binary);
        } else if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("a WebDriver session in headless Chromium");
        Some(Browser {
            client,
            base_url: base_url.to_owned(),
            _driver: driver,
        })
    }

    /// Opens a path of the app.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base_url))
            .await
            .expect("open a page");
    }

    /// Opens an absolute URL.
    pub async fn open_url(&self, url: &str) {
        self.client.goto(url).await.expect("open a page");
    }

    /// The current path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits for an element to be there.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no `{css}` on {}: {e}", self.path_now().await),
        }
    }

    async fn path_now(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Whether an element is there now.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .is_empty()
    }

    /// The text of an element. A page's script may replace the element between finding it and
    /// reading it; it is then found again.
    pub async fn text(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + PAGE_WAIT;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    panic!("the text of `{css}`: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The current value of an input.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// An attribute of an element.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.expect("attribute")
    }

    /// Types into an input, replacing what was there.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    /// Chooses an option of a select by value.
    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("no option `{value}` in `{css}`: {e}"));
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Clicks a button or link that loads another page, and waits until that page is there.
    pub async fn submit(&self, css: &str) {
        self.client
            .execute("window.__leaving = true;", vec![])
            .await
            .expect("mark the page");
        self.click(css).await;
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let still_here = self
                .client
                .execute(
                    "return window.__leaving === true || document.readyState !== 'complete';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(true);
            if !still_here {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` did not load a page; still on {}",
                self.path_now().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sets a checkbox to `on`.
    pub async fn tick(&self, css: &str, on: bool) {
        let checkbox = self.find(css).await;
        let checked = checkbox
            .prop("checked")
            .await
            .expect("checked")
            .is_some_and(|v| v == "true");
        if checked != on {
            checkbox.click().await.expect("tick");
        }
    }

    /// Waits until the page's path starts with `prefix`.
    pub async fn wait_for_path(&self, prefix: &str) {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let path = self.path().await;
            if path.starts_with(prefix) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still on {path}, expected {prefix}…"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The one-line outcome of the last action.
    pub async fn flash(&self) -> String {
        self.text("#flash").await
    }

    /// Saves a screenshot of the whole page, `width` pixels wide, as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str, width: u32) {
        self.client
            .set_window_size(width, 900)
            .await
            .expect("window size");
        let height = self
            .client
            .execute(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);",
                vec![],
            )
            .await
            .ok()
            .and_then(|v: Value| v.as_u64())
            .unwrap_or(900);
        let height = u32::try_from(height).unwrap_or(900).clamp(600, 6000);
        self.client
            .set_window_size(width, height + 140)
            .await
            .expect("window size");
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
        self.client
            .set_window_size(1100, 900)
            .await
            .expect("window size");
    }

    /// Ends the browser session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
