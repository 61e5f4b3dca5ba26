//! A collection's `cache` option: how long answers about it may be served from a node's result
//! cache, written as a duration such as `"30s"`.

use std::time::Duration;

use toml_edit::TableLike;

use super::context::{Context, Entry};

/// The longest a collection's answers may be cached: a day. Longer would only hide a node that
/// stopped following the outbox.
const LONGEST: Duration = Duration::from_secs(86_400);

/// Reads `cache` of collection `collection`: `None` when absent, zero or unusable (an unusable
/// value is reported).
pub(super) fn read_cache(
    cx: &mut Context<'_>,
    table: &dyn TableLike,
    path: &str,
    collection: &str,
) -> Option<Duration> {
    let entry = Entry::get(table, "cache")?;
    let hint = "Write a duration such as `cache = \"30s\"` (units ms, s, m, h; at most 24h), or \
                `cache = \"0s\"` to cache nothing.";
    let Some(text) = entry.item.as_str() else {
        cx.report(
            entry.value_span(),
            &format!("{path}.cache"),
            format!(
                "`cache` in collection `{collection}` must be a duration in a string, but it is {}.",
                cx.found(entry.item)
            ),
            hint.to_owned(),
        );
        return None;
    };
    match parse_duration(text) {
        Some(ttl) if ttl <= LONGEST => Some(ttl).filter(|ttl| !ttl.is_zero()),
        parsed => {
            let problem = if parsed.is_some() {
                "is longer than a day"
            } else {
                "is not a duration"
            };
            cx.report(
                entry.value_span(),
                &format!("{path}.cache"),
                format!("`cache` in collection `{collection}` is \"{text}\", which {problem}."),
                hint.to_owned(),
            );
            None
        }
    }
}

/// `<whole number><unit>` with the unit `ms`, `s`, `m` or `h`; nothing else.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 12 {
        return None;
    }
    let (number, unit) = text.split_at(digits);
    let n: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_whole_number_and_a_unit() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in ["", "30", "s", "1.5s", "-1s", "30 s", "30sec", "1d", "９s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
