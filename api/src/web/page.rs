//! What every page shares: the frame around it (`Chrome`: language, navigation, the flash line, the
//! form token), rendering a template into a response, the error page, and the middleware that sets
//! the pages' headers and cookies.

use askama::Template;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Html;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::i18n::{LANG_COOKIE, Lang};
use super::session::{
    self, FLASH_COOKIE, Flash, StaffSession, VISITOR_COOKIE, Visitor, append_cookie, set_cookie,
};
use crate::state::AppState;
use entity::enums::Role;

/// A link of the staff navigation.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame of a page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: Lang,
    /// The form token of this browser (its staff session's, or its visitor nonce's).
    pub csrf: String,
    /// The staff navigation, when signed in.
    pub nav: Vec<NavLink>,
    /// Who is signed in, as the key's name.
    pub signed_in_as: Option<String>,
    pub flash: Option<Flash>,
    /// This page in the other language.
    pub switch_href: String,
    /// The other language's name, in that language.
    pub switch_label: &'static str,
    pub switch_lang: &'static str,
}

impl Chrome {
    /// The frame of a public page.
    pub fn public(state: &AppState, req: &Request) -> Chrome {
        Chrome::build(req, session::visitor_csrf(state, req), None)
    }

    /// The frame of a staff page.
    pub fn staff(req: &Request, staff: &StaffSession) -> Chrome {
        Chrome::build(req, staff.csrf.clone(), Some(staff))
    }

    /// The frame for anyone: staff navigation when signed in.
    pub fn for_anyone(state: &AppState, req: &Request, staff: Option<&StaffSession>) -> Chrome {
        match staff {
            Some(s) => Chrome::staff(req, s),
            None => Chrome::public(state, req),
        }
    }

    fn build(req: &Request, csrf: String, staff: Option<&StaffSession>) -> Chrome {
        let lang = Lang::of(req);
        let path = req.uri().path();
        let nav = staff
            .map(|s| nav_links(lang, s.key.role, path))
            .unwrap_or_default();
        let other = match lang {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        };
        let mut query: Vec<&str> = req
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("lang="))
            .collect();
        let lang_pair = format!("lang={}", other.code());
        query.push(&lang_pair);
        Chrome {
            lang,
            csrf,
            nav,
            signed_in_as: staff.map(|s| s.key.name.clone()),
            flash: Flash::of(req),
            switch_href: format!("{path}?{}", query.join("&")),
            switch_label: match other {
                Lang::Vi => "Tiếng Việt",
                Lang::En => "English",
            },
            switch_lang: other.code(),
        }
    }
}

fn nav_links(lang: Lang, role: Role, path: &str) -> Vec<NavLink> {
    let links: Vec<(&'static str, &'static str)> = match role {
        Role::Postal => vec![
            ("/staff/pickups", lang.t("Nhận hồ sơ", "Pickups")),
            ("/staff/scan", lang.t("Quét mã", "Scan")),
            ("/staff/handovers", lang.t("Biên bản", "Handovers")),
            ("/staff/deliveries", lang.t("Phát kết quả", "Deliveries")),
        ],
        Role::Agency => vec![
            ("/agency", lang.t("Bàn làm việc", "Desk")),
            (
                "/agency/return",
                lang.t("Tiếp nhận trực tiếp", "Filed at the desk"),
            ),
            ("/agency/report", lang.t("Báo cáo", "Report")),
        ],
        Role::Admin => vec![("/staff", lang.t("Quản trị", "Administration"))],
    };
    links
        .into_iter()
        .map(|(href, label)| NavLink {
            href,
            label,
            current: path == href,
        })
        .collect()
}

/// Renders `page` with `status`.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).with_status(status).into_response(),
        Err(err) => {
            tracing::error!(error.cause = %err, "a page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A page that only says what went wrong.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub c: Chrome,
    pub title: String,
    pub message: String,
}

/// An error page for the request.
pub fn error_page(
    state: &AppState,
    req: &Request,
    staff: Option<&StaffSession>,
    status: StatusCode,
    message: String,
) -> Response {
    let c = Chrome::for_anyone(state, req, staff);
    let title = match status {
        StatusCode::NOT_FOUND => c.lang.t("Không tìm thấy", "Not found"),
        StatusCode::FORBIDDEN => c.lang.t("Không có quyền", "Not allowed"),
        StatusCode::TOO_MANY_REQUESTS => c.lang.t("Quá nhiều yêu cầu", "Too many requests"),
        s if s.is_server_error() => c.lang.t("Có lỗi xảy ra", "Something went wrong"),
        _ => c.lang.t("Không thực hiện được", "Not done"),
    }
    .to_owned();
    render(status, &ErrorPage { c, title, message })
}

/// Whom a page answers: the request, the service and the staff session if any. A handler makes one,
/// calls the domain once, and hands the outcome to [`Answer::page`], which draws the page or the
/// error page of the refusal, so no handler repeats that choice.
#[derive(Clone, Copy)]
pub struct Answer<'a> {
    state: &'a AppState,
    req: &'a Request,
    staff: Option<&'a StaffSession>,
}

impl<'a> Answer<'a> {
    /// An answer to anyone: staff navigation when signed in.
    pub fn new(state: &'a AppState, req: &'a Request, staff: Option<&'a StaffSession>) -> Self {
        Answer { state, req, staff }
    }

    /// An answer to a signed-in member of staff.
    pub fn staff(state: &'a AppState, req: &'a Request, staff: &'a StaffSession) -> Self {
        Answer::new(state, req, Some(staff))
    }

    /// An answer to a visitor.
    pub fn public(state: &'a AppState, req: &'a Request) -> Self {
        Answer::new(state, req, None)
    }

    /// The handlers' state.
    pub fn state(&self) -> &'a AppState {
        self.state
    }

    /// The request being answered.
    pub fn request(&self) -> &'a Request {
        self.req
    }

    /// The page drawn with 200, or the error page of the domain's refusal.
    pub fn page<T: Template>(self, result: Result<T, domain::ops::OpError>) -> Response {
        self.page_with(StatusCode::OK, result)
    }

    /// The page drawn with `status`, or the error page of the domain's refusal.
    pub fn page_with<T: Template>(
        self,
        status: StatusCode,
        result: Result<T, domain::ops::OpError>,
    ) -> Response {
        match result {
            Ok(page) => render(status, &page),
            Err(err) => self.error(&err),
        }
    }

    /// The error page of a domain refusal, in the reader's language.
    pub fn error(self, err: &domain::ops::OpError) -> Response {
        let message = Lang::of(self.req).op_error(err);
        self.refuse(status_of(err), message)
    }

    /// An error page with `status` and `message`.
    pub fn refuse(self, status: StatusCode, message: impl Into<String>) -> Response {
        error_page(self.state, self.req, self.staff, status, message.into())
    }
}

/// The status a domain refusal is answered with on a page.
pub fn status_of(err: &domain::ops::OpError) -> StatusCode {
    use domain::ops::OpError;
    match err {
        OpError::NotFound(_) => StatusCode::NOT_FOUND,
        OpError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        OpError::InvalidTransition(_) | OpError::TransitionRefused(_) | OpError::Conflict(_) => {
            StatusCode::CONFLICT
        }
        OpError::Forbidden(_) => StatusCode::FORBIDDEN,
        OpError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
        OpError::Db(err) => {
            tracing::error!(error.cause = %err, "a page's use-case failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// The pages' headers and cookies: a strict content security policy (scripts and styles from this
/// site only), no referrer (tracking links carry access tokens), no caching (pages show personal
/// data); the language chosen with `?lang=` remembered; a visitor nonce for the public forms' tokens;
/// the flash line cleared once shown.
pub struct WebPage;

impl<E: Endpoint> Middleware<E> for WebPage {
    type Output = WebPageEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        WebPageEndpoint { inner }
    }
}

pub struct WebPageEndpoint<E> {
    inner: E,
}

/// The content security policy of every page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
    media-src 'self' blob:; script-src 'self'; style-src 'self'; object-src 'none'; \
    frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

impl<E: Endpoint> Endpoint for WebPageEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let state = req.data::<AppState>().cloned();
        let chosen_lang = Lang::from_query(&req);
        let had_flash = session::cookie(&req, FLASH_COOKIE).is_some();
        let new_visitor = match session::cookie(&req, VISITOR_COOKIE) {
            Some(nonce) if !nonce.is_empty() => {
                req.extensions_mut().insert(Visitor(nonce));
                None
            }
            _ => {
                let nonce = session::nonce();
                req.extensions_mut().insert(Visitor(nonce.clone()));
                Some(nonce)
            }
        };
        let mut response = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(err) if err.is_from_response() => err.into_response(),
            Err(err) => return Err(err),
        };
        let headers = response.headers_mut();
        for (name, value) in [
            ("content-security-policy", CONTENT_SECURITY_POLICY),
            ("referrer-policy", "no-referrer"),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if let Some(state) = state {
            if let Some(lang) = chosen_lang {
                let cookie = set_cookie(&state, LANG_COOKIE, lang.code(), 365 * 24 * 3600);
                append_cookie(&mut response, &cookie);
            }
            if let Some(nonce) = new_visitor {
                let cookie = set_cookie(&state, VISITOR_COOKIE, &nonce, 30 * 24 * 3600);
                append_cookie(&mut response, &cookie);
            }
            let sets_flash = response
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .any(|v| v.as_bytes().starts_with(FLASH_COOKIE.as_bytes()));
            if had_flash && !sets_flash {
                append_cookie(&mut response, &set_cookie(&state, FLASH_COOKIE, "", 0));
            }
        }
        Ok(response)
    }
}
