//! `vigil.toml`: one file for every setting, each key overridable from the
//! environment, checked as a whole before anything starts.
//!
//! Environment overrides use `VIGIL_` plus the key path in upper case with
//! `__` between levels: `VIGIL_ENGINE__BANDS__GREEN_MIN=75` sets
//! `engine.bands.green_min`. Values are read as TOML literals when they
//! parse as one (`75`, `true`, `["a","b"]`) and as strings otherwise
//! (`14d`). Variables whose first level is not a section of the file (such
//! as the test tooling's `VIGIL_TEST_*`) are left alone.

use std::path::{Path, PathBuf};

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use vigil_domain::EngineConfig;
use vigil_kafka::{KafkaConfig, PipelineConfig, TopicsConfig};

/// Everything in `vigil.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Scoring: weights, bands, windows and alert rules.
    pub engine: EngineConfig,
    /// Brokers, consumer group and librdkafka pass-through properties.
    pub kafka: KafkaConfig,
    /// Input and output topics and their encodings.
    pub topics: TopicsConfig,
    /// Batching, idle-partition clock and state rebuild.
    pub pipeline: PipelineConfig,
    /// The metrics and health endpoints.
    pub http: HttpConfig,
    /// Logging.
    pub log: LogConfig,
}

/// The HTTP endpoints (`/metrics`, `/healthz`, `/readyz`, `/v1/players`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on; use `0.0.0.0:9464` to be scraped from outside
    /// the host.
    pub listen: SocketAddr,
    /// When not empty, the player lookup API (`/v1/*`) needs
    /// `Authorization: Bearer <token>`; probes and `/metrics` stay open.
    pub auth_token: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            auth_token: String::new(),
        }
    }
}

/// Never prints the token.
impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("listen", &self.listen)
            .field(
                "auth_token",
                &if self.auth_token.is_empty() {
                    ""
                } else {
                    "<set>"
                },
            )
            .finish()
    }
}

/// How vigil logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` for log shippers.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `vigil=debug,rdkafka=warn`;
    /// `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Why a configuration cannot be used, naming the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigLoadError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid setting `{key}`{origin}: {problem}")]
    Invalid {
        key: String,
        origin: String,
        problem: String,
    },
}

/// The environment prefix of overrides.
pub const ENV_PREFIX: &str = "VIGIL_";

impl Config {
    /// Reads `path` (or the built-in defaults when `None`), applies the
    /// `VIGIL_*` overrides from `env`, and validates the result.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigLoadError> {
        let (mut table, source) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigLoadError::Read {
                    path: p.into(),
                    source,
                })?;
                let table: toml::Table =
                    toml::from_str(&text).map_err(|e| ConfigLoadError::Syntax {
                        path: p.into(),
                        message: e.message().to_owned(),
                    })?;
                (table, format!(" in {}", p.display()))
            }
            None => (toml::Table::new(), String::new()),
        };
        let sections = Self::sections();
        let mut from_env = Vec::new();
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let mut path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if !sections.contains(&path[0]) {
                continue;
            }
            // librdkafka property names have dots, which environment
            // variable names cannot: `_` stands for `.` inside those maps.
            let value = if path.len() == 3 && path[0] == "kafka" && path[1].ends_with("properties")
            {
                path[2] = path[2].replace('_', ".");
                toml::Value::String(raw)
            } else {
                parse_env_value(&raw)
            };
            set_path(&mut table, &path, value);
            from_env.push((path.join("."), name));
        }
        stringify_properties(&mut table);
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let origin = from_env
                    .iter()
                    .find(|(k, _)| key.starts_with(k.as_str()) || k.starts_with(&key))
                    .map(|(_, var)| format!(" (from environment variable {var})"))
                    .unwrap_or_else(|| source.clone());
                ConfigLoadError::Invalid {
                    key,
                    origin,
                    problem: e.into_inner().message().to_owned(),
                }
            })?;
        let wrap = |e: vigil_kafka::config::KafkaConfigError| ConfigLoadError::Invalid {
            origin: from_env
                .iter()
                .find(|(k, _)| *k == e.key)
                .map(|(_, var)| format!(" (from environment variable {var})"))
                .unwrap_or_else(|| source.clone()),
            key: e.key,
            problem: e.problem,
        };
        config.kafka.validate().map_err(wrap)?;
        config.topics.validate().map_err(wrap)?;
        config.pipeline.validate().map_err(wrap)?;
        config
            .pipeline
            .validate_guarantee(&config.kafka)
            .map_err(wrap)?;
        config.engine.validate().map_err(|e| {
            let key = format!("engine.{}", e.key);
            let origin = from_env
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, var)| format!(" (from environment variable {var})"))
                .unwrap_or_else(|| source.clone());
            ConfigLoadError::Invalid {
                key,
                origin,
                problem: e.problem,
            }
        })?;
        Ok(config)
    }

    /// The top-level section names, taken from the defaults themselves.
    fn sections() -> Vec<String> {
        match toml::Value::try_from(Config::default()) {
            Ok(toml::Value::Table(t)) => t.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// librdkafka takes every property as a string; let the file say
/// `"linger.ms" = 5` or `"enable.idempotence" = true` all the same.
fn stringify_properties(table: &mut toml::Table) {
    let Some(toml::Value::Table(kafka)) = table.get_mut("kafka") else {
        return;
    };
    for (name, section) in kafka.iter_mut() {
        if !name.ends_with("properties") {
            continue;
        }
        if let toml::Value::Table(props) = section {
            for (_, v) in props.iter_mut() {
                match v {
                    toml::Value::Integer(i) => *v = toml::Value::String(i.to_string()),
                    toml::Value::Float(f) => *v = toml::Value::String(f.to_string()),
                    toml::Value::Boolean(b) => *v = toml::Value::String(b.to_string()),
                    _ => {}
                }
            }
        }
    }
}

fn parse_env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("split of a str is never empty");
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        t = entry.as_table_mut().expect("just made a table");
    }
    t.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile_lite::TempFile {
        tempfile_lite::TempFile::new(text)
    }

    /// A minimal temp file, to keep dev-dependencies down.
    mod tempfile_lite {
        use super::*;
        pub struct TempFile(pub PathBuf);
        impl TempFile {
            pub fn new(text: &str) -> Self {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let p = std::env::temp_dir()
                    .join(format!("vigil-config-test-{}-{n}.toml", std::process::id()));
                std::fs::File::create(&p)
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
                TempFile(p)
            }
        }
        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_a_file() {
        assert_eq!(Config::load(None, Vec::new()).unwrap(), Config::default());
    }

    #[test]
    fn environment_overrides_the_file() {
        let f = file("[engine.bands]\ngreen_min = 80\n");
        let c = Config::load(
            Some(&f.0),
            env(&[
                ("VIGIL_ENGINE__BANDS__YELLOW_MIN", "30"),
                ("VIGIL_ENGINE__RULES__USAGE_DROP__WINDOW", "7d"),
                ("VIGIL_LOG__FORMAT", "json"),
                ("VIGIL_TEST_BOOTSTRAP", "127.0.0.1:9092"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.engine.bands.green_min, 80.0);
        assert_eq!(c.engine.bands.yellow_min, 30.0);
        assert_eq!(c.engine.rules.usage_drop.window.as_secs(), 7 * 86_400);
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn kafka_properties_from_the_environment_use_dots() {
        let c = Config::load(
            None,
            env(&[("VIGIL_KAFKA__PROPERTIES__SECURITY_PROTOCOL", "SASL_SSL")]),
        )
        .unwrap();
        assert_eq!(
            c.kafka
                .properties
                .get("security.protocol")
                .map(String::as_str),
            Some("SASL_SSL")
        );
        let e = Config::load(
            None,
            env(&[("VIGIL_KAFKA__PROPERTIES__ENABLE_AUTO_COMMIT", "true")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`kafka.properties.enable.auto.commit`") && e.contains("managed by vigil"),
            "{e}"
        );
        // A typo in a librdkafka property is caught here, not at start.
        let e = Config::load(
            None,
            env(&[("VIGIL_KAFKA__PRODUCER_PROPERTIES__LINGR_MS", "5")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`kafka.producer_properties.lingr.ms`")
                && e.contains("VIGIL_KAFKA__PRODUCER_PROPERTIES__LINGR_MS")
                && e.contains("No such configuration property"),
            "{e}"
        );
        let f = file("[[topics.inputs]]\nname = \"events\"\nencoding = \"avro\"\n");
        let e = Config::load(Some(&f.0), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("topics.inputs[0].encoding"), "{e}");
    }

    #[test]
    fn exactly_once_is_refused_with_settings_that_cannot_work() {
        let eos = ("VIGIL_PIPELINE__PROCESSING_GUARANTEE", "exactly_once");
        let c = Config::load(None, env(&[eos])).unwrap();
        assert_eq!(
            c.pipeline.processing_guarantee,
            vigil_kafka::Guarantee::ExactlyOnce
        );
        for (extra, key) in [
            (
                ("VIGIL_PIPELINE__STATE_REBUILD", "earliest"),
                "`pipeline.state_rebuild`",
            ),
            (
                (
                    "VIGIL_KAFKA__PRODUCER_PROPERTIES__ENABLE_IDEMPOTENCE",
                    "false",
                ),
                "`kafka.producer_properties.enable.idempotence`",
            ),
            (
                ("VIGIL_KAFKA__PROPERTIES__ACKS", "1"),
                "`kafka.properties.acks`",
            ),
            (
                ("VIGIL_KAFKA__PRODUCER_PROPERTIES__TRANSACTIONAL_ID", "x"),
                "`kafka.producer_properties.transactional.id`",
            ),
            (
                (
                    "VIGIL_KAFKA__PRODUCER_PROPERTIES__TRANSACTION_TIMEOUT_MS",
                    "60000",
                ),
                "`kafka.producer_properties.transaction.timeout.ms`",
            ),
            (
                (
                    "VIGIL_KAFKA__CONSUMER_PROPERTIES__ISOLATION_LEVEL",
                    "read_uncommitted",
                ),
                "`kafka.consumer_properties.isolation.level`",
            ),
        ] {
            let e = Config::load(None, env(&[eos, extra]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains(extra.0), "{e}");
            // Some are fine at least once; the producer's ordering and
            // acknowledgements are needed by both guarantees.
            let alone = Config::load(None, env(&[extra]));
            match extra.0 {
                "VIGIL_PIPELINE__STATE_REBUILD"
                | "VIGIL_KAFKA__PRODUCER_PROPERTIES__TRANSACTION_TIMEOUT_MS"
                | "VIGIL_KAFKA__CONSUMER_PROPERTIES__ISOLATION_LEVEL" => {
                    alone.unwrap();
                }
                _ => {
                    let e = alone.unwrap_err().to_string();
                    assert!(e.contains(key) && e.contains(extra.0), "{e}");
                }
            }
        }
        let e = Config::load(None, env(&[("VIGIL_PIPELINE__TRANSACTIONAL_ID", "a")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`pipeline.transactional_id`"), "{e}");
    }

    #[test]
    fn errors_name_the_key_and_where_it_came_from() {
        let f = file("[engine.bands]\ngreen_min = \"high\"\n");
        let e = Config::load(Some(&f.0), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`engine.bands.green_min`") && e.contains(".toml"),
            "{e}"
        );

        let f = file("[engine.bandz]\ngreen_min = 1\n");
        let e = Config::load(Some(&f.0), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `bandz`"), "{e}");

        let e = Config::load(None, env(&[("VIGIL_ENGINE__BANDS__YELLOW_MIN", "90")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`engine.bands.yellow_min`")
                && e.contains("VIGIL_ENGINE__BANDS__YELLOW_MIN"),
            "{e}"
        );

        let f = file("not toml at all [");
        let e = Config::load(Some(&f.0), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid TOML"), "{e}");
    }
}
