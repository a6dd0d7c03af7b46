//! No input from a client may panic the server or drop its connection: every
//! command in the table gets random argument vectors (numbers at the edges,
//! negative counts, keys of each type, garbage), and the connection must
//! still answer PING afterwards.

use crate::support::Conn;
use ferrocache_commands::table::all_commands;

/// Commands that change the connection or the server in ways that would end
/// the run (they have their own tests): SYNC and PSYNC turn the connection
/// into a replica's, and REPLICAOF makes the server a read-only replica.
const SKIP: &[&str] = &[
    "shutdown",
    "monitor",
    "quit",
    "debug",
    "client",
    "config",
    "hello",
    "auth",
    "reset",
    "sync",
    "psync",
    "replicaof",
    "slaveof",
];

const WORDS: &[&str] = &[
    "k",
    "str",
    "list",
    "hash",
    "missing",
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "3",
    "10",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "4294967296",
    "1.5",
    "-inf",
    "+inf",
    "nan",
    "",
    "*",
    "?",
    "[",
    "\\",
    "abc",
    "LIMIT",
    "COUNT",
    "MATCH",
    "TYPE",
    "WITHVALUES",
    "NX",
    "XX",
    "GT",
    "LT",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "RANK",
    "MAXLEN",
    "IDX",
    "LEN",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "BYTE",
    "BIT",
    "AND",
    "OR",
    "XOR",
    "NOT",
    "u8",
    "i64",
    "u63",
    "i65",
    "#1",
    "OVERFLOW",
    "SAT",
    "FAIL",
    "WRAP",
    "INCRBY",
    "SET",
    "DB",
    "REPLACE",
    "ASYNC",
    "SYNC",
    "ENCODING",
    "FREQ",
    "IDLETIME",
    "REFCOUNT",
    "HELP",
];

#[test]
fn random_arguments_never_break_a_connection() {
    let server = crate::support::ferrocache();
    let mut c = Conn::connect(server.port());
    // Random arguments can make a blocking command (BLPOP missing 0) wait
    // forever: a helper unblocks this connection every few milliseconds
    // (CLIENT UNBLOCK of a client that is not blocked does nothing).
    let id = String::from_utf8_lossy(&c.cmd(&["CLIENT", "ID"]))
        .trim_matches(|ch: char| !ch.is_ascii_digit())
        .to_string();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let unblocker = {
        let done = done.clone();
        let port = server.port();
        std::thread::spawn(move || {
            let mut u = Conn::connect(port);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                u.cmd(&["CLIENT", "UNBLOCK", &id]);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let mut rng = fastrand::Rng::with_seed(99);
    let mut sent = 0;
    for cmd in all_commands() {
        if SKIP.contains(&cmd.name) {
            continue;
        }
        let names: Vec<Vec<u8>> = if cmd.subcommands.is_empty() {
            vec![cmd.name.as_bytes().to_vec()]
        } else {
            cmd.subcommands
                .iter()
                .map(|s| format!("{} {}", cmd.name, s.name).into_bytes())
                .collect()
        };
        for name in names {
            for _ in 0..40 {
                // Fresh keys of each type for every attempt.
                c.cmd(&["SET", "str", "12"]);
                c.cmd(&["RPUSH", "list", "a", "b", "3"]);
                c.cmd(&["HSET", "hash", "f", "1", "g", "x"]);
                let mut args: Vec<Vec<u8>> =
                    name.split(|&b| b == b' ').map(|w| w.to_vec()).collect();
                for _ in 0..rng.usize(0..7) {
                    args.push(WORDS[rng.usize(..WORDS.len())].as_bytes().to_vec());
                }
                let reply = c.cmd_bytes(&args);
                assert!(
                    !reply.is_empty(),
                    "connection dropped after {:?}",
                    args.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                );
                sent += 1;
                if matches!(
                    cmd.name,
                    "multi"
                        | "subscribe"
                        | "psubscribe"
                        | "ssubscribe"
                        | "unsubscribe"
                        | "punsubscribe"
                        | "sunsubscribe"
                ) {
                    // Leave the transaction or subscribed mode, skipping the
                    // further confirmations a (un)subscribe of several
                    // channels sends.
                    c.send(&[b"RESET"]);
                    while c.read_reply() != b"+RESET\r\n" {}
                }
            }
        }
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n", "after {}", cmd.name);
        // Some commands may leave another DB selected.
        c.cmd(&["SELECT", "0"]);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    unblocker.join().expect("unblocker");
    assert!(sent > 1000, "only {sent} commands were tried");
}
