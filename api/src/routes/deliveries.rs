//! Deliveries nobody verified (API.md "Delivery to the right person"; Decision 45 Art. 10): the
//! results a carrier reported delivered, listed as exceptions for the office until someone confirms
//! who signed for them.

use chrono::{DateTime, FixedOffset};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use super::dossiers::DossierOut;
use super::postal::{RecipientIn, dossier_answer, require_credentials};
use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A result reported delivered whose recipient nobody checked.
#[derive(Debug, Clone, Object)]
pub struct DeliveryExceptionOut {
    pub dossier_code: String,
    pub status: String,
    pub office_code: String,
    pub agency_code: String,
    /// The outbound parcel.
    #[oai(nullable)]
    pub item_code: Option<String>,
    #[oai(nullable)]
    pub delivered_at: Option<DateTime<FixedOffset>>,
    /// Always `false` here: the reason the dossier is listed.
    pub identity_confirmed: bool,
}

/// The exceptions waiting to be settled.
#[derive(Debug, Clone, Object)]
pub struct ExceptionsOut {
    pub exceptions: Vec<DeliveryExceptionOut>,
}

/// Who signed for a carrier-reported delivery.
#[derive(Debug, Clone, Object)]
pub struct IdentityIn {
    /// Checked like the recipient of `POST /api/v1/dossiers/{code}/delivery`.
    #[oai(nullable)]
    pub recipient: Option<RecipientIn>,
}

pub struct DeliveryApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Postal")]
impl DeliveryApi {
    /// Results the carrier reported delivered (`identity_confirmed: false`) whose recipient nobody has
    /// checked yet, oldest first (at most 500). Postal keys see their office's, administrators all.
    #[oai(path = "/exceptions", method = "get")]
    async fn exceptions(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<ExceptionsOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let items = domain::ops::identity::list_exceptions(&state.store.read, actor).await?;
        Ok(Json(ExceptionsOut {
            exceptions: items
                .into_iter()
                .map(|e| DeliveryExceptionOut {
                    dossier_code: e.dossier.code,
                    status: e.dossier.status.to_string(),
                    office_code: e.dossier.office_code,
                    agency_code: e.dossier.agency_code,
                    item_code: e.item_code,
                    delivered_at: e.delivered_at.map(local_time),
                    identity_confirmed: false,
                })
                .collect(),
        }))
    }

    /// Confirm who signed for a result the carrier reported delivered: the applicant (same identity
    /// document) or a proxy with `authorization_ref`. The dossier leaves the exceptions list.
    #[oai(path = "/dossiers/:code/delivery/identity", method = "post")]
    async fn confirm_identity(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: Json<IdentityIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let recipient = body
            .0
            .recipient
            .map(domain::ops::postal::RecipientRequest::from);
        domain::ops::identity::confirm_identity(&state.store, actor, &code.0, recipient.as_ref())
            .await?;
        dossier_answer(&state, actor, &code.0).await
    }
}
