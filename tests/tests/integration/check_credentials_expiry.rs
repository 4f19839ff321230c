//! check-credentials asks the upstreams themselves: expiry discovery against local stand-ins
//! for the GitHub, GitLab and Docker Hub APIs, silent and unreachable upstreams, and hostile
//! tokens that must leak in no form.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::check_credentials::token_expiry::TOKEN_LABEL_TAG;
use ptc_ops::check_credentials::Request;
use ptc_ops::domain::{Check, Severity};
use ptc_ops::run::RunContext;
use ptc_ops_tests::invoke;
use ptc_ops_tests::invoke::check_credentials_run as check;
use ptc_ops_tests::{assert_no_token, hostile_token, sample_event, CapturedLogs, Rows, TestEnv};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::check_credentials::{
    assert_no_secret, context, create_secret, credential, findings_of, highest, today_plus,
    EXPIRY_TAG,
};

/// One request as a stand-in upstream saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    /// Lower-case names.
    headers: BTreeMap<String, String>,
    body: String,
}

/// A canned answer; `None` from a route keeps the connection open without answering.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn json(status: u16, body: Value) -> Option<Reply> {
        Some(Reply {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string(),
        })
    }
}

/// A minimal HTTP/1.1 server on loopback standing in for an upstream API: one request per
/// connection, answers from `route`. Hand-written on tokio so that the exact bytes on the
/// wire (header names, body) are what the tests assert, without another dev dependency.
struct StandIn {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    async fn start(route: fn(&Seen) -> Option<Reply>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("cannot listen on loopback: {error}"));
        let base = format!(
            "http://{}",
            listener
                .local_addr()
                .unwrap_or_else(|error| panic!("no local address: {error}"))
        );
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    log.lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(request.clone());
                    let Some(reply) = route(&request) else {
                        // Never answer: hold the connection until the test ends.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    };
                    let mut head = format!(
                        "HTTP/1.1 {} Stand-in\r\ncontent-length: {}\r\nconnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (name, value) in &reply.headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(reply.body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        StandIn { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Seen {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

const GH_EXPIRING: &str = "ghp_standin-expiring-0001";
const GH_NEVER: &str = "ghp_standin-never-0002";
const GH_DEAD: &str = "ghp_standin-dead-0003";
const GL_EXPIRING: &str = "glpat-standin-expiring-04";
const GL_REVOKED: &str = "glpat-standin-revoked-05";
const HUB_TOKEN: &str = "dckr_pat_standin-hub-0006";
const HUB_SESSION: &str = "hub-session-standin-jwt-0007";

/// The documented answers of GitHub, GitLab and Docker Hub, keyed on the token presented.
fn upstream_apis(request: &Seen) -> Option<Reply> {
    let header = |name: &str| request.headers.get(name).map(String::as_str);
    match (request.method.as_str(), request.target.as_str()) {
        ("GET", "/github/user") => match header("authorization") {
            Some(value) if value == format!("token {GH_EXPIRING}") => Some(Reply {
                status: 200,
                headers: vec![(
                    "github-authentication-token-expiration",
                    (Utc::now() + chrono::Duration::days(5))
                        .format("%Y-%m-%d %H:%M:%S UTC")
                        .to_string(),
                )],
                body: json!({"login": "ptc-bot"}).to_string(),
            }),
            Some(value) if value == format!("token {GH_NEVER}") => {
                Reply::json(200, json!({"login": "ptc-bot"}))
            }
            _ => Reply::json(
                401,
                json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
            ),
        },
        ("GET", "/gitlab/api/v4/personal_access_tokens/self") => match header("private-token") {
            Some(GL_EXPIRING) => Reply::json(
                200,
                json!({"id": 42, "name": "ptc-cache", "revoked": false, "active": true,
                       "scopes": ["read_registry"], "user_id": 7, "expires_at": today_plus(20)}),
            ),
            Some(GL_REVOKED) => Reply::json(
                200,
                json!({"id": 43, "name": "old", "revoked": true, "active": false,
                       "scopes": ["read_registry"], "user_id": 7, "expires_at": today_plus(90)}),
            ),
            _ => Reply::json(401, json!({"message": "401 Unauthorized"})),
        },
        ("POST", "/hub/v2/auth/token") => {
            let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
            if body["identifier"] == "hub-user" && body["secret"] == HUB_TOKEN {
                Reply::json(200, json!({"access_token": HUB_SESSION}))
            } else {
                Reply::json(401, json!({"message": "incorrect username or password"}))
            }
        }
        ("GET", "/hub/v2/access-tokens?page_size=100") => {
            if header("authorization") == Some(&format!("Bearer {HUB_SESSION}")) {
                Reply::json(
                    200,
                    json!({"count": 2, "next": null, "previous": null, "active_count": 2, "results": [
                        {"uuid": "b30bbf97-506c-4ecd-aabc-842f3cb484fb", "client_id": "HUB", "creator_ip": "127.0.0.1",
                         "creator_ua": "some user agent", "created_at": "2025-07-29T09:28:37Z", "last_used": null,
                         "generated_by": "manual", "is_active": true, "token": "", "token_label": "laptop",
                         "scopes": ["repo:read"], "expires_at": null},
                        {"uuid": "c41ccf97-506c-4ecd-aabc-842f3cb48500", "client_id": "HUB", "creator_ip": "127.0.0.1",
                         "creator_ua": "some user agent", "created_at": "2025-07-29T09:28:37Z", "last_used": null,
                         "generated_by": "manual", "is_active": true, "token": "", "token_label": "ecr-cache",
                         "scopes": ["repo:public_read"], "expires_at": format!("{}T00:00:00Z", today_plus(200))}
                    ]}),
                )
            } else {
                Reply::json(401, json!({"detail": "unauthorized"}))
            }
        }
        _ => Reply::json(404, json!({"message": "Not Found"})),
    }
}

fn discovery_config(base: &str, write_back: bool) -> String {
    format!(
        "[credentials]\nexpiry_tag = \"{EXPIRY_TAG}\"\ndiscover_expiry = true\nwrite_back = {write_back}\n\
         github_api_url = \"{base}/github\"\ngitlab_url = \"{base}/gitlab\"\ndockerhub_api_url = \"{base}/hub\"\n"
    )
}

#[tokio::test]
async fn discovers_expiry_from_github_gitlab_and_docker_hub() {
    let env = TestEnv::new().await;
    let upstream = StandIn::start(upstream_apis).await;
    for (name, upstream_url, value, tags) in [
        ("gh-expiring", "ghcr.io", credential(GH_EXPIRING), vec![]),
        ("gh-never", "ghcr.io", credential(GH_NEVER), vec![]),
        ("gh-dead", "ghcr.io", credential(GH_DEAD), vec![]),
        (
            "gl-expiring",
            "registry.gitlab.com",
            credential(GL_EXPIRING),
            vec![],
        ),
        (
            "gl-revoked",
            "registry.gitlab.com",
            credential(GL_REVOKED),
            vec![],
        ),
        (
            "hub",
            "registry-1.docker.io",
            json!({"username": "hub-user", "accessToken": HUB_TOKEN}).to_string(),
            vec![(TOKEN_LABEL_TAG, "ecr-cache")],
        ),
    ] {
        let arn = create_secret(&env, &format!("ecr-pullthroughcache/{name}"), &value, &tags).await;
        env.create_rule(name, upstream_url, Some(&arn)).await;
    }
    env.clear_calls().await;
    let context = context(&env, &discovery_config(&upstream.base, true));
    let report = invoke::check_credentials(
        Arc::clone(&context),
        LambdaEvent::new(sample_event("check-credentials.json"), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("check-credentials failed: {}", error.full_message()));
    let value = serde_json::to_value(&report).unwrap_or_default();
    let detail = |name: &str| value["secrets"][format!("ecr-pullthroughcache/{name}")].clone();

    let mut rows = Rows::new("expiry discovered");
    for (name, highest_severity, source, days_left) in [
        (
            "gh-expiring",
            Some(Severity::Critical),
            Some("github"),
            Some(5),
        ),
        ("gh-never", None, Some("github"), None),
        ("gh-dead", Some(Severity::Critical), None, None),
        (
            "gl-expiring",
            Some(Severity::Warning),
            Some("gitlab"),
            Some(20),
        ),
        ("gl-revoked", Some(Severity::Critical), None, None),
        ("hub", None, Some("docker-hub"), Some(200)),
    ] {
        rows.check_now(name, || {
            let secret = format!("ecr-pullthroughcache/{name}");
            assert_eq!(
                highest(&report, &secret),
                highest_severity,
                "{secret}: {:#?}",
                findings_of(&report, &secret)
            );
            assert_eq!(detail(name)["expiry_source"].as_str(), source, "{secret}");
            assert_eq!(detail(name)["days_left"].as_i64(), days_left, "{secret}");
            assert!(findings_of(&report, &secret)
                .iter()
                .all(|finding| finding.check == Check::CredentialExpiry));
        });
    }
    rows.assert_all_passed();
    assert_eq!(detail("gh-never")["never_expires"], true);
    let dead = findings_of(&report, "ecr-pullthroughcache/gh-dead");
    assert!(dead[0].title.contains("refuses"), "{}", dead[0].title);
    assert!(dead[0].message.contains("401"), "{}", dead[0].message);
    assert!(
        dead[0]
            .next_steps
            .iter()
            .any(|step| step.contains("read:packages")),
        "{:?}",
        dead[0].next_steps
    );
    let revoked = findings_of(&report, "ecr-pullthroughcache/gl-revoked");
    assert!(
        revoked[0].message.contains("revoked"),
        "{}",
        revoked[0].message
    );
    assert_eq!(report.summary.get("secrets_invalid"), Some(&2));

    // What went over the wire: each API in its documented form.
    let seen = upstream.seen();
    let github: Vec<&Seen> = seen
        .iter()
        .filter(|request| request.target == "/github/user")
        .collect();
    assert_eq!(github.len(), 3);
    assert!(github
        .iter()
        .all(|request| request.headers.contains_key("user-agent")));
    let gitlab: Vec<&Seen> = seen
        .iter()
        .filter(|request| request.target.starts_with("/gitlab/"))
        .collect();
    assert_eq!(gitlab.len(), 2);
    assert!(gitlab
        .iter()
        .all(|request| request.headers.contains_key("private-token")
            && !request.headers.contains_key("authorization")));
    let login = seen
        .iter()
        .find(|request| request.target == "/hub/v2/auth/token")
        .unwrap_or_else(|| panic!("no Docker Hub login: {seen:?}"));
    assert_eq!(login.method, "POST");
    assert_eq!(
        login.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );

    // Write-back: the discovered dates are now on the secrets, and only those.
    let tagged: Vec<String> = env
        .write_calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "TagResource")
        .filter_map(|call| call.resource)
        .collect();
    assert_eq!(tagged.len(), 3, "{tagged:?}");
    let described = env
        .clients
        .secret_store()
        .describe("ecr-pullthroughcache/gl-expiring")
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .unwrap_or_else(|| panic!("secret gone"));
    assert_eq!(described.tags.get(EXPIRY_TAG), Some(&today_plus(20)));
    assert_eq!(
        detail("gl-expiring")["expiry_written_back"].as_str(),
        Some(today_plus(20).as_str())
    );

    // Next run: the tag answers first, the upstream is not asked again for those secrets.
    let before = upstream.seen().len();
    let again = invoke::check_credentials(
        Arc::clone(&context),
        LambdaEvent::new(
            sample_event("check-credentials-secrets.json"),
            Context::default(),
        ),
    )
    .await
    .unwrap_or_else(|error| panic!("check-credentials failed: {}", error.full_message()));
    assert_eq!(upstream.seen().len(), before);
    // The sample names secrets this account does not have: each is a finding of its own.
    assert_eq!(again.summary.get("secrets_checked"), Some(&0));
    assert_eq!(again.findings.len(), 2, "{:#?}", again.findings);

    let narrowed = vec![
        "ecr-pullthroughcache/gh-expiring".to_owned(),
        "ecr-pullthroughcache/hub".to_owned(),
    ];
    let tagged_run = check(
        &RunContext::new(&context.ports, &context.config),
        Request {
            secrets: Some(narrowed.clone()),
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()))
    .report;
    assert_eq!(upstream.seen().len(), before, "the tag must answer first");
    let tagged_value = serde_json::to_value(&tagged_run).unwrap_or_default();
    assert_eq!(
        tagged_value["secrets"]["ecr-pullthroughcache/hub"]["expiry_source"],
        "tag"
    );
    assert_eq!(
        tagged_value["secrets"]["ecr-pullthroughcache/hub"]["days_left"],
        200
    );

    let tokens: Vec<String> = [
        GH_EXPIRING,
        GH_NEVER,
        GH_DEAD,
        GL_EXPIRING,
        GL_REVOKED,
        HUB_TOKEN,
        HUB_SESSION,
    ]
    .iter()
    .map(|token| (*token).to_owned())
    .collect();
    assert_no_secret(&value.to_string(), &tokens, "the report");
}

#[tokio::test]
async fn a_silent_or_unreachable_upstream_is_a_finding_within_the_deadline() {
    let env = TestEnv::new().await;
    let silent = StandIn::start(|_| None).await;
    // A port that was free a moment ago: nothing listens there any more.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        format!(
            "http://{}",
            listener
                .local_addr()
                .unwrap_or_else(|error| panic!("{error}"))
        )
    };
    let arn = create_secret(
        &env,
        "ecr-pullthroughcache/gh-silent",
        &credential(GH_EXPIRING),
        &[],
    )
    .await;
    env.create_rule("gh-silent", "ghcr.io", Some(&arn)).await;
    let arn = create_secret(
        &env,
        "ecr-pullthroughcache/gl-closed",
        &credential(GL_EXPIRING),
        &[],
    )
    .await;
    env.create_rule("gl-closed", "registry.gitlab.com", Some(&arn))
        .await;
    let config = format!(
        "[credentials]\ndiscover_expiry = true\ngithub_api_url = \"{}/github\"\ngitlab_url = \"{closed}/gitlab\"\n",
        silent.base
    );
    let context = context(&env, &config);
    let mut lambda_context = Context::default();
    let allowed = Duration::from_secs(6);
    lambda_context.deadline = (Utc::now().timestamp_millis() as u64) + allowed.as_millis() as u64;
    let started = Instant::now();
    let report = invoke::check_credentials(
        Arc::clone(&context),
        LambdaEvent::new(sample_event("check-credentials.json"), lambda_context),
    )
    .await
    .unwrap_or_else(|error| panic!("check-credentials failed: {}", error.full_message()));
    let elapsed = started.elapsed();
    assert!(
        elapsed < allowed - Duration::from_secs(1),
        "took {elapsed:?}"
    );
    assert_eq!(silent.seen().len(), 1, "the silent upstream was asked");

    for (secret, upstream, reason) in [
        (
            "ecr-pullthroughcache/gh-silent",
            "GitHub",
            "no answer within",
        ),
        (
            "ecr-pullthroughcache/gl-closed",
            "GitLab",
            "connection failed",
        ),
    ] {
        let findings = findings_of(&report, secret);
        let unreachable = findings
            .iter()
            .find(|finding| {
                finding
                    .title
                    .contains(&format!("could not be read from {upstream}"))
            })
            .unwrap_or_else(|| panic!("{secret}: {findings:#?}"));
        assert_eq!(unreachable.severity, Severity::Warning);
        assert!(
            unreachable.message.contains(reason),
            "{}",
            unreachable.message
        );
        // Unknown expiry: how to record it by hand.
        assert!(findings
            .iter()
            .any(|finding| finding.severity == Severity::Info
                && finding
                    .next_steps
                    .iter()
                    .any(|step| step.contains("tag-resource"))));
    }
}

/// An upstream that echoes what it was sent (headers and body) in its error answers.
fn echoing_upstream(request: &Seen) -> Option<Reply> {
    Reply::json(
        401,
        json!({"message": "bad credentials", "headers": request.headers, "body": request.body}),
    )
}

/// Tokens no writer prints as they are (a quote, a backslash, non-ASCII) in a secret that
/// parses and in secrets that do not, sent to upstreams that echo them back: no form of any of
/// them in the logs, the report (the library's and the handler's), the alerts or the metrics.
#[tokio::test]
async fn hostile_tokens_leak_in_no_form() {
    let logs = CapturedLogs::install();
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    let upstream = StandIn::start(echoing_upstream).await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let token = |case: &str| hostile_token(&format!("{case}-{unique}"));
    // (case, upstream, secret value)
    let cases = [
        (
            "valid-json-github",
            "ghcr.io",
            credential(&token("valid-json-github")),
        ),
        (
            "valid-json-hub",
            "registry-1.docker.io",
            credential(&token("valid-json-hub")),
        ),
        (
            "unescaped-quote",
            "ghcr.io",
            format!(
                r#"{{"username":"ptc-user","accessToken":"{}"}}"#,
                token("unescaped-quote")
            ),
        ),
        (
            "missing-brace",
            "registry.gitlab.com",
            format!(
                "{{\n  \"username\": \"ptc-user\",\n  \"accessToken\": \"{}\"\n",
                token("missing-brace")
            ),
        ),
        (
            "yaml-like",
            "ghcr.io",
            format!("username: ptc-user\naccessToken: {}\n", token("yaml-like")),
        ),
        ("bare-token", "ghcr.io", token("bare-token")),
        (
            "misspelled-key",
            "registry-1.docker.io",
            json!({"username": "ptc-user", "access_token": token("misspelled-key")}).to_string(),
        ),
    ];
    let tokens: Vec<String> = cases.iter().map(|(case, ..)| token(case)).collect();
    for (case, upstream_url, value) in &cases {
        let arn = create_secret(&env, &format!("ecr-pullthroughcache/{case}"), value, &[]).await;
        env.create_rule(case, upstream_url, Some(&arn)).await;
    }
    let config = format!(
        "[alerts]\ntopic_arn = \"{}\"\nmin_severity = \"info\"\n{}",
        inbox.topic_arn,
        discovery_config(&upstream.base, false)
    );
    let context = context(&env, &config);

    let library_report = check(
        &RunContext::new(&context.ports, &context.config),
        Request { secrets: None },
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()))
    .report;
    let report = invoke::check_credentials(
        Arc::clone(&context),
        LambdaEvent::new(sample_event("check-credentials.json"), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("check-credentials failed: {}", error.full_message()));

    // The run really judged each secret, and asked the echoing upstreams.
    for (case, ..) in &cases {
        let secret = format!("ecr-pullthroughcache/{case}");
        assert!(highest(&report, &secret).is_some(), "{secret} has findings");
    }
    assert!(
        upstream
            .seen()
            .iter()
            .any(|seen| seen.target.ends_with("/auth/token")),
        "the docker hub login was attempted"
    );
    let delivered = inbox.receive(cases.len(), Duration::from_secs(20)).await;
    assert_eq!(delivered.len(), cases.len());

    assert_no_token(
        &serde_json::to_string(&library_report).unwrap_or_default(),
        &tokens,
        "the library report",
    );
    assert_no_token(
        &serde_json::to_string(&report).unwrap_or_default(),
        &tokens,
        "the report",
    );
    assert_no_token(&format!("{report:?}"), &tokens, "the report's debug");
    for alert in &delivered {
        assert_no_token(&alert.raw_message, &tokens, "an SNS message");
        assert_no_token(
            alert.subject.as_deref().unwrap_or_default(),
            &tokens,
            "an SNS subject",
        );
    }
    assert_no_token(
        &context.metrics_sink().captured_lines().join("\n"),
        &tokens,
        "the metrics",
    );
    assert!(
        !logs
            .lines_with("ecr-pullthroughcache/unescaped-quote")
            .is_empty(),
        "the per-secret decision is logged"
    );
    assert_no_token(&logs.text(), &tokens, "the logs");
}
