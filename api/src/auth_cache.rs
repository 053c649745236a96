//! A per-process cache of what Bearer tokens resolve to: the stored user and whether the token's
//! session is open (`users::find_for_token`), so an authenticated request does not need a
//! database round trip. JWT verification is not cached (it is CPU only).
//!
//! Kept correct by change notices, not by the lifetime alone:
//! - Triggers on `users` and `refresh_token` (migration `auth_notify`) send `auth_changed` with
//!   the user id after every commit that can change a token's answer; the process's listener
//!   ([`crate::live`]) then drops every entry of that user (a reset drops everything).
//! - An entry is served only while the listener is connected, only if it was stored under the
//!   current listener generation (a gap in the notices never serves an entry from before it) and
//!   only for `AUTH_CACHE_SECONDS` (0 disables the cache).
//! - A lookup that missed takes a [`Ticket`] *before* it reads the database and stores its answer
//!   only if no notice for that user (nor a reset, nor a new generation) was handled since. A
//!   notice is handled only after its commit is visible, so either the read saw the change or the
//!   notice came after the ticket and the stale answer is not stored.
//! - Handlers that change accounts or sessions call [`AuthCache::after_change`] after their
//!   commit: the user's entries are dropped locally at once, then a round on the same channel
//!   (`sync:<token>`, answered by every listening API process with `ack:<token>` once its
//!   listener reached it, so after it handled the change's notice) holds the answer until every
//!   process has dropped them too. The client's next request, to whichever process, sees the
//!   change. Changes made elsewhere (plain SQL, other tools) reach every process through the
//!   same notices within milliseconds.
//! - Only positive answers are stored (an active user, and an open session for a token that names
//!   one); refusals always go to the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use common::accounts::users::User;
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::live::{self, Live};

/// Entries kept at most per process (a few hundred bytes each); over it, expired entries go
/// first and, if that frees too little, everything.
pub const CAPACITY: usize = 50_000;
/// Sessions of one user kept at most (the oldest entry makes room).
const SESSIONS_PER_USER: usize = 16;
/// Change counters, one per `user_id % STRIPES`.
const STRIPES: usize = 1024;
/// How long [`AuthCache::after_change`] waits for the other processes.
const ROUND_TIMEOUT: Duration = Duration::from_secs(2);
/// Payload of a notice that concerns every user (a `TRUNCATE`).
const EVERYONE: &str = "*";
/// Payload prefix of [`AuthCache::after_change`]'s round; every process answers with [`ACK`].
const SYNC: &str = "sync:";
/// Payload prefix of a process's answer to [`SYNC`].
const ACK: &str = "ack:";

/// An [`AuthCache::after_change`] round waiting for its acknowledgements.
struct Round {
    needed: usize,
    seen: usize,
    done: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Entries {
    /// user id → that user's entries, one per session (`None`: session-less legacy tokens).
    users: HashMap<i64, Vec<Entry>>,
    /// Entries in `users`.
    count: usize,
}

struct Entry {
    sid: Option<Uuid>,
    user: User,
    session_open: bool,
    stored: Instant,
    generation: u64,
}

/// The cache of one API process.
pub struct AuthCache {
    ttl: Duration,
    live: Arc<Live>,
    /// For the acknowledgements of [`AuthCache::after_change`] rounds.
    pool: PgPool,
    /// Rounds of this process waiting for acknowledgements, by token.
    rounds: Mutex<HashMap<String, Round>>,
    entries: Mutex<Entries>,
    /// Bumped (under the `entries` lock) whenever a notice or a local change concerns a user of
    /// the stripe.
    stripes: Box<[AtomicU64]>,
    /// Bumped (under the `entries` lock) at every reset.
    resets: AtomicU64,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache").field("ttl", &self.ttl).field("entries", &self.len()).finish()
    }
}

/// Taken before a database read, so [`AuthCache::put`] can tell whether the answer may be stale.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    user_id: i64,
    stripe: u64,
    resets: u64,
    generation: u64,
}

impl AuthCache {
    /// A cache whose entries live `ttl` (zero: disabled), kept current by `live`'s notices on
    /// [`live::AUTH_CHANNEL`]. Registers with `live` even when disabled: the process still
    /// answers the other processes' [`AuthCache::after_change`] rounds.
    pub fn new(ttl: Duration, live: Arc<Live>, pool: PgPool) -> Arc<Self> {
        let cache = Arc::new(Self {
            ttl,
            live: live.clone(),
            pool,
            rounds: Mutex::new(HashMap::new()),
            entries: Mutex::new(Entries::default()),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            resets: AtomicU64::new(0),
        });
        // Weak: the hub must not keep the cache alive.
        let weak: Weak<Self> = Arc::downgrade(&cache);
        live.on(
            live::AUTH_CHANNEL,
            Arc::new(move |payload| {
                if let Some(cache) = weak.upgrade() {
                    cache.on_notice(payload);
                }
            }),
        );
        cache
    }

    /// A notice on [`live::AUTH_CHANNEL`] (`None`: the listener connected or dropped).
    fn on_notice(&self, payload: Option<&str>) {
        let Some(payload) = payload else {
            self.clear();
            return;
        };
        if let Some(token) = payload.strip_prefix(SYNC) {
            // Every notice committed before the round's has been handled here: say so.
            self.acknowledge(token);
        } else if let Some(token) = payload.strip_prefix(ACK) {
            self.acknowledged(token);
        } else if let Ok(user_id) = payload.trim().parse::<i64>() {
            self.forget(user_id);
        } else {
            if payload != EVERYONE {
                tracing::warn!(payload, "unexpected auth notice; dropping every cached token check");
            }
            self.clear();
        }
    }

    fn acknowledge(&self, token: &str) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let (pool, payload) = (self.pool.clone(), format!("{ACK}{token}"));
        rt.spawn(async move {
            let sent =
                sqlx::query("SELECT pg_notify($1, $2)").bind(live::AUTH_CHANNEL).bind(&payload).execute(&pool).await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not acknowledge an account change round");
            }
        });
    }

    fn acknowledged(&self, token: &str) {
        let mut rounds = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(round) = rounds.get_mut(token) {
            round.seen += 1;
            if round.seen >= round.needed
                && let Some(done) = round.done.take()
            {
                let _ = done.send(());
            }
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // The map holds no invariant a panic could break halfway; go on with it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stripe(&self, user_id: i64) -> &AtomicU64 {
        &self.stripes[(user_id as u64 % STRIPES as u64) as usize]
    }

    /// Entries held now (expired ones included until they are evicted).
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored answer for a token of `user_id` naming session `sid`: the user and whether the
    /// session is open. `None` when there is none that may be served.
    pub fn get(&self, user_id: i64, sid: Option<Uuid>) -> Option<(User, bool)> {
        if !self.enabled() || !self.live.is_live() {
            return None;
        }
        let generation = self.live.generation();
        let map = self.lock();
        let e = map.users.get(&user_id)?.iter().find(|e| e.sid == sid)?;
        (e.generation == generation && e.stored.elapsed() < self.ttl).then(|| (e.user.clone(), e.session_open))
    }

    /// Take before reading the database; `None` when nothing read now may be stored.
    pub fn ticket(&self, user_id: i64) -> Option<Ticket> {
        if !self.enabled() {
            return None;
        }
        let generation = self.live.generation();
        if !self.live.is_live() {
            return None;
        }
        Some(Ticket {
            user_id,
            stripe: self.stripe(user_id).load(Ordering::Acquire),
            resets: self.resets.load(Ordering::Acquire),
            generation,
        })
    }

    /// Stores what was read after `ticket` was taken, unless the user (or everyone) changed since
    /// or the listener reconnected (then the read may have missed a change).
    pub fn put(&self, ticket: Ticket, sid: Option<Uuid>, user: &User, session_open: bool) {
        if user.id != ticket.user_id {
            return;
        }
        let mut map = self.lock();
        // Checked under the lock the notices take: a notice handled after this check finds the
        // entry and drops it.
        if self.stripe(ticket.user_id).load(Ordering::Acquire) != ticket.stripe
            || self.resets.load(Ordering::Acquire) != ticket.resets
            || self.live.generation() != ticket.generation
            || !self.live.is_live()
        {
            return;
        }
        if map.count >= CAPACITY {
            self.evict(&mut map);
        }
        let now = Instant::now();
        let entries = map.users.entry(ticket.user_id).or_default();
        let before = entries.len();
        entries.retain(|e| e.sid != sid && e.generation == ticket.generation && now - e.stored < self.ttl);
        if entries.len() >= SESSIONS_PER_USER {
            entries.remove(0);
        }
        entries.push(Entry { sid, user: user.clone(), session_open, stored: now, generation: ticket.generation });
        let after = entries.len();
        map.count = map.count + after - before;
    }

    /// Drops expired entries; if that leaves the cache more than nine tenths full, drops all.
    fn evict(&self, map: &mut Entries) {
        let generation = self.live.generation();
        let now = Instant::now();
        map.users.retain(|_, entries| {
            entries.retain(|e| e.generation == generation && now - e.stored < self.ttl);
            !entries.is_empty()
        });
        map.count = map.users.values().map(Vec::len).sum();
        if map.count > CAPACITY / 10 * 9 {
            map.users.clear();
            map.count = 0;
        }
    }

    /// Drops every entry of `user_id`; answers read before now will not be stored.
    pub fn forget(&self, user_id: i64) {
        let mut map = self.lock();
        self.stripe(user_id).fetch_add(1, Ordering::AcqRel);
        if let Some(gone) = map.users.remove(&user_id) {
            map.count -= gone.len();
        }
    }

    /// Drops everything; answers read before now will not be stored.
    pub fn clear(&self) {
        let mut map = self.lock();
        self.resets.fetch_add(1, Ordering::AcqRel);
        map.users.clear();
        map.count = 0;
    }

    /// After a committed change to `user_id`'s account or sessions (`None`: a user not known
    /// here): drops the user's entries in this process at once, then waits (up to 2 s) until
    /// every API process listening on this database has handled every notice committed so far,
    /// the change's included. Each process's listener answers the round's `sync:` notice with an
    /// `ack:` once it reaches it; notices arrive in commit order, so by then it has dropped the
    /// user's entries. The processes are counted from `pg_stat_activity` (the listener sessions);
    /// one that starts listening meanwhile has nothing older cached. On a timeout the answer goes
    /// out anyway (the change is committed and its notice on the way) and a warning is logged.
    pub async fn after_change(&self, user_id: Option<i64>) {
        if let Some(id) = user_id {
            self.forget(id);
        }
        if !self.live.is_live() {
            // This process serves nothing cached; it cannot hear the acknowledgements either.
            return;
        }
        let listening = format!("%LISTEN \"{}\";%", live::AUTH_CHANNEL);
        let needed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE $1",
        )
        .bind(&listening)
        .fetch_one(&self.pool)
        .await
        .unwrap_or(1);
        let token = Uuid::new_v4().simple().to_string();
        let (tx, rx) = oneshot::channel();
        let round = Round { needed: usize::try_from(needed).unwrap_or(1).max(1), seen: 0, done: Some(tx) };
        self.rounds.lock().unwrap_or_else(|e| e.into_inner()).insert(token.clone(), round);
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(live::AUTH_CHANNEL)
            .bind(format!("{SYNC}{token}"))
            .execute(&self.pool)
            .await;
        let confirmed = sent.is_ok() && matches!(tokio::time::timeout(ROUND_TIMEOUT, rx).await, Ok(Ok(())));
        let round = self.rounds.lock().unwrap_or_else(|e| e.into_inner()).remove(&token);
        if !confirmed {
            let (needed, seen) = round.map_or((0, 0), |r| (r.needed, r.seen));
            tracing::warn!(needed, seen, "not every API process confirmed an account change in time");
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn user(id: i64, role: &str) -> User {
        User {
            id,
            password: "!".into(),
            username: format!("u{id}"),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            phone_number: None,
            role: role.into(),
            is_staff: false,
            is_superuser: false,
            is_active: true,
            firebase_uid: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            sessions_valid_after: None,
        }
    }

    fn lazy_pool() -> PgPool {
        sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap()
    }

    fn live_hub() -> Arc<Live> {
        let live = Live::new();
        live.set_connected_for_tests(true);
        live
    }

    #[tokio::test]
    async fn serves_what_was_stored_until_a_notice_for_the_user() {
        let live = live_hub();
        let cache = AuthCache::new(Duration::from_secs(5), live.clone(), lazy_pool());
        let sid = Some(Uuid::new_v4());
        let t = cache.ticket(7).unwrap();
        cache.put(t, sid, &user(7, "user"), true);
        let t = cache.ticket(8).unwrap();
        cache.put(t, None, &user(8, "staff"), false);
        assert_eq!(cache.get(7, sid).map(|(u, open)| (u.id, open)), Some((7, true)));
        assert!(cache.get(7, None).is_none(), "another session of the user is not cached");
        assert!(cache.get(7, Some(Uuid::new_v4())).is_none());
        live.deliver_for_tests(live::AUTH_CHANNEL, "7");
        assert!(cache.get(7, sid).is_none());
        assert_eq!(cache.get(8, None).map(|(u, _)| u.role), Some("staff".to_string()));
        live.deliver_for_tests(live::AUTH_CHANNEL, "*");
        assert!(cache.get(8, None).is_none());
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn an_answer_read_before_a_notice_is_not_stored() {
        let live = live_hub();
        let cache = AuthCache::new(Duration::from_secs(5), live.clone(), lazy_pool());
        let before = cache.ticket(7).unwrap();
        // The database read happens here; the notice of a change arrives meanwhile.
        live.deliver_for_tests(live::AUTH_CHANNEL, "7");
        cache.put(before, None, &user(7, "admin"), false);
        assert!(cache.get(7, None).is_none());
        // Another user's notice does not matter (unless it shares the stripe).
        let before = cache.ticket(7).unwrap();
        live.deliver_for_tests(live::AUTH_CHANNEL, "9");
        cache.put(before, None, &user(7, "user"), false);
        assert!(cache.get(7, None).is_some());
        // A reset or a local change counts too.
        let before = cache.ticket(10).unwrap();
        live.deliver_for_tests(live::AUTH_CHANNEL, "*");
        cache.put(before, None, &user(10, "user"), false);
        assert!(cache.get(10, None).is_none());
        let before = cache.ticket(10).unwrap();
        cache.forget(10);
        cache.put(before, None, &user(10, "user"), false);
        assert!(cache.get(10, None).is_none());
    }

    #[tokio::test]
    async fn nothing_is_served_across_a_gap_in_the_notices() {
        let live = live_hub();
        let cache = AuthCache::new(Duration::from_secs(5), live.clone(), lazy_pool());
        let t = cache.ticket(7).unwrap();
        cache.put(t, None, &user(7, "user"), false);
        assert!(cache.get(7, None).is_some());
        live.set_connected_for_tests(false);
        assert!(cache.get(7, None).is_none());
        assert!(cache.ticket(7).is_none());
        // Read while connected, listener lost and back before the answer is stored.
        live.set_connected_for_tests(true);
        let t = cache.ticket(7).unwrap();
        live.set_connected_for_tests(false);
        live.set_connected_for_tests(true);
        cache.put(t, None, &user(7, "user"), false);
        assert!(cache.get(7, None).is_none());
    }

    #[tokio::test]
    async fn entries_expire_and_zero_disables() {
        let live = live_hub();
        let cache = AuthCache::new(Duration::from_millis(30), live.clone(), lazy_pool());
        let t = cache.ticket(7).unwrap();
        cache.put(t, None, &user(7, "user"), false);
        assert!(cache.get(7, None).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(7, None).is_none());
        let off = AuthCache::new(Duration::ZERO, live, lazy_pool());
        assert!(off.ticket(7).is_none());
        assert!(off.get(7, None).is_none());
    }

    #[tokio::test]
    async fn a_round_ends_when_every_process_acknowledged() {
        let live = live_hub();
        let cache = AuthCache::new(Duration::from_secs(5), live.clone(), lazy_pool());
        let t = cache.ticket(7).unwrap();
        cache.put(t, None, &user(7, "user"), false);
        let (tx, mut rx) = oneshot::channel();
        cache.rounds.lock().unwrap().insert("t1".into(), Round { needed: 2, seen: 0, done: Some(tx) });
        live.deliver_for_tests(live::AUTH_CHANNEL, "ack:t1");
        live.deliver_for_tests(live::AUTH_CHANNEL, "ack:t2");
        assert!(rx.try_recv().is_err(), "one of two processes answered");
        live.deliver_for_tests(live::AUTH_CHANNEL, "ack:t1");
        assert!(rx.try_recv().is_ok());
        assert!(cache.get(7, None).is_some(), "a round's notices are no change of any user");
    }

    #[tokio::test]
    async fn memory_is_bounded() {
        let live = live_hub();
        let cache = AuthCache::new(Duration::from_secs(60), live, lazy_pool());
        for id in 0..(CAPACITY as i64 + 10) {
            let t = cache.ticket(id).unwrap();
            cache.put(t, None, &user(id, "user"), false);
        }
        assert!(cache.len() <= CAPACITY);
        let t = cache.ticket(1).unwrap();
        for _ in 0..(SESSIONS_PER_USER + 5) {
            cache.put(t, Some(Uuid::new_v4()), &user(1, "user"), true);
        }
        assert!(cache.lock().users.get(&1).unwrap().len() <= SESSIONS_PER_USER);
        assert_eq!(cache.len(), cache.lock().users.values().map(Vec::len).sum::<usize>());
    }
}
