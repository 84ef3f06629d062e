use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an e-mail address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("e-mail address `{address}` is invalid: {reason}")]
pub struct EmailError {
    /// The address as given (it is the user's own input, echoed back to them).
    pub address: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A subscriber's e-mail address: personal data.
///
/// It deliberately has no `Display` into prompt text paths: code that builds
/// model prompts takes public or derived types only. `Debug` is redacted so the
/// address does not end up in logs by accident; use [`SubscriberEmail::as_str`]
/// where the address really is needed (the SMTP envelope).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubscriberEmail(String);

/// Top-level domains reserved by RFC 2606 and RFC 6761 that never deliver mail
/// on the public internet. `example.com`, `example.net` and `example.org` are
/// real registered domains (used in documentation) and stay accepted.
pub const RESERVED_TLDS: [&str; 5] = ["example", "invalid", "localhost", "local", "test"];

impl SubscriberEmail {
    /// Parses a new address: one `@`, a non-empty local part, a domain of at
    /// least two dot-separated labels, no spaces, control characters, bidi
    /// controls or invisible characters, at most 254 bytes. Single-label
    /// domains (`root@localhost`) and the reserved top-level domains
    /// ([`RESERVED_TLDS`]: `a@b.test`, `a@b.example`…) are refused: no mail
    /// can reach them. The domain is lower-cased.
    ///
    /// # Errors
    /// [`EmailError`] naming the address and the reason.
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let email = Self::parse_existing(s)?;
        let err = |reason| EmailError {
            address: s.to_owned(),
            reason,
        };
        if s.chars().any(crate::text::is_invisible_or_bidi) {
            return Err(err(
                "contains a bidi control or an invisible character (U+200B-U+200F, U+202A-U+202E, U+2060-U+2069, U+061C, U+FEFF)",
            ));
        }
        let domain = email.domain().trim_end_matches('.');
        let Some((_, tld)) = domain.rsplit_once('.') else {
            return Err(err(
                "the domain has a single label (like `localhost`); mail needs a domain such as `example.org`",
            ));
        };
        if RESERVED_TLDS.contains(&tld) {
            return Err(err(
                "the domain is under a reserved top-level domain (.example, .invalid, .localhost, .local, .test) that receives no mail",
            ));
        }
        Ok(email)
    }

    /// Parses an address that is already stored or is being looked up (to
    /// remove or erase it): the syntax rules of [`SubscriberEmail::parse`]
    /// without the rules on domains and invisible characters, so that rows
    /// stored before those rules stay readable and erasable. Show such an
    /// address with [`SubscriberEmail::escaped`].
    ///
    /// # Errors
    /// [`EmailError`] naming the address and the reason.
    pub fn parse_existing(s: &str) -> Result<Self, EmailError> {
        let err = |reason| EmailError {
            address: s.to_owned(),
            reason,
        };
        let s = s.trim();
        if s.len() > 254 {
            return Err(err("longer than 254 bytes"));
        }
        if s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        }) {
            return Err(err(
                "contains spaces, control characters or one of < > , ; \"",
            ));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(err("has no `@`"));
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(err(
                "the part before `@` must be 1-64 characters without another `@`",
            ));
        }
        let labels_ok = !domain.is_empty()
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !labels_ok {
            return Err(err(
                "the domain must be dot-separated labels of letters, digits and `-`",
            ));
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address, for the SMTP envelope and the subscriber table.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address for a terminal or a page: bidi controls and invisible
    /// characters (possible only in rows stored before [`SubscriberEmail::parse`]
    /// refused them) written as `\u{202e}`, so nothing displays reordered.
    #[must_use]
    pub fn escaped(&self) -> std::borrow::Cow<'_, str> {
        if self.0.chars().any(crate::text::is_invisible_or_bidi) {
            std::borrow::Cow::Owned(
                self.0
                    .chars()
                    .map(|c| {
                        if crate::text::is_invisible_or_bidi(c) {
                            format!("\\u{{{:04x}}}", u32::from(c))
                        } else {
                            c.to_string()
                        }
                    })
                    .collect(),
            )
        } else {
            std::borrow::Cow::Borrowed(&self.0)
        }
    }

    /// The domain part, e.g. for per-domain rate limits.
    #[must_use]
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Debug for SubscriberEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubscriberEmail(***@{})", self.domain())
    }
}

impl TryFrom<String> for SubscriberEmail {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SubscriberEmail> for String {
    fn from(e: SubscriberEmail) -> Self {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::SubscriberEmail;

    #[test]
    fn accepts_ordinary_addresses() {
        let e = SubscriberEmail::parse(" Ada@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Ada@example.com");
        assert_eq!(e.domain(), "example.com");
        assert!(SubscriberEmail::parse("李@例子.中国").is_ok());
        for ok in [
            "a@example.com",
            "a@example.net",
            "a@example.org",
            "a@mail.test.org",
        ] {
            assert!(SubscriberEmail::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn stored_addresses_at_reserved_domains_stay_readable() {
        let old = SubscriberEmail::parse_existing("ada@us.meridian.example").unwrap();
        assert_eq!(old.domain(), "us.meridian.example");
        assert!(SubscriberEmail::parse_existing("root@localhost").is_ok());
        let hostile = SubscriberEmail::parse_existing("ev\u{202e}e@example.org").unwrap();
        assert_eq!(hostile.escaped(), "ev\\u{202e}e@example.org");
    }

    #[test]
    fn refuses_bad_addresses_naming_them() {
        for (bad, why) in [
            ("", "no @"),
            ("ada", "no @"),
            ("@example.com", "empty local"),
            ("ada@", "empty domain"),
            ("ada@exa mple.com", "space"),
            ("ada@example..com", "empty label"),
            ("a<b@example.com", "angle bracket"),
            ("ada@-example.com", "label starts with -"),
            ("root@localhost", "single-label domain"),
            ("a@example", "single-label domain"),
            ("a@b.test", "reserved TLD"),
            ("a@mail.example", "reserved TLD"),
            ("a@x.invalid", "reserved TLD"),
            ("a@host.localhost", "reserved TLD"),
            ("a@printer.local", "reserved TLD"),
            ("a@B.TEST", "reserved TLD, any case"),
            ("ev\u{202e}lin@example.org", "right-to-left override"),
            ("eve\u{200b}@example.org", "zero-width space"),
            ("eve@exam\u{2066}ple.org", "bidi isolate"),
            ("\u{feff}eve@example.org", "byte-order mark"),
            ("eve@example.org\u{200d}", "zero-width joiner"),
        ] {
            let e = SubscriberEmail::parse(bad);
            assert!(e.is_err(), "{why}: {bad:?} should be refused");
            assert!(
                e.unwrap_err().to_string().contains(bad.trim()),
                "{why}: error names the address"
            );
        }
    }

    #[test]
    fn debug_does_not_leak_the_local_part() {
        let e = SubscriberEmail::parse("secret.person@example.org").unwrap();
        assert!(!format!("{e:?}").contains("secret"));
    }
}
