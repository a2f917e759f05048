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
    for path in &paths {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::PATCH,
        ] {
            let res = app
                .client
                .request(method.clone(), app.url(path))
                .header("authorization", "Bearer dk_\u{7f}")
                .send()
                .await;
            let Ok(res) = res else { continue };
            assert!(
                res.status().as_u16() < 500,
                "{method} {path} answered {}",
                res.status()
            );
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
