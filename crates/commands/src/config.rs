//! Configuration parameters with Redis 7.0's names, aliases, defaults and
//! validation messages.
//!
//! Values are stored in their canonical text form (memory sizes in bytes,
//! booleans as `yes`/`no`), which is what CONFIG GET returns; typed getters
//! parse on read. Nothing on a per-command hot path reads the config map:
//! values that matter there are copied into atomics by their owners.

use crate::args::is;
use ferrocache_store::glob::glob_match;
use parking_lot::RwLock;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A byte size that accepts `k`, `kb`, `m`, `mb`, `g`, `gb` suffixes.
    Memory {
        min: i64,
        max: i64,
    },
    Enum(&'static [&'static str]),
    Str,
    /// Validated by a dedicated function (save rules, bind lists, ...).
    Special(fn(&str) -> Result<String, String>),
}

pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    /// False for parameters only settable at start-up.
    pub mutable: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        mutable: true,
    }
}

const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        mutable: false,
    }
}

const fn aliased(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind,
        default,
        mutable: true,
    }
}

const INT: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};
const MEM: Kind = Kind::Memory {
    min: 0,
    max: i64::MAX,
};
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Every parameter Ferrocache knows, sorted by name.
pub static PARAMS: &[Param] = &[
    p("activerehashing", Kind::Bool, "yes"),
    p("active-expire-effort", Kind::Int { min: 1, max: 10 }, "1"),
    p("aof-load-truncated", Kind::Bool, "yes"),
    p("aof-use-rdb-preamble", Kind::Bool, "yes"),
    p("aof-timestamp-enabled", Kind::Bool, "no"),
    fixed("appenddirname", Kind::Str, "appendonlydir"),
    fixed("appendfilename", Kind::Str, "appendonly.aof"),
    p(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "everysec",
    ),
    p("appendonly", Kind::Special(validate_appendonly), "no"),
    p("auto-aof-rewrite-min-size", MEM, "67108864"),
    p("auto-aof-rewrite-percentage", INT, "100"),
    fixed("bind", Kind::Special(validate_bind), "* -::*"),
    aliased("busy-reply-threshold", "lua-time-limit", INT, "5000"),
    p(
        "client-output-buffer-limit",
        Kind::Special(validate_obuf_limits),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    p(
        "client-query-buffer-limit",
        Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX,
        },
        "1073741824",
    ),
    fixed("daemonize", Kind::Bool, "no"),
    fixed(
        "databases",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "16",
    ),
    p("dbfilename", Kind::Str, "dump.rdb"),
    p("dir", Kind::Str, ""),
    p("dynamic-hz", Kind::Bool, "yes"),
    fixed(
        "enable-debug-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
    ),
    aliased(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        INT,
        "512",
    ),
    aliased(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        INT,
        "64",
    ),
    p(
        "hz",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "10",
    ),
    fixed("io-threads", Kind::Int { min: 1, max: 128 }, "1"),
    p(
        "latency-monitor-threshold",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "0",
    ),
    p("latency-tracking", Kind::Bool, "yes"),
    p(
        "latency-tracking-info-percentiles",
        Kind::Special(validate_percentiles),
        "50 99 99.9",
    ),
    p("lazyfree-lazy-eviction", Kind::Bool, "no"),
    p("lazyfree-lazy-expire", Kind::Bool, "no"),
    p("lazyfree-lazy-server-del", Kind::Bool, "no"),
    p("lazyfree-lazy-user-del", Kind::Bool, "no"),
    p("lazyfree-lazy-user-flush", Kind::Bool, "no"),
    p("lfu-decay-time", INT, "1"),
    p("lfu-log-factor", INT, "10"),
    p("list-compress-depth", INT, "0"),
    aliased(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "-2",
    ),
    fixed("logfile", Kind::Str, ""),
    p(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        "notice",
    ),
    p("masterauth", Kind::Str, ""),
    p("masteruser", Kind::Str, ""),
    p(
        "maxclients",
        Kind::Int {
            min: 1,
            max: u32::MAX as i64,
        },
        "10000",
    ),
    p("maxmemory", MEM, "0"),
    p(
        "maxmemory-eviction-tenacity",
        Kind::Int { min: 0, max: 100 },
        "10",
    ),
    p("maxmemory-policy", Kind::Enum(POLICIES), "noeviction"),
    p(
        "maxmemory-samples",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "5",
    ),
    aliased("min-replicas-max-lag", "min-slaves-max-lag", INT, "10"),
    aliased("min-replicas-to-write", "min-slaves-to-write", INT, "0"),
    p("notify-keyspace-events", Kind::Special(validate_notify), ""),
    fixed("pidfile", Kind::Str, ""),
    p("port", Kind::Int { min: 0, max: 65535 }, "6379"),
    p("protected-mode", Kind::Bool, "yes"),
    p(
        "proto-max-bulk-len",
        Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX,
        },
        "536870912",
    ),
    p("rdbchecksum", Kind::Bool, "yes"),
    p("rdbcompression", Kind::Bool, "yes"),
    p(
        "repl-backlog-size",
        Kind::Memory {
            min: 1,
            max: i64::MAX,
        },
        "1048576",
    ),
    p(
        "repl-backlog-ttl",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "3600",
    ),
    p("repl-diskless-sync", Kind::Bool, "yes"),
    p("repl-diskless-sync-delay", INT, "5"),
    aliased(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "10",
    ),
    p(
        "repl-timeout",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "60",
    ),
    aliased("replica-announce-ip", "slave-announce-ip", Kind::Str, ""),
    aliased(
        "replica-announce-port",
        "slave-announce-port",
        Kind::Int { min: 0, max: 65535 },
        "0",
    ),
    aliased("replica-priority", "slave-priority", INT, "100"),
    aliased("replica-read-only", "slave-read-only", Kind::Bool, "yes"),
    aliased(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        Kind::Bool,
        "yes",
    ),
    aliased(
        "replicaof",
        "slaveof",
        Kind::Special(validate_replicaof),
        "",
    ),
    p("requirepass", Kind::Str, ""),
    p(
        "save",
        Kind::Special(validate_save),
        "3600 1 300 100 60 10000",
    ),
    p("set-max-intset-entries", INT, "512"),
    p(
        "slowlog-log-slower-than",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        "10000",
    ),
    p(
        "slowlog-max-len",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
    ),
    p("stop-writes-on-bgsave-error", Kind::Bool, "yes"),
    fixed(
        "tcp-backlog",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "511",
    ),
    p("tcp-keepalive", INT, "300"),
    p("timeout", INT, "0"),
    p("tracking-table-max-keys", INT, "1000000"),
    fixed("unixsocket", Kind::Str, ""),
    fixed("unixsocketperm", Kind::Int { min: 0, max: 0o777 }, "0"),
    aliased(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        INT,
        "128",
    ),
    aliased(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        INT,
        "64",
    ),
];

/// Looks a parameter up by name or alias, case-insensitively.
pub fn find_param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Parses a memory size: a plain number of bytes or one with a unit
/// (`b`, `k`, `kb`, `m`, `mb`, `g`, `gb`, case-insensitive; `k` is 1000,
/// `kb` 1024, as in redis.conf).
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    ferrocache_protocol::parse_i64(num.as_bytes())?.checked_mul(mul)
}

impl Param {
    /// Validates `value` and returns its canonical form, or Redis's reason.
    pub fn normalize(&self, value: &str) -> Result<String, String> {
        match self.kind {
            Kind::Bool => {
                if is(value.as_bytes(), "yes") {
                    Ok("yes".into())
                } else if is(value.as_bytes(), "no") {
                    Ok("no".into())
                } else {
                    Err("argument must be 'yes' or 'no'".into())
                }
            }
            Kind::Int { min, max } => {
                let v: i64 = ferrocache_protocol::parse_i64(value.as_bytes())
                    .ok_or("argument couldn't be parsed into an integer")?;
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(v.to_string())
            }
            Kind::Memory { min, max } => {
                let v = parse_memory(value).ok_or("argument must be a memory value")?;
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(v.to_string())
            }
            Kind::Enum(options) => options
                .iter()
                .find(|o| o.eq_ignore_ascii_case(value))
                .map(|o| o.to_string())
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        options.join(", ")
                    )
                }),
            Kind::Str => Ok(value.to_string()),
            Kind::Special(f) => f(value),
        }
    }
}

fn validate_appendonly(v: &str) -> Result<String, String> {
    if v.eq_ignore_ascii_case("no") {
        Ok("no".into())
    } else if v.eq_ignore_ascii_case("yes") {
        Ok("yes".into())
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

fn validate_save(v: &str) -> Result<String, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if !parts.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    for part in &parts {
        if ferrocache_protocol::parse_i64(part.as_bytes()).is_none_or(|n| n < 0) {
            return Err("Invalid save parameters".into());
        }
    }
    Ok(parts.join(" "))
}

fn validate_bind(v: &str) -> Result<String, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.is_empty() || parts.len() > 16 {
        return Err("Too many bind addresses specified.".into());
    }
    Ok(parts.join(" "))
}

fn validate_replicaof(v: &str) -> Result<String, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    match parts.as_slice() {
        [] => Ok(String::new()),
        [no, one] if no.eq_ignore_ascii_case("no") && one.eq_ignore_ascii_case("one") => {
            Ok(String::new())
        }
        [host, port] if port.parse::<u16>().is_ok() => Ok(format!("{host} {port}")),
        _ => Err("Invalid master port".into()),
    }
}

fn validate_percentiles(v: &str) -> Result<String, String> {
    for part in v.split_whitespace() {
        match part.parse::<f64>() {
            Ok(x) if (0.0..=100.0).contains(&x) => {}
            _ => return Err("latency-tracking-info-percentiles parameters should be a list of numbers between 0 and 100".into()),
        }
    }
    Ok(v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `notify-keyspace-events` flag letters, kept in Redis's canonical order.
fn validate_notify(v: &str) -> Result<String, String> {
    match crate::notify::parse(v) {
        Some(flags) => Ok(crate::notify::canonical(flags)),
        None => Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
    }
}

fn validate_obuf_limits(v: &str) -> Result<String, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if !parts.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut current: HashMap<String, [i64; 3]> = HashMap::new();
    for chunk in parts.chunks(4) {
        let class = match chunk[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(chunk[1]);
        let soft = parse_memory(chunk[2]);
        let secs = ferrocache_protocol::parse_i64(chunk[3].as_bytes());
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) if h >= 0 && s >= 0 && t >= 0 => {
                current.insert(class.to_string(), [h, s, t]);
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    Ok(parts.join(" "))
}

/// The live configuration.
pub struct Config {
    values: RwLock<HashMap<&'static str, String>>,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    pub fn new() -> Config {
        let values = PARAMS
            .iter()
            .map(|p| (p.name, p.default.to_string()))
            .collect();
        let cfg = Config {
            values: RwLock::new(values),
        };
        if let Ok(dir) = std::env::current_dir() {
            cfg.values.write().insert("dir", dir.display().to_string());
        }
        cfg
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let p = find_param(name)?;
        self.values.read().get(p.name).cloned()
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v == "yes")
    }

    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.get(name)?.parse().ok()
    }

    pub fn get_usize(&self, name: &str) -> Option<usize> {
        self.get(name)?.parse().ok()
    }

    /// Sets a parameter after validating it. `startup` allows immutable
    /// parameters (config file and command line).
    pub fn set(&self, name: &str, value: &str, startup: bool) -> Result<(), ConfigError> {
        let p = find_param(name).ok_or(ConfigError::Unknown)?;
        if !p.mutable && !startup {
            return Err(ConfigError::Invalid("can't set immutable config".into()));
        }
        let mut v = p.normalize(value).map_err(ConfigError::Invalid)?;
        if p.name == "dir" {
            if !startup {
                std::env::set_current_dir(&v).map_err(|e| ConfigError::Invalid(e.to_string()))?;
            }
            // Kept absolute, as Redis reports it, so that snapshot paths do
            // not depend on the working directory at the time of a save.
            if let Ok(abs) = std::fs::canonicalize(&v) {
                v = abs.display().to_string();
            }
        }
        self.values.write().insert(p.name, v);
        Ok(())
    }

    /// Parameter names and aliases matching `pattern`, with their values, in
    /// table order (CONFIG GET).
    pub fn matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        let values = self.values.read();
        let mut out = Vec::new();
        for p in PARAMS {
            let v = values.get(p.name).cloned().unwrap_or_default();
            if glob_match(pattern, p.name.as_bytes(), true) {
                out.push((p.name.to_string(), v.clone()));
            }
            if let Some(a) = p.alias {
                if a != p.name && glob_match(pattern, a.as_bytes(), true) {
                    out.push((a.to_string(), v));
                }
            }
        }
        out
    }

    /// Every parameter whose value differs from the default, for CONFIG
    /// REWRITE.
    pub fn non_defaults(&self) -> Vec<(&'static str, String)> {
        let values = self.values.read();
        PARAMS
            .iter()
            .filter_map(|p| {
                let v = values.get(p.name)?;
                (v != p.default && p.name != "dir").then(|| (p.name, v.clone()))
            })
            .collect()
    }
}

/// The comment line that introduces parameters CONFIG REWRITE appends.
const REWRITE_MARK: &str = "# Generated by CONFIG REWRITE";

/// Quotes a value for redis.conf when it needs it: string parameters are
/// always quoted, as Redis writes them; others only when empty or spaced.
fn conf_value(kind: Kind, v: &str) -> String {
    let needs = match kind {
        Kind::Str => true,
        Kind::Special(_) => v.is_empty(),
        _ => false,
    } || v.is_empty()
        || v.bytes().any(|b| {
            b.is_ascii_whitespace() || b == b'"' || b == b'\'' || !(0x20..0x7f).contains(&b)
        }) && !matches!(kind, Kind::Special(_));
    if !needs {
        return v.to_string();
    }
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The redis.conf lines that set `p` to `v` (`save` takes one line per rule).
fn conf_lines(p: &Param, v: &str) -> Vec<String> {
    if p.name == "save" {
        let words: Vec<&str> = v.split_whitespace().collect();
        if words.is_empty() {
            return vec!["save \"\"".to_string()];
        }
        return words
            .chunks(2)
            .map(|c| format!("save {}", c.join(" ")))
            .collect();
    }
    vec![format!("{} {}", p.name, conf_value(p.kind, v))]
}

/// Builds the new text of a config file: comments and lines Ferrocache does
/// not know stay as they are; the first line of each known parameter gets
/// the current value and its repeats are dropped; parameters that differ
/// from their defaults and were not in the file are appended after a marker
/// comment.
pub fn rewrite_text(config: &Config, old: &str) -> String {
    let values = config.values.read();
    let mut done: Vec<&'static str> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let mut marked = false;
    for line in old.lines() {
        let t = line.trim();
        if t == REWRITE_MARK {
            marked = true;
        }
        if t.is_empty() || t.starts_with('#') {
            out.push(line.to_string());
            continue;
        }
        let word = t
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let Some(p) = find_param(&word) else {
            out.push(line.to_string());
            continue;
        };
        if done.contains(&p.name) {
            continue;
        }
        done.push(p.name);
        let v = values.get(p.name).cloned().unwrap_or_default();
        // A master drops its old replicaof line, as Redis does.
        if p.name == "replicaof" && v.is_empty() {
            continue;
        }
        out.extend(conf_lines(p, &v));
    }
    for p in PARAMS {
        if done.contains(&p.name) {
            continue;
        }
        let Some(v) = values.get(p.name) else {
            continue;
        };
        if v == p.default || p.name == "dir" {
            continue;
        }
        if !marked {
            out.push(REWRITE_MARK.to_string());
            marked = true;
        }
        out.extend(conf_lines(p, v));
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// CONFIG REWRITE: replaces the file at `path` (through a temporary file and
/// a rename, so a crash never leaves half a file).
pub fn rewrite_file(config: &Config, path: &str) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let text = rewrite_text(config, &old);
    let tmp = format!("{path}.tmp-{}", std::process::id());
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Unknown,
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for p in PARAMS {
            assert_eq!(
                p.normalize(p.default).as_deref(),
                Ok(p.default),
                "default of {}",
                p.name
            );
        }
    }

    #[test]
    fn rewrite_keeps_unknown_lines_and_appends_changes() {
        let c = Config::new();
        c.set("maxmemory", "10mb", false).unwrap();
        c.set("timeout", "7", false).unwrap();
        c.set("save", "100 1 200 2", true).unwrap();
        let old = "# my comment\ntimeout 0\nfuture-param x\ntimeout 3\n";
        let new = rewrite_text(&c, old);
        assert_eq!(
            new,
            "# my comment\ntimeout 7\nfuture-param x\n# Generated by CONFIG REWRITE\nmaxmemory 10485760\nsave 100 1\nsave 200 2\n"
        );
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("100MB"), Some(100 << 20));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("1xb"), None);
    }

    #[test]
    fn set_validates_and_aliases() {
        let c = Config::new();
        c.set("maxmemory", "10mb", false).unwrap();
        assert_eq!(c.get("maxmemory").as_deref(), Some("10485760"));
        c.set("slave-read-only", "NO", false).unwrap();
        assert_eq!(c.get("replica-read-only").as_deref(), Some("no"));
        assert_eq!(
            c.set("maxmemory-policy", "bogus", false).unwrap_err(),
            ConfigError::Invalid(format!(
                "argument(s) must be one of the following: {}",
                POLICIES.join(", ")
            ))
        );
        assert_eq!(c.set("nosuch", "1", false), Err(ConfigError::Unknown));
        assert!(matches!(
            c.set("databases", "4", false),
            Err(ConfigError::Invalid(_))
        ));
    }
}
