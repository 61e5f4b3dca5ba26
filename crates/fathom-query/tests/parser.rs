//! The parser: precedence, every operator and literal form, string escapes, numbers, paths, `in`
//! lists, and every error with its column, message and hint. The canonical print form
//! (`Display`, fully parenthesised) is how most expectations are written.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use fathom_query::ast::{CmpOp, Expr, Literal, Operand};
use fathom_query::{MAX_DEPTH, MAX_EXPRESSION_BYTES, MAX_NODES, QueryError, parse};

/// The canonical form of a valid expression.
fn printed(source: &str) -> String {
    match parse(source) {
        Ok(expr) => expr.to_string(),
        Err(error) => panic!("expected `{source}` to parse, got {error:?}"),
    }
}

fn error(source: &str) -> QueryError {
    match parse(source) {
        Ok(expr) => panic!("expected `{source}` to be refused, got {expr}"),
        Err(error) => error,
    }
}

/// Checks an error's column, message and hint at once.
fn assert_error(source: &str, column: usize, message: &str, hint: &str) {
    let error = error(source);
    assert_eq!(
        (error.column, error.message.as_str(), error.hint.as_str()),
        (column, message, hint),
        "for `{source}`"
    );
}

/// The single comparison an expression parses to.
fn comparison(source: &str) -> (Operand, CmpOp, Operand) {
    match parse(source) {
        Ok(Expr::Compare {
            left, op, right, ..
        }) => (left, op, right),
        other => panic!("expected `{source}` to be one comparison, got {other:?}"),
    }
}

/// The literal on the right of `x = <literal>`.
fn literal(text: &str) -> Literal {
    match comparison(&format!("x = {text}")).2 {
        Operand::Literal(literal, _) => literal,
        other => panic!("expected a literal, got {other:?}"),
    }
}

fn string(text: &str) -> String {
    match literal(text) {
        Literal::Str(s) => s,
        other => panic!("expected a string, got {other:?}"),
    }
}

const GENERIC_HINT: &str =
    "Comparisons look like `field = \"value\"`; combine them with && || ! and parentheses.";

// ---------------------------------------------------------------------------------------------
// Precedence and grouping

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(
        printed("a = 1 || b = 2 && c = 3"),
        "(a = 1 || (b = 2 && c = 3))"
    );
    assert_eq!(
        printed("a = 1 && b = 2 || c = 3"),
        "((a = 1 && b = 2) || c = 3)"
    );
    assert_eq!(
        printed("a = 1 && b = 2 || c = 3 && d = 4"),
        "((a = 1 && b = 2) || (c = 3 && d = 4))"
    );
}

#[test]
fn parentheses_override_precedence() {
    assert_eq!(
        printed("(a = 1 || b = 2) && c = 3"),
        "((a = 1 || b = 2) && c = 3)"
    );
    assert_eq!(
        printed("a = 1 && (b = 2 || c = 3)"),
        "(a = 1 && (b = 2 || c = 3))"
    );
}

#[test]
fn chains_of_one_operator_are_flat_and_redundant_parentheses_vanish() {
    let expr = parse("a = 1 && b = 2 && c = 3").unwrap();
    assert!(
        matches!(&expr, Expr::And(items) if items.len() == 3),
        "{expr:?}"
    );
    let expr = parse("a = 1 || b = 2 || c = 3 || d = 4").unwrap();
    assert!(
        matches!(&expr, Expr::Or(items) if items.len() == 4),
        "{expr:?}"
    );
    assert_eq!(printed("((a = 1))"), "a = 1");
    assert_eq!(printed("(((a = 1)) && ((b = 2)))"), "(a = 1 && b = 2)");
    // Explicit grouping of the same operator is kept, not flattened.
    assert_eq!(
        printed("(a = 1 && b = 2) && c = 3"),
        "((a = 1 && b = 2) && c = 3)"
    );
}

#[test]
fn not_binds_tighter_than_and_and_applies_to_one_comparison() {
    assert_eq!(printed("!a = 1"), "!(a = 1)");
    assert_eq!(printed("!a = 1 && b = 2"), "(!(a = 1) && b = 2)");
    assert_eq!(printed("b = 2 || !a = 1"), "(b = 2 || !(a = 1))");
    assert_eq!(printed("!(a = 1 && b = 2)"), "!((a = 1 && b = 2))");
    assert_eq!(printed("!!a = 1"), "!(!(a = 1))");
    assert!(
        matches!(parse("!a = 1"), Ok(Expr::Not(inner)) if matches!(*inner, Expr::Compare { .. }))
    );
}

#[test]
fn whitespace_is_free_form() {
    assert_eq!(
        printed("a=1&&b!=2||!c~\"x\""),
        printed("a = 1 && b != 2 || !c ~ \"x\"")
    );
    assert_eq!(printed("\n\ta\r\n=\t1\n"), "a = 1");
}

// ---------------------------------------------------------------------------------------------
// Operators

#[test]
fn every_comparison_operator_parses() {
    let cases = [
        ("a = 1", CmpOp::Eq),
        ("a == 1", CmpOp::Eq),
        ("a != 1", CmpOp::Ne),
        ("a < 1", CmpOp::Lt),
        ("a <= 1", CmpOp::Le),
        ("a > 1", CmpOp::Gt),
        ("a >= 1", CmpOp::Ge),
        ("a ~ \"x%\"", CmpOp::Like),
        ("a !~ \"x%\"", CmpOp::NotLike),
    ];
    for (source, expected) in cases {
        let (left, op, _) = comparison(source);
        assert_eq!(op, expected, "for `{source}`");
        assert!(matches!(left, Operand::Path(_)), "for `{source}`");
    }
    // `==` prints as `=`; every other operator prints as written.
    assert_eq!(printed("a == 1"), "a = 1");
    for op in ["!=", "<", "<=", ">", ">=", "~", "!~"] {
        assert_eq!(printed(&format!("a {op} \"v\"")), format!("a {op} \"v\""));
    }
}

#[test]
fn operators_need_no_spaces_and_two_character_ones_win() {
    assert_eq!(printed("a<=1"), "a <= 1");
    assert_eq!(printed("a>=1"), "a >= 1");
    assert_eq!(printed("a!=1"), "a != 1");
    assert_eq!(printed("a!~'x'"), "a !~ \"x\"");
    // `a <= 1` is not `a < (=1)`; `a < =1` is an error.
    assert_error(
        "a < =1",
        5,
        "Expected a field or a value, but found `=`.",
        GENERIC_HINT,
    );
}

#[test]
fn in_takes_a_list_or_a_path_and_literals_may_be_on_the_left() {
    let expr = parse("status in [\"paid\", \"shipped\"]").unwrap();
    match expr {
        Expr::In {
            left: Operand::Path(path),
            right: Operand::Literal(Literal::Array(items), _),
            ..
        } => {
            assert_eq!(path.segments, ["status"]);
            assert_eq!(
                items,
                [Literal::Str("paid".into()), Literal::Str("shipped".into())]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(printed("x in []"), "x in []");
    assert_eq!(printed("x in [ 1 ]"), "x in [1]");
    assert_eq!(
        printed("x in [1,2.5,'s',true,false,null,-3]"),
        "x in [1, 2.5, \"s\", true, false, null, -3]"
    );
    assert_eq!(
        printed("\"admin\" in auth.roles"),
        "\"admin\" in auth.roles"
    );
    assert_eq!(printed("1 < a"), "1 < a");
    assert_eq!(printed("null = a"), "null = a");
    // Syntax allows two literals or two paths; the type check refuses what makes no sense.
    assert_eq!(printed("1 = 2"), "1 = 2");
    assert_eq!(printed("a = b"), "a = b");
    assert_eq!(printed("[1] = a"), "[1] = a");
}

#[test]
fn keywords_are_case_sensitive_and_words_containing_them_are_fields() {
    assert_eq!(printed("a = TRUE"), "a = TRUE");
    assert!(matches!(comparison("a = TRUE").2, Operand::Path(_)));
    assert!(matches!(comparison("a = nullable").2, Operand::Path(_)));
    assert!(matches!(comparison("a = true_").2, Operand::Path(_)));
    assert_eq!(printed("inside in [1]"), "inside in [1]");
    assert_eq!(printed("_a_1 = 1"), "_a_1 = 1");
}

// ---------------------------------------------------------------------------------------------
// Literals

#[test]
fn scalar_literals() {
    assert_eq!(literal("null"), Literal::Null);
    assert_eq!(literal("true"), Literal::Bool(true));
    assert_eq!(literal("false"), Literal::Bool(false));
    assert_eq!(literal("0"), Literal::Int(0));
    assert_eq!(literal("42"), Literal::Int(42));
    assert_eq!(literal("007"), Literal::Int(7));
    assert_eq!(literal("\"text\""), Literal::Str("text".into()));
    assert_eq!(literal("'text'"), Literal::Str("text".into()));
    assert_eq!(literal("\"\""), Literal::Str(String::new()));
    assert_eq!(
        literal("[]"),
        Literal::Array(vec![]),
        "an empty list is a literal"
    );
}

#[test]
fn negative_and_float_numbers() {
    assert_eq!(literal("-5"), Literal::Int(-5));
    assert_eq!(literal("-0"), Literal::Int(0));
    assert_eq!(literal("1.5"), Literal::Float(1.5));
    assert_eq!(literal("-2.25"), Literal::Float(-2.25));
    assert_eq!(literal("0.0"), Literal::Float(0.0));
    assert_eq!(literal("1e3"), Literal::Float(1000.0));
    assert_eq!(literal("1E3"), Literal::Float(1000.0));
    assert_eq!(literal("2.5e-3"), Literal::Float(0.0025));
    assert_eq!(literal("1e+2"), Literal::Float(100.0));
    assert_eq!(literal("-1.5e2"), Literal::Float(-150.0));
    assert_eq!(literal("9223372036854775807"), Literal::Int(i64::MAX));
    assert_eq!(literal("-9223372036854775808"), Literal::Int(i64::MIN));
    assert_eq!(literal("5e-324"), Literal::Float(5e-324));
    // Floats always print with a point or an exponent, so they stay floats.
    assert_eq!(printed("a = 1.0"), "a = 1.0");
    assert_eq!(printed("a = 1e3"), "a = 1000.0");
    assert_eq!(printed("a = 1e300"), "a = 1e300");
    assert_eq!(printed("a = -2.5e-7"), "a = -2.5e-7");
    // A minus right after a comparison operator is the sign of the number.
    assert_eq!(printed("a>-1"), "a > -1");
    assert_eq!(printed("a=-1.5"), "a = -1.5");
}

#[test]
fn a_number_is_not_followed_by_a_dot_or_letters() {
    // `1.` is the integer 1 and then a `.`; `.5` starts with a `.`.
    assert_error(
        "a = 1.",
        6,
        "Expected `&&`, `||` or the end of the expression, but found `.`.",
        GENERIC_HINT,
    );
    assert_error(
        "a = .5",
        5,
        "Expected a field or a value, but found `.`.",
        GENERIC_HINT,
    );
    assert_error(
        "a = 1e",
        6,
        "Expected `&&`, `||` or the end of the expression, but found `e`.",
        GENERIC_HINT,
    );
}

#[test]
fn string_escapes() {
    assert_eq!(string(r#""a\"b""#), "a\"b");
    assert_eq!(string(r"'it\'s'"), "it's");
    assert_eq!(string(r#""it's""#), "it's");
    assert_eq!(string(r#"'say "hi"'"#), "say \"hi\"");
    assert_eq!(string(r#""back\\slash""#), "back\\slash");
    assert_eq!(string(r#""\n\t\r""#), "\n\t\r");
    assert_eq!(string(r#""\\""#), "\\");
    // `\%` and `\_` stay escaped: they are for `~` patterns.
    assert_eq!(string(r#""50\%""#), "50\\%");
    assert_eq!(string(r#""a\_b""#), "a\\_b");
    // Anything else, including raw newlines and unicode, is taken as written.
    assert_eq!(string("\"héllo ✓ 日本\""), "héllo ✓ 日本");
    assert_eq!(string("\"line\nbreak\""), "line\nbreak");
    assert_eq!(string("\"&& || ( ) [ ] ,\""), "&& || ( ) [ ] ,");
}

#[test]
fn strings_print_with_double_quotes_and_minimal_escapes() {
    assert_eq!(printed(r"a = 'it\'s'"), r#"a = "it's""#);
    assert_eq!(printed(r#"a = 'say "hi"'"#), r#"a = "say \"hi\"""#);
    assert_eq!(printed(r#"a = "\\ \n \t \r""#), r#"a = "\\ \n \t \r""#);
    assert_eq!(printed(r#"a ~ "50\%""#), r#"a ~ "50\\%""#);
    assert_eq!(printed("a = \"日本\""), "a = \"日本\"");
}

// ---------------------------------------------------------------------------------------------
// Paths

#[test]
fn relation_paths_keep_their_segments_and_position() {
    let (left, _, _) = comparison("  customer.tier = \"gold\"");
    match left {
        Operand::Path(path) => {
            assert_eq!(path.segments, ["customer", "tier"]);
            assert_eq!(path.at, 2, "the byte offset of the path");
        }
        other => panic!("unexpected {other:?}"),
    }
    // The parser takes any depth; the type check limits relation hops.
    let (left, _, _) = comparison("a.b.c.d = 1");
    assert!(matches!(left, Operand::Path(p) if p.segments == ["a", "b", "c", "d"]));
    assert_eq!(printed("auth . id = owner"), "auth.id = owner");
    assert_eq!(
        printed("request.body.total >= 10"),
        "request.body.total >= 10"
    );
}

#[test]
fn positions_are_byte_offsets_of_the_operand_and_the_operator() {
    let expr = parse("ab = 'é' && c in [1]").unwrap();
    let Expr::And(items) = expr else {
        panic!("expected an and")
    };
    match &items[0] {
        Expr::Compare {
            left: Operand::Path(path),
            right: Operand::Literal(_, lit_at),
            at,
            ..
        } => assert_eq!((path.at, *at, *lit_at), (0, 3, 5)),
        other => panic!("unexpected {other:?}"),
    }
    match &items[1] {
        Expr::In {
            right: Operand::Literal(_, lit_at),
            at,
            ..
        } => assert_eq!((*at, *lit_at), (15, 18)),
        other => panic!("unexpected {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn empty_expressions() {
    let message = "The expression is empty.";
    let hint = "Write a comparison such as status = \"paid\".";
    assert_error("", 1, message, hint);
    assert_error("   \n\t ", 1, message, hint);
}

#[test]
fn unexpected_tokens() {
    assert_error(
        "a = ",
        5,
        "Expected a field or a value, but found the end of the expression.",
        GENERIC_HINT,
    );
    assert_error(
        "a = 1 b = 2",
        7,
        "Expected `&&`, `||` or the end of the expression, but found `b`.",
        GENERIC_HINT,
    );
    assert_error(
        "a 1",
        3,
        "Expected a comparison (= != < <= > >= ~ !~ in), but found a number.",
        GENERIC_HINT,
    );
    assert_error(
        "a",
        2,
        "Expected a comparison (= != < <= > >= ~ !~ in), but found the end of the expression.",
        GENERIC_HINT,
    );
    assert_error(
        "a = 1 &&",
        9,
        "Expected a field or a value, but found the end of the expression.",
        GENERIC_HINT,
    );
    assert_error(
        "&& a = 1",
        1,
        "Expected a field or a value, but found `&&`.",
        GENERIC_HINT,
    );
    assert_error(
        "a = 1 || || b = 2",
        10,
        "Expected a field or a value, but found `||`.",
        GENERIC_HINT,
    );
    assert_error(
        "(a = 1",
        7,
        "Expected `)`, but found the end of the expression.",
        GENERIC_HINT,
    );
    assert_error("(a = 1 b", 8, "Expected `)`, but found `b`.", GENERIC_HINT);
    assert_error(
        "a = 1)",
        6,
        "Expected `&&`, `||` or the end of the expression, but found `)`.",
        GENERIC_HINT,
    );
    assert_error(
        "()",
        2,
        "Expected a field or a value, but found `)`.",
        GENERIC_HINT,
    );
    assert_error(
        "a. = 1",
        4,
        "Expected a field name after `.`, but found `=`.",
        GENERIC_HINT,
    );
    assert_error(
        "a.1 = 1",
        3,
        "Expected a field name after `.`, but found a number.",
        GENERIC_HINT,
    );
    assert_error(
        "a = true = b",
        10,
        "Expected `&&`, `||` or the end of the expression, but found `=`.",
        GENERIC_HINT,
    );
    assert_error(
        "a = !b",
        5,
        "Expected a field or a value, but found `!`.",
        GENERIC_HINT,
    );
    assert_error(
        "a in",
        5,
        "Expected a field or a value, but found the end of the expression.",
        GENERIC_HINT,
    );
}

#[test]
fn malformed_in_lists() {
    assert_error(
        "x in [1 2]",
        9,
        "Expected `,` or `]`, but found a number.",
        GENERIC_HINT,
    );
    let list_hint = "A list holds values only, such as [\"paid\", \"shipped\"] or [1, 2].";
    assert_error(
        "x in [1,]",
        9,
        "Expected a value, but found `]`.",
        list_hint,
    );
    assert_error(
        "x in [1",
        8,
        "Expected `,` or `]`, but found the end of the expression.",
        GENERIC_HINT,
    );
    assert_error(
        "x in [[1]]",
        7,
        "Expected a value, but found `[`.",
        list_hint,
    );
    // A list holds values only: a field in it is refused with a message that says so.
    assert_error(
        "x in [a, b]",
        7,
        "Expected a value, but found `a`.",
        list_hint,
    );
    assert_error(
        "x in [-]",
        7,
        "A `-` must start a number.",
        "Write negative numbers like -5; there is no arithmetic.",
    );
}

#[test]
fn unexpected_characters_with_tailored_hints() {
    assert_error(
        "a = 1 & b = 2",
        7,
        "Unexpected character `&`.",
        "Use `&&` for \"and\".",
    );
    assert_error(
        "a = 1 | b = 2",
        7,
        "Unexpected character `|`.",
        "Use `||` for \"or\".",
    );
    let generic = "Expressions use fields, values, comparisons (= != < <= > >= ~ !~ in) and && || ! with parentheses.";
    assert_error("a = 1 ; b", 7, "Unexpected character `;`.", generic);
    assert_error("a = `b`", 5, "Unexpected character ```.", generic);
    // Columns count characters, not bytes.
    assert_error("'é✓' = a @", 10, "Unexpected character `@`.", generic);
    assert_error("é = 1", 1, "Unexpected character `é`.", generic);
    assert_error("a = 1 + 2", 7, "Unexpected character `+`.", generic);
}

#[test]
fn unclosed_strings() {
    assert_error(
        "name = \"abc",
        8,
        "This string is never closed.",
        "End it with \".",
    );
    assert_error(
        "name = 'abc\"",
        8,
        "This string is never closed.",
        "End it with '.",
    );
    // A backslash escapes the closing quote, or stands last with nothing to escape.
    assert_error(
        r#"name = "abc\""#,
        8,
        "This string is never closed.",
        "End it with \".",
    );
    assert_error(
        r#"'né' = x && name = "abc\"#,
        20,
        "This string is never closed.",
        "End it with \".",
    );
}

#[test]
fn unknown_escapes() {
    let hint = "Strings understand \\\" \\' \\\\ \\n \\t \\r, and \\% \\_ in ~ patterns.";
    assert_error(
        r#"name = "a\qb""#,
        11,
        "Unknown escape `\\q` in a string.",
        hint,
    );
    assert_error(
        r#"name = 'é\u0041'"#,
        11,
        "Unknown escape `\\u` in a string.",
        hint,
    );
    assert_error(
        "name = \"\\é\"",
        10,
        "Unknown escape `\\é` in a string.",
        hint,
    );
}

#[test]
fn bad_numbers() {
    let hint = "Integers fit in 64 bits; use a smaller value.";
    assert_error(
        "n = 9223372036854775808",
        5,
        "`9223372036854775808` is not a number this language can hold.",
        hint,
    );
    assert_error(
        "n = -9223372036854775809",
        5,
        "`-9223372036854775809` is not a number this language can hold.",
        hint,
    );
    assert_error(
        "n = 1e999",
        5,
        "`1e999` is not a number this language can hold.",
        hint,
    );
    assert_error(
        "n = -x",
        5,
        "A `-` must start a number.",
        "Write negative numbers like -5; there is no arithmetic.",
    );
    assert_error(
        "n = - 5",
        5,
        "A `-` must start a number.",
        "Write negative numbers like -5; there is no arithmetic.",
    );
}

#[test]
fn expressions_longer_than_the_limit_are_refused_before_lexing() {
    let hint = "Shorten it, or use `in [...]` instead of many `||` comparisons.";
    // Exactly at the limit is accepted.
    let at_limit = format!("a = \"{}\"", "x".repeat(MAX_EXPRESSION_BYTES - 6));
    assert_eq!(at_limit.len(), MAX_EXPRESSION_BYTES);
    assert!(parse(&at_limit).is_ok());
    let over = format!("a = \"{}\"", "x".repeat(MAX_EXPRESSION_BYTES - 5));
    assert_error(
        &over,
        MAX_EXPRESSION_BYTES + 1,
        "The expression is 4097 bytes long; the limit is 4096.",
        hint,
    );
    // Even when the text would not lex, length is judged first.
    let garbage = "@".repeat(5000);
    assert_error(
        &garbage,
        MAX_EXPRESSION_BYTES + 1,
        "The expression is 5000 bytes long; the limit is 4096.",
        hint,
    );
    // The column counts characters, also when the limit falls inside a multi-byte character
    // (here the `é` at bytes 4095..4097): it points at that character.
    let wide = format!("a = \"{}\"", "é".repeat(2100));
    let error = error(&wide);
    assert_eq!(
        error.message,
        "The expression is 4206 bytes long; the limit is 4096."
    );
    assert_eq!(error.column, 5 + (MAX_EXPRESSION_BYTES - 5) / 2 + 1);
    let odd = format!("a = \"{}\"", "é".repeat(2100)).replacen('a', "ab", 1);
    let error = self::error(&odd);
    assert_eq!(error.column, 6 + (MAX_EXPRESSION_BYTES - 6) / 2 + 1);
}

#[test]
fn expressions_with_too_many_nodes_are_refused() {
    let hint = "Simplify it, for example with `in [...]` lists.";
    // `a in [..]` is 1 (in) + 1 (path) + 1 (list) + one per item.
    let list = |n: usize| {
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("a in [{}]", items.join(","))
    };
    assert_eq!(parse(&list(MAX_NODES - 3)).unwrap().node_count(), MAX_NODES);
    assert_error(
        &list(MAX_NODES - 2),
        1,
        "The expression has 201 parts; the limit is 200.",
        hint,
    );
    // 67 comparisons of 3 nodes joined by one `&&` node: 202.
    let chain = vec!["a = 1"; 67].join(" && ");
    assert_error(
        &chain,
        1,
        "The expression has 202 parts; the limit is 200.",
        hint,
    );
    let chain = vec!["a=1"; 66].join("&&");
    assert_eq!(parse(&chain).unwrap().node_count(), 199);
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    let hint = "Remove redundant parentheses or negations.";
    let message = "The expression nests deeper than 32 levels.";
    let parens = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(printed(&parens(MAX_DEPTH)), "a = 1");
    // The column points at the `(` that goes one level too deep.
    assert_error(&parens(MAX_DEPTH + 1), MAX_DEPTH + 1, message, hint);
    let nots = |n: usize| format!("{}a = 1", "!".repeat(n));
    assert!(parse(&nots(MAX_DEPTH)).is_ok());
    assert_error(&nots(MAX_DEPTH + 1), MAX_DEPTH + 1, message, hint);
    // Mixed: `!(` counts two levels.
    let mixed = |n: usize| format!("{}a = 1{}", "!(".repeat(n), ")".repeat(n));
    assert!(parse(&mixed(MAX_DEPTH / 2)).is_ok());
    assert_error(&mixed(MAX_DEPTH / 2 + 1), MAX_DEPTH + 1, message, hint);
    // Deep nesting inside a list of alternatives.
    let deep_or = format!("b = 2 || {}", parens(MAX_DEPTH + 1));
    assert_error(&deep_or, 10 + MAX_DEPTH, message, hint);
}

#[test]
fn pathological_inputs_return_errors_without_exhausting_the_stack() {
    // Run on a thread with a small stack, so that unbounded recursion would overflow it.
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            for c in ["(", "!", "[", "!(", "-", "\"", "a.", "a=1&&", "a=1||"] {
                for n in [100, 1000, MAX_EXPRESSION_BYTES / c.len(), 100_000] {
                    let source = c.repeat(n);
                    assert!(parse(&source).is_err(), "{c} × {n}");
                }
            }
            // Within the byte limit, nesting is what stops it.
            let error = parse(&"(".repeat(MAX_EXPRESSION_BYTES)).unwrap_err();
            assert_eq!(error.message, "The expression nests deeper than 32 levels.");
            let error = parse(&"!".repeat(MAX_EXPRESSION_BYTES)).unwrap_err();
            assert_eq!(error.message, "The expression nests deeper than 32 levels.");
            let error = parse(&"(".repeat(100_000)).unwrap_err();
            assert_eq!(
                error.message,
                "The expression is 100000 bytes long; the limit is 4096."
            );
            let error = parse(&"!".repeat(100_000)).unwrap_err();
            assert_eq!(
                error.message,
                "The expression is 100000 bytes long; the limit is 4096."
            );
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn every_error_reads_as_sentences_and_points_inside_the_text() {
    let sources = [
        "",
        "a",
        "a =",
        "a = 1 b",
        "(a = 1",
        "a = \"x",
        "a = \"\\q\"",
        "a = 99999999999999999999",
        "a & b",
        "a = [1,",
        "x in [[",
        "a..b = 1",
        "a = 1 &&& b = 2",
        "!",
        "!()",
        "a ~",
    ];
    for source in sources {
        let error = error(source);
        assert!(error.message.ends_with('.'), "{error:?}");
        assert!(error.hint.ends_with('.'), "{error:?}");
        assert!(
            error.column >= 1 && error.column <= source.chars().count() + 1,
            "{source:?}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("at column {}: {}", error.column, error.message)
        );
    }
}
