//! The identity hashes: region file and policy bundle.

use std::path::Path;

use meridian_core::RegionId;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::AuditError;
use crate::record::sha256_hex;

/// One policy file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyFile {
    /// Path relative to the `policies/` folder, with `/` separators.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// SHA-256 of a region file's bytes, hex.
///
/// # Errors
/// [`AuditError::Io`] when it cannot be read.
pub fn config_hash(region_file: &Path) -> Result<String, AuditError> {
    let bytes = std::fs::read(region_file).map_err(|e| AuditError::io(region_file, e))?;
    Ok(sha256_hex(&bytes))
}

/// The policy-bundle hash of a region: SHA-256 over the `*.cedar` files
/// under `policies/global/` and `policies/<region>/` (recursively), sorted by
/// their path relative to `policies/`, each contributing the line
/// `<path>\0<sha256 of its bytes>\n`. Missing folders contribute nothing (the
/// hash of no files is the SHA-256 of the empty string). Returns the hash and
/// the files.
///
/// # Errors
/// [`AuditError::Io`] when a folder or file cannot be read.
pub fn policy_bundle_hash(
    policies_dir: &Path,
    region: &RegionId,
) -> Result<(String, Vec<PolicyFile>), AuditError> {
    let mut files = Vec::new();
    for folder in ["global", region.as_str()] {
        collect(policies_dir, &policies_dir.join(folder), &mut files)?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for f in &files {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update(f.sha256.as_bytes());
        h.update(b"\n");
    }
    Ok((hex::encode(h.finalize()), files))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PolicyFile>) -> Result<(), AuditError> {
    if !dir.is_dir() {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| AuditError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| AuditError::io(dir, e))?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "cedar") {
            let bytes = std::fs::read(&path).map_err(|e| AuditError::io(&path, e))?;
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(PolicyFile {
                path: rel.join("/"),
                sha256: sha256_hex(&bytes),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_hash_covers_global_and_own_policies_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let us = RegionId::parse("us").unwrap();
        let (empty, none) = policy_bundle_hash(p, &us).unwrap();
        assert!(none.is_empty());
        assert_eq!(empty, sha256_hex(b""));
        std::fs::create_dir_all(p.join("global")).unwrap();
        std::fs::create_dir_all(p.join("us/extra")).unwrap();
        std::fs::create_dir_all(p.join("cn")).unwrap();
        std::fs::write(
            p.join("global/base.cedar"),
            "permit(principal, action, resource);",
        )
        .unwrap();
        std::fs::write(
            p.join("us/extra/models.cedar"),
            "forbid(principal, action, resource);",
        )
        .unwrap();
        std::fs::write(p.join("us/README.md"), "not a policy").unwrap();
        std::fs::write(
            p.join("cn/cn.cedar"),
            "forbid(principal, action, resource);",
        )
        .unwrap();
        let (first, files) = policy_bundle_hash(p, &us).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["global/base.cedar", "us/extra/models.cedar"]);
        std::fs::write(p.join("cn/cn.cedar"), "changed").unwrap();
        assert_eq!(
            policy_bundle_hash(p, &us).unwrap().0,
            first,
            "another region's policies do not count"
        );
        std::fs::write(p.join("global/base.cedar"), "changed").unwrap();
        assert_ne!(
            policy_bundle_hash(p, &us).unwrap().0,
            first,
            "a global policy does"
        );
    }
}
