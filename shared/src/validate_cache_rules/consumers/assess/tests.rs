use super::*;
use crate::config::Consumer;
use crate::validate_cache_rules::consumers::findings::assess;

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
