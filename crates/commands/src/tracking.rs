//! Client-side caching support: CLIENT TRACKING and its invalidation
//! messages, as Redis 7.0 sends them.
//!
//! In the default mode the server remembers, per key name, the clients
//! that read it with tracking on; the first change to the key sends each
//! of them one `invalidate` message and forgets them (they read again to
//! be told again). In BCAST mode a client names key prefixes instead and is
//! told of every change under them. OPTIN/OPTOUT limit which reads are
//! remembered (CLIENT CACHING yes|no before a command); NOLOOP skips the
//! changes the client makes itself.
//!
//! Messages travel through the target connection's pub/sub mailbox: a
//! RESP3 push `invalidate [keys]`, or for a REDIRECT target in RESP2 a
//! `message` on `__redis__:invalidate` (it must be subscribed to it). A
//! flush sends a null key list.
//!
//! Key changes reach [`Tracking::modified`] from the keyspace (every write
//! through a guard, expiry) and flushes call [`Tracking::flushed`]. The
//! registry's lock may be taken under shard locks, never the other way.

use crate::context::{CmdResult, Ctx, Session, Shared};
use crate::errors;
use crate::pubsub::Mailbox;
use crate::pubsub::PubSub;
use bytes::Bytes;
use ferrocache_protocol::{Encoder, Protocol};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The channel REDIRECT targets subscribe to in RESP2.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking settings.
#[derive(Clone, Default)]
pub struct Mode {
    pub redirect: Option<u64>,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Bytes>,
}

/// Per-session state (in [`Session::tracking`]).
#[derive(Default)]
pub struct SessionTracking {
    pub mode: Option<Mode>,
    /// CLIENT CACHING yes/no, for the next command only.
    pub caching: Option<bool>,
    /// The caching flag applies to the command after CLIENT CACHING.
    pub caching_armed: bool,
}

struct Tracker {
    mode: Mode,
    /// The client's own mailbox (RESP3 pushes).
    mailbox: Arc<Mailbox>,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<u64, Tracker>,
    /// Key name -> clients that read it (default mode).
    keys: HashMap<Bytes, HashSet<u64>>,
    /// Items in `keys` (key, client) pairs, for INFO.
    items: usize,
}

#[derive(Default)]
pub struct Tracking {
    /// Tracking clients; zero keeps every hook to one atomic load.
    active: AtomicUsize,
    inner: Mutex<Inner>,
    /// Most keys remembered (`tracking-table-max-keys`, 0: no limit).
    pub max_keys: AtomicU64,
}

thread_local! {
    /// The client whose command this thread runs (NOLOOP needs it).
    static CURRENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Keys changed by the running command, for BCAST clients, with the
    /// client that changed them.
    static BCAST_PENDING: std::cell::RefCell<Vec<(Bytes, u64)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Sets the client running on this thread; returns the previous one.
pub fn set_current(id: u64) -> u64 {
    CURRENT.with(|c| c.replace(id))
}

impl Tracking {
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    fn enable(&self, ks: &ferrocache_store::Keyspace, id: u64, mode: Mode, mailbox: Arc<Mailbox>) {
        let mut inner = self.inner.lock();
        if inner
            .clients
            .insert(id, Tracker { mode, mailbox })
            .is_none()
        {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
        ks.set_track_modified(true);
    }

    /// Forgets a client (tracking off, RESET, disconnect).
    pub fn disable(&self, ks: &ferrocache_store::Keyspace, id: u64) {
        let mut inner = self.inner.lock();
        if inner.clients.remove(&id).is_some() && self.active.fetch_sub(1, Ordering::Relaxed) == 1 {
            ks.set_track_modified(false);
        }
        let mut removed = 0;
        inner.keys.retain(|_, ids| {
            if ids.remove(&id) {
                removed += 1;
            }
            !ids.is_empty()
        });
        inner.items -= removed;
    }

    /// Remembers that client `id` read `keys`.
    fn remember(&self, shared: &PubSub, id: u64, keys: impl Iterator<Item = Bytes>) {
        let mut inner = self.inner.lock();
        for k in keys {
            if inner.keys.entry(k).or_default().insert(id) {
                inner.items += 1;
            }
        }
        // Over the limit: forget keys, telling their readers as Redis does.
        let max = self.max_keys.load(Ordering::Relaxed) as usize;
        if max > 0 && inner.keys.len() > max {
            let excess: Vec<Bytes> = inner
                .keys
                .keys()
                .take(inner.keys.len() - max)
                .cloned()
                .collect();
            for k in excess {
                self.invalidate_key(shared, &mut inner, &k, 0);
            }
        }
    }

    /// A key changed (written, expired, evicted).
    pub fn modified(&self, shared: &PubSub, key: &[u8]) {
        if !self.is_active() {
            return;
        }
        let writer = CURRENT.with(|c| c.get());
        let mut inner = self.inner.lock();
        self.invalidate_key(shared, &mut inner, key, writer);
        if !inner.clients.values().any(|t| t.mode.bcast) {
            return;
        }
        // BCAST clients hear of a command's changes in one message per
        // prefix once it ends ([`Tracking::flush_bcast`]); outside a
        // command (the cron's expiry) at once.
        BCAST_PENDING.with(|p| p.borrow_mut().push((Bytes::copy_from_slice(key), writer)));
        if writer == 0 {
            drop(inner);
            self.flush_bcast(shared);
        }
    }

    /// Sends the BCAST messages for the keys changed since the last call
    /// on this thread: per client, one message per matching prefix.
    pub fn flush_bcast(&self, shared: &PubSub) {
        let pending = BCAST_PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        if pending.is_empty() {
            return;
        }
        let inner = self.inner.lock();
        let mut ids: Vec<u64> = inner
            .clients
            .iter()
            .filter(|(_, t)| t.mode.bcast)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            let Some(t) = inner.clients.get(&id) else {
                continue;
            };
            let mut prefixes: Vec<&[u8]> = t.mode.prefixes.iter().map(|p| &p[..]).collect();
            if prefixes.is_empty() {
                prefixes.push(b"");
            }
            prefixes.sort_unstable();
            for prefix in prefixes {
                let keys: Vec<&[u8]> = pending
                    .iter()
                    .filter(|(k, w)| k.starts_with(prefix) && !(t.mode.noloop && *w == id))
                    .map(|(k, _)| &k[..])
                    .collect();
                if !keys.is_empty() {
                    send(shared, &inner, id, Some(&keys));
                }
            }
        }
    }

    fn invalidate_key(&self, shared: &PubSub, inner: &mut Inner, key: &[u8], writer: u64) {
        let Some(ids) = inner.keys.remove(key) else {
            return;
        };
        inner.items -= ids.len();
        for id in ids {
            let skip = writer != 0
                && id == writer
                && inner.clients.get(&id).is_some_and(|t| t.mode.noloop);
            if !skip {
                send(shared, inner, id, Some(&[key]));
            }
        }
    }

    /// FLUSHDB/FLUSHALL: every tracking client is told to drop everything.
    pub fn flushed(&self, shared: &PubSub) {
        if !self.is_active() {
            return;
        }
        let mut inner = self.inner.lock();
        inner.keys.clear();
        inner.items = 0;
        let ids: Vec<u64> = inner.clients.keys().copied().collect();
        for id in ids {
            send(shared, &inner, id, None);
        }
    }

    /// (tracking clients, keys, items, prefixes) for INFO.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let inner = self.inner.lock();
        let prefixes = inner.clients.values().map(|t| t.mode.prefixes.len()).sum();
        (inner.clients.len(), inner.keys.len(), inner.items, prefixes)
    }
}

/// Delivers one invalidation (`keys` None: everything) to client `id` or
/// to the client it redirects to.
fn send(shared: &PubSub, inner: &Inner, id: u64, keys: Option<&[&[u8]]>) {
    let Some(t) = inner.clients.get(&id) else {
        return;
    };
    let encode = |proto: Protocol, as_message: bool| -> Bytes {
        let mut buf = bytes::BytesMut::new();
        let mut e = Encoder::new(&mut buf, proto);
        if as_message {
            e.push(3);
            e.bulk(b"message");
            e.bulk(INVALIDATE_CHANNEL);
        } else {
            e.push(2);
            e.bulk(b"invalidate");
        }
        match keys {
            Some(ks) => {
                e.array(ks.len());
                for k in ks {
                    e.bulk(k);
                }
            }
            None => e.null(),
        }
        buf.freeze()
    };
    match t.mode.redirect {
        None => {
            if t.mailbox.is_resp3() {
                t.mailbox
                    .deliver_now(&encode(Protocol::Resp3, false), shared);
            } else if let Some(mb) = shared.subscriber_of(INVALIDATE_CHANNEL, id) {
                mb.deliver_now(&encode(Protocol::Resp2, true), shared);
            }
        }
        Some(target) => {
            if let Some(mb) = shared.subscriber_of(INVALIDATE_CHANNEL, target) {
                let proto = if mb.is_resp3() {
                    Protocol::Resp3
                } else {
                    Protocol::Resp2
                };
                mb.deliver_now(&encode(proto, true), shared);
            }
        }
    }
}

/// After a command: remember the keys a tracking client read.
pub fn after_command(
    shared: &Shared,
    session: &mut Session,
    cmd: &'static crate::table::Command,
    args: &[Bytes],
) {
    let Some(mode) = session.tracking.mode.clone() else {
        return;
    };
    // CLIENT CACHING applies to the one command after it.
    // Inside MULTI (and the EXEC running it) the flag covers every command
    // of the transaction; it is spent when EXEC ends.
    let in_transaction = session.multi.is_some() || session.in_exec.is_some();
    let st = &mut session.tracking;
    let caching = if st.caching_armed {
        st.caching_armed = false;
        None
    } else if in_transaction {
        st.caching
    } else {
        st.caching.take()
    };
    if cmd.name == "caching" {
        // CLIENT CACHING itself arms the flag for the next command.
        return;
    }
    if mode.bcast || !cmd.has(crate::table::flags::READONLY) {
        return;
    }
    let track = if mode.optin {
        caching == Some(true)
    } else if mode.optout {
        caching != Some(false)
    } else {
        true
    };
    if !track {
        return;
    }
    let positions = cmd.key_positions_of(args);
    if positions.is_empty() {
        return;
    }
    let keys = positions.into_iter().filter_map(|i| args.get(i).cloned());
    shared
        .pubsub
        .tracking
        .remember(&shared.pubsub, session.id, keys);
}

// ---------------------------------------------------------------------------
// CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO
// ---------------------------------------------------------------------------

pub fn cmd_client_tracking(ctx: &mut Ctx) -> CmdResult {
    let on = ctx.arg(2);
    let enable = if on.eq_ignore_ascii_case(b"on") {
        true
    } else if on.eq_ignore_ascii_case(b"off") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    let mut mode = Mode::default();
    let mut i = 3;
    while i < ctx.args.len() {
        let opt = ctx.arg(i);
        let more = i + 1 < ctx.args.len();
        if opt.eq_ignore_ascii_case(b"redirect") && more {
            i += 1;
            let id = crate::args::parse_i64(ctx.arg(i))?;
            if mode.redirect.is_some() {
                return Err("ERR A client can only redirect to a single other client".into());
            }
            mode.redirect = Some(id as u64);
        } else if opt.eq_ignore_ascii_case(b"bcast") {
            mode.bcast = true;
        } else if opt.eq_ignore_ascii_case(b"optin") {
            mode.optin = true;
        } else if opt.eq_ignore_ascii_case(b"optout") {
            mode.optout = true;
        } else if opt.eq_ignore_ascii_case(b"noloop") {
            mode.noloop = true;
        } else if opt.eq_ignore_ascii_case(b"prefix") && more {
            i += 1;
            mode.prefixes.push(ctx.args[i].clone());
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    let shared = ctx.shared;
    if !enable {
        shared.pubsub.tracking.disable(&shared.ks, ctx.session.id);
        ctx.session.tracking = SessionTracking::default();
        ctx.session.handle.tracking.store(0, Ordering::Relaxed);
        ctx.reply().ok();
        return Ok(());
    }
    if !mode.bcast && !mode.prefixes.is_empty() {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    if mode.optin && mode.optout {
        return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
    }
    if mode.bcast && (mode.optin || mode.optout) {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    let current = ctx.session.tracking.mode.clone();
    // Options may only be added to an existing mode, never switched.
    if let Some(cur) = &current {
        if cur.bcast != mode.bcast {
            return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if cur.optin != mode.optin || cur.optout != mode.optout {
            return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
    }
    let mut all: Vec<Bytes> = current
        .as_ref()
        .map(|c| c.prefixes.clone())
        .unwrap_or_default();
    for p in &mode.prefixes {
        for q in &all {
            if p != q && (p.starts_with(q) || q.starts_with(p)) {
                return Err(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(q)
                )
                .into());
            }
        }
        for q in &mode.prefixes {
            if !std::ptr::eq(p, q) && (p.starts_with(q) || q.starts_with(p)) {
                return Err(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(q)
                )
                .into());
            }
        }
    }
    if let Some(r) = mode.redirect {
        if r == ctx.session.id || shared.clients.get(r).is_none() {
            return Err("ERR The client ID you want redirect to does not exist".into());
        }
    }
    for p in &mode.prefixes {
        if !all.contains(p) {
            all.push(p.clone());
        }
    }
    mode.prefixes = all;
    if mode.redirect.is_none() {
        mode.redirect = current.as_ref().and_then(|c| c.redirect);
    }
    let mailbox = crate::pubsub::mailbox_of(ctx.session);
    let mut flags = TRACKING_ON;
    if mode.bcast {
        flags |= TRACKING_BCAST;
    }
    ctx.session.handle.tracking.store(flags, Ordering::Relaxed);
    ctx.session.handle.redirect.store(
        mode.redirect.map(|r| r as i64).unwrap_or(0),
        Ordering::Relaxed,
    );
    shared
        .pubsub
        .tracking
        .enable(&shared.ks, ctx.session.id, mode.clone(), mailbox);
    ctx.session.tracking.mode = Some(mode);
    ctx.reply().ok();
    Ok(())
}

/// Flags kept on the client handle for CLIENT LIST.
pub const TRACKING_ON: u8 = 1;
pub const TRACKING_BCAST: u8 = 2;

pub fn cmd_client_caching(ctx: &mut Ctx) -> CmdResult {
    let mode = ctx.session.tracking.mode.as_ref();
    let (optin, optout) = mode.map(|m| (m.optin, m.optout)).unwrap_or((false, false));
    if !optin && !optout {
        return Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into());
    }
    let yes = if ctx.arg(2).eq_ignore_ascii_case(b"yes") {
        true
    } else if ctx.arg(2).eq_ignore_ascii_case(b"no") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    if yes && !optin {
        return Err(
            "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.".into(),
        );
    }
    if !yes && !optout {
        return Err(
            "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into(),
        );
    }
    ctx.session.tracking.caching = Some(yes);
    ctx.session.tracking.caching_armed = true;
    ctx.reply().ok();
    Ok(())
}

pub fn cmd_client_getredir(ctx: &mut Ctx) -> CmdResult {
    let v = match &ctx.session.tracking.mode {
        None => -1,
        Some(m) => m.redirect.map(|r| r as i64).unwrap_or(0),
    };
    ctx.reply().int(v);
    Ok(())
}

pub fn cmd_client_trackinginfo(ctx: &mut Ctx) -> CmdResult {
    let shared = ctx.shared;
    let mode = ctx.session.tracking.mode.clone();
    let caching = ctx.session.tracking.caching;
    let mut flags: Vec<&str> = Vec::new();
    match &mode {
        None => flags.push("off"),
        Some(m) => {
            flags.push("on");
            if m.bcast {
                flags.push("bcast");
            }
            if m.optin {
                flags.push("optin");
                if caching == Some(true) {
                    flags.push("caching-yes");
                }
            }
            if m.optout {
                flags.push("optout");
                if caching == Some(false) {
                    flags.push("caching-no");
                }
            }
            if m.noloop {
                flags.push("noloop");
            }
            if m.redirect.is_some_and(|r| shared.clients.get(r).is_none()) {
                flags.push("broken_redirect");
            }
        }
    }
    let mut r = ctx.reply();
    r.map(3);
    r.bulk(b"flags");
    r.set(flags.len());
    for f in &flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"redirect");
    r.int(match &mode {
        None => -1,
        Some(m) => m.redirect.map(|x| x as i64).unwrap_or(0),
    });
    r.bulk(b"prefixes");
    let prefixes = mode.map(|m| m.prefixes).unwrap_or_default();
    r.array(prefixes.len());
    for p in &prefixes {
        r.bulk(p);
    }
    Ok(())
}
