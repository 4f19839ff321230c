//! Human output: aligned tables, colour only on a terminal (and never with `NO_COLOR`), a
//! spinner on stderr while a long run works. `--json` bypasses all of it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ptc_ops::domain::change_summary;
use ptc_ops::domain::secret::scrub;
use ptc_ops::domain::{Report, Severity};
use serde_json::Value;

/// Where [`print_scrubbed`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What `print!`, `println!`, `eprint!` and `eprintln!` do in this crate (see `main.rs`): the
/// text with every known secret value replaced by `***`. A closed pipe (`ptc … | head`) ends
/// the output quietly; any other write failure panics, as the standard macros do.
pub fn print_scrubbed(stream: Stream, text: std::fmt::Arguments<'_>) {
    let written = match stream {
        Stream::Stdout => write_scrubbed(&mut std::io::stdout().lock(), text),
        Stream::Stderr => write_scrubbed(&mut std::io::stderr().lock(), text),
    };
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            panic!("failed printing to {stream:?}: {error}")
        }
        _ => {}
    }
}

fn write_scrubbed(
    out: &mut impl std::io::Write,
    text: std::fmt::Arguments<'_>,
) -> std::io::Result<()> {
    out.write_all(terminal_safe(&scrub(&text.to_string())).as_bytes())?;
    out.flush()
}

/// `text` with every control character shown as an escape (`\u{1b}`) instead of acting on the
/// terminal, but for line breaks, tabs and the colour codes [`Style`] writes (`ESC [ … m`):
/// outside text that `ptc` prints as it is (a rule description, an upstream message) cannot
/// move the cursor, clear the screen, set the window title or hide a link (OSC 8).
fn terminal_safe(text: &str) -> String {
    if !text
        .chars()
        .any(|character| character.is_control() && !matches!(character, '\n' | '\t' | '\r'))
    {
        return text.to_owned();
    }
    let characters: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        if character == '\x1b' {
            let parameters = characters[index + 1..]
                .iter()
                .skip(1)
                .take_while(|next| next.is_ascii_digit() || **next == ';')
                .count();
            let colour = characters.get(index + 1) == Some(&'[')
                && characters.get(index + 2 + parameters) == Some(&'m');
            if colour {
                out.extend(&characters[index..index + 3 + parameters]);
                index += 3 + parameters;
                continue;
            }
        }
        if character.is_control() && !matches!(character, '\n' | '\t' | '\r') {
            out.extend(character.escape_unicode());
        } else {
            out.push(character);
        }
        index += 1;
    }
    out
}

/// Colours for stdout, decided once.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    colour: bool,
}

impl Style {
    pub fn for_stdout() -> Self {
        Style {
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn severity(self, severity: Severity) -> String {
        let label = severity.as_str().to_uppercase();
        match severity {
            Severity::Critical => self.paint("1;31", &label),
            Severity::Warning => self.paint("33", &label),
            Severity::Info => self.paint("2", &label),
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn good(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn bad(self, text: &str) -> String {
        self.paint("31", text)
    }
}

/// Rows under headers, columns padded to the widest cell (by characters, ANSI codes ignored).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(visible_width(cell));
            }
        }
    }
    let mut text = String::new();
    let render = |cells: Vec<String>, text: &mut String| {
        let last = cells.len().saturating_sub(1);
        for (index, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if index < last {
                let padding = widths[index] - visible_width(cell) + 2;
                text.push_str(&" ".repeat(padding));
            }
        }
        text.push('\n');
    };
    render(
        headers.iter().map(|header| (*header).to_owned()).collect(),
        &mut text,
    );
    for row in rows {
        render(row.clone(), &mut text);
    }
    text
}

fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for character in text.chars() {
        match (in_escape, character) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// A table cell for an optional value: the value, or `-`.
pub fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

/// A table cell for a list: its items joined, or `-` when empty.
pub fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table of typed rows, or nothing when there is no row.
pub fn rows_table(headers: &[&str], rows: Vec<Vec<String>>) -> Option<String> {
    (!rows.is_empty()).then(|| table(headers, &rows))
}

/// One planned or made change, as a plan shows it.
#[derive(Debug, Clone, Copy)]
pub struct ShownChange<'a> {
    /// The setting or field, as the report names it (`lifecycle_policy`).
    pub setting: &'a str,
    pub old: &'a Value,
    pub new: &'a Value,
    /// Why it was not written, when that is news (a failure, a skip).
    pub not_written: Option<&'a str>,
}

/// The changes of one subject of a plan: a repository, or the template of a prefix.
#[derive(Debug, Clone)]
pub struct PlanGroup<'a> {
    pub subject: String,
    /// Said after the subject (a template's outcome).
    pub status: Option<String>,
    pub changes: Vec<ShownChange<'a>>,
}

/// A plan people can read: per subject a heading, then one short line per change
/// ([`change_summary::summarize`]); with `diff`, each change's old and new value pretty-printed
/// as a unified diff under its line.
pub fn plan(groups: &[PlanGroup<'_>], diff: bool) -> String {
    let mut text = String::new();
    for group in groups {
        text.push_str(&group.subject);
        if let Some(status) = &group.status {
            text.push_str(&format!(": {status}"));
        }
        text.push('\n');
        for change in &group.changes {
            text.push_str("  ");
            text.push_str(&change_summary::summarize(
                change.setting,
                change.old,
                change.new,
            ));
            if let Some(reason) = change.not_written {
                text.push_str(&format!(" (not written: {})", first_line(reason, 60)));
            }
            text.push('\n');
            if diff {
                let label = format!("{} {}", group.subject, change.setting);
                text.push_str(&unified_diff(
                    &format!("{label} (now)"),
                    &format!("{label} (planned)"),
                    change.old,
                    change.new,
                ));
            }
        }
    }
    text
}

/// `old` and `new` pretty-printed (keys sorted, as `serde_json` keeps them), as a unified diff
/// with three lines of context. Null is an empty document, so a new policy is all additions.
pub fn unified_diff(old_label: &str, new_label: &str, old: &Value, new: &Value) -> String {
    let (old, new) = (document(old), document(new));
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

/// A value as a document: JSON pretty-printed, a string that holds JSON (a policy text) parsed
/// first, any other string as it is.
fn document(value: &Value) -> String {
    let pretty = |value: &Value| {
        let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
        text.push('\n');
        text
    };
    match value {
        Value::Null => String::new(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(parsed) if parsed.is_object() || parsed.is_array() => pretty(&parsed),
            _ => format!("{text}\n"),
        },
        other => pretty(other),
    }
}

/// The first line of `text`, cut at `max` characters.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        format!("{}…", line.chars().take(max - 1).collect::<String>())
    }
}

/// The findings of a report, most severe first, each with its next steps.
pub fn findings<D>(report: &Report<D>, style: Style) -> String {
    if report.findings.is_empty() {
        return format!("{}\n", style.good("no findings"));
    }
    let mut sorted: Vec<_> = report.findings.iter().collect();
    sorted.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
    let mut text = String::new();
    for finding in sorted {
        text.push_str(&format!(
            "{}  {}  {}\n",
            style.severity(finding.severity),
            style.bold(&finding.title),
            style.dim(&format!("[{} · {}]", finding.check, finding.resource))
        ));
        text.push_str(&format!("    {}\n", finding.message));
        for step in &finding.next_steps {
            text.push_str(&format!("    → {step}\n"));
        }
    }
    text
}

/// Widest line of the summary; a sweep has a dozen counts, which on one line ran past 300.
const SUMMARY_WIDTH: usize = 100;

/// `key=value` pairs of the summary, wrapped at [`SUMMARY_WIDTH`] characters between pairs,
/// continuation lines indented.
pub fn summary<D>(report: &Report<D>) -> String {
    let pairs: Vec<String> = report
        .summary
        .iter()
        .filter(|(name, _)| name.as_str() != "alerts_published")
        .map(|(name, value)| format!("{}={value}", name.replace('_', " ")))
        .collect();
    let mut text = String::from(if report.dry_run { "dry run: " } else { "" });
    let mut line_width = text.chars().count();
    for (index, pair) in pairs.iter().enumerate() {
        let last = index + 1 == pairs.len();
        let piece = if last {
            pair.clone()
        } else {
            format!("{pair},")
        };
        let separator = usize::from(index > 0);
        if index > 0 && line_width + separator + piece.chars().count() > SUMMARY_WIDTH {
            text.push_str("\n  ");
            line_width = 2;
        } else if index > 0 {
            text.push(' ');
            line_width += 1;
        }
        line_width += piece.chars().count();
        text.push_str(&piece);
    }
    text.push('\n');
    text
}

/// A spinner on stderr while `future` runs, when stderr is a terminal and output is for humans.
pub async fn with_spinner<T>(
    message: &str,
    json: bool,
    future: impl std::future::Future<Output = T>,
) -> T {
    if json || !std::io::stderr().is_terminal() {
        return future.await;
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    let output = future.await;
    spinner.finish_and_clear();
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_ignoring_colour_codes() {
        let rows = vec![
            vec![
                "\x1b[31mCRITICAL\x1b[0m".to_owned(),
                "docker-hub".to_owned(),
            ],
            vec!["INFO".to_owned(), "k8s".to_owned()],
        ];
        assert_eq!(
            table(&["SEVERITY", "RULE"], &rows),
            "SEVERITY  RULE\n\x1b[31mCRITICAL\x1b[0m  docker-hub\nINFO      k8s\n"
        );
    }

    #[test]
    fn printed_text_cannot_drive_the_terminal() {
        for (case, text, expected) in [
            ("plain", "rule `k8s`\tok\r\n", "rule `k8s`\tok\r\n"),
            (
                "product colours",
                "\x1b[1;31mCRITICAL\x1b[0m",
                "\x1b[1;31mCRITICAL\x1b[0m",
            ),
            ("clear screen", "a\x1b[2Jb", "a\\u{1b}[2Jb"),
            (
                "hidden link",
                "\x1b]8;;https://evil.example\x07x\x1b]8;;\x07",
                "\\u{1b}]8;;https://evil.example\\u{7}x\\u{1b}]8;;\\u{7}",
            ),
            (
                "backspace and c1 csi",
                "ok\x08\u{9b}2J",
                "ok\\u{8}\\u{9b}2J",
            ),
            ("escape at the end", "cut\x1b", "cut\\u{1b}"),
        ] {
            let mut out = Vec::new();
            write_scrubbed(&mut out, format_args!("{text}")).expect("written");
            assert_eq!(String::from_utf8(out).expect("utf8"), expected, "{case}");
        }
    }

    #[test]
    fn printed_text_is_scrubbed() {
        let token = ptc_ops::domain::SecretValue::new("tok\"en\\wïth-ünïcode-printed");
        let cases: [(&str, String); 3] = [
            (
                "table cell",
                table(&["SECRET"], &[vec![token.expose().to_owned()]]),
            ),
            (
                "json document",
                serde_json::json!({"message": token.expose()}).to_string(),
            ),
            ("debug", format!("{:?}", token.expose())),
        ];
        for (case, text) in cases {
            let mut out = Vec::new();
            write_scrubbed(&mut out, format_args!("{text}")).expect("written");
            let printed = String::from_utf8(out).expect("utf8");
            assert!(!printed.contains("wïth-ünïcode"), "{case}: {printed}");
            assert!(printed.contains("***"), "{case}: {printed}");
        }
    }

    #[test]
    fn plans_are_one_line_per_change_and_diffs_show_the_values() {
        let old = serde_json::json!({"rules": [{"rulePriority": 5, "description": "old"}]});
        let new =
            serde_json::json!({"rules": [{"rulePriority": 1, "description": "keep 10 images"}]});
        let (no_tags, tags) = (
            serde_json::json!({"managed-by": null}),
            serde_json::json!({"managed-by": "ecr-ptc-ops"}),
        );
        let groups = [PlanGroup {
            subject: "docker-hub/library/nginx".to_owned(),
            status: None,
            changes: vec![
                ShownChange {
                    setting: "lifecycle_policy",
                    old: &old,
                    new: &new,
                    not_written: None,
                },
                ShownChange {
                    setting: "tags",
                    old: &no_tags,
                    new: &tags,
                    not_written: Some("`ecr:TagResource` was denied\nsecond line"),
                },
            ],
        }];
        assert_eq!(
            plan(&groups, false),
            "docker-hub/library/nginx\n  lifecycle: +1 rule (keep 10 images), -1 rule (old)\n  tags: +managed-by (not written: `ecr:TagResource` was denied)\n"
        );
        let with_diff = plan(&groups, true);
        for line in [
            "--- docker-hub/library/nginx lifecycle_policy (now)",
            "+++ docker-hub/library/nginx lifecycle_policy (planned)",
            "-      \"description\": \"old\",",
            "+      \"description\": \"keep 10 images\",",
            "-  \"managed-by\": null",
            "+  \"managed-by\": \"ecr-ptc-ops\"",
        ] {
            assert!(
                with_diff.lines().any(|printed| printed == line),
                "`{line}` not in:\n{with_diff}"
            );
        }
    }

    #[test]
    fn summaries_wrap_between_pairs() {
        let mut report: Report<()> = Report::new("harden-repository", true);
        for name in [
            "hardening_failures",
            "pull_failures",
            "repositories_changed",
            "repositories_checked",
            "repositories_compliant",
            "repositories_drifted",
            "repositories_not_found",
            "settings_planned",
        ] {
            report.count(name, 1);
        }
        report.count("alerts_published", 2);
        assert_eq!(
            summary(&report),
            "dry run: hardening failures=1, pull failures=1, repositories changed=1, repositories checked=1,\n  repositories compliant=1, repositories drifted=1, repositories not found=1, settings planned=1\n"
        );
        let short: Report<()> = Report::new("validate-cache-rules", false);
        assert_eq!(summary(&short), "\n");
    }

    #[test]
    fn a_policy_text_is_diffed_as_its_json_and_null_as_nothing() {
        let text = Value::String(r#"{"b":1,"a":2}"#.to_owned());
        let diff = unified_diff("now", "planned", &Value::Null, &text);
        assert_eq!(
            diff,
            "--- now\n+++ planned\n@@ -0,0 +1,4 @@\n+{\n+  \"a\": 2,\n+  \"b\": 1\n+}\n"
        );
    }
}
