use prewarm_images::handler;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ptc_ops::lambda::run(handler::FUNCTION.as_str(), handler::handle).await
}
