//! The connection to the dossier store: a read pool and a write pool. On PostgreSQL both are the same
//! pool; on SQLite writes go through one connection, so writers queue in process instead of spinning
//! on the database lock, while readers run in parallel under WAL.
//!
//! On SQLite the store also counts the commits of its writer ([`Store::write_generation`]), so that
//! in-process caches of read answers know when what they hold may have changed, and writes the
//! citizens' new dossiers in batches (`ops::dossiers`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::batch_writer::BatchWriter;
pub use crate::batch_writer::begin_write;
use crate::ops::catalog::CatalogCache;

use sea_orm::{
    ConnAcquireErr, ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, RuntimeErr, sqlx,
};

/// Where the service keeps its data.
#[derive(Debug, Clone)]
pub struct Store {
    /// For reads that need no transaction.
    pub read: DatabaseConnection,
    /// For transactions that change data.
    pub write: DatabaseConnection,
    /// Reference data, read at most every few seconds.
    pub catalog: Arc<CatalogCache>,
    /// On SQLite, a counter this process's writer moves on every commit; `None` on PostgreSQL, where
    /// other processes write as much as this one and no in-process count can tell what changed.
    pub write_generation: Option<Arc<WriteGeneration>>,
    /// On SQLite, the writer of new dossiers (`ops::dossiers`), which commits those that arrive
    /// together in one transaction; `None` on PostgreSQL.
    pub(crate) new_dossiers: Option<BatchWriter>,
    /// Most open pickup requests (`pickup_requested`, `pickup_scheduled`, `pickup_failed`) one
    /// applicant phone may have; a new one over it is refused.
    pub open_requests_per_phone: u32,
}

/// The default of [`Store::open_requests_per_phone`].
pub const DEFAULT_OPEN_REQUESTS_PER_PHONE: u32 = 5;

/// How many times the SQLite writer of this process has committed (or may have).
///
/// It moves twice per commit: from SQLite's commit hook, before the commit returns to its caller, and
/// again when the connection goes back to the pool, after the commit is visible to readers. A reader
/// that notes the value *before* it queries, and later finds it unchanged, therefore knows that no
/// commit of this process landed in between — neither one its query missed nor one in flight.
/// Writers in other processes (a separate `dossier worker` on the same file) are not counted.
#[derive(Debug, Default)]
pub struct WriteGeneration(AtomicU64);

impl WriteGeneration {
    /// The current value; note it before reading.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// How long a PostgreSQL statement waits for another session's lock by default (`lock_timeout`).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) with pools sized for `max_connections`,
    /// statements waiting at most [`DEFAULT_LOCK_TIMEOUT`] for a lock.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbErr> {
        Self::connect_with(url, max_connections, DEFAULT_LOCK_TIMEOUT).await
    }

    /// [`Store::connect`] with PostgreSQL's `lock_timeout` set to `lock_timeout` on every connection
    /// (zero: the server's own setting, no limit by default): a statement that would wait longer for a lock another session holds fails
    /// (SQLSTATE 55P03), so a stuck session stalls no request and no worker loop behind it.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        lock_timeout: Duration,
    ) -> Result<Self, DbErr> {
        if url.starts_with("sqlite:") {
            let generation = Arc::new(WriteGeneration::default());
            let read = Database::connect(sqlite_options(
                url,
                max_connections.clamp(2, MAX_SQLITE_READERS),
            ))
            .await?;
            let mut write_options = sqlite_options(url, 1);
            count_commits(&mut write_options, generation.clone());
            let write = Database::connect(write_options).await?;
            let new_dossiers = Some(BatchWriter::start(write.clone())?);
            Ok(Self {
                read,
                write,
                catalog: Arc::default(),
                write_generation: Some(generation),
                new_dossiers,
                open_requests_per_phone: DEFAULT_OPEN_REQUESTS_PER_PHONE,
            })
        } else {
            let mut options = ConnectOptions::new(url.to_owned());
            options
                .max_connections(max_connections)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
                .sqlx_logging(false);
            // Sent as a startup parameter (`options`); zero sends none, for a pooler that refuses
            // startup parameters (the server's own `lock_timeout` then holds).
            if !lock_timeout.is_zero() {
                let lock_timeout_ms = lock_timeout.as_millis().to_string();
                options.map_sqlx_postgres_opts(move |pg| {
                    pg.options([("lock_timeout", lock_timeout_ms.as_str())])
                });
            }
            let pool = Database::connect(options).await?;
            Ok(Self {
                read: pool.clone(),
                write: pool,
                catalog: Arc::default(),
                write_generation: None,
                new_dossiers: None,
                open_requests_per_phone: DEFAULT_OPEN_REQUESTS_PER_PHONE,
            })
        }
    }

    /// The database flavour, for the few queries that differ.
    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite, so it never upgrades a read lock).
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_write(&self.write).await
    }

    /// Closes both pools.
    pub async fn close(self) -> Result<(), DbErr> {
        self.read.close().await?;
        self.write.close().await
    }
}

/// A pooled connection idle for this long is pinged before it is handed out (one that has just
/// answered a query is not: a ping on every use was a round trip more per query). A connection that
/// died in between fails its query, and is closed when it goes back (`vendor/sqlx-core`).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// The most SQLite read connections: each is a thread of its own with its own page cache, and more
/// readers than cores only queue on the CPU while holding memory.
const MAX_SQLITE_READERS: u32 = 4;

/// Makes every connection of a SQLite pool move `generation` when it commits and when it is released.
fn count_commits(options: &mut ConnectOptions, generation: Arc<WriteGeneration>) {
    options.map_sqlx_sqlite_pool_opts(move |pool| {
        let on_connect = generation.clone();
        let on_release = generation.clone();
        pool.after_connect(move |conn, _meta| {
            let generation = on_connect.clone();
            Box::pin(async move {
                conn.lock_handle().await?.set_commit_hook(move || {
                    generation.advance();
                    true
                });
                Ok(())
            })
        })
        .after_release(move |_conn, _meta| {
            on_release.advance();
            Box::pin(async { Ok(true) })
        })
    });
}

fn sqlite_options(url: &str, max_connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    options
}

/// A connection of `db`'s PostgreSQL pool (its hooks kept), for the few busiest statements sent
/// through sqlx itself rather than sea-orm, which copies every bound value and the row's text on
/// each query. The pool's failure is reported as sea-orm reports it, so that callers answer it alike:
/// every such failure means the database cannot be reached.
pub(crate) async fn postgres_connection(
    db: &DatabaseConnection,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, DbErr> {
    // sea-orm panics when asked for the PostgreSQL pool of another database: a caller's mistake is
    // answered as an error instead.
    if db.get_database_backend() != DbBackend::Postgres {
        return Err(DbErr::Custom(
            "a PostgreSQL statement was sent to another database".to_owned(),
        ));
    }
    db.get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(|err| match err {
            sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
        })
}

/// A statement's failure through sqlx itself, reported as sea-orm reports it.
pub(crate) fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}
