//! The pages' two languages: Vietnamese first, English on `?lang=en` (remembered in a cookie). Texts sit
//! beside each other where they are used (`lang.t("…", "…")`); this module holds the vocabularies that
//! many pages share: statuses, timeline entries, field names and the wording of the domain's errors.

use domain::ops::{FieldError, OpError};
use entity::enums::{
    DossierStatus, EventKind, FeeExemption, HandoverDirection, HandoverStatus, LegDirection,
    LegStatus, ScanEvent, ServiceMode,
};
use poem::{FromRequest, Request, RequestBody};

/// The cookie that remembers the language chosen with `?lang=`.
pub const LANG_COOKIE: &str = "dossier_lang";

/// A page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// `vi` or `en`, for `<html lang>` and links.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The text in this language.
    pub fn t(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// A language named in a query or a cookie.
    pub fn parse(value: &str) -> Option<Lang> {
        match value.trim() {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language asked for in `?lang=`, if any.
    pub fn from_query(req: &Request) -> Option<Lang> {
        req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == "lang")
                .and_then(|(_, v)| Lang::parse(v))
        })
    }

    /// The page's language: `?lang=`, else the cookie, else Vietnamese.
    pub fn of(req: &Request) -> Lang {
        Lang::from_query(req)
            .or_else(|| super::session::cookie(req, LANG_COOKIE).and_then(|v| Lang::parse(&v)))
            .unwrap_or_default()
    }

    /// A dossier's status, for people.
    pub fn status(self, status: DossierStatus) -> &'static str {
        use DossierStatus as S;
        match status {
            S::PickupRequested => self.t("Đã yêu cầu nhận hồ sơ", "Pickup requested"),
            S::PickupScheduled => self.t("Đã hẹn lịch nhận hồ sơ", "Pickup scheduled"),
            S::PickupFailed => self.t("Chưa nhận được hồ sơ", "Pickup failed"),
            S::PickedUp => self.t("Bưu điện đã nhận hồ sơ", "Picked up by the post"),
            S::InTransit => self.t("Đang chuyển đến cơ quan", "On its way to the agency"),
            S::ReceivedByAgency => self.t("Cơ quan đã tiếp nhận", "Received by the agency"),
            S::Processing => self.t("Đang giải quyết", "Being processed"),
            S::SupplementRequested => self.t("Cần bổ sung hồ sơ", "Supplements requested"),
            S::Rejected => self.t("Bị từ chối", "Refused"),
            S::AwaitingResult => self.t("Chờ kết quả", "Awaiting the result"),
            S::ResultReady => self.t("Đã có kết quả", "Result ready"),
            S::ResultWithPost => self.t("Bưu điện đã nhận kết quả", "Result with the post"),
            S::OutForDelivery => self.t("Đang phát kết quả", "Out for delivery"),
            S::DeliveryFailed => self.t("Phát không thành công", "Delivery failed"),
            S::Delivered => self.t("Đã phát kết quả", "Delivered"),
            S::ReturnedToAgency => self.t("Đã trả lại cơ quan", "Returned to the agency"),
            S::CollectedInPerson => self.t("Đã nhận trực tiếp", "Collected in person"),
            S::Cancelled => self.t("Đã hủy", "Cancelled"),
        }
    }

    /// The CSS class of a status badge: what kind of state the dossier is in.
    pub fn status_tone(status: DossierStatus) -> &'static str {
        use DossierStatus as S;
        match status {
            S::Delivered | S::CollectedInPerson => "ok",
            S::PickupFailed
            | S::SupplementRequested
            | S::Rejected
            | S::DeliveryFailed
            | S::ReturnedToAgency => "warn",
            S::Cancelled => "muted",
            _ => "info",
        }
    }

    /// A timeline entry's kind, for people.
    pub fn event(self, kind: EventKind) -> &'static str {
        use EventKind as K;
        match kind {
            K::Requested => self.t("Gửi yêu cầu nhận hồ sơ", "Pickup requested"),
            K::RegisteredAtDesk => self.t("Đăng ký tại bộ phận một cửa", "Registered at the desk"),
            K::PickupScheduled => self.t("Hẹn lịch nhận hồ sơ", "Pickup scheduled"),
            K::PickupFailed => self.t("Nhận hồ sơ không thành công", "Pickup failed"),
            K::PickedUp => self.t("Bưu điện nhận hồ sơ", "Picked up"),
            K::AcceptedAtOffice => self.t("Nhập bưu cục", "Accepted at the post office"),
            K::Departed => self.t("Đi khỏi bưu cục", "Departed"),
            K::Arrived => self.t("Đến bưu cục", "Arrived"),
            K::ReceivedByAgency => self.t("Cơ quan tiếp nhận hồ sơ", "Received by the agency"),
            K::Accepted => self.t("Hồ sơ được thụ lý", "Accepted for processing"),
            K::SupplementRequested => self.t("Yêu cầu bổ sung", "Supplements requested"),
            K::Rejected => self.t("Từ chối hồ sơ", "Refused"),
            K::ResultReady => self.t("Có kết quả", "Result ready"),
            K::HandedToPost => self.t("Giao kết quả cho bưu điện", "Result handed to the post"),
            K::OutForDelivery => self.t("Đang phát", "Out for delivery"),
            K::DeliveryFailed => self.t("Phát không thành công", "Delivery failed"),
            K::Delivered => self.t("Phát thành công", "Delivered"),
            K::ReturnedToAgency => self.t("Trả lại cơ quan", "Returned to the agency"),
            K::CollectedInPerson => self.t("Nhận trực tiếp tại cơ quan", "Collected in person"),
            K::Cancelled => self.t("Hủy yêu cầu", "Cancelled"),
            K::Overdue => self.t("Quá hạn", "Overdue"),
            K::HandoverCreated => self.t("Lập biên bản giao nhận", "Handover record drafted"),
            K::Incident => self.t("Sự cố bưu gửi", "Parcel incident"),
            K::IdentityConfirmed => self.t("Xác minh người nhận", "Recipient's identity confirmed"),
            K::SupplementSubmitted => self.t("Gửi hồ sơ bổ sung", "Supplement sent by post"),
            K::DueDateMoved => self.t("Thay đổi ngày hẹn", "Due date moved"),
        }
    }

    /// A service mode, for people.
    pub fn mode(self, mode: ServiceMode) -> &'static str {
        match mode {
            ServiceMode::Send => self.t(
                "Gửi hồ sơ (nhận kết quả trực tiếp)",
                "Send the dossier (collect the result in person)",
            ),
            ServiceMode::Return => self.t("Chỉ trả kết quả", "Result delivered home only"),
            ServiceMode::SendAndReturn => self.t(
                "Gửi hồ sơ và nhận kết quả tại nhà",
                "Send the dossier and get the result at home",
            ),
        }
    }

    /// A fee exemption, for people.
    pub fn exemption(self, exemption: FeeExemption) -> &'static str {
        match exemption {
            FeeExemption::None => self.t("Không", "None"),
            FeeExemption::Revolutionary => self.t(
                "Người hoạt động cách mạng trước 1945 (miễn phí)",
                "Pre-1945 revolutionary (free)",
            ),
            FeeExemption::HeroicMother => self.t(
                "Bà mẹ Việt Nam anh hùng (miễn phí)",
                "Vietnamese Heroic Mother (free)",
            ),
            FeeExemption::WarInvalid => self.t("Thương binh (giảm 50%)", "War invalid (50% off)"),
            FeeExemption::Hero => self.t(
                "Anh hùng lực lượng vũ trang (giảm 50%)",
                "Hero of the armed forces (50% off)",
            ),
        }
    }

    /// A parcel's direction, for people.
    pub fn direction(self, direction: LegDirection) -> &'static str {
        match direction {
            LegDirection::Inbound => self.t("Hồ sơ gửi đến cơ quan", "Dossier to the agency"),
            LegDirection::Outbound => self.t("Kết quả gửi về", "Result sent home"),
        }
    }

    /// Where a supplement's pickup stands (`stage` in a first pickup's words), for the badge of its
    /// card: "Bổ sung · Đã hẹn lịch nhận hồ sơ".
    pub fn supplement_stage(self, stage: DossierStatus) -> String {
        format!(
            "{} · {}",
            self.t("Bổ sung", "Supplement"),
            self.status(stage)
        )
    }

    /// A parcel's status, for people.
    pub fn leg_status(self, status: LegStatus) -> &'static str {
        match status {
            LegStatus::Planned => self.t("Chưa gửi", "Not sent yet"),
            LegStatus::PickupScheduled => self.t("Đã hẹn lịch nhận", "Pickup scheduled"),
            LegStatus::PickupFailed => self.t("Chưa nhận được", "Pickup failed"),
            LegStatus::PickedUp => self.t("Đã nhận gửi", "Picked up"),
            LegStatus::InTransit => self.t("Đang vận chuyển", "In transit"),
            LegStatus::HandedOver => self.t("Đã bàn giao", "Handed over"),
            LegStatus::OutForDelivery => self.t("Đang phát", "Out for delivery"),
            LegStatus::DeliveryFailed => self.t("Phát không thành công", "Delivery failed"),
            LegStatus::Delivered => self.t("Đã phát", "Delivered"),
            LegStatus::Returned => self.t("Đã chuyển hoàn", "Returned"),
            LegStatus::Cancelled => self.t("Đã hủy", "Cancelled"),
        }
    }

    /// A scan event, for the scan page's choice.
    pub fn scan_event(self, event: ScanEvent) -> &'static str {
        match event {
            ScanEvent::AcceptedAtOffice => self.t("Nhập bưu cục", "Accepted at the office"),
            ScanEvent::Departed => self.t("Đi khỏi bưu cục", "Departed"),
            ScanEvent::Arrived => self.t("Đến bưu cục", "Arrived"),
            ScanEvent::OutForDelivery => self.t("Đi phát", "Out for delivery"),
            ScanEvent::DeliveryFailed => self.t("Phát không thành công", "Delivery failed"),
            ScanEvent::Delivered => self.t("Phát thành công", "Delivered"),
        }
    }

    /// A handover record's direction, for people.
    pub fn handover_direction(self, direction: HandoverDirection) -> &'static str {
        match direction {
            HandoverDirection::ToAgency => {
                self.t("Bưu điện giao hồ sơ cho cơ quan", "Post to agency")
            }
            HandoverDirection::ToPost => {
                self.t("Cơ quan giao kết quả cho bưu điện", "Agency to post")
            }
        }
    }

    /// A handover record's status, for people.
    pub fn handover_status(self, status: HandoverStatus) -> &'static str {
        match status {
            HandoverStatus::Pending => self.t("Chờ ký nhận", "Waiting for signature"),
            HandoverStatus::Confirmed => self.t("Đã ký nhận", "Signed"),
        }
    }

    /// The label of a field the domain named in a validation error, for messages listed apart from
    /// their inputs.
    pub fn field(self, field: &str) -> String {
        let base = field.split('[').next().unwrap_or(field);
        let label = match base {
            "procedure_code" => self.t("Thủ tục", "Procedure"),
            "agency_code" => self.t("Cơ quan", "Agency"),
            "service_mode" => self.t("Hình thức", "Service"),
            "applicant" => self.t("Người nộp", "Applicant"),
            "applicant.full_name" => self.t("Họ và tên", "Full name"),
            "applicant.phone" => self.t("Số điện thoại", "Phone"),
            "applicant.email" => self.t("Thư điện tử", "Email"),
            "applicant.id_number" => self.t("Số CCCD/CMND", "Identity number"),
            "pickup_address" | "pickup_address.line" => {
                self.t("Địa chỉ nhận hồ sơ", "Pickup address")
            }
            "pickup_address.ward_code" => self.t("Mã phường/xã nhận hồ sơ", "Pickup ward code"),
            "pickup_address.province_code" => self.t("Tỉnh/thành nhận hồ sơ", "Pickup province"),
            "return_address" | "return_address.line" => {
                self.t("Địa chỉ nhận kết quả", "Return address")
            }
            "return_address.ward_code" => self.t("Mã phường/xã nhận kết quả", "Return ward code"),
            "return_address.province_code" => self.t("Tỉnh/thành nhận kết quả", "Return province"),
            "documents" => self.t("Thành phần hồ sơ", "Documents"),
            "fee_exemption" => self.t("Miễn, giảm cước", "Fee exemption"),
            "date" => self.t("Ngày hẹn", "Date"),
            "window" => self.t("Buổi", "Half-day"),
            "documents_checked" => self.t("Kiểm tra hồ sơ", "Documents checked"),
            "fee_collected_vnd" => self.t("Số tiền thu", "Amount collected"),
            "item_code" => self.t("Số hiệu bưu gửi", "Item code"),
            "reason" => self.t("Lý do", "Reason"),
            "outcome" => self.t("Kết quả phát", "Outcome"),
            "recipient" | "recipient.full_name" => self.t("Người nhận", "Recipient"),
            "recipient.id_number" => self.t(
                "Giấy tờ tùy thân người nhận",
                "Recipient's identity document",
            ),
            "decision" => self.t("Quyết định", "Decision"),
            "result_due_date" => self.t("Ngày hẹn trả kết quả", "Result due date"),
            "dossier_codes" => self.t("Hồ sơ", "Dossiers"),
            "label" | "scan_id" => self.t("Mã quét", "Scanned code"),
            "event" => self.t("Sự kiện", "Event"),
            "location" => self.t("Địa điểm", "Location"),
            "note" => self.t("Ghi chú", "Note"),
            _ => return field.to_owned(),
        };
        label.to_owned()
    }

    /// What the domain said about one field, in this language: the common rules are worded in
    /// Vietnamese; anything more specific keeps the domain's own (English) explanation after a
    /// Vietnamese lead.
    pub fn field_message(self, error: &FieldError) -> String {
        let message = error.message.as_str();
        if self == Lang::En {
            return message.to_owned();
        }
        let vi = if message == "is required" || message == "must not be empty" {
            "Vui lòng điền thông tin này."
        } else if message.starts_with("is required") {
            "Vui lòng điền hoặc chọn thông tin này."
        } else if error.field == "applicant.phone" {
            "Số điện thoại chưa đúng: 0 và 9–10 chữ số (hoặc +84…)."
        } else if error.field == "applicant.email" {
            "Địa chỉ thư điện tử chưa đúng, ví dụ an@example.vn."
        } else if error.field == "applicant.id_number" {
            "Số định danh gồm 12 chữ số (CCCD) hoặc 9 chữ số (CMND)."
        } else if message == "must be 5 digits" {
            "Mã phường/xã gồm 5 chữ số."
        } else if message == "must be 2 digits" {
            "Mã tỉnh/thành gồm 2 chữ số."
        } else if message == "must list at least one document" {
            "Vui lòng chọn ít nhất một giấy tờ (bản chính hoặc bản sao)."
        } else if message == "must be an original or at least one copy" {
            "Giấy tờ cần có bản chính hoặc ít nhất một bản sao."
        } else if message.starts_with("no post office serves") {
            "Chưa có bưu cục phục vụ tỉnh/thành này."
        } else if message.contains("characters long") {
            "Nội dung quá dài."
        } else {
            return format!("Chưa hợp lệ ({message}).");
        };
        vi.to_owned()
    }

    /// A refusal of the domain, as one sentence for a banner.
    pub fn op_error(self, error: &OpError) -> String {
        match error {
            OpError::NotFound(what) => match self {
                Lang::Vi => format!("Không tìm thấy ({what})."),
                Lang::En => format!("No such {what}."),
            },
            OpError::Validation(errors) => {
                let parts: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", self.field(&e.field), self.field_message(e)))
                    .collect();
                match self {
                    Lang::Vi => format!("Thông tin chưa hợp lệ. {}", parts.join(" · ")),
                    Lang::En => format!("Some fields are invalid. {}", parts.join(" · ")),
                }
            }
            OpError::InvalidTransition(t) => match self {
                Lang::Vi => format!(
                    "Không thực hiện được ở trạng thái hiện tại của hồ sơ ({}).",
                    self.status(t.from)
                ),
                Lang::En => format!(
                    "This cannot be done while the dossier is “{}”.",
                    self.status(t.from)
                ),
            },
            OpError::TransitionRefused(message) | OpError::Conflict(message) => match self {
                Lang::Vi => format!("Không thực hiện được: {message}"),
                Lang::En => format!("Not done: {message}"),
            },
            OpError::Forbidden(message) => match self {
                Lang::Vi => format!("Không có quyền: {message}"),
                Lang::En => format!("Not allowed: {message}"),
            },
            OpError::TooMany {
                retry_after_secs, ..
            } => match self {
                Lang::Vi => format!(
                    "Số điện thoại này đã có quá nhiều yêu cầu đang chờ bưu điện đến nhận. \
                     Vui lòng thử lại sau {} phút, hoặc hủy một yêu cầu cũ.",
                    retry_after_secs.div_ceil(60)
                ),
                Lang::En => format!(
                    "This phone number has too many requests waiting for the post to collect them. \
                     Please try again in {} minutes, or cancel an earlier request.",
                    retry_after_secs.div_ceil(60)
                ),
            },
            OpError::Db(_) => self
                .t(
                    "Có lỗi ở phía hệ thống; lỗi đã được ghi lại. Vui lòng thử lại sau.",
                    "Something went wrong on our side; it has been logged. Please try again later.",
                )
                .to_owned(),
        }
    }
}

impl<'a> FromRequest<'a> for Lang {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Lang::of(req))
    }
}

/// Whole VND with dots between thousands, as Vietnamese prices are written: `26.000 ₫`.
pub fn vnd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 6);
    if amount < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    out.push_str(" ₫");
    out
}

/// A stored instant as a person in Vietnam reads it: `24/11/2026 09:05`.
pub fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    domain::sla::to_local(t)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// A stored instant's local date: `24/11/2026`.
pub fn local_date(t: chrono::DateTime<chrono::Utc>) -> String {
    domain::sla::to_local(t).format("%d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn money_is_written_with_dots_between_thousands() {
        assert_eq!(vnd(0), "0 ₫");
        assert_eq!(vnd(8_000), "8.000 ₫");
        assert_eq!(vnd(426_000), "426.000 ₫");
        assert_eq!(vnd(1_234_567), "1.234.567 ₫");
    }

    #[test]
    fn every_status_reads_differently_in_each_language() {
        for status in DossierStatus::ALL {
            assert_ne!(Lang::Vi.status(*status), Lang::En.status(*status));
        }
        for kind in EventKind::ALL {
            assert!(!Lang::Vi.event(*kind).is_empty());
        }
    }

    #[test]
    fn common_field_errors_are_worded_in_vietnamese() {
        let e = FieldError::new("applicant.full_name", "is required");
        assert_eq!(Lang::Vi.field_message(&e), "Vui lòng điền thông tin này.");
        assert_eq!(Lang::En.field_message(&e), "is required");
        let e = FieldError::new("applicant.phone", "phone number must start with 0 or +84");
        assert!(Lang::Vi.field_message(&e).starts_with("Số điện thoại"));
    }
}
