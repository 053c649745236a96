//! Reading a customer's material (API.md §4.5 `resources/`, `resource-status/`,
//! `resource-fields/`, and the secure-file routes of §4.11): an order's lines with their legacy
//! uploads (`order_resource`), their resource-field submissions and the fields their products
//! ask for, loaded in a fixed number of queries; and, for the file routes, a stored file with
//! the parties who may fetch it.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::admin::detail::{DynamicResource, StaticResource, resources};
use super::{Order, OrderItem, get, items};
use crate::accounts::users::User;
use crate::catalog::resource_fields::FieldDefinition;

/// A file of a legacy upload (`order_resource`), as the `orders/{order_id}/{resource_type}/`
/// route names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyFile {
    /// `candidate_photo`.
    CandidatePhoto,
    /// `party_logo`.
    PartyLogo,
}

impl LegacyFile {
    /// Parses a `{resource_type}`; anything else is `None`.
    pub fn parse(value: &str) -> Option<LegacyFile> {
        match value {
            "candidate_photo" => Some(LegacyFile::CandidatePhoto),
            "party_logo" => Some(LegacyFile::PartyLogo),
            _ => None,
        }
    }

    /// The path segment and column name.
    pub fn as_str(self) -> &'static str {
        match self {
            LegacyFile::CandidatePhoto => "candidate_photo",
            LegacyFile::PartyLogo => "party_logo",
        }
    }

    /// The stored value of this file in a legacy upload (`""`: none).
    pub fn of(self, resource: &StaticResource) -> &str {
        match self {
            LegacyFile::CandidatePhoto => &resource.candidate_photo,
            LegacyFile::PartyLogo => &resource.party_logo,
        }
    }
}

/// The people an order's material is shown to besides the desk: its customer and its assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Parties {
    /// The customer.
    pub user_id: i64,
    /// The staff member who has the order.
    pub assigned_to_id: Option<i64>,
}

impl Parties {
    /// Whether `user` may fetch the order's files (§4.11): the customer, the assignee, or an
    /// `admin*` user (`is_staff` flag or role admin). A role-staff user without the flag sees
    /// only the orders assigned to them.
    pub fn allow(&self, user: &User) -> bool {
        user.id == self.user_id || self.assigned_to_id == Some(user.id) || user.is_admin_star()
    }
}

/// A resource-field submission's file, with what its access check needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubmissionFile {
    /// Submission id.
    pub id: i64,
    /// The field's type (`image`, `document`, …).
    pub field_type: String,
    /// Storage key (a `crate::media::PrivateFile`); `None` or `""` when none.
    pub file_value: Option<String>,
    /// Who may fetch it.
    #[sqlx(flatten)]
    pub parties: Parties,
}

impl SubmissionFile {
    /// The storage key, when a file was stored.
    pub fn stored(&self) -> Option<&str> {
        self.file_value.as_deref().filter(|f| !f.is_empty())
    }

    /// A document field's file (sent as an attachment; images are shown inline).
    pub fn is_document(&self) -> bool {
        self.field_type == "document"
    }
}

/// A submission by id, with its field's type and its order's customer and assignee.
pub async fn submission_file(pool: &PgPool, submission_id: i64) -> Result<Option<SubmissionFile>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, d.field_type, s.file_value, o.user_id, o.assigned_to_id
         FROM dynamic_resource_submission s
         JOIN resource_field_definition d ON d.id = s.field_definition_id
         JOIN order_item i ON i.id = s.order_item_id
         JOIN orders o ON o.id = i.order_id
         WHERE s.id = $1",
    )
    .bind(submission_id)
    .fetch_optional(pool)
    .await
}

/// An order's legacy upload as the file route serves it.
#[derive(Debug, Clone)]
pub struct LegacyFiles {
    /// Who may fetch it.
    pub parties: Parties,
    /// The upload of the order's first line that has one (or of the line asked for); `None`
    /// when there is none.
    pub resource: Option<StaticResource>,
}

#[derive(sqlx::FromRow)]
struct LegacyRow {
    #[sqlx(flatten)]
    parties: Parties,
    id: Option<i64>,
    order_item_id: Option<i64>,
    candidate_photo: Option<String>,
    party_logo: Option<String>,
    campaign_slogan: Option<String>,
    preferred_date: Option<chrono::NaiveDate>,
    whatsapp_number: Option<String>,
    additional_notes: Option<String>,
    uploaded_at: Option<DateTime<Utc>>,
}

/// An order's customer and assignee, with the legacy upload of its first line that has one
/// (by line id, the insertion order) or, when `item_id` is given, of that line of the order.
/// `None` when there is no such order.
pub async fn legacy_files(
    pool: &PgPool,
    order_id: i64,
    item_id: Option<i64>,
) -> Result<Option<LegacyFiles>, sqlx::Error> {
    let row: Option<LegacyRow> = sqlx::query_as(
        "SELECT o.user_id, o.assigned_to_id, r.id, r.order_item_id, r.candidate_photo, r.party_logo,
                r.campaign_slogan, r.preferred_date, r.whatsapp_number, r.additional_notes, r.uploaded_at
         FROM orders o
         LEFT JOIN LATERAL (
             SELECT r.* FROM order_resource r JOIN order_item i ON i.id = r.order_item_id
             WHERE i.order_id = o.id AND ($2::bigint IS NULL OR i.id = $2)
             ORDER BY i.id LIMIT 1
         ) r ON true
         WHERE o.id = $1",
    )
    .bind(order_id)
    .bind(item_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| {
        let resource = match (r.id, r.order_item_id, r.uploaded_at) {
            (Some(id), Some(order_item_id), Some(uploaded_at)) => Some(StaticResource {
                id,
                order_item_id,
                candidate_photo: r.candidate_photo.unwrap_or_default(),
                party_logo: r.party_logo.unwrap_or_default(),
                campaign_slogan: r.campaign_slogan.unwrap_or_default(),
                preferred_date: r.preferred_date,
                whatsapp_number: r.whatsapp_number.unwrap_or_default(),
                additional_notes: r.additional_notes.unwrap_or_default(),
                uploaded_at,
            }),
            _ => None,
        };
        LegacyFiles { parties: r.parties, resource }
    }))
}

/// One of a customer's orders with its material: lines, legacy uploads, submissions and the
/// fields the lines' products ask for.
#[derive(Debug, Clone)]
pub struct OrderMaterial {
    /// The order.
    pub order: Order,
    /// Its lines, in insertion order.
    pub items: Vec<OrderItem>,
    /// Legacy uploads, one per line at most.
    pub statics: Vec<StaticResource>,
    /// Submissions, by their field's position.
    pub dynamics: Vec<DynamicResource>,
    /// The resource fields of the lines' products, by position then id (empty unless asked).
    pub fields: Vec<FieldDefinition>,
}

impl OrderMaterial {
    /// The legacy upload of a line.
    pub fn static_of(&self, item: &OrderItem) -> Option<&StaticResource> {
        self.statics.iter().find(|s| s.order_item_id == item.id)
    }

    /// The submissions of a line.
    pub fn dynamics_of<'a>(&'a self, item: &'a OrderItem) -> impl Iterator<Item = &'a DynamicResource> + 'a {
        self.dynamics.iter().filter(move |d| d.order_item_id == item.id)
    }

    /// A line's submission for a field.
    pub fn submission(&self, item: &OrderItem, field_id: i64) -> Option<&DynamicResource> {
        self.dynamics.iter().find(|d| d.order_item_id == item.id && d.field_id == field_id)
    }

    /// The fields a line's product asks for, by position.
    pub fn fields_of<'a>(&'a self, item: &'a OrderItem) -> impl Iterator<Item = &'a FieldDefinition> + 'a {
        self.fields.iter().filter(move |f| f.product_type == item.product_type && f.product_id == item.product_id)
    }

    /// The first line (by insertion) with a legacy upload: the one whose files the
    /// `orders/{order_id}/{resource_type}/` route serves without `?item=`.
    pub fn first_static_item(&self) -> Option<i64> {
        first_static_item(&self.statics)
    }

    /// When a line's material came in: its legacy upload's time, else its latest submission's.
    pub fn uploaded_at(&self, item: &OrderItem) -> Option<DateTime<Utc>> {
        self.static_of(item).map(|s| s.uploaded_at).or_else(|| self.dynamics_of(item).map(|d| d.uploaded_at).max())
    }
}

/// The first line (lowest id, the insertion order) among some legacy uploads.
pub fn first_static_item(statics: &[StaticResource]) -> Option<i64> {
    statics.iter().map(|s| s.order_item_id).min()
}

/// Loads one of `user_id`'s orders with its material (and, with `with_fields`, the fields its
/// products ask for); `None` when the order is not theirs or does not exist. Four or five
/// queries whatever the number of lines.
pub async fn load_own(
    pool: &PgPool,
    order_id: i64,
    user_id: i64,
    with_fields: bool,
) -> Result<Option<OrderMaterial>, sqlx::Error> {
    let Some(order) = get(pool, order_id, Some(user_id)).await? else { return Ok(None) };
    let items = items(pool, &[order_id]).await?;
    let (statics, dynamics) = resources(pool, order_id).await?;
    let fields = if with_fields { fields_of_order(pool, order_id).await? } else { Vec::new() };
    Ok(Some(OrderMaterial { order, items, statics, dynamics, fields }))
}

/// The resource fields of the products an order's lines name, by position then id.
async fn fields_of_order(pool: &PgPool, order_id: i64) -> Result<Vec<FieldDefinition>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT d.id, d.product_type, d.product_id, d.field_name, d.field_type, d.is_required, d."order",
                  d.help_text, d.max_file_size_mb, d.max_length, d.min_value, d.max_value, d.allowed_extensions,
                  d.created_at
           FROM resource_field_definition d
           WHERE (d.product_type, d.product_id) IN (SELECT product_type, product_id FROM order_item WHERE order_id = $1)
           ORDER BY d."order", d.id"#,
    )
    .bind(order_id)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: &str, is_staff: bool) -> User {
        User {
            id,
            password: String::new(),
            username: format!("u{id}"),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            phone_number: None,
            role: role.into(),
            is_staff,
            is_superuser: false,
            is_active: true,
            firebase_uid: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            sessions_valid_after: None,
        }
    }

    #[test]
    fn files_are_for_the_customer_the_assignee_and_admin_star_users() {
        let parties = Parties { user_id: 1, assigned_to_id: Some(2) };
        assert!(parties.allow(&user(1, "user", false)));
        assert!(parties.allow(&user(2, "staff", false)));
        assert!(parties.allow(&user(3, "admin", false)));
        assert!(parties.allow(&user(4, "user", true)));
        assert!(!parties.allow(&user(5, "staff", false)));
        assert!(!parties.allow(&user(6, "user", false)));
        assert!(!Parties { user_id: 1, assigned_to_id: None }.allow(&user(5, "staff", false)));
    }

    #[test]
    fn legacy_file_names() {
        for f in [LegacyFile::CandidatePhoto, LegacyFile::PartyLogo] {
            assert_eq!(LegacyFile::parse(f.as_str()), Some(f));
        }
        assert_eq!(LegacyFile::parse("campaign_slogan"), None);
    }
}
