//! `lictor.check` in Cerbos conditions, answered by a tenant's directory: the snapshot current when
//! the request arrived, so every condition of one request sees the same revision.

use lictor_cerbos::cel::RelationCheck;
use lictor_directory::{CheckRequest, Directory};
use std::sync::Arc;

/// One request's view of the directory for `lictor.check(subject, relation, object)`.
pub struct DirectoryRelations(pub Arc<Directory>);

impl RelationCheck for DirectoryRelations {
    /// `subject` is `type:id` or a subject set `type:id#relation`, `object` is `type:id`. A
    /// malformed reference, an unknown type or relation is `false`, as an error in a Cerbos
    /// condition is.
    fn check(&self, subject: &str, relation: &str, object: &str) -> bool {
        let Some((object_type, object_id)) = object.split_once(':') else {
            return false;
        };
        let Some((subject_type, subject)) = subject.split_once(':') else {
            return false;
        };
        let (subject_id, subject_relation) = subject.rsplit_once('#').unwrap_or((subject, ""));
        let request = CheckRequest {
            object_type,
            object_id,
            relation,
            subject_type,
            subject_id,
            subject_relation,
        };
        match self.0.check(&request) {
            Ok(allowed) => allowed,
            Err(error) => {
                tracing::debug!(%subject, %relation, %object, %error, "lictor.check in a Cerbos condition failed");
                false
            }
        }
    }
}
