//! Required documents (Decision 45 Art. 6, 16): each document on a procedure's published list has a
//! code and a `required` flag; a pickup request must list every required document (by code or by its
//! exact name), and the post takes no document the procedure does not list.

use serde_json::{Value, json};
use tests::{TestApp, valid_request};

use crate::postal::{get, json_of};

/// Đăng ký khai sinh: both documents are required.
const BIRTH: &str = "1.001193";

fn birth_request(documents: Value) -> Value {
    let mut body = valid_request();
    body["procedure_code"] = BIRTH.into();
    body["documents"] = documents;
    body
}

async fn refusal_details(res: reqwest::Response) -> Vec<Value> {
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "validation_failed");
    body["error"]["details"]
        .as_array()
        .expect("details")
        .clone()
}

#[tokio::test]
async fn procedures_give_each_document_a_code_and_whether_it_is_required() {
    let app = TestApp::spawn().await;
    let list = json_of(get(&app, "/api/v1/procedures", None).await, 200).await;
    let birth = list
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["code"] == BIRTH)
        .cloned()
        .expect("birth registration");
    let docs = birth["documents"].as_array().expect("documents");
    assert_eq!(docs[0]["code"], "1.001193-01");
    assert_eq!(docs[0]["required"], true);
    assert_eq!(docs[1]["name"], "Giấy chứng sinh");
    assert_eq!(docs[1]["required"], true);
    assert!(docs.iter().all(|d| d["original_required"].is_boolean()));
}

#[tokio::test]
async fn a_request_missing_required_documents_names_each_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let res = app
        .post_dossier(&birth_request(
            json!([{"name": "Bản sao sổ hộ khẩu", "original": false, "copies": 1}]),
        ))
        .await;
    let details = refusal_details(res).await;
    let missing: Vec<&Value> = details
        .iter()
        .filter(|d| d["field"] == "documents")
        .collect();
    assert_eq!(missing.len(), 2, "{details:?}");
    assert!(
        missing[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Tờ khai đăng ký khai sinh"))
    );
    assert!(
        missing[1]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Giấy chứng sinh"))
    );
    // The unlisted document is refused on its own field: the post takes listed documents only.
    assert!(
        details.iter().any(|d| d["field"] == "documents[0].name"),
        "{details:?}"
    );

    let res = app
        .post_dossier(&birth_request(json!([
            {"name": "Tờ khai đăng ký khai sinh", "original": true, "copies": 1}
        ])))
        .await;
    let details = refusal_details(res).await;
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0]["field"], "documents");
    assert!(
        details[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Giấy chứng sinh"))
    );
    assert_eq!(app.dossier_count().await, 0);
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn required_documents_may_be_named_by_code_or_by_exact_name() {
    let app = TestApp::spawn().await;
    let created = json_of(
        app.post_dossier(&birth_request(json!([
            {"code": "1.001193-01", "original": true, "copies": 1},
            {"name": "Giấy chứng sinh", "original": true, "copies": 0}
        ])))
        .await,
        201,
    )
    .await;
    let token = created["access_token"].as_str().expect("token");
    let d = json_of(
        app.get_dossier(created["code"].as_str().expect("code"), Some(token))
            .await,
        200,
    )
    .await;
    assert_eq!(d["documents"][0]["name"], "Tờ khai đăng ký khai sinh");
    assert_eq!(d["documents"][1]["name"], "Giấy chứng sinh");

    // A code the procedure does not list is refused on that field.
    let res = app
        .post_dossier(&birth_request(json!([
            {"code": "1.001193-01", "original": true, "copies": 1},
            {"name": "Giấy chứng sinh", "original": true, "copies": 0},
            {"code": "1.001193-09", "original": true, "copies": 0}
        ])))
        .await;
    let details = refusal_details(res).await;
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0]["field"], "documents[2].code");
    assert_eq!(app.dossier_count().await, 1);
}
