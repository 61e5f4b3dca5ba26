//! The shape of a checked filter (the architect, issue 17): its canonical text with every value
//! replaced by `?`, the conditions it tests (path and operator), and whether it is a conjunction
//! only. Two filters that differ only in their values have equal shapes, so the store can count
//! them as one query; no value ever reaches a shape.
//!
//! [`Filter::shape_hash`] feeds the same structure to a hasher without allocating, so the store
//! can recognise a shape it already holds on the hot path and build [`FilterShape`] only for a
//! new one.

use std::hash::{Hash, Hasher};

use crate::ast::CmpOp;
use crate::check::{FieldPath, Filter, Node, Term};

/// One tested condition, without its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConditionShape {
    /// The dotted path (`status`, `project.owner`).
    pub path: String,
    /// `=`, `!=`, `<`, `<=`, `>`, `>=`, `~`, `!~`, `in`, `not in`, `is null`, `is not null`.
    pub op: &'static str,
}

/// A filter with its values taken out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilterShape {
    /// `status = ? && (owner = ? || public = ?)`: paths, operators and `?` for every value (an
    /// `in` list of any length is one `?`); constants the checker folded show as `true`/`false`.
    pub text: String,
    /// Each condition once, in the order it first appears. Under a `!`, the operator is the
    /// negated one (`!(a = ?)` tests `a != ?`), as the database reads it.
    pub conditions: Vec<ConditionShape>,
    /// No `||` and no `!` anywhere: only then can the equality conditions lead an index.
    pub conjunctive: bool,
}

impl Filter {
    /// The filter's shape (see the module documentation).
    pub fn shape(&self) -> FilterShape {
        let mut shape = FilterShape {
            text: String::new(),
            conditions: Vec::new(),
            conjunctive: true,
        };
        render(&self.root, true, false, &mut shape);
        shape
    }

    /// Feeds the filter's shape to `state`: equal for two filters exactly when their
    /// [`Filter::shape`]s are equal, and allocation-free.
    pub fn shape_hash<H: Hasher>(&self, state: &mut H) {
        hash_node(&self.root, state);
    }
}

fn render(node: &Node, top: bool, negated: bool, out: &mut FilterShape) {
    match node {
        Node::And(items) | Node::Or(items) => {
            let separator = if matches!(node, Node::And(_)) {
                " && "
            } else {
                out.conjunctive = false;
                " || "
            };
            if !top {
                out.text.push('(');
            }
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.text.push_str(separator);
                }
                render(item, false, negated, out);
            }
            if !top {
                out.text.push(')');
            }
        }
        Node::Not(inner) => {
            out.conjunctive = false;
            out.text.push_str("!(");
            render(inner, true, !negated, out);
            out.text.push(')');
        }
        Node::Confined(inner) => render(inner, top, negated, out),
        Node::Const(b) => out.text.push_str(if *b { "true" } else { "false" }),
        Node::Compare { left, op, right } => {
            // The path goes first, so `5 < qty` and `qty > 5` are one shape.
            let (first, op, second) = match (left, right) {
                (Term::Value(_), Term::Field(_)) => (right, mirror(*op), left),
                _ => (left, *op, right),
            };
            term(first, out);
            out.text.push(' ');
            out.text.push_str(op.symbol());
            out.text.push(' ');
            term(second, out);
            let tested = if negated { negate(op) } else { op.symbol() };
            for side in [first, second] {
                if let Term::Field(path) = side {
                    condition(path, tested, out);
                }
            }
        }
        Node::IsNull { path, negated: ne } => {
            push_path(path, out);
            out.text.push_str(if *ne { " != null" } else { " = null" });
            let is_not = *ne != negated;
            condition(path, if is_not { "is not null" } else { "is null" }, out);
        }
        Node::In { path, .. } => membership(path, false, negated, out),
        Node::Blind {
            path, negated: ne, ..
        } => membership(path, *ne, negated, out),
    }
}

/// `path in ?` (or `!(path in ?)`), whatever the number of values.
fn membership(path: &FieldPath, not: bool, negated: bool, out: &mut FilterShape) {
    if not {
        out.conjunctive = false;
        out.text.push_str("!(");
    }
    push_path(path, out);
    out.text.push_str(" in ?");
    if not {
        out.text.push(')');
    }
    condition(path, if not != negated { "not in" } else { "in" }, out);
}

fn term(term: &Term, out: &mut FilterShape) {
    match term {
        Term::Field(path) => push_path(path, out),
        Term::Value(_) => out.text.push('?'),
    }
}

fn push_path(path: &FieldPath, out: &mut FilterShape) {
    for hop in &path.hops {
        out.text.push_str(&hop.field);
        out.text.push('.');
    }
    out.text.push_str(&path.column);
}

fn condition(path: &FieldPath, op: &'static str, out: &mut FilterShape) {
    let dotted = path.dotted();
    if !out
        .conditions
        .iter()
        .any(|c| c.path == dotted && c.op == op)
    {
        out.conditions.push(ConditionShape { path: dotted, op });
    }
}

/// The operator with its sides swapped.
fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// What `!(a op b)` tests, as an operator.
fn negate(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "!=",
        CmpOp::Ne => "=",
        CmpOp::Lt => ">=",
        CmpOp::Le => ">",
        CmpOp::Gt => "<=",
        CmpOp::Ge => "<",
        CmpOp::Like => "!~",
        CmpOp::NotLike => "~",
    }
}

/// Hashes exactly what [`render`] writes: node kinds, paths and operators, never a value.
fn hash_node<H: Hasher>(node: &Node, state: &mut H) {
    match node {
        Node::And(items) | Node::Or(items) => {
            state.write_u8(if matches!(node, Node::And(_)) { 1 } else { 2 });
            state.write_usize(items.len());
            items.iter().for_each(|n| hash_node(n, state));
        }
        Node::Not(inner) => {
            state.write_u8(3);
            hash_node(inner, state);
        }
        Node::Confined(inner) => hash_node(inner, state),
        Node::Const(b) => {
            state.write_u8(4);
            b.hash(state);
        }
        Node::Compare { left, op, right } => {
            state.write_u8(5);
            let (first, op, second) = match (left, right) {
                (Term::Value(_), Term::Field(_)) => (right, mirror(*op), left),
                _ => (left, *op, right),
            };
            hash_term(first, state);
            op.symbol().hash(state);
            hash_term(second, state);
        }
        Node::IsNull { path, negated } => {
            state.write_u8(6);
            hash_path(path, state);
            negated.hash(state);
        }
        Node::In { path, .. } => {
            state.write_u8(7);
            hash_path(path, state);
            false.hash(state);
        }
        Node::Blind { path, negated, .. } => {
            // Hashed as the `in` (or `!(… in …)`) it renders as: a shape does not say whether a
            // field is encrypted.
            if *negated {
                state.write_u8(3);
            }
            state.write_u8(7);
            hash_path(path, state);
            false.hash(state);
        }
    }
}

fn hash_term<H: Hasher>(term: &Term, state: &mut H) {
    match term {
        Term::Field(path) => {
            state.write_u8(1);
            hash_path(path, state);
        }
        Term::Value(_) => state.write_u8(0),
    }
}

fn hash_path<H: Hasher>(path: &FieldPath, state: &mut H) {
    state.write_usize(path.hops.len());
    for hop in &path.hops {
        hop.field.hash(state);
    }
    path.column.hash(state);
}
