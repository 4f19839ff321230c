//! Dockerfile (and Containerfile) instructions that pull an image: `FROM [--platform=…] IMAGE
//! [AS NAME]`, `COPY --from=IMAGE` and `RUN --mount=…,from=IMAGE`.
//!
//! Build arguments are expanded as Docker does for `FROM`: the `ARG`s declared before the first
//! `FROM` (global), whose defaults may use earlier ones, overridden by `--build-arg NAME=VALUE`
//! given on the command line. `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` are read
//! (Dockerfile reference, "Environment replacement" and "Understand how ARG and FROM interact").
//!
//! Left alone, with a note: a previous stage (`FROM build`, `COPY --from=build`), a stage index
//! (`--from=0`), and `scratch`. A reference whose image depends on a build argument without a
//! default (and not given) is `ambiguous`: the file alone does not say what is pulled. A `FROM`
//! that does not have its shape is a problem, and the rest of the file is still read.
//!
//! What a rewrite edits: the image text itself, or, when the image comes from build arguments,
//! the default of the one `ARG` that holds the repository (`FROM ${BASE}`, `FROM ${IMAGE}:${TAG}`).
//! An image composed otherwise (`FROM ${REGISTRY}/app:1`) is read but cannot be rewritten in
//! place.

use std::collections::HashMap;

use super::{
    Ambiguous, ByteSpan, Field, FileScan, Note, Occurrence, Problem, ScanOptions, Shape, SourceKind,
};

/// Whether a text without a telling name reads as a Dockerfile: its first instruction is
/// `FROM` or `ARG`.
pub fn looks_like_dockerfile(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .and_then(|line| line.split_whitespace().next())
        .is_some_and(|word| word.eq_ignore_ascii_case("FROM") || word.eq_ignore_ascii_case("ARG"))
}

/// Where a global build argument's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ArgSource {
    /// The default written in the file: its line, and its bytes when the default is plain text
    /// (no variable of its own), so a rewrite can replace it.
    Default { line: usize, span: Option<ByteSpan> },
    /// `--build-arg NAME=VALUE`: outside the file.
    CommandLine,
}

/// A global build argument: its value (`None`: declared without a default and not given).
#[derive(Debug, Clone)]
struct BuildArg {
    value: Option<String>,
    source: ArgSource,
}

/// A text with its variables expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expansion {
    /// Every variable had a value: the text, and the variables it used, in order.
    Resolved { value: String, used: Vec<String> },
    /// A variable without a value (declared without a default, or never declared).
    Unresolved { name: String },
    /// A form this reader does not expand (`${NAME#pattern}`, an unclosed `${`).
    Unsupported { form: String },
}

/// Expands `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` in `text` with `args`.
fn expand(text: &str, args: &HashMap<String, BuildArg>) -> Expansion {
    let mut value = String::new();
    let mut used: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        value.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, modifier, consumed) = if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = braced.find('}') else {
                return Expansion::Unsupported {
                    form: rest[dollar..].to_owned(),
                };
            };
            let inner = &braced[..close];
            let name_end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            (&inner[..name_end], &inner[name_end..], close + 2)
        } else {
            let name_end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..name_end], "", name_end)
        };
        if name.is_empty() {
            return Expansion::Unsupported {
                form: rest[dollar..].chars().take(16).collect(),
            };
        }
        let known = args.get(name).and_then(|arg| arg.value.as_deref());
        let piece = match (modifier, known) {
            ("", Some(known)) => known.to_owned(),
            ("", None) => {
                return Expansion::Unresolved {
                    name: name.to_owned(),
                }
            }
            (modifier, known) if modifier.starts_with(":-") => match known {
                Some(known) if !known.is_empty() => known.to_owned(),
                _ => modifier[2..].to_owned(),
            },
            (modifier, known) if modifier.starts_with(":+") => match known {
                Some(known) if !known.is_empty() => modifier[2..].to_owned(),
                _ => String::new(),
            },
            (modifier, _) => {
                return Expansion::Unsupported {
                    form: format!("${{{name}{modifier}}}"),
                }
            }
        };
        if !used.iter().any(|seen| seen == name) {
            used.push(name.to_owned());
        }
        value.push_str(&piece);
        rest = &after[consumed..];
    }
    value.push_str(rest);
    Expansion::Resolved { value, used }
}

/// The name of the one variable `text` consists of, followed only by a literal or variable tag
/// or digest (`${IMAGE}`, `$IMAGE:1.2`, `${IMAGE}:${TAG}`, `${IMAGE}@sha256:…`): the variable
/// that holds the repository.
fn repository_variable(text: &str) -> Option<(&str, &str)> {
    let (name, rest) = if let Some(braced) = text.strip_prefix("${") {
        let close = braced.find('}')?;
        (&braced[..close], &braced[close + 1..])
    } else {
        let plain = text.strip_prefix('$')?;
        let end = plain
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(plain.len());
        (&plain[..end], &plain[end..])
    };
    let plain_name =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (plain_name && (rest.is_empty() || rest.starts_with(':') || rest.starts_with('@')))
        .then_some((name, rest))
}

/// Reads the global `ARG`s of one instruction line into `args`.
fn declare_args(
    words: &[(String, usize)],
    line_start: usize,
    line_number: usize,
    options: &ScanOptions,
    args: &mut HashMap<String, BuildArg>,
) {
    for (word, start) in words {
        let (name, default) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (word.as_str(), None),
        };
        if let Some(given) = options.build_args.get(name) {
            args.insert(
                name.to_owned(),
                BuildArg {
                    value: Some(given.clone()),
                    source: ArgSource::CommandLine,
                },
            );
            continue;
        }
        let Some(default) = default else {
            args.insert(
                name.to_owned(),
                BuildArg {
                    value: None,
                    source: ArgSource::Default {
                        line: line_number,
                        span: None,
                    },
                },
            );
            continue;
        };
        let (raw, skip) = unquote(default);
        let value_start = line_start + start + name.len() + 1 + skip;
        let (value, span) = match expand(raw, args) {
            Expansion::Resolved { value, used } => {
                let plain = used.is_empty();
                (
                    Some(value),
                    plain.then_some(ByteSpan {
                        start: value_start,
                        end: value_start + raw.len(),
                    }),
                )
            }
            // A default that uses an argument without a value has none itself.
            Expansion::Unresolved { .. } | Expansion::Unsupported { .. } => (None, None),
        };
        args.insert(
            name.to_owned(),
            BuildArg {
                value,
                source: ArgSource::Default {
                    line: line_number,
                    span,
                },
            },
        );
    }
}

pub fn read(text: &str, scan: &mut FileScan, options: &ScanOptions) {
    let mut stages: Vec<String> = Vec::new();
    let mut seen_from = false;
    let mut args: HashMap<String, BuildArg> = HashMap::new();
    let mut offset = 0;
    let mut continued = false;
    // The previous line was a `RUN` or `COPY` whose flags go on on the next line.
    let mut flags_continue = false;
    // Heredoc terminators still open (`RUN <<EOF … EOF`): their lines are the body of the
    // instruction, never instructions themselves.
    let mut heredocs: Vec<String> = Vec::new();
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let line_number = index + 1;
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        if let Some(terminator) = heredocs.first() {
            if line.trim_start_matches('\t') == terminator {
                heredocs.remove(0);
            }
            continue;
        }
        heredocs = heredoc_terminators(line);
        let was_continued = continued;
        continued = line.trim_end().ends_with('\\');
        let words = words(line);
        if was_continued {
            // `RUN --mount=… \` then more flags on the next lines: they are read too, until
            // the command starts.
            if flags_continue {
                read_from_flags(&words, line_start, line_number, &stages, scan);
                flags_continue = continued && words.iter().all(|(word, _)| word.starts_with("--"));
            }
            continue;
        }
        flags_continue = false;
        let Some((instruction, _)) = words.first() else {
            continue;
        };
        if instruction.starts_with('#') {
            continue;
        }
        if instruction.eq_ignore_ascii_case("ARG") {
            // Only the ARGs before the first FROM apply to FROM lines.
            if !seen_from {
                declare_args(&words[1..], line_start, line_number, options, &mut args);
            }
            continue;
        }
        if instruction.eq_ignore_ascii_case("COPY") || instruction.eq_ignore_ascii_case("RUN") {
            read_from_flags(&words[1..], line_start, line_number, &stages, scan);
            flags_continue = continued && words[1..].iter().all(|(word, _)| word.starts_with("--"));
            continue;
        }
        if !instruction.eq_ignore_ascii_case("FROM") {
            continue;
        }
        seen_from = true;
        let rest: Vec<&(String, usize)> = words[1..]
            .iter()
            .filter(|(word, _)| !word.starts_with("--"))
            .collect();
        let problem = |message: &str| Problem {
            file: scan.file.clone(),
            line: line_number,
            message: format!(
                "cannot read `{}`: {message}; expected `FROM [--platform=…] IMAGE [AS NAME]`",
                line.trim()
            ),
        };
        let (image, image_start) = match rest.as_slice() {
            [(image, start)] => (image, start),
            [(image, start), (as_word, _), (name, _)] if as_word.eq_ignore_ascii_case("AS") => {
                stages.push(name.to_ascii_lowercase());
                (image, start)
            }
            [] if continued => {
                scan.problems
                    .push(problem("the image is on a continuation line"));
                continue;
            }
            [] => {
                scan.problems.push(problem("no image"));
                continue;
            }
            _ => {
                scan.problems
                    .push(problem("unexpected words after the image"));
                continue;
            }
        };
        let location = match rest.as_slice() {
            [_, _, (name, _)] => format!("FROM (stage {name})"),
            _ => "FROM".to_owned(),
        };
        let lower = image.to_ascii_lowercase();
        let earlier_stage = stages
            .iter()
            .take(stages.len().saturating_sub(usize::from(rest.len() == 3)))
            .any(|stage| *stage == lower);
        if earlier_stage || lower == "scratch" {
            scan.notes.push(Note {
                file: scan.file.clone(),
                line: line_number,
                text: image.clone(),
                message: if earlier_stage {
                    format!("the build stage `{image}`: left alone")
                } else {
                    "`scratch` is no image: left alone".to_owned()
                },
            });
            continue;
        }
        if image.contains('$') {
            let image_at = line_start + image_start;
            read_expanded_from(image, image_at, line_number, location, &args, &stages, scan);
            continue;
        }
        let start = line_start + image_start;
        scan.occurrences.push(Occurrence {
            file: scan.file.clone(),
            line: line_number,
            kind: SourceKind::DockerfileFrom,
            location,
            namespace: None,
            workload: None,
            container: None,
            reference: image.clone(),
            shape: Shape::String {
                field: Field {
                    key: "FROM".to_owned(),
                    value: image.clone(),
                    line: line_number,
                    span: Some(ByteSpan {
                        start,
                        end: start + image.len(),
                    }),
                    not_editable: None,
                },
            },
        });
    }
}

/// A `FROM` whose image uses build arguments.
fn read_expanded_from(
    image: &str,
    image_at: usize,
    line_number: usize,
    location: String,
    args: &HashMap<String, BuildArg>,
    stages: &[String],
    scan: &mut FileScan,
) {
    let (reference, used) = match expand(image, args) {
        Expansion::Resolved { value, used } => (value, used),
        Expansion::Unresolved { name } if chooses_a_stage(image, &name, stages) => {
            scan.notes.push(Note {
                file: scan.file.clone(),
                line: line_number,
                text: image.to_owned(),
                message: format!(
                    "a build stage chosen by `{name}`, which BuildKit predefines: left alone"
                ),
            });
            return;
        }
        Expansion::Unresolved { name } => {
            let declared = args.contains_key(&name);
            scan.ambiguous.push(Ambiguous {
                file: scan.file.clone(),
                line: line_number,
                location,
                text: image.to_owned(),
                message: if declared {
                    format!("the image depends on the build argument `{name}`, which has no default: the file alone does not say what is pulled; give `ARG {name}` a default, or pass `--build-arg {name}=…`")
                } else {
                    format!("the image uses `{name}`, which no `ARG` before the first `FROM` declares (Docker expands it to nothing); declare `ARG {name}=…` before the first `FROM`")
                },
            });
            return;
        }
        Expansion::Unsupported { form } => {
            scan.ambiguous.push(Ambiguous {
                file: scan.file.clone(),
                line: line_number,
                location,
                text: image.to_owned(),
                message: format!("`{form}` is a form of variable this reader does not expand; write the image with `${{NAME}}`, `${{NAME:-default}}` or plain text"),
            });
            return;
        }
    };
    if reference.is_empty() || stages.contains(&reference.to_ascii_lowercase()) {
        scan.notes.push(Note {
            file: scan.file.clone(),
            line: line_number,
            text: image.to_owned(),
            message: if reference.is_empty() {
                "the build arguments expand to nothing: left alone".to_owned()
            } else {
                format!("the build stage `{reference}`: left alone")
            },
        });
        return;
    }
    let names = used
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let shape = match repository_variable(image) {
        Some((name, suffix)) => {
            let arg = &args[name];
            let repository = arg.value.clone().unwrap_or_default();
            let (span, not_editable, line) = match &arg.source {
                ArgSource::Default {
                    line,
                    span: Some(span),
                } => (Some(*span), None, *line),
                ArgSource::Default { line, span: None } => (
                    None,
                    Some(format!("the default of `ARG {name}` is composed of other build arguments: rewrite it by hand")),
                    *line,
                ),
                ArgSource::CommandLine => (
                    None,
                    Some(format!("`{name}` is given with `--build-arg`: change it there")),
                    line_number,
                ),
            };
            let repository_field = Field {
                key: name.to_owned(),
                value: repository.clone(),
                line,
                span,
                not_editable,
            };
            if suffix.is_empty() {
                Shape::String {
                    field: repository_field,
                }
            } else if super::rewrite::tag_and_digest(&repository).is_empty() {
                // `${IMAGE}:${TAG}`: the repository is one argument's default; tag and digest
                // stay as written.
                let suffix_value = reference[repository.len()..].to_owned();
                Shape::Fields {
                    registry: None,
                    repository: repository_field,
                    tag: Some(Field {
                        key: "tag".to_owned(),
                        value: suffix_value.clone(),
                        line: line_number,
                        span: None,
                        not_editable: Some("the tag as the `FROM` line writes it".to_owned()),
                    }),
                    digest: None,
                }
            } else {
                composed_field(&reference, line_number, &names)
            }
        }
        None => match literal_repository(image) {
            // `golang:${GO_VERSION}-alpine`: the repository is text on the `FROM` line.
            Some(repository) => Shape::Fields {
                registry: None,
                repository: Field {
                    key: "FROM".to_owned(),
                    value: repository.to_owned(),
                    line: line_number,
                    span: Some(ByteSpan {
                        start: image_at,
                        end: image_at + repository.len(),
                    }),
                    not_editable: None,
                },
                tag: Some(Field {
                    key: "tag".to_owned(),
                    value: reference[repository.len()..].to_owned(),
                    line: line_number,
                    span: None,
                    not_editable: Some("the tag as the `FROM` line writes it".to_owned()),
                }),
                digest: None,
            },
            None => composed_field(&reference, line_number, &names),
        },
    };
    let line = match &shape {
        Shape::String { field }
        | Shape::Fields {
            repository: field, ..
        } => field.line,
        Shape::Kustomize { name, .. } => name.line,
    };
    let location = match repository_variable(image) {
        Some((name, _)) => format!("ARG {name} (used by FROM at line {line_number})"),
        None => format!("{location} (build arguments {names})"),
    };
    scan.occurrences.push(Occurrence {
        file: scan.file.clone(),
        line,
        kind: SourceKind::DockerfileArg,
        location,
        namespace: None,
        workload: None,
        container: None,
        reference,
        shape,
    });
}

/// The build arguments BuildKit defines in the global scope without an `ARG` (Dockerfile
/// reference, "Automatic platform ARGs in the global scope").
const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// Whether `image` picks a stage of this file by a platform argument (`binaries-$TARGETOS` with
/// stages `binaries-linux`, `binaries-darwin`): the text before the variable starts a stage name.
fn chooses_a_stage(image: &str, name: &str, stages: &[String]) -> bool {
    if !PLATFORM_ARGS.contains(&name) {
        return false;
    }
    let before = image[..image.find('$').unwrap_or(0)].to_ascii_lowercase();
    !before.is_empty() && stages.iter().any(|stage| stage.starts_with(&before))
}

/// The repository of `image` when it is plain text and only the tag or digest uses build
/// arguments (`golang:${GO_VERSION}-alpine`, `registry.k8s.io/etcd:$V`).
fn literal_repository(image: &str) -> Option<&str> {
    let dollar = image.find('$')?;
    let name_end = image.find('@').unwrap_or(image.len());
    let last_slash = image[..name_end].rfind('/').map_or(0, |at| at + 1);
    let tag_start = image[last_slash..name_end]
        .find(':')
        .map(|colon| last_slash + colon)
        .unwrap_or(name_end);
    (tag_start < image.len() && dollar > tag_start && tag_start > 0).then(|| &image[..tag_start])
}

/// An image composed of build arguments and text (`${REGISTRY}/app:1`): read, not editable.
fn composed_field(reference: &str, line_number: usize, names: &str) -> Shape {
    Shape::String {
        field: Field {
            key: "FROM".to_owned(),
            value: reference.to_owned(),
            line: line_number,
            span: None,
            not_editable: Some(format!(
                "the image is composed of the build arguments {names} and text: set the repository in one `ARG` default (`FROM ${{IMAGE}}:${{TAG}}`), or rewrite it by hand"
            )),
        },
    }
}

/// `COPY --from=IMAGE` and `RUN --mount=…,from=IMAGE`: an image unless a stage or a stage index.
fn read_from_flags(
    words: &[(String, usize)],
    line_start: usize,
    line_number: usize,
    stages: &[String],
    scan: &mut FileScan,
) {
    for (word, start) in words.iter().take_while(|(word, _)| word.starts_with("--")) {
        let (kind, location, value, value_offset) =
            if let Some(value) = word.strip_prefix("--from=") {
                (
                    SourceKind::DockerfileCopyFrom,
                    "COPY --from",
                    value,
                    "--from=".len(),
                )
            } else if let Some(options) = word.strip_prefix("--mount=") {
                let mut at = "--mount=".len();
                let mut found = None;
                for option in options.split(',') {
                    if let Some(value) = option.strip_prefix("from=") {
                        found = Some((value, at + "from=".len()));
                    }
                    at += option.len() + 1;
                }
                match found {
                    Some((value, offset)) => (
                        SourceKind::DockerfileMountFrom,
                        "RUN --mount from",
                        value,
                        offset,
                    ),
                    None => continue,
                }
            } else {
                continue;
            };
        let (value, skip) = unquote(value);
        let lower = value.to_ascii_lowercase();
        if value.is_empty() || value.chars().all(|c| c.is_ascii_digit()) || stages.contains(&lower)
        {
            scan.notes.push(Note {
                file: scan.file.clone(),
                line: line_number,
                text: value.to_owned(),
                message: format!("the build stage `{value}`: left alone"),
            });
            continue;
        }
        if value.contains('$') {
            scan.ambiguous.push(Ambiguous {
                file: scan.file.clone(),
                line: line_number,
                location: location.to_owned(),
                text: value.to_owned(),
                message: "an image from build arguments inside a stage: the file alone does not say which; write the image out".to_owned(),
            });
            continue;
        }
        let value_start = line_start + start + value_offset + skip;
        scan.occurrences.push(Occurrence {
            file: scan.file.clone(),
            line: line_number,
            kind,
            location: location.to_owned(),
            namespace: None,
            workload: None,
            container: None,
            reference: value.to_owned(),
            shape: Shape::String {
                field: Field {
                    key: location.to_owned(),
                    value: value.to_owned(),
                    line: line_number,
                    span: Some(ByteSpan {
                        start: value_start,
                        end: value_start + value.len(),
                    }),
                    not_editable: None,
                },
            },
        });
    }
}

/// The words of a line and their byte offsets in it; a trailing `\` is no word.
fn words(line: &str) -> Vec<(String, usize)> {
    let mut words = Vec::new();
    let mut start = None;
    for (index, character) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        match (character.is_whitespace(), start) {
            (true, Some(begin)) => {
                words.push((line[begin..index].to_owned(), begin));
                start = None;
            }
            (false, None) => start = Some(index),
            _ => {}
        }
    }
    if words.last().is_some_and(|(word, _)| word == "\\") {
        words.pop();
    }
    words
}

/// A value without its quotes, and how many bytes the opening quote took.
fn unquote(value: &str) -> (&str, usize) {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return (inner, 1);
        }
    }
    (value, 0)
}

/// The terminators of the heredocs a line opens (`<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`), in
/// order (Dockerfile reference, "Here-Documents").
fn heredoc_terminators(line: &str) -> Vec<String> {
    let mut terminators = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("<<") {
        let after = rest[at + 2..].trim_start_matches('-');
        let word: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|character| character.is_ascii_alphanumeric() || *character == '_')
            .collect();
        if !word.is_empty() {
            terminators.push(word);
        }
        rest = &rest[at + 2..];
    }
    terminators
}
