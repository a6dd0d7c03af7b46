//! Feeds arbitrary bytes to the request decoder in arbitrary chunks. The
//! decoder must never panic and never hold more than the bytes it was given.
//! Run with `cargo +nightly fuzz run request_decoder` from this folder.
#![no_main]

use bytes::BytesMut;
use ferrocache_protocol::{DecodeLimits, RequestDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let chunk = (split as usize % 32) + 1;
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::new();
    let mut args = Vec::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf, &mut args, &DecodeLimits::default()) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= rest.len() + 64 * 1024);
    }
});
