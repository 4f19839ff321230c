//! Records as AWS documents them that `aws_lambda_events`' CloudTrail type (`AWSAPICall`)
//! refuses, and that harden-repository reads: why the CloudTrail record is not typed with the
//! crate (see the module comment of `payload.rs`).

use super::*;

/// The CloudTrail record in `payload`'s `detail`, as `aws_lambda_events`' `AWSAPICall` reads it:
/// the message of its refusal.
fn crate_refusal(payload: &Value) -> String {
    use aws_lambda_events::event::cloudwatch_events::cloudtrail::AWSAPICall;
    match serde_json::from_value::<AWSAPICall>(payload["detail"].clone()) {
        Ok(record) => {
            panic!("the crate's AWSAPICall now reads {record:?}: type the record with it")
        }
        Err(error) => error.to_string(),
    }
}

/// A record of an AWS document that the crate's CloudTrail type refuses for `refused_for`, and
/// that harden-repository reads as `expected` (see the module comment of `payload.rs`).
fn check_crate_refused_record(case: &str, payload: Value, refused_for: &str, expected: Expected) {
    let refusal = crate_refusal(&payload);
    assert!(
        refusal.contains(refused_for),
        "case {case:?}: AWSAPICall refused it for {refusal:?}, not {refused_for:?}"
    );
    check(case, Harden, &payload, expected);
}

/// `userIdentity` of the CloudTrail user guide's record of IAM user Mary_Major calling
/// `StartLogging` from the console ("CloudTrail log event reference"): a console session of an
/// IAM user, whose `sessionIssuer` and `webIdFederationData` are empty objects.
fn console_iam_user() -> Value {
    json!({
        "type": "IAMUser",
        "principalId": "AIDAJDPLRKLG7UEXAMPLE",
        "arn": "arn:aws:iam::123456789012:user/Mary_Major",
        "accountId": "123456789012",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": "Mary_Major",
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"mfaAuthenticated": "false", "creationDate": "2019-06-18T22:28:31Z"}
        },
        "invokedBy": ""
    })
}

const DELETE_POLICY: &str = "setting-changed-delete-repository-policy.json";

named_cases! {
    /// Records as AWS documents them that `aws_lambda_events`' `AWSAPICall` refuses (a field it
    /// requires that AWS leaves out or writes otherwise), and that ours reads: why the CloudTrail
    /// record is not typed with the crate.
    mod cloudtrail_records_the_crate_refuses => check_crate_refused_record;
    iam_user_console_session_with_an_empty_session_issuer(
        edited(DELETE_POLICY, &[("/detail/userIdentity", Some(console_iam_user()))]),
        "missing field `type`",
        setting_changed(
            SettingCall::DeleteRepositoryPolicy,
            "ghcr/fluxcd/source-controller",
            Caller {
                arn: Some("arn:aws:iam::123456789012:user/Mary_Major".to_owned()),
                role_arn: None,
                identity_type: Some("IAMUser".to_owned()),
                invoked_by: None,
            },
            "2025-06-04T16:45:09Z",
            "c9e3a1f7-4b2d-4c68-9f05-7d1e8b3a2c64",
        ),
    ),
    temporary_credentials_with_a_basic_format_creation_date(
        // The userIdentity reference, "userIdentity with temporary security credentials".
        edited(
            PUT,
            &[("/detail/userIdentity/sessionContext/attributes/creationDate", Some(json!("20131102T010628Z")))],
        ),
        "input contains invalid characters",
        setting_changed(
            SettingCall::PutLifecyclePolicy,
            "docker-hub/library/nginx",
            alice(),
            "2025-06-04T14:02:31Z",
            "0b6f1d3c-2a8e-4c57-b9d4-6e1f0a2c3b58",
        ),
    ),
    service_event_of_a_pull_through_creation(
        sample(SERVICE),
        "missing field `type`",
        created("docker-hub/library/nginx", CreatedVia::ServiceEvent, Some("ecr.amazonaws.com")),
    ),
}
