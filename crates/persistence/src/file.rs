//! Snapshot files: writing a captured keyspace to disk atomically and
//! loading a file into a keyspace.
//!
//! A save writes `temp-<pid>-<n>.rdb` in the target directory, fsyncs it,
//! renames it over the destination and fsyncs the directory, so a crash at
//! any moment leaves either the old file or the new one, never a torn one.

use crate::rdb::reader::{read_file, Event, Loaded, Options};
use crate::rdb::writer::FileWriter;
use ferrocache_store::{Capture, Keyspace, SHARDS_PER_DB};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// `rdbcompression` and `rdbchecksum`.
#[derive(Clone, Copy, Debug)]
pub struct SaveOptions {
    pub compression: bool,
    pub checksum: bool,
}

/// What a save wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct SaveStats {
    pub keys: u64,
    pub bytes: u64,
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes the snapshot `cap` of `ks` to `path`, with the aux fields given.
/// The caller ends the snapshot whatever the outcome.
pub fn save_capture(
    ks: &Keyspace,
    cap: &Capture,
    path: &Path,
    aux: &[(&str, Vec<u8>)],
    opts: SaveOptions,
) -> io::Result<SaveStats> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        "temp-{}-{}.rdb",
        std::process::id(),
        TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_to(ks, cap, &tmp, aux, opts).and_then(|stats| {
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(stats)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_to(
    ks: &Keyspace,
    cap: &Capture,
    tmp: &Path,
    aux: &[(&str, Vec<u8>)],
    opts: SaveOptions,
) -> io::Result<SaveStats> {
    let file = std::fs::File::create(tmp)?;
    let (out, stats) = write_capture(ks, cap, BufWriter::with_capacity(1 << 16, file), aux, opts)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(stats)
}

/// Encodes the snapshot `cap` of `ks` as an RDB image into `out` (a file,
/// or memory for a replica's full resynchronization).
pub fn write_capture<W: std::io::Write>(
    ks: &Keyspace,
    cap: &Capture,
    out: W,
    aux: &[(&str, Vec<u8>)],
    opts: SaveOptions,
) -> io::Result<(W, SaveStats)> {
    let mut w = FileWriter::new(out, opts.compression)?;
    for (k, v) in aux {
        w.aux(k, v)?;
    }
    let mut keys = 0u64;
    for (db, &(count, volatile)) in cap.counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        w.select_db(db, count, volatile)?;
        for shard in 0..SHARDS_PER_DB {
            for e in ks.snapshot_shard(cap, db, shard) {
                w.entry(e.key(), e.value(), e.expire_at())?;
                keys += 1;
            }
        }
    }
    let bytes = w.written() + 8;
    let out = w.finish(opts.checksum)?;
    Ok((out, SaveStats { keys, bytes }))
}

/// What a load found.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadStats {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub functions_skipped: usize,
    /// Bytes of RDB read (see [`crate::rdb::reader::FileInfo::end`]).
    pub end: usize,
    /// The `repl-id` and `repl-offset` aux fields, when both are valid:
    /// the replication history the data set belongs to.
    pub repl: Option<([u8; 40], u64)>,
}

/// Loads the file at `path` into `ks` (which the caller emptied). Keys
/// already expired at `now_ms` are skipped, as a master does. The error
/// names the file and the byte offset.
pub fn load_file(
    ks: &Keyspace,
    path: &Path,
    opts: &Options,
    now_ms: u64,
    progress: &Progress,
) -> Result<LoadStats, String> {
    let buf = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    progress
        .total
        .store(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
    load_bytes_with_progress(ks, &buf, opts, now_ms, &progress.loaded)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// How far a load has come: bytes in all, bytes loaded.
#[derive(Default)]
pub struct Progress {
    pub total: std::sync::atomic::AtomicU64,
    pub loaded: std::sync::atomic::AtomicU64,
}

/// Loads an RDB image held in memory.
pub fn load_bytes(
    ks: &Keyspace,
    buf: &[u8],
    opts: &Options,
    now_ms: u64,
) -> Result<LoadStats, crate::RdbError> {
    load_bytes_with_progress(ks, buf, opts, now_ms, &std::sync::atomic::AtomicU64::new(0))
}

/// [`load_bytes`], storing in `progress` how many bytes of `buf` are loaded
/// (INFO's `loading_loaded_bytes` while a start-up load runs).
pub fn load_bytes_with_progress(
    ks: &Keyspace,
    buf: &[u8],
    opts: &Options,
    now_ms: u64,
    progress: &std::sync::atomic::AtomicU64,
) -> Result<LoadStats, crate::RdbError> {
    let mut stats = LoadStats::default();
    let info = read_file(buf, opts, |event| {
        let rec = match event {
            Event::Record(rec) => rec,
            Event::Resize { db, keys, .. } => {
                // Sized once from the file's own count, as Redis does,
                // rather than grown step by step while loading.
                // The count is bounded by what the file could hold (a key
                // takes at least three bytes), so a lying header cannot
                // make the load allocate without bound.
                if db < ks.databases() {
                    let keys = usize::try_from(keys).unwrap_or(usize::MAX);
                    ks.reserve(db, keys.min(buf.len() / 3));
                }
                return Ok(());
            }
        };
        progress.store(rec.end as u64, std::sync::atomic::Ordering::Relaxed);
        if rec.db >= ks.databases() {
            return Err(format!(
                "database {} out of range (databases is {})",
                rec.db,
                ks.databases()
            ));
        }
        let value = match rec.value {
            Loaded::Value(v) => v,
            Loaded::Empty => return Ok(()),
            Loaded::ZSet(pairs) => match crate::rdb::reader::zset_value(pairs, opts.zset_limits) {
                Some(v) => v,
                None => return Err("duplicate sorted set member".into()),
            },
        };
        if rec.expire_at.is_some_and(|at| at <= now_ms) {
            stats.keys_expired += 1;
            return Ok(());
        }
        let mut l = ks.lock(rec.db, &rec.key, now_ms);
        if l.insert(rec.db, &rec.key, value, rec.expire_at).is_some() {
            return Err(format!(
                "duplicate key '{}' in DB {}",
                String::from_utf8_lossy(&rec.key),
                rec.db
            ));
        }
        if let Some(access) = ks.restored_access(now_ms, rec.idle_secs, rec.freq) {
            if let Some(e) = l.get_mut(rec.db, &rec.key) {
                e.set_access(access);
            }
        }
        stats.keys_loaded += 1;
        Ok(())
    })?;
    stats.functions_skipped = info.functions_skipped;
    stats.end = info.end;
    let aux = |name: &[u8]| info.aux.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    if let (Some(id), Some(off)) = (aux(b"repl-id"), aux(b"repl-offset")) {
        let off = std::str::from_utf8(off).ok().and_then(|s| s.parse().ok());
        if let (Ok(id), Some(off)) = (<[u8; 40]>::try_from(&id[..]), off) {
            stats.repl = Some((id, off));
        }
    }
    Ok(stats)
}
