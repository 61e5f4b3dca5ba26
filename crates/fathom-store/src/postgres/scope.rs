//! Running statements within a [`Scope`]: on tenant-scoped tables every statement runs in a
//! transaction whose first act is to set `fathom.tenant` (or `fathom.all_tenants`) with
//! `set_config(..., true)`, which lasts until COMMIT or ROLLBACK. The row-level security policy
//! reads those settings, so a connection back in the pool carries no tenant, and a statement
//! that forgot the tenant filter still sees only its tenant's rows.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::values::{Sql, bind, refs};
use crate::error::{StoreError, from_postgres};
use crate::record::Scope;

const SET_TENANT: &str = "SELECT set_config('fathom.tenant', $1, true)";
const SET_ALL_TENANTS: &str = "SELECT set_config('fathom.all_tenants', 'on', true)";

/// The statement that puts the current transaction in `scope`, with its parameters; `None` for
/// a caller in no tenant, for whom the policy matches no row.
async fn scope_statement<C: GenericClient>(
    client: &C,
    scope: &Scope,
) -> Result<Option<(tokio_postgres::Statement, Vec<String>)>, StoreError> {
    let (sql, params) = match scope {
        Scope::Tenant(tenant) => (SET_TENANT, vec![tenant.clone()]),
        Scope::AllTenants => (SET_ALL_TENANTS, vec![]),
        Scope::NoTenant => return Ok(None),
    };
    let statement = client.prepare_cached(sql).await.map_err(from_postgres)?;
    Ok(Some((statement, params)))
}

/// Puts the current transaction of `client` in `scope`.
pub(crate) async fn enter<C: GenericClient>(client: &C, scope: &Scope) -> Result<(), StoreError> {
    if let Some((statement, params)) = scope_statement(client, scope).await? {
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        client
            .query(&statement, &params)
            .await
            .map_err(from_postgres)?;
    }
    Ok(())
}

/// Prepares (once per connection) and runs one sea-query statement on `client`.
pub(crate) async fn query<C: GenericClient>(client: &C, sql: Sql) -> Result<Vec<Row>, StoreError> {
    let statement = client
        .prepare_cached(&sql.text)
        .await
        .map_err(from_postgres)?;
    let params = bind(sql.values, statement.params())?;
    client
        .query(&statement, &refs(&params))
        .await
        .map_err(from_postgres)
}

/// Runs one read, in `scope` when `tenant_scoped`. The scope's setting and the read are sent
/// together (pipelined) after both are prepared, so the read costs one round trip more than
/// an unscoped one: BEGIN, then setting and read, then COMMIT.
pub(crate) async fn read(
    client: &mut deadpool_postgres::Client,
    scope: &Scope,
    tenant_scoped: bool,
    built: Sql,
) -> Result<Vec<Row>, StoreError> {
    if !tenant_scoped {
        return query(&*client, built).await;
    }
    let tx = client.transaction().await.map_err(from_postgres)?;
    let scoping = scope_statement(&tx, scope).await?;
    let statement = tx
        .prepare_cached(&built.text)
        .await
        .map_err(from_postgres)?;
    let params = bind(built.values, statement.params())?;
    let params = refs(&params);
    let rows = match &scoping {
        Some((set, setting)) => {
            let setting: Vec<&(dyn ToSql + Sync)> =
                setting.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            // try_join polls the setting first, so it reaches the server first.
            let (_, rows) =
                tokio::try_join!(tx.query(set, &setting), tx.query(&statement, &params))
                    .map_err(from_postgres)?;
            rows
        }
        None => tx.query(&statement, &params).await.map_err(from_postgres)?,
    };
    tx.commit().await.map_err(from_postgres)?;
    Ok(rows)
}
