//! Engine settings, as an operator may write them or reload them live:
//! any setting the checks accept must run, whatever the events, without a
//! panic, and a checkpoint taken under it must restore unchanged. What the
//! checks refuse, `Engine::new` and a live reconfiguration refuse too.
//!
//! The input edits the default settings (see `vigil_fuzz::settings`), so
//! the fuzzer explores settings one key at a time from a valid start rather
//! than guessing the whole shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_domain::{Engine, EngineConfig};

fuzz_target!(|data: &[u8]| {
    let Some(cfg) = vigil_fuzz::settings::edit(data) else {
        return;
    };
    let events = vigil_fuzz::settings::events();
    let valid = cfg.validate();
    let started = Engine::new(cfg.clone());
    assert_eq!(
        valid.is_ok(),
        started.is_ok(),
        "the checks and the engine disagree: {valid:?}"
    );
    let Ok(mut engine) = started else {
        return;
    };
    vigil_fuzz::drive(&mut engine, events.iter().cloned());
    vigil_fuzz::checkpoint_round_trip(&mut engine);

    // Reloaded halfway, as `[engine]` reloads between batches.
    let mut live = vigil_fuzz::engine();
    let (before, after) = events.split_at(events.len() / 2);
    let mut out = Vec::new();
    for e in before.iter().cloned() {
        let _ = live.ingest(e, &mut out);
    }
    if EngineConfig::default().check_live_change(&cfg).is_ok() {
        live.reconfigure(cfg)
            .expect("settings the checks accept are applied live");
    }
    vigil_fuzz::drive(&mut live, after.iter().cloned());
    vigil_fuzz::checkpoint_round_trip(&mut live);
});
