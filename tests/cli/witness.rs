//! The audit chain witnessed outside the database, with the real binary:
//! signed checkpoints written to `audit.witness_dir` and published at
//! `GET /audit/checkpoint` by `meridian serve`; `audit verify` failing on a
//! wiped or truncated chain, alone and `--against` a witness (file,
//! directory, URL).

use std::path::Path;
use std::process::Stdio;

use crate::workers::{DATE, copy_dir};
use crate::{http_get as get, meridian, repo, run, spawn_serve, terminate};

/// A config folder with region `us`: no feeds, the builtin engine, the
/// outbox, witness files under `{data_dir}/witness`.
fn write_region(root: &Path) -> std::path::PathBuf {
    copy_dir(&repo().join("policies"), &root.join("policies"));
    let dir = root.join("regions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("us.toml"),
        r#"id = "us"
name = "Witness test"
jurisdiction = "US"
locale = "en-US"
timezone = "UTC"

[storage]
url = "sqlite://{data_dir}/us.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[mail]
from = "Meridian Digest <digest@us.example.com>"
ai_label = "AI-generated."

[subscribers]
seed = ["ada@us.example.com"]

[audit]
witness_dir = "{data_dir}/witness"
"#,
    )
    .unwrap();
    dir
}

fn cmd(config: &Path, data: &Path, args: &[&str]) -> (i32, String, String) {
    run(meridian()
        .arg("--config-dir")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(args))
}

fn verify(config: &Path, data: &Path, against: Option<&str>) -> (i32, String, String) {
    let mut args = vec!["audit", "verify", "--region", "us"];
    if let Some(a) = against {
        args.extend(["--against", a]);
    }
    cmd(config, data, &args)
}

async fn db(data: &Path) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&format!("sqlite://{}/us.db", data.display()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_or_truncated_chain_fails_verification_alone_and_against_its_witness() {
    let root = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = write_region(root.path());
    let (c, d) = (config.as_path(), data.path());
    let witness = d.join("witness");

    let (code, out, err) = cmd(c, d, &["audit", "keygen", "--region", "us"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = cmd(c, d, &["run", "--region", "us", "--date", DATE]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = cmd(c, d, &["audit", "checkpoint", "--region", "us"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("witness: "), "{out}");
    // Every checkpoint has its own file; the latest is repeated.
    let files: Vec<String> = std::fs::read_dir(&witness)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.contains(&"us-checkpoint-latest.json".to_owned()),
        "{files:?}"
    );
    let numbered = files.iter().filter(|f| !f.contains("latest")).count();
    assert!(numbered >= 2, "the history is kept: {files:?}");
    let (code, out, err) = verify(c, d, Some(witness.to_str().unwrap()));
    assert_eq!(
        code, 0,
        "intact against its witness directory: {out}\n{err}"
    );

    // `meridian serve` publishes the latest checkpoint; verifying against
    // its URL works.
    let (mut child, _stdout, addr) = spawn_serve(c, d, Stdio::null());
    let published = get(addr, "/audit/checkpoint");
    assert!(published.starts_with("HTTP/1.1 200"), "{published}");
    for member in ["\"records\"", "\"head_hash\"", "\"signature\"", "\"body\""] {
        assert!(published.contains(member), "{member} in {published}");
    }
    let url = format!("http://{addr}/audit/checkpoint");
    let (code, out, err) = verify(c, d, Some(&url));
    assert_eq!(
        code, 0,
        "intact against the served checkpoint: {out}\n{err}"
    );
    let spec = get(addr, "/api/v1/openapi.json");
    assert!(
        spec.contains("/audit/checkpoint"),
        "documented in the OpenAPI document"
    );
    assert!(
        terminate(&mut child).success(),
        "`meridian serve` stops on SIGTERM"
    );

    // A copy of the latest witnessed checkpoint, kept by an auditor.
    let saved = root.path().join("saved-checkpoint.json");
    std::fs::copy(witness.join("us-checkpoint-latest.json"), &saved).unwrap();
    let (code, out, err) = verify(c, d, Some(saved.to_str().unwrap()));
    assert_eq!(code, 0, "{out}\n{err}");

    // Truncation: the last checkpoint and every record after the previous
    // one deleted. The chain left is consistent and signed up to there.
    let pool = db(d).await;
    let rows =
        sqlx::query("SELECT number, seq FROM audit_checkpoints ORDER BY number DESC LIMIT 2")
            .fetch_all(&pool)
            .await
            .unwrap();
    use sqlx::Row as _;
    let last: i64 = rows[0].get("number");
    let previous_seq: i64 = rows[1].get("seq");
    sqlx::query("DELETE FROM audit_checkpoints WHERE number = $1")
        .bind(last)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq > $1")
        .bind(previous_seq)
        .execute(&pool)
        .await
        .unwrap();
    let (code, out, err) = verify(c, d, None);
    assert_eq!(code, 5, "truncated: {out}\n{err}");
    assert!(
        out.contains("deleted from the end"),
        "the writer's high-water mark: {out}"
    );
    let (code, out, err) = verify(c, d, Some(saved.to_str().unwrap()));
    assert_eq!(
        code, 5,
        "truncated, against the saved checkpoint: {out}\n{err}"
    );
    assert!(out.contains("shorter than witnessed"), "{out}");

    // Wiped: every record and checkpoint gone, and the writer's counters
    // reset too. The runs still say records existed; the witness still has
    // every checkpoint.
    sqlx::query("DELETE FROM audit_log")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_checkpoints")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_writer SET appends = 0, head_seq = 0")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (code, out, err) = verify(c, d, None);
    assert_eq!(code, 5, "wiped: {out}\n{err}");
    assert!(out.contains("the log was wiped"), "{out}");
    let (code, out, err) = verify(c, d, Some(witness.to_str().unwrap()));
    assert_eq!(
        code, 5,
        "wiped, against the witness directory: {out}\n{err}"
    );
    assert!(out.contains("shorter than witnessed"), "{out}");
}
