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
use super::scope;
use super::values::{self, Sql, get_timestamp, get_uuid, lower, read_value};
use crate::error::{StoreError, from_postgres};
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

/// Runs every operation in one transaction, in the unit's scope.
pub(crate) async fn execute(
    store: &PgStore,
    work: &UnitOfWork,
) -> Result<Vec<WriteResult>, StoreError> {
    let mut client = store.client().await?;
    let tenant_scoped = work.ops.iter().any(|op| collection_of(op).tenant_scoped);
    if let [op] = work.ops.as_slice()
        && !tenant_scoped
        && !checks_after(op)
    {
        // One statement on shared tables is atomic by itself: no BEGIN, no COMMIT, one round
        // trip.
        return apply(&client, &work.scope, op)
            .await
            .map(|result| vec![result])
            .map_err(|e| e.at_operation(0));
    }
    let tx = client.transaction().await.map_err(from_postgres)?;
    if tenant_scoped {
        scope::enter(&tx, &work.scope).await?;
    }
    let mut results = Vec::with_capacity(work.ops.len());
    for (n, op) in work.ops.iter().enumerate() {
        results.push(
            apply(&tx, &work.scope, op)
                .await
                .map_err(|e| e.at_operation(n))?,
        );
    }
    tx.commit().await.map_err(from_postgres)?;
    Ok(results)
}

/// Whether an operation reads again after writing (a guarded update checks its rule against the
/// changed row), and so needs a transaction to roll back in.
fn checks_after(op: &WriteOp) -> bool {
    matches!(op, WriteOp::Update { guard: Some(_), values, .. } if !values.is_empty())
}

fn collection_of(op: &WriteOp) -> &Collection {
    match op {
        WriteOp::Create { collection, .. }
        | WriteOp::Update { collection, .. }
        | WriteOp::Delete { collection, .. } => collection,
    }
}

async fn apply<C: GenericClient>(
    tx: &C,
    scope: &Scope,
    op: &WriteOp,
) -> Result<WriteResult, StoreError> {
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
            Ok(WriteResult::Created(record))
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
            Ok(WriteResult::Updated(record))
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
            let changed = execute_count(tx, built).await?;
            if changed == 0 {
                Err(StoreError::not_found())
            } else {
                Ok(WriteResult::Deleted { id: *id })
            }
        }
    }
}

async fn execute_count<C: GenericClient>(tx: &C, sql: Sql) -> Result<u64, StoreError> {
    let statement = tx.prepare_cached(&sql.text).await.map_err(from_postgres)?;
    let params = super::values::bind(sql.values, statement.params())?;
    tx.execute(&statement, &super::values::refs(&params))
        .await
        .map_err(from_postgres)
}
