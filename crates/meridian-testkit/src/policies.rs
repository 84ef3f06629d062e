//! Policy bundles for test regions: `Region::assemble` refuses a region
//! without its policies (fail closed), and test regions (`dx`, `fx`…) have no
//! folder among the shipped ones.

use std::path::{Path, PathBuf};

/// The repository's shipped `policies/` folder.
#[must_use]
pub fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// Writes into `dir` (created) a policy bundle for `region`: the shipped
/// schema and global rules, and the shipped rules of `region` when it is a
/// shipped region (an empty folder otherwise: the global rules only).
///
/// # Panics
/// When a file cannot be copied.
pub fn write_bundle(dir: &Path, region: &str) {
    let from = shipped();
    for folder in ["global", region] {
        let target = dir.join(folder);
        std::fs::create_dir_all(&target)
            .unwrap_or_else(|e| panic!("creating {}: {e}", target.display()));
        let Ok(entries) = std::fs::read_dir(from.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "cedar") {
                let to = target.join(entry.file_name());
                std::fs::copy(&path, &to).unwrap_or_else(|e| {
                    panic!("copying {} to {}: {e}", path.display(), to.display())
                });
            }
        }
    }
    let schema = "schema.cedarschema";
    std::fs::copy(from.join(schema), dir.join(schema))
        .unwrap_or_else(|e| panic!("copying {schema}: {e}"));
}

/// A throwaway policy bundle for `region` (see [`write_bundle`]).
///
/// # Panics
/// When the folder cannot be made or a file cannot be copied.
#[must_use]
pub fn bundle(region: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary folder: {e}"));
    write_bundle(dir.path(), region);
    dir
}
