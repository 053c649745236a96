//! The public catalogue's rendered bodies (API.md §4.3) in process memory, so that a cache hit
//! touches neither PostgreSQL nor Redis.
//!
//! Bodies are stored under the catalogue version (`catalog_version`, bumped in the transaction of
//! every catalogue change) and served only while that is the version this process knows to be
//! current. The known version follows the database through three paths:
//!
//! - **Notices.** A trigger on `catalog_version` sends `NOTIFY catalog_changed, '<version>'` on
//!   every bump, whichever process or tool made it; [`crate::live`] delivers it to every API
//!   process at once, and the known version moves up to it.
//! - **Own writes.** A route that changed the catalogue calls [`CatalogCache::invalidate`] after
//!   its commit: the next request reads the version from PostgreSQL (one primary-key read) before
//!   it serves anything, so this process shows the change on its very next request without
//!   waiting for its own notice.
//! - **Resets.** When the listener connection drops or comes back, notices may have been missed:
//!   [`Live`] starts a new generation, entries stored under the old one are never served again,
//!   and the version is read afresh. While not live the cache is bypassed altogether.
//!
//! Entries also expire after `CATALOG_CACHE_SECONDS`, the safety net for a change that bumped
//! nothing (a hand-made SQL fix without the version bump). Only one catalogue version is held at
//! a time, and at most [`MAX_ENTRIES`] bodies and [`MAX_BYTES`] bytes of them.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use common::catalog::ProductType;
use common::catalog::products;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::ApiResult;
use crate::live::{self, Live};

/// Bodies held at most (of one catalogue version).
pub const MAX_ENTRIES: usize = 4096;
/// Bytes of bodies held at most.
pub const MAX_BYTES: usize = 64 << 20;
/// Independent locks that make concurrent misses of one key render it once.
const FILL_STRIPES: usize = 16;
/// How long a miss waits for another request rendering the same key before rendering it too.
const FILL_WAIT: Duration = Duration::from_secs(2);
/// The known version when there is none: read it from PostgreSQL.
const UNKNOWN: i64 = i64::MIN;

/// What a cached body answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A page of the active products (`None`: `?page=last`).
    List(ProductType, Option<i64>),
    /// The popular products.
    Popular(ProductType),
    /// One active product.
    Detail(ProductType, i64),
    /// A product's images.
    Images(ProductType, i64),
}

/// A rendered body and its strong entity tag (a hash of the body, so every process gives the
/// same tag for the same body and a version bump that left a body alone keeps its tag).
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The JSON body.
    pub body: Bytes,
    /// `"<32 hex digits>"`.
    pub etag: HeaderValue,
}

impl Rendered {
    /// A body with its tag.
    pub fn new(body: Vec<u8>) -> Self {
        let digest = Sha256::digest(&body);
        let mut tag = String::with_capacity(34);
        tag.push('"');
        for b in &digest[..16] {
            tag.push(char::from(HEX[usize::from(b >> 4)]));
            tag.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        tag.push('"');
        let etag = HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Self { body: Bytes::from(body), etag }
    }

    /// Whether `If-None-Match` (every value of the header) matches this body: `*`, or any listed
    /// tag equal to ours under the weak comparison RFC 9110 §13.1.2 prescribes (`W/` ignored).
    pub fn matches(&self, if_none_match: &[HeaderValue]) -> bool {
        let ours = opaque(self.etag.as_bytes());
        if_none_match.iter().any(|v| list_matches(v.as_bytes(), ours))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The opaque part of an entity tag: `W/"x"` and `"x"` both give `"x"`.
fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// One `If-None-Match` field value: `*` or `#entity-tag`. Tags may hold commas, so the list is
/// read tag by tag; an unreadable rest matches nothing.
fn list_matches(mut rest: &[u8], ours: &[u8]) -> bool {
    loop {
        while let [b' ' | b'\t' | b',', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return false;
        }
        if let [b'*', tail @ ..] = rest
            && tail.iter().all(|b| matches!(b, b' ' | b'\t' | b','))
        {
            return true;
        }
        let tag = rest.strip_prefix(b"W/").unwrap_or(rest);
        let Some(body) = tag.strip_prefix(b"\"") else { return false };
        let Some(end) = body.iter().position(|&b| b == b'"') else { return false };
        if &tag[..end + 2] == ours {
            return true;
        }
        rest = &body[end + 1..];
    }
}

/// The catalogue version this process knows to be current, shared with the notice handler.
#[derive(Debug)]
struct Known {
    /// Published for the lock-free hit path: `seen` while nothing is pending, else [`UNKNOWN`].
    current: AtomicI64,
    state: Mutex<KnownState>,
}

#[derive(Debug)]
struct KnownState {
    /// The highest version seen in a notice or a read ([`UNKNOWN`] after a reset).
    seen: i64,
    /// Invalidations so far (own writes, resets).
    dirty: u64,
    /// Invalidations covered by a completed read of the version.
    clean: u64,
    /// Resets so far: a read begun before one is ignored.
    epoch: u64,
}

/// A read of the version in progress.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    dirty: u64,
    epoch: u64,
}

impl Known {
    fn new() -> Self {
        Self {
            current: AtomicI64::new(UNKNOWN),
            state: Mutex::new(KnownState { seen: UNKNOWN, dirty: 0, clean: 0, epoch: 0 }),
        }
    }

    fn current(&self) -> Option<i64> {
        let v = self.current.load(Ordering::Acquire);
        (v != UNKNOWN).then_some(v)
    }

    fn update(&self, f: impl FnOnce(&mut KnownState)) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s);
        let v = if s.clean == s.dirty { s.seen } else { UNKNOWN };
        self.current.store(v, Ordering::Release);
    }

    /// A notice: the new version, or `None` (a reset: notices may have been missed).
    fn notice(&self, payload: Option<&str>) {
        let version = payload.and_then(|p| p.trim().parse::<i64>().ok());
        self.update(|s| match version {
            Some(v) => s.seen = s.seen.max(v),
            None => {
                s.seen = UNKNOWN;
                s.epoch += 1;
                s.dirty += 1;
            }
        });
    }

    /// This process changed the catalogue: read the version before serving anything.
    fn invalidate(&self) {
        self.update(|s| s.dirty += 1);
    }

    fn begin_read(&self) -> Ticket {
        let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Ticket { dirty: s.dirty, epoch: s.epoch }
    }

    /// Records version `v`, read after `ticket` was taken; returns the version to render under.
    fn finish_read(&self, ticket: Ticket, v: i64) -> i64 {
        self.update(|s| {
            if s.epoch == ticket.epoch {
                s.seen = s.seen.max(v);
                s.clean = s.clean.max(ticket.dirty);
            }
        });
        // A notice may have moved past `v` meanwhile; what is rendered now shows that too.
        self.current().map_or(v, |c| c.max(v))
    }
}

#[derive(Debug)]
struct Entry {
    rendered: Rendered,
    stored: Instant,
}

/// The bodies of one catalogue version and listener generation.
#[derive(Debug, Default)]
struct Entries {
    version: i64,
    generation: u64,
    map: HashMap<Key, Entry>,
    bytes: usize,
}

impl Entries {
    fn get(&self, key: &Key, version: i64, generation: u64, ttl: Duration) -> Option<Rendered> {
        if self.version != version || self.generation != generation {
            return None;
        }
        self.map.get(key).filter(|e| e.stored.elapsed() < ttl).map(|e| e.rendered.clone())
    }

    fn put(&mut self, key: Key, version: i64, generation: u64, rendered: Rendered, ttl: Duration) {
        if (generation, version) < (self.generation, self.version) {
            return;
        }
        if (generation, version) != (self.generation, self.version) {
            *self = Entries { version, generation, ..Entries::default() };
        }
        if let Some(old) = self.map.remove(&key) {
            self.bytes -= old.rendered.body.len();
        }
        let size = rendered.body.len();
        if self.map.len() >= MAX_ENTRIES || self.bytes + size > MAX_BYTES {
            self.map.retain(|_, e| e.stored.elapsed() < ttl);
            self.bytes = self.map.values().map(|e| e.rendered.body.len()).sum();
            if self.map.len() >= MAX_ENTRIES || self.bytes + size > MAX_BYTES {
                return;
            }
        }
        self.bytes += size;
        self.map.insert(key, Entry { rendered, stored: Instant::now() });
    }
}

/// The in-memory catalogue cache of one API process (see the module documentation).
#[derive(Debug)]
pub struct CatalogCache {
    known: Arc<Known>,
    entries: RwLock<Entries>,
    fills: Vec<tokio::sync::Mutex<()>>,
    registered: OnceLock<()>,
}

impl Default for CatalogCache {
    fn default() -> Self {
        Self::new()
    }
}

impl CatalogCache {
    /// An empty cache; it registers for notices on first use.
    pub fn new() -> Self {
        Self {
            known: Arc::new(Known::new()),
            entries: RwLock::default(),
            fills: (0..FILL_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            registered: OnceLock::new(),
        }
    }

    /// Call after every catalogue change this process makes (once it is committed, or failed):
    /// the next request reads the version before it serves anything.
    pub fn invalidate(&self) {
        self.known.invalidate();
    }

    /// `result`, after [`Self::invalidate`]: wraps a catalogue write, whatever its outcome.
    pub fn after_change<T>(&self, result: T) -> T {
        self.invalidate();
        result
    }

    /// Registers the notice handler before the first version is read: a notice delivered
    /// before then is about a version that read sees anyway.
    fn register(&self, live: &Live) {
        self.registered.get_or_init(|| {
            let known = self.known.clone();
            live.on(live::CATALOG_CHANNEL, Arc::new(move |payload| known.notice(payload)));
        });
    }

    fn lookup(&self, key: &Key, version: i64, generation: u64, ttl: Duration) -> Option<Rendered> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner).get(key, version, generation, ttl)
    }

    /// The body of `key`: from memory when this process holds it for the current version,
    /// else rendered by `render` (from PostgreSQL) and kept. `ttl` zero, or no live listener,
    /// renders every time.
    pub async fn get<F, Fut>(
        &self,
        live: &Live,
        pool: &PgPool,
        ttl: Duration,
        key: Key,
        render: F,
    ) -> ApiResult<Rendered>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ApiResult<Vec<u8>>>,
    {
        if ttl.is_zero() || !live.is_live() {
            return Ok(Rendered::new(render().await?));
        }
        self.register(live);
        let generation = live.generation();
        if let Some(v) = self.known.current()
            && let Some(hit) = self.lookup(&key, v, generation, ttl)
        {
            return Ok(hit);
        }
        // A miss: one request renders the key, concurrent ones for it wait and take its body.
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let stripe = &self.fills[(h.finish() % FILL_STRIPES as u64) as usize];
        let _filling = tokio::time::timeout(FILL_WAIT, stripe.lock()).await.ok();
        let version = match self.known.current() {
            Some(v) => v,
            None => {
                let ticket = self.known.begin_read();
                let v = products::version(pool).await?;
                self.known.finish_read(ticket, v)
            }
        };
        if let Some(hit) = self.lookup(&key, version, generation, ttl) {
            return Ok(hit);
        }
        let rendered = Rendered::new(render().await?);
        // Kept only if nothing changed while rendering (else it may already be stale), in an
        // allocation of its own size.
        if self.known.current() == Some(version) && live.is_live() && live.generation() == generation {
            let kept = Rendered { body: Bytes::copy_from_slice(&rendered.body), etag: rendered.etag.clone() };
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            entries.put(key, version, generation, kept, ttl);
        }
        Ok(rendered)
    }

    /// Bodies held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(PoisonError::into_inner).map.len()
    }

    /// Whether no body is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tags(values: &[&str]) -> Vec<HeaderValue> {
        values.iter().map(|v| HeaderValue::from_str(v).unwrap()).collect()
    }

    #[test]
    fn etags_are_strong_hashes_of_the_body() {
        let a = Rendered::new(b"{\"a\":1}".to_vec());
        let b = Rendered::new(b"{\"a\":1}".to_vec());
        let c = Rendered::new(b"{\"a\":2}".to_vec());
        assert_eq!(a.etag, b.etag);
        assert_ne!(a.etag, c.etag);
        let t = a.etag.to_str().unwrap();
        assert_eq!(t.len(), 34);
        assert!(t.starts_with('"') && t.ends_with('"') && !t.starts_with("W/"));
    }

    #[test]
    fn if_none_match_uses_the_weak_comparison_lists_and_star() {
        let r = Rendered::new(b"[]".to_vec());
        let ours = r.etag.to_str().unwrap().to_string();
        assert!(r.matches(&tags(&[&ours])));
        assert!(r.matches(&tags(&[&format!("W/{ours}")])));
        assert!(r.matches(&tags(&[&format!("\"x\", W/\"y\" ,{ours}")])));
        assert!(r.matches(&tags(&["\"x\"", &ours])), "every header line counts");
        assert!(r.matches(&tags(&["*"])));
        assert!(r.matches(&tags(&[" * "])));
        assert!(!r.matches(&tags(&[])));
        assert!(!r.matches(&tags(&["\"x\", \"y\""])));
        assert!(!r.matches(&tags(&["\"a,b\""])), "commas inside a tag");
        assert!(!r.matches(&tags(&[&ours[1..ours.len() - 1]])), "unquoted");
        assert!(!r.matches(&tags(&["W/"])));
        assert!(!r.matches(&tags(&["\"unterminated"])));
        assert!(!r.matches(&tags(&["*x"])));
    }

    #[test]
    fn own_writes_and_resets_force_a_read_and_notices_move_up() {
        let k = Known::new();
        assert_eq!(k.current(), None);
        let t = k.begin_read();
        assert_eq!(k.finish_read(t, 5), 5);
        assert_eq!(k.current(), Some(5));
        k.notice(Some("7"));
        assert_eq!(k.current(), Some(7));
        k.notice(Some("6"));
        assert_eq!(k.current(), Some(7), "never backwards");
        k.invalidate();
        assert_eq!(k.current(), None);
        let t = k.begin_read();
        assert_eq!(k.finish_read(t, 8), 8);
        assert_eq!(k.current(), Some(8));
        k.notice(None);
        assert_eq!(k.current(), None, "a reset forgets the version");
        k.notice(Some("junk"));
        let t = k.begin_read();
        assert_eq!(k.finish_read(t, 3), 3, "a restored database may go back");
        assert_eq!(k.current(), Some(3));
    }

    #[test]
    fn a_read_overtaken_by_a_change_does_not_publish() {
        let k = Known::new();
        let t = k.begin_read();
        k.invalidate();
        assert_eq!(k.finish_read(t, 4), 4);
        assert_eq!(k.current(), None, "the write after the read may be newer");
        let t = k.begin_read();
        k.notice(None);
        k.finish_read(t, 4);
        assert_eq!(k.current(), None, "a reset voids reads begun before it");
        let t = k.begin_read();
        k.notice(Some("9"));
        assert_eq!(k.finish_read(t, 8), 9);
        assert_eq!(k.current(), Some(9));
    }

    #[test]
    fn entries_hold_one_version_and_generation_and_expire() {
        let ttl = Duration::from_secs(60);
        let key = Key::Detail(ProductType::Package, 1);
        let body = || Rendered::new(b"{}".to_vec());
        let mut e = Entries::default();
        e.put(key, 2, 1, body(), ttl);
        assert!(e.get(&key, 2, 1, ttl).is_some());
        assert!(e.get(&key, 3, 1, ttl).is_none());
        assert!(e.get(&key, 2, 2, ttl).is_none());
        assert!(e.get(&key, 2, 1, Duration::ZERO).is_none(), "expired");
        e.put(key, 1, 1, body(), ttl);
        assert_eq!((e.version, e.map.len()), (2, 1), "an older version is not stored");
        e.put(Key::Popular(ProductType::Package), 3, 1, body(), ttl);
        assert_eq!((e.version, e.map.len(), e.bytes), (3, 1, 2), "a newer one replaces all");
        e.put(key, 1, 2, body(), ttl);
        assert_eq!((e.generation, e.version, e.map.len()), (2, 1, 1), "a new generation replaces all");
    }

    #[test]
    fn entries_are_bounded() {
        let ttl = Duration::from_secs(60);
        let mut e = Entries::default();
        for id in 0..(MAX_ENTRIES as i64 + 10) {
            e.put(Key::Detail(ProductType::Campaign, id), 1, 1, Rendered::new(b"{}".to_vec()), ttl);
        }
        assert_eq!(e.map.len(), MAX_ENTRIES);
        let big = Rendered::new(vec![b' '; MAX_BYTES]);
        e.put(Key::Popular(ProductType::Campaign), 1, 1, big, ttl);
        assert!(e.bytes <= MAX_BYTES);
        // Expired entries make room.
        e.put(Key::Popular(ProductType::Package), 1, 1, Rendered::new(b"[]".to_vec()), Duration::ZERO);
        assert_eq!(e.map.len(), 1);
    }
}
