//! Compilation of a checked filter to a parameterised sea-query condition, with one LEFT JOIN per
//! relation hop (to-one, so rows are never duplicated). Mirrors `eval.rs`: every comparison is
//! guarded with IS NOT NULL so that it is true or false, never NULL, and negation agrees with the
//! in-memory evaluator.

use fathom_schema::Value;
use sea_query::{Expr, ExprTrait, JoinType, LikeExpr, SelectStatement};

use crate::ast::CmpOp;
use crate::check::{FieldPath, Filter, Node, Term, ValueKind};

/// The table alias of a path's last hop (`base` when it has none).
pub fn alias_of(base: &str, path: &FieldPath) -> String {
    if path.hops.is_empty() {
        base.to_owned()
    } else {
        let names: Vec<&str> = path.hops.iter().map(|h| h.field.as_str()).collect();
        format!("j__{}", names.join("__"))
    }
}

/// A column of `base` or of a joined alias, read as its kind compares (decimals as numbers).
pub fn column(base: &str, path: &FieldPath) -> Expr {
    let col = Expr::col((alias_of(base, path), path.column.clone()));
    if path.kind == ValueKind::Decimal {
        col.cast_as("REAL")
    } else {
        col
    }
}

fn raw_column(base: &str, path: &FieldPath) -> Expr {
    Expr::col((alias_of(base, path), path.column.clone()))
}

/// A domain value as a sea-query value (booleans as booleans, json as its text).
pub fn to_sea(value: &Value) -> sea_query::Value {
    match value {
        Value::Null => sea_query::Value::String(None),
        Value::Bool(b) => sea_query::Value::Bool(Some(*b)),
        Value::Integer(i) => sea_query::Value::BigInt(Some(*i)),
        Value::Number(n) => sea_query::Value::Double(Some(*n)),
        Value::Text(s) => sea_query::Value::String(Some(s.clone())),
        Value::Json(j) => sea_query::Value::String(Some(j.to_string())),
    }
}

impl Filter {
    /// Adds the filter's joins and its WHERE condition to `select`, whose base table is `base`.
    pub fn apply(&self, select: &mut SelectStatement, base: &str) {
        add_joins(select, base, &self.paths());
        select.and_where(self.condition(base));
    }

    /// The WHERE condition alone (the caller adds the joins of [`Filter::paths`]).
    pub fn condition(&self, base: &str) -> Expr {
        compile(&self.root, base)
    }
}

/// LEFT JOINs for every relation hop of `paths`, each once, parents before children.
pub fn add_joins(select: &mut SelectStatement, base: &str, paths: &[FieldPath]) {
    let mut joined: Vec<String> = Vec::new();
    for path in paths {
        for depth in 1..=path.hops.len() {
            let prefix = FieldPath {
                hops: path.hops[..depth].to_vec(),
                column: String::new(),
                kind: ValueKind::Uuid,
            };
            let alias = alias_of(base, &prefix);
            if joined.contains(&alias) {
                continue;
            }
            let parent = FieldPath {
                hops: path.hops[..depth - 1].to_vec(),
                column: String::new(),
                kind: ValueKind::Uuid,
            };
            let hop = &path.hops[depth - 1];
            let mut on = Expr::col((alias.clone(), "id".to_owned()))
                .equals((alias_of(base, &parent), hop.field.clone()));
            if hop.soft_delete {
                on = on.and(Expr::col((alias.clone(), "deleted_at".to_owned())).is_null());
            }
            select.join_as(
                JoinType::LeftJoin,
                hop.collection.clone(),
                alias.clone(),
                on,
            );
            joined.push(alias);
        }
    }
}

fn constant(value: bool) -> Expr {
    Expr::cust(if value { "1 = 1" } else { "1 = 0" })
}

fn compile(node: &Node, base: &str) -> Expr {
    match node {
        Node::Const(b) => constant(*b),
        Node::And(items) => items
            .iter()
            .map(|n| compile(n, base))
            .reduce(|a, b| a.and(b))
            .unwrap_or_else(|| constant(true)),
        Node::Or(items) => items
            .iter()
            .map(|n| compile(n, base))
            .reduce(|a, b| a.or(b))
            .unwrap_or_else(|| constant(false)),
        Node::Not(inner) => compile(inner, base).not(),
        Node::IsNull { path, negated } => {
            let col = raw_column(base, path);
            if *negated {
                col.is_not_null()
            } else {
                col.is_null()
            }
        }
        Node::In { path, values, .. } => {
            let list: Vec<sea_query::Value> = values.iter().map(to_sea).collect();
            raw_column(base, path)
                .is_not_null()
                .and(column(base, path).is_in(list))
        }
        Node::Compare {
            left, op, right, ..
        } => {
            let mut guard: Option<Expr> = None;
            let mut side = |term: &Term| match term {
                Term::Field(path) => {
                    let not_null = raw_column(base, path).is_not_null();
                    guard = Some(match guard.take() {
                        Some(g) => g.and(not_null),
                        None => not_null,
                    });
                    column(base, path)
                }
                Term::Value(v) => Expr::val(to_sea(v)),
            };
            let (l, r) = (side(left), side(right));
            let comparison = match (op, right) {
                (CmpOp::Like, Term::Value(Value::Text(p))) => {
                    l.like(LikeExpr::new(p.clone()).escape('\\'))
                }
                (CmpOp::NotLike, Term::Value(Value::Text(p))) => {
                    l.not_like(LikeExpr::new(p.clone()).escape('\\'))
                }
                (CmpOp::Eq, _) => l.eq(r),
                (CmpOp::Ne, _) => l.ne(r),
                (CmpOp::Lt, _) => l.lt(r),
                (CmpOp::Le, _) => l.lte(r),
                (CmpOp::Gt, _) => l.gt(r),
                (CmpOp::Ge, _) => l.gte(r),
                (CmpOp::Like | CmpOp::NotLike, _) => constant(false),
            };
            match guard {
                Some(g) => g.and(comparison),
                None => comparison,
            }
        }
    }
}
