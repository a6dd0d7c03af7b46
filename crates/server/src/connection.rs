//! One client connection: read, decode every complete command, execute each,
//! and write all their replies with one syscall.
//!
//! Two pieces of server-wide state reach into this loop. CLIENT PAUSE: before
//! each command the loop checks the pause flag (one atomic load) and, when
//! the pause covers the command, sends the replies it already has and waits
//! for the deadline or CLIENT UNPAUSE; the command is held, never refused.
//! MONITOR: a monitor connection's loop also waits on its channel of monitor
//! lines and writes them as they come; it is exempt from `timeout`.

use bytes::BytesMut;
use ferrocache_commands::clients::ClientHandle;
use ferrocache_commands::dispatch;
use ferrocache_commands::{Session, Shared};
use ferrocache_protocol::{DecodeLimits, Encoder, Protocol, RequestDecoder};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;
/// Replies are flushed early once this much is pending, so a client that
/// pipelines many large reads does not grow the output buffer without bound.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// Serves one client until it disconnects, is killed, times out, breaks the
/// protocol, or the server shuts down.
pub async fn serve<S>(shared: Arc<Shared>, mut stream: S, handle: Arc<ClientHandle>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let needs_auth = !shared
        .config
        .get("requirepass")
        .unwrap_or_default()
        .is_empty();
    let mut session = Session::new(handle.clone(), !needs_auth);
    let mut shutdown = shared.shutdown.subscribe();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = BytesMut::with_capacity(READ_CHUNK);
    let mut decoder = RequestDecoder::new();
    let mut args = Vec::with_capacity(8);
    let max_bulk = shared
        .config
        .get_i64("proto-max-bulk-len")
        .unwrap_or(512 << 20);
    let qbuf_limit = shared
        .config
        .get_i64("client-query-buffer-limit")
        .unwrap_or(1 << 30) as usize;
    // The kill and shutdown waits last as long as the connection: they are
    // registered once, not once per request (each registration and removal
    // takes a lock, and the shutdown signal's lock is shared by every
    // connection). `ClientHandle::kill` wakes every waiter, so the waits
    // that blocking commands, pauses and replicas make meanwhile are woken
    // too.
    let killed = handle.kill_notify.notified();
    tokio::pin!(killed);
    let mut shutdown_rx = shutdown.clone();
    let stopping = async move {
        let _ = shutdown_rx.changed().await;
    };
    tokio::pin!(stopping);

    'conn: loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        // Monitors and subscribers are exempt from the idle timeout, as in
        // Redis.
        // Read every time round, so CONFIG SET timeout reaches open
        // connections as it does in Redis.
        let timeout = if session.monitor || ferrocache_commands::pubsub::subscribed(&session) {
            0
        } else {
            shared.tuning.timeout_secs.load(Ordering::Relaxed)
        };
        // Biased: polled in this order, with no random start. The read
        // comes first so that a request that is already there costs no
        // other poll; the kill flag and the shutdown signal are checked
        // after every read, so a client that never stops sending still
        // sees them.
        let read = tokio::select! {
            biased;
            r = stream.read_buf(&mut buf) => r,
            _ = &mut killed => break 'conn,
            _ = &mut stopping => break 'conn,
            line = monitor_line(&mut session.monitor_rx) => {
                if let Some(line) = line {
                    out.extend_from_slice(&line);
                    // Drain what else is queued, so one write carries it all.
                    if let Some(rx) = session.monitor_rx.as_mut() {
                        while out.len() < FLUSH_THRESHOLD {
                            match rx.try_recv() {
                                Ok(l) => out.extend_from_slice(&l),
                                Err(_) => break,
                            }
                        }
                    }
                }
                if !flush(&shared, &mut stream, &mut out).await {
                    break 'conn;
                }
                continue 'conn;
            }
            msg = pubsub_message(&mut session.pubsub) => {
                let Some(msg) = msg else { continue 'conn };
                let mut n = msg.len();
                out.extend_from_slice(&msg);
                if let Some(subs) = session.pubsub.as_mut() {
                    while out.len() < FLUSH_THRESHOLD {
                        match subs.rx.try_recv() {
                            Ok(m) => {
                                n += m.len();
                                out.extend_from_slice(&m);
                            }
                            Err(_) => break,
                        }
                    }
                }
                // A subscriber too slow to take its messages is closed by
                // the output buffer limit; the kill must reach it even while
                // its socket is full.
                let written = tokio::select! {
                    ok = flush(&shared, &mut stream, &mut out) => ok,
                    _ = handle.kill_notify.notified() => false,
                };
                if !written {
                    break 'conn;
                }
                if let Some(subs) = session.pubsub.as_ref() {
                    subs.mailbox
                        .written(n, shared.pubsub.limits.soft.load(Ordering::Relaxed));
                }
                continue 'conn;
            }
            _ = idle(timeout) => break 'conn,
        };
        match read {
            Ok(0) | Err(_) => break 'conn,
            Ok(n) => {
                shared
                    .stats
                    .total_net_input
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        if handle.killed.load(Ordering::Acquire) || shutdown.has_changed().unwrap_or(true) {
            break 'conn;
        }
        // Messages published before these commands were read go out ahead
        // of their replies, as in Redis.
        if let Some(subs) = session.pubsub.as_mut() {
            let mut n = 0;
            while let Ok(m) = subs.rx.try_recv() {
                n += m.len();
                out.extend_from_slice(&m);
            }
            if n > 0 {
                subs.mailbox
                    .written(n, shared.pubsub.limits.soft.load(Ordering::Relaxed));
            }
        }
        let mut close = false;
        loop {
            let limits = DecodeLimits {
                max_bulk_len: max_bulk,
                authenticated: session.authenticated,
            };
            match decoder.decode(&mut buf, &mut args, &limits) {
                Ok(true) => {
                    if shared.pause.is_active()
                        && !wait_while_paused(
                            &shared,
                            &mut session,
                            &handle,
                            &mut shutdown,
                            &args,
                            &mut stream,
                            &mut out,
                        )
                        .await
                    {
                        break 'conn;
                    }
                    dispatch::execute(&shared, &mut session, &args, &mut out);
                    args.clear();
                    if let Some(req) = session.repl.sync.take() {
                        // PSYNC/SYNC: this connection becomes a replica's.
                        durable(&shared, &mut session).await;
                        if !out.is_empty() && !flush(&shared, &mut stream, &mut out).await {
                            break 'conn;
                        }
                        crate::replication::serve_replica(
                            &shared,
                            &mut stream,
                            &mut session,
                            &mut buf,
                            req,
                            &mut shutdown,
                        )
                        .await;
                        break 'conn;
                    }
                    if let Some(w) = session.repl.wait.take() {
                        durable(&shared, &mut session).await;
                        if !out.is_empty() && !flush(&shared, &mut stream, &mut out).await {
                            break 'conn;
                        }
                        match crate::replication::wait_acks(&shared, &handle, w).await {
                            Ok(n) => Encoder::new(&mut out, session.proto).int(n),
                            Err(e) => Encoder::new(&mut out, session.proto).error(e),
                        }
                    }
                    if session.blocked.is_some()
                        && !wait_blocked(
                            &shared,
                            &mut session,
                            &handle,
                            &mut shutdown,
                            &mut stream,
                            &mut buf,
                            &mut out,
                            qbuf_limit,
                        )
                        .await
                    {
                        break 'conn;
                    }
                    if session.close_after_reply {
                        close = true;
                        break;
                    }
                    if out.len() >= FLUSH_THRESHOLD {
                        durable(&shared, &mut session).await;
                        if !flush(&shared, &mut stream, &mut out).await {
                            break 'conn;
                        }
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    Encoder::new(&mut out, session.proto).error(&e.reply_text());
                    shared.stats.record_error("ERR");
                    close = true;
                    break;
                }
            }
        }
        if buf.len() > qbuf_limit {
            crate::warning!(
                "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                handle.id,
                handle.addr,
                String::from_utf8_lossy(&buf[..buf.len().min(64)])
            );
            break 'conn;
        }
        handle.qbuf.store(buf.len(), Ordering::Relaxed);
        durable(&shared, &mut session).await;
        if !out.is_empty() && !flush(&shared, &mut stream, &mut out).await {
            break 'conn;
        }
        if close {
            break 'conn;
        }
    }
    let _ = stream.shutdown().await;
    if session.monitor {
        shared.monitors.remove(handle.id);
    }
    ferrocache_commands::multi::on_disconnect(&shared, &mut session);
    shared.clients.unregister(handle.id);
}

/// Waits while the session is blocked in BLPOP and kin, until it is
/// answered (served, or CLIENT UNBLOCK), its deadline passes, or it must
/// close. The replies it already has go out first. Bytes the client sends
/// meanwhile are read (so a closed socket is noticed, as Redis does) and
/// kept for after the answer. False when the connection must close.
#[allow(clippy::too_many_arguments)]
async fn wait_blocked<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    session: &mut Session,
    handle: &ClientHandle,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    stream: &mut S,
    buf: &mut BytesMut,
    out: &mut BytesMut,
    qbuf_limit: usize,
) -> bool {
    let Some(blocked) = session.blocked.as_ref() else {
        return true;
    };
    let waiter = blocked.waiter.clone();
    let deadline = blocked.deadline;
    let mut reply = None;
    // Replies to earlier writes go out only once they are durable.
    durable(shared, session).await;
    if out.is_empty() || flush(shared, stream, out).await {
        reply = loop {
            if let Some((r, sync)) = waiter.take_answer() {
                session.sync_to = session.sync_to.max(sync);
                break Some(r);
            }
            tokio::select! {
                _ = waiter.wake.notified() => {}
                _ = until(deadline) => break Some(waiter.expire()),
                r = stream.read_buf(buf) => match r {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => {
                        shared
                            .stats
                            .total_net_input
                            .fetch_add(n as u64, Ordering::Relaxed);
                        if buf.len() > qbuf_limit {
                            break None;
                        }
                    }
                },
                _ = handle.kill_notify.notified() => break None,
                _ = shutdown.changed() => break None,
            }
        };
    }
    ferrocache_commands::blocking::finish(shared, session);
    match reply {
        Some(r) => {
            ferrocache_commands::blocking::count_answer(shared, session, &r);
            // CLIENT REPLY OFF silences the late answer too.
            if session.reply_mode != ferrocache_commands::context::ReplyMode::Off {
                out.extend_from_slice(&r);
            }
            true
        }
        None => false,
    }
}

/// Sleeps until `deadline`; forever when there is none.
async fn until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// The next Pub/Sub message for a subscribed connection; never ready for
/// other ones.
async fn pubsub_message(
    subs: &mut Option<ferrocache_commands::pubsub::Subscriptions>,
) -> Option<bytes::Bytes> {
    match subs {
        Some(s) => s.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next line for a MONITOR connection; never ready for other ones.
async fn monitor_line(
    rx: &mut Option<tokio::sync::mpsc::Receiver<bytes::Bytes>>,
) -> Option<bytes::Bytes> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Holds a command back while CLIENT PAUSE applies to it. Replies already
/// produced are sent first. False when the connection must close instead
/// (killed, server shutting down, or the client went away).
async fn wait_while_paused<S: AsyncWrite + Unpin>(
    shared: &Shared,
    session: &mut Session,
    handle: &ClientHandle,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    args: &[bytes::Bytes],
    stream: &mut S,
    out: &mut BytesMut,
) -> bool {
    loop {
        // Created before the check, so an UNPAUSE between the check and the
        // wait still wakes us.
        let resumed = shared.pause.resumed.notified();
        let Some(until) = dispatch::paused_until(shared, args) else {
            return true;
        };
        // Replies to earlier writes go out only once they are durable.
        durable(shared, session).await;
        if !out.is_empty() && !flush(shared, stream, out).await {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = resumed => {}
            _ = handle.kill_notify.notified() => return false,
            _ = shutdown.changed() => return false,
        }
    }
}

/// With `appendfsync always`, holds replies until the AOF has made this
/// client's writes durable. One fsync serves every client waiting.
async fn durable(shared: &Shared, session: &mut ferrocache_commands::Session) {
    if session.sync_to > 0 {
        shared.journal.wait_synced(session.sync_to).await;
        session.sync_to = 0;
    }
}

async fn flush<S: AsyncWrite + Unpin>(shared: &Shared, stream: &mut S, out: &mut BytesMut) -> bool {
    let n = out.len();
    let ok = stream.write_all(out).await.is_ok();
    shared
        .stats
        .total_net_output
        .fetch_add(n as u64, Ordering::Relaxed);
    out.clear();
    // Give back memory after a very large reply.
    if out.capacity() > 4 * FLUSH_THRESHOLD {
        *out = BytesMut::with_capacity(READ_CHUNK);
    }
    ok
}

async fn idle(timeout_secs: i64) {
    if timeout_secs > 0 {
        tokio::time::sleep(Duration::from_secs(timeout_secs as u64)).await;
    } else {
        std::future::pending::<()>().await;
    }
}

/// Writes one error reply and closes: for connections refused before they
/// are served (maxclients, protected mode).
pub async fn refuse<S: AsyncWrite + Unpin>(mut stream: S, msg: &str) {
    let mut out = BytesMut::new();
    Encoder::new(&mut out, Protocol::Resp2).error(msg);
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}
