//! Properties of the parser: it never panics, whatever it is given; its errors always point
//! inside the text and read as sentences; and the canonical print form parses back to the same
//! tree and prints identically (print → parse → print).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use fathom_query::ast::{CmpOp, Expr, Literal, Operand, Path};
use fathom_query::{MAX_DEPTH, MAX_EXPRESSION_BYTES, MAX_NODES, QueryError, parse};
use proptest::prelude::*;

/// The tree with every source position set to 0, so trees from different texts compare.
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

/// Whether an error is one of the size limits (length, node count, depth) rather than syntax.
fn is_limit(error: &QueryError) -> bool {
    error.message.contains("the limit is") || error.message.contains("nests deeper than")
}

/// How deeply the canonical form of `expr` nests, as the parser counts it: each `!` and `(`.
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

/// Whether the canonical form of `expr` is within the parser's limits.
fn fits(expr: &Expr) -> bool {
    expr.node_count() <= MAX_NODES
        && expr.to_string().len() <= MAX_EXPRESSION_BYTES
        && printed_depth(expr) <= MAX_DEPTH
}

/// What every error must look like, whatever the input.
fn check_error(source: &str, error: &QueryError) -> Result<(), TestCaseError> {
    prop_assert!(
        error.column >= 1 && error.column <= source.chars().count() + 1,
        "column out of range for {source:?}: {error:?}"
    );
    prop_assert!(error.message.ends_with('.'), "{error:?}");
    prop_assert!(error.hint.ends_with('.'), "{error:?}");
    Ok(())
}

/// Parses `source`: an error must be well formed; a tree must print to a form that parses back to
/// the same tree and prints identically, unless printing (which adds spaces and parentheses)
/// pushes it over the length or depth limit, and then the re-parse fails with that limit.
fn check_source(source: &str) -> Result<(), TestCaseError> {
    match parse(source) {
        Err(error) => check_error(source, &error),
        Ok(expr) => {
            prop_assert!(expr.node_count() <= MAX_NODES);
            let printed = expr.to_string();
            match parse(&printed) {
                Ok(again) => {
                    prop_assert!(fits(&expr), "`{printed}` is beyond the limits but parsed");
                    prop_assert_eq!(strip(&again), strip(&expr), "printed: {}", printed);
                    prop_assert_eq!(again.to_string(), printed);
                }
                Err(error) => {
                    prop_assert!(
                        !fits(&expr) && is_limit(&error),
                        "`{source}` printed as `{printed}`, which does not parse: {error:?}"
                    );
                }
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary text

/// Pieces an expression is made of, valid and not, so that soups reach deep into the parser.
const TOKENS: &[&str] = &[
    "a",
    "b",
    "status",
    "customer.tier",
    "auth.roles",
    "request.body.total",
    "a.",
    ".",
    "(",
    ")",
    "[",
    "]",
    ",",
    "!",
    "&&",
    "||",
    "&",
    "|",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "~",
    "!~",
    "in",
    "null",
    "true",
    "false",
    "0",
    "1",
    "-2",
    "3.5",
    "1e5",
    "-1.5e-3",
    "99999999999999999999",
    "-",
    "\"s\"",
    "'t'",
    "\"a\\\"b\"",
    "\"50\\%\"",
    "\"\\q\"",
    "\"unclosed",
    "\\",
    "é",
    "@",
    " ",
    "\n",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TOKENS), prop::bool::ANY), 0..40).prop_map(
        |tokens| {
            tokens
                .into_iter()
                .map(|(t, space)| if space { format!("{t} ") } else { t.to_owned() })
                .collect()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(source in any::<String>()) {
        check_source(&source)?;
    }

    #[test]
    fn parse_never_panics_on_printable_text(source in "\\PC{0,200}") {
        check_source(&source)?;
    }

    #[test]
    fn parse_never_panics_on_expression_like_text(
        source in "[a-z_.()\\[\\]!&|=<>~\"'\\\\%, 0-9e-]{0,120}"
    ) {
        check_source(&source)?;
    }

    #[test]
    fn parse_never_panics_on_token_soups(source in token_soup()) {
        check_source(&source)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn parse_never_panics_on_text_around_the_length_limit(
        source in "[(!a=1&|\" ]{4000,4200}"
    ) {
        check_source(&source)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Random trees

fn identifier() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("keywords are not identifiers", |s| {
        !matches!(s.as_str(), "true" | "false" | "null" | "in")
    })
}

fn path() -> impl Strategy<Value = Operand> {
    prop::collection::vec(identifier(), 1..=3)
        .prop_map(|segments| Operand::Path(Path { segments, at: 0 }))
}

/// Strings that stress the printer: quotes, backslashes, LIKE escapes, control characters and
/// unicode, as well as arbitrary text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec![
                "\"", "'", "\\", "\\%", "\\_", "%", "_", "\n", "\t", "\r", "\0", "é", "日本", "🦀",
                "\u{200b}", " ", "a", "&&", "||", "(", "]",
            ]),
            0..8
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        prop::sample::select(vec![
            0.0,
            -0.0,
            0.5,
            -1.5,
            1e300,
            -1e-300,
            5e-324,
            f64::MAX,
            f64::MIN,
            1e16,
            1e17,
            123456789.125,
        ]),
    ]
}

fn scalar() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        prop::sample::select(vec![0i64, -1, 1, i64::MIN, i64::MAX]).prop_map(Literal::Int),
        float().prop_map(Literal::Float),
        text().prop_map(Literal::Str),
    ]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        3 => path(),
        3 => scalar().prop_map(|l| Operand::Literal(l, 0)),
        1 => prop::collection::vec(scalar(), 0..5)
            .prop_map(|items| Operand::Literal(Literal::Array(items), 0)),
    ]
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Like,
        CmpOp::NotLike,
    ])
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        3 => (operand(), cmp_op(), operand()).prop_map(|(left, op, right)| Expr::Compare {
            left,
            op,
            right,
            at: 0,
        }),
        1 => (operand(), operand()).prop_map(|(left, right)| Expr::In { left, right, at: 0 }),
    ]
}

/// Trees as the parser builds them: `&&` and `||` have at least two items.
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 2..5).prop_map(Expr::And),
            prop::collection::vec(inner, 2..5).prop_map(Expr::Or),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn printed_trees_parse_back_to_themselves_and_print_identically(
        expr in expr().prop_filter("within the limits", fits)
    ) {
        let printed = expr.to_string();
        let parsed = match parse(&printed) {
            Ok(parsed) => parsed,
            Err(error) => {
                return Err(TestCaseError::fail(format!("`{printed}` does not parse: {error:?}")));
            }
        };
        prop_assert_eq!(strip(&parsed), strip(&expr), "printed: {}", printed);
        prop_assert_eq!(parsed.to_string(), printed);
        prop_assert_eq!(parsed.node_count(), expr.node_count());
    }

    #[test]
    fn string_literals_survive_printing_exactly(s in text()) {
        let expr = Expr::Compare {
            left: Operand::Path(Path { segments: vec!["a".into()], at: 0 }),
            op: CmpOp::Eq,
            right: Operand::Literal(Literal::Str(s.clone()), 0),
            at: 0,
        };
        prop_assume!(expr.to_string().len() <= MAX_EXPRESSION_BYTES);
        match parse(&expr.to_string()) {
            Ok(Expr::Compare { right: Operand::Literal(Literal::Str(back), _), .. }) => {
                prop_assert_eq!(back, s);
            }
            other => return Err(TestCaseError::fail(format!("{expr} parsed as {other:?}"))),
        }
    }

    #[test]
    fn number_literals_survive_printing_exactly(i in any::<i64>(), x in float()) {
        let parsed = parse(&format!("a in [{}, {}]", Literal::Int(i), Literal::Float(x))).unwrap();
        let Expr::In { right: Operand::Literal(Literal::Array(items), _), .. } = parsed else {
            return Err(TestCaseError::fail("not an in"));
        };
        prop_assert_eq!(&items[0], &Literal::Int(i));
        match items[1] {
            Literal::Float(back) => prop_assert_eq!(back.to_bits(), x.to_bits()),
            ref other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
    }
}

/// The print form adds spaces and parentheses, so a text within the limits can print to one
/// beyond them; then the re-parse fails with the limit, never with a syntax error.
#[test]
fn printing_can_exceed_the_limits_but_never_breaks_syntax() {
    // `!a = 1` prints as `!(a = 1)`: two levels for one.
    let nots = format!("{}a = 1", "!".repeat(MAX_DEPTH / 2 + 1));
    let expr = parse(&nots).unwrap();
    assert_eq!(printed_depth(&expr), MAX_DEPTH + 2);
    let error = parse(&expr.to_string()).unwrap_err();
    assert_eq!(error.message, "The expression nests deeper than 32 levels.");
    let nots = format!("{}a = 1", "!".repeat(MAX_DEPTH / 2));
    assert!(parse(&parse(&nots).unwrap().to_string()).is_ok());

    let long = format!("a = \"{}\" && b=1", "x".repeat(MAX_EXPRESSION_BYTES - 16));
    assert!(long.len() <= MAX_EXPRESSION_BYTES);
    let expr = parse(&long).unwrap();
    let error = parse(&expr.to_string()).unwrap_err();
    assert_eq!(
        error.message,
        "The expression is 4097 bytes long; the limit is 4096."
    );
}
