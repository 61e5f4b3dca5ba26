//! The encryption keys of a field: `encrypted = true` and `blind_index = true`, checked against
//! the field's type and its `unique` flag.

use toml_edit::TableLike;

use super::context::{Context, Entry};
use super::field::FieldScope;
use crate::model::FieldType;

/// The flags as read.
pub(super) struct Flags {
    pub(super) encrypted: bool,
    pub(super) blind_index: bool,
    pub(super) unique: bool,
}

/// Reports every combination that cannot work: encryption of a non-text type (a ciphertext is
/// text), a blind index without encryption, and `unique` on an encrypted field without a blind
/// index (ciphertexts of one value all differ, so the database could not compare them).
pub(super) fn check(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    kind: &FieldType,
    flags: Flags,
) {
    let report = |cx: &mut Context<'_>, key: &str, message: String, hint: &str| {
        if let Some(entry) = Entry::get(table, key) {
            cx.report(
                entry.key_span(),
                &scope.key_path(key),
                message,
                hint.to_owned(),
            );
        }
    };
    if flags.encrypted && !matches!(kind, FieldType::Text | FieldType::Email | FieldType::Url) {
        report(
            cx,
            "encrypted",
            format!(
                "Field `{}.{}` is of type `{}`, which cannot be `encrypted`.",
                scope.collection,
                scope.name,
                kind.name()
            ),
            "Encrypt `text`, `email` or `url` fields; store other sensitive values as text.",
        );
    }
    if flags.blind_index && !flags.encrypted {
        report(
            cx,
            "blind_index",
            format!(
                "Field `{}.{}` has `blind_index = true` but is not encrypted.",
                scope.collection, scope.name
            ),
            "A blind index serves encrypted fields only: add `encrypted = true`, or remove \
             `blind_index`.",
        );
    }
    if flags.encrypted && flags.unique && !flags.blind_index {
        report(
            cx,
            "unique",
            format!(
                "Field `{}.{}` is encrypted and `unique`, which needs a blind index.",
                scope.collection, scope.name
            ),
            "Add `blind_index = true`: uniqueness is then checked on a keyed hash of the value.",
        );
    }
}
