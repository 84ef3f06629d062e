//! [`AuditLog`]: appending records and checkpoints to a region's chain.

use std::sync::Arc;

use chrono::Utc;
use hmac::{Hmac, Mac as _};
use meridian_core::RegionId;
use meridian_store::{AuditRow, CheckpointRow, RegionStore};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::AuditError;
use crate::checkpoint::SignedCheckpoint;
use crate::keys::{AuditKey, PublicKey};
use crate::record::{AuditEvent, AuditKind, GENESIS_HASH, rfc3339, seal};
use crate::report::Attestation;
use crate::verify::{VerifyReport, verify_store};
use crate::witness::{Witnessed, check_witnessed};

/// Where a record went in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReceipt {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// One region's audit log. Cheap to clone; share one per region.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// The region's store, where the chain lives.
    store: RegionStore,
    /// Batches waiting for the next group commit (see [`AuditLog::record_batch`]).
    queue: std::sync::Mutex<Vec<Queued>>,
    /// Held by the task writing the queue: one writer at a time per process.
    writer: tokio::sync::Mutex<()>,
    /// Key of the keyed hashes that stand for personal data (stored in the
    /// region's own database, shared by its replicas).
    secret: Zeroizing<Vec<u8>>,
    /// The signing key; `None`: checkpoints cannot be made.
    key: Option<AuditKey>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("region", self.region())
            .field(
                "key",
                &self
                    .inner
                    .key
                    .as_ref()
                    .map(|k| k.public_key().fingerprint()),
            )
            .finish_non_exhaustive()
    }
}

/// One event ready to be sealed: everything but its place in the chain.
struct Prepared {
    kind: AuditKind,
    at: i64,
    members: serde_json::Map<String, serde_json::Value>,
}

/// A caller's batch waiting for a group commit, and where its answer goes.
struct Queued {
    records: Vec<Prepared>,
    done: tokio::sync::oneshot::Sender<Result<Vec<AuditReceipt>, AuditError>>,
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl AuditLog {
    /// Opens the audit log of the region `store` belongs to. `key` signs
    /// checkpoints; without one, records are still written and hash-chained,
    /// but [`AuditLog::checkpoint`] makes nothing and verification reports
    /// the chain as unsigned.
    ///
    /// # Errors
    /// [`AuditError::Store`] when the region's audit secret cannot be read or
    /// stored, [`AuditError::Key`] when no random secret can be made.
    pub async fn open(store: RegionStore, key: Option<AuditKey>) -> Result<Self, AuditError> {
        let mut candidate = Zeroizing::new([0u8; 32]);
        getrandom::fill(candidate.as_mut_slice()).map_err(|e| AuditError::Key {
            origin: "the OS random generator".into(),
            reason: e.to_string(),
        })?;
        let stored = Zeroizing::new(
            store
                .audit_secret_or_init(&hex::encode(candidate.as_slice()))
                .await?,
        );
        let secret = Zeroizing::new(hex::decode(stored.as_str()).map_err(|e| {
            AuditError::Store(meridian_store::StoreError::Corrupt {
                region: store.region().clone(),
                what: "audit secret".into(),
                reason: e.to_string(),
            })
        })?);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                queue: std::sync::Mutex::new(Vec::new()),
                writer: tokio::sync::Mutex::new(()),
                secret,
                key,
            }),
        })
    }

    /// The region.
    #[must_use]
    pub fn region(&self) -> &RegionId {
        self.inner.store.region()
    }

    /// The region's store.
    #[must_use]
    pub fn store(&self) -> &RegionStore {
        &self.inner.store
    }

    /// The public key of the signing key, when there is one.
    #[must_use]
    pub fn public_key(&self) -> Option<PublicKey> {
        self.inner.key.as_ref().map(AuditKey::public_key)
    }

    /// The keyed hash that stands for a piece of personal data (an email
    /// address) in audit records: `hmac-sha256:` + HMAC-SHA256 of `value` with
    /// the region's audit secret, hex. The same value always gives the same
    /// hash within a region, so records about one subscriber can be counted
    /// and linked; without the secret (which never leaves the region's
    /// database) the address cannot be recovered by guessing. Pass addresses
    /// in their parsed form (`SubscriberEmail::as_str`).
    #[must_use]
    pub fn keyed_hash(&self, value: &str) -> String {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        match <Hmac<Sha256>>::new_from_slice(&self.inner.secret) {
            Ok(mut mac) => {
                mac.update(value.as_bytes());
                format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
            }
            Err(_) => String::from("hmac-sha256:unavailable"),
        }
    }

    /// Appends `event` to the chain: it becomes the record after the current
    /// head, carrying the head's hash, in one serialised transaction (two
    /// replicas never fork the chain). Call it *before* acting on a decision
    /// and after the act for its outcome: a policy `Checkpoint` records the
    /// decision, then acts only if the append succeeded, so nothing happens
    /// that the log does not show.
    ///
    /// # Errors
    /// [`AuditError::Store`]; the event is then not recorded, and the caller
    /// must not act on it.
    #[tracing::instrument(skip_all, fields(region = %self.region(), kind = %event.kind))]
    pub async fn record(&self, event: AuditEvent) -> Result<AuditReceipt, AuditError> {
        let mut receipts = self.record_batch(vec![event]).await?;
        receipts.pop().ok_or_else(|| AuditError::Append {
            region: self.region().to_string(),
            reason: "the append returned no receipt".into(),
            retryable: false,
        })
    }

    /// Appends `events` to the chain in order, in one transaction: the same
    /// records as one [`Self::record`] each, at a fraction of the cost.
    ///
    /// Appends of one process are **group-committed**: while one append is
    /// being written, the batches other tasks hand in wait in a queue, and
    /// the next writer writes all of them in one transaction (one lock, one
    /// commit), each batch contiguous and in the order it was queued. Every
    /// caller still returns only once its own records are committed, so
    /// "record, then act" holds. On SQLite, where every transaction takes the
    /// database's single write lock, this turns one lock per record into one
    /// lock per burst of concurrent records (docs/benchmarks.md).
    ///
    /// # Errors
    /// [`AuditError::Store`] or [`AuditError::Append`]; then none of the
    /// events is recorded.
    #[tracing::instrument(skip_all, fields(region = %self.region(), events = events.len()))]
    pub async fn record_batch(
        &self,
        events: Vec<AuditEvent>,
    ) -> Result<Vec<AuditReceipt>, AuditError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let region = self.region().clone();
        let records: Vec<Prepared> = events
            .into_iter()
            .map(|e| Prepared {
                kind: e.kind,
                at: now.timestamp(),
                members: e.into_members(&region, now),
            })
            .collect();
        let (done, mut receipt) = tokio::sync::oneshot::channel();
        if let Ok(mut queue) = self.inner.queue.lock() {
            queue.push(Queued { records, done });
        }
        {
            let _writer = self.inner.writer.lock().await;
            // The writer before us may have written our batch already.
            if let Ok(result) = receipt.try_recv() {
                return result;
            }
            let queued = self
                .inner
                .queue
                .lock()
                .map(|mut q| std::mem::take(&mut *q))
                .unwrap_or_default();
            self.write_queued(queued).await;
        }
        receipt.await.unwrap_or_else(|_| {
            Err(AuditError::Append {
                region: self.region().to_string(),
                reason: "the append was interrupted before it committed".into(),
                retryable: true,
            })
        })
    }

    /// Writes queued batches in one transaction and answers each caller.
    async fn write_queued(&self, queued: Vec<Queued>) {
        if queued.is_empty() {
            return;
        }
        let sizes: Vec<usize> = queued.iter().map(|q| q.records.len()).collect();
        let mut answers = Vec::with_capacity(queued.len());
        let mut records = Vec::with_capacity(sizes.iter().sum());
        for q in queued {
            answers.push(q.done);
            records.extend(q.records);
        }
        let result = self
            .inner
            .store
            .append_audit_batch(|head| {
                let mut prev = head.hash.clone().unwrap_or_else(|| GENESIS_HASH.to_owned());
                let mut seq = head.seq;
                records
                    .into_iter()
                    .map(|r| {
                        seq += 1;
                        let (record, hash) = seal(r.members, seq_u64(seq), &prev);
                        AuditRow {
                            seq,
                            at: r.at,
                            kind: r.kind.as_str().to_owned(),
                            record,
                            prev_hash: std::mem::replace(&mut prev, hash.clone()),
                            hash,
                        }
                    })
                    .collect()
            })
            .await;
        match result {
            Ok(rows) => {
                let mut rows = rows.into_iter();
                for (done, size) in answers.into_iter().zip(sizes) {
                    let receipts = rows
                        .by_ref()
                        .take(size)
                        .map(|r| AuditReceipt {
                            seq: seq_u64(r.seq),
                            hash: r.hash,
                        })
                        .collect();
                    let _ = done.send(Ok(receipts));
                }
            }
            Err(e) => {
                let (reason, retryable) = (e.to_string(), e.is_retryable());
                for done in answers {
                    let _ = done.send(Err(AuditError::Append {
                        region: self.region().to_string(),
                        reason: reason.clone(),
                        retryable,
                    }));
                }
            }
        }
    }

    /// Signs the chain: appends a `checkpoint` record and a checkpoint over it
    /// that also covers the previous checkpoint's signature, in one
    /// transaction. Call it at the end of every run and whenever an auditor
    /// wants a fresh signed head. Returns `None` (and logs a warning) when the
    /// region has no signing key.
    ///
    /// # Errors
    /// [`AuditError::Store`].
    #[tracing::instrument(skip_all, fields(region = %self.region()))]
    pub async fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, AuditError> {
        let Some(key) = &self.inner.key else {
            tracing::warn!(region = %self.region(), "No audit signing key; the chain is not checkpointed (run `meridian audit keygen`)");
            return Ok(None);
        };
        let now = Utc::now();
        let fingerprint = key.public_key().fingerprint();
        let region = self.region().clone();
        let (_, row) = self
            .inner
            .store
            .append_audit_checkpoint(|head, last| {
                let number = last.map_or(1, |l| seq_u64(l.number) + 1);
                let prev_signature = last.map(|l| l.signature.clone()).unwrap_or_default();
                let members = AuditEvent::new(AuditKind::Checkpoint, "audit")
                    .with_outcome("signed")
                    .with_detail("number", number)
                    .with_detail("key", fingerprint.as_str())
                    .into_members(&region, now);
                let prev = head.hash.clone().unwrap_or_else(|| GENESIS_HASH.to_owned());
                let seq = head.seq + 1;
                let (record, hash) = seal(members, seq_u64(seq), &prev);
                let mut cp = SignedCheckpoint {
                    region: region.as_str().to_owned(),
                    number,
                    seq: seq_u64(seq),
                    head_hash: hash.clone(),
                    time: rfc3339(now),
                    prev_signature,
                    key: fingerprint.clone(),
                    signature: String::new(),
                };
                let body = cp.body();
                cp.signature = key.sign_hex(body.as_bytes());
                let row = AuditRow {
                    seq,
                    at: now.timestamp(),
                    kind: AuditKind::Checkpoint.as_str().to_owned(),
                    record,
                    prev_hash: prev,
                    hash,
                };
                let cp_row = CheckpointRow {
                    number: seq_i64(number),
                    seq,
                    at: now.timestamp(),
                    body,
                    signature: cp.signature,
                };
                (row, cp_row)
            })
            .await?;
        let body: serde_json::Value =
            serde_json::from_str(&row.body).map_err(|e| self.corrupt(e))?;
        SignedCheckpoint::from_body(&body, &row.signature)
            .map(Some)
            .map_err(|e| self.corrupt(e))
    }

    /// Checks the whole chain and every checkpoint in the store (see
    /// [`crate::verify`]). Signatures are checked with `trusted`, else with
    /// the public half of the log's own signing key.
    ///
    /// # Errors
    /// [`AuditError::Store`] when the store cannot be read; a broken chain is
    /// a report with problems, not an error.
    pub async fn verify(&self, trusted: Option<&PublicKey>) -> Result<VerifyReport, AuditError> {
        let own = self.public_key();
        Ok(verify_store(&self.inner.store, trusted.or(own.as_ref()))
            .await?
            .0)
    }

    /// [`Self::verify`], and then every witnessed checkpoint checked against
    /// the chain ([`crate::witness::check_witnessed`]): the report has a
    /// problem when the chain is shorter than, or disagrees with, a witness.
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub async fn verify_against(
        &self,
        trusted: Option<&PublicKey>,
        witnessed: &[Witnessed],
    ) -> Result<VerifyReport, AuditError> {
        let own = self.public_key();
        let trusted = trusted.or(own.as_ref());
        let (mut report, local) = verify_store(&self.inner.store, trusted).await?;
        check_witnessed(&mut report, &local, witnessed, trusted);
        Ok(report)
    }

    /// The last signed checkpoint in the store, as published at
    /// `GET /audit/checkpoint` (`None` before the first).
    ///
    /// # Errors
    /// [`AuditError::Store`] when the store cannot be read or the stored
    /// checkpoint is unreadable.
    pub async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, AuditError> {
        let Some(row) = self.inner.store.audit_checkpoints_latest().await? else {
            return Ok(None);
        };
        let body: serde_json::Value =
            serde_json::from_str(&row.body).map_err(|e| self.corrupt(e))?;
        SignedCheckpoint::from_body(&body, &row.signature)
            .map(Some)
            .map_err(|e| self.corrupt(e))
    }

    /// The report attestation: `report_sha256` signed with the region's key.
    pub(crate) fn attest(&self, report_sha256: &str) -> Option<Attestation> {
        let key = self.inner.key.as_ref()?;
        Some(Attestation {
            algorithm: "ed25519".into(),
            key_fingerprint: key.public_key().fingerprint(),
            report_sha256: report_sha256.to_owned(),
            signature: key.sign_hex(report_sha256.as_bytes()),
        })
    }

    fn corrupt(&self, reason: impl ToString) -> AuditError {
        AuditError::Store(meridian_store::StoreError::Corrupt {
            region: self.region().clone(),
            what: "audit checkpoint".into(),
            reason: reason.to_string(),
        })
    }
}
