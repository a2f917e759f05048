//! A dossier as a card in the post office's lists, with the actions its status allows.

use chrono::Utc;
use domain::lifecycle::{Action, next_status};
use entity::dossier;
use entity::enums::{DossierStatus, LegDirection};

use crate::web::i18n::{Lang, vnd};
use crate::web::session::percent_encode;
use crate::web::view::{province_name, ward_name};

/// What may be done next with a dossier, as the lifecycle says for its status.
#[derive(Debug, Clone)]
pub struct PostalActions {
    pub code: String,
    /// Where the forms come back to.
    pub back: String,
    pub today: String,
    pub total_raw: i64,
    /// The postage collected at the door on delivery (`return` mode), else 0.
    pub due_at_door_raw: i64,
    pub can_schedule: bool,
    pub can_pickup: bool,
    pub can_fail_pickup: bool,
    pub can_cancel: bool,
    pub can_deliver: bool,
    /// `(parcel, link to its SVG label, link to its PDF label)` for parcels with an item code.
    pub labels: Vec<(&'static str, String, String)>,
}

impl PostalActions {
    pub(crate) fn of(
        lang: Lang,
        d: &dossier::Model,
        legs: &[(LegDirection, bool)],
        back: &str,
    ) -> Self {
        let can = |action| next_status(d.service_mode, d.status, action).is_ok();
        let code = percent_encode(&d.code);
        PostalActions {
            code: d.code.clone(),
            back: back.to_owned(),
            today: domain::sla::local_date(Utc::now()).to_string(),
            total_raw: d.total_vnd,
            due_at_door_raw: domain::ops::postal::postage_due_at_delivery(d),
            can_schedule: can(Action::SchedulePickup),
            can_pickup: can(Action::RecordPickup),
            can_fail_pickup: can(Action::RecordPickupFailure),
            can_cancel: can(Action::Cancel),
            can_deliver: can(Action::RecordDelivery) || can(Action::RecordDeliveryFailure),
            labels: legs
                .iter()
                .filter(|(_, has_code)| *has_code)
                .map(|(direction, _)| {
                    (
                        lang.direction(*direction),
                        format!("/staff/labels/{code}?leg={direction}&format=svg"),
                        format!("/staff/labels/{code}?leg={direction}&format=pdf"),
                    )
                })
                .collect(),
        }
    }
}

/// A dossier in a staff list.
#[derive(Debug, Clone)]
pub struct DossierCard {
    pub code: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub name: String,
    pub phone: String,
    pub address: String,
    pub agency_code: String,
    pub total: String,
    pub documents: Vec<String>,
    /// When the pickup is booked, or the due date.
    pub when: String,
    pub actions: PostalActions,
}

pub(super) fn card(lang: Lang, d: &dossier::Model, when: String, back: &str) -> DossierCard {
    let (line, ward, province) = match d.status {
        DossierStatus::ResultWithPost
        | DossierStatus::OutForDelivery
        | DossierStatus::DeliveryFailed => {
            (&d.return_line, &d.return_ward_code, &d.return_province_code)
        }
        _ => (&d.pickup_line, &d.pickup_ward_code, &d.pickup_province_code),
    };
    let address = [
        line.clone(),
        ward.as_deref().map(|w| ward_name(w, lang)),
        province.as_deref().map(province_name),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let documents =
        serde_json::from_value::<Vec<domain::ops::dossiers::SlipDocument>>(d.documents.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|doc| {
                let mut parts = Vec::new();
                if doc.original {
                    parts.push(lang.t("bản chính", "original").to_owned());
                }
                if doc.copies > 0 {
                    parts.push(format!("{} {}", doc.copies, lang.t("bản sao", "copies")));
                }
                format!("{} ({})", doc.name, parts.join(", "))
            })
            .collect();
    DossierCard {
        code: d.code.clone(),
        status: lang.status(d.status),
        tone: Lang::status_tone(d.status),
        name: d.applicant_full_name.clone(),
        phone: d.applicant_phone.clone(),
        address,
        agency_code: d.agency_code.clone(),
        total: vnd(d.total_vnd),
        documents,
        when,
        actions: PostalActions::of(lang, d, &[], back),
    }
}
