//! Black-box tests of the dossier service over real HTTP. They run on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.

mod access;
mod admin;
mod agency;
mod audit;
mod carrier;
mod carrier_orders;
mod deadlines;
mod dossiers;
mod feed;
mod handovers;
mod idempotency;
mod keys;
mod labels;
mod notifications;
mod operations;
mod postal;
mod postal_privacy;
mod reports;
mod robustness;
mod safe_defaults;
mod scans;
mod staff_web;
mod validation;
mod webhook_targets;
