//! The region's egress allow-list, parsed once from `[egress] allow`.

use std::net::IpAddr;

use meridian_core::net::{AddressClass, AllowEntry, HostPattern, classify};
use url::{Host, Url};

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
    entries: Vec<AllowEntry>,
    any_public: bool,
    allow_private: bool,
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
    /// or `*.domain` ([`AllowEntry::parse`]).
    pub fn new(allow: &[String], allow_private: bool) -> Result<Self, EgressError> {
        let entries = allow
            .iter()
            .map(|raw| AllowEntry::parse(raw))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EgressError::InvalidRule {
                entry: e.entry,
                reason: e.reason,
            })?;
        Ok(Self::from_entries(&entries, allow_private))
    }

    /// The rules of entries parsed already (a region's validated config).
    #[must_use]
    pub fn from_entries(allow: &[AllowEntry], allow_private: bool) -> Self {
        Self {
            any_public: allow.iter().any(AllowEntry::is_any),
            entries: allow.iter().filter(|e| !e.is_any()).cloned().collect(),
            allow_private,
        }
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
                let named = self.entries.iter().any(|e| e.names(domain, Some(port)));
                let admitted =
                    self.any_public || self.entries.iter().any(|e| e.admits(domain, port));
                if admitted {
                    Ok(Grant { named })
                } else {
                    Err(EgressError::HostNotAllowed {
                        url: Box::new(url.clone()),
                        host: domain
                            .strip_suffix('.')
                            .unwrap_or(domain)
                            .to_ascii_lowercase(),
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
            .any(|e| e.port_matches(port) && *e.pattern() == HostPattern::Ip(ip));
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
        self.entries.iter().any(|e| e.names(host, None))
    }

    /// Whether any entry would let this host name through, on some port.
    pub(crate) fn admits_domain(&self, host: &str) -> bool {
        self.any_public || self.entries.iter().any(|e| e.matches_host(host))
    }

    /// Whether this exact address is an entry without a port. The resolver
    /// cannot see the port, so an entry such as `127.0.0.1:11434` must not make
    /// a name that resolves to `127.0.0.1` reachable on every port; only a
    /// port-less entry consents to the address however it is reached.
    pub(crate) fn lists_ip(&self, ip: IpAddr) -> bool {
        self.entries
            .iter()
            .any(|e| e.port().is_none() && *e.pattern() == HostPattern::Ip(ip))
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
    fn a_bad_entry_is_refused_with_the_entry_named() {
        // Which entries are bad is `AllowEntry::parse`'s to decide (its own
        // table in meridian-core); here, that the rules pass its refusal on.
        for raw in ["https://api.openai.com", "*:443", "[::zz]"] {
            let err = EgressRules::new(&[raw.to_owned()], false)
                .err()
                .unwrap_or_else(|| panic!("`{raw}` was accepted"));
            assert!(
                matches!(&err, EgressError::InvalidRule { entry, .. } if entry == raw),
                "{err}"
            );
            assert!(err.to_string().contains(&format!("`{raw}`")), "{err}");
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
