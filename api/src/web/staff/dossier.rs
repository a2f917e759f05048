//! One dossier's page for staff, and the actions taken from it.

use askama::Template;
use chrono::Utc;
use domain::ops::OpError;
use domain::ops::dossier_record::DossierRecord;
use domain::ops::postal::{DeliveryRequest, PickupRequest, RecipientRequest, ScheduleRequest};
use entity::dossier;
use entity::enums::{LegDirection, Role};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};

use super::cards::PostalActions;
use crate::state::AppState;
use crate::web::agency::actions::AgencyActions;
use crate::web::form::Posted;
use crate::web::i18n::Lang;
use crate::web::page::{Answer, Chrome, status_of};
use crate::web::session::{FlashKind, StaffSession, percent_encode, redirect_with, safe_next};
use crate::web::view::DossierView;

/// A dossier with the actions the session may take.
#[derive(Template)]
#[template(path = "staff/dossier.html")]
pub struct DossierPage {
    pub c: Chrome,
    pub d: DossierView,
    pub postal: Option<PostalActions>,
    pub agency: Option<AgencyActions>,
}

/// `GET /staff/dossiers/{code}`: the whole dossier, for staff entitled to it.
#[handler]
pub async fn dossier_page(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(code): Path<String>,
) -> Response {
    let record =
        domain::ops::dossier_record::view_dossier(&state.store.read, &staff.actor, &code).await;
    Answer::staff(&state, req, &staff).page(record.map(|r| dossier_page_of(req, &staff, &r)))
}

pub(super) fn dossier_page_of(
    req: &Request,
    staff: &StaffSession,
    record: &DossierRecord,
) -> DossierPage {
    let lang = Lang::of(req);
    let back = format!("/staff/dossiers/{}", percent_encode(&record.dossier.code));
    let legs: Vec<(LegDirection, bool)> = record
        .legs
        .iter()
        .map(|l| (l.direction, l.item_code.is_some()))
        .collect();
    DossierPage {
        c: Chrome::staff(req, staff),
        d: DossierView::of(lang, record, true, Utc::now()),
        postal: (staff.key.role == Role::Postal).then(|| {
            let actions = PostalActions::of(lang, &record.dossier, &legs, &back);
            match record.supplement_waiting_for_pickup() {
                Some((supplement, parcel)) => actions.for_supplement(
                    &record.dossier,
                    parcel.status,
                    supplement.postage_vnd.unwrap_or_default(),
                ),
                None => actions,
            }
        }),
        agency: (staff.key.role == Role::Agency).then(|| AgencyActions::of(&record.dossier, &back)),
    }
}

/// `POST /staff/dossiers/{code}/{action}`: book, record or fail a pickup, record a delivery, cancel.
#[handler]
pub async fn dossier_action(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path((code, action)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    let back = safe_next(posted.text("back").as_deref())
        .unwrap_or_else(|| format!("/staff/dossiers/{}", percent_encode(&code)));
    if !staff.csrf_ok(&state, posted.csrf()) {
        return expired(&state, &back, lang);
    }
    let store = &state.store;
    let actor = &staff.actor;
    let outcome: Result<dossier::Model, OpError> = match action.as_str() {
        "schedule" => {
            let request = ScheduleRequest {
                date: posted.text("date"),
                window: posted.text("window"),
            };
            domain::ops::postal::schedule_pickup(store, actor, &code, &request).await
        }
        "pickup" => {
            let request = PickupRequest {
                documents_checked: Some(posted.checked("documents_checked")),
                fee_collected_vnd: posted.text("fee_collected_vnd").map(|t| parse_vnd(&t)),
                item_code: posted.text("item_code"),
            };
            domain::ops::postal::record_pickup(store, actor, &code, &request)
                .await
                .map(|r| r.dossier)
        }
        "pickup-failed" => {
            domain::ops::postal::record_pickup_failure(
                store,
                actor,
                &code,
                posted.text("reason").as_deref(),
            )
            .await
        }
        "delivery" => {
            let recipient_given = ["recipient.full_name", "recipient.id_number"]
                .iter()
                .any(|f| posted.text(f).is_some());
            let request = DeliveryRequest {
                outcome: posted.text("outcome"),
                reason: posted.text("reason"),
                recipient: recipient_given.then(|| RecipientRequest {
                    full_name: posted.text("recipient.full_name"),
                    id_number: posted.text("recipient.id_number"),
                    proxy: Some(posted.checked("recipient.proxy")),
                    authorization_ref: posted.text("recipient.authorization_ref"),
                }),
                at: None,
                fee_collected_vnd: posted.text("fee_collected_vnd").map(|t| parse_vnd(&t)),
            };
            domain::ops::postal::record_delivery(store, actor, &code, &request).await
        }
        "cancel" => {
            domain::ops::dossiers::cancel_dossier(
                store,
                actor,
                &code,
                posted.text("reason").as_deref(),
            )
            .await
        }
        _ => {
            return Answer::staff(&state, req, &staff).refuse(
                StatusCode::NOT_FOUND,
                lang.t("Không có thao tác này.", "No such action.")
                    .to_owned(),
            );
        }
    };
    after_action(&state, &back, lang, outcome)
}

/// A redirect back with the outcome of an action on a dossier.
pub fn after_action(
    state: &AppState,
    back: &str,
    lang: Lang,
    outcome: Result<dossier::Model, OpError>,
) -> Response {
    match outcome {
        Ok(d) => redirect_with(
            state,
            back,
            FlashKind::Ok,
            &format!(
                "{} {}: {}",
                lang.t("Đã ghi nhận. Hồ sơ", "Done. Dossier"),
                d.code,
                lang.status(d.status)
            ),
        ),
        Err(err) => {
            status_of(&err);
            redirect_with(state, back, FlashKind::Error, &lang.op_error(&err))
        }
    }
}

/// The redirect after a form whose token did not match: nothing was done.
pub fn expired(state: &AppState, back: &str, lang: Lang) -> Response {
    redirect_with(
        state,
        back,
        FlashKind::Error,
        lang.t(
            "Phiên làm việc của trang đã hết hạn; chưa thực hiện. Vui lòng thử lại.",
            "This page's session has expired; nothing was done. Please try again.",
        ),
    )
}

/// An amount typed by a person: digits, with dots, commas or spaces between thousands and an
/// optional `₫`/`đ`. Anything else becomes -1, which the use-case refuses with its own message.
pub(super) fn parse_vnd(text: &str) -> i64 {
    let digits: String = text
        .trim()
        .trim_end_matches(['₫', 'đ', 'd'])
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | ' ' | '\u{a0}'))
        .collect();
    digits.trim().parse().unwrap_or(-1)
}
