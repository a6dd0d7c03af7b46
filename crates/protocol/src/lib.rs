//! RESP2 and RESP3 on the wire, and nothing else.
//!
//! This crate owns the bytes between a socket and a command: it turns a
//! connection's read buffer into command argument vectors ([`RequestDecoder`]),
//! parses arbitrary RESP frames for the client side of the protocol
//! ([`frame`]: tests, the replica link), and writes replies straight into an
//! output buffer ([`Encoder`]).
//!
//! Design decisions:
//!
//! * **Incomplete is not Invalid.** Every decoding step answers either "a whole
//!   command", "need more bytes", or a [`ProtocolError`] carrying the exact text
//!   Redis sends before it closes the connection. A half-arrived command never
//!   costs more than the bytes that arrived.
//! * **Lengths from the wire are never trusted.** A declared multibulk count or
//!   bulk length is checked against the configured limits and is never used to
//!   reserve memory beyond what is already buffered. `*2147483647\r\n` costs a
//!   few bytes of state, not 16 GiB.
//! * **Zero copy in, one copy out.** Arguments are `Bytes` slices of the read
//!   buffer; whoever keeps an argument beyond the command (the keyspace) must
//!   copy it so a small key never pins a large read buffer.
//! * **No tokio, no keyspace.** The crate is pure and synchronous so that it can
//!   be fuzzed and benchmarked alone.

mod decoder;
mod encoder;
pub mod frame;

pub use decoder::{parse_i64, split_args, INLINE_MAX_SIZE};
pub use decoder::{DecodeLimits, ProtocolError, RequestDecoder};
pub use encoder::{format_double, Encoder, Protocol};
pub use frame::Frame;
