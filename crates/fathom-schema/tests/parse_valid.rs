//! Schema files that parse: the model they produce, declaration order, both ways of writing a
//! field, and how defaults are stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use fathom_schema::{
    Collection, Constraints, Field, FieldType, Index, OnDelete, Schema, parse_schema,
};
use serde_json::json;

const EXAMPLE: &str = r#"
[collections.categories]
fields.name = { type = "text", required = true, unique = true, max_length = 80 }

[collections.products]
soft_delete = true
timestamps = true            # optional, default true
fields.name     = { type = "text", required = true, max_length = 200 }
fields.price    = { type = "decimal", required = true, min = 0 }
fields.category = { type = "relation", collection = "categories", on_delete = "restrict" }
fields.status   = { type = "enum", values = ["draft", "active", "archived"], default = "draft" }
fields.sku      = { type = "text", pattern = "^[A-Z0-9-]+$", min_length = 3 }
indexes = [["category", "price"], { fields = ["name"], unique = true }]
"#;

fn parse(source: &str) -> Schema {
    match parse_schema("schema.toml", source) {
        Ok(schema) => schema,
        Err(errors) => panic!("expected the schema to parse, got:\n{errors}"),
    }
}

fn field(name: &str, kind: FieldType) -> Field {
    Field {
        name: name.to_owned(),
        kind,
        required: false,
        unique: false,
        default: None,
        constraints: Constraints::default(),
        hidden: false,
        encrypted: false,
        blind_index: false,
    }
}

fn names(collection: &Collection) -> Vec<&str> {
    collection.fields.iter().map(|f| f.name.as_str()).collect()
}

fn collection<'s>(schema: &'s Schema, name: &str) -> &'s Collection {
    match schema.collection(name) {
        Some(collection) => collection,
        None => panic!("collection `{name}` is missing"),
    }
}

#[test]
fn the_example_parses_to_the_expected_model() {
    let categories = Collection {
        name: "categories".into(),
        fields: vec![Field {
            required: true,
            unique: true,
            constraints: Constraints {
                max_length: Some(80),
                ..Constraints::default()
            },
            ..field("name", FieldType::Text)
        }],
        indexes: vec![],
        soft_delete: false,
        timestamps: true,
        tenant_scoped: false,
        require_if_match: false,
        audit: false,
        cache: None,
        rules: Default::default(),
    };
    let products = Collection {
        name: "products".into(),
        fields: vec![
            Field {
                required: true,
                constraints: Constraints {
                    max_length: Some(200),
                    ..Constraints::default()
                },
                ..field("name", FieldType::Text)
            },
            Field {
                required: true,
                constraints: Constraints {
                    min: Some(0.0),
                    ..Constraints::default()
                },
                ..field("price", FieldType::Decimal)
            },
            field(
                "category",
                FieldType::Relation {
                    collection: "categories".into(),
                    on_delete: OnDelete::Restrict,
                },
            ),
            Field {
                default: Some(json!("draft")),
                ..field(
                    "status",
                    FieldType::Enum {
                        values: vec!["draft".into(), "active".into(), "archived".into()],
                    },
                )
            },
            Field {
                constraints: Constraints {
                    min_length: Some(3),
                    pattern: Some("^[A-Z0-9-]+$".into()),
                    ..Constraints::default()
                },
                ..field("sku", FieldType::Text)
            },
        ],
        indexes: vec![
            Index::new("products", vec!["category".into(), "price".into()], false),
            Index::new("products", vec!["name".into()], true),
        ],
        soft_delete: true,
        timestamps: true,
        tenant_scoped: false,
        require_if_match: false,
        audit: false,
        cache: None,
        rules: Default::default(),
    };
    let expected = Schema {
        collections: BTreeMap::from([
            ("categories".to_owned(), Arc::new(categories)),
            ("products".to_owned(), Arc::new(products)),
        ]),
        users: None,
        renames: Default::default(),
        public_email: false,
    };
    assert_eq!(parse(EXAMPLE), expected);
}

#[test]
fn index_names_are_derived_from_collection_and_fields() {
    let schema = parse(EXAMPLE);
    let names: Vec<&str> = collection(&schema, "products")
        .indexes
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["idx_products__category__price", "uq_products__name"]
    );
}

#[test]
fn fields_keep_declaration_order_not_alphabetical_order() {
    let schema = parse(
        r#"
        [collections.notes]
        fields.zeta  = { type = "text" }
        fields.alpha = { type = "integer" }
        fields.mid   = { type = "boolean" }
        fields.beta  = { type = "json" }
        "#,
    );
    assert_eq!(
        names(collection(&schema, "notes")),
        ["zeta", "alpha", "mid", "beta"]
    );
}

#[test]
fn fields_may_be_sub_tables_and_both_forms_give_the_same_model() {
    let inline = parse(
        r#"
        [collections.products]
        soft_delete = true
        fields.name  = { type = "text", required = true, max_length = 200 }
        fields.price = { type = "decimal", min = 0, max = 1000 }
        fields.tags  = { type = "json", default = ["new"] }
        "#,
    );
    let tables = parse(
        r#"
        [collections.products]
        soft_delete = true

        [collections.products.fields.name]
        type = "text"
        required = true
        max_length = 200

        [collections.products.fields.price]
        type = "decimal"
        min = 0
        max = 1000

        [collections.products.fields.tags]
        type = "json"
        default = ["new"]
        "#,
    );
    assert_eq!(inline, tables);
    assert_eq!(
        names(collection(&tables, "products")),
        ["name", "price", "tags"]
    );
}

#[test]
fn the_two_field_forms_can_be_mixed_and_keep_file_order() {
    let schema = parse(
        r#"
        [collections.posts]
        fields.title = { type = "text" }
        fields.body.type = "text"

        [collections.posts.fields.published_at]
        type = "timestamp"

        [collections.posts.fields.rating]
        type = "number"
        "#,
    );
    assert_eq!(
        names(collection(&schema, "posts")),
        ["title", "body", "published_at", "rating"]
    );
}

#[test]
fn a_whole_schema_may_be_written_as_inline_tables() {
    let schema = parse(r#"collections = { tags = { fields = { label = { type = "text" } } } }"#);
    assert_eq!(names(collection(&schema, "tags")), ["label"]);
}

#[test]
fn collection_settings_default_to_timestamps_on_and_soft_delete_off() {
    let schema = parse(
        r#"
        [collections.a]
        fields.x = { type = "text" }
        [collections.b]
        timestamps = false
        soft_delete = true
        fields.x = { type = "text" }
        "#,
    );
    let a = collection(&schema, "a");
    assert!(a.timestamps && !a.soft_delete && a.indexes.is_empty());
    let b = collection(&schema, "b");
    assert!(!b.timestamps && b.soft_delete);
}

#[test]
fn defaults_are_stored_as_json_of_the_right_kind() {
    let schema = parse(
        r#"
        [collections.things]
        fields.count   = { type = "integer", default = 3, min = 0, max = 10 }
        fields.ratio   = { type = "number", default = 0.5 }
        fields.whole   = { type = "number", default = 2 }
        fields.price   = { type = "decimal", default = "12.50" }
        fields.cost    = { type = "decimal", default = 7 }
        fields.active  = { type = "boolean", default = false }
        fields.at      = { type = "timestamp", default = "2026-01-31T09:30:00Z" }
        fields.at_toml = { type = "timestamp", default = 2026-01-31T09:30:00+02:00 }
        fields.on      = { type = "date", default = "2026-01-31" }
        fields.on_toml = { type = "date", default = 2026-01-31 }
        fields.key     = { type = "uuid", default = "0190b5a8-7c1e-7c3a-9d2e-4f5a6b7c8d9e" }
        fields.mail    = { type = "email", default = "team@example.com" }
        fields.site    = { type = "url", default = "https://example.com/a?b=c" }
        fields.code    = { type = "text", default = "AB-1", pattern = "[A-Z]+-[0-9]", max_length = 4 }
        fields.meta    = { type = "json", default = { z = 1, a = [true, "x", 1.5], d = 2026-01-31 } }
        "#,
    );
    let things = collection(&schema, "things");
    let defaults: Vec<(&str, serde_json::Value)> = things
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.default.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        defaults,
        [
            ("count", json!(3)),
            ("ratio", json!(0.5)),
            ("whole", json!(2)),
            ("price", json!("12.50")),
            ("cost", json!(7)),
            ("active", json!(false)),
            ("at", json!("2026-01-31T09:30:00Z")),
            ("at_toml", json!("2026-01-31T09:30:00+02:00")),
            ("on", json!("2026-01-31")),
            ("on_toml", json!("2026-01-31")),
            ("key", json!("0190b5a8-7c1e-7c3a-9d2e-4f5a6b7c8d9e")),
            ("mail", json!("team@example.com")),
            ("site", json!("https://example.com/a?b=c")),
            ("code", json!("AB-1")),
            (
                "meta",
                json!({ "z": 1, "a": [true, "x", 1.5], "d": "2026-01-31" })
            ),
        ]
    );
    // JSON objects keep the key order of the file.
    let meta = things.field("meta").and_then(|f| f.default.as_ref());
    let keys: Vec<&str> = meta
        .and_then(|m| m.as_object())
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["z", "a", "d"]);
    assert_eq!(
        things.field("count").map(|f| f.constraints.max),
        Some(Some(10.0))
    );
}

#[test]
fn relations_may_point_at_their_own_collection_and_clear_optional_fields() {
    let schema = parse(
        r#"
        [collections.employees]
        fields.name    = { type = "text", required = true }
        fields.manager = { type = "relation", collection = "employees", on_delete = "set_null" }
        fields.team    = { type = "relation", collection = "teams", on_delete = "cascade", required = true }

        [collections.teams]
        fields.name = { type = "text" }
        "#,
    );
    let employees = collection(&schema, "employees");
    assert_eq!(
        employees.field("manager").map(|f| &f.kind),
        Some(&FieldType::Relation {
            collection: "employees".into(),
            on_delete: OnDelete::SetNull
        })
    );
    assert_eq!(
        employees.field("team").map(|f| &f.kind),
        Some(&FieldType::Relation {
            collection: "teams".into(),
            on_delete: OnDelete::Cascade
        })
    );
}

#[test]
fn relations_default_to_restrict() {
    let schema = parse(
        r#"
        [collections.a]
        fields.b = { type = "relation", collection = "a" }
        "#,
    );
    assert_eq!(
        collection(&schema, "a").field("b").map(|f| &f.kind),
        Some(&FieldType::Relation {
            collection: "a".into(),
            on_delete: OnDelete::Restrict
        })
    );
}

#[test]
fn indexes_may_use_system_fields_and_array_of_tables_form() {
    let schema = parse(
        r#"
        [collections.logs]
        fields.level = { type = "text" }
        indexes = [["level", "created_at"], ["updated_at"], { fields = ["id", "level"] }]

        [collections.jobs]
        fields.kind = { type = "text" }

        [[collections.jobs.indexes]]
        fields = ["kind"]
        unique = true

        [[collections.jobs.indexes]]
        fields = ["kind", "created_at"]
        "#,
    );
    let logs: Vec<&str> = collection(&schema, "logs")
        .indexes
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        logs,
        [
            "idx_logs__level__created_at",
            "idx_logs__updated_at",
            "idx_logs__id__level"
        ]
    );
    let jobs: Vec<&str> = collection(&schema, "jobs")
        .indexes
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(jobs, ["uq_jobs__kind", "idx_jobs__kind__created_at"]);
}

#[test]
fn the_same_fields_may_carry_a_unique_and_a_plain_index() {
    let schema = parse(
        r#"
        [collections.a]
        fields.b = { type = "text" }
        indexes = [["b"], { fields = ["b"], unique = true }]
        "#,
    );
    assert_eq!(collection(&schema, "a").indexes.len(), 2);
}

#[test]
fn every_type_name_is_accepted() {
    let mut source = String::from("[collections.all]\n");
    for name in FieldType::NAMES {
        let extra = match *name {
            "enum" => r#", values = ["a"]"#,
            "relation" => r#", collection = "all""#,
            _ => "",
        };
        source.push_str(&format!(
            "fields.f_{name} = {{ type = \"{name}\"{extra} }}\n"
        ));
    }
    let schema = parse(&source);
    let kinds: Vec<&str> = collection(&schema, "all")
        .fields
        .iter()
        .map(|f| f.kind.name())
        .collect();
    assert_eq!(kinds, FieldType::NAMES);
}

#[test]
fn profile_fields_are_read_from_the_users_table() {
    let schema = parse(
        "[users]\nfields.display_name = { type = \"text\", max_length = 40 }\n\n\
         [collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    let users = schema.users.expect("profile fields");
    assert_eq!(users.fields[0].name, "display_name");
    assert_eq!(users.fields[0].constraints.max_length, Some(40));
}

#[test]
fn cache_is_a_duration_and_zero_turns_it_off() {
    let schema = parse(
        "[collections.posts]\ncache = \"30s\"\nfields.title = { type = \"text\" }\n\
         [collections.notes]\ncache = \"0s\"\nfields.body = { type = \"text\" }\n\
         [collections.tags]\nfields.name = { type = \"text\" }\n",
    );
    let ttl = |name: &str| schema.collection(name).expect("declared").cache;
    assert_eq!(ttl("posts"), Some(std::time::Duration::from_secs(30)));
    assert_eq!(ttl("notes"), None);
    assert_eq!(ttl("tags"), None);
}

#[test]
fn an_index_key_written_with_a_minus_is_kept_descending() {
    let schema = parse(
        r#"
[collections.tickets]
fields.team     = { type = "text" }
fields.priority = { type = "integer" }
indexes = [["team", "-priority", "id"], ["team", "priority"]]
"#,
    );
    let tickets = collection(&schema, "tickets");
    let descending = &tickets.indexes[0];
    assert_eq!(descending.fields, ["team", "priority", "id"]);
    assert_eq!(descending.descending, ["priority"]);
    assert_eq!(descending.name, "idx_tickets__team__priority_desc__id");
    assert_eq!(descending.declared_keys(), ["team", "-priority", "id"]);
    // The same fields ascending are another index.
    assert!(tickets.indexes[1].descending.is_empty());
    assert_eq!(tickets.indexes[1].name, "idx_tickets__team__priority");
}
