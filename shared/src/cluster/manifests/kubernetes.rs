//! Kubernetes objects: the containers, init containers and ephemeral containers of every kind
//! with a pod spec (Pod, and the pod template of Deployment, StatefulSet, DaemonSet,
//! ReplicaSet, Job, CronJob…), and the items of a `List`. An object without a pod spec (a
//! custom resource) is read like Helm values: any `image` key at any depth.

use super::yaml::Node;
use super::{string_occurrence, values, FileScan, SourceKind};

pub fn read(object: &Node, scan: &mut FileScan) {
    if object.get("kind").and_then(Node::as_str) == Some("List") {
        if let Some(Node::Seq(items)) = object.get("items") {
            for item in items {
                read(item, scan);
            }
        }
        return;
    }
    let Some(spec) = pod_spec(object) else {
        if let Some(spec) = object.get("spec") {
            values::read(spec, "spec", SourceKind::HelmValues, scan);
        }
        return;
    };
    let kind = object.get("kind").and_then(Node::as_str).unwrap_or("Pod");
    let name = object.at(&["metadata", "name"]).and_then(Node::as_str);
    let namespace = object
        .at(&["metadata", "namespace"])
        .and_then(Node::as_str)
        .map(str::to_owned);
    let workload = name.map(|name| format!("{kind}/{name}"));
    for (key, source_kind, label) in [
        ("containers", SourceKind::Container, "container"),
        (
            "initContainers",
            SourceKind::InitContainer,
            "init container",
        ),
        (
            "ephemeralContainers",
            SourceKind::EphemeralContainer,
            "ephemeral container",
        ),
    ] {
        let Some(Node::Seq(containers)) = spec.get(key) else {
            continue;
        };
        for container in containers {
            let container_name = container.get("name").and_then(Node::as_str);
            let Some(image) = container.get("image").and_then(Node::as_scalar) else {
                continue;
            };
            let location = format!(
                "{} {label} {}",
                workload.as_deref().unwrap_or(kind),
                container_name.unwrap_or("?")
            );
            if let Some(mut occurrence) = string_occurrence(scan, image, source_kind, location) {
                occurrence.namespace = namespace.clone();
                occurrence.workload = workload.clone();
                occurrence.container = container_name.map(str::to_owned);
                scan.occurrences.push(occurrence);
            }
        }
    }
}

/// The pod spec of a Pod, of a workload's template, or of a CronJob's job template.
fn pod_spec(object: &Node) -> Option<&Node> {
    let spec = object.get("spec")?;
    [
        Some(spec),
        spec.at(&["template", "spec"]),
        spec.at(&["jobTemplate", "spec", "template", "spec"]),
    ]
    .into_iter()
    .flatten()
    .find(|candidate| matches!(candidate.get("containers"), Some(Node::Seq(_))))
}
