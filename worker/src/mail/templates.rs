//! The e-mails' words: one plain function per notice, Vietnamese first and English when the dossier
//! asked for it. Each message is built once as blocks and rendered twice, as plain text and as HTML
//! (every value escaped), so the two parts always say the same thing.
//!
//! A message shows no more than its recipient already knows: the citizen's own name, the dossier code,
//! the agency, the procedure, dates and the parcel's item code — never an identity-document number,
//! a phone number or an address.

use chrono::{DateTime, NaiveDate, Utc};
use domain::ops::outbox::{EmailPayload, Notice, Recipient};
use entity::enums::ServiceMode;

/// A message ready to be put in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A piece of a message body.
enum Block {
    Paragraph(String),
    /// Label and value pairs, shown as a list (text) or a table (HTML).
    Facts(Vec<(String, String)>),
    /// A link with its label.
    Link {
        label: String,
        url: String,
    },
}

/// The two languages messages are written in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Vi,
    En,
}

impl Lang {
    fn of(code: &str) -> Self {
        if code.trim().eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }

    /// Picks the Vietnamese or the English words.
    fn t<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

/// `14:05 23/11/2026` in Vietnam's time.
fn local_time(lang: Lang, t: DateTime<Utc>) -> String {
    let local = domain::sla::to_local(t);
    match lang {
        Lang::Vi => local.format("%H:%M ngày %d/%m/%Y").to_string(),
        Lang::En => local.format("%d/%m/%Y %H:%M (UTC+7)").to_string(),
    }
}

/// `23/11/2026`.
fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The public tracking page of a dossier, in the message's language.
pub fn tracking_url(public_base_url: &str, code: &str, language: &str) -> String {
    let base = public_base_url.trim_end_matches('/');
    match Lang::of(language) {
        Lang::Vi => format!("{base}/t/{code}"),
        Lang::En => format!("{base}/t/{code}?lang=en"),
    }
}

/// Renders the e-mail of one outbox row.
pub fn render(payload: &EmailPayload, public_base_url: &str) -> RenderedMail {
    let lang = Lang::of(&payload.language);
    let code = payload.dossier_code.as_str();
    let agency = payload
        .agency_name
        .clone()
        .unwrap_or_else(|| lang.t("cơ quan giải quyết", "the agency").to_owned());
    let mut blocks = Vec::new();
    let greeting = match (payload.recipient, payload.to_name.as_deref()) {
        (Recipient::Citizen, Some(name)) => match lang {
            Lang::Vi => format!("Kính gửi Ông/Bà {name},"),
            Lang::En => format!("Dear {name},"),
        },
        (Recipient::Citizen, None) => lang.t("Kính gửi Ông/Bà,", "Dear applicant,").to_owned(),
        (Recipient::Agency, _) => match lang {
            Lang::Vi => format!("Kính gửi Bộ phận một cửa — {agency},"),
            Lang::En => format!("To the one-stop desk of {agency},"),
        },
    };
    blocks.push(Block::Paragraph(greeting));
    let mut facts = vec![(
        lang.t("Mã hồ sơ", "Dossier code").to_owned(),
        code.to_owned(),
    )];
    if let Some(procedure) = &payload.procedure_name {
        facts.push((lang.t("Thủ tục", "Procedure").to_owned(), procedure.clone()));
    }
    let subject = match &payload.notice {
        Notice::ReceivedByAgency {
            filed_at,
            result_due_at,
        } => {
            blocks.push(Block::Paragraph(match lang {
                Lang::Vi => format!(
                    "Hồ sơ của Ông/Bà đã được bưu điện chuyển đến và {agency} đã ký biên bản tiếp nhận. \
                     Thời điểm ký biên bản là thời điểm nộp hồ sơ hợp lệ; thời hạn giải quyết được tính từ thời điểm này."
                ),
                Lang::En => format!(
                    "The post has delivered your dossier and {agency} has signed the handover record. \
                     The time of signing is the legal filing time of your dossier; the agency's time limit runs from it."
                ),
            }));
            facts.push((lang.t("Cơ quan", "Agency").to_owned(), agency.clone()));
            if let Some(filed_at) = filed_at {
                facts.push((
                    lang.t("Thời điểm nộp hồ sơ", "Legal filing time")
                        .to_owned(),
                    local_time(lang, *filed_at),
                ));
            }
            if let Some(due) = result_due_at {
                facts.push((
                    lang.t("Ngày hẹn trả kết quả", "Result due on").to_owned(),
                    date(domain::sla::local_date(*due)),
                ));
            }
            match lang {
                Lang::Vi => format!("Hồ sơ {code} đã được tiếp nhận tại {agency}"),
                Lang::En => format!("Dossier {code} has been received by {agency}"),
            }
        }
        Notice::SupplementRequested { items } => {
            blocks.push(Block::Paragraph(match lang {
                Lang::Vi => format!(
                    "{agency} đề nghị Ông/Bà bổ sung, hoàn thiện hồ sơ. Hồ sơ sẽ được tiếp tục giải quyết sau khi nhận đủ giấy tờ."
                ),
                Lang::En => format!(
                    "{agency} asks you to complete your dossier. It will be processed further once the documents below are received."
                ),
            }));
            facts.push((
                lang.t("Cần bổ sung", "To supplement").to_owned(),
                items.clone().unwrap_or_else(|| {
                    lang.t(
                        "xin liên hệ cơ quan để biết chi tiết",
                        "please ask the agency for details",
                    )
                    .to_owned()
                }),
            ));
            match lang {
                Lang::Vi => format!("Hồ sơ {code}: cần bổ sung giấy tờ"),
                Lang::En => format!("Dossier {code}: supplementary documents requested"),
            }
        }
        Notice::ResultReady {
            service_mode,
            outcome,
        } => {
            let refused = outcome.as_deref() == Some("rejected");
            let what = match (lang, refused) {
                (Lang::Vi, false) => "Kết quả giải quyết hồ sơ của Ông/Bà đã có.",
                (Lang::Vi, true) => {
                    "Cơ quan đã có văn bản trả lời, nêu rõ lý do không giải quyết hồ sơ của Ông/Bà."
                }
                (Lang::En, false) => "The result of your dossier is ready.",
                (Lang::En, true) => {
                    "The agency has issued a written answer stating why your dossier cannot be granted."
                }
            };
            let next = match (lang, service_mode) {
                (Lang::Vi, ServiceMode::Send) => format!(
                    "Ông/Bà vui lòng đến Bộ phận một cửa của {agency} để nhận, mang theo giấy tờ tùy thân."
                ),
                (Lang::Vi, _) => {
                    "Bưu điện sẽ nhận kết quả tại cơ quan và chuyển đến địa chỉ Ông/Bà đã đăng ký."
                        .to_owned()
                }
                (Lang::En, ServiceMode::Send) => format!(
                    "Please collect it at the one-stop desk of {agency}, bringing your identity document."
                ),
                (Lang::En, _) => {
                    "The post will collect it from the agency and bring it to the address you gave."
                        .to_owned()
                }
            };
            blocks.push(Block::Paragraph(format!("{what} {next}")));
            match (lang, refused) {
                (Lang::Vi, false) => format!("Hồ sơ {code}: đã có kết quả"),
                (Lang::Vi, true) => format!("Hồ sơ {code}: đã có văn bản trả lời"),
                (Lang::En, false) => format!("Dossier {code}: the result is ready"),
                (Lang::En, true) => format!("Dossier {code}: the agency's answer is ready"),
            }
        }
        Notice::OutForDelivery { item_code } => {
            blocks.push(Block::Paragraph(lang.t(
                "Bưu tá đang trên đường giao kết quả đến địa chỉ của Ông/Bà. Khi nhận, người nhận xuất trình căn cước/CMND hoặc hộ chiếu; người nhận thay cần có giấy ủy quyền.",
                "A postman is on the way to your address with the result. The recipient shows an identity card or passport; someone receiving it for you also needs your written authorisation.",
            ).to_owned()));
            if let Some(item) = item_code {
                facts.push((
                    lang.t("Số hiệu bưu gửi", "Item code").to_owned(),
                    item.clone(),
                ));
            }
            match lang {
                Lang::Vi => format!("Hồ sơ {code}: bưu tá đang giao kết quả"),
                Lang::En => format!("Dossier {code}: your result is out for delivery"),
            }
        }
        Notice::DeliveryFailed {
            notice,
            reason,
            next_attempt_from,
            returned_to_agency,
        } => {
            blocks.push(Block::Paragraph(match lang {
                Lang::Vi => format!(
                    "Bưu tá đã đến giao kết quả nhưng chưa giao được và đã để lại giấy báo lần {notice}."
                ),
                Lang::En => format!(
                    "A postman came with your result but could not deliver it, and left notice {notice}."
                ),
            }));
            if let Some(reason) = reason {
                facts.push((lang.t("Lý do", "Reason").to_owned(), reason.clone()));
            }
            if *returned_to_agency {
                blocks.push(Block::Paragraph(match lang {
                    Lang::Vi => format!(
                        "Đây là lần báo thứ hai: theo quy định (Thông tư 17/2017/TT-BTTTT, Điều 5.2h), kết quả được chuyển trả về {agency}. \
                         Ông/Bà vui lòng liên hệ Bộ phận một cửa của {agency} để nhận kết quả, mang theo giấy tờ tùy thân."
                    ),
                    Lang::En => format!(
                        "This was the second notice: as the rules require (Circular 17/2017/TT-BTTTT, Art. 5.2h), the result goes back to {agency}. \
                         Please contact the one-stop desk of {agency} to collect it, bringing your identity document."
                    ),
                }));
            } else {
                let when = next_attempt_from.map(date);
                blocks.push(Block::Paragraph(match (lang, when) {
                    (Lang::Vi, Some(when)) => format!(
                        "Bưu điện sẽ giao lại từ ngày {when}. Ông/Bà vui lòng bảo đảm có người nhận tại địa chỉ (mang theo giấy tờ tùy thân) \
                         hoặc liên hệ bưu cục để hẹn thời gian giao. Nếu lần giao sau cũng không thành công, kết quả sẽ được chuyển trả về {agency}."
                    ),
                    (Lang::Vi, None) => format!(
                        "Bưu điện sẽ giao lại sau ít nhất hai ngày làm việc. Nếu lần giao sau cũng không thành công, kết quả sẽ được chuyển trả về {agency}."
                    ),
                    (Lang::En, Some(when)) => format!(
                        "The post will try again from {when}. Please make sure someone is at the address with an identity document, \
                         or contact the post office to agree a time. If the next attempt fails too, the result goes back to {agency}."
                    ),
                    (Lang::En, None) => format!(
                        "The post will try again after at least two working days. If the next attempt fails too, the result goes back to {agency}."
                    ),
                }));
                if let Some(when) = next_attempt_from {
                    facts.push((
                        lang.t("Giao lại từ ngày", "Next attempt from").to_owned(),
                        date(*when),
                    ));
                }
            }
            match lang {
                Lang::Vi => format!("Hồ sơ {code}: chưa giao được kết quả (giấy báo lần {notice})"),
                Lang::En => format!("Dossier {code}: delivery failed (notice {notice})"),
            }
        }
        Notice::Delivered { item_code } => {
            blocks.push(Block::Paragraph(match lang {
                Lang::Vi => format!(
                    "Kết quả giải quyết hồ sơ đã được giao lúc {}. Nếu Ông/Bà chưa nhận được, vui lòng liên hệ bưu cục.",
                    local_time(lang, payload.at)
                ),
                Lang::En => format!(
                    "The result was delivered at {}. If you did not receive it, please contact the post office.",
                    local_time(lang, payload.at)
                ),
            }));
            if let Some(item) = item_code {
                facts.push((
                    lang.t("Số hiệu bưu gửi", "Item code").to_owned(),
                    item.clone(),
                ));
            }
            match lang {
                Lang::Vi => format!("Hồ sơ {code}: đã giao kết quả"),
                Lang::En => format!("Dossier {code}: the result has been delivered"),
            }
        }
        Notice::ResultDelivered {
            national_dossier_no,
            item_code,
        } => {
            blocks.push(Block::Paragraph(match lang {
                Lang::Vi => format!(
                    "Bưu điện đã giao kết quả giải quyết hồ sơ cho người nộp lúc {} (Thông tư 17/2017/TT-BTTTT, Điều 12).",
                    local_time(lang, payload.at)
                ),
                Lang::En => format!(
                    "The post delivered the result of this dossier to the applicant at {} (Circular 17/2017/TT-BTTTT, Art. 12).",
                    local_time(lang, payload.at)
                ),
            }));
            if let Some(no) = national_dossier_no {
                facts.push((
                    lang.t("Số hồ sơ một cửa", "One-stop dossier number")
                        .to_owned(),
                    no.clone(),
                ));
            }
            if let Some(item) = item_code {
                facts.push((
                    lang.t("Số hiệu bưu gửi", "Item code").to_owned(),
                    item.clone(),
                ));
            }
            match lang {
                Lang::Vi => format!("Hồ sơ {code}: kết quả đã được giao cho người nộp"),
                Lang::En => format!("Dossier {code}: the result was delivered to the applicant"),
            }
        }
        Notice::Incident {
            kind,
            leg,
            compensation_vnd,
            note,
        } => {
            let what = match (lang, kind.as_str()) {
                (Lang::Vi, "lost") => "bị thất lạc",
                (Lang::Vi, "damaged") => "bị hư hỏng",
                (Lang::Vi, _) => "bị chậm trễ",
                (Lang::En, "lost") => "was lost",
                (Lang::En, "damaged") => "was damaged",
                (Lang::En, _) => "was delayed",
            };
            let parcel = match (lang, leg.as_str()) {
                (Lang::Vi, "outbound") => "Bưu gửi kết quả",
                (Lang::Vi, _) => "Bưu gửi hồ sơ",
                (Lang::En, "outbound") => "The parcel with the result",
                (Lang::En, _) => "The parcel with the dossier",
            };
            blocks.push(Block::Paragraph(match lang {
                Lang::Vi => format!(
                    "{parcel} {what} (ghi nhận lúc {}). Bưu điện phối hợp với cơ quan giải quyết để xử lý theo Quyết định 45/2016/QĐ-TTg, Điều 14.",
                    local_time(lang, payload.at)
                ),
                Lang::En => format!(
                    "{parcel} {what} (recorded at {}). The post works with the agency to set it right (Decision 45/2016/QĐ-TTg, Art. 14).",
                    local_time(lang, payload.at)
                ),
            }));
            if let Some(note) = note {
                facts.push((lang.t("Ghi chú", "Note").to_owned(), note.clone()));
            }
            if *compensation_vnd > 0 {
                facts.push((
                    lang.t("Bồi thường", "Compensation").to_owned(),
                    format!("{compensation_vnd} VND"),
                ));
            }
            match lang {
                Lang::Vi => format!("Hồ sơ {code}: sự cố bưu gửi"),
                Lang::En => format!("Dossier {code}: a parcel incident"),
            }
        }
        Notice::ComplaintAnswered {
            complaint_id,
            answer,
        } => {
            blocks.push(Block::Paragraph(
                lang.t(
                    "Bưu điện trả lời khiếu nại của Ông/Bà như sau:",
                    "The post answers your complaint as follows:",
                )
                .to_owned(),
            ));
            blocks.push(Block::Paragraph(answer.clone()));
            facts.push((
                lang.t("Số khiếu nại", "Complaint number").to_owned(),
                complaint_id.to_string(),
            ));
            match lang {
                Lang::Vi => format!("Hồ sơ {code}: trả lời khiếu nại"),
                Lang::En => format!("Dossier {code}: the answer to your complaint"),
            }
        }
        Notice::PeriodReport {
            period,
            from,
            to,
            agency_code,
            dossiers,
            csv_file_name,
            ..
        } => {
            facts.clear();
            blocks.push(Block::Paragraph(match lang {
                Lang::Vi => format!(
                    "Báo cáo định kỳ kỳ {period} (từ {} đến {}) theo Thông tư 17/2017/TT-BTTTT, Điều 13: {dossiers} hồ sơ. Số liệu chi tiết trong tệp đính kèm {csv_file_name}.",
                    date(*from),
                    date(*to)
                ),
                Lang::En => format!(
                    "Periodic report for {period} ({} to {}), Circular 17/2017/TT-BTTTT Art. 13: {dossiers} dossiers. The figures are in the attached file {csv_file_name}.",
                    date(*from),
                    date(*to)
                ),
            }));
            facts.push((lang.t("Cơ quan", "Agency").to_owned(), agency_code.clone()));
            match lang {
                Lang::Vi => format!("Báo cáo định kỳ {period} — {agency}"),
                Lang::En => format!("Periodic report {period} — {agency}"),
            }
        }
        Notice::WebhookDisabled {
            webhook_id,
            agency_code,
            url_origin,
            reason,
            attempts,
        } => {
            facts.clear();
            blocks.push(Block::Paragraph(match lang {
                Lang::Vi => format!(
                    "Webhook số {webhook_id} của {agency_code} ({url_origin}) đã bị tắt sau {attempts} lần gửi không thành công: {reason}. Hệ thống sẽ không gửi gì đến địa chỉ này cho đến khi quản trị viên bật lại (POST /api/v1/admin/webhooks/{webhook_id}/enable)."
                ),
                Lang::En => format!(
                    "Webhook {webhook_id} of {agency_code} ({url_origin}) was disabled after {attempts} failed attempts: {reason}. Nothing is sent to it until an administrator enables it again (POST /api/v1/admin/webhooks/{webhook_id}/enable)."
                ),
            }));
            facts.push((lang.t("Cơ quan", "Agency").to_owned(), agency_code.clone()));
            facts.push(("Webhook".to_owned(), webhook_id.to_string()));
            match lang {
                Lang::Vi => format!("Webhook {webhook_id} của {agency_code} đã bị tắt"),
                Lang::En => format!("Webhook {webhook_id} of {agency_code} was disabled"),
            }
        }
    };
    blocks.push(Block::Facts(facts));
    if !code.is_empty() {
        blocks.push(Block::Link {
            label: lang
                .t(
                    "Theo dõi hồ sơ trực tuyến (miễn phí):",
                    "Follow the dossier online (free):",
                )
                .to_owned(),
            url: tracking_url(public_base_url, code, &payload.language),
        });
    }
    blocks.push(Block::Paragraph(
        lang.t(
            "Thư này được gửi tự động từ dịch vụ tiếp nhận hồ sơ, trả kết quả qua bưu chính công ích; vui lòng không trả lời thư này.",
            "This message was sent automatically by the service that carries administrative dossiers by public post; please do not reply to it.",
        )
        .to_owned(),
    ));
    RenderedMail {
        text: to_text(&blocks),
        html: to_html(&blocks, &subject, lang),
        subject,
    }
}

fn to_text(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Paragraph(p) => out.push_str(p),
            Block::Facts(facts) => {
                for (i, (label, value)) in facts.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    out.push_str(&format!("- {label}: {value}"));
                }
            }
            Block::Link { label, url } => out.push_str(&format!("{label}\n{url}")),
        }
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn to_html(blocks: &[Block], title: &str, lang: Lang) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family: sans-serif; line-height: 1.5\">\n",
        lang.t("vi", "en"),
        escape(title)
    );
    for block in blocks {
        match block {
            Block::Paragraph(p) => out.push_str(&format!("<p>{}</p>\n", escape(p))),
            Block::Facts(facts) => {
                out.push_str("<table>\n");
                for (label, value) in facts {
                    out.push_str(&format!(
                        "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
                        escape(label),
                        escape(value)
                    ));
                }
                out.push_str("</table>\n");
            }
            Block::Link { label, url } => out.push_str(&format!(
                "<p>{} <a href=\"{}\">{}</a></p>\n",
                escape(label),
                escape(url),
                escape(url)
            )),
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(language: &str, notice: Notice) -> EmailPayload {
        EmailPayload {
            message_key: "dossier-event-1-citizen".into(),
            recipient: Recipient::Citizen,
            to: "an@example.vn".into(),
            to_name: Some("Nguyễn Văn <An>".into()),
            language: language.into(),
            dossier_code: "ABCD-1234".into(),
            agency_name: Some("UBND phường Hoàn Kiếm".into()),
            procedure_name: Some("Đăng ký khai sinh".into()),
            at: Utc::now(),
            notice,
        }
    }

    #[test]
    fn receipt_names_the_filing_time_and_the_due_date_in_vietnamese() {
        let filed = "2026-11-23T03:05:00Z".parse().expect("time");
        let due = domain::sla::end_of_local_day(NaiveDate::from_ymd_opt(2026, 12, 4).expect("d"));
        let m = render(
            &payload(
                "vi",
                Notice::ReceivedByAgency {
                    filed_at: Some(filed),
                    result_due_at: Some(due),
                },
            ),
            "https://hoso.example.vn/",
        );
        assert_eq!(
            m.subject,
            "Hồ sơ ABCD-1234 đã được tiếp nhận tại UBND phường Hoàn Kiếm"
        );
        assert!(m.text.contains("10:05 ngày 23/11/2026"), "{}", m.text);
        assert!(m.text.contains("04/12/2026"), "{}", m.text);
        assert!(m.text.contains("https://hoso.example.vn/t/ABCD-1234"));
        assert!(m.html.contains("Nguyễn Văn &lt;An&gt;"), "{}", m.html);
        assert!(!m.html.contains("<An>"));
    }

    #[test]
    fn english_is_used_when_the_dossier_asks_for_it() {
        let m = render(
            &payload(
                "en",
                Notice::DeliveryFailed {
                    notice: 1,
                    reason: Some("nobody home".into()),
                    next_attempt_from: NaiveDate::from_ymd_opt(2026, 11, 25),
                    returned_to_agency: false,
                },
            ),
            "http://h",
        );
        assert_eq!(m.subject, "Dossier ABCD-1234: delivery failed (notice 1)");
        assert!(m.text.contains("25/11/2026"));
        assert!(m.text.contains("http://h/t/ABCD-1234?lang=en"));
    }

    #[test]
    fn the_second_notice_says_the_result_goes_back_to_the_agency() {
        let m = render(
            &payload(
                "vi",
                Notice::DeliveryFailed {
                    notice: 2,
                    reason: None,
                    next_attempt_from: None,
                    returned_to_agency: true,
                },
            ),
            "http://h",
        );
        assert!(m.text.contains("chuyển trả về UBND phường Hoàn Kiếm"));
        assert!(m.subject.contains("lần 2"));
    }
}
