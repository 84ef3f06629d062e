use std::path::Path;

use crate::{meridian, repo, run};

/// The report's sections (meridian_audit::report::SECTIONS), as a reader looks for them.
const SECTIONS: [(&str, &str); 10] = meridian_audit::report::SECTIONS;

fn audit(data: &Path, args: &[&str]) -> (i32, String, String) {
    run(meridian()
        .current_dir(repo())
        .arg("--data-dir")
        .arg(data)
        .arg("audit")
        .args(args))
}

#[test]
fn demo_then_verify_export_and_report_every_format() {
    let data = tempfile::tempdir().unwrap();
    let (code, out, err) = run(meridian()
        .current_dir(repo())
        .arg("--data-dir")
        .arg(data.path())
        .arg("demo"));
    assert_eq!(code, 0, "demo: {out}\n{err}");
    for id in ["us", "cn", "eu"] {
        let key = data.path().join("keys").join(format!("{id}.ed25519"));
        assert!(
            key.is_file() && key.with_extension("ed25519.pub").is_file(),
            "the demo made {id}'s audit key and its public key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600,
                "{id}'s key is private"
            );
        }
    }

    // Every region's run recorded its decisions and calls and signed its
    // chain at the end: verify and report work for each.
    for id in ["us", "cn", "eu"] {
        let (code, out, err) = audit(data.path(), &["verify", "--region", id]);
        assert_eq!(code, 0, "verify {id} after the demo: {out}\n{err}");
        assert!(out.contains("OK: the chain is intact"), "{out}");
        assert!(
            out.contains("1 checkpoint(s), 1 signature(s) verified"),
            "the demo's run of {id} ends with a signed checkpoint: {out}"
        );
        let (code, out, err) = audit(
            data.path(),
            &["report", "--region", id, "--format", "md", "--out", "-"],
        );
        assert_eq!(code, 0, "report {id}: {out}\n{err}");
        assert!(out.contains("## 4. Policy decisions"), "{out}");
        let decisions: u64 = out
            .lines()
            .find_map(|l| l.split_once(" decision(s): "))
            .and_then(|(n, _)| n.trim().parse().ok())
            .unwrap_or(0);
        assert!(
            decisions > 0,
            "{id}'s report shows the run's policy decisions: {out}"
        );
        assert!(out.contains("global.fetch.admitted-hosts"), "{out}");
        assert!(out.contains("global.models.public-and-derived"), "{out}");
    }

    // An on-demand checkpoint signs the head; the chain still verifies.
    let (code, out, err) = audit(data.path(), &["checkpoint", "--region", "us"]);
    assert_eq!(code, 0, "checkpoint: {out}\n{err}");
    assert!(out.contains("checkpoint 2 of region `us`"), "{out}");
    let (code, out, err) = audit(data.path(), &["verify", "--region", "us"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("2 signature(s) verified"), "{out}");

    // The key may come from the environment instead (the config loader leaves
    // the variable alone); it wins over the key file.
    let key_hex = |file: &Path| {
        let text = std::fs::read_to_string(file).unwrap();
        text.lines()
            .find(|l| !l.starts_with('#'))
            .unwrap()
            .to_owned()
    };
    let other = data.path().join("other.ed25519");
    let (code, _, err) = audit(
        data.path(),
        &["keygen", "--region", "us", "--out", other.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    for (file, expected) in [(data.path().join("keys/us.ed25519"), 0), (other, 5)] {
        let (code, out, err) = run(meridian()
            .current_dir(repo())
            .env("MERIDIAN_US__AUDIT__SIGNING_KEY", key_hex(&file))
            .arg("--data-dir")
            .arg(data.path())
            .args(["audit", "verify", "--region", "us"]));
        assert_eq!(
            code,
            expected,
            "verify with the key of {} from the environment: {out}\n{err}",
            file.display()
        );
    }

    for (format, ext) in [("html", "html"), ("json", "json"), ("md", "md")] {
        let file = data.path().join(format!("report.{ext}"));
        let (code, out, err) = audit(
            data.path(),
            &[
                "report",
                "--region",
                "us",
                "--format",
                format,
                "--out",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "report --format {format}: {out}\n{err}");
        let text = std::fs::read_to_string(&file).unwrap();
        match format {
            "json" => {
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                for (key, _) in SECTIONS {
                    assert!(json.get(key).is_some(), "JSON report has `{key}`");
                }
                assert_eq!(json["identity"]["region"], "us");
                assert_eq!(json["integrity"]["verification"]["status"], "intact");
                assert!(
                    json["data_inventory"]["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|i| i["category"] == "episodes" && i["total"].as_u64() > Some(0)),
                    "the demo's episodes are counted: {json}"
                );
                assert!(
                    json["attestation"]["signature"].is_string(),
                    "signed with the demo's key"
                );
            }
            "html" => {
                for (key, title) in SECTIONS {
                    assert!(
                        text.contains(&format!("id=\"{key}\"")) && text.contains(title),
                        "HTML report has {title}"
                    );
                }
                assert!(text.contains("<svg") && text.contains("@media print"));
                assert!(!text.contains("<script"));
            }
            _ => {
                for (i, (_, title)) in SECTIONS.iter().enumerate() {
                    let heading = format!("## {}. {title}", i + 1);
                    assert!(text.contains(&heading), "Markdown report has {heading}");
                }
            }
        }
    }

    // Offline: the export verifies with the public key file, and an edited
    // export fails with the first bad sequence number and exit code 5.
    let export = data.path().join("us-audit.jsonl");
    let (code, out, err) = audit(
        data.path(),
        &[
            "export",
            "--region",
            "us",
            "--out",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "export: {out}\n{err}");
    let public = data.path().join("keys/us.ed25519.pub");
    let verify_file = |file: &Path| {
        audit(
            data.path(),
            &[
                "verify",
                "--file",
                file.to_str().unwrap(),
                "--public-key",
                public.to_str().unwrap(),
            ],
        )
    };
    let (code, out, err) = verify_file(&export);
    assert_eq!(code, 0, "offline verify: {out}\n{err}");
    let text = std::fs::read_to_string(&export).unwrap();
    let edited = data.path().join("edited.jsonl");
    std::fs::write(
        &edited,
        // The first record, the region's `config_load`.
        text.replacen("\"actor\":\"runtime\"", "\"actor\":\"intruder\"", 1),
    )
    .unwrap();
    let (code, out, err) = verify_file(&edited);
    assert_eq!(code, 5, "an edited export fails: {out}\n{err}");
    assert!(err.contains("first bad sequence number: 1"), "{err}");
    assert!(out.contains("FAIL seq 1 (edited)"), "{out}");

    // A new key does not verify the old checkpoints: online verification fails.
    let (code, _, err) = audit(data.path(), &["keygen", "--region", "us"]);
    assert_eq!(code, 4, "keygen refuses to replace a key: {err}");
    let (code, out, err) = audit(data.path(), &["keygen", "--region", "us", "--force"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("fingerprint: SHA256:"), "{out}");
    let (code, out, err) = audit(data.path(), &["verify", "--region", "us"]);
    assert_eq!(code, 5, "{out}\n{err}");
    assert!(out.contains("(forged_checkpoint)"), "{out}");
}
