//! The rules of carrying administrative dossiers by the public postal service (Decision 45/2016/QĐ-TTg,
//! Circular 17/2017/TT-BTTTT), and the transactional use-cases that `api` and `worker` share.
//!
//! Pure rules live in their own modules and know nothing of HTTP or the database; `ops` applies them to
//! the store, one transaction per use-case, writing the change and its timeline event together.
//!
//! Where to add: a rule that needs no database (a deadline, a fee, a status move) goes in its own module
//! here (`sla`, `fees`, `lifecycle`, `calendar`, …) with unit tests; a use-case goes in `ops/<area>.rs`
//! as one function that checks, writes and enqueues its notices in one transaction, and is then called by
//! a route in `api` or a loop in `worker`. Queries belong under `ops`, not in `api` or `worker`.

mod batch_writer;
pub mod calendar;
pub mod carrier_codes;
pub mod clock;
pub mod codes;
pub mod contact;
pub mod delivery;
pub mod divisions;
pub mod fees;
pub mod label_token;
pub mod lifecycle;
pub mod net;
pub mod notify;
pub mod ops;
pub mod route;
pub mod s10;
pub mod scan_rules;
pub mod sla;
pub mod store;
pub mod webhook_retry;
