//! Human output: aligned tables, colour only on a terminal (and never with `NO_COLOR`), a
//! spinner on stderr while a long run works. `--json` bypasses all of it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
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
    out.write_all(scrub(&text.to_string()).as_bytes())?;
    out.flush()
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

/// A JSON cell as text: strings bare, null as `-`, lists joined.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) if items.is_empty() => "-".to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| cell(Some(item)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
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

/// `key=value` pairs of the summary on one line.
pub fn summary<D>(report: &Report<D>) -> String {
    let pairs: Vec<String> = report
        .summary
        .iter()
        .filter(|(name, _)| name.as_str() != "alerts_published")
        .map(|(name, value)| format!("{}={value}", name.replace('_', " ")))
        .collect();
    format!(
        "{}{}\n",
        if report.dry_run { "dry run: " } else { "" },
        pairs.join(", ")
    )
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
    fn renders_json_cells() {
        for (value, expected) in [
            (None, "-"),
            (Some(Value::Null), "-"),
            (Some(serde_json::json!("x")), "x"),
            (Some(serde_json::json!(["a", "b"])), "a, b"),
            (Some(serde_json::json!(3)), "3"),
        ] {
            assert_eq!(cell(value.as_ref()), expected);
        }
    }
}
