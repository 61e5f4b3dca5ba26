//! Record reads and writes on SQLite. SQL is built with sea-query and every value is bound as a
//! parameter; statements are cached per connection (the SQL text for a collection is stable).

use std::sync::Arc;

use fathom_query::{Dialect, Filter};
use fathom_schema::{Collection, FieldType, OnDelete, Schema, Value};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, StatementStatus};
use sea_query::SqliteQueryBuilder;
use uuid::Uuid;

use crate::cascade;
use crate::error::{StoreError, from_sqlite};
use crate::events::Draft;
use crate::record::{Deleted, ListQuery, Record, Scope, WriteOp, WriteResult};
use crate::shapes::Scan;
use crate::statements::{self, Removal};

use super::get_sql;

const DIALECT: Dialect = Dialect::Sqlite;

/// Binds sea-query's values to rusqlite. We only ever produce the variants handled here.
pub(crate) fn bind(values: sea_query::Values) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as Sql;
    values
        .0
        .into_iter()
        .map(|v| match v {
            sea_query::Value::Bool(b) => b.map_or(Sql::Null, |b| Sql::Integer(i64::from(b))),
            sea_query::Value::Int(i) => i.map_or(Sql::Null, |i| Sql::Integer(i64::from(i))),
            sea_query::Value::BigInt(i) => i.map_or(Sql::Null, Sql::Integer),
            sea_query::Value::BigUnsigned(i) => i.map_or(Sql::Null, |i| {
                Sql::Integer(i64::try_from(i).unwrap_or(i64::MAX))
            }),
            sea_query::Value::Unsigned(i) => i.map_or(Sql::Null, |i| Sql::Integer(i64::from(i))),
            sea_query::Value::Double(n) => n.map_or(Sql::Null, Sql::Real),
            sea_query::Value::String(s) => s.map_or(Sql::Null, Sql::Text),
            _ => Sql::Null,
        })
        .collect()
}

fn read_record(collection: &Collection, row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let id: String = row.get(0)?;
    let id = Uuid::parse_str(&id).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let version: i64 = row.get(1)?;
    let mut next = 2;
    let mut column = || {
        next += 1;
        next - 1
    };
    let tenant = if collection.tenant_scoped {
        Some(row.get(column())?)
    } else {
        None
    };
    let (created_at, updated_at) = if collection.timestamps {
        (Some(row.get(column())?), Some(row.get(column())?))
    } else {
        (None, None)
    };
    let mut values = Vec::with_capacity(collection.fields.len());
    for field in &collection.fields {
        let raw = row.get_ref(column())?;
        values.push((field.name.clone(), read_value(&field.kind, raw)));
    }
    Ok(Record {
        id,
        tenant,
        created_at,
        updated_at,
        version,
        values,
    })
}

fn read_value(kind: &FieldType, raw: ValueRef<'_>) -> Value {
    match (kind, raw) {
        (_, ValueRef::Null) => Value::Null,
        (FieldType::Boolean, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (FieldType::Json, ValueRef::Text(t)) => {
            serde_json::from_slice(t).map_or(Value::Null, Value::Json)
        }
        (_, ValueRef::Integer(i)) => Value::Integer(i),
        (_, ValueRef::Real(r)) => Value::Number(r),
        (_, ValueRef::Text(t)) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        (_, ValueRef::Blob(_)) => Value::Null,
    }
}

fn query_records(
    conn: &Connection,
    collection: &Collection,
    sql: &str,
    values: sea_query::Values,
) -> Result<Vec<Record>, StoreError> {
    Ok(query_scanned(conn, collection, sql, values)?.0)
}

/// [`query_records`] with the statement's status counters for this run (see [`scan_of`]).
fn query_scanned(
    conn: &Connection,
    collection: &Collection,
    sql: &str,
    values: sea_query::Values,
) -> Result<(Vec<Record>, Scan), StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(from_sqlite)?;
    let records = statement
        .query_map(rusqlite::params_from_iter(bind(values)), |row| {
            read_record(collection, row)
        })
        .map_err(from_sqlite)?
        .map(|r| r.map_err(from_sqlite))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((records, scan_of(&statement)))
}

/// The rows a full scan stepped through and the sorts the cached statement ran since it was
/// last read, resetting both so the next run of the same cached statement starts from zero.
fn scan_of(statement: &rusqlite::Statement<'_>) -> Scan {
    let read = |status| u64::try_from(statement.reset_status(status)).unwrap_or(0);
    Scan {
        visited: Some(read(StatementStatus::FullscanStep)),
        sorts: Some(read(StatementStatus::Sort)),
    }
}

pub(crate) fn get(
    conn: &Connection,
    scope: &Scope,
    collection: &Arc<Collection>,
    id: Uuid,
) -> Result<(Option<Record>, Scan), StoreError> {
    let sql = get_sql::select_by_id(collection, scope);
    let values = statements::by_id_values(collection, scope, id);
    let (mut records, scan) = query_scanned(conn, collection, &sql, values)?;
    Ok((records.pop(), scan))
}

pub(crate) fn list(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    list: &ListQuery,
    deleted: Deleted,
) -> Result<(Vec<Record>, Scan), StoreError> {
    let (sql, values) = statements::list_select(DIALECT, collection, scope, list, deleted)
        .build(SqliteQueryBuilder);
    query_scanned(conn, collection, &sql, values)
}

pub(crate) fn explain(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    list: &ListQuery,
) -> Result<Vec<String>, StoreError> {
    let (sql, values) = statements::list_select(DIALECT, collection, scope, list, Deleted::Hidden)
        .build(SqliteQueryBuilder);
    let mut statement = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(bind(values)), |row| {
            row.get::<_, String>(3)
        })
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub(crate) fn count(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    filter: Option<&Filter>,
    deleted: Deleted,
) -> Result<(u64, Scan), StoreError> {
    let (sql, values) = statements::count_select(DIALECT, collection, scope, filter, deleted)
        .build(SqliteQueryBuilder);
    let mut statement = conn.prepare_cached(&sql).map_err(from_sqlite)?;
    let n: i64 = statement
        .query_row(rusqlite::params_from_iter(bind(values)), |r| r.get(0))
        .map_err(from_sqlite)?;
    Ok((u64::try_from(n).unwrap_or(0), scan_of(&statement)))
}

fn execute(
    conn: &Connection,
    (sql, values): (String, sea_query::Values),
) -> Result<usize, StoreError> {
    let mut statement = conn.prepare_cached(&sql).map_err(from_sqlite)?;
    statement
        .execute(rusqlite::params_from_iter(bind(values)))
        .map_err(from_sqlite)
}

fn create(
    conn: &Connection,
    scope: &Scope,
    collection: &Arc<Collection>,
    id: Option<Uuid>,
    values: &[(String, Value)],
    explicit_tenant: Option<&String>,
) -> Result<Record, StoreError> {
    let (query, record) = statements::insert(collection, scope, id, values, explicit_tenant)?;
    execute(conn, query.build(SqliteQueryBuilder))?;
    Ok(record)
}

fn update(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
    values: &[(String, Value)],
    guard: Option<&Filter>,
    expected: Option<i64>,
) -> Result<Record, StoreError> {
    let (sql, changes) = if values.is_empty() {
        statements::unchanged(DIALECT, collection, scope, id, guard, expected)
            .build(SqliteQueryBuilder)
    } else {
        statements::update(DIALECT, collection, scope, id, values, guard, expected)
            .build(SqliteQueryBuilder)
    };
    let Some(record) = query_records(conn, collection, &sql, changes)?.pop() else {
        return Err(missed(conn, scope, collection, id, guard, expected));
    };
    // The rule must still hold for the row as changed; the job's savepoint is rolled back when
    // it does not.
    if let Some(rule) = guard.filter(|_| !values.is_empty()) {
        let (sql, values) = statements::still_allowed(DIALECT, collection, scope, id, rule)
            .build(SqliteQueryBuilder);
        let mut statement = conn.prepare_cached(&sql).map_err(from_sqlite)?;
        let allowed = statement
            .exists(rusqlite::params_from_iter(bind(values)))
            .map_err(from_sqlite)?;
        if !allowed {
            return Err(StoreError::rule_violation());
        }
    }
    Ok(record)
}

/// Removes (or soft-deletes) the record; returns it as soft-deleted or as it was.
fn delete(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
    guard: Option<&Filter>,
    expected: Option<i64>,
) -> Result<Record, StoreError> {
    let (sql, values) = match statements::delete(DIALECT, collection, scope, id, guard, expected) {
        Removal::Soft(query) => query.build(SqliteQueryBuilder),
        Removal::Hard(query) => query.build(SqliteQueryBuilder),
    };
    query_records(conn, collection, &sql, values)?
        .pop()
        .ok_or_else(|| missed(conn, scope, collection, id, guard, expected))
}

/// Brings back a soft-deleted record; returns it as restored.
fn restore(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
    guard: Option<&Filter>,
    expected: Option<i64>,
) -> Result<Record, StoreError> {
    let (sql, values) = statements::restore(DIALECT, collection, scope, id, guard, expected)
        .build(SqliteQueryBuilder);
    if let Some(record) = query_records(conn, collection, &sql, values)?.pop() {
        return Ok(record);
    }
    let (sql, values) =
        statements::deleted_by_id(DIALECT, collection, scope, id, guard).build(SqliteQueryBuilder);
    let deleted = query_records(conn, collection, &sql, values)?.pop();
    Err(match (deleted, expected) {
        (Some(record), Some(_)) => StoreError::precondition_failed(record.version),
        _ => StoreError::not_found(),
    })
}

/// Why a guarded write touched no row: with an `If-Match` version, a record the caller may
/// change that stands at another version is a failed precondition (read in the write's own
/// transaction, so the version reported is the one that beat it); otherwise it is not found.
fn missed(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
    guard: Option<&Filter>,
    expected: Option<i64>,
) -> StoreError {
    if expected.is_none() {
        return StoreError::not_found();
    }
    let (sql, values) = statements::unchanged(DIALECT, collection, scope, id, guard, None)
        .build(SqliteQueryBuilder);
    match query_records(conn, collection, &sql, values) {
        Ok(mut rows) => rows.pop().map_or_else(StoreError::not_found, |r| {
            StoreError::precondition_failed(r.version)
        }),
        Err(error) => error,
    }
}

/// Applies one write operation inside the current transaction; returns its result and the
/// draft of its outbox event (none for an update that changed nothing).
pub(crate) fn apply(
    conn: &Connection,
    scope: &Scope,
    op: &WriteOp,
) -> Result<(WriteResult, Option<Draft>), StoreError> {
    let (result, removed) = apply_op(conn, scope, op)?;
    let draft = Draft::of_result(op, &result, removed.as_ref());
    Ok((result, draft))
}

/// The result, and for a delete the record as it was removed.
fn apply_op(
    conn: &Connection,
    scope: &Scope,
    op: &WriteOp,
) -> Result<(WriteResult, Option<Record>), StoreError> {
    match op {
        WriteOp::Create {
            id,
            collection,
            values,
            tenant,
        } => create(conn, scope, collection, *id, values, tenant.as_ref())
            .map(|r| (WriteResult::Created(r), None)),
        WriteOp::Update {
            collection,
            id,
            values,
            guard,
            expected_version,
        } => update(
            conn,
            scope,
            collection,
            *id,
            values,
            guard.as_ref(),
            *expected_version,
        )
        .map(|r| (WriteResult::Updated(r), None)),
        WriteOp::Delete {
            collection,
            id,
            guard,
            expected_version,
        } => delete(
            conn,
            scope,
            collection,
            *id,
            guard.as_ref(),
            *expected_version,
        )
        .map(|r| (WriteResult::Deleted { id: *id }, Some(r))),
        WriteOp::Restore {
            collection,
            id,
            guard,
            expected_version,
        } => restore(
            conn,
            scope,
            collection,
            *id,
            guard.as_ref(),
            *expected_version,
        )
        .map(|r| (WriteResult::Updated(r), None)),
        WriteOp::Purge { collection, id } => {
            let (sql, values) = statements::purge(collection, *id).build(SqliteQueryBuilder);
            query_records(conn, collection, &sql, values)?
                .pop()
                .map(|r| (WriteResult::Deleted { id: *id }, Some(r)))
                .ok_or_else(StoreError::not_found)
        }
    }
}

/// Ids of records soft-deleted before `before`, oldest first.
pub(crate) fn purgeable(
    conn: &Connection,
    collection: &Collection,
    before: &str,
    limit: u64,
) -> Result<Vec<Uuid>, StoreError> {
    let (sql, values) = statements::purgeable(collection, before, limit).build(SqliteQueryBuilder);
    Ok(query_records(conn, collection, &sql, values)?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Before the hard delete of `id` in `collection`: removes (depth first) or clears every record
/// pointing at it through a `Cascade` or `SetNull` relation, drafting an event for each.
pub(crate) fn cascade(
    conn: &Connection,
    schema: &Schema,
    collection: &Collection,
    id: Uuid,
    drafts: &mut Vec<Draft>,
    depth: usize,
) -> Result<(), StoreError> {
    if depth > cascade::MAX_DEPTH {
        return Err(StoreError::internal(
            "a delete cascades deeper than 64 levels",
        ));
    }
    for referrer in cascade::referrers(schema, &collection.name) {
        match referrer.action {
            OnDelete::Cascade => {
                let (sql, values) = cascade::pointing_at(&referrer, id).build(SqliteQueryBuilder);
                for child in query_records(conn, &referrer.collection, &sql, values)? {
                    cascade(
                        conn,
                        schema,
                        &referrer.collection,
                        child.id,
                        drafts,
                        depth + 1,
                    )?;
                    let (sql, values) =
                        cascade::remove(&referrer.collection, child.id).build(SqliteQueryBuilder);
                    for removed in query_records(conn, &referrer.collection, &sql, values)? {
                        drafts.push(cascade::removed(&referrer.collection, &removed));
                    }
                }
            }
            OnDelete::SetNull => {
                let (sql, values) = cascade::clear(&referrer, id).build(SqliteQueryBuilder);
                for row in query_records(conn, &referrer.collection, &sql, values)? {
                    drafts.push(cascade::cleared(&referrer, &row));
                }
            }
            OnDelete::Restrict => {}
        }
    }
    Ok(())
}
