//! The RDB format of Redis 7.0 (version 10).
//!
//! A file is the magic `REDIS0010`, auxiliary fields, then for each
//! non-empty database a SELECTDB opcode, a RESIZEDB hint and its keys, and
//! finally the EOF opcode and a CRC-64 of everything before it. A key is an
//! optional expiry opcode, a type byte, the key as a string and the value in
//! the encoding its type byte names. A DUMP payload is one type byte and
//! value, followed by the two-byte format version and a CRC-64.
//!
//! Type numbers and opcodes never change meaning between versions: a
//! reader of version 10 reads every older file, which is why the reader
//! here accepts every encoding Redis ever wrote for the types Ferrocache
//! has, while the writer emits only what Redis 7.0 emits.
//!
//! * [`encoding`]: the packed blobs stored inside string values (listpack,
//!   ziplist, intset, zipmap), decoded with bounds checks everywhere.
//! * [`writer`]: value serialisation and whole files.
//! * [`reader`]: value deserialisation and whole files.

pub mod encoding;
pub mod reader;
pub mod writer;

/// The format version written, and the newest one read.
pub const RDB_VERSION: u16 = 10;

// Value types.
pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

// Opcodes, which share the byte with the type of the next key.
pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION_PRE_GA: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

// Length encoding: the top two bits of the first byte.
pub(crate) const LEN_6BIT: u8 = 0;
pub(crate) const LEN_14BIT: u8 = 1;
pub(crate) const LEN_32BIT: u8 = 0x80;
pub(crate) const LEN_64BIT: u8 = 0x81;
pub(crate) const LEN_ENCVAL: u8 = 3;
// Special string encodings (low six bits when the top bits are 11).
pub(crate) const ENC_INT8: u8 = 0;
pub(crate) const ENC_INT16: u8 = 1;
pub(crate) const ENC_INT32: u8 = 2;
pub(crate) const ENC_LZF: u8 = 3;

// Quicklist v2 node containers.
pub(crate) const QUICKLIST_NODE_PLAIN: u64 = 1;
pub(crate) const QUICKLIST_NODE_PACKED: u64 = 2;

/// A malformed file or payload: what was wrong and the byte offset where
/// the reader noticed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdbError {
    pub offset: usize,
    pub reason: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte offset {}", self.reason, self.offset)
    }
}

impl std::error::Error for RdbError {}

pub type Result<T> = std::result::Result<T, RdbError>;

#[cfg(test)]
mod tests;
