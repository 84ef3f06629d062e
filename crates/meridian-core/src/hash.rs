use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 content address, shown as 64 lowercase hex digits.
///
/// Transcripts, digests and prompts are addressed by hash so that work
/// already done for the same content is found again instead of redone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// Hashes `bytes`.
    #[must_use]
    pub fn of(bytes: impl AsRef<[u8]>) -> Self {
        Self(Sha256::digest(bytes.as_ref()).into())
    }

    /// Hashes several parts, each length-prefixed so that `("ab","c")` and
    /// `("a","bc")` differ.
    #[must_use]
    pub fn of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        Self(h.finalize().into())
    }

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// A message naming the bad value when it is not 64 hex digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| format!("content hash `{s}`: {e}"))?;
        Ok(Self(out))
    }

    /// The hash as 64 hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The raw 32 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for ContentHash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ContentHash> for String {
    fn from(h: ContentHash) -> Self {
        h.to_hex()
    }
}

#[cfg(test)]
mod tests {
    use super::ContentHash;

    #[test]
    fn known_vector_and_roundtrip() {
        let h = ContentHash::of("abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ContentHash::parse(&h.to_hex()), Ok(h));
        assert!(ContentHash::parse("xyz").is_err());
    }

    #[test]
    fn parts_are_length_prefixed() {
        let a = ContentHash::of_parts([b"ab".as_slice(), b"c".as_slice()]);
        let b = ContentHash::of_parts([b"a".as_slice(), b"bc".as_slice()]);
        assert_ne!(a, b);
    }
}
