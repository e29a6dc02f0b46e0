//! The Grafana dashboard (deploy/grafana) and the Prometheus alert rules
//! (deploy/prometheus) against the service itself: every metric a panel or
//! rule queries, every label it matches or groups by, and every label value
//! it compares with, must be in a running `vigil run`'s `/metrics`. A panel
//! or rule added later is checked the same way, and a metric the service
//! adds must get a panel.
//!
//! `promtool check rules` / `promtool test rules` run in scripts/test.sh
//! when promtool is installed; the parsing here holds without it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, VectorSelector};
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;
use support::*;

/// Series Prometheus makes itself for every target, not exported by vigil.
const PROMETHEUS_SYNTHETIC: &[&str] = &["up"];
/// Labels Prometheus attaches to every scraped series.
const TARGET_LABELS: &[&str] = &["job", "instance"];
/// Metrics whose series are labelled by partition, so they appear only once
/// partitions are assigned; every other metric a panel or rule uses must be
/// on `/metrics` from the first scrape (`vigil_kafka::metrics::register_known_series`).
const APPEAR_ON_ASSIGNMENT: &[&str] = &["vigil_consumer_lag_messages"];
/// vigil metric families deliberately left off the dashboard (none yet).
/// A new metric fails `dashboard_and_rules_query_only_what_a_running_vigil_exports`
/// until it gets a panel or is
/// listed here with the reason.
const NOT_ON_DASHBOARD: &[&str] = &[];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn dashboard() -> Json {
    serde_json::from_str(&read("deploy/grafana/vigil-dashboard.json")).expect("dashboard is JSON")
}

fn yaml(rel: &str) -> Yaml {
    serde_yaml_ng::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

/// A PromQL expression and where it was found, for messages.
#[derive(Debug, Clone)]
struct Query {
    origin: String,
    expr: String,
    /// For `label_values(selector, label)`: the label it lists.
    lists_label: Option<String>,
}

/// Every expression of the dashboard: panel targets (rows' nested panels
/// included), annotations, and the variables' `label_values` queries.
fn dashboard_queries(d: &Json) -> Vec<Query> {
    fn walk(v: &Json, origin: &str, out: &mut Vec<Query>) {
        match v {
            Json::Object(m) => {
                let origin = match m.get("title").and_then(Json::as_str) {
                    Some(t) => format!("{origin} / {t}"),
                    None => match m.get("name").and_then(Json::as_str) {
                        Some(n) => format!("{origin} / {n}"),
                        None => origin.to_owned(),
                    },
                };
                if let Some(Json::String(e)) = m.get("expr") {
                    out.push(Query {
                        origin: origin.clone(),
                        expr: e.clone(),
                        lists_label: None,
                    });
                }
                for (k, v) in m {
                    if k != "templating" {
                        walk(v, &origin, out);
                    }
                }
            }
            Json::Array(a) => a.iter().for_each(|v| walk(v, origin, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(d, "dashboard", &mut out);
    for var in d["templating"]["list"].as_array().expect("templating.list") {
        if var["type"] != "query" {
            continue;
        }
        let q = match &var["query"] {
            Json::String(s) => s.clone(),
            Json::Object(o) => o["query"].as_str().unwrap_or_default().to_owned(),
            _ => String::new(),
        };
        let origin = format!("variable ${}", var["name"].as_str().unwrap_or("?"));
        let inner = q
            .trim()
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| {
                panic!("{origin}: only label_values(selector, label) is checked: {q}")
            });
        let (selector, label) = inner
            .rsplit_once(',')
            .unwrap_or_else(|| panic!("{origin}: label_values needs a selector: {q}"));
        out.push(Query {
            origin,
            expr: selector.trim().to_owned(),
            lists_label: Some(label.trim().to_owned()),
        });
    }
    out
}

/// Every rule expression of a rule file's `groups`.
fn rule_queries(groups: &Yaml) -> Vec<Query> {
    let mut out = Vec::new();
    for g in groups.as_sequence().expect("groups is a list") {
        for r in g["rules"].as_sequence().expect("rules is a list") {
            let name = r["alert"].as_str().or(r["record"].as_str()).unwrap_or("?");
            out.push(Query {
                origin: format!("rule {name}"),
                expr: r["expr"].as_str().expect("expr is a string").to_owned(),
                lists_label: None,
            });
        }
    }
    out
}

/// Grafana variables replaced by values PromQL accepts: intervals by a
/// duration, the rest (which only appear inside label values) by `.*`.
fn substitute(expr: &str) -> String {
    let s = expr
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
        } else {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                chars.next();
            }
        }
        out.push_str(".*");
    }
    out
}

/// A selector: metric name and label matchers (`Some(value)` for `=`).
#[derive(Debug)]
struct Selector {
    metric: String,
    matchers: Vec<(String, Option<String>)>,
}

/// Labels an aggregation groups by (or a binary operation matches on), and
/// the metrics beneath it that must carry them.
#[derive(Debug)]
struct Grouping {
    labels: Vec<String>,
    metrics: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct Uses {
    selectors: Vec<Selector>,
    groupings: Vec<Grouping>,
}

fn selector(v: &VectorSelector, out: &mut Uses) -> BTreeSet<String> {
    let name = v.name.clone().or_else(|| {
        v.matchers
            .matchers
            .iter()
            .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone())
    });
    let Some(metric) = name else {
        return BTreeSet::new();
    };
    let matchers = v
        .matchers
        .matchers
        .iter()
        .filter(|m| m.name != "__name__")
        .map(|m| {
            let value = matches!(m.op, MatchOp::Equal).then(|| m.value.clone());
            (m.name.clone(), value)
        })
        .collect();
    out.selectors.push(Selector {
        metric: metric.clone(),
        matchers,
    });
    BTreeSet::from([metric])
}

/// Collects what `e` asks of the metrics; returns the metrics beneath it.
fn walk(e: &Expr, out: &mut Uses) -> BTreeSet<String> {
    match e {
        Expr::Aggregate(a) => {
            let mut below = walk(&a.expr, out);
            if let Some(p) = &a.param {
                below.extend(walk(p, out));
            }
            if let Some(m) = &a.modifier {
                out.groupings.push(Grouping {
                    labels: m.labels().labels.clone(),
                    metrics: below.clone(),
                });
            }
            below
        }
        Expr::Binary(b) => {
            let mut below = walk(&b.lhs, out);
            below.extend(walk(&b.rhs, out));
            if let Some(m) = b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                out.groupings.push(Grouping {
                    labels: m.labels().labels.clone(),
                    metrics: below.clone(),
                });
            }
            below
        }
        Expr::Unary(u) => walk(&u.expr, out),
        Expr::Paren(p) => walk(&p.expr, out),
        Expr::Subquery(s) => walk(&s.expr, out),
        Expr::VectorSelector(v) => selector(v, out),
        Expr::MatrixSelector(m) => selector(&m.vs, out),
        Expr::Call(c) => {
            let mut below = BTreeSet::new();
            for a in &c.args.args {
                below.extend(walk(a, out));
            }
            below
        }
        _ => BTreeSet::new(),
    }
}

/// A Prometheus text exposition: label sets by sample name (histograms
/// appear as their `_bucket`, `_sum` and `_count` series, as Prometheus
/// stores them), and the family names of its `# TYPE` lines.
#[derive(Debug, Default)]
struct Exposition {
    series: BTreeMap<String, Vec<BTreeMap<String, String>>>,
    families: BTreeSet<String>,
}

fn parse_exposition(text: &str) -> Exposition {
    let mut e = Exposition::default();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.split_whitespace().next() {
                e.families.insert(name.to_owned());
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let end = line
            .find(|c: char| c == '{' || c.is_whitespace())
            .unwrap_or(line.len());
        let mut labels = BTreeMap::new();
        if line[end..].starts_with('{') {
            let mut chars = line[end + 1..].chars().peekable();
            loop {
                while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), None | Some('}')) {
                    break;
                }
                let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                assert_eq!(chars.next(), Some('"'), "label value quoted: {line}");
                let mut value = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some(x) => value.push(x),
                            None => break,
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                labels.insert(key.trim().to_owned(), value);
            }
        }
        e.series
            .entry(line[..end].to_owned())
            .or_default()
            .push(labels);
    }
    e
}

impl Exposition {
    fn labels_of(&self, metric: &str) -> BTreeSet<&str> {
        self.series
            .get(metric)
            .into_iter()
            .flatten()
            .flat_map(|l| l.keys().map(String::as_str))
            .collect()
    }

    fn has_value(&self, metric: &str, label: &str, value: &str) -> bool {
        self.series
            .get(metric)
            .into_iter()
            .flatten()
            .any(|l| l.get(label).map(String::as_str) == Some(value))
    }
}

/// Parses every query; returns the metrics they use and what is wrong.
fn check(queries: &[Query], exp: &Exposition) -> (BTreeSet<String>, Vec<String>) {
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for q in queries {
        let expr = match parser::parse(&substitute(&q.expr)) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!(
                    "{}: does not parse as PromQL: {e}\n  {}",
                    q.origin, q.expr
                ));
                continue;
            }
        };
        let mut uses = Uses::default();
        let below = walk(&expr, &mut uses);
        if let Some(label) = &q.lists_label {
            uses.groupings.push(Grouping {
                labels: vec![label.clone()],
                metrics: below,
            });
        }
        for s in &uses.selectors {
            used.insert(s.metric.clone());
            if PROMETHEUS_SYNTHETIC.contains(&s.metric.as_str()) {
                continue;
            }
            if !exp.series.contains_key(&s.metric) {
                let hint = if exp.series.contains_key(&format!("{}_bucket", s.metric)) {
                    " (a histogram: query its _bucket, _sum or _count series)"
                } else {
                    ""
                };
                problems.push(format!(
                    "{}: `{}` is not in /metrics{hint}",
                    q.origin, s.metric
                ));
                continue;
            }
            let labels = exp.labels_of(&s.metric);
            for (label, value) in &s.matchers {
                if TARGET_LABELS.contains(&label.as_str()) {
                    continue;
                }
                if !labels.contains(label.as_str()) {
                    problems.push(format!(
                        "{}: `{}` has no label `{label}` (it has {labels:?})",
                        q.origin, s.metric
                    ));
                } else if let Some(v) = value {
                    if !exp.has_value(&s.metric, label, v) {
                        problems.push(format!(
                            "{}: `{}` never has {label}=\"{v}\"",
                            q.origin, s.metric
                        ));
                    }
                }
            }
        }
        for g in &uses.groupings {
            if g.metrics
                .iter()
                .all(|m| PROMETHEUS_SYNTHETIC.contains(&m.as_str()))
            {
                continue;
            }
            let available: BTreeSet<&str> = g
                .metrics
                .iter()
                .flat_map(|m| exp.labels_of(m))
                .chain(TARGET_LABELS.iter().copied())
                .collect();
            for l in &g.labels {
                if !available.contains(l.as_str()) {
                    problems.push(format!(
                        "{}: groups by `{l}`, which none of {:?} has",
                        q.origin, g.metrics
                    ));
                }
            }
        }
    }
    (used, problems)
}

fn all_queries() -> Vec<Query> {
    let mut q = dashboard_queries(&dashboard());
    q.extend(rule_queries(
        &yaml("deploy/prometheus/alerts.yml")["groups"],
    ));
    q
}

#[test]
fn the_checker_finds_what_prometheus_would_not() {
    let exp = parse_exposition(
        r#"# TYPE lat_seconds histogram
lat_seconds_bucket{output="alert",le="0.5"} 1
lat_seconds_bucket{output="alert",le="+Inf"} 2
lat_seconds_sum{output="alert"} 1.5
lat_seconds_count{output="alert"} 2
# TYPE things_total counter
things_total{kind="a,b \"quoted\""} 3
things_total{kind="plain"} 0
"#,
    );
    let q = |e: &str| Query {
        origin: e.to_owned(),
        expr: e.to_owned(),
        lists_label: None,
    };
    let ok = [
        q(
            r#"histogram_quantile(0.99, sum by (le, output) (rate(lat_seconds_bucket{job=~"$job"}[$__rate_interval])))"#,
        ),
        q(r#"sum by (kind) (things_total{kind="plain"}) / on (instance) lat_seconds_count"#),
        q(r#"things_total{kind="a,b \"quoted\""}"#),
        q(r#"absent(up{job="vigil"} == 1)"#),
    ];
    let (used, problems) = check(&ok, &exp);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        used,
        BTreeSet::from(
            [
                "lat_seconds_bucket",
                "lat_seconds_count",
                "things_total",
                "up"
            ]
            .map(String::from)
        )
    );
    let bad = [
        (q("rate(lat_seconds[5m])"), "a histogram"),
        (
            q(r#"lat_seconds_bucket{outpt="alert"}"#),
            "no label `outpt`",
        ),
        (q("sum by (knd) (things_total)"), "groups by `knd`"),
        (q(r#"things_total{kind="nope"}"#), "never has kind=\"nope\""),
        (q("missing_total"), "`missing_total` is not in /metrics"),
        (q("sum(rate(things_total[5m])"), "does not parse"),
    ];
    for (query, why) in bad {
        let (_, problems) = check(std::slice::from_ref(&query), &exp);
        assert!(
            problems.len() == 1 && problems[0].contains(why),
            "{}: expected one problem with {why:?}, got {problems:#?}",
            query.expr
        );
    }
    let var = Query {
        origin: "variable".into(),
        expr: "things_total".into(),
        lists_label: Some("colour".into()),
    };
    assert_eq!(check(&[var], &exp).1.len(), 1);
}

#[test]
fn dashboard_is_well_formed_and_covers_the_service() {
    let d = dashboard();
    assert_eq!(d["uid"], "vigil-overview");
    let panels = d["panels"].as_array().expect("panels");
    let mut all: Vec<&Json> = Vec::new();
    for p in panels {
        all.push(p);
        all.extend(p["panels"].as_array().into_iter().flatten());
    }
    let mut ids = BTreeSet::new();
    let mut boxes: Vec<(i64, i64, i64, i64, String)> = Vec::new();
    for p in &all {
        let title = p["title"].as_str().unwrap_or("?").to_owned();
        assert!(
            ids.insert(p["id"].as_i64().expect("id")),
            "duplicate id: {title}"
        );
        let g = &p["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_i64().expect("gridPos"));
        assert!(w > 0 && h > 0 && x >= 0 && x + w <= 24, "{title}: {g}");
        for (bx, by, bw, bh, other) in &boxes {
            let overlap = x < bx + bw && *bx < x + w && y < by + bh && *by < y + h;
            assert!(!overlap, "{title} overlaps {other}");
        }
        boxes.push((x, y, w, h, title.clone()));
        match p["type"].as_str() {
            Some("row") | Some("text") => continue,
            _ => {}
        }
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            assert!(
                t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                "{title}: empty query"
            );
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{title}");
        }
    }
    let queries = dashboard_queries(&d);
    let (used, problems) = check(&queries, &Exposition::default());
    let parse: Vec<_> = problems.iter().filter(|p| p.contains("parse")).collect();
    assert!(parse.is_empty(), "{parse:#?}");
    // What the SREs asked to see.
    for m in [
        "vigil_events_consumed_total",
        "vigil_consumer_lag_messages",
        "vigil_receive_to_publish_seconds_bucket",
        "vigil_event_to_publish_seconds_bucket",
        "vigil_events_rejected_total",
        "vigil_dead_letter_messages_total",
        "vigil_players_by_band",
        "vigil_alerts_published_total",
        "vigil_offers_published_total",
        "vigil_outcomes_published_total",
        "vigil_offer_uplift_ratio",
        "vigil_rebalances_total",
        "vigil_partitions_catching_up",
        "process_resident_memory_bytes",
    ] {
        assert!(used.contains(m), "no panel shows {m}");
    }
}

#[test]
fn alert_rules_are_complete_documented_and_the_same_for_the_operator() {
    let rules = yaml("deploy/prometheus/alerts.yml");
    let ops = read("docs/operations.md");
    let anchors: BTreeSet<String> = ops
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| {
            h.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
                .collect::<String>()
                .replace(' ', "-")
        })
        .collect();
    let mut names = BTreeSet::new();
    for g in rules["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            let name = r["alert"].as_str().expect("every rule is an alert");
            assert!(names.insert(name.to_owned()), "{name} twice");
            assert!(r["for"].as_str().is_some(), "{name}: no `for`");
            let severity = r["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("warning" | "critical")),
                "{name}: severity {severity:?}"
            );
            for a in ["summary", "description"] {
                assert!(
                    r["annotations"][a].as_str().is_some_and(|s| !s.is_empty()),
                    "{name}: no {a}"
                );
            }
            let runbook = r["annotations"]["runbook"].as_str().unwrap_or_default();
            let anchor = name.to_lowercase();
            assert_eq!(runbook, format!("docs/operations.md#{anchor}"), "{name}");
            assert!(
                anchors.contains(&anchor),
                "{name}: docs/operations.md has no heading `{name}` (its runbook)"
            );
        }
    }
    for required in [
        "VigilConsumerLagGrowing",
        "VigilDeadLetterRateHigh",
        "VigilNoEventsConsumed",
        "VigilLatencySLOBreach",
        "VigilInstanceDown",
    ] {
        assert!(names.contains(required), "{required}");
    }
    let (_, problems) = check(&rule_queries(&rules["groups"]), &Exposition::default());
    let parse: Vec<_> = problems.iter().filter(|p| p.contains("parse")).collect();
    assert!(parse.is_empty(), "{parse:#?}");
    let operator = yaml("deploy/k8s/prometheusrule.yaml");
    assert_eq!(operator["kind"], "PrometheusRule");
    assert!(
        operator["spec"]["groups"] == rules["groups"],
        "deploy/k8s/prometheusrule.yaml spec.groups differs from deploy/prometheus/alerts.yml groups: copy the groups over"
    );
}

/// GETs `/metrics` until the endpoint answers.
async fn scrape(vigil: &Vigil) -> String {
    let start = Instant::now();
    loop {
        if let Some((200, body)) = vigil.get("/metrics").await {
            return body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no /metrics:\n{}",
            vigil.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_exported_before_the_broker_answers() {
    // Nothing listens on this port: the pipeline waits for the broker.
    let closed = free_port();
    let vigil = Vigil::start_with(|port| {
        format!(
            "[kafka]\nbootstrap_servers = \"127.0.0.1:{closed}\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n"
        )
    });
    let text = scrape(&vigil).await;
    let exp = parse_exposition(&text);
    let (used, _) = check(&all_queries(), &exp);
    // Series labelled by partition appear on assignment; all others must be
    // there from the first scrape, so rate() and "no events" alerts work.
    let missing: Vec<_> = used
        .iter()
        .filter(|m| !PROMETHEUS_SYNTHETIC.contains(&m.as_str()))
        .filter(|m| !APPEAR_ON_ASSIGNMENT.contains(&m.as_str()))
        .filter(|m| !exp.series.contains_key(*m))
        .collect();
    assert!(missing.is_empty(), "not exported at start: {missing:?}");
    assert!(exp.has_value("vigil_events_consumed_total", "type", "bet"));
    assert!(exp.has_value("vigil_alerts_published_total", "kind", "inactivity"));
    // One build series, at 1, naming this release and its changelog format.
    let build: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("vigil_build_info{"))
        .collect();
    assert_eq!(build.len(), 1, "{build:?}");
    let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
    let changelog = format!("changelog_version=\"{}\"", vigil_codec::changelog::VERSION);
    assert!(
        build[0].contains(&version) && build[0].contains(&changelog) && build[0].ends_with("} 1"),
        "{}",
        build[0]
    );
    let (status, body) = vigil.get("/readyz").await.unwrap();
    assert_eq!(
        (status, body.trim()),
        (503, "not ready: broker not reachable")
    );
    let (status, log) = vigil.terminate();
    assert!(status.success(), "stops cleanly while waiting: {log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_and_rules_query_only_what_a_running_vigil_exports() {
    let setup = Setup::new(2);
    create_topic(&setup.input, setup.partitions).await;
    let events = population(6, 40, setup.partitions);
    let mut records: Vec<(i32, String, Vec<u8>)> = events
        .iter()
        .map(|(p, e)| {
            let json = vigil_codec::json::encode_event(e);
            (*p, e.player_id.to_string(), json.into_bytes())
        })
        .collect();
    records.push((0, "p1".into(), b"{not json".to_vec()));
    records.push((
        1,
        "p2".into(),
        br#"{"event_id":"x","player_id":"p2","brand":"b","ts":"2026-11-01T12:00:00Z","type":"teleport"}"#.to_vec(),
    ));
    produce(&setup.input, &records).await;
    let vigil = Vigil::start(&setup);
    vigil.wait_ready(Duration::from_secs(90)).await;
    vigil
        .wait_consumed(records.len(), Duration::from_secs(60))
        .await;

    let queries = all_queries();
    // The lag gauges come with librdkafka's statistics (every 5 s) after
    // assignment: scrape until nothing is missing, or give up and report.
    let start = Instant::now();
    let (exp, used, problems, text) = loop {
        let text = scrape(&vigil).await;
        let exp = parse_exposition(&text);
        let (used, problems) = check(&queries, &exp);
        if problems.is_empty() || start.elapsed() > Duration::from_secs(60) {
            break (exp, used, problems, text);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        problems.is_empty(),
        "queries a running vigil cannot answer:\n{}\n\n/metrics:\n{text}",
        problems.join("\n")
    );
    // The data went through: good events counted, bad ones dead-lettered.
    assert!(exp.has_value("vigil_dead_letter_messages_total", "reason", "invalid_json"));
    assert!(!text.contains("p0001"), "no player ids in metrics");

    // Every metric the service exports is on the dashboard.
    let dash_used = check(&dashboard_queries(&dashboard()), &exp).0;
    let unseen: Vec<_> = exp
        .families
        .iter()
        .filter(|f| f.starts_with("vigil_"))
        .filter(|f| !NOT_ON_DASHBOARD.contains(&f.as_str()))
        .filter(|f| {
            ![
                String::new(),
                "_bucket".into(),
                "_sum".into(),
                "_count".into(),
            ]
            .iter()
            .any(|suffix| dash_used.contains(&format!("{f}{suffix}")))
        })
        .collect();
    assert!(
        unseen.is_empty(),
        "exported but on no panel of deploy/grafana/vigil-dashboard.json (add a panel, or list in NOT_ON_DASHBOARD with why): {unseen:?}"
    );
    assert!(used.len() > 20, "checked only {used:?}");

    // Prometheus' own lint of the exposition, when promtool is installed.
    match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) => {
            eprintln!("promtool not installed: /metrics not linted (scripts/test.sh installs it)")
        }
    }
    let (status, log) = vigil.terminate();
    assert!(status.success(), "{log}");
}
