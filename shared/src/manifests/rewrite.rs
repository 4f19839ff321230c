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

/// A unified diff (`--- a/FILE`, `+++ b/FILE`, three lines of context) of `old` and `new`.
/// The two differ only where lines were edited, so lines are matched from both ends of each
/// changed run.
pub fn unified_diff(file: &str, old: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    // Changed runs: walk both, matching equal lines; at a difference, find the next line of
    // `old` that equals a line of `new` ahead (edits change few lines, so this is short).
    let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old_lines.len() || j < new_lines.len() {
        if i < old_lines.len() && j < new_lines.len() && old_lines[i] == new_lines[j] {
            i += 1;
            j += 1;
            continue;
        }
        let (start_i, start_j) = (i, j);
        let (a, b) = resync(&old_lines, &new_lines, start_i, start_j);
        runs.push((start_i, a, start_j, b));
        i = a;
        j = b;
    }
    if runs.is_empty() {
        return String::new();
    }
    const CONTEXT: usize = 3;
    let mut out = format!("--- a/{file}\n+++ b/{file}\n");
    let mut index = 0;
    while index < runs.len() {
        let mut last = index;
        while last + 1 < runs.len() && runs[last + 1].0 - runs[last].1 <= 2 * CONTEXT {
            last += 1;
        }
        let (first_i, _, first_j, _) = runs[index];
        let (_, end_i, _, end_j) = runs[last];
        let hunk_i = first_i.saturating_sub(CONTEXT);
        let hunk_j = first_j - (first_i - hunk_i);
        let tail = CONTEXT.min(old_lines.len() - end_i);
        let (hunk_end_i, hunk_end_j) = (end_i + tail, end_j + tail);
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(hunk_i, hunk_end_i - hunk_i),
            range(hunk_j, hunk_end_j - hunk_j)
        ));
        let mut position = hunk_i;
        for run in &runs[index..=last] {
            for line in &old_lines[position..run.0] {
                push_line(&mut out, ' ', line);
            }
            for line in &old_lines[run.0..run.1] {
                push_line(&mut out, '-', line);
            }
            for line in &new_lines[run.2..run.3] {
                push_line(&mut out, '+', line);
            }
            position = run.1;
        }
        for line in &old_lines[position..hunk_end_i] {
            push_line(&mut out, ' ', line);
        }
        index = last + 1;
    }
    out
}

/// The nearest pair of positions from which `old` and `new` agree again (a common line, or
/// both ends), searched by growing distance: edits change few lines at a time.
fn resync(old: &[&str], new: &[&str], start_i: usize, start_j: usize) -> (usize, usize) {
    let max = (old.len() - start_i) + (new.len() - start_j);
    for distance in 1..=max {
        for step_i in 0..=distance {
            let (a, b) = (start_i + step_i, start_j + distance - step_i);
            if a > old.len() || b > new.len() {
                continue;
            }
            let both_ends = a == old.len() && b == new.len();
            if both_ends || (a < old.len() && b < new.len() && old[a] == new[b]) {
                return (a, b);
            }
        }
    }
    (old.len(), new.len())
}

fn range(start: usize, count: usize) -> String {
    match count {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{count}", start + 1),
    }
}

fn push_line(out: &mut String, marker: char, line: &str) {
    out.push(marker);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::scan;
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
