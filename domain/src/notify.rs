//! What the phone messages (SMS, Zalo ZNS) and the national public-service portal are told about a
//! dossier (INTEGRATIONS.md): the status in words, the portal's `TrangThaiHoSo` code, the SMS text and
//! the formats of phone numbers and times these services expect. Pure; each mapping is one table.

use chrono::{DateTime, Utc};
use entity::enums::DossierStatus;
use serde::{Deserialize, Serialize};

/// The longest SMS the gateway sends as one message without diacritics (`IsUnicode` 0).
pub const SMS_MAX_CHARS: usize = 160;

/// Each status in words: Vietnamese with diacritics (ZNS, the portal), and the same without diacritics
/// for SMS. The one table of status words.
pub const STATUS_WORDS: [(DossierStatus, &str, &str); 18] = [
    (
        DossierStatus::PickupRequested,
        "Đã nhận yêu cầu thu gom",
        "Da nhan yeu cau thu gom",
    ),
    (
        DossierStatus::PickupScheduled,
        "Đã hẹn lịch thu gom",
        "Da hen lich thu gom",
    ),
    (
        DossierStatus::PickupFailed,
        "Thu gom không thành công",
        "Thu gom khong thanh cong",
    ),
    (
        DossierStatus::PickedUp,
        "Bưu điện đã nhận hồ sơ",
        "Buu dien da nhan ho so",
    ),
    (
        DossierStatus::InTransit,
        "Hồ sơ đang được chuyển",
        "Ho so dang duoc chuyen",
    ),
    (
        DossierStatus::ReceivedByAgency,
        "Cơ quan đã tiếp nhận hồ sơ",
        "Co quan da tiep nhan ho so",
    ),
    (
        DossierStatus::Processing,
        "Hồ sơ đang được giải quyết",
        "Ho so dang duoc giai quyet",
    ),
    (
        DossierStatus::SupplementRequested,
        "Cần bổ sung hồ sơ",
        "Can bo sung ho so",
    ),
    (
        DossierStatus::Rejected,
        "Hồ sơ không được tiếp nhận",
        "Ho so khong duoc tiep nhan",
    ),
    (
        DossierStatus::AwaitingResult,
        "Đang chờ kết quả",
        "Dang cho ket qua",
    ),
    (DossierStatus::ResultReady, "Đã có kết quả", "Da co ket qua"),
    (
        DossierStatus::ResultWithPost,
        "Bưu điện đã nhận kết quả",
        "Buu dien da nhan ket qua",
    ),
    (
        DossierStatus::OutForDelivery,
        "Kết quả đang được phát",
        "Ket qua dang duoc phat",
    ),
    (
        DossierStatus::DeliveryFailed,
        "Phát kết quả không thành công",
        "Phat ket qua khong thanh cong",
    ),
    (
        DossierStatus::Delivered,
        "Đã phát kết quả",
        "Da phat ket qua",
    ),
    (
        DossierStatus::ReturnedToAgency,
        "Kết quả đã chuyển trả cơ quan",
        "Ket qua da chuyen tra co quan",
    ),
    (
        DossierStatus::CollectedInPerson,
        "Đã nhận kết quả trực tiếp",
        "Da nhan ket qua truc tiep",
    ),
    (DossierStatus::Cancelled, "Yêu cầu đã hủy", "Yeu cau da huy"),
];

/// The portal's `TrangThaiHoSo` of each status that means something there; a status not listed sends
/// nothing to the portal. The one table of portal status codes.
pub const PORTAL_STATUS: [(DossierStatus, i32); 7] = [
    (DossierStatus::ReceivedByAgency, 2),
    (DossierStatus::Rejected, 3),
    (DossierStatus::Processing, 4),
    (DossierStatus::SupplementRequested, 5),
    (DossierStatus::ResultReady, 9),
    (DossierStatus::Delivered, 10),
    (DossierStatus::CollectedInPerson, 10),
];

/// `TrangThaiHoSo` of a status, or `None` when the portal is not told about it.
pub fn portal_status(status: DossierStatus) -> Option<i32> {
    PORTAL_STATUS
        .iter()
        .find(|(s, _)| *s == status)
        .map(|(_, code)| *code)
}

/// What a phone message is about: a status the dossier reached, or a notice that is no status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "topic", content = "status", rename_all = "snake_case")]
pub enum PhoneTopic {
    /// The dossier reached this status.
    Status(DossierStatus),
    /// A parcel was lost, damaged or delayed.
    Incident,
    /// The citizen's complaint was answered.
    ComplaintAnswered,
}

impl PhoneTopic {
    /// In Vietnamese with diacritics (ZNS).
    pub fn words(self) -> &'static str {
        match self {
            PhoneTopic::Status(s) => status_words(s).0,
            PhoneTopic::Incident => "Có sự cố với bưu gửi",
            PhoneTopic::ComplaintAnswered => "Khiếu nại đã được trả lời",
        }
    }

    /// Without diacritics (SMS).
    pub fn ascii_words(self) -> &'static str {
        match self {
            PhoneTopic::Status(s) => status_words(s).1,
            PhoneTopic::Incident => "Co su co voi buu gui",
            PhoneTopic::ComplaintAnswered => "Khieu nai da duoc tra loi",
        }
    }
}

/// A status in words: (with diacritics, without).
pub fn status_words(status: DossierStatus) -> (&'static str, &'static str) {
    STATUS_WORDS
        .iter()
        .find(|(s, _, _)| *s == status)
        .map_or(("", ""), |(_, vi, ascii)| (vi, ascii))
}

/// The short public tracking link of a dossier.
pub fn tracking_link(public_base_url: &str, code: &str) -> String {
    format!("{}/t/{code}", public_base_url.trim_end_matches('/'))
}

/// The SMS of a notice: `Ho so <code>: <words>. Tra cuu: <link>`, plain ASCII, at most
/// [`SMS_MAX_CHARS`] characters (the words are shortened when a long link leaves too little room).
pub fn sms_text(code: &str, topic: PhoneTopic, link: &str) -> String {
    let head = format!("Ho so {code}: ");
    let tail = format!(". Tra cuu: {link}");
    let room = SMS_MAX_CHARS.saturating_sub(head.len() + tail.len());
    let words: String = topic.ascii_words().chars().take(room).collect();
    let text = format!("{head}{words}{tail}");
    if text.len() <= SMS_MAX_CHARS {
        text
    } else {
        // A link too long to fit even without the words: the code and the words alone.
        format!("Ho so {code}: {}", topic.ascii_words())
            .chars()
            .take(SMS_MAX_CHARS)
            .collect()
    }
}

/// A local phone number (`0912345678`) in the international form ZNS wants (`84912345678`).
pub fn phone_international(local: &str) -> String {
    match local.strip_prefix('0') {
        Some(rest) => format!("84{rest}"),
        None => local.to_owned(),
    }
}

/// `yyyyMMddHHmmss` in Vietnam time, the portal's time format.
pub fn portal_time(t: DateTime<Utc>) -> String {
    crate::sla::to_local(t).format("%Y%m%d%H%M%S").to_string()
}

/// `dd/mm/yyyy` in Vietnam time.
pub fn local_date(t: DateTime<Utc>) -> String {
    crate::sla::to_local(t).format("%d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_status_has_words_with_and_without_diacritics() {
        for status in DossierStatus::ALL {
            let (vi, ascii) = status_words(*status);
            assert!(!vi.is_empty(), "{status} has no words");
            assert!(ascii.is_ascii(), "{status}: {ascii} is not ASCII");
            assert_eq!(
                STATUS_WORDS.iter().filter(|(s, _, _)| s == status).count(),
                1,
                "{status} is listed more than once"
            );
        }
        assert_eq!(
            status_words(DossierStatus::SupplementRequested).1,
            "Can bo sung ho so"
        );
    }

    #[test]
    fn portal_codes_follow_the_integration_contract() {
        use DossierStatus as S;
        assert_eq!(portal_status(S::ReceivedByAgency), Some(2));
        assert_eq!(portal_status(S::Rejected), Some(3));
        assert_eq!(portal_status(S::Processing), Some(4));
        assert_eq!(portal_status(S::SupplementRequested), Some(5));
        assert_eq!(portal_status(S::ResultReady), Some(9));
        assert_eq!(portal_status(S::Delivered), Some(10));
        assert_eq!(portal_status(S::CollectedInPerson), Some(10));
        for quiet in [
            S::PickupRequested,
            S::InTransit,
            S::OutForDelivery,
            S::Cancelled,
        ] {
            assert_eq!(portal_status(quiet), None, "{quiet}");
        }
    }

    #[test]
    fn an_sms_is_ascii_names_code_status_and_link_and_fits_160_characters() {
        let text = sms_text(
            "HS7K2M9Q",
            PhoneTopic::Status(DossierStatus::ResultReady),
            "https://hoso.example.vn/t/HS7K2M9Q",
        );
        assert_eq!(
            text,
            "Ho so HS7K2M9Q: Da co ket qua. Tra cuu: https://hoso.example.vn/t/HS7K2M9Q"
        );
        for topic in STATUS_WORDS
            .iter()
            .map(|(s, _, _)| PhoneTopic::Status(*s))
            .chain([PhoneTopic::Incident, PhoneTopic::ComplaintAnswered])
        {
            let long = format!("https://{}.vn/t/CODE", "x".repeat(100));
            for link in ["https://a.vn/t/CODE", long.as_str()] {
                let text = sms_text("CODE1234", topic, link);
                assert!(text.is_ascii(), "{text}");
                assert!(text.len() <= SMS_MAX_CHARS, "{} chars: {text}", text.len());
                assert!(text.contains("CODE1234"));
            }
        }
        let huge = format!("https://{}.vn/t/CODE", "x".repeat(300));
        let text = sms_text("CODE1234", PhoneTopic::Incident, &huge);
        assert!(text.len() <= SMS_MAX_CHARS);
    }

    #[test]
    fn phones_and_times_take_the_services_formats() {
        assert_eq!(phone_international("0912345678"), "84912345678");
        let t = Utc
            .with_ymd_and_hms(2026, 12, 5, 18, 4, 5)
            .single()
            .expect("time");
        assert_eq!(portal_time(t), "20261206010405");
        assert_eq!(local_date(t), "06/12/2026");
    }
}
