//! `vigil run`: the streaming service. Wires the pipeline thread, the HTTP
//! endpoints (with the player lookup API over the pipeline's engines),
//! signal handling and config reloads together; all the work is in
//! `vigil-kafka` and `vigil-http`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;
use vigil_kafka::{Health, Pipeline, PipelineSettings};

use crate::config::Config;

/// Installs the Prometheus recorder (once per process) with histogram
/// buckets, so latencies export as histograms rather than summaries.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets(&vigil_kafka::metrics::LATENCY_BUCKETS)
        .context("invalid histogram buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")
}

/// Cancels `token` on the first SIGINT or SIGTERM; a second one exits at once.
pub fn on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        for round in 0..2 {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if round == 0 {
                tracing::info!("signal received: stopping (send again to exit at once)");
                token.cancel();
            } else {
                tracing::warn!("second signal: exiting now");
                std::process::exit(130);
            }
        }
    });
}

/// A running service: its HTTP address and how to wait for it.
pub struct Service {
    pub http_addr: SocketAddr,
    pub health: Arc<Health>,
    pipeline: tokio::task::JoinHandle<Result<(), vigil_kafka::PipelineError>>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: CancellationToken,
}

impl Service {
    /// Starts the HTTP endpoints and the pipeline.
    pub async fn start(
        cfg: Config,
        metrics: PrometheusHandle,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Service> {
        let t = &cfg.topics;
        vigil_kafka::metrics::describe();
        vigil_kafka::metrics::register_known_series(&[
            &t.alerts.name,
            &t.scores.name,
            &t.offers.name,
            &t.outcomes.name,
            &t.dead_letter,
        ]);
        let health = Arc::new(Health::default());
        let h = health.clone();
        let readiness: vigil_http::Readiness = Arc::new(move || h.readiness());
        let api = vigil_http::Api {
            directory: Arc::new(crate::lookup::EngineDirectory {
                health: health.clone(),
            }),
            auth_token: (!cfg.http.auth_token.is_empty())
                .then(|| cfg.http.auth_token.as_str().into()),
        };
        let (http_addr, serve) = vigil_http::bind(
            cfg.http.listen,
            metrics,
            readiness,
            Some(api),
            shutdown.clone(),
        )
        .await
        .with_context(|| format!("cannot listen on {} (setting http.listen)", cfg.http.listen))?;
        let http = tokio::spawn(serve);
        let settings = PipelineSettings {
            kafka: cfg.kafka,
            topics: cfg.topics,
            pipeline: cfg.pipeline,
            engine: cfg.engine,
        };
        let (token, h) = (shutdown.clone(), health.clone());
        // The pipeline is synchronous, CPU-bound work around a blocking
        // consumer: it gets a thread of its own.
        let pipeline = tokio::task::spawn_blocking(move || {
            let _span = tracing::info_span!("pipeline").entered();
            match Pipeline::connect(settings, h, &token)? {
                Some(p) => p.run(&token),
                None => Ok(()),
            }
        });
        Ok(Service {
            http_addr,
            health,
            pipeline,
            http,
            shutdown,
        })
    }

    /// Waits for the pipeline to end (after shutdown, or on a fatal error),
    /// then stops the HTTP endpoints.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.pipeline.await.context("pipeline thread panicked");
        self.shutdown.cancel();
        let _ = self.http.await;
        result?.context("pipeline failed")
    }
}

/// Runs `vigil run` until a signal, reloading the engine settings from
/// `path` on SIGHUP and when the file changes.
pub async fn run(cfg: Config, path: Option<PathBuf>) -> anyhow::Result<()> {
    let metrics = install_metrics()?;
    let shutdown = CancellationToken::new();
    on_signals(shutdown.clone());
    let running = cfg.clone();
    let service = Service::start(cfg, metrics, shutdown.clone()).await?;
    crate::reload::spawn(path, running, service.health.clone(), shutdown)?;
    service.wait().await
}
