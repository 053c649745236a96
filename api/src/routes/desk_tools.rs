//! The desk's other tools (API.md §4.6, §5 #3, #8, #13, #16): manual orders, customer search,
//! products for a manual order, the staff list and the admin app's top-bar search.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use common::catalog::ProductType;
use common::money::Money;
use common::orders::admin::{self, ManualCustomer, ManualError, ManualItem, ManualOrder};
use common::orders::billing::BillingInput;
use common::orders::{OrderStatus, PaymentStatus};
use common::role::Role;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::{PAGE_SIZE, envelope, page_number, page_of};
use super::desk::load_detail;
use super::dto::user_basic;
use super::fields::int_value;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Staff};
use crate::state::AppState;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(manual_order))
        .routes(routes!(customer_search))
        .routes(routes!(products_for_order))
        .routes(routes!(staff_list))
        .routes(routes!(search))
}

const SOURCES: [&str; 6] = ["phone_call", "whatsapp", "walk_in", "email", "referral", "other"];
const METHODS: [&str; 6] = ["cash", "upi", "bank_transfer", "card", "cheque", "other"];
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

fn err(errors: &mut Map<String, Value>, key: &str, msg: impl Into<String>) {
    errors.insert(key.to_string(), json!([msg.into()]));
}

/// A text member of an object: empty strings count as absent (§5 #16).
fn text_of(
    obj: &Map<String, Value>,
    key: &str,
    max: usize,
    required: bool,
    errors: &mut Map<String, Value>,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => {
            if required {
                err(errors, key, "This field is required.");
            }
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            if required {
                err(errors, key, "This field may not be blank.");
            }
            None
        }
        Some(Value::String(s)) if s.trim().chars().count() > max => {
            err(errors, key, format!("Ensure this field has no more than {max} characters."));
            None
        }
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            err(errors, key, "Not a valid string.");
            None
        }
    }
}

fn choice(body: &Body, key: &str, allowed: &[&str], errors: &mut Map<String, Value>) -> Option<String> {
    match body.text_non_empty(key) {
        Ok(None) => None,
        Ok(Some(v)) if allowed.contains(&v.trim()) => Some(v.trim().to_string()),
        Ok(Some(v)) => {
            err(errors, key, format!("\"{v}\" is not a valid choice."));
            None
        }
        Err(_) => {
            err(errors, key, "Not a valid string.");
            None
        }
    }
}

fn parse_manual(body: &Body) -> Result<ManualOrder, Value> {
    let mut errors = Map::new();
    let customer = match body.0.get("customer") {
        Some(Value::Object(c)) => {
            let mut ce = Map::new();
            let name = text_of(c, "name", 100, true, &mut ce);
            let phone = text_of(c, "phone", 15, true, &mut ce);
            let email = text_of(c, "email", 254, false, &mut ce);
            if let Some(e) = &email
                && super::dto::valid_email(e).is_none()
            {
                err(&mut ce, "email", "Enter a valid email address.");
            }
            text_of(c, "address", 500, false, &mut ce);
            text_of(c, "city", 100, false, &mut ce);
            text_of(c, "state", 100, false, &mut ce);
            text_of(c, "pincode", 10, false, &mut ce);
            if ce.is_empty() {
                name.zip(phone).map(|(name, phone)| ManualCustomer { name, phone, email })
            } else {
                errors.insert("customer".into(), Value::Object(ce));
                None
            }
        }
        None | Some(Value::Null) => {
            err(&mut errors, "customer", "This field is required.");
            None
        }
        Some(_) => {
            errors.insert("customer".into(), json!({"non_field_errors": ["Invalid data. Expected a dictionary."]}));
            None
        }
    };
    let mut items = Vec::new();
    match body.0.get("items") {
        Some(Value::Array(list)) if list.is_empty() => err(&mut errors, "items", "This list may not be empty."),
        Some(Value::Array(list)) => {
            let mut item_errors = Vec::new();
            for entry in list {
                let mut ie = Map::new();
                let Value::Object(o) = entry else {
                    item_errors.push(json!({"non_field_errors": ["Invalid data. Expected a dictionary."]}));
                    continue;
                };
                let kind = match o.get("product_type").and_then(Value::as_str) {
                    Some(t) => ProductType::parse(t.trim()).or_else(|| {
                        err(&mut ie, "product_type", format!("\"{t}\" is not a valid choice."));
                        None
                    }),
                    None => {
                        err(&mut ie, "product_type", "This field is required.");
                        None
                    }
                };
                let id = match o.get("product_id") {
                    None | Some(Value::Null) => {
                        err(&mut ie, "product_id", "This field is required.");
                        None
                    }
                    Some(v) => int_value(v).or_else(|| {
                        err(&mut ie, "product_id", "A valid integer is required.");
                        None
                    }),
                };
                let quantity = match o.get("quantity") {
                    None | Some(Value::Null) => Some(1),
                    Some(v) => match int_value(v) {
                        Some(q) if (1..=i64::from(common::cart::MAX_QUANTITY)).contains(&q) => i32::try_from(q).ok(),
                        Some(q) if q < 1 => {
                            err(&mut ie, "quantity", "Ensure this value is greater than or equal to 1.");
                            None
                        }
                        Some(_) => {
                            err(&mut ie, "quantity", "Ensure this value is less than or equal to 100000.");
                            None
                        }
                        None => {
                            err(&mut ie, "quantity", "A valid integer is required.");
                            None
                        }
                    },
                };
                if let (Some(kind), Some(product_id), Some(quantity)) = (kind, id, quantity) {
                    items.push(ManualItem { kind, product_id, quantity });
                }
                item_errors.push(Value::Object(ie));
            }
            if item_errors.iter().any(|e| e.as_object().is_some_and(|m| !m.is_empty())) {
                errors.insert("items".into(), Value::Array(item_errors));
            }
        }
        None | Some(Value::Null) => err(&mut errors, "items", "This field is required."),
        Some(_) => err(&mut errors, "items", "Expected a list of items but got type \"dict\"."),
    }
    let order_source = match body.text_non_empty("order_source") {
        Ok(Some(v)) if SOURCES.contains(&v.trim()) => Some(v.trim().to_string()),
        Ok(Some(v)) => {
            err(&mut errors, "order_source", format!("\"{v}\" is not a valid choice."));
            None
        }
        Ok(None) => {
            err(&mut errors, "order_source", "This field is required.");
            None
        }
        Err(_) => {
            err(&mut errors, "order_source", "Not a valid string.");
            None
        }
    };
    // §5 #8, #16: `unpaid`/`pending` (stored unpaid) and `refunded` are accepted as sent.
    let payment_status = match body.text_non_empty("payment_status") {
        Ok(None) => PaymentStatus::Unpaid,
        Ok(Some(v)) => match v.trim() {
            "pending" | "unpaid" | "partial" | "paid" | "cod" | "refunded" => {
                PaymentStatus::parse(v.trim()).unwrap_or(PaymentStatus::Unpaid)
            }
            _ => {
                err(&mut errors, "payment_status", format!("\"{v}\" is not a valid choice."));
                PaymentStatus::Unpaid
            }
        },
        Err(_) => {
            err(&mut errors, "payment_status", "Not a valid string.");
            PaymentStatus::Unpaid
        }
    };
    let payment_method = choice(body, "payment_method", &METHODS, &mut errors);
    let priority = choice(body, "priority", &PRIORITIES, &mut errors).unwrap_or_else(|| "normal".into());
    let payment_reference = text_of(&body.0, "payment_reference", 100, false, &mut errors).unwrap_or_default();
    let notes = match body.text("notes") {
        Ok(n) => n.unwrap_or_default(),
        Err(_) => {
            err(&mut errors, "notes", "Not a valid string.");
            String::new()
        }
    };
    let payment_amount = match body.0.get("payment_amount") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => match Money::from_json(v, 10) {
            Ok(m) if m.0 > 0 => Some(m.0),
            Ok(_) => {
                err(&mut errors, "payment_amount", "Ensure this value is greater than or equal to 0.01.");
                None
            }
            Err(e) => {
                err(&mut errors, "payment_amount", e.to_string());
                None
            }
        },
    };
    let assigned_to = match body.0.get("assigned_to") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => int_value(v).or_else(|| {
            err(&mut errors, "assigned_to", "A valid integer is required.");
            None
        }),
    };
    let billing = match body.0.get("billing") {
        None | Some(Value::Null) => BillingInput::default(),
        Some(Value::Object(b)) => {
            let mut be = Map::new();
            let input = BillingInput {
                name: text_of(b, "billing_name", 200, false, &mut be),
                gstin: text_of(b, "billing_gstin", 15, false, &mut be),
                state_code: text_of(b, "billing_state_code", 2, false, &mut be),
                address: text_of(b, "billing_address", 500, false, &mut be),
            };
            if !be.is_empty() {
                errors.insert("billing".into(), Value::Object(be));
            }
            input
        }
        Some(_) => {
            errors.insert("billing".into(), json!({"non_field_errors": ["Invalid data. Expected a dictionary."]}));
            BillingInput::default()
        }
    };
    match (customer, order_source, errors.is_empty()) {
        (Some(customer), Some(order_source), true) => Ok(ManualOrder {
            customer,
            items,
            order_source,
            payment_status,
            payment_method,
            payment_reference,
            payment_amount,
            assigned_to,
            priority,
            notes,
            billing,
        }),
        _ => Err(Value::Object(errors)),
    }
}

/// Take an order by phone, WhatsApp or walk-in (§7.2).
#[utoipa::path(post, path = "/api/admin/orders/manual/", tag = "order desk", security(("bearer" = [])),
    responses(
        (status = 201, description = "`{success, message:\"Manual order created successfully\", order}`"),
        (status = 400, description = "`{success:false, errors}`"),
        (status = 404, description = "`{success:false, message:\"Product not found or inactive\"}`"),
    ))]
async fn manual_order(
    State(state): State<AppState>,
    Staff(auth): Staff,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let order = parse_manual(&body).map_err(|e| ApiError::Errors(StatusCode::BAD_REQUEST, e))?;
    let id = admin::create_manual(
        &state.pool,
        &order,
        &state.tax,
        auth.user.id,
        &state.cfg.invoice_prefix,
        state.clock.now(),
    )
    .await
    .map_err(|e| match e {
        ManualError::ProductNotFound => ApiError::message(StatusCode::NOT_FOUND, "Product not found or inactive"),
        ManualError::Fields(v) => ApiError::Errors(StatusCode::BAD_REQUEST, v),
        ManualError::StaffPhone => ApiError::Errors(
            StatusCode::BAD_REQUEST,
            json!({"customer": {"phone": ["This phone number belongs to a staff account"]}}),
        ),
        ManualError::BadRate(e) => ApiError::internal(e),
        ManualError::Database(e) => e.into(),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "success": true,
            "message": "Manual order created successfully",
            "order": load_detail(&state, id, None).await?,
        })),
    ))
}

/// `?q`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct SearchQuery {
    /// Text to look for.
    q: Option<String>,
}

/// Customers (role `customer`) by phone or name, at most 10.
#[utoipa::path(get, path = "/api/admin/customers/search/", tag = "order desk", security(("bearer" = [])),
    params(SearchQuery), responses((status = 200, description = "`{customers:[UserBasic]}`")))]
async fn customer_search(
    State(state): State<AppState>,
    _staff: Staff,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Value>> {
    let q = q.q.unwrap_or_default();
    if q.trim().is_empty() {
        return Ok(Json(json!({"customers": []})));
    }
    let found = common::accounts::users::search_customers(&state.pool, q.trim(), 10).await?;
    Ok(Json(json!({"customers": found.iter().map(user_basic).collect::<Vec<_>>()})))
}

/// Active products for the manual-order form, prices as numbers.
#[utoipa::path(get, path = "/api/admin/products/for-order/", tag = "order desk", security(("bearer" = [])),
    responses((status = 200, description = "`{campaigns:[P], packages:[P]}`")))]
async fn products_for_order(State(state): State<AppState>, _staff: Staff) -> ApiResult<Json<Value>> {
    let mut out = Map::new();
    for (key, kind) in [("campaigns", ProductType::Campaign), ("packages", ProductType::Package)] {
        let rows: Vec<(i64, String, String, i64, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, description, (price * 100)::bigint, is_active FROM {} WHERE is_active ORDER BY name, id",
            kind.table()
        )))
        .fetch_all(&state.pool)
        .await?;
        let list: Vec<Value> = rows
            .into_iter()
            .map(|(id, name, description, price, is_active)| {
                json!({"id": id, "name": name, "description": description, "price": Money(price).as_f64_for_json(),
                       "type": kind.as_str(), "is_active": is_active})
            })
            .collect();
        out.insert(key.into(), Value::Array(list));
    }
    Ok(Json(Value::Object(out)))
}

/// `?page`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct PageOnly {
    /// Page (the envelope); absent: a bare array.
    page: Option<String>,
}

/// Staff and admins by username, with their open assignments (§5 #13: staff may read it).
#[utoipa::path(get, path = "/api/admin/staff/", tag = "order desk", security(("bearer" = [])), params(PageOnly),
    responses((status = 200, description = "[Staff] or the DRF envelope")))]
async fn staff_list(State(state): State<AppState>, _staff: Staff, Query(q): Query<PageOnly>) -> ApiResult<Json<Value>> {
    let rows = common::accounts::users::staff_with_load(&state.pool).await?;
    let render = |r: &common::accounts::users::StaffWithLoad| {
        let mut v = user_basic(&r.user);
        if let Value::Object(m) = &mut v {
            m.remove("role");
            m.insert("assigned_orders_count".into(), json!(r.assigned_orders_count));
            m.insert("created_at".into(), json!(common::time::ist(r.user.created_at)));
        }
        v
    };
    let Some(raw) = q.page else {
        return Ok(Json(Value::Array(rows.iter().map(render).collect())));
    };
    let count = rows.len() as i64;
    let n = page_of(page_number(Some(&raw))?, count)?;
    let page: Vec<Value> =
        rows.iter().skip(((n - 1) * PAGE_SIZE) as usize).take(PAGE_SIZE as usize).map(render).collect();
    Ok(Json(envelope(&state.cfg.public_base_url, "/api/admin/staff/", n, count, page)))
}

/// id, order number, status, username, phone, first name, last name.
type OrderHit = (i64, String, String, String, Option<String>, String, String);

fn hit(kind: &str, id: i64, title: String, subtitle: String, url: String) -> Value {
    json!({"type": kind, "id": id, "title": title, "subtitle": subtitle, "url": url})
}

/// The top-bar search (§5 #3): orders, users, products and staff, at most 5 each; staff see
/// only their orders and the products.
#[utoipa::path(get, path = "/api/admin/search/", tag = "order desk", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, description = "`{orders, users, products, staff}`")))]
async fn search(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Value>> {
    let q = q.q.unwrap_or_default();
    let q = q.trim();
    let mut out = json!({"orders": [], "users": [], "products": [], "staff": []});
    if q.chars().count() < 2 {
        return Ok(Json(out));
    }
    let pattern = common::db::like_pattern(q);
    let is_admin = auth.user.role() == Role::Admin;
    let only = (!is_admin).then_some(auth.user.id);
    let orders: Vec<OrderHit> = sqlx::query_as(
        "SELECT o.id, o.order_number, o.status, u.username, u.phone_number, u.first_name, u.last_name
         FROM orders o JOIN users u ON u.id = o.user_id
         WHERE (o.order_number ILIKE $1 OR u.phone_number ILIKE $1 OR u.username ILIKE $1)
           AND ($2::bigint IS NULL OR o.assigned_to_id = $2)
         ORDER BY o.created_at DESC, o.id DESC LIMIT 5",
    )
    .bind(&pattern)
    .bind(only)
    .fetch_all(&state.pool)
    .await?;
    out["orders"] = orders
        .into_iter()
        .map(|(id, number, status, username, phone, first, last)| {
            let name = format!("{} {}", first.trim(), last.trim()).trim().to_string();
            let who = if name.is_empty() { username } else { name };
            let label = OrderStatus::parse(&status).map(|s| s.label()).unwrap_or("");
            let subtitle = match phone {
                Some(p) => format!("{who} · {p} · {label}"),
                None => format!("{who} · {label}"),
            };
            hit("order", id, number, subtitle, format!("/orders/{id}"))
        })
        .collect();
    let mut products_found = Vec::new();
    for kind in [ProductType::Package, ProductType::Campaign] {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, (price * 100)::bigint FROM {} WHERE name ILIKE $1 ORDER BY name, id LIMIT 5",
            kind.table()
        )))
        .bind(&pattern)
        .fetch_all(&state.pool)
        .await?;
        for (id, name, price) in rows {
            let label = if kind == ProductType::Package { "Package" } else { "Campaign" };
            products_found.push(hit(
                "product",
                id,
                name,
                format!("{label} · ₹{}", Money(price)),
                format!("/products/{}/{id}", kind.as_str()),
            ));
        }
    }
    products_found.truncate(5);
    out["products"] = Value::Array(products_found);
    if is_admin {
        for (key, kind, roles, url) in [
            ("users", "user", &["user", "customer"][..], "/users"),
            ("staff", "staff", &["staff", "admin"][..], "/staff"),
        ] {
            let rows: Vec<(i64, String, Option<String>, String, String, String)> = sqlx::query_as(
                "SELECT id, username, phone_number, first_name, last_name, role FROM users
                 WHERE role = ANY($2) AND (username ILIKE $1 OR phone_number ILIKE $1 OR first_name ILIKE $1
                                           OR last_name ILIKE $1 OR email ILIKE $1)
                 ORDER BY username LIMIT 5",
            )
            .bind(&pattern)
            .bind(roles.iter().map(|r| r.to_string()).collect::<Vec<_>>())
            .fetch_all(&state.pool)
            .await?;
            out[key] = rows
                .into_iter()
                .map(|(id, username, phone, first, last, role)| {
                    let name = format!("{} {}", first.trim(), last.trim()).trim().to_string();
                    let title = if name.is_empty() { username.clone() } else { name };
                    let subtitle = phone.unwrap_or(role);
                    hit(kind, id, title, subtitle, url.to_string())
                })
                .collect();
        }
    }
    Ok(Json(out))
}
