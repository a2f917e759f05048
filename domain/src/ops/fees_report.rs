//! The fees collected on the agencies' behalf (Decision 45 Art. 7.1, 11): per agency, the dossiers
//! picked up in a period, the procedures' admin fees the post collected with them, how much of that
//! it has handed to the agency with the dossiers (on a signed handover record to the agency), and
//! what is still outstanding.
//!
//! **Which dossiers a period covers**: those picked up (their dossier slip signed) on a local date
//! (Asia/Ho_Chi_Minh) from `from` to `to`, both inclusive — the moment the fee changes hands. Computed
//! by two grouped statements, never by reading the dossiers themselves.

use std::collections::BTreeMap;

use entity::enums::{HandoverDirection, HandoverStatus};
use entity::{agency, dossier, handover_item, handover_record, pickup_slip};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use super::reports::ReportPeriod;

/// One agency's fees in the period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgencyFees {
    pub agency_code: String,
    pub agency_name: String,
    /// Dossiers picked up in the period.
    pub dossiers: i64,
    /// The admin fees collected with them.
    pub admin_fees_collected_vnd: i64,
    /// The part handed to the agency on a signed handover record.
    pub admin_fees_handed_over_vnd: i64,
    /// Collected and not yet handed over.
    pub admin_fees_outstanding_vnd: i64,
}

/// The dossiers picked up in the period (of `agency`, when given), grouped by agency, with the sum of
/// their admin fees; `handed_over` keeps only those on a signed handover record to the agency.
fn grouped(period: &ReportPeriod, agency: Option<&str>, handed_over: bool) -> SelectStatement {
    let (start, end) = period.bounds();
    let mut q = Query::select();
    q.column((dossier::Entity, dossier::Column::AgencyCode))
        .expr_as(
            Expr::col((dossier::Entity, dossier::Column::Id)).count(),
            Alias::new("dossiers"),
        )
        .expr_as(
            Expr::col((dossier::Entity, dossier::Column::AdminFeeVnd))
                .sum()
                .cast_as(Alias::new("BIGINT")),
            Alias::new("fees"),
        )
        .from(dossier::Entity)
        .inner_join(
            pickup_slip::Entity,
            Expr::col((pickup_slip::Entity, pickup_slip::Column::DossierId))
                .equals((dossier::Entity, dossier::Column::Id)),
        )
        .and_where(Expr::col((pickup_slip::Entity, pickup_slip::Column::PickedUpAt)).gte(start))
        .and_where(Expr::col((pickup_slip::Entity, pickup_slip::Column::PickedUpAt)).lt(end))
        .group_by_col((dossier::Entity, dossier::Column::AgencyCode));
    if let Some(agency) = agency {
        q.and_where(Expr::col((dossier::Entity, dossier::Column::AgencyCode)).eq(agency));
    }
    if handed_over {
        q.and_where(
            Expr::col((dossier::Entity, dossier::Column::Id)).in_subquery(
                Query::select()
                    .column((handover_item::Entity, handover_item::Column::DossierId))
                    .from(handover_item::Entity)
                    .inner_join(
                        handover_record::Entity,
                        Expr::col((handover_record::Entity, handover_record::Column::Id))
                            .equals((handover_item::Entity, handover_item::Column::HandoverId)),
                    )
                    .and_where(
                        Expr::col((handover_record::Entity, handover_record::Column::Direction))
                            .eq(HandoverDirection::ToAgency.as_str()),
                    )
                    .and_where(
                        Expr::col((handover_record::Entity, handover_record::Column::Status))
                            .eq(HandoverStatus::Confirmed.as_str()),
                    )
                    .to_owned(),
            ),
        );
    }
    q
}

/// [`fees_report`] in a read-only transaction of its own, each PostgreSQL statement cancelled after
/// `statement_timeout` (as the summary report's; SQLite has no such setting: the caller bounds the
/// whole report in time).
pub async fn fees_report_within(
    db: &sea_orm::DatabaseConnection,
    period: &ReportPeriod,
    agency: Option<&str>,
    statement_timeout: std::time::Duration,
) -> Result<Vec<AgencyFees>, DbErr> {
    use sea_orm::TransactionTrait;
    let txn = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let timeout_ms = statement_timeout.as_millis().clamp(1, i32::MAX as u128);
        super::reports::begin_report_postgres(db, None, timeout_ms).await?
    } else {
        db.begin().await?
    };
    let report = fees_report(&txn, period, agency).await?;
    txn.commit().await?;
    Ok(report)
}

/// The fees report of `period`, one row per agency with dossiers picked up in it (only `agency`'s
/// when given; the caller decides who may ask, as for the summary report), by agency code.
pub async fn fees_report(
    conn: &impl ConnectionTrait,
    period: &ReportPeriod,
    agency: Option<&str>,
) -> Result<Vec<AgencyFees>, DbErr> {
    let mut out: BTreeMap<String, AgencyFees> = BTreeMap::new();
    for row in conn.query_all(&grouped(period, agency, false)).await? {
        let code: String = row.try_get("", "agency_code")?;
        let fees: Option<i64> = row.try_get("", "fees")?;
        out.insert(
            code.clone(),
            AgencyFees {
                agency_code: code,
                dossiers: row.try_get("", "dossiers")?,
                admin_fees_collected_vnd: fees.unwrap_or(0),
                ..AgencyFees::default()
            },
        );
    }
    for row in conn.query_all(&grouped(period, agency, true)).await? {
        let code: String = row.try_get("", "agency_code")?;
        let fees: Option<i64> = row.try_get("", "fees")?;
        if let Some(a) = out.get_mut(&code) {
            a.admin_fees_handed_over_vnd = fees.unwrap_or(0);
        }
    }
    let names: BTreeMap<String, String> = agency::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.code, a.name))
        .collect();
    Ok(out
        .into_values()
        .map(|mut a| {
            a.admin_fees_outstanding_vnd =
                a.admin_fees_collected_vnd - a.admin_fees_handed_over_vnd;
            a.agency_name = names.get(&a.agency_code).cloned().unwrap_or_default();
            a
        })
        .collect())
}
