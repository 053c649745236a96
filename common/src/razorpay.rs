//! Razorpay's REST API (orders, payments, refunds) and its two signatures: the checkout
//! signature over `order_id|payment_id` and the webhook signature over the raw body.
//!
//! Every call has a whole-request timeout (`RAZORPAY_TIMEOUT_SECONDS`); the key secret only
//! ever leaves the process in the Basic auth header and is never logged.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Config;

type HmacSha256 = Hmac<Sha256>;

/// A failed Razorpay call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RazorpayError {
    /// Network trouble, timeout, 5xx or 429: another try may work.
    #[error("razorpay unavailable: {0}")]
    Unavailable(String),
    /// Razorpay refused the request (4xx) with its error code and description.
    #[error("razorpay refused ({status} {code}): {description}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Razorpay's `error.code`, e.g. `BAD_REQUEST_ERROR`.
        code: String,
        /// Razorpay's `error.description`.
        description: String,
    },
    /// A 2xx answer that is not what the API documents.
    #[error("razorpay answered unexpectedly: {0}")]
    Malformed(String),
}

impl RazorpayError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, RazorpayError::Unavailable(_))
    }
}

/// A Razorpay order (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub struct RzpOrder {
    /// `order_…`.
    pub id: String,
    /// Paise.
    pub amount: i64,
    /// `created`, `attempted` or `paid`.
    pub status: String,
    /// Our order number.
    #[serde(default)]
    pub receipt: Option<String>,
    /// `INR` (empty when the answer has none).
    #[serde(default)]
    pub currency: String,
}

impl RzpOrder {
    /// Checks an Orders API answer against what was asked: an order id (`order_…`, usable in a
    /// URL path), the amount in paise and INR. Anything else is [`RazorpayError::Malformed`]:
    /// a payable order is never made from an answer we did not ask for.
    pub fn check(&self, amount: i64) -> Result<(), RazorpayError> {
        if !self.id.starts_with("order_") || segment(&self.id).is_err() {
            return Err(RazorpayError::Malformed(format!("`{}` is not an order id", self.id.escape_debug())));
        }
        if self.amount != amount {
            return Err(RazorpayError::Malformed(format!("order amount {} differs from {amount}", self.amount)));
        }
        if self.currency != "INR" {
            return Err(RazorpayError::Malformed(format!(
                "order currency `{}` is not INR",
                self.currency.escape_debug()
            )));
        }
        Ok(())
    }
}

/// A Razorpay payment (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub struct RzpPayment {
    /// `pay_…`.
    pub id: String,
    /// Paise.
    pub amount: i64,
    /// `INR`.
    #[serde(default)]
    pub currency: String,
    /// `created`, `authorized`, `captured`, `refunded` or `failed`.
    pub status: String,
    /// The Razorpay order it pays.
    #[serde(default)]
    pub order_id: Option<String>,
    /// `upi`, `card`, …
    #[serde(default)]
    pub method: Option<String>,
    /// Paise refunded so far.
    #[serde(default)]
    pub amount_refunded: i64,
    /// Failure code of a failed payment.
    #[serde(default)]
    pub error_code: Option<String>,
    /// Failure text of a failed payment.
    #[serde(default)]
    pub error_description: Option<String>,
}

impl RzpPayment {
    /// Money was taken: `captured`, or `refunded` after a capture.
    pub fn is_captured(&self) -> bool {
        self.status == "captured" || self.status == "refunded"
    }
}

/// A Razorpay refund (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub struct RzpRefund {
    /// `rfnd_…`.
    pub id: String,
    /// Paise.
    pub amount: i64,
    /// The refunded payment.
    pub payment_id: String,
    /// `pending`, `processed` or `failed`.
    pub status: String,
}

#[derive(Deserialize)]
struct Collection<T> {
    items: Vec<T>,
}

/// The Razorpay client.
#[derive(Clone)]
pub struct Razorpay {
    key_id: String,
    key_secret: SecretString,
    webhook_secret: Option<SecretString>,
    api_base: String,
    http: reqwest::Client,
    /// Calls in flight at once (`RAZORPAY_MAX_IN_FLIGHT`), shared by every clone.
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

/// How long a call waits for a free slot before failing as unavailable: a hanging provider
/// fills every slot, and then callers get their 502 at once instead of queueing.
const SLOT_WAIT: Duration = Duration::from_secs(1);

impl std::fmt::Debug for Razorpay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Razorpay").field("key_id", &self.key_id).field("api_base", &self.api_base).finish()
    }
}

impl Razorpay {
    /// The configured client, or `None` while `RAZORPAY_KEY_ID`/`RAZORPAY_KEY_SECRET` are unset.
    pub fn from_config(cfg: &Config) -> Result<Option<Razorpay>, RazorpayError> {
        let Some(rzp) = &cfg.razorpay else { return Ok(None) };
        let http = reqwest::Client::builder()
            .timeout(cfg.razorpay_timeout)
            .connect_timeout(cfg.razorpay_timeout.min(Duration::from_secs(5)))
            .user_agent("election-cart/1")
            .build()
            .map_err(|e| RazorpayError::Unavailable(format!("http client: {e}")))?;
        Ok(Some(Razorpay {
            key_id: rzp.key_id.clone(),
            key_secret: rzp.key_secret.clone(),
            webhook_secret: rzp.webhook_secret.clone(),
            api_base: cfg.razorpay_api_base.trim_end_matches('/').to_string(),
            http,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(cfg.razorpay_max_in_flight)),
        }))
    }

    /// The public key id handed to Razorpay Checkout.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// True when `RAZORPAY_WEBHOOK_SECRET` is set.
    pub fn has_webhook_secret(&self) -> bool {
        self.webhook_secret.is_some()
    }

    /// Checks the signature Razorpay Checkout gives the browser: hex HMAC-SHA256 of
    /// `"<order_id>|<payment_id>"` with the key secret, compared in constant time.
    pub fn verify_checkout(&self, order_id: &str, payment_id: &str, signature: &str) -> bool {
        verify_hmac(self.key_secret.expose_secret(), format!("{order_id}|{payment_id}").as_bytes(), signature)
    }

    /// Checks `X-Razorpay-Signature` over the raw webhook body; false without a webhook secret.
    pub fn verify_webhook(&self, body: &[u8], signature: &str) -> bool {
        match &self.webhook_secret {
            Some(secret) => verify_hmac(secret.expose_secret(), body, signature),
            None => false,
        }
    }

    /// Creates an order (Orders API): amount in paise, receipt = our order number, auto-capture.
    pub async fn create_order(&self, amount: i64, receipt: &str, notes: Value) -> Result<RzpOrder, RazorpayError> {
        let body =
            json!({"amount": amount, "currency": "INR", "receipt": receipt, "payment_capture": 1, "notes": notes});
        self.call(reqwest::Method::POST, "/v1/orders", Some(body), None).await
    }

    /// The payments made against a Razorpay order.
    pub async fn order_payments(&self, order_id: &str) -> Result<Vec<RzpPayment>, RazorpayError> {
        let path = format!("/v1/orders/{}/payments", segment(order_id)?);
        let list: Collection<RzpPayment> = self.call(reqwest::Method::GET, &path, None, None).await?;
        Ok(list.items)
    }

    /// One payment.
    pub async fn payment(&self, payment_id: &str) -> Result<RzpPayment, RazorpayError> {
        let path = format!("/v1/payments/{}", segment(payment_id)?);
        self.call(reqwest::Method::GET, &path, None, None).await
    }

    /// Refunds `amount` paise of a captured payment. `idempotency_key` goes out as
    /// `X-Refund-Idempotency`, so repeating the call returns the same refund.
    pub async fn refund(
        &self,
        payment_id: &str,
        amount: i64,
        idempotency_key: &str,
        notes: Value,
    ) -> Result<RzpRefund, RazorpayError> {
        let path = format!("/v1/payments/{}/refund", segment(payment_id)?);
        let body = json!({"amount": amount, "speed": "normal", "notes": notes});
        self.call(reqwest::Method::POST, &path, Some(body), Some(idempotency_key)).await
    }

    /// One refund.
    pub async fn fetch_refund(&self, refund_id: &str) -> Result<RzpRefund, RazorpayError> {
        let path = format!("/v1/refunds/{}", segment(refund_id)?);
        self.call(reqwest::Method::GET, &path, None, None).await
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        refund_key: Option<&str>,
    ) -> Result<T, RazorpayError> {
        let started = Instant::now();
        let _slot = match tokio::time::timeout(SLOT_WAIT, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => {
                tracing::warn!(%method, path, "razorpay: every call slot busy; failing fast");
                return Err(RazorpayError::Unavailable("too many calls in flight".into()));
            }
        };
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.api_base))
            .basic_auth(&self.key_id, Some(self.key_secret.expose_secret()));
        if let Some(body) = body {
            req = req.json(&body);
        }
        if let Some(key) = refund_key {
            req = req.header("X-Refund-Idempotency", key);
        }
        let res = req.send().await.map_err(|e| {
            let kind = if e.is_timeout() { "timeout" } else { "network" };
            tracing::warn!(%method, path, kind, elapsed_ms = started.elapsed().as_millis() as u64, "razorpay call failed");
            RazorpayError::Unavailable(format!("{kind}: {}", e.without_url()))
        })?;
        let status = res.status();
        let text = res.text().await.map_err(|e| RazorpayError::Unavailable(format!("reading body: {e}")))?;
        tracing::debug!(%method, path, status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "razorpay call");
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| RazorpayError::Malformed(format!("{path}: {e}")));
        }
        let (code, description) = serde_json::from_str::<Value>(&text)
            .ok()
            .map(|v| {
                let err = &v["error"];
                (
                    err["code"].as_str().unwrap_or("UNKNOWN").to_string(),
                    err["description"].as_str().unwrap_or("").chars().take(300).collect::<String>(),
                )
            })
            .unwrap_or_else(|| ("UNKNOWN".to_string(), String::new()));
        let err = refusal(status.as_u16(), code, description);
        if !err.is_transient() {
            tracing::warn!(%method, path, status = status.as_u16(), error = %err, "razorpay refused");
        }
        Err(err)
    }
}

/// Classifies a non-2xx Razorpay answer ([`crate::jobs::ops::retryable_http_status`]): 5xx, 408,
/// 409, 420 and 429 are [`RazorpayError::Unavailable`] (retried), every other status is
/// [`RazorpayError::Rejected`] (final). Both keep Razorpay's code and description.
pub fn refusal(status: u16, code: String, description: String) -> RazorpayError {
    if crate::jobs::ops::retryable_http_status(status) {
        let text =
            if description.is_empty() { format!("{status} {code}") } else { format!("{status} {code}: {description}") };
        RazorpayError::Unavailable(text)
    } else {
        RazorpayError::Rejected { status, code, description }
    }
}

/// An id placed in a URL path: Razorpay ids are `[A-Za-z0-9_]`.
fn segment(id: &str) -> Result<&str, RazorpayError> {
    if !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(RazorpayError::Rejected { status: 400, code: "BAD_REQUEST_ERROR".into(), description: "bad id".into() })
    }
}

/// Hex HMAC-SHA256 of `message` with `secret`.
pub fn hmac_hex(secret: &str, message: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of a hex HMAC-SHA256 signature.
pub fn verify_hmac(secret: &str, message: &[u8], signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex.trim()) else { return false };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(message);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_status() {
        let e = refusal(400, "BAD_REQUEST_ERROR".into(), "The amount must be at least INR 1.00".into());
        assert!(!e.is_transient());
        assert_eq!(e.to_string(), "razorpay refused (400 BAD_REQUEST_ERROR): The amount must be at least INR 1.00");
        assert!(!refusal(401, "BAD_REQUEST_ERROR".into(), "Authentication failed".into()).is_transient());
        let e = refusal(503, "SERVER_ERROR".into(), "try later".into());
        assert!(e.is_transient());
        assert_eq!(e.to_string(), "razorpay unavailable: 503 SERVER_ERROR: try later");
        for s in [408, 409, 420, 429, 500, 502] {
            assert!(refusal(s, "X".into(), String::new()).is_transient(), "{s}");
        }
    }

    #[test]
    fn checkout_signature_matches_razorpays_test_vector() {
        let msg = b"order_IEIaMR65cu6nz3|pay_IH4NVgf4Dreq1l";
        let expected = "0d4e745a1838664ad6c9c9902212a32d627d68e917290b0ad5f08ff4561bc50f";
        assert_eq!(hmac_hex("EnLs21M47BllR3X8PSFtjtbd", msg), expected);
        assert!(verify_hmac("EnLs21M47BllR3X8PSFtjtbd", msg, expected));
        let mut wrong = expected.to_string();
        wrong.replace_range(0..1, "1");
        assert!(!verify_hmac("EnLs21M47BllR3X8PSFtjtbd", msg, &wrong));
        assert!(!verify_hmac("EnLs21M47BllR3X8PSFtjtbd", msg, "not-hex"));
    }

    #[test]
    fn ids_in_paths_are_checked() {
        assert!(segment("pay_IH4NVgf4Dreq1l").is_ok());
        assert!(segment("../v1/orders").is_err());
        assert!(segment("").is_err());
    }
}
