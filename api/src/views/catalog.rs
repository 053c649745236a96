//! The catalogue's and the cart's bodies (API.md §3): ProductImage, Package, Campaign,
//! ProductRow, AuditLog, Cart, each built by a plain conversion from rows loaded in batches
//! (a product comes with its items and images, see `common::catalog::products`).

use common::cart;
use common::catalog::ProductType;
use common::catalog::products::{self, AuditEntry, ImageRow};
use common::money::Money;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Num;

/// Absolute URL of a stored media path (Cloudinary URLs are stored absolute already).
pub fn media_url(base: &str, stored: &str) -> String {
    if stored.starts_with("http://") || stored.starts_with("https://") {
        return stored.to_string();
    }
    // Dozens of these make a catalogue page: built without the formatting machinery.
    let path = stored.trim_start_matches('/');
    let mut url = String::with_capacity(base.len() + "/media/".len() + path.len());
    url.push_str(base);
    url.push_str("/media/");
    url.push_str(path);
    url
}

/// `package` or `campaign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProductKind {
    /// A bundle of items at one price.
    Package,
    /// A single service, often priced per unit.
    Campaign,
}

impl From<ProductType> for ProductKind {
    fn from(kind: ProductType) -> Self {
        match kind {
            ProductType::Package => ProductKind::Package,
            ProductType::Campaign => ProductKind::Campaign,
        }
    }
}

/// §3 ProductImage: absolute URLs (§5 #20).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductImage {
    /// Id.
    pub id: i64,
    /// The image's URL.
    pub image: String,
    /// The same URL.
    pub image_url: String,
    /// The 300×300 thumbnail's URL, once the media worker made it.
    pub thumbnail: Option<String>,
    /// The same URL.
    pub thumbnail_url: Option<String>,
    /// The product's main image (one per product).
    pub is_primary: bool,
    /// Position.
    pub order: i32,
    /// Alternative text.
    pub alt_text: String,
    /// Asia/Kolkata, microseconds.
    pub uploaded_at: String,
    /// `package` or `campaign`.
    pub product_type: String,
    /// The product.
    pub product_id: i64,
}

impl ProductImage {
    /// The image of a row, its stored paths made absolute against `base` (`PUBLIC_BASE_URL`).
    pub fn new(base: &str, row: &ImageRow) -> Self {
        let image = media_url(base, &row.image);
        let thumbnail = row.thumbnail.as_deref().filter(|t| !t.is_empty()).map(|t| media_url(base, t));
        Self {
            id: row.id,
            image_url: image.clone(),
            image,
            thumbnail_url: thumbnail.clone(),
            thumbnail,
            is_primary: row.is_primary,
            order: row.order,
            alt_text: row.alt_text.clone(),
            uploaded_at: common::time::ist(row.uploaded_at),
            product_type: row.product_type.clone(),
            product_id: row.product_id,
        }
    }
}

/// The fields a package and a campaign share (§3 Package, plus the §9.5 GST fields).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductFields {
    /// Id.
    pub id: i64,
    /// Unique name (per type, any case).
    pub name: String,
    /// Decimal string, two places.
    #[schema(example = "4999.00")]
    pub price: String,
    /// Description.
    pub description: String,
    /// `[str]`.
    #[schema(value_type = Vec<String>)]
    pub features: Value,
    /// `[str]`.
    #[schema(value_type = Vec<String>)]
    pub deliverables: Value,
    /// Sold now.
    pub is_active: bool,
    /// On the popular list.
    pub is_popular: bool,
    /// Position on the popular list (0 when not popular).
    pub popular_order: i32,
    /// Asia/Kolkata, microseconds.
    pub created_at: String,
    /// Asia/Kolkata, microseconds.
    pub updated_at: String,
    /// Creator's id.
    pub created_by: Option<i64>,
    /// Creator's username.
    pub created_by_name: Option<String>,
    /// Images, primary first, then by order.
    pub images: Vec<ProductImage>,
    /// The primary image.
    pub primary_image: Option<ProductImage>,
    /// The product's type.
    #[serde(rename = "type")]
    pub kind: ProductKind,
    /// HSN/SAC code (may be empty).
    pub hsn_sac: String,
    /// GST rate in percent, decimal string.
    #[schema(example = "18.00")]
    pub gst_rate: String,
}

impl ProductFields {
    fn new(base: &str, kind: ProductType, p: &products::Product) -> Self {
        let images: Vec<ProductImage> = p.images.iter().map(|i| ProductImage::new(base, i)).collect();
        let primary_image = images.iter().find(|i| i.is_primary).cloned();
        Self {
            id: p.id,
            name: p.name.clone(),
            price: p.price.clone(),
            description: p.description.clone(),
            features: p.features.clone(),
            deliverables: p.deliverables.clone(),
            is_active: p.is_active,
            is_popular: p.is_popular,
            popular_order: p.popular_order,
            created_at: common::time::ist(p.created_at),
            updated_at: common::time::ist(p.updated_at),
            created_by: p.created_by_id,
            created_by_name: p.created_by_name.clone(),
            images,
            primary_image,
            kind: kind.into(),
            hsn_sac: p.hsn_sac.clone(),
            gst_rate: p.gst_rate.clone(),
        }
    }
}

/// One item of a package.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PackageItem {
    /// Id.
    pub id: i64,
    /// What it is.
    pub name: String,
    /// How many.
    pub quantity: i32,
}

impl From<&products::PackageItem> for PackageItem {
    fn from(i: &products::PackageItem) -> Self {
        Self { id: i.id, name: i.name.clone(), quantity: i.quantity }
    }
}

/// §3 Package (`type: "package"`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Package {
    /// The shared fields.
    #[serde(flatten)]
    pub product: ProductFields,
    /// Items, in insertion order.
    pub items: Vec<PackageItem>,
}

/// §3 Campaign: Package without `items`, plus `unit` (`type: "campaign"`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    /// The shared fields.
    #[serde(flatten)]
    pub product: ProductFields,
    /// Unit of sale, e.g. `per 1000`.
    pub unit: String,
}

/// A Package or a Campaign, as its `type` says.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Product {
    /// `type: "package"`.
    Package(Package),
    /// `type: "campaign"`.
    Campaign(Campaign),
}

/// The body of one product type, for the routes whose type is fixed.
pub trait ProductShape: Serialize + Sized {
    /// The type it shows.
    const KIND: ProductType;
    /// The body of a loaded product (with its items and images).
    fn build(base: &str, p: &products::Product) -> Self;
}

impl ProductShape for Package {
    const KIND: ProductType = ProductType::Package;

    fn build(base: &str, p: &products::Product) -> Self {
        Self { product: ProductFields::new(base, Self::KIND, p), items: p.items.iter().map(Into::into).collect() }
    }
}

impl ProductShape for Campaign {
    const KIND: ProductType = ProductType::Campaign;

    fn build(base: &str, p: &products::Product) -> Self {
        Self { product: ProductFields::new(base, Self::KIND, p), unit: p.unit.clone() }
    }
}

impl Product {
    /// The body of a loaded product of type `kind`.
    pub fn new(base: &str, kind: ProductType, p: &products::Product) -> Self {
        match kind {
            ProductType::Package => Product::Package(Package::build(base, p)),
            ProductType::Campaign => Product::Campaign(Campaign::build(base, p)),
        }
    }
}

/// §3 ProductRow: a line of the admin list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Decimal string, two places.
    #[schema(example = "4999.00")]
    pub price: String,
    /// Description.
    pub description: String,
    /// Sold now.
    pub is_active: bool,
    /// On the popular list.
    pub is_popular: bool,
    /// Position on the popular list (0 when not popular).
    pub popular_order: i32,
    /// Asia/Kolkata, microseconds.
    pub created_at: String,
    /// Asia/Kolkata, microseconds.
    pub updated_at: String,
    /// Creator's username, `N/A` when none.
    pub created_by_name: String,
    /// The product's type.
    #[serde(rename = "type")]
    pub kind: ProductKind,
    /// HSN/SAC code (may be empty).
    pub hsn_sac: String,
    /// GST rate in percent, decimal string.
    #[schema(example = "18.00")]
    pub gst_rate: String,
}

impl ProductRow {
    /// The row of a product of type `kind` (its items and images are not read).
    pub fn new(kind: ProductType, p: &products::Product) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
            price: p.price.clone(),
            description: p.description.clone(),
            is_active: p.is_active,
            is_popular: p.is_popular,
            popular_order: p.popular_order,
            created_at: common::time::ist(p.created_at),
            updated_at: common::time::ist(p.updated_at),
            created_by_name: p.created_by_name.clone().unwrap_or_else(|| "N/A".into()),
            kind: kind.into(),
            hsn_sac: p.hsn_sac.clone(),
            gst_rate: p.gst_rate.clone(),
        }
    }
}

/// §3 AuditLog: one change of a product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditLog {
    /// Id.
    pub id: i64,
    /// `create`, `update`, `delete`, `activate` or `deactivate`.
    pub action: String,
    /// `Created`, `Updated`, `Deleted`, `Activated` or `Deactivated`.
    pub action_display: String,
    /// Who (user id).
    pub user: Option<i64>,
    /// Their username.
    pub user_name: Option<String>,
    /// Asia/Kolkata, microseconds.
    pub timestamp: String,
    /// create `{name, price}`; update `{field: {old, new}}` for name/price/is_active; delete
    /// `{name, deleted_at}`; activate/deactivate `{is_active: {old, new}}`.
    #[schema(value_type = Object)]
    pub changes: Value,
    /// `package` or `campaign`.
    pub product_type: String,
    /// The product's id.
    pub object_id: i64,
}

impl From<&AuditEntry> for AuditLog {
    fn from(a: &AuditEntry) -> Self {
        let display = match a.action.as_str() {
            "create" => "Created",
            "update" => "Updated",
            "delete" => "Deleted",
            "activate" => "Activated",
            "deactivate" => "Deactivated",
            other => other,
        };
        Self {
            id: a.id,
            action: a.action.clone(),
            action_display: display.to_string(),
            user: a.user_id,
            user_name: a.user_name.clone(),
            timestamp: common::time::ist(a.timestamp),
            changes: a.changes.clone(),
            product_type: a.product_type.clone(),
            object_id: a.object_id,
        }
    }
}

/// A line of the cart: the product as it is now, at its current price.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartItem {
    /// Line id.
    pub id: i64,
    /// The product's type.
    pub item_type: ProductKind,
    /// The product.
    pub item_details: Product,
    /// Quantity.
    pub quantity: i32,
    /// Current price × quantity.
    pub subtotal: Num,
    /// Asia/Kolkata, microseconds.
    pub added_at: String,
}

/// §3 Cart: lines of deleted products are dropped; `subtotal`/`total` are numbers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cart {
    /// Id.
    pub id: i64,
    /// Lines, oldest first.
    pub items: Vec<CartItem>,
    /// Σ subtotals.
    pub total: Num,
    /// Σ quantities.
    pub item_count: i64,
    /// Asia/Kolkata, microseconds.
    pub created_at: String,
    /// Asia/Kolkata, microseconds.
    pub updated_at: String,
}

impl Cart {
    /// The body of a loaded cart.
    pub fn new(base: &str, cart: &cart::Cart) -> Self {
        let items: Vec<CartItem> = cart
            .lines
            .iter()
            .map(|line| {
                let price = Money::parse(&line.product.price, 12).unwrap_or_default();
                CartItem {
                    id: line.id,
                    item_type: line.kind.into(),
                    item_details: Product::new(base, line.kind, &line.product),
                    quantity: line.quantity,
                    subtotal: Num(price.paise().saturating_mul(i64::from(line.quantity))),
                    added_at: common::time::ist(line.added_at),
                }
            })
            .collect();
        Self {
            id: cart.cart.id,
            total: Num(items.iter().fold(0i64, |sum, i| sum.saturating_add(i.subtotal.0))),
            item_count: cart.lines.iter().map(|l| i64::from(l.quantity)).sum(),
            items,
            created_at: common::time::ist(cart.cart.created_at),
            updated_at: common::time::ist(cart.cart.updated_at),
        }
    }
}
