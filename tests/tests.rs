//! Integration and differential tests. One binary, one module per area; each
//! starts Ferrocache in-process on port 0 and, for differential tests, a real
//! redis-server beside it.

mod support;

mod aof;
mod basics;
mod binary;
mod blocking;
mod deploy;
mod eviction;
mod hashes;
mod keys;
mod lists;
mod notifications;
mod persistence;
mod pubsub;
mod random;
mod readme;
mod replication;
mod robustness;
mod scripting;
mod sentinel;
mod server;
mod sets;
mod sort;
mod strings;
mod tracking;
mod transactions;
mod zsets;
