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

impl SubscriberEmail {
    /// Parses an address: one `@`, a non-empty local part, a domain of
    /// dot-separated labels, no spaces or control characters, at most 254 bytes.
    /// The domain is lower-cased.
    ///
    /// # Errors
    /// [`EmailError`] naming the address and the reason.
    pub fn parse(s: &str) -> Result<Self, EmailError> {
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
