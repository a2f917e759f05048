//! Results out for delivery to the citizens.

use askama::Template;
use domain::ops::OpError;
use entity::enums::DossierStatus;
use poem::web::Data;
use poem::{Request, Response, handler};

use super::cards::{DossierCard, PostalActions, card};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::page::{Answer, Chrome};
use crate::web::session::StaffSession;

/// Results to deliver.
#[derive(Template)]
#[template(path = "staff/deliveries.html")]
pub struct DeliveriesPage {
    pub c: Chrome,
    pub cards: Vec<DossierCard>,
}

/// `GET /staff/deliveries`: the office's results with the post, out for delivery, or after a failed
/// attempt, each with the delivery form.
#[handler]
pub async fn deliveries(req: &Request, state: Data<&AppState>, staff: StaffSession) -> Response {
    let lang = Lang::of(req);
    let result: Result<DeliveriesPage, OpError> = async {
        let conn = &state.store.read;
        let mut dossiers = Vec::new();
        for status in [
            DossierStatus::ResultWithPost,
            DossierStatus::OutForDelivery,
            DossierStatus::DeliveryFailed,
        ] {
            dossiers.extend(
                domain::ops::postal::list_pickups(conn, &staff.actor, Some(status))
                    .await?
                    .into_iter()
                    .map(|p| p.dossier),
            );
        }
        let ids: Vec<i64> = dossiers.iter().map(|d| d.id).collect();
        let legs = domain::ops::postal::legs_with_codes(&state.store.read, &ids).await?;
        let cards = dossiers
            .iter()
            .map(|d| {
                let mut c = card(lang, d, String::new(), "/staff/deliveries");
                c.actions = PostalActions::of(
                    lang,
                    d,
                    legs.get(&d.id).map_or(&[][..], Vec::as_slice),
                    "/staff/deliveries",
                );
                c
            })
            .collect();
        Ok(DeliveriesPage {
            c: Chrome::staff(req, &staff),
            cards,
        })
    }
    .await;
    Answer::staff(&state, req, &staff).page(result)
}
