//! Input and configuration hardening of the binary: `file:` feeds read by a
//! run quote nothing of the file, a document that is not a feed is an error,
//! unsupported schemes are named, and `run`/`serve`/`worker`/`demo` apply
//! every rule of `config check` before they create anything.

use std::path::{Path, PathBuf};

use crate::{meridian, repo, run};

/// A copy of the shipped regions and policies under `root` (the `us` region
/// without its networked OPML list); returns the config folder.
fn shipped_copy(root: &Path, edit: impl Fn(&str, String) -> String) -> PathBuf {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy_dir(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    copy_dir(&repo().join("policies"), &root.join("policies"));
    // `demo` serves the sample podcasts found beside the config folder.
    std::os::unix::fs::symlink(repo().join("demo"), root.join("demo")).unwrap();
    let regions = root.join("regions");
    copy_dir(&repo().join("regions"), &regions);
    for id in ["us", "cn", "eu"] {
        let file = regions.join(format!("{id}.toml"));
        let text = std::fs::read_to_string(&file).unwrap();
        let text = if id == "us" {
            text.replace("opml = \"us.opml\"", "opml = \"\"")
        } else {
            text
        };
        std::fs::write(&file, edit(id, text)).unwrap();
    }
    regions
}

/// Runs `meridian --config-dir C --data-dir D ARGS` with `env`.
fn meridian_in(
    config: &Path,
    data: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (i32, String, String) {
    let mut cmd = meridian();
    cmd.arg("--config-dir")
        .arg(config)
        .arg("--data-dir")
        .arg(data);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd.args(args))
}

#[test]
fn a_run_over_a_local_file_that_is_not_a_feed_quotes_nothing_of_it() {
    let root = tempfile::tempdir().unwrap();
    let config = shipped_copy(root.path(), |_, t| t);
    let data = root.path().join("data");
    let files = root.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let secret = files.join("shadow");
    std::fs::write(
        &secret,
        "root:$6$SECRETHASH0123:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    )
    .unwrap();
    let not_a_feed = files.join("note.xml");
    std::fs::write(&not_a_feed, "<rss version=\"2.0\"><SECRETTAG/></rss>").unwrap();
    for file in [&secret, &not_a_feed] {
        let url = format!("file://{}", file.display());
        let (code, out, err) = meridian_in(
            &config,
            &data,
            &[],
            &["feeds", "add", "--region", "us", &url],
        );
        assert_eq!(code, 0, "the CLI adds local feeds: {out}{err}");
    }

    let (code, out, err) = meridian_in(
        &config,
        &data,
        &[],
        &["run", "--region", "us", "--date", "2026-11-28"],
    );
    assert_eq!(code, 0, "{out}{err}");
    for url in [&secret, &not_a_feed].map(|f| format!("file://{}", f.display())) {
        let line = out
            .lines()
            .find(|l| l.contains(&url))
            .unwrap_or_else(|| panic!("the feed's failure is reported: {out}"));
        assert!(line.contains("failed (not_a_feed)"), "{line}");
    }
    let mut texts = vec![out, err];
    let (_, feeds, _) = meridian_in(
        &config,
        &data,
        &[],
        &["feeds", "list", "--region", "us", "--json"],
    );
    texts.push(feeds);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            // The store (feed rows, run progress, audit records) and its WAL.
            texts.push(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned());
        }
    }
    for text in &texts {
        for word in ["SECRETHASH", "SECRETTAG", "daemon:"] {
            assert!(
                !text.contains(word),
                "`{word}` leaked: {}",
                &text[..text.len().min(2000)]
            );
        }
    }
}

#[test]
fn inspect_feed_fails_on_a_root_that_is_not_a_feed_and_names_unsupported_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let no_channel = dir.path().join("no-channel.xml");
    std::fs::write(&no_channel, "<rss version=\"2.0\"><foo/></rss>").unwrap();
    let (code, _, err) = run(meridian().args(["inspect", "feed"]).arg(&no_channel));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("no-channel.xml") && err.contains("not a feed"),
        "{err}"
    );

    let (code, _, err) = run(meridian().args(["inspect", "feed", "gopher://example.com/1/feed"]));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("scheme `gopher`"), "{err}");
    assert!(
        !err.contains("No such file"),
        "not a missing local file: {err}"
    );
    let (code, _, err) =
        run(meridian().args(["inspect", "transcript", "gopher://example.com/t.vtt"]));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("scheme `gopher`"), "{err}");
}

/// Runs `args` and checks the refusal: exit 3, `words` on one line, and no
/// data directory created.
fn refused_before_anything(config: &Path, env: &[(&str, &str)], args: &[&str], words: &[&str]) {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (code, out, err) = meridian_in(config, &data, env, args);
    assert_eq!(code, 3, "{args:?} exits 3\nstdout: {out}\nstderr: {err}");
    assert!(
        err.lines().any(|l| words.iter().all(|w| l.contains(w))),
        "{args:?}: a line with {words:?} in:\n{err}"
    );
    assert!(
        !data.exists(),
        "{args:?}: nothing created before the refusal"
    );
}

#[test]
fn starting_a_region_applies_every_config_check_rule_first() {
    let root = tempfile::tempdir().unwrap();
    let config = shipped_copy(root.path(), |_, t| t);
    let starts: [&[&str]; 3] = [
        &["run", "--region", "REGION", "--date", "2026-11-28"],
        &["worker", "--region", "REGION", "--until-idle"],
        &["serve", "--region", "REGION", "--listen", "127.0.0.1:0"],
    ];
    let with_region = |args: &[&str], region: &str| -> Vec<String> {
        args.iter().map(|a| a.replace("REGION", region)).collect()
    };

    // Another region's database, from the environment.
    let env = [("MERIDIAN_EU__STORAGE__URL", "sqlite://{data_dir}/us.db")];
    for args in starts {
        let args = with_region(args, "eu");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused_before_anything(
            &config,
            &env,
            &args,
            &["MERIDIAN_EU__STORAGE__URL", "storage.url", "same database"],
        );
    }
    // PostgreSQL without the link-signing secret.
    let env = [(
        "MERIDIAN_US__STORAGE__URL",
        "postgres://postgres@127.0.0.1:5432/meridian_unused",
    )];
    refused_before_anything(
        &config,
        &env,
        &["config", "check"],
        &[
            "server.token_secret_env",
            "MERIDIAN_US__SERVER__TOKEN_SECRET",
            "PostgreSQL",
        ],
    );
    for args in starts {
        let args = with_region(args, "us");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused_before_anything(
            &config,
            &env,
            &args,
            &[
                "server.token_secret_env",
                "MERIDIAN_US__SERVER__TOKEN_SECRET",
            ],
        );
    }
    // An SMTP relay the egress list does not name, and a plain-SMTP one.
    for (relay, why) in [
        (
            "smtps://relay.mail.example.com",
            "not listed in `egress.allow`",
        ),
        ("smtp://relay.mail.example.com", "plain SMTP"),
    ] {
        let env = [("MERIDIAN_US__MAIL__SMTP_URL", relay)];
        refused_before_anything(
            &config,
            &env,
            &["config", "check"],
            &["MERIDIAN_US__MAIL__SMTP_URL", "mail.smtp_url", why],
        );
        refused_before_anything(
            &config,
            &env,
            &["run", "--region", "us", "--date", "2026-11-28"],
            &["MERIDIAN_US__MAIL__SMTP_URL", "mail.smtp_url", why],
        );
    }
    // Bad values and unknown keys from the environment name the variable.
    for (var, value, key) in [
        ("MERIDIAN_US__DIGEST_HOUR", "seven", "digest_hour"),
        ("MERIDIAN_US__COLOUR", "blue", "colour"),
        ("MERIDIAN_US__STORAGE__URL", "mysql://db/us", "storage.url"),
        // A whole list set from the environment: its entries' problems too.
        (
            "MERIDIAN_US__MODELS__INSIGHT",
            r#"[{name="x",provider="nope"}]"#,
            "models.insight[0].provider",
        ),
    ] {
        refused_before_anything(
            &config,
            &[(var, value)],
            &["run", "--region", "us", "--date", "2026-11-28"],
            &[&format!("environment variable {var}"), key],
        );
    }
}

#[test]
fn a_region_that_breaks_its_own_policies_is_refused_naming_its_file() {
    let root = tempfile::tempdir().unwrap();
    let config = shipped_copy(root.path(), |id, t| {
        if id == "cn" {
            t.replacen("hosted_in = \"CN\"", "hosted_in = \"US\"", 1)
        } else {
            t
        }
    });
    for args in [
        &["run", "--region", "cn", "--date", "2026-11-28"][..],
        &["worker", "--region", "cn", "--until-idle"][..],
    ] {
        refused_before_anything(
            &config,
            &[],
            args,
            &["cn.toml", "models.insight[0]", "denied"],
        );
    }
    refused_before_anything(
        &config,
        &[],
        &["demo"],
        &["cn.toml", "models.insight[0]", "denied"],
    );
}

#[test]
fn subscribers_add_refuses_hidden_characters_and_domains_that_receive_no_mail() {
    let root = tempfile::tempdir().unwrap();
    let config = shipped_copy(root.path(), |_, t| t);
    let data = root.path().join("data");
    for bad in [
        "ev\u{202e}lin@example.org",
        "eve\u{200b}@example.org",
        "root@localhost",
        "a@example",
        "a@mail.test",
        "a@host.invalid",
    ] {
        let (code, out, err) = meridian_in(
            &config,
            &data,
            &[],
            &["subscribers", "add", "--region", "us", bad],
        );
        assert_eq!(code, 4, "{bad:?} is refused: {out}{err}");
        assert!(err.contains("is invalid"), "{bad:?}: {err}");
    }
    let (code, _, err) = meridian_in(
        &config,
        &data,
        &[],
        &["subscribers", "add", "--region", "us", "ada@example.org"],
    );
    assert_eq!(code, 0, "{err}");
    let (_, list, _) = meridian_in(
        &config,
        &data,
        &[],
        &["subscribers", "list", "--region", "us"],
    );
    assert!(
        list.contains("ada@example.org") && list.contains("1 subscriber(s)"),
        "{list}"
    );
}
