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
/// leave the process: the value, its parts (the strings of a JSON value, the fields and lines of
/// a malformed one) and each of them JSON- and `Debug`-escaped.
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
    let forms: BTreeSet<String> = fragments(value)
        .iter()
        .flat_map(|fragment| escaped_forms(fragment))
        .filter(|form| form.len() >= MIN_SCRUBBED_LEN)
        .collect();
    KNOWN_SECRET_VALUES
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .extend(forms);
}

/// Key names of credential secrets: never registered on their own, or every message that names
/// a key (`has no accessToken key`) would lose it.
const KEY_NAMES: [&str; 6] = [
    "username",
    "accesstoken",
    "password",
    "token",
    "secret",
    "user",
];

/// The parts of a value that may show up in a text on their own: the value and its trimmed
/// form (a token pasted with a trailing newline is still the same token), every string of a JSON
/// value, and, when the value is not valid JSON (a quote in a token, a missing brace), every
/// line, every `key: value` or `key=value` value, and every word that looks like a token.
fn fragments(value: &str) -> BTreeSet<String> {
    let mut parts = BTreeSet::new();
    parts.insert(value.to_owned());
    let mut add = |part: &str| {
        let part = part.trim();
        if part.len() >= MIN_SCRUBBED_LEN && !is_key_name(part) {
            parts.insert(part.to_owned());
        }
    };
    add(value);
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(document) => string_leaves(&document, &mut add),
        Err(_) => loose_fields(value, &mut add),
    }
    parts
}

fn is_key_name(text: &str) -> bool {
    let normalised: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    KEY_NAMES.contains(&normalised.as_str())
}

/// Every string in a JSON document, keys excepted.
fn string_leaves(document: &serde_json::Value, add: &mut impl FnMut(&str)) {
    match document {
        serde_json::Value::String(text) => add(text),
        serde_json::Value::Array(items) => items.iter().for_each(|item| string_leaves(item, add)),
        serde_json::Value::Object(fields) => {
            fields.values().for_each(|field| string_leaves(field, add))
        }
        _ => {}
    }
}

/// What a malformed secret holds, found without a parser: `{"username":"u","accessToken":"a"b"}`,
/// `accessToken: …` lines, a bare token.
fn loose_fields(value: &str, add: &mut impl FnMut(&str)) {
    for line in value.split(['\n', '\r']) {
        let line = strip_framing(line);
        add(line);
        let segments: Vec<&str> = line.split(',').collect();
        for (index, segment) in segments.iter().enumerate() {
            if let Some(field) = field_value(segment) {
                add(field);
            }
            // The rest of the line from this segment on: a token may hold a comma.
            let tail = segments[index..].join(",");
            if let Some(field) = field_value(&tail) {
                add(field);
            }
        }
        for word in line.split(|c: char| c.is_whitespace() || "\"',;{}".contains(c)) {
            if looks_like_a_token(word) {
                add(word);
            }
        }
    }
}

/// A line without the braces and trailing comma of a JSON object around it.
fn strip_framing(line: &str) -> &str {
    line.trim()
        .trim_start_matches('{')
        .trim_end_matches(',')
        .trim_end_matches('}')
        .trim()
}

/// The value of `key: value`, `"key": "value"` or `key=value`, quotes removed.
fn field_value(segment: &str) -> Option<&str> {
    let segment = segment.trim_start();
    let key_part = segment.strip_prefix('"').unwrap_or(segment);
    let key_length = key_part
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_-.".contains(c)))
        .unwrap_or(key_part.len());
    if key_length == 0 {
        return None;
    }
    let rest = key_part[key_length..]
        .strip_prefix('"')
        .unwrap_or(&key_part[key_length..]);
    let rest = rest.trim_start();
    let value = rest.strip_prefix([':', '='])?.trim();
    let value = value.trim_end_matches(',').trim_end_matches('}').trim_end();
    let value = value.strip_prefix('"').unwrap_or(value);
    Some(value.strip_suffix('"').unwrap_or(value))
}

/// A word long enough and mixed enough to be a credential rather than prose.
fn looks_like_a_token(word: &str) -> bool {
    word.chars().count() >= 12
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(char::is_alphabetic)
}

/// The forms a text takes once escaped, as it appears in a JSON document (a JSON log line, a
/// report), in Rust's `Debug` output (a `?field` of a log line), in the `Debug` of a byte buffer
/// (an HTTP body in an SDK error), ASCII-only escapes, and one escape inside another (a `Debug`
/// field written into a JSON log line).
fn escaped_forms(text: &str) -> BTreeSet<String> {
    let mut forms = BTreeSet::from([text.to_owned()]);
    for first in [
        json_escaped(text),
        debug_escaped(text),
        bytes_debug_escaped(text),
    ] {
        forms.insert(json_escaped(&first));
        forms.insert(debug_escaped(&first));
        forms.insert(first);
    }
    forms.insert(ascii_only(&json_escaped(text)));
    forms.insert(text.escape_default().to_string());
    forms
}

fn json_escaped(text: &str) -> String {
    unquote(&serde_json::Value::String(text.to_owned()).to_string())
}

fn debug_escaped(text: &str) -> String {
    unquote(&format!("{text:?}"))
}

/// As `Bytes` and `b"…"` print: printable ASCII as is, `\\xNN` for every other byte.
fn bytes_debug_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'\n' => escaped.push_str("\\n"),
            b'\r' => escaped.push_str("\\r"),
            b'\t' => escaped.push_str("\\t"),
            b'\\' | b'"' => {
                escaped.push('\\');
                escaped.push(char::from(byte));
            }
            0x20..=0x7e => escaped.push(char::from(byte)),
            _ => escaped.push_str(&format!("\\x{byte:02x}")),
        }
    }
    escaped
}

fn unquote(quoted: &str) -> String {
    quoted
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(quoted)
        .to_owned()
}

/// JSON with every non-ASCII character as `\uXXXX` (UTF-16), as other JSON writers emit it.
fn ascii_only(json: &str) -> String {
    let mut escaped = String::with_capacity(json.len());
    for character in json.chars() {
        if character.is_ascii() {
            escaped.push(character);
        } else {
            let mut units = [0u16; 2];
            for unit in character.encode_utf16(&mut units) {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    escaped
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
    use crate::named_cases;

    #[test]
    fn never_prints_the_value() {
        let secret = SecretValue::new("dckr_pat_never-printed-1");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "dckr_pat_never-printed-1");
        assert!(!secret.is_empty());
        assert!(SecretValue::new("").is_empty());
    }

    /// Registers the secrets of the scrubbing table; they stay registered while held.
    fn registered() -> [SecretValue; 3] {
        [
            SecretValue::new("ghp_scrub-me-please-0123"),
            SecretValue::new("abc"),
            SecretValue::new("  glpat-with-spaces-77\n"),
        ]
    }

    /// With the table's secrets registered, `input` is scrubbed to `expected`.
    fn check_scrub(name: &str, input: &str, expected: &str) {
        let _registered = registered();
        assert_eq!(scrub(input), expected, "{name}: input {input:?}");
    }

    named_cases! {
        /// Registered values are scrubbed; values too short to scrub stay.
        mod scrubs_registered_values => check_scrub;
        registered_value_is_scrubbed("token ghp_scrub-me-please-0123 leaked", "token *** leaked"),
        short_value_stays("abc stays: too short to scrub", "abc stays: too short to scrub"),
        padded_value_is_scrubbed_without_its_padding(
            "pasted glpat-with-spaces-77 here",
            "pasted *** here",
        ),
        text_without_secrets_stays("nothing to hide", "nothing to hide"),
    }

    #[test]
    fn registered_values_are_detected() {
        let _registered = registered();
        assert!(contains_secret("x ghp_scrub-me-please-0123 y"));
        assert!(!contains_secret("nothing to hide"));
    }

    /// A token a JSON or `Debug` writer has to escape: quotes, backslashes, non-ASCII.
    fn hostile(name: &str) -> String {
        format!("tok\"en\\wïth-ünïcode-{name}")
    }

    fn assert_scrubbed(case: &str, token: &str, text: &str) {
        let scrubbed = scrub(text);
        assert!(
            scrubbed.contains(REDACTED),
            "{case}: nothing scrubbed in {scrubbed:?}"
        );
        for form in escaped_forms(token) {
            assert!(
                !scrubbed.contains(&form),
                "{case}: {form:?} left in {scrubbed:?}"
            );
        }
        // Not even a recognisable piece of it.
        assert!(!scrubbed.contains("wïth-ünïcode"), "{case}: {scrubbed:?}");
        assert!(!scrubbed.contains("with-\\u00fcn"), "{case}: {scrubbed:?}");
        assert!(!contains_secret(&scrubbed), "{case}: {scrubbed:?}");
    }

    /// The text `form` builds around a registered hostile token is scrubbed of every escaped form.
    fn check_escaped_form(case: &str, form: fn(&str) -> String) {
        let token = hostile("forms");
        let _secret = SecretValue::new(
            serde_json::json!({"username": "ptc-user", "accessToken": token}).to_string(),
        );
        assert_scrubbed(case, &token, &form(&token));
    }

    named_cases! {
        /// Every escaped form of a hostile token is scrubbed.
        mod scrubs_every_escaped_form_of_a_hostile_token => check_escaped_form;
        raw(|token| format!("token {token} leaked")),
        json(|token| serde_json::json!({ "message": token }).to_string()),
        debug(|token| format!("value: {token:?}")),
        debug_inside_json(|token|
            serde_json::json!({ "field": format!("{token:?}") }).to_string(),
        ),
        json_inside_debug(|token|
            format!("{:?}", serde_json::json!({ "t": token }).to_string()),
        ),
        json_inside_json(|token|
            serde_json::json!({ "body": serde_json::json!({ "t": token }).to_string() })
                .to_string(),
        ),
        ascii_only_json(|token| ascii_only(&json_escaped(token))),
        escape_default(|token| token.escape_default().to_string()),
        http_body_in_an_sdk_error(|token|
            format!(
                "{:?}",
                aws_smithy_types::body::SdkBody::from(format!("{{\"t\":\"{token}\"}}"))
            ),
        ),
    }

    #[test]
    fn tokens_in_json_lists_are_scrubbed() {
        let _secret = SecretValue::new(
            serde_json::json!({"username": "ptc-user", "accessTokens": ["glpat-listed0123456789"]})
                .to_string(),
        );
        assert_eq!(
            scrub("token glpat-listed0123456789 leaked"),
            "token *** leaked"
        );
    }

    #[test]
    fn a_token_among_words_is_found_and_the_words_stay() {
        let _secret =
            SecretValue::new("authentication token for the pipeline ghp_w0rdsAround0123456789");
        assert_eq!(
            scrub("token ghp_w0rdsAround0123456789 leaked"),
            "token *** leaked"
        );
        // Long words without a digit are prose, not tokens.
        assert_eq!(
            scrub("authentication failed for the pipeline"),
            "authentication failed for the pipeline"
        );
    }

    #[test]
    fn the_debug_form_of_a_token_with_an_invisible_character_is_scrubbed() {
        // `Debug` keeps `ï` and escapes the zero-width space; no other form does both.
        let token = "wïth\u{200b}zero-width-0123456";
        let _secret = SecretValue::new(token);
        assert_eq!(scrub(&format!("value: {token:?}")), "value: \"***\"");
    }

    #[test]
    fn a_whole_secret_in_an_http_body_is_scrubbed_line_breaks_and_tabs_included() {
        // Non-ASCII too: only the bytes' `Debug` writes it as `\xNN` and a line break as `\n`.
        let value =
            "{\n  \"username\": \"ptc-üser\",\n\t\"accessToken\": \"ghp_b0dyToken0123456789\"\r\n}";
        let _secret = SecretValue::new(value);
        let body = format!("{:?}", aws_smithy_types::body::SdkBody::from(value));
        let scrubbed = scrub(&body);
        assert!(!scrubbed.contains("username"), "{scrubbed}");
        assert!(!contains_secret(&scrubbed), "{scrubbed}");
    }

    /// The token inside a malformed secret is scrubbed: the secret's text built around a token.
    fn check_malformed_secret(case: &str, secret: fn(&str) -> String) {
        let token = hostile(case);
        let _secret = SecretValue::new(secret(&token));
        assert_scrubbed(case, &token, &format!("token {token} leaked"));
        assert_scrubbed(case, &token, &format!("{:?}", format!("in debug {token}")));
        assert_scrubbed(
            case,
            &token,
            &serde_json::json!({ "message": format!("in json {token}") }).to_string(),
        );
    }

    named_cases! {
        /// The token inside a malformed secret is scrubbed: the secret's text built around a token.
        mod scrubs_the_token_inside_a_malformed_secret => check_malformed_secret;
        unescaped_quote_in_json(|token| {
            format!(r#"{{"username":"ptc-user","accessToken":"{token}"}}"#)
        }),
        missing_closing_brace(|token| {
            format!(r#"{{"username": "ptc-user", "accessToken": "{token}""#)
        }),
        one_field_per_line(|token| {
            format!("{{\n  \"username\": \"ptc-user\",\n  \"accessToken\": \"{token}\"\n")
        }),
        yaml_like(|token| {
            format!("username: ptc-user\naccessToken: {token}\n")
        }),
        env_like(|token| {
            format!("USERNAME=ptc-user\nACCESS_TOKEN={token}")
        }),
        valid_json_misspelled_key(|token| {
            serde_json::json!({"user": "ptc-user", "access_token": token}).to_string()
        }),
    }

    /// With secrets holding key names registered, the prose `text` stays as it is.
    fn check_prose_stays(name: &str, text: &str) {
        let _secret = SecretValue::new(
            "{\"username\": \"ptc-user\",\n\"accessToken\": tok\"en-unquoted-77\n\"password\": x}",
        );
        // Keys and values pasted on lines of their own.
        let _pasted = SecretValue::new("accessToken\npassword\nglpat-pasted0123456789");
        assert_eq!(scrub(text), text, "{name}");
    }

    named_cases! {
        /// Key names and prose stay readable when a secret holding them is registered.
        mod key_names_and_prose_stay_readable => check_prose_stays;
        access_token_key("the value has no `accessToken` key"),
        password_key("ECR rejects a credential secret with a `password` key"),
        username_key("`username` must be a JSON string"),
    }
}
