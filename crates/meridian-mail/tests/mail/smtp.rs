//! A minimal SMTP server (greeting, EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
//! on a loopback port: enough to see lettre's real client speak to it, and to
//! make the server answer RCPT with a chosen reply.

use std::sync::{Arc, Mutex};

use meridian_mail::{MailError, Mailer, SmtpFailure, TransportKind};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::sample_email;

/// What the server saw: commands, and each message's DATA.
#[derive(Default)]
struct Seen {
    commands: Vec<String>,
    messages: Vec<String>,
}

/// Starts the server; `rcpt_reply` is its answer to `RCPT TO`. The task ends
/// with the test's runtime.
async fn spawn_smtp_sink(rcpt_reply: &'static str) -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = Arc::clone(&seen);
    #[expect(
        clippy::disallowed_methods,
        reason = "a test server that lives as long as the test"
    )]
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&shared);
            #[expect(
                clippy::disallowed_methods,
                reason = "a test server that lives as long as the test"
            )]
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink.test ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    seen.lock().unwrap().commands.push(line.clone());
                    let verb = line
                        .split([' ', ':'])
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &str = match verb.as_str() {
                        "EHLO" | "HELO" => "250 sink.test\r\n",
                        "RCPT" => rcpt_reply,
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push_str("\r\n");
                            }
                            seen.lock().unwrap().messages.push(data);
                            "250 2.0.0 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        "MAIL" | "RSET" | "NOOP" => "250 ok\r\n",
                        _ => "502 not implemented\r\n",
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn smtp_delivers_to_a_loopback_server() {
    let (port, seen) = spawn_smtp_sink("250 ok\r\n").await;
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        None,
        std::path::Path::new("/unused"),
    )
    .unwrap();
    assert_eq!(mailer.describe(), format!("smtp://127.0.0.1:{port}"));
    let email = sample_email();

    let receipt = mailer.send(&email).await.unwrap();
    assert_eq!(receipt.transport, TransportKind::Smtp);
    assert_eq!(receipt.message_id, email.message_id);
    assert_eq!(receipt.outbox_file, None);
    // lettre returns a connection to the pool from a spawned task; let it
    // run (this test's runtime is single-threaded), then the second email
    // goes over the same connection, checked with a NOOP first.
    tokio::task::yield_now().await;
    mailer.send(&email).await.unwrap();
    mailer.shutdown().await;

    let seen = seen.lock().unwrap();
    assert!(
        seen.commands
            .iter()
            .any(|c| c == "MAIL FROM:<digest@cn.example.com>"),
        "{:?}",
        seen.commands
    );
    assert!(
        seen.commands
            .iter()
            .any(|c| c == "RCPT TO:<li.lei@example.cn>"),
        "{:?}",
        seen.commands
    );
    assert_eq!(
        seen.commands
            .iter()
            .filter(|c| c.starts_with("EHLO"))
            .count(),
        1,
        "one pooled connection: {:?}",
        seen.commands
    );
    assert!(
        seen.commands.iter().any(|c| c == "NOOP"),
        "reuse is checked: {:?}",
        seen.commands
    );
    assert_eq!(seen.messages.len(), 2);
    let parsed = mailparse::parse_mail(seen.messages[0].as_bytes()).unwrap();
    use mailparse::MailHeaderMap;
    assert_eq!(
        parsed.headers.get_first_value("Subject").as_deref(),
        Some(email.subject.as_str())
    );
    assert_eq!(
        parsed.headers.get_first_value("Message-ID").as_deref(),
        Some(email.message_id.as_str())
    );
    assert_eq!(parsed.subparts.len(), 2);
}

#[tokio::test]
async fn smtp_rejections_are_classified_and_redacted() {
    for (reply, retryable) in [
        (
            "550 5.1.1 <li.lei@example.cn>: Recipient address rejected\r\n",
            false,
        ),
        (
            "451 4.7.1 <li.lei@example.cn>: greylisted, try later\r\n",
            true,
        ),
    ] {
        let (port, _) = spawn_smtp_sink(reply).await;
        let mailer = Mailer::new(
            &format!("smtp://localhost:{port}"),
            None,
            std::path::Path::new("/unused"),
        )
        .unwrap();
        let err = mailer.send(&sample_email()).await.unwrap_err();
        let MailError::Smtp {
            kind,
            relay,
            domain,
            ..
        } = &err
        else {
            panic!("{reply}: not an SMTP error: {err}")
        };
        assert_eq!(err.is_retryable(), retryable, "{reply}: {err}");
        if retryable {
            assert!(
                matches!(kind, SmtpFailure::Transient(code) if code == "451"),
                "{kind:?}"
            );
        } else {
            assert!(
                matches!(kind, SmtpFailure::Permanent(code) if code == "550"),
                "{kind:?}"
            );
        }
        assert_eq!(relay, &format!("localhost:{port}"));
        assert_eq!(domain, "example.cn");
        let msg = err.to_string();
        assert!(!msg.contains("li.lei"), "{msg}");
        assert!(
            msg.contains("***@example.cn"),
            "server reply kept, address redacted: {msg}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_relay_is_a_retryable_connection_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        None,
        std::path::Path::new("/unused"),
    )
    .unwrap();
    let err = mailer.send(&sample_email()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            MailError::Smtp {
                kind: SmtpFailure::Connection,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
