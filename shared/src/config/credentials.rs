//! `[credentials]`: how upstream credentials of PTC rules are checked for expiry and age.

use std::fmt;

use url::{Host, Url};

use super::reader::{describe, Field, Problems, Section};

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
    /// Warn when a Docker Hub rule's credential has fewer pulls left than this share of its
    /// limit (0–100).
    pub min_pulls_remaining_percent: u8,
}

/// The base URL of an upstream API that receives a token: parsed by a URL parser (WHATWG
/// rules, the same the HTTP client applies), `https://`, or `http://` to a loopback host only,
/// and never with a user name or password before the host (`http://localhost:x@other.host/`
/// is a request to `other.host`). Paths are appended to it, so it has no query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBaseUrl {
    url: Url,
    /// The URL as shown in messages: without the trailing `/`.
    text: String,
}

/// What every upstream URL must look like.
const EXPECTED_URL: &str = "expected an `https://` URL with a host (or `http://` to `localhost`, `127.0.0.0/8` or `::1`), without user name, password, query or fragment";

impl HttpBaseUrl {
    /// Parses and checks a configured URL. The error says what was expected and shows what was
    /// found, with anything before an `@` in it hidden (it may be a password).
    pub fn parse(text: &str) -> Result<HttpBaseUrl, String> {
        let found = shown_url(text);
        // The URL parser forgives what a reviewer would misread (`https:host`, `https:///host`,
        // `\` as `/`, surrounding spaces): only the plain spelling is accepted.
        let lowercase = text.to_ascii_lowercase();
        let authority_start = ["https://", "http://"]
            .iter()
            .find(|scheme| lowercase.starts_with(*scheme))
            .map(|scheme| scheme.len());
        let plain = authority_start.is_some_and(|start| {
            !text[start..].starts_with('/')
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        });
        if !plain {
            return Err(format!("{EXPECTED_URL}, found {found}"));
        }
        let url =
            Url::parse(text).map_err(|error| format!("{EXPECTED_URL}, found {found} ({error})"))?;
        if let Some(problem) = token_destination_problem(&url) {
            return Err(format!("{problem}, found {found}"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "expected no query or fragment (paths are appended to this URL), found {found}"
            ));
        }
        let text = url.as_str().trim_end_matches('/').to_owned();
        Ok(HttpBaseUrl { url, text })
    }

    /// The URL as configured, without the trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host requests go to (`[::1]` for an IPv6 address).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// `path` (starting with `/`, possibly with `?query`) under this URL. Only the path and the
    /// query change: scheme, host and port are the ones checked when the configuration loaded.
    pub fn endpoint(&self, path: &str) -> Url {
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let mut url = self.url.clone();
        url.set_path(&format!("{}{path}", self.url.path().trim_end_matches('/')));
        url.set_query(query);
        url
    }
}

impl fmt::Display for HttpBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a token must not be sent to `url`, if it must not: not `http`/`https`, no host, a user
/// name or password before the host, or plain `http://` to a host that is not loopback.
pub fn token_destination_problem(url: &Url) -> Option<&'static str> {
    let loopback = match url.host() {
        None => return Some("expected a URL with a host"),
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(address)) => address.is_loopback(),
        Some(Host::Ipv6(address)) => address.is_loopback(),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Some("expected no user name or password before the host (`user:password@host`): the request would go to the host after the `@`");
    }
    match url.scheme() {
        "https" => None,
        "http" if loopback => None,
        "http" => Some("expected `https://`: plain `http://` is accepted only for a loopback host (`localhost`, `127.0.0.0/8`, `::1`), where the token crosses no network"),
        _ => Some("expected an `https://` URL"),
    }
}

/// A configured URL as shown in a message: quoted, at most 80 characters, and with whatever
/// stands before an `@` in its authority replaced by `…` (a user name or a password).
fn shown_url(text: &str) -> String {
    let (scheme, rest) = match text.find("://") {
        Some(at) => text.split_at(at + 3),
        None => ("", text),
    };
    let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let shown = match authority.rfind('@') {
        Some(at) => format!("{scheme}…{}{tail}", &authority[at..]),
        None => text.to_owned(),
    };
    let cut: String = shown.chars().take(80).collect();
    if cut.len() < shown.len() {
        format!("{cut:?}…")
    } else {
        format!("{shown:?}")
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
    let github_api_url = read_url(&mut section, "github_api_url", problems);
    let gitlab_url = read_url(&mut section, "gitlab_url", problems);
    let dockerhub_api_url = read_url(&mut section, "dockerhub_api_url", problems);
    let min_pulls_remaining_percent =
        section.integer_in("min_pulls_remaining_percent", 0..=100, problems);

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
    let credentials = CredentialsConfig {
        expiry_tag: expiry_tag.or("ptc-ops:expires-at".to_owned())?,
        warn_days: warn_days?,
        critical_days: critical_days?,
        max_age_days: max_age_days.or(365)?,
        discover_expiry: discover_expiry?,
        write_back: write_back?,
        github_api_url: default_url(github_api_url, "https://api.github.com")?,
        gitlab_url: default_url(gitlab_url, "https://gitlab.com")?,
        dockerhub_api_url: default_url(dockerhub_api_url, "https://hub.docker.com")?,
        min_pulls_remaining_percent: min_pulls_remaining_percent.or(20)?,
    };
    consistent.then_some(credentials)
}

/// An upstream URL. Read without the reader's usual `found …` echo: [`HttpBaseUrl::parse`]
/// shows the value itself, with a password hidden.
fn read_url(
    section: &mut Section<'_>,
    key: &'static str,
    problems: &mut Problems,
) -> Field<HttpBaseUrl> {
    section.read(key, problems, |value| match value.as_str() {
        Some(text) => HttpBaseUrl::parse(text),
        None => Err(format!("expected a string, found {}", describe(value))),
    })
}

/// The configured URL, or the public service's. `None` only when the configured one is invalid
/// (already reported); the defaults are checked by a unit test.
fn default_url(configured: Field<HttpBaseUrl>, public: &str) -> Option<HttpBaseUrl> {
    match configured {
        Field::Absent => HttpBaseUrl::parse(public).ok(),
        Field::Invalid => None,
        Field::Present(url) => Some(url),
    }
}
