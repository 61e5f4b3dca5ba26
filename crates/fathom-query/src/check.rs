//! Type checking: resolves every path against the schema, turns every literal into the canonical
//! value of the field it is compared with, binds `auth.*` and `request.*` from the [`Env`], and
//! folds comparisons that no longer depend on a record into constants.

use fathom_schema::{Collection, Field, FieldType, Schema, Value};

use crate::ast::{CmpOp, Expr, Literal, Operand, Path};
use crate::error::QueryError;

/// How values of a path compare (and how SQL must read the column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Integer,
    Number,
    /// Stored as exact text; compared as a number.
    Decimal,
    Bool,
    Timestamp,
    Date,
    Uuid,
    Json,
}

impl ValueKind {
    /// The kind a schema field type compares as.
    pub(crate) fn of(kind: &FieldType) -> Self {
        match kind {
            FieldType::Text | FieldType::Email | FieldType::Url | FieldType::Enum { .. } => {
                Self::Text
            }
            FieldType::Integer => Self::Integer,
            FieldType::Number => Self::Number,
            FieldType::Decimal => Self::Decimal,
            FieldType::Boolean => Self::Bool,
            FieldType::Timestamp => Self::Timestamp,
            FieldType::Date => Self::Date,
            FieldType::Uuid | FieldType::Relation { .. } => Self::Uuid,
            FieldType::Json => Self::Json,
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Number | Self::Decimal)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "an integer",
            Self::Number => "a number",
            Self::Decimal => "a decimal",
            Self::Bool => "a boolean",
            Self::Timestamp => "a timestamp",
            Self::Date => "a date",
            Self::Uuid => "a uuid",
            Self::Json => "json",
        }
    }
}

/// One relation hop of a path: the relation field and the collection it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub field: String,
    pub collection: String,
    pub soft_delete: bool,
}

/// A resolved path: zero to two relation hops, then a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    pub hops: Vec<Hop>,
    pub column: String,
    pub kind: ValueKind,
}

impl FieldPath {
    /// The dotted form, as written in expressions (`customer.tier`).
    pub fn dotted(&self) -> String {
        let mut parts: Vec<&str> = self.hops.iter().map(|h| h.field.as_str()).collect();
        parts.push(&self.column);
        parts.join(".")
    }
}

/// What the caller is: bound into `auth.*` and `request.*` when an expression is checked.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `None` for an anonymous caller: every `auth.*` value is null.
    pub auth: Option<AuthContext>,
    pub request_method: Option<String>,
    pub request_body: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The authenticated caller.
#[derive(Debug, Clone, Default)]
pub struct AuthContext {
    pub id: String,
    pub roles: Vec<String>,
    pub tenant: Option<String>,
    pub verified: bool,
}

/// A side of a typed comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Term {
    Field(FieldPath),
    /// A canonical value; `Value::Null` only for a bound value that is missing.
    Value(Value),
}

/// The typed tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Const(bool),
    /// `left op right`, at least one side a field; false when either side is null.
    Compare {
        left: Term,
        op: CmpOp,
        right: Term,
    },
    IsNull {
        path: FieldPath,
        negated: bool,
    },
    In {
        path: FieldPath,
        values: Vec<Value>,
    },
    /// `path in values` (or, `negated`, `path not in values`) on an encrypted field with a
    /// blind index: evaluated in memory on the plaintext `values`, compiled to SQL on the
    /// field's HMAC column against `digests`, which the store fills in ([`Filter::blind`])
    /// before it compiles the filter. False when the field is null, either way.
    Blind {
        path: FieldPath,
        /// The collection holding the field (the path's last hop, or the filtered one).
        collection: String,
        values: Vec<Value>,
        digests: Vec<Value>,
        negated: bool,
    },
    /// A caller's expression whose relation hops reach only what [`Filter::confine`] allowed:
    /// its paths read through joins of their own, restricted by the filter's `reach`.
    Confined(Box<Node>),
}

/// A checked expression, ready to compile to SQL or to evaluate in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub(crate) root: Node,
    /// What the hops of the confined part may reach, by target collection (see `reach.rs`).
    pub(crate) reach: Vec<(String, crate::reach::Reach)>,
}

impl Filter {
    pub(crate) fn new(root: Node) -> Self {
        Self {
            root,
            reach: Vec::new(),
        }
    }

    /// A filter that matches everything.
    pub fn always() -> Self {
        Self::new(Node::Const(true))
    }

    /// Both filters must match.
    pub fn and(self, other: Filter) -> Self {
        let mut reach = self.reach;
        reach.extend(other.reach);
        Self {
            root: Node::And(vec![self.root, other.root]),
            reach,
        }
    }

    /// Every path the filter reads (the evaluator's caller resolves them).
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out: Vec<FieldPath> = Vec::new();
        for (_, path) in self.tagged_paths() {
            if !out.contains(&path) {
                out.push(path);
            }
        }
        out
    }

    /// Every path the filter reads, each once per flag: whether it lies in a confined part.
    pub(crate) fn tagged_paths(&self) -> Vec<(bool, FieldPath)> {
        fn walk(node: &Node, confined: bool, out: &mut Vec<(bool, FieldPath)>) {
            let mut push = |p: &FieldPath| {
                let tagged = (confined, p.clone());
                if !out.contains(&tagged) {
                    out.push(tagged);
                }
            };
            match node {
                Node::And(items) | Node::Or(items) => {
                    items.iter().for_each(|n| walk(n, confined, out));
                }
                Node::Not(inner) => walk(inner, confined, out),
                Node::Confined(inner) => walk(inner, true, out),
                Node::Const(_) => {}
                Node::Compare { left, right, .. } => {
                    for term in [left, right] {
                        if let Term::Field(p) = term {
                            push(p);
                        }
                    }
                }
                Node::IsNull { path, .. } | Node::In { path, .. } | Node::Blind { path, .. } => {
                    push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, false, &mut out);
        out
    }
}

impl Filter {
    /// Fills in the blind-index digests of every comparison on an encrypted field, with
    /// `digest(collection, field, value)`. The store calls it before compiling the filter to
    /// SQL; a filter that was never blinded matches nothing there.
    pub fn blind<E>(
        &mut self,
        digest: &dyn Fn(&str, &str, &str) -> Result<String, E>,
    ) -> Result<(), E> {
        fn walk<E>(
            node: &mut Node,
            digest: &dyn Fn(&str, &str, &str) -> Result<String, E>,
        ) -> Result<(), E> {
            match node {
                Node::And(items) | Node::Or(items) => {
                    items.iter_mut().try_for_each(|n| walk(n, digest))
                }
                Node::Not(inner) | Node::Confined(inner) => walk(inner, digest),
                Node::Blind {
                    path,
                    collection,
                    values,
                    digests,
                    ..
                } => {
                    *digests = values
                        .iter()
                        .map(|v| match v {
                            Value::Text(text) => {
                                digest(collection, &path.column, text).map(Value::Text)
                            }
                            _ => Ok(Value::Null),
                        })
                        .collect::<Result<_, E>>()?;
                    Ok(())
                }
                Node::Const(_) | Node::Compare { .. } | Node::IsNull { .. } | Node::In { .. } => {
                    Ok(())
                }
            }
        }
        walk(&mut self.root, digest)
    }

    /// Whether the filter compares an encrypted field (so it must be blinded before SQL).
    pub fn needs_blinding(&self) -> bool {
        fn walk(node: &Node) -> bool {
            match node {
                Node::And(items) | Node::Or(items) => items.iter().any(walk),
                Node::Not(inner) | Node::Confined(inner) => walk(inner),
                Node::Blind { .. } => true,
                _ => false,
            }
        }
        walk(&self.root)
    }
}

/// Checks `expr` (parsed from `source`) against `collection` of `schema`, binding `env`.
pub fn check(
    expr: &Expr,
    source: &str,
    schema: &Schema,
    collection: &Collection,
    env: &Env,
) -> Result<Filter, QueryError> {
    let checker = Checker {
        source,
        schema,
        collection,
        env,
        accounts: std::cell::OnceCell::new(),
    };
    Ok(Filter::new(checker.node(expr)?))
}

struct Checker<'a> {
    source: &'a str,
    schema: &'a Schema,
    collection: &'a Collection,
    env: &'a Env,
    /// Accounts as a relation target (`Schema::accounts_view`), made when a path first
    /// follows a relation to `users`.
    accounts: std::cell::OnceCell<Collection>,
}

/// What an operand resolves to before pairing with the other side.
enum Resolved {
    Field(FieldPath),
    /// A value bound from the environment, with the kind it has.
    Bound(Value, ValueKind),
    /// `auth.roles`: a list of texts, usable on the right of `in`.
    List(Vec<Value>),
    Literal(Literal, usize),
}

impl Checker<'_> {
    fn error(&self, at: usize, message: impl Into<String>, hint: impl Into<String>) -> QueryError {
        QueryError::at(self.source, at, message, hint)
    }

    fn node(&self, expr: &Expr) -> Result<Node, QueryError> {
        Ok(match expr {
            Expr::And(items) => Node::And(
                items
                    .iter()
                    .map(|e| self.node(e))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(items) => Node::Or(
                items
                    .iter()
                    .map(|e| self.node(e))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => match self.node(inner)? {
                Node::Const(b) => Node::Const(!b),
                node => Node::Not(Box::new(node)),
            },
            Expr::Compare {
                left,
                op,
                right,
                at,
            } => self.compare(left, *op, right, *at)?,
            Expr::In { left, right, at } => self.membership(left, right, *at)?,
        })
    }

    fn compare(
        &self,
        left: &Operand,
        op: CmpOp,
        right: &Operand,
        at: usize,
    ) -> Result<Node, QueryError> {
        let (l, r) = (self.resolve(left)?, self.resolve(right)?);
        // Null checks: `x = null`, `x != null`.
        let null_literal = |r: &Resolved| matches!(r, Resolved::Literal(Literal::Null, _));
        if null_literal(&l) || null_literal(&r) {
            let other = if null_literal(&l) { &r } else { &l };
            if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(self.error(
                    at,
                    format!("`{}` cannot compare with null.", op.symbol()),
                    "Use `= null` or `!= null` to test for a missing value.",
                ));
            }
            return Ok(match other {
                Resolved::Field(path) => Node::IsNull {
                    path: path.clone(),
                    negated: op == CmpOp::Ne,
                },
                Resolved::Bound(value, _) => {
                    Node::Const((*value == Value::Null) == (op == CmpOp::Eq))
                }
                Resolved::Literal(Literal::Null, _) => Node::Const(op == CmpOp::Eq),
                _ => {
                    return Err(self.error(
                        at,
                        "Only fields and values can be compared with null.",
                        "Compare a field: `field = null`.",
                    ));
                }
            });
        }
        let is_like = matches!(op, CmpOp::Like | CmpOp::NotLike);
        let pattern_on_left = || {
            self.error(
                at,
                "The pattern of `~` must be on the right.",
                "Write `field ~ \"pattern\"`.",
            )
        };
        match (l, r) {
            (Resolved::Field(path), other) => self.field_against(path, op, op, other, at),
            (other, Resolved::Field(path)) => {
                if is_like {
                    return Err(pattern_on_left());
                }
                self.field_against(path, mirror(op), op, other, at)
            }
            (Resolved::Bound(a, kind), Resolved::Literal(literal, lit_at)) => {
                self.bound_against_literal(&name_of(left), a, kind, op, op, &literal, lit_at, at)
            }
            (Resolved::Literal(literal, lit_at), Resolved::Bound(a, kind)) => {
                if is_like {
                    return Err(pattern_on_left());
                }
                let name = name_of(right);
                self.bound_against_literal(&name, a, kind, mirror(op), op, &literal, lit_at, at)
            }
            (Resolved::Bound(a, ka), Resolved::Bound(b, kb)) => {
                let (left_name, right_name) = (name_of(left), name_of(right));
                self.check_op(&left_name, ka, op, op, at)?;
                if is_like {
                    if !is_text_valued(kb) {
                        return Err(self.pattern_not_a_string(at));
                    }
                    let Value::Text(b) = b else {
                        return Ok(Node::Const(false));
                    };
                    let pattern = Value::Text(format!("%{}%", escape_like(&b)));
                    return Ok(Node::Const(crate::eval::compare_values(&a, op, &pattern)));
                }
                if ka != kb && !(ka.is_numeric() && kb.is_numeric()) {
                    return Err(self.error(
                        at,
                        format!(
                            "`{left_name}` is {} but `{right_name}` is {}; they cannot be compared.",
                            ka.name(),
                            kb.name()
                        ),
                        "Compare values of the same type.",
                    ));
                }
                Ok(Node::Const(crate::eval::compare_values(&a, op, &b)))
            }
            _ => Err(self.error(
                at,
                "A comparison needs a field on at least one side.",
                "Compare a field with a value, such as `status = \"paid\"`.",
            )),
        }
    }

    /// `bound op literal`, folded to a constant. `shown` is the operator as written (before the
    /// operands were swapped), for messages.
    #[allow(clippy::too_many_arguments)]
    fn bound_against_literal(
        &self,
        name: &str,
        bound: Value,
        kind: ValueKind,
        op: CmpOp,
        shown: CmpOp,
        literal: &Literal,
        lit_at: usize,
        at: usize,
    ) -> Result<Node, QueryError> {
        self.check_op(name, kind, op, shown, at)?;
        let value = if matches!(op, CmpOp::Like | CmpOp::NotLike) {
            let Literal::Str(pattern) = literal else {
                return Err(self.pattern_not_a_string(at));
            };
            self.check_pattern(pattern, lit_at)?;
            Value::Text(wrap_pattern(pattern.clone()))
        } else {
            self.coerce(literal, kind, lit_at, None)?
        };
        Ok(Node::Const(crate::eval::compare_values(&bound, op, &value)))
    }

    /// Refuses operators that do not apply to values of `kind` (named `name`): anything but a
    /// null check on json, orderings on booleans and ids, `~` on anything but text.
    fn check_op(
        &self,
        name: &str,
        kind: ValueKind,
        op: CmpOp,
        shown: CmpOp,
        at: usize,
    ) -> Result<(), QueryError> {
        if kind == ValueKind::Json {
            return Err(self.error(
                at,
                format!("`{name}` is a json field; it can only be tested for null."),
                "Use `field = null` or `field != null`.",
            ));
        }
        if op.is_ordering() && matches!(kind, ValueKind::Bool | ValueKind::Uuid) {
            return Err(self.error(
                at,
                format!(
                    "`{name}` is {}, which has no order; `{}` does not apply.",
                    kind.name(),
                    shown.symbol()
                ),
                "Use = or != for booleans and ids.",
            ));
        }
        if matches!(op, CmpOp::Like | CmpOp::NotLike) && kind != ValueKind::Text {
            return Err(self.error(
                at,
                format!("`~` matches text, but `{name}` is {}.", kind.name()),
                "Use = != < > for other types.",
            ));
        }
        Ok(())
    }

    /// Refuses a `~` pattern that ends with a lone escape: SQLite never matches it, PostgreSQL
    /// rejects it, and wrapped in `%…%` it would escape the closing `%`.
    fn check_pattern(&self, pattern: &str, at: usize) -> Result<(), QueryError> {
        let mut escaped = false;
        for c in pattern.chars() {
            escaped = !escaped && c == '\\';
        }
        if escaped {
            return Err(self.error(
                at,
                "The pattern of `~` ends with a lone `\\`.",
                r#"In a pattern `\` escapes the next character; to match a backslash, write "\\\\"."#,
            ));
        }
        Ok(())
    }

    fn pattern_not_a_string(&self, at: usize) -> QueryError {
        self.error(
            at,
            "The pattern of `~` must be a string.",
            "Write `name ~ \"lamp%\"` (`%` any text, `_` one character).",
        )
    }

    /// `path op other`. `shown` is the operator as written (before the operands were swapped),
    /// for messages.
    fn field_against(
        &self,
        path: FieldPath,
        op: CmpOp,
        shown: CmpOp,
        other: Resolved,
        at: usize,
    ) -> Result<Node, QueryError> {
        let kind = path.kind;
        self.check_op(&path.dotted(), kind, op, shown, at)?;
        if let Some(field) = self.encrypted_field(&path) {
            return self.encrypted_against(path, field, op, shown, other, at);
        }
        if matches!(op, CmpOp::Like | CmpOp::NotLike) {
            let pattern = match other {
                Resolved::Literal(Literal::Str(s), lit_at) => {
                    self.check_pattern(&s, lit_at)?;
                    wrap_pattern(s)
                }
                // A bound value is matched literally; whether it is a string must not depend on
                // whether it happens to be null for this caller.
                Resolved::Bound(value, bound_kind) if is_text_valued(bound_kind) => match value {
                    Value::Text(s) => format!("%{}%", escape_like(&s)),
                    _ => return Ok(Node::Const(false)),
                },
                _ => return Err(self.pattern_not_a_string(at)),
            };
            return Ok(Node::Compare {
                left: Term::Field(path),
                op,
                right: Term::Value(Value::Text(pattern)),
            });
        }
        let right = match other {
            Resolved::Field(other_path) => {
                if self.encrypted_field(&other_path).is_some() {
                    return Err(self.error(
                        at,
                        format!(
                            "`{}` is encrypted; it can only be compared with a value.",
                            other_path.dotted()
                        ),
                        "Compare the encrypted field with a literal or an `auth.*` value.",
                    ));
                }
                let compatible =
                    other_path.kind == kind || (kind.is_numeric() && other_path.kind.is_numeric());
                if !compatible {
                    return Err(self.error(
                        at,
                        format!(
                            "`{}` is {} but `{}` is {}; they cannot be compared.",
                            path.dotted(),
                            kind.name(),
                            other_path.dotted(),
                            other_path.kind.name()
                        ),
                        "Compare fields of the same type.",
                    ));
                }
                return Ok(Node::Compare {
                    left: Term::Field(path),
                    op,
                    right: Term::Field(other_path),
                });
            }
            Resolved::Bound(value, bound_kind) => {
                // Types first: whether a rule checks must not depend on the caller.
                if bound_kind != kind && !(kind.is_numeric() && bound_kind.is_numeric()) {
                    return Err(self.error(
                        at,
                        format!(
                            "`{}` is {} but the value it is compared with is {}.",
                            path.dotted(),
                            kind.name(),
                            bound_kind.name()
                        ),
                        "Compare values of the same type.",
                    ));
                }
                if value == Value::Null {
                    return Ok(Node::Const(false));
                }
                value
            }
            Resolved::Literal(literal, lit_at) => {
                let field = self.field_of(&path);
                self.coerce(&literal, kind, lit_at, field)?
            }
            Resolved::List(_) => {
                return Err(self.error(
                    at,
                    "`auth.roles` is a list; use it on the right of `in`.",
                    "Write `\"admin\" in auth.roles`.",
                ));
            }
        };
        Ok(Node::Compare {
            left: Term::Field(path),
            op,
            right: Term::Value(right),
        })
    }

    fn membership(&self, left: &Operand, right: &Operand, at: usize) -> Result<Node, QueryError> {
        let left = self.resolve(left)?;
        let right = self.resolve(right)?;
        if let Resolved::Field(path) = &left
            && let Some(field) = self.encrypted_field(path)
        {
            self.require_blind_index(path, field, at)?;
        }
        let node = self.membership_of(left, right, at)?;
        Ok(match node {
            Node::In { path, values } if self.encrypted_field(&path).is_some() => {
                self.blind_node(path, values, false)
            }
            node => node,
        })
    }

    fn membership_of(
        &self,
        left: Resolved,
        right: Resolved,
        at: usize,
    ) -> Result<Node, QueryError> {
        match (left, right) {
            (Resolved::Field(path), Resolved::Literal(Literal::Array(items), lit_at)) => {
                if path.kind == ValueKind::Json {
                    return Err(self.error(
                        at,
                        format!("`{}` is a json field; `in` does not apply.", path.dotted()),
                        "Test json fields for null only.",
                    ));
                }
                let field = self.field_of(&path);
                let values = items
                    .iter()
                    .map(|item| {
                        if *item == Literal::Null {
                            return Err(self.error(
                                lit_at,
                                "An `in` list cannot hold null.",
                                "Test for null separately: `(field = null || field in [...])`.",
                            ));
                        }
                        self.coerce(item, path.kind, lit_at, field)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if values.is_empty() {
                    Node::Const(false)
                } else {
                    Node::In { path, values }
                })
            }
            (Resolved::Field(path), Resolved::List(values)) => {
                if path.kind != ValueKind::Text {
                    return Err(self.error(
                        at,
                        format!(
                            "`auth.roles` holds text, but `{}` is {}.",
                            path.dotted(),
                            path.kind.name()
                        ),
                        "Compare a text field with the roles.",
                    ));
                }
                Ok(if values.is_empty() {
                    Node::Const(false)
                } else {
                    Node::In { path, values }
                })
            }
            (Resolved::Literal(Literal::Str(s), _), Resolved::List(values)) => {
                Ok(Node::Const(values.contains(&Value::Text(s))))
            }
            (Resolved::Bound(value, _), Resolved::List(values)) => {
                Ok(Node::Const(value != Value::Null && values.contains(&value)))
            }
            (Resolved::Bound(value, kind), Resolved::Literal(Literal::Array(items), lit_at)) => {
                let mut found = false;
                for item in &items {
                    let candidate = self.coerce(item, kind, lit_at, None)?;
                    found |= value != Value::Null
                        && crate::eval::compare_values(&value, CmpOp::Eq, &candidate);
                }
                Ok(Node::Const(found))
            }
            _ => Err(self.error(
                at,
                "`in` needs a field or value on the left and a list on the right.",
                "Write `status in [\"paid\", \"shipped\"]` or `\"admin\" in auth.roles`.",
            )),
        }
    }

    /// The field at the end of `path`, if it is stored encrypted.
    fn encrypted_field(&self, path: &FieldPath) -> Option<&Field> {
        self.field_of(path).filter(|f| f.encrypted)
    }

    fn require_blind_index(
        &self,
        path: &FieldPath,
        field: &Field,
        at: usize,
    ) -> Result<(), QueryError> {
        if field.blind_index {
            return Ok(());
        }
        Err(self.error(
            at,
            format!(
                "`{}` is encrypted without a blind index; it can only be tested for null.",
                path.dotted()
            ),
            "Add `blind_index = true` to the field to filter it with `=`, `!=` and `in`.",
        ))
    }

    fn blind_node(&self, path: FieldPath, values: Vec<Value>, negated: bool) -> Node {
        let collection = path
            .hops
            .last()
            .map_or_else(|| self.collection.name.clone(), |h| h.collection.clone());
        Node::Blind {
            path,
            collection,
            values,
            digests: Vec::new(),
            negated,
        }
    }

    /// `path op other` on an encrypted field: only `=` and `!=` with a value, through the
    /// blind index. Orderings and `~` cannot work on ciphertext; comparing with another field
    /// would need both decrypted.
    fn encrypted_against(
        &self,
        path: FieldPath,
        field: &Field,
        op: CmpOp,
        shown: CmpOp,
        other: Resolved,
        at: usize,
    ) -> Result<Node, QueryError> {
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(self.error(
                at,
                format!(
                    "`{}` is encrypted; `{}` cannot work on its stored values.",
                    path.dotted(),
                    shown.symbol()
                ),
                "Encrypted fields (with `blind_index = true`) take `=`, `!=`, `in` and null tests only; ranges, `~` and sorting need a field that is not encrypted.",
            ));
        }
        self.require_blind_index(&path, field, at)?;
        let value = match other {
            Resolved::Literal(literal, lit_at) => {
                self.coerce(&literal, path.kind, lit_at, Some(field))?
            }
            Resolved::Bound(value, bound_kind) => {
                if bound_kind != path.kind {
                    return Err(self.error(
                        at,
                        format!(
                            "`{}` is {} but the value it is compared with is {}.",
                            path.dotted(),
                            path.kind.name(),
                            bound_kind.name()
                        ),
                        "Compare values of the same type.",
                    ));
                }
                if value == Value::Null {
                    return Ok(Node::Const(false));
                }
                value
            }
            Resolved::Field(_) | Resolved::List(_) => {
                return Err(self.error(
                    at,
                    format!(
                        "`{}` is encrypted; it can only be compared with a value.",
                        path.dotted()
                    ),
                    "Compare the encrypted field with a literal or an `auth.*` value.",
                ));
            }
        };
        Ok(self.blind_node(path, vec![value], op == CmpOp::Ne))
    }

    fn field_of(&self, path: &FieldPath) -> Option<&Field> {
        let collection = match path.hops.last() {
            Some(hop) => self.target(&hop.collection)?,
            None => self.collection,
        };
        collection.field(&path.column)
    }

    /// The collection a relation to `name` reaches: a declared one, or the accounts.
    fn target(&self, name: &str) -> Option<&Collection> {
        if name == fathom_schema::ACCOUNTS {
            return Some(self.accounts.get_or_init(|| self.schema.accounts_view()));
        }
        self.schema.collection(name).map(AsRef::as_ref)
    }

    fn resolve(&self, operand: &Operand) -> Result<Resolved, QueryError> {
        let path = match operand {
            Operand::Literal(literal, at) => return Ok(Resolved::Literal(literal.clone(), *at)),
            Operand::Path(path) => path,
        };
        match path.segments.first().map(String::as_str) {
            Some("auth") => self.auth(path),
            Some("request") => self.request(path),
            _ => self.field_path(path).map(Resolved::Field),
        }
    }

    fn auth(&self, path: &Path) -> Result<Resolved, QueryError> {
        let auth = self.env.auth.as_ref();
        let text = |v: Option<&String>| v.map_or(Value::Null, |s| Value::Text(s.clone()));
        Ok(match path.segments.get(1..).unwrap_or_default() {
            [id] if id == "id" => Resolved::Bound(text(auth.map(|a| &a.id)), ValueKind::Uuid),
            [tenant] if tenant == "tenant" => {
                Resolved::Bound(text(auth.and_then(|a| a.tenant.as_ref())), ValueKind::Text)
            }
            [verified] if verified == "verified" => Resolved::Bound(
                auth.map_or(Value::Null, |a| Value::Bool(a.verified)),
                ValueKind::Bool,
            ),
            [roles] if roles == "roles" => Resolved::List(
                auth.map(|a| a.roles.iter().map(|r| Value::Text(r.clone())).collect())
                    .unwrap_or_default(),
            ),
            _ => return Err(self.error(
                path.at,
                format!("`{}` is not known.", path.segments.join(".")),
                "The caller is described by auth.id, auth.roles, auth.tenant and auth.verified.",
            )),
        })
    }

    fn request(&self, path: &Path) -> Result<Resolved, QueryError> {
        match path.segments.get(1..).unwrap_or_default() {
            [method] if method == "method" => Ok(Resolved::Bound(
                self.env
                    .request_method
                    .clone()
                    .map_or(Value::Null, Value::Text),
                ValueKind::Text,
            )),
            [body, field] if body == "body" => {
                let Some(schema_field) = self.collection.field(field) else {
                    return Err(self.unknown_field(path.at, field, self.collection));
                };
                let kind = ValueKind::of(&schema_field.kind);
                let value = self
                    .env
                    .request_body
                    .as_ref()
                    .and_then(|b| b.get(field))
                    .filter(|v| !v.is_null())
                    .and_then(|json| fathom_schema::record::validate_value(schema_field, json).ok())
                    .map_or(Value::Null, |v| match (kind, v) {
                        (ValueKind::Decimal, Value::Text(t)) => {
                            t.parse().map_or(Value::Null, Value::Number)
                        }
                        (_, v) => v,
                    });
                Ok(Resolved::Bound(value, kind))
            }
            _ => Err(self.error(
                path.at,
                format!("`{}` is not known.", path.segments.join(".")),
                "The request is described by request.method and request.body.<field>.",
            )),
        }
    }

    fn unknown_field(&self, at: usize, name: &str, collection: &Collection) -> QueryError {
        let mut known: Vec<&str> = vec!["id", "version"];
        if collection.timestamps {
            known.extend(["created_at", "updated_at"]);
        }
        if collection.tenant_scoped {
            known.push("tenant");
        }
        known.extend(collection.fields.iter().map(|f| f.name.as_str()));
        self.error(
            at,
            format!(
                "The collection `{}` has no field `{name}`.",
                collection.name
            ),
            format!("Its fields are: {}.", known.join(", ")),
        )
    }

    fn field_path(&self, path: &Path) -> Result<FieldPath, QueryError> {
        let mut collection: &Collection = self.collection;
        let mut hops = Vec::new();
        for (n, segment) in path.segments.iter().enumerate() {
            let last = n + 1 == path.segments.len();
            if let Some(kind) = system_kind(collection, segment) {
                if !last {
                    return Err(self.error(
                        path.at,
                        format!("`{segment}` is not a relation; nothing follows it."),
                        "Only relation fields can be followed with `.`.",
                    ));
                }
                return Ok(FieldPath {
                    hops,
                    column: segment.clone(),
                    kind,
                });
            }
            let Some(field) = collection.field(segment) else {
                return Err(self.unknown_field(path.at, segment, collection));
            };
            if last {
                return Ok(FieldPath {
                    hops,
                    column: segment.clone(),
                    kind: ValueKind::of(&field.kind),
                });
            }
            let FieldType::Relation {
                collection: target, ..
            } = &field.kind
            else {
                return Err(self.error(
                    path.at,
                    format!("`{segment}` is not a relation; nothing follows it."),
                    "Only relation fields can be followed with `.`.",
                ));
            };
            if hops.len() == 2 {
                return Err(self.error(
                    path.at,
                    "Relation paths can follow at most two relations.",
                    "Filter on a closer field, or split the query.",
                ));
            }
            let Some(next) = self.target(target) else {
                return Err(self.error(
                    path.at,
                    format!("The relation `{segment}` points at a missing collection."),
                    "Fix the schema file.",
                ));
            };
            hops.push(Hop {
                field: segment.clone(),
                collection: target.clone(),
                soft_delete: next.soft_delete,
            });
            collection = next;
        }
        Err(self.error(
            path.at,
            "A path needs at least one field name.",
            "Write a field name such as `status`.",
        ))
    }

    /// Turns a literal into the canonical value of `kind` (decimals become numbers).
    fn coerce(
        &self,
        literal: &Literal,
        kind: ValueKind,
        at: usize,
        field: Option<&Field>,
    ) -> Result<Value, QueryError> {
        let mismatch = || {
            self.error(
                at,
                format!("Expected {} here, but found {literal}.", kind.name()),
                hint_for(kind),
            )
        };
        Ok(match (kind, literal) {
            (ValueKind::Text, Literal::Str(s)) => {
                let s = &fathom_schema::value::nfc(s).into_owned(); // Stored text is NFC.
                if let Some(Field {
                    kind: FieldType::Enum { values },
                    name,
                    ..
                }) = field
                    && !values.contains(s)
                {
                    return Err(self.error(
                        at,
                        format!("\"{s}\" is not a value of `{name}`."),
                        format!("Its values are: {}.", values.join(", ")),
                    ));
                }
                Value::Text(s.clone())
            }
            (ValueKind::Integer, Literal::Int(i)) => Value::Integer(*i),
            (ValueKind::Integer | ValueKind::Number | ValueKind::Decimal, Literal::Float(x)) => {
                Value::Number(*x)
            }
            (ValueKind::Number | ValueKind::Decimal, Literal::Int(i)) => Value::Number(*i as f64),
            // Decimals are finite: "NaN" and "inf" parse as floats but are no decimals (and SQL
            // cannot bind NaN: it would become NULL and break negation).
            (ValueKind::Decimal, Literal::Str(s)) => Value::Number(
                s.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(mismatch)?,
            ),
            (ValueKind::Bool, Literal::Bool(b)) => Value::Bool(*b),
            (ValueKind::Timestamp, Literal::Str(s)) => {
                Value::Text(canonical_timestamp(s).ok_or_else(mismatch)?)
            }
            (ValueKind::Date, Literal::Str(s)) => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                time::Date::parse(s, format)
                    .ok()
                    .filter(|_| s.len() == 10)
                    .ok_or_else(mismatch)?;
                Value::Text(s.clone())
            }
            (ValueKind::Uuid, Literal::Str(s)) => Value::Text(
                uuid::Uuid::parse_str(s)
                    .map_err(|_| mismatch())?
                    .hyphenated()
                    .to_string(),
            ),
            _ => return Err(mismatch()),
        })
    }
}

/// A timestamp literal: RFC 3339 (read as stored values are, so a leap second is refused, not
/// moved), or a bare date meaning midnight UTC.
fn canonical_timestamp(text: &str) -> Option<String> {
    if text.len() > 10 {
        return fathom_schema::value::parse_timestamp(text);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, format)
        .ok()
        .filter(|_| text.len() == 10)?;
    fathom_schema::value::format_timestamp(date.midnight().assume_utc())
}

fn hint_for(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Text => "Quote text values: \"paid\".",
        ValueKind::Integer | ValueKind::Number | ValueKind::Decimal => {
            "Write numbers without quotes: 100 or 9.5."
        }
        ValueKind::Bool => "Write true or false.",
        ValueKind::Timestamp => {
            "Write a quoted RFC 3339 timestamp such as \"2026-01-31T09:30:00Z\" or a date \"2026-01-31\"."
        }
        ValueKind::Date => "Write a quoted date such as \"2026-01-31\".",
        ValueKind::Uuid => "Write a quoted id such as \"0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12\".",
        ValueKind::Json => "Json fields can only be tested for null.",
    }
}

/// The mirror of an operator, for `value op field` → `field op' value`.
fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// A `~` pattern as written: wrapped in `%…%` when it has no `%`, so that it matches anywhere.
fn wrap_pattern(pattern: String) -> String {
    if pattern.contains('%') {
        pattern
    } else {
        format!("%{pattern}%")
    }
}

/// Whether bound values of `kind` are text (and so can serve as a `~` pattern).
fn is_text_valued(kind: ValueKind) -> bool {
    matches!(
        kind,
        ValueKind::Text | ValueKind::Uuid | ValueKind::Timestamp | ValueKind::Date
    )
}

/// The dotted name of an operand, for messages.
fn name_of(operand: &Operand) -> String {
    match operand {
        Operand::Path(path) => path.segments.join("."),
        Operand::Literal(literal, _) => literal.to_string(),
    }
}

/// Escapes LIKE wildcards in a bound value, so it matches literally.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The kind of a system column of `collection` by name, if it has one by that name.
pub fn system_kind(collection: &Collection, name: &str) -> Option<ValueKind> {
    match name {
        "id" => Some(ValueKind::Uuid),
        "version" => Some(ValueKind::Integer),
        "created_at" | "updated_at" if collection.timestamps => Some(ValueKind::Timestamp),
        "tenant" if collection.tenant_scoped => Some(ValueKind::Text),
        _ => None,
    }
}
