//! The parser never panics, whatever it is given, and always locates its errors inside the file.

use fathom_schema::parse_schema;
use proptest::prelude::*;

const VALID: &str = r#"[collections.categories]
fields.name = { type = "text", required = true, unique = true, max_length = 80 }

[collections.products]
soft_delete = true
timestamps = true
fields.name     = { type = "text", required = true, max_length = 200 }
fields.price    = { type = "decimal", required = true, min = 0, default = "1.50" }
fields.category = { type = "relation", collection = "categories", on_delete = "restrict" }
fields.status   = { type = "enum", values = ["draft", "active", "archived"], default = "draft" }
fields.sku      = { type = "text", pattern = "^[A-Z0-9-]+$", min_length = 3 }
fields.meta     = { type = "json", default = { a = [1, 2.5, "x"] } }
indexes = [["category", "price"], { fields = ["name"], unique = true }]

[collections.products.fields.launched_on]
type = "date"
default = "2026-01-31"
"#;

/// Parses `source` and checks that every error is located inside it and reads as sentences.
fn check_parse(source: &str) -> Result<(), TestCaseError> {
    if let Err(errors) = parse_schema("schema.toml", source) {
        prop_assert!(!errors.errors.is_empty());
        let lines = source.split('\n').count();
        for error in &errors.errors {
            prop_assert!(error.line >= 1 && error.line <= lines, "line of {error:?}");
            let line_text = source.split('\n').nth(error.line - 1).unwrap_or_default();
            prop_assert!(
                error.column >= 1 && error.column <= line_text.chars().count() + 1,
                "column of {error:?}"
            );
            prop_assert!(error.message.ends_with('.'), "message of {error:?}");
            prop_assert!(error.hint.ends_with('.'), "hint of {error:?}");
        }
        let shown = errors.to_string();
        prop_assert_eq!(shown.lines().count(), errors.errors.len() * 2);
    }
    Ok(())
}

/// One edit of the valid schema's bytes.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to TOML are picked more often than arbitrary ones.
    let byte = prop_oneof![
        3 => proptest::sample::select(b"[]{}=\",.#\n _-0123456789az".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(edits: &[Edit]) -> String {
    let mut bytes = VALID.as_bytes().to_vec();
    for edit in edits {
        match *edit {
            Edit::Insert(at, byte) => bytes.insert(at % (bytes.len() + 1), byte),
            Edit::Delete(at) if !bytes.is_empty() => {
                bytes.remove(at % bytes.len());
            }
            Edit::Delete(_) => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn the_unmutated_schema_is_valid() {
    assert!(parse_schema("schema.toml", VALID).is_ok());
    assert!(parse_schema("schema.toml", &apply(&[])).is_ok());
}

/// Found by `mutations_of_a_valid_schema_never_panic`: a backslash made `"enum"` the string
/// `"e<line break>um"`, and the message quoting it spilled onto a second line.
#[test]
fn a_line_break_inside_a_quoted_value_is_shown_escaped() {
    let source = "[collections.products]\nfields.status = { type = \"e\\num\" }\n";
    let errors = parse_schema("schema.toml", source).expect_err("unknown type");
    assert!(errors.to_string().contains("`e\\num`"), "{errors}");
    check_parse(source).expect("every error on its own line");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_panic(source in any::<String>()) {
        check_parse(&source)?;
    }

    #[test]
    fn toml_like_strings_never_panic(source in "[\\[\\]{}=\",.# \n\t_a-z0-9é€-]{0,200}") {
        check_parse(&source)?;
    }

    #[test]
    fn mutations_of_a_valid_schema_never_panic(edits in proptest::collection::vec(edit(), 1..8)) {
        check_parse(&apply(&edits))?;
    }

    #[test]
    fn any_value_in_any_field_key_never_panics(
        key in proptest::sample::select(vec![
            "type", "required", "unique", "default", "min", "max", "min_length", "max_length",
            "pattern", "values", "collection", "on_delete", "typo",
        ]),
        kind in proptest::sample::select(fathom_schema::FieldType::NAMES.to_vec()),
        value in prop_oneof![
            Just("true".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| format!("{n:?}")),
            "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
            Just("[]".to_owned()),
            Just("[\"a\", \"a\"]".to_owned()),
            Just("{ x = 1 }".to_owned()),
            Just("2026-01-31".to_owned()),
            Just("nan".to_owned()),
            Just("-inf".to_owned()),
        ],
    ) {
        let source = format!(
            "[collections.posts]\nfields.f = {{ type = \"{kind}\", values = [\"a\"], collection = \"posts\" }}\n\
             [collections.items]\nfields.g = {{ type = \"{kind}\", {key} = {value} }}\n"
        );
        check_parse(&source)?;
    }
}
