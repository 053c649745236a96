//! The dispatcher's wake-up after the commit, for the transactions that write jobs at the shop's
//! busiest rate: checkouts and payments.
//!
//! A `pg_notify` inside a transaction makes its commit take a lock that PostgreSQL holds until
//! the commit's WAL flush is done, one lock for the whole server (every database), so notifying
//! commits run one at a time and group commit cannot batch their flushes: with a 2 ms flush (a
//! cloud disk) fewer than 400 of them commit in a second, whatever the cores, against 3,900
//! with the notice after the commit (`COMMIT_DELAY_US=2000 scripts/bench-pg`, 20 connections).
//! So the order and payment statements write
//! their jobs without it, and their callers ring the [`Doorbell`] once the transaction has
//! committed: one task per process sends a `pg_notify` in a transaction of its own (no WAL
//! to flush), one for all the rings since its last one.
//!
//! A process that stops between a commit and the ring's notice leaves the jobs to the
//! dispatcher's next look (`OUTBOX_POLL_MS`): later, never lost. Rarer writers of jobs (the
//! order desk's status changes, refunds, password resets) still notify in their transaction
//! ([`super::enqueue`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;

use super::NOTIFY_CHANNEL;

/// Longest wait for one notice (a connection and its round trip); a notice not sent leaves the
/// jobs to the dispatcher's poll.
const RING_TIMEOUT: Duration = Duration::from_secs(5);

/// Rings the outbox dispatcher after a commit. Cheap to clone; the first ring starts the task
/// that sends the notices, which ends when the last clone is dropped.
#[derive(Clone)]
pub struct Doorbell {
    rings: mpsc::Sender<()>,
    pending: Arc<Mutex<Option<Ringer>>>,
}

/// What the task needs, until the first ring starts it.
struct Ringer {
    pool: PgPool,
    rings: mpsc::Receiver<()>,
}

impl Doorbell {
    /// A doorbell whose notices go through `pool`.
    pub fn new(pool: PgPool) -> Self {
        // One ring waiting beside the notice in flight is all it takes: a ring that finds one
        // waiting is served by it.
        let (tx, rx) = mpsc::channel(1);
        Self { rings: tx, pending: Arc::new(Mutex::new(Some(Ringer { pool, rings: rx }))) }
    }

    /// Wakes the dispatcher: call it after the commit of a transaction that wrote jobs without
    /// notifying. Never waits.
    pub fn ring(&self) {
        let ringer = self.pending.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(ringer) = ringer {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(ringer.run());
                }
                // Outside a runtime (never in the service): the jobs wait for the poll.
                Err(_) => *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(ringer),
            }
        }
        // Full: a ring is waiting already and will be served.
        let _ = self.rings.try_send(());
    }
}

impl Ringer {
    async fn run(mut self) {
        while self.rings.recv().await.is_some() {
            wake_now(&self.pool).await;
        }
    }
}

/// Sends the dispatcher's notice at once, in a transaction of its own: for a writer outside the
/// API that commits jobs without a notice now and then (the payment sweep). Failures are logged
/// only; the dispatcher's poll takes the jobs.
pub async fn wake_now(pool: &PgPool) {
    let sent = tokio::time::timeout(
        RING_TIMEOUT,
        sqlx::query("SELECT pg_notify($1, 'ring')").bind(NOTIFY_CHANNEL).execute(pool),
    )
    .await;
    match sent {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "outbox doorbell: notice not sent; the dispatcher's poll takes the jobs")
        }
        Err(_) => tracing::debug!("outbox doorbell: notice timed out; the dispatcher's poll takes the jobs"),
    }
}
