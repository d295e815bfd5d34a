//! The permission expression language: names, `rel->target` arrows, `|`, `&`, `-` and parentheses.
//!
//! Precedence, loosest first: `-`, `|`, `&`; all left-associative.

use crate::ast::{PermissionExpr, Span};
use crate::error::Diagnostic;
use crate::yaml::Positions;

/// Parentheses deeper than this are refused, so hostile input cannot exhaust the stack.
const MAX_NESTING: usize = 64;

/// Explains the name rule in error messages.
pub(crate) const NAME_RULE: &str =
    "a name starts with a letter or `_` and continues with letters, digits, `_`, `-` or `.`";

/// Whether `name` is a valid type, relation or permission name.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(is_name_char)
}

/// Characters allowed after the first one of a name.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Arrow,
    Or,
    And,
    Minus,
    Open,
    Close,
}

impl Tok {
    fn text(&self) -> &str {
        match self {
            Tok::Name(name) => name,
            Tok::Arrow => "->",
            Tok::Or => "|",
            Tok::And => "&",
            Tok::Minus => "-",
            Tok::Open => "(",
            Tok::Close => ")",
        }
    }
}

struct Token {
    tok: Tok,
    /// Char index of the token's first character in the expression text.
    at: usize,
}

/// Parses a permission expression whose characters stand at `positions`; `context` (such as
/// ``permission `p` on type `t` ``) ends every error message.
pub(crate) fn parse(
    text: &str,
    positions: &Positions,
    context: &str,
) -> Result<PermissionExpr, Diagnostic> {
    let tokens = lex(text, positions, context)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        positions,
        context,
        depth: 0,
    };
    let expr = parser.expr()?;
    match parser.advance() {
        None => Ok(expr),
        Some(index) => Err(parser.after_operand(index)),
    }
}

fn lex(text: &str, positions: &Positions, context: &str) -> Result<Vec<Token>, Diagnostic> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let single = match c {
            '(' => Some(Tok::Open),
            ')' => Some(Tok::Close),
            '|' => Some(Tok::Or),
            '&' => Some(Tok::And),
            '-' if chars.get(i + 1) == Some(&'>') => {
                tokens.push(Token {
                    tok: Tok::Arrow,
                    at: i,
                });
                i += 2;
                continue;
            }
            '-' => Some(Tok::Minus),
            _ => None,
        };
        if let Some(tok) = single {
            tokens.push(Token { tok, at: i });
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if is_name_char(c) {
            let start = i;
            i += 1;
            // A `-` joins a name only when a letter, digit, `_` or `.` follows: `public-viewer`, not
            // `a - b`, `a -b` or `a->b`.
            while let Some(&c) = chars.get(i) {
                let joins = c != '-'
                    || chars
                        .get(i + 1)
                        .is_some_and(|&n| is_name_char(n) && n != '-');
                if !is_name_char(c) || !joins {
                    break;
                }
                i += 1;
            }
            let name: String = chars.get(start..i).unwrap_or_default().iter().collect();
            if !is_valid_name(&name) {
                return Err(Diagnostic::new(
                    positions.at(start),
                    format!("invalid name `{name}` in {context}: {NAME_RULE}"),
                ));
            }
            tokens.push(Token {
                tok: Tok::Name(name),
                at: start,
            });
        } else {
            return Err(Diagnostic::new(
                positions.at(i),
                format!("unexpected character `{c}` in {context}"),
            ));
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    next: usize,
    positions: &'a Positions,
    context: &'a str,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.next).map(|token| &token.tok)
    }

    /// Consumes the next token and returns its index.
    fn advance(&mut self) -> Option<usize> {
        let index = self.next;
        self.tokens.get(index)?;
        self.next += 1;
        Some(index)
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = self.peek() == Some(tok);
        if found {
            self.next += 1;
        }
        found
    }

    fn tok(&self, index: usize) -> Option<&Tok> {
        self.tokens.get(index).map(|token| &token.tok)
    }

    fn span(&self, index: usize) -> Span {
        let at = self.tokens.get(index).map_or(0, |token| token.at);
        self.positions.at(at)
    }

    fn error(&self, index: usize, message: String) -> Diagnostic {
        self.error_at(self.span(index), &message)
    }

    fn error_at(&self, span: Span, message: &str) -> Diagnostic {
        Diagnostic::new(span, format!("{message} in {}", self.context))
    }

    /// Exclusion level: `union (- union)*`.
    fn expr(&mut self) -> Result<PermissionExpr, Diagnostic> {
        let mut left = self.union()?;
        while self.eat(&Tok::Minus) {
            let right = self.union()?;
            left = PermissionExpr::Exclusion(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// Union level: `intersection (| intersection)*`.
    fn union(&mut self) -> Result<PermissionExpr, Diagnostic> {
        let first = self.intersection()?;
        if self.peek() != Some(&Tok::Or) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(&Tok::Or) {
            items.push(self.intersection()?);
        }
        Ok(PermissionExpr::Union(items))
    }

    /// Intersection level: `primary (& primary)*`.
    fn intersection(&mut self) -> Result<PermissionExpr, Diagnostic> {
        let first = self.primary()?;
        if self.peek() != Some(&Tok::And) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(&Tok::And) {
            items.push(self.primary()?);
        }
        Ok(PermissionExpr::Intersection(items))
    }

    /// A name, an arrow or a parenthesised expression.
    fn primary(&mut self) -> Result<PermissionExpr, Diagnostic> {
        let Some(index) = self.advance() else {
            return Err(self.missing_operand());
        };
        match self.tok(index).cloned() {
            Some(Tok::Name(name)) => self.name_or_arrow(index, name),
            Some(Tok::Open) => {
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    return Err(self.error(
                        index,
                        format!("parentheses nested deeper than {MAX_NESTING} levels"),
                    ));
                }
                let inner = self.expr()?;
                self.depth -= 1;
                match self.advance() {
                    Some(close) if self.tok(close) == Some(&Tok::Close) => Ok(inner),
                    Some(other) => Err(self.after_operand(other)),
                    None => Err(self.error(index, "unclosed `(`".to_string())),
                }
            }
            Some(other) => Err(self.error(
                index,
                format!(
                    "expected a relation, permission or `(`, found `{}`",
                    other.text()
                ),
            )),
            None => Err(self.missing_operand()),
        }
    }

    fn name_or_arrow(&mut self, index: usize, name: String) -> Result<PermissionExpr, Diagnostic> {
        let span = self.span(index);
        if !self.eat(&Tok::Arrow) {
            return Ok(PermissionExpr::Ref { name, span });
        }
        let arrow = self.next - 1;
        let Some(target_index) = self.advance() else {
            return Err(self.error(arrow, format!("arrow `{name}->` has no target")));
        };
        let target = match self.tok(target_index) {
            Some(Tok::Name(target)) => target.clone(),
            other => {
                return Err(self.error(
                    target_index,
                    format!(
                        "expected a relation or permission after `{name}->`, found `{}`",
                        other.map_or("", Tok::text)
                    ),
                ))
            }
        };
        if self.peek() == Some(&Tok::Arrow) {
            return Err(self.error(
                self.next,
                format!("chained arrows are not supported: `{name}->{target}->…`"),
            ));
        }
        Ok(PermissionExpr::Arrow {
            relation: name,
            target,
            span,
        })
    }

    /// The error when the expression ends where an operand was expected.
    fn missing_operand(&self) -> Diagnostic {
        let Some(last) = self.next.checked_sub(1) else {
            return self.error_at(self.positions.at(0), "empty expression");
        };
        match self.tok(last) {
            Some(Tok::Open) => self.error(last, "unclosed `(`".to_string()),
            Some(op) => self.error(
                last,
                format!("dangling `{}` at the end of the expression", op.text()),
            ),
            None => self.error_at(self.positions.at(0), "empty expression"),
        }
    }

    /// The error for a token found right after a complete operand, where an operator or the end belongs.
    fn after_operand(&self, index: usize) -> Diagnostic {
        let message = match self.tok(index) {
            Some(Tok::Close) => "unmatched `)`".to_string(),
            Some(Tok::Arrow) => {
                "unexpected `->`: an arrow starts from a relation name, as in `parent->can_read`"
                    .to_string()
            }
            Some(tok) => format!(
                "expected an operator (`|`, `&` or `-`) before `{}`",
                tok.text()
            ),
            None => "unexpected end of the expression".to_string(),
        };
        self.error(index, message)
    }
}
