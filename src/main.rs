//! The `ferrocache` binary: parse the command line as redis-server does,
//! start the server, and stop it gracefully on SIGTERM, SIGINT or SHUTDOWN.

use clap::Parser;
use ferrocache_commands::config::Config;
use ferrocache_commands::Shared;
use ferrocache_server::{conf, log, notice, warning};
use ferrocache_store::alloc::CountingAlloc;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: CountingAlloc<mimalloc::MiMalloc> =
    CountingAlloc::with_size_classes(mimalloc::MiMalloc, mimalloc_size_class);

/// The size of the block mimalloc hands out for a request of `size` bytes.
fn mimalloc_size_class(size: usize) -> usize {
    // SAFETY: a pure function of its argument.
    unsafe { libmimalloc_sys::mi_good_size(size) }
}

/// A multi-threaded, Redis-compatible in-memory cache server.
///
/// Usage mirrors redis-server: `ferrocache [/path/to/redis.conf] [--name value ...]`.
/// Every redis.conf parameter can be given as a `--name value` flag.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Worker threads (default: one per core).
    #[arg(long = "threads", value_name = "N")]
    threads: Option<usize>,

    /// A configuration file in redis.conf syntax, then `--name value` flags.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CONFIG_FILE] [--name value"
    )]
    rest: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = Config::new();
    let mut rest = cli.rest.as_slice();
    let mut config_file = None;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") {
            let text = match std::fs::read_to_string(first) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("Fatal error, can't open config file '{first}': {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Err(e) = conf::apply_text(&config, &text, first) {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
            config_file = std::fs::canonicalize(first)
                .ok()
                .map(|p| p.display().to_string());
            rest = &rest[1..];
        }
    }
    let flags = match conf::args_to_text(rest) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = conf::apply_text(&config, &flags, "(command line)") {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let level = log::Level::parse(&config.get("loglevel").unwrap_or_default());
    if let Err(e) = log::configure(level, &config.get("logfile").unwrap_or_default()) {
        eprintln!("Can't open the log file: {e}");
        return ExitCode::FAILURE;
    }
    log::log(
        log::Level::Warning,
        'C',
        "oO0OoO0OoO0Oo Ferrocache is starting oO0OoO0OoO0Oo",
    );
    log::log(
        log::Level::Warning,
        'C',
        &format!(
            "Ferrocache version={}, redis-compat={}, bits=64, pid={}, just started",
            env!("CARGO_PKG_VERSION"),
            ferrocache_commands::server::REDIS_VERSION,
            std::process::id()
        ),
    );
    if config_file.is_none() {
        log::log(log::Level::Warning, 'C', "Warning: no config file specified, using the default config. In order to specify a config file use ferrocache /path/to/redis.conf");
    } else {
        log::log(log::Level::Warning, 'C', "Configuration loaded");
    }

    let threads = cli.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let shared = Shared::new(config);
    *shared.config_file.lock() = config_file;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("ferrocache-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Failed to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = rt.block_on(async move {
        let listeners = match ferrocache_server::bind(&shared, false) {
            Ok(l) => l,
            Err(e) => {
                warning!("Failed listening: {e}");
                return ExitCode::FAILURE;
            }
        };
        ferrocache_server::startup_warnings(&shared);
        ferrocache_server::install_logger(&shared);
        notice!(
            "Running mode=standalone, port={}, worker threads={}.",
            shared.port.lock(),
            threads
        );
        notice!("Server initialized");
        // The data loads while clients are already served: until it is
        // in, they get -LOADING (INFO shows the progress). A file that
        // can't be loaded stops the server with a failure status.
        shared
            .persist
            .loading
            .store(true, std::sync::atomic::Ordering::Release);
        let load_failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (load, failed) = (shared.clone(), load_failed.clone());
        tokio::spawn(async move {
            let worker = load.clone();
            let result = tokio::task::spawn_blocking(move || {
                ferrocache_server::aof::start(&worker).map_err(|e| {
                    warning!("Fatal error loading the append only file: {e}");
                    e
                })?;
                ferrocache_server::load_data(&worker)
            })
            .await;
            match result {
                Ok(Ok(())) => {
                    load.persist
                        .loading
                        .store(false, std::sync::atomic::Ordering::Release);
                    notice!("Ready to accept connections");
                }
                _ => {
                    failed.store(true, std::sync::atomic::Ordering::Release);
                    load.request_shutdown();
                }
            }
        });
        let signals = shared.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            warning!("Received {name} scheduling shutdown...");
            signals.request_shutdown();
        });
        ferrocache_server::run(shared.clone(), listeners).await;
        if load_failed.load(std::sync::atomic::Ordering::Acquire) {
            return ExitCode::FAILURE;
        }
        warning!("User requested shutdown...");
        warning!("Ferrocache is now ready to exit, bye bye...");
        ExitCode::SUCCESS
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}
