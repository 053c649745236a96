//! Fixed-window rate limits counted in Redis, shared by every API process.

use std::time::Duration;

use redis::aio::ConnectionManager;

/// One limit: at most `max` hits per `window` per client.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Name in the Redis key.
    pub name: &'static str,
    /// Hits allowed per window.
    pub max: u64,
    /// Window length.
    pub window: Duration,
}

/// Login: 5 per minute per IP.
pub const LOGIN: Limit = Limit { name: "login", max: 5, window: Duration::from_secs(60) };
/// Signup: 3 per hour per IP.
pub const SIGNUP: Limit = Limit { name: "signup", max: 3, window: Duration::from_secs(3_600) };
/// Password reset requests: 5 per hour per IP.
pub const PASSWORD_RESET: Limit = Limit { name: "password_reset", max: 5, window: Duration::from_secs(3_600) };
/// Password-reset confirmations: 10 per hour per IP (each valid one hashes a password).
pub const PASSWORD_RESET_CONFIRM: Limit =
    Limit { name: "password_reset_confirm", max: 10, window: Duration::from_secs(3_600) };
/// Order creation: 10 per hour per user.
pub const ORDER_CREATE: Limit = Limit { name: "order_create", max: 10, window: Duration::from_secs(3_600) };
/// Resource uploads: 20 per hour per user.
pub const UPLOAD_RESOURCES: Limit = Limit { name: "upload_resources", max: 20, window: Duration::from_secs(3_600) };

/// Counts hits; clones share the connection.
#[derive(Clone)]
pub struct RateLimiter {
    conn: ConnectionManager,
    prefix: String,
    enabled: bool,
}

/// The caller is over the limit; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    /// Seconds until the window ends (at least 1).
    pub retry_after: u64,
}

const SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

impl RateLimiter {
    /// A limiter under `prefix`; when `enabled` is false every check passes.
    pub fn new(conn: ConnectionManager, prefix: &str, enabled: bool) -> Self {
        Self { conn, prefix: prefix.to_string(), enabled }
    }

    /// Counts a hit of `who` against `limit`. When Redis cannot be reached the hit is allowed
    /// (and logged): a Redis outage must not lock every user out.
    pub async fn hit(&self, limit: &Limit, who: &str) -> Result<(), Exceeded> {
        if !self.enabled {
            return Ok(());
        }
        let window_ms = u64::try_from(limit.window.as_millis()).unwrap_or(u64::MAX).max(1);
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let window_index = now_ms / window_ms;
        let key = format!("{}:rl:{}:{}:{}", self.prefix, limit.name, who, window_index);
        let ends_ms = (window_index + 1) * window_ms;
        let mut conn = self.conn.clone();
        let count: Result<u64, _> = redis::Script::new(SCRIPT).key(&key).arg(window_ms).invoke_async(&mut conn).await;
        match count {
            Ok(n) if n > limit.max => Err(Exceeded { retry_after: (ends_ms - now_ms).div_ceil(1_000).max(1) }),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(limit = limit.name, error = %e, "rate limiter unavailable; request allowed");
                Ok(())
            }
        }
    }
}
