//! The soak's closing checks, against the database once every process has stopped, the receiving
//! SMTP server and the carrier sandbox: every dossier the load made is there and where the load left
//! it, its status is the one its timeline last moved it to, no event is there twice, every e-mail of
//! the outbox arrived exactly once, and every carrier event was stored once.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::load::{Pipeline, Stage};
use ::tests::smtp_sink::SmtpSink;

/// A timeline event written from a carrier's record that stands for a scan (`e` is `dossier_events`).
const CARRIER_SCAN_EVENT: &str = "e.source = 'carrier' AND e.kind IN ('accepted_at_office', \
     'departed', 'arrived', 'out_for_delivery', 'delivery_failed', 'delivered')";

/// What the checks found: lines to print, and the failures among them.
#[derive(Default)]
pub struct Findings {
    pub lines: Vec<String>,
    pub failures: Vec<String>,
}

impl Findings {
    /// One check: prints `what` with `ok` or `FAILED`, and keeps it among the failures when it failed.
    fn check(&mut self, ok: bool, what: String) {
        self.lines
            .push(format!("  {} {what}", if ok { "ok    " } else { "FAILED" }));
        if !ok {
            self.failures.push(what);
        }
    }

    fn note(&mut self, what: String) {
        self.lines.push(format!("        {what}"));
    }
}

async fn rows(db: &DatabaseConnection, sql: &str) -> anyhow::Result<Vec<sea_orm::QueryResult>> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .with_context(|| format!("query: {sql}"))
}

/// The single number `n` a query answers.
async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let rows = rows(db, sql).await?;
    let row = rows.first().context("no row")?;
    Ok(row.try_get::<i64>("", "n")?)
}

/// Runs every check.
pub async fn run(
    db: &DatabaseConnection,
    pipeline: &Pipeline,
    sink: &SmtpSink,
    sandbox: &carrier_sandbox::SandboxHandle,
) -> anyhow::Result<Findings> {
    let mut f = Findings::default();
    dossiers(db, pipeline, &mut f).await?;
    timelines(db, pipeline, &mut f).await?;
    outbox(db, sink, &mut f).await?;
    carrier(db, sandbox, &mut f).await?;
    Ok(f)
}

/// Every dossier the load made exists, none other does, and each is where the load left it.
async fn dossiers(
    db: &DatabaseConnection,
    pipeline: &Pipeline,
    f: &mut Findings,
) -> anyhow::Result<()> {
    let stored: HashMap<String, String> = rows(db, "SELECT code, status FROM dossiers")
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<String>("", "code")?,
                r.try_get::<String>("", "status")?,
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let made = pipeline.snapshot();
    let missing = made.iter().filter(|(c, _)| !stored.contains_key(c)).count();
    let ours: HashSet<&str> = made.iter().map(|(c, _)| c.as_str()).collect();
    let extra = stored.keys().filter(|c| !ours.contains(c.as_str())).count();
    f.check(
        missing == 0 && extra == 0,
        format!(
            "{} dossiers made by the load, {} stored: {missing} missing, {extra} not made by the load",
            made.len(),
            stored.len()
        ),
    );
    let mut misplaced: HashMap<(Stage, String), u64> = HashMap::new();
    let mut unknown = 0;
    for (code, stage) in &made {
        let Some(status) = stored.get(code) else {
            continue;
        };
        if *stage == Stage::Unknown {
            unknown += 1;
        } else if !stage.allows(status) {
            *misplaced.entry((*stage, status.clone())).or_default() += 1;
        }
    }
    let wrong: u64 = misplaced.values().sum();
    f.check(
        wrong == 0,
        format!("every dossier's status fits what the load last did to it ({wrong} do not)"),
    );
    for ((stage, status), n) in &misplaced {
        f.note(format!("{n} left {} are {status}", stage.name()));
    }
    if unknown > 0 {
        f.note(format!(
            "{unknown} not checked: a request about them was answered otherwise than expected"
        ));
    }
    let mut by_status: Vec<(String, u64)> = Vec::new();
    for status in stored.values() {
        match by_status.iter_mut().find(|(s, _)| s == status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((status.clone(), 1)),
        }
    }
    by_status.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    f.note(format!(
        "by status: {}",
        by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

/// Statuses against timelines, and no event twice.
async fn timelines(
    db: &DatabaseConnection,
    pipeline: &Pipeline,
    f: &mut Findings,
) -> anyhow::Result<()> {
    let events = count(db, "SELECT count(*) AS n FROM dossier_events").await?;
    let off = count(
        db,
        // One sort of the events, not a search per dossier (no index leads from a dossier to its
        // last event by id, and a backward scan of the primary key per dossier takes hours).
        "SELECT count(*) AS n FROM dossiers d
         LEFT JOIN (
             SELECT DISTINCT ON (e.dossier_id) e.dossier_id, e.to_status FROM dossier_events e
             WHERE e.to_status IS NOT NULL
             ORDER BY e.dossier_id, e.id DESC
         ) last ON last.dossier_id = d.id
         WHERE last.to_status IS DISTINCT FROM d.status",
    )
    .await?;
    f.check(
        off == 0,
        format!(
            "every dossier's status is the to_status of its last status-changing event \
             ({off} are not; {events} events in all)"
        ),
    );
    let broken = count(
        db,
        "SELECT count(*) AS n FROM (
             SELECT from_status, to_status,
                    lag(to_status) OVER w AS previous, row_number() OVER w AS nth
             FROM dossier_events WHERE to_status IS NOT NULL
             WINDOW w AS (PARTITION BY dossier_id ORDER BY id)
         ) t
         WHERE (nth > 1 AND from_status IS DISTINCT FROM previous)
            OR (nth = 1 AND to_status <> 'pickup_requested')",
    )
    .await?;
    f.check(
        broken == 0,
        format!(
            "every timeline's status changes chain (each from_status is the previous to_status, the \
             first is pickup_requested): {broken} links do not"
        ),
    );
    let twice = count(
        db,
        "SELECT count(*) AS n FROM (
             SELECT 1 FROM dossier_events
             GROUP BY dossier_id, kind, source, leg, at, from_status, to_status
             HAVING count(*) > 1
         ) t",
    )
    .await?;
    f.check(
        twice == 0,
        format!(
            "no event twice (same dossier, kind, source, parcel, time and statuses): {twice} are"
        ),
    );
    let scans = count(db, "SELECT count(*) AS n FROM scans").await?;
    let scan_events = count(
        db,
        "SELECT count(*) AS n FROM dossier_events WHERE source = 'scan'",
    )
    .await?;
    let accepted = i64::try_from(
        pipeline
            .scans_accepted
            .load(std::sync::atomic::Ordering::Relaxed),
    )
    .unwrap_or(i64::MAX);
    f.check(
        scans == accepted && scan_events == scans,
        format!(
            "scans stored once: {accepted} accepted by the service, {scans} stored, {scan_events} \
             scan events on timelines (resent batches added none)"
        ),
    );
    Ok(())
}

/// Every outbox row done; every e-mail received exactly once, and nothing else received.
async fn outbox(db: &DatabaseConnection, sink: &SmtpSink, f: &mut Findings) -> anyhow::Result<()> {
    let mut not_done = 0;
    let mut kinds = Vec::new();
    for r in rows(
        db,
        "SELECT kind, status, count(*) AS n FROM outbox GROUP BY kind, status ORDER BY kind, status",
    )
    .await?
    {
        let (kind, status, n): (String, String, i64) = (
            r.try_get("", "kind")?,
            r.try_get("", "status")?,
            r.try_get("", "n")?,
        );
        if status != "done" {
            not_done += n;
        }
        kinds.push(format!("{kind} {status} {n}"));
    }
    f.check(
        not_done == 0,
        format!("every outbox row delivered ({not_done} pending or failed)"),
    );
    f.note(format!("outbox: {}", kinds.join(", ")));

    let mut done_keys: HashMap<String, u32> = HashMap::new();
    let mut undone = 0;
    for r in rows(
        db,
        "SELECT payload->>'message_key' AS k, status FROM outbox WHERE kind = 'email'",
    )
    .await?
    {
        let key: Option<String> = r.try_get("", "k")?;
        let status: String = r.try_get("", "status")?;
        if status == "done" {
            *done_keys.entry(key.unwrap_or_default()).or_default() += 1;
        } else {
            undone += 1;
        }
    }
    let received: HashMap<String, u32> = sink
        .ids()
        .into_iter()
        .map(|(id, n)| (id.split('@').next().unwrap_or_default().to_owned(), n))
        .fold(HashMap::new(), |mut m, (k, n)| {
            *m.entry(k).or_default() += n;
            m
        });
    let rows_twice = done_keys.values().filter(|n| **n > 1).count();
    let never_arrived = done_keys
        .keys()
        .filter(|k| !received.contains_key(*k))
        .count();
    let without_row = received
        .keys()
        .filter(|k| !done_keys.contains_key(*k))
        .count();
    let arrived_twice = received.values().filter(|n| **n > 1).count();
    let without_id = sink.without_id();
    let sent: u32 = done_keys.values().sum();
    f.check(
        rows_twice == 0
            && never_arrived == 0
            && without_row == 0
            && arrived_twice == 0
            && without_id == 0
            && undone == 0,
        format!(
            "every e-mail sent exactly once: {sent} rows sent, {} messages received ({} \
             Message-IDs); {never_arrived} sent but never received, {arrived_twice} received \
             twice or more, {without_row} received without a sent row, {rows_twice} message keys \
             on two rows, {without_id} without a Message-ID, {undone} rows not sent",
            sink.count(),
            received.len()
        ),
    );
    Ok(())
}

/// Carrier events stored once each, every record of the feed up to the cursor stored, and every
/// parcel with an item code ordered at the carrier.
async fn carrier(
    db: &DatabaseConnection,
    sandbox: &carrier_sandbox::SandboxHandle,
    f: &mut Findings,
) -> anyhow::Result<()> {
    let twice = count(
        db,
        "SELECT count(*) AS n FROM (
             SELECT 1 FROM carrier_events GROUP BY carrier, carrier_event_id HAVING count(*) > 1
         ) t",
    )
    .await?;
    let stored: Vec<i64> = rows(db, "SELECT carrier_event_id FROM carrier_events")
        .await?
        .iter()
        .map(|r| r.try_get::<i64>("", "carrier_event_id"))
        .collect::<Result<_, _>>()?;
    let cursor = rows(
        db,
        "SELECT last_id FROM carrier_cursor WHERE carrier = 'vnpost'",
    )
    .await?
    .first()
    .map(|r| r.try_get::<i64>("", "last_id"))
    .transpose()?
    .unwrap_or(0);
    let stored_set: HashSet<i64> = stored.iter().copied().collect();
    let records = sandbox.records();
    let published: HashSet<i64> = records.iter().map(|r| r.id).collect();
    let missing = records
        .iter()
        .filter(|r| r.id <= cursor && !stored_set.contains(&r.id))
        .count();
    let unknown = stored.iter().filter(|id| !published.contains(id)).count();
    f.check(
        twice == 0 && missing == 0 && unknown == 0,
        format!(
            "carrier events stored once: {} published by the carrier, {} stored, feed read up to \
             id {cursor}; {twice} stored twice, {missing} up to the cursor not stored, {unknown} \
             stored that the carrier never published",
            records.len(),
            stored.len()
        ),
    );
    let mapped = count(
        db,
        "SELECT count(*) AS n FROM carrier_events
         WHERE scan_event IS NOT NULL AND dossier_id IS NOT NULL",
    )
    .await?;
    let on_timelines = count(
        db,
        &format!("SELECT count(*) AS n FROM dossier_events e WHERE {CARRIER_SCAN_EVENT}"),
    )
    .await?;
    let phantoms = count(
        db,
        &format!(
            "SELECT count(*) AS n FROM dossier_events e WHERE {CARRIER_SCAN_EVENT}
             AND NOT EXISTS (
                 SELECT 1 FROM carrier_events c
                 WHERE c.dossier_id = e.dossier_id AND c.event_time = e.at AND c.scan_event = e.kind
             )"
        ),
    )
    .await?;
    f.check(
        phantoms == 0 && on_timelines <= mapped,
        format!(
            "every carrier event on a timeline is a stored carrier event, at most once: {mapped} \
             stored events stand for a scan, {on_timelines} on timelines, {phantoms} without a \
             stored event"
        ),
    );
    // Carrier records that left no trace on their dossier's timeline (a second failed delivery sooner
    // than two working days after the first once did; it now joins the timeline, noted as uncounted).
    let dropped: Vec<String> = rows(
        db,
        "SELECT c.status_code AS code, count(*) AS n FROM carrier_events c
         WHERE c.scan_event IS NOT NULL AND c.dossier_id IS NOT NULL
           AND NOT EXISTS (
               SELECT 1 FROM dossier_events e
               WHERE e.dossier_id = c.dossier_id AND e.source = 'carrier'
                 AND e.at = c.event_time AND e.kind = c.scan_event
           )
         GROUP BY c.status_code ORDER BY c.status_code",
    )
    .await?
    .iter()
    .map(|r| {
        Ok(format!(
            "{} of code {}",
            r.try_get::<i64>("", "n")?,
            r.try_get::<i64>("", "code")?
        ))
    })
    .collect::<Result<_, sea_orm::DbErr>>()?;
    if !dropped.is_empty() {
        f.note(format!(
            "carrier events that stand for a scan but made no timeline event (the lifecycle \
             refused them; 15 = a second failed delivery within two working days of the first): {}",
            dropped.join(", ")
        ));
    }
    let parcels = count(
        db,
        "SELECT count(*) AS n FROM legs WHERE item_code IS NOT NULL",
    )
    .await?;
    let orders = i64::try_from(sandbox.world_stats().orders).unwrap_or(i64::MAX);
    f.check(
        orders == parcels,
        format!("every parcel ordered at the carrier: {parcels} parcels with an item code, {orders} orders"),
    );
    Ok(())
}
