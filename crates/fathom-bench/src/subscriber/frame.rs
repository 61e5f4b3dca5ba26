//! Reading the realtime frames a subscriber receives: what kind each is, and for an event its
//! sequence and commit time. Event frames are the hot path (a thousand subscribers each read every
//! event), so they are recognised by a scan of their leading keys, which the server writes in a
//! fixed order (`type` first, then `seq`, …, `committed_at`, then the records); anything else is
//! parsed as JSON.

use std::sync::LazyLock;

use serde::Deserialize;

/// One frame, as far as the bench cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `ready`: the connection is open at `seq`.
    Ready { seq: i64 },
    /// `subscribed`: the subscription is live after `seq`.
    Subscribed { seq: i64 },
    /// `event`: one committed change; `committed_at_us` is its commit time in microseconds since
    /// the Unix epoch (the server writes milliseconds).
    Event {
        seq: i64,
        committed_at_us: Option<i64>,
    },
    /// `lagged`, `closing` or `error`: the text says which and why.
    Problem(String),
    /// Anything else (`pong`, …).
    Other,
}

const EVENT_PREFIX: &str = r#"{"type":"event","seq":"#;
const COMMITTED_AT: &str = r#""committed_at":""#;

/// Reads one frame's JSON text (as bytes: event frames are recognised without checking that
/// the whole text is UTF-8, which the JSON fallback does).
pub fn read(text: &[u8]) -> Frame {
    if let Some(rest) = text.strip_prefix(EVENT_PREFIX.as_bytes()) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if let Some(seq) = number(&rest[..digits]) {
            static COMMITTED_AT_FINDER: LazyLock<memchr::memmem::Finder<'static>> =
                LazyLock::new(|| memchr::memmem::Finder::new(COMMITTED_AT));
            let committed_at_us = COMMITTED_AT_FINDER
                .find(rest)
                .and_then(|at| rest.get(at + COMMITTED_AT.len()..))
                .and_then(|tail| tail.get(..24))
                .and_then(timestamp_micros_of);
            return Frame::Event {
                seq,
                committed_at_us,
            };
        }
    }
    parsed(text)
}

/// The decimal number `digits` spells (1 to 18 ASCII digits).
fn number(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    digits.iter().try_fold(0i64, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    seq: Option<i64>,
    #[serde(default)]
    committed_at: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

fn parsed(text: &[u8]) -> Frame {
    let Ok(head) = serde_json::from_slice::<Head>(text) else {
        let shown: String = String::from_utf8_lossy(text).chars().take(200).collect();
        return Frame::Problem(format!("an unreadable frame: {shown}"));
    };
    match (head.kind.as_str(), head.seq) {
        ("ready", Some(seq)) => Frame::Ready { seq },
        ("subscribed", Some(seq)) => Frame::Subscribed { seq },
        ("event", Some(seq)) => Frame::Event {
            seq,
            committed_at_us: head.committed_at.as_deref().and_then(timestamp_micros),
        },
        ("lagged" | "closing" | "error", _) => Frame::Problem(format!(
            "{} {}: {}",
            head.kind,
            head.code.unwrap_or_default(),
            head.detail.unwrap_or_default()
        )),
        _ => Frame::Other,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (Fathom's canonical timestamp) in microseconds since the epoch.
pub fn timestamp_micros(text: &str) -> Option<i64> {
    timestamp_micros_of(text.as_bytes())
}

fn timestamp_micros_of(b: &[u8]) -> Option<i64> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let number = |from: usize, to: usize| number(b.get(from..to)?);
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let millis = number(20, 23)?;
    let days = days_from_civil(year, month, day)?;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(seconds * 1_000_000 + millis * 1_000)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// Microseconds since the epoch on this machine's clock, the one the server stamps with.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_event_frame_by_its_leading_keys() {
        let text = r#"{"type":"event","seq":42,"collection":"items","id":"0193","version":1,"committed_at":"2026-12-02T11:23:20.123Z","matches":[{"sub":"s","op":"create","record":{"type":"x","seq":1}}]}"#;
        assert_eq!(
            read(text.as_bytes()),
            Frame::Event {
                seq: 42,
                committed_at_us: Some(1_796_210_600_123_000)
            }
        );
    }

    #[test]
    fn reads_other_frames_as_json() {
        assert_eq!(
            read(br#"{"type":"ready","seq":7,"heartbeat_ms":15000}"#),
            Frame::Ready { seq: 7 }
        );
        assert_eq!(
            read(br#"{"type":"subscribed","sub":"a","collection":"items","seq":9}"#),
            Frame::Subscribed { seq: 9 }
        );
        // Keys in another order still read.
        assert_eq!(
            read(br#"{"seq":3,"type":"event","committed_at":"1970-01-01T00:00:01.000Z"}"#),
            Frame::Event {
                seq: 3,
                committed_at_us: Some(1_000_000)
            }
        );
        assert_eq!(
            read(br#"{"type":"lagged","code":"lagged","detail":"too slow","resume":5}"#),
            Frame::Problem("lagged lagged: too slow".into())
        );
        assert_eq!(read(br#"{"type":"pong"}"#), Frame::Other);
        assert!(matches!(read(b"not json"), Frame::Problem(_)));
    }

    #[test]
    fn converts_timestamps_like_the_time_crate() {
        for text in [
            "1970-01-01T00:00:00.000Z",
            "2000-02-29T23:59:59.999Z",
            "2026-12-02T11:23:20.123Z",
            "2100-03-01T00:00:00.001Z",
        ] {
            let parsed =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .expect("a valid timestamp");
            let expected = i64::try_from(parsed.unix_timestamp_nanos() / 1_000).expect("fits");
            assert_eq!(timestamp_micros(text), Some(expected), "{text}");
        }
        assert_eq!(timestamp_micros("2026-13-02T11:23:20.123Z"), None);
        assert_eq!(timestamp_micros("2026-12-02 11:23:20.123Z"), None);
        assert_eq!(timestamp_micros("2026-12-02T11:23:20Z"), None);
    }
}
