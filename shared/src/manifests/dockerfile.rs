//! Dockerfile (and Containerfile) `FROM` lines: `FROM [--platform=…] IMAGE [AS NAME]`.
//!
//! Left alone, with a note: a previous stage (`FROM build`), `scratch`, and an image built from
//! build arguments. A `FROM ${BASE}` whose `BASE` has a default in a global `ARG BASE=…` is an
//! occurrence at that default. A `FROM` that does not have this shape is a problem, and the
//! rest of the file is still read.

use std::collections::HashMap;

use super::{ByteSpan, Field, FileScan, Note, Occurrence, Problem, Shape, SourceKind};

/// Whether a text without a telling name reads as a Dockerfile: its first instruction is
/// `FROM` or `ARG`.
pub fn looks_like_dockerfile(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .and_then(|line| line.split_whitespace().next())
        .is_some_and(|word| word.eq_ignore_ascii_case("FROM") || word.eq_ignore_ascii_case("ARG"))
}

/// A global `ARG` default: its value and where it is written.
struct ArgDefault {
    value: String,
    line: usize,
    span: ByteSpan,
    used: bool,
}

pub fn read(text: &str, scan: &mut FileScan) {
    let mut stages: Vec<String> = Vec::new();
    let mut args: HashMap<String, ArgDefault> = HashMap::new();
    let mut offset = 0;
    let mut continued = false;
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
        if was_continued {
            continue;
        }
        let words = words(line);
        let Some((instruction, _)) = words.first() else {
            continue;
        };
        if instruction.starts_with('#') {
            continue;
        }
        if instruction.eq_ignore_ascii_case("ARG") && stages.is_empty() {
            for (word, start) in &words[1..] {
                if let Some((name, value)) = word.split_once('=') {
                    let (value, skip) = unquote(value);
                    let value_start = line_start + start + name.len() + 1 + skip;
                    args.insert(
                        name.to_owned(),
                        ArgDefault {
                            value: value.to_owned(),
                            line: line_number,
                            span: ByteSpan {
                                start: value_start,
                                end: value_start + value.len(),
                            },
                            used: false,
                        },
                    );
                }
            }
            continue;
        }
        if !instruction.eq_ignore_ascii_case("FROM") {
            continue;
        }
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
        let stage_name = match rest.as_slice() {
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
            let name = image
                .strip_prefix("${")
                .and_then(|rest| rest.strip_suffix('}'))
                .or_else(|| image.strip_prefix('$'))
                .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            match name.and_then(|name| args.get_mut(name).map(|arg| (name, arg))) {
                Some((name, arg)) if !arg.value.is_empty() && !arg.value.contains('$') => {
                    if !arg.used {
                        arg.used = true;
                        scan.occurrences.push(Occurrence {
                            file: scan.file.clone(),
                            line: arg.line,
                            kind: SourceKind::DockerfileArg,
                            location: format!("ARG {name} (used by FROM at line {line_number})"),
                            namespace: None,
                            workload: None,
                            container: None,
                            reference: arg.value.clone(),
                            shape: Shape::String {
                                field: Field {
                                    key: name.to_owned(),
                                    value: arg.value.clone(),
                                    line: arg.line,
                                    span: Some(arg.span),
                                    not_editable: None,
                                },
                            },
                        });
                    }
                }
                _ => scan.notes.push(Note {
                    file: scan.file.clone(),
                    line: line_number,
                    text: image.clone(),
                    message: "built from build arguments without a usable default: left alone"
                        .to_owned(),
                }),
            }
            continue;
        }
        let start = line_start + image_start;
        scan.occurrences.push(Occurrence {
            file: scan.file.clone(),
            line: line_number,
            kind: SourceKind::DockerfileFrom,
            location: stage_name,
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
