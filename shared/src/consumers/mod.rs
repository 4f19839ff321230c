//! The consumer doctor: will the first pull of a new image through each rule work for each
//! configured account and role (`[consumers]`)?
//!
//! Observe (`GetRegistryPolicy`; the rules and the profiles are given; a profile prefix below a
//! rule is checked as its own prefix, as its template applies there) → assess ([`assess`],
//! pure) → report. Run by `validate-cache-rules` on its schedule and by `ptc doctor`. Nothing
//! is written.

pub mod assess;
pub mod permissions;

use tracing::info;

pub use assess::{
    Assessment, Cell, CheckResult, MissingGrant, RegistryFacts, RegistryPolicyLookup, Status,
    PULL_ACTIONS, REGISTRY_ACTIONS, REGISTRY_POLICY_RESOURCE,
};

use crate::aws::Clients;
use crate::config::{Config, Consumer};
use crate::domain::{under_prefix, CacheRule, Report, UpstreamKind};

/// Checks `consumers` (the configured ones when `None`) against the rules' prefixes: the
/// registry permissions policy is read, the repository policy and encryption come from the
/// profile of each prefix (what the creation templates give new cache repositories).
/// Never fails: a policy that cannot be read is a finding and `unknown` answers.
pub async fn check(
    clients: &Clients,
    config: &Config,
    rules: &[CacheRule],
    consumers: Option<&[Consumer]>,
) -> Assessment {
    let consumers = consumers.unwrap_or(&config.consumers.consumers);
    if consumers.is_empty() || rules.is_empty() {
        return Assessment::default();
    }
    let (registry_policy, registry_id) = match clients.registry().registry_policy().await {
        Ok(answer) => (
            match answer.policy_text {
                Some(text) => RegistryPolicyLookup::Found(text),
                None => RegistryPolicyLookup::Absent,
            },
            answer.registry_id,
        ),
        Err(error) => (
            RegistryPolicyLookup::CallFailed {
                error: error.to_string(),
            },
            None,
        ),
    };
    let account_id = registry_id.or_else(|| rules.iter().find_map(|rule| rule.registry_id.clone()));
    // Each rule's prefix, and each profile prefix below it: ECR gives the repositories there
    // the more specific template, so they may get another repository policy.
    let mut prefixes: Vec<(String, String)> = Vec::new();
    for rule in rules {
        prefixes.push((rule.prefix.clone(), rule.prefix.clone()));
        for profile_prefix in config.hardening.profiles.keys() {
            if profile_prefix != &rule.prefix && under_prefix(profile_prefix, &rule.prefix) {
                prefixes.push((profile_prefix.clone(), rule.prefix.clone()));
            }
        }
    }
    prefixes.sort();
    prefixes.dedup_by(|later, earlier| later.0 == earlier.0);
    let prefixes = prefixes
        .into_iter()
        .map(|(prefix, rule_prefix)| {
            let (profile_prefix, profile) = config.hardening.profile_for(&prefix);
            assess::PrefixFacts {
                profile: profile_prefix.unwrap_or("default").to_owned(),
                repository_policy: profile
                    .repository_policy
                    .as_ref()
                    .map(|configured| &configured.policy),
                encryption: profile.encryption,
                prefix,
                rule_prefix,
            }
        })
        .collect();
    let assessment = assess::assess(&assess::Inputs {
        registry: RegistryFacts {
            account_id,
            region: clients.region().map(str::to_owned),
        },
        registry_policy,
        prefixes,
        consumers,
        organization_id: config.consumers.organization_id.as_deref(),
        ecr_upstreams: rules
            .iter()
            .filter(|rule| rule.upstream == UpstreamKind::Ecr)
            .collect(),
    });
    for cell in &assessment.cells {
        info!(
            consumer = %cell.consumer,
            prefix = %cell.prefix,
            status = cell.status.as_str(),
            registry_policy = cell.registry_policy.status.as_str(),
            repository_policy = cell.repository_policy.status.as_str(),
            "consumer checked"
        );
    }
    assessment
}

impl Assessment {
    /// Counts, the matrix under `consumers` and the findings, into a run's report.
    pub fn write_into(self, report: &mut Report) {
        if self.cells.is_empty() && self.findings.is_empty() {
            return;
        }
        report.count("consumer_checks", self.cells.len() as u64);
        report.count("consumer_checks_ok", self.count(Status::Ok) as u64);
        report.count(
            "consumer_checks_missing",
            self.count(Status::Missing) as u64,
        );
        report.count(
            "consumer_checks_unknown",
            self.count(Status::Unknown) as u64,
        );
        report.set_detail(
            "consumers",
            serde_json::to_value(&self.cells)
                .unwrap_or_else(|_| serde_json::Value::Array(Vec::new())),
        );
        for finding in self.findings {
            report.push_finding(finding);
        }
    }
}
