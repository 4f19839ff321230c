//! Image references in the files teams keep: Kubernetes manifests, Helm values files and the
//! `spec.values` of Flux `HelmRelease`s, kustomizations, Dockerfiles, Compose files and plain
//! lists of references. Pure: text in, occurrences out, and the byte edits that rewrite them.
//!
//! Every occurrence knows its file, line and the byte span of each string it is made of, so a
//! rewrite replaces exactly those bytes and keeps comments, key order and quoting. A file kind
//! is told by its name (`Dockerfile*`, `*.Dockerfile`, `Containerfile*`) and otherwise by
//! content: YAML documents are read one by one and each is recognised by its `kind` (a pod
//! template, `List`, `HelmRelease`, `Kustomization`), by a top-level `services` (Compose), or
//! read as Helm values (any `image` key at any depth).
//!
//! - [`yaml`]: documents as trees whose scalars carry their spans.
//! - [`kubernetes`], [`values`], [`kustomize`], [`dockerfile`]: the readers.
//! - [`rewrite`]: the edits a cache URI makes, applied, and as a unified diff.

pub mod dockerfile;
pub mod kubernetes;
pub mod kustomize;
pub mod rewrite;
pub mod values;
pub mod yaml;

#[cfg(test)]
mod corpus_tests;

use std::ops::Range;

use serde::Serialize;

use yaml::{Node, Scalar};

/// Bytes of a file: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ByteSpan {
    pub start: usize,
    pub end: usize,
}

impl From<Range<usize>> for ByteSpan {
    fn from(range: Range<usize>) -> Self {
        ByteSpan {
            start: range.start,
            end: range.end,
        }
    }
}

/// What kind of place an image reference was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Container,
    InitContainer,
    EphemeralContainer,
    /// An `image` of Helm values (a values file, a `HelmRelease`'s `spec.values`, a custom
    /// resource).
    HelmValues,
    /// An entry of a kustomization's `images:`.
    Kustomize,
    /// A Dockerfile `FROM`.
    DockerfileFrom,
    /// The default of a Dockerfile `ARG` that a `FROM` uses (`FROM ${BASE}`), or a `FROM`
    /// composed of build arguments.
    DockerfileArg,
    /// A Dockerfile `COPY --from=IMAGE`.
    DockerfileCopyFrom,
    /// A Dockerfile `RUN --mount=…,from=IMAGE`.
    DockerfileMountFrom,
    /// A Compose service's `image`.
    Compose,
    /// A line of a plain list of references.
    Listed,
    /// A registry-prefix key of Helm values (`hub`, `global.imageRegistry`,
    /// `global.image.registry`): the chart puts it in front of its images; its reference is
    /// the prefix, not an image.
    RegistryPrefix,
}

/// One string of a structured image, and where it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub key: String,
    pub value: String,
    pub line: usize,
    /// `None` when the value cannot be replaced byte for byte (see `not_editable`).
    pub span: Option<ByteSpan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_editable: Option<String>,
}

impl Field {
    fn from_scalar(key: &str, scalar: &Scalar) -> Self {
        Field {
            key: key.to_owned(),
            value: scalar.value.clone(),
            line: scalar.line,
            span: scalar.span.clone().ok().map(ByteSpan::from),
            not_editable: scalar.span.clone().err(),
        }
    }
}

/// How an occurrence's reference is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "shape", rename_all = "kebab-case")]
pub enum Shape {
    /// One string holds the whole reference.
    String { field: Field },
    /// A Helm image map: `{registry, repository, tag, digest}`, or `{repository, tag}` with the
    /// registry inside `repository` (ingress-nginx-style charts name it `image`). A rewrite
    /// changes `registry` to the cache host and `repository` to the cache repository, or, with
    /// no `registry`, `repository` to `<cache host>/<cache repository>`; tag and digest stay.
    Fields {
        registry: Option<Field>,
        repository: Field,
        tag: Option<Field>,
        digest: Option<Field>,
    },
    /// A kustomization `images:` entry: the rewrite sets `newName` (adding it after `name`
    /// when missing); `newTag` and `digest` stay.
    Kustomize {
        name: Field,
        new_name: Option<Field>,
        /// A missing `newName` goes on a new line after the line where the `name` value ends
        /// (this offset), indented like the `name` key (this column).
        #[serde(skip)]
        insert_at: Option<(usize, usize)>,
    },
}

/// An image reference used in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    pub file: String,
    pub line: usize,
    pub kind: SourceKind,
    /// Where in the file: `Deployment/web container app`, `controller.image`, `FROM (stage build)`.
    pub location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The reference, as the strings compose it.
    pub reference: String,
    #[serde(flatten)]
    pub shape: Shape,
}

/// Something left alone on purpose (a Dockerfile stage, `scratch`, a build argument, a
/// templated value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub message: String,
}

/// A value whose image the file alone does not determine (a chart's `hub` key, a build
/// argument without a default, a local build): never rewritten; `--check --strict` fails on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ambiguous {
    pub file: String,
    pub line: usize,
    /// Where in the file: a key path (`pilot.image`), `FROM`, `services.web.image`.
    pub location: String,
    pub text: String,
    /// Why, and what to set instead.
    pub message: String,
}

impl Ambiguous {
    /// As a note of the file: left alone, and why.
    pub fn as_note(&self) -> Note {
        Note {
            file: self.file.clone(),
            line: self.line,
            text: self.text.clone(),
            message: format!("ambiguous, left alone: {}", self.message),
        }
    }
}

/// What the reader is told beyond the file: `--build-arg NAME=VALUE` for Dockerfiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    pub build_args: std::collections::BTreeMap<String, String>,
}

/// Something that could not be read: the file's other parts are still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// How a file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    Yaml,
    Dockerfile,
    /// One reference per line (`#` comments).
    List,
}

/// Everything found in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileScan {
    pub file: String,
    pub format: FileFormat,
    pub occurrences: Vec<Occurrence>,
    pub notes: Vec<Note>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ambiguous: Vec<Ambiguous>,
    pub problems: Vec<Problem>,
}

impl FileScan {
    /// Whether every part of the file was read: only such a file is rewritten in place.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Whether a file name is one the folder walk reads: YAML, Dockerfiles, Containerfiles.
pub fn is_manifest_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml") || is_dockerfile_name(name)
}

/// `Dockerfile`, `Dockerfile.prod`, `app.Dockerfile`, `Containerfile*`.
pub fn is_dockerfile_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("dockerfile")
        || lower.starts_with("containerfile")
        || lower.ends_with(".dockerfile")
        || lower.ends_with(".containerfile")
}

/// Reads one file: `name` is what reports call it (its path, or `-`).
pub fn scan(name: &str, text: &str) -> FileScan {
    scan_with(name, text, &ScanOptions::default())
}

/// [`scan`], told what the file alone does not say (`--build-arg`).
pub fn scan_with(name: &str, text: &str, options: &ScanOptions) -> FileScan {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut scan = FileScan {
        file: name.to_owned(),
        format: FileFormat::Yaml,
        occurrences: Vec::new(),
        notes: Vec::new(),
        ambiguous: Vec::new(),
        problems: Vec::new(),
    };
    if is_dockerfile_name(base)
        || (!base.to_ascii_lowercase().ends_with(".yaml")
            && !base.to_ascii_lowercase().ends_with(".yml")
            && dockerfile::looks_like_dockerfile(text))
    {
        scan.format = FileFormat::Dockerfile;
        dockerfile::read(text, &mut scan, options);
        return scan;
    }
    let documents = yaml::documents(text);
    let all_scalars = !documents.is_empty()
        && documents
            .iter()
            .all(|document| matches!(document.root, Ok(Some(Node::Scalar(_)))));
    if all_scalars
        || documents.iter().all(|document| document.root.is_err()) && looks_like_list(text)
    {
        scan.format = FileFormat::List;
        read_list(text, &mut scan);
        return scan;
    }
    let is_kustomization = base.to_ascii_lowercase().starts_with("kustomization.");
    for document in documents {
        match document.root {
            Ok(Some(root)) => read_document(&root, is_kustomization, text, &mut scan),
            Ok(None) => {}
            // A chart's `templates/` file: YAML only once Helm renders it. Elsewhere `{{` is
            // common in valid YAML (alert annotations, workflow parameters), so a document
            // that does not parse there is a problem like any other.
            Err(error) if document.templated && in_chart_templates(name) => scan.notes.push(Note {
                file: name.to_owned(),
                line: error.line,
                text: String::new(),
                message: "a Helm or Go template, not YAML until rendered: left alone".to_owned(),
            }),
            Err(error) => scan.problems.push(Problem {
                file: name.to_owned(),
                line: error.line,
                message: format!(
                    "not valid YAML (column {}): {}; this document is skipped",
                    error.col + 1,
                    error.message
                ),
            }),
        }
    }
    scan.occurrences.sort_by_key(|occurrence| occurrence.line);
    scan
}

/// Whether `path` lies in a `templates` folder (a Helm chart's templates).
fn in_chart_templates(path: &str) -> bool {
    std::path::Path::new(path)
        .components()
        .any(|component| component.as_os_str() == "templates")
}

fn read_document(root: &Node, is_kustomization: bool, text: &str, scan: &mut FileScan) {
    let kind = root.get("kind").and_then(Node::as_str);
    let api_version = root.get("apiVersion").and_then(Node::as_str);
    match (kind, api_version) {
        (Some("Kustomization"), Some(api)) if api.starts_with("kustomize.toolkit.fluxcd.io") => {
            kustomize::read_flux(root, scan)
        }
        (Some("Kustomization"), Some(api)) if api.starts_with("kustomize.config.k8s.io") => {
            kustomize::read(root, scan)
        }
        _ if is_kustomization && root.get("images").is_some() => kustomize::read(root, scan),
        (Some("HelmRelease"), Some(_)) => {
            if let Some(values) = root.at(&["spec", "values"]) {
                values::read_helm_values(values, "spec.values", scan, text);
            }
        }
        (Some(_), Some(_)) => kubernetes::read(root, scan),
        _ if matches!(root.get("services"), Some(Node::Map(_))) => {
            values::read(root, "", SourceKind::Compose, scan)
        }
        _ => values::read_helm_values(root, "", scan, text),
    }
}

/// A file of references, one per line, that is not YAML (a `:` in `nginx:1.27` is no key).
fn looks_like_list(text: &str) -> bool {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .all(|line| !line.contains(char::is_whitespace) && !line.ends_with(':'))
}

fn read_list(text: &str, scan: &mut FileScan) {
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let content = line.split('#').next().unwrap_or_default();
        let trimmed = content.trim();
        if !trimmed.is_empty() {
            let start = offset + content.find(trimmed).unwrap_or(0);
            scan.occurrences.push(Occurrence {
                file: scan.file.clone(),
                line: index + 1,
                kind: SourceKind::Listed,
                location: "list".to_owned(),
                namespace: None,
                workload: None,
                container: None,
                reference: trimmed.to_owned(),
                shape: Shape::String {
                    field: Field {
                        key: String::new(),
                        value: trimmed.to_owned(),
                        line: index + 1,
                        span: Some(ByteSpan {
                            start,
                            end: start + trimmed.len(),
                        }),
                        not_editable: None,
                    },
                },
            });
        }
        offset += line.len();
    }
}

/// An occurrence of one string holding the whole reference; templated values (`{{ … }}`) and
/// empty ones are noted or skipped instead.
pub(crate) fn string_occurrence(
    scan: &mut FileScan,
    scalar: &Scalar,
    kind: SourceKind,
    location: String,
) -> Option<Occurrence> {
    let value = scalar.value.trim();
    let boolean = scalar.plain
        && ["true", "false", "yes", "no", "on", "off"]
            .iter()
            .any(|word| value.eq_ignore_ascii_case(word));
    // `enableImage: true`, `image: ""`: no reference.
    if scalar.is_null || value.is_empty() || boolean {
        return None;
    }
    if value.contains("{{") || value.contains("${") {
        scan.notes.push(Note {
            file: scan.file.clone(),
            line: scalar.line,
            text: value.to_owned(),
            message: "a templated value: left alone".to_owned(),
        });
        return None;
    }
    Some(Occurrence {
        file: scan.file.clone(),
        line: scalar.line,
        kind,
        location,
        namespace: None,
        workload: None,
        container: None,
        reference: value.to_owned(),
        shape: Shape::String {
            field: Field::from_scalar("image", scalar),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    fn fixture(name: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/manifests/");
        std::fs::read_to_string(format!("{path}{name}")).expect("fixture")
    }

    /// (line, location, reference) of every occurrence.
    fn found(scan: &FileScan) -> Vec<(usize, &str, &str)> {
        scan.occurrences
            .iter()
            .map(|o| (o.line, o.location.as_str(), o.reference.as_str()))
            .collect()
    }

    /// The occurrences found in fixture `file` are `expected`, and every editable span holds exactly
    /// the value it claims.
    fn check_reader(name: &str, file: &str, expected: Vec<(usize, &str, &str)>) {
        let text = fixture(file);
        let scan = scan(file, &text);
        assert_eq!(found(&scan), expected, "{name}");
        // Every editable span holds exactly the value it claims.
        for occurrence in &scan.occurrences {
            let fields: Vec<&Field> = match &occurrence.shape {
                Shape::String { field } => vec![field],
                Shape::Fields {
                    registry,
                    repository,
                    tag,
                    digest,
                } => [
                    registry.as_ref(),
                    Some(repository),
                    tag.as_ref(),
                    digest.as_ref(),
                ]
                .into_iter()
                .flatten()
                .collect(),
                Shape::Kustomize { name, new_name, .. } => [Some(name), new_name.as_ref()]
                    .into_iter()
                    .flatten()
                    .collect(),
            };
            for field in fields {
                let span = field.span.unwrap_or_else(|| panic!("{name}: {field:?}"));
                assert_eq!(
                    &text[span.start..span.end],
                    field.value.trim_end(),
                    "{name}: {field:?}"
                );
            }
        }
    }

    named_cases! {
        /// Every reader on a real-shaped fixture finds every image (line, location, reference).
        mod readers_find_every_image => check_reader;
        bitnami_style_values_registry_repository_tag_at_any_depth(
            "bitnami-redis-values.yaml",
            vec![
                (8, "image", "docker.io/bitnami/redis:7.4.1-debian-12-r2"),
                (19, "sentinel.image", "docker.io/bitnami/redis-sentinel:7.4.1-debian-12-r1"),
                (26, "metrics.image", "docker.io/bitnami/redis-exporter:1.66.0-debian-12-r2"),
                (33, "volumePermissions.image", "docker.io/bitnami/os-shell:12-debian-12-r32"),
            ],
        ),
        ingress_nginx_style_values_registry_image_tag_digest(
            "ingress-nginx-values.yaml",
            vec![
                (
                    7,
                    "controller.image",
                    "registry.k8s.io/ingress-nginx/controller:v1.11.3@sha256:d56f135b6462cfc476447cfe564b83a45e8bb7da2774963b00d12161112270b7",
                ),
                (
                    19,
                    "controller.admissionWebhooks.patch.image",
                    "registry.k8s.io/ingress-nginx/kube-webhook-certgen@sha256:a9f03b34a3cbfbb26d103a14046ab2c5130a80c3d69d526ff8063d2b37b9fd3f",
                ),
                (26, "defaultBackend.image", "registry.k8s.io/defaultbackend-amd64:1.5"),
            ],
        ),
        deployment_and_cronjob_init_containers_every_quoting_flow_style(
            "workloads.yaml",
            vec![
                (13, "Deployment/web init container migrate", "ghcr.io/shop/migrate:v2"),
                (16, "Deployment/web container web", "nginx:1.27"),
                (20, "Deployment/web container sidecar", "quay.io/prometheus/node-exporter:v1.8.2"),
                (23, "Deployment/web container pause", "registry.k8s.io/pause:3.10"),
                (47, "CronJob/report container report", "busybox:1.36"),
                (48, "CronJob/report container tools", "docker.io/bitnami/kubectl:1.31"),
            ],
        ),
        flux_helmrelease_spec_values(
            "helmrelease.yaml",
            vec![
                (18, "spec.values.image", "docker.io/grafana/grafana:11.3.0"),
                (22, "spec.values.sidecar.image", "quay.io/kiwigrid/k8s-sidecar:1.28.0"),
                (26, "spec.values.initChownData.image", "busybox:1.36"),
                (28, "spec.values.downloadDashboardsImage", "docker.io/curlimages/curl:8.10.1"),
            ],
        ),
        kustomization_images(
            "app/kustomization.yaml",
            vec![
                (6, "images[0]", "nginx:1.27.3"),
                (8, "images[1]", "ghcr.io/shop/migrate:v2.1"),
                (11, "images[2]", "busybox@sha256:768e5c6f5cb6db0794eec98dc7a967f40631746c32232b78a3105fb946f3ab83"),
            ],
        ),
        multi_stage_dockerfile_platform_as_arg_default_stages_and_scratch_left_alone(
            "app/Dockerfile",
            vec![
                (2, "ARG GO_IMAGE (used by FROM at line 5)", "golang:1.23-bookworm"),
                (13, "FROM (stage assets)", "node:20-alpine"),
                (16, "FROM", "gcr.io/distroless/static-debian12:nonroot"),
            ],
        ),
        compose_services(
            "app/compose.yaml",
            vec![
                (3, "services.db.image", "postgres:16"),
                (7, "services.cache.image", "redis:7.4-alpine"),
            ],
        ),
        a_broken_document_does_not_hide_the_others(
            "broken.yaml",
            vec![
                (8, "Pod/first container a", "nginx:1.27"),
                (25, "Pod/third container c", "Not A Reference!"),
            ],
        ),
    }

    #[test]
    fn dockerfile_notes_and_problems() {
        let scan = scan("app/Dockerfile", &fixture("app/Dockerfile"));
        let notes: Vec<(usize, &str)> = scan
            .notes
            .iter()
            .map(|note| (note.line, note.text.as_str()))
            .collect();
        assert_eq!(notes, vec![(10, "build"), (17, "build"), (21, "scratch")]);
        // `ARG RUNTIME` has no default: what `FROM ${RUNTIME}` pulls is not in the file.
        let ambiguous: Vec<(usize, &str)> = scan
            .ambiguous
            .iter()
            .map(|ambiguous| (ambiguous.line, ambiguous.text.as_str()))
            .collect();
        assert_eq!(ambiguous, vec![(19, "${RUNTIME}")]);
        assert!(scan.ambiguous[0].message.contains("--build-arg RUNTIME="));
        assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
        assert_eq!(scan.problems[0].line, 23);
        assert!(scan.problems[0]
            .message
            .contains("expected `FROM [--platform=…] IMAGE [AS NAME]`"));
    }

    #[test]
    fn broken_yaml_is_a_problem_with_its_line() {
        let scan = scan("broken.yaml", &fixture("broken.yaml"));
        assert_eq!(scan.problems.len(), 1);
        assert!(
            (10..=17).contains(&scan.problems[0].line),
            "{:?}",
            scan.problems
        );
        assert!(scan.problems[0].message.starts_with("not valid YAML"));
        assert!(!scan.complete());
    }

    #[test]
    fn a_chart_template_is_noted_not_a_problem() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        {{- range .Values.containers }}\n        - image: {{ .image }}\n        {{- end }}\n";
        let scan = scan("templates/deployment.yaml", text);
        assert!(scan.problems.is_empty(), "{:?}", scan.problems);
        assert_eq!(scan.notes.len(), 1);
        assert!(scan.complete());
    }

    /// The occurrences (line, location, reference) and the ambiguous texts of a file.
    type Read<'a> = (Vec<(usize, &'a str, &'a str)>, Vec<&'a str>);

    /// What a Dockerfile `text` pulls (line, location, reference), and what is ambiguous in it,
    /// with `build_args` given on the command line.
    fn check_dockerfile(name: &str, text: &str, build_args: &[(&str, &str)], expected: Read<'_>) {
        let options = ScanOptions {
            build_args: build_args
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        };
        let scan = scan_with("Dockerfile", text, &options);
        assert!(scan.problems.is_empty(), "{name}: {:?}", scan.problems);
        assert_eq!(found(&scan), expected.0, "{name}");
        let ambiguous: Vec<&str> = scan.ambiguous.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(ambiguous, expected.1, "{name}: {:?}", scan.ambiguous);
        // Every editable span holds the value it claims.
        for occurrence in &scan.occurrences {
            let field = match &occurrence.shape {
                Shape::String { field } => field,
                Shape::Fields { repository, .. } => repository,
                Shape::Kustomize { name, .. } => name,
            };
            if let Some(span) = field.span {
                assert_eq!(&text[span.start..span.end], field.value, "{name}");
            }
        }
    }

    named_cases! {
        /// Build arguments are expanded as Docker does; `COPY --from` and `RUN --mount` pull too.
        mod dockerfiles_are_read_as_docker_builds_them => check_dockerfile;
        name_and_version_args(
            "ARG NAME=nginx\nARG VERSION=1.27\nFROM ${NAME}:${VERSION}\n",
            &[],
            (vec![(1, "ARG NAME (used by FROM at line 3)", "nginx:1.27")], vec![]),
        ),
        a_default_that_uses_an_earlier_arg(
            "ARG VERSION=3.20\nARG BASE=alpine:${VERSION}\nFROM $BASE\n",
            &[],
            (vec![(2, "ARG BASE (used by FROM at line 3)", "alpine:3.20")], vec![]),
        ),
        a_default_with_a_fallback(
            "ARG TAG\nFROM python:${TAG:-3.12-slim}\n",
            &[],
            (vec![(2, "FROM (build arguments `TAG`)", "python:3.12-slim")], vec![]),
        ),
        a_build_arg_overrides_the_default(
            "ARG BASE=alpine:3.20\nFROM ${BASE}\n",
            &[("BASE", "debian:12")],
            (vec![(2, "ARG BASE (used by FROM at line 2)", "debian:12")], vec![]),
        ),
        a_build_arg_gives_a_value_to_an_arg_without_default(
            "ARG RUNTIME\nFROM ${RUNTIME}\n",
            &[("RUNTIME", "gcr.io/distroless/static:nonroot")],
            (vec![(2, "ARG RUNTIME (used by FROM at line 2)", "gcr.io/distroless/static:nonroot")], vec![]),
        ),
        an_arg_without_default_is_ambiguous(
            "ARG RUNTIME\nFROM ${RUNTIME}\n",
            &[],
            (vec![], vec!["${RUNTIME}"]),
        ),
        an_undeclared_variable_is_ambiguous(
            "FROM ${BASE_IMAGE}\n",
            &[],
            (vec![], vec!["${BASE_IMAGE}"]),
        ),
        an_arg_after_the_first_from_does_not_apply_to_from(
            "FROM alpine:3.20\nARG LATER=nginx:1.27\nFROM ${LATER}\n",
            &[],
            (vec![(1, "FROM", "alpine:3.20")], vec!["${LATER}"]),
        ),
        a_registry_arg_and_text_compose_the_image(
            "ARG REGISTRY=docker.io\nFROM ${REGISTRY}/library/nginx:1.27\n",
            &[],
            (vec![(2, "FROM (build arguments `REGISTRY`)", "docker.io/library/nginx:1.27")], vec![]),
        ),
        an_arg_naming_a_stage_is_the_stage(
            "FROM golang:1.23 AS build\nARG STAGE=build\nFROM ${STAGE}\n",
            &[],
            (vec![(1, "FROM (stage build)", "golang:1.23")], vec!["${STAGE}"]),
        ),
        a_literal_repository_with_a_tag_from_an_arg(
            "ARG GO_VERSION=1.23\nFROM golang:${GO_VERSION}-alpine AS build\n",
            &[],
            (vec![(2, "FROM (stage build) (build arguments `GO_VERSION`)", "golang:1.23-alpine")], vec![]),
        ),
        a_stage_chosen_by_a_platform_arg(
            "FROM alpine:3.20 AS binaries-linux\nFROM alpine:3.20 AS binaries-darwin\nFROM binaries-$TARGETOS AS binaries\n",
            &[],
            (vec![(1, "FROM (stage binaries-linux)", "alpine:3.20"), (2, "FROM (stage binaries-darwin)", "alpine:3.20")], vec![]),
        ),
        an_image_chosen_by_a_platform_arg_is_ambiguous(
            "FROM tools-$TARGETARCH\n",
            &[],
            (vec![], vec!["tools-$TARGETARCH"]),
        ),
        mount_flags_on_continuation_lines(
            "FROM alpine:3.20\nRUN --mount=type=cache,target=/root/.cache \\\n    --mount=type=bind,from=ghcr.io/astral-sh/uv:0.5,source=/uv,target=/bin/uv \\\n    uv --version --mount=from=not-a-flag\n",
            &[],
            (vec![(1, "FROM", "alpine:3.20"), (3, "RUN --mount from", "ghcr.io/astral-sh/uv:0.5")], vec![]),
        ),
        copy_from_an_image(
            "FROM alpine:3.20 AS build\nCOPY --from=build /a /a\nCOPY --from=nginx:1.27 /etc/nginx /etc/nginx\nCOPY --from=0 /b /b\n",
            &[],
            (vec![(1, "FROM (stage build)", "alpine:3.20"), (3, "COPY --from", "nginx:1.27")], vec![]),
        ),
        run_mount_from_an_image(
            "FROM alpine:3.20\nRUN --mount=type=bind,from=ghcr.io/astral-sh/uv:0.5,source=/uv,target=/bin/uv uv --version\nRUN --mount=type=cache,target=/root/.cache true\n",
            &[],
            (vec![(1, "FROM", "alpine:3.20"), (2, "RUN --mount from", "ghcr.io/astral-sh/uv:0.5")], vec![]),
        ),
    }

    /// The occurrences (line, location, reference) and the ambiguous entries (location, start
    /// of the message) of a values file.
    type ValuesRead<'a> = (Vec<(usize, &'a str, &'a str)>, Vec<(&'a str, &'a str)>);

    /// What values `text` (file `file`) pull: (line, location, reference) of the occurrences,
    /// and (location, start of the message) of what is ambiguous.
    fn check_values(name: &str, file: &str, text: &str, expected: ValuesRead<'_>) {
        let scan = scan(file, text);
        assert!(scan.problems.is_empty(), "{name}: {:?}", scan.problems);
        assert_eq!(found(&scan), expected.0, "{name}");
        let ambiguous: Vec<(&str, &str)> = scan
            .ambiguous
            .iter()
            .map(|ambiguous| (ambiguous.location.as_str(), ambiguous.message.as_str()))
            .collect();
        assert_eq!(ambiguous.len(), expected.1.len(), "{name}: {ambiguous:?}");
        for ((location, message), (want_location, want_start)) in ambiguous.iter().zip(&expected.1)
        {
            assert_eq!(location, want_location, "{name}");
            assert!(message.starts_with(want_start), "{name}: {message}");
        }
    }

    named_cases! {
        /// An image whose registry the values alone do not determine is ambiguous; registry
        /// prefixes are occurrences of their own.
        mod values_never_guess_a_registry => check_values;
        istio_style_hub_and_bare_names(
            "values.yaml",
            "hub: docker.io/istio\ntag: 1.24.0\npilot:\n  image: pilot\nproxy:\n  image: proxyv2\n",
            (
                vec![(1, "hub", "docker.io/istio")],
                vec![("pilot.image", "a bare name in values that set `hub`"), ("proxy.image", "a bare name")],
            ),
        ),
        a_global_image_registry_prefix(
            "values.yaml",
            "global:\n  image:\n    registry: registry.k8s.io\ncontroller:\n  image:\n    image: ingress-nginx/controller\n    tag: v1.11.3\n",
            (
                vec![(3, "global.image.registry", "registry.k8s.io")],
                vec![("controller.image", "the map names the repository under `controller.image.image`")],
            ),
        ),
        an_image_map_without_registry_naming_the_repository_by_image(
            "values.yaml",
            "controller:\n  image:\n    image: ingress-nginx/controller\n    tag: v1.11.3\n",
            (vec![], vec![("controller.image", "the map names the repository")]),
        ),
        a_hub_under_a_wrapped_global(
            "values.yaml",
            "_internal_defaults_do_not_set:\n  global:\n    hub: docker.io/istio\n  pilot:\n    image: pilot\n",
            (
                vec![(3, "_internal_defaults_do_not_set.global.hub", "docker.io/istio")],
                vec![("_internal_defaults_do_not_set.pilot.image", "a bare name in values that set")],
            ),
        ),
        an_image_with_a_sibling_image_tag(
            "values.yaml",
            "logstash:\n  image: grafana/logstash-output-loki\n  imageTag: 1.0.1\n",
            (vec![(2, "logstash.image", "grafana/logstash-output-loki:1.0.1")], vec![]),
        ),
        an_image_map_that_sets_only_the_tag(
            "values.yaml",
            "grafana:\n  image:\n    tag: 10.3.3\n",
            (vec![], vec![("grafana.image", "the map sets only the tag")]),
        ),
        an_image_map_named_after_what_it_runs(
            "values.yaml",
            "redis:\n  enabled: false\n  repository: docker.io/redis\n  tag: 8.8.0\nchart:\n  repository: https://charts.example.com\n  tag: 1.0.0\n",
            (vec![(3, "redis", "docker.io/redis:8.8.0")], vec![]),
        ),
        a_commented_out_registry(
            "values.yaml",
            "image:\n  # registry: quay.io\n  repository: prometheus/node-exporter\n  tag: v1.8.2\n",
            (vec![], vec![("image", "its `registry` line is commented out")]),
        ),
        a_map_without_registry_beside_an_image_registry(
            "values.yaml",
            "global:\n  imageRegistry: docker.io\nimage:\n  repository: bitnami/redis\n  tag: 7.4\n",
            (
                vec![(2, "global.imageRegistry", "docker.io")],
                vec![("image", "the map has no `registry`, and the values set `global.imageRegistry`")],
            ),
        ),
        an_empty_image_registry_sets_nothing(
            "values.yaml",
            "global:\n  imageRegistry: \"\"\nimage:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: 7.4\n",
            (vec![(5, "image", "docker.io/bitnami/redis:7.4")], vec![]),
        ),
        a_plain_chart_repository_and_tag_is_read(
            "values.yaml",
            "image:\n  repository: nginx\n  tag: 1.27\n",
            (vec![(2, "image", "nginx:1.27")], vec![]),
        ),
        a_bare_name_without_any_prefix_is_docker_hub(
            "values.yaml",
            "initChownData:\n  image: busybox:1.36\n",
            (vec![(2, "initChownData.image", "busybox:1.36")], vec![]),
        ),
        a_compose_extension_field_shared_through_an_alias(
            "compose.yaml",
            "x-app-image: &app nginx:1.27\nservices:\n  web:\n    image: *app\n  worker:\n    image: *app\n",
            (vec![(1, "x-app-image", "nginx:1.27")], vec![]),
        ),
        a_compose_image_beside_build_is_a_local_build(
            "compose.yaml",
            "services:\n  app:\n    build: .\n    image: shop/app:dev\n  db:\n    image: postgres:16\n",
            (
                vec![(6, "services.db.image", "postgres:16")],
                vec![("services.app.image", "the service has `build`")],
            ),
        ),
    }

    #[test]
    fn a_closing_bracket_at_its_keys_indentation_is_read_as_other_parsers_read_it() {
        for (name, text, line) in [
            (
                "flow sequence",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: app\n    args: [\n      \"--foo\",\n\n      \"--bar\"\n    ]\n    image: nginx:1.27\n",
                13,
            ),
            (
                "flow mapping, CRLF",
                "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: x\r\n  labels: {\r\n    app: x\r\n  }\r\nspec:\r\n  containers:\r\n  - image: nginx:1.27\r\n    name: app\r\n",
                10,
            ),
        ] {
            let found = scan("pod.yaml", text);
            assert!(found.problems.is_empty(), "{name}: {:?}", found.problems);
            assert_eq!(
                super::tests::found(&found),
                vec![(line, "Pod/x container app", "nginx:1.27")],
                "{name}"
            );
            let edits = rewrite::edits_for(
                &found.occurrences[0],
                "h.example/docker-hub/library/nginx:1.27",
                text,
            )
            .expect("editable");
            let rewritten = rewrite::apply(text, &edits).expect("applies");
            assert_eq!(
                rewritten,
                text.replace("image: nginx:1.27", "image: h.example/docker-hub/library/nginx:1.27"),
                "{name}: only the image changes"
            );
        }
        // Still refused when it is really broken.
        assert!(!scan("pod.yaml", "a: [\n  b: c\n]\nd: [\n")
            .problems
            .is_empty());
    }

    #[test]
    fn a_flux_kustomization_spec_images_are_read_and_rewritten_with_new_name() {
        let text = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\nspec:\n  path: ./apps\n  images:\n    - name: nginx\n      newTag: 1.27.3\n";
        let flux = scan("apps.yaml", text);
        assert_eq!(found(&flux), vec![(8, "spec.images[0]", "nginx:1.27.3")]);
        let edits = rewrite::edits_for(
            &flux.occurrences[0],
            "h.example/docker-hub/library/nginx:1.27.3",
            text,
        )
        .expect("editable");
        assert_eq!(
            rewrite::apply(text, &edits).expect("applies"),
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\nspec:\n  path: ./apps\n  images:\n    - name: nginx\n      newName: h.example/docker-hub/library/nginx\n      newTag: 1.27.3\n"
        );
    }

    #[test]
    fn a_registry_prefix_is_probed_and_rewritten_as_a_prefix() {
        let probe = rewrite::prefix_probe("docker.io/istio/");
        assert_eq!(
            probe,
            "docker.io/istio/ptc-prefix-probe/ptc-prefix-probe:probe"
        );
        assert_eq!(
            rewrite::prefix_from_probe(
                "h.example/docker-hub/istio/ptc-prefix-probe/ptc-prefix-probe:probe"
            ),
            Some("h.example/docker-hub/istio")
        );
        assert_eq!(
            rewrite::prefix_from_probe("h.example/docker-hub/library/x:probe"),
            None
        );
        let text = "hub: docker.io/istio\npilot:\n  image: pilot\n";
        let found = scan("values.yaml", text);
        let edits = rewrite::prefix_edit(&found.occurrences[0], "h.example/docker-hub/istio")
            .expect("editable");
        assert_eq!(
            rewrite::apply(text, &edits).expect("applies"),
            "hub: h.example/docker-hub/istio\npilot:\n  image: pilot\n"
        );
    }

    #[test]
    fn an_arg_used_by_two_froms_is_rewritten_once() {
        let text = "ARG BASE=alpine\nFROM ${BASE}:3.20 AS build\nFROM ${BASE}:3.21\n";
        let found = scan("Dockerfile", text);
        assert_eq!(found.occurrences.len(), 2, "{:?}", found.occurrences);
        let edits: Vec<rewrite::Edit> = found
            .occurrences
            .iter()
            .flat_map(|occurrence| {
                rewrite::edits_for(
                    occurrence,
                    "111122223333.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/alpine:3.20",
                    text,
                )
                .expect("editable")
            })
            .collect();
        assert_eq!(
            rewrite::apply(text, &edits).expect("applies"),
            "ARG BASE=111122223333.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/alpine\nFROM ${BASE}:3.20 AS build\nFROM ${BASE}:3.21\n"
        );
    }

    #[test]
    fn a_composed_image_is_read_but_not_rewritten() {
        let text = "ARG REGISTRY=docker.io\nFROM ${REGISTRY}/library/nginx:1.27\n";
        let found = scan("Dockerfile", text);
        let error = rewrite::edits_for(
            &found.occurrences[0],
            "111122223333.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/nginx:1.27",
            text,
        )
        .expect_err("not editable");
        assert!(
            error.contains("composed of the build arguments `REGISTRY`"),
            "{error}"
        );
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let text = "FROM alpine:3.20 AS build\nRUN <<EOF\nFROM nginx:1.27\necho done\nEOF\nCOPY <<-'CONF' /etc/app.conf\n\tFROM busybox:1.36\n\tCONF\nFROM build\n";
        let scan = scan("Dockerfile", text);
        let references: Vec<&str> = scan
            .occurrences
            .iter()
            .map(|occurrence| occurrence.reference.as_str())
            .collect();
        assert_eq!(references, ["alpine:3.20"], "{:?}", scan.problems);
        assert!(scan.problems.is_empty(), "{:?}", scan.problems);
    }

    /// The file `file` holding `text` is read as `format`, with `n` images found.
    fn check_format(name: &str, file: &str, text: &str, format: FileFormat, n: usize) {
        let scan = scan(file, text);
        assert_eq!(
            (scan.format, scan.occurrences.len()),
            (format, n),
            "{name}: {file}: {text:?}"
        );
    }

    named_cases! {
        /// Formats are told by the file name, or for standard input by the content.
        mod formats_by_name_and_content => check_format;
        dockerfile_with_a_suffix(
            "Dockerfile.prod",
            "FROM alpine:3.20\n",
            FileFormat::Dockerfile,
            1,
        ),
        dockerfile_extension("app.dockerfile", "FROM alpine:3.20\n", FileFormat::Dockerfile, 1),
        containerfile("Containerfile", "FROM alpine:3.20\n", FileFormat::Dockerfile, 1),
        stdin_with_a_from_line("-", "# base\nFROM alpine:3.20\n", FileFormat::Dockerfile, 1),
        stdin_list_of_images("-", "nginx:1.27\n# comment\nbusybox\n", FileFormat::List, 2),
        text_file_list("images.txt", "nginx:1.27\n", FileFormat::List, 1),
        stdin_yaml("-", "image: nginx:1.27\n", FileFormat::Yaml, 1),
        stdin_yaml_without_images("-", "useImage: true\nimage: ''\n", FileFormat::Yaml, 0),
    }

    #[test]
    fn manifest_names() {
        assert!(is_manifest_name("values.yml"));
        assert!(is_manifest_name("Dockerfile"));
        assert!(!is_manifest_name("README.md"));
    }
}
