//! `api`: serve the HTTP API, or run an admin command.

use std::process::ExitCode;

use api::cli;
use clap::{Parser, Subcommand};
use common::Config;
use common::config::AppEnv;

#[derive(Parser)]
#[command(name = "api", version, about = "Election Cart API server and admin commands")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Create an admin account; the password is read from standard input.
    CreateAdmin {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required).
        #[arg(long)]
        password_stdin: bool,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Phone number.
        #[arg(long)]
        phone: Option<String>,
    },
    /// Check settings; with --deploy, report everything unsafe for production.
    Check {
        /// Apply the production rules whatever APP_ENV says.
        #[arg(long)]
        deploy: bool,
    },
    /// Create demo data for development (refused in production).
    Seed,
    /// Take, verify and record one database backup now (into BACKUP_DIR); print the result.
    Backup,
    /// Restore a backup file into a database, then move the invoice counters past every issued
    /// number.
    Restore {
        /// The backup file (`.dump` or `.dump.enc`).
        #[arg(long)]
        from: std::path::PathBuf,
        /// Target database URL (default: DATABASE_URL).
        #[arg(long)]
        into: Option<String>,
        /// Replace the contents of a database that already has tables.
        #[arg(long)]
        force: bool,
        /// Expected SHA-256 (default: the FILE.sha256 written next to each backup).
        #[arg(long)]
        sha256: Option<String>,
        /// Another database (e.g. the damaged one) whose issued invoice numbers the counters
        /// must also pass.
        #[arg(long)]
        issued_from: Option<String>,
    },
    /// Copy the data of the original Django backend into this service's database (ids kept,
    /// safe to run again: unchanged rows are skipped, changed ones updated), then print a
    /// summary and a report of every row skipped or changed. Exit code 0: everything carried
    /// over or reported with an allowed reason; 1: refused or failed; 3: some row was skipped
    /// or changed without an allowed reason.
    #[command(name = "import-django")]
    ImportDjango {
        /// PostgreSQL URL of the Django database. Read only, in one REPEATABLE READ snapshot:
        /// the old shop may keep running.
        #[arg(long, value_name = "POSTGRES_URL")]
        from: String,
        /// Read, map and print the report and the counts without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Source rows per batch; each batch commits with its ledger rows, so an interrupted
        /// run resumes where it stopped.
        #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=50_000))]
        batch: u32,
        /// Directory with the original's local media files (`<32 hex>_<8 hex>.<ext>` names,
        /// searched recursively); they are copied into MEDIA_DIR. Without it they are listed in
        /// the report.
        #[arg(long, value_name = "DIR")]
        media_from: Option<std::path::PathBuf>,
        /// Cloudinary cloud that the original's stored public ids (`media/…`) belong to
        /// (default: the cloud of CLOUDINARY_URL).
        #[arg(long, value_name = "NAME")]
        cloud_name: Option<String>,
        /// Target database URL (default: DATABASE_URL). It must be migrated (`api migrate`) and
        /// hold no rows but those earlier runs of this command wrote.
        #[arg(long, value_name = "POSTGRES_URL")]
        into: Option<String>,
    },
    /// Render the sample tax invoice COUNT times on this thread; print the median time and size.
    BenchInvoice {
        /// Renders to time.
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `.env` is a development convenience: never read when the environment says otherwise.
    if std::env::var("APP_ENV").map(|v| matches!(v.as_str(), "" | "development" | "dev")).unwrap_or(true) {
        let _ = dotenvy::dotenv();
    }
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    api::init_tracing(cfg.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), cfg)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, cfg: Config) -> anyhow::Result<u8> {
    match command {
        Command::Check { deploy } => {
            if deploy || cfg.app_env == AppEnv::Production {
                return Ok(u8::try_from(cli::check_deploy(&cfg)).unwrap_or(1));
            }
            println!(
                "Configuration loaded (APP_ENV={}). Use --deploy for the production checks.",
                cfg.app_env.as_str()
            );
            Ok(0)
        }
        Command::Migrate => {
            let pool = common::db::pool(&cfg)?;
            common::db::migrate(&pool).await?;
            println!("migrations applied");
            Ok(0)
        }
        Command::CreateAdmin { username, password_stdin, email, phone } => {
            anyhow::ensure!(password_stdin, "pass --password-stdin and the password on standard input");
            let password = cli::read_password_stdin()?;
            let pool = common::db::pool(&cfg)?;
            let id = cli::create_admin(&pool, &cli::AdminSpec { username: username.clone(), email, phone }, password)
                .await?;
            println!("admin `{username}` created (id {id})");
            Ok(0)
        }
        Command::Seed => {
            let pool = common::db::pool(&cfg)?;
            common::db::migrate(&pool).await?;
            let created = cli::seed(&pool, &cfg).await?;
            for a in cli::DEMO_ACCOUNTS {
                let state = if created.iter().any(|c| c.username == a.username) { "created" } else { "exists" };
                println!("demo {:<8} username={:<9} password={}  ({state})", a.role.as_str(), a.username, a.password);
            }
            Ok(0)
        }
        Command::Backup => {
            let pool = common::db::pool(&cfg)?;
            cli::backup(&cfg, &pool).await
        }
        Command::Restore { from, into, force, sha256, issued_from } => {
            cli::restore(&cfg, cli::RestoreArgs { from, into, force, sha256, issued_from }).await
        }
        Command::ImportDjango { from, dry_run, batch, media_from, cloud_name, into } => {
            cli::import_django(&cfg, cli::ImportArgs { from, dry_run, batch, media_from, cloud_name, into }).await
        }
        Command::BenchInvoice { count } => {
            let doc = common::invoice::sample::typical(true);
            let size = common::invoice::render(&doc)?.len();
            let mut times = Vec::with_capacity(count.max(1));
            for _ in 0..count.max(1) {
                let start = std::time::Instant::now();
                let bytes = common::invoice::render(&doc)?;
                times.push(start.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(bytes.len() == size, "renders differ in size");
            }
            times.sort_by(f64::total_cmp);
            println!(
                "invoice render: median {:.3} ms, p90 {:.3} ms over {} renders on one thread; {} bytes ({} lines)",
                times[times.len() / 2],
                times[times.len() * 9 / 10],
                times.len(),
                size,
                doc.lines.len()
            );
            Ok(0)
        }
        Command::Serve => {
            if cfg.is_production() {
                let problems = cfg.deploy_problems();
                if !problems.is_empty() {
                    for p in &problems {
                        tracing::error!(problem = %p, "unsafe production setting");
                    }
                    anyhow::bail!("refusing to start: {} unsafe setting(s); run `api check --deploy`", problems.len());
                }
                for w in cfg.deploy_warnings() {
                    tracing::warn!(warning = %w, "production setting to review");
                }
            }
            let state = api::AppState::new(cfg.clone())?;
            if cfg.app_env == AppEnv::Development
                && let Err(e) = common::db::migrate(&state.pool).await
            {
                tracing::warn!(error = %e, "migrations at start failed");
            }
            let listener = tokio::net::TcpListener::bind(cfg.bind_addr).await?;
            tracing::info!(addr = %cfg.bind_addr, env = cfg.app_env.as_str(), "api listening");
            api::serve(state, listener, api::shutdown_signal()).await?;
            Ok(0)
        }
    }
}
