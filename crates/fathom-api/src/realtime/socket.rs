//! A WebSocket connection's TCP socket, written by more than one party in turn: its own task
//! (the connection's frames, tungstenite's pings, pongs and close) and, while the connection is
//! parked (`direct.rs`), a direct writer that writes shared runs to many sockets from one loop.
//! Every write goes through one [`Writer`]: it writes what the socket takes at once and keeps the
//! rest pending, in order, so writes never interleave, and the socket's task drains what is
//! pending as the socket takes it.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::direct::Outlet;
use super::outgoing::{SharedRun, Wire};

/// The one way bytes reach a shared socket.
pub struct Writer {
    stream: Arc<TcpStream>,
    pending: Mutex<Pending>,
    /// Told when bytes are left pending, for the socket's task to drain them.
    left_pending: Notify,
}

#[derive(Default)]
struct Pending {
    chunks: VecDeque<Bytes>,
    /// The socket failed: nothing more is written.
    failed: bool,
}

fn failed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the socket failed before")
}

impl Writer {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // Every update leaves the queue whole, so a panic elsewhere cannot leave it half-done.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `data` after whatever is pending, without waiting: what the socket does not take
    /// now stays pending (`whole`, when given, is `data` as shared bytes, kept without a copy).
    /// `Err` once the socket has failed.
    pub fn write(&self, data: &[u8], whole: Option<&Bytes>) -> io::Result<()> {
        let mut pending = self.pending();
        if pending.failed {
            return Err(failed());
        }
        let mut written = 0;
        if pending.chunks.is_empty() {
            while written < data.len() {
                match self.stream.try_write(&data[written..]) {
                    Ok(0) => {
                        pending.failed = true;
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        pending.failed = true;
                        return Err(e);
                    }
                }
            }
        }
        if written < data.len() {
            let rest = match whole {
                Some(bytes) => bytes.slice(written..),
                None => Bytes::copy_from_slice(&data[written..]),
            };
            pending.chunks.push_back(rest);
            self.left_pending.notify_one();
        }
        Ok(())
    }

    /// Whether nothing is pending and the socket has not failed: a direct writer may write.
    pub fn is_idle(&self) -> bool {
        let pending = self.pending();
        pending.chunks.is_empty() && !pending.failed
    }

    /// Writes what is pending as the socket takes it; ready once nothing is.
    pub fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            {
                let mut pending = self.pending();
                if pending.failed {
                    return Poll::Ready(Err(failed()));
                }
                while let Some(front) = pending.chunks.front_mut() {
                    match self.stream.try_write(front) {
                        Ok(0) => {
                            pending.failed = true;
                            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                        }
                        Ok(n) if n < front.len() => {
                            let _ = front.split_to(n);
                        }
                        Ok(_) => {
                            pending.chunks.pop_front();
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            pending.failed = true;
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                if pending.chunks.is_empty() {
                    return Poll::Ready(Ok(()));
                }
            }
            ready!(self.stream.poll_write_ready(cx))?;
        }
    }

    /// Completes once bytes were left pending and have been written since (or the socket
    /// failed): the socket task's wait for what a direct writer could not write at once.
    pub async fn drain_when_pending(&self) -> io::Result<()> {
        self.left_pending.notified().await;
        std::future::poll_fn(|cx| self.poll_drain(cx)).await
    }

    /// Waits until everything pending is written.
    pub async fn drain(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_drain(cx)).await
    }
}

impl Outlet for Writer {
    fn is_idle(&self) -> bool {
        Writer::is_idle(self)
    }

    fn send_runs(&self, runs: &[Arc<SharedRun>]) -> io::Result<()> {
        let mut wire = Wire::default();
        for run in runs {
            wire.shared(run.ws());
        }
        wire.write_to(self)
    }
}

/// The socket as tungstenite sees it: reads straight from the socket, writes through the
/// [`Writer`] (each write whole, in turn with every other writer).
pub struct SocketIo {
    stream: Arc<TcpStream>,
    writer: Arc<Writer>,
}

impl SocketIo {
    /// The socket and its writer.
    pub fn new(stream: TcpStream) -> (Self, Arc<Writer>) {
        let stream = Arc::new(stream);
        let writer = Arc::new(Writer {
            stream: Arc::clone(&stream),
            pending: Mutex::default(),
            left_pending: Notify::new(),
        });
        let io = Self {
            stream,
            writer: Arc::clone(&writer),
        };
        (io, writer)
    }
}

impl AsyncRead for SocketIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SocketIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // Taken whole (written, or pending behind what is): tungstenite writes only its own
        // small frames here, and a flush waits for them.
        Poll::Ready(self.writer.write(buf, None).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.writer.poll_drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes when its last owner drops it.
        self.writer.poll_drain(cx)
    }
}
