//! The parcel behind a label: what printing a label needs (the leg with its item code, the dossier,
//! its agency and procedure), and what a scanned label's QR code resolves to for whoever scanned it.
//!
//! Labels are printed by staff: the dossier's post office, its agency, or an administrator. A label's
//! QR code lands on the parcel for staff who may see the dossier, and on the masked public tracking
//! view for anyone else, so a label found in the street tells no more than the tracking page.

use entity::enums::{LegDirection, Role};
use entity::{agency, dossier, leg, procedure};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::OpError;
use super::access::{Access, Actor};
use super::dossier_record::{PublicTrack, track_public_on};
use super::dossiers::find_by_code;

/// Everything a label shows.
#[derive(Debug, Clone)]
pub struct LabelRecord {
    pub leg: leg::Model,
    /// The leg's S10 item code: a label is printed only once the parcel has one.
    pub item_code: String,
    pub dossier: dossier::Model,
    pub agency: agency::Model,
    pub procedure: procedure::Model,
}

/// Whether `actor` may print labels of `dossier`: staff who may access it (its office, its agency, an
/// administrator). Citizens hold their slip, not the parcel, so they print none.
fn may_print(actor: &Actor, dossier: &dossier::Model) -> bool {
    let staff = match actor {
        Actor::Staff(key) => matches!(key.role, Role::Postal | Role::Agency | Role::Admin),
        Actor::System => true,
        Actor::Public | Actor::Citizen { .. } => false,
    };
    staff && actor.may_access(dossier) == Access::Full
}

/// The label of the dossier `code`'s parcel in `direction`: `NotFound` without such a dossier or
/// parcel, `Forbidden` when it is not the actor's, `Conflict` while the parcel has no item code yet.
pub async fn label_record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    code: &str,
    direction: LegDirection,
) -> Result<LabelRecord, OpError> {
    let dossier = find_by_code(conn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    if !may_print(actor, &dossier) {
        return Err(OpError::Forbidden(
            "labels are printed by the dossier's post office, its agency or an administrator"
                .into(),
        ));
    }
    let leg = leg::Entity::find()
        .filter(leg::Column::DossierId.eq(dossier.id))
        .filter(leg::Column::Direction.eq(direction))
        // The latest parcel of the direction: a supplement's, once the citizen sends one.
        .order_by_desc(leg::Column::Id)
        .one(conn)
        .await?
        .ok_or(OpError::NotFound("parcel"))?;
    let Some(item_code) = leg.item_code.clone() else {
        return Err(OpError::Conflict(
            "the parcel has no item code yet: it gets one at pickup (inbound) or when the result is handed to the post (outbound)".into(),
        ));
    };
    let agency = agency::Entity::find_by_id(dossier.agency_code.clone())
        .one(conn)
        .await?
        .ok_or(OpError::NotFound("agency"))?;
    let procedure = procedure::Entity::find_by_id(dossier.procedure_code.clone())
        .one(conn)
        .await?
        .ok_or(OpError::NotFound("procedure"))?;
    Ok(LabelRecord {
        leg,
        item_code,
        dossier,
        agency,
        procedure,
    })
}

/// What a scanned label shows to whoever scanned it.
#[derive(Debug, Clone)]
pub enum LabelLanding {
    /// Staff who may see the dossier: the parcel itself.
    Parcel {
        leg: Box<leg::Model>,
        dossier: Box<dossier::Model>,
    },
    /// Anyone else: the record behind the masked public tracking view (the caller shows only its
    /// masked fields).
    Public(PublicTrack),
}

/// Resolves the leg named by a label token that has already been verified. `NotFound` when the leg
/// does not exist (e.g. a token signed for a database that was since reset).
pub async fn land(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    leg_id: i64,
) -> Result<LabelLanding, OpError> {
    let (leg, dossier) = leg::Entity::find_by_id(leg_id)
        .find_also_related(dossier::Entity)
        .one(conn)
        .await?
        .ok_or(OpError::NotFound("parcel"))?;
    let dossier = dossier.ok_or(OpError::NotFound("parcel"))?;
    let staff_entitled =
        matches!(actor, Actor::Staff(_)) && actor.may_access(&dossier) == Access::Full;
    if staff_entitled {
        Ok(LabelLanding::Parcel {
            leg: Box::new(leg),
            dossier: Box::new(dossier),
        })
    } else {
        Ok(LabelLanding::Public(
            track_public_on(conn, &dossier.code).await?,
        ))
    }
}
