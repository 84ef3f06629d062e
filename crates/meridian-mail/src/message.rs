use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use meridian_core::{ContentHash, SubscriberEmail};

use crate::MailError;

/// One email ready to be built and sent: addressing, content and headers.
#[derive(Clone)]
pub struct OutgoingEmail {
    /// The sender mailbox, e.g. `Meridian <digest@us.example>`.
    pub from: String,
    /// Where replies go, when not to `from`.
    pub reply_to: Option<String>,
    /// The recipient (personal data).
    pub to: SubscriberEmail,
    /// The subject line; any script (it is RFC 2047-encoded when not ASCII).
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The plain-text part.
    pub text: String,
    /// A deterministic `Message-ID`, `<…@…>`, so that a resent email is
    /// recognisably the same one; see [`message_id`].
    pub message_id: String,
    /// Extra headers, e.g. the AI-generated-content marker. Names must be
    /// ASCII header names and may not replace the headers set here.
    pub headers: Vec<(String, String)>,
    /// The one-click unsubscribe target, for `List-Unsubscribe`.
    pub list_unsubscribe: Option<ListUnsubscribe>,
}

impl std::fmt::Debug for OutgoingEmail {
    // Hand-written so that the bodies (long) stay out of debug output; the
    // recipient's own `Debug` already hides the local part.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("message_id", &self.message_id)
            .field("html_bytes", &self.html.len())
            .field("text_bytes", &self.text.len())
            .field("headers", &self.headers)
            .field("list_unsubscribe", &self.list_unsubscribe)
            .finish_non_exhaustive()
    }
}

/// The targets of a `List-Unsubscribe` header (RFC 2369, RFC 8058).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribe {
    /// The one-click URL, which receives `POST List-Unsubscribe=One-Click`.
    /// `https://` gets the `List-Unsubscribe-Post` header; plain `http://`
    /// is accepted (the loopback demo) but, as RFC 8058 requires, without it.
    pub https: String,
    /// An optional `mailto:` alternative.
    pub mailto: Option<String>,
}

/// Headers this crate sets itself; an extra header may not replace them.
const RESERVED_HEADERS: [&str; 14] = [
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "sender",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
    "list-unsubscribe-post",
];

/// A deterministic `Message-ID`: `<{kind}.{key hex}@{domain}>`.
///
/// The same digest sent to the same subscriber twice (a resumed run) gets the
/// same id, so receiving servers and clients can drop the duplicate. `kind`
/// (e.g. `digest-2026-11-27`) and `domain` are reduced to characters that are
/// valid there (letters, digits, `.`, `-`, `_`); others become `-`.
#[must_use]
pub fn message_id(kind: &str, key: &ContentHash, domain: &str) -> String {
    let clean = |s: &str, fallback: &str| {
        let s: String = s
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let s = s.trim_matches('.').to_owned();
        if s.is_empty() { fallback.to_owned() } else { s }
    };
    format!(
        "<{}.{}@{}>",
        clean(kind, "meridian"),
        key.to_hex(),
        clean(&domain.to_ascii_lowercase(), "meridian.invalid")
    )
}

/// Builds the MIME message: `multipart/alternative` with a UTF-8 text part
/// then an HTML part (clients show the last part they can render), `From`,
/// `Reply-To`, `To`, `Subject`, `Date`, the given `Message-ID`,
/// `List-Unsubscribe` (+ `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
/// for HTTPS) and the extra headers.
///
/// # Errors
/// [`MailError::InvalidSender`], [`MailError::InvalidRecipient`],
/// [`MailError::InvalidHeader`] or [`MailError::Build`] naming what is wrong.
pub fn build_message(email: &OutgoingEmail) -> Result<Message, MailError> {
    let domain = email.to.domain().to_owned();
    let from = parse_sender("from", &email.from)?;
    let to: Mailbox = email
        .to
        .as_str()
        .parse()
        .map_err(
            |e: lettre::address::AddressError| MailError::InvalidRecipient {
                domain: domain.clone(),
                reason: e.to_string(),
            },
        )?;
    check_message_id(&email.message_id)?;

    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(one_line(&email.subject))
        .date(SystemTime::now())
        .message_id(Some(email.message_id.clone()));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(parse_sender("reply_to", reply_to)?);
    }
    if let Some(unsub) = &email.list_unsubscribe {
        let (value, one_click) = list_unsubscribe_value(unsub)?;
        builder = builder.raw_header(raw_header("List-Unsubscribe", value)?);
        if one_click {
            builder = builder.raw_header(raw_header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            )?);
        }
    }
    for (name, value) in &email.headers {
        if RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name.trim()))
        {
            return Err(MailError::InvalidHeader {
                name: name.clone(),
                reason: "it is set by the mailer itself and may not be replaced",
            });
        }
        builder = builder.raw_header(raw_header(name, value.clone())?);
    }

    builder
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| MailError::Build {
            domain,
            reason: e.to_string(),
        })
}

fn parse_sender(field: &'static str, value: &str) -> Result<Mailbox, MailError> {
    value.trim().parse().map_err(
        |e: lettre::address::AddressError| MailError::InvalidSender {
            field,
            value: value.to_owned(),
            reason: e.to_string(),
        },
    )
}

/// Subjects come from templates; a stray newline would end the header.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_message_id(id: &str) -> Result<(), MailError> {
    let ok = id.len() <= 250
        && id.starts_with('<')
        && id.ends_with('>')
        && id.contains('@')
        && id.chars().all(|c| c.is_ascii_graphic())
        && id[1..id.len() - 1].chars().all(|c| c != '<' && c != '>');
    if ok {
        Ok(())
    } else {
        Err(MailError::InvalidHeader {
            name: "Message-ID".to_owned(),
            reason: "it must look like `<left@right>`, printable ASCII without spaces",
        })
    }
}

fn list_unsubscribe_value(unsub: &ListUnsubscribe) -> Result<(String, bool), MailError> {
    let bad = |reason| MailError::InvalidHeader {
        name: "List-Unsubscribe".to_owned(),
        reason,
    };
    let url = unsub.https.trim();
    let lower = url.to_ascii_lowercase();
    let one_click = lower.starts_with("https://");
    if !(one_click || lower.starts_with("http://")) {
        return Err(bad(
            "the unsubscribe URL must be `https://…` (or `http://…` for a loopback demo)",
        ));
    }
    let clean = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>' && c != ',')
    };
    if !clean(url) {
        return Err(bad(
            "the unsubscribe URL must be printable ASCII without `<`, `>` or `,`",
        ));
    }
    let mut value = format!("<{url}>");
    if let Some(mailto) = &unsub.mailto {
        let mailto = mailto.trim();
        if !mailto.to_ascii_lowercase().starts_with("mailto:") || !clean(mailto) {
            return Err(bad(
                "the unsubscribe address must be a printable-ASCII `mailto:` URL",
            ));
        }
        value.push_str(", <");
        value.push_str(mailto);
        value.push('>');
    }
    Ok((value, one_click))
}

fn raw_header(name: &str, value: String) -> Result<HeaderValue, MailError> {
    let header_name = HeaderName::new_from_ascii(name.trim().to_owned()).map_err(|_| {
        MailError::InvalidHeader {
            name: name.to_owned(),
            reason: "a header name is 1-76 printable ASCII characters without `:` or spaces",
        }
    })?;
    if value.chars().any(|c| c == '\r' || c == '\n') {
        // HeaderValue folds lines itself; a line break in the value could
        // start a forged header.
        return Err(MailError::InvalidHeader {
            name: name.to_owned(),
            reason: "its value contains a line break",
        });
    }
    Ok(HeaderValue::new(header_name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> OutgoingEmail {
        OutgoingEmail {
            from: "Meridian <digest@us.example>".to_owned(),
            reply_to: Some("Meridian Support <help@us.example>".to_owned()),
            to: SubscriberEmail::parse("ada@example.org").unwrap(),
            subject: "Your top 5 podcast insights — Friday, 27 November 2026".to_owned(),
            html: "<p>Insight <b>one</b> — résumé</p>".to_owned(),
            text: "1. Insight one — résumé".to_owned(),
            message_id: message_id("digest-2026-11-27", &ContentHash::of("k"), "meridian.us"),
            headers: vec![(
                "X-AI-Generated".to_owned(),
                "true; label=\"AI-generated content\"".to_owned(),
            )],
            list_unsubscribe: Some(ListUnsubscribe {
                https: "https://us.example/unsubscribe?t=abc".to_owned(),
                mailto: Some("mailto:unsubscribe@us.example?subject=unsubscribe".to_owned()),
            }),
        }
    }

    fn formatted(email: &OutgoingEmail) -> String {
        String::from_utf8(build_message(email).unwrap().formatted()).unwrap()
    }

    #[test]
    fn message_has_both_parts_and_all_headers() {
        let raw = formatted(&sample());
        let parsed = mailparse::parse_mail(raw.as_bytes()).unwrap();
        assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
        let types: Vec<_> = parsed
            .subparts
            .iter()
            .map(|p| p.ctype.mimetype.clone())
            .collect();
        assert_eq!(types, ["text/plain", "text/html"], "text first, HTML last");
        for part in &parsed.subparts {
            assert_eq!(part.ctype.charset.to_ascii_lowercase(), "utf-8");
        }
        assert_eq!(
            parsed.subparts[0].get_body().unwrap().trim_end(),
            "1. Insight one — résumé"
        );
        assert!(
            parsed.subparts[1]
                .get_body()
                .unwrap()
                .contains("<p>Insight <b>one</b> — résumé</p>")
        );

        let header = |name: &str| {
            use mailparse::MailHeaderMap;
            parsed
                .headers
                .get_first_value(name)
                .unwrap_or_else(|| panic!("header {name} missing in:\n{raw}"))
        };
        assert_eq!(header("Message-ID"), sample().message_id);
        assert_eq!(header("From"), "Meridian <digest@us.example>");
        // lettre quotes a display name with a space; both forms are valid.
        assert_eq!(header("Reply-To"), "\"Meridian Support\" <help@us.example>");
        assert_eq!(header("To"), "ada@example.org");
        assert!(!header("Date").is_empty());
        assert_eq!(header("MIME-Version"), "1.0");
        assert_eq!(
            header("List-Unsubscribe"),
            "<https://us.example/unsubscribe?t=abc>, <mailto:unsubscribe@us.example?subject=unsubscribe>"
        );
        assert_eq!(
            header("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        assert_eq!(
            header("X-AI-Generated"),
            "true; label=\"AI-generated content\""
        );
    }

    #[test]
    fn message_ids_are_deterministic_and_well_formed() {
        let key = ContentHash::of("digest+subscriber");
        let a = message_id("digest-2026-11-27", &key, "meridian.us");
        assert_eq!(a, message_id("digest-2026-11-27", &key, "meridian.us"));
        assert_eq!(
            a,
            format!("<digest-2026-11-27.{}@meridian.us>", key.to_hex())
        );
        assert_ne!(
            a,
            message_id(
                "digest-2026-11-27",
                &ContentHash::of("other"),
                "meridian.us"
            )
        );
        assert_eq!(
            message_id("a b<c>", &key, " Ex@mple.COM "),
            format!("<a-b-c-.{}@ex-mple.com>", key.to_hex())
        );
        check_message_id(&a).unwrap();
        // Building twice gives the same Message-ID header.
        let once = build_message(&sample()).unwrap();
        let twice = build_message(&sample()).unwrap();
        assert_eq!(
            once.headers().get_raw("Message-ID"),
            twice.headers().get_raw("Message-ID")
        );
    }

    #[test]
    fn chinese_subject_is_encoded_and_decodes_back() {
        let mut email = sample();
        email.subject = "今日播客五大洞见 — 2026年11月27日 星期五".to_owned();
        let raw = formatted(&email);
        let (head, _) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.is_ascii(), "headers are 7-bit after encoding:\n{head}");
        assert!(
            head.to_ascii_lowercase().contains("subject: =?utf-8?"),
            "RFC 2047 encoded word:\n{head}"
        );
        let parsed = mailparse::parse_mail(raw.as_bytes()).unwrap();
        use mailparse::MailHeaderMap;
        assert_eq!(
            parsed.headers.get_first_value("Subject").unwrap(),
            email.subject
        );
    }

    #[test]
    fn plain_http_unsubscribe_has_no_one_click_header() {
        let mut email = sample();
        email.list_unsubscribe = Some(ListUnsubscribe {
            https: "http://127.0.0.1:8080/u?t=1".to_owned(),
            mailto: None,
        });
        let msg = build_message(&email).unwrap();
        assert_eq!(
            msg.headers().get_raw("List-Unsubscribe"),
            Some("<http://127.0.0.1:8080/u?t=1>")
        );
        assert_eq!(msg.headers().get_raw("List-Unsubscribe-Post"), None);
        email.list_unsubscribe = None;
        let msg = build_message(&email).unwrap();
        assert_eq!(msg.headers().get_raw("List-Unsubscribe"), None);
    }

    #[test]
    fn header_injection_and_overrides_are_refused() {
        for (name, value, why) in [
            (
                "X-Evil",
                "a\r\nBcc: victim@example.com",
                "line break in value",
            ),
            ("X Evil", "a", "space in name"),
            ("Bad:Name", "a", "colon in name"),
            ("Subject", "other", "reserved header"),
            ("list-unsubscribe", "<https://x>", "reserved, any case"),
        ] {
            let mut email = sample();
            email.headers = vec![(name.to_owned(), value.to_owned())];
            let err = build_message(&email).expect_err(why);
            assert!(
                matches!(err, MailError::InvalidHeader { .. }),
                "{why}: {err}"
            );
            assert!(!err.is_retryable(), "{why}");
        }
        let mut email = sample();
        email.subject = "two\r\nBcc: x@example.com".to_owned();
        let raw = formatted(&email);
        assert!(
            !raw.contains("\r\nBcc:"),
            "subject newline cannot add a header"
        );
        let mut email = sample();
        email.list_unsubscribe = Some(ListUnsubscribe {
            https: "javascript:alert(1)".to_owned(),
            mailto: None,
        });
        assert!(build_message(&email).is_err(), "non-web unsubscribe URL");
        let mut email = sample();
        email.message_id = "no-angle@x".to_owned();
        assert!(build_message(&email).is_err(), "malformed Message-ID");
    }

    #[test]
    fn bad_sender_is_named_and_recipient_only_by_domain() {
        let mut email = sample();
        email.from = "not an address".to_owned();
        let err = build_message(&email).unwrap_err();
        assert!(err.to_string().contains("`not an address`"), "{err}");
        assert!(err.to_string().contains("from"), "{err}");
        assert!(!err.is_retryable());
    }
}
