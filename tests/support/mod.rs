//! Test harness for the real-broker tests: the broker address comes from
//! `VIGIL_TEST_BOOTSTRAP` (set by `scripts/test.sh`, which installs and
//! starts Tansu); every test uses its own topics and consumer groups.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use vigil_domain::time::{DAY_MS, HOUR_MS};
use vigil_domain::{
    Currency, Engine, EngineConfig, Money, Output, Payload, PlayerEvent, Timestamp,
};

/// The broker the suite runs against.
pub fn bootstrap() -> String {
    std::env::var("VIGIL_TEST_BOOTSTRAP").expect(
        "VIGIL_TEST_BOOTSTRAP is not set: run the suite with ./scripts/test.sh, which installs and starts the broker",
    )
}

/// A name no other test (or earlier run against the same broker) uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn client() -> ClientConfig {
    client_on(&bootstrap())
}

fn client_on(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

pub async fn create_topic(name: &str, partitions: i32) {
    create_topic_on(&bootstrap(), name, partitions).await
}

/// [`create_topic`] on the broker at `bootstrap`.
pub async fn create_topic_on(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = client_on(bootstrap).create().unwrap();
    let res = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    for r in res {
        r.unwrap();
    }
}

/// Produces `(partition, key, payload)` records and waits for every acknowledgement.
pub async fn produce(topic: &str, records: &[(i32, String, Vec<u8>)]) {
    produce_on(&bootstrap(), topic, records).await
}

/// [`produce`] to the broker at `bootstrap`.
pub async fn produce_on(bootstrap: &str, topic: &str, records: &[(i32, String, Vec<u8>)]) {
    let producer: FutureProducer = client_on(bootstrap).set("linger.ms", "5").create().unwrap();
    let futures: Vec<_> = records
        .iter()
        .map(|(p, k, v)| {
            producer
                .send_result(
                    FutureRecord::to(topic)
                        .partition(*p)
                        .key(k.as_bytes())
                        .payload(v),
                )
                .unwrap()
        })
        .collect();
    for f in futures {
        f.await.unwrap().unwrap();
    }
}

/// One record with producer headers, to partition 0, waiting for its
/// acknowledgement.
pub async fn produce_with_headers(
    topic: &str,
    key: &str,
    payload: &[u8],
    headers: &[(&str, &str)],
) {
    let producer: FutureProducer = client().create().unwrap();
    let mut owned = rdkafka::message::OwnedHeaders::new();
    for (name, value) in headers {
        owned = owned.insert(rdkafka::message::Header {
            key: name,
            value: Some(*value),
        });
    }
    let record = FutureRecord::to(topic)
        .partition(0)
        .key(key)
        .payload(payload)
        .headers(owned);
    producer
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(e, _)| e)
        .unwrap();
}

/// A consumed record.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// Reads `topic` from the beginning (all partitions) until `done` holds for
/// what was read, or `timeout` passes.
pub fn read_until(
    topic: &str,
    partitions: i32,
    timeout: Duration,
    done: impl Fn(&[Record]) -> bool,
) -> Vec<Record> {
    read_until_on(&bootstrap(), topic, partitions, timeout, done)
}

/// [`read_until`] from the broker at `bootstrap`.
pub fn read_until_on(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
    done: impl Fn(&[Record]) -> bool,
) -> Vec<Record> {
    let consumer: BaseConsumer = client_on(bootstrap)
        .set("group.id", unique("reader"))
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let start = Instant::now();
    // `done` may decode everything read so far: ask it only when the
    // reader has caught up, not once per record.
    let mut caught_up = true;
    while start.elapsed() < timeout && !(caught_up && done(&out)) {
        let polled = consumer.poll(Duration::from_millis(200));
        caught_up = polled.is_none();
        if let Some(Ok(m)) = polled {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|x| {
                            (
                                x.key.to_owned(),
                                String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Record {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: m.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
    }
    out
}

/// Committed offsets of `group` on `topic`, by partition.
pub fn committed(group: &str, topic: &str, partitions: i32) -> HashMap<i32, i64> {
    committed_on(&bootstrap(), group, topic, partitions)
}

/// [`committed`] on the broker at `bootstrap`.
pub fn committed_on(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> HashMap<i32, i64> {
    let consumer: BaseConsumer = client_on(bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let c = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    c.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

/// A `vigil run` child process with its log captured.
pub struct Vigil {
    child: Child,
    pub http: String,
    /// The HTTP port and the configuration file, for tests that rewrite it.
    pub port: u16,
    pub config_path: std::path::PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Topics and group of one test's vigil.
#[derive(Debug, Clone)]
pub struct Setup {
    pub input: String,
    pub alerts: String,
    pub scores: String,
    pub offers: String,
    pub outcomes: String,
    pub profiles: String,
    pub dlq: String,
    pub changelog: String,
    pub group: String,
    pub partitions: i32,
    pub input_encoding: &'static str,
    pub alerts_encoding: &'static str,
    /// `pipeline.idle_advance`; `0s` (off) unless a test needs the wall clock.
    pub idle_advance: &'static str,
    /// More TOML, appended to the configuration.
    pub extra: String,
    /// More `[pipeline]` keys.
    pub pipeline_extra: String,
    /// Another broker than the suite's (e.g. a mock cluster's address).
    pub bootstrap: Option<String>,
    /// `topics.create_missing` (the mock cluster has no CreateTopics).
    pub create_missing: bool,
    /// The consumer's `session.timeout.ms` and `max.poll.interval.ms`:
    /// short by default, so a dead member is noticed quickly.
    pub session_timeout_ms: u32,
    pub max_poll_interval_ms: u32,
    /// `pipeline.max_batch`: small (500) so that a test's few thousand
    /// events make many batches.
    pub max_batch: usize,
}

impl Setup {
    pub fn new(partitions: i32) -> Self {
        Setup {
            input: unique("events"),
            alerts: unique("alerts"),
            scores: unique("scores"),
            offers: unique("offers"),
            outcomes: unique("outcomes"),
            profiles: unique("profiles"),
            dlq: unique("dlq"),
            changelog: unique("changelog"),
            group: unique("vigil"),
            partitions,
            input_encoding: "json",
            alerts_encoding: "json",
            idle_advance: "0s",
            extra: String::new(),
            pipeline_extra: String::new(),
            bootstrap: None,
            create_missing: true,
            session_timeout_ms: 6000,
            max_poll_interval_ms: 10_000,
            max_batch: 500,
        }
    }

    /// The group's committed offsets on the input, summed over partitions
    /// (the input messages handled and acknowledged, for a group that
    /// started at the beginning).
    pub fn committed_total(&self) -> i64 {
        committed_on(&self.broker(), &self.group, &self.input, self.partitions)
            .values()
            .sum()
    }

    /// The broker this setup runs against.
    pub fn broker(&self) -> String {
        self.bootstrap.clone().unwrap_or_else(bootstrap)
    }

    pub fn config(&self, http_port: u16) -> String {
        format!(
            r#"
[kafka]
bootstrap_servers = "{bootstrap}"
group_id = "{group}"
[kafka.consumer_properties]
"session.timeout.ms" = "{session}"
"heartbeat.interval.ms" = "500"
# Members that die without leaving are dropped when they miss a rebalance
# by this much (Tansu 0.6 does not expire them by session timeout alone).
"max.poll.interval.ms" = "{max_poll}"
[topics]
inputs = [{{ name = "{input}", encoding = "{ienc}" }}]
alerts = {{ name = "{alerts}", encoding = "{aenc}" }}
scores = {{ name = "{scores}" }}
offers = {{ name = "{offers}" }}
outcomes = {{ name = "{outcomes}" }}
profiles = {{ name = "{profiles}" }}
dead_letter = "{dlq}"
changelog = "{changelog}"
create_missing = {create_missing}
[pipeline]
idle_advance = "{idle}"
max_batch = {max_batch}
{pipeline_extra}
[http]
listen = "127.0.0.1:{http_port}"
{extra}
"#,
            bootstrap = self.broker(),
            create_missing = self.create_missing,
            session = self.session_timeout_ms,
            max_poll = self.max_poll_interval_ms,
            pipeline_extra = self.pipeline_extra,
            max_batch = self.max_batch,
            group = self.group,
            input = self.input,
            ienc = self.input_encoding,
            alerts = self.alerts,
            aenc = self.alerts_encoding,
            scores = self.scores,
            offers = self.offers,
            outcomes = self.outcomes,
            profiles = self.profiles,
            dlq = self.dlq,
            changelog = self.changelog,
            idle = self.idle_advance,
            extra = self.extra,
        )
    }
}

impl Vigil {
    pub fn start(setup: &Setup) -> Vigil {
        Vigil::start_with(|port| setup.config(port))
    }

    /// Starts `vigil run` with the configuration `config` gives for a free
    /// HTTP port.
    pub fn start_with(config: impl FnOnce(u16) -> String) -> Vigil {
        let port = free_port();
        let dir = std::env::temp_dir().join(unique("vigil-test"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vigil.toml");
        std::fs::write(&path, config(port)).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info,rdkafka=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Vigil {
            child,
            http: format!("http://127.0.0.1:{port}"),
            port,
            config_path: path,
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// GET on the HTTP endpoint: status and body (`None` if not listening).
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = reqwest::get(format!("{}{path}", self.http)).await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// Waits until `/readyz` says ready (group joined, partitions assigned).
    pub async fn wait_ready(&self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Some((200, _)) = self.get("/readyz").await {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "vigil not ready after {timeout:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the instance has handled `n` input messages (scored or
    /// rejected), read from its own `/metrics`.
    pub async fn wait_consumed(&self, n: usize, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Some((200, body)) = self.get("/metrics").await {
                let handled: f64 = body
                    .lines()
                    .filter(|l| {
                        l.starts_with("vigil_events_consumed_total{")
                            || l.starts_with("vigil_events_rejected_total{")
                    })
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum();
                if handled as usize >= n {
                    return;
                }
            }
            assert!(
                start.elapsed() < timeout,
                "vigil did not handle {n} messages in {timeout:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The sum of the series on `/metrics` whose line starts with
    /// `prefix` (a metric name, or a name with the start of its labels);
    /// `None` when no series matches or the endpoint does not answer.
    pub async fn metric(&self, prefix: &str) -> Option<f64> {
        let body = self.get("/metrics").await?.1;
        let values: Vec<f64> = body
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    /// Waits until `done` holds for the instance's `/metrics` figure
    /// `prefix` (see [`Vigil::metric`]).
    pub async fn wait_metric(&self, prefix: &str, timeout: Duration, done: impl Fn(f64) -> bool) {
        let start = Instant::now();
        while !self.metric(prefix).await.is_some_and(&done) {
            assert!(
                start.elapsed() < timeout,
                "{prefix} never reached the expected value in {timeout:?} (now {:?}); log:\n{}",
                self.metric(prefix).await,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Input partitions this instance owns, from its `/metrics`.
    pub async fn partitions(&self) -> usize {
        let body = self.get("/metrics").await.map(|r| r.1).unwrap_or_default();
        body.lines()
            .find(|l| l.starts_with("vigil_partitions_assigned "))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0) as usize
    }

    /// Waits until the instance owns `n` partitions and is ready (their
    /// state restored).
    pub async fn wait_partitions(&self, n: i32, timeout: Duration) {
        let start = Instant::now();
        while self.partitions().await != n as usize
            || self.get("/readyz").await.map(|r| r.0) != Some(200)
        {
            assert!(
                start.elapsed() < timeout,
                "never owned {n} partitions; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the group has committed `n` offsets in all (every input
    /// message handled and its work acknowledged).
    pub async fn wait_committed(&self, setup: &Setup, n: usize, timeout: Duration) {
        let start = Instant::now();
        loop {
            let done = setup.committed_total();
            if done as usize >= n {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "committed {done} of {n} in {timeout:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the `/metrics` figure `series` (see [`Vigil::metric`])
    /// is at least `at_least`.
    pub async fn wait_metric_at_least(&self, series: &str, at_least: f64, timeout: Duration) {
        self.wait_metric(series, timeout, |v| v >= at_least).await;
    }

    /// Replaces the configuration file at once (write and rename), so a
    /// reader never sees half of it.
    pub fn rewrite_config(&self, text: &str) {
        let tmp = self.config_path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.config_path).unwrap();
    }

    /// SIGHUP: reload the configuration.
    pub fn hangup(&self) {
        self.signal("-HUP");
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        self.signal("-TERM");
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log();
        (status, log)
    }

    /// Waits for the process to exit on its own; its status and log.
    pub async fn wait_exit(mut self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log());
            }
            assert!(
                start.elapsed() < timeout,
                "still running after {timeout:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL: a crash, nothing flushed or committed.
    pub fn kill(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Vigil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scripted population over `days` days: steady players, players who
/// fade, players who stop dead. Returns events in time order, each with
/// the partition its player goes to.
pub fn population(players: u32, days: i64, partitions: i32) -> Vec<(i32, PlayerEvent)> {
    let eur = Currency::parse("EUR").unwrap();
    let t0 = 1_790_000_000_000i64;
    let mut out = Vec::new();
    for p in 0..players {
        let id = format!("p{p:04}");
        let partition = (p as i32) % partitions;
        let fate = p % 3; // 0 steady, 1 fades after day 30, 2 stops after day 35
        for d in 0..days {
            let active = match fate {
                0 => true,
                1 => d < 30 || (d % 3 == 0 && d < 45),
                _ => d < 35,
            };
            if !active {
                continue;
            }
            let start = t0 + d * DAY_MS + (18 + (p as i64 % 4)) * HOUR_MS;
            let bets = if fate == 1 && d >= 30 { 2 } else { 8 };
            out.push((
                partition,
                ev(
                    &id,
                    d,
                    0,
                    start,
                    Payload::Login {
                        channel: Some("web".into()),
                    },
                ),
            ));
            for b in 0..bets {
                out.push((
                    partition,
                    ev(
                        &id,
                        d,
                        b + 1,
                        start + (b + 1) * 60_000,
                        Payload::Bet {
                            stake: Money {
                                amount: 2.5,
                                currency: eur,
                            },
                            game: vigil_domain::event::Game::Slots,
                            win: None,
                        },
                    ),
                ));
            }
        }
    }
    out.sort_by_key(|(_, e)| (e.ts, e.event_id.clone()));
    out
}

fn ev(player: &str, day: i64, n: i64, ts: i64, payload: Payload) -> PlayerEvent {
    PlayerEvent {
        event_id: format!("{player}-{day}-{n}").into(),
        player_id: player.into(),
        brand: "casino-a".into(),
        ts: Timestamp::from_millis(ts),
        payload,
    }
}

/// Engine settings under which every evaluation publishes a score, so the
/// last score record of a player is the engine's final word on them; and
/// the same as a `[engine.scores]` table for the service's configuration.
pub fn every_score_config() -> (EngineConfig, String) {
    let mut cfg = EngineConfig::default();
    cfg.scores.min_delta = 0.0;
    cfg.scores.min_interval = Duration::ZERO;
    let toml = "[engine.scores]\nmin_delta = 0.0\nmin_interval = \"0s\"\n".to_owned();
    (cfg, toml)
}

/// Everything one engine per partition emits for these events, in the
/// order the pipeline sees them, every buffer flushed at the end (as a
/// graceful shutdown does).
fn partitioned_run(
    events: &[(i32, PlayerEvent)],
    partitions: i32,
    cfg: &EngineConfig,
) -> Vec<Output> {
    reference_run(events, partitions, cfg, &[])
}

/// Everything one engine per partition emits for these events, with these
/// profiles loaded first (shared by the engines, as in the service), in
/// the order the pipeline sees them, every buffer flushed at the end.
pub fn reference_run(
    events: &[(i32, PlayerEvent)],
    partitions: i32,
    cfg: &EngineConfig,
    profiles: &[vigil_codec::retention::ProfileRecord],
) -> Vec<Output> {
    let book = vigil_domain::SharedProfiles::default();
    for r in profiles {
        book.write()
            .set(&r.brand, &r.player_id, Some(r.profile.clone()));
    }
    let mut engines: Vec<Engine> = (0..partitions)
        .map(|_| {
            let mut e = Engine::new(cfg.clone()).unwrap();
            e.share_profiles(book.clone());
            e
        })
        .collect();
    let mut out = Vec::new();
    for (p, e) in events {
        let _ = engines[*p as usize].ingest(e.clone(), &mut out);
    }
    for e in &mut engines {
        e.flush(&mut out);
    }
    out
}

/// The last score record per player that one engine per partition emits
/// for these events, flushed at the end (as a graceful shutdown does).
pub fn expected_final_scores(
    events: &[(i32, PlayerEvent)],
    partitions: i32,
    cfg: &EngineConfig,
) -> HashMap<String, vigil_domain::ScoreRecord> {
    partitioned_run(events, partitions, cfg)
        .into_iter()
        .filter_map(|o| match o {
            // As the service publishes it: JSON rounds the figures.
            Output::Score(s) => {
                let json =
                    vigil_codec::output::encode_score(&s, vigil_codec::output::Encoding::Json);
                let s = vigil_codec::output::decode_score_json(&json).unwrap();
                Some((s.player_id.clone(), s))
            }
            _ => None,
        })
        .collect()
}

/// The last score record per player on a scores topic (JSON), in offset
/// order: what a compacted topic keeps.
pub fn final_scores(records: &[Record]) -> HashMap<String, vigil_domain::ScoreRecord> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by_key(|r| (r.partition, r.offset));
    sorted
        .into_iter()
        .map(|r| {
            let s = vigil_codec::output::decode_score_json(&r.payload).unwrap();
            (s.player_id.clone(), s)
        })
        .collect()
}

/// The alerts a per-partition engine emits for these events, in the order
/// the pipeline sees them, with every buffer flushed at the end (as a
/// graceful shutdown does).
pub fn expected_alerts(events: &[(i32, PlayerEvent)], partitions: i32) -> Vec<vigil_domain::Alert> {
    expected_alerts_with(events, partitions, &EngineConfig::default())
}

/// [`expected_alerts`] under other engine settings.
pub fn expected_alerts_with(
    events: &[(i32, PlayerEvent)],
    partitions: i32,
    cfg: &EngineConfig,
) -> Vec<vigil_domain::Alert> {
    partitioned_run(events, partitions, cfg)
        .into_iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// Events as JSON records for `produce`, keyed by player id.
pub fn encode_events(events: &[(i32, PlayerEvent)]) -> Vec<(i32, String, Vec<u8>)> {
    events
        .iter()
        .map(|(p, e)| {
            (
                *p,
                e.player_id.to_string(),
                vigil_codec::json::encode_event(e).into_bytes(),
            )
        })
        .collect()
}

fn alert_id_set(alerts: &[vigil_domain::Alert]) -> std::collections::BTreeSet<String> {
    alerts.iter().map(|a| a.alert_id.clone()).collect()
}

pub fn alerts_of(records: &[Record]) -> Vec<vigil_domain::Alert> {
    records
        .iter()
        .map(|r| vigil_codec::output::decode_alert_json(&r.payload).unwrap())
        .collect()
}

/// The outcome every scenario must reach: alerts and final scores as one
/// uninterrupted run would have them.
pub fn assert_as_uninterrupted(setup: &Setup, events: &[(i32, PlayerEvent)], log: &str) {
    assert_as_uninterrupted_reading(setup, events, log, |_| true);
}

/// [`assert_as_uninterrupted`] over the output records `keep` accepts
/// (e.g. those of committed transactions only, as a read_committed
/// consumer of a real broker would see them).
pub fn assert_as_uninterrupted_reading(
    setup: &Setup,
    events: &[(i32, PlayerEvent)],
    log: &str,
    keep: impl Fn(&Record) -> bool,
) {
    let keep_all = |r: Vec<Record>| r.into_iter().filter(|r| keep(r)).collect::<Vec<_>>();
    let (cfg, _) = every_score_config();
    let want_alerts = alert_id_set(&expected_alerts_with(events, setup.partitions, &cfg));
    let got = keep_all(read_until_on(
        &setup.broker(),
        &setup.alerts,
        setup.partitions,
        Duration::from_secs(90),
        |r| {
            let kept: Vec<Record> = r.iter().filter(|r| keep(r)).cloned().collect();
            alert_id_set(&alerts_of(&kept)) == want_alerts
        },
    ));
    let got_alerts = alert_id_set(&alerts_of(&got));
    let lost: Vec<_> = want_alerts.difference(&got_alerts).collect();
    let extra: Vec<_> = got_alerts.difference(&want_alerts).collect();
    assert!(
        lost.is_empty() && extra.is_empty(),
        "lost alerts {lost:?}, unexpected alerts {extra:?}\n{log}"
    );

    let want = expected_final_scores(events, setup.partitions, &cfg);
    let scores = keep_all(read_until_on(
        &setup.broker(),
        &setup.scores,
        setup.partitions,
        Duration::from_secs(90),
        |r| {
            let kept: Vec<Record> = r.iter().filter(|r| keep(r)).cloned().collect();
            final_scores(&kept) == want
        },
    ));
    let got = final_scores(&scores);
    for (player, w) in &want {
        assert_eq!(got.get(player), Some(w), "final score of {player}\n{log}");
    }
    assert_eq!(got.len(), want.len());
}

/// A setup whose service publishes a score at every evaluation.
pub fn scoring_setup(partitions: i32) -> Setup {
    let mut s = Setup::new(partitions);
    s.extra = every_score_config().1;
    s
}

/// Engine settings under which every event is applied and scored at once
/// and every evaluation publishes: the last published score of a player
/// is exactly what the engine holds for them. With
/// [`settled_population`] the engine's clock ends at every player's last
/// event, so the live view scores them as that last record did.
pub fn settled_config() -> (EngineConfig, String) {
    let (mut cfg, _) = every_score_config();
    cfg.allowed_lateness = Duration::ZERO;
    cfg.evaluation_interval = Duration::ZERO;
    let toml = "[engine]\nallowed_lateness = \"0s\"\nevaluation_interval = \"0s\"\n\
                [engine.scores]\nmin_delta = 0.0\nmin_interval = \"0s\"\n"
        .to_owned();
    (cfg, toml)
}

/// [`population`], then one login for every player at the same moment,
/// an hour after the last event: every partition's clock ends there.
pub fn settled_population(players: u32, days: i64, partitions: i32) -> Vec<(i32, PlayerEvent)> {
    let mut events = population(players, days, partitions);
    let end = events.last().map(|(_, e)| e.ts.as_millis()).unwrap_or(0) + HOUR_MS;
    events.extend(closing_logins(players, partitions, end, "end"));
    events
}

/// One login per player of [`population`] at `ts`, with event ids tagged `tag`.
pub fn closing_logins(
    players: u32,
    partitions: i32,
    ts: i64,
    tag: &str,
) -> Vec<(i32, PlayerEvent)> {
    (0..players)
        .map(|p| {
            let id = format!("p{p:04}");
            let e = PlayerEvent {
                event_id: format!("{id}-{tag}").into(),
                player_id: id.into(),
                brand: "casino-a".into(),
                ts: Timestamp::from_millis(ts),
                payload: Payload::Login { channel: None },
            };
            ((p as i32) % partitions, e)
        })
        .collect()
}
