//! Parcel labels: `GET /api/v1/dossiers/{code}/label` prints a parcel's label (SVG, PNG or PDF) for the
//! staff who handle it, and `GET /l/{token}` is where the label's QR code lands: the parcel for staff
//! who may see the dossier, the masked public tracking view for anyone else, and 404 for a token this
//! service did not sign.

use domain::label_token;
use domain::ops::access::Actor;
use domain::ops::labels::LabelLanding;
use entity::enums::LegDirection;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, ResponseContent, Union,
    param::{Path, Query},
    payload::{Binary, Json, PlainText},
};
use secrecy::ExposeSecret;

use super::ApiTags;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::labels;
use crate::labels::content::label_data;
use crate::state::AppState;
use crate::views::{TrackOut, track_out, wants_html};
use crate::web::session::{StaffSession, percent_encode};

/// Which parcel of the dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum LabelLeg {
    /// The dossier, on its way to the agency.
    Inbound,
    /// The result, on its way home.
    Outbound,
}

impl From<LabelLeg> for LegDirection {
    fn from(leg: LabelLeg) -> Self {
        match leg {
            LabelLeg::Inbound => LegDirection::Inbound,
            LabelLeg::Outbound => LegDirection::Outbound,
        }
    }
}

/// The file format of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum LabelFormat {
    /// For screens and further processing.
    Svg,
    /// 800 × 1200 pixels: 100 × 150 mm at 203 dpi, for thermal label printers.
    Png,
    /// One 100 × 150 mm page, text embedded.
    Pdf,
}

/// A label file.
#[derive(ResponseContent)]
pub enum LabelFile {
    #[oai(content_type = "image/svg+xml; charset=utf-8")]
    Svg(PlainText<String>),
    #[oai(content_type = "image/png")]
    Png(Binary<Vec<u8>>),
    #[oai(content_type = "application/pdf")]
    Pdf(Binary<Vec<u8>>),
}

#[derive(ApiResponse)]
enum LabelResponse {
    /// The label. It shows personal data, so it is not cached.
    #[oai(status = 200)]
    Ok(
        LabelFile,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// A parcel, as staff who may see its dossier get it by scanning the label.
#[derive(Debug, Clone, Object)]
pub struct ParcelOut {
    pub dossier_code: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    #[oai(nullable)]
    pub item_code: Option<String>,
    /// The dossier's status.
    pub status: String,
    /// The parcel's own status.
    pub leg_status: String,
}

/// Where a label's QR code lands: the parcel for entitled staff, the masked tracking view otherwise.
#[derive(Debug, Clone, Union)]
#[oai(one_of)]
pub enum LandingOut {
    Parcel(ParcelOut),
    Tracking(TrackOut),
}

/// Where a label's QR code lands.
#[derive(ApiResponse)]
enum LandingResponse {
    /// The parcel for staff entitled to it, the masked tracking view for anyone else.
    #[oai(status = 200)]
    Ok(Json<LandingOut>),
    /// A browser (`Accept: text/html`) without a staff key is sent to a page: the tracking page, or
    /// the dossier's staff page for signed-in staff entitled to it.
    #[oai(status = 303)]
    Page(#[oai(header = "Location")] String),
}

pub struct LabelApi;

#[OpenApi(tag = "ApiTags::Labels")]
impl LabelApi {
    /// A parcel's label, with the QR code, the item code (text and Code 128), the dossier code, sender,
    /// receiver, procedure and agency. For the dossier's post office, its agency, or an administrator;
    /// 409 while the parcel has no item code yet.
    #[oai(path = "/api/v1/dossiers/:code/label", method = "get")]
    #[tracing::instrument(skip_all, fields(dossier.code = %code.0))]
    async fn label(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        /// `inbound` (default) or `outbound`.
        leg: Query<Option<LabelLeg>>,
        /// `svg` (default), `png` or `pdf`.
        format: Query<Option<LabelFormat>>,
    ) -> Result<LabelResponse, ApiError> {
        if caller.0 == Actor::Public {
            return Err(ApiError::unauthorized(
                "labels are printed with a staff key: `Authorization: Bearer dk_…`",
            ));
        }
        let direction = LegDirection::from(leg.0.unwrap_or(LabelLeg::Inbound));
        let format = format.0.unwrap_or(LabelFormat::Svg);
        let record =
            domain::ops::labels::label_record(&state.store.read, &caller.0, &code.0, direction)
                .await?;
        let token = label_token::sign(state.label_key.expose_secret(), record.leg.id);
        let qr_url = format!("{}/l/{token}", state.public_base_url);
        let filename = format!(
            "nhan-{}.{}",
            file_safe(&record.item_code),
            match format {
                LabelFormat::Svg => "svg",
                LabelFormat::Png => "png",
                LabelFormat::Pdf => "pdf",
            }
        );
        let data = label_data(record, qr_url);
        let file = match format {
            LabelFormat::Svg => {
                LabelFile::Svg(PlainText(labels::render_svg(&data).map_err(internal)?))
            }
            LabelFormat::Png => LabelFile::Png(Binary(
                render_off_the_runtime(move || labels::render_png(&data)).await?,
            )),
            LabelFormat::Pdf => LabelFile::Pdf(Binary(
                render_off_the_runtime(move || labels::render_pdf(&data)).await?,
            )),
        };
        Ok(LabelResponse::Ok(
            file,
            format!("inline; filename=\"{filename}\""),
            "no-store".to_owned(),
        ))
    }

    /// Where a label's QR code lands. Staff whose key may see the dossier get the parcel; anyone else
    /// (no credentials, a citizen, other staff) gets the masked public tracking view. A token this
    /// service did not sign, or one with any character altered, is 404.
    #[oai(path = "/l/:token", method = "get")]
    async fn land(
        &self,
        req: &poem::Request,
        state: Data<&AppState>,
        caller: Caller,
        token: Path<String>,
    ) -> Result<LandingResponse, ApiError> {
        let Some(leg_id) = label_token::verify(state.label_key.expose_secret(), &token.0) else {
            return Err(ApiError::not_found("no such label"));
        };
        if wants_html(req) && !matches!(caller.0, Actor::Staff(_)) {
            let page = label_landing(&state, req, leg_id).await?;
            return Ok(LandingResponse::Page(page));
        }
        let landing = domain::ops::labels::land(&state.store.read, &caller.0, leg_id).await?;
        Ok(LandingResponse::Ok(Json(match landing {
            LabelLanding::Parcel { leg, dossier } => LandingOut::Parcel(ParcelOut {
                dossier_code: dossier.code,
                direction: leg.direction.to_string(),
                item_code: leg.item_code,
                status: dossier.status.to_string(),
                leg_status: leg.status.to_string(),
            }),
            LabelLanding::Public(record) => LandingOut::Tracking(track_out(record)),
        })))
    }
}

/// `text` with anything but ASCII letters, digits and `-` dropped, for a download's file name.
fn file_safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

pub(crate) fn internal(err: labels::LabelError) -> ApiError {
    ApiError::internal(&err)
}

/// Runs a raster or PDF rendering (milliseconds of CPU) on the blocking pool, not on the threads that
/// serve requests.
pub(crate) async fn render_off_the_runtime(
    render: impl FnOnce() -> Result<Vec<u8>, labels::LabelError> + Send + 'static,
) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(render)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(internal)
}

/// Where a browser that opened a label's QR code goes: the staff page of the dossier for signed-in
/// staff entitled to it, the public tracking page for anyone else.
async fn label_landing(
    state: &AppState,
    req: &poem::Request,
    leg_id: i64,
) -> Result<String, domain::ops::OpError> {
    let staff = StaffSession::of(req).await.ok().flatten();
    let actor = staff.map_or(Actor::Public, |s| s.actor);
    Ok(
        match domain::ops::labels::land(&state.store.read, &actor, leg_id).await? {
            LabelLanding::Parcel { dossier, .. } => {
                format!("/staff/dossiers/{}", percent_encode(&dossier.code))
            }
            LabelLanding::Public(record) => {
                format!("/t/{}", percent_encode(&record.code))
            }
        },
    )
}
