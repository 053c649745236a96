//! `/api/cart/` (API.md §4.4): the signed-in user's cart.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::cart::{self, AddError, Cart, MAX_QUANTITY};
use common::catalog::ProductType;
use common::money::Money;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog::product_json;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id, Signed};
use crate::state::AppState;

/// The cart routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart))
        .routes(routes!(add_item))
        .routes(routes!(remove_item))
        .routes(routes!(clear))
}

/// §3 Cart: lines with the product's current details and price; `subtotal`/`total` are numbers.
fn cart_json(base: &str, cart: &Cart) -> Value {
    let mut total = Money(0);
    let mut count: i64 = 0;
    let items: Vec<Value> = cart
        .lines
        .iter()
        .map(|line| {
            let price = Money::parse(&line.product.price, 12).unwrap_or_default();
            let subtotal = Money(price.paise().saturating_mul(i64::from(line.quantity)));
            total = Money(total.paise().saturating_add(subtotal.paise()));
            count += i64::from(line.quantity);
            json!({
                "id": line.id,
                "item_type": line.kind.as_str(),
                "item_details": product_json(base, line.kind, &line.product),
                "quantity": line.quantity,
                "subtotal": subtotal.as_f64_for_json(),
                "added_at": common::time::ist(line.added_at),
            })
        })
        .collect();
    json!({
        "id": cart.cart.id,
        "items": items,
        "total": total.as_f64_for_json(),
        "item_count": count,
        "created_at": common::time::ist(cart.cart.created_at),
        "updated_at": common::time::ist(cart.cart.updated_at),
    })
}

async fn render(state: &AppState, row: cart::CartRow) -> ApiResult<Json<Value>> {
    let cart = cart::load(&state.pool, row).await?;
    Ok(Json(cart_json(&state.cfg.public_base_url, &cart)))
}

fn cart_not_found() -> ApiError {
    ApiError::error(StatusCode::NOT_FOUND, "Cart not found")
}

/// The cart (made on first use).
#[utoipa::path(get, path = "/api/cart/", tag = "cart", security(("bearer" = [])),
    responses((status = 200, description = "Cart"), (status = 401)))]
async fn get_cart(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let row = cart::get_or_create(&mut conn, auth.user.id).await?;
    drop(conn);
    render(&state, row).await
}

/// Add an active package or campaign; an existing line's quantity grows.
#[utoipa::path(post, path = "/api/cart/add/", tag = "cart", security(("bearer" = [])),
    responses(
        (status = 200, description = "Cart"),
        (status = 400, description = "`{field: [str]}`"),
        (status = 404, description = "`{\"error\":\"Package not found\"}` / `\"Campaign not found\"`"),
        (status = 401),
    ))]
async fn add_item(State(state): State<AppState>, Signed(auth): Signed, body: Body) -> ApiResult<Json<Value>> {
    let mut errors = Map::new();
    let mut err = |k: &str, m: String| {
        errors.insert(k.into(), json!([m]));
    };
    let kind = match body.text("item_type") {
        Ok(None) => {
            err("item_type", "This field is required.".into());
            None
        }
        Ok(Some(t)) => ProductType::parse(t.trim()).or_else(|| {
            err("item_type", format!("\"{t}\" is not a valid choice."));
            None
        }),
        Err(_) => {
            err("item_type", "Not a valid string.".into());
            None
        }
    };
    let int = |v: &Value| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
    let item_id = match body.0.get("item_id") {
        None | Some(Value::Null) => {
            err("item_id", "This field is required.".into());
            None
        }
        Some(v) => int(v).or_else(|| {
            err("item_id", "A valid integer is required.".into());
            None
        }),
    };
    let quantity = match body.0.get("quantity") {
        None | Some(Value::Null) => Some(1),
        Some(v) => match int(v) {
            Some(q) if q < 1 => {
                err("quantity", "Ensure this value is greater than or equal to 1.".into());
                None
            }
            Some(q) if q > i64::from(MAX_QUANTITY) => {
                err("quantity", format!("Ensure this value is less than or equal to {MAX_QUANTITY}."));
                None
            }
            Some(q) => i32::try_from(q).ok(),
            None => {
                err("quantity", "A valid integer is required.".into());
                None
            }
        },
    };
    let (Some(kind), Some(item_id), Some(quantity), true) = (kind, item_id, quantity, errors.is_empty()) else {
        return Err(ApiError::Fields(StatusCode::BAD_REQUEST, Value::Object(errors)));
    };
    let row = cart::add(&state.pool, auth.user.id, kind, item_id, quantity).await.map_err(|e| match e {
        AddError::ProductNotFound => ApiError::error(StatusCode::NOT_FOUND, format!("{} not found", kind.model_name())),
        AddError::Database(e) => e.into(),
    })?;
    render(&state, row).await
}

/// Remove a line.
#[utoipa::path(delete, path = "/api/cart/remove/{item_id}/", tag = "cart", security(("bearer" = [])),
    params(("item_id" = i64, Path, description = "Cart line id")),
    responses(
        (status = 200, description = "Cart"),
        (status = 404, description = "`{\"error\":\"Cart not found\"}` / `{\"error\":\"Cart item not found\"}`"),
    ))]
async fn remove_item(State(state): State<AppState>, Signed(auth): Signed, Id(line): Id) -> ApiResult<Json<Value>> {
    let row = cart::find(&state.pool, auth.user.id).await?.ok_or_else(cart_not_found)?;
    if !cart::remove(&state.pool, row.id, line).await? {
        return Err(ApiError::error(StatusCode::NOT_FOUND, "Cart item not found"));
    }
    let row = cart::find(&state.pool, auth.user.id).await?.ok_or_else(cart_not_found)?;
    render(&state, row).await
}

/// Empty the cart.
#[utoipa::path(delete, path = "/api/cart/clear/", tag = "cart", security(("bearer" = [])),
    responses((status = 200, description = "Cart"), (status = 404, description = "`{\"error\":\"Cart not found\"}`")))]
async fn clear(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<Value>> {
    let row = cart::find(&state.pool, auth.user.id).await?.ok_or_else(cart_not_found)?;
    cart::clear(&state.pool, row.id).await?;
    let row = cart::find(&state.pool, auth.user.id).await?.ok_or_else(cart_not_found)?;
    render(&state, row).await
}
