use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::ser::{Error as _, SerializeMap};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::secret::scrub;
use super::{Finding, Severity};

/// What every function returns (docs/cli.md, "Reports for automation").
///
/// `summary` holds counts; `details` holds the function's own sections (per-rule, per-secret,
/// per-repository, per-image results), a typed struct per function whose fields are flattened
/// into the top-level JSON object. The JSON Schema of each function's report is derived from
/// these types (`schemas/`, `ptc schema`).
///
/// Serialization scrubs: every string of the JSON written (Lambda response, `--json`) goes
/// through [`scrub`], whatever the details hold.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
pub struct Report<D> {
    /// The function that ran (`harden-repository`, `validate-cache-rules`, `check-credentials`,
    /// `prewarm-images`).
    pub function: String,
    /// Nothing was written (harden-repository and prewarm-images honour it; the checks never
    /// write).
    pub dry_run: bool,
    /// Counts by name (`rules_checked`, `secrets_expiring`, `alerts_published`…).
    pub summary: BTreeMap<String, u64>,
    /// What the run noticed, each with what to do about it; alerts are built from these.
    pub findings: Vec<Finding>,
    #[serde(flatten)]
    pub details: D,
}

impl<D: Default> Report<D> {
    pub fn new(function: impl Into<String>, dry_run: bool) -> Self {
        Report {
            function: function.into(),
            dry_run,
            summary: BTreeMap::new(),
            findings: Vec::new(),
            details: D::default(),
        }
    }
}

impl<D> Report<D> {
    /// The same report with other details (the common fields are kept).
    pub fn with_details<E>(self, details: E) -> Report<E> {
        Report {
            function: self.function,
            dry_run: self.dry_run,
            summary: self.summary,
            findings: self.findings,
            details,
        }
    }

    /// Sets a summary count (overwrites).
    pub fn count(&mut self, name: &str, value: u64) {
        self.summary.insert(name.to_owned(), value);
    }

    /// Adds to a summary count.
    pub fn add_to_count(&mut self, name: &str, value: u64) {
        *self.summary.entry(name.to_owned()).or_insert(0) += value;
    }

    pub fn push_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Replaces every known secret value in the findings' texts with `***` (the last line of
    /// defence: no check should put one there in the first place). The details are scrubbed
    /// when the report is serialized.
    pub fn scrub_secrets(&mut self) {
        for finding in &mut self.findings {
            finding.title = scrub(&finding.title);
            finding.message = scrub(&finding.message);
            for step in &mut finding.next_steps {
                *step = scrub(step);
            }
            finding.resource = scrub(&finding.resource);
        }
    }

    pub fn highest_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|finding| finding.severity).max()
    }

    pub fn count_at_or_above(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.severity >= severity)
            .count()
    }
}

/// The common fields, then the details' fields, every string scrubbed. Details that do not
/// serialize to a JSON object (a programming error) fail the serialization with a message.
impl<D: Serialize> Serialize for Report<D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let details = match serde_json::to_value(&self.details).map_err(S::Error::custom)? {
            Value::Object(fields) => fields,
            Value::Null => Map::new(),
            other => {
                return Err(S::Error::custom(format!(
                    "report details must serialize to a JSON object, found `{}`",
                    json_kind(&other)
                )))
            }
        };
        let mut findings = serde_json::to_value(&self.findings).map_err(S::Error::custom)?;
        scrub_value(&mut findings);
        let mut map = serializer.serialize_map(Some(4 + details.len()))?;
        map.serialize_entry("function", &self.function)?;
        map.serialize_entry("dry_run", &self.dry_run)?;
        map.serialize_entry("summary", &self.summary)?;
        map.serialize_entry("findings", &findings)?;
        for (key, mut value) in details {
            if matches!(
                key.as_str(),
                "function" | "dry_run" | "summary" | "findings"
            ) {
                return Err(S::Error::custom(format!(
                    "report detail `{key}` would shadow a report field"
                )));
            }
            scrub_value(&mut value);
            map.serialize_entry(&key, &value)?;
        }
        map.end()
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn scrub_value(value: &mut Value) {
    match value {
        Value::String(text) => *text = scrub(text),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(fields) => fields.values_mut().for_each(scrub_value),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Check;

    #[derive(Debug, Default, Serialize)]
    struct Rules {
        rules: Vec<Prefix>,
    }

    #[derive(Debug, Serialize)]
    struct Prefix {
        prefix: &'static str,
    }

    #[test]
    fn serializes_to_the_contract_shape() {
        let mut report: Report<Rules> = Report::new("validate-cache-rules", false);
        report.count("rules_checked", 2);
        report.add_to_count("rules_invalid", 1);
        report.push_finding(
            Finding::new(
                Severity::Critical,
                Check::RuleValidation,
                "docker-hub",
                "pull-through cache rule `docker-hub` is invalid",
                "authentication to the upstream registry failed",
            )
            .with_next_step(
                "aws ecr validate-pull-through-cache-rule --ecr-repository-prefix docker-hub",
            ),
        );
        report.details.rules.push(Prefix {
            prefix: "docker-hub",
        });
        let value = serde_json::to_value(&report).expect("report serializes");
        assert_eq!(
            value,
            serde_json::json!({
                "function": "validate-cache-rules",
                "dry_run": false,
                "summary": {"rules_checked": 2, "rules_invalid": 1},
                "findings": [{
                    "severity": "critical",
                    "check": "rule-validation",
                    "resource": "docker-hub",
                    "title": "pull-through cache rule `docker-hub` is invalid",
                    "message": "authentication to the upstream registry failed",
                    "next_steps": ["aws ecr validate-pull-through-cache-rule --ecr-repository-prefix docker-hub"]
                }],
                "rules": [{"prefix": "docker-hub"}]
            })
        );
        assert_eq!(report.highest_severity(), Some(Severity::Critical));
        assert_eq!(report.count_at_or_above(Severity::Warning), 1);
    }

    #[derive(Debug, Default, Serialize)]
    struct TypedDetails {
        secrets: Vec<String>,
    }

    #[test]
    fn serialized_details_are_scrubbed_whatever_their_type() {
        let token = crate::SecretValue::new("report-token-abc123");
        let mut report: Report<TypedDetails> = Report::new("check-credentials", false);
        report.details.secrets = vec![format!("leaked {}", token.expose())];
        let text = serde_json::to_string(&report).expect("report serializes");
        assert!(!text.contains("report-token-abc123"), "{text}");
        assert!(text.contains("leaked ***"), "{text}");
    }

    #[derive(Debug, Default, Serialize)]
    struct Shadowing {
        summary: u64,
    }

    #[test]
    fn details_cannot_shadow_the_common_fields() {
        let report: Report<Shadowing> = Report::new("prewarm-images", false);
        let error = serde_json::to_string(&report).expect_err("a shadowing detail is refused");
        assert!(error.to_string().contains("`summary`"), "{error}");
    }

    #[test]
    fn details_must_be_an_object() {
        let report: Report<Vec<u8>> =
            Report::<Rules>::new("prewarm-images", false).with_details(vec![1]);
        let error = serde_json::to_string(&report).expect_err("an array detail is refused");
        assert!(error.to_string().contains("found `array`"), "{error}");
    }
}
