//! Record reads and writes on PostgreSQL: the shared sea-query statements rendered for
//! PostgreSQL, bound by type, run within the caller's scope, and read back into records in the
//! canonical forms.

use deadpool_postgres::GenericClient;
use fathom_query::{Dialect, Filter};
use fathom_schema::Collection;
use sea_query::PostgresQueryBuilder;
use tokio_postgres::Row;
use uuid::Uuid;

use super::PgStore;
use super::events;
use super::scope;
use super::values::{self, get_timestamp, get_uuid, lower, read_value};
use crate::error::{StoreError, from_postgres};
use crate::events::Draft;
use crate::record::{ListQuery, Record, Scope, UnitOfWork, WriteOp, WriteResult};
use crate::statements::{self, Removal};

const DIALECT: Dialect = Dialect::Postgres;
const PG: PostgresQueryBuilder = PostgresQueryBuilder;

/// Reads a row of [`statements::select_columns`] into a record.
fn read_record(collection: &Collection, row: &Row) -> Result<Record, StoreError> {
    let id = get_uuid(row, 0)?;
    let version: i64 = values::get(row, 1)?;
    let mut next = 2;
    let mut column = || {
        next += 1;
        next - 1
    };
    let tenant = if collection.tenant_scoped {
        Some(values::get::<String>(row, column())?)
    } else {
        None
    };
    let (created_at, updated_at) = if collection.timestamps {
        (get_timestamp(row, column())?, get_timestamp(row, column())?)
    } else {
        (None, None)
    };
    let mut values = Vec::with_capacity(collection.fields.len());
    for field in &collection.fields {
        values.push((field.name.clone(), read_value(row, column())?));
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

fn records(collection: &Collection, rows: &[Row]) -> Result<Vec<Record>, StoreError> {
    rows.iter().map(|r| read_record(collection, r)).collect()
}

pub(crate) async fn get(
    store: &PgStore,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
) -> Result<Option<Record>, StoreError> {
    let built = lower(statements::select_by_id(collection, scope, id).build(PG));
    let mut client = store.client().await?;
    let rows = scope::read(&mut client, scope, collection.tenant_scoped, built).await?;
    Ok(records(collection, &rows)?.pop())
}

pub(crate) async fn list(
    store: &PgStore,
    scope: &Scope,
    collection: &Collection,
    list: &ListQuery,
) -> Result<Vec<Record>, StoreError> {
    let built = lower(statements::list_select(DIALECT, collection, scope, list).build(PG));
    let mut client = store.client().await?;
    let rows = scope::read(&mut client, scope, collection.tenant_scoped, built).await?;
    records(collection, &rows)
}

pub(crate) async fn explain(
    store: &PgStore,
    scope: &Scope,
    collection: &Collection,
    list: &ListQuery,
) -> Result<Vec<String>, StoreError> {
    let mut built = lower(statements::list_select(DIALECT, collection, scope, list).build(PG));
    built.text = format!("EXPLAIN {}", built.text);
    let mut client = store.client().await?;
    let rows = scope::read(&mut client, scope, collection.tenant_scoped, built).await?;
    rows.iter().map(|r| values::get::<String>(r, 0)).collect()
}

pub(crate) async fn count(
    store: &PgStore,
    scope: &Scope,
    collection: &Collection,
    filter: Option<&Filter>,
) -> Result<u64, StoreError> {
    let built = lower(statements::count_select(DIALECT, collection, scope, filter).build(PG));
    let mut client = store.client().await?;
    let rows = scope::read(&mut client, scope, collection.tenant_scoped, built).await?;
    let n: i64 = rows
        .first()
        .map(|r| values::get(r, 0))
        .transpose()?
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Runs every operation in one transaction, in the unit's scope, and appends their events as
/// the last statement before COMMIT. Returns the results and the last sequence taken.
pub(crate) async fn execute(
    store: &PgStore,
    work: &UnitOfWork,
) -> Result<(Vec<WriteResult>, Option<i64>), StoreError> {
    let mut client = store.client().await?;
    let tenant_scoped = work.ops.iter().any(|op| collection_of(op).tenant_scoped);
    let tx = client.transaction().await.map_err(from_postgres)?;
    if tenant_scoped {
        scope::enter(&tx, &work.scope).await?;
    }
    let mut results = Vec::with_capacity(work.ops.len());
    let mut drafts = Vec::with_capacity(work.ops.len());
    for (n, op) in work.ops.iter().enumerate() {
        let (result, removed) = apply(&tx, &work.scope, op)
            .await
            .map_err(|e| e.at_operation(n))?;
        drafts.extend(Draft::of_result(op, &result, removed.as_ref()));
        results.push(result);
    }
    // Last: the counter row's lock is held from here to COMMIT, as briefly as possible.
    let last = events::append(&tx, &drafts, &work.origin).await?;
    tx.commit().await.map_err(from_postgres)?;
    Ok((results, last))
}

fn collection_of(op: &WriteOp) -> &Collection {
    match op {
        WriteOp::Create { collection, .. }
        | WriteOp::Update { collection, .. }
        | WriteOp::Delete { collection, .. } => collection,
    }
}

/// Applies one operation; returns its result and, for a delete, the record as removed.
async fn apply<C: GenericClient>(
    tx: &C,
    scope: &Scope,
    op: &WriteOp,
) -> Result<(WriteResult, Option<Record>), StoreError> {
    match op {
        WriteOp::Create {
            id,
            collection,
            values,
            tenant,
        } => {
            // Built before the await: sea-query's statements are not Send.
            let (built, record) =
                statements::insert(collection, scope, *id, values, tenant.as_ref())
                    .map(|(query, record)| (lower(query.build(PG)), record))?;
            scope::query(tx, built).await?;
            Ok((WriteResult::Created(record), None))
        }
        WriteOp::Update {
            collection,
            id,
            values,
            guard,
        } => {
            let built = lower(if values.is_empty() {
                statements::unchanged(DIALECT, collection, scope, *id, guard.as_ref()).build(PG)
            } else {
                statements::update(DIALECT, collection, scope, *id, values, guard.as_ref())
                    .build(PG)
            });
            let rows = scope::query(tx, built).await?;
            let record = records(collection, &rows)?
                .pop()
                .ok_or_else(StoreError::not_found)?;
            // The rule must still hold for the row as changed; the caller's transaction is
            // rolled back when it does not.
            if let Some(rule) = guard.as_ref().filter(|_| !values.is_empty()) {
                let built = lower(
                    statements::still_allowed(DIALECT, collection, scope, *id, rule).build(PG),
                );
                if scope::query(tx, built).await?.is_empty() {
                    return Err(StoreError::rule_violation());
                }
            }
            Ok((WriteResult::Updated(record), None))
        }
        WriteOp::Delete {
            collection,
            id,
            guard,
        } => {
            let built = lower(
                match statements::delete(DIALECT, collection, scope, *id, guard.as_ref()) {
                    Removal::Soft(query) => query.build(PG),
                    Removal::Hard(query) => query.build(PG),
                },
            );
            let rows = scope::query(tx, built).await?;
            let removed = records(collection, &rows)?
                .pop()
                .ok_or_else(StoreError::not_found)?;
            Ok((WriteResult::Deleted { id: *id }, Some(removed)))
        }
    }
}
