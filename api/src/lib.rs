//! The HTTP face of the dossier service (poem + poem-openapi): routes of API.md, credentials, the error
//! envelope, and the application that binds them to a listener.

pub mod access_log;
pub mod allow;
pub mod auth;
pub mod checked;
pub mod client_ip;
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
