//! Configuration read from environment variables (names fixed by DESIGN.md).
//!
//! `Config::from_vars` takes any key/value source so that tests build configurations
//! without touching the process environment.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Local development: safe defaults, `.env` read, pretty logs.
    Development,
    /// Staging: production rules are reported but not enforced.
    Staging,
    /// Production: unsafe settings refuse start-up.
    Production,
}

impl AppEnv {
    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value {
            "development" | "dev" => Ok(Self::Development),
            "staging" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            other => Err(ConfigError::invalid("APP_ENV", format!("unknown environment `{other}`"))),
        }
    }

    /// The name as written in `APP_ENV`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A URL that may carry a password: its `Debug` and `Display` hide the password.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    /// Wraps a URL string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The full URL, password included: only for handing to a client library.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match Url::parse(self.expose()) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("***"));
                }
                url.to_string()
            }
            Err(_) => "<unparsable url>".to_string(),
        }
    }

    /// Parsed form, when the URL parses.
    pub fn parsed(&self) -> Option<Url> {
        Url::parse(self.expose()).ok()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Razorpay credentials; payments through Razorpay are off while absent.
#[derive(Clone)]
pub struct RazorpayConfig {
    /// Public key id (`rzp_live_…` or `rzp_test_…`).
    pub key_id: String,
    /// API secret.
    pub key_secret: SecretString,
    /// Webhook signing secret.
    pub webhook_secret: Option<SecretString>,
}

impl fmt::Debug for RazorpayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RazorpayConfig")
            .field("key_id", &self.key_id)
            .field("key_secret", &"***")
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "***"))
            .finish()
    }
}

/// All settings of one deployment.
#[derive(Clone)]
pub struct Config {
    /// `APP_ENV`.
    pub app_env: AppEnv,
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `PUBLIC_BASE_URL`, without trailing slash.
    pub public_base_url: String,
    /// `DATABASE_URL`.
    pub database_url: SecretUrl,
    /// `DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_SECONDS`.
    pub database_acquire_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_SECONDS` (0 disables).
    pub database_statement_timeout: Duration,
    /// `REDIS_URL`.
    pub redis_url: SecretUrl,
    /// `REDIS_RESPONSE_TIMEOUT_SECONDS`.
    pub redis_response_timeout: Duration,
    /// `QUEUE_PREFIX`.
    pub queue_prefix: String,
    /// `JWT_SECRET`.
    pub jwt_secret: SecretString,
    /// `JWT_TTL_SECONDS`.
    pub jwt_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECONDS`.
    pub refresh_ttl: Duration,
    /// `PASSWORD_RESET_TTL_SECONDS`.
    pub password_reset_ttl: Duration,
    /// `PASSWORD_RESET_URL` with `{token}`.
    pub password_reset_url: String,
    /// `METRICS_TOKEN`.
    pub metrics_token: Option<SecretString>,
    /// `SENTRY_DSN`: error tracking, off when unset (checked to parse as a DSN).
    pub sentry_dsn: Option<SecretString>,
    /// `GST_DEFAULT_RATE` in percent.
    pub gst_default_rate: String,
    /// `PRICES_INCLUDE_GST`.
    pub prices_include_gst: bool,
    /// `CORS_ALLOWED_ORIGINS`.
    pub cors_allowed_origins: Vec<String>,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<IpNet>,
    /// `SECURITY_HSTS_SECONDS` (0: no header); defaults to one year in production.
    pub hsts_seconds: u64,
    /// `REQUEST_TIMEOUT_SECONDS`.
    pub request_timeout: Duration,
    /// `UPLOAD_TIMEOUT_SECONDS`: the limit for multipart uploads instead.
    pub upload_timeout: Duration,
    /// `MAX_BODY_BYTES` for JSON and form bodies.
    pub max_body_bytes: usize,
    /// `SHUTDOWN_TIMEOUT_SECONDS`: how long in-flight requests and jobs may take at shutdown.
    pub shutdown_timeout: Duration,
    /// `DEBUG`: verbose error output; refused in production.
    pub debug: bool,
    /// Razorpay, when configured.
    pub razorpay: Option<RazorpayConfig>,
    /// `RAZORPAY_API_BASE`.
    pub razorpay_api_base: String,
    /// `RAZORPAY_TIMEOUT_SECONDS`: whole-call timeout of Razorpay API requests.
    pub razorpay_timeout: Duration,
    /// `RAZORPAY_MAX_IN_FLIGHT`: Razorpay calls at once per process; past it a call waits at
    /// most a second, then fails as the provider being unavailable (checkout's 502).
    pub razorpay_max_in_flight: usize,
    /// `RECONCILE_AFTER_SECONDS`: the sweep asks Razorpay about unpaid orders older than this.
    pub reconcile_after: Duration,
    /// `CLOUDINARY_URL`.
    pub cloudinary_url: Option<SecretUrl>,
    /// `CLOUDINARY_API_BASE`.
    pub cloudinary_api_base: String,
    /// `MEDIA_DIR`.
    pub media_dir: PathBuf,
    /// `FIREBASE_PROJECT_ID`.
    pub firebase_project_id: Option<String>,
    /// `FIREBASE_CERTS_URL`.
    pub firebase_certs_url: String,
    /// `SMTP_URL`; the file outbox is used while absent.
    pub smtp_url: Option<SecretUrl>,
    /// `SMTP_TIMEOUT_SECONDS`.
    pub smtp_timeout: Duration,
    /// `MAIL_CLAIM_STALE_SECONDS`: a message's `sending` claim older than this (its worker died
    /// mid-send) may be taken over by a retry.
    pub mail_claim_stale: Duration,
    /// `MAIL_FROM`.
    pub mail_from: String,
    /// `MAIL_OUTBOX_DIR`.
    pub mail_outbox_dir: PathBuf,
    /// `SELLER_NAME`.
    pub seller_name: String,
    /// `SELLER_GSTIN`.
    pub seller_gstin: Option<String>,
    /// `SELLER_STATE_CODE`.
    pub seller_state_code: String,
    /// `SELLER_ADDRESS`.
    pub seller_address: String,
    /// `INVOICE_PREFIX`.
    pub invoice_prefix: String,
    /// `CREDIT_NOTE_PREFIX`: the credit notes' own series.
    pub credit_note_prefix: String,
    /// `SUPPORT_EMAIL`: printed on invoices and in emails.
    pub support_email: String,
    /// `WELCOME_LINK_HOURS`: how long the password-set link of a welcome mail works.
    pub welcome_link_ttl: Duration,
    /// `BACKUP_DIR`.
    pub backup_dir: PathBuf,
    /// `BACKUP_RETENTION_DAYS`: every backup younger than this many days is kept (14).
    pub backup_retention_days: u32,
    /// `BACKUP_KEEP_MONTHS`: the first backup of each month is kept this many months (84).
    pub backup_keep_months: u32,
    /// `BACKUP_CRON`: when the scheduler takes a backup, five cron fields in Asia/Kolkata
    /// (`30 2 * * *`); `off` schedules none.
    pub backup_cron: Option<crate::backup::cron::CronSchedule>,
    /// `BACKUP_ENCRYPTION_KEY`: 32 bytes (64 hex characters or base64); backups are stored
    /// encrypted with AES-256-GCM when set.
    pub backup_encryption_key: Option<crate::backup::crypt::BackupKey>,
    /// `BACKUP_VERIFY_DATABASE_URL`: the database a backup is test-restored into (emptied first);
    /// unset: `<dbname>_backup_verify` is created next to the service's database and dropped.
    pub backup_verify_database_url: Option<SecretUrl>,
    /// `BACKUP_TIMEOUT_SECONDS`: limit of each `pg_dump`, `pg_restore` and `tar` run (3600).
    pub backup_timeout: Duration,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `RATE_LIMITS_ENABLED` (on by default; benchmarks may switch it off).
    pub rate_limits_enabled: bool,
    /// `PASSWORD_HASH_CONCURRENCY`: argon2 computations at once per API process (default: cores).
    pub password_hash_concurrency: usize,
    /// `OUTBOX_POLL_MS`: how often the dispatcher looks for due jobs when not woken.
    pub outbox_poll: Duration,
    /// `JOB_STALE_SECONDS`: the outer safety net: a job pushed this long ago that Redis no longer
    /// holds, or a running job without a lease (claimed before leases existed), is queued again.
    pub job_stale_after: Duration,
    /// `JOB_LEASE_SECONDS`: how long a claimed job stays its worker's without a renewal; a running
    /// job whose lease lapsed (its worker was killed) is taken again.
    pub job_lease: Duration,
    /// `JOB_LEASE_RENEW_SECONDS`: how often a worker renews the leases of the jobs it runs.
    pub job_lease_renew: Duration,
    /// `WORKER_TEST_JOBS`: the worker also runs the `sleep` job kind that tests use (never in
    /// production).
    pub worker_test_jobs: bool,
    /// `JOB_RETRY_BASE_MS`: first retry delay, doubled at each attempt.
    pub job_retry_base: Duration,
    /// `WORKER_CONCURRENCY`: jobs run at once per queue in one worker process.
    pub worker_concurrency: usize,
    /// `INVOICE_WORKER_CONCURRENCY`: jobs of the `invoices` queue run at once in one worker
    /// process (default 32). Its jobs call no third party: each is two short queries, a render
    /// (at most one per core at a time) and a file write, so more in flight overlap their waits.
    pub invoice_worker_concurrency: usize,
    /// `WORKER_POLL_MS`: how often an idle worker asks Redis for jobs.
    pub worker_poll: Duration,
    /// `API_RUNS_DISPATCHER`: the API process also moves outbox jobs to Redis (default true).
    pub api_runs_dispatcher: bool,
    /// `AUTH_CACHE_SECONDS`: how long an API process may reuse a Bearer token's user and session
    /// check without asking PostgreSQL (0 disables); changes still take effect at once.
    pub auth_cache_ttl: Duration,
    /// `CATALOG_CACHE_SECONDS`: lifetime of cached public catalogue reads (0 disables the cache).
    pub catalog_cache_ttl: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("app_env", &self.app_env)
            .field("bind_addr", &self.bind_addr)
            .field("public_base_url", &self.public_base_url)
            .field("database_url", &self.database_url)
            .field("redis_url", &self.redis_url)
            .field("queue_prefix", &self.queue_prefix)
            .field("jwt_secret", &"***")
            .field("sentry_dsn", &self.sentry_dsn.as_ref().map(|_| "***"))
            .field("jwt_ttl", &self.jwt_ttl)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("razorpay", &self.razorpay)
            .field("cloudinary_url", &self.cloudinary_url)
            .field("smtp_url", &self.smtp_url)
            .field("mail_from", &self.mail_from)
            .field("log_format", &self.log_format)
            .field("backup_dir", &self.backup_dir)
            .field("backup_cron", &self.backup_cron)
            .field("backup_encryption_key", &self.backup_encryption_key)
            .field("backup_verify_database_url", &self.backup_verify_database_url)
            .finish_non_exhaustive()
    }
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// Variable name.
    pub name: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn invalid(name: &'static str, message: impl Into<String>) -> Self {
        Self { name, message: message.into() }
    }
}

/// The development signing key: refused outside development.
pub const DEV_JWT_SECRET: &str = "dev-insecure-jwt-secret-change-me";

/// Default origins of the original backend.
pub const DEFAULT_CORS_ORIGINS: &str =
    "http://localhost:5173,http://127.0.0.1:5173,http://localhost:3000,http://localhost:5174";

struct Vars(HashMap<String, String>);

impl Vars {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_string()
    }

    fn parse<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e| ConfigError::invalid(name, format!("`{raw}` is not valid: {e}"))),
        }
    }

    fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(ConfigError::invalid(name, format!("`{v}` is not a boolean"))),
        }
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parse::<u64>(name, default).map(Duration::from_secs)
    }

    fn millis(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parse::<u64>(name, default).map(Duration::from_millis)
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Jobs of `queue` run at once in one worker process.
    pub fn concurrency_of(&self, queue: crate::jobs::Queue) -> usize {
        match queue {
            crate::jobs::Queue::Invoices => self.invoice_worker_concurrency,
            _ => self.worker_concurrency,
        }
    }

    /// Reads settings from the given variables; unset ones take their defaults.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let v = Vars(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        let app_env = AppEnv::parse(v.get("APP_ENV").unwrap_or("development"))?;
        let production = app_env == AppEnv::Production;
        let public_base_url = v.string("PUBLIC_BASE_URL", "http://127.0.0.1:8080").trim_end_matches('/').to_string();
        if Url::parse(&public_base_url).is_err() {
            return Err(ConfigError::invalid("PUBLIC_BASE_URL", "not a URL"));
        }
        let razorpay = match (v.get("RAZORPAY_KEY_ID"), v.get("RAZORPAY_KEY_SECRET")) {
            (Some(id), Some(secret)) => Some(RazorpayConfig {
                key_id: id.to_string(),
                key_secret: SecretString::from(secret.to_string()),
                webhook_secret: v.get("RAZORPAY_WEBHOOK_SECRET").map(|s| SecretString::from(s.to_string())),
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::invalid(
                    "RAZORPAY_KEY_ID",
                    "RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET must be set together",
                ));
            }
        };
        let trusted_proxies = match v.get("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from)).map_err(|_| {
                        ConfigError::invalid("TRUSTED_PROXIES", format!("`{s}` is not an address or CIDR"))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let log_format = match v.get("LOG_FORMAT") {
            None if production => LogFormat::Json,
            None => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some("pretty") | Some("text") => LogFormat::Pretty,
            Some(other) => {
                return Err(ConfigError::invalid("LOG_FORMAT", format!("`{other}`: use pretty or json")));
            }
        };
        let jwt_secret = match v.get("JWT_SECRET") {
            Some(s) => s.to_string(),
            None if app_env == AppEnv::Development => DEV_JWT_SECRET.to_string(),
            None => return Err(ConfigError::invalid("JWT_SECRET", "required outside development")),
        };
        let queue_prefix = v.string("QUEUE_PREFIX", "electioncart");
        if !queue_prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c)) {
            return Err(ConfigError::invalid("QUEUE_PREFIX", "use letters, digits, - _ : ."));
        }
        let password_reset_url =
            v.string("PASSWORD_RESET_URL", &format!("{public_base_url}/reset-password?token={{token}}"));
        if !password_reset_url.contains("{token}") {
            return Err(ConfigError::invalid("PASSWORD_RESET_URL", "must contain {token}"));
        }
        let worker_concurrency = v.parse::<usize>("WORKER_CONCURRENCY", 8)?;
        if worker_concurrency == 0 {
            return Err(ConfigError::invalid("WORKER_CONCURRENCY", "must be at least 1"));
        }
        let invoice_worker_concurrency = v.parse::<usize>("INVOICE_WORKER_CONCURRENCY", 32)?;
        if invoice_worker_concurrency == 0 {
            return Err(ConfigError::invalid("INVOICE_WORKER_CONCURRENCY", "must be at least 1"));
        }
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        let password_hash_concurrency = v.parse::<usize>("PASSWORD_HASH_CONCURRENCY", cores)?;
        if password_hash_concurrency == 0 {
            return Err(ConfigError::invalid("PASSWORD_HASH_CONCURRENCY", "must be at least 1"));
        }
        let job_lease = v.seconds("JOB_LEASE_SECONDS", 30)?;
        let job_lease_renew = v.seconds("JOB_LEASE_RENEW_SECONDS", 10)?;
        if job_lease_renew.is_zero() || job_lease_renew * 2 > job_lease {
            return Err(ConfigError::invalid(
                "JOB_LEASE_RENEW_SECONDS",
                "must be at least 1 and at most half of JOB_LEASE_SECONDS (a renewal may be late or fail once)",
            ));
        }
        let worker_test_jobs = v.bool("WORKER_TEST_JOBS", false)?;
        if worker_test_jobs && production {
            return Err(ConfigError::invalid("WORKER_TEST_JOBS", "test job kinds are never run in production"));
        }
        let cfg = Self {
            app_env,
            bind_addr: v.parse("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            public_base_url,
            database_url: SecretUrl::new(v.string("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/electioncart")),
            database_max_connections: v.parse("DATABASE_MAX_CONNECTIONS", 20)?,
            database_acquire_timeout: v.seconds("DATABASE_ACQUIRE_TIMEOUT_SECONDS", 3)?,
            database_statement_timeout: v.seconds("DATABASE_STATEMENT_TIMEOUT_SECONDS", 30)?,
            redis_url: SecretUrl::new(v.string("REDIS_URL", "redis://127.0.0.1:6379")),
            redis_response_timeout: v.seconds("REDIS_RESPONSE_TIMEOUT_SECONDS", 5)?,
            queue_prefix,
            jwt_secret: SecretString::from(jwt_secret),
            jwt_ttl: v.seconds("JWT_TTL_SECONDS", 604_800)?,
            refresh_ttl: v.seconds("REFRESH_TOKEN_TTL_SECONDS", 30 * 86_400)?,
            password_reset_ttl: v.seconds("PASSWORD_RESET_TTL_SECONDS", 3_600)?,
            password_reset_url,
            metrics_token: v.get("METRICS_TOKEN").map(|s| SecretString::from(s.to_string())),
            sentry_dsn: match v.get("SENTRY_DSN").map(str::trim).filter(|s| !s.is_empty()) {
                None => None,
                Some(raw) => match raw.parse::<sentry::types::Dsn>() {
                    Ok(_) => Some(SecretString::from(raw.to_string())),
                    Err(e) => return Err(ConfigError::invalid("SENTRY_DSN", format!("not a Sentry DSN: {e}"))),
                },
            },
            gst_default_rate: v.string("GST_DEFAULT_RATE", "18"),
            prices_include_gst: v.bool("PRICES_INCLUDE_GST", true)?,
            cors_allowed_origins: v
                .string("CORS_ALLOWED_ORIGINS", DEFAULT_CORS_ORIGINS)
                .split(',')
                .map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            trusted_proxies,
            hsts_seconds: v.parse("SECURITY_HSTS_SECONDS", if production { 31_536_000 } else { 0 })?,
            request_timeout: v.seconds("REQUEST_TIMEOUT_SECONDS", 30)?,
            upload_timeout: v.seconds("UPLOAD_TIMEOUT_SECONDS", 300)?,
            max_body_bytes: v.parse("MAX_BODY_BYTES", 1_048_576)?,
            shutdown_timeout: v.seconds("SHUTDOWN_TIMEOUT_SECONDS", 30)?,
            debug: v.bool("DEBUG", false)?,
            razorpay,
            razorpay_api_base: v.string("RAZORPAY_API_BASE", "https://api.razorpay.com"),
            razorpay_timeout: v.seconds("RAZORPAY_TIMEOUT_SECONDS", 10)?,
            razorpay_max_in_flight: v.parse::<usize>("RAZORPAY_MAX_IN_FLIGHT", 512)?.max(1),
            reconcile_after: v.seconds("RECONCILE_AFTER_SECONDS", 300)?,
            cloudinary_url: v.get("CLOUDINARY_URL").map(SecretUrl::new),
            cloudinary_api_base: v.string("CLOUDINARY_API_BASE", "https://api.cloudinary.com"),
            media_dir: PathBuf::from(v.string("MEDIA_DIR", "./var/media")),
            firebase_project_id: v.get("FIREBASE_PROJECT_ID").map(str::to_string),
            firebase_certs_url: v.string(
                "FIREBASE_CERTS_URL",
                "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com",
            ),
            smtp_url: v.get("SMTP_URL").map(SecretUrl::new),
            smtp_timeout: v.seconds("SMTP_TIMEOUT_SECONDS", 20)?,
            mail_claim_stale: v.seconds("MAIL_CLAIM_STALE_SECONDS", 600)?,
            mail_from: v.string("MAIL_FROM", "Election Cart <no-reply@electioncart.local>"),
            mail_outbox_dir: PathBuf::from(v.string("MAIL_OUTBOX_DIR", "./var/mail")),
            // Production has no default: `check --deploy` reports it missing.
            seller_name: v.string("SELLER_NAME", if production { "" } else { "Election Cart" }),
            seller_gstin: v.get("SELLER_GSTIN").map(str::to_string),
            seller_state_code: v.string("SELLER_STATE_CODE", "29"),
            seller_address: v.string("SELLER_ADDRESS", ""),
            invoice_prefix: v.string("INVOICE_PREFIX", "EC"),
            credit_note_prefix: v.string("CREDIT_NOTE_PREFIX", "CN"),
            support_email: v.string("SUPPORT_EMAIL", "support@electioncart.com"),
            welcome_link_ttl: Duration::from_secs(v.parse::<u64>("WELCOME_LINK_HOURS", 72)?.saturating_mul(3600)),
            backup_dir: PathBuf::from(v.string("BACKUP_DIR", "./var/backups")),
            backup_retention_days: v.parse("BACKUP_RETENTION_DAYS", 14)?,
            backup_keep_months: v.parse("BACKUP_KEEP_MONTHS", 84)?,
            backup_cron: match v.get("BACKUP_CRON") {
                Some(off) if off.eq_ignore_ascii_case("off") => None,
                raw => Some(
                    crate::backup::cron::CronSchedule::parse(raw.unwrap_or("30 2 * * *"))
                        .map_err(|e| ConfigError::invalid("BACKUP_CRON", e))?,
                ),
            },
            backup_encryption_key: v
                .get("BACKUP_ENCRYPTION_KEY")
                .map(crate::backup::crypt::BackupKey::parse)
                .transpose()
                .map_err(|e| ConfigError::invalid("BACKUP_ENCRYPTION_KEY", e))?,
            backup_verify_database_url: v.get("BACKUP_VERIFY_DATABASE_URL").map(SecretUrl::new),
            backup_timeout: v.seconds("BACKUP_TIMEOUT_SECONDS", 3_600)?.max(Duration::from_secs(1)),
            log_format,
            rate_limits_enabled: v.bool("RATE_LIMITS_ENABLED", true)?,
            password_hash_concurrency,
            outbox_poll: v.millis("OUTBOX_POLL_MS", 1_000)?,
            job_stale_after: v.seconds("JOB_STALE_SECONDS", 900)?,
            job_lease,
            job_lease_renew,
            worker_test_jobs,
            job_retry_base: v.millis("JOB_RETRY_BASE_MS", 5_000)?,
            worker_concurrency,
            invoice_worker_concurrency,
            worker_poll: v.millis("WORKER_POLL_MS", 100)?,
            api_runs_dispatcher: v.bool("API_RUNS_DISPATCHER", true)?,
            auth_cache_ttl: v.seconds("AUTH_CACHE_SECONDS", 5)?,
            catalog_cache_ttl: v.seconds("CATALOG_CACHE_SECONDS", 10)?,
        };
        cfg.check_gst()?;
        Ok(cfg)
    }

    fn check_gst(&self) -> Result<(), ConfigError> {
        crate::gst::StateCode::parse(&self.seller_state_code)
            .map_err(|e| ConfigError::invalid("SELLER_STATE_CODE", e.to_string()))?;
        if let Some(gstin) = &self.seller_gstin {
            let parsed =
                crate::gst::Gstin::parse(gstin).map_err(|e| ConfigError::invalid("SELLER_GSTIN", e.to_string()))?;
            if parsed.state_code().as_str() != self.seller_state_code {
                return Err(ConfigError::invalid("SELLER_GSTIN", "its state code differs from SELLER_STATE_CODE"));
            }
        }
        if !crate::gst::valid_invoice_prefix(&self.invoice_prefix) {
            return Err(ConfigError::invalid("INVOICE_PREFIX", "1-4 characters of A-Z and 0-9"));
        }
        if !crate::gst::valid_invoice_prefix(&self.credit_note_prefix) {
            return Err(ConfigError::invalid("CREDIT_NOTE_PREFIX", "1-4 characters of A-Z and 0-9"));
        }
        if self.credit_note_prefix == self.invoice_prefix {
            return Err(ConfigError::invalid("CREDIT_NOTE_PREFIX", "must differ from INVOICE_PREFIX"));
        }
        if !email_address::EmailAddress::is_valid(self.support_email.trim()) {
            return Err(ConfigError::invalid("SUPPORT_EMAIL", "not an email address"));
        }
        crate::gst::Rate::parse(&self.gst_default_rate)
            .map_err(|e| ConfigError::invalid("GST_DEFAULT_RATE", e.to_string()))?;
        Ok(())
    }

    /// True in production.
    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// Every setting that is unsafe for a public deployment; empty when all is well.
    pub fn deploy_problems(&self) -> Vec<DeployProblem> {
        crate::deploy_check::problems(self)
    }

    /// Settings worth a warning in production that do not stop the service.
    pub fn deploy_warnings(&self) -> Vec<DeployProblem> {
        crate::deploy_check::warnings(self)
    }
}

/// One finding of `api check --deploy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployProblem {
    /// Stable identifier, e.g. `jwt_secret_weak`.
    pub id: &'static str,
    /// The variable concerned.
    pub setting: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for DeployProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.id, self.setting, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_in_development() -> Result<(), ConfigError> {
        let cfg = Config::from_vars(Vec::<(String, String)>::new())?;
        assert_eq!(cfg.app_env, AppEnv::Development);
        assert_eq!(cfg.jwt_ttl, Duration::from_secs(604_800));
        assert_eq!(cfg.cors_allowed_origins.len(), 4);
        Ok(())
    }

    #[test]
    fn worker_concurrency_defaults_and_validates() -> Result<(), ConfigError> {
        let cfg = Config::from_vars(Vec::<(String, String)>::new())?;
        assert_eq!((cfg.worker_concurrency, cfg.invoice_worker_concurrency), (8, 32));
        assert_eq!(cfg.concurrency_of(crate::jobs::Queue::Invoices), 32);
        assert_eq!(cfg.concurrency_of(crate::jobs::Queue::Emails), 8);
        let set = Config::from_vars([("WORKER_CONCURRENCY", "3"), ("INVOICE_WORKER_CONCURRENCY", "5")])?;
        assert_eq!(
            (set.concurrency_of(crate::jobs::Queue::Media), set.concurrency_of(crate::jobs::Queue::Invoices)),
            (3, 5)
        );
        for name in ["WORKER_CONCURRENCY", "INVOICE_WORKER_CONCURRENCY"] {
            assert_eq!(Config::from_vars([(name, "0")]).err().map(|e| e.name), Some(name));
            assert_eq!(Config::from_vars([(name, "many")]).err().map(|e| e.name), Some(name));
        }
        Ok(())
    }

    #[test]
    fn backup_settings_default_and_validate() -> Result<(), ConfigError> {
        let cfg = Config::from_vars(Vec::<(String, String)>::new())?;
        assert_eq!((cfg.backup_retention_days, cfg.backup_keep_months), (14, 84));
        assert_eq!(cfg.backup_cron.as_ref().map(|c| c.to_string()).as_deref(), Some("30 2 * * *"));
        assert!(cfg.backup_encryption_key.is_none() && cfg.backup_verify_database_url.is_none());
        let off = Config::from_vars([("BACKUP_CRON", "off")])?;
        assert!(off.backup_cron.is_none());
        assert_eq!(Config::from_vars([("BACKUP_CRON", "61 * * * *")]).err().map(|e| e.name), Some("BACKUP_CRON"));
        let bad_key = Config::from_vars([("BACKUP_ENCRYPTION_KEY", "short")]).err().map(|e| e.name);
        assert_eq!(bad_key, Some("BACKUP_ENCRYPTION_KEY"));
        let key = "ab".repeat(32);
        let keyed = Config::from_vars([("BACKUP_ENCRYPTION_KEY", key.as_str())])?;
        assert!(keyed.backup_encryption_key.is_some() && !format!("{keyed:?}").contains(&key));
        Ok(())
    }

    #[test]
    fn debug_hides_secrets() -> Result<(), ConfigError> {
        let cfg = Config::from_vars([
            ("JWT_SECRET", "super-secret-value-that-must-not-leak"),
            ("DATABASE_URL", "postgres://app:pgpassword@db.example.com/app"),
            ("REDIS_URL", "redis://:redispassword@cache.example.com:6379"),
            ("SMTP_URL", "smtps://mailer:smtppassword@smtp.example.com:465"),
            ("RAZORPAY_KEY_ID", "rzp_live_x"),
            ("RAZORPAY_KEY_SECRET", "razorpaysecret"),
        ])?;
        let shown = format!("{cfg:?}");
        for secret in ["super-secret", "pgpassword", "redispassword", "smtppassword", "razorpaysecret"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(shown.contains("db.example.com"));
        Ok(())
    }

    #[test]
    fn jwt_secret_required_in_production() {
        let err = Config::from_vars([("APP_ENV", "production")]).err();
        assert_eq!(err.map(|e| e.name), Some("JWT_SECRET"));
    }
}
