//! Real Redis Sentinel 7.0 monitoring Ferrocache: three sentinels, a
//! Ferrocache master and two Ferrocache replicas, all separate processes on
//! loopback. The sentinels must discover the replicas and each other,
//! promote a replica when the master is killed, reconfigure the other
//! replica, turn the restarted old master into a replica, and run a
//! failover on demand.

use crate::support::{free_port, show, Conn};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed on drop (also when the test panics).
struct Proc {
    child: Option<Child>,
}

impl Proc {
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Ferrocache binary started from a config file that holds its port, so
/// it can be restarted on the same port with the same file.
struct Node {
    proc: Proc,
    port: u16,
    conf: PathBuf,
}

impl Node {
    fn new(dir: &Path, name: &str, replicaof: Option<u16>) -> Node {
        Node::with(dir, name, replicaof, "")
    }

    /// A node with `extra` lines in its config file.
    fn with(dir: &Path, name: &str, replicaof: Option<u16>, extra: &str) -> Node {
        let port = free_port();
        let conf = dir.join(format!("{name}.conf"));
        let data = dir.join(name);
        std::fs::create_dir_all(&data).expect("node dir");
        let mut text = format!(
            "port {port}\nbind 127.0.0.1\nsave \"\"\ndir {}\nlogfile {}\nrepl-diskless-sync-delay 0\n",
            data.display(),
            dir.join(format!("{name}.log")).display()
        );
        if let Some(m) = replicaof {
            text.push_str(&format!("replicaof 127.0.0.1 {m}\n"));
        }
        text.push_str(extra);
        std::fs::write(&conf, text).expect("node conf");
        let mut n = Node {
            proc: Proc { child: None },
            port,
            conf,
        };
        n.start();
        n
    }

    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
            .args(["--threads", "1"])
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ferrocache");
        self.proc = Proc { child: Some(child) };
        let port = self.port;
        wait_for(10, &format!("ferrocache on {port} to answer"), || {
            Conn::try_connect(port)
                .map(|mut c| {
                    let r = c.cmd(&["PING"]);
                    r == b"+PONG\r\n" || r.starts_with(b"-NOAUTH")
                })
                .unwrap_or(false)
        });
    }
}

struct Sentinel {
    _proc: Proc,
    port: u16,
}

impl Sentinel {
    fn new(dir: &Path, i: usize, master: u16) -> Sentinel {
        Sentinel::with(dir, i, master, 2, "")
    }

    /// A sentinel with the given quorum and `extra` config lines.
    fn with(dir: &Path, i: usize, master: u16, quorum: u32, extra: &str) -> Sentinel {
        let port = free_port();
        let conf = dir.join(format!("sentinel{i}.conf"));
        let log = dir.join(format!("sentinel{i}.log"));
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {log}\n\
             sentinel resolve-hostnames no\n\
             sentinel monitor mymaster 127.0.0.1 {master} {quorum}\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 5000\n\
             sentinel parallel-syncs mymaster 1\n{extra}",
            dir = dir.display(),
            log = log.display()
        );
        std::fs::write(&conf, text).expect("sentinel conf");
        let child = Command::new("redis-sentinel")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-sentinel (apt-get install -y redis-sentinel)");
        let s = Sentinel {
            _proc: Proc { child: Some(child) },
            port,
        };
        wait_for(10, "redis-sentinel to answer", || {
            Conn::try_connect(port)
                .map(|mut c| c.cmd(&["PING"]) == b"+PONG\r\n")
                .unwrap_or(false)
        });
        s
    }

    fn cmd(&self, args: &[&str]) -> Vec<u8> {
        Conn::try_connect(self.port)
            .map(|mut c| c.cmd(args))
            .unwrap_or_default()
    }

    /// The port `get-master-addr-by-name` names, if any.
    fn master_port(&self) -> Option<u16> {
        let reply = show(&self.cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"]));
        // *2\r\n$9\r\n127.0.0.1\r\n$N\r\nPORT\r\n
        reply
            .split("\\r\\n")
            .filter(|s| !s.is_empty())
            .nth(4)
            .and_then(|p| p.parse().ok())
    }

    /// How many entries a SENTINEL subcommand's array reply holds, and
    /// whether every entry looks healthy (no s_down/o_down/disconnected).
    fn count_ok(&self, sub: &str) -> usize {
        let reply = show(&self.cmd(&["SENTINEL", sub, "mymaster"]));
        let n: usize = reply
            .strip_prefix('*')
            .and_then(|r| r.split("\\r\\n").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // A replica some sentinel still believes to be a master (its INFO
        // is refreshed every 10 s) would be converted back by that
        // sentinel as soon as it is promoted: not settled yet.
        if reply.contains("s_down")
            || reply.contains("disconnected")
            || reply.contains("role-reported\\r\\n$6\\r\\nmaster")
        {
            return 0;
        }
        n
    }
}

fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn info(port: u16) -> String {
    info_with(port, None)
}

/// INFO replication, after AUTH when `pass` is given.
fn info_with(port: u16, pass: Option<&str>) -> String {
    Conn::try_connect(port)
        .map(|mut c| {
            if let Some(p) = pass {
                c.cmd(&["AUTH", p]);
            }
            String::from_utf8_lossy(&c.cmd(&["INFO", "replication"])).into_owned()
        })
        .unwrap_or_default()
}

fn is_master(port: u16) -> bool {
    info(port).contains("role:master")
}

fn replicates_from(port: u16, master: u16) -> bool {
    let i = info(port);
    i.contains("role:slave")
        && i.contains(&format!("master_port:{master}\r\n"))
        && i.contains("master_link_status:up")
}

/// Prints the tail of every log in `dir` (called when a wait fails).
fn dump_logs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "log") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(80);
            eprintln!("==== {} ====", p.display());
            for l in &lines[from..] {
                eprintln!("{l}");
            }
        }
    }
}

/// Removes the temporary directory unless the test failed, and prints the
/// logs when it did (or when SENTINEL_TEST_LOGS is set).
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("SENTINEL_TEST_LOGS").is_some() {
            dump_logs(&self.0);
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn redis_sentinel_discovers_fails_over_and_reconfigures_ferrocache() {
    let dir = crate::support::temp_dir("sentinel");
    // Dropped last: the processes are killed before the logs are printed.
    let _cleanup = Cleanup(dir.clone());

    let mut master = Node::new(&dir, "m", None);
    let r1 = Node::new(&dir, "r1", Some(master.port));
    let r2 = Node::new(&dir, "r2", Some(master.port));
    wait_for(15, "both replicas to sync", || {
        replicates_from(r1.port, master.port) && replicates_from(r2.port, master.port)
    });
    let sentinels: Vec<Sentinel> = (0..3)
        .map(|i| Sentinel::new(&dir, i, master.port))
        .collect();

    wait_for(
        20,
        "the sentinels to see both replicas and each other",
        || {
            sentinels
                .iter()
                .all(|s| s.count_ok("replicas") == 2 && s.count_ok("sentinels") == 2)
        },
    );

    // Kill the master: a replica is promoted, the other follows it.
    let old = master.port;
    master.proc.kill();
    let replica_ports = [r1.port, r2.port];
    let mut promoted = 0;
    wait_for(
        30,
        "the sentinels to promote a replica",
        || match sentinels[0].master_port() {
            Some(p) if replica_ports.contains(&p) && is_master(p) => {
                promoted = p;
                true
            }
            _ => false,
        },
    );
    let other = if promoted == r1.port {
        r2.port
    } else {
        r1.port
    };
    wait_for(20, "the other replica to follow the new master", || {
        replicates_from(other, promoted)
    });
    let mut w = Conn::connect(promoted);
    let role = show(&w.cmd(&["ROLE"]));
    assert!(role.starts_with("*3\\r\\n$6\\r\\nmaster\\r\\n"), "{role}");
    let role = show(&Conn::connect(other).cmd(&["ROLE"]));
    assert!(
        role.starts_with(&format!(
            "*5\\r\\n$5\\r\\nslave\\r\\n$9\\r\\n127.0.0.1\\r\\n:{promoted}\\r\\n$9\\r\\nconnected\\r\\n"
        )),
        "{role}"
    );
    assert_eq!(w.cmd(&["SET", "after-failover", "yes"]), b"+OK\r\n");
    wait_for(10, "a write on the new master to reach the replica", || {
        Conn::try_connect(other)
            .map(|mut c| c.cmd(&["GET", "after-failover"]) == b"$3\r\nyes\r\n")
            .unwrap_or(false)
    });
    for s in &sentinels {
        wait_for(10, "every sentinel to name the new master", || {
            s.master_port() == Some(promoted)
        });
    }

    // The old master comes back (same config file) and is turned into a
    // replica of the new one.
    master.start();
    wait_for(30, "the restarted old master to be reconfigured", || {
        replicates_from(old, promoted)
    });
    // Sentinel's CONFIG REWRITE kept the new role in the config file.
    let conf = std::fs::read_to_string(&master.conf).expect("conf");
    assert!(
        conf.contains(&format!("replicaof 127.0.0.1 {promoted}")),
        "rewritten config: {conf}"
    );

    // A failover on demand promotes another node.
    wait_for(25, "every sentinel to see both nodes as replicas", || {
        sentinels.iter().all(|s| s.count_ok("replicas") == 2)
    });
    let reply = sentinels[0].cmd(&["SENTINEL", "failover", "mymaster"]);
    assert_eq!(show(&reply), "+OK\\r\\n");
    let mut second = 0;
    wait_for(
        30,
        "SENTINEL failover to promote another node",
        || match sentinels[0].master_port() {
            Some(p) if p != promoted && is_master(p) => {
                second = p;
                true
            }
            _ => false,
        },
    );
    wait_for(20, "the former master to follow the new one", || {
        replicates_from(promoted, second)
    });
}

/// A real redis-server started from a config file (CONFIG REWRITE needs
/// one), killed on drop.
fn redis_with_conf(dir: &Path, name: &str, replicaof: Option<u16>) -> (Proc, u16) {
    let port = free_port();
    let conf = dir.join(format!("{name}.conf"));
    let data = dir.join(name);
    std::fs::create_dir_all(&data).expect("redis dir");
    let mut text = format!(
        "port {port}\nbind 127.0.0.1\nsave \"\"\ndir {}\nlogfile {}\n",
        data.display(),
        dir.join(format!("{name}.log")).display()
    );
    if let Some(m) = replicaof {
        text.push_str(&format!("replicaof 127.0.0.1 {m}\n"));
    }
    std::fs::write(&conf, text).expect("redis conf");
    let child = Command::new(crate::support::redis_server_path())
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    let p = Proc { child: Some(child) };
    wait_for(10, "redis-server to answer", || {
        Conn::try_connect(port)
            .map(|mut c| c.cmd(&["PING"]) == b"+PONG\r\n")
            .unwrap_or(false)
    });
    (p, port)
}

/// The transactions Sentinel sends to promote a replica and to point a
/// node at a new master, on a Ferrocache replica and a Redis replica side
/// by side: same replies, same effect, and the node keeps answering (the
/// REPLICAOF inside EXEC used to deadlock on the journal's lock).
#[test]
fn sentinel_reconfiguration_transactions_match_redis() {
    let dir = crate::support::temp_dir("sentinel-tx");
    let _cleanup = Cleanup(dir.clone());
    let fc_master = Node::new(&dir, "fm", None);
    let fc_replica = Node::new(&dir, "fr", Some(fc_master.port));
    let (_rm, redis_master) = redis_with_conf(&dir, "rm", None);
    let (_rr, redis_replica) = redis_with_conf(&dir, "rr", Some(redis_master));
    wait_for(15, "both replicas to sync", || {
        replicates_from(fc_replica.port, fc_master.port)
            && replicates_from(redis_replica, redis_master)
    });

    let run = |port: u16, target: Option<u16>| -> (String, bool) {
        // A bystander: CLIENT KILL TYPE normal closes it, not the caller.
        let mut other = Conn::connect(port);
        assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
        let mut c = Conn::connect(port);
        c.cmd(&["CLIENT", "SETNAME", "sentinel-0123abcd-cmd"]);
        let target = target.map(|p| p.to_string());
        let slaveof: Vec<&str> = match &target {
            Some(p) => vec!["SLAVEOF", "127.0.0.1", p],
            None => vec!["SLAVEOF", "NO", "ONE"],
        };
        let mut replies = String::new();
        for args in [
            vec!["MULTI"],
            slaveof,
            vec!["CONFIG", "REWRITE"],
            vec!["CLIENT", "KILL", "TYPE", "normal"],
            vec!["EXEC"],
        ] {
            replies.push_str(&show(&c.cmd(&args)));
        }
        replies.push_str(&show(&c.cmd(&["PING"])));
        (replies, other.is_closed())
    };

    // Promotion.
    let ours = run(fc_replica.port, None);
    let theirs = run(redis_replica, None);
    assert_eq!(ours, theirs, "promotion (left: ferrocache, right: redis)");
    assert!(ours.1, "the bystander was killed");
    assert!(is_master(fc_replica.port));
    let conf = std::fs::read_to_string(&fc_replica.conf).expect("conf");
    assert!(!conf.contains("replicaof"), "rewritten config: {conf}");

    // Back under the old master.
    let ours = run(fc_replica.port, Some(fc_master.port));
    let theirs = run(redis_replica, Some(redis_master));
    assert_eq!(
        ours, theirs,
        "reconfiguration (left: ferrocache, right: redis)"
    );
    wait_for(15, "the node to follow its master again", || {
        replicates_from(fc_replica.port, fc_master.port)
    });
    let conf = std::fs::read_to_string(&fc_replica.conf).expect("conf");
    assert!(
        conf.contains(&format!("replicaof 127.0.0.1 {}", fc_master.port)),
        "rewritten config: {conf}"
    );
}

/// `replica-announced` (Sentinel hides a replica that reports
/// `replica_announced:0`) and `replica-priority` (0: never promoted) are
/// configured and reported as Redis does.
#[test]
fn replica_announced_and_priority_are_configurable() {
    let mut p =
        crate::support::Pair::with(&[("replica-announced", "no"), ("replica-priority", "0")]);
    p.check(&["CONFIG", "GET", "replica-announced"]);
    p.check(&["CONFIG", "GET", "replica-priority"]);
    p.check(&["CONFIG", "SET", "replica-announced", "maybe"]);
    let master = crate::support::ferrocache_with(&[]);
    let replica = crate::support::ferrocache_with(&[
        ("replicaof", &format!("127.0.0.1 {}", master.port())),
        ("replica-announced", "no"),
        ("replica-priority", "0"),
    ]);
    let mut c = Conn::connect(replica.port());
    let field = |c: &mut Conn, f: &str| crate::support::info_field(c, "replication", f);
    assert_eq!(field(&mut c, "replica_announced"), "0");
    assert_eq!(field(&mut c, "slave_priority"), "0");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "replica-announced", "yes"]),
        b"+OK\r\n"
    );
    assert_eq!(field(&mut c, "replica_announced"), "1");
}

/// Nodes protected by `requirepass` (replicas authenticate with
/// `masterauth`), one sentinel with `sentinel auth-pass`: it discovers the
/// replica, and promotes it when the master is killed.
#[test]
fn redis_sentinel_fails_over_password_protected_ferrocache() {
    let dir = crate::support::temp_dir("sentinel-auth");
    let _cleanup = Cleanup(dir.clone());
    let auth = "requirepass s3cret\nmasterauth s3cret\n";
    let mut master = Node::with(&dir, "am", None, auth);
    let replica = Node::with(&dir, "ar", Some(master.port), auth);
    let up = |port: u16, from: u16| {
        let i = info_with(port, Some("s3cret"));
        i.contains("role:slave")
            && i.contains(&format!("master_port:{from}\r\n"))
            && i.contains("master_link_status:up")
    };
    wait_for(15, "the replica to sync with AUTH", || {
        up(replica.port, master.port)
    });
    let s = Sentinel::with(
        &dir,
        0,
        master.port,
        1,
        "sentinel auth-pass mymaster s3cret\n",
    );
    wait_for(15, "the sentinel to see the replica", || {
        s.count_ok("replicas") == 1
    });
    master.proc.kill();
    wait_for(30, "the sentinel to promote the replica", || {
        s.master_port() == Some(replica.port)
            && info_with(replica.port, Some("s3cret")).contains("role:master")
    });
}

/// Subscribed clients are of type pubsub, not normal: Sentinel's
/// `CLIENT KILL TYPE normal` after a reconfiguration leaves them (its own
/// hello link among them) connected, as Redis does.
#[test]
fn subscribers_are_pubsub_clients_not_normal_ones() {
    let mut p = crate::support::Pair::new();
    let mut sub = p.link();
    sub.check(&["SUBSCRIBE", "__sentinel__:hello"]);
    let mut psub = p.link();
    psub.check(&["PSUBSCRIBE", "x*"]);
    let mut ssub = p.link();
    ssub.check(&["SSUBSCRIBE", "y"]);
    let mut normal = p.link();
    normal.check(&["PING"]);
    let lines = |reply: &[u8]| String::from_utf8_lossy(reply).matches("id=").count();
    let (ours, theirs) = p.both(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!((lines(&ours), lines(&theirs)), (3, 3));
    let (ours, theirs) = p.both(&["CLIENT", "LIST", "TYPE", "normal"]);
    assert_eq!(lines(&ours), lines(&theirs));
    p.check(&["CLIENT", "KILL", "TYPE", "normal"]);
    assert!(normal.ours.is_closed() && normal.theirs.is_closed());
    // The subscribers are still there.
    sub.check(&["PING"]);
    psub.check(&["PING"]);
    p.check(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert!(sub.ours.is_closed() && sub.theirs.is_closed());
    assert!(ssub.ours.is_closed() && ssub.theirs.is_closed());
}

/// PUBLISH (and SPUBLISH) on a master reaches subscribers on its replicas (Redis
/// propagates it outside cluster mode; Sentinel's hellos travel that way
/// too), alone, inside MULTI and from a script; the replica stays in step.
#[test]
fn publish_on_a_master_reaches_subscribers_of_its_replicas() {
    let fc = crate::support::ferrocache_with(&[]);
    let replica = crate::support::redis(&[("replicaof", &format!("127.0.0.1 {}", fc.port()))]);
    let fc_replica =
        crate::support::ferrocache_with(&[("replicaof", &format!("127.0.0.1 {}", fc.port()))]);
    wait_for(15, "both replicas to sync", || {
        replicates_from(replica.port, fc.port()) && replicates_from(fc_replica.port(), fc.port())
    });
    let mut subs: Vec<Conn> = [replica.port, fc_replica.port()]
        .iter()
        .map(|&p| {
            let mut c = Conn::connect(p);
            assert!(show(&c.cmd(&["SUBSCRIBE", "__sentinel__:hello"])).contains("subscribe"));
            c
        })
        .collect();
    let mut m = Conn::connect(fc.port());
    assert_eq!(m.cmd(&["PUBLISH", "__sentinel__:hello", "one"]), b":0\r\n");
    m.cmd(&["MULTI"]);
    m.cmd(&["SET", "k", "v"]);
    m.cmd(&["PUBLISH", "__sentinel__:hello", "two"]);
    assert_eq!(m.cmd(&["EXEC"]), b"*2\r\n+OK\r\n:0\r\n");
    m.cmd(&[
        "EVAL",
        "return redis.call('PUBLISH', KEYS[1], ARGV[1])",
        "1",
        "__sentinel__:hello",
        "three",
    ]);
    for s in subs.iter_mut() {
        for msg in ["one", "two", "three"] {
            assert_eq!(
                show(&s.read_reply()),
                format!("*3\\r\\n$7\\r\\nmessage\\r\\n$18\\r\\n__sentinel__:hello\\r\\n${}\\r\\n{msg}\\r\\n", msg.len())
            );
        }
    }
    // SPUBLISH travels the same way.
    for &p in &[replica.port, fc_replica.port()] {
        let mut c = Conn::connect(p);
        assert!(show(&c.cmd(&["SSUBSCRIBE", "shard"])).contains("ssubscribe"));
        subs.push(c);
    }
    assert_eq!(m.cmd(&["SPUBLISH", "shard", "four"]), b":0\r\n");
    for s in subs[2..].iter_mut() {
        assert_eq!(
            show(&s.read_reply()),
            "*3\\r\\n$8\\r\\nsmessage\\r\\n$5\\r\\nshard\\r\\n$4\\r\\nfour\\r\\n"
        );
    }
    let offset =
        |p: u16, f: &str| crate::support::info_field(&mut Conn::connect(p), "replication", f);
    wait_for(10, "the replicas to acknowledge the whole stream", || {
        let end = offset(fc.port(), "master_repl_offset");
        offset(replica.port, "slave_repl_offset") == end
            && offset(fc_replica.port(), "slave_repl_offset") == end
    });
    assert_eq!(
        Conn::connect(replica.port).cmd(&["GET", "k"]),
        b"$1\r\nv\r\n"
    );
}
