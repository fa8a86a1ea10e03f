//! [`ObjectTable`]: the identities and current replicas of the planned objects, in a compact layout.
//!
//! A planning cycle holds every object of the catalog at once (10 million on a large gateway), but reads an
//! object's bucket, key and replica names only for the few that move. So the table keeps no `String` per
//! object: keys are concatenated in one buffer, bucket names and replica sets are interned (a catalog has few of
//! each), and an object costs about its key's length plus 24 bytes. [`NameIndex`] finds an object by name
//! (for the access log's events and the stats) with about 5 bytes per object more, and is dropped once those are read.
//!
//! # Contracts
//!
//! * Ids are dense, `0..len()`, in push order.
//! * An object's replicas are returned exactly as they were pushed (the catalog's order), which a move's
//!   compare-and-swap compares.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::DefaultHashBuilder;

use hashbrown::HashTable;

use crate::error::{Result, invalid};

/// One object of an [`ObjectTable`], borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectRef<'a> {
    /// Bucket name.
    pub bucket: &'a str,
    /// Object key (a version's row key for a non-current version, as the catalog scans it).
    pub key: &'a str,
    /// Catalog generation.
    pub generation: u64,
    /// Current replicas in catalog order.
    pub replicas: &'a [String],
}

/// Identities and replicas of many objects (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct ObjectTable {
    /// Interned bucket names.
    buckets: Vec<String>,
    bucket_ids: HashMap<String, u32>,
    /// Interned replica sets.
    replica_sets: Vec<Vec<String>>,
    replica_set_ids: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Every key, concatenated; object `i`'s key ends at `key_end[i]` and starts where `i − 1`'s ends.
    keys: String,
    key_end: Vec<u64>,
    bucket_of: Vec<u32>,
    replicas_of: Vec<u32>,
    generation: Vec<u64>,
}

impl ObjectTable {
    /// An empty table with room for `objects` objects.
    pub fn with_capacity(objects: usize) -> ObjectTable {
        ObjectTable {
            key_end: Vec::with_capacity(objects),
            bucket_of: Vec::with_capacity(objects),
            replicas_of: Vec::with_capacity(objects),
            generation: Vec::with_capacity(objects),
            ..ObjectTable::default()
        }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.key_end.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.key_end.is_empty()
    }

    /// Appends an object and returns its id. Fails past `u32::MAX` objects, bucket names or replica sets.
    pub fn push<S: AsRef<str>>(
        &mut self,
        bucket: &str,
        key: &str,
        generation: u64,
        replicas: &[S],
    ) -> Result<u32> {
        let id = u32::try_from(self.len()).map_err(|_| invalid("more than u32::MAX objects"))?;
        let b = match self.bucket_ids.get(bucket) {
            Some(&b) => b,
            None => {
                let b = u32::try_from(self.buckets.len())
                    .map_err(|_| invalid("more than u32::MAX buckets"))?;
                self.buckets.push(bucket.to_owned());
                self.bucket_ids.insert(bucket.to_owned(), b);
                b
            }
        };
        let hash = hash_names(&self.hasher, replicas);
        let sets = &self.replica_sets;
        let known = self
            .replica_set_ids
            .find(hash, |&r| {
                let set = &sets[r as usize];
                set.len() == replicas.len()
                    && set.iter().zip(replicas).all(|(a, b)| a == b.as_ref())
            })
            .copied();
        let r = match known {
            Some(r) => r,
            None => {
                let r = u32::try_from(self.replica_sets.len())
                    .map_err(|_| invalid("more than u32::MAX replica sets"))?;
                self.replica_sets
                    .push(replicas.iter().map(|s| s.as_ref().to_owned()).collect());
                let (sets, hasher) = (&self.replica_sets, &self.hasher);
                self.replica_set_ids
                    .insert_unique(hash, r, |&r| hash_names(hasher, &sets[r as usize]));
                r
            }
        };
        self.keys.push_str(key);
        self.key_end.push(self.keys.len() as u64);
        self.bucket_of.push(b);
        self.replicas_of.push(r);
        self.generation.push(generation);
        Ok(id)
    }

    /// Object `i`. Panics if `i >= len()`.
    pub fn get(&self, i: usize) -> ObjectRef<'_> {
        ObjectRef {
            bucket: &self.buckets[self.bucket_of[i] as usize],
            key: self.key(i),
            generation: self.generation[i],
            replicas: self.replicas(i),
        }
    }

    /// Object `i`'s key. Panics if `i >= len()`.
    pub fn key(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.key_end[i - 1] as usize
        };
        &self.keys[start..self.key_end[i] as usize]
    }

    /// Whether object `i` is `key` in `bucket` (the key compared first: it tells most objects apart). Panics if
    /// `i >= len()`.
    pub fn is(&self, i: usize, bucket: &str, key: &str) -> bool {
        self.key(i) == key && self.bucket(i) == bucket
    }

    /// Object `i`'s bucket. Panics if `i >= len()`.
    pub fn bucket(&self, i: usize) -> &str {
        &self.buckets[self.bucket_of[i] as usize]
    }

    /// Object `i`'s replicas in catalog order. Panics if `i >= len()`.
    pub fn replicas(&self, i: usize) -> &[String] {
        &self.replica_sets[self.replicas_of[i] as usize]
    }

    /// The distinct replica sets, and object `i`'s index among them ([`ObjectTable::replica_set_of`]): what
    /// is computed per replica set (a backend mask) need not be computed per object.
    pub fn replica_sets(&self) -> &[Vec<String>] {
        &self.replica_sets
    }

    /// Object `i`'s index into [`ObjectTable::replica_sets`]. Panics if `i >= len()`.
    pub fn replica_set_of(&self, i: usize) -> usize {
        self.replicas_of[i] as usize
    }

    /// Every object in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ObjectRef<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// The hash of a list of names (without allocating).
fn hash_names<S: AsRef<str>>(hasher: &DefaultHashBuilder, names: &[S]) -> u64 {
    let mut h = hasher.build_hasher();
    names.len().hash(&mut h);
    for n in names {
        n.as_ref().hash(&mut h);
    }
    h.finish()
}

/// Finds objects of an [`ObjectTable`] by bucket and key (4 bytes per object and the hash table's slack).
#[derive(Debug, Default)]
pub struct NameIndex {
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl NameIndex {
    fn hash(&self, bucket: &str, key: &str) -> u64 {
        self.hasher.hash_one((bucket, key))
    }

    /// Indexes every object of `objects`, sized once for all of them. Fails if two objects have the same
    /// bucket and key.
    pub fn build(objects: &ObjectTable) -> Result<NameIndex> {
        let mut index = NameIndex {
            table: HashTable::with_capacity(objects.len()),
            hasher: DefaultHashBuilder::default(),
        };
        for id in 0..objects.len() {
            let (bucket, key) = (objects.bucket(id), objects.key(id));
            let hash = index.hash(bucket, key);
            let hasher = &index.hasher;
            match index.table.entry(
                hash,
                |&other| objects.is(other as usize, bucket, key),
                |&other| {
                    let o = other as usize;
                    hasher.hash_one((objects.bucket(o), objects.key(o)))
                },
            ) {
                hashbrown::hash_table::Entry::Occupied(_) => {
                    return Err(invalid(format!("{bucket}/{key} is in the table twice")));
                }
                hashbrown::hash_table::Entry::Vacant(e) => {
                    e.insert(id as u32);
                }
            }
        }
        Ok(index)
    }

    /// The id of `(bucket, key)` in `objects` (the table the index was built from), if it is there.
    pub fn find(&self, objects: &ObjectTable, bucket: &str, key: &str) -> Option<u32> {
        let hash = self.hash(bucket, key);
        self.table
            .find(hash, |&id| objects.is(id as usize, bucket, key))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_come_back_as_they_were_pushed() {
        let mut t = ObjectTable::default();
        let rows = [
            ("a", "k1", 1, vec!["hot"]),
            ("a", "", 2, vec!["warm", "hot"]),
            ("b", "k1", 3, vec!["hot"]),
            ("a", "ключ/ü", 4, vec!["hot", "warm"]),
            ("b", "k2", 5, vec![]),
        ];
        for (i, (b, k, g, r)) in rows.iter().enumerate() {
            assert_eq!(t.push(b, k, *g, r).expect("push"), i as u32);
        }
        assert_eq!(t.len(), rows.len());
        for (i, (b, k, g, r)) in rows.iter().enumerate() {
            let o = t.get(i);
            assert_eq!((o.bucket, o.key, o.generation), (*b, *k, *g));
            assert_eq!(
                o.replicas,
                r.iter().map(|s| s.to_string()).collect::<Vec<_>>()
            );
        }
        // Interned: two buckets, four distinct replica sets (order matters).
        assert_eq!(t.buckets.len(), 2);
        assert_eq!(t.replica_sets().len(), 4);
        assert_eq!(t.replica_set_of(0), t.replica_set_of(2));
    }

    #[test]
    fn the_index_finds_every_object_and_nothing_else() {
        let mut t = ObjectTable::default();
        for i in 0..10_000u32 {
            let id = t
                .push(
                    if i % 3 == 0 { "x" } else { "y" },
                    &format!("k{i}"),
                    0,
                    &["hot"],
                )
                .expect("push");
            assert_eq!(id, i);
        }
        let idx = NameIndex::build(&t).expect("index");
        for i in 0..10_000u32 {
            let b = if i % 3 == 0 { "x" } else { "y" };
            assert_eq!(idx.find(&t, b, &format!("k{i}")), Some(i));
            let other = if i % 3 == 0 { "y" } else { "x" };
            assert_eq!(idx.find(&t, other, &format!("k{i}")), None);
        }
        assert_eq!(idx.find(&t, "x", "k10000"), None);
        // Two objects of one name cannot be indexed.
        t.push("x", "k0", 9, &["cold"]).expect("push");
        assert!(NameIndex::build(&t).is_err());
    }
}
