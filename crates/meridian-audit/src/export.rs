//! Export of a chain as JSON lines, for offline verification.
//!
//! ```text
//! {"type":"meridian-audit-export","v":1,"region":"us","exported_at":"…","records":N,"checkpoints":M,"head_seq":N,"head_hash":"…"}
//! {"type":"record","hash":"…","record":{…the record…}}
//! {"type":"checkpoint","signature":"…","body":{…the signed body…}}
//! ```
//!
//! Records come in sequence order; each checkpoint follows the record it
//! covers. The header is informational: verification trusts only the
//! records' hashes and the checkpoints' signatures.

use std::io::Write;

use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::record::rfc3339;
use crate::{AuditError, AuditLog};

/// The `type` of an export's header line.
pub(crate) const EXPORT_TYPE: &str = "meridian-audit-export";
/// The `type` of a record line.
pub(crate) const LINE_RECORD: &str = "record";
/// The `type` of a checkpoint line.
pub(crate) const LINE_CHECKPOINT: &str = "checkpoint";

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Records written.
    pub records: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// The last record written.
    pub head_seq: u64,
}

impl AuditLog {
    /// Writes the chain up to the current head, with its checkpoints, as
    /// JSON lines to `out`. Records appended while it runs are left for the
    /// next export.
    ///
    /// # Errors
    /// [`AuditError::Store`], or [`AuditError::Io`] (named `export`) when writing fails.
    pub async fn export(&self, out: &mut dyn Write) -> Result<ExportSummary, AuditError> {
        let store = self.store();
        let head = store.audit_head().await?;
        let count = store.audit_count().await?;
        let checkpoints: Vec<_> = store
            .audit_checkpoints()
            .await?
            .into_iter()
            .filter(|c| c.seq <= head.seq)
            .collect();
        let io = |e| AuditError::Io {
            path: "export".into(),
            source: e,
        };
        let header = json!({
            "type": EXPORT_TYPE,
            "v": 1,
            "region": self.region().as_str(),
            "exported_at": rfc3339(Utc::now()),
            "records": count,
            "checkpoints": checkpoints.len(),
            "head_seq": head.seq,
            "head_hash": head.hash,
            "key": self.public_key().map(|k| k.fingerprint()),
        });
        writeln!(out, "{header}").map_err(io)?;
        let mut by_seq: std::collections::BTreeMap<i64, Vec<&meridian_store::CheckpointRow>> =
            std::collections::BTreeMap::new();
        for c in &checkpoints {
            by_seq.entry(c.seq).or_default().push(c);
        }
        let mut written = 0u64;
        let mut after = i64::MIN;
        loop {
            let page = store.audit_rows(after, 1_000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for row in page.iter().filter(|r| r.seq <= head.seq) {
                // A record that is not JSON any more is exported as a string,
                // so that the damage shows offline too.
                let record = serde_json::from_str::<Value>(&row.record)
                    .unwrap_or_else(|_| Value::String(row.record.clone()));
                let mut line = Map::new();
                line.insert("type".into(), LINE_RECORD.into());
                line.insert("hash".into(), row.hash.clone().into());
                line.insert("record".into(), record);
                writeln!(out, "{}", Value::Object(line)).map_err(io)?;
                written += 1;
                for c in by_seq.remove(&row.seq).unwrap_or_default() {
                    writeln!(out, "{}", checkpoint_line(c)).map_err(io)?;
                }
            }
            if after >= head.seq {
                break;
            }
        }
        // Checkpoints whose record is gone still go out: verification reports them.
        for c in by_seq.into_values().flatten() {
            writeln!(out, "{}", checkpoint_line(c)).map_err(io)?;
        }
        out.flush().map_err(io)?;
        Ok(ExportSummary {
            records: written,
            checkpoints: checkpoints.len() as u64,
            head_seq: u64::try_from(head.seq).unwrap_or(0),
        })
    }
}

fn checkpoint_line(c: &meridian_store::CheckpointRow) -> Value {
    let body =
        serde_json::from_str::<Value>(&c.body).unwrap_or_else(|_| Value::String(c.body.clone()));
    json!({ "type": LINE_CHECKPOINT, "signature": c.signature, "body": body })
}
