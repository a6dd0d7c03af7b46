//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBE forms,
//! PUBLISH, SPUBLISH and PUBSUB.
//!
//! Every subscribed connection owns a [`Mailbox`]: an unbounded channel of
//! encoded messages plus a count of the bytes queued in it. PUBLISH finds the
//! mailboxes of a channel's subscribers and of the matching patterns, encodes
//! the message once per protocol, and queues it; the connection's loop
//! writes queued messages to its socket. A publisher never waits for a
//! subscriber, and messages from one publisher arrive in the order they were
//! published.
//!
//! `client-output-buffer-limit pubsub <hard> <soft> <seconds>` bounds what a
//! slow subscriber can cost: a mailbox holding more than `hard` bytes, or
//! more than `soft` bytes for longer than `seconds`, gets its client closed,
//! as Redis does, and further messages for it are dropped.
//!
//! The registry keeps three maps (channels, patterns, shard channels) from
//! name to mailboxes behind one mutex each; SUBSCRIBE and PUBLISH take them
//! briefly. Keyspace notifications publish through [`PubSub::publish`] too.

use crate::clients::ClientHandle;
use crate::context::{CmdResult, Ctx, Session, Shared};
use crate::table::{command, container, flags::*, keys, Command, Group, NO_KEYS};
use bytes::{Bytes, BytesMut};
use ferrocache_protocol::{Encoder, Protocol};
use ferrocache_store::glob::glob_match;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

pub static COMMANDS: &[Command] = &[
    command(
        "subscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "2.0.0",
        "Listens for messages published to channels.",
        cmd_subscribe,
    ),
    command(
        "unsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "2.0.0",
        "Stops listening to messages posted to channels.",
        cmd_unsubscribe,
    ),
    command(
        "psubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "2.0.0",
        "Listens for messages published to channels that match one or more patterns.",
        cmd_psubscribe,
    ),
    command(
        "punsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
        cmd_punsubscribe,
    ),
    command(
        "ssubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        keys(1, -1, 1),
        Group::PubSub,
        "7.0.0",
        "Listens for messages published to shard channels.",
        cmd_ssubscribe,
    ),
    command(
        "sunsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        keys(1, -1, 1),
        Group::PubSub,
        "7.0.0",
        "Stops listening to messages posted to shard channels.",
        cmd_sunsubscribe,
    ),
    command(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE | SENTINEL,
        NO_KEYS,
        Group::PubSub,
        "2.0.0",
        "Posts a message to a channel.",
        cmd_publish,
    ),
    command(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        keys(1, 1, 1),
        Group::PubSub,
        "7.0.0",
        "Post a message to a shard channel",
        cmd_spublish,
    ),
    container(
        "pubsub",
        -2,
        Group::PubSub,
        "2.8.0",
        "A container for Pub/Sub commands.",
        PUBSUB_SUBCOMMANDS,
    ),
];

static PUBSUB_SUBCOMMANDS: &[Command] = &[
    command(
        "channels",
        -2,
        PUBSUB | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "2.8.0",
        "Returns the active channels.",
        cmd_pubsub_channels,
    ),
    command(
        "numsub",
        -2,
        PUBSUB | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "2.8.0",
        "Returns a count of subscribers to channels.",
        cmd_pubsub_numsub,
    ),
    command(
        "numpat",
        2,
        PUBSUB | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "2.8.0",
        "Returns a count of unique pattern subscriptions.",
        cmd_pubsub_numpat,
    ),
    command(
        "shardchannels",
        -2,
        PUBSUB | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "7.0.0",
        "Returns the active shard channels.",
        cmd_pubsub_shardchannels,
    ),
    command(
        "shardnumsub",
        -2,
        PUBSUB | LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "7.0.0",
        "Returns the count of subscribers of shard channels.",
        cmd_pubsub_shardnumsub,
    ),
    command(
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        Group::PubSub,
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        cmd_pubsub_help,
    ),
];

/// Commands a RESP2 client may send while subscribed.
pub fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// `client-output-buffer-limit` for the pubsub class, in bytes and seconds
/// (0: no limit). Kept in atomics so PUBLISH reads them without parsing.
#[derive(Default)]
pub struct Limits {
    pub hard: AtomicU64,
    pub soft: AtomicU64,
    pub soft_secs: AtomicU64,
}

impl Limits {
    /// Reads the pubsub class out of the parameter's value.
    pub fn refresh(&self, value: &str) {
        let words: Vec<&str> = value.split_whitespace().collect();
        let (mut hard, mut soft, mut secs) = (32 << 20, 8 << 20, 60);
        for chunk in words.chunks(4) {
            if let [class, h, s, t] = chunk {
                if class.eq_ignore_ascii_case("pubsub") {
                    hard = crate::config::parse_memory(h).unwrap_or(hard as i64).max(0) as u64;
                    soft = crate::config::parse_memory(s).unwrap_or(soft as i64).max(0) as u64;
                    secs = t.parse().unwrap_or(secs);
                }
            }
        }
        self.hard.store(hard, Ordering::Relaxed);
        self.soft.store(soft, Ordering::Relaxed);
        self.soft_secs.store(secs, Ordering::Relaxed);
    }
}

/// Where messages for one subscribed connection wait to be written.
pub struct Mailbox {
    tx: mpsc::UnboundedSender<Bytes>,
    /// Bytes queued and not yet written to the socket.
    pending: AtomicUsize,
    /// Milliseconds (server clock) since the queue has been over the soft
    /// limit; 0 while under it.
    over_soft_since: AtomicU64,
    /// Set once the limit closed the client: nothing more is queued.
    closed: AtomicBool,
    handle: Arc<ClientHandle>,
}

impl Mailbox {
    fn deliver(&self, msg: &Bytes, limits: &Limits, now_ms: u64) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let pending = self.pending.fetch_add(msg.len(), Ordering::Relaxed) + msg.len();
        let hard = limits.hard.load(Ordering::Relaxed) as usize;
        let soft = limits.soft.load(Ordering::Relaxed) as usize;
        let mut over = hard > 0 && pending > hard;
        if !over && soft > 0 && pending > soft {
            let since = self.over_soft_since.load(Ordering::Relaxed);
            if since == 0 {
                self.over_soft_since.store(now_ms.max(1), Ordering::Relaxed);
            } else {
                let secs = limits.soft_secs.load(Ordering::Relaxed);
                over = now_ms.saturating_sub(since) > secs * 1000;
            }
        }
        if over {
            self.closed.store(true, Ordering::Relaxed);
            self.pending.fetch_sub(msg.len(), Ordering::Relaxed);
            self.handle.kill();
            return;
        }
        if self.tx.send(msg.clone()).is_err() {
            self.pending.fetch_sub(msg.len(), Ordering::Relaxed);
        }
    }

    /// Called by the connection after writing `n` bytes of messages.
    pub fn written(&self, n: usize, soft: u64) {
        let left = self
            .pending
            .fetch_sub(n, Ordering::Relaxed)
            .saturating_sub(n);
        if (left as u64) <= soft {
            self.over_soft_since.store(0, Ordering::Relaxed);
        }
    }

    fn resp3(&self) -> bool {
        self.handle.resp.load(Ordering::Relaxed) == 3
    }

    pub fn is_resp3(&self) -> bool {
        self.resp3()
    }

    /// Queues `msg` for the connection, under the pub/sub output limits.
    pub fn deliver_now(&self, msg: &Bytes, pubsub: &PubSub) {
        self.deliver(msg, &pubsub.limits, crate::context::unix_ms());
    }
}

/// A connection's subscriptions.
pub struct Subscriptions {
    pub mailbox: Arc<Mailbox>,
    pub rx: mpsc::UnboundedReceiver<Bytes>,
    channels: HashSet<Bytes>,
    patterns: HashSet<Bytes>,
    shard: HashSet<Bytes>,
}

impl Subscriptions {
    fn new(handle: Arc<ClientHandle>) -> Subscriptions {
        let (tx, rx) = mpsc::unbounded_channel();
        Subscriptions {
            mailbox: Arc::new(Mailbox {
                tx,
                pending: AtomicUsize::new(0),
                over_soft_since: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                handle,
            }),
            rx,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard: HashSet::new(),
        }
    }

    /// Channels plus patterns: the count SUBSCRIBE and friends report.
    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// The count reported after a change to a `kind` subscription: shard
    /// channels are counted on their own.
    fn count_for(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.count(),
        }
    }

    fn set_mut(&mut self, kind: Kind) -> &mut HashSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    fn publish_counts(&self) {
        let h = &self.mailbox.handle;
        h.subs.store(self.channels.len(), Ordering::Relaxed);
        h.psubs.store(self.patterns.len(), Ordering::Relaxed);
        h.ssubs.store(self.shard.len(), Ordering::Relaxed);
    }
}

/// True while the session holds any subscription (RESP2's subscribed mode).
pub fn subscribed(session: &Session) -> bool {
    session
        .pubsub
        .as_ref()
        .is_some_and(|s| s.count() + s.shard.len() > 0)
}

type Registry = Mutex<HashMap<Bytes, Vec<Arc<Mailbox>>>>;

/// Every subscription on the server.
#[derive(Default)]
pub struct PubSub {
    channels: Registry,
    patterns: Registry,
    shard: Registry,
    pub limits: Limits,
    /// `notify-keyspace-events` as class bits ([`crate::notify::class`]).
    pub notify_flags: std::sync::atomic::AtomicU32,
    /// CLIENT TRACKING's registry; its messages travel through mailboxes.
    pub tracking: crate::tracking::Tracking,
}

impl ferrocache_store::KeyspaceObserver for PubSub {
    fn expired(&self, db: usize, key: &Bytes) {
        crate::journal::record_expired(db, key);
        self.tracking.modified(self, key);
        self.notify(crate::notify::class::EXPIRED, "expired", db, key);
    }

    fn missed(&self, db: usize, key: &[u8]) {
        self.notify(crate::notify::class::KEY_MISS, "keymiss", db, key);
    }

    fn modified(&self, _db: usize, key: &[u8]) {
        self.tracking.modified(self, key);
    }

    fn added(&self, db: usize, key: &[u8]) {
        self.notify(crate::notify::class::NEW, "new", db, key);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

impl PubSub {
    /// The mailbox of client `id` if it subscribes to `channel`.
    pub fn subscriber_of(&self, channel: &[u8], id: u64) -> Option<Arc<Mailbox>> {
        self.channels
            .lock()
            .get(channel)
            .and_then(|list| list.iter().find(|m| m.handle.id == id).cloned())
    }

    fn registry(&self, kind: Kind) -> &Registry {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    fn add(&self, kind: Kind, name: &Bytes, mb: &Arc<Mailbox>) {
        self.registry(kind)
            .lock()
            .entry(name.clone())
            .or_default()
            .push(mb.clone());
    }

    fn remove(&self, kind: Kind, name: &Bytes, mb: &Arc<Mailbox>) {
        let mut map = self.registry(kind).lock();
        if let Some(list) = map.get_mut(name) {
            list.retain(|m| !Arc::ptr_eq(m, mb));
            if list.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Sends `message` to the subscribers of `channel` and of every pattern
    /// matching it; returns how many received it.
    pub fn publish(&self, channel: &[u8], message: &[u8], now_ms: u64) -> usize {
        let mut sent = 0;
        let mut encoded = Encoded::default();
        {
            let map = self.channels.lock();
            if let Some(list) = map.get(channel) {
                for mb in list {
                    let msg = encoded.get(
                        mb.resp3(),
                        |e| {
                            e.bulk(b"message");
                            e.bulk(channel);
                            e.bulk(message);
                        },
                        3,
                    );
                    mb.deliver(msg, &self.limits, now_ms);
                    sent += 1;
                }
            }
        }
        let map = self.patterns.lock();
        if !map.is_empty() {
            for (pattern, list) in map.iter() {
                if !glob_match(pattern, channel, false) {
                    continue;
                }
                let mut encoded = Encoded::default();
                for mb in list {
                    let msg = encoded.get(
                        mb.resp3(),
                        |e| {
                            e.bulk(b"pmessage");
                            e.bulk(pattern);
                            e.bulk(channel);
                            e.bulk(message);
                        },
                        4,
                    );
                    mb.deliver(msg, &self.limits, now_ms);
                    sent += 1;
                }
            }
        }
        sent
    }

    fn spublish(&self, channel: &[u8], message: &[u8], now_ms: u64) -> usize {
        let mut encoded = Encoded::default();
        let map = self.shard.lock();
        let Some(list) = map.get(channel) else {
            return 0;
        };
        for mb in list {
            let msg = encoded.get(
                mb.resp3(),
                |e| {
                    e.bulk(b"smessage");
                    e.bulk(channel);
                    e.bulk(message);
                },
                3,
            );
            mb.deliver(msg, &self.limits, now_ms);
        }
        list.len()
    }

    /// Publishes a keyspace notification if its class is enabled (see
    /// [`crate::notify`]).
    #[inline]
    pub fn notify(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        let flags = self.notify_flags.load(Ordering::Relaxed);
        if flags & class == 0 {
            return;
        }
        self.notify_slow(flags, event, db, key);
    }

    #[cold]
    fn notify_slow(&self, flags: u32, event: &str, db: usize, key: &[u8]) {
        use crate::notify::class::{KEYEVENT, KEYSPACE};
        let now = crate::context::unix_ms();
        if flags & KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            self.publish(&channel, event.as_bytes(), now);
        }
        if flags & KEYEVENT != 0 {
            let channel = format!("__keyevent@{db}__:{event}");
            self.publish(channel.as_bytes(), key, now);
        }
    }

    /// Distinct channels with at least one subscriber (INFO's
    /// `pubsub_channels`).
    pub fn channel_count(&self) -> usize {
        self.channels.lock().len()
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.lock().len()
    }

    pub fn shard_channel_count(&self) -> usize {
        self.shard.lock().len()
    }
}

/// A message encoded at most once per protocol version.
#[derive(Default)]
struct Encoded {
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl Encoded {
    fn get(&mut self, resp3: bool, body: impl FnOnce(&mut Encoder), len: usize) -> &Bytes {
        let slot = if resp3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        slot.get_or_insert_with(|| {
            let mut buf = BytesMut::new();
            let proto = if resp3 {
                Protocol::Resp3
            } else {
                Protocol::Resp2
            };
            let mut e = Encoder::new(&mut buf, proto);
            e.push(len);
            body(&mut e);
            buf.freeze()
        })
    }
}

/// The session's mailbox, created if it has none (CLIENT TRACKING's
/// pushes use it).
pub fn mailbox_of(session: &mut Session) -> Arc<Mailbox> {
    subscriptions(session).mailbox.clone()
}

fn subscriptions(session: &mut Session) -> &mut Subscriptions {
    let handle = session.handle.clone();
    session
        .pubsub
        .get_or_insert_with(|| Subscriptions::new(handle))
}

/// Writes one (un)subscribe confirmation: a push in RESP3, an array in
/// RESP2.
fn confirm(ctx: &mut Ctx, word: &[u8], name: Option<&[u8]>, count: usize) {
    let mut r = ctx.reply();
    r.push(3);
    r.bulk(word);
    match name {
        Some(n) => r.bulk(n),
        None => r.null(),
    }
    r.int(count as i64);
}

fn subscribe(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let names: Vec<Bytes> = ctx.args[1..].to_vec();
    let shared = ctx.shared;
    for name in names {
        let subs = subscriptions(ctx.session);
        if subs.set_mut(kind).insert(name.clone()) {
            shared.pubsub.add(kind, &name, &subs.mailbox);
        }
        subs.publish_counts();
        let count = subs.count_for(kind);
        confirm(ctx, kind.subscribe_word(), Some(&name), count);
    }
    Ok(())
}

fn unsubscribe(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let shared = ctx.shared;
    let named: Vec<Bytes> = ctx.args[1..].to_vec();
    let Some(subs) = ctx.session.pubsub.as_mut() else {
        if named.is_empty() {
            confirm(ctx, kind.unsubscribe_word(), None, 0);
        }
        for name in named {
            confirm(ctx, kind.unsubscribe_word(), Some(&name), 0);
        }
        return Ok(());
    };
    let names: Vec<Bytes> = if named.is_empty() {
        subs.set_mut(kind).iter().cloned().collect()
    } else {
        named
    };
    let mut replies = Vec::with_capacity(names.len());
    for name in &names {
        if subs.set_mut(kind).remove(name) {
            shared.pubsub.remove(kind, name, &subs.mailbox);
        }
        replies.push((name.clone(), subs.count_for(kind)));
    }
    subs.publish_counts();
    if replies.is_empty() {
        let count = subs.count_for(kind);
        confirm(ctx, kind.unsubscribe_word(), None, count);
    }
    for (name, count) in replies {
        confirm(ctx, kind.unsubscribe_word(), Some(&name), count);
    }
    Ok(())
}

fn cmd_subscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe(ctx, Kind::Channel)
}

fn cmd_psubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe(ctx, Kind::Pattern)
}

fn cmd_ssubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe(ctx, Kind::Shard)
}

fn cmd_unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe(ctx, Kind::Channel)
}

fn cmd_punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe(ctx, Kind::Pattern)
}

fn cmd_sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe(ctx, Kind::Shard)
}

fn cmd_publish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx
        .shared
        .pubsub
        .publish(ctx.arg(1), ctx.arg(2), ctx.now_ms);
    propagate_publish(ctx);
    ctx.reply().int(n as i64);
    Ok(())
}

/// A master passes PUBLISH and SPUBLISH on to its replicas, as Redis does
/// outside cluster mode: their subscribers get the message too (Sentinel's
/// hellos reach its links to the replicas that way) and the stream's
/// offsets count it. It goes to the replication stream only, not the AOF;
/// inside EXEC or a script it joins the open journal section (whose lock
/// this thread holds) as a record for replicas only.
fn propagate_publish(ctx: &Ctx) {
    let shared = ctx.shared;
    if !shared.journal.is_on() || shared.repl.is_replica() {
        return;
    }
    if crate::journal::in_section() {
        crate::journal::record_for_replicas(ctx.session.db, ctx.args.to_vec());
        return;
    }
    if !shared.journal.backlog_info().active && shared.journal.feeds() == 0 {
        return;
    }
    let mut buf = BytesMut::new();
    let mut e = Encoder::new(&mut buf, Protocol::Resp2);
    e.array(ctx.args.len());
    for a in ctx.args {
        e.bulk(a);
    }
    shared.journal.feed_raw(&buf);
}

fn cmd_spublish(ctx: &mut Ctx) -> CmdResult {
    let n = ctx
        .shared
        .pubsub
        .spublish(ctx.arg(1), ctx.arg(2), ctx.now_ms);
    propagate_publish(ctx);
    ctx.reply().int(n as i64);
    Ok(())
}

fn list_channels(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(ctx.arg(1))
        )
        .into());
    }
    let pattern = ctx.args.get(2).cloned();
    let names: Vec<Bytes> = ctx
        .shared
        .pubsub
        .registry(kind)
        .lock()
        .keys()
        .filter(|c| pattern.as_ref().is_none_or(|p| glob_match(p, c, false)))
        .cloned()
        .collect();
    let mut r = ctx.reply();
    r.array(names.len());
    for n in names {
        r.bulk(&n);
    }
    Ok(())
}

fn count_subscribers(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let names: Vec<Bytes> = ctx.args[2..].to_vec();
    let counts: Vec<usize> = {
        let map = ctx.shared.pubsub.registry(kind).lock();
        names
            .iter()
            .map(|n| map.get(n).map_or(0, |l| l.len()))
            .collect()
    };
    // A flat array in RESP3 too, as Redis answers.
    let mut r = ctx.reply();
    r.array(names.len() * 2);
    for (n, c) in names.iter().zip(counts) {
        r.bulk(n);
        r.int(c as i64);
    }
    Ok(())
}

fn cmd_pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    list_channels(ctx, Kind::Channel)
}

fn cmd_pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    list_channels(ctx, Kind::Shard)
}

fn cmd_pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    count_subscribers(ctx, Kind::Channel)
}

fn cmd_pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    count_subscribers(ctx, Kind::Shard)
}

fn cmd_pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.shared.pubsub.pattern_count();
    ctx.reply().int(n as i64);
    Ok(())
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn cmd_pubsub_help(ctx: &mut Ctx) -> CmdResult {
    let mut r = ctx.reply();
    r.array(PUBSUB_HELP.len());
    for line in PUBSUB_HELP {
        r.simple(line);
    }
    Ok(())
}

/// Drops every subscription of a connection (RESET, disconnect).
pub fn unsubscribe_all(shared: &Shared, session: &mut Session) {
    let Some(subs) = session.pubsub.take() else {
        return;
    };
    for (kind, set) in [
        (Kind::Channel, &subs.channels),
        (Kind::Pattern, &subs.patterns),
        (Kind::Shard, &subs.shard),
    ] {
        for name in set {
            shared.pubsub.remove(kind, name, &subs.mailbox);
        }
    }
    let h = &session.handle;
    h.subs.store(0, Ordering::Relaxed);
    h.psubs.store(0, Ordering::Relaxed);
    h.ssubs.store(0, Ordering::Relaxed);
}
