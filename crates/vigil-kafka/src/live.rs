//! The running pipeline's two doors to the rest of the process, reached
//! through [`crate::Health`]: read access to its engines (for the player
//! lookup API) and a slot for new engine settings (for config reloads).
//!
//! Neither ever blocks the pipeline for long: readers take the core's lock
//! one partition at a time, and new settings wait in their own slot until
//! the pipeline picks them up between batches, so every event of a batch
//! is scored under one set.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use vigil_domain::{Engine, EngineConfig};

use crate::pipeline::{Core, lock};

/// See the module documentation.
#[derive(Default)]
pub struct Live {
    core: OnceLock<Weak<Mutex<Core>>>,
    pending: Mutex<Option<EngineConfig>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("attached", &self.core.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Live {
    /// Hands new engine settings (already validated, and checked against
    /// the running set with `EngineConfig::check_live_change`) to the
    /// pipeline, which applies them to every engine at the start of its
    /// next batch. A newer offer replaces one not yet applied.
    pub fn offer_engine_config(&self, cfg: EngineConfig) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(cfg);
    }

    pub(crate) fn take_engine_config(&self) -> Option<EngineConfig> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub(crate) fn attach(&self, core: &Arc<Mutex<Core>>) {
        let _ = self.core.set(Arc::downgrade(core));
    }

    /// Calls `f` with the engine of every partition this instance owns,
    /// holding the pipeline's lock for one partition at a time (so `f`
    /// should be quick). May wait while a partition is being restored;
    /// call it from a thread that may block. Nothing is called before the
    /// pipeline has connected or after it has stopped.
    pub fn for_each_engine(&self, mut f: impl FnMut(&Engine)) {
        let Some(core) = self.core.get().and_then(Weak::upgrade) else {
            return;
        };
        let keys = lock(&core).partition_keys();
        for key in keys {
            let core = lock(&core);
            if let Some(engine) = core.engine(&key) {
                f(engine);
            }
        }
    }

    /// Like [`Live::for_each_engine`], a slice of at most `players`
    /// players at a time: `f` gets an engine and the positions of the
    /// slice (see `Engine::players_in`), and the lock is let go between
    /// slices, so a walk over a million players holds up the partition for
    /// one slice at a time, not the whole walk. A partition reassigned
    /// meanwhile is walked on in its new engine.
    pub fn for_each_engine_slice(
        &self,
        players: u32,
        mut f: impl FnMut(&Engine, std::ops::Range<u32>),
    ) {
        let players = players.max(1);
        let Some(core) = self.core.get().and_then(Weak::upgrade) else {
            return;
        };
        let keys = lock(&core).partition_keys();
        for key in keys {
            let mut start = 0u32;
            loop {
                let core = lock(&core);
                let Some(engine) = core.engine(&key) else {
                    break;
                };
                if start as usize >= engine.player_count() {
                    break;
                }
                let end = start.saturating_add(players);
                f(engine, start..end);
                start = end;
            }
        }
    }
}
