//! INFO: sections and field names as Redis 7.0 prints them, in Redis's
//! order. Values Ferrocache has no counterpart for (fork, AOF, defrag,
//! Lua) are reported as the idle values Redis shows when the feature is
//! unused, so tools that parse INFO find every field they expect.

use crate::context::Shared;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Every section, in the order `INFO everything` prints them.
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Sections left out of `INFO` / `INFO default`.
const NOT_DEFAULT: &[&str] = &["commandstats", "latencystats"];

/// Renders the requested sections (`default` when none are named).
pub fn render(shared: &Shared, requested: &[String]) -> String {
    let mut wanted: Vec<&str> = Vec::new();
    let mut want = |s: &str| {
        if let Some(name) = ALL_SECTIONS.iter().find(|n| **n == s) {
            if !wanted.contains(name) {
                wanted.push(name);
            }
        }
    };
    if requested.is_empty() {
        ALL_SECTIONS
            .iter()
            .filter(|s| !NOT_DEFAULT.contains(s))
            .for_each(|s| want(s));
    }
    for r in requested {
        match r.as_str() {
            "default" => ALL_SECTIONS
                .iter()
                .filter(|s| !NOT_DEFAULT.contains(s))
                .for_each(|s| want(s)),
            "all" | "everything" => ALL_SECTIONS.iter().for_each(|s| want(s)),
            other => want(other),
        }
    }
    // Sections print in Redis's order whatever order they were asked in.
    let mut out = String::new();
    for s in ALL_SECTIONS.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section(shared, s, &mut out);
    }
    out
}

/// Redis's `bytesToHuman`.
pub fn human(n: u64) -> String {
    let n = n as f64;
    const UNITS: &[(f64, &str)] = &[
        (1024.0, "K"),
        (1024.0 * 1024.0, "M"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
    ];
    if n < 1024.0 {
        return format!("{}B", n as u64);
    }
    for (i, (size, unit)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map_or(f64::INFINITY, |x| x.0);
        if n < next {
            return format!("{:.2}{unit}", n / size);
        }
    }
    format!("{}B", n as u64)
}

/// Resident set size from /proc, in bytes.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Bytes in use: the counting allocator's figure when it is installed,
/// else the RSS.
pub fn used_memory() -> u64 {
    ferrocache_store::alloc::allocated().map_or_else(rss_bytes, |n| n as u64)
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// (user, system) CPU seconds from a /proc stat file.
fn cpu_times(path: &str) -> (f64, f64) {
    let Ok(s) = std::fs::read_to_string(path) else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

fn section(shared: &Shared, name: &str, s: &mut String) {
    macro_rules! field {
        ($k:expr, $v:expr) => {
            let _ = write!(s, "{}:{}\r\n", $k, $v);
        };
    }
    let r = Ordering::Relaxed;
    match name {
        "server" => {
            let uptime = shared.started.elapsed().as_secs();
            let hz = shared.config.get("hz").unwrap_or_default();
            s.push_str("# Server\r\n");
            field!("redis_version", crate::server::REDIS_VERSION);
            field!("redis_git_sha1", "00000000");
            field!("redis_git_dirty", 0);
            field!("redis_build_id", "0");
            field!("redis_mode", "standalone");
            field!(
                "os",
                format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
            );
            field!("arch_bits", 64);
            field!("monotonic_clock", "POSIX clock_gettime");
            field!("multiplexing_api", "epoll");
            field!("atomicvar_api", "c11-builtin");
            field!("gcc_version", "0.0.0");
            field!("process_id", std::process::id());
            field!("process_supervised", "no");
            field!("run_id", shared.run_id);
            field!("tcp_port", shared.port.lock());
            field!("server_time_usec", crate::context::unix_us());
            field!("uptime_in_seconds", uptime);
            field!("uptime_in_days", uptime / 86400);
            field!("hz", hz);
            field!("configured_hz", hz);
            field!(
                "lru_clock",
                (crate::context::unix_ms() / 1000) & ((1 << 24) - 1)
            );
            field!("executable", shared.executable);
            field!(
                "config_file",
                shared.config_file.lock().clone().unwrap_or_default()
            );
            field!("io_threads_active", 0);
        }
        "clients" => {
            s.push_str("# Clients\r\n");
            // Replicas are not counted, as in Redis (the link to our own
            // master is).
            field!(
                "connected_clients",
                shared
                    .clients
                    .count()
                    .saturating_sub(shared.repl.replicas.lock().len())
            );
            field!("cluster_connections", 0);
            field!(
                "maxclients",
                shared.config.get("maxclients").unwrap_or_default()
            );
            field!("client_recent_max_input_buffer", 0);
            field!("client_recent_max_output_buffer", 0);
            field!("blocked_clients", shared.blocking.clients());
            field!("tracking_clients", shared.pubsub.tracking.counts().0);
            field!(
                "clients_in_timeout_table",
                shared.blocking.clients_with_timeout()
            );
        }
        "memory" => {
            let used = used_memory();
            let peak = shared.peak_memory.fetch_max(used, r).max(used);
            let rss = rss_bytes();
            let maxmem = shared.config.get_i64("maxmemory").unwrap_or(0).max(0) as u64;
            let sys = total_system_memory();
            let perc = |a: u64, b: u64| {
                if b == 0 {
                    0.0
                } else {
                    a as f64 * 100.0 / b as f64
                }
            };
            let frag = if used == 0 {
                0.0
            } else {
                rss as f64 / used as f64
            };
            s.push_str("# Memory\r\n");
            field!("used_memory", used);
            field!("used_memory_human", human(used));
            field!("used_memory_rss", rss);
            field!("used_memory_rss_human", human(rss));
            field!("used_memory_peak", peak);
            field!("used_memory_peak_human", human(peak));
            field!("used_memory_peak_perc", format!("{:.2}%", perc(used, peak)));
            field!("used_memory_overhead", 0);
            field!("used_memory_startup", 0);
            field!("used_memory_dataset", used);
            field!("used_memory_dataset_perc", "100.00%");
            field!("allocator_allocated", used);
            field!("allocator_active", used);
            field!("allocator_resident", rss);
            field!("total_system_memory", sys);
            field!("total_system_memory_human", human(sys));
            field!("used_memory_lua", 0);
            field!("used_memory_vm_eval", 0);
            field!("used_memory_lua_human", "0B");
            field!("used_memory_scripts_eval", 0);
            field!("number_of_cached_scripts", 0);
            field!("number_of_functions", 0);
            field!("number_of_libraries", 0);
            field!("used_memory_vm_functions", 0);
            field!("used_memory_vm_total", 0);
            field!("used_memory_vm_total_human", "0B");
            field!("used_memory_functions", 0);
            field!("used_memory_scripts", 0);
            field!("used_memory_scripts_human", "0B");
            field!("maxmemory", maxmem);
            field!("maxmemory_human", human(maxmem));
            field!(
                "maxmemory_policy",
                shared.config.get("maxmemory-policy").unwrap_or_default()
            );
            field!("allocator_frag_ratio", "1.00");
            field!("allocator_frag_bytes", 0);
            field!("allocator_rss_ratio", format!("{frag:.2}"));
            field!("allocator_rss_bytes", rss.saturating_sub(used));
            field!("rss_overhead_ratio", "1.00");
            field!("rss_overhead_bytes", 0);
            field!("mem_fragmentation_ratio", format!("{frag:.2}"));
            field!("mem_fragmentation_bytes", rss as i64 - used as i64);
            field!("mem_not_counted_for_evict", 0);
            field!("mem_replication_backlog", 0);
            field!("mem_total_replication_buffers", 0);
            field!("mem_clients_slaves", 0);
            field!("mem_clients_normal", 0);
            field!("mem_cluster_links", 0);
            field!("mem_aof_buffer", 0);
            field!("mem_allocator", "mimalloc");
            field!("active_defrag_running", 0);
            field!("lazyfree_pending_objects", 0);
            field!("lazyfreed_objects", 0);
        }
        "persistence" => {
            s.push_str("# Persistence\r\n");
            let p = &shared.persist;
            field!("loading", p.loading.load(r) as u8);
            for k in [
                "async_loading",
                "current_cow_peak",
                "current_cow_size",
                "current_cow_size_age",
            ] {
                field!(k, 0);
            }
            field!("current_fork_perc", "0.00");
            field!("current_save_keys_processed", 0);
            field!("current_save_keys_total", 0);
            field!(
                "rdb_changes_since_last_save",
                crate::persist::changes_since_save(shared)
            );
            let in_progress = p.bgsave_in_progress.load(r);
            field!("rdb_bgsave_in_progress", in_progress as u8);
            field!("rdb_last_save_time", shared.lastsave.load(r));
            field!(
                "rdb_last_bgsave_status",
                if p.last_bgsave_ok.load(r) {
                    "ok"
                } else {
                    "err"
                }
            );
            field!("rdb_last_bgsave_time_sec", p.last_bgsave_time_sec.load(r));
            let current = if in_progress {
                (crate::context::unix_ms().saturating_sub(p.bgsave_started_ms.load(r)) / 1000)
                    as i64
            } else {
                -1
            };
            field!("rdb_current_bgsave_time_sec", current);
            field!("rdb_saves", p.rdb_saves.load(r));
            field!("rdb_last_cow_size", 0);
            field!(
                "rdb_last_load_keys_expired",
                p.last_load_keys_expired.load(r)
            );
            field!("rdb_last_load_keys_loaded", p.last_load_keys_loaded.load(r));
            let aof = &shared.journal.aof;
            let enabled = aof.enabled.load(r);
            let rewriting = aof.rewrite_in_progress.load(r);
            let ok = |b: bool| if b { "ok" } else { "err" };
            field!("aof_enabled", enabled as u8);
            field!("aof_rewrite_in_progress", rewriting as u8);
            field!("aof_rewrite_scheduled", aof.rewrite_scheduled.load(r) as u8);
            field!(
                "aof_last_rewrite_time_sec",
                aof.last_rewrite_time_sec.load(r)
            );
            let current = if rewriting {
                let started = aof.rewrite_started_ms.load(r);
                (crate::context::unix_ms().saturating_sub(started) / 1000) as i64
            } else {
                -1
            };
            field!("aof_current_rewrite_time_sec", current);
            field!("aof_last_bgrewrite_status", ok(aof.last_rewrite_ok.load(r)));
            field!("aof_rewrites", aof.rewrites.load(r));
            field!("aof_rewrites_consecutive_failures", 0);
            field!("aof_last_write_status", ok(aof.last_write_ok.load(r)));
            field!("aof_last_cow_size", 0);
            field!("module_fork_in_progress", 0);
            field!("module_fork_last_cow_size", 0);
            if enabled {
                field!("aof_current_size", aof.current_size.load(r));
                field!("aof_base_size", aof.base_size.load(r));
                field!("aof_pending_rewrite", 0);
                field!("aof_buffer_length", 0);
                field!("aof_pending_bio_fsync", 0);
                field!("aof_delayed_fsync", 0);
            }
            if p.loading.load(r) {
                let started = p.loading_started.load(r);
                let total = p.loading_progress.total.load(r);
                let loaded = p.loading_progress.loaded.load(r).min(total);
                let perc = if total == 0 {
                    0.0
                } else {
                    loaded as f64 * 100.0 / total as f64
                };
                let elapsed = (crate::context::unix_ms() / 1000).saturating_sub(started);
                let eta = ((total - loaded) * elapsed.max(1))
                    .checked_div(loaded)
                    .unwrap_or(1);
                field!("loading_start_time", started);
                field!("loading_total_bytes", total);
                field!("loading_rdb_used_mem", 0);
                field!("loading_loaded_bytes", loaded);
                field!("loading_loaded_perc", format!("{perc:.2}"));
                field!("loading_eta_seconds", eta);
            }
        }
        "stats" => {
            let ks = &shared.ks.stats;
            let st = &shared.stats;
            s.push_str("# Stats\r\n");
            field!(
                "total_connections_received",
                shared.clients.total_connections.load(r)
            );
            field!("total_commands_processed", st.total_commands.load(r));
            let [ops, inb, outb] = st.instantaneous.lock().rates();
            field!("instantaneous_ops_per_sec", ops.round() as u64);
            field!("total_net_input_bytes", st.total_net_input.load(r));
            field!("total_net_output_bytes", st.total_net_output.load(r));
            field!("total_net_repl_input_bytes", 0);
            field!("total_net_repl_output_bytes", 0);
            field!("instantaneous_input_kbps", format!("{:.2}", inb / 1024.0));
            field!("instantaneous_output_kbps", format!("{:.2}", outb / 1024.0));
            field!("instantaneous_input_repl_kbps", "0.00");
            field!("instantaneous_output_repl_kbps", "0.00");
            field!(
                "rejected_connections",
                shared.clients.rejected_connections.load(r)
            );
            let repl = &shared.repl;
            field!("sync_full", repl.sync_full.load(r));
            field!("sync_partial_ok", repl.sync_partial_ok.load(r));
            field!("sync_partial_err", repl.sync_partial_err.load(r));
            field!("expired_keys", ks.expired_keys.load(r));
            field!("expired_stale_perc", "0.00");
            field!("expired_time_cap_reached_count", 0);
            field!("expire_cycle_cpu_milliseconds", 0);
            field!("evicted_keys", shared.evictor.evicted_keys.load(r));
            field!("evicted_clients", 0);
            let current = shared.evictor.exceeded_now_ms();
            field!(
                "total_eviction_exceeded_time",
                shared.evictor.exceeded_total_ms.load(r) + current
            );
            field!("current_eviction_exceeded_time", current);
            field!("keyspace_hits", ks.keyspace_hits.load(r));
            field!("keyspace_misses", ks.keyspace_misses.load(r));
            field!("pubsub_channels", shared.pubsub.channel_count());
            field!("pubsub_patterns", shared.pubsub.pattern_count());
            field!("pubsubshard_channels", shared.pubsub.shard_channel_count());
            // No fork: the analogue is the moment every shard lock is held
            // to fix a snapshot's instant, and the number of snapshots.
            field!(
                "latest_fork_usec",
                shared.persist.last_snapshot_pause_us.load(r)
            );
            field!("total_forks", shared.persist.snapshots.load(r));
            for k in [
                "migrate_cached_sockets",
                "slave_expires_tracked_keys",
                "active_defrag_hits",
                "active_defrag_misses",
                "active_defrag_key_hits",
                "active_defrag_key_misses",
                "total_active_defrag_time",
                "current_active_defrag_time",
            ] {
                field!(k, 0);
            }
            let (_, tkeys, titems, tprefixes) = shared.pubsub.tracking.counts();
            field!("tracking_total_keys", tkeys);
            field!("tracking_total_items", titems);
            field!("tracking_total_prefixes", tprefixes);
            field!("unexpected_error_replies", 0);
            field!("total_error_replies", st.total_error_replies.load(r));
            field!("dump_payload_sanitizations", 0);
            field!("total_reads_processed", st.total_commands.load(r));
            field!("total_writes_processed", st.total_commands.load(r));
            for k in [
                "io_threaded_reads_processed",
                "io_threaded_writes_processed",
                "reply_buffer_shrinks",
                "reply_buffer_expands",
            ] {
                field!(k, 0);
            }
        }
        "replication" => {
            s.push_str("# Replication\r\n");
            crate::replication::info(shared, s);
        }
        "cpu" => {
            let (user, sys) = cpu_times("/proc/self/stat");
            let (muser, msys) = cpu_times(&format!("/proc/self/task/{}/stat", std::process::id()));
            s.push_str("# CPU\r\n");
            field!("used_cpu_sys", format!("{sys:.6}"));
            field!("used_cpu_user", format!("{user:.6}"));
            field!("used_cpu_sys_children", "0.000000");
            field!("used_cpu_user_children", "0.000000");
            field!("used_cpu_sys_main_thread", format!("{msys:.6}"));
            field!("used_cpu_user_main_thread", format!("{muser:.6}"));
        }
        "modules" => s.push_str("# Modules\r\n"),
        "cluster" => {
            s.push_str("# Cluster\r\n");
            field!("cluster_enabled", 0);
        }
        "keyspace" => {
            s.push_str("# Keyspace\r\n");
            for db in 0..shared.ks.databases() {
                let (keys, expires) = shared.ks.db_counts(db);
                if keys > 0 {
                    let _ = write!(s, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                }
            }
        }
        "commandstats" => {
            s.push_str("# Commandstats\r\n");
            for (name, st) in shared.stats.command_rows() {
                let calls = st.calls.load(r);
                let usec = st.usec.load(r);
                let per = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    s,
                    "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
                    st.rejected.load(r),
                    st.failed.load(r)
                );
            }
        }
        "errorstats" => {
            s.push_str("# Errorstats\r\n");
            for (code, n) in shared.stats.errors.lock().iter() {
                let _ = write!(s, "errorstat_{code}:count={n}\r\n");
            }
        }
        "latencystats" => {
            s.push_str("# Latencystats\r\n");
            let percentiles: Vec<f64> = shared
                .config
                .get("latency-tracking-info-percentiles")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            for (name, st) in shared.stats.command_rows() {
                if st.calls.load(r) == 0 {
                    continue;
                }
                let parts: Vec<String> = percentiles
                    .iter()
                    .map(|p| {
                        format!(
                            "p{}={:.3}",
                            crate::latency::fmt_percentile(*p),
                            st.hist.percentile(*p)
                        )
                    })
                    .collect();
                let _ = write!(s, "latency_percentiles_usec_{name}:{}\r\n", parts.join(","));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(2153152), "2.05M");
        assert_eq!(human(25276063744), "23.54G");
    }
}
