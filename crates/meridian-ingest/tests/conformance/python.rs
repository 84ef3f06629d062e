//! The part of Python's expression syntax that feedparser's `Expect:` lines
//! are written in: names, string, number, tuple, list and dict literals,
//! subscripts, attributes, calls, `+`, comparisons (chained as in Python),
//! `not`, `and`, `or`. Only parsing happens here; what an expression means
//! for Meridian is decided by the caller, which walks the [`Expr`].

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// `a == b == c`: the first operand, then each operator with the operand
    /// on its right.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    Add(Box<Expr>, Box<Expr>),
    Name(String),
    Str(String),
    Int(i64),
    Float(f64),
    Tuple(Vec<Expr>),
    List(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Index(Box<Expr>, Box<Expr>),
    Attr(Box<Expr>, String),
    Call(Box<Expr>, Vec<Expr>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    Gt,
    LtE,
    GtE,
    In,
    NotIn,
    Is,
    IsNot,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(&'static str),
}

/// Parses one expression.
///
/// # Errors
/// A message naming what could not be read, for syntax outside the subset.
pub fn parse(src: &str) -> Result<Expr, String> {
    let tokens = tokenize(src)?;
    let mut p = Parser { tokens, pos: 0 };
    let e = p.or()?;
    match p.tokens.get(p.pos) {
        None => Ok(e),
        Some(t) => Err(format!("unexpected {t:?} after the expression")),
    }
}

const OPS: [&str; 17] = [
    "==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", "+", "-",
];

fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // A string literal, with an optional prefix (`u`, `b`, `r`).
        let mut j = i;
        while j < chars.len() && matches!(chars[j], 'u' | 'U' | 'b' | 'B' | 'r' | 'R') {
            j += 1;
        }
        if j < chars.len() && matches!(chars[j], '\'' | '"') && j - i <= 2 {
            let raw = chars[i..j].iter().any(|c| matches!(c, 'r' | 'R'));
            let (s, end) = string_literal(&chars, j, raw)?;
            out.push(Token::Str(s));
            i = end;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Name(chars[start..i].iter().collect()));
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(if text.contains('.') {
                Token::Float(text.parse().map_err(|e| format!("number `{text}`: {e}"))?)
            } else {
                Token::Int(text.parse().map_err(|e| format!("number `{text}`: {e}"))?)
            });
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) else {
            return Err(format!("unexpected character `{c}`"));
        };
        out.push(Token::Op(op));
        i += op.chars().count();
    }
    Ok(out)
}

/// Reads the string literal whose opening quote is at `start`; returns its
/// value and the index after its closing quote.
fn string_literal(chars: &[char], start: usize, raw: bool) -> Result<(String, usize), String> {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let mut i = start + if triple { 3 } else { 1 };
    let mut s = String::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unterminated string".to_owned());
        };
        if c == quote
            && (!triple || (chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote)))
        {
            return Ok((s, i + if triple { 3 } else { 1 }));
        }
        if c != '\\' || raw {
            s.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = chars.get(i + 1) else {
            return Err("unterminated escape".to_owned());
        };
        i += 2;
        let mut hex = |n: usize| -> Result<char, String> {
            let digits: String = chars.get(i..i + n).unwrap_or_default().iter().collect();
            i += n;
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad escape `\\{e}{digits}`"))
        };
        match e {
            'n' => s.push('\n'),
            't' => s.push('\t'),
            'r' => s.push('\r'),
            '0' => s.push('\0'),
            '\\' | '\'' | '"' => s.push(e),
            '\n' => {}
            'x' => s.push(hex(2)?),
            'u' => s.push(hex(4)?),
            'U' => s.push(hex(8)?),
            other => {
                // Python keeps an unknown escape as written.
                s.push('\\');
                s.push(other);
            }
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&Token> {
        self.tokens.get(self.pos + n)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token::Op(o)) if *o == op)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(n)) if n == word)
    }

    fn expect_op(&mut self, op: &str) -> Result<(), String> {
        if self.is_op(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{op}`, found {:?}", self.peek()))
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.is_word("or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while self.is_word("and") {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.is_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let first = self.sum()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Some(Token::Op("==")) => CmpOp::Eq,
                Some(Token::Op("!=")) => CmpOp::NotEq,
                Some(Token::Op("<")) => CmpOp::Lt,
                Some(Token::Op(">")) => CmpOp::Gt,
                Some(Token::Op("<=")) => CmpOp::LtE,
                Some(Token::Op(">=")) => CmpOp::GtE,
                Some(Token::Name(n)) if n == "in" => CmpOp::In,
                Some(Token::Name(n))
                    if n == "not"
                        && matches!(self.peek_at(1), Some(Token::Name(m)) if m == "in") =>
                {
                    self.pos += 1;
                    CmpOp::NotIn
                }
                Some(Token::Name(n)) if n == "is" => {
                    if matches!(self.peek_at(1), Some(Token::Name(m)) if m == "not") {
                        self.pos += 1;
                        CmpOp::IsNot
                    } else {
                        CmpOp::Is
                    }
                }
                _ => break,
            };
            self.pos += 1;
            rest.push((op, self.sum()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Compare(Box::new(first), rest)
        })
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.postfix()?;
        while self.is_op("+") {
            self.pos += 1;
            let right = self.postfix()?;
            left = Expr::Add(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.atom()?;
        loop {
            if self.is_op("[") {
                self.pos += 1;
                let index = self.or()?;
                self.expect_op("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else if self.is_op(".") {
                self.pos += 1;
                match self.peek().cloned() {
                    Some(Token::Name(n)) => {
                        self.pos += 1;
                        e = Expr::Attr(Box::new(e), n);
                    }
                    other => return Err(format!("expected an attribute name, found {other:?}")),
                }
            } else if self.is_op("(") {
                self.pos += 1;
                let args = self.items(")")?;
                e = Expr::Call(Box::new(e), args);
            } else {
                return Ok(e);
            }
        }
    }

    /// Comma-separated expressions up to `close` (consumed).
    fn items(&mut self, close: &str) -> Result<Vec<Expr>, String> {
        let mut items = Vec::new();
        while !self.is_op(close) {
            items.push(self.or()?);
            if self.is_op(",") {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.expect_op(close)?;
        Ok(items)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let Some(token) = self.peek().cloned() else {
            return Err("the expression ends early".to_owned());
        };
        self.pos += 1;
        match token {
            Token::Name(n) => Ok(Expr::Name(n)),
            Token::Str(mut s) => {
                // Adjacent literals concatenate.
                while let Some(Token::Str(next)) = self.peek() {
                    s.push_str(next);
                    self.pos += 1;
                }
                Ok(Expr::Str(s))
            }
            Token::Int(i) => Ok(Expr::Int(i)),
            Token::Float(f) => Ok(Expr::Float(f)),
            Token::Op("-") => match self.atom()? {
                Expr::Int(i) => Ok(Expr::Int(-i)),
                Expr::Float(f) => Ok(Expr::Float(-f)),
                other => Err(format!("`-` before {other:?}")),
            },
            Token::Op("(") => {
                let mut items = self.items(")")?;
                // `(x)` is `x`; `(x,)` and `(x, y)` are tuples.
                let trailing_comma = matches!(self.tokens.get(self.pos - 2), Some(Token::Op(",")));
                if items.len() == 1 && !trailing_comma {
                    Ok(items.remove(0))
                } else {
                    Ok(Expr::Tuple(items))
                }
            }
            Token::Op("[") => Ok(Expr::List(self.items("]")?)),
            Token::Op("{") => {
                let mut pairs = Vec::new();
                while !self.is_op("}") {
                    let k = self.or()?;
                    self.expect_op(":")?;
                    let v = self.or()?;
                    pairs.push((k, v));
                    if self.is_op(",") {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect_op("}")?;
                Ok(Expr::Dict(pairs))
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Expr {
        Expr::Str(v.to_owned())
    }

    fn entries0(key: &str) -> Expr {
        Expr::Index(
            Box::new(Expr::Index(
                Box::new(Expr::Name("entries".to_owned())),
                Box::new(Expr::Int(0)),
            )),
            Box::new(s(key)),
        )
    }

    #[test]
    fn expect_lines_parse_as_python_reads_them() {
        assert_eq!(
            parse(r"not bozo and entries[0]['title'] == u'a\xa0\u2019b'").unwrap(),
            Expr::And(vec![
                Expr::Not(Box::new(Expr::Name("bozo".to_owned()))),
                Expr::Compare(
                    Box::new(entries0("title")),
                    vec![(CmpOp::Eq, s("a\u{a0}\u{2019}b"))]
                ),
            ])
        );
        assert_eq!(
            parse("entries[0]['link'] == entries[1]['link'] == 'x'").unwrap(),
            Expr::Compare(
                Box::new(entries0("link")),
                vec![
                    (
                        CmpOp::Eq,
                        Expr::Index(
                            Box::new(Expr::Index(
                                Box::new(Expr::Name("entries".to_owned())),
                                Box::new(Expr::Int(1)),
                            )),
                            Box::new(s("link")),
                        )
                    ),
                    (CmpOp::Eq, s("x")),
                ]
            )
        );
        assert_eq!(
            parse("(2003, 12, -1) == ('a' + \"b\" 'c',)").unwrap(),
            Expr::Compare(
                Box::new(Expr::Tuple(vec![
                    Expr::Int(2003),
                    Expr::Int(12),
                    Expr::Int(-1)
                ])),
                vec![(
                    CmpOp::Eq,
                    Expr::Tuple(vec![Expr::Add(Box::new(s("a")), Box::new(s("bc")))])
                )]
            )
        );
        assert!(matches!(
            parse("not 'modified' in locals()").unwrap(),
            Expr::Not(b) if matches!(*b, Expr::Compare(_, ref ops) if ops[0].0 == CmpOp::In)
        ));
        assert!(matches!(
            parse("x is not None").unwrap(),
            Expr::Compare(_, ref ops) if ops[0].0 == CmpOp::IsNot
        ));
        assert!(parse("a ==").is_err());
        assert!(parse("lambda: 1").is_err());
    }
}
