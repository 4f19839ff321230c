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
use hyper::header::HeaderValue;
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::OnceCell;
use url::Url;

use crate::config::token_destination_problem;
use crate::deadline::Deadline;
use crate::ports::upstream::MAX_BODY_BYTES;
use crate::ports::{HttpFailure, Upstream, UpstreamRequest, UpstreamResponse};

/// Upstream APIs answer in well under a second; a slow TCP handshake means a network problem.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One request, from connect to the last byte of the body.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Time kept back from the invocation deadline: more than the run keeps for itself, so a slow
/// upstream is cut by this client (a finding that names the upstream) before the run has to
/// give up on the whole secret.
pub const DEADLINE_RESERVE: Duration = Duration::from_secs(3);
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
