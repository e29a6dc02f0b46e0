//! What handing one record to librdkafka costs the calling thread, with
//! and without an (empty) header list, the way the pipeline sends its
//! score records. Against librdkafka's mock cluster (in-process); only the
//! sending thread's CPU time is counted, so the cluster's own work and the
//! deliveries are not.
//!
//! `cargo run --release -p vigil-kafka --example send_cost [RECORDS]`

// A bench binary: its figures are its output.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::message::OwnedHeaders;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

/// Shaped like the pipeline's delivery ticket: a group's counter and an
/// index.
struct Ticket {
    _group: Arc<u64>,
    _index: u32,
}

struct Context;
impl ClientContext for Context {}
impl ProducerContext for Context {
    type DeliveryOpaque = Box<Ticket>;
    fn delivery(&self, _: &DeliveryResult<'_>, _: Box<Ticket>) {}
}

/// The calling thread's CPU time, in nanoseconds (the first field of
/// `schedstat`; `stat` counts clock ticks only).
fn thread_cpu_ns() -> Result<u64, Box<dyn std::error::Error>> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    Ok(s.split_whitespace()
        .next()
        .ok_or("empty schedstat")?
        .parse()?)
}

/// The queue is far larger than what is sent between flushes, so no send
/// waits for room.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(300_000), |s| s.parse())?;
    let mock = MockCluster::new(1)?;
    mock.create_topic("scores", 2, 1)?;
    let producer: ThreadedProducer<Context> = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "10000000")
        .set("queue.buffering.max.kbytes", "2000000")
        .create_with_context(Context)?;
    let group = Arc::new(0u64);
    let keys: Vec<Vec<u8>> = (0..2500)
        .map(|i| format!("player-{i:06}").into_bytes())
        .collect();
    let payload = [7u8; 140];
    let ticket = |i: usize| {
        Box::new(Ticket {
            _group: group.clone(),
            _index: i as u32,
        })
    };
    // The topic's metadata first, so every timed send is partitioned.
    producer
        .send(BaseRecord::<[u8], _, _>::with_opaque_to("scores", ticket(0)).payload(&payload[..]))
        .map_err(|(e, _)| e)?;
    producer.flush(Duration::from_secs(10))?;
    for round in 1..=3 {
        for with_headers in [true, false] {
            let start = thread_cpu_ns()?;
            for i in 0..n {
                let mut record = BaseRecord::with_opaque_to("scores", ticket(i))
                    .payload(&payload[..])
                    .key(&keys[i % keys.len()][..]);
                if with_headers {
                    record = record.headers(OwnedHeaders::new_with_capacity(0));
                }
                producer.send(record).map_err(|(e, _)| e)?;
            }
            let per = (thread_cpu_ns()? - start) as f64 / n as f64 / 1e3;
            let what = if with_headers {
                "empty header list"
            } else {
                "no header list"
            };
            println!("round {round}: {what:17} {per:.3} µs a send");
            producer.flush(Duration::from_secs(60))?;
        }
    }
    Ok(())
}
