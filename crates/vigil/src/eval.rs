//! `vigil eval`: does the score catch churners early? Replays an event
//! file through the engine (and through the same engine at shifted band
//! thresholds), judges the risk alerts against ground-truth labels such as
//! `vigil gen --labels` writes, and holds them against two simple
//! baselines on the same data. Deterministic: the same files and settings
//! give the same report, byte for byte.
//!
//! A **risk alert** is what a manager is told to act on: a band change to a
//! worse band (green to yellow, or to red), a usage drop, or an inactivity
//! alert. Recovery alerts (a band change upwards) are not risk alerts. The
//! metrics are defined in [`metrics`].

mod baseline;
mod metrics;
mod svg;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use vigil_domain::{AlertKind, Engine, EngineConfig, Output, PlayerEvent, Reject};
use vigil_sim::Fate;

use crate::config::Config;
use crate::replay::InputFormat;
use metrics::{Metrics, Targets, Truth};

/// Arguments of `vigil eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The events to replay (JSON lines, or `--format proto`).
    #[arg(long, value_name = "FILE")]
    pub events: PathBuf,
    /// Ground truth, one JSON object a line: `player_id`, `brand`, `fate`
    /// (`stable`, `slow_fade`, `abrupt_leave`, `returns`), `onset` and
    /// `churn_at` (RFC 3339, for drifting players), `return_at` (for
    /// `returns`, optional), `archetype` (optional); other fields (such as
    /// `holiday` and `season_break`) are ignored.
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Configuration file for the engine; built-in defaults when omitted.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Encoding of the events file.
    #[arg(long, value_enum, default_value_t = InputFormat::Json)]
    pub format: InputFormat,
    /// Also write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write a plot of the threshold sweep here, as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Days without a login after which the days-since-login baseline alerts.
    #[arg(long, default_value_t = 7.0)]
    pub login_days: f64,
}

/// Band-threshold shifts of the sweep, in score points applied to both
/// `green_min` and `yellow_min`.
const SWEEP: [f64; 7] = [-20.0, -15.0, -10.0, -5.0, 0.0, 5.0, 10.0];

/// Definitions printed with every report, so a number is never read
/// without what it means.
const DEFINITIONS: [(&str, &str); 8] = [
    (
        "risk_alert",
        "band_change to a worse band, usage_drop or inactivity (recoveries excluded)",
    ),
    (
        "caught",
        "a churner with a risk alert in [onset, churn_at), the first day without activity",
    ),
    (
        "precision",
        "players alerted who are churners alerted at or after onset / players alerted (per player)",
    ),
    (
        "recall",
        "churners caught / churners whose churn_at lies within the data (per player)",
    ),
    (
        "lead_time",
        "churn_at minus the first risk alert in [onset, churn_at), days; median and p10 over caught churners",
    ),
    (
        "false_alerts_per_1000_per_week",
        "risk alerts on stable players per 1000 player-weeks after their baseline is ready",
    ),
    (
        "benign_silence",
        "a stable player's labelled holiday or season break; its alerts are the risk alerts from its start to 7 days after its end",
    ),
    (
        "leading_signal",
        "the reason that took the most points off the alert judged: a churner's first risk alert at or after onset, anyone else's first",
    ),
];

/// How long after a benign silence ends its alerts are still put down to it:
/// a player's baseline takes days to recover from a silent spell.
const SILENCE_TAIL_MS: i64 = 7 * 86_400_000;

#[derive(Debug, Deserialize)]
struct LabelLine {
    player_id: String,
    brand: String,
    fate: String,
    #[serde(default)]
    archetype: Option<String>,
    #[serde(default)]
    onset: Option<String>,
    #[serde(default)]
    churn_at: Option<String>,
    #[serde(default)]
    return_at: Option<String>,
    #[serde(default)]
    holiday: Option<[String; 2]>,
    #[serde(default)]
    season_break: Option<[String; 2]>,
}

/// One labelled player and what the replay saw of them.
#[derive(Debug)]
struct Player {
    archetype: String,
    fate: Fate,
    churn: Option<(i64, i64)>,
    first_seen: Option<i64>,
    logins: Vec<i64>,
    /// Benign silences `[from, to)`, by [`SILENCES`] index.
    silences: [Option<(i64, i64)>; 2],
}

/// The kinds of benign silence in label files.
const SILENCES: [&str; 2] = ["holiday", "season_break"];

/// Players by brand, then id: looked up by `&str` without allocating.
#[derive(Debug, Default)]
struct Index(HashMap<String, HashMap<String, u32>>);

impl Index {
    fn get(&self, brand: &str, player: &str) -> Option<u32> {
        self.0.get(brand)?.get(player).copied()
    }
}

fn read_labels(path: &Path) -> anyhow::Result<(Vec<Player>, Index)> {
    let file =
        File::open(path).with_context(|| format!("cannot open labels {}", path.display()))?;
    let mut players = Vec::new();
    let mut index = Index::default();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        let l: LabelLine = serde_json::from_str(&line).with_context(at)?;
        let fate = Fate::parse(&l.fate).with_context(|| {
            let names: Vec<&str> = Fate::ALL.iter().map(|f| f.as_str()).collect();
            format!(
                "{}: fate {:?} is not one of {}",
                at(),
                l.fate,
                names.join(", ")
            )
        })?;
        let ts = |field: &str, v: &str| -> anyhow::Result<i64> {
            let t = time::OffsetDateTime::parse(v, &Rfc3339)
                .with_context(|| format!("{}: `{field}` {v:?} is not an RFC 3339 time", at()))?;
            Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
        };
        let churn = if fate.drifts() {
            let need = |field: &str, v: &Option<String>| -> anyhow::Result<i64> {
                let v = v
                    .as_deref()
                    .with_context(|| format!("{}: a drifting player needs `{field}`", at()))?;
                ts(field, v)
            };
            Some((need("onset", &l.onset)?, need("churn_at", &l.churn_at)?))
        } else {
            None
        };
        // Checked so a malformed file is caught; the return itself is not
        // judged (the player did leave, which is what the alerts are for).
        if let Some(v) = l.return_at.as_deref().filter(|_| fate == Fate::Returns) {
            let back = ts("return_at", v)?;
            if churn.is_some_and(|(_, churn_at)| back < churn_at) {
                bail!("{}: `return_at` {v} lies before `churn_at`", at());
            }
        }
        let mut silences = [None; 2];
        for (slot, (field, span)) in silences
            .iter_mut()
            .zip(SILENCES.into_iter().zip([&l.holiday, &l.season_break]))
        {
            if let Some([from, to]) = span {
                *slot = Some((ts(field, from)?, ts(field, to)?));
            }
        }
        let idx = players.len() as u32;
        let by_id = index.0.entry(l.brand).or_default();
        if by_id.insert(l.player_id.clone(), idx).is_some() {
            bail!("{}: player {} is labelled twice", at(), l.player_id);
        }
        players.push(Player {
            archetype: l.archetype.unwrap_or_else(|| "unknown".to_owned()),
            fate,
            churn,
            first_seen: None,
            logins: Vec::new(),
            silences,
        });
    }
    Ok((players, index))
}

/// One engine of the sweep and the risk alerts it raised, by player.
#[derive(Debug)]
struct Run {
    shift: f64,
    engine: Engine,
    alerts: Vec<Vec<i64>>,
    /// Beside each of `alerts`: the signal that took off the most points.
    leading: Vec<Vec<&'static str>>,
    /// Per player, a bit per [`AlertKind::ALL`] index that fired.
    fired: Vec<u8>,
    /// Risk alerts by kind, on churners and on stable players.
    kinds: BTreeMap<&'static str, [u64; 2]>,
    /// Over risk alerts on stable players: how often each signal was a
    /// reason, and the points it took off in all.
    false_reasons: BTreeMap<&'static str, (u64, f64)>,
}

/// A churn-risk alert: harm (`rg_risk`) and service (`sla_breach`) alerts
/// are for a human but say nothing of leaving, and a band change counts
/// only downwards.
fn is_risk(kind: AlertKind, band: vigil_domain::Band, prev: vigil_domain::Band) -> bool {
    kind.is_risk() && (kind != AlertKind::BandChange || band > prev)
}

impl Run {
    fn collect(&mut self, out: &mut Vec<Output>, players: &[Player], index: &Index) {
        for o in out.drain(..) {
            let Output::Alert(a) = o else { continue };
            if !is_risk(a.kind, a.band, a.prev_band) {
                continue;
            }
            let Some(i) = index.get(&a.brand, &a.player_id) else {
                continue;
            };
            self.alerts[i as usize].push(a.ts.as_millis());
            let lead = a
                .reasons
                .iter()
                .min_by(|x, y| x.contribution.total_cmp(&y.contribution))
                .map_or("none", |r| r.signal.as_str());
            self.leading[i as usize].push(lead);
            self.fired[i as usize] |= 1 << a.kind as u8;
            let churner = players[i as usize].fate.drifts();
            self.kinds.entry(a.kind.as_str()).or_default()[usize::from(!churner)] += 1;
            if !churner {
                for r in &a.reasons {
                    let e = self.false_reasons.entry(r.signal.as_str()).or_default();
                    e.0 += 1;
                    e.1 += r.contribution;
                }
            }
        }
    }
}

/// What was read.
#[derive(Debug, Default, Serialize)]
struct InputSummary {
    events: u64,
    rejected: BTreeMap<&'static str, u64>,
    unlabelled_events: u64,
    labelled_players: u64,
    players_seen: u64,
    start: String,
    end: String,
    churners: u64,
    stable: u64,
}

#[derive(Debug, Serialize)]
struct System {
    name: &'static str,
    rule: String,
    metrics: Metrics,
    targets_met: bool,
}

#[derive(Debug, Serialize)]
struct SweepRow {
    shift: f64,
    green_min: f64,
    yellow_min: f64,
    metrics: Metrics,
}

#[derive(Debug, Serialize)]
struct Group {
    players: u64,
    alerted: u64,
    /// Players alerted, by kind of alert.
    by_kind: BTreeMap<&'static str, u64>,
}

/// Players whose judged alert one signal led; see `Report::by_leading_signal`.
#[derive(Debug, Default, Serialize)]
struct Leading {
    players: u64,
    churners: u64,
}

/// Stable players with one kind of benign silence, and the alerts it drew.
#[derive(Debug, Default, Serialize)]
struct Silence {
    players: u64,
    /// Of those, alerted during the silence or within 7 days after it.
    alerted: u64,
    alerts: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    definitions: BTreeMap<&'static str, &'static str>,
    input: InputSummary,
    targets: Targets,
    systems: Vec<System>,
    /// Risk alerts of the score by kind: `[on churners, on stable players]`.
    alerts_by_kind: BTreeMap<&'static str, [u64; 2]>,
    /// Signals named as reasons in the score's risk alerts on stable
    /// players: `(alerts, mean points taken off)`. Where false alarms come
    /// from.
    false_alert_reasons: BTreeMap<&'static str, (u64, f64)>,
    /// Alerted players by the signal that led the alert judged (a
    /// churner's first at or after the onset, anyone else's first): how
    /// many, and how many of them churners alerted in time to count for
    /// precision. Which signals' alerts can be trusted.
    by_leading_signal: BTreeMap<&'static str, Leading>,
    /// The score's recall and lead time among each kind of churner: an
    /// abrupt leaver is gone days after the bad experience, so their lead
    /// time is short by nature.
    by_fate: BTreeMap<&'static str, Metrics>,
    /// False alerts put down to holidays and season breaks.
    benign_silence: BTreeMap<&'static str, Silence>,
    /// Players alerted by the score, by fate then archetype.
    alerted_by_group: BTreeMap<String, BTreeMap<String, Group>>,
    sweep: Vec<SweepRow>,
}

/// Runs `vigil eval`.
pub fn run(args: &EvalArgs, config: Config) -> anyhow::Result<()> {
    let (mut players, index) = read_labels(&args.labels)?;
    let base = config.engine;
    Engine::new(base.clone()).context("engine settings rejected")?;
    let mut runs = Vec::new();
    for shift in SWEEP {
        let mut cfg: EngineConfig = base.clone();
        cfg.bands.green_min += shift;
        cfg.bands.yellow_min += shift;
        // A shift that leaves the valid range is skipped, not an error.
        let Ok(engine) = Engine::new(cfg) else {
            continue;
        };
        runs.push(Run {
            shift,
            engine,
            alerts: vec![Vec::new(); players.len()],
            leading: vec![Vec::new(); players.len()],
            fired: vec![0; players.len()],
            kinds: BTreeMap::new(),
            false_reasons: BTreeMap::new(),
        });
    }
    let main = runs
        .iter()
        .position(|r| r.shift == 0.0)
        .context("the configured bands are always run")?;

    let mut input = InputSummary::default();
    let (mut start, mut end) = (i64::MAX, i64::MIN);
    let mut out = Vec::new();
    let mut feed = |decoded: Result<PlayerEvent, Reject>| {
        input.events += 1;
        let e = match decoded {
            Ok(e) => e,
            Err(r) => {
                *input.rejected.entry(r.code()).or_default() += 1;
                return;
            }
        };
        let ts = e.ts.as_millis();
        start = start.min(ts);
        end = end.max(ts);
        match index.get(&e.brand, &e.player_id) {
            Some(i) => {
                let p = &mut players[i as usize];
                p.first_seen = Some(p.first_seen.map_or(ts, |f| f.min(ts)));
                if matches!(e.payload, vigil_domain::Payload::Login { .. }) {
                    p.logins.push(ts);
                }
            }
            None => input.unlabelled_events += 1,
        }
        // Every engine gets its copy; the last one takes the event itself.
        let Some((last, others)) = runs.split_last_mut() else {
            return;
        };
        for r in others {
            if r.engine.ingest(e.clone(), &mut out).is_ok() {
                r.collect(&mut out, &players, &index);
            }
        }
        match last.engine.ingest(e, &mut out) {
            Ok(()) => last.collect(&mut out, &players, &index),
            Err(reason) => *input.rejected.entry(reason.code()).or_default() += 1,
        }
    };
    let file = File::open(&args.events)
        .with_context(|| format!("cannot open events {}", args.events.display()))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    let name = args.events.display().to_string();
    match args.format {
        InputFormat::Json => {
            let mut reader = reader;
            let mut line = Vec::with_capacity(512);
            loop {
                line.clear();
                if reader
                    .read_until(b'\n', &mut line)
                    .with_context(|| format!("reading {name}"))?
                    == 0
                {
                    break;
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                feed(vigil_codec::json::decode_event(&line));
            }
        }
        InputFormat::Proto => {
            for (i, frame) in vigil_codec::proto::DelimitedReader::new(reader).enumerate() {
                let frame = frame.with_context(|| format!("reading {name}, record {}", i + 1))?;
                feed(vigil_codec::proto::decode_event(&frame));
            }
        }
    }
    if end < start {
        bail!("{name} holds no valid event to evaluate");
    }
    for r in &mut runs {
        r.engine.flush(&mut out);
        r.collect(&mut out, &players, &index);
    }

    let min_history = base.baseline.min_history.as_millis() as i64;
    let truth: Vec<Truth> = players
        .iter()
        .map(|p| Truth {
            churn: p.churn,
            ready_at: p.first_seen.map(|f| f + min_history).filter(|&r| r <= end),
        })
        .collect();
    for p in &mut players {
        p.logins.sort_unstable();
    }
    input.labelled_players = players.len() as u64;
    input.players_seen = players.iter().filter(|p| p.first_seen.is_some()).count() as u64;
    input.churners = players.iter().filter(|p| p.fate.drifts()).count() as u64;
    input.stable = input.labelled_players - input.churners;
    input.start = vigil_domain::Timestamp::from_millis(start).to_string();
    input.end = vigil_domain::Timestamp::from_millis(end).to_string();

    let targets = Targets::DEFAULT;
    let score = metrics::evaluate(&truth, &runs[main].alerts, end);
    let baseline_alerts = |f: &dyn Fn(&[i64], i64) -> Vec<i64>| -> Vec<Vec<i64>> {
        players
            .iter()
            .zip(&truth)
            .map(|(p, t)| t.ready_at.map(|r| f(&p.logins, r)).unwrap_or_default())
            .collect()
    };
    let login = metrics::evaluate(
        &truth,
        &baseline_alerts(&|l, r| baseline::days_since_login(l, r, end, args.login_days)),
        end,
    );
    let fell = metrics::evaluate(
        &truth,
        &baseline_alerts(&|l, r| baseline::usage_fell(l, r, end, 0.3, 14)),
        end,
    );
    let b = &base.bands;
    let systems = vec![
        System {
            name: "score",
            rule: format!(
                "vigil risk alerts (green >= {}, yellow >= {}, hysteresis {})",
                b.green_min, b.yellow_min, b.hysteresis
            ),
            targets_met: targets.met(&score),
            metrics: score,
        },
        System {
            name: "days_since_login",
            rule: format!("no login for {} days", args.login_days),
            targets_met: targets.met(&login),
            metrics: login,
        },
        System {
            name: "usage_fell_30pct",
            rule: "login days over 14 days at least 30% fewer than the 14 before".to_owned(),
            targets_met: targets.met(&fell),
            metrics: fell,
        },
    ];

    let mut alerted_by_group: BTreeMap<String, BTreeMap<String, Group>> = BTreeMap::new();
    for ((p, a), fired) in players
        .iter()
        .zip(&runs[main].alerts)
        .zip(&runs[main].fired)
    {
        if p.first_seen.is_none() {
            continue;
        }
        let g = alerted_by_group
            .entry(p.fate.as_str().to_owned())
            .or_default()
            .entry(p.archetype.clone())
            .or_insert(Group {
                players: 0,
                alerted: 0,
                by_kind: BTreeMap::new(),
            });
        g.players += 1;
        for k in AlertKind::ALL {
            if fired & (1 << k as u8) != 0 {
                *g.by_kind.entry(k.as_str()).or_default() += 1;
            }
        }
        g.alerted += u64::from(a.iter().any(|&t| t <= end));
    }

    let mut by_fate = BTreeMap::new();
    for fate in Fate::ALL.into_iter().filter(|f| f.drifts()) {
        let (t, a): (Vec<Truth>, Vec<Vec<i64>>) = players
            .iter()
            .zip(&truth)
            .zip(&runs[main].alerts)
            .filter(|((p, _), _)| p.fate == fate)
            .map(|((_, t), a)| (*t, a.clone()))
            .unzip();
        by_fate.insert(fate.as_str(), metrics::evaluate(&t, &a, end));
    }

    let mut by_leading_signal: BTreeMap<&'static str, Leading> = BTreeMap::new();
    for ((t, a), lead) in truth
        .iter()
        .zip(&runs[main].alerts)
        .zip(&runs[main].leading)
    {
        let in_data = |&(_, &ts): &(usize, &i64)| ts <= end;
        let after_onset = t.churn.and_then(|(onset, _)| {
            a.iter()
                .enumerate()
                .filter(in_data)
                .find(|&(_, &ts)| ts >= onset)
        });
        let Some((k, _)) = after_onset.or_else(|| a.iter().enumerate().find(in_data)) else {
            continue;
        };
        let l = by_leading_signal.entry(lead[k]).or_default();
        l.players += 1;
        l.churners += u64::from(after_onset.is_some());
    }

    let mut benign_silence = BTreeMap::new();
    for (k, kind) in SILENCES.into_iter().enumerate() {
        let mut s = Silence::default();
        for (p, a) in players.iter().zip(&runs[main].alerts) {
            let Some((from, to)) = p.silences[k] else {
                continue;
            };
            if p.fate.drifts() || p.first_seen.is_none() {
                continue;
            }
            s.players += 1;
            let n = a
                .iter()
                .filter(|&&t| t >= from && t < to + SILENCE_TAIL_MS && t <= end)
                .count() as u64;
            s.alerts += n;
            s.alerted += u64::from(n > 0);
        }
        benign_silence.insert(kind, s);
    }

    let sweep = runs
        .iter()
        .map(|r| SweepRow {
            shift: r.shift,
            green_min: b.green_min + r.shift,
            yellow_min: b.yellow_min + r.shift,
            metrics: metrics::evaluate(&truth, &r.alerts, end),
        })
        .collect();
    let report = Report {
        definitions: DEFINITIONS.into_iter().collect(),
        input,
        targets,
        systems,
        alerts_by_kind: runs[main].kinds.clone(),
        false_alert_reasons: runs[main]
            .false_reasons
            .iter()
            .map(|(k, &(n, sum))| (*k, (n, sum / n.max(1) as f64)))
            .collect(),
        by_leading_signal,
        by_fate,
        benign_silence,
        alerted_by_group,
        sweep,
    };

    write_table(&report, &mut io::stdout().lock())?;
    if let Some(path) = &args.json {
        let mut w = BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        serde_json::to_writer_pretty(&mut w, &report)?;
        w.write_all(b"\n")?;
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        let points: Vec<svg::Point> = report
            .sweep
            .iter()
            .map(|r| svg::Point {
                green_min: r.green_min,
                precision: r.metrics.precision,
                recall: r.metrics.recall,
                lead_median_days: r.metrics.lead_median_days,
            })
            .collect();
        std::fs::write(path, svg::plot(&points, &targets))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

fn write_table(r: &Report, w: &mut impl Write) -> io::Result<()> {
    let i = &r.input;
    writeln!(
        w,
        "events {} ({} rejected), players {} labelled ({} churners, {} stable), {} to {}",
        i.events,
        i.rejected.values().sum::<u64>(),
        i.labelled_players,
        i.churners,
        i.stable,
        i.start,
        i.end
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "{:<18} {:>9} {:>7} {:>9} {:>9} {:>8} {:>10} {:>8}  rule",
        "system", "precision", "recall", "lead p50", "lead p10", "alerted", "caught", "false/kw"
    )?;
    for s in &r.systems {
        let m = &s.metrics;
        writeln!(
            w,
            "{:<18} {:>9} {:>7} {:>9} {:>9} {:>8} {:>10} {:>8}  {}",
            s.name,
            opt(m.precision, 3),
            opt(m.recall, 3),
            opt(m.lead_median_days, 1),
            opt(m.lead_p10_days, 1),
            m.alerted,
            format!("{}/{}", m.caught, m.churners),
            opt(m.false_alerts_per_1000_per_week, 1),
            s.rule
        )?;
    }
    let t = &r.targets;
    writeln!(
        w,
        "targets: recall >= {}, median lead >= {} days, precision >= {}: score {}",
        t.recall,
        t.median_lead_days,
        t.precision,
        if r.systems[0].targets_met {
            "MET"
        } else {
            "not met"
        }
    )?;
    for (fate, m) in &r.by_fate {
        writeln!(
            w,
            "score among {fate} churners: recall {}, lead p50 {} days, p10 {} days ({}/{} caught)",
            opt(m.recall, 3),
            opt(m.lead_median_days, 1),
            opt(m.lead_p10_days, 1),
            m.caught,
            m.churners
        )?;
    }
    let silences: Vec<String> = r
        .benign_silence
        .iter()
        .map(|(k, s)| {
            format!(
                "{k} {}/{} players alerted ({} alerts)",
                s.alerted, s.players, s.alerts
            )
        })
        .collect();
    writeln!(
        w,
        "score during benign silence (stable players, to 7 days after): {}",
        silences.join(", ")
    )?;
    writeln!(w)?;
    writeln!(w, "band threshold sweep (score):")?;
    writeln!(
        w,
        "{:>9} {:>10} {:>9} {:>7} {:>9} {:>9} {:>8}",
        "green_min", "yellow_min", "precision", "recall", "lead p50", "lead p10", "false/kw"
    )?;
    for s in &r.sweep {
        let m = &s.metrics;
        writeln!(
            w,
            "{:>9} {:>10} {:>9} {:>7} {:>9} {:>9} {:>8}",
            s.green_min,
            s.yellow_min,
            opt(m.precision, 3),
            opt(m.recall, 3),
            opt(m.lead_median_days, 1),
            opt(m.lead_p10_days, 1),
            opt(m.false_alerts_per_1000_per_week, 1),
        )?;
    }
    writeln!(w)?;
    writeln!(w, "score's players alerted, by fate and archetype:")?;
    for (fate, groups) in &r.alerted_by_group {
        let row: Vec<String> = groups
            .iter()
            .map(|(a, g)| {
                let kinds: Vec<String> =
                    g.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
                format!("{a} {}/{} ({})", g.alerted, g.players, kinds.join(" "))
            })
            .collect();
        writeln!(w, "  {fate}:")?;
        for r in row {
            writeln!(w, "    {r}")?;
        }
    }
    let kinds: Vec<String> = r
        .alerts_by_kind
        .iter()
        .map(|(k, [c, s])| format!("{k} {c}/{s}"))
        .collect();
    writeln!(
        w,
        "score's risk alerts by kind (on churners/on stable): {}",
        kinds.join(", ")
    )?;
    let leading: Vec<String> = r
        .by_leading_signal
        .iter()
        .map(|(k, l)| {
            let precision = l.churners as f64 / l.players.max(1) as f64;
            format!("{k} {}/{} ({precision:.2})", l.churners, l.players)
        })
        .collect();
    writeln!(
        w,
        "score's alerted players by the signal leading the alert judged (churners alerted after onset/players, precision): {}",
        leading.join(", ")
    )?;
    let reasons: Vec<String> = r
        .false_alert_reasons
        .iter()
        .map(|(k, (n, mean))| format!("{k} {n} ({mean:.1})"))
        .collect();
    writeln!(
        w,
        "reasons in the score's alerts on stable players (alerts, mean points): {}",
        reasons.join(", ")
    )?;
    writeln!(w)?;
    writeln!(w, "definitions:")?;
    for (k, v) in DEFINITIONS {
        writeln!(w, "  {k}: {v}")?;
    }
    writeln!(
        w,
        "  false/kw: false alerts per 1000 healthy players per week"
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(lines: &[&str]) -> anyhow::Result<Vec<Player>> {
        let path = std::env::temp_dir().join(format!(
            "vigil-eval-labels-{}-{}.jsonl",
            std::process::id(),
            lines.len()
        ));
        std::fs::write(&path, lines.join("\n")).unwrap();
        let read = read_labels(&path).map(|(players, _)| players);
        let _ = std::fs::remove_file(&path);
        read
    }

    #[test]
    fn label_files_old_and_new_are_read() {
        let players = labels(&[
            // As `vigil gen` wrote them before returners and season breaks.
            r#"{"player_id":"p1","brand":"b","fate":"stable","holiday":null}"#,
            r#"{"player_id":"p2","brand":"b","fate":"slow_fade","onset":"2026-09-20T00:00:00Z","churn_at":"2026-10-05T00:00:00Z"}"#,
            // And now.
            r#"{"player_id":"p3","brand":"b","archetype":"seasonal","fate":"returns","onset":"2026-09-20T00:00:00Z","churn_at":"2026-09-25T00:00:00Z","return_at":"2026-10-15T00:00:00Z","season_break":["2026-09-28T00:00:00Z","2026-10-10T00:00:00Z"]}"#,
        ])
        .unwrap();
        let fates: Vec<Fate> = players.iter().map(|p| p.fate).collect();
        assert_eq!(fates, [Fate::Stable, Fate::SlowFade, Fate::Returns]);
        // A returner is judged as the churner he was: onset to churn_at.
        let day = |d: i64| 1_788_220_800_000 + d * 86_400_000;
        assert_eq!(players[2].churn, Some((day(19), day(24))));
        assert_eq!(players[2].archetype, "seasonal");
        assert_eq!(players[2].silences, [None, Some((day(27), day(39)))]);
        assert_eq!(players[0].silences, [None, None]);
    }

    #[test]
    fn bad_returns_are_refused_with_the_line() {
        let err = labels(&[
            r#"{"player_id":"p3","brand":"b","fate":"returns","onset":"2026-09-20T00:00:00Z","churn_at":"2026-09-25T00:00:00Z","return_at":"2026-09-22T00:00:00Z"}"#,
        ])
        .unwrap_err();
        assert!(format!("{err:#}").contains(":1: `return_at`"), "{err:#}");
        let err = labels(&[r#"{"player_id":"p","brand":"b","fate":"gone"}"#]).unwrap_err();
        assert!(
            format!("{err:#}").contains("stable, slow_fade, abrupt_leave, returns"),
            "{err:#}"
        );
    }
}
