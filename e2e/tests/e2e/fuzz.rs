//! Hostile input on every documented route (issue 17 §3): schemathesis, driven from here against
//! a running deployment with fakes for Razorpay and Cloudinary, anonymous and with admin, staff
//! and customer tokens. Checks: `not_a_server_error`, `status_code_conformance`,
//! `content_type_conformance`, `response_schema_conformance`.
//!
//! Operations that can lock the other cases out (deleting users, changing roles, logout, password
//! change, backups) are taken out of the shared run and fuzzed on a throwaway deployment of their
//! own per role, so one case cannot sign the rest out.
//!
//! Needs the schemathesis CLI: `scripts/fuzz` installs it into its own virtualenv, points
//! `SCHEMATHESIS` at it and runs this test (ignored in a plain `cargo test`). `FUZZ_SEED` and
//! `FUZZ_EXAMPLES` make a run reproducible and bounded (defaults 17 and 20).

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::TestAppBuilder;
use e2e::cloudinary::FakeCloudinary;
use e2e::razorpay::FakeRazorpay;
use serde_json::Value;

/// `(method, path)` of the operations fuzzed apart, on a deployment of their own.
const LOCKOUT_OPERATIONS: &[(&str, &str)] = &[
    ("delete", "/api/auth/users/{id}/"),
    ("patch", "/api/auth/users/{id}/role/"),
    ("post", "/api/auth/logout/"),
    ("post", "/api/auth/password/change/"),
    ("post", "/api/auth/password-reset/confirm/"),
    ("post", "/api/ops/backups/"),
];

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

/// A scratch directory removed at the end.
struct WorkDir(PathBuf);

impl WorkDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Deployment {
    app: e2e::TestApp,
    tokens: Vec<(&'static str, Option<String>)>,
}

async fn deployment(rzp: &FakeRazorpay, cld: &FakeCloudinary, backups: &Path) -> Deployment {
    let app = TestAppBuilder::new()
        .razorpay(rzp)
        .var("CLOUDINARY_URL", "cloudinary://key:secret@demo")
        .var("CLOUDINARY_API_BASE", cld.base.clone())
        .var("BACKUP_DIR", backups.display().to_string())
        .with_worker()
        .spawn()
        .await;
    api::cli::seed(&app.pool, &app.cfg).await.expect("demo data");
    let mut tokens = vec![("anonymous", None)];
    for role in ["admin", "staff", "user"] {
        let (_, token) = app.user_token(&format!("fuzz_{role}"), role).await;
        tokens.push((role, Some(token)));
    }
    Deployment { app, tokens }
}

/// The anonymous run stays anonymous (no account signed up behind its back), and half the path
/// parameters name rows that exist (the demo data's low ids, the real queue names, the kinds of
/// product and file), so the cases reach the handlers' logic and not only their 404s.
fn config_file() -> String {
    let queues: Vec<String> = common::jobs::Queue::ALL.iter().map(|q| format!("\"{}\"", q.as_str())).collect();
    let mut out = String::from("[auth]\nauto-signup = false\n\n");
    out += "[dictionaries.ids]\nvalues = [1, 2, 3, 4, 5]\n\n";
    out += "[dictionaries.types]\nvalues = [\"package\", \"campaign\"]\n\n";
    out += &format!("[dictionaries.queues]\nvalues = [{}]\n\n", queues.join(", "));
    out += "[dictionaries.files]\nvalues = [\"candidate_photo\", \"party_logo\"]\n\n[parameters]\n";
    for id in ["id", "item_id", "note_id", "image_id", "order_id", "record_id", "submission_id", "job_id"] {
        out += &format!("\"path.{id}\" = {{ dictionary = \"ids\", probability = 0.5 }}\n");
    }
    out += "\"path.type\" = { dictionary = \"types\", probability = 0.7 }\n";
    out += "\"path.queue\" = { dictionary = \"queues\", probability = 0.7 }\n";
    out += "\"path.resource_type\" = { dictionary = \"files\", probability = 0.7 }\n";
    out
}

/// The served document split in two: the shared run's operations and the lock-out ones.
fn split_document(doc: &Value, lockout: bool) -> Value {
    let mut out = doc.clone();
    let Some(paths) = out.get_mut("paths").and_then(Value::as_object_mut) else { panic!("document without paths") };
    for (path, ops) in paths.iter_mut() {
        let Some(ops) = ops.as_object_mut() else { continue };
        ops.retain(|method, _| {
            let is_op = matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete");
            if !is_op {
                return true;
            }
            LOCKOUT_OPERATIONS.iter().any(|(m, p)| m == method && p == path) == lockout
        });
    }
    paths.retain(|_, ops| {
        ops.as_object()
            .is_some_and(|o| o.keys().any(|k| matches!(k.as_str(), "get" | "post" | "put" | "patch" | "delete")))
    });
    out
}

async fn run_schemathesis(
    bin: &str,
    config: &Path,
    doc: &Path,
    base: &str,
    token: Option<&str>,
    label: &str,
) -> (bool, String) {
    let seed = std::env::var("FUZZ_SEED").unwrap_or_else(|_| "17".into());
    let examples = std::env::var("FUZZ_EXAMPLES").unwrap_or_else(|_| "20".into());
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(doc)
        .args(["--url", base])
        .args(["--checks", CHECKS])
        .args(["--seed", &seed])
        .args(["--max-examples", &examples])
        .args(["--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--no-color", "--request-timeout", "20"])
        .args(["--suppress-health-check", "all"])
        .args(["--generation-database", "none"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    // Its cache of earlier cases goes to the scratch directory: every run starts from the seed.
    cmd.current_dir(doc.parent().unwrap_or(Path::new("."))).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(900), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ({label}) ran longer than 15 minutes"))
        .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    let text = format!(
        "===== schemathesis, {label} =====\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the schemathesis CLI: run by scripts/fuzz"]
async fn schemathesis_finds_no_server_error_and_no_contract_violation() {
    let bin = std::env::var("SCHEMATHESIS").expect("SCHEMATHESIS: path of the schemathesis CLI (scripts/fuzz sets it)");
    let work_dir = std::env::temp_dir().join(format!("ec-fuzz-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work_dir).unwrap();
    let work = WorkDir(work_dir);
    let rzp = FakeRazorpay::start().await;
    let cld = FakeCloudinary::start("demo", "key", "secret").await;

    let shared = deployment(&rzp, &cld, &work.path().join("backups-shared")).await;
    let served: Value = shared.app.get("/api/schema/", None).await.json().await.unwrap();
    let safe_doc: PathBuf = work.path().join("shared.json");
    let lockout_doc: PathBuf = work.path().join("lockout.json");
    std::fs::write(&safe_doc, serde_json::to_vec(&split_document(&served, false)).unwrap()).unwrap();
    std::fs::write(&lockout_doc, serde_json::to_vec(&split_document(&served, true)).unwrap()).unwrap();

    let config = work.path().join("schemathesis.toml");
    std::fs::write(&config, config_file()).unwrap();

    let mut failures = Vec::new();
    for (role, token) in &shared.tokens {
        let (ok, text) = run_schemathesis(&bin, &config, &safe_doc, &shared.app.base, token.as_deref(), role).await;
        println!("{text}");
        if !ok {
            failures.push(format!("shared run as {role}"));
        }
    }
    for role_index in 0..shared.tokens.len() {
        let throwaway = deployment(&rzp, &cld, &work.path().join(format!("backups-{role_index}"))).await;
        let (role, token) = &throwaway.tokens[role_index];
        let label = format!("lock-out operations as {role}");
        let (ok, text) =
            run_schemathesis(&bin, &config, &lockout_doc, &throwaway.app.base, token.as_deref(), &label).await;
        println!("{text}");
        if !ok {
            failures.push(label);
        }
    }
    assert!(failures.is_empty(), "schemathesis found problems in: {failures:?} (the output above says which)");
}
