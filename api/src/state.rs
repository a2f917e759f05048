//! What every handler shares: the store and the settings it needs.

use std::sync::Arc;

use domain::store::Store;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The address people reach the service at, for links (tracking URLs, label QR codes).
    pub public_base_url: Arc<str>,
}
