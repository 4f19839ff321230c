//! The shape of a credential secret's value, checked without ever echoing it.
//!
//! ECR wants a JSON object with the keys `username` and `accessToken` (a `password` key is
//! rejected). Problems are described by key name and kind only: no message built here holds
//! any part of the value, not even a parser excerpt.

use serde_json::Value;

use crate::domain::SecretValue;

pub const USERNAME_KEY: &str = "username";
pub const ACCESS_TOKEN_KEY: &str = "accessToken";
pub const PASSWORD_KEY: &str = "password";

/// One thing wrong with a secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatProblem {
    /// Not parseable as JSON (position only: the parser's excerpt could hold the token).
    NotJson {
        line: usize,
        column: usize,
    },
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A required key is absent; `similar` is a key that looks like a misspelling of it.
    MissingKey {
        key: &'static str,
        similar: Option<String>,
    },
    /// ECR rejects secrets with a `password` key.
    PasswordKey,
    NotAString {
        key: &'static str,
    },
    Empty {
        key: &'static str,
    },
    /// Leading or trailing whitespace, usually a paste mistake; `newline` when it is a line break.
    Whitespace {
        key: &'static str,
        newline: bool,
    },
}

impl FormatProblem {
    /// What is wrong, in one short phrase for a title.
    pub fn title(&self) -> String {
        match self {
            FormatProblem::NotJson { .. } => "is not JSON".to_owned(),
            FormatProblem::NotAnObject => "is not a JSON object".to_owned(),
            FormatProblem::MissingKey { key, .. } => format!("has no `{key}` key"),
            FormatProblem::PasswordKey => format!("has a `{PASSWORD_KEY}` key"),
            FormatProblem::NotAString { key } => format!("has a `{key}` that is not a string"),
            FormatProblem::Empty { key } => format!("has an empty `{key}`"),
            FormatProblem::Whitespace { key, newline } => {
                if *newline {
                    format!("has a line break around its `{key}`")
                } else {
                    format!("has spaces around its `{key}`")
                }
            }
        }
    }

    /// Why it matters and how to fix it.
    pub fn explanation(&self) -> String {
        let expected = format!(
            "ECR expects a JSON object `{{\"{USERNAME_KEY}\": \"…\", \"{ACCESS_TOKEN_KEY}\": \"…\"}}`"
        );
        match self {
            FormatProblem::NotJson { line, column } => format!(
                "the value does not parse as JSON (line {line}, column {column}); {expected}, so every pull that needs the upstream fails"
            ),
            FormatProblem::NotAnObject => format!(
                "the value is JSON but not an object; {expected}, so every pull that needs the upstream fails"
            ),
            FormatProblem::MissingKey { key, similar } => {
                let hint = similar
                    .as_ref()
                    .map(|similar| format!(" (a key `{similar}` is there: key names are case-sensitive)"))
                    .unwrap_or_default();
                format!("the value has no `{key}` key{hint}; {expected}, so ECR cannot log in to the upstream")
            }
            FormatProblem::PasswordKey => format!(
                "ECR rejects a credential secret with a `{PASSWORD_KEY}` key: store the token under `{ACCESS_TOKEN_KEY}` and remove `{PASSWORD_KEY}`"
            ),
            FormatProblem::NotAString { key } => {
                format!("`{key}` must be a JSON string; ECR cannot log in to the upstream with it")
            }
            FormatProblem::Empty { key } => {
                format!("`{key}` is empty; ECR cannot log in to the upstream with it")
            }
            FormatProblem::Whitespace { key, newline } => {
                let what = if *newline { "a line break" } else { "spaces" };
                format!(
                    "`{key}` starts or ends with {what}, a common paste mistake: the upstream compares it byte for byte and refuses the login"
                )
            }
        }
    }
}

/// The outcome of reading a secret's value.
#[derive(Debug, Clone, Default)]
pub struct FormatAssessment {
    pub problems: Vec<FormatProblem>,
    /// `username` as stored, when it is a non-empty string (only ever sent to the upstream).
    pub username: Option<SecretValue>,
    /// `accessToken` as stored, when it is a non-empty string.
    pub access_token: Option<SecretValue>,
}

impl FormatAssessment {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// Username and token, when both can be used as they are (for asking the upstream).
    pub fn usable_credentials(&self) -> Option<(&SecretValue, &SecretValue)> {
        let whitespace = self
            .problems
            .iter()
            .any(|problem| matches!(problem, FormatProblem::Whitespace { .. }));
        match (&self.username, &self.access_token) {
            (Some(username), Some(token)) if !whitespace => Some((username, token)),
            _ => None,
        }
    }
}

/// Checks a secret's value.
pub fn check_format(value: &SecretValue) -> FormatAssessment {
    let parsed: Value = match serde_json::from_str(value.expose()) {
        Ok(parsed) => parsed,
        Err(error) => {
            return FormatAssessment {
                problems: vec![FormatProblem::NotJson {
                    line: error.line(),
                    column: error.column(),
                }],
                ..FormatAssessment::default()
            }
        }
    };
    let Value::Object(fields) = parsed else {
        return FormatAssessment {
            problems: vec![FormatProblem::NotAnObject],
            ..FormatAssessment::default()
        };
    };
    let mut problems = Vec::new();
    let mut read = |key: &'static str| -> Option<SecretValue> {
        let Some(field) = fields.get(key) else {
            let similar = fields
                .keys()
                .find(|other| normalise_key(other) == normalise_key(key))
                .cloned();
            problems.push(FormatProblem::MissingKey { key, similar });
            return None;
        };
        let Value::String(text) = field else {
            problems.push(FormatProblem::NotAString { key });
            return None;
        };
        if text.trim().is_empty() {
            problems.push(FormatProblem::Empty { key });
            return None;
        }
        if text.trim() != text {
            let newline = text
                .chars()
                .take_while(|c| c.is_whitespace())
                .chain(text.chars().rev().take_while(|c| c.is_whitespace()))
                .any(|c| c == '\n' || c == '\r');
            problems.push(FormatProblem::Whitespace { key, newline });
        }
        Some(SecretValue::new(text.clone()))
    };
    let username = read(USERNAME_KEY);
    let access_token = read(ACCESS_TOKEN_KEY);
    if fields.contains_key(PASSWORD_KEY) {
        problems.push(FormatProblem::PasswordKey);
    }
    FormatAssessment {
        problems,
        username,
        access_token,
    }
}

/// `access_token`, `AccessToken` and `accesstoken` all look like `accessToken`.
fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, expected: &[FormatProblem], usable: bool) {
        let assessment = check_format(&SecretValue::new(value));
        assert_eq!(assessment.problems, expected, "value {value:?}");
        assert_eq!(
            assessment.usable_credentials().is_some(),
            usable,
            "value {value:?}"
        );
        for problem in &assessment.problems {
            let text = format!("{} {}", problem.title(), problem.explanation());
            for secret in ["tok-123456", "user-abcdef", "plain-token-value"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
    }

    #[test]
    fn checks_the_shape_of_the_value() {
        use FormatProblem::*;
        check(
            r#"{"username":"user-abcdef","accessToken":"tok-123456"}"#,
            &[],
            true,
        );
        // Extra keys are tolerated.
        check(
            r#"{"username":"u","accessToken":"tok-123456","note":"x"}"#,
            &[],
            true,
        );
        check(
            "plain-token-value",
            &[NotJson { line: 1, column: 1 }],
            false,
        );
        check(r#""tok-123456""#, &[NotAnObject], false);
        check(r#"["tok-123456"]"#, &[NotAnObject], false);
        check(
            r#"{"username":"user-abcdef"}"#,
            &[MissingKey {
                key: ACCESS_TOKEN_KEY,
                similar: None,
            }],
            false,
        );
        check(
            r#"{"username":"user-abcdef","access_token":"tok-123456"}"#,
            &[MissingKey {
                key: ACCESS_TOKEN_KEY,
                similar: Some("access_token".into()),
            }],
            false,
        );
        check(
            r#"{"accessToken":"tok-123456"}"#,
            &[MissingKey {
                key: USERNAME_KEY,
                similar: None,
            }],
            false,
        );
        check(
            r#"{"username":"user-abcdef","password":"tok-123456"}"#,
            &[
                MissingKey {
                    key: ACCESS_TOKEN_KEY,
                    similar: None,
                },
                PasswordKey,
            ],
            false,
        );
        check(
            r#"{"username":"user-abcdef","accessToken":"tok-123456","password":"tok-123456"}"#,
            &[PasswordKey],
            true,
        );
        check(
            r#"{"username":"","accessToken":"tok-123456"}"#,
            &[Empty { key: USERNAME_KEY }],
            false,
        );
        check(
            r#"{"username":"user-abcdef","accessToken":"   "}"#,
            &[Empty {
                key: ACCESS_TOKEN_KEY,
            }],
            false,
        );
        check(
            r#"{"username":"user-abcdef","accessToken":42}"#,
            &[NotAString {
                key: ACCESS_TOKEN_KEY,
            }],
            false,
        );
        check(
            r#"{"username":"user-abcdef","accessToken":"tok-123456\n"}"#,
            &[Whitespace {
                key: ACCESS_TOKEN_KEY,
                newline: true,
            }],
            false,
        );
        check(
            r#"{"username":"user-abcdef","accessToken":" tok-123456"}"#,
            &[Whitespace {
                key: ACCESS_TOKEN_KEY,
                newline: false,
            }],
            false,
        );
        check(
            r#"{"username":"user-abcdef\r\n","accessToken":"tok-123456"}"#,
            &[Whitespace {
                key: USERNAME_KEY,
                newline: true,
            }],
            false,
        );
    }
}
