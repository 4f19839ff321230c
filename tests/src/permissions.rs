//! Least privilege, checked from the other end: every call a function made on the emulator must
//! be granted by the function's declared `PERMISSIONS` (the same lists the SAM template is
//! checked against). Clear the call log after seeding, run the function, then assert.

use ptc_ops::domain::permissions::{is_credential_secret, Permission, Scope};

use crate::{Call, TestEnv};

/// The harness's own traffic, never the product's: the alert inbox creates a topic and an SQS
/// queue, subscribes one to the other and reads the queue. The product itself never calls SQS
/// (the on-failure destination is written by Lambda, not by the code).
const HARNESS_CALLS: &[(&str, &str)] = &[
    ("sns", "CreateTopic"),
    ("sns", "Subscribe"),
    ("sqs", "CreateQueue"),
    ("sqs", "GetQueueAttributes"),
    ("sqs", "SetQueueAttributes"),
    ("sqs", "ReceiveMessage"),
    ("sqs", "DeleteMessage"),
];

/// The IAM service prefix of a call log's service (the SigV4 signing name).
fn iam_prefix(service: &str) -> Option<&'static str> {
    Some(match service {
        "ecr" => "ecr",
        "secretsmanager" => "secretsmanager",
        "sns" => "sns",
        "sqs" => "sqs",
        "lambda" => "lambda",
        "kms" => "kms",
        "logs" => "logs",
        "iam" => "iam",
        "dynamodb" => "dynamodb",
        _ => return None,
    })
}

/// Why `permissions` do not cover `call`, `None` when they do. Where the call log names the
/// resource precisely enough, the scope is checked too (credential secrets by name).
pub fn refusal(call: &Call, permissions: &[Permission]) -> Option<String> {
    let Some(service) = iam_prefix(&call.service) else {
        return Some(format!(
            "service `{}` has no known IAM prefix (add it to `iam_prefix`)",
            call.service
        ));
    };
    let action = format!("{service}:{}", call.operation);
    let granted: Vec<&Permission> = permissions
        .iter()
        .filter(|permission| permission.action == action)
        .collect();
    if granted.is_empty() {
        return Some(format!("`{action}` is not in PERMISSIONS"));
    }
    let resource = call.resource.as_deref().unwrap_or("");
    if service == "secretsmanager" && !resource.is_empty() {
        let allowed = granted.iter().any(|permission| match permission.scope {
            Scope::CredentialSecrets => is_credential_secret(resource),
            Scope::AnyResource => true,
            _ => false,
        });
        if !allowed {
            return Some(format!(
                "`{action}` on `{resource}` is outside the scopes granted ({:?})",
                granted
                    .iter()
                    .map(|permission| permission.scope)
                    .collect::<Vec<_>>()
            ));
        }
    }
    None
}

/// The calls of this test's account that `permissions` do not grant, each with the reason,
/// harness traffic left out.
pub async fn unpermitted_calls(env: &TestEnv, permissions: &[Permission]) -> Vec<(Call, String)> {
    env.calls()
        .await
        .into_iter()
        .filter(|call| {
            !HARNESS_CALLS.iter().any(|(service, operation)| {
                call.service == *service && call.operation == *operation
            })
        })
        .filter_map(|call| refusal(&call, permissions).map(|reason| (call, reason)))
        .collect()
}

/// Fails the test when a call of this test's account is not granted by `permissions`. Call
/// `env.clear_calls()` after seeding, so only the function's own calls are judged.
pub async fn assert_calls_permitted(env: &TestEnv, permissions: &[Permission]) {
    let refused = unpermitted_calls(env, permissions).await;
    assert!(
        refused.is_empty(),
        "calls not granted by PERMISSIONS (the deployed function would get AccessDenied):\n{}",
        refused
            .iter()
            .map(|(call, reason)| format!(
                "  {}:{} on {:?}: {reason}",
                call.service, call.operation, call.resource
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
