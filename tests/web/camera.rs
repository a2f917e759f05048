//! The scan page's camera: Chromium's fake camera plays a printed label, and the page reads its QR
//! code (with `BarcodeDetector` where the browser has it, else the vendored jsQR) and records the scan.

use entity::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

use crate::browser::Browser;
use crate::label_png;

const OFFICE: &str = "100000";

/// A one-frame Y4M video (what Chromium's fake camera plays) of a grey image.
fn y4m_of(png: &[u8]) -> Vec<u8> {
    let image = image::load_from_memory(png)
        .expect("the PNG decodes")
        .to_luma8();
    let (w, h) = (image.width() & !1, image.height() & !1);
    let mut video = format!("YUV4MPEG2 W{w} H{h} F5:1 Ip A1:1 C420jpeg\nFRAME\n").into_bytes();
    for y in 0..h {
        for x in 0..w {
            video.push(image.get_pixel(x, y).0[0]);
        }
    }
    // No colour: both chroma planes at their middle value.
    video.extend(std::iter::repeat_n(
        128u8,
        (w as usize / 2) * (h as usize / 2) * 2,
    ));
    video
}

#[tokio::test]
async fn the_scan_page_reads_a_label_held_up_to_the_camera() {
    let app = TestApp::spawn().await;
    let key = app.key(Role::Postal, Some(OFFICE), None).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/pickup")))
        .bearer_auth(&key)
        .json(&json!({"documents_checked": true, "fee_collected_vnd": total}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);

    let dir = tempfile::tempdir().expect("temp dir");
    let video = dir.path().join("label.y4m");
    std::fs::write(
        &video,
        y4m_of(&label_png(&app, code, "inbound", &key).await),
    )
    .expect("write the video");
    let Some(browser) = Browser::start_with(
        &app.base_url,
        &[format!(
            "--use-file-for-fake-video-capture={}",
            video.display()
        )],
    )
    .await
    else {
        return;
    };
    browser.open("/staff").await;
    browser.fill("#f-key", &key).await;
    browser.submit("#sign-in").await;
    browser.open("/staff/scan").await;
    browser.choose("#scan-event", "departed").await;
    browser.click("#camera-start").await;
    let flash = browser.flash().await;
    assert!(flash.contains("Đang chuyển đến cơ quan"), "{flash}");
    let body: Value = app.track(code).await.json().await.expect("json");
    assert_eq!(body["status"], "in_transit");
    browser.close().await;
}
