//! `meridian audit keygen|checkpoint|verify|export|report`.
//!
//! Exit codes beyond the usual ones: 5 when a chain or export does not
//! verify (the first bad sequence number is printed).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{Days, NaiveDate, Utc};
use meridian_audit::keys::{self, AuditKey, PublicKey};
use meridian_audit::report::{ReportRequest, build_report};
use meridian_audit::verify::VerifyReport;
use meridian_audit::{AuditError, AuditLog};
use meridian_core::RegionId;

use crate::{Cli, EXIT_CONFIG, EXIT_INPUT, EXIT_INTEGRITY, EXIT_RUNTIME};

/// `meridian audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditAction {
    /// Make a new Ed25519 key for a region's audit checkpoints; prints its public key.
    Keygen {
        /// The region.
        #[arg(long)]
        region: String,
        /// Where to write it (default `{data_dir}/keys/<region>.ed25519`; the
        /// public key goes beside it as `.pub`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing key file.
        #[arg(long)]
        force: bool,
    },
    /// Sign the region's chain head now (the daily run does this at its end).
    Checkpoint {
        /// The region.
        #[arg(long)]
        region: String,
        /// The signing key file (default: `MERIDIAN_<REGION>__AUDIT__SIGNING_KEY`, else `{data_dir}/keys/<region>.ed25519`).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Verify a region's audit chain and checkpoints (`--region`), or an export file offline (`--file`).
    Verify(VerifyArgs),
    /// Write a region's chain and checkpoints as JSON lines, for offline verification.
    Export {
        /// The region.
        #[arg(long)]
        region: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the compliance audit report of a region for a period.
    Report(ReportArgs),
}

/// Arguments of `meridian audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The region whose store to verify.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    pub region: Option<String>,
    /// An export file to verify offline (needs `--public-key`).
    #[arg(long, requires = "public_key")]
    pub file: Option<PathBuf>,
    /// The region's public key: 64 hex digits, or a file holding them (`<key>.pub`).
    #[arg(long)]
    pub public_key: Option<String>,
    /// The signing key file, when the public key is to be taken from it.
    #[arg(long, conflicts_with = "public_key")]
    pub key_file: Option<PathBuf>,
    /// Print the verification report as JSON.
    #[arg(long)]
    pub json: bool,
    /// A witnessed checkpoint to check the region's chain against: a file
    /// written to `audit.witness_dir`, such a directory (every `*.json` in
    /// it), or the URL of a region's `GET /audit/checkpoint` (a copy saved
    /// from it works too). Fails when the chain is shorter than, or disagrees
    /// with, what was witnessed. Repeat for several.
    #[arg(long, value_name = "FILE|DIR|URL", requires = "region")]
    pub against: Vec<String>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Printable HTML with inline SVG charts.
    Html,
    /// JSON (see `docs/audit-report.schema.json`).
    Json,
    /// Markdown.
    Md,
}

impl ReportFormat {
    fn extension(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Json => "json",
            Self::Md => "md",
        }
    }
}

/// Arguments of `meridian audit report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The region.
    #[arg(long)]
    pub region: String,
    /// First day, in the region's timezone (default: 29 days before `--to`).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default: today in the region's timezone).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// Output file, `-` for stdout (default: `{data_dir}/reports/audit-<region>-<from>-<to>.<format>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The signing key file (signs the report; default as for `checkpoint`).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

/// Runs the command.
///
/// # Errors
/// Runtime failures (storage, writing files), with context.
pub async fn run(cli: &Cli, action: &AuditAction) -> anyhow::Result<ExitCode> {
    match action {
        AuditAction::Keygen { region, out, force } => keygen(cli, region, out.as_deref(), *force),
        AuditAction::Checkpoint { region, key_file } => {
            checkpoint(cli, region, key_file.as_deref()).await
        }
        AuditAction::Verify(args) => match &args.file {
            Some(file) => verify_file(file, args),
            None => verify_region(cli, args).await,
        },
        AuditAction::Export { region, out } => export(cli, region, out.as_deref()).await,
        AuditAction::Report(args) => report(cli, args).await,
    }
}

/// A key problem is a configuration problem: the region cannot sign.
fn key_error(e: &AuditError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_CONFIG)
}

fn parse_region(region: &str) -> Result<RegionId, ExitCode> {
    RegionId::parse(region).map_err(|e| {
        eprintln!("error: --region: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// The region's store and audit log with its signing key (when it has one).
async fn open_log(
    cli: &Cli,
    region: &str,
    key_file: Option<&Path>,
) -> Result<(meridian_config::RegionConfig, AuditLog), ExitCode> {
    let config = super::load_region(cli, region)?;
    let key =
        keys::load_signing_key(&config.id, &cli.data_dir, key_file).map_err(|e| key_error(&e))?;
    let store = super::store_of(&config).await?;
    let log = AuditLog::open(store, key).await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_RUNTIME)
    })?;
    Ok((config, log))
}

fn keygen(cli: &Cli, region: &str, out: Option<&Path>, force: bool) -> anyhow::Result<ExitCode> {
    let id = match parse_region(region) {
        Ok(id) => id,
        Err(code) => return Ok(code),
    };
    let path = out.map_or_else(
        || keys::default_key_path(&cli.data_dir, &id),
        Path::to_owned,
    );
    let key = AuditKey::generate()?;
    match key.write(&path, &id, force) {
        Ok(()) => {}
        Err(e @ AuditError::KeyExists { .. }) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
        Err(e) => return Err(e.into()),
    }
    let public = key.public_key();
    crate::say!(
        "wrote the audit signing key of region `{id}` to {} (owner read/write only)",
        path.display()
    );
    crate::say!(
        "public key ({}): {}",
        keys::public_key_path(&path).display(),
        public.to_hex()
    );
    crate::say!("fingerprint: {}", public.fingerprint());
    crate::say!(
        "(or set {} to the key's 64 hex digits instead of using the file)",
        keys::signing_key_env(&id)
    );
    Ok(ExitCode::SUCCESS)
}

async fn checkpoint(cli: &Cli, region: &str, key_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (config, log) = match open_log(cli, region, key_file).await {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let made = log.checkpoint().await.context("making a checkpoint")?;
    log.store().close().await;
    match made {
        Some(cp) => {
            if let Some(dir) = &config.audit_witness_dir {
                let path = meridian_audit::witness::write_witness(dir, &cp).context(
                    "writing the checkpoint to the witness directory (audit.witness_dir)",
                )?;
                crate::say!("witness: {}", path.display());
            }
            crate::say!(
                "checkpoint {} of region `{}` signs record {} (hash {}) with key {}",
                cp.number,
                cp.region,
                cp.seq,
                cp.head_hash,
                cp.key
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "error: region `{region}` has no audit signing key; run `meridian audit keygen --region {region}` or set {}",
                keys::signing_key_env(log.region())
            );
            Ok(ExitCode::from(EXIT_CONFIG))
        }
    }
}

/// Prints a verification report; the exit code says whether it is intact.
fn print_verification(what: &str, report: &VerifyReport, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        crate::say!("{}", serde_json::to_string_pretty(report)?);
    } else {
        crate::say!(
            "{what}: {} record(s), head {} ({}), {} checkpoint(s), {} signature(s) verified{}",
            report.records,
            report.head_seq,
            report.head_hash.as_deref().unwrap_or("empty chain"),
            report.checkpoints,
            report.checkpoints_verified,
            report
                .key
                .as_ref()
                .map_or_else(String::new, |k| format!(" with {k}"))
        );
        if let Some(cp) = &report.last_checkpoint {
            crate::say!(
                "last checkpoint: {} over record {}, signed {}",
                cp.number,
                cp.seq,
                cp.time
            );
        }
        if let Some([first, last]) = report.unsigned_tail {
            crate::say!(
                "not yet signed: records {first} to {last} (signed by the next checkpoint)"
            );
        }
        for p in &report.problems {
            crate::say!(
                "FAIL seq {} ({}): {}",
                p.seq,
                serde_json::to_value(p.kind)?.as_str().unwrap_or("problem"),
                p.message
            );
        }
    }
    match report.first_bad_seq() {
        None => {
            if !json {
                crate::say!("OK: the chain is intact");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(seq) => {
            eprintln!("error: {what} does not verify; first bad sequence number: {seq}");
            Ok(ExitCode::from(EXIT_INTEGRITY))
        }
    }
}

fn verify_file(file: &Path, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let Some(arg) = &args.public_key else {
        eprintln!("error: --file needs --public-key");
        return Ok(ExitCode::from(EXIT_INPUT));
    };
    let key = match PublicKey::from_arg(arg) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: --public-key: {e}");
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    let reader = match std::fs::File::open(file) {
        Ok(f) => std::io::BufReader::new(f),
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return Ok(ExitCode::from(EXIT_INPUT));
        }
    };
    match meridian_audit::verify::verify_export(reader, &file.display().to_string(), &key) {
        Ok(report) => print_verification(
            &format!("audit export {}", file.display()),
            &report,
            args.json,
        ),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(EXIT_INPUT))
        }
    }
}

async fn verify_region(cli: &Cli, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let Some(region) = &args.region else {
        eprintln!("error: give --region R or --file EXPORT");
        return Ok(ExitCode::from(EXIT_INPUT));
    };
    let (config, log) = match open_log(cli, region, None).await {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let trusted = match (&args.public_key, &args.key_file) {
        (Some(arg), _) => match PublicKey::from_arg(arg) {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("error: --public-key: {e}");
                return Ok(ExitCode::from(EXIT_INPUT));
            }
        },
        (None, key_file) => {
            match keys::load_public_key(&config.id, &cli.data_dir, key_file.as_deref()) {
                Ok(k) => k,
                Err(e) => return Ok(key_error(&e)),
            }
        }
    };
    let mut witnessed = Vec::new();
    for source in &args.against {
        match read_witness(&config.id, source).await {
            Ok(mut w) => witnessed.append(&mut w),
            Err(reason) => {
                eprintln!("error: --against {source}: {reason}");
                log.store().close().await;
                return Ok(ExitCode::from(EXIT_INPUT));
            }
        }
    }
    let report = log
        .verify_against(trusted.as_ref(), &witnessed)
        .await
        .context("verifying the audit chain")?;
    log.store().close().await;
    print_verification(
        &format!("audit chain of region `{}`", config.id),
        &report,
        args.json,
    )
}

async fn export(cli: &Cli, region: &str, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (_, log) = match open_log(cli, region, None).await {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let summary = match out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let s = log
                .export(&mut w)
                .await
                .context("exporting the audit chain")?;
            w.flush()
                .with_context(|| format!("writing {}", path.display()))?;
            crate::say!(
                "wrote {} record(s) and {} checkpoint(s) of region `{region}` to {}",
                s.records,
                s.checkpoints,
                path.display()
            );
            s
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            log.export(&mut w)
                .await
                .context("exporting the audit chain")?
        }
    };
    log.store().close().await;
    tracing::info!(
        region,
        records = summary.records,
        checkpoints = summary.checkpoints,
        "Audit chain exported"
    );
    Ok(ExitCode::SUCCESS)
}

async fn report(cli: &Cli, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let (config, log) = match open_log(cli, &args.region, args.key_file.as_deref()).await {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let today = Utc::now().with_timezone(&config.timezone).date_naive();
    let to = args.to.unwrap_or(today);
    let from = args.from.unwrap_or_else(|| to - Days::new(29));
    if from > to {
        eprintln!("error: --from {from} is after --to {to}");
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    let policies = cli.config_dir.join("..").join("policies");
    let request = ReportRequest {
        config: &config,
        policies_dir: &policies,
        from,
        to,
        trusted_key: None,
    };
    let report = build_report(&log, &request)
        .await
        .context("building the audit report")?;
    log.store().close().await;
    let text = match args.format {
        ReportFormat::Html => report.to_html()?,
        ReportFormat::Json => report.to_json(),
        ReportFormat::Md => report.to_markdown()?,
    };
    let default_out = || {
        cli.data_dir.join("reports").join(format!(
            "audit-{}-{from}-{to}.{}",
            config.id,
            args.format.extension()
        ))
    };
    let out = args.out.clone().unwrap_or_else(default_out);
    if out.as_os_str() == "-" {
        crate::say!("{text}");
    } else {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
        crate::say!(
            "wrote the {} audit report of region `{}` for {from} to {to} to {} (audit chain {})",
            args.format.extension(),
            config.id,
            out.display(),
            report.integrity.verification.status
        );
    }
    if let Some(seq) = report.integrity.verification.first_bad_seq {
        eprintln!(
            "warning: the audit chain of region `{}` does not verify; first bad sequence number: {seq}",
            config.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The witnessed checkpoints at `source`: a URL (fetched once, bounded,
/// outside the region's policy gate: verifying appends nothing to the chain)
/// or a file or directory.
async fn read_witness(
    region: &RegionId,
    source: &str,
) -> Result<Vec<meridian_audit::witness::Witnessed>, String> {
    use meridian_audit::witness::{parse_witness, read_witness_path};
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return read_witness_path(Path::new(source)).map_err(|e| e.to_string());
    }
    let url = url::Url::parse(source).map_err(|e| format!("not a URL: {e}"))?;
    let host = url.host_str().ok_or("the URL names no host")?;
    let port = url.port_or_known_default().unwrap_or(443);
    // The operator names this host: it may be on loopback or a private
    // network (an auditor's own witness service).
    let entry = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let rules = meridian_egress::EgressRules::new(&[entry], true).map_err(|e| e.to_string())?;
    let client = meridian_egress::EgressClient::new(
        region.clone(),
        rules,
        meridian_egress::EgressOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let outcome = client
        .get(
            &url,
            &meridian_egress::Validators::default(),
            Some(WITNESS_MAX_BYTES),
        )
        .await
        .map_err(|e| e.to_string())?;
    match outcome {
        meridian_egress::FetchOutcome::Fetched(f) => {
            let text = std::str::from_utf8(&f.body).map_err(|e| format!("not UTF-8: {e}"))?;
            parse_witness(text, source).map(|w| vec![w])
        }
        meridian_egress::FetchOutcome::NotModified { .. } => {
            Err("the server answered 304 to an unconditional request".into())
        }
    }
}

/// A witness document is a few hundred bytes; anything much larger is not one.
const WITNESS_MAX_BYTES: u64 = 64 * 1024;
