//! Benchmark: `ptc usage` on 2,000 repositories of 10 images each, on the local emulator.
//!
//! `cargo bench -p ptc-ops-tests --bench usage` (release profile). Seeds the repositories
//! (`CreateRepository`, then `PutImage` of ten one-layer Docker manifests each), then counts
//! them in-process at the default pacing (20 calls per second and API) and prints the wall time,
//! the calls per repository from the emulator's call log (the target: one `DescribeImages`
//! page each) and this process's peak resident memory (`VmHWM`, the seeding included). With
//! `PTC_BENCH_PTC` naming a built `ptc` binary, it also runs `ptc --json usage` under
//! `/usr/bin/time -v` and prints its wall time and maximum resident set size.
//!
//! `PTC_BENCH_REPOSITORIES` changes the registry size (default 2000), `PTC_BENCH_PACING` the
//! calls per second and API (default: the product's default).

use std::time::Instant;

use futures::stream::{self, StreamExt};
use ptc_ops::config::DEFAULT_CALLS_PER_SECOND;
use ptc_ops::harden_repository::usage;
use ptc_ops::run::RunContext;
use ptc_ops_tests::TestEnv;

const IMAGES_PER_REPOSITORY: usize = 10;
const LAYER_BYTES: u64 = 30 << 20;

/// Peak resident set size of this process, in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n_repositories = env_number("PTC_BENCH_REPOSITORIES", 2000) as usize;
    let pacing = env_number("PTC_BENCH_PACING", DEFAULT_CALLS_PER_SECOND);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("tokio runtime: {error}"));
    runtime.block_on(async move {
        let env = TestEnv::new().await;
        let started = Instant::now();
        stream::iter(0..n_repositories)
            .for_each_concurrent(16, |index| {
                let env = &env;
                async move {
                    let name = format!("docker-hub/bench/repository-{index:05}");
                    env.seed_images(&name, IMAGES_PER_REPOSITORY, LAYER_BYTES)
                        .await;
                }
            })
            .await;
        println!(
            "setup: {n_repositories} repositories of {IMAGES_PER_REPOSITORY} images seeded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let config_text = format!(
            "[hardening]\nprefixes = [\"docker-hub\"]\necr_calls_per_second = {pacing}\n"
        );
        let config = env.config(&config_text);
        env.clear_calls().await;
        let clients = env
            .clients
            .clone()
            .with_ecr_pacing(config.hardening.ecr_calls_per_second);
        let ports = clients.ports();
        let context = RunContext::new(&ports, &config);
        let request = usage::Request {
            prefixes: Vec::new(),
            unused_days: 30,
            archived: false,
        };
        let started = Instant::now();
        let details = usage::count(&context, &request, &|_| {})
            .await
            .unwrap_or_else(|error| panic!("count failed: {error}"));
        let elapsed = started.elapsed().as_secs_f64();
        let calls = env.calls().await;
        let describe_images = calls
            .iter()
            .filter(|call| call.operation == "DescribeImages")
            .count();
        let describe_repositories = calls
            .iter()
            .filter(|call| call.operation == "DescribeRepositories")
            .count();
        assert_eq!(details.total.n_repositories, n_repositories as u64);
        assert_eq!(
            details.total.n_images,
            (n_repositories * IMAGES_PER_REPOSITORY) as u64
        );
        println!(
            "count at {pacing} calls/s per API: {n_repositories} repositories, {} images, {:.1} GiB in {elapsed:.1} s = {:.0} repositories/s; DescribeImages {describe_images} = {:.2} per repository; DescribeRepositories {describe_repositories}; all calls {} = {:.2} per repository; uncounted {}",
            details.total.n_images,
            details.total.bytes as f64 / f64::from(1u32 << 30),
            n_repositories as f64 / elapsed,
            describe_images as f64 / n_repositories as f64,
            calls.len(),
            calls.len() as f64 / n_repositories as f64,
            details.total.n_uncounted_repositories,
        );
        println!("peak resident memory of this process: {:.1} MiB", peak_rss_mib());

        if let Ok(ptc) = std::env::var("PTC_BENCH_PTC") {
            let folder = tempfile::tempdir().expect("temporary folder");
            let config_path = folder.path().join("ptc-ops.toml");
            std::fs::write(&config_path, &config_text).expect("config written");
            let started = Instant::now();
            let output = std::process::Command::new("/usr/bin/time")
                .arg("-v")
                .arg(&ptc)
                .arg("--config")
                .arg(&config_path)
                .args(["--json", "usage"])
                .envs(env.process_env())
                .output()
                .unwrap_or_else(|error| panic!("cannot run `{ptc}` under /usr/bin/time: {error}"));
            let elapsed = started.elapsed().as_secs_f64();
            assert!(output.status.success(), "ptc usage failed");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let max_rss = stderr
                .lines()
                .find(|line| line.contains("Maximum resident set size"))
                .unwrap_or("Maximum resident set size: unknown")
                .trim()
                .to_owned();
            println!("`ptc --json usage` binary: {elapsed:.1} s; {max_rss}");
        }
    });
}
