//! ECR repository policies (IAM resource policies on a repository).
//!
//! The product sets one policy per profile. Before doing so it must be sure the policy does not
//! open the cache to the world, and it reports a repository whose policy already does. A policy
//! is public unless every `Allow` statement that reaches everyone is pinned to the caller:
//!
//! - a statement reaches everyone when its principal is `*`, `{"AWS": "*"}`, a list holding `*`,
//!   or any principal with a wildcard (`*`, `?`) in it; `Allow` with `NotPrincipal` is public
//!   whatever its conditions (it lets in everyone not listed);
//! - it is pinned when one of its conditions (they all must hold) names the caller's account,
//!   organisation, organisational unit, source VPC or endpoint, or ARN ([`PINNING_KEYS`], any
//!   case) with a positive operator (`StringEquals`, `StringEqualsIgnoreCase`, `StringLike`,
//!   `ArnEquals`, `ArnLike`, optionally `ForAnyValue:`), and every value is concrete: no `*`,
//!   no `?`, no `${…}` policy variable, not empty. `…IfExists`, `ForAllValues:` (both pass when
//!   the key is absent), `Null` and the negated operators pin nothing, nor do conditions on
//!   other keys (`aws:SecureTransport`, `aws:SourceIp`…);
//! - `Deny` statements never make a policy public.
//!
//! IAM Access Analyzer cannot check ECR repository policies, so this is done here.

use std::fmt;

use serde_json::{Map, Value};

use super::lifecycle::{
    backticked, canonical_json_text, describe_json, report_unknown_keys, PolicyProblem,
};

const EFFECTS: [&str; 2] = ["Allow", "Deny"];
const POLICY_VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];
const POLICY_KEYS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_KEYS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// A repository policy that is well formed, kept normalized for comparison with what a
/// repository has (whitespace, key order and a lone `Statement` object do not count as drift).
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryPolicy {
    normalized: Value,
    canonical_text: String,
}

/// Condition keys that pin a statement to its callers: their account, organisation,
/// organisational unit, network (VPC, VPC endpoint) or ARN; for service principals, the
/// account, organisation or ARN they act for. Compared without regard to case, as IAM does.
pub const PINNING_KEYS: [&str; 10] = [
    "aws:PrincipalAccount",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalArn",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
];

/// Operators that let a call in only when the key is present and matches one of the values.
const PINNING_OPERATORS: [&str; 5] = [
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
];

/// A statement that lets anyone in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatement {
    /// Position in `Statement` (0 when the policy has a single statement object).
    pub index: usize,
    pub sid: Option<String>,
    /// Why it is public, e.g. "`Allow` with `NotPrincipal` lets in every principal not listed".
    pub reason: String,
}

impl fmt::Display for PublicStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Statement[{}]", self.index)?;
        if let Some(sid) = &self.sid {
            write!(f, " ({})", super::markdown::code(sid))?;
        }
        Ok(())
    }
}

impl RepositoryPolicy {
    /// Parses a policy text: a JSON object whose `Statement` is a statement object or a
    /// non-empty list of them, each with an `Effect`, a principal and an action.
    /// Reports every problem found with its JSON path.
    pub fn parse(text: &str) -> Result<RepositoryPolicy, Vec<PolicyProblem>> {
        let document: Value = serde_json::from_str(text).map_err(|error| {
            vec![PolicyProblem {
                json_path: String::new(),
                message: format!("invalid JSON: {error}"),
            }]
        })?;
        let Some(root) = document.as_object() else {
            return Err(vec![PolicyProblem {
                json_path: String::new(),
                message: format!(
                    "expected a JSON object with `Statement`, found {}",
                    describe_json(&document)
                ),
            }]);
        };
        let mut problems = Vec::new();
        report_unknown_keys(root, "", &POLICY_KEYS, &mut problems);
        if let Some(version) = root.get("Version") {
            if !version
                .as_str()
                .is_some_and(|v| POLICY_VERSIONS.contains(&v))
            {
                problems.push(PolicyProblem {
                    json_path: "Version".into(),
                    message: format!(
                        "expected one of {}, found {}",
                        backticked(&POLICY_VERSIONS),
                        describe_json(version)
                    ),
                });
            }
        }
        let statements: Vec<(String, &Value)> = match root.get("Statement") {
            None => {
                problems.push(PolicyProblem {
                    json_path: "Statement".into(),
                    message: "missing, expected a list of statements".into(),
                });
                Vec::new()
            }
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    problems.push(PolicyProblem {
                        json_path: "Statement".into(),
                        message: "expected at least one statement".into(),
                    });
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| (format!("Statement[{index}]"), item))
                    .collect()
            }
            Some(single @ Value::Object(_)) => vec![("Statement".to_owned(), single)],
            Some(other) => {
                problems.push(PolicyProblem {
                    json_path: "Statement".into(),
                    message: format!(
                        "expected a list of statements, found {}",
                        describe_json(other)
                    ),
                });
                Vec::new()
            }
        };
        for (path, statement) in &statements {
            check_statement(path, statement, &mut problems);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let normalized = normalize(&document);
        let canonical_text = canonical_json_text(&normalized);
        Ok(RepositoryPolicy {
            normalized,
            canonical_text,
        })
    }

    /// The policy with `Statement` always a list.
    pub fn normalized(&self) -> &Value {
        &self.normalized
    }

    /// Compact JSON with sorted keys: the text to send to ECR and to compare with.
    pub fn canonical_text(&self) -> &str {
        &self.canonical_text
    }

    /// Statements that make the policy public (see the module's rule), in order.
    pub fn public_statements(&self) -> Vec<PublicStatement> {
        public_statements_in(&self.normalized)
    }

    /// The public statements of a policy someone else wrote (a repository's current policy):
    /// read leniently, so a key this product does not write cannot hide a public statement.
    /// `None` when the text is not a JSON object.
    pub fn public_statements_of(text: &str) -> Option<Vec<PublicStatement>> {
        let document: Value = serde_json::from_str(text).ok()?;
        document
            .is_object()
            .then(|| public_statements_in(&normalize(&document)))
    }
}

fn public_statements_in(normalized: &Value) -> Vec<PublicStatement> {
    normalized
        .get("Statement")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, statement)| {
            let statement = statement.as_object()?;
            let reason = public_reason(statement)?;
            Some(PublicStatement {
                index,
                sid: statement
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                reason,
            })
        })
        .collect()
}

fn check_statement(path: &str, statement: &Value, problems: &mut Vec<PolicyProblem>) {
    let Some(object) = statement.as_object() else {
        problems.push(PolicyProblem {
            json_path: path.to_owned(),
            message: format!(
                "expected a statement object, found {}",
                describe_json(statement)
            ),
        });
        return;
    };
    report_unknown_keys(object, path, &STATEMENT_KEYS, problems);
    match object.get("Effect") {
        Some(effect) if effect.as_str().is_some_and(|e| EFFECTS.contains(&e)) => {}
        Some(effect) => problems.push(PolicyProblem {
            json_path: format!("{path}.Effect"),
            message: format!(
                "expected one of {}, found {}",
                backticked(&EFFECTS),
                describe_json(effect)
            ),
        }),
        None => problems.push(PolicyProblem {
            json_path: format!("{path}.Effect"),
            message: format!("missing, expected one of {}", backticked(&EFFECTS)),
        }),
    }
    // A resource policy names who it applies to, and what they may do.
    for (key, alternative) in [("Principal", "NotPrincipal"), ("Action", "NotAction")] {
        if !object.contains_key(key) && !object.contains_key(alternative) {
            problems.push(PolicyProblem {
                json_path: format!("{path}.{key}"),
                message: format!("missing, expected `{key}` or `{alternative}`"),
            });
        }
    }
}

/// A lone statement object becomes a one-element list: same meaning, one shape to compare.
fn normalize(document: &Value) -> Value {
    let mut normalized = document.clone();
    if let Some(statement) = normalized.get_mut("Statement") {
        if statement.is_object() {
            *statement = Value::Array(vec![statement.take()]);
        }
    }
    normalized
}

/// Why `statement` makes the policy public, or `None` when it does not.
fn public_reason(statement: &Map<String, Value>) -> Option<String> {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return None;
    }
    if statement.contains_key("NotPrincipal") {
        return Some(
            "`Allow` with `NotPrincipal` lets in every principal not listed, anonymous callers included"
                .to_owned(),
        );
    }
    let everyone = statement.get("Principal").and_then(reaches_everyone)?;
    let conditions = match statement.get("Condition") {
        None | Some(Value::Null) => {
            return Some(format!("lets {everyone} in without a `Condition`"))
        }
        Some(Value::Object(conditions)) if conditions.is_empty() => {
            return Some(format!("lets {everyone} in with an empty `Condition`"))
        }
        Some(Value::Object(conditions)) => conditions,
        Some(_) => {
            return Some(format!(
                "lets {everyone} in: its `Condition` is not an object"
            ))
        }
    };
    let mut why_not = Vec::new();
    for (operator, keys) in conditions {
        let Some(keys) = keys.as_object() else {
            why_not.push(format!("`{operator}` is not an object of keys"));
            continue;
        };
        for (key, values) in keys {
            match condition_pins(operator, key, values) {
                Ok(()) => return None,
                Err(why) => why_not.push(why),
            }
        }
    }
    Some(format!(
        "lets {everyone} in: no condition pins the caller's account, organisation, organisational unit, source VPC or endpoint, or ARN to a concrete value ({})",
        why_not.join("; ")
    ))
}

/// How the principal reaches everyone (`principal `*``, a wildcard ARN…), if it does.
fn reaches_everyone(principal: &Value) -> Option<String> {
    match principal {
        Value::String(text) if has_wildcard(text) => {
            Some(format!("principal {}", super::markdown::code(text)))
        }
        Value::Object(by_kind) => by_kind.iter().find_map(|(kind, values)| {
            let values: Vec<&Value> = match values {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            values
                .into_iter()
                .filter_map(Value::as_str)
                .find(|text| has_wildcard(text))
                .map(|text| format!("principal `{{\"{kind}\": \"{text}\"}}`"))
        }),
        _ => None,
    }
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// `Ok` when the condition `operator: {key: values}` admits only callers named by a concrete
/// value of a [`PINNING_KEYS`] key; otherwise why not.
fn condition_pins(operator: &str, key: &str, values: &Value) -> Result<(), String> {
    let Some(pinning_key) = PINNING_KEYS
        .iter()
        .find(|pinning| pinning.eq_ignore_ascii_case(key))
    else {
        return Err(format!("`{key}` does not name the caller"));
    };
    let said = format!("`{operator}` on `{pinning_key}`");
    if operator.ends_with("IfExists") {
        return Err(format!("{said} also lets in callers without the key"));
    }
    if operator.starts_with("ForAllValues:") {
        return Err(format!("{said} also lets in callers without the key"));
    }
    let base = operator.strip_prefix("ForAnyValue:").unwrap_or(operator);
    if !PINNING_OPERATORS.contains(&base) {
        return Err(format!(
            "{said} does not require a match (expected one of {})",
            backticked(&PINNING_OPERATORS)
        ));
    }
    let values: Vec<&Value> = match values {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if values.is_empty() {
        return Err(format!("{said} lists no value"));
    }
    for value in values {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            other => return Err(format!("{said} has the value {}", describe_json(other))),
        };
        if text.trim().is_empty() {
            return Err(format!("{said} has an empty value"));
        }
        if has_wildcard(&text) || text.contains("${") {
            return Err(format!(
                "{said} has the value {}, a wildcard or policy variable that matches any caller",
                super::markdown::code(&text)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    fn statement_policy(statements: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#)
    }

    /// `Ok(indexes of public statements)` or `Err(JSON paths reported)`.
    type Expected = Result<&'static [usize], &'static [&'static str]>;

    fn check(name: &str, text: &str, expected: Expected) {
        match (RepositoryPolicy::parse(text), expected) {
            (Ok(policy), Ok(expected_public)) => {
                let public: Vec<usize> =
                    policy.public_statements().iter().map(|s| s.index).collect();
                assert_eq!(public, expected_public, "{name}");
            }
            (Err(problems), Err(expected_paths)) => {
                let mut paths: Vec<&str> = problems.iter().map(|p| p.json_path.as_str()).collect();
                paths.sort_unstable();
                let mut expected_paths = expected_paths.to_vec();
                expected_paths.sort_unstable();
                assert_eq!(paths, expected_paths, "{name}: {problems:#?}");
            }
            (outcome, expected) => panic!("{name}: got {outcome:?}, expected {expected:?}"),
        }
    }

    /// The pull actions of the policies below.
    const PULL: &str = r#""Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]"#;

    /// [`check`] for a row of the table below.
    fn check_policy(name: &str, text: String, expected: Expected) {
        check(name, &text, expected);
    }

    named_cases! {
        /// The statements open to anyone are found; a malformed policy names the JSON paths.
        mod finds_statements_open_to_anyone => check_policy;
        principal_star(
            statement_policy(&format!(r#"[{{"Effect":"Allow","Principal":"*",{PULL}}}]"#)),
            Ok(&[0]),
        ),
        aws_star(
            statement_policy(&format!(r#"[{{"Effect":"Allow","Principal":{{"AWS":"*"}},{PULL}}}]"#)),
            Ok(&[0]),
        ),
        aws_list_with_star_second_statement(
            statement_policy(&format!(
                r#"[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111111111111:root"}},{PULL}}},
                    {{"Sid":"Everyone","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::111111111111:root","*"]}},{PULL}}}]"#
            )),
            Ok(&[1]),
        ),
        single_statement_object(
            statement_policy(&format!(r#"{{"Effect":"Allow","Principal":"*",{PULL}}}"#)),
            Ok(&[0]),
        ),
        star_with_org_condition(
            statement_policy(&format!(
                r#"[{{"Effect":"Allow","Principal":"*",{PULL},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"o-abc123"}}}}}}]"#
            )),
            Ok(&[]),
        ),
        star_with_empty_condition(
            statement_policy(&format!(r#"[{{"Effect":"Allow","Principal":"*",{PULL},"Condition":{{}}}}]"#)),
            Ok(&[0]),
        ),
        deny_star(
            statement_policy(&format!(r#"[{{"Effect":"Deny","Principal":"*",{PULL}}}]"#)),
            Ok(&[]),
        ),
        one_account_as_a_plain_string(
            statement_policy(&format!(
                r#"[{{"Effect":"Allow","Principal":"arn:aws:iam::111111111111:root",{PULL}}}]"#
            )),
            Ok(&[]),
        ),
        named_account(
            statement_policy(&format!(
                r#"[{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::111111111111:root"]}},{PULL}}}]"#
            )),
            Ok(&[]),
        ),
        service_principal(
            statement_policy(&format!(r#"[{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},{PULL}}}]"#)),
            Ok(&[]),
        ),
        not_json("{".into(), Err(&[""])),
        no_statement(r#"{"Version":"2012-10-17"}"#.into(), Err(&["Statement"])),
        empty_statement_list(statement_policy("[]"), Err(&["Statement"])),
        bad_version_effect_no_principal(
            r#"{"Version":"2020","Statement":[{"Effect":"allow","Action":"ecr:*"}]}"#.into(),
            Err(&["Version", "Statement[0].Effect", "Statement[0].Principal"]),
        ),
        unknown_keys(
            r#"{"Statment":[],"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resources":"*"}]}"#.into(),
            Err(&["Statment", "Statement[0].Resources"]),
        ),
    }

    #[test]
    fn normalizes_a_single_statement_to_a_list() {
        let single = RepositoryPolicy::parse(
            r#"{"Statement": {"Sid": "Pull", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}}"#,
        );
        let listed = RepositoryPolicy::parse(
            r#"{"Statement":[{"Action":"ecr:BatchGetImage","Effect":"Allow","Principal":"*","Sid":"Pull"}]}"#,
        );
        let (Ok(single), Ok(listed)) = (single, listed) else {
            panic!("both policies are valid");
        };
        assert_eq!(single, listed);
        assert_eq!(
            single.public_statements(),
            [PublicStatement {
                index: 0,
                sid: Some("Pull".into()),
                reason: "lets principal `*` in without a `Condition`".into(),
            }]
        );
        assert_eq!(
            single.public_statements()[0].to_string(),
            "Statement[0] (`Pull`)"
        );
    }

    /// A statement pulling images, with `principal` and `condition` spliced in.
    fn pull_statement(effect: &str, principal: &str, condition: &str) -> String {
        let condition = if condition.is_empty() {
            String::new()
        } else {
            format!(r#","Condition":{condition}"#)
        };
        format!(
            r#"{{"Sid":"Pull","Effect":"{effect}",{principal},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]{condition}}}"#
        )
    }

    const STAR: &str = r#""Principal":"*""#;
    const AWS_STAR: &str = r#""Principal":{"AWS":"*"}"#;
    const ORG: &str = r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abc123def4"}}"#;

    /// A policy of one pull statement with `principal`, `condition` and `effect` is public (with a
    /// reason holding `expected`) or not (`None`), whether parsed or judged as a current policy.
    fn check_disguise(
        name: &str,
        principal: &str,
        condition: &str,
        effect: &str,
        expected: Option<&str>,
    ) {
        let text = statement_policy(&format!(
            "[{}]",
            pull_statement(effect, principal, condition)
        ));
        let policy = RepositoryPolicy::parse(&text)
            .unwrap_or_else(|problems| panic!("{name}: {problems:?}"));
        let public = policy.public_statements();
        match expected {
            None => assert_eq!(public, [], "{name}"),
            Some(fragment) => {
                assert_eq!(public.len(), 1, "{name}");
                assert_eq!(public[0].sid.as_deref(), Some("Pull"), "{name}");
                assert!(
                    public[0].reason.contains(fragment),
                    "{name}: {}",
                    public[0].reason
                );
            }
        }
        // A repository's current policy is judged the same way.
        let lenient = RepositoryPolicy::public_statements_of(&text).unwrap_or_default();
        assert_eq!(lenient, public, "{name}");
    }

    named_cases! {
        /// Public in disguise is public, pinned policies are not: principal, condition, effect, and
        /// `None` (not public) or `Some(part of the reason)`.
        mod public_in_disguise_is_public_and_pinned_policies_are_not => check_disguise;
        // Public in disguise.
        notprincipal_with_allow(
            r#""NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"}"#,
            "",
            "Allow",
            Some("`NotPrincipal`"),
        ),
        notprincipal_with_allow_and_an_org_condition(
            r#""NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"}"#,
            ORG,
            "Allow",
            Some("`NotPrincipal`"),
        ),
        star_no_condition(
            STAR,
            "",
            "Allow",
            Some("without a `Condition`"),
        ),
        star_empty_condition(
            STAR,
            "{}",
            "Allow",
            Some("empty `Condition`"),
        ),
        secure_transport_only(
            STAR,
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            "Allow",
            Some("`aws:SecureTransport` does not name the caller"),
        ),
        source_ip_anywhere(
            AWS_STAR,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
            "Allow",
            Some("`aws:SourceIp` does not name the caller"),
        ),
        org_id_star(
            STAR,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"*"}}"#,
            "Allow",
            Some("the value `*`"),
        ),
        org_id_like_o(
            STAR,
            r#"{"StringLike":{"aws:PrincipalOrgID":"o-*"}}"#,
            "Allow",
            Some("the value `o-*`"),
        ),
        org_id_with(
            STAR,
            r#"{"StringLike":{"aws:PrincipalOrgID":"o-abc12?def4"}}"#,
            "Allow",
            Some("the value `o-abc12?def4`"),
        ),
        one_wildcard_among_concrete_values(
            STAR,
            r#"{"StringEquals":{"aws:PrincipalAccount":["111111111111","*"]}}"#,
            "Allow",
            Some("the value `*`"),
        ),
        ifexists(
            STAR,
            r#"{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-abc123def4"}}"#,
            "Allow",
            Some("without the key"),
        ),
        forallvalues(
            STAR,
            r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgPaths":["o-abc123def4/r-ab12/ou-ab12-11111111/"]}}"#,
            "Allow",
            Some("without the key"),
        ),
        null_operator(
            STAR,
            r#"{"Null":{"aws:PrincipalOrgID":"false"}}"#,
            "Allow",
            Some("does not require a match"),
        ),
        negated_operator(
            STAR,
            r#"{"StringNotEquals":{"aws:PrincipalAccount":"111111111111"}}"#,
            "Allow",
            Some("does not require a match"),
        ),
        policy_variable(
            STAR,
            r#"{"StringEquals":{"aws:PrincipalAccount":"${aws:PrincipalAccount}"}}"#,
            "Allow",
            Some("policy variable"),
        ),
        empty_value_list(
            STAR,
            r#"{"StringEquals":{"aws:PrincipalOrgID":[]}}"#,
            "Allow",
            Some("no value"),
        ),
        empty_value(
            STAR,
            r#"{"StringEquals":{"aws:PrincipalOrgID":""}}"#,
            "Allow",
            Some("empty value"),
        ),
        boolean_value(
            STAR,
            r#"{"StringEquals":{"aws:PrincipalOrgID":true}}"#,
            "Allow",
            Some("the value `true`"),
        ),
        aws_star(
            AWS_STAR,
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            "Allow",
            Some("principal `{\"AWS\": \"*\"}`"),
        ),
        aws_list_hiding_a_star(
            r#""Principal":{"AWS":["arn:aws:iam::111111111111:root","*"]}"#,
            "",
            "Allow",
            Some("principal `{\"AWS\": \"*\"}`"),
        ),
        wildcard_account_arn(
            r#""Principal":{"AWS":"arn:aws:iam::*:root"}"#,
            "",
            "Allow",
            Some("arn:aws:iam::*:root"),
        ),
        condition_not_an_object(
            STAR,
            r#"["aws:PrincipalOrgID"]"#,
            "Allow",
            Some("not an object"),
        ),
        // Pinned: accepted.
        org_id(STAR, ORG, "Allow", None),
        org_id_key_in_lower_case(
            AWS_STAR,
            r#"{"StringEquals":{"aws:principalorgid":"o-abc123def4"}}"#,
            "Allow",
            None,
        ),
        account_list(
            STAR,
            r#"{"StringEquals":{"aws:PrincipalAccount":["111111111111","222222222222"]}}"#,
            "Allow",
            None,
        ),
        org_path_with_stringlike_no_wildcard(
            STAR,
            r#"{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":["o-abc123def4/r-ab12/ou-ab12-11111111/"]}}"#,
            "Allow",
            None,
        ),
        source_vpc_endpoint(
            STAR,
            r#"{"StringEquals":{"aws:SourceVpce":"vpce-0123456789abcdef0"}}"#,
            "Allow",
            None,
        ),
        source_vpc(
            STAR,
            r#"{"StringEquals":{"aws:SourceVpc":"vpc-0123456789abcdef0"}}"#,
            "Allow",
            None,
        ),
        principal_arn(
            STAR,
            r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/puller"}}"#,
            "Allow",
            None,
        ),
        secure_transport_and_org_id(
            STAR,
            r#"{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:PrincipalOrgID":"o-abc123def4"}}"#,
            "Allow",
            None,
        ),
        account_as_a_number(
            STAR,
            r#"{"StringEquals":{"aws:PrincipalAccount":111111111111}}"#,
            "Allow",
            None,
        ),
        named_account_no_condition(
            r#""Principal":{"AWS":"arn:aws:iam::111111111111:root"}"#,
            "",
            "Allow",
            None,
        ),
        deny_star(STAR, "", "Deny", None),
        deny_with_notprincipal(
            r#""NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"}"#,
            "",
            "Deny",
            None,
        ),
    }

    /// The current policy `text` has `expected` public statements, or cannot be judged.
    fn check_current_policy(name: &str, text: &str, expected: Option<usize>) {
        assert_eq!(
            RepositoryPolicy::public_statements_of(text).map(|public| public.len()),
            expected,
            "{name}"
        );
    }

    named_cases! {
        /// A current policy is judged even with keys this product does not write.
        mod a_current_policy_is_judged_even_with_keys_this_product_does_not_write =>
            check_current_policy;
        unknown_statement_key(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resources":"*"}]}"#,
            Some(1),
        ),
        pinned_then_second_statement_public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123def4"}}},{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"ecr:*"}]}"#,
            Some(1),
        ),
        not_json("{", None),
        not_an_object("[]", None),
    }
}
