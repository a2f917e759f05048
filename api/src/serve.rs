//! Serving connections (what poem's `Server` does), with the connection timeouts of API.md: a
//! connection whose request headers are not complete within `server.header_timeout_secs` is closed
//! (hyper's HTTP/1 `header_read_timeout`, which needs a timer that poem 3 does not give it). hyper
//! starts that timer whenever it waits for a request's headers, including between the requests of a
//! keep-alive connection, so an idle keep-alive connection is closed after the same time — well
//! within [`IDLE_KEEP_ALIVE`]. The body's own deadline is [`crate::limits::BODY_TIMEOUT`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt, IntoEndpoint};

/// The longest an idle keep-alive connection is kept open.
pub const IDLE_KEEP_ALIVE: Duration = Duration::from_secs(60);

/// Serves `ep` on `listener` until `shutdown` resolves, then lets the requests in flight finish
/// for up to `grace`.
pub async fn serve<E>(
    listener: tokio::net::TcpListener,
    ep: E,
    header_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send,
    grace: Duration,
) -> std::io::Result<()>
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let ep = Arc::new(ep.into_endpoint().map_to_response());
    let local: SocketAddr = listener.local_addr()?;
    let header_timeout = header_timeout.min(IDLE_KEEP_ALIVE);
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error.cause = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let ep = ep.clone();
        let service = hyper::service::service_fn(move |req: poem::http::Request<Incoming>| {
            let ep = ep.clone();
            async move {
                let req = poem::Request::from((
                    req,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(peer)),
                    poem::http::uri::Scheme::HTTP,
                ));
                let response = ep.get_response(req).await;
                Ok::<_, Infallible>(poem::http::Response::from(response))
            }
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("requests still in flight when the grace period ended");
    }
    Ok(())
}
