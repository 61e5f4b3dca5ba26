//! The untyped syntax tree, and its canonical text form (fully parenthesised), which parses back
//! to the same tree.

use std::fmt;

/// A boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: CmpOp,
        right: Operand,
        at: usize,
    },
    In {
        left: Operand,
        right: Operand,
        at: usize,
    },
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Literal(Literal, usize),
}

/// A dotted identifier: a field, a relation path, or `auth.*` / `request.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<String>,
    /// Byte offset in the source.
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Literal>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    NotLike,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Like => "~",
            Self::NotLike => "!~",
        }
    }

    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Lt | Self::Le | Self::Gt | Self::Ge)
    }
}

impl Expr {
    /// The number of nodes, as counted against [`crate::MAX_NODES`].
    pub fn node_count(&self) -> usize {
        match self {
            Self::And(items) | Self::Or(items) => {
                1 + items.iter().map(Expr::node_count).sum::<usize>()
            }
            Self::Not(inner) => 1 + inner.node_count(),
            Self::Compare { left, right, .. } | Self::In { left, right, .. } => {
                1 + left.node_count() + right.node_count()
            }
        }
    }
}

impl Operand {
    fn node_count(&self) -> usize {
        match self {
            Self::Path(_) => 1,
            Self::Literal(Literal::Array(items), _) => 1 + items.len(),
            Self::Literal(..) => 1,
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str| -> fmt::Result {
            f.write_str("(")?;
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{item}")?;
            }
            f.write_str(")")
        };
        match self {
            Self::And(items) => join(f, items, " && "),
            Self::Or(items) => join(f, items, " || "),
            Self::Not(inner) => write!(f, "!({inner})"),
            Self::Compare {
                left, op, right, ..
            } => write!(f, "{left} {} {right}", op.symbol()),
            Self::In { left, right, .. } => write!(f, "{left} in {right}"),
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(path) => f.write_str(&path.segments.join(".")),
            Self::Literal(literal, _) => write!(f, "{literal}"),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            // `{:?}` always keeps a decimal point or exponent, so the value lexes back as a float.
            Self::Float(x) => write!(f, "{x:?}"),
            Self::Str(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        '\r' => f.write_str("\\r")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            Self::Array(items) => {
                f.write_str("[")?;
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}
