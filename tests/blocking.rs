//! Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP):
//! what a blocked client receives compared with real Redis, FIFO order among
//! waiters, exactly-once delivery under concurrency, timeouts, wake-ups by
//! transactions, scripts, renames and type changes, CLIENT UNBLOCK, and
//! disconnects while blocked.
//!
//! Every wait is bounded: connections have read timeouts, and blocked
//! clients are polled for with a deadline.

use crate::support::{ferrocache, ferrocache_with, show, Conn, Pair};
use std::time::{Duration, Instant};

fn send(c: &mut Conn, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&args);
}

fn blocked_clients(c: &mut Conn) -> usize {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "clients"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(usize::MAX)
}

/// Waits until `c`'s server reports `n` blocked clients.
fn await_blocked(c: &mut Conn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = blocked_clients(c);
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} blocked clients, server reports {now}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a scenario on both servers: each `blockers` command is sent on a
/// connection of its own (one after another, each blocked before the next,
/// so their order is known), then `pushes` run on the main connection
/// (replies compared; `SLEEP` pauses 100 ms instead), then every blocker's
/// reply is compared, then `after`.
fn scenario(p: &mut Pair, blockers: &[&[&str]], pushes: &[&[&str]], after: &[&[&str]]) {
    let mut links = Vec::new();
    for (i, b) in blockers.iter().enumerate() {
        let mut l = p.link();
        send(&mut l.ours, b);
        send(&mut l.theirs, b);
        await_blocked(&mut p.ours, i + 1);
        await_blocked(&mut p.theirs, i + 1);
        links.push(l);
    }
    for cmd in pushes {
        if cmd == &["SLEEP"] {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        p.check(cmd);
    }
    for (l, b) in links.iter_mut().zip(blockers) {
        let theirs = l.theirs.read_reply();
        let ours = l.ours.read_reply();
        assert_eq!(
            show(&ours),
            show(&theirs),
            "blocked {b:?} after {pushes:?} (left: ferrocache, right: redis)"
        );
    }
    for cmd in after {
        p.check(cmd);
    }
    await_blocked(&mut p.ours, 0);
}

#[test]
fn argument_errors_and_immediate_replies_match_redis() {
    let mut p = Pair::new();
    p.check_script(
        r#"
        BLPOP k -1
        BLPOP k abc
        BLPOP k nan
        BLPOP k 1e30
        BLPOP k inf
        BLPOP k -inf
        BLPOP k " 1"
        BLPOP k "1 "
        BLPOP k 9223372036854776
        BRPOP k -0.5
        BLPOP k
        BRPOP
        BLMOVE a b UP LEFT 0
        BLMOVE a b LEFT RIGHT -1
        BLMOVE a b LEFT RIGHT x
        BLMOVE a b LEFT
        BRPOPLPUSH a b -1
        BRPOPLPUSH a b
        BLMPOP -1 1 k LEFT
        BLMPOP 0 0 k LEFT
        BLMPOP 0 2 k LEFT
        BLMPOP 0 1 k MIDDLE
        BLMPOP 0 1 k LEFT COUNT 0
        BLMPOP 0 1 k LEFT COUNT 1 COUNT 2
        BLMPOP 0 1 k
        BLMPOP x 1 k LEFT
        SET s str
        BLPOP s 0
        BLPOP nokey s 0
        BLMOVE s d LEFT LEFT 0
        BLMPOP 0 2 nokey s LEFT
        RPUSH l a b c d e
        BLPOP nokey l s 0
        BRPOP l 0
        BLMOVE l s LEFT LEFT 0
        BLMOVE l d LEFT RIGHT 0
        BRPOPLPUSH l d 0
        LRANGE d 0 -1
        BLMPOP 0 2 nokey l RIGHT COUNT 10
        EXISTS l
        BLPOP k 0.01
        BRPOP k 0.01
        BLMOVE k d LEFT LEFT 0.01
        BRPOPLPUSH k d 0.01
        BLMPOP 0.01 1 k LEFT
        CLIENT UNBLOCK 999999
        CLIENT UNBLOCK 999999 ERROR
        CLIENT UNBLOCK 999999 BOGUS
        CLIENT UNBLOCK x
        MULTI
        BLPOP k 0
        BRPOP k 0
        BLMOVE k d LEFT LEFT 0
        BRPOPLPUSH k d 0
        BLMPOP 0 1 k LEFT
        BLPOP k -1
        EXEC
        EVAL "return redis.call('blmpop', 0, 1, KEYS[1], 'left')" 1 nothing
        EVAL "return redis.call('blmpop', 0, 1, KEYS[1], 'left')" 1 k
        "#,
    );
    // Name, arity, flags, key positions and ACL categories (key specs are
    // not modelled).
    for name in ["blpop", "brpop", "blmove", "brpoplpush", "blmpop"] {
        use ferrocache_protocol::frame::{parse, Frame};
        let (ours, theirs) = p.both(&["COMMAND", "INFO", name]);
        let head = |b: &[u8]| match parse(b) {
            Ok(Some((Frame::Array(mut outer), _))) if !outer.is_empty() => match outer.remove(0) {
                Frame::Array(info) => info.into_iter().take(7).collect::<Vec<_>>(),
                other => vec![other],
            },
            other => panic!("COMMAND INFO {name}: {other:?}"),
        };
        assert_eq!(head(&ours), head(&theirs), "COMMAND INFO {name}");
    }
    // Refused in scripts (the error's script location is the scripting
    // layer's business; the text before it is compared).
    for cmd in [
        "redis.call('blpop', KEYS[1], 0)",
        "redis.call('blmove', KEYS[1], 'd', 'left', 'left', 0)",
    ] {
        let (ours, theirs) = p.both(&["EVAL", cmd, "1", "k"]);
        let prefix = "-ERR This Redis command is not allowed from script";
        assert!(show(&ours).starts_with(prefix), "{}", show(&ours));
        assert!(show(&theirs).starts_with(prefix), "{}", show(&theirs));
    }
    // RESP3 nulls.
    p.both(&["HELLO", "3"]);
    p.check_script(
        r#"
        BLPOP k 0.01
        BLMOVE k d LEFT LEFT 0.01
        BLMPOP 0.01 1 k LEFT
        RPUSH r3 a
        BLPOP r3 0
        "#,
    );
}

#[test]
fn blocked_clients_receive_what_redis_sends() {
    let mut p = Pair::new();
    scenario(
        &mut p,
        &[&["BLPOP", "a", "b", "0"]],
        &[&["RPUSH", "b", "x", "y"]],
        &[&["LRANGE", "b", "0", "-1"]],
    );
    scenario(
        &mut p,
        &[&["BRPOP", "a", "0"]],
        &[&["LPUSH", "a", "1", "2", "3"]],
        &[&["LRANGE", "a", "0", "-1"]],
    );
    scenario(
        &mut p,
        &[&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]],
        &[&["RPUSH", "src", "v"]],
        &[&["LRANGE", "dst", "0", "-1"], &["EXISTS", "src"]],
    );
    scenario(
        &mut p,
        &[&["BRPOPLPUSH", "src", "dst", "0"]],
        &[&["RPUSH", "src", "v1", "v2"]],
        &[&["LRANGE", "dst", "0", "-1"], &["LRANGE", "src", "0", "-1"]],
    );
    scenario(
        &mut p,
        &[&["BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "2"]],
        &[&["RPUSH", "m2", "1", "2", "3"]],
        &[&["LRANGE", "m2", "0", "-1"]],
    );
    // BLMOVE from a list onto itself.
    p.check(&["DEL", "src", "dst"]);
    scenario(
        &mut p,
        &[&["BLMOVE", "rot", "rot", "LEFT", "RIGHT", "0"]],
        &[&["RPUSH", "rot", "a", "b"]],
        &[&["LRANGE", "rot", "0", "-1"]],
    );
    // Pipelined commands after a blocking one wait for it.
    let mut l = p.link();
    for c in [&mut l.ours, &mut l.theirs] {
        let mut req = crate::support::encode(&[b"BLPOP", b"pipe", b"0"]);
        req.extend(crate::support::encode(&[b"PING"]));
        c.send_raw(&req);
    }
    await_blocked(&mut p.ours, 1);
    await_blocked(&mut p.theirs, 1);
    p.check(&["RPUSH", "pipe", "z"]);
    for _ in 0..2 {
        let (t, o) = (l.theirs.read_reply(), l.ours.read_reply());
        assert_eq!(show(&o), show(&t));
    }
}

#[test]
fn waiters_are_served_in_fifo_order() {
    let mut p = Pair::new();
    scenario(
        &mut p,
        &[
            &["BLPOP", "q", "0"],
            &["BLPOP", "other", "q", "0"],
            &["BLMPOP", "0", "1", "q", "LEFT", "COUNT", "2"],
            &["BRPOP", "q", "0"],
        ],
        &[&["RPUSH", "q", "1", "2", "3", "4", "5", "6"]],
        &[&["LRANGE", "q", "0", "-1"]],
    );
    // One element at a time: each push serves the oldest waiter.
    scenario(
        &mut p,
        &[
            &["BLPOP", "f", "0"],
            &["BLPOP", "f", "0"],
            &["BLPOP", "f", "0"],
        ],
        &[
            &["RPUSH", "f", "a"],
            &["RPUSH", "f", "b"],
            &["RPUSH", "f", "c"],
        ],
        &[&["EXISTS", "f"]],
    );
}

#[test]
fn transactions_scripts_and_moves_serve_after_completion() {
    let mut p = Pair::new();
    // The waiter sees the state after EXEC, not the first push.
    scenario(
        &mut p,
        &[&["BLPOP", "t", "0"]],
        &[
            &["MULTI"],
            &["RPUSH", "t", "a", "b"],
            &["LPOP", "t"],
            &["EXEC"],
        ],
        &[&["LRANGE", "t", "0", "-1"]],
    );
    // Two keys become ready in one transaction: the first one pushed
    // serves the client blocked on both.
    scenario(
        &mut p,
        &[&["BLPOP", "ka", "kb", "0"], &["BLPOP", "ka", "0"]],
        &[
            &["MULTI"],
            &["RPUSH", "kb", "1"],
            &["RPUSH", "ka", "2"],
            &["EXEC"],
        ],
        &[&["EXISTS", "ka", "kb"]],
    );
    // Pushed then deleted inside the transaction: nothing to serve; the
    // next push does.
    scenario(
        &mut p,
        &[&["BLPOP", "t", "0"]],
        &[
            &["MULTI"],
            &["RPUSH", "t", "a"],
            &["DEL", "t"],
            &["EXEC"],
            &["RPUSH", "t", "q"],
        ],
        &[&["EXISTS", "t"]],
    );
    scenario(
        &mut p,
        &[&["BRPOP", "s", "0"]],
        &[&[
            "EVAL",
            "redis.call('rpush', KEYS[1], 'a', 'b', 'c') redis.call('rpop', KEYS[1]) return 1",
            "1",
            "s",
        ]],
        &[&["LRANGE", "s", "0", "-1"]],
    );
    // LMOVE's destination, RENAME and a chain of BLMOVEs.
    scenario(
        &mut p,
        &[&["BLPOP", "dst", "0"]],
        &[
            &["RPUSH", "src", "a"],
            &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
        ],
        &[&["EXISTS", "dst"]],
    );
    scenario(
        &mut p,
        &[&["BLPOP", "rn", "0"]],
        &[&["RPUSH", "tmp", "x"], &["RENAME", "tmp", "rn"]],
        &[&["EXISTS", "rn"]],
    );
    scenario(
        &mut p,
        &[
            &["BLMOVE", "c1", "c2", "LEFT", "LEFT", "0"],
            &["BLPOP", "c2", "0"],
        ],
        &[&["RPUSH", "c1", "x"]],
        &[&["EXISTS", "c1", "c2"]],
    );
}

#[test]
fn type_changes_deletions_and_expiry() {
    let mut p = Pair::new();
    // Replaced by a string: the client keeps waiting; deleted and pushed
    // again: it is served.
    scenario(
        &mut p,
        &[&["BLPOP", "k", "0"]],
        &[
            &["SET", "k", "str"],
            &["INFO", "keyspace"],
            &["DEL", "k"],
            &["RPUSH", "k", "z"],
        ],
        &[],
    );
    // A string that expires, then a push.
    scenario(
        &mut p,
        &[&["BLPOP", "e", "0"]],
        &[
            &["SET", "e", "str", "PX", "30"],
            &["SLEEP"],
            &["RPUSH", "e", "a"],
        ],
        &[&["EXISTS", "e"]],
    );
    // BLMOVE whose destination became a string: WRONGTYPE for the waiter,
    // the element stays, and the next waiter gets it.
    scenario(
        &mut p,
        &[
            &["BLMOVE", "src", "dstr", "LEFT", "LEFT", "0"],
            &["BLPOP", "src", "0"],
        ],
        &[&["SET", "dstr", "str"], &["RPUSH", "src", "a", "b"]],
        &[&["LRANGE", "src", "0", "-1"], &["GET", "dstr"]],
    );
}

#[test]
fn keyspace_notifications_on_serve_match_redis() {
    let mut p = Pair::with(&[("notify-keyspace-events", "KEA")]);
    let mut sub = p.link();
    sub.check(&["PSUBSCRIBE", "__key*__:*"]);
    scenario(
        &mut p,
        &[
            &["BLMOVE", "ns", "nd", "RIGHT", "LEFT", "0"],
            &["BLPOP", "ns", "0"],
        ],
        &[&["RPUSH", "ns", "a", "b"]],
        &[],
    );
    scenario(
        &mut p,
        &[&["BLMPOP", "0", "1", "nm", "LEFT", "COUNT", "5"]],
        &[&["LPUSH", "nm", "x"]],
        &[],
    );
    let collect = |c: &mut Conn| {
        send(c, &["PING"]);
        let mut got = Vec::new();
        loop {
            let r = c.read_reply();
            if r.is_empty() || show(&r).contains("pong") {
                break;
            }
            got.push(show(&r));
        }
        got
    };
    let theirs = collect(&mut sub.theirs);
    let ours = collect(&mut sub.ours);
    assert_eq!(ours, theirs);
}

#[test]
fn client_unblock_both_modes_match_redis() {
    let mut p = Pair::new();
    for mode in [None, Some("TIMEOUT"), Some("ERROR")] {
        for cmd in [
            &["BLPOP", "u", "0"][..],
            &["BLMOVE", "u", "v", "LEFT", "LEFT", "0"][..],
        ] {
            let mut l = p.link();
            let id_o = String::from_utf8_lossy(&l.ours.cmd(&["CLIENT", "ID"]))
                .trim_matches(|c: char| !c.is_ascii_digit())
                .to_string();
            let id_t = String::from_utf8_lossy(&l.theirs.cmd(&["CLIENT", "ID"]))
                .trim_matches(|c: char| !c.is_ascii_digit())
                .to_string();
            send(&mut l.ours, cmd);
            send(&mut l.theirs, cmd);
            await_blocked(&mut p.ours, 1);
            await_blocked(&mut p.theirs, 1);
            let mut args_o = vec!["CLIENT", "UNBLOCK", id_o.as_str()];
            let mut args_t = vec!["CLIENT", "UNBLOCK", id_t.as_str()];
            if let Some(m) = mode {
                args_o.push(m);
                args_t.push(m);
            }
            assert_eq!(show(&p.ours.cmd(&args_o)), show(&p.theirs.cmd(&args_t)));
            assert_eq!(show(&l.ours.read_reply()), show(&l.theirs.read_reply()));
            // Error replies are counted as Redis counts them.
            let section = |c: &mut Conn| {
                let info = String::from_utf8_lossy(&c.cmd(&["INFO", "errorstats"])).into_owned();
                info.lines().skip(1).map(str::to_string).collect::<Vec<_>>()
            };
            assert_eq!(section(&mut p.ours), section(&mut p.theirs));
            // Not blocked any more.
            assert_eq!(show(&p.ours.cmd(&args_o)), ":0\\r\\n");
            assert_eq!(show(&l.ours.cmd(&["PING"])), "+PONG\\r\\n");
        }
    }
}

#[test]
fn info_and_client_list_show_blocked_clients() {
    let s = ferrocache();
    let mut c = Conn::connect(s.port());
    let mut b = Conn::connect(s.port());
    let id = String::from_utf8_lossy(&b.cmd(&["CLIENT", "ID"]))
        .trim_matches(|c: char| !c.is_ascii_digit())
        .to_string();
    send(&mut b, &["BLPOP", "x", "y", "0"]);
    await_blocked(&mut c, 1);
    let mut t = Conn::connect(s.port());
    send(&mut t, &["BLPOP", "tz", "5"]);
    await_blocked(&mut c, 2);
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "clients"])).into_owned();
    assert!(info.contains("clients_in_timeout_table:1\r\n"), "{info}");
    c.cmd(&["RPUSH", "tz", "for-t"]);
    assert_eq!(
        show(&t.read_reply()),
        "*2\\r\\n$2\\r\\ntz\\r\\n$5\\r\\nfor-t\\r\\n"
    );
    await_blocked(&mut c, 1);
    let list = String::from_utf8_lossy(&c.cmd(&["CLIENT", "LIST"])).into_owned();
    let line = list
        .lines()
        .find(|l| l.contains(&format!("id={id} ")))
        .expect("blocked client listed");
    assert!(line.contains(" flags=b "), "{line}");
    assert!(line.contains(" cmd=blpop "), "{line}");
    c.cmd(&["RPUSH", "y", "1"]);
    assert_eq!(
        show(&b.read_reply()),
        "*2\\r\\n$1\\r\\ny\\r\\n$1\\r\\n1\\r\\n"
    );
    await_blocked(&mut c, 0);
    let list = String::from_utf8_lossy(&c.cmd(&["CLIENT", "LIST"])).into_owned();
    assert!(!list.contains(" flags=b "), "{list}");
}

#[test]
fn timeouts_answer_nil_in_time() {
    let s = ferrocache();
    let mut c = Conn::connect(s.port());
    for (cmd, want) in [
        (&["BLPOP", "none", "0.1"][..], "*-1\\r\\n"),
        (&["BRPOP", "none", "none2", "0.1"][..], "*-1\\r\\n"),
        (
            &["BLMOVE", "none", "d", "LEFT", "LEFT", "0.1"][..],
            "*-1\\r\\n",
        ),
        (&["BRPOPLPUSH", "none", "d", "0.1"][..], "*-1\\r\\n"),
        (&["BLMPOP", "0.1", "1", "none", "LEFT"][..], "*-1\\r\\n"),
    ] {
        let t = Instant::now();
        assert_eq!(show(&c.cmd(cmd)), want, "{cmd:?}");
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(95) && took < Duration::from_secs(2),
            "{cmd:?} took {took:?}"
        );
    }
    assert_eq!(blocked_clients(&mut c), 0);
    // A waiter that timed out gets nothing later: the element stays.
    c.cmd(&["RPUSH", "none", "a"]);
    assert_eq!(show(&c.cmd(&["LLEN", "none"])), ":1\\r\\n");
}

#[test]
fn disconnect_while_blocked_unregisters() {
    let s = ferrocache();
    let mut c = Conn::connect(s.port());
    for _ in 0..3 {
        let mut b = Conn::connect(s.port());
        send(&mut b, &["BLPOP", "gone", "0"]);
        await_blocked(&mut c, 1);
        drop(b);
        await_blocked(&mut c, 0);
    }
    c.cmd(&["RPUSH", "gone", "a"]);
    assert_eq!(
        show(&c.cmd(&["LRANGE", "gone", "0", "-1"])),
        "*1\\r\\n$1\\r\\na\\r\\n"
    );
    // A killed client is unregistered too.
    let mut b = Conn::connect(s.port());
    let id = String::from_utf8_lossy(&b.cmd(&["CLIENT", "ID"]))
        .trim_matches(|c: char| !c.is_ascii_digit())
        .to_string();
    send(&mut b, &["BLPOP", "gone2", "0"]);
    await_blocked(&mut c, 1);
    assert_eq!(show(&c.cmd(&["CLIENT", "KILL", "ID", &id])), ":1\\r\\n");
    await_blocked(&mut c, 0);
    assert!(b.is_closed());
}

/// Many clients on several connections (and so several worker threads)
/// block on one key while a pusher pushes: every element reaches exactly one
/// of them.
#[test]
fn every_push_is_served_exactly_once_under_concurrency() {
    let s = ferrocache_with(&[]);
    let port = s.port();
    const N: usize = 3000;
    let mut handles = Vec::new();
    for i in 0..8 {
        handles.push(std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            let mut got = Vec::new();
            loop {
                let reply = match i % 4 {
                    0 | 1 => c.cmd(&["BLPOP", "other", "cq", "1"]),
                    2 => c.cmd(&["BLMPOP", "1", "1", "cq", "LEFT", "COUNT", "3"]),
                    _ => c.cmd(&["BRPOPLPUSH", "cq", &format!("mine{i}"), "1"]),
                };
                match ferrocache_protocol::frame::parse(&reply) {
                    Ok(Some((frame, _))) => {
                        let items = flatten(frame);
                        if items.is_empty() {
                            break;
                        }
                        got.extend(items.into_iter().filter(|s| s != "cq"));
                    }
                    _ => panic!("bad reply {}", show(&reply)),
                }
            }
            got
        }));
    }
    let mut c = Conn::connect(port);
    await_blocked(&mut c, 8);
    let started = Instant::now();
    for chunk in (0..N).collect::<Vec<_>>().chunks(7) {
        let mut args = vec!["RPUSH".to_string(), "cq".to_string()];
        args.extend(chunk.iter().map(|n| n.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        c.cmd(&args);
    }
    let mut all: Vec<usize> = Vec::new();
    for h in handles {
        let got = h.join().expect("blocker thread");
        all.extend(got.iter().map(|s| s.parse::<usize>().expect("an element")));
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    all.sort_unstable();
    let expected: Vec<usize> = (0..N).collect();
    assert_eq!(all.len(), N, "every element received once");
    assert_eq!(all, expected);
    assert_eq!(show(&c.cmd(&["EXISTS", "cq"])), ":0\\r\\n");
}

fn flatten(f: ferrocache_protocol::frame::Frame) -> Vec<String> {
    use ferrocache_protocol::frame::Frame;
    match f {
        Frame::Array(v) => v.into_iter().flat_map(flatten).collect(),
        Frame::Bulk(b) => vec![String::from_utf8_lossy(&b).into_owned()],
        _ => Vec::new(),
    }
}

/// Waiters that time out, and are unblocked by CLIENT UNBLOCK, while
/// elements arrive: an element is either received by exactly one client or
/// still in the list at the end, never lost or duplicated.
#[test]
fn timeouts_and_unblocks_racing_pushes_lose_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let s = ferrocache();
    let port = s.port();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for i in 0..6 {
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            let mut got = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let reply = if i % 2 == 0 {
                    c.cmd(&["BLPOP", "race", "0.01"])
                } else {
                    c.cmd(&[
                        "BLMOVE",
                        "race",
                        &format!("kept{i}"),
                        "RIGHT",
                        "LEFT",
                        "0.02",
                    ])
                };
                if let Ok(Some((frame, _))) = ferrocache_protocol::frame::parse(&reply) {
                    got.extend(flatten(frame).into_iter().filter(|s| s != "race"));
                }
            }
            got
        }));
    }
    let unblocker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            while !stop.load(Ordering::Relaxed) {
                for id in 1..12 {
                    let mode = if id % 2 == 0 { "TIMEOUT" } else { "ERROR" };
                    c.cmd(&["CLIENT", "UNBLOCK", &id.to_string(), mode]);
                }
                std::thread::sleep(Duration::from_millis(3));
            }
        })
    };
    let mut c = Conn::connect(port);
    const N: usize = 1500;
    let started = Instant::now();
    for n in 0..N {
        c.cmd(&["RPUSH", "race", &n.to_string()]);
        if n % 50 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<usize> = Vec::new();
    for h in handles {
        let got = h.join().expect("blocker thread");
        all.extend(got.iter().map(|s| s.parse::<usize>().expect("an element")));
    }
    unblocker.join().expect("unblocker thread");
    assert!(started.elapsed() < Duration::from_secs(30));
    let rest = ferrocache_protocol::frame::parse(&c.cmd(&["LRANGE", "race", "0", "-1"]))
        .ok()
        .flatten()
        .map(|(f, _)| flatten(f))
        .unwrap_or_default();
    all.extend(rest.iter().map(|s| s.parse::<usize>().expect("an element")));
    all.sort_unstable();
    assert_eq!(all, (0..N).collect::<Vec<_>>());
    await_blocked(&mut c, 0);
}

#[test]
fn copy_move_swapdb_and_databases_match_redis() {
    let mut p = Pair::new();
    scenario(
        &mut p,
        &[&["BLPOP", "cp", "0"]],
        &[&["RPUSH", "orig", "a", "b"], &["COPY", "orig", "cp"]],
        &[&["LRANGE", "cp", "0", "-1"], &["LRANGE", "orig", "0", "-1"]],
    );
    scenario(
        &mut p,
        &[&["BLPOP", "mv", "0"]],
        &[
            &["SELECT", "1"],
            &["RPUSH", "mv", "x"],
            &["MOVE", "mv", "0"],
            &["SELECT", "0"],
        ],
        &[&["EXISTS", "mv"]],
    );
    scenario(
        &mut p,
        &[&["BLPOP", "sw", "0"]],
        &[
            &["SELECT", "2"],
            &["RPUSH", "sw", "y", "z"],
            &["SELECT", "0"],
            &["SWAPDB", "0", "2"],
        ],
        &[&["LRANGE", "sw", "0", "-1"], &["SWAPDB", "0", "2"]],
    );
    // A waiter in database 3 is not served by a push to database 0.
    let mut l = p.link();
    for c in [&mut l.ours, &mut l.theirs] {
        assert_eq!(c.cmd(&["SELECT", "3"]), b"+OK\r\n");
        send(c, &["BLPOP", "db3", "0"]);
    }
    await_blocked(&mut p.ours, 1);
    await_blocked(&mut p.theirs, 1);
    p.check(&["RPUSH", "db3", "not-for-you"]);
    p.check(&["SELECT", "3"]);
    p.check(&["RPUSH", "db3", "yours"]);
    assert_eq!(show(&l.ours.read_reply()), show(&l.theirs.read_reply()));
    p.check(&["LRANGE", "db3", "0", "-1"]);
    p.check(&["SELECT", "0"]);
    p.check(&["LRANGE", "db3", "0", "-1"]);
}

#[test]
fn resp3_clients_receive_what_redis_sends() {
    let mut p = Pair::new();
    let mut l = p.link();
    l.ours.cmd(&["HELLO", "3"]);
    l.theirs.cmd(&["HELLO", "3"]);
    for (block, push) in [
        (&["BLPOP", "r", "0"][..], &["RPUSH", "r", "a"][..]),
        (
            &["BLMPOP", "0", "1", "r", "LEFT", "COUNT", "3"][..],
            &["RPUSH", "r", "a", "b"][..],
        ),
        (
            &["BLMOVE", "r", "r2", "LEFT", "LEFT", "0"][..],
            &["RPUSH", "r", "c"][..],
        ),
    ] {
        send(&mut l.ours, block);
        send(&mut l.theirs, block);
        await_blocked(&mut p.ours, 1);
        await_blocked(&mut p.theirs, 1);
        p.check(push);
        assert_eq!(
            show(&l.ours.read_reply()),
            show(&l.theirs.read_reply()),
            "{block:?}"
        );
    }
    for cmd in [
        &["BLPOP", "none", "0.01"][..],
        &["BLMOVE", "none", "d", "LEFT", "LEFT", "0.01"][..],
        &["BLMPOP", "0.01", "1", "none", "LEFT"][..],
    ] {
        assert_eq!(show(&l.ours.cmd(cmd)), show(&l.theirs.cmd(cmd)), "{cmd:?}");
    }
}

/// Served blocked clients are journaled as the plain pops and moves that
/// replay them, after the write that served them: the AOF reloads to the
/// same data, and real Redis loads it too.
#[test]
fn served_pops_are_journaled_and_replay() {
    use crate::aof::{ferrocache_in, fingerprint, temp_dir};
    let dir = temp_dir("blocking");
    let fc = ferrocache_in(&dir, &[]).expect("starts");
    let port = fc.port();
    let mut c = Conn::connect(port);
    let mut waiters = Vec::new();
    for (i, cmd) in [
        &["BLPOP", "j1", "0"][..],
        &["BLMOVE", "j2", "j2dst", "RIGHT", "LEFT", "0"][..],
        &["BLMPOP", "0", "1", "j3", "LEFT", "COUNT", "2"][..],
        &["BRPOP", "j4", "0"][..],
    ]
    .iter()
    .enumerate()
    {
        let mut w = Conn::connect(port);
        send(&mut w, cmd);
        await_blocked(&mut c, i + 1);
        waiters.push(w);
    }
    c.cmd(&["RPUSH", "j1", "a", "b"]);
    c.cmd(&["RPUSH", "j2", "c", "d"]);
    c.cmd(&["RPUSH", "j3", "e", "f", "g"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["RPUSH", "j4", "h", "i", "j"]);
    c.cmd(&["LPOP", "j4"]);
    c.cmd(&["EXEC"]);
    // Served at once: journaled as the pop too.
    c.cmd(&["BLPOP", "j1", "0"]);
    for w in &mut waiters {
        assert!(!w.read_reply().is_empty());
    }
    await_blocked(&mut c, 0);
    let before = fingerprint(port);
    assert!(before.iter().any(|l| l.contains("j2dst")), "{before:?}");
    fc.shutdown();
    let mut journal = Vec::new();
    for entry in std::fs::read_dir(dir.join("appendonlydir")).expect("aof dir") {
        let path = entry.expect("entry").path();
        if path.to_string_lossy().ends_with(".incr.aof") {
            journal.extend(std::fs::read(path).expect("aof file"));
        }
    }
    let text = String::from_utf8_lossy(&journal);
    assert!(!text.contains("BLPOP") && !text.contains("BLMOVE") && !text.contains("BLMPOP"));
    assert!(text.contains("LMOVE"), "{text}");
    let fc = ferrocache_in(&dir, &[]).expect("restarts");
    assert_eq!(fingerprint(fc.port()), before);
    fc.shutdown();
    let r = crate::support::redis(&[("dir", &dir.display().to_string()), ("appendonly", "yes")]);
    assert_eq!(fingerprint(r.port), before, "real redis loads our AOF");
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `appendfsync always`, a served client's answer waits for its pop to
/// be durable like any write's reply, and still arrives promptly.
#[test]
fn served_answers_arrive_with_appendfsync_always() {
    use crate::aof::{ferrocache_in, temp_dir};
    let dir = temp_dir("blocking-always");
    let fc = ferrocache_in(&dir, &[("appendfsync", "always")]).expect("starts");
    let mut c = Conn::connect(fc.port());
    let mut w = Conn::connect(fc.port());
    for n in 0..20 {
        send(&mut w, &["BLPOP", "dur", "5"]);
        await_blocked(&mut c, 1);
        let started = Instant::now();
        c.cmd(&["RPUSH", "dur", &n.to_string()]);
        let want = format!(
            "*2\\r\\n$3\\r\\ndur\\r\\n${}\\r\\n{n}\\r\\n",
            n.to_string().len()
        );
        assert_eq!(show(&w.read_reply()), want);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    fc.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

/// BZPOPMIN, BZPOPMAX and BZMPOP: immediate replies, errors, and what a
/// blocked client receives, compared with Redis.
#[test]
fn sorted_set_blocking_pops_match_redis() {
    let mut p = Pair::new();
    for cmd in [
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"][..],
        &["BZPOPMIN", "z", "0"],
        &["BZPOPMAX", "z", "0"],
        &["BZPOPMIN", "nokey", "z", "0.01"],
        &["ZADD", "z", "4", "d", "5", "e"],
        &["BZMPOP", "0", "1", "z", "MIN"],
        &["BZPOPMIN", "nokey", "0.01"],
        &["BZMPOP", "0.01", "1", "nokey", "MAX", "COUNT", "2"],
        &["SET", "str", "x"],
        &["BZPOPMIN", "str", "0"],
        &["BZMPOP", "0", "1", "str", "MIN"],
        &["BZPOPMIN", "z", "-1"],
        &["BZPOPMIN", "z", "abc"],
        &["BZMPOP", "0", "0", "z", "MIN"],
        &["BZMPOP", "0", "1", "z", "SIDEWAYS"],
        &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"],
        &["BZMPOP", "x", "1", "z", "MIN"],
        &["MULTI"],
        &["BZPOPMIN", "nokey", "0"],
        &["BZMPOP", "0", "1", "nokey", "MAX"],
        &["EXEC"],
        &["EVAL", "return redis.call('bzpopmin', 'nokey', 0)", "0"],
        &[
            "EVAL",
            "return redis.call('bzmpop', 0, 1, 'nokey', 'min')",
            "0",
        ],
    ] {
        p.check(cmd);
    }
    // Blocked clients served by ZADD, in order, one member each.
    scenario(
        &mut p,
        &[&["BZPOPMIN", "w1", "w2", "0"], &["BZPOPMAX", "w2", "0"]],
        &[&["ZADD", "w2", "5", "five", "7", "seven", "1", "one"]],
        &[&["ZRANGE", "w2", "0", "-1", "WITHSCORES"]],
    );
    scenario(
        &mut p,
        &[&["BZMPOP", "0", "2", "m1", "m2", "MAX", "COUNT", "2"]],
        &[&["ZADD", "m2", "1", "a", "2", "b", "3", "c"]],
        &[&["ZCARD", "m2"]],
    );
    // A write of another type keeps it waiting; ZADD after DEL serves it.
    scenario(
        &mut p,
        &[&["BZPOPMIN", "t", "0"]],
        &[&["SET", "t", "x"], &["DEL", "t"], &["ZADD", "t", "3", "m"]],
        &[&["EXISTS", "t"]],
    );
    // Timeouts answer a null array.
    p.check(&["BZPOPMAX", "never", "0.05"]);
    p.check(&["BZMPOP", "0.05", "1", "never", "MIN"]);
    p.both(&["HELLO", "3"]);
    p.check(&["BZPOPMAX", "never", "0.05"]);
    p.check(&["ZADD", "r3", "1.5", "x"]);
    p.check(&["BZPOPMIN", "r3", "0"]);
}
