//! `meridian tokens create|list|revoke`: the token is printed once, listed
//! without its text, and refused once revoked.

use crate::{meridian, repo, run};

fn tokens(data: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .arg("--data-dir")
        .arg(data)
        .arg("tokens")
        .args(args))
}

#[test]
fn a_token_is_printed_once_listed_without_its_text_and_revoked() {
    let data = tempfile::tempdir().unwrap();
    let (code, token, err) = tokens(
        data.path(),
        &[
            "create", "--region", "us", "--scope", "read", "--name", "grafana",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let token = token.trim();
    assert!(
        token.starts_with("mrd_us_") && token.len() == "mrd_us_".len() + 64,
        "{token}"
    );
    assert!(err.contains("shown once"), "{err}");

    let (code, list, err) = tokens(data.path(), &["list", "--region", "us"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        list.contains("read") && list.contains("active") && list.contains("grafana"),
        "{list}"
    );
    assert!(!list.contains(&token[7..]), "never the token: {list}");

    let (code, out, err) = tokens(data.path(), &["revoke", "--region", "us", "1"]);
    assert_eq!(
        (code, out.trim()),
        (0, "revoked token 1 of region `us`"),
        "{err}"
    );
    let (code, json, _) = tokens(data.path(), &["list", "--region", "us", "--json"]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(rows[0]["revoked_at"].is_i64(), "{json}");
    let (code, _, err) = tokens(data.path(), &["revoke", "--region", "us", "1"]);
    assert_eq!(code, 4, "already revoked: {err}");

    let (code, _, err) = tokens(
        data.path(),
        &["create", "--region", "us", "--scope", "root"],
    );
    assert_eq!(code, 2, "clap refuses an unknown scope: {err}");
}
