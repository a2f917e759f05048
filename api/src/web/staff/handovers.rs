//! Handover records between the post office and the agencies: draft, sign, print.

use std::collections::{BTreeMap, HashSet};

use askama::Template;
use domain::ops::OpError;
use domain::ops::handovers::{HandoverRequest, HandoverView};
use entity::enums::{DossierStatus, HandoverDirection, HandoverStatus, Role};
use entity::handover_record;
use poem::web::{Data, Form, Path, Redirect};
use poem::{IntoResponse, Request, Response, handler};

use super::dossier::expired;
use super::sign_in::home_of;
use crate::state::AppState;
use crate::web::form::Posted;
use crate::web::i18n::{Lang, local_time};
use crate::web::page::{Answer, Chrome, status_of};
use crate::web::qr;
use crate::web::session::{FlashKind, StaffSession, redirect_with};

/// A handover record in a list.
#[derive(Debug, Clone)]
pub struct HandoverRow {
    pub id: i64,
    pub number: String,
    pub direction: &'static str,
    pub status: &'static str,
    pub agency_code: String,
    pub created_at: String,
}

/// Dossiers of one agency that may go on a record to it.
#[derive(Debug, Clone)]
pub struct HandoverGroup {
    pub agency_code: String,
    pub agency_name: String,
    pub dossiers: Vec<(String, String, &'static str)>,
}

/// The office's handover records.
#[derive(Template)]
#[template(path = "staff/handovers.html")]
pub struct HandoversPage {
    pub c: Chrome,
    pub groups: Vec<HandoverGroup>,
    pub to_sign: Vec<HandoverRow>,
    pub records: Vec<HandoverRow>,
}

pub(super) fn handover_row(lang: Lang, r: &handover_record::Model) -> HandoverRow {
    HandoverRow {
        id: r.id,
        number: r.number.clone(),
        direction: lang.handover_direction(r.direction),
        status: lang.handover_status(r.status),
        agency_code: r.agency_code.clone(),
        created_at: local_time(r.created_at),
    }
}

/// The latest records the session's office or agency is party to.
pub async fn recent_handovers(
    state: &AppState,
    staff: &StaffSession,
) -> Result<Vec<handover_record::Model>, OpError> {
    domain::ops::handovers::recent_records(&state.store.read, &staff.key).await
}

/// The ids of dossiers already on an open (unsigned) record.
pub async fn on_open_records(state: &AppState, ids: &[i64]) -> Result<HashSet<i64>, OpError> {
    domain::ops::handovers::on_open_records(&state.store.read, ids).await
}

/// `GET /staff/handovers`: dossiers to hand to each agency, records waiting for the office's
/// signature (results handed to the post), and the latest records.
#[handler]
pub async fn handovers(req: &Request, state: Data<&AppState>, staff: StaffSession) -> Response {
    let lang = Lang::of(req);
    if staff.key.role == Role::Agency {
        return Redirect::see_other("/agency").into_response();
    }
    let result: Result<HandoversPage, OpError> = async {
        let conn = &state.store.read;
        let mut ready = Vec::new();
        for status in [DossierStatus::PickedUp, DossierStatus::InTransit] {
            ready.extend(
                domain::ops::postal::list_pickups(conn, &staff.actor, Some(status))
                    .await?
                    .into_iter()
                    .map(|p| p.dossier),
            );
        }
        let ids: Vec<i64> = ready.iter().map(|d| d.id).collect();
        let busy = on_open_records(&state, &ids).await?;
        let catalog = state.store.catalog.get(conn).await?;
        let mut groups: BTreeMap<String, HandoverGroup> = BTreeMap::new();
        for d in ready.iter().filter(|d| !busy.contains(&d.id)) {
            let group = groups
                .entry(d.agency_code.clone())
                .or_insert_with(|| HandoverGroup {
                    agency_code: d.agency_code.clone(),
                    agency_name: catalog
                        .agency(&d.agency_code)
                        .map(|a| a.name.clone())
                        .unwrap_or_default(),
                    dossiers: Vec::new(),
                });
            group
                .dossiers
                .push((d.code.clone(), String::new(), lang.status(d.status)));
        }
        let legs = domain::ops::postal::inbound_item_codes(&state.store.read, &ids).await?;
        for group in groups.values_mut() {
            for (code, item, _) in &mut group.dossiers {
                if let Some(found) = ready.iter().find(|d| &d.code == code)
                    && let Some(c) = legs.get(&found.id)
                {
                    item.clone_from(c);
                }
            }
        }
        let records = recent_handovers(&state, &staff).await?;
        let to_sign = records
            .iter()
            .filter(|r| {
                r.status == HandoverStatus::Pending && r.direction == HandoverDirection::ToPost
            })
            .map(|r| handover_row(lang, r))
            .collect();
        Ok(HandoversPage {
            c: Chrome::staff(req, &staff),
            groups: groups.into_values().collect(),
            to_sign,
            records: records.iter().map(|r| handover_row(lang, r)).collect(),
        })
    }
    .await;
    Answer::staff(&state, req, &staff).page(result)
}

/// The codes ticked on a handover form (`dossier.{code}` checkboxes).
pub fn ticked_codes(posted: &Posted) -> Vec<String> {
    let mut codes: Vec<String> = posted
        .names()
        .filter_map(|n| n.strip_prefix("dossier.").map(str::to_owned))
        .collect();
    codes.sort();
    codes
}

/// `POST /staff/handovers`: drafts a record handing the ticked dossiers to one agency.
#[handler]
pub async fn create_handover(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    if !staff.csrf_ok(&state, posted.csrf()) {
        return expired(&state, "/staff/handovers", lang);
    }
    let request = HandoverRequest {
        direction: Some(HandoverDirection::ToAgency.as_str().to_owned()),
        agency_code: posted.text("agency_code"),
        dossier_codes: Some(ticked_codes(&posted)),
    };
    handover_created(
        &state,
        lang,
        "/staff/handovers",
        domain::ops::handovers::create_handover(&state.store, &staff.actor, &request).await,
    )
}

/// A redirect to a new record's page, or back with what went wrong.
pub fn handover_created(
    state: &AppState,
    lang: Lang,
    back: &str,
    outcome: Result<HandoverView, OpError>,
) -> Response {
    match outcome {
        Ok(view) => redirect_with(
            state,
            &format!("/staff/handovers/{}", view.record.id),
            FlashKind::Ok,
            &format!(
                "{} {} ({} {})",
                lang.t("Đã lập biên bản", "Record drafted:"),
                view.record.number,
                view.lines.len(),
                lang.t("hồ sơ", "dossiers")
            ),
        ),
        Err(err) => {
            status_of(&err);
            redirect_with(state, back, FlashKind::Error, &lang.op_error(&err))
        }
    }
}

/// One handover record, printable.
#[derive(Template)]
#[template(path = "staff/handover.html")]
pub struct HandoverPage {
    pub c: Chrome,
    pub number: String,
    pub direction: &'static str,
    pub status: &'static str,
    pub to_agency: bool,
    pub id: i64,
    pub office: String,
    pub agency: String,
    pub created_at: String,
    pub created_by: String,
    pub confirmed_at: String,
    pub confirmed_by: String,
    /// `(dossier code, item code, status)`.
    pub lines: Vec<(String, String, &'static str)>,
    /// Whether the session is the side that signs it.
    pub can_sign: bool,
    pub qr_svg: String,
    pub back: &'static str,
}

/// `GET /staff/handovers/{id}`: the record, for either side of it, ready to print and to sign.
#[handler]
pub async fn handover_page(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(id): Path<i64>,
) -> Response {
    let lang = Lang::of(req);
    let result: Result<HandoverPage, OpError> = async {
        let conn = &state.store.read;
        let view = domain::ops::handovers::view_handover(conn, &staff.actor, id).await?;
        let r = &view.record;
        let catalog = state.store.catalog.get(conn).await?;
        let office = domain::ops::reference::list_offices(conn)
            .await?
            .into_iter()
            .find(|o| o.code == r.office_code)
            .map_or_else(
                || r.office_code.clone(),
                |o| format!("{} ({})", o.name, o.code),
            );
        let agency = catalog.agency(&r.agency_code).map_or_else(
            || r.agency_code.clone(),
            |a| format!("{} ({})", a.name, a.code),
        );
        let signer = match r.direction {
            HandoverDirection::ToAgency => Role::Agency,
            HandoverDirection::ToPost => Role::Postal,
        };
        let pending = r.status == HandoverStatus::Pending;
        let url = format!("{}/staff/handovers/{}", state.public_base_url, r.id);
        Ok(HandoverPage {
            c: Chrome::staff(req, &staff),
            number: r.number.clone(),
            direction: lang.handover_direction(r.direction),
            status: lang.handover_status(r.status),
            to_agency: r.direction == HandoverDirection::ToAgency,
            id: r.id,
            office,
            agency,
            created_at: local_time(r.created_at),
            created_by: r.created_by.clone(),
            confirmed_at: r.confirmed_at.map(local_time).unwrap_or_default(),
            confirmed_by: r.confirmed_by.clone().unwrap_or_default(),
            lines: view
                .lines
                .iter()
                .map(|l| {
                    (
                        l.dossier_code.clone(),
                        l.item_code.clone().unwrap_or_default(),
                        lang.status(l.status),
                    )
                })
                .collect(),
            can_sign: pending && staff.key.role == signer,
            qr_svg: qr::svg(&url, 120, &r.number).unwrap_or_default(),
            back: home_of(staff.key.role),
        })
    }
    .await;
    Answer::staff(&state, req, &staff).page(result)
}

/// `POST /staff/handovers/{id}/confirm`: the receiving side signs.
#[handler]
pub async fn confirm_handover(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    let back = format!("/staff/handovers/{id}");
    if !staff.csrf_ok(&state, posted.csrf()) {
        return expired(&state, &back, lang);
    }
    match domain::ops::handovers::confirm_handover(&state.store, &staff.actor, id).await {
        Ok(view) => redirect_with(
            &state,
            &back,
            FlashKind::Ok,
            &format!(
                "{} {} ({} {})",
                lang.t("Đã ký nhận biên bản", "Signed record"),
                view.record.number,
                view.lines.len(),
                lang.t("hồ sơ", "dossiers")
            ),
        ),
        Err(err) => {
            status_of(&err);
            redirect_with(&state, &back, FlashKind::Error, &lang.op_error(&err))
        }
    }
}
