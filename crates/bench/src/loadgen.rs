//! Running `redis-benchmark` and reading its `--csv` output.
//!
//! Redis 7.0 prints a header line
//! `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"`
//! and one quoted line per test. When the server answers a command with an
//! error, redis-benchmark prints `Error from server: ...` and exits with a
//! failure status; that is how an unsupported command shows up.

use std::io::{self, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One redis-benchmark result line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What one run gave.
#[derive(Clone, Debug, PartialEq)]
pub enum RunResult {
    Ok(Sample),
    /// The server refused the command (e.g. `ERR unknown command`).
    Unsupported(String),
    Failed(String),
}

/// Parameters of one redis-benchmark invocation.
#[derive(Clone, Debug)]
pub struct Load {
    /// `-t` test name (set, get, incr, lpush, lpop, sadd, zadd, hset, mset).
    pub test: &'static str,
    pub pipeline: u32,
    pub threads: u32,
    pub clients: u32,
    pub requests: u64,
    pub data_size: u32,
    pub keyspace: u64,
}

impl Load {
    pub fn args(&self, port: u16) -> Vec<String> {
        let mut a = vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-c".into(),
            self.clients.to_string(),
            "-n".into(),
            self.requests.to_string(),
            "-d".into(),
            self.data_size.to_string(),
            "-r".into(),
            self.keyspace.to_string(),
            "-P".into(),
            self.pipeline.to_string(),
            "-t".into(),
            self.test.into(),
            "--csv".into(),
        ];
        if self.threads > 1 {
            a.push("--threads".into());
            a.push(self.threads.to_string());
        }
        a
    }
}

/// Runs redis-benchmark once, killing it after `limit`.
pub fn run(program: &str, load: &Load, port: u16, limit: Duration) -> RunResult {
    let mut child = match Command::new(program)
        .args(load.args(port))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return RunResult::Failed(format!("cannot run {program}: {e}")),
    };
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return RunResult::Failed(format!("waiting for {program}: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let Some(status) = status else {
        return RunResult::Failed(format!("timed out after {}s", limit.as_secs()));
    };
    classify(&stdout, &stderr, status.success())
}

fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut r) = r {
            let mut bytes = Vec::new();
            let _ = r.read_to_end(&mut bytes);
            s = String::from_utf8_lossy(&bytes).into_owned();
        }
        s
    })
}

/// Turns redis-benchmark's output into a result.
pub fn classify(stdout: &str, stderr: &str, success: bool) -> RunResult {
    let all = format!("{stdout}\n{stderr}");
    if let Some(line) = all.lines().find(|l| {
        l.contains("Error from server") || l.contains("ERR unknown command") || l.contains("-ERR")
    }) {
        return RunResult::Unsupported(short_error(line));
    }
    match parse_csv(stdout) {
        Ok(Some(s)) if success => RunResult::Ok(s),
        Ok(_) => RunResult::Failed(format!(
            "redis-benchmark gave no result (success={success}): {}",
            tail(&all)
        )),
        Err(e) => RunResult::Failed(format!("{e}: {}", tail(&all))),
    }
}

/// The part of an error line worth quoting: without the arguments Redis
/// echoes back (random payload bytes), printable, and short.
pub fn short_error(line: &str) -> String {
    let line = line.trim();
    let cut = line.find(", with args").map_or(line, |i| &line[..i]);
    cut.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| *c != '|')
        .take(160)
        .collect()
}

fn tail(s: &str) -> String {
    let t: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    t[t.len().saturating_sub(3)..].join(" / ")
}

/// Reads the first data line of `--csv` output, by header names.
pub fn parse_csv(text: &str) -> io::Result<Option<Sample>> {
    let mut lines = text.lines().filter(|l| l.starts_with('"'));
    let Some(header) = lines.next() else {
        return Ok(None);
    };
    let names = split_csv(header);
    let col = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| io::Error::other(format!("no column {name} in {header}")))
    };
    let (rps, p50, p99) = (col("rps")?, col("p50_latency_ms")?, col("p99_latency_ms")?);
    let Some(line) = lines.next() else {
        return Ok(None);
    };
    let fields = split_csv(line);
    let num = |i: usize| -> io::Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| io::Error::other(format!("bad field {i} in {line}")))
    };
    Ok(Some(Sample {
        rps: num(rps)?,
        p50_ms: num(p50)?,
        p99_ms: num(p99)?,
    }))
}

/// Splits one line of quoted CSV as redis-benchmark writes it (no embedded
/// quotes; commas may occur inside quotes, e.g. none today, but be safe).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"";

    #[test]
    fn parses_redis_7_csv() {
        let text = format!(
            "{HEADER}\n\"MSET (10 keys)\",\"200000.00\",\"3.379\",\"0.560\",\"3.799\",\"4.879\",\"5.015\",\"5.047\"\n"
        );
        let s = parse_csv(&text).unwrap().unwrap();
        assert_eq!(
            s,
            Sample {
                rps: 200000.0,
                p50_ms: 3.799,
                p99_ms: 5.015
            }
        );
        assert_eq!(classify(&text, "", true), RunResult::Ok(s));
    }

    #[test]
    fn error_reply_means_unsupported() {
        let r = classify(
            &format!("{HEADER}\n"),
            "Error from server: ERR unknown command 'INCR', with args beginning with: 'counter:1'",
            false,
        );
        assert_eq!(
            r,
            RunResult::Unsupported("Error from server: ERR unknown command 'INCR'".into())
        );
    }

    #[test]
    fn missing_data_is_a_failure() {
        assert!(matches!(
            classify(&format!("{HEADER}\n"), "", true),
            RunResult::Failed(_)
        ));
        assert!(matches!(
            classify("", "Could not connect", false),
            RunResult::Failed(_)
        ));
    }
}
