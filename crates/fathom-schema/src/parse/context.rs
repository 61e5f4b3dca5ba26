//! The state of one parse: the source (to turn byte spans into lines and columns and to quote
//! offending values) and the errors found so far.

use std::ops::Range;

use toml_edit::{Item, Key, TableLike, TomlError, Value};

use super::{RuleSite, SchemaError};

/// Longest quotation of an offending value, in characters, before it is cut with an ellipsis.
const MAX_QUOTE_CHARS: usize = 40;

pub(super) struct Context<'s> {
    source: &'s str,
    /// Byte offset at which each line starts; the first is always 0.
    line_starts: Vec<usize>,
    errors: Vec<SchemaError>,
    /// Where each rule expression stands, for the rule checker above this crate.
    rule_sites: Vec<RuleSite>,
}

impl<'s> Context<'s> {
    pub(super) fn new(source: &'s str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(at, _)| at + 1));
        Self {
            source,
            line_starts,
            errors: Vec::new(),
            rule_sites: Vec::new(),
        }
    }

    /// Notes where the expression of a rule stands. Columns of the expression map onto the
    /// file's only when the string is written as it reads (quoted on one line, no escapes).
    pub(super) fn note_rule(
        &mut self,
        collection: &str,
        operation: &'static str,
        path: &str,
        text: &str,
        span: Option<Range<usize>>,
    ) {
        let raw = span
            .clone()
            .and_then(|s| self.source.get(s))
            .unwrap_or_default();
        let verbatim = ["\"", "'"].iter().any(|q| {
            raw.len() >= 2
                && !raw.starts_with(&q.repeat(3))
                && raw.starts_with(q)
                && raw.ends_with(q)
                && raw[1..raw.len() - 1] == *text
        });
        let start = span.map_or(0, |s| s.start);
        let (line, column) = self.position(if verbatim { start + 1 } else { start });
        self.rule_sites.push(RuleSite {
            collection: collection.to_owned(),
            operation,
            path: path.to_owned(),
            line,
            column,
            verbatim,
        });
    }

    pub(super) fn take_rule_sites(&mut self) -> Vec<RuleSite> {
        std::mem::take(&mut self.rule_sites)
    }

    /// The errors in source order (problems found at the same place keep the order found).
    pub(super) fn into_errors(mut self) -> Vec<SchemaError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors
    }

    pub(super) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Records one problem at the start of `span` (the top of the file when there is none).
    pub(super) fn report(
        &mut self,
        span: Option<Range<usize>>,
        path: &str,
        message: String,
        hint: String,
    ) {
        let (line, column) = self.position(span.map_or(0, |s| s.start));
        self.errors.push(SchemaError {
            line,
            column,
            path: path.to_owned(),
            message: one_line(message),
            hint: one_line(hint),
        });
    }

    pub(super) fn syntax_error(&mut self, error: &TomlError) {
        // `toml_edit` messages are lowercase fragments, sometimes over several lines.
        let detail = error
            .message()
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let message = if detail.is_empty() {
            String::from("The file is not valid TOML at this point.")
        } else {
            format!(
                "The file is not valid TOML: {}.",
                detail.trim_end_matches('.')
            )
        };
        self.report(
            error.span(),
            "",
            message,
            String::from(
                "Check the TOML syntax here: keys are written `key = value`, strings are quoted, \
                 inline tables `{ ... }` stay on one line, and no key is set twice.",
            ),
        );
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = self
            .source
            .get(start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line.max(1), column)
    }

    /// The source text of a span on one line, shortened when long, for quoting in messages.
    pub(super) fn quote(&self, span: Option<Range<usize>>) -> String {
        let text = span.and_then(|s| self.source.get(s)).unwrap_or_default();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.chars().count() > MAX_QUOTE_CHARS {
            let cut: String = text.chars().take(MAX_QUOTE_CHARS - 1).collect();
            format!("{cut}…")
        } else {
            text
        }
    }

    /// What an item is, with its text when it is a plain value: "a string (`\"yes\"`)".
    pub(super) fn found(&self, item: &Item) -> String {
        match item {
            Item::Value(value) => format!("{} (`{}`)", describe(item), self.quote(value.span())),
            _ => describe(item).to_owned(),
        }
    }
}

/// A kind of TOML item with its article, for sentences.
pub(super) fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(Value::String(_)) => "a string",
        Item::Value(Value::Integer(_)) => "an integer",
        Item::Value(Value::Float(_)) => "a float",
        Item::Value(Value::Boolean(_)) => "a boolean",
        Item::Value(Value::Datetime(_)) => "a date-time",
        Item::Value(Value::Array(_)) => "an array",
        Item::Value(Value::InlineTable(_)) => "an inline table",
    }
}

/// One key of a table with its value and where to point at each.
#[derive(Clone, Copy)]
pub(super) struct Entry<'t> {
    pub(super) key: &'t Key,
    pub(super) item: &'t Item,
}

impl<'t> Entry<'t> {
    pub(super) fn get(table: &'t dyn TableLike, name: &str) -> Option<Self> {
        table
            .get_key_value(name)
            .map(|(key, item)| Self { key, item })
    }

    /// Every entry of a table, in declaration order.
    pub(super) fn all(table: &'t dyn TableLike) -> Vec<Self> {
        table
            .iter()
            .filter_map(|(name, _)| Self::get(table, name))
            .collect()
    }

    pub(super) fn name(&self) -> &'t str {
        self.key.get()
    }

    pub(super) fn key_span(&self) -> Option<Range<usize>> {
        self.key.span()
    }

    /// The value's span, or the key's when the value has none (implicit and dotted tables).
    pub(super) fn value_span(&self) -> Option<Range<usize>> {
        self.item.span().or_else(|| self.key.span())
    }
}

/// Messages quote the user's values, which may hold line breaks or other control characters
/// (`"e\\num"` is a valid TOML string): they are shown escaped, so that every problem stays on
/// its own line.
pub(super) fn one_line(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
