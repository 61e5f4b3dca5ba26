//! The schema-file parser (TOML) and its validation.
//!
//! [`parse_schema`] reads the whole file with `toml_edit`, which keeps declaration order and the
//! byte span of every key and value, then walks it once, collecting every problem it finds rather
//! than stopping at the first. Each problem carries a 1-based line and column (in characters), the
//! dotted path of the offending key, a sentence saying what is wrong and a hint saying how to fix
//! it. The walk is split by level: `collection` (the top level and each collection), `field`
//! (with `field_keys` for each key on its own and `field_rules` for keys against the type),
//! `default` (checking a field's default against its type and constraints) and `index`.

mod cache;
mod collection;
mod context;
mod default;
mod encryption;
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

impl SchemaError {
    /// A problem found outside the parser (a rule's expression); like every message, it is
    /// kept on one line, control characters shown escaped.
    pub fn new(line: usize, column: usize, path: String, message: String, hint: String) -> Self {
        Self {
            line,
            column,
            path,
            message: context::one_line(message),
            hint: context::one_line(hint),
        }
    }
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

impl SchemaErrors {
    /// Puts the errors in file order (problems at the same place keep their order).
    pub fn sort(&mut self) {
        self.errors.sort_by_key(|e| (e.line, e.column));
    }
}

/// Where a rule's expression stands in the file. The expression language lives above this
/// crate, so its checker reports at these positions (see [`read_schema_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSite {
    pub collection: String,
    /// One of [`crate::Rules::OPERATIONS`].
    pub operation: &'static str,
    /// Dotted path of the rule, such as `collections.posts.rules.list`.
    pub path: String,
    /// 1-based line and column (in characters) of the expression's first character, or of the
    /// value when it is not [`RuleSite::verbatim`].
    pub line: usize,
    pub column: usize,
    /// Whether the expression is written as it reads (one quoted line, no escapes), so that
    /// column `n` of the expression is column `column + n - 1` of the file.
    pub verbatim: bool,
}

/// A schema file read as far as it goes: the problems found, every collection that was read
/// without one, and where each rule expression stands.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    pub schema: Schema,
    /// Empty when the file is valid (as far as this crate can tell: rules are checked above).
    pub errors: SchemaErrors,
    pub rules: Vec<RuleSite>,
}

/// Reads a schema file without stopping at its problems, so that a caller who also checks the
/// rules can report every problem at once (see [`parse_schema`] for the model alone).
pub fn read_schema_file(file: &str, source: &str) -> SchemaFile {
    let mut cx = Context::new(source);
    let schema = match ImDocument::parse(source) {
        Ok(document) => collection::read_schema(&mut cx, document.as_table()),
        Err(error) => {
            cx.syntax_error(&error);
            Schema::default()
        }
    };
    let rules = cx.take_rule_sites();
    SchemaFile {
        schema,
        errors: SchemaErrors {
            file: file.to_owned(),
            errors: cx.into_errors(),
        },
        rules,
    }
}

/// Parses and validates a schema file, reporting every problem at once.
///
/// `file` is only used to label the errors. On success every field default has already been
/// checked against its field's type and constraints, and every relation names a collection of the
/// same file.
pub fn parse_schema(file: &str, source: &str) -> Result<Schema, SchemaErrors> {
    let read = read_schema_file(file, source);
    if read.errors.errors.is_empty() {
        Ok(read.schema)
    } else {
        Err(read.errors)
    }
}
