//! Image references as clusters write them, parsed with the Docker reference grammar and
//! normalised so that every spelling of one image compares equal.
//!
//! The grammar comes from `oci-spec` (`oci_spec::distribution::Reference`): a port of
//! `distribution/reference` (the parser Docker, containerd and kubectl use), maintained by the
//! youki project next to the OCI specifications themselves and used by `oci-client`. It is pure
//! (no I/O), so parsing stays in the domain. Chosen over smaller single-maintainer parsers
//! because reference grammar bugs are silent (a wrong split of host and path sends a pull to
//! the wrong rule) and a widely used, actively released crate is where they get fixed.
//!
//! What `oci-spec` does not do is added here: `registry-1.docker.io` is one more Docker Hub
//! alias, host names compare case-insensitively, and a tag that the parser filled in (`latest`)
//! is remembered, because a mutable default tag deserves a warning.

use std::fmt;

use oci_spec::distribution::{ParseError, Reference};
use serde::Serialize;

/// Docker Hub, as normalised references name it.
pub const DOCKER_HUB: &str = "docker.io";
/// Every host name that means Docker Hub (`docker.io` first).
pub const DOCKER_HUB_ALIASES: [&str; 3] = [DOCKER_HUB, "index.docker.io", "registry-1.docker.io"];
/// The namespace of Docker Hub's official images (`nginx` is `library/nginx`).
const DOCKER_HUB_OFFICIAL_NAMESPACE: &str = "library";
/// The tag a reference without tag or digest means.
pub const DEFAULT_TAG: &str = "latest";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageReference {
    /// Registry host (with port), lowercase; Docker Hub is always [`DOCKER_HUB`].
    pub registry: String,
    /// Repository path in that registry (`library/nginx`, `fluxcd/source-controller`).
    pub path: String,
    /// The tag; `None` only for a digest-only reference.
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// The reference named neither tag nor digest, so the tag is [`DEFAULT_TAG`].
    pub tag_defaulted: bool,
}

impl ImageReference {
    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    /// A reference that names a digest and no tag: a first pull of it does not populate a
    /// pull-through cache.
    pub fn is_digest_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_some()
    }
}

/// The canonical spelling: `docker.io/library/nginx:latest`, `ghcr.io/org/app:v1@sha256:…`.
impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Why a text is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an image reference: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: String,
}

/// Parses one reference (`nginx`, `nginx:1.27`, `ghcr.io/org/app:v1`, `host:5000/a/b@sha256:…`)
/// and normalises Docker Hub: no registry, `docker.io`, `index.docker.io` and
/// `registry-1.docker.io` all become `docker.io`, and a one-segment Docker Hub path gets
/// `library/`. Surrounding whitespace is ignored; anything else the grammar rejects is an error.
pub fn parse_reference(input: &str) -> Result<ImageReference, ReferenceError> {
    let text = input.trim();
    let error = |reason: String| ReferenceError {
        input: input.to_owned(),
        reason,
    };
    let absolute = without_trailing_dot(text);
    let parsed =
        Reference::try_from(absolute.as_ref()).map_err(|problem| error(explain(text, &problem)))?;
    let registry = normalise_registry_host(parsed.registry());
    let mut path = parsed.repository().to_owned();
    if registry == DOCKER_HUB && !path.contains('/') {
        path = format!("{DOCKER_HUB_OFFICIAL_NAMESPACE}/{path}");
    }
    let tag_defaulted = parsed.digest().is_none() && !names_a_tag(text);
    Ok(ImageReference {
        registry,
        path,
        tag: parsed.tag().map(str::to_owned),
        digest: parsed.digest().map(str::to_owned),
        tag_defaulted,
    })
}

/// `ghcr.io./org/app` is `ghcr.io/org/app`: a host name written absolute (a trailing dot, as
/// DNS allows) names the same host, though the reference grammar refuses it. Only a host with
/// a dot before the trailing one is read so: `bitnami./redis` stays what the grammar says.
fn without_trailing_dot(text: &str) -> std::borrow::Cow<'_, str> {
    let Some((first, rest)) = text.split_once('/') else {
        return text.into();
    };
    let (host, port) = match first.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (first, None),
    };
    match host.strip_suffix('.') {
        Some(relative) if relative.contains('.') && !relative.ends_with('.') => {
            let port = port.map(|port| format!(":{port}")).unwrap_or_default();
            format!("{relative}{port}/{rest}").into()
        }
        _ => text.into(),
    }
}

/// A registry host as references and rules compare it: scheme and path dropped, lowercase,
/// HTTPS's own port (`:443`) and a trailing dot dropped (`ghcr.io.:443` is `ghcr.io`), Docker
/// Hub's aliases folded into [`DOCKER_HUB`]. Also used for a rule's `upstreamRegistryUrl`.
pub fn normalise_registry_host(host_or_url: &str) -> String {
    let text = host_or_url.trim();
    let without_scheme = ["https://", "http://"]
        .iter()
        .find_map(|scheme| {
            text.get(..scheme.len())
                .filter(|head| head.eq_ignore_ascii_case(scheme))
                .map(|_| &text[scheme.len()..])
        })
        .unwrap_or(text);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = host.strip_suffix(":443").unwrap_or(&host);
    let host = match host.strip_suffix('.') {
        Some(relative) if relative.contains('.') => relative,
        _ => host,
    }
    .to_owned();
    if DOCKER_HUB_ALIASES.contains(&host.as_str()) {
        DOCKER_HUB.to_owned()
    } else {
        host
    }
}

/// Whether the reference text itself names a tag. In the grammar a `:` after the last `/` (and
/// before any `@`) can only start a tag: a port belongs to the host, which always has a `/`
/// after it.
fn names_a_tag(text: &str) -> bool {
    let name_and_tag = text.split('@').next().unwrap_or_default();
    name_and_tag
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
}

/// A reason a person can act on; the grammar's own error is terse ("invalid reference format").
fn explain(text: &str, problem: &ParseError) -> String {
    let name = text.split(['@']).next().unwrap_or_default();
    let path_part = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => rest,
        _ => name,
    };
    let path_only = path_part
        .rsplit_once(':')
        .map_or(path_part, |(path, _tag)| path);
    if text.is_empty() {
        "the reference is empty".to_owned()
    } else if text.contains(char::is_whitespace) {
        "a reference cannot contain spaces".to_owned()
    } else if text.contains("://") {
        "write the reference without a scheme (`ghcr.io/org/app:v1`, not `https://…`)".to_owned()
    } else if path_only
        .chars()
        .any(|character| character.is_ascii_uppercase())
    {
        "repository names must be lowercase".to_owned()
    } else {
        match problem {
            ParseError::DigestInvalidFormat
            | ParseError::DigestInvalidLength
            | ParseError::DigestUnsupported => format!("the digest is not valid ({problem})"),
            ParseError::TagInvalidFormat => format!("the tag is not valid ({problem})"),
            _ => format!(
                "expected `[registry/]repository[:tag][@digest]` like `nginx:1.27` or `ghcr.io/org/app:v1` ({problem})"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_cases;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// `expected`: the canonical spelling and whether the tag was defaulted, or the start of
    /// the error reason.
    fn check(input: &str, expected: Result<(&str, bool), &str>) {
        match (parse_reference(input), expected) {
            (Ok(reference), Ok((canonical, defaulted))) => {
                assert_eq!(reference.to_string(), canonical, "input {input:?}");
                assert_eq!(reference.tag_defaulted, defaulted, "input {input:?}");
            }
            (Err(error), Err(reason)) => {
                assert!(
                    error.reason.starts_with(reason),
                    "input {input:?}: reason {:?} does not start with {reason:?}",
                    error.reason
                );
                assert_eq!(error.input, input);
            }
            (got, expected) => panic!("input {input:?}: got {got:?}, expected {expected:?}"),
        }
    }

    /// `input` parses to its `canonical` spelling, with the tag `defaulted` or not.
    fn check_canonical(_name: &str, input: &str, canonical: &str, defaulted: bool) {
        check(input, Ok((canonical, defaulted)));
    }

    named_cases! {
        /// Docker Hub references are normalised; other registries are kept as written.
        mod normalises_docker_hub_and_keeps_other_registries => check_canonical;
        bare_name_gets_library_and_latest("nginx", "docker.io/library/nginx:latest", true),
        name_and_tag("nginx:1.27", "docker.io/library/nginx:1.27", false),
        explicit_latest_is_not_defaulted("nginx:latest", "docker.io/library/nginx:latest", false),
        library_namespace("library/nginx:1.27", "docker.io/library/nginx:1.27", false),
        docker_io_host("docker.io/nginx:1.27", "docker.io/library/nginx:1.27", false),
        index_docker_io_host(
            "index.docker.io/nginx:1.27",
            "docker.io/library/nginx:1.27",
            false,
        ),
        registry_1_docker_io_host(
            "registry-1.docker.io/nginx:1.27",
            "docker.io/library/nginx:1.27",
            false,
        ),
        upper_case_docker_hub_host(
            "REGISTRY-1.DOCKER.IO/nginx:1.27",
            "docker.io/library/nginx:1.27",
            false,
        ),
        other_namespace(
            "grafana/grafana:11.3.0",
            "docker.io/grafana/grafana:11.3.0",
            false,
        ),
        other_namespace_without_tag(
            "docker.io/grafana/grafana",
            "docker.io/grafana/grafana:latest",
            true,
        ),
        surrounding_spaces_are_trimmed(" nginx:1.27 ", "docker.io/library/nginx:1.27", false),
        ghcr_is_kept(
            "ghcr.io/fluxcd/source-controller:v1.4.1",
            "ghcr.io/fluxcd/source-controller:v1.4.1",
            false,
        ),
        upper_case_ghcr_host_is_lowered(
            "GHCR.io/fluxcd/source-controller:v1.4.1",
            "ghcr.io/fluxcd/source-controller:v1.4.1",
            false,
        ),
        registry_k8s_io_is_kept(
            "registry.k8s.io/pause:3.10",
            "registry.k8s.io/pause:3.10",
            false,
        ),
        registry_k8s_io_without_tag(
            "registry.k8s.io/pause",
            "registry.k8s.io/pause:latest",
            true,
        ),
        localhost_host("localhost/app:1", "localhost/app:1", false),
        localhost_with_a_port_without_tag(
            "localhost:5000/team/app",
            "localhost:5000/team/app:latest",
            true,
        ),
        host_with_a_port(
            "registry.example.com:5000/team/app:2.0",
            "registry.example.com:5000/team/app:2.0",
            false,
        ),
        ecr_host(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1",
            false,
        ),
        /// A host needs a dot, a port or `localhost`: otherwise it is a Docker Hub namespace.
        first_segment_without_dot_or_port_is_a_namespace(
            "myhost/app:1",
            "docker.io/myhost/app:1",
            false,
        ),
        /// Without a `/` the colon is a tag, as in Docker.
        colon_without_slash_is_a_tag(
            "test.com:5000",
            "docker.io/library/test.com:5000",
            false,
        ),
        mixed_case_tag_is_kept(
            "nginx:MixedCase_tag",
            "docker.io/library/nginx:MixedCase_tag",
            false,
        ),
        /// HTTPS's own port names the same registry.
        https_port_is_dropped(
            "ghcr.io:443/org/app:v1",
            "ghcr.io/org/app:v1",
            false,
        ),
        https_port_on_a_docker_hub_alias(
            "registry-1.docker.io:443/nginx:1.27",
            "docker.io/library/nginx:1.27",
            false,
        ),
        another_port_is_another_registry(
            "ghcr.io:8443/org/app:v1",
            "ghcr.io:8443/org/app:v1",
            false,
        ),
        /// An absolute host name (trailing dot) is the same host.
        trailing_dot_is_dropped("ghcr.io./org/app:v1", "ghcr.io/org/app:v1", false),
        trailing_dot_and_https_port(
            "GHCR.IO.:443/org/app:v1",
            "ghcr.io/org/app:v1",
            false,
        ),
        trailing_dot_on_a_docker_hub_alias(
            "docker.io./library/nginx:1.27",
            "docker.io/library/nginx:1.27",
            false,
        ),
    }

    #[test]
    fn keeps_digests() {
        let with_digest = format!("docker.io/library/nginx:1.27@{DIGEST}");
        let digest_only = format!("ghcr.io/org/app@{DIGEST}");
        check(&format!("nginx:1.27@{DIGEST}"), Ok((&with_digest, false)));
        check(
            &format!("ghcr.io/org/app@{DIGEST}"),
            Ok((&digest_only, false)),
        );
        let reference = parse_reference(&digest_only).expect("digest-only parses");
        assert!(reference.is_digest_only());
        assert_eq!(reference.tag, None);
    }

    /// `input` is refused with an error reason starting with `reason`.
    fn check_refused(_name: &str, input: &str, reason: &str) {
        check(input, Err(reason));
    }

    named_cases! {
        /// What the reference grammar rejects is refused with a reason.
        mod rejects_what_the_grammar_rejects_with_a_reason => check_refused;
        empty("", "the reference is empty"),
        only_spaces("   ", "the reference is empty"),
        upper_case_repository("Nginx:1.27", "repository names must be lowercase"),
        upper_case_namespace(
            "ghcr.io/FluxCD/source-controller:v1",
            "repository names must be lowercase",
        ),
        inner_space("nginx 1.27", "a reference cannot contain spaces"),
        scheme("https://ghcr.io/org/app:v1", "write the reference without a scheme"),
        empty_tag("nginx:", "expected `[registry/]repository"),
        double_colon("nginx::1", "expected `[registry/]repository"),
        no_repository(":1.27", "expected `[registry/]repository"),
        host_without_repository("ghcr.io/", "expected `[registry/]repository"),
        leading_dash("-nginx:1", "expected `[registry/]repository"),
        short_digest("nginx@sha256:abc", "expected `[registry/]repository"),
        unknown_digest_algorithm(
            "nginx@md5:0123456789abcdef0123456789abcdef",
            "the digest is not valid",
        ),
        /// Without a dot before it, the trailing dot is no host name's: the grammar decides.
        trailing_dot_on_a_namespace("bitnami./redis:7", "expected `[registry/]repository"),
    }

    /// A rule's upstream registry `url` names the registry `host`.
    fn check_registry_host(name: &str, url: &str, host: &str) {
        assert_eq!(normalise_registry_host(url), host, "{name}: url {url}");
    }

    named_cases! {
        /// Registry hosts of rules are normalised as references are.
        mod normalises_registry_hosts_of_rules => check_registry_host;
        registry_1_docker_io("registry-1.docker.io", "docker.io"),
        index_docker_io_url_with_a_path("https://index.docker.io/v1/", "docker.io"),
        docker_io("docker.io", "docker.io"),
        upper_case_url("HTTPS://GHCR.IO", "ghcr.io"),
        quay("quay.io", "quay.io"),
        azure("myregistry.azurecr.io", "myregistry.azurecr.io"),
        ip_address_with_a_port("127.0.0.1:5000", "127.0.0.1:5000"),
        https_port("https://ghcr.io:443", "ghcr.io"),
        trailing_dot("quay.io.", "quay.io"),
        docker_hub_alias_with_port_and_dot("registry-1.docker.io.:443", "docker.io"),
    }
}
