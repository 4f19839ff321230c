//! `[upstream_registries]`: where each upstream registry's own API (`/v2/…`) answers.
//!
//! A rule names its upstream by host (`registry-1.docker.io`, `ghcr.io`); the product asks that
//! registry for a tag's digest and for Docker Hub's pull headroom. The key is the upstream host
//! as a rule writes it (normalised the way images are: `docker.io`, `registry-1.docker.io` and
//! `index.docker.io` are one key), the value the base URL of its registry API, with the same
//! rules as every URL that receives a credential ([`HttpBaseUrl`]).

use std::collections::BTreeMap;

use super::credentials::HttpBaseUrl;
use super::reader::{describe, Problems, Section};
use crate::domain::image_reference::normalise_registry_host;

/// Docker Hub's name after normalisation.
const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's registry API: `docker.io` itself serves no `/v2/`.
const DOCKER_HUB_REGISTRY_API: &str = "https://registry-1.docker.io";

/// Settings of `[upstream_registries]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamRegistriesConfig {
    /// Normalised upstream host → the base URL of its registry API.
    configured: BTreeMap<String, HttpBaseUrl>,
}

impl UpstreamRegistriesConfig {
    /// The registry API of `upstream` (a host or a rule's upstream URL): the configured one,
    /// else `https://registry-1.docker.io` for Docker Hub and `https://<host>` for the others.
    /// `Err` says why a host cannot be asked (it is not a host name).
    pub fn api_url(&self, upstream: &str) -> Result<HttpBaseUrl, String> {
        let host = normalise_registry_host(upstream);
        if let Some(url) = self.configured.get(&host) {
            return Ok(url.clone());
        }
        if host == DOCKER_HUB {
            return HttpBaseUrl::parse(DOCKER_HUB_REGISTRY_API);
        }
        if !is_host(&host) {
            return Err(format!(
                "expected an upstream host name like `ghcr.io`, found {host:?}"
            ));
        }
        HttpBaseUrl::parse(&format!("https://{host}"))
    }
}

/// A host name with an optional port: letters, digits, `-`, `.` and one `:port`.
fn is_host(text: &str) -> bool {
    let (name, port) = match text.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (text, None),
    };
    !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63 && !label.starts_with('-'))
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0))
}

pub(crate) fn read_upstream_registries(
    section: Section<'_>,
    problems: &mut Problems,
) -> Option<UpstreamRegistriesConfig> {
    let path = section.path().clone();
    let mut configured = BTreeMap::new();
    let mut valid = true;
    for (key, value) in section.into_entries() {
        let at = path.quoted_key(key);
        let host = normalise_registry_host(key);
        if !is_host(&host) || (host != key.trim().to_ascii_lowercase() && host != DOCKER_HUB) {
            valid = false;
            problems.report(
                &at,
                format!("expected an upstream host name like `ghcr.io` or `registry-1.docker.io` as the key, found {key:?}"),
            );
            continue;
        }
        let url = match value.as_str() {
            Some(text) => HttpBaseUrl::parse(text),
            None => Err(format!("expected a string, found {}", describe(value))),
        };
        match url {
            Ok(url) => {
                if configured.insert(host.clone(), url).is_some() {
                    valid = false;
                    problems.report(
                        &at,
                        format!("`{host}` is configured twice (Docker Hub's names `docker.io`, `registry-1.docker.io` and `index.docker.io` are one upstream)"),
                    );
                }
            }
            Err(expected) => {
                valid = false;
                problems.report(&at, expected);
            }
        }
    }
    valid.then_some(UpstreamRegistriesConfig { configured })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::test_cases::named_cases;

    fn load(text: &str) -> Result<Config, String> {
        Config::from_toml_str(text, std::path::Path::new("."), "test.toml")
            .map_err(|error| error.to_string())
    }

    /// The registry API of `upstream` under `table` is `expected` (`Ok(url)` or `Err(part of
    /// the message)`).
    fn check_api_url(name: &str, table: &str, upstream: &str, expected: Result<&str, &str>) {
        let config = load(&format!("[upstream_registries]\n{table}"))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        match (config.upstream_registries.api_url(upstream), expected) {
            (Ok(url), Ok(expected)) => assert_eq!(url.as_str(), expected, "{name}"),
            (Err(message), Err(part)) => assert!(message.contains(part), "{name}: {message}"),
            (outcome, expected) => panic!("{name}: got {outcome:?}, expected {expected:?}"),
        }
    }

    named_cases! {
        /// Each upstream's registry API: configured, Docker Hub's, or `https://<host>`.
        mod registry_api_of_each_upstream => check_api_url;
        docker_hub_by_default("", "registry-1.docker.io", Ok("https://registry-1.docker.io")),
        docker_hub_short_name("", "docker.io", Ok("https://registry-1.docker.io")),
        other_host_by_default("", "ghcr.io", Ok("https://ghcr.io")),
        rule_url_with_scheme("", "https://quay.io", Ok("https://quay.io")),
        configured_loopback(
            "\"ghcr.io\" = \"http://127.0.0.1:5000\"",
            "ghcr.io",
            Ok("http://127.0.0.1:5000"),
        ),
        configured_docker_hub_by_its_registry_name(
            "\"registry-1.docker.io\" = \"http://127.0.0.1:5001\"",
            "docker.io",
            Ok("http://127.0.0.1:5001"),
        ),
        hostile_host("", "evil.com@127.0.0.1", Err("expected an upstream host name")),
        host_with_spaces("", "gh cr.io", Err("expected an upstream host name")),
    }

    /// `table` is refused with a problem holding `part`, and never echoes a password.
    fn check_refused(name: &str, table: &str, part: &str) {
        match load(&format!("[upstream_registries]\n{table}")) {
            Ok(config) => panic!("{name}: accepted {config:?}"),
            Err(message) => {
                assert!(message.contains(part), "{name}: {message}");
                assert!(message.contains("upstream_registries"), "{name}: {message}");
                assert!(
                    !message.contains("s3cret"),
                    "{name}: shows the password: {message}"
                );
            }
        }
    }

    named_cases! {
        /// Bad entries are refused with their key path and what was expected.
        mod bad_upstream_registries_are_refused => check_refused;
        plain_http_to_a_public_host("\"ghcr.io\" = \"http://ghcr.io\"", "expected `https://`"),
        userinfo("\"ghcr.io\" = \"https://user:s3cret@ghcr.io\"", "user name or password"),
        query("\"ghcr.io\" = \"https://ghcr.io/?x=1\"", "no query"),
        not_a_string("\"ghcr.io\" = 5", "expected a string"),
        key_not_a_host("\"ghcr.io/org\" = \"https://ghcr.io\"", "as the key"),
        docker_hub_twice(
            "\"docker.io\" = \"https://a.example\"\n\"registry-1.docker.io\" = \"https://b.example\"",
            "configured twice",
        ),
    }
}
