//! The keyspace without the network: lock the key's shard, then read or write.
//!
//! `cargo bench --bench keyspace`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrocache_store::{Keyspace, StrRef, StrValue, Value};
use std::time::Duration;

const KEYS: u64 = 100_000;
const NOW: u64 = 1_700_000_000_000;

fn key(i: u64) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

fn filled() -> Keyspace {
    let ks = Keyspace::new(16);
    let value = [b'v'; 100];
    for i in 0..KEYS {
        let k = key(i);
        ks.lock(0, &k, NOW)
            .insert(0, &k, Value::string(&value), None);
    }
    ks
}

fn keyspace(c: &mut Criterion) {
    let ks = filled();
    let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
    let value = [b'w'; 100];
    let mut g = c.benchmark_group("keyspace");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(1));

    let mut i = 0usize;
    g.bench_function("get_hit_100b", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            let k = &keys[i];
            let mut l = ks.lock(0, k, NOW);
            let e = l.get(0, k).expect("loaded key");
            black_box(e.value().as_str().map(|s| s.len()));
        })
    });
    g.bench_function("get_miss", |b| {
        b.iter(|| {
            let k = black_box(b"missing:key".as_slice());
            let mut l = ks.lock(0, k, NOW);
            black_box(l.get(0, k).is_none());
        })
    });
    g.bench_function("set_overwrite_100b", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            let k = &keys[i];
            let mut l = ks.lock(0, k, NOW);
            black_box(l.insert(0, k, Value::string(&value), None));
            l.dirty(1);
        })
    });
    let mut fresh = 0u64;
    let grow = Keyspace::new(16);
    g.bench_function("set_new_key_100b", |b| {
        b.iter(|| {
            fresh += 1;
            let k = format!("new:{fresh:012}");
            let mut l = grow.lock(0, k.as_bytes(), NOW);
            black_box(l.insert(0, k.as_bytes(), Value::string(&value), None));
        })
    });
    // INCR as the command does it: read the integer, write it back, one lock.
    let counter = b"counter";
    ks.lock(0, counter, NOW)
        .insert(0, counter, Value::string(b"0"), None);
    g.bench_function("incr", |b| {
        b.iter(|| {
            let mut l = ks.lock(0, counter, NOW);
            let e = l.get_mut(0, counter).expect("counter");
            let n = e.value().as_str().and_then(StrRef::as_i64).unwrap_or(0);
            e.set_value(Value::Str(StrValue::Int(n.wrapping_add(1))));
            l.dirty(1);
            black_box(n);
        })
    });
    g.finish();
}

criterion_group!(benches, keyspace);
criterion_main!(benches);
