//! Views that the JSON API and the pages both show: the masked public tracking view of a dossier
//! (also what the tracking cache holds and what a label's QR code lands on). They sit below `routes`
//! and `web`, which import them; they import neither. Also whether a request wants a page or JSON,
//! which the label route, the rate limits and the pages all ask.

use chrono::{DateTime, FixedOffset};
use domain::ops::dossier_record::PublicTrack;
use domain::sla::to_local as local_time;
use poem_openapi::Object;

/// Why a parcel travels: `dossier` (inbound), `result` (outbound) or `supplement` (inbound, the
/// documents the agency asked for).
pub(crate) fn purpose_of(l: &entity::leg::Model) -> &'static str {
    purpose_name(l.purpose, l.direction)
}

fn purpose_name(
    purpose: Option<entity::enums::LegPurpose>,
    direction: entity::enums::LegDirection,
) -> &'static str {
    match (purpose, direction) {
        (Some(p), _) => p.as_str(),
        (None, entity::enums::LegDirection::Inbound) => "dossier",
        (None, entity::enums::LegDirection::Outbound) => "result",
    }
}

/// A parcel in the public view.
#[derive(Debug, Clone, Object)]
pub struct TrackLegOut {
    pub direction: String,
    /// `dossier`, `result` or `supplement`.
    pub purpose: String,
    #[oai(nullable)]
    pub item_code: Option<String>,
    pub status: String,
    #[oai(nullable)]
    pub due_at: Option<DateTime<FixedOffset>>,
}

/// A timeline entry in the public view.
#[derive(Debug, Clone, Object)]
pub struct TrackEventOut {
    pub at: DateTime<FixedOffset>,
    pub kind: String,
    #[oai(nullable)]
    pub status: Option<String>,
    #[oai(nullable)]
    pub location: Option<String>,
}

/// The public tracking view: no name, phone, email, id number or street address.
#[derive(Debug, Clone, Object)]
pub struct TrackOut {
    pub code: String,
    pub status: String,
    pub service_mode: String,
    pub agency_name: String,
    pub legs: Vec<TrackLegOut>,
    pub timeline: Vec<TrackEventOut>,
}

/// The public tracking view of a dossier: no name, phone, email, id number or street address.
pub fn track_out(track: PublicTrack) -> TrackOut {
    TrackOut {
        code: track.code,
        status: track.status.to_string(),
        service_mode: track.service_mode.to_string(),
        agency_name: track.agency_name,
        legs: track
            .legs
            .into_iter()
            .map(|l| TrackLegOut {
                purpose: purpose_name(l.purpose, l.direction).to_owned(),
                direction: l.direction.to_string(),
                item_code: l.item_code,
                status: l.status.to_string(),
                due_at: l.due_at.map(local_time),
            })
            .collect(),
        timeline: track
            .timeline
            .into_iter()
            .map(|e| TrackEventOut {
                at: local_time(e.at),
                kind: e.kind.to_string(),
                status: e.to_status.map(|s| s.to_string()),
                location: e.location,
            })
            .collect(),
    }
}

/// Whether the request comes from a browser that wants a page rather than JSON.
pub fn wants_html(req: &poem::Request) -> bool {
    req.headers()
        .get(poem::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}
