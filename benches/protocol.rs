//! RESP decoding and reply encoding, without sockets.
//!
//! `cargo bench --bench protocol`

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrocache_protocol::{DecodeLimits, Encoder, Protocol, RequestDecoder};
use std::time::Duration;

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decodes every command in `input`, returning how many there were.
fn decode_all(input: &[u8]) -> usize {
    let mut buf = BytesMut::from(input);
    let mut dec = RequestDecoder::new();
    let mut args: Vec<Bytes> = Vec::with_capacity(8);
    let limits = DecodeLimits::default();
    let mut n = 0;
    while let Ok(true) = dec.decode(&mut buf, &mut args, &limits) {
        n += 1;
        black_box(&args);
    }
    n
}

fn decode(c: &mut Criterion) {
    let value = [b'v'; 100];
    let set = command(&[b"SET", b"key:000000123456", &value]);
    let get = command(&[b"GET", b"key:000000123456"]);
    let mut g = c.benchmark_group("decode");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    g.bench_function("set_100b", |b| {
        b.iter(|| assert_eq!(decode_all(black_box(&set)), 1))
    });
    g.bench_function("get", |b| {
        b.iter(|| assert_eq!(decode_all(black_box(&get)), 1))
    });
    // A deep pipeline, as redis-benchmark -P 16 sends it, and deeper.
    for depth in [16usize, 256] {
        let pipeline: Vec<u8> = set.repeat(depth);
        g.throughput(Throughput::Elements(depth as u64));
        g.bench_function(format!("set_pipeline_{depth}"), |b| {
            b.iter(|| assert_eq!(decode_all(black_box(&pipeline)), depth))
        });
    }
    // The same pipeline arriving in 1 KiB reads: resumable decoding.
    let pipeline = set.repeat(256);
    g.throughput(Throughput::Elements(256));
    g.bench_function("set_pipeline_256_in_1k_reads", |b| {
        b.iter_batched(
            || pipeline.clone(),
            |input| {
                let mut buf = BytesMut::new();
                let mut dec = RequestDecoder::new();
                let mut args = Vec::with_capacity(8);
                let limits = DecodeLimits::default();
                let mut n = 0;
                for chunk in input.chunks(1024) {
                    buf.extend_from_slice(chunk);
                    while let Ok(true) = dec.decode(&mut buf, &mut args, &limits) {
                        n += 1;
                    }
                }
                assert_eq!(n, 256);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let value = [b'v'; 100];
    let mut g = c.benchmark_group("encode");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1));
    let mut buf = BytesMut::with_capacity(64 * 1024);
    g.throughput(Throughput::Elements(1));
    g.bench_function("ok", |b| {
        b.iter(|| {
            buf.clear();
            Encoder::new(&mut buf, Protocol::Resp2).ok();
            black_box(&buf);
        })
    });
    g.bench_function("bulk_100b", |b| {
        b.iter(|| {
            buf.clear();
            Encoder::new(&mut buf, Protocol::Resp2).bulk(black_box(&value));
            black_box(&buf);
        })
    });
    g.bench_function("int", |b| {
        b.iter(|| {
            buf.clear();
            Encoder::new(&mut buf, Protocol::Resp2).int(black_box(-1234567890));
            black_box(&buf);
        })
    });
    g.throughput(Throughput::Elements(16));
    g.bench_function("bulk_100b_x16", |b| {
        b.iter(|| {
            buf.clear();
            let mut e = Encoder::new(&mut buf, Protocol::Resp2);
            for _ in 0..16 {
                e.bulk(black_box(&value));
            }
            black_box(&buf);
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("array_of_10_bulks_resp3", |b| {
        b.iter(|| {
            buf.clear();
            let mut e = Encoder::new(&mut buf, Protocol::Resp3);
            e.array(10);
            for _ in 0..10 {
                e.bulk(black_box(&value[..20]));
            }
            black_box(&buf);
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
