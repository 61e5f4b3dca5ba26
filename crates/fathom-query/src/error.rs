//! Errors of the expression language: where (a character position) and what, with a hint.

/// A problem in an expression, located by its 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {column}: {message}")]
pub struct QueryError {
    /// 1-based character position in the expression.
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl QueryError {
    /// An error at byte offset `at` of `source`.
    pub(crate) fn at(
        source: &str,
        at: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        let column = source
            .get(..at.min(source.len()))
            .map_or(1, |prefix| prefix.chars().count() + 1);
        Self {
            column,
            message: message.into(),
            hint: hint.into(),
        }
    }
}
