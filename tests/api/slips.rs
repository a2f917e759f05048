//! The citizen's papers: the dossier slip (Phiếu gửi hồ sơ, Circular 17 Art. 9) and the receipt for
//! the postage and the admin fee collected on the agency's behalf, as PDFs whose text reads back with
//! its diacritics, the item code and the amounts; for the citizen's token or staff who may see the
//! dossier only.

use entity::enums::Role;
use serde_json::json;
use tests::TestApp;

use super::handovers::pdf_text;
use super::postal::{Keys, OTHER_OFFICE, expect_error, get, json_of, leg, post};
use super::supplements::supplement_sent;

/// The text of a PDF with its runs of white space made single spaces.
async fn flat_text(res: reqwest::Response) -> String {
    pdf_text(res)
        .await
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn the_slip_and_the_receipt_print_the_dossier_in_vietnamese_for_those_entitled() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    let created = app.create_valid_dossier().await;
    let code = created["code"].as_str().expect("code").to_owned();
    let token = created["access_token"].as_str().expect("token").to_owned();
    let total = created["fees"]["total_vnd"].as_i64().expect("total");
    let postage = created["fees"]["postage_vnd"].as_i64().expect("postage");
    let slip = format!("/api/v1/dossiers/{code}/slip.pdf");
    let receipt = format!("/api/v1/dossiers/{code}/receipt.pdf");

    // Before the pickup: the slip to sign, no receipt yet.
    let text = flat_text(get(&app, &slip, Some(&token)).await).await;
    for expected in [
        "PHIẾU GỬI HỒ SƠ",
        "Nguyễn Văn An",
        "12 Tràng Tiền",
        "0912345678",
        "an@example.vn",
        "Cấp bản sao trích lục hộ tịch",
        "1.001612",
        "Tờ khai đăng ký",
        "Bản chính",
        code.as_str(),
        "chưa nhận",
        "Người gửi",
        "Nhân viên bưu chính",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    expect_error(
        get(&app, &receipt, Some(&token)).await,
        409,
        "invalid_transition",
        &[],
    )
    .await;

    let d = json_of(
        post(
            &app,
            &format!("/api/v1/dossiers/{code}/pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": total, "item_code": null}),
        )
        .await,
        200,
    )
    .await;
    let item = leg(&d, "inbound")["item_code"]
        .as_str()
        .expect("item code")
        .to_owned();

    for bearer in [&token, &keys.postal, &keys.agency] {
        let text = flat_text(get(&app, &slip, Some(bearer)).await).await;
        assert!(text.contains(&item), "{text}");
        assert!(!text.contains("chưa nhận"), "{text}");
        // The post office's copy leaves out the e-mail, as every view a postal key gets does.
        assert_eq!(
            text.contains("an@example.vn"),
            bearer != &keys.postal,
            "{text}"
        );
        assert!(text.contains("Ủy ban nhân dân"), "{text}");
    }
    let text = flat_text(get(&app, &receipt, Some(&token)).await).await;
    let vnd = |n: i64| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push('.');
            }
            out.push(c);
        }
        out
    };
    for expected in [
        "BIÊN LAI THU TIỀN".to_owned(),
        "Nguyễn Văn An".to_owned(),
        item.clone(),
        "Cước dịch vụ bưu chính".to_owned(),
        "Lệ phí thu hộ".to_owned(),
        vnd(postage),
        vnd(8_000),
        vnd(total),
    ] {
        assert!(text.contains(&expected), "{expected:?} missing from {text}");
    }

    // Nobody else: no credentials, another office, another dossier's citizen, no such dossier.
    let other_office = app.key(Role::Postal, Some(OTHER_OFFICE), None).await;
    let stranger = app.create_valid_dossier().await;
    let stranger_token = stranger["access_token"].as_str().expect("token");
    for path in [&slip, &receipt] {
        expect_error(get(&app, path, None).await, 401, "unauthorized", &[]).await;
        expect_error(
            get(&app, path, Some(&other_office)).await,
            403,
            "forbidden",
            &[],
        )
        .await;
        let res = get(&app, path, Some(stranger_token)).await;
        assert!(
            matches!(res.status().as_u16(), 403 | 404),
            "{}",
            res.status()
        );
    }
    expect_error(
        get(
            &app,
            "/api/v1/dossiers/ZZZZZ-ZZZZZ/slip.pdf",
            Some(&keys.postal),
        )
        .await,
        404,
        "not_found",
        &[],
    )
    .await;
}

/// The text of each page of a PDF, its runs of white space made single spaces.
async fn page_texts(res: reqwest::Response) -> Vec<String> {
    assert_eq!(res.status(), 200);
    let pdf = res.bytes().await.expect("body");
    pdf_extract::extract_text_from_mem_by_pages(&pdf)
        .expect("the PDF's text extracts")
        .iter()
        .map(|page| page.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[tokio::test]
async fn a_supplement_sent_by_post_has_a_slip_and_a_receipt_of_its_own() {
    let app = TestApp::spawn().await;
    let keys = Keys::new(&app).await;
    // A war invalid's dossier, picked up and with the agency, which asks for a supplement; the citizen
    // sends it from another address than the dossier's.
    let (code, token) = supplement_sent(
        &app,
        &keys,
        json!({"line": "5 Hàng Bài", "ward_code": "00073", "province_code": "01"}),
    )
    .await;
    let slip = format!("/api/v1/dossiers/{code}/slip.pdf");
    let receipt = format!("/api/v1/dossiers/{code}/receipt.pdf");
    let postage = json_of(
        get(&app, &format!("/api/v1/dossiers/{code}"), Some(&token)).await,
        200,
    )
    .await["fees"]["supplement_postage_vnd"]
        .as_i64()
        .expect("supplement postage");
    assert_eq!(postage, 13_000);

    // Before its pickup: the dossier's slip, then the supplement's to sign at the door; the receipt is
    // the dossier's alone.
    let pages = page_texts(get(&app, &slip, Some(&token)).await).await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(!pages[0].contains("BỔ SUNG"), "{}", pages[0]);
    assert!(!pages[0].contains("chưa nhận"), "{}", pages[0]);
    assert!(!pages[0].contains("5 Hàng Bài"), "{}", pages[0]);
    for expected in [
        "PHIẾU GỬI HỒ SƠ BỔ SUNG",
        "lần 1",
        code.as_str(),
        "Nguyễn Văn An",
        "5 Hàng Bài",
        "Giấy tờ tùy thân (bản sao)",
        "Bản sao",
        "chưa nhận",
        "chưa cấp",
        "13.000 đồng",
        "Người gửi",
        "Nhân viên bưu chính",
    ] {
        assert!(
            pages[1].contains(expected),
            "{expected:?} missing from {}",
            pages[1]
        );
    }
    assert!(!pages[1].contains("Tờ khai đăng ký"), "{}", pages[1]);
    let receipts = page_texts(get(&app, &receipt, Some(&token)).await).await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");

    // The pickup gives the supplement's parcel its item code and collects its postage.
    let d = json_of(
        post(
            &app,
            &format!("/api/v1/dossiers/{code}/pickup"),
            Some(&keys.postal),
            &json!({"documents_checked": true, "fee_collected_vnd": postage}),
        )
        .await,
        200,
    )
    .await;
    let item_of = |purpose: &str| {
        d["legs"]
            .as_array()
            .expect("legs")
            .iter()
            .find(|l| l["direction"] == "inbound" && l["purpose"] == purpose)
            .and_then(|l| l["item_code"].as_str())
            .expect("an inbound parcel's item code")
            .to_owned()
    };
    let item = item_of("supplement");
    let first_item = item_of("dossier");
    assert_ne!(item, first_item);

    for bearer in [&token, &keys.postal, &keys.agency] {
        let pages = page_texts(get(&app, &slip, Some(bearer)).await).await;
        assert_eq!(pages.len(), 2, "{pages:?}");
        assert!(pages[0].contains(&first_item), "{}", pages[0]);
        assert!(!pages[0].contains(&item), "{}", pages[0]);
        assert!(pages[1].contains(&item), "{}", pages[1]);
        assert!(!pages[1].contains("chưa nhận"), "{}", pages[1]);
    }
    let receipts = page_texts(get(&app, &receipt, Some(&token)).await).await;
    assert_eq!(receipts.len(), 2, "{receipts:?}");
    assert!(!receipts[0].contains("bổ sung"), "{}", receipts[0]);
    assert!(!receipts[0].contains("5 Hàng Bài"), "{}", receipts[0]);
    for expected in [
        format!("BL-{code}-BS1"),
        "hồ sơ bổ sung lần 1".to_owned(),
        item.clone(),
        "13.000".to_owned(),
        "Người nộp tiền".to_owned(),
        "5 Hàng Bài".to_owned(),
    ] {
        assert!(
            receipts[1].contains(&expected),
            "{expected:?} missing from {}",
            receipts[1]
        );
    }
}
