//! The append-only file, in Redis 7.0's multi-part layout.
//!
//! `dir/appenddirname/` holds a manifest and the files it names: one base
//! file (the dataset at the last rewrite) and the incremental files written
//! since, oldest first:
//!
//! ```text
//! file appendonly.aof.1.base.aof seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! Redis 7.0 reads this directory and so does Ferrocache, either way round.
//!
//! # Writing
//!
//! One thread, the writer, owns the files. It takes what the journal
//! collected (see `ferrocache_commands::journal`), appends it to the
//! current incremental file and fsyncs as `appendfsync` says: `always`
//! fsyncs before it reports the offset durable, and every client waiting
//! on that offset is answered by the one fsync (group commit); `everysec`
//! fsyncs at most once a second; `no` leaves it to the kernel.
//!
//! # Rewriting
//!
//! BGREWRITEAOF (or the growth rule) switches to a new incremental file
//! and captures the dataset at that same point of the stream, with writes
//! held off only for the switch and the capture (values are cloned; large
//! strings share their bytes). The writer then writes the new base file
//! beside the running server, and a new manifest replaces the old one
//! atomically (temporary file, fsync, rename, fsync of the directory).
//! With `aof-use-rdb-preamble yes` (the default, as in Redis 7.0) the base
//! file is an RDB image (`.base.rdb`), otherwise commands (`.base.aof`).
//!
//! # Loading
//!
//! At start-up, with `appendonly yes`, the files are replayed through the
//! dispatcher in manifest order; a base file in RDB format is read with the
//! RDB codec first. A truncated last command is dropped with
//! a warning when `aof-load-truncated` is on (and cut from the file);
//! anything else that does not parse stops the start with the file name
//! and the byte offset.

use bytes::{Bytes, BytesMut};
use ferrocache_commands::clients::ClientHandle;
use ferrocache_commands::{Session, Shared};
use ferrocache_protocol::{DecodeLimits, RequestDecoder};
use ferrocache_store::ValueRef;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Items per command in a rewritten base file (Redis uses the same batch).
const ITEMS_PER_COMMAND: usize = 64;

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq)]
struct Part {
    name: String,
    seq: u64,
    kind: PartKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum PartKind {
    Base,
    Incr,
    /// A file kept only until a rewrite finishes (Redis's `h`).
    History,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Manifest {
    base: Option<Part>,
    incrs: Vec<Part>,
}

impl Manifest {
    fn parse(text: &str, path: &Path) -> io::Result<Manifest> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "Invalid AOF manifest file format: {} line {}",
                        path.display(),
                        n + 1
                    ),
                )
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let (mut name, mut seq, mut kind) = (None, None, None);
            let mut i = 0;
            while i + 1 < words.len() {
                match words[i] {
                    "file" => name = Some(words[i + 1].to_string()),
                    "seq" => seq = words[i + 1].parse::<u64>().ok(),
                    "type" => {
                        kind = match words[i + 1] {
                            "b" => Some(PartKind::Base),
                            "i" => Some(PartKind::Incr),
                            "h" => Some(PartKind::History),
                            _ => None,
                        }
                    }
                    _ => {}
                }
                i += 2;
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad());
            };
            if name.contains('/') {
                return Err(bad());
            }
            let part = Part { name, seq, kind };
            match kind {
                PartKind::Base if m.base.is_some() => return Err(bad()),
                PartKind::Base => m.base = Some(part),
                PartKind::Incr => m.incrs.push(part),
                PartKind::History => {}
            }
        }
        Ok(m)
    }

    fn render(&self) -> String {
        let mut s = String::new();
        let line = |s: &mut String, p: &Part, t: &str| {
            s.push_str(&format!("file {} seq {} type {}\n", p.name, p.seq, t));
        };
        if let Some(b) = &self.base {
            line(&mut s, b, "b");
        }
        for p in &self.incrs {
            line(&mut s, p, "i");
        }
        s
    }
}

/// Where the files live, from the configuration.
struct Layout {
    dir: PathBuf,
    prefix: String,
}

impl Layout {
    fn from(shared: &Shared) -> Layout {
        let cfg = &shared.config;
        let dir = PathBuf::from(cfg.get("dir").unwrap_or_else(|| ".".into()));
        let sub = cfg
            .get("appenddirname")
            .unwrap_or_else(|| "appendonlydir".into());
        let prefix = cfg
            .get("appendfilename")
            .unwrap_or_else(|| "appendonly.aof".into());
        Layout {
            dir: dir.join(sub),
            prefix,
        }
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.prefix))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read_manifest(&self) -> io::Result<Option<Manifest>> {
        let path = self.manifest_path();
        match fs::read_to_string(&path) {
            Ok(text) => Manifest::parse(&text, &path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the manifest atomically.
    fn write_manifest(&self, m: &Manifest) -> io::Result<()> {
        let tmp = self.dir.join(format!("temp-{}.manifest", self.prefix));
        write_synced(&tmp, m.render().as_bytes())?;
        fs::rename(&tmp, self.manifest_path())?;
        sync_dir(&self.dir)
    }
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// Loads the AOF at start-up when `appendonly yes`; then starts the writer.
/// An error means the server must not start.
pub fn start(shared: &Arc<Shared>) -> io::Result<()> {
    if !shared.config.get_bool("appendonly") {
        spawn_writer(shared.clone(), None);
        return Ok(());
    }
    // Fail before serving anyone if the directory can't be made.
    fs::create_dir_all(Layout::from(shared).dir)?;
    let layout = Layout::from(shared);
    let manifest = layout.read_manifest()?;
    if let Some(m) = &manifest {
        let started = Instant::now();
        let mut parts: Vec<&Part> = m.base.iter().collect();
        parts.extend(m.incrs.iter());
        let last = parts.len().saturating_sub(1);
        let sizes: Vec<u64> = parts
            .iter()
            .map(|p| fs::metadata(layout.path(&p.name)).map_or(0, |m| m.len()))
            .collect();
        let ps = &shared.persist;
        ps.loading_progress
            .total
            .store(sizes.iter().sum(), Ordering::Relaxed);
        ps.loading_progress.loaded.store(0, Ordering::Relaxed);
        ps.loading_started.store(
            ferrocache_commands::context::unix_ms() / 1000,
            Ordering::Relaxed,
        );
        ps.loading.store(true, Ordering::Release);
        let mut base = 0;
        for (i, p) in parts.iter().enumerate() {
            load_file(shared, &layout.path(&p.name), i == last, base)?;
            base += sizes[i];
        }
        ps.loading.store(false, Ordering::Release);
        crate::notice!(
            "Data loaded from the append-only file in {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
    }
    // Opened here, before any client is served: a write accepted before
    // the journal records would be lost.
    let open = open_aof(shared, manifest)?;
    shared.journal.aof.enabled.store(true, Ordering::Relaxed);
    shared.journal.aof.fsync_always.store(
        shared.config.get("appendfsync").as_deref() == Some("always"),
        Ordering::Relaxed,
    );
    shared
        .journal
        .aof
        .base_size
        .store(open.base_size, Ordering::Relaxed);
    spawn_writer(shared.clone(), Some(open));
    Ok(())
}

/// Replays one file through the dispatcher. `last`: a truncated tail is
/// tolerated (and cut) only in the last file.
/// `base`: bytes of the files before this one, for the progress INFO shows.
fn load_file(shared: &Arc<Shared>, path: &Path, last: bool, base: u64) -> io::Result<()> {
    let name = path.display().to_string();
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(io::Error::new(
                e.kind(),
                format!("The AOF file {name} doesn't exist"),
            ))
        }
        Err(e) => return Err(e),
    };
    let mut head = [0u8; 5];
    let n = file.read(&mut head)?;
    // An RDB image (a base file written with aof-use-rdb-preamble, or the
    // preamble of an old single-file AOF), possibly followed by commands.
    let mut start = 0u64;
    if n == 5 && &head == b"REDIS" {
        let data = fs::read(path)?;
        let stats = ferrocache_persistence::file::load_bytes(
            &shared.ks,
            &data,
            &ferrocache_commands::persist::load_options(shared),
            ferrocache_commands::context::unix_ms(),
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {e}")))?;
        if stats.end == data.len() {
            return Ok(());
        }
        start = stats.end as u64;
    }
    let mut file = File::open(path)?;
    file.seek(io::SeekFrom::Start(start))?;
    let handle = Arc::new(ClientHandle::new(0, "aof".into(), String::new(), false));
    let mut session = Session::new(handle, true);
    session.loader = true;
    let mut decoder = RequestDecoder::new();
    let limits = DecodeLimits::default();
    let mut buf = BytesMut::with_capacity(1 << 20);
    let mut args: Vec<Bytes> = Vec::new();
    let mut out = BytesMut::new();
    // Bytes fed to the decoder so far, and the end of the last command
    // that left the file in a consistent state (outside MULTI).
    let mut fed: u64 = start;
    let mut consistent: u64 = start;
    let mut in_multi = false;
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        fed += n as u64;
        shared
            .persist
            .loading_progress
            .loaded
            .store(base + fed, Ordering::Relaxed);
        loop {
            if !decoder.in_progress() {
                match buf.first() {
                    None => break,
                    Some(b'*') => {}
                    Some(_) => {
                        let at = fed - buf.len() as u64;
                        return Err(bad_format(&name, at));
                    }
                }
            }
            let at = fed - buf.len() as u64;
            match decoder.decode(&mut buf, &mut args, &limits) {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => return Err(bad_format(&name, at)),
            }
            let cmd = args
                .first()
                .map(|a| a.to_ascii_lowercase())
                .unwrap_or_default();
            out.clear();
            ferrocache_commands::dispatch::execute(shared, &mut session, &args, &mut out);
            if out.first() == Some(&b'-') && cmd != b"exec" {
                crate::warning!(
                    "Error replaying {:?} from {name} at offset {at}: {}",
                    String::from_utf8_lossy(&cmd),
                    String::from_utf8_lossy(&out[..out.len().saturating_sub(2)])
                );
            }
            match &cmd[..] {
                b"multi" => in_multi = true,
                b"exec" => in_multi = false,
                _ => {}
            }
            if !in_multi {
                consistent = fed - buf.len() as u64;
            }
            args.clear();
        }
    }
    if consistent == fed {
        return Ok(());
    }
    // The file ends inside a command or a transaction.
    if !last || !shared.config.get_bool("aof-load-truncated") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "The append-only file {name} ends in the middle of a command at offset {consistent}. Keep a copy of the file, then either cut it at that offset (redis-check-aof --fix does) or set aof-load-truncated yes to load what precedes it."
            ),
        ));
    }
    if in_multi {
        // Redis drops a transaction without its EXEC: DISCARD what queued.
        out.clear();
        let discard = [Bytes::from_static(b"DISCARD")];
        ferrocache_commands::dispatch::execute(shared, &mut session, &discard, &mut out);
    }
    crate::warning!(
        "The AOF file {name} ends in the middle of a command; aof-load-truncated is on, so it was loaded up to its last complete command and cut at offset {consistent}"
    );
    OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(consistent)?;
    Ok(())
}

fn bad_format(name: &str, at: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "Bad file format in the append-only file {name} at offset {at}: what is there is not a RESP command. Keep a copy of the file before repairing it."
        ),
    )
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// The open incremental file and what the writer knows of the layout.
struct Open {
    layout: Layout,
    manifest: Manifest,
    /// The incremental file being appended to (None until the first
    /// rewrite of a fresh layout opens one).
    file: Option<File>,
    /// Bytes in the current incremental file(s) since the last rewrite.
    incr_size: u64,
    base_size: u64,
    last_fsync: Instant,
    /// Stream offset written to the file but not yet fsynced.
    unsynced: Option<u64>,
    /// Journal bytes taken but not yet written (a write failed: disk
    /// full, I/O error), and the stream offset they end at. Retried before
    /// anything newer, so nothing is lost or reordered.
    retry: BytesMut,
    retry_end: u64,
    /// Length of `file`, kept here so a failed write can be cut back
    /// without asking the file system on every write.
    file_len: u64,
}

fn spawn_writer(shared: Arc<Shared>, open: Option<Open>) {
    STOP.with_shared(&shared, false);
    let t = std::thread::Builder::new()
        .name("ferrocache-aof".into())
        .spawn(move || writer(shared, open));
    if let Err(e) = t {
        crate::warning!("Can't start the AOF writer thread: {e}");
    }
}

/// Asks the writer to flush, fsync and stop, and waits (bounded) for it.
pub fn shutdown(shared: &Shared) {
    if !STOP.known(shared) {
        // No writer was started (the load failed first).
        return;
    }
    STOP.with_shared(shared, true);
    shared.journal.wake_aof();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !STOP.stopped(shared) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Per-server stop flags, keyed by the `Shared` address (several embedded
/// servers can share a process).
struct StopFlags(parking_lot::Mutex<Vec<(usize, bool, bool)>>);

static STOP: StopFlags = StopFlags(parking_lot::Mutex::new(Vec::new()));

impl StopFlags {
    fn key(shared: &Shared) -> usize {
        shared as *const Shared as usize
    }

    fn with_shared(&self, shared: &Shared, stop: bool) {
        let k = Self::key(shared);
        let mut v = self.0.lock();
        match v.iter_mut().find(|e| e.0 == k) {
            Some(e) => e.1 = stop,
            None => v.push((k, stop, false)),
        }
    }

    fn known(&self, shared: &Shared) -> bool {
        let k = Self::key(shared);
        self.0.lock().iter().any(|e| e.0 == k)
    }

    fn requested(&self, shared: &Shared) -> bool {
        let k = Self::key(shared);
        self.0.lock().iter().any(|e| e.0 == k && e.1)
    }

    fn set_stopped(&self, shared: &Shared) {
        let k = Self::key(shared);
        let mut v = self.0.lock();
        match v.iter_mut().find(|e| e.0 == k) {
            Some(e) => e.2 = true,
            None => v.push((k, false, true)),
        }
    }

    fn stopped(&self, shared: &Shared) -> bool {
        let k = Self::key(shared);
        self.0.lock().iter().any(|e| e.0 == k && e.2)
    }

    fn forget(&self, shared: &Shared) {
        let k = Self::key(shared);
        self.0.lock().retain(|e| e.0 != k);
    }
}

fn writer(shared: Arc<Shared>, mut open: Option<Open>) {
    let aof = &shared.journal.aof;
    loop {
        let stop = STOP.requested(&shared);
        let want = shared.config.get_bool("appendonly") && !stop;
        let policy = shared
            .config
            .get("appendfsync")
            .unwrap_or_else(|| "everysec".into());
        aof.fsync_always
            .store(want && policy == "always", Ordering::Relaxed);
        aof.wake.store(false, Ordering::Release);
        if want && open.is_none() {
            match open_aof(&shared, None) {
                Ok(o) => {
                    aof.enabled.store(true, Ordering::Relaxed);
                    aof.base_size.store(o.base_size, Ordering::Relaxed);
                    open = Some(o);
                }
                Err(e) => {
                    crate::warning!("Can't open the append-only file: {e}");
                    aof.last_write_ok.store(false, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            }
        }
        if !want {
            if let Some(mut o) = open.take() {
                // Everything journaled so far goes to disk before closing.
                let (bytes, end) = shared.journal.take_aof();
                let _ = write_out(&shared, &mut o, &bytes, end, true);
                shared.journal.set_aof(&shared.ks, false);
                aof.enabled.store(false, Ordering::Relaxed);
                aof.set_synced(end);
            }
            if stop {
                STOP.set_stopped(&shared);
                return;
            }
            // Idle until CONFIG SET appendonly yes (or shutdown).
            let _ = shared
                .journal
                .wait_take_aof(Duration::from_millis(200), false);
            continue;
        }
        let Some(o) = open.as_mut() else { continue };
        if aof.rewrite_scheduled.swap(false, Ordering::AcqRel) || auto_rewrite_due(&shared, o) {
            rewrite(&shared, o);
        }
        let always = policy == "always";
        let (bytes, end) = shared
            .journal
            .wait_take_aof(Duration::from_millis(100), always);
        let sync_now = match policy.as_str() {
            "always" => true,
            "everysec" => o.last_fsync.elapsed() >= Duration::from_secs(1),
            _ => false,
        };
        if let Err(e) = write_out(&shared, o, &bytes, end, sync_now) {
            if aof.last_write_ok.swap(false, Ordering::Relaxed) {
                crate::warning!("Error writing to the AOF file: {e}");
            }
            aof.set_write_error(Some(os_error_text(&e)));
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        if !aof.last_write_ok.swap(true, Ordering::Relaxed) {
            crate::notice!("The AOF file can be written again; write commands are accepted.");
            aof.set_write_error(None);
        }
        if !always && policy != "everysec" {
            // `no`: durable as far as we will ever know.
            aof.set_synced(end);
        }
        if !always && !bytes.is_empty() && bytes.len() < COALESCE_BYTES {
            // everysec and no promise nothing per write: let a batch build
            // up rather than take the journal's lock and make a system call
            // for every few commands (which costs the writers more than the
            // writes themselves on a busy server).
            std::thread::sleep(COALESCE_WAIT);
        }
    }
}

/// Under everysec and no, the writer waits this long after a write smaller
/// than `COALESCE_BYTES` before taking the next batch.
const COALESCE_WAIT: Duration = Duration::from_millis(1);
const COALESCE_BYTES: usize = 64 << 10;

/// Appends `bytes` (ending at stream offset `end`) after anything a failed
/// write left, and fsyncs if asked. On a failed write the file is cut back
/// to where it was and the bytes wait in `o.retry`.
fn write_out(shared: &Shared, o: &mut Open, bytes: &[u8], end: u64, sync: bool) -> io::Result<()> {
    // Nothing waiting from a failed write: write `bytes` as they are.
    let direct = o.retry.is_empty();
    if !bytes.is_empty() {
        if !direct {
            o.retry.extend_from_slice(bytes);
        }
        o.retry_end = end;
    }
    let Some(file) = o.file.as_mut() else {
        o.retry.extend_from_slice(if direct { bytes } else { &[] });
        return Err(io::Error::other("no incremental file open"));
    };
    let out: &[u8] = if direct { bytes } else { &o.retry };
    if !out.is_empty() {
        if let Err(e) = file.write_all(out) {
            // A partial command would corrupt the file: cut it off.
            let _ = file.set_len(o.file_len);
            let _ = file.seek(io::SeekFrom::Start(o.file_len));
            if direct {
                o.retry.extend_from_slice(bytes);
            }
            return Err(e);
        }
        let n = out.len() as u64;
        o.file_len += n;
        o.incr_size += n;
        o.retry.clear();
        o.unsynced = Some(o.retry_end);
        shared
            .journal
            .aof
            .current_size
            .store(o.base_size + o.incr_size, Ordering::Relaxed);
    }
    if sync {
        if let Some(at) = o.unsynced.take() {
            file.sync_data()?;
            shared.journal.aof.set_synced(at);
        }
        o.last_fsync = Instant::now();
    }
    Ok(())
}

/// An I/O error's text without Rust's " (os error N)" suffix, as strerror
/// gives it.
fn os_error_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Opens the AOF for writing: the existing layout (after a load), or a new
/// one made by rewriting the current dataset (first start with `appendonly
/// yes`, or CONFIG SET appendonly yes).
fn open_aof(shared: &Arc<Shared>, loaded: Option<Manifest>) -> io::Result<Open> {
    let layout = Layout::from(shared);
    fs::create_dir_all(&layout.dir)?;
    shared.journal.set_aof(&shared.ks, true);
    // After a load, go on appending to the layout just replayed. Otherwise
    // (first start, CONFIG SET appendonly yes) rewrite the current dataset
    // into a new layout, numbered after any old one it replaces.
    let (manifest, fresh) = match loaded {
        Some(m) if m.base.is_some() && !m.incrs.is_empty() => (m, false),
        Some(m) => (m, true),
        None => (
            layout.read_manifest().ok().flatten().unwrap_or_default(),
            true,
        ),
    };
    if fresh {
        // A fresh layout: the rewrite writes base and incremental files.
        let mut o = Open {
            layout,
            manifest,
            file: None,
            incr_size: 0,
            base_size: 0,
            last_fsync: Instant::now(),
            unsynced: None,
            retry: BytesMut::new(),
            retry_end: 0,
            file_len: 0,
        };
        if let Err(e) = rewrite_now(shared, &mut o) {
            shared.journal.set_aof(&shared.ks, false);
            return Err(e);
        }
        return Ok(o);
    }
    let last = manifest
        .incrs
        .last()
        .cloned()
        .ok_or_else(|| io::Error::other("no incr file"))?;
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(layout.path(&last.name))?;
    let file_len = file.metadata()?.len();
    let base_size = manifest
        .base
        .as_ref()
        .and_then(|b| fs::metadata(layout.path(&b.name)).ok())
        .map(|m| m.len())
        .unwrap_or(0);
    let incr_size = manifest
        .incrs
        .iter()
        .filter_map(|p| fs::metadata(layout.path(&p.name)).ok())
        .map(|m| m.len())
        .sum();
    Ok(Open {
        layout,
        manifest,
        file: Some(file),
        incr_size,
        base_size,
        last_fsync: Instant::now(),
        unsynced: None,
        retry: BytesMut::new(),
        retry_end: 0,
        file_len,
    })
}

fn auto_rewrite_due(shared: &Shared, o: &Open) -> bool {
    let pct = shared
        .config
        .get_i64("auto-aof-rewrite-percentage")
        .unwrap_or(100);
    let min = shared
        .config
        .get_i64("auto-aof-rewrite-min-size")
        .unwrap_or(64 << 20) as u64;
    if pct <= 0 {
        return false;
    }
    let total = o.base_size + o.incr_size;
    let base = o.base_size.max(1);
    total >= min && o.incr_size * 100 / base >= pct as u64
}

fn rewrite(shared: &Arc<Shared>, o: &mut Open) {
    let aof = &shared.journal.aof;
    let started = Instant::now();
    match rewrite_now(shared, o) {
        Ok(()) => {
            aof.last_rewrite_ok.store(true, Ordering::Relaxed);
            crate::notice!("AOF rewrite done: new base file in place.");
        }
        Err(e) => {
            aof.last_rewrite_ok.store(false, Ordering::Relaxed);
            crate::warning!("Background AOF rewrite failed: {e}");
        }
    }
    aof.last_rewrite_time_sec
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
}

/// One key as the rewrite captured it: a copy of its entry (one
/// allocation holding key, value and expiry).
type Captured = ferrocache_store::Entry;

/// Switches to a new incremental file and captures the dataset at that
/// point of the stream, then writes the new base file and manifest.
fn rewrite_now(shared: &Arc<Shared>, o: &mut Open) -> io::Result<()> {
    let aof = &shared.journal.aof;
    aof.rewrite_in_progress.store(true, Ordering::Relaxed);
    aof.rewrite_started_ms
        .store(ferrocache_commands::context::unix_ms(), Ordering::Relaxed);
    let result = (|| {
        let seq = o.manifest.base.as_ref().map(|b| b.seq).unwrap_or(0) + 1;
        let incr_seq = o.manifest.incrs.last().map(|p| p.seq).unwrap_or(0) + 1;
        let incr = Part {
            name: format!("{}.{incr_seq}.incr.aof", o.layout.prefix),
            seq: incr_seq,
            kind: PartKind::Incr,
        };
        let new_file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(o.layout.path(&incr.name))?;
        let now = ferrocache_commands::context::unix_ms();
        // Writes wait only while the pending bytes are taken and the
        // snapshot is marked (every shard lock taken once, as BGSAVE does);
        // shards are copied lazily after that, on their next write. Should
        // another snapshot be running (a BGSAVE), the dataset is copied
        // while writes wait instead.
        let (pending, snapshot, end_offset) = shared.journal.quiesced(|pending| {
            let snapshot = match shared.ks.begin_snapshot() {
                Some(cap) => Ok(cap),
                None => Err((0..shared.ks.databases())
                    .map(|db| capture_db(shared, db, now))
                    .collect::<Vec<Vec<Captured>>>()),
            };
            (pending, snapshot, shared.journal.offset())
        });
        let dbs: Vec<Vec<Captured>> = match snapshot {
            Err(dbs) => dbs,
            Ok(cap) => {
                let dbs = (0..shared.ks.databases())
                    .map(|db| {
                        (0..ferrocache_store::SHARDS_PER_DB)
                            .flat_map(|shard| shared.ks.snapshot_shard(&cap, db, shard))
                            .filter(|e| !e.is_expired(now))
                            .collect()
                    })
                    .collect();
                shared.ks.end_snapshot(&cap);
                dbs
            }
        };
        // What was journaled before the capture goes to the old file. If
        // that file can't take it (disk full, I/O error), it opens the new
        // incremental file instead, which the manifest lists right after
        // the old ones; the capture holds it too, so once the new base is
        // in place it is cut from the new file again. Only if neither file
        // takes it does the rewrite stop, the bytes waiting for a retry.
        let mut carry = std::mem::take(&mut o.retry);
        carry.extend_from_slice(&pending);
        let in_old = match o.file.as_mut() {
            Some(f) => f.write_all(&carry).and_then(|_| f.sync_data()).is_ok(),
            None => true,
        };
        let mut new_file = new_file;
        let carried = !in_old && !carry.is_empty();
        if carried {
            if let Err(e) = new_file
                .write_all(&carry)
                .and_then(|_| new_file.sync_data())
            {
                o.retry = carry;
                o.retry_end = end_offset;
                drop(new_file);
                let _ = fs::remove_file(o.layout.path(&incr.name));
                return Err(e);
            }
        }
        o.file = Some(new_file);
        o.file_len = if carried { carry.len() as u64 } else { 0 };
        // Writes go to the new incremental file from now on: the manifest
        // names it at once, so they are kept even if the rewrite fails.
        o.manifest.incrs.push(incr.clone());
        o.layout.write_manifest(&o.manifest)?;
        // aof-use-rdb-preamble (Redis 7.0's default): the base file is an
        // RDB image, otherwise commands.
        let preamble = shared.config.get_bool("aof-use-rdb-preamble");
        let base = Part {
            name: format!(
                "{}.{seq}.base.{}",
                o.layout.prefix,
                if preamble { "rdb" } else { "aof" }
            ),
            seq,
            kind: PartKind::Base,
        };
        let tmp = o
            .layout
            .dir
            .join(format!("temp-rewriteaof-{}.aof", std::process::id()));
        let base_size = if preamble {
            write_base_rdb(shared, &tmp, &dbs)?
        } else {
            write_base(&tmp, &dbs)?
        };
        fs::rename(&tmp, o.layout.path(&base.name))?;
        let mut old = std::mem::take(&mut o.manifest);
        old.incrs.retain(|p| p.name != incr.name);
        o.manifest = Manifest {
            base: Some(base),
            incrs: vec![incr],
        };
        o.layout.write_manifest(&o.manifest)?;
        if carried {
            // The base holds what the new file started with.
            if let Some(f) = o.file.as_mut() {
                f.set_len(0)?;
                f.seek(io::SeekFrom::Start(0))?;
            }
            o.file_len = 0;
        }
        // The old files are history now.
        for p in old.base.iter().chain(old.incrs.iter()) {
            if o.manifest.base.as_ref().map(|b| &b.name) != Some(&p.name)
                && !o.manifest.incrs.iter().any(|i| i.name == p.name)
            {
                let _ = fs::remove_file(o.layout.path(&p.name));
            }
        }
        o.base_size = base_size;
        o.incr_size = 0;
        aof.base_size.store(base_size, Ordering::Relaxed);
        aof.current_size.store(base_size, Ordering::Relaxed);
        aof.set_synced(end_offset);
        aof.rewrites.fetch_add(1, Ordering::Relaxed);
        Ok(())
    })();
    aof.rewrite_in_progress.store(false, Ordering::Relaxed);
    result
}

fn capture_db(shared: &Shared, db: usize, now: u64) -> Vec<Captured> {
    let mut out = Vec::new();
    for shard in 0..ferrocache_store::SHARDS_PER_DB {
        let s = shared.ks.lock_shard(db, shard);
        for e in s.iter() {
            if e.is_expired(now) {
                continue;
            }
            out.push(e.clone());
        }
    }
    out
}

/// Writes the captured dataset as an RDB image; returns the file's size.
fn write_base_rdb(shared: &Shared, path: &Path, dbs: &[Vec<Captured>]) -> io::Result<u64> {
    let file = File::create(path)?;
    let mut w = ferrocache_persistence::rdb::writer::FileWriter::new(
        io::BufWriter::with_capacity(1 << 20, file),
        shared.config.get_bool("rdbcompression"),
    )?;
    for (k, v) in ferrocache_commands::persist::aux_fields_for(shared, true) {
        w.aux(k, &v)?;
    }
    for (db, keys) in dbs.iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        let volatile = keys.iter().filter(|c| c.has_expiry()).count();
        w.select_db(db, keys.len(), volatile)?;
        for c in keys {
            w.entry(c.key(), c.value(), c.expire_at())?;
        }
    }
    let size = w.written() + 8;
    let out = w.finish(shared.config.get_bool("rdbchecksum"))?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(size)
}

/// Writes the captured dataset as commands; returns the file's size.
fn write_base(path: &Path, dbs: &[Vec<Captured>]) -> io::Result<u64> {
    let mut w = io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut size = 0u64;
    let mut emit = |w: &mut io::BufWriter<File>, argv: &[&[u8]]| -> io::Result<()> {
        let mut buf = Vec::new();
        buf.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
        for a in argv {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        size += buf.len() as u64;
        w.write_all(&buf)
    };
    for (db, keys) in dbs.iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        emit(&mut w, &[b"SELECT", db.to_string().as_bytes()])?;
        for c in keys {
            let key = c.key();
            match c.value() {
                ValueRef::Str(s) => {
                    s.with_bytes(|text| emit(&mut w, &[b"SET", key, text]))?;
                }
                ValueRef::List(l) => {
                    let items: Vec<&[u8]> = l.iter().collect();
                    for batch in items.chunks(ITEMS_PER_COMMAND) {
                        let mut argv: Vec<&[u8]> = vec![b"RPUSH", key];
                        argv.extend_from_slice(batch);
                        emit(&mut w, &argv)?;
                    }
                }
                ValueRef::Set(s) => {
                    let members = s.members();
                    for batch in members.chunks(ITEMS_PER_COMMAND) {
                        let mut argv: Vec<&[u8]> = vec![b"SADD", key];
                        argv.extend(batch.iter().map(|m| &m[..]));
                        emit(&mut w, &argv)?;
                    }
                }
                ValueRef::Hash(h) => {
                    let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
                    for batch in pairs.chunks(ITEMS_PER_COMMAND) {
                        let mut argv: Vec<&[u8]> = vec![b"HMSET", key];
                        for (f, v) in batch {
                            argv.push(f);
                            argv.push(v);
                        }
                        emit(&mut w, &argv)?;
                    }
                }
                ValueRef::ZSet(z) => {
                    // Scores as `%.17g`, which reads back to the same double.
                    let pairs: Vec<(Bytes, Bytes)> = z
                        .to_vec()
                        .into_iter()
                        .map(|(m, s)| (Bytes::from(ferrocache_protocol::format_double(s)), m))
                        .collect();
                    for batch in pairs.chunks(ITEMS_PER_COMMAND) {
                        let mut argv: Vec<&[u8]> = vec![b"ZADD", key];
                        for (s, m) in batch {
                            argv.push(s);
                            argv.push(m);
                        }
                        emit(&mut w, &argv)?;
                    }
                }
            }
            if let Some(at) = c.expire_at() {
                emit(&mut w, &[b"PEXPIREAT", key, at.to_string().as_bytes()])?;
            }
        }
    }
    w.flush()?;
    w.get_ref().sync_all()?;
    Ok(size)
}

/// Forgets a stopped server's flags (embedded servers come and go).
pub fn forget(shared: &Shared) {
    STOP.forget(shared);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_rejects_garbage() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text, Path::new("m")).expect("parses");
        assert_eq!(
            m.base.as_ref().map(|b| b.name.as_str()),
            Some("appendonly.aof.1.base.rdb")
        );
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.render(), text);
        assert!(Manifest::parse("file x seq y type b\n", Path::new("m")).is_err());
        assert!(Manifest::parse("file ../x seq 1 type b\n", Path::new("m")).is_err());
        assert!(
            Manifest::parse("file a seq 1 type b\nfile b seq 2 type b\n", Path::new("m")).is_err()
        );
    }
}
