//! Change notices from PostgreSQL (`LISTEN/NOTIFY`) for the in-memory caches of this process.
//!
//! One listener connection per API process listens on every channel caches care about and calls
//! the handlers registered for it. A cache may serve an entry only while [`Live::is_live`] and
//! only if the entry was stored under the current [`Live::generation`]: the generation changes
//! whenever the listener connection drops or comes back, so nothing cached before a gap in the
//! notices (when one could have been missed) is ever served after it. Handlers also get a reset
//! (`None`) at each such change.
//!
//! The notices themselves come from triggers in the database (migrations), so every code path
//! that changes the data notifies, whichever process or tool made the change.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::oneshot;

/// The catalogue version was bumped; payload: the new version.
pub const CATALOG_CHANNEL: &str = "catalog_changed";
/// A user's account or sessions changed; payload: the user id.
pub const AUTH_CHANNEL: &str = "auth_changed";
/// [`Live::sync`]'s own round trips.
const SYNC_CHANNEL: &str = "live_sync";

/// A notice handler: `Some(payload)` for a notice, `None` for a reset (flush everything).
pub type Handler = Arc<dyn Fn(Option<&str>) + Send + Sync>;

/// The notice hub of one process.
#[derive(Default)]
pub struct Live {
    connected: AtomicBool,
    generation: AtomicU64,
    handlers: RwLock<Vec<(&'static str, Handler)>>,
    syncs: Mutex<HashMap<String, oneshot::Sender<()>>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("connected", &self.is_live()).field("generation", &self.generation()).finish()
    }
}

impl Live {
    /// A hub with no listener yet: not live until [`Live::run`] connects.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Calls `handler` for every notice on `channel` (and for every reset). Register before
    /// [`Live::run`] starts, or accept that notices before registration are not seen.
    pub fn on(&self, channel: &'static str, handler: Handler) {
        if let Ok(mut h) = self.handlers.write() {
            h.push((channel, handler));
        }
    }

    /// True while the listener is connected: cached entries may be served.
    pub fn is_live(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Changes whenever the listener connects or disconnects.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn set_connected(&self, connected: bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.connected.store(connected, Ordering::Release);
        self.deliver(None, None);
    }

    fn deliver(&self, channel: Option<&str>, payload: Option<&str>) {
        let handlers: Vec<Handler> = match self.handlers.read() {
            Ok(h) => h.iter().filter(|(c, _)| channel.is_none_or(|ch| ch == *c)).map(|(_, f)| f.clone()).collect(),
            Err(_) => return,
        };
        for h in handlers {
            h(payload);
        }
    }

    /// Waits (up to `timeout`) until this process's listener has handled every notice committed
    /// before the call: notices are delivered in commit order, so once a notice sent now comes
    /// back, the earlier ones have been handled. False when not live or on timeout.
    pub async fn sync(&self, pool: &PgPool, timeout: Duration) -> bool {
        if !self.is_live() {
            return false;
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        let (tx, rx) = oneshot::channel();
        if let Ok(mut s) = self.syncs.lock() {
            s.insert(token.clone(), tx);
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)").bind(SYNC_CHANNEL).bind(&token).execute(pool).await;
        let done = sent.is_ok() && matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(())));
        if let Ok(mut s) = self.syncs.lock() {
            s.remove(&token);
        }
        done
    }

    /// Listens until `shutdown` resolves, reconnecting after any failure (not live meanwhile).
    pub async fn run(self: Arc<Self>, pool: PgPool, shutdown: impl Future<Output = ()> + Send) {
        let work = async {
            let mut delay = Duration::from_millis(100);
            loop {
                match self.listen_once(&pool).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, "change listener lost; caches bypassed until it is back"),
                }
                if self.is_live() {
                    self.set_connected(false);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        };
        tokio::select! {
            _ = work => {}
            _ = shutdown => {}
        }
        if self.is_live() {
            self.set_connected(false);
        }
    }

    async fn listen_once(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen_all([CATALOG_CHANNEL, AUTH_CHANNEL, SYNC_CHANNEL]).await?;
        // Anything cached before this point may have missed notices: a new generation.
        self.set_connected(true);
        tracing::debug!(generation = self.generation(), "change listener connected");
        loop {
            // `try_recv` gives `None` when the connection dropped (sqlx would reconnect silently
            // in `recv`, hiding the gap); the caller starts a new generation.
            let Some(n) = listener.try_recv().await? else { return Ok(()) };
            if n.channel() == SYNC_CHANNEL {
                if let Ok(mut s) = self.syncs.lock()
                    && let Some(tx) = s.remove(n.payload())
                {
                    let _ = tx.send(());
                }
                continue;
            }
            self.deliver(Some(n.channel()), Some(n.payload()));
        }
    }
}

/// For the unit tests of the caches: drive the hub without a database.
#[cfg(test)]
impl Live {
    pub(crate) fn set_connected_for_tests(&self, connected: bool) {
        self.set_connected(connected);
    }

    pub(crate) fn deliver_for_tests(&self, channel: &str, payload: &str) {
        self.deliver(Some(channel), Some(payload));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn handlers_get_their_channel_and_every_reset() {
        let live = Live::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let resets = Arc::new(AtomicUsize::new(0));
        let (s, r) = (seen.clone(), resets.clone());
        live.on(
            AUTH_CHANNEL,
            Arc::new(move |p| match p {
                Some(p) => s.lock().unwrap().push(p.to_string()),
                None => {
                    r.fetch_add(1, Ordering::SeqCst);
                }
            }),
        );
        let g0 = live.generation();
        live.set_connected(true);
        assert!(live.is_live());
        live.deliver(Some(AUTH_CHANNEL), Some("7"));
        live.deliver(Some(CATALOG_CHANNEL), Some("3"));
        live.set_connected(false);
        assert!(!live.is_live());
        assert_eq!(*seen.lock().unwrap(), vec!["7".to_string()]);
        assert_eq!(resets.load(Ordering::SeqCst), 2);
        assert_eq!(live.generation(), g0 + 2);
    }
}
