//! Persistence in Redis's formats.
//!
//! What it owns: the RDB codec ([`rdb`]: values, DUMP payloads and whole
//! files, version 10 as Redis 7.0 writes them), the checksum ([`crc64`]) and
//! the compression ([`lzf`]) the format uses, and writing snapshot files
//! safely ([`file`]: temporary file, fsync, rename, fsync of the directory).
//! The append-only file, which needs threads and the dispatcher, lives in
//! the server crate (`ferrocache_server::aof`) and uses this crate for its
//! RDB base files.
//!
//! What it must never do: trust a byte of a file. Every length is checked
//! against the bytes that remain before it is used, preallocation is capped,
//! and a malformed file is an error naming the byte offset, never a panic. It
//! also knows nothing of commands, clients or configuration: callers pass
//! the few settings the codec needs ([`rdb::reader::Options`],
//! `rdbcompression`, `rdbchecksum`).
//!
//! Point-in-time capture of the keyspace belongs to the store
//! (`Keyspace::begin_snapshot`); this crate only turns what was captured
//! into bytes.

pub mod crc64;
pub mod file;
pub mod lzf;
pub mod rdb;

pub use rdb::{RdbError, RDB_VERSION};
