//! `worker`: runs every queue and the scheduler, or the queues named with `--queues`.

use std::process::ExitCode;

use clap::Parser;
use common::Config;
use worker::Options;

#[derive(Parser)]
#[command(name = "worker", version, about = "Election Cart job workers and scheduler")]
struct Cli {
    /// Comma-separated queues to consume (emails, invoices, media, payments, maintenance); all when absent.
    #[arg(long)]
    queues: Option<String>,
    /// Run only the scheduler.
    #[arg(long, conflicts_with = "queues")]
    scheduler_only: bool,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    no_scheduler: bool,
    /// Do not run an outbox dispatcher in this process.
    #[arg(long)]
    no_dispatcher: bool,
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
    common::process::init_tracing(cfg.log_format);
    if cfg.is_production() {
        let problems = cfg.deploy_problems();
        if !problems.is_empty() {
            for p in &problems {
                tracing::error!(problem = %p, "unsafe production setting");
            }
            eprintln!("refusing to start: {} unsafe setting(s); run `api check --deploy`", problems.len());
            return ExitCode::from(2);
        }
    }
    let mut options = Options::all();
    if let Some(list) = &cli.queues {
        match worker::parse_queues(list) {
            Ok(q) => options.queues = q,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
        // A process started for some queues leaves scheduling to the others unless asked.
        options.scheduler = false;
    }
    if cli.scheduler_only {
        options.queues.clear();
        options.scheduler = true;
    }
    if cli.no_scheduler {
        options.scheduler = false;
    }
    if cli.no_dispatcher {
        options.dispatcher = false;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(queues = ?options.queues, scheduler = options.scheduler, "worker starting");
    match runtime.block_on(worker::run(cfg, options, common::process::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
