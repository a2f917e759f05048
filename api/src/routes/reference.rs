//! Public reads of reference data: agencies, procedures with their document lists, post offices.

use poem::IntoResponse;
use poem::web::Data;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Query,
    payload::{Json, Payload},
};

use super::ApiTags;
use crate::error::ApiError;
use crate::state::AppState;

/// A government agency with a one-stop desk.
#[derive(Debug, Object)]
pub struct AgencyOut {
    pub code: String,
    pub name: String,
    pub province_code: String,
    pub province_name: String,
    pub ward_code: String,
    pub ward_name: String,
    pub address: String,
}

/// A document on a procedure's published list.
#[derive(Debug, Object)]
pub struct ProcedureDocumentOut {
    /// The code a pickup request may name it by.
    pub code: String,
    pub name: String,
    pub original_required: bool,
    /// Whether every pickup request must include it.
    pub required: bool,
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
    pub province_name: String,
    pub ward_code: String,
    pub ward_name: String,
}

/// A province or centrally run city of the map in force since 1 July 2025.
#[derive(Debug, Object)]
pub struct ProvinceOut {
    /// The statistics office's code, 2 digits, e.g. `01`.
    pub code: String,
    pub name: String,
    pub wards: Vec<WardOut>,
}

/// A ward or commune.
#[derive(Debug, Object)]
pub struct WardOut {
    /// The statistics office's code, 5 digits, e.g. `00070`.
    pub code: String,
    pub name: String,
}

/// The official province name of a code, empty for a code the map does not know.
pub(crate) fn province_name(code: &str) -> String {
    domain::divisions::province_name(code)
        .unwrap_or_default()
        .to_owned()
}

/// The official ward or commune name of a code, empty for a code the map does not know.
pub(crate) fn ward_name(code: &str) -> String {
    domain::divisions::ward_name(code)
        .unwrap_or_default()
        .to_owned()
}

/// The administrative map as shipped, served as it is: it never changes while the process runs, so
/// it is neither rebuilt nor re-serialised per request, and caches may keep it for a day.
pub struct DivisionsBody;

impl Payload for DivisionsBody {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        <Vec<ProvinceOut> as Type>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <Vec<ProvinceOut> as Type>::register(registry);
    }
}

impl IntoResponse for DivisionsBody {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .header(poem::http::header::CACHE_CONTROL, "public, max-age=86400")
            .body(domain::divisions::DIVISIONS_JSON)
    }
}

#[derive(ApiResponse)]
enum DivisionsResponse {
    /// The provinces and their wards and communes.
    #[oai(status = 200)]
    Ok(DivisionsBody),
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
                    province_name: province_name(&a.province_code),
                    ward_name: ward_name(&a.ward_code),
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
                            code: d.code,
                            name: d.name,
                            original_required: d.original_required,
                            required: d.required,
                        })
                        .collect(),
                })
                .collect(),
        ))
    }

    /// The administrative map in force since 1 July 2025: the 34 provinces with their wards and
    /// communes, by the statistics office's codes.
    #[oai(path = "/divisions", method = "get")]
    async fn divisions(&self) -> DivisionsResponse {
        DivisionsResponse::Ok(DivisionsBody)
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
                    province_name: province_name(&o.province_code),
                    ward_name: ward_name(&o.ward_code),
                    province_code: o.province_code,
                    ward_code: o.ward_code,
                })
                .collect(),
        ))
    }
}
