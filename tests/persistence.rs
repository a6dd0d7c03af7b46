//! RDB persistence against the reference: files and DUMP payloads written
//! by a real redis-server 7.0 load into Ferrocache with the same content
//! and encodings, ours load into Redis, corrupt files are refused with the
//! byte offset, and the save machinery (BGSAVE, save rules, MISCONF,
//! shutdown) behaves as Redis's does.

use crate::support::{self, ferrocache_with, redis, temp_dir, Conn, Pair};
use ferrocache_protocol::frame::{self, Frame};
use std::path::Path;
use std::time::{Duration, Instant};

/// Fills every type and encoding Ferrocache has, in databases 0, 1 and 9.
fn fill(c: &mut Conn) {
    let ok = |r: Vec<u8>| assert!(!r.starts_with(b"-"), "{}", support::show(&r));
    ok(c.cmd(&["SELECT", "0"]));
    ok(c.cmd(&["SET", "int", "12345"]));
    ok(c.cmd(&["SET", "bigint", "-9223372036854775808"]));
    ok(c.cmd(&["SET", "embstr", "hello world"]));
    ok(c.cmd(&["SET", "raw", &"r".repeat(60)]));
    ok(c.cmd(&["SET", "lzf", &"abcdefgh".repeat(200)]));
    ok(c.cmd(&["SET", "empty", ""]));
    ok(c.cmd(&["SET", "bin", "\u{0}\u{1}\u{ff}x"]));
    ok(c.cmd(&["APPEND", "appended", "xyz"]));
    ok(c.cmd(&["RPUSH", "small-list", "a", "b", "1", "-300", "100000", "c"]));
    let big: Vec<String> = (0..3000).map(|i| format!("item-{i}")).collect();
    let mut args = vec!["RPUSH", "big-list"];
    args.extend(big.iter().map(|s| s.as_str()));
    ok(c.cmd(&args));
    let huge = "h".repeat(20_000);
    ok(c.cmd(&["RPUSH", "list-with-huge", "x", &huge, "y"]));
    ok(c.cmd(&["SADD", "intset", "5", "-3", "70000", "1099511627776"]));
    ok(c.cmd(&["SADD", "strset", "a", "b", "c", "1"]));
    let ints: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    let mut args = vec!["SADD", "big-intset"];
    args.extend(ints.iter().map(|s| s.as_str()));
    ok(c.cmd(&args));
    ok(c.cmd(&["HSET", "small-hash", "f1", "v1", "n", "42", "neg", "-7"]));
    let mut args = vec!["HSET", "big-hash"];
    let pairs: Vec<String> = (0..700).map(|i| format!("field{i}")).collect();
    for p in &pairs {
        args.push(p);
        args.push(p);
    }
    ok(c.cmd(&args));
    let long = "v".repeat(100);
    ok(c.cmd(&["HSET", "long-value-hash", "f", &long]));
    ok(c.cmd(&[
        "ZADD",
        "small-zset",
        "1",
        "a",
        "2.5",
        "b",
        "-3",
        "c",
        "inf",
        "d",
        "1e300",
        "e",
    ]));
    ok(c.cmd(&["ZADD", "int-zset", "100000", "x", "-7", "y", "0", "z"]));
    let mut args = vec!["ZADD", "big-zset"];
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let scores: Vec<String> = (0..300).map(|i| format!("{}.25", i * 3)).collect();
    for (m, s) in members.iter().zip(&scores) {
        args.push(s);
        args.push(m);
    }
    ok(c.cmd(&args));
    ok(c.cmd(&["ZADD", "long-member-zset", "1", &"z".repeat(100)]));
    ok(c.cmd(&["SET", "volatile", "v", "PX", "3600000"]));
    ok(c.cmd(&["RPUSH", "volatile-list", "a"]));
    ok(c.cmd(&["PEXPIREAT", "volatile-list", "4102444800000"]));
    ok(c.cmd(&["SELECT", "1"]));
    ok(c.cmd(&["SET", "db1-key", "one"]));
    ok(c.cmd(&["HSET", "db1-hash", "a", "1"]));
    ok(c.cmd(&["SELECT", "9"]));
    ok(c.cmd(&["SADD", "db9-set", "x"]));
    ok(c.cmd(&["SELECT", "0"]));
}

const DBS: &[usize] = &[0, 1, 9];

fn frame_of(c: &mut Conn, args: &[&str]) -> Frame {
    let bytes = c.cmd(args);
    frame::parse(&bytes)
        .ok()
        .flatten()
        .map(|(f, _)| f)
        .unwrap_or(Frame::Null)
}

fn strings(f: Frame) -> Vec<Vec<u8>> {
    match f {
        Frame::Array(v) | Frame::Set(v) => v
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) | Frame::Simple(b) => b,
                other => format!("{other:?}").into_bytes(),
            })
            .collect(),
        Frame::Map(m) => m
            .into_iter()
            .flat_map(|(k, v)| [k, v])
            .map(|f| match f {
                Frame::Bulk(b) => b,
                other => format!("{other:?}").into_bytes(),
            })
            .collect(),
        other => vec![format!("{other:?}").into_bytes()],
    }
}

fn int(c: &mut Conn, args: &[&str]) -> i64 {
    match frame_of(c, args) {
        Frame::Integer(n) => n,
        other => panic!("{args:?}: {other:?}"),
    }
}

/// The content of one key, independent of DUMP: type, encoding, value in a
/// canonical order, and whether it has a TTL.
fn describe(c: &mut Conn, key: &str) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>, i64) {
    let ty = c.cmd(&["TYPE", key]);
    let enc = c.cmd(&["OBJECT", "ENCODING", key]);
    let value = match &ty[..] {
        b"+string\r\n" => strings(Frame::Array(vec![frame_of(c, &["GET", key])])),
        b"+list\r\n" => strings(frame_of(c, &["LRANGE", key, "0", "-1"])),
        b"+set\r\n" => {
            let mut v = strings(frame_of(c, &["SMEMBERS", key]));
            v.sort();
            v
        }
        b"+hash\r\n" => {
            let flat = strings(frame_of(c, &["HGETALL", key]));
            let mut pairs: Vec<Vec<u8>> = flat
                .chunks(2)
                .map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat())
                .collect();
            pairs.sort();
            pairs
        }
        b"+zset\r\n" => strings(frame_of(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"])),
        other => panic!("unexpected type {}", support::show(other)),
    };
    let pttl = int(c, &["PTTL", key]);
    (ty, enc, value, pttl)
}

/// Asserts both servers hold the same keys with the same content.
fn assert_same_content(ours: &mut Conn, theirs: &mut Conn) {
    for &db in DBS {
        let d = db.to_string();
        ours.cmd(&["SELECT", &d]);
        theirs.cmd(&["SELECT", &d]);
        let mut ok = strings(frame_of(ours, &["KEYS", "*"]));
        let mut tk = strings(frame_of(theirs, &["KEYS", "*"]));
        ok.sort();
        tk.sort();
        assert_eq!(ok, tk, "keys of db {db}");
        assert!(!ok.is_empty(), "db {db} is empty");
        for k in ok {
            let k = String::from_utf8(k).expect("utf8 key");
            let (ot, oe, ov, ottl) = describe(ours, &k);
            let (tt, te, tv, tttl) = describe(theirs, &k);
            assert_eq!(support::show(&ot), support::show(&tt), "type of {k}");
            assert_eq!(support::show(&oe), support::show(&te), "encoding of {k}");
            assert!(ov == tv, "value of {k} differs");
            assert_eq!(ottl < 0, tttl < 0, "ttl of {k}: {ottl} vs {tttl}");
            assert!((ottl - tttl).abs() < 10_000, "ttl of {k}: {ottl} vs {tttl}");
        }
    }
    ours.cmd(&["SELECT", "0"]);
    theirs.cmd(&["SELECT", "0"]);
}

fn copy_dump(from: &Path, to: &Path) {
    std::fs::copy(from.join("dump.rdb"), to.join("dump.rdb")).expect("copy dump.rdb");
}

#[test]
fn redis_rdb_loads_into_ferrocache_with_identical_content() {
    let r = redis(&[]);
    let mut theirs = Conn::connect(r.port);
    fill(&mut theirs);
    assert_eq!(theirs.cmd(&["SAVE"]), b"+OK\r\n");
    let dir = temp_dir("from-redis");
    copy_dump(&r.dir, &dir);
    let fc = ferrocache_with(&[("dir", dir.to_str().expect("utf8"))]);
    let mut ours = Conn::connect(fc.port());
    assert_same_content(&mut ours, &mut theirs);
    let info = String::from_utf8(ours.cmd(&["INFO", "persistence"])).expect("utf8");
    assert!(info.contains("rdb_last_load_keys_loaded:"), "{info}");
    assert!(!info.contains("rdb_last_load_keys_loaded:0\r"), "{info}");
}

#[test]
fn ferrocache_rdb_loads_into_redis_with_identical_content() {
    let dir = temp_dir("to-redis");
    let fc = ferrocache_with(&[("dir", dir.to_str().expect("utf8"))]);
    let mut ours = Conn::connect(fc.port());
    fill(&mut ours);
    assert_eq!(ours.cmd(&["SAVE"]), b"+OK\r\n");
    let r = redis(&[("dir", dir.to_str().expect("utf8"))]);
    let mut theirs = Conn::connect(r.port);
    assert_same_content(&mut ours, &mut theirs);
    // And with compression and checksums off.
    ours.cmd(&["CONFIG", "SET", "rdbcompression", "no", "rdbchecksum", "no"]);
    assert_eq!(ours.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    wait_bgsave(&mut ours);
    drop(theirs);
    drop(r);
    let r = redis(&[("dir", dir.to_str().expect("utf8"))]);
    let mut theirs = Conn::connect(r.port);
    assert_same_content(&mut ours, &mut theirs);
}

fn wait_bgsave(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = String::from_utf8(c.cmd(&["INFO", "persistence"])).expect("utf8");
        if info.contains("rdb_bgsave_in_progress:0") {
            return;
        }
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every key of `from` is DUMPed and RESTOREd into `to` under the same name.
fn transfer_by_dump(from: &mut Conn, to: &mut Conn) {
    for &db in DBS {
        let d = db.to_string();
        from.cmd(&["SELECT", &d]);
        to.cmd(&["SELECT", &d]);
        for k in strings(frame_of(from, &["KEYS", "*"])) {
            let payload = match frame_of(from, &["DUMP", &String::from_utf8_lossy(&k)]) {
                Frame::Bulk(b) => b,
                other => panic!("DUMP: {other:?}"),
            };
            let pttl = int(from, &["PTTL", &String::from_utf8_lossy(&k)]).max(0);
            let reply = to.cmd_bytes(&[
                b"RESTORE".to_vec(),
                k.clone(),
                pttl.to_string().into_bytes(),
                payload,
            ]);
            assert_eq!(
                support::show(&reply),
                "+OK\\r\\n",
                "RESTORE {}",
                String::from_utf8_lossy(&k)
            );
        }
    }
    from.cmd(&["SELECT", "0"]);
    to.cmd(&["SELECT", "0"]);
}

#[test]
fn dump_payloads_restore_in_the_other_server() {
    // Redis's payloads into Ferrocache.
    let r = redis(&[]);
    let mut theirs = Conn::connect(r.port);
    fill(&mut theirs);
    let fc = support::ferrocache();
    let mut ours = Conn::connect(fc.port());
    transfer_by_dump(&mut theirs, &mut ours);
    assert_same_content(&mut ours, &mut theirs);
    // Ours into a fresh Redis.
    let r2 = redis(&[]);
    let mut theirs2 = Conn::connect(r2.port);
    transfer_by_dump(&mut ours, &mut theirs2);
    assert_same_content(&mut ours, &mut theirs2);
}

#[test]
fn restore_errors_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SET k v
        RESTORE k 0 garbage
        RESTORE x 0 garbage
        RESTORE x -1 garbage
        RESTORE x abc garbage
        RESTORE x 0 garbage IDLETIME -1
        RESTORE x 0 garbage FREQ 256
        RESTORE x 0 garbage IDLETIME 1 FREQ 1
        RESTORE x 0 garbage BOGUS
        RESTORE x 0 garbage REPLACE ABSTTL
        DUMP missing
        BGSAVE NOW
        "#,
    );
    // A valid payload with a flipped byte fails the checksum; REPLACE,
    // ABSTTL in the past and IDLETIME work.
    let payload = match frame::parse(&p.theirs.cmd(&["DUMP", "k"])).ok().flatten() {
        Some((Frame::Bulk(b), _)) => b,
        other => panic!("{other:?}"),
    };
    let mut bad = payload.clone();
    bad[1] ^= 1;
    p.check_bytes(&[b"RESTORE".to_vec(), b"y".to_vec(), b"0".to_vec(), bad]);
    p.check_bytes(&[
        b"RESTORE".to_vec(),
        b"k".to_vec(),
        b"0".to_vec(),
        payload.clone(),
    ]);
    // A TTL far away, and an absolute one in the past (the key is gone).
    for (ttl, extra) in [
        ("100000", &["REPLACE"][..]),
        ("100000", &["REPLACE", "IDLETIME", "100"]),
        ("1", &["REPLACE", "ABSTTL"]),
    ] {
        let mut args = vec![
            b"RESTORE".to_vec(),
            b"k".to_vec(),
            ttl.as_bytes().to_vec(),
            payload.clone(),
        ];
        args.extend(extra.iter().map(|s| s.as_bytes().to_vec()));
        p.check_bytes(&args);
        p.check(&["EXISTS", "k"]);
    }
    p.check_bytes(&[
        b"RESTORE".to_vec(),
        b"z".to_vec(),
        b"0".to_vec(),
        payload,
        b"IDLETIME".to_vec(),
        b"1000".to_vec(),
    ]);
    // The LRU clock ticks in seconds: the two may be one apart.
    let ours = int(&mut p.ours, &["OBJECT", "IDLETIME", "z"]);
    let theirs = int(&mut p.theirs, &["OBJECT", "IDLETIME", "z"]);
    assert!((1000..=1002).contains(&ours), "{ours}");
    assert!((ours - theirs).abs() <= 1, "{ours} vs {theirs}");
}

/// Writes a file with Ferrocache and returns its bytes.
fn ferrocache_file() -> Vec<u8> {
    let dir = temp_dir("corrupt-src");
    let fc = ferrocache_with(&[("dir", dir.to_str().expect("utf8"))]);
    let mut c = Conn::connect(fc.port());
    fill(&mut c);
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    std::fs::read(dir.join("dump.rdb")).expect("dump.rdb")
}

#[test]
fn corrupt_and_truncated_files_are_refused_with_the_offset() {
    let good = ferrocache_file();
    let try_load = |bytes: &[u8]| -> Result<(), String> {
        let dir = temp_dir("corrupt");
        std::fs::write(dir.join("dump.rdb"), bytes).expect("write");
        ferrocache::Server::builder()
            .config("dir", dir.to_str().expect("utf8"))
            .threads(1)
            .start()
            .map(drop)
            .map_err(|e| e.to_string())
    };
    try_load(&good).expect("the intact file loads");
    for cut in [0, 5, 9, 40, good.len() / 2, good.len() - 9, good.len() - 1] {
        let e = try_load(&good[..cut]).expect_err("truncated file");
        assert!(e.contains("dump.rdb"), "{e}");
        assert!(e.contains("byte offset"), "{e}");
    }
    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 0x55;
    let e = try_load(&flipped).expect_err("flipped byte");
    assert!(e.contains("byte offset"), "{e}");
    let mut bad_magic = good;
    bad_magic[0] = b'X';
    let e = try_load(&bad_magic).expect_err("bad magic");
    assert!(e.contains("byte offset 0"), "{e}");
}

#[test]
fn save_rules_trigger_a_background_save() {
    let dir = temp_dir("rules");
    let fc = ferrocache_with(&[("dir", dir.to_str().expect("utf8")), ("save", "1 2")]);
    let mut c = Conn::connect(fc.port());
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("dump.rdb").exists() {
        assert!(Instant::now() < deadline, "save rule did not fire");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_bgsave(&mut c);
    let info = String::from_utf8(c.cmd(&["INFO", "persistence"])).expect("utf8");
    assert!(info.contains("rdb_changes_since_last_save:0"), "{info}");
    assert!(info.contains("rdb_saves:1"), "{info}");
    assert!(info.contains("rdb_last_bgsave_status:ok"), "{info}");
    let last = int(&mut c, &["LASTSAVE"]);
    assert!(last > 0);
}

#[test]
fn failed_bgsave_refuses_writes_with_misconf() {
    let dir = temp_dir("misconf").join("missing-subdir");
    let fc = ferrocache_with(&[("dir", dir.to_str().expect("utf8")), ("save", "3600 1")]);
    let mut c = Conn::connect(fc.port());
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    wait_bgsave(&mut c);
    let info = String::from_utf8(c.cmd(&["INFO", "persistence"])).expect("utf8");
    assert!(info.contains("rdb_last_bgsave_status:err"), "{info}");
    let misconf = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n";
    assert_eq!(
        support::show(&c.cmd(&["SET", "k", "v"])),
        support::show(misconf.as_bytes())
    );
    assert_eq!(
        support::show(&c.cmd(&["PING"])),
        support::show(misconf.as_bytes())
    );
    assert_eq!(c.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(c.cmd(&["SAVE"]), b"-ERR\r\n");
    c.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
}

#[test]
fn bgsave_is_a_point_in_time_snapshot_while_writes_continue() {
    let dir = temp_dir("pit");
    let fc = ferrocache_with(&[("dir", dir.to_str().expect("utf8"))]);
    let mut c = Conn::connect(fc.port());
    let n = 20_000;
    let mut pipeline = Vec::new();
    for i in 0..n {
        pipeline.extend(support::encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            b"before",
        ]));
    }
    c.send_raw(&pipeline);
    for _ in 0..n {
        c.read_reply();
    }
    assert_eq!(c.cmd(&["BGSAVE"]), b"+Background saving started\r\n");
    // Overwrite every key at once: none of it may reach the file.
    let mut pipeline = Vec::new();
    for i in 0..n {
        pipeline.extend(support::encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            b"after",
        ]));
    }
    pipeline.extend(support::encode(&[b"SET", b"new-key", b"x"]));
    c.send_raw(&pipeline);
    for _ in 0..=n {
        c.read_reply();
    }
    wait_bgsave(&mut c);
    drop(c);
    drop(fc);
    let copy = temp_dir("pit-load");
    copy_dump(&dir, &copy);
    let fc = ferrocache_with(&[("dir", copy.to_str().expect("utf8"))]);
    let mut c = Conn::connect(fc.port());
    assert_eq!(int(&mut c, &["DBSIZE"]), n as i64);
    for i in (0..n).step_by(997) {
        assert_eq!(c.cmd(&["GET", &format!("k{i}")]), b"$6\r\nbefore\r\n");
    }
}

fn spawn_binary(dir: &Path, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ferrocache")
}

/// Starts the binary with Redis's default save rules in `dir`. The child is
/// handed to the caller, which waits for it (the lint does not see that
/// through the tuple).
#[allow(clippy::zombie_processes)]
fn start_binary(dir: &Path) -> (std::process::Child, Conn) {
    let port = support::free_port();
    let mut child = spawn_binary(dir, port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(c) = Conn::try_ready(port) {
            return (child, c);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ferrocache did not listen");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_saves_with_save_rules_and_the_next_start_loads() {
    let dir = temp_dir("sigterm");
    let start = || start_binary(&dir);
    let (mut child, mut c) = start();
    c.cmd(&["RPUSH", "l", "a", "b"]);
    c.cmd(&["SET", "s", "v", "EX", "1000"]);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(child.wait().expect("wait").success());
    assert!(dir.join("dump.rdb").exists(), "no snapshot at exit");
    let (mut child, mut c) = start();
    assert_eq!(
        c.cmd(&["LRANGE", "l", "0", "-1"]),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert!(int(&mut c, &["TTL", "s"]) > 990);
    // SHUTDOWN NOSAVE keeps the old file; SHUTDOWN SAVE writes a new one.
    c.cmd(&["SET", "extra", "1"]);
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.is_closed());
    assert!(child.wait().expect("wait").success());
    let (mut child, mut c) = start();
    assert_eq!(c.cmd(&["EXISTS", "extra"]), b":0\r\n");
    c.cmd(&["SET", "extra", "1"]);
    c.send(&[b"SHUTDOWN", b"SAVE"]);
    assert!(c.is_closed());
    assert!(child.wait().expect("wait").success());
    let (mut child, mut c) = start();
    assert_eq!(c.cmd(&["EXISTS", "extra"]), b":1\r\n");
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.is_closed());
    let _ = child.wait();
}

#[test]
fn debug_reload_keeps_the_data_and_lastsave_moves() {
    let dir = temp_dir("reload");
    let fc = ferrocache_with(&[
        ("dir", dir.to_str().expect("utf8")),
        ("enable-debug-command", "yes"),
    ]);
    let mut c = Conn::connect(fc.port());
    fill(&mut c);
    let before: Vec<_> = DBS
        .iter()
        .map(|db| {
            c.cmd(&["SELECT", &db.to_string()]);
            int(&mut c, &["DBSIZE"])
        })
        .collect();
    c.cmd(&["SELECT", "0"]);
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), b"+OK\r\n");
    let after: Vec<_> = DBS
        .iter()
        .map(|db| {
            c.cmd(&["SELECT", &db.to_string()]);
            int(&mut c, &["DBSIZE"])
        })
        .collect();
    assert_eq!(before, after);
    c.cmd(&["SELECT", "0"]);
    assert_eq!(
        c.cmd(&["LINDEX", "big-list", "2999"]),
        b"$9\r\nitem-2999\r\n"
    );
    assert_eq!(
        c.cmd(&["OBJECT", "ENCODING", "intset"]),
        b"$6\r\nintset\r\n"
    );
    let info = String::from_utf8(c.cmd(&["INFO", "persistence"])).expect("utf8");
    assert!(info.contains("rdb_changes_since_last_save:0"), "{info}");
}

#[test]
fn restore_with_a_relative_ttl_is_journaled_with_an_absolute_one() {
    let dir = temp_dir("restore-aof");
    let fc = ferrocache_with(&[
        ("dir", dir.to_str().expect("utf8")),
        ("appendonly", "yes"),
        ("appendfsync", "always"),
    ]);
    let mut c = Conn::connect(fc.port());
    c.cmd(&["SET", "src", "value"]);
    let payload = match frame_of(&mut c, &["DUMP", "src"]) {
        Frame::Bulk(b) => b,
        other => panic!("{other:?}"),
    };
    let reply = c.cmd_bytes(&[
        b"RESTORE".to_vec(),
        b"dst".to_vec(),
        b"100000".to_vec(),
        payload,
    ]);
    assert_eq!(reply, b"+OK\r\n");
    let mut aof = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !aof.windows(6).any(|w| w == b"ABSTTL") {
        assert!(Instant::now() < deadline, "no ABSTTL in the AOF");
        aof.clear();
        for e in std::fs::read_dir(dir.join("appendonlydir")).expect("aof dir") {
            let e = e.expect("entry");
            aof.extend(std::fs::read(e.path()).expect("read"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !aof.windows(8).any(|w| w == b"\r\n100000"),
        "relative TTL journaled"
    );
}

/// While the binary loads a large file at start-up, clients are served
/// with -LOADING and INFO shows the progress; then the data is there.
#[test]
fn clients_get_loading_while_a_large_file_loads() {
    let r = support::redis(&[("enable-debug-command", "yes")]);
    let mut c = Conn::connect(r.port);
    assert_eq!(
        c.cmd(&["DEBUG", "POPULATE", "600000", "key", "50"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["SAVE"]), b"+OK\r\n");
    let dir = r.dir.clone();
    let port = support::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut saw_loading = false;
    let mut saw_progress = false;
    let mut conn = None;
    while std::time::Instant::now() < deadline {
        let Some(c) = conn.as_mut() else {
            conn = Conn::try_connect(port).ok();
            continue;
        };
        let reply = c.cmd(&["DBSIZE"]);
        if reply == b"-LOADING Redis is loading the dataset in memory\r\n" {
            saw_loading = true;
            let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
            if info.contains("loading:1") && info.contains("loading_loaded_perc:") {
                saw_progress = true;
            }
            continue;
        }
        assert_eq!(reply, b":600000\r\n");
        break;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(saw_loading, "no -LOADING reply seen while loading");
    assert!(
        saw_progress,
        "INFO persistence did not show loading progress"
    );
}
