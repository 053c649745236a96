//! `api check --deploy` as ops run it: the real binary, settings from the environment.

use std::process::Command;

fn check(vars: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_api"));
    cmd.args(["check", "--deploy"]).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run api");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

const SAFE: &[(&str, &str)] = &[
    ("APP_ENV", "production"),
    ("JWT_SECRET", "q8Vz1Lr0pN4mW7sYk2Hd9Jf5Tb3Xc6Ga"),
    ("PUBLIC_BASE_URL", "https://api.electioncart.in"),
    ("CORS_ALLOWED_ORIGINS", "https://electioncart.in"),
    ("DATABASE_URL", "postgres://app:pw@db.internal:5432/ec?sslmode=require"),
    ("REDIS_URL", "rediss://:pw@cache.internal:6380"),
    ("SMTP_URL", "smtps://mailer:pw@smtp.example.net:465"),
    ("METRICS_TOKEN", "m3tr1cs-t0ken"),
    ("SELLER_NAME", "Election Cart Private Limited"),
    ("SELLER_ADDRESS", "4th Floor, 12 MG Road, Bengaluru 560001"),
    ("SELLER_GSTIN", "29ABCDE1234F1ZW"),
];

#[test]
fn safe_production_settings_pass() {
    let mut vars = SAFE.to_vec();
    vars.push(("TRUSTED_PROXIES", "10.0.0.0/8"));
    let (code, out) = check(&vars);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no issues"));
    assert!(!out.contains("warning"), "{out}");
}

#[test]
fn no_trusted_proxy_in_production_is_a_warning_not_a_failure() {
    let (code, out) = check(SAFE);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning [trusted_proxies_empty] TRUSTED_PROXIES"), "{out}");
    let mut dev = SAFE.to_vec();
    dev.retain(|(k, _)| *k != "APP_ENV");
    dev.push(("APP_ENV", "staging"));
    let (_, out) = check(&dev);
    assert!(!out.contains("trusted_proxies_empty"), "{out}");
}

#[test]
fn every_unsafe_setting_is_printed_and_the_exit_code_is_non_zero() {
    let mut vars: Vec<(&str, &str)> = SAFE.to_vec();
    let unsafe_values = [
        ("JWT_SECRET", "changeme-changeme-changeme-changeme"),
        ("PUBLIC_BASE_URL", "http://api.electioncart.in"),
        ("CORS_ALLOWED_ORIGINS", "*"),
        ("SECURITY_HSTS_SECONDS", "0"),
        ("DATABASE_URL", "postgres://app:pw@db.internal:5432/ec"),
        ("REDIS_URL", "redis://cache.internal:6379"),
        ("SMTP_URL", "smtp://mailer:pw@smtp.example.net:25"),
        ("RAZORPAY_KEY_ID", "rzp_test_abc"),
        ("RAZORPAY_KEY_SECRET", "s"),
        ("RAZORPAY_API_BASE", "http://127.0.0.1:9999"),
    ];
    for (k, v) in unsafe_values {
        vars.retain(|(name, _)| *name != k);
        vars.push((k, v));
    }
    let (code, out) = check(&vars);
    assert_eq!(code, 1, "{out}");
    for id in [
        "jwt_secret_weak",
        "public_url_not_https",
        "cors_wildcard",
        "hsts_missing",
        "database_without_tls",
        "redis_without_password",
        "redis_without_tls",
        "smtp_without_tls",
        "razorpay_test_keys",
        "razorpay_webhook_secret_missing",
        "fake_service_url",
    ] {
        assert!(out.contains(&format!("[{id}]")), "{id} not reported in:\n{out}");
    }
    assert!(!out.contains("pw@"), "passwords must not be printed:\n{out}");
}
