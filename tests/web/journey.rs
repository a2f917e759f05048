//! One dossier's whole journey through the pages, in a browser: a citizen files the request; a
//! postman books and records the pickup and scans the parcel (the scan page's field fed the label's QR
//! payload, as a handheld scanner types it) and hands it to the agency on a record; the clerk signs
//! the record, accepts the dossier, records the result and hands it back to the post; the postman
//! signs for it and delivers it. The citizen's tracking page shows each step.

use entity::enums::Role;
use tests::TestApp;

use crate::browser::Browser;
use crate::label_payload;

const OFFICE: &str = "100000";
const AGENCY: &str = "UBND-P-HOANKIEM";
const PROCEDURE: &str = "1.001612";

async fn sign_in(browser: &Browser, key: &str) {
    browser.open("/staff").await;
    if browser
        .has("header form[action='/staff/signout'] button")
        .await
    {
        browser
            .submit("header form[action='/staff/signout'] button")
            .await;
        browser.open("/staff").await;
    }
    browser.fill("#f-key", key).await;
    browser.submit("#sign-in").await;
}

async fn sign_out(browser: &Browser) {
    browser
        .submit("header form[action='/staff/signout'] button")
        .await;
    browser.wait_for_path("/staff").await;
}

#[tokio::test]
async fn a_request_filed_on_the_web_is_carried_to_the_agency_and_its_result_brought_home() {
    let app = TestApp::spawn().await;
    let postal_key = app.key(Role::Postal, Some(OFFICE), None).await;
    let agency_key = app.key(Role::Agency, None, Some(AGENCY)).await;
    let Some(browser) = Browser::start(&app.base_url).await else {
        return;
    };

    // The citizen files the request.
    browser.open("/").await;
    browser.choose("#pick-agency", AGENCY).await;
    browser.submit("#pick-next").await;
    browser.choose("#pick-procedure", PROCEDURE).await;
    browser.submit("#pick-next").await;
    browser
        .fill("#f-applicant-full_name", "Nguyễn Văn An")
        .await;
    browser.fill("#f-applicant-phone", "0912345678").await;
    browser.fill("#f-applicant-email", "an@example.vn").await;
    browser.fill("#f-applicant-id_number", "001090012345").await;
    browser
        .fill("#f-pickup_address-line", "12 Tràng Tiền")
        .await;
    browser.fill("#f-pickup_address-ward_code", "00070").await;
    browser
        .choose("#f-pickup_address-province_code", "01")
        .await;
    browser.screenshot("01-request-form", 412).await;
    browser.submit("#submit-request").await;

    let code = browser.text("#dossier-code").await;
    assert!(
        browser.has(".qr svg").await,
        "a QR code to the tracking page"
    );
    let total = browser.text("#fees-total").await;
    assert!(total.ends_with('₫'), "{total}");
    let access_url = browser.text("#access-link").await;
    assert!(
        access_url.contains(&format!("/t/{code}?k=dt_")),
        "{access_url}"
    );
    browser.screenshot("02-confirmation", 412).await;
    assert_eq!(app.dossier_count().await, 1);

    // The private link shows the whole dossier, with the cancel button; the code alone does not.
    browser.open_url(&access_url).await;
    assert_eq!(browser.text("#applicant-name").await, "Nguyễn Văn An");
    assert_eq!(
        browser.text("#dossier-status").await,
        "Đã yêu cầu nhận hồ sơ"
    );
    assert!(browser.has("#cancel-request").await);
    browser.screenshot("03-tracking-private", 412).await;
    browser.open(&format!("/t/{code}")).await;
    assert!(!browser.has("#personal").await, "no personal data");
    assert!(!browser.has("#cancel-request").await);
    let public_page = browser.client.source().await.expect("source");
    assert!(!public_page.contains("Nguyễn Văn An"));
    assert!(!public_page.contains("0912345678"));
    assert!(!public_page.contains("Tràng Tiền"));
    browser.screenshot("04-tracking-public", 412).await;

    // The postman books and records the pickup.
    sign_in(&browser, &postal_key).await;
    browser.wait_for_path("/staff/pickups").await;
    browser.find(&format!("#card-{code}")).await;
    browser.screenshot("05-pickups", 1100).await;
    browser
        .click(&format!("#card-{code} details summary"))
        .await;
    browser.submit(&format!("#schedule-{code}")).await;
    assert!(browser.flash().await.contains("Đã hẹn lịch nhận hồ sơ"));
    browser.tick(&format!("#checked-{code}"), true).await;
    browser.submit(&format!("#pickup-{code}")).await;
    let flash = browser.flash().await;
    assert!(flash.contains("Bưu điện đã nhận hồ sơ"), "{flash}");
    assert!(
        browser
            .has(&format!("#card-{code} a[href*='/staff/labels/']"))
            .await,
        "label links after pickup"
    );
    browser.screenshot("06-picked-up", 1100).await;

    // The label's QR code, as a phone camera opens it, lands on the staff page of the dossier.
    let inbound = label_payload(&app, &code, "inbound", &postal_key).await;
    browser.open_url(&inbound).await;
    browser
        .wait_for_path(&format!("/staff/dossiers/{code}"))
        .await;

    // A handheld scanner types the payload into the scan page and presses Enter.
    browser.open("/staff/scan").await;
    browser.choose("#scan-event", "departed").await;
    browser.fill("#scan-location", "Bưu cục Hoàn Kiếm").await;
    browser.fill("#scan-payload", &format!("{inbound}\n")).await;
    let flash = browser.flash().await;
    assert!(flash.contains("Đang chuyển đến cơ quan"), "{flash}");
    assert_eq!(
        browser.value("#scan-event").await,
        "departed",
        "the event is kept"
    );
    assert_eq!(browser.value("#scan-location").await, "Bưu cục Hoàn Kiếm");
    browser.screenshot("07-scan", 412).await;

    // The post hands the dossier to the agency on a record.
    browser.open("/staff/handovers").await;
    browser.submit(&format!("#handover-to-{AGENCY}")).await;
    browser.wait_for_path("/staff/handovers/").await;
    let to_agency = browser.text("#record-number").await;
    assert!(to_agency.starts_with("BBGN-"), "{to_agency}");
    assert!(
        !browser.has("#confirm-handover").await,
        "the post does not sign its own record"
    );
    browser.screenshot("08-handover-record", 1100).await;
    sign_out(&browser).await;

    // The clerk signs the record, accepts the dossier, records the result, hands it to the post.
    sign_in(&browser, &agency_key).await;
    browser.wait_for_path("/agency").await;
    browser.screenshot("09-agency-desk", 1100).await;
    browser.submit("a[id^='sign-']").await;
    browser.submit("#confirm-handover").await;
    assert!(browser.flash().await.contains(&to_agency));
    browser.open("/agency").await;
    browser.submit(&format!("#accept-{code}")).await;
    assert!(browser.flash().await.contains("Đang giải quyết"));
    browser.submit(&format!("#result-{code}")).await;
    assert!(browser.flash().await.contains("Đã có kết quả"));
    browser.screenshot("10-agency-result-ready", 1100).await;
    browser.submit("#handover-to-post").await;
    browser.wait_for_path("/staff/handovers/").await;
    let to_post = browser.text("#record-number").await;
    assert_ne!(to_post, to_agency);
    sign_out(&browser).await;

    // The post signs for the result and delivers it.
    sign_in(&browser, &postal_key).await;
    browser.open("/staff/handovers").await;
    browser.submit("a[id^='sign-']").await;
    browser.submit("#confirm-handover").await;
    assert!(browser.flash().await.contains(&to_post));
    let outbound = label_payload(&app, &code, "outbound", &postal_key).await;
    browser.open("/staff/scan").await;
    browser.choose("#scan-event", "out_for_delivery").await;
    browser
        .fill("#scan-payload", &format!("{outbound}\n"))
        .await;
    assert!(browser.flash().await.contains("Đang phát kết quả"));
    browser.open("/staff/deliveries").await;
    browser
        .fill(&format!("#recipient-{code}"), "Nguyễn Văn An")
        .await;
    browser
        .fill(&format!("#recipient-id-{code}"), "001090012345")
        .await;
    browser.screenshot("11-deliveries", 1100).await;
    browser.submit(&format!("#deliver-{code}")).await;
    assert!(browser.flash().await.contains("Đã phát kết quả"));
    sign_out(&browser).await;

    // The citizen's page shows every step, newest first.
    browser.open_url(&access_url).await;
    assert_eq!(browser.text("#dossier-status").await, "Đã phát kết quả");
    let timeline = browser.text("#timeline").await;
    for step in [
        "Gửi yêu cầu nhận hồ sơ",
        "Hẹn lịch nhận hồ sơ",
        "Bưu điện nhận hồ sơ",
        "Đi khỏi bưu cục",
        "Cơ quan tiếp nhận hồ sơ",
        "Hồ sơ được thụ lý",
        "Có kết quả",
        "Giao kết quả cho bưu điện",
        "Đang phát",
        "Phát thành công",
    ] {
        assert!(
            timeline.contains(step),
            "the timeline lacks `{step}`:\n{timeline}"
        );
    }
    let newest = timeline.find("Phát thành công").expect("delivered");
    let oldest = timeline.find("Gửi yêu cầu nhận hồ sơ").expect("requested");
    assert!(newest < oldest, "newest first");
    assert!(
        browser.has("#result-due").await,
        "the agency's due date is shown"
    );
    assert!(
        !browser.has("#cancel-request").await,
        "no cancelling after pickup"
    );
    browser.screenshot("12-tracking-delivered", 412).await;

    // In English on request.
    browser.open(&format!("/t/{code}?lang=en")).await;
    assert_eq!(browser.text("#dossier-status").await, "Delivered");
    assert!(
        browser
            .text("#timeline")
            .await
            .contains("Received by the agency")
    );
    browser.screenshot("13-tracking-english", 412).await;

    // Anyone else who opens the label's QR code gets the public tracking page.
    browser.open_url(&inbound).await;
    browser.wait_for_path(&format!("/t/{code}")).await;
    assert!(!browser.has("#personal").await);
    browser.close().await;
}

#[tokio::test]
async fn a_citizen_cancels_the_request_before_pickup_from_the_private_page() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let token = created["access_token"].as_str().expect("token");
    let Some(browser) = Browser::start(&app.base_url).await else {
        return;
    };
    browser.open(&format!("/t/{code}?k={token}")).await;
    browser.fill("#cancel-reason", "Tôi sẽ nộp trực tiếp").await;
    browser.submit("#cancel-request").await;
    assert!(browser.flash().await.contains("Đã hủy"));
    assert_eq!(browser.text("#dossier-status").await, "Đã hủy");
    assert!(!browser.has("#cancel-request").await);
    let body: serde_json::Value = app.track(code).await.json().await.expect("json");
    assert_eq!(body["status"], "cancelled");
    browser.close().await;
}

#[tokio::test]
async fn the_desk_registers_a_dossier_filed_in_person_and_reports_on_its_dossiers() {
    let app = TestApp::spawn().await;
    let agency_key = app.key(Role::Agency, None, Some(AGENCY)).await;
    let Some(browser) = Browser::start(&app.base_url).await else {
        return;
    };
    sign_in(&browser, &agency_key).await;
    browser.wait_for_path("/agency").await;
    browser.open("/agency/return").await;
    browser.choose("#pick-procedure", PROCEDURE).await;
    browser.submit("form[action='/agency/return'] button").await;
    assert!(
        !browser.has("#f-pickup_address-line").await,
        "no pickup for a result-only dossier"
    );
    browser.submit("#submit-request").await;
    assert!(browser.has("#error-summary").await, "errors first");
    assert_eq!(app.dossier_count().await, 0);
    browser.fill("#f-applicant-full_name", "Lê Văn Cường").await;
    browser.fill("#f-applicant-phone", "0987654321").await;
    browser.fill("#f-applicant-id_number", "001090054321").await;
    browser.fill("#f-return_address-line", "3 Lý Thái Tổ").await;
    browser.fill("#f-return_address-ward_code", "00070").await;
    browser
        .choose("#f-return_address-province_code", "01")
        .await;
    browser.screenshot("14-desk-return-form", 1100).await;
    browser.submit("#submit-request").await;
    let code = browser.text("#dossier-code").await;
    assert!(browser.text("#access-link").await.contains("?k=dt_"));
    let body: serde_json::Value = app.track(&code).await.json().await.expect("json");
    assert_eq!(body["status"], "awaiting_result");
    assert_eq!(body["service_mode"], "return");

    // It is on the desk's worklist; the result goes out through the usual steps.
    browser.open("/agency").await;
    browser.submit(&format!("#result-{code}")).await;
    assert!(browser.flash().await.contains("Đã có kết quả"));

    browser.open("/agency/report").await;
    assert_eq!(browser.text("#report-total").await, "1");
    assert!(browser.has("svg.chart-svg").await, "the on-time chart");
    browser.screenshot("15-agency-report", 1100).await;
    browser.open("/agency/report?period=2026-Q9").await;
    assert!(browser.has("#period-error").await);
    browser.close().await;
}
