//! `vigil gen --kafka-bootstrap` against the real broker (Tansu, started by
//! `scripts/test.sh`): the topic it loads holds exactly the events the file
//! output holds, each keyed by its player id, each player's events on one
//! partition in stream order, decodable by vigil's decoders, in both
//! encodings.

mod cli;
mod support;

use std::collections::HashMap;
use std::time::Duration;

use cli::vigil;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use support::*;
use vigil_domain::PlayerEvent;

const READ: Duration = Duration::from_secs(90);
const GEN: [&str; 7] = ["gen", "--players", "50", "--days", "10", "--seed", "3"];

fn partitions_of(topic: &str) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    md.topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len())
}

/// Loads a new topic with `format` and checks it against the file output.
fn loads_like_the_file(format: &str) {
    let topic = unique("gen-events");
    let mut args = GEN.to_vec();
    args.extend(["--format", format]);
    let file = vigil(&args).stdout;
    let expected: Vec<PlayerEvent> = if format == "json" {
        file.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| vigil_codec::json::decode_event(l).unwrap())
            .collect()
    } else {
        vigil_codec::proto::DelimitedReader::new(&file[..])
            .map(|f| vigil_codec::proto::decode_event(&f.unwrap()).unwrap())
            .collect()
    };
    assert!(expected.len() > 1000, "{}", expected.len());

    let bootstrap = bootstrap();
    args.extend([
        "--kafka-bootstrap",
        &bootstrap,
        "--topic",
        &topic,
        "--partitions",
        "3",
    ]);
    let loaded = vigil(&args);
    assert!(loaded.stdout.is_empty(), "nothing on stdout when producing");
    let log = String::from_utf8_lossy(&loaded.stderr);
    assert!(log.contains("loaded events"), "{log}");
    assert_eq!(partitions_of(&topic), 3, "created with --partitions");

    let records = read_until(&topic, 3, READ, |r| r.len() >= expected.len());
    assert_eq!(records.len(), expected.len(), "every event, once");

    // By player: the partitions they were on, and their events in offset
    // order within the partition.
    let mut by_partition: HashMap<i32, Vec<&Record>> = HashMap::new();
    for r in &records {
        by_partition.entry(r.partition).or_default().push(r);
    }
    assert!(by_partition.len() > 1, "players spread over partitions");
    let mut seen: HashMap<String, (i32, Vec<PlayerEvent>)> = HashMap::new();
    for (p, mut rs) in by_partition {
        rs.sort_by_key(|r| r.offset);
        for r in rs {
            let e = if format == "json" {
                vigil_codec::json::decode_event(&r.payload)
            } else {
                vigil_codec::proto::decode_event(&r.payload)
            }
            .expect("vigil decodes every record");
            assert_eq!(
                r.key.as_deref(),
                Some(e.player_id.as_str()),
                "keyed by player"
            );
            let entry = seen
                .entry(e.player_id.to_string())
                .or_insert((p, Vec::new()));
            assert_eq!(entry.0, p, "{} on more than one partition", e.player_id);
            entry.1.push(e);
        }
    }
    let mut want: HashMap<String, Vec<PlayerEvent>> = HashMap::new();
    for e in expected {
        want.entry(e.player_id.to_string()).or_default().push(e);
    }
    assert_eq!(seen.len(), want.len());
    for (player, events) in want {
        assert_eq!(seen[&player].1, events, "{player}'s events in file order");
    }
}

#[test]
fn gen_loads_a_topic_with_json_events_keyed_by_player_in_order() {
    loads_like_the_file("json");
}

#[test]
fn gen_loads_a_topic_with_protobuf_events_keyed_by_player_in_order() {
    loads_like_the_file("proto");
}
