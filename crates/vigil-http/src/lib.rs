//! vigil's HTTP endpoints, for SREs and orchestrators:
//!
//! - `GET /metrics`: Prometheus text format, with the standard `process_*`
//!   metrics (memory, CPU, threads, start time) read at each scrape.
//! - `GET /healthz`: 200 while the process serves requests (liveness).
//! - `GET /readyz`: 200 once the instance owns partitions and has rebuilt
//!   their state, 503 with the reason otherwise (readiness).
//!
//! - `GET /v1/players/{id}`, `GET /v1/players?band=&limit=`: the player
//!   lookup API (see [`players`]), when given a directory; optionally behind
//!   a bearer token, which the endpoints above never need.
//!
//! The server knows nothing of Kafka: readiness is a function it is given,
//! players come from a [`PlayerDirectory`].

pub mod players;

pub use players::{
    Api, LISTING_SLICE, PlayerDirectory, PlayerInfo, ReasonInfo, RiskiestPicker, WindowFigures,
    riskier_first,
};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Answers whether the instance is ready, or why not.
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
struct AppState {
    metrics: PrometheusHandle,
    readiness: Readiness,
    process: metrics_process::Collector,
}

/// The router, separate from the listener so tests can drive it.
pub fn router(metrics: PrometheusHandle, readiness: Readiness, api: Option<Api>) -> Router {
    let process = metrics_process::Collector::default();
    process.describe();
    let app = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(ready))
        .with_state(AppState {
            metrics,
            readiness,
            process,
        });
    match api {
        None => app,
        Some(api) => app.merge(
            Router::new()
                .route("/v1/players", get(players::list_players))
                .route("/v1/players/{id}", get(players::get_player))
                .route_layer(axum::middleware::from_fn_with_state(
                    api.clone(),
                    players::require_token,
                ))
                .with_state(api),
        ),
    }
}

async fn render_metrics(State(s): State<AppState>) -> impl IntoResponse {
    // Resident memory next to players tracked is what sizing is read from.
    s.process.collect();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    match (s.readiness)() {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

/// Binds `addr`; the returned future serves until `shutdown` fires.
pub async fn bind(
    addr: SocketAddr,
    metrics: PrometheusHandle,
    readiness: Readiness,
    api: Option<Api>,
    shutdown: CancellationToken,
) -> std::io::Result<(
    SocketAddr,
    impl std::future::Future<Output = std::io::Result<()>>,
)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "http endpoints listening");
    let app = router(metrics, readiness, api);
    let serve = async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    };
    Ok((local, serve))
}
