//! The schema and the reference are what the code generates, and the schema says what the
//! reader does: the same keys, defaults, choices and ranges.

use std::path::{Path, PathBuf};

use serde_json::Value;
use toml::Table;

use super::*;
use crate::config::{Config, ConfigError};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn checked_in_schema_and_reference_are_current() {
    let files = [
        (
            format!("schemas/{CONFIG_SCHEMA_FILE}"),
            config_schema_text(),
        ),
        (CONFIG_REFERENCE_FILE.to_owned(), config_reference()),
    ];
    let stale: Vec<&str> = files
        .iter()
        .filter(|(file, generated)| {
            std::fs::read_to_string(repo_root().join(file)).unwrap_or_default() != *generated
        })
        .map(|(file, _)| file.as_str())
        .collect();
    assert!(
        stale.is_empty(),
        "stale, not what the configuration types generate: {stale:?}; run `make schemas` and commit the result"
    );
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new("."), "test.toml")
}

/// A TOML path (`["hardening", "profiles", "docker-hub"]`) and the object schema of its table.
struct TableSchema<'a> {
    path: Vec<String>,
    schema: &'a Value,
}

/// Every table of the file the schema describes with fixed keys, root first; a map of tables
/// (`hardening.profiles`) is represented by one entry named `docker-hub`.
fn tables(root: &Value) -> Vec<TableSchema<'_>> {
    let mut found = vec![TableSchema {
        path: Vec::new(),
        schema: root,
    }];
    let mut index = 0;
    while index < found.len() {
        let (path, schema) = (found[index].path.clone(), found[index].schema);
        for (key, property) in schema["properties"].as_object().into_iter().flatten() {
            let resolved = resolve(root, property);
            let mut child = path.clone();
            child.push(key.clone());
            if resolved.get("properties").is_some() {
                found.push(TableSchema {
                    path: child,
                    schema: resolved,
                });
            } else if let Some(entry) = resolved
                .get("additionalProperties")
                .map(|entry| resolve(root, entry))
                .filter(|entry| entry.get("properties").is_some())
            {
                child.push("docker-hub".to_owned());
                found.push(TableSchema {
                    path: child,
                    schema: entry,
                });
            }
        }
        index += 1;
    }
    found
}

/// `hardening.profiles."docker-hub"`, as a TOML table header writes it.
fn header(path: &[String]) -> String {
    path.iter()
        .map(|key| {
            if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                key.clone()
            } else {
                format!("\"{key}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A file setting `entries` in the table at `path`.
fn file_with(path: &[String], entries: &[(String, toml::Value)]) -> String {
    let mut table: Table = entries.iter().cloned().collect();
    for key in path.iter().rev() {
        table = Table::from_iter([(key.clone(), toml::Value::Table(table))]);
    }
    toml::to_string(&table).unwrap_or_else(|error| panic!("{error}"))
}

fn key_path(path: &[String], key: &str) -> String {
    let mut full = path.to_vec();
    full.push(key.to_owned());
    header(&full)
}

#[test]
fn every_table_has_the_keys_the_reader_knows() {
    let schema = config_schema();
    let tables = tables(&schema);
    assert!(tables.len() >= 10, "tables found: {}", tables.len());
    for table in tables {
        let text = file_with(
            &table.path,
            &[("zz_not_a_key".to_owned(), toml::Value::Integer(1))],
        );
        let error = parse(&text).expect_err(&text);
        let unknown = key_path(&table.path, "zz_not_a_key");
        let problem = error
            .problems()
            .iter()
            .find(|problem| problem.key_path() == unknown)
            .unwrap_or_else(|| panic!("no problem at `{unknown}` for {text:?}: {error}"));
        let expected_list = problem
            .message()
            .strip_prefix("unknown key, expected one of ")
            .unwrap_or_else(|| panic!("{problem}"));
        let mut reader_keys: Vec<&str> = expected_list
            .split(", ")
            .map(|key| key.trim_matches('`'))
            .collect();
        reader_keys.sort_unstable();
        let mut schema_keys: Vec<&str> = table.schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key.as_str())
            .collect();
        schema_keys.sort_unstable();
        assert_eq!(
            schema_keys,
            reader_keys,
            "`[{}]`: the schema's keys (left) differ from the reader's (right)",
            header(&table.path)
        );
        assert_eq!(
            table.schema["additionalProperties"],
            Value::Bool(false),
            "`[{}]` refuses unknown keys, as the reader does",
            header(&table.path)
        );
    }
}

fn json_to_toml(value: &Value) -> toml::Value {
    toml::Value::try_from(value).unwrap_or_else(|error| panic!("{value}: {error}"))
}

/// Keys another key needs to be valid: the reader checks some keys against others.
fn companions(key: &str, value: &Value) -> Vec<(String, toml::Value)> {
    let companion = match (key, value) {
        ("tag_mutability", Value::String(mode)) if mode.ends_with("_WITH_EXCLUSION") => Some((
            "tag_mutability_exclusions",
            toml::Value::Array(vec![toml::Value::String("latest".to_owned())]),
        )),
        ("tag_mutability_exclusions", Value::Array(filters)) if !filters.is_empty() => Some((
            "tag_mutability",
            toml::Value::String("MUTABLE_WITH_EXCLUSION".to_owned()),
        )),
        ("critical_days", Value::Number(_)) => Some(("warn_days", toml::Value::Integer(3650))),
        ("warn_days", Value::Number(_)) => Some(("critical_days", toml::Value::Integer(0))),
        _ => None,
    };
    companion
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// Whether the reader accepts `key = value` in the table at `path`, with its companions.
fn reader_accepts(path: &[String], key: &str, value: &Value) -> Result<(), String> {
    let mut entries = companions(key, value);
    entries.push((key.to_owned(), json_to_toml(value)));
    let text = file_with(path, &entries);
    parse(&text)
        .map(|_| ())
        .map_err(|error| format!("{text:?}: {error}"))
}

#[test]
fn the_defaults_are_the_readers() {
    let schema = config_schema();
    let mut file = Table::new();
    let mut n_defaults = 0;
    for table in tables(&schema) {
        if table.path.iter().any(|key| key == "docker-hub") {
            continue;
        }
        let mut target = &mut file;
        for key in &table.path {
            target = target
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(Table::new()))
                .as_table_mut()
                .unwrap_or_else(|| panic!("{key} is a table"));
        }
        for (key, property) in table.schema["properties"].as_object().into_iter().flatten() {
            if let Some(default) = property.get("default") {
                target.insert(key.clone(), json_to_toml(default));
                n_defaults += 1;
            }
        }
    }
    assert!(n_defaults >= 20, "defaults found: {n_defaults}");
    let text = toml::to_string(&file).unwrap_or_else(|error| panic!("{error}"));
    let written = parse(&text).unwrap_or_else(|error| panic!("{text}\n{error}"));
    let empty = parse("").unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        written, empty,
        "every default the schema states, written out, is what an empty file gets:\n{text}"
    );
}

#[test]
fn the_choices_and_ranges_are_the_readers() {
    let schema = config_schema();
    let mut n_checked = 0;
    for table in tables(&schema) {
        for (key, property) in table.schema["properties"].as_object().into_iter().flatten() {
            let property = resolve(&schema, property);
            let at = key_path(&table.path, key);
            if let Some(choices) = property.get("enum").and_then(Value::as_array) {
                for choice in choices {
                    reader_accepts(&table.path, key, choice)
                        .unwrap_or_else(|error| panic!("`{at}` = {choice}: the schema allows it, the reader refuses it: {error}"));
                }
                let outsider = Value::String("zz-not-a-choice".to_owned());
                assert!(
                    reader_accepts(&table.path, key, &outsider).is_err(),
                    "`{at}`: the reader accepts a value outside the schema's choices"
                );
                n_checked += 1;
            }
            let bounds = [
                ("minimum", -1),
                ("maximum", 1),
                ("minItems", -1),
                ("maxItems", 1),
                ("maxProperties", 1),
            ];
            for (bound, outward) in bounds {
                let Some(limit) = property.get(bound).and_then(Value::as_i64) else {
                    continue;
                };
                let (inside, outside) = if bound.ends_with("Items") {
                    (sample_list(limit), sample_list(limit + outward))
                } else if bound.ends_with("Properties") {
                    (sample_table(limit), sample_table(limit + outward))
                } else {
                    (Value::from(limit), Value::from(limit + outward))
                };
                reader_accepts(&table.path, key, &inside).unwrap_or_else(|error| {
                    panic!("`{at}` = {inside}: within the schema's {bound}, the reader refuses it: {error}")
                });
                assert!(
                    reader_accepts(&table.path, key, &outside).is_err(),
                    "`{at}` = {outside}: beyond the schema's {bound}, the reader accepts it"
                );
                n_checked += 1;
            }
        }
    }
    assert!(n_checked >= 15, "choices and bounds checked: {n_checked}");
}

/// `n` distinct entries valid for every list of the file that has a bound.
fn sample_list(n: i64) -> Value {
    Value::Array(
        (0..n.max(0))
            .map(|index| Value::String(format!("prefix-{index}")))
            .collect(),
    )
}

/// A table of `n` distinct keys, each valid as a tag.
fn sample_table(n: i64) -> Value {
    Value::Object(
        (0..n.max(0))
            .map(|index| (format!("key-{index}"), Value::String("value".to_owned())))
            .collect(),
    )
}

#[test]
fn the_reference_has_a_table_per_section_and_a_row_per_key() {
    let reference = config_reference();
    for heading in [
        "## `[alerts]`",
        "## `[hardening]`",
        "## `[hardening.drift]`",
        "## `[hardening.default]`",
        "## `[hardening.profiles.\"<prefix>\"]`",
        "## `[consumers]`",
    ] {
        assert!(reference.contains(heading), "{heading} in:\n{reference}");
    }
    for row in [
        "| `repeat_after_minutes` | integer, 0–10080 | `60` |",
        "| `creation_templates` | `manage`, `check`, `off`, `adopt` | `\"manage\"` |",
        "| `prefixes` | list of strings, at least 1 | unset |",
    ] {
        assert!(reference.contains(row), "{row} in:\n{reference}");
    }
}

#[test]
fn anchors_follow_github() {
    assert_eq!(
        anchor("Conformance: check the emulator's assumptions on your account"),
        "conformance-check-the-emulators-assumptions-on-your-account"
    );
    assert_eq!(
        anchor("Wire chat (AWS Chatbot / Amazon Q Developer in chat applications)"),
        "wire-chat-aws-chatbot--amazon-q-developer-in-chat-applications"
    );
    assert_eq!(anchor("`[hardening.drift]`"), "hardeningdrift");
}
