//! `renamed_from`: how it is declared and checked, and the changes the diff plans from it.

use fathom_schema::{Change, SchemaError, diff, parse_schema};

fn schema(source: &str) -> fathom_schema::Schema {
    parse_schema("schema.toml", source).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(source: &str) -> Vec<SchemaError> {
    match parse_schema("schema.toml", source) {
        Ok(schema) => panic!("expected errors, but the schema parsed: {schema:#?}"),
        Err(errors) => errors.errors,
    }
}

const NOTES: &str = r#"
[collections.notes]
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
fields.code  = { type = "text", unique = true }

[collections.tags]
fields.label = { type = "text" }
fields.note  = { type = "relation", collection = "notes" }
"#;

/// `notes.body` is now `summary`, and `notes` is now `memos`.
const MEMOS: &str = r#"
[collections.memos]
renamed_from = "notes"
fields.title   = { type = "text", required = true }
fields.summary = { type = "text", renamed_from = "body" }
fields.code    = { type = "text", unique = true }

[collections.tags]
fields.label = { type = "text" }
fields.note  = { type = "relation", collection = "memos" }
"#;

#[test]
fn renames_are_read_into_the_model() {
    let memos = schema(MEMOS);
    assert_eq!(memos.renames.collections["memos"], "notes");
    assert_eq!(memos.renames.fields["memos"]["summary"], "body");
}

#[test]
fn a_declared_rename_is_planned_as_a_rename_that_keeps_the_data() {
    let changes = diff(&schema(NOTES), &schema(MEMOS));
    assert_eq!(
        changes,
        [
            Change::RenameCollection {
                from: "notes".into(),
                to: "memos".into()
            },
            Change::RenameField {
                collection: "memos".into(),
                from: "body".into(),
                to: "summary".into()
            },
            // The unique index of `code` keeps its columns; only its derived name changes.
            Change::RenameIndex {
                collection: "memos".into(),
                from: "uq_notes__code".into(),
                to: fathom_schema::Index::new("memos", vec!["code".into()], true),
            },
            // `tags.note` now names `memos`: the same relation, so no change.
        ],
        "{changes:#?}"
    );
    assert!(
        changes
            .iter()
            .all(|c| !c.is_additive() || matches!(c, Change::RenameIndex { .. })),
        "a rename breaks API clients, so it is not additive"
    );
    assert_eq!(
        changes[0].describe(),
        "rename collection `notes` to `memos`, keeping its records"
    );
    assert_eq!(
        changes[1].describe(),
        "rename field `memos.body` to `summary`, keeping its values"
    );
}

#[test]
fn a_rename_already_applied_plans_nothing_and_the_key_may_stay() {
    let memos = schema(MEMOS);
    assert_eq!(diff(&memos, &memos), []);
    // The same file without the keys is the same schema as far as migrations go.
    let without_keys = MEMOS
        .replace("renamed_from = \"notes\"\n", "")
        .replace(", renamed_from = \"body\"", "");
    assert_eq!(diff(&memos, &schema(&without_keys)), []);
    assert_eq!(diff(&schema(&without_keys), &memos), []);
}

#[test]
fn without_renamed_from_a_new_name_is_a_drop_and_an_add() {
    let plain = MEMOS
        .replace("renamed_from = \"notes\"\n", "")
        .replace(", renamed_from = \"body\"", "");
    let changes = diff(&schema(NOTES), &schema(&plain));
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::DropCollection(c) if c.name == "notes")),
        "{changes:#?}"
    );
}

#[test]
fn a_rename_that_collides_is_a_schema_error_at_the_key() {
    let all = errors(
        r#"[collections.notes]
fields.title   = { type = "text" }
fields.body    = { type = "text" }
fields.summary = { type = "text", renamed_from = "body" }
fields.intro   = { type = "text", renamed_from = "intro" }
fields.lead    = { type = "text", renamed_from = "old" }
fields.teaser  = { type = "text", renamed_from = "old" }
fields.extra   = { type = "text", renamed_from = "Not A Name" }

[collections.memos]
renamed_from = "notes"
fields.title = { type = "text" }
"#,
    );
    let found: Vec<(usize, usize, &str)> = all
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                4,
                50,
                "Field `notes.summary` is renamed from `body`, but `notes` still declares a field `body`."
            ),
            (
                5,
                50,
                "Field `notes.intro` is renamed from its own name `intro`."
            ),
            (
                7,
                50,
                "Field `notes.teaser` is renamed from `old`, and so is field `notes.lead`."
            ),
            (
                8,
                50,
                "`renamed_from` of field `notes.extra` must be the field name it had before, but it is a string (`\"Not A Name\"`)."
            ),
            (
                11,
                16,
                "Collection `memos` is renamed from `notes`, but the file still declares a collection `notes`."
            ),
        ],
        "{all:#?}"
    );
    assert_eq!(
        all[0].hint,
        "A rename leaves no field under the old name: remove `renamed_from` to keep both, or remove or rename the field `body`."
    );
    assert_eq!(all[0].path, "collections.notes.fields.summary.renamed_from");
    assert_eq!(all[4].path, "collections.memos.renamed_from");
}

#[test]
fn profile_fields_cannot_be_renamed() {
    let all = errors(
        "[users]\nfields.nick = { type = \"text\", renamed_from = \"name\" }\n\n[collections.notes]\nfields.title = { type = \"text\" }\n",
    );
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        all[0].message,
        "The profile field `users.nick` cannot be renamed with `renamed_from`."
    );
}

/// Index hints offer only fields that can be indexed: not a field whose own name is wrong
/// (reported at the field), and system fields once, in their place.
#[test]
fn index_hints_do_not_offer_fields_whose_names_are_invalid() {
    let all = errors(
        r#"[collections.posts]
fields.Title = { type = "text" }
fields.id    = { type = "text" }
fields.rank  = { type = "integer" }
indexes = [["titel"], ["Title"]]
"#,
    );
    let index: Vec<&SchemaError> = all.iter().filter(|e| e.path.contains("indexes")).collect();
    assert_eq!(
        index.len(),
        1,
        "naming a broken field is reported there only: {all:#?}"
    );
    assert_eq!(
        index[0].hint,
        "Indexable fields are `rank`, `id`, `created_at`, `updated_at`."
    );
}
