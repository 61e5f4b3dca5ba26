//! The schema model and everything about it that needs no I/O: the TOML parser and its validation
//! (`parse`), validation of record bodies against a collection (`record`), and the diff between two
//! schemas that migrations are planned from (`diff`).

pub mod diff;
pub mod model;
pub mod parse;
pub mod record;
pub mod value;

pub use diff::{Change, diff};
pub use model::{
    ACCOUNTS, ACCOUNTS_TABLE, Collection, Constraints, Field, FieldType, Index, OnDelete,
    RESERVED_COLLECTION_NAMES, Renames, Rule, Rules, SYSTEM_FIELDS, Schema, TENANT_FIELD,
};
pub use parse::{RuleSite, SchemaError, SchemaErrors, SchemaFile, parse_schema, read_schema_file};
pub use record::{FieldError, validate_create, validate_create_with_id, validate_patch};
pub use value::Value;
