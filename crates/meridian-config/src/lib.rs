//! Region configuration: what a region is, read from `regions/<id>.toml`.
//!
//! Loading happens in two stages (shape first, then one validation pass that collects every problem):
//!
//! 1. **Shape.** figment layers built-in defaults < `regions/<id>.toml` <
//!    `MERIDIAN_<ID>__<SECTION>__<KEY>` environment variables and deserialises
//!    into [`RegionFile`], whose fields are plain strings and numbers. Unknown keys
//!    and wrong types fail here, with file and key.
//! 2. **Validation.** [`RegionConfig::validate`] parses every field into domain
//!    types, checks fields against each other (the region id matches the file,
//!    model endpoints are in the egress allow-list, `insight` ends with `builtin`),
//!    resolves secrets from the environment and reports *every* problem at once,
//!    each as a [`Problem`] with file, key and reason.
//!
//! ```no_run
//! # use std::path::Path;
//! let dir = Path::new("regions");
//! let loaded = meridian_config::load_all(dir, Path::new("data"));
//! for problem in &loaded.problems {
//!     eprintln!("{problem}");
//! }
//! ```

mod file;
mod secret;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use file::{
    AuditSection, DigestSection, EgressSection, FeedsSection, MailSection, ModelEntry,
    ModelsSection, PolicySection, RegionFile, RetentionSection, ServerSection, StorageSection,
    SubscribersSection,
};
pub use secret::Secret;
pub use validate::{
    DEFAULT_HEADER_READ_TIMEOUT_SECS, DEFAULT_IDLE_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_IP, DigestSettings, EgressSettings, MailSettings, ModelConfig,
    ModelRole, PolicySettings, ProviderKind, RegionConfig, RetentionSettings, ServerSettings,
    StorageBackend, Weights, default_token_secret_env,
};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use meridian_core::RegionId;

/// One thing wrong with a region's configuration: where, which key, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or environment) the value came from.
    pub file: String,
    /// The dotted key, e.g. `models.insight[0].hosted_in`.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: `{}`: {}", self.file, self.key, self.reason)
        }
    }
}

/// A region's configuration could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The region has no file in the config directory.
    #[error("region `{region}`: no file {path}")]
    MissingFile {
        /// The region asked for.
        region: String,
        /// Where its file was looked for.
        path: PathBuf,
    },
    /// The config directory cannot be read.
    #[error("config directory {path}: {reason}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// One or more problems in the region's files or environment.
    #[error("region `{region}` has {} configuration problem(s):\n{}", problems.len(), render(problems))]
    Invalid {
        /// The region.
        region: String,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The individual problems (one for the non-`Invalid` variants).
    #[must_use]
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Self::Invalid { problems, .. } => problems.clone(),
            other => vec![Problem {
                file: String::new(),
                key: String::new(),
                reason: other.to_string(),
            }],
        }
    }
}

/// The environment variable prefix of a region: `MERIDIAN_US__`.
#[must_use]
pub fn env_prefix(region: &RegionId) -> String {
    format!("MERIDIAN_{}__", region.as_env())
}

/// Loads and validates one region from `config_dir/<region>.toml`, with
/// environment overrides, substituting `{data_dir}` in storage URLs.
///
/// # Errors
/// [`ConfigError::MissingFile`] when the file does not exist, otherwise
/// [`ConfigError::Invalid`] with every problem found.
pub fn load_region(
    config_dir: &Path,
    data_dir: &Path,
    region: &RegionId,
) -> Result<RegionConfig, ConfigError> {
    let path = config_dir.join(format!("{region}.toml"));
    if !path.is_file() {
        return Err(ConfigError::MissingFile {
            region: region.to_string(),
            path,
        });
    }
    let figment = Figment::from(Serialized::defaults(RegionFile::default()))
        .merge(Toml::file_exact(&path))
        // The link-signing secret's default variable, `MERIDIAN_<ID>__SERVER__TOKEN_SECRET`,
        // shares the override prefix but is a secret read in validation, not a key.
        // So is the audit signing key, `MERIDIAN_<ID>__AUDIT__SIGNING_KEY`, read by `meridian-audit`.
        .merge(
            Env::prefixed(&env_prefix(region))
                .split("__")
                .ignore(&["server.token_secret", "audit.signing_key"]),
        );
    let file_label = path.display().to_string();
    let raw: RegionFile = match figment.extract() {
        Ok(raw) => raw,
        Err(err) => {
            let problems = err
                .into_iter()
                .map(|e| Problem {
                    file: e
                        .metadata
                        .as_ref()
                        .and_then(|m| m.source.as_ref().map(ToString::to_string))
                        .unwrap_or_else(|| file_label.clone()),
                    key: e.path.join("."),
                    reason: e.kind.to_string(),
                })
                .collect();
            return Err(ConfigError::Invalid {
                region: region.to_string(),
                problems: blame_environment(region, problems),
            });
        }
    };
    RegionConfig::validate(raw, region, &path, data_dir).map_err(|problems| ConfigError::Invalid {
        region: region.to_string(),
        problems: blame_environment(region, problems),
    })
}

/// Points each problem whose key an environment variable set
/// (`MERIDIAN_<ID>__<SECTION>__<KEY>`) at that variable, not at the region
/// file it overrides: `environment variable MERIDIAN_EU__STORAGE__URL (over
/// regions/eu.toml)`.
fn blame_environment(region: &RegionId, problems: Vec<Problem>) -> Vec<Problem> {
    let prefix = env_prefix(region);
    let vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, _)| {
            let k = k.into_string().ok()?;
            let rest = k.get(prefix.len()..)?;
            k[..prefix.len()]
                .eq_ignore_ascii_case(&prefix)
                .then(|| (rest.to_ascii_lowercase().replace("__", "."), k.clone()))
        })
        .collect();
    problems
        .into_iter()
        .map(|mut p| {
            let key = p.key.to_ascii_lowercase();
            // The variable that set the key, or a table or list holding it
            // (`MERIDIAN_US__MODELS__INSIGHT` sets `models.insight[0].provider`);
            // the most specific one when several do.
            let setter = vars
                .iter()
                .filter(|(path, _)| {
                    key == *path
                        || key
                            .strip_prefix(path.as_str())
                            .is_some_and(|rest| rest.starts_with(['.', '[']))
                })
                .max_by_key(|(path, _)| path.len());
            if let Some((_, var)) = setter {
                p.file = if p.file.is_empty() || p.file.starts_with("`MERIDIAN") {
                    format!("environment variable {var}")
                } else {
                    format!("environment variable {var} (over {})", p.file)
                };
            }
            p
        })
        .collect()
}

/// [`load_region`] plus the checks that look beyond the region's own files,
/// as `meridian config check` makes them: no other region of `config_dir`
/// uses the same database, and the environment holds what the region needs
/// to start ([`RegionConfig::start_problems`]). Commands that start a region (`run`, `serve`,
/// `worker`, `demo`) load it with this before they create anything.
///
/// # Errors
/// As [`load_region`]; a shared database is a [`ConfigError::Invalid`] naming
/// where the region's `storage.url` came from.
pub fn load_region_to_start(
    config_dir: &Path,
    data_dir: &Path,
    region: &RegionId,
) -> Result<RegionConfig, ConfigError> {
    let config = load_region(config_dir, data_dir, region)?;
    let mut problems = config.start_problems();
    for other in region_ids(config_dir)?.iter().filter(|id| *id != region) {
        // Another region's own problems are its own: only its database matters here.
        if let Ok(o) = load_region(config_dir, data_dir, other)
            && o.storage_url == config.storage_url
        {
            problems.push(Problem {
                file: config.source.display().to_string(),
                key: "storage.url".to_owned(),
                reason: format!(
                    "region `{}` uses the same database as region `{}`; every region needs its own",
                    config.id, o.id
                ),
            });
        }
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid {
            region: region.to_string(),
            problems: blame_environment(region, problems),
        })
    }
}

/// Every region found in a config directory, loaded.
#[derive(Debug, Default)]
pub struct LoadedRegions {
    /// Regions that passed validation.
    pub regions: Vec<RegionConfig>,
    /// Problems of the regions that did not, each naming its file.
    pub problems: Vec<Problem>,
}

/// The region ids that have a `<id>.toml` in `config_dir`, sorted.
///
/// # Errors
/// [`ConfigError::Directory`] when the directory cannot be read.
pub fn region_ids(config_dir: &Path) -> Result<Vec<RegionId>, ConfigError> {
    let entries = std::fs::read_dir(config_dir).map_err(|e| ConfigError::Directory {
        path: config_dir.to_owned(),
        reason: e.to_string(),
    })?;
    let mut ids = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml")
            && let Some(id) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| RegionId::parse(s).ok())
        {
            ids.push(id);
        }
    }
    ids.sort();
    Ok(ids)
}

/// Loads every region of a config directory, collecting all problems, and
/// checks the regions against each other (no two regions share a database).
#[must_use]
pub fn load_all(config_dir: &Path, data_dir: &Path) -> LoadedRegions {
    let mut out = LoadedRegions::default();
    let ids = match region_ids(config_dir) {
        Ok(ids) => ids,
        Err(e) => {
            out.problems.extend(e.problems());
            return out;
        }
    };
    if ids.is_empty() {
        out.problems.push(Problem {
            file: config_dir.display().to_string(),
            key: String::new(),
            reason: "no region files (`<id>.toml`) found".to_owned(),
        });
    }
    for id in ids {
        match load_region(config_dir, data_dir, &id) {
            Ok(cfg) => {
                let start = cfg.start_problems();
                if start.is_empty() {
                    out.regions.push(cfg);
                } else {
                    out.problems.extend(start);
                }
            }
            Err(e) => out.problems.extend(e.problems()),
        }
    }
    for (i, a) in out.regions.iter().enumerate() {
        for b in &out.regions[i + 1..] {
            if a.storage_url == b.storage_url {
                // Named from both sides: either one's `storage.url` may be the mistake.
                for (one, other) in [(a, b), (b, a)] {
                    out.problems.extend(blame_environment(
                        &one.id,
                        vec![Problem {
                            file: one.source.display().to_string(),
                            key: "storage.url".to_owned(),
                            reason: format!("region `{}` uses the same database as region `{}`; every region needs its own", one.id, other.id),
                        }],
                    ));
                }
            }
        }
    }
    out
}
