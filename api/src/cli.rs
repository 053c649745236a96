//! Admin commands carried by the `api` binary.

use std::io::BufRead;

use common::Config;
use common::accounts::password;
use common::accounts::users::{self, NewUser, UserWriteError};
use common::role::Role;
use sqlx::PgPool;

/// `api check --deploy`: prints every problem; returns the process exit code.
pub fn check_deploy(cfg: &Config) -> i32 {
    let problems = cfg.deploy_problems();
    for w in cfg.deploy_warnings() {
        println!("  warning {w}");
    }
    if problems.is_empty() {
        println!("System check identified no issues (APP_ENV={}).", cfg.app_env.as_str());
        return 0;
    }
    println!("System check identified {} issue(s) for a production deployment:", problems.len());
    for p in &problems {
        println!("  {p}");
    }
    1
}

/// What `create-admin` was given.
#[derive(Debug, Clone)]
pub struct AdminSpec {
    /// Login name.
    pub username: String,
    /// Email, optional.
    pub email: Option<String>,
    /// Phone, optional.
    pub phone: Option<String>,
}

/// Reads the first line of stdin as the password.
pub fn read_password_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    anyhow::ensure!(!pw.is_empty(), "no password on standard input");
    Ok(pw)
}

/// Creates an admin (role admin, `is_staff`, `is_superuser`).
pub async fn create_admin(pool: &PgPool, spec: &AdminSpec, raw_password: String) -> anyhow::Result<i64> {
    anyhow::ensure!(
        !spec.username.trim().is_empty() && spec.username.chars().count() <= 150,
        "username must be 1 to 150 characters"
    );
    if let Some(problem) = password::policy_problem(&raw_password, &spec.username) {
        anyhow::bail!("password refused: {problem}");
    }
    let email = match &spec.email {
        None => String::new(),
        Some(e) => crate::routes::dto::valid_email(e).ok_or_else(|| anyhow::anyhow!("invalid email `{e}`"))?,
    };
    if let Some(p) = &spec.phone {
        anyhow::ensure!(p.chars().count() <= 15, "phone number longer than 15 characters");
    }
    let hash = tokio::task::spawn_blocking(move || password::hash(&raw_password)).await?;
    let new = NewUser {
        username: spec.username.trim().to_string(),
        password_hash: hash,
        phone_number: spec.phone.clone(),
        email,
        role: Role::Admin,
        firebase_uid: None,
        is_staff: true,
        is_superuser: true,
    };
    let mut conn = pool.acquire().await?;
    match users::create(&mut conn, &new).await {
        Ok(u) => Ok(u.id),
        Err(UserWriteError::UsernameTaken) => anyhow::bail!("username `{}` already exists", spec.username),
        Err(UserWriteError::PhoneTaken) => anyhow::bail!("phone number already in use"),
        Err(e) => Err(e.into()),
    }
}

/// A demo account made by `seed`.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    /// Login name.
    pub username: &'static str,
    /// Password.
    pub password: &'static str,
    /// Role.
    pub role: Role,
}

/// Demo accounts for development.
pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount { username: "admin", password: "admin-demo-2026", role: Role::Admin },
    DemoAccount { username: "staff", password: "staff-demo-2026", role: Role::Staff },
    DemoAccount { username: "customer", password: "customer-demo-2026", role: Role::User },
];

/// (name, price, description, features, deliverables, items) of the demo packages.
type DemoPackage = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [(&'static str, i32)],
);

const DEMO_PACKAGES: &[DemoPackage] = &[
    (
        "Ward Starter Kit",
        "14999.00",
        "Everything a ward-level candidate needs for the first week of campaigning.",
        &["Design in 2 days", "Printed locally", "Free delivery in the ward"],
        &["Poster and banner artwork", "Printed material", "Delivery report"],
        &[("A3 posters", 500), ("Flex banners 6x3 ft", 10), ("Pamphlets", 5000), ("Party-colour caps", 200)],
    ),
    (
        "Assembly Campaign Pack",
        "149999.00",
        "A complete assembly-constituency campaign: print, digital, audio and rallies.",
        &["Dedicated campaign manager", "Daily progress report", "Social media handling"],
        &["Campaign calendar", "All printed material", "Audio jingle", "Rally logistics"],
        &[
            ("Hoardings 20x10 ft", 25),
            ("Auto-rickshaw campaign days", 30),
            ("Campaign jingle", 1),
            ("Rally stage set-up", 3),
        ],
    ),
    (
        "Digital Booster",
        "49999.00",
        "Social media presence for a month: creatives, ads and a WhatsApp outreach plan.",
        &["Facebook, Instagram and YouTube", "Ad budget management", "Weekly analytics"],
        &["60 creatives", "4 short videos", "Analytics report"],
        &[("Social media creatives", 60), ("Short videos", 4), ("WhatsApp broadcast lists", 10)],
    ),
];

/// (name, price, unit, description, features) of the demo campaigns.
type DemoCampaign = (&'static str, &'static str, &'static str, &'static str, &'static [&'static str]);

const DEMO_CAMPAIGNS: &[DemoCampaign] = &[
    (
        "Bulk SMS",
        "250.00",
        "per 1000 SMS",
        "Transactional-route SMS in English, Hindi or the regional language.",
        &["DLT-registered header", "Delivery report"],
    ),
    (
        "Voice Calls",
        "900.00",
        "per 1000 calls",
        "Pre-recorded voice message from the candidate to every voter.",
        &["30-second message", "Call report"],
    ),
    (
        "Auto-rickshaw Campaign",
        "1800.00",
        "per auto per day",
        "Branded auto-rickshaw with audio announcement across the constituency.",
        &["Route plan", "GPS photos"],
    ),
    (
        "Door-to-door Volunteers",
        "700.00",
        "per volunteer per day",
        "Trained volunteers distribute pamphlets and log voter feedback.",
        &["Daily coverage sheet"],
    ),
];

/// Demo catalogue: packages with items, campaigns with units, checklist templates and resource
/// fields (idempotent: products that exist by name are left alone). Returns how many products
/// were created.
pub async fn seed_catalog(pool: &PgPool, cfg: &Config, admin_id: Option<i64>) -> anyhow::Result<usize> {
    use common::catalog::ProductType;
    use common::catalog::products::{self, ProductInput, ProductWriteError};
    use common::money::Money;
    let gst = Money::parse(&cfg.gst_default_rate, 5).map(|m| m.to_string()).unwrap_or_else(|_| "18.00".into());
    let mut created = Vec::new();
    for (name, price, description, features, deliverables, items) in DEMO_PACKAGES {
        let input = ProductInput {
            name: name.to_string(),
            price: Money::parse(price, 10).map_err(|e| anyhow::anyhow!("{name}: {e}"))?,
            description: description.to_string(),
            features: features.iter().map(|s| s.to_string()).collect(),
            deliverables: deliverables.iter().map(|s| s.to_string()).collect(),
            items: Some(items.iter().map(|(n, q)| (n.to_string(), *q)).collect()),
            is_active: Some(true),
            unit: String::new(),
            hsn_sac: "998361".into(),
            gst_rate: gst.clone(),
        };
        match products::create(pool, ProductType::Package, &input, admin_id).await {
            Ok(p) => created.push((ProductType::Package, p.id)),
            Err(ProductWriteError::NameTaken) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for (name, price, unit, description, features) in DEMO_CAMPAIGNS {
        let input = ProductInput {
            name: name.to_string(),
            price: Money::parse(price, 10).map_err(|e| anyhow::anyhow!("{name}: {e}"))?,
            description: description.to_string(),
            features: features.iter().map(|s| s.to_string()).collect(),
            deliverables: Vec::new(),
            items: None,
            is_active: Some(true),
            unit: unit.to_string(),
            hsn_sac: "998361".into(),
            gst_rate: gst.clone(),
        };
        match products::create(pool, ProductType::Campaign, &input, admin_id).await {
            Ok(p) => created.push((ProductType::Campaign, p.id)),
            Err(ProductWriteError::NameTaken) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for (n, (kind, id)) in created.iter().enumerate() {
        for variant in 0..2u8 {
            seed_image(pool, cfg, *kind, *id, n, variant).await?;
        }
        let mut tx = common::db::begin(pool).await?;
        for (order, (name, optional)) in [
            ("Collect candidate photo and party symbol", false),
            ("Design and get approval", false),
            ("Produce", false),
            ("Deliver and send photos", false),
            ("Follow-up call", true),
        ]
        .iter()
        .enumerate()
        {
            sqlx::query(
                r#"INSERT INTO checklist_template_item (product_type, product_id, name, description, "order", is_optional)
                   VALUES ($1, $2, $3, $4, $5, $6)"#,
            )
            .bind(kind.as_str())
            .bind(id)
            .bind(name)
            .bind(format!("{name} for this order."))
            .bind(order as i32)
            .bind(optional)
            .execute(&mut *tx)
            .await?;
        }
        for (order, (field_name, field_type, required, help)) in [
            ("Candidate photo", "image", true, "A clear, recent photo (JPG or PNG)."),
            ("Party symbol", "image", false, "The party or independent symbol."),
            ("Campaign slogan", "text", true, "One line, at most 200 characters."),
            ("Start date", "date", true, "When the campaign should start."),
            ("WhatsApp number", "phone", true, "For approvals and updates."),
        ]
        .iter()
        .enumerate()
        {
            sqlx::query(
                r#"INSERT INTO resource_field_definition (product_type, product_id, field_name, field_type, is_required, "order", help_text, max_length, max_file_size_mb)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"#,
            )
            .bind(kind.as_str())
            .bind(id)
            .bind(field_name)
            .bind(field_type)
            .bind(required)
            .bind(order as i32)
            .bind(help)
            .bind((*field_type == "text").then_some(200))
            .bind((*field_type == "image").then_some(5))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    Ok(created.len())
}

/// A generated banner (diagonal bands in a per-product colour), staged and recorded like an
/// upload: the media worker stores it and makes its thumbnail.
async fn seed_image(
    pool: &PgPool,
    cfg: &Config,
    kind: common::catalog::ProductType,
    product_id: i64,
    n: usize,
    variant: u8,
) -> anyhow::Result<()> {
    use common::catalog::images::{self, NewImage};
    use common::media::{self, ImageKind, STAGING_DIR};
    const PALETTE: [[u8; 3]; 7] =
        [[217, 72, 15], [19, 132, 150], [95, 61, 196], [47, 158, 68], [201, 42, 42], [230, 119, 0], [24, 100, 171]];
    let [r, g, b] = PALETTE[n % PALETTE.len()];
    let png = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let img = image::RgbImage::from_fn(800, 500, |x, y| {
            let band = ((x + y * 2) / 60 + u32::from(variant)) % 2 == 0;
            let shade = |c: u8| if band { c } else { c.saturating_add(40) };
            image::Rgb([shade(r), shade(g), shade(b)])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)?;
        Ok(out.into_inner())
    })
    .await??;
    let name = media::random_name(ImageKind::Png);
    let rel = format!("{STAGING_DIR}/{name}");
    let dir = cfg.media_dir.join(STAGING_DIR);
    tokio::fs::create_dir_all(&dir).await?;
    tokio::fs::write(dir.join(&name), &png).await?;
    let new = NewImage { image: rel, is_primary: Some(variant == 0), order: None, alt_text: "Demo banner".into() };
    images::create(pool, kind, product_id, &new).await.map_err(|e| anyhow::anyhow!("seed image: {e}"))?;
    Ok(())
}

/// `api seed`: demo accounts (idempotent); returns those created now.
pub async fn seed(pool: &PgPool, cfg: &Config) -> anyhow::Result<Vec<&'static DemoAccount>> {
    anyhow::ensure!(!cfg.is_production(), "seed refuses to run with APP_ENV=production");
    let mut created = Vec::new();
    for account in DEMO_ACCOUNTS {
        let pw = account.password.to_string();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw)).await?;
        let admin = account.role == Role::Admin;
        let new = NewUser {
            username: account.username.to_string(),
            password_hash: hash,
            phone_number: None,
            email: format!("{}@demo.electioncart.local", account.username),
            role: account.role,
            firebase_uid: None,
            is_staff: admin,
            is_superuser: admin,
        };
        let mut conn = pool.acquire().await?;
        match users::create(&mut conn, &new).await {
            Ok(_) => created.push(account),
            Err(UserWriteError::UsernameTaken) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let admin_id = users::find_by_username(pool, "admin").await?.map(|u| u.id);
    let products = seed_catalog(pool, cfg, admin_id).await?;
    if products > 0 {
        println!("demo catalogue: {products} products created");
    }
    if let Some(number) = seed_paid_order(pool, cfg, admin_id).await? {
        println!("demo order: the customer's first package, paid in cash, invoice {number}");
    }
    Ok(created)
}

/// One paid order of the demo customer (once), so the order desk, the invoice download and the
/// `invoices` worker have something to show: the first demo package, paid in cash at the desk.
/// Returns the invoice number when it was created now.
async fn seed_paid_order(pool: &PgPool, cfg: &Config, admin_id: Option<i64>) -> anyhow::Result<Option<String>> {
    use common::catalog::ProductType;
    use common::orders::admin::records::{self, NewPayment, PaymentMethod};
    use common::orders::create::{self, TaxSettings};
    use common::orders::invoices::InvoiceSettings;

    let (Some(admin_id), Some(customer)) = (admin_id, users::find_by_username(pool, "customer").await?) else {
        return Ok(None);
    };
    let has_orders: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE user_id = $1)")
        .bind(customer.id)
        .fetch_one(pool)
        .await?;
    let package: Option<i64> =
        sqlx::query_scalar("SELECT min(id) FROM package WHERE is_active").fetch_one(pool).await?;
    let Some(package) = package.filter(|_| !has_orders) else { return Ok(None) };
    let tax = TaxSettings {
        prices_include_gst: cfg.prices_include_gst,
        seller_state: common::gst::StateCode::parse(&cfg.seller_state_code)?,
    };
    let billing = common::orders::billing::validate(
        &common::orders::billing::BillingInput::default(),
        &customer.display_name(),
        &tax.seller_state,
    )
    .map_err(|e| anyhow::anyhow!("demo billing: {e:?}"))?;
    common::cart::add(pool, customer.id, ProductType::Package, package, 1).await?;
    let now = chrono::Utc::now();
    let order = create::from_cart(
        pool,
        &common::jobs::Doorbell::new(pool.clone()),
        customer.id,
        &billing,
        &tax,
        None,
        now,
        None,
    )
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT (total_amount * 100)::bigint FROM orders WHERE id = $1")
        .bind(order.order_id)
        .fetch_one(pool)
        .await?;
    let payment = NewPayment {
        amount: total,
        method: PaymentMethod::Cash,
        reference: "DEMO-CASH-1".into(),
        proof: None,
        notes: "Demo payment".into(),
    };
    records::record_payment(pool, order.order_id, &payment, admin_id, &InvoiceSettings::of(cfg), now).await?;
    let number: Option<String> = sqlx::query_scalar("SELECT invoice_number FROM orders WHERE id = $1")
        .bind(order.order_id)
        .fetch_one(pool)
        .await?;
    Ok(number)
}

/// `api backup`: takes, verifies and records one backup now in this process; prints the result.
/// Returns the exit code (1 when another backup is running or this one failed).
pub async fn backup(cfg: &Config, pool: &PgPool) -> anyhow::Result<u8> {
    use common::backup::{self, RequestError, RunKind};
    let id = match backup::request(pool, RunKind::Cli, None, None).await {
        Ok(Some(id)) => id,
        Ok(None) => anyhow::bail!("backup request created no run"),
        Err(RequestError::Running) => {
            eprintln!("another backup is queued or running; try again when it has finished");
            return Ok(1);
        }
        Err(RequestError::Database(e)) => return Err(e.into()),
    };
    println!("backup #{id} running (dump, then a test restore)…");
    match backup::execute(cfg, pool, id).await {
        Ok(run) => {
            println!("backup #{id} ok, verified");
            println!("  file    {}", run.location.as_deref().unwrap_or("-"));
            println!("  sha256  {}", run.sha256.as_deref().unwrap_or("-"));
            println!(
                "  size    {} bytes{}",
                run.size_bytes.unwrap_or(0),
                if run.encrypted { " (encrypted)" } else { "" }
            );
            if let Some(media) = &run.media_location {
                println!("  media   {media}");
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("backup #{id} FAILED: {e}");
            Ok(1)
        }
    }
}

/// What `api restore` was given.
#[derive(Debug, Clone)]
pub struct RestoreArgs {
    /// The backup file.
    pub from: std::path::PathBuf,
    /// Target database URL (default `DATABASE_URL`).
    pub into: Option<String>,
    /// Replace the contents of a non-empty database.
    pub force: bool,
    /// Expected SHA-256.
    pub sha256: Option<String>,
    /// Another database whose issued invoice numbers the counters must pass.
    pub issued_from: Option<String>,
}

/// `api restore`: restores a backup with a progress bar and prints what it did; returns the exit
/// code.
pub async fn restore(cfg: &Config, args: RestoreArgs) -> anyhow::Result<u8> {
    use common::backup::restore::{self, RestoreOptions};
    use common::config::SecretUrl;
    let into = args.into.map(SecretUrl::new).unwrap_or_else(|| cfg.database_url.clone());
    let mut sha256 = args.sha256;
    if sha256.is_none() && !common::backup::sidecar_path(&args.from).exists() {
        // No sidecar: the backup_run row of the service's database, if it answers quickly.
        let pool = common::db::pool(cfg)?;
        let lookup = common::backup::recorded_sha256(&pool, &args.from);
        if let Ok(Ok(Some(found))) = tokio::time::timeout(std::time::Duration::from_secs(5), lookup).await {
            println!("checking against the sha256 recorded in backup_run");
            sha256 = Some(found);
        }
    }
    let opts = RestoreOptions {
        from: args.from,
        into,
        force: args.force,
        sha256,
        issued_from: args.issued_from.map(SecretUrl::new),
        key: cfg.backup_encryption_key.clone(),
        timeout: cfg.backup_timeout,
    };
    println!("restoring {} into {}", opts.from.display(), opts.into.redacted());
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} objects")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let result = restore::restore(&opts, &progress).await;
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            println!("sha256 {} checked", report.sha256);
            let rows: i64 = report.counts.tables.values().sum();
            println!(
                "restored {} tables, {rows} rows; sum of order totals {}",
                report.counts.tables.len(),
                report.counts.orders_total_amount
            );
            for line in restore::describe_counters(&report.counters) {
                println!("{line}");
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("restore refused or failed: {e}");
            Ok(1)
        }
    }
}

/// Arguments of `api import-django`.
#[derive(Debug)]
pub struct ImportArgs {
    /// Source URL.
    pub from: String,
    /// Write nothing.
    pub dry_run: bool,
    /// Rows per batch.
    pub batch: u32,
    /// Local media of the original.
    pub media_from: Option<std::path::PathBuf>,
    /// Cloudinary cloud of the original's public ids.
    pub cloud_name: Option<String>,
    /// Target URL (default DATABASE_URL).
    pub into: Option<String>,
}

/// `api import-django`: runs the import, prints the summary and the report, returns the exit
/// code (0 ok, 1 refused, 3 rows skipped without an allowed reason).
pub async fn import_django(cfg: &Config, args: ImportArgs) -> anyhow::Result<u8> {
    use std::io::IsTerminal;
    let cloud_name = args.cloud_name.or_else(|| {
        cfg.cloudinary_url
            .as_ref()
            .and_then(|u| common::media::CloudinaryCredentials::parse(u.expose()))
            .map(|c| c.cloud_name)
    });
    let opts = crate::import_django::Options {
        from: args.from,
        into: args.into.unwrap_or_else(|| cfg.database_url.expose().to_string()),
        dry_run: args.dry_run,
        batch: usize::try_from(args.batch).unwrap_or(500),
        media_from: args.media_from,
        media_dir: cfg.media_dir.clone(),
        cloud_name,
        progress: std::io::stderr().is_terminal(),
        fail_after_batches: None,
    };
    let report = crate::import_django::run(&opts).await?;
    print!("{}", report.render());
    if let Some(why) = &report.refused {
        eprintln!("import refused: {why}");
    }
    Ok(report.exit_code())
}
