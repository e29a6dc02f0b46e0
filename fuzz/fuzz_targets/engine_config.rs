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

fuzz_target!(|data: &[u8]| vigil_fuzz::settings::check(data));
