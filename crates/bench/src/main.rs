//! `ferrocache-bench`: Redis against Ferrocache, alternated, with medians.
//!
//! ```text
//! cargo run --release -p ferrocache-bench -- [--smoke] [--requests N] [--reps R] [--collections N] [--out DIR]
//! ```

use clap::Parser;
use ferrocache_bench::servers::Launcher;
use ferrocache_bench::{run, Opts};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Runs redis-benchmark against a real redis-server and Ferrocache in
/// alternation and writes report.md, report.csv, memory.csv and rps.svg.
#[derive(Parser, Debug)]
#[command(about, long_about = None)]
struct Cli {
    /// Tiny request counts and one repetition: checks the runner, not the servers.
    #[arg(long)]
    smoke: bool,
    /// Requests per workload row (default 1000000; 2000 with --smoke).
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
    /// Repetitions per row and server (default 3; 1 with --smoke).
    #[arg(long, value_name = "R")]
    reps: Option<usize>,
    /// Distinct keys loaded for the memory section (default 1000000; 10000 with --smoke).
    #[arg(long, value_name = "N")]
    keys: Option<u64>,
    /// Small collections of each kind (hash, set, intset, list) loaded for
    /// the collection memory rows; 0 leaves the rows out (default 100000;
    /// 2000 with --smoke).
    #[arg(long, value_name = "N")]
    collections: Option<u64>,
    /// Output directory (default target/bench-report).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The ferrocache binary (default target/release/ferrocache, built if missing).
    #[arg(long, value_name = "PATH")]
    ferrocache: Option<PathBuf>,
    /// Worker threads of the ferrocache binary (default: its own, one per core).
    #[arg(long, value_name = "N")]
    ferrocache_threads: Option<usize>,
    /// Run only the row with this exact label (repeatable), e.g. --only 'SET -P 16'.
    #[arg(long, value_name = "LABEL")]
    only: Vec<String>,
    /// Skip the memory and snapshot section.
    #[arg(long)]
    skip_memory: bool,
    /// The reference server.
    #[arg(long, value_name = "PATH", default_value = "redis-server")]
    redis_server: String,
    /// The load generator.
    #[arg(long, value_name = "PATH", default_value = "redis-benchmark")]
    redis_benchmark: String,
}

/// The workspace root: two levels above this crate's manifest.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// target/release/ferrocache, built with cargo when it is missing.
fn release_binary() -> Result<PathBuf, String> {
    let bin = target_dir().join("release").join("ferrocache");
    if bin.exists() {
        return Ok(bin);
    }
    eprintln!("{} is missing; building it", bin.display());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "ferrocache"])
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() || !bin.exists() {
        return Err(format!(
            "cargo build --release --bin ferrocache failed ({status})"
        ));
    }
    Ok(bin)
}

/// Quotes an argument for the command line shown in the report.
fn shell_quote(a: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,".contains(c);
    if !a.is_empty() && a.chars().all(plain) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let bin = match cli.ferrocache.clone() {
        Some(p) => p,
        None => match release_binary() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("ferrocache-bench: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| target_dir().join("bench-report"));
    let launcher = Launcher::Binary(bin, cli.ferrocache_threads);
    let mut opts = if cli.smoke {
        Opts::smoke(launcher, out)
    } else {
        Opts::full(launcher, out)
    };
    if let Some(n) = cli.requests {
        opts.requests = n.max(1);
    }
    if let Some(r) = cli.reps {
        opts.reps = r.max(1);
    }
    if let Some(k) = cli.keys {
        opts.memory_keys = k.max(1);
    }
    if let Some(c) = cli.collections {
        opts.collections = c;
    }
    opts.only = cli.only;
    opts.skip_memory = cli.skip_memory;
    opts.redis_server = cli.redis_server;
    opts.redis_benchmark = cli.redis_benchmark;
    let args: Vec<String> = std::env::args().skip(1).collect();
    opts.command = format!(
        "cargo run --release -p ferrocache-bench --{}",
        args.iter()
            .map(|a| format!(" {}", shell_quote(a)))
            .collect::<String>()
    );
    match run(&opts) {
        Ok(report) => {
            print!("{}", ferrocache_bench::report::markdown(&report));
            for f in &report.files {
                eprintln!("wrote {}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ferrocache-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
