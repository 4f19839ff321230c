//! `-f PATH…` for `ptc rewrite`, `ptc audit` and `ptc prewarm`: the files teams keep (manifests,
//! Helm values, `HelmRelease`s, kustomizations, Dockerfiles, Compose files, lists), read by
//! `ptc_ops::cluster::manifests`; for `rewrite`, the table, `--diff`, `--in-place` and `--check`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ptc_ops::cluster::audit::{classify, ImageSource, DIGEST_ONLY_REASON};
use ptc_ops::cluster::manifests::rewrite::{
    apply, edits_for, prefix_edit, prefix_from_probe, prefix_probe, tag_and_digest, unified_diff,
    Edit,
};
use ptc_ops::cluster::manifests::{
    self, Ambiguous, FileScan, Note, Occurrence, Problem, ScanOptions, Shape, SourceKind,
};
use ptc_ops::domain::cache_mapping::registry_host;
use ptc_ops::domain::CacheRule;
use rustix::fs::OFlags;
use serde::Serialize;

use super::manifest_files::special_kind;
pub use super::manifest_files::{read_paths, Input};
use super::{clients, load_rules, CliError, EXIT_CLEAN, EXIT_FINDINGS};
use crate::args::{FileLimits, GlobalOptions, RewriteArgs};
use crate::output::{table, Style};

/// Every file of `paths`, read. A skipped file is a note of its own scan.
pub fn scan_paths(
    paths: &[PathBuf],
    limits: FileLimits,
    options: &ScanOptions,
) -> Result<Vec<(Input, FileScan)>, CliError> {
    Ok(read_paths(paths, limits)?
        .into_iter()
        .map(|input| {
            let scan = scan_input(&input, options);
            (input, scan)
        })
        .collect())
}

/// One file read: its images, and why it could not be read or was skipped.
fn scan_input(input: &Input, options: &ScanOptions) -> FileScan {
    let mut scan = manifests::scan_with(&input.name, &input.text, options);
    if let Some(why) = &input.unreadable {
        scan.problems.push(Problem {
            file: input.name.clone(),
            line: 0,
            message: why.clone(),
        });
    }
    if let Some(why) = &input.skipped {
        scan.notes.push(Note {
            file: input.name.clone(),
            line: 0,
            text: String::new(),
            message: why.clone(),
        });
    }
    scan
}

/// The unique references the files use, in order of first use (`ptc prewarm -f`); what could
/// not be read is said on stderr.
pub fn references(
    paths: &[PathBuf],
    limits: FileLimits,
    options: &ScanOptions,
) -> Result<Vec<String>, CliError> {
    let mut references: Vec<String> = Vec::new();
    for (input, scan) in scan_paths(paths, limits, options)? {
        print_problems(&scan.problems, &[]);
        print_skipped(&input);
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

/// Says on stderr why a file was skipped unread (`ptc audit -f`, `ptc prewarm -f`).
pub fn print_skipped(input: &Input) {
    if let Some(why) = &input.skipped {
        eprintln!("{}: {why}", input.name);
    }
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
    /// It bypasses the cache, and an `--allow` pattern lets it: kept, not counted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allowed: bool,
}

/// What happens to one file: decided once, before any output, so that the table, `--diff`
/// and `--in-place` say and do the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileChange {
    /// No reference of the file is rewritten.
    Unchanged,
    /// The file's text with its references rewritten.
    Rewrite { text: String },
    /// References would be rewritten, but the file is never written, and why.
    Refused { why: String },
}

impl FileChange {
    /// `complete`: every part of the file was read.
    fn decide(input: &Input, complete: bool, edits: &[Edit]) -> FileChange {
        if edits.is_empty() {
            return FileChange::Unchanged;
        }
        // A file with a part that could not be read may hold images the edits do not know.
        let refused = if !complete {
            Some("a part of the file could not be read".to_owned())
        } else if input.linked {
            Some("a symbolic link (rewrite the file it points to)".to_owned())
        } else {
            None
        };
        if let Some(why) = refused {
            return FileChange::Refused { why };
        }
        match apply(&input.text, edits) {
            Ok(text) => FileChange::Rewrite { text },
            Err(why) => FileChange::Refused {
                why: format!("its edits conflict ({why})"),
            },
        }
    }

    fn label(&self) -> &'static str {
        match self {
            FileChange::Unchanged => "unchanged",
            FileChange::Rewrite { .. } => "rewritten",
            FileChange::Refused { .. } => "refused",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct FileReport {
    file: String,
    format: manifests::FileFormat,
    /// `unchanged`, `rewritten` (in `--diff` and the table: would be) or `refused`: the same in
    /// every mode.
    change: &'static str,
    /// Why a file with references to rewrite is never written.
    #[serde(skip_serializing_if = "Option::is_none")]
    refused_because: Option<String>,
    /// `--in-place`: whether the file was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    written: Option<bool>,
    /// `--in-place`: why a file with changes was not written (refused, or the write failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    not_written_because: Option<String>,
    /// `--diff`: the unified diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
    /// Why the file was skipped unread (also one of its notes).
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
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
        // `repo:tag@sha256:…`: runtimes pull it by its digest, which does not populate the cache
        // either; like the Kyverno policy, leave it upstream unless its tag is pre-warmed.
        ImageSource::Direct {
            cache_uri: Some(cache_uri),
            ..
        } if !allow_digest && occurrence.reference.contains('@') => {
            let why = "pinned by digest, left as written: a runtime pulls it by its digest, and a first pull by digest does not populate the cache (pre-warm its tag with `ptc prewarm -f`, then `--allow-digest` rewrites it)".to_owned();
            let cache_uri = Some(cache_uri.clone());
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

/// How an ambiguous value's note starts ([`Ambiguous::as_note`]).
const AMBIGUOUS_NOTE: &str = "ambiguous";

/// The region of the AWS configuration without building a client (`AWS_REGION`, then
/// `AWS_DEFAULT_REGION`): enough to name the registry host of rules read from a file.
pub fn configured_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
}

/// The registry host the cache URIs name: `--registry`, else the rules' registry id and the
/// region of the AWS configuration.
pub fn host_for(
    registry: Option<&str>,
    rules: &[CacheRule],
    region: Option<String>,
) -> Result<String, CliError> {
    if let Some(host) = registry {
        return Ok(host.to_owned());
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
    let inputs = read_paths(&arguments.files, arguments.limits)?;
    if arguments.in_place && inputs.iter().any(|input| input.path.is_none()) {
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
        .and_then(|clients| clients.region().map(str::to_owned))
        .or_else(configured_region);
    let host = host_for(arguments.registry.as_deref(), &rules, region)?;
    let options = arguments.build.scan_options();
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
    let mut totals = Totals::default();
    // `--check` prints each file's lines once it is read and keeps only counts, so a CI gate
    // over thousands of files holds one file at a time; the others need every row at the end.
    let prints_as_it_goes = arguments.check && !global.json;
    // One file at a time, its scan moved into the report: memory holds the references once,
    // not every file's scan beside them.
    for input in inputs {
        let scan = scan_input(&input, &options);
        let complete = scan.complete();
        let mut edits = Vec::new();
        let mut file_references = Vec::new();
        for occurrence in scan.occurrences {
            let (source, mut action, mut occurrence_edits) = decide(
                &occurrence,
                &host,
                &rules,
                arguments.allow_digest,
                &input.text,
            );
            let allowed = source.bypasses_cache()
                && occurrence.kind != SourceKind::RegistryPrefix
                && ptc_ops::cluster::audit::is_allowed(&occurrence.reference, &arguments.allow);
            if allowed {
                action = Action::Keep {
                    why: "allowed to bypass the cache (`--allow`)".to_owned(),
                };
                occurrence_edits.clear();
            }
            edits.extend(occurrence_edits);
            file_references.push(ReferenceReport {
                occurrence,
                source,
                action,
                allowed,
            });
        }
        totals.ambiguous += scan.ambiguous.len();
        let change = FileChange::decide(&input, complete, &edits);
        let refused_because = match &change {
            FileChange::Refused { why } => Some(why.clone()),
            _ => None,
        };
        if let Some(why) = &refused_because {
            // The table must not call rewritten what `--in-place` will not write.
            for reference in &mut file_references {
                if let Action::Rewrite { cache_uri } = &reference.action {
                    reference.action = Action::Bypass {
                        cache_uri: Some(cache_uri.clone()),
                        why: format!("its file is left as it is: {why}"),
                    };
                }
            }
        }
        let mut file = FileReport {
            file: input.name.clone(),
            format: scan.format,
            change: change.label(),
            refused_because: refused_because.clone(),
            written: None,
            not_written_because: None,
            diff: None,
            skipped: input.skipped.clone(),
            problems: scan.problems,
            notes: scan
                .notes
                .into_iter()
                .chain(scan.ambiguous.iter().map(Ambiguous::as_note))
                .collect(),
        };
        match (&change, &input.path) {
            (FileChange::Rewrite { text }, _) if arguments.diff => {
                file.diff = Some(unified_diff(&input.name, &input.text, text));
            }
            (FileChange::Rewrite { text }, Some(path)) if arguments.in_place => {
                match write_atomically(path, text) {
                    Ok(()) => file.written = Some(true),
                    Err(error) => {
                        write_failures.push(format!("cannot write `{}`: {error}", input.name));
                        file.written = Some(false);
                        file.not_written_because = Some(error.to_string());
                    }
                }
            }
            (FileChange::Refused { why }, _) if arguments.in_place => {
                file.written = Some(false);
                file.not_written_because = Some(why.clone());
            }
            _ => {}
        }
        totals.add(&file_references, &file);
        if prints_as_it_goes {
            print_check_file(&file_references, &file);
        } else {
            references.extend(file_references);
            files.push(file);
        }
    }

    let n_problems = totals.problems;
    let left = totals.left + write_failures.len() + n_problems;
    let report = RewriteReport {
        registry: host,
        mode,
        files,
        references,
        bypassing: totals.bypassing,
        left_bypassing: left,
    };
    let failed = if arguments.check {
        totals.bypassing + n_problems > 0 || (arguments.strict && totals.ambiguous > 0)
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
        print_check_summary(&totals);
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

/// Counts over every file, kept as each file is done.
#[derive(Debug, Default)]
struct Totals {
    files: usize,
    references: usize,
    /// References that bypass the cache before the rewrite.
    bypassing: usize,
    /// References left bypassing after it (problems and failed writes not included).
    left: usize,
    problems: usize,
    /// Values whose image the files alone do not determine (fail `--check --strict`).
    ambiguous: usize,
}

impl Totals {
    fn add(&mut self, references: &[ReferenceReport], file: &FileReport) {
        self.files += 1;
        self.references += references.len();
        self.bypassing += references
            .iter()
            .filter(|reference| reference.source.bypasses_cache() && !reference.allowed)
            .count();
        self.left += references
            .iter()
            .filter(|reference| {
                matches!(
                    reference.action,
                    Action::Bypass { .. } | Action::Invalid { .. }
                )
            })
            .count();
        self.problems += file.problems.len();
    }
}

/// `--check`'s lines for one file: each reference that bypasses the cache, what was skipped,
/// and what could not be read.
fn print_check_file(references: &[ReferenceReport], file: &FileReport) {
    for reference in references {
        if !reference.source.bypasses_cache() || reference.allowed {
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
    // A CI gate must say what it did not look at, and what it could not decide.
    if let Some(why) = &file.skipped {
        println!("{}:0: {why}", file.file);
    }
    for note in file
        .notes
        .iter()
        .filter(|note| note.message.starts_with(AMBIGUOUS_NOTE))
    {
        println!("{}:{}: {}", note.file, note.line, note.message);
    }
    for problem in &file.problems {
        println!("{}:{}: {}", problem.file, problem.line, problem.message);
    }
}

fn print_check_summary(totals: &Totals) {
    if totals.bypassing + totals.problems == 0 {
        println!(
            "{} references in {} files: all through the cache or exempt",
            totals.references, totals.files
        );
    } else {
        println!(
            "{} of {} references bypass the cache; {} problem(s)",
            totals.bypassing, totals.references, totals.problems
        );
    }
    if totals.ambiguous > 0 {
        println!(
            "{} ambiguous value(s): the files alone do not say which image they pull (`--strict` fails on them)",
            totals.ambiguous
        );
    }
}

/// Writes `text` over `path` so that a reader never sees half a file, and no one else can
/// redirect or read the write: the text goes to a temporary file beside it (see
/// [`temporary_beside`]), renamed over `path` (`rename(2)` replaces the name; a link planted
/// there is never followed). On failure the temporary file is deleted.
///
/// No `fsync`: like `sed -i`, a rewrite of files kept in a repository is not worth a disk
/// flush per file (10,000 of them took 3 to 8 s on a busy disk, against 0.6 s for `--check`).
/// ext4 (`auto_da_alloc`, the default) commits the new data before the rename anyway.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = temporary_beside(path)?;
    temporary.write_all(text.as_bytes())?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
}

/// An empty temporary file in `path`'s folder, already with `path`'s group and mode, for its
/// new content.
///
/// Created exclusively (`O_CREAT | O_EXCL`, and `O_NOFOLLOW`) under an unpredictable name
/// (`.<name>.<16 random characters>.ptc.tmp`), so a link or file planted in a shared folder is
/// never opened; its first mode gives only the owner access, then the original mode is set on
/// the open handle before any content is written, so the content is never more readable than
/// the file it replaces.
fn temporary_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let metadata = std::fs::symlink_metadata(path)?;
    if !metadata.file_type().is_file() {
        return Err(std::io::Error::other(format!(
            "{}: not rewritten in place",
            special_kind(&metadata.file_type())
        )));
    }
    let folder = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mode = metadata.mode() & 0o7777;
    let temporary = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".ptc.tmp")
        .rand_bytes(16)
        .make_in(folder, |candidate| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode & 0o700)
                .custom_flags((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32)
                .open(candidate)
        })?;
    let file = temporary.as_file();
    if file.metadata()?.gid() != metadata.gid() {
        // Under another group the original mode could open the content to other people.
        std::os::unix::fs::fchown(file, None, Some(metadata.gid())).map_err(|error| {
            std::io::Error::other(format!(
                "cannot give the new file the group {} of the original ({error}), so its mode could open it to another group",
                metadata.gid()
            ))
        })?;
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(temporary)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The temporary file has the original mode while still empty, so no content ever sits
    /// in a file more readable than the original; the original mode is kept after the rename.
    #[test]
    fn the_temporary_file_has_the_original_mode_before_any_content() {
        let folder = tempfile::tempdir().expect("folder");
        let path = folder.path().join("values.yaml");
        std::fs::write(&path, "image: nginx\n").expect("written");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("mode");
        let temporary = temporary_beside(&path).expect("created");
        let metadata = std::fs::symlink_metadata(temporary.path()).expect("there");
        assert!(metadata.file_type().is_file());
        assert_eq!(metadata.len(), 0);
        assert_eq!(metadata.permissions().mode() & 0o7777, 0o640);
        assert_eq!(temporary.path().parent(), Some(folder.path()));
        drop(temporary);
        write_atomically(&path, "image: other\n").expect("written");
        let metadata = std::fs::metadata(&path).expect("there");
        assert_eq!(metadata.permissions().mode() & 0o7777, 0o640);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "image: other\n"
        );
        let left: Vec<_> = std::fs::read_dir(folder.path())
            .expect("readable")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["values.yaml"], "no temporary file left behind");
    }
}
