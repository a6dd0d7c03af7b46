//! Commands, and the state they act on.
//!
//! This crate holds the command table ([`table`]), one module per Redis
//! command group (`string`, `generic`, `server`, `connection`, ...), the
//! dispatcher that applies the checks common to every command
//! ([`dispatch::execute`]), and the shared server state those commands read
//! and change ([`context::Shared`]: keyspace, configuration, client registry,
//! statistics). The network lives above it, in the server crate.
//!
//! Rules every handler follows:
//!
//! * A handler is `fn(&mut Ctx) -> CmdResult`. It reads arguments through
//!   [`args`] helpers, locks the shards of its keys through the store, writes
//!   its reply with the context's encoder, and returns errors as values; the
//!   dispatcher writes them and counts them. A handler never panics on input.
//! * Arity and unknown-command errors never reach a handler: the table
//!   declares arity and the dispatcher checks it.
//! * Every error text comes from [`errors`].
//! * A handler that changes data calls `Locked::dirty`, which feeds the save
//!   rules and tells the dispatcher to journal the command ([`journal`]);
//!   a handler whose command is not deterministic as sent (relative expiry,
//!   SPOP, INCRBYFLOAT) records the form that replays it with
//!   [`Ctx::propagate`](crate::context::Ctx::propagate).
//!
//! Cross-cutting state beside the keyspace: the exec gate that makes EXEC
//! and scripts atomic ([`multi`]), the journal feeding the AOF and replicas
//! ([`journal`]), blocked clients ([`blocking`]), pub/sub and client
//! tracking mailboxes ([`pubsub`], [`tracking`]), maxmemory ([`evict`]).
//! Lock order, everywhere: gate, then journal, then shards, then the pub/sub
//! and tracking registries.

pub mod args;
pub mod blocking;
pub mod client;
pub mod clients;
pub mod config;
pub mod connection;
pub mod context;
pub mod debug;
pub mod dispatch;
pub mod errors;
pub mod evict;
pub mod generic;
pub mod hash;
pub mod info;
pub mod journal;
pub mod latency;
pub mod list;
pub mod memory;
pub mod monitor;
pub mod multi;
pub mod notify;
pub mod persist;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod sort;
pub mod stats;
pub mod string;
pub mod table;
pub mod tracking;
pub mod zset;

pub use context::{CmdError, CmdResult, Ctx, Session, Shared};
