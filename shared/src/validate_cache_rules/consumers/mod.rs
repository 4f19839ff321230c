//! The consumer doctor: will the first pull of a new image through each rule work for each
//! configured account and role (`[consumers]`)?
//!
//! Observe (`GetRegistryPolicy`, the creation templates, IAM simulations of the principals of
//! this account; the rules and the profiles are given; a profile prefix below a rule is checked
//! as its own prefix, as its template applies there) → assess ([`assess`], pure: the cells and
//! the [`problems`], [`upstream_role`] for the custom roles of ECR-to-ECR rules) → word the
//! problems ([`findings`]) → report. Run by `validate-cache-rules` on its schedule and by `ptc doctor`.
//! Nothing is written.

pub mod assess;
pub mod facts;
pub mod findings;
pub mod permissions;
pub mod problems;
pub mod upstream_role;

use tracing::info;

pub use assess::{
    governing_template, Assessment, Cell, CheckResult, IdentityFacts, MissingGrant, PolicySource,
    RegistryFacts, RegistryPolicyLookup, Status, IAM_SIMULATION_RESOURCE, PULL_ACTIONS,
    REGISTRY_ACTIONS, REGISTRY_POLICY_RESOURCE, SAMPLE_REPOSITORY, TOKEN_ACTION,
};

use std::collections::BTreeMap;

use crate::config::{Config, Consumer};
use crate::domain::policy_eval::Caller;
use crate::domain::{under_prefix, CacheRule, Report, RepositoryPolicy, UpstreamKind};
use crate::ports::{CreationTemplates, Iam, PortSet, Registry};
use upstream_role::{UpstreamRoleCheck, UpstreamRoleLookup};

/// Checks `consumers` (the configured ones when `None`) against the rules' prefixes: the
/// registry permissions policy is read, the repository policy and encryption come from the
/// profile of each prefix (what the creation templates give new cache repositories).
/// Never fails: a policy that cannot be read is a finding and `unknown` answers.
pub async fn check(
    ports: &impl PortSet,
    config: &Config,
    rules: &[CacheRule],
    consumers: Option<&[Consumer]>,
) -> Assessment {
    let consumers = consumers.unwrap_or(&config.consumers.consumers);
    if consumers.is_empty() || rules.is_empty() {
        return Assessment::default();
    }
    let (registry_policy, registry_id) = match ports.registry().registry_policy().await {
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
    // What new cache repositories actually get: the creation template's repository policy.
    let templates = ports
        .creation_templates()
        .all()
        .await
        .map_err(|error| error.to_string());
    let template_policies: BTreeMap<String, Result<Option<RepositoryPolicy>, String>> =
        match &templates {
            Ok(templates) => templates
                .iter()
                .map(|template| {
                    let policy = match template.repository_policy.as_deref() {
                        None => Ok(None),
                        Some(text) => RepositoryPolicy::parse(text).map(Some).map_err(|problems| {
                            problems
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join("; ")
                        }),
                    };
                    (template.prefix.clone(), policy)
                })
                .collect(),
            Err(_) => BTreeMap::new(),
        };
    let prefixes: Vec<assess::PrefixFacts<'_>> = prefixes
        .into_iter()
        .map(|(prefix, rule_prefix)| {
            let (profile_prefix, profile) = config.hardening.profile_for(&prefix);
            let from_profile = profile
                .repository_policy
                .as_ref()
                .map(|configured| &configured.policy);
            let governing = match &templates {
                Ok(templates) => {
                    assess::governing_template(templates, &prefix).and_then(|template| {
                        template_policies
                            .get(&template.prefix)
                            .map(|policy| (template.prefix_key().to_owned(), policy))
                    })
                }
                Err(_) => None,
            };
            let (repository_policy, policy_source) = match governing {
                Some((prefix, Ok(policy))) => (policy.as_ref(), PolicySource::Template { prefix }),
                Some((prefix, Err(problem))) => (
                    None,
                    PolicySource::MalformedTemplate {
                        prefix,
                        problem: problem.clone(),
                    },
                ),
                None => (
                    from_profile,
                    PolicySource::Profile {
                        templates_unread: templates.as_ref().err().cloned(),
                    },
                ),
            };
            assess::PrefixFacts {
                profile: profile_prefix.unwrap_or("default").to_owned(),
                repository_policy,
                policy_source,
                encryption: profile.encryption,
                prefix,
                rule_prefix,
            }
        })
        .collect();
    let registry = RegistryFacts {
        account_id,
        region: ports.region().map(str::to_owned),
    };
    let identities = simulate_identities(ports, &registry, consumers, &prefixes).await;
    let ecr_upstreams: Vec<&CacheRule> = rules
        .iter()
        .filter(|rule| rule.upstream == UpstreamKind::Ecr)
        .collect();
    let upstream_roles = look_up_upstream_roles(ports, &registry, &ecr_upstreams).await;
    let assessment = findings::assess(&assess::Inputs {
        registry,
        registry_policy,
        prefixes,
        consumers,
        organization_id: config.consumers.organization_id.as_deref(),
        ecr_upstreams,
        identities,
        upstream_roles,
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

/// Simulates the IAM policies of each role or user of the registry's account among `consumers`
/// (`iam:SimulatePrincipalPolicy`): the repository actions on a repository under each prefix it
/// uses, and `ecr:GetAuthorizationToken` on `*`. One call per principal and prefix, plus one;
/// a failed call is kept as why, for an `unknown` answer.
async fn simulate_identities(
    ports: &impl PortSet,
    registry: &RegistryFacts,
    consumers: &[Consumer],
    prefixes: &[assess::PrefixFacts<'_>],
) -> BTreeMap<String, IdentityFacts> {
    let mut identities = BTreeMap::new();
    let Some(account_id) = registry.account_id.as_deref() else {
        return identities;
    };
    let iam = ports.iam();
    let repository_actions: Vec<&str> = REGISTRY_ACTIONS
        .iter()
        .chain(&PULL_ACTIONS)
        .copied()
        .collect();
    for consumer in consumers {
        let Caller::Principal {
            arn,
            account_id: principal_account,
            ..
        } = &consumer.caller
        else {
            continue;
        };
        if principal_account != account_id || identities.contains_key(arn) {
            continue;
        }
        let mut repositories = BTreeMap::new();
        for facts in prefixes
            .iter()
            .filter(|facts| consumer.uses(&facts.rule_prefix))
        {
            let Some(sample) = registry.sample_repository_arn(&facts.prefix) else {
                continue;
            };
            let answer = iam
                .simulate(arn, &repository_actions, std::slice::from_ref(&sample))
                .await
                .map_err(|error| error.to_string());
            repositories.insert(facts.prefix.clone(), answer);
        }
        let authorization_token = iam
            .simulate(arn, &[TOKEN_ACTION], &["*".to_owned()])
            .await
            .map_err(|error| error.to_string());
        identities.insert(
            arn.clone(),
            IdentityFacts {
                repositories,
                authorization_token,
            },
        );
    }
    identities
}

/// Reads the custom role of each ECR-to-ECR rule (`iam:GetRole`) and, when it exists in the
/// registry's account, simulates its pull from the upstream repositories.
async fn look_up_upstream_roles(
    ports: &impl PortSet,
    registry: &RegistryFacts,
    rules: &[&CacheRule],
) -> BTreeMap<String, UpstreamRoleLookup> {
    let mut lookups = BTreeMap::new();
    let iam = ports.iam();
    for rule in rules {
        let Some(role) = rule.custom_role_arn.as_deref() else {
            continue;
        };
        let in_this_account = match (Caller::parse_principal(role), &registry.account_id) {
            (Ok(caller), Some(account_id)) => caller.account_id() == account_id,
            _ => false,
        };
        let lookup = if !in_this_account {
            UpstreamRoleLookup::OtherAccount
        } else {
            match iam.role(role).await {
                Err(error) => UpstreamRoleLookup::Failed(error.to_string()),
                Ok(None) => UpstreamRoleLookup::Absent,
                Ok(Some(facts)) => {
                    let pull = match upstream_role::upstream_sample_arn(registry, rule) {
                        Some(sample) => iam
                            .simulate(role, &upstream_role::UPSTREAM_PULL_ACTIONS, &[sample])
                            .await
                            .map_err(|error| error.to_string()),
                        None => Err(problems::Reason::NotAnEcrUpstream {
                            upstream: rule.upstream_registry_url.clone(),
                        }
                        .to_string()),
                    };
                    let token = iam
                        .simulate(role, &[TOKEN_ACTION], &["*".to_owned()])
                        .await
                        .map_err(|error| error.to_string());
                    UpstreamRoleLookup::Found {
                        trust_policy: facts.trust_policy,
                        pull,
                        token,
                    }
                }
            }
        };
        lookups.insert(rule.prefix.clone(), lookup);
    }
    lookups
}

/// The sections the consumer checks add to a report (validate-cache-rules, `ptc doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ConsumerSections {
    /// The custom role of each ECR-to-ECR rule: it exists, trusts pull through cache and may
    /// pull from the upstream registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_roles: Vec<UpstreamRoleCheck>,
    /// Will each consumer's first pull through each prefix work: one cell per consumer and
    /// prefix.
    pub consumers: Vec<Cell>,
}

impl Assessment {
    /// Counts and findings into a run's report; the matrix comes back as the sections to put
    /// in it (`None` when there was nothing to check).
    pub fn write_into<D>(self, report: &mut Report<D>) -> Option<ConsumerSections> {
        if self.cells.is_empty() && self.findings.is_empty() {
            return None;
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
        for finding in self.findings {
            report.push_finding(finding);
        }
        Some(ConsumerSections {
            upstream_roles: self.upstream_roles,
            consumers: self.cells,
        })
    }
}
