//! The compliance report, built from a real chain and store.

use std::path::{Path, PathBuf};

use chrono::{Days, Utc};
use meridian_audit::report::{AuditReport, ReportRequest, SECTIONS, build_report};
use meridian_audit::{AuditEvent, AuditLog, Decision, Effect, ModelRef};
use meridian_config::RegionConfig;
use meridian_core::{DataClass, Jurisdiction, RegionId, SubscriberEmail};
use meridian_store::SubscriberStatus;

use crate::{audit_test, schema, signed_log};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn us_config() -> RegionConfig {
    let data = tempfile::tempdir().unwrap();
    meridian_config::load_region(
        &repo().join("regions"),
        data.path(),
        &RegionId::parse("us").unwrap(),
    )
    .unwrap()
}

async fn report_of(log: &AuditLog, config: &RegionConfig) -> AuditReport {
    let today = Utc::now().with_timezone(&config.timezone).date_naive();
    let request = ReportRequest {
        config,
        policies_dir: &repo().join("policies"),
        from: today - Days::new(1),
        to: today + Days::new(1),
        trusted_key: None,
    };
    build_report(log, &request).await.unwrap()
}

fn schema_errors(report: &AuditReport) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/audit-report.schema.json")).unwrap(),
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    schema::validate(&schema, &json)
}

fn assert_every_section(report: &AuditReport) {
    let html = report.to_html().unwrap();
    let md = report.to_markdown().unwrap();
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    for (key, title) in SECTIONS {
        assert!(json.get(key).is_some(), "JSON has section `{key}`");
        let html_title = title.replace('&', "&amp;");
        assert!(
            html.contains(&format!("id=\"{key}\"")) && html.contains(&html_title),
            "HTML has section {title}"
        );
        assert!(
            md.contains(&format!(". {title}")),
            "Markdown has section {title}"
        );
    }
    // Printable and self-contained: print CSS, no scripts, nothing fetched.
    assert!(html.contains("@media print"));
    assert!(!html.to_lowercase().contains("<script"), "no JavaScript");
    assert!(
        !html.contains(" src=") && !html.contains("<link"),
        "no external assets"
    );
}

audit_test!(a_report_of_a_busy_period_has_every_figure, |db| {
    let config = us_config();
    let store = db.store().await;
    let now = Utc::now().timestamp();
    store
        .add_feed("https://pod.example/feed.xml", Some("Pod"), "cli", now)
        .await
        .unwrap();
    let ada = SubscriberEmail::parse("ada@example.org").unwrap();
    store
        .add_subscriber(&ada, SubscriberStatus::Confirmed, None, "cli", now)
        .await
        .unwrap();
    let (log, public) = signed_log(store).await;
    let ada_hash = log.keyed_hash(ada.as_str());
    let grace_hash = log.keyed_hash("grace@example.org");

    log.record(AuditEvent::config_load("cli", "c0ffee", "beef"))
        .await
        .unwrap();
    let model = ModelRef {
        name: "builtin".into(),
        provider: Some("builtin".into()),
        digest: None,
    };
    log.record(
        AuditEvent::model_call("pipeline", model, Jurisdiction::parse("US").unwrap(), "ok")
            .with_data_class(DataClass::Public),
    )
    .await
    .unwrap();
    log.record(AuditEvent::policy_decision(
        "pipeline",
        "qwen-cn",
        Decision {
            action: "call_model".into(),
            effect: Effect::Deny,
            policies: vec!["global-no-foreign-models".into()],
            reason: Some("model hosted in CN <script>alert(1)</script> | not US".into()),
        },
    ))
    .await
    .unwrap();
    log.record(AuditEvent::policy_decision(
        "pipeline",
        "builtin",
        Decision {
            action: "call_model".into(),
            effect: Effect::Allow,
            policies: vec!["us-models".into()],
            reason: None,
        },
    ))
    .await
    .unwrap();
    log.record(AuditEvent::http_request(
        "pipeline",
        "podcasts.example.com",
        "ok",
    ))
    .await
    .unwrap();
    log.record(AuditEvent::http_request(
        "pipeline",
        "podcasts.example.com",
        "error",
    ))
    .await
    .unwrap();
    log.record(AuditEvent::email_send("delivery", &ada_hash, "sent", true))
        .await
        .unwrap();
    // A send through a relay in Germany: a transfer of one person's address out of the US.
    log.record(
        AuditEvent::email_send("delivery", &grace_hash, "sent", false)
            .with_jurisdiction(Jurisdiction::parse("DE").unwrap()),
    )
    .await
    .unwrap();
    log.record(AuditEvent::subscription_change(
        "server",
        &ada_hash,
        "confirmed",
    ))
    .await
    .unwrap();
    log.record(AuditEvent::erasure("cli", &grace_hash, 3))
        .await
        .unwrap();
    log.record(AuditEvent::retention("maintain", "transcripts", 7))
        .await
        .unwrap();
    log.checkpoint().await.unwrap().unwrap();

    let report = report_of(&log, &config).await;
    let errors = schema_errors(&report);
    assert!(
        errors.is_empty(),
        "the JSON follows docs/audit-report.schema.json: {errors:#?}"
    );
    assert_every_section(&report);

    assert_eq!(report.identity.region, "us");
    assert_eq!(report.identity.config_hash.len(), 64);
    assert_eq!(report.identity.key_fingerprint, Some(public.fingerprint()));
    let feeds = report
        .data_inventory
        .items
        .iter()
        .find(|i| i.category == "feeds")
        .unwrap();
    assert_eq!((feeds.total, feeds.in_period), (1, 1));
    assert_eq!(report.data_inventory.retention_removed[0].count, 7);
    assert!(
        report
            .models
            .models
            .iter()
            .any(|m| m.name == "gpt-4o-mini" && m.hosted_in == "US" && m.in_jurisdiction)
    );
    let builtin = report
        .models
        .models
        .iter()
        .find(|m| m.name == "builtin")
        .unwrap();
    assert_eq!(
        (builtin.recorded_calls, report.models.recorded_calls),
        (1, 1),
        "the audited model call is counted"
    );
    assert_eq!(
        (
            report.policy_decisions.allowed,
            report.policy_decisions.denied
        ),
        (1, 1)
    );
    assert_eq!(
        report.policy_decisions.denials[0].resource.as_deref(),
        Some("qwen-cn")
    );
    assert!(
        report
            .policy_decisions
            .by_rule
            .iter()
            .any(|r| r.policy == "global-no-foreign-models" && r.denied == 1)
    );
    let host = &report.egress.hosts[0];
    assert_eq!(
        (
            host.host.as_str(),
            host.requests,
            host.failed,
            host.allowed_by.as_deref()
        ),
        ("podcasts.example.com", 2, 1, Some("*"))
    );
    assert_eq!(report.egress.outside_allow_list, 0);
    assert_eq!(
        (
            report.cross_border.transfers,
            report.cross_border.personal_transfers,
            report.cross_border.unique_individuals
        ),
        (1, 1, 1)
    );
    assert_eq!(report.cross_border.destinations[0].name, "DE");
    assert!(
        report.cross_border.thresholds.iter().all(|t| !t.applies),
        "neither PIPL nor GDPR governs `us`"
    );
    assert_eq!(
        (
            report.ai_label.emails_sent,
            report.ai_label.labelled,
            report.ai_label.coverage
        ),
        (2, 1, Some(0.5))
    );
    assert_eq!(
        (report.subscribers.erasures, report.subscribers.confirmed),
        (1, 1)
    );
    assert_eq!(report.integrity.verification.status, "intact");
    assert_eq!(
        (
            report.integrity.chain_length,
            report.integrity.checkpoints,
            report.integrity.records_in_period
        ),
        (12, 1, 12)
    );
    assert!(
        report.attestation_verifies(&public),
        "the report is signed with the region's key"
    );

    // Data from records is escaped in both renderings.
    let html = report.to_html().unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "HTML escapes record data"
    );
    assert!(html.contains("<svg"), "charts are inline SVG");
    let md = report.to_markdown().unwrap();
    assert!(
        md.contains("&lt;script&gt;alert(1)&lt;/script&gt; \\| not US"),
        "Markdown escapes record data:\n{md}"
    );
    log.store().close().await;
});

audit_test!(
    a_report_of_a_region_that_recorded_nothing_shows_zeros,
    |db| {
        let config = us_config();
        let log = AuditLog::open(db.store().await, None).await.unwrap();
        let report = report_of(&log, &config).await;
        assert!(
            schema_errors(&report).is_empty(),
            "{:#?}",
            schema_errors(&report)
        );
        assert_every_section(&report);
        assert_eq!(
            (
                report.integrity.chain_length,
                report.policy_decisions.total,
                report.cross_border.transfers
            ),
            (0, 0, 0)
        );
        assert_eq!(report.ai_label.coverage, None);
        assert_eq!(report.integrity.verification.status, "intact");
        assert!(report.attestation.is_none());
        assert!(report.to_html().unwrap().contains("no data in this period"));
        log.store().close().await;
    }
);
