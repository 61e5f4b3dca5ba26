//! The document diff over hand-built documents of Fathom's shape, one case per kind of change:
//! every breaking kind is caught, and additive ones are never called breaking.

use serde_json::{Value, json};

use super::*;
use crate::{FindingKind, Severity};

/// A field: its name, its write schema without `null`, and whether a create must send it.
type FieldSpec<'a> = (&'a str, Value, bool);

fn with_null(mut property: Value, nullable: bool) -> Value {
    if nullable && let Some(t) = property.get("type").cloned() {
        property["type"] = json!([t, "null"]);
        if let Some(values) = property.get_mut("enum").and_then(Value::as_array_mut) {
            values.push(Value::Null);
        }
    }
    property
}

fn pascal(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

/// A document with Fathom's shape: per collection the five record operations and its
/// `Record`, `Create` and `Update` schemas.
fn document(collections: &[(&str, Vec<FieldSpec<'_>>)]) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for (name, fields) in collections {
        let t = pascal(name);
        paths.insert(
            format!("/api/v1/{name}"),
            json!({
                "get": {"operationId": format!("list{t}")},
                "post": {
                    "operationId": format!("create{t}"),
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{t}Create")}}}}
                }
            }),
        );
        paths.insert(
            format!("/api/v1/{name}/{{id}}"),
            json!({
                "get": {"operationId": format!("get{t}")},
                "patch": {"operationId": format!("update{t}")},
                "delete": {"operationId": format!("delete{t}")}
            }),
        );
        let mut record = serde_json::Map::new();
        let mut create = serde_json::Map::new();
        let mut update = serde_json::Map::new();
        let mut record_required = vec![json!("id")];
        let mut create_required = Vec::new();
        record.insert(
            "id".into(),
            json!({"type": "string", "format": "uuid", "readOnly": true}),
        );
        for (field, property, required) in fields {
            record.insert((*field).into(), with_null(property.clone(), !required));
            create.insert((*field).into(), with_null(property.clone(), !required));
            update.insert((*field).into(), with_null(property.clone(), !required));
            record_required.push(json!(field));
            if *required {
                create_required.push(json!(field));
            }
        }
        record.insert("expand".into(), json!({"type": "object", "properties": {}}));
        schemas.insert(
            format!("{t}Record"),
            json!({"type": "object", "required": record_required, "properties": record}),
        );
        schemas.insert(format!("{t}Create"), json!({"type": "object", "required": create_required, "properties": create, "additionalProperties": false}));
        schemas.insert(
            format!("{t}Update"),
            json!({"type": "object", "properties": update, "additionalProperties": false}),
        );
    }
    paths.insert(
        "/api/v1/batch".into(),
        json!({"post": {"operationId": "batch"}}),
    );
    json!({"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas}})
}

fn text() -> Value {
    json!({"type": "string", "x-fathom-type": "text"})
}

fn notes(fields: Vec<FieldSpec<'_>>) -> Value {
    document(&[("notes", fields)])
}

fn base() -> Vec<FieldSpec<'static>> {
    vec![
        (
            "title",
            json!({"type": "string", "maxLength": 100, "x-fathom-type": "text"}),
            true,
        ),
        ("code", text(), false),
        (
            "state",
            json!({"type": "string", "enum": ["draft", "live"], "x-fathom-type": "enum"}),
            false,
        ),
        (
            "pages",
            json!({"type": "integer", "format": "int64", "minimum": 1, "x-fathom-type": "integer"}),
            false,
        ),
    ]
}

/// `base()` with one field replaced (or removed, for `None`).
fn base_with(field: &str, replacement: Option<FieldSpec<'static>>) -> Vec<FieldSpec<'static>> {
    let mut fields: Vec<FieldSpec<'static>> =
        base().into_iter().filter(|(n, _, _)| *n != field).collect();
    fields.extend(replacement);
    fields
}

fn kinds(changes: &[ApiChange]) -> Vec<(ApiChangeKind, Impact)> {
    changes.iter().map(|c| (c.kind, c.impact)).collect()
}

fn breaking(changes: &[ApiChange]) -> Vec<&ApiChange> {
    changes
        .iter()
        .filter(|c| c.impact == Impact::Breaking)
        .collect()
}

#[test]
fn the_same_document_has_no_changes() {
    assert_eq!(diff_documents(&notes(base()), &notes(base())), vec![]);
}

#[test]
fn a_removed_field_is_breaking_with_its_path_and_before() {
    let changes = diff_documents(&notes(base()), &notes(base_with("code", None)));
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::FieldRemoved, Impact::Breaking)]
    );
    let change = &changes[0];
    assert_eq!(change.subject, "`notes.code`");
    assert_eq!(
        change.path,
        "#/components/schemas/NotesRecord/properties/code"
    );
    assert_eq!(change.before["x-fathom-type"], "text");
    assert_eq!(change.after, Value::Null);
    assert_eq!(change.collection.as_deref(), Some("notes"));
}

#[test]
fn an_added_optional_field_is_additive_and_not_breaking() {
    let mut fields = base();
    fields.push(("extra", text(), false));
    let changes = diff_documents(&notes(base()), &notes(fields));
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::FieldAdded, Impact::Additive)]
    );
    assert_eq!(changes[0].after["x-fathom-type"], "text");
}

#[test]
fn an_added_required_field_is_breaking_on_create() {
    let mut fields = base();
    fields.push((
        "rank",
        json!({"type": "integer", "x-fathom-type": "integer"}),
        true,
    ));
    let changes = diff_documents(&notes(base()), &notes(fields));
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::FieldRequired, Impact::Breaking)]
    );
    assert_eq!(
        changes[0].path,
        "#/components/schemas/NotesCreate/properties/rank"
    );
}

#[test]
fn a_type_change_is_breaking_once_per_field() {
    let changes = diff_documents(
        &notes(base()),
        &notes(base_with(
            "code",
            Some((
                "code",
                json!({"type": "integer", "format": "int64", "x-fathom-type": "integer"}),
                false,
            )),
        )),
    );
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::TypeChanged, Impact::Breaking)]
    );
    assert_eq!(changes[0].before["x-fathom-type"], "text");
    assert_eq!(changes[0].after["x-fathom-type"], "integer");
}

#[test]
fn a_format_change_alone_is_a_type_change() {
    let changes = diff_documents(
        &notes(base()),
        &notes(base_with(
            "code",
            Some((
                "code",
                json!({"type": "string", "format": "email", "x-fathom-type": "email"}),
                false,
            )),
        )),
    );
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::TypeChanged, Impact::Breaking)]
    );
}

#[test]
fn a_relation_to_another_collection_is_a_type_change() {
    let relation = |target: &str| json!({"type": "string", "format": "uuid", "x-fathom-relation": target, "x-fathom-type": "relation"});
    let before = notes(base_with(
        "code",
        Some(("code", relation("authors"), false)),
    ));
    let after = notes(base_with(
        "code",
        Some(("code", relation("editors"), false)),
    ));
    assert_eq!(
        kinds(&diff_documents(&before, &after)),
        [(ApiChangeKind::TypeChanged, Impact::Breaking)]
    );
}

#[test]
fn narrowed_constraints_are_breaking_and_widened_ones_additive() {
    let title = |max: u64| {
        (
            "title",
            json!({"type": "string", "maxLength": max, "x-fathom-type": "text"}),
            true,
        )
    };
    let shorter = diff_documents(&notes(base()), &notes(base_with("title", Some(title(10)))));
    assert_eq!(
        kinds(&shorter),
        [(ApiChangeKind::TypeNarrowed, Impact::Breaking)]
    );
    assert!(
        shorter[0].message.contains("maxLength 100 -> 10"),
        "{}",
        shorter[0].message
    );
    let longer = diff_documents(&notes(base()), &notes(base_with("title", Some(title(500)))));
    assert_eq!(
        kinds(&longer),
        [(ApiChangeKind::TypeWidened, Impact::Additive)]
    );

    let pages = |min: i64| {
        (
            "pages",
            json!({"type": "integer", "format": "int64", "minimum": min, "x-fathom-type": "integer"}),
            false,
        )
    };
    assert_eq!(
        kinds(&diff_documents(
            &notes(base()),
            &notes(base_with("pages", Some(pages(5))))
        )),
        [(ApiChangeKind::TypeNarrowed, Impact::Breaking)]
    );
    assert_eq!(
        kinds(&diff_documents(
            &notes(base()),
            &notes(base_with("pages", Some(pages(0))))
        )),
        [(ApiChangeKind::TypeWidened, Impact::Additive)]
    );
}

#[test]
fn a_new_pattern_or_minimum_length_narrows_and_dropping_one_widens() {
    let patterned = (
        "code",
        json!({"type": "string", "pattern": "^(?:[A-Z]-[0-9])$", "x-fathom-type": "text"}),
        false,
    );
    let changes = diff_documents(
        &notes(base()),
        &notes(base_with("code", Some(patterned.clone()))),
    );
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::TypeNarrowed, Impact::Breaking)]
    );
    let changes = diff_documents(&notes(base_with("code", Some(patterned))), &notes(base()));
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::TypeWidened, Impact::Additive)]
    );
    let min = (
        "code",
        json!({"type": "string", "minLength": 3, "x-fathom-type": "text"}),
        false,
    );
    assert_eq!(
        kinds(&diff_documents(
            &notes(base()),
            &notes(base_with("code", Some(min)))
        )),
        [(ApiChangeKind::TypeNarrowed, Impact::Breaking)]
    );
}

#[test]
fn making_a_field_required_is_breaking_and_optional_is_not() {
    let required = base_with("code", Some(("code", text(), true)));
    let changes = diff_documents(&notes(base()), &notes(required.clone()));
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::FieldRequired, Impact::Breaking)]
    );
    assert_eq!(
        changes[0].path,
        "#/components/schemas/NotesCreate/properties/code"
    );

    // The other way: creates may leave it out (additive), answers may carry null (to review).
    let changes = diff_documents(&notes(required), &notes(base()));
    assert_eq!(
        kinds(&changes),
        [
            (ApiChangeKind::NowNullable, Impact::Review),
            (ApiChangeKind::FieldOptional, Impact::Additive)
        ]
    );
    assert!(breaking(&changes).is_empty());
}

#[test]
fn a_field_that_can_no_longer_be_cleared_is_breaking() {
    // Required with a default: creates may still leave it out, but updates may not send null.
    let before = notes(base());
    let mut after = notes(base());
    after["components"]["schemas"]["NotesUpdate"]["properties"]["code"]["type"] = json!("string");
    let changes = diff_documents(&before, &after);
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::FieldRequired, Impact::Breaking)]
    );
    assert_eq!(
        changes[0].path,
        "#/components/schemas/NotesUpdate/properties/code"
    );
}

#[test]
fn an_enum_value_removed_is_breaking_and_one_added_is_additive() {
    let state = |values: Value| {
        (
            "state",
            json!({"type": "string", "enum": values, "x-fathom-type": "enum"}),
            false,
        )
    };
    let changes = diff_documents(
        &notes(base()),
        &notes(base_with("state", Some(state(json!(["draft"]))))),
    );
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::EnumValueRemoved, Impact::Breaking)]
    );
    assert_eq!(changes[0].before, json!(["live"]));
    let changes = diff_documents(
        &notes(base()),
        &notes(base_with(
            "state",
            Some(state(json!(["draft", "live", "gone"]))),
        )),
    );
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::EnumValueAdded, Impact::Additive)]
    );
    assert_eq!(changes[0].after, json!(["gone"]));
    // Both at once: two changes, the breaking one first.
    let changes = diff_documents(
        &notes(base()),
        &notes(base_with(
            "state",
            Some(state(json!(["draft", "archived"]))),
        )),
    );
    assert_eq!(
        kinds(&changes),
        [
            (ApiChangeKind::EnumValueRemoved, Impact::Breaking),
            (ApiChangeKind::EnumValueAdded, Impact::Additive)
        ]
    );
}

#[test]
fn a_removed_collection_is_one_breaking_change_and_an_added_one_is_additive() {
    let both = document(&[("notes", base()), ("tags", vec![("name", text(), false)])]);
    let changes = diff_documents(&both, &notes(base()));
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::CollectionRemoved, Impact::Breaking)]
    );
    assert_eq!(changes[0].subject, "`tags`");
    let changes = diff_documents(&notes(base()), &both);
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::CollectionAdded, Impact::Additive)]
    );
}

#[test]
fn a_removed_operation_is_breaking_and_an_added_one_additive() {
    let before = notes(base());
    let mut after = notes(base());
    after["paths"]["/api/v1/notes/{id}"]
        .as_object_mut()
        .expect("a path item")
        .remove("delete");
    let changes = diff_documents(&before, &after);
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::OperationRemoved, Impact::Breaking)]
    );
    assert_eq!(changes[0].subject, "DELETE /api/v1/notes/{id}");
    assert_eq!(changes[0].path, "#/paths/~1api~1v1~1notes~1{id}/delete");
    assert_eq!(changes[0].before, json!("deleteNotes"));
    let changes = diff_documents(&after, &before);
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::OperationAdded, Impact::Additive)]
    );
}

#[test]
fn breaking_changes_come_first() {
    let mut fields = base_with("code", None);
    fields.push(("extra", text(), false));
    let changes = diff_documents(&notes(base()), &notes(fields));
    assert_eq!(
        kinds(&changes),
        [
            (ApiChangeKind::FieldRemoved, Impact::Breaking),
            (ApiChangeKind::FieldAdded, Impact::Additive)
        ]
    );
    let text = render(&changes);
    assert!(
        text.starts_with("\nAPI changes: 1 breaking, 0 to review, 1 additive\n"),
        "{text}"
    );
    let breaking_at = text
        .find("BREAKING  field removed: `notes.code`")
        .expect("marked");
    let additive_at = text
        .find("additive  field added: `notes.extra`")
        .expect("listed");
    assert!(breaking_at < additive_at, "{text}");
}

#[test]
fn findings_carry_kind_severity_path_before_and_after() {
    let changes = diff_documents(&notes(base()), &notes(base_with("code", None)));
    let finding = changes[0].to_finding();
    assert_eq!(finding.kind, FindingKind::BreakingApiChange);
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.collection.as_deref(), Some("notes"));
    assert_eq!(finding.title, "field removed: `notes.code`");
    assert_eq!(
        finding.evidence["path"],
        "#/components/schemas/NotesRecord/properties/code"
    );
    assert_eq!(finding.evidence["impact"], "breaking");
    assert_eq!(finding.evidence["change"], "field_removed");
    assert_eq!(finding.evidence["after"], Value::Null);
    let mut fields = base();
    fields.push(("extra", text(), false));
    let added = diff_documents(&notes(base()), &notes(fields))[0].to_finding();
    assert_eq!(
        (added.kind, added.severity),
        (FindingKind::AdditiveApiChange, Severity::Info)
    );
}

fn schema(source: &str) -> fathom_schema::Schema {
    fathom_schema::parse_schema("s.toml", source).expect("a valid schema")
}

fn with_rule(list: &str) -> fathom_schema::Schema {
    schema(&format!(
        "[collections.notes]\nrules = {{ {list} view = true }}\nfields.title = {{ type = \"text\" }}\nfields.owner = {{ type = \"text\" }}\n"
    ))
}

fn rule_kinds(before: &str, after: &str) -> Vec<(ApiChangeKind, Impact)> {
    kinds(&rules::rule_changes(&with_rule(before), &with_rule(after)))
}

#[test]
fn rules_that_admit_fewer_callers_are_breaking() {
    use ApiChangeKind::*;
    assert_eq!(
        rule_kinds("list = true,", "list = \"auth.id != null\","),
        [(RuleTightened, Impact::Breaking)]
    );
    assert_eq!(
        rule_kinds("list = true,", ""),
        [(RuleTightened, Impact::Breaking)]
    );
    assert_eq!(
        rule_kinds(
            "list = \"auth.id != null\",",
            "list = \"auth.id != null && owner = auth.id\","
        ),
        [(RuleTightened, Impact::Breaking)]
    );
    assert_eq!(
        rule_kinds("list = \"auth.id != null\",", ""),
        [(RuleTightened, Impact::Breaking)]
    );
}

#[test]
fn rules_that_admit_more_callers_are_additive_and_others_to_review() {
    use ApiChangeKind::*;
    assert_eq!(
        rule_kinds("", "list = true,"),
        [(RuleLoosened, Impact::Additive)]
    );
    assert_eq!(
        rule_kinds("list = \"auth.id != null\",", "list = true,"),
        [(RuleLoosened, Impact::Additive)]
    );
    assert_eq!(
        rule_kinds(
            "list = \"auth.id != null && owner = auth.id\",",
            "list = \"auth.id != null\","
        ),
        [(RuleLoosened, Impact::Additive)]
    );
    assert_eq!(
        rule_kinds("list = \"owner = auth.id\",", "list = \"title = auth.id\","),
        [(RuleChanged, Impact::Review)]
    );
    // The same rule written differently is no change.
    assert_eq!(
        rule_kinds(
            "list = \"owner = auth.id\",",
            "list = \"(owner = auth.id)\","
        ),
        []
    );
    let change = &rules::rule_changes(&with_rule("list = true,"), &with_rule(""))[0];
    assert_eq!(change.subject, "`notes` list rule");
    assert_eq!(
        (change.before.clone(), change.after.clone()),
        (json!(true), json!("administrators only"))
    );
    assert_eq!(change.to_finding().kind, FindingKind::BreakingApiChange);
}

#[test]
fn a_declared_field_rename_is_one_breaking_rename() {
    let applied = schema("[collections.notes]\nfields.body = { type = \"text\" }\n");
    let desired = schema(
        "[collections.notes]\nfields.summary = { type = \"text\", renamed_from = \"body\" }\n",
    );
    let before = notes(vec![("body", text(), false)]);
    let after = notes(vec![("summary", text(), false)]);
    let changes = api_changes(&before, &after, &applied, &desired);
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::FieldRenamed, Impact::Breaking)]
    );
    assert_eq!(changes[0].subject, "`notes.body` -> `notes.summary`");
    assert_eq!(
        (changes[0].before.clone(), changes[0].after.clone()),
        (json!("notes.body"), json!("notes.summary"))
    );
}

#[test]
fn a_declared_collection_rename_is_one_breaking_rename() {
    let applied = schema("[collections.notes]\nfields.body = { type = \"text\" }\n");
    let desired = schema(
        "[collections.memos]\nrenamed_from = \"notes\"\nfields.body = { type = \"text\" }\n",
    );
    let before = notes(vec![("body", text(), false)]);
    let after = document(&[("memos", vec![("body", text(), false)])]);
    let changes = api_changes(&before, &after, &applied, &desired);
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::CollectionRenamed, Impact::Breaking)]
    );
    assert_eq!(changes[0].collection.as_deref(), Some("memos"));
}

#[test]
fn a_field_renamed_within_a_renamed_collection_is_compared_old_with_new() {
    let applied = schema(
        "[collections.notes]\nfields.body = { type = \"text\" }\nfields.code = { type = \"text\" }\n",
    );
    let desired = schema(
        "[collections.memos]\nrenamed_from = \"notes\"\nfields.summary = { type = \"text\", renamed_from = \"body\" }\nfields.code = { type = \"integer\" }\n",
    );
    let before = notes(vec![("body", text(), false), ("code", text(), false)]);
    let after = document(&[(
        "memos",
        vec![
            ("summary", text(), false),
            (
                "code",
                json!({"type": "integer", "x-fathom-type": "integer"}),
                false,
            ),
        ],
    )]);
    let changes = api_changes(&before, &after, &applied, &desired);
    assert_eq!(
        kinds(&changes),
        [
            (ApiChangeKind::FieldRenamed, Impact::Breaking),
            (ApiChangeKind::TypeChanged, Impact::Breaking),
            (ApiChangeKind::CollectionRenamed, Impact::Breaking),
        ]
    );
    assert_eq!(changes[0].subject, "`memos.body` -> `memos.summary`");
    assert_eq!(
        changes[0].path,
        "#/components/schemas/MemosRecord/properties/summary"
    );
    assert_eq!(changes[1].subject, "`memos.code`");
}

#[test]
fn a_relation_to_a_renamed_collection_is_no_type_change() {
    let applied = schema(
        "[collections.notes]\nfields.parent = { type = \"relation\", collection = \"notes\" }\n",
    );
    let desired = schema(
        "[collections.memos]\nrenamed_from = \"notes\"\nfields.parent = { type = \"relation\", collection = \"memos\" }\n",
    );
    let relation = |target: &str| json!({"type": "string", "format": "uuid", "x-fathom-relation": target, "x-fathom-type": "relation"});
    let before = notes(vec![("parent", relation("notes"), false)]);
    let after = document(&[("memos", vec![("parent", relation("memos"), false)])]);
    let changes = api_changes(&before, &after, &applied, &desired);
    assert_eq!(
        kinds(&changes),
        [(ApiChangeKind::CollectionRenamed, Impact::Breaking)]
    );
}

#[test]
fn profile_fields_of_accounts_are_compared_as_updates() {
    let profile = |properties: Value| {
        let mut document = notes(base());
        document["components"]["schemas"]["ProfileChanges"] =
            json!({"type": "object", "properties": properties, "additionalProperties": false});
        document
    };
    let before = profile(json!({
        "nickname": {"type": ["string", "null"], "maxLength": 20, "x-fathom-type": "text"},
        "team": {"type": ["string", "null"], "enum": ["a", "b", null], "x-fathom-type": "enum"},
    }));
    let after = profile(json!({
        "team": {"type": ["string", "null"], "enum": ["a", null], "x-fathom-type": "enum"},
    }));
    let changes = diff_documents(&before, &after);
    assert_eq!(
        kinds(&changes),
        [
            (ApiChangeKind::FieldRemoved, Impact::Breaking),
            (ApiChangeKind::EnumValueRemoved, Impact::Breaking)
        ]
    );
    assert_eq!(changes[0].subject, "`users.nickname`");
    assert_eq!(
        changes[0].path,
        "#/components/schemas/ProfileChanges/properties/nickname"
    );
    assert_eq!(changes[1].subject, "`users.team`");
    assert!(diff_documents(&after, &after).is_empty());
}
