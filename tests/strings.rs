//! Differential tests of the string and bitmap commands against real Redis.
//!
//! String commands against keys of another type (WRONGTYPE) are compared in
//! tests/lists.rs, which can set up list keys on both servers.

use crate::support::{show, Pair};
use std::time::{SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Our entry for `key` in db 0: its OBJECT ENCODING name and expiry.
fn ours(p: &Pair, key: &str) -> Option<(String, Option<u64>)> {
    let ks = &p.fc.shared().ks;
    let mut l = ks.lock(0, key.as_bytes(), now_ms());
    l.get(0, key.as_bytes())
        .map(|e| (e.value().encoding_name().to_string(), e.expire_at()))
}

/// Redis's OBJECT ENCODING of `key`, without the RESP framing.
fn their_encoding(p: &mut Pair, key: &str) -> String {
    let r = p.theirs.cmd(&["OBJECT", "ENCODING", key]);
    // A bulk reply `$6\r\nembstr\r\n`, or `$-1` for a missing key.
    let text = String::from_utf8_lossy(&r).into_owned();
    match text.split("\r\n").nth(1) {
        Some(enc) if !text.starts_with("$-1") => enc.to_string(),
        _ => String::new(),
    }
}

/// Redis's PTTL of `key` as a number.
fn their_pttl(p: &mut Pair, key: &str) -> i64 {
    let r = p.theirs.cmd(&["PTTL", key]);
    String::from_utf8_lossy(&r)
        .trim_start_matches(':')
        .trim()
        .parse()
        .expect("PTTL is an integer")
}

/// Asserts that both servers agree on the key's encoding and on whether it
/// has a TTL (and, if so, that the two TTLs are within a second).
fn same_meta(p: &mut Pair, key: &str) {
    let theirs_ttl = their_pttl(p, key);
    let enc = their_encoding(p, key);
    match ours(p, key) {
        None => assert_eq!(theirs_ttl, -2, "{key}: redis has it, we do not"),
        Some((our_enc, expire)) => {
            assert_eq!(our_enc, enc, "{key}: OBJECT ENCODING differs");
            match expire {
                None => assert_eq!(theirs_ttl, -1, "{key}: redis has a TTL, we do not"),
                Some(at) => {
                    let left = at as i64 - now_ms() as i64;
                    assert!(
                        theirs_ttl >= 0 && (left - theirs_ttl).abs() < 1500,
                        "{key}: TTL ours {left} ms, redis {theirs_ttl} ms"
                    );
                }
            }
        }
    }
}

#[test]
fn set_options_and_their_errors() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SET k v
        GET k
        SET k v NX
        SET k v2 XX
        GET k
        SET nx v XX
        SET nx v NX
        SET k v NX XX
        SET k v XX NX
        SET k v nx nx
        SET k v EX 10 PX 100
        SET k v EX 10 EX 20
        SET k v PX 100 KEEPTTL
        SET k v KEEPTTL EX 10
        SET k v KEEPTTL KEEPTTL
        SET k v EX
        SET k v PX
        SET k v EX abc
        SET k v EX 0
        SET k v EX -5
        SET k v PX 0
        SET k v EXAT 0
        SET k v PXAT -1
        SET k v EX 9223372036854775
        SET k v EX 9223372036854776
        SET k v EX 9223372036854775807
        SET k v PX 9223372036854775807
        SET k v PXAT 9223372036854775807
        SET k v EXAT 9223372036854775
        SET k v EX 1.5
        SET k v PERSIST
        SET k v FOO
        SET k v GET
        SET k v3 GET
        SET missing v GET
        SET k v4 NX GET
        SET k2 v5 XX GET
        GET k2
        SET k v GET GET
        SET k v GET EX 0
        SET past v PXAT 1
        GET past
        EXISTS past
        SET past v EXAT 1
        GET past
        SET int 12345
        GET int
        SET neg -0
        GET neg
        SET empty ""
        GET empty
        "#,
    );
}

#[test]
fn get_family() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        GETEX nokey
        GETEX nokey EX 0
        GETEX nokey FOO
        SET k v
        GETEX k
        GETEX k FOO
        GETEX k NX
        GETEX k KEEPTTL
        GETEX k EX
        GETEX k EX 0
        GETEX k EX abc
        GETEX k PX -1
        GETEX k EX 10 PX 10
        GETEX k PERSIST EX 10
        GETEX k EX 10 PERSIST
        GETEX k PERSIST PERSIST
        GETEX k EX 100
        GETEX k PERSIST
        GETEX k EXAT 1
        EXISTS k
        SET k v
        GETEX k PXAT 1
        GET k
        GETDEL nokey
        SET k 42
        GETDEL k
        GETDEL k
        GETSET k a
        GETSET k 123
        GET k
        SETNX k x
        SETNX new x
        GET new
        SETEX k 0 v
        SETEX k -1 v
        SETEX k abc v
        SETEX k 9223372036854775807 v
        SETEX k 100 v
        GET k
        PSETEX k 0 v
        PSETEX k abc v
        PSETEX k 100000 pv
        GET k
        MSET a 1 b 2 c 3
        MSET a
        MSET a 1 b
        MGET a b c nokey a
        MSETNX a 1 z 2
        GET z
        MSETNX y 1 z 2
        MGET y z
        MSETNX x
        MSETNX x 1 x 2
        GET x
        MSET d 1 d 2
        GET d
        APPEND ap hello
        APPEND ap " world"
        GET ap
        APPEND ap ""
        STRLEN ap
        STRLEN nokey
        SET n 12345
        APPEND n 6
        GET n
        STRLEN n
        SET n -99
        STRLEN n
        "#,
    );
}

#[test]
fn expiry_and_encoding_follow_redis() {
    let mut p = Pair::new();
    // Each step runs on both servers; then encoding and TTL are compared.
    let steps: &[(&[&str], &str)] = &[
        (&["SET", "k", "v", "EX", "100"], "k"),
        (&["SET", "k", "w"], "k"),
        (&["SET", "k", "v", "PX", "100000"], "k"),
        (&["SET", "k", "v2", "KEEPTTL"], "k"),
        (&["APPEND", "k", "x"], "k"),
        (&["SETRANGE", "k", "0", "z"], "k"),
        (&["SETBIT", "k", "3", "1"], "k"),
        (&["BITFIELD", "k", "SET", "u8", "0", "65"], "k"),
        (&["BITFIELD", "k", "GET", "u8", "0"], "k"),
        (&["SET", "n", "10", "EX", "100"], "n"),
        (&["INCR", "n"], "n"),
        (&["DECRBY", "n", "100"], "n"),
        (&["INCRBYFLOAT", "n", "1.5"], "n"),
        (&["INCRBYFLOAT", "n", "1.5"], "n"),
        (&["GETSET", "n", "1"], "n"),
        (&["SET", "n", "1", "EX", "100"], "n"),
        (&["GETEX", "n", "PERSIST"], "n"),
        (&["GETEX", "n", "EX", "200"], "n"),
        (&["GETEX", "n", "PX", "300000"], "n"),
        (&["SETEX", "s", "100", "abc"], "s"),
        (&["PSETEX", "s", "50000", "abc"], "s"),
        (&["MSET", "s", "x", "t", "y"], "s"),
        (&["SET", "s", "x", "EXAT", "99999999999"], "s"),
        (&["SET", "b", "1", "EX", "100"], "b"),
        (&["BITOP", "NOT", "b", "s"], "b"),
        (&["SET", "i", "123456789"], "i"),
        (&["SET", "e", "hello"], "e"),
        (&["SET", "r", &"x".repeat(45)], "r"),
        (&["SET", "j", &"1".repeat(19)], "j"),
        (&["SET", "j", &"1".repeat(21)], "j"),
        (&["SET", "j", "0012"], "j"),
        (&["APPEND", "new", "12"], "new"),
        (&["APPEND", "new2", "abc"], "new2"),
        (&["SETRANGE", "new3", "2", "ab"], "new3"),
        (&["SETBIT", "new4", "9", "1"], "new4"),
        (&["BITFIELD", "new5", "INCRBY", "i5", "0", "3"], "new5"),
        (&["INCR", "new6"], "new6"),
        (&["INCRBYFLOAT", "new7", "3"], "new7"),
        (&["SET", "int", "12"], "int"),
        (&["SETRANGE", "int", "0", ""], "int"),
        (&["APPEND", "int", ""], "int"),
    ];
    for (cmd, key) in steps {
        p.check(cmd);
        same_meta(&mut p, key);
    }
}

#[test]
fn counters() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        INCR c
        INCR c
        DECR c
        DECR c
        DECR c
        INCRBY c 10
        INCRBY c -20
        INCRBY c abc
        INCRBY c 1.5
        INCRBY c 99999999999999999999
        DECRBY c 5
        DECRBY c -5
        DECRBY c -9223372036854775808
        DECRBY c 9223372036854775807
        GET c
        SET m 9223372036854775807
        INCR m
        INCRBY m 0
        SET m -9223372036854775808
        DECR m
        INCRBY m -1
        SET s abc
        INCR s
        SET s " 1"
        INCR s
        SET s "1 "
        INCR s
        SET s +1
        INCR s
        SET s 01
        INCR s
        SET s -0
        INCR s
        SET s 1.0
        INCR s
        SET s ""
        INCR s
        SET s 12345678901234567890123
        INCR s
        "#,
    );
}

#[test]
fn incrbyfloat_formats_like_long_double() {
    let mut p = Pair::new();
    let cases: &[(&str, &str)] = &[
        ("10.5", "0.1"),
        ("0.1", "0.2"),
        ("3.0e3", "5.0e3"),
        ("1", "1"),
        ("0", "-0"),
        ("-0", "-0"),
        ("1.5e300", "1"),
        ("1e-20", "0"),
        ("1e-17", "0"),
        ("5e-18", "0"),
        ("1.5e-17", "0"),
        ("-1e-20", "0"),
        ("123456789012345678", "0.5"),
        ("9223372036854775807", "1"),
        ("-9223372036854775808", "-1"),
        ("0.3333333333333333333333333", "0"),
        ("2.5", "-2.5"),
        ("1.1", "2.2"),
        ("100", "-0.01"),
        ("1e30", "1"),
        ("1e4932", "1e4932"),
        ("1.18e4932", "0"),
        ("1e-4940", "0"),
        ("1e-5000", "1"),
        ("1e5000", "1"),
        ("1", "inf"),
        ("1", "-inf"),
        ("1", "infinity"),
        ("1", "nan"),
        ("1", " 1"),
        ("1", "1 "),
        ("1", "1e"),
        ("1", "+1.5"),
        ("1", ".5"),
        ("1", "5."),
        ("1", "."),
        ("1", "0x10"),
        ("1", "0x1.8p1"),
        ("1", "0x"),
        ("1", "1_0"),
        ("1", ""),
        ("1", "00012.50"),
        ("1", "1E3"),
        ("1", "1e+3"),
        ("1", "-1e-3"),
        ("abc", "1"),
        ("1.5abc", "1"),
        ("7", "0.000000000000000000001"),
        ("0.1", "0.7"),
        ("17.99999999999999999", "0"),
        ("3.14159265358979323846264338327950288", "0"),
    ];
    for (start, incr) in cases {
        p.check(&["SET", "f", start]);
        p.check(&["INCRBYFLOAT", "f", incr]);
        p.check(&["GET", "f"]);
        same_meta(&mut p, "f");
    }
    // Odd bytes: strtold stops at a NUL, and C's isspace includes \v.
    for incr in [
        &b"1.5\0abc"[..],
        b"\0",
        b"\t1",
        b"\x0b1",
        b"1\n",
        b"4e-4951",
        b"1e-4951",
        b"0x1p-16445",
        b"0x1p-16446",
        b"0x1p16383",
        b"0x1p16384",
        b"-0x.8",
        b"0X1P3",
    ] {
        p.check(&["SET", "f", "1"]);
        p.check_bytes(&[b("INCRBYFLOAT"), b("f"), incr.to_vec()]);
        p.check(&["GET", "f"]);
    }
    p.check(&["DEL", "f"]);
    p.check(&["INCRBYFLOAT", "f", "2.5"]);
    p.check(&["INCRBYFLOAT", "f", "abc"]);
    // A chain of increments accumulates rounding exactly as Redis does.
    for _ in 0..50 {
        p.check(&["INCRBYFLOAT", "chain", "0.1"]);
    }
    for _ in 0..20 {
        p.check(&["INCRBYFLOAT", "chain", "-1.7e-3"]);
    }
}

#[test]
fn ranges() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        GETRANGE nokey 0 -1
        SET k "Hello World"
        GETRANGE k 0 4
        GETRANGE k -3 -1
        GETRANGE k 0 -1
        GETRANGE k 5 3
        GETRANGE k -1 -5
        GETRANGE k 100 200
        GETRANGE k -100 -50
        GETRANGE k -100 100
        GETRANGE k 0 abc
        GETRANGE k abc 1
        GETRANGE k -9223372036854775808 9223372036854775807
        SUBSTR k 1 3
        SET n 1234567
        GETRANGE n 2 4
        SET e ""
        GETRANGE e 0 -1
        GETRANGE e 0 0
        SETRANGE k 6 Redis
        GET k
        SETRANGE k 20 tail
        GET k
        SETRANGE k -1 x
        SETRANGE k abc x
        SETRANGE k 0 ""
        SETRANGE nokey 0 ""
        EXISTS nokey
        SETRANGE nokey 3 x
        GET nokey
        SETRANGE n 0 9
        GET n
        SETRANGE k 536870912 x
        SETRANGE k 536870911 xy
        SETRANGE k 9223372036854775807 abc
        SETRANGE big 536870912 x
        EXISTS big
        APPEND k ""
        "#,
    );
}

#[test]
fn lcs() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        MSET a ohmytext b mynewtext
        LCS a b
        LCS a b LEN
        LCS a b IDX
        LCS a b IDX WITHMATCHLEN
        LCS a b IDX MINMATCHLEN 4
        LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN
        LCS a b IDX MINMATCHLEN -1
        LCS a b IDX MINMATCHLEN abc
        LCS a b IDX MINMATCHLEN
        LCS a b LEN IDX
        LCS a b FOO
        LCS a nokey
        LCS nokey1 nokey2 IDX
        LCS nokey1 nokey2 LEN
        LCS a a
        "#,
    );
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..150 {
        let mut word = |n: usize| -> String {
            (0..rng.usize(0..n))
                .map(|_| (b'a' + rng.u8(0..3)) as char)
                .collect()
        };
        let (a, b) = (word(20), word(20));
        p.check(&["MSET", "a", &a, "b", &b]);
        p.check(&["LCS", "a", "b"]);
        p.check(&["LCS", "a", "b", "LEN"]);
        p.check(&["LCS", "a", "b", "IDX", "WITHMATCHLEN"]);
        let min = rng.i32(0..4).to_string();
        p.check(&["LCS", "b", "a", "IDX", "MINMATCHLEN", &min]);
    }
}

/// Random bytes that often hold runs of all-zero and all-one bytes, where
/// BITPOS and BITCOUNT have their edge cases.
fn random_bytes(rng: &mut fastrand::Rng, max: usize) -> Vec<u8> {
    let len = rng.usize(0..=max);
    (0..len)
        .map(|_| match rng.u8(0..4) {
            0 => 0,
            1 => 0xff,
            _ => rng.u8(..),
        })
        .collect()
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[test]
fn bit_commands_fixed_cases() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SETBIT k 7 1
        SETBIT k 7 0
        SETBIT k 7 1
        GET k
        SETBIT k 100 1
        STRLEN k
        GETBIT k 100
        GETBIT k 99
        GETBIT k 100000
        GETBIT nokey 0
        SETBIT k -1 1
        SETBIT k abc 1
        SETBIT k 1 2
        SETBIT k 1 -1
        SETBIT k 1 abc
        SETBIT k 4294967296 1
        SETBIT k 4294967295 2
        GETBIT k 4294967296
        GETBIT k -1
        BITCOUNT nokey
        BITCOUNT nokey a b
        BITCOUNT nokey 1
        SET s foobar
        BITCOUNT s
        BITCOUNT s 0 0
        BITCOUNT s 1 1
        BITCOUNT s 1 1 BYTE
        BITCOUNT s 5 30 BIT
        BITCOUNT s 5 30 bit
        BITCOUNT s 0 -1 FOO
        BITCOUNT s 1
        BITCOUNT s 1 2 BIT x
        BITCOUNT s a b
        BITCOUNT s 0 b
        BITCOUNT s -1 -2 FOO
        BITCOUNT s -2 -1 FOO
        BITPOS nokey 1
        BITPOS nokey 0
        BITPOS nokey 2
        BITPOS nokey a
        BITPOS s 2
        BITPOS s 1
        BITPOS s 0
        BITPOS s 1 2
        BITPOS s 1 2 -1
        BITPOS s 1 2 -1 BYTE
        BITPOS s 1 7 15 BIT
        BITPOS s 0 7 15 BIT
        BITPOS s 1 2 -1 FOO
        BITPOS s 1 a
        BITPOS s 1 0 a
        BITPOS s 1 0 1 BIT x
        SET ones "\xff\xff\xff"
        BITPOS ones 0
        BITPOS ones 0 1
        BITPOS ones 0 0 -1
        BITPOS ones 0 0 -1 BIT
        BITPOS ones 1 10 5
        SET e ""
        BITPOS e 0
        BITPOS e 1
        BITCOUNT e
        BITOP AND
        BITOP AND d
        BITOP NOT d a b
        BITOP NOT d
        BITOP FOO d a
        BITOP NOT d s
        GET d
        BITOP AND d s ones nokey
        GET d
        BITOP OR d s ones
        GET d
        BITOP XOR d s ones
        GET d
        SET d x
        BITOP OR d nokey nokey2
        EXISTS d
        BITOP NOT d nokey
        SET n 1234
        BITOP NOT d n
        GET d
        GETBIT n 2
        BITCOUNT n
        "#,
    );
}

#[test]
fn bit_commands_on_random_data() {
    let mut p = Pair::new();
    let mut rng = fastrand::Rng::with_seed(42);
    for round in 0..120 {
        let data = random_bytes(&mut rng, 12);
        p.check_bytes(&[b("SET"), b("k"), data.clone()]);
        p.check(&["BITCOUNT", "k"]);
        let (s, e) = (rng.i64(-15..15).to_string(), rng.i64(-15..15).to_string());
        p.check(&["BITCOUNT", "k", &s, &e]);
        p.check(&["BITCOUNT", "k", &s, &e, "BYTE"]);
        let (sb, eb) = (
            rng.i64(-100..100).to_string(),
            rng.i64(-100..100).to_string(),
        );
        p.check(&["BITCOUNT", "k", &sb, &eb, "BIT"]);
        for bit in ["0", "1"] {
            p.check(&["BITPOS", "k", bit]);
            p.check(&["BITPOS", "k", bit, &s]);
            p.check(&["BITPOS", "k", bit, &s, &e]);
            p.check(&["BITPOS", "k", bit, &s, &e, "BYTE"]);
            p.check(&["BITPOS", "k", bit, &sb, &eb, "BIT"]);
        }
        let off = rng.u64(0..120).to_string();
        p.check(&["GETBIT", "k", &off]);
        p.check(&["SETBIT", "k", &off, if round % 2 == 0 { "1" } else { "0" }]);
        p.check(&["GET", "k"]);

        // BITOP over up to four sources, some of them missing.
        for (i, key) in ["s1", "s2", "s3"].iter().enumerate() {
            if rng.u8(0..5) == 0 {
                p.check(&["DEL", key]);
            } else {
                let d = random_bytes(&mut rng, 10 + i);
                p.check_bytes(&[b("SET"), b(key), d]);
            }
        }
        for op in ["AND", "OR", "XOR"] {
            p.check(&["BITOP", op, "dest", "s1", "s2", "s3", "nokey"]);
            p.check(&["GET", "dest"]);
            p.check(&["BITOP", op, "dest", "s1", "s2"]);
            p.check(&["GET", "dest"]);
        }
        p.check(&["BITOP", "NOT", "dest", "s1"]);
        p.check(&["GET", "dest"]);
        p.check(&["BITOP", "AND", "s1", "s1", "s2"]);
        p.check(&["GET", "s1"]);
    }
}

#[test]
fn bitfield_fixed_cases() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        BITFIELD nokey
        BITFIELD nokey GET u8 0
        EXISTS nokey
        BITFIELD k SET i8 0 100 GET i8 0 INCRBY i8 0 100
        BITFIELD k OVERFLOW SAT INCRBY i8 0 100 INCRBY i8 0 -300
        BITFIELD k OVERFLOW FAIL INCRBY i8 0 -1 INCRBY i8 0 -1
        BITFIELD k OVERFLOW WRAP INCRBY u2 100 1 INCRBY u2 100 1 INCRBY u2 100 1 INCRBY u2 100 1
        BITFIELD k SET u8 #1 200 GET u8 #1 GET u8 8
        BITFIELD k SET i64 0 -1 GET i64 0 GET u63 0 GET u63 1
        BITFIELD k INCRBY i64 0 -9223372036854775808
        BITFIELD k OVERFLOW SAT INCRBY i64 0 -9223372036854775808 INCRBY i64 0 9223372036854775807
        BITFIELD k OVERFLOW FAIL SET u8 0 256 SET u8 0 -1 SET i8 0 128 SET i8 0 -129
        BITFIELD k OVERFLOW SAT SET u8 0 256 SET u8 0 -1 SET i8 0 128 SET i8 0 -129
        BITFIELD k OVERFLOW WRAP SET u8 0 256 SET u8 0 -1 SET i8 0 128 SET i8 0 -129
        BITFIELD k GET u64 0
        BITFIELD k GET i65 0
        BITFIELD k GET i0 0
        BITFIELD k GET I8 0
        BITFIELD k GET x8 0
        BITFIELD k GET u 0
        BITFIELD k GET i8 -1
        BITFIELD k GET i8 abc
        BITFIELD k GET i8 #-1
        BITFIELD k GET i8 #abc
        BITFIELD k GET i8 4294967296
        BITFIELD k GET i8 #536870912
        BITFIELD k SET i8 0
        BITFIELD k SET i8 0 abc
        BITFIELD k INCRBY i8 0 1.5
        BITFIELD k GET i8
        BITFIELD k OVERFLOW
        BITFIELD k OVERFLOW foo GET i8 0
        BITFIELD k FOO
        BITFIELD k GET i8 0 FOO
        BITFIELD k get i8 0 set i8 0 1 incrby i8 0 1 overflow sat
        BITFIELD_RO k GET i8 0 GET u4 4
        BITFIELD_RO k SET i8 0 1
        BITFIELD_RO k GET i8 0 INCRBY i8 0 1
        BITFIELD_RO k OVERFLOW SAT
        BITFIELD_RO nokey GET i8 0
        SET n 12
        BITFIELD n GET u8 0
        BITFIELD n SET u8 0 51
        GET n
        GET k
        "#,
    );
    // The width is read as a C string: it ends at a NUL byte.
    p.check_bytes(&[b("BITFIELD"), b("k"), b("GET"), b"i8\0x".to_vec(), b("0")]);
    p.check_bytes(&[b("BITFIELD"), b("k"), b("GET"), b"i\08".to_vec(), b("0")]);
}

#[test]
fn bitfield_on_random_data() {
    let mut p = Pair::new();
    let mut rng = fastrand::Rng::with_seed(1234);
    for _ in 0..200 {
        if rng.u8(0..8) == 0 {
            let d = random_bytes(&mut rng, 16);
            p.check_bytes(&[b("SET"), b("k"), d]);
        }
        let mut args = vec!["BITFIELD".to_string(), "k".to_string()];
        for _ in 0..rng.usize(1..5) {
            let signed = rng.bool();
            let bits = if signed {
                rng.u32(1..=64)
            } else {
                rng.u32(1..=63)
            };
            let ty = format!("{}{}", if signed { 'i' } else { 'u' }, bits);
            let offset = if rng.u8(0..4) == 0 {
                format!("#{}", rng.u32(0..4))
            } else {
                rng.u32(0..100).to_string()
            };
            let value = match rng.u8(0..4) {
                0 => rng.i64(..),
                1 => rng.i64(-300..300),
                2 => [i64::MIN, i64::MAX, -1, 0][rng.usize(0..4)],
                _ => rng.i64(-(1 << 40)..(1 << 40)),
            }
            .to_string();
            match rng.u8(0..5) {
                0 => args.extend([
                    "OVERFLOW".into(),
                    ["WRAP", "SAT", "FAIL"][rng.usize(0..3)].into(),
                ]),
                1 => args.extend(["GET".into(), ty, offset]),
                2 => args.extend(["SET".into(), ty, offset, value]),
                _ => args.extend(["INCRBY".into(), ty, offset, value]),
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        p.check(&args);
        p.check(&["GET", "k"]);
    }
}

#[test]
fn keyspace_hits_and_misses_count_like_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SET a 1
        GET a
        GET nokey
        MGET a nokey a
        STRLEN a
        GETRANGE nokey 0 1
        INCR a
        APPEND a x
        SET a 1 GET
        GETBIT a 0
        BITCOUNT nokey
        BITPOS a 1
        LCS a nokey
        BITOP OR d a nokey
        BITFIELD a GET u8 0
        BITFIELD a SET u8 0 1
        GETEX a
        GETDEL a
        GETSET a 1
        "#,
    );
    let info = String::from_utf8_lossy(&p.theirs.cmd(&["INFO", "stats"])).into_owned();
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .expect("INFO field")
    };
    let stats = &p.fc.shared().ks.stats;
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(stats.keyspace_hits.load(Relaxed), field("keyspace_hits"));
    assert_eq!(
        stats.keyspace_misses.load(Relaxed),
        field("keyspace_misses")
    );
}

#[test]
fn multi_key_writes_are_atomic() {
    // MSET under concurrent MGET: a reader never sees half of an MSET.
    let server = crate::support::ferrocache();
    let port = server.port();
    let writer = std::thread::spawn(move || {
        let mut c = crate::support::Conn::connect(port);
        for i in 0..500 {
            let v = i.to_string();
            let keys: Vec<String> = (0..8).map(|k| format!("key{k}")).collect();
            let mut args = vec!["MSET"];
            for k in &keys {
                args.push(k);
                args.push(&v);
            }
            assert_eq!(c.cmd(&args), b"+OK\r\n");
        }
    });
    let mut c = crate::support::Conn::connect(port);
    let keys: Vec<String> = (0..8).map(|k| format!("key{k}")).collect();
    let mut args = vec!["MGET"];
    args.extend(keys.iter().map(String::as_str));
    for _ in 0..500 {
        let reply = c.cmd(&args);
        let text = show(&reply);
        let values: Vec<&str> = text
            .split("\\r\\n")
            .filter(|l| !l.starts_with('*') && !l.starts_with('$') && !l.is_empty())
            .collect();
        if !values.is_empty() {
            assert!(
                values.iter().all(|v| *v == values[0]),
                "torn MSET seen: {text}"
            );
        }
    }
    writer.join().expect("writer");
}

#[test]
fn random_set_and_getex_option_combinations() {
    let mut p = Pair::new();
    let mut rng = fastrand::Rng::with_seed(99);
    let future_s = (now_ms() / 1000 + 1000).to_string();
    let future_ms = (now_ms() + 1_000_000).to_string();
    let tokens: Vec<Vec<&str>> = vec![
        vec!["NX"],
        vec!["XX"],
        vec!["GET"],
        vec!["KEEPTTL"],
        vec!["PERSIST"],
        vec!["EX", "100"],
        vec!["PX", "100000"],
        vec!["EXAT", &future_s],
        vec!["PXAT", &future_ms],
        vec!["EX", "0"],
        vec!["px", "abc"],
        vec!["ex"],
        vec!["get"],
        vec!["nx"],
    ];
    for i in 0..300 {
        let key = ["k", "k2", "nokey"][rng.usize(0..3)];
        if i % 10 == 0 {
            p.check(&["SET", "k", "v"]);
            p.check(&["DEL", "k2"]);
        }
        let mut args = vec!["SET", key, "val"];
        let mut getex = vec!["GETEX", key];
        for _ in 0..rng.usize(0..4) {
            let t = &tokens[rng.usize(0..tokens.len())];
            args.extend(t.iter().copied());
            getex.extend(t.iter().copied());
        }
        p.check(&args);
        p.check(&getex);
        if key != "nokey" {
            same_meta(&mut p, key);
        }
        p.check(&["DEL", "nokey"]);
    }
}

#[test]
fn incrbyfloat_random_values() {
    let mut p = Pair::new();
    let mut rng = fastrand::Rng::with_seed(2024);
    let number = |rng: &mut fastrand::Rng| -> String {
        let digits: String = (0..rng.usize(1..22))
            .map(|_| (b'0' + rng.u8(0..10)) as char)
            .collect();
        let point = rng.usize(0..=digits.len());
        let mut s = String::new();
        if rng.bool() {
            s.push('-');
        }
        s.push_str(&digits[..point]);
        if point < digits.len() || rng.bool() {
            s.push('.');
        }
        s.push_str(&digits[point..]);
        if s.ends_with('.') && point == 0 {
            s.push('5');
        }
        match rng.u8(0..6) {
            0 => s.push_str(&format!("e{}", rng.i32(-25..25))),
            1 => s.push_str(&format!("E{}", rng.i32(-400..400))),
            _ => {}
        }
        s
    };
    for _ in 0..300 {
        let (a, b) = (number(&mut rng), number(&mut rng));
        p.check(&["SET", "f", &a]);
        p.check(&["INCRBYFLOAT", "f", &b]);
        p.check(&["GET", "f"]);
        p.check(&["INCRBYFLOAT", "f", &a]);
    }
}

#[test]
fn random_ranges() {
    let mut p = Pair::new();
    let mut rng = fastrand::Rng::with_seed(5);
    for _ in 0..200 {
        if rng.u8(0..6) == 0 {
            p.check(&["DEL", "k"]);
        }
        let s = rng.i64(-20..20).to_string();
        let e = rng.i64(-20..20).to_string();
        p.check(&["GETRANGE", "k", &s, &e]);
        let off = rng.u32(0..30).to_string();
        let patch: String = (0..rng.usize(0..6))
            .map(|_| (b'a' + rng.u8(0..26)) as char)
            .collect();
        p.check(&["SETRANGE", "k", &off, &patch]);
        p.check(&["GET", "k"]);
        if rng.bool() {
            p.check(&["APPEND", "k", &patch]);
        }
    }
}

#[test]
fn resp3_replies_match() {
    let mut p = Pair::new();
    // HELLO's reply carries the client id, which differs between servers.
    let (ours, theirs) = p.both(&["HELLO", "3"]);
    assert!(ours.starts_with(b"%7") && theirs.starts_with(b"%7"));
    p.check_script(
        r#"
        MSET a ohmytext b mynewtext
        LCS a b IDX WITHMATCHLEN
        LCS a b IDX MINMATCHLEN 4
        MGET a nokey b
        GET nokey
        SET k v GET
        SET k2 v NX GET
        SETNX k v
        BITFIELD bf OVERFLOW FAIL INCRBY u2 0 5 GET u2 0
        GETEX nokey
        GETDEL nokey
        INCRBYFLOAT fl 1.5
        "#,
    );
}

#[test]
fn proto_max_bulk_len_limits_string_growth() {
    let mut p = Pair::with(&[("proto-max-bulk-len", "1mb")]);
    let half = "x".repeat(600 * 1024);
    p.check(&["SET", "k", &half]);
    p.check(&["APPEND", "k", &half]);
    p.check(&["STRLEN", "k"]);
    p.check_script(
        r#"
        SETRANGE k 1048575 x
        SETRANGE k 1048575 xy
        SETRANGE k2 1048576 x
        EXISTS k2
        SETBIT b 8388607 1
        SETBIT b 8388608 1
        GETBIT b 8388608
        BITFIELD b SET u8 #131071 1
        BITFIELD b SET u8 #1048576 1
        BITFIELD b GET u8 8388608
        STRLEN b
        "#,
    );
    let a = "ab".repeat(200);
    p.check(&["MSET", "l1", &a, "l2", &a]);
    p.check(&["LCS", "l1", "l2", "LEN"]);
    p.check(&["APPEND", "l1", &a]);
    p.check(&["LCS", "l1", "l2", "LEN"]);
}

#[test]
fn writes_count_as_changes_like_redis() {
    let mut p = Pair::new();
    let script = r#"
        SET a 1
        SET a 1 NX
        SET b 1 XX
        SET a 1 GET
        GETSET a 2
        MSET x 1 y 2 z 3
        MSETNX x 1
        MSETNX q 1 r 2
        APPEND a x
        INCR n
        INCRBY n 0
        DECRBY n abc
        INCRBYFLOAT n 1.5
        SETRANGE a 0 ""
        SETRANGE a 0 z
        SETRANGE a 0 z
        SETBIT a 0 0
        SETBIT a 0 0
        SETBIT a 0 1
        SETBIT a 100 0
        SETBIT new 3 0
        BITFIELD a GET u8 0
        BITFIELD a SET u8 0 0
        BITFIELD a SET u8 0 0
        BITFIELD a SET u8 0 1 SET u8 8 0 INCRBY u8 16 1
        BITFIELD a SET u8 800 0
        BITFIELD a OVERFLOW FAIL INCRBY u8 0 1000
        BITFIELD new2 OVERFLOW FAIL INCRBY u8 0 1000
        BITOP OR d a
        BITOP OR d nokey
        BITOP OR d nokey
        GETEX a
        GETEX a PERSIST
        GETEX a EX 100
        GETEX a PERSIST
        GETDEL a
        GETDEL a
        SETEX s 10 v
        PSETEX s 10000 v
        SETNX s v
        SETNX s2 v
        GET s
        MGET s s2
        LCS s s2
    "#;
    let rdb_changes = |p: &mut Pair| -> u64 {
        let info = String::from_utf8_lossy(&p.theirs.cmd(&["INFO", "persistence"])).into_owned();
        info.lines()
            .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("rdb_changes_since_last_save")
    };
    let ours = |p: &Pair| {
        p.fc.shared()
            .ks
            .stats
            .dirty
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (t0, o0) = (rdb_changes(&mut p), ours(&p));
        let words = ferrocache_protocol::split_args(line.as_bytes()).expect("parses");
        p.check_bytes(&words);
        let (t1, o1) = (rdb_changes(&mut p), ours(&p));
        assert_eq!(o1 - o0, t1 - t0, "changes counted for {line}");
    }
}
