//! Whether the broker answers, for `/readyz`. A hung broker keeps its
//! connections open, so librdkafka reports nothing for as long as its
//! request timeouts; a metadata request every few seconds from a client of
//! its own notices within seconds, and the pipeline thread never waits on
//! it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use tokio_util::sync::CancellationToken;

use crate::pipeline::Health;

const EVERY: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(3);

/// Probes until `shutdown`, updating `health`.
pub(crate) fn spawn(
    config: &ClientConfig,
    topic: String,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> Result<(), rdkafka::error::KafkaError> {
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let spawned = std::thread::Builder::new()
        .name("broker-probe".into())
        .spawn(move || {
            while !shutdown.is_cancelled() {
                let ok = admin.inner().fetch_metadata(Some(&topic), TIMEOUT).is_ok();
                let was = health.broker_reachable.swap(ok, Ordering::Relaxed);
                if was != ok {
                    if ok {
                        tracing::info!("broker answers again");
                    } else {
                        tracing::warn!(timeout = ?TIMEOUT, "broker does not answer");
                    }
                }
                let mut left = EVERY;
                while !left.is_zero() && !shutdown.is_cancelled() {
                    let step = left.min(Duration::from_millis(100));
                    std::thread::sleep(step);
                    left -= step;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the broker probe; readiness will not see broker outages");
    }
    Ok(())
}
