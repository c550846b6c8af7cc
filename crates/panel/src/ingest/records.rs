//! The records an ingest keeps between reading and counting: one small entry per post,
//! repost and follow (likes and other collections keep nothing), keyed by a 64-bit hash of
//! the record's address `(did, collection, rkey)`.
//!
//! Keeping entries instead of counting on the fly is what makes an ingest independent of
//! the order of its files: a reply may be read before the post it answers, a delete before
//! its create, an update before both. A delete replaces its record with a tombstone, so a
//! create read later is resolved against it, and a second copy of any event (Jetstream
//! delivers at least once) finds its entry already there and is dropped.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A post, as far as the panel needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Post {
    /// Author (account index).
    pub author: u32,
    /// UTC day (days since 1970-01-01) of its create (or, until that is read, of an update).
    pub day: i32,
    /// Revision of the version whose topics are kept (TID order).
    pub rev: u64,
    /// Topics (bit `k` for topic `k`).
    pub topics: u64,
    /// The post replied to, if this is a reply.
    pub parent: Option<Target>,
    /// Whether its create has been read (an update alone says nothing of when it was made).
    pub created: bool,
}

/// A reference to another account's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The record's key.
    pub key: u64,
    /// Its author (account index).
    pub author: u32,
}

/// One kept record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Entry {
    /// `app.bsky.feed.post`.
    Post(Post),
    /// `app.bsky.feed.repost` of `subject` (if its URI names a post).
    Repost {
        /// Reposter.
        author: u32,
        /// UTC day.
        day: i32,
        /// The post reposted.
        subject: Option<Target>,
    },
    /// `app.bsky.graph.follow` of `subject`.
    Follow {
        /// Follower.
        author: u32,
        /// UTC day.
        day: i32,
        /// The account followed.
        subject: u32,
    },
    /// A deleted record; `created` once its create has been read too.
    Tombstone {
        /// Whether the create of the deleted record was read.
        created: bool,
    },
}

/// The entries, by key. Keys are hashes already: the map's own hashing is the identity.
pub type Records = HashMap<u64, Entry, BuildHasherDefault<KeyHasher>>;

/// The key of the record `at://{did}/{collection}/{rkey}`.
pub fn key(did: &str, collection: &str, rkey: &str) -> u64 {
    // SipHash with fixed keys: deterministic, and far from colliding at 10^9 records
    // (probability ~ records² / 2^65).
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new_with_keys(0x6175_6d61_6e6e, 0x6a65_7473_7472);
    (did, collection, rkey).hash(&mut h);
    h.finish()
}

/// The key of the record an `at://did/collection/rkey` URI names, with its DID.
pub fn key_of_uri(uri: &str) -> Option<(u64, &str, &str)> {
    let mut parts = uri.strip_prefix("at://")?.splitn(3, '/');
    let (did, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    (!did.is_empty() && !rkey.is_empty()).then(|| (key(did, collection, rkey), did, collection))
}

/// The base32-sortable digits of a TID, in order.
const TID_ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The 13-character TID of a 64-bit value (the inverse of [`tid_order`]).
pub fn tid(value: u64) -> String {
    (0..13)
        .rev()
        .map(|k| TID_ALPHABET[((u128::from(value) >> (5 * k)) & 31) as usize] as char)
        .collect()
}

/// The order of a TID (a repository revision or record key): its 13 base32-sortable
/// characters read as a 64-bit number; anything else orders first.
pub fn tid_order(tid: &str) -> u64 {
    const ALPHABET: &[u8] = TID_ALPHABET;
    if tid.len() != 13 {
        return 0;
    }
    let mut v: u128 = 0;
    for c in tid.bytes() {
        let Some(d) = ALPHABET.iter().position(|&a| a == c) else {
            return 0;
        };
        v = (v << 5) | d as u128;
    }
    v as u64
}

/// The identity hasher of [`Records`].
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, k: u64) {
        self.0 = k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_key_as_their_parts_and_tids_order_by_time() {
        let (k, did, collection) =
            key_of_uri("at://did:plc:abc/app.bsky.feed.post/3mptbypfywk2v").unwrap();
        assert_eq!(k, key("did:plc:abc", "app.bsky.feed.post", "3mptbypfywk2v"));
        assert_eq!((did, collection), ("did:plc:abc", "app.bsky.feed.post"));
        assert_ne!(k, key("did:plc:abc", "app.bsky.feed.like", "3mptbypfywk2v"));
        assert!(key_of_uri("https://example.com").is_none());
        assert!(key_of_uri("at://did:plc:abc").is_none());
        assert!(tid_order("3mptbypoove2w") > tid_order("3mmoojpaqkn2z"));
        assert!(tid_order("3mptbypoove2x") > tid_order("3mptbypoove2w"));
        assert_eq!(tid_order("not-a-tid"), 0);
        assert_eq!(
            tid_order(&tid(1_783_175_888_172_335 << 10)),
            1_783_175_888_172_335 << 10
        );
    }
}
