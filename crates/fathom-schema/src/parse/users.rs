//! The top-level `[users]` table: profile fields that every account carries (a display name, an
//! avatar URL, ...). They are validated like record fields and stored with the account, so
//! relations and `unique` (which need columns and indexes of their own) are refused.
//! `public_email = true` shows an account's email wherever the account is seen through a
//! relation (`expand`), not only to the account itself and administrators.

use std::sync::Arc;

use super::collection::read_fields;
use super::context::{Context, Entry};
use super::words::{did_you_mean, list};
use crate::model::{Collection, FieldType, Rules, Schema};

const USERS_KEYS: &[&str] = &["fields", "public_email"];

/// Reads `[users]` into `schema` (its profile fields and `public_email`).
pub(super) fn read_users(cx: &mut Context<'_>, entry: Entry<'_>, schema: &mut Schema) {
    schema.users = read_profile(cx, entry, &mut schema.public_email);
}

fn read_profile(
    cx: &mut Context<'_>,
    entry: Entry<'_>,
    public_email: &mut bool,
) -> Option<Arc<Collection>> {
    let Some(table) = entry.item.as_table_like() else {
        cx.report(
            entry.value_span(),
            "users",
            format!("`users` must be a table, but it is {}.", cx.found(entry.item)),
            "Declare profile fields as `[users]` followed by `fields.display_name = { type = \"text\" }`."
                .into(),
        );
        return None;
    };
    for key in Entry::all(table) {
        if !USERS_KEYS.contains(&key.name()) {
            cx.report(
                key.key_span(),
                &format!("users.{}", key.name()),
                format!("Unknown key `{}` in `[users]`.", key.name()),
                format!(
                    "{}`[users]` only declares profile fields; allowed keys are {}.",
                    did_you_mean(key.name(), USERS_KEYS),
                    list(USERS_KEYS)
                ),
            );
        }
    }
    if let Some(flag) = Entry::get(table, "public_email") {
        match flag.item.as_bool() {
            Some(value) => *public_email = value,
            None => cx.report(
                flag.value_span(),
                "users.public_email",
                format!(
                    "`public_email` must be true or false, but it is {}.",
                    cx.found(flag.item)
                ),
                "Write `public_email = true` to show accounts' emails through relations.".into(),
            ),
        }
    }
    if Entry::get(table, "fields").is_none() && Entry::get(table, "public_email").is_some() {
        // `[users]` may set `public_email` alone, with no profile fields.
        return None;
    }
    let read = read_fields(cx, &[], table, "users", entry);
    for field in read.renames.keys() {
        // Profiles are JSON stored with each account, not columns: there is nothing to rename.
        cx.report(
            entry.key_span(),
            &format!("users.fields.{field}.{}", super::renames::KEY),
            format!("The profile field `users.{field}` cannot be renamed with `{}`.", super::renames::KEY),
            "Profile fields are stored with each account; add the new field and copy the values through the API.".into(),
        );
    }
    let fields = read.fields?;
    let mut fit = true;
    for field in &fields {
        let refusal = if matches!(field.kind, FieldType::Relation { .. }) {
            Some("a relation")
        } else if field.unique {
            Some("unique")
        } else if field.encrypted {
            // Profiles are one JSON document per account, outside the store's sealing of columns.
            Some("encrypted")
        } else {
            None
        };
        if let Some(what) = refusal {
            fit = false;
            cx.report(
                entry.key_span(),
                &format!("users.fields.{}", field.name),
                format!("The profile field `users.{}` cannot be {what}.", field.name),
                "Profile fields are stored with the account; keep related or unique data in a collection that points at the user's id.".into(),
            );
        }
    }
    fit.then(|| {
        Arc::new(Collection {
            name: "users".into(),
            fields,
            indexes: Vec::new(),
            soft_delete: false,
            timestamps: false,
            tenant_scoped: false,
            require_if_match: false,
            audit: false,
            cache: None,
            rules: Rules::default(),
        })
    })
}
