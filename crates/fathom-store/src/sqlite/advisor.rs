//! The index advisor on SQLite, the way SQLite's own `expert` extension works: the schema's
//! tables and indexes are copied into an in-memory scratch database, the candidate index is
//! built there, and `sqlite_stat1` rows computed from a sample of the live table stand in for
//! the data, so the planner chooses as it would over the real rows. The live database is only
//! read (its DDL, its row count and the sample).

use std::collections::HashSet;

use fathom_query::Dialect;
use fathom_schema::{Collection, Index};
use rusqlite::Connection;
use sea_query::SqliteQueryBuilder;

use crate::advisor::{AdvisedRead, PlanReading, Verification, sort_cost};
use crate::error::{StoreError, from_sqlite};
use crate::record::{Deleted, Scope};
use crate::statements;

use super::ddl::{self, ident};
use super::records::bind;

/// Rows of the live table read to estimate its statistics.
const SAMPLE_ROWS: i64 = 10_000;

pub(crate) fn create_index(collection: &Collection, index: &Index) -> String {
    ddl::create_index(collection, index)
}

pub(crate) fn drop_index(index: &Index) -> String {
    format!("DROP INDEX IF EXISTS {}", ident(&index.name))
}

fn read_sql(
    collection: &Collection,
    scope: &Scope,
    read: &AdvisedRead,
) -> (String, sea_query::Values) {
    match read {
        AdvisedRead::List(list) => {
            statements::list_select(Dialect::Sqlite, collection, scope, list, Deleted::Hidden)
                .build(SqliteQueryBuilder)
        }
        AdvisedRead::Count(filter) => statements::count_select(
            Dialect::Sqlite,
            collection,
            scope,
            filter.as_ref(),
            Deleted::Hidden,
        )
        .build(SqliteQueryBuilder),
    }
}

/// The plan of `read` on the live database, with the statistics it has.
pub(crate) fn read_plan(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    read: &AdvisedRead,
) -> Result<PlanReading, StoreError> {
    let rows = row_count(conn, &collection.name)?;
    let stats = Stats::default();
    plan(
        conn,
        &read_sql(collection, scope, read),
        &collection.name,
        rows,
        &stats,
    )
}

/// Plans `read` in a scratch copy of the schema, without and then with `candidate`.
pub(crate) fn verify_index(
    conn: &Connection,
    scope: &Scope,
    collection: &Collection,
    read: &AdvisedRead,
    candidate: &Index,
) -> Result<Verification, StoreError> {
    let table = collection.name.as_str();
    let sql = read_sql(collection, scope, read);
    let rows = row_count(conn, table)?;
    let scratch = scratch_copy(conn)?;
    let mut stats = Stats::default();
    stats.write(conn, &scratch, table, rows)?;
    let before = plan(&scratch, &sql, table, rows, &stats)?;
    scratch
        .execute_batch(&create_index(collection, candidate))
        .map_err(from_sqlite)?;
    stats.write(conn, &scratch, table, rows)?;
    let after = plan(&scratch, &sql, table, rows, &stats)?;
    Ok(Verification {
        method: "sqlite-scratch".into(),
        rows,
        before,
        after,
    })
}

fn row_count(conn: &Connection, table: &str) -> Result<u64, StoreError> {
    let n: i64 = conn
        .query_row(&format!("SELECT COUNT(*) FROM {}", ident(table)), [], |r| {
            r.get(0)
        })
        .map_err(from_sqlite)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// An empty in-memory database with the live one's tables and indexes.
fn scratch_copy(conn: &Connection) -> Result<Connection, StoreError> {
    let scratch = Connection::open_in_memory().map_err(from_sqlite)?;
    let mut statement = conn
        .prepare(
            "SELECT sql FROM sqlite_schema WHERE type IN ('table', 'index') AND sql IS NOT NULL \
             AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index', rowid",
        )
        .map_err(from_sqlite)?;
    let ddl: Vec<String> = statement
        .query_map([], |r| r.get(0))
        .map_err(from_sqlite)?
        .collect::<Result<_, _>>()
        .map_err(from_sqlite)?;
    for sql in ddl {
        // A virtual table's shadow tables are created by their module; a statement the scratch
        // copy cannot run concerns a table no record query reads, so it is left out.
        let _ = scratch.execute_batch(&sql);
    }
    // Creates the empty `sqlite_stat1` the estimates are written into.
    scratch.execute_batch("ANALYZE").map_err(from_sqlite)?;
    Ok(scratch)
}

/// The statistics written into the scratch copy: per index, the average number of rows per
/// distinct value of each of its column prefixes.
#[derive(Default)]
struct Stats {
    averages: Vec<(String, Vec<u64>)>,
}

impl Stats {
    /// Estimates, from a sample of the live table, a `sqlite_stat1` row for every index the
    /// scratch copy has on `table`, writes them and has the planner reload them.
    fn write(
        &mut self,
        live: &Connection,
        scratch: &Connection,
        table: &str,
        rows: u64,
    ) -> Result<(), StoreError> {
        self.averages.clear();
        let indexes: Vec<String> = names(scratch, "SELECT name FROM pragma_index_list(?1)", table)?;
        for index in indexes {
            let columns = names(
                scratch,
                "SELECT name FROM pragma_index_info(?1) ORDER BY seqno",
                &index,
            )?;
            let averages = sample_averages(live, table, &columns, rows)?;
            self.averages.push((index, averages));
        }
        scratch
            .execute("DELETE FROM sqlite_stat1 WHERE tbl = ?1", [table])
            .map_err(from_sqlite)?;
        scratch
            .execute(
                "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, NULL, ?2)",
                (table, rows.to_string()),
            )
            .map_err(from_sqlite)?;
        for (index, averages) in &self.averages {
            let stat: Vec<String> = std::iter::once(rows)
                .chain(averages.iter().copied())
                .map(|n| n.to_string())
                .collect();
            scratch
                .execute(
                    "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, ?2, ?3)",
                    (table, index, stat.join(" ")),
                )
                .map_err(from_sqlite)?;
        }
        scratch
            .execute_batch("ANALYZE sqlite_schema")
            .map_err(from_sqlite)
    }

    /// Rows per key of `index` when its first `equalities` columns are fixed.
    fn rows_per_key(&self, index: &str, equalities: usize, rows: u64) -> u64 {
        self.averages
            .iter()
            .find(|(name, _)| name == index)
            .and_then(|(_, a)| equalities.checked_sub(1).and_then(|k| a.get(k)))
            .copied()
            .unwrap_or(rows)
    }
}

fn names(conn: &Connection, sql: &str, arg: &str) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare(sql).map_err(from_sqlite)?;
    statement
        .query_map([arg], |r| r.get(0))
        .map_err(from_sqlite)?
        .collect::<Result<_, _>>()
        .map_err(from_sqlite)
}

/// The average rows per distinct prefix of `columns`, estimated from the first
/// [`SAMPLE_ROWS`] rows: a prefix whose values all differ in the sample is taken as unique,
/// one that repeats as having as many distinct values in the table as in the sample.
fn sample_averages(
    live: &Connection,
    table: &str,
    columns: &[String],
    rows: u64,
) -> Result<Vec<u64>, StoreError> {
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = columns.iter().map(|c| ident(c)).collect();
    let mut statement = live
        .prepare(&format!(
            "SELECT {} FROM {} LIMIT {SAMPLE_ROWS}",
            list.join(", "),
            ident(table)
        ))
        .map_err(from_sqlite)?;
    let sample: Vec<Vec<String>> = statement
        .query_map([], |r| {
            (0..columns.len())
                .map(|i| {
                    r.get::<_, rusqlite::types::Value>(i)
                        .map(|v| format!("{v:?}"))
                })
                .collect()
        })
        .map_err(from_sqlite)?
        .collect::<Result<_, _>>()
        .map_err(from_sqlite)?;
    let taken = sample.len();
    Ok((1..=columns.len())
        .map(|k| {
            let distinct: HashSet<&[String]> = sample.iter().map(|r| &r[..k]).collect();
            let distinct = if distinct.len() >= taken {
                rows
            } else {
                distinct.len() as u64
            };
            rows.div_ceil(distinct.max(1)).max(1)
        })
        .collect())
}

/// Runs `EXPLAIN QUERY PLAN` and reads it for the collection's table.
fn plan(
    conn: &Connection,
    (sql, values): &(String, sea_query::Values),
    table: &str,
    rows: u64,
    stats: &Stats,
) -> Result<PlanReading, StoreError> {
    let mut statement = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .map_err(from_sqlite)?;
    let lines: Vec<String> = statement
        .query_map(rusqlite::params_from_iter(bind(values.clone())), |r| {
            r.get::<_, String>(3)
        })
        .map_err(from_sqlite)?
        .collect::<Result<_, _>>()
        .map_err(from_sqlite)?;
    Ok(read_lines(lines, table, rows, stats))
}

/// Reads SQLite's plan lines: `SCAN t` (the whole table), `SCAN t USING INDEX i` (an index in
/// order), `SEARCH t USING INDEX i (a=? AND b>?)`, `USE TEMP B-TREE FOR ... ORDER BY`.
fn read_lines(lines: Vec<String>, table: &str, rows: u64, stats: &Stats) -> PlanReading {
    let mut reading = PlanReading::default();
    let mut visited = 0_f64;
    let scan = format!("SCAN {table}");
    let search = format!("SEARCH {table} ");
    for line in &lines {
        if line.contains("TEMP B-TREE") && line.contains("ORDER BY") {
            reading.temp_sort = true;
        } else if line == &scan {
            reading.full_scan = true;
            visited = rows as f64;
        } else if line.starts_with(&format!("{scan} ")) || line.starts_with(&search) {
            let index = line
                .split(" INDEX ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next());
            match index {
                Some(index) => {
                    reading.indexes.push(index.to_owned());
                    let equalities = if line.starts_with(&search) {
                        line.matches("=?").count()
                            - line.matches(">=?").count()
                            - line.matches("<=?").count()
                    } else {
                        0
                    };
                    visited = stats.rows_per_key(index, equalities, rows) as f64;
                }
                // `SEARCH t USING INTEGER PRIMARY KEY` and the like: one row.
                None => visited = 1.0,
            }
        }
    }
    if reading.temp_sort {
        visited += sort_cost(visited);
    }
    reading.cost = visited;
    reading.lines = lines;
    reading
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lines_are_read_for_scans_sorts_and_indexes() {
        let stats = Stats {
            averages: vec![("idx_t__a__b".into(), vec![100, 2])],
        };
        let scan = read_lines(
            vec!["SCAN t".into(), "USE TEMP B-TREE FOR ORDER BY".into()],
            "t",
            1000,
            &stats,
        );
        assert!(scan.full_scan && scan.temp_sort);
        assert!(scan.cost > 1000.0);
        let search = read_lines(
            vec!["SEARCH t USING INDEX idx_t__a__b (a=? AND b>?)".into()],
            "t",
            1000,
            &stats,
        );
        assert!(search.is_served());
        assert_eq!(search.indexes, vec!["idx_t__a__b".to_owned()]);
        assert!((search.cost - 100.0).abs() < f64::EPSILON);
        let other = read_lines(vec!["SCAN u".into()], "t", 1000, &stats);
        assert!(!other.full_scan, "another table's scan is not this table's");
    }
}
