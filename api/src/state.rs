//! Shared state of the HTTP service.

use std::sync::Arc;

use common::Config;
use common::accounts::jwt::JwtKeys;
use common::gst::StateCode;
use common::orders::create::TaxSettings;
use common::ratelimit::RateLimiter;
use common::razorpay::Razorpay;
use common::time::Clock;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

/// Cloned into every request and into every middleware layer's call: one shared allocation, so
/// a clone is one reference-count increment (cloning the fields each time cost a tenth of a
/// cached catalogue request's CPU, by `perf`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl From<Shared> for AppState {
    fn from(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// Settings.
    pub cfg: Arc<Config>,
    /// PostgreSQL.
    pub pool: PgPool,
    /// Redis (rate limits, readiness).
    pub redis: ConnectionManager,
    /// Rate limiter on `redis`.
    pub limiter: RateLimiter,
    /// Access-token keys.
    pub jwt: JwtKeys,
    /// Request counters of this process.
    pub http_metrics: Arc<crate::metrics::HttpMetrics>,
    /// Razorpay, when configured.
    pub razorpay: Option<Razorpay>,
    /// GST settings.
    pub tax: TaxSettings,
    /// Time for date rules (the invoice series); tests set it.
    pub clock: Clock,
    /// argon2 work, bounded per process.
    pub hasher: common::accounts::password::Hasher,
    /// Image decodes at once across every upload route (each may take hundreds of MB).
    pub decode_permits: Arc<tokio::sync::Semaphore>,
    /// Change notices (LISTEN/NOTIFY) for the in-memory caches; `serve` runs its listener.
    pub live: Arc<crate::live::Live>,
    /// Bearer-token checks of this process, kept current by `live` (`AUTH_CACHE_SECONDS`).
    pub auth_cache: Arc<crate::auth_cache::AuthCache>,
    /// Rendered public catalogue bodies of this process, kept current by `live`.
    pub catalog_cache: Arc<crate::catalog_cache::CatalogCache>,
    /// Error tracking (`SENTRY_DSN`): 5xx answers and panics.
    pub reporter: common::error_report::ErrorReporter,
    /// Wakes the outbox dispatcher after the commit of a checkout or a payment.
    pub doorbell: common::jobs::Doorbell,
}

/// Image decodes at once per API process.
pub const DECODE_CONCURRENCY: usize = 2;

impl AppState {
    /// Builds the state; connections are lazy, so this succeeds while PostgreSQL or Redis is down.
    pub fn new(cfg: Config) -> anyhow::Result<Self> {
        Shared::new(cfg).map(Self::from)
    }
}

impl Shared {
    /// Builds the shared part (tests adjust it, e.g. the clock, before wrapping it).
    pub fn new(cfg: Config) -> anyhow::Result<Self> {
        let pool = common::db::pool(&cfg)?;
        let redis = common::kv::connection(&cfg)?;
        let limiter = RateLimiter::new(redis.clone(), &cfg.queue_prefix, cfg.rate_limits_enabled);
        let jwt = JwtKeys::new(&cfg.jwt_secret, cfg.jwt_ttl)?;
        let razorpay = Razorpay::from_config(&cfg)?;
        let hasher = common::accounts::password::Hasher::new(cfg.password_hash_concurrency);
        let tax = TaxSettings {
            prices_include_gst: cfg.prices_include_gst,
            seller_state: StateCode::parse(&cfg.seller_state_code)?,
        };
        let live = crate::live::Live::new();
        let doorbell = common::jobs::Doorbell::new(pool.clone());
        let auth_cache = crate::auth_cache::AuthCache::new(cfg.auth_cache_ttl, live.clone(), pool.clone());
        let reporter = common::error_report::ErrorReporter::new(cfg.sentry_dsn.as_ref(), "api", cfg.app_env.as_str());
        Ok(Self {
            cfg: Arc::new(cfg),
            pool,
            redis,
            limiter,
            jwt,
            http_metrics: Arc::default(),
            razorpay,
            tax,
            clock: Clock::system(),
            hasher,
            decode_permits: Arc::new(tokio::sync::Semaphore::new(DECODE_CONCURRENCY)),
            live,
            auth_cache,
            catalog_cache: Arc::default(),
            reporter,
            doorbell,
        })
    }
}
