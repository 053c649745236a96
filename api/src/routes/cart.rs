//! `/api/cart/` (API.md §4.4): the signed-in user's cart.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::cart::{self, AddError, MAX_QUANTITY};
use common::catalog::ProductType;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Signed};
use crate::input::{self, Field, FieldErrors, Payload};
use crate::state::AppState;
use crate::views::catalog::Cart;

/// The cart routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart))
        .routes(routes!(add_item))
        .routes(routes!(remove_item))
        .routes(routes!(clear))
}

/// Body of `add/`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CartAddRequest {
    /// `package` or `campaign`.
    #[schema(value_type = String, required = true, example = "package")]
    #[serde(default)]
    pub item_type: Field,
    /// The product (active).
    #[schema(value_type = i64, required = true)]
    #[serde(default)]
    pub item_id: Field,
    /// 1 to 100,000 (default 1); added to an existing line's.
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 100_000)]
    #[serde(default)]
    pub quantity: Field,
}

/// A validated `add/` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartAdd {
    /// The product's type.
    pub kind: ProductType,
    /// The product.
    pub item_id: i64,
    /// How many to add.
    pub quantity: i32,
}

impl TryFrom<CartAddRequest> for CartAdd {
    type Error = FieldErrors;

    fn try_from(b: CartAddRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let kind = errors.take("item_type", input::choice(&b.item_type, ProductType::parse)).flatten();
        if !b.item_type.is_present() {
            errors.add("item_type", "This field is required.");
        }
        let item_id = errors.take("item_id", input::id(&b.item_id)).flatten();
        if !b.item_id.is_present() {
            errors.add("item_id", "This field is required.");
        }
        let quantity = errors.take("quantity", input::quantity_or_one(&b.quantity, MAX_QUANTITY));
        errors.finish(|| Some(CartAdd { kind: kind?, item_id: item_id?, quantity: quantity? }))
    }
}

async fn render(state: &AppState, row: cart::CartRow) -> ApiResult<Json<Cart>> {
    let cart = cart::load(&state.pool, row).await?;
    Ok(Json(Cart::new(&state.cfg.public_base_url, &cart)))
}

fn cart_not_found() -> ApiError {
    ApiError::error(StatusCode::NOT_FOUND, "Cart not found")
}

/// The cart (made on first use).
#[utoipa::path(get, path = "/api/cart/", tag = "cart", security(("bearer" = [])),
    responses((status = 200, description = "Cart", body = Cart), (status = 401)))]
async fn get_cart(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<Cart>> {
    let mut conn = state.pool.acquire().await?;
    let row = cart::get_or_create(&mut conn, auth.user.id).await?;
    drop(conn);
    render(&state, row).await
}

/// Add an active package or campaign; an existing line's quantity grows.
#[utoipa::path(post, path = "/api/cart/add/", tag = "cart", security(("bearer" = [])),
    request_body = CartAddRequest,
    responses(
        (status = 200, description = "Cart", body = Cart),
        (status = 400, description = "`{field: [str]}`"),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Package not found\"}` / `\"Campaign not found\"`"),
    ))]
async fn add_item(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Payload(body): Payload<CartAddRequest>,
) -> ApiResult<Json<Cart>> {
    let add = CartAdd::try_from(body).map_err(FieldErrors::bare)?;
    let row = cart::add(&state.pool, auth.user.id, add.kind, add.item_id, add.quantity).await.map_err(|e| match e {
        AddError::ProductNotFound => {
            ApiError::error(StatusCode::NOT_FOUND, format!("{} not found", add.kind.model_name()))
        }
        AddError::Database(e) => e.into(),
    })?;
    render(&state, row).await
}

/// Remove a line.
#[utoipa::path(delete, path = "/api/cart/remove/{item_id}/", tag = "cart", security(("bearer" = [])),
    params(("item_id" = i64, Path, description = "Cart line id")),
    responses(
        (status = 200, description = "Cart", body = Cart),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Cart not found\"}` / `{\"error\":\"Cart item not found\"}`"),
    ))]
async fn remove_item(State(state): State<AppState>, Signed(auth): Signed, Id(line): Id) -> ApiResult<Json<Cart>> {
    let row = cart::find(&state.pool, auth.user.id).await?.ok_or_else(cart_not_found)?;
    if !cart::remove(&state.pool, row.id, line).await? {
        return Err(ApiError::error(StatusCode::NOT_FOUND, "Cart item not found"));
    }
    let row = cart::find(&state.pool, auth.user.id).await?.ok_or_else(cart_not_found)?;
    render(&state, row).await
}

/// Empty the cart.
#[utoipa::path(delete, path = "/api/cart/clear/", tag = "cart", security(("bearer" = [])),
    responses((status = 200, description = "Cart", body = Cart), (status = 401),
        (status = 404, description = "`{\"error\":\"Cart not found\"}`")))]
async fn clear(State(state): State<AppState>, Signed(auth): Signed) -> ApiResult<Json<Cart>> {
    let row = cart::find(&state.pool, auth.user.id).await?.ok_or_else(cart_not_found)?;
    cart::clear(&state.pool, row.id).await?;
    let row = cart::find(&state.pool, auth.user.id).await?.ok_or_else(cart_not_found)?;
    render(&state, row).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::{Value, json};

    use super::*;

    fn parse(v: Value) -> Result<CartAdd, Value> {
        CartAdd::try_from(serde_json::from_value::<CartAddRequest>(v).unwrap()).map_err(FieldErrors::into_value)
    }

    #[test]
    fn add_bodies() {
        assert_eq!(
            parse(json!({"item_type": "campaign", "item_id": "7", "quantity": "1000"})),
            Ok(CartAdd { kind: ProductType::Campaign, item_id: 7, quantity: 1000 })
        );
        assert_eq!(parse(json!({"item_type": "package", "item_id": 7})).unwrap().quantity, 1);
        assert_eq!(
            parse(json!({"item_type": "widget", "item_id": "x", "quantity": 0})),
            Err(
                json!({"item_type": ["\"widget\" is not a valid choice."], "item_id": ["A valid integer is required."],
                       "quantity": ["Ensure this value is greater than or equal to 1."]})
            )
        );
        assert_eq!(
            parse(json!({"item_type": "package", "item_id": 1, "quantity": 100_001})),
            Err(json!({"quantity": ["Ensure this value is less than or equal to 100000."]}))
        );
        assert_eq!(
            parse(json!({})),
            Err(json!({"item_type": ["This field is required."], "item_id": ["This field is required."]}))
        );
    }
}
