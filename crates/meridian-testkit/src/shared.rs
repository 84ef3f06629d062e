//! The shared test data that lies beside the checkout: third-party feeds and
//! transcripts (`corpus`), an editor's gold annotations (`eval`) and Python
//! feedparser's own test suite (`conformance`). Tests and benchmarks read
//! them in place; an environment variable points elsewhere.

use std::path::{Path, PathBuf};

/// The folder `name` of the shared test data: where the environment variable
/// `env` points when it is set, else `shared/<name>` in the folder that holds
/// this checkout.
#[must_use]
pub fn shared_folder(env: &str, name: &str) -> PathBuf {
    std::env::var_os(env).map_or_else(
        || beside_checkout().join("shared").join(name),
        PathBuf::from,
    )
}

/// The folder holding the checkout (this crate is `crates/meridian-testkit`
/// inside it).
fn beside_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_the_variable_the_folder_lies_beside_the_checkout() {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let checkout = checkout.canonicalize().unwrap_or(checkout);
        assert_eq!(
            shared_folder("MERIDIAN_TESTKIT_NEVER_SET", "corpus"),
            checkout.parent().unwrap().join("shared").join("corpus")
        );
    }
}
