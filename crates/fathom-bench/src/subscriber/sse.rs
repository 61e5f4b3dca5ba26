//! The SSE side of a bench subscriber: `GET /api/v1/realtime?subscriptions=…` with a Bearer
//! token, then the `data:` of each event block of the stream (comments, the heartbeats, are
//! skipped).

use anyhow::{Context, ensure};

use super::Target;

/// One open SSE stream and the bytes of a block not yet complete.
pub struct SseStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// Where the search for the end of the current block resumes.
    scanned: usize,
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
        buffer: Vec::with_capacity(4096),
        scanned: 0,
    })
}

impl SseStream {
    pub async fn next(&mut self) -> anyhow::Result<Option<String>> {
        loop {
            while let Some(block) = self.take_block() {
                if let Some(data) = data_of(&block)? {
                    return Ok(Some(data));
                }
            }
            match self
                .response
                .chunk()
                .await
                .context("reading the SSE stream")?
            {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => return Ok(None),
            }
        }
    }

    /// The next complete block (up to a blank line), without its terminator.
    fn take_block(&mut self) -> Option<Vec<u8>> {
        let from = self.scanned.saturating_sub(1);
        match self.buffer[from..].windows(2).position(|w| w == b"\n\n") {
            Some(at) => {
                let end = from + at;
                let block = self.buffer[..end].to_vec();
                self.buffer.drain(..end + 2);
                self.scanned = 0;
                Some(block)
            }
            None => {
                self.scanned = self.buffer.len();
                None
            }
        }
    }
}

/// The `data:` lines of one block, joined (none for a comment-only block).
fn data_of(block: &[u8]) -> anyhow::Result<Option<String>> {
    let text = std::str::from_utf8(block).context("an SSE block that is not UTF-8")?;
    let mut data: Option<String> = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut data {
                Some(joined) => {
                    joined.push('\n');
                    joined.push_str(value);
                }
                None => data = Some(value.to_owned()),
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
            Some("{\"a\":1}".to_owned())
        );
        assert_eq!(data_of(b":").expect("valid"), None);
        assert_eq!(
            data_of(b"data: a\ndata: b").expect("valid"),
            Some("a\nb".to_owned())
        );
        assert!(data_of(b"nonsense").is_err());
    }
}
