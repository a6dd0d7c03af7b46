//! The network layer and the process around the command engine.
//!
//! It owns: binding listeners (`bind`, `port`, `tcp-backlog`, `unixsocket`),
//! accepting connections within `maxclients` and `protected-mode`, the
//! per-connection read/execute/write loop ([`connection`]), the periodic
//! background work Redis calls `serverCron` ([`cron`]: active expiry), loading
//! configuration from a file and flags ([`conf`]), log lines in Redis's format
//! ([`log`]), and graceful shutdown.
//!
//! It must never execute a command itself: every request goes through
//! `ferrocache_commands::dispatch`, so the network layer cannot diverge from
//! the command table's rules.

pub mod aof;
pub mod conf;
pub mod connection;
pub mod cron;
pub mod log;
pub mod replication;

use ferrocache_commands::clients::ClientHandle;
use ferrocache_commands::Shared;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};

/// Sockets the server accepts on.
pub struct Listeners {
    pub tcp: Vec<TcpListener>,
    pub unix: Option<UnixListener>,
}

impl Listeners {
    /// The first TCP address bound (the one to report and to connect to).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.first().and_then(|l| l.local_addr().ok())
    }
}

/// Binds what the configuration asks for. In Redis `port 0` means "no TCP
/// listener"; with `ephemeral` set (the embedding API) it means "any free
/// port" instead.
pub fn bind(shared: &Shared, ephemeral: bool) -> io::Result<Listeners> {
    let cfg = &shared.config;
    let port = cfg.get_i64("port").unwrap_or(6379) as u16;
    let backlog = cfg.get_i64("tcp-backlog").unwrap_or(511) as i32;
    let mut tcp = Vec::new();
    if port != 0 || ephemeral {
        let mut bound_port = port;
        for addr in cfg.get("bind").unwrap_or_default().split_whitespace() {
            // A leading '-' marks an address whose failure is not fatal.
            let (optional, host) = match addr.strip_prefix('-') {
                Some(h) => (true, h),
                None => (false, addr),
            };
            let ip: IpAddr = match host {
                "*" => IpAddr::from([0, 0, 0, 0]),
                "::*" => "::".parse().map_err(io::Error::other)?,
                h => match h.parse() {
                    Ok(ip) => ip,
                    Err(_) if h == "localhost" => IpAddr::from([127, 0, 0, 1]),
                    Err(e) if optional => {
                        warning!("Could not parse bind address {h}: {e}");
                        continue;
                    }
                    Err(e) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("{h}: {e}"),
                        ))
                    }
                },
            };
            match listen_tcp(SocketAddr::new(ip, bound_port), backlog) {
                Ok(l) => {
                    if bound_port == 0 {
                        bound_port = l.local_addr()?.port();
                    }
                    tcp.push(l);
                }
                Err(e) if optional => {
                    verbose!("Could not listen on {ip}:{bound_port} (optional): {e}")
                }
                Err(e) => {
                    warning!("Warning: Could not create server TCP listening socket {ip}:{bound_port}: {e}");
                    return Err(e);
                }
            }
        }
        if let Some(l) = tcp.first() {
            *shared.port.lock() = l.local_addr()?.port();
        }
    }
    let path = cfg.get("unixsocket").unwrap_or_default();
    let unix = if path.is_empty() {
        None
    } else {
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path)?;
        let perm = cfg.get_i64("unixsocketperm").unwrap_or(0);
        if perm != 0 {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm as u32))?;
        }
        Some(l)
    };
    if tcp.is_empty() && unix.is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "Configured to not listen anywhere, exiting.",
        ));
    }
    Ok(Listeners { tcp, unix })
}

fn listen_tcp(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol as SockProto, Socket, Type};
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM, Some(SockProto::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// Counts live connections so shutdown can wait for them.
#[derive(Default)]
struct Live {
    count: AtomicUsize,
    drained: tokio::sync::Notify,
}

struct LiveGuard(Arc<Live>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

/// Serves until SHUTDOWN, a signal handled by the caller, or
/// `Shared::request_shutdown`; then stops accepting, lets every connection
/// finish its current command, and returns.
pub async fn run(shared: Arc<Shared>, listeners: Listeners) {
    let live = Arc::new(Live::default());
    replication::install(&shared);
    let mut tasks = Vec::new();
    for l in listeners.tcp {
        tasks.push(tokio::spawn(accept_tcp(shared.clone(), l, live.clone())));
    }
    if let Some(l) = listeners.unix {
        tasks.push(tokio::spawn(accept_unix(shared.clone(), l, live.clone())));
    }
    tasks.push(tokio::spawn(cron::run(shared.clone())));
    let mut shutdown = shared.shutdown.subscribe();
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    for t in &tasks {
        t.abort();
    }
    // Connections see the same signal and close after their current command.
    let wait = async {
        while live.count.load(Ordering::Acquire) > 0 {
            let notified = live.drained.notified();
            if live.count.load(Ordering::Acquire) == 0 {
                break;
            }
            notified.await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
    // Everything journaled goes to disk before the server is gone; then
    // SIGTERM and embedded shutdowns save a snapshot when save rules are
    // configured (SHUTDOWN has already decided for itself).
    let s = shared.clone();
    let _ = tokio::task::spawn_blocking(move || {
        aof::shutdown(&s);
        aof::forget(&s);
        ferrocache_commands::persist::save_on_exit(&s);
    })
    .await;
    if let Ok(path) = shared.config.get("unixsocket").ok_or(()) {
        if !path.is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn admit(shared: &Shared, live: &Arc<Live>) -> Result<LiveGuard, &'static str> {
    let max = shared.config.get_usize("maxclients").unwrap_or(10000);
    if shared.clients.count() >= max {
        shared
            .clients
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        return Err(ferrocache_commands::errors::MAX_CLIENTS);
    }
    live.count.fetch_add(1, Ordering::AcqRel);
    Ok(LiveGuard(live.clone()))
}

/// Redis's protected mode: with no password and the default bind, only
/// loopback clients are served.
fn protected_mode_refuses(shared: &Shared, peer: &SocketAddr) -> bool {
    let cfg = &shared.config;
    cfg.get_bool("protected-mode")
        && cfg.get("requirepass").unwrap_or_default().is_empty()
        && cfg.get("bind").as_deref() == Some("* -::*")
        && !peer.ip().is_loopback()
}

const DENIED: &str = "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers, you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting from the same host the server is running, however MAKE SURE it's not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

async fn accept_tcp(shared: Arc<Shared>, listener: TcpListener, live: Arc<Live>) {
    let laddr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warning!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let keepalive = shared.config.get_i64("tcp-keepalive").unwrap_or(300);
        if keepalive > 0 {
            let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive as u64));
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        if protected_mode_refuses(&shared, &peer) {
            tokio::spawn(connection::refuse(stream, DENIED));
            continue;
        }
        let guard = match admit(&shared, &live) {
            Ok(g) => g,
            Err(msg) => {
                tokio::spawn(connection::refuse(stream, msg));
                continue;
            }
        };
        let id = shared.clients.next_id();
        // The connection's own local address (the listener may be bound to
        // a wildcard), as CLIENT LIST's laddr shows it.
        let local = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| laddr.clone());
        let handle = ClientHandle::new(id, peer.to_string(), local, false);
        spawn_client(&shared, stream, handle, guard);
    }
}

/// Registers an admitted client and serves it on its own task; the guard
/// is released when the connection ends.
fn spawn_client<S>(shared: &Arc<Shared>, stream: S, handle: ClientHandle, guard: LiveGuard)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::os::fd::AsRawFd + 'static,
{
    handle.fd.store(stream.as_raw_fd(), Ordering::Relaxed);
    let handle = Arc::new(handle);
    shared.clients.register(handle.clone());
    let shared = shared.clone();
    tokio::spawn(async move {
        connection::serve(shared, stream, handle).await;
        drop(guard);
    });
}

async fn accept_unix(shared: Arc<Shared>, listener: UnixListener, live: Arc<Live>) {
    let path = shared.config.get("unixsocket").unwrap_or_default();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let guard = match admit(&shared, &live) {
            Ok(g) => g,
            Err(msg) => {
                tokio::spawn(connection::refuse(stream, msg));
                continue;
            }
        };
        let id = shared.clients.next_id();
        let handle = ClientHandle::new(id, format!("{path}:0"), path.clone(), true);
        spawn_client(&shared, stream, handle, guard);
    }
}

/// Sends the command engine's background log lines (saves, loads) to the
/// server log.
pub fn install_logger(shared: &Shared) {
    let _ = shared.logger.set(Box::new(|warn, msg| {
        if warn {
            warning!("{msg}");
        } else {
            notice!("{msg}");
        }
    }));
}

/// Loads `dir/dbfilename` at startup if it exists. With `appendonly yes`
/// the append-only file is the data set and the snapshot is not read, as
/// in Redis.
pub fn load_data(shared: &Shared) -> io::Result<()> {
    if shared.config.get_bool("appendonly") {
        return Ok(());
    }
    match ferrocache_commands::persist::load_at_startup(shared) {
        Ok(_) => Ok(()),
        Err(e) => {
            warning!("Fatal error loading the DB: {e}. Exiting.");
            Err(io::Error::new(io::ErrorKind::InvalidData, e))
        }
    }
}

/// Start-up warnings Redis prints about the host, such as a `somaxconn`
/// below `tcp-backlog`.
pub fn startup_warnings(shared: &Shared) {
    let backlog = shared.config.get_i64("tcp-backlog").unwrap_or(511);
    if let Ok(s) = std::fs::read_to_string("/proc/sys/net/core/somaxconn") {
        if let Ok(max) = s.trim().parse::<i64>() {
            if max < backlog {
                warning!("WARNING: The TCP backlog setting of {backlog} cannot be enforced because /proc/sys/net/core/somaxconn is set to the lower value of {max}.");
            }
        }
    }
}
