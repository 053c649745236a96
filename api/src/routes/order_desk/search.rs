//! The desk's look-ups (API.md §4.6, §5 #3, #13): customers for a manual order, the products it
//! may take, the staff list, and the admin app's top-bar search.

use axum::Json;
use axum::extract::{Query, RawQuery, State};
use common::accounts::users;
use common::catalog::ProductType;
use common::money::Money;
use common::orders::OrderStatus;
use common::orders::admin::search::{self, Found, OrderableProduct, Searcher};
use common::role::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiResult;
use crate::extract::Staff;
use crate::pagination::{Page, PageLinks, PageSpec, window};
use crate::state::AppState;
use crate::views::catalog::ProductKind;
use crate::views::order_desk::Listing;
use crate::views::users::Staff as StaffView;
use crate::views::{Num, UserBasic};

/// The look-up routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customer_search))
        .routes(routes!(products_for_order))
        .routes(routes!(staff_list))
        .routes(routes!(top_bar_search))
}

/// `?q`.
#[derive(Debug, Deserialize, IntoParams)]
struct SearchQuery {
    /// Text to look for.
    q: Option<String>,
}

/// `{customers}` of the customer search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customers {
    /// At most 10 accounts of role `customer`.
    pub customers: Vec<UserBasic>,
}

/// Customers (role `customer`) by phone or name, at most 10; an empty `q` finds none.
#[utoipa::path(get, path = "/api/admin/customers/search/", tag = "order desk", security(("bearer" = [])),
    params(SearchQuery), responses((status = 200, body = Customers), (status = 401), (status = 403)))]
async fn customer_search(
    State(state): State<AppState>,
    _staff: Staff,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Customers>> {
    let q = q.q.unwrap_or_default();
    if q.trim().is_empty() {
        return Ok(Json(Customers { customers: Vec::new() }));
    }
    let found = users::search_customers(&state.pool, q.trim(), 10).await?;
    Ok(Json(Customers { customers: found.iter().map(UserBasic::from).collect() }))
}

/// A product the manual-order form offers; the price as a number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductForOrder {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Current price.
    pub price: Num,
    /// `package` or `campaign`.
    #[serde(rename = "type")]
    pub kind: ProductKind,
    /// Always true.
    pub is_active: bool,
}

impl ProductForOrder {
    fn new(kind: ProductType, p: OrderableProduct) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            price: Num(p.price),
            kind: kind.into(),
            is_active: p.is_active,
        }
    }
}

/// `{campaigns, packages}` of the products for an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductsForOrder {
    /// Active campaigns by name.
    pub campaigns: Vec<ProductForOrder>,
    /// Active packages by name.
    pub packages: Vec<ProductForOrder>,
}

/// Active products for the manual-order form, prices as numbers.
#[utoipa::path(get, path = "/api/admin/products/for-order/", tag = "order desk", security(("bearer" = [])),
    responses((status = 200, body = ProductsForOrder), (status = 401), (status = 403)))]
async fn products_for_order(State(state): State<AppState>, _staff: Staff) -> ApiResult<Json<ProductsForOrder>> {
    let of = |kind: ProductType, rows: Vec<OrderableProduct>| -> Vec<ProductForOrder> {
        rows.into_iter().map(|p| ProductForOrder::new(kind, p)).collect()
    };
    let campaigns = of(ProductType::Campaign, search::orderable_products(&state.pool, ProductType::Campaign).await?);
    let packages = of(ProductType::Package, search::orderable_products(&state.pool, ProductType::Package).await?);
    Ok(Json(ProductsForOrder { campaigns, packages }))
}

/// `?page`.
#[derive(Debug, Deserialize, IntoParams)]
struct PageOnly {
    /// Page (the envelope); absent: a bare array.
    page: Option<String>,
}

/// Staff and admins by username, with their open assignments (§5 #13: staff may read it).
#[utoipa::path(get, path = "/api/admin/staff/", tag = "order desk", security(("bearer" = [])), params(PageOnly),
    responses(
        (status = 200, body = Listing<StaffView>, description = "[Staff], or the DRF page with `?page`"),
        (status = 401),
        (status = 403),
        (status = 404, description = "`{\"detail\":\"Invalid page.\"}`"),
    ))]
async fn staff_list(
    State(state): State<AppState>,
    _staff: Staff,
    Query(q): Query<PageOnly>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Listing<StaffView>>> {
    let rows = users::staff_with_load(&state.pool).await?;
    let Some(page) = q.page else {
        return Ok(Json(Listing::All(rows.iter().map(StaffView::from).collect())));
    };
    let count = rows.len() as i64;
    let n = PageSpec::parse(Some(&page))?.resolve(count)?;
    let (limit, offset) = window(n);
    let shown = rows.iter().skip(offset as usize).take(limit as usize).map(StaffView::from).collect();
    let links = PageLinks {
        base: &state.cfg.public_base_url,
        path: "/api/admin/staff/",
        query: raw.as_deref(),
        explicit_first: true,
    };
    Ok(Json(Listing::Page(Page::new(&links, n, count, shown))))
}

/// What a hit is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    /// An order.
    Order,
    /// A customer account.
    User,
    /// A package or campaign.
    Product,
    /// A staff or admin account.
    Staff,
}

/// One hit of the top-bar search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    /// What it is.
    #[serde(rename = "type")]
    pub kind: HitKind,
    /// Its id.
    pub id: i64,
    /// First line.
    pub title: String,
    /// Second line.
    pub subtitle: String,
    /// The admin app's route.
    pub url: String,
}

/// `{orders, users, products, staff}` of the top-bar search, at most 5 each.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SearchResults {
    /// Orders by number, customer phone or username (staff: theirs only).
    pub orders: Vec<SearchHit>,
    /// Customer accounts (admins only).
    pub users: Vec<SearchHit>,
    /// Products by name.
    pub products: Vec<SearchHit>,
    /// Staff accounts (admins only).
    pub staff: Vec<SearchHit>,
}

/// first + " " + last, trimmed, else the username.
fn person(username: &str, first: &str, last: &str) -> String {
    let name = format!("{} {}", first.trim(), last.trim()).trim().to_string();
    if name.is_empty() { username.to_string() } else { name }
}

impl From<Found> for SearchResults {
    fn from(found: Found) -> Self {
        let hit = |kind, id, title, subtitle, url| SearchHit { kind, id, title, subtitle, url };
        let orders = found
            .orders
            .into_iter()
            .map(|o| {
                let who = person(&o.username, &o.first_name, &o.last_name);
                let label = OrderStatus::parse(&o.status).map(|s| s.label()).unwrap_or("");
                let subtitle = match o.phone_number {
                    Some(p) => format!("{who} · {p} · {label}"),
                    None => format!("{who} · {label}"),
                };
                hit(HitKind::Order, o.id, o.order_number, subtitle, format!("/orders/{}", o.id))
            })
            .collect();
        let products = found
            .products
            .into_iter()
            .map(|p| {
                let label = if p.kind == ProductType::Package { "Package" } else { "Campaign" };
                let url = format!("/products/{}/{}", p.kind.as_str(), p.id);
                hit(HitKind::Product, p.id, p.name, format!("{label} · ₹{}", Money(p.price)), url)
            })
            .collect();
        let accounts = |kind: HitKind, url: &str, rows: Vec<search::UserHit>| -> Vec<SearchHit> {
            rows.into_iter()
                .map(|u| {
                    let title = person(&u.username, &u.first_name, &u.last_name);
                    hit(kind, u.id, title, u.phone_number.unwrap_or(u.role), url.to_string())
                })
                .collect()
        };
        Self {
            orders,
            users: accounts(HitKind::User, "/users", found.users),
            products,
            staff: accounts(HitKind::Staff, "/staff", found.staff),
        }
    }
}

/// The top-bar search (§5 #3): orders, users, products and staff, at most 5 each, for `q` of two
/// characters or more; staff see only their orders and the products.
#[utoipa::path(get, path = "/api/admin/search/", tag = "order desk", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 401), (status = 403)))]
async fn top_bar_search(
    State(state): State<AppState>,
    Staff(auth): Staff,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<SearchResults>> {
    let q = q.q.unwrap_or_default();
    let q = q.trim();
    if q.chars().count() < 2 {
        return Ok(Json(SearchResults::default()));
    }
    let who = if auth.user.role() == Role::Admin { Searcher::Admin } else { Searcher::Staff(auth.user.id) };
    Ok(Json(search::search(&state.pool, q, who).await?.into()))
}
