//! Server statistics: per-command counters (INFO commandstats), error
//! counters (INFO errorstats) and the totals INFO stats reports.

use ferrocache_store::counter::Counter;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

#[derive(Default)]
pub struct CmdStat {
    pub calls: Counter,
    pub usec: Counter,
    pub rejected: Counter,
    pub failed: Counter,
    /// Latency distribution (LATENCY HISTOGRAM, INFO latencystats).
    pub hist: crate::latency::Histogram,
}

/// Samples behind INFO's `instantaneous_*` fields: a rate per second
/// measured every ~100 ms, averaged over the last 16 samples, as Redis does.
#[derive(Default)]
pub struct Instantaneous {
    last: Option<(std::time::Instant, [u64; 3])>,
    samples: [[f64; 16]; 3],
    next: usize,
}

impl Instantaneous {
    /// The averaged rates: commands/s, input bytes/s, output bytes/s.
    pub fn rates(&self) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (i, s) in self.samples.iter().enumerate() {
            out[i] = s.iter().sum::<f64>() / s.len() as f64;
        }
        out
    }
}

pub struct Stats {
    pub instantaneous: Mutex<Instantaneous>,
    /// Keyed by full command name (`get`, `config|get`); built once, so
    /// lookups take no lock.
    cmds: OnceLock<HashMap<String, CmdStat, foldhash::fast::FixedState>>,
    pub errors: Mutex<BTreeMap<String, u64>>,
    pub total_commands: Counter,
    pub total_net_input: AtomicU64,
    pub total_net_output: AtomicU64,
    pub total_error_replies: AtomicU64,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            // The first sample measures from start-up, as Redis's does:
            // commands run before the first cron tick still count.
            instantaneous: Mutex::new(Instantaneous {
                last: Some((std::time::Instant::now(), [0; 3])),
                ..Instantaneous::default()
            }),
            cmds: OnceLock::new(),
            errors: Mutex::new(BTreeMap::new()),
            total_commands: Counter::new(),
            total_net_input: AtomicU64::new(0),
            total_net_output: AtomicU64::new(0),
            total_error_replies: AtomicU64::new(0),
        }
    }

    fn cmds(&self) -> &HashMap<String, CmdStat, foldhash::fast::FixedState> {
        self.cmds.get_or_init(|| {
            let mut m = HashMap::with_hasher(foldhash::fast::FixedState::default());
            for c in crate::table::all_commands() {
                m.insert(c.name.to_string(), CmdStat::default());
                for s in c.subcommands {
                    m.insert(format!("{}|{}", c.name, s.name), CmdStat::default());
                }
            }
            m
        })
    }

    pub fn cmd(&self, full_name: &str) -> Option<&CmdStat> {
        self.cmds().get(full_name)
    }

    pub fn record_error(&self, code: &str) {
        self.total_error_replies.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock();
        // Redis caps the table at 128 distinct codes to bound its size.
        if errors.len() < 128 || errors.contains_key(code) {
            *errors.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    /// Commands with at least one call or rejection, sorted by name.
    pub fn command_rows(&self) -> Vec<(&str, &CmdStat)> {
        let mut rows: Vec<(&str, &CmdStat)> = self
            .cmds()
            .iter()
            .filter(|(_, s)| {
                s.calls.load(Ordering::Relaxed) > 0
                    || s.rejected.load(Ordering::Relaxed) > 0
                    || s.failed.load(Ordering::Relaxed) > 0
            })
            .map(|(n, s)| (n.as_str(), s))
            .collect();
        rows.sort_by_key(|(n, _)| *n);
        rows
    }

    /// Takes an instantaneous-metrics sample if 100 ms have passed since the
    /// last one; called from the cron.
    pub fn sample_instantaneous(&self) {
        let now = std::time::Instant::now();
        let cur = [
            self.total_commands.load(Ordering::Relaxed),
            self.total_net_input.load(Ordering::Relaxed),
            self.total_net_output.load(Ordering::Relaxed),
        ];
        let mut inst = self.instantaneous.lock();
        match inst.last {
            Some((t, prev)) => {
                let dt = now.duration_since(t).as_secs_f64();
                if dt < 0.1 {
                    return;
                }
                let slot = inst.next;
                for i in 0..3 {
                    inst.samples[i][slot] = cur[i].saturating_sub(prev[i]) as f64 / dt;
                }
                inst.next = (slot + 1) % 16;
                inst.last = Some((now, cur));
            }
            None => inst.last = Some((now, cur)),
        }
    }

    pub fn reset(&self) {
        for s in self.cmds().values() {
            s.calls.store(0, Ordering::Relaxed);
            s.usec.store(0, Ordering::Relaxed);
            s.rejected.store(0, Ordering::Relaxed);
            s.failed.store(0, Ordering::Relaxed);
            s.hist.reset();
        }
        self.errors.lock().clear();
        self.total_commands.store(0, Ordering::Relaxed);
        self.total_net_input.store(0, Ordering::Relaxed);
        self.total_net_output.store(0, Ordering::Relaxed);
        self.total_error_replies.store(0, Ordering::Relaxed);
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}
