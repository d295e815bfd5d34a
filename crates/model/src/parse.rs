//! Reads a v3 manifest's YAML into the model, checking its shape and names; `validate` then checks
//! the references between types.

use rustc_hash::FxHashMap;
use yaml_rust2::scanner::TScalarStyle;

use crate::ast::{
    Manifest, PermissionDef, PermissionExpr, RelationDef, Span, SubjectType, TypeDef,
};
use crate::error::{Diagnostic, ManifestError};
use crate::expr::{self, is_name_char, is_valid_name, NAME_RULE};
use crate::validate;
use crate::yaml::{self, Node, NodeKind, Positions, SourceText};

/// The only manifest version this parser reads.
const VERSION: &str = "3";

/// Parses and validates a Topaz directory v3 manifest; `file` names the source in error messages.
pub fn parse_manifest(source: &str, file: &str) -> Result<Manifest, ManifestError> {
    let root =
        yaml::read(source).map_err(|diagnostic| ManifestError::new(file, vec![diagnostic]))?;
    let text = SourceText::new(source);
    let mut reader = Reader {
        text: &text,
        diagnostics: Vec::new(),
    };
    let located = reader.manifest(root.as_ref());
    let mut diagnostics = reader.diagnostics;
    diagnostics.extend(validate::validate(&located));
    if diagnostics.is_empty() {
        Ok(located.manifest)
    } else {
        diagnostics.sort_by_key(|diagnostic| (diagnostic.span.line, diagnostic.span.column));
        Err(ManifestError::new(file, diagnostics))
    }
}

/// A manifest with the positions the model itself does not keep.
pub(crate) struct Located {
    /// The manifest read so far (complete only when no diagnostic was raised).
    pub manifest: Manifest,
    /// Position of each subject type, indexed by type, relation and subject like the manifest.
    pub subject_spans: Vec<Vec<Vec<Span>>>,
}

impl Located {
    /// Where subject `subject` of relation `relation` of type `ty` stands.
    pub fn subject_span(&self, ty: usize, relation: usize, subject: usize) -> Option<Span> {
        self.subject_spans
            .get(ty)?
            .get(relation)?
            .get(subject)
            .copied()
    }
}

struct Reader<'a> {
    text: &'a SourceText,
    diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn report(&mut self, span: Span, message: String) {
        self.diagnostics.push(Diagnostic::new(span, message));
    }

    /// The entries of a mapping node, or `None` after reporting `expected`.
    fn entries<'n>(&mut self, node: &'n Node, expected: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            NodeKind::Mapping(entries) => Some(entries),
            _ => {
                self.report(
                    node.span(),
                    format!("{expected}, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// A mapping key's text, or `None` after reporting a non-scalar key.
    fn key<'n>(&mut self, key: &'n Node) -> Option<&'n str> {
        let text = key.as_str();
        if text.is_none() {
            self.report(
                key.span(),
                format!("mapping keys must be names, found {}", key.describe()),
            );
        }
        text
    }

    fn manifest(&mut self, root: Option<&Node>) -> Located {
        let mut located = Located {
            manifest: Manifest::default(),
            subject_spans: Vec::new(),
        };
        let start = Span { line: 1, column: 1 };
        let Some(root) = root.filter(|root| !root.is_null()) else {
            self.report(
                start,
                "the manifest is empty; expected `model` and `types`".to_string(),
            );
            return located;
        };
        let Some(entries) = self.entries(
            root,
            "the manifest must be a mapping with `model` and `types`",
        ) else {
            return located;
        };
        let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if !matches!(name, "model" | "types") {
                self.report(
                    key.span(),
                    format!("unknown top-level key `{name}`; expected `model` or `types`"),
                );
                continue;
            }
            if let Some(first) = seen.insert(name, key.span()) {
                self.report(key.span(), duplicate_key(name, first));
                continue;
            }
            if name == "model" {
                self.model(key, value);
            } else {
                self.types(value, &mut located);
            }
        }
        if !seen.contains_key("model") {
            self.report(
                root.span(),
                "missing `model` section; expected `model: {version: 3}`".to_string(),
            );
        }
        located
    }

    fn model(&mut self, key: &Node, value: &Node) {
        let expected = "`model` must be a mapping with `version: 3`";
        if value.is_null() {
            self.report(key.span(), expected.to_string());
            return;
        }
        let Some(entries) = self.entries(value, expected) else {
            return;
        };
        let mut version = None;
        for (entry_key, entry_value) in entries {
            let Some(name) = self.key(entry_key) else {
                continue;
            };
            if name != "version" {
                self.report(
                    entry_key.span(),
                    format!("unknown key `{name}` in `model`; expected `version`"),
                );
                continue;
            }
            if let Some(first) = version.replace(entry_key.span()) {
                self.report(entry_key.span(), duplicate_key(name, first));
                continue;
            }
            let found = match &entry_value.kind {
                NodeKind::Scalar(text, TScalarStyle::Plain) if text == VERSION => continue,
                NodeKind::Scalar(text, _) => format!("`{text}`"),
                _ => entry_value.describe().to_string(),
            };
            self.report(
                entry_value.span(),
                format!("unsupported model version {found}; expected `{VERSION}`"),
            );
        }
        if version.is_none() {
            self.report(
                key.span(),
                "missing `version` in `model`; expected `version: 3`".to_string(),
            );
        }
    }

    fn types(&mut self, value: &Node, located: &mut Located) {
        if value.is_null() {
            return;
        }
        let Some(entries) = self.entries(
            value,
            "`types` must be a mapping from type names to their relations and permissions",
        ) else {
            return;
        };
        let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
        for (key, body) in entries {
            let Some(name) = self.key(key) else { continue };
            let span = key.span();
            if !is_valid_name(name) {
                self.report(span, format!("invalid type name `{name}`: {NAME_RULE}"));
            }
            if let Some(first) = seen.insert(name, span) {
                self.report(
                    span,
                    format!("duplicate type `{name}` (first defined at {})", at(first)),
                );
                continue;
            }
            let (ty, spans) = self.type_def(name, span, body);
            located.manifest.types.push(ty);
            located.subject_spans.push(spans);
        }
    }

    fn type_def(&mut self, name: &str, span: Span, body: &Node) -> (TypeDef, Vec<Vec<Span>>) {
        let mut ty = TypeDef {
            name: name.to_string(),
            span,
            relations: Vec::new(),
            permissions: Vec::new(),
        };
        let mut subject_spans = Vec::new();
        if body.is_null() {
            return (ty, subject_spans);
        }
        let expected = format!(
            "type `{name}` must be a mapping with `relations` and/or `permissions` (or `{{}}`)"
        );
        let Some(entries) = self.entries(body, &expected) else {
            return (ty, subject_spans);
        };
        let mut seen: FxHashMap<&str, Span> = FxHashMap::default();
        let mut permission_entries = None;
        for (key, value) in entries {
            let Some(section) = self.key(key) else {
                continue;
            };
            if !matches!(section, "relations" | "permissions") {
                self.report(
                    key.span(),
                    format!(
                        "unknown key `{section}` in type `{name}`; expected `relations` or `permissions`"
                    ),
                );
                continue;
            }
            if let Some(first) = seen.insert(section, key.span()) {
                self.report(key.span(), duplicate_key(section, first));
                continue;
            }
            if value.is_null() {
                continue;
            }
            let expected = format!(
                "`{section}` of type `{name}` must be a mapping from names to their definitions"
            );
            let Some(entries) = self.entries(value, &expected) else {
                continue;
            };
            if section == "relations" {
                self.relations(&mut ty, &mut subject_spans, entries);
            } else {
                permission_entries = Some(entries);
            }
        }
        // Permissions come after relations so a name used by both is caught whatever the YAML order.
        if let Some(entries) = permission_entries {
            self.permissions(&mut ty, entries);
        }
        (ty, subject_spans)
    }

    fn relations(
        &mut self,
        ty: &mut TypeDef,
        subject_spans: &mut Vec<Vec<Span>>,
        entries: &[(Node, Node)],
    ) {
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            let span = key.span();
            if !is_valid_name(name) {
                self.report(
                    span,
                    format!(
                        "invalid relation name `{name}` on type `{}`: {NAME_RULE}",
                        ty.name
                    ),
                );
            }
            if let Some(first) = ty.relation(name) {
                let message = format!(
                    "duplicate relation `{name}` on type `{}` (first defined at {})",
                    ty.name,
                    at(first.span)
                );
                self.report(span, message);
                continue;
            }
            let (subjects, spans) = self.subjects(&ty.name, name, key, value);
            ty.relations.push(RelationDef {
                name: name.to_string(),
                span,
                subjects,
            });
            subject_spans.push(spans);
        }
    }

    /// Reads `T | T#rel | T:*`; pieces in error are reported and left out.
    fn subjects(
        &mut self,
        ty: &str,
        relation: &str,
        key: &Node,
        value: &Node,
    ) -> (Vec<SubjectType>, Vec<Span>) {
        let mut subjects = Vec::new();
        let mut spans = Vec::new();
        let context = format!("relation `{relation}` on type `{ty}`");
        let text = match value.as_str() {
            Some(text) if !value.is_null() => text,
            Some(_) => {
                self.report(key.span(), format!("{context} has no subject types"));
                return (subjects, spans);
            }
            None => {
                self.report(
                    value.span(),
                    format!(
                        "{context} must be a string like `user | group#member`, found {}",
                        value.describe()
                    ),
                );
                return (subjects, spans);
            }
        };
        let positions = self.text.positions(value);
        let chars: Vec<char> = text.chars().collect();
        if chars.iter().all(|c| c.is_whitespace()) {
            self.report(value.span(), format!("{context} has no subject types"));
            return (subjects, spans);
        }
        let mut start = 0;
        let pieces = chars.split(|c| *c == '|').count();
        for (index, piece) in chars.split(|c| *c == '|').enumerate() {
            match subject(piece, start, &positions, &context) {
                Ok(Some((parsed, span))) => {
                    subjects.push(parsed);
                    spans.push(span);
                }
                Ok(None) => {
                    // Point at the `|` that leaves the piece empty.
                    let bar = if index + 1 < pieces {
                        start + piece.len()
                    } else {
                        start.saturating_sub(1)
                    };
                    self.report(
                        positions.at(bar),
                        format!("empty subject type around `|` in {context}"),
                    );
                }
                Err(diagnostic) => self.diagnostics.push(diagnostic),
            }
            start += piece.len() + 1;
        }
        (subjects, spans)
    }

    fn permissions(&mut self, ty: &mut TypeDef, entries: &[(Node, Node)]) {
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            let span = key.span();
            if !is_valid_name(name) {
                self.report(
                    span,
                    format!(
                        "invalid permission name `{name}` on type `{}`: {NAME_RULE}",
                        ty.name
                    ),
                );
            }
            if let Some(first) = ty.permission(name) {
                let message = format!(
                    "duplicate permission `{name}` on type `{}` (first defined at {})",
                    ty.name,
                    at(first.span)
                );
                self.report(span, message);
                continue;
            }
            if let Some(relation) = ty.relation(name) {
                let message = format!(
                    "`{name}` on type `{}` is both a relation (at {}) and a permission",
                    ty.name,
                    at(relation.span)
                );
                self.report(span, message);
                continue;
            }
            let context = format!("permission `{name}` on type `{}`", ty.name);
            let expr = match value.as_str() {
                Some(_) if value.is_null() => Err(Diagnostic::new(
                    span,
                    format!("empty expression in {context}"),
                )),
                Some(text) => expr::parse(text, &self.text.positions(value), &context),
                None => Err(Diagnostic::new(
                    value.span(),
                    format!(
                        "{context} must be a string expression like `viewer | parent->can_read`, found {}",
                        value.describe()
                    ),
                )),
            };
            let expr = expr.unwrap_or_else(|diagnostic| {
                self.diagnostics.push(diagnostic);
                // The error is already reported; an empty union keeps the name known to later checks.
                PermissionExpr::Union(Vec::new())
            });
            ty.permissions.push(PermissionDef {
                name: name.to_string(),
                span,
                expr,
            });
        }
    }
}

/// Parses one `|`-separated piece of a relation (`T`, `T#rel`, `T:*`, blanks anywhere between);
/// `Ok(None)` for a blank piece. `offset` is the piece's char index in the whole value; `context`
/// names the relation in errors.
fn subject(
    piece: &[char],
    offset: usize,
    positions: &Positions,
    context: &str,
) -> Result<Option<(SubjectType, Span)>, Diagnostic> {
    let mut cursor = PieceCursor {
        piece,
        index: 0,
        offset,
        positions,
        context,
    };
    cursor.skip_blanks();
    if cursor.peek().is_none() {
        return Ok(None);
    }
    let span = cursor.span();
    let object_type = cursor.name("type")?;
    cursor.skip_blanks();
    let parsed = match cursor.peek() {
        None => SubjectType::Direct { object_type },
        Some('#') => {
            cursor.index += 1;
            cursor.skip_blanks();
            let relation = cursor.name("relation")?;
            cursor.skip_blanks();
            cursor.end()?;
            SubjectType::Set {
                object_type,
                relation,
            }
        }
        Some(':') => {
            cursor.index += 1;
            cursor.skip_blanks();
            if cursor.peek() != Some('*') {
                return Err(cursor.unexpected());
            }
            cursor.index += 1;
            cursor.skip_blanks();
            cursor.end()?;
            SubjectType::Wildcard { object_type }
        }
        Some(_) => return Err(cursor.unexpected()),
    };
    Ok(Some((parsed, span)))
}

struct PieceCursor<'a> {
    piece: &'a [char],
    index: usize,
    offset: usize,
    positions: &'a Positions,
    context: &'a str,
}

impl PieceCursor<'_> {
    fn peek(&self) -> Option<char> {
        self.piece.get(self.index).copied()
    }

    fn span(&self) -> Span {
        self.positions.at(self.offset + self.index)
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.index += 1;
        }
    }

    /// Reads a name; `kind` says what it names in the error.
    fn name(&mut self, kind: &str) -> Result<String, Diagnostic> {
        let start = self.index;
        let span = self.span();
        while self.peek().is_some_and(is_name_char) {
            self.index += 1;
        }
        let name: String = self
            .piece
            .get(start..self.index)
            .unwrap_or_default()
            .iter()
            .collect();
        if name.is_empty() {
            return Err(self.unexpected());
        }
        if !is_valid_name(&name) {
            return Err(Diagnostic::new(
                span,
                format!(
                    "invalid {kind} name `{name}` in {}: {NAME_RULE}",
                    self.context
                ),
            ));
        }
        Ok(name)
    }

    fn end(&self) -> Result<(), Diagnostic> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected()),
        }
    }

    fn unexpected(&self) -> Diagnostic {
        let piece: String = self.piece.iter().collect();
        let found = self
            .peek()
            .map_or_else(|| "the end".to_string(), |c| format!("`{c}`"));
        Diagnostic::new(
            self.span(),
            format!(
                "invalid subject type `{}` in {}: expected `type`, `type#relation` or `type:*`, found {found}",
                piece.trim(),
                self.context
            ),
        )
    }
}

fn duplicate_key(name: &str, first: Span) -> String {
    format!("duplicate key `{name}` (first at {})", at(first))
}

fn at(span: Span) -> String {
    format!("{}:{}", span.line, span.column)
}
