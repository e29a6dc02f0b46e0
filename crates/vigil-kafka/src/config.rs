//! Kafka settings: where to read, where to write, how to batch. Part of
//! `vigil.toml` (sections `[kafka]`, `[topics]` and `[pipeline]`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_codec::output::Encoding;

mod properties;

/// A setting that cannot work, with its dotted key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `{key}`: {problem}")]
pub struct KafkaConfigError {
    pub key: String,
    pub problem: String,
}

fn err(key: &str, problem: impl Into<String>) -> KafkaConfigError {
    KafkaConfigError {
        key: key.to_owned(),
        problem: problem.into(),
    }
}

/// Connection and client settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// `host:port` list of brokers.
    pub bootstrap_servers: String,
    /// Consumer group: instances with the same id share the partitions.
    pub group_id: String,
    /// Client id reported to brokers (shows in broker logs and quotas).
    pub client_id: String,
    /// librdkafka properties for both consumer and producer, passed through
    /// as they are (e.g. `"security.protocol" = "SASL_SSL"`). From the
    /// environment, `_` in the property name stands for `.`:
    /// `VIGIL_KAFKA__PROPERTIES__SECURITY_PROTOCOL`.
    pub properties: BTreeMap<String, String>,
    /// librdkafka properties for the consumer only.
    pub consumer_properties: BTreeMap<String, String>,
    /// librdkafka properties for the producer only.
    pub producer_properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: "127.0.0.1:9092".to_owned(),
            group_id: "vigil".to_owned(),
            client_id: "vigil".to_owned(),
            properties: BTreeMap::new(),
            consumer_properties: BTreeMap::new(),
            producer_properties: BTreeMap::new(),
        }
    }
}

/// One input topic and how its values are encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputTopic {
    pub name: String,
    #[serde(default)]
    pub encoding: Encoding,
}

/// One output topic and how its values are encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputTopic {
    pub name: String,
    #[serde(default)]
    pub encoding: Encoding,
}

impl OutputTopic {
    fn new(name: &str) -> Self {
        OutputTopic {
            name: name.to_owned(),
            encoding: Encoding::Json,
        }
    }
}

/// Topic layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// Player event topics (key = player id).
    pub inputs: Vec<InputTopic>,
    /// Risk alerts.
    pub alerts: OutputTopic,
    /// Latest score per player, keyed by player id (meant to be compacted).
    pub scores: OutputTopic,
    /// Offer triggers for the campaign engine, keyed by player id.
    pub offers: OutputTopic,
    /// What happened after each alert and offer, keyed by player id.
    pub outcomes: OutputTopic,
    /// The CRM's player profiles (compacted, keyed by player id), read
    /// whole by every instance; an empty name turns profiles off.
    pub profiles: InputTopic,
    /// Undecodable or invalid input, with the reason in headers.
    pub dead_letter: String,
    /// Player state, one compacted record per player, partitioned like the
    /// inputs (used when `pipeline.state_rebuild = "changelog"`).
    pub changelog: String,
    /// Create missing output, changelog and dead-letter topics at start.
    pub create_missing: bool,
    /// Replication factor for topics vigil creates.
    pub replication_factor: i32,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            inputs: vec![InputTopic {
                name: "player-events".to_owned(),
                encoding: Encoding::Json,
            }],
            alerts: OutputTopic::new("vigil.alerts"),
            scores: OutputTopic::new("vigil.scores"),
            offers: OutputTopic::new("vigil.offers"),
            outcomes: OutputTopic::new("vigil.outcomes"),
            profiles: InputTopic {
                name: "vigil.profiles".to_owned(),
                encoding: Encoding::Json,
            },
            dead_letter: "vigil.dead-letter".to_owned(),
            changelog: "vigil.changelog".to_owned(),
            create_missing: true,
            replication_factor: 1,
        }
    }
}

/// Batching and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Most messages handled between two commits. Only a backlog fills a
    /// batch (a live stream's batches hold what arrived since the last
    /// one), so this trades catch-up throughput against the latency of a
    /// catch-up batch: 20,000 read a backlog about a tenth faster than
    /// 10,000 (13 bench pairs) at a p50 of 50 ms rather than 25; 40,000
    /// gained nothing more and doubled that.
    pub max_batch: usize,
    /// Longest wait for the first message of a batch.
    #[serde(with = "humantime_serde")]
    pub poll_timeout: Duration,
    /// A partition with no message for this long has its event-time clock
    /// moved on by the wall-clock time that passed, so silent players still
    /// alert. `0s` turns it off (useful when replaying history).
    #[serde(with = "humantime_serde")]
    pub idle_advance: Duration,
    /// An event stamped more than this far ahead of this host's clock when
    /// it is received goes to the dead-letter topic
    /// (`timestamp_in_future`) instead of the engine, whose clock never
    /// goes back: one event from 2099 would otherwise fire every silence
    /// rule for every player of its partition and make every real event
    /// after it too old, for good (the clock is in the changelog too).
    /// `0s` turns it off (for simulated time that runs ahead).
    #[serde(with = "humantime_serde")]
    pub max_event_ahead: Duration,
    /// Give up on a broker acknowledgement after this long: an output is
    /// sent again, a changelog write stops the pipeline (its order matters;
    /// the restart restores and redoes the work). Long enough by default to
    /// ride out a broker pause or a leader election.
    #[serde(with = "humantime_serde")]
    pub delivery_timeout: Duration,
    /// With `state_rebuild = "changelog"` (at least once): changed players
    /// are written to the changelog, and offsets committed after them, at
    /// most this often rather than after every batch, so a player changed
    /// by several batches in between is written once. Outputs still go out
    /// per batch. `0s` writes after every batch.
    #[serde(with = "humantime_serde")]
    pub changelog_interval: Duration,
    /// Publish score records (alerts are always published).
    pub publish_scores: bool,
    /// How a newly assigned partition gets its players' state:
    /// `changelog` restores it from the changelog topic and reads the input
    /// from the committed offset (exact, and fast to take over);
    /// `earliest` rebuilds it from the whole retained input and publishes
    /// only what comes after the committed offset (needs the input's
    /// retention to cover the players' history); `committed` starts there
    /// with empty state (players restart without a baseline).
    pub state_rebuild: crate::context::StartFrom,
    /// `at_least_once`: offsets are committed after every output and
    /// changelog record is acknowledged; a crash repeats outputs (same
    /// ids). `exactly_once`: each batch's outputs, changelog records and
    /// input offsets commit atomically in one Kafka transaction (needs
    /// Apache Kafka 2.5+ or a compatible broker, and
    /// `state_rebuild = "changelog"`); consumers of the outputs read with
    /// `isolation.level=read_committed`.
    pub processing_guarantee: Guarantee,
    /// The producer's `transactional.id` in `exactly_once` mode; must be
    /// unique per running instance. Empty: `<group_id>-<hostname>-<pid>`.
    /// A stable unique id (a StatefulSet pod name) lets a restarted
    /// instance abort its predecessor's open transaction at once instead
    /// of waiting for the transaction timeout.
    pub transactional_id: String,
}

/// What a crash may do to the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guarantee {
    /// Outputs may repeat after a crash (with the same ids).
    #[default]
    AtLeastOnce,
    /// Outputs, state and offsets commit atomically (Kafka transactions).
    ExactlyOnce,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_batch: 20_000,
            poll_timeout: Duration::from_millis(100),
            idle_advance: Duration::from_secs(5),
            max_event_ahead: Duration::from_secs(3600),
            delivery_timeout: Duration::from_secs(120),
            changelog_interval: Duration::from_millis(250),
            publish_scores: true,
            state_rebuild: crate::context::StartFrom::Changelog,
            processing_guarantee: Guarantee::AtLeastOnce,
            transactional_id: String::new(),
        }
    }
}

impl KafkaConfig {
    /// Checks the settings that would otherwise fail late, or quietly
    /// undo a guarantee (the pass-through properties: see `properties`).
    pub fn validate(&self) -> Result<(), KafkaConfigError> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err(err(
                "kafka.bootstrap_servers",
                "must list at least one host:port",
            ));
        }
        if self.group_id.trim().is_empty() {
            return Err(err("kafka.group_id", "must not be empty"));
        }
        properties::check(self)
    }
}

impl TopicsConfig {
    /// Checks the topic layout.
    pub fn validate(&self) -> Result<(), KafkaConfigError> {
        if self.inputs.is_empty() {
            return Err(err("topics.inputs", "needs at least one input topic"));
        }
        let mut names: Vec<&str> = self.inputs.iter().map(|t| t.name.as_str()).collect();
        for (i, t) in self.inputs.iter().enumerate() {
            if t.name.trim().is_empty() {
                return Err(err(
                    &format!("topics.inputs[{i}].name"),
                    "must not be empty",
                ));
            }
        }
        for (key, name) in [
            ("topics.alerts.name", &self.alerts.name),
            ("topics.scores.name", &self.scores.name),
            ("topics.offers.name", &self.offers.name),
            ("topics.outcomes.name", &self.outcomes.name),
            ("topics.dead_letter", &self.dead_letter),
            ("topics.changelog", &self.changelog),
        ] {
            if name.trim().is_empty() {
                return Err(err(key, "must not be empty"));
            }
            if names.contains(&name.as_str()) {
                return Err(err(
                    key,
                    format!("topic `{name}` is used twice; every topic needs its own name"),
                ));
            }
            names.push(name);
        }
        if !self.profiles.name.is_empty() && names.contains(&self.profiles.name.as_str()) {
            return Err(err(
                "topics.profiles.name",
                format!(
                    "topic `{}` is used twice; every topic needs its own name (empty turns profiles off)",
                    self.profiles.name
                ),
            ));
        }
        if self.replication_factor < 1 {
            return Err(err("topics.replication_factor", "must be at least 1"));
        }
        Ok(())
    }
}

impl PipelineConfig {
    /// Checks batching settings.
    pub fn validate(&self) -> Result<(), KafkaConfigError> {
        if self.max_batch == 0 {
            return Err(err("pipeline.max_batch", "must be at least 1"));
        }
        if self.delivery_timeout < Duration::from_secs(1) {
            return Err(err("pipeline.delivery_timeout", "must be at least 1s"));
        }
        Ok(())
    }

    /// Checks that `exactly_once` can work with the rest of the settings:
    /// the state must travel in the transaction (the changelog), and the
    /// client properties must not undo what transactions rest on.
    pub fn validate_guarantee(&self, kafka: &KafkaConfig) -> Result<(), KafkaConfigError> {
        if self.processing_guarantee != Guarantee::ExactlyOnce {
            if !self.transactional_id.is_empty() {
                return Err(err(
                    "pipeline.transactional_id",
                    "is only used with `pipeline.processing_guarantee = \"exactly_once\"`; remove it or set that",
                ));
            }
            return Ok(());
        }
        if self.state_rebuild != crate::context::StartFrom::Changelog {
            return Err(err(
                "pipeline.state_rebuild",
                "must be `changelog` with `processing_guarantee = \"exactly_once\"`: player state is committed with the outputs only through the changelog (`earliest` and `committed` keep it outside the transaction)",
            ));
        }
        for (section, map) in [
            ("properties", &kafka.properties),
            ("producer_properties", &kafka.producer_properties),
        ] {
            for (k, v) in map {
                let problem = match (k.as_str(), v.as_str()) {
                    ("transaction.timeout.ms", v)
                        if v.parse::<u128>()
                            .is_ok_and(|ms| ms < self.delivery_timeout.as_millis()) =>
                    {
                        "must be at least `pipeline.delivery_timeout` (librdkafka refuses a message timeout longer than the transaction timeout)"
                    }
                    _ => continue,
                };
                return Err(err(&format!("kafka.{section}.{k}"), problem));
            }
        }
        for (section, map) in [
            ("properties", &kafka.properties),
            ("consumer_properties", &kafka.consumer_properties),
        ] {
            if map
                .get("isolation.level")
                .is_some_and(|v| v != "read_committed")
            {
                return Err(err(
                    &format!("kafka.{section}.isolation.level"),
                    "must be `read_committed` with exactly_once: a restore must not read the changelog records of aborted transactions",
                ));
            }
        }
        Ok(())
    }
}
