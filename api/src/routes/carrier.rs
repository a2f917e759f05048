//! Carrier push (CARRIER.md "Push"): the carrier POSTs tracking records to us as they happen. The body
//! is verified against `X-Dossier-Signature` (HMAC-SHA256 of the raw bytes, keyed with
//! `carrier.webhook_secret`, compared in constant time) before anything is parsed or stored, and the
//! records go through the same ingest as the polled feed, so a pushed and a polled copy are one event.
//! A record that cannot be read is kept for administrators (as the feed's are) and the others go on:
//! one bad record neither loses nor holds back the rest of the push.

use domain::ops::carrier_ingest::{self, CarrierRecord, ReceivedVia, UnreadableRecord};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Header,
    payload::{Binary, Json},
};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::ApiTags;
use crate::error::ApiError;
use crate::state::AppState;

pub use crate::limits::MAX_PUSH_RECORDS;

/// A push body: `{"content": [record, …]}`, each record read on its own.
#[derive(Deserialize)]
struct PushBody {
    content: Vec<serde_json::Value>,
}

/// What a push did.
#[derive(Debug, Object)]
pub struct CarrierPushOut {
    /// Records stored for the first time.
    pub new: u64,
    /// Records already stored (pushed or polled before): nothing changed.
    pub duplicates: u64,
    /// New records of items this service does not know, kept for staff to reconcile.
    pub unknown_items: u64,
    /// Records that could not be read, kept for administrators (`GET /api/v1/admin/carrier/unreadable`).
    pub unreadable: u64,
}

#[derive(ApiResponse)]
enum PushResponse {
    /// Stored (or recognised as already stored).
    #[oai(status = 200)]
    Ok(Json<CarrierPushOut>),
}

pub struct CarrierApi;

#[OpenApi(prefix_path = "/api/v1/carrier", tag = "ApiTags::Integration")]
impl CarrierApi {
    /// The carrier pushes tracking records (CARRIER.md). Signed `X-Dossier-Signature: sha256=<hex
    /// HMAC-SHA256 of the raw body keyed with the carrier secret>`; a missing or wrong signature is 401
    /// and nothing is stored. 404 when this service has no carrier secret configured.
    #[oai(path = "/events", method = "post")]
    async fn push(
        &self,
        state: Data<&AppState>,
        #[oai(name = "X-Dossier-Signature")] signature: Header<Option<String>>,
        body: Binary<Vec<u8>>,
    ) -> Result<PushResponse, ApiError> {
        let Some(key) = state.carrier_push_key.as_ref() else {
            return Err(ApiError::not_found(
                "carrier push is not enabled on this service",
            ));
        };
        if !carrier_ingest::verify_push_signature(
            key.expose_secret(),
            &body.0,
            signature.0.as_deref(),
        ) {
            return Err(ApiError::unauthorized(
                "missing or wrong `X-Dossier-Signature`",
            ));
        }
        let push: PushBody = serde_json::from_slice(&body.0).map_err(|e| {
            ApiError::bad_request(format!(
                "the body is not `{{\"content\": [record, …]}}`: {e}"
            ))
        })?;
        if push.content.len() > MAX_PUSH_RECORDS {
            return Err(ApiError::PayloadTooLarge(Json(
                crate::error::ErrorEnvelope {
                    error: crate::error::ErrorBody {
                        code: "payload_too_large".into(),
                        message: format!(
                            "a push carries at most {MAX_PUSH_RECORDS} records; send the rest in \
                         another push"
                        ),
                        details: Vec::new(),
                    },
                },
            )));
        }
        let mut records = Vec::with_capacity(push.content.len());
        let mut unreadable = Vec::new();
        for raw in push.content {
            match CarrierRecord::deserialize(&raw) {
                Ok(record) => records.push(record),
                Err(error) => unreadable.push(UnreadableRecord::new(raw, error.to_string())),
            }
        }
        let report =
            carrier_ingest::ingest(&state.store, &records, &unreadable, ReceivedVia::Push).await?;
        tracing::info!(
            carrier.new = report.new,
            carrier.duplicates = report.duplicates,
            carrier.unknown_items = report.unknown_items,
            carrier.unreadable = unreadable.len(),
            "carrier push ingested"
        );
        Ok(PushResponse::Ok(Json(CarrierPushOut {
            new: report.new,
            duplicates: report.duplicates,
            unknown_items: report.unknown_items,
            unreadable: report.unreadable,
        })))
    }
}
