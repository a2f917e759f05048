//! The soak's load: citizens, tracking readers and staff, each a task with one keep-alive connection
//! of its own, moving dossiers through their life at a fixed rate; every answer is counted by kind
//! (`stats.rs`).
//!
//! A dossier's way through the load (what the service is asked, and by whom):
//! 1. a citizen requests a pickup (`POST /api/v1/dossiers`, with an e-mail address, a phone of its
//!    own and an `Idempotency-Key`); one in twenty cancels it at once with the access token;
//! 2. a post office clerk books one request in four for tomorrow afternoon, then records every pickup
//!    (`…/pickup`, the fee collected): the inbound parcel gets its item code and its carrier order;
//! 3. the office's scanner scans a third of the parcels `departed` one by one (`POST /api/v1/scans`),
//!    a third in offline batches (`POST /api/v1/scans/batch`, every third batch uploaded twice: the
//!    second time all duplicates), and leaves the last third to the carrier's feed;
//! 4. every few seconds the office draws up a handover record to each agency and the agency signs it
//!    (`received_by_agency`: the citizen is e-mailed);
//! 5. an agency clerk rules (one in twenty refused), records the result (`result_ready`: e-mailed),
//!    and for the `send` dossiers (one in ten) marks it collected at the desk;
//! 6. every few seconds each agency hands its results to the post and the office signs
//!    (`result_with_post`: the outbound parcel's carrier order); from there the carrier's events,
//!    read by the worker, carry the dossier to `delivered` (each step e-mailed), and the office confirms
//!    who signed for the results the carrier reported delivered (`GET /api/v1/exceptions`, then
//!    `…/delivery/identity`).
//!
//! Meanwhile readers follow random dossiers (`GET /api/v1/track/{code}`, one in ten by the parcel's
//! item code) and citizens read their own (`GET /api/v1/dossiers/{code}` with the token, one read in
//! ten), and the clerks read their worklists now and then.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::stats::{Kind, Stats};

/// One keep-alive connection to the server, counting every answer.
struct Api {
    client: reqwest::Client,
    base: String,
    stats: Arc<Stats>,
}

impl Api {
    fn new(base: &str, stats: Arc<Stats>) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .tcp_nodelay(true)
                .build()?,
            base: base.to_owned(),
            stats,
        })
    }

    fn get(&self, path: &str, bearer: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.client.get(format!("{}{path}", self.base));
        match bearer {
            Some(b) => req.bearer_auth(b),
            None => req,
        }
    }

    fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let req = self.client.post(format!("{}{path}", self.base)).json(body);
        match bearer {
            Some(b) => req.bearer_auth(b),
            None => req,
        }
    }

    /// Sends `req`; its JSON answer when the status is `expect`, else `None` (counted as an error, with
    /// the status and the API's error code — never the body, which may carry personal data).
    async fn send(&self, kind: Kind, req: reqwest::RequestBuilder, expect: u16) -> Option<Value> {
        let started = Instant::now();
        let answer = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                match res.bytes().await {
                    Ok(body) => Ok((status, body)),
                    Err(e) => Err(format!("{}: reading the answer failed: {e}", kind.name())),
                }
            }
            Err(e) => Err(format!(
                "{}: {}",
                kind.name(),
                if e.is_timeout() {
                    "no answer within 30 s".to_owned()
                } else if e.is_connect() {
                    "connection refused".to_owned()
                } else {
                    "the connection failed".to_owned()
                }
            )),
        };
        let latency = started.elapsed();
        match answer {
            Ok((status, body)) if status == expect => {
                let value = if body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&body).unwrap_or(Value::Null)
                };
                self.stats.record(kind, latency, None);
                Some(value)
            }
            Ok((status, body)) => {
                let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let code = error["error"]["code"].as_str().unwrap_or("-");
                self.stats.record(
                    kind,
                    latency,
                    Some(format!(
                        "{}: {status} (expected {expect}), error code {code}",
                        kind.name()
                    )),
                );
                None
            }
            Err(what) => {
                self.stats.record(kind, latency, Some(what));
                None
            }
        }
    }
}

/// How far the load has brought a dossier: the statuses the database may show for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Stage {
    Requested,
    Scheduled,
    Cancelled,
    PickedUp,
    AtAgency,
    Processing,
    Rejected,
    ResultReady,
    Collected,
    WithPost,
    /// A request about it went wrong: its status is not known (the run fails anyway).
    Unknown,
}

impl Stage {
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Requested => "requested",
            Stage::Scheduled => "scheduled",
            Stage::Cancelled => "cancelled",
            Stage::PickedUp => "picked up",
            Stage::AtAgency => "at the agency",
            Stage::Processing => "processing",
            Stage::Rejected => "rejected",
            Stage::ResultReady => "result ready",
            Stage::Collected => "collected",
            Stage::WithPost => "with the post",
            Stage::Unknown => "unknown",
        }
    }

    /// Whether the database may show `status` for a dossier the load brought this far. Once with the
    /// post, the carrier moves it on its own.
    pub fn allows(self, status: &str) -> bool {
        match self {
            Stage::Requested => status == "pickup_requested",
            Stage::Scheduled => status == "pickup_scheduled",
            Stage::Cancelled => status == "cancelled",
            Stage::PickedUp => matches!(status, "picked_up" | "in_transit"),
            Stage::AtAgency => status == "received_by_agency",
            Stage::Processing => status == "processing",
            Stage::Rejected => status == "rejected",
            Stage::ResultReady => status == "result_ready",
            Stage::Collected => status == "collected_in_person",
            Stage::WithPost => matches!(
                status,
                "result_with_post"
                    | "out_for_delivery"
                    | "delivery_failed"
                    | "delivered"
                    | "returned_to_agency"
            ),
            Stage::Unknown => true,
        }
    }
}

/// A dossier the load made.
pub struct Dossier {
    pub code: String,
    token: String,
    agency: usize,
    send_only: bool,
    total_vnd: i64,
    item_code: Option<String>,
    pub stage: Stage,
}

/// Every dossier the load made, and the queues of work between the roles.
#[derive(Default)]
pub struct Pipeline {
    pub dossiers: Mutex<Vec<Dossier>>,
    /// Pickup requests waiting for the office, with when they were made.
    requested: Mutex<VecDeque<(usize, Instant)>>,
    /// Parcels picked up, waiting for the scanner.
    picked: Mutex<VecDeque<usize>>,
    /// Per agency: parcels ready to be handed over to it.
    scanned: Vec<Mutex<Vec<usize>>>,
    /// Dossiers at an agency, waiting for its clerk.
    received: Mutex<VecDeque<usize>>,
    /// Per agency: results ready to be handed to the post.
    ready: Vec<Mutex<Vec<usize>>>,
    /// Scans the service stored (accepted, not duplicates): what the `scans` table must hold.
    pub scans_accepted: AtomicU64,
}

impl Pipeline {
    pub fn new(agencies: usize) -> Self {
        Self {
            scanned: (0..agencies).map(|_| Mutex::default()).collect(),
            ready: (0..agencies).map(|_| Mutex::default()).collect(),
            ..Self::default()
        }
    }

    fn set_stage(&self, idx: usize, stage: Stage) {
        if let Ok(mut dossiers) = self.dossiers.lock()
            && let Some(d) = dossiers.get_mut(idx)
        {
            d.stage = stage;
        }
    }

    /// How many dossiers are at each stage.
    pub fn stages(&self) -> Vec<(Stage, u64)> {
        let mut counts: Vec<(Stage, u64)> = Vec::new();
        if let Ok(dossiers) = self.dossiers.lock() {
            for d in dossiers.iter() {
                match counts.iter_mut().find(|(s, _)| *s == d.stage) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((d.stage, 1)),
                }
            }
        }
        counts
    }

    /// The codes and stages of every dossier made.
    pub fn snapshot(&self) -> Vec<(String, Stage)> {
        self.dossiers
            .lock()
            .map(|d| d.iter().map(|d| (d.code.clone(), d.stage)).collect())
            .unwrap_or_default()
    }
}

/// SplitMix64: a well-spread number from a counter, for choices that need no real randomness.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The applicant's name and identity number on every request (the office checks them on delivery).
const FULL_NAME: &str = "Nguyễn Văn An";
const ID_NUMBER: &str = "001090012345";

/// What the load needs to know.
#[derive(Clone)]
pub struct LoadConfig {
    pub base: String,
    /// Pickup requests per second, over all citizens.
    pub rate: f64,
    /// Reads per second (tracking and citizens' own), over all readers.
    pub read_rate: f64,
    pub citizens: usize,
    pub readers: usize,
    /// Clerks per role (post office, agencies).
    pub clerks: usize,
    /// How often handover records are drawn up, each way.
    pub handover_every: Duration,
    pub postal_key: String,
    /// Agency codes with their keys.
    pub agencies: Vec<(String, String)>,
}

/// The running load: its tasks and the flag that stops them.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Load {
    /// Starts every task.
    pub fn start(
        config: &LoadConfig,
        pipeline: &Arc<Pipeline>,
        stats: &Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        let ctx = || -> anyhow::Result<Ctx> {
            Ok(Ctx {
                api: Api::new(&config.base, stats.clone())?,
                config: config.clone(),
                pipeline: pipeline.clone(),
                stop: stop.clone(),
            })
        };
        let citizens = config.citizens.max(1);
        for i in 0..citizens {
            let period = Duration::from_secs_f64(citizens as f64 / config.rate.max(0.001));
            tasks.push(tokio::spawn(citizen(ctx()?, period, i)));
        }
        let readers = config.readers.max(1);
        for i in 0..readers {
            let period = Duration::from_secs_f64(readers as f64 / config.read_rate.max(0.001));
            tasks.push(tokio::spawn(reader(ctx()?, period, i)));
        }
        for i in 0..config.clerks.max(1) {
            tasks.push(tokio::spawn(postal_clerk(ctx()?, i)));
            tasks.push(tokio::spawn(agency_clerk(ctx()?, i)));
        }
        tasks.push(tokio::spawn(scanner(ctx()?)));
        tasks.push(tokio::spawn(handovers(ctx()?)));
        Ok(Self { stop, tasks })
    }

    /// Stops every task after the step it is in, and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await??;
        }
        Ok(())
    }
}

/// What every task holds: its connection, the settings, the shared dossiers and the stop flag.
struct Ctx {
    api: Api,
    config: LoadConfig,
    pipeline: Arc<Pipeline>,
    stop: Arc<AtomicBool>,
}

impl Ctx {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps `d`, or less when the run stops meanwhile.
    async fn nap(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
    }

    fn agency_key(&self, agency: usize) -> &str {
        self.config
            .agencies
            .get(agency)
            .map_or("", |(_, key)| key.as_str())
    }

    /// Marks a dossier whose request went wrong: its status is no longer known.
    fn lost(&self, idx: usize) {
        self.pipeline.set_stage(idx, Stage::Unknown);
    }
}

/// Runs `$body` every `$period` (skipping the ticks it is late for) until the run stops; the stop
/// flag is looked at every 200 ms.
macro_rules! every {
    ($ctx:expr, $period:expr, $body:block) => {{
        let mut ticks = tokio::time::interval($period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while !$ctx.stopping() {
            tokio::select! {
                _ = ticks.tick() => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => continue,
            }
            if $ctx.stopping() {
                break;
            }
            $body
        }
    }};
}

/// Numbers every pickup request of the run: its phone, its e-mail address and its idempotency key.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// A citizen: a pickup request every `period`; one in twenty cancelled at once.
async fn citizen(ctx: Ctx, period: Duration, i: usize) -> anyhow::Result<()> {
    let agencies = ctx.config.agencies.len().max(1);
    // Start the citizens apart, so their requests spread over the period.
    ctx.nap(period.mul_f64(i as f64 / ctx.config.citizens.max(1) as f64))
        .await;
    every!(ctx, period, {
        let n = REQUESTS.fetch_add(1, Ordering::Relaxed);
        // Three requests in four to the first agency, the fourth to the second (when there is one).
        let agency = if n % 4 == 3 { 1 % agencies } else { 0 };
        let send_only = n % 10 == 9;
        let body = json!({
            "procedure_code": "1.001612",
            "agency_code": ctx.config.agencies.get(agency).map_or("", |(code, _)| code.as_str()),
            "service_mode": if send_only { "send" } else { "send_and_return" },
            "applicant": {
                "full_name": FULL_NAME,
                "phone": format!("09{:08}", n % 100_000_000),
                "email": format!("soak{n}@example.vn"),
                "id_number": ID_NUMBER,
            },
            "pickup_address": {"line": "12 Tràng Tiền", "ward_code": "00070", "province_code": "01"},
            "return_address": null,
            "documents": [{"name": "Tờ khai đăng ký", "original": true, "copies": 1}],
            "with_appointment": false,
            "fee_exemption": "none"
        });
        let req = ctx
            .api
            .post("/api/v1/dossiers", None, &body)
            .header("Idempotency-Key", format!("soak-{n}"));
        let Some(made) = ctx.api.send(Kind::Request, req, 201).await else {
            continue;
        };
        let (Some(code), Some(token)) = (made["code"].as_str(), made["access_token"].as_str())
        else {
            ctx.api.stats.wrong_answer(
                Kind::Request,
                "request: no code or token in the answer".into(),
            );
            continue;
        };
        let dossier = Dossier {
            code: code.to_owned(),
            token: token.to_owned(),
            agency,
            send_only,
            total_vnd: made["fees"]["total_vnd"].as_i64().unwrap_or_default(),
            item_code: None,
            stage: Stage::Requested,
        };
        let idx = {
            let Ok(mut dossiers) = ctx.pipeline.dossiers.lock() else {
                continue;
            };
            dossiers.push(dossier);
            dossiers.len() - 1
        };
        if n % 20 == 7 {
            let path = format!("/api/v1/dossiers/{code}/cancel");
            let body = json!({"reason": "Đã nộp trực tiếp tại bộ phận một cửa"});
            match ctx
                .api
                .send(Kind::Cancel, ctx.api.post(&path, Some(token), &body), 200)
                .await
            {
                Some(_) => ctx.pipeline.set_stage(idx, Stage::Cancelled),
                None => ctx.lost(idx),
            }
            continue;
        }
        if let Ok(mut requested) = ctx.pipeline.requested.lock() {
            requested.push_back((idx, Instant::now()));
        }
    });
    Ok(())
}

/// A reader: every `period`, the public tracking view of a random dossier (one in ten by its parcel's
/// item code), or one read in ten, a citizen's own view with the access token.
async fn reader(ctx: Ctx, period: Duration, i: usize) -> anyhow::Result<()> {
    let mut n = (i as u64) << 40;
    every!(ctx, period, {
        n += 1;
        let r = mix(n);
        let pick = {
            let Ok(dossiers) = ctx.pipeline.dossiers.lock() else {
                continue;
            };
            if dossiers.is_empty() {
                continue;
            }
            let d = &dossiers[usize::try_from(r % dossiers.len() as u64).unwrap_or(0)];
            (d.code.clone(), d.token.clone(), d.item_code.clone())
        };
        let (code, token, item) = pick;
        if (r >> 32).is_multiple_of(10) {
            let req = ctx
                .api
                .get(&format!("/api/v1/dossiers/{code}"), Some(&token));
            ctx.api.send(Kind::View, req, 200).await;
        } else {
            let key = match item {
                Some(item) if (r >> 40).is_multiple_of(10) => item,
                _ => code,
            };
            let req = ctx.api.get(&format!("/api/v1/track/{key}"), None);
            ctx.api.send(Kind::Track, req, 200).await;
        }
    });
    Ok(())
}

/// How long a pickup request waits before the office records its pickup.
const PICKUP_AFTER: Duration = Duration::from_secs(2);

/// A post office clerk: books one pickup request in four, records every pickup, and reads the
/// worklist every half minute.
async fn postal_clerk(ctx: Ctx, i: usize) -> anyhow::Result<()> {
    let key = ctx.config.postal_key.clone();
    let mut worklist_at = Instant::now() + Duration::from_secs(10 + 10 * i as u64);
    let mut n: u64 = i as u64;
    while !ctx.stopping() {
        if Instant::now() >= worklist_at {
            worklist_at = Instant::now() + Duration::from_secs(30);
            let req = ctx.api.get("/api/v1/pickups?limit=100", Some(&key));
            ctx.api.send(Kind::Worklist, req, 200).await;
        }
        let next = ctx.pipeline.requested.lock().ok().and_then(|mut q| {
            let due = q
                .front()
                .is_some_and(|(_, at)| at.elapsed() >= PICKUP_AFTER);
            if due { q.pop_front() } else { None }
        });
        let Some((idx, _)) = next else {
            ctx.nap(Duration::from_millis(200)).await;
            continue;
        };
        n += 1;
        let Some((code, total)) = ctx
            .pipeline
            .dossiers
            .lock()
            .ok()
            .and_then(|d| d.get(idx).map(|d| (d.code.clone(), d.total_vnd)))
        else {
            continue;
        };
        if n.is_multiple_of(4) {
            let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(7 + 24)).date_naive();
            let body = json!({"date": tomorrow.to_string(), "window": "afternoon"});
            let req = ctx.api.post(
                &format!("/api/v1/dossiers/{code}/schedule"),
                Some(&key),
                &body,
            );
            if ctx.api.send(Kind::Schedule, req, 200).await.is_none() {
                ctx.lost(idx);
                continue;
            }
            ctx.pipeline.set_stage(idx, Stage::Scheduled);
        }
        let body =
            json!({"documents_checked": true, "fee_collected_vnd": total, "item_code": null});
        let req = ctx.api.post(
            &format!("/api/v1/dossiers/{code}/pickup"),
            Some(&key),
            &body,
        );
        let Some(picked) = ctx.api.send(Kind::Pickup, req, 200).await else {
            ctx.lost(idx);
            continue;
        };
        let item = picked["legs"].as_array().and_then(|legs| {
            legs.iter()
                .find(|l| l["direction"] == "inbound")
                .and_then(|l| l["item_code"].as_str())
                .map(str::to_owned)
        });
        if item.is_none() {
            ctx.api
                .stats
                .wrong_answer(Kind::Pickup, "pickup: no inbound item code".into());
            ctx.lost(idx);
            continue;
        }
        if let Ok(mut dossiers) = ctx.pipeline.dossiers.lock()
            && let Some(d) = dossiers.get_mut(idx)
        {
            d.item_code = item;
            d.stage = Stage::PickedUp;
        }
        if let Ok(mut picked) = ctx.pipeline.picked.lock() {
            picked.push_back(idx);
        }
    }
    Ok(())
}

/// Scans in one offline batch before it is uploaded.
const BATCH: usize = 20;

/// The office's scanner: a third of the parcels scanned `departed` one by one, a third in batches (every
/// third batch uploaded twice), a third left to the carrier's feed.
async fn scanner(ctx: Ctx) -> anyhow::Result<()> {
    let key = ctx.config.postal_key.clone();
    let mut batch: Vec<(usize, Value)> = Vec::new();
    let mut batch_started = Instant::now();
    let mut batches: u64 = 0;
    let mut n: u64 = 0;
    loop {
        let stopping = ctx.stopping();
        let next = if stopping {
            None
        } else {
            ctx.pipeline
                .picked
                .lock()
                .ok()
                .and_then(|mut q| q.pop_front())
        };
        if let Some(idx) = next {
            n += 1;
            let Some((item, agency)) = ctx.pipeline.dossiers.lock().ok().and_then(|d| {
                d.get(idx)
                    .and_then(|d| d.item_code.clone().map(|i| (i, d.agency)))
            }) else {
                continue;
            };
            let scan = json!({
                "scan_id": uuid::Uuid::new_v4().to_string(),
                "item_code": item,
                "event": "departed",
                "at": chrono::Utc::now().to_rfc3339(),
                "location": "Trung tâm khai thác Hà Nội",
            });
            match n % 3 {
                0 => {
                    let req = ctx.api.post("/api/v1/scans", Some(&key), &scan);
                    match ctx.api.send(Kind::Scan, req, 201).await {
                        Some(answer) if answer["result"] == "accepted" => {
                            ctx.pipeline.scans_accepted.fetch_add(1, Ordering::Relaxed);
                            push(&ctx.pipeline.scanned, agency, idx);
                        }
                        Some(_) => {
                            ctx.api
                                .stats
                                .wrong_answer(Kind::Scan, "scan: not accepted".into());
                            ctx.lost(idx);
                        }
                        None => ctx.lost(idx),
                    }
                }
                1 => {
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    batch.push((idx, scan));
                }
                _ => push(&ctx.pipeline.scanned, agency, idx),
            }
        }
        let due = !batch.is_empty()
            && (batch.len() >= BATCH
                || batch_started.elapsed() >= Duration::from_secs(3)
                || stopping);
        if due {
            batches += 1;
            let taken = std::mem::take(&mut batch);
            upload(&ctx, &key, &taken, batches.is_multiple_of(3)).await;
        }
        if stopping {
            return Ok(());
        }
        if next.is_none() {
            ctx.nap(Duration::from_millis(200)).await;
        }
    }
}

fn push(queues: &[Mutex<Vec<usize>>], agency: usize, idx: usize) {
    if let Some(queue) = queues.get(agency)
        && let Ok(mut q) = queue.lock()
    {
        q.push(idx);
    }
}

/// Uploads one offline batch (twice when `resend`: the second time every scan is a duplicate).
async fn upload(ctx: &Ctx, key: &str, batch: &[(usize, Value)], resend: bool) {
    let scans: Vec<&Value> = batch.iter().map(|(_, s)| s).collect();
    let body = json!({ "scans": scans });
    let n = batch.len() as u64;
    let sent = ctx
        .api
        .send(
            Kind::ScanBatch,
            ctx.api.post("/api/v1/scans/batch", Some(key), &body),
            200,
        )
        .await;
    let ok = match sent {
        Some(answer) if answer["accepted"].as_u64() == Some(n) && answer["errors"] == 0 => true,
        Some(answer) => {
            ctx.api.stats.wrong_answer(
                Kind::ScanBatch,
                format!(
                    "scan-batch: {n} scans, {} accepted, {} duplicates, {} errors",
                    answer["accepted"], answer["duplicates"], answer["errors"]
                ),
            );
            false
        }
        None => false,
    };
    if ok {
        ctx.pipeline.scans_accepted.fetch_add(n, Ordering::Relaxed);
    }
    if ok && resend {
        let again = ctx
            .api
            .send(
                Kind::ScanBatch,
                ctx.api.post("/api/v1/scans/batch", Some(key), &body),
                200,
            )
            .await;
        if let Some(answer) = again
            && answer["duplicates"].as_u64() != Some(n)
        {
            ctx.api.stats.wrong_answer(
                Kind::ScanBatch,
                format!(
                    "scan-batch resent: {n} scans, {} accepted, {} duplicates, {} errors",
                    answer["accepted"], answer["duplicates"], answer["errors"]
                ),
            );
        }
    }
    let agencies: Vec<(usize, usize)> = {
        let Ok(dossiers) = ctx.pipeline.dossiers.lock() else {
            return;
        };
        batch
            .iter()
            .map(|(idx, _)| (*idx, dossiers.get(*idx).map_or(0, |d| d.agency)))
            .collect()
    };
    for (idx, agency) in agencies {
        if ok {
            push(&ctx.pipeline.scanned, agency, idx);
        } else {
            ctx.lost(idx);
        }
    }
}

/// An agency clerk: rules on each dossier received (one in twenty refused), records its result, and
/// marks the `send` dossiers collected at the desk; reads the worklist every half minute.
async fn agency_clerk(ctx: Ctx, i: usize) -> anyhow::Result<()> {
    let mut worklist_at = Instant::now() + Duration::from_secs(15 + 10 * i as u64);
    let mut n: u64 = i as u64;
    while !ctx.stopping() {
        if Instant::now() >= worklist_at {
            worklist_at = Instant::now() + Duration::from_secs(30);
            for agency in 0..ctx.config.agencies.len() {
                let req = ctx.api.get(
                    "/api/v1/agency/dossiers?status=received_by_agency&limit=50",
                    Some(ctx.agency_key(agency)),
                );
                ctx.api.send(Kind::Worklist, req, 200).await;
            }
        }
        let next = ctx
            .pipeline
            .received
            .lock()
            .ok()
            .and_then(|mut q| q.pop_front());
        let Some(idx) = next else {
            ctx.nap(Duration::from_millis(200)).await;
            continue;
        };
        n += 1;
        let Some((code, agency, send_only)) = ctx
            .pipeline
            .dossiers
            .lock()
            .ok()
            .and_then(|d| d.get(idx).map(|d| (d.code.clone(), d.agency, d.send_only)))
        else {
            continue;
        };
        let key = ctx.agency_key(agency).to_owned();
        let refused = mix(n).is_multiple_of(20);
        let verdict = if refused {
            json!({"decision": "rejected", "reason": "Tờ khai chưa đủ chữ ký"})
        } else {
            json!({"decision": "accepted"})
        };
        let req = ctx.api.post(
            &format!("/api/v1/dossiers/{code}/verdict"),
            Some(&key),
            &verdict,
        );
        if ctx.api.send(Kind::Verdict, req, 200).await.is_none() {
            ctx.lost(idx);
            continue;
        }
        ctx.pipeline.set_stage(
            idx,
            if refused {
                Stage::Rejected
            } else {
                Stage::Processing
            },
        );
        let req = ctx.api.post(
            &format!("/api/v1/dossiers/{code}/result"),
            Some(&key),
            &json!({"note": "Kết quả đã ký"}),
        );
        if ctx.api.send(Kind::Result, req, 200).await.is_none() {
            ctx.lost(idx);
            continue;
        }
        ctx.pipeline.set_stage(idx, Stage::ResultReady);
        if send_only {
            let req = ctx.api.post(
                &format!("/api/v1/dossiers/{code}/collected"),
                Some(&key),
                &json!({"note": "Công dân nhận tại bộ phận một cửa"}),
            );
            match ctx.api.send(Kind::Collected, req, 200).await {
                Some(_) => ctx.pipeline.set_stage(idx, Stage::Collected),
                None => ctx.lost(idx),
            }
        } else {
            push(&ctx.pipeline.ready, agency, idx);
        }
    }
    Ok(())
}

/// Handover records at most this long (the API's limit is 500).
const HANDOVER_MAX: usize = 500;

/// Every `handover_every`: to each agency a record of the parcels scanned (or left to the carrier),
/// signed by the agency; from each agency a record of its results, signed by the office. Every ten
/// seconds the office settles the deliveries the carrier reported (`GET /api/v1/exceptions`).
async fn handovers(ctx: Ctx) -> anyhow::Result<()> {
    let postal = ctx.config.postal_key.clone();
    let mut exceptions_at = Instant::now() + Duration::from_secs(10);
    every!(ctx, ctx.config.handover_every, {
        for agency in 0..ctx.config.agencies.len() {
            let agency_key = ctx.agency_key(agency).to_owned();
            let to_agency = take(&ctx.pipeline.scanned, agency);
            if !to_agency.is_empty() {
                handover(&ctx, agency, &to_agency, "to_agency", &postal, &agency_key).await;
            }
            let to_post = take(&ctx.pipeline.ready, agency);
            if !to_post.is_empty() {
                handover(&ctx, agency, &to_post, "to_post", &agency_key, &postal).await;
            }
        }
        if Instant::now() >= exceptions_at {
            exceptions_at = Instant::now() + Duration::from_secs(10);
            settle_exceptions(&ctx, &postal).await;
        }
    });
    Ok(())
}

fn take(queues: &[Mutex<Vec<usize>>], agency: usize) -> Vec<usize> {
    queues
        .get(agency)
        .and_then(|q| q.lock().ok())
        .map(|mut q| {
            let n = q.len().min(HANDOVER_MAX);
            q.drain(..n).collect()
        })
        .unwrap_or_default()
}

/// One record drafted by `drafter` and signed by `signer`.
async fn handover(
    ctx: &Ctx,
    agency: usize,
    items: &[usize],
    direction: &str,
    drafter: &str,
    signer: &str,
) {
    let codes: Vec<String> = {
        let Ok(dossiers) = ctx.pipeline.dossiers.lock() else {
            return;
        };
        items
            .iter()
            .filter_map(|idx| dossiers.get(*idx).map(|d| d.code.clone()))
            .collect()
    };
    let body = json!({
        "direction": direction,
        "agency_code": ctx.config.agencies.get(agency).map_or("", |(code, _)| code.as_str()),
        "dossier_codes": codes,
    });
    let drafted = ctx
        .api
        .send(
            Kind::Handover,
            ctx.api.post("/api/v1/handovers", Some(drafter), &body),
            201,
        )
        .await;
    let signed = match drafted.and_then(|d| d["id"].as_i64()) {
        Some(id) => ctx
            .api
            .send(
                Kind::Confirm,
                ctx.api.post(
                    &format!("/api/v1/handovers/{id}/confirm"),
                    Some(signer),
                    &json!({}),
                ),
                200,
            )
            .await
            .is_some(),
        None => false,
    };
    for &idx in items {
        if !signed {
            ctx.lost(idx);
        } else if direction == "to_agency" {
            ctx.pipeline.set_stage(idx, Stage::AtAgency);
            if let Ok(mut received) = ctx.pipeline.received.lock() {
                received.push_back(idx);
            }
        } else {
            ctx.pipeline.set_stage(idx, Stage::WithPost);
        }
    }
}

/// The office confirms who signed for each result the carrier reported delivered.
async fn settle_exceptions(ctx: &Ctx, postal: &str) {
    let Some(list) = ctx
        .api
        .send(
            Kind::Exceptions,
            ctx.api.get("/api/v1/exceptions", Some(postal)),
            200,
        )
        .await
    else {
        return;
    };
    let codes: Vec<String> = list["exceptions"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["dossier_code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for code in codes {
        if ctx.stopping() {
            return;
        }
        let body =
            json!({"recipient": {"full_name": FULL_NAME, "id_number": ID_NUMBER, "proxy": false}});
        let req = ctx.api.post(
            &format!("/api/v1/dossiers/{code}/delivery/identity"),
            Some(postal),
            &body,
        );
        ctx.api.send(Kind::Identity, req, 200).await;
    }
}
