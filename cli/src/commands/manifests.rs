//! `-f PATH…` for `ptc rewrite`, `ptc audit` and `ptc prewarm`: the files teams keep (manifests,
//! Helm values, `HelmRelease`s, kustomizations, Dockerfiles, Compose files, lists), read by
//! `ptc_ops::manifests`; for `rewrite`, the table, `--diff`, `--in-place` and `--check`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ptc_ops::audit::{classify, ImageSource, DIGEST_ONLY_REASON};
use ptc_ops::domain::CacheRule;
use ptc_ops::manifests::rewrite::{
    apply, edits_for, prefix_edit, prefix_from_probe, prefix_probe, tag_and_digest, unified_diff,
    Edit,
};
use ptc_ops::manifests::{self, Ambiguous, FileScan, Note, Occurrence, Problem, Shape, SourceKind};
use ptc_ops::prewarm_images::mapping::registry_host;
use serde::Serialize;

use super::{clients, load_rules, read_input, CliError, EXIT_CLEAN, EXIT_FINDINGS};
use crate::args::{GlobalOptions, RewriteArgs};
use crate::output::{table, Style};

/// One file given on the command line or found in a folder given there.
pub struct Input {
    /// As reports name it: the path as given or found, or `-`.
    pub name: String,
    /// `None` for stdin.
    pub path: Option<PathBuf>,
    pub text: String,
    /// Why a file found in a folder could not be read (not UTF-8, no permission): reported
    /// as a problem of that file, the others still read.
    pub unreadable: Option<String>,
}

/// The files of `paths`: a file as it is, a folder walked (in name order, hidden folders
/// skipped) for `*.yaml`, `*.yml`, `Dockerfile*`, `*.Dockerfile`, `Containerfile*`, and `-`
/// for stdin (once).
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<Input>, CliError> {
    let mut inputs = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            inputs.push(Input {
                name: "-".to_owned(),
                path: None,
                text: read_input(None)?,
                unreadable: None,
            });
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            if found.is_empty() {
                eprintln!(
                    "`{}`: no manifest, values file or Dockerfile in this folder",
                    path.display()
                );
            }
            for file in found {
                let name = file.display().to_string();
                let (text, unreadable) = match std::fs::read_to_string(&file) {
                    Ok(text) => (text, None),
                    Err(error) => (
                        String::new(),
                        Some(format!("cannot read the file: {error}")),
                    ),
                };
                inputs.push(Input {
                    name: name.strip_prefix("./").unwrap_or(&name).to_owned(),
                    text,
                    path: Some(file),
                    unreadable,
                });
            }
        } else {
            inputs.push(Input {
                name: path.display().to_string(),
                text: read_input(Some(path))?,
                path: Some(path.clone()),
                unreadable: None,
            });
        }
    }
    Ok(inputs)
}

fn walk(folder: &Path, found: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(folder).map_err(|error| {
        CliError::Usage(format!(
            "cannot read the folder `{}`: {error}",
            folder.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        // A linked folder is not followed: it may lead out of the tree given, or in a loop.
        let linked = std::fs::symlink_metadata(&path)
            .map(|metadata| metadata.file_type().is_symlink())
            .unwrap_or(false);
        if linked && path.is_dir() {
            eprintln!(
                "`{}`: a symbolic link to a folder, not followed",
                path.display()
            );
            continue;
        }
        if path.is_dir() {
            walk(&path, found)?;
        } else if manifests::is_manifest_name(&name) {
            found.push(path);
        }
    }
    Ok(())
}

/// Every file of `paths`, read.
pub fn scan_paths(paths: &[PathBuf]) -> Result<Vec<(Input, FileScan)>, CliError> {
    Ok(read_paths(paths)?
        .into_iter()
        .map(|input| {
            let mut scan = manifests::scan(&input.name, &input.text);
            if let Some(why) = &input.unreadable {
                scan.problems.push(Problem {
                    file: input.name.clone(),
                    line: 0,
                    message: why.clone(),
                });
            }
            (input, scan)
        })
        .collect())
}

/// The unique references the files use, in order of first use (`ptc prewarm -f`); what could
/// not be read is said on stderr.
pub fn references(paths: &[PathBuf]) -> Result<Vec<String>, CliError> {
    let mut references: Vec<String> = Vec::new();
    for (_, scan) in scan_paths(paths)? {
        print_problems(&scan.problems, &[]);
        for occurrence in scan.occurrences {
            // A registry prefix is no image to pull.
            if occurrence.kind == SourceKind::RegistryPrefix {
                continue;
            }
            // A chart fills a missing tag from its appVersion, which the values do not say:
            // pre-warming `latest` instead would warm the wrong image.
            if let Shape::Fields {
                tag: None,
                digest: None,
                repository,
                ..
            } = &occurrence.shape
            {
                // `repository: nginx:1.27` carries its own tag.
                if tag_and_digest(repository.value.trim()).is_empty() {
                    eprintln!(
                        "{}:{}: `{}` has no tag in the values (the chart's appVersion decides): not pre-warmed",
                        occurrence.file, occurrence.line, occurrence.reference
                    );
                    continue;
                }
            }
            // An untagged image string in values (the tag under another key of the chart) or a
            // kustomization entry without `newTag`: which tag is pulled is not in this file.
            let untagged_elsewhere = matches!(
                (&occurrence.kind, &occurrence.shape),
                (SourceKind::HelmValues, Shape::String { field })
                    if tag_and_digest(field.value.trim()).is_empty()
            ) || matches!(
                (&occurrence.kind, &occurrence.shape),
                (SourceKind::Kustomize, Shape::Kustomize { .. })
                    if tag_and_digest(&occurrence.reference).is_empty()
            );
            if untagged_elsewhere {
                eprintln!(
                    "{}:{}: `{}` has no tag here (the tag the deployment pulls is set elsewhere): not pre-warmed",
                    occurrence.file, occurrence.line, occurrence.reference
                );
                continue;
            }
            if !references.contains(&occurrence.reference) {
                references.push(occurrence.reference);
            }
        }
    }
    Ok(references)
}

fn print_problems(problems: &[Problem], notes: &[Note]) {
    for problem in problems {
        eprintln!("{}:{}: {}", problem.file, problem.line, problem.message);
    }
    for note in notes {
        eprintln!("{}:{}: {}", note.file, note.line, note.message);
    }
}

/// What the rewrite does with one occurrence.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
enum Action {
    /// Already through the cache, or exempt: nothing to do.
    Keep { why: String },
    /// Pointed at `cache_uri`.
    Rewrite { cache_uri: String },
    /// Bypasses the cache and stays so: no rule serves it, a digest-only reference, or the
    /// strings cannot be rewritten in place.
    Bypass {
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_uri: Option<String>,
        why: String,
    },
    /// Not an image reference.
    Invalid { why: String },
}

/// One reference of the `--json` output.
#[derive(Debug, Clone, Serialize)]
struct ReferenceReport {
    #[serde(flatten)]
    occurrence: Occurrence,
    /// The audit's verdict before the rewrite: `via-cache`, `direct`, `broken`…
    source: ImageSource,
    #[serde(flatten)]
    action: Action,
}

#[derive(Debug, Clone, Serialize)]
struct FileReport {
    file: String,
    format: manifests::FileFormat,
    /// `--in-place`: whether the file was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    written: Option<bool>,
    /// `--in-place`: why a file with changes was not written.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_written_because: Option<String>,
    /// `--diff`: the unified diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
    problems: Vec<Problem>,
    notes: Vec<Note>,
}

#[derive(Debug, Clone, Serialize)]
struct RewriteReport {
    registry: String,
    mode: &'static str,
    files: Vec<FileReport>,
    references: Vec<ReferenceReport>,
    /// References that bypass the cache before the rewrite (`--check` fails on any).
    bypassing: usize,
    /// References that still bypass it after the rewrite, problems included.
    left_bypassing: usize,
}

fn decide(
    occurrence: &Occurrence,
    host: &str,
    rules: &[CacheRule],
    allow_digest: bool,
    text: &str,
) -> (ImageSource, Action, Vec<Edit>) {
    if occurrence.kind == SourceKind::RegistryPrefix {
        return decide_prefix(occurrence, host, rules);
    }
    let source = classify(&occurrence.reference, host, rules);
    let target = match &source {
        ImageSource::ViaCache { rule_prefix } => {
            let why = format!("already through the cache (rule `{rule_prefix}`)");
            return (source, Action::Keep { why }, Vec::new());
        }
        ImageSource::Exempt { reason } => {
            let why = format!("exempt: {reason}");
            return (source, Action::Keep { why }, Vec::new());
        }
        ImageSource::Invalid { error } => {
            let why = error.clone();
            return (source, Action::Invalid { why }, Vec::new());
        }
        ImageSource::Direct {
            cache_uri: None,
            no_cache_uri_because,
        } => {
            let why = no_cache_uri_because.clone().unwrap_or_default();
            return (
                source,
                Action::Bypass {
                    cache_uri: None,
                    why,
                },
                Vec::new(),
            );
        }
        ImageSource::DigestOnly { cache_uri, .. } if !allow_digest => {
            let why = format!(
                "digest-only, left as written: {DIGEST_ONLY_REASON} (`--allow-digest` rewrites it anyway)"
            );
            let cache_uri = cache_uri.clone();
            return (source, Action::Bypass { cache_uri, why }, Vec::new());
        }
        other => other.cache_uri().map(str::to_owned),
    };
    let Some(cache_uri) = target else {
        let why = "no cache URI".to_owned();
        return (
            source,
            Action::Bypass {
                cache_uri: None,
                why,
            },
            Vec::new(),
        );
    };
    match edits_for(occurrence, &cache_uri, text) {
        Ok(edits) => (source, Action::Rewrite { cache_uri }, edits),
        Err(why) => (
            source,
            Action::Bypass {
                cache_uri: Some(cache_uri),
                why,
            },
            Vec::new(),
        ),
    }
}

/// A registry-prefix key (`hub: docker.io/istio`): rewritten as the cache prefix the chart's
/// images then sit under (`<host>/docker-hub/istio`), found by mapping a probe image.
fn decide_prefix(
    occurrence: &Occurrence,
    host: &str,
    rules: &[CacheRule],
) -> (ImageSource, Action, Vec<Edit>) {
    let source = classify(&prefix_probe(&occurrence.reference), host, rules);
    let cache_uri = match &source {
        ImageSource::ViaCache { rule_prefix } => {
            let why = format!("a registry prefix already through the cache (rule `{rule_prefix}`)");
            return (source, Action::Keep { why }, Vec::new());
        }
        ImageSource::Exempt { reason } => {
            let why = format!("exempt: {reason}");
            return (source, Action::Keep { why }, Vec::new());
        }
        other => other
            .cache_uri()
            .and_then(prefix_from_probe)
            .map(str::to_owned),
    };
    let Some(cache_prefix) = cache_uri else {
        let why = "a registry prefix no rule serves".to_owned();
        return (
            source,
            Action::Bypass {
                cache_uri: None,
                why,
            },
            Vec::new(),
        );
    };
    match prefix_edit(occurrence, &cache_prefix) {
        Ok(edits) => (
            source,
            Action::Rewrite {
                cache_uri: cache_prefix,
            },
            edits,
        ),
        Err(why) => (
            source,
            Action::Bypass {
                cache_uri: Some(cache_prefix),
                why,
            },
            Vec::new(),
        ),
    }
}

/// The registry host the cache URIs name: `--registry`, else the rules' registry id and the
/// region of the AWS configuration.
pub fn host_for(
    arguments: &RewriteArgs,
    rules: &[CacheRule],
    region: Option<String>,
) -> Result<String, CliError> {
    if let Some(host) = &arguments.registry {
        return Ok(host.clone());
    }
    let registry_id = rules.iter().find_map(|rule| rule.registry_id.clone());
    match (registry_id, region) {
        (Some(registry_id), Some(region)) => Ok(registry_host(&registry_id, &region)),
        _ => Err(CliError::Usage(
            "cannot tell the registry host: give `--registry <account>.dkr.ecr.<region>.amazonaws.com`"
                .to_owned(),
        )),
    }
}

/// `ptc rewrite -f PATH…`.
pub async fn rewrite(
    global: &GlobalOptions,
    arguments: &RewriteArgs,
) -> Result<ExitCode, CliError> {
    let scans = scan_paths(&arguments.files)?;
    if arguments.in_place && scans.iter().any(|(input, _)| input.path.is_none()) {
        return Err(CliError::Usage(
            "`--in-place` cannot rewrite stdin: use `--diff`, or give the file".to_owned(),
        ));
    }
    let clients = match arguments.rules.rules_file {
        Some(_) => None,
        None => Some(clients().await),
    };
    let rules = load_rules(&arguments.rules, clients.as_ref()).await?;
    let region = clients
        .as_ref()
        .and_then(|clients| clients.region().map(str::to_owned));
    let host = host_for(arguments, &rules, region)?;
    let mode = if arguments.check {
        "check"
    } else if arguments.in_place {
        "in-place"
    } else if arguments.diff {
        "diff"
    } else {
        "table"
    };

    let mut references = Vec::new();
    let mut files = Vec::new();
    let mut write_failures = Vec::new();
    for (input, scan) in &scans {
        let mut edits = Vec::new();
        for occurrence in &scan.occurrences {
            let (source, action, occurrence_edits) = decide(
                occurrence,
                &host,
                &rules,
                arguments.allow_digest,
                &input.text,
            );
            edits.extend(occurrence_edits);
            references.push(ReferenceReport {
                occurrence: occurrence.clone(),
                source,
                action,
            });
        }
        let mut file = FileReport {
            file: input.name.clone(),
            format: scan.format,
            written: None,
            not_written_because: None,
            diff: None,
            problems: scan.problems.clone(),
            notes: scan
                .notes
                .iter()
                .cloned()
                .chain(scan.ambiguous.iter().map(Ambiguous::as_note))
                .collect(),
        };
        if !edits.is_empty() && (arguments.diff || arguments.in_place) {
            let rewritten = apply(&input.text, &edits).map_err(CliError::Run)?;
            if arguments.diff {
                file.diff = Some(unified_diff(&input.name, &input.text, &rewritten));
            } else if !scan.complete() {
                file.written = Some(false);
                file.not_written_because =
                    Some("a part of the file could not be read: it is not rewritten".to_owned());
            } else if let Some(path) = &input.path {
                match write_atomically(path, &rewritten) {
                    Ok(()) => file.written = Some(true),
                    Err(error) => {
                        write_failures.push(format!("cannot write `{}`: {error}", input.name));
                        file.written = Some(false);
                        file.not_written_because = Some(error.to_string());
                    }
                }
            }
        }
        files.push(file);
    }

    let bypassing = references
        .iter()
        .filter(|reference| reference.source.bypasses_cache())
        .count();
    let n_problems: usize = files.iter().map(|file| file.problems.len()).sum();
    let left = references
        .iter()
        .filter(|reference| {
            matches!(
                reference.action,
                Action::Bypass { .. } | Action::Invalid { .. }
            )
        })
        .count()
        + files
            .iter()
            .filter(|file| file.written == Some(false))
            .count()
        + n_problems;
    let report = RewriteReport {
        registry: host,
        mode,
        files,
        references,
        bypassing,
        left_bypassing: left,
    };
    let failed = if arguments.check {
        bypassing + n_problems > 0
    } else {
        left > 0
    };

    if global.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|error| CliError::Run(error.to_string()))?;
        println!("{text}");
    } else if arguments.diff {
        for file in &report.files {
            if let Some(diff) = &file.diff {
                print!("{diff}");
            }
            print_problems(&file.problems, &file.notes);
        }
        print_unchanged(&report);
    } else if arguments.check {
        print_check(&report, n_problems);
    } else {
        print_table(&report);
        if arguments.in_place {
            for file in &report.files {
                match (file.written, &file.not_written_because) {
                    (Some(true), _) => println!("rewrote {}", file.file),
                    (Some(false), Some(why)) => println!("did not rewrite {}: {why}", file.file),
                    _ => {}
                }
            }
        }
    }
    if !write_failures.is_empty() {
        return Err(CliError::Run(write_failures.join("; ")));
    }
    Ok(ExitCode::from(if failed {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }))
}

fn position(occurrence: &Occurrence) -> String {
    format!("{}:{}", occurrence.file, occurrence.line)
}

fn print_table(report: &RewriteReport) {
    let style = Style::for_stdout();
    let rows: Vec<Vec<String>> = report
        .references
        .iter()
        .map(|reference| {
            let outcome = match &reference.action {
                Action::Rewrite { cache_uri } => cache_uri.clone(),
                Action::Keep { why } => style.dim(why),
                Action::Bypass { why, .. } | Action::Invalid { why } => style.bad(why),
            };
            vec![
                position(&reference.occurrence),
                reference.occurrence.location.clone(),
                reference.occurrence.reference.clone(),
                outcome,
            ]
        })
        .collect();
    if !rows.is_empty() {
        print!(
            "{}",
            table(
                &["FILE:LINE", "WHERE", "REFERENCE", "CACHE URI / WHY NOT"],
                &rows
            )
        );
    }
    for file in &report.files {
        for note in &file.notes {
            println!("{}:{}: {}", note.file, note.line, note.message);
        }
        for problem in &file.problems {
            println!(
                "{}:{}: {}",
                problem.file,
                problem.line,
                style.bad(&problem.message)
            );
        }
    }
    let n_rewrite = report
        .references
        .iter()
        .filter(|reference| matches!(reference.action, Action::Rewrite { .. }))
        .count();
    println!(
        "\n{} references in {} files: {} bypass the cache, {n_rewrite} of them rewritten to the cache, {} left as they are",
        report.references.len(),
        report.files.len(),
        report.bypassing,
        report.bypassing.saturating_sub(n_rewrite),
    );
}

fn print_unchanged(report: &RewriteReport) {
    for reference in &report.references {
        if let Action::Bypass { why, .. } | Action::Invalid { why } = &reference.action {
            eprintln!(
                "{}: `{}` not rewritten: {why}",
                position(&reference.occurrence),
                reference.occurrence.reference
            );
        }
    }
}

fn print_check(report: &RewriteReport, n_problems: usize) {
    for reference in &report.references {
        if !reference.source.bypasses_cache() {
            continue;
        }
        let fix = match &reference.action {
            Action::Rewrite { cache_uri } => format!("use `{cache_uri}`"),
            Action::Bypass { why, .. } | Action::Invalid { why } | Action::Keep { why } => {
                why.clone()
            }
        };
        println!(
            "{}: {} `{}` ({}): {fix}",
            position(&reference.occurrence),
            reference.source.label(),
            reference.occurrence.reference,
            reference.occurrence.location
        );
    }
    for file in &report.files {
        for problem in &file.problems {
            println!("{}:{}: {}", problem.file, problem.line, problem.message);
        }
    }
    if report.bypassing + n_problems == 0 {
        println!(
            "{} references in {} files: all through the cache or exempt",
            report.references.len(),
            report.files.len()
        );
    } else {
        println!(
            "{} of {} references bypass the cache; {n_problems} problem(s)",
            report.bypassing,
            report.references.len()
        );
    }
}

/// Writes `text` to a temporary file in the same folder, then renames it over `path`, so a
/// reader never sees half a file. The file's permissions are kept.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    // Renaming over a link would replace the link with a file and leave its target as it was.
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::other(
            "a symbolic link: not rewritten in place (rewrite the file it points to)",
        ));
    }
    let folder = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.ptc-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Ok(metadata) = std::fs::metadata(path) {
            std::fs::set_permissions(&temporary, metadata.permissions())?;
        }
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}
