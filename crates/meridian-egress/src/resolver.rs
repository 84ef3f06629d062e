//! The DNS resolver the region's reqwest client uses: it resolves with tokio
//! and hands reqwest only the addresses the rules allow.
//!
//! Checking after resolution, inside the connector, is what makes the guard
//! hold against DNS tricks: the addresses we vet are the addresses hyper
//! connects to, so a name cannot resolve to a public address for a check and
//! to `127.0.0.1` for the connection (DNS rebinding).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::rules::EgressRules;
use meridian_core::net::AddressClass;

/// Why the resolver gave reqwest no address. Carried through reqwest's error
/// chain and turned back into an [`crate::EgressError`] by `from_reqwest`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveFailure {
    /// No entry admits this host name at all (a request made with
    /// `reqwest_client()` without calling `check_url` first).
    #[error("host `{host}` is not in the region's egress allow-list")]
    NotAllowed { host: String },
    /// Every address the name resolved to is in a refused range; the first is named.
    #[error("host `{host}` resolved to {class} address {addr}")]
    Refused {
        host: String,
        addr: IpAddr,
        class: AddressClass,
    },
    #[error("could not resolve `{host}`: {source}")]
    Lookup {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{host}` resolved to no address")]
    NoAddresses { host: String },
}

/// The guard installed with `ClientBuilder::dns_resolver`.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    /// The region's rules, shared with the client.
    pub(crate) rules: Arc<EgressRules>,
    /// Fixed answers for some names (see [`crate::EgressOptions::resolve`]).
    pub(crate) overrides: Arc<HashMap<String, SocketAddr>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let inner = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let kept = inner.resolve_host(host).await?;
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The same guard for reqwest 0.12, the HTTP stack of `ollama-rs`: one
/// screening logic, two trait impls.
#[derive(Debug, Clone)]
pub(crate) struct LegacyGuardedResolver(pub(crate) GuardedResolver);

impl reqwest012::dns::Resolve for LegacyGuardedResolver {
    fn resolve(&self, name: reqwest012::dns::Name) -> reqwest012::dns::Resolving {
        let inner = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let kept = inner.resolve_host(host).await?;
            let addrs: reqwest012::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

impl GuardedResolver {
    /// The addresses `host` may be connected to, screened by the rules.
    async fn resolve_host(&self, host: String) -> Result<Vec<SocketAddr>, ResolveFailure> {
        if !self.rules.admits_domain(&host) {
            return Err(ResolveFailure::NotAllowed { host });
        }
        // reqwest cannot tell us the port, so a host named by any entry
        // counts as named (`get` closes the other-port case beforehand).
        let named = self.rules.names_domain(&host);
        let addrs = lookup(&self.overrides, &host).await?;
        screen(&self.rules, &host, named, addrs)
    }
}

/// Resolves `host`: a fixed answer when one is configured, else the system
/// resolver (through tokio's blocking pool). Either way the answer is screened
/// by the caller.
pub(crate) async fn lookup(
    overrides: &HashMap<String, SocketAddr>,
    host: &str,
) -> Result<Vec<SocketAddr>, ResolveFailure> {
    if let Some(addr) = overrides.get(&host.to_ascii_lowercase()) {
        return Ok(vec![*addr]);
    }
    match tokio::net::lookup_host((host, 0)).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(source) => Err(ResolveFailure::Lookup {
            host: host.to_owned(),
            source,
        }),
    }
}

/// Keeps the addresses the rules allow for `host`. A name that resolves to a
/// mix keeps only its allowed addresses; one whose every address is refused
/// fails, naming the first refused address.
pub(crate) fn screen(
    rules: &EgressRules,
    host: &str,
    named: bool,
    addrs: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, ResolveFailure> {
    let mut first_refused = None;
    let mut kept = Vec::with_capacity(addrs.len());
    for addr in addrs {
        match rules.admits_resolved(named, addr.ip()) {
            Ok(()) => kept.push(addr),
            Err(class) => {
                tracing::debug!(host, addr = %addr.ip(), class = class.as_str(), "Refused a resolved address");
                first_refused.get_or_insert((addr.ip(), class));
            }
        }
    }
    match (kept.is_empty(), first_refused) {
        (false, _) => Ok(kept),
        (true, Some((addr, class))) => Err(ResolveFailure::Refused {
            host: host.to_owned(),
            addr,
            class,
        }),
        (true, None) => Err(ResolveFailure::NoAddresses {
            host: host.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], allow_private: bool) -> EgressRules {
        let allow: Vec<String> = allow.iter().map(|s| (*s).to_owned()).collect();
        EgressRules::new(&allow, allow_private).unwrap()
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|a| SocketAddr::new(a.parse().unwrap(), 0))
            .collect()
    }

    #[test]
    fn star_refuses_a_name_resolving_only_to_private_addresses() {
        let r = rules(&["*"], false);
        let err = screen(&r, "rebind.test", false, addrs(&["127.0.0.1", "::1"])).unwrap_err();
        assert!(
            matches!(&err, ResolveFailure::Refused { addr, class: AddressClass::Loopback, .. }
                if *addr == "127.0.0.1".parse::<IpAddr>().unwrap()),
            "{err}"
        );
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
    }

    #[test]
    fn mixed_results_keep_only_public_addresses() {
        let r = rules(&["*"], false);
        let kept = screen(
            &r,
            "mixed.test",
            false,
            addrs(&["10.0.0.1", "93.184.216.34"]),
        )
        .unwrap();
        assert_eq!(kept, addrs(&["93.184.216.34"]));
    }

    #[test]
    fn metadata_behind_a_name_is_refused_even_with_allow_private_or_a_named_host() {
        let r = rules(&["metadata.internal", "*"], true);
        let err = screen(&r, "metadata.internal", true, addrs(&["169.254.169.254"])).unwrap_err();
        assert!(
            matches!(
                err,
                ResolveFailure::Refused {
                    class: AddressClass::CloudMetadata,
                    ..
                }
            ),
            "{err}"
        );
        let err = screen(&r, "v6.internal", false, addrs(&["fd00:ec2::254"])).unwrap_err();
        assert!(
            matches!(
                err,
                ResolveFailure::Refused {
                    class: AddressClass::CloudMetadata,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn metadata_is_reachable_when_the_address_itself_is_listed() {
        let r = rules(&["169.254.169.254", "*"], false);
        assert!(screen(&r, "metadata.internal", false, addrs(&["169.254.169.254"])).is_ok());
    }

    #[test]
    fn named_hosts_may_resolve_to_private_addresses() {
        let r = rules(&["ollama.lan"], false);
        let kept = screen(&r, "ollama.lan", true, addrs(&["192.168.1.20", "fd12::20"])).unwrap();
        assert_eq!(kept.len(), 2);
    }

    #[test]
    fn allow_private_lets_star_reach_private_addresses() {
        let r = rules(&["*"], true);
        assert!(screen(&r, "nas.lan", false, addrs(&["10.1.1.1", "100.64.3.3"])).is_ok());
    }

    #[test]
    fn empty_resolution_is_a_dns_failure() {
        let r = rules(&["*"], false);
        assert!(matches!(
            screen(&r, "empty.test", false, Vec::new()),
            Err(ResolveFailure::NoAddresses { .. })
        ));
    }
}
