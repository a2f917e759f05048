//! The connection to the dossier store: a read pool and a write pool. On PostgreSQL both are the same
//! pool; on SQLite writes go through one connection, so writers queue in process instead of spinning
//! on the database lock, while readers run in parallel under WAL.

use std::sync::Arc;
use std::time::Duration;

use crate::ops::catalog::CatalogCache;

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
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
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) with pools sized for `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbErr> {
        if url.starts_with("sqlite:") {
            let read = Database::connect(sqlite_options(url, max_connections.max(2))).await?;
            let write = Database::connect(sqlite_options(url, 1)).await?;
            Ok(Self {
                read,
                write,
                catalog: Arc::default(),
            })
        } else {
            let mut options = ConnectOptions::new(url.to_owned());
            options
                .max_connections(max_connections)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .sqlx_logging(false);
            let pool = Database::connect(options).await?;
            Ok(Self {
                read: pool.clone(),
                write: pool,
                catalog: Arc::default(),
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

/// Starts a write transaction on `db` (`BEGIN IMMEDIATE` on SQLite).
pub async fn begin_write(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

fn sqlite_options(url: &str, max_connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
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
