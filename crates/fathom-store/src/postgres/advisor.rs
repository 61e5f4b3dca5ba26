//! The index advisor on PostgreSQL: plans read with `EXPLAIN (FORMAT JSON)`; a candidate index
//! is made hypothetical with the `hypopg` extension when the database has it (nothing is
//! built, and only this connection's planner sees it), otherwise built on a temporary copy of
//! a sample of the table inside a transaction that is rolled back. Index scans come from
//! `pg_stat_user_indexes`. The live tables are only read.

use deadpool_postgres::GenericClient;
use fathom_query::Dialect;
use fathom_schema::{Collection, Index};
use sea_query::PostgresQueryBuilder;
use serde_json::Value as Json;

use crate::advisor::{AdvisedRead, IndexScans, PlanReading, Verification};
use crate::error::{StoreError, from_postgres};
use crate::record::{Deleted, Scope};
use crate::statements;

use super::PgStore;
use super::ddl::{self, ident};
use super::scope;
use super::values::{Sql, lower};

/// Rows copied into the temporary table when `hypopg` is missing.
const SAMPLE_ROWS: i64 = 20_000;

pub(crate) fn create_index(collection: &Collection, index: &Index) -> String {
    ddl::create_index(collection, index, false)
}

pub(crate) fn drop_index(index: &Index) -> String {
    ddl::drop_index(index)
}

fn read_sql(collection: &Collection, scope: &Scope, read: &AdvisedRead) -> Sql {
    let built = match read {
        AdvisedRead::List(list) => {
            statements::list_select(Dialect::Postgres, collection, scope, list, Deleted::Hidden)
                .build(PostgresQueryBuilder)
        }
        AdvisedRead::Count(filter) => statements::count_select(
            Dialect::Postgres,
            collection,
            scope,
            filter.as_ref(),
            Deleted::Hidden,
        )
        .build(PostgresQueryBuilder),
    };
    let mut sql = lower(built);
    sql.text = format!("EXPLAIN (FORMAT JSON) {}", sql.text);
    sql
}

/// Every index of `collection` by its name in the database (long names are shortened).
fn database_names(collection: &Collection) -> Vec<(String, String)> {
    collection
        .effective_indexes()
        .into_iter()
        .map(|i| (ddl::name(&i.name), i.name))
        .collect()
}

pub(crate) async fn read_plan(
    store: &PgStore,
    scope: &Scope,
    collection: &Collection,
    read: &AdvisedRead,
) -> Result<PlanReading, StoreError> {
    let mut client = store.client().await?;
    let rows = scope::read(
        &mut client,
        scope,
        collection.tenant_scoped,
        read_sql(collection, scope, read),
    )
    .await?;
    reading(&rows, collection, &database_names(collection))
}

fn reading(
    rows: &[tokio_postgres::Row],
    collection: &Collection,
    names: &[(String, String)],
) -> Result<PlanReading, StoreError> {
    let json: Json = rows
        .first()
        .map(|r| super::values::get(r, 0))
        .transpose()?
        .unwrap_or(Json::Null);
    Ok(read_json(&json, &collection.name, names))
}

pub(crate) async fn verify_index(
    store: &PgStore,
    scope: &Scope,
    collection: &Collection,
    read: &AdvisedRead,
    candidate: &Index,
) -> Result<Verification, StoreError> {
    let mut client = store.client().await?;
    let table = ident(&collection.name);
    let count: i64 = {
        // The count reads every tenant's rows, which row-level security shows only in a
        // transaction that asked for all of them.
        let tx = client.transaction().await.map_err(from_postgres)?;
        tx.batch_execute("SELECT set_config('fathom.all_tenants', 'on', true)")
            .await
            .map_err(from_postgres)?;
        let row = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await
            .map_err(from_postgres)?;
        tx.commit().await.map_err(from_postgres)?;
        row.get(0)
    };
    let rows = u64::try_from(count).unwrap_or(0);
    let hypopg = client
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'", &[])
        .await
        .map_err(from_postgres)?
        .is_some();
    let mut names = database_names(collection);
    if hypopg {
        let sql = || read_sql(collection, scope, read);
        let before = scope::read(&mut client, scope, collection.tenant_scoped, sql()).await?;
        let before = reading(&before, collection, &names)?;
        let created = client
            .query_one(
                "SELECT indexname::text FROM hypopg_create_index($1)",
                &[&create_index(collection, candidate)],
            )
            .await
            .map_err(from_postgres)?;
        names.push((created.get(0), candidate.name.clone()));
        let after = scope::read(&mut client, scope, collection.tenant_scoped, sql()).await;
        // The hypothetical index lives in this pooled connection until reset.
        client
            .batch_execute("SELECT hypopg_reset()")
            .await
            .map_err(from_postgres)?;
        let after = reading(&after?, collection, &names)?;
        return Ok(Verification {
            method: "hypopg".into(),
            rows,
            before,
            after,
        });
    }
    let (before, after) = scratch_copy(&mut client, scope, collection, read, candidate).await?;
    Ok(Verification {
        method: "postgres-scratch".into(),
        rows,
        before,
        after,
    })
}

/// Without `hypopg`: in one transaction that is rolled back, a temporary table of the same
/// name (which the unqualified statements then read: `pg_temp` comes first in the search
/// path) with the live table's columns and indexes and a sample of its rows, analyzed; the
/// plan on it without and with the candidate.
async fn scratch_copy(
    client: &mut deadpool_postgres::Client,
    scope: &Scope,
    collection: &Collection,
    read: &AdvisedRead,
    candidate: &Index,
) -> Result<(PlanReading, PlanReading), StoreError> {
    let table = ident(&collection.name);
    let names = database_names(collection);
    let tx = client.transaction().await.map_err(from_postgres)?;
    let schema: String = tx
        .query_one("SELECT current_schema()::text", &[])
        .await
        .map_err(from_postgres)?
        .get(0);
    let live = format!("{}.{table}", ident(&schema));
    tx.batch_execute(&format!(
        "SELECT set_config('fathom.all_tenants', 'on', true);
         CREATE TEMP TABLE {table} (LIKE {live} INCLUDING DEFAULTS INCLUDING INDEXES) ON COMMIT DROP;
         INSERT INTO pg_temp.{table} SELECT * FROM {live} LIMIT {SAMPLE_ROWS};
         ANALYZE pg_temp.{table};"
    ))
    .await
    .map_err(from_postgres)?;
    let plan = |names: Vec<(String, String)>| {
        let tx = &tx;
        async move {
            let sql = read_sql(collection, scope, read);
            let rows = scope::query(tx, sql).await?;
            reading(&rows, collection, &names)
        }
    };
    // The copied indexes get names of PostgreSQL's choosing: they are read by their columns.
    let copied = temp_index_names(&tx, collection).await?;
    let mut all = names.clone();
    all.extend(copied);
    let before = plan(all.clone()).await?;
    tx.batch_execute(&create_index(collection, candidate))
        .await
        .map_err(from_postgres)?;
    all.push((ddl::name(&candidate.name), candidate.name.clone()));
    let after = plan(all).await?;
    tx.rollback().await.map_err(from_postgres)?;
    Ok((before, after))
}

/// The temporary copy's indexes, each named after the schema index with the same columns.
async fn temp_index_names<C: GenericClient>(
    client: &C,
    collection: &Collection,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = client
        .query(
            "SELECT i.relname::text, array_agg(a.attname::text ORDER BY k.n)
             FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
             CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             WHERE t.relname = $1 AND t.relpersistence = 't'
             GROUP BY i.relname",
            &[&collection.name],
        )
        .await
        .map_err(from_postgres)?;
    let indexes = collection.effective_indexes();
    Ok(rows
        .iter()
        .filter_map(|r| {
            let (name, columns): (String, Vec<String>) = (r.get(0), r.get(1));
            indexes
                .iter()
                .find(|i| {
                    let mut own: Vec<String> = i
                        .fields
                        .iter()
                        .map(|f| collection.index_column(f))
                        .collect();
                    if !i.unique && own.last().is_none_or(|f| f != "id") {
                        own.push("id".into());
                    }
                    own == columns
                })
                .map(|i| (name, i.name.clone()))
        })
        .collect())
}

pub(crate) async fn index_scans(
    store: &PgStore,
    collection: &Collection,
) -> Result<Option<Vec<IndexScans>>, StoreError> {
    let client = store.client().await?;
    let rows = client
        .query(
            "SELECT indexrelname::text, idx_scan FROM pg_stat_user_indexes WHERE relname = $1",
            &[&collection.name],
        )
        .await
        .map_err(from_postgres)?;
    let names = database_names(collection);
    Ok(Some(
        rows.iter()
            .filter_map(|r| {
                let (db, scans): (String, i64) = (r.get(0), r.get(1));
                names
                    .iter()
                    .find(|(n, _)| n == &db)
                    .map(|(_, schema)| IndexScans {
                        name: schema.clone(),
                        scans: u64::try_from(scans).unwrap_or(0),
                    })
            })
            .collect(),
    ))
}

/// Reads `EXPLAIN (FORMAT JSON)`: a `Seq Scan` of the table, a `Sort` node, the indexes
/// read (mapped to schema names through `names`), the root's total cost, and the plan as
/// indented lines.
fn read_json(json: &Json, table: &str, names: &[(String, String)]) -> PlanReading {
    let mut reading = PlanReading::default();
    let root = &json[0]["Plan"];
    reading.cost = root["Total Cost"].as_f64().unwrap_or(0.0);
    walk(root, 0, table, names, &mut reading);
    reading
}

fn walk(node: &Json, depth: usize, table: &str, names: &[(String, String)], out: &mut PlanReading) {
    let kind = node["Node Type"].as_str().unwrap_or("?");
    let relation = node["Relation Name"].as_str();
    let index = node["Index Name"].as_str();
    let mut line = format!("{}{kind}", "  ".repeat(depth));
    if let Some(index) = index {
        line.push_str(&format!(" using {index}"));
    }
    if let Some(relation) = relation {
        line.push_str(&format!(" on {relation}"));
    }
    line.push_str(&format!(
        " (cost={:.2}..{:.2} rows={})",
        node["Startup Cost"].as_f64().unwrap_or(0.0),
        node["Total Cost"].as_f64().unwrap_or(0.0),
        node["Plan Rows"].as_f64().unwrap_or(0.0)
    ));
    out.lines.push(line);
    match kind {
        "Seq Scan" if relation == Some(table) => out.full_scan = true,
        "Sort" | "Incremental Sort" => out.temp_sort = true,
        _ => {}
    }
    // A bitmap index scan names its index but not its table: an index is the table's when
    // it is one of its known indexes, or when the node names the table.
    if let Some(index) = index {
        match names.iter().find(|(db, _)| db == index) {
            Some((_, schema)) => out.indexes.push(schema.clone()),
            None if relation == Some(table) => out.indexes.push(index.to_owned()),
            None => {}
        }
    }
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            walk(child, depth + 1, table, names, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_plans_are_read_for_scans_sorts_and_indexes() {
        let plan = serde_json::json!([{"Plan": {
            "Node Type": "Limit", "Total Cost": 120.5, "Startup Cost": 1.0, "Plan Rows": 20,
            "Plans": [{"Node Type": "Sort", "Total Cost": 120.0, "Plans": [
                {"Node Type": "Seq Scan", "Relation Name": "tasks", "Total Cost": 100.0}
            ]}]
        }}]);
        let reading = read_json(&plan, "tasks", &[]);
        assert!(reading.full_scan && reading.temp_sort);
        assert!((reading.cost - 120.5).abs() < f64::EPSILON);
        assert_eq!(reading.lines.len(), 3);
        let plan = serde_json::json!([{"Plan": {
            "Node Type": "Index Scan", "Relation Name": "tasks", "Index Name": "<1>btree_tasks",
            "Total Cost": 8.0
        }}]);
        let names = vec![("<1>btree_tasks".to_owned(), "idx_tasks__team".to_owned())];
        let reading = read_json(&plan, "tasks", &names);
        assert!(reading.is_served());
        assert_eq!(reading.indexes, vec!["idx_tasks__team".to_owned()]);
    }
}
