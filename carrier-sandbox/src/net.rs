//! A TCP acceptor whose connections a handler can reset, so the sandbox can "close without answering"
//! like a carrier's overloaded gateway: the handler flips the connection's switch, every later read or
//! write fails, and the socket is dropped with `SO_LINGER 0` (a TCP RST).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Live connections by peer address, each with its reset switch.
pub type Connections = Arc<Mutex<HashMap<SocketAddr, Arc<AtomicBool>>>>;

/// Resets the connection of `peer`; false when it is gone already.
pub fn reset(connections: &Connections, peer: &SocketAddr) -> bool {
    let map = connections.lock().unwrap_or_else(|e| e.into_inner());
    match map.get(peer) {
        Some(switch) => {
            switch.store(true, Ordering::SeqCst);
            true
        }
        None => false,
    }
}

/// Accepts TCP connections and registers each one's reset switch.
pub struct ResettableAcceptor {
    inner: TcpAcceptor,
    connections: Connections,
}

impl ResettableAcceptor {
    /// Wraps a bound acceptor.
    pub fn new(inner: TcpAcceptor, connections: Connections) -> Self {
        Self { inner, connections }
    }
}

impl Acceptor for ResettableAcceptor {
    type Io = ResettableStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (stream, local, remote, scheme) = self.inner.accept().await?;
        let peer = stream.peer_addr()?;
        let switch = Arc::new(AtomicBool::new(false));
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer, switch.clone());
        let io = ResettableStream {
            inner: stream,
            switch,
            peer,
            connections: Arc::downgrade(&self.connections),
        };
        Ok((io, local, remote, scheme))
    }
}

/// A TCP stream that fails every operation once its switch is flipped.
pub struct ResettableStream {
    inner: TcpStream,
    switch: Arc<AtomicBool>,
    peer: SocketAddr,
    connections: Weak<Mutex<HashMap<SocketAddr, Arc<AtomicBool>>>>,
}

impl ResettableStream {
    fn is_reset(&self) -> bool {
        self.switch.load(Ordering::SeqCst)
    }
}

/// The error every operation of a reset connection gets.
fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "reset by the sandbox")
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_reset() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_reset() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_reset() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_reset() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.is_reset() {
            // A zero linger turns the close into an RST, as a crashed gateway does; failure to set it
            // still closes the connection, which is as good for the client.
            let _ = self.inner.set_zero_linger();
        }
        if let Some(connections) = self.connections.upgrade() {
            connections
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.peer);
        }
    }
}
