//! The public tracking view, kept in memory between reads on SQLite.
//!
//! Tracking is the busiest read: citizens and their families reload it, and every label's QR code
//! lands on it. On SQLite each query hops to a driver thread and back, so even the one statement that
//! reads a view costs more than the rest of the request. The masked view (no personal data) is kept here,
//! tagged with the store's [`WriteGeneration`] noted before it was read: any commit of this process
//! makes every entry stale at once, so a citizen never sees an answer older than their own last
//! action. Writers in other processes (a separate `dossier worker` on the same SQLite file) are not
//! counted, so no entry is served once it is older than [`MAX_AGE`].
//!
//! On PostgreSQL there is no cache: many processes write, and the database answers fast enough.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::store::{Store, WriteGeneration};

use crate::views::TrackOut;

/// The oldest answer served, for changes written by other processes.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Views kept at most (a view is well under a kilobyte).
const CAPACITY: usize = 4096;

/// Codes longer than this are not real codes; they are not kept.
const MAX_KEY_LEN: usize = 32;

#[derive(Clone)]
struct Entry {
    generation: u64,
    filled: Instant,
    view: Arc<TrackOut>,
}

/// Tracking views by the code they were asked for (dossier code or item code).
#[derive(Clone)]
pub struct TrackCache {
    generation: Option<Arc<WriteGeneration>>,
    views: Arc<quick_cache::sync::Cache<String, Entry>>,
}

impl TrackCache {
    /// A cache for `store`: active on SQLite unless `enabled` is false, a pass-through on
    /// PostgreSQL.
    pub fn for_store(store: &Store, enabled: bool) -> Self {
        Self {
            generation: store.write_generation.clone().filter(|_| enabled),
            views: Arc::new(quick_cache::sync::Cache::new(CAPACITY)),
        }
    }

    /// The mark to note before reading the view from the database; `None` when nothing is cached.
    pub fn mark(&self) -> Option<u64> {
        self.generation.as_ref().map(|g| g.current())
    }

    /// The kept view of `code`, if nothing was committed since it was read and it is fresh enough.
    pub fn get(&self, code: &str) -> Option<Arc<TrackOut>> {
        let current = self.mark()?;
        let entry = self.views.get(code)?;
        (entry.generation == current && entry.filled.elapsed() < MAX_AGE).then_some(entry.view)
    }

    /// Keeps `view` of `code`, read after [`Self::mark`] returned `mark`.
    pub fn put(&self, code: &str, mark: Option<u64>, view: Arc<TrackOut>) {
        let Some(generation) = mark else { return };
        if code.len() > MAX_KEY_LEN {
            return;
        }
        self.views.insert(
            code.to_owned(),
            Entry {
                generation,
                filled: Instant::now(),
                view,
            },
        );
    }
}
