//! The type check: paths resolve against a schema (relation chains of at most two hops), literals
//! become canonical values of the field they meet, `auth.*` and `request.*` bind from the `Env`
//! and fold to constants, and every misuse is an error with a column, a message and a hint.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::sync::Arc;

use fathom_query::{AuthContext, Env, FieldPath, Filter, Hop, QueryError, ValueKind, check, parse};
use fathom_schema::{Collection, Schema, Value, parse_schema};
use sea_query::{Asterisk, Query, SqliteQueryBuilder};

const SCHEMA: &str = r#"
[collections.orgs]
soft_delete = true
fields.name   = { type = "text" }
fields.parent = { type = "relation", collection = "orgs" }

[collections.people]
fields.name = { type = "text" }
fields.tier = { type = "enum", values = ["bronze", "silver", "gold"] }
fields.org  = { type = "relation", collection = "orgs" }

[collections.items]
fields.title  = { type = "text" }
fields.email  = { type = "email" }
fields.site   = { type = "url" }
fields.qty    = { type = "integer" }
fields.score  = { type = "number" }
fields.price  = { type = "decimal" }
fields.active = { type = "boolean" }
fields.due    = { type = "timestamp" }
fields.day    = { type = "date" }
fields.ref    = { type = "uuid" }
fields.meta   = { type = "json" }
fields.status = { type = "enum", values = ["draft", "active", "archived"] }
fields.owner  = { type = "relation", collection = "people" }

[collections.logs]
timestamps = false
fields.line = { type = "text" }
"#;

const ITEM_FIELDS: &str = "Its fields are: id, version, created_at, updated_at, title, email, site, qty, score, price, active, due, day, ref, meta, status, owner.";
const USER_ID: &str = "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12";

fn schema() -> Schema {
    match parse_schema("check.toml", SCHEMA) {
        Ok(schema) => schema,
        Err(errors) => panic!("{errors}"),
    }
}

fn collection(schema: &Schema, name: &str) -> Arc<Collection> {
    schema.collection(name).unwrap().clone()
}

fn check_with(name: &str, source: &str, env: &Env) -> Result<Filter, QueryError> {
    let schema = schema();
    let expr = match parse(source) {
        Ok(expr) => expr,
        Err(error) => panic!("`{source}` does not parse: {error:?}"),
    };
    check(&expr, source, &schema, &collection(&schema, name), env)
}

/// Checks against `items` for an anonymous caller.
fn ok(source: &str) -> Filter {
    ok_with(source, &Env::default())
}

fn ok_with(source: &str, env: &Env) -> Filter {
    match check_with("items", source, env) {
        Ok(filter) => filter,
        Err(error) => panic!("expected `{source}` to check, got {error:?}"),
    }
}

fn err_with(name: &str, source: &str, env: &Env) -> QueryError {
    match check_with(name, source, env) {
        Ok(filter) => panic!("expected `{source}` to be refused, got {filter:?}"),
        Err(error) => error,
    }
}

fn assert_err(source: &str, column: usize, message: &str, hint: &str) {
    assert_err_with("items", source, &Env::default(), column, message, hint);
}

fn assert_err_with(name: &str, source: &str, env: &Env, column: usize, message: &str, hint: &str) {
    let error = err_with(name, source, env);
    assert_eq!(
        (error.column, error.message.as_str(), error.hint.as_str()),
        (column, message, hint),
        "for `{source}`"
    );
}

/// `Some(b)` when the filter folded to a constant (reads no field), else `None`.
fn constant(filter: &Filter) -> Option<bool> {
    filter
        .paths()
        .is_empty()
        .then(|| filter.matches(&|path| panic!("a constant filter read {path:?}")))
}

/// Evaluates a filter over one record given as `(dotted path, value)` pairs (absent = null).
fn matches(filter: &Filter, record: &[(&str, Value)]) -> bool {
    filter.matches(&|path: &FieldPath| {
        record
            .iter()
            .find(|(name, _)| *name == path.dotted())
            .map_or(Value::Null, |(_, v)| v.clone())
    })
}

/// The SQL of a filter on `items`, values inlined.
fn sql(filter: &Filter) -> String {
    let mut select = Query::select();
    select.column(Asterisk).from("items");
    filter.apply(&mut select, "items");
    select.to_string(SqliteQueryBuilder)
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn signed_in() -> Env {
    Env {
        auth: Some(AuthContext {
            id: USER_ID.into(),
            roles: vec!["admin".into(), "editor".into()],
            tenant: Some("t1".into()),
            verified: true,
        }),
        request_method: Some("POST".into()),
        request_body: serde_json::json!({
            "title": "hello",
            "qty": 3,
            "price": "2.50",
            "due": "2026-01-31T10:30:00+01:00",
            "status": "bogus",
            "active": true,
        })
        .as_object()
        .cloned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Fields

#[test]
fn every_field_type_and_system_field_resolves() {
    let kinds = [
        ("title", ValueKind::Text),
        ("email", ValueKind::Text),
        ("site", ValueKind::Text),
        ("status", ValueKind::Text),
        ("qty", ValueKind::Integer),
        ("score", ValueKind::Number),
        ("price", ValueKind::Decimal),
        ("active", ValueKind::Bool),
        ("due", ValueKind::Timestamp),
        ("day", ValueKind::Date),
        ("ref", ValueKind::Uuid),
        ("owner", ValueKind::Uuid),
        ("meta", ValueKind::Json),
        ("id", ValueKind::Uuid),
        ("version", ValueKind::Integer),
        ("created_at", ValueKind::Timestamp),
        ("updated_at", ValueKind::Timestamp),
    ];
    for (name, kind) in kinds {
        let filter = ok(&format!("{name} = null"));
        assert_eq!(
            filter.paths(),
            [FieldPath {
                hops: vec![],
                column: name.into(),
                kind
            }],
            "{name}"
        );
    }
}

#[test]
fn unknown_fields_list_the_fields_of_the_collection_they_were_looked_up_in() {
    assert_err(
        "nope = 1",
        1,
        "The collection `items` has no field `nope`.",
        ITEM_FIELDS,
    );
    assert_err(
        "qty = 1 && owner.nope = 1",
        12,
        "The collection `people` has no field `nope`.",
        "Its fields are: id, version, created_at, updated_at, name, tier, org.",
    );
    assert_err(
        "owner.org.nope = 1",
        1,
        "The collection `orgs` has no field `nope`.",
        "Its fields are: id, version, created_at, updated_at, name, parent.",
    );
    // The soft-delete column is not a field.
    assert_err(
        "owner.org.deleted_at = null",
        1,
        "The collection `orgs` has no field `deleted_at`.",
        "Its fields are: id, version, created_at, updated_at, name, parent.",
    );
    // Without timestamps there are no created_at and updated_at.
    assert_err_with(
        "logs",
        "created_at > \"2026-01-01\"",
        &Env::default(),
        1,
        "The collection `logs` has no field `created_at`.",
        "Its fields are: id, version, line.",
    );
    // Unknown fields on the right, and on the left of a literal, too.
    assert_err(
        "1 < nope",
        5,
        "The collection `items` has no field `nope`.",
        ITEM_FIELDS,
    );
}

#[test]
fn enum_values_must_belong_to_the_enum() {
    let hint = "Its values are: draft, active, archived.";
    assert_err(
        "status = \"nope\"",
        10,
        "\"nope\" is not a value of `status`.",
        hint,
    );
    assert_err(
        "\"nope\" != status",
        1,
        "\"nope\" is not a value of `status`.",
        hint,
    );
    // A list points at its `[`.
    assert_err(
        "status in [\"draft\", \"gone\"]",
        11,
        "\"gone\" is not a value of `status`.",
        hint,
    );
    assert_err(
        "owner.tier = \"platinum\"",
        14,
        "\"platinum\" is not a value of `tier`.",
        "Its values are: bronze, silver, gold.",
    );
    // Values of the enum, orderings and patterns are fine.
    ok("status = \"draft\" || status in [\"active\", \"archived\"]");
    ok("status < \"draft\" && status ~ \"dr\"");
    assert_err(
        "status = 1",
        10,
        "Expected text here, but found 1.",
        "Quote text values: \"paid\".",
    );
}

#[test]
fn literals_of_the_wrong_type_are_refused_per_kind() {
    let text_hint = "Quote text values: \"paid\".";
    let number_hint = "Write numbers without quotes: 100 or 9.5.";
    let timestamp_hint = "Write a quoted RFC 3339 timestamp such as \"2026-01-31T09:30:00Z\" or a date \"2026-01-31\".";
    let date_hint = "Write a quoted date such as \"2026-01-31\".";
    let uuid_hint = "Write a quoted id such as \"0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12\".";
    let cases: &[(&str, usize, &str, &str)] = &[
        (
            "title = 1",
            9,
            "Expected text here, but found 1.",
            text_hint,
        ),
        (
            "title = true",
            9,
            "Expected text here, but found true.",
            text_hint,
        ),
        (
            "email = 2.5",
            9,
            "Expected text here, but found 2.5.",
            text_hint,
        ),
        (
            "site in [\"x\", 1]",
            9,
            "Expected text here, but found 1.",
            text_hint,
        ),
        (
            "qty = \"1\"",
            7,
            "Expected an integer here, but found \"1\".",
            number_hint,
        ),
        (
            "qty = true",
            7,
            "Expected an integer here, but found true.",
            number_hint,
        ),
        (
            "score = \"x\"",
            9,
            "Expected a number here, but found \"x\".",
            number_hint,
        ),
        (
            "price = \"abc\"",
            9,
            "Expected a decimal here, but found \"abc\".",
            number_hint,
        ),
        (
            "price = \"NaN\"",
            9,
            "Expected a decimal here, but found \"NaN\".",
            number_hint,
        ),
        (
            "price = \"inf\"",
            9,
            "Expected a decimal here, but found \"inf\".",
            number_hint,
        ),
        (
            "price = false",
            9,
            "Expected a decimal here, but found false.",
            number_hint,
        ),
        (
            "active = 1",
            10,
            "Expected a boolean here, but found 1.",
            "Write true or false.",
        ),
        (
            "active = \"true\"",
            10,
            "Expected a boolean here, but found \"true\".",
            "Write true or false.",
        ),
        (
            "due = 5",
            7,
            "Expected a timestamp here, but found 5.",
            timestamp_hint,
        ),
        (
            "due = \"yesterday\"",
            7,
            "Expected a timestamp here, but found \"yesterday\".",
            timestamp_hint,
        ),
        (
            "due = \"2026-02-30\"",
            7,
            "Expected a timestamp here, but found \"2026-02-30\".",
            timestamp_hint,
        ),
        (
            "due = \"2026-01-31T25:00:00Z\"",
            7,
            "Expected a timestamp here, but found \"2026-01-31T25:00:00Z\".",
            timestamp_hint,
        ),
        // A leap second is refused, as in stored values, not moved to 23:59:59.999.
        (
            "due = \"2016-12-31T23:59:60Z\"",
            7,
            "Expected a timestamp here, but found \"2016-12-31T23:59:60Z\".",
            timestamp_hint,
        ),
        // In UTC this is in year -1, which the canonical form cannot hold.
        (
            "due = \"0000-01-01T00:30:00+01:00\"",
            7,
            "Expected a timestamp here, but found \"0000-01-01T00:30:00+01:00\".",
            timestamp_hint,
        ),
        (
            "day = \"2026-1-5\"",
            7,
            "Expected a date here, but found \"2026-1-5\".",
            date_hint,
        ),
        (
            "day = \"2026-01-31T00:00:00Z\"",
            7,
            "Expected a date here, but found \"2026-01-31T00:00:00Z\".",
            date_hint,
        ),
        (
            "day = 20260131",
            7,
            "Expected a date here, but found 20260131.",
            date_hint,
        ),
        (
            "ref = \"not-a-uuid\"",
            7,
            "Expected a uuid here, but found \"not-a-uuid\".",
            uuid_hint,
        ),
        (
            "owner = 1",
            9,
            "Expected a uuid here, but found 1.",
            uuid_hint,
        ),
        (
            "id in [\"x\"]",
            7,
            "Expected a uuid here, but found \"x\".",
            uuid_hint,
        ),
    ];
    for (source, column, message, hint) in cases {
        assert_err(source, *column, message, hint);
    }
}

#[test]
fn literals_of_compatible_types_become_canonical_values() {
    // Numbers cross between integers, floats and decimals.
    ok("qty = 1.5 && score = 2 && price = 3 && price = 2.5 && price = \"2.5\"");
    assert_eq!(ok("price = \"1.50\""), ok("price = 1.5"));
    assert!(matches(&ok("price = 1.5"), &[("price", text("1.50"))]));
    assert!(matches(&ok("price > 1"), &[("price", text("1.0001"))]));
    assert!(!matches(&ok("qty = 1.5"), &[("qty", Value::Integer(1))]));
    assert!(matches(&ok("qty < 1.5"), &[("qty", Value::Integer(1))]));
    // Uuids normalise to lowercase hyphenated form.
    assert_eq!(
        ok("ref = \"0190C8E47B7E7C3A9F1E2B4D6A8C0E12\""),
        ok(&format!("ref = \"{USER_ID}\""))
    );
    // Dates are taken as written.
    assert!(matches(
        &ok("day >= \"2026-01-31\""),
        &[("day", text("2026-02-01"))]
    ));
}

#[test]
fn timestamps_with_offsets_or_as_bare_dates_normalise_to_utc_milliseconds() {
    let canonical = ok("due = \"2026-01-31T09:30:00.000Z\"");
    assert_eq!(ok("due = \"2026-01-31T10:30:00+01:00\""), canonical);
    assert_eq!(ok("due = \"2026-01-31T09:30:00Z\""), canonical);
    assert_eq!(ok("due = \"2026-01-31T04:30:00-05:00\""), canonical);
    assert_eq!(ok("due = \"2026-01-31T09:30:00.000400Z\""), canonical);
    assert_eq!(
        ok("due = \"2026-01-31T23:30:00-02:00\""),
        ok("due = \"2026-02-01T01:30:00.000Z\"")
    );
    assert_eq!(
        ok("created_at >= \"2026-01-31\""),
        ok("created_at >= \"2026-01-31T00:00:00.000Z\"")
    );
    assert_eq!(
        ok("due in [\"2026-01-31\", \"2026-01-31T10:30:00+01:00\"]"),
        ok("due in [\"2026-01-31T00:00:00.000Z\", \"2026-01-31T09:30:00.000Z\"]")
    );
    let filter = ok("due = \"2026-01-31T10:30:00.123456+01:00\"");
    assert!(matches(
        &filter,
        &[("due", text("2026-01-31T09:30:00.123Z"))]
    ));
    assert!(
        sql(&filter).contains("'2026-01-31T09:30:00.123Z'"),
        "{}",
        sql(&filter)
    );
}

#[test]
fn fields_compare_with_fields_of_the_same_kind_and_numbers_with_any_number() {
    ok("title = email && qty < score && price >= qty && score != price && owner = ref");
    ok("owner = id && due < created_at && owner.name = title && owner.org.id = ref");
    let cases = [
        (
            "title = qty",
            7,
            "`title` is text but `qty` is an integer; they cannot be compared.",
        ),
        (
            "due < day",
            5,
            "`due` is a timestamp but `day` is a date; they cannot be compared.",
        ),
        (
            "active = qty",
            8,
            "`active` is a boolean but `qty` is an integer; they cannot be compared.",
        ),
        (
            "ref != title",
            5,
            "`ref` is a uuid but `title` is text; they cannot be compared.",
        ),
        (
            "owner.name = owner",
            12,
            "`owner.name` is text but `owner` is a uuid; they cannot be compared.",
        ),
    ];
    for (source, column, message) in cases {
        assert_err(source, column, message, "Compare fields of the same type.");
    }
}

#[test]
fn booleans_and_ids_have_no_order() {
    let hint = "Use = or != for booleans and ids.";
    assert_err(
        "active < true",
        8,
        "`active` is a boolean, which has no order; `<` does not apply.",
        hint,
    );
    assert_err(
        &format!("id >= \"{USER_ID}\""),
        4,
        "`id` is a uuid, which has no order; `>=` does not apply.",
        hint,
    );
    assert_err(
        "owner > ref",
        7,
        "`owner` is a uuid, which has no order; `>` does not apply.",
        hint,
    );
    assert_err(
        &format!("owner.org.id <= \"{USER_ID}\""),
        14,
        "`owner.org.id` is a uuid, which has no order; `<=` does not apply.",
        hint,
    );
    // With the literal first, the message names the operator as written.
    assert_err(
        "true > active",
        6,
        "`active` is a boolean, which has no order; `>` does not apply.",
        hint,
    );
    ok("active = true && active != false && owner != ref");
}

#[test]
fn like_applies_to_text_only_with_a_string_pattern_on_the_right() {
    ok("title ~ \"a\" && email !~ \"@example.com\" && site ~ \"https:%\" && status ~ \"dr\"");
    ok("owner.name ~ \"an\" && owner.org.name !~ \"inc\"");
    let hint = "Use = != < > for other types.";
    assert_err(
        "qty ~ \"1\"",
        5,
        "`~` matches text, but `qty` is an integer.",
        hint,
    );
    assert_err(
        "due ~ \"2026\"",
        5,
        "`~` matches text, but `due` is a timestamp.",
        hint,
    );
    assert_err(
        "ref !~ \"a\"",
        5,
        "`~` matches text, but `ref` is a uuid.",
        hint,
    );
    assert_err(
        "active ~ \"t\"",
        8,
        "`~` matches text, but `active` is a boolean.",
        hint,
    );
    let pattern_hint = "Write `name ~ \"lamp%\"` (`%` any text, `_` one character).";
    assert_err(
        "title ~ 5",
        7,
        "The pattern of `~` must be a string.",
        pattern_hint,
    );
    assert_err(
        "title ~ owner.name",
        7,
        "The pattern of `~` must be a string.",
        pattern_hint,
    );
    assert_err(
        "title ~ [\"a\"]",
        7,
        "The pattern of `~` must be a string.",
        pattern_hint,
    );
    assert_err(
        "\"a%\" ~ title",
        6,
        "The pattern of `~` must be on the right.",
        "Write `field ~ \"pattern\"`.",
    );
    assert_err(
        "title ~ null",
        7,
        "`~` cannot compare with null.",
        "Use `= null` or `!= null` to test for a missing value.",
    );
}

#[test]
fn like_patterns_without_percent_match_anywhere() {
    assert_eq!(ok("title ~ \"lap\""), ok("title ~ \"%lap%\""));
    assert_ne!(ok("title ~ \"lap%\""), ok("title ~ \"%lap%\""));
    let contains = ok("title ~ \"lap\"");
    let prefix = ok("title ~ \"lap%\"");
    let record = |t: &str| [("title", text(t))];
    assert!(matches(&contains, &record("My LAPTOP")));
    assert!(!matches(&prefix, &record("My LAPTOP")));
    assert!(matches(&prefix, &record("Laptop")));
    assert!(matches(&ok("title ~ \"l_p\""), &record("a lip")));
    assert!(matches(&ok("title ~ \"50\\%\""), &record("50%")));
    assert!(!matches(&ok("title ~ \"50\\%\""), &record("500")));
    assert!(!matches(&contains, &[]), "null never matches");
    assert!(
        !matches(&ok("title !~ \"lap\""), &[]),
        "null never fails to match either"
    );
    assert!(
        matches(&ok("!(title ~ \"lap\")"), &[]),
        "but negation matches it"
    );
}

#[test]
fn like_patterns_cannot_end_with_a_lone_escape() {
    // SQLite matches nothing with such a pattern and PostgreSQL refuses it; wrapped in `%…%`
    // it would escape the closing `%`.
    let message = "The pattern of `~` ends with a lone `\\`.";
    let hint =
        r#"In a pattern `\` escapes the next character; to match a backslash, write "\\\\"."#;
    assert_err(r#"title ~ "%a\\""#, 9, message, hint);
    assert_err(r#"title !~ "\\""#, 10, message, hint);
    assert_err(r#"title ~ "a\\\\\\""#, 9, message, hint);
    assert_err_with(
        "items",
        r#"request.body.title ~ "a\\""#,
        &signed_in(),
        22,
        message,
        hint,
    );
    // An escaped backslash is a backslash.
    let filter = ok(r#"title ~ "a\\\\""#);
    assert!(matches(&filter, &[("title", text("xa\\y"))]));
    assert!(!matches(&filter, &[("title", text("xay"))]));
}

#[test]
fn json_fields_can_only_be_tested_for_null() {
    assert_eq!(ok("meta = null").paths().len(), 1);
    ok("meta != null && null != meta");
    let hint = "Use `field = null` or `field != null`.";
    let message = "`meta` is a json field; it can only be tested for null.";
    assert_err("meta = 1", 6, message, hint);
    assert_err("meta != \"{}\"", 6, message, hint);
    assert_err("meta ~ \"x\"", 6, message, hint);
    assert_err("meta < meta", 6, message, hint);
    assert_err("1 = meta", 3, message, hint);
    assert_err(
        "meta in [1]",
        6,
        "`meta` is a json field; `in` does not apply.",
        "Test json fields for null only.",
    );
}

#[test]
fn null_checks_and_misplaced_nulls() {
    let filter = ok("qty = null");
    assert!(matches(&filter, &[]));
    assert!(!matches(&filter, &[("qty", Value::Integer(0))]));
    assert_eq!(ok("null = qty"), filter);
    assert!(matches(&ok("qty != null"), &[("qty", Value::Integer(0))]));
    assert_eq!(constant(&ok("null = null")), Some(true));
    assert_eq!(constant(&ok("null != null")), Some(false));
    let hint = "Use `= null` or `!= null` to test for a missing value.";
    assert_err("qty < null", 5, "`<` cannot compare with null.", hint);
    assert_err("null >= qty", 6, "`>=` cannot compare with null.", hint);
    assert_err(
        "[1] = null",
        5,
        "Only fields and values can be compared with null.",
        "Compare a field: `field = null`.",
    );
    assert_err(
        "qty in [1, null]",
        8,
        "An `in` list cannot hold null.",
        "Test for null separately: `(field = null || field in [...])`.",
    );
}

#[test]
fn comparisons_need_a_field_and_in_needs_a_list() {
    let hint = "Compare a field with a value, such as `status = \"paid\"`.";
    assert_err(
        "1 = 1",
        3,
        "A comparison needs a field on at least one side.",
        hint,
    );
    assert_err(
        "\"a\" < [1]",
        5,
        "A comparison needs a field on at least one side.",
        hint,
    );
    let in_hint = "Write `status in [\"paid\", \"shipped\"]` or `\"admin\" in auth.roles`.";
    let in_message = "`in` needs a field or value on the left and a list on the right.";
    assert_err("qty in 1", 5, in_message, in_hint);
    assert_err("qty in score", 5, in_message, in_hint);
    assert_err("1 in [1]", 3, in_message, in_hint);
    assert_err("[1] in [1]", 5, in_message, in_hint);
    // An empty list matches nothing.
    assert_eq!(constant(&ok("qty in []")), Some(false));
    assert_eq!(constant(&ok("!(qty in [])")), Some(true));
}

// ---------------------------------------------------------------------------------------------
// Relation paths

#[test]
fn relation_paths_follow_one_or_two_hops() {
    let people = Hop {
        field: "owner".into(),
        collection: "people".into(),
        soft_delete: false,
    };
    let orgs = Hop {
        field: "org".into(),
        collection: "orgs".into(),
        soft_delete: true,
    };
    assert_eq!(
        ok("owner.name = \"a\"").paths(),
        [FieldPath {
            hops: vec![people.clone()],
            column: "name".into(),
            kind: ValueKind::Text
        }]
    );
    assert_eq!(
        ok("owner.org.name ~ \"a\"").paths(),
        [FieldPath {
            hops: vec![people.clone(), orgs.clone()],
            column: "name".into(),
            kind: ValueKind::Text
        }]
    );
    // The last segment may be a relation or a system field.
    assert_eq!(
        ok("owner.org.parent = null").paths()[0],
        FieldPath {
            hops: vec![people.clone(), orgs],
            column: "parent".into(),
            kind: ValueKind::Uuid
        }
    );
    assert_eq!(ok("owner.version > 1").paths()[0].kind, ValueKind::Integer);
    assert_eq!(
        ok("owner.created_at > \"2026-01-01\"").paths()[0].kind,
        ValueKind::Timestamp
    );
    // Each path is listed once.
    let filter = ok("owner.name = \"a\" || owner.name = \"b\" || owner.tier = \"gold\"");
    assert_eq!(filter.paths().len(), 2);
    assert_eq!(filter.paths()[0].dotted(), "owner.name");
}

#[test]
fn three_hops_and_following_non_relations_are_refused() {
    assert_err(
        "qty = 1 && owner.org.parent.name = \"a\"",
        12,
        "Relation paths can follow at most two relations.",
        "Filter on a closer field, or split the query.",
    );
    let hint = "Only relation fields can be followed with `.`.";
    assert_err(
        "title.length = 1",
        1,
        "`title` is not a relation; nothing follows it.",
        hint,
    );
    assert_err(
        "id.x = 1",
        1,
        "`id` is not a relation; nothing follows it.",
        hint,
    );
    assert_err(
        "owner.id.x = 1",
        1,
        "`id` is not a relation; nothing follows it.",
        hint,
    );
    assert_err(
        "owner.name.x = 1",
        1,
        "`name` is not a relation; nothing follows it.",
        hint,
    );
}

#[test]
fn relation_paths_compile_to_left_joins_that_skip_soft_deleted_records() {
    let filter = ok("owner.org.name = \"acme\" && owner.name != null");
    assert_eq!(
        sql(&filter),
        "SELECT * FROM \"items\" \
         LEFT JOIN \"people\" AS \"j__owner\" ON \"j__owner\".\"id\" = \"items\".\"owner\" \
         LEFT JOIN \"orgs\" AS \"j__owner__org\" ON \"j__owner__org\".\"id\" = \"j__owner\".\"org\" \
         AND \"j__owner__org\".\"deleted_at\" IS NULL \
         WHERE \"j__owner__org\".\"name\" IS NOT NULL AND \"j__owner__org\".\"name\" = 'acme' \
         AND \"j__owner\".\"name\" IS NOT NULL"
    );
}

#[test]
fn comparisons_are_guarded_against_null_in_sql() {
    assert_eq!(
        sql(&ok("!(price > qty)")),
        "SELECT * FROM \"items\" WHERE NOT (\"items\".\"price\" IS NOT NULL \
         AND \"items\".\"qty\" IS NOT NULL AND CAST(\"items\".\"price\" AS REAL) > \"items\".\"qty\")"
    );
    assert_eq!(
        sql(&ok("title !~ \"a%\" || qty in [1, 2]")),
        "SELECT * FROM \"items\" WHERE (\"items\".\"title\" IS NOT NULL \
         AND \"items\".\"title\" NOT LIKE 'a%' ESCAPE '\\') \
         OR (\"items\".\"qty\" IS NOT NULL AND \"items\".\"qty\" IN (1, 2))"
    );
}

// ---------------------------------------------------------------------------------------------
// auth.* and request.*

#[test]
fn anonymous_callers_bind_every_auth_value_to_null() {
    let anonymous = Env::default();
    let folded = [
        ("auth.id = owner", false),
        ("owner = auth.id", false),
        ("owner != auth.id", false),
        ("!(owner = auth.id)", true),
        ("auth.id = null", true),
        ("auth.id != null", false),
        ("\"admin\" in auth.roles", false),
        ("title in auth.roles", false),
        ("auth.verified = true", false),
        ("auth.verified != true", false),
        ("auth.tenant = null", true),
        (&format!("auth.id = \"{USER_ID}\""), false),
        ("title ~ auth.tenant", false),
        (
            "auth.id in [\"0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12\"]",
            false,
        ),
    ];
    for (source, expected) in folded {
        assert_eq!(
            constant(&ok_with(source, &anonymous)),
            Some(expected),
            "{source}"
        );
    }
    // A rule mixing fields and auth keeps only the field part.
    let filter = ok_with("owner = auth.id || status = \"active\"", &anonymous);
    assert!(matches(&filter, &[("status", text("active"))]));
    assert!(!matches(
        &filter,
        &[("status", text("draft")), ("owner", text(USER_ID))]
    ));
}

#[test]
fn signed_in_callers_bind_their_id_roles_tenant_and_verification() {
    let env = signed_in();
    let folded = [
        ("\"admin\" in auth.roles", true),
        ("\"editor\" in auth.roles", true),
        ("\"viewer\" in auth.roles", false),
        ("!(\"viewer\" in auth.roles)", true),
        ("auth.verified = true", true),
        ("auth.verified != true", false),
        ("auth.tenant = \"t1\"", true),
        ("\"t1\" = auth.tenant", true),
        ("auth.tenant != \"t1\"", false),
        ("auth.tenant < \"t2\"", true),
        ("\"t2\" > auth.tenant", true),
        ("\"t0\" > auth.tenant", false),
        ("auth.id = null", false),
        ("auth.id != null", true),
        ("auth.tenant in [\"t0\", \"t1\"]", true),
        ("auth.tenant in [\"t0\"]", false),
        ("auth.tenant ~ \"t\"", true),
        ("auth.tenant ~ \"T%\"", true),
        ("auth.tenant !~ \"x\"", true),
        (&format!("auth.id = \"{}\"", USER_ID.to_uppercase()), true),
        ("auth.tenant = auth.tenant", true),
    ];
    for (source, expected) in folded {
        assert_eq!(constant(&ok_with(source, &env)), Some(expected), "{source}");
    }
    let own = ok_with("owner = auth.id", &env);
    assert!(matches(&own, &[("owner", text(USER_ID))]));
    assert!(!matches(
        &own,
        &[("owner", text("0190c8e4-0000-7c3a-9f1e-2b4d6a8c0e12"))]
    ));
    assert!(!matches(&own, &[]));
    assert_eq!(own, ok_with("auth.id = owner", &env));
    let roles = ok_with("title in auth.roles", &env);
    assert!(matches(&roles, &[("title", text("editor"))]));
    assert!(!matches(&roles, &[("title", text("Admin"))]));
    let tenant = ok_with("title ~ auth.tenant", &env);
    assert!(matches(&tenant, &[("title", text("at1b"))]));
    // A bound pattern is matched literally: its `%` and `_` are not wildcards.
    let env_pct = Env {
        auth: Some(AuthContext {
            tenant: Some("a_%".into()),
            ..AuthContext::default()
        }),
        ..Env::default()
    };
    let literal = ok_with("title ~ auth.tenant", &env_pct);
    assert!(matches(&literal, &[("title", text("xa_%y"))]));
    assert!(!matches(&literal, &[("title", text("abc"))]));
}

#[test]
fn request_method_and_body_bind_as_values_of_the_fields_they_name() {
    let env = signed_in();
    assert_eq!(
        constant(&ok_with("request.method = \"POST\"", &env)),
        Some(true)
    );
    assert_eq!(
        constant(&ok_with("request.method = null", &Env::default())),
        Some(true)
    );
    assert_eq!(constant(&ok_with("request.body.qty > 2", &env)), Some(true));
    assert_eq!(constant(&ok_with("2 < request.body.qty", &env)), Some(true));
    assert_eq!(
        constant(&ok_with("4 <= request.body.qty", &env)),
        Some(false)
    );
    assert_eq!(
        constant(&ok_with("request.body.price = 2.5", &env)),
        Some(true)
    );
    assert_eq!(
        constant(&ok_with("request.body.title ~ \"ell\"", &env)),
        Some(true)
    );
    assert_eq!(
        constant(&ok_with("request.body.title ~ \"ell%\"", &env)),
        Some(false)
    );
    assert_eq!(
        constant(&ok_with("request.body.title = \"hello\"", &env)),
        Some(true)
    );
    assert_eq!(
        constant(&ok_with("request.body.active = true", &env)),
        Some(true)
    );
    // Absent and invalid body values are null.
    assert_eq!(
        constant(&ok_with("request.body.email = null", &env)),
        Some(true)
    );
    assert_eq!(
        constant(&ok_with("request.body.status = null", &env)),
        Some(true)
    );
    assert_eq!(
        constant(&ok_with("request.body.status = status", &env)),
        Some(false)
    );
    // Compared with fields they stay comparisons, with canonical values.
    let qty = ok_with("request.body.qty = qty", &env);
    assert!(matches(&qty, &[("qty", Value::Integer(3))]));
    let price = ok_with("price <= request.body.price", &env);
    assert!(matches(&price, &[("price", text("2.5"))]));
    assert!(!matches(&price, &[("price", text("2.51"))]));
    let due = ok_with("due = request.body.due", &env);
    assert!(matches(&due, &[("due", text("2026-01-31T09:30:00.000Z"))]));
}

#[test]
fn unknown_bindings_and_misused_lists_are_refused() {
    let env = signed_in();
    let auth_hint =
        "The caller is described by auth.id, auth.roles, auth.tenant and auth.verified.";
    assert_err_with(
        "items",
        "qty = 1 && auth.name = 1",
        &env,
        12,
        "`auth.name` is not known.",
        auth_hint,
    );
    assert_err_with(
        "items",
        "auth = 1",
        &env,
        1,
        "`auth` is not known.",
        auth_hint,
    );
    assert_err_with(
        "items",
        "auth.id.x = 1",
        &env,
        1,
        "`auth.id.x` is not known.",
        auth_hint,
    );
    let request_hint = "The request is described by request.method and request.body.<field>.";
    assert_err_with(
        "items",
        "request.foo = 1",
        &env,
        1,
        "`request.foo` is not known.",
        request_hint,
    );
    assert_err_with(
        "items",
        "request.body = 1",
        &env,
        1,
        "`request.body` is not known.",
        request_hint,
    );
    assert_err_with(
        "items",
        "request.body.nope = 1",
        &env,
        1,
        "The collection `items` has no field `nope`.",
        ITEM_FIELDS,
    );
    assert_err_with(
        "items",
        "title = auth.roles",
        &env,
        7,
        "`auth.roles` is a list; use it on the right of `in`.",
        "Write `\"admin\" in auth.roles`.",
    );
    assert_err_with(
        "items",
        "owner in auth.roles",
        &env,
        7,
        "`auth.roles` holds text, but `owner` is a uuid.",
        "Compare a text field with the roles.",
    );
}

/// Whether an expression type-checks must not depend on who is asking: a rule checked for an
/// anonymous caller (every `auth.*` null) must be refused exactly when it is refused for a
/// signed-in one.
#[test]
fn type_errors_do_not_depend_on_the_caller() {
    let anonymous = Env::default();
    let env = signed_in();
    let refused = [
        (
            "qty = auth.tenant",
            "`qty` is an integer but the value it is compared with is text.",
        ),
        (
            "auth.verified = title",
            "`title` is text but the value it is compared with is a boolean.",
        ),
        (
            "title ~ auth.verified",
            "The pattern of `~` must be a string.",
        ),
        ("auth.tenant = 1", "Expected text here, but found 1."),
        (
            "auth.verified = auth.tenant",
            "`auth.verified` is a boolean but `auth.tenant` is text; they cannot be compared.",
        ),
        (
            "auth.id ~ \"0190\"",
            "`~` matches text, but `auth.id` is a uuid.",
        ),
        (
            "\"t\" ~ auth.tenant",
            "The pattern of `~` must be on the right.",
        ),
    ];
    for (source, message) in refused {
        for env in [&anonymous, &env] {
            let error = err_with("items", source, env);
            assert_eq!(error.message, message, "{source} for {:?}", env.auth);
        }
    }
}

#[test]
fn filters_combine() {
    let both = ok("qty > 1").and(ok("title = \"a\""));
    assert!(matches(
        &both,
        &[("qty", Value::Integer(2)), ("title", text("a"))]
    ));
    assert!(!matches(&both, &[("qty", Value::Integer(2))]));
    assert_eq!(constant(&Filter::always()), Some(true));
    assert_eq!(Filter::always().paths(), []);
}
