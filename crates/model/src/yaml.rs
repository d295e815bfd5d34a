//! A small YAML tree with source positions, built from yaml-rust2's event parser, and the mapping from
//! a scalar's characters back to their lines and columns.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::ast::Span;
use crate::error::Diagnostic;

/// Manifests are shallow; the limit keeps hostile input from exhausting the stack.
const MAX_DEPTH: usize = 64;

/// How many non-blank source characters a quoted scalar may skip (quotes, escapes) to re-align.
const MAX_QUOTE_SKIP: usize = 8;

/// A YAML node and where it starts.
#[derive(Debug)]
pub(crate) struct Node {
    /// The node's content.
    pub kind: NodeKind,
    /// Where the parser placed the node.
    mark: Marker,
}

/// The content of a YAML node.
#[derive(Debug)]
pub(crate) enum NodeKind {
    /// A scalar and how it was written.
    Scalar(String, TScalarStyle),
    /// A sequence; manifests have no place for one, so its items are only checked for syntax.
    Sequence,
    /// A mapping, entries in source order.
    Mapping(Vec<(Node, Node)>),
}

impl Node {
    /// Where the node starts, 1-based.
    pub fn span(&self) -> Span {
        // A block mapping's event is marked after its first key, so its first key tells the start.
        if let NodeKind::Mapping(entries) = &self.kind {
            if let Some((key, _)) = entries.first() {
                if key.mark.index() < self.mark.index() {
                    return key.span();
                }
            }
        }
        span_of(self.mark)
    }

    /// Whether the node is YAML null (an absent value, `~` or `null`).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(value, TScalarStyle::Plain)
            if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The scalar's text, if the node is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(value, _) => Some(value),
            _ => None,
        }
    }

    /// A short description of the node's kind for error messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(..) => "a scalar",
            NodeKind::Sequence => "a sequence",
            NodeKind::Mapping(_) => "a mapping",
        }
    }
}

fn span_of(mark: Marker) -> Span {
    Span {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

/// Reads the single YAML document in `source`; `None` when there is no document at all.
pub(crate) fn read(source: &str) -> Result<Option<Node>, Diagnostic> {
    let mut reader = Reader {
        parser: Parser::new_from_str(source),
    };
    reader.document()
}

struct Reader<'a> {
    parser: Parser<std::str::Chars<'a>>,
}

impl Reader<'_> {
    fn next(&mut self) -> Result<(Event, Marker), Diagnostic> {
        self.parser.next_token().map_err(|err| {
            Diagnostic::new(
                span_of(*err.marker()),
                format!("YAML syntax error: {}", err.info()),
            )
        })
    }

    fn document(&mut self) -> Result<Option<Node>, Diagnostic> {
        let mut root = None;
        loop {
            let (event, mark) = self.next()?;
            match event {
                Event::StreamEnd => return Ok(root),
                Event::DocumentStart if root.is_some() => {
                    return Err(Diagnostic::new(
                        span_of(mark),
                        "a manifest holds a single YAML document, found a second `---`",
                    ))
                }
                Event::DocumentStart => {
                    let (event, mark) = self.next()?;
                    root = Some(self.node(event, mark, 0)?);
                }
                // Stream start and document end carry nothing.
                _ => {}
            }
        }
    }

    fn node(&mut self, event: Event, mark: Marker, depth: usize) -> Result<Node, Diagnostic> {
        if depth > MAX_DEPTH {
            return Err(Diagnostic::new(
                span_of(mark),
                format!("YAML nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let kind = match event {
            Event::Scalar(value, style, ..) => NodeKind::Scalar(value, style),
            Event::SequenceStart(..) => {
                loop {
                    let (event, item_mark) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    self.node(event, item_mark, depth + 1)?;
                }
                NodeKind::Sequence
            }
            Event::MappingStart(..) => {
                let mut entries = Vec::new();
                loop {
                    let (event, key_mark) = self.next()?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    let key = self.node(event, key_mark, depth + 1)?;
                    let (event, value_mark) = self.next()?;
                    let value = self.node(event, value_mark, depth + 1)?;
                    entries.push((key, value));
                }
                NodeKind::Mapping(entries)
            }
            Event::Alias(_) => {
                return Err(Diagnostic::new(
                    span_of(mark),
                    "YAML aliases (`*name`) are not supported in manifests",
                ))
            }
            other => {
                return Err(Diagnostic::new(
                    span_of(mark),
                    format!("unexpected YAML event {other:?}"),
                ))
            }
        };
        Ok(Node { kind, mark })
    }
}

/// The manifest source, indexed by line, to locate characters of scalars.
pub(crate) struct SourceText {
    chars: Vec<char>,
    line_starts: Vec<usize>,
}

impl SourceText {
    /// Indexes `source`.
    pub fn new(source: &str) -> Self {
        let chars: Vec<char> = source.chars().collect();
        let line_starts = std::iter::once(0)
            .chain(
                (0..chars.len())
                    .filter(|&i| ends_line(&chars, i))
                    .map(|i| i + 1),
            )
            .collect();
        SourceText { chars, line_starts }
    }

    /// The position of every character of a scalar node's value.
    ///
    /// YAML folding and block indentation only change whitespace, so each non-blank character of the
    /// value is found by scanning forward in the source; quoted scalars may also skip quotes and escapes.
    pub fn positions(&self, node: &Node) -> Positions {
        let start = node.span();
        let mut spans = Vec::new();
        if let NodeKind::Scalar(value, style) = &node.kind {
            let quoted = matches!(
                style,
                TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
            );
            let mut cursor = Cursor {
                chars: &self.chars,
                index: self
                    .line_starts
                    .get(start.line.saturating_sub(1))
                    .map_or(self.chars.len(), |line_start| {
                        line_start + start.column.saturating_sub(1)
                    }),
                span: start,
            };
            for c in value.chars() {
                if c.is_whitespace() {
                    spans.push(cursor.span);
                    if cursor.peek() == Some(c) {
                        cursor.advance();
                    }
                } else {
                    let found = cursor.seek(c, quoted);
                    spans.push(cursor.span);
                    if found {
                        cursor.advance();
                    }
                }
            }
        }
        Positions { spans, start }
    }
}

/// Whether the character at `index` ends a line: YAML's line breaks are `\n`, `\r\n` and a lone `\r`.
fn ends_line(chars: &[char], index: usize) -> bool {
    match chars.get(index) {
        Some('\n') => true,
        Some('\r') => chars.get(index + 1) != Some(&'\n'),
        _ => false,
    }
}

struct Cursor<'a> {
    chars: &'a [char],
    index: usize,
    span: Span,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.index).copied()
    }

    fn advance(&mut self) {
        if self.peek().is_some() {
            let ends = ends_line(self.chars, self.index);
            self.index += 1;
            if ends {
                self.span.line += 1;
                self.span.column = 1;
            } else {
                self.span.column += 1;
            }
        }
    }

    /// Moves onto the next `target`, skipping blanks (and a few other characters when quoted); on
    /// failure the cursor is restored and `false` returned.
    fn seek(&mut self, target: char, quoted: bool) -> bool {
        let (index, span) = (self.index, self.span);
        let mut skipped = 0;
        while let Some(c) = self.peek() {
            if c == target {
                return true;
            }
            if !c.is_whitespace() {
                skipped += 1;
                if !quoted || skipped > MAX_QUOTE_SKIP {
                    break;
                }
            }
            self.advance();
        }
        self.index = index;
        self.span = span;
        false
    }
}

/// Source positions of a scalar's characters.
pub(crate) struct Positions {
    spans: Vec<Span>,
    start: Span,
}

impl Positions {
    /// The position of the value's character at `index` (in chars); past the end, the columns after
    /// the last character.
    pub fn at(&self, index: usize) -> Span {
        if let Some(span) = self.spans.get(index) {
            return *span;
        }
        match self.spans.last() {
            Some(last) => Span {
                line: last.line,
                column: last.column + (index + 1).saturating_sub(self.spans.len()),
            },
            None => self.start,
        }
    }
}
