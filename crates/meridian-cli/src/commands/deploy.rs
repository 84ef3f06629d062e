//! `meridian deploy values --region R [--out FILE]`: a region's Helm values,
//! written from its region file and `policies/`.
//!
//! The chart `deploy/helm/meridian` knows nothing about any region. Everything
//! region-specific in a release comes from the values this command writes, so
//! the region file stays the one source of truth and
//! `deploy/helm/meridian/values-<id>.yaml` is generated, never edited (a test
//! compares the committed files with this command's output):
//!
//! - `config.regionFiles` and `config.policies`: the region file, its OPML list
//!   and its policies (`schema.cedarschema`, `global/`, `<id>/`), mounted as
//!   ConfigMaps where `--config-dir` and `DIR/../policies` point in the pod;
//! - `run`: the CronJob's schedule, `0 <digest_hour> * * *` in the region's
//!   timezone (`spec.timeZone`);
//! - `secrets`: every secret the region names (`api_key_env`,
//!   `mail.password_env`, the audit signing key, the PostgreSQL URL) as a
//!   reference into an existing Secret, never a value;
//! - `networkPolicy.egress`: one rule per destination the region's config
//!   names (see [`egress_rules`]); the chart adds DNS;
//! - `ollama`: for a region whose `ollama` models point at loopback (the
//!   laptop setting), an in-cluster Ollama that pulls those models, with the
//!   region file's endpoints and allow-list entries rewritten to its Service.
//!   Model lists cannot be overridden from the environment, so the deployed
//!   region file itself carries the in-cluster URL; a comment at its top says so.
//!
//! `MERIDIAN_<REGION>__…` overrides in the environment are refused, except the
//! storage URL: the values would otherwise describe a region other than the
//! file, and the pods would run the file. The storage URL is the exception
//! because production passes it as a Secret: its host and port shape the
//! database rule, and the URL itself (which may hold a password) is never written.

mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use meridian_config::{Problem, ProviderKind, RegionConfig, StorageBackend};
use meridian_core::RegionId;
use meridian_core::net::{AllowEntry, HostClass, classify_host};

use self::yaml::{Map, Node};
use crate::{Cli, EXIT_CONFIG};

/// The image the chart runs, tagged with this binary's version.
const IMAGE_REPOSITORY: &str = "ghcr.io/meridian-kit/meridian";
/// The port the in-cluster Ollama Service listens on.
const OLLAMA_PORT: u16 = 11434;
/// The ports a port-less allow entry (and `*`) opens in the NetworkPolicy:
/// the egress guard only speaks HTTP and HTTPS.
const WEB_PORTS: [u16; 2] = [80, 443];

/// `meridian deploy …`
#[derive(Debug, clap::Subcommand)]
pub enum DeployAction {
    /// Write a region's Helm values (for `deploy/helm/meridian`) from its region file and policies.
    Values(ValuesArgs),
}

/// Arguments of `meridian deploy values`.
#[derive(Debug, clap::Args)]
pub struct ValuesArgs {
    /// The region.
    #[arg(long)]
    pub region: String,
    /// Write the values to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the command.
///
/// # Errors
/// Unreadable policy or region files, or an unwritable `--out` file.
pub fn run(cli: &Cli, action: &DeployAction) -> anyhow::Result<ExitCode> {
    match action {
        DeployAction::Values(args) => values(cli, args),
    }
}

fn values(cli: &Cli, args: &ValuesArgs) -> anyhow::Result<ExitCode> {
    let config = match super::load_region(cli, &args.region) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let overrides = refused_overrides(&config.id, std::env::vars().map(|(k, _)| k));
    let sources = Sources::read(cli, &config)?;
    let text = if overrides.is_empty() {
        render(&config, &sources)
    } else {
        Err(overrides)
    };
    let text = match text {
        Ok(text) => text,
        Err(problems) => {
            for p in &problems {
                eprintln!("error: {p}");
            }
            eprintln!("values for region `{}` not written", config.id);
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            crate::say!("wrote {}", path.display());
        }
        None => crate::write_stdout(format_args!("{text}")),
    }
    Ok(ExitCode::SUCCESS)
}

/// The environment overrides of this region other than the storage URL, as problems.
fn refused_overrides(id: &RegionId, vars: impl Iterator<Item = String>) -> Vec<Problem> {
    let prefix = meridian_config::env_prefix(id);
    let storage = format!("{prefix}STORAGE__URL");
    let mut names: Vec<String> = vars
        .filter(|k| {
            k.to_ascii_uppercase().starts_with(&prefix) && k.to_ascii_uppercase() != storage
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| Problem {
            file: "environment".to_owned(),
            key: name,
            reason: format!(
                "`deploy values` writes what the region file says, so that the values and the pods agree; \
                 put this setting in `{id}.toml` or unset it (only {storage} may be set: production passes it as a Secret)"
            ),
        })
        .collect()
}

/// The files a region's release carries, read from disk.
struct Sources {
    /// The region file as written.
    region_text: String,
    /// Other files of the config directory the region needs (its OPML list),
    /// by path relative to the config directory.
    config_files: BTreeMap<String, String>,
    /// The region's policy files, by path relative to `policies/`.
    policies: BTreeMap<String, String>,
}

impl Sources {
    fn read(cli: &Cli, config: &RegionConfig) -> anyhow::Result<Self> {
        let region_text = std::fs::read_to_string(&config.source)
            .with_context(|| format!("reading {}", config.source.display()))?;
        let config_dir = config.source.parent().unwrap_or(Path::new("."));
        let mut config_files = BTreeMap::new();
        if let Some(opml) = &config.opml {
            let rel = opml.strip_prefix(config_dir).map_err(|_| {
                anyhow::anyhow!(
                    "{}: `feeds.opml`: {} is outside the config directory; a deployed region carries only files beside its region file",
                    config.source.display(),
                    opml.display()
                )
            })?;
            let text = std::fs::read_to_string(opml)
                .with_context(|| format!("reading {}", opml.display()))?;
            config_files.insert(slash_path(rel), text);
        }
        let policies = read_policies(
            &cli.config_dir.join("..").join("policies"),
            config.id.as_str(),
        )?;
        Ok(Self {
            region_text,
            config_files,
            policies,
        })
    }
}

/// A relative path with `/` separators.
fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The policy files of one region: top-level files (the schema), `global/` and
/// `<id>/`, recursively; other regions' folders, Markdown and dot files are
/// left out. A missing policies directory gives none.
fn read_policies(dir: &Path, id: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![(dir.to_owned(), 0usize)];
    while let Some((folder, depth)) = stack.pop() {
        let entries =
            std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", folder.display()))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                if depth > 0 || name == "global" || name == id {
                    stack.push((path, depth + 1));
                }
            } else if !name.ends_with(".md") {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                out.insert(slash_path(rel), text);
            }
        }
    }
    Ok(out)
}

/// Where a NetworkPolicy egress rule lets traffic go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    /// Any public address (`0.0.0.0/0` and `::/0` minus private, loopback,
    /// link-local, CGNAT, multicast and reserved ranges): NetworkPolicy cannot
    /// match host names, so a named public host is reached on its ports only.
    Public,
    /// Any pod in the cluster (a Service name: `db`, `x.ns.svc`, `….cluster.local`).
    Cluster,
    /// This release's in-cluster Ollama pods.
    Ollama,
    /// One address (an IP literal in the config).
    Cidr(String),
    /// Anywhere: a database named by a DNS name, which usually resolves to a
    /// private address the chart cannot know; narrow it with an overlay.
    Any,
}

impl Peer {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Cluster => "cluster",
            Self::Ollama => "ollama",
            Self::Cidr(_) => "cidrs",
            Self::Any => "any",
        }
    }
}

/// One egress rule: a destination, its TCP ports, and what in the config needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EgressRule {
    host: String,
    peer: Peer,
    ports: BTreeSet<u16>,
    purposes: Vec<String>,
}

/// The region's config as the pods will see it: loopback Ollama endpoints moved
/// to the in-cluster Service.
struct Deployed {
    /// The region file to mount.
    region_text: String,
    /// The in-cluster Ollama, when any model moved there.
    ollama: Option<Ollama>,
    /// Every model endpoint: (host, port, which model needs it).
    endpoints: Vec<(String, u16, String)>,
    /// `egress.allow` after the move.
    allow: Vec<AllowEntry>,
}

/// The in-cluster Ollama of a region.
struct Ollama {
    service: String,
    /// Models to pull, in config order, each once.
    models: Vec<String>,
}

/// Renders the values document, or the problems that prevent a deployment.
fn render(config: &RegionConfig, sources: &Sources) -> Result<String, Vec<Problem>> {
    check_files(config, sources)?;
    let deployed = deploy_config(config, &sources.region_text)?;
    let rules = egress_rules(config, &deployed)?;
    Ok(values_document(config, sources, &deployed, &rules))
}

/// What a ConfigMap can hold: keys of `[-._a-zA-Z0-9]` (the chart maps `/` to
/// `__`), and at most 1 MiB in all; the margin leaves room for the object itself.
const CONFIGMAP_MAX_BYTES: usize = 900 * 1024;

/// Refuses files a ConfigMap cannot carry.
fn check_files(config: &RegionConfig, sources: &Sources) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let groups = [
        ("feeds.opml", &sources.config_files),
        ("policies", &sources.policies),
    ];
    for (key, files) in groups {
        for path in files.keys() {
            let ok = path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
                && !path.contains("__");
            if !ok {
                problems.push(problem(
                    config,
                    key,
                    format!("file name `{path}` cannot be a ConfigMap key; use ASCII letters, digits, `.`, `_` and `-` (no `__`)"),
                ));
            }
        }
    }
    let region: usize = sources.region_text.len()
        + sources
            .config_files
            .values()
            .map(String::len)
            .sum::<usize>();
    let policies: usize = sources.policies.values().map(String::len).sum();
    for (what, size) in [
        ("the region file and its OPML list", region),
        ("the region's policies", policies),
    ] {
        if size > CONFIGMAP_MAX_BYTES {
            problems.push(problem(
                config,
                "",
                format!(
                    "{what} take {size} bytes; a ConfigMap holds at most {CONFIGMAP_MAX_BYTES}"
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn problem(config: &RegionConfig, key: &str, reason: String) -> Problem {
    Problem {
        file: config.source.display().to_string(),
        key: key.to_owned(),
        reason,
    }
}

/// Whether a host is the pod itself: loopback, `localhost` or unspecified.
fn is_loopback_host(host: &str) -> bool {
    classify_host(host).is_this_machine()
}

/// The in-cluster URL replacing a loopback Ollama endpoint, or `None` when the
/// endpoint is not on loopback.
fn in_cluster_endpoint(endpoint: &url::Url, service: &str) -> Option<String> {
    let host = endpoint.host_str()?;
    if !is_loopback_host(host) {
        return None;
    }
    let path = if endpoint.path() == "/" {
        ""
    } else {
        endpoint.path()
    };
    Some(format!(
        "{}://{service}:{OLLAMA_PORT}{path}",
        endpoint.scheme()
    ))
}

/// Whether an allow entry stands for a moved endpoint: a loopback host on a
/// moved port, or on any port.
fn covers_moved(entry: &AllowEntry, moved_ports: &BTreeSet<u16>) -> bool {
    entry.host_class().is_some_and(HostClass::is_this_machine)
        && entry.port().is_none_or(|p| moved_ports.contains(&p))
}

/// `egress.allow` with the entries covering a moved endpoint replaced by one
/// entry for the Service, where the first of them stood (first when none
/// stood and an endpoint moved). Works on the parsed entries and on the
/// entries as written in the region file alike.
fn rewrite_allow<T: Clone>(
    allow: &[T],
    moved: impl Fn(&T) -> bool,
    service: T,
    any_moved: bool,
) -> Vec<T> {
    let mut out = Vec::with_capacity(allow.len());
    let mut placed = false;
    for entry in allow {
        if moved(entry) {
            if !placed {
                out.push(service.clone());
                placed = true;
            }
        } else {
            out.push(entry.clone());
        }
    }
    if !placed && any_moved {
        out.insert(0, service);
    }
    out
}

/// Moves loopback Ollama models to the in-cluster Service, in the config's
/// view (for the egress rules) and in the region file's text (for the pods),
/// and checks that both moved the same models.
fn deploy_config(config: &RegionConfig, region_text: &str) -> Result<Deployed, Vec<Problem>> {
    let service = format!("meridian-{}-ollama", config.id);
    let mut problems = Vec::new();
    let mut endpoints = Vec::new();
    let mut moved_ports = BTreeSet::new();
    let mut pull = Vec::new();
    let mut index: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (role, model) in config.all_models() {
        let i = index.entry(role.as_str()).or_insert(0);
        let key = format!("models.{}[{i}].endpoint", role.as_str());
        *i += 1;
        let Some(endpoint) = &model.endpoint else {
            continue;
        };
        let Some(host) = endpoint.host_str() else {
            continue;
        };
        let port = endpoint.port_or_known_default().unwrap_or(443);
        let purpose = format!(
            "model `{}` ({}, hosted in {})",
            model.name,
            role.as_str(),
            model.hosted_in
        );
        match (model.provider, in_cluster_endpoint(endpoint, &service)) {
            (ProviderKind::Ollama, Some(_)) => {
                moved_ports.insert(port);
                if !pull.contains(&model.model) {
                    pull.push(model.model.clone());
                }
                endpoints.push((service.clone(), OLLAMA_PORT, purpose));
            }
            (_, Some(_)) => problems.push(problem(
                config,
                &key,
                format!(
                    "`{endpoint}` is on loopback: in a pod it reaches only the pod itself; only `ollama` models are moved to the in-cluster Ollama, so name a host the cluster can reach"
                ),
            )),
            (_, None) => endpoints.push((host.to_owned(), port, purpose)),
        }
    }
    let allow = match AllowEntry::parse(&format!("{service}:{OLLAMA_PORT}")) {
        Ok(service_entry) => rewrite_allow(
            &config.egress.allow,
            |e| covers_moved(e, &moved_ports),
            service_entry,
            !moved_ports.is_empty(),
        ),
        Err(e) => {
            problems.push(problem(config, "id", e.to_string()));
            Vec::new()
        }
    };
    let region_text = if pull.is_empty() {
        region_text.to_owned()
    } else {
        match rewrite_region_file(region_text, &service, &moved_ports) {
            Ok((text, count)) if count == pull_count(config, &service) => text,
            Ok((_, count)) => {
                problems.push(problem(
                    config,
                    "models",
                    format!(
                        "{count} `ollama` endpoint(s) on loopback were found in the file but {} in the loaded config; write each model as a `[[models.<role>]]` table",
                        pull_count(config, &service)
                    ),
                ));
                String::new()
            }
            Err(reason) => {
                problems.push(problem(config, "", reason));
                String::new()
            }
        }
    };
    if problems.is_empty() {
        let ollama = (!pull.is_empty()).then_some(Ollama {
            service,
            models: pull,
        });
        Ok(Deployed {
            region_text,
            ollama,
            endpoints,
            allow,
        })
    } else {
        Err(problems)
    }
}

/// How many models (of every role) move to the in-cluster Ollama.
fn pull_count(config: &RegionConfig, service: &str) -> usize {
    config
        .all_models()
        .filter(|(_, m)| {
            m.provider == ProviderKind::Ollama
                && m.endpoint
                    .as_ref()
                    .is_some_and(|e| in_cluster_endpoint(e, service).is_some())
        })
        .count()
}

/// The region file with loopback `ollama` endpoints and their allow entries
/// pointing at the in-cluster Service, comments and layout kept; returns the
/// text and the number of endpoints rewritten.
fn rewrite_region_file(
    text: &str,
    service: &str,
    moved_ports: &BTreeSet<u16>,
) -> Result<(String, usize), String> {
    use toml_edit::{Array, DocumentMut, Item, Value};

    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("cannot be edited as TOML: {e}"))?;
    let mut count = 0;
    if let Some(models) = doc.get_mut("models").and_then(Item::as_table_like_mut) {
        for (_, role) in models.iter_mut() {
            let Some(tables) = role.as_array_of_tables_mut() else {
                continue;
            };
            for table in tables.iter_mut() {
                if table.get("provider").and_then(Item::as_str) != Some("ollama") {
                    continue;
                }
                let Some(value) = table.get_mut("endpoint").and_then(Item::as_value_mut) else {
                    continue;
                };
                let new = value
                    .as_str()
                    .and_then(|s| url::Url::parse(s).ok())
                    .and_then(|u| in_cluster_endpoint(&u, service));
                if let Some(new) = new {
                    let decor = value.decor().clone();
                    *value = Value::from(new);
                    *value.decor_mut() = decor;
                    count += 1;
                }
            }
        }
    }
    if let Some(allow) = doc
        .get_mut("egress")
        .and_then(|e| e.get_mut("allow"))
        .and_then(Item::as_value_mut)
        && let Some(entries) = allow.as_array()
    {
        let entries: Vec<String> = entries
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let mut array: Array = rewrite_allow(
            &entries,
            |e| AllowEntry::parse(e).is_ok_and(|e| covers_moved(&e, moved_ports)),
            format!("{service}:{OLLAMA_PORT}"),
            !moved_ports.is_empty(),
        )
        .into_iter()
        .collect();
        array.fmt();
        let decor = allow.decor().clone();
        *allow = Value::Array(array);
        *allow.decor_mut() = decor;
    }
    let header = format!(
        "# Deployed copy written by `meridian deploy values`: `ollama` endpoints on loopback\n\
         # point at the in-cluster Ollama Service `{service}` (port {OLLAMA_PORT}), here and in `egress.allow`.\n"
    );
    Ok((format!("{header}{doc}"), count))
}

/// Where a host is, for the NetworkPolicy, by [`classify_host`]. See [`Peer`].
fn peer_for(host: &str, ollama: Option<&Ollama>, database: bool) -> Peer {
    if ollama.is_some_and(|o| o.service == host) {
        return Peer::Ollama;
    }
    match classify_host(host) {
        HostClass::Address(_) => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(ip) => Peer::Cidr(format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 })),
                Err(_) => Peer::Any,
            }
        }
        HostClass::Localhost | HostClass::ClusterName => Peer::Cluster,
        HostClass::DnsName if database => Peer::Any,
        HostClass::DnsName => Peer::Public,
    }
}

/// The NetworkPolicy's egress, beside DNS (which the chart adds): one rule per
/// destination the region's config names, merged by host.
///
/// - `egress.allow` `*` (any public feed host): public addresses on 80 and 443.
///   The egress guard lets `*` reach any port; a NetworkPolicy cannot list
///   every port, so a feed on another port needs a `host:port` entry.
/// - every other allow entry: its host on its port, or on 80 and 443;
/// - every model endpoint: its host on its port (the in-cluster Ollama for
///   moved models);
/// - the SMTP relay (`mail.smtp_url`): its host on its port (lettre's defaults:
///   25 plain, 587 STARTTLS, 465 implicit TLS);
/// - PostgreSQL (`storage.url`): its host on its port (default 5432).
///
/// Hosts are placed by [`peer_for`]. Loopback hosts are refused: in a pod they
/// reach the pod itself.
fn egress_rules(
    config: &RegionConfig,
    deployed: &Deployed,
) -> Result<Vec<EgressRule>, Vec<Problem>> {
    let ollama = deployed.ollama.as_ref();
    let mut rules: BTreeMap<(String, Peer), EgressRule> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut add = |host: &str, database: bool, ports: &[u16], purpose: String| {
        let peer = if host == "*" {
            Peer::Public
        } else {
            peer_for(host, ollama, database)
        };
        let rule = rules
            .entry((host.to_owned(), peer.clone()))
            .or_insert_with(|| EgressRule {
                host: host.to_owned(),
                peer,
                ports: BTreeSet::new(),
                purposes: Vec::new(),
            });
        rule.ports.extend(ports);
        if !rule.purposes.contains(&purpose) {
            rule.purposes.push(purpose);
        }
    };
    for (i, entry) in deployed.allow.iter().enumerate() {
        let (host, port) = (entry.host_text(), entry.port());
        if entry.host_class().is_some_and(HostClass::is_this_machine) {
            problems.push(problem(
                config,
                &format!("egress.allow[{i}]"),
                format!("`{entry}` is on loopback: in a pod it reaches only the pod itself; name a host the cluster can reach"),
            ));
            continue;
        }
        let ports = port.map_or(WEB_PORTS.to_vec(), |p| vec![p]);
        let purpose = if host == "*" {
            "egress.allow `*` (any public host: feeds)".to_owned()
        } else {
            format!("egress.allow `{entry}`")
        };
        add(&host, false, &ports, purpose);
    }
    for (host, port, purpose) in &deployed.endpoints {
        add(host, false, &[*port], purpose.clone());
    }
    if let Some(smtp) = config.mail.relay.smtp() {
        if smtp.host_class().is_this_machine() {
            problems.push(problem(
                config,
                "mail.smtp_url",
                format!(
                    "relay `{}` is on loopback: in a pod it reaches only the pod itself",
                    smtp.host()
                ),
            ));
        } else {
            add(
                smtp.host(),
                false,
                &[smtp.port()],
                "mail.smtp_url (SMTP relay)".to_owned(),
            );
        }
    }
    if config.storage_backend == StorageBackend::Postgres {
        match config.storage_url.host_port() {
            Some((host, _)) if is_loopback_host(&host) => problems.push(problem(
                config,
                "storage.url",
                format!("database host `{host}` is on loopback: in a pod it reaches only the pod itself"),
            )),
            Some((host, port)) => add(&host, true, &[port], "storage.url (PostgreSQL)".to_owned()),
            None => problems.push(problem(
                config,
                "storage.url",
                "names no host (a Unix socket cannot be reached from a pod); use postgres://user@host:port/db".to_owned(),
            )),
        }
    }
    if problems.is_empty() {
        Ok(rules.into_values().collect())
    } else {
        Err(problems)
    }
}

/// One environment variable of the pods taken from a Secret.
struct SecretEnv {
    name: String,
    optional: bool,
    why: String,
}

/// Every secret the region needs, by the environment variable that carries it.
fn secret_env(config: &RegionConfig) -> Vec<SecretEnv> {
    let prefix = meridian_config::env_prefix(&config.id);
    // API keys first, each variable once with every model that uses it.
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for (role, model) in config.all_models() {
        let Some(var) = &model.api_key_env else {
            continue;
        };
        let user = format!("`{}` ({})", model.name, role.as_str());
        match keys.iter_mut().find(|(v, _)| v == var) {
            Some((_, users)) => users.push(user),
            None => keys.push((var.clone(), vec![user])),
        }
    }
    let mut out: Vec<SecretEnv> = keys
        .into_iter()
        .map(|(name, users)| SecretEnv {
            name,
            optional: true,
            why: format!(
                "API key of model {}; optional: without it the model is skipped within the region's own list",
                users.join(", ")
            ),
        })
        .collect();
    if config.mail.relay.smtp().is_some()
        && let Some(var) = &config.mail.password_env
    {
        out.push(SecretEnv {
            name: var.clone(),
            optional: false,
            why: "SMTP relay password (`mail.password_env`)".to_owned(),
        });
    }
    // Required even on SQLite: in a cluster the server (which checks links)
    // and the daily run (which mails them) are different pods.
    out.push(SecretEnv {
        name: config.server.token_secret_env.clone(),
        optional: false,
        why: "secret signing confirmation and unsubscribe links (`server.token_secret_env`, 32+ characters); \
              the server and the daily run must share it"
            .to_owned(),
    });
    out.push(SecretEnv {
        name: format!("{prefix}AUDIT__SIGNING_KEY"),
        optional: false,
        why: "audit signing key: signs the compliance report (`meridian audit keygen`)".to_owned(),
    });
    if config.storage_backend == StorageBackend::Postgres {
        out.push(SecretEnv {
            name: format!("{prefix}STORAGE__URL"),
            optional: false,
            why: "PostgreSQL URL with its password; overrides `storage.url`".to_owned(),
        });
    }
    out
}

/// The values document.
fn values_document(
    config: &RegionConfig,
    sources: &Sources,
    deployed: &Deployed,
    rules: &[EgressRule],
) -> String {
    let id = config.id.as_str();
    let header = [
        format!(
            "Helm values of region `{id}`. GENERATED by `meridian deploy values --region {id}` from the"
        ),
        format!(
            "region file `{id}.toml` and `policies/`: do not edit; change those and regenerate with"
        ),
        format!(
            "  meridian deploy values --region {id} --out deploy/helm/meridian/values-{id}.yaml"
        ),
        "(tests/cli/deploy.rs fails when this file differs from the command's output).".to_owned(),
        "Install: see docs/operations.md; chart defaults are in values.yaml.".to_owned(),
        String::new(),
    ];
    let sqlite = config.storage_backend == StorageBackend::Sqlite;
    let root = Map::new()
        .with("region", Map::new().with("id", id).with("name", &config.name))
        .with("image", Map::new().with("repository", IMAGE_REPOSITORY).with("tag", env!("CARGO_PKG_VERSION")))
        .with_comment(
            &format!("The daily run: at `digest_hour` ({}:00) in the region's `timezone`.", config.digest_hour),
            "run",
            Map::new().with("schedule", format!("0 {} * * *", config.digest_hour)).with("timeZone", config.timezone.name()),
        )
        .with_comment(
            if sqlite {
                "SQLite holds the region's data in one file: one server replica."
            } else {
                "PostgreSQL: replicas share the region's work through the database."
            },
            "server",
            Map::new().with("replicas", if sqlite { 1u8 } else { 2u8 }),
        )
        .with_comment(
            "From `storage.url`: `sqlite` (data dir on an emptyDir or `storage.existingClaim`) or `postgres`.",
            "storage",
            Map::new().with("backend", if sqlite { "sqlite" } else { "postgres" }),
        )
        .with_comment(
            "Secrets by reference only: each variable comes from a key of an existing Secret\n\
             (the key is the variable's name unless `key` says otherwise). Create it before installing.",
            "secrets",
            Map::new().with("existingSecret", format!("meridian-{id}")).with(
                "env",
                secret_env(config)
                    .into_iter()
                    .map(|s| Node::from(Map::new().with_comment(&s.why, "name", s.name).with("optional", s.optional)))
                    .collect::<Vec<_>>(),
            ),
        )
        .with_comment(
            "Egress beside DNS: one rule per destination the region's config names (deploy.rs `egress_rules`).\n\
             to: public = any public address (NetworkPolicy cannot match host names), cluster = any pod,\n\
             ollama = this release's Ollama, cidrs = the listed addresses, any = anywhere (a database by name).",
            "networkPolicy",
            Map::new().with("egress", rules.iter().map(egress_node).collect::<Vec<_>>()),
        )
        .with_comment(
            "In-cluster Ollama for `ollama` models on loopback in the region file.",
            "ollama",
            match &deployed.ollama {
                None => Map::new().with("enabled", false),
                Some(o) => Map::new()
                    .with("enabled", true)
                    .with("serviceName", &o.service)
                    .with("models", o.models.iter().map(Node::from).collect::<Vec<_>>()),
            },
        )
        .with_comment(
            "The region's config directory and policies as the pods see them (ConfigMaps).",
            "config",
            Map::new()
                .with("regionFiles", {
                    let mut files = Map::new();
                    let mut all: BTreeMap<String, &str> = BTreeMap::new();
                    all.insert(format!("{id}.toml"), &deployed.region_text);
                    for (path, text) in &sources.config_files {
                        all.insert(path.clone(), text);
                    }
                    for (path, text) in all {
                        files.insert(&path, text);
                    }
                    files
                })
                .with("policies", {
                    let mut files = Map::new();
                    for (path, text) in &sources.policies {
                        files.insert(path, text.as_str());
                    }
                    files
                }),
        );
    yaml::document(&header, &root)
}

fn egress_node(rule: &EgressRule) -> Node {
    let mut m = Map::new()
        .with("host", &rule.host)
        .with(
            "ports",
            rule.ports
                .iter()
                .copied()
                .map(Node::from)
                .collect::<Vec<_>>(),
        )
        .with("to", rule.peer.as_str());
    if let Peer::Cidr(cidr) = &rule.peer {
        m.insert("cidrs", vec![cidr.as_str()]);
    }
    m.insert("purpose", rule.purposes.join("; "));
    Node::from(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_placed_by_kind() {
        let ollama = Ollama {
            service: "meridian-cn-ollama".into(),
            models: vec![],
        };
        for (host, database, want) in [
            ("api.openai.com", false, Peer::Public),
            ("*.example.com", false, Peer::Public),
            ("db-us", true, Peer::Cluster),
            ("pg.meridian.svc.cluster.local", true, Peer::Cluster),
            ("db.example.com", true, Peer::Any),
            ("10.0.0.5", true, Peer::Cidr("10.0.0.5/32".into())),
            ("[2001:db8::1]", false, Peer::Cidr("2001:db8::1/128".into())),
            ("meridian-cn-ollama", false, Peer::Ollama),
        ] {
            assert_eq!(peer_for(host, Some(&ollama), database), want, "{host}");
        }
        for host in ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "a.localhost"] {
            assert!(is_loopback_host(host), "{host}");
        }
        assert!(!is_loopback_host("api.openai.com"));
    }

    #[test]
    fn loopback_entries_for_moved_ports_become_the_service_once() {
        let moved = BTreeSet::from([11434]);
        let allow: Vec<AllowEntry> = ["127.0.0.1:11434", "localhost", "*", "127.0.0.1:9000"]
            .map(|e| e.parse().unwrap())
            .to_vec();
        let rewritten = rewrite_allow(
            &allow,
            |e| covers_moved(e, &moved),
            "svc:11434".parse().unwrap(),
            true,
        );
        assert_eq!(
            rewritten
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["svc:11434", "*", "127.0.0.1:9000"]
        );
    }

    #[test]
    fn region_file_rewrite_keeps_comments_and_layout() {
        let text = "id = \"cn\"\n\n[[models.insight]]\nname = \"qwen\"\nprovider = \"ollama\"\nendpoint = \"http://127.0.0.1:11434\"   # keep me\n\n[[models.insight]]\nname = \"other\"\nprovider = \"openai\"\nendpoint = \"http://127.0.0.1:11434\"\n\n[egress]\nallow = [\"127.0.0.1:11434\", \"*\"]  # list\n";
        let (out, count) = rewrite_region_file(text, "svc", &BTreeSet::from([11434])).unwrap();
        assert_eq!(count, 1, "only the ollama model moves");
        assert!(
            out.contains("endpoint = \"http://svc:11434\"   # keep me\n"),
            "{out}"
        );
        assert!(
            out.contains("provider = \"openai\"\nendpoint = \"http://127.0.0.1:11434\"\n"),
            "{out}"
        );
        assert!(
            out.contains("allow = [\"svc:11434\", \"*\"]  # list\n"),
            "{out}"
        );
        assert!(out.starts_with("# Deployed copy"), "{out}");
    }

    #[test]
    fn region_overrides_other_than_the_storage_url_are_refused() {
        let id = RegionId::parse("us").unwrap();
        let vars = [
            "MERIDIAN_US__STORAGE__URL",
            "MERIDIAN_US__MAIL__SMTP_URL",
            "MERIDIAN_EU__MAIL__SMTP_URL",
            "MERIDIAN_CONFIG_DIR",
        ];
        let refused = refused_overrides(&id, vars.into_iter().map(String::from));
        assert_eq!(
            refused.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["MERIDIAN_US__MAIL__SMTP_URL"]
        );
    }
}
