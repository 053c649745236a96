//! Payload types of every job, shared by the code that enqueues and the worker that runs.

use serde::{Deserialize, Serialize};

use super::{Job, Queue};

/// Sends one email rendered from `templates/email/<template>.{txt,html}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendEmail {
    /// Identifies the logical message: the worker sends each key once.
    pub message_key: String,
    /// Recipient address.
    pub to: String,
    /// Template name, e.g. `password_reset`.
    pub template: String,
    /// Values for the template.
    pub context: serde_json::Value,
    /// Files attached to the message, resolved by the worker when it sends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file attached to an email, named by what it is rather than carried in the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Attachment {
    /// The PDF of an issued invoice or credit note.
    Invoice {
        /// `invoice.id` (invoices and credit notes alike).
        invoice_id: i64,
    },
}

impl Job for SendEmail {
    const KIND: &'static str = "send_email";
    const QUEUE: Queue = Queue::Emails;
    const MAX_ATTEMPTS: i32 = 10;
}

/// Sends the password-reset email of one `password_reset_token` row. The payload carries only
/// the row's id: the worker derives the link's token from the row's salt and the signing secret,
/// so the token is never stored in the job table or in Redis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendPasswordReset {
    /// `password_reset_token.id`.
    pub reset_id: i64,
    /// The welcome email of an account an admin created (the link sets its first password),
    /// rather than a password-reset email.
    #[serde(default)]
    pub welcome: bool,
}

impl Job for SendPasswordReset {
    const KIND: &'static str = "send_password_reset";
    const QUEUE: Queue = Queue::Emails;
    const MAX_ATTEMPTS: i32 = 10;
}

/// Deletes expired tokens, idempotency keys and old finished jobs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PruneExpired {
    /// Finished jobs older than this many days are deleted.
    pub keep_jobs_days: i32,
}

impl Job for PruneExpired {
    const KIND: &'static str = "prune_expired";
    const QUEUE: Queue = Queue::Maintenance;
    const MAX_ATTEMPTS: i32 = 3;
}

/// Stores a staged product image (local disk or Cloudinary), makes its thumbnail and updates
/// the `product_image` row. Idempotent: a row no longer pointing at `staging/` is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreProductImage {
    /// `product_image.id`.
    pub image_id: i64,
}

impl Job for StoreProductImage {
    const KIND: &'static str = "store_product_image";
    const QUEUE: Queue = Queue::Media;
    const MAX_ATTEMPTS: i32 = 8;
}

/// Removes stored media whose rows are gone: files under `MEDIA_DIR` and Cloudinary assets
/// (destroyed with CDN invalidation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteStoredMedia {
    /// Paths relative to `MEDIA_DIR` (`staging/…`, `products/…`, `products/thumbs/…`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Cloudinary public ids.
    #[serde(default)]
    pub public_ids: Vec<String>,
}

impl Job for DeleteStoredMedia {
    const KIND: &'static str = "delete_stored_media";
    const QUEUE: Queue = Queue::Media;
    const MAX_ATTEMPTS: i32 = 8;
}

/// One reconciliation sweep of Razorpay payments and refunds (scheduled every minute, once per
/// tick across the cluster).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReconcilePayments {}

impl Job for ReconcilePayments {
    const KIND: &'static str = "reconcile_payments";
    const QUEUE: Queue = Queue::Payments;
    const MAX_ATTEMPTS: i32 = 3;
}

/// Stores a staged payment proof (Cloudinary, images as images and PDFs as raw files, or local
/// disk under `MEDIA_DIR/private/payment_proofs`), privately (Cloudinary `authenticated`), and
/// points its payment record at it. Idempotent: a record no longer pointing at the private
/// staging directory is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorePaymentProof {
    /// `payment_record.id`.
    pub record_id: i64,
}

impl Job for StorePaymentProof {
    const KIND: &'static str = "store_payment_proof";
    const QUEUE: Queue = Queue::Media;
    const MAX_ATTEMPTS: i32 = 8;
}

/// Renders the PDF of one issued invoice or credit note from its snapshot, stores it privately
/// and records it in `invoice_document`. Idempotent: a document already recorded is done, and
/// the storage key is derived from the invoice, so a retry overwrites rather than adds a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderInvoice {
    /// `invoice.id`.
    pub invoice_id: i64,
}

impl Job for RenderInvoice {
    const KIND: &'static str = "render_invoice";
    const QUEUE: Queue = Queue::Invoices;
    const MAX_ATTEMPTS: i32 = 10;
}

/// A legacy upload's file column (`order_resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegacyResourceColumn {
    /// `candidate_photo`.
    CandidatePhoto,
    /// `party_logo`.
    PartyLogo,
}

/// The row and column holding a customer's file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "table", rename_all = "snake_case")]
pub enum ResourceFileRef {
    /// `dynamic_resource_submission.file_value`.
    DynamicResourceSubmission {
        /// Submission id.
        id: i64,
    },
    /// A file column of `order_resource`.
    OrderResource {
        /// `order_resource.id`.
        id: i64,
        /// Which file.
        column: LegacyResourceColumn,
    },
}

/// Stores a staged customer file privately (Cloudinary `authenticated`, images as images and
/// documents as raw files, or `MEDIA_DIR/private/resources`) and points its row at the stored
/// key. Idempotent: a row no longer pointing at the private staging directory is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreResourceFile {
    /// Where the staged key is recorded.
    pub file: ResourceFileRef,
}

impl Job for StoreResourceFile {
    const KIND: &'static str = "store_resource_file";
    const QUEUE: Queue = Queue::Media;
    const MAX_ATTEMPTS: i32 = 8;
}

/// Deletes private files no row points at any more (a replaced resource file): storage keys as
/// `common::media::PrivateFile` writes them, local paths under `MEDIA_DIR/private/…` or
/// Cloudinary `authenticated` assets. (`DeleteStoredMedia` destroys public image assets only.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeletePrivateFiles {
    /// Storage keys.
    #[serde(default)]
    pub keys: Vec<String>,
}

impl Job for DeletePrivateFiles {
    const KIND: &'static str = "delete_private_files";
    const QUEUE: Queue = Queue::Media;
    const MAX_ATTEMPTS: i32 = 8;
}

/// Does nothing: a job kind for measuring the job machinery itself (`scripts/bench-jobs`, the
/// backlog tests). Nothing in the service enqueues it; its handler only returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Noop {}

impl Job for Noop {
    const KIND: &'static str = "noop";
    const QUEUE: Queue = Queue::Maintenance;
    const MAX_ATTEMPTS: i32 = 3;
}

/// Sleeps: a long job for the recovery tests (a worker killed mid-job, a job that outlives its
/// lease). Run only by a worker started with `WORKER_TEST_JOBS=true` (refused in production);
/// any other worker marks it dead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestSleep {
    /// How long, in milliseconds (at most ten minutes).
    pub millis: u64,
}

impl Job for TestSleep {
    const KIND: &'static str = "test_sleep";
    const QUEUE: Queue = Queue::Maintenance;
    const MAX_ATTEMPTS: i32 = 3;
}

/// Takes, verifies and records the backup of one `backup_run` row ([`crate::backup::execute`]).
/// A run already finished is not taken again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    /// `backup_run.id`.
    pub run_id: i64,
}

impl Job for Backup {
    const KIND: &'static str = "backup";
    const QUEUE: Queue = Queue::Maintenance;
    // A failed backup is recorded and notified; the next one is the next tick or request.
    const MAX_ATTEMPTS: i32 = 1;
}
