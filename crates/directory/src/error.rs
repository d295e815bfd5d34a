//! Errors of the directory engine; each names the input at fault.

/// Why a directory read or write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The manifest declares no such type.
    #[error("unknown object type `{object_type}` (not declared in the manifest)")]
    UnknownType {
        /// The type named.
        object_type: String,
    },
    /// The type has no such relation or permission.
    #[error("type `{object_type}` has no relation or permission `{name}`")]
    UnknownName {
        /// The type.
        object_type: String,
        /// The name asked for.
        name: String,
    },
    /// Permissions are computed, never stored.
    #[error("`{object_type}#{name}` is a permission; only relations can be written")]
    NotARelation {
        /// The type.
        object_type: String,
        /// The permission named.
        name: String,
    },
    /// The relation does not admit this kind of subject.
    #[error("relation `{relation}` does not admit subject `{subject}` (it admits: {admitted})")]
    SubjectNotAdmitted {
        /// `type#relation`.
        relation: String,
        /// The subject's type, `type#relation` or `type:*`.
        subject: String,
        /// The admitted subject types, as written in the manifest.
        admitted: String,
    },
    /// A required field is empty.
    #[error("field `{field}` must not be empty")]
    EmptyField {
        /// The field name.
        field: &'static str,
    },
    /// `*` is reserved for wildcard subjects.
    #[error("object id `*` is reserved for wildcard subjects ({object_type}:*)")]
    ReservedId {
        /// The object's type.
        object_type: String,
    },
    /// Object properties must be a JSON object.
    #[error("properties of `{object}` must be a JSON object, not {found}")]
    PropertiesNotObject {
        /// `type:id`.
        object: String,
        /// The JSON kind found.
        found: &'static str,
    },
    /// The walk went deeper than the configured limit.
    #[error("check exceeded the depth limit of {limit} at `{at}` (nesting too deep)")]
    DepthExceeded {
        /// The limit.
        limit: u32,
        /// `type:id#relation` where it was reached.
        at: String,
    },
}
