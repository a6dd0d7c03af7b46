//! Generic key commands against the reference server: DEL, EXISTS, TYPE, the
//! EXPIRE and TTL families, KEYS, SCAN, RANDOMKEY, RENAME, COPY, MOVE,
//! SWAPDB, TOUCH and OBJECT, with their error cases. Replies whose order or
//! timing legitimately differ (KEYS, SCAN, PTTL) are compared as sets or
//! within a tolerance; everything else byte for byte.

use crate::support::{show, Conn, Pair};
use ferrocache_protocol::frame::{self, Frame};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn parse(bytes: &[u8]) -> Frame {
    frame::parse(bytes)
        .ok()
        .flatten()
        .map(|(f, _)| f)
        .unwrap_or_else(|| panic!("not a reply: {}", show(bytes)))
}

fn int(bytes: &[u8]) -> i64 {
    match parse(bytes) {
        Frame::Integer(n) => n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn bulk_text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn string_set(bytes: &[u8]) -> BTreeSet<String> {
    match parse(bytes) {
        Frame::Array(items) => items.iter().map(bulk_text).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// A full SCAN iteration with `opts` after the cursor, with `between`
/// called after every call (to change the keyspace mid-scan). Returns every
/// key seen and the number of calls.
fn scan_all(
    c: &mut Conn,
    opts: &[&str],
    mut between: impl FnMut(&mut Conn, usize),
) -> (BTreeSet<String>, usize) {
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(opts);
        let reply = c.cmd(&args);
        calls += 1;
        let Frame::Array(parts) = parse(&reply) else {
            panic!("SCAN reply {}", show(&reply));
        };
        let [next, Frame::Array(keys)] = parts.as_slice() else {
            panic!("SCAN reply {}", show(&reply));
        };
        seen.extend(keys.iter().map(bulk_text));
        cursor = bulk_text(next);
        between(c, calls);
        if cursor == "0" {
            break;
        }
        assert!(calls < 100_000, "SCAN does not terminate");
    }
    (seen, calls)
}

/// Sets `n` keys named `<prefix><i>` on one connection, pipelined.
fn fill_one(c: &mut Conn, prefix: &str, n: usize) {
    let mut req = Vec::new();
    for i in 0..n {
        req.extend(crate::support::encode(&[
            b"SET",
            format!("{prefix}{i}").as_bytes(),
            format!("v{i}").as_bytes(),
        ]));
    }
    c.send_raw(&req);
    for _ in 0..n {
        assert_eq!(show(&c.read_reply()), "+OK\\r\\n");
    }
}

/// Fills the current database of both servers alike.
fn fill(p: &mut Pair, prefix: &str, n: usize) {
    fill_one(&mut p.ours, prefix, n);
    fill_one(&mut p.theirs, prefix, n);
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn info_field(c: &mut Conn, field: &str) -> i64 {
    let reply = c.cmd(&["INFO", "stats"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO: {text}"))
}

#[test]
fn del_unlink_exists_touch_type_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        "
        SET a 1
        SET b 2
        SET c 3
        EXISTS a b nosuch a
        EXISTS nosuch
        TOUCH a b nosuch a
        TOUCH nosuch
        TYPE a
        TYPE nosuch
        DEL a a nosuch
        DEL a
        EXISTS a
        UNLINK b c b nosuch
        UNLINK b
        DBSIZE
        DEL
        UNLINK
        EXISTS
        TOUCH
        TYPE
        TYPE a b
        ",
    );
}

#[test]
fn expire_options_and_errors_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        "
        SET k v
        EXPIRE k 10 nx xx
        EXPIRE k 10 NX GT
        EXPIRE k 10 nx lt
        EXPIRE k 10 gt lt
        EXPIRE k 10 GT LT NX
        EXPIRE k 10 foo
        EXPIRE k abc foo
        EXPIRE k abc nx xx
        EXPIRE k abc
        EXPIRE k 1.5
        EXPIRE k 10 nx nx
        TTL k
        EXPIRE k 9223372036854775807
        EXPIRE k 9223372036854775
        EXPIRE k 9223372036854774
        EXPIRE k -9223372036854775808
        PEXPIRE k 9223372036854775807
        EXPIREAT k 9223372036854775807
        EXPIREAT k 9223372036854775
        PEXPIREAT k -9223372036854775808
        EXPIRE nosuch 9223372036854775807
        EXPIRE nosuch 100
        PEXPIRE nosuch 100
        EXPIREAT nosuch 100
        PEXPIREAT nosuch 100
        EXPIRE
        EXPIRE k
        PERSIST
        SET k v
        PEXPIREAT k 9223372036854775807
        PEXPIRETIME k
        EXPIRETIME k
        PEXPIREAT k 9223372036854775300
        EXPIRETIME k
        PEXPIREAT k 9223372036854775200
        EXPIRETIME k
        EXPIREAT k 100000000000
        EXPIRETIME k
        PEXPIRETIME k
        EXPIREAT k 100000000001 lt
        EXPIRETIME k
        EXPIREAT k 100000000002 gt
        PEXPIRETIME k
        PERSIST k
        PERSIST k
        PERSIST nosuch
        TTL k
        PTTL k
        EXPIRETIME k
        PEXPIRETIME k
        TTL nosuch
        PTTL nosuch
        EXPIRETIME nosuch
        PEXPIRETIME nosuch
        ",
    );
}

/// Every condition against a persistent key and a key with a 100 s TTL,
/// with a shorter, a longer and a past deadline, then TTL to see what stuck.
#[test]
fn expire_condition_matrix_matches_redis() {
    let mut p = Pair::new();
    for cond in ["", "NX", "XX", "GT", "LT"] {
        for initial in [None, Some("100")] {
            for when in ["50", "200", "-1", "0"] {
                for cmd in ["EXPIRE", "PEXPIREAT"] {
                    p.check(&["SET", "k", "v"]);
                    if let Some(t) = initial {
                        p.check(&["EXPIRE", "k", t]);
                    }
                    // PEXPIREAT gets an absolute deadline in the same
                    // relation to the initial TTL as the EXPIRE case.
                    let arg = if cmd == "PEXPIREAT" {
                        let rel: i64 = when.parse().unwrap();
                        let now = unix_ms();
                        if rel > 0 {
                            (now + rel * 1000).to_string()
                        } else {
                            rel.to_string()
                        }
                    } else {
                        when.to_string()
                    };
                    let mut args = vec![cmd, "k", arg.as_str()];
                    if !cond.is_empty() {
                        args.push(cond);
                    }
                    p.check(&args);
                    p.check(&["TTL", "k"]);
                    p.check(&["EXISTS", "k"]);
                }
            }
        }
    }
}

#[test]
fn ttl_and_pttl_agree_within_a_tolerance() {
    let mut p = Pair::new();
    p.check_script(
        "
        SET k v
        PEXPIRE k 5000
        TTL k
        SET ms v
        PEXPIRE ms 1499
        TTL ms
        SET ms2 v
        PEXPIRE ms2 1600
        TTL ms2
        ",
    );
    let (ours, theirs) = p.both(&["PTTL", "k"]);
    let (ours, theirs) = (int(&ours), int(&theirs));
    assert!(ours > 4800 && ours <= 5000, "ours {ours}");
    assert!((ours - theirs).abs() < 200, "ours {ours}, redis {theirs}");
    // A SET without options drops the TTL.
    p.check(&["SET", "k", "v2"]);
    p.check(&["TTL", "k"]);
    // The expiry takes effect: after 150 ms a 100 ms key is gone.
    p.check(&["SET", "short", "v"]);
    p.check(&["PEXPIRE", "short", "100"]);
    std::thread::sleep(Duration::from_millis(150));
    p.check(&["TTL", "short"]);
    p.check(&["GET", "short"]);
    p.check(&["EXISTS", "short"]);
}

/// A deadline in the past deletes the key as a plain deletion: Redis does not
/// count it in `expired_keys`.
#[test]
fn expire_in_the_past_deletes_without_counting_an_expiry() {
    let mut p = Pair::new();
    p.check_script(
        "
        SET a v
        SET b v
        SET c v
        EXPIRE a -1
        PEXPIRE b 0
        EXPIREAT c 1
        DBSIZE
        EXISTS a b c
        ",
    );
    assert_eq!(info_field(&mut p.ours, "expired_keys"), 0);
    assert_eq!(info_field(&mut p.theirs, "expired_keys"), 0);
    // A key that expires by itself is counted.
    p.check(&["SET", "d", "v"]);
    p.check(&["PEXPIRE", "d", "20"]);
    std::thread::sleep(Duration::from_millis(40));
    p.check(&["GET", "d"]);
    assert_eq!(info_field(&mut p.ours, "expired_keys"), 1);
    assert_eq!(info_field(&mut p.theirs, "expired_keys"), 1);
}

#[test]
fn keys_match_redis_as_sets() {
    let mut p = Pair::new();
    fill(&mut p, "user:", 300);
    fill(&mut p, "item:", 50);
    p.check_script(
        r#"
        SET "we\x00ird" v
        SET a?c v
        SET h*llo v
        SET hallo v
        SET hxllo v
        "#,
    );
    for pattern in [
        "*", "user:*", "user:1?", "*:2*", "h[ae]llo", "h[^e]llo", "h*llo", "h\\*llo", "a\\?c",
        "nomatch*", "[a-i]*", "we*", "",
    ] {
        let (ours, theirs) = p.both(&["KEYS", pattern]);
        assert_eq!(
            string_set(&ours),
            string_set(&theirs),
            "KEYS {pattern:?} differs"
        );
    }
    p.check(&["KEYS"]);
    p.check(&["KEYS", "a", "b"]);
    // Expired keys are not listed.
    p.check(&["PEXPIRE", "hallo", "1"]);
    std::thread::sleep(Duration::from_millis(10));
    let (ours, theirs) = p.both(&["KEYS", "h*"]);
    assert_eq!(string_set(&ours), string_set(&theirs));
    assert!(!string_set(&ours).contains("hallo"));
}

#[test]
fn scan_errors_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SCAN abc
        SCAN 1.5
        SCAN " 1"
        SCAN 18446744073709551616
        SCAN -18446744073709551616
        SCAN -
        SCAN 0 COUNT 0
        SCAN 0 COUNT -1
        SCAN 0 COUNT abc
        SCAN abc COUNT 0
        SCAN 0 MATCH
        SCAN 0 TYPE
        SCAN 0 COUNT
        SCAN 0 foo bar
        SCAN 0 MATCH * extra
        SCAN
        "#,
    );
    // On an empty database every valid cursor ends the walk at once.
    p.check_script(
        r#"
        SCAN 0
        SCAN -1
        SCAN 18446744073709551615
        SCAN +0
        SCAN ""
        SCAN 0 TYPE nosuchtype COUNT 5 MATCH *
        SET only v
        SCAN 0 COUNT 9223372036854775807
        SCAN 0 MATCH o* TYPE string
        SCAN 0 MATCH x*
        SCAN 0 COUNT 9223372036854775808
        "#,
    );
}

#[test]
fn scan_returns_the_same_key_set_as_redis() {
    let mut p = Pair::new();
    fill(&mut p, "user:", 1000);
    fill(&mut p, "item:", 200);
    for opts in [
        &[][..],
        &["COUNT", "1"],
        &["COUNT", "1000000"],
        &["MATCH", "user:1*"],
        &["MATCH", "item:*", "COUNT", "7"],
        &["MATCH", "*"],
        &["TYPE", "string"],
        &["TYPE", "STRING", "MATCH", "*:99*"],
        &["TYPE", "list"],
        &["TYPE", "nosuchtype"],
        &["MATCH", "nomatch*"],
    ] {
        let (ours, _) = scan_all(&mut p.ours, opts, |_, _| {});
        let (theirs, _) = scan_all(&mut p.theirs, opts, |_, _| {});
        assert_eq!(ours, theirs, "SCAN {opts:?}: key sets differ");
    }
    // The walk is incremental: a small COUNT takes many calls.
    let (_, calls) = scan_all(&mut p.ours, &["COUNT", "10"], |_, _| {});
    assert!(
        calls > 10,
        "SCAN COUNT 10 over 1200 keys took {calls} calls"
    );
}

/// Keys present for the whole scan are returned; keys deleted before it
/// started are not; keys added or deleted during it may or may not be.
#[test]
fn scan_survives_keys_added_and_removed_during_the_walk() {
    let mut p = Pair::new();
    fill(&mut p, "stay:", 2000);
    fill(&mut p, "gone:", 500);
    p.check(&["DEL", "gone:0", "gone:1", "gone:2"]);
    for c in [&mut p.ours, &mut p.theirs] {
        let mut added = 0;
        let (seen, _) = scan_all(c, &["COUNT", "20"], |c, call| {
            // Grow the table a lot (forcing rehashes) and delete a few.
            // Growth stops after a while so that Redis's walk, which visits
            // a fixed number of buckets per call, can finish.
            if call <= 30 {
                fill_one(c, &format!("new:{added}:"), 200);
                added += 1;
            }
            c.cmd(&["DEL", &format!("gone:{}", call + 10)]);
        });
        for i in 0..2000 {
            assert!(seen.contains(&format!("stay:{i}")), "stay:{i} was skipped");
        }
        for i in 0..3 {
            assert!(
                !seen.contains(&format!("gone:{i}")),
                "deleted gone:{i} returned"
            );
        }
    }
}

#[test]
fn randomkey_matches_redis() {
    let mut p = Pair::new();
    p.check_script(
        "
        RANDOMKEY
        SET only v
        RANDOMKEY
        RANDOMKEY x
        PEXPIRE only 1
        ",
    );
    std::thread::sleep(Duration::from_millis(10));
    p.check(&["RANDOMKEY"]);
    fill(&mut p, "k", 50);
    for _ in 0..20 {
        let reply = p.ours.cmd(&["RANDOMKEY"]);
        let k = bulk_text(&parse(&reply));
        assert!(k.starts_with('k'), "RANDOMKEY gave {k}");
    }
}

#[test]
fn rename_and_renamenx_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        "
        RENAME a b
        RENAMENX a b
        RENAME nosuch nosuch
        RENAMENX nosuch nosuch
        SET a 1
        RENAME a a
        RENAMENX a a
        SET b 2
        RENAMENX a b
        GET b
        EXPIRE a 100
        RENAME a c
        TTL c
        EXISTS a
        EXPIRE b 200
        RENAME c b
        TTL b
        GET b
        RENAMENX b d
        GET d
        TTL d
        EXISTS b
        RENAME d
        RENAME d e f
        RENAMENX d
        ",
    );
}

#[test]
fn copy_matches_redis() {
    let mut p = Pair::new();
    p.check_script(
        "
        SET c hello
        COPY c c
        COPY nosuch nosuch
        COPY nosuch d
        COPY c d
        GET d
        COPY c d
        SET c world
        COPY c d REPLACE
        GET d
        EXPIRE c 100
        COPY c e
        TTL e
        COPY c d db 1
        COPY c c db 1
        COPY c c DB 0
        COPY c c db 0 replace
        COPY c d db 16
        COPY c d db -1
        COPY c d db abc
        COPY c d db 99999999999
        COPY c d db 99999999999999999999
        COPY c d foo
        COPY c d db
        COPY c d replace replace
        COPY nosuch d db 99
        COPY nosuch d db abc
        COPY c f DB 16 DB 2
        COPY c f DB 2 DB 3
        COPY c f db 3 REPLACE
        COPY c
        SELECT 1
        GET c
        TTL c
        GET d
        COPY c x db 0
        SELECT 0
        GET x
        ",
    );
}

#[test]
fn move_and_swapdb_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        "
        MOVE a 1
        MOVE a 0
        MOVE a 16
        MOVE a abc
        MOVE a -1
        MOVE a 99999999999
        MOVE a 99999999999999999999
        SET a 1
        EXPIRE a 100
        MOVE a 1
        EXISTS a
        MOVE a 1
        SET a 2
        MOVE a 1
        GET a
        SELECT 1
        GET a
        TTL a
        MOVE a 0
        SELECT 0
        SET only0 x
        SWAPDB 0 1
        GET a
        GET only0
        TTL a
        DBSIZE
        SELECT 1
        GET only0
        DBSIZE
        SWAPDB 1 1
        SWAPDB 0 16
        SWAPDB 16 0
        SWAPDB abc 1
        SWAPDB 1 abc
        SWAPDB 1 -1
        SWAPDB -1 abc
        SWAPDB 99999999999 0
        SWAPDB 0 99999999999
        SWAPDB 1.5 0
        SWAPDB 0
        MOVE a
        ",
    );
}

/// A client that selected a database sees the other one's keys after
/// SWAPDB, without selecting again.
#[test]
fn swapdb_is_seen_by_other_clients() {
    let mut p = Pair::new();
    let mut ours = Conn::connect(p.fc.port());
    let mut theirs = Conn::connect(p.redis.port);
    p.check_script(
        "
        SET in0 a
        SELECT 1
        SET in1 b
        SELECT 0
        ",
    );
    for c in [&mut ours, &mut theirs] {
        assert_eq!(c.cmd(&["SELECT", "1"]), b"+OK\r\n");
        assert_eq!(show(&c.cmd(&["GET", "in1"])), "$1\\r\\nb\\r\\n");
    }
    p.check(&["SWAPDB", "0", "1"]);
    for c in [&mut ours, &mut theirs] {
        assert_eq!(show(&c.cmd(&["GET", "in0"])), "$1\\r\\na\\r\\n");
        assert_eq!(show(&c.cmd(&["GET", "in1"])), "$-1\\r\\n");
    }
    p.check(&["GET", "in1"]);
}

#[test]
fn object_subcommands_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        "
        SET emb hello
        SET n 100
        SET big 12345678901234
        SET neg -5
        SET n9999 9999
        SET n10000 10000
        SET s \"\"
        SET long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING emb
        OBJECT ENCODING n
        OBJECT ENCODING big
        OBJECT ENCODING s
        OBJECT ENCODING long
        OBJECT ENCODING nosuch
        OBJECT REFCOUNT emb
        OBJECT REFCOUNT n
        OBJECT REFCOUNT big
        OBJECT REFCOUNT neg
        OBJECT REFCOUNT n9999
        OBJECT REFCOUNT n10000
        OBJECT REFCOUNT nosuch
        COPY n m
        OBJECT REFCOUNT m
        OBJECT ENCODING m
        RENAME n o
        OBJECT REFCOUNT o
        MOVE o 1
        SELECT 1
        OBJECT REFCOUNT o
        SELECT 0
        OBJECT IDLETIME emb
        OBJECT IDLETIME nosuch
        OBJECT FREQ emb
        OBJECT FREQ nosuch
        OBJECT HELP
        object help
        OBJECT HELP x
        OBJECT
        OBJECT foo
        OBJECT foo bar
        OBJECT ENCODING
        OBJECT ENCODING a b
        OBJECT FREQ
        OBJECT IDLETIME
        OBJECT REFCOUNT
        ",
    );
}

/// Under an LFU policy a new key starts at 5; with `lfu-log-factor 0` every
/// access increments the counter, so both servers count the same.
#[test]
fn object_freq_counts_accesses_under_lfu() {
    let mut p = Pair::new();
    p.check_script(
        "
        CONFIG SET maxmemory-policy allkeys-lfu
        CONFIG SET lfu-log-factor 0
        OBJECT FREQ nosuch
        SET b hello
        OBJECT FREQ b
        OBJECT IDLETIME b
        GET b
        OBJECT FREQ b
        GET b
        GET b
        TTL b
        TYPE b
        EXISTS b
        OBJECT FREQ b
        TOUCH b
        OBJECT FREQ b
        EXPIRE b 100
        OBJECT FREQ b
        SET b again
        OBJECT FREQ b
        RENAME b c
        OBJECT FREQ c
        COPY c d
        OBJECT FREQ d
        CONFIG SET maxmemory-policy volatile-lru
        OBJECT FREQ c
        ",
    );
}

/// OBJECT IDLETIME counts seconds since the last access; TTL, TYPE, EXISTS
/// and OBJECT do not count as accesses, GET and TOUCH do.
#[test]
fn object_idletime_tracks_accesses() {
    let mut p = Pair::new();
    p.check_script(
        "
        SET a v
        SET b v
        SET c v
        OBJECT IDLETIME a
        ",
    );
    std::thread::sleep(Duration::from_millis(2100));
    for c in [&mut p.ours, &mut p.theirs] {
        c.cmd(&["TTL", "a"]);
        c.cmd(&["TYPE", "a"]);
        c.cmd(&["EXISTS", "a"]);
        c.cmd(&["OBJECT", "ENCODING", "a"]);
        c.cmd(&["GET", "b"]);
        c.cmd(&["TOUCH", "c"]);
        let idle = |c: &mut Conn, k: &str| int(&c.cmd(&["OBJECT", "IDLETIME", k]));
        let a = idle(c, "a");
        assert!((2..=3).contains(&a), "idle a = {a}");
        assert_eq!(idle(c, "b"), 0);
        assert_eq!(idle(c, "c"), 0);
    }
}

/// Active expiry reclaims keys nobody reads.
#[test]
fn active_expiry_reclaims_untouched_keys() {
    let server = crate::support::ferrocache();
    let mut c = Conn::connect(server.port());
    let mut req = Vec::new();
    for i in 0..20_000 {
        let k = format!("k{i}");
        req.extend(crate::support::encode(&[b"SET", k.as_bytes(), b"v"]));
        req.extend(crate::support::encode(&[b"PEXPIRE", k.as_bytes(), b"100"]));
    }
    c.send_raw(&req);
    for _ in 0..20_000 {
        assert_eq!(c.read_reply(), b"+OK\r\n");
        assert_eq!(c.read_reply(), b":1\r\n");
    }
    let started = Instant::now();
    loop {
        let n = int(&c.cmd(&["DBSIZE"]));
        if n == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{n} expired keys still present after 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(info_field(&mut c, "expired_keys"), 20_000);
}

/// Name, arity, flags and key positions of every command here agree with
/// Redis's COMMAND INFO.
#[test]
fn command_table_metadata_matches_redis() {
    let mut p = Pair::new();
    for name in [
        "del",
        "unlink",
        "exists",
        "type",
        "expire",
        "pexpire",
        "expireat",
        "pexpireat",
        "ttl",
        "pttl",
        "expiretime",
        "pexpiretime",
        "persist",
        "keys",
        "scan",
        "randomkey",
        "rename",
        "renamenx",
        "copy",
        "move",
        "swapdb",
        "touch",
        "object|encoding",
        "object|freq",
        "object|idletime",
        "object|refcount",
        "object|help",
    ] {
        let (ours, theirs) = p.both(&["COMMAND", "INFO", name]);
        let head = |bytes: &[u8]| -> Vec<Frame> {
            let Frame::Array(outer) = parse(bytes) else {
                panic!("COMMAND INFO {name}: {}", show(bytes));
            };
            let Some(Frame::Array(info)) = outer.into_iter().next() else {
                panic!("COMMAND INFO {name}: no entry");
            };
            let mut head: Vec<Frame> = info.into_iter().take(6).collect();
            if let Some(Frame::Set(flags) | Frame::Array(flags)) = head.get_mut(2) {
                flags.sort_by_key(|f| format!("{f:?}"));
            }
            // RESP2 sends sets as arrays; compare the contents only.
            if let Some(f @ Frame::Set(_)) = head.get_mut(2) {
                if let Frame::Set(v) = std::mem::replace(f, Frame::Null) {
                    *f = Frame::Array(v);
                }
            }
            head
        };
        assert_eq!(head(&ours), head(&theirs), "COMMAND INFO {name}");
    }
}

/// RESP3 null and array replies match too.
#[test]
fn resp3_replies_match_redis() {
    let mut p = Pair::new();
    p.both(&["HELLO", "3"]);
    p.check_script(
        "
        RANDOMKEY
        OBJECT ENCODING nosuch
        OBJECT FREQ nosuch
        OBJECT REFCOUNT nosuch
        SET k v
        TYPE k
        TTL k
        SCAN 0
        KEYS *
        OBJECT HELP
        COPY k k2
        RENAME k2 k3
        RENAMENX k3 k
        MOVE k3 1
        SWAPDB 0 1
        EXPIRE k3 100 GT
        ",
    );
}

/// A policy given at start-up (not through CONFIG SET) decides what the
/// access field tracks from the first write on.
#[test]
fn lfu_policy_from_startup_config_applies_to_first_writes() {
    let mut p = Pair::with(&[("maxmemory-policy", "allkeys-lfu"), ("lfu-log-factor", "0")]);
    p.check_script(
        "
        SET a 1
        OBJECT FREQ a
        GET a
        GET a
        OBJECT FREQ a
        ",
    );
}
