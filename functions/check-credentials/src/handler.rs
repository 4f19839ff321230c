//! check-credentials: format, expiry, age and use of the upstream credential secrets.
use std::sync::{Arc, LazyLock};

use lambda_runtime::LambdaEvent;
use ptc_ops::credentials::{self, CredentialsReport, HttpTimeouts, UpstreamHttp};
use ptc_ops::deadline::Deadline;
use ptc_ops::error::Error;
use ptc_ops::events::{CheckCredentialsInvocation, FunctionKind};
use ptc_ops::lambda::FunctionContext;
use serde_json::Value;

pub const FUNCTION: FunctionKind = FunctionKind::CheckCredentials;

/// One upstream HTTP client per process; its TLS set-up happens on first use only.
static UPSTREAM_HTTP: LazyLock<UpstreamHttp> =
    LazyLock::new(|| UpstreamHttp::new(HttpTimeouts::default()));

/// Maps one invocation to a report. An event this function does not accept is an error that
/// names the accepted shapes; nothing is written to AWS before the event is understood.
pub async fn handle(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<CredentialsReport, Error> {
    let invocation = CheckCredentialsInvocation::from_payload(&event.payload)?;
    let (report, metrics) = credentials::run(
        &context.clients,
        &context.config,
        invocation.secrets(),
        Deadline::from_context(&event.context),
        std::time::SystemTime::now().into(),
        &UPSTREAM_HTTP,
    )
    .await?;
    Ok(context.finish(report, metrics).await)
}
