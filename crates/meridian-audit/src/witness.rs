//! The chain witnessed outside the database: signed checkpoints published
//! (`GET /audit/checkpoint` of `meridian serve`) and written to the region's
//! `audit.witness_dir` on every run, and checked against the chain by
//! `meridian audit verify --against FILE|URL`.
//!
//! Every check inside the store can be defeated by whoever can rewrite the
//! whole database: delete every record and checkpoint, or cut the chain back
//! to an earlier checkpoint and reset the writer's counters. A copy of a
//! signed checkpoint kept somewhere else cannot be taken back that way: it
//! says "the chain had at least `seq` records, and record `seq` had this
//! hash", signed with the region's key, like the signed tree head of a
//! transparency log. A local chain that is shorter than a witnessed
//! checkpoint, or whose record at its `seq` has another hash, was truncated or
//! rewritten after the witness saw it.
//!
//! The witness document (one per checkpoint, `<id>-checkpoint-<number>.json`):
//!
//! ```json
//! {"type":"meridian-audit-witness","v":1,"region":"us","records":120,
//!  "head_hash":"…","time":"2026-12-07T07:00:05Z","number":3,"key":"SHA256:…",
//!  "body":{…the signed checkpoint body…},"signature":"…"}
//! ```
//!
//! Only `body` and `signature` are trusted: the other members repeat the body
//! for readers (`records` is the body's `seq`: sequence numbers start at 1
//! without gaps). A checkpoint line of an export (`{"type":"checkpoint",
//! "body":…,"signature":…}`) is accepted as well.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::AuditError;
use crate::canonical::to_canonical_string;
use crate::checkpoint::SignedCheckpoint;
use crate::keys::PublicKey;
use crate::verify::{ChainProblem, ProblemKind, VerifyReport};

/// The `type` member of a witness document.
pub const WITNESS_TYPE: &str = "meridian-audit-witness";

impl SignedCheckpoint {
    /// The witness document of this checkpoint (see the module docs).
    #[must_use]
    pub fn witness(&self) -> Value {
        json!({
            "type": WITNESS_TYPE,
            "v": 1,
            "region": self.region,
            "records": self.seq,
            "head_hash": self.head_hash,
            "time": self.time,
            "number": self.number,
            "key": self.key,
            "body": self.body_value(),
            "signature": self.signature,
        })
    }
}

/// A checkpoint read from a witness, with its signed bytes as found.
#[derive(Debug, Clone)]
pub struct Witnessed {
    /// Where it came from (file or URL), for messages.
    pub source: String,
    /// The checkpoint.
    pub checkpoint: SignedCheckpoint,
    /// The canonical text of the body as found: what the signature covers.
    canonical: String,
}

/// Reads one witness document (or export checkpoint line) from `text`.
///
/// # Errors
/// A message saying what is missing.
pub fn parse_witness(text: &str, source: &str) -> Result<Witnessed, String> {
    let value: Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("{source}: not JSON: {e}"))?;
    let body = value
        .get("body")
        .filter(|b| b.is_object())
        .ok_or_else(|| format!("{source}: no checkpoint `body` object"))?;
    let signature = value
        .get("signature")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{source}: no `signature` string"))?;
    let checkpoint =
        SignedCheckpoint::from_body(body, signature).map_err(|e| format!("{source}: {e}"))?;
    Ok(Witnessed {
        source: source.to_owned(),
        checkpoint,
        canonical: to_canonical_string(body),
    })
}

/// Reads the witnessed checkpoints at `path`: one witness file, or every
/// `*.json` file of a witness directory (in name order).
///
/// # Errors
/// [`AuditError::Io`] when a file cannot be read, [`AuditError::Export`]
/// (line 1) when one is not a witness document, or the directory holds none.
pub fn read_witness_path(path: &Path) -> Result<Vec<Witnessed>, AuditError> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| AuditError::io(path, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(AuditError::Export {
                file: path.display().to_string(),
                line: 1,
                reason: "the directory holds no witness file (`*.json`)".into(),
            });
        }
        files
    } else {
        vec![path.to_owned()]
    };
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).map_err(|e| AuditError::io(f, e))?;
            parse_witness(&text, &f.display().to_string()).map_err(|reason| AuditError::Export {
                file: f.display().to_string(),
                line: 1,
                reason,
            })
        })
        .collect()
}

/// Writes `checkpoint` to the witness directory `dir` (created if needed):
/// `<region>-checkpoint-<number>.json`, and `<region>-checkpoint-latest.json`
/// replaced. A numbered file that exists with other content is never
/// overwritten: it is evidence that the chain was rewritten; the new one goes
/// beside it with its signature's first 16 digits in the name, and the
/// returned path says so. Files are written whole (a temporary file renamed).
///
/// # Errors
/// [`AuditError::Io`] naming the file.
pub fn write_witness(dir: &Path, checkpoint: &SignedCheckpoint) -> Result<PathBuf, AuditError> {
    std::fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, e))?;
    let mut text = serde_json::to_string_pretty(&checkpoint.witness())
        .map_err(|e| AuditError::io(dir, std::io::Error::other(e)))?;
    text.push('\n');
    let stem = format!("{}-checkpoint", checkpoint.region);
    let mut path = dir.join(format!("{stem}-{:010}.json", checkpoint.number));
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == text => {}
        Ok(_) => {
            let tag = checkpoint.signature.get(..16).unwrap_or("other");
            path = dir.join(format!("{stem}-{:010}-{tag}.json", checkpoint.number));
            write_whole(&path, &text)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_whole(&path, &text)?,
        Err(e) => return Err(AuditError::io(&path, e)),
    }
    write_whole(&dir.join(format!("{stem}-latest.json")), &text)?;
    Ok(path)
}

fn write_whole(path: &Path, text: &str) -> Result<(), AuditError> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| AuditError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| AuditError::io(path, e))
}

/// The local chain as a witness check needs it.
#[derive(Debug, Clone, Default)]
pub struct LocalChain {
    /// seq → hash of every `checkpoint` record.
    pub checkpoint_records: std::collections::BTreeMap<u64, String>,
    /// number → signature of every stored checkpoint.
    pub checkpoint_signatures: std::collections::BTreeMap<u64, String>,
}

/// Adds to `report` a problem for every witnessed checkpoint the local chain
/// does not bear out: not signed by `trusted` (or no key to check with),
/// another region, covering a record beyond the local head (the chain is
/// **shorter** than witnessed), or a record whose hash differs, or a local
/// checkpoint of that number with another signature (the chain **disagrees**).
pub fn check_witnessed(
    report: &mut VerifyReport,
    local: &LocalChain,
    witnessed: &[Witnessed],
    trusted: Option<&PublicKey>,
) {
    for w in witnessed {
        let cp = &w.checkpoint;
        let (n, seq, src) = (cp.number, cp.seq, w.source.as_str());
        let mut add = |at: u64, kind: ProblemKind, message: String| {
            report.problems.push(ChainProblem {
                seq: at,
                kind,
                message,
            });
        };
        match trusted {
            None => add(
                seq,
                ProblemKind::Unverifiable,
                format!("{src}: witnessed checkpoint {n} cannot be checked: no public key"),
            ),
            Some(key) if !key.verifies(w.canonical.as_bytes(), &cp.signature) => add(
                seq,
                ProblemKind::ForgedCheckpoint,
                format!(
                    "{src}: witnessed checkpoint {n} does not verify with key {}: not this region's checkpoint",
                    key.fingerprint()
                ),
            ),
            Some(_) => {}
        }
        if cp.region != report.region {
            add(
                seq,
                ProblemKind::WrongRegion,
                format!(
                    "{src}: witnessed checkpoint {n} is for region `{}`",
                    cp.region
                ),
            );
            continue;
        }
        if seq > report.head_seq {
            add(
                report.head_seq + 1,
                ProblemKind::Truncated,
                format!(
                    "{src}: witnessed checkpoint {n} (signed {}) covers record {seq}, but the local chain ends at record {}: it is shorter than witnessed, records were deleted",
                    cp.time, report.head_seq
                ),
            );
            continue;
        }
        match local.checkpoint_records.get(&seq) {
            Some(hash) if *hash == cp.head_hash => {}
            Some(hash) => add(
                seq,
                ProblemKind::CheckpointMismatch,
                format!(
                    "{src}: witnessed checkpoint {n} signed record {seq} with hash {}…, the local chain has {}…: it disagrees with the witness, records up to {seq} were rewritten",
                    short(&cp.head_hash),
                    short(hash)
                ),
            ),
            None => add(
                seq,
                ProblemKind::CheckpointMismatch,
                format!(
                    "{src}: witnessed checkpoint {n} covers record {seq}, which is not a checkpoint record in the local chain: it disagrees with the witness"
                ),
            ),
        }
        match local.checkpoint_signatures.get(&n) {
            Some(sig) if *sig == cp.signature => {}
            Some(_) => add(
                seq,
                ProblemKind::CheckpointMismatch,
                format!(
                    "{src}: the local checkpoint {n} is not the witnessed one (another signature): replaced"
                ),
            ),
            None => add(
                seq,
                ProblemKind::MissingCheckpoint,
                format!("{src}: witnessed checkpoint {n} is missing from the local store"),
            ),
        }
    }
    report.problems.sort_by_key(|p| p.seq);
    report.problems.dedup();
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
