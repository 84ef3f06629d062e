//! A region cannot read or write another region's database through any command.

use crate::{meridian, repo, run};

#[test]
fn every_command_refuses_another_regions_database() {
    let data = tempfile::tempdir().unwrap();
    let regions = repo().join("regions");
    let base = || {
        let mut cmd = meridian();
        cmd.arg("--config-dir")
            .arg(&regions)
            .arg("--data-dir")
            .arg(data.path());
        cmd
    };
    // The us database exists and holds a subscriber.
    let (code, _, err) =
        run(base().args(["subscribers", "add", "--region", "us", "ada@us.example.com"]));
    assert_eq!(code, 0, "{err}");
    let us_db = format!("sqlite://{}/us.db", data.path().display());

    let attempts: [&[&str]; 7] = [
        &["feeds", "list", "--region", "cn"],
        &[
            "feeds",
            "add",
            "--region",
            "cn",
            "https://feeds.example/cn.xml",
        ],
        &["subscribers", "list", "--region", "cn"],
        &["subscribers", "add", "--region", "cn", "li@cn.example.com"],
        &[
            "subscribers",
            "erase",
            "--region",
            "cn",
            "ada@us.example.com",
        ],
        &["maintain", "--region", "cn"],
        &["run", "--region", "cn"],
    ];
    for args in attempts {
        let (code, out, err) = run(base().env("MERIDIAN_CN__STORAGE__URL", &us_db).args(args));
        assert_ne!(
            code, 0,
            "{args:?} must fail on another region's database\n{out}"
        );
        // A command that starts the region refuses it before opening the
        // database, as `config check` does; the others meet the stamp.
        let names_owner = if args[0] == "run" {
            code == 3 && err.contains("same database as region `us`")
        } else {
            err.contains("stamped for region `us`")
        };
        assert!(names_owner, "{args:?}: names the owner: {err}");
    }
    // Nothing of region us was read out or changed.
    let (code, out, err) = run(base().args(["subscribers", "list", "--region", "us"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ada@us.example.com") && out.contains("1 subscriber(s)"),
        "{out}"
    );
    let (_, feeds, _) = run(base().args(["feeds", "list", "--region", "us"]));
    assert!(feeds.contains("0 feed(s)"), "{feeds}");
}
