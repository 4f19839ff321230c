//! Running the real `ptc` binary in tests: against this test's slice of the emulator, or with
//! no AWS in reach at all (rules from `--rules-file`, the registry from `--registry`).
// Each test file uses the part it needs.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ptc_ops_tests::TestEnv;

/// Where `ptc` finds AWS.
pub enum Aws<'a> {
    /// This test's account of the emulator.
    Emulator(&'a TestEnv),
    /// Nowhere: an unreachable endpoint, no region, no profile, no credentials files.
    Offline,
}

/// Runs `ptc` with `args` in `workdir`, `stdin` piped in when given, `extra_env` added and
/// `path` as `PATH` when given.
pub fn run(
    workdir: &Path,
    args: &[&str],
    stdin: Option<&str>,
    aws: Aws<'_>,
    extra_env: &[(&str, &str)],
    path: Option<&str>,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ptc"));
    command
        .args(args)
        .current_dir(workdir)
        .env_remove("PTC_CONFIG")
        .env("NO_COLOR", "1");
    match aws {
        Aws::Emulator(env) => {
            command.envs(env.process_env());
        }
        Aws::Offline => {
            command
                .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
                // No region from anywhere, so a registry host can only come from `--registry`.
                .env_remove("AWS_REGION")
                .env_remove("AWS_DEFAULT_REGION")
                .env_remove("AWS_PROFILE")
                .env("AWS_CONFIG_FILE", "/nonexistent/ptc-test-config")
                .env(
                    "AWS_SHARED_CREDENTIALS_FILE",
                    "/nonexistent/ptc-test-credentials",
                )
                .env("AWS_EC2_METADATA_DISABLED", "true");
        }
    }
    command
        .envs(extra_env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let mut child = command.spawn().expect("ptc starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("stdin written");
    }
    child.wait_with_output().expect("ptc finishes")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
