//! Differential tests of the list commands against real Redis: every
//! command with its errors and edge cases, WRONGTYPE in both directions,
//! RESP2 and RESP3 null forms, TYPE and OBJECT ENCODING, and seeded random
//! command streams compared byte for byte.

use crate::support::{show, Pair};
use fastrand::Rng;

#[test]
fn pushes_pops_and_lengths() {
    let mut p = Pair::new();
    p.check_script(
        "
        LPUSH l a b c
        RPUSH l d e
        LRANGE l 0 -1
        LLEN l
        LLEN missing
        LPUSHX missing x
        RPUSHX missing x
        EXISTS missing
        LPUSHX l x y
        RPUSHX l z
        LRANGE l 0 -1
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 0
        RPOP l 100
        EXISTS l
        LPOP l
        LPOP l 1
        RPOP missing 3
        RPOP missing
        LPOP l -1
        LPOP l x
        LPOP l 1 2
        RPUSH n 1 2 3
        LPOP n 0
        LPOP n 9223372036854775807
        EXISTS n
        RPUSH e ''
        LRANGE e 0 -1
        TYPE e
        OBJECT ENCODING e
        LPUSH
        LPUSH k
        ",
    );
}

#[test]
fn resp3_null_forms() {
    let mut p = Pair::new();
    p.both(&["HELLO", "3"]);
    p.check_script(
        "
        LPOP missing
        LPOP missing 2
        RPOP missing 0
        LINDEX missing 0
        LPOS missing x
        LPOS missing x COUNT 0
        LMPOP 2 missing other LEFT
        LMOVE missing dst LEFT RIGHT
        RPUSH l a b c
        LMPOP 1 l RIGHT COUNT 2
        LPOP l 5
        LPOP l 1
        ",
    );
}

#[test]
fn ranges_indexes_and_sets() {
    let mut p = Pair::new();
    p.check_script(
        "
        RPUSH l a b c d e f
        LRANGE l 0 0
        LRANGE l -2 -1
        LRANGE l -100 100
        LRANGE l 3 1
        LRANGE l 6 10
        LRANGE l -1 -3
        LRANGE l -9223372036854775808 9223372036854775807
        LRANGE l x 1
        LRANGE l 1 1.5
        LRANGE missing 0 -1
        LINDEX l 0
        LINDEX l -1
        LINDEX l 6
        LINDEX l -7
        LINDEX l x
        LINDEX missing x
        LSET l 0 A
        LSET l -1 F
        LSET l 6 nope
        LSET l -7 nope
        LSET l x nope
        LSET missing 0 x
        LSET missing x x
        LRANGE l 0 -1
        ",
    );
}

#[test]
fn insert_remove_trim() {
    let mut p = Pair::new();
    p.check_script(
        "
        RPUSH l a b a c a
        LINSERT l BEFORE a x
        LINSERT l after a y
        LINSERT l AFTER nothere z
        LINSERT l MIDDLE a z
        LINSERT missing BEFORE a x
        EXISTS missing
        LRANGE l 0 -1
        LREM l 1 a
        LREM l -1 a
        LREM l 0 zz
        LRANGE l 0 -1
        LREM l 0 a
        LREM l x a
        LREM missing 0 a
        LRANGE l 0 -1
        LTRIM l 1 -1
        LRANGE l 0 -1
        LTRIM l 0 100
        LTRIM l x 1
        LTRIM missing 0 1
        LTRIM l 2 1
        EXISTS l
        RPUSH t 1 2 3 4 5
        LTRIM t -2 -1
        LRANGE t 0 -1
        LTRIM t 5 10
        EXISTS t
        RPUSH r a a a
        LREM r 0 a
        EXISTS r
        ",
    );
}

#[test]
fn lpos_options_and_errors() {
    let mut p = Pair::new();
    p.check_script(
        "
        RPUSH l a b c 1 2 3 c c
        LPOS l c
        LPOS l c RANK 2
        LPOS l c RANK -1
        LPOS l c RANK -3
        LPOS l c RANK 4
        LPOS l c COUNT 0
        LPOS l c COUNT 2
        LPOS l c COUNT 2 RANK -1
        LPOS l c COUNT 0 MAXLEN 3
        LPOS l c MAXLEN 3
        LPOS l c RANK -1 MAXLEN 2
        LPOS l c RANK -1 MAXLEN 1 COUNT 0
        LPOS l zz
        LPOS l zz COUNT 5
        LPOS l c RANK 0
        LPOS l c RANK x
        LPOS l c COUNT -1
        LPOS l c COUNT x
        LPOS l c MAXLEN -1
        LPOS l c MAXLEN x
        LPOS l c RANK
        LPOS l c FOO 1
        LPOS l c RANK 1 RANK 2
        LPOS l c RANK -9223372036854775808
        LPOS l c RANK 9223372036854775807
        LPOS l c COUNT 9223372036854775807
        LPOS missing c RANK 0
        LPOS missing c
        ",
    );
}

#[test]
fn moves_and_multi_pops() {
    let mut p = Pair::new();
    p.check_script(
        "
        RPUSH a 1 2 3
        LMOVE a b LEFT RIGHT
        LMOVE a b right LEFT
        LRANGE a 0 -1
        LRANGE b 0 -1
        LMOVE a a LEFT RIGHT
        LMOVE a b UP LEFT
        LMOVE a b LEFT DOWN
        LMOVE missing b LEFT LEFT
        RPOPLPUSH a b
        EXISTS a
        RPOPLPUSH b b
        LRANGE b 0 -1
        RPOPLPUSH missing b
        LMPOP 1 b LEFT
        LMPOP 2 missing b RIGHT COUNT 10
        EXISTS b
        LMPOP 1 b LEFT
        RPUSH c x y z
        LMPOP 2 missing c LEFT COUNT 2
        LMPOP 0 c LEFT
        LMPOP -1 c LEFT
        LMPOP x c LEFT
        LMPOP 2 c LEFT
        LMPOP 99999999999 c LEFT
        LMPOP 1 c MIDDLE
        LMPOP 1 c LEFT COUNT 0
        LMPOP 1 c LEFT COUNT -1
        LMPOP 1 c LEFT COUNT x
        LMPOP 1 c LEFT COUNT 1 COUNT 2
        LMPOP 1 c LEFT COUNT
        LMPOP 1 c LEFT EXTRA
        LMPOP 1 c RIGHT COUNT 9223372036854775807
        LMPOP 1 c RIGHT
        ",
    );
}

#[test]
fn wrongtype_in_both_directions() {
    let mut p = Pair::new();
    p.check_script(
        "
        SET s v
        RPUSH l a b
        LPUSH s x
        RPUSH s x
        LPUSHX s x
        RPUSHX s x
        LPOP s
        RPOP s 2
        LPOP s x
        LLEN s
        LRANGE s 0 -1
        LRANGE s x 1
        LINDEX s 0
        LINDEX s x
        LSET s 0 x
        LSET s x x
        LINSERT s BEFORE a x
        LINSERT s MIDDLE a x
        LREM s 0 x
        LREM s x x
        LTRIM s 0 1
        LPOS s x
        LPOS s x RANK 0
        LMOVE s l LEFT LEFT
        LMOVE l s LEFT LEFT
        LMOVE missing s LEFT LEFT
        RPOPLPUSH l s
        RPOPLPUSH s l
        LMPOP 2 s l LEFT
        LMPOP 2 missing s LEFT
        LMPOP 2 l s LEFT
        LRANGE l 0 -1
        GET l
        SET l x XX GET
        APPEND l x
        STRLEN l
        INCR l
        GETRANGE l 0 1
        SETRANGE l 0 x
        GETDEL l
        GETEX l
        MGET l s
        BITCOUNT l
        SETBIT l 0 1
        GETBIT l 0
        BITPOS l 1
        BITFIELD l GET u8 0
        BITFIELD_RO l GET u8 0
        BITOP AND dest l s
        INCRBYFLOAT l 1.5
        DECRBY l 2
        LCS l s
        GETSET l x
        SUBSTR l 0 1
        SETNX l x
        MSETNX l x other y
        TYPE l
        TYPE s
        OBJECT ENCODING l
        SET l x
        TYPE l
        ",
    );
}

#[test]
fn encoding_of_small_and_large_lists() {
    let mut p = Pair::new();
    p.check(&["RPUSH", "small", "a"]);
    p.check(&["OBJECT", "ENCODING", "small"]);
    let big = "x".repeat(10_000);
    p.check(&["RPUSH", "big", &big, &big]);
    p.check(&["OBJECT", "ENCODING", "big"]);
    let mut args = vec!["RPUSH".to_string(), "many".to_string()];
    args.extend((0..1000).map(|i| i.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    p.check(&refs);
    p.check(&["OBJECT", "ENCODING", "many"]);
    p.check(&["TYPE", "many"]);
    p.check(&["LRANGE", "many", "495", "505"]);
    p.check(&["LPOS", "many", "999", "RANK", "-1"]);
}

fn elem(rng: &mut Rng) -> String {
    match rng.u8(..8) {
        0 => String::new(),
        // Large elements push lists past the packed form's 8 KB.
        6 => "z".repeat(4500 + rng.usize(..3)),
        1 => rng.i64(-5..5).to_string(),
        _ => ["a", "b", "c", "d"][rng.usize(..4)].to_string(),
    }
}

fn idx(rng: &mut Rng) -> String {
    match rng.u8(..12) {
        0 => "x".into(),
        1 => i64::MAX.to_string(),
        2 => i64::MIN.to_string(),
        _ => rng.i64(-8..8).to_string(),
    }
}

fn side(rng: &mut Rng) -> String {
    ["LEFT", "RIGHT", "left", "UP"][rng.usize(..4).min(if rng.u8(..20) == 0 { 3 } else { 2 })]
        .to_string()
}

fn random_command(rng: &mut Rng) -> Vec<String> {
    let keys = ["l0", "l1", "l2", "s"];
    let k = |rng: &mut Rng| keys[rng.usize(..keys.len())].to_string();
    let mut c: Vec<String> = Vec::new();
    match rng.u8(..22) {
        0 | 1 | 19 | 20 | 21 => {
            c.push(["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"][rng.usize(..6)].into());
            c.push(k(rng));
            for _ in 0..rng.usize(1..6) {
                c.push(elem(rng));
            }
        }
        2 | 3 => {
            c.push(["LPOP", "RPOP"][rng.usize(..2)].into());
            c.push(k(rng));
            if rng.bool() {
                c.push(idx(rng));
            }
        }
        4 => c.extend(["LLEN".into(), k(rng)]),
        5 => c.extend(["LRANGE".into(), k(rng), idx(rng), idx(rng)]),
        6 => c.extend(["LINDEX".into(), k(rng), idx(rng)]),
        7 => c.extend(["LSET".into(), k(rng), idx(rng), elem(rng)]),
        8 => c.extend([
            "LINSERT".into(),
            k(rng),
            ["BEFORE", "AFTER", "after", "NEAR"][rng.usize(..4)].into(),
            elem(rng),
            elem(rng),
        ]),
        9 => c.extend(["LREM".into(), k(rng), idx(rng), elem(rng)]),
        10 => c.extend(["LTRIM".into(), k(rng), idx(rng), idx(rng)]),
        11 | 12 => {
            c.extend(["LPOS".into(), k(rng), elem(rng)]);
            for _ in 0..rng.usize(0..3) {
                c.push(["RANK", "COUNT", "MAXLEN"][rng.usize(..3)].into());
                c.push(idx(rng));
            }
        }
        13 => c.extend(["LMOVE".into(), k(rng), k(rng), side(rng), side(rng)]),
        14 => c.extend(["RPOPLPUSH".into(), k(rng), k(rng)]),
        15 => {
            let n = rng.usize(1..4);
            c.extend(["LMPOP".into(), n.to_string()]);
            for _ in 0..n {
                c.push(k(rng));
            }
            c.push(side(rng));
            if rng.bool() {
                c.extend(["COUNT".into(), idx(rng)]);
            }
        }
        16 => c.extend(["SET".into(), "s".into(), elem(rng)]),
        17 => c.extend(["TYPE".into(), k(rng)]),
        _ => c.extend(["DEL".into(), k(rng)]),
    }
    c
}

/// Whether our list at `key` is in its packed form (`None`: no list).
fn packed(p: &Pair, key: &str) -> Option<bool> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut l = p.fc.shared().ks.lock(0, key.as_bytes(), now);
    match l.get(0, key.as_bytes())?.value() {
        ferrocache_store::ValueRef::List(list) => Some(list.is_packed()),
        _ => None,
    }
}

#[test]
fn random_streams_match_redis() {
    let mut p = Pair::new();
    for seed in [1u64, 2, 3] {
        let mut rng = Rng::with_seed(seed);
        p.check(&["FLUSHALL"]);
        let mut history: Vec<String> = Vec::new();
        // Replies that carry list data (a non-empty array or a bulk), to
        // show that the stream works on real lists, not only on errors.
        let mut with_data = 0;
        let mut forms = (false, false);
        for _ in 0..1500 {
            let cmd = random_command(&mut rng);
            history.push(cmd.join(" "));
            let args: Vec<Vec<u8>> = cmd.iter().map(|a| a.as_bytes().to_vec()).collect();
            let theirs = p.theirs.cmd_bytes(&args);
            let ours = p.ours.cmd_bytes(&args);
            if ours != theirs {
                let tail = history.len().saturating_sub(30);
                panic!(
                    "seed {seed}: reply differs for {:?}\n ours: {}\n theirs: {}\nlast commands:\n{}",
                    cmd,
                    show(&ours),
                    show(&theirs),
                    history[tail..].join("\n")
                );
            }
            let data = (theirs.starts_with(b"*")
                && !theirs.starts_with(b"*0")
                && !theirs.starts_with(b"*-1"))
                || (theirs.starts_with(b"$") && !theirs.starts_with(b"$-1"))
                || (theirs.starts_with(b":")
                    && !theirs.starts_with(b":0")
                    && !theirs.starts_with(b":-1"));
            with_data += data as usize;
            for k in ["l0", "l1", "l2"] {
                match packed(&p, k) {
                    Some(true) => forms.0 = true,
                    Some(false) => forms.1 = true,
                    None => {}
                }
            }
        }
        assert_eq!(forms, (true, true), "seed {seed}: both list forms used");
        assert!(
            with_data > 300,
            "seed {seed}: only {with_data} replies with data"
        );
        for k in ["l0", "l1", "l2"] {
            p.check(&["LRANGE", k, "0", "-1"]);
        }
    }
}

#[test]
fn lists_with_generic_commands() {
    let mut p = Pair::new();
    p.check_script(
        "
        RPUSH l a b c
        COPY l l2
        LRANGE l2 0 -1
        RPUSH l2 d
        LLEN l
        RENAME l2 l3
        LRANGE l3 0 -1
        TYPE l3
        EXPIRE l 100
        LPOP l 3
        TTL l
        EXISTS l
        COMMAND GETKEYS LMPOP 2 a b LEFT COUNT 1
        COMMAND GETKEYS LMOVE a b LEFT RIGHT
        COMMAND GETKEYS RPOPLPUSH a b
        ",
    );
}

/// The keyspace hit and miss counters of INFO stats.
fn hits_and_misses(info: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(info)
        .lines()
        .filter(|l| l.starts_with("keyspace_hits:") || l.starts_with("keyspace_misses:"))
        .map(str::to_string)
        .collect()
}

/// Reads count keyspace hits and misses, writes do not, as in Redis.
#[test]
fn keyspace_hits_and_misses() {
    let mut p = Pair::new();
    p.check_script(
        "
        CONFIG RESETSTAT
        RPUSH l a b c
        LLEN l
        LLEN missing
        LRANGE l 0 -1
        LRANGE missing 0 -1
        LINDEX l 0
        LINDEX missing 0
        LPOS l a
        LPOS missing a
        LPOP l
        LPOP missing
        LMOVE l l2 LEFT LEFT
        LMOVE missing l2 LEFT LEFT
        LMPOP 2 missing l2 LEFT
        LSET l 0 x
        LREM l 0 x
        LTRIM l 0 1
        LINSERT l BEFORE x y
        ",
    );
    let (ours, theirs) = p.both(&["INFO", "stats"]);
    let ours = hits_and_misses(&ours);
    assert_eq!(ours.len(), 2);
    assert_eq!(ours, hits_and_misses(&theirs));
}
