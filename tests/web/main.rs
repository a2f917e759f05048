//! End-to-end tests of the web pages in headless Chromium (WebDriver through `chromedriver`), and of
//! the pages' sessions and form tokens over plain HTTP. They run on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set, like the API's tests. Screenshots of the main pages are saved under
//! `target/screenshots/`.

mod browser;
mod camera;
mod forms;
mod journey;
mod sessions;

use tests::TestApp;

/// The PNG of a parcel's label, as the office prints it.
pub async fn label_png(app: &TestApp, code: &str, leg: &str, key: &str) -> Vec<u8> {
    let res = app
        .client
        .get(app.url(&format!(
            "/api/v1/dossiers/{code}/label?leg={leg}&format=png"
        )))
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "label of {code}");
    res.bytes().await.expect("body").to_vec()
}

/// The QR payload of a parcel's label, read from its PNG as a scanner would read the sticker.
pub async fn label_payload(app: &TestApp, code: &str, leg: &str, key: &str) -> String {
    let png = label_png(app, code, leg, key).await;
    let image = image::load_from_memory(&png)
        .expect("the PNG decodes")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the label");
    grids[0].decode().expect("the QR code decodes").1
}
