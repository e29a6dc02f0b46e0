//! CRM profile records, JSON and protobuf: decode or refuse, never panic;
//! what decodes is set on an engine's profile table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_codec::output::Encoding;
use vigil_codec::retention::decode_profile;

fuzz_target!(|data: &[u8]| {
    let mut engine = vigil_fuzz::engine();
    for e in [Encoding::Json, Encoding::Protobuf] {
        if let Ok(r) = decode_profile(data, e) {
            engine.set_profile(&r.brand, &r.player_id, Some(r.profile));
        }
    }
});
