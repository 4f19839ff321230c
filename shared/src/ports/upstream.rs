//! The upstream registries' own APIs as a port: one HTTP request and its answer, in the
//! vocabulary of the `http` types (which hyper re-exports), never a client library's.

use std::fmt::Debug;
use std::time::Duration;

use futures::future::BoxFuture;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use url::Url;

use crate::deadline::Deadline;
use crate::domain::SecretValue;

/// The documents read from upstream APIs are a few KiB; anything much larger is not what was
/// asked for.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The upstream registries' own APIs (GitHub, GitLab, Docker Hub), over HTTPS.
pub trait Upstream: Send + Sync + Debug {
    /// One request, bounded by the client's timeouts and by `deadline` less a reserve.
    fn send(
        &self,
        request: UpstreamRequest,
        deadline: Deadline,
    ) -> BoxFuture<'_, Result<UpstreamResponse, HttpFailure>>;
}

/// One request. Header values given as [`SecretValue`] are marked sensitive, so hyper never
/// prints them either; `Debug` shows header names and the body's length only (a login body
/// holds the token).
pub struct UpstreamRequest {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Option<Bytes>,
}

impl std::fmt::Debug for UpstreamRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &HeaderNames(&self.headers))
            .field("body", &BodyLength(self.body.as_ref().map(Bytes::len)))
            .finish()
    }
}

/// Header names, each value printed as `***`.
struct HeaderNames<'a>(&'a [(HeaderName, HeaderValue)]);

impl std::fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name.as_str(), Redacted)))
            .finish()
    }
}

/// A body as its length: `<n bytes>`.
struct BodyLength(Option<usize>);

impl std::fmt::Debug for BodyLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(length) => write!(f, "<{length} bytes>"),
            None => f.write_str("None"),
        }
    }
}

/// A value that is not shown.
struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl UpstreamRequest {
    /// Where the request goes (no header, no body: those may carry a credential).
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn get(url: Url) -> Self {
        UpstreamRequest {
            method: Method::GET,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A HEAD: the status and headers of what a GET would answer, without its body.
    pub fn head(url: Url) -> Self {
        UpstreamRequest {
            method: Method::HEAD,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A POST with a JSON body. The body may carry a credential: it is never logged.
    pub fn post_json(url: Url, body: &serde_json::Value) -> Self {
        UpstreamRequest {
            method: Method::POST,
            url,
            headers: vec![(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body: Some(Bytes::from(body.to_string())),
        }
    }

    pub fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
        self
    }

    /// A header that carries a credential, e.g. `authorization` with `Bearer ` and a token.
    pub fn secret_header(
        mut self,
        name: &'static str,
        prefix: &str,
        value: &SecretValue,
    ) -> Result<Self, HttpFailure> {
        let mut header =
            HeaderValue::from_str(&format!("{prefix}{}", value.expose())).map_err(|_| {
                HttpFailure::InvalidRequest(
                    "the token cannot be sent in an HTTP header (it holds control characters)"
                        .to_owned(),
                )
            })?;
        header.set_sensitive(true);
        self.headers.push((HeaderName::from_static(name), header));
        Ok(self)
    }
}

/// What came back: status, the headers asked for, the body. `Debug` shows the status, header
/// names and the body's length only (Docker Hub's login answer holds a session token).
#[derive(Clone)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl std::fmt::Debug for UpstreamResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("UpstreamResponse")
            .field("status", &self.status)
            .field("headers", &headers)
            .field("body", &BodyLength(Some(self.body.len())))
            .finish()
    }
}

impl UpstreamResponse {
    pub fn header_text(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Why no response came back. Messages never hold request headers or bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpFailure {
    #[error("no answer within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("not asked: the invocation deadline leaves no time for it")]
    NoTimeLeft,
    #[error("the request could not be made: {0}")]
    InvalidRequest(String),
    #[error("connection failed: {0}")]
    Transport(String),
    #[error("the answer is larger than {} KiB", MAX_BODY_BYTES / 1024)]
    TooLarge,
    #[error("TLS set-up failed: {0}")]
    Tls(String),
}

impl HttpFailure {
    /// Whether the upstream did not answer in time (or could not be asked in time).
    pub fn is_timeout(&self) -> bool {
        matches!(self, HttpFailure::Timeout(_) | HttpFailure::NoTimeLeft)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    fn token_url() -> Url {
        Url::parse("https://hub.docker.com/v2/auth/token").expect("url")
    }

    /// `text`, the debug form of a request or response, shows none of the secrets it carries.
    fn check_debug_hides_secrets(name: &str, text: String) {
        for leaked in [
            "wïth-ünïcode",
            "w\\u00efth",
            "plain-bearer",
            "session-jwt",
            "identifier",
        ] {
            assert!(!text.contains(leaked), "{name}: {text}");
        }
        assert!(
            text.contains("bytes>") || text.contains("***"),
            "{name}: {text}"
        );
    }

    named_cases! {
        /// The debug form of requests and responses never prints a token.
        mod debug_never_prints_a_token => check_debug_hides_secrets;
        secret_header(format!(
            "{:?}",
            UpstreamRequest::get(token_url())
                .secret_header(
                    "authorization",
                    "Bearer ",
                    &SecretValue::new("plain-bearer-token-42")
                )
                .expect("header")
        )),
        json_body(format!(
            "{:?}",
            UpstreamRequest::post_json(
                token_url(),
                &serde_json::json!({
                    "identifier": "ptc-user",
                    "secret": SecretValue::new("tok\"en\\wïth-ünïcode-debug-http").expose()
                })
            )
        )),
        response_body(format!(
            "{:?}",
            UpstreamResponse {
                status: StatusCode::OK,
                headers: hyper::HeaderMap::new(),
                body: Bytes::from(
                    serde_json::json!({"access_token": "session-jwt-abc123"}).to_string()
                ),
            }
        )),
    }
}
