//! The collection rows of the memory section: many small collections of
//! each type, the way caches hold sessions, tags and recent-item lists.
//!
//! Each kind runs on a fresh server of each side, so the growth of
//! `used_memory` and of RSS over the load is that kind's alone. Every
//! collection has five elements, small enough that Redis 7.0 keeps it in its
//! compact encoding where it has one (a listpack hash or sorted set, an
//! intset, a quicklist of one listpack node); sets of strings have none in
//! 7.0 and are hash tables.

use crate::client::{encode, Client};
use crate::memory::{self, MemSnap};
use ferrocache_protocol::Frame;
use std::io;
use std::time::Duration;

/// Elements per collection.
pub const ELEMENTS: usize = 5;

/// One kind of small collection.
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    /// Shown in the report: "hash (5 fields)".
    pub label: &'static str,
    /// The command that creates the i-th collection.
    pub build: fn(u64) -> Vec<Vec<u8>>,
}

/// An element that differs between collections and within one.
fn text(i: u64, j: usize) -> Vec<u8> {
    let v = memory::value(i.wrapping_mul(8) + j as u64, 8);
    let mut out = format!("{j}:").into_bytes();
    out.extend_from_slice(&v);
    out
}

fn hash(i: u64) -> Vec<Vec<u8>> {
    let mut c = vec![b"HSET".to_vec(), format!("hash:{i:07}").into_bytes()];
    for j in 0..ELEMENTS {
        c.push(format!("field{j}").into_bytes());
        c.push(text(i, j));
    }
    c
}

fn string_set(i: u64) -> Vec<Vec<u8>> {
    let mut c = vec![b"SADD".to_vec(), format!("set:{i:07}").into_bytes()];
    c.extend((0..ELEMENTS).map(|j| text(i, j)));
    c
}

fn int_set(i: u64) -> Vec<Vec<u8>> {
    let mut c = vec![b"SADD".to_vec(), format!("iset:{i:07}").into_bytes()];
    c.extend((0..ELEMENTS).map(|j| (i * 10 + j as u64).to_string().into_bytes()));
    c
}

fn list(i: u64) -> Vec<Vec<u8>> {
    let mut c = vec![b"RPUSH".to_vec(), format!("list:{i:07}").into_bytes()];
    c.extend((0..ELEMENTS).map(|j| text(i, j)));
    c
}

/// Five members scored like a recent-items list: Unix times (integers),
/// so Redis keeps a listpack.
fn sorted_set(i: u64) -> Vec<Vec<u8>> {
    let mut c = vec![b"ZADD".to_vec(), format!("zset:{i:07}").into_bytes()];
    for j in 0..ELEMENTS {
        c.push((1_700_000_000 + i * 7 + j as u64).to_string().into_bytes());
        c.push(text(i, j));
    }
    c
}

/// The kinds measured, in report order.
pub const KINDS: &[Kind] = &[
    Kind {
        label: "hash (5 fields)",
        build: hash,
    },
    Kind {
        label: "set of strings (5 members)",
        build: string_set,
    },
    Kind {
        label: "intset (5 integers)",
        build: int_set,
    },
    Kind {
        label: "list (5 elements)",
        build: list,
    },
    Kind {
        label: "sorted set (5 members)",
        build: sorted_set,
    },
];

/// Before and after loading one kind into one server.
#[derive(Clone, Debug)]
pub struct Side {
    pub before: MemSnap,
    pub after: MemSnap,
    /// Why the load failed, if it did.
    pub error: Option<String>,
}

impl Side {
    /// Growth of `used_memory` per collection.
    pub fn used_per(&self, n: u64) -> Option<f64> {
        per(self.before.used_memory, self.after.used_memory, n)
    }

    /// Growth of RSS per collection.
    pub fn rss_per(&self, n: u64) -> Option<f64> {
        per(self.before.rss, self.after.rss, n)
    }
}

fn per(before: Option<u64>, after: Option<u64>, n: u64) -> Option<f64> {
    let (b, a) = (before?, after?);
    (n > 0).then(|| a.saturating_sub(b) as f64 / n as f64)
}

/// One kind measured on both servers.
#[derive(Clone, Debug)]
pub struct KindResult {
    pub label: &'static str,
    pub redis: Side,
    pub ferrocache: Side,
}

/// Loads `n` collections of `kind` through pipelined commands; every reply
/// must be the integer ELEMENTS.
pub fn load(port: u16, kind: &Kind, n: u64) -> io::Result<()> {
    const BATCH: u64 = 1000;
    let mut c = Client::connect(port)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        out.clear();
        for k in i..end {
            let cmd = (kind.build)(k);
            let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            encode(&mut out, &args);
        }
        c.send_raw(&out)?;
        for _ in i..end {
            match c.read_reply()? {
                Frame::Integer(x) if x == ELEMENTS as i64 => {}
                other => {
                    return Err(io::Error::other(format!(
                        "{} replied {other:?}",
                        kind.label
                    )))
                }
            }
        }
        i = end;
    }
    Ok(())
}

/// Measures one kind on a freshly started server.
pub fn measure(port: u16, pid: u32, kind: &Kind, n: u64) -> io::Result<Side> {
    let mut c = Client::connect(port)?;
    let before = memory::snapshot(&mut c, pid);
    let error = load(port, kind, n).err().map(|e| e.to_string());
    // Let allocator background work settle before reading RSS.
    std::thread::sleep(Duration::from_millis(300));
    let after = memory::snapshot(&mut c, pid);
    Ok(Side {
        before,
        after,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_have_five_elements_and_distinct_keys() {
        for k in KINDS {
            let a = (k.build)(1);
            let b = (k.build)(2);
            assert_ne!(a[1], b[1]);
            let elems = if a[0] == b"HSET" || a[0] == b"ZADD" {
                (a.len() - 2) / 2
            } else {
                a.len() - 2
            };
            assert_eq!(elems, ELEMENTS, "{}", k.label);
        }
        // Integer members stay integers (an intset in Redis).
        assert!(int_set(3)[2..]
            .iter()
            .all(|m| std::str::from_utf8(m).is_ok_and(|s| s.parse::<i64>().is_ok())));
    }
}
