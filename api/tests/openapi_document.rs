//! The OpenAPI document is the contract's typed form. It is snapshot-tested (`api/openapi.json`:
//! a change to the contract shows in review; `UPDATE_OPENAPI=1 cargo test -p api --test
//! openapi_document` rewrites it), and every operation must declare the body of each 2xx answer
//! and of its request. Operations not converted yet are listed in `api/tests/openapi_todo.txt`;
//! the list may only shrink: a listed operation that now declares its bodies fails the test
//! until its line is removed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

fn document() -> Value {
    let (_, _, doc) = api::routes::documented();
    serde_json::to_value(&doc).unwrap()
}

fn manifest(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file)
}

/// Write operations that take no body (toggles, marks, deletes, webhooks read raw).
const BODYLESS: &[&str] = &[
    "PATCH /api/admin/notifications/mark-all-read/",
    "PATCH /api/admin/notifications/{id}/mark-read/",
    "POST /api/admin/notifications/mark-all-read/",
    "POST /api/admin/notifications/{id}/mark-read/",
    "PATCH /api/admin/products/campaigns/{id}/toggle-popular/",
    "PATCH /api/admin/products/packages/{id}/toggle-popular/",
    "PATCH /api/admin/products/images/{id}/set-primary/",
    "PATCH /api/admin/products/{type}/{id}/toggle-status/",
    "POST /api/orders/create/",
    "POST /api/orders/razorpay/webhook/",
    "POST /api/ops/backups/",
];

/// `METHOD path status` of 2xx answers without a body schema, and `METHOD path request` of
/// write operations without a request body.
fn undeclared(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            if let Some(responses) = op["responses"].as_object() {
                for (status, res) in responses {
                    let bodyless = status == "204" || status.starts_with('3');
                    let declared = res
                        .get("content")
                        .and_then(Value::as_object)
                        .is_some_and(|m| m.values().all(|media| media.get("schema").is_some()));
                    if status.starts_with('2') && !bodyless && !declared {
                        out.insert(format!("{method} {path} {status}"));
                    }
                }
            }
            let op_id = format!("{method} {path}");
            let writes = ["POST", "PUT", "PATCH"].contains(&method.as_str());
            if writes && !BODYLESS.contains(&op_id.as_str()) && op.get("requestBody").is_none() {
                out.insert(format!("{op_id} request"));
            }
        }
    }
    out
}

#[test]
fn the_document_matches_its_snapshot() {
    let doc = serde_json::to_string_pretty(&document()).unwrap() + "\n";
    let path = manifest("openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &doc).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == doc,
        "the OpenAPI document changed: review the change, then run \
         `UPDATE_OPENAPI=1 cargo test -p api --test openapi_document` and commit api/openapi.json"
    );
}

#[test]
fn every_operation_declares_its_bodies_except_those_still_listed() {
    let missing = undeclared(&document());
    let todo: BTreeSet<String> = std::fs::read_to_string(manifest("tests/openapi_todo.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let new: Vec<&String> = missing.difference(&todo).collect();
    assert!(new.is_empty(), "operations without a declared body (type them): {new:#?}");
    let done: Vec<&String> = todo.difference(&missing).collect();
    assert!(done.is_empty(), "declared now: remove these lines from api/tests/openapi_todo.txt: {done:#?}");
}

/// A parameter documented `in: path` is one of the path's `{name}`s, and every `{name}` of a
/// path is documented (a query parameter declared as a path one made generated clients and
/// schemathesis send it in the wrong place).
#[test]
fn path_parameters_are_the_paths_own() {
    let doc = document();
    let mut wrong = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: BTreeSet<String> =
                params.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap().to_string()).collect();
            let template: BTreeSet<String> =
                path.split('{').skip(1).filter_map(|s| s.split('}').next()).map(str::to_string).collect();
            if in_path != template {
                wrong.push(format!("{method} {path}: documented {in_path:?}, template {template:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
