//! The schema-file parser (TOML) and its validation.
//!
//! [`parse_schema`] reads the whole file with `toml_edit`, which keeps declaration order and the
//! byte span of every key and value, then walks it once, collecting every problem it finds rather
//! than stopping at the first. Each problem carries a 1-based line and column (in characters), the
//! dotted path of the offending key, a sentence saying what is wrong and a hint saying how to fix
//! it. The walk is split by level: `collection` (the top level and each collection), `field`
//! (with `field_keys` for each key on its own and `field_rules` for keys against the type),
//! `default` (checking a field's default against its type and constraints) and `index`.

mod collection;
mod context;
mod default;
mod field;
mod field_keys;
mod field_rules;
mod index;
mod renames;
mod rules;
mod users;
mod words;

use toml_edit::ImDocument;

use crate::model::Schema;
use context::Context;

/// One problem found in a schema file, located by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column of the offending key or value, counted in characters.
    pub column: usize,
    /// Dotted path of the offending key, such as `collections.products.fields.price.min`; empty
    /// when the problem is about the file as a whole (a TOML syntax error, no collections).
    pub path: String,
    /// What is wrong, as a full sentence naming the offending value.
    pub message: String,
    /// How to fix it, as a full sentence.
    pub hint: String,
}

/// Every problem found in one schema file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaErrors {
    pub file: String,
    pub errors: Vec<SchemaError>,
}

impl std::fmt::Display for SchemaErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.errors {
            writeln!(f, "{}:{}:{}: {}", self.file, e.line, e.column, e.message)?;
            writeln!(f, "  hint: {}", e.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaErrors {}

/// Parses and validates a schema file, reporting every problem at once.
///
/// `file` is only used to label the errors. On success every field default has already been
/// checked against its field's type and constraints, and every relation names a collection of the
/// same file.
pub fn parse_schema(file: &str, source: &str) -> Result<Schema, SchemaErrors> {
    let mut cx = Context::new(source);
    let schema = match ImDocument::parse(source) {
        Ok(document) => collection::read_schema(&mut cx, document.as_table()),
        Err(error) => {
            cx.syntax_error(&error);
            Schema::default()
        }
    };
    let errors = cx.into_errors();
    if errors.is_empty() {
        Ok(schema)
    } else {
        Err(SchemaErrors {
            file: file.to_owned(),
            errors,
        })
    }
}
