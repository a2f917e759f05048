//! Parcel labels: every format renders for the staff who handle the parcel; the QR code in the PNG
//! decodes to a URL that lands on the parcel for them and on the masked tracking view for anyone else;
//! an altered token is 404; the PDF gives the Vietnamese names back intact; replicas agree on the key.

use entity::enums::{LegDirection, Role};
use entity::{dossier, leg};
use reqwest::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use tests::{TestApp, error_of, test_settings};

const ITEM_CODE: &str = "RR123456785VN";
const OFFICE: &str = "100000";
const OTHER_OFFICE: &str = "700000";
const AGENCY: &str = "UBND-P-HOANKIEM";
const OTHER_AGENCY: &str = "UBND-P-SAIGON";

/// A fresh dossier of the example request whose inbound parcel has an item code, as after pickup.
/// Returns the dossier code and the citizen's access token.
async fn picked_up_dossier(app: &TestApp) -> (String, String) {
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code").to_owned();
    let token = created["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let dossier = dossier::Entity::find()
        .filter(dossier::Column::Code.eq(code.as_str()))
        .one(&app.store.read)
        .await
        .expect("query")
        .expect("the dossier exists");
    let updated = leg::Entity::update_many()
        .col_expr(leg::Column::ItemCode, Expr::value(ITEM_CODE))
        .filter(leg::Column::DossierId.eq(dossier.id))
        .filter(leg::Column::Direction.eq(LegDirection::Inbound))
        .exec(&app.store.write)
        .await
        .expect("set the item code");
    assert_eq!(updated.rows_affected, 1);
    (code, token)
}

/// `GET /api/v1/dossiers/{code}/label` with a query string and an optional bearer.
async fn get_label(
    app: &TestApp,
    base_url: &str,
    code: &str,
    query: &str,
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .get(format!("{base_url}/api/v1/dossiers/{code}/label{query}"));
    if let Some(bearer) = bearer {
        req = req.bearer_auth(bearer);
    }
    req.send().await.expect("request")
}

/// GET of an absolute URL (a label's QR code) with an optional bearer.
async fn get_url(app: &TestApp, url: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(url);
    if let Some(bearer) = bearer {
        req = req.bearer_auth(bearer);
    }
    req.send().await.expect("request")
}

/// The text of the one QR code in a PNG image.
fn qr_of_png(png: &[u8]) -> String {
    let image = image::load_from_memory(png)
        .expect("the PNG decodes")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the label");
    let (meta, content) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(meta.ecc_level, 0, "error-correction level M");
    assert!(meta.version.0 <= 6, "QR version {}", meta.version.0);
    content
}

/// The QR URL of the inbound label of `code`, read from its PNG.
async fn label_url(app: &TestApp, base_url: &str, code: &str, key: &str) -> String {
    let res = get_label(app, base_url, code, "?format=png", Some(key)).await;
    assert_eq!(res.status(), 200);
    let png = res.bytes().await.expect("body");
    qr_of_png(&png)
}

#[tokio::test]
async fn every_label_format_renders_for_the_staff_who_handle_the_parcel() {
    let app = TestApp::spawn().await;
    let (code, _) = picked_up_dossier(&app).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let agency = app.key(Role::Agency, None, Some(AGENCY)).await;
    let admin = app.key(Role::Admin, None, None).await;

    for key in [&postal, &agency, &admin] {
        // SVG is the default, and the inbound leg.
        let res = get_label(&app, &app.base_url, &code, "", Some(key)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[CONTENT_TYPE], "image/svg+xml; charset=utf-8");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
        let disposition = res.headers()[CONTENT_DISPOSITION].to_str().expect("ascii");
        assert!(
            disposition.contains(&format!("{ITEM_CODE}.svg")),
            "{disposition}"
        );
        let svg = res.text().await.expect("body");
        assert!(svg.starts_with("<svg"), "{svg:.100}");
        for text in [
            "RR 123 456 785 VN",
            code.as_str(),
            "Nguyễn Văn An",
            "12 Tràng Tiền",
            "0912345678",
            "Ủy ban nhân dân phường Hoàn Kiếm",
            "1.001612",
            "CHIỀU ĐI",
        ] {
            assert!(svg.contains(text), "the SVG lacks {text}");
        }
    }

    let res = get_label(
        &app,
        &app.base_url,
        &code,
        "?leg=inbound&format=png",
        Some(&postal),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "image/png");
    let png = res.bytes().await.expect("body");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let image = image::load_from_memory(&png).expect("decodes");
    assert_eq!((image.width(), image.height()), (800, 1200));

    let res = get_label(&app, &app.base_url, &code, "?format=pdf", Some(&postal)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/pdf");
    let pdf = res.bytes().await.expect("body");
    assert!(pdf.starts_with(b"%PDF-"));
}

#[tokio::test]
async fn the_pdf_label_gives_the_vietnamese_names_back_intact() {
    let app = TestApp::spawn().await;
    let (code, _) = picked_up_dossier(&app).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let res = get_label(&app, &app.base_url, &code, "?format=pdf", Some(&postal)).await;
    assert_eq!(res.status(), 200);
    let pdf = res.bytes().await.expect("body");
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("the PDF's text extracts");
    for name in [
        "Nguyễn Văn An",
        "Ủy ban nhân dân phường Hoàn Kiếm",
        "12 Tràng Tiền",
        "126 Hàng Trống, phường Hoàn Kiếm, Hà Nội",
        "RR 123 456 785 VN",
        code.as_str(),
    ] {
        assert!(text.contains(name), "the PDF text lacks {name}: {text}");
    }
}

#[tokio::test]
async fn the_qr_code_lands_on_the_parcel_for_staff_and_on_the_masked_view_for_anyone_else() {
    let app = TestApp::spawn().await;
    let (code, citizen) = picked_up_dossier(&app).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let agency = app.key(Role::Agency, None, Some(AGENCY)).await;
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;

    let url = label_url(&app, &app.base_url, &code, &postal).await;
    let prefix = format!("{}/l/", app.base_url);
    assert!(url.starts_with(&prefix), "{url}");
    let token = &url[prefix.len()..];
    assert!(
        !url.contains(&code) && !url.contains(ITEM_CODE),
        "the QR code names nothing: {url}"
    );

    // Staff of the dossier: the parcel.
    for key in [&postal, &agency] {
        let res = get_url(&app, &url, Some(key)).await;
        assert_eq!(res.status(), 200);
        let parcel: Value = res.json().await.expect("json");
        assert_eq!(parcel["dossier_code"], code.as_str());
        assert_eq!(parcel["direction"], "inbound");
        assert_eq!(parcel["item_code"], ITEM_CODE);
        assert_eq!(parcel["status"], "pickup_requested");
        assert!(parcel["leg_status"].is_string(), "{parcel}");
    }
    let res = app
        .client
        .get(&url)
        .bearer_auth(&postal)
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let parcel: Value = res.json().await.expect("json");
    assert_eq!(parcel["item_code"], ITEM_CODE);

    // No credentials, the citizen, or staff of another office: the masked tracking view.
    let tracked: Value = app.track(&code).await.json().await.expect("json");
    for bearer in [None, Some(citizen.as_str()), Some(other_office.as_str())] {
        let res = get_url(&app, &url, bearer).await;
        assert_eq!(res.status(), 200);
        let body = res.text().await.expect("body");
        for personal in ["Nguyễn Văn An", "0912345678", "Tràng Tiền", "001090012345"] {
            assert!(!body.contains(personal), "leaks {personal}: {body}");
        }
        let view: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(view, tracked);
        assert!(view.get("leg_status").is_none());
    }

    // Any one character altered: 404, never the parcel.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for position in 0..token.len() {
        let mut altered = token.as_bytes().to_vec();
        let original = ALPHABET
            .iter()
            .position(|c| *c == altered[position])
            .expect("a base64url character");
        altered[position] = ALPHABET[(original + 1 + position) % ALPHABET.len()];
        let altered = String::from_utf8(altered).expect("ascii");
        let res = get_url(&app, &format!("{prefix}{altered}"), Some(&postal)).await;
        assert_eq!(res.status(), 404, "{altered}");
        let (error, _) = error_of(res).await;
        assert_eq!(error, "not_found");
    }
    for forged in [
        "",
        "x",
        "AAAAAAAAAAAAAAAAAAAAAAAA",
        "..%2F..%2Fetc",
        "%F0%9F%99%82",
    ] {
        let res = get_url(&app, &format!("{prefix}{forged}"), Some(&postal)).await;
        assert_eq!(res.status(), 404, "{forged:?}");
        assert_eq!(error_of(res).await.0, "not_found");
    }
    // A path that is not even UTF-8 is a bad request, still in the envelope.
    let res = get_url(&app, &format!("{prefix}%00%ff"), Some(&postal)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_of(res).await.0, "bad_request");
}

#[tokio::test]
async fn labels_are_refused_to_the_public_citizens_and_other_offices_or_agencies() {
    let app = TestApp::spawn().await;
    let (code, citizen) = picked_up_dossier(&app).await;
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    let other_agency = app.key(Role::Agency, None, Some(OTHER_AGENCY)).await;

    let res = get_label(&app, &app.base_url, &code, "", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(error_of(res).await.0, "unauthorized");
    for key in [&other_office, &other_agency, &citizen] {
        for format in ["svg", "png", "pdf"] {
            let res = get_label(
                &app,
                &app.base_url,
                &code,
                &format!("?format={format}"),
                Some(key),
            )
            .await;
            assert_eq!(res.status(), 403);
            let body = res.text().await.expect("body");
            assert!(body.contains("\"forbidden\""), "{body}");
            assert!(!body.contains("Nguyễn Văn An"), "{body}");
        }
    }
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    let res = get_label(&app, &app.base_url, "ABCDE-FGHJK", "", Some(&postal)).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_parcel_without_an_item_code_has_no_label_yet() {
    let app = TestApp::spawn().await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code");
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    for query in ["", "?leg=outbound&format=pdf"] {
        let res = get_label(&app, &app.base_url, code, query, Some(&postal)).await;
        assert_eq!(res.status(), 409, "{query}");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "conflict");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("no item code yet"), "{message}");
    }
}

#[tokio::test]
async fn bad_leg_or_format_values_are_bad_requests() {
    let app = TestApp::spawn().await;
    let (code, _) = picked_up_dossier(&app).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    for query in ["?leg=sideways", "?format=gif", "?format=", "?leg=INBOUND"] {
        let res = get_label(&app, &app.base_url, &code, query, Some(&postal)).await;
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(error_of(res).await.0, "bad_request", "{query}");
    }
}

#[tokio::test]
async fn a_label_printed_by_one_replica_lands_on_another() {
    let app = TestApp::spawn().await;
    let (code, _) = picked_up_dossier(&app).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;

    // A second replica on the same database, without a configured key: it loads the same one.
    let replica = api::Application::build(&test_settings(&app.database_url))
        .await
        .expect("build a second replica");
    let replica_url = replica.base_url().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(replica.run_until(async move {
        let _ = stopped.await;
    }));

    let url = label_url(&app, &app.base_url, &code, &postal).await;
    let on_replica = url.replacen(&app.base_url, &replica_url, 1);
    let res = get_url(&app, &on_replica, Some(&postal)).await;
    assert_eq!(res.status(), 200);
    let parcel: Value = res.json().await.expect("json");
    assert_eq!(parcel["item_code"], ITEM_CODE);
    // And the replica prints the same token.
    assert_eq!(
        label_url(&app, &replica_url, &code, &postal).await,
        on_replica
    );
    let keys = entity::service_key::Entity::find()
        .count(&app.store.read)
        .await
        .expect("count");
    assert_eq!(keys, 1);
    let _ = stop.send(());
}

#[tokio::test]
async fn a_configured_signing_key_signs_the_labels_and_a_short_one_is_refused() {
    let app = TestApp::spawn().await;
    let (code, _) = picked_up_dossier(&app).await;
    let postal = app.key(Role::Postal, Some(OFFICE), None).await;
    const CONFIGURED: &str = "a configured key of at least thirty-two bytes";

    let mut settings = test_settings(&app.database_url);
    settings.labels.signing_key = Some(secrecy::SecretString::from("too short"));
    let refused = api::Application::build(&settings).await;
    let error = refused.err().expect("a short key is refused");
    assert!(format!("{error:#}").contains("signing_key"), "{error:#}");

    settings.labels.signing_key = Some(secrecy::SecretString::from(CONFIGURED));
    let keyed = api::Application::build(&settings)
        .await
        .expect("build with a configured key");
    let keyed_url = keyed.base_url().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(keyed.run_until(async move {
        let _ = stopped.await;
    }));

    let url = label_url(&app, &keyed_url, &code, &postal).await;
    let token = url.rsplit('/').next().expect("token");
    let leg_id = domain::label_token::verify(CONFIGURED.as_bytes(), token)
        .expect("the configured key signed the token");
    assert!(leg_id > 0);
    // A label signed with the other key is not this replica's.
    let other = label_url(&app, &app.base_url, &code, &postal).await;
    let res = get_url(
        &app,
        &other.replacen(&app.base_url, &keyed_url, 1),
        Some(&postal),
    )
    .await;
    assert_eq!(res.status(), 404);
    let _ = stop.send(());
}
