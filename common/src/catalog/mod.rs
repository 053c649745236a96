//! The catalogue: packages and campaigns, their items, images, checklist templates and
//! resource-field definitions.

pub mod checklist_templates;
pub mod images;
pub mod products;
pub mod resource_fields;

use std::fmt;

use sqlx::PgExecutor;

/// `package` or `campaign`: the "product ref" of API.md §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductType {
    /// A bundle of items at one price.
    Package,
    /// A single service, often priced per unit.
    Campaign,
}

impl ProductType {
    /// Parses the path or body value.
    pub fn parse(value: &str) -> Option<ProductType> {
        match value {
            "package" => Some(ProductType::Package),
            "campaign" => Some(ProductType::Campaign),
            _ => None,
        }
    }

    /// Stored and serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            ProductType::Package => "package",
            ProductType::Campaign => "campaign",
        }
    }

    /// The table holding products of this type.
    pub fn table(self) -> &'static str {
        match self {
            ProductType::Package => "package",
            ProductType::Campaign => "campaign",
        }
    }

    /// Django model name, for `No <Model> matches the given query.`
    pub fn model_name(self) -> &'static str {
        match self {
            ProductType::Package => "Package",
            ProductType::Campaign => "Campaign",
        }
    }
}

impl fmt::Display for ProductType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the product exists (active or not).
pub async fn product_exists<'e>(db: impl PgExecutor<'e>, kind: ProductType, id: i64) -> Result<bool, sqlx::Error> {
    let sql = match kind {
        ProductType::Package => "SELECT EXISTS (SELECT 1 FROM package WHERE id = $1)",
        ProductType::Campaign => "SELECT EXISTS (SELECT 1 FROM campaign WHERE id = $1)",
    };
    sqlx::query_scalar(sql).bind(id).fetch_one(db).await
}
