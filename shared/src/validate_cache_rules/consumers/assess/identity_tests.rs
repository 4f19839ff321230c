use super::*;
use crate::config::Consumer;
use crate::domain::iam::EvalDecision;
use crate::domain::Severity;
use crate::test_cases::named_cases;
use crate::validate_cache_rules::consumers::findings::assess;

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
fn check_decision(name: &str, registry: Option<Value>, identity: IdentityFacts, expected: Status) {
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
        authorization_token: Err("`iam:SimulatePrincipalPolicy` failed (access-denied)".to_owned()),
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
fn check_identity_problems(name: &str, identity: IdentityFacts, expected: Vec<ConsumerProblem>) {
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
