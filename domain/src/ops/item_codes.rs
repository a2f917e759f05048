//! The S10 item codes this service issues: each post office's ranges, a serial taken at a time, and
//! a code someone typed in by hand never handed out again. Below every use-case that labels a parcel
//! (a pickup, a supplement's pickup, the result handed to the post).

use entity::{item_code_range, leg};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::OpError;
use crate::s10::{ItemCode, MAX_SERIAL};

/// The country code of the item codes this service issues.
pub const ISSUING_COUNTRY: &str = "VN";

/// Whether some parcel already carries `code`.
pub(crate) async fn item_code_taken(
    conn: &impl ConnectionTrait,
    code: &ItemCode,
) -> Result<bool, OpError> {
    Ok(leg::Entity::find()
        .filter(leg::Column::ItemCode.eq(code.as_str()))
        .count(conn)
        .await?
        > 0)
}

/// Takes the next unused serial of one of `office_code`'s ranges and makes an S10 item code of it.
///
/// Each serial is taken by `UPDATE … SET next_serial = next_serial + 1 WHERE id = ? AND next_serial <=
/// last_serial RETURNING next_serial`: the row lock makes concurrent allocations on PostgreSQL take
/// different serials (a waiting update re-checks its WHERE on the new row), SQLite serialises writers
/// anyway, and a serial is never handed out twice. A serial whose code someone typed in by hand earlier
/// is skipped. Must run inside the caller's transaction, so that a rolled-back change gives nothing away
/// that is then lost — a rolled-back allocation simply never happened.
pub async fn allocate_item_code(
    conn: &impl ConnectionTrait,
    office_code: &str,
) -> Result<ItemCode, OpError> {
    let ranges = item_code_range::Entity::find()
        .filter(item_code_range::Column::OfficeCode.eq(office_code))
        .filter(
            Expr::col(item_code_range::Column::NextSerial)
                .lte(Expr::col(item_code_range::Column::LastSerial)),
        )
        .order_by_asc(item_code_range::Column::Id)
        .all(conn)
        .await?;
    for range in ranges {
        loop {
            let take = Query::update()
                .table(item_code_range::Entity)
                .value(
                    item_code_range::Column::NextSerial,
                    Expr::col(item_code_range::Column::NextSerial).add(1),
                )
                .and_where(item_code_range::Column::Id.eq(range.id))
                .and_where(
                    Expr::col(item_code_range::Column::NextSerial)
                        .lte(Expr::col(item_code_range::Column::LastSerial)),
                )
                .returning_col(item_code_range::Column::NextSerial)
                .to_owned();
            let Some(row) = conn.query_one(&take).await? else {
                // Spent meanwhile: try the office's next range.
                break;
            };
            let next: i64 = row.try_get("", "next_serial")?;
            let serial = next - 1;
            let code = u32::try_from(serial)
                .ok()
                .filter(|s| *s <= MAX_SERIAL)
                .and_then(|s| {
                    ItemCode::from_serial(&range.service_indicator, s, ISSUING_COUNTRY).ok()
                })
                .ok_or_else(|| {
                    OpError::Conflict(format!(
                        "item code range {} of post office {office_code} is misconfigured \
                         (serial {serial}, indicator `{}`); ask an administrator",
                        range.id, range.service_indicator
                    ))
                })?;
            if !item_code_taken(conn, &code).await? {
                return Ok(code);
            }
        }
    }
    Err(OpError::Conflict(format!(
        "post office {office_code} has no item codes left: every range is used up; ask an \
         administrator to add a range"
    )))
}
