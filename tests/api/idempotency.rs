//! `Idempotency-Key`: the same key and body give one dossier and the same answer; another body is 409.

use serde_json::Value;
use tests::{TestApp, error_of, valid_request};

#[tokio::test]
async fn the_same_key_twice_gives_one_dossier_and_the_same_answer() {
    let app = TestApp::spawn().await;
    let body = valid_request();
    let first = app.post_dossier_with_key(&body, "retry-7f3a").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    let second = app.post_dossier_with_key(&body, "retry-7f3a").await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.expect("json");
    assert_eq!(first, second);
    assert_eq!(app.dossier_count().await, 1);
    // The replayed token still opens the dossier.
    let code = second["code"].as_str().expect("code");
    let token = second["access_token"].as_str().expect("token");
    assert_eq!(app.get_dossier(code, Some(token)).await.status(), 200);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_conflict() {
    let app = TestApp::spawn().await;
    let body = valid_request();
    assert_eq!(app.post_dossier_with_key(&body, "k-1").await.status(), 201);
    let mut other = valid_request();
    other["applicant"]["full_name"] = "Trần Thị Bình".into();
    let res = app.post_dossier_with_key(&other, "k-1").await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_of(res).await.0, "conflict");
    assert_eq!(app.dossier_count().await, 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_dossier() {
    let app = TestApp::spawn().await;
    let body = valid_request();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let url = app.url("/api/v1/dossiers");
        let body = body.clone();
        handles.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .header("Idempotency-Key", "race-1")
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = res.status().as_u16();
            let json: Value = res.json().await.expect("json");
            (status, json)
        }));
    }
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.expect("task"));
    }
    assert!(answers.iter().all(|(s, _)| *s == 201), "{answers:?}");
    assert!(answers.windows(2).all(|w| w[0].1 == w[1].1));
    assert_eq!(app.dossier_count().await, 1);
}

#[tokio::test]
async fn a_failed_request_does_not_use_up_its_key() {
    let app = TestApp::spawn().await;
    let mut bad = valid_request();
    bad["applicant"]["phone"] = "x".into();
    assert_eq!(app.post_dossier_with_key(&bad, "k-2").await.status(), 422);
    assert_eq!(
        app.post_dossier_with_key(&valid_request(), "k-2")
            .await
            .status(),
        201
    );
}
