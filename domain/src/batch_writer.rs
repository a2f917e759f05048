//! A writer that commits the writes arriving together in one transaction, on a thread of its own. It
//! sits below the store, which holds one on SQLite, and knows nothing of what it writes: a use-case
//! (the citizens' new dossiers, `ops::dossiers`) queues jobs that say how to write themselves.
//!
//! SQLite has one writer, and each statement of a transaction is a trip to its driver thread and back,
//! so a transaction per request keeps the writer mostly waiting on those trips while requests queue
//! behind it. Here the jobs that arrive while a transaction runs are written together in the next one:
//! each answer still comes after its job is committed, and a batch that fails (a taken code or
//! idempotency key, or any error) is rolled back and written one by one, so each job ends exactly as
//! it would alone.

use futures_util::future::BoxFuture;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::mpsc;

/// One write waiting for the [`BatchWriter`], and where its answer goes.
pub(crate) trait QueuedWrite: Send + 'static {
    /// Writes this job inside the batch's transaction; an error rolls the whole batch back.
    fn write_in<'a>(&'a mut self, txn: &'a DatabaseTransaction)
    -> BoxFuture<'a, Result<(), DbErr>>;

    /// The batch that [`QueuedWrite::write_in`] wrote into was committed: answers the caller.
    fn committed(self: Box<Self>);

    /// Writes this job alone, in a transaction of its own, and answers the caller.
    fn write_alone(self: Box<Self>, write: &DatabaseConnection) -> BoxFuture<'_, ()>;
}

/// A job of the writer.
pub(crate) type Job = Box<dyn QueuedWrite>;

/// The sending end of the writer's queue; the writer's thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct BatchWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

/// Most jobs committed in one transaction.
const BATCH: usize = 64;

impl BatchWriter {
    /// Starts the writer's thread on `write`.
    pub(crate) fn start(write: DatabaseConnection) -> Result<Self, DbErr> {
        let (jobs, queue) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbErr::Custom(format!("the writer of new dossiers: {e}")))?;
        std::thread::Builder::new()
            .name("new-dossiers".into())
            .spawn(move || runtime.block_on(write_queued(write, queue)))
            .map_err(|e| DbErr::Custom(format!("the writer of new dossiers: {e}")))?;
        Ok(Self { jobs })
    }

    /// Queues a job; `Err` gives it back when the writer has stopped.
    pub(crate) fn queue(&self, job: Job) -> Result<(), Job> {
        self.jobs.send(job).map_err(|returned| returned.0)
    }
}

/// The writer's loop: whatever has arrived, up to [`BATCH`] jobs, in one transaction. Each batch runs
/// as a task of its own, so a batch that panicked answers its jobs with an error (their answer
/// channels close) and the loop goes on.
async fn write_queued(write: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let write = write.clone();
        let batch = std::mem::take(&mut batch);
        if let Err(error) = tokio::spawn(async move { write_batch(&write, batch).await }).await {
            tracing::error!(error.cause = %error, "a batch of new dossiers failed");
        }
    }
}

async fn write_batch(write: &DatabaseConnection, mut batch: Vec<Job>) {
    if batch.len() > 1 {
        match insert_batch(write, &mut batch).await {
            Ok(()) => {
                for job in batch {
                    job.committed();
                }
                return;
            }
            Err(err) => {
                tracing::info!(error.cause = %err, batch.len = batch.len(), "a batch of new dossiers is written one by one");
            }
        }
    }
    for job in batch {
        job.write_alone(write).await;
    }
}

/// Every job of `batch` in one transaction, or none of them.
async fn insert_batch(write: &DatabaseConnection, batch: &mut [Job]) -> Result<(), DbErr> {
    let txn = begin_write(write).await?;
    for job in batch.iter_mut() {
        if let Err(err) = job.write_in(&txn).await {
            txn.rollback().await?;
            return Err(err);
        }
    }
    txn.commit().await
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
