//! Parcel scans from handheld and offline scanners: one scan or a batch of up to [`MAX_BATCH`], each
//! answered on its own (accepted, duplicate, or an error with its code) so that an offline scanner knows
//! what it may forget and what it must correct.
//!
//! Rules:
//! - idempotent on the scanner's `scan_id`: the same scan twice is stored once and answered `duplicate`;
//! - a scan names its parcel by the label's QR payload (a signed token) or by its S10 item code;
//! - what a scan does is [`crate::scan_rules`]'s table; a status only moves forward: a scan dated before
//!   the last move of a parcel of its direction (a scan, a carrier's event, a pickup, handover or
//!   delivery record) joins the timeline in time order without touching the status — what the service
//!   notes meanwhile (`overdue`, incidents, complaints) does not make an offline upload late — and a
//!   scan whose action the lifecycle does not allow from the current status is kept on the timeline only;
//! - a `delivered` scan of a result from a handheld names who signed (checked against the dossier) and
//!   the fee collected at the door, both exactly like the delivery endpoint; the fee is recorded with
//!   the delivery, where the receipt reads it;
//! - a `delivery_failed` scan of a result counts a notice exactly like the delivery endpoint
//!   ([`crate::delivery::plan_failed_notice`]); one too soon after the previous notice is refused;
//! - a scan by an office on a dossier of another office is refused (`forbidden`), an unknown parcel is
//!   `not_found`; refused scans store nothing.
//!
//! A batch is one transaction with a handful of statements whatever its size: the parcels, the locked
//! dossiers, the known scan ids and the last move times are read with one query each, the outcome is
//! computed in memory, and scans, timeline events and status changes are written in bulk.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::enums::{
    DeliveryOutcome, DossierStatus, EventKind, EventSource, LegDirection, LegPurpose, LegStatus,
    ScanEvent,
};
use entity::{delivery_attempt, dossier, dossier_event, leg, scan};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QuerySelect, Statement,
};

use super::access::Actor;
use super::bulk::{EventRow, id_in, insert_events, json_param, text_in};
use super::dossiers::MAX_NOTE;
use super::outbox::enqueue_for_events;
use super::postal::{
    CheckedRecipient, RecipientRequest, check_at, check_recipient, lock_dossiers_by_id,
    notice_error, postal_key, return_event,
};
use super::validation::{Checker, spellings};
use super::{NewEvent, OpError};
use crate::calendar::WorkingCalendar;
use crate::delivery::{NoticeRefusal, plan_failed_notice};
use crate::lifecycle::{Action, next_status};
use crate::s10::ItemCode;
use crate::scan_rules::scan_rule;
use crate::store::Store;

/// The most scans one batch may carry: a day of an offline scanner.
pub const MAX_BATCH: usize = 1000;

/// Longest accepted scan location.
pub const MAX_LOCATION: usize = 200;

/// Rows per bulk INSERT: well under both databases' limits on bound parameters.
const INSERT_CHUNK: usize = 500;

/// A scan as it arrived.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// The scanner's UUID for this scan: the idempotency key.
    pub scan_id: Option<String>,
    /// The label's QR payload, a URL ending in `/l/{token}`.
    pub label: Option<String>,
    /// Or the parcel's S10 item code.
    pub item_code: Option<String>,
    /// What happened: see [`ScanEvent`].
    pub event: Option<String>,
    /// When it was scanned (RFC 3339).
    pub at: Option<String>,
    pub location: Option<String>,
    pub note: Option<String>,
    /// Who signed for a result: required on a `delivered` scan of an outbound parcel, checked like
    /// the delivery endpoint's ([`super::postal::check_recipient`]).
    pub recipient: Option<RecipientRequest>,
    /// Collected at the door on a `delivered` scan of a result: checked like the delivery endpoint's
    /// ([`super::postal::check_fee_at_door`]; absent means 0) and recorded with the delivery. Refused on
    /// any other scan.
    pub fee_collected_vnd: Option<i64>,
}

/// What became of one scan.
#[derive(Debug)]
pub enum ScanOutcome {
    /// Stored. `applied` tells whether it moved the dossier's status (a late or out-of-place scan only
    /// joins the timeline); `status` is the dossier's status after it.
    Accepted {
        dossier_code: String,
        status: DossierStatus,
        applied: bool,
    },
    /// This `scan_id` was stored before (or earlier in the same batch): nothing changed.
    Duplicate,
    /// Refused; nothing was stored for it. Resending it unchanged gives the same answer.
    Refused(OpError),
}

/// How a scan names its parcel.
#[derive(Debug, Clone)]
enum Target {
    Item(ItemCode),
    Leg(i64),
}

/// A scan whose fields are valid.
#[derive(Debug, Clone)]
struct CheckedScan {
    index: usize,
    /// The scanner's id, stored in `scans`; `None` for a machine's scan, whose own record (the carrier's
    /// event in `carrier_events`) already keeps it once.
    scan_id: Option<String>,
    target: Target,
    event: ScanEvent,
    at: DateTime<Utc>,
    location: Option<String>,
    note: Option<String>,
    /// A well-formed recipient, when the scan carried one.
    recipient: Option<CheckedRecipient>,
    /// The fee collected at the door, when the scan carried one (not negative).
    fee_collected_vnd: Option<i64>,
}

/// The token of a label's QR payload: the last path segment of the URL (`…/l/{token}`), without any
/// query or fragment; a bare token is taken as is.
pub fn label_token(payload: &str) -> Option<&str> {
    let payload = payload.trim();
    let payload = payload.split(['?', '#']).next()?.trim_end_matches('/');
    let token = payload.rsplit('/').next()?;
    (!token.is_empty()).then_some(token)
}

/// A UUID in canonical form (lowercase, hyphenated), or `None`.
fn canonical_uuid(s: &str) -> Option<String> {
    let s = s.trim();
    let ok = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    ok.then(|| s.to_ascii_lowercase())
}

fn check_scan(
    index: usize,
    request: &ScanRequest,
    now: DateTime<Utc>,
    label_key: &[u8],
) -> Result<CheckedScan, OpError> {
    let mut c = Checker::new();
    let scan_id = check_scan_id(&mut c, request.scan_id.as_deref());
    let target = check_target(&mut c, request, label_key);
    let event: Option<ScanEvent> = c.required_enum(
        "event",
        request.event.as_deref(),
        &spellings(ScanEvent::ALL, ScanEvent::as_str),
    );
    let at = if request.at.is_none() {
        c.fail("at", "is required: when the parcel was scanned");
        None
    } else {
        check_at(&mut c, "at", request.at.as_deref(), now)
    };
    let location = c.optional_text("location", request.location.as_deref(), MAX_LOCATION);
    let note = c.optional_text("note", request.note.as_deref(), MAX_NOTE);
    let recipient = match &request.recipient {
        Some(r) => check_recipient(&mut c, "recipient", Some(r)),
        None => None,
    };
    if request.fee_collected_vnd.is_some_and(|f| f < 0) {
        c.fail("fee_collected_vnd", "must not be negative");
    }
    c.finish().map_err(OpError::Validation)?;
    match (scan_id, target, event, at) {
        (Some(scan_id), Some(Ok(target)), Some(event), Some(at)) => Ok(CheckedScan {
            index,
            scan_id: Some(scan_id),
            target,
            event,
            at,
            location,
            note,
            recipient,
            fee_collected_vnd: request.fee_collected_vnd,
        }),
        // A forged, altered or foreign token names no parcel of ours.
        (_, Some(Err(UnknownLabel)), _, _) => Err(OpError::NotFound("parcel")),
        _ => Err(OpError::Validation(vec![])),
    }
}

/// A label whose token does not verify: it names no parcel of ours.
struct UnknownLabel;

/// The scanner's UUID for this scan, in canonical form.
fn check_scan_id(c: &mut Checker, scan_id: Option<&str>) -> Option<String> {
    match scan_id {
        None => {
            c.fail("scan_id", "is required: the scanner's UUID for this scan");
            None
        }
        Some(id) => {
            let id = canonical_uuid(id);
            if id.is_none() {
                c.fail(
                    "scan_id",
                    "must be a UUID, e.g. 0f8fad5b-d9cb-469f-a165-70867728950e",
                );
            }
            id
        }
    }
}

/// The parcel a scan names: by its label's QR payload or by its item code, exactly one of them.
fn check_target(
    c: &mut Checker,
    request: &ScanRequest,
    label_key: &[u8],
) -> Option<Result<Target, UnknownLabel>> {
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
    match (blank(&request.label), blank(&request.item_code)) {
        (true, true) => {
            c.fail(
                "item_code",
                "either `label` (the QR payload) or `item_code` is required",
            );
            None
        }
        (false, false) => {
            c.fail("label", "send either `label` or `item_code`, not both");
            None
        }
        (true, false) => match ItemCode::parse(request.item_code.as_deref().unwrap_or_default()) {
            Ok(code) => Some(Ok(Target::Item(code))),
            Err(err) => {
                c.fail("item_code", err.to_string());
                None
            }
        },
        (false, true) => {
            let payload = request.label.as_deref().unwrap_or_default();
            if payload.chars().count() > 500 || payload.chars().any(char::is_control) {
                c.fail("label", "is not a label's QR payload");
                None
            } else {
                match label_token(payload).and_then(|t| crate::label_token::verify(label_key, t)) {
                    Some(leg_id) => Some(Ok(Target::Leg(leg_id))),
                    None => Some(Err(UnknownLabel)),
                }
            }
        }
    }
}

/// A dossier as the batch moves it along.
struct DossierState {
    model: dossier::Model,
    status: DossierStatus,
    /// Per direction, the time of the last event that moved a parcel that way (see
    /// [`last_move_times`]): a scan of that direction dated before it is late.
    last_moved: HashMap<LegDirection, DateTime<Utc>>,
}

/// A parcel as the batch moves it along.
struct LegState {
    model: leg::Model,
    change: Option<LegChange>,
}

/// What to write to a parcel: legs with the same change are updated by one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LegChange {
    status: LegStatus,
    delivered_at: Option<DateTime<Utc>>,
    notice: Option<(i32, DateTime<Utc>)>,
    /// Set on a delivery: whether the recipient was checked (a handheld's scan) or not (a carrier's
    /// report, an exception until confirmed).
    identity_confirmed: Option<bool>,
}

impl LegState {
    fn status(&self) -> LegStatus {
        self.change.map_or(self.model.status, |c| c.status)
    }
    fn notices(&self) -> (i32, Option<DateTime<Utc>>) {
        match self.change.and_then(|c| c.notice) {
            Some((n, at)) => (n, Some(at)),
            None => (self.model.failed_attempts, self.model.last_failed_at),
        }
    }
    fn set(&mut self, status: LegStatus) {
        let mut change = self.change.unwrap_or(LegChange {
            status,
            delivered_at: None,
            notice: None,
            identity_confirmed: None,
        });
        change.status = status;
        self.change = Some(change);
    }
}

/// Records scans, each on its own terms (see the module's rules), in one transaction. The answers come
/// in the order of `requests`. Only a failure of the store itself fails the whole batch.
#[tracing::instrument(skip_all, fields(scans = requests.len()))]
pub async fn record_scans(
    store: &Store,
    actor: &Actor,
    label_key: &[u8],
    requests: &[ScanRequest],
) -> Result<Vec<ScanOutcome>, OpError> {
    postal_key(actor)?;
    if requests.len() > MAX_BATCH {
        return Err(OpError::field(
            "scans",
            format!(
                "a batch carries at most {MAX_BATCH} scans; this one has {}",
                requests.len()
            ),
        ));
    }
    let now = crate::clock::now();
    let mut outcomes: Vec<Option<ScanOutcome>> = requests.iter().map(|_| None).collect();
    let mut checked = Vec::with_capacity(requests.len());
    let mut seen = HashSet::new();
    for (index, request) in requests.iter().enumerate() {
        match check_scan(index, request, now, label_key) {
            Ok(scan) if !seen.insert(scan.scan_id.clone().unwrap_or_default()) => {
                outcomes[index] = Some(ScanOutcome::Duplicate);
            }
            Ok(scan) => checked.push(scan),
            Err(err) => outcomes[index] = Some(ScanOutcome::Refused(err)),
        }
    }
    if !checked.is_empty() {
        let txn = store.begin().await?;
        apply_scans(&txn, actor, EventSource::Scan, checked, now, &mut outcomes).await?;
        txn.commit().await?;
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(ScanOutcome::Refused(OpError::NotFound("parcel"))))
        .collect())
}

/// A scan reported by a machine (the carrier's feed or push), already checked by its caller, who keeps
/// its own record of it once (the carrier's event, stored once per item code and event id): it is not
/// stored again in `scans`, and each one given is new.
#[derive(Debug, Clone)]
pub struct MachineScan {
    pub item_code: ItemCode,
    pub event: ScanEvent,
    pub at: DateTime<Utc>,
    pub location: Option<String>,
    pub note: Option<String>,
}

/// Applies machine-reported scans inside the caller's transaction, through exactly the rules of
/// [`record_scans`] (same lifecycle, same timeline rows and outbox), written with `source`.
/// Answers come in the order of `scans`.
pub async fn apply_machine_scans(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    source: EventSource,
    scans: Vec<MachineScan>,
) -> Result<Vec<ScanOutcome>, OpError> {
    let now = crate::clock::now();
    let mut outcomes: Vec<Option<ScanOutcome>> = scans.iter().map(|_| None).collect();
    let mut checked = Vec::with_capacity(scans.len());
    for (index, scan) in scans.into_iter().enumerate() {
        checked.push(CheckedScan {
            index,
            scan_id: None,
            target: Target::Item(scan.item_code),
            event: scan.event,
            at: scan.at,
            location: scan.location,
            note: scan.note,
            recipient: None,
            fee_collected_vnd: None,
        });
    }
    if !checked.is_empty() {
        apply_scans(txn, actor, source, checked, now, &mut outcomes).await?;
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(ScanOutcome::Refused(OpError::NotFound("parcel"))))
        .collect())
}

async fn apply_scans(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    source: EventSource,
    checked: Vec<CheckedScan>,
    now: DateTime<Utc>,
    outcomes: &mut [Option<ScanOutcome>],
) -> Result<(), OpError> {
    let (mut legs, pending) = find_parcels(txn, checked, outcomes).await?;
    let Some((mut dossiers, pending)) = lock_dossiers(txn, actor, &legs, pending, outcomes).await?
    else {
        return Ok(());
    };
    let Some(pending) = drop_stored_scans(txn, pending, outcomes).await? else {
        return Ok(());
    };
    read_last_move_times(txn, &mut dossiers).await?;
    let calendar = calendar_for(txn, &pending, &legs).await?;
    let step = Step {
        actor,
        source,
        now,
        calendar: &calendar,
        audit_name: actor.audit_name(),
    };
    let rows = apply_in_time_order(&step, pending, &mut legs, &mut dossiers, outcomes);
    let events = write_rows(txn, actor, rows, now).await?;
    write_status_changes(txn, &dossiers, &legs, now).await?;
    // What the events tell the citizen and the agency, once the dossiers show the change.
    enqueue_for_events(txn, &events).await?;
    Ok(())
}

/// A checked scan and the id of the parcel it names.
type Pending = Vec<(CheckedScan, i64)>;

/// The parcels, by item code or by the leg id of a label; a scan naming no known parcel is refused.
async fn find_parcels(
    txn: &impl ConnectionTrait,
    checked: Vec<CheckedScan>,
    outcomes: &mut [Option<ScanOutcome>],
) -> Result<(HashMap<i64, LegState>, Pending), OpError> {
    let codes: Vec<String> = checked
        .iter()
        .filter_map(|s| match &s.target {
            Target::Item(code) => Some(code.as_str().to_owned()),
            Target::Leg(_) => None,
        })
        .collect();
    let leg_ids: Vec<i64> = checked
        .iter()
        .filter_map(|s| match s.target {
            Target::Leg(id) => Some(id),
            Target::Item(_) => None,
        })
        .collect();
    let backend = txn.get_database_backend();
    let mut condition = Condition::any();
    if !codes.is_empty() {
        condition = condition.add(text_in(backend, leg::Column::ItemCode, codes)?);
    }
    if !leg_ids.is_empty() {
        condition = condition.add(id_in(backend, leg::Column::Id, &leg_ids)?);
    }
    let legs = leg::Entity::find().filter(condition).all(txn).await?;
    let leg_by_code: HashMap<String, i64> = legs
        .iter()
        .filter_map(|l| l.item_code.clone().map(|c| (c, l.id)))
        .collect();
    let legs: HashMap<i64, LegState> = legs
        .into_iter()
        .map(|model| {
            (
                model.id,
                LegState {
                    model,
                    change: None,
                },
            )
        })
        .collect();
    let mut pending = Vec::with_capacity(checked.len());
    for scan in checked {
        let leg_id = match &scan.target {
            Target::Item(code) => leg_by_code.get(code.as_str()).copied(),
            Target::Leg(id) => legs.contains_key(id).then_some(*id),
        };
        match leg_id {
            Some(leg_id) => pending.push((scan, leg_id)),
            None => outcomes[scan.index] = Some(ScanOutcome::Refused(OpError::NotFound("parcel"))),
        }
    }
    Ok((legs, pending))
}

/// The parcels' dossiers, locked, and who may touch them: a scan on another office's dossier is
/// refused. `None` when no scan is left.
async fn lock_dossiers(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    legs: &HashMap<i64, LegState>,
    mut pending: Pending,
    outcomes: &mut [Option<ScanOutcome>],
) -> Result<Option<(HashMap<i64, DossierState>, Pending)>, OpError> {
    let mut dossier_ids: Vec<i64> = pending
        .iter()
        .filter_map(|(_, leg_id)| legs.get(leg_id).map(|l| l.model.dossier_id))
        .collect();
    dossier_ids.sort_unstable();
    dossier_ids.dedup();
    let dossiers: HashMap<i64, DossierState> = lock_dossiers_by_id(txn, &dossier_ids)
        .await?
        .into_iter()
        .map(|model| {
            (
                model.id,
                DossierState {
                    status: model.status,
                    model,
                    last_moved: HashMap::new(),
                },
            )
        })
        .collect();
    pending.retain(|(scan, leg_id)| {
        let dossier = legs
            .get(leg_id)
            .and_then(|l| dossiers.get(&l.model.dossier_id));
        match dossier {
            Some(d) if super::access::ensure_access(actor, &d.model).is_ok() => true,
            Some(_) => {
                outcomes[scan.index] = Some(ScanOutcome::Refused(OpError::Forbidden(
                    "this parcel belongs to another post office's dossier".into(),
                )));
                false
            }
            None => {
                outcomes[scan.index] = Some(ScanOutcome::Refused(OpError::NotFound("parcel")));
                false
            }
        }
    });
    Ok((!pending.is_empty()).then_some((dossiers, pending)))
}

/// Scans stored before are answered `duplicate`. The dossier locks make a concurrent batch with the
/// same scans wait for this one (or this one for it), so the answer is exact; the insert still ignores
/// a conflicting scan id rather than failing the batch. `None` when no scan is left.
async fn drop_stored_scans(
    txn: &impl ConnectionTrait,
    mut pending: Pending,
    outcomes: &mut [Option<ScanOutcome>],
) -> Result<Option<Pending>, OpError> {
    let scan_ids: Vec<String> = pending
        .iter()
        .filter_map(|(s, _)| s.scan_id.clone())
        .collect();
    let known: HashSet<String> = if scan_ids.is_empty() {
        HashSet::new()
    } else {
        scan::Entity::find()
            .select_only()
            .column(scan::Column::ScanId)
            .filter(text_in(
                txn.get_database_backend(),
                scan::Column::ScanId,
                scan_ids,
            )?)
            .into_tuple::<String>()
            .all(txn)
            .await?
            .into_iter()
            .collect()
    };
    pending.retain(|(scan, _)| {
        if scan.scan_id.as_ref().is_some_and(|id| known.contains(id)) {
            outcomes[scan.index] = Some(ScanOutcome::Duplicate);
            false
        } else {
            true
        }
    });
    Ok((!pending.is_empty()).then_some(pending))
}

/// The time of the last move of each dossier's parcels, per direction: a scan before it is late and
/// moves nothing.
async fn read_last_move_times(
    txn: &impl ConnectionTrait,
    dossiers: &mut HashMap<i64, DossierState>,
) -> Result<(), OpError> {
    let touched: Vec<i64> = dossiers.keys().copied().collect();
    for (id, direction, at) in last_move_times(txn, &touched).await? {
        if let (Some(d), Ok(direction), Some(at)) =
            (dossiers.get_mut(&id), direction.parse::<LegDirection>(), at)
        {
            d.last_moved.insert(direction, at);
        }
    }
    Ok(())
}

/// The working calendar, read only when a failed delivery of a result has to count its notice.
async fn calendar_for(
    txn: &impl ConnectionTrait,
    pending: &Pending,
    legs: &HashMap<i64, LegState>,
) -> Result<WorkingCalendar, OpError> {
    let needs_calendar = pending.iter().any(|(scan, leg_id)| {
        scan.event == ScanEvent::DeliveryFailed
            && legs
                .get(leg_id)
                .is_some_and(|l| l.model.direction == LegDirection::Outbound)
    });
    Ok(if needs_calendar {
        super::reference::working_calendar(txn).await?
    } else {
        WorkingCalendar::default()
    })
}

/// What every scan of a batch shares.
struct Step<'a> {
    actor: &'a Actor,
    source: EventSource,
    now: DateTime<Utc>,
    calendar: &'a WorkingCalendar,
    audit_name: String,
}

/// The rows a batch writes, gathered in memory.
#[derive(Default)]
struct Rows {
    scans: Vec<scan::ActiveModel>,
    events: Vec<EventRow>,
    attempts: Vec<delivery_attempt::ActiveModel>,
}

/// Applies the scans in time order, in memory, answering each.
fn apply_in_time_order(
    step: &Step<'_>,
    mut pending: Pending,
    legs: &mut HashMap<i64, LegState>,
    dossiers: &mut HashMap<i64, DossierState>,
    outcomes: &mut [Option<ScanOutcome>],
) -> Rows {
    pending.sort_by_key(|(scan, _)| (scan.at, scan.index));
    let mut rows = Rows {
        scans: Vec::with_capacity(pending.len()),
        events: Vec::with_capacity(pending.len()),
        attempts: Vec::new(),
    };
    for (scan, leg_id) in pending {
        let dossier_id = legs_dossier(legs, leg_id);
        let (Some(leg), Some(dossier)) = (legs.get_mut(&leg_id), dossiers.get_mut(&dossier_id))
        else {
            continue;
        };
        let index = scan.index;
        outcomes[index] = Some(apply_one(step, scan, leg_id, leg, dossier, &mut rows));
    }
    rows
}

/// One scan: its checks at the door, what it does to the parcel and the dossier, and its rows.
fn apply_one(
    step: &Step<'_>,
    scan: CheckedScan,
    leg_id: i64,
    leg: &mut LegState,
    dossier: &mut DossierState,
    rows: &mut Rows,
) -> ScanOutcome {
    let fee_at_door = match check_door(step.source, &scan, leg, dossier) {
        Ok(fee) => fee,
        Err(err) => return ScanOutcome::Refused(err),
    };
    let (events, applied) = match move_along(step, &scan, leg_id, leg, dossier, fee_at_door) {
        Ok(Moved {
            events,
            applied,
            attempt,
        }) => {
            rows.attempts.extend(attempt);
            (events, applied)
        }
        Err(err) => return ScanOutcome::Refused(err),
    };
    let last = dossier
        .last_moved
        .entry(leg.model.direction)
        .or_insert(scan.at);
    *last = (*last).max(scan.at);
    for event in events {
        rows.events.push(EventRow {
            dossier_id: dossier.model.id,
            event,
        });
    }
    if let Some(scan_id) = scan.scan_id {
        rows.scans.push(scan::ActiveModel {
            scan_id: Set(scan_id),
            leg_id: Set(leg_id),
            dossier_id: Set(dossier.model.id),
            event: Set(scan.event),
            at: Set(scan.at),
            location: Set(scan.location),
            note: Set(scan.note),
            applied: Set(applied),
            actor: Set(step.audit_name.clone()),
            api_key_id: Set(step.actor.key_id()),
            recorded_at: Set(step.now),
            ..Default::default()
        });
    }
    ScanOutcome::Accepted {
        dossier_code: dossier.model.code.clone(),
        status: dossier.status,
        applied,
    }
}

/// Whether a scan is a result handed over at the door (a `delivered` scan of the outbound parcel).
fn is_delivery_of_result(scan: &CheckedScan, leg: &LegState) -> bool {
    scan.event == ScanEvent::Delivered && leg.model.direction == LegDirection::Outbound
}

/// A result handed over at the door by a postman with a handheld: the recipient is checked here like
/// at the delivery endpoint (Decision 45 Art. 10); a carrier's report cannot be. And the postage due
/// at the door (`return` mode) is the fee the postman says he took, refused on any other scan.
fn check_door(
    source: EventSource,
    scan: &CheckedScan,
    leg: &LegState,
    dossier: &DossierState,
) -> Result<Option<i64>, OpError> {
    if source == EventSource::Scan {
        super::postal::check_not_before_start(&leg.model, scan.at)?;
    }
    if is_delivery_of_result(scan, leg) && source == EventSource::Scan {
        match &scan.recipient {
            None => Err(OpError::field(
                "recipient",
                "is required on a delivered scan of a result: who signed for it, with the \
                 identity document shown",
            )),
            Some(r) => r.may_sign_for("recipient", &dossier.model),
        }
        .and_then(|()| super::postal::check_fee_at_door(&dossier.model, scan.fee_collected_vnd))
        .map(Some)
    } else if scan.fee_collected_vnd.is_some() {
        Err(OpError::field(
            "fee_collected_vnd",
            "is taken only on a `delivered` scan of a result (the outbound parcel): nothing \
             is collected on this scan",
        ))
    } else {
        Ok(None)
    }
}

/// What a scan did: its timeline events, whether it moved the status, and a delivery attempt to store.
struct Moved {
    events: Vec<NewEvent>,
    applied: bool,
    attempt: Option<delivery_attempt::ActiveModel>,
}

impl Moved {
    /// The scan only joins the timeline.
    fn timeline_only(event: NewEvent) -> Self {
        Moved {
            events: vec![event],
            applied: false,
            attempt: None,
        }
    }
}

/// The timeline event of a scan, moving the dossier `from` → `to` when given.
fn scan_event(
    scan: &CheckedScan,
    source: EventSource,
    direction: LegDirection,
    kind: EventKind,
    moved: Option<(DossierStatus, DossierStatus)>,
) -> NewEvent {
    NewEvent {
        at: scan.at,
        kind,
        source,
        from_status: moved.map(|(from, _)| from),
        to_status: moved.map(|(_, to)| to),
        leg: Some(direction),
        location: scan.location.clone(),
        note: scan.note.clone(),
    }
}

/// What [`crate::scan_rules`]' table makes of a scan: a late scan, or one whose action the lifecycle
/// does not allow from the current status, only joins the timeline.
fn move_along(
    step: &Step<'_>,
    scan: &CheckedScan,
    leg_id: i64,
    leg: &mut LegState,
    dossier: &mut DossierState,
    fee_at_door: Option<i64>,
) -> Result<Moved, OpError> {
    let direction = leg.model.direction;
    let rule = scan_rule(scan.event, direction);
    let late = dossier
        .last_moved
        .get(&direction)
        .is_some_and(|last| scan.at < *last);
    let from = dossier.status;
    let timeline_only =
        || Moved::timeline_only(scan_event(scan, step.source, direction, rule.kind, None));
    // A supplement's parcel travels while the dossier waits for it (`supplement_requested`):
    // its scans move the parcel, not the dossier, until the desk signs for it.
    let supplement_on_its_way = leg.model.purpose == Some(LegPurpose::Supplement)
        && from == DossierStatus::SupplementRequested
        && super::supplements::ON_ITS_WAY.contains(&leg.status());
    match rule.action.filter(|_| !late) {
        Some(Action::ScanInTransit) if supplement_on_its_way => {
            leg.set(LegStatus::InTransit);
            Ok(Moved {
                applied: true,
                ..timeline_only()
            })
        }
        None => Ok(timeline_only()),
        Some(Action::RecordDeliveryFailure) => {
            count_notice(step, scan, leg_id, leg, dossier, rule.kind)
        }
        Some(action) => match next_status(dossier.model.service_mode, from, action) {
            Ok(to) => Ok(advance(
                step,
                scan,
                leg_id,
                leg,
                dossier,
                action,
                (rule.kind, to),
                fee_at_door,
            )),
            Err(_) => Ok(timeline_only()),
        },
    }
}

/// A failed delivery counts a notice exactly like the delivery endpoint; the last one returns the
/// parcel. One too soon after the previous notice is refused when staff scan it; when the carrier
/// reports it, the attempt did happen, so it joins the timeline, noted as not counted, and the
/// parcel stays where it was.
fn count_notice(
    step: &Step<'_>,
    scan: &CheckedScan,
    leg_id: i64,
    leg: &mut LegState,
    dossier: &mut DossierState,
    kind: EventKind,
) -> Result<Moved, OpError> {
    let direction = leg.model.direction;
    let from = dossier.status;
    let (notices, last_notice) = leg.notices();
    let mode = dossier.model.service_mode;
    let plan = match plan_failed_notice(step.calendar, mode, from, notices, last_notice, scan.at) {
        Ok(plan) => plan,
        Err(NoticeRefusal::Transition(_)) => {
            return Ok(Moved::timeline_only(scan_event(
                scan,
                step.source,
                direction,
                kind,
                None,
            )));
        }
        Err(refusal @ NoticeRefusal::TooSoon { .. }) if step.source == EventSource::Carrier => {
            tracing::info!(
                leg.id = leg_id,
                "a failed delivery the carrier reported too soon after the previous notice joins the timeline uncounted"
            );
            let mut event = scan_event(scan, step.source, direction, kind, None);
            let why = format!("not counted as a notice: {refusal}");
            event.note = Some(match event.note {
                Some(note) => format!("{note} — {why}"),
                None => why,
            });
            return Ok(Moved::timeline_only(event));
        }
        Err(refusal) => return Err(notice_error(refusal)),
    };
    let mut events = vec![scan_event(
        scan,
        step.source,
        direction,
        kind,
        Some((from, plan.after_notice)),
    )];
    let mut status = LegStatus::DeliveryFailed;
    dossier.status = plan.after_notice;
    if let Some(returned) = plan.returned {
        let mut back = return_event(
            scan.at,
            step.source,
            plan.after_notice,
            returned,
            plan.notices,
        );
        back.location = scan.location.clone();
        events.push(back);
        status = LegStatus::Returned;
        dossier.status = returned;
    }
    leg.set(status);
    if let Some(change) = leg.change.as_mut() {
        change.notice = Some((plan.notices, scan.at));
    }
    let attempt = attempt_row(
        &dossier.model,
        leg_id,
        DeliveryOutcome::Failed,
        scan.at,
        scan.note.clone(),
        step.source,
        step.actor,
        step.now,
    );
    Ok(Moved {
        events,
        applied: true,
        attempt: Some(attempt),
    })
}

/// A scan the lifecycle allows moves the dossier to `to` and the parcel along; a delivery stores its
/// attempt, with who signed and the fee collected at the door.
#[expect(
    clippy::too_many_arguments,
    reason = "the scan, its parcel and dossier, and what the rule decided"
)]
fn advance(
    step: &Step<'_>,
    scan: &CheckedScan,
    leg_id: i64,
    leg: &mut LegState,
    dossier: &mut DossierState,
    action: Action,
    (kind, to): (EventKind, DossierStatus),
    fee_at_door: Option<i64>,
) -> Moved {
    let direction = leg.model.direction;
    let event = scan_event(
        scan,
        step.source,
        direction,
        kind,
        Some((dossier.status, to)),
    );
    dossier.status = to;
    let mut attempt = None;
    match action {
        Action::ScanInTransit
            if matches!(leg.status(), LegStatus::PickedUp | LegStatus::InTransit) =>
        {
            leg.set(LegStatus::InTransit);
        }
        Action::StartDelivery => leg.set(LegStatus::OutForDelivery),
        Action::RecordDelivery => {
            let checked_delivery = is_delivery_of_result(scan, leg);
            leg.set(LegStatus::Delivered);
            if let Some(change) = leg.change.as_mut() {
                change.delivered_at = Some(scan.at);
                if checked_delivery {
                    change.identity_confirmed = Some(step.source == EventSource::Scan);
                }
            }
            let mut row = attempt_row(
                &dossier.model,
                leg_id,
                DeliveryOutcome::Delivered,
                scan.at,
                scan.note.clone(),
                step.source,
                step.actor,
                step.now,
            );
            if let Some(r) = scan.recipient.clone() {
                row.recipient_full_name = Set(Some(r.full_name));
                row.recipient_id_number = Set(Some(r.id_number));
                row.proxy = Set(r.proxy);
                row.authorization_ref = Set(r.authorization_ref);
            }
            row.fee_collected_vnd = Set(fee_at_door);
            attempt = Some(row);
        }
        _ => {}
    }
    Moved {
        events: vec![event],
        applied: true,
        attempt,
    }
}

/// Writes the scans, the timeline events and the delivery attempts in bulk; answers the events.
async fn write_rows(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    rows: Rows,
    now: DateTime<Utc>,
) -> Result<Vec<dossier_event::Model>, OpError> {
    for chunk in chunks(rows.scans) {
        scan::Entity::insert_many(chunk)
            .on_conflict_do_nothing_on([scan::Column::ScanId])
            .exec_without_returning(txn)
            .await?;
    }
    let events = insert_events(txn, actor, rows.events, now).await?;
    for chunk in chunks(rows.attempts) {
        delivery_attempt::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(events)
}

/// Writes the dossiers' and the parcels' new statuses: one statement per distinct change.
async fn write_status_changes(
    txn: &impl ConnectionTrait,
    dossiers: &HashMap<i64, DossierState>,
    legs: &HashMap<i64, LegState>,
    now: DateTime<Utc>,
) -> Result<(), OpError> {
    let backend = txn.get_database_backend();
    let mut by_status: HashMap<DossierStatus, Vec<i64>> = HashMap::new();
    for d in dossiers.values().filter(|d| d.status != d.model.status) {
        by_status.entry(d.status).or_default().push(d.model.id);
    }
    for (status, ids) in by_status {
        dossier::Entity::update_many()
            .col_expr(dossier::Column::Status, Expr::value(status.as_str()))
            .col_expr(dossier::Column::UpdatedAt, Expr::value(now))
            .filter(id_in(backend, dossier::Column::Id, &ids)?)
            .exec(txn)
            .await?;
    }
    let mut by_change: HashMap<LegChange, Vec<i64>> = HashMap::new();
    for l in legs.values() {
        if let Some(change) = l.change {
            by_change.entry(change).or_default().push(l.model.id);
        }
    }
    for (change, ids) in by_change {
        let mut update = leg::Entity::update_many()
            .col_expr(leg::Column::Status, Expr::value(change.status.as_str()))
            .col_expr(leg::Column::UpdatedAt, Expr::value(now));
        if let Some(at) = change.delivered_at {
            update = update.col_expr(leg::Column::DeliveredAt, Expr::value(at));
        }
        if let Some(confirmed) = change.identity_confirmed {
            update = update.col_expr(leg::Column::IdentityConfirmed, Expr::value(confirmed));
        }
        if let Some((notices, at)) = change.notice {
            update = update
                .col_expr(leg::Column::FailedAttempts, Expr::value(notices))
                .col_expr(leg::Column::LastFailedAt, Expr::value(at));
        }
        update
            .filter(id_in(backend, leg::Column::Id, &ids)?)
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Per dossier and direction, the time of the last event that moved a parcel that way: its scans and
/// its carrier's events (applied or not), and the records that changed the dossier's status on that
/// leg (a pickup, a handover, a delivery). What the service or staff note beside the journey — an
/// `overdue` raised by the sweep, an incident, a complaint — is no move: an offline scanner's upload
/// after it is not late because of it.
async fn last_move_times(
    txn: &impl ConnectionTrait,
    dossier_ids: &[i64],
) -> Result<Vec<(i64, String, Option<DateTime<Utc>>)>, OpError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        // One index probe per dossier and direction (`dossier_events_dossier_at`, read backwards): a
        // grouped aggregate over an id list would read every event of every dossier in it.
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT i.id, l.leg, (SELECT max(e.at) FROM dossier_events e \
                 WHERE e.dossier_id = i.id AND e.leg = l.leg \
                 AND (e.source IN ('scan', 'carrier') OR e.to_status IS NOT NULL)) \
                 FROM (SELECT value::bigint AS id FROM json_array_elements_text($1::json) AS value) i \
                 CROSS JOIN (VALUES ('inbound'), ('outbound')) AS l(leg)",
                [json_param(&dossier_ids)?],
            ))
            .await?;
        return Ok(rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get_by_index(0)?,
                    row.try_get_by_index(1)?,
                    row.try_get_by_index(2)?,
                ))
            })
            .collect::<Result<_, DbErr>>()?);
    }
    Ok(dossier_event::Entity::find()
        .select_only()
        .column(dossier_event::Column::DossierId)
        .column(dossier_event::Column::Leg)
        .column_as(dossier_event::Column::At.max(), "last_at")
        .filter(dossier_event::Column::DossierId.is_in(dossier_ids.iter().copied()))
        .filter(dossier_event::Column::Leg.is_not_null())
        .filter(
            Condition::any()
                .add(dossier_event::Column::Source.is_in([EventSource::Scan, EventSource::Carrier]))
                .add(dossier_event::Column::ToStatus.is_not_null()),
        )
        .group_by(dossier_event::Column::DossierId)
        .group_by(dossier_event::Column::Leg)
        .into_tuple()
        .all(txn)
        .await?)
}

/// The dossier a known leg belongs to (0, which no dossier has, for an unknown leg).
fn legs_dossier(legs: &HashMap<i64, LegState>, leg_id: i64) -> i64 {
    legs.get(&leg_id).map_or(0, |l| l.model.dossier_id)
}

/// Splits rows into bulk INSERTs of at most [`INSERT_CHUNK`].
fn chunks<T>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(rows.len().div_ceil(INSERT_CHUNK));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        out.push(rows.by_ref().take(INSERT_CHUNK).collect());
    }
    out
}

/// A delivery attempt reported by a scan (no identity document: the scanner does not carry one).
#[expect(
    clippy::too_many_arguments,
    reason = "one row's columns; a struct would only rename them"
)]
fn attempt_row(
    dossier: &dossier::Model,
    leg_id: i64,
    outcome: DeliveryOutcome,
    at: DateTime<Utc>,
    note: Option<String>,
    source: EventSource,
    actor: &Actor,
    now: DateTime<Utc>,
) -> delivery_attempt::ActiveModel {
    delivery_attempt::ActiveModel {
        dossier_id: Set(dossier.id),
        leg_id: Set(leg_id),
        outcome: Set(outcome),
        at: Set(at),
        reason: Set(note),
        recipient_full_name: Set(None),
        recipient_id_number: Set(None),
        proxy: Set(false),
        authorization_ref: Set(None),
        fee_collected_vnd: Set(None),
        source: Set(source),
        actor: Set(actor.audit_name()),
        api_key_id: Set(actor.key_id()),
        recorded_at: Set(now),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_tokens_are_the_last_path_segment() {
        assert_eq!(
            label_token("https://dossier.example.vn/l/AbC-123_x"),
            Some("AbC-123_x")
        );
        assert_eq!(label_token("http://h/l/tok/"), Some("tok"));
        assert_eq!(label_token("http://h/l/tok?utm=1#x"), Some("tok"));
        assert_eq!(label_token("  tok  "), Some("tok"));
        assert_eq!(label_token("http://h/l/"), Some("l"));
        assert_eq!(label_token(""), None);
        assert_eq!(label_token("/"), None);
    }

    #[test]
    fn scan_ids_are_canonical_uuids() {
        assert_eq!(
            canonical_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E").as_deref(),
            Some("0f8fad5b-d9cb-469f-a165-70867728950e")
        );
        for bad in [
            "",
            "0f8fad5bd9cb469fa16570867728950e",
            "0f8fad5b-d9cb-469f-a165-70867728950",
            "0f8fad5b-d9cb-469f-a165-70867728950g",
            "0f8fad5b+d9cb-469f-a165-70867728950e",
        ] {
            assert_eq!(canonical_uuid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn one_bad_field_names_itself() {
        let now = crate::clock::now();
        let ok = ScanRequest {
            scan_id: Some("0f8fad5b-d9cb-469f-a165-70867728950e".into()),
            item_code: Some("RR123456785VN".into()),
            event: Some("departed".into()),
            at: Some("2026-11-23T09:00:00+07:00".into()),
            ..Default::default()
        };
        assert!(check_scan(0, &ok, now, b"k").is_ok());
        let cases = [
            (
                ScanRequest {
                    scan_id: None,
                    ..ok.clone()
                },
                "scan_id",
            ),
            (
                ScanRequest {
                    event: Some("lost".into()),
                    ..ok.clone()
                },
                "event",
            ),
            (
                ScanRequest {
                    at: Some("yesterday".into()),
                    ..ok.clone()
                },
                "at",
            ),
            (
                ScanRequest {
                    at: None,
                    ..ok.clone()
                },
                "at",
            ),
            (
                ScanRequest {
                    item_code: Some("RR123456784VN".into()),
                    ..ok.clone()
                },
                "item_code",
            ),
            (
                ScanRequest {
                    item_code: None,
                    ..ok.clone()
                },
                "item_code",
            ),
            (
                ScanRequest {
                    label: Some("http://h/l/x".into()),
                    ..ok.clone()
                },
                "label",
            ),
        ];
        for (request, field) in cases {
            match check_scan(0, &request, now, b"k") {
                Err(OpError::Validation(errors)) => {
                    assert_eq!(errors.len(), 1, "{errors:?}");
                    assert_eq!(errors[0].field, field);
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        let forged = ScanRequest {
            item_code: None,
            label: Some("http://h/l/AAAAAAAAAAAAAAAAAAAAAAAA".into()),
            ..ok
        };
        assert!(matches!(
            check_scan(0, &forged, now, b"k"),
            Err(OpError::NotFound(_))
        ));
    }
}
