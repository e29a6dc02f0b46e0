//! The player lookup API's directory: the engines of the partitions this
//! instance owns, read through the pipeline's [`vigil_kafka::Live`].
//! Each instance serves only its own players; see docs/operations.md for
//! querying a whole group.

use std::sync::Arc;

use vigil_domain::Band;
use vigil_http::{LISTING_SLICE, PlayerDirectory, PlayerInfo, RiskiestPicker};
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

    /// Looks at every player of every owned partition, scoring those in
    /// `band`, and keeps the `limit` riskiest. The lock is held for
    /// [`LISTING_SLICE`] players at a time.
    fn riskiest(&self, band: Option<Band>, limit: usize) -> Vec<PlayerInfo> {
        let mut picker = RiskiestPicker::new(band, limit);
        self.health
            .live()
            .for_each_engine_slice(LISTING_SLICE, |engine, range| picker.scan(engine, range));
        picker.finish()
    }
}
