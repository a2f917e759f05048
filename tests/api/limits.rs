//! The public-internet limits of API.md: rate limits per client and per key, open pickup requests per
//! phone, connection timeouts, the pickups worklist's pages, report limits, CSV cells, the metrics
//! token, the sign-in redirect, and the carrier push's size.

use entity::enums::Role;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tests::{TestApp, error_of, valid_request};

const OFFICE: &str = "100000";

/// Checks a 429 answer: `Retry-After` in whole seconds (at least one) and, for the API, the envelope
/// with `rate_limited`. Returns the seconds.
async fn assert_rate_limited(res: Response) -> u64 {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = res
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("a Retry-After header in whole seconds");
    assert!(retry >= 1, "Retry-After is {retry}");
    let (code, _) = error_of(res).await;
    assert_eq!(code, "rate_limited");
    retry
}

/// Checks a 429 page: HTML that says so, with `Retry-After`.
async fn assert_rate_limited_page(res: Response) {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "a Retry-After header in whole seconds"
    );
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = res.text().await.expect("page");
    assert!(
        html.contains("Quá nhiều yêu cầu") || html.contains("Too many requests"),
        "the page says what happened: {html}"
    );
}

/// The JSON answer of `GET path` with the API key `key`.
async fn json_with_key(app: &TestApp, path: &str, key: &str) -> Value {
    app.client
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

/// A valid pickup request from the applicant with `phone`.
fn request_with_phone(phone: &str) -> Value {
    let mut body = valid_request();
    body["applicant"]["phone"] = json!(phone);
    body
}

#[tokio::test]
async fn public_pickup_requests_over_the_per_client_limit_are_refused_and_store_nothing() {
    let app = TestApp::spawn_with(|s| s.limits.public_writes_per_minute = 3).await;
    for i in 0..3 {
        let res = app
            .post_dossier(&request_with_phone(&format!("091234560{i}")))
            .await;
        assert_eq!(res.status(), 201);
    }
    let res = app.post_dossier(&request_with_phone("0912345699")).await;
    assert_rate_limited(res).await;
    assert_eq!(app.dossier_count().await, 3);
    // Staff keys are not public writes: an agency's `return` dossier still goes in.
    let key = app.key(Role::Admin, None, None).await;
    let res = app
        .client
        .get(app.url("/api/v1/agencies"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn public_tracking_over_the_per_client_limit_is_refused() {
    let app = TestApp::spawn_with(|s| s.limits.public_reads_per_minute = 4).await;
    let code = app.create_valid_dossier().await["code"]
        .as_str()
        .expect("code")
        .to_owned();
    for _ in 0..4 {
        assert_eq!(app.track(&code).await.status(), 200);
    }
    assert_rate_limited(app.track(&code).await).await;
    // The tracking page is a public read too, answered with a page.
    let res = app
        .client
        .get(app.url(&format!("/t/{code}")))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .expect("request");
    assert_rate_limited_page(res).await;
    // Other routes are not public reads.
    let res = app
        .client
        .get(app.url("/api/v1/agencies"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn requests_over_the_per_key_limit_are_refused_and_other_keys_go_on() {
    let app = TestApp::spawn_with(|s| s.limits.key_requests_per_minute = 3).await;
    let busy = app.key(Role::Postal, Some(OFFICE), None).await;
    let other = app.key(Role::Postal, Some(OFFICE), None).await;
    let pickups = |key: String| {
        app.client
            .get(app.url("/api/v1/pickups?status=pickup_requested"))
            .bearer_auth(key)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(pickups(busy.clone()).await.expect("request").status(), 200);
    }
    assert_rate_limited(pickups(busy.clone()).await.expect("request")).await;
    assert_eq!(pickups(other.clone()).await.expect("request").status(), 200);
    // A staff-made dossier is limited by its key, and a refused one is not stored.
    let agency = app.key(Role::Agency, None, Some("UBND-P-HOANKIEM")).await;
    let mut body = valid_request();
    body["service_mode"] = json!("return");
    for _ in 0..3 {
        let res = app
            .client
            .post(app.url("/api/v1/dossiers"))
            .bearer_auth(&agency)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
    }
    let before = app.dossier_count().await;
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(&agency)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_rate_limited(res).await;
    assert_eq!(app.dossier_count().await, before);
}

#[tokio::test]
async fn a_staff_web_session_counts_against_its_keys_limit() {
    use super::staff_web::{Jar, get, sign_in};
    let app = TestApp::spawn_with(|s| s.limits.key_requests_per_minute = 3).await;
    let busy = app.key(Role::Postal, Some(OFFICE), None).await;
    let other = app.key(Role::Postal, Some(OFFICE), None).await;
    let mut jar = Jar::default();
    sign_in(&app.base_url, &mut jar, &busy).await;
    for _ in 0..3 {
        let res = get(&app.base_url, &mut jar, "/staff/pickups").await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_rate_limited_page(get(&app.base_url, &mut jar, "/staff/pickups").await).await;
    // A second session of the same key shares its count; another key's session goes on.
    let mut again = Jar::default();
    sign_in(&app.base_url, &mut again, &busy).await;
    assert_rate_limited_page(get(&app.base_url, &mut again, "/staff/pickups").await).await;
    let mut fresh = Jar::default();
    sign_in(&app.base_url, &mut fresh, &other).await;
    let res = get(&app.base_url, &mut fresh, "/staff/pickups").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_forwarded_client_counts_only_behind_a_trusted_proxy() {
    // Not trusted: a made-up X-Forwarded-For does not buy a fresh allowance.
    let app = TestApp::spawn_with(|s| s.limits.public_writes_per_minute = 2).await;
    for i in 0..2 {
        let res = app
            .client
            .post(app.url("/api/v1/dossiers"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&request_with_phone(&format!("091234561{i}")))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201);
    }
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&request_with_phone("0912345619"))
        .send()
        .await
        .expect("request");
    assert_rate_limited(res).await;
    assert_eq!(app.dossier_count().await, 2);
    drop(app);

    // Trusted: each forwarded client has its own allowance, by the last hop.
    let app = TestApp::spawn_with(|s| {
        s.limits.public_writes_per_minute = 2;
        s.server.trusted_proxies = "10.9.9.9, 127.0.0.1".into();
    })
    .await;
    let post_from = |hops: &'static str, phone: &'static str| {
        app.client
            .post(app.url("/api/v1/dossiers"))
            .header("x-forwarded-for", hops)
            .json(&request_with_phone(phone))
            .send()
    };
    assert_eq!(
        post_from("198.51.100.7, 203.0.113.1", "0912345620")
            .await
            .expect("request")
            .status(),
        201
    );
    assert_eq!(
        post_from("203.0.113.1", "0912345621")
            .await
            .expect("request")
            .status(),
        201
    );
    assert_rate_limited(
        post_from("198.51.100.8, 203.0.113.1", "0912345622")
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        post_from("203.0.113.2", "0912345623")
            .await
            .expect("request")
            .status(),
        201
    );
    assert_eq!(app.dossier_count().await, 3);
}

#[tokio::test]
async fn a_trusted_proxy_reaching_a_dual_stack_socket_over_ipv4_is_still_trusted() {
    // Listening on `[::]`, an IPv4 peer is seen as `::ffff:127.0.0.1`; the proxy is listed as
    // `127.0.0.1`. Each forwarded client keeps its own allowance, and audit rows name it.
    let app = TestApp::spawn_with(|s| {
        s.server.bind = "[::]:0".into();
        s.limits.public_writes_per_minute = 1;
        s.server.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    for (i, client) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .iter()
        .enumerate()
    {
        let res = app
            .client
            .post(app.url("/api/v1/dossiers"))
            .header("x-forwarded-for", *client)
            .json(&request_with_phone(&format!("091234563{i}")))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "{client}: {:?}", res.text().await);
    }
    let admin = app.key(Role::Admin, None, None).await;
    let res = app
        .client
        .post(app.url("/api/v1/admin/holidays"))
        .bearer_auth(&admin)
        .header("x-forwarded-for", "198.51.100.44")
        .json(&json!({"date": "2027-02-05", "name": "Tết Nguyên Đán"}))
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{:?}", res.text().await);
    let trail = json_with_key(&app, "/api/v1/admin/audit?limit=500", &admin).await;
    let holiday = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "holiday.create")
        .expect("the holiday's creation is in the trail");
    assert_eq!(holiday["client_ip"], "198.51.100.44");
}

#[tokio::test]
async fn an_ipv6_client_is_counted_by_its_64_network() {
    let app = TestApp::spawn_with(|s| {
        s.limits.public_reads_per_minute = 2;
        s.server.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let code = app.create_valid_dossier().await["code"]
        .as_str()
        .expect("code")
        .to_owned();
    let track_from = |client: &'static str| {
        app.client
            .get(app.url(&format!("/api/v1/track/{code}")))
            .header("x-forwarded-for", client)
            .send()
    };
    // Three addresses of one /64 share one allowance of two.
    assert_eq!(
        track_from("2001:db8:0:1::1")
            .await
            .expect("request")
            .status(),
        200
    );
    assert_eq!(
        track_from("2001:db8:0:1::2")
            .await
            .expect("request")
            .status(),
        200
    );
    assert_rate_limited(track_from("2001:db8:0:1:ffff::3").await.expect("request")).await;
    // The next /64 is another subscriber.
    assert_eq!(
        track_from("2001:db8:0:2::1")
            .await
            .expect("request")
            .status(),
        200
    );
}

#[tokio::test]
async fn a_citizens_token_buys_no_allowance_of_its_own() {
    let app = TestApp::spawn_with(|s| {
        s.limits.public_reads_per_minute = 3;
        s.limits.public_writes_per_minute = 2;
    })
    .await;
    // The pickup request is the client's first public write.
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code").to_owned();
    let token = created["access_token"].as_str().expect("token").to_owned();
    // Reads with the token (the dossier, its slip) count as the client's public reads.
    for path in [
        format!("/api/v1/dossiers/{code}"),
        format!("/api/v1/dossiers/{code}/slip.pdf"),
    ] {
        let res = app
            .client
            .get(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{path}");
    }
    assert_eq!(app.track(&code).await.status(), 200);
    assert_rate_limited(app.get_dossier(&code, Some(&token)).await).await;
    // Writes with the token count as its public writes: one left, then refused, nothing stored.
    let complain = || {
        app.client
            .post(app.url(&format!("/api/v1/dossiers/{code}/complaints")))
            .bearer_auth(&token)
            .json(&json!({"text": "Chưa thấy ai đến lấy hồ sơ"}))
            .send()
    };
    assert_eq!(complain().await.expect("request").status(), 201);
    assert_rate_limited(complain().await.expect("request")).await;
    let admin = app.key(Role::Admin, None, None).await;
    let open = json_with_key(&app, "/api/v1/complaints?status=open", &admin).await;
    assert_eq!(
        open["complaints"].as_array().map(Vec::len),
        Some(1),
        "{open}"
    );
}

#[tokio::test]
async fn staff_sign_in_attempts_and_the_request_form_over_the_limit_get_a_page() {
    let app = TestApp::spawn_with(|s| s.limits.public_writes_per_minute = 2).await;
    for _ in 0..2 {
        let res = app
            .client
            .post(app.url("/staff"))
            .form(&[("csrf", "x"), ("key", "dk_wrong")])
            .send()
            .await
            .expect("request");
        assert_ne!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let res = app
        .client
        .post(app.url("/staff"))
        .form(&[("csrf", "x"), ("key", "dk_wrong")])
        .send()
        .await
        .expect("request");
    assert_rate_limited_page(res).await;
    // The request form shares the client's allowance of public writes.
    let res = app
        .client
        .post(app.url("/"))
        .header(ACCEPT, "text/html")
        .form(&[("csrf", "x")])
        .send()
        .await
        .expect("request");
    assert_rate_limited_page(res).await;
    assert_eq!(app.dossier_count().await, 0);
}

/// Opens the sign-in page with `query` and returns the visitor's cookies and the form token.
async fn sign_in_form(app: &TestApp, query: &str) -> (String, String, String) {
    let res = app
        .client
        .get(app.url(&format!("/staff{query}")))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let cookies = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ");
    let html = res.text().await.expect("page");
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        html.find(&marker).map_or(String::new(), |at| {
            let start = at + marker.len();
            let end = html[start..].find('"').expect("end of the value") + start;
            html[start..end].to_owned()
        })
    };
    (cookies, field("csrf"), field("next"))
}

/// Signs in with `key` and `next` as posted, and returns where the answer leads.
async fn location_after_sign_in(app: &TestApp, key: &str, next: &str) -> String {
    let (cookies, csrf, _) = sign_in_form(app, "").await;
    let res = app
        .client
        .post(app.url("/staff"))
        .header(COOKIE, cookies)
        .form(&[("csrf", csrf.as_str()), ("key", key), ("next", next)])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "next {next:?}");
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a Location")
        .to_owned()
}

#[tokio::test]
async fn after_sign_in_next_leads_only_to_a_path_of_this_site() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    assert_eq!(
        location_after_sign_in(&app, &key, "/staff/scan").await,
        "/staff/scan"
    );
    for next in [
        "//example.org",
        "///example.org",
        "/\\example.org",
        "\\\\example.org",
        "\\/example.org",
        "/\t/example.org",
        "\t//example.org",
        "/\r\n/example.org",
        "/\n/example.org",
        "/\u{1}/example.org",
        "/\u{7f}/example.org",
        "/\u{85}/example.org",
        "https://example.org",
        "example.org",
        "%2F%2Fexample.org",
        "/%2F/example.org",
        "/%2f/example.org",
        "/%5Cexample.org",
        "/%5cexample.org",
        "/%09/example.org",
        "/%0D%0A/example.org",
        "/%00/example.org",
        "%252F%252Fexample.org",
        "/%252F/example.org",
        "/%255Cexample.org",
        "/%2509/example.org",
        "/%25252F/example.org",
    ] {
        assert_eq!(
            location_after_sign_in(&app, &key, next).await,
            "/staff",
            "next {next:?}"
        );
    }
    // The same through the sign-in page's own link: the form does not carry the foreign path on.
    for query in [
        "?next=%2F%09%2Fexample.org",
        "?next=%2F%2Fexample.org",
        "?next=%2F%255Cexample.org",
    ] {
        let (cookies, csrf, next) = sign_in_form(&app, query).await;
        let res = app
            .client
            .post(app.url("/staff"))
            .header(COOKIE, cookies)
            .form(&[
                ("csrf", csrf.as_str()),
                ("key", key.as_str()),
                ("next", next.as_str()),
            ])
            .send()
            .await
            .expect("request");
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("a Location")
            .to_owned();
        assert!(
            location.starts_with('/')
                && !location.starts_with("//")
                && !location.contains(['\\', '\t', '%']),
            "{query} led to {location:?}"
        );
    }
}

#[tokio::test]
async fn a_phone_has_at_most_five_open_pickup_requests_whatever_its_spelling() {
    let app = TestApp::spawn_with(|s| s.limits.open_requests_per_phone = 5).await;
    let mut codes = Vec::new();
    for phone in [
        "0912345678",
        "+84912345678",
        "0912 345 678",
        "84912345678",
        "0912.345.678",
    ] {
        let res = app.post_dossier(&request_with_phone(phone)).await;
        assert_eq!(res.status(), 201, "{phone}");
        let body: Value = res.json().await.expect("json");
        codes.push((
            body["code"].as_str().expect("code").to_owned(),
            body["access_token"].as_str().expect("token").to_owned(),
        ));
    }
    for phone in ["0912345678", "+84 912 345 678"] {
        let res = app.post_dossier(&request_with_phone(phone)).await;
        let retry = assert_rate_limited(res).await;
        assert!(retry >= 60, "Retry-After {retry}");
    }
    assert_eq!(app.dossier_count().await, 5);
    // Another phone is not held back.
    assert_eq!(
        app.post_dossier(&request_with_phone("0987654321"))
            .await
            .status(),
        201
    );
    // A staff-made return dossier is not a pickup request and is not counted.
    let agency = app.key(Role::Agency, None, Some("UBND-P-HOANKIEM")).await;
    let mut body = request_with_phone("0912345678");
    body["service_mode"] = json!("return");
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(&agency)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201);
    // Once one is cancelled, the phone may ask again.
    let (code, token) = &codes[0];
    assert_eq!(app.cancel(code, Some(token)).await.status(), 200);
    assert_eq!(
        app.post_dossier(&request_with_phone("0912345678"))
            .await
            .status(),
        201
    );
    assert_rate_limited(app.post_dossier(&request_with_phone("0912345678")).await).await;
    assert_eq!(app.dossier_count().await, 8);
}

#[tokio::test]
async fn ten_concurrent_requests_for_one_phone_make_exactly_five_dossiers() {
    let app = TestApp::spawn_with(|s| s.limits.open_requests_per_phone = 5).await;
    // Some with an Idempotency-Key, so both ways of writing a dossier meet.
    let requests = (0..10).map(|i| {
        let mut req = app
            .client
            .post(app.url("/api/v1/dossiers"))
            .json(&request_with_phone(if i % 2 == 0 {
                "0912345678"
            } else {
                "+84912345678"
            }));
        if i % 3 == 0 {
            req = req.header("Idempotency-Key", format!("concurrent-{i}"));
        }
        req.send()
    });
    let answers = futures_util::future::join_all(requests).await;
    let mut created = 0;
    let mut refused = 0;
    for res in answers {
        let res = res.expect("request");
        match res.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_rate_limited(res).await;
                refused += 1;
            }
            other => panic!("unexpected {other}: {:?}", res.text().await),
        }
    }
    assert_eq!((created, refused), (5, 5));
    assert_eq!(app.dossier_count().await, 5);
}

/// Renames a reference record (`agencies` or `procedures`) by code, as an administrator would.
async fn rename(app: &TestApp, admin: &str, kind: &str, code: &str, name: &str) {
    let list: Vec<Value> = app
        .client
        .get(app.url(&format!("/api/v1/admin/{kind}")))
        .bearer_auth(admin)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let mut record = list
        .into_iter()
        .find(|r| r["code"] == code)
        .expect("the record");
    record["name"] = json!(name);
    let res = app
        .client
        .post(app.url(&format!("/api/v1/admin/{kind}")))
        .bearer_auth(admin)
        .json(&record)
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{:?}", res.text().await);
}

#[tokio::test]
async fn csv_text_cells_that_a_spreadsheet_would_run_begin_with_a_quote() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    rename(
        &app,
        &admin,
        "agencies",
        "UBND-P-HOANKIEM",
        "=HYPERLINK(\"http://example.org\")",
    )
    .await;
    rename(&app, &admin, "procedures", "1.001612", "-2+3").await;
    app.create_valid_dossier().await;
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(30);
    let to = today + chrono::Days::new(1);
    let res = app
        .client
        .get(app.url(&format!("/api/v1/reports/summary?from={from}&to={to}")))
        .bearer_auth(&admin)
        .header(ACCEPT, "text/csv")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("\"'=HYPERLINK(\"\"http://example.org\"\")\""),
        "the agency's name is neutralised: {body}"
    );
    assert!(
        body.contains(",'-2+3,"),
        "the procedure's name is neutralised: {body}"
    );
    for line in body.lines() {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches(['"', '\u{feff}']);
            assert!(
                !cell.starts_with(['=', '+', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {line}"
            );
        }
    }
}

/// `GET {base}/metrics` with an optional bearer token.
async fn scrape(client: &reqwest::Client, base: &str, token: Option<&str>) -> Response {
    let mut req = client.get(format!("{base}/metrics"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("scrape")
}

#[tokio::test]
async fn metrics_need_the_bearer_token_when_one_is_set_on_the_server_and_the_worker() {
    const TOKEN: &str = "scrape-me-7c1f0a9e";
    let app = TestApp::spawn_with(|s| s.metrics.token = Some(TOKEN.to_owned().into())).await;
    let probes = api::probes::Probes::bind("127.0.0.1:0", app.store.clone())
        .await
        .expect("bind the probes")
        .with_metrics_token(Some(TOKEN.to_owned().into()));
    let worker_base = format!("http://127.0.0.1:{}", probes.port().expect("port"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let probes = tokio::spawn(probes.run_until(async move {
        let _ = stopped.await;
    }));
    for base in [app.base_url.as_str(), worker_base.as_str()] {
        for wrong in [
            None,
            Some("scrape-me"),
            Some("scrape-me-7c1f0a9e-and-more"),
            Some(""),
        ] {
            let res = scrape(&app.client, base, wrong).await;
            assert_eq!(res.status(), 401, "{base} with {wrong:?}");
            assert_eq!(error_of(res).await.0, "unauthorized");
        }
        let res = scrape(&app.client, base, Some(TOKEN)).await;
        assert_eq!(res.status(), 200, "{base}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with("text/plain")
        );
    }
    let _ = stop.send(());
    let _ = probes.await;

    // Without a token the metrics stay open, as before.
    let open = TestApp::spawn().await;
    assert_eq!(
        scrape(&open.client, &open.base_url, None).await.status(),
        200
    );
}

/// The `rel="next"` target of a `Link` header, if any.
fn next_link(res: &Response) -> Option<String> {
    let link = res.headers().get("link")?.to_str().ok()?;
    let (target, rel) = link.split_once(';')?;
    assert_eq!(rel.trim(), "rel=\"next\"");
    Some(
        target
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned(),
    )
}

/// Makes `n` pickup requests, each with its own phone, and returns their codes in order.
async fn make_requests(app: &TestApp, n: usize) -> Vec<String> {
    let mut codes = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(20) {
        let answers = futures_util::future::join_all(chunk.iter().map(|i| {
            app.client
                .post(app.url("/api/v1/dossiers"))
                .json(&request_with_phone(&format!("09{:08}", i)))
                .send()
        }))
        .await;
        for res in answers {
            let res = res.expect("request");
            assert_eq!(res.status(), 201);
            let body: Value = res.json().await.expect("json");
            codes.push(body["code"].as_str().expect("code").to_owned());
        }
    }
    codes
}

/// Follows the worklist's pages from `first` and returns the codes of each page.
async fn walk_pickups(app: &TestApp, key: &str, first: String) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let res = app
            .client
            .get(&url)
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
        next = next_link(&res);
        if let Some(next) = &next {
            assert!(
                next.contains("limit="),
                "the next page keeps the limit: {next}"
            );
            if url.contains("status=") {
                assert!(
                    next.contains("status="),
                    "the next page keeps the status: {next}"
                );
            }
        }
        let items: Vec<Value> = res.json().await.expect("json");
        pages.push(
            items
                .iter()
                .map(|i| i["code"].as_str().expect("code").to_owned())
                .collect(),
        );
        assert!(pages.len() < 100, "the pages never end");
    }
    pages
}

#[tokio::test]
async fn the_pickup_worklist_comes_in_pages_that_reach_every_request() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let codes = make_requests(&app, 103).await;
    let mut all: Vec<String> = Vec::new();

    // The default page is 100 requests, then the rest.
    let pages = walk_pickups(&app, &key, app.url("/api/v1/pickups")).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 3]);
    for page in &pages {
        all.extend(page.iter().cloned());
    }
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 103, "no request twice, none missing");
    let mut expected = codes.clone();
    expected.sort();
    assert_eq!(sorted, expected);

    // Smaller pages, with a status, oldest first and the same requests in the same order.
    let pages = walk_pickups(
        &app,
        &key,
        app.url("/api/v1/pickups?status=pickup_requested&limit=7"),
    )
    .await;
    assert_eq!(pages.len(), 15);
    assert!(pages[..14].iter().all(|p| p.len() == 7));
    assert_eq!(pages[14].len(), 5);
    assert_eq!(pages.concat(), all);

    // One page of the largest size holds them all.
    let first_page = walk_pickups(&app, &key, app.url("/api/v1/pickups?limit=500")).await;
    assert_eq!(first_page, vec![all.clone()]);
}

#[tokio::test]
async fn a_pickup_page_size_out_of_range_or_a_foreign_cursor_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    for query in [
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=ten",
        "after=nonsense",
        "after=1_x",
    ] {
        let res = app
            .client
            .get(app.url(&format!("/api/v1/pickups?{query}")))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(error_of(res).await.0, "bad_request", "{query}");
    }
    for query in ["limit=1", "limit=500"] {
        let res = app
            .client
            .get(app.url(&format!("/api/v1/pickups?{query}")))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{query}");
    }
}

/// `GET /api/v1/reports/summary?{query}` as an administrator.
async fn summary(app: &TestApp, admin: &str, query: &str) -> Response {
    app.client
        .get(app.url(&format!("/api/v1/reports/summary?{query}")))
        .bearer_auth(admin)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_report_period_over_five_years_is_refused_on_its_field() {
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    for query in [
        "from=2020-01-01&to=2025-01-01",
        "from=1970-01-01&to=9998-12-31",
    ] {
        let res = summary(&app, &admin, query).await;
        assert_eq!(res.status(), 422, "{query}");
        let (code, fields) = error_of(res).await;
        assert_eq!(code, "validation_failed");
        assert_eq!(fields, ["to"]);
    }
    let res = summary(&app, &admin, "from=2020-01-01&to=2024-12-31").await;
    assert_eq!(res.status(), 200, "five years exactly");
}

#[tokio::test]
async fn a_report_that_runs_out_of_time_is_stopped_with_a_clear_answer() {
    // No time at all: any report that has to wait for its database runs out of time.
    let app = TestApp::spawn_with(|s| s.limits.report_timeout_ms = 0).await;
    let admin = app.key(Role::Admin, None, None).await;
    make_requests(&app, 5).await;
    let started = std::time::Instant::now();
    let res = summary(&app, &admin, "period=2026").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_rate_limited(res).await;
    // The service goes on answering.
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_fees_report_keeps_the_report_limits_too() {
    let app = TestApp::spawn_with(|s| s.limits.report_timeout_ms = 0).await;
    let admin = app.key(Role::Admin, None, None).await;
    make_requests(&app, 3).await;
    let res = app
        .client
        .get(app.url("/api/v1/reports/fees?period=2026"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert_rate_limited(res).await;
    drop(app);

    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let res = app
        .client
        .get(app.url("/api/v1/reports/fees?period=2026"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn on_postgresql_a_report_whose_statements_wait_too_long_is_cancelled_with_a_clear_answer() {
    if tests::test_database_url().is_none() {
        return;
    }
    let app = TestApp::spawn_with(|s| s.limits.report_timeout_ms = 300).await;
    let admin = app.key(Role::Admin, None, None).await;
    make_requests(&app, 3).await;
    // Another session holds the dossiers table: the report's statements cannot run.
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let blocker = app.store.write.begin().await.expect("begin");
    blocker
        .execute_unprepared("LOCK TABLE dossiers IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let started = std::time::Instant::now();
    let res = summary(&app, &admin, "period=2026").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_rate_limited(res).await;
    blocker.rollback().await.expect("rollback");
    // Once the table is free, the same report is made.
    assert_eq!(summary(&app, &admin, "period=2026").await.status(), 200);
}

#[tokio::test]
async fn on_postgresql_a_request_waiting_on_a_stuck_sessions_lock_is_answered_and_changes_nothing()
{
    if tests::test_database_url().is_none() {
        return;
    }
    let app = TestApp::spawn_with(|s| s.database.lock_timeout_ms = 300).await;
    // Another session holds the dossiers table, as a stuck transaction would.
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let blocker = app.store.write.begin().await.expect("begin");
    blocker
        .execute_unprepared("LOCK TABLE dossiers IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let started = std::time::Instant::now();
    let res = app.post_dossier(&request_with_phone("0912345640")).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().get(RETRY_AFTER).is_some());
    assert_eq!(error_of(res).await.0, "unavailable");
    blocker.rollback().await.expect("rollback");
    // Nothing was stored, and once the lock is gone the same request goes in.
    assert_eq!(app.dossier_count().await, 0);
    let res = app.post_dossier(&request_with_phone("0912345640")).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn reports_beyond_those_allowed_at_once_wait_for_a_turn_then_are_refused() {
    // No waiting: reports that arrive while one runs are refused.
    let app = TestApp::spawn_with(|s| {
        s.limits.reports_at_once = 1;
        s.limits.report_wait_secs = 0;
    })
    .await;
    let admin = app.key(Role::Admin, None, None).await;
    make_requests(&app, 20).await;
    let answers =
        futures_util::future::join_all((0..16).map(|_| summary(&app, &admin, "period=2026"))).await;
    let mut made = 0;
    let mut refused = 0;
    for res in answers {
        match res.status() {
            StatusCode::OK => made += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_rate_limited(res).await;
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(made >= 1 && refused >= 1, "made {made}, refused {refused}");
    drop(app);

    // Waiting for a turn: every report is made, two at a time.
    let app = TestApp::spawn().await;
    let admin = app.key(Role::Admin, None, None).await;
    let answers =
        futures_util::future::join_all((0..8).map(|_| summary(&app, &admin, "period=2026"))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::OK));
}

#[tokio::test]
async fn a_connection_that_does_not_finish_its_headers_in_time_is_closed_while_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|s| s.server.header_timeout_secs = 1).await;
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    // Meanwhile the service answers others.
    for _ in 0..3 {
        let res = app
            .client
            .get(app.url("/health/live"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
    }
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        slow.read_to_end(&mut buf),
    )
    .await
    .expect("the half-sent request's connection is closed, not left open");
    let elapsed = started.elapsed();
    assert!(
        read.is_err() || !String::from_utf8_lossy(&buf).contains("200 OK"),
        "no answer to half a request: {:?}",
        String::from_utf8_lossy(&buf)
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(800)
            && elapsed < std::time::Duration::from_secs(5),
        "closed after {elapsed:?}"
    );
    // A whole request on a fresh connection is still answered.
    let mut quick = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    quick
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    quick.read_to_end(&mut answer).await.expect("read");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_outlives_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// Sends one request on `conn` and reads its whole answer (by its `Content-Length`).
    async fn ask(conn: &mut tokio::net::TcpStream) -> String {
        conn.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut chunk))
                .await
                .expect("an answer in time")
                .expect("read");
            assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().expect("length"))
                    })
                    .expect("content-length");
                if body.len() >= length {
                    return text;
                }
            }
        }
    }
    let app = TestApp::spawn_with(|s| s.server.header_timeout_secs = 1).await;
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    assert!(ask(&mut conn).await.starts_with("HTTP/1.1 200"));
    // Idle for longer than the header timeout: kept open (idle connections last 60 s) and reused.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(ask(&mut conn).await.starts_with("HTTP/1.1 200"));
    // A request begun on it and left unfinished is closed after the header timeout all the same.
    conn.write_all(b"GET /health/live HTTP/1.1\r\nX-Slow: ")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut rest),
    )
    .await
    .expect("closed, not left open");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(800)
            && elapsed < std::time::Duration::from_secs(5),
        "closed after {elapsed:?}"
    );
}

#[tokio::test]
async fn a_large_body_is_read_only_for_a_request_carrying_what_its_route_asks_for() {
    const SECRET: &str = "carrier-push-secret-for-limits";
    let app = TestApp::spawn_with(|s| {
        s.carrier.webhook_secret = Some(SECRET.to_owned().into());
    })
    .await;
    // Well over the JSON limit, well under the batch's and the push's.
    let scans: Vec<Value> = (0..400)
        .map(|i| {
            json!({"scan_id": format!("00000000-0000-4000-8000-{i:012}"),
                        "item_code": "EB000717595VN", "event": "arrived",
                        "at": "2026-12-01T09:15:00+07:00", "location": "x".repeat(200)})
        })
        .collect();
    let batch = serde_json::to_vec(&json!({ "scans": scans })).expect("json");
    assert!(batch.len() > 64 * 1024);
    let send = |path: &'static str, body: Vec<u8>, headers: Vec<(&'static str, String)>| {
        let mut req = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.send()
    };
    // Without an API key the batch gets no more than any JSON body: refused for its size.
    let res = send("/api/v1/scans/batch", batch.clone(), vec![])
        .await
        .expect("request");
    assert_eq!(res.status(), 413);
    assert_eq!(error_of(res).await.0, "payload_too_large");
    let res = send(
        "/api/v1/scans/batch",
        batch.clone(),
        vec![("authorization", "Bearer dt_not_a_key".to_owned())],
    )
    .await
    .expect("request");
    assert_eq!(res.status(), 413);
    // With a key it is read, and the route answers for the key (unknown here).
    let res = send(
        "/api/v1/scans/batch",
        batch,
        vec![("authorization", "Bearer dk_unknown".to_owned())],
    )
    .await
    .expect("request");
    assert_eq!(res.status(), 401);
    // A push without the carrier's signature header: the JSON limit.
    let push = serde_json::to_vec(&json!({
        "content": (0..300).map(carrier_record).collect::<Vec<_>>()
    }))
    .expect("json");
    assert!(push.len() > 64 * 1024);
    let res = send("/api/v1/carrier/events", push.clone(), vec![])
        .await
        .expect("request");
    assert_eq!(res.status(), 413);
    let signature = domain::ops::carrier_ingest::push_signature(SECRET.as_bytes(), &push);
    let res = send(
        "/api/v1/carrier/events",
        push,
        vec![("x-dossier-signature", signature)],
    )
    .await
    .expect("request");
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

/// A carrier record of realistic size, for an item nobody knows.
fn carrier_record(id: i64) -> Value {
    json!({
        "id": id,
        "customerCode": "C0012345",
        "orderNumber": format!("ORD-{id:010}"),
        "itemCode": format!("EZ{:08}9VN", id % 100_000_000),
        "eventTime": "2026-12-01T09:15:00+07:00",
        "posId": "100000",
        "statusCode": 7,
        "statusMessage": "Đã nhận hàng tại bưu cục gốc — Bưu cục Hoàn Kiếm, Hà Nội",
        "notes": "Khách hàng gửi tại quầy; bưu tá đã kiểm tra niêm phong, số lượng và khối lượng bưu gửi"
    })
}

#[tokio::test]
async fn a_carrier_push_as_large_as_it_may_be_is_taken_and_a_larger_one_is_refused() {
    const SECRET: &str = "carrier-push-secret-for-limits";
    let app = TestApp::spawn_with(|s| {
        s.carrier.webhook_secret = Some(SECRET.to_owned().into());
    })
    .await;
    let push = |records: Vec<Value>| {
        let body = serde_json::to_vec(&json!({ "content": records })).expect("json");
        let signature = domain::ops::carrier_ingest::push_signature(SECRET.as_bytes(), &body);
        app.client
            .post(app.url("/api/v1/carrier/events"))
            .header("content-type", "application/json")
            .header("X-Dossier-Signature", signature)
            .body(body)
            .send()
    };
    let most = api::limits::MAX_PUSH_RECORDS;
    // The most records, each of realistic size: far more than a JSON body's 64 KiB.
    let res = push((0..most as i64).map(carrier_record).collect())
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    // One record more is refused, whatever its size.
    let res = push(
        (0..=most as i64)
            .map(|i| carrier_record(i + 1_000_000))
            .collect(),
    )
    .await
    .expect("request");
    assert_eq!(res.status(), 413);
    assert_eq!(error_of(res).await.0, "payload_too_large");
    // And a body over the push's limit is refused before it is read.
    let padded: Vec<Value> = (0..most as i64)
        .map(|i| {
            let mut r = carrier_record(i + 2_000_000);
            r["notes"] = json!("x".repeat(api::limits::MAX_PUSH_RECORD_BYTES));
            r
        })
        .collect();
    let res = push(padded).await.expect("request");
    assert_eq!(res.status(), 413);
    assert_eq!(error_of(res).await.0, "payload_too_large");
}
