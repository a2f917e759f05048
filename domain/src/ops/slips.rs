//! What the dossier slip (Phiếu gửi hồ sơ, Circular 17 Art. 9) and the receipt for the money collected
//! (Decision 45 Art. 6.5, 11) print: the dossier, its agency, procedure and post office, the signed
//! pickup slip (time of acceptance, amount collected), the parcels' item codes, and for `return` mode
//! the postage collected at the door; and for each supplement the citizen sent by post (API.md
//! "Supplements by post": picked up "like the first"), its own slip and receipt: its documents, where
//! it is collected, its parcel's item code, its postage and the time the post accepted it. Read for the
//! citizen (their token) or staff who may see the dossier, exactly like the dossier view.

use chrono::{DateTime, Utc};
use entity::enums::{DeliveryOutcome, DossierStatus, LegDirection, LegStatus};
use entity::{
    agency, delivery_attempt, dossier, leg, pickup_slip, post_office, procedure, supplement,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::OpError;
use super::access::{Access, Actor};
use super::dossiers::{SlipDocument, find_by_code};

/// Everything a slip or a receipt of one dossier prints.
#[derive(Debug, Clone)]
pub struct SlipRecord {
    pub dossier: dossier::Model,
    pub agency: Option<agency::Model>,
    pub procedure: Option<procedure::Model>,
    pub office: Option<post_office::Model>,
    pub legs: Vec<leg::Model>,
    /// The signed pickup slip, once the dossier was picked up.
    pub pickup: Option<pickup_slip::Model>,
    /// The delivery that collected postage at the door (`return` mode), once made.
    pub paid_delivery: Option<delivery_attempt::Model>,
    /// The supplements the citizen sent by post, in the order they were sent.
    pub supplements: Vec<SupplementSlip>,
}

/// A supplement sent by post, as its own slip and receipt print it.
#[derive(Debug, Clone)]
pub struct SupplementSlip {
    /// Its rank among the dossier's supplements sent by post, from 1.
    pub number: usize,
    pub supplement: supplement::Model,
    /// Its parcel's S10 code, once the pickup gave it one.
    pub item_code: Option<String>,
}

impl SupplementSlip {
    /// The documents the citizen sends.
    pub fn documents(&self) -> Vec<SlipDocument> {
        super::supplements::sent_documents(&self.supplement)
    }

    /// When the post accepted the supplement: its pickup.
    pub fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.supplement.picked_up_at
    }

    /// What its receipt acknowledges: `(postage, when)`, once its pickup collected the postage.
    pub fn collected(&self) -> Option<(i64, DateTime<Utc>)> {
        let s = &self.supplement;
        Some((s.fee_collected_vnd?, s.picked_up_at?))
    }
}

impl SlipRecord {
    /// The documents listed on the slip.
    pub fn documents(&self) -> Vec<SlipDocument> {
        let source = self
            .pickup
            .as_ref()
            .map_or(&self.dossier.documents, |p| &p.documents);
        serde_json::from_value(source.clone()).unwrap_or_default()
    }

    /// The item code the slip is for: the inbound parcel's (the dossier), or in `return` mode the
    /// outbound one (the result); a supplement's parcel has its own slip.
    pub fn item_code(&self) -> Option<String> {
        let of = |direction| {
            self.legs
                .iter()
                .find(|l| l.direction == direction && l.purpose.is_none())
                .and_then(|l| l.item_code.clone())
        };
        of(LegDirection::Inbound).or_else(|| of(LegDirection::Outbound))
    }

    /// When the post accepted the dossier: the pickup slip's time.
    pub fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.pickup.as_ref().map(|p| p.picked_up_at)
    }

    /// What the receipt acknowledges: `(postage, admin fee, when)`, once money changed hands — at
    /// pickup (postage and the admin fee collected on the agency's behalf), or for `return` mode at the
    /// door (postage only). `None` before.
    pub fn collected(&self) -> Option<(i64, i64, DateTime<Utc>)> {
        if let Some(p) = &self.pickup {
            let admin = self.dossier.admin_fee_vnd.min(p.fee_collected_vnd);
            return Some((p.fee_collected_vnd - admin, admin, p.picked_up_at));
        }
        self.paid_delivery
            .as_ref()
            .and_then(|d| d.fee_collected_vnd.map(|fee| (fee, 0, d.at)))
    }
}

/// Whether the dossier has a receipt to print: once a parcel it sends was picked up
/// (`inbound_picked_up`: the dossier's or a supplement's, with its postage and fees), or once the
/// result was delivered where postage is collected at the door
/// ([`postage_due_at_delivery`](super::postal::postage_due_at_delivery), the delivery's own rule).
pub fn has_receipt(dossier: &dossier::Model, inbound_picked_up: bool) -> bool {
    inbound_picked_up
        || (dossier.status == DossierStatus::Delivered
            && super::postal::postage_due_at_delivery(dossier) > 0)
}

/// The slip's facts for an actor entitled to the dossier: `NotFound` when there is no such code,
/// `Forbidden` when it is not theirs.
pub async fn slip_record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    code: &str,
) -> Result<SlipRecord, OpError> {
    let mut dossier = find_by_code(conn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    if actor.may_access(&dossier) == Access::Denied {
        return Err(OpError::Forbidden(
            "this dossier is not yours to see".into(),
        ));
    }
    // The post office's copy, like every view a postal key gets, leaves out the applicant's identity
    // number and e-mail; the citizen's and the agency's copies carry them.
    if actor.staff_with_role(entity::enums::Role::Postal).is_some() {
        super::dossiers::redact_for_post(&mut dossier);
    }
    let agency = agency::Entity::find_by_id(dossier.agency_code.clone())
        .one(conn)
        .await?;
    let procedure = procedure::Entity::find_by_id(dossier.procedure_code.clone())
        .one(conn)
        .await?;
    let office = post_office::Entity::find_by_id(dossier.office_code.clone())
        .one(conn)
        .await?;
    let legs = leg::Entity::find()
        .filter(leg::Column::DossierId.eq(dossier.id))
        .order_by_asc(leg::Column::Id)
        .all(conn)
        .await?;
    let pickup = pickup_slip::Entity::find()
        .filter(pickup_slip::Column::DossierId.eq(dossier.id))
        .order_by_asc(pickup_slip::Column::Id)
        .one(conn)
        .await?;
    let paid_delivery = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::DossierId.eq(dossier.id))
        .filter(delivery_attempt::Column::Outcome.eq(DeliveryOutcome::Delivered))
        .filter(delivery_attempt::Column::FeeCollectedVnd.gt(0))
        .order_by_desc(delivery_attempt::Column::Id)
        .one(conn)
        .await?;
    let supplements = supplement::Entity::find()
        .filter(supplement::Column::DossierId.eq(dossier.id))
        .filter(supplement::Column::SubmittedAt.is_not_null())
        .order_by_asc(supplement::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        // A supplement whose pickup was closed before the post collected it has no paper.
        .filter(|supplement| {
            !legs
                .iter()
                .any(|l| Some(l.id) == supplement.leg_id && l.status == LegStatus::Cancelled)
        })
        .enumerate()
        .map(|(i, supplement)| SupplementSlip {
            number: i + 1,
            item_code: legs
                .iter()
                .find(|l| Some(l.id) == supplement.leg_id)
                .and_then(|l| l.item_code.clone()),
            supplement,
        })
        .collect();
    Ok(SlipRecord {
        dossier,
        agency,
        procedure,
        office,
        legs,
        pickup,
        paid_delivery,
        supplements,
    })
}
