//! Region-scoped bearer tokens of the admin API: `mrd_<region>_<64 hex>`.
//!
//! A token names its region in its text and lives, as a SHA-256 hash, in that
//! region's database only. A token shown to another region's service is
//! refused twice over: its region part does not match, and its hash is not in
//! that region's store. The token is printed once, when it is made
//! (`meridian tokens create`), and never stored.

use meridian_core::RegionId;
use meridian_store::{ApiTokenRow, RegionStore, StoreError, TokenScope};
use sha2::{Digest as _, Sha256};

/// Every token starts so (`mrd` = Meridian), which makes leaked tokens easy
/// to find with secret scanners.
pub const TOKEN_PREFIX: &str = "mrd_";

/// A token just made: its text (show it once) and its stored row.
#[derive(Debug)]
pub struct MintedToken {
    /// The bearer token; not stored anywhere.
    pub token: String,
    /// The stored row (hash, name, scope).
    pub row: ApiTokenRow,
}

/// The stored form of `token`: `sha256:<hex>`.
#[must_use]
pub fn token_hash(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// The region a token names (`mrd_<region>_<secret>` → `<region>`), or
/// `None` when it is not shaped like a Meridian token.
#[must_use]
pub fn token_region(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (region, secret) = rest.rsplit_once('_')?;
    (!region.is_empty() && secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(region)
}

/// Makes a token of `scope` named `name` for the region of `store`.
///
/// # Errors
/// [`TokenError::Random`] when the OS has no randomness to give,
/// [`TokenError::Store`] when it cannot be stored.
pub async fn create_token(
    store: &RegionStore,
    name: &str,
    scope: TokenScope,
    now: i64,
) -> Result<MintedToken, TokenError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = format!("{TOKEN_PREFIX}{}_{}", store.region(), hex::encode(secret));
    let row = store
        .create_api_token(name, scope, &token_hash(&token), now)
        .await?;
    Ok(MintedToken { token, row })
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No random bytes.
    #[error("cannot make a token: the OS random generator failed: {0}")]
    Random(String),
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `token` names `region`.
#[must_use]
pub fn names_region(token: &str, region: &RegionId) -> bool {
    token_region(token) == Some(region.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_read_from_the_token_text() {
        let secret = "ab".repeat(32);
        assert_eq!(token_region(&format!("mrd_us_{secret}")), Some("us"));
        assert_eq!(token_region(&format!("mrd_eu_{secret}")), Some("eu"));
        assert_eq!(token_region(&format!("mrd__{secret}")), None, "no region");
        assert_eq!(token_region("mrd_us_short"), None);
        assert_eq!(token_region(&format!("xyz_us_{secret}")), None);
        assert_eq!(token_region(&format!("mrd_us_{}", "zz".repeat(32))), None);
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
