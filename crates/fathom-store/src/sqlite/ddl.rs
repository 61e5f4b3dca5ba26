//! SQLite DDL for collections, and the SQL of each migration step.
//!
//! DDL is written here rather than with the query builder because it needs what sea-query does not
//! express (STRICT tables, expression defaults, partial unique indexes, the table-rebuild recipe).
//! It contains no user input: identifiers come from a validated schema file (`[a-z][a-z0-9_]*`) and
//! are quoted anyway; default literals are rendered by [`literal`] from validated values.

use std::collections::BTreeMap;

use fathom_schema::{Change, Collection, Field, FieldType, Index, OnDelete, Schema, Value};

use crate::error::StoreError;
use crate::plan::{Engine, LiveData, PlannedStep, Risk, applied_name, records, review, risks_of};

/// SQLite's expression for "now" in the canonical timestamp form.
const NOW: &str = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";

/// Quotes an identifier for SQLite.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Renders a validated value as an SQL literal (for DEFAULT clauses only).
fn literal(value: &Value) -> String {
    let text = |s: &str| format!("'{}'", s.replace('\'', "''"));
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "1" } else { "0" }.into(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => format!("{n:?}"),
        Value::Text(s) => text(s),
        Value::Json(j) => text(&j.to_string()),
    }
}

/// The SQLite storage class of a field type.
pub(crate) fn column_type(kind: &FieldType) -> &'static str {
    match kind {
        FieldType::Integer | FieldType::Boolean => "INTEGER",
        FieldType::Number => "REAL",
        _ => "TEXT",
    }
}

fn field_default(field: &Field) -> Option<String> {
    let json = field.default.as_ref()?;
    fathom_schema::record::validate_value(field, json)
        .ok()
        .map(|v| literal(&v))
}

fn column_definition(field: &Field) -> String {
    let mut sql = format!("{} {}", ident(&field.name), column_type(&field.kind));
    if field.required {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = field_default(field) {
        sql.push_str(" DEFAULT ");
        sql.push_str(&default);
    }
    if let FieldType::Relation {
        collection,
        on_delete,
    } = &field.kind
    {
        let action = match on_delete {
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        };
        sql.push_str(&format!(
            " REFERENCES {}(\"id\") ON DELETE {action}",
            ident(crate::accounts::table(collection))
        ));
    }
    sql
}

/// CREATE TABLE for a collection under the given table name.
fn create_table(collection: &Collection, table: &str) -> String {
    let mut columns = vec!["\"id\" TEXT PRIMARY KEY NOT NULL".to_owned()];
    if collection.timestamps {
        columns.push(format!("\"created_at\" TEXT NOT NULL DEFAULT {NOW}"));
        columns.push(format!("\"updated_at\" TEXT NOT NULL DEFAULT {NOW}"));
    }
    columns.push("\"version\" INTEGER NOT NULL DEFAULT 1".into());
    if collection.tenant_scoped {
        columns.push("\"tenant\" TEXT NOT NULL".into());
    }
    if collection.soft_delete {
        columns.push("\"deleted_at\" TEXT".into());
    }
    for field in &collection.fields {
        columns.push(column_definition(field));
        columns.extend(blind_column_definition(field));
    }
    format!(
        "CREATE TABLE {} ({}) STRICT",
        ident(table),
        columns.join(", ")
    )
}

/// The HMAC column of a blind-indexed field (see `crypto.rs`), if it has one.
fn blind_column_definition(field: &Field) -> Option<String> {
    field
        .blind_index
        .then(|| format!("{} TEXT", ident(&field.blind_column())))
}

pub(crate) fn create_index(collection: &Collection, index: &Index) -> String {
    // A blind-indexed field is indexed by its HMAC: its ciphertexts are all different.
    let columns: Vec<String> = index
        .fields
        .iter()
        .map(|f| {
            let column = ident(&collection.index_column(f));
            if index.is_descending(f) {
                format!("{column} DESC")
            } else {
                column
            }
        })
        .collect();
    // On soft-delete collections a unique value is held by live records only, so deleting a
    // record frees its value for reuse.
    let partial = if index.unique && collection.soft_delete {
        " WHERE \"deleted_at\" IS NULL"
    } else {
        ""
    };
    format!(
        "CREATE {}INDEX {} ON {} ({}){partial}",
        if index.unique { "UNIQUE " } else { "" },
        ident(&index.name),
        ident(&collection.name),
        columns.join(", ")
    )
}

/// Every statement that creates a collection from nothing.
pub(crate) fn create_collection(collection: &Collection) -> Vec<String> {
    let mut sql = vec![create_table(collection, &collection.name)];
    sql.extend(
        collection
            .effective_indexes()
            .iter()
            .map(|i| create_index(collection, i)),
    );
    sql
}

/// The SQLite table-rebuild recipe: build the new shape beside the old, copy the common columns,
/// swap, and recreate every index. Values that do not fit the new column type make the copy fail
/// (STRICT tables), which rolls the whole migration back.
fn rebuild(old: &Collection, new: &Collection) -> Vec<String> {
    let scratch = format!("_fathom_rebuild_{}", new.name);
    let mut common: Vec<&str> = vec!["id", "version"];
    if old.timestamps && new.timestamps {
        common.extend(["created_at", "updated_at"]);
    }
    if old.soft_delete && new.soft_delete {
        common.push("deleted_at");
    }
    if old.tenant_scoped && new.tenant_scoped {
        common.push("tenant");
    }
    common.extend(
        new.fields
            .iter()
            .filter(|f| old.field(&f.name).is_some())
            .map(|f| f.name.as_str()),
    );
    let blind: Vec<String> = new
        .fields
        .iter()
        .filter(|f| f.blind_index && old.field(&f.name).is_some_and(|o| o.blind_index))
        .map(Field::blind_column)
        .collect();
    common.extend(blind.iter().map(String::as_str));
    let columns: Vec<String> = common.iter().map(|c| ident(c)).collect();
    let columns = columns.join(", ");
    // Turning soft delete off purges the records that were soft-deleted.
    let live_only = if old.soft_delete && !new.soft_delete {
        " WHERE \"deleted_at\" IS NULL"
    } else {
        ""
    };
    let mut sql = vec![
        create_table(new, &scratch),
        format!(
            "INSERT INTO {} ({columns}) SELECT {columns} FROM {}{live_only}",
            ident(&scratch),
            ident(&old.name)
        ),
        format!("DROP TABLE {}", ident(&old.name)),
        format!(
            "ALTER TABLE {} RENAME TO {}",
            ident(&scratch),
            ident(&new.name)
        ),
    ];
    sql.extend(new.effective_indexes().iter().map(|i| create_index(new, i)));
    sql
}

/// Whether a change forces the table to be rebuilt (SQLite's ALTER TABLE cannot express it).
fn needs_rebuild(change: &Change) -> bool {
    match change {
        Change::DropField { .. }
        | Change::AlterField { .. }
        | Change::SetSoftDelete { .. }
        | Change::SetTimestamps { .. }
        | Change::SetTenantScoped { .. } => true,
        // ADD COLUMN cannot add a NOT NULL column without a default.
        Change::AddField { field, .. } => field.required && field.default.is_none(),
        _ => false,
    }
}

/// The SQL of a rename, if the change is one. SQLite carries indexes, and foreign keys of other
/// tables, along with a renamed table or column.
fn rename(change: &Change) -> Option<String> {
    match change {
        Change::RenameCollection { from, to } => Some(format!(
            "ALTER TABLE {} RENAME TO {}",
            ident(from),
            ident(to)
        )),
        Change::RenameField {
            collection,
            from,
            to,
        } => Some(format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            ident(collection),
            ident(from),
            ident(to)
        )),
        _ => None,
    }
}

/// Turns schema changes into planned steps with SQL and risks. `applied` is the applied schema
/// as its renames leave it ([`fathom_schema::diff::Renaming::carried_schema`]).
pub(crate) fn plan_steps(
    applied: &Schema,
    desired: &Schema,
    changes: &[Change],
    live: &dyn LiveData,
) -> Result<Vec<PlannedStep>, StoreError> {
    let mut by_collection: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    let mut steps = Vec::new();
    // Renames first: every later step names the new names.
    for change in changes {
        match rename(change) {
            Some(sql) => {
                let rows = live.row_count(applied_name(changes, change.collection()))?;
                let sql = vec![sql];
                steps.push(PlannedStep {
                    description: change.describe(),
                    locking: review(
                        Engine::Sqlite,
                        change.collection(),
                        &[change],
                        &sql,
                        rows,
                        live,
                    ),
                    sql,
                    risks: risks_of(change, rows, live),
                });
            }
            None => by_collection
                .entry(change.collection())
                .or_default()
                .push(change),
        }
    }
    // Creations first so that relations in later steps can point at them.
    for change in changes {
        if let Change::CreateCollection(c) = change {
            let sql = create_collection(c);
            steps.push(PlannedStep {
                description: change.describe(),
                locking: review(Engine::Sqlite, &c.name, &[change], &sql, 0, live),
                sql,
                risks: vec![],
            });
        }
    }
    for (name, group) in &by_collection {
        let (Some(old), Some(new)) = (applied.collection(name), desired.collection(name)) else {
            continue;
        };
        let rows = live.row_count(applied_name(changes, name))?;
        if group.iter().any(|c| needs_rebuild(c)) {
            let mut risks: Vec<Risk> = group.iter().flat_map(|c| risks_of(c, rows, live)).collect();
            if rows > 0 {
                risks.push(Risk::caution(format!(
                    "rewrites the table `{name}` ({}); writes wait while it runs",
                    records(rows)
                )));
            }
            let description = group
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join("; ");
            let sql = rebuild(old, new);
            steps.push(PlannedStep {
                description,
                locking: review(Engine::Sqlite, name, group, &sql, rows, live),
                sql,
                risks,
            });
            continue;
        }
        for change in group {
            let sql = match change {
                Change::AddField { collection, field } => std::iter::once(column_definition(field))
                    .chain(blind_column_definition(field))
                    .map(|column| format!("ALTER TABLE {} ADD COLUMN {column}", ident(collection)))
                    .collect(),
                Change::CreateIndex { index, .. } => vec![create_index(new, index)],
                Change::DropIndex { index, .. } => {
                    vec![format!("DROP INDEX IF EXISTS {}", ident(&index.name))]
                }
                // SQLite cannot rename an index; the rebuild reads a column already indexed.
                Change::RenameIndex { from, to, .. } => vec![
                    format!("DROP INDEX IF EXISTS {}", ident(from)),
                    create_index(new, to),
                ],
                _ => vec![],
            };
            steps.push(PlannedStep {
                description: change.describe(),
                locking: review(Engine::Sqlite, name, &[change], &sql, rows, live),
                sql,
                risks: risks_of(change, rows, live),
            });
        }
    }
    for change in changes {
        if let Change::DropCollection(c) = change {
            let rows = live.row_count(&c.name)?;
            let sql = vec![format!("DROP TABLE {}", ident(&c.name))];
            steps.push(PlannedStep {
                description: change.describe(),
                locking: review(Engine::Sqlite, &c.name, &[change], &sql, rows, live),
                sql,
                risks: vec![Risk::unsafe_(format!(
                    "deletes the collection, its API endpoints and its {}",
                    records(rows)
                ))],
            });
        }
    }
    Ok(steps)
}
