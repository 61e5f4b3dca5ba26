//! Recursive-descent parser with precedence `!` > comparison > `&&` > `||`. Length, node count and
//! nesting depth are bounded, so no input can exhaust the stack.

use crate::ast::{CmpOp, Expr, Literal, Operand, Path};
use crate::error::QueryError;
use crate::lexer::{Token, tokenize};
use crate::{MAX_DEPTH, MAX_EXPRESSION_BYTES, MAX_NODES};

/// Parses an expression.
pub fn parse(source: &str) -> Result<Expr, QueryError> {
    if source.len() > MAX_EXPRESSION_BYTES {
        return Err(QueryError::at(
            source,
            MAX_EXPRESSION_BYTES,
            format!(
                "The expression is {} bytes long; the limit is {MAX_EXPRESSION_BYTES}.",
                source.len()
            ),
            "Shorten it, or use `in [...]` instead of many `||` comparisons.",
        ));
    }
    if source.trim().is_empty() {
        return Err(QueryError::at(
            source,
            0,
            "The expression is empty.",
            "Write a comparison such as status = \"paid\".",
        ));
    }
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        source,
        tokens,
        pos: 0,
        depth: 0,
    };
    let expr = parser.or()?;
    if parser.peek() != &Token::Eof {
        return Err(parser.unexpected("`&&`, `||` or the end of the expression"));
    }
    let nodes = expr.node_count();
    if nodes > MAX_NODES {
        return Err(QueryError::at(
            source,
            0,
            format!("The expression has {nodes} parts; the limit is {MAX_NODES}."),
            "Simplify it, for example with `in [...]` lists.",
        ));
    }
    Ok(expr)
}

struct Parser<'s> {
    source: &'s str,
    tokens: Vec<(Token, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).map_or(&Token::Eof, |(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.source.len(), |(_, at)| *at)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        self.pos += 1;
        token
    }

    fn unexpected(&self, expected: &str) -> QueryError {
        QueryError::at(
            self.source,
            self.offset(),
            format!("Expected {expected}, but found {}.", self.peek().describe()),
            "Comparisons look like `field = \"value\"`; combine them with && || ! and parentheses.",
        )
    }

    /// Enters one level of nesting, opened by the token at byte offset `at`.
    fn nest(&mut self, at: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::at(
                self.source,
                at,
                format!("The expression nests deeper than {MAX_DEPTH} levels."),
                "Remove redundant parentheses or negations.",
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.and()?];
        while self.peek() == &Token::Or {
            self.advance();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.unary()?];
        while self.peek() == &Token::And {
            self.advance();
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        match self.peek() {
            Token::Not => {
                let at = self.offset();
                self.advance();
                self.nest(at)?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(inner)))
            }
            Token::LParen => {
                let at = self.offset();
                self.advance();
                self.nest(at)?;
                let inner = self.or()?;
                self.depth -= 1;
                if self.advance() != Token::RParen {
                    self.pos -= 1;
                    return Err(self.unexpected("`)`"));
                }
                Ok(inner)
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.operand()?;
        let at = self.offset();
        let op = match self.peek() {
            Token::Eq => CmpOp::Eq,
            Token::Ne => CmpOp::Ne,
            Token::Lt => CmpOp::Lt,
            Token::Le => CmpOp::Le,
            Token::Gt => CmpOp::Gt,
            Token::Ge => CmpOp::Ge,
            Token::Like => CmpOp::Like,
            Token::NotLike => CmpOp::NotLike,
            Token::In => {
                self.advance();
                let right = self.operand()?;
                return Ok(Expr::In { left, right, at });
            }
            _ => return Err(self.unexpected("a comparison (= != < <= > >= ~ !~ in)")),
        };
        self.advance();
        let right = self.operand()?;
        Ok(Expr::Compare {
            left,
            op,
            right,
            at,
        })
    }

    fn operand(&mut self) -> Result<Operand, QueryError> {
        let at = self.offset();
        match self.peek().clone() {
            Token::Ident(first) => {
                self.advance();
                let mut segments = vec![first];
                while self.peek() == &Token::Dot {
                    self.advance();
                    match self.advance() {
                        Token::Ident(next) => segments.push(next),
                        _ => {
                            self.pos -= 1;
                            return Err(self.unexpected("a field name after `.`"));
                        }
                    }
                }
                Ok(Operand::Path(Path { segments, at }))
            }
            Token::LBracket => {
                self.advance();
                let mut items = Vec::new();
                if self.peek() != &Token::RBracket {
                    loop {
                        if !is_value(self.peek()) {
                            return Err(QueryError::at(
                                self.source,
                                self.offset(),
                                format!("Expected a value, but found {}.", self.peek().describe()),
                                "A list holds values only, such as [\"paid\", \"shipped\"] or [1, 2].",
                            ));
                        }
                        items.push(self.scalar()?);
                        match self.advance() {
                            Token::Comma => continue,
                            Token::RBracket => break,
                            _ => {
                                self.pos -= 1;
                                return Err(self.unexpected("`,` or `]`"));
                            }
                        }
                    }
                } else {
                    self.advance();
                }
                Ok(Operand::Literal(Literal::Array(items), at))
            }
            _ => Ok(Operand::Literal(self.scalar()?, at)),
        }
    }

    fn scalar(&mut self) -> Result<Literal, QueryError> {
        let literal = match self.peek() {
            Token::Str(s) => Literal::Str(s.clone()),
            Token::Int(i) => Literal::Int(*i),
            Token::Float(x) => Literal::Float(*x),
            Token::True => Literal::Bool(true),
            Token::False => Literal::Bool(false),
            Token::Null => Literal::Null,
            _ => return Err(self.unexpected("a field or a value")),
        };
        self.advance();
        Ok(literal)
    }
}

/// Whether a token is a scalar value (what a list may hold).
fn is_value(token: &Token) -> bool {
    matches!(
        token,
        Token::Str(_) | Token::Int(_) | Token::Float(_) | Token::True | Token::False | Token::Null
    )
}
