//! Parcel labels: one label as SVG, PNG or PDF, and a sheet of the day's labels.

use chrono::Utc;
use domain::ops::OpError;
use entity::enums::{DossierStatus, LegDirection};
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::labels;
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::page::Answer;
use crate::web::papers::file_response;
use crate::web::session::{FlashKind, StaffSession, redirect_with};

/// Which label, in which format.
#[derive(Debug, Default, Deserialize)]
pub struct LabelQuery {
    pub leg: Option<String>,
    pub format: Option<String>,
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
    let data = crate::labels::content::label_data(record, qr_url);
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
            sheet.push(crate::labels::content::label_data(record, qr_url));
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
