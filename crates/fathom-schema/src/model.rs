//! The schema model: collections, typed fields, constraints and indexes.
//!
//! This is the domain form of the schema file. It is also what the database stores as the snapshot
//! of every applied migration (serialised as JSON), so its serde shape is a storage format: add
//! fields with `#[serde(default)]`, never rename them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Columns every record has. They are managed by Fathom and never written by clients.
pub const SYSTEM_FIELDS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "version",
    "deleted_at",
    "tenant",
];

/// The system field holding a tenant-scoped record's tenant.
pub const TENANT_FIELD: &str = "tenant";

/// Collection names that would clash with system collections or with route words under `/api/v1`.
pub const RESERVED_COLLECTION_NAMES: &[&str] = &[
    "admin",
    "api",
    "audit",
    "auth",
    "batch",
    "collections",
    "docs",
    "events",
    "files",
    "health",
    "jwks",
    "keys",
    "me",
    "metrics",
    "migrations",
    "openapi",
    "ready",
    "realtime",
    "schema",
    "sessions",
    "tenants",
    "users",
    "webhooks",
];

/// The relation target that names user accounts (`collection = "users"`) instead of a
/// collection: the accounts are Fathom's own table, not one the schema declares.
pub const ACCOUNTS: &str = "users";

/// The table of user accounts, which relations to [`ACCOUNTS`] reference. Its profile fields
/// are one JSON document, `profile`.
pub const ACCOUNTS_TABLE: &str = "_fathom_users";

/// A whole schema: every collection by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub collections: BTreeMap<String, Arc<Collection>>,
    /// Profile fields of users (the schema's `[users]` table), stored with each account and
    /// read and changed at `/api/v1/auth/me`. Named `users`; only `fields` matter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Arc<Collection>>,
    /// What the file says was renamed (`renamed_from`), so that a migration renames instead of
    /// dropping and adding. Kept in the snapshot as declared; a rename whose old name the
    /// applied schema no longer has is already done and plans nothing.
    #[serde(default, skip_serializing_if = "Renames::is_empty")]
    pub renames: Renames,
    /// Whether an account's email shows wherever the account is seen through a relation
    /// (`[users] public_email = true`). Off by default: only the account itself and
    /// administrators see it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public_email: bool,
}

/// Declared renames, each keyed by the new name and giving the previous one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renames {
    /// Collection → the name it had before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub collections: BTreeMap<String, String>,
    /// Collection (its new name) → field → the name the field had before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, BTreeMap<String, String>>,
}

impl Renames {
    pub fn is_empty(&self) -> bool {
        self.collections.is_empty() && self.fields.is_empty()
    }
}

impl Schema {
    pub fn collection(&self, name: &str) -> Option<&Arc<Collection>> {
        self.collections.get(name)
    }

    /// The profile fields of accounts (the schema's `[users]` table), none if it declares none.
    pub fn profile_fields(&self) -> &[Field] {
        self.users.as_deref().map_or(&[], |u| u.fields.as_slice())
    }

    /// Accounts seen as the target of a relation (`collection = "users"`): a collection named
    /// `users` with `id`, `version`, `email` and the profile fields, and no relations, rules or
    /// timestamps. What a caller may read of it is decided above this crate.
    pub fn accounts_view(&self) -> Collection {
        let email = Field {
            name: "email".into(),
            kind: FieldType::Email,
            required: true,
            unique: true,
            default: None,
            constraints: Constraints::default(),
            hidden: false,
            encrypted: false,
            blind_index: false,
        };
        let mut fields = vec![email];
        fields.extend(self.profile_fields().iter().cloned());
        Collection {
            name: ACCOUNTS.into(),
            fields,
            indexes: Vec::new(),
            soft_delete: false,
            timestamps: false,
            tenant_scoped: false,
            require_if_match: false,
            audit: false,
            cache: None,
            rules: Rules::default(),
        }
    }
}

/// One collection: a table of records with typed fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    pub name: String,
    /// Fields in the order the schema file declares them.
    pub fields: Vec<Field>,
    /// Indexes declared in the schema file (not counting those implied by `unique` fields and
    /// relations: see [`Collection::effective_indexes`]).
    #[serde(default)]
    pub indexes: Vec<Index>,
    /// Deletes set `deleted_at` instead of removing the row; deleted records are hidden.
    #[serde(default)]
    pub soft_delete: bool,
    /// Records carry `created_at` and `updated_at`. On by default.
    #[serde(default = "default_true")]
    pub timestamps: bool,
    /// Every record belongs to one tenant (the `tenant` system field, taken from the caller's
    /// token on create), and every read and write is confined to the caller's tenant.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tenant_scoped: bool,
    /// Updates and deletes must name the version they change (`If-Match`, or `ifMatch` in a
    /// batch); without it they are refused with 428. Not a database matter: no migration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_if_match: bool,
    /// Every create, update, delete, restore and purge of a record writes an entry to the
    /// hash-chained audit log in the write's own transaction (actor, request id, record id and
    /// the changed field names, never values). Not a database matter: no migration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub audit: bool,
    /// How long this node may answer list pages, counts and record reads of the collection
    /// from its in-memory result cache (`cache = "30s"`); `None` (or `"0s"`) caches nothing.
    /// Writes drop the cached answers they could change, on every node, through the outbox.
    /// Not a database matter: no migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<std::time::Duration>,
    /// Who may do what. An operation without a rule is for administrators only.
    #[serde(default, skip_serializing_if = "Rules::is_empty")]
    pub rules: Rules,
}

/// Per-operation access rules of a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<Rule>,
}

impl Rules {
    pub const OPERATIONS: &'static [&'static str] = &["list", "view", "create", "update", "delete"];

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The rule of an operation by name (one of [`Rules::OPERATIONS`]).
    pub fn get(&self, operation: &str) -> Option<&Rule> {
        match operation {
            "list" => self.list.as_ref(),
            "view" => self.view.as_ref(),
            "create" => self.create.as_ref(),
            "update" => self.update.as_ref(),
            "delete" => self.delete.as_ref(),
            _ => None,
        }
    }
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Anyone, signed in or not (`list = true`).
    Public,
    /// Callers for whom, and records for which, the expression holds.
    Expression(String),
}

fn default_true() -> bool {
    true
}

impl Collection {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether any field is stored encrypted.
    pub fn has_encrypted_fields(&self) -> bool {
        self.fields.iter().any(|f| f.encrypted)
    }

    /// The column an index over `field` covers (see [`Field::index_column`]).
    pub fn index_column(&self, field: &str) -> String {
        self.field(field)
            .map_or_else(|| field.to_owned(), Field::index_column)
    }

    /// Every index the database should hold for this collection: the declared ones, one unique
    /// index per `unique` field, and one index per relation field not already led by another
    /// index (so that joins and relation-violation checks never scan). Deterministic order.
    ///
    /// In a tenant-scoped collection every index is led by `tenant`: each query is filtered by
    /// tenant, and a unique value is unique within its tenant (two tenants may both have a
    /// customer `ada@example.com`).
    pub fn effective_indexes(&self) -> Vec<Index> {
        let indexes = self.own_indexes();
        if !self.tenant_scoped {
            return indexes;
        }
        let mut scoped: Vec<Index> = indexes
            .into_iter()
            .map(|i| {
                let mut fields = vec![TENANT_FIELD.to_owned()];
                fields.extend(i.fields);
                Index::ordered(&self.name, fields, i.descending, i.unique)
            })
            .collect();
        if scoped.is_empty() {
            scoped.push(Index::new(&self.name, vec![TENANT_FIELD.to_owned()], false));
        }
        scoped
    }

    fn own_indexes(&self) -> Vec<Index> {
        let mut out: Vec<Index> = Vec::new();
        let mut push = |index: Index| {
            if !out.iter().any(|i| {
                i.fields == index.fields
                    && i.unique == index.unique
                    && i.descending == index.descending
            }) {
                out.push(index);
            }
        };
        for field in self.fields.iter().filter(|f| f.unique) {
            push(Index::new(&self.name, vec![field.name.clone()], true));
        }
        for index in &self.indexes {
            push(index.clone());
        }
        for field in &self.fields {
            if matches!(field.kind, FieldType::Relation { .. }) && !field.unique {
                let led = self
                    .indexes
                    .iter()
                    .any(|i| i.fields.first() == Some(&field.name));
                if !led {
                    push(Index::new(&self.name, vec![field.name.clone()], false));
                }
            }
        }
        out
    }
}

/// One typed field of a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(flatten)]
    pub kind: FieldType,
    /// A create must supply a non-null value (unless there is a default); null is never stored.
    #[serde(default)]
    pub required: bool,
    /// No two live records share a value.
    #[serde(default)]
    pub unique: bool,
    /// Applied on create when the field is absent. Already checked against the field's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Constraints::is_empty")]
    pub constraints: Constraints,
    /// Returned, filtered and sorted on for administrators only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// Stored encrypted (an AEAD bound to collection, field and record id, under a key of the
    /// key ring); text, email and url fields only. Without a blind index it cannot be filtered,
    /// sorted or unique.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// An encrypted field that also stores a keyed HMAC of its value (in the column
    /// [`Field::blind_column`]), so that `field = value`, `in`, `unique` and rules comparing it
    /// with a value work without decrypting the table.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blind_index: bool,
}

/// The suffix of the column holding a blind-indexed field's HMAC.
pub const BLIND_SUFFIX: &str = "__bidx";

impl Field {
    /// The column of a blind-indexed field's HMAC: `<name>__bidx`.
    pub fn blind_column(&self) -> String {
        blind_column(&self.name)
    }

    /// The column an index over this field covers: the HMAC column of a blind-indexed field,
    /// otherwise the field's own.
    pub fn index_column(&self) -> String {
        if self.blind_index {
            self.blind_column()
        } else {
            self.name.clone()
        }
    }
}

/// The HMAC column of the blind-indexed field `name`.
pub fn blind_column(name: &str) -> String {
    format!("{name}{BLIND_SUFFIX}")
}

/// The type of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Integer,
    Number,
    /// Exact decimal; travels as a JSON string to keep its precision.
    Decimal,
    Boolean,
    /// An instant, RFC 3339 on the wire, stored in UTC.
    Timestamp,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    Uuid,
    Json,
    Enum {
        values: Vec<String>,
    },
    /// A reference to a record of another (or the same) collection, by id.
    Relation {
        collection: String,
        #[serde(default)]
        on_delete: OnDelete,
    },
    Email,
    Url,
}

impl FieldType {
    /// Whether this is a relation to user accounts (`collection = "users"`).
    pub fn points_at_accounts(&self) -> bool {
        matches!(self, Self::Relation { collection, .. } if collection == ACCOUNTS)
    }

    /// The name used in the schema file.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Decimal => "decimal",
            Self::Boolean => "boolean",
            Self::Timestamp => "timestamp",
            Self::Date => "date",
            Self::Uuid => "uuid",
            Self::Json => "json",
            Self::Enum { .. } => "enum",
            Self::Relation { .. } => "relation",
            Self::Email => "email",
            Self::Url => "url",
        }
    }

    /// Every type name the schema file accepts.
    pub const NAMES: &'static [&'static str] = &[
        "text",
        "integer",
        "number",
        "decimal",
        "boolean",
        "timestamp",
        "date",
        "uuid",
        "json",
        "enum",
        "relation",
        "email",
        "url",
    ];

    /// Whether values of this type are strings (so length and pattern constraints apply).
    pub fn is_textual(&self) -> bool {
        matches!(
            self,
            Self::Text | Self::Email | Self::Url | Self::Enum { .. }
        )
    }

    /// Whether values of this type are numbers (so min and max apply).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Self::Integer | Self::Number | Self::Decimal)
    }
}

/// What happens to referencing records when the referenced record is deleted for good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// The delete is refused while records refer to it (409 `relation_violation`).
    #[default]
    Restrict,
    /// Referencing records are deleted too.
    Cascade,
    /// The reference is cleared (the field must be optional).
    SetNull,
}

impl OnDelete {
    pub const NAMES: &'static [&'static str] = &["restrict", "cascade", "set_null"];
}

/// Value constraints. Which apply depends on the field type (checked by the parser).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// Inclusive lower bound for numeric fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Inclusive upper bound for numeric fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Minimum length in characters for textual fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Maximum length in characters for textual fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// A regular expression (Rust `regex` syntax) the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

impl Constraints {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A database index over one or more fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Derived from the collection and fields: `idx_<collection>__<f1>__<f2>` (`uq_` when
    /// unique), a descending field written `<f>_desc`.
    pub name: String,
    pub fields: Vec<String>,
    #[serde(default)]
    pub unique: bool,
    /// The fields kept in descending order (declared `"-field"`), so that a sort whose keys run
    /// both ways (`sort=-priority`, then `id` ascending) is read off the index in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descending: Vec<String>,
}

impl Index {
    /// An index with every field ascending.
    pub fn new(collection: &str, fields: Vec<String>, unique: bool) -> Self {
        Self::ordered(collection, fields, Vec::new(), unique)
    }

    /// An index keeping `descending` (a subset of `fields`) in descending order.
    pub fn ordered(
        collection: &str,
        fields: Vec<String>,
        descending: Vec<String>,
        unique: bool,
    ) -> Self {
        let mut index = Self {
            name: String::new(),
            fields,
            unique,
            descending,
        };
        let keys: Vec<String> = index
            .declared_keys()
            .into_iter()
            .map(|key| match key.strip_prefix('-') {
                Some(field) => format!("{field}_desc"),
                None => key,
            })
            .collect();
        let prefix = if unique { "uq" } else { "idx" };
        index.name = format!("{prefix}_{collection}__{}", keys.join("__"));
        index
    }

    /// Whether `field` is kept in descending order.
    pub fn is_descending(&self, field: &str) -> bool {
        self.descending.iter().any(|f| f == field)
    }

    /// The keys as the schema file declares them: `["team", "-priority", "id"]`.
    pub fn declared_keys(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| {
                if self.is_descending(f) {
                    format!("-{f}")
                } else {
                    f.clone()
                }
            })
            .collect()
    }
}
