//! Compilation of a checked filter to a parameterised sea-query condition, with one LEFT JOIN per
//! relation hop (to-one, so rows are never duplicated). Mirrors `eval.rs`: every comparison is
//! guarded with IS NOT NULL so that it is true or false, never NULL, and negation agrees with the
//! in-memory evaluator.
//!
//! The SQL differs between databases in two places only, chosen by [`Dialect`]: decimals are
//! compared as 64-bit floats (`REAL` on SQLite, `DOUBLE PRECISION` on PostgreSQL, whose `REAL` is
//! 32-bit), and `~` is SQLite's LIKE (ASCII case-insensitive) or PostgreSQL's ILIKE (which folds
//! ASCII only under the "C" collation Fathom gives every text column there).

use fathom_schema::Value;
use sea_query::extension::postgres::PgExpr;
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

/// The SQL dialect a filter, sort or cursor condition is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    #[default]
    Sqlite,
    Postgres,
}

/// A column of `base` or of a joined alias, read as its kind compares (decimals as numbers), in
/// SQLite's dialect.
pub fn column(base: &str, path: &FieldPath) -> Expr {
    column_in(Dialect::Sqlite, base, path)
}

/// [`column`] for `dialect`: decimals are cast to a 64-bit float on both databases.
pub fn column_in(dialect: Dialect, base: &str, path: &FieldPath) -> Expr {
    let col = Expr::col((alias_of(base, path), path.column.clone()));
    if path.kind == ValueKind::Decimal {
        col.cast_as(match dialect {
            Dialect::Sqlite => "REAL",
            Dialect::Postgres => "DOUBLE PRECISION",
        })
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
    /// Adds the filter's joins and its WHERE condition to `select`, whose base table is `base`
    /// (SQLite's dialect).
    pub fn apply(&self, select: &mut SelectStatement, base: &str) {
        self.apply_in(Dialect::Sqlite, select, base);
    }

    /// [`Filter::apply`] for `dialect`.
    pub fn apply_in(&self, dialect: Dialect, select: &mut SelectStatement, base: &str) {
        add_joins(select, base, &self.paths());
        select.and_where(self.condition_in(dialect, base));
    }

    /// The WHERE condition alone (the caller adds the joins of [`Filter::paths`]).
    pub fn condition(&self, base: &str) -> Expr {
        self.condition_in(Dialect::Sqlite, base)
    }

    /// [`Filter::condition`] for `dialect`.
    pub fn condition_in(&self, dialect: Dialect, base: &str) -> Expr {
        compile(&self.root, base, dialect)
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

fn compile(node: &Node, base: &str, dialect: Dialect) -> Expr {
    let column = |base: &str, path: &FieldPath| column_in(dialect, base, path);
    match node {
        Node::Const(b) => constant(*b),
        Node::And(items) => items
            .iter()
            .map(|n| compile(n, base, dialect))
            .reduce(|a, b| a.and(b))
            .unwrap_or_else(|| constant(true)),
        Node::Or(items) => items
            .iter()
            .map(|n| compile(n, base, dialect))
            .reduce(|a, b| a.or(b))
            .unwrap_or_else(|| constant(false)),
        Node::Not(inner) => compile(inner, base, dialect).not(),
        Node::IsNull { path, negated } => {
            let col = raw_column(base, path);
            if *negated {
                col.is_not_null()
            } else {
                col.is_null()
            }
        }
        Node::In { path, values, .. } => {
            let values = match dialect {
                // PostgreSQL types the list by the column: floats meet an integer column only
                // where they are integers.
                Dialect::Postgres if path.kind == ValueKind::Integer => {
                    crate::mixed::integral_values(values)
                }
                _ => values.clone(),
            };
            if values.is_empty() {
                return constant(false);
            }
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
            let mixed = match dialect {
                Dialect::Postgres => crate::mixed::compare(left, *op, right, l.clone(), r.clone()),
                Dialect::Sqlite => None,
            };
            let comparison = match (op, right) {
                _ if mixed.is_some() => mixed.unwrap_or_else(|| constant(false)),
                (CmpOp::Like | CmpOp::NotLike, Term::Value(Value::Text(p))) => {
                    // PostgreSQL's escape character is `\` by default (sea-query misplaces an
                    // explicit ESCAPE after ILIKE).
                    let escaped = LikeExpr::new(p.clone()).escape('\\');
                    let plain = LikeExpr::new(p.clone());
                    match (dialect, op) {
                        (Dialect::Sqlite, CmpOp::Like) => l.like(escaped),
                        (Dialect::Sqlite, _) => l.not_like(escaped),
                        (Dialect::Postgres, CmpOp::Like) => l.ilike(plain),
                        (Dialect::Postgres, _) => l.not_ilike(plain),
                    }
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
