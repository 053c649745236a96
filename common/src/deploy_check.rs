//! The rules behind `api check --deploy`: every setting unsafe for a public deployment.

use std::net::IpAddr;

use secrecy::ExposeSecret;
use url::{Host, Url};

use crate::config::{Config, DEV_JWT_SECRET, DeployProblem};

const PLACEHOLDER_WORDS: &[&str] = &[
    "change",
    "changeme",
    "secret",
    "example",
    "placeholder",
    "password",
    "insecure",
    "default",
    "django-insecure",
    "xxx",
    "todo",
    "test",
];

fn problem(id: &'static str, setting: &'static str, message: impl Into<String>) -> DeployProblem {
    DeployProblem { id, setting, message: message.into() }
}

/// True for hosts that only this machine reaches (loopback, unix socket, `localhost`).
pub fn is_local_host(host: Option<Host<&str>>) -> bool {
    match host {
        None => true,
        // Non-special schemes (postgres://, redis://) leave IP addresses as opaque domains.
        Some(Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.ends_with(".localhost")
                || d.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
    }
}

fn is_private_host(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Ipv4(ip)) => ip.is_private() || ip.is_link_local() || ip.is_unspecified(),
        Some(Host::Ipv6(ip)) => ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00,
        Some(Host::Domain(d)) => d.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_unspecified(),
            IpAddr::V6(v6) => v6.is_unspecified(),
        }),
        None => false,
    }
}

/// Rates a signing secret: `None` when strong enough, else why not.
fn weak_secret_reason(secret: &str) -> Option<String> {
    if secret == DEV_JWT_SECRET {
        return Some("is the development default".into());
    }
    if secret.len() < 32 {
        return Some(format!("is {} bytes long; use at least 32 random bytes", secret.len()));
    }
    let lower = secret.to_ascii_lowercase();
    if let Some(word) = PLACEHOLDER_WORDS.iter().find(|w| lower.contains(*w)) {
        return Some(format!("looks like a placeholder (contains `{word}`)"));
    }
    let mut distinct: Vec<char> = secret.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 10 {
        return Some(format!("uses only {} distinct characters; generate it randomly", distinct.len()));
    }
    None
}

fn check_service_base(out: &mut Vec<DeployProblem>, setting: &'static str, value: &str, real: &str) {
    match Url::parse(value) {
        Err(_) => out.push(problem("fake_service_url", setting, format!("`{value}` is not a URL"))),
        Ok(url) => {
            if url.scheme() != "https" || is_local_host(url.host()) || is_private_host(url.host()) {
                out.push(problem(
                    "fake_service_url",
                    setting,
                    format!("points at `{value}`, a test or local server; production uses {real}"),
                ));
            }
        }
    }
}

/// Production settings that are right for some deployments but usually wrong: printed by
/// `check --deploy` and logged at start, without refusing to start.
pub fn warnings(cfg: &Config) -> Vec<DeployProblem> {
    let mut out = Vec::new();
    if cfg.is_production() && cfg.trusted_proxies.is_empty() {
        out.push(problem(
            "trusted_proxies_empty",
            "TRUSTED_PROXIES",
            "no proxy is trusted: behind a load balancer every client has the balancer's address and \
             shares one rate limit; set the balancer's addresses or CIDRs (leave it empty only when \
             clients connect to the API directly)",
        ));
    }
    out
}

/// All problems of `cfg` for a production deployment.
pub fn problems(cfg: &Config) -> Vec<DeployProblem> {
    let mut out = Vec::new();

    if let Some(reason) = weak_secret_reason(cfg.jwt_secret.expose_secret()) {
        out.push(problem("jwt_secret_weak", "JWT_SECRET", reason));
    }
    if cfg.debug {
        out.push(problem("debug_enabled", "DEBUG", "debug output must be off in production"));
    }

    match Url::parse(&cfg.public_base_url) {
        Ok(url) if url.scheme() == "https" => {}
        _ => out.push(problem(
            "public_url_not_https",
            "PUBLIC_BASE_URL",
            format!("`{}` is not an https URL", cfg.public_base_url),
        )),
    }

    if cfg.cors_allowed_origins.iter().any(|o| o.contains('*')) {
        out.push(problem(
            "cors_wildcard",
            "CORS_ALLOWED_ORIGINS",
            "a wildcard origin lets any site call the API with credentials",
        ));
    }
    for origin in &cfg.cors_allowed_origins {
        if let Ok(url) = Url::parse(origin)
            && (url.scheme() != "https" || is_local_host(url.host()))
            && !origin.contains('*')
        {
            out.push(problem(
                "cors_insecure_origin",
                "CORS_ALLOWED_ORIGINS",
                format!("`{origin}` is not an https origin of the deployed site"),
            ));
        }
    }

    if cfg.hsts_seconds == 0 {
        out.push(problem("hsts_missing", "SECURITY_HSTS_SECONDS", "HSTS is off; set at least 31536000"));
    } else if cfg.hsts_seconds < 15_768_000 {
        out.push(problem(
            "hsts_short",
            "SECURITY_HSTS_SECONDS",
            format!("{} s is short; use at least six months (15768000)", cfg.hsts_seconds),
        ));
    }

    match cfg.database_url.parsed() {
        None => out.push(problem("database_url_invalid", "DATABASE_URL", "not a URL")),
        Some(url) => {
            let sslmode =
                url.query_pairs().find(|(k, _)| k == "sslmode").map(|(_, v)| v.to_string()).unwrap_or_default();
            let tls = matches!(sslmode.as_str(), "require" | "verify-ca" | "verify-full");
            let socket_host = url.query_pairs().any(|(k, v)| k == "host" && v.starts_with('/'));
            if !tls && !socket_host && !is_local_host(url.host()) {
                out.push(problem(
                    "database_without_tls",
                    "DATABASE_URL",
                    format!(
                        "connects to `{}` without TLS; add ?sslmode=require (or verify-full)",
                        url.host_str().unwrap_or("?")
                    ),
                ));
            }
        }
    }

    match cfg.redis_url.parsed() {
        None => out.push(problem("redis_url_invalid", "REDIS_URL", "not a URL")),
        Some(url) => {
            if url.password().is_none_or(str::is_empty) {
                out.push(problem(
                    "redis_without_password",
                    "REDIS_URL",
                    "Redis has no password; use redis://:PASSWORD@host",
                ));
            }
            if url.scheme() != "rediss" && !is_local_host(url.host()) {
                out.push(problem(
                    "redis_without_tls",
                    "REDIS_URL",
                    format!("connects to `{}` without TLS; use rediss://", url.host_str().unwrap_or("?")),
                ));
            }
        }
    }

    match &cfg.smtp_url {
        None => out.push(problem(
            "smtp_missing",
            "SMTP_URL",
            "not set: emails would be written to MAIL_OUTBOX_DIR instead of being sent",
        )),
        Some(smtp) => match smtp.parsed() {
            None => out.push(problem("smtp_url_invalid", "SMTP_URL", "not a URL")),
            Some(url) => {
                let tls_param = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
                let tls = url.scheme() == "smtps" || tls_param.as_deref() == Some("required");
                if !tls {
                    out.push(problem(
                        "smtp_without_tls",
                        "SMTP_URL",
                        "mail (and its password) would cross the network in clear: use smtps:// or ?tls=required",
                    ));
                }
            }
        },
    }

    if let Some(rzp) = &cfg.razorpay {
        if rzp.key_id.starts_with("rzp_test_") {
            out.push(problem("razorpay_test_keys", "RAZORPAY_KEY_ID", "Razorpay test keys take no real payments"));
        }
        if rzp.webhook_secret.is_none() {
            out.push(problem(
                "razorpay_webhook_secret_missing",
                "RAZORPAY_WEBHOOK_SECRET",
                "without it payment webhooks are refused and only the sweep settles missed payments",
            ));
        }
    }
    check_service_base(&mut out, "RAZORPAY_API_BASE", &cfg.razorpay_api_base, "https://api.razorpay.com");
    check_service_base(&mut out, "CLOUDINARY_API_BASE", &cfg.cloudinary_api_base, "https://api.cloudinary.com");
    check_service_base(&mut out, "FIREBASE_CERTS_URL", &cfg.firebase_certs_url, "Google's certificate endpoint");

    // A tax invoice without the seller's name, address and GSTIN is not a valid tax invoice.
    if cfg.seller_name.trim().is_empty() {
        out.push(problem("seller_name_missing", "SELLER_NAME", "invoices must name the seller"));
    }
    if cfg.seller_address.trim().is_empty() {
        out.push(problem("seller_address_missing", "SELLER_ADDRESS", "invoices must give the seller's address"));
    }
    match cfg.seller_gstin.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        None => out.push(problem(
            "seller_gstin_missing",
            "SELLER_GSTIN",
            "without it invoices are not GST tax invoices (\"INVOICE\" without tax registration)",
        )),
        Some(gstin) => {
            if !crate::gst::Gstin::parse(gstin).is_ok_and(|g| g.check_char_ok()) {
                out.push(problem(
                    "seller_gstin_check_failed",
                    "SELLER_GSTIN",
                    format!("`{gstin}` fails the GSTIN check character: a typo would void every invoice"),
                ));
            }
        }
    }
    if cfg.metrics_token.is_none() {
        out.push(problem("metrics_open", "METRICS_TOKEN", "/metrics would be readable by anyone"));
    }
    if !cfg.rate_limits_enabled {
        out.push(problem(
            "rate_limits_disabled",
            "RATE_LIMITS_ENABLED",
            "login and signup would have no brute-force protection",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    fn safe_vars() -> Vec<(&'static str, &'static str)> {
        vec![
            ("APP_ENV", "production"),
            ("JWT_SECRET", "q8Vz1Lr0pN4mW7sYk2Hd9Jf5Tb3Xc6Ga"),
            ("PUBLIC_BASE_URL", "https://api.electioncart.in"),
            ("CORS_ALLOWED_ORIGINS", "https://electioncart.in,https://admin.electioncart.in"),
            ("DATABASE_URL", "postgres://app:pw@db.internal:5432/ec?sslmode=require"),
            ("REDIS_URL", "rediss://:pw@cache.internal:6380"),
            ("SMTP_URL", "smtps://mailer:pw@smtp.example.net:465"),
            ("RAZORPAY_KEY_ID", "rzp_live_abc"),
            ("RAZORPAY_KEY_SECRET", "live-secret"),
            ("RAZORPAY_WEBHOOK_SECRET", "whsec"),
            ("METRICS_TOKEN", "m3tr1cs-t0ken"),
            ("SELLER_NAME", "Election Cart Private Limited"),
            ("SELLER_ADDRESS", "4th Floor, 12 MG Road, Bengaluru 560001"),
            ("SELLER_GSTIN", "29ABCDE1234F1ZW"),
        ]
    }

    fn ids_with(overrides: &[(&'static str, &'static str)]) -> Result<Vec<&'static str>, ConfigError> {
        let mut vars = safe_vars();
        for (k, v) in overrides {
            vars.retain(|(name, _)| name != k);
            vars.push((k, v));
        }
        Ok(Config::from_vars(vars)?.deploy_problems().into_iter().map(|p| p.id).collect())
    }

    #[test]
    fn safe_settings_pass() -> Result<(), ConfigError> {
        assert_eq!(ids_with(&[])?, Vec::<&str>::new());
        Ok(())
    }

    #[test]
    fn each_unsafe_setting_is_reported() -> Result<(), ConfigError> {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("JWT_SECRET", "short")], "jwt_secret_weak"),
            (&[("JWT_SECRET", "please-change-this-secret-key-now-123456")], "jwt_secret_weak"),
            (&[("JWT_SECRET", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")], "jwt_secret_weak"),
            (&[("JWT_SECRET", DEV_JWT_SECRET)], "jwt_secret_weak"),
            (&[("PUBLIC_BASE_URL", "http://api.electioncart.in")], "public_url_not_https"),
            (&[("CORS_ALLOWED_ORIGINS", "*")], "cors_wildcard"),
            (&[("CORS_ALLOWED_ORIGINS", "http://localhost:5173")], "cors_insecure_origin"),
            (&[("SECURITY_HSTS_SECONDS", "0")], "hsts_missing"),
            (&[("SECURITY_HSTS_SECONDS", "600")], "hsts_short"),
            (&[("DATABASE_URL", "postgres://app:pw@db.internal:5432/ec")], "database_without_tls"),
            (&[("DATABASE_URL", "postgres://app:pw@db.internal/ec?sslmode=prefer")], "database_without_tls"),
            (&[("REDIS_URL", "rediss://cache.internal:6380")], "redis_without_password"),
            (&[("REDIS_URL", "redis://:pw@cache.internal:6379")], "redis_without_tls"),
            (&[("SMTP_URL", "smtp://mailer:pw@smtp.example.net:25")], "smtp_without_tls"),
            (&[("SMTP_URL", "")], "smtp_missing"),
            (&[("RAZORPAY_KEY_ID", "rzp_test_abc")], "razorpay_test_keys"),
            (&[("RAZORPAY_WEBHOOK_SECRET", "")], "razorpay_webhook_secret_missing"),
            (&[("RAZORPAY_API_BASE", "http://127.0.0.1:9999")], "fake_service_url"),
            (&[("CLOUDINARY_API_BASE", "https://localhost:9000")], "fake_service_url"),
            (&[("FIREBASE_CERTS_URL", "http://10.0.0.5/certs")], "fake_service_url"),
            (&[("DEBUG", "true")], "debug_enabled"),
            (&[("METRICS_TOKEN", "")], "metrics_open"),
            (&[("RATE_LIMITS_ENABLED", "false")], "rate_limits_disabled"),
            (&[("SELLER_NAME", "")], "seller_name_missing"),
            (&[("SELLER_ADDRESS", "")], "seller_address_missing"),
            (&[("SELLER_GSTIN", "")], "seller_gstin_missing"),
            (&[("SELLER_GSTIN", "29ABCDE1234F1Z5")], "seller_gstin_check_failed"),
        ];
        for (overrides, expected) in cases {
            let ids = ids_with(overrides)?;
            assert!(ids.contains(expected), "{overrides:?} should report {expected}, got {ids:?}");
        }
        Ok(())
    }

    #[test]
    fn local_database_without_tls_is_fine() -> Result<(), ConfigError> {
        let ids = ids_with(&[("DATABASE_URL", "postgres://app@127.0.0.1/ec")])?;
        assert!(!ids.contains(&"database_without_tls"));
        Ok(())
    }
}
