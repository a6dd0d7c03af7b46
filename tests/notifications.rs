//! Keyspace notifications compared with real Redis: a subscriber listens on
//! every `__keyspace@*__` and `__keyevent@*__` channel of both servers while
//! a second client runs write commands; after each command the subscriber
//! sends PING and everything it received before the PONG must be identical.

use crate::support::{show, Pair};
use std::time::Duration;

/// The frames a subscriber received up to the reply to its PING.
fn drain(conn: &mut crate::support::Conn) -> Vec<String> {
    conn.send(&[b"PING"]);
    let mut frames = Vec::new();
    loop {
        let f = conn.read_reply();
        assert!(!f.is_empty(), "subscriber disconnected");
        if f.starts_with(b"*2\r\n$4\r\npong\r\n") {
            return frames;
        }
        frames.push(show(&f));
    }
}

pub(crate) fn run(p: &mut Pair, flags: &str, script: &str) {
    let mut writer = p.link();
    writer.check(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    writer.check(&["CONFIG", "GET", "notify-keyspace-events"]);
    p.check(&["PSUBSCRIBE", "__key*__:*"]);
    for line in script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        writer.check(&words);
        let theirs = drain(&mut p.theirs);
        let ours = drain(&mut p.ours);
        assert_eq!(
            ours, theirs,
            "notifications differ after {line} (flags {flags})"
        );
    }
    p.check(&["PUNSUBSCRIBE"]);
}

const COMMANDS: &str = r#"
    SET s v
    SET s v EX 100
    SET s v KEEPTTL
    SET s v NX
    SETNX s2 v
    SETEX s3 100 v
    PSETEX s3 100000 v
    GETSET s w
    MSET a 1 b 2
    MSETNX a 1 c 3
    MSETNX c 3 d 4
    APPEND s x
    INCR a
    DECRBY a 5
    INCRBYFLOAT a 1.5
    SETRANGE s 1 zz
    SETRANGE new 0 ""
    SETBIT bits 3 1
    BITFIELD bf SET u8 0 7
    BITFIELD bf GET u8 0
    BITOP OR dest bits bf
    BITOP AND dest nothing
    GETEX s EX 100
    GETEX s PERSIST
    GETEX s PERSIST
    GETDEL s2
    GETDEL s2
    EXPIRE a 100
    PEXPIRE a 100000 NX
    PERSIST a
    PERSIST a
    EXPIRE b -1
    RENAME a a2
    RENAMENX a2 c
    COPY a2 a3
    MOVE a3 2
    DEL a2 c d missing
    UNLINK a3
    RPUSH l a b c d e
    LPUSH l z
    LPUSHX nolist x
    RPUSHX l y
    LINSERT l BEFORE b q
    LINSERT l BEFORE missing q
    LSET l 0 zz
    LREM l 1 q
    LTRIM l 0 4
    LPOP l
    RPOP l 2
    LMOVE l l2 LEFT RIGHT
    RPOPLPUSH l l2
    LMPOP 2 none l LEFT COUNT 5
    LPOP l2 5
    HSET h f 1 g 2
    HSETNX h f 1
    HSETNX h x 1
    HINCRBY h f 3
    HINCRBYFLOAT h g 0.5
    HDEL h f nofield
    HDEL h g x
    SADD set a b c
    SADD set a
    SREM set a
    SMOVE set set2 b
    SMOVE set set2 c
    SADD set 1
    SPOP set
    SADD set 1 2 3
    SPOP set 0
    SPOP set 5
    SADD x 1 2
    SADD y 2 3
    SINTERSTORE z x y
    SUNIONSTORE z x y
    SDIFFSTORE z x x
    GET missing
    MGET missing s
    HGET nohash f
    LRANGE nolist 0 -1
    SMEMBERS noset
    FLUSHALL
"#;

#[test]
fn keyspace_and_keyevent_notifications_match_redis() {
    let mut p = Pair::new();
    run(&mut p, "KEA", COMMANDS);
}

#[test]
fn class_filters_match_redis() {
    let mut p = Pair::new();
    for flags in ["K$", "El", "Kgx", "Eh", "KEs", "An", "Km", "Em", "KEAm"] {
        run(&mut p, flags, COMMANDS);
    }
}

#[test]
fn expired_keys_are_notified() {
    let mut p = Pair::new();
    let mut writer = p.link();
    writer.check(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    p.check(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    writer.check(&["SET", "k", "v", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(80));
    // Lazy expiry on access (active expiry may have been first: either way
    // one `expired` message).
    writer.check(&["GET", "k"]);
    let theirs = p.theirs.read_reply();
    let ours = p.ours.read_reply();
    assert_eq!(show(&ours), show(&theirs));
}
