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

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

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

/// Seconds since the Unix epoch in the canonical timestamp form; `None` outside years 0000 to
/// 9999. The store keeps signing keys' dates as such seconds; people read RFC 3339.
pub fn format_unix_seconds(seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(format_timestamp)
}
