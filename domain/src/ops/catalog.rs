//! The reference data a request is checked against (procedures, agencies and who handles what, post
//! offices, major cities, tariffs, holidays), read as one snapshot and kept for a few seconds.
//!
//! Reference data changes a few times a year and every pickup request reads all of it; re-reading it per
//! request cost more than the request's own writes. A replica sees an administrator's change within
//! [`CATALOG_TTL`]; the replica that made the change sees it at once (`invalidate`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use entity::enums::RouteClass;
use entity::{
    agency, agency_procedure, major_city, post_office, procedure, procedure_document, tariff,
};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryOrder};

use crate::calendar::WorkingCalendar;

/// How long a snapshot is used before it is read again.
pub const CATALOG_TTL: Duration = Duration::from_secs(5);

/// One consistent view of the reference data.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    procedures: HashMap<String, procedure::Model>,
    /// Each procedure's published document list, in order.
    documents: HashMap<String, Vec<procedure_document::Model>>,
    agencies: HashMap<String, agency::Model>,
    handles: HashSet<(String, String)>,
    /// Sorted by code.
    offices: Vec<post_office::Model>,
    major_cities: HashSet<String>,
    tariffs: HashMap<RouteClass, i64>,
    calendar: WorkingCalendar,
}

impl Catalog {
    /// Reads every reference table.
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self, DbErr> {
        Ok(Self {
            procedures: procedure::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|p| (p.code.clone(), p))
                .collect(),
            documents: procedure_document::Entity::find()
                .order_by_asc(procedure_document::Column::ProcedureCode)
                .order_by_asc(procedure_document::Column::Position)
                .all(conn)
                .await?
                .into_iter()
                .fold(HashMap::new(), |mut by, d| {
                    by.entry(d.procedure_code.clone())
                        .or_insert_with(Vec::new)
                        .push(d);
                    by
                }),
            agencies: agency::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|a| (a.code.clone(), a))
                .collect(),
            handles: agency_procedure::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|l| (l.agency_code, l.procedure_code))
                .collect(),
            offices: post_office::Entity::find()
                .order_by_asc(post_office::Column::Code)
                .all(conn)
                .await?,
            major_cities: major_city::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|m| m.province_code)
                .collect(),
            tariffs: tariff::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|t| (t.route_class, t.postage_vnd))
                .collect(),
            calendar: super::reference::working_calendar(conn).await?,
        })
    }

    pub fn procedure(&self, code: &str) -> Option<&procedure::Model> {
        self.procedures.get(code)
    }

    /// A procedure's published document list, in order.
    pub fn documents(&self, procedure_code: &str) -> &[procedure_document::Model] {
        self.documents
            .get(procedure_code)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn agency(&self, code: &str) -> Option<&agency::Model> {
        self.agencies.get(code)
    }

    /// Whether the agency handles the procedure.
    pub fn handles(&self, agency_code: &str, procedure_code: &str) -> bool {
        self.handles
            .contains(&(agency_code.to_owned(), procedure_code.to_owned()))
    }

    pub fn is_major_city(&self, province_code: &str) -> bool {
        self.major_cities.contains(province_code)
    }

    /// Postage of one leg of this route class, if a tariff is set.
    pub fn postage(&self, class: RouteClass) -> Option<i64> {
        self.tariffs.get(&class).copied()
    }

    pub fn calendar(&self) -> &WorkingCalendar {
        &self.calendar
    }

    /// The post office that serves an address: one in the same ward, else the first in the province.
    pub fn serving_office(
        &self,
        province_code: &str,
        ward_code: &str,
    ) -> Option<&post_office::Model> {
        let in_province = || {
            self.offices
                .iter()
                .filter(|o| o.province_code == province_code)
        };
        in_province()
            .find(|o| o.ward_code == ward_code)
            .or_else(|| in_province().next())
    }
}

/// A [`Catalog`] snapshot shared by the requests of one process.
#[derive(Debug, Default)]
pub struct CatalogCache {
    slot: RwLock<Option<(Instant, Arc<Catalog>)>>,
}

impl CatalogCache {
    /// The current snapshot, read again when older than [`CATALOG_TTL`].
    pub async fn get(&self, conn: &impl ConnectionTrait) -> Result<Arc<Catalog>, DbErr> {
        if let Ok(slot) = self.slot.read()
            && let Some((at, catalog)) = slot.as_ref()
            && at.elapsed() < CATALOG_TTL
        {
            return Ok(catalog.clone());
        }
        let catalog = Arc::new(Catalog::load(conn).await?);
        if let Ok(mut slot) = self.slot.write() {
            *slot = Some((Instant::now(), catalog.clone()));
        }
        Ok(catalog)
    }

    /// Forgets the snapshot, after this process changed reference data.
    pub fn invalidate(&self) {
        if let Ok(mut slot) = self.slot.write() {
            *slot = None;
        }
    }
}
