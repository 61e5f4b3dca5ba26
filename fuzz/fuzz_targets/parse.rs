//! Feeds arbitrary UTF-8 to the expression parser. It must never panic; its errors must point
//! inside the text; and a parsed expression must print to a canonical form that parses back to
//! the same tree and prints identically. Printing adds spaces and parentheses, so that form may
//! exceed the length or nesting limit; then, and only then, the re-parse must fail, with that
//! limit's error.

#![no_main]

use fathom_query::ast::{Expr, Operand, Path};
use fathom_query::{MAX_DEPTH, MAX_EXPRESSION_BYTES, MAX_NODES, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let expr = match parse(source) {
        Ok(expr) => expr,
        Err(error) => {
            assert!(
                error.column >= 1 && error.column <= source.chars().count() + 1,
                "{source:?}: {error:?}"
            );
            return;
        }
    };
    assert!(expr.node_count() <= MAX_NODES);
    let printed = expr.to_string();
    let fits = printed.len() <= MAX_EXPRESSION_BYTES && printed_depth(&expr) <= MAX_DEPTH;
    match parse(&printed) {
        Ok(again) => {
            assert!(fits, "{printed:?} is beyond the limits but parsed");
            assert_eq!(
                strip(&again),
                strip(&expr),
                "{source:?} printed as {printed:?}"
            );
            assert_eq!(again.to_string(), printed);
        }
        Err(error) => {
            assert!(
                !fits,
                "{source:?} printed as {printed:?}, which fails: {error:?}"
            );
            assert!(
                error.message.contains("the limit is")
                    || error.message.contains("nests deeper than"),
                "{printed:?}: {error:?}"
            );
        }
    }
});

/// How deeply the canonical form nests, as the parser counts it: each `!` and each `(`.
fn printed_depth(expr: &Expr) -> usize {
    match expr {
        // `!(inner)`
        Expr::Not(inner) => 2 + printed_depth(inner),
        // `(a && b)`
        Expr::And(items) | Expr::Or(items) => {
            1 + items.iter().map(printed_depth).max().unwrap_or(0)
        }
        Expr::Compare { .. } | Expr::In { .. } => 0,
    }
}

/// The tree with every source position set to 0.
fn strip(expr: &Expr) -> Expr {
    let operand = |o: &Operand| match o {
        Operand::Path(p) => Operand::Path(Path {
            segments: p.segments.clone(),
            at: 0,
        }),
        Operand::Literal(l, _) => Operand::Literal(l.clone(), 0),
    };
    match expr {
        Expr::And(items) => Expr::And(items.iter().map(strip).collect()),
        Expr::Or(items) => Expr::Or(items.iter().map(strip).collect()),
        Expr::Not(inner) => Expr::Not(Box::new(strip(inner))),
        Expr::Compare {
            left, op, right, ..
        } => Expr::Compare {
            left: operand(left),
            op: *op,
            right: operand(right),
            at: 0,
        },
        Expr::In { left, right, .. } => Expr::In {
            left: operand(left),
            right: operand(right),
            at: 0,
        },
    }
}
