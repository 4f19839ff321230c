//! Remedies: every command and instruction the findings' next steps print, in one place, so
//! the wording (and the `--region` flag) is decided once and the assessors only decide what is
//! wrong. Pure: text in, text out.
//!
//! Commands are complete and copyable; `<placeholders>` mark what only the operator knows.

use crate::domain::{UpstreamKind, CREDENTIAL_SECRET_PREFIX};

/// ` --region <region>` when the region is known, nothing otherwise.
pub fn region_flag(region: Option<&str>) -> String {
    region
        .map(|region| format!(" --region {region}"))
        .unwrap_or_default()
}

/// One sentence: where to create a replacement token and with which scope.
pub fn token_instructions(kind: &UpstreamKind) -> &'static str {
    match kind {
        UpstreamKind::DockerHub => {
            "create a new personal access token with `Read-only` scope at hub.docker.com → Account settings → Personal access tokens"
        }
        UpstreamKind::GithubContainerRegistry => {
            "create a new classic personal access token with only the `read:packages` scope at github.com → Settings → Developer settings → Personal access tokens → Tokens (classic) (fine-grained tokens do not work for ghcr.io pulls)"
        }
        UpstreamKind::GitlabContainerRegistry => {
            "create a new personal, group or project access token with the `read_registry` scope in GitLab → Access tokens"
        }
        UpstreamKind::AzureContainerRegistry => {
            "create a new token with pull permission (or rotate the admin password) in the Azure portal → your container registry → Tokens / Access keys"
        }
        UpstreamKind::Chainguard => "create a new pull token with `chainctl auth pull-token`",
        UpstreamKind::Ecr => {
            "check the rule's custom role: its trust policy must let ECR assume it and it must allow pulls from the upstream registry"
        }
        UpstreamKind::EcrPublic | UpstreamKind::K8s | UpstreamKind::Quay => {
            "this upstream needs no credentials: remove the credential from the rule or check the secret it points at"
        }
        UpstreamKind::Other(_) => "create a new read-only access token at the upstream registry",
    }
}

/// The `put-secret-value` command that replaces a credential in place: the ARN stays, so the
/// rule and every IAM policy keep working without a redeploy.
pub fn put_secret_value_command(secret_id: &str, region: Option<&str>) -> String {
    let region = region_flag(region);
    format!(
        "aws secretsmanager put-secret-value --secret-id {secret_id}{region} --secret-string '{{\"username\":\"<user name>\",\"accessToken\":\"<new token>\"}}'"
    )
}

/// The command that confirms a rule works again.
pub fn validate_rule_command(prefix: &str, region: Option<&str>) -> String {
    format!(
        "aws ecr validate-pull-through-cache-rule --ecr-repository-prefix {prefix}{}",
        region_flag(region)
    )
}

/// The findings of an image's latest scan.
pub fn describe_image_scan_findings_command(
    repository: &str,
    image_digest: &str,
    region: Option<&str>,
) -> String {
    format!(
        "aws ecr describe-image-scan-findings --repository-name {repository} --image-id imageDigest={image_digest}{}",
        region_flag(region)
    )
}

/// Creates the credential secret of a rule, under the prefix ECR requires.
pub fn create_secret_command(name: &str, region: Option<&str>) -> String {
    format!(
        "aws secretsmanager create-secret --name {CREDENTIAL_SECRET_PREFIX}{}{} --secret-string '{{\"username\":\"<user name>\",\"accessToken\":\"<token>\"}}'",
        name.trim_start_matches(CREDENTIAL_SECRET_PREFIX),
        region_flag(region)
    )
}

/// Points a rule at another credential secret (`credential_arn` may be a placeholder).
pub fn update_rule_credential_command(
    prefix: &str,
    credential_arn: &str,
    region: Option<&str>,
) -> String {
    format!(
        "aws ecr update-pull-through-cache-rule --ecr-repository-prefix {prefix} --credential-arn {credential_arn}{}",
        region_flag(region)
    )
}

/// Cancels a scheduled deletion of a secret.
pub fn restore_secret_command(secret_id: &str, region: Option<&str>) -> String {
    format!(
        "aws secretsmanager restore-secret --secret-id {secret_id}{}",
        region_flag(region)
    )
}

/// Deletes a secret (with the usual recovery window).
pub fn delete_secret_command(secret_id: &str, region: Option<&str>) -> String {
    format!(
        "aws secretsmanager delete-secret --secret-id {secret_id}{}",
        region_flag(region)
    )
}

/// Shows a secret's metadata (never its value).
pub fn describe_secret_command(secret_id: &str, region: Option<&str>) -> String {
    format!(
        "aws secretsmanager describe-secret --secret-id {secret_id}{}",
        region_flag(region)
    )
}

/// Records a token's expiry on its secret as the tag `expiry_tag`.
pub fn tag_secret_expiry_command(
    secret_id: &str,
    expiry_tag: &str,
    region: Option<&str>,
) -> String {
    let tag = format!("Key={expiry_tag},Value=YYYY-MM-DD");
    let tag = if tag.contains(' ') {
        format!("'{tag}'")
    } else {
        tag
    };
    format!(
        "aws secretsmanager tag-resource --secret-id {secret_id}{} --tags {tag}",
        region_flag(region)
    )
}

/// Writes the registry permissions policy (`policy` is the whole JSON document).
pub fn put_registry_policy_command(policy: &str, region: Option<&str>) -> String {
    format!(
        "aws ecr put-registry-policy{} --policy-text '{policy}'",
        region_flag(region)
    )
}

/// Shows the registry permissions policy, to edit before putting it back.
pub fn get_registry_policy_command(region: Option<&str>) -> String {
    format!("aws ecr get-registry-policy{}", region_flag(region))
}

/// Puts an edited registry permissions policy back (the policy text is the user's edit).
pub fn put_edited_registry_policy_command(region: Option<&str>) -> String {
    format!("aws ecr put-registry-policy{}", region_flag(region))
}

/// Replaces the trust policy of an IAM role.
pub const UPDATE_ASSUME_ROLE_POLICY_COMMAND: &str = "aws iam update-assume-role-policy";

/// Brings the creation templates and the existing repositories to the profiles.
pub const APPLY_PROFILES_INSTRUCTIONS: &str = "then `ptc templates` and `ptc harden` bring the creation templates and the existing repositories to the profile";

/// Points an ECR-to-ECR rule at another custom role (`role_arn` may be a placeholder).
pub fn update_rule_custom_role_command(
    prefix: &str,
    role_arn: &str,
    region: Option<&str>,
) -> String {
    format!(
        "aws ecr update-pull-through-cache-rule --ecr-repository-prefix {prefix} --custom-role-arn {role_arn}{}",
        region_flag(region)
    )
}

/// Re-creates a deleted pull-through cache rule as its deletion record describes it.
pub fn create_rule_command(
    prefix: &str,
    upstream_registry_url: Option<&str>,
    credential_arn: Option<&str>,
    region: Option<&str>,
) -> String {
    let credential = credential_arn
        .map(|arn| format!(" --credential-arn {arn}"))
        .unwrap_or_default();
    format!(
        "aws ecr create-pull-through-cache-rule --ecr-repository-prefix {prefix} --upstream-registry-url {}{credential}{}",
        upstream_registry_url.unwrap_or("<upstream registry URL>"),
        region_flag(region)
    )
}

/// Shows the CloudTrail record of a call (who, from where, with which parameters).
pub fn lookup_event_command(event_id: &str, region: Option<&str>) -> String {
    format!(
        "aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventId,AttributeValue={event_id}{}",
        region_flag(region)
    )
}

/// Lists the registry's pull-time update exclusions (ECR allows 100).
pub fn list_pull_time_exclusions_command(region: Option<&str>) -> String {
    format!(
        "aws ecr list-pull-time-update-exclusions{}",
        region_flag(region)
    )
}

/// Excludes a role from pull-time updates.
pub fn register_pull_time_exclusion_command(principal_arn: &str, region: Option<&str>) -> String {
    format!(
        "aws ecr register-pull-time-update-exclusion{} --principal-arn {principal_arn}",
        region_flag(region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    /// Commands carry the region when known: the command, as written.
    fn check_command(case: &str, got: String, expected: &str) {
        assert_eq!(got, expected, "{case}");
    }

    named_cases! {
        /// Commands carry the region when known: the command, as written.
        mod commands_carry_the_region_when_known => check_command;
        validate(
            validate_rule_command("ghcr", Some("eu-west-1")),
            "aws ecr validate-pull-through-cache-rule --ecr-repository-prefix ghcr --region eu-west-1",
        ),
        validate_without_region(
            validate_rule_command("ghcr", None),
            "aws ecr validate-pull-through-cache-rule --ecr-repository-prefix ghcr",
        ),
        create_secret_adds_the_prefix_once(
            create_secret_command("ecr-pullthroughcache/ghcr", Some("eu-west-1")),
            r#"aws secretsmanager create-secret --name ecr-pullthroughcache/ghcr --region eu-west-1 --secret-string '{"username":"<user name>","accessToken":"<token>"}'"#,
        ),
        update_rule(
            update_rule_credential_command("ghcr", "<new secret ARN>", None),
            "aws ecr update-pull-through-cache-rule --ecr-repository-prefix ghcr --credential-arn <new secret ARN>",
        ),
        restore(
            restore_secret_command("ecr-pullthroughcache/hub", Some("us-east-1")),
            "aws secretsmanager restore-secret --secret-id ecr-pullthroughcache/hub --region us-east-1",
        ),
        delete(
            delete_secret_command("ecr-pullthroughcache/hub", None),
            "aws secretsmanager delete-secret --secret-id ecr-pullthroughcache/hub",
        ),
        describe(
            describe_secret_command("ecr-pullthroughcache/hub", None),
            "aws secretsmanager describe-secret --secret-id ecr-pullthroughcache/hub",
        ),
        tag_with_a_space_is_quoted(
            tag_secret_expiry_command("ecr-pullthroughcache/hub", "expires at", None),
            "aws secretsmanager tag-resource --secret-id ecr-pullthroughcache/hub --tags 'Key=expires at,Value=YYYY-MM-DD'",
        ),
        registry_policy(
            put_registry_policy_command("{}", Some("eu-west-1")),
            "aws ecr put-registry-policy --region eu-west-1 --policy-text '{}'",
        ),
        custom_role(
            update_rule_custom_role_command("central", "<role ARN>", Some("eu-west-1")),
            "aws ecr update-pull-through-cache-rule --ecr-repository-prefix central --custom-role-arn <role ARN> --region eu-west-1",
        ),
        custom_role_without_region(
            update_rule_custom_role_command("central", "<role ARN>", None),
            "aws ecr update-pull-through-cache-rule --ecr-repository-prefix central --custom-role-arn <role ARN>",
        ),
        get_registry_policy(
            get_registry_policy_command(Some("eu-west-1")),
            "aws ecr get-registry-policy --region eu-west-1",
        ),
        put_edited_registry_policy(
            put_edited_registry_policy_command(None),
            "aws ecr put-registry-policy",
        ),
    }
}
