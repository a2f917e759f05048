//! The data of CARRIER.md as Rust types: the order the worker sends, the carrier's answer, and the
//! tracking records of the feed and of per-order reads.
//!
//! Reading is lenient on purpose: a real carrier that sends a number as a string, `null` notes, or a
//! time without its offset must not stop the feed. A record that cannot be read at all is kept aside
//! as a [`MalformedRecord`] (with its raw JSON, for staff) instead of failing its whole page.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// Vietnam's offset (UTC+7): the carrier's local time, assumed when a time comes without an offset.
pub fn vietnam_offset() -> FixedOffset {
    // Seven hours is always a valid offset; the fallback is never taken.
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| chrono::Utc.fix())
}

/// One parcel to create at the carrier (`POST /order/post`); the adapter adds the customer code.
///
/// Holds personal data (names, addresses, phones, emails), so its `Debug` shows only the order
/// number, the item code and the provinces.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    /// `<dossier code>-<I|O>`: the carrier dedupes on it, so retrying an order is safe.
    pub order_number: String,
    /// Cash to collect on delivery, integer VND (0 for dossiers).
    pub cod_amount: i64,
    /// Sender's name.
    pub sender_name: String,
    /// Sender's street address.
    pub sender_address: String,
    /// Sender's province code (e.g. `01`).
    pub sender_province: String,
    /// Sender's ward code.
    pub sender_ward: String,
    /// Sender's phone.
    pub sender_tel: String,
    /// Sender's email, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_email: Option<String>,
    /// Receiver's name.
    pub receiver_name: String,
    /// Receiver's street address.
    pub receiver_address: String,
    /// Receiver's province code.
    pub receiver_province: String,
    /// Receiver's ward code.
    pub receiver_ward: String,
    /// Receiver's phone.
    pub receiver_tel: String,
    /// Receiver's email, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_email: Option<String>,
    /// What the parcel is declared as (e.g. `Hồ sơ TTHC 1.001612`).
    pub sender_desc: String,
    /// Free description of the contents.
    pub description: String,
    /// The S10 label the parcel already carries; `None` lets the carrier allocate one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_code: Option<String>,
}

impl fmt::Debug for OrderRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderRequest")
            .field("order_number", &self.order_number)
            .field("item_code", &self.item_code)
            .field("sender_province", &self.sender_province)
            .field("receiver_province", &self.receiver_province)
            .finish_non_exhaustive()
    }
}

/// An accepted order: the carrier's `status` was `"00"`. Refusals are [`super::CarrierError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAnswer {
    /// `"00"`.
    pub status: String,
    /// The carrier's text.
    pub message: String,
    /// The order number, as the carrier recorded it.
    pub order_number: String,
    /// The parcel's label: the one sent, or the one the carrier allocated.
    pub item_code: String,
}

/// A VNPost status code. Kept as the number the carrier sent: codes this system does not know are
/// stored and shown, never fatal (CARRIER.md); mapping codes to dossier events is ingest's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StatusCode(pub i64);

impl StatusCode {
    /// Order created.
    pub const CREATED: StatusCode = StatusCode(1);
    /// Sent to a postman for pickup.
    pub const SENT_TO_POSTMAN: StatusCode = StatusCode(2);
    /// Pickup failed.
    pub const PICKUP_FAILED: StatusCode = StatusCode(5);
    /// Picked up.
    pub const PICKED_UP: StatusCode = StatusCode(6);
    /// Received at the post office.
    pub const AT_POST_OFFICE: StatusCode = StatusCode(7);
    /// In transit.
    pub const IN_TRANSIT: StatusCode = StatusCode(10);
    /// Out for delivery.
    pub const DELIVERING: StatusCode = StatusCode(12);
    /// Delivered.
    pub const DELIVERED: StatusCode = StatusCode(14);
    /// Delivery attempt failed.
    pub const DELIVERY_FAILED: StatusCode = StatusCode(15);
    /// Completed.
    pub const COMPLETED: StatusCode = StatusCode(19);
    /// Delivery cancelled.
    pub const DELIVERY_CANCELLED: StatusCode = StatusCode(22);

    /// Whether DOMAIN.md lists this code; unknown codes are still valid records.
    pub fn is_known(self) -> bool {
        matches!(self.0, 1 | 2 | 5 | 6 | 7 | 10 | 12 | 14 | 15 | 19 | 22)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient_i64(d).map(StatusCode)
    }
}

/// One tracking event as the carrier reports it (feed and per-order reads alike). Its `id` is the
/// carrier's event id: with the item code, the natural key that makes storing it idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingRecord {
    /// Global, increasing (but see CARRIER.md: a late record may come below the cursor).
    #[serde(alias = "Id", deserialize_with = "lenient_i64")]
    pub id: i64,
    /// Whose parcel: records of other customers can appear and must be kept for reconciliation.
    #[serde(default, alias = "CustomerCode", deserialize_with = "lenient_string")]
    pub customer_code: String,
    /// The order number sent at creation; empty for parcels made by hand at a counter.
    #[serde(default, alias = "OrderNumber", deserialize_with = "lenient_string")]
    pub order_number: String,
    /// The S10 label.
    #[serde(default, alias = "ItemCode", deserialize_with = "lenient_string")]
    pub item_code: String,
    /// When it happened, with the carrier's offset (+07:00); may be earlier than an event already seen.
    #[serde(alias = "EventTime", deserialize_with = "lenient_time")]
    pub event_time: DateTime<FixedOffset>,
    /// The post office where it happened.
    #[serde(default, alias = "PosId", deserialize_with = "lenient_string")]
    pub pos_id: String,
    /// VNPost status code.
    #[serde(alias = "StatusCode")]
    pub status_code: StatusCode,
    /// The carrier's text of the status (Vietnamese); wording may change, so never a key.
    #[serde(default, alias = "StatusMessage", deserialize_with = "lenient_string")]
    pub status_message: String,
    /// The postman's note.
    #[serde(default, alias = "Notes", deserialize_with = "lenient_string")]
    pub notes: String,
}

/// A record of a page that could not be read; kept so nothing vanishes silently.
#[derive(Clone, PartialEq)]
pub struct MalformedRecord {
    /// Its id, when at least that could be read.
    pub id: Option<i64>,
    /// Why it could not be read.
    pub reason: String,
    /// The JSON as received (may hold notes with personal data: store, never log).
    pub raw: serde_json::Value,
}

impl fmt::Debug for MalformedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MalformedRecord")
            .field("id", &self.id)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    /// The records read, in the carrier's order (ascending id, duplicates possible).
    pub records: Vec<TrackingRecord>,
    /// Records that could not be read.
    pub malformed: Vec<MalformedRecord>,
    /// The cursor after this page: the carrier's `lastId`, never below the cursor asked for, and never
    /// below an id actually received.
    pub last_id: i64,
}

impl FeedPage {
    /// Whether the page carried nothing at all (the end of the feed, for now).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.malformed.is_empty()
    }
}

/// A float that is a whole number within `i64` (`6.0`), as that integer.
fn whole(f: f64) -> Option<i64> {
    // 2^63 as a float: every whole float below it in magnitude fits an `i64`.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    // The cast is exact: `f` is whole and within range.
    (f.is_finite() && f.fract() == 0.0 && f.abs() < LIMIT).then_some(f as i64)
}

/// An `i64` sent as a number or as a numeric string; a whole number written as a float (`6.0`, as
/// some serializers write every number) is that integer, a fraction is not an integer.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(whole))
            .ok_or_else(|| de::Error::custom(format!("{n} is not an integer"))),
        serde_json::Value::String(s) => {
            let text = s.trim();
            text.parse()
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(whole))
                .ok_or_else(|| de::Error::custom(format!("`{s}` is not an integer")))
        }
        other => Err(de::Error::custom(format!(
            "expected an integer, found {other}"
        ))),
    }
}

/// A string that may come as `null` or as a number.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

/// A time in RFC 3339, or a local time without offset (taken as Vietnam's), as carriers write them.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
    let text = String::deserialize(d)?;
    parse_event_time(&text).ok_or_else(|| de::Error::custom(format!("`{text}` is not a time")))
}

/// Reads an `eventTime`; see [`TrackingRecord::event_time`]. Besides RFC 3339, the forms carriers
/// write: an offset without its colon (`+0700`), a space for the `T`, and Vietnam's local time
/// without an offset.
pub fn parse_event_time(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t);
    }
    const WITH_OFFSET: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"];
    if let Some(t) = WITH_OFFSET
        .iter()
        .find_map(|format| DateTime::parse_from_str(text, format).ok())
    {
        return Some(t);
    }
    const LOCAL: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
    ];
    LOCAL.iter().find_map(|format| {
        NaiveDateTime::parse_from_str(text, format)
            .ok()
            .and_then(|naive| vietnam_offset().from_local_datetime(&naive).single())
    })
}

/// Reads the records of a tracking answer one by one; unreadable ones become [`MalformedRecord`]s.
pub(crate) fn read_records(
    content: Vec<serde_json::Value>,
) -> (Vec<TrackingRecord>, Vec<MalformedRecord>) {
    let mut records = Vec::with_capacity(content.len());
    let mut malformed = Vec::new();
    for raw in content {
        match TrackingRecord::deserialize(&raw) {
            Ok(record) => records.push(record),
            Err(error) => malformed.push(MalformedRecord {
                id: domain::ops::carrier_ingest::record_id(&raw),
                reason: error.to_string(),
                raw,
            }),
        }
    }
    (records, malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_the_contract_read_exactly() {
        let raw = serde_json::json!({"id": 1042, "customerCode": "C", "orderNumber": "X-I",
            "itemCode": "EB000717595VN", "eventTime": "2026-11-23T09:15:00+07:00", "posId": "100000",
            "statusCode": 6, "statusMessage": "Đã nhận hàng", "notes": ""});
        let r: TrackingRecord = serde_json::from_value(raw).expect("contract record");
        assert_eq!(r.id, 1042);
        assert_eq!(r.status_code, StatusCode::PICKED_UP);
        assert_eq!(r.event_time.to_rfc3339(), "2026-11-23T09:15:00+07:00");
    }

    #[test]
    fn sloppy_records_still_read_and_broken_ones_are_set_aside() {
        let content = vec![
            serde_json::json!({"Id": "7", "CustomerCode": "C", "EventTime": "2026-11-23 09:15:00",
                "StatusCode": "99", "notes": null}),
            serde_json::json!({"id": 8, "eventTime": "yesterday", "statusCode": 6}),
        ];
        let (records, malformed) = read_records(content);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].id, 7);
        assert_eq!(records[0].status_code, StatusCode(99));
        assert!(!records[0].status_code.is_known());
        assert_eq!(
            records[0].event_time.to_rfc3339(),
            "2026-11-23T09:15:00+07:00"
        );
        assert_eq!(malformed.len(), 1);
        assert_eq!(malformed[0].id, Some(8));
    }

    #[test]
    fn offsets_without_a_colon_and_whole_float_codes_read() {
        let raw = serde_json::json!({"id": 1043.0, "itemCode": "EB000717595VN",
            "eventTime": "2026-11-23T09:15:00+0700", "statusCode": 6.0});
        let r: TrackingRecord = serde_json::from_value(raw).expect("a readable record");
        assert_eq!(r.id, 1043);
        assert_eq!(r.status_code, StatusCode::PICKED_UP);
        assert_eq!(r.event_time.to_rfc3339(), "2026-11-23T09:15:00+07:00");
        for text in ["2026-11-23 09:15:00+0700", "2026-11-23 09:15:00.5+07:00"] {
            let t = parse_event_time(text).expect(text);
            assert_eq!(t.offset().local_minus_utc(), 7 * 3600, "{text}");
        }
        // A fraction is no status code, and a code too large is none either.
        for code in [
            serde_json::json!(6.5),
            serde_json::json!(1e30),
            serde_json::json!("6.5"),
        ] {
            let raw = serde_json::json!({"id": 1, "eventTime": "2026-11-23T09:15:00+07:00",
                "statusCode": code});
            let (records, malformed) = read_records(vec![raw]);
            assert!(records.is_empty(), "{code}");
            assert_eq!(malformed.len(), 1, "{code}");
        }
    }

    #[test]
    fn order_debug_hides_personal_data() {
        let order = OrderRequest {
            order_number: "X-O".into(),
            cod_amount: 0,
            sender_name: "Nguyễn Văn A".into(),
            sender_address: "1 Tràng Tiền".into(),
            sender_province: "01".into(),
            sender_ward: "00070".into(),
            sender_tel: "0912345678".into(),
            sender_email: None,
            receiver_name: "UBND".into(),
            receiver_address: "2".into(),
            receiver_province: "01".into(),
            receiver_ward: "00073".into(),
            receiver_tel: "0243".into(),
            receiver_email: None,
            sender_desc: String::new(),
            description: String::new(),
            item_code: None,
        };
        let shown = format!("{order:?}");
        assert!(!shown.contains("Nguyễn") && !shown.contains("0912345678"));
        assert!(shown.contains("X-O"));
    }
}
