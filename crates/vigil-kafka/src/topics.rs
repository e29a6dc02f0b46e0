//! Start-up: wait for the broker and the input topics, and create the
//! topics that are missing (scores and changelog compacted, the rest
//! deleted by retention), partitioned like the inputs. The changelog must
//! be partitioned exactly like every input, as a player's record lives in
//! the partition number of the player's input partition.

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
    #[error("cannot create admin client")]
    Client(#[source] KafkaError),
    #[error("cannot create topic `{topic}`: {error}")]
    Create { topic: String, error: String },
    #[error("topic `{topic}` has {has} partitions but input `{input}` has {want}: {fix}")]
    Partitions {
        topic: String,
        has: usize,
        input: String,
        want: usize,
        fix: &'static str,
    },
}

const INPUTS_FIX: &str = "inputs sharing a changelog must have the same partition count \
     (repartition one, or run separate vigil groups with their own `topics.changelog`)";
const CHANGELOG_FIX: &str = "a changelog is co-partitioned with the input; \
     point `topics.changelog` at a new topic (vigil creates it) and let state rebuild, \
     or repartition the input back";

/// Waits (with capped exponential backoff, logging each failure) until the
/// broker answers and every input topic exists, then creates missing
/// outputs. Returns `false` if `shutdown` fired first.
pub fn wait_and_prepare(
    config: &ClientConfig,
    topics: &TopicsConfig,
    changelog: bool,
    shutdown: &CancellationToken,
    reachable: &AtomicBool,
) -> Result<bool, TopicsError> {
    let admin: AdminClient<DefaultClientContext> = config.create().map_err(TopicsError::Client)?;
    let mut backoff = Duration::from_millis(500);
    let (partitions, existing_changelog) = loop {
        if shutdown.is_cancelled() {
            return Ok(false);
        }
        match admin.inner().fetch_metadata(None, Duration::from_secs(5)) {
            Ok(md) => {
                reachable.store(true, Ordering::Relaxed);
                let count = |name: &str| {
                    md.topics()
                        .iter()
                        .find(|t| t.name() == name && t.error().is_none())
                        .map(|t| t.partitions().len())
                        .filter(|n| *n > 0)
                };
                let counts: Vec<Option<usize>> =
                    topics.inputs.iter().map(|i| count(&i.name)).collect();
                if let Some(missing) = topics.inputs.iter().zip(&counts).find(|(_, c)| c.is_none())
                {
                    tracing::warn!(topic = %missing.0.name, "waiting for input topic to exist");
                } else {
                    break (counts[0].unwrap_or(1), count(&topics.changelog));
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
    if changelog {
        check_partitions(&admin, topics, partitions, existing_changelog)?;
    }
    if !topics.create_missing {
        return Ok(true);
    }
    let rf = || TopicReplication::Fixed(topics.replication_factor);
    let p = partitions as i32;
    let mut new = vec![
        NewTopic::new(&topics.alerts.name, p, rf()),
        NewTopic::new(&topics.scores.name, p, rf()).set("cleanup.policy", "compact"),
        NewTopic::new(&topics.offers.name, p, rf()),
        NewTopic::new(&topics.outcomes.name, p, rf()),
        NewTopic::new(&topics.dead_letter, p, rf()),
    ];
    // The CRM's topic; created (compacted: it is a table) so a trial runs
    // without it, any partition count will do as every instance reads it
    // whole.
    if !topics.profiles.name.is_empty() {
        new.push(NewTopic::new(&topics.profiles.name, p, rf()).set("cleanup.policy", "compact"));
    }
    if changelog && existing_changelog.is_none() {
        new.push(
            NewTopic::new(&topics.changelog, p, rf())
                .set("cleanup.policy", "compact")
                // Old versions of a record are garbage as soon as a newer
                // one exists: let the cleaner at them early.
                .set("min.cleanable.dirty.ratio", "0.1")
                .set("segment.ms", "3600000"),
        );
    }
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

/// Every input must have the first input's partition count, and so must the
/// changelog if it exists already.
fn check_partitions(
    admin: &AdminClient<DefaultClientContext>,
    topics: &TopicsConfig,
    want: usize,
    existing_changelog: Option<usize>,
) -> Result<(), TopicsError> {
    let first = &topics.inputs[0].name;
    let md = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(5))
        .map_err(TopicsError::Client)?;
    for input in &topics.inputs[1..] {
        let has = md
            .topics()
            .iter()
            .find(|t| t.name() == input.name)
            .map_or(0, |t| t.partitions().len());
        if has != want {
            return Err(TopicsError::Partitions {
                topic: input.name.clone(),
                has,
                input: first.clone(),
                want,
                fix: INPUTS_FIX,
            });
        }
    }
    if let Some(has) = existing_changelog
        && has != want
    {
        return Err(TopicsError::Partitions {
            topic: topics.changelog.clone(),
            has,
            input: first.clone(),
            want,
            fix: CHANGELOG_FIX,
        });
    }
    Ok(())
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

/// Makes sure `topic` exists, creating it with `partitions` partitions
/// (and `replication_factor` replicas) when it does not; returns its
/// partition count. For loaders (`vigil gen --kafka-bootstrap`), which
/// write into a topic the service will read.
pub fn ensure_topic(
    config: &ClientConfig,
    topic: &str,
    partitions: i32,
    replication_factor: i32,
) -> Result<usize, TopicsError> {
    let admin: AdminClient<DefaultClientContext> = config.create().map_err(TopicsError::Client)?;
    // All topics, not this one by name: asking for one by name lets a
    // broker with auto-creation make it with its default partition count.
    let md = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .map_err(TopicsError::Client)?;
    if let Some(n) = md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0)
    {
        return Ok(n);
    }
    let new = NewTopic::new(
        topic,
        partitions,
        TopicReplication::Fixed(replication_factor),
    );
    let results = block_on(admin.create_topics(
        [&new],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
    ))
    .map_err(|e| TopicsError::Create {
        topic: topic.to_owned(),
        error: e.to_string(),
    })?;
    for r in results {
        match r {
            Ok(_) => tracing::info!(%topic, partitions, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(TopicsError::Create {
                    topic,
                    error: code.to_string(),
                });
            }
        }
    }
    Ok(partitions.max(1) as usize)
}
