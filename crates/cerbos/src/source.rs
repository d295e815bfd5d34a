//! YAML (and JSON, a subset of YAML) read into a tree that keeps every node's line and column, so compile
//! errors can name where the faulty input is.

use std::collections::HashMap;

use serde_json::{Map, Number, Value as Json};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: NodeValue,
    pub(crate) pos: Position,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeValue {
    /// A scalar; `plain` when unquoted (then `true`, `12`, `null` are not strings).
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) pos: Position,
}

impl Node {
    /// The scalar text of a node, if it is a scalar.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether the node is an explicit or implicit null.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, NodeValue::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The node as JSON, with YAML 1.2 core schema scalars.
    pub(crate) fn to_json(&self) -> Json {
        match &self.value {
            NodeValue::Scalar { text, plain: false } => Json::String(text.clone()),
            NodeValue::Scalar { text, plain: true } => plain_scalar(text),
            NodeValue::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    let key = match k.to_json() {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    map.insert(key, v.to_json());
                }
                Json::Object(map)
            }
        }
    }
}

fn plain_scalar(text: &str) -> Json {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Json::Null,
        "true" | "True" | "TRUE" => return Json::Bool(true),
        "false" | "False" | "FALSE" => return Json::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Json::Number(i.into());
    }
    let looks_numeric = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    if looks_numeric {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Json::Number(n);
        }
    }
    Json::String(text.to_owned())
}

fn position(mark: Marker) -> Position {
    Position {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

enum Building {
    Seq(Vec<Node>, Position, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Position, usize),
}

#[derive(Default)]
struct TreeBuilder<'t> {
    stack: Vec<Building>,
    documents: Vec<Node>,
    anchors: HashMap<usize, Node>,
    lines: Vec<&'t str>,
    end: TextEnd,
}

impl TreeBuilder<'_> {
    /// Where a scalar's content starts: after the opening quote, or on the line after a block indicator.
    fn content_position(&self, pos: Position, style: TScalarStyle) -> Position {
        match style {
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => Position {
                line: pos.line,
                column: pos.column + 1,
            },
            TScalarStyle::Literal | TScalarStyle::Folded => {
                // The parser marks a block scalar where it ends; its content starts on the line after the
                // nearest `|` or `>` indicator above.
                let is_indicator = |line: &str| {
                    let token = line
                        .trim_end()
                        .rsplit([' ', ':'])
                        .next()
                        .unwrap_or_default();
                    token.starts_with(['|', '>'])
                        && token
                            .chars()
                            .skip(1)
                            .all(|c| matches!(c, '-' | '+' | '0'..='9'))
                };
                let end = pos.line.min(self.lines.len());
                let indicator = (0..end)
                    .rev()
                    .find(|i| self.lines.get(*i).is_some_and(|l| is_indicator(l)));
                match indicator {
                    Some(i) => {
                        let content = self.lines.get(i + 1).copied().unwrap_or_default();
                        let indent = content.len() - content.trim_start_matches(' ').len();
                        Position {
                            line: i + 2,
                            column: indent + 1,
                        }
                    }
                    None => pos,
                }
            }
            _ => pos,
        }
    }

    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Building::Seq(items, _, _)) => items.push(node),
            Some(Building::Map(entries, key, _, _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let pos = self.end.clamp(position(mark));
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let plain = matches!(style, TScalarStyle::Plain);
                let pos = self.end.clamp(self.content_position(pos, style));
                self.push_node(
                    Node {
                        value: NodeValue::Scalar { text, plain },
                        pos,
                    },
                    anchor,
                );
            }
            Event::Alias(anchor) => {
                let node = self.anchors.get(&anchor).cloned().unwrap_or(Node {
                    value: NodeValue::Scalar {
                        text: String::new(),
                        plain: true,
                    },
                    pos,
                });
                self.push_node(node, 0);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Building::Seq(Vec::new(), pos, anchor))
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Building::Map(Vec::new(), None, pos, anchor))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Building::Seq(items, pos, anchor)) => (
                        Node {
                            value: NodeValue::Seq(items),
                            pos,
                        },
                        anchor,
                    ),
                    Some(Building::Map(entries, _, pos, anchor)) => (
                        Node {
                            value: NodeValue::Map(entries),
                            pos,
                        },
                        anchor,
                    ),
                    None => return,
                };
                self.push_node(node, anchor);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Parses every document of a YAML stream; empty documents are dropped.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let end = TextEnd::of(text);
    let mut builder = TreeBuilder {
        lines: text.lines().collect(),
        end,
        ..TreeBuilder::default()
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        message: e.info().to_owned(),
        pos: end.clamp(position(*e.marker())),
    })?;
    Ok(builder
        .documents
        .into_iter()
        .filter(|d| !d.is_null())
        .collect())
}

/// The last line of a text and its length, to keep positions within the text: at the end of a text
/// without a final line break, and for a block scalar's content on the last line, the YAML scanner
/// reports the line after the last one.
#[derive(Debug, Clone, Copy, Default)]
struct TextEnd {
    lines: usize,
    last_line_chars: usize,
}

impl TextEnd {
    fn of(text: &str) -> Self {
        // YAML ends a line at `\n`, `\r\n` or a lone `\r`.
        let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        let lines: Vec<&str> = normalized.split('\n').collect();
        TextEnd {
            lines: lines.len(),
            last_line_chars: lines.last().map_or(0, |l| l.chars().count()),
        }
    }

    /// `pos`, or the end of the text when `pos` is past its last line.
    fn clamp(self, pos: Position) -> Position {
        if pos.line <= self.lines {
            return pos;
        }
        Position {
            line: self.lines,
            column: self.last_line_chars + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse_documents("---\na: 1\nb:\n  - x\n").unwrap();
        let NodeValue::Map(entries) = &docs[0].value else {
            unreachable!()
        };
        assert_eq!(entries[1].0.pos, Position { line: 3, column: 1 });
        let NodeValue::Seq(items) = &entries[1].1.value else {
            unreachable!()
        };
        assert_eq!(items[0].pos, Position { line: 4, column: 5 });
        assert_eq!(docs[0].to_json(), serde_json::json!({"a": 1, "b": ["x"]}));
    }

    #[test]
    fn scalar_positions_are_where_the_content_starts() {
        let docs = parse_documents("a: 'x'\nb: |-\n    line\n").unwrap();
        let NodeValue::Map(entries) = &docs[0].value else {
            unreachable!()
        };
        assert_eq!(entries[0].1.pos, Position { line: 1, column: 5 });
        assert_eq!(entries[1].1.pos, Position { line: 3, column: 5 });
    }

    #[test]
    fn positions_stay_within_a_text_without_a_final_line_break() {
        // An empty sequence item on the last line: the scanner marks it on the line after.
        let docs = parse_documents("a:\n  -").unwrap();
        let NodeValue::Map(entries) = &docs[0].value else {
            unreachable!()
        };
        let NodeValue::Seq(items) = &entries[0].1.value else {
            unreachable!()
        };
        assert_eq!(items[0].pos, Position { line: 2, column: 4 });
        let docs = parse_documents("a: |").unwrap();
        let NodeValue::Map(entries) = &docs[0].value else {
            unreachable!()
        };
        assert!(entries[0].1.pos.line <= 1, "{:?}", entries[0].1.pos);
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err:?}");
    }
}
