//! SORT and SORT_RO compared with real Redis: every option and error, the
//! `strtod` corners of numeric weights, STORE and its notifications, and
//! seeded random streams. Also the list node size settings
//! (`list-max-listpack-size` and friends) and OBJECT ENCODING of lists.

use crate::support::{show, Pair};
use fastrand::Rng;

#[test]
fn sort_options_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        RPUSH l 3 1 2 10 -5 2.5 1e2 0x10
        SORT l
        SORT l ASC
        SORT l DESC
        SORT l ALPHA
        SORT l ALPHA DESC
        SORT l LIMIT 0 3
        SORT l LIMIT 2 3
        SORT l LIMIT 2 -1
        SORT l LIMIT -5 2
        SORT l LIMIT 7 5
        SORT l LIMIT 8 5
        SORT l LIMIT 100 5
        SORT l LIMIT 0 0
        SORT l LIMIT 3 0
        SORT l DESC LIMIT 1 2
        SORT l BY nosort
        SORT l BY nosort DESC
        SORT l BY nosort LIMIT 2 3
        SORT l BY nosort DESC LIMIT 2 3
        SORT l BY nosort LIMIT 10 3
        SORT l BY nosort LIMIT -1 -1
        SORT l BY nosort DESC LIMIT 0 100
        SORT l asc desc asc
        SORT l limit 0 1 limit 2 2
        SORT_RO l
        SORT_RO l DESC LIMIT 1 3
        SORT_RO l ALPHA LIMIT 0 2
        SORT missing
        SORT missing BY nosort
        SORT missing LIMIT 0 10
        SORT_RO missing
        "#,
    );
}

#[test]
fn sort_by_and_get_patterns_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        RPUSH ids 1 2 3 4 5
        MSET w_1 50 w_2 10 w_3 30 w_4 20
        MSET name_1 alice name_2 bob name_3 carol name_5 eve
        HSET h_1 age 40 nick z
        HSET h_2 age 7 nick y
        HSET h_3 age 19 nick x
        HSET h_4 age 19
        SORT ids BY w_*
        SORT ids BY w_* DESC
        SORT ids BY w_* LIMIT 1 2
        SORT ids BY w_* DESC LIMIT 0 3
        SORT ids BY w_* GET name_*
        SORT ids BY w_* GET # GET name_*
        SORT ids BY w_* GET name_* GET # GET w_* GET h_*->age
        SORT ids BY h_*->age
        SORT ids BY h_*->age DESC
        SORT ids BY h_*->nick ALPHA
        SORT ids BY h_*->nick ALPHA DESC
        SORT ids BY name_* ALPHA
        SORT ids BY name_* ALPHA DESC LIMIT 1 3
        SORT ids BY w_* GET h_*->nick GET h_*->missing
        HSET h_5 age 0x1p3
        SORT ids BY h_*->age
        SORT ids GET h_*->
        SORT ids GET h_*
        SORT ids GET nostar
        SORT ids GET #
        SORT ids BY nostar GET name_*
        SORT ids BY nosort GET name_* DESC
        SORT ids BY missing_* GET #
        SORT ids BY missing_* DESC
        SORT ids BY name_* GET #
        SORT ids BY w_* BY nosort
        SORT ids BY nosort BY w_*
        SORT_RO ids BY w_* GET name_* GET #
        SORT_RO ids BY h_*->age GET h_*->nick
        SET w_5 notanumber
        SORT ids BY w_*
        SORT ids BY w_* ALPHA
        SORT ids BY w_* STORE dst
        EXISTS dst
        SET w_5 " 7"
        SORT ids BY w_*
        SET w_5 "7 "
        SORT ids BY w_*
        SET w_5 ""
        SORT ids BY w_*
        LPUSH listkey x
        SORT ids BY listkey_*
        SORT ids GET h_*->age GET w_*
        # Out of range last: Redis leaves strtod's ERANGE in errno, and
        # until some failing call overwrites it every later weight on this
        # connection is refused too. That is not reproduced.
        HSET h_5 age 1e400
        SORT ids BY h_*->age
        "#,
    );
}

#[test]
fn sort_weights_read_like_strtod() {
    let mut p = Pair::new();
    for bad in [
        "abc", "1 ", "1e", "+", "-", " ", "nan", "-nan", "1.2.3", "0x",
    ] {
        p.check(&["DEL", "l"]);
        p.check(&["RPUSH", "l", "1", bad]);
        p.check(&["SORT", "l"]);
        p.check(&["SORT", "l", "ALPHA"]);
        p.check(&["SORT", "l", "BY", "nosort"]);
    }
    for good in [
        "",
        " 5",
        "\t5",
        "\n-3",
        "+4",
        ".5",
        "5.",
        "1e3",
        "1E-3",
        "-0",
        "inf",
        "-inf",
        "Infinity",
        "-INF",
        "0x10",
        "0X1p4",
        "0x.8",
        "1e-300",
        "0e-999",
        "00012",
        "2.2250738585072014e-308",
    ] {
        p.check(&["DEL", "l"]);
        p.check(&["RPUSH", "l", "1", good, "0", "-2"]);
        p.check(&["SORT", "l"]);
        p.check(&["SORT", "l", "DESC"]);
    }
    // Ties on the weight are broken by the elements' bytes.
    p.check_script(
        r#"
        DEL l
        RPUSH l 1.0 1 01 +1 1e0 b a 0 0.0
        SORT l BY w_*
        SORT l BY w_* DESC
        MSET w_b 1 w_a 1 w_1 1
        SORT l BY w_*
        SORT l BY w_* DESC
        "#,
    );
    // A NUL ends what strtod reads.
    p.check_bytes(&[b"DEL".to_vec(), b"l".to_vec()]);
    p.check_bytes(&[
        b"RPUSH".to_vec(),
        b"l".to_vec(),
        b"3\0x".to_vec(),
        b"2".to_vec(),
    ]);
    p.check_bytes(&[b"SORT".to_vec(), b"l".to_vec()]);
    // Out of range (overflow, and underflow to a subnormal or zero) last,
    // each on a fresh pair: Redis leaves ERANGE in errno, which makes every
    // later conversion on the connection fail as well (not reproduced).
    for bad in [
        "1e400",
        "-1e400",
        "1e-310",
        "1e-400",
        "0x1p-1070",
        "0x3p-1075",
        "0x1p1024",
    ] {
        let mut p = Pair::new();
        p.check(&["RPUSH", "l", "1", bad]);
        p.check(&["SORT", "l"]);
    }
}

#[test]
fn sort_errors_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        RPUSH l 2 1
        SET str x
        HSET h f v
        SORT
        SORT_RO
        SORT l foo
        SORT l LIMIT
        SORT l LIMIT 1
        SORT l LIMIT a 1
        SORT l LIMIT 1 b
        SORT l LIMIT 1.5 2
        SORT l LIMIT 0 99999999999999999999
        SORT l BY
        SORT l GET
        SORT l STORE
        SORT l ASC foo LIMIT a b
        SORT l LIMIT a b foo
        SORT_RO l STORE dst
        SORT_RO l store
        SORT_RO l GET # STORE dst
        SORT str
        SORT h
        SORT str LIMIT a b
        SORT str foo
        SORT str BY nosort
        SORT_RO str
        SORT l STORE str
        TYPE str
        LRANGE str 0 -1
        "#,
    );
}

#[test]
fn sort_sets_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SADD ints 5 -3 100 7 0 42
        SADD strs pear apple fig banana kiwi
        SORT ints
        SORT ints DESC
        SORT ints ALPHA
        SORT ints LIMIT 1 3
        SORT ints BY nosort
        SORT ints BY nosort DESC
        SORT ints BY nosort LIMIT 1 2
        SORT ints BY nosort DESC LIMIT 1 2
        SORT_RO ints BY nosort
        SORT ints BY nosort STORE d1
        LRANGE d1 0 -1
        SORT strs ALPHA
        SORT strs ALPHA DESC LIMIT 1 2
        SORT strs
        SORT strs BY nosort STORE d2
        LRANGE d2 0 -1
        SORT strs BY nosort DESC STORE d2
        LRANGE d2 0 -1
        SORT strs BY nosort LIMIT 1 2 STORE d3
        LRANGE d3 0 -1
        MSET w_pear 3 w_apple 1 w_fig 5 w_banana 2 w_kiwi 4
        SORT strs BY w_*
        SORT strs BY w_* DESC GET # GET w_*
        SORT strs BY w_* LIMIT 1 2
        EVAL "return redis.call('sort', KEYS[1], 'by', 'nosort')" 1 strs
        EVAL "return redis.call('sort', KEYS[1], 'by', 'nosort', 'desc', 'limit', 1, 3)" 1 strs
        EVAL "return redis.call('sort_ro', KEYS[1], 'by', 'nosort')" 1 ints
        "#,
    );
}

#[test]
fn sort_store_matches_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        RPUSH l c a b
        SORT l ALPHA STORE dst
        LRANGE dst 0 -1
        TYPE dst
        OBJECT ENCODING dst
        SET other x EX 100
        SORT l ALPHA STORE other
        TTL other
        LRANGE other 0 -1
        SORT l ALPHA DESC LIMIT 0 2 STORE dst
        LRANGE dst 0 -1
        SORT l LIMIT 5 5 ALPHA STORE dst
        EXISTS dst
        SORT l ALPHA LIMIT 0 0 STORE missing_dst
        EXISTS missing_dst
        SORT missing STORE other
        EXISTS other
        SORT l ALPHA GET # GET nothing_* GET w_* STORE dst
        LRANGE dst 0 -1
        SORT l ALPHA STORE l
        LRANGE l 0 -1
        SORT l BY nosort STORE first STORE second
        EXISTS first second
        COMMAND GETKEYS SORT l STORE a
        COMMAND GETKEYS SORT l LIMIT 0 1 STORE a BY x GET y STORE b
        COMMAND GETKEYS SORT l BY store STORE x
        COMMAND GETKEYS SORT l GET store
        COMMAND GETKEYS SORT l STORE
        COMMAND GETKEYS SORT_RO l GET x
        "#,
    );
}

/// ALPHA compares as strcoll does without STORE (up to a NUL, byte order in
/// the C locales) and compares whole byte strings with STORE.
#[test]
fn sort_alpha_with_binary_elements() {
    let mut p = Pair::new();
    let b = |s: &[u8]| s.to_vec();
    p.check_bytes(&[
        b(b"RPUSH"),
        b(b"l"),
        b(b"b\0z"),
        b(b"b\0a"),
        b(b"a"),
        b(b"\xff"),
        b(b"\xc3\xa9"),
        b(b"B"),
    ]);
    p.check_bytes(&[b(b"SORT"), b(b"l"), b(b"ALPHA")]);
    p.check_bytes(&[b(b"SORT"), b(b"l"), b(b"ALPHA"), b(b"DESC")]);
    p.check_bytes(&[b(b"SORT"), b(b"l"), b(b"ALPHA"), b(b"STORE"), b(b"d")]);
    p.check_bytes(&[b(b"LRANGE"), b(b"d"), b(b"0"), b(b"-1")]);
    p.check_bytes(&[
        b(b"SORT"),
        b(b"l"),
        b(b"ALPHA"),
        b(b"DESC"),
        b(b"STORE"),
        b(b"d"),
    ]);
    p.check_bytes(&[b(b"LRANGE"), b(b"d"), b(b"0"), b(b"-1")]);
    // Patterns are read as C strings for `#`, `*` and `->`.
    p.check_bytes(&[b(b"SET"), b(b"k_a\0x"), b(b"1")]);
    p.check_bytes(&[b(b"SORT"), b(b"l"), b(b"ALPHA"), b(b"GET"), b(b"k_*\0x")]);
    p.check_bytes(&[b(b"SORT"), b(b"l"), b(b"ALPHA"), b(b"GET"), b(b"#\0x")]);
    p.check_bytes(&[
        b(b"SORT"),
        b(b"l"),
        b(b"BY"),
        b(b"no\0*"),
        b(b"LIMIT"),
        b(b"0"),
        b(b"2"),
    ]);
}

#[test]
fn sort_table_metadata_matches_redis() {
    let mut p = Pair::new();
    for name in ["sort", "sort_ro"] {
        let (ours, theirs) = p.both(&["COMMAND", "INFO", name]);
        // Name, arity, flags and the legacy key triple: the first lines of
        // the RESP2 reply, up to the ACL categories.
        let head = |r: &[u8]| -> String {
            let s = String::from_utf8_lossy(r).to_string();
            let before = s.split('@').next().unwrap_or("");
            before
                .rsplit_once("\r\n*")
                .map_or(before, |(h, _)| h)
                .to_string()
        };
        assert_eq!(head(&ours), head(&theirs), "COMMAND INFO {name}");
    }
}

#[test]
fn sort_counts_keyspace_hits_like_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        RPUSH l 1 2 3
        SET w_1 3
        CONFIG RESETSTAT
        SORT l BY w_* GET name_* GET #
        SORT missing
        SORT l
        "#,
    );
    let (ours, theirs) = p.both(&["INFO", "stats"]);
    let pick = |r: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(r)
            .lines()
            .filter(|l| l.starts_with("keyspace_"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(pick(&ours).len(), 2);
    assert_eq!(pick(&ours), pick(&theirs));
}

#[test]
fn sort_store_notifications_match_redis() {
    let mut p = Pair::new();
    crate::notifications::run(
        &mut p,
        "KEA",
        "
        RPUSH l 2 1
        SORT l STORE d
        SORT l STORE d
        SORT l LIMIT 5 5 STORE d
        SORT l LIMIT 5 5 STORE d
        SORT_RO l
        ",
    );
}

// ---------------------------------------------------------------------------
// Random streams

fn elem(rng: &mut Rng) -> String {
    match rng.u8(0..6) {
        0 => rng.i64(-20..20).to_string(),
        1 => format!("{}.{}", rng.i64(-5..5), rng.u8(0..10)),
        2 => ["a", "b", "c", "ab", "B", "zz"][rng.usize(0..6)].to_string(),
        _ => rng.u8(0..12).to_string(),
    }
}

fn command(rng: &mut Rng) -> Vec<String> {
    let src = |rng: &mut Rng| ["l0", "l1", "s0", "s1", "str", "none"][rng.usize(0..6)].to_string();
    match rng.u8(0..12) {
        0 | 1 => {
            let mut c = vec!["RPUSH".into(), ["l0", "l1"][rng.usize(0..2)].into()];
            for _ in 0..rng.usize(1..5) {
                c.push(elem(rng));
            }
            c
        }
        // Sets of integers only: their nosort order is ascending on both.
        2 => {
            let mut c = vec!["SADD".into(), ["s0", "s1"][rng.usize(0..2)].into()];
            for _ in 0..rng.usize(1..5) {
                c.push(rng.i64(-10..30).to_string());
            }
            c
        }
        3 => vec!["SET".into(), format!("w_{}", elem(rng)), elem(rng)],
        4 => vec![
            "HSET".into(),
            format!("h_{}", elem(rng)),
            ["f", "g"][rng.usize(0..2)].into(),
            elem(rng),
        ],
        5 => vec!["LPOP".into(), ["l0", "l1"][rng.usize(0..2)].into()],
        _ => {
            let mut c = vec![
                if rng.bool() { "SORT" } else { "SORT_RO" }.to_string(),
                src(rng),
            ];
            let mut has_by_pattern = false;
            let mut alpha = false;
            for _ in 0..rng.usize(0..5) {
                match rng.u8(0..9) {
                    0 => c.push("ASC".into()),
                    1 => c.push("DESC".into()),
                    2 => {
                        alpha = true;
                        c.push("ALPHA".into())
                    }
                    3 => {
                        c.push("LIMIT".into());
                        c.push(rng.i64(-2..8).to_string());
                        c.push(rng.i64(-2..8).to_string());
                    }
                    4 => {
                        c.push("BY".into());
                        match rng.u8(0..3) {
                            0 => c.push("nosort".into()),
                            1 => {
                                has_by_pattern = true;
                                c.push("w_*".into())
                            }
                            _ => {
                                has_by_pattern = true;
                                c.push(format!("h_*->{}", ["f", "g"][rng.usize(0..2)]))
                            }
                        }
                    }
                    5 | 6 => {
                        c.push("GET".into());
                        c.push(["#", "w_*", "h_*->f", "h_*->g", "const"][rng.usize(0..5)].into());
                    }
                    7 => {
                        c.push("STORE".into());
                        c.push(["dst", "l1", "str"][rng.usize(0..3)].into());
                    }
                    _ => c.push(["foo", "LIMIT", "BY"][rng.usize(0..3)].into()),
                }
            }
            // ALPHA with a BY pattern leaves ties unbroken: in input order
            // (which for a set two servers do not share), or in the order
            // Redis's partial quicksort leaves them when LIMIT is given.
            if alpha && has_by_pattern {
                c.retain(|a| a != "ALPHA");
            }
            c
        }
    }
}

fn run_stream(seed: u64, len: usize) {
    let mut rng = Rng::with_seed(seed);
    let mut p = Pair::new();
    p.check(&["SET", "str", "x"]);
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
    for k in ["l0", "l1", "s0", "s1", "str", "dst"] {
        p.check(&["TYPE", k]);
        p.check(&["LRANGE", k, "0", "-1"]);
    }
}

#[test]
fn random_sort_streams_match_redis() {
    for seed in 1..=4 {
        run_stream(seed, 800);
    }
}

// ---------------------------------------------------------------------------
// List node size settings

#[test]
fn list_listpack_size_config_matches_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        CONFIG GET list-max-listpack-size
        CONFIG GET list-max-ziplist-size
        CONFIG GET list-compress-depth
        CONFIG SET list-max-listpack-size 5
        CONFIG GET list-max-listpack-size
        CONFIG GET list-max-ziplist-size
        CONFIG SET list-max-ziplist-size -5
        CONFIG GET list-max-listpack-size
        CONFIG SET list-max-listpack-size -1
        CONFIG SET list-max-listpack-size 0
        CONFIG GET list-max-listpack-size
        CONFIG SET list-max-listpack-size -100
        CONFIG GET list-max-listpack-size
        CONFIG SET list-max-listpack-size abc
        CONFIG SET list-max-listpack-size 1.5
        CONFIG SET list-compress-depth 3
        CONFIG GET list-compress-depth
        CONFIG SET list-compress-depth -1
        CONFIG SET list-compress-depth abc
        CONFIG SET list-max-listpack-size -2
        "#,
    );
}

/// Redis 7.0 keeps every list in a quicklist and says so for any size and
/// any node setting; the setting only changes how the list is laid out.
#[test]
fn list_encoding_under_every_node_size() {
    for size in ["-2", "-1", "-5", "1", "4", "128"] {
        let mut p = Pair::with(&[("list-max-listpack-size", size)]);
        p.check(&["CONFIG", "GET", "list-max-listpack-size"]);
        p.check(&["RPUSH", "small", "a", "b"]);
        p.check(&["OBJECT", "ENCODING", "small"]);
        let big = "x".repeat(3000);
        for _ in 0..30 {
            p.check(&["RPUSH", "big", &big, "1", "2"]);
        }
        p.check(&["OBJECT", "ENCODING", "big"]);
        p.check(&["LLEN", "big"]);
        p.check(&["LINDEX", "big", "44"]);
        p.check(&["LTRIM", "big", "0", "1"]);
        p.check(&["OBJECT", "ENCODING", "big"]);
        p.check(&["LRANGE", "big", "0", "-1"]);
    }
}

/// The quicklist fields of DEBUG OBJECT (the node count follows
/// `list-max-listpack-size`).
fn ql_fields(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply)
        .split_whitespace()
        .filter(|f| f.starts_with("ql_"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lists built by tail pushes get the node layout Redis gives them under
/// every fill: element counts for positive values, 4 to 64 KB size classes
/// for negative ones, with Redis's clamping.
#[test]
fn list_node_layout_follows_listpack_size() {
    let mut p = Pair::with(&[("enable-debug-command", "yes")]);
    let mut rng = Rng::with_seed(11);
    for fill in [
        "-5", "-4", "-3", "-2", "-1", "0", "1", "2", "5", "128", "-100", "100000",
    ] {
        p.check(&["CONFIG", "SET", "list-max-listpack-size", fill]);
        for round in 0..3 {
            p.check(&["DEL", "l"]);
            let n = [3, 200, 1500][round];
            let mut args: Vec<String> = vec!["RPUSH".into(), "l".into()];
            for _ in 0..n {
                args.push(match rng.u8(0..5) {
                    0 => rng.i64(-100_000..100_000).to_string(),
                    1 => rng.i64(i64::MIN..i64::MAX).to_string(),
                    2 => "v".repeat(rng.usize(0..80)),
                    3 => "w".repeat(rng.usize(100..400)),
                    _ => rng.u8(0..200).to_string(),
                });
            }
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            p.check(&a);
            let (ours, theirs) = p.both(&["DEBUG", "OBJECT", "l"]);
            assert_eq!(
                ql_fields(&ours),
                ql_fields(&theirs),
                "fill {fill}, {n} elements"
            );
            assert!(ql_fields(&ours).contains("ql_nodes:"), "{}", show(&ours));
        }
    }
    // Redis fixes a list's fill and compression when the list is created;
    // these figures follow the current settings, so the list is new.
    p.check(&["CONFIG", "SET", "list-compress-depth", "2"]);
    p.check(&["DEL", "l"]);
    p.check(&["RPUSH", "l", "a", "b", "c"]);
    let (ours, theirs) = p.both(&["DEBUG", "OBJECT", "l"]);
    assert_eq!(ql_fields(&ours), ql_fields(&theirs));
}

/// SORT ... STORE is journaled as itself, as Redis propagates it: the
/// stored lists (a set sorted because the result is stored, BY and GET
/// patterns, an empty result deleting its destination) come back from the
/// AOF in Ferrocache and in real Redis.
#[test]
fn sort_store_replays_from_the_aof() {
    use crate::aof::{ferrocache_in, fingerprint, stop_redis, temp_dir};
    let dir = temp_dir("sort");
    let fc = ferrocache_in(&dir, &[]).expect("starts");
    let mut c = crate::support::Conn::connect(fc.port());
    for cmd in [
        &["RPUSH", "ids", "3", "1", "2"][..],
        &[
            "MSET", "w_1", "30", "w_2", "10", "w_3", "20", "n_1", "a", "n_2", "b",
        ],
        &["HSET", "h_3", "f", "x"],
        &["SADD", "names", "pear", "apple", "fig"],
        &["SORT", "ids", "STORE", "plain"],
        &[
            "SORT", "ids", "BY", "w_*", "GET", "#", "GET", "n_*", "GET", "h_*->f", "STORE", "byget",
        ],
        &["SORT", "names", "BY", "nosort", "STORE", "setsorted"],
        &["SET", "gone", "x"],
        &["SORT", "ids", "LIMIT", "9", "9", "STORE", "gone"],
        &["SORT_RO", "ids", "BY", "w_*"],
    ] {
        let r = c.cmd(cmd);
        assert!(!r.starts_with(b"-"), "{cmd:?}: {}", show(&r));
    }
    drop(c);
    let before = fingerprint(fc.port());
    assert!(before.iter().any(|l| l.contains("byget")), "{before:?}");
    assert!(!before.iter().any(|l| l.contains(" gone ")), "{before:?}");
    fc.shutdown();

    let fc = ferrocache_in(&dir, &[]).expect("restarts");
    assert_eq!(fingerprint(fc.port()), before);
    fc.shutdown();

    let r = crate::support::redis(&[("dir", &dir.display().to_string()), ("appendonly", "yes")]);
    assert_eq!(fingerprint(r.port), before, "real redis replays our AOF");
    stop_redis(r.port);
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
}
