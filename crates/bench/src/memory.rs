//! The memory and snapshot section: load a fixed number of distinct keys,
//! read memory figures, then time SAVE, the reload at startup and the longest
//! write pause during BGSAVE.

use crate::client::{encode, Client};
use ferrocache_protocol::Frame;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Memory figures of one server.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemSnap {
    /// INFO memory `used_memory`, if the server reports it.
    pub used_memory: Option<u64>,
    /// Resident set size of the server process.
    pub rss: Option<u64>,
}

pub fn snapshot(client: &mut Client, pid: u32) -> MemSnap {
    let used_memory = client
        .info_field("memory", "used_memory")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok());
    MemSnap {
        used_memory,
        rss: rss_bytes(pid),
    }
}

/// VmRSS of a process, from /proc.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The key of the i-th loaded entry: `key:0000000`.
pub fn key(i: u64) -> String {
    format!("key:{i:07}")
}

/// A value of `size` printable bytes that differs from key to key, so an RDB
/// file does not compress it to nothing.
pub fn value(i: u64, size: usize) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect()
}

/// Loads `n` distinct keys with `size`-byte values through pipelined SETs.
/// Every reply must be `+OK`.
pub fn load_keys(port: u16, n: u64, size: usize) -> io::Result<Duration> {
    const BATCH: u64 = 1000;
    let mut c = Client::connect(port)?;
    let start = Instant::now();
    let mut i = 0;
    let mut out = Vec::with_capacity(BATCH as usize * (size + 64));
    while i < n {
        let end = (i + BATCH).min(n);
        out.clear();
        for k in i..end {
            encode(&mut out, &[b"SET", key(k).as_bytes(), &value(k, size)]);
        }
        c.send_raw(&out)?;
        for _ in i..end {
            match c.read_reply()? {
                Frame::Simple(s) if s == b"OK" => {}
                other => return Err(io::Error::other(format!("SET replied {other:?}"))),
            }
        }
        i = end;
    }
    Ok(start.elapsed())
}

/// Why a persistence measurement could not be made.
pub type Support<T> = Result<T, String>;

/// Checks a reply for an error and turns it into the unsupported reason.
fn reply_ok(f: io::Result<Frame>) -> Support<Frame> {
    match f {
        Ok(Frame::Error(e)) => Err(String::from_utf8_lossy(&e).into_owned()),
        Ok(f) => Ok(f),
        Err(e) => Err(e.to_string()),
    }
}

/// Times a foreground SAVE.
pub fn save_time(port: u16) -> Support<Duration> {
    let mut c = Client::connect(port).map_err(|e| e.to_string())?;
    let start = Instant::now();
    reply_ok(c.cmd(&[b"SAVE"]))?;
    Ok(start.elapsed())
}

/// Result of the BGSAVE pause probe.
#[derive(Clone, Copy, Debug)]
pub struct Pause {
    /// Longest round trip of a single SET while the snapshot ran.
    pub longest: Duration,
    /// Longest round trip of the same probe before the snapshot started.
    pub baseline: Duration,
    /// INFO stats `latest_fork_usec`, when the server reports it.
    pub fork_usec: Option<u64>,
    pub bgsave: Duration,
}

/// Writes with one client, back to back, while a BGSAVE runs; reports the
/// longest single write.
pub fn bgsave_pause(port: u16, keys: u64, size: usize) -> Support<Pause> {
    let mut ctl = Client::connect(port).map_err(|e| e.to_string())?;
    let info = ctl.info("persistence").map_err(|e| e.to_string())?;
    if !info.iter().any(|(k, _)| k == "rdb_bgsave_in_progress") {
        return Err("INFO persistence has no rdb_bgsave_in_progress: no snapshots".into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let in_save = Arc::new(AtomicBool::new(false));
    let probe = {
        let (stop, in_save) = (stop.clone(), in_save.clone());
        std::thread::spawn(move || -> io::Result<(Duration, Duration)> {
            let mut c = Client::connect(port)?;
            let (mut base, mut during) = (Duration::ZERO, Duration::ZERO);
            let mut i = 0u64;
            let v = value(7, size);
            while !stop.load(Ordering::Relaxed) {
                let k = key(i % keys.max(1));
                i += 1;
                let saving = in_save.load(Ordering::Relaxed);
                let t = Instant::now();
                c.cmd(&[b"SET", k.as_bytes(), &v])?;
                let d = t.elapsed();
                if saving {
                    during = during.max(d);
                } else {
                    base = base.max(d);
                }
            }
            Ok((base, during))
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    in_save.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let r = reply_ok(ctl.cmd(&[b"BGSAVE"]));
    let mut bgsave = Duration::ZERO;
    if r.is_ok() {
        loop {
            std::thread::sleep(Duration::from_millis(2));
            let busy = ctl
                .info_field("persistence", "rdb_bgsave_in_progress")
                .ok()
                .flatten();
            if busy.as_deref() != Some("1") || start.elapsed() > Duration::from_secs(300) {
                break;
            }
        }
        bgsave = start.elapsed();
    }
    stop.store(true, Ordering::Relaxed);
    let probed = probe
        .join()
        .map_err(|_| "probe thread panicked".to_string())?;
    r?;
    let (baseline, longest) = probed.map_err(|e| e.to_string())?;
    let fork_usec = ctl
        .info_field("stats", "latest_fork_usec")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok());
    Ok(Pause {
        longest,
        baseline,
        fork_usec,
        bgsave,
    })
}

/// Number of keys in db 0.
pub fn dbsize(port: u16) -> io::Result<i64> {
    let mut c = Client::connect(port)?;
    match c.ok(&["DBSIZE"])? {
        Frame::Integer(n) => Ok(n),
        other => Err(io::Error::other(format!("DBSIZE replied {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_fixed_size_and_distinct() {
        assert_eq!(key(42), "key:0000042");
        assert_eq!(value(1, 100).len(), 100);
        assert_ne!(value(1, 100), value(2, 100));
        assert!(value(3, 100).iter().all(|b| b.is_ascii_lowercase()));
    }
}
