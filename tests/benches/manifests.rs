//! Benchmark: `ptc rewrite -f` on a large tree, the way a CI gate or a mass rewrite runs it.
//!
//! `cargo bench -p ptc-ops-tests --bench manifests` writes `PTC_BENCH_FILES` files (default
//! 10,000) with six image references each (a Deployment with an init container, two containers
//! and a sidecar, and Helm values with two image maps) into a temporary folder, then runs the
//! `ptc` binary on it in `--check`, `--diff` and `--in-place` mode, and prints the wall time and
//! the peak resident memory of each run (GNU `time`'s `%M`, when `/usr/bin/time` is there). It
//! uses the host's release `ptc` when it exists (`cargo build --release -p ptc-cli`), otherwise
//! the debug one, and says which. Offline: rules from a file, the registry given.
//!
//! The budget it reports against: `--check` within 2 s and 100 MB; `--diff` and `--in-place`
//! within twice the time of `--check`. It measures and prints; it fails only when a run fails.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use ptc_ops_tests::repo_root;

const REGISTRY: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";

fn ptc() -> (PathBuf, &'static str) {
    ["release", "debug"]
        .into_iter()
        .find_map(|profile| {
            let path = repo_root().join("target").join(profile).join("ptc");
            path.is_file().then_some((path, profile))
        })
        .unwrap_or_else(|| panic!("no ptc binary: run `cargo build --release -p ptc-cli` first"))
}

fn deployment(index: usize) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{index}\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: migrate\n          image: ghcr.io/shop/migrate:v{index}\n      containers:\n        - name: web\n          image: nginx:1.27.{index}\n        - name: worker\n          image: prom/node-exporter:v1.8.{index}\n        - name: pause\n          image: registry.k8s.io/pause:3.{index}\n"
    )
}

fn values(index: usize) -> String {
    format!(
        "image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: 7.4.{index}\nmetrics:\n  image:\n    registry: docker.io\n    repository: bitnami/redis-exporter\n    tag: 1.66.{index}\n"
    )
}

/// Writes the tree: half Deployments, half values files, 100 files per folder.
fn write_tree(root: &Path, n_files: usize) {
    for index in 0..n_files {
        let folder = root.join(format!("team-{:03}", index / 100));
        std::fs::create_dir_all(&folder).expect("folder");
        let (name, text) = if index % 2 == 0 {
            (format!("deployment-{index}.yaml"), deployment(index))
        } else {
            // Two values files make the same six references as one Deployment and one values
            // file: keep six references per file on average.
            (
                format!("values-{index}.yaml"),
                format!("{}---\n{}", values(index), values(index + 1)),
            )
        };
        std::fs::write(folder.join(name), text).expect("written");
    }
}

/// Runs `ptc` with `args` in `root`; wall seconds and peak RSS in MB (when GNU time is there).
fn run(root: &Path, binary: &Path, args: &[&str]) -> (f64, Option<f64>, i32) {
    let rules = repo_root().join("tests/fixtures/manifests-golden/rules.json");
    let rules = rules.display().to_string();
    let mut full: Vec<&str> = vec!["rewrite", "-f", "."];
    full.extend_from_slice(args);
    full.extend(["--rules-file", &rules, "--registry", REGISTRY]);
    let gnu_time = Path::new("/usr/bin/time");
    let rss_file = root.with_extension("rss");
    let mut command = if gnu_time.is_file() {
        let mut command = Command::new(gnu_time);
        command
            .args(["-f", "%M", "-o"])
            .arg(&rss_file)
            .arg(binary)
            .args(&full);
        command
    } else {
        let mut command = Command::new(binary);
        command.args(&full);
        command
    };
    let started = Instant::now();
    let status = command
        .current_dir(root)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ptc runs");
    let seconds = started.elapsed().as_secs_f64();
    let rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|text| text.lines().last()?.trim().parse::<f64>().ok())
        .map(|kilobytes| kilobytes / 1024.0);
    (seconds, rss, status.code().unwrap_or(-1))
}

fn main() -> ExitCode {
    let n_files: usize = std::env::var("PTC_BENCH_FILES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10_000);
    let (binary, profile) = ptc();
    let folder = tempfile::tempdir().expect("folder");
    let root = folder.path().join("tree");
    std::fs::create_dir_all(&root).expect("tree");
    let started = Instant::now();
    write_tree(&root, n_files);
    println!(
        "{n_files} files, {} references, written in {:.1} s; ptc from target/{profile}",
        n_files * 6,
        started.elapsed().as_secs_f64()
    );
    let mut failed = false;
    let mut check_seconds = 0.0;
    // `--check` exits 1: the references bypass the cache; `--diff` 0: it would rewrite them
    // all. `--in-place` last, since it rewrites the tree.
    for (mode, args, expected) in [
        ("--check", &["--check"][..], 1),
        ("--diff", &["--diff"][..], 0),
        ("--in-place", &["--in-place"][..], 0),
    ] {
        let (seconds, rss, code) = run(&root, &binary, args);
        if mode == "--check" {
            check_seconds = seconds;
        }
        let rss = rss.map_or("-".to_owned(), |mb| format!("{mb:.0} MB"));
        let ratio = if check_seconds > 0.0 {
            seconds / check_seconds
        } else {
            1.0
        };
        println!(
            "{mode:<11} {seconds:>6.2} s  peak RSS {rss:>7}  {ratio:.1}x --check  exit {code}"
        );
        failed |= code != expected;
    }
    if failed {
        eprintln!("a run exited otherwise than expected");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
