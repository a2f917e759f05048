//! The post office's pages: sign-in (an office's or agency's API key makes a session), today's
//! pickups (book, record, print labels), the scan page (camera or handheld scanner), handover records
//! (draft, sign, print), deliveries of results, and one dossier's page with the actions its status
//! allows. Every action calls the same use-case as the JSON API with the session's key.

use std::collections::{BTreeMap, HashSet};

use askama::Template;
use chrono::Utc;
use domain::lifecycle::{Action, next_status};
use domain::ops::OpError;
use domain::ops::access::{Actor, authenticate};
use domain::ops::dossiers::DossierRecord;
use domain::ops::handovers::{HandoverRequest, HandoverView};
use domain::ops::postal::{DeliveryRequest, PickupRequest, RecipientRequest, ScheduleRequest};
use domain::ops::scans::{ScanOutcome, ScanRequest};
use entity::enums::{
    DossierStatus, HandoverDirection, HandoverStatus, LegDirection, Role, ScanEvent,
};
use entity::{dossier, handover_record};
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Form, Path, Query, Redirect};
use poem::{IntoResponse, Request, Response, handler};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::form::{Choice, Posted};
use super::i18n::{Lang, local_time, vnd};
use super::page::{Answer, Chrome, render, status_of};
use super::qr;
use super::session::{
    self, FlashKind, MaybeStaff, SESSION_COOKIE, StaffSession, append_cookie, percent_encode,
    redirect_with, safe_next, set_cookie,
};
use super::view::{DossierView, province_name, ward_name};
use crate::labels;
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------------
// Sign-in

/// Where to go after signing in.
#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

/// The sign-in page (and, for a signed-in administrator, what the pages offer them).
#[derive(Template)]
#[template(path = "staff/sign_in.html")]
pub struct SignInPage {
    pub c: Chrome,
    pub next: String,
    pub error: Option<String>,
    pub admin: bool,
}

/// The first page of a role.
fn home_of(role: Role) -> &'static str {
    match role {
        Role::Postal => "/staff/pickups",
        Role::Agency => "/agency",
        Role::Admin => "/staff",
    }
}

/// `GET /staff`: the sign-in form, or the signed-in person's first page.
#[handler]
pub async fn sign_in_page(
    req: &Request,
    state: Data<&AppState>,
    Query(q): Query<NextQuery>,
    MaybeStaff(staff): MaybeStaff,
) -> Response {
    if let Some(staff) = &staff {
        if staff.key.role != Role::Admin {
            return Redirect::see_other(home_of(staff.key.role)).into_response();
        }
        let page = SignInPage {
            c: Chrome::staff(req, staff),
            next: String::new(),
            error: None,
            admin: true,
        };
        return render(StatusCode::OK, &page);
    }
    let page = SignInPage {
        c: Chrome::public(&state, req),
        next: safe_next(q.next.as_deref()).unwrap_or_default(),
        error: None,
        admin: false,
    };
    render(StatusCode::OK, &page)
}

/// `POST /staff`: signs in with an API key.
#[handler]
pub async fn sign_in(
    req: &Request,
    state: Data<&AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    let next = safe_next(posted.text("next").as_deref());
    let again = |status: StatusCode, error: &str| {
        let page = SignInPage {
            c: Chrome::public(&state, req),
            next: next.clone().unwrap_or_default(),
            error: Some(error.to_owned()),
            admin: false,
        };
        render(status, &page)
    };
    if !session::visitor_csrf_ok(&state, req, posted.csrf()) {
        return again(
            StatusCode::FORBIDDEN,
            lang.t(
                "Phiên làm việc của trang đã hết hạn; vui lòng nhập lại.",
                "This page's session has expired; please enter the key again.",
            ),
        );
    }
    let key = posted.raw("key").trim().to_owned();
    let actor = if key.is_empty() {
        None
    } else {
        match authenticate(&state.store.read, &key).await {
            Ok(Ok(actor)) => Some(actor),
            Ok(Err(_)) => None,
            Err(err) => {
                let err = OpError::Db(err);
                return again(status_of(&err), &lang.op_error(&err));
            }
        }
    };
    let Some(Actor::Staff(staff)) = actor else {
        if let Err(err) = domain::ops::sessions::record_failed_sign_in(&state.store.write).await {
            return again(status_of(&err), &lang.op_error(&err));
        }
        return again(
            StatusCode::UNAUTHORIZED,
            lang.t(
                "Khóa không đúng hoặc đã bị thu hồi. Dùng khóa (dk_…) của bưu cục hoặc cơ quan.",
                "The key is wrong or revoked. Use your office's or agency's key (dk_…).",
            ),
        );
    };
    let (cookie, nonce, ends) = session::issue(&state, staff.key_id);
    if let Err(err) =
        domain::ops::sessions::open_session(&state.store.write, &staff, &nonce, ends).await
    {
        return again(status_of(&err), &lang.op_error(&err));
    }
    tracing::info!(api_key.id = staff.key_id, role = %staff.role, "staff signed in on the web");
    // A `next` that is not a path of this site leads to the sign-in page, which sends the person on
    // to their own first page.
    let asked = posted.text("next").is_some();
    let location = match next {
        Some(next) => next,
        None if asked => "/staff".to_owned(),
        None => home_of(staff.role).to_owned(),
    };
    let mut response = Redirect::see_other(location).into_response();
    append_cookie(
        &mut response,
        &set_cookie(
            &state,
            SESSION_COOKIE,
            &cookie,
            session::SESSION_HOURS * 3600,
        ),
    );
    response
}

/// `POST /staff/signout`.
#[handler]
pub async fn sign_out(
    state: Data<&AppState>,
    staff: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    if !staff.csrf_ok(&state, posted.csrf()) {
        return Redirect::see_other(home_of(staff.key.role)).into_response();
    }
    if let Err(err) = staff.end(&state).await {
        tracing::error!(error.cause = %err, "ending a staff session failed");
        return poem::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = Redirect::see_other("/staff").into_response();
    append_cookie(&mut response, &set_cookie(&state, SESSION_COOKIE, "", 0));
    response
}

// ---------------------------------------------------------------------------------------------------
// Dossier cards and the actions a status allows

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
    fn of(lang: Lang, d: &dossier::Model, legs: &[(LegDirection, bool)], back: &str) -> Self {
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

fn card(lang: Lang, d: &dossier::Model, when: String, back: &str) -> DossierCard {
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

// ---------------------------------------------------------------------------------------------------
// Pickups

/// Today's pickups.
#[derive(Template)]
#[template(path = "staff/pickups.html")]
pub struct PickupsPage {
    pub c: Chrome,
    pub today: Vec<DossierCard>,
    pub open: Vec<DossierCard>,
    pub picked_up: Vec<DossierCard>,
}

/// `GET /staff/pickups`: the office's pickups still to make (booked for today first), and the parcels
/// picked up and waiting to leave, with their labels.
#[handler]
pub async fn pickups(req: &Request, state: Data<&AppState>, staff: StaffSession) -> Response {
    let lang = Lang::of(req);
    let result: Result<PickupsPage, OpError> = async {
        let conn = &state.store.read;
        let open = domain::ops::postal::list_pickups(conn, &staff.actor, None).await?;
        let picked =
            domain::ops::postal::list_pickups(conn, &staff.actor, Some(DossierStatus::PickedUp))
                .await?;
        let today = domain::sla::local_date(Utc::now());
        let mut today_cards = Vec::new();
        let mut open_cards = Vec::new();
        for item in &open {
            let when = item
                .appointment
                .as_ref()
                .map(|a| {
                    format!(
                        "{} · {}",
                        a.date.format("%d/%m/%Y"),
                        match a.pickup_window {
                            entity::enums::PickupWindow::Morning => lang.t("buổi sáng", "morning"),
                            entity::enums::PickupWindow::Afternoon => {
                                lang.t("buổi chiều", "afternoon")
                            }
                        }
                    )
                })
                .unwrap_or_else(|| {
                    format!(
                        "{} {}",
                        lang.t("Yêu cầu lúc", "Requested"),
                        local_time(item.dossier.created_at)
                    )
                });
            let c = card(lang, &item.dossier, when, "/staff/pickups");
            if item.appointment.as_ref().is_some_and(|a| a.date == today) {
                today_cards.push(c);
            } else {
                open_cards.push(c);
            }
        }
        let ids: Vec<i64> = picked.iter().map(|p| p.dossier.id).collect();
        let legs = domain::ops::postal::legs_with_codes(&state.store.read, &ids).await?;
        let picked_up = picked
            .iter()
            .map(|p| {
                let mut c = card(
                    lang,
                    &p.dossier,
                    local_time(p.dossier.updated_at),
                    "/staff/pickups",
                );
                c.actions = PostalActions::of(
                    lang,
                    &p.dossier,
                    legs.get(&p.dossier.id).map_or(&[][..], Vec::as_slice),
                    "/staff/pickups",
                );
                c
            })
            .collect();
        Ok(PickupsPage {
            c: Chrome::staff(req, &staff),
            today: today_cards,
            open: open_cards,
            picked_up,
        })
    }
    .await;
    Answer::staff(&state, req, &staff).page(result)
}

// ---------------------------------------------------------------------------------------------------
// One dossier

/// A dossier with the actions the session may take.
#[derive(Template)]
#[template(path = "staff/dossier.html")]
pub struct DossierPage {
    pub c: Chrome,
    pub d: DossierView,
    pub postal: Option<PostalActions>,
    pub agency: Option<super::agency::AgencyActions>,
}

/// `GET /staff/dossiers/{code}`: the whole dossier, for staff entitled to it.
#[handler]
pub async fn dossier_page(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(code): Path<String>,
) -> Response {
    let record = domain::ops::dossiers::view_dossier(&state.store.read, &staff.actor, &code).await;
    Answer::staff(&state, req, &staff).page(record.map(|r| dossier_page_of(req, &staff, &r)))
}

fn dossier_page_of(req: &Request, staff: &StaffSession, record: &DossierRecord) -> DossierPage {
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
        postal: (staff.key.role == Role::Postal)
            .then(|| PostalActions::of(lang, &record.dossier, &legs, &back)),
        agency: (staff.key.role == Role::Agency)
            .then(|| super::agency::AgencyActions::of(&record.dossier, &back)),
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
fn parse_vnd(text: &str) -> i64 {
    let digits: String = text
        .trim()
        .trim_end_matches(['₫', 'đ', 'd'])
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | ' ' | '\u{a0}'))
        .collect();
    digits.trim().parse().unwrap_or(-1)
}

// ---------------------------------------------------------------------------------------------------
// Scan

/// The scan page.
#[derive(Template)]
#[template(path = "staff/scan.html")]
pub struct ScanPage {
    pub c: Chrome,
    pub events: Vec<Choice>,
    pub location: String,
    pub scan_id: String,
}

/// The event and location the scan page keeps between scans.
#[derive(Debug, Default, Deserialize)]
pub struct ScanQuery {
    pub event: Option<String>,
    pub location: Option<String>,
}

/// `GET /staff/scan`: read a label's QR code with the camera, or let a handheld scanner type it.
#[handler]
pub async fn scan_page(req: &Request, staff: StaffSession, Query(q): Query<ScanQuery>) -> Response {
    let lang = Lang::of(req);
    let current = q
        .event
        .as_deref()
        .and_then(|e| e.parse::<ScanEvent>().ok())
        .unwrap_or(ScanEvent::AcceptedAtOffice);
    let page = ScanPage {
        c: Chrome::staff(req, &staff),
        events: Choice::list(
            ScanEvent::ALL
                .iter()
                .map(|e| (e.as_str(), lang.scan_event(*e).to_owned())),
            current.as_str(),
        ),
        location: q.location.unwrap_or_default(),
        scan_id: uuid_v4(),
    };
    render(StatusCode::OK, &page)
}

/// `POST /staff/scan`: records one scan; the page comes back ready for the next one, with the same
/// event and location.
#[handler]
pub async fn scan(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    let event = posted.raw("event").to_owned();
    let location = posted.raw("location").to_owned();
    let back = format!(
        "/staff/scan?event={}&location={}",
        percent_encode(&event),
        percent_encode(&location)
    );
    if !staff.csrf_ok(&state, posted.csrf()) {
        return expired(&state, &back, lang);
    }
    let payload = posted.raw("payload").trim().to_owned();
    let by_item_code = domain::s10::looks_like_item_code(&payload);
    let request = ScanRequest {
        scan_id: posted.text("scan_id"),
        label: (!by_item_code && !payload.is_empty()).then(|| payload.clone()),
        item_code: by_item_code.then(|| payload.clone()),
        event: posted.text("event"),
        at: Some(Utc::now().to_rfc3339()),
        location: posted.text("location"),
        note: posted.text("note"),
        recipient: None,
    };
    let outcome = domain::ops::scans::record_scans(
        &state.store,
        &staff.actor,
        state.label_key.expose_secret(),
        &[request],
    )
    .await;
    let (kind, text) = match outcome.map(|mut o| o.pop()) {
        Ok(Some(ScanOutcome::Accepted {
            dossier_code,
            status,
            applied,
        })) => (
            FlashKind::Ok,
            if applied {
                format!(
                    "{} {dossier_code}: {}",
                    lang.t("Đã quét. Hồ sơ", "Scanned. Dossier"),
                    lang.status(status)
                )
            } else {
                format!(
                    "{} {dossier_code} ({})",
                    lang.t(
                        "Đã ghi vào lịch sử, trạng thái không đổi. Hồ sơ",
                        "Added to the timeline; the status stays. Dossier"
                    ),
                    lang.status(status)
                )
            },
        ),
        Ok(Some(ScanOutcome::Duplicate)) => (
            FlashKind::Ok,
            lang.t(
                "Lượt quét này đã được ghi nhận trước đó.",
                "This scan was recorded before.",
            )
            .to_owned(),
        ),
        Ok(Some(ScanOutcome::Refused(err))) | Err(err) => {
            status_of(&err);
            (FlashKind::Error, lang.op_error(&err))
        }
        Ok(None) => (
            FlashKind::Error,
            lang.t("Không có kết quả quét.", "The scan went unanswered.")
                .to_owned(),
        ),
    };
    redirect_with(&state, &back, kind, &text)
}

/// A random UUID (version 4) for a scan's idempotency key.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

// ---------------------------------------------------------------------------------------------------
// Handover records

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

fn handover_row(lang: Lang, r: &handover_record::Model) -> HandoverRow {
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

// ---------------------------------------------------------------------------------------------------
// Deliveries

/// Results to deliver.
#[derive(Template)]
#[template(path = "staff/deliveries.html")]
pub struct DeliveriesPage {
    pub c: Chrome,
    pub cards: Vec<DossierCard>,
}

/// `GET /staff/deliveries`: the office's results with the post, out for delivery, or after a failed
/// attempt, each with the delivery form.
#[handler]
pub async fn deliveries(req: &Request, state: Data<&AppState>, staff: StaffSession) -> Response {
    let lang = Lang::of(req);
    let result: Result<DeliveriesPage, OpError> = async {
        let conn = &state.store.read;
        let mut dossiers = Vec::new();
        for status in [
            DossierStatus::ResultWithPost,
            DossierStatus::OutForDelivery,
            DossierStatus::DeliveryFailed,
        ] {
            dossiers.extend(
                domain::ops::postal::list_pickups(conn, &staff.actor, Some(status))
                    .await?
                    .into_iter()
                    .map(|p| p.dossier),
            );
        }
        let ids: Vec<i64> = dossiers.iter().map(|d| d.id).collect();
        let legs = domain::ops::postal::legs_with_codes(&state.store.read, &ids).await?;
        let cards = dossiers
            .iter()
            .map(|d| {
                let mut c = card(lang, d, String::new(), "/staff/deliveries");
                c.actions = PostalActions::of(
                    lang,
                    d,
                    legs.get(&d.id).map_or(&[][..], Vec::as_slice),
                    "/staff/deliveries",
                );
                c
            })
            .collect();
        Ok(DeliveriesPage {
            c: Chrome::staff(req, &staff),
            cards,
        })
    }
    .await;
    Answer::staff(&state, req, &staff).page(result)
}

// ---------------------------------------------------------------------------------------------------
// Labels

/// Which label, in which format.
#[derive(Debug, Default, Deserialize)]
pub struct LabelQuery {
    pub leg: Option<String>,
    pub format: Option<String>,
}

fn file_response(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /staff/labels/{code}?leg=inbound|outbound&format=svg|pdf|png`: a parcel's label, as
/// `GET /api/v1/dossiers/{code}/label` prints it, for the signed-in staff.
#[handler]
pub async fn label(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(code): Path<String>,
    Query(q): Query<LabelQuery>,
) -> Response {
    let lang = Lang::of(req);
    let direction = match q.leg.as_deref() {
        Some("outbound") => LegDirection::Outbound,
        _ => LegDirection::Inbound,
    };
    let record =
        match domain::ops::labels::label_record(&state.store.read, &staff.actor, &code, direction)
            .await
        {
            Ok(record) => record,
            Err(err) => {
                return Answer::staff(&state, req, &staff).error(&err);
            }
        };
    let token = domain::label_token::sign(state.label_key.expose_secret(), record.leg.id);
    let qr_url = format!("{}/l/{token}", state.public_base_url);
    let item: String = record
        .item_code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let data = crate::routes::labels::label_data(record, qr_url);
    let rendered = match q.format.as_deref() {
        Some("pdf") => tokio::task::spawn_blocking(move || labels::render_pdf(&data))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map(|b| file_response(b, "application/pdf", &format!("nhan-{item}.pdf"))),
        Some("png") => tokio::task::spawn_blocking(move || labels::render_png(&data))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map(|b| file_response(b, "image/png", &format!("nhan-{item}.png"))),
        _ => labels::render_svg(&data)
            .map_err(|e| e.to_string())
            .map(|s| {
                file_response(
                    s.into_bytes(),
                    "image/svg+xml; charset=utf-8",
                    &format!("nhan-{item}.svg"),
                )
            }),
    };
    rendered.unwrap_or_else(|err| {
        tracing::error!(error.cause = %err, "a label failed to render");
        Answer::staff(&state, req, &staff).refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            lang.t(
                "Không in được nhãn; lỗi đã được ghi lại.",
                "The label could not be drawn; it has been logged.",
            )
            .to_owned(),
        )
    })
}

/// `GET /staff/labels/sheet`: one PDF with the labels of every parcel picked up and not yet sent on.
#[handler]
pub async fn label_sheet(req: &Request, state: Data<&AppState>, staff: StaffSession) -> Response {
    let lang = Lang::of(req);
    let result: Result<Vec<labels::LabelData>, OpError> = async {
        let conn = &state.store.read;
        let picked =
            domain::ops::postal::list_pickups(conn, &staff.actor, Some(DossierStatus::PickedUp))
                .await?;
        let mut sheet = Vec::with_capacity(picked.len());
        for p in picked {
            let record = domain::ops::labels::label_record(
                conn,
                &staff.actor,
                &p.dossier.code,
                LegDirection::Inbound,
            )
            .await?;
            let token = domain::label_token::sign(state.label_key.expose_secret(), record.leg.id);
            let qr_url = format!("{}/l/{token}", state.public_base_url);
            sheet.push(crate::routes::labels::label_data(record, qr_url));
        }
        Ok(sheet)
    }
    .await;
    let sheet = match result {
        Ok(sheet) if sheet.is_empty() => {
            return redirect_with(
                &state,
                "/staff/pickups",
                FlashKind::Error,
                lang.t(
                    "Chưa có bưu gửi nào đã nhận và chờ chuyển đi.",
                    "No parcel is picked up and waiting to leave.",
                ),
            );
        }
        Ok(sheet) => sheet,
        Err(err) => {
            return Answer::staff(&state, req, &staff).error(&err);
        }
    };
    let date = domain::sla::local_date(Utc::now())
        .format("%Y%m%d")
        .to_string();
    match tokio::task::spawn_blocking(move || labels::render_pdf_sheet(&sheet)).await {
        Ok(Ok(pdf)) => file_response(pdf, "application/pdf", &format!("nhan-{date}.pdf")),
        Ok(Err(err)) => {
            tracing::error!(error.cause = %err, "a label sheet failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(err) => {
            tracing::error!(error.cause = %err, "a label sheet failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
