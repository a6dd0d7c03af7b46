//! Replication against real Redis 7.0: a real replica following a
//! Ferrocache master (full sync, live stream of every kind of write,
//! partial resync after the link is cut), and Ferrocache following a real
//! master, another Ferrocache, and sitting in the middle of a chain.

use crate::aof::fingerprint;
use crate::support::{ferrocache_with, info_field, redis, Conn};
use std::time::{Duration, Instant};

/// Polls `f` until it is true or `secs` pass; panics with `what` then.
fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn field(port: u16, section: &str, name: &str) -> String {
    info_field(&mut Conn::connect(port), section, name)
}

/// Waits until the replica's link is up and it has applied everything the
/// master has written.
fn caught_up(master: u16, replica: u16) {
    wait_for(15, "the replica to catch up", || {
        let mut r = Conn::connect(replica);
        let text = String::from_utf8_lossy(&r.cmd(&["INFO", "replication"])).into_owned();
        if !text.contains("master_link_status:up") {
            return false;
        }
        let theirs = text
            .lines()
            .find_map(|l| l.strip_prefix("slave_repl_offset:"))
            .unwrap_or("")
            .trim()
            .to_string();
        theirs == field(master, "replication", "master_repl_offset")
    });
}

/// Writes of every kind the journal records: TTLs, lists, sets, hashes,
/// transactions, scripts, several databases, keys left to expire.
fn write_everything(c: &mut Conn, tag: &str) {
    let k = |s: &str| format!("{tag}:{s}");
    c.cmd(&["SET", &k("s"), "v", "EX", "1000"]);
    c.cmd(&["SET", &k("n"), "10"]);
    c.cmd(&["INCRBY", &k("n"), "5"]);
    c.cmd(&["INCRBYFLOAT", &k("f"), "1.5"]);
    c.cmd(&["APPEND", &k("s2"), "abc"]);
    c.cmd(&["RPUSH", &k("l"), "a", "b", "c", "d"]);
    c.cmd(&["LPOP", &k("l")]);
    c.cmd(&["RPOPLPUSH", &k("l"), &k("l2")]);
    c.cmd(&["SADD", &k("set"), "x", "y", "z", "w"]);
    c.cmd(&["SPOP", &k("set")]);
    c.cmd(&["HSET", &k("h"), "a", "1", "b", "2"]);
    c.cmd(&["HINCRBYFLOAT", &k("h"), "a", "0.25"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", &k("m1"), "1"]);
    c.cmd(&["INCR", &k("m1")]);
    c.cmd(&["LPUSH", &k("m2"), "q"]);
    c.cmd(&["EXEC"]);
    c.cmd(&[
        "EVAL",
        "redis.call('SET', KEYS[1], ARGV[1]); redis.call('EXPIRE', KEYS[1], 500); return redis.call('INCR', KEYS[2])",
        "2",
        &k("script"),
        &k("counter"),
        "hello",
    ]);
    c.cmd(&["SET", &k("gone"), "x", "PX", "50"]);
    c.cmd(&["SET", &k("deleted"), "x"]);
    c.cmd(&["DEL", &k("deleted")]);
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["SET", &k("db1"), "one"]);
    c.cmd(&["EXPIRE", &k("db1"), "300"]);
    c.cmd(&["SELECT", "0"]);
    std::thread::sleep(Duration::from_millis(120));
    // The expired key is deleted (and its DEL journaled) by this read.
    c.cmd(&["GET", &k("gone")]);
}

#[test]
fn real_redis_replica_syncs_fully_then_partially_from_ferrocache() {
    let fc = ferrocache_with(&[]);
    let mut m = Conn::connect(fc.port());
    write_everything(&mut m, "before");
    // Enough data for the disk-less image to go out in several chunks.
    let mut mset: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..3000 {
        mset.push(format!("bulk:{i}").into_bytes());
        mset.push(vec![b'a' + (i % 26) as u8; 100]);
    }
    assert_eq!(m.cmd_bytes(&mset), b"+OK\r\n");
    let replica = redis(&[("replicaof", &format!("127.0.0.1 {}", fc.port()))]);
    caught_up(fc.port(), replica.port);
    write_everything(&mut m, "live");
    caught_up(fc.port(), replica.port);
    assert_eq!(fingerprint(fc.port()), fingerprint(replica.port));

    // The master's view: one online replica at its listening port.
    let info = String::from_utf8_lossy(&m.cmd(&["INFO", "replication"])).into_owned();
    let line = info
        .lines()
        .find(|l| l.starts_with("slave0:"))
        .unwrap_or_else(|| panic!("no slave0 in {info}"));
    assert!(
        line.starts_with(&format!(
            "slave0:ip=127.0.0.1,port={},state=online,offset=",
            replica.port
        )),
        "{line}"
    );
    assert_eq!(m.cmd(&["WAIT", "1", "2000"]), b":1\r\n");
    assert_eq!(field(fc.port(), "stats", "sync_full"), "1");

    // Cut the link from the replica's side: it must continue, not reload.
    let mut r = Conn::connect(replica.port);
    r.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
    write_everything(&mut m, "after");
    caught_up(fc.port(), replica.port);
    assert_eq!(fingerprint(fc.port()), fingerprint(replica.port));
    assert_eq!(field(fc.port(), "stats", "sync_partial_ok"), "1");
    assert_eq!(field(fc.port(), "stats", "sync_full"), "1");
    assert_eq!(
        field(replica.port, "replication", "master_replid"),
        field(fc.port(), "replication", "master_replid")
    );
}

#[test]
fn ferrocache_replica_follows_real_redis_master_and_resyncs_partially() {
    let master = redis(&[("repl-diskless-sync-delay", "0")]);
    let mut m = Conn::connect(master.port);
    write_everything(&mut m, "before");
    let fc = ferrocache_with(&[("replicaof", &format!("127.0.0.1 {}", master.port))]);
    caught_up(master.port, fc.port());
    write_everything(&mut m, "live");
    caught_up(master.port, fc.port());
    assert_eq!(fingerprint(master.port), fingerprint(fc.port()));

    let mut c = Conn::connect(fc.port());
    assert_eq!(
        c.cmd(&["SET", "x", "1"]),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(field(fc.port(), "replication", "role"), "slave");
    assert_eq!(
        field(fc.port(), "replication", "master_replid"),
        field(master.port, "replication", "master_replid")
    );

    // The master cuts the link; the replica comes back and continues.
    m.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    write_everything(&mut m, "after");
    caught_up(master.port, fc.port());
    assert_eq!(fingerprint(master.port), fingerprint(fc.port()));
    assert_eq!(field(master.port, "stats", "sync_partial_ok"), "1");
    assert_eq!(field(master.port, "stats", "sync_full"), "1");
}

#[test]
fn ferrocache_to_ferrocache_then_promotion_keeps_history() {
    let master = ferrocache_with(&[("repl-diskless-sync", "no")]);
    let mut m = Conn::connect(master.port());
    write_everything(&mut m, "before");
    let replica = ferrocache_with(&[]);
    let mut r = Conn::connect(replica.port());
    // As Sentinel does it: inside a transaction.
    assert_eq!(r.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(
        r.cmd(&["REPLICAOF", "127.0.0.1", &master.port().to_string()]),
        b"+QUEUED\r\n"
    );
    assert_eq!(r.cmd(&["EXEC"]), b"*1\r\n+OK\r\n");
    caught_up(master.port(), replica.port());
    write_everything(&mut m, "live");
    caught_up(master.port(), replica.port());
    assert_eq!(fingerprint(master.port()), fingerprint(replica.port()));

    // CLIENT KILL TYPE master on the replica: it reconnects and continues.
    r.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
    write_everything(&mut m, "after");
    caught_up(master.port(), replica.port());
    assert_eq!(fingerprint(master.port()), fingerprint(replica.port()));
    assert_eq!(field(master.port(), "stats", "sync_partial_ok"), "1");
    assert_eq!(field(master.port(), "stats", "sync_full"), "1");
    // Keys the master expired are gone from the replica too, not just
    // hidden: the master's DEL reached them.
    assert_eq!(m.cmd(&["DBSIZE"]), r.cmd(&["DBSIZE"]));
    let role = r.cmd(&["ROLE"]);
    let expected = format!(
        "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{}\r\n$9\r\nconnected\r\n:",
        master.port()
    );
    assert!(
        String::from_utf8_lossy(&role).starts_with(&expected),
        "{:?}",
        String::from_utf8_lossy(&role)
    );

    // PSYNC2: after promotion the old id is replid2, valid to offset + 1.
    let old_id = field(replica.port(), "replication", "master_replid");
    let offset: u64 = field(replica.port(), "replication", "master_repl_offset")
        .parse()
        .expect("offset");
    assert_eq!(r.cmd(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(field(replica.port(), "replication", "role"), "master");
    assert_eq!(
        field(replica.port(), "replication", "master_replid2"),
        old_id
    );
    assert_eq!(
        field(replica.port(), "replication", "second_repl_offset"),
        (offset + 1).to_string()
    );
    assert_ne!(
        field(replica.port(), "replication", "master_replid"),
        old_id
    );
    assert_eq!(r.cmd(&["SET", "x", "1"]), b"+OK\r\n");
}

#[test]
fn chain_real_redis_to_ferrocache_to_real_redis() {
    let top = redis(&[("repl-diskless-sync-delay", "0")]);
    let mut m = Conn::connect(top.port);
    write_everything(&mut m, "before");
    let middle = ferrocache_with(&[("replicaof", &format!("127.0.0.1 {}", top.port))]);
    caught_up(top.port, middle.port());
    let bottom = redis(&[("replicaof", &format!("127.0.0.1 {}", middle.port()))]);
    write_everything(&mut m, "live");
    caught_up(top.port, middle.port());
    caught_up(middle.port(), bottom.port);
    assert_eq!(fingerprint(top.port), fingerprint(bottom.port));
    assert_eq!(
        field(bottom.port, "replication", "master_replid"),
        field(top.port, "replication", "master_replid")
    );
}

/// The binary on `port` with `dir`, waited for until it answers.
fn process_on(port: u16, dir: &std::path::Path) -> crate::support::FerrocacheProcess {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ferrocache");
    let p = crate::support::FerrocacheProcess { child, port };
    wait_for(10, "ferrocache to start", || {
        Conn::try_connect(port).is_ok_and(|mut c| c.cmd(&["PING"]) == b"+PONG\r\n")
    });
    p
}

#[test]
fn restarted_master_continues_from_its_rdb_replication_id_and_offset() {
    let dir = crate::support::temp_dir("repl-restart");
    let port = crate::support::free_port();
    let mut master = process_on(port, &dir);
    let mut m = Conn::connect(port);
    write_everything(&mut m, "before");
    let replica = redis(&[("replicaof", &format!("127.0.0.1 {port}"))]);
    caught_up(port, replica.port);
    let replid = field(port, "replication", "master_replid");
    assert_eq!(m.cmd(&["SAVE"]), b"+OK\r\n");
    let _ = master.child.kill();
    let _ = master.child.wait();
    drop(master);

    let _master = process_on(port, &dir);
    assert_eq!(field(port, "replication", "master_replid"), replid);
    caught_up(port, replica.port);
    assert_eq!(field(port, "stats", "sync_partial_ok"), "1");
    assert_eq!(field(port, "stats", "sync_full"), "0");
    let mut m = Conn::connect(port);
    write_everything(&mut m, "after");
    caught_up(port, replica.port);
    assert_eq!(fingerprint(port), fingerprint(replica.port));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn min_replicas_to_write_refuses_writes_without_enough_good_replicas() {
    let fc = ferrocache_with(&[("min-replicas-to-write", "1")]);
    let mut m = Conn::connect(fc.port());
    assert_eq!(
        m.cmd(&["SET", "k", "v"]),
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    let replica = redis(&[("replicaof", &format!("127.0.0.1 {}", fc.port()))]);
    caught_up(fc.port(), replica.port);
    assert_eq!(m.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    let role = m.cmd(&["ROLE"]);
    let offset = field(fc.port(), "replication", "master_repl_offset");
    assert!(
        String::from_utf8_lossy(&role).starts_with(&format!(
            "*3\r\n$6\r\nmaster\r\n:{offset}\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n${}\r\n{}\r\n$",
            replica.port.to_string().len(),
            replica.port
        )),
        "{:?}",
        String::from_utf8_lossy(&role)
    );
}

/// The names of an INFO section's fields, in order.
fn field_names(port: u16, section: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&Conn::connect(port).cmd(&["INFO", section])).into_owned();
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn info_replication_has_redis_fields_in_redis_order_on_both_roles() {
    // Reference: a real master with a real replica.
    let ref_master = redis(&[("repl-diskless-sync-delay", "0")]);
    let ref_replica = redis(&[("replicaof", &format!("127.0.0.1 {}", ref_master.port))]);
    caught_up(ref_master.port, ref_replica.port);
    // Ours in the same places: our master with a real replica, and our
    // replica of a real master.
    let fc_master = ferrocache_with(&[]);
    let their_replica = redis(&[("replicaof", &format!("127.0.0.1 {}", fc_master.port()))]);
    caught_up(fc_master.port(), their_replica.port);
    assert_eq!(
        field_names(fc_master.port(), "replication"),
        field_names(ref_master.port, "replication")
    );
    let fc_replica = ferrocache_with(&[("replicaof", &format!("127.0.0.1 {}", ref_master.port))]);
    caught_up(ref_master.port, fc_replica.port());
    assert_eq!(
        field_names(fc_replica.port(), "replication"),
        field_names(ref_replica.port, "replication")
    );
    // A replica's link to its master is a client of type master there.
    let mut c = Conn::connect(fc_replica.port());
    let list = String::from_utf8_lossy(&c.cmd(&["CLIENT", "LIST", "TYPE", "master"])).into_owned();
    assert!(list.contains("flags=M"), "{list}");
    let mut c = Conn::connect(fc_master.port());
    let list = String::from_utf8_lossy(&c.cmd(&["CLIENT", "LIST", "TYPE", "replica"])).into_owned();
    assert!(list.contains("flags=S"), "{list}");
}

#[test]
fn replica_authenticates_with_masterauth() {
    let master = redis(&[("repl-diskless-sync-delay", "0")]);
    let mut m = Conn::connect(master.port);
    assert_eq!(
        m.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]),
        b"+OK\r\n"
    );
    m.cmd(&["SET", "k", "v"]);
    let fc = ferrocache_with(&[
        ("masterauth", "s3cret"),
        ("replicaof", &format!("127.0.0.1 {}", master.port)),
    ]);
    wait_for(10, "the link to come up", || {
        field(fc.port(), "replication", "master_link_status") == "up"
    });
    let mut c = Conn::connect(fc.port());
    wait_for(10, "k to arrive", || c.cmd(&["GET", "k"]) == b"$1\r\nv\r\n");
}

#[test]
fn sync_sends_the_rdb_with_its_length_then_the_stream() {
    let fc = ferrocache_with(&[]);
    let mut m = Conn::connect(fc.port());
    m.cmd(&["SET", "a", "1"]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", fc.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    use std::io::{Read, Write};
    s.write_all(b"SYNC\r\n").expect("write");
    let mut got: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    // `$<len>\r\n` then exactly that many bytes of RDB.
    let (len, start) = loop {
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "closed");
        got.extend_from_slice(&chunk[..n]);
        if let Some(pos) = got.windows(2).position(|w| w == b"\r\n") {
            let head = String::from_utf8_lossy(&got[..pos]).into_owned();
            let len: usize = head
                .strip_prefix('$')
                .and_then(|l| l.parse().ok())
                .unwrap_or_else(|| panic!("bad head {head:?}"));
            break (len, pos + 2);
        }
    };
    while got.len() < start + len {
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "closed");
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(got[start..].starts_with(b"REDIS0010"));
    let mut stream = got.split_off(start + len);
    m.cmd(&["SET", "b", "2"]);
    let want: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
    let deadline = Instant::now() + Duration::from_secs(5);
    while !stream.windows(want.len()).any(|w| w == want) && Instant::now() < deadline {
        let n = s.read(&mut chunk).expect("read");
        stream.extend_from_slice(&chunk[..n]);
    }
    assert!(
        stream.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"),
        "{:?}",
        String::from_utf8_lossy(&stream)
    );
    assert!(stream.windows(want.len()).any(|w| w == want));
}

#[test]
fn failover_hands_over_to_a_real_redis_replica_which_continues_our_history() {
    let fc = ferrocache_with(&[]);
    let mut m = Conn::connect(fc.port());
    assert_eq!(
        m.cmd(&["FAILOVER"]),
        b"-ERR FAILOVER requires connected replicas.\r\n"
    );
    let replica = redis(&[("replicaof", &format!("127.0.0.1 {}", fc.port()))]);
    write_everything(&mut m, "before");
    caught_up(fc.port(), replica.port);
    assert_eq!(
        m.cmd(&["FAILOVER", "TO", "127.0.0.1", "1"]),
        b"-ERR FAILOVER target HOST and PORT is not a replica.\r\n"
    );
    assert_eq!(m.cmd(&["FAILOVER"]), b"+OK\r\n");
    wait_for(10, "the roles to swap", || {
        field(replica.port, "replication", "role") == "master"
            && field(fc.port(), "replication", "master_link_status") == "up"
    });
    assert_eq!(
        field(fc.port(), "replication", "master_failover_state"),
        "no-failover"
    );
    // The new master continued our history rather than resyncing us.
    assert_eq!(field(replica.port, "stats", "sync_partial_ok"), "1");
    assert_eq!(field(replica.port, "stats", "sync_full"), "0");
    let mut m = Conn::connect(fc.port());
    assert_eq!(
        m.cmd(&["SET", "x", "1"]),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
    write_everything(&mut Conn::connect(replica.port), "after");
    caught_up(replica.port, fc.port());
    assert_eq!(fingerprint(replica.port), fingerprint(fc.port()));
}

#[test]
fn wait_is_ended_by_client_unblock_as_in_redis() {
    let mut pair = crate::support::Pair::new();
    for (port, conn) in [
        (pair.fc.port(), &mut pair.ours),
        (pair.redis.port, &mut pair.theirs),
    ] {
        let id = String::from_utf8_lossy(&conn.cmd(&["CLIENT", "ID"]))
            .trim_matches(|c: char| !c.is_ascii_digit())
            .to_string();
        conn.cmd(&["SET", "k", "v"]);
        conn.send(&[b"WAIT", b"1", b"0"]);
        let mut other = Conn::connect(port);
        wait_for(5, "the client to block in WAIT", || {
            other.cmd(&["CLIENT", "UNBLOCK", &id]) == b":1\r\n"
        });
        assert_eq!(conn.read_reply(), b":0\r\n", "port {port}");
        conn.send(&[b"WAIT", b"1", b"0"]);
        wait_for(5, "the client to block in WAIT", || {
            other.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]) == b":1\r\n"
        });
        assert_eq!(
            conn.read_reply(),
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
            "port {port}"
        );
    }
    pair.check(&["WAIT", "0", "0"]);
    pair.check(&["WAIT", "1", "-1"]);
    pair.check(&["WAIT", "x", "0"]);
}

/// Sentinel promotes a replica with MULTI, REPLICAOF NO ONE, CONFIG
/// REWRITE, CLIENT KILL TYPE normal, EXEC. On a replica the journal is on,
/// EXEC holds its lock, and the promotion once waited for that same lock.
#[test]
fn regression_sentinel_style_promotion_inside_exec_does_not_deadlock() {
    let master = ferrocache_with(&[]);
    let replica = ferrocache_with(&[("replicaof", &format!("127.0.0.1 {}", master.port()))]);
    let mut m = Conn::connect(master.port());
    m.cmd(&["SET", "k", "v"]);
    caught_up(master.port(), replica.port());
    let mut r = Conn::connect(replica.port());
    assert_eq!(r.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["REPLICAOF", "NO", "ONE"]), b"+QUEUED\r\n");
    assert_eq!(r.cmd(&["CLIENT", "KILL", "TYPE", "normal"]), b"+QUEUED\r\n");
    let exec = r.cmd(&["EXEC"]);
    assert!(
        exec.starts_with(b"*2\r\n+OK\r\n:"),
        "{}",
        crate::support::show(&exec)
    );
    assert_eq!(field(replica.port(), "replication", "role"), "master");
    assert_eq!(r.cmd(&["SET", "x", "1"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
}

/// Writes `n` keys `{prefix}{i}` pipelined in batches of 1000.
fn pipeline_sets(c: &mut Conn, prefix: &str, n: usize, value: &[u8]) {
    for start in (0..n).step_by(1000) {
        let mut buf = Vec::new();
        let end = (start + 1000).min(n);
        for i in start..end {
            let key = format!("{prefix}{i}");
            buf.extend_from_slice(&crate::support::encode(&[b"SET", key.as_bytes(), value]));
        }
        c.send_raw(&buf);
        for _ in start..end {
            let r = c.read_reply();
            assert_eq!(r, b"+OK\r\n");
        }
    }
}

/// A link cut while more than the backlog is written: the replica can't
/// continue and resynchronizes in full, ending with the master's data.
#[test]
fn backlog_overflow_gives_a_full_resync() {
    let fc = ferrocache_with(&[("repl-backlog-size", "16kb")]);
    let mut m = Conn::connect(fc.port());
    pipeline_sets(&mut m, "before:", 100, b"v");
    let replica = redis(&[
        ("replicaof", &format!("127.0.0.1 {}", fc.port())),
        ("enable-debug-command", "yes"),
    ]);
    caught_up(fc.port(), replica.port);
    assert_eq!(field(fc.port(), "stats", "sync_full"), "1");
    // The replica stalls; meanwhile the master drops its link and writes
    // far more than the 16 KB backlog holds.
    let mut r = Conn::connect(replica.port);
    r.send(&[b"DEBUG", b"SLEEP", b"1.5"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(m.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
    pipeline_sets(&mut m, "overflow:", 2000, &[b'x'; 100]);
    assert_eq!(r.read_reply(), b"+OK\r\n");
    wait_for(15, "a second full sync", || {
        field(fc.port(), "stats", "sync_full") == "2"
    });
    caught_up(fc.port(), replica.port);
    assert_eq!(field(fc.port(), "stats", "sync_full"), "2");
    assert_eq!(field(fc.port(), "stats", "sync_partial_ok"), "0");
    assert_eq!(fingerprint(fc.port()), fingerprint(replica.port));
    assert_eq!(Conn::connect(replica.port).cmd(&["DBSIZE"]), b":2100\r\n");
}

/// One million keys written while a replica does its full sync: it catches
/// up with every one of them.
#[test]
fn replica_catches_up_with_a_million_writes_during_its_full_sync() {
    let fc = ferrocache_with(&[]);
    let port = fc.port();
    let mut m = Conn::connect(port);
    pipeline_sets(&mut m, "base:", 50_000, &[b'b'; 50]);
    let writer = std::thread::spawn(move || {
        let mut w = Conn::connect(port);
        pipeline_sets(&mut w, "during:", 1_000_000, b"d");
    });
    // The replica attaches while the writer runs.
    std::thread::sleep(Duration::from_millis(100));
    let replica = redis(&[("replicaof", &format!("127.0.0.1 {port}"))]);
    writer.join().expect("writer");
    wait_for(120, "the replica to catch up", || {
        let mut r = Conn::connect(replica.port);
        let text = String::from_utf8_lossy(&r.cmd(&["INFO", "replication"])).into_owned();
        text.contains("master_link_status:up")
            && text
                .lines()
                .find_map(|l| l.strip_prefix("slave_repl_offset:"))
                .map(|v| v.trim().to_string())
                == Some(field(port, "replication", "master_repl_offset"))
    });
    assert_eq!(
        Conn::connect(replica.port).cmd(&["DBSIZE"]),
        b":1050000\r\n"
    );
    let mut r = Conn::connect(replica.port);
    assert_eq!(r.cmd(&["GET", "during:999999"]), b"$1\r\nd\r\n");
    assert_eq!(r.cmd(&["GET", "base:49999"]).len(), 50 + 7);
}
