//! Which IP addresses count as "public", and which special range every other
//! address falls in.
//!
//! The table follows the IANA special-purpose registries (RFC 6890 and its
//! updates). It errs on the side of refusing: any IPv6 address outside global
//! unicast `2000::/3` is [`AddressClass::Reserved`], and addresses that embed an
//! IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by the IPv4 address they
//! carry, since that is where the packets end up.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The special-purpose range an IP address belongs to, or [`AddressClass::Public`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Globally routable unicast: reachable by `*`.
    Public,
    /// `0.0.0.0/8` ("this network"; Linux connects `0.0.0.0` to the local host) and `::`.
    Unspecified,
    /// `127.0.0.0/8` and `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`) and deprecated IPv6 site-local `fec0::/10`.
    Private,
    /// Carrier-grade NAT shared space `100.64.0.0/10` (RFC 6598).
    SharedCgnat,
    /// `169.254.0.0/16` and `fe80::/10`.
    LinkLocal,
    /// Cloud instance-metadata endpoints: `169.254.169.254` (AWS, GCP, Azure),
    /// `169.254.170.2` (AWS ECS), `100.100.100.200` (Alibaba Cloud),
    /// `192.0.0.192` (Oracle Cloud), `fd00:ec2::254` (AWS IPv6).
    /// Refused even with `allow_private`, unless the address itself is listed.
    CloudMetadata,
    /// `224.0.0.0/4` and `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15` and `2001:2::/48`.
    Benchmarking,
    /// `fc00::/7`.
    UniqueLocal,
    /// Everything else that is not globally routable: `240.0.0.0/4`, `192.0.0.0/24`,
    /// IPv6 outside `2000::/3` (IPv4-compatible `::/96`, discard `100::/64`,
    /// local NAT64 `64:ff9b:1::/48`, …) and the IETF protocol block `2001::/23`
    /// (Teredo, ORCHID).
    Reserved,
}

impl AddressClass {
    /// A stable lower-case name for logs, errors and the audit report.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedCgnat => "shared_cgnat",
            Self::LinkLocal => "link_local",
            Self::CloudMetadata => "cloud_metadata",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::UniqueLocal => "unique_local",
            Self::Reserved => "reserved",
        }
    }

    /// Whether the address may be reached.
    ///
    /// `named` is true when an explicit allow-list entry names the host being
    /// connected to; `literally_listed` when the address itself is an entry.
    /// The operator's naming a host is consent to its private addresses, but
    /// metadata endpoints hold credentials, so only the literal address unlocks them.
    pub fn permitted(self, named: bool, literally_listed: bool, allow_private: bool) -> bool {
        match self {
            Self::Public => true,
            Self::CloudMetadata => literally_listed,
            Self::Unspecified
            | Self::Loopback
            | Self::Private
            | Self::SharedCgnat
            | Self::LinkLocal
            | Self::Multicast
            | Self::Broadcast
            | Self::Documentation
            | Self::Benchmarking
            | Self::UniqueLocal
            | Self::Reserved => named || literally_listed || allow_private,
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)];

/// Classifies an address.
#[must_use]
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    if METADATA_V4.contains(&ip) {
        return AddressClass::CloudMetadata;
    }
    match ip.octets() {
        [0, ..] => AddressClass::Unspecified,
        [127, ..] => AddressClass::Loopback,
        [10, ..] | [192, 168, ..] => AddressClass::Private,
        [172, b, ..] if (16..=31).contains(&b) => AddressClass::Private,
        [100, b, ..] if (64..=127).contains(&b) => AddressClass::SharedCgnat,
        [169, 254, ..] => AddressClass::LinkLocal,
        [192, 0, 0, _] => AddressClass::Reserved,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => AddressClass::Documentation,
        [198, 18 | 19, ..] => AddressClass::Benchmarking,
        [255, 255, 255, 255] => AddressClass::Broadcast,
        [224..=239, ..] => AddressClass::Multicast,
        [240..=255, ..] => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if METADATA_V6.contains(&ip) {
        return AddressClass::CloudMetadata;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    let s = ip.segments();
    match s {
        // NAT64 well-known prefix 64:ff9b::/96: the gateway forwards to the embedded IPv4.
        [0x0064, 0xff9b, 0, 0, 0, 0, hi, lo] => classify_v4(embedded_v4(hi, lo)),
        // 6to4 2002::/16: packets are tunnelled to the embedded IPv4.
        [0x2002, hi, lo, ..] => match classify_v4(embedded_v4(hi, lo)) {
            AddressClass::Public => AddressClass::Public,
            _ => AddressClass::Reserved,
        },
        [0xff00..=0xffff, ..] => AddressClass::Multicast,
        [0xfe80..=0xfebf, ..] => AddressClass::LinkLocal,
        [0xfec0..=0xfeff, ..] => AddressClass::Private,
        [0xfc00..=0xfdff, ..] => AddressClass::UniqueLocal,
        [0x2001, 0x0db8, ..] => AddressClass::Documentation,
        [0x3fff, 0x0000..=0x0fff, ..] => AddressClass::Documentation,
        [0x2001, 0x0002, 0, ..] => AddressClass::Benchmarking,
        [0x2001, 0x0000..=0x01ff, ..] => AddressClass::Reserved,
        [first, ..] if first & 0xe000 != 0x2000 => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (case name, address, expected class)
    const TABLE: &[(&str, &str, AddressClass)] = &[
        ("public v4", "93.184.216.34", AddressClass::Public),
        (
            "public v4 next to cgnat",
            "100.128.0.1",
            AddressClass::Public,
        ),
        (
            "public v4 next to 172.16/12",
            "172.32.0.1",
            AddressClass::Public,
        ),
        ("public v6", "2606:4700::1111", AddressClass::Public),
        ("this network 0/8", "0.1.2.3", AddressClass::Unspecified),
        ("unspecified v4", "0.0.0.0", AddressClass::Unspecified),
        ("unspecified v6", "::", AddressClass::Unspecified),
        ("loopback 127/8", "127.0.0.1", AddressClass::Loopback),
        ("loopback 127/8 high", "127.255.1.2", AddressClass::Loopback),
        ("loopback v6", "::1", AddressClass::Loopback),
        ("private 10/8", "10.0.0.1", AddressClass::Private),
        ("private 172.16/12 low", "172.16.0.1", AddressClass::Private),
        (
            "private 172.16/12 high",
            "172.31.255.255",
            AddressClass::Private,
        ),
        ("private 192.168/16", "192.168.1.1", AddressClass::Private),
        ("site-local fec0::/10", "fec0::1", AddressClass::Private),
        (
            "cgnat 100.64/10 low",
            "100.64.0.1",
            AddressClass::SharedCgnat,
        ),
        (
            "cgnat 100.64/10 high",
            "100.127.255.254",
            AddressClass::SharedCgnat,
        ),
        (
            "link-local 169.254/16",
            "169.254.1.1",
            AddressClass::LinkLocal,
        ),
        ("link-local fe80::/10", "fe80::1", AddressClass::LinkLocal),
        (
            "metadata aws/gcp/azure",
            "169.254.169.254",
            AddressClass::CloudMetadata,
        ),
        (
            "metadata aws ecs",
            "169.254.170.2",
            AddressClass::CloudMetadata,
        ),
        (
            "metadata alibaba",
            "100.100.100.200",
            AddressClass::CloudMetadata,
        ),
        (
            "metadata oracle",
            "192.0.0.192",
            AddressClass::CloudMetadata,
        ),
        (
            "metadata aws v6",
            "fd00:ec2::254",
            AddressClass::CloudMetadata,
        ),
        (
            "metadata v4-mapped",
            "::ffff:169.254.169.254",
            AddressClass::CloudMetadata,
        ),
        ("multicast 224/4", "224.0.0.1", AddressClass::Multicast),
        (
            "multicast 224/4 high",
            "239.255.255.250",
            AddressClass::Multicast,
        ),
        ("multicast ff00::/8", "ff02::1", AddressClass::Multicast),
        ("broadcast", "255.255.255.255", AddressClass::Broadcast),
        (
            "documentation 192.0.2/24",
            "192.0.2.10",
            AddressClass::Documentation,
        ),
        (
            "documentation 198.51.100/24",
            "198.51.100.7",
            AddressClass::Documentation,
        ),
        (
            "documentation 203.0.113/24",
            "203.0.113.99",
            AddressClass::Documentation,
        ),
        (
            "documentation 2001:db8::/32",
            "2001:db8::1",
            AddressClass::Documentation,
        ),
        (
            "documentation 3fff::/20",
            "3fff:0fff::1",
            AddressClass::Documentation,
        ),
        (
            "benchmarking 198.18/15",
            "198.18.0.1",
            AddressClass::Benchmarking,
        ),
        (
            "benchmarking 198.18/15 upper half",
            "198.19.255.1",
            AddressClass::Benchmarking,
        ),
        (
            "benchmarking 2001:2::/48",
            "2001:2::1",
            AddressClass::Benchmarking,
        ),
        (
            "unique-local fc00::/7 fc",
            "fc00::1",
            AddressClass::UniqueLocal,
        ),
        (
            "unique-local fc00::/7 fd",
            "fd12:3456::1",
            AddressClass::UniqueLocal,
        ),
        ("reserved 240/4", "240.0.0.1", AddressClass::Reserved),
        ("reserved 192.0.0/24", "192.0.0.8", AddressClass::Reserved),
        (
            "reserved teredo 2001::/32",
            "2001:0:4136:e378::1",
            AddressClass::Reserved,
        ),
        (
            "reserved ipv4-compatible ::/96",
            "::10.0.0.1",
            AddressClass::Reserved,
        ),
        (
            "reserved discard 100::/64",
            "100::1",
            AddressClass::Reserved,
        ),
        (
            "reserved local nat64 64:ff9b:1::/48",
            "64:ff9b:1::a00:1",
            AddressClass::Reserved,
        ),
        (
            "v4-mapped loopback",
            "::ffff:127.0.0.1",
            AddressClass::Loopback,
        ),
        (
            "v4-mapped private",
            "::ffff:10.1.2.3",
            AddressClass::Private,
        ),
        (
            "v4-mapped cgnat",
            "::ffff:100.64.0.1",
            AddressClass::SharedCgnat,
        ),
        (
            "v4-mapped public",
            "::ffff:93.184.216.34",
            AddressClass::Public,
        ),
        (
            "nat64 of loopback",
            "64:ff9b::7f00:1",
            AddressClass::Loopback,
        ),
        (
            "nat64 of public",
            "64:ff9b::5db8:d822",
            AddressClass::Public,
        ),
        (
            "6to4 of private",
            "2002:0a00:0001::1",
            AddressClass::Reserved,
        ),
        ("6to4 of public", "2002:5db8:d822::1", AddressClass::Public),
    ];

    #[test]
    fn every_named_range_is_classified() {
        for (case, addr, expected) in TABLE {
            let ip: IpAddr = addr
                .parse()
                .unwrap_or_else(|e| panic!("{case}: {addr}: {e}"));
            assert_eq!(classify(ip), *expected, "case `{case}` ({addr})");
        }
    }

    #[test]
    fn only_public_is_reachable_without_consent() {
        for (case, addr, class) in TABLE {
            let ok = class.permitted(false, false, false);
            assert_eq!(ok, *class == AddressClass::Public, "case `{case}` ({addr})");
        }
    }

    #[test]
    fn allow_private_opens_everything_but_metadata() {
        for (case, addr, class) in TABLE {
            let ok = class.permitted(false, false, true);
            assert_eq!(
                ok,
                *class != AddressClass::CloudMetadata,
                "case `{case}` ({addr})"
            );
        }
    }

    #[test]
    fn naming_the_host_does_not_unlock_metadata_but_listing_the_address_does() {
        assert!(!AddressClass::CloudMetadata.permitted(true, false, true));
        assert!(AddressClass::CloudMetadata.permitted(true, true, false));
        assert!(AddressClass::Loopback.permitted(true, false, false));
    }
}
