//! A daily run's audit trail: intact, checkpointed, and free of addresses.

use meridian_runtime::RunOptions;

use crate::helpers::{export_text, of_kind, records};
use crate::support::{FeedServer, add_sample_feeds, region};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_run_the_chain_is_intact_signed_and_holds_no_address() {
    let feeds = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
id = "eu"
jurisdiction = "EU"
locale = "de-DE"
timezone = "Europe/Berlin"

[storage]
url = "sqlite://{{data_dir}}/eu.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[egress]
allow = ["{feed_host}"]

[mail]
from = "Meridian Digest <digest@eu.meridian.example.com>"
ai_label = "KI-generiert."

[subscribers]
seed = ["ada@eu.example.com", "grace@eu.example.com"]
"#,
        feed_host = feeds.host(),
    );
    let eu = region(dir.path(), &dir.path().join("data"), "eu", &toml).await;
    add_sample_feeds(&eu, &feeds).await;
    let mut options = RunOptions::today(&eu);
    options.import_opml = false;
    options.force_refresh = true;
    let report = eu.run_daily(&options, &|_: &str| ()).await.unwrap();
    assert_eq!(report.delivery.get("sent"), 2, "{report:?}");

    let verified = eu.audit().verify(None).await.unwrap();
    assert!(verified.is_intact(), "{verified:?}");
    assert!(verified.checkpoints >= 1, "the run ends with a checkpoint");
    assert_eq!(verified.checkpoints_verified, verified.checkpoints);
    assert_eq!(
        verified.unsigned_tail, None,
        "every record of the run is covered by its checkpoint"
    );

    let records = records(&eu).await;
    for kind in ["config_load", "run_start", "run_end", "checkpoint"] {
        assert!(!of_kind(&records, kind).is_empty(), "no `{kind}` record");
    }
    let sends = of_kind(&records, "email_send");
    assert_eq!(sends.len(), 2, "{sends:#?}");
    for s in &sends {
        assert!(
            s["subject"].as_str().unwrap().starts_with("hmac-sha256:"),
            "{s}"
        );
        assert_eq!(s["outcome"], "sent");
    }
    assert!(
        of_kind(&records, "policy_decision")
            .iter()
            .any(|d| d["decision"]["action"] == "send_email" && d["decision"]["effect"] == "allow"),
        "each email was decided before it was sent"
    );
    let text = export_text(&eu).await;
    assert!(
        !text.contains('@'),
        "no email address (nor anything with an `@`) in the export"
    );
    eu.shutdown().await;
}
