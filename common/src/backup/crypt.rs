//! Encryption at rest of backup files: AES-256-GCM in chunks, so a dump of any size is
//! encrypted and decrypted in constant memory.
//!
//! File format (`.dump.enc`): the 8 magic bytes `ECBKENC1`, a random 8-byte file id, then
//! chunks of `u32` big-endian ciphertext length followed by the ciphertext (plaintext ≤ 1 MiB
//! plus the 16-byte tag). The nonce of chunk `n` is the file id followed by `n` (u32 BE); the
//! associated data is the file id, `n` and a final-chunk flag, so chunks cannot be reordered,
//! dropped or truncated at a chunk boundary without the decryption failing.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;

/// Magic bytes at the start of an encrypted backup.
pub const MAGIC: &[u8; 8] = b"ECBKENC1";
const CHUNK: usize = 1 << 20;
const TAG: usize = 16;

/// The 32-byte `BACKUP_ENCRYPTION_KEY`; its `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupKey([u8; 32]);

impl fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupKey(***)")
    }
}

impl BackupKey {
    /// Parses 64 hex characters or the standard base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| e.to_string())?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| "use 64 hex characters or the base64 of 32 bytes".to_string())?
        };
        let key: [u8; 32] =
            bytes.try_into().map_err(|_| "the key must be 32 bytes (64 hex characters or 44 base64)".to_string())?;
        Ok(Self(key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

/// Why a file could not be encrypted or decrypted.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    /// Reading or writing.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not an encrypted backup, a wrong key, or a damaged file.
    #[error("{0}")]
    Invalid(String),
}

fn nonce_and_aad(file_id: &[u8; 8], n: u32, last: bool) -> ([u8; 12], [u8; 13]) {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(file_id);
    nonce[8..].copy_from_slice(&n.to_be_bytes());
    let mut aad = [0u8; 13];
    aad[..12].copy_from_slice(&nonce);
    aad[12] = u8::from(last);
    (nonce, aad)
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Encrypts `from` into `to` (blocking: run it on a blocking thread).
pub fn encrypt_file(key: &BackupKey, from: &Path, to: &Path) -> Result<(), CryptError> {
    let mut input = std::io::BufReader::new(std::fs::File::open(from)?);
    let mut output = std::io::BufWriter::new(std::fs::File::create(to)?);
    let file_id: [u8; 8] = rand::random();
    output.write_all(MAGIC)?;
    output.write_all(&file_id)?;
    let cipher = key.cipher();
    let mut current = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut len = fill(&mut input, &mut current)?;
    let mut n: u32 = 0;
    loop {
        // One chunk of look-ahead tells whether this chunk is the last.
        let next_len = if len == CHUNK { fill(&mut input, &mut next)? } else { 0 };
        let last = next_len == 0;
        let (nonce, aad) = nonce_and_aad(&file_id, n, last);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &current[..len], aad: &aad })
            .map_err(|_| CryptError::Invalid("encryption failed".into()))?;
        let sealed_len = u32::try_from(sealed.len()).map_err(|_| CryptError::Invalid("chunk too large".into()))?;
        output.write_all(&sealed_len.to_be_bytes())?;
        output.write_all(&sealed)?;
        if last {
            break;
        }
        std::mem::swap(&mut current, &mut next);
        len = next_len;
        n = n.checked_add(1).ok_or_else(|| CryptError::Invalid("file too large".into()))?;
    }
    output.flush()?;
    output.into_inner().map_err(|e| CryptError::Io(e.into_error()))?.sync_all()?;
    Ok(())
}

/// Decrypts `from` into `to` (blocking). Fails on a wrong key or any damage.
pub fn decrypt_file(key: &BackupKey, from: &Path, to: &Path) -> Result<(), CryptError> {
    let mut input = std::io::BufReader::new(std::fs::File::open(from)?);
    let mut head = [0u8; 16];
    if fill(&mut input, &mut head)? != 16 || &head[..8] != MAGIC {
        return Err(CryptError::Invalid("not an encrypted Election Cart backup".into()));
    }
    let mut file_id = [0u8; 8];
    file_id.copy_from_slice(&head[8..]);
    let mut output = std::io::BufWriter::new(std::fs::File::create(to)?);
    let cipher = key.cipher();
    let mut sealed = vec![0u8; CHUNK + TAG];
    let mut n: u32 = 0;
    let mut len_buf = [0u8; 4];
    let mut len = match fill(&mut input, &mut len_buf)? {
        4 => u32::from_be_bytes(len_buf) as usize,
        _ => return Err(CryptError::Invalid("truncated file".into())),
    };
    loop {
        if !(TAG..=CHUNK + TAG).contains(&len) {
            return Err(CryptError::Invalid("damaged file (bad chunk length)".into()));
        }
        if fill(&mut input, &mut sealed[..len])? != len {
            return Err(CryptError::Invalid("truncated file".into()));
        }
        let next_len = match fill(&mut input, &mut len_buf)? {
            0 => None,
            4 => Some(u32::from_be_bytes(len_buf) as usize),
            _ => return Err(CryptError::Invalid("truncated file".into())),
        };
        let (nonce, aad) = nonce_and_aad(&file_id, n, next_len.is_none());
        let plain = cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &sealed[..len], aad: &aad })
            .map_err(|_| CryptError::Invalid("wrong key or damaged file (authentication failed)".into()))?;
        output.write_all(&plain)?;
        match next_len {
            None => break,
            Some(l) => len = l,
        }
        n = n.checked_add(1).ok_or_else(|| CryptError::Invalid("file too large".into()))?;
    }
    output.flush()?;
    Ok(())
}

/// Whether a file starts with the encrypted-backup magic.
pub fn is_encrypted(path: &Path) -> std::io::Result<bool> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path)?;
    Ok(fill(&mut f, &mut head)? == 8 && &head == MAGIC)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn roundtrip(size: usize) {
        let dir = std::env::temp_dir().join(format!("ec-crypt-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let (plain, enc, back) = (dir.join("p"), dir.join("e"), dir.join("b"));
        std::fs::write(&plain, &data).unwrap();
        let key = BackupKey::parse(&"ab".repeat(32)).unwrap();
        encrypt_file(&key, &plain, &enc).unwrap();
        assert!(is_encrypted(&enc).unwrap());
        decrypt_file(&key, &enc, &back).unwrap();
        assert_eq!(std::fs::read(&back).unwrap(), data);
        let wrong = BackupKey::parse(&"cd".repeat(32)).unwrap();
        assert!(decrypt_file(&wrong, &enc, &back).is_err());
        // Dropping the last chunk (or any byte) is detected.
        let bytes = std::fs::read(&enc).unwrap();
        std::fs::write(&enc, &bytes[..bytes.len() - 1]).unwrap();
        assert!(decrypt_file(&key, &enc, &back).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn round_trips_empty_small_and_multi_chunk_files() {
        roundtrip(0);
        roundtrip(1000);
        roundtrip(CHUNK);
        roundtrip(2 * CHUNK + 5);
    }

    #[test]
    fn keys_parse_from_hex_or_base64_only_at_32_bytes() {
        assert!(BackupKey::parse(&"0f".repeat(32)).is_ok());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(BackupKey::parse(&b64).unwrap(), BackupKey([7u8; 32]));
        assert!(BackupKey::parse("abcd").is_err());
        assert!(BackupKey::parse(&"0f".repeat(31)).is_err());
        assert_eq!(format!("{:?}", BackupKey([1; 32])), "BackupKey(***)");
    }
}
