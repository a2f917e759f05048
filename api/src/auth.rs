//! Credentials: `Authorization: Bearer dk_…` (API keys of staff and machines) or `Bearer dt_…` (a citizen's
//! access token). No header means the public. A header that is present but not recognised is 401,
//! never silently treated as public.

use domain::ops::access::{Actor, authenticate};
use poem::{FromRequest, Request, RequestBody, http::StatusCode};

use crate::state::AppState;

/// The party behind the request, as a handler argument.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl<'a> FromRequest<'a> for Caller {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let Some(header) = req.headers().get(poem::http::header::AUTHORIZATION) else {
            return Ok(Caller(Actor::Public));
        };
        let unauthorized = |msg: &str| poem::Error::from_string(msg, StatusCode::UNAUTHORIZED);
        let value = header
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not readable"))?;
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(unauthorized(
                "use `Authorization: Bearer <key or access token>`",
            ));
        };
        let state = req
            .data::<AppState>()
            .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
        match authenticate(&state.store.read, token).await {
            Ok(Ok(actor)) => {
                note_use(state, &actor);
                Ok(Caller(actor))
            }
            Ok(Err(_)) => Err(unauthorized("the credentials are not recognised")),
            Err(err) => {
                tracing::error!(error.cause = %err, "credential lookup failed");
                Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))
            }
        }
    }
}

/// Notes in the background that a staff key was used, at most once a minute per key (the key's row
/// says when it was last noted), so that requests never wait on it nor add a write each.
pub fn note_use(state: &AppState, actor: &Actor) {
    if let Actor::Staff(key) = actor
        && key.use_worth_noting()
    {
        let store = state.store.clone();
        let id = key.key_id;
        tokio::spawn(async move {
            if let Err(err) = domain::ops::keys::touch_last_used(&store.write, id).await {
                tracing::warn!(error.cause = %err, api_key.id = id, "noting a key's last use failed");
            }
        });
    }
}
