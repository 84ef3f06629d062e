//! The crate's one error type.

use std::fmt;

/// What kind of document an error is about; it opens every error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// An RSS, Atom or JSON feed.
    Feed,
    /// A transcript file (VTT, SRT, JSON, HTML, text).
    Transcript,
    /// An OPML subscription list.
    Opml,
}

impl DocKind {
    fn article(self) -> &'static str {
        match self {
            Self::Feed | Self::Transcript => "a",
            Self::Opml => "an",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Feed => "feed",
            Self::Transcript => "transcript",
            Self::Opml => "OPML",
        })
    }
}

/// Why a feed, transcript or OPML file could not be read.
///
/// `Display` is one line that names the document (its file or URL) and the
/// problem, e.g. ``feed `file:///x/bad.xml`: not well-formed XML at line 109:
/// expected `</rss>`, but `</channel>` was found``. [`IngestError::kind`] gives a
/// stable failure kind for logs, metrics and the audit report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The bytes are not well-formed XML, JSON or cue syntax, or hold nothing usable.
    #[error("{doc} `{subject}`: {problem}")]
    Unparseable {
        /// What the document was meant to be.
        doc: DocKind,
        /// The file or URL it came from.
        subject: String,
        /// The 1-based line where the problem was found, when known.
        line: Option<usize>,
        /// What is wrong, in words (it repeats the line when there is one).
        problem: String,
    },
    /// Well-formed, but some other kind of document: an HTML page instead of a
    /// feed, a feed instead of OPML, plain text instead of XML.
    #[error("{doc} `{subject}`: not {article} {doc}: {found}", article = .doc.article())]
    WrongDocument {
        /// What the document was meant to be.
        doc: DocKind,
        /// The file or URL it came from.
        subject: String,
        /// What it turned out to be.
        found: String,
    },
    /// The document has no text at all.
    #[error("{doc} `{subject}`: the document is empty")]
    Empty {
        /// What the document was meant to be.
        doc: DocKind,
        /// The file or URL it came from.
        subject: String,
    },
    /// The bytes are not text in any encoding we can recognise (binary data).
    #[error("{doc} `{subject}`: cannot decode text: {problem}")]
    Encoding {
        /// What the document was meant to be.
        doc: DocKind,
        /// The file or URL it came from.
        subject: String,
        /// What is wrong with the bytes.
        problem: String,
    },
    /// Fetching the document failed (network, policy, HTTP status, size cap).
    /// The egress message already names the URL.
    #[error("{doc}: {message}")]
    Fetch {
        /// What the document was meant to be.
        doc: DocKind,
        /// The URL.
        subject: String,
        /// The egress client's stable failure kind.
        kind: meridian_egress::FailureKind,
        /// The egress client's message.
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<std::time::Duration>,
    },
    /// A local file could not be read, or a fetched document could not be
    /// parsed because the process is shutting down.
    #[error("{doc} `{subject}`: {problem}")]
    Io {
        /// What the document was meant to be.
        doc: DocKind,
        /// The path.
        subject: String,
        /// The I/O error.
        problem: String,
    },
    /// A URL is not one Meridian fetches (bad syntax, scheme, credentials), or
    /// a `file:` link inside remote content.
    #[error("{doc} `{subject}`: {problem}")]
    BadUrl {
        /// What the document was meant to be.
        doc: DocKind,
        /// The URL as given.
        subject: String,
        /// Why it is refused.
        problem: String,
    },
    /// The document is larger than a parser accepts.
    #[error("{doc} `{subject}` is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// What the document was meant to be.
        doc: DocKind,
        /// The file or URL it came from.
        subject: String,
        /// Its size in bytes.
        size: usize,
        /// The largest size accepted.
        limit: usize,
    },
}

impl IngestError {
    /// A stable, low-cardinality failure kind: `unparseable`, `not_a_feed`,
    /// `not_opml`, `not_a_transcript`, `empty`, `encoding` or `too_large`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unparseable { .. } => "unparseable",
            Self::WrongDocument {
                doc: DocKind::Feed, ..
            } => "not_a_feed",
            Self::WrongDocument {
                doc: DocKind::Opml, ..
            } => "not_opml",
            Self::WrongDocument {
                doc: DocKind::Transcript,
                ..
            } => "not_a_transcript",
            Self::Empty { .. } => "empty",
            Self::Encoding { .. } => "encoding",
            Self::TooLarge { .. } => "too_large",
            Self::Fetch { kind, .. } => kind.as_str(),
            Self::Io { .. } => "io",
            Self::BadUrl { .. } => "refused_by_policy",
        }
    }

    /// The server's `Retry-After`, for a fetch that was told to wait.
    #[must_use]
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Fetch { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The same error without any words quoted from the document: parser
    /// messages quote the input (the first characters of a text file, a tag
    /// name, a JSON value), which must not happen for a local file, whose
    /// error reaches the run's progress, logs and audit. The kind, subject and
    /// line stay.
    #[must_use]
    pub fn without_content(self) -> Self {
        const NOT_SHOWN: &str = "the file's content is not shown";
        match self {
            Self::Unparseable {
                doc, subject, line, ..
            } => {
                let problem = match line {
                    Some(l) => format!("not well-formed at line {l} ({NOT_SHOWN})"),
                    None => format!("not well-formed ({NOT_SHOWN})"),
                };
                Self::Unparseable {
                    doc,
                    subject,
                    line,
                    problem,
                }
            }
            Self::WrongDocument { doc, subject, .. } => {
                let found = match doc {
                    DocKind::Feed => "not RSS, Atom or JSON Feed",
                    DocKind::Transcript => "not a transcript format Meridian reads",
                    DocKind::Opml => "not OPML",
                };
                Self::WrongDocument {
                    doc,
                    subject,
                    found: format!("{found} ({NOT_SHOWN})"),
                }
            }
            other @ (Self::Empty { .. }
            | Self::Encoding { .. }
            | Self::Fetch { .. }
            | Self::Io { .. }
            | Self::BadUrl { .. }
            | Self::TooLarge { .. }) => other,
        }
    }

    /// Wraps an egress failure of fetching `subject`.
    #[must_use]
    pub fn fetch(doc: DocKind, subject: &str, e: &meridian_egress::EgressError) -> Self {
        Self::Fetch {
            doc,
            subject: subject.to_owned(),
            kind: e.kind(),
            message: one_line(e.to_string()),
            retry_after: e.retry_after(),
        }
    }

    /// A URL that is refused before any request.
    #[must_use]
    pub fn bad_url(doc: DocKind, subject: &str, problem: impl std::fmt::Display) -> Self {
        Self::BadUrl {
            doc,
            subject: subject.to_owned(),
            problem: one_line(problem.to_string()),
        }
    }

    /// The file or URL the error is about.
    #[must_use]
    pub fn subject(&self) -> &str {
        match self {
            Self::Unparseable { subject, .. }
            | Self::WrongDocument { subject, .. }
            | Self::Empty { subject, .. }
            | Self::Encoding { subject, .. }
            | Self::Fetch { subject, .. }
            | Self::Io { subject, .. }
            | Self::BadUrl { subject, .. }
            | Self::TooLarge { subject, .. } => subject,
        }
    }

    /// Whether trying again later could succeed: a fetch that failed in a
    /// passing way (timeout, connection, rate limit, 5xx). Parsing is
    /// deterministic, so a parse error is never retryable as such; a later
    /// fetch may of course bring other bytes.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Fetch { kind, .. } => kind.is_retryable(),
            Self::Io { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn unparseable(
        doc: DocKind,
        subject: &str,
        line: Option<usize>,
        problem: String,
    ) -> Self {
        Self::Unparseable {
            doc,
            subject: subject.to_owned(),
            line,
            problem: one_line(problem),
        }
    }

    pub(crate) fn wrong(doc: DocKind, subject: &str, found: String) -> Self {
        Self::WrongDocument {
            doc,
            subject: subject.to_owned(),
            found: one_line(found),
        }
    }

    pub(crate) fn binary(doc: DocKind, subject: &str) -> Self {
        Self::Encoding {
            doc,
            subject: subject.to_owned(),
            problem: "binary data (NUL bytes), not text".to_owned(),
        }
    }

    pub(crate) fn empty(doc: DocKind, subject: &str) -> Self {
        Self::Empty {
            doc,
            subject: subject.to_owned(),
        }
    }

    /// Refuses input over `limit` bytes before any work is done on it.
    pub(crate) fn check_size(
        doc: DocKind,
        subject: &str,
        size: usize,
        limit: usize,
    ) -> Result<(), Self> {
        if size > limit {
            Err(Self::TooLarge {
                doc,
                subject: subject.to_owned(),
                size,
                limit,
            })
        } else {
            Ok(())
        }
    }
}

/// Parser messages quote the input (a tag name, a value), which may hold line
/// breaks; an error message stays on one line.
fn one_line(s: String) -> String {
    if s.contains(char::is_control) {
        s.replace(char::is_control, " ")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_file_errors_quote_nothing_of_the_file() {
        let url = meridian_core::FeedUrl::parse("file:///etc/shadow").unwrap();
        for doc in [
            "root:$6$SECRETHASH:19000:0:99999:7:::\n",
            "<secretroot>x</secretroot>",
            "<rss><channel><title>x</SECRETHASH></channel></rss>",
            "{\"SECRETHASH\": 1}",
        ] {
            let plain = crate::parse_feed(doc.as_bytes(), &url).unwrap_err();
            let redacted = plain.clone().without_content().to_string();
            assert!(
                !redacted.contains("SECRETHASH") && !redacted.contains("secretroot"),
                "{redacted}"
            );
            assert!(redacted.contains("file:///etc/shadow"), "{redacted}");
            assert_eq!(plain.kind(), plain.clone().without_content().kind());
        }
    }

    #[test]
    fn display_names_the_document_and_the_problem_on_one_line() {
        let e = IngestError::unparseable(
            DocKind::Feed,
            "file:///x/bad.xml",
            Some(109),
            "not well-formed XML at line 109: expected `</rss>`, but `</channel>` was found".into(),
        );
        assert_eq!(
            e.to_string(),
            "feed `file:///x/bad.xml`: not well-formed XML at line 109: expected `</rss>`, but `</channel>` was found"
        );
        assert_eq!(e.kind(), "unparseable");
        let e = IngestError::wrong(DocKind::Feed, "https://x.example/", "an HTML page".into());
        assert_eq!(
            e.to_string(),
            "feed `https://x.example/`: not a feed: an HTML page"
        );
        assert_eq!(e.kind(), "not_a_feed");
        let e = IngestError::check_size(DocKind::Transcript, "t.vtt", 11, 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "transcript `t.vtt` is 11 bytes, more than the 10-byte limit"
        );
        assert_eq!(e.kind(), "too_large");
        assert!(!e.to_string().contains('\n'));
    }
}
