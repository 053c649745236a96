//! An order with everything its desk page shows (API.md §3 AdminOrderDetail, §9.4, §9.5), loaded
//! as one aggregate in a fixed number of queries: the order, its lines with their products, the
//! material submitted for them, the checklist, the payment records, the latest status changes,
//! the refunds and every user these name.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use super::records::{PaymentRecord, payment_records};
use crate::accounts::users::{self, User};
use crate::orders::checklist::{self, Checklist};
use crate::orders::refunds::{self, Refund};
use crate::orders::{LineProducts, Order, OrderItem, get, items};

/// Status changes the detail shows (the newest).
pub const HISTORY_SHOWN: i64 = 10;

/// Legacy material of an order line (`order_resource`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaticResource {
    /// Id.
    pub id: i64,
    /// Line.
    pub order_item_id: i64,
    /// Stored photo (`""`: none).
    pub candidate_photo: String,
    /// Stored logo (`""`: none).
    pub party_logo: String,
    /// Slogan.
    pub campaign_slogan: String,
    /// Date.
    pub preferred_date: Option<NaiveDate>,
    /// WhatsApp number.
    pub whatsapp_number: String,
    /// Notes.
    pub additional_notes: String,
    /// When.
    pub uploaded_at: DateTime<Utc>,
}

/// A submitted resource-field value.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DynamicResource {
    /// Submission id.
    pub id: i64,
    /// Line.
    pub order_item_id: i64,
    /// Field definition.
    pub field_id: i64,
    /// Field name.
    pub field_name: String,
    /// Field type: image, text, number, document, phone, date.
    pub field_type: String,
    /// When.
    pub uploaded_at: DateTime<Utc>,
    /// Text, phone or date value.
    pub text_value: Option<String>,
    /// Number value.
    pub number_value: Option<i32>,
    /// Stored file.
    pub file_value: Option<String>,
}

impl DynamicResource {
    /// An image or a document.
    pub fn is_file(&self) -> bool {
        self.field_type == "image" || self.field_type == "document"
    }
}

/// A status-history row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusChange {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// `""` at creation.
    pub old_status: String,
    /// New status.
    pub new_status: String,
    /// Who (`None`: the service).
    pub changed_by_id: Option<i64>,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// An admin's manual change.
    pub is_manual_change: bool,
}

/// An order's status history, newest first (`limit` rows at most).
pub async fn status_history(pool: &PgPool, order_id: i64, limit: i64) -> Result<Vec<StatusChange>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, order_id, old_status, new_status, changed_by_id, changed_at, reason, is_manual_change
         FROM order_status_history WHERE order_id = $1 ORDER BY changed_at DESC, id DESC LIMIT $2",
    )
    .bind(order_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A list of rows with the users they name.
#[derive(Debug, Clone, Default)]
pub struct WithPeople<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// The users they name, by id.
    pub people: HashMap<i64, User>,
}

/// An order's whole status history, newest first, with the users who made the changes.
pub async fn full_history(pool: &PgPool, order_id: i64) -> Result<WithPeople<StatusChange>, sqlx::Error> {
    let rows = status_history(pool, order_id, i64::MAX).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.changed_by_id).collect();
    Ok(WithPeople { people: users::find_many(pool, &ids).await?, rows })
}

/// An order's payment records, newest first, with the users who recorded them.
pub async fn records_with_people(pool: &PgPool, order_id: i64) -> Result<WithPeople<PaymentRecord>, sqlx::Error> {
    let rows = payment_records(pool, order_id).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.recorded_by_id).collect();
    Ok(WithPeople { people: users::find_many(pool, &ids).await?, rows })
}

/// An order's refunds, newest first, with the admins who asked for them.
pub async fn refunds_with_people(pool: &PgPool, order_id: i64) -> Result<WithPeople<Refund>, sqlx::Error> {
    let rows = refunds::list(pool, order_id).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.created_by_id).collect();
    Ok(WithPeople { people: users::find_many(pool, &ids).await?, rows })
}

/// The material of an order's lines: legacy uploads and resource-field submissions (by the
/// field's position).
pub async fn resources(
    pool: &PgPool,
    order_id: i64,
) -> Result<(Vec<StaticResource>, Vec<DynamicResource>), sqlx::Error> {
    let statics = sqlx::query_as(
        "SELECT r.id, r.order_item_id, r.candidate_photo, r.party_logo, r.campaign_slogan, r.preferred_date,
                r.whatsapp_number, r.additional_notes, r.uploaded_at
         FROM order_resource r JOIN order_item i ON i.id = r.order_item_id WHERE i.order_id = $1",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    let dynamics = sqlx::query_as(
        "SELECT s.id, s.order_item_id, s.field_definition_id AS field_id, d.field_name, d.field_type, s.uploaded_at,
                s.text_value, s.number_value, s.file_value
         FROM dynamic_resource_submission s
         JOIN order_item i ON i.id = s.order_item_id
         JOIN resource_field_definition d ON d.id = s.field_definition_id
         WHERE i.order_id = $1 ORDER BY d.\"order\", d.id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    Ok((statics, dynamics))
}

/// Everything the desk shows of one order.
#[derive(Debug, Clone)]
pub struct OrderDetail {
    /// The order.
    pub order: Order,
    /// Its lines, in insertion order.
    pub items: Vec<OrderItem>,
    /// The lines' products as they are now (deleted ones absent).
    pub products: LineProducts,
    /// Legacy material, per line.
    pub statics: Vec<StaticResource>,
    /// Resource-field submissions, by field position.
    pub dynamics: Vec<DynamicResource>,
    /// The checklist, once the order was assigned.
    pub checklist: Option<Checklist>,
    /// Payment records, newest first.
    pub payment_records: Vec<PaymentRecord>,
    /// The newest [`HISTORY_SHOWN`] status changes, newest first.
    pub status_history: Vec<StatusChange>,
    /// Refunds, newest first.
    pub refunds: Vec<Refund>,
    /// Credit notes, oldest first.
    pub credit_notes: Vec<crate::orders::invoices::CreditNoteRow>,
    /// The customer, assignee, creator, recorders, status changers and refunders, by id.
    pub people: HashMap<i64, User>,
}

impl OrderDetail {
    /// The legacy material of a line.
    pub fn static_of(&self, item: &OrderItem) -> Option<&StaticResource> {
        self.statics.iter().find(|s| s.order_item_id == item.id)
    }

    /// The submissions of a line.
    pub fn dynamics_of<'a>(&'a self, item: &'a OrderItem) -> impl Iterator<Item = &'a DynamicResource> + 'a {
        self.dynamics.iter().filter(move |d| d.order_item_id == item.id)
    }

    /// A user the order names.
    pub fn person(&self, id: Option<i64>) -> Option<&User> {
        id.and_then(|id| self.people.get(&id))
    }
}

/// Loads an order's detail (staff: only an order assigned to them; `None` otherwise or when
/// there is no such order).
pub async fn load(pool: &PgPool, id: i64, only_assignee: Option<i64>) -> Result<Option<OrderDetail>, sqlx::Error> {
    let Some(order) = get(pool, id, None).await? else { return Ok(None) };
    if only_assignee.is_some() && order.assigned_to_id != only_assignee {
        return Ok(None);
    }
    let items = items(pool, &[id]).await?;
    let products = LineProducts::load(&mut *pool.acquire().await?, &items).await?;
    let (statics, dynamics) = resources(pool, id).await?;
    let checklist = checklist::load(pool, id).await?;
    let payment_records = payment_records(pool, id).await?;
    let status_history = status_history(pool, id, HISTORY_SHOWN).await?;
    let refunds = refunds::list(pool, id).await?;
    let credit_notes = crate::orders::invoices::credit_notes(&mut *pool.acquire().await?, id).await?;
    let mut ids = vec![order.user_id];
    ids.extend(order.assigned_to_id);
    ids.extend(order.created_by_id);
    ids.extend(payment_records.iter().filter_map(|r| r.recorded_by_id));
    ids.extend(status_history.iter().filter_map(|h| h.changed_by_id));
    ids.extend(refunds.iter().filter_map(|r| r.created_by_id));
    let people = users::find_many(pool, &ids).await?;
    Ok(Some(OrderDetail {
        order,
        items,
        products,
        statics,
        dynamics,
        checklist,
        payment_records,
        status_history,
        refunds,
        credit_notes,
        people,
    }))
}
