//! Every report a test obtains is checked against the schema the project publishes for it
//! (`schemas/<function>-report.schema.json`, `ptc schema <function>`), so the contract that
//! automation codes against is held to what the functions really write, not only to the types
//! it was derived from. The handler calls of [`crate::invoke`], [`crate::report_json`] and the
//! Runtime API's responses ([`crate::runtime_api`]) all pass through [`assert_matches_schema`].
//!
//! The validator is `boon` (JSON Schema 2020-12, the draft schemars writes), chosen over the
//! `jsonschema` crate for its size: it adds eight small crates to the test build where
//! `jsonschema`, even without default features, adds about forty.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ptc_ops::events::FunctionKind;
use ptc_ops::report_schema::schema_file_name;
use serde_json::Value;

use crate::repo_root;

/// Compiled report schemas, one per function name.
pub struct ReportSchemas {
    compiled: boon::Schemas,
    by_function: BTreeMap<String, (String, boon::SchemaIndex)>,
}

impl ReportSchemas {
    /// The schemas as published under `schemas/`, read and compiled once per test process.
    pub fn published() -> &'static ReportSchemas {
        static PUBLISHED: OnceLock<Result<ReportSchemas, String>> = OnceLock::new();
        let loaded = PUBLISHED.get_or_init(|| {
            let mut documents = Vec::new();
            for function in FunctionKind::ALL {
                let file_name = schema_file_name(function);
                let path = repo_root().join("schemas").join(&file_name);
                let text = std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
                let schema: Value = serde_json::from_str(&text)
                    .map_err(|error| format!("{} is not JSON: {error}", path.display()))?;
                documents.push((
                    function.as_str().to_owned(),
                    format!("schemas/{file_name}"),
                    schema,
                ));
            }
            ReportSchemas::compile(documents)
        });
        match loaded {
            Ok(schemas) => schemas,
            Err(error) => panic!("the published report schemas do not load: {error}"),
        }
    }

    /// Compiles `(function, file name, schema)` triples; the file name only labels errors.
    pub fn compile(
        documents: impl IntoIterator<Item = (String, String, Value)>,
    ) -> Result<ReportSchemas, String> {
        let mut compiler = boon::Compiler::new();
        // `date-time` and the other standard formats are checked too, not only annotations.
        compiler.enable_format_assertions();
        let mut compiled = boon::Schemas::new();
        let mut by_function = BTreeMap::new();
        for (function, file_name, schema) in documents {
            // An absolute URL that nothing loads: the schema is handed over in memory.
            let url = format!("urn:ptc-ops:{file_name}");
            compiler
                .add_resource(&url, schema)
                .map_err(|error| format!("{file_name}: {error:#}"))?;
            let index = compiler
                .compile(&url, &mut compiled)
                .map_err(|error| format!("{file_name} is not a valid JSON Schema: {error:#}"))?;
            by_function.insert(function, (file_name, index));
        }
        Ok(ReportSchemas {
            compiled,
            by_function,
        })
    }

    /// Whether `report` matches the schema of the function it names in `function`; the error
    /// names the schema file and each failing location.
    pub fn check(&self, report: &Value) -> Result<(), String> {
        let function = report["function"].as_str().ok_or_else(|| {
            format!(
                "a report names its function in a `function` string, found {}",
                report["function"]
            )
        })?;
        let (file_name, index) = self.by_function.get(function).ok_or_else(|| {
            format!(
                "no report schema for function `{function}` (expected one of {:?})",
                self.by_function.keys().collect::<Vec<_>>()
            )
        })?;
        self.compiled.validate(report, *index).map_err(|error| {
            format!("the `{function}` report does not match {file_name}:\n{error:#}")
        })
    }
}

/// Whether `value` is a function's report: an object whose `function` names one of the
/// functions (`ptc doctor` and other commands print JSON of their own).
pub fn is_function_report(value: &Value) -> bool {
    FunctionKind::ALL
        .iter()
        .any(|function| value["function"] == function.as_str())
}

/// Fails the test when `report` does not match its function's published schema, printing why
/// and the report itself.
pub fn assert_matches_schema(report: &Value) {
    if let Err(problem) = ReportSchemas::published().check(report) {
        let shown = serde_json::to_string_pretty(report).unwrap_or_else(|_| report.to_string());
        panic!("{problem}\nreport: {shown}");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A report as the smallest `check-credentials` run writes it: no secret, no finding.
    fn minimal_credentials_report() -> Value {
        json!({
            "function": "check-credentials",
            "dry_run": false,
            "summary": {},
            "findings": [],
            "secrets": {},
        })
    }

    #[test]
    fn a_report_as_written_matches_its_published_schema() {
        let report = minimal_credentials_report();
        assert_eq!(ReportSchemas::published().check(&report), Ok(()));
    }

    /// `edit` turns a valid report into one the schema must refuse, with `expected` in the why.
    fn check_refused(name: &str, edit: fn(&mut Value), expected: &str) {
        let mut report = minimal_credentials_report();
        edit(&mut report);
        match ReportSchemas::published().check(&report) {
            Ok(()) => panic!("{name}: the schema took {report}"),
            Err(problem) => assert!(
                problem.contains(expected),
                "{name}: expected `{expected}` in: {problem}"
            ),
        }
    }

    ptc_ops::named_cases! {
        /// Reports that break the contract are refused, naming the schema and the place.
        mod broken_reports_are_refused => check_refused;
        missing_required_field(
            |report| {
                report.as_object_mut().map(|fields| fields.remove("findings"));
            },
            "missing properties 'findings'",
        ),
        wrong_type(|report| report["dry_run"] = json!("no"), "/dry_run"),
        wrong_function_constant(
            |report| report["function"] = json!("prewarm-images"),
            "prewarm-images-report.schema.json",
        ),
        unknown_function(
            |report| report["function"] = json!("rotate-keys"),
            "no report schema for function `rotate-keys`",
        ),
        no_function(
            |report| {
                report.as_object_mut().map(|fields| fields.remove("function"));
            },
            "names its function",
        ),
        finding_without_a_severity(
            |report| {
                report["findings"] = json!([{
                    "check": "credential-age",
                    "resource": "ecr-pullthroughcache/x",
                    "title": "old",
                    "message": "old",
                }])
            },
            "missing properties 'severity'",
        ),
        severity_outside_the_enumeration(
            |report| {
                report["findings"] = json!([{
                    "severity": "fatal",
                    "check": "credential-age",
                    "resource": "ecr-pullthroughcache/x",
                    "title": "old",
                    "message": "old",
                }])
            },
            "/findings/0/severity",
        ),
    }

    #[test]
    fn a_schema_that_is_not_one_is_refused() {
        let refused = ReportSchemas::compile([(
            "harden-repository".to_owned(),
            "schemas/broken.schema.json".to_owned(),
            json!({"type": "no-such-type"}),
        )]);
        match refused {
            Ok(_) => panic!("a schema with an unknown type compiled"),
            Err(problem) => assert!(problem.contains("schemas/broken.schema.json"), "{problem}"),
        }
    }
}
