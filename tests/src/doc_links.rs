//! Every relative link of `README.md` and `docs/*.md` points at a file that exists and, when it
//! names one, at a heading of that file (GitHub's anchors), so moving a section cannot leave a
//! link behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The Markdown files whose links are checked: the README and every page under `docs/`.
pub fn documentation_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    files.extend(pages);
    files
}

/// The lines of a Markdown text outside fenced code blocks, with their numbers (from 1).
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut in_fence = false;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            lines.push((index + 1, line));
        }
    }
    lines
}

/// GitHub's anchor of a heading: lowercase, spaces to `-`, every other character but letters,
/// digits, `-` and `_` dropped.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown text's headings; a repeated heading gets `-1`, `-2`… as on GitHub.
pub fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        let Some(heading) = line.get(hashes..).and_then(|rest| rest.strip_prefix(' ')) else {
            continue;
        };
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let base = anchor_of(heading);
        let mut anchor = base.clone();
        let mut repeat = 0;
        while found.contains(&anchor) {
            repeat += 1;
            anchor = format!("{base}-{repeat}");
        }
        found.insert(anchor);
    }
    found
}

/// A line without its code spans, where brackets are text, not links.
fn without_code_spans(line: &str) -> String {
    let mut kept = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            kept.push(c);
        }
    }
    kept
}

/// The targets of the inline links of a line: `[text](target)`.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code_spans(line);
    let mut targets = Vec::new();
    let mut rest = line.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        targets.push(after[..end].to_owned());
        rest = &after[end..];
    }
    targets
}

/// Every broken relative link of `file`: `file:line: target: why`.
pub fn broken_links(root: &Path, file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let shown = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let folder = file.parent().unwrap_or(root);
    let mut broken = Vec::new();
    for (number, line) in prose_lines(&text) {
        for target in link_targets(line) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.to_path_buf()
            } else {
                folder.join(path)
            };
            if !linked.exists() {
                broken.push(format!("{shown}:{number}: `{target}`: no such file"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            let linked_text = std::fs::read_to_string(&linked).unwrap_or_default();
            if !anchors(&linked_text).contains(anchor) {
                broken.push(format!(
                    "{shown}:{number}: `{target}`: no heading with the anchor `#{anchor}` in {}",
                    linked.strip_prefix(root).unwrap_or(&linked).display()
                ));
            }
        }
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_root;

    #[test]
    fn every_relative_link_of_the_documentation_resolves() {
        let root = repo_root();
        let files = documentation_files(&root);
        assert!(
            files.len() >= 10,
            "the README and the pages of docs/: {files:?}"
        );
        let broken: Vec<String> = files
            .iter()
            .flat_map(|file| broken_links(&root, file))
            .collect();
        assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    }

    #[test]
    fn a_missing_file_or_heading_is_reported_where_it_is_linked() {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let page = folder.path().join("page.md");
        std::fs::write(
            &page,
            "# Title\n\n## Deploy\n\n### Deploy\n\n[ok](#deploy-1) [ok](page.md#title) `[code](#nowhere)`\n\
             [gone](#deploy-2)\n[missing](other.md)\n```\n[fenced](#nowhere)\n```\n[web](https://example.com/#x)\n",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            broken_links(folder.path(), &page),
            [
                "page.md:8: `#deploy-2`: no heading with the anchor `#deploy-2` in page.md",
                "page.md:9: `other.md`: no such file",
            ]
        );
    }

    #[test]
    fn anchors_follow_github() {
        let text = "# Conformance: check the emulator's assumptions on your account\n\
                    ## Wire chat (AWS Chatbot / Amazon Q Developer in chat applications)\n\
                    ## `[hardening.drift]`\n## The `ptc` command line\n";
        assert_eq!(
            anchors(text),
            BTreeSet::from([
                "conformance-check-the-emulators-assumptions-on-your-account".to_owned(),
                "wire-chat-aws-chatbot--amazon-q-developer-in-chat-applications".to_owned(),
                "hardeningdrift".to_owned(),
                "the-ptc-command-line".to_owned(),
            ])
        );
    }
}
