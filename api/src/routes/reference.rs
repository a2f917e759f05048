//! Public reads of reference data: agencies, procedures with their document lists, post offices.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use super::ApiTags;
use crate::error::ApiError;
use crate::state::AppState;

/// A government agency with a one-stop desk.
#[derive(Debug, Object)]
pub struct AgencyOut {
    pub code: String,
    pub name: String,
    pub province_code: String,
    pub ward_code: String,
    pub address: String,
}

/// A document on a procedure's published list.
#[derive(Debug, Object)]
pub struct ProcedureDocumentOut {
    pub name: String,
    pub original_required: bool,
}

/// An administrative procedure.
#[derive(Debug, Object)]
pub struct ProcedureOut {
    /// National code, e.g. `1.001193`.
    pub code: String,
    pub name: String,
    pub admin_fee_vnd: i64,
    /// Working days the agency has to rule.
    pub processing_days: i32,
    pub documents: Vec<ProcedureDocumentOut>,
}

/// A post office.
#[derive(Debug, Object)]
pub struct OfficeOut {
    pub code: String,
    pub name: String,
    pub province_code: String,
    pub ward_code: String,
}

pub struct ReferenceApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Reference")]
impl ReferenceApi {
    /// Agencies that receive dossiers by post.
    #[oai(path = "/agencies", method = "get")]
    async fn agencies(&self, state: Data<&AppState>) -> Result<Json<Vec<AgencyOut>>, ApiError> {
        let agencies = domain::ops::reference::list_agencies(&state.store.read).await?;
        Ok(Json(
            agencies
                .into_iter()
                .map(|a| AgencyOut {
                    code: a.code,
                    name: a.name,
                    province_code: a.province_code,
                    ward_code: a.ward_code,
                    address: a.address,
                })
                .collect(),
        ))
    }

    /// Procedures and their document lists; only those an agency handles with `?agency=CODE`.
    #[oai(path = "/procedures", method = "get")]
    async fn procedures(
        &self,
        state: Data<&AppState>,
        agency: Query<Option<String>>,
    ) -> Result<Json<Vec<ProcedureOut>>, ApiError> {
        let procedures =
            domain::ops::reference::list_procedures(&state.store.read, agency.0.as_deref()).await?;
        Ok(Json(
            procedures
                .into_iter()
                .map(|p| ProcedureOut {
                    code: p.procedure.code,
                    name: p.procedure.name,
                    admin_fee_vnd: p.procedure.admin_fee_vnd,
                    processing_days: p.procedure.processing_days,
                    documents: p
                        .documents
                        .into_iter()
                        .map(|d| ProcedureDocumentOut {
                            name: d.name,
                            original_required: d.original_required,
                        })
                        .collect(),
                })
                .collect(),
        ))
    }

    /// Post offices.
    #[oai(path = "/offices", method = "get")]
    async fn offices(&self, state: Data<&AppState>) -> Result<Json<Vec<OfficeOut>>, ApiError> {
        let offices = domain::ops::reference::list_offices(&state.store.read).await?;
        Ok(Json(
            offices
                .into_iter()
                .map(|o| OfficeOut {
                    code: o.code,
                    name: o.name,
                    province_code: o.province_code,
                    ward_code: o.ward_code,
                })
                .collect(),
        ))
    }
}
