//! Placing a parcel's order at the carrier, for the outbox's `carrier_order` rows.
//!
//! The outbox row names the order (number, parcel, item code); the sender and receiver are read from
//! the dossier now and go to the carrier, which needs them to deliver — and nowhere else: they are not
//! stored in the outbox, and neither logs nor the stored error of a failed attempt carry them.
//! Placing is idempotent (the carrier dedupes on `orderNumber`), so a retry after a lost answer is safe.

use domain::ops::carrier_orders::{self, CarrierOrderPayload, OrderDetails};
use domain::store::Store;

use super::{Carrier, CarrierError, OrderRequest};

/// Why an order was not placed this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPlaced {
    /// A short description without personal data, kept on the outbox row for administrators.
    pub error: String,
    /// Retrying cannot help (the carrier refused the order, or the request is wrong): the row fails at
    /// once and waits for an administrator.
    pub permanent: bool,
}

/// The request of CARRIER.md for an order.
pub fn order_request(details: &OrderDetails) -> OrderRequest {
    let email = |e: &Option<String>| e.clone().filter(|e| !e.trim().is_empty());
    OrderRequest {
        order_number: details.order_number.clone(),
        cod_amount: 0,
        sender_name: details.sender.name.clone(),
        sender_address: details.sender.address.clone(),
        sender_province: details.sender.province_code.clone(),
        sender_ward: details.sender.ward_code.clone(),
        sender_tel: details.sender.phone.clone(),
        sender_email: email(&details.sender.email),
        receiver_name: details.receiver.name.clone(),
        receiver_address: details.receiver.address.clone(),
        receiver_province: details.receiver.province_code.clone(),
        receiver_ward: details.receiver.ward_code.clone(),
        receiver_tel: details.receiver.phone.clone(),
        receiver_email: email(&details.receiver.email),
        sender_desc: details.declared_as.clone(),
        description: details.description.clone(),
        item_code: Some(details.item_code.clone()),
    }
}

/// Places one order and records it placed. A parcel that no longer exists has nothing to place.
#[tracing::instrument(skip_all, fields(carrier.order_number = %payload.order_number))]
pub async fn place_order(
    store: &Store,
    carrier: &impl Carrier,
    payload: &CarrierOrderPayload,
) -> Result<(), NotPlaced> {
    let details = carrier_orders::order_details(&store.read, payload)
        .await
        .map_err(|e| NotPlaced {
            error: format!("reading the order failed: {e}"),
            permanent: false,
        })?;
    let Some(details) = details else {
        tracing::warn!("the parcel of a carrier order is gone; nothing to place");
        return Ok(());
    };
    let answer = carrier
        .create_order(&order_request(&details))
        .await
        .map_err(|error| NotPlaced {
            permanent: matches!(
                error,
                CarrierError::Refused { .. } | CarrierError::Rejected { .. }
            ),
            error: error.to_string(),
        })?;
    if !answer.item_code.eq_ignore_ascii_case(&payload.item_code) {
        // The carrier keeps the label it was given (CARRIER.md); another one means two labels for one
        // parcel, which staff must sort out. The order stands.
        tracing::warn!(
            carrier.item_code = %answer.item_code,
            item.code = %payload.item_code,
            "the carrier answered another item code than the parcel's"
        );
    }
    carrier_orders::mark_placed(&store.write, &payload.order_number)
        .await
        .map_err(|e| NotPlaced {
            error: format!("recording the placed order failed: {e}"),
            permanent: false,
        })?;
    tracing::info!(item.code = %payload.item_code, "carrier order placed");
    Ok(())
}
