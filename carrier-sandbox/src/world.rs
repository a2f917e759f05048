//! The simulated carrier: orders, the simulated clock, each parcel's events waiting for their time, and
//! the published tracking records with their global increasing ids.
//!
//! Events are published lazily: whenever anyone looks (a request, `advance`), every event whose time has
//! come gets the next id, in time order. With the clock frozen (speed 0) and moved only by `advance`,
//! a seed gives the same records, ids and times on every run.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Offset, SecondsFormat, TimeDelta, Utc};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::config::SandboxConfig;
use crate::s10;
use crate::script::{self, Place, PlannedStep, Script, SeededRng};

/// Vietnam's offset (UTC+7), in which the carrier writes every `eventTime`.
pub fn vietnam() -> FixedOffset {
    // 7 hours is always a valid offset; the fallback is never taken.
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix())
}

/// One tracking record, exactly as the feed serves it (CARRIER.md).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingRecord {
    /// Global, increasing across all parcels.
    pub id: i64,
    /// The customer the parcel belongs to.
    pub customer_code: Arc<str>,
    /// The customer's order number (`<dossier code>-<I|O>`); empty for parcels made at a counter.
    pub order_number: Arc<str>,
    /// The S10 label.
    pub item_code: Arc<str>,
    /// When it happened, in Vietnam's time.
    pub event_time: DateTime<FixedOffset>,
    /// The post office where it happened.
    pub pos_id: Arc<str>,
    /// VNPost status code.
    pub status_code: i32,
    /// Vietnamese text of the status.
    pub status_message: Arc<str>,
    /// Free text from the postman.
    pub notes: Arc<str>,
    /// Served with an `eventTime` no reader can parse ([`crate::Fault::UnreadableRecords`]): a real
    /// carrier's record that breaks the contract.
    pub unreadable: bool,
}

/// The `eventTime` of an unreadable record.
pub const UNREADABLE_EVENT_TIME: &str = "sáng thứ Ba";

impl Serialize for TrackingRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("TrackingRecord", 9)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("customerCode", &*self.customer_code)?;
        s.serialize_field("orderNumber", &*self.order_number)?;
        s.serialize_field("itemCode", &*self.item_code)?;
        if self.unreadable {
            s.serialize_field("eventTime", UNREADABLE_EVENT_TIME)?;
        } else {
            s.serialize_field(
                "eventTime",
                &self.event_time.to_rfc3339_opts(SecondsFormat::Secs, false),
            )?;
        }
        s.serialize_field("posId", &*self.pos_id)?;
        s.serialize_field("statusCode", &self.status_code)?;
        s.serialize_field("statusMessage", &*self.status_message)?;
        s.serialize_field("notes", &*self.notes)?;
        s.end()
    }
}

/// The body of `POST /order/post`; every field optional here so a missing one is a refusal with a
/// message, as the real carrier answers, not a bare 400.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    /// Must be the sandbox's customer.
    pub customer_code: Option<String>,
    /// The idempotency key of the order.
    pub order_number: Option<String>,
    /// Cash on delivery, VND.
    pub cod_amount: Option<i64>,
    /// Sender's name.
    pub sender_name: Option<String>,
    /// Sender's address.
    pub sender_address: Option<String>,
    /// Sender's province code.
    pub sender_province: Option<String>,
    /// Sender's ward code.
    pub sender_ward: Option<String>,
    /// Sender's phone.
    pub sender_tel: Option<String>,
    /// Sender's email.
    pub sender_email: Option<String>,
    /// Receiver's name.
    pub receiver_name: Option<String>,
    /// Receiver's address.
    pub receiver_address: Option<String>,
    /// Receiver's province code.
    pub receiver_province: Option<String>,
    /// Receiver's ward code.
    pub receiver_ward: Option<String>,
    /// Receiver's phone.
    pub receiver_tel: Option<String>,
    /// Receiver's email.
    pub receiver_email: Option<String>,
    /// What the sender declares.
    pub sender_desc: Option<String>,
    /// Description of the contents.
    pub description: Option<String>,
    /// The S10 label the parcel already carries, if any.
    pub item_code: Option<String>,
}

/// The carrier's answer to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAnswer {
    /// `"00"` accepted; anything else is a refusal.
    pub status: String,
    /// Human text.
    pub message: String,
    /// The order number as given.
    pub order_number: String,
    /// The parcel's label (kept or allocated); absent on refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_code: Option<String>,
}

impl OrderAnswer {
    /// A refusal with the carrier's status and message.
    fn refusal(status: &str, message: impl Into<String>, order_number: &str) -> OrderAnswer {
        OrderAnswer {
            status: status.into(),
            message: message.into(),
            order_number: order_number.into(),
            item_code: None,
        }
    }
}

/// A count of what the simulated world holds, for dashboards and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorldStats {
    /// Orders accepted.
    pub orders: u64,
    /// Records visible in the feed.
    pub records: u64,
    /// Records with an id but not yet visible (late-record fault).
    pub held_records: u64,
    /// Events waiting for their simulated time.
    pub scheduled_events: u64,
    /// The largest id allocated so far.
    pub last_id: i64,
}

/// The simulated clock: real time times `speed`, plus whatever `advance` added.
#[derive(Debug)]
struct SimClock {
    origin_sim: DateTime<Utc>,
    origin_real: Instant,
    speed: f64,
}

impl SimClock {
    fn now(&self) -> DateTime<Utc> {
        if self.speed <= 0.0 {
            return self.origin_sim;
        }
        let elapsed_ms = self.origin_real.elapsed().as_secs_f64() * self.speed * 1000.0;
        // Saturating float → int conversion; a clock that ran for centuries stops there.
        self.origin_sim + TimeDelta::milliseconds(elapsed_ms as i64)
    }

    fn advance(&mut self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        self.origin_sim = self.now().checked_add_signed(by).unwrap_or(self.origin_sim);
        self.origin_real = Instant::now();
    }

    fn set_speed(&mut self, speed: f64) {
        self.origin_sim = self.now();
        self.origin_real = Instant::now();
        self.speed = if speed.is_finite() {
            speed.max(0.0)
        } else {
            0.0
        };
    }
}

/// An event waiting for its time.
#[derive(Debug)]
struct Scheduled {
    due: DateTime<Utc>,
    seq: u64,
    order: usize,
    generation: u32,
    step: PlannedStep,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// An accepted order and where its parcel stands.
#[derive(Debug)]
struct Order {
    customer: Arc<str>,
    number: Arc<str>,
    item: Arc<str>,
    answer: OrderAnswer,
    /// Bumped when a script replaces the path, so events of the old path are dropped.
    generation: u32,
    origin: String,
    destination: String,
    /// The latest `eventTime` published, for out-of-order injection.
    last_time: Option<DateTime<Utc>>,
    /// The request as received, for tests that check what a client sent (bulk orders keep none).
    request: Option<Box<OrderRequest>>,
}

/// A provider of bulk orders: provinces cycle through a few real ones.
const BULK_PROVINCES: [&str; 5] = ["01", "79", "48", "31", "92"];

/// The whole simulated carrier; lives behind one mutex, held only briefly and never across an await.
#[derive(Debug)]
pub struct World {
    customer_code: Arc<str>,
    other_customer_code: Arc<str>,
    failure_rate: f64,
    pace: f64,
    seed: u64,
    indicator: String,
    country: String,
    clock: SimClock,
    orders: Vec<Order>,
    by_number: HashMap<Arc<str>, usize>,
    used_items: HashSet<Arc<str>>,
    next_serial: u32,
    schedule: BinaryHeap<Reverse<Scheduled>>,
    next_seq: u64,
    records: BTreeMap<i64, TrackingRecord>,
    by_order: HashMap<(Arc<str>, Arc<str>), Vec<i64>>,
    next_id: i64,
    held: Vec<TrackingRecord>,
    /// Ids the feed never serves (per-order reads do).
    hidden: HashSet<i64>,
    max_served: i64,
    duplicate_pages: u32,
    out_of_order: u32,
    late: u32,
    missing: u32,
    unreadable: u32,
    unknown_serial: u32,
    rng: SeededRng,
    messages: HashMap<i32, Arc<str>>,
    empty: Arc<str>,
}

/// Whole seconds: records carry second precision, so scheduled times do too.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Trimmed text of a field, or `None` when missing or blank.
fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl World {
    /// A new world at the configured start time.
    pub fn new(config: &SandboxConfig) -> World {
        World {
            customer_code: config.customer_code.as_str().into(),
            other_customer_code: config.other_customer_code.as_str().into(),
            failure_rate: config.delivery_failure_rate,
            pace: if config.pace.is_finite() && config.pace > 0.0 {
                config.pace
            } else {
                1.0
            },
            seed: config.seed,
            indicator: config.item_indicator.clone(),
            country: config.item_country.clone(),
            clock: SimClock {
                origin_sim: whole_seconds(config.start_time.unwrap_or_else(Utc::now)),
                origin_real: Instant::now(),
                speed: if config.speed.is_finite() {
                    config.speed.max(0.0)
                } else {
                    0.0
                },
            },
            orders: Vec::new(),
            by_number: HashMap::new(),
            used_items: HashSet::new(),
            next_serial: config.first_serial,
            schedule: BinaryHeap::new(),
            next_seq: 0,
            records: BTreeMap::new(),
            by_order: HashMap::new(),
            next_id: 1,
            held: Vec::new(),
            hidden: HashSet::new(),
            max_served: 0,
            duplicate_pages: 0,
            out_of_order: 0,
            late: 0,
            missing: 0,
            unreadable: 0,
            unknown_serial: 90_000_000,
            rng: SeededRng::new(config.seed, "world"),
            messages: HashMap::new(),
            empty: "".into(),
        }
    }

    /// The simulated time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Simulated seconds per real second.
    pub fn speed(&self) -> f64 {
        self.clock.speed
    }

    /// Moves simulated time forward and publishes what became due.
    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.catch_up();
    }

    /// Changes how fast simulated time runs from now on.
    pub fn set_speed(&mut self, speed: f64) {
        self.clock.set_speed(speed);
    }

    /// Accepts (or refuses, or replays) an order, as `POST /order/post` does.
    pub fn create_order(&mut self, req: &OrderRequest, script: Option<&Script>) -> OrderAnswer {
        self.create(req, script, true)
    }

    /// [`World::create_order`], keeping the request or not.
    fn create(&mut self, req: &OrderRequest, script: Option<&Script>, keep: bool) -> OrderAnswer {
        self.catch_up();
        let Some(number) = present(&req.order_number) else {
            return OrderAnswer::refusal("01", "Thiếu thông tin bắt buộc: orderNumber", "");
        };
        if present(&req.customer_code) != Some(&*self.customer_code) {
            return OrderAnswer::refusal("03", "Mã khách hàng không hợp lệ", number);
        }
        if let Some(&index) = self.by_number.get(number) {
            return self.orders[index].answer.clone();
        }
        let required = [
            ("senderName", &req.sender_name),
            ("senderAddress", &req.sender_address),
            ("senderProvince", &req.sender_province),
            ("receiverName", &req.receiver_name),
            ("receiverAddress", &req.receiver_address),
            ("receiverProvince", &req.receiver_province),
        ];
        if let Some((name, _)) = required.iter().find(|(_, v)| present(v).is_none()) {
            return OrderAnswer::refusal("01", format!("Thiếu thông tin bắt buộc: {name}"), number);
        }
        // A phone to call about the parcel: the sender's or the receiver's (an office's desk may
        // have none on file).
        if present(&req.sender_tel).is_none() && present(&req.receiver_tel).is_none() {
            return OrderAnswer::refusal(
                "01",
                "Thiếu thông tin bắt buộc: senderTel hoặc receiverTel",
                number,
            );
        }
        if req.cod_amount.is_some_and(|c| c < 0) {
            return OrderAnswer::refusal("01", "codAmount không hợp lệ", number);
        }
        let item: Arc<str> = match present(&req.item_code) {
            Some(given) => match s10::canonical(given) {
                Some(code) if self.used_items.contains(code.as_str()) => {
                    return OrderAnswer::refusal("04", "Mã bưu gửi đã được sử dụng", number);
                }
                Some(code) => code.into(),
                None => {
                    return OrderAnswer::refusal("02", "Mã bưu gửi không hợp lệ", number);
                }
            },
            None => self.allocate_item_code(),
        };
        let answer = OrderAnswer {
            status: "00".into(),
            message: "Tạo đơn hàng thành công".into(),
            order_number: number.into(),
            item_code: Some(item.to_string()),
        };
        let number: Arc<str> = number.into();
        let index = self.orders.len();
        let origin = present(&req.sender_province).unwrap_or("01").to_owned();
        let destination = present(&req.receiver_province).unwrap_or("01").to_owned();
        let inter_province = origin != destination;
        self.orders.push(Order {
            customer: self.customer_code.clone(),
            number: number.clone(),
            item: item.clone(),
            answer: answer.clone(),
            generation: 0,
            origin,
            destination,
            last_time: None,
            request: keep.then(|| Box::new(req.clone())),
        });
        self.by_number.insert(number.clone(), index);
        self.used_items.insert(item);
        let plan = match script {
            Some(script) => script.plan(),
            None => {
                let mut path = script::default_path(
                    &mut SeededRng::new(self.seed, &number),
                    self.failure_rate,
                    inter_province,
                );
                if self.pace != 1.0 {
                    for step in &mut path {
                        step.after = step.after.div_f64(self.pace);
                    }
                }
                path
            }
        };
        self.schedule_plan(index, plan);
        answer
    }

    /// Creates `count` orders named `{prefix}{n:07}` (n from 1) with made-up senders and receivers,
    /// each on `script` or its default path; answers `(orderNumber, itemCode)` of each.
    pub fn create_bulk(
        &mut self,
        count: u32,
        prefix: &str,
        script: Option<&Script>,
    ) -> Vec<(String, String)> {
        let mut created = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        for n in 1..=count {
            let from = BULK_PROVINCES[usize::try_from(n).unwrap_or(0) % BULK_PROVINCES.len()];
            let to = BULK_PROVINCES[usize::try_from(n / 3).unwrap_or(0) % BULK_PROVINCES.len()];
            let req = OrderRequest {
                customer_code: Some(self.customer_code.to_string()),
                order_number: Some(format!("{prefix}{n:07}")),
                cod_amount: Some(0),
                sender_name: Some(format!("Người gửi {n}")),
                sender_address: Some("Số 1".into()),
                sender_province: Some(from.into()),
                sender_tel: Some("0900000000".into()),
                receiver_name: Some(format!("Bộ phận một cửa {n}")),
                receiver_address: Some("Số 2".into()),
                receiver_province: Some(to.into()),
                receiver_tel: Some("0900000001".into()),
                ..OrderRequest::default()
            };
            let answer = self.create(&req, script, false);
            if let Some(item) = answer.item_code {
                created.push((answer.order_number, item));
            }
        }
        created
    }

    /// Replaces what is still to happen to an order's parcel with `script`, starting now.
    pub fn set_script(&mut self, order_number: &str, script: &Script) -> bool {
        self.catch_up();
        let Some(&index) = self.by_number.get(order_number) else {
            return false;
        };
        self.orders[index].generation += 1;
        self.schedule_plan(index, script.plan());
        true
    }

    /// The next unused label of the sandbox's range.
    fn allocate_item_code(&mut self) -> Arc<str> {
        loop {
            let code: Arc<str> =
                s10::format(&self.indicator, self.next_serial, &self.country).into();
            self.next_serial = (self.next_serial + 1) % 100_000_000;
            if !self.used_items.contains(&code) {
                return code;
            }
        }
    }

    /// Queues a plan's steps from now on.
    fn schedule_plan(&mut self, index: usize, plan: Vec<PlannedStep>) {
        let generation = self.orders[index].generation;
        let mut due = whole_seconds(self.now());
        for step in plan {
            due = due
                .checked_add_signed(TimeDelta::from_std(step.after).unwrap_or(TimeDelta::zero()))
                .unwrap_or(due);
            self.next_seq += 1;
            self.schedule.push(Reverse(Scheduled {
                due,
                seq: self.next_seq,
                order: index,
                generation,
                step,
            }));
        }
    }

    /// Publishes every event whose simulated time has come, in time order.
    pub fn catch_up(&mut self) {
        let now = self.now();
        while self.schedule.peek().is_some_and(|Reverse(s)| s.due <= now) {
            let Some(Reverse(event)) = self.schedule.pop() else {
                break;
            };
            self.publish(event);
        }
    }

    /// The shared text of a status message.
    fn message(&mut self, code: i32) -> Arc<str> {
        self.messages
            .entry(code)
            .or_insert_with(|| script::status_message(code).into())
            .clone()
    }

    /// Turns a due event into a record with the next id.
    fn publish(&mut self, event: Scheduled) {
        let Some(order) = self.orders.get(event.order) else {
            return;
        };
        if order.generation != event.generation {
            return;
        }
        let mut time = event.due;
        match order.last_time {
            Some(last) if self.out_of_order > 0 => {
                self.out_of_order -= 1;
                time = last
                    - TimeDelta::minutes(i64::try_from(self.rng.between(10, 90)).unwrap_or(30));
            }
            last => {
                let order = &mut self.orders[event.order];
                order.last_time = Some(last.map_or(time, |l| l.max(time)));
            }
        }
        let order = &self.orders[event.order];
        let province = match event.step.place {
            Place::Origin | Place::Hub => &order.origin,
            Place::Destination => &order.destination,
        };
        let (customer, number, item) = (
            order.customer.clone(),
            order.number.clone(),
            order.item.clone(),
        );
        let pos_id: Arc<str> = script::post_office(province, event.step.place).into();
        let notes = if event.step.notes.is_empty() {
            self.empty.clone()
        } else {
            event.step.notes.as_str().into()
        };
        let record = TrackingRecord {
            id: self.next_id,
            customer_code: customer,
            order_number: number,
            item_code: item,
            event_time: time.with_timezone(&vietnam()),
            pos_id,
            status_code: event.step.status_code,
            status_message: self.message(event.step.status_code),
            notes,
            unreadable: self.unreadable > 0,
        };
        self.unreadable = self.unreadable.saturating_sub(1);
        self.next_id += 1;
        if self.missing > 0 {
            self.missing -= 1;
            self.hidden.insert(record.id);
        }
        if self.late > 0 {
            self.late -= 1;
            self.held.push(record);
        } else {
            self.insert(record);
        }
    }

    /// Makes a record visible in the feed and per-order reads.
    fn insert(&mut self, record: TrackingRecord) {
        let ids = self
            .by_order
            .entry((record.customer_code.clone(), record.order_number.clone()))
            .or_default();
        let sorted = ids.last().is_none_or(|&last| last < record.id);
        ids.push(record.id);
        if !sorted {
            ids.sort_unstable();
        }
        self.records.insert(record.id, record);
    }

    /// Publishes held (late) records: those below an id the feed already served, or all when `all`.
    pub fn release_held(&mut self, all: bool) -> usize {
        let max_served = self.max_served;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|r| all || r.id < max_served);
        self.held = waiting;
        let released = ready.len();
        for record in ready {
            self.insert(record);
        }
        released
    }

    /// One page of the feed: records with `id > after`, ascending, at most `size` (the duplicate
    /// fault adds up to two repeated records); and the page's `lastId`.
    pub fn feed(&mut self, after: i64, size: usize) -> (Vec<TrackingRecord>, i64) {
        self.catch_up();
        self.release_held(false);
        let duplicating = self.duplicate_pages > 0;
        let take = if duplicating {
            size.saturating_sub(2).max(1)
        } else {
            size.max(1)
        };
        let start = after.saturating_add(1);
        let fresh: Vec<TrackingRecord> = self
            .records
            .range(start..)
            .filter(|(id, _)| !self.hidden.contains(id))
            .take(take)
            .map(|(_, r)| r.clone())
            .collect();
        let mut content = Vec::with_capacity(fresh.len() + 2);
        if duplicating && let Some(first) = fresh.first() {
            self.duplicate_pages -= 1;
            if let Some((_, previous)) = self
                .records
                .range(..start)
                .rev()
                .find(|(id, _)| !self.hidden.contains(id))
            {
                content.push(previous.clone());
            }
            content.push(first.clone());
        }
        content.extend(fresh);
        let last_id = content
            .iter()
            .map(|r| r.id)
            .max()
            .unwrap_or(after)
            .max(after);
        self.max_served = self.max_served.max(last_id);
        (content, last_id)
    }

    /// One order's visible records, ascending by id.
    pub fn order_records(
        &mut self,
        customer_code: &str,
        order_number: &str,
    ) -> Vec<TrackingRecord> {
        self.catch_up();
        self.release_held(false);
        self.by_order
            .get(&(Arc::from(customer_code), Arc::from(order_number)))
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| self.records.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every visible record, ascending by id (for tests that compare a sync with the truth).
    pub fn all_records(&mut self) -> Vec<TrackingRecord> {
        self.catch_up();
        self.records.values().cloned().collect()
    }

    /// The accepted answer of an order, if it exists.
    pub fn order(&self, order_number: &str) -> Option<OrderAnswer> {
        self.by_number
            .get(order_number)
            .and_then(|&i| self.orders.get(i))
            .map(|o| o.answer.clone())
    }

    /// The request an order was created with (`None` for bulk orders and unknown numbers).
    pub fn order_request(&self, order_number: &str) -> Option<OrderRequest> {
        self.by_number
            .get(order_number)
            .and_then(|&i| self.orders.get(i))
            .and_then(|o| o.request.as_deref().cloned())
    }

    /// Arms the data faults; request failures live elsewhere.
    pub fn arm_duplicates(&mut self, pages: u32) {
        self.duplicate_pages = self.duplicate_pages.saturating_add(pages);
    }

    /// See [`crate::Fault::OutOfOrderTimes`].
    pub fn arm_out_of_order(&mut self, records: u32) {
        self.out_of_order = self.out_of_order.saturating_add(records);
    }

    /// See [`crate::Fault::LateRecords`].
    pub fn arm_late(&mut self, records: u32) {
        self.late = self.late.saturating_add(records);
    }

    /// See [`crate::Fault::MissingFromFeed`].
    pub fn arm_missing(&mut self, records: u32) {
        self.missing = self.missing.saturating_add(records);
    }

    /// See [`crate::Fault::UnreadableRecords`].
    pub fn arm_unreadable(&mut self, records: u32) {
        self.unreadable = self.unreadable.saturating_add(records);
    }

    /// Disarms every data fault and publishes held records.
    pub fn clear_faults(&mut self) {
        self.duplicate_pages = 0;
        self.out_of_order = 0;
        self.late = 0;
        self.missing = 0;
        self.unreadable = 0;
        self.release_held(true);
    }

    /// Publishes records of parcels this customer never ordered: alternately another customer's
    /// parcel and one made by hand at a counter (no order number).
    pub fn inject_unknown(&mut self, count: u32) -> Vec<TrackingRecord> {
        self.catch_up();
        let now = whole_seconds(self.now()).with_timezone(&vietnam());
        let mut out = Vec::new();
        for _ in 0..count {
            self.unknown_serial = self.unknown_serial.wrapping_add(1) % 100_000_000;
            let serial = self.unknown_serial;
            let by_hand = serial.is_multiple_of(2);
            let (customer, number, item) = if by_hand {
                (
                    self.customer_code.clone(),
                    self.empty.clone(),
                    s10::format("RR", serial, &self.country),
                )
            } else {
                (
                    self.other_customer_code.clone(),
                    Arc::from(format!("KH-{serial}-O")),
                    s10::format("CP", serial, &self.country),
                )
            };
            let code = *self.rng.pick(&[6, 7, 10, 12, 14]).unwrap_or(&6);
            let record = TrackingRecord {
                id: self.next_id,
                customer_code: customer,
                order_number: number,
                item_code: item.into(),
                event_time: now,
                pos_id: script::post_office("01", Place::Origin).into(),
                status_code: code,
                status_message: self.message(code),
                notes: self.empty.clone(),
                unreadable: false,
            };
            self.next_id += 1;
            out.push(record.clone());
            self.insert(record);
        }
        out
    }

    /// What the world holds.
    pub fn stats(&self) -> WorldStats {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        WorldStats {
            orders: count(self.orders.len()),
            records: count(self.records.len()),
            held_records: count(self.held.len()),
            scheduled_events: count(self.schedule.len()),
            last_id: self.next_id - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new(&SandboxConfig {
            start_time: DateTime::from_timestamp(1_790_000_000, 0),
            ..SandboxConfig::default()
        })
    }

    fn order(number: &str) -> OrderRequest {
        OrderRequest {
            customer_code: Some("DOSSIER".into()),
            order_number: Some(number.into()),
            sender_name: Some("A".into()),
            sender_address: Some("B".into()),
            sender_province: Some("01".into()),
            sender_tel: Some("090".into()),
            receiver_name: Some("C".into()),
            receiver_address: Some("D".into()),
            receiver_province: Some("79".into()),
            receiver_tel: Some("091".into()),
            ..OrderRequest::default()
        }
    }

    #[test]
    fn nothing_happens_until_time_moves() {
        let mut w = world();
        assert_eq!(w.create_order(&order("A-1-O"), None).status, "00");
        assert!(w.feed(0, 100).0.is_empty());
        w.advance(Duration::from_secs(30 * 24 * 3600));
        let (records, last) = w.feed(0, 100);
        assert!(records.len() >= 6);
        assert_eq!(last, records.last().map(|r| r.id).unwrap_or(0));
        assert!(
            records
                .windows(2)
                .all(|p| p[0].id < p[1].id && p[0].event_time <= p[1].event_time)
        );
    }

    #[test]
    fn late_records_appear_below_the_served_cursor() {
        let mut w = world();
        w.arm_late(1);
        w.create_order(&order("A-1-O"), None);
        w.advance(Duration::from_secs(30 * 24 * 3600));
        let (page, last) = w.feed(0, 1000);
        assert_eq!(page.first().map(|r| r.id), Some(2), "id 1 is held");
        let (after, _) = w.feed(last, 1000);
        assert!(after.is_empty());
        let (again, _) = w.feed(0, 1);
        assert_eq!(
            again.first().map(|r| r.id),
            Some(1),
            "now visible below the cursor"
        );
    }

    #[test]
    fn scripts_replace_the_rest_of_the_path() {
        let mut w = world();
        w.create_order(&order("A-1-O"), None);
        assert!(w.set_script(
            "A-1-O",
            &Script::every(Duration::from_secs(60), &[12, 15, 12, 14])
        ));
        w.advance(Duration::from_secs(3600));
        let codes: Vec<i32> = w
            .order_records("DOSSIER", "A-1-O")
            .iter()
            .map(|r| r.status_code)
            .collect();
        assert_eq!(codes, vec![12, 15, 12, 14]);
        assert!(!w.set_script("nope", &Script::every(Duration::from_secs(1), &[6])));
    }
}
