//! Start-up: wait for the broker and the input topics, and create the
//! output topics that are missing (scores compacted, the rest deleted by
//! retention), partitioned like the first input.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use tokio_util::sync::CancellationToken;

use crate::config::TopicsConfig;

/// Why topics could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    #[error("cannot create admin client: {0}")]
    Client(#[source] KafkaError),
    #[error("cannot create topic `{topic}`: {error}")]
    Create { topic: String, error: String },
}

/// Waits (with capped exponential backoff, logging each failure) until the
/// broker answers and every input topic exists, then creates missing
/// outputs. Returns `false` if `shutdown` fired first.
pub fn wait_and_prepare(
    config: &ClientConfig,
    topics: &TopicsConfig,
    shutdown: &CancellationToken,
    reachable: &AtomicBool,
) -> Result<bool, TopicsError> {
    let admin: AdminClient<DefaultClientContext> = config.create().map_err(TopicsError::Client)?;
    let mut backoff = Duration::from_millis(500);
    let partitions = loop {
        if shutdown.is_cancelled() {
            return Ok(false);
        }
        match admin.inner().fetch_metadata(None, Duration::from_secs(5)) {
            Ok(md) => {
                reachable.store(true, Ordering::Relaxed);
                let counts: Vec<Option<usize>> = topics
                    .inputs
                    .iter()
                    .map(|i| {
                        md.topics()
                            .iter()
                            .find(|t| t.name() == i.name && t.error().is_none())
                            .map(|t| t.partitions().len())
                            .filter(|n| *n > 0)
                    })
                    .collect();
                if let Some(missing) = topics.inputs.iter().zip(&counts).find(|(_, c)| c.is_none())
                {
                    tracing::warn!(topic = %missing.0.name, "waiting for input topic to exist");
                } else {
                    break counts[0].unwrap_or(1);
                }
            }
            Err(e) => {
                reachable.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, retry_in = ?backoff, "broker not reachable");
            }
        }
        if wait(shutdown, backoff) {
            return Ok(false);
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    };
    if !topics.create_missing {
        return Ok(true);
    }
    let rf = || TopicReplication::Fixed(topics.replication_factor);
    let p = partitions as i32;
    let new = [
        NewTopic::new(&topics.alerts.name, p, rf()),
        NewTopic::new(&topics.scores.name, p, rf()).set("cleanup.policy", "compact"),
        NewTopic::new(&topics.offers.name, p, rf()),
        NewTopic::new(&topics.dead_letter, p, rf()),
    ];
    let results = block_on(admin.create_topics(
        &new,
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
    ))
    .map_err(|e| TopicsError::Create {
        topic: "(all)".into(),
        error: e.to_string(),
    })?;
    for r in results {
        match r {
            Ok(topic) => tracing::info!(%topic, partitions, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(TopicsError::Create {
                    topic,
                    error: code.to_string(),
                });
            }
        }
    }
    Ok(true)
}

/// Sleeps for `d` unless shutdown comes first; returns whether it did.
fn wait(shutdown: &CancellationToken, d: Duration) -> bool {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() {
        if shutdown.is_cancelled() {
            return true;
        }
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
    shutdown.is_cancelled()
}
