//! Will each consumer's first pull through each rule work? Pure: decides per consumer and
//! prefix (the cells), then what is wrong: one [`ConsumerProblem`] per broken policy (see
//! [`super::problems`]), which `findings` words.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

pub use super::facts::{
    CheckResult, MissingGrant, PolicySource, RegistryFacts, Status, IAM_SIMULATION_RESOURCE,
    PULL_ACTIONS, REGISTRY_ACTIONS, REGISTRY_POLICY_RESOURCE, SAMPLE_REPOSITORY, TOKEN_ACTION,
};
use super::problems::{
    ConsumerPrefix, ConsumerProblem, Denial, Reason, RegistryGrant, ResourcePolicyKind,
    SimulationFailure,
};
use super::upstream_role::{
    assess_upstream_role, source_registry, upstream_host, UpstreamRoleCheck, UpstreamRoleLookup,
};
use crate::config::{Consumer, EncryptionType};
use crate::domain::iam::{answer_for, SimulatedDecision};
use crate::domain::policy_eval::{evaluate, Answer, Caller, CallerContext, Request};
use crate::domain::{CacheRule, Finding, RepositoryPolicy, ROOT_PREFIX};

/// What `GetRegistryPolicy` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryPolicyLookup {
    Found(String),
    Absent,
    CallFailed { error: String },
}

/// What the repositories of one rule prefix get at creation: the repository policy of the
/// creation template ECR applies there, or without one the profile's (hardening sets it when the
/// repository is created), and the profile's encryption.
#[derive(Debug, Clone)]
pub struct PrefixFacts<'c> {
    /// The repository prefix checked: a rule's prefix, or a profile's prefix below it (its
    /// repositories get that profile's template).
    pub prefix: String,
    /// The rule the repositories come through; `[consumers.prefixes]` names rules.
    pub rule_prefix: String,
    /// The profile's name: its prefix, or `default`.
    pub profile: String,
    pub repository_policy: Option<&'c RepositoryPolicy>,
    /// Where `repository_policy` comes from.
    pub policy_source: PolicySource,
    pub encryption: Option<EncryptionType>,
}

/// The creation template ECR applies to new pull-through cache repositories under `prefix`: the
/// one with the longest prefix that `prefix` lies under, `ROOT` last
/// (<https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-creation-templates.html>).
pub fn governing_template<'t>(
    templates: &'t [crate::domain::CreationTemplate],
    prefix: &str,
) -> Option<&'t crate::domain::CreationTemplate> {
    let applying = || {
        templates
            .iter()
            .filter(|template| template.applies_to_the_cache())
    };
    applying()
        .filter(|template| template.prefix != ROOT_PREFIX)
        .filter(|template| {
            prefix != ROOT_PREFIX && crate::domain::under_prefix(prefix, template.prefix_key())
        })
        .max_by_key(|template| template.prefix_key().len())
        .or_else(|| applying().find(|template| template.prefix == ROOT_PREFIX))
}

/// What IAM answered for one principal of the registry's account (`iam:SimulatePrincipalPolicy`).
/// An `Err` says why a simulation could not run.
#[derive(Debug, Clone)]
pub struct IdentityFacts {
    /// Per prefix checked: `REGISTRY_ACTIONS` and `PULL_ACTIONS` on
    /// [`RegistryFacts::sample_repository_arn`].
    pub repositories: BTreeMap<String, Result<Vec<SimulatedDecision>, String>>,
    /// `ecr:GetAuthorizationToken` on `*`.
    pub authorization_token: Result<Vec<SimulatedDecision>, String>,
}

/// A consumer and a rule prefix: will its first pull of a new image work?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Cell {
    pub consumer: String,
    pub prefix: String,
    /// The rule's prefix, when `prefix` is a profile's prefix below it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The worst of `registry_policy`, `repository_policy` and `kms`: the cache account's side.
    pub status: Status,
    pub registry_policy: CheckResult,
    pub repository_policy: CheckResult,
    /// Where the repository policy checked comes from: `profile `default`` or
    /// `creation template `ghcr``.
    pub repository_policy_source: String,
    pub kms: CheckResult,
    /// The consumer's own IAM policies. For a role or user of the registry's account, the IAM
    /// policy simulation combined with the resource policies (either may grant, a `Deny` in
    /// either takes away), which then decides the cell; otherwise `unknown` (IAM of another
    /// account cannot be read) with what they need.
    pub identity: CheckResult,
    /// Whether `identity` comes from an IAM simulation and decides the cell with the resource
    /// policies (a role or user of the registry's account).
    #[serde(skip)]
    pub simulated: bool,
    #[serde(skip)]
    pub caller: Caller,
    #[serde(skip)]
    pub profile: String,
}

/// Everything the checks need, observed.
pub struct Inputs<'c> {
    pub registry: RegistryFacts,
    pub registry_policy: RegistryPolicyLookup,
    pub prefixes: Vec<PrefixFacts<'c>>,
    pub consumers: &'c [Consumer],
    pub organization_id: Option<&'c str>,
    /// The rules whose upstream is another ECR registry: its policy must let the cache in.
    pub ecr_upstreams: Vec<&'c CacheRule>,
    /// The IAM simulation of each principal (by ARN) of the registry's account; a principal
    /// absent here was not simulated.
    pub identities: BTreeMap<String, IdentityFacts>,
    /// What IAM said about the custom role of each ECR-to-ECR rule (by prefix).
    pub upstream_roles: BTreeMap<String, UpstreamRoleLookup>,
}

/// The matrix and its findings.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    pub cells: Vec<Cell>,
    /// The custom roles of the ECR-to-ECR rules.
    pub upstream_roles: Vec<UpstreamRoleCheck>,
    pub findings: Vec<Finding>,
}

impl Assessment {
    /// Whether some consumer's first pull through some rule would fail.
    pub fn any_missing(&self) -> bool {
        self.cells.iter().any(|cell| cell.status == Status::Missing)
            || self
                .upstream_roles
                .iter()
                .any(|role| role.status == Status::Missing)
    }

    pub fn count(&self, status: Status) -> usize {
        self.cells
            .iter()
            .filter(|cell| cell.status == status)
            .count()
    }
}

enum ParsedRegistryPolicy {
    Policy(Value),
    Absent,
    Unreadable(Reason),
}

/// The matrix and its problems, before they are worded.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    pub cells: Vec<Cell>,
    pub upstream_roles: Vec<UpstreamRoleCheck>,
    pub problems: Vec<ConsumerProblem>,
}

/// Checks every consumer against every prefix it uses: the cells and what is wrong.
pub fn judge(inputs: &Inputs<'_>) -> Judgement {
    let mut problems = Vec::new();
    let registry_policy = match &inputs.registry_policy {
        RegistryPolicyLookup::Absent => ParsedRegistryPolicy::Absent,
        RegistryPolicyLookup::CallFailed { error } => {
            problems.push(ConsumerProblem::RegistryPolicyUnread {
                error: error.clone(),
            });
            ParsedRegistryPolicy::Unreadable(Reason::RegistryPolicyUnread {
                error: error.clone(),
            })
        }
        RegistryPolicyLookup::Found(text) => match RepositoryPolicy::parse(text) {
            Ok(policy) => ParsedRegistryPolicy::Policy(policy.normalized().clone()),
            Err(listed) => {
                let listed: Vec<String> = listed.iter().map(ToString::to_string).collect();
                problems.push(ConsumerProblem::RegistryPolicyMalformed {
                    problems: listed.clone(),
                });
                ParsedRegistryPolicy::Unreadable(Reason::RegistryPolicyMalformed {
                    problems: listed,
                })
            }
        },
    };

    let mut cells = Vec::new();
    for consumer in inputs.consumers {
        for facts in &inputs.prefixes {
            if consumer.uses(&facts.rule_prefix) {
                cells.push(assess_cell(inputs, &registry_policy, consumer, facts));
            }
        }
    }
    problems.extend(registry_problem(inputs, &registry_policy, &cells));
    problems.extend(repository_problems(inputs, &cells));
    problems.extend(identity_problems(inputs, &cells));
    problems.extend(simulation_failures(inputs));
    problems.extend(
        inputs
            .ecr_upstreams
            .iter()
            .filter_map(|rule| source_registry_problem(&inputs.registry, rule)),
    );
    let mut upstream_roles = Vec::new();
    for rule in &inputs.ecr_upstreams {
        let Some(lookup) = inputs.upstream_roles.get(&rule.prefix) else {
            continue;
        };
        if let Some((check, role_problems)) = assess_upstream_role(&inputs.registry, rule, lookup) {
            problems.extend(role_problems.into_iter().map(|problem| {
                ConsumerProblem::UpstreamRole {
                    rule: check.rule.clone(),
                    role: check.role.clone(),
                    problem,
                }
            }));
            upstream_roles.push(check);
        }
    }
    Judgement {
        cells,
        upstream_roles,
        problems,
    }
}

fn assess_cell(
    inputs: &Inputs<'_>,
    registry_policy: &ParsedRegistryPolicy,
    consumer: &Consumer,
    facts: &PrefixFacts<'_>,
) -> Cell {
    let caller = &consumer.caller;
    let context = CallerContext {
        caller,
        organization_id: inputs.organization_id,
    };
    let same_account = inputs.registry.account_id.as_deref() == Some(caller.account_id());
    let resource = inputs.registry.repositories_arn(&facts.prefix);

    let ask = |policy: &Value, actions: &[&str], resource: &str| {
        let answers = actions
            .iter()
            .map(|action| evaluate(policy, context, Request { action, resource }))
            .collect();
        let result = CheckResult::from_answers(answers);
        // IAM may grant what the policy does not, but not what a `Deny` takes away.
        let denied = result.missing.iter().any(|grant| grant.denied_by.is_some());
        if same_account && result.status != Status::Ok && !denied {
            CheckResult::unknown(&Reason::SameAccount)
        } else {
            result
        }
    };

    let (registry_result, repository_result) = match &resource {
        None => {
            let why = Reason::RegistryNotKnown;
            (CheckResult::unknown(&why), CheckResult::unknown(&why))
        }
        Some(resource) => {
            let registry_result = match registry_policy {
                ParsedRegistryPolicy::Policy(policy) => ask(policy, &REGISTRY_ACTIONS, resource),
                ParsedRegistryPolicy::Absent if same_account => {
                    CheckResult::unknown(&Reason::SameAccount)
                }
                ParsedRegistryPolicy::Absent => CheckResult {
                    status: Status::Missing,
                    missing: REGISTRY_ACTIONS
                        .iter()
                        .map(|action| MissingGrant {
                            action: (*action).to_owned(),
                            resource: resource.clone(),
                            denied_by: None,
                        })
                        .collect(),
                    why: vec![Reason::NoRegistryPolicy.to_string()],
                },
                ParsedRegistryPolicy::Unreadable(why) => CheckResult::unknown(why),
            };
            let repository_result = match (&facts.policy_source, facts.repository_policy) {
                (PolicySource::MalformedTemplate { prefix, problem }, _) => {
                    CheckResult::unknown(&Reason::TemplatePolicyMalformed {
                        prefix: prefix.clone(),
                        problem: problem.clone(),
                    })
                }
                (_, Some(policy)) => ask(policy.normalized(), &PULL_ACTIONS, resource),
                (_, None) if same_account => CheckResult::unknown(&Reason::SameAccount),
                (_, None) => CheckResult {
                    status: Status::Missing,
                    missing: PULL_ACTIONS
                        .iter()
                        .map(|action| MissingGrant {
                            action: (*action).to_owned(),
                            resource: resource.clone(),
                            denied_by: None,
                        })
                        .collect(),
                    why: vec![Reason::NoRepositoryPolicy {
                        source: facts.policy_source.clone(),
                        profile: facts.profile.clone(),
                        prefix: facts.prefix.clone(),
                    }
                    .to_string()],
                },
            };
            (registry_result, repository_result)
        }
    };
    let kms = match facts.encryption {
        Some(EncryptionType::Kms | EncryptionType::KmsDsse) => {
            CheckResult::unknown(&Reason::KmsKey {
                prefix: facts.prefix.clone(),
            })
        }
        _ => CheckResult::ok(),
    };
    let simulated = match caller {
        Caller::Principal { arn, .. } if same_account => inputs.identities.get(arn),
        _ => None,
    };
    let sample = inputs.registry.sample_repository_arn(&facts.prefix);
    let identity = if !same_account {
        CheckResult::unknown(&Reason::IamOfAnotherAccount {
            resource: resource.clone(),
        })
    } else {
        match (caller, simulated, &sample, &resource) {
            (Caller::Account { .. }, _, _, _) => CheckResult::unknown(&Reason::RegistryAccount {
                resource: resource.clone(),
            }),
            (Caller::Principal { .. }, Some(iam), Some(sample), Some(resource)) => {
                let repositories = iam
                    .repositories
                    .get(&facts.prefix)
                    .cloned()
                    .unwrap_or_else(|| Err(Reason::NotSimulatedForPrefix.to_string()));
                identity_check(
                    &IdentityInputs {
                        registry_policy,
                        repository_policy: match &facts.policy_source {
                            PolicySource::MalformedTemplate { prefix, problem } => {
                                Err(Reason::TemplatePolicyMalformed {
                                    prefix: prefix.clone(),
                                    problem: problem.clone(),
                                })
                            }
                            _ => Ok(facts.repository_policy),
                        },
                        context,
                        resource,
                        sample,
                    },
                    &repositories,
                    &iam.authorization_token,
                )
            }
            (Caller::Principal { .. }, _, _, _) => CheckResult::unknown(&Reason::NotSimulated {
                resource: resource.clone(),
            }),
        }
    };
    let decided_by_iam = simulated.is_some() && sample.is_some() && resource.is_some();
    let status = if decided_by_iam {
        // The simulation combined with the resource policies answers for both; an IAM answer
        // that is `unknown` (a failed simulation) leaves the cell `unknown`.
        [identity.status, kms.status]
            .into_iter()
            .max()
            .unwrap_or(Status::Ok)
    } else {
        [registry_result.status, repository_result.status, kms.status]
            .into_iter()
            .max()
            .unwrap_or(Status::Ok)
    };
    Cell {
        consumer: caller.to_string(),
        prefix: facts.prefix.clone(),
        rule: (facts.rule_prefix != facts.prefix).then(|| facts.rule_prefix.clone()),
        status,
        registry_policy: registry_result,
        repository_policy: repository_result,
        repository_policy_source: facts.policy_source.describe(&facts.profile),
        kms,
        identity,
        simulated: decided_by_iam,
        caller: caller.clone(),
        profile: facts.profile.clone(),
    }
}

/// What the identity check of a principal of the registry's account combines.
struct IdentityInputs<'a, 'c> {
    registry_policy: &'a ParsedRegistryPolicy,
    repository_policy: Result<Option<&'c RepositoryPolicy>, Reason>,
    context: CallerContext<'a>,
    /// `repository/<prefix>/*`: what the resource policies are asked about.
    resource: &'a str,
    /// `repository/<prefix>/ptc-doctor-sample`: what IAM was asked about.
    sample: &'a str,
}

/// A resource policy's side of one action, for a principal of the registry's own account.
struct ResourceSide {
    /// Whether the policy grants it (`Missing` without `denied_by` when it does not).
    grant: Answer,
    /// Whether a `Deny` of the policy takes it away: `Ok` when none does.
    deny: Answer,
}

/// Evaluates `policy` for `action`: its grant, and its `Deny` statements alone.
fn resource_side(
    policy: Option<&Value>,
    context: CallerContext<'_>,
    action: &str,
    resource: &str,
) -> ResourceSide {
    let request = Request { action, resource };
    match policy {
        None => ResourceSide {
            grant: Answer::Missing {
                action: action.to_owned(),
                resource: resource.to_owned(),
                denied_by: None,
            },
            deny: Answer::Ok,
        },
        Some(policy) => ResourceSide {
            grant: evaluate(policy, context, request),
            deny: evaluate(&denials_only(policy), context, request),
        },
    }
}

/// The policy with every `Allow` turned into an allow-all (statement indices and `Sid`s kept,
/// so a `Deny` is named as in the original): evaluating it answers whether a `Deny` applies.
fn denials_only(policy: &Value) -> Value {
    let allow_all = |sid: Option<&Value>| {
        let mut statement =
            json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"});
        if let Some(sid) = sid {
            statement["Sid"] = sid.clone();
        }
        statement
    };
    let statements: Vec<Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => return policy.clone(),
    };
    let mut kept: Vec<Value> = statements
        .into_iter()
        .map(|statement| {
            if statement.get("Effect").and_then(Value::as_str) == Some("Allow") {
                allow_all(statement.get("Sid"))
            } else {
                statement
            }
        })
        .collect();
    kept.push(allow_all(None));
    let mut policy = policy.clone();
    policy["Statement"] = Value::Array(kept);
    policy
}

/// One action for a principal of the registry's account: its IAM policies or the resource
/// policy may grant it, a `Deny` in either takes it away
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>).
/// A resource policy alone is not taken as enough: in the same account it grants on its own
/// only when it names the role or user itself, not when it names the account (`root`), which
/// leaves the decision to IAM
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>).
fn combine(side: ResourceSide, iam: Answer, policy: ResourcePolicyKind) -> Answer {
    if let Answer::Missing {
        denied_by: Some(_), ..
    } = &side.deny
    {
        return side.deny;
    }
    if let Answer::Missing {
        denied_by: Some(_), ..
    } = &iam
    {
        return iam;
    }
    if let Answer::Unknown { why } = &side.deny {
        return Answer::Unknown {
            why: Reason::DenyUnsure {
                policy,
                why: why.clone(),
            }
            .to_string(),
        };
    }
    match (iam, side.grant) {
        (Answer::Ok, _) => Answer::Ok,
        (missing @ Answer::Missing { .. }, Answer::Missing { .. }) => missing,
        (Answer::Missing { action, .. }, Answer::Ok) => Answer::Unknown {
            why: Reason::OnlyResourcePolicyGrants { action, policy }.to_string(),
        },
        (Answer::Missing { .. }, Answer::Unknown { why }) => Answer::Unknown {
            why: Reason::ResourcePolicyGrantsPerhaps { policy, why }.to_string(),
        },
        (Answer::Unknown { why }, _) => Answer::Unknown { why },
    }
}

/// The identity check of a principal of the registry's account, from its simulation.
fn identity_check(
    inputs: &IdentityInputs<'_, '_>,
    repositories: &Result<Vec<SimulatedDecision>, String>,
    authorization_token: &Result<Vec<SimulatedDecision>, String>,
) -> CheckResult {
    let mut answers = Vec::new();
    let registry_policy = match inputs.registry_policy {
        ParsedRegistryPolicy::Policy(policy) => Ok(Some(policy)),
        ParsedRegistryPolicy::Absent => Ok(None),
        ParsedRegistryPolicy::Unreadable(why) => Err(why.to_string()),
    };
    let checks = REGISTRY_ACTIONS
        .iter()
        .map(|action| {
            (
                *action,
                ResourcePolicyKind::Registry,
                registry_policy.clone(),
            )
        })
        .chain(PULL_ACTIONS.iter().map(|action| {
            (
                *action,
                ResourcePolicyKind::Repository,
                inputs
                    .repository_policy
                    .clone()
                    .map(|policy| policy.map(RepositoryPolicy::normalized))
                    .map_err(|why| why.to_string()),
            )
        }));
    for (action, kind, policy) in checks {
        let iam = match repositories {
            Ok(decisions) => answer_for(decisions, action, inputs.sample),
            Err(why) => Answer::Unknown {
                why: Reason::SimulationFailed { why: why.clone() }.to_string(),
            },
        };
        let side = match policy {
            Ok(policy) => resource_side(policy, inputs.context, action, inputs.resource),
            Err(why) => ResourceSide {
                grant: Answer::Unknown { why: why.clone() },
                deny: Answer::Unknown { why },
            },
        };
        answers.push(combine(side, iam, kind));
    }
    answers.push(match authorization_token {
        Ok(decisions) => answer_for(decisions, TOKEN_ACTION, "*"),
        Err(why) => Answer::Unknown {
            why: Reason::SimulationFailed { why: why.clone() }.to_string(),
        },
    });
    CheckResult::from_answers(answers)
}

/// One problem per principal of the registry's account whose IAM policies keep its first pull
/// from working: what to grant, and the `Deny` statements to narrow.
fn identity_problems(inputs: &Inputs<'_>, cells: &[Cell]) -> Vec<ConsumerProblem> {
    let mut by_consumer: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    for cell in cells {
        if cell.identity.status == Status::Missing {
            by_consumer.entry(&cell.consumer).or_default().push(cell);
        }
    }
    by_consumer
        .into_iter()
        .map(|(consumer, failing)| {
            let mut actions: Vec<String> = Vec::new();
            let mut resources: Vec<String> = Vec::new();
            let mut token = false;
            let mut denials: Vec<Denial> = Vec::new();
            for cell in &failing {
                for grant in &cell.identity.missing {
                    if let Some(by) = &grant.denied_by {
                        denials.push(Denial {
                            statement: by.clone(),
                            action: grant.action.clone(),
                            resource: grant.resource.clone(),
                            consumer: consumer.to_owned(),
                        });
                    } else if grant.action == TOKEN_ACTION {
                        token = true;
                    } else {
                        if !actions.contains(&grant.action) {
                            actions.push(grant.action.clone());
                        }
                        if let Some(pattern) = inputs.registry.repositories_arn(&cell.prefix) {
                            if !resources.contains(&pattern) {
                                resources.push(pattern);
                            }
                        }
                    }
                }
            }
            ConsumerProblem::IdentityRefuses {
                consumer: consumer.to_owned(),
                prefixes: failing.iter().map(|cell| cell.prefix.clone()).collect(),
                actions,
                resources,
                token,
                denials,
            }
        })
        .collect()
}

/// The principals whose IAM simulation could not run, when there are some: those consumers stay
/// `unknown`.
fn simulation_failures(inputs: &Inputs<'_>) -> Option<ConsumerProblem> {
    let mut failures: Vec<SimulationFailure> = Vec::new();
    for (principal, facts) in &inputs.identities {
        let mut whys: Vec<&String> = facts
            .repositories
            .values()
            .filter_map(|r| r.as_ref().err())
            .collect();
        if let Err(why) = &facts.authorization_token {
            whys.push(why);
        }
        whys.sort();
        whys.dedup();
        if let Some(why) = whys.first() {
            failures.push(SimulationFailure {
                principal: principal.clone(),
                why: (*why).clone(),
            });
        }
    }
    (!failures.is_empty()).then_some(ConsumerProblem::SimulationsFailed { failures })
}

/// What the source registry of an ECR-to-ECR rule must grant the cache (its registry policy
/// lives in the other account, so it cannot be read from here); `None` when the upstream is no
/// ECR registry address or the cache's account is not known.
pub(crate) fn source_registry_problem(
    registry: &RegistryFacts,
    rule: &CacheRule,
) -> Option<ConsumerProblem> {
    let host = upstream_host(rule)?;
    let (account, region) = source_registry(rule)?;
    let principal = match (&rule.custom_role_arn, &registry.account_id) {
        (Some(role), _) => role.clone(),
        (None, Some(account_id)) => format!("arn:{}:iam::{account_id}:root", registry.partition()),
        (None, None) => return None,
    };
    let repositories = if rule.upstream_repository_prefix == ROOT_PREFIX {
        "*".to_owned()
    } else {
        format!("{}/*", rule.upstream_repository_prefix)
    };
    Some(ConsumerProblem::SourceRegistryUnchecked {
        rule: rule.prefix.clone(),
        repositories: format!(
            "arn:{}:ecr:{region}:{account}:repository/{repositories}",
            registry.partition()
        ),
        host: host.to_owned(),
        account,
        region,
        principal,
    })
}

/// The principals of `cells`, as a policy names them, sorted, without repeats.
fn principals(cells: &[&Cell], partition: &str) -> Vec<String> {
    let mut names: Vec<String> = cells
        .iter()
        .map(|cell| cell.caller.policy_principal(partition))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// One problem for the registry policy, whatever the number of consumers and prefixes it fails.
fn registry_problem(
    inputs: &Inputs<'_>,
    registry_policy: &ParsedRegistryPolicy,
    cells: &[Cell],
) -> Option<ConsumerProblem> {
    // A profile's prefix below a rule is covered by the rule's statement (and reached by any
    // `Deny` that reaches it): only the rules' own cells make the problem.
    let failing: Vec<&Cell> = cells
        .iter()
        .filter(|cell| cell.registry_policy.status == Status::Missing && cell.rule.is_none())
        .collect();
    if failing.is_empty() {
        return None;
    }
    let partition = inputs.registry.partition();
    let mut by_prefix: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    for cell in &failing {
        if cell
            .registry_policy
            .missing
            .iter()
            .any(|grant| grant.denied_by.is_none())
        {
            by_prefix.entry(&cell.prefix).or_default().push(cell);
        }
    }
    let grants: Vec<RegistryGrant> = by_prefix
        .iter()
        .filter_map(|(prefix, cells)| {
            let resource = cells
                .first()?
                .registry_policy
                .missing
                .first()?
                .resource
                .clone();
            Some(RegistryGrant {
                prefix: (*prefix).to_owned(),
                resource,
                principals: principals(cells, partition),
            })
        })
        .collect();
    let denials: Vec<Denial> = failing
        .iter()
        .flat_map(|cell| {
            cell.registry_policy.missing.iter().filter_map(|grant| {
                grant.denied_by.as_ref().map(|statement| Denial {
                    statement: statement.clone(),
                    action: grant.action.clone(),
                    resource: grant.resource.clone(),
                    consumer: cell.consumer.clone(),
                })
            })
        })
        .collect();
    Some(ConsumerProblem::RegistryPolicyRefuses {
        absent: matches!(registry_policy, ParsedRegistryPolicy::Absent),
        failing: consumer_prefixes(&failing),
        grants,
        denials,
    })
}

fn consumer_prefixes(cells: &[&Cell]) -> Vec<ConsumerPrefix> {
    cells
        .iter()
        .map(|cell| ConsumerPrefix {
            consumer: cell.consumer.clone(),
            prefix: cell.prefix.clone(),
        })
        .collect()
}

/// The sources of the repository policies of `cells`, sorted, without repeats.
fn sources(cells: &[&Cell]) -> Vec<String> {
    let mut sources: Vec<String> = cells
        .iter()
        .map(|cell| cell.repository_policy_source.clone())
        .collect();
    sources.sort_unstable();
    sources.dedup();
    sources
}

/// One problem per profile whose repository policy keeps consumers from pulling.
fn repository_problems(inputs: &Inputs<'_>, cells: &[Cell]) -> Vec<ConsumerProblem> {
    let partition = inputs.registry.partition();
    let mut by_profile: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    for cell in cells {
        if cell.repository_policy.status == Status::Missing {
            by_profile.entry(&cell.profile).or_default().push(cell);
        }
    }
    by_profile
        .into_iter()
        .map(|(profile, failing)| {
            let undenied: Vec<&Cell> = failing
                .iter()
                .copied()
                .filter(|cell| {
                    cell.repository_policy
                        .missing
                        .iter()
                        .any(|grant| grant.denied_by.is_none())
                })
                .collect();
            let denials: Vec<Denial> = failing
                .iter()
                .flat_map(|cell| {
                    cell.repository_policy.missing.iter().filter_map(|grant| {
                        grant.denied_by.as_ref().map(|statement| Denial {
                            statement: statement.clone(),
                            action: grant.action.clone(),
                            resource: grant.resource.clone(),
                            consumer: cell.consumer.clone(),
                        })
                    })
                })
                .collect();
            ConsumerProblem::RepositoryPolicyRefuses {
                profile: profile.to_owned(),
                sources: sources(&failing),
                principals: principals(&undenied, partition),
                failing: consumer_prefixes(&failing),
                denials,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod problem_tests;

#[cfg(test)]
mod identity_tests;

#[cfg(test)]
mod template_tests;
