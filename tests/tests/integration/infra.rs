//! The SAM template against the code: each function's role grants exactly its `PERMISSIONS`
//! (plus what the Lambda platform needs), the triggers match real-shaped events and feed the
//! parsers what they expect, alarms and the dashboard watch metrics the functions emit, and the
//! config layer ships a configuration that loads.
//!
//! The template is read as CloudFormation reads it (`ptc_ops_tests::cloudformation`): YAML with
//! short tags, `Fn::ForEach` expanded, intrinsic functions evaluated for one set of parameter
//! values.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::domain::permissions::{Deployment, Grant, Permission, LAMBDA_PLATFORM};
use ptc_ops::events::PrewarmInvocation;
use ptc_ops::metrics::MetricsSink;
use ptc_ops_tests::cloudformation::{
    normalised_condition, one_or_many, template, Stack, ACCOUNT, PARTITION, REGION, STACK,
};
use ptc_ops_tests::invoke;
use ptc_ops_tests::permissions::unpermitted_calls;
use ptc_ops_tests::{assert_calls_permitted, repo_root, sample_event, TestEnv};
use serde_json::{json, Value};

/// One function of the template and what the code says about it.
struct Function {
    logical_id: &'static str,
    role: &'static str,
    binary: &'static str,
    permissions: &'static [Permission],
}

const FUNCTIONS: &[Function] = &[
    Function {
        logical_id: "HardenRepositoryFunction",
        role: "HardenRepositoryRole",
        binary: "harden-repository",
        permissions: ptc_ops::harden_repository::permissions::PERMISSIONS,
    },
    Function {
        logical_id: "ValidateCacheRulesFunction",
        role: "ValidateCacheRulesRole",
        binary: "validate-cache-rules",
        permissions: ptc_ops::validate_cache_rules::permissions::PERMISSIONS,
    },
    Function {
        logical_id: "CheckCredentialsFunction",
        role: "CheckCredentialsRole",
        binary: "check-credentials",
        permissions: ptc_ops::check_credentials::permissions::PERMISSIONS,
    },
    Function {
        logical_id: "PrewarmImagesFunction",
        role: "PrewarmImagesRole",
        binary: "prewarm-images",
        permissions: ptc_ops::prewarm_images::permissions::PERMISSIONS,
    },
];

// ---- IAM ---------------------------------------------------------------------------------------

/// What the deployment settings of a stack are, as its parameters say.
fn deployment_of(stack: &Stack, function_name: &str) -> Deployment {
    let list = |name: &str| -> Vec<String> {
        one_or_many(&stack.parameters[name])
            .into_iter()
            .filter(|item| !item.is_empty())
            .collect()
    };
    Deployment {
        partition: PARTITION.into(),
        region: REGION.into(),
        account_id: ACCOUNT.into(),
        managed_prefixes: list("ManagedPrefixes"),
        alert_topic_arn: alert_topic_of(stack),
        failure_queue_arn: "{{FailureQueue.Arn}}".into(),
        function_name: function_name.to_owned(),
        secret_kms_key_arns: list("SecretKmsKeyArns"),
        credential_write_back: stack.parameters["CredentialWriteBack"] == "true",
        credential_expiry_tag: stack.parameters["CredentialExpiryTag"]
            .as_str()
            .expect("CredentialExpiryTag")
            .to_owned(),
        hardening_tag_keys: one_or_many(&stack.parameters["HardeningTagKeys"]),
        template_role_arn: "{{CreationTemplateRole.Arn}}".into(),
        consumer_principal_arns: list("ConsumerPrincipalArns"),
        upstream_role_arns: list("UpstreamRoleArns"),
        state_table_arn: "{{StateTable.Arn}}".into(),
        template_kms_key_arns: list("TemplateKmsKeyArns"),
        alert_topic_key_arns: list("ExistingAlertTopicKmsKeyArn"),
    }
}

/// The topic the stack publishes to: the one it creates, or `ExistingAlertTopicArn`.
fn alert_topic_of(stack: &Stack) -> String {
    match stack.parameters["ExistingAlertTopicArn"].as_str() {
        Some("") | None => "{{AlertTopic}}".into(),
        Some(existing) => existing.into(),
    }
}

/// Each role grants exactly its function's declared permissions, conditions included, for
/// the stack's parameters; `expected_prefixes` double-checks how the prefixes were read.
fn check_grants(stack: &Stack, expected_prefixes: &[&str]) {
    for function in FUNCTIONS {
        let function_name = stack.property(function.logical_id, "FunctionName");
        let deployment = deployment_of(stack, function_name.as_str().expect("function name"));
        assert_eq!(deployment.managed_prefixes, expected_prefixes);
        let declared: Vec<Permission> = function
            .permissions
            .iter()
            .chain(LAMBDA_PLATFORM)
            .copied()
            .collect();
        let expected: BTreeSet<Grant> = deployment
            .grants(&declared)
            .into_iter()
            .map(|grant| Grant {
                condition: normalised_condition(&grant.condition),
                ..grant
            })
            .collect();
        let granted = stack.grants_of_role(function.role);
        let missing: Vec<_> = expected.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{} ({}): the template must grant exactly its PERMISSIONS, conditions included\n  missing: {missing:#?}\n  extra: {extra:#?}",
            function.binary,
            function.role,
        );
        assert_eq!(
            stack.resource(function.logical_id)["Properties"]["Role"],
            json!({"Fn::GetAtt": [function.role, "Arn"]}),
            "{} must run with its own role",
            function.binary
        );
        // IAM: 1–128 characters of `[A-Za-z0-9+=,.@_-]`.
        for name in stack.policy_names_of_role(function.role) {
            assert!(
                !name.is_empty()
                    && name.len() <= 128
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)),
                "{}: `{name}` is not a valid IAM policy name",
                function.role
            );
        }
    }
}

#[test]
fn the_template_grants_each_function_exactly_its_permissions() {
    check_grants(&Stack::new(&[]), &["docker-hub", "ghcr", "k8s"]);
    check_grants(
        &Stack::new(&[("ManagedPrefixes", "docker-hub,quay,team")]),
        &["docker-hub", "quay", "team"],
    );
    // A prefix with `/` still makes valid policy names; `team/app` and `team-app` are two
    // prefixes, each granted (no name or logical ID is derived from a prefix).
    check_grants(
        &Stack::new(&[("ManagedPrefixes", "docker-hub,team/app,a/b/c,team-app")]),
        &["docker-hub", "team/app", "a/b/c", "team-app"],
    );
    // A central topic instead of the stack's own, unencrypted, then under its own key.
    check_grants(
        &Stack::new(&[(
            "ExistingAlertTopicArn",
            "arn:aws:sns:eu-west-1:222222222222:org-alerts",
        )]),
        &["docker-hub", "ghcr", "k8s"],
    );
    check_grants(
        &Stack::new(&[
            (
                "ExistingAlertTopicArn",
                "arn:aws:sns:eu-west-1:222222222222:org-alerts",
            ),
            (
                "ExistingAlertTopicKmsKeyArn",
                "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
        ]),
        &["docker-hub", "ghcr", "k8s"],
    );
    // Write-back on, two customer managed keys, other tag keys.
    check_grants(
        &Stack::new(&[
            ("CredentialWriteBack", "true"),
            ("CredentialExpiryTag", "team:token-expiry"),
            (
                "SecretKmsKeyArns",
                "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab,arn:aws:kms:eu-west-1:111111111111:key/abcd1234-12ab-34cd-56ef-1234567890ab",
            ),
            ("HardeningTagKeys", "owner,team"),
        ]),
        &["docker-hub", "ghcr", "k8s"],
    );
    // Consumers to simulate and the custom roles of ECR-to-ECR rules.
    check_grants(
        &Stack::new(&[
            (
                "ConsumerPrincipalArns",
                "arn:aws:iam::111111111111:role/eks-node,arn:aws:iam::111111111111:user/ci",
            ),
            (
                "UpstreamRoleArns",
                "arn:aws:iam::111111111111:role/ptc-upstream",
            ),
        ]),
        &["docker-hub", "ghcr", "k8s"],
    );
}

/// `ConsumerPrincipalArns` and `UpstreamRoleArns` are the resources of IAM grants: a wildcard
/// would widen them to every principal of the account, so CloudFormation must refuse it.
#[test]
fn principal_parameters_refuse_wildcards() {
    for (parameter, cases) in [
        (
            "ConsumerPrincipalArns",
            &[
                ("arn:aws:iam::111111111111:role/eks-node", true),
                ("arn:aws:iam::111111111111:role/path/eks-node", true),
                ("arn:aws:iam::111111111111:user/ci", true),
                ("arn:aws-cn:iam::111111111111:role/eks-node", true),
                ("", true),
                ("arn:aws:iam::111111111111:role/*", false),
                ("arn:aws:iam::111111111111:role/eks-?", false),
                ("arn:aws:iam::111111111111:root", false),
                ("arn:aws:iam::*:role/eks-node", false),
                ("111111111111", false),
            ][..],
        ),
        (
            "UpstreamRoleArns",
            &[
                ("arn:aws:iam::111111111111:role/ptc-upstream", true),
                ("", true),
                ("arn:aws:iam::111111111111:user/ci", false),
                ("arn:aws:iam::111111111111:role/ptc-*", false),
            ][..],
        ),
    ] {
        let declaration = &template()["Parameters"][parameter];
        let pattern = declaration["AllowedPattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{parameter} has an AllowedPattern"));
        let whole = regex::Regex::new(&format!("^(?:{pattern})$")).expect("a valid pattern");
        for (value, allowed) in cases {
            assert_eq!(whole.is_match(value), *allowed, "{parameter}: {value:?}");
        }
        assert_eq!(declaration["Default"], "", "{parameter}: none by default");
    }
}

/// ECR assumes the creation templates' role: it trusts `ecr.amazonaws.com` alone, grants exactly
/// `TEMPLATE_ROLE_PERMISSIONS` on the managed prefixes, and reaches the functions as
/// `PTC_TEMPLATE_ROLE_ARN`.
#[test]
fn the_creation_template_role_grants_exactly_what_ecr_needs() {
    use ptc_ops::harden_repository::templates::permissions::TEMPLATE_ROLE_PERMISSIONS;
    const KEY: &str = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for stack in [
        Stack::new(&[]),
        Stack::new(&[("ManagedPrefixes", "docker-hub,team/app")]),
        Stack::new(&[("TemplateKmsKeyArns", KEY), ("HardeningTagKeys", "owner")]),
    ] {
        let deployment = deployment_of(&stack, "any");
        let expected: BTreeSet<Grant> = deployment
            .grants(TEMPLATE_ROLE_PERMISSIONS)
            .into_iter()
            .map(|grant| Grant {
                condition: normalised_condition(&grant.condition),
                ..grant
            })
            .collect();
        let granted = stack.grants_of_role("CreationTemplateRole");
        assert_eq!(granted, expected, "CreationTemplateRole");
        // No replication action, tags only with the profiles' keys, a key only through ECR.
        assert!(!granted
            .iter()
            .any(|grant| grant.action == "ecr:ReplicateImage"));
        for grant in &granted {
            match grant.action.as_str() {
                "ecr:TagResource" => assert!(grant.condition.contains("aws:TagKeys"), "{grant:?}"),
                action if action.starts_with("kms:") => {
                    assert_eq!(grant.resource, KEY, "{grant:?}");
                    assert!(
                        grant.condition.contains("ecr.eu-west-1.amazonaws.com"),
                        "{grant:?}"
                    );
                }
                _ => {}
            }
        }
        let trust = stack.property("CreationTemplateRole", "AssumeRolePolicyDocument");
        assert_eq!(
            trust["Statement"],
            json!([{"Effect": "Allow", "Principal": {"Service": "ecr.amazonaws.com"}, "Action": "sts:AssumeRole"}])
        );
        for name in stack.policy_names_of_role("CreationTemplateRole") {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)),
                "`{name}` is not a valid IAM policy name"
            );
        }
    }
    let globals = &Stack::new(&[]).template["Globals"]["Function"];
    assert_eq!(
        globals["Environment"]["Variables"][ptc_ops::env::PTC_TEMPLATE_ROLE_ARN],
        json!({"Fn::GetAtt": ["CreationTemplateRole", "Arn"]})
    );
    assert_eq!(
        globals["Environment"]["Variables"][ptc_ops::env::PTC_TEMPLATE_KMS_KEY_ARNS],
        json!({"Fn::Join": [",", {"Ref": "TemplateKmsKeyArns"}]})
    );
}

/// The state table is what the code reads and writes: on demand, one string partition key
/// `pk`, no sort key, TTL on `expires_at`, named to every function by `PTC_STATE_TABLE`. (Each
/// role's `dynamodb:UpdateItem` on it alone is checked with the other grants.)
#[test]
fn the_state_table_is_what_the_code_expects() {
    let stack = Stack::new(&[]);
    assert_eq!(
        stack.resource_type("StateTable"),
        Some("AWS::DynamoDB::Table")
    );
    let table = &stack.resource("StateTable")["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["KeySchema"],
        json!([{"AttributeName": "pk", "KeyType": "HASH"}])
    );
    assert_eq!(
        table["AttributeDefinitions"],
        json!([{"AttributeName": "pk", "AttributeType": "S"}])
    );
    assert_eq!(
        table["TimeToLiveSpecification"],
        json!({"AttributeName": "expires_at", "Enabled": true})
    );
    let globals = &stack.template["Globals"]["Function"];
    assert_eq!(
        globals["Environment"]["Variables"][ptc_ops::env::PTC_STATE_TABLE],
        json!({"Ref": "StateTable"})
    );
    // The drift rule leaves out the function's own role, as the template writes it.
    let pattern = &stack.resource("HardenRepositoryFunction")["Properties"]["Events"]
        ["SettingChanged"]["Properties"]["Pattern"];
    assert_eq!(
        pattern["detail"]["$or"][0]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
        json!([{"anything-but": [{"Fn::GetAtt": ["HardenRepositoryRole", "Arn"]}]}])
    );
}

/// The grants that write tags or decrypt secrets are narrowed; a template that drops a
/// condition, or grants them when nothing asks for them, is caught.
#[test]
fn tagging_and_decrypting_are_conditioned_and_off_by_default() {
    let defaults = Stack::new(&[]);
    let credentials = defaults.grants_of_role("CheckCredentialsRole");
    for (case, action) in [
        ("write-back is off by default", "secretsmanager:TagResource"),
        ("no key is listed by default", "kms:Decrypt"),
    ] {
        assert!(
            credentials.iter().all(|grant| grant.action != action),
            "{case}: {credentials:#?}"
        );
    }
    let tagging = defaults.grants_of_role("HardenRepositoryRole");
    let tag_grants: Vec<&Grant> = tagging
        .iter()
        .filter(|grant| grant.action == "ecr:TagResource")
        .collect();
    assert_eq!(
        tag_grants.len(),
        3,
        "one per managed prefix: {tag_grants:#?}"
    );
    for grant in tag_grants {
        assert_eq!(
            grant.condition,
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["managed-by","cost-center"]}}"#
        );
    }

    let everything_on = Stack::new(&[
        ("CredentialWriteBack", "true"),
        (
            "SecretKmsKeyArns",
            "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
    ]);
    let credentials = everything_on.grants_of_role("CheckCredentialsRole");
    for (case, action, condition) in [
        (
            "the expiry tag key only",
            "secretsmanager:TagResource",
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["ptc-ops:expires-at"]}}"#,
        ),
        (
            "through secrets manager only",
            "kms:Decrypt",
            r#"{"StringEquals":{"kms:ViaService":["secretsmanager.eu-west-1.amazonaws.com"]}}"#,
        ),
    ] {
        let grants: Vec<&Grant> = credentials
            .iter()
            .filter(|grant| grant.action == action)
            .collect();
        assert_eq!(grants.len(), 1, "{case}: {grants:#?}");
        assert_eq!(grants[0].condition, condition, "{case}");
    }
    // Each function that reads a secret's value can decrypt it; no other role can.
    for function in FUNCTIONS {
        let reads = function
            .permissions
            .iter()
            .any(|permission| permission.action == "secretsmanager:GetSecretValue");
        let decrypts = everything_on
            .grants_of_role(function.role)
            .iter()
            .any(|grant| grant.action == "kms:Decrypt");
        assert_eq!(reads, decrypts, "{}", function.binary);
    }
}

/// The defaults of the parameters that narrow the grants are what the shipped configuration
/// needs: its tag keys, its expiry tag, its write-back setting.
#[test]
fn tag_and_write_back_parameters_match_the_shipped_configuration() {
    let config = ptc_ops::config::Config::load(repo_root().join("infra/config/ptc-ops.toml"))
        .unwrap_or_else(|error| panic!("the shipped configuration does not load: {error}"));
    let stack = Stack::new(&[]);
    let deployment = deployment_of(&stack, "any");
    let shipped_tag_keys: BTreeSet<String> = std::iter::once(&config.hardening.default_profile)
        .chain(config.hardening.profiles.values())
        .flat_map(|profile| profile.tags.iter().flatten())
        .map(|(key, _)| key.clone())
        .collect();
    let granted_tag_keys: BTreeSet<String> =
        deployment.hardening_tag_keys.iter().cloned().collect();
    assert_eq!(shipped_tag_keys, granted_tag_keys, "HardeningTagKeys");
    assert_eq!(
        deployment.credential_expiry_tag, config.credentials.expiry_tag,
        "CredentialExpiryTag"
    );
    assert_eq!(
        deployment.credential_write_back, config.credentials.write_back,
        "CredentialWriteBack"
    );
}

/// `ManagedPrefixes` scopes every write: a value that widens it must be refused by
/// CloudFormation itself (`AllowedPattern` applies to each value of a `CommaDelimitedList`).
#[test]
fn managed_prefixes_refuse_what_would_widen_the_scope() {
    let declaration = &template()["Parameters"]["ManagedPrefixes"];
    let pattern = declaration["AllowedPattern"]
        .as_str()
        .expect("ManagedPrefixes has an AllowedPattern");
    // CloudFormation matches the whole value.
    let whole = regex::Regex::new(&format!("^(?:{pattern})$")).expect("a valid pattern");
    for (value, allowed) in [
        ("docker-hub", true),
        ("ghcr", true),
        ("k8s", true),
        ("team/app", true),
        ("a.b_c-d/e", true),
        ("*", false),
        ("ROOT", false),
        ("ghcr/*", false),
        ("Docker-Hub", false),
        ("", false),
        ("/ghcr", false),
        ("ghcr/", false),
        ("a//b", false),
        ("-ghcr", false),
    ] {
        assert_eq!(whole.is_match(value), allowed, "{value:?}");
    }
    for default in declaration["Default"].as_str().expect("default").split(',') {
        assert!(whole.is_match(default), "default {default:?}");
    }
}

#[test]
fn no_statement_anywhere_grants_a_wildcard_action() {
    fn walk(value: &Value, path: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    if key == "Action" || key == "NotAction" {
                        for action in one_or_many(child) {
                            if action.contains('*') || key == "NotAction" {
                                found.push(format!("{path}: {key} {action}"));
                            }
                        }
                    }
                    walk(child, &format!("{path}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    walk(child, &format!("{path}/{index}"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&template(), "", &mut found);
    assert!(found.is_empty(), "wildcard actions: {found:#?}");
}

#[test]
fn declared_actions_are_plain_iam_actions() {
    for function in FUNCTIONS {
        for permission in function.permissions.iter().chain(LAMBDA_PLATFORM) {
            assert!(
                !permission.action.contains('*')
                    && !permission.service().is_empty()
                    && permission
                        .operation()
                        .chars()
                        .next()
                        .is_some_and(char::is_uppercase),
                "{}: `{}` is not `service:Operation`",
                function.binary,
                permission.action
            );
        }
    }
}

// ---- functions ---------------------------------------------------------------------------------

#[test]
fn functions_are_the_workspace_binaries_on_arm64_with_json_logs() {
    let stack = Stack::new(&[]);
    let globals = &stack.template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], json!(["arm64"]));
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(
        globals["Environment"]["Variables"][ptc_ops::env::PTC_CONFIG],
        ptc_ops::env::DEFAULT_CONFIG_PATH
    );
    assert_eq!(
        stack.eval(
            &globals["Environment"]["Variables"][ptc_ops::env::PTC_ALERT_TOPIC_ARN],
            &BTreeMap::new()
        ),
        json!("{{AlertTopic}}")
    );
    assert_eq!(globals["Layers"], json!([{"Ref": "ConfigLayer"}]));
    for function in FUNCTIONS {
        let resource = stack.resource(function.logical_id);
        let properties = &resource["Properties"];
        assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
        assert_eq!(
            resource["Metadata"]["BuildProperties"]["Binary"],
            function.binary
        );
        let manifest = repo_root()
            .join("functions")
            .join(function.binary)
            .join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|error| panic!("{}: {error}", manifest.display()));
        assert!(
            manifest.contains(&format!("name = \"{}\"", function.binary)),
            "the binary `{}` is the crate of functions/{}",
            function.binary,
            function.binary
        );
        assert_eq!(
            properties["CodeUri"], "..",
            "cargo lambda builds from the workspace"
        );
        assert_eq!(
            stack.property(function.logical_id, "FunctionName"),
            json!(format!("{STACK}-{}", function.binary))
        );
        let logging = &properties["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON", "{}", function.binary);
        assert_eq!(logging["ApplicationLogLevel"], json!({"Ref": "LogLevel"}));
        let log_group = logging["LogGroup"]["Ref"].as_str().expect("own log group");
        assert_eq!(
            stack.property(log_group, "LogGroupName"),
            json!(format!("/aws/lambda/{STACK}-{}", function.binary))
        );
        assert_eq!(
            stack.resource(log_group)["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"})
        );
        let timeout = properties["Timeout"].as_u64().expect("timeout");
        let memory = properties["MemorySize"].as_u64().expect("memory");
        assert!((3..=900).contains(&timeout) && (128..=1024).contains(&memory));
        let invoke = &properties["EventInvokeConfig"];
        assert!(invoke["MaximumRetryAttempts"].as_u64().is_some());
        assert_eq!(invoke["DestinationConfig"]["OnFailure"]["Type"], "SQS");
        assert_eq!(
            invoke["DestinationConfig"]["OnFailure"]["Destination"],
            json!({"Fn::GetAtt": ["FailureQueue", "Arn"]})
        );
    }
    let harden = &stack.resource("HardenRepositoryFunction")["Properties"];
    assert_eq!(
        stack.property("HardenRepositoryFunction", "ReservedConcurrentExecutions"),
        1,
        "one sweep at a time by default"
    );
    let timeout = harden["Timeout"].as_u64().expect("timeout");
    assert!(
        timeout > ptc_ops::harden_repository::START_RESERVE.as_secs() * 10,
        "the sweep's timeout leaves room for work before its start reserve"
    );
    let queue = &stack.resource("FailureQueue")["Properties"];
    assert_eq!(
        queue["SqsManagedSseEnabled"], true,
        "dead letters are encrypted"
    );
    assert_eq!(
        stack.resource("AlertTopic")["Properties"]["KmsMasterKeyId"],
        json!({"Ref": "AlertKey"}),
        "the alert topic is encrypted with a key CloudWatch alarms may use"
    );
}

#[test]
fn schedules_are_the_parameters() {
    let stack = Stack::new(&[]);
    let events = &stack.resource("HardenRepositoryFunction")["Properties"]["Events"];
    assert_eq!(events["Sweep"]["Type"], "Schedule");
    assert_eq!(
        events["Sweep"]["Properties"]["Schedule"],
        json!({"Ref": "SweepSchedule"})
    );
    assert_eq!(
        stack.resource("HardenRepositoryFunction")["Properties"]["Environment"]["Variables"]
            [ptc_ops::env::PTC_FUNCTION_ROLE_ARN],
        json!({"Fn::GetAtt": ["HardenRepositoryRole", "Arn"]}),
        "the function knows its own role"
    );
    assert_eq!(
        stack.resource("HardenRepositoryFunction")["Properties"]["Environment"]["Variables"]
            [ptc_ops::env::PTC_PREWARM_ROLE_ARN],
        json!({"Fn::GetAtt": ["PrewarmImagesRole", "Arn"]}),
        "the sweep knows the pre-warm role it excludes from pull-time updates"
    );
    for (function, parameter) in [
        ("ValidateCacheRulesFunction", "RuleValidationSchedule"),
        ("CheckCredentialsFunction", "CredentialCheckSchedule"),
    ] {
        let schedule = &stack.resource(function)["Properties"]["Events"]["Schedule"];
        assert_eq!(schedule["Type"], "Schedule", "{function}");
        assert_eq!(
            schedule["Properties"]["Schedule"],
            json!({ "Ref": parameter })
        );
        assert!(schedule["Properties"].get("Input").is_none(), "{function}");
    }
}

/// What EventBridge sends the pre-warm function when the schedule fires.
fn prewarm_payload(stack: &Stack, fired: &Value) -> Value {
    let rule = stack.resource("PrewarmImagesSchedule");
    assert_eq!(
        rule["Properties"]["ScheduleExpression"],
        json!({"Ref": "PrewarmSchedule"})
    );
    let target = &rule["Properties"]["Targets"][0];
    assert_eq!(
        target["Arn"],
        json!({"Fn::GetAtt": ["PrewarmImagesFunction", "Arn"]})
    );
    let transformer = stack.eval(&target["InputTransformer"], &BTreeMap::new());
    let mut text = transformer["InputTemplate"]
        .as_str()
        .expect("input template")
        .to_owned();
    for (name, path) in transformer["InputPathsMap"].as_object().expect("paths") {
        let key = path
            .as_str()
            .and_then(|path| path.strip_prefix("$."))
            .expect("top-level JSON path");
        let value = match &fired[key] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        text = text.replace(&format!("<{name}>"), &value);
    }
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("the transformed input is not JSON ({error}): {text}"))
}

#[test]
fn the_prewarm_schedule_delivers_a_scheduled_event_with_its_images() {
    let fired = sample_event("scheduled-event.json");

    let listed = Stack::new(&[(
        "PrewarmImages",
        "nginx:1.27,ghcr.io/fluxcd/source-controller:v1.4.1,registry.k8s.io/pause:3.10",
    )]);
    let payload = prewarm_payload(&listed, &fired);
    assert_eq!(payload["id"], fired["id"]);
    assert_eq!(payload["time"], fired["time"]);
    assert_eq!(payload["resources"], fired["resources"]);
    let invocation = PrewarmInvocation::from_payload(&payload)
        .unwrap_or_else(|error| panic!("prewarm-images refuses its schedule: {error}"));
    assert!(matches!(invocation, PrewarmInvocation::Scheduled(_)));
    assert_eq!(
        invocation.images(),
        Some(
            &[
                "nginx:1.27".to_owned(),
                "ghcr.io/fluxcd/source-controller:v1.4.1".to_owned(),
                "registry.k8s.io/pause:3.10".to_owned(),
            ][..]
        )
    );

    let configured = Stack::new(&[]);
    let payload = prewarm_payload(&configured, &fired);
    assert_eq!(payload["detail"], json!({}));
    let invocation = PrewarmInvocation::from_payload(&payload)
        .unwrap_or_else(|error| panic!("prewarm-images refuses its schedule: {error}"));
    assert_eq!(
        invocation.images(),
        None,
        "no list: `prewarm.images` applies"
    );

    let permission = configured.resource("PrewarmImagesSchedulePermission");
    assert_eq!(
        permission["Properties"]["SourceArn"],
        json!({"Fn::GetAtt": ["PrewarmImagesSchedule", "Arn"]})
    );
    assert_eq!(
        permission["Properties"]["Principal"],
        "events.amazonaws.com"
    );
}

// ---- alarms and dashboard ----------------------------------------------------------------------

/// Every Rust source of the library, as one text, to find metric names in.
fn library_source() -> String {
    fn collect(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut out = String::new();
    collect(&repo_root().join("shared/src"), &mut out);
    out
}

const FUNCTION_DIMENSIONS: &[&str] = &[
    "harden-repository",
    "validate-cache-rules",
    "check-credentials",
    "prewarm-images",
];

#[test]
fn alarms_and_dashboard_watch_metrics_the_functions_emit() {
    let stack = Stack::new(&[]);
    let source = library_source();
    let emitted = |name: &str| source.contains(&format!("\"{name}\""));
    let mut product_alarms = BTreeSet::new();
    for (logical_id, (resource, _)) in &stack.resources {
        if resource["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let properties = &resource["Properties"];
        for actions in ["AlarmActions", "OKActions"] {
            assert_eq!(
                stack.property(logical_id, actions),
                json!(["{{AlertTopic}}"]),
                "{logical_id} notifies the topic"
            );
        }
        if properties["Namespace"] == ptc_ops::metrics::NAMESPACE {
            let name = properties["MetricName"].as_str().expect("metric name");
            assert!(emitted(name), "{logical_id}: no function emits `{name}`");
            let dimensions = properties["Dimensions"].as_array().expect("dimensions");
            assert_eq!(
                dimensions.len(),
                1,
                "{logical_id}: EMF lines carry `Function` alone"
            );
            assert_eq!(dimensions[0]["Name"], "Function");
            let function = dimensions[0]["Value"].as_str().expect("function");
            assert!(
                FUNCTION_DIMENSIONS.contains(&function),
                "{logical_id}: {function}"
            );
            product_alarms.insert(name.to_owned());
        }
    }
    for required in [
        "RulesInvalid",
        "CredentialsExpiringSoon",
        "CredentialsInvalid",
        "HardeningFailures",
        "ImagesFailed",
    ] {
        assert!(
            product_alarms.contains(required),
            "no alarm on `{required}`"
        );
    }
    let lambda_errors = stack
        .resources
        .values()
        .filter(|(resource, _)| {
            resource["Type"] == "AWS::CloudWatch::Alarm"
                && resource["Properties"]["Namespace"] == "AWS/Lambda"
                && resource["Properties"]["MetricName"] == "Errors"
        })
        .count();
    assert_eq!(
        lambda_errors,
        FUNCTIONS.len(),
        "one error alarm per function"
    );
    assert_eq!(
        stack.resource("DeadLettersAlarm")["Properties"]["Dimensions"][0]["Value"],
        json!({"Fn::GetAtt": ["FailureQueue", "QueueName"]})
    );

    let body = stack.property("Dashboard", "DashboardBody");
    let body: Value = serde_json::from_str(body.as_str().expect("dashboard body"))
        .unwrap_or_else(|error| panic!("the dashboard body is not JSON: {error}"));
    let mut shown = BTreeSet::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        for metric in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if metric[0] == ptc_ops::metrics::NAMESPACE {
                shown.insert(metric[1].as_str().expect("metric name").to_owned());
                assert!(FUNCTION_DIMENSIONS.contains(&metric[3].as_str().expect("function")));
            }
            if let Some(expression) = metric[0]["expression"].as_str() {
                let name = expression
                    .split("MetricName=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .expect("SEARCH names its metric");
                shown.insert(name.to_owned());
            }
        }
    }
    for name in &shown {
        assert!(
            emitted(name),
            "the dashboard shows `{name}`, which no function emits"
        );
    }
    for required in [
        "RuleValid",
        "DaysUntilExpiry",
        "SettingsChanged",
        "ImagesWarmed",
        "CachedBytes",
        "UnusedRepositories",
    ] {
        assert!(shown.contains(required), "the dashboard lacks `{required}`");
    }
}

// ---- configuration layer -----------------------------------------------------------------------

#[test]
fn the_config_layer_puts_a_loadable_config_where_ptc_config_points() {
    let stack = Stack::new(&[]);
    let layer = stack.resource("ConfigLayer");
    assert_eq!(layer["Properties"]["ContentUri"], "config/");
    assert_eq!(layer["Metadata"]["BuildMethod"], "makefile");

    let artifacts = tempfile::tempdir().expect("temporary folder");
    let status = std::process::Command::new("make")
        .arg("--silent")
        .arg("-C")
        .arg(repo_root().join("infra/config"))
        .arg("build-ConfigLayer")
        .arg(format!("ARTIFACTS_DIR={}", artifacts.path().display()))
        .status()
        .expect("make runs");
    assert!(status.success(), "building the config layer failed");
    // Lambda extracts the layer under /opt.
    let relative = ptc_ops::env::DEFAULT_CONFIG_PATH
        .strip_prefix("/opt/")
        .expect("the default config path is in a layer");
    let config = artifacts.path().join(relative);
    ptc_ops::config::Config::load(&config)
        .unwrap_or_else(|error| panic!("the shipped configuration does not load: {error}"));
    assert!(!artifacts.path().join("ptc-ops/Makefile").exists());
}

// ---- the call-log side ---------------------------------------------------------------------------

#[tokio::test]
async fn calls_are_judged_against_the_declared_permissions() {
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    env.clear_calls().await;

    let context = Arc::new(
        env.function_context("validate-cache-rules", env.config(""))
            .with_metrics_sink(MetricsSink::captured()),
    );
    invoke::validate_cache_rules(
        context,
        LambdaEvent::new(sample_event("scheduled-event.json"), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("validation run failed: {}", error.full_message()));

    let permissions = ptc_ops::validate_cache_rules::permissions::PERMISSIONS;
    assert_calls_permitted(&env, permissions).await;

    let without_validation: Vec<Permission> = permissions
        .iter()
        .filter(|permission| permission.action != "ecr:ValidatePullThroughCacheRule")
        .copied()
        .collect();
    let refused = unpermitted_calls(&env, &without_validation).await;
    assert!(
        !refused.is_empty()
            && refused
                .iter()
                .all(|(call, _)| call.operation == "ValidatePullThroughCacheRule"),
        "a call outside the list must be reported, and only that one: {refused:#?}"
    );
}
