//! `make test` runs after `make demo`, which built every binary; the test build should add only
//! the test targets. A dev-dependency that turns on a feature of a crate the binaries also use
//! (tokio's `test-util`, say) changes that crate's build, and cargo then compiles it again for
//! the tests, with everything above it: the AWS SDKs, the library, the CLI. So no dev-dependency
//! of the workspace names features; a test that needs one is served by the normal dependency.

use std::path::Path;

/// The dev-dependencies of a `Cargo.toml` text that name features, as `section: name`.
pub fn feature_adding_dev_dependencies(manifest: &str) -> Result<Vec<String>, String> {
    let table: toml::Table =
        toml::from_str(manifest).map_err(|error| format!("not a Cargo.toml: {error}"))?;
    let mut sections: Vec<(String, &toml::Table)> = Vec::new();
    if let Some(dev) = table
        .get("dev-dependencies")
        .and_then(toml::Value::as_table)
    {
        sections.push(("dev-dependencies".to_owned(), dev));
    }
    if let Some(targets) = table.get("target").and_then(toml::Value::as_table) {
        for (target, entry) in targets {
            if let Some(dev) = entry
                .get("dev-dependencies")
                .and_then(toml::Value::as_table)
            {
                sections.push((format!("target.{target}.dev-dependencies"), dev));
            }
        }
    }
    let mut found = Vec::new();
    for (section, dependencies) in sections {
        for (name, spec) in dependencies {
            let names_features = spec
                .get("features")
                .and_then(toml::Value::as_array)
                .is_some_and(|features| !features.is_empty());
            if names_features {
                found.push(format!("{section}: {name}"));
            }
        }
    }
    Ok(found)
}

/// The `Cargo.toml` of every workspace member, as (path from the repository, text).
pub fn member_manifests(root: &Path) -> Vec<(String, String)> {
    let read = |relative: &str| {
        std::fs::read_to_string(root.join(relative))
            .unwrap_or_else(|error| panic!("cannot read {relative}: {error}"))
    };
    let workspace: toml::Table = toml::from_str(&read("Cargo.toml"))
        .unwrap_or_else(|error| panic!("the workspace Cargo.toml: {error}"));
    let members = workspace["workspace"]["members"]
        .as_array()
        .expect("workspace.members is a list");
    members
        .iter()
        .map(|member| {
            let path = format!(
                "{}/Cargo.toml",
                member.as_str().expect("a member is a path")
            );
            let text = read(&path);
            (path, text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(_case: &str, manifest: &str, expected: &[&str]) {
        assert_eq!(
            feature_adding_dev_dependencies(manifest).expect("a valid manifest"),
            expected
        );
    }

    ptc_ops::named_cases! {
        /// Which dev-dependencies name features.
        mod dev_dependencies_that_name_features => check;
        none("[package]\nname = \"a\"\n", &[]),
        plain("[dev-dependencies]\ntempfile.workspace = true\n", &[]),
        empty_feature_list("[dev-dependencies]\nx = { workspace = true, features = [] }\n", &[]),
        a_feature(
            "[dev-dependencies]\ntokio = { workspace = true, features = [\"test-util\"] }\n",
            &["dev-dependencies: tokio"],
        ),
        table_form(
            "[dev-dependencies.tokio]\nversion = \"1\"\nfeatures = [\"test-util\"]\n",
            &["dev-dependencies: tokio"],
        ),
        per_target(
            "[target.'cfg(unix)'.dev-dependencies]\nnix = { version = \"0.30\", features = [\"fs\"] }\n",
            &["target.cfg(unix).dev-dependencies: nix"],
        ),
        normal_dependencies_may(
            "[dependencies]\ntokio = { workspace = true, features = [\"net\"] }\n",
            &[],
        ),
    }

    #[test]
    fn no_dev_dependency_of_the_workspace_names_features() {
        let manifests = member_manifests(&crate::repo_root());
        assert!(manifests.len() >= 8, "every member read: {manifests:?}");
        let mut found = Vec::new();
        for (path, text) in manifests {
            let named = feature_adding_dev_dependencies(&text)
                .unwrap_or_else(|problem| panic!("{path}: {problem}"));
            found.extend(named.into_iter().map(|entry| format!("{path}: {entry}")));
        }
        assert!(
            found.is_empty(),
            "these dev-dependencies turn on features, so `cargo test` rebuilds what \
             `cargo build` built: {found:?}; turn the feature on in the normal dependency"
        );
    }
}
