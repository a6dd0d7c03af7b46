//! Round trips through the writer and reader, and corrupt input.

use super::encoding;
use super::reader::{parse_dump_payload, read_file, Event, Loaded, Options, Reader};
use super::writer::{dump_payload, Enc, FileWriter};
use super::*;
use ferrocache_store::hash::Limits;
use ferrocache_store::list::{End, List, NodeLimit};
use ferrocache_store::{Hash, Set, Value};

/// Key, value and expiry.
type Sample = (Vec<u8>, Value, Option<u64>);
/// Database, key, value and expiry.
type Read = (usize, Vec<u8>, Value, Option<u64>);

fn sample_values() -> Vec<Sample> {
    let mut out = vec![(b"int".to_vec(), Value::string(b"12345"), None)];
    out.push((
        b"bigint".to_vec(),
        Value::string(b"-9223372036854775808"),
        None,
    ));
    out.push((
        b"str".to_vec(),
        Value::string(b"hello"),
        Some(4_102_444_800_000),
    ));
    out.push((b"lzf".to_vec(), Value::string(&[b'a'; 500]), None));
    out.push((b"empty".to_vec(), Value::string(b""), None));
    let mut small = List::new();
    for i in 0..10 {
        small.push(End::Right, format!("e{i}").as_bytes(), NodeLimit::default());
    }
    small.push(End::Right, b"77", NodeLimit::default());
    out.push((b"list".to_vec(), Value::List(Box::new(small)), None));
    let mut big = List::new();
    for i in 0..5000 {
        big.push(
            End::Right,
            format!("element-{i}").as_bytes(),
            NodeLimit::default(),
        );
    }
    big.push(End::Left, &[b'z'; 20_000], NodeLimit::default());
    out.push((b"biglist".to_vec(), Value::List(Box::new(big)), None));
    let mut ints = Set::new();
    for i in [5i64, -3, 70000, 1 << 40] {
        ints.add(i.to_string().as_bytes(), 512);
    }
    out.push((b"intset".to_vec(), Value::Set(ints), None));
    let mut strs = Set::new();
    for m in ["a", "b", "c"] {
        strs.add(m.as_bytes(), 512);
    }
    out.push((b"set".to_vec(), Value::Set(strs), None));
    let mut h = Hash::new();
    h.set(b"f1", b"v1", Limits::default());
    h.set(b"n", b"-42", Limits::default());
    out.push((b"hash".to_vec(), Value::Hash(h), None));
    let mut ht = Hash::new();
    for i in 0..1000 {
        ht.set(
            format!("f{i}").as_bytes(),
            format!("v{i}").as_bytes(),
            Limits::default(),
        );
    }
    out.push((b"bighash".to_vec(), Value::Hash(ht), None));
    out
}

fn write_file(compression: bool, checksum: bool) -> Vec<u8> {
    write_values(sample_values(), compression, checksum)
}

/// A file without the big values, for tests that parse it thousands of
/// times.
fn small_file(checksum: bool) -> Vec<u8> {
    let vals = sample_values()
        .into_iter()
        .filter(|(k, _, _)| !k.starts_with(b"big"))
        .collect();
    write_values(vals, true, checksum)
}

fn write_values(vals: Vec<Sample>, compression: bool, checksum: bool) -> Vec<u8> {
    let mut w = FileWriter::new(Vec::new(), compression).expect("vec");
    w.aux("redis-ver", b"7.0.15").expect("vec");
    w.aux("redis-bits", b"64").expect("vec");
    w.select_db(0, vals.len(), 1).expect("vec");
    for (k, v, e) in &vals {
        w.entry(k, v.as_ref(), *e).expect("vec");
    }
    w.select_db(3, 1, 0).expect("vec");
    w.entry(b"other", Value::string(b"db3").as_ref(), None)
        .expect("vec");
    w.finish(checksum).expect("vec")
}

fn read_all(buf: &[u8]) -> Result<Vec<Read>> {
    let mut got = Vec::new();
    read_file(buf, &Options::default(), |event| {
        let Event::Record(rec) = event else {
            return Ok(());
        };
        match rec.value {
            Loaded::Value(v) => got.push((rec.db, rec.key.into_owned(), v, rec.expire_at)),
            other => return Err(format!("unexpected {other:?}")),
        }
        Ok(())
    })?;
    Ok(got)
}

#[test]
fn file_round_trips_every_type_with_and_without_compression() {
    for compression in [true, false] {
        let buf = write_file(compression, true);
        let got = read_all(&buf).expect("loads");
        let want = sample_values();
        assert_eq!(got.len(), want.len() + 1);
        for ((db, k, v, e), (wk, wv, we)) in got.iter().zip(&want) {
            assert_eq!(*db, 0);
            assert_eq!(k, wk);
            assert_eq!(v, wv, "{}", String::from_utf8_lossy(k));
            assert_eq!(v.encoding_name(), wv.encoding_name());
            assert_eq!(e, we);
        }
        assert_eq!(got[want.len()].0, 3);
    }
    assert!(write_file(true, true).len() < write_file(false, true).len());
}

#[test]
fn zero_checksum_is_not_verified_and_a_wrong_one_is() {
    let buf = write_file(true, false);
    assert_eq!(&buf[buf.len() - 8..], &[0; 8]);
    read_all(&buf).expect("a zero checksum is accepted");
    let mut bad = write_file(true, true);
    let n = bad.len();
    bad[n - 1] ^= 1;
    let e = read_all(&bad).expect_err("wrong checksum");
    assert!(e.reason.contains("checksum"), "{e}");
    assert_eq!(e.offset, n - 8);
}

#[test]
fn large_files_checksum_in_parallel_with_the_same_verdicts() {
    // Over a megabyte of incompressible strings, so the checksum runs on
    // its own thread.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let vals: Vec<Sample> = (0..3000)
        .map(|i| {
            let v: Vec<u8> = (0..600)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            (
                format!("k{i}").into_bytes(),
                Value::Str(ferrocache_store::StrValue::raw(v)),
                None,
            )
        })
        .collect();
    let good = write_values(vals, false, true);
    assert!(good.len() > 1 << 20);
    assert_eq!(
        read_all(&good).expect("loads").len(),
        3001,
        "3000 keys and write_values' own"
    );
    // A flipped byte in the body, and one in the checksum itself.
    for at in [good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        let e = read_all(&bad).expect_err("wrong checksum");
        assert!(e.reason.contains("checksum"), "{e}");
        assert_eq!(e.offset, good.len() - 8);
    }
    // Bytes after the checksum: the parallel guess misses, the file is
    // still checked (and its checksum is right).
    let mut longer = good.clone();
    longer.extend_from_slice(b"trailing");
    assert_eq!(read_all(&longer).expect("loads").len(), 3001);
}

#[test]
fn dump_payload_round_trips_and_checks_its_footer() {
    for (_, v, _) in sample_values() {
        let p = dump_payload(v.as_ref(), true);
        match parse_dump_payload(&p, &Options::default()) {
            Some(Ok(Loaded::Value(back))) => assert_eq!(back, v),
            other => panic!("{other:?}"),
        }
        let mut bad = p.clone();
        bad[0] ^= 0x40;
        assert!(parse_dump_payload(&bad, &Options::default()).is_none());
        let mut newer = p[..p.len() - 10].to_vec();
        newer.extend_from_slice(&(RDB_VERSION + 1).to_le_bytes());
        let crc = crate::crc64::crc64(&newer);
        newer.extend_from_slice(&crc.to_le_bytes());
        assert!(parse_dump_payload(&newer, &Options::default()).is_none());
    }
}

#[test]
fn string_encodings_match_redis() {
    let enc = |s: &[u8]| {
        let mut e = Enc::new(true);
        e.string(s);
        e.buf
    };
    assert_eq!(enc(b"12"), vec![0xC0, 12]);
    assert_eq!(enc(b"-300"), vec![0xC1, 0xD4, 0xFE]);
    assert_eq!(enc(b"100000"), vec![0xC2, 0xA0, 0x86, 0x01, 0x00]);
    assert_eq!(enc(b"012"), vec![3, b'0', b'1', b'2']);
    assert_eq!(enc(b"12345678901"), {
        let mut v = vec![11];
        v.extend_from_slice(b"12345678901");
        v
    });
    assert_eq!(enc(&[b'x'; 30])[0], 0xC3);
    let mut r = Reader::new(&[0x40, 0x80]);
    assert_eq!(r.length().expect("14-bit"), 0x80);
}

#[test]
fn sets_and_hashes_follow_the_configured_limits_on_load() {
    let mut ints = Set::new();
    for i in 0..10 {
        ints.add(i.to_string().as_bytes(), 512);
    }
    let p = dump_payload(Value::Set(ints).as_ref(), false);
    let opts = Options {
        max_intset: 5,
        list_limit: NodeLimit::default(),
        hash_limits: Limits {
            max_entries: 1,
            max_value: 64,
        },
        verify_checksum: true,
        zset_limits: Default::default(),
    };
    match parse_dump_payload(&p, &opts) {
        Some(Ok(Loaded::Value(v))) => assert_eq!(v.encoding_name(), "hashtable"),
        other => panic!("{other:?}"),
    }
    let mut h = Hash::new();
    h.set(b"a", b"1", Limits::default());
    h.set(b"b", b"2", Limits::default());
    let p = dump_payload(Value::Hash(h).as_ref(), false);
    match parse_dump_payload(&p, &opts) {
        Some(Ok(Loaded::Value(v))) => assert_eq!(v.encoding_name(), "hashtable"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn zset_encodings_decode_to_pairs() {
    // ZSET_2: count, member, binary score.
    let mut e = Enc::new(false);
    e.byte(TYPE_ZSET_2);
    e.len(2);
    e.string(b"a");
    e.buf.extend_from_slice(&1.5f64.to_le_bytes());
    e.string(b"b");
    e.buf.extend_from_slice(&f64::INFINITY.to_le_bytes());
    let mut r = Reader::new(&e.buf);
    let ty = r.u8().expect("type");
    assert_eq!(
        r.object(ty, &Options::default()).expect("zset"),
        Loaded::ZSet(vec![(b"a".to_vec(), 1.5), (b"b".to_vec(), f64::INFINITY)])
    );
    // ZSET_LISTPACK: member, score, member, score.
    let mut lp = encoding::ListpackWriter::new();
    for s in ["m1", "3", "m2", "2.25"] {
        lp.push(s.as_bytes());
    }
    let mut e = Enc::new(false);
    e.string(&lp.finish());
    let mut r = Reader::new(&e.buf);
    assert_eq!(
        r.object(TYPE_ZSET_LISTPACK, &Options::default())
            .expect("zset"),
        Loaded::ZSet(vec![(b"m1".to_vec(), 3.0), (b"m2".to_vec(), 2.25)])
    );
}

/// Every truncation and thousands of bit flips of a valid file must end in
/// an error or a load, never a panic or a runaway allocation.
#[test]
fn truncated_and_bit_flipped_files_never_panic() {
    let buf = small_file(false);
    for cut in (0..buf.len()).chain(buf.len() - 9..buf.len()) {
        let e = read_all(&buf[..cut]).expect_err("truncated file");
        assert!(e.offset <= cut, "offset {} past the end {cut}", e.offset);
    }
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut bad = buf.clone();
        for _ in 0..1 + next() % 3 {
            let i = (next() % bad.len() as u64) as usize;
            bad[i] ^= 1 << (next() % 8);
        }
        let _ = read_all(&bad);
    }
    // With checksums on, any flip in the body is caught.
    let buf = small_file(true);
    for i in 9..buf.len() - 9 {
        let mut bad = buf.clone();
        bad[i] ^= 0x10;
        assert!(read_all(&bad).is_err(), "flip at {i} accepted");
    }
}

#[test]
fn huge_declared_lengths_fail_without_allocating() {
    // A list claiming 2^62 elements, a string claiming 4 GB.
    let mut e = Enc::new(false);
    e.len(1 << 62);
    let mut r = Reader::new(&e.buf);
    assert!(r.object(TYPE_LIST, &Options::default()).is_err());
    let mut e = Enc::new(false);
    e.len(u32::MAX as u64);
    let mut r = Reader::new(&e.buf);
    let err = r.string().expect_err("too long");
    assert!(err.reason.contains("exceeds"), "{err}");
}

#[test]
fn a_lying_key_count_sizes_tables_by_the_file_not_by_the_claim() {
    let mut w = FileWriter::new(Vec::new(), true).expect("vec");
    // RESIZEDB claims 2^40 keys; the file holds two.
    w.select_db(0, 1 << 40, 0).expect("vec");
    w.entry(b"a", Value::string(b"1").as_ref(), None)
        .expect("vec");
    w.entry(b"b", Value::string(b"2").as_ref(), None)
        .expect("vec");
    let buf = w.finish(true).expect("vec");
    let ks = ferrocache_store::Keyspace::new(16);
    let stats = crate::file::load_bytes(&ks, &buf, &Options::default(), 0).expect("loads");
    assert_eq!(stats.keys_loaded, 2);
    assert_eq!(ks.db_size(0), 2);
}
