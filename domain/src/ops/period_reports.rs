//! Reports sent without anyone asking (Circular 17 Art. 13): after each quarter, half-year and year
//! ends, every agency (at its `email`) and the operators' alert address get the summary of the period
//! just ended, with its CSV attached — exactly once per period and agency.
//!
//! Once-only: a `period_reports` row per (period, agency) under a unique index is written in the same
//! transaction as the outbox rows of its e-mails. Two workers racing on one period and agency both try
//! the insert; one writes it, the other's insert does nothing (on PostgreSQL it waits for the first to
//! commit), so only one set of e-mails is ever committed, and a restart finds the row and skips it.

use chrono::{Datelike, NaiveDate};
use entity::{agency, outbox, period_report};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::outbox::{DeliveryKind, EmailPayload, Notice, Recipient, pending_row};
use super::reports::{ReportPeriod, SummaryReport, summary_report};
use crate::store::Store;

/// The periods whose reports are due on local date `today`: the quarter that ended last, and with it
/// the half-year (after June and December) and the year (after December).
pub fn periods_due(today: NaiveDate) -> Vec<ReportPeriod> {
    let quarter = (today.month0() / 3) as i32; // 0..=3: the quarter of today
    let (year, last) = if quarter == 0 {
        (today.year() - 1, 4)
    } else {
        (today.year(), quarter)
    };
    let mut names = vec![format!("{year}-Q{last}")];
    if last == 2 {
        names.push(format!("{year}-H1"));
    }
    if last == 4 {
        names.push(format!("{year}-H2"));
        names.push(format!("{year}"));
    }
    names
        .iter()
        .filter_map(|n| ReportPeriod::preset(n).ok())
        .collect()
}

/// The report as CSV: a header row, the statuses, the legs (fields quoted when they need it).
pub fn report_csv(report: &SummaryReport) -> String {
    let field = |v: &str| {
        let v = match v.chars().next() {
            Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{v}"),
            _ => v.to_owned(),
        };
        if v.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v
        }
    };
    let mut out = String::from("\u{feff}section,name,value\r\n");
    let mut row = |section: &str, name: &str, value: String| {
        out.push_str(&format!(
            "{},{},{}\r\n",
            field(section),
            field(name),
            field(&value)
        ));
    };
    row("period", "from", report.period.from.to_string());
    row("period", "to", report.period.to.to_string());
    row("summary", "dossiers", report.dossiers.to_string());
    for s in &report.by_status {
        row("by_status", s.status.as_str(), s.dossiers.to_string());
    }
    for l in &report.legs {
        let d = l.direction.as_str();
        row("legs", &format!("{d}_started"), l.started.to_string());
        row(
            "legs",
            &format!("{d}_delivered"),
            l.on_time.delivered.to_string(),
        );
        row(
            "legs",
            &format!("{d}_on_time"),
            l.on_time.on_time.to_string(),
        );
        row("legs", &format!("{d}_late"), l.on_time.late.to_string());
        row(
            "legs",
            &format!("{d}_failed_attempts"),
            l.failed_attempts.to_string(),
        );
        row(
            "legs",
            &format!("{d}_returned_to_agency"),
            l.returned_to_agency.to_string(),
        );
    }
    out
}

/// What one call of [`send_due_reports`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportsSent {
    /// (period, agency) pairs sent.
    pub sent: usize,
    /// Pairs that failed (logged); they are tried again on the next call.
    pub failed: usize,
}

/// Sends the reports due on `today` that were not sent yet. Each (period, agency) pair is its own
/// transaction: one that fails is logged and left for the next call, and the others are sent all the
/// same. Fails only when the agencies cannot be read.
pub async fn send_due_reports(
    store: &Store,
    today: NaiveDate,
    alerts_email: Option<&str>,
) -> Result<ReportsSent, DbErr> {
    let agencies = agency::Entity::find()
        .order_by_asc(agency::Column::Code)
        .all(&store.read)
        .await?;
    let mut done = ReportsSent::default();
    for period in periods_due(today) {
        let name = period.preset.clone().unwrap_or_default();
        for agency in &agencies {
            match send_report(store, &period, &name, agency, alerts_email).await {
                Ok(true) => done.sent += 1,
                Ok(false) => {}
                Err(err) => {
                    done.failed += 1;
                    tracing::error!(
                        report.period = %name,
                        agency.code = %agency.code,
                        error.cause = %err,
                        "sending a period report failed; it is tried again on the next round"
                    );
                }
            }
        }
    }
    Ok(done)
}

/// Sends one agency's report of the period `name`, unless it was sent before (by this worker or
/// another); answers whether it sent it.
async fn send_report(
    store: &Store,
    period: &ReportPeriod,
    name: &str,
    agency: &agency::Model,
    alerts_email: Option<&str>,
) -> Result<bool, DbErr> {
    let done = period_report::Entity::find()
        .filter(period_report::Column::Period.eq(name))
        .filter(period_report::Column::AgencyCode.eq(agency.code.as_str()))
        .count(&store.read)
        .await?
        > 0;
    if done {
        return Ok(false);
    }
    let now = crate::clock::now();
    let report = summary_report(&store.read, period, Some(&agency.code), now).await?;
    let mail = ReportMail {
        name,
        period,
        agency,
        dossiers: report.dossiers,
        csv: report_csv(&report),
        now,
    };
    let txn = store.begin().await?;
    let inserted = period_report::Entity::insert(period_report::ActiveModel {
        period: Set(name.to_owned()),
        agency_code: Set(agency.code.clone()),
        sent_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            period_report::Column::Period,
            period_report::Column::AgencyCode,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        // Another worker sent it meanwhile.
        return Ok(false);
    }
    let recipients = [
        agency.email.as_deref().map(|to| (to, "agency")),
        alerts_email.map(|to| (to, "alerts")),
    ];
    for (to, who) in recipients.into_iter().flatten() {
        let to = to.trim();
        if to.is_empty() {
            continue;
        }
        mail.enqueue_to(&txn, to, who).await?;
    }
    txn.commit().await?;
    tracing::info!(report.period = %name, agency.code = %agency.code, "period report sent");
    Ok(true)
}

/// One agency's report of one period, as it is e-mailed.
struct ReportMail<'a> {
    name: &'a str,
    period: &'a ReportPeriod,
    agency: &'a agency::Model,
    dossiers: i64,
    csv: String,
    now: chrono::DateTime<chrono::Utc>,
}

impl ReportMail<'_> {
    /// Writes the e-mail to `to` (the agency, or the operators: `who`) to the outbox.
    async fn enqueue_to(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        to: &str,
        who: &str,
    ) -> Result<(), DbErr> {
        let (name, agency) = (self.name, self.agency);
        let email = EmailPayload {
            message_key: format!("period-report-{name}-{}-{who}", agency.code),
            recipient: Recipient::Agency,
            to: to.to_owned(),
            to_name: None,
            language: "vi".to_owned(),
            dossier_code: String::new(),
            agency_name: Some(agency.name.clone()),
            procedure_name: None,
            at: self.now,
            notice: Notice::PeriodReport {
                period: name.to_owned(),
                from: self.period.from,
                to: self.period.to,
                agency_code: agency.code.clone(),
                dossiers: self.dossiers,
                csv_file_name: format!("bao-cao-{name}-{}.csv", agency.code),
                csv: self.csv.clone(),
            },
        };
        let payload = serde_json::to_value(&email)
            .map_err(|e| DbErr::Custom(format!("outbox payload: {e}")))?;
        let mut row = pending_row(DeliveryKind::Email, 0, payload, self.now);
        row.dossier_id = Set(None);
        outbox::Entity::insert(row)
            .exec_without_returning(txn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn names(today: &str) -> Vec<String> {
        periods_due(NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap())
            .into_iter()
            .filter_map(|p| p.preset)
            .collect()
    }

    #[test]
    fn the_periods_due_are_those_that_ended_last() {
        assert_eq!(names("2027-01-01"), ["2026-Q4", "2026-H2", "2026"]);
        assert_eq!(names("2026-12-31"), ["2026-Q3"]);
        assert_eq!(names("2026-07-15"), ["2026-Q2", "2026-H1"]);
        assert_eq!(names("2026-05-02"), ["2026-Q1"]);
    }
}
