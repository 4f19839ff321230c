//! `ptc schema <function>` prints the checked-in report schema, byte for byte, and refuses a
//! function that returns no report.

use std::path::PathBuf;
use std::process::Command;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

#[test]
fn prints_each_checked_in_schema() {
    for function in [
        "harden-repository",
        "validate-cache-rules",
        "check-credentials",
        "prewarm-images",
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ptc"))
            .args(["schema", function])
            .output()
            .unwrap_or_else(|error| panic!("cannot run ptc: {error}"));
        assert!(output.status.success(), "{function}: {output:?}");
        let file = schemas_dir().join(format!("{function}-report.schema.json"));
        let expected = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "{function}"
        );
        let schema: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(schema["properties"]["function"]["const"], function);
    }
}

#[test]
fn refuses_an_unknown_function() {
    let output = Command::new(env!("CARGO_BIN_EXE_ptc"))
        .args(["schema", "doctor"])
        .output()
        .unwrap_or_else(|error| panic!("cannot run ptc: {error}"));
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("harden-repository"));
}

/// `ptc schema config` and `ptc config reference` print the checked-in schema of `ptc-ops.toml`
/// and the reference generated with it, byte for byte.
#[test]
fn prints_the_configuration_schema_and_reference() {
    for (arguments, file) in [
        (["schema", "config"], "schemas/ptc-ops.toml.schema.json"),
        (["config", "reference"], "docs/configuration.md"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ptc"))
            .args(arguments)
            .output()
            .unwrap_or_else(|error| panic!("cannot run ptc: {error}"));
        assert!(output.status.success(), "{arguments:?}: {output:?}");
        let path = schemas_dir().join("..").join(file);
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "`ptc {}` differs from {file} (run `make schemas`)",
            arguments.join(" ")
        );
    }
}
