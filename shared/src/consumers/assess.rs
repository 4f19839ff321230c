//! Will each consumer's first pull through each rule work? Pure: decides per consumer and
//! prefix (the cells), then what is wrong: one [`ConsumerProblem`] per broken policy (see
//! [`super::problems`]), which [`super::findings`] words.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::findings::Wording;
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

/// What a first pull needs from the registry permissions policy (only IAM can grant it
/// otherwise, and IAM in another account cannot).
pub const REGISTRY_ACTIONS: [&str; 2] = ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"];
/// What a pull needs from the repository policy of the cache repository.
pub const PULL_ACTIONS: [&str; 3] = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
];
/// The resource of alerts about the registry permissions policy.
pub const REGISTRY_POLICY_RESOURCE: &str = "registry-policy";
/// What a consumer's own IAM policies must allow on `*` to log in to the registry.
pub const TOKEN_ACTION: &str = "ecr:GetAuthorizationToken";
/// The resource of the alert about IAM simulations that could not run.
pub const IAM_SIMULATION_RESOURCE: &str = "iam-simulation";
/// The repository name below a prefix that the IAM simulation asks about: a repository a first
/// pull would create. `ResourceArns` takes resource ARNs, so one concrete repository stands for
/// every repository under the prefix; a policy that treats some repositories under the prefix
/// differently (a `Deny` on `docker-hub/library/*`) is not seen.
pub const SAMPLE_REPOSITORY: &str = "ptc-doctor-sample";

/// The registry the cache lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFacts {
    /// `None` when neither the registry policy nor the rules named it.
    pub account_id: Option<String>,
    pub region: Option<String>,
}

impl RegistryFacts {
    pub(crate) fn partition(&self) -> &'static str {
        match self.region.as_deref() {
            Some(region) if region.starts_with("cn-") => "aws-cn",
            Some(region) if region.starts_with("us-gov-") => "aws-us-gov",
            _ => "aws",
        }
    }

    /// `arn:aws:ecr:<region>:<account>:repository/<prefix>/ptc-doctor-sample`: the repository
    /// the IAM simulation asks about for `prefix`.
    pub fn sample_repository_arn(&self, prefix: &str) -> Option<String> {
        let account_id = self.account_id.as_deref()?;
        let region = self.region.as_deref()?;
        let repository = if prefix == ROOT_PREFIX {
            SAMPLE_REPOSITORY.to_owned()
        } else {
            format!("{prefix}/{SAMPLE_REPOSITORY}")
        };
        Some(format!(
            "arn:{}:ecr:{region}:{account_id}:repository/{repository}",
            self.partition()
        ))
    }

    /// `arn:aws:ecr:<region>:<account>:repository/<prefix>/*`, `repository/*` for `ROOT`.
    fn repositories_arn(&self, prefix: &str) -> Option<String> {
        let account_id = self.account_id.as_deref()?;
        let region = self.region.as_deref()?;
        let repositories = if prefix == ROOT_PREFIX {
            "*".to_owned()
        } else {
            format!("{prefix}/*")
        };
        Some(format!(
            "arn:{}:ecr:{region}:{account_id}:repository/{repositories}",
            self.partition()
        ))
    }
}

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

/// Where the repository policy of new cache repositories comes from (worded by
/// [`PolicySource::describe`], with the other words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// The profile (no creation template applies to the prefix, or they could not be read: why).
    Profile { templates_unread: Option<String> },
    /// The creation template with this prefix, which ECR applies to new repositories there.
    Template { prefix: String },
    /// That template's repository policy cannot be evaluated: where it is malformed.
    MalformedTemplate { prefix: String, problem: String },
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

/// One answer: `ok`, `missing` or `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Unknown,
    Missing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Unknown => "unknown",
            Status::Missing => "missing",
        }
    }
}

/// A grant a first pull lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MissingGrant {
    pub action: String,
    pub resource: String,
    /// The `Deny` statement that takes it away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<String>,
}

/// One check of one consumer and prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CheckResult {
    pub status: Status,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<MissingGrant>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

impl CheckResult {
    pub(crate) fn ok() -> CheckResult {
        CheckResult {
            status: Status::Ok,
            missing: Vec::new(),
            why: Vec::new(),
        }
    }

    /// `missing` for a reason that names no single action (a role that does not exist).
    pub(crate) fn missing_because(why: &Reason) -> CheckResult {
        CheckResult {
            status: Status::Missing,
            missing: Vec::new(),
            why: vec![why.to_string()],
        }
    }

    pub(crate) fn unknown(why: &Reason) -> CheckResult {
        CheckResult {
            status: Status::Unknown,
            missing: Vec::new(),
            why: vec![why.to_string()],
        }
    }

    /// Combines the answers for several actions: missing wins, then unknown.
    pub(crate) fn from_answers(answers: Vec<Answer>) -> CheckResult {
        let mut result = CheckResult::ok();
        for answer in answers {
            match answer {
                Answer::Ok => {}
                Answer::Missing {
                    action,
                    resource,
                    denied_by,
                } => result.missing.push(MissingGrant {
                    action,
                    resource,
                    denied_by,
                }),
                Answer::Unknown { why } => result.why.push(why),
            }
        }
        result.status = if !result.missing.is_empty() {
            Status::Missing
        } else if !result.why.is_empty() {
            Status::Unknown
        } else {
            Status::Ok
        };
        result
    }
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
mod tests {
    use super::*;
    use crate::config::Consumer;

    const ACCOUNT: &str = "999999999999";

    fn consumer(text: &str, prefixes: Option<&[&str]>) -> Consumer {
        Consumer {
            caller: Caller::parse(text).expect("a consumer"),
            prefixes: prefixes.map(|list| list.iter().map(|p| (*p).to_owned()).collect()),
        }
    }

    fn pull_policy(principal: &str) -> RepositoryPolicy {
        RepositoryPolicy::parse(
            &json!({"Version": "2012-10-17", "Statement": [{"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": PULL_ACTIONS}]}).to_string(),
        )
        .expect("a valid policy")
    }

    fn run(
        registry_policy: RegistryPolicyLookup,
        repository_policy: Option<&RepositoryPolicy>,
        consumers: &[Consumer],
    ) -> Assessment {
        let prefixes = ["docker-hub", "ghcr"]
            .iter()
            .map(|prefix| PrefixFacts {
                prefix: (*prefix).to_owned(),
                rule_prefix: (*prefix).to_owned(),
                profile: "default".to_owned(),
                repository_policy,
                policy_source: PolicySource::Profile {
                    templates_unread: None,
                },
                encryption: None,
            })
            .collect();
        assess(&Inputs {
            registry: RegistryFacts {
                account_id: Some(ACCOUNT.to_owned()),
                region: Some("eu-west-1".to_owned()),
            },
            registry_policy,
            prefixes,
            consumers,
            organization_id: None,
            ecr_upstreams: Vec::new(),
            identities: BTreeMap::new(),
            upstream_roles: BTreeMap::new(),
        })
    }

    fn statuses(assessment: &Assessment) -> Vec<String> {
        assessment
            .cells
            .iter()
            .map(|cell| format!("{} {} {}", cell.consumer, cell.prefix, cell.status.as_str()))
            .collect()
    }

    #[test]
    fn no_registry_policy_means_every_cross_account_consumer_is_missing() {
        let pull = pull_policy("arn:aws:iam::111111111111:root");
        let consumers = [
            consumer("111111111111", None),
            consumer(&format!("arn:aws:iam::{ACCOUNT}:role/ci"), Some(&["ghcr"])),
        ];
        let assessment = run(RegistryPolicyLookup::Absent, Some(&pull), &consumers);
        assert_eq!(
            statuses(&assessment),
            [
                "111111111111 docker-hub missing",
                "111111111111 ghcr missing",
                "arn:aws:iam::999999999999:role/ci ghcr unknown"
            ]
        );
        let registry: Vec<&Finding> = assessment
            .findings
            .iter()
            .filter(|finding| finding.resource == REGISTRY_POLICY_RESOURCE)
            .collect();
        assert_eq!(registry.len(), 1, "{:#?}", assessment.findings);
        let step = &registry[0].next_steps[0];
        assert!(step.contains("put-registry-policy"), "{step}");
        assert!(step.contains("repository/docker-hub/*") && step.contains("repository/ghcr/*"));
        assert!(assessment.any_missing());
    }

    #[test]
    fn a_granting_registry_policy_and_repository_policy_are_ok() {
        let registry = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"], "Resource": format!("arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/*")}]});
        let pull = pull_policy("111111111111");
        let consumers = [consumer("111111111111", Some(&["docker-hub"]))];
        let assessment = run(
            RegistryPolicyLookup::Found(registry.to_string()),
            Some(&pull),
            &consumers,
        );
        assert_eq!(statuses(&assessment), ["111111111111 docker-hub ok"]);
        assert!(assessment.findings.is_empty(), "{:#?}", assessment.findings);
    }

    #[test]
    fn a_missing_repository_policy_is_one_finding_per_profile() {
        let registry = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}}}]});
        let consumers = [
            consumer("111111111111", None),
            consumer("222222222222", None),
        ];
        let assessment = run(
            RegistryPolicyLookup::Found(registry.to_string()),
            None,
            &consumers,
        );
        assert_eq!(assessment.count(Status::Missing), 4);
        assert_eq!(assessment.findings.len(), 1, "{:#?}", assessment.findings);
        let finding = &assessment.findings[0];
        assert_eq!(finding.resource, "profile:default");
        assert!(finding.next_steps[0].contains("arn:aws:iam::222222222222:root"));
    }

    #[test]
    fn a_malformed_registry_policy_is_a_finding_naming_where() {
        let consumers = [consumer("111111111111", None)];
        for (text, where_) in [
            ("not json", "invalid JSON"),
            (r#"{"Version": "2020-01-01", "Statement": []}"#, "Version"),
        ] {
            let assessment = run(
                RegistryPolicyLookup::Found(text.to_owned()),
                None,
                &consumers,
            );
            assert_eq!(assessment.cells[0].registry_policy.status, Status::Unknown);
            let finding = &assessment.findings[0];
            assert_eq!(
                finding.title,
                "the registry permissions policy is malformed"
            );
            assert!(finding.message.contains(where_), "{}", finding.message);
        }
    }

    #[test]
    fn a_deny_is_named_in_the_next_steps() {
        let registry = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "ecr:*", "Resource": "*"},
            {"Sid": "NoCreate", "Effect": "Deny", "Principal": "*", "Action": "ecr:CreateRepository", "Resource": "*"}
        ]});
        let pull = pull_policy("111111111111");
        let consumers = [consumer("111111111111", Some(&["ghcr"]))];
        let assessment = run(
            RegistryPolicyLookup::Found(registry.to_string()),
            Some(&pull),
            &consumers,
        );
        assert_eq!(statuses(&assessment), ["111111111111 ghcr missing"]);
        let steps = &assessment.findings[0].next_steps;
        assert_eq!(steps.len(), 1, "{steps:#?}");
        assert!(steps[0].contains("`NoCreate`"), "{}", steps[0]);
    }

    #[test]
    fn the_registry_account_is_unknown_unless_a_deny_decides() {
        let role = format!("arn:aws:iam::{ACCOUNT}:role/ci");
        let consumers = [consumer(&role, Some(&["ghcr"]))];
        let pull = pull_policy("111111111111");
        let nothing = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "ecr:*", "Resource": "*"}]});
        let assessment = run(
            RegistryPolicyLookup::Found(nothing.to_string()),
            Some(&pull),
            &consumers,
        );
        assert_eq!(statuses(&assessment), [format!("{role} ghcr unknown")]);
        let denying = json!({"Version": "2012-10-17", "Statement": [{"Sid": "NoImports", "Effect": "Deny", "Principal": "*", "Action": "ecr:BatchImportUpstreamImage", "Resource": "*"}]});
        let assessment = run(
            RegistryPolicyLookup::Found(denying.to_string()),
            Some(&pull),
            &consumers,
        );
        assert_eq!(statuses(&assessment), [format!("{role} ghcr missing")]);
    }

    #[test]
    fn kms_encryption_is_unknown() {
        let registry = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "ecr:*", "Resource": "*"}]});
        let pull = pull_policy("111111111111");
        let consumers = [consumer("111111111111", Some(&["ghcr"]))];
        let prefixes = vec![PrefixFacts {
            prefix: "ghcr".to_owned(),
            rule_prefix: "ghcr".to_owned(),
            profile: "ghcr".to_owned(),
            repository_policy: Some(&pull),
            policy_source: PolicySource::Profile {
                templates_unread: None,
            },
            encryption: Some(EncryptionType::Kms),
        }];
        let assessment = assess(&Inputs {
            registry: RegistryFacts {
                account_id: Some(ACCOUNT.to_owned()),
                region: Some("eu-west-1".to_owned()),
            },
            registry_policy: RegistryPolicyLookup::Found(registry.to_string()),
            prefixes,
            consumers: &consumers,
            organization_id: None,
            ecr_upstreams: Vec::new(),
            identities: BTreeMap::new(),
            upstream_roles: BTreeMap::new(),
        });
        assert_eq!(statuses(&assessment), ["111111111111 ghcr unknown"]);
        assert_eq!(assessment.cells[0].kms.status, Status::Unknown);
    }
}

#[cfg(test)]
mod problem_tests {
    use super::*;
    use crate::test_cases::named_cases;

    const ACCOUNT: &str = "999999999999";
    const GHCR: &str = "arn:aws:ecr:eu-west-1:999999999999:repository/ghcr/*";
    const DOCKER_HUB: &str = "arn:aws:ecr:eu-west-1:999999999999:repository/docker-hub/*";
    const OTHER: &str = "arn:aws:iam::111111111111:root";

    fn registry(statements: Value) -> RegistryPolicyLookup {
        RegistryPolicyLookup::Found(
            json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
        )
    }

    /// Everything granted to account 111111111111.
    fn granting() -> RegistryPolicyLookup {
        registry(
            json!([{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "ecr:*", "Resource": "*"}]),
        )
    }

    fn pull(statements: Value) -> Option<RepositoryPolicy> {
        Some(
            RepositoryPolicy::parse(
                &json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
            )
            .expect("a valid policy"),
        )
    }

    /// Pulls granted to account 111111111111.
    fn pulling() -> Option<RepositoryPolicy> {
        pull(
            json!([{"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": PULL_ACTIONS}]),
        )
    }

    fn pair(consumer: &str, prefix: &str) -> ConsumerPrefix {
        ConsumerPrefix {
            consumer: consumer.to_owned(),
            prefix: prefix.to_owned(),
        }
    }

    fn denial(statement: &str, action: &str, resource: &str, consumer: &str) -> Denial {
        Denial {
            statement: statement.to_owned(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            consumer: consumer.to_owned(),
        }
    }

    /// The problems of account 111111111111 pulling through `docker-hub` and `ghcr` under
    /// `registry_policy` and the profile's `repository_policy`.
    fn check_problems(
        name: &str,
        registry_policy: RegistryPolicyLookup,
        repository_policy: Option<RepositoryPolicy>,
        expected: Vec<ConsumerProblem>,
    ) {
        let consumers = [Consumer {
            caller: Caller::parse("111111111111").expect("an account"),
            prefixes: None,
        }];
        let prefixes = ["docker-hub", "ghcr"]
            .iter()
            .map(|prefix| PrefixFacts {
                prefix: (*prefix).to_owned(),
                rule_prefix: (*prefix).to_owned(),
                profile: "default".to_owned(),
                repository_policy: repository_policy.as_ref(),
                policy_source: PolicySource::Profile {
                    templates_unread: None,
                },
                encryption: None,
            })
            .collect();
        let judgement = judge(&Inputs {
            registry: RegistryFacts {
                account_id: Some(ACCOUNT.to_owned()),
                region: Some("eu-west-1".to_owned()),
            },
            registry_policy,
            prefixes,
            consumers: &consumers,
            organization_id: None,
            ecr_upstreams: Vec::new(),
            identities: BTreeMap::new(),
            upstream_roles: BTreeMap::new(),
        });
        assert_eq!(judgement.problems, expected, "{name}");
    }

    named_cases! {
        /// Each broken policy is one problem, naming who fails through where and what to grant.
        mod each_broken_policy_is_one_problem => check_problems;
        everything_granted(granting(), pulling(), vec![]),
        no_registry_policy(
            RegistryPolicyLookup::Absent,
            pulling(),
            vec![ConsumerProblem::RegistryPolicyRefuses {
                absent: true,
                failing: vec![pair("111111111111", "docker-hub"), pair("111111111111", "ghcr")],
                grants: vec![
                    RegistryGrant {
                        prefix: "docker-hub".to_owned(),
                        resource: DOCKER_HUB.to_owned(),
                        principals: vec![OTHER.to_owned()],
                    },
                    RegistryGrant {
                        prefix: "ghcr".to_owned(),
                        resource: GHCR.to_owned(),
                        principals: vec![OTHER.to_owned()],
                    },
                ],
                denials: vec![],
            }],
        ),
        a_registry_deny_on_one_prefix(
            registry(json!([
                {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "ecr:*", "Resource": "*"},
                {"Sid": "NoCreate", "Effect": "Deny", "Principal": "*", "Action": "ecr:CreateRepository", "Resource": GHCR}
            ])),
            pulling(),
            vec![ConsumerProblem::RegistryPolicyRefuses {
                absent: false,
                failing: vec![pair("111111111111", "ghcr")],
                grants: vec![],
                denials: vec![denial("Statement[1] (`NoCreate`)", "ecr:CreateRepository", GHCR, "111111111111")],
            }],
        ),
        the_registry_policy_unread(
            RegistryPolicyLookup::CallFailed { error: "access denied".to_owned() },
            pulling(),
            vec![ConsumerProblem::RegistryPolicyUnread { error: "access denied".to_owned() }],
        ),
        no_repository_policy(
            granting(),
            None,
            vec![ConsumerProblem::RepositoryPolicyRefuses {
                profile: "default".to_owned(),
                failing: vec![pair("111111111111", "docker-hub"), pair("111111111111", "ghcr")],
                sources: vec!["profile `default`".to_owned()],
                principals: vec![OTHER.to_owned()],
                denials: vec![],
            }],
        ),
        a_repository_deny(
            granting(),
            pull(json!([
                {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": PULL_ACTIONS},
                {"Sid": "NoLayers", "Effect": "Deny", "Principal": "*", "Action": "ecr:GetDownloadUrlForLayer"}
            ])),
            vec![ConsumerProblem::RepositoryPolicyRefuses {
                profile: "default".to_owned(),
                failing: vec![pair("111111111111", "docker-hub"), pair("111111111111", "ghcr")],
                sources: vec!["profile `default`".to_owned()],
                principals: vec![],
                denials: vec![
                    denial("Statement[1] (`NoLayers`)", "ecr:GetDownloadUrlForLayer", DOCKER_HUB, "111111111111"),
                    denial("Statement[1] (`NoLayers`)", "ecr:GetDownloadUrlForLayer", GHCR, "111111111111"),
                ],
            }],
        ),
    }

    fn ecr_rule(upstream: &str, role: Option<&str>, upstream_prefix: &str) -> CacheRule {
        let mut rule = CacheRule::new("central", upstream).with_upstream_prefix(upstream_prefix);
        rule.custom_role_arn = role.map(str::to_owned);
        rule
    }

    fn unchecked(principal: &str, region: &str, repositories: &str) -> Option<ConsumerProblem> {
        Some(ConsumerProblem::SourceRegistryUnchecked {
            rule: "central".to_owned(),
            host: format!("444455556666.dkr.ecr.{region}.amazonaws.com"),
            account: "444455556666".to_owned(),
            region: region.to_owned(),
            principal: principal.to_owned(),
            repositories: repositories.to_owned(),
        })
    }

    /// The source registry of an ECR-to-ECR rule must let in the rule's custom role, or the
    /// cache's account; `None` when neither is known or the upstream is no ECR address.
    fn check_source_registry(
        name: &str,
        rule: CacheRule,
        account_id: Option<&str>,
        expected: Option<ConsumerProblem>,
    ) {
        let registry = RegistryFacts {
            account_id: account_id.map(str::to_owned),
            region: Some("eu-west-1".to_owned()),
        };
        assert_eq!(
            source_registry_problem(&registry, &rule),
            expected,
            "{name}"
        );
    }

    named_cases! {
        /// The source registry of an ECR-to-ECR rule must let in the rule's custom role, or the
        /// cache's account.
        mod the_source_registry_must_let_the_cache_in => check_source_registry;
        the_custom_role(
            ecr_rule(
                "https://444455556666.dkr.ecr.us-east-1.amazonaws.com",
                Some("arn:aws:iam::999999999999:role/up"),
                "base-images",
            ),
            Some(ACCOUNT),
            unchecked(
                "arn:aws:iam::999999999999:role/up",
                "us-east-1",
                "arn:aws:ecr:us-east-1:444455556666:repository/base-images/*",
            ),
        ),
        the_account_without_a_role(
            ecr_rule("444455556666.dkr.ecr.us-west-2.amazonaws.com", None, ROOT_PREFIX),
            Some(ACCOUNT),
            unchecked(
                "arn:aws:iam::999999999999:root",
                "us-west-2",
                "arn:aws:ecr:us-west-2:444455556666:repository/*",
            ),
        ),
        no_role_and_no_account(
            ecr_rule("444455556666.dkr.ecr.us-west-2.amazonaws.com", None, ROOT_PREFIX),
            None,
            None,
        ),
        not_an_ecr_address(
            ecr_rule("registry.example.com", Some("arn:aws:iam::999999999999:role/up"), ROOT_PREFIX),
            Some(ACCOUNT),
            None,
        ),
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;
    use crate::config::Consumer;
    use crate::domain::iam::EvalDecision;
    use crate::domain::Severity;
    use crate::test_cases::named_cases;

    const ACCOUNT: &str = "999999999999";
    const ROLE: &str = "arn:aws:iam::999999999999:role/eks-node";
    const SAMPLE: &str = "arn:aws:ecr:eu-west-1:999999999999:repository/ghcr/ptc-doctor-sample";

    /// Every action `allowed`, but those in `decisions` (action, decision, missing context).
    fn simulation(decisions: &[(&str, &str, &[&str])]) -> IdentityFacts {
        let decide = |action: &str, resource: &str| {
            let (decision, missing) = decisions
                .iter()
                .find(|(named, _, _)| *named == action)
                .map_or(("allowed", &[][..]), |(_, decision, missing)| {
                    (*decision, *missing)
                });
            SimulatedDecision {
                action: action.to_owned(),
                resource: resource.to_owned(),
                decision: EvalDecision::parse(decision),
                matched_policies: if decision == "explicitDeny" {
                    vec!["`no-imports` (role)".to_owned()]
                } else {
                    Vec::new()
                },
                missing_context_values: missing.iter().map(|key| (*key).to_owned()).collect(),
            }
        };
        IdentityFacts {
            repositories: BTreeMap::from([(
                "ghcr".to_owned(),
                Ok(REGISTRY_ACTIONS
                    .iter()
                    .chain(&PULL_ACTIONS)
                    .map(|action| decide(action, SAMPLE))
                    .collect()),
            )]),
            authorization_token: Ok(vec![decide(TOKEN_ACTION, "*")]),
        }
    }

    fn run(registry: Option<Value>, identity: IdentityFacts) -> Assessment {
        with_inputs(registry, identity, assess)
    }

    /// `then` of the inputs of `ROLE` pulling through `ghcr`, whose repository policy lets it.
    fn with_inputs<T>(
        registry: Option<Value>,
        identity: IdentityFacts,
        then: impl FnOnce(&Inputs<'_>) -> T,
    ) -> T {
        let pull = RepositoryPolicy::parse(
            &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": PULL_ACTIONS}]}).to_string(),
        )
        .expect("a valid policy");
        let consumers = [Consumer {
            caller: Caller::parse(ROLE).expect("a role"),
            prefixes: None,
        }];
        then(&Inputs {
            registry: RegistryFacts {
                account_id: Some(ACCOUNT.to_owned()),
                region: Some("eu-west-1".to_owned()),
            },
            registry_policy: match registry {
                Some(policy) => RegistryPolicyLookup::Found(policy.to_string()),
                None => RegistryPolicyLookup::Absent,
            },
            prefixes: vec![PrefixFacts {
                prefix: "ghcr".to_owned(),
                rule_prefix: "ghcr".to_owned(),
                profile: "default".to_owned(),
                repository_policy: Some(&pull),
                policy_source: PolicySource::Profile {
                    templates_unread: None,
                },
                encryption: None,
            }],
            consumers: &consumers,
            organization_id: None,
            ecr_upstreams: Vec::new(),
            identities: BTreeMap::from([(ROLE.to_owned(), identity)]),
            upstream_roles: BTreeMap::new(),
        })
    }

    fn registry(statements: Value) -> Option<Value> {
        Some(json!({"Version": "2012-10-17", "Statement": statements}))
    }

    /// A simulation that failed for the `ghcr` rule.
    fn failed_simulation() -> IdentityFacts {
        IdentityFacts {
            repositories: BTreeMap::from([(
                "ghcr".to_owned(),
                Err("`iam:SimulatePrincipalPolicy` failed (access-denied)".to_owned()),
            )]),
            authorization_token: Ok(Vec::new()),
        }
    }

    /// The consumer's status, overall and from its identity, under `registry` and `identity`.
    fn check_decision(
        name: &str,
        registry: Option<Value>,
        identity: IdentityFacts,
        expected: Status,
    ) {
        let assessment = run(registry, identity);
        let cell = &assessment.cells[0];
        assert_eq!(cell.status, expected, "{name}: {cell:#?}");
        assert_eq!(cell.identity.status, expected, "{name}: {cell:#?}");
    }

    named_cases! {
        /// The simulation and the resource policies decide together.
        mod the_simulation_and_the_resource_policies_decide_together => check_decision;
        iam_allows_everything_no_registry_policy(
            None,
            simulation(&[]),
            Status::Ok,
        ),
        iam_lacks_the_import_nothing_else_grants_it(
            None,
            simulation(&[("ecr:BatchImportUpstreamImage", "implicitDeny", &[])]),
            Status::Missing,
        ),
        an_iam_deny_on_createrepository(
            None,
            simulation(&[("ecr:CreateRepository", "explicitDeny", &[])]),
            Status::Missing,
        ),
        iam_lacks_the_login(
            None,
            simulation(&[("ecr:GetAuthorizationToken", "implicitDeny", &[])]),
            Status::Missing,
        ),
        iam_allows_a_registry_deny_takes_the_import_away(
            registry(
                json!([{"Sid": "NoImports", "Effect": "Deny", "Principal": "*", "Action": "ecr:BatchImportUpstreamImage", "Resource": "*"}]),
            ),
            simulation(&[]),
            Status::Missing,
        ),
        iam_allows_a_registry_deny_under_a_condition_not_evaluated_here(
            registry(
                json!([{"Effect": "Deny", "Principal": "*", "Action": "ecr:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
            ),
            simulation(&[]),
            Status::Unknown,
        ),
        iam_allows_a_registry_allow_under_a_condition_not_evaluated_here(
            registry(
                json!([{"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]),
            ),
            simulation(&[]),
            Status::Ok,
        ),
        iam_lacks_the_import_the_registry_policy_names_the_account(
            registry(
                json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": REGISTRY_ACTIONS, "Resource": "*"}]),
            ),
            simulation(&[("ecr:BatchImportUpstreamImage", "implicitDeny", &[])]),
            Status::Unknown,
        ),
        iam_allowed_without_a_context_value(
            None,
            simulation(&[("ecr:BatchGetImage", "allowed", &["aws:SourceVpce"])]),
            Status::Unknown,
        ),
        the_simulation_failed(None, failed_simulation(), Status::Unknown),
        an_iam_deny_wins_over_a_doubtful_registry_deny(
            registry(
                json!([{"Effect": "Deny", "Principal": "*", "Action": "ecr:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
            ),
            simulation(&[("ecr:CreateRepository", "explicitDeny", &[])]),
            Status::Missing,
        ),
    }

    #[test]
    fn a_missing_iam_grant_is_one_finding_with_the_statement_to_add() {
        let assessment = run(
            None,
            simulation(&[
                ("ecr:BatchImportUpstreamImage", "implicitDeny", &[]),
                ("ecr:GetAuthorizationToken", "implicitDeny", &[]),
                ("ecr:CreateRepository", "explicitDeny", &[]),
            ]),
        );
        let cell = &assessment.cells[0];
        let missing: Vec<(&str, &str, Option<&str>)> = cell
            .identity
            .missing
            .iter()
            .map(|grant| {
                (
                    grant.action.as_str(),
                    grant.resource.as_str(),
                    grant.denied_by.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            missing,
            [
                (
                    "ecr:CreateRepository",
                    SAMPLE,
                    Some("IAM policy `no-imports` (role)")
                ),
                ("ecr:BatchImportUpstreamImage", SAMPLE, None),
                ("ecr:GetAuthorizationToken", "*", None),
            ]
        );
        let findings: Vec<&Finding> = assessment
            .findings
            .iter()
            .filter(|finding| finding.resource == ROLE)
            .collect();
        assert_eq!(findings.len(), 1, "{:#?}", assessment.findings);
        let steps = &findings[0].next_steps;
        let add = &steps[0];
        let policy: Value =
            serde_json::from_str(&add[add.find('{').expect("JSON")..]).expect("a policy");
        assert_eq!(
            policy["Statement"][0]["Action"],
            json!(["ecr:BatchImportUpstreamImage"])
        );
        assert_eq!(
            policy["Statement"][0]["Resource"],
            "arn:aws:ecr:eu-west-1:999999999999:repository/ghcr/*"
        );
        assert_eq!(policy["Statement"][1]["Action"], TOKEN_ACTION);
        assert!(steps[1].contains("`no-imports`"), "{steps:#?}");
    }

    #[test]
    fn a_failed_simulation_is_a_warning_naming_the_principal() {
        let failed = IdentityFacts {
            repositories: BTreeMap::new(),
            authorization_token: Err(
                "`iam:SimulatePrincipalPolicy` failed (access-denied)".to_owned()
            ),
        };
        let assessment = run(None, failed);
        let finding = assessment
            .findings
            .iter()
            .find(|finding| finding.resource == IAM_SIMULATION_RESOURCE)
            .expect("a finding");
        assert_eq!(finding.severity, Severity::Warning);
        assert!(finding.message.contains(ROLE), "{}", finding.message);
        assert_eq!(assessment.cells[0].status, Status::Unknown);
    }

    /// The problems of `ROLE` pulling through `ghcr` without a registry policy, as simulated.
    fn check_identity_problems(
        name: &str,
        identity: IdentityFacts,
        expected: Vec<ConsumerProblem>,
    ) {
        let judgement = with_inputs(None, identity, judge);
        assert_eq!(judgement.problems, expected, "{name}");
    }

    named_cases! {
        /// A principal of the registry's account: what its IAM policies lack, what a `Deny`
        /// takes away, and simulations that could not run.
        mod what_iam_lacks_is_one_problem_per_principal => check_identity_problems;
        iam_allows_everything(simulation(&[]), vec![]),
        iam_lacks_the_import_and_the_login_and_denies_the_creation(
            simulation(&[
                ("ecr:BatchImportUpstreamImage", "implicitDeny", &[]),
                ("ecr:GetAuthorizationToken", "implicitDeny", &[]),
                ("ecr:CreateRepository", "explicitDeny", &[]),
            ]),
            vec![ConsumerProblem::IdentityRefuses {
                consumer: ROLE.to_owned(),
                prefixes: vec!["ghcr".to_owned()],
                actions: vec!["ecr:BatchImportUpstreamImage".to_owned()],
                resources: vec!["arn:aws:ecr:eu-west-1:999999999999:repository/ghcr/*".to_owned()],
                token: true,
                denials: vec![Denial {
                    statement: "IAM policy `no-imports` (role)".to_owned(),
                    action: "ecr:CreateRepository".to_owned(),
                    resource: SAMPLE.to_owned(),
                    consumer: ROLE.to_owned(),
                }],
            }],
        ),
        the_simulation_failed(
            failed_simulation(),
            vec![ConsumerProblem::SimulationsFailed {
                failures: vec![SimulationFailure {
                    principal: ROLE.to_owned(),
                    why: "`iam:SimulatePrincipalPolicy` failed (access-denied)".to_owned(),
                }],
            }],
        ),
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use crate::domain::{CreationTemplate, APPLIED_FOR_PULL_THROUGH_CACHE};
    use crate::test_cases::named_cases;

    fn template(prefix: &str, applied_for: &str) -> CreationTemplate {
        CreationTemplate {
            applied_for: vec![applied_for.to_owned()],
            ..CreationTemplate::empty(prefix)
        }
    }

    /// Templates for the cache at `ROOT`, `ghcr` and `ghcr/team`, and one for replication.
    fn with_root() -> Vec<CreationTemplate> {
        vec![
            template("ROOT", APPLIED_FOR_PULL_THROUGH_CACHE),
            template("ghcr", APPLIED_FOR_PULL_THROUGH_CACHE),
            template("ghcr/team", APPLIED_FOR_PULL_THROUGH_CACHE),
            template("quay", "REPLICATION"),
        ]
    }

    /// One template for the cache, at `ghcr`.
    fn without_root() -> Vec<CreationTemplate> {
        vec![template("ghcr", APPLIED_FOR_PULL_THROUGH_CACHE)]
    }

    /// The template governing `prefix` among `templates` is the one at `expected`.
    fn check_governing(
        name: &str,
        templates: Vec<CreationTemplate>,
        prefix: &str,
        expected: Option<&str>,
    ) {
        assert_eq!(
            governing_template(&templates, prefix).map(|template| template.prefix.as_str()),
            expected,
            "{name}"
        );
    }

    named_cases! {
        /// The most specific template for the cache governs a prefix.
        mod the_most_specific_template_for_the_cache_governs_a_prefix => check_governing;
        its_own_template(with_root(), "ghcr", Some("ghcr")),
        a_deeper_template(
            with_root(),
            "ghcr/team",
            Some("ghcr/team"),
        ),
        a_prefix_below_a_template(
            with_root(),
            "ghcr/team/app",
            Some("ghcr/team"),
        ),
        not_at_a_boundary(
            with_root(),
            "ghcr/teamx",
            Some("ghcr"),
        ),
        a_template_not_for_the_cache(
            with_root(),
            "quay",
            Some("ROOT"),
        ),
        root_last(with_root(), "docker-hub", Some("ROOT")),
        none(without_root(), "docker-hub", None),
    }
}
