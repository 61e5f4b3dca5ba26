//! `fathom advise --apply`: merges the findings' schema patches (indexes to add) into the
//! schema file with `toml_edit`, keeping its comments and layout, for the operator to review
//! and migrate. It refuses when the file changed since it was read.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use fathom_architect::Finding;
use toml_edit::{Array, DocumentMut, Item, Table, Value};

/// One index a patch adds: the collection and its fields.
type Addition = (String, Vec<String>);

/// The indexes a finding's patch declares (`[collections.<name>] indexes = [[...]]`).
fn additions(patch: &str) -> anyhow::Result<Vec<Addition>> {
    let doc: DocumentMut = patch
        .parse()
        .context("a finding's schema patch is not TOML")?;
    let mut out = Vec::new();
    let Some(collections) = doc.get("collections").and_then(Item::as_table_like) else {
        return Ok(out);
    };
    for (name, collection) in collections.iter() {
        let Some(indexes) = collection.get("indexes").and_then(Item::as_array) else {
            continue;
        };
        for index in indexes {
            let fields: Vec<String> = index
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if !fields.is_empty() {
                out.push((name.to_owned(), fields));
            }
        }
    }
    Ok(out)
}

fn strings(fields: &[String]) -> Array {
    fields.iter().map(String::as_str).collect()
}

/// Adds one index to the document; false when it is declared already.
fn add(doc: &mut DocumentMut, (collection, fields): &Addition) -> anyhow::Result<bool> {
    let Some(table) = doc
        .get_mut("collections")
        .and_then(|c| c.get_mut(collection.as_str()))
        .and_then(Item::as_table_like_mut)
    else {
        bail!("the schema file has no collection `{collection}` to add an index to");
    };
    let declared = |value: &Value| {
        let listed = value.as_array().or_else(|| {
            value
                .as_inline_table()
                .and_then(|t| t.get("fields"))
                .and_then(Value::as_array)
        });
        listed.is_some_and(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .eq(fields.iter().map(String::as_str))
        })
    };
    match table.get_mut("indexes") {
        None => {
            let mut list = Array::new();
            list.push(strings(fields));
            table.insert("indexes", Item::Value(Value::Array(list)));
        }
        Some(Item::Value(Value::Array(list))) => {
            if list.iter().any(declared) {
                return Ok(false);
            }
            list.push(strings(fields));
        }
        Some(Item::ArrayOfTables(tables)) => {
            let present = tables.iter().any(|t| {
                t.get("fields")
                    .and_then(Item::as_value)
                    .is_some_and(declared)
            });
            if present {
                return Ok(false);
            }
            let mut entry = Table::new();
            entry.insert("fields", Item::Value(Value::Array(strings(fields))));
            tables.push(entry);
        }
        Some(_) => bail!(
            "`indexes` of collection `{collection}` is neither an array nor an array of tables"
        ),
    }
    Ok(true)
}

/// Writes the patches of `findings` into the schema file `path`, whose content was `source`
/// when advising began; returns what it did, in words.
pub fn apply(path: &Path, source: &str, findings: &[Finding]) -> anyhow::Result<String> {
    let mut wanted = Vec::new();
    for finding in findings {
        if let Some(patch) = &finding.change.schema_patch {
            wanted.extend(additions(patch)?);
        }
    }
    let mut out = String::new();
    if wanted.is_empty() {
        let _ = writeln!(
            out,
            "\nNothing to write: no finding changes the schema file."
        );
        return Ok(out);
    }
    let mut doc: DocumentMut = source
        .parse()
        .with_context(|| format!("the schema file {} is not TOML", path.display()))?;
    let mut added = Vec::new();
    for addition in &wanted {
        if add(&mut doc, addition)? {
            added.push(addition);
        }
    }
    if added.is_empty() {
        let _ = writeln!(
            out,
            "\nNothing to write: the schema file declares every advised index already."
        );
        return Ok(out);
    }
    let now = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the schema file {}", path.display()))?;
    if now != source {
        bail!(
            "the schema file {} changed while advising; nothing was written: run `fathom advise --apply` again",
            path.display()
        );
    }
    // Written beside it and renamed over it, so a crash leaves the old file or the new one.
    let staging = path.with_extension("toml.advise");
    std::fs::write(&staging, doc.to_string())
        .with_context(|| format!("cannot write {}", staging.display()))?;
    std::fs::rename(&staging, path)
        .with_context(|| format!("cannot replace the schema file {}", path.display()))?;
    let _ = writeln!(
        out,
        "\nWrote {} index(es) into {} for review (the database is unchanged):",
        added.len(),
        path.display()
    );
    for (collection, fields) in added {
        let _ = writeln!(out, "  {collection}: {}", strings(fields));
    }
    let _ = writeln!(
        out,
        "Review the file, then run `fathom migrate plan` and `fathom migrate apply`."
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addition(fields: &[&str]) -> Addition {
        (
            "tasks".into(),
            fields.iter().map(|f| (*f).to_owned()).collect(),
        )
    }

    #[test]
    fn an_index_joins_the_inline_list_or_starts_one() {
        let mut doc: DocumentMut = "# keep me\n[collections.tasks]\nfields.team = { type = \"text\" }\nindexes = [[\"team\"]]\n"
            .parse()
            .unwrap();
        assert!(add(&mut doc, &addition(&["team", "created_at", "id"])).unwrap());
        assert!(
            !add(&mut doc, &addition(&["team"])).unwrap(),
            "declared already"
        );
        let text = doc.to_string();
        assert!(text.starts_with("# keep me\n"));
        assert!(
            text.contains("indexes = [[\"team\"], [\"team\", \"created_at\", \"id\"]]"),
            "{text}"
        );

        let mut doc: DocumentMut = "[collections.tasks]\nfields.team = { type = \"text\" }\n"
            .parse()
            .unwrap();
        assert!(add(&mut doc, &addition(&["team", "id"])).unwrap());
        assert!(doc.to_string().contains("indexes = [[\"team\", \"id\"]]"));
    }

    #[test]
    fn an_index_joins_an_array_of_tables() {
        let mut doc: DocumentMut = "[collections.tasks]\nfields.team = { type = \"text\" }\n\n[[collections.tasks.indexes]]\nfields = [\"team\"]\n"
            .parse()
            .unwrap();
        assert!(add(&mut doc, &addition(&["team", "id"])).unwrap());
        assert!(!add(&mut doc, &addition(&["team"])).unwrap());
        let text = doc.to_string();
        let schema = fathom_schema::parse_schema("s.toml", &text).expect("still a schema");
        let tasks = schema.collection("tasks").unwrap();
        assert_eq!(tasks.indexes.len(), 2, "{text}");
    }

    #[test]
    fn a_file_changed_while_advising_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schema.toml");
        let source = "[collections.tasks]\nfields.team = { type = \"text\" }\n";
        let edited = format!("{source}fields.title = {{ type = \"text\" }}\n");
        std::fs::write(&path, &edited).unwrap();
        let finding = Finding {
            kind: fathom_architect::FindingKind::MissingIndex,
            severity: fathom_architect::Severity::Warning,
            collection: Some("tasks".into()),
            title: String::new(),
            evidence: serde_json::Value::Null,
            gain: None,
            change: fathom_architect::Change {
                schema_patch: Some("[collections.tasks]\nindexes = [[\"team\", \"id\"]]\n".into()),
                sql: Vec::new(),
                advice: String::new(),
            },
        };
        let error = apply(&path, source, std::slice::from_ref(&finding)).unwrap_err();
        assert!(
            error.to_string().contains("changed while advising"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);
        std::fs::write(&path, source).unwrap();
        let report = apply(&path, source, &[finding]).unwrap();
        assert!(report.contains("Wrote 1 index(es)"), "{report}");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("indexes = [[\"team\", \"id\"]]")
        );
    }

    #[test]
    fn patches_are_read_back_into_additions() {
        let found = additions("[collections.tasks]\nindexes = [[\"team\", \"id\"]]\n").unwrap();
        assert_eq!(found, vec![addition(&["team", "id"])]);
    }
}
