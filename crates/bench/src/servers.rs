//! Starting and stopping the two servers under test.
//!
//! Both start with the same settings: loopback only, no persistence
//! (`--save '' --appendonly no`), files in a scratch directory. Persistence
//! modes are switched on later with CONFIG SET, so that the same process
//! serves every mode and the runner can tell a supported mode from one that
//! is accepted but ignored.

use crate::client::Client;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A server the runner talks to.
pub trait Running: Send {
    fn port(&self) -> u16;
    /// Process whose RSS is the server's memory.
    fn pid(&self) -> u32;
    /// Stops the server and waits for it to go away.
    fn stop(self: Box<Self>);
}

/// Starts a server whose files go in the given directory.
pub type StartFn = dyn Fn(&Path) -> io::Result<Box<dyn Running>> + Send + Sync;

/// How to start Ferrocache: the release binary (the normal case) or a
/// caller-supplied function (the smoke test embeds the server in-process).
#[derive(Clone)]
pub enum Launcher {
    /// The ferrocache binary, with `--threads N` when a count is given
    /// (otherwise its default: one worker per core).
    Binary(PathBuf, Option<usize>),
    Custom(Arc<StartFn>),
}

impl Launcher {
    pub fn start(&self, dir: &Path) -> io::Result<Box<dyn Running>> {
        match self {
            Launcher::Binary(path, threads) => {
                let pre: Vec<String> = threads
                    .map(|n| vec!["--threads".to_string(), n.to_string()])
                    .unwrap_or_default();
                let s = Process::spawn(path.as_os_str(), &pre, dir, "ferrocache.log")?;
                Ok(Box::new(s))
            }
            Launcher::Custom(f) => f(dir),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Launcher::Binary(p, None) => {
                format!("{} (worker threads: default, one per core)", p.display())
            }
            Launcher::Binary(p, Some(n)) => format!("{} --threads {n}", p.display()),
            Launcher::Custom(_) => "embedded in the runner process".into(),
        }
    }
}

/// A server running as a child process (redis-server, or the ferrocache binary,
/// which takes the same flags).
pub struct Process {
    child: Child,
    port: u16,
}

pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Process {
    /// Starts `program pre_args... --port P --bind 127.0.0.1 ...` and waits
    /// until it answers PING.
    pub fn spawn(
        program: &std::ffi::OsStr,
        pre_args: &[String],
        dir: &Path,
        logfile: &str,
    ) -> io::Result<Process> {
        let port = free_port()?;
        let log = dir.join(logfile);
        let child = Command::new(program)
            .args(pre_args)
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot start {}: {e}", Path::new(program).display()),
                )
            })?;
        let mut p = Process { child, port };
        if let Err(e) = p.wait_ready(Duration::from_secs(120)) {
            let _ = p.child.kill();
            let _ = p.child.wait();
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(io::Error::other(format!(
                "{} did not become ready: {e}\n{tail}",
                Path::new(program).display()
            )));
        }
        Ok(p)
    }

    /// Waits until the server answers PING (and has finished loading).
    fn wait_ready(&mut self, limit: Duration) -> io::Result<()> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!("exited with {status}")));
            }
            if let Ok(mut c) = Client::connect(self.port) {
                if let Ok(ferrocache_protocol::Frame::Simple(_)) = c.cmd(&[b"PING"]) {
                    return Ok(());
                }
            }
            if start.elapsed() > limit {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Running for Process {
    fn port(&self) -> u16 {
        self.port
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self: Box<Self>) {
        if let Ok(mut c) = Client::connect(self.port) {
            let _ = c.cmd(&[b"SHUTDOWN", b"NOSAVE"]);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Checks that the reference server is installed; the runner refuses to run
/// without it.
pub fn require(program: &str) -> io::Result<String> {
    match Command::new(program).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) => Err(io::Error::other(format!(
            "`{program} --version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ))),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("`{program}` is required but could not be run ({e}); install redis (Debian: apt-get install redis-server redis-tools)"),
        )),
    }
}

/// Starts a real redis-server with the shared settings.
pub fn start_redis(program: &str, dir: &Path) -> io::Result<Process> {
    Process::spawn(std::ffi::OsStr::new(program), &[], dir, "redis.log")
}
