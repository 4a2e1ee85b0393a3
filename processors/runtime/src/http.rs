//! The admin HTTP port: `/metrics` (Prometheus text), `/health/live`, `/health/ready`.
//!
//! It runs on its own thread with a small tokio runtime, so a slow scrape never delays
//! processing. Ready means every assigned task has restored its state and processes records.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::error::RuntimeError;
use crate::processor::ProcessorHandle;

async fn metrics(State(handle): State<ProcessorHandle>) -> String {
    handle.metrics.render()
}

async fn live() -> &'static str {
    "ok"
}

async fn ready(State(handle): State<ProcessorHandle>) -> (StatusCode, &'static str) {
    if handle.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "restoring or not assigned yet")
    }
}

/// Serves the admin endpoints on `listen` from a background thread until the process exits.
pub fn serve_admin(listen: SocketAddr, handle: ProcessorHandle) -> Result<(), RuntimeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RuntimeError::Setup(format!("admin runtime: {e}")))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(listen))
        .map_err(|e| RuntimeError::Setup(format!("admin.listen {listen}: {e}")))?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(handle);
    std::thread::Builder::new()
        .name("invex-admin".into())
        .spawn(move || {
            if let Err(e) = runtime.block_on(async move { axum::serve(listener, app).await }) {
                tracing::error!(error = %e, "admin server stopped");
            }
        })
        .map_err(|e| RuntimeError::Setup(format!("admin thread: {e}")))?;
    Ok(())
}
