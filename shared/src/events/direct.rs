//! Direct-invoke requests (`aws lambda invoke`, `cargo lambda invoke`, a schedule's constant
//! input, a sweep handing itself on). Unknown keys are errors: a typo must not widen a run.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{without_values, EventError, Received};
use super::FunctionKind;

/// A direct-invoke request: serde does the shape, [`DirectRequest::check`] what serde cannot.
pub(super) trait DirectRequest: DeserializeOwned {
    /// A problem naming the key, or `Ok`.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

pub(super) fn parse<T: DirectRequest>(
    function: FunctionKind,
    object: &Map<String, Value>,
) -> Result<T, EventError> {
    let invalid = |problem: String| EventError::InvalidRequest {
        function,
        received: Received::object(object),
        problem,
    };
    let request =
        T::deserialize(object).map_err(|error| invalid(without_values(&error.to_string())))?;
    request.check().map_err(invalid)?;
    Ok(request)
}

/// A list that narrows a run must name something: an empty list or a blank entry is almost
/// always a templating mistake, and running on everything (or nothing) instead would hide it.
pub(super) fn check_list(key: &str, items: &[String]) -> Result<(), String> {
    if items.is_empty() {
        return Err(format!(
            "`{key}` is empty; leave it out to use the configured default"
        ));
    }
    match items.iter().position(|item| item.trim().is_empty()) {
        Some(index) => Err(format!("`{key}[{index}]` is blank")),
        None => Ok(()),
    }
}

/// `harden-repository`: `{"repositories": [...]}` or `{"sweep": true}`, optionally `dry_run`,
/// and `cursor` when a sweep hands the rest of its work to a fresh invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawHardenRequest", into = "RawHardenRequest")]
pub struct HardenRequest {
    pub target: HardenTarget,
    /// Overrides `hardening.dry_run` for this run.
    pub dry_run: Option<bool>,
    /// Where a previous invocation stopped; opaque here, owned by the sweep that wrote it.
    pub cursor: Option<Value>,
}

/// What a direct `harden-repository` invoke covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HardenTarget {
    /// These repositories, by full name (`docker-hub/library/nginx`).
    Repositories(Vec<String>),
    /// Every repository under a managed prefix.
    Sweep,
    /// The usage summary: what the cache holds, to chat and in the report (`{"usage": true}`).
    Usage,
}

/// [`HardenRequest`] as written on the wire.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHardenRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    repositories: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sweep: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<Value>,
}

impl TryFrom<RawHardenRequest> for HardenRequest {
    type Error = String;

    fn try_from(raw: RawHardenRequest) -> Result<Self, Self::Error> {
        if let Some(usage) = raw.usage {
            if raw.repositories.is_some() || raw.sweep.is_some() || raw.cursor.is_some() {
                return Err(
                    "`usage` goes alone: not with `repositories`, `sweep` or `cursor`".to_owned(),
                );
            }
            if !usage {
                return Err(
                    "`usage` is `false`; the usage summary is asked for with `true`".to_owned(),
                );
            }
            return Ok(HardenRequest {
                target: HardenTarget::Usage,
                dry_run: raw.dry_run,
                cursor: None,
            });
        }
        let target = match (raw.repositories, raw.sweep) {
            (Some(_), Some(_)) => {
                return Err("`repositories` and `sweep` exclude each other".to_owned());
            }
            (Some(repositories), None) => {
                check_list("repositories", &repositories)?;
                HardenTarget::Repositories(repositories)
            }
            (None, Some(true)) => HardenTarget::Sweep,
            (None, Some(false)) => {
                return Err("`sweep` is `false`; a sweep is asked for with `true`, single repositories with `repositories`".to_owned());
            }
            (None, None) => return Err("name `repositories` or set `sweep` to `true`".to_owned()),
        };
        if raw
            .cursor
            .as_ref()
            .is_some_and(|cursor| !cursor.is_object())
        {
            return Err("`cursor` must be an object".to_owned());
        }
        Ok(HardenRequest {
            target,
            dry_run: raw.dry_run,
            cursor: raw.cursor,
        })
    }
}

impl From<HardenRequest> for RawHardenRequest {
    fn from(request: HardenRequest) -> Self {
        let (repositories, sweep, usage) = match request.target {
            HardenTarget::Repositories(repositories) => (Some(repositories), None, None),
            HardenTarget::Sweep => (None, Some(true), None),
            HardenTarget::Usage => (None, None, Some(true)),
        };
        RawHardenRequest {
            repositories,
            sweep,
            usage,
            dry_run: request.dry_run,
            cursor: request.cursor,
        }
    }
}

impl DirectRequest for HardenRequest {}

/// `validate-cache-rules`: `{}` for every rule, or `{"prefixes": [...]}` to narrow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRulesRequest {
    /// `ecrRepositoryPrefix` values (`ROOT` included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefixes: Option<Vec<String>>,
}

impl DirectRequest for ValidateRulesRequest {
    fn check(&self) -> Result<(), String> {
        self.prefixes
            .as_deref()
            .map_or(Ok(()), |prefixes| check_list("prefixes", prefixes))
    }
}

/// `check-credentials`: `{}` for every `ecr-pullthroughcache/` secret, or `{"secrets": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckCredentialsRequest {
    /// Secret names or ARNs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<String>>,
}

impl DirectRequest for CheckCredentialsRequest {
    fn check(&self) -> Result<(), String> {
        self.secrets
            .as_deref()
            .map_or(Ok(()), |secrets| check_list("secrets", secrets))
    }
}

/// `prewarm-images`: `{"images": [...], "dry_run": false}` (`{}` is the configured list, see
/// [`super::PrewarmInvocation::Configured`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrewarmRequest {
    /// Upstream references as a cluster writes them (`nginx:1.27`, `ghcr.io/org/app:v1`).
    pub images: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Overrides `prewarm.refresh` for this run: `never`, `report` or `stale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<crate::domain::freshness::RefreshMode>,
}

impl DirectRequest for PrewarmRequest {
    fn check(&self) -> Result<(), String> {
        check_list("images", &self.images)
    }
}
