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
}

impl Job for SendEmail {
    const KIND: &'static str = "send_email";
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
