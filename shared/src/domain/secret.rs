//! Secret values: impossible to print by accident, and scrubbed from every text that leaves
//! the process (log lines, reports, alerts, error messages) even when a bug formats one in.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{LazyLock, RwLock};

/// Values shorter than this are not scrubbed: replacing every `a` or `42` in a log line would
/// destroy it, and a credential that short protects nothing anyway.
const MIN_SCRUBBED_LEN: usize = 6;

const REDACTED: &str = "***";

static KNOWN_SECRET_VALUES: LazyLock<RwLock<BTreeSet<String>>> =
    LazyLock::new(|| RwLock::new(BTreeSet::new()));

/// A credential (upstream access token, secret string). `Debug` and `Display` print `***`; it
/// has no `Serialize`; the only way to the value is [`SecretValue::expose`], which callers use
/// exactly where the value must go (an HTTP `Authorization` header, a JSON parse).
///
/// Creating one registers the value with [`scrub`], the last line of defence for texts that
/// leave the process.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        remember(&value);
        SecretValue(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

fn remember(value: &str) {
    // Register the value and its trimmed form: a token pasted with a trailing newline is
    // still the same token when it shows up in a message.
    for candidate in [value, value.trim()] {
        if candidate.len() >= MIN_SCRUBBED_LEN {
            let mut known = KNOWN_SECRET_VALUES
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !known.contains(candidate) {
                known.insert(candidate.to_owned());
            }
        }
    }
}

/// Replaces every known secret value in `text` with `***`.
pub fn scrub(text: &str) -> String {
    let known = KNOWN_SECRET_VALUES
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Longest first, so a secret that contains another is replaced whole.
    let mut by_length: Vec<&String> = known
        .iter()
        .filter(|value| text.contains(value.as_str()))
        .collect();
    if by_length.is_empty() {
        return text.to_owned();
    }
    by_length.sort_by_key(|value| std::cmp::Reverse(value.len()));
    let mut scrubbed = text.to_owned();
    for value in by_length {
        scrubbed = scrubbed.replace(value.as_str(), REDACTED);
    }
    scrubbed
}

/// Whether `text` contains a known secret value (for tests and assertions at the edges).
pub fn contains_secret(text: &str) -> bool {
    let known = KNOWN_SECRET_VALUES
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    known.iter().any(|value| text.contains(value.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let secret = SecretValue::new("dckr_pat_never-printed-1");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "dckr_pat_never-printed-1");
    }

    #[test]
    fn scrubs_registered_values() {
        let _long = SecretValue::new("ghp_scrub-me-please-0123");
        let _short = SecretValue::new("abc");
        let _padded = SecretValue::new("  glpat-with-spaces-77\n");
        for (input, expected) in [
            ("token ghp_scrub-me-please-0123 leaked", "token *** leaked"),
            (
                "abc stays: too short to scrub",
                "abc stays: too short to scrub",
            ),
            ("pasted glpat-with-spaces-77 here", "pasted *** here"),
            ("nothing to hide", "nothing to hide"),
        ] {
            assert_eq!(scrub(input), expected, "input {input:?}");
        }
        assert!(contains_secret("x ghp_scrub-me-please-0123 y"));
        assert!(!contains_secret("nothing to hide"));
    }
}
