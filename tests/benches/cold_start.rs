//! Benchmark: cold start, from the process start of a function binary to its first
//! `GET /2018-06-01/runtime/invocation/next` (what Lambda calls init: logging, the
//! configuration, the AWS clients, the runtime loop).
//!
//! `cargo bench -p ptc-ops-tests --bench cold_start` runs each of the four function binaries
//! `ROUNDS` times against a minimal Runtime API on loopback and prints the median, the minimum
//! and the maximum per function. It uses the host's release binaries when they exist
//! (`cargo build --release -p harden-repository -p validate-cache-rules -p check-credentials
//! -p prewarm-images`), otherwise the debug ones, and says which. No AWS call is made during
//! init (clients resolve credentials on first use), so no emulator is needed.
//! Exits non-zero when a median is over the budget (25 ms).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ptc_ops_tests::repo_root;

const FUNCTIONS: [&str; 4] = [
    "harden-repository",
    "validate-cache-rules",
    "check-credentials",
    "prewarm-images",
];
const ROUNDS: usize = 15;
const BUDGET: Duration = Duration::from_millis(25);
/// A binary that never polls is a failed start, not a slow one.
const GIVE_UP: Duration = Duration::from_secs(10);

/// The binary to measure and the profile it came from, in cargo's target folder
/// (`CARGO_TARGET_DIR` when set).
fn binary(function: &str) -> Option<(PathBuf, &'static str)> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    ["release", "debug"].into_iter().find_map(|profile| {
        let path = target.join(profile).join(function);
        path.is_file().then_some((path, profile))
    })
}

/// Starts the binary against a fresh Runtime API port; the time until its first request line.
fn one_start(binary: &PathBuf, function: &str, config: &PathBuf) -> Result<Duration, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string())?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    listener
        .set_nonblocking(true)
        .map_err(|error| error.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "cold-start-bench")
        .env("AWS_SECRET_ACCESS_KEY", "cold-start-bench")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PTC_CONFIG", config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
    let answer = loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let elapsed = started.elapsed();
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                let _ = reader.read_line(&mut line);
                let mut stream = stream;
                let _ = stream
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n");
                break if line.contains("/runtime/invocation/next") {
                    Ok(elapsed)
                } else {
                    Err(format!("first request was not `next`: {line:?}"))
                };
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                if started.elapsed() > GIVE_UP {
                    break Err("no request to the Runtime API within 10 s".to_owned());
                }
                if let Ok(Some(status)) = child.try_wait() {
                    break Err(format!("the function exited during init: {status}"));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(error) => break Err(error.to_string()),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    answer
}

fn main() -> ExitCode {
    let config = repo_root().join("infra/config/ptc-ops.toml");
    if !config.is_file() {
        eprintln!("cold_start: {} is missing", config.display());
        return ExitCode::FAILURE;
    }
    println!(
        "cold start: process start → first `invocation/next`, {ROUNDS} rounds, budget {} ms",
        BUDGET.as_millis()
    );
    println!(
        "{:<22} {:<8} {:>10} {:>10} {:>10}",
        "FUNCTION", "PROFILE", "MEDIAN", "MIN", "MAX"
    );
    let mut over_budget = false;
    for function in FUNCTIONS {
        let Some((path, profile)) = binary(function) else {
            eprintln!("cold_start: no binary for {function}: build it first");
            return ExitCode::FAILURE;
        };
        let mut times = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            match one_start(&path, function, &config) {
                Ok(time) => times.push(time),
                Err(error) => {
                    eprintln!("cold_start: {function}: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        times.sort();
        let median = times[times.len() / 2];
        over_budget |= median > BUDGET;
        let ms = |time: Duration| format!("{:.1} ms", time.as_secs_f64() * 1000.0);
        println!(
            "{function:<22} {profile:<8} {:>10} {:>10} {:>10}",
            ms(median),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }
    if over_budget {
        eprintln!(
            "cold_start: a median is over the {} ms budget",
            BUDGET.as_millis()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
