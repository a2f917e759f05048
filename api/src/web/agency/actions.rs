//! What the agency may do next with a dossier, shared by the desk and the dossier page.

use domain::lifecycle::{Action, next_status};
use entity::dossier;

/// What the agency may do next with a dossier, as the lifecycle says for its status.
#[derive(Debug, Clone)]
pub struct AgencyActions {
    pub code: String,
    pub back: String,
    pub can_verdict: bool,
    pub can_result: bool,
    pub can_collect: bool,
}

impl AgencyActions {
    /// The actions on `d`, coming back to `back`.
    pub fn of(d: &dossier::Model, back: &str) -> AgencyActions {
        let can = |action| next_status(d.service_mode, d.status, action).is_ok();
        AgencyActions {
            code: d.code.clone(),
            back: back.to_owned(),
            can_verdict: can(Action::Accept)
                || can(Action::RequestSupplement)
                || can(Action::Reject),
            can_result: can(Action::RecordResult),
            can_collect: can(Action::MarkCollected),
        }
    }
}
