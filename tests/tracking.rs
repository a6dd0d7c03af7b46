//! CLIENT TRACKING compared with real Redis: the invalidation messages a
//! tracking client receives (RESP3 pushes, or `__redis__:invalidate`
//! messages for a REDIRECT target), in every mode, and the errors.

use crate::support::{show, Conn, Pair};

/// Sends `args` and reads up to its reply, collecting the invalidation
/// messages (pushes, or pub/sub messages) that arrive before it.
fn run(c: &mut Conn, args: &[&str]) -> Vec<String> {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&bytes);
    let mut seen = Vec::new();
    loop {
        let frame = c.read_reply();
        let text = show(&frame);
        let is_message = frame.starts_with(b">") || frame.starts_with(b"*3\r\n$7\r\nmessage\r\n");
        seen.push(text);
        if !is_message || frame.is_empty() {
            return seen;
        }
    }
}

/// Runs `args` on one client of each server; asserts the same messages
/// and reply arrived.
fn same(ours: &mut Conn, theirs: &mut Conn, args: &[&str]) {
    let r = run(theirs, args);
    let o = run(ours, args);
    assert_eq!(o, r, "{args:?} (left: ferrocache, right: redis)");
}

#[test]
fn default_mode_invalidates_each_read_key_once() {
    let p = Pair::new();
    let mut t = p.link();
    let mut w = p.link();
    t.ours.cmd(&["HELLO", "3"]);
    t.theirs.cmd(&["HELLO", "3"]);
    same(&mut t.ours, &mut t.theirs, &["CLIENT", "TRACKING", "on"]);
    same(&mut t.ours, &mut t.theirs, &["GET", "k1"]);
    same(&mut t.ours, &mut t.theirs, &["MGET", "k2", "k3"]);
    same(&mut t.ours, &mut t.theirs, &["HGET", "h", "f"]);
    w.check(&["SET", "k1", "x"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    w.check(&["MSET", "k2", "x", "k3", "y"]);
    w.check(&["HSET", "h", "f", "v"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    // Not read again: no second message.
    w.check(&["SET", "k1", "again"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    same(&mut t.ours, &mut t.theirs, &["GET", "k1"]);
    w.check(&["DEL", "k1"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    // A write the tracking client makes itself comes back to it.
    same(&mut t.ours, &mut t.theirs, &["GET", "mine"]);
    same(&mut t.ours, &mut t.theirs, &["SET", "mine", "1"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    // Expiry invalidates too.
    same(&mut t.ours, &mut t.theirs, &["GET", "short"]);
    // Long enough that the second read below happens before it expires,
    // however slow the machine; both servers then delete it (lazily or
    // actively) during the sleep or at the GET, and say so.
    w.check(&["SET", "short", "1", "PX", "300"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    same(&mut t.ours, &mut t.theirs, &["GET", "short"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    w.check(&["GET", "short"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    // A flush tells everyone to drop everything.
    same(&mut t.ours, &mut t.theirs, &["GET", "k2"]);
    w.check(&["FLUSHALL"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    same(&mut t.ours, &mut t.theirs, &["CLIENT", "TRACKINGINFO"]);
    same(&mut t.ours, &mut t.theirs, &["CLIENT", "GETREDIR"]);
    same(&mut t.ours, &mut t.theirs, &["CLIENT", "TRACKING", "off"]);
    same(&mut t.ours, &mut t.theirs, &["GET", "k9"]);
    w.check(&["SET", "k9", "1"]);
    same(&mut t.ours, &mut t.theirs, &["PING"]);
    same(&mut t.ours, &mut t.theirs, &["CLIENT", "TRACKINGINFO"]);
}

#[test]
fn redirect_sends_messages_to_a_resp2_subscriber() {
    let p = Pair::new();
    let mut sub = p.link();
    let mut t = p.link();
    let mut w = p.link();
    let id_of = |c: &mut Conn| {
        let r = c.cmd(&["CLIENT", "ID"]);
        String::from_utf8_lossy(&r[1..r.len() - 2]).into_owned()
    };
    let (ours_id, theirs_id) = (id_of(&mut sub.ours), id_of(&mut sub.theirs));
    sub.check(&["SUBSCRIBE", "__redis__:invalidate"]);
    assert_eq!(
        t.ours
            .cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &ours_id]),
        b"+OK\r\n"
    );
    assert_eq!(
        t.theirs
            .cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &theirs_id]),
        b"+OK\r\n"
    );
    t.check(&["GET", "z"]);
    w.check(&["SET", "z", "1"]);
    same(&mut sub.ours, &mut sub.theirs, &["PING"]);
    t.check(&["GET", "z"]);
    w.check(&["FLUSHDB"]);
    same(&mut sub.ours, &mut sub.theirs, &["PING"]);
    let info_ours = show(&t.ours.cmd(&["CLIENT", "TRACKINGINFO"]));
    assert!(info_ours.contains(&format!(":{ours_id}")), "{info_ours}");
    assert_eq!(
        show(&t.ours.cmd(&["CLIENT", "GETREDIR"])),
        format!(":{ours_id}\\r\\n")
    );
}

#[test]
fn bcast_prefixes_noloop_optin_optout() {
    let p = Pair::new();
    let mut b = p.link();
    let mut w = p.link();
    b.ours.cmd(&["HELLO", "3"]);
    b.theirs.cmd(&["HELLO", "3"]);
    same(
        &mut b.ours,
        &mut b.theirs,
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p:", "PREFIX", "q:", "NOLOOP",
        ],
    );
    w.check(&["SET", "p:1", "x"]);
    w.check(&["SET", "other", "x"]);
    w.check(&["MSET", "q:1", "x", "q:2", "y"]);
    same(&mut b.ours, &mut b.theirs, &["PING"]);
    same(&mut b.ours, &mut b.theirs, &["SET", "p:2", "mine"]);
    same(&mut b.ours, &mut b.theirs, &["PING"]);
    same(&mut b.ours, &mut b.theirs, &["CLIENT", "TRACKINGINFO"]);
    same(&mut b.ours, &mut b.theirs, &["CLIENT", "TRACKING", "off"]);

    // OPTIN: only reads after CLIENT CACHING yes are remembered; the flag
    // lasts for one command, or a whole transaction.
    same(
        &mut b.ours,
        &mut b.theirs,
        &["CLIENT", "TRACKING", "on", "OPTIN"],
    );
    same(&mut b.ours, &mut b.theirs, &["GET", "o1"]);
    same(&mut b.ours, &mut b.theirs, &["CLIENT", "CACHING", "yes"]);
    same(&mut b.ours, &mut b.theirs, &["GET", "o2"]);
    same(&mut b.ours, &mut b.theirs, &["CLIENT", "CACHING", "yes"]);
    same(&mut b.ours, &mut b.theirs, &["PING"]);
    same(&mut b.ours, &mut b.theirs, &["GET", "o3"]);
    same(&mut b.ours, &mut b.theirs, &["CLIENT", "CACHING", "yes"]);
    same(&mut b.ours, &mut b.theirs, &["MULTI"]);
    same(&mut b.ours, &mut b.theirs, &["GET", "o4"]);
    same(&mut b.ours, &mut b.theirs, &["EXEC"]);
    w.check(&["MSET", "o1", "1", "o2", "2", "o3", "3", "o4", "4"]);
    same(&mut b.ours, &mut b.theirs, &["PING"]);
    same(&mut b.ours, &mut b.theirs, &["CLIENT", "TRACKING", "off"]);

    // OPTOUT: every read but those after CLIENT CACHING no.
    same(
        &mut b.ours,
        &mut b.theirs,
        &["CLIENT", "TRACKING", "on", "OPTOUT"],
    );
    same(&mut b.ours, &mut b.theirs, &["GET", "x1"]);
    same(&mut b.ours, &mut b.theirs, &["CLIENT", "CACHING", "no"]);
    same(&mut b.ours, &mut b.theirs, &["GET", "x2"]);
    w.check(&["MSET", "x1", "1", "x2", "2"]);
    same(&mut b.ours, &mut b.theirs, &["PING"]);
}

#[test]
fn tracking_errors_match_redis() {
    let mut p = Pair::new();
    p.both(&["HELLO", "3"]);
    for cmd in [
        &["CLIENT", "TRACKING", "on", "PREFIX", "a"][..],
        &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "999999"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "x"],
        &["CLIENT", "TRACKING", "maybe"],
        &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"],
        &["CLIENT", "TRACKING", "on", "foo"],
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "ab",
        ],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "CACHING", "maybe"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab"],
        &["CLIENT", "TRACKING", "on", "PREFIX", "b"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "on"],
        &["CLIENT", "TRACKING", "off"],
        &["CLIENT", "TRACKING", "on", "OPTIN"],
        &["CLIENT", "TRACKING", "on", "OPTOUT"],
        &["CLIENT", "TRACKING", "on", "BCAST"],
        &["CLIENT", "CACHING", "no"],
        &["CLIENT", "TRACKING", "off"],
        &["CLIENT", "TRACKING"],
    ] {
        p.check(cmd);
    }
}
