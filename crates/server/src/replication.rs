//! Replication over the network, both roles.
//!
//! # Master side
//!
//! A connection that sends PSYNC (or the old SYNC) leaves the ordinary
//! command loop for [`serve_replica`]. When the replica's replication id and
//! offset are found in our history (the current id, or the previous one up
//! to `second_repl_offset`) and the backlog still holds the bytes it lacks,
//! it gets `+CONTINUE` and those bytes. Otherwise it gets `+FULLRESYNC`: the
//! data set is captured at one offset of the stream (writes held off only
//! for the capture, see `Journal::attach_full`), encoded as an RDB image and
//! sent either with a declared length or, to a replica that announced
//! `capa eof` while `repl-diskless-sync` is on, between `$EOF:<mark>` and
//! the mark. The stream after the captured offset follows, from a feed
//! the journal fills.
//!
//! With EOF framing a replica recognises the end of the image only by the
//! mark being the last bytes it read, so nothing follows the mark until the
//! replica's first `REPLCONF ACK` (Redis waits for it too).
//!
//! # Replica side
//!
//! [`start_link`] runs a task per REPLICAOF: connect, the handshake Redis
//! 7.0 sends (PING, AUTH, REPLCONF listening-port, REPLCONF capa eof capa
//! psync2, PSYNC), then either load the RDB into an emptied keyspace or
//! continue, then apply the stream through the dispatcher with a session
//! marked as the master's. Its replies are dropped; `REPLCONF ACK` goes back
//! every second and after each GETACK. Each applied command's bytes are fed
//! unchanged to our own backlog and replicas, so offsets match the master's.

use bytes::{Buf, Bytes, BytesMut};
use ferrocache_commands::clients::{ClientHandle, ROLE_MASTER, ROLE_REPLICA};
use ferrocache_commands::replication::{
    self as repl, ReplicaInfo, SyncRequest, WaitRequest, LINK_CONNECT, LINK_CONNECTED,
    LINK_CONNECTING, LINK_HANDSHAKE, LINK_SYNC, STATE_ONLINE, STATE_SEND_BULK, STATE_WAIT_BGSAVE,
};
use ferrocache_commands::{dispatch, Session, Shared};
use ferrocache_protocol::{DecodeLimits, RequestDecoder};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
/// Longest status line accepted from a master.
const MAX_LINE: usize = 64 * 1024;

fn repl_timeout(shared: &Shared) -> Duration {
    Duration::from_secs(shared.config.get_i64("repl-timeout").unwrap_or(60).max(1) as u64)
}

fn unix_ms() -> u64 {
    ferrocache_commands::context::unix_ms()
}

// ---------------------------------------------------------------------------
// Master side

/// Serves a replica that sent PSYNC or SYNC until it disconnects.
pub async fn serve_replica<S>(
    shared: &Arc<Shared>,
    stream: &mut S,
    session: &mut Session,
    buf: &mut BytesMut,
    req: SyncRequest,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handle = session.handle.clone();
    handle.role.store(ROLE_REPLICA, Ordering::Relaxed);
    let ip = session.repl.announced_ip.clone().unwrap_or_else(|| {
        handle
            .addr
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_default()
    });
    let info = Arc::new(ReplicaInfo {
        client_id: handle.id,
        ip,
        port: session.repl.listening_port,
        state: AtomicU8::new(STATE_WAIT_BGSAVE),
        ack: AtomicU64::new(0),
        last_ack_ms: AtomicU64::new(unix_ms()),
    });
    let limits = repl::feed_limits(shared);
    let mut wait_first_ack = false;
    // The journal turns on for good with the first replica. Writes already
    // running without it must finish first, or one of them could land
    // after the capture without being in the stream: the gate, taken
    // exclusively, waits for them.
    if !shared.journal.backlog_info().active {
        let s2 = shared.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _all = s2.gate.exclusive();
            s2.journal
                .ensure_backlog_on(&s2.ks, repl::backlog_size(&s2));
        })
        .await;
    }
    let feed = match try_partial(shared, session, &req, limits) {
        Some((reply, bytes, feed)) => {
            shared.repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            crate::notice!(
                "Partial resynchronization request from {} accepted, sending {} bytes of backlog",
                handle.addr,
                bytes.len()
            );
            info.state.store(STATE_ONLINE, Ordering::Relaxed);
            shared.repl.add(info.clone());
            let mut out = BytesMut::from(reply.as_bytes());
            out.extend_from_slice(&bytes);
            if stream.write_all(&out).await.is_err() {
                finish(shared, &info, &feed);
                return;
            }
            feed
        }
        None => {
            if let SyncRequest::Psync { replid, .. } = &req {
                if replid != "?" {
                    shared.repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
                }
            }
            shared.repl.sync_full.fetch_add(1, Ordering::Relaxed);
            shared.repl.add(info.clone());
            match full_sync(shared, stream, session, &req, &info, limits).await {
                Some((feed, eof)) => {
                    // A SYNC client sends no ACK to wait for.
                    wait_first_ack = eof && matches!(req, SyncRequest::Psync { .. });
                    feed
                }
                None => {
                    shared.repl.remove(info.client_id);
                    return;
                }
            }
        }
    };
    // Replicas older than PSYNC send no ACKs: no timeout applies to them.
    let acks = matches!(req, SyncRequest::Psync { .. });
    stream_loop(
        shared,
        stream,
        buf,
        &handle,
        &info,
        &feed,
        wait_first_ack,
        acks,
        shutdown,
    )
    .await;
    finish(shared, &info, &feed);
}

fn finish(shared: &Shared, info: &ReplicaInfo, feed: &Arc<ferrocache_commands::journal::Feed>) {
    shared.journal.detach(feed);
    shared.repl.remove(info.client_id);
    crate::notice!("Connection with replica {}:{} lost.", info.ip, info.port);
}

type Partial = (String, Bytes, Arc<ferrocache_commands::journal::Feed>);

fn try_partial(
    shared: &Shared,
    session: &Session,
    req: &SyncRequest,
    limits: ferrocache_commands::journal::FeedLimits,
) -> Option<Partial> {
    let SyncRequest::Psync { replid, offset } = req else {
        return None;
    };
    if *offset <= 0 {
        return None;
    }
    let ours = shared.replid.lock().clone();
    let matches = *replid == ours
        || (*replid == *shared.replid2.lock()
            && *offset <= shared.repl.second_offset.load(Ordering::Relaxed));
    if !matches {
        return None;
    }
    let (bytes, feed) = shared
        .journal
        .attach_partial(*offset as u64, limits, session.id)?;
    let reply = if session.repl.capa_psync2 {
        format!("+CONTINUE {ours}\r\n")
    } else {
        "+CONTINUE\r\n".to_string()
    };
    Some((reply, bytes, feed))
}

/// Captures the data set, sends `+FULLRESYNC` and the RDB. Returns the
/// feed and whether EOF framing was used.
async fn full_sync<S>(
    shared: &Arc<Shared>,
    stream: &mut S,
    session: &Session,
    req: &SyncRequest,
    info: &ReplicaInfo,
    limits: ferrocache_commands::journal::FeedLimits,
) -> Option<(Arc<ferrocache_commands::journal::Feed>, bool)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // One snapshot at a time: wait for a running BGSAVE to finish.
    let deadline = Instant::now() + repl_timeout(shared);
    let (cap, offset, feed) = loop {
        let attached = {
            let t = Instant::now();
            let _apply = shared.repl.apply_lock.lock();
            let r = shared.journal.attach_full(
                &shared.ks,
                repl::backlog_size(shared),
                limits,
                session.id,
                || shared.ks.begin_snapshot(),
            );
            // Writes were held off for this long: the same figure a BGSAVE
            // reports in INFO persistence.
            shared
                .persist
                .last_snapshot_pause_us
                .store(t.elapsed().as_micros() as u64, Ordering::Relaxed);
            r
        };
        match attached {
            (Some(cap), offset, feed) => break (cap, offset, feed),
            (None, _, feed) => {
                shared.journal.detach(&feed);
                if Instant::now() >= deadline || session.handle.killed.load(Ordering::Acquire) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let replid = shared.replid.lock().clone();
    crate::notice!(
        "Replica {}:{} asks for synchronization; full resync, replid {replid} offset {offset}",
        info.ip,
        info.port
    );
    let eof = session.repl.capa_eof && shared.config.get_bool("repl-diskless-sync");
    if matches!(req, SyncRequest::Psync { .. })
        && stream
            .write_all(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes())
            .await
            .is_err()
    {
        shared.ks.end_snapshot(&cap);
        shared.journal.detach(&feed);
        return None;
    }
    info.state.store(STATE_SEND_BULK, Ordering::Relaxed);
    // The image is encoded on a blocking thread. With EOF framing it goes
    // out in chunks as it is produced (a bounded channel: the encoder waits
    // for the socket); with a declared length it is encoded whole first.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let s2 = shared.clone();
    let encoder = tokio::task::spawn_blocking(move || {
        let snapshot = SnapshotGuard(&s2, cap);
        let mut aux = ferrocache_commands::persist::aux_fields(&s2);
        for (k, v) in aux.iter_mut() {
            match *k {
                "repl-offset" => *v = offset.to_string().into_bytes(),
                "repl-id" => *v = s2.replid.lock().clone().into_bytes(),
                _ => {}
            }
        }
        let out = ChunkWriter {
            tx,
            buf: Vec::new(),
            chunked: eof,
        };
        let (mut out, stats) = ferrocache_persistence::file::write_capture(
            &s2.ks,
            &snapshot.1,
            out,
            &aux,
            ferrocache_commands::persist::save_options(&s2),
        )?;
        out.send()?;
        Ok::<u64, std::io::Error>(stats.bytes)
    });
    let mark = ferrocache_commands::context::random_hex40();
    let mut sent = 0u64;
    let mut ok = true;
    if eof {
        ok = stream
            .write_all(format!("$EOF:{mark}\r\n").as_bytes())
            .await
            .is_ok();
    }
    while ok {
        let chunk = tokio::select! {
            c = rx.recv() => c,
            _ = session.handle.kill_notify.notified() => { ok = false; break }
        };
        let Some(chunk) = chunk else { break };
        if !eof {
            // The whole image: its length first.
            ok = stream
                .write_all(format!("${}\r\n", chunk.len()).as_bytes())
                .await
                .is_ok();
        }
        ok = ok && stream.write_all(&chunk).await.is_ok();
        sent += chunk.len() as u64;
    }
    drop(rx);
    let encoded = matches!(encoder.await, Ok(Ok(_)));
    if ok && encoded && eof {
        ok = stream.write_all(mark.as_bytes()).await.is_ok();
    }
    if !ok || !encoded {
        shared.journal.detach(&feed);
        if !encoded {
            crate::warning!("Failed to produce the RDB for a replica");
        }
        return None;
    }
    shared
        .stats
        .total_net_output
        .fetch_add(sent, Ordering::Relaxed);
    crate::notice!(
        "Synchronization with replica {}:{} succeeded ({sent} bytes of RDB)",
        info.ip,
        info.port,
    );
    if !eof {
        info.state.store(STATE_ONLINE, Ordering::Relaxed);
    }
    Some((feed, eof))
}

/// Ends a snapshot when dropped, whatever happened to its encoding.
struct SnapshotGuard<'a>(&'a Shared, Arc<ferrocache_store::Capture>);

impl Drop for SnapshotGuard<'_> {
    fn drop(&mut self) {
        self.0.ks.end_snapshot(&self.1);
    }
}

/// Hands encoded bytes to the task writing the socket: in chunks of
/// [`CHUNK`] when `chunked`, else all at once at the end.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
    chunked: bool,
}

const CHUNK: usize = 64 * 1024;

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buf);
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::other("the replica went away"))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.chunked && self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Resolves once the feed overflowed (its replica is too far behind).
async fn overflowed(feed: &ferrocache_commands::journal::Feed) {
    loop {
        if feed.overflow.load(Ordering::Acquire) {
            return;
        }
        feed.notify.notified().await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn stream_loop<S>(
    shared: &Arc<Shared>,
    stream: &mut S,
    buf: &mut BytesMut,
    handle: &ClientHandle,
    info: &ReplicaInfo,
    feed: &Arc<ferrocache_commands::journal::Feed>,
    mut wait_first_ack: bool,
    acks: bool,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut decoder = RequestDecoder::new();
    let limits = DecodeLimits {
        max_bulk_len: 1 << 20,
        authenticated: true,
    };
    let mut args: Vec<Bytes> = Vec::new();
    let timeout = repl_timeout(shared);
    let mut last_heard = Instant::now();
    loop {
        if feed.overflow.load(Ordering::Acquire) {
            crate::warning!(
                "Client id={} addr={} (replica) closed: its output buffer limit was reached or it must resynchronize",
                handle.id,
                handle.addr
            );
            return;
        }
        if !wait_first_ack {
            let data = feed.take();
            if !data.is_empty() {
                let ok = tokio::select! {
                    r = stream.write_all(&data) => r.is_ok(),
                    _ = overflowed(feed) => false,
                    _ = handle.kill_notify.notified() => false,
                    _ = shutdown.changed() => false,
                };
                if !ok {
                    return;
                }
                shared
                    .stats
                    .total_net_output
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                continue;
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        tokio::select! {
            // Let the writers running now append too: one write then
            // carries what they all produced.
            _ = feed.notify.notified() => tokio::task::yield_now().await,
            r = stream.read_buf(buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    last_heard = Instant::now();
                    shared.stats.total_net_input.fetch_add(n as u64, Ordering::Relaxed);
                }
            },
            _ = handle.kill_notify.notified() => return,
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if acks && last_heard.elapsed() > timeout {
                    crate::warning!("Replica {}:{} sent nothing within repl-timeout: disconnecting it", info.ip, info.port);
                    return;
                }
                continue;
            }
        }
        if handle.killed.load(Ordering::Acquire) {
            return;
        }
        loop {
            match decoder.decode(buf, &mut args, &limits) {
                Ok(true) => {
                    if args.len() >= 3
                        && args[0].eq_ignore_ascii_case(b"replconf")
                        && args[1].eq_ignore_ascii_case(b"ack")
                    {
                        if let Some(off) = std::str::from_utf8(&args[2])
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                        {
                            info.ack.fetch_max(off, Ordering::Relaxed);
                        }
                        info.last_ack_ms.store(unix_ms(), Ordering::Relaxed);
                        if wait_first_ack {
                            wait_first_ack = false;
                            info.state.store(STATE_ONLINE, Ordering::Relaxed);
                        }
                        shared.repl.acks.notify_waiters();
                    }
                    args.clear();
                }
                Ok(false) => break,
                Err(_) => return,
            }
        }
        if buf.len() > 1 << 20 {
            return;
        }
    }
}

/// Completes a WAIT: asks the replicas for an ACK and waits until enough
/// acknowledged the client's last write, or the timeout. Returns the count.
/// CLIENT UNBLOCK ends it early: with the count so far, or with an error.
pub async fn wait_acks(
    shared: &Shared,
    handle: &ClientHandle,
    w: WaitRequest,
) -> Result<i64, &'static str> {
    let unblock = Arc::new(repl::WaitUnblock::default());
    shared
        .repl
        .waiting
        .lock()
        .insert(handle.id, unblock.clone());
    handle.blocked.store(true, Ordering::Relaxed);
    let r = wait_acks_inner(shared, handle, w, &unblock).await;
    handle.blocked.store(false, Ordering::Relaxed);
    shared.repl.waiting.lock().remove(&handle.id);
    r
}

async fn wait_acks_inner(
    shared: &Shared,
    handle: &ClientHandle,
    w: WaitRequest,
    unblock: &repl::WaitUnblock,
) -> Result<i64, &'static str> {
    let deadline = (w.timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(w.timeout_ms));
    shared.journal.feed_raw(GETACK);
    loop {
        match unblock.how.load(Ordering::Acquire) {
            repl::UNBLOCK_TIMEOUT => return Ok(shared.repl.count_acked(w.offset) as i64),
            repl::UNBLOCK_ERROR => return Err(ferrocache_commands::errors::UNBLOCKED),
            _ => {}
        }
        let notified = shared.repl.acks.notified();
        let n = shared.repl.count_acked(w.offset);
        if n >= w.numreplicas {
            return Ok(n as i64);
        }
        let sleep = match deadline {
            Some(d) if Instant::now() >= d => return Ok(n as i64),
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(sleep.min(Duration::from_millis(100))) => {}
            _ = unblock.notify.notified() => {}
            _ = handle.kill_notify.notified() => return Ok(n as i64),
        }
    }
}

/// The master's cron part: a PING into the stream every
/// `repl-ping-replica-period` seconds while replicas are attached.
pub fn cron(shared: &Shared) {
    // No PING while writes are paused (FAILOVER waits for the offsets to
    // meet; CLIENT PAUSE WRITE keeps the stream still).
    if shared.repl.is_replica() || shared.journal.feeds() == 0 || shared.pause.holds(true).is_some()
    {
        return;
    }
    let period = shared
        .config
        .get_i64("repl-ping-replica-period")
        .unwrap_or(10)
        .max(1) as u64
        * 1000;
    let now = unix_ms();
    let last = shared.repl.last_ping_ms.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= period {
        shared.repl.last_ping_ms.store(now, Ordering::Relaxed);
        shared.journal.feed_raw(PING);
    }
}

// ---------------------------------------------------------------------------
// Replica side

/// Installs the link starter and, with `replicaof` set, starts replicating.
pub fn install(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    let rt = tokio::runtime::Handle::current();
    let _ = shared.repl.starter.set(Box::new(move |generation| {
        if let Some(shared) = weak.upgrade() {
            rt.spawn(run_link(shared, generation));
        }
    }));
    let weak = Arc::downgrade(shared);
    let rt = tokio::runtime::Handle::current();
    let _ = shared.repl.failover_starter.set(Box::new(move |req| {
        if let Some(shared) = weak.upgrade() {
            rt.spawn(run_failover(shared, req));
        }
    }));
    let conf = shared.config.get("replicaof").unwrap_or_default();
    let mut words = conf.split_whitespace();
    if let (Some(host), Some(port)) = (words.next(), words.next()) {
        if let Ok(port) = port.parse::<u16>() {
            repl::become_replica(
                shared,
                repl::MasterAddr {
                    host: host.to_string(),
                    port,
                },
            );
        }
    }
}

/// FAILOVER on a master: with writes paused, waits for the target (or the
/// first replica) to acknowledge the whole stream, then becomes a replica
/// of it and sends `PSYNC <replid> <offset> FAILOVER`, which makes it the
/// master. The link task finishes the handover (see [`follow`]).
async fn run_failover(shared: Arc<Shared>, req: repl::FailoverRequest) {
    let r = &shared.repl;
    let target = loop {
        if r.failover_abort.swap(false, Ordering::AcqRel) {
            repl::end_failover(&shared, "FAILOVER aborted");
            return;
        }
        let offset = shared.journal.offset();
        let caught_up = r
            .replicas
            .lock()
            .iter()
            .filter(|x| {
                req.target
                    .as_ref()
                    .is_none_or(|t| t.host == x.ip && t.port == x.port)
            })
            .find(|x| {
                x.state.load(Ordering::Relaxed) == STATE_ONLINE
                    && x.ack.load(Ordering::Relaxed) >= offset
            })
            .map(|x| repl::MasterAddr {
                host: x.ip.clone(),
                port: x.port,
            });
        if let Some(t) = caught_up {
            break t;
        }
        if req.deadline_ms > 0 && unix_ms() >= req.deadline_ms {
            match (&req.target, req.force) {
                (Some(t), true) => break t.clone(),
                _ => {
                    repl::end_failover(&shared, "FAILOVER timed out waiting for a replica");
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    crate::notice!("FAILOVER: handing over to {}:{}", target.host, target.port);
    r.failover_state
        .store(repl::FAILOVER_IN_PROGRESS, Ordering::Release);
    r.failover_psync.store(true, Ordering::Release);
    r.has_history.store(true, Ordering::Relaxed);
    repl::become_replica(&shared, target);
}

fn current(shared: &Shared, generation: u64) -> bool {
    shared.repl.generation.load(Ordering::Acquire) == generation
}

/// The link to the master, reconnecting every second while this server
/// is a replica of the same generation.
async fn run_link(shared: Arc<Shared>, generation: u64) {
    while current(&shared, generation) {
        let Some(addr) = shared.repl.master.lock().clone() else {
            return;
        };
        shared
            .repl
            .link_state
            .store(LINK_CONNECTING, Ordering::Relaxed);
        crate::notice!("Connecting to the master {}:{}", addr.host, addr.port);
        let connected = tokio::time::timeout(
            repl_timeout(&shared),
            TcpStream::connect((addr.host.as_str(), addr.port)),
        )
        .await;
        match connected {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                let local = stream
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let id = shared.clients.next_id();
                let handle = Arc::new(ClientHandle::new(
                    id,
                    format!("{}:{}", addr.host, addr.port),
                    local,
                    false,
                ));
                handle.role.store(ROLE_MASTER, Ordering::Relaxed);
                shared.clients.register(handle.clone());
                let mut link = Link {
                    stream,
                    buf: BytesMut::with_capacity(16 * 1024),
                    timeout: repl_timeout(&shared),
                };
                let result = follow(&shared, generation, &mut link, &handle).await;
                shared.clients.unregister(id);
                if let Err(e) = result {
                    crate::warning!(
                        "Replication link with the master {}:{} failed: {e}",
                        addr.host,
                        addr.port
                    );
                }
            }
            Ok(Err(e)) => crate::warning!("Error condition on socket for SYNC: {e}"),
            Err(_) => crate::warning!("Timeout connecting to the MASTER..."),
        }
        if !current(&shared, generation) {
            return;
        }
        shared
            .repl
            .link_state
            .store(LINK_CONNECT, Ordering::Relaxed);
        if shared.repl.down_since_ms.load(Ordering::Relaxed) == 0 {
            shared
                .repl
                .down_since_ms
                .store(unix_ms(), Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

struct Link {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl Link {
    async fn fill(&mut self) -> Result<(), String> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(64 * 1024);
        }
        match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
            Ok(Ok(0)) => Err("connection closed by the master".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timeout reading from the master".into()),
        }
    }

    /// One line (without CRLF); empty lines (keep-alive newlines) skipped.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(pos + 1);
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                if !text.is_empty() {
                    return Ok(text);
                }
            }
            if self.buf.len() > MAX_LINE {
                return Err("line from master too long".into());
            }
            self.fill().await?;
        }
    }

    async fn command(&mut self, args: &[&[u8]]) -> Result<String, String> {
        self.send(args).await?;
        self.line().await
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut out = Vec::new();
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        tokio::time::timeout(self.timeout, self.stream.write_all(&out))
            .await
            .map_err(|_| "timeout writing to the master".to_string())?
            .map_err(|e| e.to_string())
    }

    /// The RDB payload after `+FULLRESYNC`, in either framing.
    async fn rdb(&mut self) -> Result<Vec<u8>, String> {
        let head = self.line().await?;
        if let Some(e) = head.strip_prefix('-') {
            return Err(format!("master aborted the sync: {e}"));
        }
        let Some(spec) = head.strip_prefix('$') else {
            return Err(format!("bad protocol from master: {head}"));
        };
        if let Some(mark) = spec.strip_prefix("EOF:") {
            let mark = mark.as_bytes().to_vec();
            if mark.len() != 40 {
                return Err("bad EOF mark from master".into());
            }
            let mut data: Vec<u8> = Vec::new();
            loop {
                let searched = data.len().saturating_sub(mark.len());
                data.extend_from_slice(&self.buf);
                self.buf.clear();
                if let Some(pos) = data[searched..]
                    .windows(mark.len())
                    .position(|w| w == &mark[..])
                {
                    let end = searched + pos;
                    // Bytes after the mark are the stream.
                    let rest = data.split_off(end + mark.len());
                    data.truncate(end);
                    self.buf.extend_from_slice(&rest);
                    return Ok(data);
                }
                self.fill().await?;
            }
        }
        let len: usize = spec
            .parse()
            .map_err(|_| format!("bad RDB length from master: {spec}"))?;
        let mut data: Vec<u8> = Vec::new();
        loop {
            let take = (len - data.len()).min(self.buf.len());
            data.extend_from_slice(&self.buf[..take]);
            self.buf.advance(take);
            if data.len() == len {
                return Ok(data);
            }
            self.fill().await?;
        }
    }
}

/// One connection to the master: handshake, sync, stream.
async fn follow(
    shared: &Arc<Shared>,
    generation: u64,
    link: &mut Link,
    handle: &Arc<ClientHandle>,
) -> Result<(), String> {
    let r = &shared.repl;
    r.link_state.store(LINK_HANDSHAKE, Ordering::Relaxed);
    let pong = link.command(&[b"PING"]).await?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("error reply to PING from master: {pong}"));
    }
    let auth = shared.config.get("masterauth").unwrap_or_default();
    if !auth.is_empty() {
        let user = shared.config.get("masteruser").unwrap_or_default();
        let reply = if user.is_empty() {
            link.command(&[b"AUTH", auth.as_bytes()]).await?
        } else {
            link.command(&[b"AUTH", user.as_bytes(), auth.as_bytes()])
                .await?
        };
        if reply.starts_with('-') {
            return Err(format!("unable to AUTH to MASTER: {reply}"));
        }
    }
    let port = shared
        .config
        .get_i64("replica-announce-port")
        .filter(|p| *p > 0)
        .unwrap_or(*shared.port.lock() as i64);
    let reply = link
        .command(&[b"REPLCONF", b"listening-port", port.to_string().as_bytes()])
        .await?;
    if reply.starts_with('-') {
        crate::notice!(
            "(Non critical) Master does not understand REPLCONF listening-port: {reply}"
        );
    }
    let ip = shared.config.get("replica-announce-ip").unwrap_or_default();
    if !ip.is_empty() {
        link.command(&[b"REPLCONF", b"ip-address", ip.as_bytes()])
            .await?;
    }
    link.command(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    let offset = shared.journal.offset();
    let history = r.has_history.load(Ordering::Relaxed) || offset > 0;
    let (id, from) = if history {
        (shared.replid.lock().clone(), (offset + 1).to_string())
    } else {
        ("?".to_string(), "-1".to_string())
    };
    let failover = r.failover_psync.swap(false, Ordering::AcqRel);
    let reply = if failover {
        link.command(&[b"PSYNC", id.as_bytes(), from.as_bytes(), b"FAILOVER"])
            .await
    } else {
        link.command(&[b"PSYNC", id.as_bytes(), from.as_bytes()])
            .await
    };
    if failover {
        match &reply {
            Ok(text) if text.starts_with('+') => {
                repl::end_failover(shared, "FAILOVER: the new master accepted the handover");
            }
            _ => {
                repl::rollback_failover(shared);
                return Ok(());
            }
        }
    }
    let reply = reply?;
    if !current(shared, generation) {
        return Ok(());
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut words = rest.split_whitespace();
        let (Some(replid), Some(off)) = (words.next(), words.next()) else {
            return Err(format!("bad FULLRESYNC reply: {reply}"));
        };
        let off: u64 = off
            .parse()
            .map_err(|_| format!("bad FULLRESYNC offset: {reply}"))?;
        if replid.len() != 40 {
            return Err(format!("bad FULLRESYNC replid: {reply}"));
        }
        r.link_state.store(LINK_SYNC, Ordering::Relaxed);
        crate::notice!("Full resync from master: {replid}:{off}");
        let data = link.rdb().await?;
        if !current(shared, generation) {
            return Ok(());
        }
        let s2 = shared.clone();
        let replid = replid.to_string();
        let loaded = tokio::task::spawn_blocking(move || {
            let _apply = s2.repl.apply_lock.lock();
            // Clients get -LOADING while the master's image replaces ours,
            // as they do at start-up.
            let ps = &s2.persist;
            ps.loading_progress
                .total
                .store(data.len() as u64, Ordering::Relaxed);
            ps.loading_started.store(
                ferrocache_commands::context::unix_ms() / 1000,
                Ordering::Relaxed,
            );
            ps.loading.store(true, Ordering::Release);
            drop(s2.ks.flush_all());
            let result = ferrocache_persistence::file::load_bytes_with_progress(
                &s2.ks,
                &data,
                &ferrocache_commands::persist::load_options(&s2),
                0,
                &ps.loading_progress.loaded,
            );
            ps.loading.store(false, Ordering::Release);
            *s2.replid.lock() = replid;
            *s2.replid2.lock() = "0".repeat(40);
            s2.repl.second_offset.store(-1, Ordering::Relaxed);
            s2.journal.reset_to(&s2.ks, off, repl::backlog_size(&s2));
            result
        })
        .await
        .map_err(|e| e.to_string())?;
        let stats = loaded.map_err(|e| format!("failed loading the RDB from master: {e}"))?;
        crate::notice!(
            "Full sync from the master loaded ({} keys)",
            stats.keys_loaded
        );
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        if new_id.len() == 40 && *shared.replid.lock() != new_id {
            // The master's history goes on under a new id (it was
            // promoted): ours does too, the old id valid up to here.
            let old = std::mem::replace(&mut *shared.replid.lock(), new_id.to_string());
            *shared.replid2.lock() = old;
            r.second_offset
                .store(shared.journal.offset() as i64 + 1, Ordering::Relaxed);
            shared.journal.close_feeds();
        }
        shared
            .journal
            .ensure_backlog_on(&shared.ks, repl::backlog_size(shared));
        crate::notice!("Successful partial resynchronization with master.");
    } else {
        return Err(format!("unexpected reply to PSYNC from master: {reply}"));
    }
    r.has_history.store(true, Ordering::Relaxed);
    r.link_state.store(LINK_CONNECTED, Ordering::Relaxed);
    r.down_since_ms.store(0, Ordering::Relaxed);
    r.last_io_ms.store(unix_ms(), Ordering::Relaxed);
    crate::notice!("In sync with the master: the stream follows.");
    apply_stream(shared, generation, link, handle).await
}

/// Applies the master's stream until the link ends.
async fn apply_stream(
    shared: &Arc<Shared>,
    generation: u64,
    link: &mut Link,
    handle: &Arc<ClientHandle>,
) -> Result<(), String> {
    let mut session = Session::new(handle.clone(), true);
    session.repl.is_master = true;
    let mut decoder = RequestDecoder::new();
    let max_bulk = shared
        .config
        .get_i64("proto-max-bulk-len")
        .unwrap_or(512 << 20);
    let limits = DecodeLimits {
        max_bulk_len: max_bulk,
        authenticated: true,
    };
    let mut args: Vec<Bytes> = Vec::new();
    let mut out = BytesMut::new();
    // The stream's bytes as received, cut per command to feed them on.
    let mut raw = BytesMut::new();
    raw.extend_from_slice(&link.buf);
    let mut shutdown = shared.shutdown.subscribe();
    send_ack(shared, link).await?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        // Everything complete in the buffer.
        loop {
            match decoder.decode(&mut link.buf, &mut args, &limits) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(format!("protocol error from master: {e:?}")),
            }
            let used = raw.len() - link.buf.len();
            let bytes = raw.split_to(used);
            let getack = args.len() >= 2
                && args[0].eq_ignore_ascii_case(b"replconf")
                && args[1].eq_ignore_ascii_case(b"getack");
            if getack {
                // The ACK reports the offset before the GETACK itself.
                send_ack(shared, link).await?;
            }
            {
                // REPLCONF is not run; every byte is fed on all the same.
                let _apply = shared.repl.apply_lock.lock();
                if args
                    .first()
                    .is_some_and(|a| !a.eq_ignore_ascii_case(b"replconf"))
                {
                    ferrocache_commands::journal::set_from_master(true);
                    ferrocache_store::set_master_context(true);
                    out.clear();
                    dispatch::execute(shared, &mut session, &args, &mut out);
                    ferrocache_store::set_master_context(false);
                    ferrocache_commands::journal::set_from_master(false);
                }
                shared.journal.feed_raw(&bytes);
            }
            args.clear();
            if handle.killed.load(Ordering::Acquire) {
                return Ok(());
            }
        }
        if !current(shared, generation) {
            return Ok(());
        }
        if link.buf.capacity() - link.buf.len() < 4096 {
            link.buf.reserve(64 * 1024);
        }
        let before = link.buf.len();
        tokio::select! {
            r = link.stream.read_buf(&mut link.buf) => match r {
                Ok(0) => return Err("connection closed by the master".into()),
                Err(e) => return Err(e.to_string()),
                Ok(n) => {
                    raw.extend_from_slice(&link.buf[before..]);
                    shared.repl.last_io_ms.store(unix_ms(), Ordering::Relaxed);
                    shared.repl.read_offset.store(
                        shared.journal.offset() + raw.len() as u64,
                        Ordering::Relaxed,
                    );
                    shared.stats.total_net_input.fetch_add(n as u64, Ordering::Relaxed);
                }
            },
            _ = tick.tick() => {
                let idle = unix_ms().saturating_sub(shared.repl.last_io_ms.load(Ordering::Relaxed));
                if idle > link.timeout.as_millis() as u64 {
                    return Err("MASTER timeout: no data nor PING received".into());
                }
                send_ack(shared, link).await?;
            }
            _ = handle.kill_notify.notified() => return Ok(()),
            _ = shutdown.changed() => return Ok(()),
        }
        if raw.len() > max_bulk as usize + (1 << 20) {
            return Err("query buffer from master too large".into());
        }
    }
}

async fn send_ack(shared: &Shared, link: &mut Link) -> Result<(), String> {
    let off = shared.journal.offset().to_string();
    link.send(&[b"REPLCONF", b"ACK", off.as_bytes()]).await
}
