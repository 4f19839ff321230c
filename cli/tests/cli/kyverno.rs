//! `ptc rewrite --emit kyverno`: the real binary, offline (`--rules-file`), against the golden
//! policy that `ptc_ops::cluster::kyverno`'s unit test also checks.

use std::process::Output;

use crate::support::Aws;

use ptc_ops_tests::repo_root;
use serde_json::Value;

const REGISTRY: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";

fn ptc(args: &[&str]) -> Output {
    let workdir = tempfile::tempdir().expect("temporary folder");
    crate::support::run(workdir.path(), args, None, Aws::Offline, &[], None)
}

fn rules_file() -> String {
    repo_root()
        .join("tests/fixtures/kyverno/rules.json")
        .display()
        .to_string()
}

#[test]
fn emits_the_golden_policy_from_a_rules_file() {
    let rules = rules_file();
    let output = ptc(&[
        "rewrite",
        "--emit",
        "kyverno",
        "--rules-file",
        &rules,
        "--registry",
        REGISTRY,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    let golden =
        std::fs::read_to_string(repo_root().join("tests/fixtures/kyverno/cluster-policy.yaml"))
            .expect("golden policy");
    assert_eq!(String::from_utf8_lossy(&output.stdout), golden);
}

#[test]
fn json_names_each_route_and_carries_the_policy() {
    let rules = rules_file();
    let output = ptc(&[
        "--json",
        "rewrite",
        "--emit",
        "kyverno",
        "--rules-file",
        &rules,
        "--registry",
        REGISTRY,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let document: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(document["registry"], REGISTRY);
    let routes: Vec<(String, String)> = document["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|route| {
            (
                route["rule_prefix"].as_str().unwrap_or_default().to_owned(),
                route["rewrites_to"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("docker-hub", "docker-hub/"),
            ("ghcr", "ghcr/"),
            ("k8s", "k8s/"),
            ("ecr-public", "ecr-public/"),
            ("shared", "shared/"),
            ("ROOT", ""),
        ]
        .map(|(prefix, below)| (prefix.to_owned(), format!("{REGISTRY}/{below}")))
    );
    assert!(document["policy_yaml"]
        .as_str()
        .unwrap_or_default()
        .contains("kind: ClusterPolicy"));
}

#[test]
fn images_and_emit_do_not_mix_and_the_registry_must_be_known() {
    let rules = rules_file();
    let both = ptc(&[
        "rewrite",
        "--emit",
        "kyverno",
        "nginx:1.27",
        "--rules-file",
        &rules,
    ]);
    assert_eq!(both.status.code(), Some(2), "{both:?}");
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));

    let no_host = ptc(&["rewrite", "--emit", "kyverno", "--rules-file", &rules]);
    assert_eq!(no_host.status.code(), Some(2), "{no_host:?}");
    assert!(
        String::from_utf8_lossy(&no_host.stderr).contains("give `--registry"),
        "{no_host:?}"
    );
}
