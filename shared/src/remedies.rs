//! Where a platform engineer gets a new token for each upstream, in the words its UI uses.

use super::UpstreamKind;

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
    let region = region
        .map(|region| format!(" --region {region}"))
        .unwrap_or_default();
    format!(
        "aws secretsmanager put-secret-value --secret-id {secret_id}{region} --secret-string '{{\"username\":\"<user name>\",\"accessToken\":\"<new token>\"}}'"
    )
}

/// The command that confirms a rule works again.
pub fn validate_rule_command(prefix: &str, region: Option<&str>) -> String {
    let region = region
        .map(|region| format!(" --region {region}"))
        .unwrap_or_default();
    format!("aws ecr validate-pull-through-cache-rule --ecr-repository-prefix {prefix}{region}")
}
