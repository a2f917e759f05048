//! Serving connections (what poem's `Server` does), with the connection timeouts of API.md:
//!
//! - a request's headers must be complete within `server.header_timeout_secs` of its first byte (of
//!   the connection's opening, for the first request), else the connection is closed
//!   ([`HeaderDeadline`]);
//! - an idle keep-alive connection is closed after [`IDLE_KEEP_ALIVE`] (hyper's HTTP/1
//!   `header_read_timeout`, which hyper starts whenever it waits for a request, and which needs a
//!   timer that poem 3 does not give it);
//! - the body's own deadline is [`crate::limits::BODY_TIMEOUT`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
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
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(IDLE_KEEP_ALIVE)
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
        let (stream, requests) = HeaderDeadline::new(stream, header_timeout);
        let service = hyper::service::service_fn(move |req: poem::http::Request<Incoming>| {
            let ep = ep.clone();
            let _in_service = requests.begin();
            async move {
                let _in_service = _in_service;
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

/// The requests of one connection as its [`HeaderDeadline`] sees them: how many began (their
/// headers were complete) and how many are being answered.
#[derive(Default)]
struct RequestCount {
    begun: AtomicU64,
    in_service: AtomicU64,
}

/// Marks a request as being answered while it lives.
struct InService(Arc<RequestCount>);

impl Drop for InService {
    fn drop(&mut self) {
        self.0.in_service.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Shared between a connection's reader and its service.
#[derive(Clone)]
struct Requests(Arc<RequestCount>);

impl Requests {
    /// A request's headers are complete: its deadline is met; it is answered until the guard drops.
    fn begin(&self) -> InService {
        self.0.in_service.fetch_add(1, Ordering::AcqRel);
        self.0.begun.fetch_add(1, Ordering::AcqRel);
        InService(self.0.clone())
    }
}

/// A connection's socket that fails its reads once a request's headers have taken longer than the
/// header timeout: the clock starts at the connection's opening and, later, at the first byte that
/// arrives while no request is being answered, and stops when the request's headers are complete
/// (hyper calls the service). hyper then closes the connection.
struct HeaderDeadline {
    io: tokio::net::TcpStream,
    timeout: Duration,
    requests: Requests,
    /// The running clock, and how many requests had begun when it started.
    deadline: Option<(Pin<Box<tokio::time::Sleep>>, u64)>,
}

impl HeaderDeadline {
    fn new(io: tokio::net::TcpStream, timeout: Duration) -> (Self, Requests) {
        let requests = Requests(Arc::default());
        let deadline = Some((Box::pin(tokio::time::sleep(timeout)), 0));
        (
            Self {
                io,
                timeout,
                requests: requests.clone(),
                deadline,
            },
            requests,
        )
    }
}

impl tokio::io::AsyncRead for HeaderDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let begun = this.requests.0.begun.load(Ordering::Acquire);
        if this.deadline.as_ref().is_some_and(|(_, at)| *at != begun) {
            this.deadline = None;
        }
        if let Some((sleep, _)) = this.deadline.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request's headers did not arrive in time",
            )));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        let idle = this.requests.0.in_service.load(Ordering::Acquire) == 0;
        if this.deadline.is_none() && idle && buf.filled().len() > before {
            let mut sleep = Box::pin(tokio::time::sleep(this.timeout));
            // Registers the wake-up at the deadline.
            let _ = sleep.as_mut().poll(cx);
            this.deadline = Some((sleep, begun));
        }
        read
    }
}

impl tokio::io::AsyncWrite for HeaderDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
