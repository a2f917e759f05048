//! The change feed (API.md "Integration"): `GET /api/v1/events?after=CURSOR&limit=N`, every timeline
//! event once in commit order, for admin keys (all dossiers) and agency keys (their agency's).

use domain::ops::access::Actor;
use domain::ops::feed::{DEFAULT_LIMIT, FeedCursor, MAX_LIMIT};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// One timeline event.
#[derive(Debug, Object)]
pub struct FeedEventOut {
    /// Pass it as `after` to read on from just after this event.
    pub cursor: String,
    pub dossier_code: String,
    pub at: chrono::DateTime<chrono::FixedOffset>,
    pub kind: String,
    /// The dossier's status after the event; absent when the event did not change it.
    #[oai(nullable)]
    pub status: Option<String>,
    /// `api` | `scan` | `carrier` | `system`.
    pub source: String,
}

/// A page of the feed.
#[derive(Debug, Object)]
pub struct FeedPageOut {
    pub events: Vec<FeedEventOut>,
    /// Where the next page starts; on an empty page, the `after` that was sent (ask again later).
    pub next_cursor: String,
}

pub struct EventFeedApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Integration")]
impl EventFeedApi {
    /// The change feed: timeline events after `after` (a `next_cursor`, or nothing for the beginning),
    /// oldest commit first, at most `limit` (default 100, at most 1000). An event committed late by a
    /// slow transaction is never skipped: the feed waits for it. An agency key sees its own
    /// agency's dossiers only.
    #[oai(path = "/events", method = "get")]
    async fn events(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        after: Query<Option<String>>,
        /// Events per page, 1 to 1000.
        #[oai(validator(pattern = r"^\s*(0*([1-9][0-9]{0,2}|1000))?\s*$"))]
        limit: Query<Option<String>>,
    ) -> Result<Json<FeedPageOut>, ApiError> {
        if caller.0 == Actor::Public {
            return Err(ApiError::unauthorized(
                "send an admin or agency key: `Authorization: Bearer dk_…`",
            ));
        }
        let after_text = after.0.filter(|a| !a.trim().is_empty());
        let cursor = match &after_text {
            None => FeedCursor::START,
            Some(text) => {
                FeedCursor::decode(text).map_err(|e| ApiError::bad_request(e.to_string()))?
            }
        };
        let limit = super::page_limit(limit.0.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
        let page =
            domain::ops::feed::read_feed(&state.store.read, &caller.0, cursor, limit).await?;
        let next_cursor = match (page.events.is_empty(), after_text) {
            (true, Some(text)) => text,
            _ => page.next_cursor.encode(),
        };
        Ok(Json(FeedPageOut {
            events: page
                .events
                .into_iter()
                .map(|e| FeedEventOut {
                    cursor: e.cursor.encode(),
                    dossier_code: e.dossier_code,
                    at: local_time(e.at),
                    kind: e.kind.as_str().to_owned(),
                    status: e.status.map(|s| s.as_str().to_owned()),
                    source: e.source.as_str().to_owned(),
                })
                .collect(),
            next_cursor,
        }))
    }
}
