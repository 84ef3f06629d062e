//! One entry of a region's egress allow-list (`[egress] allow`), parsed once.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use url::Host;

/// What an allow-list entry matches, host-wise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `*`: any host (the egress guard then admits public addresses only).
    Any,
    /// A host name, lower-case, punycode, without a trailing dot.
    Domain(String),
    /// `*.suffix`: every name strictly below `suffix` (stored without `*.`),
    /// not `suffix` itself.
    Subdomains(String),
    /// An IP literal.
    Ip(IpAddr),
}

/// One `[egress] allow` entry: `*`, a host, `*.domain` or an IP literal, with
/// an optional port.
///
/// Forms, as written in a region file:
///
/// - `"*"`: any host, any port (the egress guard admits public addresses only);
/// - `"api.openai.com"`, `"127.0.0.1"`, `"[::1]"`, `"fd00::1"`: that host, any port;
/// - `"api.openai.com:443"`, `"127.0.0.1:11434"`, `"[::1]:11434"`: that host on that port;
/// - `"*.example.com"` (optionally `:port`): any name below `example.com`, not the apex.
///
/// Host names are compared case-insensitively, in punycode, without a
/// trailing dot.
///
/// # Which entries name a host
///
/// [`AllowEntry::names_host`] is true for a host name or an IP literal, and
/// false for `*` and for `*.domain`. Naming a host is the operator's consent:
/// the egress guard lets a named host resolve to private or loopback
/// addresses, the policy gate sees it as `listed`, and `config check` accepts
/// it for a model endpoint or the SMTP relay. A `*.domain` entry only
/// *matches* names below the domain; it is a pattern for feed hosts, not a
/// decision about one particular host, so it consents to nothing. This is the
/// stricter of the readings Meridian once had in different places (the
/// configuration check alone used to count `*.domain` as naming its
/// sub-domains); it is the one the egress guard and the policy gate apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowEntry {
    pattern: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
}

/// Why an allow-list entry could not be parsed; names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("egress allow entry `{entry}` is invalid: {reason}")]
pub struct AllowEntryError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

impl AllowEntry {
    /// `*`: any host on any port.
    #[must_use]
    pub fn any() -> Self {
        Self {
            pattern: HostPattern::Any,
            port: None,
        }
    }

    /// Parses one entry as written in `[egress] allow` (surrounding
    /// whitespace is ignored).
    ///
    /// # Errors
    /// [`AllowEntryError`] naming the entry and what is wrong: empty, a URL
    /// instead of a host, a path, credentials or whitespace, a bad port,
    /// `*` with a port, a wildcard anywhere but a leading `*.`, `*.` before
    /// an address, an invalid host or IPv6 literal.
    pub fn parse(raw: &str) -> Result<Self, AllowEntryError> {
        parse_entry(raw).map_err(|reason| AllowEntryError {
            entry: raw.to_owned(),
            reason,
        })
    }

    /// What the entry matches.
    #[must_use]
    pub fn pattern(&self) -> &HostPattern {
        &self.pattern
    }

    /// The port the entry is limited to; `None` for any port.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether this is `*`.
    #[must_use]
    pub fn is_any(&self) -> bool {
        self.pattern == HostPattern::Any
    }

    /// Whether the entry names one host (a host name or an IP literal), as
    /// opposed to `*` and `*.domain`, which only match. See the type's docs.
    #[must_use]
    pub fn names_host(&self) -> bool {
        matches!(self.pattern, HostPattern::Domain(_) | HostPattern::Ip(_))
    }

    /// The host the entry names, as it is written in a URL (`api.openai.com`,
    /// `127.0.0.1`, `[::1]`), or `*` / `*.domain` for the patterns.
    #[must_use]
    pub fn host_text(&self) -> String {
        match &self.pattern {
            HostPattern::Any => "*".to_owned(),
            HostPattern::Domain(d) => d.clone(),
            HostPattern::Subdomains(s) => format!("*.{s}"),
            HostPattern::Ip(IpAddr::V4(v4)) => v4.to_string(),
            HostPattern::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
        }
    }

    /// Whether the entry lets `host` through on `port`, by its pattern and
    /// port alone (whether the address is public is the egress guard's
    /// question, not the list's). `host` is a name or an IP literal, IPv6
    /// with or without brackets; case and a trailing dot do not matter.
    #[must_use]
    pub fn admits(&self, host: &str, port: u16) -> bool {
        self.port_matches(port) && self.matches_host(host)
    }

    /// Whether the entry lets `host` through on some port.
    #[must_use]
    pub fn matches_host(&self, host: &str) -> bool {
        match (&self.pattern, parse_host(host)) {
            (HostPattern::Any, _) => true,
            (HostPattern::Domain(d), Some(Host::Domain(h))) => *d == h,
            (HostPattern::Subdomains(s), Some(Host::Domain(h))) => is_subdomain(&h, s),
            (HostPattern::Ip(ip), Some(Host::Ipv4(v4))) => *ip == IpAddr::V4(v4),
            (HostPattern::Ip(ip), Some(Host::Ipv6(v6))) => *ip == IpAddr::V6(v6),
            _ => false,
        }
    }

    /// Whether the entry names `host` (see [`AllowEntry::names_host`]) on
    /// `port`; `None` asks about any port the entry allows.
    #[must_use]
    pub fn names(&self, host: &str, port: Option<u16>) -> bool {
        self.names_host() && port.is_none_or(|p| self.port_matches(p)) && self.matches_host(host)
    }

    /// Whether the entry allows `port`.
    #[must_use]
    pub fn port_matches(&self, port: u16) -> bool {
        self.port.is_none_or(|p| p == port)
    }
}

impl fmt::Display for AllowEntry {
    /// The canonical form: lower-case, punycode, no trailing dot, IPv6 in
    /// brackets; parses back to the same entry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.pattern, self.port) {
            (HostPattern::Ip(IpAddr::V6(v6)), None) => write!(f, "[{v6}]"),
            (_, None) => f.write_str(&self.host_text()),
            (_, Some(port)) => write!(f, "{}:{port}", self.host_text()),
        }
    }
}

impl std::str::FromStr for AllowEntry {
    type Err = AllowEntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A host as the allow-list compares it: an IP literal (IPv6 with or without
/// brackets) or a name, lower-cased, in punycode, without a trailing dot.
fn parse_host(host: &str) -> Option<Host<String>> {
    let h = host.trim();
    let bare = h
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(h);
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return Some(Host::Ipv6(v6));
    }
    match Host::parse(bare).ok()? {
        Host::Domain(d) => Some(Host::Domain(normalize_domain(&d))),
        other => Some(other),
    }
}

pub(crate) fn normalize_domain(domain: &str) -> String {
    domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase()
}

fn is_subdomain(host: &str, suffix: &str) -> bool {
    host.len() > suffix.len() + 1
        && host.ends_with(suffix)
        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
}

fn parse_entry(raw: &str) -> Result<AllowEntry, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("empty entry".to_owned());
    }
    if text == "*" {
        return Ok(AllowEntry::any());
    }
    if text.contains("://") {
        return Err("write a host or host:port, not a URL".to_owned());
    }
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace())
    {
        return Err(format!(
            "unexpected character `{c}`; write a host or host:port"
        ));
    }

    let (host, port) = split_host_port(text)?;
    let port = port.map(parse_port).transpose()?;

    if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        return Ok(AllowEntry {
            pattern: HostPattern::Ip(IpAddr::V6(ip)),
            port,
        });
    }
    if let Ok(ip) = host.parse::<Ipv6Addr>() {
        return Ok(AllowEntry {
            pattern: HostPattern::Ip(IpAddr::V6(ip)),
            port,
        });
    }
    if host == "*" {
        return Err("`*` takes no port; it allows every public host on every port".to_owned());
    }
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, host),
    };
    if name.contains('*') {
        return Err("a wildcard is only allowed as a leading `*.`".to_owned());
    }
    let parsed = Host::parse(name).map_err(|e| format!("`{name}` is not a valid host: {e}"))?;
    let pattern = match (parsed, wildcard) {
        (Host::Domain(d), false) => HostPattern::Domain(normalize_domain(&d)),
        (Host::Domain(d), true) => HostPattern::Subdomains(normalize_domain(&d)),
        (Host::Ipv4(v4), false) => HostPattern::Ip(IpAddr::V4(v4)),
        (Host::Ipv6(v6), false) => HostPattern::Ip(IpAddr::V6(v6)),
        (Host::Ipv4(_) | Host::Ipv6(_), true) => {
            return Err("`*.` must be followed by a domain name, not an address".to_owned());
        }
    };
    if matches!(&pattern, HostPattern::Domain(d) | HostPattern::Subdomains(d) if d.is_empty()) {
        return Err("empty host".to_owned());
    }
    Ok(AllowEntry { pattern, port })
}

/// Splits `host[:port]`, `[v6][:port]`; a bare IPv6 address (several colons) has no port.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if text.starts_with('[') {
        let Some(end) = text.find(']') else {
            return Err("missing `]` after an IPv6 address".to_owned());
        };
        let (host, rest) = text.split_at(end + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected `{rest}` after `{host}`")),
            },
        };
    }
    match text.matches(':').count() {
        1 => match text.split_once(':') {
            Some((host, port)) => Ok((host, Some(port))),
            None => Ok((text, None)),
        },
        _ => Ok((text, None)),
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("`{port}` is not a port (1-65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_in_every_documented_form_parse() {
        let ip = |s: &str| HostPattern::Ip(s.parse().unwrap());
        let cases: &[(&str, HostPattern, Option<u16>)] = &[
            ("*", HostPattern::Any, None),
            (
                "api.openai.com",
                HostPattern::Domain("api.openai.com".into()),
                None,
            ),
            (
                "API.OpenAI.com.",
                HostPattern::Domain("api.openai.com".into()),
                None,
            ),
            (
                "api.openai.com:443",
                HostPattern::Domain("api.openai.com".into()),
                Some(443),
            ),
            ("127.0.0.1:11434", ip("127.0.0.1"), Some(11434)),
            ("127.0.0.1", ip("127.0.0.1"), None),
            ("[::1]:11434", ip("::1"), Some(11434)),
            ("[::1]", ip("::1"), None),
            ("fd00:ec2::254", ip("fd00:ec2::254"), None),
            (
                "*.example.com",
                HostPattern::Subdomains("example.com".into()),
                None,
            ),
            (
                "*.example.com:8443",
                HostPattern::Subdomains("example.com".into()),
                Some(8443),
            ),
            (
                "  localhost  ",
                HostPattern::Domain("localhost".into()),
                None,
            ),
            (
                "bücher.example",
                HostPattern::Domain("xn--bcher-kva.example".into()),
                None,
            ),
        ];
        for (raw, pattern, port) in cases {
            let parsed = AllowEntry::parse(raw).unwrap_or_else(|e| panic!("entry `{raw}`: {e}"));
            assert_eq!(parsed.pattern(), pattern, "entry `{raw}`");
            assert_eq!(parsed.port(), *port, "entry `{raw}`");
            let again = AllowEntry::parse(&parsed.to_string());
            assert_eq!(
                again.as_ref(),
                Ok(&parsed),
                "entry `{raw}` shown as `{parsed}`"
            );
        }
    }

    #[test]
    fn bad_entries_are_refused_with_the_entry_named() {
        let cases: &[(&str, &str)] = &[
            ("empty", ""),
            ("url", "https://api.openai.com"),
            ("path", "example.com/feed"),
            ("credentials", "user@example.com"),
            ("port zero", "example.com:0"),
            ("port too big", "example.com:70000"),
            ("port not a number", "example.com:http"),
            ("star with port", "*:443"),
            ("inner wildcard", "feeds.*.example.com"),
            ("wildcard on ip", "*.127.0.0.1"),
            ("unclosed bracket", "[::1:80"),
            ("bad ipv6", "[::zz]"),
            ("junk after bracket", "[::1]x"),
            ("space inside", "exa mple.com"),
        ];
        for (case, raw) in cases {
            let err = AllowEntry::parse(raw)
                .err()
                .unwrap_or_else(|| panic!("case `{case}`: `{raw}` was accepted"));
            assert_eq!(err.entry, *raw, "case `{case}`");
            assert!(
                err.to_string().contains(&format!("`{raw}`")),
                "case `{case}`: {err}"
            );
        }
    }
}
