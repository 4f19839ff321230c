//! The reader on real public files: `tests/fixtures/manifests-corpus/` holds files from
//! well-known open-source projects, kept byte for byte (their origins and licenses are in its
//! `SOURCES.md`), and `expected.json` the reference: for each file, what a platform engineer
//! reading it expects the reader to say (the occurrences with their line, location, reference
//! and kind; the ambiguous values with their line and location; how many notes and problems),
//! decided by reading the file and its chart's or build's conventions, not by running the reader.
//!
//! Where the reader answers otherwise today, the file is listed in [`KNOWN_DIFFERENCES`] with the
//! reason, and its reference also holds the reader's answer of today (`reader_today`): the test
//! passes while the difference is printed, and fails as soon as the reader's answer changes
//! (fixed: remove the entry; otherwise: look at what changed).
//!
//! Each file is also rewritten to a cache and read again: the rewrite must keep its shape.
//!
//! `cargo test -p ptc-ops --lib corpus -- --ignored --nocapture` prints the reader's answers in
//! the reference's form, to write a new file's `reader_today` (never its `expected`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{scan_with, Field, FileScan, ScanOptions, Shape};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/manifests-corpus"
);

/// Files whose reader answer differs from the reference today, and why the reference is right.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// What the reader says of one file, as far as the reference records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    occurrences: Vec<Found>,
    #[serde(default)]
    ambiguous: Vec<Place>,
    notes: usize,
    problems: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Found {
    line: usize,
    location: String,
    reference: String,
    kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Place {
    line: usize,
    location: String,
}

/// One file of the corpus and its reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Its path under the corpus folder.
    file: String,
    /// How the reference was decided: what the file's conventions say it pulls.
    #[allow(dead_code)]
    reading: String,
    /// `--build-arg NAME=VALUE` as the project's own build passes them (Dockerfiles).
    #[serde(default)]
    build_args: BTreeMap<String, String>,
    expected: Answer,
    /// The reader's answer today, for a file listed in [`KNOWN_DIFFERENCES`].
    #[serde(default)]
    reader_today: Option<Answer>,
}

fn answer(scan: &FileScan) -> Answer {
    Answer {
        occurrences: scan
            .occurrences
            .iter()
            .map(|occurrence| Found {
                line: occurrence.line,
                location: occurrence.location.clone(),
                reference: occurrence.reference.clone(),
                kind: serde_json::to_value(occurrence.kind)
                    .ok()
                    .and_then(|kind| kind.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            })
            .collect(),
        ambiguous: scan
            .ambiguous
            .iter()
            .map(|ambiguous| Place {
                line: ambiguous.line,
                location: ambiguous.location.clone(),
            })
            .collect(),
        notes: scan.notes.len(),
        problems: scan.problems.len(),
    }
}

/// The first place where `read` is not `expected`, in reading order.
fn first_difference(expected: &Answer, read: &Answer) -> Option<String> {
    fn lists<T: std::fmt::Debug + PartialEq>(
        what: &str,
        expected: &[T],
        read: &[T],
    ) -> Option<String> {
        let index = (0..expected.len().max(read.len()))
            .find(|&index| expected.get(index) != read.get(index))?;
        Some(format!(
            "{what} #{index}: expected {:?}, read {:?} ({} expected, {} read)",
            expected.get(index),
            read.get(index),
            expected.len(),
            read.len()
        ))
    }
    lists("occurrence", &expected.occurrences, &read.occurrences)
        .or_else(|| lists("ambiguous", &expected.ambiguous, &read.ambiguous))
        .or_else(|| {
            (expected.notes != read.notes)
                .then(|| format!("notes: expected {}, read {}", expected.notes, read.notes))
        })
        .or_else(|| {
            (expected.problems != read.problems).then(|| {
                format!(
                    "problems: expected {}, read {}",
                    expected.problems, read.problems
                )
            })
        })
}

/// Every editable span of `scan` holds exactly the value it claims.
fn spans_hold_their_values(file: &str, text: &str, scan: &FileScan) -> Option<String> {
    scan.occurrences.iter().find_map(|occurrence| {
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
        fields.into_iter().find_map(|field| {
            let span = field.span?;
            let held = text.get(span.start..span.end);
            (held != Some(field.value.trim_end())).then(|| {
                format!(
                    "{file}: line {}: the span of `{}` holds {held:?}",
                    field.line, field.value
                )
            })
        })
    })
}

fn cases() -> Vec<Case> {
    let reference =
        std::fs::read_to_string(format!("{CORPUS}/expected.json")).expect("the corpus reference");
    serde_json::from_str(&reference).expect("the corpus reference is valid")
}

fn read_case(case: &Case) -> (String, FileScan) {
    let text = std::fs::read_to_string(format!("{CORPUS}/{}", case.file))
        .unwrap_or_else(|error| panic!("{}: {error}", case.file));
    let options = ScanOptions {
        build_args: case.build_args.clone(),
    };
    let scan = scan_with(&case.file, &text, &options);
    (text, scan)
}

/// The corpus files: every file under the folder but its `SOURCES.md` and `expected.json`.
fn corpus_files(folder: &Path, prefix: &str, files: &mut Vec<String>) {
    for entry in std::fs::read_dir(folder).expect("the corpus folder") {
        let entry = entry.expect("a corpus entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type().expect("a file type").is_dir() {
            corpus_files(&entry.path(), &path, files);
        } else if path != "SOURCES.md" && path != "expected.json" {
            files.push(path);
        }
    }
}

#[test]
fn the_reader_answers_as_the_reference_on_real_public_files() {
    let cases = cases();
    let mut files = Vec::new();
    corpus_files(Path::new(CORPUS), "", &mut files);
    files.sort();
    let mut referenced: Vec<String> = cases.iter().map(|case| case.file.clone()).collect();
    referenced.sort();
    assert_eq!(
        files, referenced,
        "every corpus file has one reference, and only those"
    );
    for (file, _) in KNOWN_DIFFERENCES {
        assert!(
            referenced.iter().any(|referenced| referenced == file),
            "{file}: listed as a known difference but not in the corpus"
        );
    }

    let mut failures = Vec::new();
    for case in &cases {
        let (text, scan) = read_case(case);
        if let Some(failure) = spans_hold_their_values(&case.file, &text, &scan) {
            failures.push(failure);
        }
        let read = answer(&scan);
        let known = KNOWN_DIFFERENCES
            .iter()
            .find(|(file, _)| *file == case.file)
            .map(|(_, why)| *why);
        match (known, &case.reader_today) {
            (None, None) => {
                if let Some(difference) = first_difference(&case.expected, &read) {
                    failures.push(format!("{}: {difference}", case.file));
                }
            }
            (Some(why), Some(today)) => match first_difference(&case.expected, &read) {
                None => failures.push(format!(
                    "{}: now answers as the reference: remove it from KNOWN_DIFFERENCES and its `reader_today`",
                    case.file
                )),
                Some(difference) => match first_difference(today, &read) {
                    Some(change) => failures.push(format!(
                        "{}: the reader's answer changed (was a known difference: {why}): {change}",
                        case.file
                    )),
                    None => eprintln!(
                        "known difference, {}: {why}\n    first: {difference}",
                        case.file
                    ),
                },
            },
            _ => failures.push(format!(
                "{}: a known difference needs both its entry in KNOWN_DIFFERENCES and `reader_today` in the reference",
                case.file
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The reader's answers in the reference's form (for `reader_today`).
#[test]
#[ignore = "prints the reader's answers; run by hand"]
fn print_the_readers_answers() {
    let answers: Vec<serde_json::Value> = cases()
        .iter()
        .map(|case| {
            let (_, scan) = read_case(case);
            serde_json::json!({ "file": case.file, "reader_today": answer(&scan) })
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&answers).expect("json"));
}

/// A cache host for the rewrite below: every upstream goes under `mirror/`.
const CACHE_HOST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

/// Where the rewrite below points `reference`: the cache host, `mirror/`, the repository path
/// without its registry, and the reference's own tag and digest.
fn cached(reference: &str) -> String {
    let (first, rest) = reference.split_once('/').unwrap_or(("", reference));
    let path = if first.contains(['.', ':']) || first == "localhost" {
        rest
    } else {
        reference
    };
    let suffix = super::rewrite::tag_and_digest(path);
    format!(
        "{CACHE_HOST}/mirror/{}{suffix}",
        &path[..path.len() - suffix.len()]
    )
}

/// Every corpus file rewritten to a cache (each occurrence that can be edited in place) reads
/// back with the same shape: as many occurrences, ambiguous values, notes and problems, each
/// edited occurrence now pulling its cache reference and every other one unchanged.
#[test]
fn every_corpus_file_rewritten_reads_back_pointing_at_the_cache() {
    let mut failures = Vec::new();
    for case in cases() {
        let (text, scan) = read_case(&case);
        let mut edits = Vec::new();
        let mut expected = Vec::new();
        for occurrence in &scan.occurrences {
            let prefix = occurrence.kind == super::SourceKind::RegistryPrefix;
            let target = cached(&occurrence.reference);
            let made = if prefix {
                super::rewrite::prefix_edit(occurrence, &target)
            } else {
                super::rewrite::edits_for(occurrence, &target, &text)
            };
            match made {
                Ok(made) => {
                    edits.extend(made);
                    expected.push(target);
                }
                Err(_) => expected.push(occurrence.reference.clone()),
            }
        }
        let rewritten = match super::rewrite::apply(&text, &edits) {
            Ok(rewritten) => rewritten,
            Err(error) => {
                failures.push(format!("{}: {error}", case.file));
                continue;
            }
        };
        let options = ScanOptions {
            build_args: case.build_args.clone(),
        };
        let again = scan_with(&case.file, &rewritten, &options);
        let read: Vec<String> = again
            .occurrences
            .iter()
            .map(|occurrence| occurrence.reference.clone())
            .collect();
        if read != expected {
            failures.push(format!(
                "{}: rewritten, it reads {read:?}, not {expected:?}",
                case.file
            ));
        }
        let counts =
            |scan: &FileScan| (scan.ambiguous.len(), scan.notes.len(), scan.problems.len());
        if counts(&again) != counts(&scan) {
            failures.push(format!(
                "{}: rewritten, (ambiguous, notes, problems) go from {:?} to {:?}",
                case.file,
                counts(&scan),
                counts(&again)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
