//! A region's Ed25519 audit key: where it comes from, how it is written.
//!
//! The signing key is the 32-byte Ed25519 seed, written as 64 hex digits:
//!
//! - in a key file (`{data_dir}/keys/<region>.ed25519` by default, or any path
//!   given with `--key-file`): lines starting with `#` are comments, the first
//!   other line is the key; the file should be readable by its owner only
//!   (`meridian audit keygen` writes it with mode 0600);
//! - or in the environment variable `MERIDIAN_<REGION>__AUDIT__SIGNING_KEY`
//!   (e.g. from a Kubernetes secret), which wins over the default file.
//!
//! The public key (32 bytes, 64 hex digits) is written beside the key file as
//! `<key file>.pub`; that is what an auditor needs for `meridian audit verify
//! --public-key`. Its fingerprint, `SHA256:` + the hex SHA-256 of the 32
//! public-key bytes, names the key in checkpoints and reports.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use meridian_core::RegionId;
use zeroize::Zeroizing;

use crate::AuditError;
use crate::record::sha256_hex;

/// The environment variable that may hold a region's signing key:
/// `MERIDIAN_US__AUDIT__SIGNING_KEY` for `us`.
#[must_use]
pub fn signing_key_env(region: &RegionId) -> String {
    format!("MERIDIAN_{}__AUDIT__SIGNING_KEY", region.as_env())
}

/// The default key file of a region: `{data_dir}/keys/<region>.ed25519`.
#[must_use]
pub fn default_key_path(data_dir: &Path, region: &RegionId) -> PathBuf {
    data_dir.join("keys").join(format!("{region}.ed25519"))
}

/// The public key file beside a key file: `<key file>.pub`.
#[must_use]
pub fn public_key_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// A region's signing key and where it came from.
pub struct AuditKey {
    /// The key (zeroised on drop by `ed25519-dalek`).
    signing: SigningKey,
    /// A file path or an environment variable name, for messages.
    source: String,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key itself.
        f.debug_struct("AuditKey")
            .field("source", &self.source)
            .field("public", &self.public_key().to_hex())
            .finish()
    }
}

impl AuditKey {
    /// A new random key from the operating system's generator.
    ///
    /// # Errors
    /// [`AuditError::Key`] when the OS has no randomness to give.
    pub fn generate() -> Result<Self, AuditError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice()).map_err(|e| AuditError::Key {
            origin: "the OS random generator".into(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
            source: "generated".into(),
        })
    }

    /// Parses 64 hex digits (surrounding whitespace ignored); `source` names
    /// where they came from in errors.
    ///
    /// # Errors
    /// [`AuditError::Key`] naming `source` when it is not 64 hex digits.
    pub fn from_hex(text: &str, source: &str) -> Result<Self, AuditError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), seed.as_mut_slice()).map_err(|e| AuditError::Key {
            origin: source.to_owned(),
            reason: format!("an Ed25519 signing key is 64 hex digits ({e})"),
        })?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
            source: source.to_owned(),
        })
    }

    /// Reads a key file (see the module docs for its format).
    ///
    /// # Errors
    /// [`AuditError::Io`] when it cannot be read, [`AuditError::Key`] when it holds no key.
    pub fn read(path: &Path) -> Result<Self, AuditError> {
        let text =
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?);
        warn_if_readable_by_others(path);
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        Self::from_hex(line, &path.display().to_string())
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// Where the key came from (a path or an environment variable name).
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Signs `message`; the signature as 128 hex digits.
    #[must_use]
    pub(crate) fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.signing.sign(message).to_bytes())
    }

    /// Writes the key to `path` (mode 0600, folders created) and its public
    /// key to `path.pub`. Refuses to replace an existing key file unless
    /// `overwrite`: losing a key makes its checkpoints unverifiable by anyone
    /// who only has the new public key.
    ///
    /// # Errors
    /// [`AuditError::KeyExists`] or [`AuditError::Io`].
    pub fn write(&self, path: &Path, region: &RegionId, overwrite: bool) -> Result<(), AuditError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| AuditError::io(parent, e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                AuditError::KeyExists {
                    path: path.to_owned(),
                }
            } else {
                AuditError::io(path, e)
            }
        })?;
        let secret = Zeroizing::new(hex::encode(self.signing.to_bytes()));
        let body = Zeroizing::new(format!(
            "# Meridian audit signing key of region `{region}` (Ed25519 seed, hex). Keep it secret.\n\
             # Public key: {}\n{}\n",
            self.public_key().to_hex(),
            secret.as_str()
        ));
        file.write_all(body.as_bytes())
            .map_err(|e| AuditError::io(path, e))?;
        #[cfg(unix)]
        if overwrite {
            // `mode` applies only when the file is created.
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| AuditError::io(path, e))?;
        }
        let public = public_key_path(path);
        std::fs::write(&public, format!("{}\n", self.public_key().to_hex()))
            .map_err(|e| AuditError::io(&public, e))?;
        Ok(())
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %path.display(), "The audit signing key file is readable by others; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// A region's public key: what verifies its checkpoints.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl PublicKey {
    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// [`AuditError::Key`] when it is not a valid Ed25519 public key.
    pub fn from_hex(text: &str, source: &str) -> Result<Self, AuditError> {
        let mut bytes = [0u8; 32];
        let bad = |reason: String| AuditError::Key {
            origin: source.to_owned(),
            reason,
        };
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|e| bad(format!("an Ed25519 public key is 64 hex digits ({e})")))?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|e| bad(format!("not an Ed25519 public key: {e}")))
    }

    /// A public key given on the command line: 64 hex digits, or the path of a
    /// file holding them (`#` comment lines ignored).
    ///
    /// # Errors
    /// [`AuditError::Key`] or [`AuditError::Io`].
    pub fn from_arg(arg: &str) -> Result<Self, AuditError> {
        let trimmed = arg.trim();
        if trimmed.len() == 64 && trimmed.chars().all(|c| c.is_ascii_hexdigit()) {
            return Self::from_hex(trimmed, "--public-key");
        }
        let path = Path::new(arg);
        let text = std::fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?;
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        Self::from_hex(line, &path.display().to_string())
    }

    /// The key as 64 hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// `SHA256:` + the hex SHA-256 of the key bytes.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", sha256_hex(self.0.as_bytes()))
    }

    /// Whether `signature_hex` is this key's signature of `message` (strict
    /// verification: no malleable or small-order encodings).
    #[must_use]
    pub fn verifies(&self, message: &[u8], signature_hex: &str) -> bool {
        let mut bytes = [0u8; 64];
        if hex::decode_to_slice(signature_hex, &mut bytes).is_err() {
            return false;
        }
        self.0
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// Loads a region's signing key: from `key_file` when given (it must exist),
/// else from the environment variable [`signing_key_env`], else from the
/// default key file when it exists. `Ok(None)`: the region has no key, and
/// its records go unsigned.
///
/// # Errors
/// [`AuditError::Key`] or [`AuditError::Io`] when a key is named but cannot be read.
pub fn load_signing_key(
    region: &RegionId,
    data_dir: &Path,
    key_file: Option<&Path>,
) -> Result<Option<AuditKey>, AuditError> {
    if let Some(path) = key_file {
        return AuditKey::read(path).map(Some);
    }
    let var = signing_key_env(region);
    if let Some(value) = std::env::var_os(&var) {
        let value = Zeroizing::new(value.to_string_lossy().into_owned());
        return AuditKey::from_hex(&value, &var).map(Some);
    }
    let default = default_key_path(data_dir, region);
    if default.is_file() {
        return AuditKey::read(&default).map(Some);
    }
    Ok(None)
}

/// The key a region verifies its own checkpoints with, when no public key is
/// given: the public half of its signing key (as [`load_signing_key`] finds
/// it), else the public key file beside the default key file.
///
/// # Errors
/// As [`load_signing_key`].
pub fn load_public_key(
    region: &RegionId,
    data_dir: &Path,
    key_file: Option<&Path>,
) -> Result<Option<PublicKey>, AuditError> {
    if let Some(key) = load_signing_key(region, data_dir, key_file)? {
        return Ok(Some(key.public_key()));
    }
    let public = public_key_path(&default_key_path(data_dir, region));
    if public.is_file() {
        return PublicKey::from_arg(&public.display().to_string()).map(Some);
    }
    Ok(None)
}

/// Makes sure a region has a key in its default key file, generating one
/// when there is none (the demo calls this). Returns the key and whether it
/// was made now.
///
/// # Errors
/// [`AuditError::Key`] or [`AuditError::Io`].
pub fn ensure_key_file(data_dir: &Path, region: &RegionId) -> Result<(AuditKey, bool), AuditError> {
    let path = default_key_path(data_dir, region);
    if path.is_file() {
        return AuditKey::read(&path).map(|k| (k, false));
    }
    let mut key = AuditKey::generate()?;
    key.write(&path, region, false)?;
    key.source = path.display().to_string();
    Ok((key, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_key_reads_back_with_its_public_key_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let region = RegionId::parse("eu").unwrap();
        let (key, made) = ensure_key_file(dir.path(), &region).unwrap();
        assert!(made);
        let path = default_key_path(dir.path(), &region);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let again = AuditKey::read(&path).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public = PublicKey::from_arg(&public_key_path(&path).display().to_string()).unwrap();
        assert_eq!(public, key.public_key());
        let (_, made_again) = ensure_key_file(dir.path(), &region).unwrap();
        assert!(!made_again, "an existing key is kept");
        let err = AuditKey::generate()
            .unwrap()
            .write(&path, &region, false)
            .unwrap_err();
        assert!(matches!(err, AuditError::KeyExists { .. }), "{err}");
    }

    #[test]
    fn signatures_verify_only_with_the_right_key_and_message() {
        let key = AuditKey::generate().unwrap();
        let other = AuditKey::generate().unwrap();
        let sig = key.sign_hex(b"head");
        assert!(key.public_key().verifies(b"head", &sig));
        assert!(!key.public_key().verifies(b"head!", &sig));
        assert!(!other.public_key().verifies(b"head", &sig));
        assert!(!key.public_key().verifies(b"head", "zz"));
        assert!(key.public_key().fingerprint().starts_with("SHA256:"));
    }

    #[test]
    fn bad_keys_name_their_source() {
        let err = AuditKey::from_hex("abc", "MERIDIAN_US__AUDIT__SIGNING_KEY").unwrap_err();
        assert!(
            err.to_string().contains("MERIDIAN_US__AUDIT__SIGNING_KEY"),
            "{err}"
        );
        let key = AuditKey::generate().unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.public_key().to_hex()), "{shown}");
        assert!(
            !shown.contains(&hex::encode(key.signing.to_bytes())),
            "Debug never shows the secret key"
        );
    }
}
