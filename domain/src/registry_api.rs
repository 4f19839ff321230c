//! What an upstream registry's own API (OCI distribution) answers, read without I/O: the
//! `WWW-Authenticate` challenge of a `401`, the digest of a manifest `HEAD`, and Docker Hub's
//! `ratelimit-*` headers.
//!
//! Every value here comes from a server the product does not control: parsers bound what they
//! read, refuse control characters, and say what they expected.

/// Longest challenge header read; real ones are a few hundred bytes.
const MAX_CHALLENGE_CHARS: usize = 4096;

/// How a registry asks to be authenticated (RFC 7235 challenge, OCI distribution token flow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Get a token at `realm` (`?service=…&scope=…`), then send it as `Bearer`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    /// Send the credential itself as `Basic` (an htpasswd registry).
    Basic,
}

/// Why a challenge cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeProblem {
    #[error("expected a `WWW-Authenticate` header with the `401`, found none")]
    Missing,
    #[error("expected a `Bearer` or `Basic` challenge, found the scheme {0:?}")]
    UnknownScheme(String),
    #[error("expected a `realm` in the `Bearer` challenge (where to get a token), found none")]
    MissingRealm,
    #[error("expected a challenge like `Bearer realm=\"https://…\",service=\"…\"`: {0}")]
    Malformed(&'static str),
}

/// Reads a `WWW-Authenticate` value. Several challenges may share one header
/// (`Basic realm="x", Bearer realm="…"`): a `Bearer` one is preferred, since it keeps the
/// credential away from every request but the token's.
pub fn parse_challenge(header: Option<&str>) -> Result<Challenge, ChallengeProblem> {
    let header = header
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or(ChallengeProblem::Missing)?;
    if header.chars().count() > MAX_CHALLENGE_CHARS {
        return Err(ChallengeProblem::Malformed("longer than 4096 characters"));
    }
    if header.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ChallengeProblem::Malformed("it holds control characters"));
    }
    let challenges = split_challenges(header)?;
    if let Some((_, params)) = challenges
        .iter()
        .find(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
    {
        let param = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        };
        let realm = param("realm")
            .filter(|realm| !realm.is_empty())
            .ok_or(ChallengeProblem::MissingRealm)?;
        return Ok(Challenge::Bearer {
            realm,
            service: param("service"),
            scope: param("scope"),
        });
    }
    if challenges
        .iter()
        .any(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
    {
        return Ok(Challenge::Basic);
    }
    let scheme: String = challenges
        .first()
        .map(|(scheme, _)| scheme.chars().take(40).collect())
        .unwrap_or_default();
    Err(ChallengeProblem::UnknownScheme(scheme))
}

type Params = Vec<(String, String)>;

/// `scheme k=v, k="v", scheme2 …` → each scheme with its parameters.
fn split_challenges(header: &str) -> Result<Vec<(String, Params)>, ChallengeProblem> {
    let mut challenges: Vec<(String, Params)> = Vec::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let token_end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        if token_end == 0 {
            return Err(ChallengeProblem::Malformed(
                "a scheme or parameter name is missing",
            ));
        }
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if let Some(value_part) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let Some((_, params)) = challenges.last_mut() else {
                return Err(ChallengeProblem::Malformed(
                    "a parameter comes before any scheme",
                ));
            };
            let value_part = value_part.trim_start_matches([' ', '\t']);
            let (value, remainder) = read_value(value_part)?;
            params.push((token.to_owned(), value));
            rest = remainder.trim_start_matches([' ', '\t']);
            if !(rest.is_empty() || rest.starts_with(',')) {
                return Err(ChallengeProblem::Malformed(
                    "parameters must be separated by commas",
                ));
            }
        } else {
            challenges.push((token.to_owned(), Vec::new()));
            rest = after;
        }
    }
    if challenges.is_empty() {
        return Err(ChallengeProblem::Malformed("no scheme"));
    }
    Ok(challenges)
}

/// A parameter value: a quoted string (with `\` escapes) or a token; the rest after it.
fn read_value(text: &str) -> Result<(String, &str), ChallengeProblem> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => return Ok((value, &quoted[at + 1..])),
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                other => value.push(other),
            }
        }
        Err(ChallengeProblem::Malformed("a quoted value is not closed"))
    } else {
        // Token values; `/` and `:` appear unquoted in the wild (`scope=repository:a/b:pull`).
        let end = text.find([',', ' ', '\t']).unwrap_or(text.len());
        if end == 0 {
            return Err(ChallengeProblem::Malformed("a parameter has no value"));
        }
        Ok((text[..end].to_owned(), &text[end..]))
    }
}

/// RFC 7230 `tchar`.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A manifest digest as `Docker-Content-Digest` gives it: `sha256:` and 64 lowercase hex
/// digits, or `sha512:` and 128. Anything else is not a digest to compare or show.
pub fn parse_digest(header: Option<&str>) -> Option<String> {
    let digest = header?.trim();
    let (algorithm, hex) = digest.split_once(':')?;
    let length = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return None,
    };
    (hex.len() == length && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
        .then(|| digest.to_owned())
}

/// A Docker Hub `ratelimit-limit` or `ratelimit-remaining` value: `100;w=21600` → 100 pulls
/// (the window, in seconds, is not needed). `None` when absent or not that form.
pub fn parse_rate_limit(header: Option<&str>) -> Option<u64> {
    let text = header?.trim();
    let count = text.split(';').next()?.trim();
    if count.is_empty() || count.len() > 12 || !count.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    count.parse().ok()
}

/// `repository:<name>:pull`: the scope of reading one repository.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Challenge {
        Challenge::Bearer {
            realm: realm.to_owned(),
            service: service.map(str::to_owned),
            scope: scope.map(str::to_owned),
        }
    }

    fn check_challenge(
        name: &str,
        header: Option<&str>,
        expected: Result<Challenge, ChallengeProblem>,
    ) {
        assert_eq!(parse_challenge(header), expected, "{name}");
    }

    named_cases! {
        /// Challenges are read as RFC 7235 writes them, and hostile ones are refused.
        mod challenges_are_read_or_refused => check_challenge;
        docker_hub(
            Some(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#),
            Ok(bearer("https://auth.docker.io/token", Some("registry.docker.io"), Some("repository:library/nginx:pull"))),
        ),
        spaces_after_commas_and_case(
            Some(r#"bearer Realm="https://ghcr.io/token", Service="ghcr.io", Scope="repository:org/app:pull""#),
            Ok(bearer("https://ghcr.io/token", Some("ghcr.io"), Some("repository:org/app:pull"))),
        ),
        comma_inside_quotes(
            Some(r#"Bearer realm="https://r.example/token",scope="repository:a/b:pull,push""#),
            Ok(bearer("https://r.example/token", None, Some("repository:a/b:pull,push"))),
        ),
        escaped_quote_inside_quotes(
            Some(r#"Bearer realm="https://r.example/t\"oken""#),
            Ok(bearer("https://r.example/t\"oken", None, None)),
        ),
        unquoted_values(
            Some("Bearer realm=https://r.example/token,service=r.example"),
            Ok(bearer("https://r.example/token", Some("r.example"), None)),
        ),
        basic_then_bearer_prefers_bearer(
            Some(r#"Basic realm="x", Bearer realm="https://r.example/token""#),
            Ok(bearer("https://r.example/token", None, None)),
        ),
        basic_challenge(Some(r#"Basic realm="ptc-upstream""#), Ok(Challenge::Basic)),
        missing_header(None, Err(ChallengeProblem::Missing)),
        at_the_length_limit(
            Some(format!(r#"Bearer realm="https://r.example/token",scope="{}""#, "a".repeat(MAX_CHALLENGE_CHARS - 47)).as_str()),
            Ok(bearer("https://r.example/token", None, Some(&"a".repeat(MAX_CHALLENGE_CHARS - 47)))),
        ),
        blank_header(Some("  "), Err(ChallengeProblem::Missing)),
        missing_realm(
            Some(r#"Bearer service="registry.docker.io""#),
            Err(ChallengeProblem::MissingRealm),
        ),
        empty_realm(Some(r#"Bearer realm="""#), Err(ChallengeProblem::MissingRealm)),
        unknown_scheme(
            Some(r#"Negotiate abc"#),
            Err(ChallengeProblem::UnknownScheme("Negotiate".to_owned())),
        ),
        unclosed_quote(
            Some(r#"Bearer realm="https://r.example/token"#),
            Err(ChallengeProblem::Malformed("a quoted value is not closed")),
        ),
        control_characters(
            Some("Bearer realm=\"https://r.example/\u{0}token\""),
            Err(ChallengeProblem::Malformed("it holds control characters")),
        ),
        parameter_before_scheme(
            Some(r#"realm="https://r.example/token""#),
            Err(ChallengeProblem::Malformed("a parameter comes before any scheme")),
        ),
        garbage_after_value(
            Some(r#"Bearer realm="https://r.example/token"x"#),
            Err(ChallengeProblem::Malformed("parameters must be separated by commas")),
        ),
        huge_header(
            Some(&format!("Bearer realm=\"{}\"", "a".repeat(5000))),
            Err(ChallengeProblem::Malformed("longer than 4096 characters")),
        ),
    }

    fn check_digest(name: &str, header: Option<&str>, expected: Option<&str>) {
        assert_eq!(parse_digest(header).as_deref(), expected, "{name}");
    }

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    named_cases! {
        /// Only a well-formed digest is one.
        mod digests_are_well_formed_or_none => check_digest;
        sha256(Some(SHA), Some(SHA)),
        surrounding_spaces(Some(&format!(" {SHA} ")), Some(SHA)),
        absent(None, None),
        empty(Some(""), None),
        uppercase_hex(Some(&SHA.to_uppercase().replace("SHA256", "sha256")), None),
        short(Some("sha256:0123"), None),
        unknown_algorithm(Some("md5:0123456789abcdef0123456789abcdef"), None),
        sha512(Some(&format!("sha512:{}", "ab".repeat(64))), Some(&format!("sha512:{}", "ab".repeat(64)))),
        sha512_length_of_sha256(Some(&format!("sha512:{}", "ab".repeat(32))), None),
    }

    fn check_rate_limit(name: &str, header: Option<&str>, expected: Option<u64>) {
        assert_eq!(parse_rate_limit(header), expected, "{name}");
    }

    named_cases! {
        /// Docker Hub's `N;w=SECONDS` gives N; anything else gives nothing.
        mod rate_limits_are_read => check_rate_limit;
        with_window(Some("100;w=21600"), Some(100)),
        remaining_zero(Some("0;w=21600"), Some(0)),
        bare_number(Some("76"), Some(76)),
        absent(None, None),
        negative(Some("-1;w=21600"), None),
        garbage(Some("lots"), None),
        huge(Some("99999999999999999999;w=1"), None),
        twelve_digits(Some("999999999999;w=1"), Some(999_999_999_999)),
        thirteen_digits(Some("1234567890123;w=1"), None),
        plus_sign(Some("+5;w=21600"), None),
        no_count(Some(";w=21600"), None),
    }

    #[test]
    fn the_pull_scope_names_the_repository() {
        assert_eq!(pull_scope("library/nginx"), "repository:library/nginx:pull");
    }
}
