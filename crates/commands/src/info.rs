//! INFO: sections and field names as Redis 7.0 prints them.

use crate::context::Shared;
use std::fmt::Write;
use std::sync::atomic::Ordering;

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Renders the requested sections (`default` when none are named).
pub fn render(shared: &Shared, requested: &[String]) -> String {
    let mut wanted: Vec<&str> = Vec::new();
    if requested.is_empty() {
        wanted.extend(DEFAULT_SECTIONS);
    }
    for r in requested {
        match r.as_str() {
            "default" => wanted.extend(DEFAULT_SECTIONS),
            "all" | "everything" => {
                wanted.extend(DEFAULT_SECTIONS);
                wanted.push("commandstats");
                wanted.push("latencystats");
            }
            other => wanted.push(other),
        }
    }
    let mut out = String::new();
    let mut done: Vec<&str> = Vec::new();
    for s in wanted {
        if done.contains(&s) {
            continue;
        }
        done.push(s);
        let body = section(shared, s);
        if let Some(body) = body {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            out.push_str(&body);
        }
    }
    out
}

fn section(shared: &Shared, name: &str) -> Option<String> {
    let mut s = String::new();
    match name {
        "server" => {
            let uptime = shared.started.elapsed().as_secs();
            let _ = write!(
                s,
                "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nferrocache_version:{}\r\n",
                crate::server::REDIS_VERSION,
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                shared.run_id,
                shared.port.lock(),
                crate::context::unix_us(),
                uptime,
                uptime / 86400,
                shared.config.get("hz").unwrap_or_default(),
                shared.config.get("hz").unwrap_or_default(),
                (crate::context::unix_ms() / 1000) & ((1 << 24) - 1),
                shared.executable,
                shared.config_file.lock().clone().unwrap_or_default(),
                env!("CARGO_PKG_VERSION"),
            );
        }
        "clients" => {
            let _ = write!(
                s,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
                shared.clients.count(),
                shared.config.get("maxclients").unwrap_or_default(),
            );
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
        "stats" => {
            let ks = &shared.ks.stats;
            let st = &shared.stats;
            let _ = write!(
                s,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\ntotal_error_replies:{}\r\n",
                shared.clients.total_connections.load(Ordering::Relaxed),
                st.total_commands.load(Ordering::Relaxed),
                st.total_net_input.load(Ordering::Relaxed),
                st.total_net_output.load(Ordering::Relaxed),
                shared.clients.rejected_connections.load(Ordering::Relaxed),
                ks.expired_keys.load(Ordering::Relaxed),
                ks.keyspace_hits.load(Ordering::Relaxed),
                ks.keyspace_misses.load(Ordering::Relaxed),
                st.total_error_replies.load(Ordering::Relaxed),
            );
        }
        "commandstats" => {
            s.push_str("# Commandstats\r\n");
            for (name, st) in shared.stats.command_rows() {
                let calls = st.calls.load(Ordering::Relaxed);
                let usec = st.usec.load(Ordering::Relaxed);
                let per = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    s,
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                    name,
                    calls,
                    usec,
                    per,
                    st.rejected.load(Ordering::Relaxed),
                    st.failed.load(Ordering::Relaxed)
                );
            }
        }
        "errorstats" => {
            s.push_str("# Errorstats\r\n");
            for (code, n) in shared.stats.errors.lock().iter() {
                let _ = write!(s, "errorstat_{code}:count={n}\r\n");
            }
        }
        _ => return None,
    }
    Some(s)
}
