//! `GET /api/v1/admin/advice?kind=`: every finding [`super::collect`] gathers (administrators
//! only), optionally only those of one kind, with `meta.indexesCheckedAt`.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use fathom_architect::FindingKind;
use fathom_core::ErrorCode;
use serde_json::{Map, Value};

use crate::AppState;
use crate::admin::Admin;
use crate::envelope::envelope;
use crate::error::ApiError;

/// Every finding kind, as `kind=` takes it (the names `FindingKind` serializes to).
pub const KINDS: &[&str] = &[
    "missing_index",
    "redundant_index",
    "unused_index",
    "unindexed_relation",
    "n_plus_one",
    "large_offset",
    "count_every_page",
    "unbounded_scan",
    "migration_risk",
    "breaking_api_change",
    "additive_api_change",
];

fn invalid(parameter: &str, detail: String) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidQuery,
        detail.clone(),
        format!(
            "Leave the query out for every finding, or give kind once, one of: {}.",
            KINDS.join(", ")
        ),
    )
    .with_field(parameter, "invalid_parameter", detail)
}

/// The kind asked for, if any; anything but one known `kind` is refused.
fn parse(query: Option<&str>) -> Result<Option<FindingKind>, ApiError> {
    let mut kind = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let shown: String = key.chars().take(64).collect();
        if key != "kind" {
            return Err(invalid(
                &shown,
                format!("`{shown}` is not a parameter of this endpoint."),
            ));
        }
        if kind.is_some() {
            return Err(invalid("kind", "`kind` may be given once.".into()));
        }
        let parsed = serde_json::from_value::<FindingKind>(Value::String(value.to_string()))
            .map_err(|_| {
                invalid(
                    "kind",
                    format!(
                        "`{}` is not a kind of finding.",
                        value.chars().take(64).collect::<String>()
                    ),
                )
            })?;
        kind = Some(parsed);
    }
    Ok(kind)
}

pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let kind = parse(query.as_deref())?;
    let (findings, checked_at) = super::collect(&state).await?;
    let findings: Vec<_> = findings
        .into_iter()
        .filter(|finding| kind.is_none_or(|kind| finding.kind == kind))
        .collect();
    let data = serde_json::to_value(findings).unwrap_or(Value::Array(Vec::new()));
    let mut meta = Map::new();
    meta.insert("indexesCheckedAt".into(), Value::String(checked_at));
    Ok(envelope(data, meta).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `FindingKind`: the match fails to compile when a kind is added, so `KINDS` (and
    /// the OpenAPI enum built from it) cannot silently miss one.
    fn is_listed(kind: FindingKind) -> bool {
        let name = match kind {
            FindingKind::MissingIndex
            | FindingKind::RedundantIndex
            | FindingKind::UnusedIndex
            | FindingKind::UnindexedRelation
            | FindingKind::NPlusOne
            | FindingKind::LargeOffset
            | FindingKind::CountEveryPage
            | FindingKind::UnboundedScan
            | FindingKind::MigrationRisk
            | FindingKind::BreakingApiChange
            | FindingKind::AdditiveApiChange => serde_json::to_value(kind).expect("serializes"),
        };
        KINDS.iter().any(|k| name == *k)
    }

    #[test]
    fn kinds_lists_every_finding_kind() {
        for kind in [
            FindingKind::MissingIndex,
            FindingKind::RedundantIndex,
            FindingKind::UnusedIndex,
            FindingKind::UnindexedRelation,
            FindingKind::NPlusOne,
            FindingKind::LargeOffset,
            FindingKind::CountEveryPage,
            FindingKind::UnboundedScan,
            FindingKind::MigrationRisk,
            FindingKind::BreakingApiChange,
            FindingKind::AdditiveApiChange,
        ] {
            assert!(is_listed(kind), "{kind:?} is missing from KINDS");
        }
    }

    #[test]
    fn every_kind_parses_and_nothing_else_does() {
        for name in KINDS {
            let kind = parse(Some(&format!("kind={name}"))).expect("a known kind");
            assert_eq!(
                serde_json::to_value(kind).expect("serializes"),
                Value::String((*name).to_owned())
            );
        }
        assert!(parse(None).expect("no filter").is_none());
        assert!(parse(Some("kind=n_plus_two")).is_err());
        assert!(parse(Some("kind=n_plus_one&kind=large_offset")).is_err());
        assert!(parse(Some("sort=kind")).is_err());
    }
}
