//! OWASP API9:2023 Improper Inventory Management. The router and the OpenAPI document agree
//! both ways: every documented operation is served (no router 404 or 405 for it), no method that
//! the document does not list is served on a documented path (405 with the §1 body), and the
//! paths scanners try first (old API versions, Django's admin, debug pages, dotfiles, the private
//! media directories) are 404. The only undocumented paths served are the allow-listed ones.

use reqwest::Method;
use serde_json::json;

use super::{World, answer, call, document, operations};
use e2e::spawn_app;

/// The router's own 404 (`not_found` in `api/src/routes/mod.rs`).
fn router_404() -> serde_json::Value {
    json!({"detail": "Not found."})
}

#[tokio::test]
async fn owasp_api9_every_documented_operation_is_served() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let ops = operations(&document(&app).await);
    for op in &ops {
        let path = world.fill(&op.path);
        let (status, body) = answer(call(&app, &op.method, &path, None).await).await;
        assert!(!(status == 404 && body == router_404()), "{} ({path}) is documented but not routed", op.key());
        assert_ne!(status, 405, "{} ({path}) is documented but its method is not routed: {body}", op.key());
        assert_ne!(status, 301, "{} ({path}) redirects", op.key());
    }
}

#[tokio::test]
async fn owasp_api9_no_undocumented_method_is_served_on_a_documented_path() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let ops = operations(&document(&app).await);
    let mut paths: Vec<&str> = ops.iter().map(|o| o.path.as_str()).collect();
    paths.dedup();
    let mut probed = 0;
    for path in paths {
        let concrete = world.fill(path);
        for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            if ops.iter().any(|o| o.path == path && o.method == method) {
                continue;
            }
            // Another documented template may serve the same concrete path (static segments win
            // over parameters, e.g. `images/{id}/` under `{type}/{id}/`): that one is documented.
            if ops.iter().any(|o| o.method == method && o.path != path && world.fill(&o.path) == concrete) {
                continue;
            }
            let (status, body) = answer(call(&app, &method, &concrete, None).await).await;
            assert_eq!(
                (status, body),
                (405, json!({"detail": format!("Method \"{method}\" not allowed.")})),
                "{method} {path} ({concrete}) is served but not documented"
            );
            probed += 1;
        }
    }
    assert!(probed > 200, "{probed}");
}

#[tokio::test]
async fn owasp_api9_paths_outside_the_document_are_not_served() {
    let app = spawn_app().await;
    for path in [
        "/admin/",
        "/admin/login/",
        "/api/v1/orders/",
        "/api/v2/",
        "/api/users/",
        "/api/admin/users/",
        "/api/orders/",
        "/api/auth/",
        "/api/debug/",
        "/debug/",
        "/.env",
        "/.git/config",
        "/api/schema.json",
        "/openapi.json",
        "/swagger-ui/",
        "/actuator/health",
        "/server-status",
        "/static/",
        "/media/",
        "/media/private/resources/x.png",
        "/media/private/payment_proofs/x.png",
        "/media/payment_proofs/x.png",
        "/media/../Cargo.toml",
        "/api/ops/",
        "/api/ops/jobs/",
        "/metrics/",
    ] {
        let (status, body) = answer(call(&app, &Method::GET, path, None).await).await;
        assert_eq!((status, &body), (404, &router_404()), "{path} must not be served");
    }
    // Allow-list of undocumented paths: the documentation page's own assets, served from the
    // binary under `/api/docs/` (the page itself is documented), and public product images
    // under `/media/products/` and `/media/staging/` (static files, random names).
    let res = app.get("/api/docs/swagger-ui.css", None).await;
    assert_eq!(res.status(), 200);
}
