//! The `ferrocache` binary as a user runs it: flags, config files, the Unix
//! socket, and graceful shutdown on signals.

use crate::support::{free_port, Conn};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrocache");

/// Starts the binary in a fresh working directory, so the snapshot it
/// saves at exit (Redis's default save rules) lands there.
fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .current_dir(crate::support::temp_dir("bin"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferrocache binary starts")
}

fn wait_for_port(port: u16) -> Conn {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(c) = Conn::try_ready(port) {
            return c;
        }
        assert!(Instant::now() < deadline, "server did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut s);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    for signal in ["-TERM", "-INT"] {
        let port = free_port();
        let mut child = spawn(&["--port", &port.to_string(), "--bind", "127.0.0.1"]);
        let mut c = wait_for_port(port);
        assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = wait_exit(&mut child);
        assert!(exit.success(), "exit status {exit:?} after {signal}");
        let log = output(&mut child);
        assert!(log.contains("scheduling shutdown"), "log: {log}");
        assert!(log.contains("ready to exit"), "log: {log}");
    }
}

#[test]
fn shutdown_command_stops_the_server() {
    let port = free_port();
    let mut child = spawn(&["--port", &port.to_string(), "--bind", "127.0.0.1"]);
    let mut c = wait_for_port(port);
    c.send(&[b"SHUTDOWN"]);
    assert!(c.is_closed());
    assert!(wait_exit(&mut child).success());
}

#[test]
fn config_file_and_flags_combine_and_errors_name_the_line() {
    let dir = std::env::temp_dir().join(format!("fc-bin-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let conf = dir.join("ferrocache.conf");
    std::fs::write(
        &conf,
        format!("# test\nport {port}\nbind 127.0.0.1\nmaxmemory 10mb\n"),
    )
    .unwrap();
    let mut child = spawn(&[conf.to_str().unwrap(), "--maxmemory-policy", "allkeys-lru"]);
    let mut c = wait_for_port(port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory*"])
            .windows(8)
            .filter(|w| w == b"10485760")
            .count(),
        1
    );
    let policy = c.cmd(&["CONFIG", "GET", "maxmemory-policy"]);
    assert!(String::from_utf8_lossy(&policy).contains("allkeys-lru"));
    let _ = child.kill();
    let _ = child.wait();

    std::fs::write(&conf, "port 7000\nnosuchdirective yes\n").unwrap();
    let mut bad = spawn(&[conf.to_str().unwrap()]);
    let status = wait_exit(&mut bad);
    assert!(!status.success());
    let msg = output(&mut bad);
    assert!(msg.contains("at line 2"), "{msg}");
    assert!(msg.contains("nosuchdirective yes"), "{msg}");
    assert!(msg.contains("Bad directive"), "{msg}");

    let mut bad_flag = spawn(&["--maxmemory", "lots"]);
    assert!(!wait_exit(&mut bad_flag).success());
    let msg = output(&mut bad_flag);
    assert!(
        msg.contains("maxmemory \"lots\"") && msg.contains("memory value"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unix_socket_serves_commands() {
    let dir = std::env::temp_dir().join(format!("fc-sock-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("fc.sock");
    let port = free_port();
    let mut child = spawn(&[
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--unixsocket",
        sock.to_str().unwrap(),
    ]);
    wait_for_port(port);
    let mut s = std::os::unix::net::UnixStream::connect(&sock).expect("unix socket");
    use std::io::Write;
    s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(wait_exit(&mut child).success());
    assert!(!sock.exists(), "the socket file is removed at shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `appendonly yes` on the command line: the binary starts, creates the
/// AOF directory with its manifest, and CONFIG SET can turn it off and on.
#[test]
fn appendonly_yes_creates_the_aof_directory() {
    let dir = std::env::temp_dir().join(format!("fc-bin-aof-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = crate::support::free_port();
    let mut child = spawn(&[
        "--port",
        &port.to_string(),
        "--appendonly",
        "yes",
        "--dir",
        &dir.display().to_string(),
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut c = loop {
        if let Ok(c) = Conn::try_ready(port) {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "no"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), b"+OK\r\n");
    let manifest = dir.join("appendonlydir/appendonly.aof.manifest");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !manifest.exists() {
        assert!(std::time::Instant::now() < deadline, "no manifest");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(wait_exit(&mut child).success());
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    assert!(text.contains("type b") && text.contains("type i"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
