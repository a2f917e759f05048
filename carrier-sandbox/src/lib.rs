//! A stand-alone emulation of the carrier's tracking API (CARRIER.md), so the service can be
//! developed, demonstrated, tested and benchmarked without the real carrier.
//!
//! It issues tokens, accepts orders (idempotent on `orderNumber`, keeping or allocating S10 labels),
//! moves every parcel through realistic VNPost status codes on a simulated clock (frozen, accelerated
//! or stepped by hand, all randomness from one seed), serves the event feed and per-order reads, and,
//! on request, misbehaves in every way CARRIER.md says a real carrier does (see [`Fault`]).
//!
//! Start it in-process on port 0 with [`Sandbox::start`], or as the `carrier-sandbox` binary:
//!
//! ```no_run
//! # async fn demo() -> Result<(), carrier_sandbox::SandboxError> {
//! use std::time::Duration;
//! use carrier_sandbox::{Fault, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let base = sandbox.base_url(); // point the worker here
//! sandbox.bulk_orders(1000, "DEMO-", None);
//! sandbox.advance(Duration::from_secs(3 * 24 * 3600)); // every parcel delivered
//! sandbox.inject(Fault::ServerError { times: 2, status: 503, scope: Default::default() });
//! # let _ = base; Ok(()) }
//! ```
//!
//! Where things go: a carrier endpoint in `server` (the routes CARRIER.md names), the knobs tests and
//! benchmarks turn in `control`, parcels, orders and the simulated clock in `world`, a new misbehaviour
//! as a [`Fault`] (`faults`), a scripted path of a parcel in `script`.

mod config;
mod control;
mod faults;
mod net;
mod s10;
mod script;
mod server;
mod world;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use poem::listener::TcpAcceptor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::SandboxConfig;
pub use faults::{Fault, Scope};
pub use s10::check_digit;
pub use script::{Script, ScriptStep, status_message};
pub use server::RequestStats;
pub use world::{OrderAnswer, OrderRequest, TrackingRecord, UNREADABLE_EVENT_TIME, WorldStats};

use faults::Failure;
use server::Shared;

/// Why a sandbox could not start or do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The address could not be bound (in use, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// No order has this number.
    #[error("no order numbered {0}")]
    UnknownOrder(String),
}

/// Entry point: starts sandboxes.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// Binds `config.bind` (port 0 for a free port) and serves until the handle is dropped or
    /// [`SandboxHandle::shutdown`] is called.
    pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
        let addr = config.bind;
        let bind_error = |source| SandboxError::Bind { addr, source };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let acceptor = TcpAcceptor::from_tokio(listener).map_err(bind_error)?;
        let shared = Arc::new(Shared::new(config));
        let acceptor = net::ResettableAcceptor::new(acceptor, shared.connections.clone());
        let app = server::app(shared.clone(), control::routes());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let signal = async {
                let _ = stopped.await;
            };
            if let Err(error) = poem::Server::new_with_acceptor(acceptor)
                .name("carrier-sandbox")
                .run_with_graceful_shutdown(app, signal, Some(server::SHUTDOWN_GRACE))
                .await
            {
                tracing::error!(%error, "carrier sandbox stopped with an error");
            }
        });
        tracing::info!(sandbox.addr = %local_addr, "carrier sandbox started");
        Ok(SandboxHandle {
            shared,
            local_addr,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running sandbox: its address, its clock, its faults and its counters. Dropping it stops the server.
#[derive(Debug)]
pub struct SandboxHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SandboxHandle {
    /// The base URL to configure the worker with (`http://127.0.0.1:PORT`, no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The configuration it runs with (credentials and customer code included, for tests).
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// Simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.world().now()
    }

    /// Moves simulated time forward and publishes every event that became due, so tests never sleep.
    pub fn advance(&self, by: Duration) {
        self.shared.world().advance(by);
    }

    /// Simulated seconds per real second from now on (0 freezes the clock).
    pub fn set_speed(&self, speed: f64) {
        self.shared.world().set_speed(speed);
    }

    /// Creates an order without HTTP (same rules and answer as `POST /order/post`), on `script` or
    /// the default path.
    pub fn create_order(&self, order: &OrderRequest, script: Option<&Script>) -> OrderAnswer {
        self.shared.world().create_order(order, script)
    }

    /// Creates `count` orders numbered `{prefix}0000001`… fast (a 100,000-parcel benchmark takes well
    /// under a second); answers `(orderNumber, itemCode)` of each.
    pub fn bulk_orders(
        &self,
        count: u32,
        prefix: &str,
        script: Option<&Script>,
    ) -> Vec<(String, String)> {
        self.shared.world().create_bulk(count, prefix, script)
    }

    /// Replaces what is still to happen to a parcel with `script`, starting at simulated now.
    pub fn set_script(&self, order_number: &str, script: &Script) -> Result<(), SandboxError> {
        if self.shared.world().set_script(order_number, script) {
            Ok(())
        } else {
            Err(SandboxError::UnknownOrder(order_number.to_owned()))
        }
    }

    /// Injects a fault; answers the records it published (only [`Fault::UnknownItems`] publishes).
    pub fn inject(&self, fault: Fault) -> Vec<TrackingRecord> {
        apply_fault(&self.shared, fault)
    }

    /// Makes every token issued so far invalid (early expiry).
    pub fn revoke_tokens(&self) {
        self.shared.revoke_tokens();
    }

    /// Publishes the records held back by [`Fault::LateRecords`] now; answers how many.
    pub fn release_held_records(&self) -> usize {
        self.shared.world().release_held(true)
    }

    /// Disarms every pending fault and publishes held records.
    pub fn clear_faults(&self) {
        self.shared.failures().clear();
        self.shared.world().clear_faults();
    }

    /// Requests served by endpoint, so a test or benchmark can say what a sync cost.
    pub fn stats(&self) -> RequestStats {
        self.shared.counters.snapshot()
    }

    /// Starts counting from zero.
    pub fn reset_stats(&self) {
        self.shared.counters.reset();
    }

    /// What the simulated world holds.
    pub fn world_stats(&self) -> WorldStats {
        let mut world = self.shared.world();
        world.catch_up();
        world.stats()
    }

    /// Every record visible now, ascending by id: the truth a sync is compared with.
    pub fn records(&self) -> Vec<TrackingRecord> {
        self.shared.world().all_records()
    }

    /// One order's visible records, ascending.
    pub fn order_records(&self, order_number: &str) -> Vec<TrackingRecord> {
        let customer = self.shared.config.customer_code.clone();
        self.shared.world().order_records(&customer, order_number)
    }

    /// The request an order was created with, as the carrier received it (orders made by
    /// [`SandboxHandle::bulk_orders`] keep none).
    pub fn order_request(&self, order_number: &str) -> Option<OrderRequest> {
        self.shared.world().order_request(order_number)
    }

    /// The stored answer of an order.
    pub fn order(&self, order_number: &str) -> Option<OrderAnswer> {
        self.shared.world().order(order_number)
    }

    /// Stops the server and waits (at most about a second) for answers in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Applies a fault to the shared state (handle and control API alike).
pub(crate) fn apply_fault(shared: &Shared, fault: Fault) -> Vec<TrackingRecord> {
    let failures = |failure, scope, times| shared.failures().push(failure, scope, times);
    match fault {
        Fault::TooManyRequests {
            times,
            retry_after_secs,
            scope,
        } => failures(Failure::TooManyRequests(retry_after_secs), scope, times),
        Fault::ServerError {
            times,
            status,
            scope,
        } => {
            let status = if (500..600).contains(&status) {
                status
            } else {
                500
            };
            failures(Failure::Status(status), scope, times);
        }
        Fault::ErrorStatus {
            times,
            status,
            scope,
        } => {
            let status = if (400..600).contains(&status) && status != 429 {
                status
            } else {
                500
            };
            failures(Failure::Status(status), scope, times);
        }
        Fault::ConnectionReset { times, scope } => {
            failures(Failure::ConnectionReset, scope, times);
        }
        Fault::SlowAnswer {
            times,
            delay_ms,
            scope,
        } => failures(Failure::Slow(Duration::from_millis(delay_ms)), scope, times),
        Fault::DuplicateRecords { pages } => shared.world().arm_duplicates(pages),
        Fault::OutOfOrderTimes { records } => shared.world().arm_out_of_order(records),
        Fault::LateRecords { records } => shared.world().arm_late(records),
        Fault::MissingFromFeed { records } => shared.world().arm_missing(records),
        Fault::UnreadableRecords { records } => shared.world().arm_unreadable(records),
        Fault::RevokeTokens => shared.revoke_tokens(),
        Fault::UnknownItems { records } => return shared.world().inject_unknown(records),
    }
    Vec::new()
}
