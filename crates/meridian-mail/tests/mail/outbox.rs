use mailparse::MailHeaderMap;
use meridian_mail::{Mailer, TransportKind};

use crate::sample_email;

#[tokio::test]
async fn outbox_writes_a_parseable_eml_with_both_parts() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let mailer = Mailer::new("", None, &outbox).unwrap();
    let email = sample_email();

    let receipt = mailer.send(&email).await.unwrap();
    assert_eq!(receipt.transport, TransportKind::Outbox);
    assert_eq!(receipt.message_id, email.message_id);
    let file = receipt.outbox_file.expect("outbox file path");
    assert_eq!(file.parent(), Some(outbox.as_path()));
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("eml"));

    let raw = std::fs::read(&file).unwrap();
    let parsed = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(
        parsed.headers.get_first_value("Subject").as_deref(),
        Some(email.subject.as_str())
    );
    assert_eq!(
        parsed.headers.get_first_value("Message-ID").as_deref(),
        Some(email.message_id.as_str())
    );
    assert_eq!(
        parsed.headers.get_first_value("To").as_deref(),
        Some("li.lei@example.cn")
    );
    assert_eq!(
        parsed.headers.get_first_value("X-AI-Generated").as_deref(),
        Some("true")
    );
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    let parts: Vec<(String, String)> = parsed
        .subparts
        .iter()
        .map(|p| (p.ctype.mimetype.clone(), p.get_body().unwrap()))
        .collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].0, "text/plain");
    assert!(
        parts[0].1.contains("1. 洞见一"),
        "text part: {}",
        parts[0].1
    );
    assert_eq!(parts[1].0, "text/html");
    assert!(
        parts[1].1.contains("<li>洞见一</li>"),
        "html part: {}",
        parts[1].1
    );

    // The same email sent again (a resumed run) replaces its file: the outbox
    // holds it once. Another email is another file.
    let again = mailer.send(&email).await.unwrap();
    assert_eq!(again.outbox_file.unwrap(), file);
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1);
    let mut other = email.clone();
    other.message_id = "<another@meridian.test>".to_owned();
    let third = mailer.send(&other).await.unwrap();
    assert_ne!(third.outbox_file.unwrap(), file);
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 2);
}

#[tokio::test]
async fn an_unwritable_outbox_fails_retryably_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let mailer = Mailer::new("", None, &outbox).unwrap();
    // The folder disappears after set-up (someone cleaned the data dir).
    std::fs::remove_dir(&outbox).unwrap();
    let err = mailer.send(&sample_email()).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&outbox.display().to_string()) && msg.contains("example.cn"),
        "{msg}"
    );
    assert!(!msg.contains("li.lei"), "no local part in errors: {msg}");
}
