//! The relation index of one snapshot: interned objects, relations in both directions, object data.

use crate::schema::{NameId, TypeId, NO_NAME};
use crate::shard::{ChunkedVec, ShardedMap};
use hashbrown::Equivalent;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Interned object (`type:id`), unique within a directory's lifetime.
pub type ObjectId = u32;

/// One subject of a relation: an object, or a subject set when `relation != NO_NAME`.
/// Ordered by relation first so the direct subjects of a list form a sorted prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject {
    /// The subject relation, or [`NO_NAME`].
    pub relation: NameId,
    /// The subject object.
    pub object: ObjectId,
}

/// An `(object, relation)` pair, the key of both indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node {
    /// The object.
    pub object: ObjectId,
    /// The relation, permission or [`NO_NAME`].
    pub relation: NameId,
}

/// The interner key: type and id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ObjectKey {
    object_type: TypeId,
    id: Arc<str>,
}

impl Hash for ObjectKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        ObjectKeyRef {
            object_type: self.object_type,
            id: &self.id,
        }
        .hash(state);
    }
}

/// A borrowed interner key, so lookups need no allocation.
#[derive(Hash)]
struct ObjectKeyRef<'a> {
    object_type: TypeId,
    id: &'a str,
}

impl Equivalent<ObjectKey> for ObjectKeyRef<'_> {
    fn equivalent(&self, key: &ObjectKey) -> bool {
        self.object_type == key.object_type && *self.id == *key.id
    }
}

/// Display name, properties and etag of an object that was set.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectData {
    /// Human-readable name.
    pub display_name: String,
    /// JSON properties.
    pub properties: serde_json::Value,
    /// Content etag.
    pub etag: String,
}

/// Objects and relations, indexed for check (forward) and lookups (reverse).
#[derive(Clone, Default)]
pub struct RelationIndex {
    ids: ShardedMap<ObjectKey, ObjectId>,
    keys: ChunkedVec<(TypeId, Arc<str>)>,
    data: ShardedMap<ObjectId, Arc<ObjectData>>,
    /// `(object, relation) → subjects`, sorted.
    forward: ShardedMap<Node, Vec<Subject>>,
    /// `(subject, subject relation) → (object, relation)` sorted by relation then object.
    reverse: ShardedMap<Node, Vec<Subject>>,
    relation_count: usize,
}

impl RelationIndex {
    /// The id of `type:id`, if it was ever seen.
    #[inline]
    pub fn object_id(&self, object_type: TypeId, id: &str) -> Option<ObjectId> {
        self.ids.get(&ObjectKeyRef { object_type, id }).copied()
    }

    /// The id of `type:id`, interning it when new.
    pub fn intern(&mut self, object_type: TypeId, id: &str) -> ObjectId {
        if let Some(existing) = self.object_id(object_type, id) {
            return existing;
        }
        let id: Arc<str> = Arc::from(id);
        let object = self.keys.push((object_type, id.clone())) as ObjectId;
        self.ids.insert(ObjectKey { object_type, id }, object);
        object
    }

    /// Type and id of an interned object.
    #[inline]
    pub fn object_key(&self, object: ObjectId) -> Option<(TypeId, &str)> {
        self.keys
            .get(object as usize)
            .map(|(ty, id)| (*ty, id.as_ref()))
    }

    /// Type of an interned object.
    #[inline]
    pub fn object_type(&self, object: ObjectId) -> Option<TypeId> {
        self.keys.get(object as usize).map(|(ty, _)| *ty)
    }

    /// The data of an object that was set.
    pub fn object_data(&self, object: ObjectId) -> Option<&Arc<ObjectData>> {
        self.data.get(&object)
    }

    /// Stores an object's data; returns whether it was new.
    pub fn set_object_data(&mut self, object: ObjectId, data: ObjectData) -> bool {
        self.data.insert(object, Arc::new(data)).is_none()
    }

    /// Removes an object's data; returns whether it existed.
    pub fn remove_object_data(&mut self, object: ObjectId) -> bool {
        self.data.remove(&object).is_some()
    }

    /// Number of objects that were set.
    pub fn object_count(&self) -> usize {
        self.data.len()
    }

    /// Every object that was set.
    pub fn objects(&self) -> impl Iterator<Item = (ObjectId, &Arc<ObjectData>)> {
        self.data.iter().map(|(id, data)| (*id, data))
    }

    /// Number of relation tuples.
    pub fn relation_count(&self) -> usize {
        self.relation_count
    }

    /// The sorted subjects of `(object, relation)`.
    #[inline]
    pub fn subjects(&self, object: ObjectId, relation: NameId) -> &[Subject] {
        self.forward
            .get(&Node { object, relation })
            .map_or(&[], Vec::as_slice)
    }

    /// Where `subject` (with `subject_relation`) appears, as `(relation, object)` pairs sorted by relation.
    #[inline]
    pub fn appearances(&self, subject: ObjectId, subject_relation: NameId) -> &[Subject] {
        self.reverse
            .get(&Node {
                object: subject,
                relation: subject_relation,
            })
            .map_or(&[], Vec::as_slice)
    }

    /// Every `(object, relation)` that has subjects.
    pub fn nodes(&self) -> impl Iterator<Item = (&Node, &Vec<Subject>)> {
        self.forward.iter()
    }

    /// Adds a tuple; returns whether it was new.
    pub fn insert(&mut self, node: Node, subject: Subject) -> bool {
        let Some(list) = self.forward.entry_or_default(node) else {
            return false;
        };
        let Err(at) = list.binary_search(&subject) else {
            return false;
        };
        list.insert(at, subject);
        let back = Subject {
            relation: node.relation,
            object: node.object,
        };
        let key = Node {
            object: subject.object,
            relation: subject.relation,
        };
        if let Some(list) = self.reverse.entry_or_default(key) {
            if let Err(at) = list.binary_search(&back) {
                list.insert(at, back);
            }
        }
        self.relation_count += 1;
        true
    }

    /// Removes a tuple; returns whether it existed.
    pub fn remove(&mut self, node: Node, subject: Subject) -> bool {
        if !remove_sorted(&mut self.forward, node, subject) {
            return false;
        }
        let key = Node {
            object: subject.object,
            relation: subject.relation,
        };
        let back = Subject {
            relation: node.relation,
            object: node.object,
        };
        remove_sorted(&mut self.reverse, key, back);
        self.relation_count -= 1;
        true
    }

    /// Releases spare capacity after a bulk load.
    pub fn shrink_to_fit(&mut self) {
        self.forward.shrink_to_fit();
        self.reverse.shrink_to_fit();
    }

    /// The direct (non subject-set) part of a sorted subject list.
    #[inline]
    pub fn direct_part(list: &[Subject]) -> &[Subject] {
        let end = list.partition_point(|s| s.relation == NO_NAME);
        list.get(..end).unwrap_or(&[])
    }

    /// The entries of a sorted list whose relation is `relation`.
    #[inline]
    pub fn with_relation(list: &[Subject], relation: NameId) -> &[Subject] {
        let start = list.partition_point(|s| s.relation < relation);
        let end = list.partition_point(|s| s.relation <= relation);
        list.get(start..end).unwrap_or(&[])
    }
}

fn remove_sorted(map: &mut ShardedMap<Node, Vec<Subject>>, key: Node, item: Subject) -> bool {
    let Some(list) = map.get_mut(&key) else {
        return false;
    };
    let Ok(at) = list.binary_search(&item) else {
        return false;
    };
    list.remove(at);
    if list.is_empty() {
        map.remove(&key);
    }
    true
}
