//! `vigil demo`: the whole service on a laptop with nothing installed.
//!
//! Starts librdkafka's in-process mock cluster, feeds it a synthetic
//! population (some of whom drift away) as fast as a rate limit allows,
//! runs the real pipeline against it with the real HTTP endpoints (the
//! player lookup API included), and
//! prints what happens: events per second, players by band, and alerts as
//! they arrive on the alerts topic.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tokio_util::sync::CancellationToken;
use vigil_domain::Timestamp;
use vigil_sim::{Population, SimConfig};

use crate::config::Config;
use crate::run::{Service, install_metrics, on_signals};

/// Arguments of `vigil demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Players in the synthetic population.
    #[arg(long, default_value_t = 3000)]
    pub players: u32,
    /// Days of activity to simulate.
    #[arg(long, default_value_t = 70)]
    pub days: u32,
    /// Events per second fed to the broker (simulated time runs this fast).
    #[arg(long, default_value_t = 25_000)]
    pub rate: u32,
    /// Random seed of the population.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where to serve /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub http: std::net::SocketAddr,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
}

const PARTITIONS: i32 = 4;

/// Runs the demo until Ctrl-C (or `--duration`).
pub async fn run(args: DemoArgs, mut cfg: Config) -> anyhow::Result<()> {
    let metrics = install_metrics()?;
    let shutdown = CancellationToken::new();
    on_signals(shutdown.clone());

    let cluster = MockCluster::new(1).context("cannot start the in-process Kafka mock cluster")?;
    let bootstrap = cluster.bootstrap_servers();
    let input = cfg.topics.inputs[0].name.clone();
    // The mock cluster has no CreateTopics API: topics are made here.
    for topic in [
        &input,
        &cfg.topics.alerts.name,
        &cfg.topics.scores.name,
        &cfg.topics.offers.name,
        &cfg.topics.dead_letter,
        &cfg.topics.changelog,
    ] {
        cluster
            .create_topic(topic, PARTITIONS, 1)
            .with_context(|| format!("cannot create topic {topic}"))?;
    }
    cfg.kafka.bootstrap_servers = bootstrap.clone();
    cfg.topics.create_missing = false;
    cfg.http.listen = args.http;
    // Simulated time runs far faster than the wall clock, and may run
    // past it (`--days`).
    cfg.pipeline.idle_advance = Duration::ZERO;
    cfg.pipeline.max_event_ahead = Duration::ZERO;

    let service = Service::start(cfg.clone(), metrics, shutdown.clone()).await?;
    eprintln!(
        "vigil demo: mock Kafka at {bootstrap}, metrics at http://{}/metrics",
        service.http_addr
    );
    eprintln!(
        "vigil demo: riskiest players at http://{}/v1/players?band=red&limit=10",
        service.http_addr
    );
    eprintln!(
        "vigil demo: {} players over {} days at {} events/s; Ctrl-C to stop\n",
        args.players, args.days, args.rate
    );

    let feeder = {
        let (bootstrap, topic, stop) = (bootstrap.clone(), input.clone(), shutdown.clone());
        let sim = SimConfig {
            seed: args.seed,
            players: args.players,
            days: args.days,
            ..SimConfig::default()
        };
        let rate = args.rate;
        tokio::task::spawn_blocking(move || feed(&bootstrap, &topic, sim, rate, &stop))
    };
    let watcher = {
        let (bootstrap, topic, stop, health) = (
            bootstrap.clone(),
            cfg.topics.alerts.name.clone(),
            shutdown.clone(),
            service.health.clone(),
        );
        tokio::task::spawn_blocking(move || watch(&bootstrap, &topic, &health, &stop))
    };
    if let Some(d) = args.duration {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            stop.cancel();
        });
    }
    let fed = feeder.await.context("feeder panicked")??;
    let result = service.wait().await;
    shutdown.cancel();
    let alerts = watcher.await.context("watcher panicked")?;
    eprintln!("\nvigil demo: fed {fed} events, saw {alerts} alerts");
    drop(cluster);
    result
}

/// Produces the population's events, paced to `rate` per second.
fn feed(
    bootstrap: &str,
    topic: &str,
    sim: SimConfig,
    rate: u32,
    stop: &CancellationToken,
) -> anyhow::Result<u64> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()?;
    let started = Instant::now();
    let mut n = 0u64;
    for event in Population::new(sim).events() {
        if stop.is_cancelled() {
            break;
        }
        let payload = vigil_codec::json::encode_event(&event);
        let mut record = BaseRecord::to(topic)
            .key(event.player_id.as_bytes())
            .payload(payload.as_bytes());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        n += 1;
        // Pace: never run ahead of `rate` events per second.
        let due = Duration::from_secs_f64(n as f64 / rate.max(1) as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    producer.flush(Duration::from_secs(10))?;
    Ok(n)
}

/// Prints alerts as they land on the alerts topic, and a status line every
/// two seconds. Player ids are not shown: alerts are identified by their id.
fn watch(
    bootstrap: &str,
    topic: &str,
    health: &vigil_kafka::Health,
    stop: &CancellationToken,
) -> u64 {
    let Ok(consumer) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "vigil-demo-viewer")
        .set("auto.offset.reset", "earliest")
        .create::<BaseConsumer>()
    else {
        return 0;
    };
    if consumer.subscribe(&[topic]).is_err() {
        return 0;
    }
    let mut err = std::io::stderr();
    let (mut seen, mut last_events, mut tick) = (0u64, 0u64, Instant::now());
    while !stop.is_cancelled() {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200))
            && let Some(a) = m
                .payload()
                .and_then(|p| vigil_codec::output::decode_alert_json(p).ok())
        {
            seen += 1;
            let why: Vec<String> = a
                .reasons
                .iter()
                .take(3)
                .map(|r| match r.change_pct {
                    Some(pct) => format!("{} {:+.0}%", r.signal.as_str(), pct),
                    None => r.signal.as_str().to_owned(),
                })
                .collect();
            let _ = writeln!(
                err,
                "  ALERT {:<11} {:>6} -> {:<6} score {:>5.1} (was {:>5.1})  {}  [{}  {}]",
                a.kind.as_str(),
                a.prev_band.as_str(),
                a.band.as_str(),
                a.score,
                a.prev_score,
                why.join(", "),
                &a.alert_id[..12],
                day(a.ts),
            );
        }
        if tick.elapsed() >= Duration::from_secs(2) {
            let s = health.status();
            let rate = (s.events - last_events) as f64 / tick.elapsed().as_secs_f64();
            let _ = writeln!(
                err,
                "[{:>8.0} events/s] players {:>6}: green {:>6}  yellow {:>5}  red {:>5} | alerts {seen}",
                rate, s.players, s.bands[0], s.bands[1], s.bands[2]
            );
            last_events = s.events;
            tick = Instant::now();
        }
    }
    seen
}

fn day(ts: Timestamp) -> String {
    ts.to_string().chars().take(10).collect()
}
