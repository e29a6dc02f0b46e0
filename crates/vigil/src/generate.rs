//! `vigil gen`: a synthetic population's events as JSON lines (or
//! length-delimited protobuf), and optionally its ground-truth labels.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use vigil_sim::{Population, SimConfig};

use crate::replay::InputFormat;

/// Arguments of `vigil gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    #[arg(long, default_value_t = 1000)]
    pub players: u32,
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of events delivered twice (same event id).
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_rate: f64,
    /// Share of events that never arrive.
    #[arg(long, default_value_t = 0.0)]
    pub missing_rate: f64,
    /// Share of events delivered after the next one (out of order).
    #[arg(long, default_value_t = 0.0)]
    pub reorder_rate: f64,
    /// Output encoding.
    #[arg(long, value_enum, default_value_t = InputFormat::Json)]
    pub format: InputFormat,
    /// Also write each player's ground truth here, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
}

/// Runs `vigil gen`, writing events to stdout.
pub fn run(args: &GenArgs) -> anyhow::Result<()> {
    let pop = Population::new(SimConfig {
        seed: args.seed,
        players: args.players,
        days: args.days,
        duplicate_rate: args.duplicate_rate,
        missing_rate: args.missing_rate,
        reorder_rate: args.reorder_rate,
        ..SimConfig::default()
    });
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    for e in pop.events() {
        match args.format {
            InputFormat::Json => {
                out.write_all(vigil_codec::json::encode_event(&e).as_bytes())?;
                out.write_all(b"\n")?;
            }
            InputFormat::Proto => vigil_codec::proto::write_delimited(
                &mut out,
                &vigil_codec::proto::encode_event(&e),
            )?,
        }
    }
    out.flush()?;
    if let Some(path) = &args.labels {
        let mut w = BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        for l in pop.labels() {
            let line = serde_json::json!({
                "player_id": l.player_id,
                "brand": l.brand,
                "archetype": l.archetype.as_str(),
                "fate": l.fate.as_str(),
                "onset": l.onset.map(|t| t.to_string()),
                "churn_at": l.churn_at.map(|t| t.to_string()),
                // Benign silence: where silence-based alerts go wrong.
                "holiday": l.holiday.map(|(from, to)| [from.to_string(), to.to_string()]),
            });
            writeln!(w, "{line}")?;
        }
        w.flush()?;
    }
    Ok(())
}
