//! LATENCY: the latency monitor (events slower than
//! `latency-monitor-threshold` milliseconds, kept per event as a short
//! time series) and per-command latency histograms (LATENCY HISTOGRAM, INFO
//! latencystats).
//!
//! Histograms use power-of-two microsecond buckets: bucket `k` counts calls
//! that took at most `2^k` µs and more than `2^(k-1)`. Redis reports the same
//! power-of-two boundaries from its HDR histogram, cumulatively, so the
//! replies have the same shape. Recording is one relaxed atomic add.

use crate::context::{CmdResult, Ctx, Shared};
use crate::errors;
use crate::table::{self, command, container, flags::*, Command, Group, NO_KEYS};
use ferrocache_protocol::Encoder;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

const G: Group = Group::Server;
/// Samples kept per event, as in Redis.
const HISTORY: usize = 160;
pub const BUCKETS: usize = 48;

pub static COMMANDS: &[Command] = &[container(
    "latency",
    -2,
    G,
    "2.8.13",
    "A container for latency diagnostics commands.",
    SUBS,
)];

const F: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

static SUBS: &[Command] = &[
    command(
        "latest",
        2,
        F,
        NO_KEYS,
        G,
        "2.8.13",
        "Returns the latest latency samples for all events.",
        cmd_latency_latest,
    ),
    command(
        "history",
        3,
        F,
        NO_KEYS,
        G,
        "2.8.13",
        "Returns timestamp-latency samples for an event.",
        cmd_latency_history,
    ),
    command(
        "reset",
        -2,
        F,
        NO_KEYS,
        G,
        "2.8.13",
        "Resets the latency data for one or more events.",
        cmd_latency_reset,
    ),
    command(
        "graph",
        3,
        F,
        NO_KEYS,
        G,
        "2.8.13",
        "Returns a latency graph for an event.",
        cmd_latency_graph,
    ),
    command(
        "histogram",
        -2,
        F,
        NO_KEYS,
        G,
        "7.0.0",
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        cmd_latency_histogram,
    ),
    command(
        "doctor",
        2,
        F,
        NO_KEYS,
        G,
        "2.8.13",
        "Returns a human-readable latency analysis report.",
        cmd_latency_doctor,
    ),
    command(
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        G,
        "2.8.13",
        "Returns helpful text about the different subcommands.",
        cmd_latency_help,
    ),
];

/// Per-command latency histogram.
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

pub fn bucket_of(usec: u64) -> usize {
    if usec <= 1 {
        0
    } else {
        ((64 - (usec - 1).leading_zeros()) as usize).min(BUCKETS - 1)
    }
}

impl Histogram {
    pub fn record(&self, usec: u64) {
        self.buckets[bucket_of(usec)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
    }

    /// (upper bound in µs, cumulative count) for every non-empty bucket.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut total = 0;
        let mut out = Vec::new();
        for (k, b) in self.buckets.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            if n > 0 {
                total += n;
                out.push((1u64 << k, total));
            }
        }
        out
    }

    /// The upper bound of the bucket holding the `p`th percentile.
    pub fn percentile(&self, p: f64) -> f64 {
        let cum = self.cumulative();
        let Some(&(_, total)) = cum.last() else {
            return 0.0;
        };
        let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        cum.iter()
            .find(|(_, c)| *c >= want)
            .map_or(0.0, |(b, _)| *b as f64)
    }
}

#[derive(Default)]
struct Series {
    /// (unix seconds, milliseconds), oldest first.
    samples: VecDeque<(u64, u64)>,
    max: u64,
}

/// The latency monitor's events.
#[derive(Default)]
pub struct Latency {
    events: Mutex<BTreeMap<String, Series>>,
}

impl Latency {
    /// Adds a sample; samples within the same second keep the larger value.
    pub fn add(&self, event: &str, ms: u64) {
        let now = crate::context::unix_ms() / 1000;
        let mut ev = self.events.lock();
        let s = ev.entry(event.to_string()).or_default();
        s.max = s.max.max(ms);
        match s.samples.back_mut() {
            Some((t, v)) if *t == now => *v = (*v).max(ms),
            _ => {
                s.samples.push_back((now, ms));
                if s.samples.len() > HISTORY {
                    s.samples.pop_front();
                }
            }
        }
    }
}

/// Called by dispatch after every command when the monitor is on.
pub fn maybe_add(shared: &Shared, cmd: &Command, usec: u64) {
    let threshold = shared.tuning.latency_threshold_ms.load(Ordering::Relaxed);
    if threshold <= 0 {
        return;
    }
    let ms = usec / 1000;
    if ms as i64 >= threshold {
        let event = if cmd.has(FAST) {
            "fast-command"
        } else {
            "command"
        };
        shared.latency.add(event, ms);
    }
}

fn cmd_latency_latest(ctx: &mut Ctx) -> CmdResult {
    let ev = ctx.shared.latency.events.lock();
    let mut r = Encoder::new(ctx.out, ctx.session.proto);
    let rows: Vec<_> = ev.iter().filter(|(_, s)| !s.samples.is_empty()).collect();
    r.array(rows.len());
    for (name, s) in rows {
        let (t, v) = s.samples.back().copied().unwrap_or((0, 0));
        r.array(4);
        r.bulk(name.as_bytes());
        r.int(t as i64);
        r.int(v as i64);
        r.int(s.max as i64);
    }
    Ok(())
}

fn cmd_latency_history(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.arg(2)).into_owned();
    let ev = ctx.shared.latency.events.lock();
    let mut r = Encoder::new(ctx.out, ctx.session.proto);
    match ev.get(&name) {
        None => r.array(0),
        Some(s) => {
            r.array(s.samples.len());
            for (t, v) in &s.samples {
                r.array(2);
                r.int(*t as i64);
                r.int(*v as i64);
            }
        }
    }
    Ok(())
}

fn cmd_latency_reset(ctx: &mut Ctx) -> CmdResult {
    let mut ev = ctx.shared.latency.events.lock();
    let n = if ctx.args.len() == 2 {
        let n = ev.len();
        ev.clear();
        n
    } else {
        ctx.args[2..]
            .iter()
            .filter(|a| ev.remove(String::from_utf8_lossy(a).as_ref()).is_some())
            .count()
    };
    drop(ev);
    ctx.reply().int(n as i64);
    Ok(())
}

fn cmd_latency_graph(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.arg(2)).into_owned();
    let ev = ctx.shared.latency.events.lock();
    let Some(s) = ev.get(&name).filter(|s| !s.samples.is_empty()) else {
        return Err(errors::no_latency_samples(&name).into());
    };
    // A plain listing rather than Redis's ASCII-art chart.
    let mut text = format!(
        "{name} - high {} ms, low {} ms\n",
        s.max,
        s.samples.iter().map(|x| x.1).min().unwrap_or(0)
    );
    for (t, v) in &s.samples {
        let _ = writeln!(text, "{t} {v}");
    }
    drop(ev);
    ctx.reply().verbatim("txt", text.as_bytes());
    Ok(())
}

fn write_histogram(r: &mut Encoder, name: &str, calls: u64, h: &Histogram) {
    r.bulk(name.as_bytes());
    r.map(2);
    r.bulk(b"calls");
    r.int(calls as i64);
    r.bulk(b"histogram_usec");
    let cum = h.cumulative();
    r.map(cum.len());
    for (b, c) in cum {
        r.int(b as i64);
        r.int(c as i64);
    }
}

fn cmd_latency_histogram(ctx: &mut Ctx) -> CmdResult {
    let mut names: Vec<String> = Vec::new();
    if ctx.args.len() == 2 {
        names = ctx
            .shared
            .stats
            .command_rows()
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect();
    } else {
        for a in &ctx.args[2..] {
            let a = String::from_utf8_lossy(a).to_ascii_lowercase();
            match table::lookup(a.as_bytes()) {
                Some(c) if !c.subcommands.is_empty() => names.extend(
                    c.subcommands
                        .iter()
                        .map(|s| format!("{}|{}", c.name, s.name)),
                ),
                _ => names.push(a),
            }
        }
    }
    let stats = &ctx.shared.stats;
    let rows: Vec<(String, u64, &Histogram)> = names
        .into_iter()
        .filter_map(|n| {
            let s = stats.cmd(&n)?;
            let calls = s.calls.load(Ordering::Relaxed);
            (calls > 0).then_some((n, calls, &s.hist))
        })
        .collect();
    let mut r = Encoder::new(ctx.out, ctx.session.proto);
    r.map(rows.len());
    for (n, calls, h) in rows {
        write_histogram(&mut r, &n, calls, h);
    }
    Ok(())
}

fn cmd_latency_doctor(ctx: &mut Ctx) -> CmdResult {
    let threshold = ctx
        .shared
        .tuning
        .latency_threshold_ms
        .load(Ordering::Relaxed);
    let mut text = String::new();
    if threshold <= 0 {
        text.push_str("The latency monitor is off. Turn it on with CONFIG SET latency-monitor-threshold <milliseconds>; events slower than that will then be recorded and analysed here.\n");
    } else {
        let ev = ctx.shared.latency.events.lock();
        if ev.is_empty() {
            let _ = writeln!(
                text,
                "No latency event above {threshold} ms has been recorded since the last reset."
            );
        }
        for (name, s) in ev.iter() {
            let n = s.samples.len().max(1) as u64;
            let avg = s.samples.iter().map(|x| x.1).sum::<u64>() / n;
            let _ = writeln!(
                text,
                "{name}: {} samples, average {avg} ms, worst {} ms.",
                s.samples.len(),
                s.max
            );
        }
    }
    ctx.reply().verbatim("txt", text.as_bytes());
    Ok(())
}

fn cmd_latency_help(ctx: &mut Ctx) -> CmdResult {
    crate::server::reply_help(
        ctx,
        "LATENCY",
        &[
            ("DOCTOR", "A readable report on the recorded latency events."),
            ("GRAPH <event>", "The samples of <event> as text."),
            ("HISTORY <event>", "The (time, latency) samples of <event>."),
            ("LATEST", "The newest sample of every event."),
            ("RESET [<event> ...]", "Forget the named events, or all of them."),
            ("HISTOGRAM [<command> ...]", "Cumulative latency histograms of the named commands, or of every command that ran."),
        ],
    )
}

/// A percentile as Redis names it in INFO latencystats: `50`, `99`, `99.9`.
pub fn fmt_percentile(p: f64) -> String {
    let s = format!("{p}");
    s.trim_end_matches(".0").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(2), 1);
        assert_eq!(bucket_of(3), 2);
        assert_eq!(bucket_of(4), 2);
        assert_eq!(bucket_of(5), 3);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        let h = Histogram::default();
        for u in [1, 1, 3, 7] {
            h.record(u);
        }
        assert_eq!(h.cumulative(), vec![(1, 2), (4, 3), (8, 4)]);
        assert_eq!(h.percentile(50.0), 1.0);
        assert_eq!(h.percentile(99.0), 8.0);
    }
}
