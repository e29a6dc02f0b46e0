//! Protobuf event messages (length-prefixed pieces of the input): decode or
//! reject, never panic; what decodes drives an engine as in `json_events`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_codec::proto::decode_event;

fuzz_target!(|data: &[u8]| {
    let events: Vec<_> = vigil_fuzz::pieces(data)
        .into_iter()
        .filter_map(|m| decode_event(m).ok())
        .collect();
    let mut engine = vigil_fuzz::engine();
    vigil_fuzz::drive(&mut engine, events);
    vigil_fuzz::checkpoint_round_trip(&mut engine);
});
