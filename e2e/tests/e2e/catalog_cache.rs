//! The public catalogue served from process memory (api/src/catalog_cache.rs): changes reach
//! every API process (the one that made them on its very next request, the others through
//! `LISTEN/NOTIFY` within a second), `ETag`/`If-None-Match`, hits that send nothing to
//! PostgreSQL or Redis, and an uncached page in two queries.
//!
//! The processes under test reach PostgreSQL (and Redis) through a proxy in this file that
//! counts what they send: statements (simple and extended-protocol executions) and bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e::{TestApp, TestAppBuilder, spawn_app};
use reqwest::Method;
use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy that counts what clients send upstream.
struct CountingProxy {
    port: u16,
    statements: Arc<AtomicUsize>,
    bytes: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Client messages of the PostgreSQL protocol, counted as they pass: `Q` (simple query) and
/// `E` (execute) are statements. The first messages of a connection carry no type byte. The
/// change listener's connection (it starts with `LISTEN`) is not counted: it connects whenever
/// it likes and runs nothing per request.
#[derive(Default)]
struct PgMessages {
    buf: Vec<u8>,
    started: bool,
    listener: bool,
}

impl PgMessages {
    fn feed(&mut self, data: &[u8], statements: &AtomicUsize) {
        self.buf.extend_from_slice(data);
        loop {
            let typed = usize::from(self.started);
            if self.buf.len() < typed + 4 {
                return;
            }
            let len = u32::from_be_bytes(self.buf[typed..typed + 4].try_into().unwrap()) as usize;
            if self.buf.len() < typed + len {
                return;
            }
            if self.started {
                self.listener |= self.buf[0] == b'Q' && self.buf[5..].starts_with(b"LISTEN");
                if matches!(self.buf[0], b'Q' | b'E') && !self.listener {
                    statements.fetch_add(1, Ordering::SeqCst);
                }
            } else {
                // SSLRequest / GSSENCRequest come before the startup message.
                let code = u32::from_be_bytes(self.buf[4..8].try_into().unwrap());
                self.started = !matches!(code, 80_877_103 | 80_877_104);
            }
            self.buf.drain(..typed + len);
        }
    }
}

impl CountingProxy {
    /// Forwards a random local port to `upstream` (host:port); `postgres` parses what passes.
    async fn start(upstream: String, postgres: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let statements = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(AtomicUsize::new(0));
        let (s, b) = (statements.clone(), bytes.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                let (s, b) = (s.clone(), b.clone());
                tokio::spawn(async move {
                    let (mut client_rx, mut client_tx) = client.into_split();
                    let (mut server_rx, mut server_tx) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_rx, &mut client_tx).await;
                    });
                    let mut messages = PgMessages::default();
                    let mut chunk = vec![0u8; 16 * 1024];
                    loop {
                        let n = match client_rx.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        b.fetch_add(n, Ordering::SeqCst);
                        if postgres {
                            messages.feed(&chunk[..n], &s);
                        }
                        if server_tx.write_all(&chunk[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { port, statements, bytes, task }
    }

    /// A proxy in front of the tests' PostgreSQL.
    async fn postgres() -> Self {
        let url = url::Url::parse(&e2e::admin_database_url()).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port().unwrap_or(5432));
        Self::start(upstream, true).await
    }

    /// A proxy in front of the tests' Redis.
    async fn redis() -> Self {
        let url = url::Url::parse(&e2e::redis_url()).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port().unwrap_or(6379));
        Self::start(upstream, false).await
    }

    /// `DATABASE_URL` of `db` through this proxy (no TLS, so the messages can be read).
    fn database_url(&self, db: &str) -> String {
        let mut url = url::Url::parse(&e2e::admin_database_url()).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.set_path(&format!("/{db}"));
        url.set_query(Some("sslmode=disable"));
        url.to_string()
    }

    fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    fn bytes(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }
}

/// Another API process on `seed`'s database whose PostgreSQL traffic `CountingProxy` counts
/// (no outbox dispatcher: it would poll).
async fn counted(seed: &TestApp, builder: TestAppBuilder) -> (TestApp, CountingProxy) {
    let proxy = CountingProxy::postgres().await;
    let app = builder
        .database(&seed.db_name)
        .prefix(&seed.prefix)
        .var("DATABASE_URL", proxy.database_url(&seed.db_name))
        .var("API_RUNS_DISPATCHER", "false")
        .spawn()
        .await;
    (app, proxy)
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let res = app.get(path, None).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

/// GETs `path` until a repeat sends no statement: the process's listener is up and it holds
/// the body. Returns the body.
async fn warm(app: &TestApp, proxy: &CountingProxy, path: &str) -> Value {
    for _ in 0..200 {
        get_json(app, path).await;
        let before = proxy.statements();
        let body = get_json(app, path).await;
        if proxy.statements() == before {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} is never served from memory");
}

/// Polls `check` on `path` for up to `within`; returns how long it took.
async fn seen_within(app: &TestApp, path: &str, within: Duration, check: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let body = get_json(app, path).await;
        if check(&body) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{path} still shows {body} after {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn admin_token(app: &TestApp) -> String {
    app.user_token("cacheadmin", "admin").await.1
}

async fn create_package(app: &TestApp, token: &str, name: &str) -> i64 {
    let res = app
        .post(
            "/api/admin/products/package/",
            &json!({"name": name, "price": 100, "description": "d", "items": [{"name": "Posters", "quantity": 10}]}),
            Some(token),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_change_shows_at_once_where_made_and_within_a_second_on_every_other_process() {
    let seed = spawn_app().await;
    let token = admin_token(&seed).await;
    let id = create_package(&seed, &token, "Shared Kit").await;
    let detail = format!("/api/packages/{id}/");
    let (a, pa) = counted(&seed, TestAppBuilder::new()).await;
    let (b, pb) = counted(&seed, TestAppBuilder::new()).await;
    for (app, proxy) in [(&a, &pa), (&b, &pb)] {
        assert_eq!(warm(app, proxy, "/api/packages/").await["results"][0]["name"], "Shared Kit");
        assert_eq!(warm(app, proxy, &detail).await["price"], "100.00");
    }

    let res = a
        .send(
            Method::PUT,
            &format!("/api/admin/products/package/{id}/update/"),
            &json!({"name": "Renamed Kit", "price": 150, "description": "d"}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 200);
    let changed_at = Instant::now();
    // The process that made the change: its very next request.
    assert_eq!(get_json(&a, "/api/packages/").await["results"][0]["name"], "Renamed Kit");
    assert_eq!(get_json(&a, &detail).await["price"], "150.00");
    // Every other process: within a second, told by the notice.
    seen_within(&b, "/api/packages/", Duration::from_secs(1), |v| v["results"][0]["name"] == "Renamed Kit").await;
    seen_within(&b, &detail, Duration::from_secs(1), |v| v["price"] == "150.00").await;
    assert!(changed_at.elapsed() < Duration::from_secs(1), "{:?}", changed_at.elapsed());
    // And both serve the new bodies from memory again.
    assert_eq!(warm(&a, &pa, &detail).await["name"], "Renamed Kit");
    assert_eq!(warm(&b, &pb, &detail).await["name"], "Renamed Kit");

    // Deactivated on B: B at once, A within a second.
    let res = b
        .send(Method::PATCH, &format!("/api/admin/products/package/{id}/toggle-status/"), &json!({}), Some(&token))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(b.get(&detail, None).await.status(), 404);
    assert_eq!(get_json(&b, "/api/packages/").await["count"], 0);
    seen_within(&a, "/api/packages/", Duration::from_secs(1), |v| v["count"] == 0).await;
}

#[tokio::test]
async fn a_change_made_with_plain_sql_reaches_every_process_within_a_second() {
    let seed = spawn_app().await;
    let token = admin_token(&seed).await;
    let id = create_package(&seed, &token, "Sql Kit").await;
    let detail = format!("/api/packages/{id}/");
    let (a, pa) = counted(&seed, TestAppBuilder::new()).await;
    let (b, pb) = counted(&seed, TestAppBuilder::new()).await;
    for (app, proxy) in [(&a, &pa), (&b, &pb)] {
        warm(app, proxy, "/api/packages/").await;
        warm(app, proxy, &detail).await;
        warm(app, proxy, &format!("/api/products/package/{id}/images/")).await;
    }
    let mut tx = common::db::begin(&seed.pool).await.unwrap();
    sqlx::query("UPDATE package SET price = 777, name = 'Sql Kit 2' WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        r#"INSERT INTO product_image (product_type, product_id, image, is_primary, "order", alt_text)
           VALUES ('package', $1, 'products/x.jpg', true, 0, 'x')"#,
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("UPDATE catalog_version SET version = version + 1").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let second = Duration::from_secs(1);
    for app in [&a, &b] {
        seen_within(app, &detail, second, |v| v["price"] == "777.00" && v["primary_image"]["alt_text"] == "x").await;
        seen_within(app, "/api/packages/", second, |v| v["results"][0]["name"] == "Sql Kit 2").await;
        let images = format!("/api/products/package/{id}/images/");
        seen_within(app, &images, second, |v| v.as_array().is_some_and(|a| a.len() == 1)).await;
    }
}

#[tokio::test]
async fn a_change_that_bumps_nothing_shows_after_the_ttl() {
    let seed = spawn_app().await;
    let token = admin_token(&seed).await;
    let id = create_package(&seed, &token, "Quiet Kit").await;
    let detail = format!("/api/packages/{id}/");
    let (a, pa) = counted(&seed, TestAppBuilder::new().var("CATALOG_CACHE_SECONDS", "1")).await;
    warm(&a, &pa, &detail).await;
    sqlx::query("UPDATE package SET price = 101 WHERE id = $1").bind(id).execute(&seed.pool).await.unwrap();
    // Without a version bump nobody is told: the cached body stays until the safety-net TTL.
    assert_eq!(get_json(&a, &detail).await["price"], "100.00");
    seen_within(&a, &detail, Duration::from_secs(3), |v| v["price"] == "101.00").await;
}

#[tokio::test]
async fn etags_and_if_none_match_answer_304_until_a_change() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let id = create_package(&app, &token, "Tagged Kit").await;
    app.send(Method::PATCH, &format!("/api/admin/products/packages/{id}/toggle-popular/"), &json!({}), Some(&token))
        .await;
    let uncached = TestAppBuilder::new()
        .database(&app.db_name)
        .prefix(&app.prefix)
        .var("CATALOG_CACHE_SECONDS", "0")
        .spawn()
        .await;
    let paths = [
        "/api/packages/".to_string(),
        "/api/packages/?page=last".to_string(),
        "/api/packages/popular/".to_string(),
        format!("/api/packages/{id}/"),
        format!("/api/products/package/{id}/images/"),
        "/api/campaigns/".to_string(),
        "/api/campaigns/popular/".to_string(),
    ];
    let conditional = |path: &str, tag: &str| {
        let req = app.client.get(app.url(path)).header(IF_NONE_MATCH, tag.to_string());
        async move { req.send().await.unwrap() }
    };
    let mut tags = Vec::new();
    for path in &paths {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(res.headers()["content-type"], "application/json", "{path}");
        let tag = res.headers()[ETAG].to_str().unwrap().to_string();
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() > 10, "a strong tag: {tag}");
        let body = res.bytes().await.unwrap();
        // Every process gives the same tag for the same body, cached or not.
        let other = uncached.get(path, None).await;
        assert_eq!(other.headers()[ETAG], tag.as_str(), "{path}");
        assert_eq!(other.bytes().await.unwrap(), body, "{path}");

        for matching in [tag.clone(), format!("W/{tag}"), format!("\"nope\", {tag}"), "*".to_string()] {
            let res = conditional(path, &matching).await;
            assert_eq!(res.status(), 304, "{path} with {matching}");
            assert_eq!(res.headers()[ETAG], tag.as_str());
            assert_eq!(res.headers()[CACHE_CONTROL], "no-cache");
            assert!(res.bytes().await.unwrap().is_empty());
        }
        let res = uncached.client.get(uncached.url(path)).header(IF_NONE_MATCH, &tag).send().await.unwrap();
        assert_eq!(res.status(), 304, "uncached {path}");
        let res = conditional(path, "\"nope\", W/\"other\"").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.bytes().await.unwrap(), body);
        tags.push(tag);
    }
    // Errors carry no tag and are never 304.
    let res = conditional("/api/packages/999999/", "*").await;
    assert_eq!(res.status(), 404);
    assert!(res.headers().get(ETAG).is_none());

    let res = app
        .send(
            Method::PUT,
            &format!("/api/admin/products/package/{id}/update/"),
            &json!({"name": "Tagged Kit", "price": 120, "description": "d"}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 200);
    for (path, old) in paths.iter().zip(&tags) {
        let res = conditional(path, old).await;
        let unchanged = path.contains("campaigns") || path.contains("/images/");
        if unchanged {
            // A bump that left the body alone keeps its tag.
            assert_eq!(res.status(), 304, "{path}");
            continue;
        }
        assert_eq!(res.status(), 200, "{path}");
        let tag = res.headers()[ETAG].to_str().unwrap().to_string();
        assert_ne!(&tag, old, "{path}");
        assert!(res.text().await.unwrap().contains("120.00"), "{path}");
        assert_eq!(conditional(path, &tag).await.status(), 304, "{path}");
    }
}

#[tokio::test]
async fn a_hit_sends_nothing_to_postgresql_or_redis() {
    let seed = spawn_app().await;
    let token = admin_token(&seed).await;
    let id = create_package(&seed, &token, "Hit Kit").await;
    let redis = CountingProxy::redis().await;
    let (app, pg) =
        counted(&seed, TestAppBuilder::new().var("REDIS_URL", format!("redis://127.0.0.1:{}", redis.port))).await;
    let paths = [
        "/api/packages/".to_string(),
        "/api/packages/popular/".to_string(),
        format!("/api/packages/{id}/"),
        format!("/api/products/package/{id}/images/"),
        "/api/campaigns/".to_string(),
    ];
    let mut tags = Vec::new();
    for path in &paths {
        warm(&app, &pg, path).await;
        tags.push(app.get(path, None).await.headers()[ETAG].clone());
    }
    let (statements, sent) = (pg.statements(), pg.bytes() + redis.bytes());
    for i in 0..50 {
        let path = &paths[i % paths.len()];
        let mut req = app.client.get(app.url(path));
        if i % 2 == 1 {
            req = req.header(IF_NONE_MATCH, tags[i % paths.len()].clone());
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), if i % 2 == 1 { 304 } else { 200 }, "{path}");
    }
    assert_eq!(pg.statements(), statements, "cache hits ran statements");
    assert_eq!(pg.bytes() + redis.bytes(), sent, "cache hits sent bytes to PostgreSQL or Redis");

    // The counter does see a miss: a change, then the next request.
    sqlx::query("UPDATE catalog_version SET version = version + 1").execute(&seed.pool).await.unwrap();
    let start = Instant::now();
    while pg.statements() == statements {
        assert!(start.elapsed() < Duration::from_secs(1), "no miss after a change");
        get_json(&app, "/api/packages/").await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_uncached_page_of_twenty_products_takes_two_queries() {
    let seed = spawn_app().await;
    sqlx::raw_sql(
        r#"INSERT INTO package (name, price, description, features, deliverables)
           SELECT 'Page Package ' || g, 1000 + g, 'Package ' || g, '["Fast"]', '["Posters"]' FROM generate_series(1, 25) g;
           INSERT INTO package_item (package_id, name, quantity)
           SELECT p.id, 'Item ' || i, i * 10 FROM package p CROSS JOIN generate_series(1, 3) i;
           INSERT INTO product_image (product_type, product_id, image, thumbnail, is_primary, "order", alt_text)
           SELECT 'package', p.id, 'products/p-' || p.id || '-' || i || '.jpg', 'products/thumbs/p-' || p.id || '-' || i || '.jpg',
                  i = 1, i, 'Image ' || i
           FROM package p CROSS JOIN generate_series(1, 2) i;
           INSERT INTO campaign (name, price, description, unit, is_popular, popular_order)
           SELECT 'Page Campaign ' || g, 10, 'Campaign', 'per 1000', g <= 2, CASE WHEN g <= 2 THEN g ELSE 0 END
           FROM generate_series(1, 3) g;
           UPDATE catalog_version SET version = version + 1;"#,
    )
    .execute(&seed.pool)
    .await
    .unwrap();
    let first: i64 = sqlx::query_scalar("SELECT min(id) FROM package").fetch_one(&seed.pool).await.unwrap();
    let (app, pg) = counted(&seed, TestAppBuilder::new().var("CATALOG_CACHE_SECONDS", "0")).await;
    // Connections and prepared statements made once.
    for path in ["/api/packages/", "/api/packages/?page=2", "/api/campaigns/popular/"] {
        get_json(&app, path).await;
    }
    let statements = |path: String| {
        let (app, pg) = (&app, &pg);
        async move {
            let before = pg.statements();
            let res = app.get(&path, None).await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (pg.statements() - before, status, body)
        }
    };
    let (n, status, page) = statements("/api/packages/".into()).await;
    assert_eq!((n, status), (2, 200), "the page with its count, then the items and images of all");
    assert_eq!(page["count"], 25);
    let results = page["results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    assert!(
        results.iter().all(|p| p["items"].as_array().unwrap().len() == 3 && p["images"].as_array().unwrap().len() == 2)
    );
    assert!(results.iter().all(|p| p["primary_image"]["alt_text"] == "Image 1"));
    // Items in insertion order; images primary first, then by position.
    assert!(results.iter().all(|p| p["items"][0]["name"] == "Item 1" && p["items"][2]["name"] == "Item 3"));
    assert!(results.iter().all(|p| p["images"][0]["is_primary"] == true && p["images"][1]["order"] == 2));
    let (n, _, page) = statements("/api/packages/?page=2".into()).await;
    assert_eq!((n, page["results"].as_array().unwrap().len()), (2, 5));
    let (n, _, page) = statements("/api/packages/?page=last".into()).await;
    assert_eq!((n, page["results"].as_array().unwrap().len()), (3, 5), "`last` counts first");
    let (n, status, _) = statements("/api/packages/?page=3".into()).await;
    assert_eq!((n, status), (2, 404), "past the end: the page, then the count");
    let (n, status, one) = statements(format!("/api/packages/{first}/")).await;
    assert_eq!((n, status, one["items"].as_array().unwrap().len()), (2, 200, 3));
    let (n, _, images) = statements(format!("/api/products/package/{first}/images/")).await;
    assert_eq!((n, images.as_array().unwrap().len()), (2, 2));
    let (n, _, popular) = statements("/api/campaigns/popular/".into()).await;
    assert_eq!((n, popular.as_array().unwrap().len()), (2, 2));
    let (n, _, campaigns) = statements("/api/campaigns/".into()).await;
    assert_eq!((n, campaigns["count"].as_i64()), (2, Some(3)));
}
