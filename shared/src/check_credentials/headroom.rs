//! Docker Hub headroom: how many pulls each Docker Hub rule's credential has left.
//!
//! Docker Hub limits pulls per account (or address, when anonymous) per six hours, and says how
//! many are left in `ratelimit-limit` and `ratelimit-remaining` (`100;w=21600`) on a manifest
//! `HEAD` of `ratelimitpreview/test:latest`; a `HEAD` is not counted as a pull. Each rule is asked
//! with its own credential (anonymous without one), through the registry token flow
//! ([`crate::registry_api`]). Paid plans may send no such headers: "no limit reported", in the
//! report's `pulls` detail and the log, not a finding (it would repeat every run).
//!
//! Findings name the rule's credential secret (Docker Hub counts per account, and the alert then
//! joins that secret's thread), or the rule's prefix when it pulls anonymously. A credential the
//! upstream refuses, or one that is malformed, is the credential's own finding: here it is only
//! the `pulls` detail, so one failure alerts once.

use std::collections::BTreeMap;

use tracing::{info, warn};

use crate::config::Config;
use crate::deadline::Deadline;
use crate::domain::{CacheRule, Check, Finding, Severity, UpstreamKind};
use crate::metrics::{Metrics, Unit};
use crate::ports::PortSet;
use crate::registry_api::{head_manifest, HeadProblem, RegistryCredential};

/// The repository Docker Hub documents for reading the limit.
pub const PREVIEW_REPOSITORY: &str = "ratelimitpreview/test";
const PREVIEW_TAG: &str = "latest";

/// What Docker Hub said of one rule's pulls (`pulls` detail of the report).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct PullHeadroom {
    /// `ok`, `low`, `exhausted`, `no-limit-reported` or `unknown`.
    pub status: &'static str,
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Why the headroom is not known, naming the upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How the headroom grades. Pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grade {
    Ok,
    /// Below `min_percent` of the limit.
    Low,
    /// No pull left: pulls of new images through this rule fail until the window moves on.
    Exhausted,
    /// No headers: a plan without a pull limit, or an upstream that does not say.
    NoLimitReported,
}

/// Grades `remaining` of `limit` against `min_percent`.
pub fn grade(limit: Option<u64>, remaining: Option<u64>, min_percent: u8) -> Grade {
    match (limit, remaining) {
        (_, Some(0)) => Grade::Exhausted,
        (Some(limit), Some(remaining)) if limit > 0 => {
            // remaining / limit < min_percent / 100, without floating point.
            if u128::from(remaining) * 100 < u128::from(limit) * u128::from(min_percent) {
                Grade::Low
            } else {
                Grade::Ok
            }
        }
        _ => Grade::NoLimitReported,
    }
}

/// A rule's credential as the run read it: `Anonymous` for a rule without one, `Unusable` when
/// its secret could not be read or is malformed (the credential's own findings say so).
#[derive(Debug, Clone)]
pub enum RuleCredential {
    Anonymous,
    Read(RegistryCredential),
    Unusable,
}

/// Asks Docker Hub, once per Docker Hub rule among `rules`, with the credential `credential_of`
/// gives (the values check-credentials already read: none is read twice), and words what it
/// said: the `pulls` detail by prefix, findings, and the `UpstreamPullsRemaining` /
/// `UpstreamPullsLimit` metrics. Near the deadline (`no_time`) nothing is asked.
pub async fn check<P: PortSet>(
    ports: &P,
    config: &Config,
    rules: &[&CacheRule],
    credential_of: impl Fn(&CacheRule) -> RuleCredential,
    deadline: Deadline,
    no_time: bool,
    metrics: &mut Metrics,
) -> (BTreeMap<String, PullHeadroom>, Vec<Finding>) {
    let mut pulls = BTreeMap::new();
    let mut findings = Vec::new();
    for rule in rules
        .iter()
        .filter(|rule| rule.upstream == UpstreamKind::DockerHub)
    {
        if no_time {
            // Each secret's own finding already says the run ran out of time.
            pulls.insert(
                rule.prefix.clone(),
                PullHeadroom {
                    status: "unknown",
                    limit: None,
                    remaining: None,
                    error: Some("not asked: the deadline was too near".to_owned()),
                },
            );
            continue;
        }
        let (headroom, finding) = one(ports, config, rule, credential_of(rule), deadline).await;
        if let (Some(limit), Some(remaining)) = (headroom.limit, headroom.remaining) {
            let dimensions = [("Prefix", rule.prefix.as_str())];
            metrics.put(
                "UpstreamPullsRemaining",
                Unit::Count,
                remaining as f64,
                &dimensions,
            );
            metrics.put("UpstreamPullsLimit", Unit::Count, limit as f64, &dimensions);
        }
        findings.extend(finding);
        pulls.insert(rule.prefix.clone(), headroom);
    }
    (pulls, findings)
}

async fn one<P: PortSet>(
    ports: &P,
    config: &Config,
    rule: &CacheRule,
    credential: RuleCredential,
    deadline: Deadline,
) -> (PullHeadroom, Option<Finding>) {
    let resource = rule
        .credential_arn
        .as_deref()
        .map_or(rule.prefix.as_str(), secret_name);
    let unknown = |why: String, severity: Option<Severity>| {
        warn!(prefix = %rule.prefix, error = %why, "Docker Hub headroom not known");
        let finding = severity.map(|severity| {
            Finding::new(
                severity,
                Check::UpstreamHeadroom,
                resource,
                format!(
                    "rule `{}`: Docker Hub's pull headroom is not known",
                    rule.prefix
                ),
                why.clone(),
            )
            .with_next_step("check `upstream_registries` and the rule's credential")
        });
        (
            PullHeadroom {
                status: "unknown",
                limit: None,
                remaining: None,
                error: Some(why),
            },
            finding,
        )
    };
    let api = match config
        .upstream_registries
        .api_url(&rule.upstream_registry_url)
    {
        Ok(api) => api,
        Err(why) => return unknown(why, Some(Severity::Warning)),
    };
    let credential = match credential {
        RuleCredential::Anonymous => None,
        RuleCredential::Read(credential) => Some(credential),
        // A malformed or unreadable credential is check-credentials' own finding; anonymous
        // would say nothing of the account's limit, so it is not asked.
        RuleCredential::Unusable => {
            return unknown(
                "not asked: the rule's credential could not be read or is not `{\"username\", \"accessToken\"}`".to_owned(),
                None,
            )
        }
    };
    let head = match head_manifest(
        ports.upstream(),
        &api,
        PREVIEW_REPOSITORY,
        PREVIEW_TAG,
        credential.as_ref(),
        deadline,
    )
    .await
    {
        Ok(head) => head,
        Err(problem @ HeadProblem::RateLimited { .. }) => {
            warn!(prefix = %rule.prefix, upstream = api.host(), "Docker Hub answered 429: no pull left");
            let finding = Finding::new(
                Severity::Critical,
                Check::UpstreamHeadroom,
                resource,
                format!("rule `{}`: Docker Hub allows no more pulls", rule.prefix),
                format!("{problem}; pulls of images not cached yet fail until the window moves on"),
            )
            .with_next_step("authenticate the rule with a paid Docker Hub account, or wait for the six-hour window");
            return (
                PullHeadroom {
                    status: "exhausted",
                    limit: None,
                    remaining: Some(0),
                    error: Some(problem.to_string()),
                },
                Some(finding),
            );
        }
        // A credential the upstream refuses is the credential's own finding (its expiry, its
        // rule's validation): said here as information only, so one failure alerts once.
        Err(problem @ HeadProblem::Unauthorized { .. }) => {
            return unknown(problem.to_string(), None)
        }
        Err(problem) => return unknown(problem.to_string(), Some(Severity::Warning)),
    };
    let min = config.credentials.min_pulls_remaining_percent;
    let graded = grade(head.limit, head.remaining, min);
    info!(prefix = %rule.prefix, limit = head.limit, remaining = head.remaining, requests = head.requests, grade = ?graded, "Docker Hub headroom read");
    let counts = format!(
        "{} of {} pulls left in Docker Hub's window",
        head.remaining.unwrap_or_default(),
        head.limit.unwrap_or_default()
    );
    let (status, finding) = match graded {
        Grade::Ok => ("ok", None),
        Grade::Low => (
            "low",
            Some(
                Finding::new(
                    Severity::Warning,
                    Check::UpstreamHeadroom,
                    resource,
                    format!("rule `{}`: Docker Hub pulls running low", rule.prefix),
                    format!("{counts}, below `credentials.min_pulls_remaining_percent` ({min} %)"),
                )
                .with_next_step("pre-warm fewer new images until the window moves on, or authenticate the rule with an account that has a higher limit"),
            ),
        ),
        Grade::Exhausted => (
            "exhausted",
            Some(
                Finding::new(
                    Severity::Critical,
                    Check::UpstreamHeadroom,
                    resource,
                    format!("rule `{}`: Docker Hub allows no more pulls", rule.prefix),
                    format!("{counts}: pulls of images not cached yet fail until the window moves on"),
                )
                .with_next_step("authenticate the rule with a paid Docker Hub account, or wait for the six-hour window"),
            ),
        ),
        Grade::NoLimitReported => {
            info!(prefix = %rule.prefix, upstream = api.host(), "no limit reported: no `ratelimit-limit` and `ratelimit-remaining` headers (paid plans may have no pull limit)");
            ("no-limit-reported", None)
        }
    };
    (
        PullHeadroom {
            status,
            limit: head.limit,
            remaining: head.remaining,
            error: None,
        },
        finding,
    )
}

/// `ecr-pullthroughcache/x` of a secret ARN (`…:secret:ecr-pullthroughcache/x-AbCdEf`) or name:
/// the resource check-credentials' own findings name.
fn secret_name(reference: &str) -> &str {
    match reference.split_once(":secret:") {
        Some((_, name)) => match name.rsplit_once('-') {
            // Secrets Manager appends `-` and six characters to the name in an ARN.
            Some((base, suffix)) if suffix.len() == 6 => base,
            _ => name,
        },
        None => reference,
    }
}

#[cfg(test)]
#[path = "headroom_tests.rs"]
mod tests;
