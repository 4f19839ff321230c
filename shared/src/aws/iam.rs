//! AWS IAM, read only: policy simulation of a principal (`SimulatePrincipalPolicy`) and a
//! role's trust policy (`GetRole`). SDK types stop here.

use aws_sdk_iam::types::{EvaluationResult, Statement};

use super::AwsError;
use crate::domain::iam::{decode_policy_document, EvalDecision, RoleFacts, SimulatedDecision};

/// IAM of the account the clients run in.
#[derive(Clone, Debug)]
pub struct IamApi {
    client: aws_sdk_iam::Client,
}

impl IamApi {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        IamApi { client }
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
            decisions.extend(
                output
                    .evaluation_results()
                    .iter()
                    .flat_map(decisions_from_sdk),
            );
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

/// The decisions of one `EvaluationResult`: one per resource of its `ResourceSpecificResults`
/// when it has them (each with its own decision, statements and missing context keys, "the
/// individual results of the simulation ... on each resource"), else the result itself
/// (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html>).
fn decisions_from_sdk(result: &EvaluationResult) -> Vec<SimulatedDecision> {
    let action = result.eval_action_name();
    let keys = |own: &[String]| {
        let mut keys: Vec<String> = result
            .missing_context_values()
            .iter()
            .chain(own)
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let policies = |statements: &[Statement]| {
        let mut policies: Vec<String> = statements.iter().map(policy_of).collect();
        policies.sort();
        policies.dedup();
        policies
    };
    let specific = result.resource_specific_results();
    if specific.is_empty() {
        return vec![SimulatedDecision {
            action: action.to_owned(),
            resource: result.eval_resource_name().unwrap_or("*").to_owned(),
            decision: EvalDecision::parse(result.eval_decision().as_str()),
            matched_policies: policies(result.matched_statements()),
            missing_context_values: keys(&[]),
        }];
    }
    specific
        .iter()
        .map(|specific| SimulatedDecision {
            action: action.to_owned(),
            resource: specific.eval_resource_name().to_owned(),
            decision: EvalDecision::parse(specific.eval_resource_decision().as_str())
                .stricter(EvalDecision::parse(result.eval_decision().as_str())),
            matched_policies: policies(specific.matched_statements()),
            missing_context_values: keys(specific.missing_context_values()),
        })
        .collect()
}

/// `node-ecr (role)`: the policy's id and where it is attached.
fn policy_of(statement: &Statement) -> String {
    let id = statement.source_policy_id().unwrap_or("?");
    match statement.source_policy_type() {
        Some(kind) => format!("`{id}` ({})", kind.as_str()),
        None => format!("`{id}`"),
    }
}
