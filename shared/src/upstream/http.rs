//! The HTTP client that asks upstreams (GitHub, GitLab, Docker Hub) about a token.
//!
//! Built on the hyper, rustls and aws-lc-rs stack the AWS SDK already links, with the same
//! source of trust roots (the system store), so discovery adds no second TLS or crypto library
//! to the Lambda. The crypto provider is passed explicitly: nothing process-wide is installed,
//! so no other HTTP client of the process changes behaviour.
//!
//! Every request is bounded three ways: a connect timeout, a total timeout, and the
//! invocation's deadline (less a reserve to finish the run), whichever comes first.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::OnceCell;
use url::Url;

use crate::config::token_destination_problem;
use crate::deadline::Deadline;
use crate::domain::SecretValue;
use crate::ports::Upstream;

/// Upstream APIs answer in well under a second; a slow TCP handshake means a network problem.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One request, from connect to the last byte of the body.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Time kept back from the invocation deadline: more than the run keeps for itself, so a slow
/// upstream is cut by this client (a finding that names the upstream) before the run has to
/// give up on the whole secret.
pub const DEADLINE_RESERVE: Duration = Duration::from_secs(3);
/// The documents read here are a few KiB; anything much larger is not what was asked for.
const MAX_BODY_BYTES: usize = 1024 * 1024;
const USER_AGENT: &str = concat!("ecr-ptc-ops/", env!("CARGO_PKG_VERSION"));

type HyperClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Timeouts of [`UpstreamHttp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    pub connect: Duration,
    pub total: Duration,
    /// Kept back from the deadline: a request never runs into it.
    pub deadline_reserve: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        HttpTimeouts {
            connect: DEFAULT_CONNECT_TIMEOUT,
            total: DEFAULT_TOTAL_TIMEOUT,
            deadline_reserve: DEADLINE_RESERVE,
        }
    }
}

/// An HTTP(S) client for upstream APIs. Cheap to create: the TLS set-up (reading the system's
/// trust roots) happens on the first request, so a run without discovery never pays for it.
/// Connections are not pooled: a run makes a handful of requests, and a pooled connection
/// must not outlive the runtime that opened it.
#[derive(Clone, Default)]
pub struct UpstreamHttp {
    timeouts: HttpTimeouts,
    client: Arc<OnceCell<Result<HyperClient, String>>>,
}

impl std::fmt::Debug for UpstreamHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamHttp")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// One request. Header values given as [`SecretValue`] are marked sensitive, so hyper never
/// prints them either; `Debug` shows header names and the body's length only (a login body
/// holds the token).
pub struct UpstreamRequest {
    method: Method,
    url: Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Bytes>,
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

/// The [`Upstream`] port: hands over to [`UpstreamHttp::send`].
impl Upstream for UpstreamHttp {
    fn send(
        &self,
        request: UpstreamRequest,
        deadline: Deadline,
    ) -> futures::future::BoxFuture<'_, Result<UpstreamResponse, HttpFailure>> {
        Box::pin(UpstreamHttp::send(self, request, deadline))
    }
}

impl UpstreamHttp {
    pub fn new(timeouts: HttpTimeouts) -> Self {
        UpstreamHttp {
            timeouts,
            client: Arc::default(),
        }
    }

    pub fn timeouts(&self) -> HttpTimeouts {
        self.timeouts
    }

    /// Sends one request, bounded by the total timeout and by `deadline` less the reserve.
    /// Every request here carries a credential: it goes over `https://` (plain `http://` to
    /// loopback only), to the host the URL parser found, or not at all.
    pub async fn send(
        &self,
        request: UpstreamRequest,
        deadline: Deadline,
    ) -> Result<UpstreamResponse, HttpFailure> {
        let budget = match deadline.remaining() {
            Some(left) => {
                let left = left.saturating_sub(self.timeouts.deadline_reserve);
                if left.is_zero() {
                    return Err(HttpFailure::NoTimeLeft);
                }
                left.min(self.timeouts.total)
            }
            None => self.timeouts.total,
        };
        let uri = request_uri(&request.url)?;
        let mut builder = Request::builder()
            .method(request.method)
            .uri(uri)
            .header(hyper::header::USER_AGENT, USER_AGENT);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        let mut http_request = builder
            .body(Full::new(request.body.unwrap_or_default()))
            .map_err(|error| HttpFailure::InvalidRequest(error.to_string()))?;
        http_request
            .headers_mut()
            .entry(hyper::header::ACCEPT)
            .or_insert(HeaderValue::from_static("application/json"));
        let exchange = async {
            let client = self.client().await?;
            let response = client
                .request(http_request)
                .await
                .map_err(|error| HttpFailure::Transport(error_chain(&error)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|error| {
                    if error.is::<http_body_util::LengthLimitError>() {
                        HttpFailure::TooLarge
                    } else {
                        HttpFailure::Transport(error.to_string())
                    }
                })?
                .to_bytes();
            Ok(UpstreamResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(budget, exchange)
            .await
            .unwrap_or(Err(HttpFailure::Timeout(budget)))
    }

    /// The client, built on first use. Reading the system's trust roots is blocking file I/O:
    /// it runs off the async threads, and inside the request's time budget.
    async fn client(&self) -> Result<&HyperClient, HttpFailure> {
        let connect_timeout = self.timeouts.connect;
        self.client
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || build_client(connect_timeout))
                    .await
                    .unwrap_or_else(|error| Err(format!("TLS set-up did not finish: {error}")))
            })
            .await
            .as_ref()
            .map_err(|message| HttpFailure::Tls(message.clone()))
    }
}

/// The URI hyper connects to, checked against the parsed URL: same host, a destination a
/// token may go to. A mismatch means the two parsers read the URL differently; nothing is sent.
fn request_uri(url: &Url) -> Result<hyper::Uri, HttpFailure> {
    if let Some(problem) = token_destination_problem(url) {
        return Err(HttpFailure::InvalidRequest(format!(
            "`{}` is not where a token may be sent: {problem}",
            shown(url)
        )));
    }
    let uri: hyper::Uri = url.as_str().parse().map_err(|error| {
        HttpFailure::InvalidRequest(format!("`{}` is not a URL: {error}", shown(url)))
    })?;
    if uri.host() != url.host_str() || uri.port_u16() != url.port() {
        return Err(HttpFailure::InvalidRequest(format!(
            "`{}`: the HTTP client reads another host than `{}`",
            shown(url),
            url.host_str().unwrap_or_default()
        )));
    }
    Ok(uri)
}

/// A URL as messages show it: never with a user name or password.
fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

fn build_client(connect_timeout: Duration) -> Result<HyperClient, String> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    // The HTTPS connector below decides the scheme; the TCP connector must accept both.
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|error| format!("no usable trust roots in the system store: {error}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https))
}

/// hyper's top-level error says little ("client error (Connect)"); the cause says what failed.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
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

    /// The URL `text` is sent to `expected` host, or refused with a reason holding the text.
    fn check_request_uri(name: &str, text: &str, expected: Result<&str, &str>) {
        let url = Url::parse(text).unwrap_or_else(|error| panic!("{name}: {error}"));
        match (request_uri(&url), expected) {
            (Ok(uri), Ok(host)) => assert_eq!(uri.host(), Some(host), "{name}"),
            (Err(HttpFailure::InvalidRequest(message)), Err(reason)) => {
                assert!(message.contains(reason), "{name}: {message}");
                assert!(
                    !message.contains("x@"),
                    "{name}: shows the password: {message}"
                );
            }
            (outcome, expected) => panic!("{name}: got {outcome:?}, expected {expected:?}"),
        }
    }

    named_cases! {
        /// Tokens go only to the parsed host, over TLS or to a loopback address.
        mod sends_tokens_only_to_the_parsed_host_over_tls_or_loopback => check_request_uri;
        public_api("https://api.github.com/user", Ok("api.github.com")),
        loopback_address("http://127.0.0.1:8080/user", Ok("127.0.0.1")),
        loopback_range("http://127.8.9.10/user", Ok("127.8.9.10")),
        localhost("http://localhost/user", Ok("localhost")),
        ipv6_loopback("http://[::1]:9000/user", Ok("[::1]")),
        plain_http_to_a_public_host("http://api.github.com/user", Err("plain `http://`")),
        lookalike_of_localhost("http://localhost.evil.com/user", Err("plain `http://`")),
        userinfo_hiding_the_host(
            "http://localhost:x@other.host/user",
            Err("user name or password"),
        ),
        userinfo_over_https("https://127.0.0.1@evil.com/user", Err("user name or password")),
    }
}
