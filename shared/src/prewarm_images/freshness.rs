//! Whether a cached tag is behind its upstream, and its refresh.
//!
//! For a tag found in the cache, the upstream's digest is read with a manifest `HEAD`
//! ([`crate::registry_api`]: one request when the registry is open, three with a token) and
//! compared with the cached one. With `prewarm.refresh = "stale"` a stale tag in a repository
//! under a managed prefix is deleted (`BatchDeleteImage` by tag) and pulled through again: ECR
//! then fetches the upstream's current image instead of serving the cached one for up to a day.
//!
//! The rule's credential is read once per rule and run, and goes only to that rule's upstream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tracing::{info, warn};

use crate::config::Config;
use crate::deadline::Deadline;
use crate::domain::freshness::{compare, refusal_to_refresh, Freshness, RefreshMode};
use crate::domain::image_reference::DEFAULT_TAG;
use crate::domain::CacheRule;
use crate::ports::{PortSet, Registry, SecretStore};
use crate::registry_api::{head_manifest, RegistryCredential};

use super::outcome::{Checked, PullOutcome};
use super::plan::PlannedImage;

/// A rule's credential as read for this run: `Ok(None)` for a rule without one.
type CredentialRead = Result<Option<RegistryCredential>, String>;

/// Asks upstreams about cached tags, for one run.
pub(crate) struct Freshener<'run, P: PortSet> {
    ports: &'run P,
    config: &'run Config,
    rules: &'run [CacheRule],
    mode: RefreshMode,
    deadline: Deadline,
    /// Credentials by rule prefix, each read once.
    credentials: Mutex<HashMap<String, Arc<CredentialRead>>>,
    /// Refresh every cached tag, stale or not.
    force: bool,
}

impl<'run, P: PortSet> Freshener<'run, P> {
    pub(crate) fn new(
        ports: &'run P,
        config: &'run Config,
        rules: &'run [CacheRule],
        mode: RefreshMode,
        deadline: Deadline,
    ) -> Option<Self> {
        (mode != RefreshMode::Never).then(|| Freshener {
            ports,
            config,
            rules,
            mode,
            deadline,
            credentials: Mutex::default(),
            force: false,
        })
    }

    /// A forced refresh (`ptc refresh`): every cached tag is refreshed, stale or not.
    pub(crate) fn forced(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Compares the cached `digest` of `image` with its upstream's; with
    /// `prewarm.refresh = "stale"`, refreshes it when it is behind (always, when forced).
    pub(crate) async fn check(&self, image: &PlannedImage, digest: Option<String>) -> PullOutcome {
        let (Some(target), Some(_)) = (&image.target, &image.reference) else {
            return PullOutcome::AlreadyCached {
                digest,
                freshness: None,
            };
        };
        let tag = target.tag.as_deref().unwrap_or(DEFAULT_TAG);
        let checked = self.upstream_digest(image, digest.as_deref()).await;
        let refusal = refusal_to_refresh(
            &target.rule_prefix,
            &target.repository,
            target.digest.is_some(),
            self.config.hardening.prefixes.as_deref(),
        );
        let Some(checked) = checked else {
            // The rule is not asked (an ECR upstream): nothing to compare; a forced refresh
            // still goes on.
            return match (&refusal, self.force) {
                (None, true) => {
                    self.refresh(image, &target.repository, tag, digest, None)
                        .await
                }
                _ => PullOutcome::AlreadyCached {
                    digest,
                    freshness: None,
                },
            };
        };
        let upstream_digest = match &checked {
            Checked::Current { upstream_digest }
            | Checked::Stale {
                upstream_digest, ..
            } => Some(upstream_digest.clone()),
            Checked::Unknown(_) => None,
        };
        let stale = matches!(checked, Checked::Stale { .. });
        let wanted = self.force || (stale && self.mode == RefreshMode::Stale);
        if !wanted {
            return PullOutcome::AlreadyCached {
                digest,
                freshness: Some(checked),
            };
        }
        if let Some(refused) = refusal {
            warn!(image = %image.input, reason = %refused, "tag not refreshed");
            let note = Some(format!("not refreshed: {refused}"));
            let freshness = match checked {
                Checked::Stale {
                    upstream_digest, ..
                } => Checked::Stale {
                    upstream_digest,
                    note,
                },
                other => other,
            };
            return PullOutcome::AlreadyCached {
                digest,
                freshness: Some(freshness),
            };
        }
        self.refresh(image, &target.repository, tag, digest, upstream_digest)
            .await
    }

    /// What the upstream names now, compared with the cached `digest`; `None` when the rule's
    /// upstream is not asked (an ECR upstream, reached with an IAM role the product does not
    /// assume).
    async fn upstream_digest(&self, image: &PlannedImage, digest: Option<&str>) -> Option<Checked> {
        let target = image.target.as_ref()?;
        let reference = image.reference.as_ref()?;
        let tag = target.tag.as_deref().unwrap_or(DEFAULT_TAG);
        let rule = self
            .rules
            .iter()
            .find(|rule| rule.prefix == target.rule_prefix)?;
        if rule.custom_role_arn.is_some() {
            return None;
        }
        let api = match self
            .config
            .upstream_registries
            .api_url(&rule.upstream_registry_url)
        {
            Ok(api) => api,
            Err(why) => {
                return Some(Checked::Unknown(format!(
                    "`{}` cannot be asked: {why}",
                    rule.upstream_registry_url
                )))
            }
        };
        let credential = self.credential(rule).await;
        let credential = match credential.as_ref() {
            Ok(credential) => credential.as_ref(),
            Err(why) => return Some(Checked::Unknown(why.clone())),
        };
        let head = match head_manifest(
            self.ports.upstream(),
            &api,
            &reference.path,
            tag,
            credential,
            self.deadline,
        )
        .await
        {
            Ok(head) => head,
            Err(problem) => {
                warn!(image = %image.input, upstream = api.host(), error = %problem, "the upstream could not tell whether the cached tag is current");
                return Some(Checked::Unknown(problem.to_string()));
            }
        };
        Some(match compare(digest, head.digest.as_deref()) {
            Freshness::Current => {
                info!(image = %image.input, digest = digest.unwrap_or_default(), requests = head.requests, "cached tag is current");
                Checked::Current {
                    upstream_digest: head.digest.unwrap_or_default(),
                }
            }
            Freshness::Unknown => {
                let why = match head.digest {
                    None => format!(
                        "`{}` answered the manifest `HEAD` without a digest (`Docker-Content-Digest`)",
                        api.host()
                    ),
                    Some(_) => "ECR gave no digest for the cached tag".to_owned(),
                };
                warn!(image = %image.input, upstream = api.host(), reason = %why, "staleness not known");
                Checked::Unknown(why)
            }
            Freshness::Behind { upstream } => {
                info!(image = %image.input, cached_digest = digest.unwrap_or_default(), upstream_digest = %upstream, requests = head.requests, "cached tag is behind its upstream");
                Checked::Stale {
                    upstream_digest: upstream,
                    note: None,
                }
            }
        })
    }

    /// Deletes the tag and pulls it through again.
    async fn refresh(
        &self,
        image: &PlannedImage,
        repository: &str,
        tag: &str,
        previous_digest: Option<String>,
        upstream_digest: Option<String>,
    ) -> PullOutcome {
        let registry = self.ports.registry();
        if let Err(delete_error) = registry.delete_tag(repository, tag).await {
            warn!(image = %image.input, error = %delete_error, "tag could not be deleted to refresh it");
            let note = format!("not refreshed: the tag could not be deleted: {delete_error}");
            return PullOutcome::AlreadyCached {
                digest: previous_digest,
                freshness: Some(match upstream_digest {
                    Some(upstream_digest) => Checked::Stale {
                        upstream_digest,
                        note: Some(note),
                    },
                    None => Checked::Unknown(note),
                }),
            };
        }
        match registry.pull_by_tag(repository, tag).await {
            Ok(pulled) => {
                let digest = Some(pulled.digest).filter(|digest| !digest.is_empty());
                let note = upstream_digest
                    .as_deref()
                    .filter(|upstream| digest.as_deref() != Some(*upstream))
                    .map(|upstream| {
                        format!(
                            "ECR pulled `{}`, the upstream had named `{upstream}`: the tag moved again, or ECR chose another manifest",
                            digest.as_deref().unwrap_or("no digest")
                        )
                    });
                info!(image = %image.input, previous_digest = previous_digest.as_deref().unwrap_or_default(), digest = digest.as_deref().unwrap_or_default(), "tag refreshed");
                PullOutcome::Refreshed {
                    previous_digest,
                    digest,
                    upstream_digest,
                    note,
                }
            }
            Err(pull_error) => {
                let error = super::pull_error(repository, pull_error);
                warn!(image = %image.input, error = %error.text, "tag deleted, the pull again failed: the next real pull fetches it from the upstream");
                PullOutcome::Failed(super::outcome::PullError {
                    text: format!(
                        "the tag was deleted from the cache to refresh it, then the pull through failed (the next real pull fetches it from the upstream): {}",
                        error.text
                    ),
                    ..error
                })
            }
        }
    }

    /// The rule's credential, read once per run.
    async fn credential(&self, rule: &CacheRule) -> Arc<CredentialRead> {
        if let Some(known) = lock(&self.credentials).get(&rule.prefix) {
            return Arc::clone(known);
        }
        let read: CredentialRead = match &rule.credential_arn {
            None => Ok(None),
            Some(arn) => match self.ports.secret_store().value(arn).await {
                Ok(value) => RegistryCredential::from_secret(&value)
                    .map(Some)
                    .ok_or_else(|| {
                        format!(
                            "the credential of rule `{}` is not `{{\"username\", \"accessToken\"}}` (`ptc check-credentials` tells more)",
                            rule.prefix
                        )
                    }),
                Err(read_error) => Err(format!(
                    "the credential of rule `{}` could not be read: {read_error}",
                    rule.prefix
                )),
            },
        };
        let read = Arc::new(read);
        lock(&self.credentials).insert(rule.prefix.clone(), Arc::clone(&read));
        read
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
