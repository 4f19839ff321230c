//! `ptc audit`: which images of a cluster come through the pull-through cache, which are
//! exempt, and which still go straight to their upstream (with the URI they should use). Pure.

use serde::Serialize;
use serde_json::Value;

use crate::cluster::manifests::{Occurrence, SourceKind};
use crate::domain::cache_mapping::{cache_uri_for, map_to_cache};
use crate::domain::image_reference::{normalise_registry_host, parse_reference, ImageReference};
use crate::domain::wildcard::Wildcards;
use crate::domain::{rule_for_repository, CacheRule, ROOT_PREFIX};

/// ECR Public: pulled from AWS, neither rate-limited like Docker Hub nor a third party.
const ECR_PUBLIC: &str = "public.ecr.aws";

/// Where one container's image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum ImageSource {
    /// `<registry>/<rule prefix>/…`: served by the cache.
    ViaCache { rule_prefix: String },
    /// Points at the cache, under a rule's prefix, but not at the repository that rule makes
    /// for the upstream image (Docker Hub's `library/` left out, the upstream prefix doubled…):
    /// the first pull fails. `cache_uri` is the right one.
    Broken {
        rule_prefix: String,
        cache_uri: String,
        reason: String,
    },
    /// ECR Public or an ECR registry that no rule has as its upstream (this one outside the
    /// rule prefixes, or another one).
    Exempt { reason: String },
    /// Pulled straight from the upstream. `cache_uri` is what it should use, when a rule serves it.
    Direct {
        cache_uri: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        no_cache_uri_because: Option<String>,
    },
    /// A digest without a tag, served (or to be served) by the cache: a first pull by digest
    /// does not populate a pull-through cache. `cache_uri` is where it would live.
    DigestOnly {
        cache_uri: Option<String>,
        reason: String,
    },
    /// Not an image reference at all.
    Invalid { error: String },
}

/// What an audit says about a digest-only reference.
pub const DIGEST_ONLY_REASON: &str =
    "a first pull by digest does not populate the cache: add the tag, or pre-warm by tag";

impl ImageSource {
    pub fn label(&self) -> &'static str {
        match self {
            ImageSource::ViaCache { .. } => "via cache",
            ImageSource::Broken { .. } => "broken",
            ImageSource::Exempt { .. } => "exempt",
            ImageSource::Direct { .. } => "direct",
            ImageSource::DigestOnly { .. } => "digest-only",
            ImageSource::Invalid { .. } => "invalid",
        }
    }

    /// Whether the image does not (or, on a first pull, cannot) come through the cache: what
    /// fails an audit unless allowed.
    pub fn bypasses_cache(&self) -> bool {
        matches!(
            self,
            ImageSource::Broken { .. }
                | ImageSource::Direct { .. }
                | ImageSource::DigestOnly { .. }
                | ImageSource::Invalid { .. }
        )
    }

    /// The URI to use instead, when there is one.
    pub fn cache_uri(&self) -> Option<&str> {
        match self {
            ImageSource::Broken { cache_uri, .. } => Some(cache_uri),
            ImageSource::Direct { cache_uri, .. } | ImageSource::DigestOnly { cache_uri, .. } => {
                cache_uri.as_deref()
            }
            _ => None,
        }
    }
}

/// Which list of a pod spec a container came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainerKind {
    Container,
    Init,
    Ephemeral,
    /// A line of a plain list of references.
    Listed,
    /// An `image` of Helm values (a values file, a `HelmRelease`, a custom resource).
    HelmValues,
    /// An entry of a kustomization's `images:`.
    Kustomize,
    /// A Dockerfile `FROM` (or the `ARG` default it uses), `COPY --from` or `RUN --mount` `from`.
    Dockerfile,
    /// A Compose service's `image`.
    Compose,
}

impl From<SourceKind> for ContainerKind {
    fn from(kind: SourceKind) -> Self {
        match kind {
            SourceKind::Container => ContainerKind::Container,
            SourceKind::InitContainer => ContainerKind::Init,
            SourceKind::EphemeralContainer => ContainerKind::Ephemeral,
            SourceKind::HelmValues | SourceKind::RegistryPrefix => ContainerKind::HelmValues,
            SourceKind::Kustomize => ContainerKind::Kustomize,
            SourceKind::DockerfileFrom
            | SourceKind::DockerfileArg
            | SourceKind::DockerfileCopyFrom
            | SourceKind::DockerfileMountFrom => ContainerKind::Dockerfile,
            SourceKind::Compose => ContainerKind::Compose,
            SourceKind::Listed => ContainerKind::Listed,
        }
    }
}

/// One container image as it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageUse {
    pub namespace: Option<String>,
    /// `Pod/name`, `Deployment/name`…
    pub workload: Option<String>,
    pub container: Option<String>,
    pub kind: ContainerKind,
    pub image: String,
    /// The file and line it is written at (`ptc audit -f`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Where in the file: `controller.image`, `FROM (stage build)`…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl From<&Occurrence> for ImageUse {
    fn from(occurrence: &Occurrence) -> Self {
        ImageUse {
            namespace: occurrence.namespace.clone(),
            workload: occurrence.workload.clone(),
            container: occurrence.container.clone(),
            kind: occurrence.kind.into(),
            image: occurrence.reference.clone(),
            file: Some(occurrence.file.clone()),
            line: Some(occurrence.line),
            location: Some(occurrence.location.clone()),
        }
    }
}

/// One image use and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditedImage {
    #[serde(flatten)]
    pub image_use: ImageUse,
    #[serde(flatten)]
    pub source: ImageSource,
    /// A direct image that matches an `--allow` pattern.
    pub allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditInputError {
    #[error("the input is JSON but not a Kubernetes object or list (expected `items` or a `spec` with containers)")]
    NotKubernetes,
    #[error("the input holds no image reference")]
    Empty,
}

/// Reads `kubectl get pods -A -o json` (a `List` of pods, a single pod, or workloads with a
/// pod template) or a plain list of references, one per line (`#` starts a comment).
pub fn read_image_uses(text: &str) -> Result<Vec<ImageUse>, AuditInputError> {
    let trimmed = text.trim_start();
    let uses = if trimmed.starts_with('{') {
        let document: Value =
            serde_json::from_str(trimmed).map_err(|_| AuditInputError::NotKubernetes)?;
        let objects: Vec<&Value> = match document.get("items").and_then(Value::as_array) {
            Some(items) => items.iter().collect(),
            None => vec![&document],
        };
        let mut uses = Vec::new();
        let mut recognised = false;
        for object in objects {
            if let Some(spec) = pod_spec(object) {
                recognised = true;
                uses.extend(containers_of(object, spec));
            }
        }
        if !recognised {
            return Err(AuditInputError::NotKubernetes);
        }
        uses
    } else {
        text.lines()
            .map(|line| line.split('#').next().unwrap_or_default().trim())
            .filter(|line| !line.is_empty())
            .map(|image| ImageUse {
                namespace: None,
                workload: None,
                container: None,
                kind: ContainerKind::Listed,
                image: image.to_owned(),
                file: None,
                line: None,
                location: None,
            })
            .collect()
    };
    if uses.is_empty() {
        return Err(AuditInputError::Empty);
    }
    Ok(uses)
}

/// The pod spec of a pod, a workload (`spec.template.spec`) or a CronJob.
fn pod_spec(object: &Value) -> Option<&Value> {
    let spec = object.get("spec")?;
    [
        Some(spec),
        spec.pointer("/template/spec"),
        spec.pointer("/jobTemplate/spec/template/spec"),
    ]
    .into_iter()
    .flatten()
    .find(|candidate| candidate.get("containers").is_some_and(Value::is_array))
}

fn containers_of(object: &Value, spec: &Value) -> Vec<ImageUse> {
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let workload = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(|name| {
            let kind = object.get("kind").and_then(Value::as_str).unwrap_or("Pod");
            format!("{kind}/{name}")
        });
    [
        ("containers", ContainerKind::Container),
        ("initContainers", ContainerKind::Init),
        ("ephemeralContainers", ContainerKind::Ephemeral),
    ]
    .into_iter()
    .flat_map(|(key, kind)| {
        spec.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(move |container| {
                Some((
                    kind,
                    container
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    container.get("image").and_then(Value::as_str)?.to_owned(),
                ))
            })
    })
    .map(|(kind, container, image)| ImageUse {
        namespace: namespace.clone(),
        workload: workload.clone(),
        container,
        kind,
        image,
        file: None,
        line: None,
        location: None,
    })
    .collect()
}

/// Classifies one image for the private registry `registry_host`
/// (`<account>.dkr.ecr.<region>.amazonaws.com`) and its pull-through cache rules.
///
/// Rules decide before registries: an ECR registry or ECR Public that some rule has as its
/// upstream is `direct` (a pull that should go through that rule), not exempt. A reference to
/// the cache is checked against the repository its rule makes for the upstream image, so
/// `docker-hub/nginx` (for `docker-hub/library/nginx`) is `broken`. A digest-only reference
/// that the cache serves or should serve is `digest-only`.
pub fn classify(image: &str, registry_host: &str, rules: &[CacheRule]) -> ImageSource {
    let reference = match parse_reference(image) {
        Ok(reference) => reference,
        Err(error) => {
            return ImageSource::Invalid {
                error: error.to_string(),
            }
        }
    };
    let source = classify_reference(&reference, registry_host, rules);
    match source {
        ImageSource::ViaCache { .. }
        | ImageSource::Broken { .. }
        | ImageSource::Direct {
            cache_uri: Some(_), ..
        } if reference.is_digest_only() => ImageSource::DigestOnly {
            cache_uri: source.cache_uri().map(str::to_owned).or_else(|| {
                (reference.registry == registry_host.to_ascii_lowercase())
                    .then(|| image.trim().to_owned())
            }),
            reason: DIGEST_ONLY_REASON.to_owned(),
        },
        source => source,
    }
}

fn classify_reference(
    reference: &ImageReference,
    registry_host: &str,
    rules: &[CacheRule],
) -> ImageSource {
    let registry_host = registry_host.to_ascii_lowercase();
    if reference.registry == registry_host {
        return match rule_for_repository(rules, &reference.path) {
            Some(rule) => match expected_in_cache(reference, rule, rules, &registry_host) {
                // Under a `ROOT` rule every repository of the registry matches the rule, private
                // ones too: a path the cache would not create (`myapp`, where Docker Hub's would
                // be `library/myapp`) is a private repository, never pointed at the upstream.
                Some((_, repository)) if repository != reference.path && rule.is_root() => {
                    ImageSource::Exempt {
                        reason: format!(
                            "a private repository of this registry (the `ROOT` rule would cache this image as `{repository}`)"
                        ),
                    }
                }
                Some((cache_uri, repository)) if repository != reference.path => {
                    ImageSource::Broken {
                        rule_prefix: rule.prefix.clone(),
                        reason: format!(
                            "rule `{}` caches this image as `{repository}`, not `{}`",
                            rule.prefix, reference.path
                        ),
                        cache_uri,
                    }
                }
                _ => ImageSource::ViaCache {
                    rule_prefix: rule.prefix.clone(),
                },
            },
            None => ImageSource::Exempt {
                reason: "a private repository of this registry".to_owned(),
            },
        };
    }
    let has_rule = rules
        .iter()
        .any(|rule| normalise_registry_host(&rule.upstream_registry_url) == reference.registry);
    match cache_uri_for(reference, rules, &registry_host) {
        Ok(uri) => ImageSource::Direct {
            cache_uri: Some(uri),
            no_cache_uri_because: None,
        },
        Err(unmapped) if reference.registry == ECR_PUBLIC => ImageSource::Exempt {
            reason: if has_rule {
                format!("ECR Public, outside the rules: {unmapped}")
            } else {
                "ECR Public".to_owned()
            },
        },
        Err(unmapped) if is_ecr_registry(&reference.registry) => ImageSource::Exempt {
            reason: if has_rule {
                format!("another ECR registry, outside the rules: {unmapped}")
            } else {
                "another ECR registry".to_owned()
            },
        },
        Err(unmapped) => ImageSource::Direct {
            cache_uri: None,
            no_cache_uri_because: Some(unmapped.to_string()),
        },
    }
}

/// The URI and repository that `rule` makes for the upstream image a cache reference names:
/// the upstream is the rule's registry, its upstream prefix and the path below the rule prefix
/// (Docker Hub normalised, so `nginx` is `library/nginx`), mapped back through the rules.
fn expected_in_cache(
    reference: &ImageReference,
    rule: &CacheRule,
    rules: &[CacheRule],
    registry_host: &str,
) -> Option<(String, String)> {
    let below = if rule.is_root() {
        reference.path.as_str()
    } else {
        reference
            .path
            .strip_prefix(&rule.prefix)?
            .strip_prefix('/')?
    };
    let upstream_path = if rule.upstream_repository_prefix == ROOT_PREFIX {
        below.to_owned()
    } else {
        format!(
            "{}/{below}",
            rule.upstream_repository_prefix.trim_end_matches('/')
        )
    };
    let mut upstream = format!(
        "{}/{upstream_path}",
        normalise_registry_host(&rule.upstream_registry_url)
    );
    if let Some(tag) = &reference.tag {
        upstream.push(':');
        upstream.push_str(tag);
    }
    if let Some(digest) = &reference.digest {
        upstream.push('@');
        upstream.push_str(digest);
    }
    let upstream = parse_reference(&upstream).ok()?;
    let target = map_to_cache(&upstream, rules).ok()?;
    Some((target.uri(registry_host), target.repository))
}

/// `<account>.dkr.ecr.<region>.amazonaws.com` (or `.com.cn`), also FIPS (`dkr.ecr-fips`).
fn is_ecr_registry(host: &str) -> bool {
    let host = host.split(':').next().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 6
        && labels[0].len() == 12
        && labels[0].bytes().all(|byte| byte.is_ascii_digit())
        && labels[1] == "dkr"
        && (labels[2] == "ecr" || labels[2] == "ecr-fips")
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
}

/// Audits every image use; an image that bypasses the cache (not an invalid one) and matches an `allow` pattern (`*` wildcards, matched
/// against the reference as written and as normalised) is marked allowed.
pub fn audit(
    uses: Vec<ImageUse>,
    registry_host: &str,
    rules: &[CacheRule],
    allow: &[String],
) -> Vec<AuditedImage> {
    uses.into_iter()
        .map(|image_use| {
            let source = classify(&image_use.image, registry_host, rules);
            let allowed = source.bypasses_cache()
                && !matches!(source, ImageSource::Invalid { .. })
                && is_allowed(&image_use.image, allow);
            AuditedImage {
                image_use,
                source,
                allowed,
            }
        })
        .collect()
}

/// Whether an `--allow` pattern (`*` wildcards) lets `image` through, matched against the
/// reference as written and as normalised.
pub fn is_allowed(image: &str, patterns: &[String]) -> bool {
    let normalised = parse_reference(image)
        .map(|reference| reference.to_string())
        .ok();
    patterns.iter().any(|pattern| {
        Wildcards::STAR.matches(pattern, image)
            || normalised
                .as_deref()
                .is_some_and(|text| Wildcards::STAR.matches(pattern, text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{UpstreamKind, ROOT_PREFIX};
    use crate::test_cases::named_cases;

    const REGISTRY: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    fn rule(prefix: &str, upstream: &str) -> CacheRule {
        CacheRule::new(prefix, upstream).in_registry("123456789012")
    }

    fn rules() -> Vec<CacheRule> {
        vec![
            rule("docker-hub", "registry-1.docker.io"),
            rule("ghcr", "ghcr.io"),
            rule("k8s", "registry.k8s.io"),
        ]
    }

    fn check(image: &str, expected: ImageSource) {
        assert_eq!(
            classify(image, REGISTRY, &rules()),
            expected,
            "image {image}"
        );
    }

    fn direct(uri: &str) -> ImageSource {
        ImageSource::Direct {
            cache_uri: Some(uri.to_owned()),
            no_cache_uri_because: None,
        }
    }

    #[test]
    fn classifies_images() {
        check(
            &format!("{REGISTRY}/docker-hub/library/nginx:1.27"),
            ImageSource::ViaCache {
                rule_prefix: "docker-hub".into(),
            },
        );
        check(
            &format!("{REGISTRY}/team/app:v3"),
            ImageSource::Exempt {
                reason: "a private repository of this registry".into(),
            },
        );
        check(
            "public.ecr.aws/karpenter/controller:1.0.6",
            ImageSource::Exempt {
                reason: "ECR Public".into(),
            },
        );
        check(
            "210987654321.dkr.ecr.us-east-1.amazonaws.com/base/python:3.12",
            ImageSource::Exempt {
                reason: "another ECR registry".into(),
            },
        );
        check(
            "nginx",
            direct(&format!("{REGISTRY}/docker-hub/library/nginx:latest")),
        );
        check(
            "docker.io/grafana/grafana:11.3.0",
            direct(&format!("{REGISTRY}/docker-hub/grafana/grafana:11.3.0")),
        );
        check(
            "ghcr.io/fluxcd/source-controller:v1.4.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            direct(&format!(
                "{REGISTRY}/ghcr/fluxcd/source-controller:v1.4.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            )),
        );
        check(
            "registry.k8s.io/pause:3.10",
            direct(&format!("{REGISTRY}/k8s/pause:3.10")),
        );
        assert!(matches!(
            classify("quay.io/prometheus/node-exporter:v1.8.2", REGISTRY, &rules()),
            ImageSource::Direct { cache_uri: None, no_cache_uri_because: Some(reason) } if reason.contains("quay.io")
        ));
        assert!(matches!(
            classify("Not A Reference!", REGISTRY, &rules()),
            ImageSource::Invalid { .. }
        ));
    }

    fn ecr_rule(prefix: &str, upstream: &str, upstream_prefix: &str) -> CacheRule {
        rule(prefix, upstream)
            .with_upstream(UpstreamKind::Ecr)
            .with_upstream_prefix(upstream_prefix)
    }

    const UPSTREAM_ECR: &str = "999999999999.dkr.ecr.eu-west-1.amazonaws.com";
    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// An ECR-to-ECR rule for every repository of the upstream registry.
    fn ecr_to_ecr_rules() -> Vec<CacheRule> {
        vec![ecr_rule("base-cache", UPSTREAM_ECR, ROOT_PREFIX)]
    }

    /// An ECR-to-ECR rule at `ROOT`.
    fn ecr_root_rules() -> Vec<CacheRule> {
        vec![ecr_rule(ROOT_PREFIX, UPSTREAM_ECR, ROOT_PREFIX)]
    }

    /// An ECR-to-ECR rule from the upstream prefix `base`.
    fn ecr_upstream_prefix_rules() -> Vec<CacheRule> {
        vec![ecr_rule("team", UPSTREAM_ECR, "base")]
    }

    /// The usual rules and one to ECR Public.
    fn with_public_rules() -> Vec<CacheRule> {
        let mut rules = rules();
        rules.push(rule("ecr-public", "public.ecr.aws"));
        rules
    }

    /// A Docker Hub rule at `ROOT`.
    fn docker_root_rules() -> Vec<CacheRule> {
        vec![rule(ROOT_PREFIX, "registry-1.docker.io")]
    }

    /// Rules decide before registries: rules, image, the label of its source and its cache URI.
    fn check_source(
        name: &str,
        rules: Vec<CacheRule>,
        image: String,
        label: &str,
        uri: Option<String>,
    ) {
        let source = classify(&image, REGISTRY, &rules);
        assert_eq!(source.label(), label, "{name}: {source:?}");
        assert_eq!(
            source.cache_uri().map(str::to_owned),
            uri,
            "{name}: {source:?}"
        );
    }

    named_cases! {
        /// Rules decide before registries: rules, image, the label of its source and its cache URI.
        mod rules_decide_before_registries => check_source;
        ecr_to_ecr_rule_the_upstream_registry_pulled_directly_is_direct(
            ecr_to_ecr_rules(),
            format!("{UPSTREAM_ECR}/base/app:v1"),
            "direct",
            Some(format!("{REGISTRY}/base-cache/base/app:v1")),
        ),
        ecr_to_ecr_root_rule(
            ecr_root_rules(),
            format!("{UPSTREAM_ECR}/base/app:v1"),
            "direct",
            Some(format!("{REGISTRY}/base/app:v1")),
        ),
        ecr_to_ecr_rule_with_an_upstream_prefix(
            ecr_upstream_prefix_rules(),
            format!("{UPSTREAM_ECR}/base/app:v1"),
            "direct",
            Some(format!("{REGISTRY}/team/app:v1")),
        ),
        ecr_upstream_outside_the_rule_s_upstream_prefix_stays_exempt(
            ecr_upstream_prefix_rules(),
            format!("{UPSTREAM_ECR}/other/app:v1"),
            "exempt",
            None,
        ),
        another_ecr_registry_without_a_rule_is_exempt(
            ecr_to_ecr_rules(),
            "210987654321.dkr.ecr.us-east-1.amazonaws.com/base/python:3.12".to_owned(),
            "exempt",
            None,
        ),
        ecr_public_with_an_ecr_public_rule_is_direct(
            with_public_rules(),
            "public.ecr.aws/karpenter/controller:1.0.6".to_owned(),
            "direct",
            Some(format!("{REGISTRY}/ecr-public/karpenter/controller:1.0.6")),
        ),
        ecr_public_without_a_rule_is_exempt(
            rules(),
            "public.ecr.aws/karpenter/controller:1.0.6".to_owned(),
            "exempt",
            None,
        ),
        cache_reference_missing_library_is_broken(
            rules(),
            format!("{REGISTRY}/docker-hub/nginx:1.27"),
            "broken",
            Some(format!("{REGISTRY}/docker-hub/library/nginx:1.27")),
        ),
        cache_reference_with_library_is_via_cache(
            rules(),
            format!("{REGISTRY}/docker-hub/library/nginx:1.27"),
            "via cache",
            None,
        ),
        // The cache never creates a one-segment repository from Docker Hub (`library/…`), so
        // under a `ROOT` rule such a path is a private repository, not a broken cache path.
        root_docker_hub_rule_a_one_segment_path_is_a_private_repository(
            docker_root_rules(),
            format!("{REGISTRY}/myapp:1"),
            "exempt",
            None,
        ),
        root_docker_hub_rule_an_organisation_s_image_is_via_cache(
            docker_root_rules(),
            format!("{REGISTRY}/bitnami/redis:7.4"),
            "via cache",
            None,
        ),
        digest_only_upstream_reference(
            rules(),
            format!("ghcr.io/fluxcd/source-controller@{DIGEST}"),
            "digest-only",
            Some(format!("{REGISTRY}/ghcr/fluxcd/source-controller@{DIGEST}")),
        ),
        digest_only_cache_reference(
            rules(),
            format!("{REGISTRY}/ghcr/fluxcd/source-controller@{DIGEST}"),
            "digest-only",
            Some(format!("{REGISTRY}/ghcr/fluxcd/source-controller@{DIGEST}")),
        ),
        tag_and_digest_is_direct_with_the_pin_kept(
            rules(),
            format!("ghcr.io/fluxcd/source-controller:v1.4.1@{DIGEST}"),
            "direct",
            Some(format!(
                "{REGISTRY}/ghcr/fluxcd/source-controller:v1.4.1@{DIGEST}"
            )),
        ),
        digest_only_without_a_rule_stays_direct_without_a_uri(
            rules(),
            format!("quay.io/org/app@{DIGEST}"),
            "direct",
            None,
        ),
        digest_only_in_a_private_repository_is_exempt(
            rules(),
            format!("{REGISTRY}/team/app@{DIGEST}"),
            "exempt",
            None,
        ),
    }

    #[test]
    fn reads_kubectl_output_and_plain_lists() {
        let pods = serde_json::json!({
            "apiVersion": "v1", "kind": "List",
            "items": [{
                "kind": "Pod",
                "metadata": {"name": "web-0", "namespace": "shop"},
                "spec": {
                    "initContainers": [{"name": "migrate", "image": "ghcr.io/shop/migrate:v2"}],
                    "containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox"}],
                    "ephemeralContainers": [{"name": "debugger", "image": "busybox:1.36"}]
                }
            }]
        });
        let uses = read_image_uses(&pods.to_string()).expect("pods read");
        let got: Vec<(ContainerKind, &str)> = uses
            .iter()
            .map(|image_use| (image_use.kind, image_use.image.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (ContainerKind::Container, "nginx:1.27"),
                (ContainerKind::Container, "busybox"),
                (ContainerKind::Init, "ghcr.io/shop/migrate:v2"),
                (ContainerKind::Ephemeral, "busybox:1.36"),
            ]
        );
        assert_eq!(uses[0].workload.as_deref(), Some("Pod/web-0"));
        assert_eq!(uses[0].namespace.as_deref(), Some("shop"));

        let deployment = serde_json::json!({"kind": "Deployment", "metadata": {"name": "api"},
            "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "quay.io/org/api:1"}]}}}});
        assert_eq!(
            read_image_uses(&deployment.to_string()).expect("workload")[0].image,
            "quay.io/org/api:1"
        );

        let list = "# system images\nnginx:1.27\n\n  registry.k8s.io/pause:3.10  # sandbox\n";
        let listed = read_image_uses(list).expect("list read");
        assert_eq!(
            listed
                .iter()
                .map(|image_use| image_use.image.as_str())
                .collect::<Vec<_>>(),
            ["nginx:1.27", "registry.k8s.io/pause:3.10"]
        );

        assert_eq!(
            read_image_uses("{\"kind\": \"Service\", \"spec\": {}}"),
            Err(AuditInputError::NotKubernetes)
        );
        assert_eq!(read_image_uses("# nothing\n"), Err(AuditInputError::Empty));
    }

    /// The allow `pattern` lets `image` through, or not.
    fn check_allow_pattern(name: &str, pattern: &str, image: &str, expected: bool) {
        assert_eq!(
            is_allowed(image, &[pattern.to_owned()]),
            expected,
            "{name}: {pattern} vs {image}"
        );
    }

    named_cases! {
        /// Allow patterns match the reference as written or as normalised.
        mod allow_patterns_match_written_or_normalised_references => check_allow_pattern;
        normalised_docker_hub_reference("docker.io/library/*", "nginx:1.27", true),
        written_reference("nginx:*", "nginx:1.27", true),
        other_registry("quay.io/*", "nginx:1.27", false),
        stars_on_both_sides("*node-exporter*", "quay.io/prometheus/node-exporter:v1.8.2", true),
        exact_text("exact", "exact", true),
        stars_matching_nothing("a*b*c", "abc", true),
        stars_keep_the_order("a*b*c", "acb", false),
    }

    #[test]
    fn allow_patterns_apply_to_the_audited_images() {
        let audited = audit(
            read_image_uses("nginx:1.27\nquay.io/prometheus/node-exporter:v1.8.2\n").expect("list"),
            REGISTRY,
            &rules(),
            &["quay.io/*".to_owned()],
        );
        assert_eq!(
            audited
                .iter()
                .map(|image| image.allowed)
                .collect::<Vec<_>>(),
            [false, true]
        );
    }
}
