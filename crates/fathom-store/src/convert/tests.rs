//! What a conversion does to one row and one event copy, without a database: plaintext is
//! sealed (and blinded) in its place, a current ciphertext only gets its missing blind index,
//! a field turned off is opened, and a value that does not open there is left alone.

use std::sync::Arc;

use fathom_schema::parse_schema;

use super::*;

const SCHEMA: &str = r#"
[collections.tickets]
fields.title = { type = "text" }
fields.notes = { type = "text", encrypted = true, blind_index = true }
fields.memo  = { type = "text" }
"#;

const ID: &str = "0190a0b0-0000-7000-8000-000000000001";

fn setup() -> (KeyRing, Conversion) {
    let keys = KeyRing::parse(&KeyRing::generate_file("k1").expect("keys")).expect("ring");
    let schema = parse_schema("t.toml", SCHEMA).expect("schema");
    let conversion = Conversion {
        collection: Arc::clone(schema.collection("tickets").expect("tickets")),
        decrypting: vec!["memo".into()],
    };
    (keys, conversion)
}

#[test]
fn plaintext_is_sealed_in_its_place_with_its_blind_index() {
    let (keys, conversion) = setup();
    let (out, unopened) = rewrites(
        &keys,
        &conversion,
        ID,
        vec![Some("secret".into()), None, None],
    )
    .expect("rewrites");
    assert_eq!(unopened, 0);
    assert_eq!(out.len(), 1);
    let rewrite = &out[0];
    assert_eq!(
        (rewrite.field.as_str(), rewrite.old.as_str()),
        ("notes", "secret")
    );
    assert!(rewrite.new.starts_with("fe1:k1:"), "{}", rewrite.new);
    assert_eq!(
        keys.open("tickets", "notes", ID, &rewrite.new)
            .expect("opens"),
        "secret"
    );
    assert_eq!(
        rewrite.blind.as_deref(),
        Some(
            keys.blind("tickets", "notes", "secret")
                .expect("blind")
                .as_str()
        )
    );
    assert_eq!(rewrite.params().len(), 4);
}

#[test]
fn a_current_ciphertext_gets_only_its_missing_blind_index() {
    let (keys, conversion) = setup();
    let sealed = keys.seal("tickets", "notes", ID, "secret").expect("seal");
    let (out, _) = rewrites(
        &keys,
        &conversion,
        ID,
        vec![Some(sealed.clone()), None, None],
    )
    .expect("rewrites");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].new, sealed, "the ciphertext stays");
    assert!(out[0].blind.is_some());
    let digest = keys.blind("tickets", "notes", "secret").expect("blind");
    let (out, _) = rewrites(
        &keys,
        &conversion,
        ID,
        vec![Some(sealed), Some(digest), None],
    )
    .expect("rewrites");
    assert!(out.is_empty(), "already in the target form");
}

#[test]
fn a_field_turned_off_is_opened_and_a_value_that_does_not_open_is_left() {
    let (keys, conversion) = setup();
    let sealed = keys.seal("tickets", "memo", ID, "old memo").expect("seal");
    let (out, unopened) =
        rewrites(&keys, &conversion, ID, vec![None, None, Some(sealed)]).expect("rewrites");
    assert_eq!((out.len(), unopened), (1, 0));
    assert_eq!(out[0].new, "old memo");
    assert!(out[0].blind.is_none());
    // Sealed for another record: it does not open here, so it is a client's text.
    let elsewhere = keys
        .seal(
            "tickets",
            "memo",
            "0190a0b0-0000-7000-8000-000000000002",
            "x",
        )
        .expect("seal");
    let (out, unopened) =
        rewrites(&keys, &conversion, ID, vec![None, None, Some(elsewhere)]).expect("rewrites");
    assert_eq!((out.len(), unopened), (0, 1));
}

#[test]
fn an_event_copy_is_sealed_and_opened_like_the_row() {
    let (keys, conversion) = setup();
    let memo = keys.seal("tickets", "memo", ID, "old memo").expect("seal");
    let stored =
        serde_json::json!({"id": ID, "title": "t", "notes": "secret", "memo": memo}).to_string();
    let new = convert_event(&keys, &conversion, ID, &stored)
        .expect("converts")
        .expect("changed");
    let record: serde_json::Value = serde_json::from_str(&new).expect("json");
    assert!(!new.contains("secret"), "{new}");
    assert_eq!(
        keys.open(
            "tickets",
            "notes",
            ID,
            record["notes"].as_str().expect("notes")
        )
        .expect("opens"),
        "secret"
    );
    assert_eq!(record["memo"], "old memo");
    assert_eq!(record["title"], "t");
    assert_eq!(
        convert_event(&keys, &conversion, ID, &new).expect("again"),
        None
    );
}

#[test]
fn the_statements_bind_the_same_parameters_whatever_the_fields() {
    let (_, conversion) = setup();
    let select = stale_select(Dialect::Sqlite, &conversion, 10);
    assert!(select.contains("?1 IS NOT NULL AND"), "{select}");
    assert!(select.contains("\"notes__bidx\" IS NULL"), "{select}");
    assert!(
        select.contains("substr(\"memo\", 1, 4) = 'fe1:'"),
        "{select}"
    );
    let pg = stale_select(Dialect::Postgres, &conversion, 10);
    assert!(pg.ends_with("LIMIT 10 FOR UPDATE"), "{pg}");
    // A collection with no encrypted field left still names the prefix its callers bind.
    let plain = parse_schema(
        "t.toml",
        "[collections.tickets]\nfields.memo = { type = \"text\" }\n",
    )
    .expect("schema");
    let only_off = Conversion {
        collection: Arc::clone(plain.collection("tickets").expect("tickets")),
        decrypting: vec!["memo".into()],
    };
    assert!(remaining_sql(Dialect::Sqlite, &only_off).contains("?1"));
}
