//! The region's network and mail settings as typed values: allow-list
//! entries ([`AllowEntry`]), the mail relay ([`MailRelay`]) and where an
//! address or host name is ([`AddressClass`], [`HostClass`]).
//!
//! Every crate that asks "does the allow-list admit this host?", "does it name
//! this host?" or "is this host on loopback?" asks these types; nothing else
//! parses `egress.allow` or `mail.smtp_url`, or classifies addresses.

mod address;
mod allow;
mod mail;
mod storage;

use std::net::{IpAddr, Ipv6Addr};

pub use address::{AddressClass, classify};
pub use allow::{AllowEntry, AllowEntryError, HostPattern};
pub use mail::{MailRelay, MailRelayError, SmtpRelay, SmtpTls};
pub use storage::{POSTGRES_PORT, StorageBackend, StorageUrl, StorageUrlError};

/// Where a host is, judged from its text alone (no DNS): an IP literal by its
/// [`AddressClass`], a host name by its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostClass {
    /// An IP literal, and the range it is in.
    Address(AddressClass),
    /// `localhost` or a name below it (`a.localhost`): this machine by definition.
    Localhost,
    /// A name that only a local resolver knows: one label (`db`), or below
    /// `svc` / `cluster.local` (a Kubernetes Service).
    ClusterName,
    /// Any other DNS name; where it points is known only after resolution.
    DnsName,
}

impl HostClass {
    /// Whether the host is this machine's loopback: `127.0.0.0/8`, `::1`
    /// (also IPv4-mapped), `localhost` and names below it.
    #[must_use]
    pub fn is_loopback(self) -> bool {
        matches!(
            self,
            Self::Address(AddressClass::Loopback) | Self::Localhost
        )
    }

    /// Whether connecting to the host reaches this machine: loopback, or
    /// the unspecified address (`0.0.0.0`, `::`), which Linux connects to the
    /// local host. In a pod that is the pod itself.
    #[must_use]
    pub fn is_this_machine(self) -> bool {
        self.is_loopback() || self == Self::Address(AddressClass::Unspecified)
    }

    /// Whether the egress guard needs consent (the host named in the
    /// allow-list, or `allow_private`) to reach it: every IP literal outside
    /// public ranges, and `localhost`. Names are judged after resolution.
    #[must_use]
    pub fn needs_consent(self) -> bool {
        match self {
            Self::Address(class) => class != AddressClass::Public,
            Self::Localhost => true,
            Self::ClusterName | Self::DnsName => false,
        }
    }
}

/// Classifies a host as written in a URL or an allow-list entry: an IP
/// literal (IPv6 with or without brackets) or a name; case, a trailing dot and
/// a leading `*.` do not matter.
#[must_use]
pub fn classify_host(host: &str) -> HostClass {
    let h = host.trim();
    let bare = h
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(h);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return HostClass::Address(classify(ip));
    }
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return HostClass::Address(classify(IpAddr::V6(v6)));
    }
    let name = bare
        .strip_prefix("*.")
        .unwrap_or(bare)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        HostClass::Localhost
    } else if !name.contains('.') || name.ends_with(".svc") || name.ends_with(".cluster.local") {
        HostClass::ClusterName
    } else {
        HostClass::DnsName
    }
}

impl AllowEntry {
    /// Where the entry's host is ([`classify_host`]); `None` for `*`.
    #[must_use]
    pub fn host_class(&self) -> Option<HostClass> {
        match self.pattern() {
            HostPattern::Any => None,
            HostPattern::Ip(ip) => Some(HostClass::Address(classify(*ip))),
            HostPattern::Domain(_) | HostPattern::Subdomains(_) => {
                Some(classify_host(&self.host_text()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How one allow-list entry treats one host on one port.
    struct Row {
        /// The entry as written.
        entry: &'static str,
        /// The host asked about, as in a URL.
        host: &'static str,
        port: u16,
        /// The entry lets the host through on the port.
        admits: bool,
        /// The entry names the host (consent to its private addresses).
        names: bool,
        /// Reaching the host through this entry needs `allow_private`: the
        /// entry admits it without naming it and the host is not public.
        needs_private_consent: bool,
        /// Where the entry's host is; the Helm NetworkPolicy peer follows from
        /// it (loopback refused, an address a CIDR, a cluster name the cluster,
        /// other names public addresses). `None` for `*` (public addresses).
        entry_class: Option<HostClass>,
    }

    const DNS: Option<HostClass> = Some(HostClass::DnsName);
    const fn addr(class: AddressClass) -> Option<HostClass> {
        Some(HostClass::Address(class))
    }

    #[rustfmt::skip]
    const TABLE: &[Row] = &[
        // `*`: everything matches, nothing is named; private hosts need `allow_private`.
        Row { entry: "*", host: "feeds.example.org", port: 443, admits: true, names: false, needs_private_consent: false, entry_class: None },
        Row { entry: "*", host: "93.184.216.34", port: 8080, admits: true, names: false, needs_private_consent: false, entry_class: None },
        Row { entry: "*", host: "127.0.0.1", port: 80, admits: true, names: false, needs_private_consent: true, entry_class: None },
        Row { entry: "*", host: "localhost", port: 80, admits: true, names: false, needs_private_consent: true, entry_class: None },
        Row { entry: "*", host: "10.1.2.3", port: 80, admits: true, names: false, needs_private_consent: true, entry_class: None },
        Row { entry: "*", host: "[::1]", port: 80, admits: true, names: false, needs_private_consent: true, entry_class: None },
        // `*.example.com`: names below the domain, never the apex, never named.
        Row { entry: "*.example.com", host: "feeds.example.com", port: 443, admits: true, names: false, needs_private_consent: false, entry_class: DNS },
        Row { entry: "*.example.com", host: "a.b.example.com", port: 443, admits: true, names: false, needs_private_consent: false, entry_class: DNS },
        Row { entry: "*.example.com", host: "example.com", port: 443, admits: false, names: false, needs_private_consent: false, entry_class: DNS },
        Row { entry: "*.example.com", host: "badexample.com", port: 443, admits: false, names: false, needs_private_consent: false, entry_class: DNS },
        Row { entry: "*.example.com", host: "FEEDS.Example.COM.", port: 443, admits: true, names: false, needs_private_consent: false, entry_class: DNS },
        Row { entry: "*.example.com:8443", host: "feeds.example.com", port: 443, admits: false, names: false, needs_private_consent: false, entry_class: DNS },
        Row { entry: "*.example.com:8443", host: "feeds.example.com", port: 8443, admits: true, names: false, needs_private_consent: false, entry_class: DNS },
        // An exact host: itself only, any port unless one is given.
        Row { entry: "example.com", host: "example.com", port: 443, admits: true, names: true, needs_private_consent: false, entry_class: DNS },
        Row { entry: "example.com", host: "feeds.example.com", port: 443, admits: false, names: false, needs_private_consent: false, entry_class: DNS },
        Row { entry: "example.com", host: "example.com.", port: 8080, admits: true, names: true, needs_private_consent: false, entry_class: DNS },
        Row { entry: "API.OpenAI.com.", host: "api.openai.com", port: 443, admits: true, names: true, needs_private_consent: false, entry_class: DNS },
        Row { entry: "api.openai.com:443", host: "api.openai.com", port: 443, admits: true, names: true, needs_private_consent: false, entry_class: DNS },
        Row { entry: "api.openai.com:443", host: "api.openai.com", port: 8443, admits: false, names: false, needs_private_consent: false, entry_class: DNS },
        Row { entry: "bücher.example", host: "xn--bcher-kva.example", port: 443, admits: true, names: true, needs_private_consent: false, entry_class: DNS },
        // Loopback names and addresses.
        Row { entry: "localhost", host: "localhost", port: 8080, admits: true, names: true, needs_private_consent: false, entry_class: Some(HostClass::Localhost) },
        Row { entry: "localhost:8080", host: "LOCALHOST.", port: 8080, admits: true, names: true, needs_private_consent: false, entry_class: Some(HostClass::Localhost) },
        Row { entry: "localhost", host: "127.0.0.1", port: 8080, admits: false, names: false, needs_private_consent: false, entry_class: Some(HostClass::Localhost) },
        Row { entry: "127.0.0.1", host: "127.0.0.1", port: 22, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::Loopback) },
        Row { entry: "127.0.0.1:11434", host: "127.0.0.1", port: 11434, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::Loopback) },
        Row { entry: "127.0.0.1:11434", host: "127.0.0.1", port: 22, admits: false, names: false, needs_private_consent: false, entry_class: addr(AddressClass::Loopback) },
        Row { entry: "127.0.0.1", host: "localhost", port: 22, admits: false, names: false, needs_private_consent: false, entry_class: addr(AddressClass::Loopback) },
        // IPv6 literals, with and without brackets.
        Row { entry: "[::1]:11434", host: "[::1]", port: 11434, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::Loopback) },
        Row { entry: "::1", host: "::1", port: 80, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::Loopback) },
        Row { entry: "[2001:db8::1]", host: "[2001:DB8:0::1]", port: 443, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::Documentation) },
        Row { entry: "fd00:ec2::254", host: "[fd00:ec2::254]", port: 80, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::CloudMetadata) },
        // Private ranges, named: consent given by the entry.
        Row { entry: "10.0.0.5", host: "10.0.0.5", port: 5432, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::Private) },
        Row { entry: "10.0.0.5", host: "10.0.0.6", port: 5432, admits: false, names: false, needs_private_consent: false, entry_class: addr(AddressClass::Private) },
        Row { entry: "192.168.1.1:8080", host: "192.168.1.1", port: 8080, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::Private) },
        Row { entry: "100.64.0.1", host: "100.64.0.1", port: 80, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::SharedCgnat) },
        Row { entry: "93.184.216.34", host: "93.184.216.34", port: 80, admits: true, names: true, needs_private_consent: false, entry_class: addr(AddressClass::Public) },
        // In-cluster names.
        Row { entry: "db-us:5432", host: "db-us", port: 5432, admits: true, names: true, needs_private_consent: false, entry_class: Some(HostClass::ClusterName) },
        Row { entry: "meridian-cn-ollama:11434", host: "meridian-cn-ollama", port: 11434, admits: true, names: true, needs_private_consent: false, entry_class: Some(HostClass::ClusterName) },
        Row { entry: "pg.meridian.svc.cluster.local", host: "pg.meridian.svc.cluster.local", port: 5432, admits: true, names: true, needs_private_consent: false, entry_class: Some(HostClass::ClusterName) },
    ];

    #[test]
    fn every_entry_treats_every_host_as_the_table_says() {
        for row in TABLE {
            let case = format!(
                "entry `{}`, host `{}` port {}",
                row.entry, row.host, row.port
            );
            let entry = AllowEntry::parse(row.entry).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(
                entry.admits(row.host, row.port),
                row.admits,
                "admits: {case}"
            );
            assert_eq!(
                entry.names(row.host, Some(row.port)),
                row.names,
                "names: {case}"
            );
            let needs = row.admits && !row.names && classify_host(row.host).needs_consent();
            assert_eq!(needs, row.needs_private_consent, "private consent: {case}");
            assert_eq!(entry.host_class(), row.entry_class, "entry class: {case}");
            assert_eq!(
                AllowEntry::parse(&entry.to_string()).as_ref(),
                Ok(&entry),
                "round trip: {case}"
            );
        }
        assert!(TABLE.len() >= 30);
    }

    #[test]
    fn hosts_are_classified_by_their_text() {
        for (host, loopback, this_machine) in [
            ("127.0.0.1", true, true),
            ("127.9.9.9", true, true),
            ("[::1]", true, true),
            ("::ffff:127.0.0.1", true, true),
            ("localhost", true, true),
            ("LocalHost.", true, true),
            ("a.localhost", true, true),
            ("0.0.0.0", false, true),
            ("[::]", false, true),
            ("10.0.0.1", false, false),
            ("api.openai.com", false, false),
            ("notlocalhost", false, false),
        ] {
            let class = classify_host(host);
            assert_eq!(class.is_loopback(), loopback, "{host}: {class:?}");
            assert_eq!(class.is_this_machine(), this_machine, "{host}: {class:?}");
        }
    }
}
