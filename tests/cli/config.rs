use crate::{meridian, repo, run};

#[test]
fn config_check_passes_on_the_shipped_regions() {
    let (code, out, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .args(["config", "check"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    for id in ["us", "cn", "eu"] {
        assert!(
            out.contains(&format!("ok   {id} ")),
            "{id} listed as ok: {out}"
        );
    }
    assert!(out.contains("3 region(s) OK"));
}

#[test]
fn config_check_reports_every_problem_with_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let us = std::fs::read_to_string(repo().join("regions/us.toml")).unwrap();
    let broken = us
        .replace("jurisdiction = \"US\"", "jurisdiction = \"USA\"")
        .replace(
            "timezone = \"America/New_York\"",
            "timezone = \"Mars/Olympus\"",
        )
        .replace("opml = \"us.opml\"", "opml = \"missing.opml\"")
        .replace(
            "name = \"builtin\"\nprovider = \"builtin\"",
            "name = \"builtin\"\nprovider = \"telepathy\"",
        );
    std::fs::write(dir.path().join("us.toml"), broken).unwrap();
    let (code, out, err) = run(meridian()
        .arg("--config-dir")
        .arg(dir.path())
        .args(["config", "check"]));
    assert_eq!(
        code, 3,
        "config problems exit with 3\nstdout: {out}\nstderr: {err}"
    );
    for (key, reason) in [
        ("`jurisdiction`", "USA"),
        ("`timezone`", "Mars/Olympus"),
        ("`feeds.opml`", "does not exist"),
        ("`models.insight[1].provider`", "telepathy"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no line for {key} in:\n{err}"));
        assert!(line.contains("us.toml"), "{key}: names the file: {line}");
        assert!(line.contains(reason), "{key}: gives the reason: {line}");
    }
}

#[test]
fn config_check_refuses_unknown_keys_and_wrong_types() {
    let dir = tempfile::tempdir().unwrap();
    let us = std::fs::read_to_string(repo().join("regions/us.toml")).unwrap();
    std::fs::write(
        dir.path().join("us.toml"),
        us.replace(
            "digest_hour = 7",
            "digest_hour = \"seven\"\ncolour = \"blue\"",
        ),
    )
    .unwrap();
    std::fs::copy(repo().join("regions/us.opml"), dir.path().join("us.opml")).unwrap();
    let (code, _, err) = run(meridian()
        .arg("--config-dir")
        .arg(dir.path())
        .args(["config", "check"]));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("us.toml"), "{err}");
    assert!(
        err.contains("digest_hour") || err.contains("colour"),
        "names the key: {err}"
    );
}

#[test]
fn environment_overrides_the_region_file() {
    let (code, _, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .env("MERIDIAN_CN__STORAGE__URL", "mysql://db/cn")
        .args(["config", "check"]));
    assert_eq!(code, 3, "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("storage.url"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("cn.toml") && line.contains("mysql://db/cn"),
        "{line}"
    );
}

#[test]
fn two_regions_may_not_share_a_database() {
    let (code, _, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .env("MERIDIAN_EU__STORAGE__URL", "sqlite://{data_dir}/us.db")
        .args(["config", "check"]));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("same database"), "{err}");
}
