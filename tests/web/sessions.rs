//! The pages over plain HTTP: staff sessions (a signed cookie, HttpOnly, SameSite=Strict, Secure over
//! https, no key in it, ended by revoking the key), form tokens, who sees personal data on the
//! tracking page, and where a label's QR code sends a browser.

use entity::enums::Role;
use reqwest::header::{ACCEPT, CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;

use crate::label_payload;

const OFFICE: &str = "100000";

/// `name=value` of every cookie a response sets, and the full `Set-Cookie` lines.
fn set_cookies(res: &Response) -> Vec<(String, String, String)> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|line| {
            let pair = line.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            Some((name.to_owned(), value.to_owned(), line.to_owned()))
        })
        .collect()
}

/// The value of the first hidden `csrf` input of a page.
fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    let end = html[start..].find('"').expect("end of the token") + start;
    html[start..end].to_owned()
}

/// A browser's cookies, kept by hand.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, res: &Response) {
        for (name, value, _) in set_cookies(res) {
            self.0.retain(|(n, _)| *n != name);
            if !value.is_empty() {
                self.0.push((name, value));
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn set(&mut self, name: &str, value: &str) {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_owned(), value.to_owned()));
    }
}

async fn get(app: &TestApp, jar: &mut Jar, path: &str) -> Response {
    let res = app
        .client
        .get(app.url(path))
        .header(COOKIE, jar.header())
        .header(ACCEPT, "text/html")
        .send()
        .await
        .expect("request");
    jar.take(&res);
    res
}

async fn post(app: &TestApp, jar: &mut Jar, path: &str, form: &[(&str, &str)]) -> Response {
    let res = app
        .client
        .post(app.url(path))
        .header(COOKIE, jar.header())
        .form(form)
        .send()
        .await
        .expect("request");
    jar.take(&res);
    res
}

fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Signs in with `key` and returns the session's `Set-Cookie` line.
async fn sign_in(app: &TestApp, jar: &mut Jar, key: &str) -> String {
    let page = get(app, jar, "/staff").await.text().await.expect("page");
    let csrf = csrf_of(&page);
    let res = post(app, jar, "/staff", &[("csrf", &csrf), ("key", key)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    set_cookies(&res)
        .into_iter()
        .find(|(n, _, _)| n == "dossier_session")
        .map(|(_, _, line)| line)
        .expect("a session cookie")
}

#[tokio::test]
async fn staff_pages_send_strangers_to_the_sign_in_page() {
    let app = TestApp::spawn().await;
    let mut jar = Jar::default();
    for path in [
        "/staff/pickups",
        "/staff/scan",
        "/staff/handovers",
        "/agency",
    ] {
        let res = get(&app, &mut jar, path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), format!("/staff?next={path}"));
    }
    let res = post(&app, &mut jar, "/staff/scan", &[("payload", "x")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/staff?next="));
}

#[tokio::test]
async fn signing_in_makes_a_strict_http_only_cookie_that_holds_no_key_and_dies_with_the_key() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let mut jar = Jar::default();

    // A wrong key: the form again, with its error, and no session.
    let page = page_text(&app, &mut jar, "/staff").await;
    let csrf = csrf_of(&page);
    let res = post(
        &app,
        &mut jar,
        "/staff",
        &[("csrf", &csrf), ("key", "dk_wrong")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(jar.get("dossier_session").is_none());
    assert!(res.text().await.expect("page").contains("f-key-error"));

    let line = sign_in(&app, &mut jar, &key).await;
    assert!(line.contains("HttpOnly"), "{line}");
    assert!(line.contains("SameSite=Strict"), "{line}");
    assert!(!line.contains("Secure"), "plain http: {line}");
    let cookie = jar.get("dossier_session").expect("session");
    // The key's secret part is nowhere in the cookie (the cookie's random parts may well hold the
    // letters `dk_` by chance).
    assert!(!cookie.contains(key.trim_start_matches("dk_")), "{cookie}");
    let res = get(&app, &mut jar, "/staff/pickups").await;
    assert_eq!(res.status(), StatusCode::OK);

    // An altered cookie is no session.
    let mut altered = cookie.clone();
    let last = altered.pop().expect("a character");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    jar.set("dossier_session", &altered);
    assert_eq!(
        get(&app, &mut jar, "/staff/pickups").await.status(),
        StatusCode::SEE_OTHER
    );

    // Revoking the key ends the session at once.
    jar.set("dossier_session", &cookie);
    entity::api_key::Entity::update_many()
        .col_expr(
            entity::api_key::Column::RevokedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(entity::api_key::Column::Role.eq(Role::Postal))
        .exec(&app.store.write)
        .await
        .expect("revoke");
    assert_eq!(
        get(&app, &mut jar, "/staff/pickups").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn over_https_the_session_cookie_is_secure() {
    let app = TestApp::spawn_with(|s| {
        s.public_base_url = Some("https://dossier.example.vn".into());
    })
    .await;
    let key = app.key(Role::Agency, None, Some("UBND-P-HOANKIEM")).await;
    let mut jar = Jar::default();
    let line = sign_in(&app, &mut jar, &key).await;
    assert!(line.contains("; Secure"), "{line}");
}

#[tokio::test]
async fn a_staff_form_posted_without_its_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let mut jar = Jar::default();
    sign_in(&app, &mut jar, &key).await;
    let events = app.event_count().await;

    let path = format!("/staff/dossiers/{code}/cancel");
    let res = post(
        &app,
        &mut jar,
        &path,
        &[("csrf", "forged"), ("reason", "x")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body: Value = app.track(code).await.json().await.expect("json");
    assert_eq!(body["status"], "pickup_requested");
    assert_eq!(app.event_count().await, events);

    // Another browser's token does not do either.
    let mut other = Jar::default();
    let other_page = get(&app, &mut other, "/staff")
        .await
        .text()
        .await
        .expect("page");
    let foreign = csrf_of(&other_page);
    post(&app, &mut jar, &path, &[("csrf", &foreign)]).await;
    let body: Value = app.track(code).await.json().await.expect("json");
    assert_eq!(body["status"], "pickup_requested");

    // The session's own token does.
    let page = page_text(&app, &mut jar, "/staff/pickups").await;
    let csrf = csrf_of(&page);
    let res = post(
        &app,
        &mut jar,
        &path,
        &[("csrf", &csrf), ("reason", "duplicate")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body: Value = app.track(code).await.json().await.expect("json");
    assert_eq!(body["status"], "cancelled");
}

#[tokio::test]
async fn the_public_form_posted_without_the_visitors_token_stores_nothing() {
    let app = TestApp::spawn().await;
    let mut jar = Jar::default();
    let form = [
        ("agency_code", "UBND-P-HOANKIEM"),
        ("procedure_code", "1.001612"),
        ("service_mode", "send_and_return"),
        ("applicant.full_name", "Nguyễn Văn An"),
        ("applicant.phone", "0912345678"),
        ("applicant.id_number", "001090012345"),
        ("pickup_address.line", "12 Tràng Tiền"),
        ("pickup_address.ward_code", "00070"),
        ("pickup_address.province_code", "01"),
        ("documents[0].original", "on"),
        ("documents[0].copies", "0"),
    ];
    let res = post(&app, &mut jar, "/", &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.dossier_count().await, 0);

    // With the token of the page the browser was given, it registers.
    let page = get(
        &app,
        &mut jar,
        "/?agency=UBND-P-HOANKIEM&procedure=1.001612",
    )
    .await
    .text()
    .await
    .expect("page");
    let csrf = csrf_of(&page);
    let mut with_token = form.to_vec();
    with_token.push(("csrf", &csrf));
    let res = post(&app, &mut jar, "/", &with_token).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.dossier_count().await, 1);
}

#[tokio::test]
async fn the_tracking_page_shows_personal_data_only_with_the_dossiers_own_token() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");
    let other = app.create_valid_dossier().await;
    let other_token = other["access_token"].as_str().expect("token");
    let mut jar = Jar::default();

    let res = get(&app, &mut jar, &format!("/t/{code}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = res.text().await.expect("page");
    for personal in [
        "Nguyễn Văn An",
        "0912345678",
        "001090012345",
        "Tràng Tiền",
        "an@example.vn",
    ] {
        assert!(!html.contains(personal), "the public page shows {personal}");
    }
    assert!(html.contains(code));

    let html = page_text(&app, &mut jar, &format!("/t/{code}?k={token}")).await;
    assert!(html.contains("Nguyễn Văn An") && html.contains("0912345678"));

    let html = page_text(&app, &mut jar, &format!("/t/{code}?k={other_token}")).await;
    assert!(
        !html.contains("0912345678"),
        "another dossier's token opens nothing"
    );
    assert!(html.contains("notice warn"));

    let res = get(&app, &mut jar, "/t/ZZZZZ-ZZZZZ").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.expect("page").contains("<html"));
}

#[tokio::test]
async fn a_browser_opening_a_label_is_sent_to_the_tracking_page_and_machines_still_get_json() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    pick_up(&app, &key, code, total).await;
    let payload = label_payload(&app, code, "inbound", &key).await;

    let res = app
        .client
        .get(&payload)
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/t/{code}"));

    let res = app
        .client
        .get(&payload)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], code);

    let res = app
        .client
        .get(&payload)
        .header(ACCEPT, "text/html")
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK, "a staff key gets the parcel");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["dossier_code"], code);
}

/// Records the pickup of `code` with the API, its total collected.
async fn pick_up(app: &TestApp, key: &str, code: &str, total: i64) {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/pickup")))
        .bearer_auth(key)
        .json(&json!({"documents_checked": true, "fee_collected_vnd": total}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
}

/// A page's HTML.
async fn page_text(app: &TestApp, jar: &mut Jar, path: &str) -> String {
    get(app, jar, path).await.text().await.expect("page")
}

/// A PDF answer's text, its runs of white space made single spaces.
async fn pdf_text(res: Response) -> String {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    let pdf = res.bytes().await.expect("pdf");
    pdf_extract::extract_text_from_mem(&pdf)
        .expect("text")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn the_citizens_private_page_links_their_slip_and_receipt_which_open_with_their_token_only() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code").to_owned();
    let token = created["access_token"].as_str().expect("token").to_owned();
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    let other = app.create_valid_dossier().await;
    let other_token = other["access_token"].as_str().expect("token").to_owned();
    let slip = format!("/t/{code}/slip.pdf?k={token}");
    let receipt = format!("/t/{code}/receipt.pdf?k={token}");
    let mut jar = Jar::default();

    // The private page links the slip; no receipt before the pickup. The public page links neither.
    let page = page_text(&app, &mut jar, &format!("/t/{code}?k={token}")).await;
    assert!(page.contains(&format!("href=\"{slip}\"")), "{page}");
    assert!(!page.contains("receipt.pdf"), "{page}");
    let public = page_text(&app, &mut jar, &format!("/t/{code}")).await;
    assert!(!public.contains("slip.pdf"), "{public}");

    let text = pdf_text(get(&app, &mut jar, &slip).await).await;
    for expected in [
        "PHIẾU GỬI HỒ SƠ",
        code.as_str(),
        "Nguyễn Văn An",
        "chưa nhận",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    // Not without the token, with a made-up one, or with another dossier's.
    for query in [
        String::new(),
        "?k=".to_owned(),
        "?k=dt_0000000000000000000000000000000".to_owned(),
        format!("?k={other_token}"),
    ] {
        let res = get(&app, &mut jar, &format!("/t/{code}/slip.pdf{query}")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{query}");
        let body = res.text().await.expect("page");
        assert!(!body.contains("Nguyễn Văn An"), "{body}");
    }
    assert_eq!(
        get(&app, &mut jar, &receipt).await.status(),
        StatusCode::CONFLICT,
        "nothing collected yet"
    );

    pick_up(&app, &key, &code, total).await;

    let page = page_text(&app, &mut jar, &format!("/t/{code}?k={token}")).await;
    assert!(page.contains(&format!("href=\"{receipt}\"")), "{page}");
    let text = pdf_text(get(&app, &mut jar, &receipt).await).await;
    for expected in ["BIÊN LAI THU TIỀN", &format!("BL-{code}"), "Nguyễn Văn An"] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}

#[tokio::test]
async fn signed_in_postmen_print_the_slip_to_sign_at_the_door_and_the_receipt_after() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let other = app.key(Role::Postal, Some("700000"), None).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code").to_owned();
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    let slip = format!("/staff/dossiers/{code}/slip.pdf");
    let receipt = format!("/staff/dossiers/{code}/receipt.pdf");

    let mut jar = Jar::default();
    assert_eq!(
        get(&app, &mut jar, &slip).await.status(),
        StatusCode::SEE_OTHER,
        "not without a session"
    );
    sign_in(&app, &mut jar, &key).await;

    // Before the pickup: the dossier's page links the slip to sign, not a receipt; the slip leaves
    // the time of acceptance to fill.
    let page = page_text(&app, &mut jar, &format!("/staff/dossiers/{code}")).await;
    assert!(page.contains(&format!("href=\"{slip}\"")), "{page}");
    assert!(!page.contains(&format!("href=\"{receipt}\"")), "{page}");
    let text = pdf_text(get(&app, &mut jar, &slip).await).await;
    for expected in [
        "PHIẾU GỬI HỒ SƠ",
        code.as_str(),
        "Nguyễn Văn An",
        "chưa nhận",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    let refused = get(&app, &mut jar, &receipt).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);

    pick_up(&app, &key, &code, total).await;

    // After it: the receipt is linked and printed with what was collected.
    let page = page_text(&app, &mut jar, &format!("/staff/dossiers/{code}")).await;
    assert!(page.contains(&format!("href=\"{receipt}\"")), "{page}");
    let text = pdf_text(get(&app, &mut jar, &receipt).await).await;
    for expected in ["BIÊN LAI THU TIỀN", &format!("BL-{code}"), "Nguyễn Văn An"] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    let text = pdf_text(get(&app, &mut jar, &slip).await).await;
    assert!(!text.contains("chưa nhận"), "{text}");

    // Another office's postman gets neither.
    let mut stranger = Jar::default();
    sign_in(&app, &mut stranger, &other).await;
    for path in [&slip, &receipt] {
        assert_eq!(
            get(&app, &mut stranger, path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
}

#[tokio::test]
async fn signed_in_postmen_print_single_labels_and_the_days_sheet() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let mut codes = Vec::new();
    for _ in 0..2 {
        let created = app.create_valid_dossier().await;
        let code = created["code"].as_str().expect("code").to_owned();
        let total = created["fees"]["total_vnd"].as_i64().expect("total");
        pick_up(&app, &key, &code, total).await;
        codes.push(code);
    }
    let mut jar = Jar::default();
    assert_eq!(
        get(&app, &mut jar, "/staff/labels/sheet").await.status(),
        StatusCode::SEE_OTHER,
        "not without a session"
    );
    sign_in(&app, &mut jar, &key).await;
    let res = get(
        &app,
        &mut jar,
        &format!("/staff/labels/{}?format=svg", codes[0]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("svg").starts_with("<svg"));
    let text = pdf_text(get(&app, &mut jar, "/staff/labels/sheet").await).await;
    for code in &codes {
        assert!(text.contains(code.as_str()), "the sheet has {code}");
    }
}
