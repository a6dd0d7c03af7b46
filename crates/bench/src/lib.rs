//! The comparison runner: real Redis against Ferrocache, on loopback, with
//! the load generator Redis users already trust (`redis-benchmark`).
//!
//! One run starts a `redis-server` and a Ferrocache with the same settings and
//! runs every workload against each in alternation (redis, ferrocache, redis,
//! ferrocache, ...), so slow drift of the machine (thermal, noisy neighbours)
//! hits both servers alike. Each figure is the median of the repetitions.
//!
//! A workload the server cannot run (a missing command, a persistence mode
//! that is accepted but ignored) is reported as "not supported", never
//! dropped and never quoted as a number: an error reply counted as a request
//! would be a fast, false figure.
//!
//! The runner builds nothing by itself beyond the release `ferrocache` binary
//! when it is missing, and writes `report.md`, `report.csv`, `memory.csv` and
//! `rps.svg` under the output directory (`target/bench-report/`).

pub mod client;
pub mod collections;
pub mod loadgen;
pub mod machine;
pub mod memory;
pub mod report;
pub mod servers;

use client::Client;
use ferrocache_protocol::Frame;
use loadgen::{Load, RunResult, Sample};
use servers::{Launcher, Running};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Everything a run needs.
#[derive(Clone)]
pub struct Opts {
    pub smoke: bool,
    /// Requests per workload row.
    pub requests: u64,
    pub reps: usize,
    /// Distinct keys loaded for the memory section.
    pub memory_keys: u64,
    /// Small collections of each kind for the collection memory rows (0:
    /// no such rows).
    pub collections: u64,
    pub out: PathBuf,
    pub ferrocache: Launcher,
    pub redis_server: String,
    pub redis_benchmark: String,
    /// The command line that started the run, quoted in the report.
    pub command: String,
    /// Run only the rows with these labels (all rows when empty).
    pub only: Vec<String>,
    /// Skip the memory and snapshot section.
    pub skip_memory: bool,
}

impl Opts {
    /// Full-run defaults: 1M requests per row, 3 repetitions, 1M keys.
    pub fn full(ferrocache: Launcher, out: PathBuf) -> Opts {
        Opts {
            smoke: false,
            requests: 1_000_000,
            reps: 3,
            memory_keys: 1_000_000,
            collections: 100_000,
            out,
            ferrocache,
            redis_server: "redis-server".into(),
            redis_benchmark: "redis-benchmark".into(),
            command: String::new(),
            only: Vec::new(),
            skip_memory: false,
        }
    }

    /// Smoke defaults: tiny counts, one repetition; seconds in all.
    pub fn smoke(ferrocache: Launcher, out: PathBuf) -> Opts {
        Opts {
            smoke: true,
            requests: 2_000,
            reps: 1,
            memory_keys: 10_000,
            collections: 2_000,
            ..Opts::full(ferrocache, out)
        }
    }
}

/// Persistence configuration of a row, applied with CONFIG SET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    None,
    AofEverysec,
    AofAlways,
    Rdb,
}

/// The save rules of the RDB mode: frequent enough that snapshots happen
/// during a row of a few seconds.
pub const RDB_RULES: &str = "5 1000";

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::AofEverysec => "AOF everysec",
            Mode::AofAlways => "AOF always",
            Mode::Rdb => "RDB save rules",
        }
    }
}

/// The goal a row is judged against (issue 3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    None,
    /// rps at least this multiple of Redis's.
    Ratio(f64),
    /// rps at least this multiple of Redis's and p99 no higher than Redis's.
    RatioAndP99(f64),
    /// AOF everysec: at least Redis's rps and at least 0.9x Ferrocache's own
    /// no-persistence figure for the row named here.
    RatioAndOwn(f64, &'static str),
}

/// One workload of the table.
#[derive(Clone, Debug)]
pub struct RowSpec {
    pub label: String,
    pub load: Load,
    pub mode: Mode,
    pub target: Target,
}

/// What one server did on one row.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Median of the repetitions, and the repetitions themselves.
    Measured(Sample, Vec<Sample>),
    NotSupported(String),
    Failed(String),
}

impl Outcome {
    pub fn sample(&self) -> Option<Sample> {
        match self {
            Outcome::Measured(s, _) => Some(*s),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RowResult {
    pub spec: RowSpec,
    pub redis: Outcome,
    pub ferrocache: Outcome,
}

/// A measurement of the memory section, per server.
#[derive(Clone, Debug)]
pub struct MemoryResult {
    pub keys: u64,
    pub value_size: usize,
    pub redis: ServerMemory,
    pub ferrocache: ServerMemory,
    /// Collections of each kind loaded for the collection rows.
    pub collections: u64,
    pub kinds: Vec<collections::KindResult>,
}

#[derive(Clone, Debug)]
pub struct ServerMemory {
    pub before: memory::MemSnap,
    pub after: memory::MemSnap,
    pub load_time: memory::Support<Duration>,
    pub save_time: memory::Support<Duration>,
    /// Time from start until the reloaded server answers with every key.
    pub reload_time: memory::Support<Duration>,
    pub pause: memory::Support<memory::Pause>,
}

/// Everything measured in one run.
#[derive(Clone, Debug)]
pub struct Report {
    pub machine: machine::Machine,
    pub redis_version: String,
    pub ferrocache: String,
    pub command: String,
    pub smoke: bool,
    pub requests: u64,
    pub reps: usize,
    pub rows: Vec<RowResult>,
    pub memory: Option<MemoryResult>,
    pub files: Vec<PathBuf>,
}

pub const CLIENTS: u32 = 50;
pub const DATA_SIZE: u32 = 100;
pub const KEYSPACE: u64 = 1_000_000;

/// The workloads of issue 3, in the order they run.
pub fn rows(requests: u64) -> Vec<RowSpec> {
    let load = |test: &'static str, pipeline: u32, threads: u32| Load {
        test,
        pipeline,
        threads,
        clients: CLIENTS,
        requests,
        data_size: DATA_SIZE,
        keyspace: KEYSPACE,
    };
    let row = |label: &str, l: Load, mode: Mode, target: Target| RowSpec {
        label: label.to_string(),
        load: l,
        mode,
        target,
    };
    let mut v = vec![
        row(
            "SET -P 1",
            load("set", 1, 1),
            Mode::None,
            Target::RatioAndP99(1.0),
        ),
        row(
            "GET -P 1",
            load("get", 1, 1),
            Mode::None,
            Target::RatioAndP99(1.0),
        ),
        row(
            "SET -P 16",
            load("set", 16, 1),
            Mode::None,
            Target::Ratio(1.5),
        ),
        row(
            "GET -P 16",
            load("get", 16, 1),
            Mode::None,
            Target::Ratio(1.5),
        ),
        row(
            "SET -P 16 --threads 2",
            load("set", 16, 2),
            Mode::None,
            Target::Ratio(1.5),
        ),
        row(
            "GET -P 16 --threads 2",
            load("get", 16, 2),
            Mode::None,
            Target::Ratio(1.5),
        ),
    ];
    for (test, label) in [
        ("incr", "INCR -P 16"),
        ("lpush", "LPUSH -P 16"),
        ("lpop", "LPOP -P 16"),
        ("sadd", "SADD -P 16"),
        ("zadd", "ZADD -P 16"),
        ("hset", "HSET -P 16"),
        ("mset", "MSET (10 keys) -P 16"),
    ] {
        v.push(row(label, load(test, 16, 1), Mode::None, Target::None));
    }
    v.push(row(
        "SET -P 1, AOF everysec",
        load("set", 1, 1),
        Mode::AofEverysec,
        Target::RatioAndOwn(1.0, "SET -P 1"),
    ));
    v.push(row(
        "SET -P 1, AOF always",
        load("set", 1, 1),
        Mode::AofAlways,
        Target::Ratio(1.5),
    ));
    v.push(row(
        &format!("SET -P 1, RDB save \"{RDB_RULES}\""),
        load("set", 1, 1),
        Mode::Rdb,
        Target::None,
    ));
    v
}

/// Reports which row runs, on one line of stderr.
pub struct Progress {
    tty: bool,
    started: Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            tty: io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    pub fn show(&self, msg: &str) {
        let t = self.started.elapsed().as_secs();
        let mut e = io::stderr().lock();
        if self.tty {
            let _ = write!(e, "\r\x1b[2K[{t:>4}s] {msg}");
        } else {
            let _ = writeln!(e, "[{t:>4}s] {msg}");
        }
        let _ = e.flush();
    }

    fn done(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// A scratch directory for the servers' files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> io::Result<Scratch> {
        let p =
            std::env::temp_dir().join(format!("ferrocache-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p)?;
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the whole comparison and writes the report files.
pub fn run(opts: &Opts) -> io::Result<Report> {
    let redis_version = servers::require(&opts.redis_server)?;
    servers::require(&opts.redis_benchmark)?;
    std::fs::create_dir_all(&opts.out)?;
    let progress = Progress::new();
    let machine = machine::Machine::detect();

    let rows = run_rows(opts, &progress)?;
    let memory = if opts.skip_memory {
        None
    } else {
        Some(run_memory(opts, &progress)?)
    };
    progress.done();

    let mut report = Report {
        machine,
        redis_version,
        ferrocache: opts.ferrocache.describe(),
        command: opts.command.clone(),
        smoke: opts.smoke,
        requests: opts.requests,
        reps: opts.reps,
        rows,
        memory,
        files: Vec::new(),
    };
    report.files = report::write_all(&report, &opts.out)?;
    Ok(report)
}

fn run_rows(opts: &Opts, progress: &Progress) -> io::Result<Vec<RowResult>> {
    let rdir = Scratch::new("redis")?;
    let fdir = Scratch::new("ferrocache")?;
    progress.show("starting redis-server and ferrocache");
    let redis: Box<dyn Running> = Box::new(servers::start_redis(&opts.redis_server, &rdir.0)?);
    let ferro = opts.ferrocache.start(&fdir.0)?;
    let specs: Vec<RowSpec> = rows(opts.requests)
        .into_iter()
        .filter(|r| opts.only.is_empty() || opts.only.contains(&r.label))
        .collect();
    let limit = Duration::from_secs(30 + opts.requests / 5_000);
    let mut results = Vec::new();
    let mut mode = None;
    let mut ferro_mode: Result<(), String> = Ok(());
    let n = specs.len();
    for (i, spec) in specs.into_iter().enumerate() {
        if mode != Some(spec.mode) {
            progress.show(&format!("switching both servers to {}", spec.mode.name()));
            flush(redis.port())?;
            flush(ferro.port())?;
            set_mode(redis.port(), spec.mode)
                .map_err(|e| io::Error::other(format!("redis-server: {e}")))?;
            ferro_mode = set_mode(ferro.port(), spec.mode);
            mode = Some(spec.mode);
        }
        let mut rs = Vec::new();
        let mut fs = Vec::new();
        let mut redis_out = None;
        let mut ferro_out = ferro_mode.clone().err().map(Outcome::NotSupported);
        for rep in 1..=opts.reps {
            let step = |server: &str| {
                format!(
                    "[{}/{n}] {} ({}) rep {rep}/{}: {server}",
                    i + 1,
                    spec.label,
                    spec.mode.name(),
                    opts.reps
                )
            };
            if redis_out.is_none() {
                progress.show(&step("redis"));
                match loadgen::run(&opts.redis_benchmark, &spec.load, redis.port(), limit) {
                    RunResult::Ok(s) => rs.push(s),
                    RunResult::Unsupported(m) => redis_out = Some(Outcome::NotSupported(m)),
                    RunResult::Failed(m) => redis_out = Some(Outcome::Failed(m)),
                }
            }
            if ferro_out.is_none() {
                progress.show(&step("ferrocache"));
                match loadgen::run(&opts.redis_benchmark, &spec.load, ferro.port(), limit) {
                    RunResult::Ok(s) => fs.push(s),
                    RunResult::Unsupported(m) => ferro_out = Some(Outcome::NotSupported(m)),
                    RunResult::Failed(m) => ferro_out = Some(Outcome::Failed(m)),
                }
            }
        }
        results.push(RowResult {
            spec,
            redis: redis_out.unwrap_or_else(|| measured(rs)),
            ferrocache: ferro_out.unwrap_or_else(|| measured(fs)),
        });
    }
    progress.show("stopping servers");
    redis.stop();
    ferro.stop();
    Ok(results)
}

fn measured(samples: Vec<Sample>) -> Outcome {
    if samples.is_empty() {
        return Outcome::Failed("no repetition ran".into());
    }
    let med = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    Outcome::Measured(
        Sample {
            rps: med(|s| s.rps),
            p50_ms: med(|s| s.p50_ms),
            p99_ms: med(|s| s.p99_ms),
        },
        samples,
    )
}

/// Median; the mean of the middle two for an even count.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn flush(port: u16) -> io::Result<()> {
    Client::connect(port)?.ok(&["FLUSHALL"]).map(|_| ())
}

/// Puts a server in a persistence mode and checks that the mode took effect
/// (a server may accept the CONFIG SET and still persist nothing). `Err`
/// carries the reason the mode is unsupported.
pub fn set_mode(port: u16, mode: Mode) -> Result<(), String> {
    let mut c = Client::connect(port).map_err(|e| e.to_string())?;
    let mut set = |args: &[&str]| c.ok(args).map(|_| ()).map_err(|e| e.to_string());
    set(&["CONFIG", "SET", "appendonly", "no"])?;
    set(&["CONFIG", "SET", "save", ""])?;
    match mode {
        Mode::None => Ok(()),
        Mode::AofEverysec | Mode::AofAlways => {
            let fsync = if mode == Mode::AofAlways {
                "always"
            } else {
                "everysec"
            };
            set(&["CONFIG", "SET", "appendfsync", fsync])?;
            set(&["CONFIG", "SET", "appendonly", "yes"])?;
            wait_info(&mut c, "aof_enabled", "1", Duration::from_secs(5)).map_err(|_| {
                "CONFIG SET appendonly yes was accepted but INFO persistence never showed aof_enabled:1".to_string()
            })?;
            // Enabling AOF on Redis rewrites the (empty) dataset first.
            wait_info(
                &mut c,
                "aof_rewrite_in_progress",
                "0",
                Duration::from_secs(60),
            )?;
            wait_info(
                &mut c,
                "aof_rewrite_scheduled",
                "0",
                Duration::from_secs(60),
            )
        }
        Mode::Rdb => {
            set(&["CONFIG", "SET", "save", RDB_RULES])?;
            // Save rules only mean something on a server that can snapshot:
            // it must know BGSAVE (COMMAND INFO answers null otherwise).
            let info = c
                .cmd(&[b"COMMAND", b"INFO", b"BGSAVE"])
                .map_err(|e| e.to_string())?;
            match info {
                Frame::Array(items) if items.first().is_some_and(|f| *f != Frame::Null) => Ok(()),
                _ => {
                    Err("CONFIG SET save was accepted but the server has no BGSAVE command".into())
                }
            }
        }
    }
}

fn wait_info(c: &mut Client, field: &str, want: &str, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let v = c
            .info_field("persistence", field)
            .map_err(|e| e.to_string())?;
        if v.as_deref() == Some(want) {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!("INFO persistence {field} is {v:?}, not {want}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_memory(opts: &Opts, progress: &Progress) -> io::Result<MemoryResult> {
    let n = opts.memory_keys;
    let size = DATA_SIZE as usize;
    let rdir = Scratch::new("redis-mem")?;
    let fdir = Scratch::new("ferrocache-mem")?;
    progress.show("memory: starting fresh servers");
    let redis: Box<dyn Running> = Box::new(servers::start_redis(&opts.redis_server, &rdir.0)?);
    let ferro = opts.ferrocache.start(&fdir.0)?;
    let redis_mem = measure_memory(progress, "redis", redis, n, size, &rdir.0, &|dir| {
        Ok(Box::new(servers::start_redis(&opts.redis_server, dir)?))
    })?;
    let ferro_mem = measure_memory(progress, "ferrocache", ferro, n, size, &fdir.0, &|dir| {
        opts.ferrocache.start(dir)
    })?;
    let kinds = if opts.collections == 0 {
        Vec::new()
    } else {
        run_collections(opts, progress)?
    };
    Ok(MemoryResult {
        keys: n,
        value_size: size,
        redis: redis_mem,
        ferrocache: ferro_mem,
        collections: opts.collections,
        kinds,
    })
}

/// Each kind of small collection on a fresh pair of servers.
fn run_collections(opts: &Opts, progress: &Progress) -> io::Result<Vec<collections::KindResult>> {
    let n = opts.collections;
    let mut out = Vec::new();
    for kind in collections::KINDS {
        let rdir = Scratch::new("redis-coll")?;
        let fdir = Scratch::new("ferrocache-coll")?;
        progress.show(&format!("memory: {n} x {} into redis", kind.label));
        let redis: Box<dyn Running> = Box::new(servers::start_redis(&opts.redis_server, &rdir.0)?);
        let r = collections::measure(redis.port(), redis.pid(), kind, n);
        redis.stop();
        progress.show(&format!("memory: {n} x {} into ferrocache", kind.label));
        let ferro = opts.ferrocache.start(&fdir.0)?;
        let f = collections::measure(ferro.port(), ferro.pid(), kind, n);
        ferro.stop();
        out.push(collections::KindResult {
            label: kind.label,
            redis: r?,
            ferrocache: f?,
        });
    }
    Ok(out)
}

type Restart<'a> = &'a dyn Fn(&Path) -> io::Result<Box<dyn Running>>;

fn measure_memory(
    progress: &Progress,
    name: &str,
    server: Box<dyn Running>,
    n: u64,
    size: usize,
    dir: &Path,
    restart: Restart<'_>,
) -> io::Result<ServerMemory> {
    let port = server.port();
    let mut c = Client::connect(port)?;
    let before = memory::snapshot(&mut c, server.pid());
    progress.show(&format!("memory: loading {n} keys into {name}"));
    let load_time = memory::load_keys(port, n, size).map_err(|e| e.to_string());
    std::thread::sleep(Duration::from_millis(300));
    let after = memory::snapshot(&mut c, server.pid());
    progress.show(&format!("memory: BGSAVE pause on {name}"));
    let pause = memory::bgsave_pause(port, n, size);
    progress.show(&format!("memory: SAVE on {name}"));
    let save_time = memory::save_time(port);
    drop(c);
    server.stop();
    let reload_time = match &save_time {
        Err(e) => Err(format!("no snapshot to load ({e})")),
        Ok(_) => {
            progress.show(&format!("memory: reloading {name} from its snapshot"));
            let start = Instant::now();
            let s = restart(dir)?;
            let t = start.elapsed();
            let keys = memory::dbsize(s.port());
            s.stop();
            match keys {
                Ok(k) if k as u64 >= n => Ok(t),
                Ok(k) => Err(format!("reloaded only {k} keys of {n}")),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    Ok(ServerMemory {
        before,
        after,
        load_time,
        save_time,
        reload_time,
        pause,
    })
}
