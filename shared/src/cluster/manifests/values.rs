//! Helm values (a values file, a `HelmRelease`'s `spec.values`, a custom resource, a Compose
//! file): every `image` key (or a key ending in `Image`) at any depth, in the shapes charts use:
//!
//! - `image: "repo:tag"` (one string);
//! - `image: {registry, repository, tag, digest}` (Bitnami-style);
//! - `image: {registry, image, tag, digest}` (ingress-nginx-style);
//! - `image: {repository, tag}` with the registry, if any, inside `repository`.
//!
//! A map holding neither `repository` nor `image` is searched further.
//!
//! Charts often put something in front of what the values say: a registry-prefix key (`hub`,
//! `imageRegistry`, `global.hub`, `global.imageRegistry`, `global.image.registry`) or a registry
//! their templates add. Such a key is an occurrence of its own (a prefix, rewritten as one), and an
//! image whose registry the file alone does not determine is `ambiguous`, never rewritten:
//!
//! - an ingress-nginx-style map (`image` names the repository) without `registry`: its chart
//!   puts one in front;
//! - a map whose `registry` line is commented out;
//! - a map without `registry`, or a bare name (`image: pilot`), in values that set a registry
//!   prefix: the chart composes `<prefix>/<name>`.
//!
//! In a Compose file, the `image` of a service that also has `build` names the image Compose
//! builds locally: ambiguous too.

use super::yaml::Node;
use super::{
    string_occurrence, Ambiguous, Field, FileScan, Note, Occurrence, Problem, Shape, SourceKind,
};

/// Keys that charts put in front of their images: by name at any depth, and `image.registry`
/// under a `global` map (at any depth too: charts wrap their defaults, `_internal_defaults.global`).
const PREFIX_KEYS: [&str; 2] = ["hub", "imageRegistry"];
const GLOBAL_IMAGE_REGISTRY: [&str; 2] = ["image", "registry"];

/// What the values say beyond one image.
#[derive(Debug, Default)]
struct Context<'t> {
    /// The file's text, to find commented-out keys.
    text: Option<&'t str>,
    /// The registry-prefix keys set to something (`global.imageRegistry`), by path.
    prefixes: Vec<String>,
}

/// Reads values without chart conventions (a custom resource's `spec`, a Compose file).
pub fn read(node: &Node, path: &str, kind: SourceKind, scan: &mut FileScan) {
    walk(node, path, kind, scan, &Context::default());
}

/// Reads Helm values (a values file, a `HelmRelease`'s `spec.values`) in `text`: registry-prefix
/// keys are occurrences, and images they (or the chart) complete are ambiguous.
pub fn read_helm_values(node: &Node, path: &str, scan: &mut FileScan, text: &str) {
    let mut context = Context {
        text: Some(text),
        prefixes: Vec::new(),
    };
    find_prefix_keys(node, path, scan, &mut context);
    walk(node, path, SourceKind::HelmValues, scan, &context);
}

/// `hub` and `imageRegistry` keys at any depth, and `global.image.registry` under any `global`.
fn find_prefix_keys(node: &Node, path: &str, scan: &mut FileScan, context: &mut Context<'_>) {
    let Node::Map(entries) = node else {
        return;
    };
    for (key_node, value) in entries {
        let Some(key) = key_node.as_str() else {
            continue;
        };
        let here = join(path, key);
        if PREFIX_KEYS.contains(&key) {
            if let Some(scalar) = value.as_scalar() {
                prefix_occurrence(scan, scalar, &here, context);
                continue;
            }
        }
        if key == "global" {
            if let Some(scalar) = value.at(&GLOBAL_IMAGE_REGISTRY).and_then(Node::as_scalar) {
                prefix_occurrence(scan, scalar, &join(&here, "image.registry"), context);
            }
        }
        find_prefix_keys(value, &here, scan, context);
    }
}

/// A registry-prefix key set to a value: an occurrence whose reference is the prefix.
fn prefix_occurrence(
    scan: &mut FileScan,
    scalar: &super::yaml::Scalar,
    path: &str,
    context: &mut Context<'_>,
) {
    let value = scalar.value.trim();
    if scalar.is_null || value.is_empty() {
        return;
    }
    context.prefixes.push(path.to_owned());
    if value.contains("{{") || value.contains("${") {
        scan.notes.push(Note {
            file: scan.file.clone(),
            line: scalar.line,
            text: value.to_owned(),
            message: "a templated value: left alone".to_owned(),
        });
        return;
    }
    scan.occurrences.push(Occurrence {
        file: scan.file.clone(),
        line: scalar.line,
        kind: SourceKind::RegistryPrefix,
        location: path.to_owned(),
        namespace: None,
        workload: None,
        container: None,
        reference: value.trim_end_matches('/').to_owned(),
        shape: Shape::String {
            field: Field::from_scalar(path.rsplit('.').next().unwrap_or(path), scalar),
        },
    });
}

fn walk(node: &Node, path: &str, kind: SourceKind, scan: &mut FileScan, context: &Context<'_>) {
    match node {
        Node::Map(entries) => {
            // A Compose service built here: its `image` is the tag of the local build.
            let built_locally = kind == SourceKind::Compose
                && path.starts_with("services.")
                && !path["services.".len()..].contains('.')
                && node.get("build").is_some();
            for (key_node, value) in entries {
                let Some(key) = key_node.as_str() else {
                    continue;
                };
                let here = join(path, key);
                if is_image_key(key) || compose_extension_image(kind, path, key, value) {
                    match value {
                        // An alias is not followed: its anchor is read (and rewritten) where it
                        // is written when that is an image value; otherwise say so rather than
                        // miss it silently.
                        Node::Alias => {
                            scan.notes.push(Note {
                                file: scan.file.clone(),
                                line: key_node.as_scalar().map_or(0, |scalar| scalar.line),
                                text: String::new(),
                                message: format!(
                                    "`{here}` is a YAML alias (`*…`): read where its anchor is written, and only if that is an image value"
                                ),
                            });
                            continue;
                        }
                        Node::Scalar(scalar) if built_locally && key == "image" => {
                            scan.ambiguous.push(Ambiguous {
                                file: scan.file.clone(),
                                line: scalar.line,
                                location: here,
                                text: scalar.value.clone(),
                                message: "the service has `build`: Compose builds this image here and tags it with this name, so it is pulled from no registry".to_owned(),
                            });
                            continue;
                        }
                        Node::Scalar(scalar) => {
                            if let Some(occurrence) = string_occurrence(scan, scalar, kind, here) {
                                let occurrence = with_sibling_tag(occurrence, node, key);
                                match completed_by_the_chart(&occurrence.reference, context) {
                                    Some(message) => scan.ambiguous.push(Ambiguous {
                                        file: scan.file.clone(),
                                        line: occurrence.line,
                                        location: occurrence.location,
                                        text: occurrence.reference,
                                        message,
                                    }),
                                    None => scan.occurrences.push(occurrence),
                                }
                            }
                            continue;
                        }
                        Node::Map(_) if structured(value, &here, kind, scan, context) => continue,
                        Node::Map(_) if kind == SourceKind::HelmValues && only_a_tag(value) => {
                            let tag = value.get("tag").and_then(Node::as_scalar);
                            scan.ambiguous.push(Ambiguous {
                                file: scan.file.clone(),
                                line: tag.map_or(0, |tag| tag.line),
                                location: here,
                                text: tag.map(|tag| tag.value.clone()).unwrap_or_default(),
                                message: "the map sets only the tag: the registry and repository are the chart's defaults, outside this file; set `repository` (and `registry`) to say which image".to_owned(),
                            });
                            continue;
                        }
                        _ => {}
                    }
                } else if kind == SourceKind::HelmValues
                    && looks_like_an_image_map(value)
                    && structured(value, &here, kind, scan, context)
                {
                    // `redis: {repository: docker.io/redis, tag: 8.8.0}`: charts name image maps
                    // after what they run, too.
                    continue;
                }
                walk(value, &here, kind, scan, context);
            }
        }
        Node::Seq(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{index}]"), kind, scan, context);
            }
        }
        _ => {}
    }
}

/// `image: grafana/logstash-output-loki` beside `imageTag: 1.0.1` (and `fooImage` beside
/// `fooImageTag`): the chart renders `<image>:<tag>`, so the tag is part of the reference.
fn with_sibling_tag(occurrence: Occurrence, parent: &Node, key: &str) -> Occurrence {
    let Shape::String { field } = &occurrence.shape else {
        return occurrence;
    };
    if !super::rewrite::tag_and_digest(field.value.trim()).is_empty() {
        return occurrence;
    }
    let Some(tag) = parent
        .get(&format!("{key}Tag"))
        .and_then(Node::as_scalar)
        .filter(|tag| !tag.is_null && !tag.value.trim().is_empty())
    else {
        return occurrence;
    };
    let tag = Field::from_scalar(&format!("{key}Tag"), tag);
    Occurrence {
        reference: format!("{}:{}", field.value.trim(), tag.value.trim()),
        shape: Shape::Fields {
            registry: None,
            repository: field.clone(),
            tag: Some(tag),
            digest: None,
        },
        ..occurrence
    }
}

/// A map under an image key that says only `tag` (a subchart's image, its tag pinned here).
fn only_a_tag(node: &Node) -> bool {
    node.get("tag").and_then(Node::as_scalar).is_some()
        && ["repository", "image", "registry", "name"]
            .iter()
            .all(|key| node.get(key).is_none())
}

/// A map that is an image whatever its key: a `repository` that reads as an image reference
/// (no scheme, image characters only) with a `tag` or `digest`.
fn looks_like_an_image_map(node: &Node) -> bool {
    let Some(repository) = node.get("repository").and_then(Node::as_str) else {
        return false;
    };
    let repository = repository.trim();
    let image_like = !repository.is_empty()
        && !repository.contains("://")
        && repository
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c));
    image_like && (node.get("tag").is_some() || node.get("digest").is_some())
}

/// Why a bare image name in values with a registry prefix is the chart's to complete.
fn completed_by_the_chart(reference: &str, context: &Context<'_>) -> Option<String> {
    let name = reference.split(['@']).next().unwrap_or(reference);
    if context.prefixes.is_empty() || name.contains('/') {
        return None;
    }
    Some(format!(
        "a bare name in values that set `{}`: the chart puts that prefix in front of it, so the image is not `{reference}` on Docker Hub; the prefix is rewritten instead",
        context.prefixes.join("`, `")
    ))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A Compose extension field that holds an image for services to share through an alias
/// (`x-superset-image: &superset-image apache/superset:4.1`): read as an image value.
fn compose_extension_image(kind: SourceKind, path: &str, key: &str, value: &Node) -> bool {
    kind == SourceKind::Compose
        && path.is_empty()
        && key.starts_with("x-")
        && key.to_ascii_lowercase().ends_with("image")
        && matches!(value, Node::Scalar(_))
}

fn is_image_key(key: &str) -> bool {
    key == "image" || (key.ends_with("Image") && key.len() > "Image".len())
}

/// Whether a `registry:` line is commented out between `first_line` and `last_line` (1-based,
/// inclusive) of `text`.
fn commented_out_registry(text: &str, first_line: usize, last_line: usize) -> bool {
    text.lines()
        .skip(first_line.saturating_sub(1))
        .take(last_line + 1 - first_line.min(last_line + 1))
        .any(|line| {
            line.trim_start()
                .strip_prefix('#')
                .is_some_and(|rest| rest.trim_start().starts_with("registry:"))
        })
}

/// The lines a map's entries span.
fn lines_of(node: &Node) -> Option<(usize, usize)> {
    let Node::Map(entries) = node else {
        return None;
    };
    let lines: Vec<usize> = entries
        .iter()
        .flat_map(|(key, value)| [key.as_scalar(), value.as_scalar()])
        .flatten()
        .map(|scalar| scalar.line)
        .collect();
    Some((*lines.iter().min()?, *lines.iter().max()?))
}

/// An image map; false when `node` has no `repository` (or `image`) string.
fn structured(
    node: &Node,
    path: &str,
    kind: SourceKind,
    scan: &mut FileScan,
    context: &Context<'_>,
) -> bool {
    let field = |key: &str| {
        node.get(key)
            .and_then(Node::as_scalar)
            .filter(|scalar| !scalar.is_null && !scalar.value.trim().is_empty())
            .map(|scalar| Field::from_scalar(key, scalar))
    };
    let by_image_key = field("repository").is_none();
    let Some(repository) = field("repository").or_else(|| field("image")) else {
        return false;
    };
    // A `registry` that is there but not a plain value (an alias, a map) must not read as no
    // registry: the repository would then be pointed at the cache under another registry.
    if matches!(
        node.get("registry"),
        Some(Node::Alias | Node::Map(_) | Node::Seq(_))
    ) {
        scan.problems.push(Problem {
            file: scan.file.clone(),
            line: repository.line,
            message: format!(
                "`{path}.registry` is not a plain value (an alias or a structure): the image cannot be read"
            ),
        });
        return true;
    }
    let registry = field("registry");
    let tag = field("tag");
    let digest = field("digest");
    let mut reference = match &registry {
        Some(registry) => format!(
            "{}/{}",
            registry.value.trim().trim_end_matches('/'),
            repository.value.trim()
        ),
        None => repository.value.trim().to_owned(),
    };
    if let Some(tag) = &tag {
        reference.push(':');
        reference.push_str(tag.value.trim());
    }
    if let Some(digest) = &digest {
        reference.push('@');
        reference.push_str(digest.value.trim());
    }
    if reference.contains("{{") || reference.contains("${") {
        scan.notes.push(Note {
            file: scan.file.clone(),
            line: repository.line,
            text: reference,
            message: "a templated value: left alone".to_owned(),
        });
        return true;
    }
    if kind == SourceKind::HelmValues && registry.is_none() {
        let commented = context
            .text
            .zip(lines_of(node))
            .is_some_and(|(text, (first, last))| {
                commented_out_registry(text, first.saturating_sub(1).max(1), last)
            });
        let why = if commented {
            Some("its `registry` line is commented out: the chart then puts its own default registry in front of the repository; set `registry` (the upstream's host) in the map".to_owned())
        } else if by_image_key && context.text.is_some() {
            Some(format!("the map names the repository under `{path}.image` and has no `registry`: the chart puts a registry in front of it from elsewhere (`global.image.registry` or its templates); set `{path}.registry`"))
        } else if !context.prefixes.is_empty() {
            Some(format!(
                "the map has no `registry`, and the values set `{}`: the chart may put that prefix in front of the repository; set `{path}.registry`, or rely on the prefix (which is rewritten)",
                context.prefixes.join("`, `")
            ))
        } else {
            None
        };
        if let Some(message) = why {
            scan.ambiguous.push(Ambiguous {
                file: scan.file.clone(),
                line: repository.line,
                location: path.to_owned(),
                text: reference,
                message,
            });
            return true;
        }
    }
    scan.occurrences.push(Occurrence {
        file: scan.file.clone(),
        line: repository.line,
        kind,
        location: path.to_owned(),
        namespace: None,
        workload: None,
        container: None,
        reference,
        shape: Shape::Fields {
            registry,
            repository,
            tag,
            digest,
        },
    });
    true
}
