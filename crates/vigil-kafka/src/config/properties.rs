//! The librdkafka properties passed through (`kafka.properties`,
//! `kafka.consumer_properties`, `kafka.producer_properties`), checked
//! before any client is made.
//!
//! Two kinds of mistakes are caught here rather than at start or, worse,
//! not at all:
//! - what librdkafka itself would refuse: an unknown property (a typo such
//!   as `lingr.ms`) or a value it cannot read (`linger.ms = "soon"`).
//!   librdkafka only checks these when a client is made, so `vigil
//!   check-config` would have called such a file fine;
//! - what librdkafka accepts but vigil's guarantees do not survive: a
//!   producer that no longer keeps one player's records in order, delivery
//!   reports that never come for records that landed (nothing would ever
//!   be committed), or a rebalance protocol the pipeline's hand-over of
//!   partition state does not follow (partitions would be "assigned" but
//!   never fetched).

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;

use super::{KafkaConfig, KafkaConfigError, err};

/// Which of vigil's clients a map of properties reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reaches {
    Both,
    Consumer,
    Producer,
}

impl Reaches {
    fn producer(self) -> bool {
        self != Reaches::Consumer
    }
    fn consumer(self) -> bool {
        self != Reaches::Producer
    }
}

/// The three maps, with their dotted keys' prefixes.
fn maps(k: &KafkaConfig) -> [(&'static str, &BTreeMap<String, String>, Reaches); 3] {
    [
        ("properties", &k.properties, Reaches::Both),
        (
            "consumer_properties",
            &k.consumer_properties,
            Reaches::Consumer,
        ),
        (
            "producer_properties",
            &k.producer_properties,
            Reaches::Producer,
        ),
    ]
}

/// librdkafka's reading of a boolean (`true`, `t`, `1`; anything else it
/// accepts is false).
fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "t" | "1")
}

/// Why vigil refuses `key = value` in a map that reaches `reaches`, if it
/// does.
fn refusal(key: &str, value: &str, reaches: Reaches) -> Option<&'static str> {
    let problem = match key {
        "enable.auto.commit" | "enable.auto.offset.store" => {
            "is managed by vigil (offsets are committed only after outputs are acknowledged); remove it"
        }
        "bootstrap.servers" => "is managed by vigil; set `kafka.bootstrap_servers` instead",
        "group.id" => "is managed by vigil; set `kafka.group_id` instead",
        "enable.idempotence" if reaches.producer() && !truthy(value) => {
            "must stay `true`: without the idempotent producer a retried batch can land after a newer one, and the compacted `scores` and changelog topics would keep a player's older record as the latest; remove it"
        }
        "acks" | "request.required.acks"
            if reaches.producer() && !value.eq_ignore_ascii_case("all") && value != "-1" =>
        {
            "must be `all` (or `-1`): vigil commits an input offset once its outputs are on every in-sync replica, and the idempotent producer requires it; remove it"
        }
        "delivery.report.only.error" if reaches.producer() && truthy(value) => {
            "must stay `false`: vigil commits an input offset only when the delivery reports of all its outputs have come, so with only failures reported nothing would ever be committed; remove it"
        }
        "transactional.id" if reaches.producer() => {
            "is managed by vigil: the producer is transactional only with `pipeline.processing_guarantee = \"exactly_once\"`, with the id from `pipeline.transactional_id` (a transactional producer outside a transaction refuses every record); remove it"
        }
        "message.timeout.ms" | "delivery.timeout.ms" if reaches.producer() => {
            "is set by vigil from `pipeline.delivery_timeout` (how long a record may take to be acknowledged before the batch is retried); set that instead"
        }
        "partition.assignment.strategy"
            if reaches.consumer()
                && value
                    .split(',')
                    .any(|s| s.trim().eq_ignore_ascii_case("cooperative-sticky")) =>
        {
            "cannot include `cooperative-sticky`: vigil rebalances eagerly (a partition's state is handed over whole, on revoke and assign); use `range`, `roundrobin` or `range,roundrobin` (the default)"
        }
        "group.protocol" if reaches.consumer() && !value.eq_ignore_ascii_case("classic") => {
            "must be `classic`: the `consumer` protocol (KIP-848) rebalances incrementally, and vigil hands a partition's state over whole on eager rebalances; remove it"
        }
        _ => return None,
    };
    Some(problem)
}

/// Checks every pass-through property: vigil's own rules first, then
/// librdkafka's reading of the name and the value (each alone, so the
/// error names the key that is wrong).
pub(super) fn check(k: &KafkaConfig) -> Result<(), KafkaConfigError> {
    for (section, map, reaches) in maps(k) {
        for (key, value) in map {
            if let Some(problem) = refusal(key, value, reaches) {
                return Err(err(&format!("kafka.{section}.{key}"), problem));
            }
            if let Err(e) = ClientConfig::new().set(key, value).create_native_config() {
                let problem = match e {
                    KafkaError::ClientConfig(_, description, ..) => description,
                    other => other.to_string(),
                };
                return Err(err(
                    &format!("kafka.{section}.{key}"),
                    format!("librdkafka refuses it: {problem}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(section: &str, key: &str, value: &str) -> KafkaConfig {
        let mut k = KafkaConfig::default();
        let map = match section {
            "properties" => &mut k.properties,
            "consumer_properties" => &mut k.consumer_properties,
            _ => &mut k.producer_properties,
        };
        map.insert(key.to_owned(), value.to_owned());
        k
    }

    fn refused(section: &str, key: &str, value: &str) -> Option<KafkaConfigError> {
        check(&with(section, key, value)).err()
    }

    #[test]
    fn what_librdkafka_cannot_read_is_refused_by_name() {
        let e = refused("producer_properties", "lingr.ms", "5").unwrap();
        assert_eq!(e.key, "kafka.producer_properties.lingr.ms");
        assert!(e.problem.contains("No such configuration property"), "{e}");
        let e = refused("consumer_properties", "fetch.wait.max.ms", "soon").unwrap();
        assert_eq!(e.key, "kafka.consumer_properties.fetch.wait.max.ms");
        assert!(e.problem.contains("librdkafka refuses it"), "{e}");
        let e = refused("properties", "security.protocol", "carrier_pigeon").unwrap();
        assert_eq!(e.key, "kafka.properties.security.protocol");
    }

    #[test]
    fn ordinary_tuning_passes() {
        for (section, key, value) in [
            ("producer_properties", "linger.ms", "20"),
            ("producer_properties", "compression.type", "zstd"),
            ("producer_properties", "enable.idempotence", "true"),
            ("producer_properties", "acks", "all"),
            ("properties", "acks", "-1"),
            ("properties", "acks", "ALL"),
            ("consumer_properties", "session.timeout.ms", "30000"),
            (
                "consumer_properties",
                "partition.assignment.strategy",
                "roundrobin",
            ),
            ("consumer_properties", "group.protocol", "classic"),
            ("properties", "security.protocol", "SASL_SSL"),
            ("properties", "client.id", "vigil-0"),
            // Producer rules do not reach the consumer's own map.
            ("consumer_properties", "acks", "1"),
        ] {
            assert_eq!(
                refused(section, key, value),
                None,
                "{section}.{key} = {value}"
            );
        }
    }

    #[test]
    fn what_would_break_a_guarantee_is_refused_with_the_reason() {
        for (section, key, value, says) in [
            (
                "producer_properties",
                "enable.idempotence",
                "false",
                "idempotent producer",
            ),
            (
                "properties",
                "enable.idempotence",
                "0",
                "idempotent producer",
            ),
            ("producer_properties", "acks", "1", "every in-sync replica"),
            ("properties", "acks", "0", "every in-sync replica"),
            (
                "producer_properties",
                "request.required.acks",
                "1",
                "every in-sync replica",
            ),
            (
                "producer_properties",
                "delivery.report.only.error",
                "true",
                "nothing would ever be committed",
            ),
            (
                "producer_properties",
                "message.timeout.ms",
                "1000",
                "pipeline.delivery_timeout",
            ),
            (
                "properties",
                "delivery.timeout.ms",
                "1000",
                "pipeline.delivery_timeout",
            ),
            (
                "consumer_properties",
                "partition.assignment.strategy",
                "cooperative-sticky",
                "eagerly",
            ),
            (
                "properties",
                "partition.assignment.strategy",
                "range, Cooperative-Sticky",
                "eagerly",
            ),
            (
                "consumer_properties",
                "group.protocol",
                "consumer",
                "`classic`",
            ),
            (
                "properties",
                "enable.auto.commit",
                "true",
                "managed by vigil",
            ),
            (
                "consumer_properties",
                "group.id",
                "other",
                "`kafka.group_id`",
            ),
            (
                "properties",
                "bootstrap.servers",
                "h:9092",
                "`kafka.bootstrap_servers`",
            ),
        ] {
            let e = refused(section, key, value)
                .unwrap_or_else(|| panic!("{section}.{key} = {value} passed"));
            assert_eq!(e.key, format!("kafka.{section}.{key}"));
            assert!(e.problem.contains(says), "{e}");
        }
    }
}
