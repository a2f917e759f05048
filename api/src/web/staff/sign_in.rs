//! Signing in and out: an office's or agency's API key makes a session cookie.

use askama::Template;
use domain::ops::OpError;
use domain::ops::access::{Actor, authenticate};
use entity::enums::Role;
use poem::http::StatusCode;
use poem::web::{Data, Form, Query, Redirect};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;

use crate::state::AppState;
use crate::web::form::Posted;
use crate::web::i18n::Lang;
use crate::web::page::{Chrome, render, status_of};
use crate::web::session::{
    self, MaybeStaff, SESSION_COOKIE, StaffSession, append_cookie, safe_next, set_cookie,
};

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
pub(super) fn home_of(role: Role) -> &'static str {
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
