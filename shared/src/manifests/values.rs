//! Helm values (a values file, a `HelmRelease`'s `spec.values`, a custom resource, a Compose
//! file): every `image` key (or a key ending in `Image`) at any depth, in the shapes charts use:
//!
//! - `image: "repo:tag"` (one string);
//! - `image: {registry, repository, tag, digest}` (Bitnami-style);
//! - `image: {registry, image, tag, digest}` (ingress-nginx-style);
//! - `image: {repository, tag}` with the registry, if any, inside `repository`.
//!
//! A map holding neither `repository` nor `image` is searched further.

use super::yaml::Node;
use super::{string_occurrence, Field, FileScan, Note, Occurrence, Problem, Shape, SourceKind};

pub fn read(node: &Node, path: &str, kind: SourceKind, scan: &mut FileScan) {
    match node {
        Node::Map(entries) => {
            for (key_node, value) in entries {
                let Some(key) = key_node.as_str() else {
                    continue;
                };
                let here = join(path, key);
                if is_image_key(key) {
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
                        Node::Scalar(scalar) => {
                            if let Some(occurrence) = string_occurrence(scan, scalar, kind, here) {
                                scan.occurrences.push(occurrence);
                            }
                            continue;
                        }
                        Node::Map(_) if structured(value, &here, kind, scan) => continue,
                        _ => {}
                    }
                }
                read(value, &here, kind, scan);
            }
        }
        Node::Seq(items) => {
            for (index, item) in items.iter().enumerate() {
                read(item, &format!("{path}[{index}]"), kind, scan);
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn is_image_key(key: &str) -> bool {
    key == "image" || (key.ends_with("Image") && key.len() > "Image".len())
}

/// An image map; false when `node` has no `repository` (or `image`) string.
fn structured(node: &Node, path: &str, kind: SourceKind, scan: &mut FileScan) -> bool {
    let field = |key: &str| {
        node.get(key)
            .and_then(Node::as_scalar)
            .filter(|scalar| !scalar.is_null && !scalar.value.trim().is_empty())
            .map(|scalar| Field::from_scalar(key, scalar))
    };
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
