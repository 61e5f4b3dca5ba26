//! What a connection loop hands its transport: single [`Frame`]s, or a [`SharedRun`], the event
//! frames of one hub batch as every connection that sees the batch alike sends them, encoded
//! once per transport that needs it (the SSE chunk; the WebSocket frames, one text message per
//! frame, framed and laid end to end). A connection that shares a run costs one queue item and
//! one socket write per batch, whatever the batch holds: no per-event work per connection.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use super::connection::ConnectionSeat;
use super::protocol::Frame;
use super::socket::Writer;

/// One item of a connection's outgoing queue.
pub enum Outgoing {
    Frame(Frame),
    Run(Arc<SharedRun>),
    /// The connection parked in this seat (under this generation) once everything queued
    /// before was written: the transport admits it to a direct writer (`direct.rs`).
    Park(Arc<ConnectionSeat>, u64),
}

impl Outgoing {
    /// The room it takes in a queue bounded to `bound` frames: its frames, at most the bound.
    fn room(&self, bound: usize) -> usize {
        match self {
            Self::Frame(_) => 1,
            Self::Run(run) => run.len(),
            Self::Park(..) => 0,
        }
        .min(bound)
    }
}

/// A connection's outgoing queue, bounded in frames (not items: a shared run may hold hundreds),
/// so that a client that stops reading holds at most that many frames here and its connection
/// loop waits, its hub queue fills and the hub drops it as lagged.
pub fn queue(frames: usize) -> (OutSender, OutReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let room = Arc::new(Semaphore::new(frames));
    let sender = OutSender {
        tx,
        room: Arc::clone(&room),
        bound: frames,
    };
    (
        sender,
        OutReceiver {
            rx,
            room,
            bound: frames,
        },
    )
}

/// The connection loop's end of its outgoing queue.
#[derive(Clone)]
pub struct OutSender {
    tx: mpsc::UnboundedSender<Outgoing>,
    /// Frames the queue may still take; the transport gives them back as it takes items.
    room: Arc<Semaphore>,
    bound: usize,
}

/// The transport is gone: nothing more can be sent.
#[derive(Debug)]
pub struct Gone;

impl OutSender {
    /// Queues `item` once the queue has room for its frames (a run larger than the whole bound
    /// waits for an empty queue).
    pub async fn send(&self, item: Outgoing) -> Result<(), Gone> {
        let room = u32::try_from(item.room(self.bound)).unwrap_or(u32::MAX);
        self.room
            .acquire_many(room)
            .await
            .map_err(|_| Gone)?
            .forget();
        self.tx.send(item).map_err(|_| Gone)
    }

    /// Resolves when the transport has gone.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// The transport's end of a connection's outgoing queue.
pub struct OutReceiver {
    rx: mpsc::UnboundedReceiver<Outgoing>,
    room: Arc<Semaphore>,
    bound: usize,
}

impl OutReceiver {
    /// The next item if one is queued, without waiting (and without leaving a waker: a
    /// transport polled in its loop's own task takes items this way).
    pub fn try_recv(&mut self) -> Option<Outgoing> {
        let item = self.rx.try_recv().ok();
        self.took(item.iter());
        item
    }

    /// Waits for at least one item, then takes up to `limit` into `items`: how many it took.
    pub async fn recv_many(&mut self, items: &mut Vec<Outgoing>, limit: usize) -> usize {
        let before = items.len();
        let taken = self.rx.recv_many(items, limit).await;
        self.took(items[before..].iter());
        taken
    }

    /// Gives back the room the items taken held.
    fn took<'a>(&self, items: impl Iterator<Item = &'a Outgoing>) {
        let room: usize = items.map(|item| item.room(self.bound)).sum();
        self.room.add_permits(room);
    }
}

impl Drop for OutReceiver {
    fn drop(&mut self) {
        // A connection loop waiting for room learns that nobody will make it.
        self.room.close();
    }
}

impl From<Frame> for Outgoing {
    fn from(frame: Frame) -> Self {
        Self::Frame(frame)
    }
}

/// Event frames encoded once, sent as they are by every connection that shares them.
/// Each encoding is made when a transport first needs it (a run that only SSE streams share is
/// never encoded for WebSocket, and the other way round).
pub struct SharedRun {
    parts: Parts,
    /// The frames as SSE blocks, one chunk.
    sse: OnceLock<Bytes>,
    /// The frames as WebSocket text messages, one unfragmented frame each, end to end (a
    /// server's frames are not masked, so the bytes are the same for every connection).
    ws: OnceLock<Bytes>,
}

/// What a run is made of.
enum Parts {
    /// The frames of one batch.
    Frames(Vec<Frame>),
    /// Runs of consecutive batches, in order (a direct writer's turn that found several).
    Runs(Vec<Arc<SharedRun>>),
}

impl SharedRun {
    pub fn new(frames: Vec<Frame>) -> Self {
        Self::of(Parts::Frames(frames))
    }

    /// `runs` end to end, as one run: its encodings are theirs laid end to end, made once for
    /// every connection that takes the same runs in one turn.
    pub fn joined(runs: Vec<Arc<SharedRun>>) -> Self {
        Self::of(Parts::Runs(runs))
    }

    fn of(parts: Parts) -> Self {
        Self {
            parts,
            sse: OnceLock::new(),
            ws: OnceLock::new(),
        }
    }

    /// Its frames.
    fn len(&self) -> usize {
        match &self.parts {
            Parts::Frames(frames) => frames.len(),
            Parts::Runs(runs) => runs.iter().map(|run| run.len()).sum(),
        }
    }

    /// The frames as one chunk of an SSE stream.
    fn sse(&self) -> &Bytes {
        self.sse.get_or_init(|| match &self.parts {
            Parts::Frames(frames) => sse_blocks(frames.iter()),
            Parts::Runs(runs) => end_to_end(runs, Self::sse),
        })
    }

    /// The frames as WebSocket bytes, written to the socket as they are.
    pub fn ws(&self) -> &Bytes {
        self.ws.get_or_init(|| match &self.parts {
            Parts::Frames(frames) => {
                let mut out = Vec::new();
                for frame in frames {
                    ws_frame(&frame.text(), &mut out);
                }
                Bytes::from(out)
            }
            Parts::Runs(runs) => end_to_end(runs, Self::ws),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One encoding of each of `runs`, laid end to end.
fn end_to_end(runs: &[Arc<SharedRun>], encoding: fn(&SharedRun) -> &Bytes) -> Bytes {
    let mut out = Vec::new();
    for run in runs {
        out.extend_from_slice(encoding(run));
    }
    Bytes::from(out)
}

/// Bytes for one socket write: a lone shared run as it is (not copied), anything more laid end
/// to end.
#[derive(Default)]
pub struct Wire {
    lone: Option<Bytes>,
    joined: Vec<u8>,
}

impl Wire {
    pub fn shared(&mut self, bytes: &Bytes) {
        if self.lone.is_none() && self.joined.is_empty() {
            self.lone = Some(bytes.clone());
        } else {
            self.join();
            self.joined.extend_from_slice(bytes);
        }
    }

    pub fn frame(&mut self, frame: &Frame) {
        self.join();
        ws_frame(&frame.text(), &mut self.joined);
    }

    fn join(&mut self) {
        if let Some(lone) = self.lone.take() {
            self.joined.extend_from_slice(&lone);
        }
    }

    pub fn bytes(&self) -> &[u8] {
        self.lone.as_deref().unwrap_or(&self.joined)
    }

    /// Hands the bytes to the socket's writer (see [`Writer::write`]).
    pub fn write_to(&self, writer: &Writer) -> std::io::Result<()> {
        if self.bytes().is_empty() {
            return Ok(());
        }
        writer.write(self.bytes(), self.lone.as_ref())
    }
}

/// The SSE text of a run of outgoing items as one chunk: a shared run as encoded, a frame as
/// [`sse_blocks`] writes it. A lone shared run is its chunk, not copied.
pub fn sse_chunk(run: &[Outgoing]) -> Bytes {
    if let [Outgoing::Run(shared)] = run {
        return shared.sse().clone();
    }
    let mut out = Vec::new();
    for item in run {
        match item {
            Outgoing::Run(shared) => out.extend_from_slice(shared.sse()),
            Outgoing::Frame(frame) => out.extend_from_slice(&sse_blocks(std::iter::once(frame))),
            // SSE connections never park.
            Outgoing::Park(..) => {}
        }
    }
    Bytes::from(out)
}

/// The SSE text of shared runs as one chunk (a lone run's chunk is not copied).
pub fn sse_runs(runs: &[Arc<SharedRun>]) -> Bytes {
    if let [run] = runs {
        return run.sse().clone();
    }
    let mut out = Vec::new();
    for run in runs {
        out.extend_from_slice(run.sse());
    }
    Bytes::from(out)
}

/// Appends `text` to `out` as one unfragmented, unmasked WebSocket text frame (RFC 6455 §5.2).
pub fn ws_frame(text: &str, out: &mut Vec<u8>) {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    let length = u64::try_from(text.len()).unwrap_or(u64::MAX);
    // Formatting into a Vec cannot fail.
    let _ = header.format(length, out);
    out.extend_from_slice(text.as_bytes());
}

/// The SSE text of frames: per frame its `event:` (the type), its `data:` (the JSON, one line
/// per line of text) and, for a frame with a position, its `id:`.
fn sse_blocks<'a>(frames: impl Iterator<Item = &'a Frame>) -> Bytes {
    let texts: Vec<_> = frames.map(|frame| (frame, frame.text())).collect();
    let size = texts.iter().map(|(_, text)| text.len() + 48).sum();
    let mut out = String::with_capacity(size);
    for (frame, text) in &texts {
        out.push_str("event: ");
        out.push_str(frame.kind);
        for line in text.split('\n') {
            out.push_str("\ndata: ");
            out.push_str(line);
        }
        if let Some(seq) = frame.seq {
            let _ = write!(out, "\nid: {seq}");
        }
        out.push_str("\n\n");
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_one_chunk_of_sse_blocks() {
        let run = vec![
            Outgoing::Frame(Frame::rendered(7, "{\"type\":\"event\",\"seq\":7}".into())),
            Outgoing::Frame(Frame::pong()),
        ];
        assert_eq!(
            &sse_chunk(&run)[..],
            b"event: event\ndata: {\"type\":\"event\",\"seq\":7}\nid: 7\n\nevent: pong\ndata: {\"type\":\"pong\"}\n\n"
        );
    }

    #[test]
    fn websocket_frames_carry_their_length_in_the_form_its_size_needs() {
        // RFC 6455 §5.2: 7 bits up to 125 bytes, then 126 and 16 bits, then 127 and 64 bits.
        for (size, header) in [
            (125, vec![0x81, 125]),
            (300, vec![0x81, 126, 0x01, 0x2c]),
            (70_000, vec![0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]),
        ] {
            let text = "x".repeat(size);
            let mut out = Vec::new();
            ws_frame(&text, &mut out);
            assert_eq!(&out[..header.len()], &header[..], "{size} bytes");
            assert_eq!(&out[header.len()..], text.as_bytes());
        }
    }

    #[test]
    fn a_shared_run_reads_the_same_as_its_frames_sent_one_by_one() {
        let frames = vec![
            Frame::rendered(8, "{\"type\":\"event\",\"seq\":8}".into()),
            Frame::rendered(9, "{\"type\":\"event\",\"seq\":9}".into()),
        ];
        let shared = std::sync::Arc::new(SharedRun::new(frames.clone()));
        let one_by_one: Vec<Outgoing> = frames.into_iter().map(Outgoing::Frame).collect();
        assert_eq!(
            sse_chunk(&[Outgoing::Run(shared.clone())]),
            sse_chunk(&one_by_one)
        );
        // Each frame a final text frame (0x81), unmasked, with its length (< 126: one byte).
        let mut ws = Vec::new();
        for text in [
            "{\"type\":\"event\",\"seq\":8}",
            "{\"type\":\"event\",\"seq\":9}",
        ] {
            ws.extend_from_slice(&[0x81, u8::try_from(text.len()).unwrap()]);
            ws.extend_from_slice(text.as_bytes());
        }
        assert_eq!(&shared.ws()[..], &ws[..]);
        // A frame queued beside a run follows it in the same chunk.
        let mixed = sse_chunk(&[Outgoing::Run(shared), Outgoing::Frame(Frame::pong())]);
        assert!(mixed.ends_with(b"event: pong\ndata: {\"type\":\"pong\"}\n\n"));
    }

    #[test]
    fn joined_runs_read_as_their_frames_end_to_end() {
        let run = |seqs: &[i64]| {
            std::sync::Arc::new(SharedRun::new(
                seqs.iter()
                    .map(|seq| Frame::rendered(*seq, format!("{{\"seq\":{seq}}}").into()))
                    .collect(),
            ))
        };
        let (first, second) = (run(&[1, 2]), run(&[3]));
        let joined = SharedRun::joined(vec![first, run(&[]), second]);
        let whole = run(&[1, 2, 3]);
        assert_eq!(joined.len(), 3);
        assert_eq!(joined.sse(), whole.sse());
        assert_eq!(joined.ws(), whole.ws());
        assert!(SharedRun::joined(vec![run(&[])]).is_empty());
    }
}
