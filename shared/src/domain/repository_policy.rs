//! ECR repository policies (IAM resource policies on a repository).
//!
//! The product sets one policy per profile. Before doing so it must be sure the policy does not
//! open the cache to the world: a statement that allows the `*` principal without any `Condition`
//! makes every image pullable by anyone with an AWS account, and that is refused unless the profile
//! says `allow_public = true`.

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

/// A statement that lets anyone in: `Allow`, principal `*`, no `Condition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatement {
    /// Position in `Statement` (0 when the policy has a single statement object).
    pub index: usize,
    pub sid: Option<String>,
}

impl fmt::Display for PublicStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Statement[{}]", self.index)?;
        if let Some(sid) = &self.sid {
            write!(f, " (`{sid}`)")?;
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

    /// Statements that allow the `*` principal (`"Principal": "*"`, `{"AWS": "*"}` or
    /// `{"AWS": ["*", …]}`) with no `Condition` to narrow them down.
    pub fn public_statements(&self) -> Vec<PublicStatement> {
        self.statements()
            .enumerate()
            .filter(|(_, statement)| is_public(statement))
            .map(|(index, statement)| PublicStatement {
                index,
                sid: statement
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
            .collect()
    }

    fn statements(&self) -> impl Iterator<Item = &Map<String, Value>> {
        self.normalized
            .get("Statement")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
    }
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

fn is_public(statement: &Map<String, Value>) -> bool {
    let allows = statement.get("Effect").and_then(Value::as_str) == Some("Allow");
    let unconditional = match statement.get("Condition") {
        None | Some(Value::Null) => true,
        Some(Value::Object(conditions)) => conditions.is_empty(),
        Some(_) => false,
    };
    allows && unconditional && statement.get("Principal").is_some_and(principal_is_anyone)
}

fn principal_is_anyone(principal: &Value) -> bool {
    let is_star = |value: &Value| value.as_str() == Some("*");
    match principal {
        Value::String(_) => is_star(principal),
        Value::Object(by_kind) => match by_kind.get("AWS") {
            Some(Value::Array(principals)) => principals.iter().any(is_star),
            Some(single) => is_star(single),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn finds_statements_open_to_anyone() {
        let pull = r#""Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]"#;
        let cases: Vec<(&str, String, Expected)> = vec![
            (
                "principal star",
                statement_policy(&format!(r#"[{{"Effect":"Allow","Principal":"*",{pull}}}]"#)),
                Ok(&[0]),
            ),
            (
                "AWS star",
                statement_policy(&format!(r#"[{{"Effect":"Allow","Principal":{{"AWS":"*"}},{pull}}}]"#)),
                Ok(&[0]),
            ),
            (
                "AWS list with star, second statement",
                statement_policy(&format!(
                    r#"[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111111111111:root"}},{pull}}},
                        {{"Sid":"Everyone","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::111111111111:root","*"]}},{pull}}}]"#
                )),
                Ok(&[1]),
            ),
            (
                "single statement object",
                statement_policy(&format!(r#"{{"Effect":"Allow","Principal":"*",{pull}}}"#)),
                Ok(&[0]),
            ),
            (
                "star with org condition",
                statement_policy(&format!(
                    r#"[{{"Effect":"Allow","Principal":"*",{pull},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"o-abc123"}}}}}}]"#
                )),
                Ok(&[]),
            ),
            (
                "star with empty condition",
                statement_policy(&format!(r#"[{{"Effect":"Allow","Principal":"*",{pull},"Condition":{{}}}}]"#)),
                Ok(&[0]),
            ),
            (
                "deny star",
                statement_policy(&format!(r#"[{{"Effect":"Deny","Principal":"*",{pull}}}]"#)),
                Ok(&[]),
            ),
            (
                "named account",
                statement_policy(&format!(
                    r#"[{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::111111111111:root"]}},{pull}}}]"#
                )),
                Ok(&[]),
            ),
            (
                "service principal",
                statement_policy(&format!(r#"[{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},{pull}}}]"#)),
                Ok(&[]),
            ),
            ("not JSON", "{".into(), Err(&[""])),
            ("no statement", r#"{"Version":"2012-10-17"}"#.into(), Err(&["Statement"])),
            ("empty statement list", statement_policy("[]"), Err(&["Statement"])),
            (
                "bad version, effect, no principal",
                r#"{"Version":"2020","Statement":[{"Effect":"allow","Action":"ecr:*"}]}"#.into(),
                Err(&["Version", "Statement[0].Effect", "Statement[0].Principal"]),
            ),
            (
                "unknown keys",
                r#"{"Statment":[],"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resources":"*"}]}"#.into(),
                Err(&["Statment", "Statement[0].Resources"]),
            ),
        ];
        for (name, text, expected) in &cases {
            check(name, text, *expected);
        }
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
                sid: Some("Pull".into())
            }]
        );
        assert_eq!(
            single.public_statements()[0].to_string(),
            "Statement[0] (`Pull`)"
        );
    }
}
