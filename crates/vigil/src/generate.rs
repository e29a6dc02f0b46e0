//! `vigil gen`: a synthetic population's events as JSON lines (or
//! length-delimited protobuf) on stdout, or produced straight into a Kafka
//! topic keyed by player id; optionally its ground-truth labels.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use vigil_sim::{Label, Population, SimConfig};

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
    /// How many days a slow fader takes to leave, `MIN-MAX` (drawn per
    /// player), or one number [default: the simulator's, 14-21].
    #[arg(long, value_name = "MIN-MAX", value_parser = fade_days)]
    pub fade_days: Option<(u32, u32)>,
    /// Share of events delivered twice (same event id).
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_rate: f64,
    /// Share of events that never arrive.
    #[arg(long, default_value_t = 0.0)]
    pub missing_rate: f64,
    /// Share of events delivered after the next one (out of order).
    #[arg(long, default_value_t = 0.0)]
    pub reorder_rate: f64,
    /// Output encoding (of each record's value when producing to Kafka).
    #[arg(long, value_enum, default_value_t = InputFormat::Json)]
    pub format: InputFormat,
    /// Also write each player's ground truth here, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Produce the events into Kafka at these brokers (`host:port,...`)
    /// instead of writing them to stdout, each keyed by its player id.
    #[arg(long, value_name = "HOST:PORT")]
    pub kafka_bootstrap: Option<String>,
    /// The topic to produce into; created when missing.
    #[arg(long, default_value = "player-events", requires = "kafka_bootstrap")]
    pub topic: String,
    /// Partitions of the topic when it has to be created.
    #[arg(long, default_value_t = 4, requires = "kafka_bootstrap")]
    pub partitions: i32,
    /// Replicas of the topic when it has to be created.
    #[arg(long, default_value_t = 1, requires = "kafka_bootstrap")]
    pub replication_factor: i32,
    /// A librdkafka producer property, `KEY=VALUE` (repeatable), such as
    /// `security.protocol=SASL_SSL`.
    #[arg(
        long = "producer-property",
        value_name = "KEY=VALUE",
        requires = "kafka_bootstrap"
    )]
    pub producer_properties: Vec<String>,
}

/// Runs `vigil gen`.
pub fn run(args: &GenArgs) -> anyhow::Result<()> {
    let defaults = SimConfig::default();
    let pop = Population::new(SimConfig {
        seed: args.seed,
        players: args.players,
        days: args.days,
        fade_days: args.fade_days.unwrap_or(defaults.fade_days),
        duplicate_rate: args.duplicate_rate,
        missing_rate: args.missing_rate,
        reorder_rate: args.reorder_rate,
        ..defaults
    });
    match &args.kafka_bootstrap {
        Some(bootstrap) => produce(args, bootstrap, &pop)?,
        None => write(args, &pop)?,
    }
    if let Some(path) = &args.labels {
        let mut w = BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        for l in pop.labels() {
            writeln!(w, "{}", label_json(l))?;
        }
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Parses `--fade-days`: `MIN-MAX` or `DAYS`, at least one day, MIN <= MAX.
fn fade_days(s: &str) -> Result<(u32, u32), String> {
    let days = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|&d| d >= 1)
            .ok_or_else(|| format!("{v:?} is not a number of days (1 or more)"))
    };
    let (lo, hi) = match s.split_once('-') {
        Some((lo, hi)) => (days(lo)?, days(hi)?),
        None => (days(s)?, days(s)?),
    };
    if lo > hi {
        return Err(format!(
            "{lo}-{hi}: the shortest fade is longer than the longest"
        ));
    }
    Ok((lo, hi))
}

/// One label line. `holiday` and `season_break` are `[from, to)` spans of
/// benign silence; `return_at` is set for players who come back.
fn label_json(l: &Label) -> serde_json::Value {
    let span = |s: Option<(vigil_domain::Timestamp, vigil_domain::Timestamp)>| {
        s.map(|(from, to)| [from.to_string(), to.to_string()])
    };
    serde_json::json!({
        "player_id": l.player_id,
        "brand": l.brand,
        "archetype": l.archetype.as_str(),
        "fate": l.fate.as_str(),
        "onset": l.onset.map(|t| t.to_string()),
        "churn_at": l.churn_at.map(|t| t.to_string()),
        "return_at": l.return_at.map(|t| t.to_string()),
        // Benign silence: where silence-based alerts go wrong.
        "holiday": span(l.holiday),
        "season_break": span(l.season_break),
    })
}

fn encode(format: InputFormat, e: &vigil_domain::PlayerEvent) -> Vec<u8> {
    match format {
        InputFormat::Json => vigil_codec::json::encode_event(e).into_bytes(),
        InputFormat::Proto => vigil_codec::proto::encode_event(e),
    }
}

/// The events on stdout: JSON lines, or length-delimited protobuf.
fn write(args: &GenArgs, pop: &Population) -> anyhow::Result<()> {
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
    Ok(())
}

/// The events into a topic, in stream order, each keyed by player id.
fn produce(args: &GenArgs, bootstrap: &str, pop: &Population) -> anyhow::Result<()> {
    if args.partitions < 1 {
        bail!("--partitions must be at least 1, not {}", args.partitions);
    }
    let mut properties = BTreeMap::new();
    for p in &args.producer_properties {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--producer-property {p:?} is not KEY=VALUE"))?;
        properties.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    let settings = vigil_kafka::LoadSettings {
        bootstrap_servers: bootstrap.to_owned(),
        topic: args.topic.clone(),
        partitions: args.partitions,
        replication_factor: args.replication_factor,
        properties,
    };
    let mut loader = vigil_kafka::Loader::connect(&settings)
        .with_context(|| format!("cannot load topic {} at {bootstrap}", args.topic))?;
    for e in pop.events() {
        loader.send(e.player_id.as_bytes(), &encode(args.format, &e))?;
    }
    loader
        .finish()
        .with_context(|| format!("loading topic {}", args.topic))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fade_days;

    #[test]
    fn fade_days_take_a_range_or_one_number_and_refuse_nonsense() {
        assert_eq!(fade_days("28-56"), Ok((28, 56)));
        assert_eq!(fade_days(" 30 "), Ok((30, 30)));
        for bad in ["0-5", "9-3", "two weeks", "-4", "14-"] {
            let err = fade_days(bad).expect_err(bad);
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(
            fade_days("9-3")
                .unwrap_err()
                .contains("longer than the longest")
        );
    }
}
