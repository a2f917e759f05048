//! Black-box tests of the dossier service over real HTTP. They run on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.

mod access;
mod admin;
mod agency;
mod calendar;
mod carrier;
mod carrier_orders;
mod deadlines;
mod divisions;
mod documents;
mod dossiers;
mod feed;
mod handovers;
mod idempotency;
mod labels;
mod notifications;
mod operations;
mod postal;
mod reports;
mod robustness;
mod scans;
mod supplements;
mod validation;
