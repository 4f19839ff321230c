//! check-credentials: format, expiry, age and use of the upstream credential secrets.
//!
//! Observe (list the `ecr-pullthroughcache/` secrets and the rules, read each value, read the
//! expiry tag, ask the upstream when allowed), judge ([`assess`], pure), report. The only
//! write is the optional write-back of a discovered expiry to the expiry tag.
//!
//! Where a token's expiry comes from, first that answers:
//! 1. the tag named by `credentials.expiry_tag` (`YYYY-MM-DD` or RFC 3339);
//! 2. with `credentials.discover_expiry`, the upstream of the rules that use the secret
//!    ([`discovery`]); a Docker Hub secret names its token with the [`TOKEN_LABEL_TAG`] tag
//!    unless the account has a single token;
//! 3. none: an info finding with the `tag-resource` command that records it.
//!
//! No secret value (nor any part of one) is put in a log line, a finding, the report or an
//! error: problems are described by key name and kind only.

pub mod assess;
pub mod events;
pub mod expiry;
pub mod findings;
pub mod format;
pub mod headroom;
pub mod permissions;
#[cfg(test)]
mod tests;
pub mod token_expiry;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use tracing::{info, warn};

use crate::config::CredentialsConfig;
use crate::deadline::Deadline;
use crate::domain::{
    CacheRule, Check, Finding, Report, SecretMetadata, Severity, CREDENTIAL_SECRET_PREFIX,
};
use crate::error::Error;
use crate::metrics::{Metrics, Unit};
use crate::ports::AwsError;
use crate::ports::{PortSet, SecretStore};
use crate::run::{Ran, RunContext};

pub use assess::{Assessment, SecretDetail};
pub use expiry::ExpirySource;

use crate::ports::Registry;
use assess::{Guidance, Observed, TagReading, ValueReading, WriteBack};
use expiry::Thresholds;
use format::check_format;
use token_expiry::{self as discovery, Credentials, Discovered, TOKEN_LABEL_TAG};

/// The function's name in reports and metrics.
pub const FUNCTION: &str = "check-credentials";
/// Secrets checked at once: Secrets Manager publishes no rate for `GetSecretValue`, and
/// upstream APIs rate-limit per token or address.
pub const CONCURRENCY: usize = 4;
/// Time kept back from the invocation deadline to finish the run (report, alerts, metrics).
const FINISH_RESERVE: Duration = Duration::from_secs(2);

/// The `check-credentials` report (`schemas/check-credentials-report.schema.json`).
pub type CredentialsReport = Report<CredentialsDetails>;

/// The sections of the `check-credentials` report beyond the common fields.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct CredentialsDetails {
    /// Every credential secret checked, by name.
    pub secrets: BTreeMap<String, SecretDetail>,
    /// Docker Hub's pull headroom, by the prefix of each Docker Hub rule checked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pulls: BTreeMap<String, headroom::PullHeadroom>,
    /// The CloudTrail record that started the run, when one did (a schedule or a direct
    /// invoke leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<events::CredentialsTrigger>,
}

/// What to check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Names, full or partial ARNs; `None` checks every credential secret.
    pub secrets: Option<Vec<String>>,
}

/// Checks the credential secrets: all of them, or those the request names. Fails only when the
/// secrets cannot be listed; what else could not be observed (the rules, one secret's value,
/// an upstream) becomes a finding and the run goes on.
pub async fn run<P: PortSet>(
    context: &RunContext<'_, P>,
    request: Request,
) -> Result<Ran<CredentialsDetails>, Error> {
    let RunContext {
        ports,
        config,
        deadline,
        now,
        ..
    } = *context;
    let secrets = request.secrets.as_deref();
    let mut report = CredentialsReport::new(FUNCTION, false);
    let mut metrics = Metrics::new(FUNCTION);
    let store = ports.secret_store();
    let registry = ports.registry();
    let settings = &config.credentials;
    let region = ports.region();
    let http = ports.upstream();

    let (listed, rules) = futures::join!(store.credential_secrets(), registry.cache_rules(None));
    let listed = listed.map_err(|error| Error::aws("cannot list the credential secrets", error))?;
    let rules: Option<Vec<CacheRule>> = match rules {
        Ok(rules) => Some(rules),
        Err(error) => {
            warn!(operation = error.operation, error_kind = error.kind.as_str(), error = %error, "pull-through cache rules could not be listed");
            report.push_finding(rules_unknown(&error));
            None
        }
    };

    let selected: Vec<SecretMetadata> = match secrets {
        None => listed,
        Some(requested) => {
            for entry in requested {
                if !listed
                    .iter()
                    .any(|secret| assess::is_requested(entry, secret))
                {
                    report.push_finding(not_found(entry));
                }
            }
            listed
                .into_iter()
                .filter(|secret| {
                    requested
                        .iter()
                        .any(|entry| assess::is_requested(entry, secret))
                })
                .collect()
        }
    };

    let check: SecretCheck<'_, P> = SecretCheck {
        store,
        settings,
        rules: rules.as_deref(),
        guidance: Guidance {
            region,
            expiry_tag: &settings.expiry_tag,
        },
        deadline,
        now,
        http,
        read_credentials: std::sync::Mutex::default(),
    };
    let mut assessments: Vec<Assessment> = stream::iter(selected.iter())
        .map(|secret| check.bounded(secret))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    assessments.sort_by(|left, right| left.name.cmp(&right.name));

    let mut details = BTreeMap::new();
    let mut counts = Counts::default();
    for assessment in assessments {
        counts.add(&assessment);
        if let Some(days) = assessment.detail.days_left {
            metrics.put(
                "DaysUntilExpiry",
                Unit::None,
                days as f64,
                &[("Secret", &assessment.name)],
            );
        }
        for finding in assessment.findings {
            report.push_finding(finding);
        }
        details.insert(assessment.name, assessment.detail);
    }
    counts.write(&mut report, &mut metrics);
    report.details.secrets = details;

    // Docker Hub rules: all of them, or those using a requested secret.
    let hub_rules: Vec<&CacheRule> = rules
        .iter()
        .flatten()
        .filter(|rule| {
            secrets.is_none()
                || selected.iter().any(|secret| {
                    assess::rules_using(secret, std::slice::from_ref(*rule)).len() == 1
                })
        })
        .collect();
    let read = check
        .read_credentials
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let credential_of = |rule: &CacheRule| match &rule.credential_arn {
        None => headroom::RuleCredential::Anonymous,
        Some(_) => selected
            .iter()
            .find(|secret| assess::rules_using(secret, std::slice::from_ref(rule)).len() == 1)
            .and_then(|secret| read.get(&secret.arn))
            .map_or(headroom::RuleCredential::Unusable, |credential| {
                headroom::RuleCredential::Read(credential.clone())
            }),
    };
    let (pulls, headroom_findings) = headroom::check(
        ports,
        config,
        &hub_rules,
        credential_of,
        deadline,
        deadline.is_within(FINISH_RESERVE),
        &mut metrics,
    )
    .await;
    for finding in headroom_findings {
        report.push_finding(finding);
    }
    report.details.pulls = pulls;
    Ok(Ran { report, metrics })
}

/// What checking one secret needs, shared by every secret of the run.
struct SecretCheck<'run, P: PortSet> {
    store: &'run P::Secrets,
    settings: &'run CredentialsConfig,
    rules: Option<&'run [CacheRule]>,
    guidance: Guidance<'run>,
    deadline: Deadline,
    now: DateTime<Utc>,
    http: &'run P::Upstream,
    /// The values read that hold a usable credential, by secret ARN: Docker Hub's headroom is
    /// asked with them, so no value is read twice.
    read_credentials: std::sync::Mutex<BTreeMap<String, crate::registry_api::RegistryCredential>>,
}

impl<P: PortSet> SecretCheck<'_, P> {
    /// Checks one secret within what is left of the invocation (less the finishing reserve):
    /// a secret that cannot be checked in time is a finding, never a hang.
    async fn bounded(&self, secret: &SecretMetadata) -> Assessment {
        let rules: Option<Vec<&CacheRule>> =
            self.rules.map(|rules| assess::rules_using(secret, rules));
        let budget = self
            .deadline
            .remaining()
            .map(|left| left.saturating_sub(FINISH_RESERVE));
        let assessment = match budget {
            None => self.check(secret, rules.clone()).await,
            Some(budget) if budget.is_zero() => {
                findings::unfinished(secret, rules.as_deref().unwrap_or(&[]), self.guidance)
            }
            Some(budget) => {
                match tokio::time::timeout(budget, self.check(secret, rules.clone())).await {
                    Ok(assessment) => assessment,
                    Err(_) => {
                        findings::unfinished(secret, rules.as_deref().unwrap_or(&[]), self.guidance)
                    }
                }
            }
        };
        info!(
            secret = %assessment.name,
            rules = ?assessment.detail.rules,
            expiry_source = assessment.detail.expiry_source.map(ExpirySource::as_str).unwrap_or("none"),
            days_left = assessment.detail.days_left,
            age_days = assessment.detail.age_days,
            n_findings = assessment.findings.len(),
            highest_severity = assessment.detail.highest_severity.map(Severity::as_str).unwrap_or("none"),
            "credential secret checked"
        );
        assessment
    }

    async fn check<'a>(
        &self,
        secret: &'a SecretMetadata,
        rules: Option<Vec<&'a CacheRule>>,
    ) -> Assessment {
        let value = if secret.is_scheduled_for_deletion() {
            ValueReading::Skipped
        } else {
            match self.store.value(secret_id(secret)).await {
                Ok(value) => {
                    if let Some(credential) =
                        crate::registry_api::RegistryCredential::from_secret(&value)
                    {
                        self.read_credentials
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(secret.arn.clone(), credential);
                    }
                    ValueReading::Read(check_format(&value))
                }
                Err(error) => ValueReading::Failed {
                    kind: error.kind,
                    message: aws_reason(&error),
                },
            }
        };
        let tag = TagReading::of(secret, &self.settings.expiry_tag);
        let discovered = match (&tag, &value) {
            (TagReading::Valid(_), _) => None,
            (_, ValueReading::Read(format)) if self.settings.discover_expiry => {
                self.discover(secret, rules.as_deref().unwrap_or(&[]), format)
                    .await
            }
            _ => None,
        };
        let write_back = match &discovered {
            Some(Discovered::Expiry(expiry)) if self.settings.write_back => match expiry.at {
                Some(at) => self.write_back(secret, at).await,
                None => WriteBack::NotAsked,
            },
            _ => WriteBack::NotAsked,
        };
        let observed = Observed {
            secret,
            rules,
            value,
            tag,
            discovered,
            write_back,
        };
        findings::assess(
            &observed,
            Thresholds::from(self.settings),
            self.guidance,
            self.now,
        )
    }

    /// Asks the first upstream of the secret's rules that can tell a token's expiry.
    async fn discover(
        &self,
        secret: &SecretMetadata,
        rules: &[&CacheRule],
        format: &format::FormatAssessment,
    ) -> Option<Discovered> {
        let source = rules
            .iter()
            .find_map(|rule| discovery::source_for(&rule.upstream))?;
        let (username, access_token) = format.usable_credentials()?;
        let credentials = Credentials {
            username,
            access_token,
            token_label: secret.tags.get(TOKEN_LABEL_TAG).map(String::as_str),
        };
        let discovered =
            discovery::discover(self.http, self.settings, source, credentials, self.deadline).await;
        info!(
            secret = %secret.name,
            source = source.as_str(),
            outcome = discovered_label(&discovered),
            "upstream asked for the token's expiry"
        );
        Some(discovered)
    }

    async fn write_back(&self, secret: &SecretMetadata, at: DateTime<Utc>) -> WriteBack {
        let value = expiry::tag_value(at);
        match self
            .store
            .tag(secret_id(secret), &self.settings.expiry_tag, &value)
            .await
        {
            Ok(()) => {
                info!(secret = %secret.name, tag = %self.settings.expiry_tag, value = %value, "discovered expiry stored in the tag");
                WriteBack::Written(value)
            }
            Err(error) => WriteBack::Failed(aws_reason(&error)),
        }
    }
}

/// The ARN names exactly this secret, even when a newer one of the same name exists.
fn secret_id(secret: &SecretMetadata) -> &str {
    if secret.arn.is_empty() {
        &secret.name
    } else {
        &secret.arn
    }
}

fn discovered_label(discovered: &Discovered) -> &'static str {
    match discovered {
        Discovered::Expiry(expiry) if expiry.at.is_some() => "expiry",
        Discovered::Expiry(_) => "never-expires",
        Discovered::Rejected { .. } => "rejected",
        Discovered::Inactive { .. } => "inactive",
        Discovered::Unknown { .. } => "unknown",
    }
}

/// An AWS failure in a few words: code and message, never a request body.
fn aws_reason(error: &AwsError) -> String {
    match (&error.code, &error.message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        (None, Some(message)) => message.clone(),
        (None, None) => error.kind.as_str().to_owned(),
    }
}

fn rules_unknown(error: &AwsError) -> Finding {
    Finding::new(
        Severity::Warning,
        Check::CredentialUse,
        CREDENTIAL_SECRET_PREFIX,
        "pull-through cache rules could not be listed",
        format!(
            "`ecr:DescribePullThroughCacheRules` failed ({}): {}; which rule uses which secret is unknown, so orphans and deletions in use are not reported and upstreams are not asked",
            error.kind.as_str(),
            aws_reason(error)
        ),
    )
    .with_next_step("allow `ecr:DescribePullThroughCacheRules` in the function's role")
}

fn not_found(entry: &str) -> Finding {
    let hint = if entry.starts_with(CREDENTIAL_SECRET_PREFIX) || entry.starts_with("arn:") {
        String::new()
    } else {
        format!(" (credential secret names start with `{CREDENTIAL_SECRET_PREFIX}`)")
    };
    Finding::new(
        Severity::Warning,
        Check::CredentialUse,
        entry,
        format!("credential secret `{entry}` was not found"),
        format!("it was asked for, but no secret of that name or ARN exists{hint}"),
    )
    .with_next_step("list the credential secrets: `aws secretsmanager list-secrets --filters Key=name,Values=ecr-pullthroughcache/`")
}

#[derive(Debug, Default)]
struct Counts {
    checked: u64,
    expiring_soon: u64,
    invalid: u64,
    orphaned: u64,
    unreadable: u64,
    without_expiry: u64,
    too_old: u64,
    scheduled_for_deletion: u64,
    expiry_written_back: u64,
}

impl Counts {
    fn add(&mut self, assessment: &Assessment) {
        let flag = |value: bool| u64::from(value);
        self.checked += 1;
        self.expiring_soon += flag(assessment.expiring_soon);
        self.invalid += flag(assessment.invalid);
        self.orphaned += flag(assessment.orphaned);
        self.unreadable += flag(assessment.unreadable);
        self.without_expiry += flag(assessment.without_expiry);
        self.too_old += flag(assessment.too_old);
        self.scheduled_for_deletion += flag(assessment.detail.scheduled_for_deletion_at.is_some());
        self.expiry_written_back += flag(assessment.detail.expiry_written_back.is_some());
    }

    fn write<D>(&self, report: &mut Report<D>, metrics: &mut Metrics) {
        for (name, value) in [
            ("secrets_checked", self.checked),
            ("secrets_expiring_soon", self.expiring_soon),
            ("secrets_invalid", self.invalid),
            ("secrets_orphaned", self.orphaned),
            ("secrets_unreadable", self.unreadable),
            ("secrets_without_expiry", self.without_expiry),
            ("secrets_too_old", self.too_old),
            (
                "secrets_scheduled_for_deletion",
                self.scheduled_for_deletion,
            ),
            ("expiry_tags_written", self.expiry_written_back),
        ] {
            report.count(name, value);
        }
        metrics.count("CredentialsChecked", self.checked);
        metrics.count("CredentialsExpiringSoon", self.expiring_soon);
        metrics.count("CredentialsInvalid", self.invalid);
    }
}
