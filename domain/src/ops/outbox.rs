//! The outbox: every e-mail and webhook delivery is a row written in the same transaction as the change
//! that caused it, so a committed change is never without its notifications and a rolled-back one never
//! has any. Workers claim rows with a lease, deliver them at least once, and record the outcome:
//! done, or another attempt later (`base · 2^attempts`, capped; webhook deliveries follow
//! [`crate::webhook_retry`] instead), or — after the last attempt — `failed`, kept for the
//! administrators to see and requeue. A worker killed between claim and send loses nothing: its lease
//! runs out and the next claim picks the row up again. Receivers dedupe by the e-mail's Message-ID or
//! the webhook's delivery id, which stay the same on every attempt.
//!
//! Notifications derive from timeline events: [`enqueue_for_event`] is called by
//! [`super::append_event`] for every event, so no use-case has to remember it.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{
    DossierStatus, EventKind, EventSource, LegDirection, OutboxStatus, ServiceMode,
};
use entity::{agency, dossier, dossier_event, incident, leg, outbox, procedure, webhook};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::store::Store;

pub use super::outbox_rows::DeliveryKind;
pub(crate) use super::outbox_rows::pending_row;

/// Who an e-mail is for: the recipient decides how much of the dossier the message may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The applicant, at the address on the slip.
    Citizen,
    /// The agency's desk, at `agencies.email`.
    Agency,
}

impl Recipient {
    /// Used in the stable message key.
    pub const fn as_str(self) -> &'static str {
        match self {
            Recipient::Citizen => "citizen",
            Recipient::Agency => "agency",
        }
    }
}

/// What an e-mail says, with the facts it needs, as they were when the event happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Notice {
    /// The dossier reached the agency: the legal filing time and the result's due date (Circular 17
    /// Art. 12; Decision 45 Art. 7.4).
    ReceivedByAgency {
        filed_at: Option<DateTime<Utc>>,
        result_due_at: Option<DateTime<Utc>>,
    },
    /// The agency asks for supplements: which ones, in the agency's words.
    SupplementRequested { items: Option<String> },
    /// The result (or the written refusal) is ready; what happens next depends on the service mode.
    ResultReady {
        service_mode: ServiceMode,
        /// `accepted` or `rejected`, when the agency has ruled.
        outcome: Option<String>,
    },
    /// The postman is on the way with the result.
    OutForDelivery { item_code: Option<String> },
    /// A delivery attempt failed and a notice was left (Circular 17 Art. 5.2h).
    DeliveryFailed {
        /// 1 for the first notice, 2 for the second.
        notice: i32,
        /// Why, as the postman recorded it.
        reason: Option<String>,
        /// After the first notice: the first date of the next attempt.
        next_attempt_from: Option<NaiveDate>,
        /// After the last notice: the result goes back to the agency.
        returned_to_agency: bool,
    },
    /// The result was handed to the citizen.
    Delivered { item_code: Option<String> },
    /// To the agency: the result it handed to the post was delivered (Circular 17 Art. 12).
    ResultDelivered {
        national_dossier_no: Option<String>,
        item_code: Option<String>,
    },
    /// To the citizen and the agency: a parcel was lost, damaged or delayed (Decision 45 Art. 14;
    /// Circular 17 Art. 8), with the compensation the post paid.
    Incident {
        /// `lost`, `damaged` or `delayed`.
        kind: String,
        /// `inbound` (the dossier) or `outbound` (the result).
        leg: String,
        compensation_vnd: i64,
        note: Option<String>,
    },
    /// To the citizen: the answer to their complaint (Circular 17 Art. 8).
    ComplaintAnswered { complaint_id: i64, answer: String },
    /// To an agency and the operators: the summary of a quarter, half-year or year just ended
    /// (Circular 17 Art. 13). The mailer attaches `csv` as a file named `csv_file_name`
    /// (`text/csv; charset=utf-8`).
    PeriodReport {
        /// `2026-Q4`, `2026-H2` or `2026`.
        period: String,
        from: NaiveDate,
        to: NaiveDate,
        agency_code: String,
        dossiers: i64,
        csv_file_name: String,
        csv: String,
    },
    /// To the operators (`DOSSIER__ALERTS__EMAIL`): a webhook was disabled because its deliveries'
    /// retries ran out; it gets nothing until an administrator enables it again.
    WebhookDisabled {
        webhook_id: i64,
        agency_code: String,
        /// `scheme://host[:port]` of its URL (the path may carry a token).
        url_origin: String,
        reason: String,
        attempts: i32,
    },
}

/// One e-mail waiting in the outbox. It carries only what the message shows its recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailPayload {
    /// Unique and stable per (event, recipient): the local part of the Message-ID, and the file name
    /// of the `.eml` copy, so a retried send is recognisably the same message.
    pub message_key: String,
    pub recipient: Recipient,
    pub to: String,
    /// The citizen's own name (they gave it); none for the agency.
    pub to_name: Option<String>,
    /// `vi` or `en`.
    pub language: String,
    pub dossier_code: String,
    pub agency_name: Option<String>,
    pub procedure_name: Option<String>,
    /// When the event happened.
    pub at: DateTime<Utc>,
    pub notice: Notice,
}

/// One webhook delivery waiting in the outbox. The URL and the secret are read from the webhook row
/// when it is sent: a secret never sits in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub webhook_id: i64,
    /// Sent as `X-Dossier-Delivery` and in the body; the same on every attempt.
    pub delivery_id: String,
    pub event: WebhookEvent,
}

/// A timeline event as agency systems receive it: the change feed's fields, no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The event's id, increasing in the order events were recorded.
    pub id: i64,
    pub dossier_code: String,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub status: Option<DossierStatus>,
    pub source: EventSource,
}

/// How often a delivery is tried, and how far apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub cap: Duration,
    /// Attempts before a row is given up as `failed`.
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    /// 30 s, 1 min, 2 min … capped at 6 h, 12 attempts: about 20 hours of trying, like the peers'
    /// notifiers, before an administrator has to look.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(6 * 3600),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// The wait after a failure of a row that had `attempts` failed attempts before it.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
        self.base
            .checked_mul(1u32 << exponent)
            .map_or(self.cap, |d| d.min(self.cap))
    }
}

/// The event kinds that e-mail the citizen, for parcels coming home (not the inbound one).
pub(crate) fn citizen_notice_kind(kind: EventKind, leg: Option<LegDirection>) -> bool {
    match kind {
        EventKind::ReceivedByAgency | EventKind::SupplementRequested | EventKind::ResultReady => {
            true
        }
        EventKind::OutForDelivery | EventKind::DeliveryFailed | EventKind::Delivered => {
            leg != Some(LegDirection::Inbound)
        }
        EventKind::Incident => true,
        _ => false,
    }
}

/// Whether `event` tells the citizen something new: an event whose kind notifies
/// ([`citizen_notice_kind`]) and that moved the dossier, or an incident (which moves nothing by
/// nature). A scan or carrier report that only joins the timeline — the same delivery reported
/// again by the carrier after the postman's handheld, an "out for delivery" arriving after the
/// delivery, a failed attempt too soon to count as a notice — tells nothing new: exactly one message
/// per dossier, notice and channel (INTEGRATIONS.md).
pub(crate) fn tells_citizen(event: &dossier_event::Model) -> bool {
    super::integrations::moved_or_incident(event) && citizen_notice_kind(event.kind, event.leg)
}

/// A random delivery id: 128 bits, hex.
fn new_delivery_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes[..]);
    hex::encode(bytes)
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, DbErr> {
    serde_json::to_value(value).map_err(|e| DbErr::Custom(format!("outbox payload: {e}")))
}

/// Writes the outbox rows an event causes, inside the caller's transaction: one webhook delivery per
/// active webhook of the dossier's agency, and the e-mails of Circular 17 Art. 12 for the event kinds
/// that notify (the citizen when they gave an address; the agency when its result was delivered and
/// it has an address). Reads the dossier inside the transaction, so the e-mail shows the change.
pub async fn enqueue_for_event(
    conn: &impl ConnectionTrait,
    event: &dossier_event::Model,
) -> Result<(), DbErr> {
    enqueue_for_events(conn, std::slice::from_ref(event)).await
}

/// Whether an event causes outbox rows, for a writer that already knows whether the dossier's agency
/// has an active webhook and whether any outlet (phone notices, the portal) is on (read in the
/// statement that wrote the event) and may then skip [`enqueue_for_event`]'s own look-ups. The rule
/// of [`enqueue_for_events`].
pub fn causes_deliveries(
    event: &dossier_event::Model,
    agency_has_webhook: bool,
    outlets_on: bool,
) -> bool {
    agency_has_webhook
        || tells_citizen(event)
        || (outlets_on && super::integrations::may_reach_outlets(event))
}

/// Rows per bulk statement, well under both databases' limits on bound parameters.
const CHUNK: usize = 500;

/// [`enqueue_for_event`] for many events at once (bulk writers such as a scanner's batch upload or
/// the carrier feed): the same rows, in the order of `events`, read and written with a handful of
/// statements whatever the number of events. Call it after the dossiers and parcels are updated.
pub async fn enqueue_for_events(
    conn: &impl ConnectionTrait,
    events: &[dossier_event::Model],
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let dossier_ids: Vec<i64> = events
        .iter()
        .map(|e| e.dossier_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let hooks = active_webhooks_of(conn, &dossier_ids).await?;
    let notifying: Vec<&dossier_event::Model> =
        events.iter().filter(|e| tells_citizen(e)).collect();
    let outlets = if events.iter().any(super::integrations::may_reach_outlets) {
        super::integrations::outlets(conn).await?
    } else {
        super::integrations::Outlets::default()
    };
    let any_outlet = outlets.phone || outlets.portal;
    if hooks.is_empty() && notifying.is_empty() && !any_outlet {
        return Ok(());
    }
    let dossiers = dossiers_by_id(conn, &dossier_ids).await?;
    let context = if notifying.is_empty() {
        NoticeContext::default()
    } else {
        NoticeContext::load(conn, &notifying, &dossiers).await?
    };
    let now = crate::clock::now();
    let mut rows = Vec::new();
    for event in events {
        let Some(dossier) = dossiers.get(&event.dossier_id) else {
            continue;
        };
        rows.extend(webhook_rows(event, dossier, &hooks, now)?);
        if tells_citizen(event) {
            for email in context.emails_for(event, dossier) {
                rows.push(pending_row(
                    DeliveryKind::Email,
                    dossier.id,
                    to_json(&email)?,
                    now,
                ));
            }
        }
    }
    if any_outlet {
        rows.extend(
            super::integrations::rows_for_events(conn, events, &dossiers, outlets, now).await?,
        );
    }
    insert_rows(conn, rows).await
}

/// The active webhooks (id, agency) of the agencies of the dossiers `dossier_ids`, in order.
async fn active_webhooks_of(
    conn: &impl ConnectionTrait,
    dossier_ids: &[i64],
) -> Result<Vec<(i64, String)>, DbErr> {
    let mut hooks: Vec<(i64, String)> = Vec::new();
    for ids in dossier_ids.chunks(CHUNK) {
        hooks.extend(
            webhook::Entity::find()
                .select_only()
                .column(webhook::Column::Id)
                .column(webhook::Column::AgencyCode)
                .filter(webhook::Column::Active.eq(true))
                .filter(
                    webhook::Column::AgencyCode.in_subquery(
                        Query::select()
                            .column(dossier::Column::AgencyCode)
                            .from(dossier::Entity)
                            .and_where(dossier::Column::Id.is_in(ids.iter().copied()))
                            .to_owned(),
                    ),
                )
                .into_tuple::<(i64, String)>()
                .all(conn)
                .await?,
        );
    }
    hooks.sort();
    hooks.dedup();
    Ok(hooks)
}

/// The dossiers `dossier_ids`, by id.
async fn dossiers_by_id(
    conn: &impl ConnectionTrait,
    dossier_ids: &[i64],
) -> Result<HashMap<i64, dossier::Model>, DbErr> {
    let mut dossiers: HashMap<i64, dossier::Model> = HashMap::new();
    for ids in dossier_ids.chunks(CHUNK) {
        for d in dossier::Entity::find()
            .filter(dossier::Column::Id.is_in(ids.iter().copied()))
            .all(conn)
            .await?
        {
            dossiers.insert(d.id, d);
        }
    }
    Ok(dossiers)
}

/// One delivery of `event` to each active webhook of the dossier's agency.
fn webhook_rows(
    event: &dossier_event::Model,
    dossier: &dossier::Model,
    hooks: &[(i64, String)],
    now: DateTime<Utc>,
) -> Result<Vec<outbox::ActiveModel>, DbErr> {
    let mut rows = Vec::new();
    for (webhook_id, _) in hooks.iter().filter(|(_, a)| *a == dossier.agency_code) {
        let payload = WebhookPayload {
            webhook_id: *webhook_id,
            delivery_id: new_delivery_id(),
            event: WebhookEvent {
                id: event.id,
                dossier_code: dossier.code.clone(),
                at: event.at,
                kind: event.kind,
                status: event.to_status,
                source: event.source,
            },
        };
        rows.push(pending_row(
            DeliveryKind::Webhook,
            dossier.id,
            to_json(&payload)?,
            now,
        ));
    }
    Ok(rows)
}

/// Inserts `rows`, [`CHUNK`] to a statement.
async fn insert_rows(
    conn: &impl ConnectionTrait,
    rows: Vec<outbox::ActiveModel>,
) -> Result<(), DbErr> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        outbox::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// What the e-mails of a set of events need beyond their dossiers, read once for all of them.
#[derive(Default)]
struct NoticeContext {
    agencies: HashMap<String, agency::Model>,
    procedures: HashMap<String, String>,
    /// Outbound parcels by dossier id.
    outbound: HashMap<i64, leg::Model>,
    calendar: Option<crate::calendar::WorkingCalendar>,
    /// The latest incident of each dossier with an `incident` event.
    incidents: HashMap<i64, incident::Model>,
}

impl NoticeContext {
    async fn load(
        conn: &impl ConnectionTrait,
        events: &[&dossier_event::Model],
        dossiers: &HashMap<i64, dossier::Model>,
    ) -> Result<Self, DbErr> {
        let involved: Vec<&dossier::Model> = events
            .iter()
            .filter_map(|e| dossiers.get(&e.dossier_id))
            .collect();
        let agency_codes: BTreeSet<String> =
            involved.iter().map(|d| d.agency_code.clone()).collect();
        let procedure_codes: BTreeSet<String> =
            involved.iter().map(|d| d.procedure_code.clone()).collect();
        let parcel_dossiers: BTreeSet<i64> = events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::OutForDelivery | EventKind::DeliveryFailed | EventKind::Delivered
                )
            })
            .map(|e| e.dossier_id)
            .collect();
        let agencies = agency::Entity::find()
            .filter(agency::Column::Code.is_in(agency_codes))
            .all(conn)
            .await?
            .into_iter()
            .map(|a| (a.code.clone(), a))
            .collect();
        let procedures = procedure::Entity::find()
            .filter(procedure::Column::Code.is_in(procedure_codes))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.code, p.name))
            .collect();
        let mut outbound = HashMap::new();
        let parcel_dossiers: Vec<i64> = parcel_dossiers.into_iter().collect();
        for ids in parcel_dossiers.chunks(CHUNK) {
            for l in leg::Entity::find()
                .filter(leg::Column::DossierId.is_in(ids.iter().copied()))
                .filter(leg::Column::Direction.eq(LegDirection::Outbound))
                .all(conn)
                .await?
            {
                outbound.insert(l.dossier_id, l);
            }
        }
        let calendar = if events.iter().any(|e| e.kind == EventKind::DeliveryFailed) {
            Some(super::reference::working_calendar(conn).await?)
        } else {
            None
        };
        let incident_dossiers: Vec<i64> = events
            .iter()
            .filter(|e| e.kind == EventKind::Incident)
            .map(|e| e.dossier_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut incidents = HashMap::new();
        for ids in incident_dossiers.chunks(CHUNK) {
            for i in incident::Entity::find()
                .filter(incident::Column::DossierId.is_in(ids.iter().copied()))
                .order_by_asc(incident::Column::Id)
                .all(conn)
                .await?
            {
                incidents.insert(i.dossier_id, i);
            }
        }
        Ok(Self {
            agencies,
            procedures,
            outbound,
            calendar,
            incidents,
        })
    }

    /// The e-mails one event sends, one per recipient.
    fn emails_for(
        &self,
        event: &dossier_event::Model,
        dossier: &dossier::Model,
    ) -> Vec<EmailPayload> {
        let citizen_email = dossier
            .applicant_email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let agency = self.agencies.get(&dossier.agency_code);
        let agency_email = agency
            .and_then(|a| a.email.as_deref())
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let to_agency = matches!(event.kind, EventKind::Delivered | EventKind::Incident)
            && agency_email.is_some();
        if citizen_email.is_none() && !to_agency {
            return Vec::new();
        }
        let procedure_name = self.procedures.get(&dossier.procedure_code).cloned();
        let outbound = self.outbound.get(&dossier.id);
        let item_code = outbound.and_then(|l| l.item_code.clone());
        let notice = self.notice_of(event, dossier, outbound, &item_code);
        let agency_notice = if event.kind == EventKind::Incident {
            notice.clone()
        } else {
            Notice::ResultDelivered {
                national_dossier_no: dossier.national_dossier_no.clone(),
                item_code: item_code.clone(),
            }
        };
        let agency_name = agency.map(|a| a.name.clone());
        let mut emails = Vec::with_capacity(2);
        if let Some(to) = citizen_email {
            emails.push(EmailPayload {
                message_key: format!("dossier-event-{}-{}", event.id, Recipient::Citizen.as_str()),
                recipient: Recipient::Citizen,
                to: to.to_owned(),
                to_name: Some(dossier.applicant_full_name.clone()),
                language: dossier.language.clone(),
                dossier_code: dossier.code.clone(),
                agency_name: agency_name.clone(),
                procedure_name: procedure_name.clone(),
                at: event.at,
                notice,
            });
        }
        if to_agency && let Some(to) = agency_email {
            emails.push(EmailPayload {
                message_key: format!("dossier-event-{}-{}", event.id, Recipient::Agency.as_str()),
                recipient: Recipient::Agency,
                to: to.to_owned(),
                to_name: None,
                // The agency's desk reads Vietnamese, whatever the citizen chose.
                language: "vi".to_owned(),
                dossier_code: dossier.code.clone(),
                agency_name,
                procedure_name,
                at: event.at,
                notice: agency_notice,
            });
        }
        emails
    }

    /// What the event tells the citizen.
    fn notice_of(
        &self,
        event: &dossier_event::Model,
        dossier: &dossier::Model,
        outbound: Option<&leg::Model>,
        item_code: &Option<String>,
    ) -> Notice {
        match event.kind {
            EventKind::ReceivedByAgency => Notice::ReceivedByAgency {
                filed_at: dossier.filed_at,
                result_due_at: dossier.result_due_at,
            },
            EventKind::SupplementRequested => Notice::SupplementRequested {
                items: event.note.clone(),
            },
            EventKind::ResultReady => Notice::ResultReady {
                service_mode: dossier.service_mode,
                outcome: dossier.outcome.clone(),
            },
            EventKind::OutForDelivery => Notice::OutForDelivery {
                item_code: item_code.clone(),
            },
            EventKind::DeliveryFailed => self.delivery_failed_notice(event, outbound),
            EventKind::Incident => {
                let incident = self.incidents.get(&dossier.id);
                Notice::Incident {
                    kind: incident.map_or_else(String::new, |i| i.kind.to_string()),
                    leg: incident.map_or_else(
                        || event.leg.map(|l| l.to_string()).unwrap_or_default(),
                        |i| i.leg.to_string(),
                    ),
                    compensation_vnd: incident.map_or(0, |i| i.compensation_vnd),
                    note: incident.and_then(|i| i.note.clone()),
                }
            }
            _ => Notice::Delivered {
                item_code: item_code.clone(),
            },
        }
    }

    /// The notice of a failed delivery: which one it is, and what happens next.
    fn delivery_failed_notice(
        &self,
        event: &dossier_event::Model,
        outbound: Option<&leg::Model>,
    ) -> Notice {
        let counted = event.note.as_deref().and_then(notice_number);
        let notice = Ord::max(
            counted.unwrap_or_else(|| outbound.map_or(1, |l| l.failed_attempts)),
            1,
        );
        let last = notice >= crate::delivery::NOTICES_BEFORE_RETURN;
        Notice::DeliveryFailed {
            notice,
            reason: event.note.as_deref().and_then(failure_reason),
            next_attempt_from: match (&self.calendar, last) {
                (Some(calendar), false) => {
                    Some(crate::delivery::earliest_next_notice(calendar, event.at))
                }
                _ => None,
            },
            returned_to_agency: last,
        }
    }
}

/// Writes one e-mail to a dossier's citizen that no timeline event stands for (the answer to a
/// complaint), inside the caller's transaction; nothing when the citizen gave no address.
/// `message_key` must be unique and stable for this message.
pub async fn enqueue_citizen_email(
    conn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    message_key: String,
    notice: Notice,
) -> Result<(), DbErr> {
    if matches!(notice, Notice::ComplaintAnswered { .. })
        && let Some(row) = super::integrations::phone_notice_row(
            conn,
            dossier,
            crate::notify::PhoneTopic::ComplaintAnswered,
            crate::clock::now(),
        )
        .await?
    {
        outbox::Entity::insert(row)
            .exec_without_returning(conn)
            .await?;
    }
    let Some(to) = dossier
        .applicant_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    else {
        return Ok(());
    };
    let agency_name = agency::Entity::find_by_id(dossier.agency_code.clone())
        .one(conn)
        .await?
        .map(|a| a.name);
    let procedure_name = procedure::Entity::find_by_id(dossier.procedure_code.clone())
        .one(conn)
        .await?
        .map(|p| p.name);
    let now = crate::clock::now();
    let email = EmailPayload {
        message_key,
        recipient: Recipient::Citizen,
        to: to.to_owned(),
        to_name: Some(dossier.applicant_full_name.clone()),
        language: dossier.language.clone(),
        dossier_code: dossier.code.clone(),
        agency_name,
        procedure_name,
        at: now,
        notice,
    };
    outbox::Entity::insert(pending_row(
        DeliveryKind::Email,
        dossier.id,
        to_json(&email)?,
        now,
    ))
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The notice counter in a failed-delivery note written by the delivery endpoint (`notice N: …`).
fn notice_number(note: &str) -> Option<i32> {
    note.strip_prefix("notice ")?
        .split(':')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The postman's reason in a failed-delivery note (`notice N: reason`), without the counter.
fn failure_reason(note: &str) -> Option<String> {
    let reason = match note.split_once(": ") {
        Some((head, rest)) if head.starts_with("notice ") => rest,
        _ => note,
    };
    let reason = reason.trim();
    (!reason.is_empty()).then(|| reason.to_owned())
}

/// Claims up to `limit` due e-mail and webhook rows for `worker_id` for `lease`: rows that are
/// pending, due, and not held by a live lease (other kinds of work in the outbox are left to their own
/// workers). On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED` while the lease is
/// written, so concurrent workers claim disjoint batches without waiting for each other; on SQLite the
/// write transaction is already exclusive (one worker).
pub async fn claim_batch(
    store: &Store,
    worker_id: &str,
    limit: u64,
    lease: Duration,
) -> Result<Vec<outbox::Model>, DbErr> {
    claim_batch_of(
        store,
        worker_id,
        &[DeliveryKind::Email, DeliveryKind::Webhook],
        limit,
        lease,
    )
    .await
}

/// [`claim_batch`] for the given kinds of work (a worker with a carrier also claims `carrier_order`).
pub async fn claim_batch_of(
    store: &Store,
    worker_id: &str,
    kinds: &[DeliveryKind],
    limit: u64,
    lease: Duration,
) -> Result<Vec<outbox::Model>, DbErr> {
    let now = crate::clock::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let txn = store.begin().await?;
    let mut query = outbox::Entity::find()
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .filter(
            sea_orm::Condition::any()
                .add(outbox::Column::LockedUntil.is_null())
                .add(outbox::Column::LockedUntil.lt(now)),
        )
        .order_by_asc(outbox::Column::Id)
        .limit(limit);
    if kinds.contains(&DeliveryKind::PortalCall) {
        // A dossier's portal calls go in the order they were written: a call is due only when no
        // earlier call of its dossier is still waiting (pending, held, or failed and kept for an
        // administrator), so the portal never sees a later status before an earlier one.
        query = query.filter(
            sea_orm::Condition::any()
                .add(outbox::Column::Kind.ne(DeliveryKind::PortalCall.as_str()))
                .add(Expr::cust(
                    "NOT EXISTS (SELECT 1 FROM outbox AS earlier \
                     WHERE earlier.dossier_id = outbox.dossier_id \
                     AND earlier.kind = 'portal_call' \
                     AND earlier.id < outbox.id \
                     AND earlier.status <> 'done')",
                )),
        );
    }
    if store.backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut rows = query.all(&txn).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(rows);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    outbox::Entity::update_many()
        .col_expr(outbox::Column::LockedUntil, Expr::value(until))
        .col_expr(outbox::Column::LockedBy, Expr::value(worker_id.to_owned()))
        .filter(outbox::Column::Id.is_in(ids))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    for row in &mut rows {
        row.locked_until = Some(until);
        row.locked_by = Some(worker_id.to_owned());
    }
    Ok(rows)
}

/// Marks a delivered row done. A row is done once, whoever delivered it.
pub async fn complete(store: &Store, id: i64) -> Result<(), DbErr> {
    complete_on(&store.write, id).await
}

/// [`complete`] inside the caller's transaction.
pub async fn complete_on(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(OutboxStatus::Done.as_str()),
        )
        .col_expr(outbox::Column::DoneAt, Expr::value(crate::clock::now()))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LockedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .exec(conn)
        .await?;
    Ok(())
}

/// Replaces the payload of a row `worker_id` holds, to remember how far its delivery got (e.g. that
/// ZNS refused the phone, so the next attempt goes straight to SMS). Returns whether the row was held.
pub async fn update_payload(
    store: &Store,
    id: i64,
    worker_id: &str,
    payload: serde_json::Value,
) -> Result<bool, DbErr> {
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::Payload, Expr::value(payload))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::LockedBy.eq(worker_id))
        .exec(&store.write)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Extends the lease of the rows `worker_id` still holds among `ids` to `lease` from now, so a batch
/// that works longer than one lease is never claimed by another worker meanwhile. Returns how many
/// rows were still held.
pub async fn renew_leases(
    store: &Store,
    worker_id: &str,
    ids: &[i64],
    lease: Duration,
) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let until = crate::clock::now()
        + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::LockedUntil, Expr::value(until))
        .filter(outbox::Column::Id.is_in(ids.iter().copied()))
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::LockedBy.eq(worker_id))
        .exec(&store.write)
        .await?;
    Ok(res.rows_affected)
}

/// Gives back, unattempted, the rows of `kinds` that `worker_id` holds (all of them when `ids` is
/// `None`): a stopping worker frees its claim at once instead of leaving it to the lease. Their
/// attempts are not counted. Returns how many rows were given back.
pub async fn release(
    store: &Store,
    worker_id: &str,
    kinds: &[DeliveryKind],
    ids: Option<&[i64]>,
) -> Result<u64, DbErr> {
    let mut update = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LockedBy,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::LockedBy.eq(worker_id))
        .filter(outbox::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        update = update.filter(outbox::Column::Id.is_in(ids.iter().copied()));
    }
    Ok(update.exec(&store.write).await?.rows_affected)
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Another attempt is due at this time.
    RetryAt(DateTime<Utc>),
    /// That was the last attempt: the row is `failed`, kept for the administrators.
    GaveUp,
    /// The row was no longer this worker's (its lease ran out and another worker took it, or it was
    /// done meanwhile): nothing was changed.
    NotHeld,
}

/// Records a failed attempt of a row claimed by `worker_id`: `attempts + 1` and the next attempt
/// `base · 2^attempts` later (capped), or `failed` after the last attempt — or at once when
/// `permanent` (the receiver refused the message for good; retrying cannot help). `error` is stored
/// for the administrators: callers pass a short description without personal data or secrets.
pub async fn fail(
    store: &Store,
    claimed: &outbox::Model,
    worker_id: &str,
    error: &str,
    policy: &RetryPolicy,
    permanent: bool,
) -> Result<FailOutcome, DbErr> {
    let now = crate::clock::now();
    let attempts = claimed.attempts.saturating_add(1);
    let gave_up = permanent || attempts >= policy.max_attempts;
    let next = now
        + chrono::Duration::from_std(policy.backoff(claimed.attempts))
            .unwrap_or(chrono::Duration::hours(6));
    let held = fail_until(
        &store.write,
        claimed,
        worker_id,
        error,
        (!gave_up).then_some(next),
    )
    .await?;
    Ok(if !held {
        FailOutcome::NotHeld
    } else if gave_up {
        FailOutcome::GaveUp
    } else {
        FailOutcome::RetryAt(next)
    })
}

/// Records a failed attempt of a row claimed by `worker_id`, inside the caller's transaction:
/// `attempts + 1`, and another attempt at `next`, or — with `None` — `failed` for good. Returns
/// whether the row was still this worker's (when not, nothing was changed). The webhook lane calls it
/// with the time its own schedule gives ([`crate::webhook_retry`]).
pub async fn fail_until(
    conn: &impl ConnectionTrait,
    claimed: &outbox::Model,
    worker_id: &str,
    error: &str,
    next: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let gave_up = next.is_none();
    let next = next.unwrap_or_else(crate::clock::now);
    let status = if gave_up {
        OutboxStatus::Failed
    } else {
        OutboxStatus::Pending
    };
    let error: String = error.chars().take(500).collect();
    let res = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Attempts,
            ExprTrait::add(Expr::col(outbox::Column::Attempts), 1),
        )
        .col_expr(outbox::Column::Status, Expr::value(status.as_str()))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(next))
        .col_expr(outbox::Column::LastError, Expr::value(Some(error)))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LockedBy,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Id.eq(claimed.id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::LockedBy.eq(worker_id))
        .filter(outbox::Column::Attempts.eq(claimed.attempts))
        .exec(conn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Stops every pending delivery to webhook `webhook_id` (it was disabled): the rows become `failed`
/// with `error` as their last error, released whoever held them, and stay listed for the
/// administrators, who may requeue them once the webhook is enabled again. Returns how many.
pub async fn stop_webhook_deliveries(
    conn: &impl ConnectionTrait,
    webhook_id: i64,
    error: &str,
) -> Result<u64, DbErr> {
    let of_webhook = match conn.get_database_backend() {
        DbBackend::Postgres => Expr::cust_with_values(
            "CAST(payload ->> 'webhook_id' AS BIGINT) = $1",
            [webhook_id],
        ),
        _ => Expr::cust_with_values(
            "CAST(json_extract(payload, '$.webhook_id') AS INTEGER) = ?",
            [webhook_id],
        ),
    };
    let error: String = error.chars().take(500).collect();
    let res = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(OutboxStatus::Failed.as_str()),
        )
        .col_expr(outbox::Column::LastError, Expr::value(Some(error)))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LockedBy,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Kind.eq(DeliveryKind::Webhook.as_str()))
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(of_webhook)
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// The most rows one admin listing shows.
pub const MAX_LIST: u64 = 500;

/// Outbox rows for the administrators, newest first; `status` narrows it (e.g. `failed`).
pub async fn list(
    conn: &impl ConnectionTrait,
    status: Option<OutboxStatus>,
    limit: u64,
) -> Result<Vec<(outbox::Model, Option<String>)>, DbErr> {
    let mut query = outbox::Entity::find()
        .order_by_desc(outbox::Column::Id)
        .limit(limit.clamp(1, MAX_LIST));
    if let Some(status) = status {
        query = query.filter(outbox::Column::Status.eq(status));
    }
    let rows = query.all(conn).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.dossier_id).collect();
    let codes: HashMap<i64, String> = if ids.is_empty() {
        Default::default()
    } else {
        dossier::Entity::find()
            .select_only()
            .column(dossier::Column::Id)
            .column(dossier::Column::Code)
            .filter(dossier::Column::Id.is_in(ids))
            .into_tuple::<(i64, String)>()
            .all(conn)
            .await?
            .into_iter()
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let code = r.dossier_id.and_then(|id| codes.get(&id).cloned());
            (r, code)
        })
        .collect())
}

/// Puts a `failed` row back in the queue with a fresh count of attempts, once its cause is fixed.
/// Returns whether a failed row with that id existed.
pub async fn requeue(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let res = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Status,
            Expr::value(OutboxStatus::Pending.as_str()),
        )
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(
            outbox::Column::NextAttemptAt,
            Expr::value(crate::clock::now()),
        )
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LockedBy,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Failed))
        .exec(conn)
        .await?;
    Ok(res.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let p = RetryPolicy {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            max_attempts: 10,
        };
        assert_eq!(p.backoff(0), Duration::from_secs(30));
        assert_eq!(p.backoff(1), Duration::from_secs(60));
        assert_eq!(p.backoff(3), Duration::from_secs(240));
        assert_eq!(p.backoff(7), Duration::from_secs(3600));
        assert_eq!(p.backoff(40), Duration::from_secs(3600));
        assert_eq!(p.backoff(-1), Duration::from_secs(30));
    }

    #[test]
    fn failure_reasons_drop_the_notice_counter() {
        assert_eq!(
            failure_reason("notice 1: không có người nhận").as_deref(),
            Some("không có người nhận")
        );
        assert_eq!(failure_reason("moved").as_deref(), Some("moved"));
        assert_eq!(failure_reason("notice 2: "), None);
        assert_eq!(notice_number("notice 2: moved"), Some(2));
        assert_eq!(notice_number("moved"), None);
    }

    #[test]
    fn only_homebound_parcels_notify_the_citizen() {
        assert!(citizen_notice_kind(
            EventKind::Delivered,
            Some(LegDirection::Outbound)
        ));
        assert!(!citizen_notice_kind(
            EventKind::Delivered,
            Some(LegDirection::Inbound)
        ));
        assert!(citizen_notice_kind(EventKind::ReceivedByAgency, None));
        assert!(!citizen_notice_kind(EventKind::Requested, None));
    }

    #[test]
    fn payloads_round_trip_through_json() {
        let p = EmailPayload {
            message_key: "dossier-event-7-citizen".into(),
            recipient: Recipient::Citizen,
            to: "an@example.vn".into(),
            to_name: Some("Nguyễn Văn An".into()),
            language: "vi".into(),
            dossier_code: "ABCD-EFGH".into(),
            agency_name: None,
            procedure_name: None,
            at: Utc::now(),
            notice: Notice::DeliveryFailed {
                notice: 1,
                reason: None,
                next_attempt_from: NaiveDate::from_ymd_opt(2026, 11, 25),
                returned_to_agency: false,
            },
        };
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["notice"]["template"], "delivery_failed");
        let back: EmailPayload = serde_json::from_value(json).expect("back");
        assert_eq!(back, p);
    }
}
