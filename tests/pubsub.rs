//! Pub/Sub: replies and messages compared with real Redis, RESP2's
//! subscribed mode and RESP3 pushes, ordering under load, the output buffer
//! limit for slow subscribers, and a real client library (redis-py).

use crate::support::{ferrocache, ferrocache_with, show, Conn, Pair};
use std::time::{Duration, Instant};

/// Reads one pushed message on each server and compares them.
fn check_message(p: &mut Pair) {
    let theirs = p.theirs.read_reply();
    let ours = p.ours.read_reply();
    assert_eq!(show(&ours), show(&theirs), "pushed message differs");
}

/// Sends `line` to both servers and compares the `replies` frames each
/// sends back ((UN)SUBSCRIBE answers once per channel).
fn check_n(p: &mut Pair, line: &str, replies: usize) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
    p.theirs.send(&args);
    p.ours.send(&args);
    for i in 0..replies {
        let theirs = p.theirs.read_reply();
        let ours = p.ours.read_reply();
        assert_eq!(show(&ours), show(&theirs), "reply {i} differs for {line}");
    }
}

#[test]
fn subscribe_publish_and_introspection_match_redis() {
    let mut p = Pair::new();
    let mut other = p.link();
    for (line, n) in [
        ("UNSUBSCRIBE", 1),
        ("PUNSUBSCRIBE", 1),
        ("SUNSUBSCRIBE", 1),
        ("UNSUBSCRIBE nope other", 2),
        ("SUBSCRIBE c1 c2 c1", 3),
        ("GET x", 1),
        ("SET x 1", 1),
        ("PING", 1),
        ("PING hi", 1),
        ("PSUBSCRIBE c* d?", 2),
        ("SSUBSCRIBE s1", 1),
    ] {
        check_n(&mut p, line, n);
    }
    other.check(&["PUBLISH", "c1", "hello"]);
    check_message(&mut p);
    check_message(&mut p);
    other.check(&["PUBLISH", "d1", "pattern only"]);
    check_message(&mut p);
    other.check(&["PUBLISH", "nobody", "x"]);
    other.check(&["SPUBLISH", "s1", "shard"]);
    check_message(&mut p);
    other.check(&["SPUBLISH", "c1", "shard channels are separate"]);
    for cmd in [
        &["PUBSUB", "CHANNELS", "c1*"][..],
        &["PUBSUB", "CHANNELS", "zz*"],
        &["PUBSUB", "NUMSUB", "c1", "c2", "zz"],
        &["PUBSUB", "NUMSUB"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "SHARDCHANNELS"],
        &["PUBSUB", "SHARDCHANNELS", "x*"],
        &["PUBSUB", "SHARDNUMSUB", "s1", "s2"],
        &["PUBSUB", "CHANNELS", "a", "b"],
        &["PUBSUB", "NUMPAT", "x"],
        &["PUBSUB", "HELP"],
        &["PUBSUB", "FOO"],
        &["PUBSUB"],
        &["PUBLISH", "x"],
    ] {
        other.check(cmd);
    }
    for (line, n) in [
        ("UNSUBSCRIBE c2 nope", 2),
        ("PUNSUBSCRIBE d? nope", 2),
        ("SUNSUBSCRIBE", 1),
        ("PUNSUBSCRIBE", 1),
        ("UNSUBSCRIBE", 1),
        ("GET x", 1),
        ("SUBSCRIBE", 1),
    ] {
        check_n(&mut p, line, n);
    }
    other.check(&["PUBSUB", "NUMSUB", "c1"]);
    other.check(&["PUBSUB", "NUMPAT"]);
    // RESET leaves every channel.
    check_n(&mut p, "SUBSCRIBE q", 1);
    check_n(&mut p, "RESET", 1);
    other.check(&["PUBSUB", "NUMSUB", "q"]);
}

#[test]
fn resp3_subscribers_get_pushes_and_may_run_commands() {
    let mut p = Pair::new();
    let mut other = p.link();
    p.both(&["HELLO", "3"]);
    for (line, n) in [
        ("SUBSCRIBE r3", 1),
        ("SET x 1", 1),
        ("GET x", 1),
        ("PING", 1),
        ("PSUBSCRIBE r*", 1),
    ] {
        check_n(&mut p, line, n);
    }
    other.check(&["PUBLISH", "r3", "z"]);
    check_message(&mut p);
    check_message(&mut p);
    for (line, n) in [
        ("UNSUBSCRIBE", 1),
        ("PUNSUBSCRIBE", 1),
        ("UNSUBSCRIBE", 1),
        ("PUBSUB NUMSUB r3 x", 1),
        ("PUBSUB SHARDNUMSUB r3", 1),
        ("PUBSUB CHANNELS", 1),
        // Inside a transaction.
        ("MULTI", 1),
        ("SUBSCRIBE t", 1),
        ("EXEC", 1),
    ] {
        check_n(&mut p, line, n);
    }
}

#[test]
fn client_list_counts_subscriptions() {
    let fc = ferrocache();
    let mut s = Conn::connect(fc.port());
    let mut o = Conn::connect(fc.port());
    s.cmd(&["SUBSCRIBE", "a", "b"]);
    s.read_reply();
    s.cmd(&["PSUBSCRIBE", "p*"]);
    s.cmd(&["SSUBSCRIBE", "x"]);
    let list = String::from_utf8_lossy(&o.cmd(&["CLIENT", "LIST"])).into_owned();
    let line = list
        .lines()
        .find(|l| l.contains("sub=2 psub=1 ssub=1"))
        .unwrap_or_else(|| panic!("subscriber not listed: {list}"));
    assert!(line.contains(" flags=P "), "{line}");
    let info = String::from_utf8_lossy(&o.cmd(&["INFO", "stats"])).into_owned();
    assert!(info.contains("pubsub_channels:2\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:1\r\n"), "{info}");
    assert!(info.contains("pubsubshard_channels:1\r\n"), "{info}");
}

/// Several publishers on several connections: each subscriber receives
/// every message, and each publisher's messages in the order sent.
#[test]
fn messages_arrive_complete_and_in_order_per_publisher() {
    let fc = ferrocache();
    let port = fc.port();
    let mut subs: Vec<Conn> = (0..2)
        .map(|_| {
            let mut c = Conn::connect(port);
            c.cmd(&["SUBSCRIBE", "feed"]);
            c
        })
        .collect();
    let per_publisher = 2000;
    let publishers: Vec<_> = (0..3)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                let mut batch = Vec::new();
                for i in 0..per_publisher {
                    let msg = format!("{p}:{i}");
                    batch.extend(crate::support::encode(&[
                        b"PUBLISH",
                        b"feed",
                        msg.as_bytes(),
                    ]));
                }
                c.send_raw(&batch);
                for _ in 0..per_publisher {
                    assert_eq!(c.read_reply(), b":2\r\n");
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().expect("publisher");
    }
    for sub in subs.iter_mut() {
        let mut next = [0usize; 3];
        for _ in 0..3 * per_publisher {
            let frame = String::from_utf8_lossy(&sub.read_reply()).into_owned();
            let body = frame.lines().nth(6).unwrap_or_default().to_string();
            let (p, i) = body.split_once(':').expect("publisher:index");
            let p: usize = p.parse().expect("publisher id");
            let i: usize = i.parse().expect("index");
            assert_eq!(i, next[p], "publisher {p} out of order: {frame}");
            next[p] += 1;
        }
        assert_eq!(next, [per_publisher; 3]);
    }
}

/// A subscriber that never reads is closed once its queued messages pass
/// the hard limit; the publisher is not slowed and memory stays bounded.
#[test]
fn slow_subscriber_is_closed_by_the_output_buffer_limit() {
    let fc = ferrocache_with(&[("client-output-buffer-limit", "pubsub 256kb 0 0")]);
    let port = fc.port();
    let mut slow = Conn::connect(port);
    slow.cmd(&["SUBSCRIBE", "firehose"]);
    let mut fast = Conn::connect(port);
    fast.cmd(&["SUBSCRIBE", "firehose"]);
    let mut publisher = Conn::connect(port);
    let payload = "x".repeat(16 * 1024);
    let started = Instant::now();
    let mut receivers = Vec::new();
    // 16 MB in all: far past the slow reader's socket buffers and the limit.
    for _ in 0..1024 {
        let r = publisher.cmd(&["PUBLISH", "firehose", &payload]);
        receivers.push(r);
        // The fast subscriber keeps up.
        let m = fast.read_reply();
        assert!(m.len() > payload.len());
        if started.elapsed() > Duration::from_secs(20) {
            panic!("publishing was slowed down by a stuck subscriber");
        }
    }
    assert_eq!(receivers.first().map(Vec::as_slice), Some(&b":2\r\n"[..]));
    assert_eq!(
        receivers.last().map(Vec::as_slice),
        Some(&b":1\r\n"[..]),
        "the slow subscriber was closed"
    );
    assert_eq!(
        show(&publisher.cmd(&["PUBSUB", "NUMSUB", "firehose"])),
        show(b"*2\r\n$8\r\nfirehose\r\n:1\r\n")
    );
    // Its connection is gone: after the buffered data, the socket closes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut closed = false;
    while !closed && Instant::now() < deadline {
        closed = slow.is_closed();
    }
    assert!(closed, "slow subscriber still connected");
}

/// redis-py, a real client library, receives messages in order through its
/// PubSub object, with channel and pattern subscriptions.
#[test]
fn redis_py_receives_published_messages() {
    let fc = ferrocache();
    let script = r#"
import sys, redis
port = int(sys.argv[1])
r = redis.Redis(port=port)
p = r.pubsub()
p.subscribe("news")
p.psubscribe("n*")
assert p.get_message(timeout=2)["type"] == "subscribe"
assert p.get_message(timeout=2)["type"] == "psubscribe"
for i in range(200):
    assert r.publish("news", "item %d" % i) == 2
got = []
while len(got) < 400:
    m = p.get_message(timeout=2)
    assert m is not None, "timed out after %d messages" % len(got)
    got.append((m["type"], m["data"].decode()))
plain = [d for t, d in got if t == "message"]
pattern = [d for t, d in got if t == "pmessage"]
assert plain == ["item %d" % i for i in range(200)], plain[:5]
assert pattern == plain
assert r.pubsub_numsub("news") == [(b"news", 1)]
assert r.pubsub_numpat() == 1
p.close()
print("ok")
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(fc.port().to_string())
        .output()
        .expect("python3 runs (install it and PyPI's redis package: .ci/run does)");
    assert!(
        out.status.success() && out.stdout.starts_with(b"ok"),
        "redis-py test failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
