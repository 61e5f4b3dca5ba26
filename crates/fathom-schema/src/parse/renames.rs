//! `renamed_from`: a collection or field says which name it had before, so that the migration
//! renames it (keeping its data) instead of dropping the old one and adding the new one.
//!
//! The key may stay in the file after the rename is applied (the planner ignores a rename whose
//! old name the database no longer has), so here only the declaration itself is checked: a
//! usable name, not the thing's own name, not a name the file still declares, and not claimed
//! by two renames.

use std::collections::BTreeMap;
use std::ops::Range;

use toml_edit::TableLike;

use super::context::{Context, Entry};

pub(super) const KEY: &str = "renamed_from";

/// What is being renamed, for messages and paths.
#[derive(Clone, Copy)]
pub(super) enum Kind<'a> {
    Collection,
    /// A field of the named collection.
    Field(&'a str),
}

impl Kind<'_> {
    fn label(&self, name: &str) -> String {
        match self {
            Self::Collection => format!("Collection `{name}`"),
            Self::Field(collection) => format!("Field `{collection}.{name}`"),
        }
    }

    fn noun(&self) -> &'static str {
        match self {
            Self::Collection => "collection",
            Self::Field(_) => "field",
        }
    }

    fn owner(&self) -> String {
        match self {
            Self::Collection => String::from("the file"),
            Self::Field(collection) => format!("`{collection}`"),
        }
    }
}

/// One `renamed_from` as declared.
pub(super) struct Declared {
    /// The current name (the table's key).
    pub(super) name: String,
    pub(super) from: String,
    pub(super) path: String,
    pub(super) span: Option<Range<usize>>,
}

/// Reads `renamed_from` of one collection or field table, if present and well formed.
pub(super) fn read(
    cx: &mut Context<'_>,
    kind: Kind<'_>,
    name: &str,
    path: &str,
    table: &dyn TableLike,
    usable: fn(&str) -> bool,
) -> Option<Declared> {
    let entry = Entry::get(table, KEY)?;
    let path = format!("{path}.{KEY}");
    let label = kind.label(name);
    match entry.item.as_str() {
        Some(from) if usable(from) => Some(Declared {
            name: name.to_owned(),
            from: from.to_owned(),
            path,
            span: entry.value_span(),
        }),
        _ => {
            cx.report(
                entry.value_span(),
                &path,
                format!(
                    "`{KEY}` of {} must be the {} name it had before, but it is {}.",
                    lowercase_first(&label),
                    kind.noun(),
                    cx.found(entry.item)
                ),
                format!(
                    "Write `{KEY} = \"old_name\"` with the name the {} has in the database; \
                     names start with a lowercase letter and contain only lowercase letters, \
                     digits and underscores.",
                    kind.noun()
                ),
            );
            None
        }
    }
}

/// Checks the renames of one scope (the collections of the file, or the fields of one
/// collection) against every name the scope declares; returns new name → old name for the
/// sound ones.
pub(super) fn check(
    cx: &mut Context<'_>,
    kind: Kind<'_>,
    declared: &[String],
    renames: Vec<Declared>,
) -> BTreeMap<String, String> {
    let mut sound: BTreeMap<String, String> = BTreeMap::new();
    for rename in renames {
        let label = kind.label(&rename.name);
        let from = &rename.from;
        let problem = if *from == rename.name {
            Some((
                format!("{label} is renamed from its own name `{from}`."),
                format!(
                    "Remove `{KEY}`: a {} keeps its name without it.",
                    kind.noun()
                ),
            ))
        } else if declared.iter().any(|d| d == from) {
            Some((
                format!(
                    "{label} is renamed from `{from}`, but {} still declares a {} `{from}`.",
                    kind.owner(),
                    kind.noun()
                ),
                format!(
                    "A rename leaves no {noun} under the old name: remove `{KEY}` to keep both, \
                     or remove or rename the {noun} `{from}`.",
                    noun = kind.noun()
                ),
            ))
        } else if let Some((other, _)) = sound.iter().find(|(_, old)| *old == from) {
            Some((
                format!(
                    "{label} is renamed from `{from}`, and so is {}.",
                    lowercase_first(&kind.label(other))
                ),
                format!(
                    "Only one {} can take over `{from}`: keep `{KEY}` on one of them.",
                    kind.noun()
                ),
            ))
        } else {
            None
        };
        match problem {
            Some((message, hint)) => cx.report(rename.span, &rename.path, message, hint),
            None => {
                sound.insert(rename.name, rename.from);
            }
        }
    }
    sound
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}
