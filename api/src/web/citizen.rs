//! The citizens' pages: the request form (`/`), its confirmation, the tracking page (`/t/{code}`,
//! masked; full with `?k=<access token>`), cancelling before pickup, and where a label's QR code lands
//! in a browser (`/l/{token}`).

use askama::Template;
use chrono::Utc;
use domain::ops::OpError;
use domain::ops::access::{Actor, authenticate};
use domain::ops::dossiers::{CreateOutcome, CreatedDossier};
use domain::ops::reference::ProcedureWithDocuments;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query, Redirect};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;

use super::form::{Choice, Posted};
use super::i18n::{Lang, vnd};
use super::page::{Answer, Chrome, render, status_of};
use super::request_form::{self, FormInputs, RequestForm};
use super::session::{self, FlashKind, MaybeStaff, percent_encode, redirect_with};
use super::view::DossierView;
use super::{qr, served_provinces};
use crate::state::AppState;

/// The choice of agency and procedure, in the query.
#[derive(Debug, Default, Deserialize)]
pub struct PickQuery {
    pub agency: Option<String>,
    pub procedure: Option<String>,
}

/// The request page: choose the agency, then the procedure, then fill in the request.
#[derive(Template)]
#[template(path = "citizen/request.html")]
pub struct RequestPage {
    pub c: Chrome,
    pub agencies: Vec<Choice>,
    pub agency_name: String,
    pub procedures: Vec<Choice>,
    pub procedure: Option<ProcedureSummary>,
    pub form: Option<RequestForm>,
    pub banner: Option<String>,
}

/// The chosen procedure, as the page introduces it.
#[derive(Debug, Clone)]
pub struct ProcedureSummary {
    pub code: String,
    pub name: String,
    pub admin_fee: String,
    pub processing_days: i32,
    pub documents: Vec<(String, bool)>,
}

impl ProcedureSummary {
    fn of(p: &ProcedureWithDocuments) -> ProcedureSummary {
        ProcedureSummary {
            code: p.procedure.code.clone(),
            name: p.procedure.name.clone(),
            admin_fee: vnd(p.procedure.admin_fee_vnd),
            processing_days: p.procedure.processing_days,
            documents: p
                .documents
                .iter()
                .map(|d| (d.name.clone(), d.original_required))
                .collect(),
        }
    }
}

/// The page that confirms a registered request.
#[derive(Template)]
#[template(path = "citizen/confirmation.html")]
pub struct ConfirmationPage {
    pub c: Chrome,
    pub code: String,
    pub status: &'static str,
    pub mode: &'static str,
    pub agency_name: String,
    pub procedure_name: String,
    pub postage: String,
    pub admin_fee: String,
    pub total: String,
    pub tracking_url: String,
    pub access_url: String,
    pub qr_svg: String,
}

/// The tracking page.
#[derive(Template)]
#[template(path = "citizen/tracking.html")]
pub struct TrackingPage {
    pub c: Chrome,
    pub d: DossierView,
    /// The access token the page was opened with, for the cancel form.
    pub k: String,
    /// A `?k=` that does not open this dossier.
    pub bad_key: bool,
    pub can_cancel: bool,
    /// The links to the citizen's papers (empty without the token): the slip, and once there is one
    /// to print, the receipt.
    pub slip_url: String,
    pub receipt_url: String,
}

/// A tracking search.
#[derive(Debug, Default, Deserialize)]
pub struct TrackQuery {
    pub code: Option<String>,
    pub k: Option<String>,
}

/// The agencies, procedures and provinces the request form offers.
struct Choices {
    agencies: Vec<entity::agency::Model>,
    procedures: Vec<ProcedureWithDocuments>,
    provinces: Vec<String>,
}

async fn load_choices(state: &AppState, agency: Option<&str>) -> Result<Choices, OpError> {
    let conn = &state.store.read;
    let agencies = domain::ops::reference::list_agencies(conn).await?;
    let procedures = match agency {
        Some(code) if agencies.iter().any(|a| a.code == code) => {
            domain::ops::reference::list_procedures(conn, Some(code)).await?
        }
        _ => Vec::new(),
    };
    Ok(Choices {
        agencies,
        procedures,
        provinces: served_provinces(state).await?,
    })
}

fn request_page(
    c: Chrome,
    choices: &Choices,
    agency: &str,
    procedure: &str,
    posted: Option<&Posted>,
    errors: &[domain::ops::FieldError],
    banner: Option<String>,
) -> RequestPage {
    let lang = c.lang;
    let mut agencies = vec![Choice {
        value: String::new(),
        label: lang
            .t("— Chọn cơ quan —", "— Choose an agency —")
            .to_owned(),
        selected: agency.is_empty(),
    }];
    agencies.extend(Choice::list(
        choices
            .agencies
            .iter()
            .map(|a| (a.code.as_str(), a.name.clone())),
        agency,
    ));
    let mut procedures = vec![Choice {
        value: String::new(),
        label: lang
            .t("— Chọn thủ tục —", "— Choose a procedure —")
            .to_owned(),
        selected: procedure.is_empty(),
    }];
    procedures.extend(Choice::list(
        choices.procedures.iter().map(|p| {
            (
                p.procedure.code.as_str(),
                format!("{} · {}", p.procedure.code, p.procedure.name),
            )
        }),
        procedure,
    ));
    let chosen = choices
        .procedures
        .iter()
        .find(|p| p.procedure.code == procedure);
    let form = chosen.map(|p| {
        let fresh;
        let posted = match posted {
            Some(posted) => posted,
            None => {
                fresh = request_form::defaults(p, false);
                &fresh
            }
        };
        request_form::build(FormInputs {
            lang,
            action: "/",
            agency_code: agency,
            procedure: p,
            provinces: &choices.provinces,
            posted,
            errors,
            return_only: false,
        })
    });
    RequestPage {
        agency_name: choices
            .agencies
            .iter()
            .find(|a| a.code == agency)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        c,
        agencies,
        procedures: if choices.procedures.is_empty() {
            Vec::new()
        } else {
            procedures
        },
        procedure: chosen.map(ProcedureSummary::of),
        form,
        banner,
    }
}

/// `GET /`: the request form.
#[handler]
pub async fn show_form(
    req: &Request,
    state: Data<&AppState>,
    Query(pick): Query<PickQuery>,
) -> Response {
    let c = Chrome::public(&state, req);
    let agency = pick.agency.unwrap_or_default();
    let procedure = pick.procedure.unwrap_or_default();
    let choices = load_choices(&state, Some(&agency)).await;
    Answer::public(&state, req)
        .page(choices.map(|ch| request_page(c, &ch, &agency, &procedure, None, &[], None)))
}

/// `POST /`: registers the request, or draws the form again with every error beside its field and
/// nothing stored.
#[handler]
pub async fn submit_request(
    req: &Request,
    state: Data<&AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let c = Chrome::public(&state, req);
    let lang = c.lang;
    let agency = posted.raw("agency_code").to_owned();
    let procedure = posted.raw("procedure_code").to_owned();
    let choices = match load_choices(&state, Some(&agency)).await {
        Ok(choices) => choices,
        Err(err) => return Answer::public(&state, req).error(&err),
    };
    let Some(chosen) = choices
        .procedures
        .iter()
        .find(|p| p.procedure.code == procedure)
    else {
        let banner = lang.t(
            "Vui lòng chọn cơ quan và thủ tục.",
            "Please choose the agency and the procedure.",
        );
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &request_page(
                c.clone(),
                &choices,
                &agency,
                "",
                None,
                &[],
                Some(banner.to_owned()),
            ),
        );
    };
    let again = |status: StatusCode, errors: &[domain::ops::FieldError], banner: String| {
        let page = request_page(
            c.clone(),
            &choices,
            &agency,
            &procedure,
            Some(&posted),
            errors,
            Some(banner),
        );
        render(status, &page)
    };
    if !session::visitor_csrf_ok(&state, req, posted.csrf()) {
        let banner = lang.t(
            "Phiên làm việc của trang đã hết hạn. Vui lòng kiểm tra và gửi lại.",
            "This page's session has expired. Please check the form and send it again.",
        );
        return again(StatusCode::FORBIDDEN, &[], banner.to_owned());
    }
    let (request, rows) = request_form::to_request(&posted, chosen, lang, false);
    let claim = request_form::claim_of(&posted, &request, "web");
    match domain::ops::dossiers::create_dossier(
        &state.store,
        &Actor::Public,
        &request,
        claim.as_ref(),
    )
    .await
    {
        Ok(CreateOutcome::Created(created) | CreateOutcome::Replayed(created)) => {
            let agency_name = choices
                .agencies
                .iter()
                .find(|a| a.code == agency)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            confirmation(
                &state,
                c.clone(),
                created,
                agency_name,
                chosen.procedure.name.clone(),
            )
        }
        Err(OpError::Validation(errors)) => {
            let errors = request_form::errors_on_rows(errors, &rows);
            let banner = lang.t(
                "Hồ sơ chưa được gửi: vui lòng sửa các mục được đánh dấu.",
                "The request was not sent: please correct the marked fields.",
            );
            again(StatusCode::UNPROCESSABLE_ENTITY, &errors, banner.to_owned())
        }
        Err(err) => {
            let status = status_of(&err);
            let mut response = again(status, &[], lang.op_error(&err));
            if let OpError::TooMany {
                retry_after_secs, ..
            } = err
            {
                response.headers_mut().insert(
                    poem::http::header::RETRY_AFTER,
                    poem::http::HeaderValue::from(retry_after_secs),
                );
            }
            response
        }
    }
}

fn confirmation(
    state: &AppState,
    c: Chrome,
    created: CreatedDossier,
    agency_name: String,
    procedure_name: String,
) -> Response {
    let lang = c.lang;
    let tracking_url = format!("{}/t/{}", state.public_base_url, created.code);
    let access_url = format!("{tracking_url}?k={}", created.access_token);
    let qr_svg = qr::svg(
        &tracking_url,
        200,
        lang.t(
            "Mã QR của trang tra cứu hồ sơ",
            "QR code of the tracking page",
        ),
    )
    .unwrap_or_default();
    let page = ConfirmationPage {
        status: lang.status(created.status),
        mode: lang.mode(created.service_mode),
        code: created.code,
        agency_name,
        procedure_name,
        postage: vnd(created.fees.postage_vnd),
        admin_fee: vnd(created.fees.admin_fee_vnd),
        total: vnd(created.fees.total_vnd),
        tracking_url,
        access_url,
        qr_svg,
        c,
    };
    render(StatusCode::OK, &page)
}

/// `GET /t?code=…`: the tracking search box's target.
#[handler]
pub async fn track_search(Query(q): Query<TrackQuery>) -> Response {
    let code = q.code.unwrap_or_default();
    let code = code.trim();
    if code.is_empty() {
        return Redirect::see_other("/").into_response();
    }
    Redirect::see_other(format!("/t/{}", percent_encode(code))).into_response()
}

/// `GET /t/{code}`: the tracking page. Anyone with the code sees the masked view; the citizen's
/// access token (`?k=`) or a signed-in member of staff entitled to the dossier sees it whole.
#[handler]
pub async fn tracking(
    req: &Request,
    state: Data<&AppState>,
    Path(code): Path<String>,
    Query(q): Query<TrackQuery>,
    MaybeStaff(staff): MaybeStaff,
) -> Response {
    let lang = Lang::of(req);
    let mut record = match domain::ops::dossier_record::track(&state.store, &code).await {
        Ok(record) => record,
        Err(OpError::NotFound(_)) => {
            let message = lang.t(
                "Không có hồ sơ nào mang mã này. Vui lòng kiểm tra lại mã hồ sơ.",
                "No dossier has this code. Please check the code.",
            );
            return Answer::new(&state, req, staff.as_ref())
                .refuse(StatusCode::NOT_FOUND, message.to_owned());
        }
        Err(err) => {
            return Answer::new(&state, req, staff.as_ref()).error(&err);
        }
    };
    let k = q.k.unwrap_or_default();
    let citizen = if k.is_empty() {
        None
    } else {
        match authenticate(&state.store.read, &k).await {
            Ok(Ok(actor @ Actor::Citizen { .. })) => Some(actor),
            Ok(_) => None,
            Err(err) => {
                tracing::error!(error.cause = %err, "access token lookup failed");
                None
            }
        }
    };
    let holds_token = citizen
        .as_ref()
        .is_some_and(|a| a.may_access(&record.dossier) == domain::ops::access::Access::Full);
    let staff_entitled = staff
        .as_ref()
        .is_some_and(|s| s.actor.may_access(&record.dossier) == domain::ops::access::Access::Full);
    if !holds_token
        && staff
            .as_ref()
            .is_some_and(|s| s.key.role == entity::enums::Role::Postal)
    {
        domain::ops::dossiers::redact_for_post(&mut record.dossier);
    }
    // The documents the agency asks for, for those who see the dossier whole (the public read
    // leaves them out).
    if (holds_token || staff_entitled)
        && record.dossier.status == entity::enums::DossierStatus::SupplementRequested
    {
        match domain::ops::supplements::list_for_dossier(&state.store.read, record.dossier.id).await
        {
            Ok(supplements) => record.supplements = supplements,
            Err(err) => return Answer::public(&state, req).error(&err),
        }
    }
    let can_cancel = holds_token
        && domain::lifecycle::next_status(
            record.dossier.service_mode,
            record.dossier.status,
            domain::lifecycle::Action::Cancel,
        )
        .is_ok();
    let (slip_url, receipt_url) = if holds_token {
        let (code, key) = (percent_encode(&record.dossier.code), percent_encode(&k));
        let picked_up = record
            .legs
            .iter()
            .any(|l| l.direction == entity::enums::LegDirection::Inbound && l.item_code.is_some());
        (
            format!("/t/{code}/slip.pdf?k={key}"),
            if domain::ops::slips::has_receipt(&record.dossier, picked_up) {
                format!("/t/{code}/receipt.pdf?k={key}")
            } else {
                String::new()
            },
        )
    } else {
        (String::new(), String::new())
    };
    let page = TrackingPage {
        d: DossierView::of(lang, &record, holds_token || staff_entitled, Utc::now()),
        c: Chrome::for_anyone(&state, req, staff.as_ref()),
        bad_key: !k.is_empty() && !holds_token,
        k: if holds_token { k } else { String::new() },
        can_cancel,
        slip_url,
        receipt_url,
    };
    render(StatusCode::OK, &page)
}

/// `POST /t/{code}/cancel`: the citizen withdraws the request before pickup.
#[handler]
pub async fn cancel(
    req: &Request,
    state: Data<&AppState>,
    Path(code): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    let k = posted.raw("k").to_owned();
    let back = format!("/t/{}?k={}", percent_encode(&code), percent_encode(&k));
    if !session::visitor_csrf_ok(&state, req, posted.csrf()) {
        return redirect_with(
            &state,
            &back,
            FlashKind::Error,
            lang.t(
                "Phiên làm việc của trang đã hết hạn; vui lòng thử lại.",
                "This page's session has expired; please try again.",
            ),
        );
    }
    let actor = match authenticate(&state.store.read, &k).await {
        Ok(Ok(actor @ Actor::Citizen { .. })) => actor,
        Ok(_) => {
            return Answer::public(&state, req).refuse(
                StatusCode::FORBIDDEN,
                lang.t(
                    "Đường dẫn truy cập không đúng với hồ sơ này.",
                    "The access link does not open this dossier.",
                )
                .to_owned(),
            );
        }
        Err(err) => {
            let err = OpError::Db(err);
            return Answer::public(&state, req).error(&err);
        }
    };
    let reason = posted.text("reason");
    match domain::ops::dossiers::cancel_dossier(&state.store, &actor, &code, reason.as_deref())
        .await
    {
        Ok(_) => redirect_with(
            &state,
            &back,
            FlashKind::Ok,
            lang.t("Đã hủy yêu cầu.", "The request is cancelled."),
        ),
        Err(err) => redirect_with(&state, &back, FlashKind::Error, &lang.op_error(&err)),
    }
}
