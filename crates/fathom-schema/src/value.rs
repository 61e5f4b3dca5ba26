//! The domain form of one field value, after validation and before storage.
//!
//! Types without a native SQL counterpart travel as canonical text: decimals keep their scale
//! (`"12.50"`), timestamps are UTC RFC 3339 with milliseconds (`2026-01-31T09:30:00.000Z`, fixed
//! width so that text order is time order), dates are `YYYY-MM-DD`, uuids are lowercase hyphenated.

/// One validated field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Integer(i64),
    Number(f64),
    Text(String),
    Json(serde_json::Value),
}

use std::borrow::Cow;

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use unicode_normalization::{UnicodeNormalization, is_nfc_quick};

/// Text in Unicode Normalization Form C. Two spellings of one string (a precomposed `é`, or `e`
/// and a combining accent) become one, so that `unique`, equality filters and enum membership
/// treat them as the same value. Already-NFC text (nearly all input) is not copied.
pub fn nfc(text: &str) -> Cow<'_, str> {
    // ASCII is always NFC, and `is_ascii` checks a word at a time.
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    match is_nfc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => Cow::Borrowed(text),
        _ => Cow::Owned(text.nfc().collect()),
    }
}

/// Parses an RFC 3339 timestamp into the canonical form. `None` for anything else, for an instant
/// outside years 0000 to 9999, and for a leap second (`23:59:60`): the `time` crate would read it
/// as `23:59:59.999999999`, silently storing an instant the client did not send.
pub fn parse_timestamp(text: &str) -> Option<String> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    // RFC 3339 fixes the width of every field: the seconds are bytes 17 and 18.
    if text.get(17..19) == Some("60") {
        return None;
    }
    format_timestamp(at)
}

/// The canonical timestamp format: UTC, millisecond precision, fixed width.
const TIMESTAMP_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats an instant in the canonical timestamp form (converted to UTC). `None` when the
/// instant falls outside years 0000 to 9999 in UTC, which the fixed-width form cannot hold.
pub fn format_timestamp(at: OffsetDateTime) -> Option<String> {
    let utc = at.checked_to_offset(time::UtcOffset::UTC)?;
    if !(0..=9999).contains(&utc.year()) {
        return None;
    }
    utc.format(TIMESTAMP_FORMAT).ok()
}

/// The current instant in the canonical timestamp form.
pub fn now_timestamp() -> String {
    // The clock is inside 0000..=9999, so formatting cannot fail; the fallback is unreachable.
    format_timestamp(OffsetDateTime::now_utc())
        .unwrap_or_else(|| String::from("1970-01-01T00:00:00.000Z"))
}

/// The instant `after` from now, in the canonical timestamp form.
pub fn timestamp_after(after: std::time::Duration) -> String {
    let at = OffsetDateTime::now_utc()
        .saturating_add(time::Duration::try_from(after).unwrap_or(time::Duration::MAX));
    format_timestamp(at).unwrap_or_else(|| String::from("9999-12-31T23:59:59.999Z"))
}

/// The instant `before` ago, in the canonical timestamp form.
pub fn timestamp_before(before: std::time::Duration) -> String {
    let at = OffsetDateTime::now_utc()
        .saturating_sub(time::Duration::try_from(before).unwrap_or(time::Duration::MAX));
    format_timestamp(at).unwrap_or_else(|| String::from("0000-01-01T00:00:00.000Z"))
}

/// Seconds since the Unix epoch in the canonical timestamp form; `None` outside years 0000 to
/// 9999. The store keeps signing keys' dates as such seconds; people read RFC 3339.
pub fn format_unix_seconds(seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(format_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leap_second_is_no_timestamp_whatever_its_offset() {
        for leap in [
            "2016-12-31T23:59:60Z",
            "2016-12-31t23:59:60.999z",
            "2017-01-01T00:59:60+01:00",
        ] {
            assert_eq!(parse_timestamp(leap), None, "{leap}");
        }
        assert_eq!(
            parse_timestamp("2017-01-01T00:59:59.5+01:00").as_deref(),
            Some("2016-12-31T23:59:59.500Z")
        );
    }

    #[test]
    fn nfc_joins_spellings_and_borrows_what_is_already_normal() {
        assert_eq!(nfc("Cafe\u{301}"), "Caf\u{e9}");
        assert!(matches!(nfc("plain ascii"), Cow::Borrowed(_)));
        assert!(matches!(nfc("Caf\u{e9}"), Cow::Borrowed(_)));
        // Hangul jamo compose too.
        assert_eq!(nfc("\u{1100}\u{1161}"), "\u{ac00}");
    }
}
