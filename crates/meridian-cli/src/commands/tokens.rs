//! `meridian tokens create|list|revoke --region R`: bearer tokens of the
//! region's admin API (`/api/v1`).
//!
//! A token is `mrd_<region>_<64 hex>`; it is printed once by `create` and
//! stored only as its SHA-256 in the region's own database, so it works
//! against that region's service and no other.

use std::process::ExitCode;

use meridian_store::TokenScope;

use crate::{Cli, EXIT_INPUT};

/// `meridian tokens …`
#[derive(Debug, clap::Subcommand)]
pub enum TokensAction {
    /// Make a token and print it (once: only its hash is kept).
    Create {
        /// The region.
        #[arg(long)]
        region: String,
        /// `read` (GET requests; subscriber addresses hidden) or `admin` (everything).
        #[arg(long, default_value = "read", value_parser = ["admin", "read"])]
        scope: String,
        /// A name to recognise it by in `tokens list`.
        #[arg(long, default_value = "unnamed")]
        name: String,
    },
    /// List the region's tokens (never the tokens themselves).
    List {
        /// The region.
        #[arg(long)]
        region: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id (from `tokens list`); it is refused at once.
    Revoke {
        /// The region.
        #[arg(long)]
        region: String,
        /// The token's id.
        id: i64,
    },
}

fn time(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
}

/// Runs the command.
///
/// # Errors
/// Storage failures.
pub async fn run(cli: &Cli, action: &TokensAction) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now().timestamp();
    match action {
        TokensAction::Create {
            region,
            scope,
            name,
        } => {
            let Some(scope) = TokenScope::parse(scope) else {
                eprintln!("error: --scope must be `admin` or `read`");
                return Ok(ExitCode::from(EXIT_INPUT));
            };
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let minted = meridian_server::tokens::create_token(&store, name, scope, now).await?;
            store.close().await;
            crate::say!("{}", minted.token);
            eprintln!(
                "token {} `{}` ({} scope) of region `{region}`: shown once, store it now",
                minted.row.id,
                minted.row.name,
                scope.as_str()
            );
        }
        TokensAction::List { region, json } => {
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let tokens = store.list_api_tokens().await?;
            store.close().await;
            if *json {
                let rows: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id, "name": t.name, "scope": t.scope.as_str(),
                            "created_at": t.created_at, "last_used_at": t.last_used_at,
                            "revoked_at": t.revoked_at,
                        })
                    })
                    .collect();
                crate::say!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for t in &tokens {
                    crate::say!(
                        "{:>4}  {:<6} {:<8} created {}  last used {}  {}",
                        t.id,
                        t.scope.as_str(),
                        if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                        time(Some(t.created_at)),
                        time(t.last_used_at),
                        t.name
                    );
                }
                crate::say!("{} token(s)", tokens.len());
            }
        }
        TokensAction::Revoke { region, id } => {
            let store = match super::open_store(cli, region).await {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let revoked = store.revoke_api_token(*id, now).await?;
            store.close().await;
            if revoked {
                crate::say!("revoked token {id} of region `{region}`");
            } else {
                eprintln!("error: region `{region}` has no active token {id}");
                return Ok(ExitCode::from(EXIT_INPUT));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
