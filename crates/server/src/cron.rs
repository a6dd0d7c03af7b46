//! Periodic background work (Redis's `serverCron`), run `hz` times a second.
//!
//! Active expiry follows Redis's adaptive scheme: each tick visits a bounded
//! number of buckets per database and keeps going while more than a tenth of
//! the volatile keys it met had expired, within a time budget of a quarter of
//! the tick, so millions of untouched expired keys are reclaimed without
//! stalling clients.

use ferrocache_commands::context::unix_ms;
use ferrocache_commands::Shared;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Buckets visited per database per pass.
const BUCKETS_PER_PASS: usize = 20 * ferrocache_store::SHARDS_PER_DB / 4;

pub async fn run(shared: Arc<Shared>) {
    loop {
        let hz = shared.config.get_i64("hz").unwrap_or(10).clamp(1, 500) as u64;
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        ferrocache_commands::context::resync_clock();
        shared.stats.sample_instantaneous();
        ferrocache_commands::persist::cron(&shared);
        crate::replication::cron(&shared);
        // No keys expire in the background while writes are paused
        // (CLIENT PAUSE), so a paused server's data set stays still.
        if shared
            .active_expire
            .load(std::sync::atomic::Ordering::Relaxed)
            && shared.pause.holds(true).is_none()
        {
            active_expire(&shared, period / 4);
        }
        tokio::task::yield_now().await;
    }
}

fn active_expire(shared: &Shared, budget: Duration) {
    let started = Instant::now();
    let effort = shared
        .config
        .get_i64("active-expire-effort")
        .unwrap_or(1)
        .clamp(1, 10) as usize;
    for db in 0..shared.ks.databases() {
        loop {
            // Never between two commands of a transaction; while one (or
            // a script) runs, skip this round rather than block a worker.
            let Some(gate) = shared.gate.try_shared() else {
                return;
            };
            // Expired keys' DELs are journaled in order with the writes.
            let section = ferrocache_commands::journal::for_background(shared);
            let (sampled, expired) =
                shared
                    .ks
                    .active_expire_db(db, BUCKETS_PER_PASS * effort, unix_ms());
            drop(section);
            drop(gate);
            // Stop when few of the sampled keys were stale, or out of time.
            if sampled == 0 || expired * 10 <= sampled || started.elapsed() >= budget {
                break;
            }
        }
        if started.elapsed() >= budget {
            break;
        }
    }
}
