// The sweep's future (paging, bounded concurrency, per-repository observe/plan/apply) nests
// deeper than rustc's default query depth when laid out inside the runtime loop.
#![recursion_limit = "256"]

use harden_repository::handler;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ptc_ops::lambda::run(handler::FUNCTION.as_str(), handler::handle).await
}
