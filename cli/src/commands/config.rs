//! `ptc config check [FILE]`, `ptc config reference`.

use std::process::ExitCode;

use ptc_ops::config::{config_reference, Config};

use super::{config_path, CliError, EXIT_CLEAN};
use crate::args::{ConfigCommand, GlobalOptions};
use crate::output::Style;

pub fn run(global: &GlobalOptions, command: &ConfigCommand) -> Result<ExitCode, CliError> {
    let file = match command {
        ConfigCommand::Check { file } => file,
        ConfigCommand::Reference => {
            print!("{}", config_reference());
            return Ok(ExitCode::from(EXIT_CLEAN));
        }
    };
    let path = file
        .clone()
        .or_else(|| config_path(global))
        .ok_or_else(|| {
            CliError::Usage(
                "no configuration file: give one, or `--config`, or set `PTC_CONFIG`".to_owned(),
            )
        })?;
    let config = Config::load(&path)?;
    if global.json {
        println!(
            "{}",
            serde_json::json!({"file": path.display().to_string(), "valid": true, "profiles": config.hardening.profiles.keys().collect::<Vec<_>>()})
        );
    } else {
        let style = Style::for_stdout();
        let topic = config
            .alerts
            .topic_arn
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "none (PTC_ALERT_TOPIC_ARN may set it)".to_owned());
        println!("{} {}", style.good("valid:"), path.display());
        println!(
            "  alerts: {topic}, at or above {}",
            config.alerts.min_severity
        );
        println!(
            "  hardening: {} profile(s){}, concurrency {}{}",
            config.hardening.profiles.len(),
            match &config.hardening.prefixes {
                Some(prefixes) => format!(" over {}", prefixes.join(", ")),
                None => " over every pull-through cache rule prefix".to_owned(),
            },
            config.hardening.concurrency,
            if config.hardening.dry_run {
                ", dry run"
            } else {
                ""
            }
        );
        println!(
            "  credentials: warn at {} days, critical at {} days, expiry tag `{}`",
            config.credentials.warn_days,
            config.credentials.critical_days,
            config.credentials.expiry_tag
        );
        println!(
            "  prewarm: {} image(s), concurrency {}",
            config.prewarm.images.len(),
            config.prewarm.concurrency
        );
        println!(
            "  consumers: {} account(s) and role(s) checked by `ptc doctor`",
            config.consumers.consumers.len()
        );
    }
    Ok(ExitCode::from(EXIT_CLEAN))
}
