//! Customers' campaign material, the write side (API.md §4.5 `upload-resources/` and
//! `submit-resources/`, §7.1, §7.4, §7.7): what an order asks for, saving a line's values in one
//! transaction with the jobs that store its files, the status change when every line is done,
//! and the row updates of the media worker.
//!
//! Files arrive already staged under `MEDIA_DIR/private/staging` (the API streams them there and
//! checks them); a row first holds the staged key, and a `StoreResourceFile` job enqueued in the
//! same transaction stores the file privately and swaps the key. A replaced file's old key goes
//! to a `DeletePrivateFiles` job, also in that transaction.

use std::collections::HashSet;

use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};

use super::admin::detail::StaticResource;
use super::{Actor, OrderStatus, notify_admins, set_status};
use crate::catalog::resource_fields::FieldDefinition;
use crate::db::is_unique_violation;
use crate::jobs::{self, DeletePrivateFiles, LegacyResourceColumn, ResourceFileRef, StoreResourceFile};
use crate::media::{PRIVATE_STAGING_DIR, PrivateFile};
use crate::money::Money;

/// Statuses in which material is accepted (§4.5).
pub const OPEN_STATUSES: [OrderStatus; 2] = [OrderStatus::PendingResources, OrderStatus::ReadyForProcessing];

/// Whether a stored value is a file still waiting in the private staging directory.
pub fn is_staged(key: &str) -> bool {
    key.strip_prefix(PRIVATE_STAGING_DIR).is_some_and(|rest| rest.starts_with('/'))
}

/// An order line as the upload routes see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadItem {
    /// Line id.
    pub id: i64,
    /// `package` or `campaign`.
    pub product_type: String,
    /// Product id.
    pub product_id: i64,
    /// Material already in.
    pub resources_uploaded: bool,
}

/// One of a customer's orders with what its lines ask for: enough to check a form before any
/// byte of it is read.
#[derive(Debug, Clone)]
pub struct UploadContext {
    /// Order id.
    pub order_id: i64,
    /// §7.1 status, as loaded (checked again under the row lock).
    pub status: String,
    /// Its lines, in insertion order.
    pub items: Vec<UploadItem>,
    /// The resource fields of the lines' products, by position then id.
    pub fields: Vec<FieldDefinition>,
}

impl UploadContext {
    /// Whether the status takes material (pending_resources, ready_for_processing).
    pub fn accepts_material(&self) -> bool {
        OPEN_STATUSES.iter().any(|s| s.as_str() == self.status)
    }

    /// A line of the order.
    pub fn item(&self, id: i64) -> Option<&UploadItem> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The fields a line's product asks for, by position.
    pub fn fields_of<'a>(&'a self, item: &'a UploadItem) -> impl Iterator<Item = &'a FieldDefinition> + 'a {
        self.fields.iter().filter(move |f| f.product_type == item.product_type && f.product_id == item.product_id)
    }

    /// A field of any of the order's products.
    pub fn field(&self, id: i64) -> Option<&FieldDefinition> {
        self.fields.iter().find(|f| f.id == id)
    }
}

/// Loads one of `user_id`'s orders with its lines and their products' fields (three queries);
/// `None` when it is not theirs or does not exist.
pub async fn load_context(pool: &PgPool, order_id: i64, user_id: i64) -> Result<Option<UploadContext>, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1 AND user_id = $2")
        .bind(order_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await?;
    let Some(status) = status else { return Ok(None) };
    let items: Vec<UploadItem> = sqlx::query_as(
        "SELECT id, product_type, product_id, resources_uploaded FROM order_item WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    let fields: Vec<FieldDefinition> = sqlx::query_as(
        r#"SELECT d.id, d.product_type, d.product_id, d.field_name, d.field_type, d.is_required, d."order",
                  d.help_text, d.max_file_size_mb, d.max_length, d.min_value, d.max_value, d.allowed_extensions,
                  d.created_at
           FROM resource_field_definition d
           WHERE (d.product_type, d.product_id) IN (SELECT product_type, product_id FROM order_item WHERE order_id = $1)
           ORDER BY d."order", d.id"#,
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    Ok(Some(UploadContext { order_id, status, items, fields }))
}

/// Whether a line already has its legacy upload.
pub async fn has_legacy_upload(pool: &PgPool, item_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM order_resource WHERE order_item_id = $1)")
        .bind(item_id)
        .fetch_one(pool)
        .await
}

/// A validated value of one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmittedValue {
    /// Text, phone or date.
    Text(String),
    /// A number.
    Number(i32),
    /// A staged file's key (`private/staging/<name>.<ext>`).
    File(String),
}

/// A value for a field definition of the line's product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubmission {
    /// `resource_field_definition.id`.
    pub field_id: i64,
    /// The value.
    pub value: SubmittedValue,
}

/// The legacy material of a line (§4.5 `upload-resources/`), its images staged.
#[derive(Debug, Clone)]
pub struct LegacyUpload {
    /// Staged key of the photo.
    pub candidate_photo: String,
    /// Staged key of the logo.
    pub party_logo: String,
    /// ≤ 1000 characters.
    pub campaign_slogan: String,
    /// Date.
    pub preferred_date: NaiveDate,
    /// ≤ 15 characters, ≥ 10 digits.
    pub whatsapp_number: String,
    /// ≤ 2000 characters.
    pub additional_notes: String,
}

/// What `upload-resources/` recorded.
#[derive(Debug, Clone)]
pub struct LegacyRecorded {
    /// The new row.
    pub resource: StaticResource,
    /// The order's first line (by id) with a legacy upload, whose files the secure-file route
    /// serves without `?item=`.
    pub first_item: Option<i64>,
    /// Where the order stands.
    pub outcome: Outcome,
}

/// Where the order stands after a line's material came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Its status now.
    pub order_status: String,
    /// Every line has its material.
    pub all_uploaded: bool,
}

/// Why material was not saved.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// Not the caller's order, or no such order.
    #[error("order not found")]
    OrderNotFound,
    /// The status takes no material (the status).
    #[error("order status {0} takes no material")]
    Closed(String),
    /// The line is not one of the order's.
    #[error("order item not found")]
    ItemNotFound,
    /// The line already has its legacy upload.
    #[error("resources already uploaded")]
    AlreadyUploaded,
    /// Anything else.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct LockedOrder {
    status: String,
    order_number: String,
    total: i64,
    phone_number: Option<String>,
    username: String,
}

/// Locks one of the customer's orders and checks that it takes material and has the line.
async fn lock_open(
    conn: &mut PgConnection,
    order_id: i64,
    user_id: i64,
    item_id: i64,
) -> Result<LockedOrder, ResourceError> {
    let order: LockedOrder = sqlx::query_as(
        "SELECT o.status, o.order_number, (o.total_amount * 100)::bigint AS total, u.phone_number, u.username
         FROM orders o JOIN users u ON u.id = o.user_id
         WHERE o.id = $1 AND o.user_id = $2 FOR UPDATE OF o",
    )
    .bind(order_id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ResourceError::OrderNotFound)?;
    if !OPEN_STATUSES.iter().any(|s| s.as_str() == order.status) {
        return Err(ResourceError::Closed(order.status));
    }
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM order_item WHERE id = $1 AND order_id = $2")
        .bind(item_id)
        .bind(order_id)
        .fetch_optional(&mut *conn)
        .await?;
    found.ok_or(ResourceError::ItemNotFound)?;
    Ok(order)
}

/// Marks the line done; when every line is, a `pending_resources` order moves to
/// `ready_for_processing` (status history, the customer as actor) and, as the original does on
/// every such submission (§7.1), every admin gets the `new_order` notification (§7.7).
async fn line_done(
    conn: &mut PgConnection,
    order_id: i64,
    order: &LockedOrder,
    item_id: i64,
    user_id: i64,
) -> Result<Outcome, sqlx::Error> {
    sqlx::query("UPDATE order_item SET resources_uploaded = true WHERE id = $1")
        .bind(item_id)
        .execute(&mut *conn)
        .await?;
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_item WHERE order_id = $1 AND NOT resources_uploaded")
            .bind(order_id)
            .fetch_one(&mut *conn)
            .await?;
    let mut status = order.status.clone();
    if pending == 0 {
        if status == OrderStatus::PendingResources.as_str() {
            let ready = OrderStatus::ReadyForProcessing;
            set_status(conn, order_id, &status, ready, Actor::User(user_id), "All resources uploaded", false).await?;
            status = ready.as_str().to_string();
        }
        if status == OrderStatus::ReadyForProcessing.as_str() {
            let from = order.phone_number.as_deref().filter(|p| !p.is_empty()).unwrap_or(&order.username);
            let message = format!(
                "Order {} from {from} is ready for processing. Total: ₹{}",
                order.order_number,
                Money(order.total)
            );
            notify_admins(conn, "new_order", "New Order Ready for Processing", &message, Some(order_id)).await?;
        }
    }
    Ok(Outcome { order_status: status, all_uploaded: pending == 0 })
}

/// Keys a replaced value leaves behind that are ours to delete (local private paths and
/// Cloudinary assets; URLs of older releases are left alone).
fn ours(old: Option<String>) -> Option<String> {
    old.filter(|k| matches!(PrivateFile::parse(k), Some(PrivateFile::Local(_) | PrivateFile::Cloudinary { .. })))
}

/// `submit-resources/`: saves the line's values in one transaction (a resubmitted field's value
/// replaces the old one), enqueues the storing of each staged file and the deletion of each
/// replaced one, marks the line done and applies §7.1. The caller checked the values against
/// the line's fields.
pub async fn submit(
    pool: &PgPool,
    order_id: i64,
    user_id: i64,
    item_id: i64,
    values: &[NewSubmission],
) -> Result<Outcome, ResourceError> {
    let mut tx = crate::db::begin(pool).await?;
    let order = lock_open(&mut tx, order_id, user_id, item_id).await?;
    let mut replaced = Vec::new();
    for v in values {
        let old: Option<Option<String>> = sqlx::query_scalar(
            "SELECT file_value FROM dynamic_resource_submission
             WHERE order_item_id = $1 AND field_definition_id = $2 FOR UPDATE",
        )
        .bind(item_id)
        .bind(v.field_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (text, number, file) = match &v.value {
            SubmittedValue::Text(t) => (Some(t.as_str()), None, None),
            SubmittedValue::Number(n) => (None, Some(*n), None),
            SubmittedValue::File(key) => (None, None, Some(key.as_str())),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO dynamic_resource_submission
                 (order_item_id, field_definition_id, text_value, number_value, file_value, uploaded_at)
             VALUES ($1, $2, $3, $4, $5, now())
             ON CONFLICT (order_item_id, field_definition_id) DO UPDATE
                 SET text_value = EXCLUDED.text_value, number_value = EXCLUDED.number_value,
                     file_value = EXCLUDED.file_value, uploaded_at = EXCLUDED.uploaded_at
             RETURNING id",
        )
        .bind(item_id)
        .bind(v.field_id)
        .bind(text)
        .bind(number)
        .bind(file)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(old) = ours(old.flatten()).filter(|old| Some(old.as_str()) != file) {
            replaced.push(old);
        }
        if file.is_some_and(is_staged) {
            let job = StoreResourceFile { file: ResourceFileRef::DynamicResourceSubmission { id } };
            jobs::enqueue(&mut tx, &job, None).await?;
        }
    }
    if !replaced.is_empty() {
        jobs::enqueue(&mut tx, &DeletePrivateFiles { keys: replaced }, None).await?;
    }
    let outcome = line_done(&mut tx, order_id, &order, item_id, user_id).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// `upload-resources/`: records the line's legacy material once (a second upload for the line
/// is refused by the unique constraint), enqueues the storing of both images, marks the line
/// done and applies §7.1.
pub async fn upload_legacy(
    pool: &PgPool,
    order_id: i64,
    user_id: i64,
    item_id: i64,
    upload: &LegacyUpload,
) -> Result<LegacyRecorded, ResourceError> {
    let mut tx = crate::db::begin(pool).await?;
    let order = lock_open(&mut tx, order_id, user_id, item_id).await?;
    let inserted = sqlx::query_as::<_, StaticResource>(
        "INSERT INTO order_resource (order_item_id, candidate_photo, party_logo, campaign_slogan, preferred_date,
                                     whatsapp_number, additional_notes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, order_item_id, candidate_photo, party_logo, campaign_slogan, preferred_date, whatsapp_number,
                   additional_notes, uploaded_at",
    )
    .bind(item_id)
    .bind(&upload.candidate_photo)
    .bind(&upload.party_logo)
    .bind(&upload.campaign_slogan)
    .bind(upload.preferred_date)
    .bind(&upload.whatsapp_number)
    .bind(&upload.additional_notes)
    .fetch_one(&mut *tx)
    .await;
    let resource = match inserted {
        Ok(r) => r,
        Err(e) if is_unique_violation(&e, "order_resource_item_key") => return Err(ResourceError::AlreadyUploaded),
        Err(e) => return Err(e.into()),
    };
    for (column, key) in [
        (LegacyResourceColumn::CandidatePhoto, &resource.candidate_photo),
        (LegacyResourceColumn::PartyLogo, &resource.party_logo),
    ] {
        if is_staged(key) {
            let job = StoreResourceFile { file: ResourceFileRef::OrderResource { id: resource.id, column } };
            jobs::enqueue(&mut tx, &job, None).await?;
        }
    }
    let first_item: Option<i64> = sqlx::query_scalar(
        "SELECT min(r.order_item_id) FROM order_resource r JOIN order_item i ON i.id = r.order_item_id
         WHERE i.order_id = $1",
    )
    .bind(order_id)
    .fetch_one(&mut *tx)
    .await?;
    let outcome = line_done(&mut tx, order_id, &order, item_id, user_id).await?;
    tx.commit().await?;
    Ok(LegacyRecorded { resource, first_item, outcome })
}

/// The stored key of a file: `None` when its row is gone, `Some(None)` when it holds none.
pub async fn file_of(pool: &PgPool, file: &ResourceFileRef) -> Result<Option<Option<String>>, sqlx::Error> {
    match file {
        ResourceFileRef::DynamicResourceSubmission { id } => {
            sqlx::query_scalar("SELECT file_value FROM dynamic_resource_submission WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        }
        ResourceFileRef::OrderResource { id, column } => {
            let sql = match column {
                LegacyResourceColumn::CandidatePhoto => "SELECT candidate_photo FROM order_resource WHERE id = $1",
                LegacyResourceColumn::PartyLogo => "SELECT party_logo FROM order_resource WHERE id = $1",
            };
            let value: Option<String> = sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await?;
            Ok(value.map(|v| Some(v).filter(|v| !v.is_empty())))
        }
    }
}

/// Points a file's row at its stored key, if it still holds the staged one; true when it did.
pub async fn finish_file(
    pool: &PgPool,
    file: &ResourceFileRef,
    staged: &str,
    stored: &str,
) -> Result<bool, sqlx::Error> {
    let done = match file {
        ResourceFileRef::DynamicResourceSubmission { id } => {
            sqlx::query("UPDATE dynamic_resource_submission SET file_value = $3 WHERE id = $1 AND file_value = $2")
                .bind(id)
                .bind(staged)
                .bind(stored)
                .execute(pool)
                .await?
        }
        ResourceFileRef::OrderResource { id, column: LegacyResourceColumn::CandidatePhoto } => {
            sqlx::query("UPDATE order_resource SET candidate_photo = $3 WHERE id = $1 AND candidate_photo = $2")
                .bind(id)
                .bind(staged)
                .bind(stored)
                .execute(pool)
                .await?
        }
        ResourceFileRef::OrderResource { id, column: LegacyResourceColumn::PartyLogo } => {
            sqlx::query("UPDATE order_resource SET party_logo = $3 WHERE id = $1 AND party_logo = $2")
                .bind(id)
                .bind(staged)
                .bind(stored)
                .execute(pool)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// Which of some private staging keys a row still names (a resource submission, a legacy
/// upload or a payment proof): those are kept by the staging clean-up.
pub async fn referenced_keys(pool: &PgPool, keys: &[String]) -> Result<HashSet<String>, sqlx::Error> {
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT file_value FROM dynamic_resource_submission WHERE file_value = ANY($1)
         UNION SELECT candidate_photo FROM order_resource WHERE candidate_photo = ANY($1)
         UNION SELECT party_logo FROM order_resource WHERE party_logo = ANY($1)
         UNION SELECT payment_proof FROM payment_record WHERE payment_proof = ANY($1)",
    )
    .bind(keys)
    .fetch_all(pool)
    .await?;
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_staged_keys_and_ours() {
        assert!(is_staged("private/staging/abc.pdf"));
        assert!(!is_staged("private/staging_x/abc.pdf"));
        assert!(!is_staged("private/resources/abc.pdf"));
        assert_eq!(ours(Some("private/resources/a.pdf".into())).as_deref(), Some("private/resources/a.pdf"));
        assert_eq!(
            ours(Some("cloudinary:raw/resources/a.pdf".into())).as_deref(),
            Some("cloudinary:raw/resources/a.pdf")
        );
        assert_eq!(ours(Some("https://res.cloudinary.com/x/image/upload/a.png".into())), None);
        assert_eq!(ours(Some(String::new())), None);
        assert_eq!(ours(None), None);
    }
}
