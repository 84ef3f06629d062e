//! `meridian serve --region R [--listen ADDR]`: the region's HTTP service
//! (subscribe, confirm, one-click unsubscribe, archive, admin API, OpenAPI,
//! metrics, health) until SIGTERM or Ctrl-C, which drain requests, a run
//! started through the API and the confirmation worker.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use crate::Cli;

/// Arguments of `meridian serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The region to serve (one region per process).
    #[arg(long)]
    pub region: String,
    /// Address to listen on (default: the region's `server.listen`,
    /// `127.0.0.1:8080`); port 0 picks a free port, printed at start.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// Runs the command.
///
/// # Errors
/// Runtime failures (the port cannot be bound, the store cannot be opened),
/// with context.
pub async fn run(cli: &Cli, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let config = match super::load_region_to_start(cli, &args.region) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let listen = args.listen.unwrap_or(config.server.listen);
    let base_url = config.server.base_url.clone();
    let id = config.id.clone();
    let region = Arc::new(super::assemble(config).await?);
    let app = meridian_server::Application::build(Arc::clone(&region), listen)
        .await
        .with_context(|| format!("starting the service of region `{id}`"))?;
    // The first line says where to reach it (port 0 is resolved by now).
    crate::say!(
        "meridian serve: region `{id}` on http://{} (links in emails use {base_url})",
        app.local_addr()
    );
    let result = app.run(meridian_server::shutdown_signal()).await;
    region.shutdown().await;
    result.with_context(|| format!("serving region `{id}`"))?;
    crate::say!("meridian serve: region `{id}` stopped");
    Ok(ExitCode::SUCCESS)
}
