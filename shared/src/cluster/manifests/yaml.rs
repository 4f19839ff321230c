//! YAML documents as trees whose scalars know where they are in the file: line, and the byte
//! span of the text that holds their value, so a rewrite replaces exactly those bytes and keeps
//! every comment, quote and key order around them.
//!
//! Events come from `saphyr-parser` (a YAML 1.2 parser that reports a start and end marker for
//! every event; `serde_norway` has no positions). Markers count characters; this module turns
//! them into byte offsets. A multi-document stream is split at its `---` lines and each
//! document parsed on its own, so one broken document does not hide the others.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A scalar and where its value is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub value: String,
    /// 1-based line of the scalar.
    pub line: usize,
    /// 0-based column (characters) of the scalar.
    pub col: usize,
    /// The bytes that hold the value verbatim (inside the quotes; the one content line of a
    /// block scalar), or why there are none (escapes, several lines).
    pub span: Result<Range<usize>, String>,
    /// Byte offset of the end of the scalar as written (after a closing quote).
    pub end: usize,
    pub plain: bool,
    /// `null`, `~` or nothing at all, unquoted.
    pub is_null: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Alias,
}

impl Node {
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find_map(|(k, v)| match k {
                Node::Scalar(scalar) if scalar.value == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// Follows a path of mapping keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The value of a non-null scalar.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar()
            .filter(|scalar| !scalar.is_null)
            .map(|scalar| scalar.value.as_str())
    }
}

/// One document of a stream, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// 1-based line where the document starts.
    pub line: usize,
    pub root: Result<Option<Node>, YamlError>,
    /// The document holds `{{` (a Helm or Go template, which is not YAML until rendered).
    pub templated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Every document of `text`, in order.
pub fn documents(text: &str) -> Vec<Document> {
    split_documents(text)
        .into_iter()
        .map(|(offset, line)| {
            let end = next_boundary(text, offset);
            // Directives (`%YAML 1.2`) and comments before a `---` belong to the document that
            // follows; alone they are no document.
            let only_directives = text[offset..end].lines().all(|line| {
                let line = line.trim();
                line.is_empty() || line.starts_with('#') || line.starts_with('%')
            });
            Document {
                line,
                root: if only_directives {
                    Ok(None)
                } else {
                    parse_one(&text[offset..end], offset, line).or_else(|error| {
                        // A flow collection whose closing `]` or `}` sits at its key's
                        // indentation: Python's, Go's and Kubernetes' parsers take it; read it as
                        // they do, from a copy where the bracket closes the line before.
                        match lift_closing_brackets(&text[offset..end]) {
                            Some(lifted) => parse_one(&lifted, offset, line).map_err(|_| error),
                            None => Err(error),
                        }
                    })
                },
                templated: text[offset..end].contains("{{"),
            }
        })
        .filter(|document| !matches!(document.root, Ok(None)))
        .collect()
}

/// `chunk` with each line that holds only a closing `]` or `}` moved to the end of the last
/// non-blank line before it (when that line has no comment), or `None` when no line moved. Every
/// line keeps its number and every scalar its bytes: the copy is exactly as long, and only the
/// bracket and the whitespace after the last scalar move.
fn lift_closing_brackets(chunk: &str) -> Option<String> {
    let mut lines: Vec<String> = chunk.split_inclusive('\n').map(str::to_owned).collect();
    let mut moved = false;
    for index in 1..lines.len() {
        let bracket = match lines[index].trim() {
            "]" => "]",
            "}" => "}",
            _ => continue,
        };
        let Some(previous) = (0..index).rev().find(|&at| !lines[at].trim().is_empty()) else {
            continue;
        };
        if lines[previous].contains('#') {
            continue;
        }
        let ending_at = lines[previous].trim_end_matches(['\n', '\r']).len();
        lines[previous].insert_str(ending_at, bracket);
        let at = lines[index].find(bracket).unwrap_or(0);
        lines[index].replace_range(at..at + 1, "");
        moved = true;
    }
    moved.then(|| lines.concat())
}

/// Byte offset and 1-based line of each document: the start, and every line that is `---`
/// (alone or followed by a space or a comment).
fn split_documents(text: &str) -> Vec<(usize, usize)> {
    let mut starts = vec![(0, 1)];
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if index > 0 && is_separator(line) {
            starts.push((offset, index + 1));
        }
        offset += line.len();
    }
    starts
}

fn is_separator(line: &str) -> bool {
    let line = line.trim_end_matches(['\n', '\r']);
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t")
}

fn next_boundary(text: &str, offset: usize) -> usize {
    let mut position = offset;
    let mut first = true;
    for line in text[offset..].split_inclusive('\n') {
        if !first && is_separator(line) {
            return position;
        }
        first = false;
        position += line.len();
    }
    text.len()
}

/// Deeper nesting is refused: the readers walk the tree recursively, and no manifest, values
/// file or kustomization nests anywhere near this.
const MAX_DEPTH: usize = 128;

fn parse_one(chunk: &str, offset: usize, first_line: usize) -> Result<Option<Node>, YamlError> {
    let bytes_at: Vec<usize> = chunk
        .char_indices()
        .map(|(byte, _)| byte)
        .chain(std::iter::once(chunk.len()))
        .collect();
    let byte = |char_index: usize| bytes_at.get(char_index).copied().unwrap_or(chunk.len());
    let mut stack: Vec<Builder> = Vec::new();
    let mut root: Option<Node> = None;
    for event in Parser::new_from_str(chunk) {
        let (event, span) = event.map_err(|error| YamlError {
            line: error.marker().line() + first_line - 1,
            col: error.marker().col(),
            message: error.info().to_owned(),
        })?;
        let node = match event {
            Event::Scalar(value, style, _, tag) => {
                let (start, end) = (byte(span.start.index()), byte(span.end.index()));
                let raw = &chunk[start..end.max(start)];
                let is_null = style == ScalarStyle::Plain
                    && tag.is_none()
                    && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                Some(Node::Scalar(Scalar {
                    span: content_span(raw, &value, style)
                        .map(|range| range.start + start + offset..range.end + start + offset),
                    value: value.into_owned(),
                    line: span.start.line() + first_line - 1,
                    col: span.start.col(),
                    end: end + offset,
                    plain: style == ScalarStyle::Plain,
                    is_null,
                }))
            }
            Event::Alias(_) => Some(Node::Alias),
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                return Err(YamlError {
                    line: span.start.line() + first_line - 1,
                    col: span.start.col(),
                    message: format!("nested deeper than {MAX_DEPTH} levels: not read"),
                });
            }
            Event::SequenceStart(..) => {
                stack.push(Builder::Seq(Vec::new()));
                None
            }
            Event::MappingStart(..) => {
                stack.push(Builder::Map(Vec::new(), None));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop().map(Builder::finish),
            _ => None,
        };
        if let Some(node) = node {
            match stack.last_mut() {
                Some(builder) => builder.push(node),
                // A second document in one chunk (after `...` with no `---`): refused rather
                // than losing the first.
                None if root.is_some() => {
                    return Err(YamlError {
                        line: span.start.line() + first_line - 1,
                        col: span.start.col(),
                        message: "a second document after `...` without `---`: not read".to_owned(),
                    });
                }
                None => root = Some(node),
            }
        }
    }
    Ok(root)
}

enum Builder {
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>, Option<Node>),
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self {
            Builder::Seq(items) => items.push(node),
            Builder::Map(entries, key) => match key.take() {
                Some(key) => entries.push((key, node)),
                None => *key = Some(node),
            },
        }
    }

    fn finish(self) -> Node {
        match self {
            Builder::Seq(items) => Node::Seq(items),
            Builder::Map(entries, _) => Node::Map(entries),
        }
    }
}

/// Where in `raw` (the scalar as written) its value stands verbatim. An anchor or a tag
/// before the value (`&base redis:7`, `!!str 7`) is skipped.
fn content_span(raw: &str, value: &str, style: ScalarStyle) -> Result<Range<usize>, String> {
    let mut skipped = 0;
    while raw[skipped..].starts_with(['&', '!']) {
        let rest = &raw[skipped..];
        let Some(space) = rest.find(char::is_whitespace) else {
            break;
        };
        let after = &rest[space..];
        skipped += space + (after.len() - after.trim_start().len());
    }
    content_span_of(&raw[skipped..], value, style)
        .map(|range| range.start + skipped..range.end + skipped)
}

fn content_span_of(raw: &str, value: &str, style: ScalarStyle) -> Result<Range<usize>, String> {
    let verbatim = |range: Range<usize>| {
        (raw.get(range.clone()) == Some(value))
            .then_some(range)
            .ok_or_else(|| "the value is written with escapes or over several lines".to_owned())
    };
    match style {
        ScalarStyle::Plain => verbatim(0..raw.len()),
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            // Verbatim when the closing quote follows the value right away (no escapes).
            let quote = if style == ScalarStyle::SingleQuoted {
                b'\''
            } else {
                b'"'
            };
            let end = 1 + value.len();
            if raw.as_bytes().first() == Some(&quote) && raw.as_bytes().get(end) == Some(&quote) {
                verbatim(1..end)
            } else {
                Err("the value is written with escapes or over several lines".to_owned())
            }
        }
        ScalarStyle::Literal | ScalarStyle::Folded => {
            let content = value.trim_end_matches('\n');
            if content.contains('\n') {
                return Err("a block scalar of several lines".to_owned());
            }
            // The parser's span of a block scalar starts at its content, after the indicator
            // line; an older layout started at the indicator.
            let start = if raw.starts_with(content) {
                0
            } else {
                let body_start = raw.find('\n').map_or(raw.len(), |index| index + 1);
                let body = &raw[body_start..];
                body_start + body.len() - body.trim_start().len()
            };
            (raw.get(start..start + content.len()) == Some(content))
                .then_some(start..start + content.len())
                .ok_or(())
                .map_err(|_| "a block scalar whose text is not its value verbatim".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    fn scalar_at<'n>(node: &'n Node, path: &[&str]) -> &'n Scalar {
        node.at(path)
            .and_then(Node::as_scalar)
            .unwrap_or_else(|| panic!("no scalar at {path:?} in {node:?}"))
    }

    /// One document with a scalar in every style, and a few that have no bytes to rewrite.
    const EVERY_STYLE: &str = "# comment ü\nplain: nginx:1.27 # trailing\nsingle: 'ghcr.io/a/b:v1'\ndouble: \"quay.io/c/d:2\"\nliteral: |\n  busybox:1.36\nfolded: >-\n    redis:7\nescaped: \"a\\u0062c\"\nanchored: &x 'y:1'\nempty:\ntilde: ~\nnumber: 7\nflow: {image: \"x:1\"}\n";

    /// The root of the one document of [`EVERY_STYLE`].
    fn every_style_root() -> Node {
        let documents = documents(EVERY_STYLE);
        assert_eq!(documents.len(), 1);
        documents[0].root.clone().expect("parsed").expect("root")
    }

    /// The scalar under `key` spans the bytes of `value` and starts on `line`.
    fn check_scalar(name: &str, key: &str, value: &str, line: usize) {
        let root = every_style_root();
        let scalar = scalar_at(&root, &[key]);
        let span = scalar.span.clone().expect(key);
        assert_eq!(&EVERY_STYLE[span], value, "{name}: {key}");
        assert_eq!(scalar.line, line, "{name}: {key}");
    }

    named_cases! {
        /// Scalars know their bytes in every style.
        mod scalars_know_their_bytes_in_every_style => check_scalar;
        plain("plain", "nginx:1.27", 2),
        single_quoted("single", "ghcr.io/a/b:v1", 3),
        double_quoted("double", "quay.io/c/d:2", 4),
        literal_block("literal", "busybox:1.36", 6),
        folded_block("folded", "redis:7", 8),
        anchored("anchored", "y:1", 10),
        number("number", "7", 13),
    }

    #[test]
    fn flow_escaped_and_null_scalars() {
        let text = EVERY_STYLE;
        let root = every_style_root();
        assert_eq!(
            &text[scalar_at(&root, &["flow", "image"])
                .span
                .clone()
                .expect("flow")],
            "x:1"
        );
        assert!(scalar_at(&root, &["escaped"]).span.is_err());
        assert!(scalar_at(&root, &["empty"]).is_null);
        assert!(scalar_at(&root, &["tilde"]).is_null);
    }

    #[test]
    fn documents_are_read_one_by_one() {
        let text = "a: 1\n---\nb: [unclosed\n--- # third\nc: 'x'\n";
        let documents = documents(text);
        assert_eq!(documents.len(), 3);
        assert!(documents[0].root.is_ok());
        let error = documents[1].root.clone().expect_err("broken");
        assert!(error.line >= 3, "{error:?}");
        let third = documents[2].root.clone().expect("ok").expect("root");
        assert_eq!(documents[2].line, 4);
        assert_eq!(scalar_at(&third, &["c"]).line, 5);
        assert_eq!(
            &text[scalar_at(&third, &["c"]).span.clone().expect("c")],
            "x"
        );
    }
}
