//! Changelog records as a restore reads them from the topic (pieces of the
//! input, key then value): a corrupt or hostile record is refused or
//! restored, never a panic, and the restored engine then runs eight weeks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_codec::changelog::{Entry, decode_key, decode_value};

fuzz_target!(|data: &[u8]| {
    let mut engine = vigil_fuzz::engine();
    for pair in vigil_fuzz::pieces(data).chunks(2) {
        let [key, value] = pair else { continue };
        let Ok(key) = decode_key(key) else { continue };
        match decode_value(&key, value) {
            Ok((_, Entry::Clock(c))) => engine.restore_clock(c),
            Ok((_, Entry::Player(rec))) => {
                let _ = engine.restore(*rec);
            }
            Err(_) => {}
        }
    }
    vigil_fuzz::drive(&mut engine, []);
    vigil_fuzz::checkpoint_round_trip(&mut engine);
});
