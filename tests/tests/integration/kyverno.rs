//! The Kyverno policy of `ptc rewrite --emit kyverno`, checked without a cluster: the YAML
//! parses and has the shape of a Kyverno `ClusterPolicy` with `foreach` mutate rules, and its
//! own text, evaluated the way Kyverno evaluates it (the JMESPath subset it uses, with an RE2
//! compatible regex engine, loops applied in order), rewrites each image as the product's
//! mapping does. The Kyverno CLI is not available offline here, so this evaluates the policy's
//! expressions with a small interpreter rather than with Kyverno itself.

use std::collections::BTreeMap;

use ptc_ops::cluster::kyverno::{Policy, PolicyOptions, DEFAULT_POLICY_NAME};
use ptc_ops::domain::cache_mapping::map_to_cache;
use ptc_ops::domain::image_reference::parse_reference;
use ptc_ops::domain::{CacheRule, UpstreamKind, ROOT_PREFIX};
use ptc_ops_tests::{repo_root, Rows};
use serde_json::Value as Json;
use serde_norway::Value;

const REGISTRY: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The rules of `tests/fixtures/kyverno/rules.json` (`describe-pull-through-cache-rules`).
fn fixture_rules() -> Vec<CacheRule> {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/kyverno/rules.json"))
        .expect("rules fixture");
    let document: Json = serde_json::from_str(&text).expect("rules fixture is JSON");
    document["pullThroughCacheRules"]
        .as_array()
        .expect("pullThroughCacheRules")
        .iter()
        .map(|raw| {
            let text = |key: &str| {
                raw[key]
                    .as_str()
                    .filter(|value| !value.is_empty())
                    .map(str::to_owned)
            };
            let url = text("upstreamRegistryUrl").expect("upstreamRegistryUrl");
            CacheRule {
                prefix: text("ecrRepositoryPrefix").expect("ecrRepositoryPrefix"),
                upstream: UpstreamKind::from_upstream_url(&url),
                upstream_registry_url: url,
                credential_arn: text("credentialArn"),
                custom_role_arn: text("customRoleArn"),
                upstream_repository_prefix: text("upstreamRepositoryPrefix")
                    .unwrap_or_else(|| ROOT_PREFIX.to_owned()),
                registry_id: text("registryId"),
                created_at: None,
                updated_at: None,
            }
        })
        .collect()
}

fn rule(prefix: &str, url: &str, upstream_prefix: &str, credential: bool) -> CacheRule {
    let rule = CacheRule::new(prefix, url)
        .with_upstream_prefix(upstream_prefix)
        .in_registry("111122223333");
    if credential {
        rule.with_credential(
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ecr-pullthroughcache/x",
        )
    } else {
        rule
    }
}

/// Rules that compete: an upstream prefix below a ROOT-upstream rule, an ECR prefix below
/// another, and an anonymous rule for the same upstream as an authenticated one.
fn overlapping_rules() -> Vec<CacheRule> {
    vec![
        rule("ghcr", "ghcr.io", ROOT_PREFIX, true),
        rule("flux", "ghcr.io", "fluxcd", true),
        rule("docker-hub", "registry-1.docker.io", ROOT_PREFIX, true),
        rule(
            "docker-hub/team",
            "registry-1.docker.io",
            ROOT_PREFIX,
            false,
        ),
        rule("hub-anonymous", "docker.io", ROOT_PREFIX, false),
    ]
}

fn policy_yaml(rules: &[CacheRule]) -> String {
    Policy::from_rules(
        rules,
        &PolicyOptions {
            name: DEFAULT_POLICY_NAME.to_owned(),
            registry_host: REGISTRY.to_owned(),
            rewrite_digests: false,
        },
    )
    .to_yaml()
}

fn at<'value>(value: &'value Value, path: &[&str]) -> &'value Value {
    path.iter()
        .fold(value, |value, key| match key.parse::<usize>() {
            Ok(index) => &value[index],
            Err(_) => &value[*key],
        })
}

fn text_at(value: &Value, path: &[&str]) -> String {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("no string at {path:?} in {value:?}"))
        .to_owned()
}

#[test]
fn the_policy_parses_as_a_kyverno_cluster_policy() {
    let rules = fixture_rules();
    let yaml = policy_yaml(&rules);
    let golden =
        std::fs::read_to_string(repo_root().join("tests/fixtures/kyverno/cluster-policy.yaml"))
            .expect("golden policy");
    assert!(
        yaml == golden,
        "the fixture rules no longer give tests/fixtures/kyverno/cluster-policy.yaml"
    );
    let policy: Value = serde_norway::from_str(&yaml).expect("the policy is YAML");
    assert_eq!(text_at(&policy, &["apiVersion"]), "kyverno.io/v1");
    assert_eq!(text_at(&policy, &["kind"]), "ClusterPolicy");
    assert_eq!(text_at(&policy, &["metadata", "name"]), DEFAULT_POLICY_NAME);
    assert_eq!(
        text_at(
            &policy,
            &[
                "metadata",
                "annotations",
                "pod-policies.kyverno.io/autogen-controllers"
            ]
        ),
        "none"
    );
    assert_eq!(at(&policy, &["spec", "background"]), &Value::Bool(false));
    let kyverno_rules = at(&policy, &["spec", "rules"])
        .as_sequence()
        .expect("spec.rules is a list");
    let lists: Vec<(String, String)> = kyverno_rules
        .iter()
        .map(|kyverno_rule| {
            (
                text_at(kyverno_rule, &["name"]),
                text_at(
                    kyverno_rule,
                    &["match", "any", "0", "resources", "kinds", "0"],
                ),
            )
        })
        .collect();
    assert_eq!(
        lists,
        [
            ("rewrite-containers", "Pod"),
            ("rewrite-init-containers", "Pod"),
            ("rewrite-ephemeral-containers", "Pod/ephemeralcontainers"),
        ]
        .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
    );
    for (kyverno_rule, list) in
        kyverno_rules
            .iter()
            .zip(["containers", "initContainers", "ephemeralContainers"])
    {
        let operations = at(
            kyverno_rule,
            &["match", "any", "0", "resources", "operations"],
        );
        assert_eq!(
            operations,
            &serde_norway::from_str::<Value>("[CREATE, UPDATE]").expect("yaml")
        );
        if list != "containers" {
            // Pods without init or ephemeral containers skip the rule instead of failing it.
            assert!(
                text_at(kyverno_rule, &["preconditions", "all", "0", "key"])
                    .contains(&format!("request.object.spec.{list}[]")),
                "{kyverno_rule:?}"
            );
        }
        let loops = at(kyverno_rule, &["mutate", "foreach"])
            .as_sequence()
            .expect("mutate.foreach is a list");
        assert_eq!(loops.len(), rules.len(), "one loop per rule");
        for entry in loops {
            assert_eq!(
                text_at(entry, &["list"]),
                format!("request.object.spec.{list}")
            );
            assert_eq!(text_at(entry, &["context", "0", "name"]), "ptcImage");
            assert!(
                text_at(entry, &["context", "0", "variable", "jmesPath"]).contains("element.image")
            );
            let key = text_at(entry, &["preconditions", "all", "0", "key"]);
            assert!(key.starts_with("{{ ") && key.ends_with(" }}"), "{key}");
            assert_eq!(
                text_at(entry, &["preconditions", "all", "0", "operator"]),
                "Equals"
            );
            assert_eq!(
                at(entry, &["preconditions", "all", "0", "value"]),
                &Value::Bool(true)
            );
            let patched = at(entry, &["patchStrategicMerge", "spec", list, "0"]);
            assert_eq!(text_at(patched, &["name"]), "{{ element.name }}");
            assert!(text_at(patched, &["image"]).starts_with("{{ regex_replace_all("));
        }
    }
}

/// A value of the JMESPath subset the policy uses.
#[derive(Debug, Clone, PartialEq)]
enum Jp {
    Text(String),
    Bool(bool),
}

/// Evaluates the policy's expressions: `regex_replace_all('p', x, 'r')`,
/// `regex_match('p', x)`, `!`, `&&`, parentheses, raw strings and variables.
struct Interpreter<'text> {
    text: &'text str,
    at: usize,
    variables: &'text BTreeMap<&'static str, String>,
}

impl Interpreter<'_> {
    fn evaluate(text: &str, variables: &BTreeMap<&'static str, String>) -> Jp {
        let text = text
            .trim()
            .strip_prefix("{{")
            .and_then(|inner| inner.strip_suffix("}}"))
            .unwrap_or(text)
            .trim();
        let mut interpreter = Interpreter {
            text,
            at: 0,
            variables,
        };
        let value = interpreter.and();
        interpreter.space();
        assert_eq!(interpreter.at, text.len(), "unparsed rest of `{text}`");
        value
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn space(&mut self) {
        while self.rest().starts_with(' ') {
            self.at += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.space();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) {
        assert!(self.eat(token), "expected `{token}` at `{}`", self.rest());
    }

    fn and(&mut self) -> Jp {
        let mut value = self.unary();
        while self.eat("&&") {
            let right = self.unary();
            value = Jp::Bool(truthy(&value) && truthy(&right));
        }
        value
    }

    fn unary(&mut self) -> Jp {
        if self.eat("!") {
            return Jp::Bool(!truthy(&self.unary()));
        }
        if self.eat("(") {
            let value = self.and();
            self.expect(")");
            return value;
        }
        if self.eat("'") {
            let mut raw = String::new();
            loop {
                let character = self.rest().chars().next().expect("closed raw string");
                self.at += character.len_utf8();
                match character {
                    '\'' => return Jp::Text(raw),
                    '\\' if self.rest().starts_with('\'') => {
                        raw.push('\'');
                        self.at += 1;
                    }
                    other => raw.push(other),
                }
            }
        }
        let name: String = self
            .rest()
            .chars()
            .take_while(|character| character.is_ascii_alphanumeric() || "._".contains(*character))
            .collect();
        assert!(
            !name.is_empty(),
            "expected an expression at `{}`",
            self.rest()
        );
        self.at += name.len();
        if self.eat("(") {
            let mut arguments = vec![self.and()];
            while self.eat(",") {
                arguments.push(self.and());
            }
            self.expect(")");
            return call(&name, &arguments);
        }
        Jp::Text(
            self.variables
                .get(name.as_str())
                .unwrap_or_else(|| panic!("unknown variable `{name}`"))
                .clone(),
        )
    }
}

fn truthy(value: &Jp) -> bool {
    match value {
        Jp::Bool(value) => *value,
        Jp::Text(text) => !text.is_empty(),
    }
}

fn text(value: &Jp) -> &str {
    match value {
        Jp::Text(text) => text,
        Jp::Bool(_) => panic!("expected a string, got {value:?}"),
    }
}

/// Kyverno's functions, with Go's RE2 semantics (`regexp.MatchString`, `ReplaceAllString`
/// with `${1}` expansion); Rust's `regex` crate shares that syntax and semantics.
fn call(name: &str, arguments: &[Jp]) -> Jp {
    let pattern = regex::Regex::new(text(&arguments[0]))
        .unwrap_or_else(|error| panic!("pattern {:?}: {error}", arguments[0]));
    match name {
        "regex_match" => Jp::Bool(pattern.is_match(text(&arguments[1]))),
        "regex_replace_all" => Jp::Text(
            pattern
                .replace_all(text(&arguments[1]), text(&arguments[2]))
                .into_owned(),
        ),
        other => panic!("the policy uses `{other}`, which this test does not know"),
    }
}

/// Admits a Pod whose `list` holds one container with `image`, as Kyverno applies the
/// policy's loops to it: in declaration order, each loop seeing what the earlier ones patched.
fn admit(policy: &Value, list: &str, image: &str) -> String {
    let mut image = image.to_owned();
    for kyverno_rule in at(policy, &["spec", "rules"]).as_sequence().expect("rules") {
        let loops = at(kyverno_rule, &["mutate", "foreach"])
            .as_sequence()
            .expect("foreach");
        for entry in loops {
            if text_at(entry, &["list"]) != format!("request.object.spec.{list}") {
                continue;
            }
            let mut variables = BTreeMap::from([("element.image", image.clone())]);
            let normalised = Interpreter::evaluate(
                &text_at(entry, &["context", "0", "variable", "jmesPath"]),
                &variables,
            );
            variables.insert("ptcImage", text(&normalised).to_owned());
            let key = text_at(entry, &["preconditions", "all", "0", "key"]);
            if Interpreter::evaluate(&key, &variables) == Jp::Bool(true) {
                let patched = text_at(entry, &["patchStrategicMerge", "spec", list, "0", "image"]);
                image = text(&Interpreter::evaluate(&patched, &variables)).to_owned();
            }
        }
    }
    image
}

/// What the product's mapping says at admission: the cache URI, or `None` when it leaves the
/// image alone. A reference with a digest stays upstream: nothing pulls its tag first.
fn product_mapping(rules: &[CacheRule], image: &str) -> Option<String> {
    let reference = parse_reference(image).ok()?;
    if reference.digest.is_some() {
        return None;
    }
    map_to_cache(&reference, rules)
        .ok()
        .map(|target| target.uri(REGISTRY))
}

/// `a` and `b` name the same image (`:latest` is what no tag means).
fn same_image(a: &str, b: &str) -> bool {
    match (parse_reference(a), parse_reference(b)) {
        (Ok(a), Ok(b)) => {
            a.registry == b.registry && a.path == b.path && a.tag == b.tag && a.digest == b.digest
        }
        _ => a == b,
    }
}

#[test]
fn the_policy_rewrites_each_image_as_the_product_maps_it() {
    let unchanged = "";
    let pinned = format!("ghcr.io/fluxcd/source-controller:v1.4.1@{DIGEST}");
    let hub_pinned = format!("nginx:1.27@{DIGEST}");
    let digest_only = format!("ghcr.io/fluxcd/source-controller@{DIGEST}");
    let hub_digest_only = format!("nginx@{DIGEST}");
    let already_cache = format!("{REGISTRY}/docker-hub/library/nginx:1.27");
    // (name, rules, image, expected cache URI below the registry or `unchanged`)
    let golden = fixture_rules();
    let overlapping = overlapping_rules();
    let cases: Vec<(&str, &[CacheRule], &str, String)> = vec![
        (
            "official image",
            &golden,
            "nginx:1.27",
            "docker-hub/library/nginx:1.27".into(),
        ),
        (
            "official image without tag",
            &golden,
            "nginx",
            "docker-hub/library/nginx".into(),
        ),
        (
            "docker.io spelled out",
            &golden,
            "docker.io/nginx:1.27",
            "docker-hub/library/nginx:1.27".into(),
        ),
        (
            "index.docker.io with library",
            &golden,
            "index.docker.io/library/nginx:1.27",
            "docker-hub/library/nginx:1.27".into(),
        ),
        (
            "registry-1.docker.io in capitals",
            &golden,
            "REGISTRY-1.DOCKER.IO/nginx:1.27",
            "docker-hub/library/nginx:1.27".into(),
        ),
        (
            "docker hub namespace",
            &golden,
            "bitnami/redis:7.4",
            "docker-hub/bitnami/redis:7.4".into(),
        ),
        (
            "docker hub namespace like a host prefix",
            &golden,
            "lo/app:1",
            "docker-hub/lo/app:1".into(),
        ),
        (
            "docker hub namespace longer than localhost",
            &golden,
            "localhostx/app:1",
            "docker-hub/localhostx/app:1".into(),
        ),
        (
            "tag that looks like a port",
            &golden,
            "localhost:5000",
            "docker-hub/library/localhost:5000".into(),
        ),
        (
            "localhost registry",
            &golden,
            "localhost/app:1",
            unchanged.into(),
        ),
        (
            "localhost registry with port",
            &golden,
            "localhost:5000/team/app:1",
            unchanged.into(),
        ),
        (
            "ghcr.io",
            &golden,
            "ghcr.io/fluxcd/source-controller:v1.4.1",
            "ghcr/fluxcd/source-controller:v1.4.1".into(),
        ),
        (
            "tag and digest pin is left alone",
            &golden,
            &pinned,
            unchanged.into(),
        ),
        (
            "docker hub tag and digest pin is left alone",
            &golden,
            &hub_pinned,
            unchanged.into(),
        ),
        (
            "docker hub with HTTPS's port",
            &golden,
            "registry-1.docker.io:443/library/nginx:1.27",
            "docker-hub/library/nginx:1.27".into(),
        ),
        (
            "docker hub official image with HTTPS's port",
            &golden,
            "registry-1.docker.io:443/nginx:1.27",
            "docker-hub/library/nginx:1.27".into(),
        ),
        (
            "ghcr.io with HTTPS's port",
            &golden,
            "ghcr.io:443/fluxcd/source-controller:v1.4.1",
            "ghcr/fluxcd/source-controller:v1.4.1".into(),
        ),
        (
            "ghcr.io with a trailing dot",
            &golden,
            "ghcr.io./fluxcd/source-controller:v1.4.1",
            "ghcr/fluxcd/source-controller:v1.4.1".into(),
        ),
        (
            "trailing dot, HTTPS's port and capitals",
            &golden,
            "GHCR.IO.:443/org/app:1",
            "ghcr/org/app:1".into(),
        ),
        (
            "another port is another registry",
            &golden,
            "ghcr.io:8443/org/app:1",
            unchanged.into(),
        ),
        (
            "a namespace with a trailing dot is no host",
            &golden,
            "bitnami./redis:7",
            unchanged.into(),
        ),
        (
            "digest only is left alone",
            &golden,
            &digest_only,
            unchanged.into(),
        ),
        (
            "docker hub digest only is left alone",
            &golden,
            &hub_digest_only,
            unchanged.into(),
        ),
        (
            "registry.k8s.io",
            &golden,
            "registry.k8s.io/pause:3.10",
            "k8s/pause:3.10".into(),
        ),
        (
            "ECR Public",
            &golden,
            "public.ecr.aws/karpenter/controller:1.0.6",
            "ecr-public/karpenter/controller:1.0.6".into(),
        ),
        (
            "ECR to ECR under the upstream prefix",
            &golden,
            "210987654321.dkr.ecr.us-east-1.amazonaws.com/base/app:v1",
            "shared/app:v1".into(),
        ),
        (
            "ECR to ECR outside the upstream prefix",
            &golden,
            "210987654321.dkr.ecr.us-east-1.amazonaws.com/other/app:v1",
            unchanged.into(),
        ),
        (
            "ROOT rule",
            &golden,
            "quay.io/prometheus/node-exporter:v1.8.2",
            "prometheus/node-exporter:v1.8.2".into(),
        ),
        (
            "ROOT rule whose repository another prefix takes",
            &golden,
            "quay.io/k8s/thing:1",
            unchanged.into(),
        ),
        (
            "ROOT rule, a repository named like another prefix",
            &golden,
            "quay.io/k8s:1",
            "k8s:1".into(),
        ),
        (
            "ROOT rule, a longer name than a prefix",
            &golden,
            "quay.io/k8s-tools/thing:1",
            "k8s-tools/thing:1".into(),
        ),
        (
            "registry without a rule",
            &golden,
            "gcr.io/distroless/static:nonroot",
            unchanged.into(),
        ),
        (
            "already the cache",
            &golden,
            &already_cache,
            unchanged.into(),
        ),
        (
            "specific upstream prefix wins",
            &overlapping,
            "ghcr.io/fluxcd/helm-controller:v1.1.0",
            "flux/helm-controller:v1.1.0".into(),
        ),
        (
            "broader rule outside the prefix",
            &overlapping,
            "ghcr.io/org/app:1",
            "ghcr/org/app:1".into(),
        ),
        (
            "authenticated rule wins for docker hub",
            &overlapping,
            "nginx:1.27",
            "docker-hub/library/nginx:1.27".into(),
        ),
        (
            "longer ECR prefix takes its repositories",
            &overlapping,
            "team/app:1",
            "docker-hub/team/team/app:1".into(),
        ),
    ];
    let mut policies = BTreeMap::new();
    let mut rows = Rows::new("kyverno rewrites");
    for (name, rules, image, expected) in cases {
        rows.check_now(name, || {
            let policy = policies.entry(rules.len()).or_insert_with(|| {
                serde_norway::from_str::<Value>(&policy_yaml(rules)).expect("YAML")
            });
            let expected = if expected.is_empty() {
                image.to_owned()
            } else {
                format!("{REGISTRY}/{expected}")
            };
            for list in ["containers", "initContainers", "ephemeralContainers"] {
                let admitted = admit(policy, list, image);
                assert_eq!(admitted, expected, "{name} ({list}): {image}");
            }
            // The same decision as the mapping the pre-warmer, `ptc rewrite` and `ptc audit` use.
            match product_mapping(rules, image) {
                Some(uri) => assert!(
                    same_image(&uri, &expected),
                    "{name}: the product maps `{image}` to `{uri}`, the policy to `{expected}`"
                ),
                None => assert_eq!(
                    expected, image,
                    "{name}: the product leaves `{image}` alone"
                ),
            }
        });
    }
    rows.assert_all_passed();
}
