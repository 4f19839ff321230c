//! `ptc permissions`: every role of a deployment and the permissions it grants, from the data the
//! functions declare next to their code. `--json` is what `infra/cdk/permissions.json` holds,
//! so the CDK construct grants the same as the SAM template.

use std::process::ExitCode;

use ptc_ops::domain::permissions::{
    Condition, Permission, Scope, Switch, TagKeys, LAMBDA_PLATFORM,
};
use serde_json::{json, Value};

use super::{CliError, EXIT_CLEAN};
use crate::args::GlobalOptions;
use crate::output::table;

/// A role the deployment creates: who assumes it and what it may do.
struct Role {
    name: &'static str,
    /// The function that runs with it (`None` for a role a service assumes on its own).
    function: Option<&'static str>,
    trusted_by: &'static str,
    permissions: Vec<Permission>,
}

/// Each function's role: its code's permissions, then the Lambda platform's.
fn function_role(function: &'static str, permissions: &[Permission]) -> Role {
    Role {
        name: function,
        function: Some(function),
        trusted_by: "lambda.amazonaws.com",
        permissions: permissions.iter().chain(LAMBDA_PLATFORM).copied().collect(),
    }
}

fn roles() -> Vec<Role> {
    vec![
        function_role(
            "harden-repository",
            ptc_ops::harden_repository::permissions::PERMISSIONS,
        ),
        function_role(
            "validate-cache-rules",
            ptc_ops::validate_cache_rules::permissions::PERMISSIONS,
        ),
        function_role(
            "check-credentials",
            ptc_ops::check_credentials::permissions::PERMISSIONS,
        ),
        function_role(
            "prewarm-images",
            ptc_ops::prewarm_images::permissions::PERMISSIONS,
        ),
        Role {
            name: "creation-template",
            function: None,
            trusted_by: "ecr.amazonaws.com",
            permissions:
                ptc_ops::harden_repository::templates::permissions::TEMPLATE_ROLE_PERMISSIONS
                    .to_vec(),
        },
    ]
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::ManagedRepositories => "managed-repositories",
        Scope::Registry => "registry",
        Scope::CredentialSecrets => "credential-secrets",
        Scope::AlertTopic => "alert-topic",
        Scope::OwnFunction => "own-function",
        Scope::OwnLogGroup => "own-log-group",
        Scope::FailureQueue => "failure-queue",
        Scope::SecretKeys => "secret-keys",
        Scope::AnyResource => "any-resource",
        Scope::TemplateRole => "template-role",
        Scope::ConsumerPrincipals => "consumer-principals",
        Scope::UpstreamRoles => "upstream-roles",
        Scope::StateTable => "state-table",
        Scope::TemplateKeys => "template-keys",
        Scope::AlertTopicKeys => "alert-topic-keys",
    }
}

fn condition_json(condition: Condition) -> Value {
    match condition {
        Condition::TagKeys(TagKeys::Hardening) => json!({"tag-keys": "hardening"}),
        Condition::TagKeys(TagKeys::CredentialExpiry) => json!({"tag-keys": "credential-expiry"}),
        Condition::ViaService(service) => json!({ "via-service": service }),
        Condition::PassedToService(service) => json!({ "passed-to-service": service }),
    }
}

fn switch_name(switch: Switch) -> &'static str {
    match switch {
        Switch::CredentialWriteBack => "credential-write-back",
    }
}

fn permission_json(permission: &Permission) -> Value {
    json!({
        "action": permission.action,
        "scope": scope_name(permission.scope),
        "condition": permission.condition.map(condition_json),
        "only-with": permission.only_with.map(switch_name),
        "reason": permission.reason,
    })
}

/// The document `ptc permissions --json` prints.
pub fn document() -> Value {
    let roles: Vec<Value> = roles()
        .iter()
        .map(|role| {
            json!({
                "role": role.name,
                "function": role.function,
                "trusted-by": role.trusted_by,
                "permissions": role.permissions.iter().map(permission_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "generated-by": "ptc permissions --json",
        "roles": roles,
    })
}

pub fn run(global: &GlobalOptions) -> Result<ExitCode, CliError> {
    if global.json {
        let text = serde_json::to_string_pretty(&document())
            .map_err(|error| CliError::Run(error.to_string()))?;
        println!("{text}");
        return Ok(ExitCode::from(EXIT_CLEAN));
    }
    let mut rows = Vec::new();
    for role in roles() {
        for permission in &role.permissions {
            let mut narrowed = Vec::new();
            if let Some(condition) = permission.condition {
                narrowed.push(condition_json(condition).to_string());
            }
            if let Some(switch) = permission.only_with {
                narrowed.push(format!("only with {}", switch_name(switch)));
            }
            rows.push(vec![
                role.name.to_owned(),
                permission.action.to_owned(),
                scope_name(permission.scope).to_owned(),
                if narrowed.is_empty() {
                    "-".to_owned()
                } else {
                    narrowed.join(", ")
                },
            ]);
        }
    }
    print!(
        "{}",
        table(&["ROLE", "ACTION", "RESOURCES", "CONDITION"], &rows)
    );
    Ok(ExitCode::from(EXIT_CLEAN))
}
