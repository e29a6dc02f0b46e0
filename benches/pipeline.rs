//! End-to-end throughput through a real broker: loads N events into a
//! topic, measures a bare rdkafka consumer reading them back (the raw
//! rate), then vigil's pipeline consuming, scoring and publishing them in
//! the same run, then the bare consumer again, and prints the rates, the
//! ratio of vigil's to the bare consumer's mean and the
//! receive-to-publish latency percentiles from vigil's own histogram.
//!
//! Needs a broker: `VIGIL_TEST_BOOTSTRAP=host:port cargo bench -p vigil
//! --bench pipeline [-- EVENTS]` (`scripts/bench-pipeline.sh` starts Tansu
//! and runs it). Without the variable it says so and exits.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusBuilder;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use vigil_kafka::{
    Health, InputTopic, KafkaConfig, Pipeline, PipelineConfig, PipelineSettings, StartFrom,
    TopicsConfig,
};
use vigil_sim::{Population, SimConfig};

/// The allocator the `vigil` binary uses, so the figure is the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTITIONS: i32 = 2;

fn main() {
    let Ok(bootstrap) = std::env::var("VIGIL_TEST_BOOTSTRAP") else {
        println!(
            "pipeline bench: set VIGIL_TEST_BOOTSTRAP to a broker (scripts/bench-pipeline.sh does); skipped"
        );
        return;
    };
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(if full { 1_000_000 } else { 20_000 });
    let run = std::process::id();
    let topic = format!("bench-events-{run}");

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin client");
    futures::executor::block_on(admin.create_topics(
        &[NewTopic::new(
            &topic,
            PARTITIONS,
            TopicReplication::Fixed(1),
        )],
        &AdminOptions::new(),
    ))
    .expect("create topic");

    // The input topic's encoding: JSON lines (default) or protobuf, as a
    // topic's `encoding` key sets it in the service.
    let encoding = encoding_from_env("VIGIL_BENCH_FORMAT");
    // The output topics' encoding (alerts, scores, offers): JSON (default,
    // as the service's default) or protobuf, as `topics.<name>.encoding`
    // sets it.
    let output_encoding = encoding_from_env("VIGIL_BENCH_OUTPUT_FORMAT");
    // The broker's process, when the script started it, so its CPU time
    // can be read too: it serves both readers and absorbs vigil's outputs.
    let broker_pid: Option<u32> = std::env::var("VIGIL_BENCH_BROKER_PID")
        .ok()
        .and_then(|v| v.parse().ok());
    let broker_cpu = || broker_pid.map_or(0.0, |pid| cpu_seconds(&format!("/proc/{pid}/stat")));

    // Load: a population large enough for N events, in that encoding.
    let players = (n / 200).max(100) as u32;
    let events: Vec<_> = Population::new(SimConfig {
        seed: 5,
        players,
        days: 30,
        ..SimConfig::default()
    })
    .events()
    .take(n)
    .collect();
    let n = events.len();
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .create()
        .expect("producer");
    let load = Instant::now();
    for e in &events {
        let payload = match encoding {
            vigil_codec::output::Encoding::Json => vigil_codec::json::encode_event(e).into_bytes(),
            vigil_codec::output::Encoding::Protobuf => vigil_codec::proto::encode_event(e),
        };
        let mut record = BaseRecord::to(&topic)
            .key(e.player_id.as_bytes())
            .payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let load_secs = load.elapsed().as_secs_f64();

    // Raw: a bare consumer reading everything back, here and again once
    // vigil is done. The bare rate moves by a fifth between runs minutes
    // apart on a shared 2-core machine; read on both sides of vigil's
    // phase, its mean is a steadier yardstick, and the two readings show
    // how far it moved meanwhile.
    let before = raw_consume(
        &bootstrap,
        &topic,
        n,
        &format!("bench-raw-{run}"),
        &broker_cpu,
    );

    // vigil: the real pipeline, in this process.
    let handle = PrometheusBuilder::new()
        .set_buckets(&vigil_kafka::metrics::LATENCY_BUCKETS)
        .expect("buckets")
        .install_recorder()
        .expect("recorder");
    // As the service reads it: `changelog` (default) writes every changed
    // player's state; `committed` and `earliest` write none.
    let state_rebuild = match std::env::var("VIGIL_PIPELINE__STATE_REBUILD").as_deref() {
        Ok("earliest") => StartFrom::Earliest,
        Ok("committed") => StartFrom::Committed,
        Ok("changelog") | Err(_) => StartFrom::Changelog,
        Ok(other) => panic!("VIGIL_PIPELINE__STATE_REBUILD: unknown mode {other}"),
    };
    let settings = PipelineSettings {
        kafka: KafkaConfig {
            bootstrap_servers: bootstrap.clone(),
            group_id: format!("bench-vigil-{run}"),
            // `key=value,key=value`, as `kafka.consumer_properties` and
            // `kafka.producer_properties` set them in the service.
            consumer_properties: properties("VIGIL_BENCH_CONSUMER_PROPERTIES"),
            producer_properties: properties("VIGIL_BENCH_PRODUCER_PROPERTIES"),
            ..KafkaConfig::default()
        },
        topics: TopicsConfig {
            inputs: vec![InputTopic {
                name: topic.clone(),
                encoding,
            }],
            alerts: vigil_kafka::OutputTopic {
                name: format!("bench-alerts-{run}"),
                encoding: output_encoding,
            },
            scores: vigil_kafka::OutputTopic {
                name: format!("bench-scores-{run}"),
                encoding: output_encoding,
            },
            offers: vigil_kafka::OutputTopic {
                name: format!("bench-offers-{run}"),
                encoding: output_encoding,
            },
            dead_letter: format!("bench-dlq-{run}"),
            changelog: format!("bench-changelog-{run}"),
            ..TopicsConfig::default()
        },
        pipeline: PipelineConfig {
            idle_advance: Duration::ZERO,
            publish_scores: std::env::var_os("NO_SCORES").is_none(),
            state_rebuild,
            max_batch: std::env::var("VIGIL_PIPELINE__MAX_BATCH")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(PipelineConfig::default().max_batch),
            changelog_interval: std::env::var("VIGIL_PIPELINE__CHANGELOG_INTERVAL")
                .ok()
                .map(|v| humantime::parse_duration(&v).expect("VIGIL_PIPELINE__CHANGELOG_INTERVAL"))
                .unwrap_or(PipelineConfig::default().changelog_interval),
            ..PipelineConfig::default()
        },
        engine: vigil_domain::EngineConfig {
            rescore_interval: std::env::var("VIGIL_ENGINE__RESCORE_INTERVAL")
                .ok()
                .map(|v| humantime::parse_duration(&v).expect("VIGIL_ENGINE__RESCORE_INTERVAL"))
                .unwrap_or(vigil_domain::EngineConfig::default().rescore_interval),
            ..vigil_domain::EngineConfig::default()
        },
    };
    let settings_max_batch = settings.pipeline.max_batch;
    let settings_interval = settings.pipeline.changelog_interval;
    let health = Arc::new(Health::default());
    let stop = CancellationToken::new();
    let worker = {
        let (health, stop) = (health.clone(), stop.clone());
        std::thread::Builder::new()
            .name("vigil-pipeline".into())
            .spawn(move || {
                if let Some(p) = Pipeline::connect(settings, health, &stop).expect("connect") {
                    p.run(&stop).expect("pipeline");
                }
            })
            .expect("thread")
    };
    let mut first = None;
    let (mut vigil_cpu0, mut vigil_broker0) = (0.0, 0.0);
    let mut threads0 = BTreeMap::new();
    let (mut faults0, mut steal0) = (0, 0.0);
    loop {
        let done = health.status().events as usize;
        if done > 0 && first.is_none() {
            first = Some((Instant::now(), done));
            vigil_cpu0 = process_cpu_seconds();
            faults0 = minor_faults();
            steal0 = steal_seconds();
            vigil_broker0 = broker_cpu();
            threads0 = thread_cpu();
        }
        if done >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (t0, at_first) = first.expect("started");
    let vigil_secs = t0.elapsed().as_secs_f64();
    let vigil_rate = (n - at_first) as f64 / vigil_secs;
    let vigil_cpu = process_cpu_seconds() - vigil_cpu0;
    let vigil_broker = broker_cpu() - vigil_broker0;
    let vigil_faults = minor_faults().saturating_sub(faults0);
    let steal = steal_seconds() - steal0;
    let mut threads = thread_cpu();
    for (name, (run, wait)) in &mut threads {
        let (run0, wait0) = threads0.get(name).copied().unwrap_or((0, 0));
        *run = run.saturating_sub(run0);
        *wait = wait.saturating_sub(wait0);
    }
    stop.cancel();
    worker.join().expect("pipeline thread");
    let after = raw_consume(
        &bootstrap,
        &topic,
        n,
        &format!("bench-raw-after-{run}"),
        &broker_cpu,
    );
    let raw_rate = (before.rate(n) + after.rate(n)) / 2.0;
    let (p50, p99) = percentiles(
        &handle.render(),
        "vigil_receive_to_publish_seconds_bucket{output=\"score\"",
    );
    println!(
        "events:                 {n} ({players} players, {PARTITIONS} partitions), loaded at {:.0}/s",
        n as f64 / load_secs
    );
    println!("input encoding:         {encoding:?}");
    println!("output encoding:        {output_encoding:?}");
    println!("state_rebuild:          {state_rebuild:?}");
    println!("max_batch:              {}", settings_max_batch);
    println!("changelog_interval:     {settings_interval:?}");
    println!(
        "raw consume:            {raw_rate:.0} events/s (mean of {:.0} before vigil and {:.0} after)",
        before.rate(n),
        after.rate(n)
    );
    println!(
        "vigil consume+score+publish: {vigil_rate:.0} events/s ({:.2} of raw; {:.2} of before, {:.2} of after)",
        vigil_rate / raw_rate,
        vigil_rate / before.rate(n),
        vigil_rate / after.rate(n)
    );
    // CPU time of this process (every thread, the broker's not included):
    // steadier than wall-clock rates on a machine shared with other work.
    println!(
        "CPU per event:          raw {:.2} us, vigil {:.2} us (this process, broker excluded)",
        (before.cpu + after.cpu) * 1e6 / 2.0 / n as f64,
        vigil_cpu * 1e6 / (n - at_first).max(1) as f64
    );
    if broker_pid.is_some() {
        println!(
            "broker CPU per event:   raw {:.2} us, vigil {:.2} us (the broker's process, same windows)",
            (before.broker + after.broker) * 1e6 / 2.0 / n as f64,
            vigil_broker * 1e6 / (n - at_first).max(1) as f64
        );
    }
    // Which threads the vigil phase's CPU went to: the pipeline loop, its
    // workers, librdkafka's broker threads (fetching and parsing for the
    // consumer, sending for the producer), the producer's poll thread.
    let per_event = |ns: u64| ns as f64 / 1e3 / (n - at_first).max(1) as f64;
    let per_thread = |pick: fn(&(u64, u64)) -> u64| -> String {
        threads
            .iter()
            .filter(|&(_, t)| per_event(t.0) >= 0.005)
            .map(|(name, t)| format!("{name} {:.2}", per_event(pick(t))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("CPU per event by thread: {} (us)", per_thread(|t| t.0));
    // Time each thread was ready to run but waited for a core (the broker
    // and the other threads had them): on two cores, contention rather
    // than work.
    println!(
        "run-queue wait by thread: {} (us per event)",
        per_thread(|t| t.1)
    );
    println!(
        "wall time per event:    {:.2} us",
        vigil_secs * 1e6 / (n - at_first).max(1) as f64
    );
    // A page fault is a fresh page the kernel zeroes: memory the allocator
    // gave back and took again, or the working set still growing.
    println!(
        "minor page faults:      {:.4} per event (this process)",
        vigil_faults as f64 / (n - at_first).max(1) as f64
    );
    // Time the hypervisor gave this machine's CPUs to others: runs with
    // much of it are slow for reasons outside vigil.
    println!(
        "CPU stolen:             {:.1} % of the machine's CPU time in vigil's phase",
        100.0 * steal / (vigil_secs * cpus()).max(1e-9)
    );
    println!("receive-to-publish:     p50 <= {p50} s, p99 <= {p99} s (histogram bucket bounds)");
    let text = handle.render();
    let counter = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    println!(
        "published per input event: {:.3} score records, {:.3} changelog records, {:.1} changelog bytes",
        counter("vigil_scores_published_total") / n as f64,
        counter("vigil_changelog_records_total") / n as f64,
        counter("vigil_changelog_bytes_total") / n as f64,
    );
    for l in text.lines().filter(|l| {
        l.starts_with("vigil_batches_total")
            || l.starts_with("vigil_changelog_records_total")
            || l.starts_with("vigil_changelog_bytes_total")
            || l.starts_with("vigil_scores_published_total")
            || l.starts_with("vigil_batch_duration_seconds_sum")
            || l.starts_with("vigil_batch_duration_seconds_count")
    }) {
        println!("  {l}");
    }
}

/// What one bare consumer's read of the whole topic took.
struct Raw {
    /// From its first message to its last.
    secs: f64,
    /// This process's CPU time over the read.
    cpu: f64,
    /// The broker's CPU time from the first message on.
    broker: f64,
}

impl Raw {
    fn rate(&self, n: usize) -> f64 {
        n as f64 / self.secs.max(1e-9)
    }
}

/// Reads the topic's `n` messages from the beginning with a bare
/// consumer, one `poll` a message, as an application without vigil would.
fn raw_consume(
    bootstrap: &str,
    topic: &str,
    n: usize,
    group: &str,
    broker_cpu: &dyn Fn() -> f64,
) -> Raw {
    let raw: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("fetch.wait.max.ms", "10")
        // The same fetch settings as the pipeline's consumer.
        .set("fetch.queue.backoff.ms", "10")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    raw.assign(&tpl).expect("assign");
    let cpu0 = process_cpu_seconds();
    let mut broker0 = broker_cpu();
    let (mut got, mut first) = (0usize, None);
    while got < n {
        if let Some(Ok(_)) = raw.poll(Duration::from_millis(100)) {
            if first.is_none() {
                first = Some(Instant::now());
                broker0 = broker_cpu();
            }
            got += 1;
        }
    }
    Raw {
        secs: first.map_or(0.0, |f| f.elapsed().as_secs_f64()),
        cpu: process_cpu_seconds() - cpu0,
        broker: broker_cpu() - broker0,
    }
}

/// librdkafka properties from a `key=value,key=value` variable (none when
/// it is unset).
fn properties(var: &str) -> std::collections::BTreeMap<String, String> {
    std::env::var(var)
        .unwrap_or_default()
        .split(',')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{var}: `{kv}` is not key=value"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// User + system CPU time of this process so far, from `/proc/self/stat`
/// (0 where there is none).
fn process_cpu_seconds() -> f64 {
    cpu_seconds("/proc/self/stat")
}

/// User + system CPU time of the process whose `stat` file this is.
fn cpu_seconds(path: &str) -> f64 {
    // utime and stime are the 14th and 15th fields of the line, in clock
    // ticks (100 a second on Linux).
    (stat_field(path, 14) + stat_field(path, 15)) as f64 / 100.0
}

/// CPU time the hypervisor stole from this machine so far, over all its
/// CPUs (the `steal` column of `/proc/stat`'s `cpu` line, in clock ticks).
fn steal_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .find(|l| l.starts_with("cpu "))
        .and_then(|l| l.split_whitespace().nth(8)?.parse::<f64>().ok())
        .map_or(0.0, |ticks| ticks / 100.0)
}

/// CPUs this process may run on.
fn cpus() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// Minor page faults of this process so far (the 10th field of its
/// `stat`).
fn minor_faults() -> u64 {
    stat_field("/proc/self/stat", 10)
}

/// A numeric field of a `/proc/PID/stat` line, counted from 1 as in
/// proc(5) (0 where there is none).
fn stat_field(path: &str, field: usize) -> u64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0;
    };
    // The command name (field 2) is parenthesised and may hold spaces:
    // fields are counted from the state, the 3rd, after its `)`.
    let Some(rest) = stat.rsplit(')').next() else {
        return 0;
    };
    rest.split_whitespace()
        .nth(field.saturating_sub(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time of this process's threads so far and the time they waited on
/// a run queue, in nanoseconds, summed by thread name with digits dropped
/// (librdkafka numbers its broker threads by broker id, which differs
/// between runs), from each thread's `schedstat` (nanosecond resolution,
/// where `stat` counts 10 ms ticks).
fn thread_cpu() -> BTreeMap<String, (u64, u64)> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(comm), Ok(sched)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("schedstat")),
        ) else {
            continue;
        };
        let mut fields = sched.split_whitespace().map(|v| v.parse::<u64>().ok());
        let (Some(Some(run)), Some(Some(wait))) = (fields.next(), fields.next()) else {
            continue;
        };
        let name: String = comm
            .trim()
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .collect();
        let entry: &mut (u64, u64) = by_name.entry(name).or_default();
        entry.0 += run;
        entry.1 += wait;
    }
    by_name
}

/// Upper bounds of the buckets holding the 50th and 99th percentiles.
fn percentiles(text: &str, prefix: &str) -> (String, String) {
    let buckets: Vec<(String, f64)> = text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?.to_owned();
            let count = l.rsplit(' ').next()?.parse().ok()?;
            Some((le, count))
        })
        .collect();
    let total = buckets.last().map_or(0.0, |b| b.1);
    let at = |q: f64| {
        buckets
            .iter()
            .find(|b| b.1 >= q * total)
            .map_or("?".to_owned(), |b| b.0.clone())
    };
    (at(0.5), at(0.99))
}

/// An encoding named by an environment variable (`json`, `proto` or
/// `protobuf`, as the service's `encoding` keys take them); JSON if unset.
fn encoding_from_env(name: &str) -> vigil_codec::output::Encoding {
    std::env::var(name).map_or(vigil_codec::output::Encoding::Json, |v| {
        v.parse().unwrap_or_else(|e: String| panic!("{name}: {e}"))
    })
}
