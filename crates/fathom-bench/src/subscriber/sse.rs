//! The SSE side of a bench subscriber: `GET /api/v1/realtime?subscriptions=…` with a Bearer
//! token over an HTTP/1.1 connection of its own (from a chosen local address), then the `data:`
//! of each event block of the stream (comments, the heartbeats, are skipped).

use std::borrow::Cow;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::Poll;

use anyhow::{Context, bail, ensure};
use hyper::body::{Body, Bytes};
use hyper::header;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Target;
use super::frame::{self, Frame};

/// One open SSE stream.
pub struct SseStream {
    body: hyper::body::Incoming,
    /// Until it ends (then the body reports how).
    connection: Option<Pin<Box<Connection>>>,
    blocks: Blocks,
}

/// The bytes received but not yet taken, cut into blocks at blank lines.
#[derive(Default)]
struct Blocks {
    buffer: Vec<u8>,
    /// Where the first block not yet taken starts: blocks are taken by moving it, and the bytes
    /// before it are dropped once per chunk received (not once per block, which would move the
    /// rest of a large chunk for every event in it).
    start: usize,
    /// Where the search for the end of the current block resumes.
    scanned: usize,
}

impl Blocks {
    fn push(&mut self, bytes: &[u8]) {
        self.buffer.drain(..self.start);
        self.scanned -= self.start;
        self.start = 0;
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete block (up to a blank line, without it).
    fn take(&mut self) -> Option<&[u8]> {
        // A blank line ends the block: search "\n\n" again from the last byte scanned, which
        // may be the first newline of a pair split between two chunks.
        let search_from = self.scanned.saturating_sub(1).max(self.start);
        static BLANK_LINE: LazyLock<memchr::memmem::Finder<'static>> =
            LazyLock::new(|| memchr::memmem::Finder::new(b"\n\n"));
        match BLANK_LINE.find(&self.buffer[search_from..]) {
            Some(offset) => {
                let end = search_from + offset;
                let block = self.start;
                self.start = end + 2;
                self.scanned = self.start;
                Some(&self.buffer[block..end])
            }
            None => {
                self.scanned = self.buffer.len();
                None
            }
        }
    }
}

/// The most a stream's connection buffers: hyper's client grows its read buffer while reads
/// fill it (up to 400 KiB by default), so 5,000 streams that fell behind held gigabytes, and
/// the kernel spent more CPU clearing their fresh pages than the readers spent reading events.
const READ_BUFFER: usize = 16 * 1024;

type Connection = hyper::client::conn::http1::Connection<TokioIo<TcpStream>, String>;

/// Opens the stream from `local`: one HTTP/1.1 connection, driven by the reader itself (no task
/// of its own).
pub async fn open(target: &Target, local: IpAddr) -> anyhow::Result<SseStream> {
    let stream = super::tcp_from(local, target.address).await?;
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(READ_BUFFER)
        .handshake(TokioIo::new(stream))
        .await
        .context("starting HTTP/1.1 on the SSE connection")?;
    let mut connection = Box::pin(connection);
    let url = reqwest::Url::parse_with_params(
        &format!("http://{}/api/v1/realtime", target.address),
        &[("subscriptions", target.subscriptions().to_string())],
    )
    .context("building the SSE URL")?;
    let request = hyper::Request::get(format!("{}?{}", url.path(), url.query().unwrap_or("")))
        .header(header::HOST, target.address.to_string())
        .header(header::AUTHORIZATION, format!("Bearer {}", target.token))
        .header(header::ACCEPT, "text/event-stream")
        .body(String::new())
        .context("building the SSE request")?;
    let response = tokio::select! {
        response = sender.send_request(request) => response.context("opening an SSE stream")?,
        ended = connection.as_mut() => bail!("the SSE connection ended before its answer: {ended:?}"),
    };
    let status = response.status();
    ensure!(status.is_success(), "the SSE stream answered {status}");
    Ok(SseStream {
        body: response.into_body(),
        connection: Some(connection),
        blocks: Blocks::default(),
    })
}

impl SseStream {
    /// The next frame, read where it lies in the buffer (no copy of its text).
    pub async fn next(&mut self) -> anyhow::Result<Option<Frame>> {
        loop {
            while let Some(block) = self.blocks.take() {
                if let Some(data) = data_of(block)? {
                    return Ok(Some(frame::read(&data)));
                }
            }
            match self.chunk().await? {
                Some(bytes) => self.blocks.push(&bytes),
                None => return Ok(None),
            }
        }
    }

    /// The next chunk of the body (trailers skipped), driving the connection meanwhile.
    async fn chunk(&mut self) -> anyhow::Result<Option<Bytes>> {
        let Self {
            body, connection, ..
        } = self;
        loop {
            let frame = std::future::poll_fn(|cx| {
                if let Some(driven) = connection
                    && let Poll::Ready(ended) = driven.as_mut().poll(cx)
                {
                    *connection = None;
                    if let Err(error) = ended {
                        return Poll::Ready(Some(Err(error)));
                    }
                }
                Pin::new(&mut *body).poll_frame(cx)
            })
            .await;
            match frame {
                None => return Ok(None),
                Some(frame) => match frame.context("reading the SSE stream")?.into_data() {
                    Ok(bytes) => return Ok(Some(bytes)),
                    Err(_) => continue,
                },
            }
        }
    }
}

/// The `data:` lines of one block, joined (none for a comment-only block); borrowed when the
/// block has one `data:` line, as the server writes them.
fn data_of(block: &[u8]) -> anyhow::Result<Option<Cow<'_, [u8]>>> {
    let mut data: Option<Cow<'_, [u8]>> = None;
    let mut start = 0;
    while start <= block.len() {
        let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |at| start + at);
        let line = &block[start..end];
        start = end + 1;
        if let Some(value) = line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            match &mut data {
                Some(joined) => {
                    let joined = joined.to_mut();
                    joined.push(b'\n');
                    joined.extend_from_slice(value);
                }
                None => data = Some(Cow::Borrowed(value)),
            }
        } else if !KNOWN_LINES.iter().any(|known| line.starts_with(known)) && !line.is_empty() {
            bail!(
                "an SSE block with unknown lines: {}",
                String::from_utf8_lossy(block)
            );
        }
    }
    Ok(data)
}

/// The starts of the other lines an SSE block may have: a comment, and the other fields.
const KNOWN_LINES: [&[u8]; 4] = [b":", b"event:", b"id:", b"retry:"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_data_and_skips_comments() {
        assert_eq!(
            data_of(b"event: event\ndata: {\"a\":1}\nid: 4").expect("valid"),
            Some(b"{\"a\":1}"[..].into())
        );
        assert_eq!(data_of(b":").expect("valid"), None);
        assert_eq!(
            data_of(b"data: a\ndata: b").expect("valid"),
            Some(b"a\nb"[..].into())
        );
        assert!(data_of(b"nonsense").is_err());
    }

    #[test]
    fn cuts_blocks_at_blank_lines_across_chunks() {
        let mut blocks = Blocks::default();
        blocks.push(b"data: 1\n\n: ping\n\ndata: 2\n");
        assert_eq!(blocks.take(), Some(&b"data: 1"[..]));
        assert_eq!(blocks.take(), Some(&b": ping"[..]));
        assert_eq!(blocks.take(), None);
        blocks.push(b"\ndata: 3");
        assert_eq!(blocks.take(), Some(&b"data: 2"[..]));
        assert_eq!(blocks.take(), None);
        blocks.push(b"\n\n\n\n");
        assert_eq!(blocks.take(), Some(&b"data: 3"[..]));
        assert_eq!(blocks.take(), Some(&b""[..]));
        assert_eq!(blocks.take(), None);
    }
}
