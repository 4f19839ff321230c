//! The custom role (`customRoleArn`) of an ECR-to-ECR rule: ECR assumes it to pull from the
//! upstream registry, so a first pull through the rule works only if the role exists, trusts
//! pull through cache and may pull from the upstream repositories. Pure: decides from what
//! `iam:GetRole` and `iam:SimulatePrincipalPolicy` answered, as [`RoleProblem`]s that
//! `findings` words.
//!
//! ECR user guide, pull-through-cache-private.html: the trust policy names the service principal
//! `pullthroughcache.ecr.amazonaws.com`, and the role's permissions include
//! `ecr:GetAuthorizationToken`, `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer` (with the
//! push actions ECR uses in the cache registry, which are not simulated here: the resource ECR
//! checks them on is not documented).

use serde::Serialize;

use super::facts::{CheckResult, RegistryFacts, Status, SAMPLE_REPOSITORY, TOKEN_ACTION};
use super::problems::{Reason, RoleProblem};
use crate::domain::iam::{answer_for, trust_problem, SimulatedDecision, TrustProblem};
use crate::domain::policy_eval::Answer;
use crate::domain::{CacheRule, ROOT_PREFIX};

/// The service principal that assumes the custom role of an ECR-to-ECR rule.
pub const PULL_THROUGH_CACHE_SERVICE: &str = "pullthroughcache.ecr.amazonaws.com";
/// What the role must be allowed on the upstream repositories.
pub const UPSTREAM_PULL_ACTIONS: [&str; 2] = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];

/// What IAM said about a rule's custom role.
#[derive(Debug, Clone)]
pub enum UpstreamRoleLookup {
    /// The role is not in the registry's account: its IAM cannot be read from here.
    OtherAccount,
    /// `GetRole` failed: why.
    Failed(String),
    /// `NoSuchEntity`.
    Absent,
    Found {
        trust_policy: Option<String>,
        /// `UPSTREAM_PULL_ACTIONS` on the upstream sample repository.
        pull: Result<Vec<SimulatedDecision>, String>,
        /// `ecr:GetAuthorizationToken` on `*`.
        token: Result<Vec<SimulatedDecision>, String>,
    },
}

/// The answer for one rule's custom role, in the report under `upstream_roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UpstreamRoleCheck {
    /// The rule's prefix.
    pub rule: String,
    pub role: String,
    pub status: Status,
    /// Whether the trust policy lets pull through cache assume the role.
    pub trust: CheckResult,
    /// What the role's IAM policies allow on the upstream repositories.
    pub permissions: CheckResult,
}

/// The host of an ECR-to-ECR rule's upstream: `<account>.dkr.ecr.<region>.amazonaws.com`.
pub fn upstream_host(rule: &CacheRule) -> Option<&str> {
    rule.upstream_registry_url
        .trim_start_matches("https://")
        .split('/')
        .next()
}

/// `(account, region)` of an ECR-to-ECR rule's upstream (`<account>.dkr.ecr.<region>.amazonaws.com`).
pub fn source_registry(rule: &CacheRule) -> Option<(String, String)> {
    let host = upstream_host(rule)?;
    let account = host.split('.').next()?;
    let region = host.split(".dkr.ecr.").nth(1)?.split('.').next()?;
    Some((account.to_owned(), region.to_owned()))
}

/// `arn:aws:ecr:<region>:<account>:repository/<upstream prefix>/ptc-doctor-sample`: the upstream
/// repository the simulation asks about.
pub fn upstream_sample_arn(registry: &RegistryFacts, rule: &CacheRule) -> Option<String> {
    let (account, region) = source_registry(rule)?;
    let repository = if rule.upstream_repository_prefix == ROOT_PREFIX {
        SAMPLE_REPOSITORY.to_owned()
    } else {
        format!(
            "{}/{SAMPLE_REPOSITORY}",
            rule.upstream_repository_prefix.trim_end_matches('/')
        )
    };
    Some(format!(
        "arn:{}:ecr:{region}:{account}:repository/{repository}",
        registry.partition()
    ))
}

/// The check of `rule`'s custom role and its problems; `None` for a rule without one.
pub fn assess_upstream_role(
    registry: &RegistryFacts,
    rule: &CacheRule,
    lookup: &UpstreamRoleLookup,
) -> Option<(UpstreamRoleCheck, Vec<RoleProblem>)> {
    let role = rule.custom_role_arn.as_deref()?;
    let sample = upstream_sample_arn(registry, rule).unwrap_or_default();
    let unknown_both = |why: Reason| (CheckResult::unknown(&why), CheckResult::unknown(&why));
    let (trust, permissions) = match lookup {
        UpstreamRoleLookup::OtherAccount => unknown_both(Reason::RoleInAnotherAccount {
            account: registry.account_id.clone(),
        }),
        UpstreamRoleLookup::Failed(why) => {
            unknown_both(Reason::RoleUnreadable { why: why.clone() })
        }
        UpstreamRoleLookup::Absent => (
            CheckResult::missing_because(&Reason::RoleAbsent),
            CheckResult::missing_because(&Reason::RoleAbsent),
        ),
        UpstreamRoleLookup::Found {
            trust_policy,
            pull,
            token,
        } => {
            let trust = match trust_problem(trust_policy.as_deref(), PULL_THROUGH_CACHE_SERVICE) {
                None => CheckResult::from_answers(vec![Answer::Ok]),
                Some(problem @ (TrustProblem::NotTrusted | TrustProblem::Denied(_))) => {
                    CheckResult::missing_because(&Reason::Trust(problem))
                }
                Some(
                    problem @ (TrustProblem::Conditional(_)
                    | TrustProblem::ConditionalDeny(_)
                    | TrustProblem::Unreadable(_)),
                ) => CheckResult::unknown(&Reason::Trust(problem)),
            };
            let mut answers: Vec<Answer> = UPSTREAM_PULL_ACTIONS
                .iter()
                .map(|action| match pull {
                    Ok(decisions) => answer_for(decisions, action, &sample),
                    Err(why) => Answer::Unknown {
                        why: Reason::SimulationFailed { why: why.clone() }.to_string(),
                    },
                })
                .collect();
            answers.push(match token {
                Ok(decisions) => answer_for(decisions, TOKEN_ACTION, "*"),
                Err(why) => Answer::Unknown {
                    why: Reason::SimulationFailed { why: why.clone() }.to_string(),
                },
            });
            (trust, CheckResult::from_answers(answers))
        }
    };
    let status = trust.status.max(permissions.status);
    let check = UpstreamRoleCheck {
        rule: rule.prefix.clone(),
        role: role.to_owned(),
        status,
        trust,
        permissions,
    };
    let problems = role_problems(&sample, lookup, &check);
    Some((check, problems))
}

/// What keeps first pulls through the rule from working, from the check of its custom role.
fn role_problems(
    sample: &str,
    lookup: &UpstreamRoleLookup,
    check: &UpstreamRoleCheck,
) -> Vec<RoleProblem> {
    let upstream_repositories = sample
        .strip_suffix(SAMPLE_REPOSITORY)
        .map(|start| format!("{start}*"))
        .unwrap_or_else(|| "*".to_owned());
    match lookup {
        UpstreamRoleLookup::Absent => vec![RoleProblem::Absent {
            upstream_repositories,
        }],
        UpstreamRoleLookup::Failed(_) | UpstreamRoleLookup::OtherAccount
            if check.status == Status::Unknown =>
        {
            vec![RoleProblem::Unchecked {
                why: check.trust.why.clone(),
            }]
        }
        UpstreamRoleLookup::Found { .. } => {
            let mut problems = Vec::new();
            if check.trust.status == Status::Missing {
                problems.push(RoleProblem::Untrusted {
                    why: check.trust.why.clone(),
                });
            }
            if check.permissions.status == Status::Missing {
                problems.push(RoleProblem::MayNotPull {
                    upstream_repositories,
                    missing: check.permissions.missing.clone(),
                });
            }
            let unsure: Vec<String> = [&check.trust, &check.permissions]
                .iter()
                .filter(|result| result.status == Status::Unknown)
                .flat_map(|result| result.why.clone())
                .collect();
            if problems.is_empty() && !unsure.is_empty() {
                problems.push(RoleProblem::PartlyChecked { unsure });
            }
            problems
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::iam::EvalDecision;
    use crate::domain::Finding;
    use crate::test_cases::named_cases;
    use crate::validate_cache_rules::consumers::assess::MissingGrant;
    use crate::validate_cache_rules::consumers::findings::Wording;
    use crate::validate_cache_rules::consumers::problems::ConsumerProblem;
    use serde_json::json;

    const ROLE: &str = "arn:aws:iam::999999999999:role/ptc-upstream";
    const SAMPLE: &str =
        "arn:aws:ecr:us-east-1:444455556666:repository/base-images/ptc-doctor-sample";

    fn rule() -> CacheRule {
        CacheRule::new("central", "444455556666.dkr.ecr.us-east-1.amazonaws.com")
            .with_custom_role(ROLE)
            .with_upstream_prefix("base-images")
    }

    fn registry() -> RegistryFacts {
        RegistryFacts {
            account_id: Some("999999999999".to_owned()),
            region: Some("eu-west-1".to_owned()),
        }
    }

    fn decisions(resource: &str, actions: &[&str], decision: &str) -> Vec<SimulatedDecision> {
        actions
            .iter()
            .map(|action| SimulatedDecision {
                action: (*action).to_owned(),
                resource: resource.to_owned(),
                decision: EvalDecision::parse(decision),
                matched_policies: Vec::new(),
                missing_context_values: Vec::new(),
            })
            .collect()
    }

    fn trusting(service: &str) -> Option<String> {
        Some(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
                .to_string(),
        )
    }

    fn found(trust: Option<String>, pull: &str, token: &str) -> UpstreamRoleLookup {
        UpstreamRoleLookup::Found {
            trust_policy: trust,
            pull: Ok(decisions(SAMPLE, &UPSTREAM_PULL_ACTIONS, pull)),
            token: Ok(decisions("*", &[TOKEN_ACTION], token)),
        }
    }

    #[test]
    fn the_upstream_sample_is_under_the_upstream_prefix() {
        assert_eq!(
            upstream_sample_arn(&registry(), &rule()).as_deref(),
            Some(SAMPLE)
        );
        let mut root = rule();
        root.upstream_repository_prefix = ROOT_PREFIX.to_owned();
        assert_eq!(
            upstream_sample_arn(&registry(), &root).as_deref(),
            Some("arn:aws:ecr:us-east-1:444455556666:repository/ptc-doctor-sample")
        );
    }

    /// The check of `rule()`'s custom role under `lookup`, and its findings.
    fn assessed(
        rule: &CacheRule,
        lookup: &UpstreamRoleLookup,
    ) -> (UpstreamRoleCheck, Vec<Finding>) {
        let (check, problems) =
            assess_upstream_role(&registry(), rule, lookup).expect("a custom role");
        let wording = Wording { region: None };
        let findings = problems
            .into_iter()
            .map(|problem| {
                wording.finding(&ConsumerProblem::UpstreamRole {
                    rule: check.rule.clone(),
                    role: check.role.clone(),
                    problem,
                })
            })
            .collect();
        (check, findings)
    }

    /// Custom roles are checked for existence, trust and permissions: what `GetRole` and the
    /// simulation answered, the status, and part of each finding's title.
    fn check_custom_role(
        name: &str,
        lookup: UpstreamRoleLookup,
        expected: Status,
        titles: &[&str],
    ) {
        let (check, findings) = assessed(&rule(), &lookup);
        assert_eq!(check.status, expected, "{name}: {check:#?}");
        let got: Vec<&str> = findings
            .iter()
            .map(|finding| finding.title.as_str())
            .collect();
        assert_eq!(got.len(), titles.len(), "{name}: {got:#?}");
        for (title, wanted) in got.iter().zip(titles.iter()) {
            assert!(title.contains(wanted), "{name}: {title}");
        }
    }

    named_cases! {
        /// Custom roles are checked for existence, trust and permissions: what `GetRole` and the
        /// simulation answered, the status, and part of each finding's title.
        mod custom_roles_are_checked_for_existence_trust_and_permissions => check_custom_role;
        a_role_that_trusts_pull_through_cache_and_may_pull(
            found(trusting(PULL_THROUGH_CACHE_SERVICE), "allowed", "allowed"),
            Status::Ok,
            &[],
        ),
        no_such_role(
            UpstreamRoleLookup::Absent,
            Status::Missing,
            &["does not exist"],
        ),
        trusted_by_ecr_not_by_pull_through_cache(
            found(trusting("ecr.amazonaws.com"), "allowed", "allowed"),
            Status::Missing,
            &["does not trust pull through cache"],
        ),
        may_not_pull_upstream(
            found(
                trusting(PULL_THROUGH_CACHE_SERVICE),
                "implicitDeny",
                "allowed",
            ),
            Status::Missing,
            &["may not pull from the upstream registry"],
        ),
        wrong_trust_and_no_login(
            found(trusting("ec2.amazonaws.com"), "allowed", "implicitDeny"),
            Status::Missing,
            &[
                "does not trust pull through cache",
                "may not pull from the upstream registry",
            ],
        ),
        getrole_refused(
            UpstreamRoleLookup::Failed("`iam:GetRole` failed (access-denied)".to_owned()),
            Status::Unknown,
            &["could not be checked"],
        ),
        a_role_of_another_account(
            UpstreamRoleLookup::OtherAccount,
            Status::Unknown,
            &["could not be checked"],
        ),
    }

    const UPSTREAM: &str = "arn:aws:ecr:us-east-1:444455556666:repository/base-images/*";

    /// What is wrong with the custom role, as decided from what `GetRole` and the simulation
    /// answered.
    fn check_role_problems(name: &str, lookup: UpstreamRoleLookup, expected: Vec<RoleProblem>) {
        let (_, problems) =
            assess_upstream_role(&registry(), &rule(), &lookup).expect("a custom role");
        assert_eq!(problems, expected, "{name}");
    }

    named_cases! {
        /// What is wrong with the custom role, as decided from what `GetRole` and the
        /// simulation answered.
        mod what_is_wrong_with_the_custom_role => check_role_problems;
        nothing(
            found(trusting(PULL_THROUGH_CACHE_SERVICE), "allowed", "allowed"),
            vec![],
        ),
        absent(
            UpstreamRoleLookup::Absent,
            vec![RoleProblem::Absent { upstream_repositories: UPSTREAM.to_owned() }],
        ),
        unreadable(
            UpstreamRoleLookup::Failed("throttled".to_owned()),
            vec![RoleProblem::Unchecked { why: vec!["the role could not be read: throttled".to_owned()] }],
        ),
        untrusted_and_no_login(
            found(trusting("ec2.amazonaws.com"), "allowed", "implicitDeny"),
            vec![
                RoleProblem::Untrusted {
                    why: vec![format!("no statement of its trust policy allows `{PULL_THROUGH_CACHE_SERVICE}` `sts:AssumeRole`")],
                },
                RoleProblem::MayNotPull {
                    upstream_repositories: UPSTREAM.to_owned(),
                    missing: vec![MissingGrant {
                        action: TOKEN_ACTION.to_owned(),
                        resource: "*".to_owned(),
                        denied_by: None,
                    }],
                },
            ],
        ),
        a_failed_simulation(
            UpstreamRoleLookup::Found {
                trust_policy: trusting(PULL_THROUGH_CACHE_SERVICE),
                pull: Err("denied".to_owned()),
                token: Ok(decisions("*", &[TOKEN_ACTION], "allowed")),
            },
            vec![RoleProblem::PartlyChecked {
                unsure: vec![
                    "the IAM simulation failed: denied".to_owned(),
                    "the IAM simulation failed: denied".to_owned(),
                ],
            }],
        ),
    }

    #[test]
    fn the_statement_to_add_names_the_upstream_repositories() {
        let (_, findings) = assessed(
            &rule(),
            &found(
                trusting(PULL_THROUGH_CACHE_SERVICE),
                "implicitDeny",
                "allowed",
            ),
        );
        let step = &findings[0].next_steps[0];
        let policy: serde_json::Value =
            serde_json::from_str(&step[step.find('{').expect("JSON")..]).expect("a policy");
        assert_eq!(
            policy["Statement"][0]["Resource"],
            "arn:aws:ecr:us-east-1:444455556666:repository/base-images/*"
        );
        assert_eq!(
            policy["Statement"][0]["Action"],
            json!(UPSTREAM_PULL_ACTIONS)
        );
    }

    #[test]
    fn a_rule_without_a_custom_role_is_not_checked() {
        let mut rule = rule();
        rule.custom_role_arn = None;
        assert!(assess_upstream_role(&registry(), &rule, &UpstreamRoleLookup::Absent).is_none());
    }
}
