//! Reference data: agencies, procedures with their document lists, post offices, tariffs, holidays and
//! the working calendar built from them.

use std::collections::HashMap;

use entity::{agency, agency_procedure, holiday, post_office, procedure, procedure_document};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::calendar::WorkingCalendar;

/// A procedure and its published document list, in order.
#[derive(Debug, Clone)]
pub struct ProcedureWithDocuments {
    pub procedure: procedure::Model,
    pub documents: Vec<procedure_document::Model>,
}

/// Every agency, by code.
pub async fn list_agencies(conn: &impl ConnectionTrait) -> Result<Vec<agency::Model>, DbErr> {
    agency::Entity::find()
        .order_by_asc(agency::Column::Code)
        .all(conn)
        .await
}

/// Every post office, by code.
pub async fn list_offices(conn: &impl ConnectionTrait) -> Result<Vec<post_office::Model>, DbErr> {
    post_office::Entity::find()
        .order_by_asc(post_office::Column::Code)
        .all(conn)
        .await
}

/// Procedures with their documents; only those `agency_code` handles when given.
pub async fn list_procedures(
    conn: &impl ConnectionTrait,
    agency_code: Option<&str>,
) -> Result<Vec<ProcedureWithDocuments>, DbErr> {
    let mut query = procedure::Entity::find().order_by_asc(procedure::Column::Code);
    if let Some(agency_code) = agency_code {
        let codes: Vec<String> = agency_procedure::Entity::find()
            .filter(agency_procedure::Column::AgencyCode.eq(agency_code))
            .all(conn)
            .await?
            .into_iter()
            .map(|link| link.procedure_code)
            .collect();
        query = query.filter(procedure::Column::Code.is_in(codes));
    }
    let procedures = query.all(conn).await?;
    let mut documents: HashMap<String, Vec<procedure_document::Model>> = HashMap::new();
    if !procedures.is_empty() {
        let all = procedure_document::Entity::find()
            .filter(
                procedure_document::Column::ProcedureCode
                    .is_in(procedures.iter().map(|p| p.code.clone())),
            )
            .order_by_asc(procedure_document::Column::ProcedureCode)
            .order_by_asc(procedure_document::Column::Position)
            .all(conn)
            .await?;
        for doc in all {
            documents
                .entry(doc.procedure_code.clone())
                .or_default()
                .push(doc);
        }
    }
    Ok(procedures
        .into_iter()
        .map(|procedure| {
            let documents = documents.remove(&procedure.code).unwrap_or_default();
            ProcedureWithDocuments {
                procedure,
                documents,
            }
        })
        .collect())
}

/// Every holiday, by date.
pub async fn list_holidays(conn: &impl ConnectionTrait) -> Result<Vec<holiday::Model>, DbErr> {
    holiday::Entity::find()
        .order_by_asc(holiday::Column::Date)
        .all(conn)
        .await
}

/// The working calendar as the administrators entered it.
pub async fn working_calendar(conn: &impl ConnectionTrait) -> Result<WorkingCalendar, DbErr> {
    let make_up_days = entity::working_day::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|w| w.date);
    Ok(
        WorkingCalendar::new(list_holidays(conn).await?.into_iter().map(|h| h.date))
            .with_make_up_days(make_up_days),
    )
}
