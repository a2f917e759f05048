//! Today's pickups: book, record, print labels. A supplement waiting for its pickup has a card of its
//! own: its stage (requested, scheduled, failed), what to collect where, and its parcel's actions.

use askama::Template;
use chrono::Utc;
use domain::ops::OpError;
use entity::enums::DossierStatus;
use poem::web::Data;
use poem::{Request, Response, handler};

use super::cards::{DossierCard, PostalActions, card, supplement_card};
use crate::state::AppState;
use crate::web::i18n::{Lang, local_time};
use crate::web::page::{Answer, Chrome};
use crate::web::session::StaffSession;

/// Today's pickups.
#[derive(Template)]
#[template(path = "staff/pickups.html")]
pub struct PickupsPage {
    pub c: Chrome,
    pub today: Vec<DossierCard>,
    pub open: Vec<DossierCard>,
    pub picked_up: Vec<DossierCard>,
}

/// `GET /staff/pickups`: the office's pickups still to make (booked for today first), and the parcels
/// picked up and waiting to leave, with their labels.
#[handler]
pub async fn pickups(req: &Request, state: Data<&AppState>, staff: StaffSession) -> Response {
    let lang = Lang::of(req);
    let result: Result<PickupsPage, OpError> = async {
        let conn = &state.store.read;
        let open = domain::ops::postal::list_pickups(conn, &staff.actor, None).await?;
        let picked =
            domain::ops::postal::list_pickups(conn, &staff.actor, Some(DossierStatus::PickedUp))
                .await?;
        let today = domain::sla::local_date(Utc::now());
        let mut today_cards = Vec::new();
        let mut open_cards = Vec::new();
        for item in &open {
            let when = item
                .appointment
                .as_ref()
                .map(|a| {
                    format!(
                        "{} · {}",
                        a.date.format("%d/%m/%Y"),
                        match a.pickup_window {
                            entity::enums::PickupWindow::Morning => lang.t("buổi sáng", "morning"),
                            entity::enums::PickupWindow::Afternoon => {
                                lang.t("buổi chiều", "afternoon")
                            }
                        }
                    )
                })
                .unwrap_or_else(|| {
                    format!(
                        "{} {}",
                        lang.t("Yêu cầu lúc", "Requested"),
                        local_time(item.dossier.created_at)
                    )
                });
            let c = match (&item.supplement, &item.parcel) {
                (Some(supplement), Some(parcel)) => supplement_card(
                    lang,
                    &item.dossier,
                    supplement,
                    parcel,
                    when,
                    "/staff/pickups",
                ),
                _ => card(lang, &item.dossier, when, "/staff/pickups"),
            };
            if item.appointment.as_ref().is_some_and(|a| a.date == today) {
                today_cards.push(c);
            } else {
                open_cards.push(c);
            }
        }
        let ids: Vec<i64> = picked.iter().map(|p| p.dossier.id).collect();
        let legs = domain::ops::postal::legs_with_codes(&state.store.read, &ids).await?;
        let picked_up = picked
            .iter()
            .map(|p| {
                let mut c = card(
                    lang,
                    &p.dossier,
                    local_time(p.dossier.updated_at),
                    "/staff/pickups",
                );
                c.actions = PostalActions::of(
                    lang,
                    &p.dossier,
                    legs.get(&p.dossier.id).map_or(&[][..], Vec::as_slice),
                    "/staff/pickups",
                );
                c
            })
            .collect();
        Ok(PickupsPage {
            c: Chrome::staff(req, &staff),
            today: today_cards,
            open: open_cards,
            picked_up,
        })
    }
    .await;
    Answer::staff(&state, req, &staff).page(result)
}
