//! Record reads and writes on PostgreSQL: the shared sea-query statements rendered for
//! PostgreSQL, bound by type, run within the caller's scope, and read back into records in the
//! canonical forms.

use deadpool_postgres::GenericClient;
use fathom_query::{Dialect, Filter};
use std::pin::Pin;
use std::sync::Arc;

use fathom_schema::{Collection, OnDelete, Schema};
use sea_query::PostgresQueryBuilder;
use tokio_postgres::Row;
use uuid::Uuid;

use super::PgStore;
use super::events;
use super::scope;
use super::values::{self, get_timestamp, get_uuid, lower, read_value};
use crate::cascade;
use crate::error::{StoreError, from_postgres};
use crate::events::Draft;
use crate::record::{Deleted, ListQuery, Record, Scope, UnitOfWork, WriteOp, WriteResult};
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
    deleted: Deleted,
) -> Result<Vec<Record>, StoreError> {
    let built = lower(statements::list_select(DIALECT, collection, scope, list, deleted).build(PG));
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
    let mut built =
        lower(statements::list_select(DIALECT, collection, scope, list, Deleted::Hidden).build(PG));
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
    deleted: Deleted,
) -> Result<u64, StoreError> {
    let built =
        lower(statements::count_select(DIALECT, collection, scope, filter, deleted).build(PG));
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
/// the last statement before COMMIT (which numbers them).
pub(crate) async fn execute(
    store: &PgStore,
    work: &UnitOfWork,
) -> Result<Vec<WriteResult>, StoreError> {
    let mut client = store.client().await?;
    let tenant_scoped = work.ops.iter().any(|op| collection_of(op).tenant_scoped);
    let tx = client.transaction().await.map_err(from_postgres)?;
    if tenant_scoped {
        scope::enter(&tx, &work.scope).await?;
    }
    let mut results = Vec::with_capacity(work.ops.len());
    let mut drafts = Vec::with_capacity(work.ops.len());
    for (n, op) in work.ops.iter().enumerate() {
        if let Some((collection, id)) = crate::record::removes_row(op) {
            let schema = applied_schema(store, &tx).await?;
            cascade(&tx, &schema, collection.clone(), *id, &mut drafts, 0)
                .await
                .map_err(|e| e.at_operation(n))?;
        }
        let (result, removed) = apply(&tx, &work.scope, op)
            .await
            .map_err(|e| e.at_operation(n))?;
        drafts.extend(Draft::of_result(op, &result, removed.as_ref()));
        results.push(result);
    }
    if let Some(idempotency) = &work.idempotency {
        super::idempotency::store(&tx, idempotency, &results).await?;
    }
    // Numbered during COMMIT by the deferred trigger, which holds the counter row's lock only
    // while the transaction commits.
    events::append(&tx, &drafts, &work.origin).await?;
    // Audit entries of `audit = true` collections: the head row's lock is taken here, last,
    // so it is held only for the inserts and the COMMIT.
    super::audit::append(&tx, &crate::audit::record_entries(&drafts, &work.origin)).await?;
    tx.commit().await.map_err(from_postgres)?;
    Ok(results)
}

fn collection_of(op: &WriteOp) -> &Collection {
    op.collection()
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
            expected_version,
        } => {
            let expected = *expected_version;
            let built = lower(if values.is_empty() {
                statements::unchanged(DIALECT, collection, scope, *id, guard.as_ref(), expected)
                    .build(PG)
            } else {
                statements::update(
                    DIALECT,
                    collection,
                    scope,
                    *id,
                    values,
                    guard.as_ref(),
                    expected,
                )
                .build(PG)
            });
            let rows = scope::query(tx, built).await?;
            let Some(record) = records(collection, &rows)?.pop() else {
                return Err(missed(tx, scope, collection, *id, guard.as_ref(), expected).await);
            };
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
            expected_version,
        } => {
            let expected = *expected_version;
            let built = lower(
                match statements::delete(DIALECT, collection, scope, *id, guard.as_ref(), expected)
                {
                    Removal::Soft(query) => query.build(PG),
                    Removal::Hard(query) => query.build(PG),
                },
            );
            let rows = scope::query(tx, built).await?;
            let Some(removed) = records(collection, &rows)?.pop() else {
                return Err(missed(tx, scope, collection, *id, guard.as_ref(), expected).await);
            };
            Ok((WriteResult::Deleted { id: *id }, Some(removed)))
        }
        WriteOp::Restore {
            collection,
            id,
            guard,
            expected_version,
        } => {
            let expected = *expected_version;
            let built = lower(
                statements::restore(DIALECT, collection, scope, *id, guard.as_ref(), expected)
                    .build(PG),
            );
            let rows = scope::query(tx, built).await?;
            if let Some(record) = records(collection, &rows)?.pop() {
                return Ok((WriteResult::Updated(record), None));
            }
            let built = lower(
                statements::deleted_by_id(DIALECT, collection, scope, *id, guard.as_ref())
                    .build(PG),
            );
            let deleted = records(collection, &scope::query(tx, built).await?)?.pop();
            Err(match (deleted, expected) {
                (Some(record), Some(_)) => StoreError::precondition_failed(record.version),
                _ => StoreError::not_found(),
            })
        }
        WriteOp::Purge { collection, id } => {
            let built = lower(statements::purge(collection, *id).build(PG));
            let rows = scope::query(tx, built).await?;
            let removed = records(collection, &rows)?
                .pop()
                .ok_or_else(StoreError::not_found)?;
            Ok((WriteResult::Deleted { id: *id }, Some(removed)))
        }
    }
}

/// Ids of records soft-deleted before `before`, oldest first, in every tenant.
pub(crate) async fn purgeable(
    store: &PgStore,
    collection: &Collection,
    before: &str,
    limit: u64,
) -> Result<Vec<Uuid>, StoreError> {
    let built = lower(statements::purgeable(collection, before, limit).build(PG));
    let mut client = store.client().await?;
    let rows = scope::read(
        &mut client,
        &Scope::AllTenants,
        collection.tenant_scoped,
        built,
    )
    .await?;
    Ok(records(collection, &rows)?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Why a guarded write touched no row: with an `If-Match` version, a record the caller may
/// change that stands at another version is a failed precondition (read in the write's own
/// transaction; under READ COMMITTED the UPDATE waited for a concurrent writer of the row and
/// re-checked `version` against its committed change, which this read now sees); otherwise it is
/// not found.
async fn missed<C: GenericClient>(
    tx: &C,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
    guard: Option<&Filter>,
    expected: Option<i64>,
) -> StoreError {
    if expected.is_none() {
        return StoreError::not_found();
    }
    let built = lower(statements::unchanged(DIALECT, collection, scope, id, guard, None).build(PG));
    match scope::query(tx, built).await {
        Ok(rows) => match records(collection, &rows) {
            Ok(mut found) => found.pop().map_or_else(StoreError::not_found, |r| {
                StoreError::precondition_failed(r.version)
            }),
            Err(error) => error,
        },
        Err(error) => error,
    }
}

/// The applied schema (from the store's cache while the migration version is unchanged).
pub(super) async fn applied_schema(
    store: &PgStore,
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<Arc<Schema>, StoreError> {
    let version: i64 = tx
        .query_one(
            r#"SELECT COALESCE(MAX("version"), 0)::bigint FROM "_fathom_migrations""#,
            &[],
        )
        .await
        .map_err(from_postgres)?
        .try_get(0)
        .map_err(from_postgres)?;
    if let Some(schema) = store.schemas.get(version) {
        return Ok(schema);
    }
    let schema = Arc::new(
        super::migrate::latest(&**tx)
            .await?
            .map(|m| m.schema)
            .unwrap_or_default(),
    );
    store.schemas.put(version, schema.clone());
    Ok(schema)
}

/// Before the hard delete of `id` in `collection`: removes (depth first) or clears every record
/// pointing at it through a `Cascade` or `SetNull` relation, drafting an event for each.
pub(super) fn cascade<'a, C: GenericClient + Sync>(
    tx: &'a C,
    schema: &'a Schema,
    collection: Arc<Collection>,
    id: Uuid,
    drafts: &'a mut Vec<Draft>,
    depth: usize,
) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>> {
    Box::pin(async move {
        if depth > cascade::MAX_DEPTH {
            return Err(StoreError::internal(
                "a delete cascades deeper than 64 levels",
            ));
        }
        for referrer in cascade::referrers(schema, &collection.name) {
            match referrer.action {
                OnDelete::Cascade => {
                    let built = lower(cascade::pointing_at(&referrer, id).build(PG));
                    let children = records(&referrer.collection, &scope::query(tx, built).await?)?;
                    for child in children {
                        cascade(
                            tx,
                            schema,
                            referrer.collection.clone(),
                            child.id,
                            drafts,
                            depth + 1,
                        )
                        .await?;
                        let built =
                            lower(cascade::remove(&referrer.collection, child.id).build(PG));
                        let rows = scope::query(tx, built).await?;
                        for removed in records(&referrer.collection, &rows)? {
                            drafts.push(cascade::removed(&referrer.collection, &removed));
                        }
                    }
                }
                OnDelete::SetNull => {
                    let built = lower(cascade::clear(&referrer, id).build(PG));
                    let rows = scope::query(tx, built).await?;
                    for row in records(&referrer.collection, &rows)? {
                        drafts.push(cascade::cleared(&referrer, &row));
                    }
                }
                OnDelete::Restrict => {}
            }
        }
        Ok(())
    })
}
