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
    alias(base, path, false)
}

/// [`alias_of`] in the namespace of confined paths (`c__…`) or of all others (`j__…`): a
/// caller's `customer.name` and a rule's `customer.account` join the same table twice, once
/// restricted to what the caller may see and once not.
fn alias(base: &str, path: &FieldPath, confined: bool) -> String {
    if path.hops.is_empty() {
        base.to_owned()
    } else {
        let names: Vec<&str> = path.hops.iter().map(|h| h.field.as_str()).collect();
        let namespace = if confined { "c" } else { "j" };
        format!("{namespace}__{}", names.join("__"))
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
    Site::new(dialect, base).column(path)
}

/// Where a condition is compiled: the dialect, the base table, and whether its paths are
/// confined (read through the joins restricted to what the caller may see).
#[derive(Clone, Copy)]
struct Site<'a> {
    dialect: Dialect,
    base: &'a str,
    confined: bool,
}

impl<'a> Site<'a> {
    fn new(dialect: Dialect, base: &'a str) -> Self {
        Self {
            dialect,
            base,
            confined: false,
        }
    }

    fn raw_column(self, path: &FieldPath) -> Expr {
        let alias = alias(self.base, path, self.confined);
        if is_profile_field(path) {
            return profile_field(self.dialect, alias, path);
        }
        Expr::col((alias, path.column.clone()))
    }

    fn column(self, path: &FieldPath) -> Expr {
        let col = self.raw_column(path);
        if path.kind == ValueKind::Decimal {
            col.cast_as(match self.dialect {
                Dialect::Sqlite => "REAL",
                Dialect::Postgres => "DOUBLE PRECISION",
            })
        } else {
            col
        }
    }
}

/// The table a relation hop into `collection` joins: the accounts' own for `users`.
fn table_of(collection: &str) -> &str {
    if collection == fathom_schema::ACCOUNTS {
        fathom_schema::ACCOUNTS_TABLE
    } else {
        collection
    }
}

/// Whether `path` reads a profile field of an account (every account column but these lives in
/// the account's JSON `profile`).
fn is_profile_field(path: &FieldPath) -> bool {
    path.hops
        .last()
        .is_some_and(|hop| hop.collection == fathom_schema::ACCOUNTS)
        && !matches!(path.column.as_str(), "id" | "version" | "email")
}

/// A profile field read out of the account's JSON `profile`, as the type it compares as:
/// SQLite's `json_extract` gives JSON numbers and booleans as numbers already; PostgreSQL's
/// `->>` gives text, cast to the field's type.
fn profile_field(dialect: Dialect, alias: String, path: &FieldPath) -> Expr {
    let profile = Expr::col((alias, "profile".to_owned()));
    match dialect {
        Dialect::Sqlite => sea_query::Func::cust("json_extract")
            .arg(profile)
            .arg(format!("$.\"{}\"", path.column))
            .into(),
        Dialect::Postgres => {
            let text = profile
                .cast_as("jsonb")
                .cast_json_field(path.column.clone());
            match path.kind {
                ValueKind::Integer => text.cast_as("BIGINT"),
                ValueKind::Number => text.cast_as("DOUBLE PRECISION"),
                ValueKind::Bool => text.cast_as("BOOLEAN"),
                _ => text,
            }
        }
    }
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
        join_hops(select, dialect, base, &self.tagged_paths(), &self.reach);
        select.and_where(self.condition_in(dialect, base));
    }

    /// The WHERE condition alone (the caller adds the joins of [`Filter::paths`]).
    pub fn condition(&self, base: &str) -> Expr {
        self.condition_in(Dialect::Sqlite, base)
    }

    /// [`Filter::condition`] for `dialect`.
    pub fn condition_in(&self, dialect: Dialect, base: &str) -> Expr {
        compile(&self.root, Site::new(dialect, base))
    }
}

/// LEFT JOINs for every relation hop of `paths`, each once, parents before children.
pub fn add_joins(select: &mut SelectStatement, base: &str, paths: &[FieldPath]) {
    let tagged: Vec<(bool, FieldPath)> = paths.iter().map(|p| (false, p.clone())).collect();
    join_hops(select, Dialect::Sqlite, base, &tagged, &[]);
}

/// LEFT JOINs for every relation hop of `paths`, each once per namespace, parents before
/// children. A confined hop's ON clause also holds what `reach` lets the caller see of its
/// target, so the rows outside it read as null.
fn join_hops(
    select: &mut SelectStatement,
    dialect: Dialect,
    base: &str,
    paths: &[(bool, FieldPath)],
    reach: &[(String, crate::reach::Reach)],
) {
    let mut joined: Vec<String> = Vec::new();
    for (confined, path) in paths {
        for depth in 1..=path.hops.len() {
            let prefix = FieldPath {
                hops: path.hops[..depth].to_vec(),
                column: String::new(),
                kind: ValueKind::Uuid,
            };
            let alias = alias(base, &prefix, *confined);
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
                .equals((self::alias(base, &parent, *confined), hop.field.clone()));
            if hop.soft_delete {
                on = on.and(Expr::col((alias.clone(), "deleted_at".to_owned())).is_null());
            }
            if *confined {
                on = on.and(crate::reach::condition(
                    reach,
                    dialect,
                    &alias,
                    &hop.collection,
                ));
            }
            select.join_as(
                JoinType::LeftJoin,
                table_of(&hop.collection).to_owned(),
                alias.clone(),
                on,
            );
            joined.push(alias);
        }
    }
}

pub(crate) fn constant(value: bool) -> Expr {
    Expr::cust(if value { "1 = 1" } else { "1 = 0" })
}

fn compile(node: &Node, site: Site) -> Expr {
    let dialect = site.dialect;
    match node {
        Node::Const(b) => constant(*b),
        Node::And(items) => items
            .iter()
            .map(|n| compile(n, site))
            .reduce(|a, b| a.and(b))
            .unwrap_or_else(|| constant(true)),
        Node::Or(items) => items
            .iter()
            .map(|n| compile(n, site))
            .reduce(|a, b| a.or(b))
            .unwrap_or_else(|| constant(false)),
        Node::Not(inner) => compile(inner, site).not(),
        Node::Confined(inner) => compile(
            inner,
            Site {
                confined: true,
                ..site
            },
        ),
        Node::IsNull { path, negated } => {
            let col = site.raw_column(path);
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
            site.raw_column(path)
                .is_not_null()
                .and(site.column(path).is_in(list))
        }
        Node::Blind {
            path,
            values,
            digests,
            negated,
            ..
        } => {
            // Unblinded digests (never filled in by the store) match nothing rather than
            // comparing plaintext with HMACs.
            if digests.len() != values.len() || digests.is_empty() {
                return constant(false);
            }
            let column = Expr::col((
                alias(site.base, path, site.confined),
                fathom_schema::model::blind_column(&path.column),
            ));
            let list: Vec<sea_query::Value> = digests.iter().map(to_sea).collect();
            let test = if *negated {
                column.clone().is_not_in(list)
            } else {
                column.clone().is_in(list)
            };
            column.is_not_null().and(test)
        }
        Node::Compare {
            left, op, right, ..
        } => {
            let mut guard: Option<Expr> = None;
            let mut side = |term: &Term| match term {
                Term::Field(path) => {
                    let not_null = site.raw_column(path).is_not_null();
                    guard = Some(match guard.take() {
                        Some(g) => g.and(not_null),
                        None => not_null,
                    });
                    site.column(path)
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
