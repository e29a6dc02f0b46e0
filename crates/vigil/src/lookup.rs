//! The player lookup API's directory: the engines of the partitions this
//! instance owns, read through the pipeline's [`vigil_kafka::Live`].
//! Each instance serves only its own players; see docs/operations.md for
//! querying a whole group.

use std::sync::Arc;

use vigil_domain::Band;
use vigil_http::{PlayerDirectory, PlayerInfo, riskier_first};
use vigil_kafka::Health;

/// See the module documentation.
#[derive(Debug)]
pub struct EngineDirectory {
    pub health: Arc<Health>,
}

impl PlayerDirectory for EngineDirectory {
    fn player(&self, id: &str, brand: Option<&str>) -> Vec<PlayerInfo> {
        let mut out = Vec::new();
        self.health.live().for_each_engine(|engine| {
            let currency = &engine.config().currency.reporting;
            let mut add = |b: &str| {
                if let Some(view) = engine.player(b, id) {
                    out.push(PlayerInfo::from_view(&view, engine.clock(), currency));
                }
            };
            match brand {
                Some(b) => add(b),
                None => engine.brands().for_each(add),
            }
        });
        out.sort_by(|a, b| a.brand.cmp(&b.brand));
        out
    }

    /// Scores every player of every owned partition (one partition under
    /// the lock at a time) and keeps the `limit` riskiest.
    fn riskiest(&self, band: Option<Band>, limit: usize) -> Vec<PlayerInfo> {
        let mut best: Vec<PlayerInfo> = Vec::new();
        self.health.live().for_each_engine(|engine| {
            let currency = &engine.config().currency.reporting;
            for view in engine.players() {
                if band.is_some_and(|b| view.state.verdict.band != b) {
                    continue;
                }
                best.push(PlayerInfo::from_view(&view, engine.clock(), currency));
                // Bounded memory: cut back to the best `limit` now and then.
                if best.len() >= limit.saturating_mul(2).max(64) {
                    best.sort_by(riskier_first);
                    best.truncate(limit);
                }
            }
        });
        best.sort_by(riskier_first);
        best.truncate(limit);
        best
    }
}
