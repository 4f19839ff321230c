//! The manifest `HEAD` and its token flow, against queued answers.

use std::sync::Arc;

use hyper::body::Bytes;
use hyper::header::HeaderValue;

use super::*;
use crate::ports::fakes::FakeUpstream;
use crate::test_cases::named_cases;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const TOKEN: &str = "bearer-token-9f8e7d";
const ACCESS_TOKEN: &str = "ptc-upstream-token-5f2b9c7e41d8";

fn response(
    status: u16,
    headers: &[(&'static str, &str)],
    body: &str,
) -> Result<UpstreamResponse, HttpFailure> {
    let mut map = hyper::HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).expect("header"));
    }
    Ok(UpstreamResponse {
        status: StatusCode::from_u16(status).expect("status"),
        headers: map,
        body: Bytes::from(body.to_owned()),
    })
}

fn bearer_challenge(realm: &str) -> Result<UpstreamResponse, HttpFailure> {
    response(
        401,
        &[(
            "www-authenticate",
            &format!(
                r#"Bearer realm="{realm}",service="registry.docker.io",scope="repository:library/nginx:pull""#
            ),
        )],
        "",
    )
}

fn digest_answer() -> Result<UpstreamResponse, HttpFailure> {
    response(200, &[("docker-content-digest", DIGEST)], "")
}

fn token_answer() -> Result<UpstreamResponse, HttpFailure> {
    response(200, &[], &format!(r#"{{"token":"{TOKEN}"}}"#))
}

fn credential() -> RegistryCredential {
    RegistryCredential::from_secret(&SecretValue::new(
        serde_json::json!({"username": "ptc-user", "accessToken": ACCESS_TOKEN}).to_string(),
    ))
    .expect("credential")
}

/// The `HEAD` of `library/nginx:1.27` at `https://registry-1.docker.io`, answered by `answers`,
/// ends in `expected`: `Ok((digest, requests))` or `Err(part of the message)`; never a token in
/// the message, and the URLs asked are `asked` (`manifest`, or a realm's host and query).
fn check_head(
    name: &str,
    answers: Vec<Result<UpstreamResponse, HttpFailure>>,
    with_credential: bool,
    expected: Result<(Option<&str>, u32), &str>,
    asked: &[&str],
) {
    let fake = answers
        .into_iter()
        .fold(FakeUpstream::default(), FakeUpstream::answering);
    let fake = Arc::new(fake);
    let api = HttpBaseUrl::parse("https://registry-1.docker.io").expect("url");
    let credential = with_credential.then(credential);
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(head_manifest(
            fake.as_ref(),
            &api,
            "library/nginx",
            "1.27",
            credential.as_ref(),
            Deadline::none(),
        ));
    match (outcome, expected) {
        (Ok(head), Ok((digest, requests))) => {
            assert_eq!(
                (head.digest.as_deref(), head.requests),
                (digest, requests),
                "{name}"
            );
        }
        (Err(problem), Err(part)) => {
            let message = problem.to_string();
            assert!(message.contains(part), "{name}: {message}");
            assert!(
                message.contains("registry-1.docker.io"),
                "{name}: names no upstream: {message}"
            );
            for secret in [TOKEN, ACCESS_TOKEN] {
                assert!(
                    !message.contains(secret),
                    "{name}: shows a token: {message}"
                );
                assert!(
                    !format!("{problem:?}").contains(secret),
                    "{name}: {problem:?}"
                );
            }
        }
        (outcome, expected) => panic!("{name}: got {outcome:?}, expected {expected:?}"),
    }
    let asked_urls = fake.asked();
    assert_eq!(asked_urls.len(), asked.len(), "{name}: {asked_urls:?}");
    for (url, part) in asked_urls.iter().zip(asked) {
        assert!(url.contains(part), "{name}: {url} does not hold {part}");
    }
}

const MANIFEST: &str = "registry-1.docker.io/v2/library/nginx/manifests/1.27";

named_cases! {
    /// One `HEAD` when open, three with a token, two with `Basic`; every failure names the
    /// upstream and shows no token.
    mod manifest_heads_follow_the_token_flow => check_head;
    open_registry(vec![digest_answer()], false, Ok((Some(DIGEST), 1)), &[MANIFEST]),
    bearer_with_credential(
        vec![bearer_challenge("https://auth.docker.io/token"), token_answer(), digest_answer()],
        true,
        Ok((Some(DIGEST), 3)),
        &[MANIFEST, "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull", MANIFEST],
    ),
    bearer_anonymous(
        vec![bearer_challenge("https://auth.docker.io/token"), token_answer(), digest_answer()],
        false,
        Ok((Some(DIGEST), 3)),
        &[MANIFEST, "auth.docker.io", MANIFEST],
    ),
    oauth_access_token(
        vec![
            bearer_challenge("https://auth.docker.io/token"),
            response(200, &[], &format!(r#"{{"access_token":"{TOKEN}"}}"#)),
            digest_answer(),
        ],
        true,
        Ok((Some(DIGEST), 3)),
        &[MANIFEST, "auth.docker.io", MANIFEST],
    ),
    basic_with_credential(
        vec![response(401, &[("www-authenticate", r#"Basic realm="x""#)], ""), digest_answer()],
        true,
        Ok((Some(DIGEST), 2)),
        &[MANIFEST, MANIFEST],
    ),
    no_digest_is_no_digest(
        vec![response(200, &[("docker-content-digest", "garbage")], "")],
        false,
        Ok((None, 1)),
        &[MANIFEST],
    ),
    basic_without_credential(
        vec![response(401, &[("www-authenticate", r#"Basic realm="x""#)], "")],
        false,
        Err("anonymous request"),
        &[MANIFEST],
    ),
    unauthorized_after_the_token(
        vec![bearer_challenge("https://auth.docker.io/token"), token_answer(), response(401, &[], "")],
        true,
        Err("with the rule's credential: it is not accepted"),
        &[MANIFEST, "auth.docker.io", MANIFEST],
    ),
    realm_on_another_site_gets_no_credential(
        vec![bearer_challenge("https://collector.example/token")],
        true,
        Err("collector.example"),
        &[MANIFEST],
    ),
    realm_over_plain_http(
        vec![bearer_challenge("http://auth.docker.io/token")],
        false,
        Err("expected `https://`"),
        &[MANIFEST],
    ),
    realm_not_a_url(vec![bearer_challenge("not a url")], false, Err("expected a URL as the realm"), &[MANIFEST]),
    token_service_refuses(
        vec![bearer_challenge("https://auth.docker.io/token"), response(401, &[], "")],
        true,
        Err("token service answered HTTP 401"),
        &[MANIFEST, "auth.docker.io"],
    ),
    token_answer_without_token(
        vec![bearer_challenge("https://auth.docker.io/token"), response(200, &[], "{}")],
        true,
        Err("without a token"),
        &[MANIFEST, "auth.docker.io"],
    ),
    garbage_challenge(
        vec![response(401, &[("www-authenticate", "Bearer realm=\"unclosed")], "")],
        true,
        Err("not closed"),
        &[MANIFEST],
    ),
    no_challenge(vec![response(401, &[], "")], true, Err("found none"), &[MANIFEST]),
    redirect_to_another_host(
        vec![response(307, &[("location", "https://elsewhere.example/v2/blob")], "")],
        true,
        Err("redirect to `elsewhere.example`"),
        &[MANIFEST],
    ),
    slow_upstream(
        vec![Err(HttpFailure::Timeout(std::time::Duration::from_secs(10)))],
        true,
        Err("no answer within 10 s"),
        &[MANIFEST],
    ),
    rate_limited(vec![response(429, &[], "")], true, Err("HTTP 429"), &[MANIFEST]),
    not_found(vec![response(404, &[], "")], true, Err("no such repository or tag"), &[MANIFEST]),
}

fn check_base64(name: &str, input: &str, expected: &str) {
    assert_eq!(base64(input.as_bytes()), expected, "{name}");
}

named_cases! {
    /// RFC 4648's test vectors.
    mod base64_follows_rfc_4648 => check_base64;
    empty("", ""),
    one("f", "Zg=="),
    two("fo", "Zm8="),
    three("foo", "Zm9v"),
    six("foobar", "Zm9vYmFy"),
    credential("ptc-user:tok", "cHRjLXVzZXI6dG9r"),
}

fn check_same_site(name: &str, realm: &str, api: &str, expected: bool) {
    assert_eq!(same_site(realm, api), expected, "{name}");
}

named_cases! {
    /// A credential goes to the API's host or a sibling under its parent domain only.
    mod credentials_stay_on_the_registry_site => check_same_site;
    same_host("ghcr.io", "ghcr.io", true),
    docker_hub_auth("auth.docker.io", "registry-1.docker.io", true),
    parent_itself("docker.io", "registry-1.docker.io", true),
    other_domain("auth.evil.io", "registry-1.docker.io", false),
    suffix_lookalike("evildocker.io", "registry-1.docker.io", false),
    top_level_parent_is_not_shared("evil.io", "ghcr.io", false),
    loopback("127.0.0.1", "127.0.0.1", true),
}
