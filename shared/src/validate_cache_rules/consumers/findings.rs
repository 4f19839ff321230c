//! The words of the consumer doctor: each [`ConsumerProblem`] becomes one finding, with its
//! resource, title (whose first pulls fail, and through which policy), message (why) and next
//! steps (the statements to add, the `Deny`s to narrow; the commands come from
//! [`crate::remedies`]); each [`Reason`] becomes the `why` of a check in the cells, and each
//! [`PolicySource`] the label of where a repository policy comes from. Nothing here decides
//! anything. Pure.

use std::fmt;

use serde_json::{json, Value};

use super::assess::{judge, Assessment, Inputs};
use super::facts::{
    PolicySource, IAM_SIMULATION_RESOURCE, PULL_ACTIONS, REGISTRY_ACTIONS,
    REGISTRY_POLICY_RESOURCE, TOKEN_ACTION,
};
use super::problems::{
    ConsumerPrefix, ConsumerProblem, Denial, Reason, RegistryGrant, ResourcePolicyKind,
    RoleProblem, SimulationFailure,
};
use super::upstream_role::{PULL_THROUGH_CACHE_SERVICE, UPSTREAM_PULL_ACTIONS};
use crate::domain::iam::TrustProblem;
use crate::domain::markdown::code;
use crate::domain::{Check, Finding};
use crate::remedies::{
    get_registry_policy_command, put_edited_registry_policy_command, put_registry_policy_command,
    update_rule_custom_role_command, APPLY_PROFILES_INSTRUCTIONS,
    UPDATE_ASSUME_ROLE_POLICY_COMMAND,
};

/// Checks every consumer against every prefix it uses, and words the problems.
pub fn assess(inputs: &Inputs<'_>) -> Assessment {
    let judgement = judge(inputs);
    let wording = Wording {
        region: inputs.registry.region.as_deref(),
    };
    Assessment {
        findings: judgement
            .problems
            .iter()
            .map(|problem| wording.finding(problem))
            .collect(),
        cells: judgement.cells,
        upstream_roles: judgement.upstream_roles,
    }
}

/// What the words of the findings need besides the problems: where the commands run.
pub struct Wording<'a> {
    pub region: Option<&'a str>,
}

impl Wording<'_> {
    /// The finding of one problem.
    pub fn finding(&self, problem: &ConsumerProblem) -> Finding {
        let (resource, title, message, next_steps): (String, String, String, Vec<String>) =
            match problem {
                ConsumerProblem::RegistryPolicyUnread { error } => (
                    REGISTRY_POLICY_RESOURCE.to_owned(),
                    "the registry permissions policy could not be read".to_owned(),
                    format!("`GetRegistryPolicy` failed: {error}; whether consumers can make a first pull is unknown this run"),
                    vec!["allow `ecr:GetRegistryPolicy` on `*` for this function's role, or nothing to do if it passes on the next run".to_owned()],
                ),
                ConsumerProblem::RegistryPolicyMalformed { problems } => (
                    REGISTRY_POLICY_RESOURCE.to_owned(),
                    "the registry permissions policy is malformed".to_owned(),
                    format!(
                        "the policy cannot be evaluated: {}; whether consumers can make a first pull is unknown",
                        problems.join("; ")
                    ),
                    vec![format!(
                        "fix the policy (`{}` shows it) and put it back with `{}`",
                        get_registry_policy_command(self.region),
                        put_edited_registry_policy_command(self.region)
                    )],
                ),
                ConsumerProblem::RegistryPolicyRefuses {
                    absent,
                    failing,
                    grants,
                    denials,
                } => self.registry_policy_refuses(*absent, failing, grants, denials),
                ConsumerProblem::RepositoryPolicyRefuses {
                    profile,
                    failing,
                    sources,
                    principals,
                    denials,
                } => repository_policy_refuses(profile, failing, sources, principals, denials),
                ConsumerProblem::IdentityRefuses {
                    consumer,
                    prefixes,
                    actions,
                    resources,
                    token,
                    denials,
                } => identity_refuses(consumer, prefixes, actions, resources, *token, denials),
                ConsumerProblem::SimulationsFailed { failures } => simulations_failed(failures),
                ConsumerProblem::SourceRegistryUnchecked {
                    rule,
                    host,
                    account,
                    region,
                    principal,
                    repositories,
                } => {
                    let statement = json!({
                        "Sid": sid("PtcCacheFrom", rule),
                        "Effect": "Allow",
                        "Principal": {"AWS": principal},
                        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages"],
                        "Resource": repositories,
                    });
                    (
                        rule.clone(),
                        format!("rule `{rule}` pulls from the ECR registry of account {account}: its registry policy is not checked"),
                        format!(
                            "first pulls through `{rule}` work only if the registry `{host}` lets the cache in; that policy lives in account {account} and cannot be read from here"
                        ),
                        vec![format!(
                            "ask the owner of account {account} to have this statement in its registry permissions policy (region {region}): {statement}"
                        )],
                    )
                }
                ConsumerProblem::UpstreamRole {
                    rule,
                    role,
                    problem,
                } => upstream_role(rule, role, problem, self.region),
            };
        Finding::new(
            problem.severity(),
            Check::ConsumerAccess,
            resource,
            title,
            message,
        )
        .with_next_steps(next_steps)
    }

    /// One finding for the registry policy, whatever the number of consumers and prefixes it
    /// fails.
    fn registry_policy_refuses(
        &self,
        absent: bool,
        failing: &[ConsumerPrefix],
        grants: &[RegistryGrant],
        denials: &[Denial],
    ) -> (String, String, String, Vec<String>) {
        let statements: Vec<Value> = grants.iter().map(registry_statement).collect();
        let mut next_steps = Vec::new();
        if absent {
            let policy = json!({"Version": "2012-10-17", "Statement": statements});
            next_steps.push(format!(
                "create the registry permissions policy: {}",
                code(&put_registry_policy_command(
                    &policy.to_string(),
                    self.region
                ))
            ));
        } else {
            for statement in &statements {
                next_steps.push(format!(
                    "add this statement to the registry permissions policy (`{}`, then `{}`): {}",
                    get_registry_policy_command(self.region),
                    put_edited_registry_policy_command(self.region),
                    code(&statement.to_string())
                ));
            }
        }
        next_steps.extend(sorted(denials.iter().map(|denial| {
            format!(
                "narrow the `Deny` {} of the registry permissions policy: it takes `{}` on `{}` away from `{}`",
                denial.statement, denial.action, denial.resource, denial.consumer
            )
        })));
        let why = if absent {
            "the registry has no permissions policy"
        } else {
            "the registry permissions policy does not grant them `ecr:CreateRepository` and `ecr:BatchImportUpstreamImage` on the rule's repositories, or a `Deny` takes it away"
        };
        (
            REGISTRY_POLICY_RESOURCE.to_owned(),
            format!(
                "{} consumer pull{} of a new image would fail: the registry permissions policy",
                failing.len(),
                plural(failing.len())
            ),
            format!(
                "{why}: the first pull of an image not yet cached fails (`ImagePullBackOff`, \"not found\") for {}; cached images keep working",
                pairs(failing)
            ),
            next_steps,
        )
    }
}

/// One finding per profile whose repository policy keeps consumers from pulling.
fn repository_policy_refuses(
    profile: &str,
    failing: &[ConsumerPrefix],
    sources: &[String],
    principals: &[String],
    denials: &[Denial],
) -> (String, String, String, Vec<String>) {
    let key = if profile == "default" {
        "hardening.default.repository_policy".to_owned()
    } else {
        format!("hardening.profiles.\"{profile}\".repository_policy")
    };
    let mut next_steps = Vec::new();
    if !principals.is_empty() {
        let statement = json!({
            "Sid": "PtcConsumersPull",
            "Effect": "Allow",
            "Principal": {"AWS": principals_value(principals)},
            "Action": PULL_ACTIONS,
        });
        next_steps.push(format!(
            "add this statement to the policy of `{key}`: {}",
            code(&statement.to_string())
        ));
    }
    next_steps.extend(sorted(denials.iter().map(|denial| {
        format!(
            "narrow the `Deny` {} of `{key}`: it takes `{}` away from `{}`",
            denial.statement, denial.action, denial.consumer
        )
    })));
    next_steps.push(APPLY_PROFILES_INSTRUCTIONS.to_owned());
    (
        format!("profile:{profile}"),
        format!(
            "{} consumer pull{} would fail: the repository policy of profile `{profile}`",
            failing.len(),
            plural(failing.len())
        ),
        format!(
            "cache repositories get the repository policy of {}, which does not let {} pull (`ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`, `ecr:BatchCheckLayerAvailability`)",
            sources.join(", "),
            pairs(failing)
        ),
        next_steps,
    )
}

/// One finding per principal of the registry's account whose IAM policies keep its first pull
/// from working, with the statement to add to them.
fn identity_refuses(
    consumer: &str,
    prefixes: &[String],
    actions: &[String],
    resources: &[String],
    token: bool,
    denials: &[Denial],
) -> (String, String, String, Vec<String>) {
    let mut statements = Vec::new();
    if !actions.is_empty() {
        statements.push(json!({
            "Sid": "PtcFirstPull",
            "Effect": "Allow",
            "Action": actions,
            "Resource": if resources.len() == 1 { json!(resources[0]) } else { json!(resources) },
        }));
    }
    if token {
        statements.push(json!({
            "Sid": "PtcRegistryLogin",
            "Effect": "Allow",
            "Action": TOKEN_ACTION,
            "Resource": "*",
        }));
    }
    let mut next_steps = Vec::new();
    if !statements.is_empty() {
        next_steps.push(format!(
            "add to an IAM policy of `{consumer}` (or let the registry or repository policy name it): {}",
            json!({"Version": "2012-10-17", "Statement": statements})
        ));
    }
    next_steps.extend(sorted(denials.iter().map(|denial| {
        format!(
            "narrow the `Deny` of {}: it takes `{}` on `{}` away",
            denial.statement, denial.action, denial.resource
        )
    })));
    let listed: Vec<String> = prefixes
        .iter()
        .map(|prefix| format!("`{prefix}`"))
        .collect();
    (
        consumer.to_owned(),
        format!(
            "{} consumer pull{} of a new image would fail: the IAM policies of `{consumer}`",
            prefixes.len(),
            plural(prefixes.len())
        ),
        format!(
            "the IAM policy simulation of `{consumer}` (with the registry and repository policies) does not allow what a first pull through {} needs, or a `Deny` takes it away",
            listed.join(", ")
        ),
        next_steps,
    )
}

/// One warning when some IAM simulations could not run.
fn simulations_failed(failures: &[SimulationFailure]) -> (String, String, String, Vec<String>) {
    let listed: Vec<String> = failures
        .iter()
        .map(|failure| format!("`{}`: {}", failure.principal, failure.why))
        .collect();
    (
        IAM_SIMULATION_RESOURCE.to_owned(),
        format!(
            "the IAM policies of {} consumer{} could not be simulated",
            failures.len(),
            plural(failures.len())
        ),
        format!(
            "whether their first pulls work is unknown: {}",
            listed.join("; ")
        ),
        vec!["allow this function's role `iam:SimulatePrincipalPolicy` on each principal of `consumers.principals` in this account (the stack parameter `ConsumerPrincipalArns`)".to_owned()],
    )
}

/// The findings about the custom role of an ECR-to-ECR rule.
fn upstream_role(
    rule: &str,
    role: &str,
    problem: &RoleProblem,
    region: Option<&str>,
) -> (String, String, String, Vec<String>) {
    let trust_statement = json!({
        "Effect": "Allow",
        "Principal": {"Service": PULL_THROUGH_CACHE_SERVICE},
        "Action": "sts:AssumeRole",
    });
    let title =
        |what: &str| format!("first pulls through `{rule}` would fail: its custom role {what}");
    let resource = format!("custom-role:{rule}");
    match problem {
        RoleProblem::Absent {
            upstream_repositories,
        } => {
            let permissions_statement = json!({
                "Effect": "Allow",
                "Action": UPSTREAM_PULL_ACTIONS,
                "Resource": upstream_repositories,
            });
            (
                resource,
                title(&format!("`{role}` does not exist")),
                format!("ECR assumes `{role}` to pull from the upstream registry, and IAM has no such role: every first pull of an image not yet cached through `{rule}` fails"),
                vec![
                    format!(
                        "create the role `{role}` trusted by pull through cache ({}) with at least {} and `{TOKEN_ACTION}` on `*`",
                        json!({"Version": "2012-10-17", "Statement": [trust_statement]}),
                        json!({"Version": "2012-10-17", "Statement": [permissions_statement]}),
                    ),
                    format!(
                        "or point the rule at an existing role: {}",
                        update_rule_custom_role_command(rule, "<role ARN>", region)
                    ),
                ],
            )
        }
        RoleProblem::Unchecked { why } => (
            resource,
            format!("the custom role of rule `{rule}` could not be checked"),
            format!("`{role}`: {}", why.join("; ")),
            vec!["allow this function's role `iam:GetRole` and `iam:SimulatePrincipalPolicy` on the custom roles of ECR-to-ECR rules (the stack parameter `UpstreamRoleArns`)".to_owned()],
        ),
        RoleProblem::Untrusted { why } => (
            resource,
            title(&format!("`{role}` does not trust pull through cache")),
            format!(
                "{}: ECR cannot assume it to pull from the upstream registry",
                why.join("; ")
            ),
            vec![format!(
                "add this statement to the trust policy of `{role}` (`{UPDATE_ASSUME_ROLE_POLICY_COMMAND}`): {}",
                code(&trust_statement.to_string())
            )],
        ),
        RoleProblem::MayNotPull {
            upstream_repositories,
            missing,
        } => {
            let mut next_steps = Vec::new();
            let (denied, lacking): (Vec<_>, Vec<_>) =
                missing.iter().partition(|grant| grant.denied_by.is_some());
            let lacking_actions: Vec<&str> = lacking
                .iter()
                .filter(|grant| grant.action != TOKEN_ACTION)
                .map(|grant| grant.action.as_str())
                .collect();
            let mut statements = Vec::new();
            if !lacking_actions.is_empty() {
                statements.push(json!({"Effect": "Allow", "Action": lacking_actions, "Resource": upstream_repositories}));
            }
            if lacking.iter().any(|grant| grant.action == TOKEN_ACTION) {
                statements
                    .push(json!({"Effect": "Allow", "Action": TOKEN_ACTION, "Resource": "*"}));
            }
            if !statements.is_empty() {
                next_steps.push(format!(
                    "add to an IAM policy of `{role}`: {}",
                    json!({"Version": "2012-10-17", "Statement": statements})
                ));
            }
            for grant in denied {
                next_steps.push(format!(
                    "narrow the `Deny` of {}: it takes `{}` on `{}` away",
                    grant.denied_by.as_deref().unwrap_or_default(),
                    grant.action,
                    grant.resource
                ));
            }
            (
                resource,
                title(&format!("`{role}` may not pull from the upstream registry")),
                format!(
                    "the IAM policy simulation of `{role}` does not allow {}",
                    missing
                        .iter()
                        .map(|grant| format!("`{}` on `{}`", grant.action, grant.resource))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                next_steps,
            )
        }
        RoleProblem::PartlyChecked { unsure } => (
            resource,
            format!("the custom role of rule `{rule}` could not be fully checked"),
            format!("`{role}`: {}", unsure.join("; ")),
            vec!["check the role's trust and permissions against the ECR user guide (pull-through-cache-private.html)".to_owned()],
        ),
    }
}

/// The registry policy statement that lets the consumers of one prefix make a first pull.
fn registry_statement(grant: &RegistryGrant) -> Value {
    json!({
        "Sid": sid("PtcFirstPull", &grant.prefix),
        "Effect": "Allow",
        "Principal": {"AWS": principals_value(&grant.principals)},
        "Action": REGISTRY_ACTIONS,
        "Resource": grant.resource,
    })
}

/// One principal as a string, several as a list.
fn principals_value(principals: &[String]) -> Value {
    match principals {
        [one] => json!(one),
        _ => json!(principals),
    }
}

/// `PtcFirstPullDockerhub`: a `Sid` is alphanumeric.
fn sid(base: &str, prefix: &str) -> String {
    let mut sid = base.to_owned();
    let mut upper = true;
    for c in prefix.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                sid.push(c.to_ascii_uppercase());
            } else {
                sid.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    sid
}

/// `` `consumer` through `prefix` ``, joined.
fn pairs(failing: &[ConsumerPrefix]) -> String {
    failing
        .iter()
        .map(|pair| format!("`{}` through `{}`", pair.consumer, pair.prefix))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// The lines sorted, without repeats.
fn sorted(lines: impl Iterator<Item = String>) -> Vec<String> {
    let mut lines: Vec<String> = lines.collect();
    lines.sort();
    lines.dedup();
    lines
}

/// The `why` of a check, as the cells of the report and `ptc doctor` show it.
impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::SameAccount => f.write_str("the consumer is in the registry's account: its own IAM policies can grant this (see `identity`)"),
            Reason::RegistryNotKnown => f.write_str("the registry's account id or region is not known"),
            Reason::NoRegistryPolicy => f.write_str("the registry has no permissions policy"),
            Reason::RegistryPolicyUnread { error } => {
                write!(f, "the registry permissions policy could not be read: {error}")
            }
            Reason::RegistryPolicyMalformed { problems } => write!(
                f,
                "the registry permissions policy is malformed: {}",
                problems.join("; ")
            ),
            Reason::TemplatePolicyMalformed { prefix, problem } => write!(
                f,
                "the repository policy of creation template `{prefix}` is malformed: {problem}"
            ),
            Reason::NoRepositoryPolicy {
                source,
                profile,
                prefix,
            } => write!(
                f,
                "the {} sets no repository policy, so cache repositories under `{prefix}` get none",
                source.describe(profile)
            ),
            Reason::KmsKey { prefix } => write!(
                f,
                "repositories under `{prefix}` are encrypted with a KMS key: the consumer needs `kms:Decrypt` on it, and the key policy is not read"
            ),
            Reason::IamOfAnotherAccount { resource } => write!(
                f,
                "IAM of another account cannot be read: {}",
                needs(resource.as_deref())
            ),
            Reason::RegistryAccount { resource } => write!(
                f,
                "the registry's own account: each of its roles and users has its own IAM policies, simulated only for those listed in `consumers.principals`; {}",
                needs(resource.as_deref())
            ),
            Reason::NotSimulated { resource } => write!(
                f,
                "the consumer's own IAM policies were not simulated: {}",
                needs(resource.as_deref())
            ),
            Reason::NotSimulatedForPrefix => f.write_str("it was not simulated for this prefix"),
            Reason::SimulationFailed { why } => write!(f, "the IAM simulation failed: {why}"),
            Reason::DenyUnsure { policy, why } => write!(f, "{policy}: {why}"),
            Reason::OnlyResourcePolicyGrants { action, policy } => write!(
                f,
                "IAM does not allow `{action}`, only {policy} does: enough only if it names the role or user itself rather than the account"
            ),
            Reason::ResourcePolicyGrantsPerhaps { policy, why } => write!(
                f,
                "IAM does not allow it, and {policy} grants it only perhaps: {why}"
            ),
            Reason::NotAnEcrUpstream { upstream } => {
                write!(f, "the upstream `{upstream}` is not an ECR registry address")
            }
            Reason::RoleInAnotherAccount { account } => write!(
                f,
                "the role is not in the registry's account ({}): its IAM cannot be read from here",
                account.as_deref().unwrap_or("unknown")
            ),
            Reason::RoleUnreadable { why } => write!(f, "the role could not be read: {why}"),
            Reason::RoleAbsent => f.write_str("the role does not exist (`NoSuchEntity`)"),
            Reason::Trust(TrustProblem::NotTrusted) => write!(
                f,
                "no statement of its trust policy allows `{PULL_THROUGH_CACHE_SERVICE}` `sts:AssumeRole`"
            ),
            Reason::Trust(TrustProblem::Denied(statement)) => write!(
                f,
                "the `Deny` {statement} of its trust policy keeps `{PULL_THROUGH_CACHE_SERVICE}` from assuming it"
            ),
            Reason::Trust(TrustProblem::Conditional(statements)) => write!(
                f,
                "only {statements} of its trust policy allow `{PULL_THROUGH_CACHE_SERVICE}`, under conditions not evaluated here"
            ),
            Reason::Trust(TrustProblem::ConditionalDeny(statements)) => write!(
                f,
                "the `Deny` {statements} of its trust policy may keep `{PULL_THROUGH_CACHE_SERVICE}` from assuming it, under conditions not evaluated here"
            ),
            Reason::Trust(TrustProblem::Unreadable(why)) => {
                write!(f, "its trust policy cannot be read: {why}")
            }
        }
    }
}

impl PolicySource {
    /// `profile `default``, `creation template `ghcr``, for the cell.
    pub fn describe(&self, profile: &str) -> String {
        match self {
            PolicySource::Profile {
                templates_unread: None,
            } => format!("profile `{profile}`"),
            PolicySource::Profile {
                templates_unread: Some(why),
            } => format!("profile `{profile}` (the creation templates could not be read: {why})"),
            PolicySource::Template { prefix } | PolicySource::MalformedTemplate { prefix, .. } => {
                format!("creation template `{prefix}`")
            }
        }
    }
}

impl fmt::Display for ResourcePolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourcePolicyKind::Registry => "the registry permissions policy",
            ResourcePolicyKind::Repository => "the repository policy",
        })
    }
}

/// What a consumer's own IAM policies must allow for a first pull through `resource` (the
/// cache repositories when not known).
fn needs(resource: Option<&str>) -> String {
    format!(
        "they must allow `{TOKEN_ACTION}` on `*` and {} on `{}`",
        REGISTRY_ACTIONS
            .iter()
            .chain(&PULL_ACTIONS)
            .map(|action| format!("`{action}`"))
            .collect::<Vec<_>>()
            .join(", "),
        resource.unwrap_or("the cache repositories")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CacheRule, Severity, UpstreamKind};
    use crate::test_cases::named_cases;
    use crate::validate_cache_rules::consumers::assess::{source_registry_problem, RegistryFacts};

    #[test]
    fn an_ecr_upstream_gets_the_statement_its_owner_must_add() {
        let mut rule = CacheRule::new("central", "444455556666.dkr.ecr.us-east-1.amazonaws.com");
        assert_eq!(rule.upstream, UpstreamKind::Ecr);
        rule.custom_role_arn = Some("arn:aws:iam::999999999999:role/ptc-upstream".to_owned());
        rule.upstream_repository_prefix = "base-images".to_owned();
        let registry = RegistryFacts {
            account_id: Some("999999999999".to_owned()),
            region: Some("eu-west-1".to_owned()),
        };
        let problem = source_registry_problem(&registry, &rule).expect("a problem");
        let finding = Wording {
            region: registry.region.as_deref(),
        }
        .finding(&problem);
        assert_eq!(finding.severity, Severity::Info);
        let step = &finding.next_steps[0];
        let statement: Value =
            serde_json::from_str(&step[step.find('{').expect("JSON")..]).expect("a statement");
        assert_eq!(
            statement["Principal"]["AWS"],
            "arn:aws:iam::999999999999:role/ptc-upstream"
        );
        assert_eq!(
            statement["Resource"],
            "arn:aws:ecr:us-east-1:444455556666:repository/base-images/*"
        );
    }

    /// A statement's `Sid` is the base and the prefix's alphanumeric words, capitalised.
    fn check_sid(name: &str, prefix: &str, expected: &str) {
        assert_eq!(sid("PtcFirstPull", prefix), expected, "{name}");
    }

    named_cases! {
        /// A statement's `Sid` is the base and the prefix's alphanumeric words, capitalised.
        mod a_sid_is_alphanumeric => check_sid;
        one_word("ghcr", "PtcFirstPullGhcr"),
        a_dash("docker-hub", "PtcFirstPullDockerHub"),
        a_slash_and_digits("team/k8s-io", "PtcFirstPullTeamK8sIo"),
        root("ROOT", "PtcFirstPullROOT"),
    }

    /// The `why` of a check, as the cells show it.
    fn check_reason(name: &str, reason: Reason, expected: &str) {
        assert_eq!(reason.to_string(), expected, "{name}");
    }

    named_cases! {
        /// The `why` of a check, as the cells show it.
        mod the_why_of_a_check => check_reason;
        only_the_registry_policy_grants(
            Reason::OnlyResourcePolicyGrants {
                action: "ecr:CreateRepository".to_owned(),
                policy: ResourcePolicyKind::Registry,
            },
            "IAM does not allow `ecr:CreateRepository`, only the registry permissions policy does: enough only if it names the role or user itself rather than the account",
        ),
        the_repository_policy_grants_perhaps(
            Reason::ResourcePolicyGrantsPerhaps {
                policy: ResourcePolicyKind::Repository,
                why: "a condition".to_owned(),
            },
            "IAM does not allow it, and the repository policy grants it only perhaps: a condition",
        ),
        a_doubtful_deny(
            Reason::DenyUnsure {
                policy: ResourcePolicyKind::Registry,
                why: "a condition".to_owned(),
            },
            "the registry permissions policy: a condition",
        ),
        a_conditional_deny_in_the_trust_policy(
            Reason::Trust(TrustProblem::ConditionalDeny("Statement[0]".to_owned())),
            "the `Deny` Statement[0] of its trust policy may keep `pullthroughcache.ecr.amazonaws.com` from assuming it, under conditions not evaluated here",
        ),
        not_an_ecr_upstream(
            Reason::NotAnEcrUpstream {
                upstream: "ghcr.io".to_owned(),
            },
            "the upstream `ghcr.io` is not an ECR registry address",
        ),
        another_account_where_the_repositories_are_not_known(
            Reason::IamOfAnotherAccount { resource: None },
            "IAM of another account cannot be read: they must allow `ecr:GetAuthorizationToken` on `*` and `ecr:CreateRepository`, `ecr:BatchImportUpstreamImage`, `ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer`, `ecr:BatchCheckLayerAvailability` on `the cache repositories`",
        ),
    }
}
