//! Rendering a [`Report`]: Markdown (printed and written), CSV and an SVG bar
//! chart of requests per second.

use crate::{MemoryResult, Outcome, Report, RowResult, ServerMemory, Target};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes report.md, report.csv, memory.csv and rps.svg; returns their paths.
pub fn write_all(report: &Report, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let md = dir.join("report.md");
    std::fs::write(&md, markdown(report))?;
    let csv = dir.join("report.csv");
    std::fs::write(&csv, rows_csv(&report.rows))?;
    let mut files = vec![md, csv];
    if let Some(m) = &report.memory {
        let p = dir.join("memory.csv");
        std::fs::write(&p, memory_csv(m))?;
        files.push(p);
    }
    let svg = dir.join("rps.svg");
    chart(&report.rows, &svg).map_err(|e| io::Error::other(format!("chart: {e}")))?;
    files.push(svg);
    Ok(files)
}

fn rps(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut rev = Vec::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().rev().enumerate() {
        if i > 0 && i % 3 == 0 {
            rev.push(',');
        }
        rev.push(ch);
    }
    rev.into_iter().rev().collect()
}

fn status(o: &Outcome) -> &'static str {
    match o {
        Outcome::Measured(..) => "ok",
        Outcome::NotSupported(_) => "not supported",
        Outcome::Failed(_) => "failed",
    }
}

fn cell(o: &Outcome, f: impl Fn(&crate::Sample) -> String) -> String {
    match o.sample() {
        Some(s) => f(&s),
        None => status(o).to_string(),
    }
}

/// Ferrocache rps over Redis rps, when both were measured.
pub fn ratio(row: &RowResult) -> Option<f64> {
    let (r, f) = (row.redis.sample()?, row.ferrocache.sample()?);
    (r.rps > 0.0).then(|| f.rps / r.rps)
}

pub fn target_text(t: Target) -> String {
    match t {
        Target::None => "—".into(),
        Target::Ratio(r) => format!("≥ {r:.1}x"),
        Target::RatioAndP99(r) => format!("≥ {r:.1}x, p99 ≤ Redis"),
        Target::RatioAndOwn(r, own) => format!("≥ {r:.1}x, ≥ 0.9x own {own}"),
    }
}

/// `Some(true)` met, `Some(false)` missed, `None` when there is no target or
/// Redis gave no figure to compare with.
pub fn verdict(row: &RowResult, all: &[RowResult]) -> Option<bool> {
    if row.spec.target == Target::None {
        return None;
    }
    let r = row.redis.sample()?;
    let Some(f) = row.ferrocache.sample() else {
        return Some(false);
    };
    let ratio_ok = |min: f64| f.rps >= min * r.rps;
    Some(match row.spec.target {
        Target::None => return None,
        Target::Ratio(min) => ratio_ok(min),
        Target::RatioAndP99(min) => ratio_ok(min) && f.p99_ms <= r.p99_ms,
        Target::RatioAndOwn(min, own) => {
            let own = all
                .iter()
                .find(|x| x.spec.label == own)
                .and_then(|x| x.ferrocache.sample());
            ratio_ok(min) && own.is_some_and(|o| f.rps >= 0.9 * o.rps)
        }
    })
}

fn verdict_text(row: &RowResult, all: &[RowResult]) -> &'static str {
    match (verdict(row, all), &row.ferrocache) {
        (None, _) => "—",
        (Some(true), _) => "met",
        (Some(false), Outcome::NotSupported(_)) => "missed (not supported)",
        (Some(false), Outcome::Failed(_)) => "missed (failed)",
        (Some(false), _) => "missed",
    }
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / (1024.0 * 1024.0))
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Bytes per key from the growth of a counter while loading.
fn per_key(before: Option<u64>, after: Option<u64>, keys: u64) -> Option<f64> {
    let (b, a) = (before?, after?);
    (keys > 0).then(|| a.saturating_sub(b) as f64 / keys as f64)
}

struct MemLine {
    metric: String,
    redis: String,
    ferrocache: String,
    ratio: Option<f64>,
    target: String,
    result: String,
}

fn memory_lines(m: &MemoryResult) -> Vec<MemLine> {
    let mut v = Vec::new();
    let judge = |ratio: Option<f64>, max: f64| match ratio {
        Some(r) if r <= max => "met".to_string(),
        Some(_) => "missed".to_string(),
        None => "missed (not measured)".to_string(),
    };
    let opt = |o: Option<u64>, f: &dyn Fn(u64) -> String| o.map(f).unwrap_or("not reported".into());
    let (r, f) = (&m.redis, &m.ferrocache);
    let ratio_of = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if a > 0.0 => Some(b / a),
        _ => None,
    };
    v.push(MemLine {
        metric: "used_memory after load".into(),
        redis: opt(r.after.used_memory, &mb),
        ferrocache: opt(f.after.used_memory, &mb),
        ratio: ratio_of(
            r.after.used_memory.map(|x| x as f64),
            f.after.used_memory.map(|x| x as f64),
        ),
        target: "—".into(),
        result: "—".into(),
    });
    let (ru, fu) = (
        per_key(r.before.used_memory, r.after.used_memory, m.keys),
        per_key(f.before.used_memory, f.after.used_memory, m.keys),
    );
    let b = |x: Option<f64>| {
        x.map(|x| format!("{x:.1} B"))
            .unwrap_or("not reported".into())
    };
    v.push(MemLine {
        metric: "used_memory per key".into(),
        redis: b(ru),
        ferrocache: b(fu),
        ratio: ratio_of(ru, fu),
        target: "—".into(),
        result: "—".into(),
    });
    v.push(MemLine {
        metric: "RSS after load".into(),
        redis: opt(r.after.rss, &mb),
        ferrocache: opt(f.after.rss, &mb),
        ratio: ratio_of(r.after.rss.map(|x| x as f64), f.after.rss.map(|x| x as f64)),
        target: "—".into(),
        result: "—".into(),
    });
    let (rr, fr) = (
        per_key(r.before.rss, r.after.rss, m.keys),
        per_key(f.before.rss, f.after.rss, m.keys),
    );
    let rss_ratio = ratio_of(rr, fr);
    v.push(MemLine {
        metric: "RSS growth per key".into(),
        redis: b(rr),
        ferrocache: b(fr),
        ratio: rss_ratio,
        target: "≤ 1.0x (then 0.75x)".into(),
        result: judge(rss_ratio, 1.0),
    });
    let dur = |d: &Result<Duration, String>| match d {
        Ok(d) => secs(*d),
        Err(_) => "not supported".into(),
    };
    let dratio = |a: &Result<Duration, String>, b: &Result<Duration, String>| match (a, b) {
        (Ok(a), Ok(b)) if !a.is_zero() => Some(b.as_secs_f64() / a.as_secs_f64()),
        _ => None,
    };
    let load_rate = |d: &Result<Duration, String>| match d {
        Ok(d) if !d.is_zero() => format!(
            "{} ({} keys/s)",
            secs(*d),
            rps(m.keys as f64 / d.as_secs_f64())
        ),
        Ok(d) => secs(*d),
        Err(e) => format!("failed: {e}"),
    };
    v.push(MemLine {
        metric: "load time (pipelined SET, 1 client)".into(),
        redis: load_rate(&r.load_time),
        ferrocache: load_rate(&f.load_time),
        ratio: dratio(&r.load_time, &f.load_time),
        target: "—".into(),
        result: "—".into(),
    });
    v.push(MemLine {
        metric: "RDB SAVE time".into(),
        redis: dur(&r.save_time),
        ferrocache: dur(&f.save_time),
        ratio: dratio(&r.save_time, &f.save_time),
        target: "—".into(),
        result: "—".into(),
    });
    let reload_ratio = dratio(&r.reload_time, &f.reload_time);
    v.push(MemLine {
        metric: "RDB load time (start until serving)".into(),
        redis: dur(&r.reload_time),
        ferrocache: dur(&f.reload_time),
        ratio: reload_ratio,
        target: "≤ 0.5x".into(),
        result: if f.reload_time.is_err() {
            "missed (not supported)".into()
        } else {
            judge(reload_ratio, 0.5)
        },
    });
    let pause = |s: &ServerMemory| match &s.pause {
        Ok(p) => format!(
            "{:.2} ms (no save: {:.2} ms; fork {})",
            p.longest.as_secs_f64() * 1e3,
            p.baseline.as_secs_f64() * 1e3,
            p.fork_usec
                .map(|u| format!("{:.2} ms", u as f64 / 1e3))
                .unwrap_or("n/a".into())
        ),
        Err(_) => "not supported".into(),
    };
    let pratio = match (&r.pause, &f.pause) {
        (Ok(a), Ok(b)) if !a.longest.is_zero() => {
            Some(b.longest.as_secs_f64() / a.longest.as_secs_f64())
        }
        _ => None,
    };
    v.push(MemLine {
        metric: "longest write during BGSAVE".into(),
        redis: pause(r),
        ferrocache: pause(f),
        ratio: pratio,
        target: "—".into(),
        result: "—".into(),
    });
    for k in &m.kinds {
        let n = m.collections;
        let cell = |snap: Option<u64>, per: Option<f64>, err: &Option<String>| match (err, snap) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Some(x)) => format!(
                "{} ({} each)",
                mb(x),
                per.map(|p| format!("+{p:.1} B")).unwrap_or("?".into())
            ),
            (None, None) => "not reported".into(),
        };
        let (rs, fs) = (&k.redis, &k.ferrocache);
        v.push(MemLine {
            metric: format!("used_memory after {n} x {}", k.label),
            redis: cell(rs.after.used_memory, rs.used_per(n), &rs.error),
            ferrocache: cell(fs.after.used_memory, fs.used_per(n), &fs.error),
            ratio: ratio_of(rs.used_per(n), fs.used_per(n)),
            target: "—".into(),
            result: "—".into(),
        });
        v.push(MemLine {
            metric: format!("RSS after {n} x {}", k.label),
            redis: cell(rs.after.rss, rs.rss_per(n), &rs.error),
            ferrocache: cell(fs.after.rss, fs.rss_per(n), &fs.error),
            ratio: ratio_of(rs.rss_per(n), fs.rss_per(n)),
            target: "—".into(),
            result: "—".into(),
        });
    }
    v
}

pub fn markdown(rep: &Report) -> String {
    let mut s = String::new();
    let m = &rep.machine;
    let _ = writeln!(
        s,
        "# Ferrocache vs Redis{}\n",
        if rep.smoke {
            " (smoke run: tiny counts, figures meaningless)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "**Machine:** {} cores, {}, kernel {}{}\n",
        m.cores,
        m.cpu,
        m.kernel,
        m.memory_mb
            .map(|x| format!(", {x} MB RAM"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "- Redis: {}", rep.redis_version);
    let _ = writeln!(
        s,
        "- Ferrocache: {} (default worker threads: one per core)",
        rep.ferrocache
    );
    if !rep.command.is_empty() {
        let _ = writeln!(s, "- Command: `{}`", rep.command);
    }
    let _ = writeln!(
        s,
        "- Load: `redis-benchmark -c {} -d {} -r {} -n {}` per row, {} repetition(s), servers alternated (redis, ferrocache, ...); figures are medians. Latencies in ms.",
        crate::CLIENTS,
        crate::DATA_SIZE,
        crate::KEYSPACE,
        rep.requests,
        rep.reps
    );
    let _ = writeln!(s, "- Both servers on 127.0.0.1, started with `--save '' --appendonly no`; persistence rows switch modes with CONFIG SET and check that the mode took effect (INFO persistence).\n");
    let _ = writeln!(s, "## Throughput\n");
    let _ = writeln!(s, "| Workload | Redis rps | Ferrocache rps | Ratio | Redis p50 | Redis p99 | Ferrocache p50 | Ferrocache p99 | Target | Result |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for row in &rep.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.spec.label,
            cell(&row.redis, |x| rps(x.rps)),
            cell(&row.ferrocache, |x| rps(x.rps)),
            ratio(row).map(|r| format!("{r:.2}x")).unwrap_or("—".into()),
            cell(&row.redis, |x| format!("{:.3}", x.p50_ms)),
            cell(&row.redis, |x| format!("{:.3}", x.p99_ms)),
            cell(&row.ferrocache, |x| format!("{:.3}", x.p50_ms)),
            cell(&row.ferrocache, |x| format!("{:.3}", x.p99_ms)),
            target_text(row.spec.target),
            verdict_text(row, &rep.rows),
        );
    }
    if let Some(mem) = &rep.memory {
        let _ = writeln!(
            s,
            "\n## Memory and snapshots ({} distinct keys `key:0000000`.., {}-byte values)\n",
            mem.keys, mem.value_size
        );
        let _ = writeln!(
            s,
            "| Metric | Redis | Ferrocache | Ferrocache/Redis | Target | Result |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---|---|");
        for l in memory_lines(mem) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                l.metric,
                l.redis,
                l.ferrocache,
                l.ratio.map(|r| format!("{r:.2}x")).unwrap_or("—".into()),
                l.target,
                l.result
            );
        }
        let _ = writeln!(s, "\nCollection rows load N collections of one kind into a fresh server of each side; the figure in parentheses is the growth while loading divided by N, and the ratio compares those growths.");
        let _ = writeln!(s, "\nPer-key figures are the growth while loading divided by the key count. RSS is VmRSS from /proc. The BGSAVE probe is one client writing back to back while the snapshot runs.");
    }
    let _ = writeln!(s, "\n## Notes\n");
    let missed: Vec<&RowResult> = rep
        .rows
        .iter()
        .filter(|r| verdict(r, &rep.rows) == Some(false))
        .collect();
    if missed.is_empty() {
        let _ = writeln!(s, "- Every throughput target with a figure was met.");
    } else {
        let names: Vec<&str> = missed.iter().map(|r| r.spec.label.as_str()).collect();
        let _ = writeln!(s, "- Targets missed: {}.", names.join("; "));
    }
    for row in &rep.rows {
        for (who, o) in [("Redis", &row.redis), ("Ferrocache", &row.ferrocache)] {
            match o {
                Outcome::NotSupported(why) => {
                    let _ = writeln!(s, "- {}: {} not supported: {}", row.spec.label, who, why);
                }
                Outcome::Failed(why) => {
                    let _ = writeln!(s, "- {}: {} FAILED: {}", row.spec.label, who, why);
                }
                Outcome::Measured(..) => {}
            }
        }
    }
    if let Some(mem) = &rep.memory {
        for (who, sm) in [("Redis", &mem.redis), ("Ferrocache", &mem.ferrocache)] {
            for (what, r) in [
                ("SAVE", sm.save_time.as_ref().err()),
                ("RDB load", sm.reload_time.as_ref().err()),
                ("BGSAVE", sm.pause.as_ref().err()),
                ("key load", sm.load_time.as_ref().err()),
            ] {
                if let Some(e) = r {
                    let _ = writeln!(s, "- {what}: {who}: {e}");
                }
            }
        }
    }
    s
}

fn num(o: &Outcome, f: impl Fn(&crate::Sample) -> f64) -> String {
    o.sample()
        .map(|x| format!("{:.3}", f(&x)))
        .unwrap_or_default()
}

/// Every repetition's rps, `;`-separated, in the order they ran.
fn reps(o: &Outcome) -> String {
    match o {
        Outcome::Measured(_, all) => all
            .iter()
            .map(|x| format!("{:.0}", x.rps))
            .collect::<Vec<_>>()
            .join(";"),
        _ => String::new(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn rows_csv(rows: &[RowResult]) -> String {
    let mut s = String::from("workload,persistence,redis_rps,redis_p50_ms,redis_p99_ms,ferrocache_rps,ferrocache_p50_ms,ferrocache_p99_ms,ratio,target,result,redis_status,ferrocache_status,redis_rps_reps,ferrocache_rps_reps\n");
    for row in rows {
        let fields = [
            row.spec.label.clone(),
            row.spec.mode.name().to_string(),
            num(&row.redis, |x| x.rps),
            num(&row.redis, |x| x.p50_ms),
            num(&row.redis, |x| x.p99_ms),
            num(&row.ferrocache, |x| x.rps),
            num(&row.ferrocache, |x| x.p50_ms),
            num(&row.ferrocache, |x| x.p99_ms),
            ratio(row).map(|r| format!("{r:.3}")).unwrap_or_default(),
            target_text(row.spec.target),
            verdict_text(row, rows).to_string(),
            status(&row.redis).to_string(),
            status(&row.ferrocache).to_string(),
            reps(&row.redis),
            reps(&row.ferrocache),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        let _ = writeln!(s, "{}", line.join(","));
    }
    s
}

pub fn memory_csv(m: &MemoryResult) -> String {
    let mut s = String::from("metric,redis,ferrocache,ratio,target,result\n");
    for l in memory_lines(m) {
        let fields = [
            l.metric,
            l.redis,
            l.ferrocache,
            l.ratio.map(|r| format!("{r:.3}")).unwrap_or_default(),
            l.target,
            l.result,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        let _ = writeln!(s, "{}", line.join(","));
    }
    s
}

/// Horizontal grouped bars: for each workload, Redis above Ferrocache.
pub fn chart(rows: &[RowResult], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let n = rows.len().max(1);
    let max = rows
        .iter()
        .flat_map(|r| [r.redis.sample(), r.ferrocache.sample()])
        .flatten()
        .map(|s| s.rps)
        .fold(1.0f64, f64::max)
        * 1.15;
    let height = 120 + 44 * n as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let redis_color = RGBColor(0xd8, 0x2c, 0x20);
    let ferro_color = RGBColor(0x1f, 0x6f, 0xb4);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Requests per second (median), Redis vs Ferrocache",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(230)
        .build_cartesian_2d(0f64..max, (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => rows
                .get(*i)
                .map(|r| r.spec.label.clone())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("requests per second")
        .x_label_formatter(&|x| rps(*x))
        .draw()?;
    // In a segmented axis a segment's top is Exact(i + 1); CenterOf(i) splits it.
    let bar = |i: usize, upper: bool, v: f64| {
        let (a, b) = if upper {
            (SegmentValue::Exact(i + 1), SegmentValue::CenterOf(i))
        } else {
            (SegmentValue::CenterOf(i), SegmentValue::Exact(i))
        };
        [(0.0, a), (v, b)]
    };
    let series = |upper: bool, pick: &dyn Fn(&RowResult) -> &Outcome| {
        rows.iter()
            .enumerate()
            .filter_map(|(i, r)| pick(r).sample().map(|s| (i, s.rps)))
            .map(move |(i, v)| bar(i, upper, v))
            .collect::<Vec<_>>()
    };
    chart
        .draw_series(
            series(true, &|r| &r.redis)
                .into_iter()
                .map(|c| Rectangle::new(c, redis_color.filled())),
        )?
        .label("Redis")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], redis_color.filled()));
    chart
        .draw_series(
            series(false, &|r| &r.ferrocache)
                .into_iter()
                .map(|c| Rectangle::new(c, ferro_color.filled())),
        )?
        .label("Ferrocache")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], ferro_color.filled()));
    // Rows without a figure say why, where the bar would be.
    let notes: Vec<_> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            [(true, &r.redis), (false, &r.ferrocache)]
                .into_iter()
                .filter(|(_, o)| o.sample().is_none())
                .map(move |(upper, o)| {
                    let who = if upper { "Redis" } else { "Ferrocache" };
                    let y = if upper {
                        SegmentValue::Exact(i + 1)
                    } else {
                        SegmentValue::CenterOf(i)
                    };
                    (format!("{who}: {}", status(o)), (max * 0.01, y))
                })
        })
        .collect();
    chart.draw_series(
        notes
            .into_iter()
            .map(|(t, pos)| Text::new(t, pos, ("sans-serif", 13).into_font().color(&BLACK))),
    )?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(rps(0.0), "0");
        assert_eq!(rps(999.4), "999");
        assert_eq!(rps(1000.0), "1,000");
        assert_eq!(rps(1234567.0), "1,234,567");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(crate::median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(crate::median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
