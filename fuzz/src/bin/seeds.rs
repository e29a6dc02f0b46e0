//! Writes each target's seed corpus into `corpus/<target>/` from the
//! simulator, so the fuzzer starts from what integrators send and the
//! engine writes (a random byte string almost never gets past a decoder's
//! first check): three players' events (from six weeks, as many as fit the
//! fuzzer's input limit) per seed, and the
//! changelog records an engine hands out after them.
//!
//! `cargo run --bin seeds` in `fuzz/`.

use std::path::Path;

use vigil_codec::changelog;
use vigil_codec::output::Encoding;
use vigil_codec::retention::{ProfileRecord, encode_profile};
use vigil_domain::{PlayerEvent, PlayerRecord, Profile, Tier};
use vigil_sim::{Population, SimConfig};

/// The longest input `scripts/fuzz.sh` lets the fuzzer make (`-max_len`).
const MAX_LEN: usize = 65_536;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let population = Population::new(SimConfig {
        seed: 11,
        players: 24,
        days: 42,
        duplicate_rate: 0.02,
        missing_rate: 0.01,
        reorder_rate: 0.02,
        ..SimConfig::default()
    });
    for target in [
        "json_events",
        "proto_events",
        "changelog",
        "profile",
        "engine_config",
    ] {
        std::fs::create_dir_all(root.join(target))?;
    }
    for first in (0..24).step_by(3) {
        // Three players' events, as many as fit the fuzzer's input limit
        // as JSON lines.
        let (mut events, mut lines): (Vec<PlayerEvent>, Vec<String>) = (Vec::new(), Vec::new());
        let mut size = 0;
        for e in population.events_of(first..first + 3) {
            let line = vigil_codec::json::encode_event(&e);
            size += line.len() + 1;
            if size >= MAX_LEN {
                break;
            }
            events.push(e);
            lines.push(line);
        }
        let name = format!("sim-{first:02}");
        std::fs::write(root.join("json_events").join(&name), lines.join("\n"))?;

        let messages: Vec<Vec<u8>> = events
            .iter()
            .map(vigil_codec::proto::encode_event)
            .collect();
        std::fs::write(
            root.join("proto_events").join(&name),
            vigil_fuzz::join(&messages),
        )?;

        let mut engine = vigil_fuzz::engine();
        // Most of the events, so some are still pending in the records.
        let keep = events.len() - events.len() / 20;
        vigil_fuzz::drive(&mut engine, events[..keep].iter().cloned());
        let mut records: Vec<PlayerRecord> = Vec::new();
        engine.take_changes(&mut records);
        let mut pieces = vec![
            changelog::clock_key(vigil_fuzz::TOPIC),
            changelog::encode_clock(engine.clock_state(), 1),
        ];
        for r in &records {
            pieces.push(changelog::player_key(
                vigil_fuzz::TOPIC,
                &r.brand,
                &r.player_id,
            ));
            pieces.push(changelog::encode_player(r, 1));
        }
        std::fs::write(
            root.join("changelog").join(&name),
            vigil_fuzz::join(&pieces),
        )?;
    }
    for (i, tier) in [Tier::Regular, Tier::HighRoller].into_iter().enumerate() {
        let record = ProfileRecord {
            player_id: format!("p-{i}"),
            brand: "casino-a".into(),
            profile: Profile {
                tier,
                manager_id: Some("m-1".into()),
                segments: vec!["sports".into()],
                ..Profile::default()
            },
        };
        for (e, ext) in [(Encoding::Json, "json"), (Encoding::Protobuf, "pb")] {
            std::fs::write(
                root.join("profile").join(format!("{i}.{ext}")),
                encode_profile(&record, e),
            )?;
        }
    }
    // One edit of each setting to a value at an edge (kind 12: 99.999, 29
    // days, or a flag flipped).
    for leaf in 0..vigil_fuzz::settings::leaf_count() {
        let mut edit = [0u8; vigil_fuzz::settings::EDIT];
        edit[..2].copy_from_slice(&(leaf as u16).to_le_bytes());
        edit[2] = 12;
        std::fs::write(root.join("engine_config").join(format!("{leaf:03}")), edit)?;
    }
    Ok(())
}
