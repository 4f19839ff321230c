//! Plumbing every function binary shares: state built once before the first event, the
//! invocation deadline from the Lambda context, and the end of a run (alerts, metrics, one
//! summary log line).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use lambda_runtime::{service_fn, Context, Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::{error, info};

use crate::alerts::repeats::{self, Unchecked};
use crate::alerts::{build_alerts, AlertSource};
use crate::aws::AwsPorts;
use crate::aws::{self, Clients};
use crate::config::Config;
use crate::deadline::Deadline;
use crate::domain::secret::scrub;
use crate::domain::{Check, Finding, Report, Severity};
use crate::error::Error;
use crate::metrics::{Metrics, MetricsSink};
use crate::ports::PortSet;
use crate::ports::{Alert, AlertSink};
use crate::run::RunContext;

/// What an invocation needs, built once per process and shared by every invocation.
#[derive(Debug)]
pub struct FunctionContext {
    pub function: &'static str,
    pub config: Config,
    /// The SDK clients (the harden sweep's hand-off to itself is built from them).
    pub clients: Clients,
    /// What every run asks the outside world through, on `clients`.
    pub ports: AwsPorts,
    alert_topic: Option<Arc<dyn AlertSink>>,
    metrics_sink: MetricsSink,
    /// `PTC_FUNCTION_ROLE_ARN`: the function's own execution role (SAM and CDK set it; Lambda
    /// sets no variable for it).
    own_role_arn: Option<String>,
    /// `PTC_PREWARM_ROLE_ARN`: the pre-warm function's execution role (SAM and CDK pass it to
    /// harden-repository).
    prewarm_role_arn: Option<String>,
}

impl FunctionContext {
    /// Production set-up: configuration from `PTC_CONFIG` (all errors at once, at init) and the
    /// one `SdkConfig` of the process.
    pub async fn from_env(function: &'static str) -> Result<Self, Error> {
        let config = Config::load_from_env()?;
        let clients = Clients::new(&aws::load_sdk_config().await)
            .with_state_table(std::env::var(crate::env::PTC_STATE_TABLE).ok());
        Ok(FunctionContext::new(function, config, clients))
    }

    /// A context over `clients` (their ECR calls paced as `hardening.ecr_calls_per_second`
    /// says), alerting to `alerts.topic_arn` when set.
    pub fn new(function: &'static str, config: Config, clients: Clients) -> Self {
        let clients = clients.with_ecr_pacing(config.hardening.ecr_calls_per_second);
        let alert_topic = config
            .alerts
            .topic_arn
            .as_ref()
            .map(|arn| Arc::new(clients.alert_topic(arn.as_str())) as Arc<dyn AlertSink>);
        FunctionContext {
            function,
            config,
            ports: clients.ports(),
            clients,
            alert_topic,
            metrics_sink: MetricsSink::Stdout,
            own_role_arn: std::env::var(crate::env::PTC_FUNCTION_ROLE_ARN)
                .ok()
                .filter(|arn| !arn.is_empty()),
            prewarm_role_arn: std::env::var(crate::env::PTC_PREWARM_ROLE_ARN)
                .ok()
                .filter(|arn| !arn.is_empty()),
        }
    }

    /// What a run of this invocation gets: the process's ports and configuration, and the
    /// invocation's deadline.
    pub fn run_context(&self, lambda: &Context) -> RunContext<'_, AwsPorts> {
        self.run_context_until(Deadline::from_context(lambda))
    }

    /// [`Self::run_context`] with the deadline given (a handler that computed it already).
    pub fn run_context_until(&self, deadline: Deadline) -> RunContext<'_, AwsPorts> {
        RunContext::new(&self.ports, &self.config)
            .with_deadline(deadline)
            .with_own_role(self.own_role_arn.as_deref())
            .with_prewarm_role(self.prewarm_role_arn.as_deref())
    }

    /// The pre-warm role as a deployment would pass it in `PTC_PREWARM_ROLE_ARN` (tests, which
    /// share one process environment).
    pub fn with_prewarm_role(mut self, role_arn: Option<&str>) -> Self {
        self.prewarm_role_arn = role_arn.map(str::to_owned);
        self
    }

    /// Sends alerts somewhere else than the configured topic (tests of the failure paths).
    pub fn with_alert_sink(mut self, sink: Arc<dyn AlertSink>) -> Self {
        self.alert_topic = Some(sink);
        self
    }

    /// Sends EMF lines somewhere else than stdout (tests).
    pub fn with_metrics_sink(mut self, sink: MetricsSink) -> Self {
        self.metrics_sink = sink;
        self
    }

    pub fn metrics_sink(&self) -> &MetricsSink {
        &self.metrics_sink
    }

    /// Ends a run: publishes the alerts of its findings (one per resource), writes its metrics,
    /// logs one summary line, and returns the report with the alert outcome in its summary.
    /// A topic that cannot be reached becomes a finding: the report still tells everything.
    pub async fn finish<D>(&self, mut report: Report<D>, metrics: Metrics) -> Report<D> {
        report.scrub_secrets();
        let source = AlertSource {
            function: self.function.to_owned(),
            region: self.clients.region().map(str::to_owned),
        };
        let alerts = build_alerts(&source, &report.findings, self.config.alerts.min_severity);
        match (&self.alert_topic, alerts.is_empty()) {
            (_, true) => report.count("alerts_published", 0),
            (None, false) => {
                info!(
                    n_alerts = alerts.len(),
                    "no alert topic configured; alerts stay in the report"
                );
                report.count("alerts_published", 0);
            }
            (Some(topic), false) => {
                let alerts = self.hold_back_repeats(&mut report, alerts).await;
                let delivery = topic.publish_all(&alerts).await;
                report.count("alerts_published", delivery.published as u64);
                for (resource, failure) in delivery.failed {
                    report.push_finding(
                        Finding::new(
                            Severity::Critical,
                            Check::AlertDelivery,
                            topic.arn(),
                            format!("alert for `{resource}` could not be published"),
                            failure.to_string(),
                        )
                        .with_next_step(format!(
                            "check that the function's role may call `sns:Publish` on `{}` and that the topic exists",
                            topic.arn()
                        )),
                    );
                }
            }
        }
        self.metrics_sink.emit(&metrics);
        info!(
            function = self.function,
            dry_run = report.dry_run,
            n_findings = report.findings.len(),
            highest_severity = report.highest_severity().map(Severity::as_str).unwrap_or("none"),
            summary = ?report.summary,
            "run finished"
        );
        report
    }

    /// Alerts on a finding that arose after [`FunctionContext::finish`] (a sweep's hand-off,
    /// the invocation's last step) and adds it to the finished report.
    pub async fn alert_late<D>(&self, report: &mut Report<D>, finding: Finding) {
        let source = AlertSource {
            function: self.function.to_owned(),
            region: self.clients.region().map(str::to_owned),
        };
        let alerts = build_alerts(
            &source,
            std::slice::from_ref(&finding),
            self.config.alerts.min_severity,
        );
        report.push_finding(finding);
        if let (Some(topic), false) = (&self.alert_topic, alerts.is_empty()) {
            let alerts = self.hold_back_repeats(report, alerts).await;
            let delivery = topic.publish_all(&alerts).await;
            report.add_to_count("alerts_published", delivery.published as u64);
            for (resource, failure) in delivery.failed {
                error!(resource = %resource, error = %failure, "late alert could not be published");
            }
        }
    }
}

impl FunctionContext {
    /// The alerts that go out: those sent within `alerts.repeat_after_minutes` are held back
    /// ([`repeats`]), counted in the report's `alerts_held_back`. Without a state table, or when
    /// it fails, every alert goes out and one finding says why.
    async fn hold_back_repeats<D>(&self, report: &mut Report<D>, alerts: Vec<Alert>) -> Vec<Alert> {
        let gated = repeats::gate(
            self.ports.state(),
            alerts,
            chrono::Utc::now(),
            self.config.alerts.repeat_after_minutes,
        )
        .await;
        report.add_to_count("alerts_held_back", gated.n_held_back as u64);
        match gated.unchecked {
            None => {}
            Some(Unchecked::NoStateStore) => {
                info!("no state table (`PTC_STATE_TABLE`): alert repeats are not held back");
                report.push_finding(
                    Finding::new(
                        Severity::Info,
                        Check::AlertDelivery,
                        self.function,
                        "alert repeats are not held back: no state table",
                        format!(
                            "without `{}` the function remembers nothing between invocations, \
                             so an alert repeated within `alerts.repeat_after_minutes` is sent again",
                            crate::env::PTC_STATE_TABLE
                        ),
                    )
                    .with_next_step(format!(
                        "deploy with the stack's state table, or set `{}` to a DynamoDB table \
                         with partition key `pk` (string) and TTL attribute `expires_at`",
                        crate::env::PTC_STATE_TABLE
                    )),
                );
            }
            Some(Unchecked::Failed(failures)) => {
                let resources: Vec<&str> = failures
                    .iter()
                    .map(|(resource, _)| resource.as_str())
                    .collect();
                report.push_finding(
                    Finding::new(
                        Severity::Warning,
                        Check::AlertDelivery,
                        self.function,
                        format!(
                            "alert repeats could not be checked for {} alert(s); they were sent",
                            failures.len()
                        ),
                        format!(
                            "the state table did not answer for {}: {}",
                            resources.join(", "),
                            failures[0].1
                        ),
                    )
                    .with_next_step(format!(
                        "check that the function's role may call `{}` on the table named by `{}`",
                        crate::domain::permissions::UPDATE_ITEM,
                        crate::env::PTC_STATE_TABLE
                    )),
                );
            }
        }
        gated.to_send
    }
}

/// The Lambda side of [`Deadline`]: a context without a deadline (direct calls in tests)
/// means no deadline.
impl Deadline {
    pub fn from_context(context: &Context) -> Self {
        if context.deadline == 0 {
            Deadline::none()
        } else {
            Deadline::at(context.deadline())
        }
    }
}

/// The whole `main` of a function: logging, state built once, then the Lambda runtime loop.
/// An init failure (bad configuration) is logged once and ends the process, so Lambda reports
/// an init error before any event is taken.
pub async fn run<Handler, HandlerFuture, Details>(
    function: &'static str,
    handler: Handler,
) -> Result<(), lambda_runtime::Error>
where
    Handler: Fn(Arc<FunctionContext>, LambdaEvent<Value>) -> HandlerFuture,
    HandlerFuture: Future<Output = Result<Report<Details>, Error>>,
    Details: serde::Serialize,
{
    crate::logging::init_lambda();
    let context = match FunctionContext::from_env(function).await {
        Ok(context) => Arc::new(context),
        Err(init_error) => {
            error!(
                function,
                error_type = init_error.error_type(),
                error = %init_error.full_message(),
                "initialisation failed"
            );
            return Err(Box::new(init_error));
        }
    };
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let invocation = handler(Arc::clone(&context), event);
        async move {
            // A panic is answered here, scrubbed, rather than by the runtime, which would send
            // the panic's message to Lambda as it is. (Release builds abort on panic; the panic
            // hook scrubs what they print.)
            match AssertUnwindSafe(invocation).catch_unwind().await {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(invocation_error)) => {
                    error!(
                        function,
                        error_type = invocation_error.error_type(),
                        error = %invocation_error.full_message(),
                        "invocation failed"
                    );
                    Err(Diagnostic::from(invocation_error))
                }
                Err(payload) => {
                    let diagnostic = panic_diagnostic(payload.as_ref());
                    error!(
                        function,
                        error_type = diagnostic.error_type,
                        error = %diagnostic.error_message,
                        "invocation panicked"
                    );
                    Err(diagnostic)
                }
            }
        }
    }))
    .await
}

/// The answer to Lambda for a handler that panicked: the message, scrubbed.
fn panic_diagnostic(payload: &(dyn std::any::Any + Send)) -> Diagnostic {
    Diagnostic {
        error_type: "Panic".to_owned(),
        error_message: scrub(&format!(
            "the handler panicked: {}",
            crate::logging::panic_message(payload)
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// An alert sink that refuses every alert, as SNS does without `sns:Publish`.
    #[derive(Debug, Default)]
    struct RefusingSink {
        offered: std::sync::Mutex<usize>,
    }

    impl AlertSink for RefusingSink {
        fn arn(&self) -> &str {
            "arn:aws:sns:eu-west-1:111122223333:ptc-ops-alerts"
        }

        fn publish_all<'a>(
            &'a self,
            alerts: &'a [crate::ports::Alert],
        ) -> futures::future::BoxFuture<'a, crate::ports::AlertDelivery> {
            Box::pin(async move {
                *self
                    .offered
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) += alerts.len();
                crate::ports::AlertDelivery {
                    published: 0,
                    failed: alerts
                        .iter()
                        .map(|alert| {
                            (
                                alert.resource.clone(),
                                crate::ports::AwsError::invalid_request(
                                    "sns:Publish",
                                    Some(self.arn()),
                                    std::io::Error::other("not authorized to perform sns:Publish"),
                                ),
                            )
                        })
                        .collect(),
                }
            })
        }
    }

    /// The end of a run with an alert topic that refuses: the report still carries everything,
    /// and says the alert was not delivered. No AWS call is made (the clients are never used).
    #[tokio::test]
    async fn an_alert_the_sink_refuses_becomes_a_critical_finding() {
        let sdk_config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let config = Config::from_toml_str("", std::path::Path::new("."), "test")
            .unwrap_or_else(|error| panic!("{error}"));
        let sink = Arc::new(RefusingSink::default());
        let context = FunctionContext::new("check-credentials", config, Clients::new(&sdk_config))
            .with_alert_sink(Arc::clone(&sink) as Arc<dyn AlertSink>)
            .with_metrics_sink(MetricsSink::captured());
        let mut report: Report<()> = Report::new("check-credentials", false);
        report.push_finding(Finding::new(
            Severity::Critical,
            Check::CredentialExpiry,
            "ecr-pullthroughcache/docker-hub",
            "token expires in 2 days",
            "then the upstream refuses it",
        ));
        let report = context
            .finish(report, Metrics::new("check-credentials"))
            .await;
        assert_eq!(*sink.offered.lock().expect("not poisoned"), 1);
        assert_eq!(report.summary.get("alerts_published"), Some(&0));
        let delivery: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|finding| {
                finding.check == Check::AlertDelivery && finding.severity == Severity::Critical
            })
            .collect();
        assert_eq!(delivery.len(), 1, "{:#?}", report.findings);
        // No state table here: the alert went out unchecked, and one info finding says why.
        let unchecked: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|finding| {
                finding.check == Check::AlertDelivery && finding.severity == Severity::Info
            })
            .collect();
        assert_eq!(unchecked.len(), 1, "{:#?}", report.findings);
        assert!(unchecked[0].message.contains("PTC_STATE_TABLE"));
        assert_eq!(delivery[0].severity, Severity::Critical);
        assert_eq!(delivery[0].resource, sink.arn());
        assert!(delivery[0]
            .title
            .contains("ecr-pullthroughcache/docker-hub"));
        assert!(delivery[0].next_steps[0].contains("sns:Publish"));
    }

    #[test]
    fn deadline_from_context() {
        let no_deadline = Deadline::from_context(&Context::default());
        assert_eq!(no_deadline.remaining(), None);
        assert!(!no_deadline.is_within(Duration::from_secs(3600)));

        let soon = Deadline::after(Duration::from_millis(500));
        assert!(soon.is_within(Duration::from_secs(1)));
        assert!(!soon.is_within(Duration::from_millis(1)));

        let past = Deadline::at(SystemTime::UNIX_EPOCH);
        assert_eq!(past.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn a_panic_answers_lambda_scrubbed() {
        let token = crate::domain::SecretValue::new("tok\"en\\wïth-ünïcode-diagnostic");
        let payload: Box<dyn std::any::Any + Send> =
            Box::new(format!("unexpected secret {:?}", token.expose()));
        let diagnostic = panic_diagnostic(payload.as_ref());
        assert_eq!(diagnostic.error_type, "Panic");
        assert_eq!(
            diagnostic.error_message,
            "the handler panicked: unexpected secret \"***\""
        );
    }
}
