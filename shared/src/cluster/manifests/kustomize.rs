//! A kustomization's `images:` (and a Flux `Kustomization`'s `spec.images`): each entry's `name` is the image the resources use, and
//! `newName`, `newTag` and `digest` what kustomize puts in its place. The reference pulled is
//! `newName` (or `name`) with `newTag` and `digest`.

use super::yaml::Node;
use super::{Field, FileScan, Occurrence, Shape, SourceKind};

pub fn read(root: &Node, scan: &mut FileScan) {
    read_images(root, "images", scan);
}

/// A Flux `Kustomization` (`kustomize.toolkit.fluxcd.io`): `spec.images` has the same entries.
pub fn read_flux(root: &Node, scan: &mut FileScan) {
    if let Some(spec) = root.get("spec") {
        read_images(spec, "spec.images", scan);
    }
}

fn read_images(parent: &Node, path: &str, scan: &mut FileScan) {
    let Some(Node::Seq(images)) = parent.get("images") else {
        return;
    };
    for (index, entry) in images.iter().enumerate() {
        let field = |key: &str| {
            entry
                .get(key)
                .and_then(Node::as_scalar)
                .filter(|scalar| !scalar.is_null)
                .map(|scalar| Field::from_scalar(key, scalar))
        };
        let Some(name) = field("name") else { continue };
        let new_name = field("newName");
        let mut reference = new_name.as_ref().unwrap_or(&name).value.trim().to_owned();
        if let Some(tag) = field("newTag") {
            reference.push(':');
            reference.push_str(tag.value.trim());
        }
        if let Some(digest) = field("digest") {
            reference.push('@');
            reference.push_str(digest.value.trim());
        }
        // A missing `newName` goes on its own line after `name`, at the key's indentation;
        // only in block style (`- name: x`), not in a flow map (`- {name: x}`). A `newName` key
        // that is there but empty (`newName:`, `~`) gets no second one: kustomize refuses
        // duplicate keys, so that entry is left to be edited by hand.
        let has_new_name_key = entry.get("newName").is_some();
        let insert_at = match (&entry, &name.span) {
            (Node::Map(entries), Some(span)) if new_name.is_none() && !has_new_name_key => entries
                .iter()
                .find_map(|(key, _)| key.as_scalar().filter(|key| key.value == "name"))
                .map(|key| (span.end, key.col)),
            _ => None,
        };
        scan.occurrences.push(Occurrence {
            file: scan.file.clone(),
            line: name.line,
            kind: SourceKind::Kustomize,
            location: format!("{path}[{index}]"),
            namespace: None,
            workload: None,
            container: None,
            reference,
            shape: Shape::Kustomize {
                name,
                new_name,
                insert_at,
            },
        });
    }
}
