//! The citizens' request form in a browser: errors beside their fields, what was typed kept, nothing
//! stored until the request is valid; choosing the agency, then the procedure, shows its documents.

use tests::TestApp;

use crate::browser::Browser;

const AGENCY: &str = "UBND-P-HOANKIEM";
const PROCEDURE: &str = "1.001612";

#[tokio::test]
async fn form_errors_are_shown_next_to_their_fields_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let Some(browser) = Browser::start(&app.base_url).await else {
        return;
    };
    browser
        .open(&format!("/?agency={AGENCY}&procedure={PROCEDURE}"))
        .await;
    browser
        .fill("#f-applicant-full_name", "Trần Thị Bình")
        .await;
    browser.fill("#f-applicant-phone", "12345").await;
    browser.fill("#f-applicant-email", "binh@").await;
    browser.fill("#f-applicant-id_number", "123").await;
    browser.fill("#f-pickup_address-ward_code", "7").await;
    browser
        .choose("#f-pickup_address-province_code", "01")
        .await;
    // Neither the original nor a copy of any document.
    browser.tick("#f-documents-0-original", false).await;
    browser.fill("#f-documents-0-copies", "0").await;
    browser.tick("#f-documents-1-original", false).await;
    browser.fill("#f-documents-1-copies", "0").await;
    browser.submit("#submit-request").await;

    browser.find("#error-summary").await;
    browser.screenshot("form-errors", 412).await;
    for (input, error) in [
        ("#f-applicant-phone", "#f-applicant-phone-error"),
        ("#f-applicant-email", "#f-applicant-email-error"),
        ("#f-applicant-id_number", "#f-applicant-id_number-error"),
        ("#f-pickup_address-line", "#f-pickup_address-line-error"),
        (
            "#f-pickup_address-ward_code",
            "#f-pickup_address-ward_code-error",
        ),
    ] {
        let message = browser.text(error).await;
        assert!(!message.trim().is_empty(), "{error} is empty");
        let described = browser
            .attr(input, "aria-describedby")
            .await
            .unwrap_or_default();
        assert!(
            described.split(' ').any(|id| format!("#{id}") == error),
            "{input} is not described by {error}: {described}"
        );
        assert_eq!(
            browser.attr(input, "aria-invalid").await.as_deref(),
            Some("true"),
            "{input}"
        );
    }
    assert!(
        browser
            .text("#f-applicant-phone-error")
            .await
            .contains("Số điện thoại"),
        "the phone's error is worded in Vietnamese"
    );
    assert!(
        browser
            .text("#group-documents [data-field=documents]")
            .await
            .contains("ít nhất một"),
        "the documents' error sits in their group"
    );
    // What was typed is kept; the valid field carries no error.
    assert_eq!(browser.value("#f-applicant-phone").await, "12345");
    assert_eq!(browser.value("#f-applicant-email").await, "binh@");
    assert_eq!(
        browser.value("#f-applicant-full_name").await,
        "Trần Thị Bình"
    );
    assert!(!browser.has("#f-applicant-full_name-error").await);
    assert_eq!(browser.value("#f-pickup_address-province_code").await, "01");
    assert_eq!(app.dossier_count().await, 0, "nothing is stored");
    assert_eq!(app.event_count().await, 0, "nothing is stored");

    // Corrected, the same form registers the request once.
    browser.fill("#f-applicant-phone", "0912 345 678").await;
    browser.fill("#f-applicant-email", "binh@example.vn").await;
    browser.fill("#f-applicant-id_number", "001090012345").await;
    browser.fill("#f-pickup_address-line", "5 Hàng Bài").await;
    browser.fill("#f-pickup_address-ward_code", "00070").await;
    browser.tick("#f-documents-0-original", true).await;
    browser.submit("#submit-request").await;
    let code = browser.text("#dossier-code").await;
    assert_eq!(code.len(), 11, "a dossier code: {code}");
    assert_eq!(app.dossier_count().await, 1);
    browser.close().await;
}

#[tokio::test]
async fn choosing_the_agency_then_the_procedure_shows_its_documents() {
    let app = TestApp::spawn().await;
    let Some(browser) = Browser::start(&app.base_url).await else {
        return;
    };
    browser.open("/").await;
    assert!(
        !browser.has("#pick-procedure").await,
        "no procedure before the agency"
    );
    browser.screenshot("request-start", 412).await;
    browser.choose("#pick-agency", AGENCY).await;
    browser.submit("#pick-next").await;
    browser.choose("#pick-procedure", "2.001263").await;
    browser.submit("#pick-next").await;
    let documents = browser.text("#procedure-documents").await;
    assert!(documents.contains("Đơn xin nhận con nuôi"), "{documents}");
    assert!(
        browser
            .text("#procedure-title")
            .await
            .contains("nuôi con nuôi")
    );
    assert!(browser.has("#request-form").await);
    // Every input of the form has a label.
    let unlabelled: serde_json::Value = browser
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#request-form input:not([type=hidden]), #request-form select, #request-form textarea'))
               .filter(function (e) { return !document.querySelector('label[for=\"' + e.id + '\"]'); })
               .map(function (e) { return e.name; });",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(unlabelled, serde_json::json!([]), "inputs without a label");
    // English on request, remembered by a cookie.
    browser.open("/?lang=en").await;
    assert!(
        browser
            .text("h1")
            .await
            .contains("Send an administrative dossier")
    );
    browser.open("/").await;
    assert!(
        browser
            .text("h1")
            .await
            .contains("Send an administrative dossier")
    );
    browser.open("/?lang=vi").await;
    assert!(browser.text("h1").await.contains("Gửi hồ sơ"));
    browser.close().await;
}
