//! Live reload of the rules: on SIGHUP, and when the config file's content
//! changes (checked every [`POLL`]), the whole file is read again with the
//! loader `vigil run` started with (environment overrides included) and
//! validated. New `[engine]` settings (weights, bands, rules, ...) are
//! handed to the pipeline, which swaps them into every engine between
//! batches; an invalid file, or one changing a key that needs a restart,
//! leaves the running set alone and says why in the log and in
//! `vigil_config_reloads_total{result="invalid"}`. Other sections are
//! read only at start: a change to them is logged as needing a restart.
//!
//! Polling the content rather than watching with inotify: no dependency,
//! and it sees what inotify misses, such as Kubernetes swapping a mounted
//! ConfigMap's symlink.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use vigil_kafka::Health;
use vigil_kafka::metrics as m;

use crate::config::Config;

/// How often the file is checked for changes.
pub const POLL: Duration = Duration::from_secs(2);

/// What one reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New engine settings handed to the pipeline.
    Offered,
    /// Nothing to apply live.
    Unchanged,
    /// Refused, with why; the running set stays.
    Invalid(String),
}

/// Reloads on SIGHUP and on file changes until `shutdown`. `running` is
/// the configuration the service started with.
pub fn spawn(
    path: Option<PathBuf>,
    running: Config,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use anyhow::Context;
    // Registered before returning: from here on SIGHUP no longer ends the
    // process (its default action).
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::spawn(async move {
        let mut running = running;
        let mut seen = fingerprint(path.as_deref());
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    seen = fingerprint(path.as_deref());
                }
                _ = tick.tick() => {
                    let now = fingerprint(path.as_deref());
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    tracing::info!("configuration file changed: reloading it");
                }
            }
            let outcome = reload(path.as_deref(), std::env::vars(), &mut running, &health);
            count(&outcome);
        }
    });
    Ok(())
}

/// A hash of the file's content (`None` when it cannot be read, which is
/// a change too: the reload then says why).
fn fingerprint(path: Option<&Path>) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let bytes = std::fs::read(path?).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

fn count(outcome: &Outcome) {
    // `applied` is counted by the pipeline once the engines use the set.
    let result = match outcome {
        Outcome::Offered => return,
        Outcome::Unchanged => "unchanged",
        Outcome::Invalid(_) => "invalid",
    };
    metrics::counter!(m::CONFIG_RELOADS, "result" => result).increment(1);
}

/// Reads the configuration again and hands new engine settings on.
pub fn reload(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    running: &mut Config,
    health: &Health,
) -> Outcome {
    let new = match Config::load(path, env) {
        Ok(c) => c,
        Err(e) => {
            let why = e.to_string();
            tracing::warn!(error = %why, "configuration reload refused: the running settings stay");
            return Outcome::Invalid(why);
        }
    };
    let restart: Vec<&str> = [
        ("kafka", new.kafka != running.kafka),
        ("topics", new.topics != running.topics),
        ("pipeline", new.pipeline != running.pipeline),
        ("http", new.http != running.http),
        ("log", new.log != running.log),
    ]
    .into_iter()
    .filter_map(|(section, changed)| changed.then_some(section))
    .collect();
    if !restart.is_empty() {
        tracing::warn!(
            sections = ?restart,
            "changed settings outside [engine] are read only at start: restart vigil to apply them"
        );
    }
    if new.engine == running.engine {
        tracing::info!("engine settings unchanged");
        return Outcome::Unchanged;
    }
    if let Err(e) = running.engine.check_live_change(&new.engine) {
        let why = format!("invalid setting `engine.{}`: {}", e.key, e.problem);
        tracing::warn!(error = %why, "configuration reload refused: the running settings stay");
        return Outcome::Invalid(why);
    }
    health.live().offer_engine_config(new.engine.clone());
    running.engine = new.engine;
    tracing::info!("new engine settings handed to the pipeline");
    Outcome::Offered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reload_offers_new_engine_settings_and_refuses_bad_ones() {
        let path = std::env::temp_dir().join(format!("vigil-reload-{}.toml", std::process::id()));
        write(&path, "[engine.weights]\nfrequency = 0.2\n");
        let mut running = Config::load(Some(&path), Vec::new()).unwrap();
        let health = Health::default();

        assert_eq!(
            reload(Some(&path), Vec::new(), &mut running, &health),
            Outcome::Unchanged
        );
        write(&path, "[engine.weights]\nfrequency = 0.9\n");
        assert_eq!(
            reload(Some(&path), Vec::new(), &mut running, &health),
            Outcome::Offered
        );
        assert_eq!(running.engine.weights.frequency, 0.9);

        // Environment overrides apply as at start.
        let env = vec![(
            "VIGIL_ENGINE__WEIGHTS__FREQUENCY".to_owned(),
            "0.5".to_owned(),
        )];
        assert_eq!(
            reload(Some(&path), env, &mut running, &health),
            Outcome::Offered
        );
        assert_eq!(running.engine.weights.frequency, 0.5);

        write(&path, "[engine.bands]\nyellow_min = 95\n");
        let Outcome::Invalid(why) = reload(Some(&path), Vec::new(), &mut running, &health) else {
            panic!("accepted an invalid band")
        };
        assert!(why.contains("engine.bands.yellow_min"), "{why}");
        assert_eq!(running.engine.weights.frequency, 0.5, "old set kept");

        write(&path, "[engine]\nallowed_lateness = \"1m\"\n");
        let Outcome::Invalid(why) = reload(Some(&path), Vec::new(), &mut running, &health) else {
            panic!("accepted a restart-only key")
        };
        assert!(
            why.contains("engine.allowed_lateness") && why.contains("restart"),
            "{why}"
        );

        // Other sections are not applied live.
        write(
            &path,
            "[engine.weights]\nfrequency = 0.5\n[http]\nlisten = \"127.0.0.1:1\"\n",
        );
        assert_eq!(
            reload(Some(&path), Vec::new(), &mut running, &health),
            Outcome::Unchanged
        );
        assert_ne!(running.http.listen.port(), 1);
        let _ = std::fs::remove_file(&path);
    }
}
