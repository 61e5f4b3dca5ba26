//! In-memory evaluation of a checked filter over one record. Mirrors `sql.rs` exactly: a
//! comparison with a null side is false; text compares by bytes (SQLite's BINARY collation);
//! numbers compare numerically (decimals as floating point, like SQL's `CAST(... AS REAL)`);
//! `~` is LIKE with `%`, `_`, `\` escapes and ASCII-only case folding (SQLite's default LIKE).

use std::cmp::Ordering;

use fathom_schema::Value;

use crate::ast::CmpOp;
use crate::check::{FieldPath, Filter, Node, Term, ValueKind};

impl Filter {
    /// Whether a record matches. `lookup` returns the value at a path (following relation hops;
    /// `Value::Null` when a related record is missing or soft-deleted).
    pub fn matches(&self, lookup: &dyn Fn(&FieldPath) -> Value) -> bool {
        eval(&self.root, lookup)
    }
}

fn eval(node: &Node, lookup: &dyn Fn(&FieldPath) -> Value) -> bool {
    match node {
        Node::And(items) => items.iter().all(|n| eval(n, lookup)),
        Node::Or(items) => items.iter().any(|n| eval(n, lookup)),
        Node::Not(inner) => !eval(inner, lookup),
        // The lookup decides what a hop reaches in memory.
        Node::Confined(inner) => eval(inner, lookup),
        Node::Const(b) => *b,
        Node::IsNull { path, negated } => (read(path, lookup) == Value::Null) != *negated,
        Node::In { path, values, .. } => {
            let value = read(path, lookup);
            value != Value::Null && values.iter().any(|v| compare_values(&value, CmpOp::Eq, v))
        }
        Node::Blind {
            path,
            values,
            negated,
            ..
        } => {
            let value = read(path, lookup);
            value != Value::Null
                && values.iter().any(|v| compare_values(&value, CmpOp::Eq, v)) != *negated
        }
        Node::Compare {
            left, op, right, ..
        } => {
            let term = |t: &Term| match t {
                Term::Field(path) => read(path, lookup),
                Term::Value(v) => v.clone(),
            };
            compare_values(&term(left), *op, &term(right))
        }
    }
}

/// Reads a path, turning stored decimals (exact text) into numbers as SQL's CAST does.
fn read(path: &FieldPath, lookup: &dyn Fn(&FieldPath) -> Value) -> Value {
    match (path.kind, lookup(path)) {
        (ValueKind::Decimal, Value::Text(t)) => t.parse::<f64>().map_or(Value::Null, Value::Number),
        (_, value) => value,
    }
}

/// Compares two canonical values; false whenever either is null or they are not comparable.
pub(crate) fn compare_values(a: &Value, op: CmpOp, b: &Value) -> bool {
    if matches!(op, CmpOp::Like | CmpOp::NotLike) {
        return match (a, b) {
            (Value::Text(text), Value::Text(pattern)) => like(text, pattern) == (op == CmpOp::Like),
            _ => false,
        };
    }
    let ordering = match (a, b) {
        (Value::Null, _) | (_, Value::Null) => return false,
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        // An integer and a float compare exactly, as SQL compares them: rounding the integer to
        // a float would make 2^53 + 1 equal 2^53.
        (Value::Integer(x), Value::Number(y)) => match integer_float_cmp(*x, *y) {
            Some(ordering) => ordering,
            None => return false,
        },
        (Value::Number(x), Value::Integer(y)) => match integer_float_cmp(*y, *x) {
            Some(ordering) => ordering.reverse(),
            None => return false,
        },
        (x, y) => match (number(x), number(y)) {
            (Some(x), Some(y)) => match x.partial_cmp(&y) {
                Some(ordering) => ordering,
                None => return false,
            },
            _ => return false,
        },
    };
    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
        CmpOp::Like | CmpOp::NotLike => false,
    }
}

/// The exact order of an integer and a float (`None` for NaN), without rounding either.
fn integer_float_cmp(i: i64, f: f64) -> Option<Ordering> {
    // 2^63, exactly representable: every i64 is below it and at or above its negation.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return None;
    }
    if f >= TWO_POW_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_POW_63 {
        return Some(Ordering::Greater);
    }
    // Within range, the integral part converts exactly and the fraction is exact too.
    let whole = f.trunc();
    let fraction = f - whole;
    Some(
        i.cmp(&(whole as i64))
            .then_with(|| 0.0_f64.partial_cmp(&fraction).unwrap_or(Ordering::Equal)),
    )
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// SQL LIKE with `\` as the escape character and ASCII case folding.
pub(crate) fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let mut tokens: Vec<Option<char>> = Vec::new(); // None = `%`, Some('\0')-free: `_` is marked separately
    let mut single: Vec<bool> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                tokens.push(None);
                single.push(false);
            }
            '_' => {
                tokens.push(Some('_'));
                single.push(true);
            }
            '\\' => match chars.next() {
                Some(escaped) => {
                    tokens.push(Some(escaped));
                    single.push(false);
                }
                // A pattern ending with a lone escape matches nothing, as in SQLite (the type
                // check refuses such patterns; this keeps the two sides equal regardless).
                None => return false,
            },
            c => {
                tokens.push(Some(c));
                single.push(false);
            }
        }
    }
    // Classic two-row dynamic programming over (pattern position, text position).
    let (n, m) = (tokens.len(), text.len());
    let mut row = vec![false; m + 1];
    row[0] = true;
    for p in 0..n {
        let mut next = vec![false; m + 1];
        match tokens[p] {
            None => {
                let mut reachable = false;
                for t in 0..=m {
                    reachable |= row[t];
                    next[t] = reachable;
                }
            }
            Some(expected) => {
                for t in 0..m {
                    if row[t] && (single[p] || expected.eq_ignore_ascii_case(&text[t])) {
                        next[t + 1] = true;
                    }
                }
            }
        }
        row = next;
    }
    row[m]
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_follows_sql_rules() {
        assert!(like("Laptop", "lap%"));
        assert!(like("laptop", "%TOP"));
        assert!(like("a_c", "a\\_c"));
        assert!(!like("abc", "a\\_c"));
        assert!(like("abc", "a_c"));
        assert!(like("50%", "50\\%"));
        assert!(!like("500", "50\\%"));
        assert!(like("", "%"));
        assert!(
            !like("a\\", "a\\"),
            "a lone escape at the end matches nothing"
        );
        assert!(like("a\\", "a\\\\"));
        assert!(!like("", "_"));
        assert!(
            !like("ÄB", "äb"),
            "non-ASCII letters do not fold, as in SQLite"
        );
    }

    #[test]
    fn integers_and_floats_compare_exactly() {
        use super::integer_float_cmp;
        use std::cmp::Ordering::*;
        assert_eq!(
            integer_float_cmp(9_007_199_254_740_993, 9_007_199_254_740_992.0),
            Some(Greater)
        );
        assert_eq!(
            integer_float_cmp(9_007_199_254_740_992, 9_007_199_254_740_992.0),
            Some(Equal)
        );
        assert_eq!(integer_float_cmp(1, 1.5), Some(Less));
        assert_eq!(integer_float_cmp(2, 1.5), Some(Greater));
        assert_eq!(integer_float_cmp(-1, -1.5), Some(Greater));
        assert_eq!(integer_float_cmp(-2, -1.5), Some(Less));
        assert_eq!(integer_float_cmp(0, -0.0), Some(Equal));
        assert_eq!(
            integer_float_cmp(i64::MAX, 9.223_372_036_854_776e18),
            Some(Less)
        );
        assert_eq!(
            integer_float_cmp(i64::MIN, -9.223_372_036_854_776e18),
            Some(Equal)
        );
        assert_eq!(integer_float_cmp(i64::MIN, -1e300), Some(Greater));
        assert_eq!(integer_float_cmp(0, f64::NAN), None);
    }
}
