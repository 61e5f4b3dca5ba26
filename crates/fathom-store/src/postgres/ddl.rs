//! PostgreSQL DDL for collections: native column types, constraints, indexes and the row-level
//! security that isolates tenants.
//!
//! Types: text fields (text, email, url, enum) are `text COLLATE "C"`, so that ordering and `~`
//! (ILIKE) behave byte for byte as on SQLite whatever the database's locale; enums carry a CHECK
//! of their values; integers are `bigint`, numbers `double precision`, decimals `numeric`,
//! timestamps `timestamptz`, dates `date`, uuids and relations `uuid`, json `jsonb`.
//!
//! Identifiers come from a validated schema (`[a-z][a-z0-9_]*`, at most 63 bytes) and are quoted
//! anyway; derived names (indexes, constraints) longer than PostgreSQL's 63 bytes are shortened
//! with a hash ([`name`]). Default literals are rendered by [`literal`] from validated values.

use fathom_schema::{Collection, Field, FieldType, Index, OnDelete, Value};

/// "Now" at the millisecond precision of the canonical timestamp form. `now()` is stable, not
/// volatile: adding a column with this default does not rewrite the table.
pub(crate) const NOW: &str = "date_trunc('milliseconds', now())";

/// The policy that keeps each tenant to its rows.
pub(crate) const TENANT_POLICY: &str = "fathom_tenant_isolation";

/// Quotes an identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A derived object name that fits PostgreSQL's 63-byte limit: longer names keep their first 54
/// bytes and gain a hash of the whole, so distinct long names stay distinct.
pub(crate) fn name(full: &str) -> String {
    if full.len() <= 63 {
        return full.to_owned();
    }
    // FNV-1a: stable across builds and platforms, which a stored name needs.
    let hash = full.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let cut = (0..=54)
        .rev()
        .find(|i| full.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}_{hash:08x}", &full[..cut])
}

/// Renders a quoted string literal. PostgreSQL's `standard_conforming_strings` (on since 9.1)
/// makes doubling the quotes the only escape needed.
pub(crate) fn string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Renders a validated value as an SQL literal (for DEFAULT clauses only).
fn literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => format!("{n:?}"),
        Value::Text(s) => string(s),
        Value::Json(j) => string(&j.to_string()),
    }
}

/// The column type of a field type.
pub(crate) fn column_type(kind: &FieldType) -> &'static str {
    match kind {
        FieldType::Text | FieldType::Email | FieldType::Url | FieldType::Enum { .. } => {
            "text COLLATE \"C\""
        }
        FieldType::Integer => "bigint",
        FieldType::Number => "double precision",
        FieldType::Decimal => "numeric",
        FieldType::Boolean => "boolean",
        FieldType::Timestamp => "timestamptz",
        FieldType::Date => "date",
        FieldType::Uuid | FieldType::Relation { .. } => "uuid",
        FieldType::Json => "jsonb",
    }
}

fn field_default(field: &Field) -> Option<String> {
    let json = field.default.as_ref()?;
    fathom_schema::record::validate_value(field, json)
        .ok()
        .map(|v| literal(&v))
}

/// Whether a default expression is volatile, so that adding a NOT NULL column with it makes
/// PostgreSQL compute it per row by rewriting the table. Fathom's own defaults (literals and
/// [`NOW`]) are not; the check guards the plan should one ever be.
pub(crate) fn is_volatile(default: &str) -> bool {
    [
        "random()",
        "clock_timestamp()",
        "gen_random_uuid()",
        "timeofday()",
        "nextval(",
    ]
    .iter()
    .any(|f| default.contains(f))
}

/// `"name" type [NOT NULL] [DEFAULT ...]`: the column alone; constraints are named separately.
pub(crate) fn column_definition(field: &Field) -> String {
    let mut sql = format!("{} {}", ident(&field.name), column_type(&field.kind));
    if field.required {
        sql.push_str(" NOT NULL");
    }
    if let Some(default) = field_default(field) {
        sql.push_str(" DEFAULT ");
        sql.push_str(&default);
    }
    sql
}

/// The HMAC column of a blind-indexed field (see `crypto.rs`), if it has one.
pub(crate) fn blind_column_definition(field: &Field) -> Option<String> {
    field
        .blind_index
        .then(|| format!("{} text COLLATE \"C\"", ident(&field.blind_column())))
}

/// The default of a field as SQL, for judging a new column.
pub(crate) fn default_sql(field: &Field) -> Option<String> {
    field_default(field)
}

pub(crate) fn foreign_key_name(collection: &str, field: &str) -> String {
    name(&format!("fk_{collection}__{field}"))
}

pub(crate) fn check_name(collection: &str, field: &str) -> String {
    name(&format!("ck_{collection}__{field}"))
}

/// `ALTER TABLE ... ADD CONSTRAINT` for a relation field, if it is one.
pub(crate) fn add_foreign_key(collection: &str, field: &Field) -> Option<String> {
    let FieldType::Relation {
        collection: target,
        on_delete,
    } = &field.kind
    else {
        return None;
    };
    let action = match on_delete {
        OnDelete::Restrict => "RESTRICT",
        OnDelete::Cascade => "CASCADE",
        OnDelete::SetNull => "SET NULL",
    };
    Some(format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}(\"id\") ON DELETE {action}",
        ident(collection),
        ident(&foreign_key_name(collection, &field.name)),
        ident(&field.name),
        ident(crate::accounts::table(target))
    ))
}

/// The CHECK of an enum field's values, if it is one. `not_valid` leaves existing rows
/// unchecked (as SQLite does when enum values change): new and updated rows must pass.
pub(crate) fn add_enum_check(collection: &str, field: &Field, not_valid: bool) -> Option<String> {
    let FieldType::Enum { values } = &field.kind else {
        return None;
    };
    let list: Vec<String> = values.iter().map(|v| string(v)).collect();
    Some(format!(
        "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IN ({})){}",
        ident(collection),
        ident(&check_name(collection, &field.name)),
        ident(&field.name),
        list.join(", "),
        if not_valid { " NOT VALID" } else { "" }
    ))
}

pub(crate) fn drop_constraint(collection: &str, constraint: &str) -> String {
    format!(
        "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
        ident(collection),
        ident(constraint)
    )
}

/// CREATE TABLE with the system columns and every field, without foreign keys (added once every
/// target exists, see [`add_foreign_key`]).
fn create_table(collection: &Collection) -> String {
    let mut columns = vec!["\"id\" uuid PRIMARY KEY".to_owned()];
    if collection.timestamps {
        columns.push(format!("\"created_at\" timestamptz NOT NULL DEFAULT {NOW}"));
        columns.push(format!("\"updated_at\" timestamptz NOT NULL DEFAULT {NOW}"));
    }
    columns.push("\"version\" bigint NOT NULL DEFAULT 1".into());
    if collection.tenant_scoped {
        columns.push("\"tenant\" text COLLATE \"C\" NOT NULL".into());
    }
    if collection.soft_delete {
        columns.push("\"deleted_at\" timestamptz".into());
    }
    for field in &collection.fields {
        columns.push(column_definition(field));
        columns.extend(blind_column_definition(field));
    }
    format!(
        "CREATE TABLE {} ({})",
        ident(&collection.name),
        columns.join(", ")
    )
}

/// The system columns, which are never null.
const SYSTEM_COLUMNS: &[&str] = &["id", "version", "created_at", "updated_at", "tenant"];

/// CREATE INDEX; `concurrently` builds it without blocking writes (outside a transaction).
///
/// Field columns are `NULLS FIRST`, the order lists use (scanned backwards it is descending with
/// nulls last, the descending order lists use), so a sort on them needs no sort step; a field
/// declared descending is `DESC NULLS LAST`, the descending order itself, for sorts whose keys
/// run both ways. System columns keep the default, as lists sort them. A non-unique index ends
/// with `id`, the final key of every sort, so a page is read off the index in order and stops
/// at its limit.
pub(crate) fn create_index(collection: &Collection, index: &Index, concurrently: bool) -> String {
    let mut columns: Vec<String> = index
        .fields
        .iter()
        .map(|f| {
            let descending = index.is_descending(f);
            match (SYSTEM_COLUMNS.contains(&f.as_str()), descending) {
                (true, false) => ident(f),
                (true, true) => format!("{} DESC", ident(f)),
                // A blind-indexed field is indexed by its HMAC: its ciphertexts all differ.
                (false, false) => format!("{} NULLS FIRST", ident(&collection.index_column(f))),
                (false, true) => format!("{} DESC NULLS LAST", ident(&collection.index_column(f))),
            }
        })
        .collect();
    if !index.unique && index.fields.last().is_none_or(|f| f != "id") {
        columns.push("\"id\"".to_owned());
    }
    // On soft-delete collections a unique value is held by live records only, so deleting a
    // record frees its value for reuse.
    let partial = if index.unique && collection.soft_delete {
        " WHERE \"deleted_at\" IS NULL"
    } else {
        ""
    };
    format!(
        "CREATE {}INDEX {}{} ON {} ({}){partial}",
        if index.unique { "UNIQUE " } else { "" },
        if concurrently { "CONCURRENTLY " } else { "" },
        ident(&name(&index.name)),
        ident(&collection.name),
        columns.join(", ")
    )
}

pub(crate) fn drop_index(index: &Index) -> String {
    format!("DROP INDEX IF EXISTS {}", ident(&name(&index.name)))
}

/// Row-level security for a tenant-scoped table: a row is visible and writable only when its
/// tenant is the transaction's `fathom.tenant` setting, or when the transaction set
/// `fathom.all_tenants` (the store's [`Scope::AllTenants`](crate::Scope::AllTenants)). FORCE
/// applies it to the table's owner too, which is the role Fathom connects as. Superusers and
/// roles with BYPASSRLS are never subject to it; the store warns at start-up when it runs as one.
pub(crate) fn enable_tenant_isolation(table: &str) -> Vec<String> {
    vec![
        format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY", ident(table)),
        format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY", ident(table)),
        format!(
            "CREATE POLICY {} ON {} USING (current_setting('fathom.all_tenants', true) = 'on' OR \"tenant\" = NULLIF(current_setting('fathom.tenant', true), ''))",
            ident(TENANT_POLICY),
            ident(table)
        ),
    ]
}

pub(crate) fn disable_tenant_isolation(table: &str) -> Vec<String> {
    vec![
        format!(
            "DROP POLICY IF EXISTS {} ON {}",
            ident(TENANT_POLICY),
            ident(table)
        ),
        format!("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY", ident(table)),
        format!("ALTER TABLE {} DISABLE ROW LEVEL SECURITY", ident(table)),
    ]
}

/// Every statement that creates a collection, except foreign keys.
pub(crate) fn create_collection(collection: &Collection) -> Vec<String> {
    let mut sql = vec![create_table(collection)];
    sql.extend(
        collection
            .fields
            .iter()
            .filter_map(|f| add_enum_check(&collection.name, f, false)),
    );
    sql.extend(
        collection
            .effective_indexes()
            .iter()
            .map(|i| create_index(collection, i, false)),
    );
    if collection.tenant_scoped {
        sql.extend(enable_tenant_isolation(&collection.name));
    }
    sql
}

/// `USING` expression converting a column's values from one type to another, through text (so a
/// value that does not convert fails the migration, as SQLite's strict copy does); booleans and
/// integers convert as SQLite stores booleans (0 and 1).
pub(crate) fn conversion(column: &str, from: &FieldType, to: &FieldType) -> String {
    let col = ident(column);
    let target = column_type(to).trim_end_matches(" COLLATE \"C\"");
    match (from, to) {
        (FieldType::Boolean, FieldType::Integer) => format!("CASE WHEN {col} THEN 1 ELSE 0 END"),
        (FieldType::Boolean, FieldType::Number | FieldType::Decimal) => {
            format!("(CASE WHEN {col} THEN 1 ELSE 0 END)::{target}")
        }
        (FieldType::Integer | FieldType::Number | FieldType::Decimal, FieldType::Boolean) => {
            format!("({col} <> 0)")
        }
        (FieldType::Json, _) => format!("({col} #>> '{{}}')::{target}"),
        (_, FieldType::Json) => format!("to_jsonb({col})"),
        _ => format!("{col}::text::{target}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_shortened_stably_and_distinctly() {
        let a = format!("idx_{}__{}", "c".repeat(40), "a".repeat(40));
        let b = format!("idx_{}__{}", "c".repeat(40), "b".repeat(40));
        assert!(name(&a).len() <= 63);
        assert_ne!(name(&a), name(&b));
        assert_eq!(name(&a), name(&a));
        assert_eq!(name("idx_short"), "idx_short");
    }

    #[test]
    fn volatile_defaults_are_recognised() {
        assert!(is_volatile("gen_random_uuid()"));
        assert!(!is_volatile(NOW));
        assert!(!is_volatile("'draft'"));
    }
}
