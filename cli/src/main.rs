//! `ptc`: the operator command line of ecr-ptc-ops. Runs the same library code as the
//! Lambdas against the account in the environment, and audits a cluster's image references.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let level = match cli.global.verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    ptc_ops::logging::init_cli(level);
    match commands::dispatch(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "ptc: {}",
                ptc_ops::domain::secret::scrub(&error.to_string())
            );
            error.exit_code()
        }
    }
}
