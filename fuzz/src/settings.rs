//! Engine settings made from fuzz input, and the events they are run on.
//!
//! The input is a list of edits to the default settings: each edit picks a
//! setting (a leaf of the settings as serde sees them: a number, a
//! duration or other text, a flag) and gives it a new value, from a list
//! of values that sit at the edges of what such a setting holds, or from
//! the input's own bytes. The edited settings are read back through serde,
//! as a TOML file or a reload would be, so a value of the wrong type is
//! refused there like a typo in a file.

use std::sync::OnceLock;

use serde_json::{Number, Value};
use vigil_domain::{Engine, EngineConfig, PlayerEvent};
use vigil_sim::{Population, SimConfig};

/// Bytes per edit: two to pick the setting, one for the kind of value,
/// eight for a value of the input's own.
pub const EDIT: usize = 11;

/// Numbers at the edges of what settings hold: zero and its sign, the
/// smallest and largest of each width, percentages and shares at their
/// limits, the window's length in days.
const NUMBERS: [f64; 24] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    0.999_999,
    1.000_001,
    2.0,
    7.0,
    14.0,
    28.0,
    29.0,
    99.999,
    100.0,
    100.001,
    1e-300,
    f64::MIN_POSITIVE,
    1e9,
    4_294_967_295.0,
    4_294_967_296.0,
    9_007_199_254_740_993.0,
    1.8e19,
    1e300,
    f64::MAX,
];

/// Durations at the edges: none, less than the engine's resolution (a
/// second, a minute for timers), a day and the window, and far beyond any
/// time the engine can hold.
const DURATIONS: [&str; 16] = [
    "0s",
    "1ns",
    "999ms",
    "1s",
    "59s",
    "1m",
    "61s",
    "1h",
    "1d",
    "7d",
    "14d",
    "28d",
    "29d",
    "3650d",
    "100000000d",
    "18446744073709551615s",
];

/// Other text: empty, a currency that exists, one that does not, a word.
const TEXTS: [&str; 6] = ["", "EUR", "USD", "XXX", "eur", "none"];

/// Runs the settings the input makes: what the checks accept must run on
/// the simulated stream without a panic, from the start and reloaded
/// halfway, and restore unchanged from its checkpoint; what they refuse,
/// `Engine::new` must refuse too. Panics otherwise.
pub fn check(data: &[u8]) {
    let Some(cfg) = edit(data) else {
        return;
    };
    let events = events();
    let valid = cfg.validate();
    let started = Engine::new(cfg.clone());
    assert_eq!(
        valid.is_ok(),
        started.is_ok(),
        "the checks and the engine disagree: {valid:?}"
    );
    let Ok(mut engine) = started else {
        assert!(
            crate::engine().reconfigure(cfg).is_err(),
            "a live reload took settings the checks refuse"
        );
        return;
    };
    crate::drive(&mut engine, events.iter().cloned());
    crate::checkpoint_round_trip(&mut engine);

    // Reloaded halfway, as `[engine]` reloads between batches.
    let mut live = crate::engine();
    let (before, after) = events.split_at(events.len() / 2);
    let mut out = Vec::new();
    for e in before.iter().cloned() {
        let _ = live.ingest(e, &mut out);
    }
    if EngineConfig::default().check_live_change(&cfg).is_ok() {
        live.reconfigure(cfg)
            .expect("settings the checks accept are applied live");
    }
    crate::drive(&mut live, after.iter().cloned());
    crate::checkpoint_round_trip(&mut live);
}

/// The default settings with the input's edits made, or nothing when the
/// edited settings do not read back (a value of the wrong type).
pub fn edit(data: &[u8]) -> Option<EngineConfig> {
    serde_json::from_value(apply(data).0).ok()
}

/// The input's edits, in order: which setting (a JSON pointer into the
/// settings) gets which value. `cargo run --bin settings FILE` prints them
/// for a finding.
pub fn edits(data: &[u8]) -> Vec<(String, Value)> {
    apply(data).1
}

/// The default settings as serde sees them, and the paths of their leaves:
/// made once, as every input starts from them.
fn defaults() -> &'static (Value, Vec<String>) {
    static DEFAULTS: OnceLock<(Value, Vec<String>)> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        let root = serde_json::to_value(EngineConfig::default()).expect("settings serialise");
        let leaves = leaves(&root);
        (root, leaves)
    })
}

/// The edited settings and the edits made.
fn apply(data: &[u8]) -> (Value, Vec<(String, Value)>) {
    let (defaults, leaves) = defaults();
    let mut root = defaults.clone();
    let mut made = Vec::new();
    for e in data.chunks_exact(EDIT) {
        let pick = &leaves[usize::from(u16::from_le_bytes([e[0], e[1]])) % leaves.len()];
        let raw: [u8; 8] = e[3..].try_into().expect("eight bytes");
        let Some(leaf) = root.pointer_mut(pick) else {
            continue;
        };
        // Later edits of the same setting see the earlier ones.
        *leaf = value(leaf, e[2], raw);
        made.push((pick.clone(), leaf.clone()));
    }
    (root, made)
}

/// The new value of `old`, of `kind` (an index into the edge values, or
/// past their end, the input's bytes as a value of the old one's type).
fn value(old: &Value, kind: u8, raw: [u8; 8]) -> Value {
    let kind = usize::from(kind);
    let own_bits = u64::from_le_bytes(raw);
    match old {
        Value::Bool(b) => Value::Bool(if kind % 2 == 0 { !b } else { *b }),
        Value::Number(_) => {
            if let Some(&x) = NUMBERS.get(kind % 64) {
                Number::from_f64(x).map_or(Value::Null, Value::Number)
            } else if kind % 2 == 0 {
                Value::Number(own_bits.into())
            } else {
                Number::from_f64(f64::from_bits(own_bits)).map_or(Value::Null, Value::Number)
            }
        }
        Value::String(s) if looks_like_duration(s) => match DURATIONS.get(kind % 32) {
            Some(&d) => Value::String(d.to_owned()),
            None => Value::String(format!("{}s", own_bits % 10_000_000)),
        },
        Value::String(_) => Value::String(TEXTS[kind % TEXTS.len()].to_owned()),
        other => other.clone(),
    }
}

/// Whether a setting's text is a duration (`humantime`'s form, such as
/// `12h` or `1d 12h`).
fn looks_like_duration(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.split_whitespace().all(|part| {
            let unit = part.trim_start_matches(|c: char| c.is_ascii_digit());
            matches!(
                unit,
                "ns" | "us" | "ms" | "s" | "m" | "min" | "h" | "d" | "w" | "M" | "y"
            )
        })
}

/// How many settings an edit can pick from.
pub fn leaf_count() -> usize {
    defaults().1.len()
}

/// JSON pointers to every number, text and flag in the settings.
fn leaves(root: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, &mut String::new(), &mut out);
    out
}

fn walk(v: &Value, path: &mut String, out: &mut Vec<String>) {
    let len = path.len();
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                walk(child, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push('/');
                path.push_str(&i.to_string());
                walk(child, path, out);
                path.truncate(len);
            }
        }
        Value::Null => {}
        _ => out.push(path.clone()),
    }
}

/// Six simulated players over five weeks, with duplicates, gaps and events
/// out of order, made once: every input runs on the same stream, so what
/// differs between runs is the settings alone.
pub fn events() -> &'static [PlayerEvent] {
    static EVENTS: OnceLock<Vec<PlayerEvent>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        Population::new(SimConfig {
            seed: 17,
            players: 6,
            days: 35,
            duplicate_rate: 0.02,
            missing_rate: 0.01,
            reorder_rate: 0.02,
            ..SimConfig::default()
        })
        .events()
        .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_edits_give_the_defaults() {
        assert_eq!(edit(&[]), Some(EngineConfig::default()));
    }

    #[test]
    fn an_edit_changes_one_setting() {
        let leaves = &defaults().1;
        assert!(leaves.len() > 50, "{leaves:?}");
        let changed = (0..leaves.len() as u16)
            .filter_map(|i| {
                let mut e = [0u8; EDIT];
                e[..2].copy_from_slice(&i.to_le_bytes());
                e[2] = 12; // 99.999, or "29d", or a flag flipped
                edit(&e)
            })
            .filter(|c| *c != EngineConfig::default())
            .count();
        assert!(changed > leaves.len() / 2, "{changed} of {}", leaves.len());
    }

    /// Every setting at every edge value, one at a time: what the fuzzer
    /// reaches first, kept as a sweep that needs no fuzzer. Each edit
    /// that reads back and passes the checks runs the engine twice.
    #[test]
    fn every_setting_at_every_edge_value_runs() {
        let (mut valid, mut refused) = (0, 0);
        for leaf in 0..leaf_count() as u16 {
            for kind in 0..NUMBERS.len().max(DURATIONS.len()) as u8 {
                let mut e = [0u8; EDIT];
                e[..2].copy_from_slice(&leaf.to_le_bytes());
                e[2] = kind;
                match edit(&e).map(|c| c.validate().is_ok()) {
                    Some(true) => valid += 1,
                    Some(false) => refused += 1,
                    None => continue,
                }
                check(&e);
            }
        }
        // Both sides are exercised: edge values the checks take, and
        // edge values they refuse.
        assert!(
            valid > 100 && refused > 100,
            "{valid} valid, {refused} refused"
        );
    }
}
