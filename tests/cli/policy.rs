//! The policy gate from the command line: `config check` refuses a region whose
//! own config breaks its policies, and `policy check` / `policy explain`.

use std::path::{Path, PathBuf};

use crate::{meridian, repo, run};

/// A copy of the shipped `regions/` (only `ids`) and `policies/` in a fresh
/// folder, laid out like the repository (`regions/` beside `policies/`).
struct Layout {
    root: tempfile::TempDir,
}

impl Layout {
    fn new(ids: &[&str]) -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("regions")).unwrap();
        for id in ids {
            for ext in ["toml", "opml"] {
                let name = format!("{id}.{ext}");
                std::fs::copy(
                    repo().join("regions").join(&name),
                    root.path().join("regions").join(&name),
                )
                .unwrap();
            }
        }
        copy_dir(&repo().join("policies"), &root.path().join("policies"));
        Self { root }
    }

    fn regions(&self) -> PathBuf {
        self.root.path().join("regions")
    }

    fn policies(&self) -> PathBuf {
        self.root.path().join("policies")
    }

    /// Rewrites a file under the root with `edit`, checking that it changed.
    fn edit(&self, file: &str, edit: impl Fn(&str) -> String) -> PathBuf {
        let path = self.root.path().join(file);
        let before = std::fs::read_to_string(&path).unwrap();
        let after = edit(&before);
        assert_ne!(before, after, "the edit of {file} changed nothing");
        std::fs::write(&path, after).unwrap();
        path
    }

    fn meridian(&self, args: &[&str]) -> (i32, String, String) {
        run(meridian()
            .arg("--config-dir")
            .arg(self.regions())
            .args(args))
    }
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

#[test]
fn a_cn_config_naming_a_us_hosted_model_fails_config_check_naming_the_policy() {
    let layout = Layout::new(&["cn", "us"]);
    layout.edit("regions/cn.toml", |t| {
        t.replacen(
            "[[models.insight]]\nname = \"qwen\"",
            "[[models.insight]]\nname = \"gpt-4o-mini\"\nprovider = \"openai\"\nendpoint = \"https://api.openai.com/v1\"\n\
             model = \"gpt-4o-mini\"\nhosted_in = \"US\"\norigin = \"US\"\nweights = \"closed\"\n\n[[models.insight]]\nname = \"qwen\"",
            1,
        )
        .replace("allow = [\"127.0.0.1:11434\", \"*\"]", "allow = [\"127.0.0.1:11434\", \"api.openai.com\", \"*\"]")
    });
    let (code, out, err) = layout.meridian(&["config", "check"]);
    assert_eq!(
        code, 3,
        "a region breaking its policies does not start\nstdout: {out}\nstderr: {err}"
    );
    let line = err
        .lines()
        .find(|l| l.contains("cn.models.hosted-in-cn"))
        .unwrap_or_else(|| panic!("no line names the policy:\n{err}"));
    for part in [
        "cn.toml",
        "region `cn`",
        "model `gpt-4o-mini`",
        "`models.insight[0]`",
        "PIPL",
    ] {
        assert!(line.contains(part), "the line names {part}: {line}");
    }
    assert!(
        out.contains("ok   us "),
        "the other region is still fine: {out}"
    );
    assert!(!out.contains("ok   cn "), "{out}");
}

#[test]
fn run_and_serve_refuse_a_region_whose_config_breaks_its_policies() {
    let layout = Layout::new(&["cn"]);
    layout.edit("regions/cn.toml", |t| {
        t.replacen("hosted_in = \"CN\"", "hosted_in = \"US\"", 1)
    });
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    for args in [
        &["--data-dir", data_dir, "run", "--region", "cn"][..],
        &[
            "--data-dir",
            data_dir,
            "serve",
            "--region",
            "cn",
            "--listen",
            "127.0.0.1:0",
        ][..],
    ] {
        let (code, out, err) = layout.meridian(args);
        assert_eq!(
            code, 3,
            "{args:?}: a region breaking its policies does not start\nstdout: {out}\nstderr: {err}"
        );
        for part in ["region `cn`", "model `qwen`", "cn.models.hosted-in-cn"] {
            assert!(
                err.contains(part),
                "{args:?}: the refusal names {part}: {err}"
            );
        }
    }
    assert!(
        !data.path().join("cn.db").exists(),
        "nothing was opened for the refused region"
    );
}

#[test]
fn a_us_model_of_a_forbidden_origin_fails_config_check() {
    let layout = Layout::new(&["us"]);
    layout.edit("regions/us.toml", |t| {
        t.replacen("origin = \"US\"", "origin = \"CN\"", 1)
    });
    let (code, _, err) = layout.meridian(&["config", "check"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("global.models.forbidden-origin")
                && l.contains("model `gpt-4o-mini`")),
        "{err}"
    );
}

#[test]
fn a_policy_file_with_a_syntax_error_fails_config_check_naming_file_and_line() {
    let layout = Layout::new(&["cn"]);
    let file = layout.edit("policies/cn/models.cedar", |t| {
        t.replace(
            "unless { resource.hosted_in == \"CN\" };",
            "unless { resource.hosted_in == \"CN\" ",
        )
    });
    let (code, _, err) = layout.meridian(&["config", "check"]);
    assert_eq!(code, 3, "{err}");
    let file = file.canonicalize().unwrap();
    let line = err
        .lines()
        .find(|l| l.contains(&file.display().to_string()))
        .unwrap_or_else(|| panic!("names {}: {err}", file.display()));
    let position = line.split(&format!("{}:", file.display())).nth(1).unwrap();
    let line_no: usize = position
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("a line number: {line}"));
    assert!(line_no > 1, "{line}");
    assert!(line.contains("syntax error"), "{line}");
}

#[test]
fn a_policy_that_does_not_fit_the_schema_fails_naming_file_line_and_policy() {
    let layout = Layout::new(&["eu"]);
    let file = layout.edit("policies/eu/models.cedar", |t| {
        t.replace(
            "when { !resource.hosted_in_eu }",
            "when { !resource.hosted_in_europe }",
        )
    });
    let (code, _, err) = layout.meridian(&["config", "check"]);
    assert_eq!(code, 3, "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    let expected_line = text
        .lines()
        .position(|l| l.contains("hosted_in_europe }"))
        .unwrap()
        + 1;
    let file = file.canonicalize().unwrap();
    let shown = format!("{}:{expected_line}:", file.display());
    let line = err
        .lines()
        .find(|l| l.contains(&shown))
        .unwrap_or_else(|| panic!("names {shown}: {err}"));
    assert!(
        line.contains("eu.models.non-eu-needs-adequacy-or-dpf"),
        "{line}"
    );
    assert!(line.contains("hosted_in_europe"), "{line}");
}

#[test]
fn missing_policies_fail_closed() {
    let layout = Layout::new(&["us"]);
    std::fs::remove_dir_all(layout.policies().join("us")).unwrap();
    let (code, _, err) = layout.meridian(&["config", "check"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("policy folder missing"), "{err}");
}

#[test]
fn policy_check_allows_public_data_to_a_regions_own_model() {
    let (code, out, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .args([
            "policy",
            "check",
            "--region",
            "cn",
            "--model",
            "qwen",
            "--data-class",
            "public",
        ]));
    assert_eq!(code, 0, "allow exits 0\nstdout: {out}\nstderr: {err}");
    assert!(
        out.starts_with("allow: region `cn` `invoke_model` model `qwen`"),
        "{out}"
    );
    assert!(out.contains("global.models.public-and-derived"), "{out}");
}

#[test]
fn policy_check_denies_personal_data_naming_the_policy_and_reason() {
    let (code, out, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .args([
            "policy",
            "check",
            "--region",
            "eu",
            "--model",
            "mistral-small",
            "--data-class",
            "personal",
        ]));
    assert_eq!(code, 3, "deny exits 3\nstdout: {out}\nstderr: {err}");
    assert!(out.starts_with("deny:"), "{out}");
    assert!(out.contains("global.models.no-personal-data"), "{out}");
    assert!(
        out.contains(
            "reason: personal data (subscriber addresses, names) is never sent to a model"
        ),
        "{out}"
    );
}

#[test]
fn policy_check_of_a_transcription_model_asks_about_transcribe() {
    let (code, out, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .args([
            "policy",
            "check",
            "--region",
            "us",
            "--model",
            "whisper",
            "--data-class",
            "public",
        ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("`transcribe` model `whisper`"), "{out}");
}

#[test]
fn policy_check_names_the_models_of_the_region_when_the_model_is_unknown() {
    let (code, _, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .args([
            "policy",
            "check",
            "--region",
            "cn",
            "--model",
            "gpt-4o-mini",
            "--data-class",
            "public",
        ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("configures no model `gpt-4o-mini`") && err.contains("qwen"),
        "{err}"
    );
}

#[test]
fn policy_check_refuses_an_unknown_data_class() {
    let (code, _, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .args([
            "policy",
            "check",
            "--region",
            "cn",
            "--model",
            "qwen",
            "--data-class",
            "secret",
        ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("public, derived, personal"), "{err}");
}

#[test]
fn policy_explain_prints_facts_policies_and_the_decision_matrix() {
    let (code, out, err) = run(meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .args(["policy", "explain", "--region", "us"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("Region `us`") && out.contains("jurisdiction US"),
        "{out}"
    );
    assert!(
        out.contains("forbidden model origins: CN, RU, IR, KP"),
        "{out}"
    );
    assert!(out.contains("sha256 "), "the bundle hash: {out}");
    for (id, file) in [
        (
            "global.models.no-personal-data",
            "policies/global/models.cedar",
        ),
        (
            "global.models.forbidden-origin",
            "policies/global/models.cedar",
        ),
        (
            "global.fetch.private-hosts-need-consent",
            "policies/global/egress.cedar",
        ),
        ("global.mail.own-relay-only", "policies/global/mail.cedar"),
        ("us.models.hosted-in-us", "policies/us/models.cedar"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} listed: {out}"));
        assert!(line.contains(file), "{id} with its file: {line}");
    }
    assert!(
        out.contains("  | unless { resource.hosted_in == \"US\" };"),
        "the rule text: {out}"
    );
    assert!(
        !out.contains("cn.models.hosted-in-cn"),
        "another region's policies are not in force: {out}"
    );
    // The matrix: every configured model × class.
    let matrix = out.split("Decision matrix").nth(1).unwrap();
    for (model, role) in [
        ("gpt-4o-mini", "models.insight[0]"),
        ("builtin", "models.insight[1]"),
        ("whisper", "models.transcribe[0]"),
    ] {
        assert!(
            matrix.contains(&format!("  {model} ({role}")),
            "{model}: {matrix}"
        );
    }
    assert!(
        matrix.contains("    public    allow `global.models.public-and-derived`"),
        "{matrix}"
    );
    assert!(
        matrix.contains("    personal  deny  `global.models.no-personal-data`"),
        "{matrix}"
    );
    assert!(
        out.contains("Configured models, endpoints and mail relay: all allowed."),
        "{out}"
    );
}

#[test]
fn policy_explain_of_a_region_whose_policies_do_not_load_exits_3() {
    let layout = Layout::new(&["cn"]);
    layout.edit("policies/global/mail.cedar", |t| {
        t.replace("@id(\"global.mail.delivery\")\n", "")
    });
    let (code, _, err) = layout.meridian(&["policy", "explain", "--region", "cn"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("mail.cedar") && err.contains("@id"), "{err}");
}
