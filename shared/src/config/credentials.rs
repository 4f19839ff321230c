//! `[credentials]`: how upstream credentials of PTC rules are checked for expiry and age.

use std::fmt;

use super::reader::{Problems, Section};

/// The longest horizon accepted for day counts: ten years.
const MAX_DAYS: i64 = 3_650;

/// Settings of `[credentials]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsConfig {
    /// Secrets Manager tag holding a secret's expiry (`YYYY-MM-DD` or RFC 3339).
    pub expiry_tag: String,
    /// Warn when a credential expires within this many days.
    pub warn_days: u32,
    /// Critical when a credential expires within this many days (at most `warn_days`).
    pub critical_days: u32,
    /// With no known expiry, warn when the secret value is older than this.
    pub max_age_days: u32,
    /// Ask the upstream (GitHub, GitLab, Docker Hub) when a token expires.
    pub discover_expiry: bool,
    /// Store a discovered expiry in `expiry_tag` (needs `discover_expiry`).
    pub write_back: bool,
    /// GitHub REST API (GitHub Enterprise: its own API URL).
    pub github_api_url: HttpBaseUrl,
    /// GitLab instance (self-managed: its own URL).
    pub gitlab_url: HttpBaseUrl,
    pub dockerhub_api_url: HttpBaseUrl,
}

/// An `http`/`https` URL without a trailing slash, so paths can be appended with `/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBaseUrl(String);

impl HttpBaseUrl {
    /// Checks the scheme and host; the error says what was expected.
    pub fn parse(text: &str) -> Result<HttpBaseUrl, String> {
        const EXPECTED: &str = "expected an `http://` or `https://` URL without query or fragment";
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(|| EXPECTED.to_owned())?;
        let host = rest.split('/').next().unwrap_or_default();
        let valid = !host.is_empty()
            && !text
                .chars()
                .any(|c| c.is_whitespace() || c == '?' || c == '#');
        if valid {
            Ok(HttpBaseUrl(text.trim_end_matches('/').to_owned()))
        } else {
            Err(EXPECTED.to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HttpBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Secrets Manager tag key: 1 to 128 letters, digits, spaces and `_ . : / = + - @`, not
/// starting with the reserved `aws:`.
pub(crate) fn parse_secret_tag_key(text: &str) -> Result<String, String> {
    let length = text.chars().count();
    let valid = (1..=128).contains(&length)
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
        && !text.to_ascii_lowercase().starts_with("aws:");
    if valid {
        Ok(text.to_owned())
    } else {
        Err("expected a Secrets Manager tag key of 1 to 128 letters, digits, spaces and `_ . : / = + - @`, not starting with `aws:`".to_owned())
    }
}

pub(crate) fn read_credentials(
    mut section: Section<'_>,
    problems: &mut Problems,
) -> Option<CredentialsConfig> {
    let expiry_tag = section.string("expiry_tag", problems, parse_secret_tag_key);
    let warn_days = section.integer_in("warn_days", 1..=MAX_DAYS, problems);
    let critical_days = section.integer_in("critical_days", 0..=MAX_DAYS, problems);
    let max_age_days = section.integer_in("max_age_days", 1..=MAX_DAYS, problems);
    let discover_expiry = section.bool("discover_expiry", problems);
    let write_back = section.bool("write_back", problems);
    let github_api_url = section.string("github_api_url", problems, HttpBaseUrl::parse);
    let gitlab_url = section.string("gitlab_url", problems, HttpBaseUrl::parse);
    let dockerhub_api_url = section.string("dockerhub_api_url", problems, HttpBaseUrl::parse);

    // Checks across keys run only on values that are themselves valid, to report each mistake once.
    let mut consistent = true;
    let warn_days = warn_days.or(30);
    let critical_days = critical_days.or(7);
    if let (Some(warn), Some(critical)) = (warn_days, critical_days) {
        if critical > warn {
            consistent = false;
            problems.report(
                &section.path_of("critical_days"),
                format!("expected at most `warn_days` ({warn}), found {critical}"),
            );
        }
    }
    let discover_expiry = discover_expiry.or(false);
    let write_back = write_back.or(false);
    if write_back == Some(true) && discover_expiry == Some(false) {
        consistent = false;
        problems.report(
            &section.path_of("write_back"),
            "`write_back = true` needs `discover_expiry = true` (only a discovered expiry is written back)",
        );
    }
    section.finish(problems);
    let default_url = |url: &str| HttpBaseUrl(url.to_owned());
    let credentials = CredentialsConfig {
        expiry_tag: expiry_tag.or("ptc-ops:expires-at".to_owned())?,
        warn_days: warn_days?,
        critical_days: critical_days?,
        max_age_days: max_age_days.or(365)?,
        discover_expiry: discover_expiry?,
        write_back: write_back?,
        github_api_url: github_api_url.or(default_url("https://api.github.com"))?,
        gitlab_url: gitlab_url.or(default_url("https://gitlab.com"))?,
        dockerhub_api_url: dockerhub_api_url.or(default_url("https://hub.docker.com"))?,
    };
    consistent.then_some(credentials)
}
