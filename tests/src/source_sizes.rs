//! No Rust source file of the repository grows past what a reader can hold: 1,200 lines. A file
//! that reaches it is split by what it holds (tests beside their module, a step of a feature in
//! its own file), not cut at a line number.

use std::path::{Path, PathBuf};

/// The most lines a Rust source file of the repository may have.
pub const MAX_LINES: usize = 1_200;

/// Folders never read: build output, installed tools and packages.
const SKIPPED: &[&str] = &["target", "node_modules", ".venv", ".git", "cdk.out"];

/// Every `.rs` file under `folder`, skipping build output and installed packages.
pub fn rust_sources(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if !SKIPPED.iter().any(|skipped| name == *skipped) {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rust_source_file_exceeds_the_line_limit() {
        let root = crate::repo_root();
        let sources = rust_sources(&root);
        assert!(
            sources
                .iter()
                .any(|path| path.ends_with("domain/src/lib.rs"))
                && sources.len() > 100,
            "every source file read: {} found",
            sources.len()
        );
        let over: Vec<String> = sources
            .iter()
            .filter_map(|path| {
                let lines = std::fs::read_to_string(path).ok()?.lines().count();
                (lines > MAX_LINES).then(|| {
                    let shown = path.strip_prefix(&root).unwrap_or(path).display();
                    format!("{shown}: {lines} lines")
                })
            })
            .collect();
        assert!(
            over.is_empty(),
            "over {MAX_LINES} lines, split by what they hold: {over:?}"
        );
    }
}
