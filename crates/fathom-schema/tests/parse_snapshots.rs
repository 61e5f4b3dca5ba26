//! What users see: the full display of every error in files with many problems at once.

use fathom_schema::parse_schema;

fn display(source: &str) -> String {
    match parse_schema("schema.toml", source) {
        Ok(schema) => panic!("expected errors, but the schema parsed: {schema:#?}"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn a_file_with_many_problems() {
    let source = r#"title = "shop"

[collections.Users]
fields.name = { type = "text" }

[collections.products]
soft_delete = "yes"
feilds = 1
fields.id       = { type = "uuid" }
fields.name     = { type = "txt", requird = true, max_length = -1 }
fields.price    = { type = "decimal", required = "yes", min = 10, max = 5, default = "abc" }
fields.qty      = { type = "integer", min = 0.5, pattern = "(" }
fields.category = { type = "relation", collection = "categorys", on_delete = "set_null", required = true }
fields.status   = { type = "enum", values = ["draft", "draft", 3] }
fields.sku      = { type = "text", pattern = "^[A-Z]+$", min_length = 5, max_length = 3 }
fields.meta     = { type = "json", unique = true }
fields.site     = { type = "url", default = "ftp://example.com" }
fields.born     = { type = "date", default = "2024-02-30" }
indexes = [["category", "price"], ["nme"], [], ["category", "price"], { fields = ["name"], uniq = true }]

[collections.empty]
timestamps = false
"#;
    insta::assert_snapshot!(display(source));
}

#[test]
fn a_file_with_a_syntax_error() {
    let source = "[collections.posts]\nfields.title = { type = \"text\"\nfields.body = { type = \"text\" }\n";
    insta::assert_snapshot!(display(source));
}

#[test]
fn a_file_with_only_default_problems() {
    let source = r#"[collections.events_log]
fields.level   = { type = "enum", values = ["info", "warn", "error"], default = "warning" }
fields.count   = { type = "integer", min = 0, default = -3 }
fields.at      = { type = "timestamp", default = "yesterday" }
fields.owner   = { type = "email", default = "nobody" }
fields.code    = { type = "text", pattern = "[A-Z]{3}", default = "ab" }
fields.parent  = { type = "relation", collection = "events_log", default = "x" }
"#;
    insta::assert_snapshot!(display(source));
}

#[test]
fn a_file_with_rename_problems() {
    let source = r#"[collections.notes]
fields.body    = { type = "text" }
fields.summary = { type = "text", renamed_from = "body" }
fields.lead    = { type = "text", renamed_from = "old" }
fields.teaser  = { type = "text", renamed_from = "old" }
fields.extra   = { type = "text", renamed_from = 3 }
indexes = [["sumary"]]

[collections.memos]
renamed_from = "memos"
fields.title = { type = "text" }
"#;
    insta::assert_snapshot!(display(source));
}
