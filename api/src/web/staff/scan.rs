//! The scan page: a label's QR code read with the camera, or typed by a handheld scanner.

use askama::Template;
use chrono::Utc;
use domain::ops::scans::{ScanOutcome, ScanRequest};
use entity::enums::ScanEvent;
use poem::http::StatusCode;
use poem::web::{Data, Form, Query};
use poem::{Request, Response, handler};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::dossier::expired;
use crate::state::AppState;
use crate::web::form::{Choice, Posted};
use crate::web::i18n::Lang;
use crate::web::page::{Chrome, render, status_of};
use crate::web::session::{FlashKind, StaffSession, percent_encode, redirect_with};

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
        fee_collected_vnd: None,
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
pub(super) fn uuid_v4() -> String {
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
