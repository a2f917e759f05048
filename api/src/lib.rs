//! The HTTP face of the dossier service (poem + poem-openapi): routes of API.md, credentials, the error
//! envelope, and the application that binds them to a listener.
//!
//! Where things go: a JSON endpoint in `routes/` (one file per resource, see its module doc), a page
//! for people in `web/` (one folder per audience, a handler ends with `.page(…)`), a view both show in
//! `views`, a middleware or limit beside `rate_limit`/`limits`, a setting in `settings`. Rules and
//! queries never live here: a handler calls one use-case of `domain::ops`.

pub mod access_log;
pub mod allow;
pub mod auth;
pub mod checked;
pub mod client_ip;
pub mod direct_json;
pub mod error;
pub mod labels;
pub mod limits;
pub mod optional_json;
pub mod probes;
pub mod rate_limit;
pub mod report_runs;
pub mod routes;
pub mod serve;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod track_cache;
pub mod views;
pub mod web;

pub use settings::Settings;
pub use startup::Application;
