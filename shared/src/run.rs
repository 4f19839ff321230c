//! The one contract every feature keeps: `run(&RunContext, Request) -> Result<Ran<Details>,
//! Error>`. The context holds the ports (the AWS adapters, the upstream HTTP client), the
//! configuration, the time left and the clock; each feature owns its request type and its
//! report's details. A Lambda handler and a `ptc` command differ only in the context they build
//! (a deadline from the Lambda context, or none) and in what they do with the result.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::deadline::Deadline;
use crate::domain::Report;
use crate::metrics::Metrics;
use crate::ports::{Ports, UpstreamPort};
use crate::upstream::{HttpTimeouts, UpstreamHttp};

/// One upstream HTTP client per process: its TLS set-up happens on first use only.
static UPSTREAM_HTTP: LazyLock<UpstreamHttp> =
    LazyLock::new(|| UpstreamHttp::new(HttpTimeouts::default()));

/// What a run needs from outside.
#[derive(Clone, Copy, Debug)]
pub struct RunContext<'a> {
    /// The AWS ports of the process.
    pub ports: &'a Ports,
    pub config: &'a Config,
    /// When the invocation ends; none for the CLI.
    pub deadline: Deadline,
    /// The run's "now" (expiry arithmetic, report times).
    pub now: DateTime<Utc>,
    /// Upstream registry APIs (credential expiry discovery).
    pub upstream: UpstreamPort<'a>,
    /// The function's own execution role, as the deployment names it (`PTC_FUNCTION_ROLE_ARN`,
    /// read once by the composition root): a setting change it made is its own. None for the CLI.
    pub own_role_arn: Option<&'a str>,
}

impl<'a> RunContext<'a> {
    /// No deadline, the current time, the process's upstream HTTP client.
    pub fn new(ports: &'a Ports, config: &'a Config) -> Self {
        RunContext {
            ports,
            config,
            deadline: Deadline::none(),
            now: Utc::now(),
            upstream: UpstreamPort::Adapter(&UPSTREAM_HTTP),
            own_role_arn: None,
        }
    }

    /// The function's own role, whose changes drift events acknowledge without work.
    pub fn with_own_role(self, own_role_arn: Option<&'a str>) -> Self {
        RunContext {
            own_role_arn,
            ..self
        }
    }

    pub fn with_deadline(self, deadline: Deadline) -> Self {
        RunContext { deadline, ..self }
    }

    /// The run looks at the world as of `now` (tests look ahead in time).
    pub fn at(self, now: DateTime<Utc>) -> Self {
        RunContext { now, ..self }
    }

    /// Upstream APIs through another client ([`UpstreamHttp`] with other timeouts, or a fake).
    pub fn with_upstream(self, upstream: impl Into<UpstreamPort<'a>>) -> Self {
        RunContext {
            upstream: upstream.into(),
            ..self
        }
    }
}

/// What a run produced: its report and its metrics (written by the caller: EMF on stdout in
/// Lambda, nothing in the CLI).
#[derive(Debug)]
pub struct Ran<D> {
    pub report: Report<D>,
    pub metrics: Metrics,
}
