//! The lock, work and alternative of each kind of step, on both databases, from the plans the
//! planners actually produce for a table of a million records.

use std::collections::HashMap;

use fathom_schema::diff::Renaming;
use fathom_schema::{Schema, diff, parse_schema};

use super::*;
use crate::error::StoreError;
use crate::plan::{Duplicates, PlannedStep};

struct Live {
    rows: u64,
    duplicates: HashMap<(String, String), Duplicates>,
}

impl LiveData for Live {
    fn row_count(&self, _table: &str) -> Result<u64, StoreError> {
        Ok(self.rows)
    }

    fn duplicates(&self, collection: &str, index: &str) -> Option<&Duplicates> {
        self.duplicates
            .get(&(collection.to_owned(), index.to_owned()))
    }
}

const BASE: &str = r#"
[collections.notes]
fields.title = { type = "text", required = true }
fields.code  = { type = "text" }
fields.body  = { type = "text" }
"#;

fn schema(source: &str) -> Schema {
    parse_schema("s.toml", source).expect("a valid schema")
}

/// The steps from [`BASE`] to `desired` on `engine` against `rows` records.
fn plan(engine: Engine, desired: &str, rows: u64, live_duplicates: u64) -> Vec<PlannedStep> {
    let applied = schema(BASE);
    let desired = schema(desired);
    let changes = diff(&applied, &desired);
    let mut duplicates = HashMap::new();
    if live_duplicates > 0 {
        duplicates.insert(
            ("notes".to_owned(), "notes_code_key".to_owned()),
            Duplicates {
                groups: live_duplicates,
                examples: vec![(vec!["A-1".into()], 3)],
                concealed: false,
                query: "SELECT \"code\", COUNT(*) FROM \"notes\" WHERE \"code\" IS NOT NULL GROUP BY \"code\" HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC".into(),
            },
        );
    }
    // The unique index's name is the schema's own; look it up rather than guess it.
    if let Some(fathom_schema::Change::CreateIndex { index, .. }) = changes
        .iter()
        .find(|c| matches!(c, fathom_schema::Change::CreateIndex { .. }))
        && let Some(found) = duplicates.remove(&("notes".to_owned(), "notes_code_key".to_owned()))
    {
        duplicates.insert(("notes".to_owned(), index.name.clone()), found);
    }
    let live = Live { rows, duplicates };
    let carried = Renaming::between(&applied, &desired).carried_schema(&applied);
    match engine {
        Engine::Sqlite => crate::sqlite::ddl::plan_steps(&carried, &desired, &changes, &live),
        Engine::Postgres => crate::postgres::plan::plan_steps(&carried, &desired, &changes, &live),
    }
    .expect("a plan")
}

fn only(steps: &[PlannedStep]) -> &Locking {
    assert_eq!(steps.len(), 1, "{steps:#?}");
    &steps[0].locking
}

const MILLION: u64 = 1_000_000;

#[test]
fn a_type_change_rewrites_under_access_exclusive_on_postgres_with_the_safe_alternative() {
    let desired = BASE.replace(
        r#"fields.code  = { type = "text" }"#,
        r#"fields.code  = { type = "integer" }"#,
    );
    let steps = plan(Engine::Postgres, &desired, MILLION, 0);
    let locking = only(&steps);
    assert_eq!(
        (locking.lock, locking.work, locking.rows),
        (Lock::AccessExclusive, Work::Rewrite, MILLION)
    );
    assert_eq!(locking.estimate_ms, 2_500);
    assert!(
        locking
            .summary()
            .contains("REWRITES `notes`, copying 1000000 records: est. 3 s")
    );
    let alternative = locking.alternative.as_deref().expect("an alternative");
    assert!(
        alternative.contains("add a new optional field of type integer"),
        "{alternative}"
    );
    assert!(alternative.contains("then drop `code`"), "{alternative}");
}

#[test]
fn a_type_change_rebuilds_the_table_on_sqlite_under_the_database_write_lock() {
    let desired = BASE.replace(
        r#"fields.code  = { type = "text" }"#,
        r#"fields.code  = { type = "integer" }"#,
    );
    let steps = plan(Engine::Sqlite, &desired, MILLION, 0);
    let locking = only(&steps);
    assert_eq!(
        (locking.lock, locking.work),
        (Lock::DatabaseWrite, Work::Rewrite)
    );
    // The copy, then nothing else to index: the estimate is the copy's alone.
    assert_eq!(locking.estimate_ms, 2_000);
    assert!(locking.is_long());
    assert!(locking.alternative.is_some());
}

#[test]
fn an_optional_field_is_a_catalog_change_on_both() {
    let desired = format!("{BASE}fields.extra = {{ type = \"text\" }}\n");
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let steps = plan(engine, &desired, MILLION, 0);
        let locking = only(&steps);
        assert_eq!(locking.work, Work::Catalog, "{engine:?}");
        assert_eq!(locking.estimate_ms, 0);
        assert!(!locking.is_long());
        assert_eq!(locking.alternative, None);
        assert!(
            locking.summary().contains("catalog change only"),
            "{}",
            locking.summary()
        );
    }
}

#[test]
fn a_required_field_without_default_says_to_add_a_default() {
    let desired = format!("{BASE}fields.rank = {{ type = \"integer\", required = true }}\n");
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let steps = plan(engine, &desired, 10, 0);
        let alternative = only(&steps).alternative.clone().expect("an alternative");
        assert!(
            alternative.contains("Add `rank` with a `default`"),
            "{alternative}"
        );
    }
    // On an empty table there is nothing to fear.
    assert_eq!(
        only(&plan(Engine::Postgres, &desired, 0, 0)).alternative,
        None
    );
}

#[test]
fn making_a_field_required_scans_on_postgres_and_says_how_to_find_the_gaps() {
    let desired = BASE.replace(
        r#"fields.code  = { type = "text" }"#,
        r#"fields.code  = { type = "text", required = true }"#,
    );
    let steps = plan(Engine::Postgres, &desired, MILLION, 0);
    let locking = only(&steps);
    assert_eq!(
        (locking.lock, locking.work),
        (Lock::AccessExclusive, Work::Scan)
    );
    let alternative = locking.alternative.as_deref().expect("an alternative");
    assert!(alternative.contains("filter=code = null"), "{alternative}");
}

#[test]
fn an_index_on_a_big_table_is_concurrent_on_postgres_and_long_on_sqlite() {
    let desired = format!("{BASE}indexes = [[\"code\"]]\n");
    let steps = plan(Engine::Postgres, &desired, MILLION, 0);
    let locking = only(&steps);
    assert_eq!(
        (locking.lock, locking.work),
        (Lock::ShareUpdateExclusive, Work::Scan)
    );
    assert!(!locking.is_long(), "writes go on while it builds");
    assert_eq!(locking.alternative, None);

    let steps = plan(Engine::Sqlite, &desired, MILLION, 0);
    let locking = only(&steps);
    assert_eq!(
        (locking.lock, locking.work),
        (Lock::DatabaseWrite, Work::Scan)
    );
    assert!(locking.is_long());
    assert!(
        locking
            .alternative
            .as_deref()
            .is_some_and(|a| a.contains("quiet time")),
        "{locking:?}"
    );
}

#[test]
fn an_index_beside_other_changes_takes_share_on_postgres_and_says_to_split() {
    let desired = format!("{BASE}fields.extra = {{ type = \"text\" }}\nindexes = [[\"code\"]]\n");
    let steps = plan(Engine::Postgres, &desired, MILLION, 0);
    let index = steps
        .iter()
        .find(|s| s.description.contains("index"))
        .expect("an index step");
    assert_eq!(index.locking.lock, Lock::Share);
    assert!(
        index
            .locking
            .alternative
            .as_deref()
            .is_some_and(|a| a.contains("CONCURRENTLY")),
        "{index:?}"
    );
}

#[test]
fn a_unique_index_over_shared_values_says_how_many_and_how_to_find_them() {
    let desired = BASE.replace(
        r#"fields.code  = { type = "text" }"#,
        r#"fields.code  = { type = "text", unique = true }"#,
    );
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let steps = plan(engine, &desired, 100, 2);
        let alternative = only(&steps).alternative.clone().expect("an alternative");
        assert!(
            alternative.starts_with("2 values of (code) are shared"),
            "{alternative}"
        );
        assert!(
            alternative.contains(
                "SELECT \"code\", COUNT(*) FROM \"notes\" WHERE \"code\" IS NOT NULL GROUP BY \"code\" HAVING COUNT(*) > 1"
            ),
            "{alternative}"
        );
    }
}

#[test]
fn dropping_a_field_says_to_stop_clients_first() {
    let desired = BASE.replace("fields.body  = { type = \"text\" }\n", "");
    let steps = plan(Engine::Postgres, &desired, 5, 0);
    let locking = only(&steps);
    assert_eq!(
        (locking.lock, locking.work),
        (Lock::AccessExclusive, Work::Catalog)
    );
    assert!(
        locking
            .alternative
            .as_deref()
            .is_some_and(|a| a.starts_with("Stop clients reading and writing `body` first")),
        "{locking:?}"
    );
    let steps = plan(Engine::Sqlite, &desired, 5, 0);
    assert_eq!(
        only(&steps).work,
        Work::Rewrite,
        "SQLite rebuilds the table"
    );
}

#[test]
fn a_new_collection_locks_nothing_existing_on_postgres() {
    let desired = format!("{BASE}\n[collections.tags]\nfields.name = {{ type = \"text\" }}\n");
    let steps = plan(Engine::Postgres, &desired, MILLION, 0);
    let locking = only(&steps);
    assert_eq!((locking.lock, locking.rows), (Lock::None, 0));
    assert_eq!(locking.summary(), "no lock on existing data");
}

#[test]
fn statements_are_classified_by_their_own_words() {
    let pg = |sql: &str| classify(Engine::Postgres, sql);
    assert_eq!(
        pg("ALTER TABLE \"t\" ADD CONSTRAINT \"c\" CHECK (\"x\" IN ('a')) NOT VALID"),
        (Lock::AccessExclusive, Work::Catalog)
    );
    assert_eq!(
        pg("ALTER TABLE \"t\" ADD CONSTRAINT \"f\" FOREIGN KEY (\"a\") REFERENCES \"u\"(\"id\")"),
        (Lock::ShareRowExclusive, Work::Scan)
    );
    assert_eq!(
        pg("ALTER TABLE \"t\" ADD COLUMN \"x\" uuid NOT NULL DEFAULT gen_random_uuid()"),
        (Lock::AccessExclusive, Work::Rewrite)
    );
    assert_eq!(
        pg("DELETE FROM \"t\" WHERE \"deleted_at\" IS NOT NULL"),
        (Lock::RowExclusive, Work::Scan)
    );
    assert_eq!(
        pg("DROP TABLE \"t\" CASCADE"),
        (Lock::AccessExclusive, Work::Catalog)
    );
    assert_eq!(
        classify(Engine::Sqlite, "ALTER TABLE \"t\" RENAME TO \"u\""),
        (Lock::DatabaseWrite, Work::Catalog)
    );
}

#[test]
fn durations_read_naturally() {
    assert_eq!(duration(0), "under 1 s");
    assert_eq!(duration(999), "under 1 s");
    assert_eq!(duration(1_000), "1 s");
    assert_eq!(duration(4_001), "5 s");
    assert_eq!(duration(600_000), "10 min");
}

#[test]
fn a_type_change_that_keeps_the_column_rewrites_nothing_on_postgres() {
    let desired = BASE.replace(
        r#"fields.code  = { type = "text" }"#,
        r#"fields.code  = { type = "email" }"#,
    );
    let steps = plan(Engine::Postgres, &desired, MILLION, 0);
    let locking = only(&steps);
    assert_ne!(locking.work, Work::Rewrite, "{locking:?}");
    assert_eq!(locking.alternative, None);
    // SQLite rebuilds the table for any type change.
    let steps = plan(Engine::Sqlite, &desired, MILLION, 0);
    assert_eq!(only(&steps).work, Work::Rewrite);
    assert!(only(&steps).alternative.is_some());
}
