//! The PostgreSQL client tools and `tar`, run with a timeout and killed when it passes. The
//! password of a database URL goes to the child's `PGPASSWORD`, never onto its command line
//! (where `ps` shows it) nor into an error message.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::config::SecretUrl;

/// `url` without its password (as libpq reads it), and the password.
fn libpq_target(url: &SecretUrl) -> Result<(String, Option<String>), String> {
    let mut parsed = url.parsed().ok_or("the database URL does not parse")?;
    let password = parsed.password().map(percent_decode);
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn with_target(cmd: &mut Command, url: &SecretUrl) -> Result<(), String> {
    let (target, password) = libpq_target(url)?;
    cmd.arg(format!("--dbname={target}"));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    Ok(())
}

/// The last lines of a tool's error output, for an error message.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// Runs `cmd` to completion within `timeout`; its standard error lines go to `on_line`.
async fn run(mut cmd: Command, what: &str, timeout: Duration, on_line: &(dyn Fn(&str) + Sync)) -> Result<(), String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {what}: {e} (is postgresql-client installed?)"))?;
    let stderr = child.stderr.take();
    let work = async {
        let mut collected = String::new();
        if let Some(stderr) = stderr {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                on_line(&line);
                if !line.contains(": processing ") && !line.contains(": creating ") {
                    collected.push_str(&line);
                    collected.push('\n');
                }
            }
        }
        let status = child.wait().await;
        (status, collected)
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(format!("{what} did not finish within {} s and was stopped", timeout.as_secs())),
        Ok((Err(e), _)) => Err(format!("{what}: {e}")),
        Ok((Ok(status), _)) if status.success() => Ok(()),
        Ok((Ok(status), stderr)) => Err(format!("{what} failed ({status}): {}", tail(&stderr))),
    }
}

/// `pg_dump --format=custom --snapshot=<snapshot>` of `url` into `to`.
pub async fn pg_dump(url: &SecretUrl, snapshot: &str, to: &Path, timeout: Duration) -> Result<(), String> {
    let mut cmd = Command::new("pg_dump");
    cmd.arg("--format=custom").arg(format!("--snapshot={snapshot}")).arg("--no-password").arg("--file").arg(to);
    with_target(&mut cmd, url)?;
    run(cmd, "pg_dump", timeout, &|_| {}).await
}

/// How many entries `pg_restore` will process for `file` (its table of contents).
pub async fn toc_entries(file: &Path, timeout: Duration) -> Result<u64, String> {
    let mut cmd = Command::new("pg_restore");
    cmd.arg("--list").arg(file).stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| "pg_restore --list timed out".to_string())?
        .map_err(|e| format!("cannot run pg_restore: {e} (is postgresql-client installed?)"))?;
    if !out.status.success() {
        return Err(format!("pg_restore --list failed: {}", tail(&String::from_utf8_lossy(&out.stderr))));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).count() as u64)
}

/// `pg_restore` of `file` into `url` (no owners or grants: the target's role owns everything);
/// with `clean`, existing objects are dropped first. `progress(done, total)` follows the
/// table-of-contents entries.
pub async fn pg_restore(
    url: &SecretUrl,
    file: &Path,
    clean: bool,
    timeout: Duration,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(), String> {
    let total = toc_entries(file, timeout).await?;
    let mut cmd = Command::new("pg_restore");
    cmd.args(["--no-owner", "--no-privileges", "--exit-on-error", "--verbose", "--no-password"]);
    if clean {
        cmd.args(["--clean", "--if-exists"]);
    }
    with_target(&mut cmd, url)?;
    cmd.arg(file);
    let done = std::sync::atomic::AtomicU64::new(0);
    let on_line = |line: &str| {
        if line.contains(": creating ") || line.contains(": processing ") {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n.min(total), total);
        }
    };
    run(cmd, "pg_restore", timeout, &on_line).await?;
    progress(total, total);
    Ok(())
}

/// `tar` of the contents of `dir` into `to`.
pub async fn tar(dir: &Path, to: &Path, timeout: Duration) -> Result<(), String> {
    let mut cmd = Command::new("tar");
    cmd.arg("-C").arg(dir).arg("-cf").arg(to).arg(".");
    run(cmd, "tar", timeout, &|_| {}).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_password_leaves_the_url() {
        let (target, pw) = libpq_target(&SecretUrl::new("postgres://u:p%40ss@db:5432/x?sslmode=require")).unwrap();
        assert_eq!(target, "postgres://u@db:5432/x?sslmode=require");
        assert_eq!(pw.as_deref(), Some("p@ss"));
        let (target, pw) = libpq_target(&SecretUrl::new("postgres://u@db/x")).unwrap();
        assert_eq!((target.as_str(), pw), ("postgres://u@db/x", None));
    }
}
