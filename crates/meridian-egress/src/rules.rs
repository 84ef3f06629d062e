//! The region's egress allow-list, parsed once from `[egress] allow`.

use std::net::{IpAddr, Ipv6Addr};

use url::{Host, Url};

use crate::address::{AddressClass, classify};
use crate::error::EgressError;

/// A parsed egress allow-list: which hosts (and ports) a region may reach.
///
/// Entries as written in region config:
///
/// - `"*"`: any **public** host, any port;
/// - `"api.openai.com"`, `"127.0.0.1"`, `"[::1]"`: that host, any port;
/// - `"api.openai.com:443"`, `"127.0.0.1:11434"`, `"[::1]:11434"`: that host on that port;
/// - `"*.example.com"` (optionally `:port`): any sub-domain of `example.com`, not the apex.
///
/// Hosts named explicitly (host or IP literal) may resolve to private or
/// loopback addresses: the operator named them. Hosts reached through `*` or a
/// `*.` wildcard must resolve to public addresses unless `allow_private` is set.
/// Cloud-metadata addresses are reachable only when the address itself is an entry.
///
/// The resolver sees host names but not ports, so an address entry with a port
/// (`127.0.0.1:11434`) applies to URLs with that IP literal and port only; a
/// port-less address entry (`10.0.0.5`) also covers names that resolve to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRules {
    entries: Vec<Entry>,
    any_public: bool,
    allow_private: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    pattern: Pattern,
    /// `None`: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// A host name, lower-case, punycode, without a trailing dot.
    Domain(String),
    Ip(IpAddr),
    /// `*.suffix`: stored without the `*.`.
    Subdomains(String),
}

/// What an allow-list match grants for one URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// An explicit entry (not `*` or `*.`) named this host and port.
    pub(crate) named: bool,
}

impl EgressRules {
    /// Parses the `allow` entries of a region's `[egress]` table.
    ///
    /// # Errors
    /// [`EgressError::InvalidRule`] naming the first entry that is not `*`, a
    /// host, `host:port`, an IP literal (IPv6 in brackets when a port follows)
    /// or `*.domain`.
    pub fn new(allow: &[String], allow_private: bool) -> Result<Self, EgressError> {
        let mut entries = Vec::with_capacity(allow.len());
        let mut any_public = false;
        for raw in allow {
            match parse_entry(raw) {
                Ok(None) => any_public = true,
                Ok(Some(entry)) => entries.push(entry),
                Err(reason) => {
                    return Err(EgressError::InvalidRule {
                        entry: raw.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(Self {
            entries,
            any_public,
            allow_private,
        })
    }

    /// Whether `allow_private` was set: `*` may then reach private addresses.
    #[must_use]
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// Whether the list contains `*`.
    #[must_use]
    pub fn allows_any_public_host(&self) -> bool {
        self.any_public
    }

    /// Checks a URL against the list before any DNS lookup: scheme `http` or
    /// `https`, host and port allowed by an entry, and, for IP-literal hosts,
    /// the address class (an IP literal never reaches the resolver guard).
    ///
    /// Host names reached through `*` are checked again after resolution by
    /// the client's resolver, which refuses private results.
    ///
    /// # Errors
    /// [`EgressError::RefusedScheme`], [`EgressError::MissingHost`],
    /// [`EgressError::HostNotAllowed`] or [`EgressError::AddressRefused`].
    pub fn check_url(&self, url: &Url) -> Result<(), EgressError> {
        self.grant(url).map(|_| ())
    }

    pub(crate) fn grant(&self, url: &Url) -> Result<Grant, EgressError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EgressError::RefusedScheme {
                url: Box::new(url.clone()),
            });
        }
        let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return Err(EgressError::MissingHost {
                url: Box::new(url.clone()),
            });
        };
        match host {
            Host::Domain(domain) => {
                let domain = normalize_domain(domain);
                let named = self.entries.iter().any(|e| {
                    e.port_matches(port) && matches!(&e.pattern, Pattern::Domain(d) if *d == domain)
                });
                let wildcard = self.entries.iter().any(|e| {
                    e.port_matches(port)
                        && matches!(&e.pattern, Pattern::Subdomains(s) if is_subdomain(&domain, s))
                });
                if named || wildcard || self.any_public {
                    Ok(Grant { named })
                } else {
                    Err(EgressError::HostNotAllowed {
                        url: Box::new(url.clone()),
                        host: domain,
                    })
                }
            }
            Host::Ipv4(v4) => self.grant_ip(url, IpAddr::V4(v4), port),
            Host::Ipv6(v6) => self.grant_ip(url, IpAddr::V6(v6), port),
        }
    }

    fn grant_ip(&self, url: &Url, ip: IpAddr, port: u16) -> Result<Grant, EgressError> {
        let named = self
            .entries
            .iter()
            .any(|e| e.port_matches(port) && e.pattern == Pattern::Ip(ip));
        if !named && !self.any_public {
            return Err(EgressError::HostNotAllowed {
                url: Box::new(url.clone()),
                host: ip.to_string(),
            });
        }
        let class = classify(ip);
        if class.permitted(named, named, self.allow_private) {
            Ok(Grant { named })
        } else {
            Err(EgressError::AddressRefused {
                url: Box::new(url.clone()),
                host: ip.to_string(),
                addr: ip,
                class,
            })
        }
    }

    /// Whether an explicit entry names this host name, on any port.
    pub(crate) fn names_domain(&self, host: &str) -> bool {
        let host = normalize_domain(host);
        self.entries
            .iter()
            .any(|e| matches!(&e.pattern, Pattern::Domain(d) if *d == host))
    }

    /// Whether any entry would let this host name through, on some port.
    pub(crate) fn admits_domain(&self, host: &str) -> bool {
        let host = normalize_domain(host);
        self.any_public
            || self.entries.iter().any(|e| match &e.pattern {
                Pattern::Domain(d) => *d == host,
                Pattern::Subdomains(s) => is_subdomain(&host, s),
                Pattern::Ip(_) => false,
            })
    }

    /// Whether this exact address is an entry without a port. The resolver
    /// cannot see the port, so an entry such as `127.0.0.1:11434` must not make
    /// a name that resolves to `127.0.0.1` reachable on every port; only a
    /// port-less entry consents to the address however it is reached.
    pub(crate) fn lists_ip(&self, ip: IpAddr) -> bool {
        self.entries
            .iter()
            .any(|e| e.port.is_none() && e.pattern == Pattern::Ip(ip))
    }

    /// Whether an address that `host` resolved to may be connected to.
    pub(crate) fn admits_resolved(&self, host_named: bool, ip: IpAddr) -> Result<(), AddressClass> {
        let class = classify(ip);
        if class.permitted(host_named, self.lists_ip(ip), self.allow_private) {
            Ok(())
        } else {
            Err(class)
        }
    }
}

impl Entry {
    fn port_matches(&self, port: u16) -> bool {
        self.port.is_none_or(|p| p == port)
    }
}

fn normalize_domain(domain: &str) -> String {
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

/// `Ok(None)` is `*`.
fn parse_entry(raw: &str) -> Result<Option<Entry>, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("empty entry".to_owned());
    }
    if text == "*" {
        return Ok(None);
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
        return Ok(Some(Entry {
            pattern: Pattern::Ip(IpAddr::V6(ip)),
            port,
        }));
    }
    if let Ok(ip) = host.parse::<Ipv6Addr>() {
        return Ok(Some(Entry {
            pattern: Pattern::Ip(IpAddr::V6(ip)),
            port,
        }));
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
        (Host::Domain(d), false) => Pattern::Domain(normalize_domain(&d)),
        (Host::Domain(d), true) => Pattern::Subdomains(normalize_domain(&d)),
        (Host::Ipv4(v4), false) => Pattern::Ip(IpAddr::V4(v4)),
        (Host::Ipv6(v6), false) => Pattern::Ip(IpAddr::V6(v6)),
        (Host::Ipv4(_) | Host::Ipv6(_), true) => {
            return Err("`*.` must be followed by a domain name, not an address".to_owned());
        }
    };
    if matches!(&pattern, Pattern::Domain(d) | Pattern::Subdomains(d) if d.is_empty()) {
        return Err("empty host".to_owned());
    }
    Ok(Some(Entry { pattern, port }))
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
        0 => Ok((text, None)),
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

    fn rules(allow: &[&str], allow_private: bool) -> EgressRules {
        let allow: Vec<String> = allow.iter().map(|s| (*s).to_owned()).collect();
        EgressRules::new(&allow, allow_private).unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn entries_in_every_documented_form_parse() {
        let cases: &[(&str, Pattern, Option<u16>)] = &[
            (
                "api.openai.com",
                Pattern::Domain("api.openai.com".into()),
                None,
            ),
            (
                "API.OpenAI.com.",
                Pattern::Domain("api.openai.com".into()),
                None,
            ),
            (
                "api.openai.com:443",
                Pattern::Domain("api.openai.com".into()),
                Some(443),
            ),
            (
                "127.0.0.1:11434",
                Pattern::Ip("127.0.0.1".parse().unwrap()),
                Some(11434),
            ),
            ("127.0.0.1", Pattern::Ip("127.0.0.1".parse().unwrap()), None),
            (
                "[::1]:11434",
                Pattern::Ip("::1".parse().unwrap()),
                Some(11434),
            ),
            ("[::1]", Pattern::Ip("::1".parse().unwrap()), None),
            (
                "fd00:ec2::254",
                Pattern::Ip("fd00:ec2::254".parse().unwrap()),
                None,
            ),
            (
                "*.example.com",
                Pattern::Subdomains("example.com".into()),
                None,
            ),
            (
                "*.example.com:8443",
                Pattern::Subdomains("example.com".into()),
                Some(8443),
            ),
            ("  localhost  ", Pattern::Domain("localhost".into()), None),
            (
                "bücher.example",
                Pattern::Domain("xn--bcher-kva.example".into()),
                None,
            ),
        ];
        for (raw, pattern, port) in cases {
            let parsed = parse_entry(raw);
            let expected = Entry {
                pattern: pattern.clone(),
                port: *port,
            };
            assert_eq!(parsed, Ok(Some(expected)), "entry `{raw}`");
        }
        assert_eq!(parse_entry("*"), Ok(None));
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
            let err = EgressRules::new(&[(*raw).to_owned()], false)
                .err()
                .unwrap_or_else(|| panic!("case `{case}`: `{raw}` was accepted"));
            assert!(
                matches!(&err, EgressError::InvalidRule { entry, .. } if entry == raw),
                "case `{case}`: {err}"
            );
            assert!(
                err.to_string().contains(&format!("`{raw}`")),
                "case `{case}`: {err}"
            );
        }
    }

    #[test]
    fn explicit_entries_grant_named_access_and_respect_ports() {
        let r = rules(
            &["127.0.0.1:11434", "api.openai.com", "*.example.com"],
            false,
        );
        assert_eq!(
            r.grant(&url("http://127.0.0.1:11434/api")).unwrap(),
            Grant { named: true }
        );
        assert!(matches!(
            r.grant(&url("http://127.0.0.1:22/")),
            Err(EgressError::HostNotAllowed { .. })
        ));
        assert_eq!(
            r.grant(&url("https://api.openai.com/v1")).unwrap(),
            Grant { named: true }
        );
        assert_eq!(
            r.grant(&url("https://API.openai.com:8443/")).unwrap(),
            Grant { named: true }
        );
        assert_eq!(
            r.grant(&url("https://feeds.example.com/")).unwrap(),
            Grant { named: false }
        );
        assert_eq!(
            r.grant(&url("https://a.b.example.com/")).unwrap(),
            Grant { named: false }
        );
        assert!(matches!(
            r.grant(&url("https://example.com/")),
            Err(EgressError::HostNotAllowed { .. })
        ));
        assert!(matches!(
            r.grant(&url("https://badexample.com/")),
            Err(EgressError::HostNotAllowed { .. })
        ));
    }

    #[test]
    fn star_allows_public_hosts_but_not_private_literals() {
        let r = rules(&["*"], false);
        assert_eq!(
            r.grant(&url("https://feeds.example.org/rss")).unwrap(),
            Grant { named: false }
        );
        assert!(r.check_url(&url("http://93.184.216.34/")).is_ok());
        for (case, u) in [
            ("loopback", "http://127.0.0.1:8080/"),
            ("private", "http://10.0.0.1/"),
            ("metadata", "http://169.254.169.254/latest/meta-data/"),
            ("v6 loopback", "http://[::1]/"),
            ("v4-mapped loopback", "http://[::ffff:127.0.0.1]/"),
            ("decimal loopback", "http://2130706433/"),
        ] {
            let err = r.check_url(&url(u)).unwrap_err();
            assert!(
                matches!(err, EgressError::AddressRefused { .. }),
                "case `{case}`: {err}"
            );
        }
    }

    #[test]
    fn allow_private_opens_private_literals_but_not_metadata() {
        let r = rules(&["*"], true);
        assert!(r.check_url(&url("http://10.0.0.1/")).is_ok());
        assert!(r.check_url(&url("http://127.0.0.1:9/")).is_ok());
        let err = r.check_url(&url("http://169.254.169.254/")).unwrap_err();
        assert!(
            matches!(
                err,
                EgressError::AddressRefused {
                    class: AddressClass::CloudMetadata,
                    ..
                }
            ),
            "{err}"
        );
        let listed = rules(&["169.254.169.254"], false);
        assert!(
            listed
                .check_url(&url("http://169.254.169.254/latest"))
                .is_ok()
        );
    }

    #[test]
    fn only_http_and_https_are_allowed() {
        let r = rules(&["*"], true);
        for u in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "gopher://example.com/",
        ] {
            let err = r.check_url(&url(u)).unwrap_err();
            assert!(
                matches!(err, EgressError::RefusedScheme { .. }),
                "{u}: {err}"
            );
        }
    }

    #[test]
    fn resolver_side_questions() {
        let r = rules(&["localhost:8080", "*.example.com", "10.9.8.7"], false);
        assert!(r.names_domain("localhost"));
        assert!(r.names_domain("LOCALHOST."));
        assert!(!r.names_domain("feeds.example.com"));
        assert!(r.admits_domain("feeds.example.com"));
        assert!(!r.admits_domain("evil.test"));
        assert!(r.lists_ip("10.9.8.7".parse().unwrap()));
        assert_eq!(
            r.admits_resolved(true, "127.0.0.1".parse().unwrap()),
            Ok(())
        );
        assert_eq!(
            r.admits_resolved(false, "127.0.0.1".parse().unwrap()),
            Err(AddressClass::Loopback)
        );
        assert_eq!(
            r.admits_resolved(true, "169.254.169.254".parse().unwrap()),
            Err(AddressClass::CloudMetadata)
        );
        assert_eq!(
            r.admits_resolved(false, "10.9.8.7".parse().unwrap()),
            Ok(())
        );
    }

    #[test]
    fn an_address_entry_with_a_port_does_not_open_the_address_to_names() {
        let r = rules(&["127.0.0.1:11434", "169.254.169.254:80", "*"], false);
        assert!(!r.lists_ip("127.0.0.1".parse().unwrap()));
        assert_eq!(
            r.admits_resolved(false, "127.0.0.1".parse().unwrap()),
            Err(AddressClass::Loopback)
        );
        assert_eq!(
            r.admits_resolved(false, "169.254.169.254".parse().unwrap()),
            Err(AddressClass::CloudMetadata)
        );
        assert!(r.check_url(&url("http://169.254.169.254/latest")).is_ok());
    }
}
