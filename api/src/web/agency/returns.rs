//! Dossiers filed in person at the desk, whose result the post brings home.

use askama::Template;
use domain::ops::OpError;
use domain::ops::dossiers::{CreateOutcome, CreatedDossier, DossierRequest};
use poem::http::StatusCode;
use poem::web::{Data, Form, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use crate::state::AppState;
use crate::web::form::{Choice, Posted};
use crate::web::i18n::{Lang, vnd};
use crate::web::page::{Answer, Chrome, render, status_of};
use crate::web::qr;
use crate::web::request_form::{self, FormInputs, RequestForm};
use crate::web::served_provinces;
use crate::web::session::StaffSession;

/// The desk's form for a dossier filed in person, whose result the post brings home.
#[derive(Template)]
#[template(path = "agency/return.html")]
pub struct ReturnPage {
    pub c: Chrome,
    pub procedures: Vec<Choice>,
    pub form: Option<RequestForm>,
    pub banner: Option<String>,
}

/// The procedure chosen.
#[derive(Debug, Default, Deserialize)]
pub struct ProcedureQuery {
    pub procedure: Option<String>,
}

/// The registered dossier, for the desk to hand its code and private link to the citizen.
#[derive(Template)]
#[template(path = "agency/registered.html")]
pub struct RegisteredPage {
    pub c: Chrome,
    pub code: String,
    pub postage: String,
    pub total: String,
    pub tracking_url: String,
    pub access_url: String,
    pub qr_svg: String,
}

pub(super) async fn return_page_of(
    state: &AppState,
    c: Chrome,
    staff: &StaffSession,
    procedure: &str,
    posted: Option<&Posted>,
    errors: &[domain::ops::FieldError],
    banner: Option<String>,
) -> Result<ReturnPage, OpError> {
    let lang = c.lang;
    let agency = staff.key.agency_code.clone().unwrap_or_default();
    let procedures =
        domain::ops::reference::list_procedures(&state.store.read, Some(&agency)).await?;
    let provinces = served_provinces(state).await?;
    let mut choices = vec![Choice {
        value: String::new(),
        label: lang
            .t("— Chọn thủ tục —", "— Choose a procedure —")
            .to_owned(),
        selected: procedure.is_empty(),
    }];
    choices.extend(Choice::list(
        procedures.iter().map(|p| {
            (
                p.procedure.code.as_str(),
                format!("{} · {}", p.procedure.code, p.procedure.name),
            )
        }),
        procedure,
    ));
    let form = procedures
        .iter()
        .find(|p| p.procedure.code == procedure)
        .map(|p| {
            let fresh;
            let posted = match posted {
                Some(posted) => posted,
                None => {
                    fresh = request_form::defaults(p, true);
                    &fresh
                }
            };
            request_form::build(FormInputs {
                lang,
                action: "/agency/return",
                agency_code: &agency,
                procedure: p,
                provinces: &provinces,
                posted,
                errors,
                return_only: true,
            })
        });
    Ok(ReturnPage {
        c,
        procedures: choices,
        form,
        banner,
    })
}

/// `GET /agency/return`: the form.
#[handler]
pub async fn return_page(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Query(q): Query<ProcedureQuery>,
) -> Response {
    let procedure = q.procedure.unwrap_or_default();
    let c = Chrome::staff(req, &staff);
    let page = return_page_of(&state, c, &staff, &procedure, None, &[], None).await;
    Answer::staff(&state, req, &staff).page(page)
}

/// `POST /agency/return`: registers the dossier (mode `return`) with the agency's key.
#[handler]
pub async fn create_return(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    let procedure = posted.raw("procedure_code").to_owned();
    let agency = staff.key.agency_code.clone().unwrap_or_default();
    let again = |errors: Vec<domain::ops::FieldError>, banner: String, status: StatusCode| {
        let state = state.0.clone();
        let staff = staff.clone();
        let posted = posted.clone();
        let procedure = procedure.clone();
        async move {
            let c = Chrome::staff(req, &staff);
            let page = return_page_of(
                &state,
                c,
                &staff,
                &procedure,
                Some(&posted),
                &errors,
                Some(banner),
            )
            .await;
            Answer::staff(&state, req, &staff).page_with(status, page)
        }
    };
    if !staff.csrf_ok(&state, posted.csrf()) {
        let banner = lang.t(
            "Phiên làm việc của trang đã hết hạn; vui lòng gửi lại.",
            "This page's session has expired; please send the form again.",
        );
        return again(Vec::new(), banner.to_owned(), StatusCode::FORBIDDEN).await;
    }
    let procedures =
        match domain::ops::reference::list_procedures(&state.store.read, Some(&agency)).await {
            Ok(p) => p,
            Err(err) => {
                let err = OpError::Db(err);
                return Answer::staff(&state, req, &staff).error(&err);
            }
        };
    let Some(chosen) = procedures.iter().find(|p| p.procedure.code == procedure) else {
        return again(
            Vec::new(),
            lang.t("Vui lòng chọn thủ tục.", "Please choose the procedure.")
                .to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (mut request, rows): (DossierRequest, Vec<usize>) =
        request_form::to_request(&posted, chosen, lang, true);
    request.agency_code = Some(agency.clone());
    let caller = format!("key{}", staff.key.key_id);
    let claim = request_form::claim_of(&posted, &request, &caller);
    match domain::ops::dossiers::create_dossier(
        &state.store,
        &staff.actor,
        &request,
        claim.as_ref(),
    )
    .await
    {
        Ok(CreateOutcome::Created(created) | CreateOutcome::Replayed(created)) => {
            let page = registered_page(&state, Chrome::staff(req, &staff), lang, created);
            render(StatusCode::OK, &page)
        }
        Err(OpError::Validation(errors)) => {
            let errors = request_form::errors_on_rows(errors, &rows);
            let banner = lang.t(
                "Chưa đăng ký: vui lòng sửa các mục được đánh dấu.",
                "Not registered: please correct the marked fields.",
            );
            again(errors, banner.to_owned(), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => {
            let status = status_of(&err);
            again(Vec::new(), lang.op_error(&err), status).await
        }
    }
}

/// The page that confirms a dossier filed at the desk, with its private link as a QR code.
fn registered_page(
    state: &AppState,
    c: Chrome,
    lang: Lang,
    created: CreatedDossier,
) -> RegisteredPage {
    let tracking_url = format!("{}/t/{}", state.public_base_url, created.code);
    let access_url = format!("{tracking_url}?k={}", created.access_token);
    RegisteredPage {
        c,
        qr_svg: qr::svg(
            &access_url,
            180,
            lang.t("Mã QR của đường dẫn riêng", "QR code of the private link"),
        )
        .unwrap_or_default(),
        code: created.code,
        postage: vnd(created.fees.postage_vnd),
        total: vnd(created.fees.total_vnd),
        tracking_url,
        access_url,
    }
}
