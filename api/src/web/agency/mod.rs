//! The agency clerk's pages: the desk (handover records waiting for the agency's signature, the
//! worklist with overdue dossiers highlighted, rulings, results, collections, results handed to the
//! post), dossiers filed in person whose result the post brings home, and the summary report with
//! its on-time rates. The worklist and the report are the domain's (`domain::ops::agency`,
//! `domain::ops::reports`), as the JSON API serves them.
//!
//! One file per page; a new page gets its own file here and its route in `web::mount`.

pub mod actions;
pub mod desk;
pub mod report;
pub mod returns;
