//! The summary report of Circular 17 Art. 13 (every quarter, half-year and year): volumes by status and
//! by procedure, the on-time rate of each leg and of each agency, median transit times, failed delivery
//! attempts, returns to the agency, and what is overdue now.
//!
//! **Which dossiers a period covers**: those *created* (the pickup request, or the desk's `return`
//! dossier) on a local date (Asia/Ho_Chi_Minh) from `from` to `to`, both inclusive — the half-open
//! instant range `[from 00:00+07:00, to + 1 day 00:00+07:00)`. Every figure is about that cohort, as
//! it stands when the report is made: a dossier created in the period and delivered after it counts
//! with its delivery.
//!
//! Everything is computed by the database (`GROUP BY` and aggregates built with sea-query, the same on
//! SQLite and PostgreSQL): a handful of small result sets, never the dossiers themselves. The one
//! figure SQL does not share is the median: `percentile_cont` on PostgreSQL; on SQLite, the middle
//! row(s) of an ordered fetch.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use entity::enums::{DossierStatus, LegDirection, LegStatus, Role};
use entity::{agency, dossier, leg, procedure};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, IntoCondition, Order, Query, SelectStatement,
};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, IsolationLevel, QueryFilter, QueryResult, Statement, TransactionTrait,
};

use super::access::Actor;
use crate::sla::VN_UTC_OFFSET_SECONDS;

/// The earliest and latest years a report period may name.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=9998;

/// The longest period a report covers, in years.
pub const MAX_PERIOD_YEARS: u32 = 5;

/// How long one statement of a report may run by default.
pub const REPORT_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether a database error is PostgreSQL's cancellation of a statement that ran out of time.
pub fn is_statement_timeout(err: &DbErr) -> bool {
    let text = err.to_string();
    text.contains("57014") || text.contains("statement timeout")
}

/// Why a report could not be made. Nothing is read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A query parameter is missing, malformed or contradicts another (HTTP 400 `bad_request`).
    #[error("{0}")]
    BadQuery(String),
    /// The caller may not see this report (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// A well-formed parameter with a value the service refuses, e.g. a period over five years
    /// (HTTP 422 on `field`).
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The report did not start (too many running) or did not finish in time (HTTP 429, to try again
    /// after `retry_after_secs`).
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The local dates a report covers, both inclusive, and the preset that named them, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPeriod {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `2026-Q4`, `2026-H2` or `2026`, when the period was asked for by preset.
    pub preset: Option<String>,
}

impl ReportPeriod {
    /// Reads the query: either `from` and `to` (`YYYY-MM-DD`, `from` ≤ `to`) or `period` (a preset).
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        period: Option<&str>,
    ) -> Result<Self, ReportError> {
        let bad = |m: &str| ReportError::BadQuery(m.to_owned());
        match (from, to, period) {
            (None, None, Some(p)) => Self::preset(p),
            (_, _, Some(_)) => Err(bad("give either `period` or `from` and `to`, not both")),
            (Some(from), Some(to), None) => {
                let from = parse_date("from", from)?;
                let to = parse_date("to", to)?;
                if from > to {
                    return Err(bad("`from` is after `to`"));
                }
                if from
                    .checked_add_months(chrono::Months::new(12 * MAX_PERIOD_YEARS))
                    .is_none_or(|limit| to >= limit)
                {
                    return Err(ReportError::Invalid {
                        field: "to",
                        message: format!(
                            "a report covers at most {MAX_PERIOD_YEARS} years; ask for a shorter period"
                        ),
                    });
                }
                Ok(Self {
                    from,
                    to,
                    preset: None,
                })
            }
            (Some(_), None, None) | (None, Some(_), None) => {
                Err(bad("`from` and `to` go together: give both dates"))
            }
            (None, None, None) => Err(bad(
                "say which period: `from` and `to` (YYYY-MM-DD), or `period` (2026-Q4, 2026-H2, 2026)",
            )),
        }
    }

    /// A quarter (`2026-Q4`), a half-year (`2026-H2`) or a year (`2026`); `q` and `h` in either case.
    pub fn preset(text: &str) -> Result<Self, ReportError> {
        let bad = || {
            ReportError::BadQuery(format!(
                "`period` must be a quarter (2026-Q4), a half-year (2026-H2) or a year (2026), \
                 from {} to {}; got `{}`",
                YEARS.start(),
                YEARS.end(),
                text.chars().take(40).collect::<String>()
            ))
        };
        let (year, part) = match text.split_once('-') {
            Some((year, part)) => (year, Some(part)),
            None => (text, None),
        };
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !YEARS.contains(&year) {
            return Err(bad());
        }
        let (first_month, months) = match part.map(str::to_ascii_uppercase).as_deref() {
            None => (1, 12),
            Some("H1") => (1, 6),
            Some("H2") => (7, 6),
            Some("Q1") => (1, 3),
            Some("Q2") => (4, 3),
            Some("Q3") => (7, 3),
            Some("Q4") => (10, 3),
            Some(_) => return Err(bad()),
        };
        let from = NaiveDate::from_ymd_opt(year, first_month, 1).ok_or_else(bad)?;
        let to = from
            .checked_add_months(chrono::Months::new(months))
            .and_then(|d| d.pred_opt())
            .ok_or_else(bad)?;
        let preset = match part {
            None => format!("{year}"),
            Some(p) => format!("{year}-{}", p.to_ascii_uppercase()),
        };
        Ok(Self {
            from,
            to,
            preset: Some(preset),
        })
    }

    /// The instants the period spans: from local midnight of `from` to local midnight after `to`,
    /// the end excluded.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = local_midnight(self.from);
        let end = local_midnight(self.to + Days::new(1));
        (start, end)
    }
}

impl fmt::Display for ReportPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}

fn parse_date(name: &str, text: &str) -> Result<NaiveDate, ReportError> {
    let date = (text.len() == 10)
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .filter(|d| YEARS.contains(&d.year()));
    date.ok_or_else(|| {
        ReportError::BadQuery(format!(
            "`{name}` must be a date YYYY-MM-DD between {} and {}",
            YEARS.start(),
            YEARS.end()
        ))
    })
}

/// 00:00 local time on `d`, as UTC.
fn local_midnight(d: NaiveDate) -> DateTime<Utc> {
    (d.and_time(NaiveTime::MIN) - TimeDelta::seconds(i64::from(VN_UTC_OFFSET_SECONDS))).and_utc()
}

/// Whose dossiers a report counts: every agency's (administrators) or one agency's.
///
/// An agency key reports on its own agency only, whether or not it names it; naming another is
/// refused. Post offices and citizens get no reports.
pub async fn report_scope(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    agency: Option<&str>,
) -> Result<Option<String>, ReportError> {
    let agency = agency.map(str::trim).filter(|a| !a.is_empty());
    if let Some(key) = actor.staff_with_role(Role::Agency) {
        let own = key.agency_code.as_deref().ok_or_else(|| {
            ReportError::Forbidden("this agency key is bound to no agency".into())
        })?;
        return match agency {
            Some(asked) if asked != own => Err(ReportError::Forbidden(
                "an agency key reports on its own agency only".into(),
            )),
            _ => Ok(Some(own.to_owned())),
        };
    }
    if actor.staff_with_role(Role::Admin).is_none() {
        return Err(ReportError::Forbidden(
            "reports are for administrators, and for agencies on their own dossiers".into(),
        ));
    }
    let Some(code) = agency else {
        return Ok(None);
    };
    let known = agency::Entity::find()
        .filter(agency::Column::Code.eq(code))
        .one(conn)
        .await?
        .is_some();
    if !known {
        return Err(ReportError::BadQuery(format!(
            "`agency`: there is no agency with code `{}`",
            code.chars().take(40).collect::<String>()
        )));
    }
    Ok(Some(code.to_owned()))
}

/// How many dossiers of the period are in one status now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub status: DossierStatus,
    pub dossiers: i64,
}

/// How many dossiers of the period are for one procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcedureCount {
    pub procedure_code: String,
    pub procedure_name: String,
    pub dossiers: i64,
}

/// Delivered legs against their due time (Circular 17 Art. 7): on time when delivered within the
/// last second of the due date, late otherwise. Legs not delivered yet are in neither.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OnTime {
    pub delivered: i64,
    pub on_time: i64,
    pub late: i64,
}

impl OnTime {
    /// `on_time / (on_time + late)`, to four decimals; `None` when nothing was delivered.
    pub fn rate(&self) -> Option<f64> {
        let judged = self.on_time + self.late;
        (judged > 0).then(|| round_to(self.on_time as f64 / judged as f64, 4))
    }

    fn add(&mut self, other: &OnTime) {
        self.delivered += other.delivered;
        self.on_time += other.on_time;
        self.late += other.late;
    }
}

/// The figures of one leg direction: inbound (to the agency) or outbound (the result, home).
#[derive(Debug, Clone, PartialEq)]
pub struct LegFigures {
    pub direction: LegDirection,
    /// Legs of the period's dossiers in this direction, whatever their state.
    pub legs: i64,
    /// Legs that left: picked up (inbound) or handed to the post (outbound).
    pub started: i64,
    pub on_time: OnTime,
    /// The median time from the leg's start to its delivery, in days of 24 hours, to two decimals.
    pub median_transit_days: Option<f64>,
    /// Failed delivery attempts (notices left), summed.
    pub failed_attempts: i64,
    /// Legs with at least one failed attempt.
    pub legs_with_failed_attempts: i64,
    /// Results that went back to the agency after the failed notices (Circular 17 Art. 5.2h).
    pub returned_to_agency: i64,
    /// Legs on their way now, past their due time.
    pub overdue: i64,
}

/// The figures of one agency's dossiers in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct AgencyFigures {
    pub agency_code: String,
    pub agency_name: String,
    pub dossiers: i64,
    pub inbound: OnTime,
    pub outbound: OnTime,
    pub failed_attempts: i64,
    pub returned_to_agency: i64,
    /// Legs of the agency's dossiers on their way now, past their due time.
    pub overdue_legs: i64,
    /// Dossiers at the agency's desk now, past the agency's result deadline.
    pub overdue_results: i64,
}

impl AgencyFigures {
    /// Both directions together.
    pub fn on_time(&self) -> OnTime {
        let mut all = self.inbound;
        all.add(&self.outbound);
        all
    }
}

/// What is late now among the period's dossiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverdueFigures {
    /// Parcels to the agency past their due time, not yet handed over.
    pub inbound_legs: i64,
    /// Results on their way home past their due time, not yet delivered or returned.
    pub outbound_legs: i64,
    /// Dossiers at the agency's desk past the agency's result deadline.
    pub agency_results: i64,
}

/// The summary report of a period.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryReport {
    pub period: ReportPeriod,
    /// The one agency reported on, or `None` for all.
    pub agency_code: Option<String>,
    /// The instant the figures describe ("overdue now" is as of this time).
    pub generated_at: DateTime<Utc>,
    pub dossiers: i64,
    /// Every status, in lifecycle order, zeros included.
    pub by_status: Vec<StatusCount>,
    /// The procedures with dossiers in the period, by code.
    pub by_procedure: Vec<ProcedureCount>,
    /// Inbound, then outbound.
    pub legs: Vec<LegFigures>,
    /// The agencies with dossiers in the period, by code (the one agency asked for, even with none).
    pub agencies: Vec<AgencyFigures>,
    pub overdue: OverdueFigures,
}

/// Dossier statuses in which the agency's result deadline runs (as in the dossier view's `overdue`).
const AT_THE_DESK: [DossierStatus; 4] = [
    DossierStatus::ReceivedByAgency,
    DossierStatus::Processing,
    DossierStatus::SupplementRequested,
    DossierStatus::AwaitingResult,
];

/// Leg statuses in which a parcel is no longer on its way.
const ARRIVED: [LegStatus; 4] = [
    LegStatus::Delivered,
    LegStatus::HandedOver,
    LegStatus::Returned,
    LegStatus::Cancelled,
];

/// Makes the summary report of `period` over every agency (`agency` = `None`) or one, as of `now`.
///
/// Every table of the report describes the same moment. On SQLite its statements run in one read
/// transaction. On PostgreSQL the leg figures and the medians run at the same time on two
/// connections, in two `REPEATABLE READ` read-only transactions sharing one snapshot
/// (`pg_export_snapshot`, as `pg_dump --jobs` does), with room for the aggregates (`work_mem`), no
/// JIT compilation (which costs these one-pass scans more than it saves), and plans made for each
/// period ([`REPORT_SESSION_POSTGRES`]).
#[tracing::instrument(skip_all, fields(report.from = %period.from, report.to = %period.to, agency.code = agency.unwrap_or("*")))]
pub async fn summary_report(
    db: &DatabaseConnection,
    period: &ReportPeriod,
    agency: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SummaryReport, DbErr> {
    summary_report_within(db, period, agency, now, REPORT_STATEMENT_TIMEOUT).await
}

/// [`summary_report`] with each PostgreSQL statement cancelled after `statement_timeout`
/// (`SET LOCAL statement_timeout` in the report's transactions; see [`is_statement_timeout`]). SQLite
/// has no such setting: the caller bounds the whole report in time.
pub async fn summary_report_within(
    db: &DatabaseConnection,
    period: &ReportPeriod,
    agency: Option<&str>,
    now: DateTime<Utc>,
    statement_timeout: std::time::Duration,
) -> Result<SummaryReport, DbErr> {
    let timeout_ms = statement_timeout.as_millis().clamp(1, i32::MAX as u128);
    let (start, end) = period.bounds();
    let mut cohort = Cohort {
        start,
        end,
        agency,
        ids: None,
        ids_exact: false,
    };
    if db.get_database_backend() == DbBackend::Postgres {
        let main = begin_report_postgres(db, None, timeout_ms).await?;
        let snapshot = main
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_export_snapshot() AS snapshot",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("pg_export_snapshot returned no row".into()))?
            .try_get::<String>("", "snapshot")?;
        let side = begin_report_postgres(db, Some(&snapshot), timeout_ms).await?;
        let dossiers = tally_dossiers(&main, &cohort, now).await?;
        narrow_to_ids(&main, &mut cohort, &dossiers).await?;
        let (legs, medians) = if dossiers.ids.is_some() {
            let median_query = median_days_postgres(&cohort);
            let (legs, medians) = futures_util::try_join!(
                tally_legs(&main, &cohort, now),
                side.query_one(&median_query),
            )?;
            let mut days = HashMap::new();
            if let Some(row) = medians {
                for &direction in LegDirection::ALL {
                    let d: Option<f64> = row.try_get("", direction.as_str())?;
                    days.insert(direction, d.map(|d| round_to(d, 2)));
                }
            }
            (legs, days)
        } else {
            (Vec::new(), HashMap::new())
        };
        side.commit().await?;
        let report = assemble(&main, period, &cohort, now, dossiers, legs, medians).await?;
        main.commit().await?;
        Ok(report)
    } else {
        let txn = db.begin().await?;
        let dossiers = tally_dossiers(&txn, &cohort, now).await?;
        narrow_to_ids(&txn, &mut cohort, &dossiers).await?;
        let legs = if dossiers.ids.is_some() {
            tally_legs(&txn, &cohort, now).await?
        } else {
            Vec::new()
        };
        let mut medians = HashMap::new();
        for &direction in LegDirection::ALL {
            let timed = legs
                .iter()
                .filter(|l| l.direction == direction)
                .map(|l| l.timed)
                .sum();
            let days = median_days_ordered_fetch(&txn, &cohort, direction, timed).await?;
            medians.insert(direction, days);
        }
        let report = assemble(&txn, period, &cohort, now, dossiers, legs, medians).await?;
        txn.commit().await?;
        Ok(report)
    }
}

/// The PostgreSQL settings of the report's transactions. The statements are prepared once per
/// connection; how much of a table a period covers is in their parameters, so each execution is
/// planned for its own values (`force_custom_plan`) instead of a generic plan that fits no period.
pub const REPORT_SESSION_POSTGRES: &str = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; \
     SET LOCAL plan_cache_mode = force_custom_plan";

/// Starts one of the report's read-only transactions on PostgreSQL, on the exported `snapshot` if
/// given.
pub(super) async fn begin_report_postgres(
    db: &DatabaseConnection,
    snapshot: Option<&str>,
    timeout_ms: u128,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = db
        .begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await?;
    if let Some(snapshot) = snapshot {
        // A snapshot id is hexadecimal digits and dashes (`00000003-0000001B-1`); nothing else is
        // ever put into this statement, which takes no parameters.
        if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(DbErr::Custom(format!(
                "unexpected snapshot id `{snapshot}`"
            )));
        }
        txn.execute_unprepared(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
            .await?;
    }
    txn.execute_unprepared(&format!(
        "{REPORT_SESSION_POSTGRES}; SET LOCAL statement_timeout = {timeout_ms}"
    ))
    .await?;
    Ok(txn)
}

/// The period's dossiers counted by agency, procedure and status.
struct DossierTally {
    total: i64,
    by_status: BTreeMap<DossierStatus, i64>,
    by_procedure: BTreeMap<String, i64>,
    agencies: BTreeMap<String, AgencyFigures>,
    /// The smallest and largest id among them, if any.
    ids: Option<(i64, i64)>,
}

async fn tally_dossiers(
    conn: &impl ConnectionTrait,
    cohort: &Cohort<'_>,
    now: DateTime<Utc>,
) -> Result<DossierTally, DbErr> {
    let mut tally = DossierTally {
        total: 0,
        by_status: BTreeMap::new(),
        by_procedure: BTreeMap::new(),
        agencies: BTreeMap::new(),
        ids: None,
    };
    if let Some(code) = cohort.agency {
        tally
            .agencies
            .insert(code.to_owned(), AgencyFigures::empty(code));
    }
    for row in conn.query_all(&dossier_counts(cohort, now)).await? {
        let agency_code: String = row.try_get("", "agency_code")?;
        let procedure_code: String = row.try_get("", "procedure_code")?;
        let status: DossierStatus = row.try_get("", "status")?;
        let n: i64 = row.try_get("", "dossiers")?;
        let overdue: i64 = row.try_get("", "overdue_results")?;
        let first: i64 = row.try_get("", "first_id")?;
        let last: i64 = row.try_get("", "last_id")?;
        tally.total += n;
        *tally.by_status.entry(status).or_default() += n;
        *tally.by_procedure.entry(procedure_code).or_default() += n;
        let figures = tally
            .agencies
            .entry(agency_code.clone())
            .or_insert_with(|| AgencyFigures::empty(&agency_code));
        figures.dossiers += n;
        figures.overdue_results += overdue;
        tally.ids = Some(match tally.ids {
            None => (first, last),
            Some((lo, hi)) => (Ord::min(lo, first), Ord::max(hi, last)),
        });
    }
    Ok(tally)
}

/// Bounds `cohort`'s legs to the id range of its dossiers, and finds out whether that range holds any
/// other dossier (only asked for a report of every agency: one agency's dossiers always share their
/// range with others').
async fn narrow_to_ids(
    conn: &impl ConnectionTrait,
    cohort: &mut Cohort<'_>,
    dossiers: &DossierTally,
) -> Result<(), DbErr> {
    cohort.ids = dossiers.ids;
    cohort.ids_exact = false;
    if let (Some((first, last)), None) = (dossiers.ids, cohort.agency) {
        let query = Query::select()
            .expr_as(Func::count(Expr::cust("*")), Alias::new("n"))
            .from(dossier::Entity)
            .and_where(Expr::col((dossier::Entity, dossier::Column::Id)).between(first, last))
            .to_owned();
        let in_range: i64 = match conn.query_one(&query).await? {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        cohort.ids_exact = in_range == dossiers.total;
    }
    Ok(())
}

/// One row of the leg figures: one agency's legs in one direction.
struct LegRow {
    agency_code: String,
    direction: LegDirection,
    legs: i64,
    started: i64,
    on_time: OnTime,
    timed: i64,
    failed_attempts: i64,
    with_failed: i64,
    returned: i64,
    overdue: i64,
}

async fn tally_legs(
    conn: &impl ConnectionTrait,
    cohort: &Cohort<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<LegRow>, DbErr> {
    let query = leg_counts(cohort, now, conn.get_database_backend());
    let rows = conn.query_all(&query).await?;
    rows.iter()
        .map(|row| {
            Ok(LegRow {
                agency_code: row.try_get("", "agency_code")?,
                direction: row.try_get("", "direction")?,
                legs: row.try_get("", "legs")?,
                started: row.try_get("", "started")?,
                on_time: OnTime {
                    delivered: row.try_get("", "delivered")?,
                    on_time: row.try_get("", "on_time")?,
                    late: row.try_get("", "late")?,
                },
                timed: row.try_get("", "timed")?,
                failed_attempts: row.try_get("", "failed_attempts")?,
                with_failed: row.try_get("", "with_failed")?,
                returned: row.try_get("", "returned")?,
                overdue: row.try_get("", "overdue")?,
            })
        })
        .collect()
}

/// Puts the tallies together, with the procedures' and agencies' names.
async fn assemble(
    conn: &impl ConnectionTrait,
    period: &ReportPeriod,
    cohort: &Cohort<'_>,
    now: DateTime<Utc>,
    dossiers: DossierTally,
    leg_rows: Vec<LegRow>,
    medians: HashMap<LegDirection, Option<f64>>,
) -> Result<SummaryReport, DbErr> {
    let DossierTally {
        total,
        by_status,
        by_procedure,
        mut agencies,
        ids: _,
    } = dossiers;
    let legs = fold_legs(leg_rows, &mut agencies, &medians);
    let procedure_names = names_of_procedures(conn, by_procedure.keys().cloned().collect()).await?;
    let agency_names = names_of_agencies(conn, agencies.keys().cloned().collect()).await?;

    let overdue = OverdueFigures {
        inbound_legs: legs.get(&LegDirection::Inbound).map_or(0, |l| l.overdue),
        outbound_legs: legs.get(&LegDirection::Outbound).map_or(0, |l| l.overdue),
        agency_results: agencies.values().map(|a| a.overdue_results).sum(),
    };
    Ok(SummaryReport {
        period: period.clone(),
        agency_code: cohort.agency.map(str::to_owned),
        generated_at: now,
        dossiers: total,
        by_status: DossierStatus::ALL
            .iter()
            .map(|&status| StatusCount {
                status,
                dossiers: by_status.get(&status).copied().unwrap_or(0),
            })
            .collect(),
        by_procedure: by_procedure
            .into_iter()
            .map(|(code, dossiers)| ProcedureCount {
                procedure_name: procedure_names.get(&code).cloned().unwrap_or_default(),
                procedure_code: code,
                dossiers,
            })
            .collect(),
        legs: legs.into_values().collect(),
        agencies: agencies
            .into_values()
            .map(|mut a| {
                a.agency_name = agency_names
                    .get(&a.agency_code)
                    .cloned()
                    .unwrap_or_default();
                a
            })
            .collect(),
        overdue,
    })
}

/// The figures of each leg direction, and each agency's share of them, from the rows of the legs.
fn fold_legs(
    leg_rows: Vec<LegRow>,
    agencies: &mut BTreeMap<String, AgencyFigures>,
    medians: &HashMap<LegDirection, Option<f64>>,
) -> BTreeMap<LegDirection, LegFigures> {
    let mut legs: BTreeMap<LegDirection, LegFigures> = LegDirection::ALL
        .iter()
        .map(|&d| (d, LegFigures::empty(d)))
        .collect();
    for row in leg_rows {
        let figures = legs
            .entry(row.direction)
            .or_insert_with(|| LegFigures::empty(row.direction));
        figures.legs += row.legs;
        figures.started += row.started;
        figures.on_time.add(&row.on_time);
        figures.failed_attempts += row.failed_attempts;
        figures.legs_with_failed_attempts += row.with_failed;
        figures.returned_to_agency += row.returned;
        figures.overdue += row.overdue;
        let agency = agencies
            .entry(row.agency_code.clone())
            .or_insert_with(|| AgencyFigures::empty(&row.agency_code));
        match row.direction {
            LegDirection::Inbound => agency.inbound.add(&row.on_time),
            LegDirection::Outbound => agency.outbound.add(&row.on_time),
        }
        agency.failed_attempts += row.failed_attempts;
        agency.returned_to_agency += row.returned;
        agency.overdue_legs += row.overdue;
    }
    for (direction, figures) in &mut legs {
        figures.median_transit_days = medians.get(direction).copied().flatten();
    }
    legs
}

/// The names of the procedures `codes`, by code.
async fn names_of_procedures(
    conn: &impl ConnectionTrait,
    codes: Vec<String>,
) -> Result<HashMap<String, String>, DbErr> {
    if codes.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(procedure::Entity::find()
        .filter(procedure::Column::Code.is_in(codes))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.code, p.name))
        .collect())
}

/// The names of the agencies `codes`, by code.
async fn names_of_agencies(
    conn: &impl ConnectionTrait,
    codes: Vec<String>,
) -> Result<HashMap<String, String>, DbErr> {
    if codes.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(agency::Entity::find()
        .filter(agency::Column::Code.is_in(codes))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.code, a.name))
        .collect())
}

impl LegFigures {
    fn empty(direction: LegDirection) -> Self {
        Self {
            direction,
            legs: 0,
            started: 0,
            on_time: OnTime::default(),
            median_transit_days: None,
            failed_attempts: 0,
            legs_with_failed_attempts: 0,
            returned_to_agency: 0,
            overdue: 0,
        }
    }
}

impl AgencyFigures {
    fn empty(code: &str) -> Self {
        Self {
            agency_code: code.to_owned(),
            agency_name: String::new(),
            dossiers: 0,
            inbound: OnTime::default(),
            outbound: OnTime::default(),
            failed_attempts: 0,
            returned_to_agency: 0,
            overdue_legs: 0,
            overdue_results: 0,
        }
    }
}

/// The dossiers a report counts.
struct Cohort<'a> {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    agency: Option<&'a str>,
    /// The smallest and largest id among them, once counted. Legs are read within these dossier ids
    /// only: a bound the join implies anyway, stated so that the database reads the legs of that id
    /// range (by the `legs (dossier_id, direction)` index) rather than every leg ever carried. Ids
    /// grow with time, so a period's dossiers span a narrow range.
    ids: Option<(i64, i64)>,
    /// Whether the id range holds the cohort's dossiers and no other: then the legs within it are
    /// exactly the cohort's, and a figure that needs nothing of the dossier (the medians of every
    /// agency) reads them without the join.
    ids_exact: bool,
}

impl Cohort<'_> {
    /// Restricts `query` (which reads `dossiers`) to the cohort.
    fn restrict(&self, query: &mut SelectStatement) {
        let created = Expr::col((dossier::Entity, dossier::Column::CreatedAt));
        query
            .and_where(created.clone().gte(self.start))
            .and_where(created.lt(self.end));
        if let Some(code) = self.agency {
            query.and_where(Expr::col((dossier::Entity, dossier::Column::AgencyCode)).eq(code));
        }
    }
}

/// `SUM(CASE WHEN cond THEN 1 ELSE 0 END)`: how many rows of the group meet `cond`.
fn count_if(cond: impl IntoCondition) -> Expr {
    Func::sum(Expr::case(cond, 1).finally(0)).into()
}

fn dossier_counts(cohort: &Cohort<'_>, now: DateTime<Utc>) -> SelectStatement {
    let col = |c: dossier::Column| Expr::col((dossier::Entity, c));
    let mut query = Query::select();
    query
        .from(dossier::Entity)
        .expr_as(col(dossier::Column::AgencyCode), Alias::new("agency_code"))
        .expr_as(
            col(dossier::Column::ProcedureCode),
            Alias::new("procedure_code"),
        )
        .expr_as(col(dossier::Column::Status), Alias::new("status"))
        .expr_as(Func::count(Expr::cust("*")), Alias::new("dossiers"))
        .expr_as(Func::min(col(dossier::Column::Id)), Alias::new("first_id"))
        .expr_as(Func::max(col(dossier::Column::Id)), Alias::new("last_id"))
        .expr_as(
            count_if(
                col(dossier::Column::Status)
                    .is_in(AT_THE_DESK.map(|s| s.as_str()))
                    .and(col(dossier::Column::ResultDueAt).lt(now)),
            ),
            Alias::new("overdue_results"),
        )
        .group_by_col((dossier::Entity, dossier::Column::AgencyCode))
        .group_by_col((dossier::Entity, dossier::Column::ProcedureCode))
        .group_by_col((dossier::Entity, dossier::Column::Status));
    cohort.restrict(&mut query);
    query
}

/// `legs` joined to the cohort's dossiers.
fn legs_of_cohort(cohort: &Cohort<'_>) -> SelectStatement {
    let mut query = Query::select();
    query.from(leg::Entity).inner_join(
        dossier::Entity,
        Expr::col((dossier::Entity, dossier::Column::Id))
            .equals((leg::Entity, leg::Column::DossierId)),
    );
    cohort.restrict(&mut query);
    if let Some((first, last)) = cohort.ids {
        query.and_where(Expr::col((leg::Entity, leg::Column::DossierId)).between(first, last));
    }
    query
}

fn leg_counts(cohort: &Cohort<'_>, now: DateTime<Utc>, backend: DbBackend) -> SelectStatement {
    let col = |c: leg::Column| Expr::col((leg::Entity, c));
    let delivered = col(leg::Column::DeliveredAt).is_not_null();
    let judged = delivered.clone().and(col(leg::Column::DueAt).is_not_null());
    // On time when delivered within the due time's second (due times are 23:59:59 local, so the
    // fraction of a second after them is still the due date, as `sla::is_on_time` says).
    let within = Expr::cust(match backend {
        DbBackend::Postgres => r#"date_trunc('second', "legs"."delivered_at") <= "legs"."due_at""#,
        _ => r#"substr("legs"."delivered_at", 1, 19) <= substr("legs"."due_at", 1, 19)"#,
    });
    let mut query = legs_of_cohort(cohort);
    query
        .expr_as(
            Expr::col((dossier::Entity, dossier::Column::AgencyCode)),
            Alias::new("agency_code"),
        )
        .expr_as(col(leg::Column::Direction), Alias::new("direction"))
        .expr_as(Func::count(Expr::cust("*")), Alias::new("legs"))
        .expr_as(
            count_if(col(leg::Column::StartedAt).is_not_null()),
            Alias::new("started"),
        )
        .expr_as(count_if(delivered.clone()), Alias::new("delivered"))
        .expr_as(
            count_if(judged.clone().and(within.clone())),
            Alias::new("on_time"),
        )
        .expr_as(count_if(judged.and(within.not())), Alias::new("late"))
        .expr_as(
            count_if(delivered.and(col(leg::Column::StartedAt).is_not_null())),
            Alias::new("timed"),
        )
        .expr_as(
            Func::sum(col(leg::Column::FailedAttempts)),
            Alias::new("failed_attempts"),
        )
        .expr_as(
            count_if(col(leg::Column::FailedAttempts).gt(0)),
            Alias::new("with_failed"),
        )
        .expr_as(
            count_if(col(leg::Column::Status).eq(LegStatus::Returned.as_str())),
            Alias::new("returned"),
        )
        .expr_as(
            count_if(
                col(leg::Column::Status)
                    .is_not_in(ARRIVED.map(|s| s.as_str()))
                    .and(col(leg::Column::DueAt).lt(now)),
            ),
            Alias::new("overdue"),
        )
        .group_by_col((dossier::Entity, dossier::Column::AgencyCode))
        .group_by_col((leg::Entity, leg::Column::Direction));
    query
}

/// The cohort's legs that have both a start and a delivery.
fn timed_legs(cohort: &Cohort<'_>) -> SelectStatement {
    let mut query = match cohort.ids {
        Some((first, last)) if cohort.ids_exact => {
            let mut query = Query::select();
            query
                .from(leg::Entity)
                .and_where(Expr::col((leg::Entity, leg::Column::DossierId)).between(first, last));
            query
        }
        _ => legs_of_cohort(cohort),
    };
    query
        .and_where(Expr::col((leg::Entity, leg::Column::DeliveredAt)).is_not_null())
        .and_where(Expr::col((leg::Entity, leg::Column::StartedAt)).is_not_null());
    query
}

/// PostgreSQL: the median transit time of each direction in days, by `percentile_cont`, in one pass.
/// One `FILTER`ed aggregate per direction rather than `GROUP BY direction`, which would sort every
/// row by direction before each aggregate sorts its own.
fn median_days_postgres(cohort: &Cohort<'_>) -> SelectStatement {
    let mut query = timed_legs(cohort);
    for direction in LegDirection::ALL {
        query.expr_as(
            Expr::cust(format!(
                r#"CAST(EXTRACT(EPOCH FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY "legs"."delivered_at" - "legs"."started_at") FILTER (WHERE "legs"."direction" = '{}')) AS double precision) / 86400.0"#,
                direction.as_str()
            )),
            Alias::new(direction.as_str()),
        );
    }
    query
}

/// SQLite: the median transit time of `direction`'s `timed` legs in days: the middle row, or the mean
/// of the two middle rows, of the ordered transit times.
async fn median_days_ordered_fetch(
    conn: &impl ConnectionTrait,
    cohort: &Cohort<'_>,
    direction: LegDirection,
    timed: i64,
) -> Result<Option<f64>, DbErr> {
    if timed <= 0 {
        return Ok(None);
    }
    let days = Alias::new("days");
    let mut query = timed_legs(cohort);
    query
        .and_where(Expr::col((leg::Entity, leg::Column::Direction)).eq(direction.as_str()))
        .expr_as(
            Expr::cust(r#"julianday("legs"."delivered_at") - julianday("legs"."started_at")"#),
            days.clone(),
        )
        .order_by(days, Order::Asc)
        .limit(if timed % 2 == 0 { 2 } else { 1 })
        .offset(u64::try_from((timed - 1) / 2).unwrap_or(0));
    let rows: Vec<QueryResult> = conn.query_all(&query).await?;
    let middle: Vec<f64> = rows
        .iter()
        .map(|r| r.try_get::<f64>("", "days"))
        .collect::<Result<_, _>>()?;
    Ok((!middle.is_empty()).then(|| round_to(middle.iter().sum::<f64>() / middle.len() as f64, 2)))
}

/// The report's aggregate statements as they would run on `conn` (the dossiers are counted first, for
/// the id range of the legs'), named, so that benchmarks can show their plans (`EXPLAIN ANALYZE`).
/// The median on SQLite is a per-direction fetch and is not listed.
pub async fn report_statements(
    conn: &impl ConnectionTrait,
    period: &ReportPeriod,
    agency: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, Statement)>, DbErr> {
    let backend = conn.get_database_backend();
    let (start, end) = period.bounds();
    let mut cohort = Cohort {
        start,
        end,
        agency,
        ids: None,
        ids_exact: false,
    };
    let mut out = vec![(
        "dossiers by agency, procedure, status",
        backend.build(&dossier_counts(&cohort, now)),
    )];
    let tally = tally_dossiers(conn, &cohort, now).await?;
    narrow_to_ids(conn, &mut cohort, &tally).await?;
    out.push((
        "legs by agency, direction",
        backend.build(&leg_counts(&cohort, now, backend)),
    ));
    if backend == DbBackend::Postgres {
        out.push((
            "median transit days",
            backend.build(&median_days_postgres(&cohort)),
        ));
    }
    Ok(out)
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn presets_name_quarters_halves_and_years() {
        let cases = [
            ("2026-Q1", "2026-01-01", "2026-03-31"),
            ("2026-Q2", "2026-04-01", "2026-06-30"),
            ("2026-q3", "2026-07-01", "2026-09-30"),
            ("2026-Q4", "2026-10-01", "2026-12-31"),
            ("2026-H1", "2026-01-01", "2026-06-30"),
            ("2026-h2", "2026-07-01", "2026-12-31"),
            ("2026", "2026-01-01", "2026-12-31"),
            ("2028-Q1", "2028-01-01", "2028-03-31"),
        ];
        for (text, from, to) in cases {
            let p = ReportPeriod::preset(text).unwrap();
            assert_eq!((p.from, p.to), (d(from), d(to)), "{text}");
            assert_eq!(
                p.preset.as_deref(),
                Some(text.to_ascii_uppercase().as_str())
            );
        }
    }

    #[test]
    fn malformed_presets_are_refused() {
        for text in [
            "",
            "26",
            "2026-Q5",
            "2026-Q0",
            "2026-H3",
            "2026-",
            "2026-Q4-",
            "Q4-2026",
            "１２３４",
            "0999",
            "9999",
            "+202",
            "2026-M1",
        ] {
            assert!(
                matches!(ReportPeriod::preset(text), Err(ReportError::BadQuery(_))),
                "{text:?} was accepted"
            );
        }
    }

    #[test]
    fn a_period_is_dates_or_a_preset_never_both_nor_half() {
        let ok = ReportPeriod::parse(Some("2026-10-05"), Some("2026-10-05"), None).unwrap();
        assert_eq!(
            (ok.from, ok.to, ok.preset),
            (d("2026-10-05"), d("2026-10-05"), None)
        );
        for (from, to, period) in [
            (Some("2026-10-05"), Some("2026-10-04"), None),
            (Some("2026-10-05"), None, None),
            (None, Some("2026-10-05"), None),
            (None, None, None),
            (Some("2026-10-01"), Some("2026-12-31"), Some("2026-Q4")),
            (None, Some("2026-12-31"), Some("2026-Q4")),
            (Some("2026-13-01"), Some("2026-12-31"), None),
            (Some("2026-1-1"), Some("2026-12-31"), None),
            (Some("2026-02-30"), Some("2026-12-31"), None),
            (Some("01/10/2026"), Some("2026-12-31"), None),
        ] {
            assert!(
                matches!(
                    ReportPeriod::parse(from, to, period),
                    Err(ReportError::BadQuery(_))
                ),
                "{from:?} {to:?} {period:?} was accepted"
            );
        }
    }

    #[test]
    fn a_period_spans_whole_local_days() {
        let p = ReportPeriod::preset("2026-Q4").unwrap();
        let (start, end) = p.bounds();
        assert_eq!(start.to_rfc3339(), "2026-09-30T17:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-12-31T17:00:00+00:00");
    }

    #[test]
    fn the_on_time_rate_ignores_legs_not_delivered() {
        let none = OnTime::default();
        assert_eq!(none.rate(), None);
        let some = OnTime {
            delivered: 3,
            on_time: 2,
            late: 1,
        };
        assert_eq!(some.rate(), Some(0.6667));
    }
}
