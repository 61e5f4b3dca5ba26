//! One expression language for list filters, access rules and realtime subscriptions:
//! `status = "paid" && (total >= 100 || customer.tier in ["gold", "vip"]) && name ~ "lap%"`.
//!
//! Pipeline: [`parse`] text into an [`ast::Expr`] → [`check`] it against the schema (binding
//! `auth.*` and `request.*` from an [`Env`]) into a typed [`Filter`] → either compile it to a
//! parameterised sea-query condition ([`Filter::apply`]) or evaluate it over one record in memory
//! ([`Filter::matches`]). The two must always agree; a differential test holds them to it.
//!
//! Semantics, chosen so that SQL and memory agree under negation: a comparison in which either
//! side is null is false (`!=` included), so `!(a = 1)` matches records where `a` is null while
//! `a != 1` does not; `a = null` and `a != null` are the null checks. `~` is a case-insensitive
//! (ASCII) LIKE whose pattern is wrapped in `%…%` when it has no `%`; `\` escapes the next
//! character, so a pattern may not end with a lone `\`. Integers and floats compare exactly (as
//! SQL compares them), never by rounding the integer. A relation path such as `customer.tier`
//! reads the related record (null when there is none or it is soft-deleted).

pub mod ast;
mod check;
pub mod cursor;
mod error;
mod eval;
mod lexer;
mod mixed;
mod parser;
mod reach;
pub mod shape;
pub mod sort;
pub mod sql;

pub use check::{AuthContext, Env, FieldPath, Filter, Hop, ValueKind, check};
pub use error::QueryError;
pub use parser::parse;
pub use reach::Reach;
pub use shape::{ConditionShape, FilterShape};
pub use sort::{SortKey, apply_sort, apply_sort_in, default_sort, parse_sort, sort_spec};
pub use sql::{Dialect, add_joins, alias_of, column, column_in};

/// The longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// The most nodes (comparisons, operators, operands) an expression may have.
pub const MAX_NODES: usize = 200;
/// The deepest nesting of parentheses and `!` accepted.
pub const MAX_DEPTH: usize = 32;
