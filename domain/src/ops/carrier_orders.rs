//! Carrier orders (CARRIER.md "Create an order"): one per parcel, created when the parcel gets its item
//! code (inbound at pickup — a supplement's parcel too, numbered apart: [`supplement_order_number`] —
//! outbound when the agency hands the result to the post), and the bookkeeping
//! of per-order reads, the fallback for parcels the feed has gone quiet about.
//!
//! An order is never placed inside a user's request: [`enqueue_order`] writes a `carrier_orders` row and
//! a `carrier_order` outbox row in the caller's transaction (the one that allocates the item code), and
//! the worker places it later, retrying with backoff while the carrier is down. The outbox payload holds
//! only the order number, the leg and the item code; the names, addresses and phones the carrier needs
//! are read from the dossier when the order is sent ([`order_details`]), so personal data never sits in
//! the outbox nor reaches a log.
//!
//! Per-order reads: an order is *quiet* when it was placed, the carrier has not reported its final event,
//! its parcel is still on its way here, no event of it was stored for `quiet_for` (from the feed, a
//! push or a read), and it was not read one by one for `recheck_every` either (`checked_at` is kept
//! apart from the time of the last event, so a quiet parcel costs one request per `recheck_every`, not
//! one per cycle). Workers claim quiet orders with a
//! lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several share the reads without doing one twice.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::enums::{LegDirection, LegPurpose, LegStatus};
use entity::{agency, carrier_event, carrier_order, dossier, leg, procedure, supplement};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    Order, QueryFilter, QueryOrder, QuerySelect, Select, Statement,
};
use serde::{Deserialize, Serialize};

use super::outbox::{DeliveryKind, pending_row};
use crate::store::Store;

/// Rows per bulk statement, well under both databases' limits on bound parameters.
const CHUNK: usize = 500;

/// VNPost codes after which nothing more happens to a parcel (delivered, completed, delivery
/// cancelled): its order is no longer read one by one.
pub const FINAL_STATUS_CODES: [i64; 3] = [14, 19, 22];

/// Leg statuses of a parcel still on its way, whose order may need reading.
const MOVING: [LegStatus; 4] = [
    LegStatus::PickedUp,
    LegStatus::InTransit,
    LegStatus::OutForDelivery,
    LegStatus::DeliveryFailed,
];

/// The outbox payload of a `carrier_order` row: what identifies the order, nothing personal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierOrderPayload {
    /// `<dossier code>-<I|O>`, or `<dossier code>-I<n>` for a supplement's parcel
    /// ([`supplement_order_number`]); the carrier dedupes on it, so every attempt sends the same.
    pub order_number: String,
    /// The parcel.
    pub leg_id: i64,
    /// The S10 label it carries.
    pub item_code: String,
}

/// The order number of a dossier's parcel (CARRIER.md): `<dossier code>-I` inbound, `-O` outbound.
pub fn order_number(dossier_code: &str, direction: LegDirection) -> String {
    let suffix = match direction {
        LegDirection::Inbound => "I",
        LegDirection::Outbound => "O",
    };
    format!("{dossier_code}-{suffix}")
}

/// The order number of a supplement's parcel: `<dossier code>-I<n>`, where `n` (2 or more) counts
/// the dossier's inbound parcels in the order they were created, the dossier's own being the first —
/// `-I2` for the first supplement, `-I3` if the agency asks a second time.
///
/// CARRIER.md fixes `<dossier code>-<I|O>`, one order per parcel, and the carrier dedupes on the
/// number: a supplement's parcel reusing `-I` would be taken for the dossier's own order and never
/// placed. The direction letter stays first so the number still reads as inbound, and the dossier's
/// own parcels keep their numbers ([`order_number`]) unchanged.
pub fn supplement_order_number(dossier_code: &str, inbound_parcel: u64) -> String {
    format!(
        "{}{inbound_parcel}",
        order_number(dossier_code, LegDirection::Inbound)
    )
}

/// Writes the carrier order of a parcel that just got its item code, in the caller's transaction: the
/// `carrier_orders` row and the outbox row that places it.
pub async fn enqueue_order(
    conn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    leg_id: i64,
    direction: LegDirection,
    item_code: &str,
) -> Result<(), DbErr> {
    enqueue_numbered_order(
        conn,
        dossier,
        order_number(&dossier.code, direction),
        leg_id,
        item_code,
    )
    .await
}

/// [`enqueue_order`] with the order number given (a supplement's parcel:
/// [`supplement_order_number`]).
pub async fn enqueue_numbered_order(
    conn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    order_number: String,
    leg_id: i64,
    item_code: &str,
) -> Result<(), DbErr> {
    let now = crate::clock::now();
    let payload = CarrierOrderPayload {
        order_number,
        leg_id,
        item_code: item_code.to_owned(),
    };
    carrier_order::Entity::insert(carrier_order::ActiveModel {
        order_number: Set(payload.order_number.clone()),
        leg_id: Set(leg_id),
        item_code: Set(payload.item_code.clone()),
        placed_at: Set(None),
        final_at: Set(None),
        checked_at: Set(None),
        lease_holder: Set(None),
        lease_until: Set(None),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    let json = serde_json::to_value(&payload)
        .map_err(|e| DbErr::Custom(format!("carrier order payload: {e}")))?;
    entity::outbox::Entity::insert(pending_row(
        DeliveryKind::CarrierOrder,
        dossier.id,
        json,
        now,
    ))
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// One party of an order: who sends or receives the parcel.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Party {
    pub name: String,
    pub address: String,
    pub province_code: String,
    pub ward_code: String,
    /// Empty when unknown (an agency's desk has no phone on file).
    pub phone: String,
    pub email: Option<String>,
}

/// Everything the carrier needs to carry one parcel. Holds personal data: `Debug` shows only the order
/// number, the item code and the provinces.
#[derive(Clone, PartialEq, Eq)]
pub struct OrderDetails {
    pub order_number: String,
    pub item_code: String,
    pub direction: LegDirection,
    pub sender: Party,
    pub receiver: Party,
    /// What the parcel is declared as, e.g. `Hồ sơ TTHC 1.001612`.
    pub declared_as: String,
    /// The procedure's name.
    pub description: String,
}

impl fmt::Debug for OrderDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderDetails")
            .field("order_number", &self.order_number)
            .field("item_code", &self.item_code)
            .field("direction", &self.direction)
            .field("sender_province", &self.sender.province_code)
            .field("receiver_province", &self.receiver.province_code)
            .finish_non_exhaustive()
    }
}

/// The order of a parcel as it is sent to the carrier, from the dossier as it is now: the citizen sends
/// the inbound parcel to the agency, the agency sends the result home. `None` when the parcel or its
/// dossier is gone (nothing to send).
pub async fn order_details(
    conn: &impl ConnectionTrait,
    payload: &CarrierOrderPayload,
) -> Result<Option<OrderDetails>, DbErr> {
    let Some(leg) = leg::Entity::find_by_id(payload.leg_id).one(conn).await? else {
        return Ok(None);
    };
    let Some(dossier) = dossier::Entity::find_by_id(leg.dossier_id)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let agency = agency::Entity::find_by_id(dossier.agency_code.clone())
        .one(conn)
        .await?;
    let procedure_name = procedure::Entity::find_by_id(dossier.procedure_code.clone())
        .one(conn)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    let desk = desk_party(&dossier, agency);
    let supplement = supplement_of(conn, &leg).await?;
    let (sender, receiver, declared_as) = route(&dossier, leg.direction, supplement.as_ref(), desk);
    Ok(Some(OrderDetails {
        order_number: payload.order_number.clone(),
        item_code: payload.item_code.clone(),
        direction: leg.direction,
        sender,
        receiver,
        declared_as,
        description: procedure_name,
    }))
}

/// The agency's desk, as the carrier addresses it (its code alone when the agency is unknown).
fn desk_party(dossier: &dossier::Model, agency: Option<agency::Model>) -> Party {
    agency.map_or_else(
        || Party {
            name: dossier.agency_code.clone(),
            ..Party::default()
        },
        |a| Party {
            name: a.name,
            address: a.address,
            province_code: a.province_code,
            ward_code: a.ward_code,
            phone: String::new(),
            email: a.email.filter(|e| !e.trim().is_empty()),
        },
    )
}

/// The supplement a supplement's parcel carries: it is collected where the citizen asked for it.
async fn supplement_of(
    conn: &impl ConnectionTrait,
    leg: &leg::Model,
) -> Result<Option<supplement::Model>, DbErr> {
    match leg.purpose {
        Some(LegPurpose::Supplement) => {
            supplement::Entity::find()
                .filter(supplement::Column::LegId.eq(leg.id))
                .one(conn)
                .await
        }
        None => Ok(None),
    }
}

/// The citizen at one of the dossier's addresses.
fn citizen_at(
    dossier: &dossier::Model,
    line: &Option<String>,
    ward: &Option<String>,
    province: &Option<String>,
) -> Party {
    let text = |s: &Option<String>| s.as_deref().map(str::trim).unwrap_or_default().to_owned();
    Party {
        name: dossier.applicant_full_name.clone(),
        address: text(line),
        province_code: text(province),
        ward_code: text(ward),
        phone: dossier.applicant_phone.clone(),
        email: dossier
            .applicant_email
            .clone()
            .filter(|e| !e.trim().is_empty()),
    }
}

/// Sender, receiver and what the parcel is declared as: the dossier or a supplement from the
/// citizen's pickup address to the desk, the result from the desk to the return address (the pickup
/// address when none was given).
fn route(
    dossier: &dossier::Model,
    direction: LegDirection,
    supplement: Option<&supplement::Model>,
    desk: Party,
) -> (Party, Party, String) {
    match (direction, supplement) {
        (LegDirection::Inbound, Some(s)) => (
            citizen_at(
                dossier,
                &s.pickup_line,
                &s.pickup_ward_code,
                &s.pickup_province_code,
            ),
            desk,
            format!("Hồ sơ bổ sung TTHC {}", dossier.procedure_code),
        ),
        (LegDirection::Inbound, None) => (
            citizen_at(
                dossier,
                &dossier.pickup_line,
                &dossier.pickup_ward_code,
                &dossier.pickup_province_code,
            ),
            desk,
            format!("Hồ sơ TTHC {}", dossier.procedure_code),
        ),
        (LegDirection::Outbound, _) => {
            let home = if dossier.return_line.is_some() {
                citizen_at(
                    dossier,
                    &dossier.return_line,
                    &dossier.return_ward_code,
                    &dossier.return_province_code,
                )
            } else {
                citizen_at(
                    dossier,
                    &dossier.pickup_line,
                    &dossier.pickup_ward_code,
                    &dossier.pickup_province_code,
                )
            };
            (
                desk,
                home,
                format!("Kết quả TTHC {}", dossier.procedure_code),
            )
        }
    }
}

/// Records that the carrier accepted an order (the first time only).
pub async fn mark_placed(conn: &impl ConnectionTrait, order_number: &str) -> Result<(), DbErr> {
    carrier_order::Entity::update_many()
        .col_expr(
            carrier_order::Column::PlacedAt,
            Expr::value(crate::clock::now()),
        )
        .filter(carrier_order::Column::OrderNumber.eq(order_number))
        .filter(carrier_order::Column::PlacedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Notes, inside an ingest's transaction, that the carrier reported the final event of `finished`
/// items (their orders are not read one by one any more). The time of an item's last event needs no
/// bookkeeping: it is in `carrier_events`.
pub(crate) async fn note_finished(
    conn: &impl ConnectionTrait,
    finished: &[String],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if finished.is_empty() {
        return Ok(());
    }
    if conn.get_database_backend() == DbBackend::Postgres {
        // One JSON parameter for the list (see `carrier_ingest`): thousands of parameters are slow.
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE carrier_orders SET final_at = $2::timestamptz \
             WHERE item_code IN (SELECT json_array_elements_text($1::json)) AND final_at IS NULL",
            [super::bulk::json_param(&finished)?, now.into()],
        ))
        .await?;
        return Ok(());
    }
    for chunk in finished.chunks(CHUNK) {
        carrier_order::Entity::update_many()
            .col_expr(carrier_order::Column::FinalAt, Expr::value(now))
            .filter(carrier_order::Column::ItemCode.is_in(chunk.iter().cloned()))
            .filter(carrier_order::Column::FinalAt.is_null())
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// An order to read one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietOrder {
    pub order_number: String,
    pub item_code: String,
}

/// When an order counts as quiet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quietness {
    /// Placed, and no event of it stored, for this long.
    pub quiet_for: Duration,
    /// Not read one by one for this long either.
    pub recheck_every: Duration,
}

fn ago(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(3650))
}

/// Claims up to `limit` quiet orders for `holder` for `lease`, the longest unread first.
pub async fn claim_quiet(
    store: &Store,
    holder: &str,
    quietness: Quietness,
    limit: u64,
    lease: Duration,
) -> Result<Vec<QuietOrder>, DbErr> {
    let now = crate::clock::now();
    let quiet_before = ago(now, quietness.quiet_for);
    let checked_before = ago(now, quietness.recheck_every);
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let txn = store.begin().await?;
    let mut query = quiet_orders(now, quiet_before, checked_before)
        .order_by(
            Expr::expr(Func::coalesce([
                Expr::col(carrier_order::Column::CheckedAt),
                Expr::col(carrier_order::Column::PlacedAt),
            ])),
            Order::Asc,
        )
        .order_by_asc(carrier_order::Column::Id)
        .limit(limit);
    if store.backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = query.all(&txn).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    carrier_order::Entity::update_many()
        .col_expr(carrier_order::Column::LeaseHolder, Expr::value(holder))
        .col_expr(carrier_order::Column::LeaseUntil, Expr::value(until))
        .filter(carrier_order::Column::Id.is_in(rows.iter().map(|r| r.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| QuietOrder {
            order_number: r.order_number,
            item_code: r.item_code,
        })
        .collect())
}

/// Orders not final, placed before `quiet_before`, with no carrier event since, not checked since
/// `checked_before`, not leased by anyone now, whose parcel is still moving.
fn quiet_orders(
    now: DateTime<Utc>,
    quiet_before: DateTime<Utc>,
    checked_before: DateTime<Utc>,
) -> Select<carrier_order::Entity> {
    carrier_order::Entity::find()
        .filter(carrier_order::Column::PlacedAt.lt(quiet_before))
        .filter(carrier_order::Column::FinalAt.is_null())
        .filter(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(carrier_event::Entity)
                    .and_where(
                        Expr::col((carrier_event::Entity, carrier_event::Column::ItemCode))
                            .equals((carrier_order::Entity, carrier_order::Column::ItemCode)),
                    )
                    .and_where(
                        Expr::col((carrier_event::Entity, carrier_event::Column::ReceivedAt))
                            .gte(quiet_before),
                    )
                    .to_owned(),
            )
            .not(),
        )
        .filter(
            Condition::any()
                .add(carrier_order::Column::CheckedAt.is_null())
                .add(carrier_order::Column::CheckedAt.lt(checked_before)),
        )
        .filter(
            Condition::any()
                .add(carrier_order::Column::LeaseUntil.is_null())
                .add(carrier_order::Column::LeaseUntil.lt(now)),
        )
        .filter(
            carrier_order::Column::LegId.in_subquery(
                Query::select()
                    .column(leg::Column::Id)
                    .from(leg::Entity)
                    .and_where(leg::Column::Status.is_in(MOVING.map(|s| s.as_str())))
                    .to_owned(),
            ),
        )
}

/// Ends `holder`'s claim on orders: read now (`checked` true: not read again for `recheck_every`), or
/// given back unread (a failed read, a worker shutting down).
pub async fn release_quiet(
    store: &Store,
    holder: &str,
    order_numbers: &[String],
    checked: bool,
) -> Result<(), DbErr> {
    let now = crate::clock::now();
    for chunk in order_numbers.chunks(CHUNK) {
        let mut update = carrier_order::Entity::update_many()
            .col_expr(
                carrier_order::Column::LeaseHolder,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                carrier_order::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
        if checked {
            update = update.col_expr(carrier_order::Column::CheckedAt, Expr::value(now));
        }
        update
            .filter(carrier_order::Column::OrderNumber.is_in(chunk.iter().cloned()))
            .filter(carrier_order::Column::LeaseHolder.eq(holder))
            .exec(&store.write)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_name_the_leg() {
        assert_eq!(
            order_number("ABCD-EFGH", LegDirection::Inbound),
            "ABCD-EFGH-I"
        );
        assert_eq!(
            order_number("ABCD-EFGH", LegDirection::Outbound),
            "ABCD-EFGH-O"
        );
    }

    #[test]
    fn a_supplements_order_number_counts_the_inbound_parcels() {
        assert_eq!(supplement_order_number("ABCD-EFGH", 2), "ABCD-EFGH-I2");
        assert_eq!(supplement_order_number("ABCD-EFGH", 3), "ABCD-EFGH-I3");
    }

    #[test]
    fn order_debug_hides_personal_data() {
        let details = OrderDetails {
            order_number: "X-I".into(),
            item_code: "EB000717595VN".into(),
            direction: LegDirection::Inbound,
            sender: Party {
                name: "Nguyễn Văn An".into(),
                phone: "0912345678".into(),
                address: "12 Tràng Tiền".into(),
                ..Party::default()
            },
            receiver: Party::default(),
            declared_as: String::new(),
            description: String::new(),
        };
        let shown = format!("{details:?}");
        assert!(shown.contains("X-I"));
        assert!(!shown.contains("Nguyễn") && !shown.contains("0912") && !shown.contains("Tràng"));
    }
}
