//! Ferrocache: a multi-threaded, Redis-compatible in-memory cache server.
//!
//! This root crate is the binary's library half and the embedding API: a Rust
//! program can start a real server inside its own process, on a free port,
//! with no Docker and no external binary, and talk to it with any Redis
//! client.
//!
//! ```
//! use redis::Commands;
//!
//! let server = ferrocache::Server::builder()
//!     .port(0)
//!     .config("maxmemory", "64mb")
//!     .start()
//!     .expect("server starts");
//! let client = redis::Client::open(server.url()).unwrap();
//! let mut con = client.get_connection().unwrap();
//! let _: () = con.set("greeting", "hello").unwrap();
//! let v: String = con.get("greeting").unwrap();
//! assert_eq!(v, "hello");
//! server.shutdown();
//! ```
//!
//! [`Builder::start`] runs the server on a runtime of its own and suits
//! synchronous and asynchronous tests alike; [`Builder::spawn`] runs it on the
//! caller's tokio runtime. Dropping the [`ServerHandle`] stops the server.

pub use ferrocache_commands as commands;
pub use ferrocache_protocol as protocol;
pub use ferrocache_server as server;
pub use ferrocache_store as store;

use ferrocache_commands::config::Config;
use ferrocache_commands::Shared;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// Entry point of the embedding API.
pub struct Server;

impl Server {
    pub fn builder() -> Builder {
        Builder::default()
    }
}

/// Configures an embedded server. Every Redis configuration parameter is
/// available through [`Builder::config`]; the defaults are Redis's, except
/// that an embedded server binds 127.0.0.1 and saves nothing unless told to.
pub struct Builder {
    settings: Vec<(String, String)>,
    threads: Option<usize>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            settings: vec![
                ("bind".into(), "127.0.0.1".into()),
                ("port".into(), "0".into()),
                ("save".into(), String::new()),
            ],
            threads: None,
        }
    }
}

impl Builder {
    /// TCP port; 0 (the default) picks a free one.
    pub fn port(self, port: u16) -> Self {
        self.config("port", &port.to_string())
    }

    /// Addresses to listen on, space separated (`bind` in redis.conf).
    pub fn bind(self, addrs: &str) -> Self {
        self.config("bind", addrs)
    }

    /// Sets any configuration parameter by its Redis name.
    pub fn config(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_string(), value.to_string()));
        self
    }

    /// Worker threads for [`Builder::start`] (default: one per core).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    fn build_shared(&self) -> io::Result<Arc<Shared>> {
        let config = Config::new();
        for (k, v) in &self.settings {
            config.set(k, v, true).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("config {k}: {e:?}"))
            })?;
        }
        Ok(Shared::new(config))
    }

    /// Starts the server on a runtime of its own (a background thread) and
    /// returns once it accepts connections.
    pub fn start(self) -> io::Result<ServerHandle> {
        let shared = self.build_shared()?;
        let mut rt = tokio::runtime::Builder::new_multi_thread();
        rt.enable_all().thread_name("ferrocache-worker");
        if let Some(n) = self.threads {
            rt.worker_threads(n);
        }
        let rt = rt.build()?;
        let listeners = rt.block_on(async { ferrocache_server::bind(&shared, true) })?;
        ferrocache_server::aof::start(&shared)?;
        let addr = listeners
            .local_addr()
            .ok_or_else(|| io::Error::other("no TCP listener"))?;
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let run_shared = shared.clone();
        std::thread::Builder::new()
            .name("ferrocache".into())
            .spawn(move || {
                rt.block_on(ferrocache_server::run(run_shared, listeners));
                rt.shutdown_timeout(std::time::Duration::from_secs(1));
                let _ = done_tx.send(());
            })?;
        Ok(ServerHandle {
            addr,
            shared,
            done: Done::Thread(Some(done_rx)),
        })
    }

    /// Starts the server on the current tokio runtime.
    pub async fn spawn(self) -> io::Result<ServerHandle> {
        let shared = self.build_shared()?;
        let listeners = ferrocache_server::bind(&shared, true)?;
        let addr = listeners
            .local_addr()
            .ok_or_else(|| io::Error::other("no TCP listener"))?;
        let load = shared.clone();
        tokio::task::spawn_blocking(move || ferrocache_server::aof::start(&load))
            .await
            .map_err(io::Error::other)??;
        let task = tokio::spawn(ferrocache_server::run(shared.clone(), listeners));
        Ok(ServerHandle {
            addr,
            shared,
            done: Done::Task(Some(task)),
        })
    }
}

enum Done {
    Thread(Option<std::sync::mpsc::Receiver<()>>),
    Task(Option<tokio::task::JoinHandle<()>>),
}

/// A running embedded server.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    done: Done,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `redis://host:port/`, for client libraries.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// The server's shared state, for tests that inspect it directly.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, lets connections finish their current command, and
    /// waits for the server to stop (blocking; for [`Builder::start`]).
    pub fn shutdown(mut self) {
        self.shared.request_shutdown();
        if let Done::Thread(rx) = &mut self.done {
            if let Some(rx) = rx.take() {
                let _ = rx.recv();
            }
        }
    }

    /// Stops the server and waits for it (for [`Builder::spawn`]).
    pub async fn shutdown_async(mut self) {
        self.shared.request_shutdown();
        if let Done::Task(t) = &mut self.done {
            if let Some(t) = t.take() {
                let _ = t.await;
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shared.request_shutdown();
    }
}
