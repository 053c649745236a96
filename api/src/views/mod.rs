//! Response types shared by several route modules (API.md §3): every 2xx body is a
//! `Serialize + ToSchema` type built by a plain conversion from loaded rows, so the OpenAPI
//! document names it and the compiler checks it. Types used by one route module live beside it.

pub mod catalog;
pub mod order_desk;
pub mod orders;
pub mod users;

use common::money::Money;
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

pub use users::{UserBasic, UserBasicOrSystem};

/// A model decimal (`price`, `total_amount`, `amount`): a JSON string with two places,
/// `"4999.00"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(value_type = String, example = "4999.00")]
pub struct Dec(pub i64);

impl Serialize for Dec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Money(self.0))
    }
}

/// A computed amount (`subtotal`, `total_paid`, `balance`…): a JSON number, exact to the paisa.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(value_type = f64, example = 4999.0)]
pub struct Num(pub i64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Money(self.0).as_f64_for_json().serialize(s)
    }
}

/// `{success: true, message}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SuccessMessage {
    /// Always `true`.
    pub success: bool,
    /// What was done.
    pub message: String,
}

impl SuccessMessage {
    /// `{success: true, message}`.
    pub fn new(message: impl Into<String>) -> Self {
        Self { success: true, message: message.into() }
    }
}
