//! One module per command.

pub mod audit;
pub mod config;
pub mod deploy;
pub mod feeds;
pub mod inspect;
pub mod maintain;
pub mod policy;
pub mod run;
pub mod serve;
pub mod subscribers;
pub mod tokens;
pub mod worker;

use std::process::ExitCode;

use anyhow::Context as _;
use meridian_config::RegionConfig;
use meridian_core::RegionId;
use meridian_runtime::{AssembleOptions, Region};

use crate::{Cli, EXIT_CONFIG};

/// A region's config, or the exit code after the problems were printed.
pub(crate) fn load_region(cli: &Cli, region: &str) -> Result<RegionConfig, ExitCode> {
    let id = match RegionId::parse(region) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: --region: {e}");
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    meridian_config::load_region(&cli.config_dir, &cli.data_dir, &id).map_err(|e| {
        eprintln!("error: {e}");
        eprintln!("region `{id}` does not start until its configuration is fixed");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// A region's config for a command that starts it (`run`, `serve`, `worker`):
/// every rule `config check` applies (its files and environment, no database
/// shared with another region, its own policies), checked before anything is
/// created; otherwise the exit code after each problem was printed with its
/// file or variable, key and reason.
pub(crate) fn load_region_to_start(cli: &Cli, region: &str) -> Result<RegionConfig, ExitCode> {
    let id = match RegionId::parse(region) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: --region: {e}");
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    let config = meridian_config::load_region_to_start(&cli.config_dir, &cli.data_dir, &id)
        .map_err(|e| {
            eprintln!("error: {e}");
            eprintln!("region `{id}` does not start until its configuration is fixed");
            ExitCode::from(EXIT_CONFIG)
        })?;
    let problems = policy::policy_problems(cli, &config);
    if problems.is_empty() {
        Ok(config)
    } else {
        for p in &problems {
            eprintln!("error: {p}");
        }
        eprintln!("region `{id}` does not start until its configuration is fixed");
        Err(ExitCode::from(EXIT_CONFIG))
    }
}

/// Assembles a region from its loaded config.
pub(crate) async fn assemble(config: RegionConfig) -> anyhow::Result<Region> {
    let id = config.id.clone();
    Region::assemble(config, &AssembleOptions::default())
        .await
        .with_context(|| format!("assembling region `{id}`"))
}

/// Opens the audit log of a region's store, with its signing key when it has
/// one (`MERIDIAN_<REGION>__AUDIT__SIGNING_KEY` or `{data_dir}/keys/<region>.ed25519`),
/// for commands that change the region's data without assembling it
/// (`subscribers`, `maintain`).
pub(crate) async fn open_audit(
    cli: &Cli,
    store: &meridian_store::RegionStore,
) -> anyhow::Result<meridian_audit::AuditLog> {
    let region = store.region().clone();
    let key = meridian_audit::keys::load_signing_key(&region, &cli.data_dir, None)
        .with_context(|| format!("loading the audit key of region `{region}`"))?;
    meridian_audit::AuditLog::open(store.clone(), key)
        .await
        .with_context(|| format!("opening the audit log of region `{region}`"))
}

/// Opens a region's store (for commands that need nothing else of the region).
pub(crate) async fn open_store(
    cli: &Cli,
    region: &str,
) -> Result<meridian_store::RegionStore, ExitCode> {
    let config = load_region(cli, region)?;
    store_of(&config).await
}

/// Opens the store of a loaded region's config; an error is printed and
/// becomes the runtime exit code.
pub(crate) async fn store_of(
    config: &meridian_config::RegionConfig,
) -> Result<meridian_store::RegionStore, ExitCode> {
    meridian_store::RegionStore::open(
        &config.id,
        config.storage_url.expose(),
        config.max_connections,
    )
    .await
    .map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(crate::EXIT_RUNTIME)
    })
}
