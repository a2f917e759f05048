//! Webhooks reach public addresses only: registration refuses `http://`, credentials and non-public
//! hosts (422 on `url`), and delivery connects only to public addresses — an IP-literal host or a name
//! that resolves to a non-public address now (DNS rebinding) is never connected to — unless the
//! service runs on a closed network (`webhooks.allow_private_networks`). What a refused target would
//! have answered never shows in the outbox listing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use entity::enums::{OutboxStatus, Role};
use entity::outbox;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use worker::outbox::OutboxDeps;
use worker::webhooks::WebhookClient;

const AGENCY: &str = "UBND-P-HOANKIEM";
const SECRET: &str = "a-long-shared-secret-0123456789";
/// What the receiver answers, which must never reach the outbox listing.
const RECEIVER_SAYS: &str = "internal-admin-panel-says-hello";

async fn register(app: &TestApp, admin: &str, url: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/admin/webhooks"))
        .bearer_auth(admin)
        .json(&json!({"url": url, "secret": SECRET, "agency_code": AGENCY}))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn webhook_urls_that_are_not_https_to_a_public_address_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn_with(|s| s.webhooks.allow_private_networks = false).await;
    let admin = app.key(Role::Admin, None, None).await;
    for url in [
        "http://agency.example.vn/hook",
        "https://user:password@agency.example.vn/hook",
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.0.0.5/hook",
        "https://172.16.1.1/hook",
        "https://192.168.1.20/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://2130706433/hook",
    ] {
        let res = register(&app, &admin, url).await;
        assert_eq!(res.status(), 422, "{url}");
        let (code, fields) = tests::error_of(res).await;
        assert_eq!(code, "validation_failed", "{url}");
        assert_eq!(fields, vec!["url"], "{url}");
    }
    let stored = entity::webhook::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(stored, 0, "nothing stored");
    assert_eq!(
        register(&app, &admin, "https://agency.example.vn/hooks")
            .await
            .status(),
        201
    );
    assert_eq!(
        register(&app, &admin, "https://203.162.4.190:8443/hooks")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn on_a_closed_network_private_webhook_urls_are_accepted() {
    let app = TestApp::spawn_with(|s| s.webhooks.allow_private_networks = true).await;
    let admin = app.key(Role::Admin, None, None).await;
    for url in ["http://127.0.0.1:9/hook", "https://10.0.0.5/hook"] {
        assert_eq!(register(&app, &admin, url).await.status(), 201, "{url}");
    }
}

/// A TCP listener on the loopback that counts connections and answers each with a 500 carrying
/// [`RECEIVER_SAYS`].
async fn counting_receiver() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let body = RECEIVER_SAYS;
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, connections)
}

/// An outbox worker that tries each delivery once (a webhook schedule without retries), with the
/// network policy given.
fn deps(allow_private_networks: bool) -> OutboxDeps {
    let mut settings = worker::WorkerSettings::default().outbox;
    settings.mail.dir = std::env::temp_dir().join("dossier-test-mail");
    settings.retry.max_attempts = 1;
    settings.webhook_retry.delays.clear();
    settings.webhook_timeout = Duration::from_secs(5);
    let mut deps = OutboxDeps::new(&settings).expect("outbox deps");
    deps.webhooks =
        WebhookClient::with_policy(Duration::from_secs(5), allow_private_networks).expect("client");
    deps
}

/// Steps the worker until no webhook delivery is pending, polling with a deadline.
async fn deliver_webhooks(app: &TestApp, deps: &OutboxDeps) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let pending = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
            .filter(outbox::Column::Kind.eq("webhook"))
            .count(&app.store.read)
            .await
            .expect("count");
        if pending == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhook deliveries still pending"
        );
        worker::outbox::step(&app.store, deps).await;
    }
}

async fn outbox_listing(app: &TestApp, admin: &str) -> String {
    let res = app
        .client
        .get(app.url("/api/v1/admin/outbox"))
        .bearer_auth(admin)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    res.text().await.expect("body")
}

/// Registers (on a closed network) one webhook by IP literal and one by a name that resolves to the
/// loopback, both on `port`, and files a dossier so each gets a delivery.
async fn two_loopback_webhooks(app: &TestApp, admin: &str, port: u16) {
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("https://localhost:{port}/hook"),
    ] {
        assert_eq!(register(app, admin, &url).await.status(), 201, "{url}");
    }
    let res = app.post_dossier(&tests::valid_request()).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn deliveries_never_connect_to_a_non_public_address_by_ip_or_by_name() {
    // Registered while the network was declared closed (or by a name that resolved elsewhere then):
    // the delivery checks the address it would connect to, now.
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let (port, connections) = counting_receiver().await;
    two_loopback_webhooks(&app, &admin, port).await;

    deliver_webhooks(&app, &deps(false)).await;

    assert_eq!(connections.load(Ordering::SeqCst), 0, "no connection made");
    let rows = outbox::Entity::find()
        .filter(outbox::Column::Kind.eq("webhook"))
        .all(&app.store.read)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, OutboxStatus::Failed);
        assert!(
            row.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("the receiver's address is not public")),
            "{row:?}"
        );
    }
    let listing = outbox_listing(&app, &admin).await;
    assert!(!listing.contains(RECEIVER_SAYS), "{listing}");
}

#[tokio::test]
async fn on_a_closed_network_deliveries_reach_private_addresses_and_the_answer_body_stays_unseen() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let (port, connections) = counting_receiver().await;
    two_loopback_webhooks(&app, &admin, port).await;

    deliver_webhooks(&app, &deps(true)).await;

    assert!(
        connections.load(Ordering::SeqCst) >= 1,
        "the receiver was reached"
    );
    let listing = outbox_listing(&app, &admin).await;
    let rows: Value = serde_json::from_str(&listing).expect("json");
    assert!(
        rows.as_array()
            .expect("array")
            .iter()
            .any(|r| r["last_error"].as_str().is_some_and(|e| e.contains("500"))),
        "{listing}"
    );
    assert!(!listing.contains(RECEIVER_SAYS), "{listing}");
}
