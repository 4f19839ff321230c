//! The one contract every feature keeps: `run(&RunContext<P>, Request) -> Result<Ran<Details>,
//! Error>`. The context holds the ports (a [`PortSet`]: the AWS adapters and the upstream HTTP
//! client in a deployment, fakes in unit tests), the configuration, the time left and the clock; each feature owns its request type and its
//! report's details. A Lambda handler and a `ptc` command differ only in the context they build
//! (a deadline from the Lambda context, or none) and in what they do with the result.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::deadline::Deadline;
use crate::domain::Report;
use crate::metrics::Metrics;
use crate::ports::PortSet;

/// What a run needs from outside.
#[derive(Debug)]
pub struct RunContext<'a, P: PortSet> {
    /// The ports of the process, wired once by its composition root.
    pub ports: &'a P,
    pub config: &'a Config,
    /// When the invocation ends; none for the CLI.
    pub deadline: Deadline,
    /// The run's "now" (expiry arithmetic, report times).
    pub now: DateTime<Utc>,
    /// The function's own execution role, as the deployment names it (`PTC_FUNCTION_ROLE_ARN`,
    /// read once by the composition root): a setting change it made is its own. None for the CLI.
    pub own_role_arn: Option<&'a str>,
    /// The pre-warm function's execution role (`PTC_PREWARM_ROLE_ARN`, read once by the
    /// composition root): the sweep excludes it from pull-time updates. None for the CLI.
    pub prewarm_role_arn: Option<&'a str>,
}

// Not derived: a derive would ask `P: Clone`, and the context only holds a reference to it.
impl<P: PortSet> Clone for RunContext<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: PortSet> Copy for RunContext<'_, P> {}

impl<'a, P: PortSet> RunContext<'a, P> {
    /// No deadline, the current time.
    pub fn new(ports: &'a P, config: &'a Config) -> Self {
        RunContext {
            ports,
            config,
            deadline: Deadline::none(),
            now: Utc::now(),
            own_role_arn: None,
            prewarm_role_arn: None,
        }
    }

    /// The function's own role, whose changes drift events acknowledge without work.
    pub fn with_own_role(self, own_role_arn: Option<&'a str>) -> Self {
        RunContext {
            own_role_arn,
            ..self
        }
    }

    /// The pre-warm function's role, which the sweep excludes from pull-time updates.
    pub fn with_prewarm_role(self, prewarm_role_arn: Option<&'a str>) -> Self {
        RunContext {
            prewarm_role_arn,
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
}

/// What a run produced: its report and its metrics (written by the caller: EMF on stdout in
/// Lambda, nothing in the CLI).
#[derive(Debug)]
pub struct Ran<D> {
    pub report: Report<D>,
    pub metrics: Metrics,
}
