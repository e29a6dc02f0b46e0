//! JSON event lines: any bytes decode to an event or a rejection, never a
//! panic; whatever decodes drives an engine, whose checkpoint must come
//! back through the changelog codec unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_codec::json::decode_event;

fuzz_target!(|data: &[u8]| {
    let events: Vec<_> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| decode_event(line).ok())
        .collect();
    let mut engine = vigil_fuzz::engine();
    vigil_fuzz::drive(&mut engine, events);
    vigil_fuzz::checkpoint_round_trip(&mut engine);
});
