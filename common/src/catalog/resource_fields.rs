//! Resource-field definitions of a product (`resource_field_definition`, API.md §4.9, §7.4):
//! what a customer must upload or type in for each ordered item.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgExecutor};

use super::ProductType;
use super::checklist_templates::{DeleteOutcome, is_fk_violation, last_wins};
use crate::db::is_unique_violation;

/// Kind of value a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// An image file.
    Image,
    /// Free text.
    Text,
    /// An integer.
    Number,
    /// A document file.
    Document,
    /// A phone number, stored as text.
    Phone,
    /// A date, stored as text.
    Date,
}

impl FieldType {
    /// Every type, in the original's choice order.
    pub const ALL: [FieldType; 6] =
        [FieldType::Image, FieldType::Text, FieldType::Number, FieldType::Document, FieldType::Phone, FieldType::Date];

    /// Parses the stored or submitted value.
    pub fn parse(value: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// Stored and serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Image => "image",
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Document => "document",
            FieldType::Phone => "phone",
            FieldType::Date => "date",
        }
    }

    /// Largest `max_file_size_mb` a definition of this type may set (§7.4), for file types.
    pub fn max_file_size_limit_mb(self) -> Option<i32> {
        match self {
            FieldType::Image => Some(10),
            FieldType::Document => Some(20),
            _ => None,
        }
    }

    /// Largest `max_length` a definition of this type may set (§7.4).
    pub fn max_length_limit(self) -> Option<i32> {
        match self {
            FieldType::Text => Some(500),
            _ => None,
        }
    }
}

/// A row of `resource_field_definition`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FieldDefinition {
    /// Id.
    pub id: i64,
    /// `package` or `campaign`.
    pub product_type: String,
    /// Id of the product.
    pub product_id: i64,
    /// Label, unique per product.
    pub field_name: String,
    /// Stored [`FieldType`] value.
    pub field_type: String,
    /// Whether a value must be submitted.
    pub is_required: bool,
    /// Position among the product's fields; ties are broken by id.
    pub order: i32,
    /// Hint shown to the customer.
    pub help_text: String,
    /// File size limit in MB.
    pub max_file_size_mb: Option<i32>,
    /// Text length limit.
    pub max_length: Option<i32>,
    /// Smallest number accepted.
    pub min_value: Option<i32>,
    /// Largest number accepted.
    pub max_value: Option<i32>,
    /// Accepted file extensions (`[".pdf", …]`), as stored.
    pub allowed_extensions: Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = r#"id, product_type, product_id, field_name, field_type, is_required, "order", help_text,
    max_file_size_mb, max_length, min_value, max_value, allowed_extensions, created_at"#;

/// A complete definition as written by the admin (create, or full replacement on update).
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// Label (≤ 100 characters).
    pub field_name: String,
    /// Kind of value.
    pub field_type: FieldType,
    /// Must be submitted.
    pub is_required: bool,
    /// Position.
    pub order: i32,
    /// Hint (≤ 200 characters).
    pub help_text: String,
    /// File size limit in MB.
    pub max_file_size_mb: Option<i32>,
    /// Text length limit.
    pub max_length: Option<i32>,
    /// Smallest number accepted.
    pub min_value: Option<i32>,
    /// Largest number accepted.
    pub max_value: Option<i32>,
    /// Accepted extensions, each starting with a dot.
    pub allowed_extensions: Vec<String>,
}

/// Why a definition could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FieldWriteError {
    /// `resource_field_definition_product_name_key`: the product already has a field of this name.
    #[error("field name taken")]
    DuplicateName,
    /// Anything else.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn classify(err: sqlx::Error) -> FieldWriteError {
    if is_unique_violation(&err, "resource_field_definition_product_name_key") {
        FieldWriteError::DuplicateName
    } else {
        FieldWriteError::Database(err)
    }
}

/// Whether an entry of `allowed_extensions` is acceptable: a dot followed by letters or digits.
pub fn valid_extension(ext: &str) -> bool {
    ext.strip_prefix('.').is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The product's fields by `order`, then id.
pub async fn list<'e>(
    db: impl PgExecutor<'e>,
    kind: ProductType,
    product_id: i64,
) -> Result<Vec<FieldDefinition>, sqlx::Error> {
    sqlx::query_as::<_, FieldDefinition>(AssertSqlSafe(format!(
        r#"SELECT {COLUMNS} FROM resource_field_definition
           WHERE product_type = $1 AND product_id = $2 ORDER BY "order", id"#
    )))
    .bind(kind.as_str())
    .bind(product_id)
    .fetch_all(db)
    .await
}

/// One definition by id.
pub async fn find<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<Option<FieldDefinition>, sqlx::Error> {
    sqlx::query_as::<_, FieldDefinition>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM resource_field_definition WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Adds a definition to a product; `Ok(None)` when the product does not exist. One statement:
/// the product row is key-share locked during the insert and the name's uniqueness is the
/// constraint's to enforce.
pub async fn create<'e>(
    db: impl PgExecutor<'e>,
    kind: ProductType,
    product_id: i64,
    spec: &FieldSpec,
) -> Result<Option<FieldDefinition>, FieldWriteError> {
    let table = kind.table();
    sqlx::query_as::<_, FieldDefinition>(AssertSqlSafe(format!(
        r#"INSERT INTO resource_field_definition
               (product_type, product_id, field_name, field_type, is_required, "order", help_text,
                max_file_size_mb, max_length, min_value, max_value, allowed_extensions)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
           WHERE EXISTS (SELECT 1 FROM {table} WHERE id = $2 FOR KEY SHARE)
           RETURNING {COLUMNS}"#
    )))
    .bind(kind.as_str())
    .bind(product_id)
    .bind(&spec.field_name)
    .bind(spec.field_type.as_str())
    .bind(spec.is_required)
    .bind(spec.order)
    .bind(&spec.help_text)
    .bind(spec.max_file_size_mb)
    .bind(spec.max_length)
    .bind(spec.min_value)
    .bind(spec.max_value)
    .bind(sqlx::types::Json(&spec.allowed_extensions))
    .fetch_optional(db)
    .await
    .map_err(classify)
}

/// Replaces every writable column of a definition; `Ok(None)` when it does not exist.
pub async fn update<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    spec: &FieldSpec,
) -> Result<Option<FieldDefinition>, FieldWriteError> {
    sqlx::query_as::<_, FieldDefinition>(AssertSqlSafe(format!(
        r#"UPDATE resource_field_definition SET
               field_name = $2, field_type = $3, is_required = $4, "order" = $5, help_text = $6,
               max_file_size_mb = $7, max_length = $8, min_value = $9, max_value = $10, allowed_extensions = $11
           WHERE id = $1
           RETURNING {COLUMNS}"#
    )))
    .bind(id)
    .bind(&spec.field_name)
    .bind(spec.field_type.as_str())
    .bind(spec.is_required)
    .bind(spec.order)
    .bind(&spec.help_text)
    .bind(spec.max_file_size_mb)
    .bind(spec.max_length)
    .bind(spec.min_value)
    .bind(spec.max_value)
    .bind(sqlx::types::Json(&spec.allowed_extensions))
    .fetch_optional(db)
    .await
    .map_err(classify)
}

/// Deletes a definition unless values were submitted for it: the foreign key of
/// `dynamic_resource_submission` (`ON DELETE RESTRICT`) decides, in the delete itself.
pub async fn delete<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<DeleteOutcome, sqlx::Error> {
    match sqlx::query("DELETE FROM resource_field_definition WHERE id = $1").bind(id).execute(db).await {
        Ok(done) if done.rows_affected() == 0 => Ok(DeleteOutcome::NotFound),
        Ok(_) => Ok(DeleteOutcome::Deleted),
        Err(e) if is_fk_violation(&e, "dynamic_resource_submission_field_definition_id_fkey") => {
            Ok(DeleteOutcome::InUse)
        }
        Err(e) => Err(e),
    }
}

/// Sets each `(id, order)` in one statement; unknown ids are ignored, a repeated id takes its
/// last order. Returns how many definitions changed.
pub async fn reorder<'e>(db: impl PgExecutor<'e>, orders: &[(i64, i32)]) -> Result<u64, sqlx::Error> {
    let (ids, positions) = last_wins(orders);
    Ok(sqlx::query(
        r#"UPDATE resource_field_definition f SET "order" = v.position
           FROM unnest($1::bigint[], $2::int[]) AS v(id, position)
           WHERE f.id = v.id"#,
    )
    .bind(&ids)
    .bind(&positions)
    .execute(db)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_types_round_trip() {
        for t in FieldType::ALL {
            assert_eq!(FieldType::parse(t.as_str()), Some(t));
        }
        assert_eq!(FieldType::parse("video"), None);
        assert_eq!(FieldType::Image.max_file_size_limit_mb(), Some(10));
        assert_eq!(FieldType::Document.max_file_size_limit_mb(), Some(20));
        assert_eq!(FieldType::Text.max_length_limit(), Some(500));
        assert_eq!(FieldType::Number.max_length_limit(), None);
    }

    #[test]
    fn extensions_start_with_a_dot() {
        assert!(valid_extension(".pdf"));
        assert!(valid_extension(".DOCX"));
        assert!(!valid_extension("pdf"));
        assert!(!valid_extension("."));
        assert!(!valid_extension(".p df"));
    }
}
