//! The order shapes of API.md §3 that customers and the desk share: Order and OrderItem (with the
//! §9.5 fields), PaymentHistory, and the §9.4 Refund. Each is built by a plain conversion from an
//! order loaded with its lines and their products (`common::orders::OrdersWithLines`).

use std::collections::HashMap;

use common::accounts::users::User;
use common::catalog::ProductType;
use common::catalog::products::Product as ProductRow;
use common::orders::refunds::Refund as RefundRow;
use common::orders::{self as model, OrdersWithLines};
use common::time::{ist, ist_opt};
use serde::Serialize;
use utoipa::ToSchema;

use super::catalog::Product;
use super::users::SystemUser;
use super::{Dec, Num, UserBasic, UserBasicOrSystem};

/// §9.5 billing, tax and invoice fields of an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderGst {
    /// Buyer name on the invoice.
    pub billing_name: String,
    /// Buyer GSTIN.
    pub billing_gstin: Option<String>,
    /// Buyer state code (`29`).
    pub billing_state_code: String,
    /// Buyer address.
    pub billing_address: String,
    /// `29-Karnataka`.
    pub place_of_supply: String,
    /// Σ line taxable values.
    pub taxable_amount: Dec,
    /// Σ line CGST.
    pub cgst_amount: Dec,
    /// Σ line SGST.
    pub sgst_amount: Dec,
    /// Σ line IGST.
    pub igst_amount: Dec,
    /// Σ line tax.
    pub tax_amount: Dec,
    /// GST invoice number, once paid.
    pub invoice_number: Option<String>,
    /// When it was numbered (Asia/Kolkata).
    pub invoice_date: Option<String>,
}

impl From<&model::Order> for OrderGst {
    fn from(o: &model::Order) -> Self {
        Self {
            billing_name: o.billing_name.clone(),
            billing_gstin: o.billing_gstin.clone(),
            billing_state_code: o.billing_state_code.clone(),
            billing_address: o.billing_address.clone(),
            place_of_supply: o.place_of_supply.clone(),
            taxable_amount: Dec(o.taxable_amount),
            cgst_amount: Dec(o.cgst_amount),
            sgst_amount: Dec(o.sgst_amount),
            igst_amount: Dec(o.igst_amount),
            tax_amount: Dec(o.tax_amount),
            invoice_number: o.invoice_number.clone(),
            invoice_date: ist_opt(o.invoice_date),
        }
    }
}

/// §3 OrderItem with the §9.5 fields.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderItem {
    /// Id.
    pub id: i64,
    /// `package` or `campaign`.
    pub item_type: String,
    /// The product as it is now; null once deleted.
    pub item_details: Option<Product>,
    /// Quantity.
    pub quantity: i32,
    /// Unit price at order time.
    pub price: Dec,
    /// price × quantity.
    pub subtotal: Num,
    /// The customer's material is in.
    pub resources_uploaded: bool,
    /// HSN/SAC at order time.
    pub hsn_sac: String,
    /// GST rate at order time (`18.00`).
    pub gst_rate: String,
    /// Taxable value.
    pub taxable_amount: Dec,
    /// Tax.
    pub tax_amount: Dec,
}

impl OrderItem {
    /// A line with its product (`None`: deleted).
    pub fn new(base: &str, item: &model::OrderItem, product: Option<(ProductType, &ProductRow)>) -> Self {
        Self {
            id: item.id,
            item_type: item.product_type.clone(),
            item_details: product.map(|(kind, p)| Product::new(base, kind, p)),
            quantity: item.quantity,
            price: Dec(item.price),
            subtotal: Num(item.subtotal()),
            resources_uploaded: item.resources_uploaded,
            hsn_sac: item.hsn_sac.clone(),
            gst_rate: item.gst_rate.clone(),
            taxable_amount: Dec(item.taxable_amount),
            tax_amount: Dec(item.tax_amount),
        }
    }
}

/// A line still waiting for the customer's material.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingItem {
    /// Line id.
    pub id: i64,
    /// `package` or `campaign`.
    pub item_type: String,
    /// The product's name (`Unknown Product` once deleted).
    pub item_name: String,
    /// Quantity.
    pub quantity: i32,
}

impl PendingItem {
    /// The lines of `items` without material.
    pub fn of(items: &[model::OrderItem]) -> Vec<Self> {
        items
            .iter()
            .filter(|i| !i.resources_uploaded)
            .map(|i| Self {
                id: i.id,
                item_type: i.product_type.clone(),
                item_name: i.name().to_string(),
                quantity: i.quantity,
            })
            .collect()
    }
}

/// `int(lines with material ÷ lines × 100)`, 0 without lines.
pub fn upload_progress(items: &[model::OrderItem]) -> i64 {
    if items.is_empty() {
        return 0;
    }
    let done = items.iter().filter(|i| i.resources_uploaded).count();
    (done * 100 / items.len()) as i64
}

/// §3 Order with the §9.5 fields.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    /// Id.
    pub id: i64,
    /// `EC-YYYYMMDD-XXXXXXXX`.
    pub order_number: String,
    /// What Razorpay charges.
    pub total_amount: Dec,
    /// §7.1 status.
    pub status: String,
    /// §7.2 payment status.
    pub payment_status: String,
    /// `""` when none.
    pub razorpay_order_id: String,
    /// The applied Razorpay payment.
    pub razorpay_payment_id: Option<String>,
    /// When fully paid (Asia/Kolkata).
    pub payment_completed_at: Option<String>,
    /// The lines, in insertion order.
    pub items: Vec<OrderItem>,
    /// Σ quantities.
    pub total_items: i64,
    /// Percentage of lines with their material in.
    pub resource_upload_progress: i64,
    /// Lines still waiting for material.
    pub pending_resource_items: Vec<PendingItem>,
    /// Σ payment records.
    pub total_paid: Num,
    /// total − Σ payment records.
    pub payment_balance: Num,
    /// Asia/Kolkata.
    pub created_at: String,
    /// Asia/Kolkata.
    pub updated_at: String,
    /// Billing, tax and invoice.
    #[serde(flatten)]
    pub gst: OrderGst,
}

impl Order {
    /// One order of `loaded` (its lines and their products come from there).
    pub fn new(base: &str, order: &model::Order, loaded: &OrdersWithLines) -> Self {
        let lines = loaded.lines_of(order.id);
        Self {
            id: order.id,
            order_number: order.order_number.clone(),
            total_amount: Dec(order.total_amount),
            status: order.status.clone(),
            payment_status: order.payment_status.clone(),
            razorpay_order_id: order.razorpay_order_id.clone(),
            razorpay_payment_id: order.razorpay_payment_id.clone(),
            payment_completed_at: ist_opt(order.payment_completed_at),
            items: lines.iter().map(|i| OrderItem::new(base, i, loaded.products.of(i))).collect(),
            total_items: order.total_items,
            resource_upload_progress: upload_progress(lines),
            pending_resource_items: PendingItem::of(lines),
            total_paid: Num(order.total_paid),
            payment_balance: Num(order.balance()),
            created_at: ist(order.created_at),
            updated_at: ist(order.updated_at),
            gst: order.into(),
        }
    }

    /// Every order of `loaded`, in its order.
    pub fn all(base: &str, loaded: &OrdersWithLines) -> Vec<Self> {
        loaded.orders.iter().map(|o| Self::new(base, o, loaded)).collect()
    }
}

/// §3 PaymentHistory.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentHistory {
    /// Id.
    pub id: i64,
    /// Order id.
    pub order_id: i64,
    /// Order number.
    pub order_number: String,
    /// `Razorpay`, …
    pub payment_method: String,
    /// Provider payment id.
    pub transaction_id: String,
    /// Amount.
    pub amount: Dec,
    /// `INR`.
    pub currency: String,
    /// pending, completed, failed, refunded.
    pub status: String,
    /// Pending, Completed, Failed, Refunded.
    pub status_display: String,
    /// When paid (Asia/Kolkata).
    pub payment_date: String,
    /// When the invoice was generated.
    pub invoice_generated_at: Option<String>,
    /// Invoice number.
    pub invoice_number: String,
    /// Provider details.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Asia/Kolkata.
    pub created_at: String,
}

impl From<&model::PaymentHistory> for PaymentHistory {
    fn from(h: &model::PaymentHistory) -> Self {
        let display = match h.status.as_str() {
            "pending" => "Pending",
            "completed" => "Completed",
            "failed" => "Failed",
            "refunded" => "Refunded",
            other => other,
        };
        Self {
            id: h.id,
            order_id: h.order_id,
            order_number: h.order_number.clone(),
            payment_method: h.payment_method.clone(),
            transaction_id: h.transaction_id.clone(),
            amount: Dec(h.amount),
            currency: h.currency.clone(),
            status: h.status.clone(),
            status_display: display.to_string(),
            payment_date: ist(h.payment_date),
            invoice_generated_at: ist_opt(h.invoice_generated_at),
            invoice_number: h.invoice_number.clone(),
            metadata: h.metadata.clone(),
            created_at: ist(h.created_at),
        }
    }
}

/// A user the order names, or the service itself when none (or when the account is gone).
pub fn actor(people: &HashMap<i64, User>, id: Option<i64>) -> UserBasicOrSystem {
    match id.and_then(|id| people.get(&id)) {
        Some(u) => UserBasicOrSystem::User(UserBasic::from(u)),
        None => UserBasicOrSystem::System(SystemUser::new()),
    }
}

/// §9.4 Refund.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Refund {
    /// Id.
    pub id: i64,
    /// Order id.
    pub order: i64,
    /// Amount.
    pub amount: Dec,
    /// `razorpay` or `manual`.
    pub method: String,
    /// `rfnd_…` once Razorpay accepted it.
    pub razorpay_refund_id: Option<String>,
    /// pending, processed, failed.
    pub status: String,
    /// Why.
    pub reason: String,
    /// The admin who asked (System when the account is gone).
    pub created_by: UserBasicOrSystem,
    /// Asia/Kolkata.
    pub created_at: String,
    /// When settled.
    pub processed_at: Option<String>,
}

impl Refund {
    /// A refund with the admin who asked for it, from `people`.
    pub fn new(r: &RefundRow, people: &HashMap<i64, User>) -> Self {
        Self {
            id: r.id,
            order: r.order_id,
            amount: Dec(r.amount),
            method: r.method.clone(),
            razorpay_refund_id: r.razorpay_refund_id.clone(),
            status: r.status.clone(),
            reason: r.reason.clone(),
            created_by: actor(people, r.created_by_id),
            created_at: ist(r.created_at),
            processed_at: ist_opt(r.processed_at),
        }
    }
}
