//! An upstream registry's own API, through the [`Upstream`] port: the `HEAD` of a manifest with
//! the registry token flow (OCI distribution).
//!
//! `HEAD /v2/<name>/manifests/<ref>`; a `401` names how to authenticate: `Bearer` → a token from
//! its realm (`GET <realm>?service=…&scope=repository:<name>:pull`, with the rule's credential
//! as basic auth, anonymous without one) and the `HEAD` again with it; `Basic` → the `HEAD`
//! again with the credential itself. Three requests at most, one when the registry is open.
//! The product never `GET`s a manifest: a `HEAD` is not a pull (Docker Hub counts only `GET`s).
//!
//! The credential goes to the registry API's host, and to a token realm only when that realm is
//! on the same host or under the same parent domain (`auth.docker.io` for
//! `registry-1.docker.io`): a challenge cannot send it anywhere else. A redirect is not
//! followed (the client follows none): it is reported with where it pointed.

use std::fmt;

use hyper::StatusCode;
use url::Url;

use crate::config::{token_destination_problem, HttpBaseUrl};
use crate::deadline::Deadline;
use crate::domain::registry_api::{
    parse_challenge, parse_digest, parse_rate_limit, pull_scope, Challenge, ChallengeProblem,
};
use crate::domain::SecretValue;
use crate::ports::{HttpFailure, Upstream, UpstreamRequest, UpstreamResponse};

/// Every manifest media type a tag may point to; the index types first, so a multi-architecture
/// tag answers with the digest charts pin and ECR caches.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A rule's upstream credential, as its secret holds it (`username`, `accessToken`).
#[derive(Debug, Clone)]
pub struct RegistryCredential {
    pub username: SecretValue,
    pub token: SecretValue,
}

impl RegistryCredential {
    /// Reads a PTC credential secret's JSON; `None` when it is not that shape (check-credentials
    /// reports the format itself).
    pub fn from_secret(value: &SecretValue) -> Option<RegistryCredential> {
        let json: serde_json::Value = serde_json::from_str(value.expose()).ok()?;
        let field = |name: &str| {
            json.get(name)
                .and_then(serde_json::Value::as_str)
                .filter(|text| !text.is_empty())
                .map(SecretValue::new)
        };
        Some(RegistryCredential {
            username: field("username")?,
            token: field("accessToken")?,
        })
    }

    /// `Basic` and the base64 of `username:token`.
    fn basic(&self) -> SecretValue {
        SecretValue::new(base64(
            format!("{}:{}", self.username.expose(), self.token.expose()).as_bytes(),
        ))
    }
}

/// What a manifest `HEAD` answered, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// `Docker-Content-Digest`, when well formed.
    pub digest: Option<String>,
    /// Docker Hub's `ratelimit-limit` and `ratelimit-remaining` (pulls per window).
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Requests made (the `HEAD`s and the token's).
    pub requests: u32,
}

/// Why a manifest `HEAD` gave no answer to use. Each names the upstream; none holds a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadProblem {
    /// The request failed (timeout, connection, TLS) or could not be made.
    Request {
        upstream: String,
        failure: HttpFailure,
    },
    /// A `3xx`: not followed.
    Redirected {
        upstream: String,
        location: Option<String>,
    },
    Challenge {
        upstream: String,
        problem: ChallengeProblem,
    },
    /// The realm a challenge named is not where a credential may go.
    RealmRefused { upstream: String, reason: String },
    /// The token request was answered with this status, or without a token.
    NoToken {
        upstream: String,
        status: Option<StatusCode>,
    },
    /// Still `401` (or `403`) with the token or credential: the credential is not accepted.
    Unauthorized {
        upstream: String,
        status: StatusCode,
        anonymous: bool,
    },
    /// `429`: the upstream's rate limit is used up.
    RateLimited { upstream: String },
    /// `404`: no such repository or tag upstream.
    NotFound { upstream: String },
    /// Any other status.
    Status {
        upstream: String,
        status: StatusCode,
    },
}

impl HeadProblem {
    /// Whether the upstream limited the requests (`429`).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, HeadProblem::RateLimited { .. })
    }
}

impl fmt::Display for HeadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadProblem::Request { upstream, failure } => {
                write!(f, "`{upstream}` was not reached: {failure}")
            }
            HeadProblem::Redirected { upstream, location } => write!(
                f,
                "`{upstream}` answered with a redirect{}; redirects are not followed (the credential would go with it)",
                location
                    .as_deref()
                    .map(|host| format!(" to `{host}`"))
                    .unwrap_or_default()
            ),
            HeadProblem::Challenge { upstream, problem } => {
                write!(f, "`{upstream}` asked for authentication in a way not followed: {problem}")
            }
            HeadProblem::RealmRefused { upstream, reason } => {
                write!(f, "`{upstream}` asked for a token at a realm refused: {reason}")
            }
            HeadProblem::NoToken { upstream, status } => match status {
                Some(status) => write!(f, "`{upstream}`'s token service answered HTTP {status}"),
                None => write!(f, "`{upstream}`'s token service answered without a token"),
            },
            HeadProblem::Unauthorized {
                upstream,
                status,
                anonymous,
            } => {
                if *anonymous {
                    write!(f, "`{upstream}` answered HTTP {status} to an anonymous request: the rule needs a credential")
                } else {
                    write!(f, "`{upstream}` answered HTTP {status} with the rule's credential: it is not accepted")
                }
            }
            HeadProblem::RateLimited { upstream } => {
                write!(f, "`{upstream}` answered HTTP 429: its rate limit is used up")
            }
            HeadProblem::NotFound { upstream } => {
                write!(f, "`{upstream}` has no such repository or tag (HTTP 404)")
            }
            HeadProblem::Status { upstream, status } => {
                write!(f, "`{upstream}` answered HTTP {status}")
            }
        }
    }
}

/// `HEAD <api>/v2/<repository>/manifests/<reference>`, authenticated as the registry asks.
pub async fn head_manifest<U: Upstream + ?Sized>(
    upstream: &U,
    api: &HttpBaseUrl,
    repository: &str,
    reference: &str,
    credential: Option<&RegistryCredential>,
    deadline: Deadline,
) -> Result<ManifestHead, HeadProblem> {
    let name = api.host().to_owned();
    let url = api.endpoint(&format!("/v2/{repository}/manifests/{reference}"));
    let send = |request: UpstreamRequest| {
        let name = name.clone();
        async move {
            upstream
                .send(request, deadline)
                .await
                .map_err(|failure| HeadProblem::Request {
                    upstream: name,
                    failure,
                })
        }
    };
    let head = || UpstreamRequest::head(url.clone()).header("accept", MANIFEST_ACCEPT);
    let mut requests = 1;
    let first = send(head()).await?;
    if first.status != StatusCode::UNAUTHORIZED {
        return answer(&name, first, requests, credential.is_none());
    }
    let challenge = parse_challenge(first.header_text("www-authenticate")).map_err(|problem| {
        HeadProblem::Challenge {
            upstream: name.clone(),
            problem,
        }
    })?;
    let authorised = match challenge {
        Challenge::Basic => {
            let Some(credential) = credential else {
                return Err(HeadProblem::Unauthorized {
                    upstream: name,
                    status: first.status,
                    anonymous: true,
                });
            };
            head().secret_header("authorization", "Basic ", &credential.basic())
        }
        Challenge::Bearer {
            realm,
            service,
            scope,
        } => {
            let scope = scope.unwrap_or_else(|| pull_scope(repository));
            let token_url = token_url(&name, api, &realm, service.as_deref(), &scope, credential)?;
            let mut token_request = UpstreamRequest::get(token_url);
            if let Some(credential) = credential {
                token_request = token_request
                    .secret_header("authorization", "Basic ", &credential.basic())
                    .map_err(|failure| HeadProblem::Request {
                        upstream: name.clone(),
                        failure,
                    })?;
            }
            requests += 1;
            let answer = send(token_request).await?;
            if !answer.status.is_success() {
                return Err(HeadProblem::NoToken {
                    upstream: name,
                    status: Some(answer.status),
                });
            }
            let token = read_token(&answer).ok_or_else(|| HeadProblem::NoToken {
                upstream: name.clone(),
                status: None,
            })?;
            head().secret_header("authorization", "Bearer ", &token)
        }
    }
    .map_err(|failure| HeadProblem::Request {
        upstream: name.clone(),
        failure,
    })?;
    requests += 1;
    let second = send(authorised).await?;
    answer(&name, second, requests, credential.is_none())
}

/// The final answer of a `HEAD`: a digest and rate-limit headers, or why not.
fn answer(
    name: &str,
    response: UpstreamResponse,
    requests: u32,
    anonymous: bool,
) -> Result<ManifestHead, HeadProblem> {
    let upstream = name.to_owned();
    match response.status {
        status if status.is_success() => Ok(ManifestHead {
            digest: parse_digest(response.header_text("docker-content-digest")),
            limit: parse_rate_limit(response.header_text("ratelimit-limit")),
            remaining: parse_rate_limit(response.header_text("ratelimit-remaining")),
            requests,
        }),
        status if status.is_redirection() => Err(HeadProblem::Redirected {
            upstream,
            location: response
                .header_text("location")
                .and_then(|location| Url::parse(location).ok())
                .and_then(|location| location.host_str().map(str::to_owned)),
        }),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(HeadProblem::Unauthorized {
            upstream,
            status: response.status,
            anonymous,
        }),
        StatusCode::TOO_MANY_REQUESTS => Err(HeadProblem::RateLimited { upstream }),
        StatusCode::NOT_FOUND => Err(HeadProblem::NotFound { upstream }),
        status => Err(HeadProblem::Status { upstream, status }),
    }
}

/// `<realm>?service=…&scope=…`, when the realm may receive what goes with it: any `https://`
/// realm for an anonymous token; with a credential, only one on the API's host or under its
/// parent domain.
fn token_url(
    name: &str,
    api: &HttpBaseUrl,
    realm: &str,
    service: Option<&str>,
    scope: &str,
    credential: Option<&RegistryCredential>,
) -> Result<Url, HeadProblem> {
    let refused = |reason: String| HeadProblem::RealmRefused {
        upstream: name.to_owned(),
        reason,
    };
    let shown: String = realm.chars().take(80).collect();
    let mut url = Url::parse(realm)
        .map_err(|_| refused(format!("expected a URL as the realm, found {shown:?}")))?;
    if let Some(problem) = token_destination_problem(&url) {
        return Err(refused(format!("{problem}, found {shown:?}")));
    }
    let realm_host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if credential.is_some() && !same_site(&realm_host, api.host()) {
        return Err(refused(format!(
            "expected the realm on `{}` or under its parent domain (the rule's credential goes there), found `{realm_host}`",
            api.host()
        )));
    }
    url.set_fragment(None);
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = service {
            query.append_pair("service", service);
        }
        query.append_pair("scope", scope);
    }
    Ok(url)
}

/// Whether `realm_host` is `api_host` or shares its parent domain (the host less its first
/// label, when that still has a dot): `auth.docker.io` for `registry-1.docker.io`.
fn same_site(realm_host: &str, api_host: &str) -> bool {
    let api_host = api_host.to_ascii_lowercase();
    if realm_host == api_host {
        return true;
    }
    match api_host.split_once('.') {
        Some((_, parent)) if parent.contains('.') => {
            realm_host == parent || realm_host.ends_with(&format!(".{parent}"))
        }
        _ => false,
    }
}

/// `token` (or OAuth's `access_token`) of a token answer.
fn read_token(answer: &UpstreamResponse) -> Option<SecretValue> {
    let json: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
    ["token", "access_token"]
        .iter()
        .find_map(|key| json.get(key).and_then(serde_json::Value::as_str))
        .filter(|token| !token.is_empty())
        .map(SecretValue::new)
}

/// Standard base64 with padding (RFC 4648), for a `Basic` header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (at, byte)| {
            word | u32::from(*byte) << (16 - 8 * at)
        });
        for at in 0..4 {
            if at <= chunk.len() {
                text.push(char::from(ALPHABET[(word >> (18 - 6 * at) & 63) as usize]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

#[cfg(test)]
#[path = "registry_api_tests.rs"]
mod tests;
