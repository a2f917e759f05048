//! No request of any shape makes the server answer 500 or fall over: random bytes, huge bodies, invalid
//! UTF-8, odd paths and headers. Every refusal uses the envelope.

use rand::{Rng, SeedableRng, rngs::StdRng};
use tests::{TestApp, error_of};

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.random()).collect()
}

#[tokio::test]
async fn random_bodies_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    let mut rng = StdRng::seed_from_u64(45_2016);
    let json = "application/json";
    for i in 0..200 {
        let len = rng.random_range(0..2048);
        let mut body = random_bytes(&mut rng, len);
        if i % 3 == 0 {
            // Mostly-JSON shapes with junk inside.
            body = format!(
                "{{\"procedure_code\": \"{}\", \"applicant\": {{\"phone\": {}}}}}",
                i,
                rng.random::<i64>()
            )
            .into_bytes();
            let cut = rng.random_range(0..body.len());
            body.truncate(cut);
        }
        for path in ["/api/v1/dossiers", "/api/v1/dossiers/ABCDE-FGHJK/cancel"] {
            let res = app
                .client
                .post(app.url(path))
                .header("content-type", json)
                .body(body.clone())
                .send()
                .await
                .expect("request");
            let status = res.status();
            assert!(
                status.is_client_error(),
                "{path} answered {status} to body #{i}"
            );
            let (code, _) = error_of(res).await;
            assert!(!code.is_empty());
        }
    }
    assert_eq!(app.dossier_count().await, 0);
    // Still serving.
    assert_eq!(
        app.client
            .get(app.url("/health/ready"))
            .send()
            .await
            .expect("request")
            .status(),
        200
    );
}

#[tokio::test]
async fn invalid_utf8_inside_json_strings_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let mut body = tests::valid_request().to_string().into_bytes();
    let at = body
        .windows(6)
        .position(|w| w == b"Nguy\xe1\xbb")
        .expect("name");
    body[at + 4] = 0xff;
    body[at + 5] = 0xfe;
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 400);
    assert_eq!(error_of(res).await.0, "bad_request");
    assert_eq!(app.dossier_count().await, 0);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_or_without_content_length() {
    let app = TestApp::spawn().await;
    let huge = format!("{{\"procedure_code\": \"{}\"}}", "x".repeat(70 * 1024));
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 413);
    assert_eq!(error_of(res).await.0, "payload_too_large");

    // Chunked, no Content-Length: 8 MiB streamed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..128).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let stream = futures_util::stream::iter(chunks);
    let res = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status(), 413);
        assert_eq!(error_of(res).await.0, "payload_too_large");
    }
    assert_eq!(app.dossier_count().await, 0);
}

#[tokio::test]
async fn odd_paths_headers_and_methods_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    let mut rng = StdRng::seed_from_u64(17_2017);
    let mut paths: Vec<String> = vec![
        "/api/v1/dossiers/%FF%FE".into(),
        "/api/v1/track/%00".into(),
        "/api/v1/track/".into(),
        "/api/v1/track/ĐĐĐĐĐ-ĐĐĐĐĐ".into(),
        "/api/v1/dossiers/..%2F..%2Fetc%2Fpasswd".into(),
        format!("/api/v1/track/{}", "A".repeat(5000)),
        "/api/v1/procedures?agency=%FF".into(),
        "/api/v1/procedures?agency=".into(),
    ];
    for _ in 0..50 {
        let len = rng.random_range(1..40);
        let seg: String = (0..len)
            .map(|_| char::from(rng.random_range(0x21u8..0x7f)))
            .filter(|c| !matches!(c, '#' | '?' | '/' | '%'))
            .collect();
        paths.push(format!("/api/v1/track/{seg}"));
        paths.push(format!("/api/v1/dossiers/{seg}"));
    }
    // Sent as raw bytes: an HTTP client library refuses to send such headers at all. The values are
    // bytes a header may carry (obs-text) that are not text.
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let mut answered = 0;
    for path in &paths {
        let url = reqwest::Url::parse(&app.url(path)).expect("url");
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let mut request = format!("{method} {target} HTTP/1.1\r\nHost: x\r\n").into_bytes();
            request.extend_from_slice(b"Authorization: Bearer dk_\xff\xfe\x80\r\n");
            request.extend_from_slice(b"Cookie: dossier_session=\xc3\x28; dossier_lang=\xff\r\n");
            request.extend_from_slice(b"Idempotency-Key: \xe2\x82\r\n");
            request.extend_from_slice(b"Content-Type: application/json; charset=\xff\r\n");
            request.extend_from_slice(b"Content-Length: 2\r\nConnection: close\r\n\r\n{}");
            let status = raw_status(&addr, &request).await;
            assert!(
                (200..500).contains(&status),
                "{method} {path} with odd header bytes answered {status}"
            );
            answered += 1;
        }
        let res = app.client.get(app.url(path)).send().await;
        if let Ok(res) = res {
            assert!(
                res.status().as_u16() < 500,
                "GET {path} answered {}",
                res.status()
            );
        }
    }
    assert_eq!(answered, paths.len() * 5, "every odd request was answered");
    assert_eq!(
        app.client
            .get(app.url("/health/live"))
            .send()
            .await
            .expect("request")
            .status(),
        200
    );
}

/// Sends `request` on a fresh connection and returns the status code of the answer.
async fn raw_status(addr: &str, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await
    .expect("an answer in time")
    .expect("read");
    let head = String::from_utf8_lossy(&answer);
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

/// A method a path does not take: 405 in the envelope, with the methods the path does take in `Allow`
/// (RFC 9110 §15.5.6), for a fixed path and for one with a parameter.
#[tokio::test]
async fn a_method_a_path_does_not_take_is_answered_405_with_the_methods_it_does() {
    let app = TestApp::spawn().await;
    for (path, allowed) in [
        ("/api/v1/dossiers", "POST"),
        ("/api/v1/track/ABCDE-FGHJK", "GET, HEAD"),
    ] {
        let res = app
            .client
            .delete(app.url(path))
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), 405, "{path}");
        let allow = res
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(allow.as_deref(), Some(allowed), "{path}");
        assert_eq!(error_of(res).await.0, "bad_request", "{path}");
    }
}
