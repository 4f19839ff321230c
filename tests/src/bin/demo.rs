//! The demo: the whole product on this machine, no AWS account.
//!
//! Starts the local AWS emulator and the upstream registries, seeds a realistic registry
//! (rules for Docker Hub, ghcr.io, GitLab, registry.k8s.io, Quay and ECR Public; a credential
//! with a wrong token; tokens expiring in 5 days, 25 days and next year; cached repositories
//! with the bare defaults ECR gives them), then runs each of the four Lambda binaries through
//! the Lambda Runtime API with the sample events of `events/`, and shows what they reported,
//! what reached chat, and what changed. Then registry-level events: a token is rotated and a
//! registry policy deleted, each checked at once from the record a trail would deliver.
//! Everything it started stops when it ends.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use ptc_ops_tests::eventbridge::{emit, template_rules, Router};
use ptc_ops_tests::runtime_api::{FunctionProcess, DEFAULT_INVOCATION_TIMEOUT};
use ptc_ops_tests::{repo_root, sample_event, TestEnv};
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";
/// The cluster account that pulls through the `quay` rule (`[consumers]`).
const CLUSTER_ACCOUNT: &str = "210987654321";
const REGION: &str = "eu-west-1";

type DemoResult<T> = Result<T, String>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("demo failed: {problem}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn heading(text: &str) {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        println!("\n\x1b[1m== {text} ==\x1b[0m");
    } else {
        println!("\n== {text} ==");
    }
}

async fn run() -> DemoResult<()> {
    let binaries = function_binaries()?;
    heading("starting the local AWS emulator and upstream registries");
    let env = TestEnv::for_account(ACCOUNT, REGION).await;
    println!(
        "emulator {} (started in {:.1}s); upstream registries {}",
        env.emulator.endpoint(),
        env.emulator.info.startup_seconds.unwrap_or_default(),
        env.emulator
            .info
            .upstreams
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );

    heading("seeding a registry the way platform teams run it");
    let inbox = env.alert_inbox().await;
    // The state table the stacks create: an alert repeated within the hour reaches chat once.
    let state_table = env.create_state_table().await;
    seed(&env).await?;
    let folder = tempfile::tempdir().map_err(|error| format!("temporary folder: {error}"))?;
    let config_path = write_config(
        folder.path(),
        &inbox.topic_arn,
        &env.upstream_registries_toml(),
    )?;
    println!("configuration: {}", config_path.display());

    heading("cached repositories before hardening");
    print_repositories(&env).await?;

    let process_env: Vec<(String, String)> = env
        .process_env()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .chain([
            ("PTC_CONFIG".to_owned(), config_path.display().to_string()),
            ("PTC_ALERT_TOPIC_ARN".to_owned(), inbox.topic_arn.clone()),
            (ptc_ops::env::PTC_STATE_TABLE.to_owned(), state_table),
            // The creation templates' role, as SAM passes it: templates then carry tags too,
            // so the repositories the pre-warm creates are born compliant.
            (
                ptc_ops::env::PTC_TEMPLATE_ROLE_ARN.to_owned(),
                format!(
                    "arn:aws:iam::{}:role/ptc-ops-creation-templates",
                    env.account_id
                ),
            ),
        ])
        .collect();
    // harden-repository's EventBridge rules, as infra/template.yaml declares them, in the
    // emulator's EventBridge: from here on they select the events ECR emits.
    let harden_rules: Vec<_> = template_rules()
        .into_iter()
        .filter(|rule| rule.function == "HardenRepositoryFunction")
        .collect();
    let router = Router::create(&env, &harden_rules).await;
    let mut prewarm_report = Value::Null;
    for (function, event_file) in [
        ("validate-cache-rules", "scheduled-event.json"),
        ("check-credentials", "scheduled-event.json"),
        ("harden-repository", "scheduled-event.json"),
        ("prewarm-images", "prewarm-images.json"),
    ] {
        heading(&format!("{function}, invoked with events/{event_file}"));
        let binary = binaries.join(function);
        let mut process = FunctionProcess::start(&binary, function, &process_env).await?;
        let invocation = process
            .invoke(sample_event(event_file), DEFAULT_INVOCATION_TIMEOUT)
            .await;
        let metric_lines = process
            .output()
            .into_iter()
            .filter(|line| line.contains("\"_aws\""))
            .count();
        process.stop();
        let invocation = invocation?;
        match invocation.result {
            Ok(report) => {
                print_report(&report);
                println!(
                    "  ({} ms, {metric_lines} EMF metric line(s) on stdout)",
                    invocation.duration.as_millis()
                );
                if function == "prewarm-images" {
                    prewarm_report = report;
                }
            }
            Err(error) => return Err(format!("{function} failed: {error}")),
        }
    }

    heading("events the pre-warm's pulls caused, selected by the template's rules");
    let delivered = router
        .receive(Duration::from_secs(2), Duration::from_secs(30))
        .await;
    let binary = binaries.join("harden-repository");
    let mut harden = FunctionProcess::start(&binary, "harden-repository", &process_env).await?;
    for (rule, event) in &delivered {
        wake(&mut harden, rule, event.clone()).await?;
    }
    println!(
        "  {} event(s) delivered; no sweep ran since the pre-warm",
        delivered.len()
    );

    heading("drift: a person changes a managed repository's lifecycle policy by hand");
    let drifted = "docker-hub/library/nginx";
    let hand_made = r#"{"rules":[{"rulePriority":1,"description":"keep 5 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    env.ecr()
        .put_lifecycle_policy()
        .repository_name(drifted)
        .lifecycle_policy_text(hand_made)
        .send()
        .await
        .map_err(|error| format!("changing {drifted} by hand: {error}"))?;
    println!("  PutLifecyclePolicy on {drifted}: keep 5 images");
    println!(
        "  the emulator records no CloudTrail API calls, so the demo puts the record a trail would \
         deliver (events/setting-changed-put-lifecycle-policy.json, for this repository) into \
         EventBridge as AWS would; the template's rule selects it"
    );
    let mut record = sample_event("setting-changed-put-lifecycle-policy.json");
    record["detail"]["requestParameters"]["repositoryName"] = json!(drifted);
    record["detail"]["requestParameters"]["lifecyclePolicyText"] = json!(hand_made);
    emit(&env, &[record]).await;
    let delivered = router
        .receive(Duration::from_secs(1), Duration::from_secs(30))
        .await;
    for (rule, event) in &delivered {
        wake(&mut harden, rule, event.clone()).await?;
    }

    heading("another writer: an automation keeps putting its own lifecycle policy back");
    let fought = "k8s/pause";
    let automation = "arn:aws:iam::123456789012:role/nightly-registry-cleanup";
    let theirs = r#"{"rules":[{"rulePriority":1,"description":"keep 3 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}"#;
    println!(
        "  {automation} sets `keep 3 images` on {fought} again after each restoration; \
         hardening.drift.max_restorations = 3 within window_minutes = 60"
    );
    for round in 1..=5 {
        env.ecr()
            .put_lifecycle_policy()
            .repository_name(fought)
            .lifecycle_policy_text(theirs)
            .send()
            .await
            .map_err(|error| format!("the automation's change of {fought}: {error}"))?;
        let mut record = sample_event("setting-changed-put-lifecycle-policy.json");
        let detail = &mut record["detail"];
        detail["requestParameters"]["repositoryName"] = json!(fought);
        detail["requestParameters"]["lifecyclePolicyText"] = json!(theirs);
        detail["userIdentity"]["arn"] =
            json!("arn:aws:sts::123456789012:assumed-role/nightly-registry-cleanup/cleanup");
        detail["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(automation);
        detail["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] =
            json!("nightly-registry-cleanup");
        detail["eventID"] = json!(format!("5d0c3a7e-1f2b-4c8d-9e6a-00000000000{round}"));
        emit(&env, &[record]).await;
        let delivered = router
            .receive(Duration::from_secs(1), Duration::from_secs(30))
            .await;
        println!("  change {round} of 5 by the automation");
        for (rule, event) in &delivered {
            wake(&mut harden, rule, event.clone()).await?;
        }
    }
    harden.stop();

    heading("cached repositories after hardening");
    print_repositories(&env).await?;

    heading("chat alerts, as they arrived through SNS in SQS");
    let alerts = inbox.drain(Duration::from_secs(2)).await;
    for alert in &alerts {
        println!(
            "  {}\n      thread {}, next: {}",
            alert.message["content"]["title"]
                .as_str()
                .unwrap_or_default(),
            alert.message["metadata"]["threadId"]
                .as_str()
                .unwrap_or_default(),
            alert.message["content"]["nextSteps"][0]
                .as_str()
                .unwrap_or("-"),
        );
    }
    println!("  {} alert(s)", alerts.len());

    registry_events(&env, &binaries, &process_env, &inbox).await?;

    heading("pre-warmed images and the URIs to pull them from");
    for image in prewarm_report["images"].as_array().into_iter().flatten() {
        println!(
            "  {:<45} {:<15} {}",
            image["input"].as_str().unwrap_or_default(),
            image["status"].as_str().unwrap_or_default(),
            image["cache_uri"].as_str().unwrap_or("-")
        );
    }
    heading("done: every process the demo started is stopped");
    Ok(())
}

/// The function binaries sit beside this one (`target/debug/` or `target/release/`).
fn function_binaries() -> DemoResult<PathBuf> {
    let folder = std::env::current_exe()
        .map_err(|error| format!("cannot locate the demo binary: {error}"))?
        .parent()
        .map(Path::to_path_buf)
        .ok_or("the demo binary has no folder")?;
    for function in [
        "harden-repository",
        "validate-cache-rules",
        "check-credentials",
        "prewarm-images",
    ] {
        if !folder.join(function).exists() {
            return Err(format!(
                "`{}` is missing: build the functions first (`cargo build --workspace --bins`, or `make demo`)",
                folder.join(function).display()
            ));
        }
    }
    Ok(folder)
}

async fn seed(env: &TestEnv) -> DemoResult<()> {
    let today = Utc::now().date_naive();
    let in_days = |days: u64| {
        today
            .checked_add_days(Days::new(days))
            .map(|date| date.to_string())
            .unwrap_or_default()
    };
    let valid = env.valid_credential_json();
    let wrong = env.credential_json_with_token("ghp_revokedTokenFromLastYear0001");
    let mut secrets = Vec::new();
    for (name, value, expires) in [
        (
            "ecr-pullthroughcache/docker-hub",
            valid.as_str(),
            in_days(5),
        ),
        ("ecr-pullthroughcache/ghcr", wrong.as_str(), in_days(25)),
        ("ecr-pullthroughcache/gitlab", valid.as_str(), in_days(365)),
    ] {
        let arn = env.create_secret(name, value).await;
        env.secrets()
            .tag_resource()
            .secret_id(&arn)
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key("ptc-ops:expires-at")
                    .value(&expires)
                    .build(),
            )
            .send()
            .await
            .map_err(|error| format!("tagging {name}: {error}"))?;
        println!("  secret {name:<35} token expires {expires}");
        secrets.push(arn);
    }
    for (prefix, upstream, secret) in [
        ("docker-hub", "registry-1.docker.io", Some(&secrets[0])),
        ("ghcr", "ghcr.io", Some(&secrets[1])),
        ("gitlab", "registry.gitlab.com", Some(&secrets[2])),
        ("k8s", "registry.k8s.io", None),
        ("quay", "quay.io", None),
        ("ecr-public", "public.ecr.aws", None),
    ] {
        env.create_rule(prefix, upstream, secret.map(String::as_str))
            .await;
        println!(
            "  rule   {prefix:<12} → {upstream}{}",
            if secret.is_some() {
                " (with credentials)"
            } else {
                ""
            }
        );
    }
    let registry = env.clients.registry();
    for (repository, tag) in [
        ("docker-hub/library/alpine", "3.20"),
        ("k8s/coredns/coredns", "v1.11.3"),
        ("quay/prometheus/node-exporter", "v1.8.2"),
    ] {
        registry
            .pull_by_tag(repository, tag)
            .await
            .map_err(|failure| format!("seeding {repository}:{tag}: {failure:?}"))?;
        println!("  cached {repository}:{tag} (ECR created the repository with its defaults)");
    }
    env.ecr()
        .create_repository()
        .repository_name("team/payments-api")
        .send()
        .await
        .map_err(|error| format!("creating team/payments-api: {error}"))?;
    println!("  repository team/payments-api (not a cache: must stay untouched)");
    let registry_policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ClusterAccountFirstPull",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{CLUSTER_ACCOUNT}:root")},
            "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
            "Resource": format!("arn:aws:ecr:{}:{}:repository/quay/*", env.region, env.account_id)
        }]
    });
    env.ecr()
        .put_registry_policy()
        .policy_text(registry_policy.to_string())
        .send()
        .await
        .map_err(|error| format!("putting the registry policy: {error}"))?;
    println!(
        "  registry policy: cluster account {CLUSTER_ACCOUNT} may make first pulls through `quay`"
    );
    Ok(())
}

/// Registry-level changes, each routed by its template rule from the record a trail would
/// deliver, and what reached chat for it.
async fn registry_events(
    env: &TestEnv,
    binaries: &Path,
    process_env: &[(String, String)],
    inbox: &ptc_ops_tests::AlertInbox,
) -> DemoResult<()> {
    let rules: Vec<_> = template_rules()
        .into_iter()
        .filter(|rule| rule.name == "RuleChanged" || rule.name == "SecretChanged")
        .collect();
    let router = Router::create(env, &rules).await;

    heading("registry-level event: someone rotates the revoked ghcr.io token");
    let secret = "ecr-pullthroughcache/ghcr";
    let expires = Utc::now()
        .date_naive()
        .checked_add_days(Days::new(90))
        .map(|date| date.to_string())
        .unwrap_or_default();
    let started = Instant::now();
    let put = env
        .secrets()
        .put_secret_value()
        .secret_id(secret)
        .secret_string(env.valid_credential_json())
        .send()
        .await
        .map_err(|error| format!("rotating {secret}: {error}"))?;
    env.secrets()
        .tag_resource()
        .secret_id(secret)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("ptc-ops:expires-at")
                .value(&expires)
                .build(),
        )
        .send()
        .await
        .map_err(|error| format!("tagging {secret}: {error}"))?;
    println!("  PutSecretValue on {secret} (a new token), tag ptc-ops:expires-at = {expires}");
    println!("  the demo puts the CloudTrail record a trail would deliver (events/secret-value-put.json, for this secret)");
    let mut record = sample_event("secret-value-put.json");
    record["detail"]["requestParameters"]["secretId"] = json!(secret);
    record["detail"]["responseElements"]["name"] = json!(secret);
    record["detail"]["responseElements"]["arn"] = json!(put.arn().unwrap_or_default());
    record["detail"]["eventTime"] = json!(now_rfc3339());
    emit(env, &[record]).await;
    deliver(binaries, process_env, &router).await?;
    show_chat(inbox, started, "PutSecretValue").await;

    heading("registry-level event: someone deletes the registry permissions policy");
    let started = Instant::now();
    env.ecr()
        .delete_registry_policy()
        .send()
        .await
        .map_err(|error| format!("deleting the registry policy: {error}"))?;
    println!("  DeleteRegistryPolicy; the demo puts the record a trail would deliver (events/registry-policy-deleted.json)");
    let mut record = sample_event("registry-policy-deleted.json");
    record["detail"]["eventTime"] = json!(now_rfc3339());
    emit(env, &[record]).await;
    deliver(binaries, process_env, &router).await?;
    show_chat(inbox, started, "DeleteRegistryPolicy").await;
    Ok(())
}

/// The time as CloudTrail writes `eventTime` (UTC, seconds).
fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Hands each record the template rules selected to the function that rule invokes.
async fn deliver(
    binaries: &Path,
    process_env: &[(String, String)],
    router: &Router,
) -> DemoResult<()> {
    let delivered = router
        .receive(Duration::from_millis(500), Duration::from_secs(30))
        .await;
    for (rule, event) in delivered {
        let function = match rule.as_str() {
            "SecretChanged" => "check-credentials",
            _ => "validate-cache-rules",
        };
        println!(
            "  rule {rule} → {function}: {} by {}",
            event["detail"]["eventName"].as_str().unwrap_or("?"),
            event["detail"]["userIdentity"]["arn"]
                .as_str()
                .unwrap_or("?")
        );
        let mut process =
            FunctionProcess::start(&binaries.join(function), function, process_env).await?;
        let invocation = process.invoke(event, DEFAULT_INVOCATION_TIMEOUT).await;
        process.stop();
        match invocation?.result {
            Ok(report) => print_report(&report),
            Err(error) => return Err(format!("{function} failed: {error}")),
        }
    }
    Ok(())
}

/// What reached chat since `started`, with how long after the change it arrived.
async fn show_chat(inbox: &ptc_ops_tests::AlertInbox, started: Instant, call: &str) {
    for alert in inbox.receive(1, Duration::from_secs(10)).await {
        println!(
            "  chat, {:.1} s after the {call}: [{}] {}\n      {}",
            started.elapsed().as_secs_f64(),
            alert
                .attributes
                .get("severity")
                .map(String::as_str)
                .unwrap_or("?"),
            alert.message["content"]["title"]
                .as_str()
                .unwrap_or_default(),
            alert.message["content"]["description"]
                .as_str()
                .unwrap_or_default(),
        );
    }
}

/// `upstream_registries` points the upstreams' registry APIs at the loopback registries.
fn write_config(folder: &Path, topic_arn: &str, upstream_registries: &str) -> DemoResult<PathBuf> {
    let shipped = repo_root().join("infra/config");
    let text = format!(
        r#"[alerts]
topic_arn = "{topic_arn}"
min_severity = "warning"

[hardening]
prefixes = ["docker-hub", "ghcr", "gitlab", "k8s", "quay", "ecr-public"]
concurrency = 4

[hardening.default]
scan_on_push = true
tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
tag_mutability_exclusions = ["latest"]
lifecycle_policy = "{default_lifecycle}"
tags = {{ managed-by = "ecr-ptc-ops", cost-center = "platform" }}

[hardening.profiles."docker-hub"]
lifecycle_policy = "{hub_lifecycle}"

[hardening.profiles."quay"]
repository_policy = '{quay_pull}'

[credentials]
warn_days = 30
critical_days = 7

# The cluster account pulls through `quay` only; the registry policy the seed puts lets it.
[consumers]
accounts = ["{CLUSTER_ACCOUNT}"]
prefixes = {{ "{CLUSTER_ACCOUNT}" = ["quay"] }}

[prewarm]
concurrency = 4
images = ["nginx:1.27"]

{upstream_registries}"#,
        default_lifecycle = shipped.join("lifecycle/default.json").display(),
        hub_lifecycle = shipped.join("lifecycle/docker-hub.json").display(),
        quay_pull = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "ClusterAccountPulls",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{CLUSTER_ACCOUNT}:root")},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
            }]
        }),
    );
    let path = folder.join("ptc-ops.toml");
    std::fs::write(&path, text).map_err(|error| format!("writing {}: {error}", path.display()))?;
    Ok(path)
}

async fn print_repositories(env: &TestEnv) -> DemoResult<()> {
    let repositories = env
        .ecr()
        .describe_repositories()
        .send()
        .await
        .map_err(|error| format!("listing repositories: {error}"))?
        .repositories
        .unwrap_or_default();
    println!(
        "  {:<34} {:<26} {:<6} {:<10} TAGS",
        "REPOSITORY", "TAG MUTABILITY", "SCAN", "LIFECYCLE"
    );
    let mut repositories: Vec<_> = repositories.into_iter().collect();
    repositories.sort_by(|left, right| left.repository_name.cmp(&right.repository_name));
    // SCAN is whether ECR scans on push, as it reports it: the registry scanning configuration
    // (the product adds `<prefix>/*` filters there) or, where none covers the repository, the
    // repository's own deprecated setting.
    let mut scanned_on_push = std::collections::BTreeSet::new();
    let names: Vec<String> = repositories
        .iter()
        .filter_map(|repository| repository.repository_name.clone())
        .collect();
    for batch in names.chunks(25) {
        let answer = env
            .ecr()
            .batch_get_repository_scanning_configuration()
            .set_repository_names(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|error| format!("reading the scanning configuration: {error}"))?;
        for configuration in answer.scanning_configurations.unwrap_or_default() {
            if configuration.scan_on_push {
                scanned_on_push.insert(configuration.repository_name.unwrap_or_default());
            }
        }
    }
    for repository in repositories {
        let name = repository.repository_name.clone().unwrap_or_default();
        let lifecycle = env
            .ecr()
            .get_lifecycle_policy()
            .repository_name(&name)
            .send()
            .await
            .is_ok();
        let tags = env
            .ecr()
            .list_tags_for_resource()
            .resource_arn(repository.repository_arn.clone().unwrap_or_default())
            .send()
            .await
            .map(|output| {
                output
                    .tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|tag| format!("{}={}", tag.key, tag.value))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        println!(
            "  {:<34} {:<26} {:<6} {:<10} {}",
            name,
            repository
                .image_tag_mutability
                .map(|mutability| mutability.as_str().to_owned())
                .unwrap_or_default(),
            scanned_on_push.contains(&name),
            if lifecycle { "set" } else { "none" },
            if tags.is_empty() {
                "-".to_owned()
            } else {
                tags
            }
        );
    }
    Ok(())
}

/// Delivers one event a template rule selected to harden-repository, and says what it did.
async fn wake(harden: &mut FunctionProcess, rule: &str, event: Value) -> DemoResult<()> {
    let detail = &event["detail"];
    let what = match event["detail-type"].as_str().unwrap_or_default() {
        "ECR Pull Through Cache Action" => format!(
            "sync {} of {}:{}",
            detail["sync-status"].as_str().unwrap_or("?"),
            detail["repository-name"].as_str().unwrap_or("?"),
            detail["image-tag"].as_str().unwrap_or("?")
        ),
        detail_type => format!(
            "{detail_type} {} of {}",
            detail["eventName"].as_str().unwrap_or("?"),
            detail["serviceEventDetails"]["repositoryName"]
                .as_str()
                .or(detail["requestParameters"]["repositoryName"].as_str())
                .unwrap_or("?")
        ),
    };
    println!("  rule {rule} → harden-repository: {what}");
    let invocation = harden.invoke(event, DEFAULT_INVOCATION_TIMEOUT).await?;
    match invocation.result {
        Ok(report) => {
            print_report(&report);
            let birth = &report["trigger"]["birth"];
            if let Some(born_compliant) = birth["born_compliant"].as_bool() {
                println!(
                    "  born compliant from its creation template: {born_compliant} (written after birth: {})",
                    birth["not_carried_by_templates"]
                );
            }
            Ok(())
        }
        Err(error) => Err(format!("harden-repository failed on {what}: {error}")),
    }
}

fn print_report(report: &Value) {
    println!(
        "  report of {}{}: {}",
        report["function"].as_str().unwrap_or("?"),
        if report["dry_run"] == json!(true) {
            " (dry run)"
        } else {
            ""
        },
        report["summary"]
            .as_object()
            .map(|summary| summary
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    for finding in report["findings"].as_array().into_iter().flatten() {
        println!(
            "    {:<8} {}",
            finding["severity"]
                .as_str()
                .unwrap_or_default()
                .to_uppercase(),
            finding["title"].as_str().unwrap_or_default()
        );
    }
}
