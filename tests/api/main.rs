//! Black-box tests of the dossier service over real HTTP. They run on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.

mod access;
mod admin;
mod agency;
mod audit;
mod carrier;
mod carrier_orders;
mod deadlines;
mod delivery_identity;
mod dossiers;
mod feed;
mod fees;
mod handovers;
mod idempotency;
mod keys;
mod incidents;
mod labels;
mod limits;
mod notifications;
mod operations;
mod period_reports;
mod postal;
mod postal_privacy;
mod reports;
mod robustness;
mod safe_defaults;
mod scans;
mod staff_web;
mod slips;
mod validation;
mod webhook_targets;
