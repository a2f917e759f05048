//! Views that the JSON API and the pages both show: the masked public tracking view of a dossier
//! (also what the tracking cache holds and what a label's QR code lands on). They sit below `routes`
//! and `web`, which import them; they import neither. Also whether a request wants a page or JSON,
//! which the label route, the rate limits and the pages all ask.

use chrono::{DateTime, FixedOffset};
use domain::ops::dossier_record::PublicTrack;
use domain::sla::to_local as local_time;
use poem_openapi::Object;
use serde::Serialize;

use crate::direct_json::{rfc3339, rfc3339_opt};

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
#[derive(Debug, Clone, Object, Serialize)]
pub struct TrackLegOut {
    pub direction: String,
    /// `dossier`, `result` or `supplement`.
    pub purpose: String,
    #[oai(nullable)]
    pub item_code: Option<String>,
    pub status: String,
    #[oai(nullable)]
    #[serde(serialize_with = "rfc3339_opt")]
    pub due_at: Option<DateTime<FixedOffset>>,
}

/// A timeline entry in the public view.
#[derive(Debug, Clone, Object, Serialize)]
pub struct TrackEventOut {
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<FixedOffset>,
    pub kind: String,
    #[oai(nullable)]
    pub status: Option<String>,
    #[oai(nullable)]
    pub location: Option<String>,
}

/// The public tracking view: no name, phone, email, id number or street address.
// Answered with `crate::direct_json::DirectJson`, hence `Serialize` beside `Object`.
#[derive(Debug, Clone, Object, Serialize)]
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};
    use poem_openapi::types::ToJSON;

    use super::*;

    /// A view answered with `DirectJson` is written as its documented `Object` would be.
    #[test]
    fn direct_json_is_the_documented_json() {
        let hanoi = FixedOffset::east_opt(7 * 3600).expect("offset");
        let utc = FixedOffset::east_opt(0).expect("offset");
        let at = |offset: FixedOffset, nanos: u32| {
            offset
                .with_ymd_and_hms(2026, 12, 6, 9, 30, 5)
                .single()
                .expect("time")
                .with_nanosecond(nanos)
                .expect("nanos")
        };
        let view = TrackOut {
            code: "HS-2026-000123".to_owned(),
            status: "in_transit".to_owned(),
            service_mode: "both".to_owned(),
            agency_name: "Sở Tư pháp \"Hà Nội\"\n".to_owned(),
            legs: vec![
                TrackLegOut {
                    direction: "inbound".to_owned(),
                    purpose: "dossier".to_owned(),
                    item_code: Some("EZ123456789VN".to_owned()),
                    status: "picked_up".to_owned(),
                    due_at: Some(at(hanoi, 0)),
                },
                TrackLegOut {
                    direction: "outbound".to_owned(),
                    purpose: "result".to_owned(),
                    item_code: None,
                    status: "pending".to_owned(),
                    due_at: None,
                },
            ],
            timeline: vec![
                TrackEventOut {
                    at: at(utc, 0),
                    kind: "created".to_owned(),
                    status: None,
                    location: None,
                },
                TrackEventOut {
                    at: at(hanoi, 123_456_000),
                    kind: "status".to_owned(),
                    status: Some("picked_up".to_owned()),
                    location: Some("Bưu cục Hoàn Kiếm".to_owned()),
                },
            ],
        };
        let documented = view.to_json().expect("json");
        let direct: serde_json::Value =
            serde_json::from_slice(&serde_json::to_vec(&view).expect("written")).expect("read");
        assert_eq!(direct, documented);
        // As poem-openapi writes a time in UTC: `+00:00`, where chrono's own `Serialize` has `Z`.
        assert_eq!(direct["timeline"][0]["at"], "2026-12-06T09:30:05+00:00");
    }
}
