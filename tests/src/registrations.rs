//! A function is registered in many places: its crate, the workspace, the SAM template, the CDK
//! construct, the permissions, the report schemas, the CLI, the demo, the packaging script, the
//! README and the test harness. [`PLACES`] is that checklist, and [`Sources::missing`] names
//! every place a function is missing from, so adding a fifth function is a list to work
//! through rather than a hunt.
//!
//! The functions are the union of `FunctionKind::ALL` and the crates under `functions/`: a
//! crate that the enum does not know, or the reverse, is reported like any other missing
//! registration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::cloudformation;
use crate::repo_root;

/// A function's name as each place spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionName {
    /// `harden-repository`: the crate, binary, report and CLI name.
    pub kebab: String,
    /// `HardenRepository`: the template's logical ids and the CLI's enum variant.
    pub pascal: String,
    /// `harden_repository`: the crate as Rust code names it.
    pub snake: String,
}

impl FunctionName {
    pub fn new(kebab: &str) -> FunctionName {
        let pascal = kebab
            .split('-')
            .map(|word| {
                let mut letters = word.chars();
                letters
                    .next()
                    .map(|first| first.to_uppercase().chain(letters).collect::<String>())
                    .unwrap_or_default()
            })
            .collect();
        FunctionName {
            kebab: kebab.to_owned(),
            pascal,
            snake: kebab.replace('-', "_"),
        }
    }
}

/// The files the places are read from, as text or parsed (a test edits them in memory).
#[derive(Debug, Clone)]
pub struct Sources {
    /// `FunctionKind::ALL`, by name.
    pub function_kinds: Vec<String>,
    /// Folder name → `functions/<folder>/Cargo.toml` (empty when the folder has none).
    pub function_crates: BTreeMap<String, String>,
    /// `Cargo.toml`.
    pub workspace_manifest: String,
    /// `infra/template.yaml`, as JSON with the short tags in their long form.
    pub template: Value,
    /// `infra/cdk/lib/ecr-ptc-ops.ts`.
    pub cdk_construct: String,
    /// `infra/cdk/permissions.json` (what `ptc permissions --json` prints; a CLI test keeps
    /// the two equal).
    pub permissions: Value,
    /// File names under `schemas/`.
    pub schema_files: BTreeSet<String>,
    /// `Makefile`.
    pub makefile: String,
    /// `cli/src/args.rs`.
    pub cli_args: String,
    /// `tests/src/bin/demo.rs`.
    pub demo: String,
    /// `scripts/package.sh`.
    pub package_script: String,
    /// `README.md`.
    pub readme: String,
    /// `tests/Cargo.toml`.
    pub tests_manifest: String,
    /// `tests/src/invoke.rs`.
    pub invoke_wrappers: String,
    /// `tests/tests/integration/infra.rs`.
    pub template_tests: String,
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path))
        .unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

impl Sources {
    /// The repository's files as they are.
    pub fn load() -> Sources {
        let root = repo_root();
        let mut function_crates = BTreeMap::new();
        let folders = std::fs::read_dir(root.join("functions"))
            .unwrap_or_else(|error| panic!("cannot list functions/: {error}"));
        for folder in folders.flatten() {
            if folder.path().is_dir() {
                let name = folder.file_name().to_string_lossy().into_owned();
                let manifest =
                    std::fs::read_to_string(folder.path().join("Cargo.toml")).unwrap_or_default();
                function_crates.insert(name, manifest);
            }
        }
        let schema_files = std::fs::read_dir(root.join("schemas"))
            .unwrap_or_else(|error| panic!("cannot list schemas/: {error}"))
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        let permissions = serde_json::from_str(&read(&root, "infra/cdk/permissions.json"))
            .unwrap_or_else(|error| panic!("infra/cdk/permissions.json is not JSON: {error}"));
        Sources {
            function_kinds: ptc_ops::events::FunctionKind::ALL
                .iter()
                .map(|function| function.as_str().to_owned())
                .collect(),
            function_crates,
            workspace_manifest: read(&root, "Cargo.toml"),
            template: cloudformation::template(),
            cdk_construct: read(&root, "infra/cdk/lib/ecr-ptc-ops.ts"),
            permissions,
            schema_files,
            makefile: read(&root, "Makefile"),
            cli_args: read(&root, "cli/src/args.rs"),
            demo: read(&root, "tests/src/bin/demo.rs"),
            package_script: read(&root, "scripts/package.sh"),
            readme: read(&root, "README.md"),
            tests_manifest: read(&root, "tests/Cargo.toml"),
            invoke_wrappers: read(&root, "tests/src/invoke.rs"),
            template_tests: read(&root, "tests/tests/integration/infra.rs"),
        }
    }

    /// Every function: those `FunctionKind` names and those with a crate under `functions/`.
    pub fn functions(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self
            .function_kinds
            .iter()
            .chain(self.function_crates.keys())
            .collect();
        all.into_iter().cloned().collect()
    }

    /// `<function>: <place>` for each place each of `functions` is missing from, functions in
    /// the order given, places in [`PLACES`] order.
    pub fn missing(&self, functions: &[String]) -> Vec<String> {
        functions
            .iter()
            .flat_map(|function| {
                let name = FunctionName::new(function);
                PLACES
                    .iter()
                    .filter(move |place| !(place.registered)(self, &name))
                    .map(move |place| format!("{function}: {}", place.name))
            })
            .collect()
    }

    fn resource(&self, logical_id: &str) -> &Value {
        &self.template["Resources"][logical_id]
    }
}

/// One place a function must be registered, and how to tell that it is.
pub struct Place {
    /// Where, as a person adding a function would look for it.
    pub name: &'static str,
    registered: fn(&Sources, &FunctionName) -> bool,
}

/// The words between `open` (its first occurrence after `after`) and the next `close`,
/// split on whitespace, commas and quotes.
fn listed_between(text: &str, after: &str, open: &str, close: char) -> Vec<String> {
    let Some(start) = text.find(after) else {
        return Vec::new();
    };
    let rest = &text[start..];
    let Some(open_at) = rest.find(open) else {
        return Vec::new();
    };
    let rest = &rest[open_at + open.len()..];
    let list = rest.split(close).next().unwrap_or_default();
    list.split(|c: char| c.is_whitespace() || matches!(c, ',' | '\'' | '"' | '\\'))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

fn listed(words: Vec<String>, function: &FunctionName) -> bool {
    words.contains(&function.kebab)
}

/// The checklist, in the order a person adding a function would work through it.
pub const PLACES: &[Place] = &[
    Place {
        name: "its crate functions/<name>/Cargo.toml, named like the function",
        registered: |sources, function| {
            sources
                .function_crates
                .get(&function.kebab)
                .is_some_and(|manifest| {
                    manifest.contains(&format!("name = \"{}\"", function.kebab))
                })
        },
    },
    Place {
        name: "the workspace members (Cargo.toml)",
        registered: |sources, function| {
            sources
                .workspace_manifest
                .contains(&format!("\"functions/{}\"", function.kebab))
        },
    },
    Place {
        name: "FunctionKind and FunctionKind::ALL (shared/src/events.rs)",
        registered: |sources, function| sources.function_kinds.contains(&function.kebab),
    },
    Place {
        name: "SAM template: the function <Name>Function building its binary",
        registered: |sources, function| {
            let resource = sources.resource(&format!("{}Function", function.pascal));
            resource["Type"] == "AWS::Serverless::Function"
                && resource["Metadata"]["BuildProperties"]["Binary"] == function.kebab.as_str()
        },
    },
    Place {
        name: "SAM template: its role <Name>Role",
        registered: |sources, function| {
            sources.resource(&format!("{}Role", function.pascal))["Type"] == "AWS::IAM::Role"
        },
    },
    Place {
        name: "SAM template: its log group <Name>LogGroup",
        registered: |sources, function| {
            sources.resource(&format!("{}LogGroup", function.pascal))["Type"]
                == "AWS::Logs::LogGroup"
        },
    },
    Place {
        name: "SAM template: its errors alarm <Name>ErrorsAlarm on the function",
        registered: |sources, function| {
            let alarm = sources.resource(&format!("{}ErrorsAlarm", function.pascal));
            alarm["Type"] == "AWS::CloudWatch::Alarm"
                && alarm["Properties"]["Dimensions"][0]["Value"]["Ref"]
                    == format!("{}Function", function.pascal).as_str()
        },
    },
    Place {
        name: "SAM template: the dashboard's alarm and errors widgets",
        registered: |sources, function| {
            let body = &sources.resource("Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"];
            body.as_str().is_some_and(|body| {
                body.contains(&format!("${{{}ErrorsAlarm.Arn}}", function.pascal))
                    && body.contains(&format!("${{{}Function}}", function.pascal))
            })
        },
    },
    Place {
        name: "SAM template: the output <Name>FunctionName",
        registered: |sources, function| {
            sources.template["Outputs"][format!("{}FunctionName", function.pascal)]["Value"]["Ref"]
                == format!("{}Function", function.pascal).as_str()
        },
    },
    Place {
        name: "CDK construct: FUNCTION_NAMES (infra/cdk/lib/ecr-ptc-ops.ts)",
        registered: |sources, function| {
            listed(
                listed_between(&sources.cdk_construct, "FUNCTION_NAMES =", "[", ']'),
                function,
            )
        },
    },
    Place {
        name: "CDK construct: its FunctionSpec in FUNCTIONS (infra/cdk/lib/ecr-ptc-ops.ts)",
        registered: |sources, function| {
            sources.cdk_construct.contains(&format!(
                "'{}': {{\n    id: '{}',",
                function.kebab, function.pascal
            ))
        },
    },
    Place {
        name: "permissions: its role in `ptc permissions --json` (infra/cdk/permissions.json)",
        registered: |sources, function| {
            sources.permissions["roles"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|role| role["function"] == function.kebab.as_str())
        },
    },
    Place {
        name: "report schema schemas/<name>-report.schema.json",
        registered: |sources, function| {
            sources
                .schema_files
                .contains(&format!("{}-report.schema.json", function.kebab))
        },
    },
    Place {
        name: "the `make schemas` loop (Makefile)",
        registered: |sources, function| {
            listed(
                listed_between(&sources.makefile, "\nschemas:", "for function in", ';'),
                function,
            )
        },
    },
    Place {
        name: "`ptc schema`: SchemaSubject (cli/src/args.rs)",
        registered: |sources, function| {
            listed_between(&sources.cli_args, "enum SchemaSubject", "{", '}')
                .contains(&function.pascal)
        },
    },
    Place {
        name: "the demo: invoked with a sample event (tests/src/bin/demo.rs)",
        registered: |sources, function| {
            sources
                .demo
                .contains(&format!("(\"{}\", \"", function.kebab))
        },
    },
    Place {
        name: "packaging: functions=(…) in scripts/package.sh",
        registered: |sources, function| {
            listed(
                listed_between(&sources.package_script, "\nfunctions=", "(", ')'),
                function,
            )
        },
    },
    Place {
        name: "the README's function table",
        registered: |sources, function| {
            sources
                .readme
                .lines()
                .any(|line| line.starts_with(&format!("| `{}` |", function.kebab)))
        },
    },
    Place {
        name: "the test crate's dependencies (tests/Cargo.toml)",
        registered: |sources, function| {
            sources.tests_manifest.contains(&format!(
                "{} = {{ path = \"../functions/{}\" }}",
                function.kebab, function.kebab
            ))
        },
    },
    Place {
        name: "its schema-checked handler wrapper (tests/src/invoke.rs)",
        registered: |sources, function| {
            sources
                .invoke_wrappers
                .contains(&format!("pub async fn {}(", function.snake))
                && sources
                    .invoke_wrappers
                    .contains(&format!("{}::handler::handle(", function.snake))
        },
    },
    Place {
        name: "the template's permission tests: FUNCTIONS (tests/tests/integration/infra.rs)",
        registered: |sources, function| {
            sources
                .template_tests
                .contains(&format!("logical_id: \"{}Function\"", function.pascal))
        },
    },
];

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    fn sources() -> &'static Sources {
        static SOURCES: OnceLock<Sources> = OnceLock::new();
        SOURCES.get_or_init(Sources::load)
    }

    #[test]
    fn every_function_is_registered_in_every_place() {
        let sources = sources();
        let functions = sources.functions();
        assert!(
            functions.len() >= 4,
            "the functions were not found: {functions:?}"
        );
        let missing = sources.missing(&functions);
        assert!(
            missing.is_empty(),
            "a function is missing from {} place(s):\n{}",
            missing.len(),
            missing.join("\n")
        );
    }

    #[test]
    fn names_are_spelt_as_each_place_spells_them() {
        assert_eq!(
            FunctionName::new("validate-cache-rules"),
            FunctionName {
                kebab: "validate-cache-rules".to_owned(),
                pascal: "ValidateCacheRules".to_owned(),
                snake: "validate_cache_rules".to_owned(),
            }
        );
    }

    #[test]
    fn a_fifth_function_is_missing_from_every_place() {
        let missing = sources().missing(&["rotate-keys".to_owned()]);
        let expected: Vec<String> = PLACES
            .iter()
            .map(|place| format!("rotate-keys: {}", place.name))
            .collect();
        assert_eq!(missing, expected);
    }

    #[test]
    fn a_crate_under_functions_alone_is_a_function_to_register() {
        let mut sources = sources().clone();
        sources.function_crates.insert(
            "rotate-keys".to_owned(),
            "[package]\nname = \"rotate-keys\"\n".to_owned(),
        );
        assert!(sources.functions().contains(&"rotate-keys".to_owned()));
        let missing = sources.missing(&sources.functions());
        assert!(
            !missing.iter().any(|line| line.contains("its crate")),
            "{missing:?}"
        );
        assert!(
            missing.contains(
                &"rotate-keys: FunctionKind and FunctionKind::ALL (shared/src/events.rs)"
                    .to_owned()
            ),
            "{missing:?}"
        );
    }

    /// With `edit` applied to the repository's files, exactly `place` is missing for
    /// `prewarm-images`, and nothing else anywhere.
    fn check_one_missing(case: &str, edit: fn(&mut Sources), place: &str) {
        let mut sources = sources().clone();
        edit(&mut sources);
        assert_eq!(
            sources.missing(&sources.functions()),
            [format!("prewarm-images: {place}")],
            "{case}"
        );
    }

    ptc_ops::named_cases! {
        /// Taking `prewarm-images` out of one place is reported for that place alone.
        mod one_missing_registration_is_named_alone => check_one_missing;
        workspace_member(
            |sources| {
                sources.workspace_manifest =
                    sources.workspace_manifest.replace("\"functions/prewarm-images\",", "")
            },
            "the workspace members (Cargo.toml)",
        ),
        template_log_group(
            |sources| {
                sources.template["Resources"]
                    .as_object_mut()
                    .map(|resources| resources.remove("PrewarmImagesLogGroup"));
            },
            "SAM template: its log group <Name>LogGroup",
        ),
        template_errors_alarm_on_another_function(
            |sources| {
                sources.template["Resources"]["PrewarmImagesErrorsAlarm"]["Properties"]
                    ["Dimensions"][0]["Value"]["Ref"] = "CheckCredentialsFunction".into()
            },
            "SAM template: its errors alarm <Name>ErrorsAlarm on the function",
        ),
        cdk_function_names(
            |sources| {
                sources.cdk_construct =
                    sources.cdk_construct.replace(", 'prewarm-images'] as const", "] as const")
            },
            "CDK construct: FUNCTION_NAMES (infra/cdk/lib/ecr-ptc-ops.ts)",
        ),
        permissions_role(
            |sources| {
                if let Some(roles) = sources.permissions["roles"].as_array_mut() {
                    roles.retain(|role| role["function"] != "prewarm-images");
                }
            },
            "permissions: its role in `ptc permissions --json` (infra/cdk/permissions.json)",
        ),
        schema_file(
            |sources| {
                sources.schema_files.remove("prewarm-images-report.schema.json");
            },
            "report schema schemas/<name>-report.schema.json",
        ),
        make_schemas_loop(
            |sources| {
                sources.makefile = sources.makefile.replace(" prewarm-images; do", "; do")
            },
            "the `make schemas` loop (Makefile)",
        ),
        cli_report_function(
            |sources| sources.cli_args = sources.cli_args.replace("    PrewarmImages,\n", ""),
            "`ptc schema`: SchemaSubject (cli/src/args.rs)",
        ),
        demo_invocation(
            |sources| {
                sources.demo = sources
                    .demo
                    .replace("(\"prewarm-images\", \"prewarm-images.json\"),", "")
            },
            "the demo: invoked with a sample event (tests/src/bin/demo.rs)",
        ),
        package_script(
            |sources| {
                sources.package_script =
                    sources.package_script.replace(" prewarm-images)", ")")
            },
            "packaging: functions=(…) in scripts/package.sh",
        ),
        readme_table(
            |sources| sources.readme = sources.readme.replace("| `prewarm-images` |", "| pre-warm |"),
            "the README's function table",
        ),
    }
}
