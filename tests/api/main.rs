//! Black-box tests of the dossier service over real HTTP. They run on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.

mod access;
mod carrier;
mod dossiers;
mod handovers;
mod idempotency;
mod labels;
mod notifications;
mod operations;
mod postal;
mod robustness;
mod scans;
mod validation;
