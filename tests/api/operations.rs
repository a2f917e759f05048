//! Health, the OpenAPI document, docs, reference data and the envelope of unknown routes.

use serde_json::Value;
use tests::{TestApp, error_of};

#[tokio::test]
async fn health_probes_answer() {
    let app = TestApp::spawn().await;
    for path in ["/health/live", "/health/ready"] {
        let res = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(res.status(), 200, "{path}");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["status"], "ok");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_contract() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let spec: Value = res.json().await.expect("json");
    let paths = spec["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/agencies",
        "/api/v1/procedures",
        "/api/v1/offices",
        "/api/v1/dossiers",
        "/api/v1/dossiers/{code}",
        "/api/v1/dossiers/{code}/cancel",
        "/api/v1/track/{code}",
        "/health/live",
        "/health/ready",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
    let res = app
        .client
        .get(app.url("/docs"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn reference_data_lists_agencies_procedures_with_documents_and_offices() {
    let app = TestApp::spawn().await;
    let agencies: Value = app
        .client
        .get(app.url("/api/v1/agencies"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(
        agencies
            .as_array()
            .expect("array")
            .iter()
            .any(|a| a["code"] == "UBND-P-HOANKIEM")
    );
    let procedures: Value = app
        .client
        .get(app.url("/api/v1/procedures?agency=SO-TP-HANOI"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let procedures = procedures.as_array().expect("array");
    assert_eq!(procedures.len(), 1);
    assert_eq!(procedures[0]["code"], "2.000488");
    assert_eq!(procedures[0]["admin_fee_vnd"], 200_000);
    assert!(procedures[0]["documents"].as_array().expect("docs").len() >= 2);
    let offices: Value = app
        .client
        .get(app.url("/api/v1/offices"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(
        offices
            .as_array()
            .expect("array")
            .iter()
            .any(|o| o["code"] == "100000")
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(error_of(res).await.0, "not_found");
    let res = app
        .client
        .delete(app.url("/api/v1/agencies"))
        .send()
        .await
        .expect("request");
    assert!(res.status().is_client_error());
    let (code, _) = error_of(res).await;
    assert!(!code.is_empty());
}
