//! MULTI/EXEC/DISCARD/WATCH/UNWATCH: replies compared with real Redis,
//! WATCH invalidation by every kind of change, and atomicity under
//! concurrent clients.

use crate::support::{ferrocache, show, Conn, Pair};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn transaction_replies_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        EXEC
        DISCARD
        MULTI
        MULTI
        SET a 1
        INCR a
        LPUSH a x
        GET a
        EXEC
        EXEC
        MULTI
        EXEC
        MULTI
        WATCH a
        EXEC
        MULTI
        SET a 2
        NOSUCHCOMMAND x
        GET a
        EXEC
        GET a
        MULTI
        SET a
        EXEC
        MULTI
        SHUTDOWN
        EXEC
        MULTI
        SET a 3
        DISCARD
        GET a
        DISCARD
        MULTI
        SELECT 5
        SET in5 yes
        EXEC
        GET in5
        SELECT 0
        GET in5
        UNWATCH
        MULTI
        UNWATCH
        PING
        EXEC
        MULTI
        RESET
        EXEC
        WATCH
        MULTI
        MONITOR
        EXEC
        "#,
    );
    // RESP3: EXEC's array, and the null of a failed WATCH.
    let mut other = p.link();
    p.both(&["HELLO", "3"]);
    p.check_script(
        r#"
        MULTI
        SET r3 1
        HGETALL nohash
        EXEC
        WATCH r3
        "#,
    );
    other.check(&["SET", "r3", "2"]);
    p.check_script(
        r#"
        MULTI
        GET r3
        EXEC
        "#,
    );
}

/// WATCH a key, let a second client run `change`, then EXEC: Redis and
/// Ferrocache must agree on whether the transaction ran.
fn watch_case(p: &mut Pair, setup: &[&[&str]], change: &[&str], watched: &str) {
    let mut other = p.link();
    p.check(&["FLUSHALL"]);
    for cmd in setup {
        p.check(cmd);
    }
    p.check(&["WATCH", watched]);
    other.check(change);
    p.check(&["MULTI"]);
    p.check(&["PING"]);
    let reply = p.check(&["EXEC"]);
    let _ = show(&reply);
}

#[test]
fn watch_is_invalidated_as_in_redis() {
    let mut p = Pair::new();
    let cases: &[(&[&[&str]], &[&str])] = &[
        // Changes that touch the key.
        (&[&["SET", "k", "v"]], &["SET", "k", "v"]),
        (&[], &["SET", "k", "v"]),
        (&[&["SET", "k", "1"]], &["INCR", "k"]),
        (&[&["SET", "k", "1"]], &["INCRBY", "k", "0"]),
        (&[&["SET", "k", "ab"]], &["APPEND", "k", "c"]),
        (&[&["SET", "k", "ab"]], &["SETRANGE", "k", "0", "x"]),
        (&[&["SET", "k", "v"]], &["DEL", "k"]),
        (&[&["SET", "k", "v"]], &["UNLINK", "k"]),
        (&[&["SET", "k", "v"]], &["GETDEL", "k"]),
        (&[&["SET", "k", "v"]], &["GETEX", "k", "EX", "100"]),
        (&[&["SET", "k", "v"]], &["EXPIRE", "k", "100"]),
        (&[&["SET", "k", "v", "EX", "100"]], &["PERSIST", "k"]),
        (&[&["SET", "k", "v"]], &["RENAME", "k", "k2"]),
        (&[&["SET", "k2", "v"]], &["RENAME", "k2", "k"]),
        (&[&["SET", "k", "v"]], &["MOVE", "k", "3"]),
        (&[&["SET", "k2", "v"]], &["COPY", "k2", "k"]),
        (&[&["SET", "k", "v"]], &["FLUSHDB"]),
        (&[&["SET", "k", "v"]], &["FLUSHALL"]),
        (&[&["SET", "k", "v"]], &["SWAPDB", "0", "1"]),
        (
            &[&["SELECT", "1"], &["SET", "k", "v"], &["SELECT", "0"]],
            &["SWAPDB", "0", "1"],
        ),
        (&[], &["LPUSH", "k", "a"]),
        (&[&["RPUSH", "k", "a", "b"]], &["LPOP", "k"]),
        (&[&["RPUSH", "k", "a", "b"]], &["LSET", "k", "0", "z"]),
        (&[&["RPUSH", "k", "a", "b"]], &["LTRIM", "k", "0", "0"]),
        (
            &[&["RPUSH", "src", "a"]],
            &["LMOVE", "src", "k", "LEFT", "LEFT"],
        ),
        (&[], &["HSET", "k", "f", "v"]),
        (&[&["HSET", "k", "f", "1"]], &["HINCRBY", "k", "f", "1"]),
        (&[&["HSET", "k", "f", "v"]], &["HDEL", "k", "f"]),
        (&[], &["SADD", "k", "m"]),
        (&[&["SADD", "k", "m", "n"]], &["SREM", "k", "m"]),
        (&[&["SADD", "s", "m"]], &["SINTERSTORE", "k", "s"]),
        (&[&["SADD", "s", "m"]], &["SMOVE", "s", "k", "m"]),
        (&[&["SET", "b", "x"]], &["BITOP", "NOT", "k", "b"]),
        (&[], &["MSET", "j", "1", "k", "2"]),
        (&[], &["SETBIT", "k", "3", "1"]),
        // Commands that change nothing leave the transaction alone.
        (&[&["SET", "k", "v"]], &["GET", "k"]),
        (&[&["SET", "k", "v"]], &["SET", "other", "v"]),
        (&[&["SET", "k", "v"]], &["SETNX", "k", "w"]),
        (&[&["SET", "k", "v"]], &["SET", "k", "w", "NX"]),
        (&[], &["DEL", "k"]),
        (&[], &["EXPIRE", "k", "10"]),
        (&[&["SET", "k", "v"]], &["PERSIST", "k"]),
        (&[], &["LPUSHX", "k", "a"]),
        (&[&["SADD", "k", "m"]], &["SADD", "k", "m"]),
        (&[&["SADD", "k", "m"]], &["SREM", "k", "zzz"]),
        (&[&["HSET", "k", "f", "v"]], &["HDEL", "k", "nofield"]),
        (&[&["HSET", "k", "f", "v"]], &["HSETNX", "k", "f", "w"]),
        (&[&["RPUSH", "k", "a"]], &["LREM", "k", "0", "zzz"]),
        (&[&["SET", "k", "v"]], &["LPUSH", "k", "a"]),
        (&[], &["FLUSHDB"]),
        (&[&["SET", "k", "v"]], &["SELECT", "2"]),
    ];
    for (setup, change) in cases {
        watch_case(&mut p, setup, change, "k");
    }
}

#[test]
fn watch_sees_expiry_but_not_stale_keys() {
    let mut p = Pair::new();
    let mut other = p.link();
    // A key that expires between WATCH and EXEC fails the transaction.
    p.check(&["SET", "k", "v", "PX", "50"]);
    p.check(&["WATCH", "k"]);
    std::thread::sleep(Duration::from_millis(120));
    p.check(&["MULTI"]);
    p.check(&["EXEC"]);
    // A key already expired (but not yet reclaimed) when watched does not.
    p.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    p.check(&["SET", "stale", "v", "PX", "20"]);
    std::thread::sleep(Duration::from_millis(60));
    p.check(&["WATCH", "stale"]);
    other.check(&["DEL", "stale"]);
    p.check(&["MULTI"]);
    p.check(&["EXEC"]);
    p.check(&["SET", "stale", "v", "PX", "20"]);
    std::thread::sleep(Duration::from_millis(60));
    p.check(&["WATCH", "stale"]);
    other.check(&["FLUSHDB"]);
    p.check(&["MULTI"]);
    p.check(&["EXEC"]);
    p.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    // UNWATCH forgets, DISCARD forgets, a second WATCH of the same key is
    // harmless.
    p.check(&["SET", "k", "1"]);
    p.check(&["WATCH", "k", "k"]);
    p.check(&["UNWATCH"]);
    other.check(&["SET", "k", "2"]);
    p.check(&["MULTI"]);
    p.check(&["GET", "k"]);
    p.check(&["EXEC"]);
    p.check(&["WATCH", "k"]);
    p.check(&["MULTI"]);
    p.check(&["DISCARD"]);
    other.check(&["SET", "k", "3"]);
    p.check(&["MULTI"]);
    p.check(&["GET", "k"]);
    p.check(&["EXEC"]);
}

#[test]
fn client_list_shows_the_transaction() {
    let fc = ferrocache();
    let mut c = Conn::connect(fc.port());
    let mut o = Conn::connect(fc.port());
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["GET", "a"]);
    let list = String::from_utf8_lossy(&o.cmd(&["CLIENT", "LIST"])).into_owned();
    let line = list
        .lines()
        .find(|l| l.contains("multi=2"))
        .unwrap_or_else(|| panic!("no client in MULTI with 2 queued: {list}"));
    assert!(line.contains(" flags=x "), "{line}");
    c.cmd(&["EXEC"]);
    let list = String::from_utf8_lossy(&o.cmd(&["CLIENT", "LIST"])).into_owned();
    assert!(!list.contains("flags=x"), "{list}");
}

/// Transactions that write two keys in different shards, against readers
/// that read both at once: no reader ever sees one written and not the
/// other.
#[test]
fn exec_is_atomic_against_other_threads() {
    let fc = ferrocache();
    let port = fc.port();
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(3);
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                for i in 0..400 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let v = format!("{w}-{i}");
                    let mut pipeline = Vec::new();
                    for args in [
                        vec!["MULTI"],
                        vec!["SET", "left", &v],
                        vec!["RPUSH", "log", &v],
                        vec!["SET", "right", &v],
                        vec!["EXEC"],
                    ] {
                        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
                        pipeline.extend(crate::support::encode(&a));
                    }
                    c.send_raw(&pipeline);
                    for _ in 0..5 {
                        c.read_reply();
                    }
                }
                stop.store(true, Ordering::Relaxed);
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let r = c.cmd(&["MGET", "left", "right"]);
                    let text = show(&r);
                    let parts: Vec<&str> = text.split("\\r\\n").collect();
                    // *2, $n, left, $n, right
                    if parts.len() >= 5 {
                        assert_eq!(parts[2], parts[4], "half-applied transaction seen: {text}");
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread");
    }
    let reads: usize = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    assert!(reads > 0);
    let mut c = Conn::connect(port);
    let last = show(&c.cmd(&["MGET", "left", "right"]));
    assert!(last.starts_with("*2\\r\\n$"), "both keys written: {last}");
}

/// Optimistic increments with WATCH from several clients on several
/// threads: every successful EXEC counts once, none is lost.
#[test]
fn watch_based_counter_loses_no_update() {
    let fc = ferrocache();
    let port = fc.port();
    let per_client = 150;
    let deadline = Instant::now() + Duration::from_secs(10);
    let clients: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                let mut done = 0;
                let mut retries = 0u64;
                while done < per_client && Instant::now() < deadline {
                    c.cmd(&["WATCH", "counter"]);
                    let r = c.cmd(&["GET", "counter"]);
                    let text = String::from_utf8_lossy(&r).into_owned();
                    let n: i64 = text
                        .lines()
                        .nth(1)
                        .and_then(|l| l.trim().parse().ok())
                        .unwrap_or(0);
                    let next = (n + 1).to_string();
                    c.cmd(&["MULTI"]);
                    c.cmd(&["SET", "counter", &next]);
                    let r = c.cmd(&["EXEC"]);
                    if r == b"*-1\r\n" {
                        retries += 1;
                    } else {
                        assert_eq!(r, b"*1\r\n+OK\r\n");
                        done += 1;
                    }
                }
                (done, retries)
            })
        })
        .collect();
    let results: Vec<(i64, u64)> = clients
        .into_iter()
        .map(|t| t.join().expect("client"))
        .collect();
    let total: i64 = results.iter().map(|r| r.0).sum();
    let mut c = Conn::connect(port);
    let r = c.cmd(&["GET", "counter"]);
    assert_eq!(
        show(&r),
        show(format!("${}\r\n{}\r\n", total.to_string().len(), total).as_bytes())
    );
    assert_eq!(
        total,
        3 * per_client,
        "clients ran out of time: {results:?}"
    );
}
