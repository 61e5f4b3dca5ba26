//! Exact comparison of integers with floats on PostgreSQL.
//!
//! SQLite compares an INTEGER with a REAL exactly, and so does the in-memory evaluator. PostgreSQL
//! either refuses (a float bound where the column makes the parameter `bigint`) or converts the
//! integer to `double precision`, which rounds above 2^53. So on PostgreSQL a comparison of an
//! integer with a float is rewritten: against a float value, into an integer comparison with
//! the value's floor or ceiling (or a constant when no integer qualifies); against a float
//! column, into a CASE that compares as floats where they differ and as integers where they
//! are equal (and so the float is integral). The CASE never casts a constant that could
//! overflow, so planning-time constant folding cannot raise an error.

use fathom_schema::Value;
use sea_query::{CaseStatement, Expr, ExprTrait};

use crate::ast::CmpOp;
use crate::check::{Term, ValueKind};

/// 2^63: the first float above every `bigint`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Integer,
    Float,
}

fn class(term: &Term) -> Option<Class> {
    match term {
        Term::Field(path) => match path.kind {
            ValueKind::Integer => Some(Class::Integer),
            ValueKind::Number | ValueKind::Decimal => Some(Class::Float),
            _ => None,
        },
        Term::Value(Value::Integer(_)) => Some(Class::Integer),
        Term::Value(Value::Number(_)) => Some(Class::Float),
        Term::Value(_) => None,
    }
}

/// The operator with its operands swapped: `a op b` is `b mirror(op) a`.
fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

fn constant(value: bool) -> Expr {
    Expr::cust(if value { "1 = 1" } else { "1 = 0" })
}

fn apply(op: CmpOp, left: Expr, right: Expr) -> Expr {
    match op {
        CmpOp::Eq => left.eq(right),
        CmpOp::Ne => left.ne(right),
        CmpOp::Lt => left.lt(right),
        CmpOp::Le => left.lte(right),
        CmpOp::Gt => left.gt(right),
        CmpOp::Ge => left.gte(right),
        CmpOp::Like | CmpOp::NotLike => constant(false),
    }
}

/// The truth of `i op f` for every integer `i` below `f` (`f` above every bigint).
fn when_below(op: CmpOp) -> bool {
    matches!(op, CmpOp::Ne | CmpOp::Lt | CmpOp::Le)
}

/// The integer comparison equivalent to `integer op value`, or a constant.
fn against_value(op: CmpOp, integer: Expr, value: f64) -> Expr {
    let in_range = |x: f64| (-TWO_POW_63..TWO_POW_63).contains(&x);
    let (floor, ceil) = (value.floor(), value.ceil());
    // Each arm: the bound that decides, and the answers when it lies above or below every
    // bigint. `as i64` is exact here: the bound is integral and in range.
    let (bound, strict_op, above, below) = match op {
        CmpOp::Eq | CmpOp::Ne => {
            if floor == value && in_range(value) {
                return apply(op, integer, Expr::val(value as i64));
            }
            return constant(op == CmpOp::Ne);
        }
        CmpOp::Gt => (floor, CmpOp::Gt, false, true),
        CmpOp::Ge => (ceil, CmpOp::Ge, false, true),
        CmpOp::Lt => (ceil, CmpOp::Lt, true, false),
        CmpOp::Le => (floor, CmpOp::Le, true, false),
        CmpOp::Like | CmpOp::NotLike => return constant(false),
    };
    if bound >= TWO_POW_63 {
        constant(above)
    } else if bound < -TWO_POW_63 {
        constant(below)
    } else {
        apply(strict_op, integer, Expr::val(bound as i64))
    }
}

/// `integer op float` for two columns, exactly.
fn against_column(op: CmpOp, integer: Expr, float: Expr) -> Expr {
    let widened = integer.clone().cast_as("DOUBLE PRECISION");
    let case = CaseStatement::new()
        .case(
            widened.clone().ne(float.clone()),
            apply(op, widened, float.clone()),
        )
        .case(
            float.clone().gte(Expr::val(TWO_POW_63)),
            constant(when_below(op)),
        )
        .finally(apply(op, integer, float.cast_as("BIGINT")));
    case.into()
}

/// The exact PostgreSQL form of `left op right` when one side is an integer and the other a
/// float; `None` for every other comparison. `l` and `r` are the sides as compiled.
pub(crate) fn compare(left: &Term, op: CmpOp, right: &Term, l: Expr, r: Expr) -> Option<Expr> {
    let (integer, float, op, float_term) = match (class(left)?, class(right)?) {
        (Class::Integer, Class::Float) => (l, r, op, right),
        (Class::Float, Class::Integer) => (r, l, mirror(op), left),
        _ => return None,
    };
    Some(match float_term {
        Term::Value(Value::Number(value)) => against_value(op, integer, *value),
        _ => against_column(op, integer, float),
    })
}

/// The values of an `in` list that an integer can equal: integers, and floats that are integral
/// and within bigint's range (as integers).
pub(crate) fn integral_values(values: &[Value]) -> Vec<Value> {
    values
        .iter()
        .filter_map(|v| match v {
            Value::Number(x) if x.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(x) => {
                Some(Value::Integer(*x as i64))
            }
            Value::Number(_) => None,
            other => Some(other.clone()),
        })
        .collect()
}
