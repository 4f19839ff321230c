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
