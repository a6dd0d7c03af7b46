//! Keyspace notifications (`notify-keyspace-events`).
//!
//! A write command reports what it did with [`Ctx::notify`]: a class (the
//! letter a user enables: `g` generic, `$` string, `l` list ...) and an event
//! name (`set`, `lpush`, `del`, `expire` ...), as Redis names them. When the
//! class is enabled, the event is published on `__keyspace@<db>__:<key>`
//! (message: the event) if `K` is set, and on `__keyevent@<db>__:<event>`
//! (message: the key) if `E` is set. With notifications off (the default)
//! a report costs one relaxed load.
//!
//! Keys removed by the keyspace itself (expiry) and keys it creates (the
//! `new` event) reach here through [`ferrocache_store::KeyspaceObserver`],
//! implemented by [`crate::pubsub::PubSub`].

use crate::context::Ctx;

/// Class bits, one per letter.
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// What `A` stands for: every class but key misses and new keys.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// The class letters in the order CONFIG GET prints them.
const ORDER: &[(char, u32)] = &[
    ('g', class::GENERIC),
    ('$', class::STRING),
    ('l', class::LIST),
    ('s', class::SET),
    ('h', class::HASH),
    ('z', class::ZSET),
    ('x', class::EXPIRED),
    ('e', class::EVICTED),
    ('t', class::STREAM),
    ('d', class::MODULE),
    ('n', class::NEW),
];

/// The bits a `notify-keyspace-events` value enables, or None if it has a
/// letter Redis does not know.
pub fn parse(value: &str) -> Option<u32> {
    let mut flags = 0;
    for c in value.chars() {
        flags |= match c {
            'A' => class::ALL,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            'm' => class::KEY_MISS,
            _ => ORDER.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(flags)
}

/// The canonical spelling CONFIG GET shows: `A` or the class letters, then
/// `K`, `E`, `m`. (Redis 7.0 prints `n` only without `A`.)
pub fn canonical(flags: u32) -> String {
    let mut s = String::new();
    if flags & class::ALL == class::ALL {
        s.push('A');
    } else {
        for (c, bit) in ORDER {
            if flags & bit != 0 {
                s.push(*c);
            }
        }
    }
    for (c, bit) in [
        ('K', class::KEYSPACE),
        ('E', class::KEYEVENT),
        ('m', class::KEY_MISS),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

impl Ctx<'_> {
    /// Reports an event on `key` in the client's database.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.notify_db(class, event, self.session.db, key);
    }

    /// Reports an event on `key` in database `db`.
    #[inline]
    pub fn notify_db(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        self.shared.pubsub.notify(class, event, db, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_spelling_matches_redis() {
        for (given, shown) in [
            ("KEA", "AKE"),
            ("E$lg", "g$lE"),
            ("Kx", "xK"),
            ("AKEmn", "AKEm"),
            ("Kz$", "$zK"),
            ("Ktexnd", "xetdnK"),
            ("Kdnm", "dnKm"),
            ("g$lshzxetdKE", "AKE"),
            ("", ""),
        ] {
            assert_eq!(canonical(parse(given).expect(given)), shown, "{given}");
        }
        assert_eq!(parse("zyx"), None);
    }
}
