//! The chaos run's driver (`scripts/chaos`, README "Reliability"). `scripts/chaos` makes a
//! PostgreSQL cluster of its own and passes it in `CHAOS_*` variables; this binary starts a Redis
//! server of its own, the fakes (Razorpay, Cloudinary, an SMTP sink) in-process, migrates and
//! seeds the database, starts 2 `api serve` and 2 `worker` processes (one with the scheduler),
//! loads them with mixed traffic while it injects faults (kill -9 of workers, Redis restarted
//! empty, PostgreSQL restarted, an API paused), drains the jobs and checks the invariants in the
//! database, the SMTP sink and its own record of what the API acknowledged. Exit 1 on any
//! violation.
//!
//! `chaos [--duration SECS] [--seed N] [--short] [--drain-timeout SECS] [--customers N] [--desk N]`

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use e2e::cloudinary::FakeCloudinary;
use e2e::razorpay::FakeRazorpay;
use e2e::smtp::SmtpServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::process::{Child, Command};

const MAIL_FROM: &str = "Election Cart <no-reply@chaos.test>";
const PASSWORD: &str = "chaos-password-2026";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Options and environment

struct Opts {
    duration: u64,
    seed: u64,
    short: bool,
    drain_timeout: u64,
    customers: usize,
    desk: usize,
}

fn parse_args() -> Result<Opts> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let short = args.iter().any(|a| a == "--short");
    let mut o = Opts {
        duration: if short { 75 } else { 180 },
        seed: u64::from(std::process::id()),
        short,
        drain_timeout: 240,
        customers: if short { 16 } else { 24 },
        desk: if short { 4 } else { 6 },
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<u64> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| anyhow!("{name} needs a number"))
        };
        match a.as_str() {
            "--short" => {}
            "--duration" => o.duration = num("--duration")?,
            "--seed" => o.seed = num("--seed")?,
            "--drain-timeout" => o.drain_timeout = num("--drain-timeout")?,
            "--customers" => o.customers = usize::try_from(num("--customers")?)?,
            "--desk" => o.desk = usize::try_from(num("--desk")?)?,
            "-h" | "--help" => {
                println!(
                    "chaos [--duration SECS] [--seed N] [--short] [--drain-timeout SECS] [--customers N] [--desk N]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(o)
}

fn env(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set (run scripts/chaos)"))
}

/// A setting for the service processes: the environment's value when set, else `default`.
fn setting(name: &str, default: &str) -> (String, String) {
    (name.to_string(), std::env::var(name).unwrap_or_else(|_| default.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Processes

struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Proc {
    fn new(name: &str, program: &Path, args: &[&str], env: Vec<(String, String)>, dir: &Path) -> Self {
        Self {
            name: name.to_string(),
            program: program.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env,
            dir: dir.to_path_buf(),
            log: dir.join(format!("{name}.log")),
            child: None,
            starts: 0,
        }
    }

    fn note(&self, text: &str) {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&self.log) {
            let _ = writeln!(f, "=== chaos: {text} ===");
        }
    }

    fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        self.starts += 1;
        self.note(&format!("start #{}", self.starts));
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    async fn kill9(&mut self) {
        self.note("kill -9");
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    async fn signal(&self, sig: &str) -> Result<()> {
        let pid = self.pid().ok_or_else(|| anyhow!("{} is not running", self.name))?;
        self.note(&format!("kill -{sig}"));
        let status = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().await?;
        if !status.success() {
            bail!("kill -{sig} {pid} failed");
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL after `grace`.
    async fn stop(&mut self, grace: Duration) {
        if self.child.is_none() {
            return;
        }
        let _ = self.signal("TERM").await;
        if let Some(mut c) = self.child.take()
            && tokio::time::timeout(grace, c.wait()).await.is_err()
        {
            let _ = c.kill().await;
        }
    }

    fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

struct Procs {
    redis: Proc,
    apis: Vec<Proc>,
    workers: Vec<Proc>,
}

impl Procs {
    fn all(&self) -> Vec<&Proc> {
        let mut v = vec![&self.redis];
        v.extend(self.apis.iter());
        v.extend(self.workers.iter());
        v
    }
}

async fn run_to_end(program: &Path, args: &[&str], env: &[(String, String)], dir: &Path) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(dir)
        .output()
        .await
        .with_context(|| format!("run {} {args:?}", program.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("{} {args:?} failed: {text}", program.display());
    }
    Ok(text)
}

async fn shell(cmd: &str) -> Result<()> {
    let out = Command::new("sh").arg("-c").arg(cmd).output().await?;
    if !out.status.success() {
        bail!("`{cmd}` failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

async fn wait_port(port: u16, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

// ---------------------------------------------------------------------------------------------
// HTTP with retries

#[derive(Default)]
struct Stats {
    ok: AtomicU64,
    status_5xx: AtomicU64,
    status_429: AtomicU64,
    status_409_busy: AtomicU64,
    connect: AtomicU64,
    timeout: AtomicU64,
    other: AtomicU64,
    gave_up: AtomicU64,
    unexpected: AtomicU64,
}

#[derive(Clone, Copy, PartialEq)]
enum Retry {
    /// Repeating the request is harmless (idempotency key, naturally idempotent): retry on any
    /// failure.
    Always,
    /// Not idempotent: retry only when the request surely did nothing (connection refused, an
    /// answered 5xx); give up on a timeout or a reset after sending.
    Answered,
}

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Webhook { event_id: String, body: Vec<u8>, signature: String },
    Image { name: String, bytes: Vec<u8> },
}

struct Http {
    client: reqwest::Client,
    bases: Vec<String>,
    stats: Stats,
    /// The API paused right now (SIGSTOP), if any: new attempts avoid it, as a balancer would
    /// after its health check fails.
    paused: Mutex<Option<usize>>,
}

struct Reply {
    status: u16,
    json: Value,
}

impl Http {
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        vu: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
        idem: Option<&str>,
        body: &Body,
        retry: Retry,
    ) -> Result<Reply> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut attempt = 0usize;
        loop {
            attempt += 1;
            let mut i = (vu + attempt) % self.bases.len();
            if *lock(&self.paused) == Some(i) {
                i = (i + 1) % self.bases.len();
            }
            let url = format!("{}{path}", self.bases[i]);
            let mut req = self.client.request(method.clone(), &url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(k) = idem {
                req = req.header("Idempotency-Key", k);
            }
            req = match body {
                Body::None => req,
                Body::Json(v) => req.json(v),
                Body::Webhook { event_id, body, signature } => req
                    .header("Content-Type", "application/json")
                    .header("User-Agent", "Razorpay-Webhook/v1")
                    .header("X-Razorpay-Signature", signature)
                    .header("X-Razorpay-Event-Id", event_id)
                    .body(body.clone()),
                Body::Image { name, bytes } => req.multipart(
                    reqwest::multipart::Form::new()
                        .part("image", reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone())),
                ),
            };
            let again = match req.send().await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let text = res.text().await.unwrap_or_default();
                    let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    if status >= 500 {
                        self.stats.status_5xx.fetch_add(1, Ordering::Relaxed);
                        true
                    } else if status == 429 {
                        self.stats.status_429.fetch_add(1, Ordering::Relaxed);
                        true
                    } else if status == 409 && json.to_string().contains("idempotency_in_progress") {
                        // The first attempt's slot, left behind by a failure, until it goes stale.
                        self.stats.status_409_busy.fetch_add(1, Ordering::Relaxed);
                        true
                    } else {
                        self.stats.ok.fetch_add(1, Ordering::Relaxed);
                        return Ok(Reply { status, json });
                    }
                }
                Err(e) if e.is_connect() => {
                    self.stats.connect.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(e) => {
                    if e.is_timeout() {
                        self.stats.timeout.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.stats.other.fetch_add(1, Ordering::Relaxed);
                    }
                    retry == Retry::Always
                }
            };
            if !again || Instant::now() > deadline {
                self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
                bail!("{method} {path}: gave up after {attempt} attempts");
            }
            tokio::time::sleep(Duration::from_millis((200 * attempt as u64).min(2000))).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the API acknowledged

#[derive(Default)]
struct Record {
    /// Acknowledged orders: (order id, order number).
    orders: Vec<(i64, String)>,
    /// Website customers: user id → (acknowledged creates, creates given up on).
    creates: HashMap<i64, (usize, usize)>,
    /// Captured Razorpay payments: (order id, payment id).
    captured: Vec<(i64, String)>,
    /// Acknowledged offline payments: (order id, payment reference).
    manual_payments: Vec<(i64, String)>,
    /// Acknowledged refunds: (refund id, order id).
    refunds: Vec<(i64, i64)>,
    /// Paid orders and what the driver has left to refund on each, in paise.
    refundable: Vec<(i64, i64)>,
    /// Orders for checklists.
    desk_orders: Vec<i64>,
    callbacks: u64,
    webhooks: u64,
    manual_orders: u64,
    checklist_ticks: u64,
    images: u64,
    unpaid_left: u64,
    flow_errors: BTreeMap<String, u64>,
}

struct Ctx {
    http: Http,
    rzp: FakeRazorpay,
    stop: AtomicBool,
    rec: Mutex<Record>,
    seed: u64,
    products: Vec<(String, i64)>,
    admin: String,
    staff: String,
    staff_id: i64,
}

fn paise(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|f| (f * 100.0).round() as i64),
        Value::String(s) => s.parse::<f64>().ok().map(|f| (f * 100.0).round() as i64),
        _ => None,
    }
}

fn rupees(p: i64) -> String {
    format!("{}.{:02}", p / 100, p % 100)
}

fn png(rng: &mut StdRng) -> Result<Vec<u8>> {
    let (r, g) = (rng.r#gen::<u8>(), rng.r#gen::<u8>());
    let img = image::RgbImage::from_fn(48, 32, |x, y| image::Rgb([r ^ (x as u8), g ^ (y as u8), 90]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

fn expect(reply: &Reply, ok: &[u16], what: &str) -> Result<()> {
    if ok.contains(&reply.status) {
        Ok(())
    } else {
        bail!("{what}: {} {}", reply.status, reply.json.to_string().chars().take(300).collect::<String>())
    }
}

async fn login(http: &Http, username: &str, password: &str) -> Result<(String, i64)> {
    let body = Body::Json(json!({"username": username, "password": password}));
    let r = http.call(0, Method::POST, "/api/auth/login/", None, None, &body, Retry::Always).await?;
    expect(&r, &[200], "login")?;
    let token = r.json["token"].as_str().ok_or_else(|| anyhow!("no token"))?.to_string();
    Ok((token, r.json["user"]["id"].as_i64().unwrap_or_default()))
}

// ---------------------------------------------------------------------------------------------
// Customers: signup, cart, checkout, payment by callback, webhooks (duplicate, out of order) or
// neither (the sweep).

async fn customer(ctx: Arc<Ctx>, vu: usize) {
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ (vu as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut n = 0;
    while !ctx.stop.load(Ordering::Relaxed) {
        n += 1;
        if let Err(e) = customer_once(&ctx, vu, n, &mut rng).await {
            let key: String = e.to_string().chars().take(90).collect();
            *lock(&ctx.rec).flow_errors.entry(format!("customer: {key}")).or_default() += 1;
        }
    }
}

async fn customer_once(ctx: &Ctx, vu: usize, n: usize, rng: &mut StdRng) -> Result<()> {
    let http = &ctx.http;
    let username = format!("c{}v{vu}n{n}", ctx.seed);
    let body =
        Body::Json(json!({"username": username, "password": PASSWORD, "email": format!("{username}@chaos.test")}));
    let r = http.call(vu, Method::POST, "/api/auth/signup/", None, None, &body, Retry::Always).await?;
    let (token, user_id) = if r.status == 201 {
        (r.json["token"].as_str().unwrap_or_default().to_string(), r.json["user"]["id"].as_i64().unwrap_or_default())
    } else {
        // A retried signup whose first attempt was created.
        login(http, &username, PASSWORD).await?
    };
    for _ in 0..rng.gen_range(1..=2) {
        if ctx.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        for _ in 0..rng.gen_range(1..=2) {
            let (kind, id) = &ctx.products[rng.gen_range(0..ctx.products.len())];
            let body = Body::Json(json!({"item_type": kind, "item_id": id, "quantity": rng.gen_range(1..=3)}));
            let r = http.call(vu, Method::POST, "/api/cart/add/", Some(&token), None, &body, Retry::Always).await?;
            expect(&r, &[200], "cart add")?;
        }
        let key = uuid::Uuid::new_v4().to_string();
        let created = http
            .call(
                vu,
                Method::POST,
                "/api/orders/create/",
                Some(&token),
                Some(&key),
                &Body::Json(json!({})),
                Retry::Always,
            )
            .await;
        let r = match created {
            Ok(r) => r,
            Err(e) => {
                lock(&ctx.rec).creates.entry(user_id).or_default().1 += 1;
                return Err(e);
            }
        };
        expect(&r, &[201], "order create")?;
        let order_id = r.json["order"]["id"].as_i64().ok_or_else(|| anyhow!("order create: no id"))?;
        let number = r.json["order"]["order_number"].as_str().unwrap_or_default().to_string();
        let rzp_order = r.json["razorpay_order_id"].as_str().unwrap_or_default().to_string();
        let amount = r.json["amount"].as_i64().unwrap_or_default();
        {
            let mut rec = lock(&ctx.rec);
            rec.orders.push((order_id, number));
            rec.creates.entry(user_id).or_default().0 += 1;
        }
        if rng.gen_bool(0.08) {
            lock(&ctx.rec).unpaid_left += 1;
            continue;
        }
        let payment = ctx.rzp.capture_payment(&rzp_order, None);
        lock(&ctx.rec).captured.push((order_id, payment.clone()));
        let signature = ctx.rzp.checkout_signature(&rzp_order, &payment);
        let callback = Body::Json(
            json!({"razorpay_order_id": rzp_order, "razorpay_payment_id": payment, "razorpay_signature": signature}),
        );
        let path = format!("/api/orders/{order_id}/payment-success/");
        let (event_id, raw, sig) = ctx.rzp.event("payment.captured", Some(&payment), None);
        let webhook = Body::Webhook { event_id, body: raw, signature: sig };
        let do_callback = |key: String| {
            let (path, callback, token) = (path.clone(), callback.clone(), token.clone());
            async move {
                let r = http.call(vu, Method::POST, &path, Some(&token), Some(&key), &callback, Retry::Always).await?;
                expect(&r, &[200], "payment-success")?;
                anyhow::Ok(())
            }
        };
        let do_webhook = |body: Body| async move {
            let r =
                http.call(vu, Method::POST, "/api/orders/razorpay/webhook/", None, None, &body, Retry::Always).await?;
            expect(&r, &[200], "webhook")?;
            anyhow::Ok(())
        };
        let pick = rng.gen_range(0..100);
        let (mut callbacks, mut webhooks) = (0, 0);
        if pick < 15 {
            // The webhook before the browser's callback.
            do_webhook(webhook.clone()).await?;
            do_callback(uuid::Uuid::new_v4().to_string()).await?;
            (callbacks, webhooks) = (1, 1);
        } else if pick < 55 {
            do_callback(uuid::Uuid::new_v4().to_string()).await?;
            do_webhook(webhook.clone()).await?;
            do_webhook(webhook.clone()).await?;
            (callbacks, webhooks) = (1, 2);
        } else if pick < 70 {
            // The callback twice (a reload), concurrently, with the webhook.
            let (a, b, c) = tokio::join!(
                do_callback(uuid::Uuid::new_v4().to_string()),
                do_callback(uuid::Uuid::new_v4().to_string()),
                do_webhook(webhook.clone())
            );
            a?;
            b?;
            c?;
            (callbacks, webhooks) = (2, 1);
        } else if pick < 85 {
            // Only webhooks: payment.captured twice and order.paid.
            let (event_id, raw, sig) = ctx.rzp.event("order.paid", Some(&payment), None);
            do_webhook(webhook.clone()).await?;
            do_webhook(Body::Webhook { event_id, body: raw, signature: sig }).await?;
            do_webhook(webhook.clone()).await?;
            webhooks = 3;
        } else if pick < 93 {
            do_callback(uuid::Uuid::new_v4().to_string()).await?;
            callbacks = 1;
        }
        // else: the callback and the webhook are both lost; the reconciliation sweep applies it.
        let mut rec = lock(&ctx.rec);
        rec.callbacks += callbacks;
        rec.webhooks += webhooks;
        rec.refundable.push((order_id, amount));
        rec.desk_orders.push(order_id);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The desk: manual orders with offline payments, assignments and checklist ticks, refunds,
// product image uploads.

async fn desk(ctx: Arc<Ctx>, vu: usize) {
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0xD35C ^ (vu as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut product: Option<(i64, u32)> = None;
    let mut n = 0u64;
    while !ctx.stop.load(Ordering::Relaxed) {
        n += 1;
        let pick = rng.gen_range(0..100);
        let (what, result) = if pick < 35 {
            ("manual order", manual_order(&ctx, vu, n, &mut rng).await)
        } else if pick < 60 {
            ("checklist", checklist(&ctx, vu, &mut rng).await)
        } else if pick < 80 {
            ("refund", refund(&ctx, vu, &mut rng).await)
        } else {
            ("image", image_upload(&ctx, vu, n, &mut product, &mut rng).await)
        };
        if let Err(e) = result {
            let key: String = e.to_string().chars().take(90).collect();
            *lock(&ctx.rec).flow_errors.entry(format!("{what}: {key}")).or_default() += 1;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..300))).await;
    }
}

async fn manual_order(ctx: &Ctx, vu: usize, n: u64, rng: &mut StdRng) -> Result<()> {
    let http = &ctx.http;
    let phone = format!("9{:09}", (ctx.seed % 1000) * 1_000_000 + (vu as u64) * 10_000 + n);
    let (kind, id) = &ctx.products[rng.gen_range(0..ctx.products.len())];
    let status = ["pending", "pending", "paid", "partial"][rng.gen_range(0..4)];
    let mut body = json!({
        "customer": {"name": format!("Chaos {vu}-{n}"), "phone": phone, "email": format!("m{phone}@chaos.test")},
        "items": [{"product_type": kind, "product_id": id, "quantity": rng.gen_range(1..=2)}],
        "order_source": "phone_call",
        "payment_status": status,
        "payment_method": "cash",
    });
    if status == "partial" {
        body["payment_amount"] = json!("100.00");
    }
    if rng.gen_bool(0.3) {
        body["assigned_to"] = json!(ctx.staff_id);
    }
    let r = http
        .call(vu, Method::POST, "/api/admin/orders/manual/", Some(&ctx.staff), None, &Body::Json(body), Retry::Answered)
        .await?;
    expect(&r, &[201], "manual order")?;
    let order = &r.json["order"];
    let order_id = order["id"].as_i64().ok_or_else(|| anyhow!("manual order: no id"))?;
    let total = paise(&order["total_amount"]).unwrap_or_default();
    let balance = paise(&order["balance_due"]).unwrap_or(total);
    {
        let mut rec = lock(&ctx.rec);
        rec.orders.push((order_id, order["order_number"].as_str().unwrap_or_default().to_string()));
        rec.manual_orders += 1;
        rec.desk_orders.push(order_id);
        if balance <= 0 {
            rec.refundable.push((order_id, total));
        }
    }
    if balance > 0 && rng.gen_bool(0.7) {
        let reference = format!("chaos-{}", uuid::Uuid::new_v4().simple());
        let body = Body::Json(json!({
            "amount": rupees(balance), "payment_method": "upi", "payment_reference": reference, "notes": "chaos",
        }));
        let path = format!("/api/admin/orders/{order_id}/record-payment/");
        let r = http.call(vu, Method::POST, &path, Some(&ctx.admin), None, &body, Retry::Answered).await?;
        expect(&r, &[200], "record-payment")?;
        let mut rec = lock(&ctx.rec);
        rec.manual_payments.push((order_id, reference));
        if r.json["fully_paid"] == json!(true) {
            rec.refundable.push((order_id, total));
        }
    }
    Ok(())
}

async fn checklist(ctx: &Ctx, vu: usize, rng: &mut StdRng) -> Result<()> {
    let http = &ctx.http;
    let order_id = {
        let rec = lock(&ctx.rec);
        if rec.desk_orders.is_empty() {
            return Ok(());
        }
        rec.desk_orders[rng.gen_range(0..rec.desk_orders.len())]
    };
    let path = format!("/api/admin/orders/{order_id}/assign/");
    let body = Body::Json(json!({"staff_id": ctx.staff_id}));
    let r = http.call(vu, Method::POST, &path, Some(&ctx.admin), None, &body, Retry::Always).await?;
    expect(&r, &[200], "assign")?;
    let items: Vec<i64> = r.json["order"]["checklist"]["items"]
        .as_array()
        .map(|a| a.iter().filter(|i| i["completed"] == json!(false)).filter_map(|i| i["id"].as_i64()).collect())
        .unwrap_or_default();
    for _ in 0..rng.gen_range(1..=4).min(items.len()) {
        let item = items[rng.gen_range(0..items.len())];
        let body = Body::Json(json!({"completed": true}));
        let path = format!("/api/staff/checklist/{item}/");
        let r = http.call(vu, Method::PATCH, &path, Some(&ctx.staff), None, &body, Retry::Always).await?;
        expect(&r, &[200], "checklist tick")?;
        lock(&ctx.rec).checklist_ticks += 1;
    }
    Ok(())
}

async fn refund(ctx: &Ctx, vu: usize, rng: &mut StdRng) -> Result<()> {
    let http = &ctx.http;
    let (slot, order_id, left) = {
        let rec = lock(&ctx.rec);
        let open: Vec<usize> = (0..rec.refundable.len()).filter(|&i| rec.refundable[i].1 > 0).collect();
        if open.is_empty() {
            return Ok(());
        }
        let slot = open[rng.gen_range(0..open.len())];
        (slot, rec.refundable[slot].0, rec.refundable[slot].1)
    };
    let amount = if rng.gen_bool(0.3) { left } else { rng.gen_range(1..=left.min(50_000)) };
    let key = uuid::Uuid::new_v4().to_string();
    let body = Body::Json(json!({"amount": rupees(amount), "reason": "chaos refund"}));
    let path = format!("/api/admin/orders/{order_id}/refund/");
    let r = http.call(vu, Method::POST, &path, Some(&ctx.admin), Some(&key), &body, Retry::Always).await?;
    if r.status == 409 {
        // Nothing (more) to refund: the driver's view was ahead of the order's.
        lock(&ctx.rec).refundable[slot].1 = 0;
        return Ok(());
    }
    expect(&r, &[201, 202], "refund")?;
    let refund_id = r.json["refund"]["id"].as_i64().ok_or_else(|| anyhow!("refund: no id"))?;
    {
        let mut rec = lock(&ctx.rec);
        rec.refunds.push((refund_id, order_id));
        rec.refundable[slot].1 -= amount;
    }
    if let Some(rzp_refund) = r.json["refund"]["razorpay_refund_id"].as_str() {
        // Razorpay settles it; its webhook tells us (twice, as it may).
        ctx.rzp.set_refund_state(rzp_refund, "processed");
        let (event_id, raw, sig) = ctx.rzp.event("refund.processed", None, Some(rzp_refund));
        let body = Body::Webhook { event_id, body: raw, signature: sig };
        for _ in 0..rng.gen_range(1..=2) {
            let r =
                http.call(vu, Method::POST, "/api/orders/razorpay/webhook/", None, None, &body, Retry::Always).await?;
            expect(&r, &[200], "refund webhook")?;
            lock(&ctx.rec).webhooks += 1;
        }
    }
    Ok(())
}

async fn image_upload(ctx: &Ctx, vu: usize, n: u64, product: &mut Option<(i64, u32)>, rng: &mut StdRng) -> Result<()> {
    let http = &ctx.http;
    if product.is_none_or(|(_, count)| count >= 8) {
        let body = Body::Json(json!({
            "name": format!("Chaos Kit {}-{vu}-{n}", ctx.seed), "price": "999", "description": "Chaos kit",
            "items": [{"name": "Flags", "quantity": 10}],
        }));
        let r = http
            .call(vu, Method::POST, "/api/admin/products/package/", Some(&ctx.admin), None, &body, Retry::Answered)
            .await?;
        expect(&r, &[201], "create package")?;
        *product = Some((r.json["id"].as_i64().ok_or_else(|| anyhow!("package: no id"))?, 0));
    }
    let Some((id, count)) = product.as_mut() else { return Ok(()) };
    let body = Body::Image { name: format!("chaos-{n}.png"), bytes: png(rng)? };
    let path = format!("/api/admin/products/package/{id}/images/");
    *count += 1;
    let r = http.call(vu, Method::POST, &path, Some(&ctx.admin), None, &body, Retry::Answered).await?;
    expect(&r, &[201], "image upload")?;
    lock(&ctx.rec).images += 1;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Faults

#[derive(Clone, Copy, Debug)]
enum Fault {
    KillWorker(usize),
    KillWorkersMidEmail,
    RedisLoss,
    PgRestart,
    PauseApi(usize),
}

struct Faults {
    procs: Arc<tokio::sync::Mutex<Procs>>,
    sink: Arc<SmtpServer>,
    http: Arc<Ctx>,
    pg_restart: String,
    pg_start: String,
    redis_port: u16,
    started: Instant,
    log: Mutex<Vec<String>>,
}

impl Faults {
    fn log(&self, text: String) {
        let line = format!("[{:>6.1}s] {text}", self.started.elapsed().as_secs_f64());
        println!("chaos: {line}");
        lock(&self.log).push(line);
    }

    async fn inject(&self, fault: Fault, rng: &mut StdRng) -> Result<()> {
        match fault {
            Fault::KillWorker(i) => {
                let mut procs = self.procs.lock().await;
                let w = &mut procs.workers[i];
                let name = w.name.clone();
                w.kill9().await;
                self.log(format!("kill -9 {name} (jobs in flight)"));
                drop(procs);
                tokio::time::sleep(Duration::from_millis(rng.gen_range(500..3000))).await;
                self.procs.lock().await.workers[i].start()?;
                self.log(format!("{name} restarted"));
            }
            Fault::KillWorkersMidEmail => {
                // Hold the SMTP sink's reply to DATA back until a worker is in it, then kill both
                // workers: that send is cut and must be finished by a retry, recognisably.
                self.sink.set_data_delay(Duration::from_secs(5));
                let end = Instant::now() + Duration::from_secs(20);
                while self.sink.in_data() == 0 && Instant::now() < end {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let in_data = self.sink.in_data();
                let mut procs = self.procs.lock().await;
                for w in procs.workers.iter_mut() {
                    w.kill9().await;
                }
                self.log(format!("kill -9 both workers with {in_data} email(s) in SMTP DATA"));
                drop(procs);
                tokio::time::sleep(Duration::from_millis(300)).await;
                self.sink.set_data_delay(Duration::from_millis(30));
                tokio::time::sleep(Duration::from_secs(1)).await;
                let mut procs = self.procs.lock().await;
                for w in procs.workers.iter_mut() {
                    w.start()?;
                }
                self.log("both workers restarted".into());
            }
            Fault::RedisLoss => {
                let mut procs = self.procs.lock().await;
                procs.redis.kill9().await;
                self.log("kill -9 redis-server (no persistence: its data is lost)".into());
                tokio::time::sleep(Duration::from_millis(rng.gen_range(500..2500))).await;
                procs.redis.start()?;
                if !wait_port(self.redis_port, Duration::from_secs(20)).await {
                    bail!("redis did not come back");
                }
                self.log("redis-server restarted empty".into());
            }
            Fault::PgRestart => {
                self.log("PostgreSQL restart (pg_ctl restart -m fast)".into());
                if let Err(e) = shell(&self.pg_restart).await {
                    self.log(format!("restart failed ({e}); starting it"));
                    shell(&self.pg_start).await?;
                }
                self.log("PostgreSQL is back".into());
            }
            Fault::PauseApi(i) => {
                let procs = self.procs.lock().await;
                let secs = rng.gen_range(4..8);
                procs.apis[i].signal("STOP").await?;
                self.log(format!("SIGSTOP {} for {secs} s", procs.apis[i].name));
                let name = procs.apis[i].name.clone();
                drop(procs);
                // Clients notice only by timeouts for the first moments, as behind a balancer.
                tokio::time::sleep(Duration::from_secs(1)).await;
                *lock(&self.http.http.paused) = Some(i);
                tokio::time::sleep(Duration::from_secs(secs - 1)).await;
                self.procs.lock().await.apis[i].signal("CONT").await?;
                *lock(&self.http.http.paused) = None;
                self.log(format!("SIGCONT {name}"));
            }
        }
        Ok(())
    }
}

fn plan(opts: &Opts) -> Vec<(f64, Fault)> {
    let mut p: Vec<(f64, Fault)> = vec![
        (0.10, Fault::KillWorker(1)),
        (0.20, Fault::PauseApi(1)),
        (0.30, Fault::KillWorkersMidEmail),
        (0.40, Fault::RedisLoss),
        (0.52, Fault::KillWorker(0)),
        (0.62, Fault::PgRestart),
        (0.75, Fault::KillWorker(1)),
        (0.85, Fault::PauseApi(0)),
    ];
    if !opts.short {
        p.extend([
            (0.15, Fault::PgRestart),
            (0.46, Fault::KillWorkersMidEmail),
            (0.68, Fault::RedisLoss),
            (0.92, Fault::KillWorker(0)),
        ]);
    }
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    p
}

// ---------------------------------------------------------------------------------------------
// Invariants

/// (kind, financial year, numbers, distinct numbers, lowest, highest, the counter's last number)
type SeriesRow = (String, String, i64, i64, i64, i64, Option<i64>);

struct Check {
    name: String,
    checked: usize,
    violations: Vec<String>,
}

fn check(name: &str, checked: usize, violations: Vec<String>) -> Check {
    Check { name: name.to_string(), checked, violations }
}

async fn invariants(
    pool: &PgPool,
    rec: &Record,
    sink: &SmtpServer,
    watermark: i64,
) -> Result<(Vec<Check>, Vec<String>)> {
    let mut checks = Vec::new();

    // Every acknowledged order exists, once, with its number; no website customer has more
    // orders than the creates the API acknowledged (or left unanswered).
    let ids: Vec<i64> = rec.orders.iter().map(|(id, _)| *id).collect();
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, order_number FROM orders WHERE id = ANY($1)").bind(&ids).fetch_all(pool).await?;
    let found: HashMap<i64, String> = rows.into_iter().collect();
    let mut v = Vec::new();
    for (id, number) in &rec.orders {
        match found.get(id) {
            None => v.push(format!("order {id} ({number}) acknowledged but missing")),
            Some(n) if n != number => v.push(format!("order {id}: number {n}, acknowledged {number}")),
            _ => {}
        }
    }
    let users: Vec<i64> = rec.creates.keys().copied().collect();
    let counts: Vec<(i64, i64)> =
        sqlx::query_as("SELECT user_id, count(*) FROM orders WHERE user_id = ANY($1) GROUP BY user_id")
            .bind(&users)
            .fetch_all(pool)
            .await?;
    for (user, count) in counts {
        let (acked, unknown) = rec.creates.get(&user).copied().unwrap_or_default();
        if usize::try_from(count).unwrap_or(0) > acked + unknown {
            v.push(format!("user {user}: {count} orders, {acked} creates acknowledged (+{unknown} unanswered)"));
        }
    }
    checks.push(check("every acknowledged order exists once", rec.orders.len() + users.len(), v));

    // Every captured Razorpay payment applied once.
    let payments: Vec<String> = rec.captured.iter().map(|(_, p)| p.clone()).collect();
    let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT p.id,
                (SELECT count(*) FROM payment_record r WHERE r.payment_reference = p.id AND r.payment_method = 'razorpay'),
                (SELECT count(*) FROM payment_history h JOIN orders o ON o.id = h.order_id WHERE o.razorpay_payment_id = p.id),
                COALESCE((SELECT o.payment_status FROM orders o JOIN payment_record r ON r.order_id = o.id
                          WHERE r.payment_reference = p.id LIMIT 1), '-')
         FROM unnest($1::text[]) AS p(id)",
    )
    .bind(&payments)
    .fetch_all(pool)
    .await?;
    let mut v: Vec<String> = rows
        .iter()
        .filter(|(_, records, history, status)| {
            *records != 1 || *history != 1 || !["paid", "refunded"].contains(&status.as_str())
        })
        .map(|(p, records, history, status)| {
            format!("payment {p}: {records} payment records, {history} payment histories, order {status}")
        })
        .collect();
    let issues: Vec<(i64, String)> =
        sqlx::query_as("SELECT order_id, kind || ' ' || razorpay_payment_id || ' (' || detected_by || ')' FROM payment_issue ORDER BY id").fetch_all(pool).await?;
    v.extend(issues.iter().map(|(o, r)| format!("payment issue on order {o}: {r}")));
    let manual: Vec<String> = rec.manual_payments.iter().map(|(_, r)| r.clone()).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT p.ref, (SELECT count(*) FROM payment_record r WHERE r.payment_reference = p.ref)
         FROM unnest($1::text[]) AS p(ref)",
    )
    .bind(&manual)
    .fetch_all(pool)
    .await?;
    v.extend(rows.iter().filter(|(_, n)| *n != 1).map(|(r, n)| format!("offline payment {r}: {n} records")));
    checks.push(check("every captured payment applied once", payments.len() + manual.len(), v));

    // Invoice and credit-note numbers: consecutive from 1 per financial year, matching the counter.
    let rows: Vec<SeriesRow> = sqlx::query_as(
        "WITH s AS (
             SELECT kind, split_part(number, '/', 2) AS fy, split_part(number, '/', 3)::bigint AS seq
             FROM invoice WHERE number ~ '^[A-Z0-9]+/[0-9]{2}-[0-9]{2}/[0-9]+$')
         SELECT s.kind, s.fy, count(*), count(DISTINCT seq), min(seq), max(seq),
                max(CASE WHEN s.kind = 'invoice' THEN ic.last_seq ELSE cc.last_seq END)
         FROM s
         LEFT JOIN invoice_counter ic ON ic.fy_start_year = 2000 + left(s.fy, 2)::int
         LEFT JOIN credit_note_counter cc ON cc.fy_start_year = 2000 + left(s.fy, 2)::int
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await?;
    let mut v = Vec::new();
    let mut numbered = 0;
    for (kind, fy, n, distinct, min, max, counter) in &rows {
        numbered += usize::try_from(*n).unwrap_or(0);
        if n != distinct || *min != 1 || max != n || counter.is_some_and(|c| c != *max) {
            v.push(format!(
                "{kind} FY {fy}: {n} numbers, {distinct} distinct, {min}..{max}, counter {counter:?} (gap or duplicate)"
            ));
        }
    }
    let odd: i64 =
        sqlx::query_scalar("SELECT count(*) FROM invoice WHERE number !~ '^[A-Z0-9]+/[0-9]{2}-[0-9]{2}/[0-9]+$'")
            .fetch_one(pool)
            .await?;
    if odd > 0 {
        v.push(format!("{odd} invoice numbers outside the series format"));
    }
    checks.push(check("invoice numbers consecutive per financial year", numbered, v));

    // Every paid order has its invoice, rendered and stored (its render_invoice job done).
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT o.id, CASE WHEN i.id IS NULL THEN 'no invoice' ELSE 'invoice ' || i.number || ' not rendered' END
         FROM orders o
         LEFT JOIN invoice i ON i.order_id = o.id AND i.kind = 'invoice'
         WHERE (o.payment_completed_at IS NOT NULL OR o.invoice_number IS NOT NULL)
           AND (i.id IS NULL OR NOT EXISTS (SELECT 1 FROM invoice_document d WHERE d.invoice_id = i.id))
         UNION ALL
         SELECT i.order_id, 'credit note ' || i.number || ' not rendered' FROM invoice i
         WHERE i.kind = 'credit_note' AND NOT EXISTS (SELECT 1 FROM invoice_document d WHERE d.invoice_id = i.id)
         UNION ALL
         SELECT (payload->>'invoice_id')::bigint, 'render_invoice job ' || id || ' ' || status FROM job
         WHERE kind = 'render_invoice' AND status <> 'done'",
    )
    .fetch_all(pool)
    .await?;
    let paid: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders WHERE payment_completed_at IS NOT NULL OR invoice_number IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    let v = rows.iter().map(|(o, what)| format!("order {o}: {what}")).collect();
    checks.push(check("every paid order has its invoice job done", usize::try_from(paid).unwrap_or(0), v));

    // Emails: at most one accepted copy per dedupe key in the sink, every job done, every sent
    // message accepted; cut transfers listed.
    let jobs: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, COALESCE(payload->>'message_key', dedupe_key, ''), status, last_error FROM job
         WHERE kind IN ('send_email', 'send_password_reset') ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let sent: Vec<(String, String)> =
        sqlx::query_as("SELECT message_key, status FROM sent_email").fetch_all(pool).await?;
    let sent: HashMap<String, String> = sent.into_iter().collect();
    // Per Message-ID, its transfers in arrival order.
    let mut by_id: HashMap<String, Vec<e2e::smtp::Received>> = HashMap::new();
    let mut v = Vec::new();
    let mut cut = Vec::new();
    for m in sink.all_messages() {
        match &m.message_id {
            Some(mid) => by_id.entry(mid.clone()).or_default().push(m),
            None if !m.complete => {
                cut.push(format!("a transfer cut before its headers arrived ({} bytes)", m.data.len()))
            }
            None => v.push(format!("an accepted message without Message-ID to {:?}", m.to)),
        }
    }
    let mut known = std::collections::HashSet::new();
    for (id, key, status, error) in &jobs {
        let mid = common::mail::message_id(key, MAIL_FROM);
        known.insert(mid.clone());
        let transfers = by_id.get(&mid).cloned().unwrap_or_default();
        let accepted: Vec<&e2e::smtp::Received> = transfers.iter().filter(|t| t.complete).collect();
        // A copy may be sent again only when its sender may never have noted the acceptance of
        // the previous one: that copy's connection ended without QUIT (its worker was killed)
        // before the next copy was accepted. Anything else is a duplicate.
        for pair in accepted.windows(2) {
            let died_first = !pair[0].quit
                && pair[0].session_ended.zip(pair[1].accepted_at).is_some_and(|(ended, next)| ended <= next);
            if !died_first {
                v.push(format!(
                    "email {key}: accepted {} times, an earlier copy's sender was still connected",
                    accepted.len()
                ));
                break;
            }
        }
        if status != "done" {
            v.push(format!("email job {id} ({key}) {status}: {}", error.clone().unwrap_or_default()));
        } else if accepted.is_empty() && sent.get(key).map(String::as_str) == Some("sent") {
            v.push(format!("email {key}: recorded sent, never accepted by the SMTP server"));
        }
        let cuts = transfers.iter().filter(|t| !t.complete).count();
        let unheard = accepted.len().saturating_sub(1);
        if cuts + unheard > 0 {
            cut.push(format!(
                "{key} {mid}: {cuts} transfer(s) cut mid-DATA, {unheard} accepted as its sender was killed; sent again"
            ));
        }
    }
    for (mid, transfers) in &by_id {
        if !known.contains(mid) {
            v.push(format!("message {mid} ({} transfers) matches no email job", transfers.len()));
        }
    }
    checks.push(check("every email sent at most once per key, every email job done", jobs.len(), v));

    // No job left pending, queued or running after the drain; none failed or dead.
    let rows: Vec<(String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT kind, status, count(*), max(last_error) FROM job
         WHERE (status IN ('pending', 'queued', 'running') AND id <= $1) OR status IN ('failed', 'dead')
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(watermark)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM job").fetch_one(pool).await?;
    let v = rows
        .iter()
        .map(|(k, s, n, e)| format!("{n} {k} job(s) {s}{}", e.as_ref().map(|e| format!(": {e}")).unwrap_or_default()))
        .collect();
    checks.push(check("no job left pending or running, none failed", usize::try_from(total).unwrap_or(0), v));

    // Refunds: every acknowledged one exists; never more than paid per order.
    let refund_ids: Vec<i64> = rec.refunds.iter().map(|(id, _)| *id).collect();
    let existing: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM refund WHERE id = ANY($1)").bind(&refund_ids).fetch_all(pool).await?;
    let mut v: Vec<String> = refund_ids
        .iter()
        .filter(|id| !existing.contains(id))
        .map(|id| format!("refund {id} acknowledged but missing"))
        .collect();
    let over: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT o.id, paid::text, refunded::text FROM orders o,
             LATERAL (SELECT COALESCE(sum(amount), 0) AS paid FROM payment_record WHERE order_id = o.id) p,
             LATERAL (SELECT COALESCE(sum(amount), 0) AS refunded FROM refund
                      WHERE order_id = o.id AND status <> 'failed') r
         WHERE refunded > paid",
    )
    .fetch_all(pool)
    .await?;
    v.extend(over.iter().map(|(o, p, r)| format!("order {o}: refunded {r} of {p} paid")));
    let orders_refunded: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT order_id) FROM refund").fetch_one(pool).await?;
    checks.push(check(
        "refunds never exceed payments",
        refund_ids.len() + usize::try_from(orders_refunded).unwrap_or(0),
        v,
    ));
    Ok((checks, cut))
}

// ---------------------------------------------------------------------------------------------
// The run

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("chaos: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool> {
    let opts = parse_args()?;
    let dir = PathBuf::from(env("CHAOS_DIR")?);
    let db_url = env("CHAOS_DATABASE_URL")?;
    let redis_port: u16 = env("CHAOS_REDIS_PORT")?.parse()?;
    let api_bin = PathBuf::from(env("CHAOS_API_BIN")?);
    let worker_bin = PathBuf::from(env("CHAOS_WORKER_BIN")?);
    println!(
        "chaos: seed {}, {} s of load, {} customers and {} desk users, drain timeout {} s, files in {}",
        opts.seed,
        opts.duration,
        opts.customers,
        opts.desk,
        opts.drain_timeout,
        dir.display()
    );

    // The fakes, in this process.
    let rzp = FakeRazorpay::start().await;
    let cloudinary = FakeCloudinary::start("chaos", "chaoskey", "chaossecret").await;
    let sink = Arc::new(SmtpServer::start().await);
    sink.set_data_delay(Duration::from_millis(30));

    let redis_dir = dir.join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let port = redis_port.to_string();
    let redis_args = ["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir"];
    let mut redis_args: Vec<&str> = redis_args.to_vec();
    let redis_dir_s = redis_dir.display().to_string();
    redis_args.push(&redis_dir_s);
    let mut redis = Proc::new("redis", Path::new("redis-server"), &redis_args, vec![], &dir);
    redis.program = PathBuf::from("redis-server");
    redis.start()?;
    if !wait_port(redis_port, Duration::from_secs(20)).await {
        bail!("redis-server did not start:\n{}", redis.tail(20));
    }

    let api_ports = [free_port()?, free_port()?];
    let mut base_env: Vec<(String, String)> = vec![
        ("APP_ENV".into(), "development".into()),
        ("DATABASE_URL".into(), db_url.clone()),
        ("REDIS_URL".into(), format!("redis://127.0.0.1:{redis_port}")),
        ("QUEUE_PREFIX".into(), "chaos".into()),
        ("JWT_SECRET".into(), "chaos-jwt-secret-0123456789-abcdefghijklmnop".into()),
        ("MEDIA_DIR".into(), dir.join("media").display().to_string()),
        ("BACKUP_DIR".into(), dir.join("backups").display().to_string()),
        ("MAIL_OUTBOX_DIR".into(), dir.join("mail").display().to_string()),
        ("SMTP_URL".into(), sink.url.clone()),
        ("MAIL_FROM".into(), MAIL_FROM.into()),
        ("RAZORPAY_KEY_ID".into(), rzp.key_id.clone()),
        ("RAZORPAY_KEY_SECRET".into(), rzp.key_secret.clone()),
        ("RAZORPAY_WEBHOOK_SECRET".into(), rzp.webhook_secret.clone()),
        ("RAZORPAY_API_BASE".into(), rzp.base.clone()),
        ("CLOUDINARY_URL".into(), "cloudinary://chaoskey:chaossecret@chaos".into()),
        ("CLOUDINARY_API_BASE".into(), cloudinary.base.clone()),
        ("PUBLIC_BASE_URL".into(), format!("http://127.0.0.1:{}", api_ports[0])),
        ("LOG_FORMAT".into(), "text".into()),
    ];
    // Tunable from the environment (README "Reliability").
    base_env.extend([
        setting("RUST_LOG", "info"),
        setting("RATE_LIMITS_ENABLED", "false"),
        setting("BACKUP_CRON", "off"),
        setting("DATABASE_MAX_CONNECTIONS", "12"),
        setting("OUTBOX_POLL_MS", "200"),
        setting("WORKER_POLL_MS", "100"),
        setting("JOB_RETRY_BASE_MS", "500"),
        setting("JOB_STALE_SECONDS", "20"),
        setting("MAIL_CLAIM_STALE_SECONDS", "20"),
        setting("RECONCILE_AFTER_SECONDS", "15"),
        setting("RAZORPAY_TIMEOUT_SECONDS", "5"),
        setting("SMTP_TIMEOUT_SECONDS", "10"),
        setting("SHUTDOWN_TIMEOUT_SECONDS", "10"),
        setting("REQUEST_TIMEOUT_SECONDS", "15"),
    ]);
    let shown: Vec<String> = base_env
        .iter()
        .filter(|(k, _)| {
            k.ends_with("_MS") || k.ends_with("_SECONDS") || k == "RATE_LIMITS_ENABLED" || k == "BACKUP_CRON"
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!("chaos: settings {}", shown.join(" "));

    println!("chaos: api migrate, api seed");
    run_to_end(&api_bin, &["migrate"], &base_env, &dir).await?;
    run_to_end(&api_bin, &["seed"], &base_env, &dir).await?;

    let mut apis = Vec::new();
    for (i, port) in api_ports.iter().enumerate() {
        let mut e = base_env.clone();
        e.push(("BIND_ADDR".into(), format!("127.0.0.1:{port}")));
        apis.push(Proc::new(&format!("api{}", i + 1), &api_bin, &["serve"], e, &dir));
    }
    let workers = vec![
        Proc::new("worker1-scheduler", &worker_bin, &[], base_env.clone(), &dir),
        Proc::new("worker2", &worker_bin, &["--no-scheduler"], base_env.clone(), &dir),
    ];
    let procs = Arc::new(tokio::sync::Mutex::new(Procs { redis, apis, workers }));
    {
        let mut p = procs.lock().await;
        for a in p.apis.iter_mut() {
            a.start()?;
        }
        for w in p.workers.iter_mut() {
            w.start()?;
        }
    }
    for port in api_ports {
        if !wait_port(port, Duration::from_secs(60)).await {
            let p = procs.lock().await;
            bail!("the API did not start:\n{}", p.apis.iter().map(|a| a.tail(30)).collect::<Vec<_>>().join("\n"));
        }
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let http = Http {
        client,
        bases: api_ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect(),
        stats: Stats::default(),
        paused: Mutex::new(None),
    };
    let (admin, _) = login(&http, "admin", "admin-demo-2026").await?;
    let (staff, staff_id) = login(&http, "staff", "staff-demo-2026").await?;
    let mut products = Vec::new();
    for kind in ["package", "campaign"] {
        let r = http.call(0, Method::GET, &format!("/api/{kind}s/"), None, None, &Body::None, Retry::Always).await?;
        let list = r.json.get("results").cloned().unwrap_or(r.json.clone());
        for p in list.as_array().cloned().unwrap_or_default() {
            if let Some(id) = p["id"].as_i64() {
                products.push((kind.to_string(), id));
            }
        }
    }
    if products.is_empty() {
        bail!("the seeded catalogue is empty");
    }
    let pool = PgPoolOptions::new().max_connections(4).connect(&db_url).await?;

    let ctx = Arc::new(Ctx {
        http,
        rzp,
        stop: AtomicBool::new(false),
        rec: Mutex::new(Record::default()),
        seed: opts.seed,
        products,
        admin,
        staff,
        staff_id,
    });
    let started = Instant::now();
    let faults = Arc::new(Faults {
        procs: procs.clone(),
        sink: sink.clone(),
        http: ctx.clone(),
        pg_restart: env("CHAOS_PG_RESTART")?,
        pg_start: env("CHAOS_PG_START")?,
        redis_port,
        started,
        log: Mutex::new(Vec::new()),
    });
    faults.log(format!("load starts: {} customers, {} desk users", opts.customers, opts.desk));

    let mut load = Vec::new();
    for vu in 0..opts.customers {
        load.push(tokio::spawn(customer(ctx.clone(), vu)));
    }
    for vu in 0..opts.desk {
        load.push(tokio::spawn(desk(ctx.clone(), opts.customers + vu)));
    }
    let fault_task = {
        let faults = faults.clone();
        let schedule = plan(&opts);
        let duration = opts.duration;
        let seed = opts.seed;
        tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed ^ 0xFA17);
            for (at, fault) in schedule {
                let when = started + Duration::from_secs_f64(duration as f64 * at);
                tokio::time::sleep_until(when.into()).await;
                if let Err(e) = faults.inject(fault, &mut rng).await {
                    faults.log(format!("fault {fault:?} failed: {e:#}"));
                }
            }
        })
    };
    // Progress while the load runs.
    let load_end = started + Duration::from_secs(opts.duration);
    while Instant::now() < load_end {
        tokio::time::sleep(Duration::from_secs(10).min(load_end.saturating_duration_since(Instant::now()))).await;
        let rec = lock(&ctx.rec);
        println!(
            "chaos: [{:>6.1}s] {} orders, {} payments captured, {} offline payments, {} refunds, {} images, {} ticks",
            started.elapsed().as_secs_f64(),
            rec.orders.len(),
            rec.captured.len(),
            rec.manual_payments.len(),
            rec.refunds.len(),
            rec.images,
            rec.checklist_ticks
        );
    }
    ctx.stop.store(true, Ordering::Relaxed);
    let _ = fault_task.await;
    faults.log("load stops".into());
    let wait_end = Instant::now() + Duration::from_secs(120);
    for t in load {
        let left = wait_end.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, t).await.is_err() {
            faults.log("a virtual user did not finish in time; abandoned".into());
        }
    }

    // Drain: every process up, then wait until no job waits and every captured payment is
    // applied (the sweep applies those whose callback and webhooks were all lost).
    {
        let mut p = procs.lock().await;
        let Procs { apis, workers, .. } = &mut *p;
        for proc in apis.iter_mut().chain(workers.iter_mut()) {
            if !proc.alive() {
                println!("chaos: {} was down at the drain; starting it", proc.name);
                proc.start()?;
            }
        }
    }
    let captured: Vec<String> = lock(&ctx.rec).captured.iter().map(|(_, p)| p.clone()).collect();
    let drain_start = Instant::now();
    let mut watermark = 0i64;
    let mut drained = false;
    let mut last_print = Instant::now() - Duration::from_secs(60);
    while drain_start.elapsed() < Duration::from_secs(opts.drain_timeout) {
        let state: Result<(i64, i64, i64, i64, i64)> = async {
            Ok(sqlx::query_as(
                "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'queued'),
                        count(*) FILTER (WHERE status = 'running'),
                        (SELECT count(*) FROM unnest($1::text[]) p(id)
                         WHERE NOT EXISTS (SELECT 1 FROM payment_record r WHERE r.payment_reference = p.id)),
                        COALESCE(max(id), 0)
                 FROM job",
            )
            .bind(&captured)
            .fetch_one(&pool)
            .await?)
        }
        .await;
        match state {
            Ok((0, 0, 0, 0, max)) => {
                watermark = max;
                drained = true;
                break;
            }
            Ok((pending, queued, running, unapplied, _)) if last_print.elapsed() > Duration::from_secs(10) => {
                last_print = Instant::now();
                println!(
                    "chaos: drain [{:>5.1}s]: jobs pending {pending}, queued {queued}, running {running}; {unapplied} captured payments not applied yet",
                    drain_start.elapsed().as_secs_f64()
                );
            }
            Ok(_) => {}
            Err(e) => println!("chaos: drain: {e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let drain_secs = drain_start.elapsed().as_secs_f64();
    if drained {
        faults.log(format!("drained in {drain_secs:.1} s"));
    } else {
        faults.log(format!("NOT drained after {drain_secs:.0} s"));
        watermark = sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM job").fetch_one(&pool).await.unwrap_or(0);
    }
    {
        let mut p = procs.lock().await;
        let Procs { apis, workers, .. } = &mut *p;
        for proc in workers.iter_mut().chain(apis.iter_mut()) {
            proc.stop(Duration::from_secs(15)).await;
        }
    }

    let rec = std::mem::take(&mut *lock(&ctx.rec));
    let (checks, cut) = invariants(&pool, &rec, &sink, watermark).await?;
    let mut ok = drained;

    println!();
    println!("Faults injected (seed {}):", opts.seed);
    for line in lock(&faults.log).iter() {
        println!("  {line}");
    }
    let s = &ctx.http.stats;
    println!();
    println!(
        "Load: {} orders acknowledged ({} manual), {} payments captured ({} callbacks, {} webhook deliveries), \
         {} offline payments, {} refunds, {} checklist ticks, {} images, {} orders left unpaid",
        rec.orders.len(),
        rec.manual_orders,
        rec.captured.len(),
        rec.callbacks,
        rec.webhooks,
        rec.manual_payments.len(),
        rec.refunds.len(),
        rec.checklist_ticks,
        rec.images,
        rec.unpaid_left
    );
    println!(
        "HTTP: {} answered, retried after {} 5xx, {} 429, {} 409 in progress, {} refused connections, {} timeouts, \
         {} other errors; {} requests given up",
        s.ok.load(Ordering::Relaxed),
        s.status_5xx.load(Ordering::Relaxed),
        s.status_429.load(Ordering::Relaxed),
        s.status_409_busy.load(Ordering::Relaxed),
        s.connect.load(Ordering::Relaxed),
        s.timeout.load(Ordering::Relaxed),
        s.other.load(Ordering::Relaxed),
        s.gave_up.load(Ordering::Relaxed)
    );
    let _ = s.unexpected.load(Ordering::Relaxed);
    if !rec.flow_errors.is_empty() {
        println!("Flows cut short (expected during faults; their acknowledged steps are checked):");
        for (k, n) in &rec.flow_errors {
            println!("  {n:>4} × {k}");
        }
    }
    let all = sink.all_messages();
    println!(
        "SMTP sink: {} messages accepted, {} transfers cut",
        all.iter().filter(|m| m.complete).count(),
        all.iter().filter(|m| !m.complete).count()
    );
    if cut.is_empty() {
        println!("Cut sends: none");
    } else {
        println!("Cut sends (a worker killed during SMTP DATA; the Message-ID shows the resend is the same message):");
        for c in &cut {
            println!("  {c}");
        }
    }
    println!();
    println!("{:<62} | {:>7} | {:>10}", "invariant", "checked", "violations");
    println!("{}-+-{}-+-{}", "-".repeat(62), "-".repeat(7), "-".repeat(10));
    if !drained {
        println!("{:<62} | {:>7} | {:>10}", "the jobs drained within the timeout", 1, 1);
    }
    for c in &checks {
        println!("{:<62} | {:>7} | {:>10}", c.name, c.checked, c.violations.len());
    }
    for c in &checks {
        if !c.violations.is_empty() {
            ok = false;
            println!();
            println!("VIOLATIONS of \"{}\":", c.name);
            for v in c.violations.iter().take(25) {
                println!("  {v}");
            }
            if c.violations.len() > 25 {
                println!("  … and {} more", c.violations.len() - 25);
            }
        }
    }
    if !ok {
        let p = procs.lock().await;
        for proc in p.all() {
            println!();
            println!("--- last lines of {} ({}) ---", proc.name, proc.log.display());
            println!("{}", proc.tail(15));
        }
        println!();
        println!("chaos: FAILED");
    } else {
        println!();
        println!("chaos: passed");
    }
    {
        let mut p = procs.lock().await;
        p.redis.stop(Duration::from_secs(5)).await;
    }
    Ok(ok)
}
