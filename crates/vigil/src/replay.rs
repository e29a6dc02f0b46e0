//! `vigil replay`: the engine over files, no Kafka. Reads events in order,
//! writes alerts as JSON lines to stdout and a summary to stderr. The same
//! events and settings always give the same alerts, so replaying history
//! with a new configuration shows what the new weights would have done.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use vigil_domain::{AlertKind, Engine, Output, PlayerEvent, Reject, Timestamp};

use crate::config::Config;

/// Arguments of `vigil replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Configuration file; built-in defaults when omitted.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Input encoding: JSON lines, or length-delimited protobuf `PlayerEvent`s.
    #[arg(long, value_enum, default_value_t = InputFormat::Json)]
    pub format: InputFormat,
    /// Also write each player's final score, band and reasons here, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub scores: Option<PathBuf>,
    /// After the input, let event time run on to this RFC 3339 instant, so
    /// players who went silent at the end of the file are judged on it.
    #[arg(long, value_name = "TIME")]
    pub advance_to: Option<String>,
    /// Player profiles (JSON lines of `vigil.v1.PlayerProfile`), loaded
    /// before the first event: tiers, managers, segments and opt-outs.
    #[arg(long, value_name = "FILE")]
    pub profiles: Option<PathBuf>,
    /// Write offers (sent, held out and suppressed) here, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub offers: Option<PathBuf>,
    /// Write outcome records here, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub outcomes: Option<PathBuf>,
    /// Event files, read in order; `-` is standard input (the default).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
}

/// How input events are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Json,
    Proto,
}

/// What a replay saw, for the summary.
#[derive(Debug, Default)]
struct Tally {
    read: u64,
    rejected: BTreeMap<&'static str, u64>,
    alerts: BTreeMap<&'static str, u64>,
    offers: BTreeMap<&'static str, u64>,
    outcomes: u64,
}

struct Replay<W: Write> {
    engine: Engine,
    alerts_out: W,
    offers_out: Option<BufWriter<File>>,
    outcomes_out: Option<BufWriter<File>>,
    outputs: Vec<Output>,
    tally: Tally,
    stderr: io::Stderr,
}

impl<W: Write> Replay<W> {
    fn reject(&mut self, source: &str, record: &str, reason: &Reject) -> io::Result<()> {
        *self.tally.rejected.entry(reason.code()).or_default() += 1;
        writeln!(
            self.stderr.lock(),
            "vigil: {source}:{record}: rejected ({}): {reason}",
            reason.code()
        )
    }

    fn event(
        &mut self,
        source: &str,
        record: &str,
        decoded: Result<PlayerEvent, Reject>,
    ) -> anyhow::Result<()> {
        self.tally.read += 1;
        match decoded.and_then(|e| self.engine.ingest(e, &mut self.outputs)) {
            Ok(()) => self.drain(),
            Err(reason) => Ok(self.reject(source, record, &reason)?),
        }
    }

    fn drain(&mut self) -> anyhow::Result<()> {
        for o in self.outputs.drain(..) {
            match o {
                Output::Alert(a) => {
                    *self.tally.alerts.entry(a.kind.as_str()).or_default() += 1;
                    self.alerts_out
                        .write_all(vigil_codec::output::alert_to_json(&a).as_bytes())?;
                    self.alerts_out.write_all(b"\n")?;
                }
                Output::Offer(o) => {
                    *self.tally.offers.entry(o.status.as_str()).or_default() += 1;
                    if let Some(w) = &mut self.offers_out {
                        w.write_all(vigil_codec::retention::offer_to_json(&o).as_bytes())?;
                        w.write_all(b"\n")?;
                    }
                }
                Output::Outcome(o) => {
                    self.tally.outcomes += 1;
                    if let Some(w) = &mut self.outcomes_out {
                        w.write_all(vigil_codec::retention::outcome_to_json(&o).as_bytes())?;
                        w.write_all(b"\n")?;
                    }
                }
                Output::Score(_) => {}
            }
        }
        Ok(())
    }

    fn read_json(&mut self, name: &str, mut input: impl BufRead) -> anyhow::Result<()> {
        let mut line = Vec::with_capacity(512);
        let mut n = 0u64;
        loop {
            line.clear();
            if input
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading {name}"))?
                == 0
            {
                return Ok(());
            }
            n += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let decoded = vigil_codec::json::decode_event(&line);
            self.event(name, &n.to_string(), decoded)?;
        }
    }

    fn read_proto(&mut self, name: &str, input: impl BufRead) -> anyhow::Result<()> {
        for (i, frame) in vigil_codec::proto::DelimitedReader::new(input).enumerate() {
            let frame = frame.with_context(|| format!("reading {name}, record {}", i + 1))?;
            let decoded = vigil_codec::proto::decode_event(&frame);
            self.event(name, &format!("record {}", i + 1), decoded)?;
        }
        Ok(())
    }
}

fn open(path: &Path) -> anyhow::Result<(String, Box<dyn BufRead>)> {
    if path == Path::new("-") {
        return Ok(("<stdin>".to_owned(), Box::new(BufReader::new(io::stdin()))));
    }
    let file = File::open(path).with_context(|| format!("cannot open input {}", path.display()))?;
    Ok((
        path.display().to_string(),
        Box::new(BufReader::with_capacity(1 << 16, file)),
    ))
}

fn parse_time(s: &str) -> anyhow::Result<Timestamp> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| {
            format!("--advance-to {s:?} is not an RFC 3339 time such as 2026-11-01T00:00:00Z")
        })?;
    Ok(Timestamp::from_millis(
        (t.unix_timestamp_nanos() / 1_000_000) as i64,
    ))
}

/// Runs `vigil replay`.
pub fn run(args: &ReplayArgs, config: Config) -> anyhow::Result<()> {
    let advance_to = args.advance_to.as_deref().map(parse_time).transpose()?;
    let mut engine = Engine::new(config.engine).context("engine settings rejected")?;
    if let Some(path) = &args.profiles {
        load_profiles(&mut engine, path)?;
    }
    let create = |path: &Option<PathBuf>, what: &str| -> anyhow::Result<Option<BufWriter<File>>> {
        path.as_ref()
            .map(|p| {
                File::create(p)
                    .map(BufWriter::new)
                    .with_context(|| format!("cannot create {what} file {}", p.display()))
            })
            .transpose()
    };
    let stdout = io::stdout();
    let mut replay = Replay {
        engine,
        offers_out: create(&args.offers, "offers")?,
        outcomes_out: create(&args.outcomes, "outcomes")?,
        alerts_out: BufWriter::with_capacity(1 << 16, stdout.lock()),
        outputs: Vec::new(),
        tally: Tally::default(),
        stderr: io::stderr(),
    };
    let inputs = if args.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.inputs.clone()
    };
    let _span = tracing::info_span!("replay", inputs = inputs.len()).entered();
    for path in &inputs {
        let (name, reader) = open(path)?;
        match args.format {
            InputFormat::Json => replay.read_json(&name, reader)?,
            InputFormat::Proto => replay.read_proto(&name, reader)?,
        }
    }
    replay.engine.flush(&mut replay.outputs);
    if let Some(t) = advance_to {
        replay.engine.advance_to(t, &mut replay.outputs);
    }
    replay.drain()?;
    replay.alerts_out.flush()?;
    for w in [&mut replay.offers_out, &mut replay.outcomes_out]
        .into_iter()
        .flatten()
    {
        w.flush()?;
    }

    if let Some(path) = &args.scores {
        write_scores(&replay.engine, path)?;
    }
    summary(&replay.engine, &replay.tally, &mut io::stderr().lock())?;
    Ok(())
}

/// Loads a JSON-lines profile file: a bad line is an error naming it, as
/// replays exist to be trusted.
fn load_profiles(engine: &mut Engine, path: &Path) -> anyhow::Result<()> {
    let file = File::open(path)
        .with_context(|| format!("cannot open profiles file {}", path.display()))?;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let r = vigil_codec::retention::decode_profile(
            line.as_bytes(),
            vigil_codec::output::Encoding::Json,
        )
        .with_context(|| format!("{}:{}: not a player profile", path.display(), i + 1))?;
        engine.set_profile(&r.brand, &r.player_id, Some(r.profile));
    }
    Ok(())
}

fn write_scores(engine: &Engine, path: &Path) -> anyhow::Result<()> {
    let file = File::create(path)
        .with_context(|| format!("cannot create scores file {}", path.display()))?;
    let mut w = BufWriter::new(file);
    for p in engine.players() {
        let record = p.score_record(engine.clock());
        w.write_all(vigil_codec::output::score_to_json(&record).as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}

fn summary(engine: &Engine, tally: &Tally, w: &mut impl Write) -> io::Result<()> {
    let s = engine.stats();
    let rejected: u64 = tally.rejected.values().sum();
    writeln!(w, "events read:    {}", tally.read)?;
    writeln!(w, "  scored:       {}", s.applied)?;
    writeln!(w, "  duplicates:   {}", s.duplicates)?;
    writeln!(
        w,
        "  late:         {} (beyond the allowed lateness; scored on arrival)",
        s.late
    )?;
    writeln!(w, "  rejected:     {rejected}")?;
    for (code, n) in &tally.rejected {
        writeln!(w, "    {code:<22} {n}")?;
    }
    writeln!(w, "players:        {}", engine.player_count())?;
    writeln!(w, "alerts:         {}", tally.alerts.values().sum::<u64>())?;
    for kind in AlertKind::ALL {
        writeln!(
            w,
            "  {:<12} {}",
            kind.as_str(),
            tally.alerts.get(kind.as_str()).copied().unwrap_or(0)
        )?;
    }
    writeln!(w, "offers:         {}", tally.offers.values().sum::<u64>())?;
    for status in vigil_domain::OfferStatus::ALL {
        writeln!(
            w,
            "  {:<12} {}",
            status.as_str(),
            tally.offers.get(status.as_str()).copied().unwrap_or(0)
        )?;
    }
    writeln!(w, "outcomes:       {}", tally.outcomes)?;
    Ok(())
}
