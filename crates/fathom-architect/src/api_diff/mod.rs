//! API changes a migration makes for clients: a pure diff of the OpenAPI documents before
//! (applied schema) and after (desired schema), each change classified as breaking, to review,
//! or additive (docs/ARCHITECT.md, "Migration review").
//!
//! The diff reads the documents Fathom itself renders (`fathom_api::document`): a collection is
//! a path `/api/v1/{name}` whose `post` sends a `{Type}Create` body; its fields are the
//! properties of `{Type}Record` (what clients read), `{Type}Create` and `{Type}Update` (what they
//! send). Access rules are not in the document: [`rules::rule_changes`] compares them on the
//! schemas, and [`rules::name_renames`] turns a removal and an addition that the schema declares
//! a rename into one change.

mod fields;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::{Change, Finding, FindingKind, Severity};

/// How a change affects existing clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// Existing clients break: a request they send is refused, or an answer lacks what they read.
    Breaking,
    /// May break some clients (a rule whose text changed in a way the diff cannot order).
    Review,
    /// Existing clients keep working.
    Additive,
}

/// What changed. The names are part of `migrate plan --json`: never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiChangeKind {
    CollectionRemoved,
    CollectionRenamed,
    CollectionAdded,
    OperationRemoved,
    OperationAdded,
    FieldRemoved,
    FieldRenamed,
    FieldAdded,
    /// The field's type changed (`text` to `integer`, a format, a relation's target).
    TypeChanged,
    /// What a client may send is narrower (a shorter `maxLength`, a new `pattern`, a higher
    /// `minimum`, `null` no longer accepted).
    TypeNarrowed,
    /// What a client may send is wider.
    TypeWidened,
    /// Answers may now carry `null` where they never did.
    NowNullable,
    /// A create must now send the field (or an update may no longer clear it).
    FieldRequired,
    /// A create may now leave the field out.
    FieldOptional,
    EnumValueRemoved,
    EnumValueAdded,
    /// An access rule admits fewer callers.
    RuleTightened,
    /// An access rule admits more callers.
    RuleLoosened,
    /// An access rule changed in a way the diff cannot order.
    RuleChanged,
}

impl ApiChangeKind {
    /// The name as in JSON.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The impact of this kind of change on existing clients.
    pub fn impact(self) -> Impact {
        use ApiChangeKind::*;
        match self {
            CollectionRemoved | CollectionRenamed | OperationRemoved | FieldRemoved
            | FieldRenamed | TypeChanged | TypeNarrowed | FieldRequired | EnumValueRemoved
            | RuleTightened => Impact::Breaking,
            NowNullable | RuleChanged => Impact::Review,
            CollectionAdded | OperationAdded | FieldAdded | TypeWidened | FieldOptional
            | EnumValueAdded | RuleLoosened => Impact::Additive,
        }
    }
}

/// One change of the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiChange {
    pub kind: ApiChangeKind,
    pub impact: Impact,
    /// The collection it is about, when one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// What changed in the API's words: `notes.code`, `DELETE /api/v1/notes/{id}`, `notes: list`.
    pub subject: String,
    /// Where in the after document (or the before one, for a removal): a JSON pointer such as
    /// `#/components/schemas/NotesCreate/properties/code`, or `rules.list` for a rule.
    pub path: String,
    /// The part before and after (`null` when it did not exist).
    pub before: Value,
    pub after: Value,
    /// One sentence saying what it means for clients.
    pub message: String,
}

impl ApiChange {
    pub(crate) fn new(
        kind: ApiChangeKind,
        collection: Option<&str>,
        subject: impl Into<String>,
        path: impl Into<String>,
        (before, after): (Value, Value),
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            impact: kind.impact(),
            collection: collection.map(str::to_owned),
            subject: subject.into(),
            path: path.into(),
            before,
            after,
            message: message.into(),
        }
    }

    /// The change as a finding (`BreakingApiChange` for breaking and review ones).
    pub fn to_finding(&self) -> Finding {
        let (kind, severity) = match self.impact {
            Impact::Breaking => (FindingKind::BreakingApiChange, Severity::Critical),
            Impact::Review => (FindingKind::BreakingApiChange, Severity::Warning),
            Impact::Additive => (FindingKind::AdditiveApiChange, Severity::Info),
        };
        Finding {
            kind,
            severity,
            collection: self.collection.clone(),
            title: format!("{}: {}", self.kind.name().replace('_', " "), self.subject),
            evidence: json!({
                "change": self.kind,
                "impact": self.impact,
                "path": self.path,
                "before": self.before,
                "after": self.after,
            }),
            gain: None,
            change: Change {
                schema_patch: None,
                sql: Vec::new(),
                advice: self.message.clone(),
            },
        }
    }
}

/// Breaking changes first, then those to review, then additive ones; each group by collection
/// and subject.
pub fn sort(changes: &mut [ApiChange]) {
    changes.sort_by(|a, b| {
        (a.impact, &a.collection, &a.subject, a.kind).cmp(&(
            b.impact,
            &b.collection,
            &b.subject,
            b.kind,
        ))
    });
}

/// The operations of a document: (path, method) to the operation.
fn operations(document: &Value) -> BTreeMap<(String, String), &Value> {
    let mut out = BTreeMap::new();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                if matches!(
                    method.as_str(),
                    "get" | "put" | "post" | "patch" | "delete" | "head" | "options" | "trace"
                ) {
                    out.insert((path.clone(), method.clone()), operation);
                }
            }
        }
    }
    out
}

/// A collection as its document shows it.
pub(crate) struct CollectionDoc<'d> {
    /// The names of its record, create and update component schemas (`NotesRecord`, ...).
    pub(crate) names: [String; 3],
    pub(crate) record: Option<&'d Map<String, Value>>,
    pub(crate) create: Option<&'d Map<String, Value>>,
    pub(crate) update: Option<&'d Map<String, Value>>,
}

const SCHEMAS_PREFIX: &str = "#/components/schemas/";

/// The collections of a document by name: `/api/v1/{name}` paths whose `post` sends a
/// `{Type}Create`.
pub(crate) fn collections(document: &Value) -> BTreeMap<String, CollectionDoc<'_>> {
    let schema = |name: &str| {
        document
            .pointer(&format!("/components/schemas/{name}"))
            .and_then(Value::as_object)
    };
    let mut out = BTreeMap::new();
    for ((path, method), operation) in operations(document) {
        let Some(name) = path.strip_prefix("/api/v1/") else {
            continue;
        };
        if method != "post" || name.contains('/') {
            continue;
        }
        let Some(type_name) = operation
            .pointer("/requestBody/content/application~1json/schema/$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(SCHEMAS_PREFIX))
            .and_then(|r| r.strip_suffix("Create"))
        else {
            continue;
        };
        out.insert(
            name.to_owned(),
            CollectionDoc {
                names: ["Record", "Create", "Update"].map(|suffix| format!("{type_name}{suffix}")),
                record: schema(&format!("{type_name}Record")),
                create: schema(&format!("{type_name}Create")),
                update: schema(&format!("{type_name}Update")),
            },
        );
    }
    out
}

/// Whether an operation's path belongs to one of `names`.
fn belongs(path: &str, names: &BTreeSet<&String>) -> bool {
    path.strip_prefix("/api/v1/").is_some_and(|rest| {
        let first = rest.split('/').next().unwrap_or_default();
        names.iter().any(|n| n.as_str() == first)
    })
}

/// Every change from `before` to `after`, two OpenAPI documents Fathom rendered, sorted with
/// [`sort`].
pub fn diff_documents(before: &Value, after: &Value) -> Vec<ApiChange> {
    diff_renamed(before, after, &BTreeMap::new())
}

/// [`diff_documents`], knowing which collections were renamed (old name to new): a renamed
/// collection is one breaking rename, and its fields are compared old with new.
pub fn diff_renamed(
    before: &Value,
    after: &Value,
    renamed: &BTreeMap<String, String>,
) -> Vec<ApiChange> {
    let mut changes = Vec::new();
    let old = collections(before);
    let new = collections(after);
    // Each collection of `before` and what it is called in `after`.
    let now_called = |name: &String| renamed.get(name).unwrap_or(name).clone();
    let removed: BTreeSet<&String> = old
        .keys()
        .filter(|n| !new.contains_key(&now_called(n)))
        .collect();
    let kept: BTreeSet<String> = old.keys().map(now_called).collect();
    let added: BTreeSet<&String> = new.keys().filter(|n| !kept.contains(*n)).collect();
    for name in &removed {
        changes.push(ApiChange::new(
            ApiChangeKind::CollectionRemoved,
            Some(name),
            format!("`{name}`"),
            format!("#/paths/~1api~1v1~1{name}"),
            (json!(name), Value::Null),
            format!(
                "Every operation under `/api/v1/{name}` answers 404: clients of `{name}` break."
            ),
        ));
    }
    for name in &added {
        changes.push(ApiChange::new(
            ApiChangeKind::CollectionAdded,
            Some(name),
            format!("`{name}`"),
            format!("#/paths/~1api~1v1~1{name}"),
            (Value::Null, json!(name)),
            format!("New operations under `/api/v1/{name}`."),
        ));
    }
    // Operations under a renamed collection moved with it: the rename says so once.
    let moved_from: BTreeSet<&String> = old
        .keys()
        .filter(|n| renamed.contains_key(*n) && new.contains_key(&now_called(n)))
        .collect();
    let moved_to: BTreeSet<&String> = new
        .keys()
        .filter(|n| renamed.values().any(|v| v == *n) && !old.contains_key(*n))
        .collect();
    for from in &moved_from {
        let to = now_called(from);
        changes.push(ApiChange::new(
            ApiChangeKind::CollectionRenamed,
            Some(&to),
            format!("`{from}` -> `{to}`"),
            format!("#/paths/~1api~1v1~1{to}"),
            (json!(from), json!(to)),
            format!(
                "Every operation moves from `/api/v1/{from}` to `/api/v1/{to}`: clients using the old path get 404; rename in a release that keeps both (add the new collection, copy, switch clients, then drop the old) to avoid it."
            ),
        ));
    }
    let old_operations = operations(before);
    let new_operations = operations(after);
    for ((path, method), operation) in &old_operations {
        if !new_operations.contains_key(&(path.clone(), method.clone()))
            && !belongs(path, &removed)
            && !belongs(path, &moved_from)
        {
            changes.push(operation_change(
                ApiChangeKind::OperationRemoved,
                path,
                method,
                operation,
            ));
        }
    }
    for ((path, method), operation) in &new_operations {
        if !old_operations.contains_key(&(path.clone(), method.clone()))
            && !belongs(path, &added)
            && !belongs(path, &moved_to)
        {
            changes.push(operation_change(
                ApiChangeKind::OperationAdded,
                path,
                method,
                operation,
            ));
        }
    }
    for (name, was) in &old {
        let name = now_called(name);
        if let Some(is) = new.get(&name) {
            fields::compare(&name, (was, is), renamed, &mut changes);
        }
    }
    let owned: BTreeSet<&String> = old
        .values()
        .chain(new.values())
        .flat_map(|c| c.names.iter())
        .collect();
    for (shown, was, is) in other_schemas(before, after, &owned) {
        fields::compare(shown, (&was, &is), renamed, &mut changes);
    }
    sort(&mut changes);
    changes
}

/// The component schemas outside the collections that both documents have and whose
/// properties the schema file decides (`ProfileChanges`, from `[users]`): each as a
/// collection of its own, under the name it is shown with, whose one schema is sent as an
/// update is (every property optional).
fn other_schemas<'d>(
    before: &'d Value,
    after: &'d Value,
    owned: &BTreeSet<&String>,
) -> Vec<(&'static str, CollectionDoc<'d>, CollectionDoc<'d>)> {
    let schemas = |document: &'d Value| {
        document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
    };
    let (Some(old), Some(new)) = (schemas(before), schemas(after)) else {
        return Vec::new();
    };
    let doc = |name: &String, schema: &'d Value| CollectionDoc {
        names: [name.clone(), name.clone(), name.clone()],
        record: None,
        create: None,
        update: schema.as_object(),
    };
    PROFILE_SCHEMAS
        .iter()
        .filter_map(|(schema, shown)| {
            let (name, was) = old.get_key_value(*schema)?;
            let is = new.get(*schema)?;
            (!owned.contains(name)).then(|| (*shown, doc(name, was), doc(name, is)))
        })
        .collect()
}

/// Component schemas outside the collections whose properties come from the schema file, and
/// the name their changes are shown under: the profile fields of accounts (`[users]`).
const PROFILE_SCHEMAS: &[(&str, &str)] = &[("ProfileChanges", "users")];

fn operation_change(kind: ApiChangeKind, path: &str, method: &str, operation: &Value) -> ApiChange {
    let id = operation.get("operationId").cloned().unwrap_or(Value::Null);
    let subject = format!("{} {path}", method.to_ascii_uppercase());
    let pointer = format!(
        "#/paths/{}/{method}",
        path.replace('~', "~0").replace('/', "~1")
    );
    let collection = path
        .strip_prefix("/api/v1/")
        .and_then(|rest| rest.split('/').next());
    let (sides, message) = if kind == ApiChangeKind::OperationRemoved {
        (
            (id, Value::Null),
            format!("`{subject}` is gone: clients calling it get 404 or 405."),
        )
    } else {
        ((Value::Null, id), format!("New operation `{subject}`."))
    };
    ApiChange::new(kind, collection, subject, pointer, sides, message)
}

/// Every API change of a migration from `applied` to `desired`, whose documents are `before`
/// and `after`: the document diff, the rule changes, and the declared renames as renames.
pub fn api_changes(
    before: &Value,
    after: &Value,
    applied: &fathom_schema::Schema,
    desired: &fathom_schema::Schema,
) -> Vec<ApiChange> {
    let renamed: BTreeMap<String, String> = fathom_schema::diff(applied, desired)
        .into_iter()
        .filter_map(|c| match c {
            fathom_schema::Change::RenameCollection { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    let mut changes = diff_renamed(before, after, &renamed);
    changes.extend(rules::rule_changes(applied, desired));
    rules::name_renames(&mut changes, applied, desired);
    changes
}

/// The "API changes" section `migrate plan` prints: breaking ones first, each marked.
pub fn render(changes: &[ApiChange]) -> String {
    let mut out = String::new();
    let count = |impact: Impact| changes.iter().filter(|c| c.impact == impact).count();
    let _ = writeln!(
        out,
        "\nAPI changes: {} breaking, {} to review, {} additive",
        count(Impact::Breaking),
        count(Impact::Review),
        count(Impact::Additive)
    );
    if changes.is_empty() {
        let _ = writeln!(out, "   none: clients see the same API");
    }
    for change in changes {
        let label = match change.impact {
            Impact::Breaking => "BREAKING",
            Impact::Review => "REVIEW  ",
            Impact::Additive => "additive",
        };
        let _ = writeln!(
            out,
            "   {label}  {}: {}",
            change.kind.name().replace('_', " "),
            change.subject
        );
        let _ = writeln!(out, "             {}", change.message);
        if change.before != Value::Null || change.after != Value::Null {
            let _ = writeln!(
                out,
                "             before: {}  after: {}  ({})",
                short(&change.before),
                short(&change.after),
                change.path
            );
        }
    }
    out
}

/// A compact rendering of a part of a document, for one line: without its prose (`examples`,
/// `description`) and unset keys.
fn short(value: &Value) -> String {
    const MAX: usize = 100;
    let text = match value {
        Value::Null => "-".to_owned(),
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .iter()
                .filter(|(k, v)| !v.is_null() && !matches!(k.as_str(), "examples" | "description"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(kept).to_string()
        }
        other => other.to_string(),
    };
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
