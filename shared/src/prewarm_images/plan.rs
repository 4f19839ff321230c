//! What a run will do with each listed image, decided before any pull: warm it, or skip it
//! with a reason. Pure.

use std::collections::HashMap;

use crate::domain::cache_mapping::{map_to_cache, CacheTarget, Unmapped};
use crate::domain::image_reference::{parse_reference, ImageReference, ReferenceError};
use crate::domain::CacheRule;

/// One listed image and what the run does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedImage {
    /// The text as listed.
    pub input: String,
    pub reference: Option<ImageReference>,
    pub target: Option<CacheTarget>,
    /// `<registry>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`, when known.
    pub cache_uri: Option<String>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Pull by tag through the cache; a reference that also pins a digest (`repo:tag@sha256:…`)
    /// then has the tag's digest compared with the pin.
    Warm,
    Skip(SkipReason),
}

/// Why an image is not pulled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    Invalid(ReferenceError),
    /// A first pull by digest does not populate a pull-through cache.
    DigestOnly,
    Unmapped(Unmapped),
    /// The same cache image is listed earlier (another spelling of one image).
    Duplicate {
        first: String,
    },
}

impl SkipReason {
    pub fn describe(&self) -> String {
        match self {
            SkipReason::Invalid(error) => error.reason.clone(),
            SkipReason::DigestOnly => {
                "a first pull by digest does not populate the cache; add a tag".to_owned()
            }
            SkipReason::Unmapped(unmapped) => unmapped.to_string(),
            SkipReason::Duplicate { first } => {
                format!("the same image as `{first}`, listed earlier")
            }
        }
    }
}

/// Plans every listed image against the registry's rules. `region` builds cache URIs.
pub fn plan(inputs: &[String], rules: &[CacheRule], region: Option<&str>) -> Vec<PlannedImage> {
    // Cache image (repository, tag and pinned digest) → the input that first named it. A pin
    // is part of the key: two pins of one tag are two checks, each reported.
    let mut seen: HashMap<(String, Option<String>, Option<String>), String> = HashMap::new();
    inputs
        .iter()
        .map(|input| {
            let reference = match parse_reference(input) {
                Ok(reference) => reference,
                Err(error) => {
                    return PlannedImage {
                        input: input.clone(),
                        reference: None,
                        target: None,
                        cache_uri: None,
                        action: Action::Skip(SkipReason::Invalid(error)),
                    };
                }
            };
            let mapped = map_to_cache(&reference, rules);
            let (target, cache_uri) = match &mapped {
                Ok(target) => (Some(target.clone()), target.uri_in(region)),
                Err(_) => (None, None),
            };
            let action = match (&mapped, &target) {
                (Err(unmapped), _) => Action::Skip(SkipReason::Unmapped(unmapped.clone())),
                (Ok(_), _) if reference.is_digest_only() => Action::Skip(SkipReason::DigestOnly),
                (Ok(_), Some(target)) => {
                    let key = (
                        target.repository.clone(),
                        target.tag.clone(),
                        target.digest.clone(),
                    );
                    match seen.get(&key) {
                        Some(first) => Action::Skip(SkipReason::Duplicate {
                            first: first.clone(),
                        }),
                        None => {
                            seen.insert(key, input.clone());
                            Action::Warm
                        }
                    }
                }
                (Ok(_), None) => Action::Warm,
            };
            PlannedImage {
                input: input.clone(),
                reference: Some(reference),
                target,
                cache_uri,
                action,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str, url: &str) -> CacheRule {
        CacheRule::new(prefix, url).in_registry("123456789012")
    }

    /// `expected`: `warm` or the start of the skip reason, and the cache URI.
    fn check(input: &str, expected_action: &str, expected_uri: Option<&str>) {
        let rules = vec![
            rule("docker-hub", "registry-1.docker.io"),
            rule("k8s", "registry.k8s.io"),
        ];
        let inputs = vec!["nginx:1.27".to_owned(), input.to_owned()];
        let planned = plan(&inputs, &rules, Some("eu-west-1"));
        let image = &planned[1];
        match &image.action {
            Action::Warm => assert_eq!(expected_action, "warm", "input {input}"),
            Action::Skip(reason) => assert!(
                reason.describe().starts_with(expected_action),
                "input {input}: `{}` does not start with `{expected_action}`",
                reason.describe()
            ),
        }
        assert_eq!(image.cache_uri.as_deref(), expected_uri, "input {input}");
    }

    #[test]
    fn plans_each_image() {
        let host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        check(
            "registry.k8s.io/pause:3.10",
            "warm",
            Some(&format!("{host}/k8s/pause:3.10")),
        );
        check(
            "busybox",
            "warm",
            Some(&format!("{host}/docker-hub/library/busybox:latest")),
        );
        check(
            &format!("registry.k8s.io/pause@{digest}"),
            "a first pull by digest does not populate the cache; add a tag",
            Some(&format!("{host}/k8s/pause@{digest}")),
        );
        check(
            "gcr.io/distroless/static:nonroot",
            "no pull-through cache rule has `gcr.io` as its upstream registry",
            None,
        );
        check("Not A Reference", "a reference cannot contain spaces", None);
        check(
            "docker.io/library/nginx:1.27",
            "the same image as `nginx:1.27`, listed earlier",
            Some(&format!("{host}/docker-hub/library/nginx:1.27")),
        );
        // Another tag of the same repository is another image.
        check(
            "nginx:1.28",
            "warm",
            Some(&format!("{host}/docker-hub/library/nginx:1.28")),
        );
        // A tag with a pinned digest is pulled by tag, then checked against the pin.
        check(
            &format!("registry.k8s.io/pause:3.10@{digest}"),
            "warm",
            Some(&format!("{host}/k8s/pause:3.10@{digest}")),
        );
        // The same tag with a pin is another check than the bare tag listed first.
        check(
            &format!("nginx:1.27@{digest}"),
            "warm",
            Some(&format!("{host}/docker-hub/library/nginx:1.27@{digest}")),
        );
    }
}
