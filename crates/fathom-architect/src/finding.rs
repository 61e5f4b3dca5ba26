//! A finding: one piece of advice, in the form every surface (`fathom advise`, `GET
//! /api/v1/admin/advice`, `fathom migrate plan`) shows.

use serde::{Deserialize, Serialize};

/// What a finding is about. The names are part of the API (`kind` in JSON): never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A frequent or slow read scans or sorts where an index would serve it.
    MissingIndex,
    /// An index another index already serves (a prefix of it, or the same columns).
    RedundantIndex,
    /// An index no recorded read uses (SQLite) or the database never scanned (PostgreSQL).
    UnusedIndex,
    /// A relation whose referencing side has no index.
    UnindexedRelation,
    /// Many gets by id on one collection from one caller right after a list.
    NPlusOne,
    /// Pages read at a large offset where a cursor would serve.
    LargeOffset,
    /// `count=true` on every page of a large collection.
    CountEveryPage,
    /// A caller pages through a whole large collection.
    UnboundedScan,
    /// A migration step that locks or rewrites a table, or fails on the data it meets.
    MigrationRisk,
    /// A migration changes the API in a way existing clients break on.
    BreakingApiChange,
    /// A migration changes the API in a way existing clients keep working with.
    AdditiveApiChange,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// The exact change a finding proposes: what to add to the schema file (TOML lines, for
/// `fathom advise --apply` to write for review) and the SQL the migration would run; or, for
/// client advice, the request to make instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// TOML lines to add to the schema file, under the collection they name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_patch: Option<String>,
    /// The migration's SQL on the database this server runs on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql: Vec<String>,
    /// What to do, in words (the request to make instead, the safe way to migrate).
    pub advice: String,
}

/// One piece of advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// The collection it is about, when one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// One line saying what was found.
    pub title: String,
    /// What it rests on: counts, latencies, plans before and after.
    pub evidence: serde_json::Value,
    /// The estimated gain, in words with numbers (`p95 9.9 ms → est. 0.3 ms`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain: Option<String>,
    pub change: Change,
}
