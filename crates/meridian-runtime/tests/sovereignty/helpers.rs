//! Reading a region's audit log back, as an auditor would: its export.

use meridian_runtime::Region;
use serde_json::Value;

/// Every record of the region's chain, as exported (`meridian audit export`),
/// after the outcome records still buffered are appended.
pub async fn records(region: &Region) -> Vec<Value> {
    region.flush_audit().await.unwrap();
    let mut out = Vec::new();
    region.audit().export(&mut out).await.unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "record")
        .map(|v| v["record"].clone())
        .collect()
}

/// The records of one kind.
pub fn of_kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == kind).collect()
}

/// The export as text, for assertions over everything in it.
pub async fn export_text(region: &Region) -> String {
    region.flush_audit().await.unwrap();
    let mut out = Vec::new();
    region.audit().export(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}
