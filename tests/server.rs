//! Connection and server commands against the reference server: CLIENT,
//! HELLO/AUTH/RESET, CONFIG, INFO, SLOWLOG, LATENCY, DEBUG, MONITOR, PAUSE,
//! and the connection limits (timeout, maxclients, requirepass).

use crate::support::{encode, show, Conn, Pair};
use ferrocache_protocol::frame::Frame;
use std::time::{Duration, Instant};

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim(b) | Frame::Error(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        Frame::Integer(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// Field names of a `k=v k=v` line (CLIENT INFO).
fn client_fields(line: &str) -> Vec<String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

/// (section header, field names) of INFO text, leaving out per-command,
/// per-error and per-database rows whose presence depends on history.
fn info_shape(info: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in info.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(h) = line.strip_prefix("# ") {
            out.push((h.to_string(), Vec::new()));
        } else if let Some((k, _)) = line.split_once(':') {
            let varying = ["cmdstat_", "errorstat_", "latency_percentiles_usec_", "db"]
                .iter()
                .any(|p| k.starts_with(p));
            if !varying {
                if let Some(last) = out.last_mut() {
                    last.1.push(k.to_string());
                }
            }
        }
    }
    out
}

fn info_text(c: &mut Conn, args: &[&str]) -> String {
    text(&{
        let mut a = vec!["INFO"];
        a.extend_from_slice(args);
        c.send(&a.iter().map(|s| s.as_bytes()).collect::<Vec<_>>());
        c.read_frame()
    })
}

#[test]
fn client_subcommand_errors_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        CLIENT GETNAME
        CLIENT SETNAME foo
        CLIENT GETNAME
        CLIENT SETNAME "a b"
        CLIENT SETNAME "a\nb"
        CLIENT SETNAME ""
        CLIENT GETNAME
        CLIENT SETNAME
        CLIENT NOSUCH
        CLIENT
        CLIENT KILL 1.2.3.4:5
        CLIENT KILL ID abc
        CLIENT KILL ID 0
        CLIENT KILL TYPE foo
        CLIENT KILL USER foo
        CLIENT KILL SKIPME maybe
        CLIENT KILL foo bar
        CLIENT KILL ID 1 TYPE
        CLIENT KILL LADDR x
        CLIENT KILL ADDR 1.2.3.4:5
        CLIENT KILL ID 99999
        CLIENT KILL TYPE normal SKIPME yes
        CLIENT LIST TYPE foo
        CLIENT LIST ID abc
        CLIENT LIST ID 1 2 x
        CLIENT LIST ID 0
        CLIENT LIST foo
        CLIENT LIST ID 99999
        CLIENT PAUSE abc
        CLIENT PAUSE -1
        CLIENT PAUSE 10 foo
        CLIENT REPLY foo
        CLIENT NO-EVICT foo
        CLIENT NO-EVICT on
        CLIENT NO-EVICT off
        CLIENT UNBLOCK abc
        CLIENT UNBLOCK 5 foo
        CLIENT UNBLOCK 5
        CLIENT UNBLOCK 5 TIMEOUT
        CLIENT UNBLOCK 5 TIMEOUT x
        CLIENT PAUSE 10 WRITE x
        CLIENT PAUSE 0 ALL
        CLIENT UNPAUSE
        CLIENT UNPAUSE x
        CLIENT REPLY ON
        CLIENT ID x
        CLIENT INFO x
        CLIENT GETREDIR
        CLIENT SETNAME a b
        CLIENT KILL
        CLIENT KILL ADDR
        CLIENT LIST TYPE
        CLIENT LIST TYPE normal x
        CLIENT LIST TYPE pubsub
        CLIENT LIST TYPE master
        CLIENT LIST TYPE replica
        CLIENT LIST TYPE slave
        CLIENT KILL TYPE master
        CLIENT KILL TYPE pubsub
        CLIENT KILL USER default SKIPME yes
        "#,
    );
}

#[test]
fn client_info_and_list_have_redis_fields() {
    let mut p = Pair::new();
    p.check(&["CLIENT", "SETNAME", "me"]);
    let ours = text(&{
        p.ours.send(&[b"CLIENT", b"INFO"]);
        p.ours.read_frame()
    });
    let theirs = text(&{
        p.theirs.send(&[b"CLIENT", b"INFO"]);
        p.theirs.read_frame()
    });
    assert_eq!(client_fields(&ours), client_fields(&theirs));
    assert!(ours.ends_with('\n'));
    assert!(ours.contains(" name=me "), "{ours}");
    assert!(ours.contains(" cmd=client|info "), "{ours}");
    let port = p.fc.port();
    assert!(
        ours.contains(&format!(" laddr=127.0.0.1:{port} ")),
        "{ours}"
    );

    // LIST by id finds exactly this client; TYPE normal lists both.
    let r = p.ours.cmd(&["CLIENT", "ID"]);
    let id = String::from_utf8_lossy(&r[1..r.len() - 2]).into_owned();
    let mut other = Conn::connect(port);
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
    p.ours.send(&[b"CLIENT", b"LIST", b"ID", id.as_bytes()]);
    let list = text(&p.ours.read_frame());
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.starts_with(&format!("id={id} ")), "{list}");
    p.ours.send(&[b"CLIENT", b"LIST", b"TYPE", b"normal"]);
    assert_eq!(text(&p.ours.read_frame()).lines().count(), 2);
    p.ours.send(&[b"CLIENT", b"LIST"]);
    let all = text(&p.ours.read_frame());
    assert_eq!(all.lines().count(), 2);
    assert!(all.contains("cmd=ping"), "{all}");
}

#[test]
fn client_kill_closes_the_victim() {
    let server = crate::support::ferrocache();
    let port = server.port();
    let mut a = Conn::connect(port);
    let mut b = Conn::connect(port);
    let bid = String::from_utf8_lossy(&b.cmd(&["CLIENT", "ID"])[1..])
        .trim()
        .to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &bid]), b":1\r\n");
    assert!(b.is_closed());
    // Old form, by address.
    let mut c = Conn::connect(port);
    let info = text(&{
        c.send(&[b"CLIENT", b"INFO"]);
        c.read_frame()
    });
    let addr = info
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", &addr]), b"+OK\r\n");
    assert!(c.is_closed());
    // Killing oneself replies first, then closes.
    let aid = String::from_utf8_lossy(&a.cmd(&["CLIENT", "ID"])[1..])
        .trim()
        .to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &aid]), b":0\r\n");
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &aid, "SKIPME", "no"]),
        b":1\r\n"
    );
    assert!(a.is_closed());
}

#[test]
fn client_reply_off_and_skip_match_redis() {
    let mut p = Pair::new();
    let mut script = Vec::new();
    for cmd in [
        &["CLIENT", "REPLY", "OFF"][..],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "SKIP"],
        &["SET", "a", "2"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "OFF"],
        &["CLIENT", "REPLY", "SKIP"],
        &["NOSUCHCOMMAND"],
        &["CLIENT", "REPLY", "ON"],
        &["PING"],
    ] {
        let args: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
        script.extend(encode(&args));
    }
    p.ours.send_raw(&script);
    p.theirs.send_raw(&script);
    for _ in 0..5 {
        let (o, t) = (p.ours.read_reply(), p.theirs.read_reply());
        assert_eq!(show(&o), show(&t));
    }
    assert_eq!(p.ours.cmd(&["ECHO", "end"]), b"$3\r\nend\r\n");
}

#[test]
fn hello_auth_and_reset_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        HELLO 4
        HELLO abc
        HELLO 3 AUTH a b
        HELLO 3 AUTH default
        HELLO 3 foo
        HELLO 2 SETNAME "a b"
        HELLO 3 SETNAME
        HELLO 1
        HELLO 0
        HELLO -1
        HELLO 3.0
        HELLO 99999999999999999999
        AUTH default anything
        AUTH x
        AUTH a b
        AUTH a b c
        RESET
        "#,
    );
    // HELLO 3: same keys (values such as id and version differ).
    p.ours.send(&[b"HELLO", b"3"]);
    p.theirs.send(&[b"HELLO", b"3"]);
    let keys = |f: Frame| match f {
        Frame::Map(kv) => kv.iter().map(|(k, _)| text(k)).collect::<Vec<_>>(),
        other => panic!("HELLO 3 gave {other:?}"),
    };
    assert_eq!(keys(p.ours.read_frame()), keys(p.theirs.read_frame()));
    p.check_script(
        r#"
        PING
        PING hello
        ECHO "x y"
        CLIENT SETNAME n1
        SELECT 3
        "#,
    );
    // RESET turns replies back on, and answers even when they were off.
    for c in [&mut p.ours, &mut p.theirs] {
        c.send(&[b"CLIENT", b"REPLY", b"OFF"]);
    }
    p.check_script("RESET\nCLIENT GETNAME\nPING\nSET k v\nGET k");
}

#[test]
fn requirepass_flow_matches_redis() {
    // The harness checks a new server with PING, so the password is set
    // afterwards and fresh connections see it.
    let with_password = || {
        let mut p = Pair::new();
        p.check(&["CONFIG", "SET", "requirepass", "secret"]);
        p.ours = Conn::connect(p.fc.port());
        p.theirs = Conn::connect(p.redis.port);
        p
    };
    let mut p = with_password();
    p.check_script(
        r#"
        GET x
        PING
        HELLO 3
        AUTH wrong
        AUTH default wrong
        HELLO 3 AUTH default wrong
        AUTH secret
        GET x
        RESET
        GET x
        "#,
    );
    // The reply carries the connection id, which differs.
    let (o, t) = p.both(&["HELLO", "2", "AUTH", "default", "secret", "SETNAME", "x"]);
    assert_eq!(o[..2], t[..2]);
    p.check_script("CLIENT GETNAME\nGET x");
    // An unauthenticated client may not announce a big multibulk.
    let mut p = with_password();
    p.ours.send_raw(b"*20000\r\n");
    p.theirs.send_raw(b"*20000\r\n");
    let (o, t) = (p.ours.read_reply(), p.theirs.read_reply());
    assert_eq!(show(&o), show(&t));
    assert!(
        show(&o).contains("unauthenticated multibulk length"),
        "{}",
        show(&o)
    );
    assert!(p.ours.is_closed());
}

#[test]
fn config_errors_match_redis() {
    let mut p = Pair::with(&[("timeout", "0"), ("hz", "10")]);
    p.check_script(
        r#"
        CONFIG SET foo bar
        CONFIG SET maxclients abc
        CONFIG SET daemonize yes
        CONFIG SET maxclients 10 maxclients 20
        CONFIG SET timeout -1
        CONFIG SET timeout
        CONFIG SET timeout 1 hz
        CONFIG SET maxmemory-policy bogus
        CONFIG GET
        CONFIG GET timeout
        CONFIG GET hz
        CONFIG GET maxmemory-policy
        CONFIG GET nosuchparam
        CONFIG GET slowlog-log-slower-than
        CONFIG GET slowlog-max-len
        CONFIG GET databases
        CONFIG SET timeout 30 hz 20
        CONFIG GET timeout
        CONFIG GET hz
        CONFIG RESETSTAT
        CONFIG RESETSTAT x
        CONFIG REWRITE
        CONFIG REWRITE x
        "#,
    );
}

#[test]
fn config_rewrite_keeps_comments_and_unknown_lines() {
    let server = crate::support::ferrocache();
    let dir = std::env::temp_dir().join(format!("fc-rewrite-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("redis.conf");
    std::fs::write(
        &path,
        "# a comment\ntimeout 0\nsome-future-option 1\ntimeout 9\n",
    )
    .unwrap();
    *server.shared().config_file.lock() = Some(path.display().to_string());
    let mut c = Conn::connect(server.port());
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "timeout", "5", "maxmemory", "1mb"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# a comment\ntimeout 5\nsome-future-option 1\n"),
        "{text}"
    );
    assert_eq!(text.matches("timeout").count(), 1, "{text}");
    assert!(text.contains("\n# Generated by CONFIG REWRITE\n"), "{text}");
    assert!(text.contains("\nmaxmemory 1048576\n"), "{text}");
    // A second rewrite with nothing changed is stable.
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn info_sections_and_fields_match_redis() {
    let mut p = Pair::new();
    p.check(&["SET", "k", "v"]);
    for args in [
        &["everything"][..],
        &[],
        &["default"],
        &["all"],
        &["server", "clients"],
        &["keyspace"],
        &["nosuchsection"],
        &["CPU", "memory"],
    ] {
        let ours = info_text(&mut p.ours, args);
        let theirs = info_text(&mut p.theirs, args);
        assert_eq!(info_shape(&ours), info_shape(&theirs), "INFO {args:?}");
    }
    let mem = info_text(&mut p.ours, &["memory"]);
    assert!(mem.contains("\r\nmem_allocator:mimalloc\r\n"), "{mem}");
    let repl = info_text(&mut p.ours, &["replication"]);
    assert!(repl.contains("\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n"));
    let stats = info_text(&mut p.ours, &["commandstats"]);
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
}

#[test]
fn slowlog_matches_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        SLOWLOG RESET
        SLOWLOG LEN
        SLOWLOG GET
        SLOWLOG GET -2
        SLOWLOG GET abc
        SLOWLOG GET 1 2
        SLOWLOG NOSUCH
        SLOWLOG LEN x
        SLOWLOG RESET x
        SLOWLOG
        CONFIG SET slowlog-log-slower-than 0
        CLIENT SETNAME slowpoke
        "#,
    );
    let long = "x".repeat(200);
    let mut del: Vec<String> = vec!["DEL".into()];
    del.extend((0..40).map(|i| format!("k{i}")));
    let del: Vec<&str> = del.iter().map(|s| s.as_str()).collect();
    p.check(&del);
    p.check(&["ECHO", &long]);
    p.ours.send(&[b"SLOWLOG", b"GET", b"2"]);
    p.theirs.send(&[b"SLOWLOG", b"GET", b"2"]);
    // id, time, duration and address differ; arguments and name must not.
    let shape = |f: Frame| -> Vec<(Vec<String>, String)> {
        let Frame::Array(entries) = f else {
            panic!("{f:?}")
        };
        entries
            .into_iter()
            .map(|e| {
                let Frame::Array(e) = e else { panic!() };
                let Frame::Array(args) = &e[3] else { panic!() };
                (args.iter().map(text).collect(), text(&e[5]))
            })
            .collect()
    };
    assert_eq!(shape(p.ours.read_frame()), shape(p.theirs.read_frame()));
    p.check_script(
        r#"
        CONFIG SET slowlog-max-len 1
        PING
        SLOWLOG LEN
        CONFIG SET slowlog-log-slower-than -1
        SLOWLOG RESET
        PING
        SLOWLOG LEN
        "#,
    );
}

#[test]
fn latency_matches_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        LATENCY RESET
        LATENCY LATEST
        LATENCY HISTORY command
        LATENCY GRAPH command
        LATENCY HISTORY
        LATENCY NOSUCH
        LATENCY RESET foo bar
        LATENCY LATEST x
        LATENCY DOCTOR x
        LATENCY GRAPH
        LATENCY
        CONFIG RESETSTAT
        SET a 1
        SET a 2
        "#,
    );
    p.ours.send(&[b"LATENCY", b"HISTOGRAM", b"set", b"nosuch"]);
    p.theirs
        .send(&[b"LATENCY", b"HISTOGRAM", b"set", b"nosuch"]);
    // Bucket counts depend on timing; the names and call counts do not.
    let shape = |f: Frame| -> Vec<String> {
        let Frame::Array(items) = f else {
            panic!("{f:?}")
        };
        let mut out = vec![items.len().to_string()];
        for pair in items.chunks(2) {
            out.push(text(&pair[0]));
            if let Frame::Array(h) = &pair[1] {
                out.push(text(&h[0]));
                out.push(text(&h[1]));
            }
        }
        out
    };
    assert_eq!(shape(p.ours.read_frame()), shape(p.theirs.read_frame()));
    // The monitor records slow commands once it has a threshold.
    let server = crate::support::ferrocache_with(&[
        ("latency-monitor-threshold", "1"),
        ("enable-debug-command", "yes"),
    ]);
    let mut c = Conn::connect(server.port());
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0.01"]), b"+OK\r\n");
    c.send(&[b"LATENCY", b"LATEST"]);
    let Frame::Array(rows) = c.read_frame() else {
        panic!()
    };
    assert_eq!(rows.len(), 1);
    let Frame::Array(row) = &rows[0] else {
        panic!()
    };
    assert_eq!(text(&row[0]), "command");
    assert!(text(&row[2]).parse::<i64>().unwrap() >= 10);
    assert_eq!(c.cmd(&["LATENCY", "RESET", "command", "other"]), b":1\r\n");
}

#[test]
fn debug_matches_redis() {
    let mut p = Pair::new();
    p.check_script("DEBUG SLEEP 0\nDEBUG foo");
    let mut p = Pair::with(&[("enable-debug-command", "yes")]);
    p.check_script(
        r#"
        DEBUG SLEEP 0
        DEBUG SLEEP abc
        DEBUG SLEEP
        DEBUG foo
        DEBUG JMAP
        DEBUG SET-ACTIVE-EXPIRE 1
        DEBUG SET-ACTIVE-EXPIRE
        DEBUG OBJECT nokey
        DEBUG
        "#,
    );
    p.ours.cmd(&["SET", "n", "12345"]);
    let obj = String::from_utf8_lossy(&p.ours.cmd(&["DEBUG", "OBJECT", "n"])).into_owned();
    assert!(
        obj.starts_with("+Value at:0x") && obj.contains(" encoding:int "),
        "{obj}"
    );
    let t = Instant::now();
    assert_eq!(p.ours.cmd(&["DEBUG", "SLEEP", "0.2"]), b"+OK\r\n");
    assert!(t.elapsed() >= Duration::from_millis(190));
}

#[test]
fn misc_server_commands_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        FUNCTION FLUSH
        FUNCTION FLUSH ASYNC
        FUNCTION FLUSH foo
        FUNCTION FLUSH SYNC x
        FUNCTION
        RESET x
        PING a b
        FUNCTION NOSUCH
        TIME x
        LASTSAVE x
        SHUTDOWN foo
        SHUTDOWN ABORT
        SHUTDOWN ABORT NOSAVE
        SHUTDOWN NOSAVE SAVE
        MONITOR x
        "#,
    );
    p.ours.send(&[b"TIME"]);
    let Frame::Array(t) = p.ours.read_frame() else {
        panic!()
    };
    let secs: u64 = text(&t[0]).parse().unwrap();
    let usecs: u64 = text(&t[1]).parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2 && usecs < 1_000_000);
    let last = p.ours.cmd(&["LASTSAVE"]);
    assert_eq!(last[0], b':');
    // A real SHUTDOWN answers nothing and closes, on both.
    let (o, t) = p.both(&["SHUTDOWN", "NOSAVE"]);
    assert_eq!((show(&o), show(&t)), (String::new(), String::new()));
}

#[test]
fn monitor_sees_other_clients_commands_like_redis() {
    let mut p = Pair::new();
    let mut theirs_mon = Conn::connect(p.redis.port);
    let mut ours_mon = Conn::connect(p.fc.port());
    assert_eq!(theirs_mon.cmd(&["MONITOR"]), b"+OK\r\n");
    assert_eq!(ours_mon.cmd(&["MONITOR"]), b"+OK\r\n");
    p.check(&["SET", "k\n", "a \"b\" \x01"]);
    p.check(&["SELECT", "2"]);
    p.check(&["GET", "k"]);
    p.check(&["AUTH", "user", "pass"]);
    p.check(&["HELLO", "2", "AUTH", "user", "pass"]);
    for _ in 0..5 {
        let (o, t) = (ours_mon.read_reply(), theirs_mon.read_reply());
        let (o, t) = (
            String::from_utf8_lossy(&o).into_owned(),
            String::from_utf8_lossy(&t).into_owned(),
        );
        assert!(
            o.starts_with('+') && o.contains(" [") && o.contains(" 127.0.0.1:"),
            "{o}"
        );
        // Timestamps and client ports differ; the rest must not.
        let tail = |s: &str| s.split_once("] ").map(|x| x.1.to_string()).unwrap();
        let db = |s: &str| {
            s.split_once(" [")
                .and_then(|x| x.1.split_once(' '))
                .map(|x| x.0.to_string())
        };
        assert_eq!(tail(&o), tail(&t));
        assert_eq!(db(&o), db(&t));
    }
}

#[test]
fn client_pause_holds_writes_until_unpause_or_timeout() {
    let server = crate::support::ferrocache();
    let port = server.port();
    let mut admin = Conn::connect(port);
    let mut c = Conn::connect(port);
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]), b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(c.cmd(&["GET", "a"]), b"$-1\r\n");
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "reads are not held"
    );
    assert_eq!(c.cmd(&["SET", "a", "1"]), b"+OK\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "the write waited"
    );
    // UNPAUSE releases a held write at once.
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]),
        b"+OK\r\n"
    );
    c.send(&[b"SET", b"a", b"2"]);
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert!(t.elapsed() < Duration::from_secs(2));
    // A huge timeout is accepted (it lasts until UNPAUSE).
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "9223372036854775807", "WRITE"]),
        b"+OK\r\n"
    );
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    // ALL holds reads too.
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "200"]), b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(c.cmd(&["GET", "a"]), b"$1\r\n2\r\n");
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = crate::support::ferrocache_with(&[("timeout", "1")]);
    let mut idle = Conn::connect(server.port());
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let t = Instant::now();
    assert!(idle.is_closed());
    assert!(t.elapsed() >= Duration::from_millis(900) && t.elapsed() < Duration::from_secs(4));
    // CONFIG SET timeout 0 applies to connections already open.
    let mut keeper = Conn::connect(server.port());
    assert_eq!(keeper.cmd(&["CONFIG", "SET", "timeout", "0"]), b"+OK\r\n");
    let mut other = Conn::connect(server.port());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(keeper.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn maxclients_refuses_the_extra_client() {
    let server = crate::support::ferrocache_with(&[("maxclients", "2")]);
    let mut a = Conn::connect(server.port());
    let mut b = Conn::connect(server.port());
    assert_eq!(a.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(b.cmd(&["PING"]), b"+PONG\r\n");
    let mut c = Conn::connect(server.port());
    assert_eq!(c.read_reply(), b"-ERR max number of clients reached\r\n");
    assert!(c.is_closed());
    drop(b);
    // The freed slot can be used again once the server notices the close.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut d = Conn::connect(server.port());
        let r = d.cmd(&["PING"]);
        if r == b"+PONG\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed: {}", show(&r));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn command_docs_cover_every_command_and_client_help_works() {
    let server = crate::support::ferrocache();
    let mut c = Conn::connect(server.port());
    c.send(&[b"COMMAND", b"DOCS"]);
    let Frame::Array(items) = c.read_frame() else {
        panic!()
    };
    assert!(items.len() >= 40);
    for pair in items.chunks(2) {
        let Frame::Array(doc) = &pair[1] else {
            panic!("{:?}", pair[1])
        };
        let keys: Vec<String> = doc.iter().step_by(2).map(text).collect();
        for k in ["summary", "since", "group"] {
            assert!(
                keys.contains(&k.to_string()),
                "{} lacks {k}",
                text(&pair[0])
            );
        }
    }
    for container in ["CLIENT", "SLOWLOG", "LATENCY"] {
        c.send(&[container.as_bytes(), b"HELP"]);
        let Frame::Array(lines) = c.read_frame() else {
            panic!()
        };
        assert!(text(&lines[0]).starts_with(container));
    }
}

#[test]
fn redis_cli_pipe_mass_insertion_works() {
    let server = crate::support::ferrocache();
    let mut input = Vec::new();
    for i in 0..100_000 {
        input.extend(encode(&[
            b"SET",
            format!("key:{i}").as_bytes(),
            format!("v{i}").as_bytes(),
        ]));
    }
    let mut child = std::process::Command::new("redis-cli")
        .args(["-p", &server.port().to_string(), "--pipe"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("redis-cli is installed");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 100000"), "{text}");
    let mut c = Conn::connect(server.port());
    assert_eq!(c.cmd(&["DBSIZE"]), b":100000\r\n");
    // The load just ended, so the sampled rate is still well above zero.
    let stats = info_text(&mut c, &["stats"]);
    let ops: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("instantaneous_ops_per_sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(ops > 0, "{stats}");
}

#[test]
fn client_flags_setinfo_and_monitor_in_list() {
    let server = crate::support::ferrocache();
    let port = server.port();
    let mut c = Conn::connect(port);
    assert_eq!(c.cmd(&["CLIENT", "NO-EVICT", "ON"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "LIB-VER", "1 2"]),
        b"-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "color", "x"]),
        b"-ERR Unrecognized option 'color'\r\n"
    );
    let mut mon = Conn::connect(port);
    assert_eq!(mon.cmd(&["MONITOR"]), b"+OK\r\n");
    c.send(&[b"CLIENT", b"LIST", b"TYPE", b"normal"]);
    let list = text(&c.read_frame());
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains(" flags=e "), "{list}");
    assert!(
        list.contains(" flags=O ") && list.contains(" cmd=monitor "),
        "{list}"
    );
    // Admin commands (CLIENT LIST) are not shown to monitors; others are.
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    let line = String::from_utf8_lossy(&mon.read_reply()).into_owned();
    assert!(line.ends_with("] \"CLIENT\" \"GETNAME\"\r\n"), "{line}");
    // RESET ends monitoring; the connection answers normally again.
    assert_eq!(mon.cmd(&["RESET"]), b"+RESET\r\n");
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(mon.cmd(&["PING"]), b"+PONG\r\n");
}

/// COMMAND INFO lists ACL categories in Redis's category-table order.
#[test]
fn command_info_acl_categories_match_redis_order() {
    use ferrocache_protocol::Frame;
    let mut p = crate::support::Pair::new();
    for name in [
        "get",
        "set",
        "lpush",
        "hset",
        "del",
        "incrbyfloat",
        "config|get",
        "ping",
    ] {
        let cats = |f: Frame| match f {
            Frame::Array(mut outer) if !outer.is_empty() => match outer.swap_remove(0) {
                Frame::Array(fields) if fields.len() > 6 => fields[6].clone(),
                other => panic!("{name}: unexpected entry {other:?}"),
            },
            other => panic!("{name}: unexpected reply {other:?}"),
        };
        p.ours.send(&[b"COMMAND", b"INFO", name.as_bytes()]);
        let ours = cats(p.ours.read_frame());
        p.theirs.send(&[b"COMMAND", b"INFO", name.as_bytes()]);
        let theirs = cats(p.theirs.read_frame());
        assert_eq!(ours, theirs, "categories of {name}");
    }
}
