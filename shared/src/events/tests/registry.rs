//! Registry-level CloudTrail records (rules, registry policy, credentials, templates and
//! scanning), as the function that handles each parses, acknowledges or refuses them.

use super::*;

const GHCR_SECRET: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf";
const HUB_SECRET: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/docker-hub-Q1w2E3";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const ALICE: &str = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_PlatformAdmin_5f2b7c9e1a3d4e6f/alice@example.com";
const ALICE_ROLE: &str = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PlatformAdmin_5f2b7c9e1a3d4e6f";
const TERRAFORM: &str =
    "arn:aws:sts::123456789012:assumed-role/terraform-apply/1717509751000000000";
const TERRAFORM_ROLE: &str = "arn:aws:iam::123456789012:role/terraform-apply";

fn record(arn: &str, role: Option<&str>, time: &str, event_id: &str) -> CallRecord {
    CallRecord {
        caller: Caller {
            arn: Some(arn.to_owned()),
            role_arn: role.map(str::to_owned),
            identity_type: Some(
                if role.is_some() {
                    "AssumedRole"
                } else {
                    "IAMUser"
                }
                .to_owned(),
            ),
            invoked_by: None,
        },
        event_time: Some(time.to_owned()),
        event_id: Some(event_id.to_owned()),
    }
}

fn rule_changed(
    call: RegistryCall,
    prefix: &str,
    upstream: Option<&str>,
    credential: Option<&str>,
    record: CallRecord,
) -> Expected {
    Expected::Parsed(Outcome::Validate(ValidateRulesInvocation::RuleChanged(
        RuleChanged {
            call,
            prefix: prefix.to_owned(),
            upstream_registry_url: upstream.map(str::to_owned),
            credential_arn: credential.map(str::to_owned),
            record,
        },
    )))
}

fn policy_changed(call: RegistryCall, record: CallRecord) -> Expected {
    Expected::Parsed(Outcome::Validate(
        ValidateRulesInvocation::RegistryPolicyChanged(RegistryPolicyChanged { call, record }),
    ))
}

fn secret_changed(call: RegistryCall, secret_id: &str, record: CallRecord) -> Expected {
    Expected::Parsed(Outcome::Check(CheckCredentialsInvocation::SecretChanged(
        SecretChanged {
            call,
            secret_id: secret_id.to_owned(),
            record,
        },
    )))
}

fn control_changed(call: RegistryCall, prefix: Option<&str>, record: CallRecord) -> Expected {
    Expected::Parsed(Outcome::Harden(HardenInvocation::ControlChanged(
        ControlChanged {
            call,
            template_prefix: prefix.map(str::to_owned),
            record,
        },
    )))
}

named_cases! {
    /// The registry-level samples, as the function that handles each parses it.
    mod registry_samples => check_sample;
    rule_deleted(
        "rule-deleted.json",
        Validate,
        rule_changed(
            RegistryCall::DeletePullThroughCacheRule,
            "ghcr",
            Some("ghcr.io"),
            Some(GHCR_SECRET),
            record(BOB, None, "2025-06-04T17:12:44Z", "c2d4e6f8-0a1b-4c3d-9e5f-7a8b9c0d1e2f"),
        ),
    ),
    rule_created(
        "rule-created.json",
        Validate,
        rule_changed(
            RegistryCall::CreatePullThroughCacheRule,
            "docker-hub",
            Some("registry-1.docker.io"),
            Some(HUB_SECRET),
            record(TERRAFORM, Some(TERRAFORM_ROLE), "2025-06-04T09:30:12Z", "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"),
        ),
    ),
    rule_updated(
        "rule-updated.json",
        Validate,
        rule_changed(
            RegistryCall::UpdatePullThroughCacheRule,
            "ghcr",
            None,
            Some(GHCR_SECRET),
            record(ALICE, Some(ALICE_ROLE), "2025-06-04T11:05:27Z", "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"),
        ),
    ),
    registry_policy_deleted(
        "registry-policy-deleted.json",
        Validate,
        policy_changed(
            RegistryCall::DeleteRegistryPolicy,
            record(BOB, None, "2025-06-04T18:02:51Z", "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"),
        ),
    ),
    registry_policy_put(
        "registry-policy-put.json",
        Validate,
        policy_changed(
            RegistryCall::PutRegistryPolicy,
            record(TERRAFORM, Some(TERRAFORM_ROLE), "2025-06-04T18:20:05Z", "0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e"),
        ),
    ),
    secret_value_put_by_name(
        "secret-value-put.json",
        Check,
        secret_changed(
            RegistryCall::PutSecretValue,
            "ecr-pullthroughcache/docker-hub",
            record(ALICE, Some(ALICE_ROLE), "2025-06-04T15:31:08Z", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
        ),
    ),
    secret_rotated_by_arn(
        "secret-rotated.json",
        Check,
        secret_changed(
            RegistryCall::RotateSecret,
            GHCR_SECRET,
            record(TERRAFORM, Some(TERRAFORM_ROLE), "2025-06-04T15:45:00Z", "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a"),
        ),
    ),
    template_deleted(
        "template-deleted.json",
        Harden,
        control_changed(
            RegistryCall::DeleteRepositoryCreationTemplate,
            Some("docker-hub"),
            record(BOB, None, "2025-06-04T19:03:33Z", "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b"),
        ),
    ),
    registry_scanning_put(
        "registry-scanning-put.json",
        Harden,
        control_changed(
            RegistryCall::PutRegistryScanningConfiguration,
            None,
            record(ALICE, Some(ALICE_ROLE), "2025-06-04T19:40:12Z", "4f5a6b7c-8d9e-4f0a-9b1c-2d3e4f5a6b7c"),
        ),
    ),
}

/// What a function made of a registry-level record it acknowledges: the reason, which must hold
/// every fragment.
pub(super) fn check_acknowledged(
    _case: &str,
    function: FunctionKind,
    payload: Value,
    fragments: &[&str],
) {
    let reason = match parse(function, &payload) {
        Ok(Outcome::Validate(ValidateRulesInvocation::Ignored { reason }))
        | Ok(Outcome::Check(CheckCredentialsInvocation::Ignored { reason }))
        | Ok(Outcome::Harden(HardenInvocation::Ignored { reason })) => reason,
        other => panic!("expected an acknowledgement, got {other:?}"),
    };
    for fragment in fragments {
        assert!(reason.contains(fragment), "{reason:?} lacks {fragment:?}");
    }
}

named_cases! {
    /// Well-formed records that ask nothing: acknowledged with the reason, never an error.
    mod registry_acknowledged => check_acknowledged;
    failed_rule_deletion(
        Validate,
        edited("rule-deleted.json", &[("/detail/errorCode", Some(json!("PullThroughCacheRuleNotFoundException"))), ("/detail/responseElements", Some(Value::Null))]),
        &["`DeletePullThroughCacheRule` call failed with \"PullThroughCacheRuleNotFoundException\"", "nothing was changed"],
    ),
    a_call_validate_does_not_handle(
        Validate,
        edited("rule-deleted.json", &[("/detail/eventName", Some(json!("ValidatePullThroughCacheRule")))]),
        &["\"ValidatePullThroughCacheRule\"", "not a call validate-cache-rules acts on", "DeletePullThroughCacheRule"],
    ),
    a_repository_creation_for_validate(
        Validate,
        sample("create-repository-api-call.json"),
        &["\"CreateRepository\"", "not a call validate-cache-rules acts on"],
    ),
    a_service_event_for_validate(
        Validate,
        sample("create-repository-service-event.json"),
        &["\"AWS Service Event via CloudTrail\"", "not a call made by someone"],
    ),
    a_rule_call_from_ecr_public(
        Validate,
        edited("rule-deleted.json", &[("/detail/eventSource", Some(json!("ecr-public.amazonaws.com")))]),
        &["\"ecr-public.amazonaws.com\"", "`ecr.amazonaws.com`"],
    ),
    another_secret_by_name(
        Check,
        edited("secret-value-put.json", &[("/detail/requestParameters/secretId", Some(json!("prod/db-password")))]),
        &["\"prod/db-password\"", "not a credential secret", "`ecr-pullthroughcache/…`"],
    ),
    another_secret_by_arn(
        Check,
        edited("secret-rotated.json", &[("/detail/requestParameters/secretId", Some(json!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-password-AbCdEf")))]),
        &["not a credential secret"],
    ),
    a_lookalike_name(
        Check,
        edited("secret-value-put.json", &[("/detail/requestParameters/secretId", Some(json!("team/ecr-pullthroughcache/docker-hub")))]),
        &["not a credential secret"],
    ),
    a_secret_of_another_account(
        Check,
        edited("secret-rotated.json", &[("/detail/requestParameters/secretId", Some(json!("arn:aws:secretsmanager:eu-west-1:999999999999:secret:ecr-pullthroughcache/ghcr-AbCdEf")))]),
        &["\"999999999999\"", "`recipientAccountId`"],
    ),
    a_secret_of_another_region(
        Check,
        edited("secret-rotated.json", &[("/detail/requestParameters/secretId", Some(json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/ghcr-AbCdEf")))]),
        &["\"us-east-1\"", "`awsRegion`"],
    ),
    failed_put_secret_value(
        Check,
        edited("secret-value-put.json", &[("/detail/errorCode", Some(json!("AccessDenied")))]),
        &["failed with \"AccessDenied\""],
    ),
    a_secret_read(
        Check,
        edited("secret-value-put.json", &[("/detail/eventName", Some(json!("GetSecretValue")))]),
        &["\"GetSecretValue\"", "not a call check-credentials acts on"],
    ),
    a_secret_call_claimed_by_ecr(
        Check,
        edited("secret-value-put.json", &[("/detail/eventSource", Some(json!("ecr.amazonaws.com")))]),
        &["`secretsmanager.amazonaws.com`"],
    ),
    update_secret_of_a_description_only(
        Check,
        edited(
            "secret-value-put.json",
            &[
                ("/detail/eventName", Some(json!("UpdateSecret"))),
                ("/detail/requestParameters/description", Some(json!("docker hub pull token"))),
                ("/detail/responseElements", Some(json!({"arn": HUB_SECRET, "name": "ecr-pullthroughcache/docker-hub"}))),
            ],
        ),
        &["`UpdateSecret`", "created no new version"],
    ),
    failed_template_deletion(
        Harden,
        edited("template-deleted.json", &[("/detail/errorCode", Some(json!("TemplateNotFoundException")))]),
        &["failed with \"TemplateNotFoundException\""],
    ),
}

named_cases! {
    /// Records of a handled call without the field that names what changed: a clear error
    /// naming the field, no value echoed.
    mod registry_malformed => check_variant;
    rule_without_prefix(
        Validate,
        edited("rule-deleted.json", &[("/detail/requestParameters/ecrRepositoryPrefix", None)]),
        error("MalformedEvent", &["`detail.requestParameters.ecrRepositoryPrefix` is missing"]),
    ),
    rule_without_request_parameters(
        Validate,
        edited("rule-created.json", &[("/detail/requestParameters", Some(Value::Null))]),
        error("MalformedEvent", &["`detail.requestParameters.ecrRepositoryPrefix` is missing"]),
    ),
    rule_prefix_not_text(
        Validate,
        edited("rule-deleted.json", &[("/detail/requestParameters/ecrRepositoryPrefix", Some(json!(7)))]),
        error("MalformedEvent", &["`detail.requestParameters.ecrRepositoryPrefix` must be a string"]),
    ),
    secret_without_id(
        Check,
        edited("secret-value-put.json", &[("/detail/requestParameters/secretId", Some(json!("")))]),
        error("MalformedEvent", &["`detail.requestParameters.secretId` is missing"]),
    ),
    template_without_prefix(
        Harden,
        edited("template-deleted.json", &[("/detail/requestParameters", Some(json!({})))]),
        error("MalformedEvent", &["`detail.requestParameters.prefix` is missing"]),
    ),
}

/// A secret id names a credential secret by name or ARN, and nothing that only looks like one.
fn check_secret_id(_case: &str, secret_id: &str, expected: bool) {
    assert_eq!(is_credential_secret_id(secret_id), expected, "{secret_id}");
}

named_cases! {
    mod credential_secret_ids => check_secret_id;
    by_name("ecr-pullthroughcache/docker-hub", true),
    by_full_arn(GHCR_SECRET, true),
    by_partial_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/ghcr", true),
    another_name("prod/db-password", false),
    the_prefix_inside("team/ecr-pullthroughcache/x", false),
    another_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf", false),
    an_arn_of_another_service("arn:aws:ssm:eu-west-1:123456789012:parameter/ecr-pullthroughcache/x", false),
}

/// Every registry-level call belongs to exactly one function and one service.
#[test]
fn registry_calls_are_split_between_the_functions() {
    let mut all: Vec<RegistryCall> = RegistryCall::RULES_AND_POLICY.to_vec();
    all.extend(RegistryCall::SECRETS);
    all.extend(RegistryCall::CONTROLS);
    let names: BTreeSet<&str> = all.iter().map(|call| call.as_str()).collect();
    assert_eq!(names.len(), 12, "no call listed twice");
    for call in RegistryCall::SECRETS {
        assert_eq!(call.event_source(), "secretsmanager.amazonaws.com");
    }
    for call in RegistryCall::RULES_AND_POLICY
        .iter()
        .chain(&RegistryCall::CONTROLS)
    {
        assert_eq!(call.event_source(), "ecr.amazonaws.com");
    }
}

named_cases! {
    /// Variants of the registry-level samples that the functions act on.
    mod registry_variants => check_variant;
    update_secret_with_a_new_version(
        Check,
        edited("secret-value-put.json", &[("/detail/eventName", Some(json!("UpdateSecret")))]),
        secret_changed(
            RegistryCall::UpdateSecret,
            "ecr-pullthroughcache/docker-hub",
            record(ALICE, Some(ALICE_ROLE), "2025-06-04T15:31:08Z", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
        ),
    ),
    update_secret_without_an_answer(
        Check,
        edited("secret-value-put.json", &[("/detail/eventName", Some(json!("UpdateSecret"))), ("/detail/responseElements", Some(Value::Null))]),
        secret_changed(
            RegistryCall::UpdateSecret,
            "ecr-pullthroughcache/docker-hub",
            record(ALICE, Some(ALICE_ROLE), "2025-06-04T15:31:08Z", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
        ),
    ),
    rule_deleted_without_an_answer(
        Validate,
        edited("rule-deleted.json", &[("/detail/responseElements", Some(Value::Null))]),
        rule_changed(
            RegistryCall::DeletePullThroughCacheRule,
            "ghcr",
            None,
            None,
            record(BOB, None, "2025-06-04T17:12:44Z", "c2d4e6f8-0a1b-4c3d-9e5f-7a8b9c0d1e2f"),
        ),
    ),
    rule_by_the_root_user(
        Validate,
        edited("rule-deleted.json", &[("/detail/userIdentity", Some(json!({"type": "Root", "principalId": "123456789012", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"})))]),
        rule_changed(
            RegistryCall::DeletePullThroughCacheRule,
            "ghcr",
            Some("ghcr.io"),
            Some(GHCR_SECRET),
            CallRecord {
                caller: Caller {
                    arn: Some("arn:aws:iam::123456789012:root".to_owned()),
                    role_arn: None,
                    identity_type: Some("Root".to_owned()),
                    invoked_by: None,
                },
                event_time: Some("2025-06-04T17:12:44Z".to_owned()),
                event_id: Some("c2d4e6f8-0a1b-4c3d-9e5f-7a8b9c0d1e2f".to_owned()),
            },
        ),
    ),
}
