//! Copy-on-write containers: a snapshot clones in O(shards) and a write copies only the shard it touches,
//! so readers keep an immutable snapshot while the writer builds the next one.

use hashbrown::{Equivalent, HashMap};
use rustc_hash::FxBuildHasher;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

const SHARD_BITS: u32 = 10;
const SHARDS: usize = 1 << SHARD_BITS;

/// A hash map split into shards, each shared between snapshots until written.
#[derive(Clone)]
pub struct ShardedMap<K, V> {
    shards: Arc<Vec<Arc<HashMap<K, V, FxBuildHasher>>>>,
    len: usize,
}

impl<K, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        let shard = Arc::new(HashMap::with_hasher(FxBuildHasher));
        ShardedMap {
            shards: Arc::new(vec![shard; SHARDS]),
            len: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ShardedMap<K, V> {
    #[inline]
    fn shard_of<Q: Hash + ?Sized>(key: &Q) -> usize {
        let hash = FxBuildHasher.hash_one(key);
        // The top bits pick the shard; hashbrown uses the low bits inside it.
        (hash >> (64 - SHARD_BITS)) as usize
    }

    /// The value for a key.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.shards.get(Self::shard_of(key))?.get(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    fn shard_mut<Q: Hash + ?Sized>(
        &mut self,
        key: &Q,
    ) -> Option<&mut HashMap<K, V, FxBuildHasher>> {
        let index = Self::shard_of(key);
        Arc::make_mut(&mut self.shards)
            .get_mut(index)
            .map(Arc::make_mut)
    }

    /// Inserts or replaces a value, returning the previous one.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let previous = self.shard_mut(&key)?.insert(key, value);
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// Removes a key, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let removed = self.shard_mut(key)?.remove(key);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// A mutable reference to the value, inserting `V::default()` when absent.
    pub fn entry_or_default(&mut self, key: K) -> Option<&mut V>
    where
        V: Default,
    {
        let index = Self::shard_of(&key);
        let shard = Arc::make_mut(Arc::make_mut(&mut self.shards).get_mut(index)?);
        if !shard.contains_key(&key) {
            self.len += 1;
        }
        Some(shard.entry(key).or_default())
    }

    /// A mutable reference to an existing value.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.shard_mut(key)?.get_mut(key)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(|shard| shard.iter())
    }

    /// Releases spare capacity, after a bulk load.
    pub fn shrink_to_fit(&mut self) {
        for shard in Arc::make_mut(&mut self.shards).iter_mut() {
            Arc::make_mut(shard).shrink_to_fit();
        }
    }
}

/// A vector that grows by appending; clones share every full chunk.
#[derive(Clone)]
pub struct ChunkedVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

const CHUNK: usize = 4096;

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> ChunkedVec<T> {
    /// The element at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    /// Appends an element and returns its index.
    pub fn push(&mut self, value: T) -> usize {
        let index = self.len;
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => Arc::make_mut(chunk).push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
        index
    }
}
