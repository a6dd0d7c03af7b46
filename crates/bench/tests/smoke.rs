//! The runner's smoke mode end to end, so that it never rots: a real
//! redis-server, Ferrocache embedded in this test process, tiny counts.

use ferrocache_bench::servers::{Launcher, Running};
use ferrocache_bench::{run, Opts};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Embedded(ferrocache::ServerHandle);

impl Running for Embedded {
    fn port(&self) -> u16 {
        self.0.port()
    }

    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn stop(self: Box<Self>) {
        self.0.shutdown();
    }
}

fn embedded(dir: &Path) -> std::io::Result<Box<dyn Running>> {
    // Files (the AOF rows turn appendonly on) go to the runner's scratch
    // directory, not the working directory.
    let h = ferrocache::Server::builder()
        .threads(2)
        .config("dir", &dir.display().to_string())
        .start()?;
    Ok(Box::new(Embedded(h)))
}

/// The value of `column` in the CSV row whose first field is `workload`.
fn csv_value(csv: &str, workload: &str, column: &str) -> Option<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let col = header.iter().position(|h| *h == column)?;
    let line = lines.find(|l| l.split(',').next() == Some(workload))?;
    line.split(',').nth(col).map(str::to_string)
}

#[test]
fn smoke_run_writes_report_csv_and_chart() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-smoke");
    let _ = std::fs::remove_dir_all(&out);
    let mut opts = Opts::smoke(Launcher::Custom(Arc::new(embedded)), out.clone());
    opts.command = "smoke test".into();
    let started = std::time::Instant::now();
    let report = run(&opts).expect("the smoke run completes");
    assert!(
        started.elapsed().as_secs() < 120,
        "smoke run took {:?}",
        started.elapsed()
    );

    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains("**Machine:**"), "{md}");
    let set_line = md
        .lines()
        .find(|l| l.starts_with("| SET -P 1 |"))
        .expect("a SET -P 1 row");
    let cells: Vec<&str> = set_line.split('|').map(str::trim).collect();
    for (i, who) in [(2, "redis"), (3, "ferrocache")] {
        let n: f64 = cells[i]
            .replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("{who} rps in {set_line}"));
        assert!(n > 0.0, "{who} rps in {set_line}");
    }
    // Unsupported persistence modes are shown, not dropped.
    assert!(md.contains("AOF always"), "{md}");

    let csv = std::fs::read_to_string(out.join("report.csv")).expect("report.csv");
    for col in [
        "redis_rps",
        "ferrocache_rps",
        "redis_p99_ms",
        "ferrocache_p99_ms",
    ] {
        let v = csv_value(&csv, "SET -P 1", col).unwrap_or_default();
        let n: f64 = v
            .parse()
            .unwrap_or_else(|_| panic!("{col} = {v:?} in\n{csv}"));
        assert!(n > 0.0, "{col} = {n}");
    }
    let svg = std::fs::read_to_string(out.join("rps.svg")).expect("rps.svg");
    assert!(svg.starts_with("<svg") && svg.contains("SET -P 1"), "{svg}");
    assert!(out.join("memory.csv").exists());
    let mem = report.memory.expect("memory section");
    assert!(mem.redis.after.rss.is_some() && mem.ferrocache.after.rss.is_some());
    assert!(mem.redis.save_time.is_ok(), "{:?}", mem.redis.save_time);
}
