//! Black-box tests of the dossier service over real HTTP. They run on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.

mod access;
mod dossiers;
mod idempotency;
mod operations;
mod robustness;
mod validation;
