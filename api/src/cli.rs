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
    Ok(created)
}
