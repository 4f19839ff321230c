//! The JSON Schema of each function's report, derived from the types the function returns, so
//! the published contract (`schemas/<function>-report.schema.json`, `ptc schema <function>`)
//! cannot drift from the code. A test fails when the checked-in files are stale
//! (`make schemas` writes them).
//!
//! Compatibility promise (docs/cli.md, "Reports for automation"): within a major version fields are only added;
//! a field is never renamed, removed or given another type, and enum values are only added.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::check_credentials::CredentialsDetails;
use crate::domain::Report;
use crate::events::FunctionKind;
use crate::harden_repository::HardenDetails;
use crate::prewarm_images::PrewarmDetails;
use crate::validate_cache_rules::ValidateDetails;

/// The schema of `function`'s report (JSON Schema 2020-12), with a title and a description.
pub fn report_schema(function: FunctionKind) -> Value {
    // A report is only ever written, so its schema describes serialization: a field skipped
    // when empty (`skip_serializing_if`) is optional, and one always written is required, even
    // when it is `null` or would have a default when read back.
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let schema = match function {
        FunctionKind::CheckCredentials => {
            generator.into_root_schema_for::<Report<CredentialsDetails>>()
        }
        FunctionKind::PrewarmImages => generator.into_root_schema_for::<Report<PrewarmDetails>>(),
        FunctionKind::ValidateCacheRules => {
            generator.into_root_schema_for::<Report<ValidateDetails>>()
        }
        FunctionKind::HardenRepository => generator.into_root_schema_for::<Report<HardenDetails>>(),
    };
    let mut value = schema.to_value();
    if let Some(field) = value.pointer_mut("/properties/function") {
        field["const"] = Value::String(function.as_str().to_owned());
    }
    if let Value::Object(fields) = &mut value {
        fields.insert(
            "title".to_owned(),
            Value::String(format!("{} report", function.as_str())),
        );
        fields.insert(
            "description".to_owned(),
            Value::String(format!(
                "What the `{}` function returns (and `ptc … --json` prints).",
                function.as_str()
            )),
        );
    }
    value
}

/// The file name of `function`'s schema under `schemas/`.
pub fn schema_file_name(function: FunctionKind) -> String {
    format!("{}-report.schema.json", function.as_str())
}

/// The schema as written to `schemas/`: pretty JSON with a final newline.
pub fn schema_text(function: FunctionKind) -> String {
    let mut text = serde_json::to_string_pretty(&report_schema(function))
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn schemas_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
    }

    #[test]
    fn checked_in_schemas_are_current() {
        let mut stale = Vec::new();
        for function in FunctionKind::ALL {
            let file_name = schema_file_name(function);
            let on_disk =
                std::fs::read_to_string(schemas_dir().join(&file_name)).unwrap_or_default();
            if on_disk != schema_text(function) {
                stale.push(format!("schemas/{file_name}"));
            }
        }
        assert!(
            stale.is_empty(),
            "stale report schemas (run `make schemas` and commit the result): {stale:?}"
        );
    }

    #[test]
    fn every_schema_names_the_common_fields() {
        for function in FunctionKind::ALL {
            let schema = report_schema(function);
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|items| items.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for field in ["function", "dry_run", "summary", "findings"] {
                assert!(
                    required.contains(&field),
                    "{}: `{field}` is not required in {schema}",
                    function.as_str()
                );
            }
        }
    }

    /// The names `required` lists in `schema` at `pointer` (an object schema).
    fn required_at(schema: &Value, pointer: &str) -> Vec<String> {
        schema
            .pointer(&format!("{pointer}/required"))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn fields_skipped_when_empty_are_optional_and_the_others_required() {
        let schema = report_schema(FunctionKind::HardenRepository);
        // `errors` and `findings` of a repository are left out when empty; a harden-repository
        // report without errors must still match.
        let entry = required_at(&schema, "/$defs/RepositoryEntry");
        assert_eq!(entry, ["repository", "outcome"], "{schema}");
        assert_eq!(
            required_at(&schema, "/$defs/Finding"),
            ["severity", "check", "resource", "title", "message"],
            "`next_steps` and `resource_arn` are left out when empty: {schema}"
        );
        // A field always written, even as `null`, is required: `role_arn` of the templates.
        let templates = required_at(&schema, "/$defs/TemplatesSection");
        assert!(templates.contains(&"role_arn".to_owned()), "{templates:?}");
    }

    #[test]
    fn typed_details_are_properties() {
        let schema = report_schema(FunctionKind::CheckCredentials);
        assert!(
            schema["properties"]["secrets"].is_object(),
            "the `secrets` section is described: {schema}"
        );
        assert_eq!(
            schema["properties"]["findings"]["type"], "array",
            "{schema}"
        );
    }
}
