//! Serving connections (what poem's `Server` does), with the connection timeouts of API.md:
//!
//! - a request's headers must be complete within `server.header_timeout_secs` of its first byte (of
//!   the connection's opening, for the first request), else the connection is closed
//!   ([`HeaderDeadline`]);
//! - an idle keep-alive connection is closed after [`IDLE_KEEP_ALIVE`] of its last write or of the
//!   moment it went idle (also [`HeaderDeadline`]);
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

use tokio::time::Instant;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
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
    // Both of a connection's clocks are [`HeaderDeadline`]'s: hyper keeps none of its own.
    builder.http1().header_read_timeout(None).keep_alive(true);
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
        let (stream, requests) = HeaderDeadline::new(stream, header_timeout, IDLE_KEEP_ALIVE);
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

/// A connection's socket with the connection's two clocks, which fail its reads when they run out
/// (hyper then closes the connection):
/// - the header clock: a request's headers must be complete within the header timeout of the
///   connection's opening (the first request) or of the first byte that arrives while no request is
///   being answered; it stops when hyper calls the service;
/// - the idle clock: a connection waiting for its next request is closed after [`IDLE_KEEP_ALIVE`]
///   of its last write or of the moment it went idle.
///
/// The clocks share one timer for the connection's life. A request costs no timer of its own: a
/// clock that runs out later than the timer is set for only moves the timer's deadline on (an
/// atomic store in tokio), and the timer is set earlier only when a request's headers arrive in
/// pieces. A timer registered per request costs a lock and, being the runtime's earliest, a wake-up
/// of whichever thread waits on the timers.
struct HeaderDeadline {
    io: tokio::net::TcpStream,
    header_timeout: Duration,
    idle_timeout: Duration,
    requests: Requests,
    clock: Clock,
    timer: Pin<Box<tokio::time::Sleep>>,
}

/// Which of a connection's clocks runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// A request's headers are arriving: due at `due` unless more than `begun` requests have begun.
    Headers { due: Instant, begun: u64 },
    /// Waiting for the next request.
    Idle { due: Instant },
    /// A request is being answered or its answer written: no clock.
    Busy,
}

impl Clock {
    fn due(self) -> Option<Instant> {
        match self {
            Clock::Headers { due, .. } | Clock::Idle { due } => Some(due),
            Clock::Busy => None,
        }
    }
}

impl HeaderDeadline {
    fn new(
        io: tokio::net::TcpStream,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> (Self, Requests) {
        let requests = Requests(Arc::default());
        let due = Instant::now() + header_timeout;
        (
            Self {
                io,
                header_timeout,
                idle_timeout,
                requests: requests.clone(),
                clock: Clock::Headers { due, begun: 0 },
                timer: Box::pin(tokio::time::sleep_until(due)),
            },
            requests,
        )
    }

    /// The clock before a read: the header clock stops once its request has begun; the idle clock
    /// starts once no request is being answered.
    fn clock_before_read(&mut self, now: Instant) -> Clock {
        let counts = &self.requests.0;
        if let Clock::Headers { begun, .. } = self.clock
            && counts.begun.load(Ordering::Acquire) != begun
        {
            self.clock = Clock::Busy;
        }
        if self.clock == Clock::Busy && counts.in_service.load(Ordering::Acquire) == 0 {
            self.clock = Clock::Idle {
                due: now + self.idle_timeout,
            };
        }
        self.clock
    }

    /// An answer is being written: the idle clock starts again at the next read.
    fn wrote(&mut self) {
        if let Clock::Idle { .. } = self.clock {
            self.clock = Clock::Busy;
        }
    }
}

impl tokio::io::AsyncRead for HeaderDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let now = Instant::now();
        let clock = this.clock_before_read(now);
        if let Some(err) = overdue(clock, now) {
            return Poll::Ready(Err(err));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Clock::Idle { .. } = clock
            && buf.filled().len() > before
        {
            this.clock = Clock::Headers {
                due: now + this.header_timeout,
                begun: this.requests.0.begun.load(Ordering::Acquire),
            };
        }
        // Waiting: the timer wakes the connection when its clock runs out.
        if read.is_pending()
            && let Some(due) = this.clock.due()
        {
            if this.timer.deadline() != due {
                this.timer.as_mut().reset(due);
            }
            if this.timer.as_mut().poll(cx).is_ready()
                && let Some(err) = overdue(this.clock, Instant::now())
            {
                return Poll::Ready(Err(err));
            }
        }
        read
    }
}

/// The error a read fails with once `clock` has run out at `now`.
fn overdue(clock: Clock, now: Instant) -> Option<io::Error> {
    let message = match clock {
        Clock::Headers { due, .. } if now >= due => "the request's headers did not arrive in time",
        Clock::Idle { due } if now >= due => "the idle keep-alive connection is closed",
        _ => return None,
    };
    Some(io::Error::new(io::ErrorKind::TimedOut, message))
}

impl tokio::io::AsyncWrite for HeaderDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.wrote();
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.wrote();
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const REQUEST: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n";

    /// A connection's server side under its clocks, its request counts, and its client side.
    async fn connection(header: Duration, idle: Duration) -> (HeaderDeadline, Requests, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("address"))
            .await
            .expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let (conn, requests) = HeaderDeadline::new(server, header, idle);
        (conn, requests, client)
    }

    /// Reads on until a clock fails a read: how long that took.
    async fn until_a_clock_runs_out(conn: &mut HeaderDeadline) -> Duration {
        let started = std::time::Instant::now();
        let mut buf = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
                .await
                .expect("a clock runs out")
            {
                Err(err) => {
                    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
                    return started.elapsed();
                }
                Ok(0) => panic!("closed by the client"),
                Ok(_) => {}
            }
        }
    }

    /// A request arrives whole, is answered and its answer written, as hyper does it.
    async fn answer_one(conn: &mut HeaderDeadline, requests: &Requests, client: &mut TcpStream) {
        client.write_all(REQUEST).await.expect("send");
        let mut buf = [0u8; 256];
        let n = conn.read(&mut buf).await.expect("read");
        assert_eq!(&buf[..n], REQUEST);
        drop(requests.begin());
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .expect("answer");
    }

    fn between(took: Duration, low_ms: u64, high_ms: u64) -> bool {
        took >= Duration::from_millis(low_ms) && took < Duration::from_millis(high_ms)
    }

    #[tokio::test]
    async fn the_first_requests_headers_are_due_a_header_timeout_after_the_opening() {
        let (mut conn, _requests, _client) =
            connection(Duration::from_millis(300), Duration::from_secs(5)).await;
        let took = until_a_clock_runs_out(&mut conn).await;
        assert!(between(took, 250, 2000), "closed after {took:?}");
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_after_the_idle_timeout_not_the_header_timeout() {
        let (mut conn, requests, mut client) =
            connection(Duration::from_millis(200), Duration::from_millis(900)).await;
        answer_one(&mut conn, &requests, &mut client).await;
        let took = until_a_clock_runs_out(&mut conn).await;
        assert!(between(took, 850, 3000), "closed after {took:?}");
    }

    #[tokio::test]
    async fn a_request_being_answered_runs_no_clock_and_its_end_starts_the_idle_clock() {
        let (mut conn, requests, mut client) =
            connection(Duration::from_millis(200), Duration::from_millis(500)).await;
        client.write_all(REQUEST).await.expect("send");
        let mut buf = [0u8; 256];
        let n = conn.read(&mut buf).await.expect("read");
        assert_eq!(&buf[..n], REQUEST);
        let answering = requests.begin();
        // hyper reads on while the service answers: longer than both clocks, nothing runs out.
        let waited = tokio::time::timeout(Duration::from_millis(1200), conn.read(&mut buf)).await;
        assert!(waited.is_err(), "the read still waits: {waited:?}");
        drop(answering);
        let took = until_a_clock_runs_out(&mut conn).await;
        assert!(between(took, 450, 2500), "closed after {took:?}");
    }

    #[tokio::test]
    async fn headers_sent_in_pieces_on_a_kept_connection_are_due_a_header_timeout_after_their_first_byte()
     {
        let (mut conn, requests, mut client) =
            connection(Duration::from_millis(400), Duration::from_secs(5)).await;
        answer_one(&mut conn, &requests, &mut client).await;
        // Idle for longer than the header timeout: kept.
        let mut buf = [0u8; 256];
        let waited = tokio::time::timeout(Duration::from_millis(800), conn.read(&mut buf)).await;
        assert!(waited.is_err(), "the read still waits: {waited:?}");
        // Half a request, and nothing more.
        client
            .write_all(b"GET /health/live HTTP/1.1\r\nX-Slow: ")
            .await
            .expect("send");
        let took = until_a_clock_runs_out(&mut conn).await;
        assert!(between(took, 350, 2000), "closed after {took:?}");
    }

    #[tokio::test]
    async fn a_connection_answering_request_after_request_is_kept_past_both_clocks() {
        let (mut conn, requests, mut client) =
            connection(Duration::from_millis(200), Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        let mut buf = [0u8; 256];
        while started.elapsed() < Duration::from_millis(1000) {
            answer_one(&mut conn, &requests, &mut client).await;
            // Waiting for the next request, for less than the idle timeout.
            let waited =
                tokio::time::timeout(Duration::from_millis(100), conn.read(&mut buf)).await;
            assert!(waited.is_err(), "the read still waits: {waited:?}");
        }
    }
}
