//! One module per command; this one resolves configuration and clients and maps outcomes to
//! exit codes.

mod audit;
mod config;
mod doctor;
mod functions;
mod kyverno;
mod manifest_files;
mod manifests;
mod permissions;
mod rewrite;
mod rules_file;
mod schema;
mod templates;
mod usage;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ptc_ops::aws::Clients;
use ptc_ops::config::{Config, ConfigError};
use ptc_ops::domain::{CacheRule, Report, Severity};

use crate::args::{Cli, Command, FailOn, GlobalOptions, RulesSource};
use crate::output::{self, Style};

/// Exit codes, as `ptc --help` documents them.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_RUN_FAILED: u8 = 3;

/// Why a command could not produce its output.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Run(String),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Usage(_) | CliError::Config(_) => EXIT_USAGE,
            CliError::Run(_) => EXIT_RUN_FAILED,
        })
    }
}

impl From<ptc_ops::error::Error> for CliError {
    fn from(error: ptc_ops::error::Error) -> Self {
        match error {
            ptc_ops::error::Error::Config(config) => CliError::Config(config),
            other => CliError::Run(other.full_message()),
        }
    }
}

pub async fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let global = &cli.global;
    match &cli.command {
        Command::Config(command) => config::run(global, command),
        Command::Rules(command) => functions::rules(global, command).await,
        Command::Credentials(command) => functions::credentials(global, command).await,
        Command::Harden(arguments) => functions::harden(global, arguments).await,
        Command::Templates(command) => templates::run(global, command).await,
        Command::Prewarm(arguments) => functions::prewarm(global, arguments).await,
        Command::Refresh(arguments) => functions::refresh(global, arguments).await,
        Command::Rewrite(arguments) => rewrite::run(global, arguments).await,
        Command::Audit(arguments) => audit::run(global, arguments).await,
        Command::Doctor(arguments) => doctor::run(global, arguments).await,
        Command::Permissions => permissions::run(global),
        Command::Schema(arguments) => schema::run(arguments),
        Command::Usage(arguments) => usage::run(global, arguments).await,
    }
}

/// `--config`, else `$PTC_CONFIG`, else `./ptc-ops.toml`, else the built-in defaults.
pub fn config_path(global: &GlobalOptions) -> Option<PathBuf> {
    global
        .config
        .clone()
        .or_else(|| {
            std::env::var_os(ptc_ops::env::PTC_CONFIG)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| Some(PathBuf::from("ptc-ops.toml")).filter(|path| path.exists()))
}

pub fn load_config(global: &GlobalOptions) -> Result<Config, CliError> {
    match config_path(global) {
        Some(path) => Ok(Config::load(&path)?),
        None => Ok(Config::from_toml_str(
            "",
            Path::new("."),
            "built-in defaults",
        )?),
    }
}

/// Clients from the standard AWS chain (profile, region, `AWS_ENDPOINT_URL`).
pub async fn clients() -> Clients {
    Clients::new(&ptc_ops::aws::load_sdk_config().await)
}

/// The rules from `--rules-file`, or from the registry.
pub async fn load_rules(
    source: &RulesSource,
    clients: Option<&Clients>,
) -> Result<Vec<CacheRule>, CliError> {
    match (&source.rules_file, clients) {
        (Some(path), _) => {
            let text = read_input(Some(path))?;
            rules_file::parse(&text)
                .map_err(|problem| CliError::Usage(format!("`{}`: {problem}", path.display())))
        }
        (None, Some(clients)) => clients.registry().cache_rules(None).await.map_err(|error| {
            CliError::Run(format!("cannot list the pull-through cache rules: {error}"))
        }),
        (None, None) => Err(CliError::Usage(
            "no rules: give `--rules-file` or AWS access".to_owned(),
        )),
    }
}

/// A file's text, or stdin for `-` or no file.
pub fn read_input(path: Option<&Path>) -> Result<String, CliError> {
    match path {
        Some(path) if path != Path::new("-") => std::fs::read_to_string(path)
            .map_err(|error| CliError::Usage(format!("cannot read `{}`: {error}", path.display()))),
        _ => std::io::read_to_string(std::io::stdin())
            .map_err(|error| CliError::Usage(format!("cannot read stdin: {error}"))),
    }
}

/// Prints a report (JSON, or findings and summary with `human_detail` before them) and turns
/// its findings into the exit code.
pub fn finish_report<D: serde::Serialize>(
    global: &GlobalOptions,
    report: &Report<D>,
    human_detail: Option<String>,
) -> Result<ExitCode, CliError> {
    if global.json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|error| CliError::Run(error.to_string()))?;
        println!("{text}");
    } else {
        let style = Style::for_stdout();
        if let Some(detail) = human_detail {
            println!("{detail}");
        }
        print!("{}", output::findings(report, style));
        print!("\n{}", output::summary(report));
    }
    Ok(exit_for(report, global.fail_on))
}

pub fn exit_for<D>(report: &Report<D>, fail_on: FailOn) -> ExitCode {
    let threshold = match fail_on {
        FailOn::Info => Some(Severity::Info),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Critical => Some(Severity::Critical),
        FailOn::Never => None,
    };
    match threshold {
        Some(threshold) if report.count_at_or_above(threshold) > 0 => ExitCode::from(EXIT_FINDINGS),
        _ => ExitCode::from(EXIT_CLEAN),
    }
}
