//! Signed checkpoints over the chain head.
//!
//! A checkpoint's body is canonical JSON:
//!
//! ```json
//! {"head_hash":"…","key":"SHA256:…","number":3,"prev_signature":"…","region":"us",
//!  "seq":120,"time":"2026-11-28T07:00:05Z","type":"meridian-audit-checkpoint","v":1}
//! ```
//!
//! and its signature is Ed25519 over those bytes. `prev_signature` is the
//! signature of checkpoint `number - 1` (empty for the first), so checkpoints
//! form their own chain: removing or replacing one breaks the next. `seq` and
//! `head_hash` name the record the checkpoint covers, which is always a record
//! of kind `checkpoint` appended in the same transaction; that record says
//! that checkpoint `number` exists, so deleting the checkpoint alone is
//! detected too.

use serde_json::{Map, Value};

use crate::canonical::to_canonical_string;
use crate::keys::PublicKey;

/// The `type` member of every checkpoint body.
pub(crate) const CHECKPOINT_TYPE: &str = "meridian-audit-checkpoint";

/// A checkpoint with its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The region whose chain it covers.
    pub region: String,
    /// 1 for the first checkpoint, no gaps.
    pub number: u64,
    /// The sequence number of the record it covers (the chain head when signed).
    pub seq: u64,
    /// That record's hash.
    pub head_hash: String,
    /// When it was signed, RFC 3339 UTC.
    pub time: String,
    /// The previous checkpoint's signature (empty for the first).
    pub prev_signature: String,
    /// Fingerprint of the signing key.
    pub key: String,
    /// Ed25519 signature over [`SignedCheckpoint::body`], hex.
    pub signature: String,
}

impl SignedCheckpoint {
    /// The signed body as a JSON object.
    #[must_use]
    pub fn body_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("v".into(), 1.into());
        m.insert("type".into(), CHECKPOINT_TYPE.into());
        m.insert("region".into(), self.region.clone().into());
        m.insert("number".into(), self.number.into());
        m.insert("seq".into(), self.seq.into());
        m.insert("head_hash".into(), self.head_hash.clone().into());
        m.insert("time".into(), self.time.clone().into());
        m.insert("prev_signature".into(), self.prev_signature.clone().into());
        m.insert("key".into(), self.key.clone().into());
        Value::Object(m)
    }

    /// The signed bytes: the canonical text of [`SignedCheckpoint::body_value`].
    #[must_use]
    pub fn body(&self) -> String {
        to_canonical_string(&self.body_value())
    }

    /// Reads a body and its signature back.
    ///
    /// # Errors
    /// A message naming the missing or mistyped member.
    pub(crate) fn from_body(body: &Value, signature: &str) -> Result<Self, String> {
        let str_of = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("no `{k}` string"))
        };
        let num_of = |k: &str| {
            body.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("no `{k}` number"))
        };
        if body.get("type").and_then(Value::as_str) != Some(CHECKPOINT_TYPE) {
            return Err(format!("`type` is not `{CHECKPOINT_TYPE}`"));
        }
        Ok(Self {
            region: str_of("region")?,
            number: num_of("number")?,
            seq: num_of("seq")?,
            head_hash: str_of("head_hash")?,
            time: str_of("time")?,
            prev_signature: str_of("prev_signature")?,
            key: str_of("key")?,
            signature: signature.to_owned(),
        })
    }

    /// Whether `key` made the signature.
    #[must_use]
    pub fn is_signed_by(&self, key: &PublicKey) -> bool {
        key.verifies(self.body().as_bytes(), &self.signature)
    }
}
