//! Redis connections for rate limits, caches and job queues.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::Config;

/// A lazily connecting, self-healing Redis connection: the service starts while Redis is down
/// and reconnects when it is back. Every command has the configured response timeout.
pub fn connection(cfg: &Config) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(cfg.redis_url.expose())?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(cfg.redis_response_timeout))
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client, config)
}

/// Namespaced key under `QUEUE_PREFIX`.
pub fn key(cfg: &Config, parts: &[&str]) -> String {
    let mut k = cfg.queue_prefix.clone();
    for p in parts {
        k.push(':');
        k.push_str(p);
    }
    k
}

/// `PING` with a short deadline; used by `/ready/`.
pub async fn ping(conn: &mut ConnectionManager) -> bool {
    let cmd = redis::cmd("PING");
    let fut = cmd.query_async::<String>(conn);
    matches!(tokio::time::timeout(Duration::from_secs(2), fut).await, Ok(Ok(_)))
}
