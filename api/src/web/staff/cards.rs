//! A dossier as a card in the post office's lists, with the actions its status allows.

use chrono::Utc;
use domain::lifecycle::{Action, next_status};
use entity::dossier;
use entity::enums::{DossierStatus, LegDirection, LegStatus};

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
    /// The dossier slip (with a page per supplement sent): to sign at the door, or a copy.
    pub slip: String,
    /// The receipt, once there is one to print (empty before).
    pub receipt: String,
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
            slip: format!("/staff/dossiers/{code}/slip.pdf"),
            receipt: if domain::ops::slips::has_receipt(
                d,
                legs.iter()
                    .any(|(direction, has_code)| *direction == LegDirection::Inbound && *has_code),
            ) {
                format!("/staff/dossiers/{code}/receipt.pdf")
            } else {
                String::new()
            },
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

impl PostalActions {
    /// The actions of a supplement's parcel waiting for its pickup at `stage` (a first pickup's
    /// status word): book, record or fail its pickup by a first pickup's rules, collecting
    /// `postage`; nothing else is done to the dossier meanwhile.
    pub(crate) fn for_supplement(
        mut self,
        d: &dossier::Model,
        parcel: LegStatus,
        postage: i64,
    ) -> Self {
        let can = |action| domain::ops::supplements::parcel_allows(d, parcel, action);
        self.total_raw = postage;
        self.can_schedule = can(Action::SchedulePickup);
        self.can_pickup = can(Action::RecordPickup);
        self.can_fail_pickup = can(Action::RecordPickupFailure);
        self.can_cancel = false;
        self.can_deliver = false;
        self
    }
}

/// A dossier in a staff list.
#[derive(Debug, Clone)]
pub struct DossierCard {
    pub code: String,
    /// The dossier's status, or for a supplement the stage of its pickup, in words.
    pub status_text: String,
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

/// The card of a supplement waiting for its pickup: the supplement's stage, address, documents and
/// postage, and the actions of its parcel.
pub(super) fn supplement_card(
    lang: Lang,
    d: &dossier::Model,
    supplement: &entity::supplement::Model,
    parcel: &entity::leg::Model,
    when: String,
    back: &str,
) -> DossierCard {
    let mut c = card(lang, d, when, back);
    let stage = domain::ops::supplements::pickup_stage(parcel.status)
        .unwrap_or(DossierStatus::SupplementRequested);
    c.status_text = lang.supplement_stage(stage);
    c.tone = Lang::status_tone(stage);
    c.address = address_text(
        lang,
        &supplement.pickup_line,
        &supplement.pickup_ward_code,
        &supplement.pickup_province_code,
    );
    c.documents = document_lines(lang, domain::ops::supplements::sent_documents(supplement));
    let postage = supplement.postage_vnd.unwrap_or_default();
    c.total = vnd(postage);
    c.actions = c.actions.for_supplement(d, parcel.status, postage);
    c
}

/// An address on one line, with the ward's and province's names.
fn address_text(
    lang: Lang,
    line: &Option<String>,
    ward: &Option<String>,
    province: &Option<String>,
) -> String {
    [
        line.clone(),
        ward.as_deref().map(|w| ward_name(w, lang)),
        province.as_deref().map(province_name),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// The documents to check, one line each: name (original, copies).
fn document_lines(lang: Lang, documents: Vec<domain::ops::dossiers::SlipDocument>) -> Vec<String> {
    documents
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
        .collect()
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
    let address = address_text(lang, line, ward, province);
    let documents = document_lines(
        lang,
        serde_json::from_value(d.documents.clone()).unwrap_or_default(),
    );
    DossierCard {
        code: d.code.clone(),
        status_text: lang.status(d.status).to_owned(),
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
