//! Black-box tests of the dossier service over real HTTP. They run on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.

mod access;
mod admin;
mod agency;
mod audit;
mod calendar;
mod carrier;
mod carrier_orders;
mod deadlines;
mod delivery_identity;
mod divisions;
mod documents;
mod dossiers;
mod feed;
mod fees;
mod handovers;
mod idempotency;
mod incidents;
mod keys;
mod labels;
mod limits;
mod notifications;
mod operations;
mod outage;
mod period_reports;
mod postal;
mod postal_privacy;
mod reports;
mod robustness;
mod safe_defaults;
mod scans;
mod slips;
mod staff_web;
mod supplements;
mod validation;
mod webhook_targets;
