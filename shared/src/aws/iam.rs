//! AWS IAM, read only: policy simulation of a principal (`SimulatePrincipalPolicy`) and a
//! role's trust policy (`GetRole`). SDK types stop here.

use aws_sdk_iam::types::{EvaluationResult, Statement};

use super::AwsError;
use crate::domain::iam::{decode_policy_document, EvalDecision, RoleFacts, SimulatedDecision};

/// IAM of the account the clients run in.
#[derive(Clone, Debug)]
pub struct Iam {
    client: aws_sdk_iam::Client,
}

impl Iam {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        Iam { client }
    }

    /// Simulates `actions` on `resources` (`*` when empty) for the identity-based policies of
    /// `principal_arn` (a role or user), every page (`Marker`, `IsTruncated`):
    /// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html>.
    /// An unknown principal is `NoSuchEntity` (kind not-found).
    pub async fn simulate(
        &self,
        principal_arn: &str,
        actions: &[&str],
        resources: &[String],
    ) -> Result<Vec<SimulatedDecision>, AwsError> {
        let operation = "iam:SimulatePrincipalPolicy";
        let mut decisions = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = self
                .client
                .simulate_principal_policy()
                .policy_source_arn(principal_arn)
                .set_action_names(Some(actions.iter().map(|a| (*a).to_owned()).collect()))
                .set_resource_arns((!resources.is_empty()).then(|| resources.to_vec()))
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|error| AwsError::from_sdk(operation, Some(principal_arn), error))?;
            decisions.extend(output.evaluation_results().iter().map(decision_from_sdk));
            match output.marker().filter(|marker| !marker.is_empty()) {
                Some(next) if output.is_truncated() => marker = Some(next.to_owned()),
                _ => return Ok(decisions),
            }
        }
    }

    /// The role named by `role_arn` (its last path segment is the name), `None` when IAM has no
    /// such role (`NoSuchEntity`).
    pub async fn role(&self, role_arn: &str) -> Result<Option<RoleFacts>, AwsError> {
        let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        match self.client.get_role().role_name(name).send().await {
            Ok(output) => Ok(output.role().map(|role| RoleFacts {
                arn: role.arn().to_owned(),
                trust_policy: role
                    .assume_role_policy_document()
                    .map(decode_policy_document),
            })),
            Err(error) => {
                let error = AwsError::from_sdk("iam:GetRole", Some(role_arn), error);
                if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }
}

fn decision_from_sdk(result: &EvaluationResult) -> SimulatedDecision {
    let mut missing: Vec<String> = result.missing_context_values().to_vec();
    let mut matched: Vec<String> = result.matched_statements().iter().map(policy_of).collect();
    // With resources given, AWS reports missing context keys per resource
    // (https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html).
    for specific in result.resource_specific_results() {
        missing.extend(specific.missing_context_values().iter().cloned());
        matched.extend(specific.matched_statements().iter().map(policy_of));
    }
    missing.sort();
    missing.dedup();
    matched.sort();
    matched.dedup();
    SimulatedDecision {
        action: result.eval_action_name().to_owned(),
        resource: result.eval_resource_name().unwrap_or("*").to_owned(),
        decision: EvalDecision::parse(result.eval_decision().as_str()),
        matched_policies: matched,
        missing_context_values: missing,
    }
}

/// `node-ecr (role)`: the policy's id and where it is attached.
fn policy_of(statement: &Statement) -> String {
    let id = statement.source_policy_id().unwrap_or("?");
    match statement.source_policy_type() {
        Some(kind) => format!("`{id}` ({})", kind.as_str()),
        None => format!("`{id}`"),
    }
}
