//! The shutdown signal both servers (`blocklist serve`, `blocklistd`) stop on.

/// Completes on SIGINT or SIGTERM; the server given it then stops accepting
/// and lets work in flight finish (its own bounded drain).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = interrupt => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
    tracing::info!("shutting down");
}
