//! The `ptc-ops.toml` contract (docs/configuration.md, generated from `schema.rs`).
//!
//! Two layers: the file is parsed into a `toml::Table`, then a small typed reader walks it and
//! collects *every* problem (unknown key, wrong type, value out of range, unreadable policy file,
//! invalid policy…) with its key path, so one failed deploy shows all mistakes at once. Only a
//! file without problems becomes a [`Config`]: typed values, defaults filled in, profile
//! inheritance resolved, policies validated. There is deliberately no `Default` for [`Config`]:
//! every running configuration comes from a file someone reviewed.
//!
//! Lambdas call [`Config::load_from_env`] during init, so a bad file fails the cold start rather
//! than the first event; the `ptc` command line calls [`Config::load`] with `--config`.

mod alerts;
mod consumers;
mod credentials;
mod drift;
mod error;
mod hardening;
mod prewarm;
mod profile;
mod reader;
mod rules;
mod schema;
#[cfg(test)]
mod tests;
mod upstream_registries;
#[cfg(test)]
mod url_tests;
mod usage;

use std::ffi::OsStr;
use std::path::Path;

use toml::Table;

use crate::env;

pub use alerts::{AlertsConfig, SnsTopicArn};
pub use consumers::{Consumer, ConsumersConfig};
pub use credentials::{token_destination_problem, CredentialsConfig, HttpBaseUrl};
pub use drift::DriftConfig;
pub use error::{ConfigError, ConfigProblem};
pub use hardening::{
    HardeningConfig, TemplateMode, DEFAULT_CALLS_PER_SECOND, MAX_HARDENING_CONCURRENCY,
};
pub use prewarm::{PrewarmConfig, MAX_PREWARM_CONCURRENCY};
pub use profile::{
    ConfiguredPolicy, EncryptionType, PolicyOrigin, Profile, ScanAlertSeverity, TagMutability,
    TagMutabilitySetting, MAX_REPOSITORY_TAGS, MAX_TAG_MUTABILITY_EXCLUSIONS,
    MAX_TAG_MUTABILITY_FILTER_CHARS,
};
pub use rules::RulesConfig;
pub use schema::{
    config_reference, config_schema, config_schema_text, CONFIG_REFERENCE_FILE, CONFIG_SCHEMA_FILE,
};
pub use upstream_registries::UpstreamRegistriesConfig;
pub use usage::{UsageConfig, DEFAULT_ARCHIVE_PRICE_PER_GB_MONTH, DEFAULT_PRICE_PER_GB_MONTH};

use reader::{KeyPath, Problems, Section};

/// A validated `ptc-ops.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub alerts: AlertsConfig,
    pub hardening: HardeningConfig,
    pub rules: RulesConfig,
    pub credentials: CredentialsConfig,
    pub prewarm: PrewarmConfig,
    pub consumers: ConsumersConfig,
    pub usage: UsageConfig,
    pub upstream_registries: UpstreamRegistriesConfig,
}

/// Values from the environment that take precedence over the file.
#[derive(Debug, Default)]
struct Overrides<'a> {
    /// `PTC_ALERT_TOPIC_ARN`: SAM injects the topic it creates.
    alert_topic_arn: Option<&'a OsStr>,
    /// `PTC_TEMPLATE_ROLE_ARN`: SAM injects the role it creates for creation templates.
    template_role_arn: Option<&'a OsStr>,
    /// `PTC_TEMPLATE_KMS_KEY_ARNS`: the keys the stacks grant that role (comma-separated; set,
    /// even empty, by a deployment): a profile's `kms_key` must be one of them.
    template_kms_key_arns: Option<&'a OsStr>,
}

impl Config {
    /// Validates configuration text. Relative policy paths resolve against `base_dir`;
    /// `source_name` names the text in the error (usually the file path).
    pub fn from_toml_str(
        text: &str,
        base_dir: &Path,
        source_name: &str,
    ) -> Result<Config, ConfigError> {
        Config::parse(text, base_dir, source_name, &Overrides::default())
    }

    /// Reads and validates a configuration file; relative policy paths resolve against the
    /// file's folder.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        Config::load_with(path.as_ref(), &Overrides::default())
    }

    /// What a Lambda calls at init: the file named by `PTC_CONFIG` (default
    /// `/opt/ptc-ops/ptc-ops.toml`, the configuration layer), with `PTC_ALERT_TOPIC_ARN`
    /// overriding `alerts.topic_arn` and `PTC_TEMPLATE_ROLE_ARN`
    /// `hardening.creation_template_role_arn`.
    pub fn load_from_env() -> Result<Config, ConfigError> {
        Config::load_from_environment(
            std::env::var_os(env::PTC_CONFIG).as_deref(),
            std::env::var_os(env::PTC_ALERT_TOPIC_ARN).as_deref(),
            std::env::var_os(env::PTC_TEMPLATE_ROLE_ARN).as_deref(),
            std::env::var_os(env::PTC_TEMPLATE_KMS_KEY_ARNS).as_deref(),
        )
    }

    /// [`Config::load_from_env`] with the two variables passed in, so tests need not change the
    /// process environment. An empty value counts as unset (templates often pass `""`).
    pub fn load_from_env_values(
        config_path: Option<&OsStr>,
        alert_topic_arn: Option<&OsStr>,
    ) -> Result<Config, ConfigError> {
        Config::load_from_environment(config_path, alert_topic_arn, None, None)
    }

    /// [`Config::load_from_env`] with the four variables passed in.
    pub fn load_from_environment(
        config_path: Option<&OsStr>,
        alert_topic_arn: Option<&OsStr>,
        template_role_arn: Option<&OsStr>,
        template_kms_key_arns: Option<&OsStr>,
    ) -> Result<Config, ConfigError> {
        let config_path = config_path
            .filter(|path| !path.is_empty())
            .map_or_else(|| Path::new(env::DEFAULT_CONFIG_PATH), Path::new);
        let overrides = Overrides {
            alert_topic_arn: alert_topic_arn.filter(|arn| !arn.is_empty()),
            template_role_arn: template_role_arn.filter(|arn| !arn.is_empty()),
            // Empty is meaningful here: a stack that grants no key.
            template_kms_key_arns,
        };
        Config::load_with(config_path, &overrides)
    }

    fn load_with(path: &Path, overrides: &Overrides<'_>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        Config::parse(&text, base_dir, &path.display().to_string(), overrides)
    }

    fn parse(
        text: &str,
        base_dir: &Path,
        source_name: &str,
        overrides: &Overrides<'_>,
    ) -> Result<Config, ConfigError> {
        let mut problems = Problems::default();
        let config = match text.parse::<Table>() {
            Ok(table) => read_config(&table, base_dir, overrides, &mut problems),
            Err(error) => {
                problems.report(&KeyPath::default(), describe_toml_error(text, &error));
                None
            }
        };
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError::Invalid {
                source_name: source_name.to_owned(),
                problems: problems.into_vec(),
            }),
        }
    }
}

fn read_config(
    table: &Table,
    base_dir: &Path,
    overrides: &Overrides<'_>,
    problems: &mut Problems,
) -> Option<Config> {
    let mut root = Section::new(Some(table), KeyPath::default());
    let alerts = root
        .table_or_empty("alerts", problems)
        .and_then(|section| alerts::read_alerts(section, problems));
    let hardening = root
        .table_or_empty("hardening", problems)
        .and_then(|section| hardening::read_hardening(section, base_dir, problems));
    let rules = root
        .table_or_empty("rules", problems)
        .and_then(|section| rules::read_rules(section, problems));
    let credentials = root
        .table_or_empty("credentials", problems)
        .and_then(|section| credentials::read_credentials(section, problems));
    let prewarm = root
        .table_or_empty("prewarm", problems)
        .and_then(|section| prewarm::read_prewarm(section, problems));
    let consumers = root
        .table_or_empty("consumers", problems)
        .and_then(|section| consumers::read_consumers(section, problems));
    let usage = root
        .table_or_empty("usage", problems)
        .and_then(|section| usage::read_usage(section, problems));
    let upstream_registries = root
        .table_or_empty("upstream_registries", problems)
        .and_then(|section| upstream_registries::read_upstream_registries(section, problems));
    root.finish(problems);

    let topic_arn_override = overrides
        .alert_topic_arn
        .map(|raw| parse_topic_arn_override(raw, problems));
    let role_arn_override = overrides
        .template_role_arn
        .map(|raw| parse_role_arn_override(raw, problems));
    let mut alerts = alerts?;
    if let Some(topic_arn) = topic_arn_override {
        alerts.topic_arn = Some(topic_arn?);
    }
    let mut hardening = hardening?;
    if let Some(role_arn) = role_arn_override {
        hardening.creation_template_role_arn = Some(role_arn?);
    }
    if let Some(granted) = overrides.template_kms_key_arns {
        check_granted_kms_keys(&hardening, granted, problems);
        if !problems.is_empty() {
            return None;
        }
    }
    Some(Config {
        alerts,
        hardening,
        rules: rules?,
        credentials: credentials?,
        prewarm: prewarm?,
        consumers: consumers?,
        usage: usage?,
        upstream_registries: upstream_registries?,
    })
}

/// Each profile's `kms_key` is one the deployment grants ECR's template role on: otherwise every
/// repository the cache creates from that template would fail to be created.
fn check_granted_kms_keys(hardening: &HardeningConfig, granted: &OsStr, problems: &mut Problems) {
    let granted = granted.to_string_lossy();
    let granted: Vec<&str> = granted
        .split(',')
        .map(str::trim)
        .filter(|arn| !arn.is_empty())
        .collect();
    let profiles = std::iter::once((
        KeyPath::default().key("hardening").key("default"),
        &hardening.default_profile,
    ))
    .chain(hardening.profiles.iter().map(|(prefix, profile)| {
        (
            KeyPath::default()
                .key("hardening")
                .key("profiles")
                .quoted_key(prefix),
            profile,
        )
    }));
    for (path, profile) in profiles {
        if let Some(key) = &profile.kms_key {
            if !granted.contains(&key.as_str()) {
                problems.report(
                    &path.key("kms_key"),
                    format!(
                        "`{key}` is not among the keys the stack grants ECR's creation-template role ({}): add it to the stack's `TemplateKmsKeyArns` (CDK: `templateKmsKeyArns`), or repositories created from the template would fail",
                        if granted.is_empty() { "none".to_owned() } else { granted.join(", ") }
                    ),
                );
            }
        }
    }
}

fn parse_topic_arn_override(raw: &OsStr, problems: &mut Problems) -> Option<SnsTopicArn> {
    let path = KeyPath::default().key("alerts").key("topic_arn");
    let parsed = raw
        .to_str()
        .ok_or_else(|| "expected UTF-8 text".to_owned())
        .and_then(SnsTopicArn::parse);
    match parsed {
        Ok(topic_arn) => Some(topic_arn),
        Err(expected) => {
            problems.report_in(
                &path,
                env::PTC_ALERT_TOPIC_ARN,
                format!("{expected}, found {:?}", raw.to_string_lossy()),
            );
            None
        }
    }
}

fn parse_role_arn_override(raw: &OsStr, problems: &mut Problems) -> Option<String> {
    let path = KeyPath::default()
        .key("hardening")
        .key("creation_template_role_arn");
    let parsed = raw
        .to_str()
        .ok_or_else(|| "expected UTF-8 text".to_owned())
        .and_then(hardening::parse_role_arn);
    match parsed {
        Ok(role_arn) => Some(role_arn),
        Err(expected) => {
            problems.report_in(
                &path,
                env::PTC_TEMPLATE_ROLE_ARN,
                format!("{expected}, found {:?}", raw.to_string_lossy()),
            );
            None
        }
    }
}

/// `invalid TOML at line 3, column 7: …`, on one line.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .count()
                + 1;
            format!("invalid TOML at line {line}, column {column}: {message}")
        }
        None => format!("invalid TOML: {message}"),
    }
}
