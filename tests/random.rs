//! Randomized differential streams: seeded random commands over a small key
//! space, sent to Ferrocache and to the reference Redis, replies compared
//! byte for byte. A failure prints the seed and the command history needed to
//! reproduce it.
//!
//! Commands whose replies are legitimately nondeterministic (RANDOMKEY, SCAN)
//! or time-dependent (TTL, PTTL) are left out; KEYS is compared as a sorted
//! set. Expiry is exercised with absolute times far in the future, so
//! EXPIRETIME and PEXPIRETIME are deterministic.

use crate::support::{show, Pair};
use fastrand::Rng;

const KEYS: usize = 8;
/// An absolute expiry well in the future (seconds): 2100-01-01.
const FUTURE_S: i64 = 4_102_444_800;

fn key(rng: &mut Rng) -> String {
    format!("k{}", rng.usize(..KEYS))
}

fn value(rng: &mut Rng) -> String {
    match rng.u8(..10) {
        0..=2 => rng.i64(-1000..1000).to_string(),
        3 => rng.i64(..).to_string(),
        4 => format!("{}.{}", rng.i32(-100..100), rng.u32(..1000)),
        5 => String::new(),
        6 => "x".repeat(rng.usize(40..60)),
        7 => "0012".into(),
        _ => (0..rng.usize(1..12)).map(|_| rng.alphanumeric()).collect(),
    }
}

fn num(rng: &mut Rng) -> String {
    match rng.u8(..8) {
        0 => "notanumber".into(),
        1 => i64::MAX.to_string(),
        2 => i64::MIN.to_string(),
        _ => rng.i64(-50..50).to_string(),
    }
}

fn float(rng: &mut Rng) -> String {
    match rng.u8(..8) {
        0 => "1e3".into(),
        1 => "-0.5".into(),
        2 => "abc".into(),
        3 => "inf".into(),
        _ => format!("{}.{}", rng.i32(-10..10), rng.u32(..100)),
    }
}

fn expiry_option(rng: &mut Rng) -> Vec<String> {
    match rng.u8(..6) {
        0 => vec!["EXAT".into(), (FUTURE_S + rng.i64(0..1000)).to_string()],
        1 => vec![
            "PXAT".into(),
            (FUTURE_S * 1000 + rng.i64(0..1_000_000)).to_string(),
        ],
        2 => vec!["KEEPTTL".into()],
        3 => vec!["EXAT".into(), "-5".into()],
        _ => vec![],
    }
}

/// One random command as a word list.
fn command(rng: &mut Rng) -> Vec<String> {
    let k = key(rng);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut c: Vec<String> = match rng.u8(..44) {
        0 | 1 => {
            let mut c = s(&["SET", &k, &value(rng)]);
            c.extend(expiry_option(rng));
            match rng.u8(..6) {
                0 => c.push("NX".into()),
                1 => c.push("XX".into()),
                2 => c.push("GET".into()),
                _ => {}
            }
            c
        }
        2 | 3 => s(&["GET", &k]),
        4 => s(&["GETDEL", &k]),
        5 => s(&["GETSET", &k, &value(rng)]),
        6 => s(&["SETNX", &k, &value(rng)]),
        7 => {
            let mut c = s(&["MSET"]);
            for _ in 0..rng.usize(1..4) {
                c.push(key(rng));
                c.push(value(rng));
            }
            c
        }
        8 => {
            let mut c = s(&["MSETNX"]);
            for _ in 0..rng.usize(1..3) {
                c.push(key(rng));
                c.push(value(rng));
            }
            c
        }
        9 => {
            let mut c = s(&["MGET"]);
            for _ in 0..rng.usize(1..5) {
                c.push(key(rng));
            }
            c
        }
        10 => s(&["APPEND", &k, &value(rng)]),
        11 => s(&["STRLEN", &k]),
        12 => s(&["INCR", &k]),
        13 => s(&["DECR", &k]),
        14 => s(&["INCRBY", &k, &num(rng)]),
        15 => s(&["DECRBY", &k, &num(rng)]),
        16 => s(&["INCRBYFLOAT", &k, &float(rng)]),
        17 => s(&[
            "GETRANGE",
            &k,
            &rng.i64(-10..10).to_string(),
            &rng.i64(-10..10).to_string(),
        ]),
        18 => s(&["SETRANGE", &k, &rng.i64(-1..20).to_string(), &value(rng)]),
        19 => s(&[
            "SETBIT",
            &k,
            &rng.u32(..200).to_string(),
            &rng.u8(..2).to_string(),
        ]),
        20 => s(&["GETBIT", &k, &rng.u32(..200).to_string()]),
        21 => s(&["BITCOUNT", &k]),
        22 => s(&[
            "BITCOUNT",
            &k,
            &rng.i64(-5..5).to_string(),
            &rng.i64(-5..5).to_string(),
            if rng.bool() { "BIT" } else { "BYTE" },
        ]),
        23 => s(&["BITPOS", &k, &rng.u8(..2).to_string()]),
        24 => {
            let op = ["AND", "OR", "XOR", "NOT"][rng.usize(..4)];
            let mut c = s(&["BITOP", op, &key(rng), &k]);
            if op != "NOT" && rng.bool() {
                c.push(key(rng));
            }
            c
        }
        25 => s(&[
            "BITFIELD",
            &k,
            "INCRBY",
            "u8",
            &rng.u32(..32).to_string(),
            &rng.i32(-300..300).to_string(),
            "GET",
            "i5",
            "3",
        ]),
        26 => s(&["LCS", &k, &key(rng)]),
        27 => s(&["DEL", &k, &key(rng)]),
        28 => s(&["UNLINK", &k]),
        29 => s(&["EXISTS", &k, &key(rng), &k]),
        30 => s(&["TYPE", &k]),
        31 => {
            let mut c = s(&["EXPIREAT", &k, &(FUTURE_S + rng.i64(0..1000)).to_string()]);
            match rng.u8(..6) {
                0 => c.push("NX".into()),
                1 => c.push("XX".into()),
                2 => c.push("GT".into()),
                3 => c.push("LT".into()),
                _ => {}
            }
            c
        }
        32 => s(&[
            "PEXPIREAT",
            &k,
            &(FUTURE_S * 1000 + rng.i64(0..100_000)).to_string(),
        ]),
        33 => s(&["PERSIST", &k]),
        34 => s(&["EXPIRETIME", &k]),
        35 => s(&["PEXPIRETIME", &k]),
        36 => s(&["RENAME", &k, &key(rng)]),
        37 => s(&["RENAMENX", &k, &key(rng)]),
        38 => {
            let mut c = s(&["COPY", &k, &key(rng)]);
            if rng.bool() {
                c.push("REPLACE".into());
            }
            c
        }
        39 => s(&["OBJECT", "ENCODING", &k]),
        40 => s(&["DBSIZE"]),
        41 => s(&["MOVE", &k, "1"]),
        42 => s(&["GETEX", &k, "PERSIST"]),
        _ => s(&["SELECT", &rng.u8(..2).to_string()]),
    };
    if rng.u8(..50) == 0 {
        c = vec!["FLUSHDB".into()];
    }
    c
}

fn run_stream(seed: u64, len: usize) {
    let mut rng = Rng::with_seed(seed);
    let mut p = Pair::new();
    let mut history: Vec<String> = Vec::new();
    for _ in 0..len {
        let cmd = command(&mut rng);
        history.push(cmd.join(" "));
        let args: Vec<Vec<u8>> = cmd.iter().map(|a| a.clone().into_bytes()).collect();
        let ours = p.ours.cmd_bytes(&args);
        let theirs = p.theirs.cmd_bytes(&args);
        if ours != theirs {
            let mut state = String::new();
            for i in 0..KEYS {
                let k = format!("k{i}");
                let o = show(&p.ours.cmd(&["GET", &k]));
                let t = show(&p.theirs.cmd(&["GET", &k]));
                state.push_str(&format!("  {k}: ferrocache {o} redis {t}\n"));
            }
            let tail: Vec<&String> = history.iter().rev().take(30).rev().collect();
            panic!(
                "seed {seed}: reply differs for `{}`\n ferrocache: {}\n redis:      {}\nlast commands:\n{}\nstate after:\n{state}",
                cmd.join(" "),
                show(&ours),
                show(&theirs),
                tail.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n")
            );
        }
    }
    // The final state must agree too.
    for db in ["0", "1"] {
        p.check(&["SELECT", db]);
        let mut ours = key_list(p.ours.cmd(&["KEYS", "*"]));
        let mut theirs = key_list(p.theirs.cmd(&["KEYS", "*"]));
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "seed {seed}: final keys of db {db} differ");
        for k in ours {
            p.check(&["GET", &k]);
        }
    }
}

fn key_list(reply: Vec<u8>) -> Vec<String> {
    match ferrocache_protocol::frame::parse(&reply) {
        Ok(Some((ferrocache_protocol::Frame::Array(items), _))) => items
            .into_iter()
            .filter_map(|f| match f {
                ferrocache_protocol::Frame::Bulk(b) => {
                    Some(String::from_utf8_lossy(&b).into_owned())
                }
                _ => None,
            })
            .collect(),
        other => panic!("KEYS reply is not an array: {other:?}"),
    }
}

#[test]
fn random_string_and_key_streams_match_redis() {
    // A fixed set of seeds keeps failures reproducible; FERROCACHE_SEED adds
    // one more for exploration.
    let mut seeds: Vec<u64> = (1..=6).collect();
    if let Some(extra) = std::env::var("FERROCACHE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        seeds.push(extra);
    }
    for seed in seeds {
        run_stream(seed, 1500);
    }
}
