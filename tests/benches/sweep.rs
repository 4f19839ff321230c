//! Benchmark: a hardening sweep of 2,000 repositories on the local emulator.
//!
//! `cargo bench -p ptc-ops-tests --bench sweep` (release profile). Prints, for a first pass
//! (every repository bare, five writes each) and a second pass (everything compliant):
//! repositories per second, API calls per repository and writes, from the emulator's call log;
//! then the emulator's own rate for single `DescribeRepositories` and `GetLifecyclePolicy` calls
//! at the same concurrency, as the ceiling a sweep is compared with (the budget: within 80%), and
//! the peak resident memory of this process (`VmHWM`), which runs the sweep in-process.
//!
//! The creation templates of the prefixes are in place (with their custom role): the sweep's
//! template calls are counted apart. Last, the writes a new cached repository costs on its
//! creation event, born without a matching template and with one (and its prefix in the
//! registry scanning configuration).
//!
//! `PTC_BENCH_REPOSITORIES` changes the registry size (default 2000).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ptc_ops::deadline::Deadline;
use ptc_ops::harden_repository;
use ptc_ops_tests::{Call, TestEnv};

const CONCURRENCY: usize = 8;

fn config_text(prefixes: &str, templates: &str, role_arn: &str) -> String {
    format!(
        r#"
[hardening]
prefixes = [{prefixes}]
concurrency = {CONCURRENCY}
creation_templates = "{templates}"
creation_template_role_arn = "{role_arn}"
# The product's own speed, not the pacing's: at the default 20 calls per second and API, a
# compliant sweep of 2,000 repositories takes at least 100 s by design.
ecr_calls_per_second = 1000

[hardening.default]
scan_on_push = true
tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
tag_mutability_exclusions = ["latest"]
lifecycle_policy = '''{{"rules": [{{"rulePriority": 1, "selection": {{"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}}, "action": {{"type": "expire"}}}}]}}'''
repository_policy = "policies/org-pull.json"
tags = {{ managed-by = "ecr-ptc-ops", cost-center = "platform" }}
encryption = "AES256"
"#
    )
}

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

struct Pass {
    elapsed: Duration,
    /// The API calls but the state table's.
    calls: Vec<Call>,
    /// DynamoDB calls on the state table (restorations counted; none when compliant).
    state_calls: usize,
    checked: u64,
    changed: u64,
}

async fn sweep_pass(env: &TestEnv, config: &ptc_ops::config::Config, state_table: &str) -> Pass {
    env.clear_calls().await;
    let started = Instant::now();
    let clients = env
        .clients
        .clone()
        .with_ecr_pacing(config.hardening.ecr_calls_per_second)
        .with_state_table(Some(state_table.to_owned()))
        .ports();
    let swept = harden_repository::sweep(&clients, config, None, false, (Deadline::none(), None))
        .await
        .unwrap_or_else(|error| panic!("sweep failed: {}", error.full_message()));
    let elapsed = started.elapsed();
    assert!(swept.rest.is_none(), "the sweep finished");
    let summary = &swept.report.summary;
    let (state_calls, calls): (Vec<Call>, Vec<Call>) = env
        .calls()
        .await
        .into_iter()
        .partition(|call| call.service == "dynamodb");
    Pass {
        elapsed,
        calls,
        state_calls: state_calls.len(),
        checked: summary.get("repositories_checked").copied().unwrap_or(0),
        changed: summary.get("repositories_changed").copied().unwrap_or(0),
    }
}

fn print_pass(label: &str, pass: &Pass, n_repositories: usize) {
    let n_writes = pass.calls.iter().filter(|call| call.is_write()).count();
    let seconds = pass.elapsed.as_secs_f64();
    println!(
        "{label}: {n_repositories} repositories in {seconds:.2} s = {:.0} repositories/s; {} API calls = {:.2} per repository, {:.0} calls/s; writes {n_writes}; checked {}, changed {}; state table calls {}",
        n_repositories as f64 / seconds,
        pass.calls.len(),
        pass.calls.len() as f64 / n_repositories as f64,
        pass.calls.len() as f64 / seconds,
        pass.checked,
        pass.changed,
        pass.state_calls,
    );
}

/// Runs `call` once per name, `concurrency` at a time; returns how long that took.
async fn for_each_name<F, Fut>(names: &Arc<Vec<String>>, concurrency: usize, call: F) -> Duration
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (names, next, call) = (Arc::clone(names), Arc::clone(&next), call.clone());
        workers.spawn(async move {
            while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                call(name.clone()).await;
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined.unwrap_or_else(|error| panic!("worker: {error}"));
    }
    started.elapsed()
}

/// Calls per second of `call` over every name, `concurrency` at a time.
async fn raw_rate<F, Fut>(names: &Arc<Vec<String>>, concurrency: usize, call: F) -> f64
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let elapsed = for_each_name(names, concurrency, call).await;
    names.len() as f64 / elapsed.as_secs_f64()
}

/// Writes the creation event of a new cached repository costs: born with ECR's defaults (no
/// template, no registry scanning filter for its prefix), then born from the template of its
/// prefix with the prefix in the registry scanning configuration.
async fn new_repository_writes(env: &TestEnv, role_arn: &str) {
    let secret = env
        .create_secret(
            "ecr-pullthroughcache/docker-hub",
            &env.valid_credential_json(),
        )
        .await;
    env.create_rule("docker-hub", "registry-1.docker.io", Some(&secret))
        .await;
    let upstream = env.emulator.info.upstream_map["registry-1.docker.io"].clone();
    let mut images = env
        .emulator
        .info
        .images
        .iter()
        .filter(|image| image.upstream == upstream);
    let mut writes_for = |templates: &'static str| {
        let image = images
            .next()
            .expect("two images on the Docker Hub upstream");
        let name = format!("docker-hub/{}", image.repository);
        let tag = image.tag.clone();
        let config = env.config(&config_text("\"docker-hub\"", templates, role_arn));
        async move {
            if templates == "manage" {
                let ports = env.clients.ports();
                let context = ptc_ops::run::RunContext::new(&ports, &config);
                ptc_ops::harden_repository::templates::run(
                    &context,
                    ptc_ops::harden_repository::templates::Request { dry_run: false },
                )
                .await
                .unwrap_or_else(|error| panic!("templates: {}", error.full_message()));
                // What a sweep does next: the prefix joins the registry scanning configuration.
                let managed = ptc_ops::harden_repository::desired::ManagedPrefixes::resolve(
                    config.hardening.prefixes.as_deref(),
                    &[],
                );
                ptc_ops::harden_repository::scanning::reconcile(
                    &env.clients.ports(),
                    &config.hardening,
                    &managed,
                    false,
                )
                .await;
            }
            env.clients
                .registry()
                .pull_by_tag(&name, &tag)
                .await
                .unwrap_or_else(|failure| panic!("pull of {name}:{tag} failed: {failure:?}"));
            env.clear_calls().await;
            harden_repository::harden_repositories(
                &env.clients.ports(),
                &config,
                std::slice::from_ref(&name),
                false,
                Deadline::none(),
            )
            .await
            .unwrap_or_else(|error| panic!("hardening: {}", error.full_message()));
            let writes: Vec<String> = env
                .calls()
                .await
                .into_iter()
                .filter(Call::is_write)
                .map(|call| call.operation)
                .collect();
            (name, writes)
        }
    };
    let (bare, without) = writes_for("off").await;
    let (born, with) = writes_for("manage").await;
    println!(
        "new cached repository, no template ({bare}): {} writes {without:?}",
        without.len()
    );
    println!(
        "new cached repository, born from its template ({born}): {} writes {with:?}",
        with.len()
    );
}

fn main() {
    let n_repositories: usize = std::env::var("PTC_BENCH_REPOSITORIES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("tokio runtime: {error}"));
    runtime.block_on(async move {
        let env = TestEnv::new().await;
        let names: Arc<Vec<String>> = Arc::new(
            (0..n_repositories)
                .map(|index| format!("ghcr/bench/repository-{index:05}"))
                .collect(),
        );
        let ecr = env.ecr().clone();
        let setup = for_each_name(&names, 16, move |name| {
            let ecr = ecr.clone();
            async move {
                ecr.create_repository()
                    .repository_name(&name)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("cannot create `{name}`: {error:?}"));
            }
        })
        .await;
        println!(
            "setup: {n_repositories} repositories created in {:.1} s",
            setup.as_secs_f64()
        );

        // The stacks' state table: a sweep counts the restorations it writes, and a compliant
        // one asks it nothing.
        let state_table = env.create_state_table().await;
        let role_arn = format!("arn:aws:iam::{}:role/ptc-ops-templates", env.account_id);
        let config = env.config(&config_text("\"ghcr\"", "manage", &role_arn));
        let first = sweep_pass(&env, &config, &state_table).await;
        print_pass("first pass (bare repositories)", &first, n_repositories);
        let second = sweep_pass(&env, &config, &state_table).await;
        print_pass("second pass (compliant, templates in place)", &second, n_repositories);
        let template_calls: Vec<&str> = second
            .calls
            .iter()
            .filter(|call| call.operation.contains("RepositoryCreationTemplate"))
            .map(|call| call.operation.as_str())
            .collect();
        println!(
            "  of which creation template calls: {} ({template_calls:?})",
            template_calls.len()
        );
        let scanning_calls: Vec<&str> = second
            .calls
            .iter()
            .filter(|call| call.operation.contains("ScanningConfiguration"))
            .map(|call| call.operation.as_str())
            .collect();
        println!(
            "  of which scanning calls: {} ({scanning_calls:?})",
            scanning_calls.len()
        );
        let second_writes = second.calls.iter().filter(|call| call.is_write()).count();

        for concurrency in [CONCURRENCY, CONCURRENCY * 3] {
            let ecr = env.ecr().clone();
            let describe = raw_rate(&names, concurrency, move |name| {
                let ecr = ecr.clone();
                async move {
                    ecr.describe_repositories()
                        .repository_names(name)
                        .send()
                        .await
                        .map(drop)
                        .unwrap_or_else(|error| panic!("describe: {error:?}"));
                }
            })
            .await;
            let ecr = env.ecr().clone();
            let lifecycle = raw_rate(&names, concurrency, move |name| {
                let ecr = ecr.clone();
                async move {
                    ecr.get_lifecycle_policy()
                        .repository_name(name)
                        .send()
                        .await
                        .map(drop)
                        .unwrap_or_else(|error| panic!("get lifecycle: {error:?}"));
                }
            })
            .await;
            println!(
                "emulator raw rate at concurrency {concurrency}: DescribeRepositories {describe:.0} calls/s, GetLifecyclePolicy {lifecycle:.0} calls/s"
            );
            if concurrency == CONCURRENCY {
                let sweep_rate = second.calls.len() as f64 / second.elapsed.as_secs_f64();
                let raw = (describe + lifecycle) / 2.0;
                println!(
                    "second pass call rate vs raw at the same concurrency: {sweep_rate:.0} / {raw:.0} = {:.0}%",
                    100.0 * sweep_rate / raw
                );
            }
        }
        new_repository_writes(&env, &role_arn).await;
        println!("peak RSS of this process (VmHWM): {:.1} MiB", peak_rss_mib());
        assert_eq!(second_writes, 0, "a second pass writes nothing");
    });
}
