//! Conditional requests (RFC 9110 §8.8.3, §13): record `ETag`s, `If-Match` on writes,
//! `If-None-Match` on reads, and the weak `ETag` of a list page.
//!
//! A record's strong ETag is `"<id>.<version>"`: the version grows by one on every change
//! (soft delete and restore included), so the pair names one state of one record. `If-Match` is
//! not checked here but handed to the store as the version the write expects, which puts
//! `version = n` into the write's own statement: of 50 concurrent writers naming the same
//! version, one succeeds and the rest get 412.
//!
//! Forms Fathom refuses (with `invalid_precondition`, 400), because a write to one record has
//! exactly one current version to name: `If-Match: *` (every write here already requires the
//! record to exist), lists of ETags, and weak ETags (RFC 9110 §13.1.1 compares `If-Match`
//! strongly, so a weak one could never match). `If-None-Match` takes one ETag or a list, weak or
//! strong (it compares weakly); `*` is refused there too.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_schema::Collection;
use fathom_store::Record;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;

/// The strong ETag of a record state, quoted as the header carries it.
pub fn record_etag(id: Uuid, version: i64) -> String {
    format!("\"{}.{version}\"", id.hyphenated())
}

/// [`record_etag`] as a header value.
pub fn etag_header(id: Uuid, version: i64) -> HeaderValue {
    HeaderValue::from_str(&record_etag(id, version))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Sets the record's `ETag` on a response.
pub fn with_etag(mut response: Response, record: &Record) -> Response {
    response
        .headers_mut()
        .insert(header::ETAG, etag_header(record.id, record.version));
    response
}

fn invalid(header_name: &str, code: &str, detail: String, hint: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidPrecondition, detail.clone(), hint).with_field(
        header_name,
        code,
        detail,
    )
}

const IF_MATCH_HINT: &str = "Send the record's ETag exactly as a read or write returned it, such as `If-Match: \"0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12.3\"`: one strong ETag, without `W/`, `*` or a list.";

/// Reads an entity tag (`"..."` or `W/"..."`); returns `(weak, opaque)`.
fn entity_tag(text: &str) -> Option<(bool, &str)> {
    let (weak, rest) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let inner = rest.strip_prefix('"')?.strip_suffix('"')?;
    // etagc = %x21 / %x23-7E / obs-text; we take visible ASCII without `"`.
    inner
        .bytes()
        .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
        .then_some((weak, inner))
}

/// The version a strong ETag names for record `id`. An ETag of another record, or not of
/// Fathom's form, names no version the record can have: it reads as version 0 (versions start
/// at 1), so the write fails its precondition with 412 as RFC 9110 says.
fn version_in(opaque: &str, id: Uuid) -> i64 {
    opaque
        .rsplit_once('.')
        .and_then(|(tag_id, version)| {
            let version: i64 = version.parse().ok()?;
            (Uuid::parse_str(tag_id).ok()? == id && version > 0).then_some(version)
        })
        .unwrap_or(0)
}

/// Parses one `If-Match` value (a header's, or a batch operation's `ifMatch`) into the version
/// the write expects. `field` names where it came from, for the error.
pub fn parse_if_match(raw: &str, id: Uuid, field: &str) -> Result<i64, ApiError> {
    let text = raw.trim();
    if text == "*" {
        return Err(invalid(
            field,
            "wildcard",
            "`If-Match: *` is not taken: a write to a record already requires it to exist.".into(),
            IF_MATCH_HINT,
        ));
    }
    if text.contains(',') {
        return Err(invalid(
            field,
            "list",
            "`If-Match` holds a list of ETags; a record has one current version, so name one."
                .into(),
            IF_MATCH_HINT,
        ));
    }
    match entity_tag(text) {
        Some((true, _)) => Err(invalid(
            field,
            "weak",
            "`If-Match` holds a weak ETag (`W/...`), which never matches a write's strong comparison.".into(),
            IF_MATCH_HINT,
        )),
        Some((false, opaque)) => Ok(version_in(opaque, id)),
        None => Err(invalid(
            field,
            "malformed",
            format!(
                "`If-Match` is not an ETag: `{}`.",
                text.chars().take(80).collect::<String>()
            ),
            IF_MATCH_HINT,
        )),
    }
}

/// The `If-Match` header of a write to record `id`, as the version it expects; 428 when the
/// collection requires one and there is none.
pub fn if_match(
    headers: &HeaderMap,
    collection: &Collection,
    id: Uuid,
) -> Result<Option<i64>, ApiError> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let Some(first) = values.next() else {
        return required(collection, "If-Match").map(|()| None);
    };
    if values.next().is_some() {
        return Err(invalid(
            "If-Match",
            "list",
            "The request carries more than one `If-Match` header.".into(),
            IF_MATCH_HINT,
        ));
    }
    let text = first.to_str().map_err(|_| {
        invalid(
            "If-Match",
            "malformed",
            "`If-Match` is not visible ASCII.".into(),
            IF_MATCH_HINT,
        )
    })?;
    parse_if_match(text, id, "If-Match").map(Some)
}

/// 428 when `collection` takes writes only with `If-Match` (`require_if_match = true`).
/// `field` names where the precondition goes (`If-Match`, or a batch operation's `ifMatch`).
pub fn required(collection: &Collection, field: &str) -> Result<(), ApiError> {
    if !collection.require_if_match {
        return Ok(());
    }
    let detail = format!(
        "Writes to `{}` must say which version they change; the request has no `{field}`.",
        collection.name
    );
    Err(ApiError::new(
        ErrorCode::PreconditionRequired,
        detail.clone(),
        "Read the record, then send the write with its ETag: `If-Match: \"<id>.<version>\"` (in a batch, `\"ifMatch\"` on the operation).",
    )
    .with_field(field, "required", detail))
}

/// 412 for a write to `id` whose `If-Match` named another version: the problem carries the
/// current ETag as its `ETag` header.
pub fn stale(id: Uuid, current: i64) -> ApiError {
    ApiError::new(
        ErrorCode::PreconditionFailed,
        format!(
            "The record changed since the ETag in `If-Match`: it is now {}. Nothing was written.",
            record_etag(id, current)
        ),
        "Read the record again, reapply your change to it, and send the write with the new ETag in `If-Match`.",
    )
    .with_header(header::ETAG, etag_header(id, current))
}

/// The opaque tags of `If-None-Match` (weak and strong alike: the comparison is weak), or
/// `None` without the header.
pub fn if_none_match(headers: &HeaderMap) -> Result<Option<Vec<String>>, ApiError> {
    let hint = "Send the ETag a previous response carried, such as `If-None-Match: W/\"...\"`; several may be listed, separated by commas.";
    let mut tags = Vec::new();
    let mut any = false;
    for value in headers.get_all(header::IF_NONE_MATCH) {
        any = true;
        let text = value.to_str().map_err(|_| {
            invalid(
                "If-None-Match",
                "malformed",
                "`If-None-Match` is not visible ASCII.".into(),
                hint,
            )
        })?;
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "*" {
                return Err(invalid(
                    "If-None-Match",
                    "wildcard",
                    "`If-None-Match: *` is not taken on reads.".into(),
                    hint,
                ));
            }
            let (_, opaque) = entity_tag(item).ok_or_else(|| {
                invalid(
                    "If-None-Match",
                    "malformed",
                    format!(
                        "`If-None-Match` holds something that is not an ETag: `{}`.",
                        item.chars().take(80).collect::<String>()
                    ),
                    hint,
                )
            })?;
            tags.push(opaque.to_owned());
        }
    }
    if any && tags.is_empty() {
        return Err(invalid(
            "If-None-Match",
            "malformed",
            "`If-None-Match` is empty.".into(),
            hint,
        ));
    }
    Ok(any.then_some(tags))
}

/// Whether `etag` (quoted, possibly weak) is among `tags` by weak comparison.
pub fn matches_any(tags: &[String], etag: &str) -> bool {
    entity_tag(etag).is_some_and(|(_, opaque)| tags.iter().any(|t| t == opaque))
}

/// `304 Not Modified` with the validator the client holds.
pub fn not_modified(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The weak ETag of a list page: a digest of everything the page shows (the shaped records,
/// expanded relations included, and `meta.page`: the next cursor and, when counted, the
/// total), never of the request id. A change, creation or deletion of a shown record, or a
/// change of the count, changes it; a change to a record the page does not show does not.
pub fn list_etag(data: &Value, page: &Value) -> String {
    let mut digest = Sha256::new();
    digest.update(data.to_string().as_bytes());
    digest.update([0]);
    digest.update(page.to_string().as_bytes());
    let hash = digest.finalize();
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"l-{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_reads_our_strong_etags_and_refuses_the_other_forms() {
        let id = Uuid::now_v7();
        let tag = record_etag(id, 7);
        assert_eq!(parse_if_match(&tag, id, "If-Match").ok(), Some(7));
        assert_eq!(
            parse_if_match(&record_etag(Uuid::now_v7(), 7), id, "x").ok(),
            Some(0)
        );
        assert_eq!(parse_if_match("\"abc\"", id, "x").ok(), Some(0));
        for (raw, code) in [
            ("*", "wildcard"),
            (&format!("{tag}, {tag}"), "list"),
            (&format!("W/{tag}"), "weak"),
            ("abc", "malformed"),
            ("\"a b\"", "malformed"),
            ("", "malformed"),
        ] {
            let error = parse_if_match(raw, id, "If-Match").unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidPrecondition);
            assert_eq!(error.errors[0].code, code, "{raw}");
        }
    }

    #[test]
    fn list_etags_are_weak_and_follow_the_content() {
        let a = list_etag(&serde_json::json!([{"id": 1}]), &serde_json::json!({}));
        let b = list_etag(&serde_json::json!([{"id": 2}]), &serde_json::json!({}));
        assert!(a.starts_with("W/\""));
        assert_ne!(a, b);
        assert!(matches_any(&["l-x".into(), a[3..a.len() - 1].into()], &a));
    }
}
