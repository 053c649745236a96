//! Election Cart's HTTP API. [`serve`] runs it on a listener until a shutdown future resolves;
//! `main.rs` passes a real listener and SIGTERM, tests a random port and a oneshot.

pub mod auth_cache;
pub mod catalog_cache;
pub mod cli;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod import_django;
pub mod input;
pub mod live;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod state;
pub mod upload;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;

use common::jobs::dispatcher::Dispatcher;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use state::AppState;

/// Serves the API (and, when `API_RUNS_DISPATCHER`, the outbox dispatcher) until `shutdown`
/// resolves; in-flight requests then get `SHUTDOWN_TIMEOUT_SECONDS` to finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let dispatcher = state.cfg.api_runs_dispatcher.then(|| {
        let d = Dispatcher::new(&state.cfg, state.pool.clone(), state.redis.clone());
        tokio::spawn(d.run(stopped(stop_rx.clone())))
    });
    let live = tokio::spawn(state.live.clone().run(state.pool.clone(), stopped(stop_rx.clone())));
    let grace = state.cfg.shutdown_timeout;
    let app = routes::app(state);
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(
        async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
            let _ = stop_tx.send(true);
        },
    );
    let deadline = async {
        stopped(stop_rx.clone()).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        res = server => res?,
        _ = deadline => tracing::warn!(?grace, "in-flight requests did not finish in time; exiting"),
    }
    if let Some(handle) = dispatcher {
        let _ = handle.await;
    }
    let _ = live.await;
    Ok(())
}

pub use common::process::{init_tracing, shutdown_signal};
