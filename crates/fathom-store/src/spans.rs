//! The client spans of database operations: one per record read, count or unit of work, named
//! and attributed after the OpenTelemetry database conventions (`db.system`,
//! `db.operation.name`, `db.collection.name`). They are `debug` spans of the target
//! `fathom::db`, which the log lines never show at the default level; the binary's OpenTelemetry
//! layer (its `otel` feature) enables exactly that target. Disabled, a span costs one check of
//! its call site: its fields are not even computed.

use tracing::Span;

use crate::record::WriteOp;

/// The span of one `operation` (`SELECT`, `INSERT`, ...) on `collection`, inside whatever span
/// is current (a request's server span, usually).
pub(crate) fn operation(system: &'static str, operation: &'static str, collection: &str) -> Span {
    tracing::debug_span!(
        target: "fathom::db",
        "db",
        otel.name = format!("{operation} {collection}"),
        otel.kind = "client",
        db.system = system,
        db.operation.name = operation,
        db.collection.name = collection,
    )
}

/// The operation name of a unit of work: its one operation's statement, or `BATCH` for
/// several (the conventions' name for a batch of different statements).
pub(crate) fn write_operation(ops: &[WriteOp]) -> &'static str {
    match ops {
        [WriteOp::Create { .. }] => "INSERT",
        [WriteOp::Update { .. } | WriteOp::Restore { .. }] => "UPDATE",
        [WriteOp::Delete { collection, .. }] if collection.soft_delete => "UPDATE",
        [WriteOp::Delete { .. } | WriteOp::Purge { .. }] => "DELETE",
        _ => "BATCH",
    }
}
