//! Per-object state shared by every policy: interned ids and metadata in
//! `Vec`s indexed by a dense `u32`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Dense object number, assigned on first sight of an id.
pub type ObjId = u32;

/// A small, fast, non-cryptographic hasher for trace ids (FxHash's
/// multiply-rotate). Traces are local input, so hash flooding is moot.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.add(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Metadata of one object (the current incarnation if it was deleted and
/// written again).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// When it was written (or first seen, if it pre-existed the trace).
    pub created_ms: u64,
    /// Last GET, or `created_ms` if never read.
    pub last_read_ms: u64,
    /// False once deleted (and before the first sight).
    pub alive: bool,
    /// It was first seen as a read, not a write: it existed before the
    /// trace, so no PUT was billed for it.
    pub preexisting: bool,
    /// It has been alive at some point (distinguishes "deleted" from
    /// "never seen").
    pub ever_alive: bool,
}

/// Interned ids plus per-object metadata.
#[derive(Default)]
pub struct ObjectTable {
    ids: HashMap<Box<str>, ObjId, BuildHasherDefault<FxHasher>>,
    meta: Vec<ObjectMeta>,
    alive: u64,
}

impl ObjectTable {
    /// The dense id of `id`, allocating one (and the key, once) on first
    /// sight. Fails only past `u32::MAX` distinct ids.
    pub fn intern(&mut self, id: &str) -> Option<ObjId> {
        if let Some(&n) = self.ids.get(id) {
            return Some(n);
        }
        let n = ObjId::try_from(self.meta.len()).ok()?;
        self.ids.insert(id.into(), n);
        self.meta.push(ObjectMeta::default());
        Some(n)
    }

    /// Metadata of an interned object.
    pub fn get(&self, id: ObjId) -> &ObjectMeta {
        &self.meta[id as usize]
    }

    pub(crate) fn get_mut(&mut self, id: ObjId) -> &mut ObjectMeta {
        &mut self.meta[id as usize]
    }

    pub(crate) fn set_alive(&mut self, id: ObjId, alive: bool) {
        let m = &mut self.meta[id as usize];
        if m.alive != alive {
            if alive {
                self.alive += 1;
                m.ever_alive = true;
            } else {
                self.alive -= 1;
            }
            m.alive = alive;
        }
    }

    /// Distinct ids seen.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// True before the first id.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Objects alive now.
    pub fn alive(&self) -> u64 {
        self.alive
    }

    /// Every object's metadata, indexed by [`ObjId`] (dead ones included).
    pub fn all(&self) -> &[ObjectMeta] {
        &self.meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn interning_is_stable_and_dense() {
        let mut t = ObjectTable::default();
        assert_eq!(t.intern("a"), Some(0));
        assert_eq!(t.intern("bb"), Some(1));
        assert_eq!(t.intern("a"), Some(0));
        assert_eq!(t.len(), 2);
        t.set_alive(1, true);
        t.set_alive(1, true);
        assert_eq!(t.alive(), 1);
        t.set_alive(1, false);
        assert_eq!(t.alive(), 0);
    }

    #[test]
    fn hasher_distinguishes_lengths_and_contents() {
        let b = BuildHasherDefault::<FxHasher>::default();
        assert_ne!(b.hash_one("abcdefgh"), b.hash_one("abcdefgi"));
        assert_ne!(b.hash_one("a"), b.hash_one("a\0"));
    }
}
