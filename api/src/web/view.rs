//! A dossier as the pages show it: the masked public part (status, parcels, timeline, due dates) for
//! anyone with the code, and the personal part (applicant, addresses, documents, fees, notes) only
//! for the citizen holding the access token and for the staff entitled to the dossier.

use chrono::{DateTime, Utc};
use domain::ops::dossier_record::DossierRecord;

use super::i18n::{Lang, local_date, local_time, vnd};

/// One parcel.
#[derive(Debug, Clone)]
pub struct LegRow {
    pub direction: &'static str,
    pub item_code: String,
    pub status: &'static str,
    pub due: String,
    pub delivered: String,
    pub late: bool,
}

/// One timeline entry.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub at: String,
    pub label: &'static str,
    pub status: String,
    pub location: String,
    /// Only in the full view: reasons and notes may be personal.
    pub note: String,
}

/// The personal part.
#[derive(Debug, Clone)]
pub struct PersonalPart {
    /// What the agency asked the citizen to send (a supplement by post), while it waits for it.
    pub missing_documents: Vec<String>,
    pub full_name: String,
    pub phone: String,
    pub email: String,
    pub id_number: String,
    pub pickup_address: String,
    pub return_address: String,
    pub documents: Vec<String>,
    pub postage: String,
    pub admin_fee: String,
    pub total: String,
    pub exemption: &'static str,
    pub procedure_code: String,
    pub outcome: String,
    pub national_dossier_no: String,
}

/// A dossier on a page.
#[derive(Debug, Clone)]
pub struct DossierView {
    pub code: String,
    pub status_label: &'static str,
    pub status_tone: &'static str,
    pub mode: &'static str,
    pub agency_name: String,
    pub filed_at: String,
    pub result_due: String,
    pub overdue: bool,
    pub legs: Vec<LegRow>,
    /// Newest first.
    pub timeline: Vec<EventRow>,
    pub personal: Option<PersonalPart>,
}

impl DossierView {
    /// The view of `record`; `full` adds the personal part.
    pub fn of(lang: Lang, record: &DossierRecord, full: bool, now: DateTime<Utc>) -> DossierView {
        let d = &record.dossier;
        let legs = record
            .legs
            .iter()
            .map(|l| LegRow {
                direction: lang.direction(l.direction),
                item_code: l.item_code.clone().unwrap_or_default(),
                status: lang.leg_status(l.status),
                due: l.due_at.map(local_date).unwrap_or_default(),
                delivered: l.delivered_at.map(local_time).unwrap_or_default(),
                late: l.delivered_at.is_none() && l.due_at.is_some_and(|due| due < now),
            })
            .collect();
        let mut timeline: Vec<EventRow> = record
            .timeline
            .iter()
            .map(|e| EventRow {
                at: local_time(e.at),
                label: lang.event(e.kind),
                status: e
                    .to_status
                    .map(|s| lang.status(s).to_owned())
                    .unwrap_or_default(),
                location: e.location.clone().unwrap_or_default(),
                note: if full {
                    e.note.clone().unwrap_or_default()
                } else {
                    String::new()
                },
            })
            .collect();
        timeline.reverse();
        let personal = full.then(|| PersonalPart {
            missing_documents: record.missing_documents(),
            full_name: d.applicant_full_name.clone(),
            phone: d.applicant_phone.clone(),
            email: d.applicant_email.clone().unwrap_or_default(),
            id_number: d.applicant_id_number.clone(),
            pickup_address: address(
                d.pickup_line.as_deref(),
                d.pickup_ward_code.as_deref(),
                d.pickup_province_code.as_deref(),
                lang,
            ),
            return_address: address(
                d.return_line.as_deref(),
                d.return_ward_code.as_deref(),
                d.return_province_code.as_deref(),
                lang,
            ),
            documents: record
                .documents()
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
                .collect(),
            postage: vnd(d.postage_vnd),
            admin_fee: vnd(d.admin_fee_vnd),
            total: vnd(d.total_vnd),
            exemption: lang.exemption(d.fee_exemption),
            procedure_code: d.procedure_code.clone(),
            outcome: d.outcome.clone().unwrap_or_default(),
            national_dossier_no: d.national_dossier_no.clone().unwrap_or_default(),
        });
        DossierView {
            code: d.code.clone(),
            status_label: lang.status(d.status),
            status_tone: Lang::status_tone(d.status),
            mode: lang.mode(d.service_mode),
            agency_name: record.agency_name.clone(),
            filed_at: d.filed_at.map(local_time).unwrap_or_default(),
            result_due: d.result_due_at.map(local_date).unwrap_or_default(),
            overdue: record.overdue(now),
            legs,
            timeline,
            personal,
        }
    }
}

fn address(line: Option<&str>, ward: Option<&str>, province: Option<&str>, lang: Lang) -> String {
    let Some(line) = line else {
        return String::new();
    };
    let mut out = line.to_owned();
    if let Some(ward) = ward {
        out.push_str(", ");
        out.push_str(&ward_name(ward, lang));
    }
    if let Some(province) = province {
        out.push_str(&format!(", {}", province_name(province)));
    }
    out
}

/// A province's official name from its code (the map in force since 1 July 2025); a code the map
/// does not know is shown as it is.
pub fn province_name(code: &str) -> String {
    domain::divisions::province_name(code)
        .unwrap_or(code)
        .to_owned()
}

/// A ward's or commune's official name from its code; an unknown code is shown with its kind.
pub fn ward_name(code: &str, lang: Lang) -> String {
    match domain::divisions::ward_name(code) {
        Some(name) => name.to_owned(),
        None => format!("{} {code}", lang.t("phường/xã", "ward")),
    }
}
