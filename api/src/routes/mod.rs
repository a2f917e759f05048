//! The HTTP routes of API.md (the JSON API under `/api/v1`, documented by poem-openapi), grouped by
//! audience: one file per resource, each an `OpenApi` impl whose handlers extract the caller, call one
//! use-case in `domain::ops` and map its answer to the `…Out` payloads; errors are `ApiError`
//! (`crate::error`) through `?`.
//!
//! A new endpoint goes into the file of its resource; a new resource gets a file here, its `pub mod`
//! below and its API added to the service in `crate::startup`. Views that pages show as well (the
//! public tracking view) live in `crate::views`, not here; this module never imports `crate::web`
//! for them.

pub mod admin;
pub mod agency;
pub mod audit;
pub mod carrier;
pub mod deliveries;
pub mod dossiers;
pub mod events;
pub mod fees;
pub mod handovers;
pub mod health;
pub mod incidents;
pub mod keys;
pub mod labels;
pub mod metrics;
pub mod postal;
pub mod reference;
pub mod reports;
pub mod slips;
pub mod webhooks;

use chrono::{DateTime, FixedOffset, Utc};

use crate::error::ApiError;

/// The operations where a citizen's rights are at stake (API.md "Additions (second round)"):
/// delivery to the right person, slips and receipts, incidents and complaints, fees.
pub type CitizenRightsApis = (
    deliveries::DeliveryApi,
    fees::FeesReportApi,
    slips::SlipApi,
    incidents::IncidentApi,
);

/// The value of [`CitizenRightsApis`].
pub fn citizen_rights_apis() -> CitizenRightsApis {
    (
        deliveries::DeliveryApi,
        fees::FeesReportApi,
        slips::SlipApi,
        incidents::IncidentApi,
    )
}

/// A page's `limit` query parameter: `default` when absent or blank, else a whole number from 1 to
/// `max`; anything else is 400 `bad_request`.
pub fn page_limit(text: Option<&str>, default: u64, max: u64) -> Result<u64, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("`limit` must be a whole number from 1 to {max}"))
            }),
    }
}

/// A stored UTC time as the API shows it: RFC 3339 in Asia/Ho_Chi_Minh (+07:00).
pub fn local_time(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    domain::sla::to_local(t)
}

/// Tags that group the operations in the OpenAPI document.
#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// Agencies, procedures, post offices.
    Reference,
    /// Pickup requests, dossiers, tracking.
    Dossiers,
    /// Liveness and readiness.
    Operations,
    /// Parcel labels and where their QR codes land.
    Labels,
    /// Post office work: pickups, scans, deliveries.
    Postal,
    /// Handover records between post offices and agencies.
    Handovers,
    /// The agency's desk.
    Agency,
    /// Quarterly, half-yearly and yearly figures (Circular 17 Art. 13).
    Reports,
    /// Agency systems' webhooks and the delivery outbox (admin).
    Integration,
    /// Reference data kept by administrators: agencies, procedures, offices, tariffs, holidays.
    Admin,
}
