//! SCIM filters (RFC 7644 section 3.4.2.2) and attribute paths: parsed into a tree and matched
//! against a resource's JSON. `not` binds tighter than `and`, which binds tighter than `or`.

use super::error::ScimError;
use super::schema::CORE_USER;
use serde_json::Value;
use std::cmp::Ordering;

/// An attribute path: an optional schema URN, the attribute, and an optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN the attribute is qualified with (an extension's, or none for the core).
    pub schema: Option<String>,
    /// The attribute's name as written.
    pub attr: String,
    /// The sub-attribute, if any.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Reads `[urn:...:]attr[.sub]`.
    pub fn parse(text: &str) -> Result<AttrPath, ScimError> {
        let text = text.trim();
        let (schema, rest) = if text.len() > 4
            && text
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            match text.rsplit_once(':') {
                Some((urn, rest)) => (Some(urn.to_string()), rest),
                None => (None, text),
            }
        } else {
            (None, text)
        };
        // A core schema's URN qualifies nothing: `urn:...:core:2.0:User:userName` is `userName`.
        let schema = schema.filter(|urn| !is_core(urn));
        let (attr, sub) = match rest.split_once('.') {
            Some((attr, sub)) => (attr, Some(sub.to_string())),
            None => (rest, None),
        };
        let valid = |name: &str| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(attr) || sub.as_deref().is_some_and(|s| !valid(s)) {
            return Err(ScimError::bad(
                "invalidPath",
                format!("`{text}` is not an attribute path"),
            ));
        }
        Ok(AttrPath {
            schema,
            attr: attr.to_string(),
            sub,
        })
    }

    /// The attribute's value in `resource` (not the sub-attribute's), if present.
    pub fn attribute<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let holder = match &self.schema {
            Some(urn) => field(resource, urn)?,
            None => resource,
        };
        field(holder, &self.attr)
    }
}

/// Whether a URN names one of the core schemas (whose attributes sit at the top level).
fn is_core(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(CORE_USER) || urn.eq_ignore_ascii_case(super::schema::CORE_GROUP)
}

/// A field of a JSON object, its name matched without regard to case (as SCIM's names are).
pub fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`
    Compare(AttrPath, Op, Value),
    /// `attr pr`
    Present(AttrPath),
    /// `not (f)`
    Not(Box<Filter>),
    /// `f and g`
    And(Box<Filter>, Box<Filter>),
    /// `f or g`
    Or(Box<Filter>, Box<Filter>),
    /// `attr[f]`: some value of a multi-valued attribute matches `f`.
    ValuePath(AttrPath, Box<Filter>),
}

/// Longest filter accepted, so a hostile one cannot recurse without bound.
const MAX_FILTER_BYTES: usize = 4096;
/// Deepest nesting of parentheses and brackets.
const MAX_DEPTH: usize = 32;

impl Filter {
    /// Parses a filter.
    pub fn parse(text: &str) -> Result<Filter, ScimError> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(invalid(format!(
                "the filter is longer than {MAX_FILTER_BYTES} bytes"
            )));
        }
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            depth: 0,
        };
        let filter = parser.or()?;
        match parser.peek() {
            None => Ok(filter),
            Some(token) => Err(invalid(format!(
                "unexpected {} in filter `{text}`",
                token.describe()
            ))),
        }
    }

    /// Whether `resource` matches.
    pub fn matches(&self, resource: &Value) -> Result<bool, ScimError> {
        match self {
            Filter::Compare(path, op, value) => {
                let mut matched = false;
                for candidate in values(path, resource) {
                    if compare(path, candidate, *op, value)? {
                        matched = true;
                        break;
                    }
                }
                // `ne` holds when no value equals, including when there is none.
                if *op == Op::Ne {
                    let mut any_equal = false;
                    for candidate in values(path, resource) {
                        if compare(path, candidate, Op::Eq, value)? {
                            any_equal = true;
                        }
                    }
                    return Ok(!any_equal);
                }
                Ok(matched)
            }
            Filter::Present(path) if path.sub.is_none() => {
                Ok(path.attribute(resource).is_some_and(present))
            }
            Filter::Present(path) => Ok(values(path, resource).into_iter().any(present)),
            Filter::Not(inner) => Ok(!inner.matches(resource)?),
            Filter::And(left, right) => Ok(left.matches(resource)? && right.matches(resource)?),
            Filter::Or(left, right) => Ok(left.matches(resource)? || right.matches(resource)?),
            Filter::ValuePath(path, inner) => {
                let Some(attribute) = path.attribute(resource) else {
                    return Ok(false);
                };
                for element in elements(attribute) {
                    if inner.matches(element)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad("invalidFilter", detail)
}

/// The values a path designates: each element of a multi-valued attribute, and of a complex
/// attribute without a sub-attribute, its `value`.
fn values<'a>(path: &AttrPath, resource: &'a Value) -> Vec<&'a Value> {
    let Some(attribute) = path.attribute(resource) else {
        return Vec::new();
    };
    elements(attribute)
        .filter_map(|element| match &path.sub {
            Some(sub) => field(element, sub),
            None if element.is_object() => field(element, "value"),
            None => Some(element),
        })
        .collect()
}

/// The elements of a multi-valued attribute, or the value itself.
pub fn elements(value: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match value {
        Value::Array(items) => Box::new(items.iter()),
        other => Box::new(std::iter::once(other)),
    }
}

fn present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
        _ => true,
    }
}

/// Attributes whose strings compare exactly; every other string compares without regard to case.
fn case_exact(path: &AttrPath) -> bool {
    path.schema.is_none()
        && path.sub.is_none()
        && (path.attr.eq_ignore_ascii_case("id") || path.attr.eq_ignore_ascii_case("externalId"))
}

fn compare(path: &AttrPath, actual: &Value, op: Op, wanted: &Value) -> Result<bool, ScimError> {
    match (actual, wanted) {
        (Value::String(actual), Value::String(wanted)) => {
            let (actual, wanted) = if case_exact(path) {
                (actual.clone(), wanted.clone())
            } else {
                (actual.to_lowercase(), wanted.to_lowercase())
            };
            Ok(match op {
                Op::Eq => actual == wanted,
                Op::Ne => actual != wanted,
                Op::Co => actual.contains(&wanted),
                Op::Sw => actual.starts_with(&wanted),
                Op::Ew => actual.ends_with(&wanted),
                Op::Gt => actual > wanted,
                Op::Ge => actual >= wanted,
                Op::Lt => actual < wanted,
                Op::Le => actual <= wanted,
            })
        }
        (Value::Bool(_) | Value::Null, _) | (_, Value::Bool(_) | Value::Null) => match op {
            Op::Eq => Ok(actual == wanted),
            Op::Ne => Ok(actual != wanted),
            _ => Err(invalid(format!(
                "`{}` compares a boolean or null with an ordering or substring operator",
                describe(path)
            ))),
        },
        (Value::Number(actual), Value::Number(wanted)) => {
            let ordering = actual
                .as_f64()
                .zip(wanted.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b))
                .unwrap_or(Ordering::Equal);
            match op {
                Op::Eq => Ok(ordering == Ordering::Equal),
                Op::Ne => Ok(ordering != Ordering::Equal),
                Op::Gt => Ok(ordering == Ordering::Greater),
                Op::Ge => Ok(ordering != Ordering::Less),
                Op::Lt => Ok(ordering == Ordering::Less),
                Op::Le => Ok(ordering != Ordering::Greater),
                Op::Co | Op::Sw | Op::Ew => Err(invalid(format!(
                    "`{}` is a number: co, sw and ew compare strings",
                    describe(path)
                ))),
            }
        }
        // Different kinds never match (a string attribute compared with a number).
        _ => Ok(false),
    }
}

fn describe(path: &AttrPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.attr),
        None => path.attr.clone(),
    }
}

// ----- tokens -----

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Literal(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(word) => format!("`{word}`"),
            Token::Literal(value) => format!("`{value}`"),
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
            Token::OpenBracket => "`[`".into(),
            Token::CloseBracket => "`]`".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: read to the closing quote, honouring escapes, then decode.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| invalid(format!("unterminated string in `{text}`")))?;
                let literal = text.get(start..=end).unwrap_or_default();
                let value: Value = serde_json::from_str(literal)
                    .map_err(|e| invalid(format!("bad string {literal}: {e}")))?;
                tokens.push(Token::Literal(value));
            }
            _ => {
                let mut end = text.len();
                while let Some(&(i, c)) = chars.peek() {
                    if matches!(c, ' ' | '\t' | '\n' | '\r' | '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                let word = text.get(start..end).unwrap_or_default();
                tokens.push(match word.to_ascii_lowercase().as_str() {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "null" => Token::Literal(Value::Null),
                    _ => match word.parse::<serde_json::Number>() {
                        Ok(number)
                            if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') =>
                        {
                            Token::Literal(Value::Number(number))
                        }
                        _ => Token::Word(word.to_string()),
                    },
                });
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.next();
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.next();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn nested(&mut self) -> Result<Filter, ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid(format!(
                "the filter nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let inner = self.or();
        self.depth -= 1;
        inner
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.next();
            if self.next() != Some(Token::Open) {
                return Err(invalid("`not` must be followed by a parenthesized filter"));
            }
            let inner = self.nested()?;
            if self.next() != Some(Token::Close) {
                return Err(invalid("missing `)` after `not (`"));
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.nested()?;
                if self.next() != Some(Token::Close) {
                    return Err(invalid("missing `)`"));
                }
                Ok(inner)
            }
            Some(Token::Word(word)) => self.expression(&word),
            Some(other) => Err(invalid(format!(
                "expected an attribute, found {}",
                other.describe()
            ))),
            None => Err(invalid("the filter ends where an attribute was expected")),
        }
    }

    fn expression(&mut self, word: &str) -> Result<Filter, ScimError> {
        let path = AttrPath::parse(word).map_err(|e| invalid(e.detail))?;
        if self.peek() == Some(&Token::OpenBracket) {
            self.next();
            let inner = self.nested()?;
            if self.next() != Some(Token::CloseBracket) {
                return Err(invalid(format!("missing `]` after `{word}[`")));
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        let op = match self.next() {
            Some(Token::Word(op)) => op.to_ascii_lowercase(),
            Some(other) => {
                return Err(invalid(format!(
                    "expected an operator after `{word}`, found {}",
                    other.describe()
                )))
            }
            None => return Err(invalid(format!("`{word}` needs an operator"))),
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(invalid(format!("`{other}` is not a filter operator"))),
        };
        match self.next() {
            Some(Token::Literal(value)) => Ok(Filter::Compare(path, op, value)),
            Some(other) => Err(invalid(format!(
                "`{word}` must be compared with a string, number, boolean or null, not {}",
                other.describe()
            ))),
            None => Err(invalid(format!("`{word}` is compared with nothing"))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "userName": "Bjensen",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "active": true,
            "externalId": "AbC",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"},
            "meta": {"lastModified": "2011-05-13T04:42:34Z"}
        })
    }

    fn matches(filter: &str) -> bool {
        Filter::parse(filter).unwrap().matches(&user()).unwrap()
    }

    #[test]
    fn rfc_examples_match_as_the_rfc_says() {
        assert!(matches(r#"userName eq "bjensen""#));
        assert!(matches(r#"name.familyName co "ens""#));
        assert!(matches(r#"userName sw "B""#));
        assert!(matches(r#"emails ew ".org""#));
        assert!(matches("name pr"));
        assert!(!matches("title pr"));
        assert!(matches(
            r#"meta.lastModified gt "2011-05-13T04:42:34.000Z" or userName eq "x" or active eq true"#
        ));
        assert!(matches(
            r#"emails[type eq "work" and value co "@example.com"]"#
        ));
        assert!(!matches(
            r#"emails[type eq "work" and value co "@jensen.org"]"#
        ));
        assert!(matches(
            r#"not (userName eq "x") and (active eq true or title pr)"#
        ));
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "BJENSEN""#
        ));
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(matches(r#"USERNAME Eq "bjensen""#));
        assert!(
            !matches(r#"externalId eq "abc""#),
            "externalId compares exactly"
        );
        assert!(
            matches(r#"title ne "x""#),
            "ne holds for an absent attribute"
        );
        assert!(matches(r#"emails.value eq "babs@jensen.org""#));
    }

    #[test]
    fn bad_filters_name_the_problem() {
        for (filter, says) in [
            ("userName eq", "compared with nothing"),
            ("userName zz \"x\"", "`zz`"),
            ("(userName eq \"x\"", "`)`"),
            ("userName eq \"x", "unterminated"),
            ("active gt true", "boolean"),
            ("", "ends"),
        ] {
            let error = Filter::parse(filter)
                .and_then(|f| f.matches(&user()).map(|_| f))
                .unwrap_err();
            assert_eq!(error.scim_type, Some("invalidFilter"));
            assert!(error.detail.contains(says), "{filter}: {}", error.detail);
        }
        let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        assert!(Filter::parse(&deep).unwrap_err().detail.contains("deeper"));
    }
}
