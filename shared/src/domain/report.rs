use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::secret::scrub;
use super::{Finding, Severity};

/// What every function returns (README: each function returns a JSON report).
///
/// `summary` holds counts; `details` holds the function's own sections (per-rule, per-secret,
/// per-repository, per-image results), flattened into the top-level JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub function: String,
    pub dry_run: bool,
    pub summary: BTreeMap<String, u64>,
    pub findings: Vec<Finding>,
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl Report {
    pub fn new(function: impl Into<String>, dry_run: bool) -> Self {
        Report {
            function: function.into(),
            dry_run,
            summary: BTreeMap::new(),
            findings: Vec::new(),
            details: Map::new(),
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

    /// Stores a function-specific section; keys of the report itself cannot be shadowed.
    pub fn set_detail(&mut self, key: &str, value: Value) {
        debug_assert!(
            !matches!(key, "function" | "dry_run" | "summary" | "findings"),
            "detail key `{key}` would shadow a report field"
        );
        self.details.insert(key.to_owned(), value);
    }

    /// Replaces every known secret value in the report's texts with `***` (the last line of
    /// defence: no check should put one there in the first place).
    pub fn scrub_secrets(&mut self) {
        for finding in &mut self.findings {
            finding.title = scrub(&finding.title);
            finding.message = scrub(&finding.message);
            for step in &mut finding.next_steps {
                *step = scrub(step);
            }
            finding.resource = scrub(&finding.resource);
        }
        for value in self.details.values_mut() {
            scrub_value(value);
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
    use crate::domain::Check;

    #[test]
    fn serializes_to_the_contract_shape() {
        let mut report = Report::new("validate-cache-rules", false);
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
        report.set_detail("rules", serde_json::json!([{"prefix": "docker-hub"}]));
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
}
