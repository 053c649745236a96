//! Buyer billing details of an order (API.md §9.5, §1.1): validation and the defaults.

use std::collections::BTreeMap;

use crate::gst::{Gstin, StateCode};

/// Longest `billing_name`.
pub const MAX_NAME: usize = 200;
/// Longest `billing_address`.
pub const MAX_ADDRESS: usize = 500;

/// Billing fields as sent (empty strings count as absent).
#[derive(Debug, Clone, Default)]
pub struct BillingInput {
    /// `billing_name`.
    pub name: Option<String>,
    /// `billing_gstin`.
    pub gstin: Option<String>,
    /// `billing_state_code`.
    pub state_code: Option<String>,
    /// `billing_address`.
    pub address: Option<String>,
}

/// The billing fields of a change (`PATCH billing/`): `None` = not sent (kept), `Some(None)` =
/// sent as null or empty (the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingChanges {
    /// `billing_name`.
    pub name: Option<Option<String>>,
    /// `billing_gstin`.
    pub gstin: Option<Option<String>>,
    /// `billing_state_code`.
    pub state_code: Option<Option<String>>,
    /// `billing_address`.
    pub address: Option<Option<String>>,
}

impl BillingChanges {
    /// The input to validate: the fields sent replace the order's; a new GSTIN sent without a
    /// state code takes the GSTIN's state.
    pub fn over(&self, order: &super::Order) -> BillingInput {
        let keep = |sent: &Option<Option<String>>, current: &str| match sent {
            Some(value) => value.clone(),
            None => Some(current.to_string()),
        };
        BillingInput {
            name: keep(&self.name, &order.billing_name),
            gstin: keep(&self.gstin, order.billing_gstin.as_deref().unwrap_or_default()),
            state_code: match (&self.gstin, &self.state_code) {
                (Some(_), None) => None,
                (_, sent) => keep(sent, &order.billing_state_code),
            },
            address: keep(&self.address, &order.billing_address),
        }
    }
}

impl From<BillingChanges> for BillingInput {
    /// The input of a new order: what was sent, the rest absent (the defaults).
    fn from(changes: BillingChanges) -> Self {
        BillingInput {
            name: changes.name.flatten(),
            gstin: changes.gstin.flatten(),
            state_code: changes.state_code.flatten(),
            address: changes.address.flatten(),
        }
    }
}

/// Validated billing details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billing {
    /// Name on the invoice.
    pub name: String,
    /// Buyer GSTIN (business buyers).
    pub gstin: Option<Gstin>,
    /// Buyer state: the place of supply.
    pub state_code: StateCode,
    /// Address.
    pub address: String,
}

impl Billing {
    /// `29-Karnataka`.
    pub fn place_of_supply(&self) -> String {
        format!("{}-{}", self.state_code.as_str(), self.state_code.name())
    }

    /// CGST+SGST when the buyer is in the seller's state, IGST otherwise.
    pub fn intra_state(&self, seller: &StateCode) -> bool {
        self.state_code == *seller
    }
}

/// Field errors keyed by input name.
pub type BillingErrors = BTreeMap<&'static str, Vec<String>>;

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Validates the input: the GSTIN's first two digits must equal the state code; with only a
/// GSTIN the state is the GSTIN's; with neither, the seller's. `default_name` fills a missing name.
pub fn validate(input: &BillingInput, default_name: &str, seller_state: &StateCode) -> Result<Billing, BillingErrors> {
    let mut errors = BillingErrors::new();
    let name = present(&input.name).unwrap_or(default_name).to_string();
    if name.chars().count() > MAX_NAME {
        errors
            .entry("billing_name")
            .or_default()
            .push(format!("Ensure this field has no more than {MAX_NAME} characters."));
    }
    let address = present(&input.address).unwrap_or("").to_string();
    if address.chars().count() > MAX_ADDRESS {
        errors
            .entry("billing_address")
            .or_default()
            .push(format!("Ensure this field has no more than {MAX_ADDRESS} characters."));
    }
    let gstin = match present(&input.gstin).map(Gstin::parse) {
        None => None,
        Some(Ok(g)) => Some(g),
        Some(Err(e)) => {
            errors.entry("billing_gstin").or_default().push(e.to_string());
            None
        }
    };
    let state = match present(&input.state_code).map(StateCode::parse) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            errors.entry("billing_state_code").or_default().push(e.to_string());
            None
        }
    };
    if let (Some(g), Some(s)) = (&gstin, &state)
        && g.state_code() != *s
    {
        errors.entry("billing_gstin").or_default().push(format!(
            "The GSTIN's state code {} does not match billing_state_code {}.",
            g.state_code().as_str(),
            s.as_str()
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let state_code = match (&gstin, state) {
        (_, Some(s)) => s,
        (Some(g), None) => g.state_code(),
        (None, None) => seller_state.clone(),
    };
    Ok(Billing { name, gstin, state_code, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(gstin: Option<&str>, state: Option<&str>) -> BillingInput {
        BillingInput {
            name: None,
            gstin: gstin.map(str::to_string),
            state_code: state.map(str::to_string),
            address: Some(" ".into()),
        }
    }

    #[test]
    fn state_comes_from_the_code_the_gstin_or_the_seller() {
        let seller = StateCode::parse("29").unwrap();
        let b = validate(&input(None, None), "asha", &seller).unwrap();
        assert_eq!((b.state_code.as_str(), b.name.as_str(), b.address.as_str()), ("29", "asha", ""));
        assert!(b.intra_state(&seller));
        let b = validate(&input(Some("27ABCDE1234F1Z5"), None), "asha", &seller).unwrap();
        assert_eq!(b.state_code.as_str(), "27");
        assert!(!b.intra_state(&seller));
        let b = validate(&input(None, Some("07")), "asha", &seller).unwrap();
        assert_eq!(b.place_of_supply(), "07-Delhi");
        let b = validate(&input(Some(""), Some("")), "asha", &seller).unwrap();
        assert_eq!(b.state_code.as_str(), "29");
    }

    #[test]
    fn mismatched_or_bad_values_are_field_errors() {
        let seller = StateCode::parse("29").unwrap();
        let e = validate(&input(Some("27ABCDE1234F1Z5"), Some("29")), "x", &seller).unwrap_err();
        assert!(e.contains_key("billing_gstin"));
        let e = validate(&input(Some("27ABCDE1234F1Z"), Some("40")), "x", &seller).unwrap_err();
        assert!(e.contains_key("billing_gstin") && e.contains_key("billing_state_code"));
        let long = BillingInput { name: Some("n".repeat(201)), ..Default::default() };
        assert!(validate(&long, "x", &seller).unwrap_err().contains_key("billing_name"));
    }
}
