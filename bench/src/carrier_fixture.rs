//! What the carrier benchmarks share: a fresh database (a SQLite file in a temporary directory, or a new
//! PostgreSQL database dropped afterwards), migrated and seeded with the demo reference data; a carrier
//! sandbox holding `parcels` orders; and as many picked-up dossiers whose inbound parcels carry the
//! sandbox's labels, with their placed carrier orders — inserted in bulk, since creating them one
//! request at a time would take longer than what is measured.

use std::time::{Duration, Instant};

use crate::{admin_sql, database_url};
use anyhow::Context;
use carrier_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use chrono::Utc;
use domain::store::Store;
use entity::enums::{
    DossierStatus, EventKind, EventSource, FeeExemption, LegDirection, LegStatus, RouteClass,
    ServiceMode,
};
use entity::{carrier_order, dossier, dossier_event, leg};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    Statement,
};
use secrecy::SecretString;
use worker::carrier::{CarrierConfig, HttpCarrier};

/// Which database a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "SQLite",
            Db::Postgres => "PostgreSQL",
        }
    }
}

/// A prepared world: the store, the sandbox, and what to clean up.
pub struct Fixture {
    pub store: Store,
    pub sandbox: SandboxHandle,
    /// `(order number, item code)` of every parcel.
    pub parcels: Vec<(String, String)>,
    drop_database: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

/// Rows per bulk insert.
const CHUNK: usize = 500;

impl Fixture {
    /// Makes the database and the sandbox and inserts `parcels` dossiers.
    pub async fn new(db: Db, pg_url: &str, parcels: u32) -> anyhow::Result<Fixture> {
        let dir = tempfile::tempdir()?;
        let (url, drop_database) = match db {
            Db::Sqlite => (
                format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
                None,
            ),
            Db::Postgres => {
                let name = format!("dossier_carrierbench_{}", uuid::Uuid::new_v4().simple());
                admin_sql(pg_url, format!("CREATE DATABASE \"{name}\"")).await?;
                (database_url(pg_url, &name), Some((pg_url.to_owned(), name)))
            }
        };
        let store = Store::connect(&url, 8).await?;
        api::startup::migrate(&store.write).await?;
        domain::ops::seed::seed_demo_if_empty(&store.write).await?;
        let sandbox = Sandbox::start(SandboxConfig {
            max_page_size: 1000,
            ..SandboxConfig::default()
        })
        .await?;
        let started = Instant::now();
        let parcels = sandbox.bulk_orders(parcels, "BENCH-", None);
        insert_dossiers(&store, &parcels).await?;
        println!(
            "  prepared {} picked-up dossiers on {} and their orders at the sandbox in {:.1} s",
            parcels.len(),
            db.name(),
            started.elapsed().as_secs_f64()
        );
        Ok(Fixture {
            store,
            sandbox,
            parcels,
            drop_database,
            _dir: dir,
        })
    }

    /// An adapter for the sandbox.
    pub fn adapter(&self) -> anyhow::Result<HttpCarrier> {
        let c = self.sandbox.config();
        let mut config = CarrierConfig::new(
            self.sandbox.base_url(),
            c.consumer_key.clone(),
            SecretString::from(c.consumer_secret.clone()),
            c.customer_code.clone(),
        );
        config.timeout = Duration::from_secs(60);
        Ok(HttpCarrier::new(config)?)
    }

    /// How many rows `table` holds.
    pub async fn count(&self, table: &str) -> anyhow::Result<i64> {
        let backend = self.store.read.get_database_backend();
        let row = self
            .store
            .read
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) FROM {table}"),
            ))
            .await?
            .context("no count")?;
        Ok(row.try_get_by_index(0)?)
    }

    /// Dossiers by status, as `status: n` pairs.
    pub async fn statuses(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let backend = self.store.read.get_database_backend();
        let rows = self
            .store
            .read
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT status, COUNT(*) FROM dossiers GROUP BY status ORDER BY status".to_owned(),
            ))
            .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
            .collect()
    }

    /// Closes the store and drops the PostgreSQL database.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.store.close().await?;
        if let Some((server, name)) = self.drop_database {
            admin_sql(
                &server,
                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            )
            .await?;
        }
        Ok(())
    }
}

/// Picked-up dossiers (send and return) whose inbound parcels carry `parcels`' labels, each with its
/// two first timeline events and its placed carrier order, as the API would have left them a day ago.
async fn insert_dossiers(store: &Store, parcels: &[(String, String)]) -> anyhow::Result<()> {
    let now = Utc::now();
    let then = now - chrono::Duration::days(1);
    let txn = store.begin().await?;
    for (n, chunk) in parcels.chunks(CHUNK).enumerate() {
        let rows = chunk.iter().enumerate().map(|(i, (number, _))| {
            let k = n * CHUNK + i;
            dossier::ActiveModel {
                code: Set(number.clone()),
                status: Set(DossierStatus::PickedUp),
                service_mode: Set(ServiceMode::SendAndReturn),
                procedure_code: Set("1.001612".into()),
                agency_code: Set("UBND-P-HOANKIEM".into()),
                office_code: Set("100000".into()),
                applicant_full_name: Set(format!("Người gửi {k}")),
                applicant_phone: Set("0912345678".into()),
                applicant_email: Set(None),
                applicant_id_number: Set("001090012345".into()),
                pickup_line: Set(Some("12 Tràng Tiền".into())),
                pickup_ward_code: Set(Some("00070".into())),
                pickup_province_code: Set(Some("01".into())),
                return_line: Set(Some("12 Tràng Tiền".into())),
                return_ward_code: Set(Some("00070".into())),
                return_province_code: Set(Some("01".into())),
                documents: Set(
                    serde_json::json!([{"name": "Tờ khai", "original": true, "copies": 1}]),
                ),
                with_appointment: Set(false),
                fee_exemption: Set(FeeExemption::None),
                route_class: Set(RouteClass::IntraProvince),
                postage_vnd: Set(26_000),
                admin_fee_vnd: Set(0),
                total_vnd: Set(26_000),
                access_token_hash: Set(format!("bench-{k:064}")),
                language: Set("vi".into()),
                created_at: Set(then),
                updated_at: Set(then),
                ..Default::default()
            }
        });
        dossier::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    let ids: Vec<(String, i64)> = dossier::Entity::find()
        .select_only()
        .column(dossier::Column::Code)
        .column(dossier::Column::Id)
        .filter(dossier::Column::Code.starts_with("BENCH-"))
        .into_tuple()
        .all(&txn)
        .await?;
    let id_of: std::collections::HashMap<String, i64> = ids.into_iter().collect();
    for chunk in parcels.chunks(CHUNK / 2) {
        let mut legs = Vec::with_capacity(chunk.len() * 2);
        let mut events = Vec::with_capacity(chunk.len() * 2);
        for (number, item) in chunk {
            let id = *id_of.get(number).context("dossier id")?;
            for (direction, item_code, status) in [
                (
                    LegDirection::Inbound,
                    Some(item.clone()),
                    LegStatus::PickedUp,
                ),
                (LegDirection::Outbound, None, LegStatus::Planned),
            ] {
                legs.push(leg::ActiveModel {
                    dossier_id: Set(id),
                    direction: Set(direction),
                    route_class: Set(RouteClass::IntraProvince),
                    item_code: Set(item_code),
                    status: Set(status),
                    failed_attempts: Set(0),
                    created_at: Set(then),
                    updated_at: Set(then),
                    ..Default::default()
                });
            }
            for (kind, to) in [
                (EventKind::Requested, DossierStatus::PickupRequested),
                (EventKind::PickedUp, DossierStatus::PickedUp),
            ] {
                events.push(dossier_event::ActiveModel {
                    dossier_id: Set(id),
                    at: Set(then),
                    kind: Set(kind),
                    source: Set(EventSource::Api),
                    actor: Set("bench".into()),
                    to_status: Set(Some(to)),
                    recorded_at: Set(then),
                    ..Default::default()
                });
            }
        }
        leg::Entity::insert_many(legs)
            .exec_without_returning(&txn)
            .await?;
        dossier_event::Entity::insert_many(events)
            .exec_without_returning(&txn)
            .await?;
    }
    let legs: Vec<(Option<String>, i64)> = leg::Entity::find()
        .select_only()
        .column(leg::Column::ItemCode)
        .column(leg::Column::Id)
        .filter(leg::Column::ItemCode.is_not_null())
        .into_tuple()
        .all(&txn)
        .await?;
    let leg_of: std::collections::HashMap<String, i64> = legs
        .into_iter()
        .filter_map(|(code, id)| code.map(|c| (c, id)))
        .collect();
    for chunk in parcels.chunks(CHUNK) {
        let mut rows = Vec::with_capacity(chunk.len());
        for (number, item) in chunk {
            rows.push(carrier_order::ActiveModel {
                order_number: Set(number.clone()),
                leg_id: Set(*leg_of.get(item).context("leg id")?),
                item_code: Set(item.clone()),
                placed_at: Set(Some(then)),
                created_at: Set(then),
                ..Default::default()
            });
        }
        carrier_order::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}
