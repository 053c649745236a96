//! OWASP API5:2023 Broken Function Level Authorization. Every documented operation of the staff
//! areas (`/api/admin/`, `/api/staff/`, `/api/ops/`, `/ops/`, `/api/auth/users/`) is called
//! anonymously, as a customer, as a staff member and as an admin: each level below the route's
//! gets the exact API.md §1 body (401 + `WWW-Authenticate: Bearer`, or 403), each level at or
//! above it gets past the guard. The level of a route is "admin" unless the allow-list below
//! names it, so a new admin route is covered without editing this file.

use reqwest::Method;

use super::{Op, World, answer, call, document, no_permission, not_provided, operations};
use e2e::spawn_app;

/// Who may call a route of the staff areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// Anyone.
    Anon,
    /// Any signed-in user.
    User,
    /// Role staff or admin.
    Staff,
    /// Role admin (or the `is_staff` flag where API.md says `admin*`).
    Admin,
}

/// Whether the path is in a staff area.
pub fn privileged(path: &str) -> bool {
    ["/api/admin/", "/api/staff/", "/api/ops/", "/ops/", "/api/auth/users/"].iter().any(|p| path.starts_with(p))
}

/// The level a route of the staff areas needs: admin unless listed here, with the reason.
pub fn need(op: &Op) -> Need {
    let (m, p) = (op.method.as_str(), op.path.as_str());
    match (m, p) {
        // §4.9: the image detail is readable by anyone (the product pages show it).
        ("GET", "/api/admin/products/images/{id}/") => Need::Anon,
        // §4.8: every user reads and marks their own notifications.
        (_, p) if p.starts_with("/api/admin/notifications/") => Need::User,
        // §4.6 staff routes (invoices and credit notes: their assigned orders), §5 #3 search,
        // §5 #13 the staff list, §4.7 the staff area.
        ("GET", "/api/admin/customers/search/")
        | ("GET", "/api/admin/products/for-order/")
        | ("GET", "/api/admin/staff/")
        | ("POST", "/api/admin/orders/manual/")
        | ("GET", "/api/admin/orders/{id}/invoice/")
        | ("GET", "/api/admin/orders/{id}/credit-notes/{note_id}/")
        | ("GET", "/api/admin/search/") => Need::Staff,
        (_, p) if p.starts_with("/api/staff/") => Need::Staff,
        _ => Need::Admin,
    }
}

/// Whether an answer is the §1 "not provided" 401.
fn is_not_provided(status: u16, body: &serde_json::Value) -> bool {
    status == 401 && *body == not_provided()
}

/// Whether an answer is the §1 wrong-role 403.
fn is_forbidden(status: u16, body: &serde_json::Value) -> bool {
    status == 403 && *body == no_permission()
}

fn staff_area(ops: Vec<Op>) -> Vec<Op> {
    let ops: Vec<Op> = ops.into_iter().filter(|o| privileged(&o.path)).collect();
    assert!(ops.len() > 60, "staff-area routes found: {}", ops.len());
    ops
}

#[tokio::test]
async fn owasp_api5_every_staff_route_refuses_anonymous_callers_with_the_drf_401() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let mut checked = 0;
    for op in staff_area(operations(&document(&app).await)) {
        let path = world.fill(&op.path);
        let res = call(&app, &op.method, &path, None).await;
        let www = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
        let (status, body) = answer(res).await;
        if need(&op) == Need::Anon {
            assert!(!is_not_provided(status, &body), "{}: anonymous must be allowed", op.key());
            continue;
        }
        assert!(is_not_provided(status, &body), "{} anonymous: {status} {body}", op.key());
        assert_eq!(www.as_deref(), Some("Bearer"), "{}", op.key());
        checked += 1;
    }
    assert!(checked > 60);
}

#[tokio::test]
async fn owasp_api5_every_staff_route_refuses_customers_and_admin_routes_refuse_staff() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let (mut refused_customer, mut refused_staff) = (0, 0);
    for op in staff_area(operations(&document(&app).await)) {
        let path = world.fill(&op.path);
        let level = need(&op);

        let (status, body) = answer(call(&app, &op.method, &path, Some(&world.bob.token)).await).await;
        if level >= Need::Staff {
            assert!(is_forbidden(status, &body), "{} as a customer: {status} {body}", op.key());
            refused_customer += 1;
        } else {
            assert!(!is_forbidden(status, &body) && status != 401, "{} as a customer: {status} {body}", op.key());
        }

        let (status, body) = answer(call(&app, &op.method, &path, Some(&world.other_staff.token)).await).await;
        if level == Need::Admin {
            assert!(is_forbidden(status, &body), "{} as staff: {status} {body}", op.key());
            refused_staff += 1;
        } else {
            assert!(!is_forbidden(status, &body) && status != 401, "{} as staff: {status} {body}", op.key());
        }
    }
    assert!(refused_customer > 60 && refused_staff > 50, "{refused_customer} {refused_staff}");
}

#[tokio::test]
async fn owasp_api5_admins_pass_every_guard() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let mut ops = staff_area(operations(&document(&app).await));
    // Deletions last, so the objects the other calls name still exist.
    ops.sort_by_key(|o| o.method == Method::DELETE);
    for op in ops {
        let path = world.fill(&op.path);
        let (status, body) = answer(call(&app, &op.method, &path, Some(&world.admin.token)).await).await;
        assert!(status != 401 && !is_forbidden(status, &body), "{} as admin: {status} {body}", op.key());
    }
}
