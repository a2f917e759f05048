//! `Idempotency-Key`: the same key and body give one dossier and the same answer; another body is 409.

use serde_json::{Value, json};
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

#[tokio::test]
async fn many_requests_at_once_each_get_their_own_dossier_and_shared_keys_one() {
    let app = TestApp::spawn().await;
    let mut handles = Vec::new();
    for i in 0..48 {
        let client = app.client.clone();
        let url = app.url("/api/v1/dossiers");
        let mut body = valid_request();
        body["applicant"]["full_name"] = json!(format!("Người nộp {i}"));
        // Every fourth request retries one shared key with the same body.
        let key = if i % 4 == 0 {
            body["applicant"]["full_name"] = json!("Người nộp chung");
            "shared-key".to_owned()
        } else {
            format!("own-key-{i}")
        };
        handles.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .header("Idempotency-Key", key.clone())
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = res.status().as_u16();
            let json: Value = res.json().await.expect("json");
            (key, status, json)
        }));
    }
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.expect("task"));
    }
    assert!(answers.iter().all(|(_, s, _)| *s == 201), "{answers:?}");
    let shared: Vec<&Value> = answers
        .iter()
        .filter(|(k, _, _)| k == "shared-key")
        .map(|(_, _, j)| j)
        .collect();
    assert_eq!(shared.len(), 12);
    assert!(
        shared.windows(2).all(|w| w[0] == w[1]),
        "one answer per key"
    );
    let codes: std::collections::HashSet<&str> = answers
        .iter()
        .map(|(_, _, j)| j["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes.len(), 37, "36 own keys and one shared");
    assert_eq!(app.dossier_count().await, 37);
    for (key, _, answer) in &answers {
        let code = answer["code"].as_str().expect("code");
        let token = answer["access_token"].as_str().expect("token");
        let res = app.get_dossier(code, Some(token)).await;
        assert_eq!(res.status(), 200, "{key}");
        let dossier: Value = res.json().await.expect("json");
        let expected = if key == "shared-key" {
            "Người nộp chung".to_owned()
        } else {
            format!("Người nộp {}", key.trim_start_matches("own-key-"))
        };
        assert_eq!(dossier["applicant"]["full_name"], expected.as_str());
    }

    // A wave with no shared key: written together, each with its own code and token.
    let mut handles = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = app.url("/api/v1/dossiers");
        let mut body = valid_request();
        body["applicant"]["full_name"] = json!(format!("Đợt hai {i}"));
        handles.push(tokio::spawn(async move {
            let res = client.post(url).json(&body).send().await.expect("request");
            assert_eq!(res.status(), 201);
            (i, res.json::<Value>().await.expect("json"))
        }));
    }
    for h in handles {
        let (i, answer) = h.await.expect("task");
        let res = app
            .get_dossier(
                answer["code"].as_str().expect("code"),
                answer["access_token"].as_str(),
            )
            .await;
        assert_eq!(res.status(), 200);
        let dossier: Value = res.json().await.expect("json");
        assert_eq!(
            dossier["applicant"]["full_name"],
            format!("Đợt hai {i}").as_str()
        );
    }
    assert_eq!(app.dossier_count().await, 37 + 24);
}
