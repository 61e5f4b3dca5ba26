//! One test per kind of problem the schema parser reports: where it points (line and column),
//! what it says, and the hint it gives.

use fathom_schema::{SchemaError, parse_schema};

fn errors(source: &str) -> Vec<SchemaError> {
    match parse_schema("schema.toml", source) {
        Ok(schema) => panic!("expected errors, but the schema parsed: {schema:#?}"),
        Err(errors) => {
            assert_eq!(errors.file, "schema.toml");
            errors.errors
        }
    }
}

/// The only error of `source`.
fn single(source: &str) -> SchemaError {
    let mut all = errors(source);
    assert_eq!(all.len(), 1, "expected exactly one error, got {all:#?}");
    all.remove(0)
}

#[track_caller]
fn check(error: &SchemaError, line: usize, column: usize, message: &str, hint: &str) {
    assert_eq!(
        (error.line, error.column),
        (line, column),
        "position of {error:#?}"
    );
    assert_eq!(error.message, message, "message of {error:#?}");
    assert!(
        error.hint.contains(hint),
        "hint of {error:#?} should contain {hint:?}"
    );
    assert!(
        error.hint.ends_with('.'),
        "hint of {error:#?} should be a sentence"
    );
}

// TOML syntax.

#[test]
fn a_toml_syntax_error_is_one_error_at_its_position() {
    let e = single("[collections.posts]\nfields.title = { type = \"text\" \n");
    check(
        &e,
        2,
        32,
        "The file is not valid TOML: invalid inline table; expected `}`.",
        "Check the TOML syntax here",
    );
    assert_eq!(e.path, "");
}

#[test]
fn a_key_set_twice_is_a_syntax_error_at_the_second() {
    let e = single(
        "[collections.posts]\nfields.title = { type = \"text\" }\nfields.title = { type = \"text\" }\n",
    );
    check(
        &e,
        3,
        1,
        "The file is not valid TOML: duplicate key `title` in table `collections.posts`.",
        "no key is set twice",
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    // Each `€` is three bytes but one character.
    let e = single(
        "[collections.posts]\nfields.title = { type = \"text\", default = \"€€\", requird = true }\n",
    );
    check(
        &e,
        2,
        49,
        "Unknown key `requird` in field `posts.title`.",
        "Did you mean `required`?",
    );
    let e = single("[collections.posts]\nfields.\"prix_€\" = { type = \"text\" }\n");
    assert_eq!((e.line, e.column), (2, 8));
    assert!(
        e.message
            .starts_with("Field name `prix_€` in collection `posts` is not a valid name")
    );
}

// Top level.

#[test]
fn unknown_top_level_keys_are_reported_with_a_suggestion() {
    let mut all = errors("colections.posts.fields.title = { type = \"text\" }\n");
    assert_eq!(all.len(), 2, "{all:#?}");
    let missing = all.remove(1);
    let unknown = all.remove(0);
    check(
        &unknown,
        1,
        1,
        "Unknown top-level key `colections`; a schema file holds collections and the profile \
         fields of users.",
        "Did you mean `collections`?",
    );
    check(
        &missing,
        1,
        1,
        "The schema declares no collections.",
        "[collections.posts]",
    );
}

#[test]
fn an_empty_file_has_no_collections() {
    let e = single("");
    check(
        &e,
        1,
        1,
        "The schema declares no collections.",
        "Add a collection",
    );
    assert_eq!(e.path, "collections");
}

#[test]
fn an_empty_collections_table_has_no_collections() {
    let e = single("# schema\n[collections]\n");
    check(
        &e,
        2,
        2,
        "The schema declares no collections.",
        "Add a collection",
    );
}

#[test]
fn collections_must_be_a_table() {
    let e = single("collections = [\"posts\"]\n");
    check(
        &e,
        1,
        15,
        "`collections` must be a table of collections, but it is an array (`[\"posts\"]`).",
        "[collections.<name>]",
    );
}

#[test]
fn a_collection_must_be_a_table() {
    let e = single("[[collections.posts]]\nfields.title = { type = \"text\" }\n");
    check(
        &e,
        1,
        1,
        "Collection `posts` must be a table, but it is an array of tables.",
        "a `[collections.posts]` header",
    );
}

// Collection names.

#[test]
fn collection_names_must_be_lowercase_identifiers() {
    let e = single("[collections.OrderItems]\nfields.qty = { type = \"integer\" }\n");
    check(
        &e,
        1,
        14,
        "Collection name `OrderItems` is not a valid name: names start with a lowercase letter \
         and contain only lowercase letters, digits and underscores, at most 63 in all.",
        "Rename it, for example to `order_items`.",
    );
    assert_eq!(e.path, "collections.OrderItems");

    let long = "a".repeat(64);
    let e = single(&format!(
        "[collections.{long}]\nfields.b = {{ type = \"text\" }}\n"
    ));
    assert!(
        e.message
            .starts_with(&format!("Collection name `{long}` is not a valid name"))
    );
    assert!(e.hint.contains(&"a".repeat(63)));

    let e = single("[collections.\"2fa codes\"]\nfields.b = { type = \"text\" }\n");
    check(
        &e,
        1,
        14,
        "Collection name `2fa codes` is not a valid name: names start with a lowercase letter \
         and contain only lowercase letters, digits and underscores, at most 63 in all.",
        "for example to `app_2fa_codes`.",
    );
}

#[test]
fn collection_names_must_not_start_with_an_underscore() {
    let e = single("[collections._drafts]\nfields.b = { type = \"text\" }\n");
    check(
        &e,
        1,
        14,
        "Collection name `_drafts` starts with an underscore, which is reserved for system \
         collections.",
        "Rename it without the underscore, for example to `drafts`.",
    );
}

#[test]
fn reserved_collection_names_are_refused() {
    let e = single("[collections.users]\nfields.b = { type = \"text\" }\n");
    check(
        &e,
        1,
        14,
        "Collection name `users` clashes with a system collection or route word.",
        "Rename it, for example to `app_users`.",
    );
    // A rewrite that would land on a reserved name is steered away from it.
    let e = single("[collections.Users]\nfields.b = { type = \"text\" }\n");
    assert!(e.hint.contains("`app_users`"), "{e:#?}");
}

// Field names.

#[test]
fn field_names_must_be_lowercase_identifiers() {
    let e = single("[collections.posts]\nfields.publishedAt = { type = \"timestamp\" }\n");
    check(
        &e,
        2,
        8,
        "Field name `publishedAt` in collection `posts` is not a valid name: names start with a \
         lowercase letter and contain only lowercase letters, digits and underscores, at most 63 \
         in all.",
        "Rename it, for example to `published_at`.",
    );
    assert_eq!(e.path, "collections.posts.fields.publishedAt");
}

#[test]
fn field_names_must_not_start_with_an_underscore() {
    let e = single("[collections.posts]\nfields._secret = { type = \"text\" }\n");
    check(
        &e,
        2,
        8,
        "Field name `_secret` in collection `posts` starts with an underscore, which is reserved \
         for system fields.",
        "for example to `secret`.",
    );
}

#[test]
fn system_field_names_are_refused() {
    let e = single(
        "[collections.posts]\nfields.title = { type = \"text\" }\nfields.created_at = { type = \"timestamp\" }\n",
    );
    check(
        &e,
        3,
        8,
        "Field `posts.created_at` has the name of a system field.",
        "`id`, `created_at`, `updated_at`, `version`, `deleted_at`, `tenant` are system fields \
         that Fathom manages",
    );
}

// Unknown keys.

#[test]
fn unknown_collection_keys_are_reported_with_a_suggestion() {
    let e = single("[collections.posts]\nsoft_delet = true\nfields.title = { type = \"text\" }\n");
    check(
        &e,
        2,
        1,
        "Unknown key `soft_delet` in collection `posts`.",
        "Did you mean `soft_delete`? Allowed keys are `fields`, `indexes`, `soft_delete`, \
         `timestamps`, `tenant_scoped`, `require_if_match`, `audit`, `cache`, `rules`, `renamed_from`.",
    );
    assert_eq!(e.path, "collections.posts.soft_delet");
}

#[test]
fn unknown_field_keys_are_reported_with_a_suggestion() {
    let e = single("[collections.posts]\nfields.title = { type = \"text\", requird = true }\n");
    check(
        &e,
        2,
        33,
        "Unknown key `requird` in field `posts.title`.",
        "Did you mean `required`? Allowed keys are `type`, `required`, `unique`, `default`, \
         `min`, `max`, `min_length`, `max_length`, `pattern`, `values`, `collection`, \
         `on_delete`, `hidden`, `encrypted`, `blind_index`, `renamed_from`.",
    );
}

#[test]
fn unknown_keys_far_from_any_allowed_key_get_no_suggestion() {
    let e = single("[collections.posts]\nfields.title = { type = \"text\", colour = \"red\" }\n");
    assert!(e.hint.starts_with("Allowed keys are"), "{e:#?}");
}

#[test]
fn unknown_index_keys_are_reported_with_a_suggestion() {
    let e = single(
        "[collections.posts]\nfields.title = { type = \"text\" }\nindexes = [{ fields = [\"title\"], uniqe = true }]\n",
    );
    check(
        &e,
        3,
        34,
        "Unknown key `uniqe` in index 1 of collection `posts`.",
        "Did you mean `unique`? Allowed keys are `fields`, `unique`.",
    );
}

// Value types.

#[test]
fn wrong_value_types_name_the_expected_type() {
    let e = single("[collections.posts]\nfields.title = { type = \"text\", required = \"yes\" }\n");
    check(
        &e,
        2,
        44,
        "`required` of field `posts.title` must be a boolean, but it is a string (`\"yes\"`).",
        "Write `required = true` or `required = false`.",
    );
    assert_eq!(e.path, "collections.posts.fields.title.required");

    let e = single("[collections.posts]\nsoft_delete = 1\nfields.title = { type = \"text\" }\n");
    check(
        &e,
        2,
        15,
        "`soft_delete` in collection `posts` must be a boolean, but it is an integer (`1`).",
        "Write `soft_delete = true` or `soft_delete = false`.",
    );

    let e =
        single("[collections.posts]\nfields.title = { type = \"text\", max_length = \"80\" }\n");
    check(
        &e,
        2,
        46,
        "`max_length` of field `posts.title` must be a non-negative integer, but it is a string \
         (`\"80\"`).",
        "for example `max_length = 100`.",
    );

    let e = single("[collections.posts]\nfields.score = { type = \"number\", min = \"0\" }\n");
    check(
        &e,
        2,
        41,
        "`min` of field `posts.score` must be a number, but it is a string (`\"0\"`).",
        "Write a number without quotes",
    );
}

#[test]
fn a_field_must_be_a_table() {
    let e = single("[collections.posts]\nfields.title = \"text\"\n");
    check(
        &e,
        2,
        16,
        "Field `posts.title` must be a table such as `{ type = \"text\" }`, but it is a string \
         (`\"text\"`).",
        "Write `fields.title = { type = \"text\" }`.",
    );
}

// Types.

#[test]
fn a_missing_type_is_reported_at_the_field() {
    let e = single("[collections.posts]\nfields.title = { required = true }\n");
    check(
        &e,
        2,
        8,
        "Field `posts.title` has no `type`.",
        "Add `type = \"...\"` with one of `text`, `integer`, `number`, `decimal`, `boolean`, \
         `timestamp`, `date`, `uuid`, `json`, `enum`, `relation`, `email`, `url`.",
    );
    assert_eq!(e.path, "collections.posts.fields.title.type");
}

#[test]
fn an_unknown_type_lists_the_known_types() {
    let e = single("[collections.posts]\nfields.title = { type = \"string\" }\n");
    check(
        &e,
        2,
        25,
        "Field `posts.title` has unknown type `string`.",
        "Use one of `text`, `integer`, `number`",
    );
    let e = single("[collections.posts]\nfields.count = { type = \"integr\" }\n");
    assert!(e.hint.starts_with("Did you mean `integer`?"), "{e:#?}");
}

// Enums.

#[test]
fn enum_fields_need_values() {
    let e = single("[collections.posts]\nfields.status = { type = \"enum\" }\n");
    check(
        &e,
        2,
        26,
        "Field `posts.status` has no `values`; an enum field must list the values it allows.",
        "values = [\"draft\", \"published\"]",
    );
}

#[test]
fn enum_values_must_be_a_non_empty_list_of_distinct_strings() {
    let e = single("[collections.posts]\nfields.status = { type = \"enum\", values = [] }\n");
    check(
        &e,
        2,
        43,
        "`values` of field `posts.status` is empty, so no value would be allowed.",
        "List at least one value.",
    );

    let all = errors(
        "[collections.posts]\nfields.status = { type = \"enum\", values = [\"draft\", 1, \"draft\"] }\n",
    );
    assert_eq!(all.len(), 2, "{all:#?}");
    check(
        &all[0],
        2,
        53,
        "`values` of field `posts.status` must hold only strings, but its 2nd entry is an integer (`1`).",
        "Quote each value",
    );
    check(
        &all[1],
        2,
        56,
        "`values` of field `posts.status` lists `draft` more than once.",
        "Remove the repeated value.",
    );
    assert_eq!(all[1].path, "collections.posts.fields.status.values[2]");

    let e =
        single("[collections.posts]\nfields.status = { type = \"enum\", values = \"draft\" }\n");
    check(
        &e,
        2,
        43,
        "`values` of field `posts.status` must be an array of strings, but it is a string \
         (`\"draft\"`).",
        "values = [",
    );
}

// Relations.

#[test]
fn relation_fields_need_a_collection() {
    let e = single("[collections.posts]\nfields.author = { type = \"relation\" }\n");
    check(
        &e,
        2,
        26,
        "Field `posts.author` has no `collection`; a relation field must name the collection it \
         refers to.",
        "the declared collections are `posts`.",
    );
}

#[test]
fn relation_targets_must_be_declared_in_the_file() {
    let e = single(
        "[collections.authors]\nfields.name = { type = \"text\" }\n\n[collections.posts]\nfields.author = { type = \"relation\", collection = \"author\" }\n",
    );
    check(
        &e,
        5,
        51,
        "Field `posts.author` refers to collection `author`, which this file does not declare.",
        "Did you mean `authors`? Name one of the declared collections: `authors`, `posts`.",
    );
}

#[test]
fn on_delete_must_be_a_known_action() {
    let e = single(
        "[collections.posts]\nfields.parent = { type = \"relation\", collection = \"posts\", on_delete = \"nullify\" }\n",
    );
    check(
        &e,
        2,
        72,
        "`on_delete` of field `posts.parent` is `nullify`, which is not a known action.",
        "Use one of `restrict`, `cascade`, `set_null`.",
    );
}

#[test]
fn set_null_needs_an_optional_field() {
    let e = single(
        "[collections.posts]\nfields.parent = { type = \"relation\", collection = \"posts\", required = true, on_delete = \"set_null\" }\n",
    );
    check(
        &e,
        2,
        89,
        "Field `posts.parent` is required, so `on_delete = \"set_null\"` could not clear it.",
        "Remove `required = true`, or choose",
    );
}

#[test]
fn enum_and_relation_keys_only_apply_to_their_types() {
    let all = errors(
        "[collections.posts]\nfields.title = { type = \"text\", values = [\"a\"], collection = \"posts\", on_delete = \"cascade\" }\n",
    );
    assert_eq!(all.len(), 3, "{all:#?}");
    check(
        &all[0],
        2,
        33,
        "`values` only applies to enum fields (`enum`), but field `posts.title` is of type `text`.",
        "Remove `values`, or change the type.",
    );
    check(
        &all[1],
        2,
        49,
        "`collection` only applies to relation fields (`relation`), but field `posts.title` is \
         of type `text`.",
        "Remove `collection`",
    );
    check(
        &all[2],
        2,
        71,
        "`on_delete` only applies to relation fields (`relation`), but field `posts.title` is of \
         type `text`.",
        "Remove `on_delete`",
    );
}

// Numeric constraints.

#[test]
fn min_and_max_only_apply_to_numeric_fields() {
    let e = single("[collections.posts]\nfields.title = { type = \"text\", min = 1 }\n");
    check(
        &e,
        2,
        33,
        "`min` only applies to numeric fields (`integer`, `number`, `decimal`), but field \
         `posts.title` is of type `text`.",
        "Use `min_length` to bound the length of text.",
    );
}

#[test]
fn integer_bounds_must_be_whole_numbers() {
    let e = single("[collections.posts]\nfields.stars = { type = \"integer\", min = 0.5 }\n");
    check(
        &e,
        2,
        42,
        "`min` of field `posts.stars` is `0.5`, but the field is an integer, so its bounds must \
         be whole numbers.",
        "Write a whole number, for example `min = 1`.",
    );
}

#[test]
fn bounds_must_be_finite() {
    let e = single("[collections.posts]\nfields.score = { type = \"number\", max = inf }\n");
    check(
        &e,
        2,
        41,
        "`max` of field `posts.score` must be a finite number, but it is a float (`inf`).",
        "Write a number",
    );
}

#[test]
fn min_must_not_exceed_max() {
    let e =
        single("[collections.posts]\nfields.stars = { type = \"integer\", min = 5, max = 1 }\n");
    check(
        &e,
        2,
        51,
        "`min` of field `posts.stars` (5) is greater than its `max` (1).",
        "Make `min` at most `max`",
    );
    assert_eq!(e.path, "collections.posts.fields.stars.max");
}

// Textual constraints.

#[test]
fn length_and_pattern_only_apply_to_textual_fields() {
    let all = errors(
        "[collections.posts]\nfields.stars = { type = \"integer\", max_length = 3, pattern = \"[0-9]\" }\n",
    );
    assert_eq!(all.len(), 2, "{all:#?}");
    check(
        &all[0],
        2,
        36,
        "`max_length` only applies to textual fields (`text`, `enum`, `email`, `url`), but field \
         `posts.stars` is of type `integer`.",
        "Use `max` to bound the value.",
    );
    check(
        &all[1],
        2,
        52,
        "`pattern` only applies to textual fields (`text`, `enum`, `email`, `url`), but field \
         `posts.stars` is of type `integer`.",
        "Remove `pattern`",
    );
}

#[test]
fn lengths_must_be_non_negative() {
    let e = single("[collections.posts]\nfields.title = { type = \"text\", min_length = -1 }\n");
    check(
        &e,
        2,
        46,
        "`min_length` of field `posts.title` is negative: `-1`.",
        "from 0 to 4294967295",
    );
}

#[test]
fn min_length_must_not_exceed_max_length() {
    let e = single(
        "[collections.posts]\nfields.title = { type = \"text\", min_length = 10, max_length = 5 }\n",
    );
    check(
        &e,
        2,
        63,
        "`min_length` of field `posts.title` (10) is greater than its `max_length` (5).",
        "Make `min_length` at most `max_length`",
    );
}

#[test]
fn patterns_must_compile() {
    let e = single("[collections.posts]\nfields.code = { type = \"text\", pattern = \"[A-Z\" }\n");
    check(
        &e,
        2,
        42,
        "`pattern` of field `posts.code` is not a valid regular expression: unclosed character \
         class.",
        "Rust `regex` syntax",
    );
}

// Defaults.

fn default_error(declaration: &str) -> SchemaError {
    single(&format!("[collections.things]\nfields.x = {declaration}\n"))
}

#[test]
fn text_defaults_must_respect_length_and_pattern() {
    let e = default_error(r#"{ type = "text", max_length = 3, default = "abcd" }"#);
    check(
        &e,
        2,
        55,
        "The default `\"abcd\"` of field `things.x` is 4 characters long, longer than its \
         `max_length` of 3.",
        "Choose a shorter default, or raise `max_length`.",
    );
    assert_eq!(e.path, "collections.things.fields.x.default");

    let e = default_error(r#"{ type = "text", min_length = 2, default = "é" }"#);
    assert_eq!(
        e.message,
        "The default `\"é\"` of field `things.x` is 1 characters long, shorter than its \
         `min_length` of 2."
    );

    // The whole value must match, not just part of it.
    let e = default_error(r#"{ type = "text", pattern = "[a-z]+", default = "abc1" }"#);
    check(
        &e,
        2,
        59,
        "The default `\"abc1\"` of field `things.x` does not match its `pattern` `[a-z]+`.",
        "matches the whole pattern",
    );

    let e = default_error(r#"{ type = "text", default = 5 }"#);
    check(
        &e,
        2,
        39,
        "The default of field `things.x` must be a string, but it is an integer (`5`).",
        "Quote the value",
    );
}

#[test]
fn enum_defaults_must_be_members() {
    let e = default_error(r#"{ type = "enum", values = ["draft", "live"], default = "drafts" }"#);
    check(
        &e,
        2,
        67,
        "The default `\"drafts\"` of field `things.x` is not one of its values.",
        "Did you mean `draft`? Use one of `draft`, `live`.",
    );
}

#[test]
fn numeric_defaults_must_have_the_right_type_and_be_within_bounds() {
    let e = default_error(r#"{ type = "integer", default = 1.5 }"#);
    check(
        &e,
        2,
        42,
        "The default of field `things.x` must be an integer, but it is a float (`1.5`).",
        "Write a whole number",
    );

    let e = default_error(r#"{ type = "number", min = 0, default = -1 }"#);
    check(
        &e,
        2,
        50,
        "The default `-1` of field `things.x` is below its `min` of 0.",
        "Choose a default of at least 0, or lower `min`.",
    );

    let e = default_error(r#"{ type = "integer", max = 10, default = 11 }"#);
    assert_eq!(
        e.message,
        "The default `11` of field `things.x` is above its `max` of 10."
    );

    let e = default_error(r#"{ type = "number", default = "1" }"#);
    assert_eq!(
        e.message,
        "The default of field `things.x` must be a number, but it is a string (`\"1\"`)."
    );
}

#[test]
fn decimal_defaults_are_numbers_or_decimal_strings() {
    let e = default_error(r#"{ type = "decimal", default = "12,50" }"#);
    check(
        &e,
        2,
        42,
        "The default `\"12,50\"` of field `things.x` is not a decimal number.",
        "a decimal string such as `default = \"9.99\"`.",
    );
    let e = default_error(r#"{ type = "decimal", max = 10, default = "10.01" }"#);
    assert_eq!(
        e.message,
        "The default `\"10.01\"` of field `things.x` is above its `max` of 10."
    );
    let e = default_error(r#"{ type = "decimal", default = true }"#);
    assert_eq!(
        e.message,
        "The default of field `things.x` must be a number or a decimal string, but it is a \
         boolean (`true`)."
    );
}

#[test]
fn boolean_defaults_must_be_booleans() {
    let e = default_error(r#"{ type = "boolean", default = "true" }"#);
    check(
        &e,
        2,
        42,
        "The default of field `things.x` must be a boolean, but it is a string (`\"true\"`).",
        "Write `default = true` or `default = false`.",
    );
}

#[test]
fn date_and_time_defaults_must_parse() {
    let e = default_error(r#"{ type = "timestamp", default = "2026-01-31 09:30" }"#);
    check(
        &e,
        2,
        44,
        "The default `\"2026-01-31 09:30\"` of field `things.x` is not an RFC 3339 timestamp.",
        "`default = \"2026-01-31T09:30:00Z\"`",
    );
    // A TOML local date-time has no offset, so it is not an instant.
    let e = default_error(r#"{ type = "timestamp", default = 2026-01-31T09:30:00 }"#);
    assert!(
        e.message.ends_with("is not an RFC 3339 timestamp."),
        "{e:#?}"
    );

    let e = default_error(r#"{ type = "date", default = "2026-02-30" }"#);
    check(
        &e,
        2,
        39,
        "The default `\"2026-02-30\"` of field `things.x` is not a calendar date in the form \
         YYYY-MM-DD.",
        "`default = \"2026-01-31\"`",
    );
    let e = default_error(r#"{ type = "date", default = "2026-1-31" }"#);
    assert!(e.message.contains("is not a calendar date"), "{e:#?}");
}

#[test]
fn uuid_email_and_url_defaults_must_be_well_formed() {
    let e = default_error(r#"{ type = "uuid", default = "not-a-uuid" }"#);
    check(
        &e,
        2,
        39,
        "The default `\"not-a-uuid\"` of field `things.x` is not a UUID.",
        "hyphenated UUID",
    );

    let e = default_error(r#"{ type = "email", default = "a@b@c" }"#);
    check(
        &e,
        2,
        40,
        "The default `\"a@b@c\"` of field `things.x` is not an email address.",
        "exactly one `@`",
    );

    let e = default_error(r#"{ type = "url", default = "ftp://example.com" }"#);
    check(
        &e,
        2,
        38,
        "The default `\"ftp://example.com\"` of field `things.x` is not an http or https URL.",
        "`default = \"https://example.com/\"`",
    );
    let e = default_error(r#"{ type = "url", default = "example.com" }"#);
    assert!(
        e.message.ends_with("is not an http or https URL."),
        "{e:#?}"
    );
}

#[test]
fn relation_fields_cannot_have_a_default() {
    let e = single(
        "[collections.posts]\nfields.parent = { type = \"relation\", collection = \"posts\", default = \"x\" }\n",
    );
    check(
        &e,
        2,
        70,
        "The default of field `posts.parent` cannot be set: relation fields have no default.",
        "Remove `default`",
    );
}

#[test]
fn json_defaults_must_be_representable() {
    let e = default_error(r#"{ type = "json", default = { ratio = nan } }"#);
    check(
        &e,
        2,
        39,
        "The default `{ ratio = nan }` of field `things.x` holds a number JSON cannot represent \
         (NaN or an infinity).",
        "Use finite numbers only.",
    );
}

// Unique.

#[test]
fn json_fields_cannot_be_unique() {
    let e = default_error(r#"{ type = "json", unique = true }"#);
    check(
        &e,
        2,
        29,
        "Field `things.x` is of type `json`, which cannot be `unique`.",
        "Remove `unique = true`",
    );
}

// Indexes.

const INDEXED: &str = "[collections.posts]\nfields.title = { type = \"text\" }\nfields.rank = { type = \"integer\" }\n";

fn index_errors(indexes: &str) -> Vec<SchemaError> {
    errors(&format!("{INDEXED}indexes = {indexes}\n"))
}

#[test]
fn indexes_must_name_declared_or_system_fields() {
    let all = index_errors(r#"[["titel"], ["version"]]"#);
    assert_eq!(all.len(), 2, "{all:#?}");
    check(
        &all[0],
        4,
        13,
        "Index 1 of collection `posts` names field `titel`, which the collection does not declare.",
        "Did you mean `title`? Indexable fields are `title`, `rank`, `id`, `created_at`, \
         `updated_at`.",
    );
    assert_eq!(all[0].path, "collections.posts.indexes[0][0]");
    assert!(all[1].message.contains("names field `version`"), "{all:#?}");
}

#[test]
fn timestamp_fields_cannot_be_indexed_without_timestamps() {
    let e = single(
        "[collections.posts]\ntimestamps = false\nfields.title = { type = \"text\" }\nindexes = [[\"created_at\"]]\n",
    );
    check(
        &e,
        4,
        13,
        "Index 1 of collection `posts` names `created_at`, but the collection has \
         `timestamps = false`, so it has no such field.",
        "Remove `created_at` from the index, or remove `timestamps = false`.",
    );
}

#[test]
fn indexes_must_not_be_empty_or_repeat_a_field() {
    let all = index_errors(r#"[[], { fields = ["rank", "rank"] }]"#);
    assert_eq!(all.len(), 2, "{all:#?}");
    check(
        &all[0],
        4,
        12,
        "Index 1 of collection `posts` lists no fields.",
        "Name at least one field",
    );
    check(
        &all[1],
        4,
        36,
        "Index 2 of collection `posts` lists field `rank` twice.",
        "Remove the repeated field name.",
    );
}

#[test]
fn a_descending_key_names_a_field_once_and_a_field_that_exists() {
    let all = index_errors(r#"[["-rnak"], ["rank", "-rank"]]"#);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].message.contains("names field `rnak`") && all[0].hint.contains("`rank`"),
        "{all:#?}"
    );
    assert!(
        all[1].message.contains("lists field `rank` twice"),
        "{all:#?}"
    );
}

#[test]
fn index_fields_must_be_strings() {
    let all = index_errors(r#"[["title", 3]]"#);
    assert_eq!(all.len(), 1, "{all:#?}");
    check(
        &all[0],
        4,
        22,
        "Index 1 of collection `posts` must list field names as strings, but its 2nd entry is an \
         integer (`3`).",
        "Quote each field name",
    );
    assert_eq!(all[0].path, "collections.posts.indexes[0][1]");
}

#[test]
fn duplicate_indexes_are_refused() {
    let e = single(&format!(
        "{INDEXED}indexes = [[\"title\", \"rank\"], {{ fields = [\"rank\"] }}, {{ fields = [\"title\", \"rank\"], unique = false }}]\n"
    ));
    check(
        &e,
        4,
        54,
        "Index 3 of collection `posts` repeats index 1 (on `title`, `rank`).",
        "Remove one of the two.",
    );
}

#[test]
fn index_entries_must_have_the_right_shape() {
    let all = index_errors(r#"["title", { unique = true }, { fields = "rank", unique = 1 }]"#);
    assert_eq!(all.len(), 4, "{all:#?}");
    check(
        &all[0],
        4,
        12,
        "Index 1 of collection `posts` must be an array of field names or a table with `fields`, \
         but it is a string (`\"title\"`).",
        "Write `[\"field_a\", \"field_b\"]`",
    );
    check(
        &all[1],
        4,
        21,
        "Index 2 of collection `posts` has no `fields`.",
        "Add the fields",
    );
    check(
        &all[2],
        4,
        51,
        "`fields` of index 3 of collection `posts` must be an array of field names, but it is a \
         string (`\"rank\"`).",
        "Write `fields = [",
    );
    check(
        &all[3],
        4,
        68,
        "`unique` of index 3 of collection `posts` must be a boolean, but it is an integer (`1`).",
        "Write `unique = true`",
    );

    let e = single(&format!("{INDEXED}indexes = \"title\"\n"));
    check(
        &e,
        4,
        11,
        "`indexes` of collection `posts` must be an array, but it is a string (`\"title\"`).",
        "Write the indexes as an array",
    );
}

// Collections without fields.

#[test]
fn a_collection_needs_at_least_one_field() {
    let e = single("[collections.posts]\nsoft_delete = true\n");
    check(
        &e,
        1,
        14,
        "Collection `posts` declares no fields.",
        "for example `fields.title = { type = \"text\", required = true }` under \
         `[collections.posts]`.",
    );
    let e = single("[collections.posts]\nfields = {}\n");
    check(
        &e,
        2,
        1,
        "Collection `posts` declares no fields.",
        "Add at least one field",
    );
    let e = single("[collections.posts]\nfields = [\"title\"]\n");
    check(
        &e,
        2,
        10,
        "`fields` in collection `posts` must be a table of fields, but it is an array \
         (`[\"title\"]`).",
        "fields.<name> = { type = \"...\" }",
    );
}

// Everything at once.

#[test]
fn every_problem_is_reported_in_file_order() {
    let all = errors(
        r#"[collections.posts]
fields.title = { type = "text", required = "yes" }
fields.body = { type = "txt" }
fields.stars = { type = "integer", min = 5, max = 1, pattern = "x" }
indexes = [["titel"]]

[collections.Users]
fields.id = { type = "uuid" }
"#,
    );
    let positions: Vec<(usize, usize)> = all.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(
        positions,
        [(2, 44), (3, 24), (4, 51), (4, 54), (5, 13), (7, 14), (8, 8)]
    );
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
}

#[test]
fn rules_must_be_a_table_of_known_operations_with_true_false_or_an_expression() {
    let e = single(
        "[collections.posts]\nrules = \"owner = auth.id\"\nfields.title = { type = \"text\" }\n",
    );
    check(
        &e,
        2,
        9,
        "`rules` in collection `posts` must be a table, but it is a string (`\"owner = auth.id\"`).",
        "rules = {",
    );

    let e =
        single("[collections.posts]\nrules = { lst = true }\nfields.title = { type = \"text\" }\n");
    check(
        &e,
        2,
        11,
        "Unknown operation `lst` in the rules of `posts`.",
        "Did you mean `list`?",
    );
    assert_eq!(e.path, "collections.posts.rules.lst");

    let e =
        single("[collections.posts]\nrules = { view = 1 }\nfields.title = { type = \"text\" }\n");
    check(
        &e,
        2,
        18,
        "The `view` rule of `posts` must be true, false or an expression, but it is an integer (`1`).",
        "Write `true` for anyone",
    );

    let e = single(
        "[collections.posts]\nrules = { view = \"  \" }\nfields.title = { type = \"text\" }\n",
    );
    assert_eq!(e.path, "collections.posts.rules.view");
}

#[test]
fn hidden_must_be_a_boolean() {
    let e = single("[collections.posts]\nfields.title = { type = \"text\", hidden = \"yes\" }\n");
    assert_eq!(e.path, "collections.posts.fields.title.hidden");
    assert!(e.message.contains("boolean"), "{e:#?}");
}

// Tenancy.

#[test]
fn a_shared_collection_may_not_point_into_a_tenant_scoped_one() {
    let e = single(
        "[collections.orders]\ntenant_scoped = true\nfields.n = { type = \"text\" }\n\n\
         [collections.notes]\nfields.order = { type = \"relation\", collection = \"orders\" }\n",
    );
    check(
        &e,
        5,
        14,
        "`notes.order` points at the tenant-scoped collection `orders`, but `notes` is shared by \
         every tenant.",
        "Add `tenant_scoped = true` to `notes`",
    );
}

#[test]
fn tenant_is_a_system_field_name() {
    let e = single("[collections.posts]\nfields.tenant = { type = \"text\" }\n");
    assert_eq!(
        e.message,
        "Field `posts.tenant` has the name of a system field."
    );
}

// Profile fields.

#[test]
fn profile_fields_cannot_be_relations_or_unique_and_users_takes_only_fields() {
    let all = errors(
        "[users]\nfields.nick = { type = \"text\", unique = true }\nrules = { list = true }\n\n\
         [collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all.iter()
            .any(|e| e.message == "Unknown key `rules` in `[users]`.")
    );
    assert!(
        all.iter()
            .any(|e| e.message == "The profile field `users.nick` cannot be unique."),
        "{all:#?}"
    );
}

#[test]
fn encryption_flags_that_cannot_work_are_reported() {
    let e = single("[collections.p]\nfields.n = { type = \"integer\", encrypted = true }\n");
    assert_eq!(e.path, "collections.p.fields.n.encrypted");
    assert_eq!(
        e.message,
        "Field `p.n` is of type `integer`, which cannot be `encrypted`."
    );
    let e = single("[collections.p]\nfields.t = { type = \"text\", blind_index = true }\n");
    assert_eq!(e.path, "collections.p.fields.t.blind_index");
    assert!(e.hint.contains("add `encrypted = true`"), "{}", e.hint);
    let e = single(
        "[collections.p]\nfields.t = { type = \"email\", encrypted = true, unique = true }\n",
    );
    assert_eq!(e.path, "collections.p.fields.t.unique");
    assert!(e.hint.contains("blind_index = true"), "{}", e.hint);
    let e = single(
        "[collections.p]\nfields.n = { type = \"text\" }\n\n[users]\nfields.t = { type = \"text\", encrypted = true }\n",
    );
    assert_eq!(e.path, "users.fields.t");
    let ok = fathom_schema::parse_schema(
        "s.toml",
        "[collections.p]\nfields.t = { type = \"email\", encrypted = true, blind_index = true, unique = true }\n",
    )
    .expect("valid");
    let field = ok
        .collection("p")
        .and_then(|c| c.field("t"))
        .expect("field");
    assert!(field.encrypted && field.blind_index && field.unique);
    assert_eq!(field.index_column(), "t__bidx");
}

#[test]
fn a_cache_that_is_not_a_duration_is_reported_with_a_hint() {
    let hint = "Write a duration such as `cache = \"30s\"` (units ms, s, m, h; at most 24h), or \
                `cache = \"0s\"` to cache nothing.";
    let e = single("[collections.posts]\ncache = \"soon\"\nfields.title = { type = \"text\" }\n");
    check(
        &e,
        2,
        9,
        "`cache` in collection `posts` is \"soon\", which is not a duration.",
        hint,
    );
    assert_eq!(e.path, "collections.posts.cache");
    let e = single("[collections.posts]\ncache = true\nfields.title = { type = \"text\" }\n");
    check(
        &e,
        2,
        9,
        "`cache` in collection `posts` must be a duration in a string, but it is a boolean (`true`).",
        hint,
    );
    let e = single("[collections.posts]\ncache = \"25h\"\nfields.title = { type = \"text\" }\n");
    assert_eq!(
        e.message,
        "`cache` in collection `posts` is \"25h\", which is longer than a day."
    );
}

#[test]
fn relations_to_accounts_are_accepted_in_collections_and_refused_in_profiles() {
    let schema = fathom_schema::parse_schema(
        "s.toml",
        "[users]\npublic_email = true\n\n[collections.notes]\nfields.owner = { type = \"relation\", collection = \"users\", on_delete = \"set_null\" }\n",
    )
    .expect("valid");
    assert!(schema.public_email);
    assert!(schema.users.is_none(), "no profile fields declared");
    let owner = schema.collection("notes").unwrap().field("owner").unwrap();
    assert!(owner.kind.points_at_accounts());
    let view = schema.accounts_view();
    assert_eq!(view.name, "users");
    assert!(view.field("email").is_some() && view.field("password_hash").is_none());

    let error = single(
        "[users]\nfields.friend = { type = \"relation\", collection = \"users\" }\n\n[collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    assert!(error.message.contains("users.friend"), "{error:?}");

    let error = single(
        "[users]\npublic_email = \"yes\"\n\n[collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    assert_eq!(error.path, "users.public_email", "{error:?}");
    assert!(error.message.contains("true or false"), "{error:?}");
}
