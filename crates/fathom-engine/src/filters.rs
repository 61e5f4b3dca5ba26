//! Filters the engine builds itself (not parsed from a caller): `column in [values]`, for a
//! record by id under a rule, a page's expansions, and the referrers of a record.

use std::collections::BTreeSet;

use fathom_query::ast::{Expr, Literal, Operand, Path};
use fathom_query::{Env, Filter, check};
use fathom_schema::{Collection, Schema};

use crate::error::EngineError;

/// The filter `column in [values]` on `collection`.
pub fn column_in(
    schema: &Schema,
    collection: &Collection,
    column: &str,
    values: &BTreeSet<String>,
) -> Result<Filter, EngineError> {
    let list = values.iter().map(|v| Literal::Str(v.clone())).collect();
    let expr = Expr::In {
        left: Operand::Path(Path {
            segments: vec![column.to_owned()],
            at: 0,
        }),
        right: Operand::Literal(Literal::Array(list), 0),
        at: 0,
    };
    check(&expr, "", schema, collection, &Env::default())
        .map_err(|e| EngineError::internal(format!("building an expansion filter: {e}")))
}
