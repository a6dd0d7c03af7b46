//! Test support: start Ferrocache in-process and a real `redis-server` beside
//! it, send the same requests to both over raw sockets, and compare the reply
//! bytes.
//!
//! The reference server is required. If `redis-server` is not installed the
//! differential tests fail with instructions; they never skip.

#![allow(dead_code)]

use ferrocache_protocol::frame::{self, Frame};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A started Ferrocache, embedded in the test process.
pub fn ferrocache() -> ferrocache::ServerHandle {
    ferrocache_with(&[])
}

/// A fresh empty directory under the system's temporary directory.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrocache-{tag}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Ferrocache with `settings`; unless they name a `dir`, snapshots (SAVE,
/// BGSAVE from a test) go to a fresh temporary directory, never the
/// working tree.
pub fn ferrocache_with(settings: &[(&str, &str)]) -> ferrocache::ServerHandle {
    let mut b = ferrocache::Server::builder().threads(2);
    if !settings.iter().any(|(k, _)| *k == "dir") {
        b = b.config("dir", &temp_dir("fc").display().to_string());
    }
    for (k, v) in settings {
        b = b.config(k, v);
    }
    b.start().expect("ferrocache starts")
}

/// A real redis-server child process, killed on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Path of the reference server. Panics (the test fails) if it is missing.
pub fn redis_server_path() -> String {
    let path = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    match Command::new(&path).arg("--version").output() {
        Ok(o) if o.status.success() => path,
        _ => panic!(
            "the reference server `{path}` is not installed: the differential tests need it \
             (apt-get install -y redis-server, or run .ci/run which installs it)"
        ),
    }
}

/// Starts a real redis-server with persistence off plus `extra` settings.
pub fn redis(extra: &[(&str, &str)]) -> RedisServer {
    let bin = redis_server_path();
    let dir = std::env::temp_dir().join(format!(
        "ferrocache-ref-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in extra {
            cmd.arg(format!("--{k}")).arg(v);
        }
        let child = cmd.spawn().expect("spawn redis-server");
        let mut server = RedisServer {
            child,
            port,
            dir: dir.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(mut c) = Conn::try_connect(port) {
                if c.cmd(&["PING"]) == b"+PONG\r\n" {
                    return server;
                }
            }
            if let Ok(Some(_)) = server.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = server.child.kill();
        std::mem::forget(server);
    }
    panic!("redis-server did not start");
}

/// A raw RESP connection that returns replies as the exact bytes received.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn try_connect(port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    /// A connection to a server that has finished starting: it accepts and
    /// answers PING with PONG (not -LOADING while it loads its data).
    pub fn try_ready(port: u16) -> std::io::Result<Conn> {
        let mut c = Conn::try_connect(port)?;
        if c.cmd(&["PING"]) == b"+PONG\r\n" {
            Ok(c)
        } else {
            Err(std::io::Error::other("not ready"))
        }
    }

    pub fn connect(port: u16) -> Conn {
        Conn::try_connect(port).expect("connect")
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send(&mut self, args: &[&[u8]]) {
        let req = encode(args);
        self.send_raw(&req);
    }

    /// Reads one complete reply and returns its bytes; empty if the server
    /// closed the connection.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            match frame::parse(&self.buf) {
                Ok(Some((_, used))) => return self.buf.drain(..used).collect(),
                Ok(None) => {}
                Err(e) => panic!(
                    "bad frame from server: {e:?}: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return std::mem::take(&mut self.buf),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!(
                    "read: {e} (buffered {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    pub fn read_frame(&mut self) -> Frame {
        let bytes = self.read_reply();
        frame::parse(&bytes)
            .ok()
            .flatten()
            .map(|(f, _)| f)
            .unwrap_or(Frame::Null)
    }

    /// True once the server has closed the connection.
    /// True once the server has closed the connection; reads (and drops)
    /// up to 64 KB of whatever is still buffered per call.
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 65536];
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .ok();
        matches!(self.stream.read(&mut b), Ok(0) | Err(_))
    }

    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&args);
        self.read_reply()
    }

    pub fn cmd_bytes(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        self.send(&args);
        self.read_reply()
    }
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\\r\\n")
}

/// Ferrocache and Redis side by side, one connection to each.
pub struct Pair {
    pub ours: Conn,
    pub theirs: Conn,
    pub fc: ferrocache::ServerHandle,
    pub redis: RedisServer,
}

impl Pair {
    pub fn new() -> Pair {
        Pair::with(&[])
    }

    /// Both servers with the same extra configuration.
    pub fn with(settings: &[(&str, &str)]) -> Pair {
        let redis = redis(settings);
        let fc = ferrocache_with(settings);
        Pair {
            ours: Conn::connect(fc.port()),
            theirs: Conn::connect(redis.port),
            fc,
            redis,
        }
    }

    /// Runs `args` on both and asserts the reply bytes are identical.
    pub fn check(&mut self, args: &[&str]) -> Vec<u8> {
        let theirs = self.theirs.cmd(args);
        let ours = self.ours.cmd(args);
        assert_eq!(
            show(&ours),
            show(&theirs),
            "reply differs for {args:?} (left: ferrocache, right: redis)"
        );
        ours
    }

    pub fn check_bytes(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let theirs = self.theirs.cmd_bytes(args);
        let ours = self.ours.cmd_bytes(args);
        assert_eq!(
            show(&ours),
            show(&theirs),
            "reply differs for {:?} (left: ferrocache, right: redis)",
            args.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
        );
        ours
    }

    /// Runs a script of commands, one per line (split like redis-cli).
    pub fn check_script(&mut self, script: &str) {
        for line in script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let words =
                ferrocache_protocol::split_args(line.as_bytes()).expect("script line parses");
            self.check_bytes(&words);
        }
    }

    /// Runs `args` on both and returns both replies without comparing.
    pub fn both(&mut self, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
        (self.ours.cmd(args), self.theirs.cmd(args))
    }

    /// One more connection to each server, for tests with several clients.
    pub fn link(&self) -> Link {
        Link {
            ours: Conn::connect(self.fc.port()),
            theirs: Conn::connect(self.redis.port),
        }
    }
}

/// A further client of both servers of a [`Pair`].
pub struct Link {
    pub ours: Conn,
    pub theirs: Conn,
}

impl Link {
    /// Runs `args` on both and asserts the reply bytes are identical.
    pub fn check(&mut self, args: &[&str]) -> Vec<u8> {
        let theirs = self.theirs.cmd(args);
        let ours = self.ours.cmd(args);
        assert_eq!(
            show(&ours),
            show(&theirs),
            "reply differs for {args:?} on a second client (left: ferrocache, right: redis)"
        );
        ours
    }
}

/// The ferrocache binary as its own process (its counting allocator makes
/// `used_memory` exact, and it can be killed), killed on drop.
pub struct FerrocacheProcess {
    pub child: Child,
    pub port: u16,
}

impl Drop for FerrocacheProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free port with `args` and waits until it answers.
pub fn ferrocache_process(args: &[&str]) -> FerrocacheProcess {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ferrocache"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ferrocache");
    let p = FerrocacheProcess { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut c) = Conn::try_connect(port) {
            if c.cmd(&["PING"]) == b"+PONG\r\n" {
                return p;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("ferrocache did not start on {port}");
}

/// One `field:value` of an INFO reply.
pub fn info_field(c: &mut Conn, section: &str, field: &str) -> String {
    let reply = c.cmd(&["INFO", section]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
}
