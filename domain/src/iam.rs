//! What IAM says about a principal of the cache account: the answers of
//! `iam:SimulatePrincipalPolicy` and a role's trust policy, as domain values. Pure: the
//! IAM adapter fills them in, the consumer doctor reads them.
//!
//! `SimulatePrincipalPolicy` evaluates the principal's identity-based policies (inline and
//! attached; for a user also its groups' policies) and its permissions boundary; it answers per
//! action and resource `allowed`, `explicitDeny` or `implicitDeny`
//! (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html>,
//! <https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html>).

use serde_json::Value;

use super::policy_eval::{statement_label, Answer};
use super::wildcard::Wildcards;

/// `EvalDecision` (`PolicyEvaluationDecisionType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalDecision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
    /// A value this version does not know.
    Other(String),
}

impl EvalDecision {
    pub fn parse(text: &str) -> EvalDecision {
        match text {
            "allowed" => EvalDecision::Allowed,
            "explicitDeny" => EvalDecision::ExplicitDeny,
            "implicitDeny" => EvalDecision::ImplicitDeny,
            other => EvalDecision::Other(other.to_owned()),
        }
    }

    /// The more restrictive of two decisions: an explicit deny, then an implicit one, then a
    /// value this version does not know, then an allow. The top-level `EvalDecision` of a
    /// result is the most restrictive across its resources and the only one that reflects an
    /// organization's SCPs (IAM API reference, `EvaluationResult`), so a resource's own answer
    /// never loosens it.
    pub fn stricter(self, other: EvalDecision) -> EvalDecision {
        let rank = |decision: &EvalDecision| match decision {
            EvalDecision::ExplicitDeny => 3,
            EvalDecision::ImplicitDeny => 2,
            EvalDecision::Other(_) => 1,
            EvalDecision::Allowed => 0,
        };
        if rank(&other) > rank(&self) {
            other
        } else {
            self
        }
    }
}

/// One `EvaluationResult` of a simulation: one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedDecision {
    /// `EvalActionName`, `ecr:BatchGetImage`.
    pub action: String,
    /// `EvalResourceName`; `*` when the simulation had no resource.
    pub resource: String,
    pub decision: EvalDecision,
    /// `MatchedStatements`: the policies whose statements decided (`SourcePolicyId`, with its
    /// `SourcePolicyType` when given). For an `explicitDeny`, only the denying statement.
    pub matched_policies: Vec<String>,
    /// `MissingContextValues`, of the result and of its `ResourceSpecificResults`: condition
    /// keys the simulation had no value for, so the conditions on them were not evaluated.
    pub missing_context_values: Vec<String>,
}

impl SimulatedDecision {
    /// The doctor's answer for this decision. Strict: a decision resting on context keys the
    /// simulation lacked is `unknown`, never `ok` (a condition on a key that is absent does not
    /// match, so an `Allow` or a `Deny` under it was skipped:
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html>).
    pub fn answer(&self) -> Answer {
        if !self.missing_context_values.is_empty() {
            return Answer::Unknown {
                why: format!(
                    "the IAM simulation of `{}` on `{}` answered `{}` without values for {}: a condition on them may decide otherwise",
                    self.action,
                    self.resource,
                    self.decision_text(),
                    self.missing_context_values
                        .iter()
                        .map(|key| format!("`{key}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
        }
        match &self.decision {
            EvalDecision::Allowed => Answer::Ok,
            EvalDecision::ExplicitDeny => Answer::Missing {
                action: self.action.clone(),
                resource: self.resource.clone(),
                denied_by: Some(if self.matched_policies.is_empty() {
                    "an IAM policy of the principal".to_owned()
                } else {
                    format!("IAM policy {}", self.matched_policies.join(", "))
                }),
            },
            EvalDecision::ImplicitDeny => Answer::Missing {
                action: self.action.clone(),
                resource: self.resource.clone(),
                denied_by: None,
            },
            EvalDecision::Other(text) => Answer::Unknown {
                why: format!(
                    "the IAM simulation of `{}` on `{}` answered `{text}`, which this version does not know",
                    self.action, self.resource
                ),
            },
        }
    }

    fn decision_text(&self) -> &str {
        match &self.decision {
            EvalDecision::Allowed => "allowed",
            EvalDecision::ExplicitDeny => "explicitDeny",
            EvalDecision::ImplicitDeny => "implicitDeny",
            EvalDecision::Other(text) => text,
        }
    }
}

/// The answer for `action` on `resource` among `decisions`: `unknown` when the simulation said
/// nothing about it.
pub fn answer_for(decisions: &[SimulatedDecision], action: &str, resource: &str) -> Answer {
    let matching: Vec<&SimulatedDecision> = decisions
        .iter()
        .filter(|decision| decision.action.eq_ignore_ascii_case(action))
        .filter(|decision| decision.resource == resource)
        .collect();
    match matching.as_slice() {
        [] => Answer::Unknown {
            why: format!("the IAM simulation returned no result for `{action}` on `{resource}`"),
        },
        // Several results for one pair would be a service oddity: the strictest counts.
        several => several
            .iter()
            .map(|decision| decision.answer())
            .max_by_key(|answer| match answer {
                Answer::Ok => 0,
                Answer::Unknown { .. } => 1,
                Answer::Missing { .. } => 2,
            })
            .unwrap_or(Answer::Ok),
    }
}

/// A role as `iam:GetRole` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFacts {
    pub arn: String,
    /// `AssumeRolePolicyDocument`, decoded (IAM sends it URL-encoded).
    pub trust_policy: Option<String>,
}

/// Whether a trust policy lets `service` (`pullthroughcache.ecr.amazonaws.com`) assume the
/// role: `Ok` with nothing to say, or the problem. Strict like the rest of the doctor: an
/// `Allow` under a condition is not proof (conditions are not evaluated), a `Deny` naming the
/// service (or `*`) for `sts:AssumeRole` is a problem, and anything unreadable is a problem.
pub fn trust_problem(trust_policy: Option<&str>, service: &str) -> Option<TrustProblem> {
    let Some(text) = trust_policy else {
        return Some(TrustProblem::Unreadable(
            "`GetRole` returned no trust policy".to_owned(),
        ));
    };
    let policy: Value = match serde_json::from_str(text) {
        Ok(policy) => policy,
        Err(error) => {
            return Some(TrustProblem::Unreadable(format!(
                "the trust policy is not JSON: {error}"
            )))
        }
    };
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => {
            return Some(TrustProblem::Unreadable(
                "the trust policy has no `Statement`".to_owned(),
            ))
        }
    };
    let mut allowed = false;
    let mut conditional = Vec::new();
    let mut conditional_denies = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let label = statement_label(index, statement);
        let deny = statement.get("Effect").and_then(Value::as_str) == Some("Deny");
        // A `Deny` is read widely (anything that may reach the service takes the trust away),
        // an `Allow` narrowly (only what certainly names the service grants it).
        if !statement_assumes(statement) || !statement_reaches_service(statement, service, deny) {
            continue;
        }
        let has_condition = statement.get("Condition").is_some();
        match (deny, has_condition) {
            (true, false) => return Some(TrustProblem::Denied(label)),
            (true, true) => conditional_denies.push(label),
            (false, true) => conditional.push(label),
            (false, false) => allowed = true,
        }
    }
    if !conditional_denies.is_empty() {
        // A `Deny` whose condition is not evaluated here may take the trust away: never `ok`.
        Some(TrustProblem::ConditionalDeny(conditional_denies.join(", ")))
    } else if allowed {
        None
    } else if !conditional.is_empty() {
        Some(TrustProblem::Conditional(conditional.join(", ")))
    } else {
        Some(TrustProblem::NotTrusted)
    }
}

/// Whether the statement's `Action` (or `NotAction`) covers `sts:AssumeRole`, with IAM's `*`
/// and `?` wildcards, case-insensitively.
fn statement_assumes(statement: &Value) -> bool {
    let matches = |patterns: &Value| {
        one_or_many(patterns)
            .iter()
            .any(|pattern| Wildcards::IAM_ACTIONS.matches(pattern, "sts:AssumeRole"))
    };
    match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), _) => matches(actions),
        (None, Some(excluded)) => !matches(excluded),
        (None, None) => false,
    }
}

/// Whether the statement's `Principal` (or `NotPrincipal`) may be the service. `wide`: count
/// `{"AWS": "*"}` too (whether it covers a service principal is not documented).
fn statement_reaches_service(statement: &Value, service: &str, wide: bool) -> bool {
    match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(principal), _) => {
            principal_names_service(principal, service)
                || (wide
                    && principal
                        .get("AWS")
                        .is_some_and(|accounts| one_or_many(accounts).contains(&"*")))
        }
        (None, Some(excluded)) => !principal_names_service(excluded, service),
        (None, None) => false,
    }
}

/// Why a trust policy does not (certainly) let the service assume the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustProblem {
    /// No statement allows the service `sts:AssumeRole`.
    NotTrusted,
    /// Only statements with conditions do (named), which are not evaluated here.
    Conditional(String),
    /// A `Deny` under a condition not evaluated here (named) may take it away.
    ConditionalDeny(String),
    /// This `Deny` statement takes it away.
    Denied(String),
    Unreadable(String),
}

fn principal_names_service(principal: &Value, service: &str) -> bool {
    match principal {
        Value::String(star) => star == "*",
        Value::Object(kinds) => kinds
            .get("Service")
            .is_some_and(|services| one_or_many(services).contains(&service)),
        _ => false,
    }
}

fn one_or_many(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Decodes `%XX` escapes (RFC 3986), as IAM sends policy documents in query answers
/// (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html>: "The policy is
/// URL-encoded compliant with RFC 3986"). Text that is already JSON is returned as it is.
pub fn decode_policy_document(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3])
                .ok()
                .filter(|hex| hex.bytes().all(|byte| byte.is_ascii_hexdigit()));
            if let Some(byte) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    /// The resource policy's decision `resource` against the top-level `top` gives `expected`.
    fn check_stricter(
        name: &str,
        resource: EvalDecision,
        top: EvalDecision,
        expected: EvalDecision,
    ) {
        assert_eq!(resource.stricter(top), expected, "{name}");
    }

    named_cases! {
        /// The stricter of two decisions wins.
        mod the_stricter_decision_wins => check_stricter;
        allow_and_allow(EvalDecision::Allowed, EvalDecision::Allowed, EvalDecision::Allowed),
        an_organizations_deny_at_the_top(
            EvalDecision::Allowed,
            EvalDecision::ImplicitDeny,
            EvalDecision::ImplicitDeny,
        ),
        explicit_over_implicit(
            EvalDecision::ImplicitDeny,
            EvalDecision::ExplicitDeny,
            EvalDecision::ExplicitDeny,
        ),
        unknown_over_allow(
            EvalDecision::Allowed,
            EvalDecision::Other("x".into()),
            EvalDecision::Other("x".into()),
        ),
        deny_over_unknown(
            EvalDecision::Other("x".into()),
            EvalDecision::ImplicitDeny,
            EvalDecision::ImplicitDeny,
        ),
    }

    fn decision(decision: &str, matched: &[&str], missing: &[&str]) -> SimulatedDecision {
        SimulatedDecision {
            action: "ecr:BatchImportUpstreamImage".to_owned(),
            resource: "arn:aws:ecr:eu-west-1:999999999999:repository/ghcr/ptc-doctor-sample"
                .to_owned(),
            decision: EvalDecision::parse(decision),
            matched_policies: matched.iter().map(|p| (*p).to_owned()).collect(),
            missing_context_values: missing.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    /// Simulation answers map to ok, missing (naming the Deny) or unknown.
    fn check_answer(name: &str, decision: SimulatedDecision, expected: &str) {
        let got = match decision.answer() {
            Answer::Ok => "ok".to_owned(),
            Answer::Unknown { .. } => "unknown".to_owned(),
            Answer::Missing {
                denied_by: None, ..
            } => "missing".to_owned(),
            Answer::Missing {
                denied_by: Some(by),
                ..
            } => format!("missing by {by}"),
        };
        assert_eq!(got, expected, "{name}");
    }

    named_cases! {
        /// Simulation answers map to ok, missing (naming the Deny) or unknown.
        mod simulation_answers_map_to_ok_missing_or_unknown => check_answer;
        allowed(decision("allowed", &["node-ecr"], &[]), "ok"),
        implicit_deny_nothing_grants_it(
            decision("implicitDeny", &[], &[]),
            "missing",
        ),
        explicit_deny_names_the_policy(
            decision("explicitDeny", &["no-imports (role)"], &[]),
            "missing by IAM policy no-imports (role)",
        ),
        explicit_deny_without_matched_statements(
            decision("explicitDeny", &[], &[]),
            "missing by an IAM policy of the principal",
        ),
        allowed_without_a_context_key_a_deny_under_a_condition_may_apply(
            decision("allowed", &[], &["aws:SourceVpc"]),
            "unknown",
        ),
        implicit_deny_without_a_context_key_an_allow_under_a_condition_may_apply(
            decision("implicitDeny", &[], &["aws:PrincipalTag/team"]),
            "unknown",
        ),
        a_decision_this_version_does_not_know(
            decision("maybe", &[], &[]),
            "unknown",
        ),
    }

    #[test]
    fn an_action_the_simulation_did_not_answer_is_unknown() {
        let decisions = [decision("allowed", &[], &[])];
        let resource = "arn:aws:ecr:eu-west-1:999999999999:repository/ghcr/ptc-doctor-sample";
        assert_eq!(
            answer_for(&decisions, "ecr:batchimportupstreamimage", resource),
            Answer::Ok
        );
        assert!(matches!(
            answer_for(&decisions, "ecr:CreateRepository", resource),
            Answer::Unknown { .. }
        ));
        assert!(matches!(
            answer_for(&decisions, "ecr:BatchImportUpstreamImage", "*"),
            Answer::Unknown { .. }
        ));
    }

    const SERVICE: &str = "pullthroughcache.ecr.amazonaws.com";

    /// A trust policy of `statements`.
    fn trust(statements: Value) -> String {
        serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    }

    /// Trust policies are checked for the pull through cache service.
    fn check_trust(name: &str, policy: Option<String>, expected: Option<TrustProblem>) {
        let got = trust_problem(policy.as_deref(), SERVICE);
        match (&got, &expected) {
            (Some(TrustProblem::Unreadable(_)), Some(TrustProblem::Unreadable(_))) => {}
            _ => assert_eq!(got, expected, "{name}"),
        }
    }

    named_cases! {
        /// Trust policies are checked for the pull through cache service.
        mod trust_policies_are_checked_for_the_service => check_trust;
        the_service_as_the_ecr_user_guide_shows_it(
            Some(trust(
                serde_json::json!([{"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"}]),
            )),
            None,
        ),
        the_service_in_a_list_one_statement_object(
            Some(
                serde_json::json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"Service": ["ecr.amazonaws.com", SERVICE]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}})
                    .to_string(),
            ),
            None,
        ),
        another_service_only_the_creation_templates_principal(
            Some(trust(
                serde_json::json!([{"Effect": "Allow", "Principal": {"Service": "ecr.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
            )),
            Some(TrustProblem::NotTrusted),
        ),
        the_service_but_another_action(
            Some(trust(
                serde_json::json!([{"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:TagSession"}]),
            )),
            Some(TrustProblem::NotTrusted),
        ),
        under_a_condition(
            Some(trust(
                serde_json::json!([{"Sid": "Ptc", "Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}}}]),
            )),
            Some(TrustProblem::Conditional("Statement[0] (`Ptc`)".to_owned())),
        ),
        a_deny_takes_it_away(
            Some(trust(serde_json::json!([
                {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"},
                {"Sid": "NoOne", "Effect": "Deny", "Principal": "*", "Action": "sts:*"}
            ]))),
            Some(TrustProblem::Denied("Statement[1] (`NoOne`)".to_owned())),
        ),
        a_wildcard_deny_takes_it_away(
            Some(trust(serde_json::json!([
                {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"},
                {"Sid": "Wild", "Effect": "Deny", "Principal": "*", "Action": "sts:Assume*"}
            ]))),
            Some(TrustProblem::Denied("Statement[1] (`Wild`)".to_owned())),
        ),
        a_not_action_deny_takes_it_away(
            Some(trust(serde_json::json!([
                {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"},
                {"Sid": "AllBut", "Effect": "Deny", "Principal": "*", "NotAction": "sts:TagSession"}
            ]))),
            Some(TrustProblem::Denied("Statement[1] (`AllBut`)".to_owned())),
        ),
        a_not_principal_deny_reaches_the_service(
            Some(trust(serde_json::json!([
                {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"},
                {"Sid": "OnlyOthers", "Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}
            ]))),
            Some(TrustProblem::Denied("Statement[1] (`OnlyOthers`)".to_owned())),
        ),
        a_deny_of_any_aws_principal_is_taken_as_reaching_it(
            Some(trust(serde_json::json!([
                {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"},
                {"Sid": "AnyAws", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            ]))),
            Some(TrustProblem::Denied("Statement[1] (`AnyAws`)".to_owned())),
        ),
        a_conditional_deny_is_never_ok(
            Some(trust(serde_json::json!([
                {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"},
                {"Sid": "Maybe", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"StringNotEquals": {"aws:SourceAccount": "999999999999"}}}
            ]))),
            Some(TrustProblem::ConditionalDeny("Statement[1] (`Maybe`)".to_owned())),
        ),
        an_allow_with_a_wildcard_action(
            Some(trust(
                serde_json::json!([{"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:Assume*"}]),
            )),
            None,
        ),
        a_deny_of_another_action_leaves_it(
            Some(trust(serde_json::json!([
                {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"},
                {"Effect": "Deny", "Principal": "*", "Action": "sts:TagSession"}
            ]))),
            None,
        ),
        no_document(None, Some(TrustProblem::Unreadable("`GetRole` returned no trust policy".to_owned()))),
        not_json(
            Some("{nope".to_owned()),
            Some(TrustProblem::Unreadable(String::new())),
        ),
        an_account_not_the_service(
            Some(trust(
                serde_json::json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]),
            )),
            Some(TrustProblem::NotTrusted),
        ),
    }

    /// The policy document `text`, as IAM returns it, decodes to `expected`.
    fn check_decoded(name: &str, text: &str, expected: &str) {
        assert_eq!(decode_policy_document(text), expected, "{name}");
    }

    named_cases! {
        /// Policy documents are URL-decoded; what is not an escape is kept.
        mod policy_documents_are_url_decoded => check_decoded;
        plain_json(r#"{"a": "b+c"}"#, r#"{"a": "b+c"}"#),
        rfc_3986_escapes(
            "%7B%22Version%22%3A%222012-10-17%22%7D",
            r#"{"Version":"2012-10-17"}"#,
        ),
        a_stray_percent("%7B%ZZ%7D", "{%ZZ}"),
        a_sign_is_not_a_hex_digit("%+1", "%+1"),
        a_trailing_percent("%7B%", "{%"),
        a_percent_before_a_multi_byte_character("%7B%é%7D", "{%é}"),
    }
}
