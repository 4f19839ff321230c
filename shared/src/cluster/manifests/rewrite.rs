//! The edits that point an occurrence at its cache URI, applied to the text, and shown as a
//! unified diff. Only the bytes of image strings change (and a kustomization entry without
//! `newName` gains that one line).
//!
//! A structured Helm image keeps its shape: `{registry: docker.io, repository: bitnami/redis,
//! tag: 7.4}` becomes `{registry: <account>.dkr.ecr.<region>.amazonaws.com, repository:
//! docker-hub/bitnami/redis, tag: 7.4}`; with no `registry` (or an empty one), `repository`
//! becomes `<cache host>/docker-hub/bitnami/redis`. Tag and digest are never touched.

use super::{ByteSpan, Field, Occurrence, Shape};

/// Replace `start..end` with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// `<host>/<repository>[:tag][@digest]` → (`host`, `repository`).
pub fn split_uri(uri: &str) -> (&str, &str) {
    let (host, rest) = uri.split_once('/').unwrap_or(("", uri));
    let name = rest.split('@').next().unwrap_or(rest);
    let repository = match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => &name[..colon],
        _ => name,
    };
    (host, repository)
}

/// The edits that make `occurrence` pull `cache_uri`, or why it cannot be rewritten in place.
pub fn edits_for(
    occurrence: &Occurrence,
    cache_uri: &str,
    text: &str,
) -> Result<Vec<Edit>, String> {
    let (host, repository) = split_uri(cache_uri);
    match &occurrence.shape {
        // The reference's own tag and digest, never one the parser assumed: `jenkins/jenkins`
        // (its tag under another key of the chart) must not become `…:latest`.
        Shape::String { field } => {
            let suffix = tag_and_digest(field.value.trim());
            Ok(vec![replace(
                field,
                &format!("{host}/{repository}{suffix}"),
            )?])
        }
        Shape::Fields {
            registry,
            repository: repository_field,
            ..
        } => {
            // `repository: nginx:1.27` (no `tag` key) keeps its tag.
            let suffix = tag_and_digest(repository_field.value.trim());
            match registry {
                // A registry that is there but cannot be replaced byte for byte (escapes):
                // rewriting only the repository would put the cache under that registry.
                Some(registry) if registry.span.is_none() => Err(format!(
                    "`{}` cannot be rewritten in place ({}), so neither is the repository",
                    registry.key,
                    registry.not_editable.as_deref().unwrap_or("no position")
                )),
                Some(registry) => Ok(vec![
                    replace(registry, host)?,
                    replace(repository_field, &format!("{repository}{suffix}"))?,
                ]),
                None => Ok(vec![replace(
                    repository_field,
                    &format!("{host}/{repository}{suffix}"),
                )?]),
            }
        }
        Shape::Kustomize {
            new_name: Some(new_name),
            ..
        } => Ok(vec![replace(new_name, &format!("{host}/{repository}"))?]),
        Shape::Kustomize {
            new_name: None,
            insert_at: Some((after, column)),
            ..
        } => {
            let line_start = text[..*after].rfind('\n').map_or(0, |index| index + 1);
            let line_end = text[*after..]
                .find('\n')
                .map_or(text.len(), |index| after + index);
            let line = &text[line_start..line_end];
            if line.contains(['{', '}']) {
                return Err(
                    "a flow-style `images` entry without `newName`: add `newName` by hand"
                        .to_owned(),
                );
            }
            // The new line ends like the file's lines do (`\r\n` or `\n`).
            let crlf = line.ends_with('\r');
            let line_end = line_end - usize::from(crlf);
            let eol = if crlf { "\r\n" } else { "\n" };
            Ok(vec![Edit {
                start: line_end,
                end: line_end,
                text: format!("{eol}{}newName: {host}/{repository}", " ".repeat(*column)),
            }])
        }
        Shape::Kustomize { .. } => Err("the `images` entry cannot take a `newName`".to_owned()),
    }
}

/// The repository path a registry prefix is probed with: two segments, so that Docker Hub's
/// `library/` is never added to a prefix of one.
const PROBE_PATH: &str = "ptc-prefix-probe/ptc-prefix-probe";
const PROBE_TAG: &str = "probe";

/// The image reference that stands for a registry prefix (`docker.io/istio`) when it is mapped
/// to the cache: `<prefix>/<probe>:<tag>`.
pub fn prefix_probe(prefix: &str) -> String {
    format!("{}/{PROBE_PATH}:{PROBE_TAG}", prefix.trim_end_matches('/'))
}

/// The cache prefix a probe was mapped to (`<host>/docker-hub/istio`), or `None` when the
/// mapping did not keep the probe's path (the prefix cannot be expressed as a cache prefix).
pub fn prefix_from_probe(cache_uri: &str) -> Option<&str> {
    cache_uri
        .strip_suffix(&format!("/{PROBE_PATH}:{PROBE_TAG}"))
        .filter(|prefix| !prefix.is_empty())
}

/// The edit that points a registry-prefix key at `cache_prefix`.
pub fn prefix_edit(occurrence: &Occurrence, cache_prefix: &str) -> Result<Vec<Edit>, String> {
    match &occurrence.shape {
        Shape::String { field } => Ok(vec![replace(field, cache_prefix)?]),
        _ => Err("a registry prefix is one string".to_owned()),
    }
}

/// The `:tag`, `@digest` or `:tag@digest` at the end of a reference (`""` when none); a
/// registry port (`host:5000/app`) is no tag.
pub fn tag_and_digest(reference: &str) -> &str {
    let name_end = reference.find('@').unwrap_or(reference.len());
    let name = &reference[..name_end];
    let last_slash = name.rfind('/').map_or(0, |index| index + 1);
    let start = name[last_slash..]
        .find(':')
        .map_or(name_end, |colon| last_slash + colon);
    &reference[start..]
}

fn replace(field: &Field, text: &str) -> Result<Edit, String> {
    match field.span {
        Some(ByteSpan { start, end }) => Ok(Edit {
            start,
            end,
            text: text.to_owned(),
        }),
        None => Err(format!(
            "`{}` cannot be rewritten in place: {}",
            field.key,
            field.not_editable.as_deref().unwrap_or("no position")
        )),
    }
}

/// `text` with `edits` applied; edits must not overlap.
pub fn apply(text: &str, edits: &[Edit]) -> Result<String, String> {
    let mut edits: Vec<&Edit> = edits.iter().collect();
    edits.sort_by_key(|edit| (edit.start, edit.end));
    // Two references may share one string (an `ARG` default used by two `FROM`s): the same
    // edit twice is one edit.
    edits.dedup();
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    for edit in edits {
        if edit.start < position || edit.end > text.len() || edit.start > edit.end {
            return Err(format!(
                "overlapping or out-of-range edit at byte {}",
                edit.start
            ));
        }
        out.push_str(&text[position..edit.start]);
        out.push_str(&edit.text);
        position = edit.end;
    }
    out.push_str(&text[position..]);
    Ok(out)
}

/// A unified diff (`--- a/FILE`, `+++ b/FILE`, three lines of context) of `old` and `new`, as
/// `git apply` and `patch -p1` read it.
///
/// `similar`'s Myers diff trims the common head and tail and bounds its work on hard inputs, so
/// a file with tens of thousands of edited lines takes milliseconds; past [`DIFF_TIME_LIMIT`]
/// it gives up looking for the smallest diff and returns a larger one that is still exact.
pub fn unified_diff(file: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .timeout(DIFF_TIME_LIMIT)
        .diff_lines(old, new);
    diff.unified_diff()
        .context_radius(3)
        .header(&format!("a/{file}"), &format!("b/{file}"))
        .to_string()
}

/// How long `--diff` searches for the smallest diff of one file.
const DIFF_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::manifests::scan;
    use crate::test_cases::named_cases;

    const HOST: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";

    /// The tag and digest suffix found in `reference`.
    fn check_suffix(name: &str, reference: &str, suffix: &str) {
        assert_eq!(tag_and_digest(reference), suffix, "{name}: {reference}");
    }

    named_cases! {
        /// Tag and digest suffixes are found; a registry port is not one.
        mod tag_and_digest_suffixes => check_suffix;
        bare_name_has_none("nginx", ""),
        tag("nginx:1.27", ":1.27"),
        registry_port_is_not_a_tag("localhost:5000/app", ""),
        tag_and_digest_after_a_registry_port(
            "localhost:5000/app:v1@sha256:abc",
            ":v1@sha256:abc",
        ),
        digest_only("ghcr.io/a/b@sha256:abc", "@sha256:abc"),
    }

    /// A cache URI splits into the host and the cache repository, without tag or digest.
    fn check_split_uri(name: &str, uri: &str, repository: &str) {
        assert_eq!(split_uri(uri), ("h.example", repository), "{name}");
    }

    named_cases! {
        /// Cache URIs split into host and repository.
        mod cache_uris_split => check_split_uri;
        tag(
            "h.example/docker-hub/library/nginx:1.27",
            "docker-hub/library/nginx",
        ),
        tag_and_digest("h.example/k8s/pause:3.10@sha256:abc", "k8s/pause"),
        digest_only("h.example/ghcr/a/b@sha256:abc", "ghcr/a/b"),
        no_tag("h.example/a/b", "a/b"),
    }

    /// The one image in `text` (a `file`) is rewritten to `HOST/target`, giving `expected`
    /// (where `HOST` stands for the registry host).
    fn check_rewrite(name: &str, file: &str, text: &str, target: &str, expected: &str) {
        let found = scan(file, text);
        assert_eq!(found.occurrences.len(), 1, "{name}");
        let edits =
            edits_for(&found.occurrences[0], &format!("{HOST}/{target}"), text).expect(name);
        assert_eq!(
            apply(text, &edits).expect(name),
            expected.replace("HOST", HOST),
            "{name}"
        );
    }

    named_cases! {
        /// How each shape is rewritten, every other byte kept.
        mod rewrites_each_shape_in_place => check_rewrite;
        /// registry → host, repository → cache repository.
        helm_map_with_registry(
            "values.yaml",
            "image:\n  registry: docker.io # upstream\n  repository: \"bitnami/redis\"\n  tag: 7\n",
            "docker-hub/bitnami/redis:7",
            "image:\n  registry: HOST # upstream\n  repository: \"docker-hub/bitnami/redis\"\n  tag: 7\n",
        ),
        /// repository → host/cache repository.
        helm_map_without_registry(
            "values.yaml",
            "image:\n  repository: quay.io/org/app\n  tag: v1\n",
            "quay/org/app:v1",
            "image:\n  repository: HOST/quay/org/app\n  tag: v1\n",
        ),
        helm_map_whose_repository_carries_the_tag_keeps_it(
            "values.yaml",
            "image:\n  repository: nginx:1.27\n",
            "docker-hub/library/nginx:1.27",
            "image:\n  repository: HOST/docker-hub/library/nginx:1.27\n",
        ),
        kustomization_entry_without_new_name_gains_one_line(
            "kustomization.yaml",
            "images:\n  - name: nginx # web\n    newTag: \"1.27\"\n",
            "docker-hub/library/nginx:1.27",
            "images:\n  - name: nginx # web\n    newName: HOST/docker-hub/library/nginx\n    newTag: \"1.27\"\n",
        ),
        dockerfile_from_keeps_platform_and_stage_name(
            "Dockerfile",
            "FROM --platform=$BUILDPLATFORM golang:1.23 AS build\n",
            "docker-hub/library/golang:1.23",
            "FROM --platform=$BUILDPLATFORM HOST/docker-hub/library/golang:1.23 AS build\n",
        ),
    }

    #[test]
    fn crlf_kustomizations_get_crlf_lines_and_flow_entries_are_refused() {
        let crlf = "images:\r\n  - name: nginx\r\n    newTag: \"1\"\r\n";
        let found = scan("kustomization.yaml", crlf);
        let edits = edits_for(
            &found.occurrences[0],
            &format!("{HOST}/docker-hub/library/nginx:1"),
            crlf,
        )
        .expect("crlf");
        assert_eq!(
            apply(crlf, &edits).expect("applied"),
            format!("images:\r\n  - name: nginx\r\n    newName: {HOST}/docker-hub/library/nginx\r\n    newTag: \"1\"\r\n"),
            "a CRLF file gets a CRLF line"
        );
        let flow = "images: [{name: nginx, newTag: '1'}]\n";
        let found = scan("kustomization.yaml", flow);
        assert!(edits_for(
            &found.occurrences[0],
            &format!("{HOST}/docker-hub/library/nginx:1"),
            flow
        )
        .is_err());
    }

    /// 40,000 edited lines in a row took the previous matcher 34 s in a debug build (it was
    /// quadratic in the length of a changed run); the bound is loose for a busy machine.
    #[test]
    fn diffs_of_many_edited_lines_in_a_row_are_fast_and_exact() {
        let lines = 40_000;
        let old: String = (0..lines)
            .map(|index| format!("- image: app{index}:1\n"))
            .collect();
        let new: String = (0..lines)
            .map(|index| format!("- image: {HOST}/app{index}:1\n"))
            .collect();
        let started = std::time::Instant::now();
        let diff = unified_diff("list.yaml", &old, &new);
        let took = started.elapsed();
        assert!(
            diff.starts_with(&format!(
                "--- a/list.yaml\n+++ b/list.yaml\n@@ -1,{lines} +1,{lines} @@\n-- image: app0:1\n"
            )),
            "{}",
            &diff[..200]
        );
        assert_eq!(diff.lines().count(), 3 + 2 * lines);
        assert!(
            took < std::time::Duration::from_secs(10),
            "the diff of {lines} edited lines took {took:?}"
        );
    }

    #[test]
    fn diffs_show_changed_and_added_lines_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm";
        let new = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nl2\nM";
        assert_eq!(
            unified_diff("x.yaml", old, new),
            "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -10,4 +10,5 @@\n j\n k\n l\n-m\n\\ No newline at end of file\n+l2\n+M\n\\ No newline at end of file\n"
        );
        assert_eq!(unified_diff("x", "same\n", "same\n"), "");
        assert!(apply(
            "abc",
            &[
                Edit {
                    start: 1,
                    end: 2,
                    text: "X".into()
                },
                Edit {
                    start: 1,
                    end: 3,
                    text: "Y".into()
                }
            ]
        )
        .is_err());
    }
}
