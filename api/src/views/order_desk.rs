//! The order desk's shapes (API.md §3): AdminOrderRow, AdminOrderDetail with its AdminItems,
//! ResGroups, Checklist, PaymentRecords and StatusHistory, built by plain conversions from the
//! aggregates of `common::orders::admin` (a list page with its people, an order's detail).
//!
//! AdminOrderRow and AdminOrderDetail share an [`OrderSummary`]: the row adds `payment_balance`,
//! the detail (which has no `payment_balance`) adds everything the order page shows.

use std::collections::HashMap;

use common::accounts::users::User;
use common::orders::admin::detail::{
    DynamicResource as DynamicRow, OrderDetail, StaticResource as StaticRow, StatusChange,
};
use common::orders::admin::list::OrderRows;
use common::orders::admin::records::PaymentRecord as RecordRow;
use common::orders::checklist::{self, CompletedBy};
use common::orders::resource_views::{LegacyFile, first_static_item};
use common::orders::{self as model, OrderStatus};
use common::time::{ist, ist_opt};
use serde::Serialize;
use utoipa::ToSchema;

use super::orders::{OrderGst, OrderItem, Refund, actor, upload_progress};
use super::{Dec, Num, UserBasic, UserBasicOrSystem};
use crate::pagination::Page;
use crate::routes::secure_files::legacy_file_url;

/// The §1 bare-array rule: every row without `?page`, the DRF envelope with it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Listing<T> {
    /// No `?page`: all rows.
    All(Vec<T>),
    /// `?page=N`: the DRF envelope.
    Page(Page<T>),
}

fn basic(people: &HashMap<i64, User>, id: Option<i64>) -> Option<UserBasic> {
    id.and_then(|id| people.get(&id)).map(UserBasic::from)
}

/// What AdminOrderRow and AdminOrderDetail share (§3, with the §9.5 fields).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderSummary {
    /// Id.
    pub id: i64,
    /// `EC-YYYYMMDD-XXXXXXXX`.
    pub order_number: String,
    /// The customer.
    pub user: Option<UserBasic>,
    /// Total.
    pub total_amount: Dec,
    /// §7.1 status.
    pub status: String,
    /// §7.2 payment status.
    pub payment_status: String,
    /// The staff member who has it.
    pub assigned_to: Option<UserBasic>,
    /// Σ quantities.
    pub total_items: i64,
    /// When fully paid (Asia/Kolkata).
    pub payment_completed_at: Option<String>,
    /// Σ payment records.
    pub total_paid: Num,
    /// Asia/Kolkata.
    pub created_at: String,
    /// Asia/Kolkata.
    pub updated_at: String,
    /// Billing, tax and invoice.
    #[serde(flatten)]
    pub gst: OrderGst,
}

impl OrderSummary {
    /// An order with its customer and assignee from `people`.
    pub fn new(o: &model::Order, people: &HashMap<i64, User>) -> Self {
        Self {
            id: o.id,
            order_number: o.order_number.clone(),
            user: basic(people, Some(o.user_id)),
            total_amount: Dec(o.total_amount),
            status: o.status.clone(),
            payment_status: o.payment_status.clone(),
            assigned_to: basic(people, o.assigned_to_id),
            total_items: o.total_items,
            payment_completed_at: ist_opt(o.payment_completed_at),
            total_paid: Num(o.total_paid),
            created_at: ist(o.created_at),
            updated_at: ist(o.updated_at),
            gst: o.into(),
        }
    }
}

/// §3 AdminOrderRow: a line of the desk's lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminOrderRow {
    /// The order.
    #[serde(flatten)]
    pub summary: OrderSummary,
    /// total − Σ payment records.
    pub payment_balance: Num,
}

impl AdminOrderRow {
    /// An order with its customer and assignee from `people`.
    pub fn new(o: &model::Order, people: &HashMap<i64, User>) -> Self {
        Self { summary: OrderSummary::new(o, people), payment_balance: Num(o.balance()) }
    }

    /// The rows of a list page.
    pub fn all(rows: &OrderRows) -> Vec<Self> {
        rows.orders.iter().map(|o| Self::new(o, &rows.people)).collect()
    }
}

/// §3 Static: the legacy material of a line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaticResource {
    /// Id.
    pub id: i64,
    /// The photo's secure-file path (`/api/secure-files/orders/{order_id}/candidate_photo/`,
    /// plus `?item=` for a line other than the order's first with an upload).
    pub candidate_photo: Option<String>,
    /// The logo's secure-file path (as the photo's).
    pub party_logo: Option<String>,
    /// Slogan.
    pub campaign_slogan: String,
    /// `YYYY-MM-DD`.
    pub preferred_date: Option<String>,
    /// WhatsApp number.
    pub whatsapp_number: String,
    /// Notes.
    pub additional_notes: String,
    /// Asia/Kolkata.
    pub uploaded_at: String,
}

impl StaticResource {
    /// A legacy upload of order `order_id`, whose first line with an upload is `first_item`.
    /// Private files: named by their §4.11 route, never by a storage key.
    fn new(order_id: i64, first_item: Option<i64>, s: &StaticRow) -> Self {
        let url = |file: LegacyFile| {
            (!file.of(s).is_empty()).then(|| legacy_file_url(order_id, file, s.order_item_id, first_item))
        };
        Self {
            id: s.id,
            candidate_photo: url(LegacyFile::CandidatePhoto),
            party_logo: url(LegacyFile::PartyLogo),
            campaign_slogan: s.campaign_slogan.clone(),
            preferred_date: s.preferred_date.map(|d| d.to_string()),
            whatsapp_number: s.whatsapp_number.clone(),
            additional_notes: s.additional_notes.clone(),
            uploaded_at: ist(s.uploaded_at),
        }
    }
}

/// A submitted value: text, phone and date as text, numbers as integers, files as the relative
/// secure-files path.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ResourceValue {
    /// Text, phone, date, or a file's `/api/secure-files/resources/{id}/`.
    Text(String),
    /// A number.
    Number(i32),
}

/// A resource-field submission (§3 ResGroup `dynamic`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DynamicResource {
    /// Submission id.
    pub id: i64,
    /// Field definition.
    pub field_id: i64,
    /// Field name.
    pub field_name: String,
    /// image, text, number, document, phone, date.
    pub field_type: String,
    /// Asia/Kolkata.
    pub uploaded_at: String,
    /// The value (null when none).
    pub value: Option<ResourceValue>,
    /// The stored file's name; files only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

impl From<&DynamicRow> for DynamicResource {
    fn from(d: &DynamicRow) -> Self {
        let value = match d.field_type.as_str() {
            "number" => d.number_value.map(ResourceValue::Number),
            "image" | "document" => d
                .file_value
                .as_deref()
                .filter(|f| !f.is_empty())
                .map(|_| ResourceValue::Text(format!("/api/secure-files/resources/{}/", d.id))),
            _ => d.text_value.clone().map(ResourceValue::Text),
        };
        let file_name =
            d.is_file().then(|| d.file_value.as_deref().and_then(|f| f.rsplit('/').next()).unwrap_or("").to_string());
        Self {
            id: d.id,
            field_id: d.field_id,
            field_name: d.field_name.clone(),
            field_type: d.field_type.clone(),
            uploaded_at: ist(d.uploaded_at),
            value,
            file_name,
        }
    }
}

/// The material of one line (AdminItem `resources`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResources {
    /// Legacy upload.
    #[serde(rename = "static")]
    pub static_resource: Option<StaticResource>,
    /// Resource-field submissions.
    pub dynamic: Vec<DynamicResource>,
}

/// §3 AdminItem: OrderItem with its material and (Rust) `product_name`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminItem {
    /// The line.
    #[serde(flatten)]
    pub item: OrderItem,
    /// The product's name (`Unknown Product` once deleted).
    pub product_name: String,
    /// Its material.
    pub resources: ItemResources,
}

/// §3 ResGroup: the material of a line that has any.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResGroup {
    /// Line id.
    pub order_item_id: i64,
    /// `package` or `campaign`.
    pub item_type: String,
    /// The product's name.
    pub item_name: String,
    /// Legacy upload.
    #[serde(rename = "static")]
    pub static_resource: Option<StaticResource>,
    /// Resource-field submissions.
    pub dynamic: Vec<DynamicResource>,
}

/// §3 Checklist item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChecklistItem {
    /// Id.
    pub id: i64,
    /// The task.
    pub description: String,
    /// Done.
    pub completed: bool,
    /// When ticked (Asia/Kolkata).
    pub completed_at: Option<String>,
    /// Who ticked it.
    pub completed_by: Option<UserBasic>,
    /// Position.
    pub order_index: i32,
    /// Optional tasks do not count towards progress.
    pub is_optional: bool,
    /// The template item it was built from.
    pub template_item_id: Option<i64>,
}

/// UserBasic of the user who ticked an item.
fn ticked_by(u: &CompletedBy) -> UserBasic {
    UserBasic::new(u.id, &u.username, u.phone_number.as_deref(), &u.first_name, &u.last_name, &u.email, &u.role)
}

impl From<&checklist::ChecklistItem> for ChecklistItem {
    fn from(i: &checklist::ChecklistItem) -> Self {
        Self {
            id: i.id,
            description: i.description.clone(),
            completed: i.completed,
            completed_at: ist_opt(i.completed_at),
            completed_by: i.completed_by.as_ref().map(ticked_by),
            order_index: i.order_index,
            is_optional: i.is_optional,
            template_item_id: i.template_item_id,
        }
    }
}

/// §3 Checklist: progress counts (§7.5) and the items by `order_index`, then id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Checklist {
    /// Id.
    pub id: i64,
    /// All items.
    pub total_items: i64,
    /// Ticked items.
    pub completed_items: i64,
    /// Non-optional items.
    pub required_items: i64,
    /// Ticked non-optional items.
    pub completed_required: i64,
    /// §7.5 progress.
    pub progress_percentage: i64,
    /// The tasks.
    pub items: Vec<ChecklistItem>,
}

impl From<&checklist::Checklist> for Checklist {
    fn from(c: &checklist::Checklist) -> Self {
        let p = c.progress();
        Self {
            id: c.id,
            total_items: p.total_items,
            completed_items: p.completed_items,
            required_items: p.required_items,
            completed_required: p.completed_required,
            progress_percentage: p.progress_percentage,
            items: c.items.iter().map(ChecklistItem::from).collect(),
        }
    }
}

/// §3 PaymentRecord.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentRecord {
    /// Id.
    pub id: i64,
    /// Order id.
    pub order: i64,
    /// Amount.
    pub amount: Dec,
    /// cash, upi, bank_transfer, card, cheque, razorpay, other.
    pub payment_method: String,
    /// Reference.
    pub payment_reference: String,
    /// `/api/secure-files/payment-proofs/{id}/` when a proof was uploaded (private, §4.11).
    pub payment_proof: Option<String>,
    /// Who recorded it.
    pub recorded_by: Option<UserBasic>,
    /// Asia/Kolkata.
    pub recorded_at: String,
    /// Notes.
    pub notes: String,
}

impl PaymentRecord {
    /// A record with its recorder from `people`.
    pub fn new(r: &RecordRow, people: &HashMap<i64, User>) -> Self {
        Self::with_recorder(r, basic(people, r.recorded_by_id))
    }

    /// A record with its recorder.
    pub fn with_recorder(r: &RecordRow, recorded_by: Option<UserBasic>) -> Self {
        Self {
            id: r.id,
            order: r.order_id,
            amount: Dec(r.amount),
            payment_method: r.payment_method.clone(),
            payment_reference: r.payment_reference.clone(),
            // Private: served by the §4.11 route after its access check, never at a public URL.
            payment_proof: r
                .payment_proof
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|_| format!("/api/secure-files/payment-proofs/{}/", r.id)),
            recorded_by,
            recorded_at: ist(r.recorded_at),
            notes: r.notes.clone(),
        }
    }
}

/// §7.1 label of a stored status (`""` and unknown values as they are).
fn status_label(raw: &str) -> String {
    OrderStatus::parse(raw).map_or_else(|| raw.to_string(), |s| s.label().to_string())
}

/// §3 StatusHistory with the §7.1 labels (Rust) and the System actor (§5 #19).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusHistory {
    /// Id.
    pub id: i64,
    /// Order id.
    pub order: i64,
    /// `""` at creation.
    pub old_status: String,
    /// Its label.
    pub old_status_display: String,
    /// New status.
    pub new_status: String,
    /// Its label.
    pub new_status_display: String,
    /// Who: a user, or System for the service's own changes.
    pub changed_by: UserBasicOrSystem,
    /// Asia/Kolkata.
    pub changed_at: String,
    /// Why.
    pub reason: String,
    /// An admin's change.
    pub is_manual_change: bool,
}

impl StatusHistory {
    /// A change with its author from `people`.
    pub fn new(h: &StatusChange, people: &HashMap<i64, User>) -> Self {
        Self {
            id: h.id,
            order: h.order_id,
            old_status: h.old_status.clone(),
            old_status_display: status_label(&h.old_status),
            new_status: h.new_status.clone(),
            new_status_display: status_label(&h.new_status),
            changed_by: actor(people, h.changed_by_id),
            changed_at: ist(h.changed_at),
            reason: h.reason.clone(),
            is_manual_change: h.is_manual_change,
        }
    }
}

/// §3 AdminOrderDetail (+ §9.4 refunds and §9.5 fields).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminOrderDetail {
    /// The order.
    #[serde(flatten)]
    pub summary: OrderSummary,
    /// `""` when none.
    pub razorpay_order_id: String,
    /// The applied Razorpay payment.
    pub razorpay_payment_id: Option<String>,
    /// The lines with their material.
    pub items: Vec<AdminItem>,
    /// Percentage of lines with their material in.
    pub resource_upload_progress: i64,
    /// The material of the lines that have any.
    pub resources: Vec<ResGroup>,
    /// Once assigned.
    pub checklist: Option<Checklist>,
    /// Taken by staff.
    pub is_manual_order: bool,
    /// website, phone_call, whatsapp, walk_in, email, referral, other.
    pub order_source: String,
    /// The staff member who took a manual order.
    pub created_by: Option<UserBasic>,
    /// Offline payment reference.
    pub payment_reference: String,
    /// low, normal, high, urgent.
    pub priority: String,
    /// Notes.
    pub admin_notes: String,
    /// Newest first.
    pub payment_records: Vec<PaymentRecord>,
    /// The newest 10 changes.
    pub status_history: Vec<StatusHistory>,
    /// total − Σ payment records.
    pub balance_due: Num,
    /// Newest first (§9.4).
    pub refunds: Vec<Refund>,
    /// Σ processed refunds (§9.4).
    pub refunded_amount: Dec,
    /// The credit notes of processed refunds of the invoiced order, oldest first (issue 11).
    pub credit_notes: Vec<CreditNote>,
}

/// A credit note on the admin order detail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditNote {
    /// `CN/26-27/00001`.
    pub number: String,
    /// The credited value (decimal string).
    pub amount: Dec,
    /// When it was issued (IST).
    pub created_at: String,
    /// `/api/admin/orders/{id}/credit-notes/{note_id}/`: the PDF.
    pub url: String,
}

impl CreditNote {
    fn new(order_id: i64, c: &common::orders::invoices::CreditNoteRow) -> Self {
        Self {
            number: c.number.clone(),
            amount: Dec(c.amount),
            created_at: common::time::ist(c.created_at),
            url: format!("/api/admin/orders/{order_id}/credit-notes/{}/", c.id),
        }
    }
}

impl AdminOrderDetail {
    /// The detail of a loaded order.
    pub fn new(base: &str, d: &OrderDetail) -> Self {
        let o = &d.order;
        let people = &d.people;
        let mut items = Vec::with_capacity(d.items.len());
        let mut resources = Vec::new();
        let first_static = first_static_item(&d.statics);
        for item in &d.items {
            let static_resource = d.static_of(item).map(|s| StaticResource::new(o.id, first_static, s));
            let dynamic: Vec<DynamicResource> = d.dynamics_of(item).map(DynamicResource::from).collect();
            if static_resource.is_some() || !dynamic.is_empty() {
                resources.push(ResGroup {
                    order_item_id: item.id,
                    item_type: item.product_type.clone(),
                    item_name: item.name().to_string(),
                    static_resource: static_resource.clone(),
                    dynamic: dynamic.clone(),
                });
            }
            items.push(AdminItem {
                item: OrderItem::new(base, item, d.products.of(item)),
                product_name: item.name().to_string(),
                resources: ItemResources { static_resource, dynamic },
            });
        }
        Self {
            summary: OrderSummary::new(o, people),
            razorpay_order_id: o.razorpay_order_id.clone(),
            razorpay_payment_id: o.razorpay_payment_id.clone(),
            items,
            resource_upload_progress: upload_progress(&d.items),
            resources,
            checklist: d.checklist.as_ref().map(Checklist::from),
            is_manual_order: o.is_manual_order,
            order_source: o.order_source.clone(),
            created_by: basic(people, o.created_by_id),
            payment_reference: o.payment_reference.clone(),
            priority: o.priority.clone(),
            admin_notes: o.admin_notes.clone(),
            payment_records: d.payment_records.iter().map(|r| PaymentRecord::new(r, people)).collect(),
            status_history: d.status_history.iter().map(|h| StatusHistory::new(h, people)).collect(),
            balance_due: Num(o.balance()),
            refunds: d.refunds.iter().map(|r| Refund::new(r, people)).collect(),
            refunded_amount: Dec(o.refunded_amount),
            credit_notes: d.credit_notes.iter().map(|c| CreditNote::new(o.id, c)).collect(),
        }
    }
}

/// `{success: true, message, order}` of the desk's changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderEnvelope {
    /// Always `true`.
    pub success: bool,
    /// What was done.
    pub message: String,
    /// The order as it is now.
    pub order: AdminOrderDetail,
}

impl OrderEnvelope {
    /// `{success: true, message, order}`.
    pub fn new(message: impl Into<String>, order: AdminOrderDetail) -> Self {
        Self { success: true, message: message.into(), order }
    }
}
