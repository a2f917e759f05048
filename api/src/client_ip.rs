//! The client address of each request, made known to the audit trail: every audit row written while
//! serving the request names it (see `domain::ops::audit::CLIENT_IP`). The address is the socket's peer.

use poem::{Endpoint, IntoResponse, Request, Response, Result};

/// Runs `next` with the request's peer address in scope for audit rows.
pub async fn scope<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let ip = match req.data::<crate::state::AppState>() {
        Some(state) => state.guards.rate_limits.client_of(&req),
        None => req
            .remote_addr()
            .as_socket_addr()
            .map(|addr| addr.ip().to_canonical()),
    };
    domain::ops::audit::CLIENT_IP
        .scope(ip, async move {
            next.call(req).await.map(IntoResponse::into_response)
        })
        .await
}
