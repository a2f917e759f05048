//! Web pages for people (API.md "Web pages"): server-rendered HTML (askama templates under
//! `api/templates/`, one style sheet and a few small scripts under `api/static/`), Vietnamese first
//! with `?lang=en`.
//!
//! - Citizens: `/` the request form and its confirmation, `/t/{code}` the tracking page (masked; full
//!   with `?k=<access token>`), cancelling before pickup, `/l/{token}` in a browser.
//! - Post office staff: `/staff` sign-in (an office's API key makes a session cookie),
//!   `/staff/pickups`, `/staff/scan`, `/staff/handovers`, `/staff/deliveries`, labels.
//! - Agency clerks: `/agency` the desk (handover records to sign, the worklist, rulings and results,
//!   results handed to the post), `/agency/return` dossiers filed in person, `/agency/report`.
//!
//! Where things live: `page.rs` the frame of every page and [`page::Answer`], which draws a page or
//! the error page of a domain refusal; `session.rs` the staff session and the form tokens; `form.rs`,
//! `request_form.rs`, `view.rs`, `i18n.rs` what pages share; `citizen.rs` the public pages;
//! `staff/` and `agency/` one file per page. A new page gets a file in the folder of its audience (a
//! template under `api/templates/`) and its route in [`mount`]; its handler extracts, calls one
//! use-case, and answers with `Answer::…(…).page(result)`.
//!
//! Pages call the same use-cases as the JSON API (`domain::ops::*`) with the actor of the session or
//! the access token, so every rule and every permission is decided in one place; a page only draws
//! what the domain answered. Personal data appears only for the citizen holding the token and for
//! staff entitled to the dossier.

mod agency;
pub mod assets;
mod citizen;
mod form;
pub mod i18n;
mod page;
pub(crate) mod papers;
mod qr;
mod request_form;
pub mod session;
mod staff;
mod view;

use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, post};

use page::WebPage;

use crate::state::AppState;

/// Adds the pages to the service's routes. The request form answers at `/` itself: the API's
/// OpenAPI service is nested at the root, and a route tree cannot hold both.
pub fn mount(route: Route) -> impl Endpoint<Output = Response> {
    let home = get(citizen::show_form)
        .post(citizen::submit_request)
        .with(WebPage);
    let rest = route
        .at("/t", get(citizen::track_search).with(WebPage))
        .at("/t/:code", get(citizen::tracking).with(WebPage))
        .at("/t/:code/slip.pdf", get(papers::citizen_slip).with(WebPage))
        .at(
            "/t/:code/receipt.pdf",
            get(papers::citizen_receipt).with(WebPage),
        )
        .at("/t/:code/cancel", post(citizen::cancel).with(WebPage))
        .at(
            "/staff",
            get(staff::sign_in::sign_in_page)
                .post(staff::sign_in::sign_in)
                .with(WebPage),
        )
        .at(
            "/staff/signout",
            post(staff::sign_in::sign_out).with(WebPage),
        )
        .at("/staff/pickups", get(staff::pickups::pickups).with(WebPage))
        .at(
            "/staff/dossiers/:code",
            get(staff::dossier::dossier_page).with(WebPage),
        )
        .at(
            "/staff/dossiers/:code/slip.pdf",
            get(papers::staff_slip).with(WebPage),
        )
        .at(
            "/staff/dossiers/:code/receipt.pdf",
            get(papers::staff_receipt).with(WebPage),
        )
        .at(
            "/staff/dossiers/:code/:action",
            post(staff::dossier::dossier_action).with(WebPage),
        )
        .at(
            "/staff/scan",
            get(staff::scan::scan_page)
                .post(staff::scan::scan)
                .with(WebPage),
        )
        .at(
            "/staff/handovers",
            get(staff::handovers::handovers)
                .post(staff::handovers::create_handover)
                .with(WebPage),
        )
        .at(
            "/staff/handovers/:id",
            get(staff::handovers::handover_page).with(WebPage),
        )
        .at(
            "/staff/handovers/:id/confirm",
            post(staff::handovers::confirm_handover).with(WebPage),
        )
        .at(
            "/staff/deliveries",
            get(staff::deliveries::deliveries).with(WebPage),
        )
        .at(
            "/staff/labels/sheet",
            get(staff::labels::label_sheet).with(WebPage),
        )
        .at(
            "/staff/labels/:code",
            get(staff::labels::label).with(WebPage),
        )
        .at("/agency", get(agency::desk::desk).with(WebPage))
        .at(
            "/agency/dossiers/:code/:action",
            post(agency::desk::dossier_action).with(WebPage),
        )
        .at(
            "/agency/handovers",
            post(agency::desk::create_handover).with(WebPage),
        )
        .at(
            "/agency/return",
            get(agency::returns::return_page)
                .post(agency::returns::create_return)
                .with(WebPage),
        )
        .at("/agency/report", get(agency::report::report).with(WebPage))
        .at("/static/*path", get(assets::serve));
    Home { home, rest }
}

/// The page of a request refused by a rate limit (the caller sets `Retry-After`).
pub fn too_many_requests_page(req: &Request, retry_after_secs: u64) -> Response {
    let lang = i18n::Lang::of(req);
    let message = match lang {
        i18n::Lang::Vi => format!(
            "Bạn đã gửi quá nhiều yêu cầu trong thời gian ngắn. Xin thử lại sau {retry_after_secs} giây."
        ),
        i18n::Lang::En => format!(
            "You have sent too many requests in a short time. Please try again in {retry_after_secs} seconds."
        ),
    };
    match req.data::<AppState>() {
        Some(state) => page::error_page(
            state,
            req,
            None,
            poem::http::StatusCode::TOO_MANY_REQUESTS,
            message,
        ),
        None => poem::web::Html(message)
            .with_status(poem::http::StatusCode::TOO_MANY_REQUESTS)
            .into_response(),
    }
}

/// `/` to the request form, everything else to the route tree.
struct Home<H, R> {
    home: H,
    rest: R,
}

impl<H: Endpoint, R: Endpoint> Endpoint for Home<H, R> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if req.uri().path() == "/" {
            self.home.call(req).await.map(IntoResponse::into_response)
        } else {
            self.rest.call(req).await.map(IntoResponse::into_response)
        }
    }
}

/// The provinces some post office serves, by code: where the post can collect and deliver.
async fn served_provinces(state: &AppState) -> Result<Vec<String>, domain::ops::OpError> {
    let mut provinces: Vec<String> = domain::ops::reference::list_offices(&state.store.read)
        .await?
        .into_iter()
        .map(|o| o.province_code)
        .collect();
    provinces.sort();
    provinces.dedup();
    Ok(provinces)
}
