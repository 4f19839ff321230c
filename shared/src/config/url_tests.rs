//! Upstream API base URLs: where a token may go, and the endpoints below them.

use super::*;
use crate::test_cases::named_cases;

/// `text` parses to `Ok((shown, host))` and its endpoints stay on `host`, or is refused with a
/// message holding `Err(reason)`.
fn check_upstream_url(
    name: &str,
    text: &str,
    expected: Result<(&'static str, &'static str), &'static str>,
) {
    match (HttpBaseUrl::parse(text), expected) {
        (Ok(url), Ok((shown, host))) => {
            assert_eq!((url.as_str(), url.host()), (shown, host), "{name}");
            assert_eq!(url.endpoint("/user").host_str(), Some(host), "{name}");
        }
        (Err(message), Err(reason)) => {
            assert!(message.contains(reason), "{name}: {message}");
            assert!(message.starts_with("expected "), "{name}: {message}");
            assert!(
                !message.contains(":x@"),
                "{name}: shows the password: {message}"
            );
        }
        (outcome, expected) => panic!("{name}: got {outcome:?}, expected {expected:?}"),
    }
}

named_cases! {
    /// Upstream API URLs go where they say, over TLS unless on loopback; `Ok((shown, host))` or
    /// `Err(part of the message)`.
    mod upstream_urls_go_where_they_say_over_tls => check_upstream_url;
    public_api(
        "https://api.github.com",
        Ok(("https://api.github.com", "api.github.com")),
    ),
    enterprise_path_slashes_trimmed(
        "https://ghe.example.com/api/v3//",
        Ok(("https://ghe.example.com/api/v3", "ghe.example.com")),
    ),
    uppercase_scheme_and_host(
        "HTTPS://GitLab.Example.com",
        Ok(("https://gitlab.example.com", "gitlab.example.com")),
    ),
    loopback_ipv4_with_port(
        "http://127.0.0.1:8080/github",
        Ok(("http://127.0.0.1:8080/github", "127.0.0.1")),
    ),
    loopback_range(
        "http://127.20.0.3",
        Ok(("http://127.20.0.3", "127.20.0.3")),
    ),
    localhost(
        "http://localhost:9000",
        Ok(("http://localhost:9000", "localhost")),
    ),
    ipv6_loopback(
        "http://[::1]:9000/hub",
        Ok(("http://[::1]:9000/hub", "[::1]")),
    ),
    password_before_another_host(
        "http://localhost:x@other.host/",
        Err("user name or password"),
    ),
    loopback_as_a_user_name(
        "http://127.0.0.1@evil.com",
        Err("user name or password"),
    ),
    user_name_over_https(
        "https://token@api.github.com",
        Err("user name or password"),
    ),
    lookalike_of_localhost(
        "http://localhost.evil.com",
        Err("plain `http://`"),
    ),
    lookalike_of_a_loopback_address(
        "http://127.0.0.1.evil.com",
        Err("plain `http://`"),
    ),
    plain_http_to_a_private_host(
        "http://10.0.0.8/api/v4",
        Err("plain `http://`"),
    ),
    plain_http_public_host(
        "http://api.github.com",
        Err("plain `http://`"),
    ),
    ftp("ftp://gitlab.com", Err("expected an `https://` URL")),
    file(
        "file:///etc/passwd",
        Err("expected an `https://` URL"),
    ),
    javascript(
        "javascript:alert(1)",
        Err("expected an `https://` URL"),
    ),
    no_scheme(
        "api.github.com",
        Err("expected an `https://` URL"),
    ),
    missing_host(
        "https://",
        Err("expected an `https://` URL"),
    ),
    missing_host_port_only(
        "http://:8080/",
        Err("expected an `https://` URL"),
    ),
    host_after_three_slashes(
        "https:///api.github.com",
        Err("expected an `https://` URL"),
    ),
    backslash(
        "https://evil.com\\@api.github.com",
        Err("expected an `https://` URL"),
    ),
    query(
        "https://api.github.com?per_page=1",
        Err("no query or fragment"),
    ),
    fragment(
        "https://api.github.com/#top",
        Err("no query or fragment"),
    ),
}

#[test]
fn a_url_with_a_password_is_refused_without_showing_it() {
    let text = "[credentials]\ngithub_api_url = \"http://localhost:s3cr3t-t0ken@other.host/\"\n";
    let error = match Config::from_toml_str(text, Path::new("."), "bad.toml") {
        Ok(_) => panic!("accepted a URL with a password"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert!(message.contains("credentials.github_api_url"), "{message}");
    assert!(message.contains("user name or password"), "{message}");
    assert!(message.contains("…@other.host/"), "{message}");
    assert!(!message.contains("s3cr3t-t0ken"), "{message}");
}

/// `path` under `base` keeps the configured host.
fn check_endpoint(name: &str, base: &str, path: &str, expected: &str) {
    let base = HttpBaseUrl::parse(base).unwrap_or_else(|error| panic!("{name}: {error}"));
    assert_eq!(base.endpoint(path).as_str(), expected, "{name}");
}

named_cases! {
    /// Endpoints keep the configured host: base, path, expected URL.
    mod endpoints_keep_the_configured_host => check_endpoint;
    under_a_path(
        "https://ghe.example.com/api/v3",
        "/user",
        "https://ghe.example.com/api/v3/user",
    ),
    with_a_query(
        "https://hub.docker.com",
        "/v2/access-tokens?page_size=100",
        "https://hub.docker.com/v2/access-tokens?page_size=100",
    ),
    path_that_looks_like_a_host(
        "http://127.0.0.1:5000",
        "//evil.com/x",
        "http://127.0.0.1:5000//evil.com/x",
    ),
}
