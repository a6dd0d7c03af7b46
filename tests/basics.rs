//! Smoke tests of the foundation: the embedding API, pipelining and the
//! protocol's error handling, against the reference server.

use crate::support::{Conn, Pair};

#[test]
fn embedded_server_answers_and_shuts_down() {
    let server = crate::support::ferrocache();
    let mut c = Conn::connect(server.port());
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let port = server.port();
    server.shutdown();
    assert!(Conn::try_connect(port).is_err() || Conn::connect(port).is_closed());
}

#[test]
fn unknown_commands_and_arity_match_redis() {
    let mut p = Pair::new();
    p.check(&["nosuchcommand", "a", "b"]);
    p.check(&["GET"]);
    p.check(&["get", "a", "b"]);
    p.check(&["PING", "hello"]);
    p.check(&["ECHO", "x"]);
    p.check(&["CONFIG", "nosub"]);
    p.check(&["CONFIG"]);
    p.check(&["CONFIG", "GET"]);
}

#[test]
fn pipelined_commands_get_replies_in_order() {
    let server = crate::support::ferrocache();
    let mut c = Conn::connect(server.port());
    let mut req = Vec::new();
    for i in 0..1000 {
        req.extend(crate::support::encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
        req.extend(crate::support::encode(&[
            b"GET",
            format!("k{i}").as_bytes(),
        ]));
    }
    c.send_raw(&req);
    for i in 0..1000 {
        assert_eq!(c.read_reply(), b"+OK\r\n");
        let v = format!("{i}");
        assert_eq!(
            c.read_reply(),
            format!("${}\r\n{v}\r\n", v.len()).into_bytes()
        );
    }
}

#[test]
fn protocol_errors_match_redis_and_close() {
    for bad in [
        &b"*1\r\n$x\r\n"[..],
        b"*1\r\nfoo\r\n",
        b"*abc\r\n",
        b"set \"a\r\n",
        b"*1\r\n$-5\r\n",
    ] {
        let mut p = Pair::new();
        p.theirs.send_raw(bad);
        p.ours.send_raw(bad);
        let (t, o) = (p.theirs.read_reply(), p.ours.read_reply());
        assert_eq!(
            crate::support::show(&o),
            crate::support::show(&t),
            "for {:?}",
            String::from_utf8_lossy(bad)
        );
        assert!(
            p.ours.is_closed(),
            "connection stays open after {:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn hostile_lengths_do_not_allocate() {
    let server = crate::support::ferrocache();
    // Declared lengths that would be gigabytes if trusted.
    let mut a = Conn::connect(server.port());
    a.send_raw(b"*2147483647\r\n$3\r\nGET\r\n");
    let mut b = Conn::connect(server.port());
    b.send_raw(b"*1\r\n$999999999999\r\n");
    assert_eq!(
        b.read_reply(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    let mut c = Conn::connect(server.port());
    c.send_raw(b"*1\r\n$536870912\r\nabc");
    // An endless inline line is cut off at 64 KiB.
    let mut d = Conn::connect(server.port());
    d.send_raw(&vec![b'a'; 70 * 1024]);
    assert_eq!(
        d.read_reply(),
        b"-ERR Protocol error: too big inline request\r\n"
    );
    // The server is still fine, and its heap did not balloon.
    let mut e = Conn::connect(server.port());
    assert_eq!(e.cmd(&["PING"]), b"+PONG\r\n");
}
