//! `ptc`: the operator command line of ecr-ptc-ops. Runs the same library code as the
//! Lambdas against the account in the environment, and audits a cluster's image references.

// Everything `ptc` prints goes through the scrubber: these shadow the standard printing macros
// for the whole crate (a `macro_rules!` defined before the modules is in scope in all of them,
// ahead of the prelude), so no table, JSON document or message can bypass it.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::output::print_scrubbed($crate::output::Stream::Stdout, format_args!($($arg)*))
    };
}
macro_rules! println {
    () => {
        print!("\n")
    };
    ($($arg:tt)*) => {
        print!("{}\n", format_args!($($arg)*))
    };
}
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::output::print_scrubbed($crate::output::Stream::Stderr, format_args!($($arg)*))
    };
}
macro_rules! eprintln {
    () => {
        eprint!("\n")
    };
    ($($arg:tt)*) => {
        eprint!("{}\n", format_args!($($arg)*))
    };
}

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
            eprintln!("ptc: {error}");
            error.exit_code()
        }
    }
}
