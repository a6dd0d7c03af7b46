//! Differential tests of the set commands against real Redis: every command
//! with its errors, WRONGTYPE in both directions, OBJECT ENCODING at the
//! intset threshold, RESP3 replies, the deterministic properties of SPOP and
//! SRANDMEMBER, and seeded random streams.

use crate::support::{show, Pair};
use fastrand::Rng;

#[test]
fn set_commands_and_errors_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SADD s 3 1 2 -5 1
        SADD s
        SMEMBERS s
        SCARD s
        SCARD nokey
        SMEMBERS nokey
        SISMEMBER s 1
        SISMEMBER s 01
        SISMEMBER s 9
        SISMEMBER nokey 1
        SMISMEMBER s 1 9 2 x
        SMISMEMBER nokey 1 2
        SMISMEMBER s
        SREM s 1 9 x
        SREM s
        SREM nokey a
        SMEMBERS s
        SREM s 2 3 -5
        EXISTS s
        SADD t 5 6 7 8
        SPOP t 0
        SPOP nokey
        SPOP nokey 3
        SPOP t -1
        SPOP t x
        SPOP t 1 2
        SPOP t 10
        EXISTS t
        SADD t 5 6 7
        SRANDMEMBER nokey
        SRANDMEMBER nokey 3
        SRANDMEMBER nokey -3
        SRANDMEMBER t 0
        SRANDMEMBER t 3
        SRANDMEMBER t 100
        SRANDMEMBER t x
        SRANDMEMBER t 1 2
        SRANDMEMBER t -9223372036854775808
        SADD a 1 2 3 4 5
        SADD b 2 3 4 10
        SADD c 3 4 11
        SINTER a b c
        SINTER a b nokey
        SINTER a
        SINTER nokey
        SUNION a b c
        SUNION nokey a
        SUNION nokey
        SDIFF a b
        SDIFF a b c
        SDIFF nokey a
        SDIFF a nokey
        SINTERCARD 3 a b c
        SINTERCARD 2 a b LIMIT 2
        SINTERCARD 2 a b LIMIT 0
        SINTERCARD 2 a b limit 100
        SINTERCARD 2 a nokey
        SINTERCARD 0 a
        SINTERCARD -1 a
        SINTERCARD x a
        SINTERCARD 3 a b
        SINTERCARD 1 a LIMIT
        SINTERCARD 1 a LIMIT -1
        SINTERCARD 1 a LIMIT x
        SINTERCARD 1 a foo 1
        SINTERCARD 1 a LIMIT 1 LIMIT 3
        SINTERSTORE d a b c
        SMEMBERS d
        SINTERSTORE d a nokey
        EXISTS d
        SUNIONSTORE d a b c
        SMEMBERS d
        SDIFFSTORE d a b
        SMEMBERS d
        SDIFFSTORE d a a
        EXISTS d
        SUNIONSTORE d nokey
        SET str x
        SINTERSTORE str a b
        TYPE str
        SMEMBERS str
        SMOVE a b 1
        SMOVE a b 1
        SMOVE a b 99
        SMOVE nokey b 1
        SMOVE a a 2
        SMOVE a a 99
        SMOVE a newset 2
        SMEMBERS a
        SMEMBERS newset
        SMOVE newset a 2
        EXISTS newset
        SSCAN a 0
        SSCAN a 0 MATCH 1*
        SSCAN a 0 COUNT 100
        SSCAN a 0 COUNT 0
        SSCAN a 0 COUNT x
        SSCAN a 0 MATCH
        SSCAN a x
        SSCAN nokey 0
        SSCAN nokey 0 COUNT 0
        SADD
        SCARD
        SMOVE a b
        SINTERCARD 1
        SINTERSTORE d
        "#,
    );
}

#[test]
fn wrongtype_both_ways() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SET str x
        SADD s 1 2
        SADD str a
        SREM str a
        SMEMBERS str
        SISMEMBER str a
        SMISMEMBER str a
        SCARD str
        SPOP str
        SPOP str 2
        SPOP str x
        SRANDMEMBER str
        SRANDMEMBER str 2
        SRANDMEMBER str x
        SMOVE str s 1
        SMOVE s str 1
        SMOVE nokey str 1
        SMOVE s str 99
        SINTER s str
        SINTER nokey str
        SUNION nokey str
        SDIFF nokey str
        SDIFF s str
        SINTERCARD 2 nokey str
        SINTERSTORE d nokey str
        SUNIONSTORE d s str
        SDIFFSTORE d s str
        SSCAN str 0
        GET s
        LPUSH s x
        HSET s f v
        INCR s
        APPEND s x
        TYPE s
        OBJECT ENCODING s
        "#,
    );
}

fn encoding_steps(p: &mut Pair, steps: &[&[&str]]) {
    for s in steps {
        p.check(s);
        p.check(&["OBJECT", "ENCODING", "e"]);
    }
}

#[test]
fn encoding_follows_redis_thresholds() {
    let mut p = Pair::new();
    encoding_steps(
        &mut p,
        &[
            &["SADD", "e", "1", "2"],
            &["SADD", "e", "-9223372036854775808", "9223372036854775807"],
            &["SADD", "e", "01"],
            &["SREM", "e", "01"],
            &["SCARD", "e"],
        ],
    );
    p.check(&["DEL", "e"]);
    p.check(&["CONFIG", "SET", "set-max-intset-entries", "3"]);
    encoding_steps(
        &mut p,
        &[
            &["SADD", "e", "1", "2", "3"],
            &["SADD", "e", "4"],
            &["SREM", "e", "4", "3"],
        ],
    );
    // STORE results and SMOVE destinations take the encoding their adds give.
    p.check_script(
        r#"
        SADD x 1 2 3 4 5
        SADD y 1 2 3 4 a
        SINTERSTORE i x y
        OBJECT ENCODING i
        SINTERSTORE i x x
        OBJECT ENCODING i
        SUNIONSTORE u x
        OBJECT ENCODING u
        SDIFFSTORE df y x
        OBJECT ENCODING df
        SMEMBERS df
        SMOVE y m a
        OBJECT ENCODING m
        SMOVE x m2 1
        OBJECT ENCODING m2
        CONFIG SET set-max-intset-entries 0
        SADD zero 1
        OBJECT ENCODING zero
        SMOVE x zero0 2
        OBJECT ENCODING zero0
        SUNIONSTORE zero1 x
        OBJECT ENCODING zero1
        CONFIG GET set-max-intset-entries
        CONFIG SET set-max-intset-entries 512
        SUNIONSTORE big x
        OBJECT ENCODING big
        SMEMBERS big
        "#,
    );
    // A set past 512 integers.
    let mut args = vec!["SADD".to_string(), "z".to_string()];
    args.extend((0..513).map(|i| (i * 7).to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    p.check(&a[..514]);
    p.check(&["OBJECT", "ENCODING", "z"]);
    p.check(&["SADD", "z", "100000"]);
    p.check(&["OBJECT", "ENCODING", "z"]);
    p.check(&["SCARD", "z"]);
}

#[test]
fn thresholds_from_startup_configuration() {
    let mut p = Pair::with(&[("set-max-intset-entries", "2")]);
    encoding_steps(
        &mut p,
        &[
            &["SADD", "e", "1", "2"],
            &["SADD", "e", "3"],
            &["SCARD", "e"],
        ],
    );
}

/// Lines of a reply, sorted, with the header dropped (set comparison).
fn sorted_lines(r: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(r)
        .split("\r\n")
        .skip(1)
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// The header line of a reply (type and length).
fn head(r: &[u8]) -> String {
    String::from_utf8_lossy(r)
        .split("\r\n")
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn hashtable_sets_hold_the_same_members() {
    let mut p = Pair::new();
    p.check(&["SADD", "h", "a", "b", "c", "1", "2", "dd"]);
    p.check(&["SADD", "g", "b", "c", "zz", "2"]);
    p.check(&["OBJECT", "ENCODING", "h"]);
    for cmd in [
        &["SMEMBERS", "h"][..],
        &["SINTER", "h", "g"],
        &["SUNION", "h", "g"],
        &["SDIFF", "h", "g"],
        &["SSCAN", "h", "0"],
        &["SRANDMEMBER", "h", "100"],
    ] {
        let (ours, theirs) = p.both(cmd);
        assert_eq!(head(&ours), head(&theirs), "{cmd:?}");
        assert_eq!(sorted_lines(&ours), sorted_lines(&theirs), "{cmd:?}");
    }
    p.check(&["SINTERCARD", "2", "h", "g"]);
    p.check(&["SINTERSTORE", "d", "h", "g"]);
    p.check(&["SUNIONSTORE", "d", "h", "g"]);
    p.check(&["SDIFFSTORE", "d", "h", "g"]);
    p.check(&["SCARD", "d"]);
}

#[test]
fn resp3_replies() {
    let mut p = Pair::new();
    let (ours, theirs) = p.both(&["HELLO", "3"]);
    assert_eq!(ours.first(), theirs.first());
    p.check_script(
        r#"
        SADD s 3 1 2
        SMEMBERS s
        SMEMBERS nokey
        SINTER s s
        SINTER s nokey
        SUNION s nokey
        SDIFF s nokey
        SMISMEMBER s 1 5
        SPOP nokey 2
        SPOP s 0
        SRANDMEMBER s 0
        SRANDMEMBER nokey 2
        SRANDMEMBER s 10
        SSCAN s 0
        SPOP s 10
        "#,
    );
    p.check(&["SADD", "s", "1", "2", "3", "4"]);
    for cmd in [
        &["SRANDMEMBER", "s", "2"][..],
        &["SRANDMEMBER", "s", "-5"],
        &["SPOP", "s", "2"],
    ] {
        let (ours, theirs) = p.both(cmd);
        assert_eq!(head(&ours), head(&theirs), "{cmd:?}");
    }
}

#[test]
fn random_picks_have_redis_properties() {
    let mut p = Pair::new();
    for key in ["ints", "strs"] {
        let members: Vec<String> = (0..20)
            .map(|i| {
                if key == "ints" {
                    i.to_string()
                } else {
                    format!("m{i}")
                }
            })
            .collect();
        let mut args = vec!["SADD", key];
        args.extend(members.iter().map(String::as_str));
        p.check(&args);
        for count in ["1", "5", "19", "-1", "-7", "-40"] {
            let (ours, theirs) = p.both(&["SRANDMEMBER", key, count]);
            assert_eq!(head(&ours), head(&theirs), "SRANDMEMBER {count}");
            let got: Vec<String> = sorted_lines(&ours)
                .into_iter()
                .filter(|l| !l.is_empty() && !l.starts_with('$'))
                .collect();
            for line in &got {
                assert!(members.contains(line), "{line} not a member");
            }
            if !count.starts_with('-') {
                let mut d = got.clone();
                d.dedup();
                assert_eq!(d, got, "distinct members for {count}");
            }
        }
        let (ours, theirs) = p.both(&["SPOP", key, "5"]);
        assert_eq!(head(&ours), head(&theirs));
        p.check(&["SCARD", key]);
        let (ours, theirs) = p.both(&["SPOP", key]);
        assert_eq!(ours.first(), theirs.first());
        p.check(&["SCARD", key]);
    }
}

fn member(rng: &mut Rng) -> String {
    rng.i64(-3..12).to_string()
}

fn command(rng: &mut Rng) -> Vec<String> {
    let key = |rng: &mut Rng| format!("s{}", rng.u8(0..4));
    let mut c: Vec<String> = match rng.u8(0..20) {
        0..=4 => {
            let mut c = vec!["SADD".into(), key(rng)];
            for _ in 0..rng.usize(1..4) {
                c.push(member(rng));
            }
            c
        }
        5 | 6 => {
            let mut c = vec!["SREM".into(), key(rng)];
            for _ in 0..rng.usize(1..3) {
                c.push(member(rng));
            }
            c
        }
        7 => vec!["SMEMBERS".into(), key(rng)],
        8 => vec!["SISMEMBER".into(), key(rng), member(rng)],
        9 => vec!["SMISMEMBER".into(), key(rng), member(rng), member(rng)],
        10 => vec!["SCARD".into(), key(rng)],
        11 => vec!["SMOVE".into(), key(rng), key(rng), member(rng)],
        12 => vec!["SINTER".into(), key(rng), key(rng)],
        13 => vec!["SUNION".into(), key(rng), key(rng)],
        14 => vec!["SDIFF".into(), key(rng), key(rng), key(rng)],
        15 => vec![
            "SINTERCARD".into(),
            "2".into(),
            key(rng),
            key(rng),
            "LIMIT".into(),
            rng.u8(0..4).to_string(),
        ],
        16 => vec!["SINTERSTORE".into(), key(rng), key(rng), key(rng)],
        17 => vec!["SUNIONSTORE".into(), key(rng), key(rng), key(rng)],
        18 => vec!["SDIFFSTORE".into(), key(rng), key(rng), key(rng)],
        _ => match rng.u8(0..3) {
            0 => vec!["SPOP".into(), key(rng), "100".into()],
            1 => vec!["SRANDMEMBER".into(), key(rng), "100".into()],
            _ => vec!["SSCAN".into(), key(rng), "0".into()],
        },
    };
    if rng.u8(0..10) == 0 {
        c[0] = c[0].to_lowercase();
    }
    c
}

fn run_stream(seed: u64, len: usize) {
    let mut rng = Rng::with_seed(seed);
    let mut p = Pair::new();
    p.check(&["SET", "s3", "notaset"]);
    let mut history: Vec<String> = Vec::new();
    for _ in 0..len {
        let c = command(&mut rng);
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        history.push(c.join(" "));
        let (ours, theirs) = p.both(&args);
        if ours != theirs {
            let tail = history[history.len().saturating_sub(15)..].join("\n");
            panic!(
                "seed {seed}: reply differs for `{}`\n ferrocache: {}\n redis:      {}\nlast commands:\n{tail}",
                c.join(" "),
                show(&ours),
                show(&theirs)
            );
        }
    }
    for k in ["s0", "s1", "s2", "s3"] {
        p.check(&["TYPE", k]);
        p.check(&["OBJECT", "ENCODING", k]);
    }
}

#[test]
fn random_set_streams_match_redis() {
    for seed in 1..=3 {
        run_stream(seed, 1000);
    }
}

#[test]
fn random_string_members_compare_as_sets() {
    let mut rng = Rng::with_seed(7);
    let mut p = Pair::new();
    for _ in 0..300 {
        let k = format!("w{}", rng.u8(0..3));
        let m = format!("m{}", rng.u8(0..10));
        let c: Vec<String> = match rng.u8(0..6) {
            0 | 1 => vec!["SADD".into(), k, m],
            2 => vec!["SREM".into(), k, m],
            3 => vec!["SUNIONSTORE".into(), k, format!("w{}", rng.u8(0..3))],
            4 => vec!["SINTER".into(), k, format!("w{}", rng.u8(0..3))],
            _ => vec!["SMEMBERS".into(), k],
        };
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        let (ours, theirs) = p.both(&args);
        assert_eq!(head(&ours), head(&theirs), "{c:?}");
        assert_eq!(sorted_lines(&ours), sorted_lines(&theirs), "{c:?}");
    }
}

#[test]
fn generic_commands_see_sets() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SADD s 1 2 3
        SADD h a b
        TYPE s
        TYPE h
        OBJECT ENCODING h
        COPY s s2
        SMEMBERS s2
        OBJECT ENCODING s2
        RENAME s2 s3
        SMEMBERS s3
        EXISTS s2
        EXPIRE s3 100
        SADD s3 4
        TTL s3
        DEL s3
        SCARD s3
        "#,
    );
    p.check(&["SET", "str", "x"]);
    let (ours, theirs) = p.both(&["SCAN", "0", "TYPE", "set", "COUNT", "1000"]);
    assert_eq!(sorted_lines(&ours), sorted_lines(&theirs));
}
