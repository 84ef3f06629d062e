//! The shipped policies (`policies/` at the repository root) and the loader,
//! tested through the public API.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod errors;
mod matrix;

use std::path::{Path, PathBuf};

use meridian_core::{Jurisdiction, RegionId};
use meridian_policy::{ModelFacts, PolicyGate, RegionFacts};

/// The repository's `policies/` folder.
pub fn shipped() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"))
}

/// A jurisdiction from a literal.
pub fn j(code: &str) -> Jurisdiction {
    Jurisdiction::parse(code).unwrap()
}

/// The facts of a shipped region, as `regions/<id>.toml` states them.
pub fn region(id: &str) -> RegionFacts {
    let mut facts = RegionFacts::new(
        RegionId::parse(id).unwrap(),
        j(match id {
            "us" => "US",
            "cn" => "CN",
            "eu" => "EU",
            other => panic!("no shipped region {other}"),
        }),
    );
    match id {
        "us" => {
            facts.forbidden_origins = ["CN", "RU", "IR", "KP"].map(j).to_vec();
            facts.egress_allow = vec!["api.openai.com".parse().unwrap(), "*".parse().unwrap()];
        }
        "cn" => facts.egress_allow = vec!["127.0.0.1:11434".parse().unwrap(), "*".parse().unwrap()],
        _ => facts.egress_allow = vec!["api.mistral.ai".parse().unwrap(), "*".parse().unwrap()],
    }
    facts
}

/// The gate of a shipped region over the shipped policies.
pub fn gate(id: &str) -> PolicyGate {
    PolicyGate::load(&shipped(), &region(id)).unwrap_or_else(|e| panic!("region {id}: {e}"))
}

/// A model with the given facts.
pub fn model(name: &str, hosted_in: &str, origin: &str, attributes: &[&str]) -> ModelFacts {
    ModelFacts {
        name: name.to_owned(),
        provider: if name.starts_with("builtin") {
            "builtin"
        } else {
            "openai"
        }
        .to_owned(),
        hosted_in: j(hosted_in),
        origin: j(origin),
        weights: "open".to_owned(),
        digest: None,
        attributes: attributes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Copies the shipped policies into a fresh temporary folder, to break them.
pub fn copy_of_shipped() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&shipped(), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
