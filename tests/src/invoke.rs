//! The functions' handlers called as Lambda calls them, for tests: a context whose metrics are
//! captured instead of printed, and one wrapper per handler. Integration tests call handlers
//! only through these wrappers (a test checks it), so every report a handler returns is checked
//! against its published schema ([`crate::report_schemas`]) before the test sees it.

use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::check_credentials::{CredentialsDetails, CredentialsReport};
use ptc_ops::config::Config;
use ptc_ops::deadline::Deadline;
use ptc_ops::domain::Report;
use ptc_ops::error::Error;
use ptc_ops::events::HardenInvocation;
use ptc_ops::harden_repository::HardenReport;
use ptc_ops::lambda::FunctionContext;
use ptc_ops::metrics::MetricsSink;
use ptc_ops::ports::HandOff;
use ptc_ops::prewarm_images::PrewarmReport;
use ptc_ops::run::{Ran, RunContext};
use ptc_ops::validate_cache_rules::ValidateReport;
use regex::Regex;
use serde_json::Value;

use crate::report_schemas::assert_matches_schema;
use crate::{report_json, TestEnv};

/// `function`'s context over this test's clients, with `config`; metrics are captured.
pub fn captured_context(
    env: &TestEnv,
    function: &'static str,
    config: Config,
) -> Arc<FunctionContext> {
    Arc::new(
        env.function_context(function, config)
            .with_metrics_sink(MetricsSink::captured()),
    )
}

/// Checks a handler's report (when it returned one) against the published schema.
fn check_answer<D: serde::Serialize>(answer: &Result<Report<D>, Error>) {
    if let Ok(report) = answer {
        assert_matches_schema(&report_json(report));
    }
}

/// `harden_repository::handler::handle`, its report checked against its schema.
pub async fn harden_repository(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<HardenReport, Error> {
    let answer = harden_repository::handler::handle(context, event).await;
    check_answer(&answer);
    answer
}

/// `harden_repository::handler::handle_with` (hand-off injected), its report checked.
pub async fn harden_repository_with(
    context: &FunctionContext,
    invocation: &HardenInvocation,
    deadline: Deadline,
    hand_off: Option<&dyn HandOff>,
) -> Result<HardenReport, Error> {
    let answer =
        harden_repository::handler::handle_with(context, invocation, deadline, hand_off).await;
    check_answer(&answer);
    answer
}

/// `validate_cache_rules::handler::handle`, its report checked against its schema.
pub async fn validate_cache_rules(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<ValidateReport, Error> {
    let answer = validate_cache_rules::handler::handle(context, event).await;
    check_answer(&answer);
    answer
}

/// `check_credentials::handler::handle`, its report checked against its schema.
pub async fn check_credentials(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<CredentialsReport, Error> {
    let answer = check_credentials::handler::handle(context, event).await;
    check_answer(&answer);
    answer
}

/// `prewarm_images::handler::handle`, its report checked against its schema.
pub async fn prewarm_images(
    context: Arc<FunctionContext>,
    event: LambdaEvent<Value>,
) -> Result<PrewarmReport, Error> {
    let answer = prewarm_images::handler::handle(context, event).await;
    check_answer(&answer);
    answer
}

/// `ptc_ops::check_credentials::run`: the library's own report, before a Lambda run scrubs it,
/// checked against the schema too.
pub async fn check_credentials_run(
    context: &RunContext<'_, impl ptc_ops::ports::PortSet>,
    request: ptc_ops::check_credentials::Request,
) -> Result<Ran<CredentialsDetails>, Error> {
    let ran = ptc_ops::check_credentials::run(context, request).await?;
    assert_matches_schema(&report_json(&ran.report));
    Ok(ran)
}

/// harden-repository's handler with `payload` and no deadline; a failure fails the test with
/// the payload and the whole error chain.
pub async fn harden(context: &Arc<FunctionContext>, payload: Value) -> HardenReport {
    harden_repository(
        Arc::clone(context),
        LambdaEvent::new(payload.clone(), Context::default()),
    )
    .await
    .unwrap_or_else(|error| panic!("{payload} failed: {}", error.full_message()))
}

/// Where a test calls a function's handler (`<crate>::handler::handle…`) or the feature's
/// `run` directly, bypassing the wrappers above and with them the schema check: `path:line`
/// for each, from `(path, text)` pairs of source files.
pub fn direct_handler_calls<'a>(
    sources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let feature = "(harden_repository|validate_cache_rules|check_credentials|prewarm_images)";
    let direct = Regex::new(&format!(
        r"::handler::handle|\b{feature}::(run\b|\{{[^}}]*\brun\b)"
    ))
    .unwrap_or_else(|error| panic!("the pattern of direct calls: {error}"));
    sources
        .into_iter()
        .flat_map(|(path, text)| {
            let direct = direct.clone();
            text.lines()
                .enumerate()
                .filter(move |(_, line)| direct.is_match(line))
                .map(move |(index, _)| format!("{path}:{}", index + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::repo_root;

    /// Every `.rs` file under `folder`, recursively.
    fn rust_files(folder: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn tests_call_handlers_only_through_the_checking_wrappers() {
        let root = repo_root();
        let mut files = Vec::new();
        // Benchmarks measure rather than test, and may call what they time directly.
        for folder in ["tests/tests", "tests/src", "cli/tests"] {
            rust_files(&root.join(folder), &mut files);
        }
        assert!(
            files
                .iter()
                .any(|path| path.ends_with("harden_repository.rs")),
            "the integration tests were not found under {}",
            root.display()
        );
        // The wrappers themselves, and the checklist that looks for them.
        let exempt = [
            root.join("tests/src/invoke.rs"),
            root.join("tests/src/registrations.rs"),
        ];
        let sources: Vec<(String, String)> = files
            .iter()
            .filter(|path| !exempt.contains(path))
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                let shown = path.strip_prefix(&root).unwrap_or(path);
                (shown.display().to_string(), text)
            })
            .collect();
        let direct = direct_handler_calls(
            sources
                .iter()
                .map(|(path, text)| (path.as_str(), text.as_str())),
        );
        assert!(
            direct.is_empty(),
            "call the handlers through `ptc_ops_tests::invoke::<function>` so their reports are \
             checked against the published schemas; direct calls at: {direct:?}"
        );
    }

    #[test]
    fn a_direct_call_is_named_by_file_and_line() {
        let test = "use ptc_ops::check_credentials::{run as check, Request};\n\
                    use ptc_ops_tests::invoke::check_credentials_run as check;\n\
                    let report = prewarm_images::handler::handle(context, event).await;\n\
                    let again = invoke::prewarm_images(context, event).await;\n\
                    let ran = ptc_ops::harden_repository::run(&context, request).await;\n\
                    let plan = ptc_ops::harden_repository::templates::run(&context, request).await;\n\
                    // one run of validate_cache_rules\n";
        assert_eq!(
            direct_handler_calls([("tests/tests/integration/x.rs", test)]),
            [
                "tests/tests/integration/x.rs:1",
                "tests/tests/integration/x.rs:3",
                "tests/tests/integration/x.rs:5",
            ]
        );
    }
}
