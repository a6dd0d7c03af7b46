//! The append-only file: Redis 7.0's multi-part layout written by
//! Ferrocache and read by real Redis and back, commands journaled in
//! deterministic form, transactions and scripts as atomic units, truncated
//! and corrupt files, BGREWRITEAOF, and no acknowledged write lost to
//! kill -9 with `appendfsync always`.

use crate::support::{redis, Conn};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fc-aof-{tag}-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub(crate) fn ferrocache_in(
    dir: &Path,
    extra: &[(&str, &str)],
) -> std::io::Result<ferrocache::ServerHandle> {
    let mut b = ferrocache::Server::builder()
        .threads(2)
        .config("dir", &dir.display().to_string())
        .config("appendonly", "yes");
    for (k, v) in extra {
        b = b.config(k, v);
    }
    b.start()
}

/// Everything a server holds, in a form two servers can be compared by:
/// per database, each key with its type, contents (sorted where the type
/// is unordered) and whether it has a TTL.
pub(crate) fn fingerprint(port: u16) -> Vec<String> {
    let mut c = Conn::connect(port);
    let mut out = Vec::new();
    for db in 0..3 {
        c.cmd(&["SELECT", &db.to_string()]);
        let mut keys = strings(&c.cmd(&["KEYS", "*"]));
        keys.sort();
        for k in keys {
            let ty = String::from_utf8_lossy(&c.cmd(&["TYPE", &k]))
                .trim()
                .to_string();
            let body = match ty.as_str() {
                "+string" => vec![crate::support::show(&c.cmd(&["GET", &k]))],
                "+list" => strings(&c.cmd(&["LRANGE", &k, "0", "-1"])),
                "+set" => sorted(strings(&c.cmd(&["SMEMBERS", &k]))),
                "+hash" => sorted(strings(&c.cmd(&["HGETALL", &k]))),
                "+zset" => strings(&c.cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                other => vec![other.to_string()],
            };
            let pttl = String::from_utf8_lossy(&c.cmd(&["PTTL", &k])).to_string();
            let ttl = if pttl.starts_with(":-1") {
                "persistent"
            } else {
                "volatile"
            };
            out.push(format!("db{db} {k} {ty} {body:?} {ttl}"));
        }
    }
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The bulk strings of an array reply.
fn strings(reply: &[u8]) -> Vec<String> {
    match ferrocache_protocol::frame::parse(reply) {
        Ok(Some((ferrocache_protocol::Frame::Array(items), _))) => items
            .into_iter()
            .map(|f| match f {
                ferrocache_protocol::Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// Writes of every kind the journal rewrites or wraps.
fn fill(port: u16) {
    let mut c = Conn::connect(port);
    for cmd in [
        &["SET", "plain", "v"][..],
        &["SET", "withex", "v", "EX", "1000"],
        &["SETEX", "setex", "1000", "v"],
        &["SET", "gone", "v", "PX", "1"],
        &["INCRBYFLOAT", "float", "1.25"],
        &["INCRBYFLOAT", "float", "0.1"],
        &["RPUSH", "list", "a", "b", "c", "d"],
        &["LPOP", "list"],
        &["SADD", "set", "m1", "m2", "m3", "m4"],
        &["SPOP", "set"],
        &["SPOP", "set", "2"],
        &["HSET", "hash", "f1", "1", "f2", "x"],
        &["HINCRBYFLOAT", "hash", "f1", "0.5"],
        &["EXPIRE", "hash", "500"],
        &[
            "ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c", "0.1", "d", "3", "e",
        ],
        &["ZINCRBY", "zset", "1", "a"],
        &["ZPOPMIN", "zset"],
        &["ZMPOP", "1", "zset", "MAX", "COUNT", "1"],
        &[
            "ZUNIONSTORE",
            "zunion",
            "2",
            "zset",
            "set",
            "WEIGHTS",
            "2",
            "1",
        ],
        &["ZRANGESTORE", "zrange", "zset", "0", "1"],
        &["SET", "willdie", "v"],
        &["EXPIRE", "willdie", "-1"],
        &["SET", "persisted", "v", "EX", "100"],
        &["PERSIST", "persisted"],
        &["SELECT", "1"],
        &["SET", "db1key", "x"],
        &["MULTI"],
        &["INCR", "counter"],
        &["SADD", "s1", "1", "2", "3"],
        &["EXEC"],
        &[
            "EVAL",
            "redis.call('set', KEYS[1], 'fromlua'); return redis.call('spop', KEYS[2])",
            "2",
            "lua",
            "s1",
        ],
        &["SELECT", "0"],
        &["GETEX", "plain", "PX", "900000"],
        &["SET", "nochange", "v", "NX"],
        &["SET", "nochange", "other", "NX"],
    ] {
        let r = c.cmd(cmd);
        assert!(
            !r.starts_with(b"-"),
            "{cmd:?}: {}",
            crate::support::show(&r)
        );
    }
    // Let the short-lived key expire; its DEL is journaled by whoever
    // deletes it.
    std::thread::sleep(Duration::from_millis(20));
    c.cmd(&["GET", "gone"]);
}

pub(crate) fn stop_redis(port: u16) {
    let mut c = Conn::connect(port);
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = c.read_reply();
}

#[test]
fn aof_round_trips_through_ferrocache_and_real_redis() {
    let dir = temp_dir("trip");
    let fc = ferrocache_in(&dir, &[]).expect("starts");
    fill(fc.port());
    let before = fingerprint(fc.port());
    assert!(before.iter().any(|l| l.contains("withex")), "{before:?}");
    assert!(!before.iter().any(|l| l.contains(" gone ")), "{before:?}");
    fc.shutdown();

    // Ferrocache reads back what it wrote.
    let fc = ferrocache_in(&dir, &[]).expect("restarts");
    assert_eq!(fingerprint(fc.port()), before);
    fc.shutdown();

    // Real Redis 7.0 reads the same directory...
    let r = redis(&[("dir", &dir.display().to_string()), ("appendonly", "yes")]);
    assert_eq!(fingerprint(r.port), before, "real redis loads our AOF");
    let mut c = Conn::connect(r.port);
    c.cmd(&["SET", "written-by-redis", "1"]);
    c.cmd(&["RPUSH", "list", "e"]);
    let after_redis = fingerprint(r.port);
    stop_redis(r.port);
    drop(r);

    // ...and Ferrocache reads what Redis appended to it.
    let fc = ferrocache_in(&dir, &[]).expect("restarts after redis");
    assert_eq!(fingerprint(fc.port()), after_redis);
    fc.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redis_written_aof_loads_into_ferrocache() {
    let dir = temp_dir("fromredis");
    // aof-use-rdb-preamble no: the base file holds commands.
    let r = redis(&[
        ("dir", &dir.display().to_string()),
        ("appendonly", "yes"),
        ("aof-use-rdb-preamble", "no"),
    ]);
    fill(r.port);
    let mut c = Conn::connect(r.port);
    c.cmd(&["BGREWRITEAOF"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).to_string();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrites:1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    c.cmd(&["SET", "after-rewrite", "1"]);
    let expected = fingerprint(r.port);
    stop_redis(r.port);
    drop(r);
    let fc = ferrocache_in(&dir, &[]).expect("loads redis's aof");
    assert_eq!(fingerprint(fc.port()), expected);
    fc.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgrewriteaof_keeps_data_and_writes_during_it() {
    let dir = temp_dir("rewrite");
    let fc = ferrocache_in(&dir, &[]).expect("starts");
    fill(fc.port());
    let mut c = Conn::connect(fc.port());
    assert_eq!(
        c.cmd(&["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    for i in 0..200 {
        c.cmd(&["RPUSH", "during", &i.to_string()]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).to_string();
        if info.contains("aof_rewrites:2") && info.contains("aof_rewrite_in_progress:0") {
            break;
        }
        assert!(Instant::now() < deadline, "rewrite never finished: {info}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    assert!(
        manifest.contains("appendonly.aof.2.base.rdb seq 2 type b"),
        "{manifest}"
    );
    let before = fingerprint(fc.port());
    fc.shutdown();
    let files: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert!(
        !files.iter().any(|f| f.contains(".1.base")),
        "old base removed: {files:?}"
    );
    let fc = ferrocache_in(&dir, &[]).expect("restarts");
    assert_eq!(fingerprint(fc.port()), before);
    fc.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

fn incr_file(dir: &Path) -> PathBuf {
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    let name = manifest
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("an incr file")
        .to_string();
    dir.join("appendonlydir").join(name)
}

#[test]
fn truncated_tail_loads_the_valid_prefix_and_corruption_refuses_to_start() {
    let dir = temp_dir("trunc");
    let fc = ferrocache_in(&dir, &[]).expect("starts");
    let mut c = Conn::connect(fc.port());
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2"]);
    fc.shutdown();
    let incr = incr_file(&dir);
    let good_len = std::fs::metadata(&incr).expect("incr").len();
    // A command cut short, as a crash mid-write leaves it.
    let mut data = std::fs::read(&incr).expect("read");
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1");
    std::fs::write(&incr, &data).expect("write");

    // With aof-load-truncated no, the start is refused and says where.
    let err = ferrocache_in(&dir, &[("aof-load-truncated", "no")])
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(msg.contains("appendonly.aof.1.incr.aof"), "{msg}");
    assert!(msg.contains(&format!("offset {good_len}")), "{msg}");

    // With the default (yes), the valid prefix loads and the tail is cut.
    let fc = ferrocache_in(&dir, &[]).expect("loads the prefix");
    let mut c = Conn::connect(fc.port());
    assert_eq!(
        c.cmd(&["MGET", "a", "b", "c"]),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"
    );
    fc.shutdown();
    assert!(std::fs::metadata(&incr).expect("incr").len() >= good_len);

    // Garbage in the middle: refused, with the file and the offset.
    let mut data = std::fs::read(&incr).expect("read");
    let at = data.len();
    data.extend_from_slice(b"this is not RESP\r\n*1\r\n$4\r\nPING\r\n");
    std::fs::write(&incr, &data).expect("write");
    let err = ferrocache_in(&dir, &[]).err().expect("refused");
    let msg = err.to_string();
    assert!(msg.contains("Bad file format"), "{msg}");
    assert!(msg.contains(&format!("offset {at}")), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The ferrocache binary, started as its own process so it can be killed.
fn spawn_binary(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ferrocache")
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut c) = Conn::try_connect(port) {
            if c.cmd(&["PING"]) == b"+PONG\r\n" {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("ferrocache did not start on {port}");
}

/// kill -9 while several clients write with `appendfsync always`: every
/// write that was acknowledged is there after the restart. The last writer
/// pipelines each INCR with a BLPOP that times out, so its acknowledgements
/// leave on the path that flushes replies before a client blocks.
#[test]
fn kill_9_with_appendfsync_always_loses_no_acknowledged_write() {
    let dir = temp_dir("kill9");
    let port = crate::support::free_port();
    // Per writer: the highest counter value acknowledged so far.
    let mut acknowledged = vec![0i64; 5];
    for round in 0..4 {
        let mut child = spawn_binary(&dir, port);
        wait_ready(port);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..5)
            .map(|w| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    use std::io::{BufRead, Write};
                    let mut best = 0i64;
                    let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                        return best;
                    };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
                    let mut writer = stream;
                    let key = format!("counter:{w}");
                    let mut request = format!("*2\r\n$4\r\nINCR\r\n${}\r\n{key}\r\n", key.len());
                    let blocks = w == 4;
                    if blocks {
                        request.push_str("*3\r\n$5\r\nBLPOP\r\n$5\r\nempty\r\n$4\r\n0.01\r\n");
                    }
                    let mut line = String::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if writer.write_all(request.as_bytes()).is_err() {
                            break;
                        }
                        line.clear();
                        // Killed: the read fails or finds no complete reply.
                        match reader.read_line(&mut line) {
                            Ok(_) => {
                                match line.strip_prefix(':').and_then(|n| n.trim().parse().ok()) {
                                    Some(n) => best = n,
                                    None => break,
                                }
                                // The BLPOP's timeout: a null array.
                                line.clear();
                                if blocks
                                    && !(reader.read_line(&mut line).is_ok() && line == "*-1\r\n")
                                {
                                    break;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    best
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + fastrand::u64(..300)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for (w, h) in writers.into_iter().enumerate() {
            let best = h.join().expect("writer");
            if best > 0 {
                acknowledged[w] = best;
            }
        }
        // Restart and check every acknowledged increment survived.
        let mut child = spawn_binary(&dir, port);
        wait_ready(port);
        let mut c = Conn::connect(port);
        for (w, &acked) in acknowledged.iter().enumerate() {
            let reply = c.cmd(&["GET", &format!("counter:{w}")]);
            let text = String::from_utf8_lossy(&reply);
            let value: i64 = text
                .lines()
                .nth(1)
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            assert!(
                value >= acked,
                "round {round}: writer {w} had {acked} acknowledged, found {value}"
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(acknowledged.iter().all(|&n| n > 0), "{acknowledged:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Redis 7.0's default, `aof-use-rdb-preamble yes`, writes the base file as
/// an RDB image: Ferrocache loads it with the RDB codec, then replays the
/// incremental file.
#[test]
fn redis_aof_with_an_rdb_base_loads_into_ferrocache() {
    let dir = temp_dir("rdbbase");
    let r = redis(&[("dir", &dir.display().to_string()), ("appendonly", "yes")]);
    fill(r.port);
    let mut c = Conn::connect(r.port);
    c.cmd(&["BGREWRITEAOF"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).to_string();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrites:1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    c.cmd(&["SET", "after-rewrite", "1"]);
    c.cmd(&["RPUSH", "list", "tail"]);
    let expected = fingerprint(r.port);
    stop_redis(r.port);
    drop(r);
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    assert!(manifest.contains(".base.rdb"), "{manifest}");
    let fc = ferrocache_in(&dir, &[]).expect("loads redis's aof with an rdb base");
    assert_eq!(fingerprint(fc.port()), expected);
    fc.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

fn info(c: &mut Conn, field: &str) -> String {
    crate::support::info_field(c, "persistence", field)
}

fn wait_for(mut ok: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A full disk: the incremental file after a rewrite is /dev/full, so every
/// write fails with ENOSPC. Writes are then refused with Redis's MISCONF
/// text (reads go on); after the next rewrite onto a working file, writes
/// are accepted again and nothing acknowledged is lost across a restart.
#[test]
fn a_full_disk_refuses_writes_and_loses_nothing() {
    let dir = temp_dir("full");
    let fc = ferrocache_in(&dir, &[("aof-use-rdb-preamble", "no")]).expect("starts");
    let mut c = Conn::connect(fc.port());
    assert_eq!(c.cmd(&["SET", "before", "1"]), b"+OK\r\n");
    // The next rewrite opens appendonly.aof.2.incr.aof: make it the full
    // device.
    let aof_dir = dir.join("appendonlydir");
    std::os::unix::fs::symlink("/dev/full", aof_dir.join("appendonly.aof.2.incr.aof"))
        .expect("symlink");
    c.cmd(&["BGREWRITEAOF"]);
    wait_for(|| info(&mut c, "aof_rewrites") == "2", "the first rewrite");
    assert_eq!(c.cmd(&["INCR", "counter"]), b":1\r\n");
    let misconf = b"-MISCONF Errors writing to the AOF file: No space left on device\r\n";
    // Until the writer has failed once, writes are still acknowledged.
    let mut probe_acked = false;
    wait_for(
        || match c.cmd(&["SET", "probe", "x"]) {
            r if r == misconf => true,
            r => {
                probe_acked |= r == b"+OK\r\n";
                false
            }
        },
        "MISCONF",
    );
    assert_eq!(info(&mut c, "aof_last_write_status"), "err");
    assert_eq!(c.cmd(&["PING"]), misconf);
    assert_eq!(c.cmd(&["GET", "before"]), b"$1\r\n1\r\n");
    // Space is back: a rewrite moves to a working file.
    c.cmd(&["BGREWRITEAOF"]);
    wait_for(|| info(&mut c, "aof_rewrites") == "3", "the second rewrite");
    wait_for(
        || c.cmd(&["INCR", "counter"]) == b":2\r\n",
        "writes accepted again",
    );
    assert_eq!(info(&mut c, "aof_last_write_status"), "ok");
    fc.shutdown();
    let fc = ferrocache_in(&dir, &[]).expect("restarts");
    let mut c = Conn::connect(fc.port());
    let probe: &[u8] = if probe_acked {
        b"$1\r\nx\r\n"
    } else {
        b"$-1\r\n"
    };
    assert_eq!(
        c.cmd(&["MGET", "before", "counter", "probe"]),
        [&b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n"[..], probe].concat()
    );
    fc.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
