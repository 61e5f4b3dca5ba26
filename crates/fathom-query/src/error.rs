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
        // Count the characters before `at`, rounding an offset inside a multi-byte character
        // down to that character's start.
        let mut end = at.min(source.len());
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        let column = source[..end].chars().count() + 1;
        Self {
            column,
            message: message.into(),
            hint: hint.into(),
        }
    }
}
