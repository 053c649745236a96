//! Password hashing: argon2id for new hashes; Django `pbkdf2_sha256` hashes still verify and are
//! upgraded at the next successful login.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use rand::distributions::Alphanumeric;
use subtle::ConstantTimeEq;

/// argon2id memory cost in KiB (OWASP's 19 MiB).
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// argon2id passes.
pub const ARGON2_ITERATIONS: u32 = 2;
/// argon2id lanes.
pub const ARGON2_PARALLELISM: u32 = 1;

fn argon2() -> Unmapped {
    // The parameters are constants within argon2's documented ranges.
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, None).unwrap_or_default();
    Unmapped { algorithm: Algorithm::Argon2id, version: Version::V0x13, params }
}

/// argon2 computing in a work area of its own per hash ([`work_area`]), so that the 19 MiB a
/// login touches go back to the system when it ends.
struct Unmapped {
    algorithm: Algorithm,
    version: Version,
    params: Params,
}

/// glibc's malloc serves a request above its largest mmap threshold (32 MiB on 64-bit) from a
/// mapping of its own and unmaps it on free. A smaller one (19 MiB) would raise the threshold
/// and stay in the thread's arena after the first free: measured, each blocking thread that
/// hashed once kept its 19 MiB, +59 MB of RSS after 15 logins. Only the pages argon2 touches
/// (its `m_cost` blocks) become resident; the reserve beyond them stays virtual.
fn work_area(params: &Params) -> Vec<Block> {
    const UNMAPPED_ON_FREE: usize = (33 << 20) / Block::SIZE;
    let mut blocks = Vec::with_capacity(params.block_count().max(UNMAPPED_ON_FREE));
    blocks.resize(params.block_count(), Block::default());
    blocks
}

impl PasswordHasher for Unmapped {
    type Params = Params;

    fn hash_password<'a>(
        &self,
        password: &[u8],
        salt: impl Into<Salt<'a>>,
    ) -> argon2::password_hash::Result<PasswordHash<'a>> {
        let salt = salt.into();
        let mut salt_buf = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let argon = Argon2::new(self.algorithm, self.version, self.params.clone());
        let len = self.params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let hash = Output::init_with(len, |out| {
            Ok(argon.hash_password_into_with_memory(password, salt_bytes, out, work_area(&self.params))?)
        })?;
        Ok(PasswordHash {
            algorithm: self.algorithm.ident(),
            version: Some(self.version.into()),
            params: ParamsString::try_from(&self.params)?,
            salt: Some(salt),
            hash: Some(hash),
        })
    }

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> argon2::password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm.map(Algorithm::try_from).transpose()?.unwrap_or_default();
        let version = version.map(Version::try_from).transpose()?.unwrap_or_default();
        Unmapped { algorithm, version, params }.hash_password(password, salt)
    }
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    match argon2().hash_password(password.as_bytes(), &salt) {
        Ok(h) => h.to_string(),
        // Only reachable with parameters out of range, which the constants are not; an
        // unusable hash is the safe answer.
        Err(_) => unusable(),
    }
}

/// A hash that no password matches (Django's `!` convention), for accounts without a password.
pub fn unusable() -> String {
    let noise: String = rand::thread_rng().sample_iter(&Alphanumeric).take(40).map(char::from).collect();
    format!("!{noise}")
}

/// A random password for accounts created without one.
pub fn random_password() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(24).map(char::from).collect()
}

/// Result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password, or an unusable/unknown hash.
    No,
    /// Correct, and the hash is current.
    Yes,
    /// Correct, but the hash should be replaced by [`hash`] (legacy or weaker parameters).
    YesRehash,
}

/// Checks `password` against `stored`, in constant time for the hash comparison.
pub fn verify(password: &str, stored: &str) -> Verified {
    if stored.starts_with('!') || stored.is_empty() {
        return Verified::No;
    }
    if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        return if verify_django_pbkdf2(password, rest) { Verified::YesRehash } else { Verified::No };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if argon2().verify_password(password.as_bytes(), &parsed).is_err() {
        return Verified::No;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed).is_ok_and(|p| p.m_cost() >= ARGON2_MEMORY_KIB && p.t_cost() >= ARGON2_ITERATIONS);
    if current { Verified::Yes } else { Verified::YesRehash }
}

/// `<iterations>$<salt>$<base64 sha256 pbkdf2>` as Django writes it.
fn verify_django_pbkdf2(password: &str, rest: &str) -> bool {
    let mut parts = rest.splitn(3, '$');
    let (Some(iter), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(iterations) = iter.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > 10_000_000 {
        return false;
    }
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    if expected.len() != 32 {
        return false;
    }
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    out.ct_eq(&expected).into()
}

/// Runs a verification against a fixed hash so that an unknown username costs the same time as
/// a wrong password.
pub fn burn_time(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("timing-equaliser"));
    let _ = verify(password, dummy);
}

/// Runs argon2 work on the blocking pool, at most `concurrency` computations at once across the
/// process (each takes 19 MiB and a core for ~20 ms), so a flood of login, signup, change or
/// reset requests queues instead of exhausting memory and CPU. Clones share the limit.
#[derive(Clone, Debug)]
pub struct Hasher {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    computed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The blocking task running a hash was lost (the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("password hashing task failed: {0}")]
pub struct HasherError(String);

impl Hasher {
    /// A hasher allowing `concurrency` (≥ 1) computations at once.
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            computed: Default::default(),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HasherError> {
        let _permit = self.permits.acquire().await.map_err(|e| HasherError(e.to_string()))?;
        self.computed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(work).await.map_err(|e| HasherError(e.to_string()))
    }

    /// [`hash`] under the limit.
    pub async fn hash(&self, password: String) -> Result<String, HasherError> {
        self.run(move || hash(&password)).await
    }

    /// [`verify`] under the limit; with the new hash when the stored one should be upgraded.
    pub async fn verify(&self, password: String, stored: String) -> Result<(Verified, Option<String>), HasherError> {
        self.run(move || {
            let v = verify(&password, &stored);
            let rehash = (v == Verified::YesRehash).then(|| hash(&password));
            (v, rehash)
        })
        .await
    }

    /// [`burn_time`] under the limit.
    pub async fn burn_time(&self, password: String) -> Result<(), HasherError> {
        self.run(move || burn_time(&password)).await
    }

    /// Computations started since the process began (`/metrics`).
    pub fn computed(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Builds a Django-format hash; used by tests and data imports.
pub fn django_pbkdf2_hash(password: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    format!("pbkdf2_sha256${iterations}${salt}${}", STANDARD.encode(out))
}

/// Shortest acceptable new password.
pub const MIN_LENGTH: usize = 8;
/// Longest accepted password (the original's column limit on raw input).
pub const MAX_LENGTH: usize = 128;

const COMMON: &[&str] = &[
    "password",
    "password1",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "iloveyou",
    "11111111",
    "abcdefgh",
    "abc12345",
    "password123",
    "qwerty123",
    "admin123",
    "welcome1",
    "letmein1",
    "electioncart",
];

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Fewer than [`MIN_LENGTH`] characters.
    #[error("Password must be at least {MIN_LENGTH} characters.")]
    TooShort,
    /// More than [`MAX_LENGTH`] characters.
    #[error("Password must be at most {MAX_LENGTH} characters.")]
    TooLong,
    /// Digits only.
    #[error("Password cannot be entirely numeric.")]
    Numeric,
    /// One of the most common passwords.
    #[error("Password is too common.")]
    Common,
    /// The username itself (any case).
    #[error("Password is too similar to the username.")]
    LikeUsername,
}

/// Checks a new password against the policy (Django's default validators).
pub fn check_policy(password: &str, username: &str) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(WeakPassword::TooShort);
    }
    if chars > MAX_LENGTH {
        return Err(WeakPassword::TooLong);
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        return Err(WeakPassword::Numeric);
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err(WeakPassword::Common);
    }
    if !username.is_empty() && lower == username.to_lowercase() {
        return Err(WeakPassword::LikeUsername);
    }
    Ok(())
}

/// Why a new password is refused, in words; `None` when acceptable.
pub fn policy_problem(password: &str, username: &str) -> Option<String> {
    check_policy(password, username).err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify("correct horse", &h), Verified::Yes);
        assert_eq!(verify("wrong", &h), Verified::No);
    }

    #[test]
    fn hashes_agree_with_the_stock_argon2_both_ways() {
        let ours = hash("correct horse");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"correct horsE", &parsed).is_err());

        // A hash with weaker parameters, as an older release or another tool wrote it.
        let weak = Params::new(4096, 1, 1, None).unwrap();
        let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, weak)
            .hash_password(b"s3cret-pass", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert_eq!(verify("s3cret-pass", &stock), Verified::YesRehash);
        assert_eq!(verify("s3cret-pasS", &stock), Verified::No);
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(8192, 2, 1, None).unwrap())
            .hash_password(b"s3cret-pass", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert_eq!(verify("s3cret-pass", &argon2i), Verified::YesRehash);
    }

    #[test]
    fn the_work_area_is_a_mapping_of_its_own_with_only_m_cost_blocks_in_use() {
        let params = argon2().params;
        let area = work_area(&params);
        assert_eq!(area.len(), 19_456);
        assert!(area.capacity() * Block::SIZE > 32 << 20, "above glibc's largest mmap threshold");
    }

    #[test]
    fn django_hash_verifies_and_asks_for_rehash() {
        // Produced by Django 4.2: make_password("s3cret-pass", salt="abcdefgh12345678", hasher="pbkdf2_sha256")
        // with 600000 iterations is slow in debug builds; a smaller count has the same format.
        let h = django_pbkdf2_hash("s3cret-pass", "abcdefgh12345678", 1_000);
        assert_eq!(verify("s3cret-pass", &h), Verified::YesRehash);
        assert_eq!(verify("s3cret-pasS", &h), Verified::No);
    }

    #[test]
    fn known_django_vector() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1) from RFC 7914 §11.
        let h = format!(
            "pbkdf2_sha256$1$salt${}",
            STANDARD.encode(
                hex::decode("120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b").unwrap_or_default()
            )
        );
        assert_eq!(verify("password", &h), Verified::YesRehash);
    }

    #[test]
    fn policy() {
        assert_eq!(check_policy("short", ""), Err(WeakPassword::TooShort));
        assert_eq!(check_policy("12345678901", ""), Err(WeakPassword::Numeric));
        assert_eq!(check_policy("Password123", ""), Err(WeakPassword::Common));
        assert_eq!(check_policy("Meera-2025", "meera-2025"), Err(WeakPassword::LikeUsername));
        assert_eq!(check_policy("brand-new-pass-9", "meera"), Ok(()));
        assert_eq!(policy_problem("short", "").as_deref(), Some("Password must be at least 8 characters."));
    }

    #[test]
    fn unusable_never_matches() {
        assert_eq!(verify("", &unusable()), Verified::No);
        assert_eq!(verify("x", "garbage"), Verified::No);
        assert_eq!(verify("x", "pbkdf2_sha256$abc$salt$zzz"), Verified::No);
    }
}
