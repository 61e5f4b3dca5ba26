//! Record reads and writes on SQLite. SQL is built with sea-query and every value is bound as a
//! parameter; statements are cached per connection (the SQL text for a collection is stable).

use std::sync::Arc;

use fathom_query::Filter;
use fathom_query::sql::to_sea;
use fathom_schema::{Collection, FieldType, TENANT_FIELD, Value};
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use sea_query::{Expr, ExprTrait, Query, SqliteQueryBuilder};
use uuid::Uuid;

use crate::error::{StoreError, StoreErrorKind, from_sqlite};
use crate::record::{ListQuery, Record, Scope, WriteOp, WriteResult};

/// The columns a record is read from, in the order [`read_record`] expects.
fn select_columns(collection: &Collection) -> Vec<String> {
    let mut columns: Vec<String> = vec!["id".into(), "version".into()];
    if collection.tenant_scoped {
        columns.push(TENANT_FIELD.into());
    }
    if collection.timestamps {
        columns.extend(["created_at".into(), "updated_at".into()]);
    }
    columns.extend(collection.fields.iter().map(|f| f.name.clone()));
    columns
}

/// The conditions every statement on a collection carries: live records only, and only those of
/// the scope's tenant. This is the one place tenant isolation is applied; every read, update
/// and delete below starts from it.
fn visible(collection: &Collection, scope: &Scope) -> Vec<Expr> {
    let column = |name: &str| Expr::col((collection.name.clone(), name.to_owned()));
    let mut conditions = Vec::new();
    if collection.soft_delete {
        conditions.push(column("deleted_at").is_null());
    }
    if collection.tenant_scoped {
        match scope {
            Scope::Tenant(tenant) => conditions.push(column(TENANT_FIELD).eq(tenant.clone())),
            Scope::NoTenant => conditions.push(Expr::cust("1 = 0")),
            Scope::AllTenants => {}
        }
    }
    conditions
}

/// The tenant a new record of `collection` belongs to, or why it cannot be created.
fn new_record_tenant(
    collection: &Collection,
    scope: &Scope,
    explicit: Option<&String>,
) -> Result<Option<String>, StoreError> {
    if !collection.tenant_scoped {
        return Ok(None);
    }
    match (scope, explicit) {
        (Scope::Tenant(tenant), None) => Ok(Some(tenant.clone())),
        (Scope::Tenant(tenant), Some(named)) if named == tenant => Ok(Some(tenant.clone())),
        (Scope::AllTenants, Some(named)) => Ok(Some(named.clone())),
        (Scope::Tenant(_), Some(_)) => Err(StoreError::internal(
            "a tenant-scoped unit of work named another tenant",
        )),
        (Scope::NoTenant | Scope::AllTenants, _) => Err(StoreError::new(
            StoreErrorKind::TenantRequired,
            format!("a record of {} needs a tenant", collection.name),
        )),
    }
}

/// `SELECT <qualified columns> FROM <collection>` (qualified, so joins cannot make them
/// ambiguous), limited to the records visible in `scope`.
fn select_from(collection: &Collection, scope: &Scope) -> sea_query::SelectStatement {
    let mut query = Query::select();
    let table = collection.name.clone();
    query
        .columns(
            select_columns(collection)
                .into_iter()
                .map(|c| (table.clone(), c)),
        )
        .from(table);
    for condition in visible(collection, scope) {
        query.and_where(condition);
    }
    query
}

/// The full SELECT of a list query: filter (with its joins), keyset position, order, page.
fn list_select(
    collection: &Collection,
    scope: &Scope,
    list: &ListQuery,
) -> sea_query::SelectStatement {
    let base = collection.name.as_str();
    let mut query = select_from(collection, scope);
    if let Some(filter) = &list.filter {
        filter.apply(&mut query, base);
    }
    if let Some(after) = &list.after {
        query.and_where(fathom_query::cursor::after(base, &list.sort, after));
    }
    fathom_query::apply_sort(&mut query, base, &list.sort);
    query.limit(u64::from(list.limit)).offset(list.offset);
    query
}

/// Binds sea-query's values to rusqlite. We only ever produce the variants handled here.
fn bind(values: sea_query::Values) -> Vec<rusqlite::types::Value> {
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
    (sql, values): (String, sea_query::Values),
) -> Result<Vec<Record>, StoreError> {
    let mut statement = conn.prepare_cached(&sql).map_err(from_sqlite)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(bind(values)), |row| {
            read_record(collection, row)
        })
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub(crate) fn get(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
) -> Result<Option<Record>, StoreError> {
    let mut query = select_from(collection, scope);
    query.and_where(
        Expr::col((collection.name.clone(), "id".to_owned())).eq(id.hyphenated().to_string()),
    );
    Ok(query_records(conn, collection, query.build(SqliteQueryBuilder))?.pop())
}

pub(crate) fn list(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    list: &ListQuery,
) -> Result<Vec<Record>, StoreError> {
    query_records(
        conn,
        collection,
        list_select(collection, scope, list).build(SqliteQueryBuilder),
    )
}

pub(crate) fn explain(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    list: &ListQuery,
) -> Result<Vec<String>, StoreError> {
    let (sql, values) = list_select(collection, scope, list).build(SqliteQueryBuilder);
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
) -> Result<u64, StoreError> {
    let mut query = Query::select();
    query
        .expr(Expr::cust("COUNT(*)"))
        .from(collection.name.clone());
    for condition in visible(collection, scope) {
        query.and_where(condition);
    }
    if let Some(filter) = filter {
        filter.apply(&mut query, &collection.name);
    }
    let (sql, values) = query.build(SqliteQueryBuilder);
    let mut statement = conn.prepare_cached(&sql).map_err(from_sqlite)?;
    let n: i64 = statement
        .query_row(rusqlite::params_from_iter(bind(values)), |r| r.get(0))
        .map_err(from_sqlite)?;
    Ok(u64::try_from(n).unwrap_or(0))
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
    values: &[(String, Value)],
    explicit_tenant: Option<&String>,
) -> Result<Record, StoreError> {
    let tenant = new_record_tenant(collection, scope, explicit_tenant)?;
    let id = Uuid::now_v7();
    let now = fathom_schema::value::now_timestamp();
    let mut columns: Vec<String> = vec!["id".into(), "version".into()];
    let mut row: Vec<Expr> = vec![Expr::val(id.hyphenated().to_string()), Expr::val(1i64)];
    if let Some(tenant) = &tenant {
        columns.push(TENANT_FIELD.into());
        row.push(Expr::val(tenant.clone()));
    }
    if collection.timestamps {
        columns.extend(["created_at".into(), "updated_at".into()]);
        row.extend([Expr::val(now.clone()), Expr::val(now.clone())]);
    }
    for (name, value) in values {
        columns.push(name.clone());
        row.push(Expr::val(to_sea(value)));
    }
    let mut query = Query::insert();
    query
        .into_table(collection.name.clone())
        .columns(columns)
        .values(row)
        .map_err(|e| StoreError::internal(format!("building an insert: {e}")))?;
    execute(conn, query.build(SqliteQueryBuilder))?;
    let timestamp = collection.timestamps.then_some(now);
    Ok(Record {
        id,
        tenant,
        created_at: timestamp.clone(),
        updated_at: timestamp,
        version: 1,
        values: values.to_vec(),
    })
}

/// `id IN (SELECT id FROM <collection> <joins> WHERE <guard>)`: a rule on the stored row, usable
/// in UPDATE and DELETE (which cannot join).
fn guard_condition(collection: &Collection, guard: &Filter) -> Expr {
    let table = collection.name.clone();
    let mut rows = Query::select();
    rows.column((table.clone(), "id".to_owned()))
        .from(table.clone());
    guard.apply(&mut rows, &table);
    Expr::col("id").in_subquery(rows)
}

fn update(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
    values: &[(String, Value)],
    guard: Option<&Filter>,
) -> Result<Record, StoreError> {
    if values.is_empty() {
        let mut query = select_from(collection, scope);
        query.and_where(
            Expr::col((collection.name.clone(), "id".to_owned())).eq(id.hyphenated().to_string()),
        );
        if let Some(guard) = guard {
            query.and_where(guard_condition(collection, guard));
        }
        return query_records(conn, collection, query.build(SqliteQueryBuilder))?
            .pop()
            .ok_or_else(StoreError::not_found);
    }
    let mut query = Query::update();
    query.table(collection.name.clone());
    for (name, value) in values {
        query.value(name.clone(), to_sea(value));
    }
    if collection.timestamps {
        query.value("updated_at", fathom_schema::value::now_timestamp());
    }
    query
        .value("version", Expr::col("version").add(1i64))
        .and_where(Expr::col("id").eq(id.hyphenated().to_string()));
    for condition in visible(collection, scope) {
        query.and_where(condition);
    }
    if let Some(guard) = guard {
        query.and_where(guard_condition(collection, guard));
    }
    query.returning(Query::returning().columns(select_columns(collection)));
    query_records(conn, collection, query.build(SqliteQueryBuilder))?
        .pop()
        .ok_or_else(StoreError::not_found)
}

fn delete(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    id: Uuid,
    guard: Option<&Filter>,
) -> Result<(), StoreError> {
    let id_text = id.hyphenated().to_string();
    let mut conditions = visible(collection, scope);
    conditions.extend(guard.map(|g| guard_condition(collection, g)));
    let changed = if collection.soft_delete {
        let now = fathom_schema::value::now_timestamp();
        let mut query = Query::update();
        query
            .table(collection.name.clone())
            .value("deleted_at", now.clone());
        if collection.timestamps {
            query.value("updated_at", now);
        }
        query
            .value("version", Expr::col("version").add(1i64))
            .and_where(Expr::col("id").eq(id_text));
        for condition in conditions {
            query.and_where(condition);
        }
        execute(conn, query.build(SqliteQueryBuilder))?
    } else {
        let mut query = Query::delete();
        query
            .from_table(collection.name.clone())
            .and_where(Expr::col("id").eq(id_text));
        for condition in conditions {
            query.and_where(condition);
        }
        execute(conn, query.build(SqliteQueryBuilder))?
    };
    if changed == 0 {
        Err(StoreError::not_found())
    } else {
        Ok(())
    }
}

/// Applies one write operation inside the current transaction.
pub(crate) fn apply(
    conn: &Connection,
    scope: &Scope,
    op: &WriteOp,
) -> Result<WriteResult, StoreError> {
    match op {
        WriteOp::Create {
            collection,
            values,
            tenant,
        } => create(conn, scope, collection, values, tenant.as_ref()).map(WriteResult::Created),
        WriteOp::Update {
            collection,
            id,
            values,
            guard,
        } => update(conn, scope, collection, *id, values, guard.as_ref()).map(WriteResult::Updated),
        WriteOp::Delete {
            collection,
            id,
            guard,
        } => delete(conn, scope, collection, *id, guard.as_ref())
            .map(|()| WriteResult::Deleted { id: *id }),
    }
}
