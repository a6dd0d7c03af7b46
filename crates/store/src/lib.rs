//! The keyspace: databases, keys, values and their expiry. It knows nothing of
//! RESP, sockets or commands.
//!
//! What it owns:
//!
//! * [`Keyspace`]: every database, sharded by key hash into a flat array of
//!   mutex-protected hash tables. Commands lock the shards of the keys they
//!   touch, in ascending shard order ([`Keyspace::lock_many`]), which makes
//!   multi-key commands atomic and deadlock free on every thread.
//! * Expiry: lazy on access ([`Locked::get`] deletes an expired key before
//!   answering) and active ([`Keyspace::active_expire_db`], which walks each
//!   shard's buckets from a saved cursor in bounded steps).
//! * [`Entry`]: one key in one allocation (access field, expiry, key bytes
//!   and a short string inline, or the value as an object); the shard tables
//!   hold thin pointers to these blocks. Stored values are read as
//!   [`ValueRef`]s.
//! * [`Value`]: the value types with their Redis encodings.
//!
//! What it must never do: block on I/O, hold a shard lock across a step of
//! unbounded size, or keep a reference into a client's buffer (keys and values
//! are copied in).

pub mod alloc;
pub mod blocked;
pub mod counter;
mod entry;
pub mod glob;
pub mod hash;
mod keyspace;
pub mod list;
pub mod set;
pub mod value;
pub mod watch;
pub mod zset;

pub use blocked::BlockedKeys;
pub use entry::{Entry, INLINE_STR_MAX};
pub use hash::Hash;
pub use keyspace::set_master_context;
pub use keyspace::{
    in_journal_section, lfu_decayed, lfu_log_incr, lfu_touch, lru_clock, lru_idle_ms,
    set_journal_section, Capture, Keyspace, KeyspaceObserver, KeyspaceStats, Locked, Shard,
    LFU_INIT_VAL, LRU_CLOCK_MAX, SHARDS_PER_DB,
};
pub use set::Set;
pub use value::{StrRef, StrValue, Value, ValueRef, ValueType};
pub use watch::{WatchFlag, Watches};
pub use zset::Zset;
