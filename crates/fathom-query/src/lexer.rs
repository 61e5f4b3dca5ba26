//! Turns expression text into tokens, each with its byte offset.

use crate::error::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    True,
    False,
    Null,
    In,
    And,
    Or,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    NotLike,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eof,
}

impl Token {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Ident(name) => format!("`{name}`"),
            Self::Str(_) => "a string".into(),
            Self::Int(_) | Self::Float(_) => "a number".into(),
            Self::True | Self::False => "a boolean".into(),
            Self::Null => "`null`".into(),
            Self::In => "`in`".into(),
            Self::And => "`&&`".into(),
            Self::Or => "`||`".into(),
            Self::Not => "`!`".into(),
            Self::Eq => "`=`".into(),
            Self::Ne => "`!=`".into(),
            Self::Lt => "`<`".into(),
            Self::Le => "`<=`".into(),
            Self::Gt => "`>`".into(),
            Self::Ge => "`>=`".into(),
            Self::Like => "`~`".into(),
            Self::NotLike => "`!~`".into(),
            Self::LParen => "`(`".into(),
            Self::RParen => "`)`".into(),
            Self::LBracket => "`[`".into(),
            Self::RBracket => "`]`".into(),
            Self::Comma => "`,`".into(),
            Self::Dot => "`.`".into(),
            Self::Eof => "the end of the expression".into(),
        }
    }
}

pub(crate) fn tokenize(source: &str) -> Result<Vec<(Token, usize)>, QueryError> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let two = |next: u8| bytes.get(i + 1) == Some(&next);
        let (token, width) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => (Token::LParen, 1),
            b')' => (Token::RParen, 1),
            b'[' => (Token::LBracket, 1),
            b']' => (Token::RBracket, 1),
            b',' => (Token::Comma, 1),
            b'.' => (Token::Dot, 1),
            b'~' => (Token::Like, 1),
            b'=' if two(b'=') => (Token::Eq, 2),
            b'=' => (Token::Eq, 1),
            b'!' if two(b'=') => (Token::Ne, 2),
            b'!' if two(b'~') => (Token::NotLike, 2),
            b'!' => (Token::Not, 1),
            b'<' if two(b'=') => (Token::Le, 2),
            b'<' => (Token::Lt, 1),
            b'>' if two(b'=') => (Token::Ge, 2),
            b'>' => (Token::Gt, 1),
            b'&' if two(b'&') => (Token::And, 2),
            b'|' if two(b'|') => (Token::Or, 2),
            b'"' | b'\'' => {
                let (text, end) = string(source, i)?;
                tokens.push((Token::Str(text), start));
                i = end;
                continue;
            }
            b'0'..=b'9' | b'-' => {
                let (token, end) = number(source, i)?;
                tokens.push((token, start));
                i = end;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                    .map_or(bytes.len(), |n| i + n);
                let word = &source[i..end];
                let token = match word {
                    "true" => Token::True,
                    "false" => Token::False,
                    "null" => Token::Null,
                    "in" => Token::In,
                    _ => Token::Ident(word.to_owned()),
                };
                tokens.push((token, start));
                i = end;
                continue;
            }
            _ => {
                let shown = source[i..].chars().next().unwrap_or('?');
                let hint = match shown {
                    '&' => "Use `&&` for \"and\".",
                    '|' => "Use `||` for \"or\".",
                    _ => {
                        "Expressions use fields, values, comparisons (= != < <= > >= ~ !~ in) and && || ! with parentheses."
                    }
                };
                return Err(QueryError::at(
                    source,
                    i,
                    format!("Unexpected character `{shown}`."),
                    hint,
                ));
            }
        };
        tokens.push((token, start));
        i += width;
    }
    tokens.push((Token::Eof, source.len()));
    Ok(tokens)
}

fn string(source: &str, start: usize) -> Result<(String, usize), QueryError> {
    let quote = source.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = source[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, start + 1 + offset + 1)),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, escaped @ ('"' | '\'' | '\\'))) => out.push(escaped),
                // Keep `\%` and `\_` as written: they escape LIKE wildcards.
                Some((_, escaped @ ('%' | '_'))) => {
                    out.push('\\');
                    out.push(escaped);
                }
                Some((at, other)) => {
                    return Err(QueryError::at(
                        source,
                        start + 1 + at,
                        format!("Unknown escape `\\{other}` in a string."),
                        "Strings understand \\\" \\' \\\\ \\n \\t \\r, and \\% \\_ in ~ patterns.",
                    ));
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(QueryError::at(
        source,
        start,
        "This string is never closed.",
        format!("End it with {quote}."),
    ))
}

fn number(source: &str, start: usize) -> Result<(Token, usize), QueryError> {
    let bytes = source.as_bytes();
    let mut end = start;
    if bytes[end] == b'-' {
        end += 1;
    }
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let integer = digits(end);
    if integer == 0 {
        return Err(QueryError::at(
            source,
            start,
            "A `-` must start a number.",
            "Write negative numbers like -5; there is no arithmetic.",
        ));
    }
    end += integer;
    let mut float = false;
    if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        float = true;
        end += 1 + digits(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exp = end + 1;
        if matches!(bytes.get(exp), Some(b'+' | b'-')) {
            exp += 1;
        }
        if digits(exp) > 0 {
            float = true;
            end = exp + digits(exp);
        }
    }
    let text = &source[start..end];
    let invalid = || {
        QueryError::at(
            source,
            start,
            format!("`{text}` is not a number this language can hold."),
            "Integers fit in 64 bits; use a smaller value.",
        )
    };
    let token = if float {
        Token::Float(
            text.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(invalid)?,
        )
    } else {
        Token::Int(text.parse::<i64>().map_err(|_| invalid())?)
    };
    Ok((token, end))
}
