//! Offline verification of an export file, after editing the file.

use meridian_audit::canonical::to_canonical_string;
use meridian_audit::keys::{AuditKey, PublicKey};
use meridian_audit::record::sha256_hex;
use meridian_audit::verify::{ProblemKind, VerifyReport, verify_export};
use serde_json::Value;

use crate::{TestDb, signed_log, standard_chain};

/// The standard chain exported: header, 10 record lines, 2 checkpoint lines.
async fn exported() -> (Vec<String>, PublicKey) {
    let db = TestDb::sqlite();
    let (log, public) = signed_log(db.store().await).await;
    standard_chain(&log).await;
    let mut out = Vec::new();
    let summary = log.export(&mut out).await.unwrap();
    assert_eq!(
        (summary.records, summary.checkpoints, summary.head_seq),
        (10, 2, 10)
    );
    log.store().close().await;
    let lines: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 13);
    (lines, public)
}

fn verify(lines: &[String], key: &PublicKey) -> VerifyReport {
    let text = lines.join("\n");
    verify_export(text.as_bytes(), "export.jsonl", key).unwrap()
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

/// Index of the line of record `seq`.
fn record_line(lines: &[String], seq: u64) -> usize {
    lines
        .iter()
        .position(|l| json(l)["type"] == "record" && json(l)["record"]["seq"] == seq)
        .unwrap()
}

/// Index of the line of checkpoint `number`.
fn checkpoint_line(lines: &[String], number: u64) -> usize {
    lines
        .iter()
        .position(|l| json(l)["type"] == "checkpoint" && json(l)["body"]["number"] == number)
        .unwrap()
}

fn assert_broken_at(report: &VerifyReport, seq: u64, kind: ProblemKind, case: &str) {
    assert!(!report.is_intact(), "{case}: tampering goes unnoticed");
    assert_eq!(
        report.first_bad_seq(),
        Some(seq),
        "{case}: first bad sequence number; problems: {:#?}",
        report.problems
    );
    assert!(
        report.problems.iter().any(|p| p.kind == kind),
        "{case}: expected a {kind:?} problem, got {:#?}",
        report.problems
    );
}

#[tokio::test]
async fn an_untouched_export_verifies_offline() {
    let (lines, key) = exported().await;
    let report = verify(&lines, &key);
    assert!(report.is_intact(), "{:#?}", report.problems);
    assert_eq!(
        (
            report.records,
            report.checkpoints_verified,
            report.region.as_str()
        ),
        (10, 2, "us")
    );
    // Each checkpoint follows the record it covers.
    assert_eq!(checkpoint_line(&lines, 1), record_line(&lines, 4) + 1);
}

#[tokio::test]
async fn an_edited_record_line_is_found() {
    let (mut lines, key) = exported().await;
    let i = record_line(&lines, 6);
    lines[i] = lines[i].replace("\"actor\":\"pipeline\"", "\"actor\":\"intruder\"");
    assert_broken_at(&verify(&lines, &key), 6, ProblemKind::Edited, "edit");
}

#[tokio::test]
async fn an_inserted_record_line_is_found() {
    let (mut lines, key) = exported().await;
    // A forged record 7 that links to record 6 and carries a correct hash of
    // itself, inserted before the real record 7.
    let six = json(&lines[record_line(&lines, 6)]);
    let mut forged = six["record"].clone();
    forged["seq"] = 7.into();
    forged["prev_hash"] = six["hash"].clone();
    forged["actor"] = "intruder".into();
    let hash = sha256_hex(to_canonical_string(&forged).as_bytes());
    let line = serde_json::json!({"type": "record", "hash": hash, "record": forged}).to_string();
    let at = record_line(&lines, 7);
    lines.insert(at, line);
    assert_broken_at(&verify(&lines, &key), 7, ProblemKind::OutOfOrder, "insert");
}

#[tokio::test]
async fn a_deleted_record_line_is_found() {
    let (mut lines, key) = exported().await;
    let i = record_line(&lines, 6);
    lines.remove(i);
    assert_broken_at(&verify(&lines, &key), 6, ProblemKind::Missing, "delete");
}

#[tokio::test]
async fn reordered_record_lines_are_found() {
    let (mut lines, key) = exported().await;
    let (a, b) = (record_line(&lines, 6), record_line(&lines, 7));
    lines.swap(a, b);
    assert_broken_at(&verify(&lines, &key), 6, ProblemKind::Missing, "reorder");
    assert!(
        verify(&lines, &key)
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::OutOfOrder)
    );
}

#[tokio::test]
async fn a_forged_checkpoint_signature_is_found() {
    let (mut lines, key) = exported().await;
    let i = checkpoint_line(&lines, 2);
    let mut cp = json(&lines[i]);
    // One hex digit of the signature changed.
    let sig = cp["signature"].as_str().unwrap().to_owned();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    cp["signature"] = flipped.into();
    lines[i] = cp.to_string();
    assert_broken_at(
        &verify(&lines, &key),
        8,
        ProblemKind::ForgedCheckpoint,
        "forged signature",
    );
}

#[tokio::test]
async fn a_missing_checkpoint_line_is_found() {
    let (mut lines, key) = exported().await;
    let i = checkpoint_line(&lines, 1);
    lines.remove(i);
    assert_broken_at(
        &verify(&lines, &key),
        4,
        ProblemKind::MissingCheckpoint,
        "missing checkpoint",
    );
}

#[tokio::test]
async fn an_export_checked_with_another_key_fails() {
    let (lines, _) = exported().await;
    let other = AuditKey::generate().unwrap().public_key();
    assert_broken_at(
        &verify(&lines, &other),
        4,
        ProblemKind::ForgedCheckpoint,
        "another key",
    );
}

#[tokio::test]
async fn a_file_that_is_not_an_export_is_refused() {
    let (lines, key) = exported().await;
    let err = verify_export(lines[1..].join("\n").as_bytes(), "x.jsonl", &key).unwrap_err();
    assert!(err.to_string().contains("x.jsonl: line 1"), "{err}");
    let mut broken = lines.clone();
    broken[3] = "{not json".to_owned();
    let report = verify(&broken, &key);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Malformed),
        "{:#?}",
        report.problems
    );
}
