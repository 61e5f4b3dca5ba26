//! A realtime subscriber for W5: one connection to Fathom over SSE or WebSocket, subscribed to a
//! collection, that counts what it receives. It connects, waits until the server says the
//! subscription is live (`subscribed`), then tallies every event: how many, whether each sequence
//! is after the previous one (order, duplicates), and how long after its commit it arrived.
//!
//! Delivery latency is the receive instant minus the event's `committed_at`, both read from this
//! machine's wall clock (the server runs on the same machine). `committed_at` is stamped inside
//! the writing transaction just before its COMMIT and has millisecond precision, so the figure
//! includes the COMMIT itself and up to 1 ms of truncation: it can only overstate.

mod frame;
mod sse;
mod ws;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use frame::{Frame, now_micros, timestamp_micros};

/// How long a subscriber waits for its subscription to go live.
const LIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The two realtime transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Sse,
    WebSocket,
}

/// Which transports a phase's subscribers use (`--w5-transports`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transports {
    /// Even subscribers SSE, odd ones WebSocket: an even mix.
    Mixed,
    Sse,
    Websocket,
}

impl Transports {
    /// The transport of the subscriber numbered `index`.
    pub fn of_index(self, index: usize) -> Transport {
        match self {
            Self::Sse => Transport::Sse,
            Self::Websocket => Transport::WebSocket,
            Self::Mixed if index.is_multiple_of(2) => Transport::Sse,
            Self::Mixed => Transport::WebSocket,
        }
    }

    /// How many of `count` subscribers use SSE and how many WebSocket.
    pub fn split(self, count: usize) -> (usize, usize) {
        let sse = (0..count)
            .filter(|i| self.of_index(*i) == Transport::Sse)
            .count();
        (sse, count - sse)
    }
}

/// Where and as whom subscribers connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub address: SocketAddr,
    /// An access token (sent as `Authorization: Bearer` on SSE, in the `auth` message on
    /// WebSocket).
    pub token: Arc<str>,
    pub collection: String,
}

impl Target {
    /// The subscription every bench subscriber opens: the whole collection.
    fn subscriptions(&self) -> serde_json::Value {
        serde_json::json!([{ "id": "bench", "collection": self.collection }])
    }
}

/// What one subscriber received after its subscription went live.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Event frames received in sequence order (each after the previous one).
    pub received: u64,
    /// Event frames whose sequence was below the last one received.
    pub out_of_order: u64,
    /// Event frames whose sequence equalled the last one received.
    pub duplicates: u64,
    /// The sequence the subscription went live at, then the last one received.
    pub last_seq: i64,
    /// Commit-to-receipt latency of each in-order event, in microseconds, as received: a
    /// histogram each (136 KiB at 3 significant digits up to 60 s, touched page by page as the
    /// latencies spread) made 10,000 subscribers fault in over a gigabyte while they read;
    /// [`Tally::record_latencies`] adds them to one at the end.
    latencies: Vec<u32>,
    /// Events without a readable `committed_at` (not timed).
    pub untimed: u64,
    /// Why the connection ended early (a `lagged` or `closing` frame, an error), if it did.
    pub ended: Option<String>,
}

impl Tally {
    /// Adds this subscriber's latencies to `histogram`.
    pub fn record_latencies(&self, histogram: &mut Histogram<u64>) {
        for micros in &self.latencies {
            histogram.saturating_record(u64::from(*micros));
        }
    }

    pub(crate) fn live_at(seq: i64) -> Self {
        Self {
            received: 0,
            out_of_order: 0,
            duplicates: 0,
            last_seq: seq,
            latencies: Vec::new(),
            untimed: 0,
            ended: None,
        }
    }

    /// Counts one event frame received at `now_us`.
    pub fn event(&mut self, seq: i64, committed_at_us: Option<i64>, now_us: i64) {
        use std::cmp::Ordering as Order;
        match seq.cmp(&self.last_seq) {
            Order::Less => self.out_of_order += 1,
            Order::Equal => self.duplicates += 1,
            Order::Greater => {
                self.received += 1;
                self.last_seq = seq;
                match committed_at_us {
                    Some(at) => {
                        let micros = u32::try_from((now_us - at).max(0)).unwrap_or(u32::MAX);
                        self.latencies.push(micros.max(1));
                    }
                    None => self.untimed += 1,
                }
            }
        }
    }
}

/// A source of frame texts: one SSE stream or one WebSocket.
enum Source {
    Sse(sse::SseStream),
    Ws(Box<ws::WsStream>),
}

impl Source {
    /// The next frame, or `Ok(None)` when the server closed the connection.
    async fn next(&mut self) -> anyhow::Result<Option<Frame>> {
        match self {
            Source::Sse(stream) => stream.next().await,
            Source::Ws(stream) => stream.next().await,
        }
    }
}

/// A live subscriber counting in its own task.
/// What the subscribers of one phase share: which events count, and how many were received.
#[derive(Debug)]
pub struct Counting {
    /// Events at or below this sequence were committed before the phase and are not counted;
    /// until the phase sets it (once every subscriber is live, before anything is written),
    /// none is.
    pub floor: AtomicI64,
    /// Events received in order by all of the phase's subscribers together.
    pub received: AtomicU64,
}

impl Default for Counting {
    fn default() -> Self {
        Self {
            floor: AtomicI64::new(i64::MAX),
            received: AtomicU64::new(0),
        }
    }
}

pub struct Subscriber {
    pub transport: Transport,
    /// The sequence its subscription went live at.
    pub live_seq: i64,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Tally>,
}

/// A TCP connection to `address` from `local` (any free port), without Nagle's delay.
pub async fn tcp_from(local: IpAddr, address: SocketAddr) -> anyhow::Result<TcpStream> {
    let socket = match local {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .context("creating a socket")?;
    socket
        .bind(SocketAddr::new(local, 0))
        .with_context(|| format!("binding a local port on {local}"))?;
    let stream = socket
        .connect(address)
        .await
        .with_context(|| format!("connecting from {local} to {address}"))?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    Ok(stream)
}

/// Opens one subscriber from `local` and waits until its subscription is live; every event it
/// then receives in order adds one to `received` (shared by all subscribers of a phase, so the
/// phase can wait for complete delivery without asking each).
pub async fn connect(
    transport: Transport,
    target: &Target,
    local: IpAddr,
    counting: Arc<Counting>,
) -> anyhow::Result<Subscriber> {
    let mut source = match transport {
        Transport::Sse => Source::Sse(sse::open(target, local).await?),
        Transport::WebSocket => Source::Ws(Box::new(ws::open(target, local).await?)),
    };
    let live = tokio::time::timeout(LIVE_TIMEOUT, async {
        loop {
            let Some(frame) = source.next().await? else {
                bail!("the server closed the connection before the subscription went live");
            };
            match frame {
                Frame::Subscribed { seq } => return Ok(seq),
                Frame::Problem(problem) => bail!("before going live: {problem}"),
                _ => {}
            }
        }
    })
    .await
    .context("the subscription did not go live in time")??;
    let (stop, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut tally = Tally::live_at(live);
        loop {
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                next = source.next() => match next {
                    Ok(Some(frame)) => match frame {
                        // Events committed before the phase: some subscribers go live
                        // before the hub has fanned out the end of the previous phase.
                        Frame::Event { seq, .. } if seq <= counting.floor.load(Ordering::Acquire) => {}
                        Frame::Event { seq, committed_at_us } => {
                            let before = tally.received;
                            tally.event(seq, committed_at_us, now_micros());
                            if tally.received > before {
                                counting.received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Frame::Problem(problem) => {
                            tally.ended.get_or_insert(problem);
                        }
                        _ => {}
                    },
                    Ok(None) => {
                        tally.ended.get_or_insert("the server closed the connection".into());
                        break;
                    }
                    Err(error) => {
                        tally.ended.get_or_insert(format!("{error:#}"));
                        break;
                    }
                },
            }
        }
        tally
    });
    Ok(Subscriber {
        transport,
        live_seq: live,
        stop,
        task,
    })
}

impl Subscriber {
    /// Stops counting, closes the connection and answers the tally.
    pub async fn finish(self) -> Tally {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(tally) => tally,
            Err(error) => {
                let mut tally = Tally::live_at(0);
                tally.ended = Some(format!("the subscriber task failed: {error}"));
                tally
            }
        }
    }

    /// Whether the connection has ended (the task returned by itself).
    pub fn has_ended(&self) -> bool {
        self.task.is_finished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_order_duplicates_and_latency() {
        let mut tally = Tally::live_at(10);
        tally.event(11, Some(1_000), 3_000);
        tally.event(12, Some(2_000), 2_500);
        tally.event(12, Some(2_000), 2_600);
        tally.event(9, Some(2_000), 2_600);
        tally.event(15, None, 9_000);
        assert_eq!(tally.received, 3);
        assert_eq!(tally.duplicates, 1);
        assert_eq!(tally.out_of_order, 1);
        assert_eq!(tally.untimed, 1);
        assert_eq!(tally.last_seq, 15);
        let mut latencies = crate::loadgen::new_histogram();
        tally.record_latencies(&mut latencies);
        assert_eq!(latencies.len(), 2);
        assert_eq!(latencies.max(), 2_000);
    }

    #[test]
    fn mixes_the_transports_evenly_or_uses_one() {
        assert_eq!(Transports::Mixed.split(10), (5, 5));
        assert_eq!(Transports::Mixed.split(7), (4, 3));
        assert_eq!(Transports::Sse.split(10), (10, 0));
        assert_eq!(Transports::Websocket.split(10), (0, 10));
    }
}
