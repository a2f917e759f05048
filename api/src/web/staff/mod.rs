//! The post office's pages: sign-in (an office's or agency's API key makes a session), today's
//! pickups (book, record, print labels and the papers signed at the door), the scan page (camera or handheld scanner), handover records
//! (draft, sign, print), deliveries of results, and one dossier's page with the actions its status
//! allows. Every action calls the same use-case as the JSON API with the session's key.
//!
//! One file per page; a new page gets its own file here and its route in `web::mount`.

pub mod cards;
pub mod deliveries;
pub mod dossier;
pub mod handovers;
pub mod labels;
pub mod pickups;
pub mod scan;
pub mod sign_in;
