//! Secrets at rest: access tokens (only their SHA-256 hashes are stored, compared in constant
//! time), the master key, and the per-stack data keys of the service secrets provider
//! (AES-256-GCM; each data key is stored wrapped by the master key, which never enters the
//! database).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The environment variable that may hold the master key (base64 of 32 bytes) instead of the
/// file `DIR/master-key`.
pub const MASTER_KEY_ENV: &str = "PULUMI_AUTO_SERVER_MASTER_KEY";

/// The prefix of every access token the server issues.
pub const TOKEN_PREFIX: &str = "pul-";

/// A fresh access token: `pul-` and 64 hex digits (256 random bits).
pub fn new_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    let mut s = String::with_capacity(TOKEN_PREFIX.len() + 64);
    s.push_str(TOKEN_PREFIX);
    for b in bytes.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    Zeroizing::new(s)
}

/// A fresh random identifier (128 bits, hex), for tokens' ids, updates and stacks.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The hex SHA-256 of a token: what the database stores and looks tokens up by.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Whether `token` hashes to `stored_hash`, compared in constant time.
pub fn token_matches(token: &str, stored_hash: &str) -> bool {
    let computed = token_hash(token);
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// The key that wraps every stack's data key. Not `Debug`, not `Display`: it is never printed.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([secret])")
    }
}

impl MasterKey {
    /// A key from its base64 text (32 bytes once decoded).
    pub fn from_base64(text: &str) -> Result<MasterKey> {
        let bytes = Zeroizing::new(
            B64.decode(text.trim())
                .map_err(|_| Error::Internal("the master key is not valid base64".into()))?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::Internal("the master key must be 32 bytes (base64)".into()))?;
        Ok(MasterKey(Zeroizing::new(arr)))
    }

    /// The master key from `PULUMI_AUTO_SERVER_MASTER_KEY` when set, else from
    /// `DIR/master-key`, which is created (0600) with a fresh random key when missing.
    pub fn load_or_create(dir: &Path) -> Result<MasterKey> {
        if let Ok(v) = std::env::var(MASTER_KEY_ENV)
            && !v.is_empty()
        {
            return MasterKey::from_base64(&v);
        }
        let path = dir.join("master-key");
        match std::fs::read_to_string(&path) {
            Ok(text) => MasterKey::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(key.as_mut());
                let text = Zeroizing::new(format!("{}\n", B64.encode(key.as_ref())));
                write_private_file(&path, text.as_bytes())?;
                Ok(MasterKey(key))
            }
            Err(e) => Err(Error::Internal(format!(
                "cannot read the master key {}: {e}",
                path.display()
            ))),
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }

    /// A fresh data key for a stack, wrapped (base64 of nonce and ciphertext). `context`
    /// (the stack's id) is bound to the wrapping as associated data.
    pub fn new_wrapped_data_key(&self, context: &str) -> Result<String> {
        let mut dk = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(dk.as_mut());
        seal(&self.cipher(), dk.as_ref(), &wrap_aad(context)).map(|b| B64.encode(b))
    }

    /// The data key of a stack from its wrapped form.
    pub fn unwrap_data_key(&self, wrapped: &str, context: &str) -> Result<DataKey> {
        let bytes = B64
            .decode(wrapped)
            .map_err(|_| Error::Internal("a stored data key is corrupt".into()))?;
        let plain = open(&self.cipher(), &bytes, &wrap_aad(context)).map_err(|_| {
            Error::Internal("a stored data key does not open with the master key".into())
        })?;
        let arr: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| Error::Internal("a stored data key has the wrong size".into()))?;
        Ok(DataKey {
            cipher: Aes256Gcm::new(&arr.into()),
            context: context.to_owned(),
        })
    }
}

fn wrap_aad(context: &str) -> Vec<u8> {
    format!("pulumi-auto-server data key v1 {context}").into_bytes()
}

const NONCE_LEN: usize = 12;

fn seal(cipher: &Aes256Gcm, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Internal("encryption failed".into()))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open(cipher: &Aes256Gcm, data: &[u8], aad: &[u8]) -> std::result::Result<Vec<u8>, ()> {
    if data.len() < 1 + NONCE_LEN + 16 || data[0] != 1 {
        return Err(());
    }
    let (nonce, ct) = data[1..].split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| ())
}

/// One stack's data key, ready to encrypt and decrypt that stack's secret values.
pub struct DataKey {
    cipher: Aes256Gcm,
    context: String,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([secret])")
    }
}

impl DataKey {
    /// The ciphertext of `plaintext` (version byte, 96-bit random nonce, AES-256-GCM output).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        seal(&self.cipher, plaintext, self.context.as_bytes())
    }

    /// The plaintext of a ciphertext this key made; a 400 for anything else.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        open(&self.cipher, ciphertext, self.context.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::bad_request("the ciphertext does not decrypt with this stack's key")
            })
    }
}

/// Writes a file readable and writable by its owner only (0600), failing if it exists.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::Internal(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::Internal(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hash_and_match() {
        let t = new_token();
        assert!(t.starts_with(TOKEN_PREFIX) && t.len() == 68);
        let h = token_hash(&t);
        assert!(token_matches(&t, &h));
        assert!(!token_matches("pul-other", &h));
        assert_ne!(new_token().as_str(), t.as_str());
    }

    #[test]
    fn data_keys_round_trip_and_bind_their_stack() {
        let mk = MasterKey::from_base64(&B64.encode([7u8; 32])).unwrap();
        let wrapped = mk.new_wrapped_data_key("stack-a").unwrap();
        let dk = mk.unwrap_data_key(&wrapped, "stack-a").unwrap();
        let ct = dk.encrypt(b"s3cr3t").unwrap();
        assert_eq!(dk.decrypt(&ct).unwrap().as_slice(), b"s3cr3t");
        // The wrapped key does not open for another stack, nor under another master key.
        assert!(mk.unwrap_data_key(&wrapped, "stack-b").is_err());
        let other = MasterKey::from_base64(&B64.encode([8u8; 32])).unwrap();
        assert!(other.unwrap_data_key(&wrapped, "stack-a").is_err());
        // Tampered or truncated ciphertexts are a 400, never a panic.
        let mut bad = ct.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(dk.decrypt(&bad), Err(Error::BadRequest(_))));
        assert!(dk.decrypt(&ct[..5]).is_err());
        assert!(dk.decrypt(&[]).is_err());
        assert!(!format!("{mk:?}{dk:?}").contains('7'));
    }

    #[test]
    fn master_key_rejects_bad_text() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&B64.encode([1u8; 16])).is_err());
    }
}
