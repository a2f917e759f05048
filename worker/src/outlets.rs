//! Delivering the outbox rows of the outside systems of INTEGRATIONS.md: a citizen notice to the
//! applicant's phone (Zalo ZNS, and SMS when ZNS refuses the phone or is not configured), and a call
//! to the national portal. The dossier's facts, the phone number and the applicant's name among them,
//! are read here, when the row is sent; they are never logged nor stored in an error.

use domain::notify::{
    local_date, phone_international, portal_time, sms_text, status_words, tracking_link,
};
use domain::ops::integrations::{self, PhoneNoticePayload, PortalCallPayload, PortalService};
use domain::ops::outbox as queue;
use domain::store::Store;
use entity::{dossier, outbox};
use serde_json::json;

use crate::portal::PortalClient;
use crate::sms::SmsClient;
use crate::zalo::{ZaloClient, ZnsOutcome};

/// The channels to the applicant's phone this worker has.
#[derive(Debug, Default)]
pub struct PhoneChannels {
    pub zns: Option<ZaloClient>,
    pub sms: Option<SmsClient>,
}

impl PhoneChannels {
    /// Whether any channel is configured.
    pub fn any(&self) -> bool {
        self.zns.is_some() || self.sms.is_some()
    }
}

/// Why a row was not delivered; `permanent` when retrying cannot help.
#[derive(Debug)]
pub struct NotDelivered {
    pub error: String,
    pub permanent: bool,
}

fn retry(error: impl Into<String>) -> NotDelivered {
    NotDelivered {
        error: error.into(),
        permanent: false,
    }
}

fn give_up(error: impl Into<String>) -> NotDelivered {
    NotDelivered {
        error: error.into(),
        permanent: true,
    }
}

async fn dossier_of(store: &Store, row: &outbox::Model) -> Result<dossier::Model, NotDelivered> {
    let id = row
        .dossier_id
        .ok_or_else(|| give_up("the row names no dossier"))?;
    integrations::dossier_to_send(&store.read, id)
        .await
        .map_err(|e| retry(format!("reading the dossier failed: {e}")))?
        .ok_or_else(|| give_up("the dossier is gone"))
}

/// Sends one phone notice: by ZNS, or by SMS once ZNS refused the phone or could not be used because
/// Zalo refused the refresh token (remembered in the row, so a later attempt never sends it by ZNS
/// again) or when ZNS is not configured. Returns the channel used.
pub async fn deliver_phone_notice(
    store: &Store,
    channels: &PhoneChannels,
    worker_id: &str,
    public_base_url: &str,
    row: &outbox::Model,
) -> Result<&'static str, NotDelivered> {
    let mut payload: PhoneNoticePayload = serde_json::from_value(row.payload.clone())
        .map_err(|_| give_up("the payload is unreadable"))?;
    let dossier = dossier_of(store, row).await?;
    let phone = domain::contact::normalize_phone(&dossier.applicant_phone)
        .map_err(|_| give_up("the applicant's phone is not a valid number"))?;
    let link = tracking_link(public_base_url, &dossier.code);
    let message_id = row.id.to_string();
    if let Some(zns) = &channels.zns
        && !payload.zns_refused
    {
        let data = json!({
            "dossier_code": dossier.code,
            "status_text": payload.topic.words(),
            "tracking_url": link,
            "due_date": dossier.result_due_at.map(local_date).unwrap_or_default(),
        });
        match zns
            .send(store, &phone_international(&phone), &message_id, data)
            .await
        {
            Ok(ZnsOutcome::Sent(_)) => return Ok("zns"),
            Ok(refusal) => {
                let why = match &refusal {
                    ZnsOutcome::Refused { error, .. } => {
                        format!("ZNS refused the phone (error {error})")
                    }
                    ZnsOutcome::Unavailable(error) => format!("ZNS cannot be used: {error}"),
                    ZnsOutcome::Sent(_) => String::new(),
                };
                if channels.sms.is_none() {
                    // Without SMS, a notice ZNS cannot take now is tried again (a new refresh token
                    // may be configured meanwhile); one refused for its phone never will be.
                    return Err(match refusal {
                        ZnsOutcome::Unavailable(_) => {
                            retry(format!("{why} and no SMS gateway is configured"))
                        }
                        _ => give_up(format!("{why} and no SMS gateway is configured")),
                    });
                }
                payload.zns_refused = true;
                let json =
                    serde_json::to_value(&payload).map_err(|e| retry(format!("payload: {e}")))?;
                match queue::update_payload(store, row.id, worker_id, json).await {
                    Ok(true) => {}
                    Ok(false) => return Err(retry("the row is no longer held by this worker")),
                    Err(e) => return Err(retry(format!("recording the ZNS refusal failed: {e}"))),
                }
                tracing::info!(
                    outbox.id = row.id,
                    zns.refusal = %why,
                    "ZNS did not take the notice; it goes by SMS"
                );
            }
            Err(error) => return Err(retry(error)),
        }
    }
    let Some(sms) = &channels.sms else {
        return Err(retry("this worker has no phone channel configured"));
    };
    let text = sms_text(&dossier.code, payload.topic, &link);
    sms.send(&phone, &text, &message_id)
        .await
        .map(|_| "sms")
        .map_err(retry)
}

/// Makes one portal call.
pub async fn deliver_portal_call(
    store: &Store,
    portal: &PortalClient,
    row: &outbox::Model,
) -> Result<&'static str, NotDelivered> {
    let payload: PortalCallPayload = serde_json::from_value(row.payload.clone())
        .map_err(|_| give_up("the payload is unreadable"))?;
    let dossier = dossier_of(store, row).await?;
    let agency = integrations::agency_to_send(&store.read, &dossier.agency_code)
        .await
        .map_err(|e| retry(format!("reading the agency failed: {e}")))?
        .ok_or_else(|| give_up("the dossier's agency is gone"))?;
    let madonvi = agency
        .portal_unit_code
        .clone()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| agency.code.clone());
    let data = match payload.service {
        PortalService::DongBoHoSoMC => {
            let procedure_name =
                integrations::procedure_to_send(&store.read, &dossier.procedure_code)
                    .await
                    .map_err(|e| retry(format!("reading the procedure failed: {e}")))?
                    .map(|p| p.name)
                    .unwrap_or_default();
            json!([{
                "MaHoSo": dossier.code,
                "MaTTHC": dossier.procedure_code,
                "TenTTHC": procedure_name,
                "ChuHoSo": dossier.applicant_full_name,
                "NgayTiepNhan": portal_time(dossier.filed_at.unwrap_or(payload.at)),
                "NgayHenTra": dossier.result_due_at.map(portal_time).unwrap_or_default(),
                "TrangThaiHoSo": payload.portal_status,
                "HinhThuc": 1,
            }])
        }
        PortalService::CapNhatTienDoHoSoMC => json!([{
            "MaHoSo": dossier.code,
            "TrangThaiHoSo": payload.portal_status,
            "NguoiXuLy": agency.name,
            "ThoiDiemXuLy": portal_time(payload.at),
            "NoiDungXuLy": status_words(payload.status).0,
        }]),
    };
    portal
        .call(
            payload.service.as_str(),
            &madonvi,
            data,
            &row.id.to_string(),
        )
        .await
        .map(|()| payload.service.as_str())
        .map_err(retry)
}
