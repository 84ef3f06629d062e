//! Verification of a chain and its checkpoints, online (a region's store) or
//! offline (an export file).
//!
//! Records are walked in order (row order online, line order offline). Each
//! record must
//!
//! 1. hash to its stored hash (SHA-256 of its canonical text) — else it was
//!    **edited**;
//! 2. carry the next sequence number — a jump means records were **deleted**
//!    (or moved later), a step back means they were **reordered** or
//!    duplicated; online, the row's `seq` column must also equal the record's;
//! 3. carry the previous record's hash as `prev_hash` — else a record was
//!    **inserted**, removed or replaced before it;
//! 4. belong to the region, and (online) agree with its `kind`, `at` and
//!    `prev_hash` columns.
//!
//! Then the checkpoints, by number: each must be signed by the trusted key
//! over its canonical body (else **forged**), follow the previous number
//! (else one is **missing**), cover the previous checkpoint's signature, and
//! name a record that exists (else records were deleted from the end), is a
//! `checkpoint` record announcing that number, and still has the hash that
//! was signed (else the records since the previous checkpoint were rewritten,
//! hashes and all). Every `checkpoint` record needs its checkpoint (else it
//! is **missing**). A non-empty chain with no checkpoint at all is reported
//! as unsigned: without a signature, whoever controls the database could
//! rewrite the whole chain consistently.
//!
//! Records after the last checkpoint are not an error (they are the run in
//! progress, or changes since); the report names them as the unsigned tail.
//!
//! Online, the store's own evidence that records existed is checked last:
//! the writer's high-water mark (the last sequence number ever appended) must
//! not be above the head, and an empty chain is **truncated** when the writer
//! committed appends or the region has runs or deliveries. Against a witness
//! outside the database, see [`crate::witness`]; `docs/audit.md` lists what
//! each check can and cannot detect.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

use chrono::DateTime;
use meridian_store::{AuditRow, AuditWriterState, CheckpointRow, RegionStore};
use serde::Serialize;
use serde_json::Value;

use crate::AuditError;
use crate::canonical::to_canonical_string;
use crate::checkpoint::SignedCheckpoint;
use crate::export::{EXPORT_TYPE, LINE_CHECKPOINT, LINE_RECORD};
use crate::keys::PublicKey;
use crate::record::{AuditKind, GENESIS_HASH, sha256_hex};
use crate::witness::LocalChain;

/// What is wrong at one place of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A record's content does not match its hash.
    Edited,
    /// A record's stored text is not its canonical form.
    NotCanonical,
    /// Sequence numbers jump: records are missing.
    Missing,
    /// A record appears after a later one, or twice.
    OutOfOrder,
    /// A record's `prev_hash` is not the previous record's hash.
    BrokenLink,
    /// A record or checkpoint names another region.
    WrongRegion,
    /// A record, checkpoint or export line cannot be read.
    Malformed,
    /// A checkpoint's signature does not verify, or its fields were changed.
    ForgedCheckpoint,
    /// A checkpoint is missing.
    MissingCheckpoint,
    /// A checkpoint does not match the records it covers.
    CheckpointMismatch,
    /// Records were deleted from the end of the chain.
    Truncated,
    /// The chain has records but no signed checkpoint.
    Unsigned,
    /// Checkpoint signatures could not be checked: no public key.
    Unverifiable,
}

/// One problem, at a sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    /// The first sequence number affected.
    pub seq: u64,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// What was found, in words.
    pub message: String,
}

/// The last checkpoint of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointSummary {
    /// Its number.
    pub number: u64,
    /// The record it covers.
    pub seq: u64,
    /// When it was signed.
    pub time: String,
    /// Fingerprint of the key that signed it.
    pub key: String,
}

/// The result of verifying a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The region.
    pub region: String,
    /// Records read.
    pub records: u64,
    /// Sequence number of the last record (0 when empty).
    pub head_seq: u64,
    /// Hash of the last record.
    pub head_hash: Option<String>,
    /// Checkpoints read.
    pub checkpoints: u64,
    /// Checkpoints whose signature verified with the trusted key.
    pub checkpoints_verified: u64,
    /// The last checkpoint.
    pub last_checkpoint: Option<CheckpointSummary>,
    /// Fingerprint of the key signatures were checked with.
    pub key: Option<String>,
    /// Records after the last checkpoint, `[first, last]`: not yet signed.
    pub unsigned_tail: Option<[u64; 2]>,
    /// Every problem found, by sequence number.
    pub problems: Vec<ChainProblem>,
}

impl VerifyReport {
    /// Whether the chain and its checkpoints verified without a problem.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first bad sequence number.
    #[must_use]
    pub fn first_bad_seq(&self) -> Option<u64> {
        self.problems.iter().map(|p| p.seq).min()
    }

    /// `intact` or `broken`.
    #[must_use]
    pub fn status(&self) -> &'static str {
        if self.is_intact() { "intact" } else { "broken" }
    }
}

/// A checkpoint as read: the row's number and seq (online) and its body.
struct CheckpointInput {
    /// Where it was found, for messages: `checkpoint row 3`, `line 17`.
    place: String,
    /// The row's `number` and `seq` columns (online only).
    columns: Option<(u64, u64)>,
    /// The body's canonical text, or why it could not be read.
    body: Result<(Value, String), String>,
    signature: String,
}

/// Walks records in order, keeping only what checkpoints need.
struct Walker {
    region: String,
    expected: u64,
    prev_hash: String,
    records: u64,
    last_seq: u64,
    last_hash: Option<String>,
    /// seq → (announced checkpoint number, hash) of every `checkpoint` record.
    checkpoint_records: BTreeMap<u64, (Option<u64>, String)>,
    problems: Vec<ChainProblem>,
}

/// A record as read, with the columns only the store has.
struct RecordInput<'a> {
    /// Where: `row 5` or `line 9`.
    place: String,
    /// `seq`, `kind`, `at`, `prev_hash` columns (online).
    columns: Option<(i64, &'a str, i64, &'a str)>,
    /// The stored text (online: hashed as stored), or `None` offline (the
    /// canonical text of `value` is hashed).
    text: Option<&'a str>,
    value: Value,
    hash: &'a str,
}

impl Walker {
    fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            expected: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            records: 0,
            last_seq: 0,
            last_hash: None,
            checkpoint_records: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, seq: u64, kind: ProblemKind, message: String) {
        self.problems.push(ChainProblem { seq, kind, message });
    }

    fn record(&mut self, input: &RecordInput<'_>) {
        let canonical = to_canonical_string(&input.value);
        let hashed = input.text.unwrap_or(&canonical);
        let record_seq = input.value.get("seq").and_then(Value::as_u64);
        let at_seq = record_seq.unwrap_or(self.expected);
        let place = &input.place;
        self.records += 1;
        let Some(seq) = record_seq else {
            self.problem(
                self.expected,
                ProblemKind::Malformed,
                format!("{place}: the record has no sequence number"),
            );
            self.expected += 1;
            return;
        };
        if input.text.is_some_and(|t| t != canonical) {
            self.problem(
                at_seq,
                ProblemKind::NotCanonical,
                format!("record {seq} ({place}) is not stored in canonical form"),
            );
        }
        if sha256_hex(hashed.as_bytes()) != input.hash {
            self.problem(
                seq,
                ProblemKind::Edited,
                format!("record {seq} ({place}) does not match its hash: its content was changed"),
            );
        }
        let kind = input
            .value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let prev = input
            .value
            .get("prev_hash")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some((row_seq, row_kind, row_at, row_prev)) = input.columns {
            if u64::try_from(row_seq).ok() != Some(seq) {
                self.problem(
                    seq.min(u64::try_from(row_seq).unwrap_or(seq)),
                    ProblemKind::OutOfOrder,
                    format!(
                        "row {row_seq} holds record {seq}: records were reordered or renumbered"
                    ),
                );
            }
            let time_at = input
                .value
                .get("time")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp());
            if row_kind != kind || time_at != Some(row_at) || row_prev != prev {
                self.problem(seq, ProblemKind::Edited, format!("record {seq}: the row's kind, time or prev_hash columns differ from the record"));
            }
        }
        if input.value.get("region").and_then(Value::as_str) != Some(self.region.as_str()) {
            self.problem(
                seq,
                ProblemKind::WrongRegion,
                format!("record {seq} does not belong to region `{}`", self.region),
            );
        }
        let mut in_sequence = true;
        if seq > self.expected {
            in_sequence = false;
            let what = if seq == self.expected + 1 {
                format!("record {} is missing", self.expected)
            } else {
                format!("records {}..{} are missing", self.expected, seq - 1)
            };
            self.problem(
                self.expected,
                ProblemKind::Missing,
                format!("{what} before {place} (deleted, or moved later)"),
            );
        } else if seq < self.expected {
            in_sequence = false;
            self.problem(
                seq,
                ProblemKind::OutOfOrder,
                format!(
                    "record {seq} ({place}) comes after record {}: reordered or duplicated",
                    self.expected - 1
                ),
            );
        }
        if in_sequence && prev != self.prev_hash {
            self.problem(
                seq,
                ProblemKind::BrokenLink,
                format!(
                    "record {seq} does not link to the record before it (prev_hash {}…, expected {}…): a record was inserted, removed or replaced",
                    short(prev),
                    short(&self.prev_hash)
                ),
            );
        }
        if kind == AuditKind::Checkpoint.as_str() {
            let number = input
                .value
                .get("detail")
                .and_then(|d| d.get("number"))
                .and_then(Value::as_u64);
            self.checkpoint_records
                .insert(seq, (number, input.hash.to_owned()));
        }
        // Link onwards from the stored hash, so one edited record is reported once.
        self.prev_hash = input.hash.to_owned();
        self.expected = self.expected.max(seq + 1);
        self.last_seq = seq;
        self.last_hash = Some(input.hash.to_owned());
    }

    fn finish(
        mut self,
        checkpoints: Vec<CheckpointInput>,
        trusted: Option<&PublicKey>,
    ) -> VerifyReport {
        let mut expected_number = 1u64;
        let mut prev_signature = String::new();
        let mut prev_good_seq = 0u64;
        let mut verified = 0u64;
        let mut seen_numbers = BTreeSet::new();
        let mut last: Option<CheckpointSummary> = None;
        let count = checkpoints.len() as u64;
        if trusted.is_none() && count > 0 {
            self.problem(
                checkpoints.first().and_then(|c| c.columns).map_or(1, |(_, s)| s),
                ProblemKind::Unverifiable,
                "checkpoint signatures cannot be checked: no public key (pass --public-key, or give the region's key)".into(),
            );
        }
        for cp in checkpoints {
            let place = cp.place.clone();
            let (body, canonical) = match cp.body {
                Ok(b) => b,
                Err(reason) => {
                    let seq = cp.columns.map_or(prev_good_seq + 1, |(_, s)| s);
                    self.problem(
                        seq,
                        ProblemKind::Malformed,
                        format!("{place}: unreadable checkpoint: {reason}"),
                    );
                    continue;
                }
            };
            let parsed = match SignedCheckpoint::from_body(&body, &cp.signature) {
                Ok(c) => c,
                Err(reason) => {
                    let seq = cp.columns.map_or(prev_good_seq + 1, |(_, s)| s);
                    self.problem(
                        seq,
                        ProblemKind::ForgedCheckpoint,
                        format!("{place}: checkpoint body is not valid: {reason}"),
                    );
                    continue;
                }
            };
            let n = parsed.number;
            seen_numbers.insert(n);
            if let Some((col_number, col_seq)) = cp.columns
                && (col_number != n || col_seq != parsed.seq)
            {
                self.problem(
                    col_seq.min(parsed.seq),
                    ProblemKind::ForgedCheckpoint,
                    format!("{place}: the row says checkpoint {col_number} at record {col_seq}, its signed body says {n} at {}", parsed.seq),
                );
            }
            if parsed.region != self.region {
                self.problem(
                    parsed.seq,
                    ProblemKind::WrongRegion,
                    format!("checkpoint {n} is for region `{}`", parsed.region),
                );
            }
            if let Some(key) = trusted {
                // The body is verified as signed; a body edited in the store
                // (not canonical any more) fails here too.
                if key.verifies(canonical.as_bytes(), &parsed.signature) {
                    verified += 1;
                } else {
                    let by = if parsed.key == key.fingerprint() {
                        String::new()
                    } else {
                        format!(" (it names key {})", parsed.key)
                    };
                    self.problem(
                        parsed.seq,
                        ProblemKind::ForgedCheckpoint,
                        format!("checkpoint {n} (record {}): the signature does not verify with key {}{by}: forged or altered", parsed.seq, key.fingerprint()),
                    );
                }
            }
            if n > expected_number {
                let missing_seq = self
                    .checkpoint_records
                    .iter()
                    .find(|(_, (num, _))| *num == Some(expected_number))
                    .map_or(prev_good_seq + 1, |(s, _)| *s);
                let what = if n == expected_number + 1 {
                    format!("checkpoint {expected_number} is missing")
                } else {
                    format!("checkpoints {expected_number}..{} are missing", n - 1)
                };
                self.problem(missing_seq, ProblemKind::MissingCheckpoint, what);
            } else if n < expected_number {
                self.problem(
                    parsed.seq,
                    ProblemKind::ForgedCheckpoint,
                    format!("checkpoint {n} appears twice or out of order"),
                );
            } else if parsed.prev_signature != prev_signature {
                self.problem(
                    parsed.seq,
                    ProblemKind::ForgedCheckpoint,
                    format!("checkpoint {n} does not cover the signature of checkpoint {}: a checkpoint was replaced", n.saturating_sub(1)),
                );
            }
            if parsed.seq > self.last_seq {
                self.problem(
                    self.last_seq + 1,
                    ProblemKind::Truncated,
                    format!("checkpoint {n} covers record {}, but the chain ends at record {}: records were deleted from the end", parsed.seq, self.last_seq),
                );
            } else {
                match self.checkpoint_records.get(&parsed.seq).cloned() {
                    Some((announced, hash)) => {
                        if hash != parsed.head_hash {
                            self.problem(
                                prev_good_seq + 1,
                                ProblemKind::CheckpointMismatch,
                                format!(
                                    "checkpoint {n} signed record {} with hash {}…, the chain now has {}…: records {}..{} were rewritten",
                                    parsed.seq,
                                    short(&parsed.head_hash),
                                    short(&hash),
                                    prev_good_seq + 1,
                                    parsed.seq
                                ),
                            );
                        } else if announced != Some(n) {
                            self.problem(
                                parsed.seq,
                                ProblemKind::CheckpointMismatch,
                                format!(
                                    "record {} announces checkpoint {announced:?}, not {n}",
                                    parsed.seq
                                ),
                            );
                        }
                    }
                    None => self.problem(
                        parsed.seq,
                        ProblemKind::CheckpointMismatch,
                        format!(
                            "checkpoint {n} covers record {}, which is not a checkpoint record",
                            parsed.seq
                        ),
                    ),
                }
            }
            expected_number = expected_number.max(n + 1);
            prev_signature = parsed.signature.clone();
            prev_good_seq = parsed.seq;
            last = Some(CheckpointSummary {
                number: n,
                seq: parsed.seq,
                time: parsed.time.clone(),
                key: parsed.key.clone(),
            });
        }
        let orphans: Vec<(u64, Option<u64>)> = self
            .checkpoint_records
            .iter()
            .filter(|(_, (num, _))| num.is_none_or(|n| !seen_numbers.contains(&n)))
            .map(|(s, (num, _))| (*s, *num))
            .collect();
        for (seq, number) in orphans {
            let name =
                number.map_or_else(|| "a checkpoint".to_owned(), |n| format!("checkpoint {n}"));
            self.problem(
                seq,
                ProblemKind::MissingCheckpoint,
                format!("record {seq} announces {name}, which is missing"),
            );
        }
        if self.records > 0 && count == 0 {
            self.problem(
                1,
                ProblemKind::Unsigned,
                "no signed checkpoint covers the chain: it has no evidence against being rewritten whole (create a key with `meridian audit keygen`)".into(),
            );
        }
        let covered = last.as_ref().map_or(0, |c| c.seq);
        let unsigned_tail =
            (self.last_seq > covered && count > 0).then_some([covered + 1, self.last_seq]);
        // Each problem once, by sequence number.
        self.problems.sort_by_key(|p| p.seq);
        self.problems.dedup();
        VerifyReport {
            region: self.region,
            records: self.records,
            head_seq: self.last_seq,
            head_hash: self.last_hash,
            checkpoints: count,
            checkpoints_verified: verified,
            last_checkpoint: last,
            key: trusted.map(PublicKey::fingerprint),
            unsigned_tail,
            problems: self.problems,
        }
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Rows read per page when walking a store's chain.
const PAGE: i64 = 1_000;

/// Verifies the chain and checkpoints in a region's store, and what the store
/// says about records that existed; also returns what a witness check needs.
pub(crate) async fn verify_store(
    store: &RegionStore,
    trusted: Option<&PublicKey>,
) -> Result<(VerifyReport, LocalChain), AuditError> {
    let rows = store.audit_checkpoints().await?;
    let mut walker = Walker::new(store.region().as_str());
    let mut after = i64::MIN;
    loop {
        let page = store.audit_rows(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in &page {
            walk_row(&mut walker, row);
        }
    }
    let local = LocalChain {
        checkpoint_records: walker
            .checkpoint_records
            .iter()
            .map(|(seq, (_, hash))| (*seq, hash.clone()))
            .collect(),
        checkpoint_signatures: rows
            .iter()
            .map(|r| (u64::try_from(r.number).unwrap_or(0), r.signature.clone()))
            .collect(),
    };
    let checkpoints = rows.iter().map(checkpoint_from_row).collect();
    let mut report = walker.finish(checkpoints, trusted);
    check_evidence(&mut report, &store.audit_writer_state().await?);
    Ok((report, local))
}

/// Adds a problem when the store says records existed that the chain no
/// longer has: the writer's high-water mark above the head (records cut from
/// the end, with the checkpoints over them), or an empty chain although the
/// writer committed appends or the region has runs or deliveries (each of
/// which is recorded). Whoever can also rewrite `audit_writer` and delete
/// runs and deliveries defeats this check; a witness outside the database
/// (`crate::witness`) does not depend on the store at all.
fn check_evidence(report: &mut VerifyReport, state: &AuditWriterState) {
    let head = report.head_seq;
    let mark = u64::try_from(state.head_seq).unwrap_or(0);
    let appends = u64::try_from(state.appends).unwrap_or(0);
    let mut add = |message: String| {
        report.problems.push(ChainProblem {
            seq: head + 1,
            kind: ProblemKind::Truncated,
            message,
        });
    };
    if mark > head {
        add(format!(
            "the audit writer appended records up to {mark}, but the chain ends at record {head}: records {}..{mark} were deleted from the end (with any checkpoints over them)",
            head + 1
        ));
    } else if appends > head {
        add(format!(
            "the audit writer committed {appends} appends (each of at least one record), but the chain ends at record {head}: records were deleted"
        ));
    }
    if report.records == 0 {
        let mut evidence = Vec::new();
        if appends > 0 {
            evidence.push(format!("{appends} committed appends"));
        }
        if state.runs > 0 {
            evidence.push(format!("{} run(s)", state.runs));
        }
        if state.deliveries > 0 {
            evidence.push(format!("{} delivery row(s)", state.deliveries));
        }
        if !evidence.is_empty() {
            add(format!(
                "the chain is empty, but the store records {}, each of which appended audit records: the log was wiped",
                evidence.join(", ")
            ));
        }
    }
    report.problems.sort_by_key(|p| p.seq);
    report.problems.dedup();
}

fn walk_row(walker: &mut Walker, row: &AuditRow) {
    let place = format!("row {}", row.seq);
    match serde_json::from_str::<Value>(&row.record) {
        Ok(value) => walker.record(&RecordInput {
            place,
            columns: Some((row.seq, &row.kind, row.at, &row.prev_hash)),
            text: Some(&row.record),
            value,
            hash: &row.hash,
        }),
        Err(e) => {
            let seq = u64::try_from(row.seq).unwrap_or(0);
            walker.records += 1;
            walker.problem(
                seq,
                ProblemKind::Edited,
                format!("record {seq} is not JSON any more ({e}): its content was changed"),
            );
            walker.prev_hash.clone_from(&row.hash);
            walker.expected = walker.expected.max(seq + 1);
            walker.last_seq = seq;
            walker.last_hash = Some(row.hash.clone());
        }
    }
}

fn checkpoint_from_row(row: &CheckpointRow) -> CheckpointInput {
    let body = serde_json::from_str::<Value>(&row.body)
        .map_err(|e| e.to_string())
        .map(|v| {
            // Verify exactly the stored bytes: an edit that keeps the JSON meaning
            // but changes the text is still an edit of a signed body.
            (v, row.body.clone())
        });
    CheckpointInput {
        place: format!("checkpoint row {}", row.number),
        columns: Some((
            u64::try_from(row.number).unwrap_or(0),
            u64::try_from(row.seq).unwrap_or(0),
        )),
        body,
        signature: row.signature.clone(),
    }
}

/// Verifies an export file (see [`crate::AuditLog::export`]) with the
/// region's public key. `file` names it in messages. Lines that cannot be
/// read are problems of the chain (an export is evidence; a damaged one is
/// reported, not refused), except a missing or foreign header line.
///
/// # Errors
/// [`AuditError::Export`] when the first line is not an audit export header,
/// [`AuditError::Io`] when the file cannot be read.
pub fn verify_export(
    reader: impl BufRead,
    file: &str,
    trusted: &PublicKey,
) -> Result<VerifyReport, AuditError> {
    let mut lines = reader.lines().enumerate();
    let header = match lines.next() {
        Some((_, Ok(line))) => serde_json::from_str::<Value>(&line).ok(),
        Some((_, Err(e))) => {
            return Err(AuditError::Io {
                path: file.into(),
                source: e,
            });
        }
        None => None,
    };
    let region = header
        .as_ref()
        .filter(|h| h.get("type").and_then(Value::as_str) == Some(EXPORT_TYPE))
        .and_then(|h| h.get("region").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| AuditError::Export {
            file: file.to_owned(),
            line: 1,
            reason: format!("not a Meridian audit export (no `{EXPORT_TYPE}` header)"),
        })?;
    let mut walker = Walker::new(&region);
    let mut checkpoints = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let line = line.map_err(|e| AuditError::Io {
            path: file.into(),
            source: e,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("line {n}");
        let value: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                walker.problem(
                    walker.expected,
                    ProblemKind::Malformed,
                    format!("{place} is not JSON ({e})"),
                );
                continue;
            }
        };
        match value.get("type").and_then(Value::as_str) {
            Some(LINE_RECORD) => {
                let hash = value.get("hash").and_then(Value::as_str).unwrap_or("");
                match value.get("record") {
                    Some(record) if record.is_object() => {
                        walker.record(&RecordInput {
                            place,
                            columns: None,
                            text: None,
                            value: record.clone(),
                            hash,
                        });
                    }
                    _ => walker.problem(
                        walker.expected,
                        ProblemKind::Malformed,
                        format!("{place}: a record line without a record"),
                    ),
                }
            }
            Some(LINE_CHECKPOINT) => {
                let signature = value
                    .get("signature")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let body = match value.get("body") {
                    Some(b) if b.is_object() => Ok((b.clone(), to_canonical_string(b))),
                    _ => Err("no body".to_owned()),
                };
                checkpoints.push(CheckpointInput {
                    place,
                    columns: None,
                    body,
                    signature,
                });
            }
            other => walker.problem(
                walker.expected,
                ProblemKind::Malformed,
                format!("{place}: unknown line type {other:?}"),
            ),
        }
    }
    Ok(walker.finish(checkpoints, Some(trusted)))
}
