//! The published schema of `ptc-ops.toml` (`schemas/ptc-ops.toml.schema.json`) takes the
//! configurations the project ships and refuses broken ones, as an editor checking the file
//! against it would. The TOML is converted to JSON first, as editors do, and validated with the
//! same validator as the reports (`boon`, JSON Schema 2020-12).

use serde_json::Value;

use crate::repo_root;

/// The published schema, compiled; the error names the file.
fn compiled() -> Result<(boon::Schemas, boon::SchemaIndex), String> {
    let file = format!("schemas/{}", ptc_ops::config::CONFIG_SCHEMA_FILE);
    let text = std::fs::read_to_string(repo_root().join(&file))
        .map_err(|error| format!("cannot read {file}: {error}"))?;
    let schema: Value =
        serde_json::from_str(&text).map_err(|error| format!("{file} is not JSON: {error}"))?;
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let url = format!("urn:ptc-ops:{file}");
    compiler
        .add_resource(&url, schema)
        .map_err(|error| format!("{file}: {error:#}"))?;
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(&url, &mut schemas)
        .map_err(|error| format!("{file} is not a valid JSON Schema: {error:#}"))?;
    Ok((schemas, index))
}

/// Whether the TOML text `config` matches the published schema; the error says where not.
pub fn check_config_against_schema(config: &str) -> Result<(), String> {
    let (schemas, index) = compiled()?;
    let table: toml::Table = config
        .parse()
        .map_err(|error| format!("not TOML: {error}"))?;
    let json = serde_json::to_value(&table).map_err(|error| format!("{error}"))?;
    schemas
        .validate(&json, index)
        .map_err(|error| format!("{error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configurations the project ships, each meant to be valid.
    const SHIPPED: &[&str] = &["infra/config/ptc-ops.toml"];

    #[test]
    fn shipped_configurations_match_the_schema() {
        for file in SHIPPED {
            let text = std::fs::read_to_string(repo_root().join(file))
                .unwrap_or_else(|error| panic!("cannot read {file}: {error}"));
            if let Err(problem) = check_config_against_schema(&text) {
                panic!("{file} does not match schemas/ptc-ops.toml.schema.json:\n{problem}");
            }
            // What the schema takes, the product takes too: the file is the one it ships.
            if let Err(error) = ptc_ops::config::Config::load(repo_root().join(file)) {
                panic!("{file} is refused by the product: {error}");
            }
        }
    }

    #[test]
    fn every_key_and_section_written_out_matches() {
        let every_section = r#"
            [alerts]
            topic_arn = "arn:aws:sns:eu-west-1:111111111111:ptc-ops-alerts"
            [hardening]
            prefixes = ["docker-hub", "ROOT"]
            creation_template_role_arn = "arn:aws:iam::111111111111:role/templates"
            registry_scan_type = "ENHANCED"
            [hardening.drift]
            ignore_callers = ["arn:aws:iam::111111111111:role/terraform"]
            [hardening.default]
            tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
            tag_mutability_exclusions = ["latest"]
            encryption = "KMS"
            kms_key = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            [hardening.profiles."docker-hub/library"]
            scan_on_push = false
            [consumers]
            accounts = ["222222222222"]
            organization_id = "o-a1b2c3d4e5"
            [consumers.prefixes]
            "222222222222" = ["docker-hub"]
        "#;
        assert_eq!(check_config_against_schema(every_section), Ok(()));
    }

    fn check_refused(name: &str, config: &str, expected: &str) {
        match check_config_against_schema(config) {
            Ok(()) => panic!("{name}: the schema took {config:?}"),
            Err(problem) => assert!(
                problem.contains(expected),
                "{name}: expected `{expected}` in: {problem}"
            ),
        }
    }

    ptc_ops::named_cases! {
        /// Mistakes an editor should underline, each named where it is.
        mod broken_configurations_are_refused => check_refused;
        unknown_key("[hardening]\nconcurency = 8\n", "concurency"),
        unknown_section("[hardenning]\n", "hardenning"),
        wrong_type("[hardening]\ndry_run = \"no\"\n", "/hardening/dry_run"),
        out_of_range("[prewarm]\nconcurrency = 65\n", "/prewarm/concurrency"),
        outside_the_choices("[alerts]\nmin_severity = \"error\"\n", "/alerts/min_severity"),
        unknown_profile_key(
            "[hardening.profiles.\"docker-hub\"]\nlifecycle = \"x.json\"\n",
            "lifecycle",
        ),
        malformed_organization_id("[consumers]\norganization_id = \"o-1\"\n", "/consumers/organization_id"),
        empty_prefixes("[hardening]\nprefixes = []\n", "/hardening/prefixes"),
    }
}
