//! Filter shapes: every value becomes `?`, filters differing only in values (folded constants,
//! blind-index comparisons, `in` lists of any length) share one shape, and the allocation-free
//! shape hash agrees with the shape.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::hash::{DefaultHasher, Hasher};

use fathom_query::{AuthContext, ConditionShape, Env, Filter, FilterShape, check, parse};
use fathom_schema::{Schema, parse_schema};

const SCHEMA: &str = r#"
[collections.people]
fields.name = { type = "text" }
fields.ssn  = { type = "text", encrypted = true, blind_index = true }

[collections.items]
fields.title  = { type = "text" }
fields.qty    = { type = "integer" }
fields.due    = { type = "timestamp" }
fields.ref    = { type = "uuid" }
fields.status = { type = "enum", values = ["draft", "active", "archived"] }
fields.owner  = { type = "relation", collection = "people" }
"#;

fn schema() -> Schema {
    match parse_schema("shape.toml", SCHEMA) {
        Ok(schema) => schema,
        Err(errors) => panic!("{errors}"),
    }
}

fn filter_in(collection: &str, source: &str, env: &Env) -> Filter {
    let schema = schema();
    let expr = parse(source).unwrap();
    let target = schema.collection(collection).unwrap().clone();
    match check(&expr, source, &schema, &target, env) {
        Ok(filter) => filter,
        Err(error) => panic!("`{source}` does not check: {error:?}"),
    }
}

fn shape(source: &str) -> FilterShape {
    filter_in("items", source, &Env::default()).shape()
}

fn hash(filter: &Filter) -> u64 {
    let mut hasher = DefaultHasher::new();
    filter.shape_hash(&mut hasher);
    hasher.finish()
}

fn cond(path: &str, op: &'static str) -> ConditionShape {
    ConditionShape {
        path: path.to_owned(),
        op,
    }
}

fn member(id: &str) -> Env {
    Env {
        auth: Some(AuthContext {
            id: id.to_owned(),
            ..AuthContext::default()
        }),
        ..Env::default()
    }
}

#[test]
fn a_shape_holds_no_value() {
    let source = r#"title = "sk_live_9fQz7SECRETtoken" && qty > 42424242 && ref = "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12" && title ~ "hunter2%""#;
    let shape = shape(source);
    assert_eq!(shape.text, "title = ? && qty > ? && ref = ? && title ~ ?");
    let rendered = format!("{shape:?}");
    for secret in ["sk_live", "SECRET", "42424242", "0190c8e4", "hunter2"] {
        assert!(
            !rendered.contains(secret),
            "{secret} leaked into {rendered}"
        );
    }
    assert_eq!(
        shape.conditions,
        vec![
            cond("title", "="),
            cond("qty", ">"),
            cond("ref", "="),
            cond("title", "~")
        ]
    );
    assert!(shape.conjunctive);
}

#[test]
fn filters_differing_only_in_values_share_a_shape() {
    let pairs = [
        (r#"status = "draft""#, r#"status = "archived""#),
        ("qty in [1]", "qty in [1, 2, 3, 4, 5, 6, 7]"),
        ("qty > 5", "3 < qty"),
        (
            r#"due >= "2024-01-01T00:00:00Z""#,
            r#"due >= "2031-12-31T23:59:59Z""#,
        ),
        (
            r#"status = "draft" && (qty < 3 || owner.name ~ "a")"#,
            r#"status = "active" && (qty < 99 || owner.name ~ "zz")"#,
        ),
    ];
    for (a, b) in pairs {
        let (fa, fb) = (
            filter_in("items", a, &Env::default()),
            filter_in("items", b, &Env::default()),
        );
        assert_eq!(fa.shape(), fb.shape(), "`{a}` and `{b}`");
        assert_eq!(hash(&fa), hash(&fb), "`{a}` and `{b}`");
    }
}

#[test]
fn different_forms_have_different_shapes_and_hashes() {
    let forms = [
        r#"status = "draft""#,
        r#"status != "draft""#,
        r#"!(status = "draft")"#,
        "qty > 5",
        "qty >= 5",
        "qty in [1, 2]",
        "!(qty in [1, 2])",
        "due = null",
        "due != null",
        r#"status = "draft" && qty > 1"#,
        r#"status = "draft" || qty > 1"#,
        r#"owner.name = "x""#,
        "qty > 1 && (qty < 9 || due = null)",
        "(qty > 1 && qty < 9) || due = null",
    ];
    let shapes: Vec<(String, u64)> = forms
        .iter()
        .map(|f| {
            let filter = filter_in("items", f, &Env::default());
            (filter.shape().text, hash(&filter))
        })
        .collect();
    for (i, a) in shapes.iter().enumerate() {
        for b in &shapes[i + 1..] {
            assert_ne!(a.0, b.0);
            assert_ne!(a.1, b.1, "{} and {} hash alike", a.0, b.0);
        }
    }
}

#[test]
fn structure_operators_and_conjunction() {
    let s = shape(r#"status = "draft" && (qty < 3 || owner.name ~ "a")"#);
    assert_eq!(s.text, "status = ? && (qty < ? || owner.name ~ ?)");
    assert_eq!(
        s.conditions,
        vec![
            cond("status", "="),
            cond("qty", "<"),
            cond("owner.name", "~")
        ]
    );
    assert!(!s.conjunctive);

    let s = shape("!(qty = 1) && due != null");
    assert_eq!(s.text, "!(qty = ?) && due != null");
    assert_eq!(
        s.conditions,
        vec![cond("qty", "!="), cond("due", "is not null")]
    );
    assert!(!s.conjunctive);

    let s = shape("qty in [1, 2, 3] && due = null && qty in [4]");
    assert_eq!(s.text, "qty in ? && due = null && qty in ?");
    // Each condition once.
    assert_eq!(
        s.conditions,
        vec![cond("qty", "in"), cond("due", "is null")]
    );
    assert!(s.conjunctive);

    let s = shape("!(qty in [1, 2])");
    assert_eq!(s.conditions, vec![cond("qty", "not in")]);
}

#[test]
fn bound_auth_values_fold_to_one_shape_per_form() {
    // The rule `owner = auth.id` binds the caller's id: one shape for every member.
    let a = filter_in(
        "items",
        "owner = auth.id",
        &member("0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12"),
    );
    let b = filter_in(
        "items",
        "owner = auth.id",
        &member("0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e99"),
    );
    assert_eq!(a.shape(), b.shape());
    assert_eq!(a.shape().text, "owner = ?");
    assert!(!a.shape().text.contains("0190c8e4"));
    assert_eq!(hash(&a), hash(&b));
    // A comparison with no field left folds to a constant: its own form.
    let folded = filter_in(
        "items",
        r#"auth.id = "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12" || qty > 1"#,
        &Env::default(),
    );
    let shape = folded.shape();
    assert!(!shape.text.contains("0190c8e4"), "{}", shape.text);
    assert_eq!(shape.text, "false || qty > ?");
    let always = Filter::always();
    assert_eq!(always.shape().text, "true");
    assert!(always.shape().conditions.is_empty());
}

#[test]
fn blind_index_comparisons_hold_no_plaintext_and_share_a_shape() {
    let env = Env::default();
    let one = filter_in("people", r#"ssn = "123-45-6789""#, &env);
    let other = filter_in("people", r#"ssn = "987-65-4321""#, &env);
    let list = filter_in("people", r#"ssn in ["111-11-1111", "222-22-2222"]"#, &env);
    assert!(one.needs_blinding());
    assert_eq!(one.shape(), other.shape());
    assert_eq!(hash(&one), hash(&other));
    assert_eq!(one.shape(), list.shape());
    let shape = one.shape();
    assert_eq!(shape.text, "ssn in ?");
    assert_eq!(shape.conditions, vec![cond("ssn", "in")]);
    let rendered = format!("{:?}", list.shape());
    assert!(!rendered.contains("111") && !rendered.contains("6789"));
}
