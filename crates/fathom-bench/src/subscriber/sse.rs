//! The SSE side of a bench subscriber: `GET /api/v1/realtime?subscriptions=…` with a Bearer
//! token, then the `data:` of each event block of the stream (comments, the heartbeats, are
//! skipped).

use std::borrow::Cow;

use anyhow::{Context, ensure};

use super::Target;
use super::frame::{self, Frame};

/// One open SSE stream.
pub struct SseStream {
    response: reqwest::Response,
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
        match memchr::memmem::find(&self.buffer[search_from..], b"\n\n") {
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

pub async fn open(client: &reqwest::Client, target: &Target) -> anyhow::Result<SseStream> {
    let url = reqwest::Url::parse_with_params(
        &format!("http://{}/api/v1/realtime", target.address),
        &[("subscriptions", target.subscriptions().to_string())],
    )
    .context("building the SSE URL")?;
    let response = client
        .get(url)
        .bearer_auth(&*target.token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .context("opening an SSE stream")?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let shown: String = body.chars().take(300).collect();
        anyhow::bail!("the SSE stream answered {status}: {shown}");
    }
    Ok(SseStream {
        response,
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
            match self
                .response
                .chunk()
                .await
                .context("reading the SSE stream")?
            {
                Some(bytes) => self.blocks.push(&bytes),
                None => return Ok(None),
            }
        }
    }
}

/// The `data:` lines of one block, joined (none for a comment-only block); borrowed when the
/// block has one `data:` line, as the server writes them.
fn data_of(block: &[u8]) -> anyhow::Result<Option<Cow<'_, str>>> {
    let text = std::str::from_utf8(block).context("an SSE block that is not UTF-8")?;
    let mut data: Option<Cow<'_, str>> = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut data {
                Some(joined) => {
                    let joined = joined.to_mut();
                    joined.push('\n');
                    joined.push_str(value);
                }
                None => data = Some(Cow::Borrowed(value)),
            }
        }
    }
    ensure!(
        data.is_some()
            || text.lines().all(|l| l.is_empty()
                || l.starts_with(':')
                || l.starts_with("event:")
                || l.starts_with("id:")
                || l.starts_with("retry:")),
        "an SSE block with unknown lines: {text}"
    );
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_data_and_skips_comments() {
        assert_eq!(
            data_of(b"event: event\ndata: {\"a\":1}\nid: 4").expect("valid"),
            Some("{\"a\":1}".into())
        );
        assert_eq!(data_of(b":").expect("valid"), None);
        assert_eq!(
            data_of(b"data: a\ndata: b").expect("valid"),
            Some("a\nb".into())
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
