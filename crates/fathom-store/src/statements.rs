//! Record statements as sea-query trees, shared by both backends: each backend renders them with
//! its own query builder and binds the values its own way. Tenant isolation and soft delete are
//! applied here, in [`visible`], for every read, update and delete of either database.

use fathom_query::{Dialect, Filter};
use fathom_schema::{Collection, TENANT_FIELD, Value};
use sea_query::{
    DeleteStatement, Expr, ExprTrait, InsertStatement, Query, SelectStatement, UpdateStatement,
};
use uuid::Uuid;

use crate::error::{StoreError, StoreErrorKind};
use crate::record::{Deleted, ListQuery, Record, Scope};

/// The columns a record is read from, in the order the backends' row readers expect: `id`,
/// `version`, then `tenant` (tenant-scoped collections), `created_at` and `updated_at` (with
/// timestamps), then the fields in schema order.
pub(crate) fn select_columns(collection: &Collection) -> Vec<String> {
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
/// the scope's tenant. This is the one place tenant isolation is applied in SQL; every read,
/// update and delete below starts from it (PostgreSQL adds row-level security beneath it).
pub(crate) fn visible(collection: &Collection, scope: &Scope) -> Vec<Expr> {
    let mut conditions = Vec::new();
    if collection.soft_delete {
        conditions.push(Expr::col((collection.name.clone(), "deleted_at".to_owned())).is_null());
    }
    conditions.extend(in_scope(collection, scope));
    conditions
}

/// The conditions of a read that may show deleted records (`deleted`), for collections that
/// keep them; the tenant condition always applies.
pub(crate) fn readable(collection: &Collection, scope: &Scope, deleted: Deleted) -> Vec<Expr> {
    if !collection.soft_delete || deleted == Deleted::Hidden {
        return visible(collection, scope);
    }
    let mut conditions = in_scope(collection, scope);
    if deleted == Deleted::Only {
        conditions
            .push(Expr::col((collection.name.clone(), "deleted_at".to_owned())).is_not_null());
    }
    conditions
}

/// The tenant half of [`visible`] alone: the records of the scope's tenant, live or deleted
/// (for restoring and listing deleted records).
pub(crate) fn in_scope(collection: &Collection, scope: &Scope) -> Vec<Expr> {
    let column = |name: &str| Expr::col((collection.name.clone(), name.to_owned()));
    let mut conditions = Vec::new();
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
pub(crate) fn new_record_tenant(
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
pub(crate) fn select_from(collection: &Collection, scope: &Scope) -> SelectStatement {
    select_from_with(collection, scope, Deleted::Hidden)
}

/// [`select_from`] with the records `deleted` says.
fn select_from_with(collection: &Collection, scope: &Scope, deleted: Deleted) -> SelectStatement {
    let mut query = Query::select();
    let table = collection.name.clone();
    query
        .columns(
            select_columns(collection)
                .into_iter()
                .map(|c| (table.clone(), c)),
        )
        .from(table);
    for condition in readable(collection, scope, deleted) {
        query.and_where(condition);
    }
    query
}

/// The record `id`, if visible in `scope`.
pub(crate) fn select_by_id(collection: &Collection, scope: &Scope, id: Uuid) -> SelectStatement {
    let mut query = select_from(collection, scope);
    query.and_where(
        Expr::col((collection.name.clone(), "id".to_owned())).eq(id.hyphenated().to_string()),
    );
    query
}

/// The values [`select_by_id`] binds, in its order, without building the statement: readers
/// that cache the rendered SQL of a get (whose text depends only on the collection and the kind
/// of scope) bind these. A test below pins the two together.
pub(crate) fn by_id_values(collection: &Collection, scope: &Scope, id: Uuid) -> sea_query::Values {
    let mut values = Vec::with_capacity(2);
    if let (true, Scope::Tenant(tenant)) = (collection.tenant_scoped, scope) {
        values.push(sea_query::Value::from(tenant.clone()));
    }
    values.push(sea_query::Value::from(id.hyphenated().to_string()));
    sea_query::Values(values)
}

/// The full SELECT of a list query: filter (with its joins), keyset position, order, page.
pub(crate) fn list_select(
    dialect: Dialect,
    collection: &Collection,
    scope: &Scope,
    list: &ListQuery,
    deleted: Deleted,
) -> SelectStatement {
    let base = collection.name.as_str();
    let mut query = select_from_with(collection, scope, deleted);
    if let Some(filter) = &list.filter {
        filter.apply_in(dialect, &mut query, base);
    }
    if let Some(after) = &list.after {
        query.and_where(fathom_query::cursor::after_in(
            dialect, base, &list.sort, after,
        ));
    }
    fathom_query::apply_sort_in(dialect, &mut query, base, &list.sort);
    query.limit(u64::from(list.limit)).offset(list.offset);
    query
}

/// `SELECT COUNT(*)` of the visible records matching `filter`.
pub(crate) fn count_select(
    dialect: Dialect,
    collection: &Collection,
    scope: &Scope,
    filter: Option<&Filter>,
    deleted: Deleted,
) -> SelectStatement {
    let mut query = Query::select();
    query
        .expr(Expr::cust("COUNT(*)"))
        .from(collection.name.clone());
    for condition in readable(collection, scope, deleted) {
        query.and_where(condition);
    }
    if let Some(filter) = filter {
        filter.apply_in(dialect, &mut query, &collection.name);
    }
    query
}

/// The INSERT of a new record and the record as it will read back.
pub(crate) fn insert(
    collection: &Collection,
    scope: &Scope,
    id: Option<Uuid>,
    values: &[(String, Value)],
    explicit_tenant: Option<&String>,
) -> Result<(InsertStatement, Record), StoreError> {
    let tenant = new_record_tenant(collection, scope, explicit_tenant)?;
    let id = id.unwrap_or_else(Uuid::now_v7);
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
        row.push(Expr::val(fathom_query::sql::to_sea(value)));
    }
    let mut query = Query::insert();
    query
        .into_table(collection.name.clone())
        .columns(columns)
        .values(row)
        .map_err(|e| StoreError::internal(format!("building an insert: {e}")))?;
    let timestamp = collection.timestamps.then_some(now);
    let record = Record {
        id,
        tenant,
        created_at: timestamp.clone(),
        updated_at: timestamp,
        version: 1,
        // Only the fields: a blind index's HMAC column is written but not part of the record.
        values: values
            .iter()
            .filter(|(name, _)| collection.field(name).is_some())
            .cloned()
            .collect(),
    };
    Ok((query, record))
}

/// `id IN (SELECT id FROM <collection> <joins> WHERE id = <id> AND <guard>)`: a rule on the
/// stored row `id`, usable in UPDATE and DELETE (which cannot join). The subquery names the id
/// too, so it reads one row by primary key rather than every row the rule allows (SQLite
/// materialises an uncorrelated IN list).
pub(crate) fn guard_condition(
    dialect: Dialect,
    collection: &Collection,
    id: Uuid,
    guard: &Filter,
) -> Expr {
    let table = collection.name.clone();
    let mut rows = Query::select();
    rows.column((table.clone(), "id".to_owned()))
        .from(table.clone())
        .and_where(Expr::col((table.clone(), "id".to_owned())).eq(id.hyphenated().to_string()));
    guard.apply_in(dialect, &mut rows, &table);
    Expr::col("id").in_subquery(rows)
}

/// The UPDATE of a record's `values` (not empty) returning the record's columns.
pub(crate) fn update(
    dialect: Dialect,
    collection: &Collection,
    scope: &Scope,
    id: Uuid,
    values: &[(String, Value)],
    guard: Option<&Filter>,
    expected_version: Option<i64>,
) -> UpdateStatement {
    let mut query = Query::update();
    query.table(collection.name.clone());
    for (name, value) in values {
        query.value(name.clone(), fathom_query::sql::to_sea(value));
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
        query.and_where(guard_condition(dialect, collection, id, guard));
    }
    if let Some(version) = expected_version {
        query.and_where(version_is(version));
    }
    query.returning(Query::returning().columns(select_columns(collection)));
    query
}

/// `version = n`: an `If-Match` precondition, part of the write's own WHERE so that the check
/// and the write are one atomic step (of concurrent writers expecting `n`, one matches).
fn version_is(version: i64) -> Expr {
    Expr::col("version").eq(version)
}

/// The record as it stands, for an update that changes nothing (still guarded).
pub(crate) fn unchanged(
    dialect: Dialect,
    collection: &Collection,
    scope: &Scope,
    id: Uuid,
    guard: Option<&Filter>,
    expected_version: Option<i64>,
) -> SelectStatement {
    let mut query = select_by_id(collection, scope, id);
    if let Some(guard) = guard {
        query.and_where(guard_condition(dialect, collection, id, guard));
    }
    if let Some(version) = expected_version {
        query.and_where(Expr::col((collection.name.clone(), "version".to_owned())).eq(version));
    }
    query
}

/// `SELECT id` of the record `id` if it is visible in `scope` and matches `rule`, with the rule's
/// joins (a SELECT can join, so the primary key narrows it to one row). Run after an UPDATE in
/// the same transaction, it reads the row as changed: an update rule must hold for the record
/// after the change as well as before it (PostgreSQL applies a policy's `USING` as its `WITH
/// CHECK` in the same way), or the change is rolled back.
pub(crate) fn still_allowed(
    dialect: Dialect,
    collection: &Collection,
    scope: &Scope,
    id: Uuid,
    rule: &Filter,
) -> SelectStatement {
    let table = collection.name.clone();
    let mut query = Query::select();
    query
        .column((table.clone(), "id".to_owned()))
        .from(table.clone());
    for condition in visible(collection, scope) {
        query.and_where(condition);
    }
    query.and_where(Expr::col((table.clone(), "id".to_owned())).eq(id.hyphenated().to_string()));
    rule.apply_in(dialect, &mut query, &table);
    query
}

/// The soft-deleted record `id` in `scope`, if `guard` holds for it.
pub(crate) fn deleted_by_id(
    dialect: Dialect,
    collection: &Collection,
    scope: &Scope,
    id: Uuid,
    guard: Option<&Filter>,
) -> SelectStatement {
    let table = collection.name.clone();
    let mut query = Query::select();
    query
        .columns(
            select_columns(collection)
                .into_iter()
                .map(|c| (table.clone(), c)),
        )
        .from(table.clone())
        .and_where(Expr::col((table.clone(), "deleted_at".to_owned())).is_not_null())
        .and_where(Expr::col((table.clone(), "id".to_owned())).eq(id.hyphenated().to_string()));
    for condition in in_scope(collection, scope) {
        query.and_where(condition);
    }
    if let Some(guard) = guard {
        query.and_where(guard_condition(dialect, collection, id, guard));
    }
    query
}

/// The restore of a soft-deleted record: `deleted_at` cleared, the version bumped, guarded like
/// an update (the guard is read on the deleted row), returning the record's columns.
pub(crate) fn restore(
    dialect: Dialect,
    collection: &Collection,
    scope: &Scope,
    id: Uuid,
    guard: Option<&Filter>,
    expected_version: Option<i64>,
) -> UpdateStatement {
    let mut query = Query::update();
    query
        .table(collection.name.clone())
        .value("deleted_at", Expr::cust("NULL"));
    if collection.timestamps {
        query.value("updated_at", fathom_schema::value::now_timestamp());
    }
    query
        .value("version", Expr::col("version").add(1i64))
        .and_where(Expr::col("id").eq(id.hyphenated().to_string()))
        .and_where(Expr::col("deleted_at").is_not_null());
    for condition in in_scope(collection, scope) {
        query.and_where(condition);
    }
    if let Some(guard) = guard {
        query.and_where(guard_condition(dialect, collection, id, guard));
    }
    if let Some(version) = expected_version {
        query.and_where(version_is(version));
    }
    query.returning(Query::returning().columns(select_columns(collection)));
    query
}

/// The hard removal of the soft-deleted record `id` (every tenant), returning its columns.
pub(crate) fn purge(collection: &Collection, id: Uuid) -> DeleteStatement {
    let mut query = Query::delete();
    query
        .from_table(collection.name.clone())
        .and_where(Expr::col("id").eq(id.hyphenated().to_string()))
        .and_where(Expr::col("deleted_at").is_not_null())
        .returning(Query::returning().columns(select_columns(collection)));
    query
}

/// Up to `limit` records of `collection` soft-deleted before `before` (a canonical timestamp),
/// in every tenant, oldest deletion first.
pub(crate) fn purgeable(collection: &Collection, before: &str, limit: u64) -> SelectStatement {
    let mut query = select_from_with(collection, &Scope::AllTenants, Deleted::Only);
    let deleted_at = Expr::col((collection.name.clone(), "deleted_at".to_owned()));
    query
        .and_where(deleted_at.lt(before.to_owned()))
        .order_by(
            (collection.name.clone(), "deleted_at".to_owned()),
            sea_query::Order::Asc,
        )
        .limit(limit);
    query
}

/// A delete: soft (an UPDATE setting `deleted_at`) when the collection says so. Either returns
/// the record's columns (as soft-deleted, or as it was before removal), for its outbox event.
pub(crate) enum Removal {
    Soft(UpdateStatement),
    Hard(DeleteStatement),
}

pub(crate) fn delete(
    dialect: Dialect,
    collection: &Collection,
    scope: &Scope,
    id: Uuid,
    guard: Option<&Filter>,
    expected_version: Option<i64>,
) -> Removal {
    let id_text = id.hyphenated().to_string();
    let mut conditions = visible(collection, scope);
    conditions.extend(guard.map(|g| guard_condition(dialect, collection, id, g)));
    conditions.extend(expected_version.map(version_is));
    if collection.soft_delete {
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
        query.returning(Query::returning().columns(select_columns(collection)));
        Removal::Soft(query)
    } else {
        let mut query = Query::delete();
        query
            .from_table(collection.name.clone())
            .and_where(Expr::col("id").eq(id_text));
        for condition in conditions {
            query.and_where(condition);
        }
        query.returning(Query::returning().columns(select_columns(collection)));
        Removal::Hard(query)
    }
}

#[cfg(test)]
mod tests {
    use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    use super::*;

    fn collection(soft_delete: bool, tenant_scoped: bool) -> Collection {
        let source = format!(
            "[collections.orders]\nsoft_delete = {soft_delete}\ntenant_scoped = {tenant_scoped}\n\
             fields.title = {{ type = \"text\" }}\n"
        );
        let schema = fathom_schema::parse_schema("orders.toml", &source).expect("schema");
        Collection::clone(schema.collection("orders").expect("orders"))
    }

    #[test]
    fn by_id_values_are_what_select_by_id_binds_and_its_sql_depends_on_no_value() {
        let id = Uuid::now_v7();
        let scopes = [
            Scope::Tenant("shop-a".into()),
            Scope::NoTenant,
            Scope::AllTenants,
        ];
        for soft_delete in [false, true] {
            for tenant_scoped in [false, true] {
                let collection = collection(soft_delete, tenant_scoped);
                for scope in &scopes {
                    let (sql, values) =
                        select_by_id(&collection, scope, id).build(SqliteQueryBuilder);
                    assert_eq!(values, by_id_values(&collection, scope, id));
                    let other = match scope {
                        Scope::Tenant(_) => Scope::Tenant("shop-b".into()),
                        other => other.clone(),
                    };
                    let (other_sql, _) =
                        select_by_id(&collection, &other, Uuid::nil()).build(SqliteQueryBuilder);
                    assert_eq!(sql, other_sql);
                    let (_, pg_values) =
                        select_by_id(&collection, scope, id).build(PostgresQueryBuilder);
                    assert_eq!(pg_values, by_id_values(&collection, scope, id));
                }
            }
        }
    }
}
