//! Asking the upstream itself when a token expires, with the secret's own credentials.
//!
//! - GitHub: any authenticated REST call answers with `GitHub-Authentication-Token-Expiration`
//!   for an expiring token (`GET {github_api_url}/user`); no header means no expiry.
//! - GitLab (15.5+): `GET {gitlab_url}/api/v4/personal_access_tokens/self` with `PRIVATE-TOKEN`
//!   gives `expires_at` (a date or null), `active` and `revoked`.
//! - Docker Hub: `POST {dockerhub_api_url}/v2/auth/token` with `{"identifier", "secret"}` gives
//!   an `access_token`; `GET /v2/access-tokens` with it lists every token of the account with
//!   its `token_label` and `expires_at`, never the value. The token in the secret is the one
//!   whose label is in the secret's [`TOKEN_LABEL_TAG`] tag, or the only token listed. Whether
//!   a read-only token may do this is not documented, so every failure there is information,
//!   never an alarm.
//!
//! A `401` from GitHub or GitLab means the token no longer works at all. Everything else that
//! prevents an answer (timeouts, refusals, unexpected documents) says "unknown", with why.

use hyper::StatusCode;
use serde_json::{json, Value};

use super::expiry::{parse_api_expiry, parse_github_expiration, ExpirySource, KnownExpiry};
use crate::config::CredentialsConfig;
use crate::deadline::Deadline;
use crate::domain::{SecretValue, Severity, UpstreamKind};
use crate::ports::{HttpFailure, Upstream, UpstreamRequest, UpstreamResponse};

/// The secret tag naming which Docker Hub access token the secret holds (its description at
/// hub.docker.com). Not needed when the account has a single token.
pub const TOKEN_LABEL_TAG: &str = "ptc-ops:token-label";

const GITHUB_EXPIRATION_HEADER: &str = "github-authentication-token-expiration";

/// What the upstream said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    /// A date, or "never" (`at: None`).
    Expiry(KnownExpiry),
    /// The upstream refused the token (`401`): it is expired, revoked or wrong.
    Rejected { source: ExpirySource },
    /// The upstream knows the token but says it no longer works (`revoked`, `active: false`).
    Inactive {
        source: ExpirySource,
        reason: &'static str,
    },
    /// No answer that tells; `severity` says how much that matters.
    Unknown {
        source: ExpirySource,
        severity: Severity,
        reason: String,
    },
}

/// Which upstream API can tell a token's expiry for this kind of rule, if any.
pub fn source_for(kind: &UpstreamKind) -> Option<ExpirySource> {
    match kind {
        UpstreamKind::GithubContainerRegistry => Some(ExpirySource::Github),
        UpstreamKind::GitlabContainerRegistry => Some(ExpirySource::Gitlab),
        UpstreamKind::DockerHub => Some(ExpirySource::DockerHub),
        _ => None,
    }
}

/// The secret's credentials, as discovery needs them.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub username: &'a SecretValue,
    pub access_token: &'a SecretValue,
    /// The secret's [`TOKEN_LABEL_TAG`] tag.
    pub token_label: Option<&'a str>,
}

/// Asks the upstream behind `source`.
pub async fn discover(
    http: &(impl Upstream + ?Sized),
    config: &CredentialsConfig,
    source: ExpirySource,
    credentials: Credentials<'_>,
    deadline: Deadline,
) -> Discovered {
    match source {
        ExpirySource::Github => github(http, config, credentials, deadline).await,
        ExpirySource::Gitlab => gitlab(http, config, credentials, deadline).await,
        ExpirySource::DockerHub => docker_hub(http, config, credentials, deadline).await,
        ExpirySource::Tag => Discovered::Unknown {
            source,
            severity: Severity::Info,
            reason: "the tag is not an upstream".to_owned(),
        },
    }
}

async fn github(
    http: &(impl Upstream + ?Sized),
    config: &CredentialsConfig,
    credentials: Credentials<'_>,
    deadline: Deadline,
) -> Discovered {
    let source = ExpirySource::Github;
    let endpoint = config.github_api_url.endpoint("/user");
    let url = endpoint.to_string();
    let request = UpstreamRequest::get(endpoint)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .secret_header("authorization", "token ", credentials.access_token);
    match send(http, request, deadline).await {
        Ok(response) => read_github(&url, &response),
        Err(failure) => unanswered(source, &url, &failure),
    }
}

/// GitHub's answer to an authenticated call.
pub fn read_github(url: &str, response: &UpstreamResponse) -> Discovered {
    let source = ExpirySource::Github;
    if response.status == StatusCode::UNAUTHORIZED {
        return Discovered::Rejected { source };
    }
    if !response.status.is_success() {
        return refused(source, url, response.status);
    }
    match response.header_text(GITHUB_EXPIRATION_HEADER) {
        None => Discovered::Expiry(KnownExpiry { at: None, source }),
        Some(text) => match parse_github_expiration(text) {
            Some(at) => Discovered::Expiry(KnownExpiry {
                at: Some(at),
                source,
            }),
            None => Discovered::Unknown {
                source,
                severity: Severity::Info,
                reason: format!(
                    "`{url}` answered with a `GitHub-Authentication-Token-Expiration` header that is not a date"
                ),
            },
        },
    }
}

async fn gitlab(
    http: &(impl Upstream + ?Sized),
    config: &CredentialsConfig,
    credentials: Credentials<'_>,
    deadline: Deadline,
) -> Discovered {
    let source = ExpirySource::Gitlab;
    let endpoint = config
        .gitlab_url
        .endpoint("/api/v4/personal_access_tokens/self");
    let url = endpoint.to_string();
    let request =
        UpstreamRequest::get(endpoint).secret_header("private-token", "", credentials.access_token);
    match send(http, request, deadline).await {
        Ok(response) => read_gitlab(&url, &response),
        Err(failure) => unanswered(source, &url, &failure),
    }
}

/// GitLab's `personal_access_tokens/self` document.
pub fn read_gitlab(url: &str, response: &UpstreamResponse) -> Discovered {
    let source = ExpirySource::Gitlab;
    if response.status == StatusCode::UNAUTHORIZED {
        return Discovered::Rejected { source };
    }
    if !response.status.is_success() {
        return refused(source, url, response.status);
    }
    let Ok(document) = serde_json::from_slice::<Value>(&response.body) else {
        return unreadable(source, url, "is not JSON");
    };
    if document["revoked"].as_bool() == Some(true) {
        return Discovered::Inactive {
            source,
            reason: "GitLab reports the token as revoked",
        };
    }
    if document["active"].as_bool() == Some(false) {
        return Discovered::Inactive {
            source,
            reason: "GitLab reports the token as no longer active (expired or revoked)",
        };
    }
    match &document["expires_at"] {
        Value::Null => Discovered::Expiry(KnownExpiry { at: None, source }),
        Value::String(text) => match parse_api_expiry(text) {
            Some(at) => Discovered::Expiry(KnownExpiry {
                at: Some(at),
                source,
            }),
            None => unreadable(source, url, "has an `expires_at` that is not a date"),
        },
        _ => unreadable(source, url, "has no `expires_at`"),
    }
}

async fn docker_hub(
    http: &(impl Upstream + ?Sized),
    config: &CredentialsConfig,
    credentials: Credentials<'_>,
    deadline: Deadline,
) -> Discovered {
    let source = ExpirySource::DockerHub;
    let login_endpoint = config.dockerhub_api_url.endpoint("/v2/auth/token");
    let login_url = login_endpoint.to_string();
    // The body carries the token: it is built here, sent, and never logged.
    let login = UpstreamRequest::post_json(
        login_endpoint,
        &json!({
            "identifier": credentials.username.expose(),
            "secret": credentials.access_token.expose(),
        }),
    );
    let session = match send(http, Ok(login), deadline).await {
        Ok(response) => match read_docker_hub_login(&login_url, &response) {
            Ok(session) => session,
            Err(unknown) => return unknown,
        },
        Err(failure) => return as_info(unanswered(source, &login_url, &failure)),
    };
    let list_endpoint = config
        .dockerhub_api_url
        .endpoint("/v2/access-tokens?page_size=100");
    let list_url = list_endpoint.to_string();
    let request =
        UpstreamRequest::get(list_endpoint).secret_header("authorization", "Bearer ", &session);
    match send(http, request, deadline).await {
        Ok(response) => read_docker_hub_tokens(&list_url, &response, credentials.token_label),
        Err(failure) => as_info(unanswered(source, &list_url, &failure)),
    }
}

/// Docker Hub's login answer: the session token, or why there is none.
pub fn read_docker_hub_login(
    url: &str,
    response: &UpstreamResponse,
) -> Result<SecretValue, Discovered> {
    let source = ExpirySource::DockerHub;
    if !response.status.is_success() {
        return Err(as_info(refused(source, url, response.status)));
    }
    serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|document| document["access_token"].as_str().map(SecretValue::new))
        .filter(|token| !token.is_empty())
        .ok_or_else(|| unreadable(source, url, "has no `access_token`"))
}

/// Docker Hub's access-token list: the expiry of the secret's token.
pub fn read_docker_hub_tokens(
    url: &str,
    response: &UpstreamResponse,
    token_label: Option<&str>,
) -> Discovered {
    let source = ExpirySource::DockerHub;
    if !response.status.is_success() {
        return as_info(refused(source, url, response.status));
    }
    let Some(tokens) = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|document| document["results"].as_array().cloned())
    else {
        return unreadable(source, url, "has no `results` list");
    };
    let token = match token_label {
        Some(label) => tokens
            .iter()
            .find(|token| token["token_label"].as_str() == Some(label)),
        None if tokens.len() == 1 => tokens.first(),
        None => {
            return Discovered::Unknown {
                source,
                severity: Severity::Info,
                reason: format!(
                    "the account has {} access tokens and the secret does not say which one it holds: tag it with `{TOKEN_LABEL_TAG}` set to the token's description at hub.docker.com",
                    tokens.len()
                ),
            }
        }
    };
    let Some(token) = token else {
        return Discovered::Unknown {
            source,
            severity: Severity::Info,
            reason: format!(
                "no access token of the account has the description given in the `{TOKEN_LABEL_TAG}` tag"
            ),
        };
    };
    match &token["expires_at"] {
        Value::Null => Discovered::Expiry(KnownExpiry { at: None, source }),
        Value::String(text) => match parse_api_expiry(text) {
            Some(at) => Discovered::Expiry(KnownExpiry {
                at: Some(at),
                source,
            }),
            None => unreadable(source, url, "has an `expires_at` that is not a date"),
        },
        _ => Discovered::Expiry(KnownExpiry { at: None, source }),
    }
}

/// Sends a request that carries a credential. The client refuses any destination a token may
/// not go to (plain `http://` off loopback, a user name or password in the URL).
async fn send(
    http: &(impl Upstream + ?Sized),
    request: Result<UpstreamRequest, HttpFailure>,
    deadline: Deadline,
) -> Result<UpstreamResponse, HttpFailure> {
    http.send(request?, deadline).await
}

fn unanswered(source: ExpirySource, url: &str, failure: &HttpFailure) -> Discovered {
    // An unreachable upstream, a slow one or a set-up problem (plain http, trust roots) needs
    // someone to look; an oversized answer is the upstream's oddity.
    let severity = match failure {
        HttpFailure::TooLarge => Severity::Info,
        _ => Severity::Warning,
    };
    Discovered::Unknown {
        source,
        severity,
        reason: format!("`{url}`: {failure}"),
    }
}

fn refused(source: ExpirySource, url: &str, status: StatusCode) -> Discovered {
    let severity = if status.is_server_error() {
        Severity::Warning
    } else {
        // 403 (scope, SSO, rate limit) and 404 (older GitLab) say nothing about the token's life.
        Severity::Info
    };
    Discovered::Unknown {
        source,
        severity,
        reason: format!("`{url}` answered HTTP {}", status.as_u16()),
    }
}

fn unreadable(source: ExpirySource, url: &str, what: &str) -> Discovered {
    Discovered::Unknown {
        source,
        severity: Severity::Info,
        reason: format!("the answer of `{url}` {what}"),
    }
}

fn as_info(discovered: Discovered) -> Discovered {
    match discovered {
        Discovered::Unknown { source, reason, .. } => Discovered::Unknown {
            source,
            severity: Severity::Info,
            reason,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;
    use chrono::{DateTime, Utc};
    use hyper::body::Bytes;
    use hyper::HeaderMap;

    fn response(status: u16, headers: &[(&'static str, &str)], body: &str) -> UpstreamResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                *name,
                value.parse().unwrap_or_else(|_| panic!("header {value}")),
            );
        }
        UpstreamResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: map,
            body: Bytes::from(body.to_owned()),
        }
    }

    fn at(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }

    fn expiry(source: ExpirySource, text: Option<&str>) -> Discovered {
        Discovered::Expiry(KnownExpiry {
            at: text.and_then(at),
            source,
        })
    }

    fn severity_of(discovered: &Discovered) -> Option<Severity> {
        match discovered {
            Discovered::Unknown { severity, .. } => Some(*severity),
            _ => None,
        }
    }

    const GITHUB_URL: &str = "https://api.github.com/user";
    const GITLAB_URL: &str = "https://gitlab.com/api/v4/personal_access_tokens/self";
    const DOCKER_HUB_URL: &str = "https://hub.docker.com/v2/access-tokens";

    /// GitHub's `answer` reads as `expected`.
    fn check_github_answer(name: &str, answer: UpstreamResponse, expected: Discovered) {
        assert_eq!(read_github(GITHUB_URL, &answer), expected, "{name}");
    }

    named_cases! {
        /// GitHub answers: the expiry header, its absence, a refusal.
        mod github_answers => check_github_answer;
        expiration_header_is_the_expiry(
            response(
                200,
                &[(GITHUB_EXPIRATION_HEADER, "2027-10-07 19:07:53 UTC")],
                "{}",
            ),
            expiry(ExpirySource::Github, Some("2027-10-07T19:07:53Z")),
        ),
        no_header_means_no_expiry(
            response(200, &[], "{}"),
            expiry(ExpirySource::Github, None),
        ),
        bad_credentials_are_rejected(
            response(401, &[], r#"{"message":"Bad credentials"}"#),
            Discovered::Rejected {
                source: ExpirySource::Github,
            },
        ),
    }

    #[test]
    fn reads_odd_github_answers_as_unknown() {
        let url = GITHUB_URL;
        let odd = read_github(
            url,
            &response(200, &[(GITHUB_EXPIRATION_HEADER, "whenever")], "{}"),
        );
        assert_eq!(severity_of(&odd), Some(Severity::Info));
        assert_eq!(
            severity_of(&read_github(url, &response(403, &[], "{}"))),
            Some(Severity::Info)
        );
        assert_eq!(
            severity_of(&read_github(url, &response(503, &[], ""))),
            Some(Severity::Warning)
        );
    }

    /// GitLab's answer `body` with `status` reads as `expected`.
    fn check_gitlab_answer(name: &str, body: &str, status: u16, expected: Discovered) {
        assert_eq!(
            read_gitlab(GITLAB_URL, &response(status, &[], body)),
            expected,
            "{name}: {body}"
        );
    }

    named_cases! {
        /// GitLab answers with a verdict: the expiry, none, an inactive token, a refusal.
        mod gitlab_answers => check_gitlab_answer;
        expires_at_is_the_expiry(
            r#"{"id":4,"name":"ptc","revoked":false,"active":true,"scopes":["read_registry"],"expires_at":"2026-12-01"}"#,
            200,
            expiry(ExpirySource::Gitlab, Some("2026-12-01T00:00:00Z")),
        ),
        null_expires_at_means_no_expiry(
            r#"{"id":4,"revoked":false,"active":true,"expires_at":null}"#,
            200,
            expiry(ExpirySource::Gitlab, None),
        ),
        revoked_token_is_inactive(
            r#"{"id":4,"revoked":true,"active":false,"expires_at":"2026-12-01"}"#,
            200,
            Discovered::Inactive {
                source: ExpirySource::Gitlab,
                reason: "GitLab reports the token as revoked",
            },
        ),
        token_no_longer_active_is_inactive(
            r#"{"id":4,"revoked":false,"active":false,"expires_at":"2024-01-01"}"#,
            200,
            Discovered::Inactive {
                source: ExpirySource::Gitlab,
                reason: "GitLab reports the token as no longer active (expired or revoked)",
            },
        ),
        unauthorized_is_rejected(
            r#"{"message":"401 Unauthorized"}"#,
            401,
            Discovered::Rejected {
                source: ExpirySource::Gitlab,
            },
        ),
    }

    /// GitLab's answer `body` with `status` leaves the expiry unknown, at `severity`.
    fn check_gitlab_unknown(name: &str, body: &str, status: u16, severity: Severity) {
        assert_eq!(
            severity_of(&read_gitlab(GITLAB_URL, &response(status, &[], body))),
            Some(severity),
            "{name}: {body}"
        );
    }

    named_cases! {
        /// GitLab answers without a verdict leave the expiry unknown.
        mod gitlab_answers_left_unknown => check_gitlab_unknown;
        forbidden_is_info(r#"{"message":"403 Forbidden"}"#, 403, Severity::Info),
        html_is_info("<html>", 200, Severity::Info),
        unreadable_expires_at_is_info(r#"{"expires_at":"someday"}"#, 200, Severity::Info),
        bad_gateway_is_a_warning("", 502, Severity::Warning),
    }

    /// Two tokens, one of them without expiry.
    const TWO_TOKENS: &str = r#"{"count":2,"next":null,"results":[
            {"uuid":"a","token_label":"ecr-cache","is_active":true,"expires_at":"2026-09-01T00:00:00Z"},
            {"uuid":"b","token_label":"laptop","is_active":true,"expires_at":null}]}"#;
    /// A single token.
    const ONE_TOKEN: &str = r#"{"count":1,"next":null,"results":[
            {"uuid":"a","token_label":"ecr-cache","is_active":true,"expires_at":"2026-09-01T10:00:00Z"}]}"#;

    /// Docker Hub's token list `body`, searched for `label`, reads as `expected`.
    fn check_docker_hub_tokens(name: &str, body: &str, label: Option<&str>, expected: Discovered) {
        assert_eq!(
            read_docker_hub_tokens(DOCKER_HUB_URL, &response(200, &[], body), label),
            expected,
            "{name}"
        );
    }

    named_cases! {
        /// Docker Hub token lists: the labelled token's expiry, or the only token's.
        mod docker_hub_token_lists => check_docker_hub_tokens;
        labelled_token_expires(
            TWO_TOKENS,
            Some("ecr-cache"),
            expiry(ExpirySource::DockerHub, Some("2026-09-01T00:00:00Z")),
        ),
        labelled_token_without_expiry(
            TWO_TOKENS,
            Some("laptop"),
            expiry(ExpirySource::DockerHub, None),
        ),
        only_token_needs_no_label(
            ONE_TOKEN,
            None,
            expiry(ExpirySource::DockerHub, Some("2026-09-01T10:00:00Z")),
        ),
    }

    /// Docker Hub's token list `body` with `status`, searched for `label`, leaves the expiry
    /// unknown, as information.
    fn check_docker_hub_unknown(name: &str, body: &str, status: u16, label: Option<&str>) {
        assert_eq!(
            severity_of(&read_docker_hub_tokens(
                DOCKER_HUB_URL,
                &response(status, &[], body),
                label
            )),
            Some(Severity::Info),
            "{name}: {body} {label:?}"
        );
    }

    named_cases! {
        /// Docker Hub token lists that cannot name the token leave the expiry unknown.
        mod docker_hub_token_lists_left_unknown => check_docker_hub_unknown;
        two_tokens_without_a_label(TWO_TOKENS, 200, None),
        no_token_with_the_label(TWO_TOKENS, 200, Some("elsewhere")),
        empty_answer("{}", 200, None),
        unauthorized("", 401, None),
        server_error("", 500, None),
    }

    #[test]
    fn reads_docker_hub_logins() {
        let login = read_docker_hub_login(
            DOCKER_HUB_URL,
            &response(200, &[], r#"{"access_token":"hub-session-jwt-123"}"#),
        );
        assert_eq!(
            login.map(|token| token.expose().to_owned()),
            Ok("hub-session-jwt-123".to_owned())
        );
    }

    /// Docker Hub's login answer `body` with `status` gives no session, as information.
    fn check_docker_hub_login_refused(name: &str, status: u16, body: &str) {
        let refused = read_docker_hub_login(DOCKER_HUB_URL, &response(status, &[], body));
        assert_eq!(
            refused.err().as_ref().and_then(severity_of),
            Some(Severity::Info),
            "{name}"
        );
    }

    named_cases! {
        /// Docker Hub logins that give no session.
        mod docker_hub_logins_refused => check_docker_hub_login_refused;
        unauthorized(401, "{}"),
        no_access_token(200, "{}"),
        not_json(200, "nope"),
    }
}
