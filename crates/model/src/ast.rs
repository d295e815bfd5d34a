//! The parsed and validated manifest: types with their relations and permissions.

/// A position in the manifest source, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A whole v3 manifest.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    /// Object types in source order.
    pub types: Vec<TypeDef>,
}

/// One object type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    /// Type name, e.g. `folder`.
    pub name: String,
    /// Where the name stands.
    pub span: Span,
    /// Relations in source order.
    pub relations: Vec<RelationDef>,
    /// Permissions in source order.
    pub permissions: Vec<PermissionDef>,
}

/// A relation and the subject types it admits (`user | group#member | user:*`).
#[derive(Debug, Clone, PartialEq)]
pub struct RelationDef {
    /// Relation name.
    pub name: String,
    /// Where the name stands.
    pub span: Span,
    /// Admitted subject types.
    pub subjects: Vec<SubjectType>,
}

/// One admitted subject type of a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectType {
    /// `user`: a plain object of that type.
    Direct {
        /// Subject type name.
        object_type: String,
    },
    /// `group#member`: a subject set.
    Set {
        /// Subject type name.
        object_type: String,
        /// Relation (or permission) on the subject type.
        relation: String,
    },
    /// `user:*`: every object of that type.
    Wildcard {
        /// Subject type name.
        object_type: String,
    },
}

impl SubjectType {
    /// The type this subject refers to.
    pub fn object_type(&self) -> &str {
        match self {
            SubjectType::Direct { object_type }
            | SubjectType::Set { object_type, .. }
            | SubjectType::Wildcard { object_type } => object_type,
        }
    }
}

/// A permission and its expression.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionDef {
    /// Permission name.
    pub name: String,
    /// Where the name stands.
    pub span: Span,
    /// The expression defining it.
    pub expr: PermissionExpr,
}

/// A permission expression. Precedence, loosest first: `-`, `|`, `&`; parentheses group.
#[derive(Debug, Clone, PartialEq)]
pub enum PermissionExpr {
    /// A relation or permission of the same type.
    Ref {
        /// Referenced name.
        name: String,
        /// Where it stands.
        span: Span,
    },
    /// `relation->target`: `target` evaluated on every direct subject of `relation`.
    Arrow {
        /// Relation on this type whose subjects are followed.
        relation: String,
        /// Relation or permission on the subject's type.
        target: String,
        /// Where the arrow stands.
        span: Span,
    },
    /// `a | b | …`.
    Union(Vec<PermissionExpr>),
    /// `a & b & …`.
    Intersection(Vec<PermissionExpr>),
    /// `a - b`.
    Exclusion(Box<PermissionExpr>, Box<PermissionExpr>),
}

impl Manifest {
    /// The type named `name`, if the manifest declares it.
    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|ty| ty.name == name)
    }
}

impl TypeDef {
    /// The relation named `name` on this type.
    pub fn relation(&self, name: &str) -> Option<&RelationDef> {
        self.relations.iter().find(|rel| rel.name == name)
    }

    /// The permission named `name` on this type.
    pub fn permission(&self, name: &str) -> Option<&PermissionDef> {
        self.permissions.iter().find(|perm| perm.name == name)
    }

    /// Whether `name` is a relation or a permission of this type.
    pub fn has_name(&self, name: &str) -> bool {
        self.relation(name).is_some() || self.permission(name).is_some()
    }
}
