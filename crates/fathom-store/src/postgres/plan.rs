//! The SQL and risks of each migration step on PostgreSQL.
//!
//! Unlike SQLite, PostgreSQL alters tables in place, so every change is its own step. Within a
//! collection, index drops run first and index builds last; an index on a table that already
//! holds records, in a migration that changes nothing else about that table, is built
//! CONCURRENTLY before the migration's transaction so writes go on while it builds.

use std::collections::BTreeMap;

use fathom_schema::{Change, Collection, Field, FieldType, Index, Schema};

use super::ddl::{self, ident};
use crate::error::StoreError;
use crate::plan::{
    Engine, LiveData, PlannedStep, Risk, applied_field, applied_name, records, review, risks_of,
};

/// Whether a planned statement runs outside the migration's transaction.
pub(crate) fn runs_concurrently(statement: &str) -> bool {
    statement.contains(" INDEX CONCURRENTLY ")
}

/// A step for one change to a table holding `rows` records.
fn step(
    change: &Change,
    sql: Vec<String>,
    risks: Vec<Risk>,
    rows: u64,
    live: &dyn LiveData,
) -> PlannedStep {
    PlannedStep {
        description: change.describe(),
        locking: review(
            Engine::Postgres,
            change.collection(),
            &[change],
            &sql,
            rows,
            live,
        ),
        sql,
        risks,
    }
}

/// Turns schema changes into planned steps with PostgreSQL SQL and risks. `applied` is the
/// applied schema as its renames leave it ([`fathom_schema::diff::Renaming::carried_schema`]).
pub(crate) fn plan_steps(
    applied: &Schema,
    desired: &Schema,
    changes: &[Change],
    live: &dyn LiveData,
) -> Result<Vec<PlannedStep>, StoreError> {
    // Renames first: every later step names the new names.
    let mut steps = Vec::new();
    for change in changes {
        if let Some(sql) = rename(applied, changes, change) {
            let rows = live.row_count(applied_name(changes, change.collection()))?;
            steps.push(step(change, sql, risks_of(change, rows, live), rows, live));
        }
    }
    steps.extend(create_steps(applied, changes, live));
    let mut by_collection: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for change in changes {
        by_collection
            .entry(change.collection())
            .or_default()
            .push(change);
    }
    for (name, group) in &by_collection {
        let (Some(old), Some(new)) = (applied.collection(name), desired.collection(name)) else {
            continue;
        };
        let rows = live.row_count(applied_name(changes, name))?;
        alter_steps(old, new, group, rows, live, &mut steps);
    }
    for change in changes {
        if let Change::DropCollection(c) = change {
            let rows = live.row_count(&c.name)?;
            // CASCADE drops the foreign keys of other dropped or altered collections that still
            // point here; no collection of the new schema does.
            steps.push(step(
                change,
                vec![format!("DROP TABLE {} CASCADE", ident(&c.name))],
                vec![Risk::unsafe_(format!(
                    "deletes the collection, its API endpoints and its {}",
                    records(rows)
                ))],
                rows,
                live,
            ));
        }
    }
    Ok(steps)
}

/// The SQL of a rename, if the change is one. Foreign keys and CHECKs are named after their
/// table and column, so they are renamed too (later migrations find them by name); indexes
/// follow in [`Change::RenameIndex`] steps.
fn rename(applied: &Schema, changes: &[Change], change: &Change) -> Option<Vec<String>> {
    // The constraints a field has, by kind; the carried schema names the field as desired.
    let constrained = |collection: &str, field: &str| -> Vec<fn(&str, &str) -> String> {
        match applied
            .collection(collection)
            .and_then(|c| c.field(field))
            .map(|f| &f.kind)
        {
            Some(FieldType::Relation { .. }) => vec![ddl::foreign_key_name],
            Some(FieldType::Enum { .. }) => vec![ddl::check_name],
            _ => vec![],
        }
    };
    let rename_constraint = |table: &str, from: String, to: String| {
        format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            ident(table),
            ident(&from),
            ident(&to)
        )
    };
    match change {
        Change::RenameCollection { from, to } => {
            let mut sql = vec![format!(
                "ALTER TABLE {} RENAME TO {}",
                ident(from),
                ident(to)
            )];
            for field in applied
                .collection(to)
                .map(|c| c.fields.as_slice())
                .unwrap_or_default()
            {
                // Field renames run after this one: the column still has its applied name.
                let column = applied_field(changes, to, &field.name);
                for name in constrained(to, &field.name) {
                    sql.push(rename_constraint(to, name(from, column), name(to, column)));
                }
            }
            Some(sql)
        }
        Change::RenameField {
            collection,
            from,
            to,
        } => {
            let mut sql = vec![format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                ident(collection),
                ident(from),
                ident(to)
            )];
            for name in constrained(collection, to) {
                sql.push(rename_constraint(
                    collection,
                    name(collection, from),
                    name(collection, to),
                ));
            }
            Some(sql)
        }
        _ => None,
    }
}

/// One step per new collection. Foreign keys are added once their target exists: with the
/// collection when the target is older, with the target's step when it is created later.
fn create_steps(applied: &Schema, changes: &[Change], live: &dyn LiveData) -> Vec<PlannedStep> {
    let created: Vec<(&Change, &Collection)> = changes
        .iter()
        .filter_map(|change| match change {
            Change::CreateCollection(c) => Some((change, c.as_ref())),
            _ => None,
        })
        .collect();
    let mut steps = Vec::new();
    for (position, &(change, collection)) in created.iter().enumerate() {
        let exists = |target: &str| {
            // Accounts (`users`) always exist: the identity tables come before any migration.
            target == fathom_schema::ACCOUNTS
                || applied.collection(target).is_some()
                || created[..=position].iter().any(|(_, c)| c.name == target)
        };
        let mut sql = ddl::create_collection(collection);
        for field in &collection.fields {
            if let FieldType::Relation {
                collection: target, ..
            } = &field.kind
                && exists(target)
            {
                sql.extend(ddl::add_foreign_key(&collection.name, field));
            }
        }
        for (_, earlier) in &created[..position] {
            for field in &earlier.fields {
                if matches!(&field.kind, FieldType::Relation { collection: target, .. } if *target == collection.name)
                {
                    sql.extend(ddl::add_foreign_key(&earlier.name, field));
                }
            }
        }
        steps.push(PlannedStep {
            description: format!("create collection `{}`", collection.name),
            locking: review(Engine::Postgres, &collection.name, &[change], &sql, 0, live),
            sql,
            risks: vec![],
        });
    }
    steps
}

fn is_index_change(change: &Change) -> bool {
    matches!(
        change,
        Change::CreateIndex { .. } | Change::DropIndex { .. } | Change::RetuneField { .. }
    )
}

/// The steps that alter one existing collection, in execution order.
fn alter_steps(
    old: &Collection,
    new: &Collection,
    group: &[&Change],
    rows: u64,
    live: &dyn LiveData,
    steps: &mut Vec<PlannedStep>,
) {
    let table = new.name.as_str();
    for change in group {
        let sql = match change {
            Change::DropIndex { index, .. } => ddl::drop_index(index),
            Change::RenameIndex { from, to, .. } => format!(
                "ALTER INDEX IF EXISTS {} RENAME TO {}",
                ident(&ddl::name(from)),
                ident(&ddl::name(&to.name))
            ),
            _ => continue,
        };
        steps.push(step(
            change,
            vec![sql],
            risks_of(change, rows, live),
            rows,
            live,
        ));
    }
    for change in group {
        let mut risks = risks_of(change, rows, live);
        let sql = match change {
            Change::AddField { field, .. } => add_field(table, field, rows, &mut risks),
            Change::AlterField { from, to, .. } => {
                let mut sql = alter_field(table, from, to, rows, &mut risks);
                // The indexes over a field whose blind index came or went now cover another
                // column: rebuilt (on an empty table; with data the step is unsafe anyway).
                if from.blind_index != to.blind_index {
                    for index in new.effective_indexes() {
                        if index.fields.contains(&to.name) {
                            sql.push(ddl::drop_index(&index));
                            sql.push(ddl::create_index(new, &index, false));
                        }
                    }
                }
                sql
            }
            Change::RetuneField { from, to, .. } => retune_field(table, from, to),
            Change::DropField { field, .. } => vec![format!(
                "ALTER TABLE {} DROP COLUMN {}",
                ident(table),
                ident(&field.name)
            )],
            Change::SetSoftDelete { enabled, .. } => soft_delete(old, new, *enabled),
            Change::SetTimestamps { enabled: true, .. } => ["created_at", "updated_at"]
                .iter()
                .map(|c| {
                    format!(
                        "ALTER TABLE {} ADD COLUMN {} timestamptz NOT NULL DEFAULT {}",
                        ident(table),
                        ident(c),
                        ddl::NOW
                    )
                })
                .collect(),
            Change::SetTimestamps { enabled: false, .. } => vec![format!(
                "ALTER TABLE {} DROP COLUMN \"created_at\", DROP COLUMN \"updated_at\"",
                ident(table)
            )],
            Change::SetTenantScoped { enabled: true, .. } => {
                let mut sql = vec![format!(
                    "ALTER TABLE {} ADD COLUMN \"tenant\" text COLLATE \"C\" NOT NULL",
                    ident(table)
                )];
                sql.extend(ddl::enable_tenant_isolation(table));
                sql
            }
            Change::SetTenantScoped { enabled: false, .. } => {
                let mut sql = ddl::disable_tenant_isolation(table);
                sql.push(format!(
                    "ALTER TABLE {} DROP COLUMN \"tenant\"",
                    ident(table)
                ));
                sql
            }
            _ => continue,
        };
        steps.push(step(change, sql, risks, rows, live));
    }
    let concurrently = rows > 0 && group.iter().all(|c| is_index_change(c));
    for change in group {
        if let Change::CreateIndex { index, .. } = change {
            let mut risks = risks_of(change, rows, live);
            if concurrently {
                risks.push(Risk::caution(format!(
                    "built CONCURRENTLY over {} before the migration's transaction: writes go on while it builds; if it fails, it is dropped and nothing else is applied",
                    records(rows)
                )));
            } else if rows > 0 {
                risks.push(Risk::caution(format!(
                    "writes to `{table}` wait while the index builds over {}",
                    records(rows)
                )));
            }
            steps.push(step(
                change,
                vec![ddl::create_index(new, index, concurrently)],
                risks,
                rows,
                live,
            ));
        }
    }
}

fn add_field(table: &str, field: &Field, rows: u64, risks: &mut Vec<Risk>) -> Vec<String> {
    let mut sql: Vec<String> = std::iter::once(ddl::column_definition(field))
        .chain(ddl::blind_column_definition(field))
        .map(|column| format!("ALTER TABLE {} ADD COLUMN {column}", ident(table)))
        .collect();
    if field.required && rows > 0 && ddl::default_sql(field).is_some_and(|d| ddl::is_volatile(&d)) {
        risks.push(Risk::caution(format!(
            "the default of `{}` is volatile: PostgreSQL rewrites the table `{table}` ({}) to fill it, and reads and writes wait",
            field.name,
            records(rows)
        )));
    }
    sql.extend(ddl::add_enum_check(table, field, false));
    sql.extend(ddl::add_foreign_key(table, field));
    sql
}

fn alter_field(
    table: &str,
    from: &Field,
    to: &Field,
    rows: u64,
    risks: &mut Vec<Risk>,
) -> Vec<String> {
    let column = ident(&to.name);
    let mut sql = Vec::new();
    // A blind index appears or goes with its column (indexes on it go with it; those the new
    // shape needs are rebuilt by `rebuild_blind_indexes`).
    if from.blind_index && !to.blind_index {
        sql.push(format!(
            "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
            ident(table),
            ident(&from.blind_column())
        ));
    }
    sql.extend(
        ddl::blind_column_definition(to)
            .filter(|_| !from.blind_index)
            .map(|c| format!("ALTER TABLE {} ADD COLUMN {c}", ident(table))),
    );
    if from.kind != to.kind {
        if matches!(from.kind, FieldType::Relation { .. }) {
            sql.push(ddl::drop_constraint(
                table,
                &ddl::foreign_key_name(table, &from.name),
            ));
        }
        if matches!(from.kind, FieldType::Enum { .. }) {
            sql.push(ddl::drop_constraint(
                table,
                &ddl::check_name(table, &from.name),
            ));
        }
        if ddl::column_type(&from.kind) != ddl::column_type(&to.kind) {
            sql.push(format!(
                "ALTER TABLE {} ALTER COLUMN {column} TYPE {} USING {}",
                ident(table),
                ddl::column_type(&to.kind),
                ddl::conversion(&to.name, &from.kind, &to.kind)
            ));
            if rows > 0 {
                risks.push(Risk::caution(format!(
                    "rewrites the table `{table}` ({}) under an exclusive lock: reads and writes wait while it runs",
                    records(rows)
                )));
            }
        }
        sql.extend(ddl::add_enum_check(table, to, true));
        sql.extend(ddl::add_foreign_key(table, to));
    }
    if from.required != to.required {
        let change = if to.required { "SET" } else { "DROP" };
        sql.push(format!(
            "ALTER TABLE {} ALTER COLUMN {column} {change} NOT NULL",
            ident(table)
        ));
    }
    sql
}

/// New enum values: the CHECK is replaced, NOT VALID, so existing records keep their values (as
/// on SQLite) while new and updated ones must use the new list.
fn retune_field(table: &str, from: &Field, to: &Field) -> Vec<String> {
    match (&from.kind, &to.kind) {
        (FieldType::Enum { values: a }, FieldType::Enum { values: b }) if a != b => {
            let mut sql = vec![ddl::drop_constraint(
                table,
                &ddl::check_name(table, &to.name),
            )];
            sql.extend(ddl::add_enum_check(table, to, true));
            sql
        }
        _ => vec![],
    }
}

/// Soft delete on or off: the `deleted_at` column, and the unique indexes that both versions
/// have, rebuilt partial (on) or whole (off).
fn soft_delete(old: &Collection, new: &Collection, enabled: bool) -> Vec<String> {
    let kept: Vec<Index> = new
        .effective_indexes()
        .into_iter()
        .filter(|i| i.unique && old.effective_indexes().contains(i))
        .collect();
    let table = ident(&new.name);
    let mut sql: Vec<String> = kept.iter().map(ddl::drop_index).collect();
    if enabled {
        sql.push(format!(
            "ALTER TABLE {table} ADD COLUMN \"deleted_at\" timestamptz"
        ));
    } else {
        sql.push(format!(
            "DELETE FROM {table} WHERE \"deleted_at\" IS NOT NULL"
        ));
        sql.push(format!("ALTER TABLE {table} DROP COLUMN \"deleted_at\""));
    }
    sql.extend(kept.iter().map(|i| ddl::create_index(new, i, false)));
    sql
}
