//! Test support: a fresh database per test (cloned from a migrated template), a Redis key prefix
//! per test, the API on a random port, optionally the workers, a real SMTP listener and a
//! switchable TCP proxy for simulating a Redis outage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod builders;
pub mod cloudinary;
pub mod django;
pub mod fixtures;
pub mod proxy;
pub mod razorpay;
pub mod sentry;
pub mod smtp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::Config;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use tokio::sync::{OnceCell, oneshot};
use tokio::task::JoinHandle;

/// Secret the tests sign tokens with.
pub const TEST_JWT_SECRET: &str = "e2e-tests-jwt-secret-0123456789-abcdefghij";

/// Server URL of PostgreSQL for tests (a maintenance database on it).
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Redis for tests.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// URL of a database on the test server.
pub fn database_url_of(name: &str) -> String {
    database_url(name)
}

/// Drops a database a test made (best effort).
pub async fn drop_database(name: &str) {
    if let Ok(mut admin) = PgConnection::connect(&admin_database_url()).await {
        let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut admin)
            .await;
    }
}

fn database_url(name: &str) -> String {
    let mut url = url::Url::parse(&admin_database_url()).expect("TEST_DATABASE_URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// Name of a database with every migration applied, made once per migration set (shared by all
/// test processes through an advisory lock).
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut hasher = Sha256::new();
            for m in common::db::MIGRATOR.iter() {
                hasher.update(m.version.to_le_bytes());
                hasher.update(&*m.checksum);
            }
            let name = format!("ec_tmpl_{}", &hex::encode(hasher.finalize())[..16]);
            let mut admin = PgConnection::connect(&admin_database_url()).await.expect("connect to PostgreSQL");
            sqlx::query("SELECT pg_advisory_lock(727274)").execute(&mut admin).await.unwrap();
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_optional(&mut admin)
                .await
                .unwrap();
            if exists.is_none() {
                let building = format!("{name}_build");
                let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await;
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {building}"))).execute(&mut admin).await.unwrap();
                {
                    let pool = PgPoolOptions::new().max_connections(1).connect(&database_url(&building)).await.unwrap();
                    common::db::migrate(&pool).await.expect("migrations apply");
                    pool.close().await;
                }
                sqlx::query(AssertSqlSafe(format!("ALTER DATABASE {building} RENAME TO {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            }
            sqlx::query("SELECT pg_advisory_unlock(727274)").execute(&mut admin).await.unwrap();
            name
        })
        .await
}

/// A fresh database cloned from the template; returns its name.
pub async fn fresh_database() -> String {
    let tmpl = template().await;
    let name = format!("ec_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_database_url()).await.unwrap();
    let mut tries = 0;
    loop {
        match sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name} TEMPLATE {tmpl}"))).execute(&mut admin).await {
            Ok(_) => return name,
            // Concurrent clones of one template may collide; try again shortly.
            Err(e) if tries < 50 && e.to_string().contains("being accessed by other users") => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("create test database: {e}"),
        }
    }
}

/// Builds a [`TestApp`].
pub struct TestAppBuilder {
    vars: Vec<(String, String)>,
    worker: bool,
    database: Option<String>,
    prefix: Option<String>,
    clock: Option<common::time::Clock>,
}

/// A running API (and workers, if asked) on its own database and Redis prefix.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Listening address.
    pub addr: SocketAddr,
    /// Client that never follows redirects.
    pub client: reqwest::Client,
    /// Pool on the test database.
    pub pool: PgPool,
    /// The configuration the app runs with.
    pub cfg: Config,
    /// Test database name.
    pub db_name: String,
    /// Redis key prefix.
    pub prefix: String,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    owns_database: bool,
}

impl Default for TestAppBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TestAppBuilder {
    /// Defaults: API only, fresh database, unique prefix.
    pub fn new() -> Self {
        Self { vars: Vec::new(), worker: false, database: None, prefix: None, clock: None }
    }

    /// Sets a configuration variable.
    pub fn var(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.into()));
        self
    }

    /// Also run every queue's worker (and a dispatcher) in-process.
    pub fn with_worker(mut self) -> Self {
        self.worker = true;
        self
    }

    /// Share an existing database (a second API process over the same data).
    pub fn database(mut self, name: &str) -> Self {
        self.database = Some(name.to_string());
        self
    }

    /// Share a Redis prefix (processes of one deployment).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = Some(prefix.to_string());
        self
    }

    /// Runs the API on this clock (the invoice series' financial year).
    pub fn clock(mut self, clock: common::time::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Points Razorpay at a fake (keys, webhook secret, API base, 2 s timeout).
    pub fn razorpay(self, fake: &razorpay::FakeRazorpay) -> Self {
        self.var("RAZORPAY_KEY_ID", &fake.key_id)
            .var("RAZORPAY_KEY_SECRET", &fake.key_secret)
            .var("RAZORPAY_WEBHOOK_SECRET", &fake.webhook_secret)
            .var("RAZORPAY_API_BASE", &fake.base)
            .var("RAZORPAY_TIMEOUT_SECONDS", "2")
    }

    /// Starts everything.
    pub async fn spawn(self) -> TestApp {
        let owns_database = self.database.is_none();
        let db_name = match self.database {
            Some(n) => n,
            None => fresh_database().await,
        };
        let prefix = self.prefix.unwrap_or_else(|| format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
        let mail_dir = std::env::temp_dir().join(format!("ec-mail-{prefix}"));
        let mut vars: Vec<(String, String)> = vec![
            ("APP_ENV".into(), "development".into()),
            ("DATABASE_URL".into(), database_url(&db_name)),
            ("DATABASE_MAX_CONNECTIONS".into(), "8".into()),
            ("REDIS_URL".into(), redis_url()),
            ("QUEUE_PREFIX".into(), prefix.clone()),
            ("JWT_SECRET".into(), TEST_JWT_SECRET.into()),
            ("MAIL_OUTBOX_DIR".into(), mail_dir.display().to_string()),
            // Never the working directory's ./var/media: each test stores its files apart.
            ("MEDIA_DIR".into(), std::env::temp_dir().join(format!("ec-media-{prefix}")).display().to_string()),
            ("OUTBOX_POLL_MS".into(), "100".into()),
            ("WORKER_POLL_MS".into(), "50".into()),
            ("JOB_RETRY_BASE_MS".into(), "200".into()),
            ("SHUTDOWN_TIMEOUT_SECONDS".into(), "5".into()),
            ("PUBLIC_BASE_URL".into(), "http://127.0.0.1:8080".into()),
        ];
        for (k, v) in self.vars {
            vars.retain(|(name, _)| *name != k);
            vars.push((k, v));
        }
        let cfg = Config::from_vars(vars).expect("test configuration");
        // The test's own pool always reaches the test database, even when the app is pointed
        // elsewhere to simulate an outage.
        let pool = PgPoolOptions::new().max_connections(4).connect(&database_url(&db_name)).await.unwrap();
        let mut shared = api::state::Shared::new(cfg.clone()).unwrap();
        if let Some(clock) = self.clock {
            shared.clock = clock;
        }
        let state = api::AppState::from(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let mut stops = vec![stop];
        let mut tasks = vec![tokio::spawn(async move {
            api::serve(state, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        })];
        if self.worker {
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            let options =
                worker::Options { queues: common::jobs::Queue::ALL.to_vec(), scheduler: false, dispatcher: true };
            let wcfg = cfg.clone();
            tasks.push(tokio::spawn(async move {
                worker::run(wcfg, options, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            }));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestApp {
            base: format!("http://{addr}"),
            addr,
            client,
            pool,
            cfg,
            db_name,
            prefix,
            stops,
            tasks,
            owns_database,
        }
    }
}

/// A started [`TestApp`] with defaults.
pub async fn spawn_app() -> TestApp {
    TestAppBuilder::new().spawn().await
}

impl TestApp {
    /// Absolute URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET with an optional Bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// POST JSON with an optional Bearer token.
    pub async fn post(&self, path: &str, body: &serde_json::Value, token: Option<&str>) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, body, token).await
    }

    /// POST a multipart form with an optional Bearer token.
    pub async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).multipart(form);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Any method with a JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// A pool of one connection to the app's database: the statements run through it are the
    /// ones its `pg_prepared_statements` lists (the tests that count PostgreSQL's plans).
    pub async fn one_connection_pool(&self) -> PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.pool.connect_options().as_ref().clone())
            .await
            .unwrap()
    }

    /// Creates a user (password hashed with argon2id, the `is_staff` flag for admins) through
    /// [`builders::UserBuilder`] and returns its id.
    pub async fn create_user(&self, username: &str, password: &str, role: &str, email: &str) -> i64 {
        builders::UserBuilder::new(username).password(password).role_named(role).email(email).create(self).await
    }

    /// Logs in and returns the full response body.
    pub async fn login(&self, username: &str, password: &str) -> serde_json::Value {
        let res =
            self.post("/api/auth/login/", &serde_json::json!({"username": username, "password": password}), None).await;
        assert_eq!(res.status(), 200, "login of {username}");
        res.json().await.unwrap()
    }

    /// Creates a user and returns an access token for it.
    pub async fn user_token(&self, username: &str, role: &str) -> (i64, String) {
        let id = self.create_user(username, "pass-word-123", role, "").await;
        let body = self.login(username, "pass-word-123").await;
        (id, body["token"].as_str().unwrap().to_string())
    }

    /// Waits until `check` returns `Some`, polling for up to `timeout`.
    pub async fn eventually<T, F, Fut>(&self, timeout: Duration, mut check: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(v) = check().await {
                return Some(v);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the API and workers (graceful shutdown) and waits for them.
    pub async fn stop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(15), t).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let db = self.owns_database.then(|| self.db_name.clone());
        let prefix = self.prefix.clone();
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("ec-media-{prefix}")));
        // Cleanup needs async I/O; Drop cannot await, so a thread with its own runtime does it.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Some(db) = db
                    && let Ok(mut admin) = PgConnection::connect(&admin_database_url()).await
                {
                    let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
                        .execute(&mut admin)
                        .await;
                }
                if let Ok(client) = redis::Client::open(redis_url())
                    && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                {
                    let keys: Vec<String> =
                        redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.unwrap_or_default();
                    for chunk in keys.chunks(500) {
                        let _: Result<i64, _> = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Shared handle type for counters in tests.
pub type Shared<T> = Arc<std::sync::Mutex<T>>;
