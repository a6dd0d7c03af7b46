//! The RDB loader and the DUMP payload parser on arbitrary bytes: any input
//! must end in a load or an error, never a panic or an allocation beyond
//! what the input can justify.

#![no_main]

use ferrocache_persistence::file::load_bytes;
use ferrocache_persistence::rdb::reader::{parse_dump_payload, Options};
use ferrocache_store::Keyspace;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        verify_checksum: false,
        ..Options::default()
    };
    let ks = Keyspace::new(16);
    let _ = load_bytes(&ks, data, &opts, 0);
    let _ = parse_dump_payload(data, &opts);
});
