//! The consumer doctor end to end on the emulator: `validate-cache-rules` on its schedule and
//! the `ptc doctor` binary, against a real registry permissions policy.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lambda_runtime::{Context, LambdaEvent};
use ptc_ops::domain::Check;
use ptc_ops::metrics::MetricsSink;
use ptc_ops::validate_cache_rules::ValidateReport;
use ptc_ops_tests::invoke;
use ptc_ops_tests::{repo_root, report_json, sample_event, TestEnv};
use serde_json::{json, Value};

const CLUSTER_ACCOUNT: &str = "111111111111";
const CI_ROLE: &str = "arn:aws:iam::222222222222:role/ci-runner";

/// A default profile whose repository policy lets both consumers pull: only the registry
/// policy is left to break.
fn consumers_toml(extra: &str) -> String {
    let pull = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ConsumersPull",
            "Effect": "Allow",
            "Principal": {"AWS": [format!("arn:aws:iam::{CLUSTER_ACCOUNT}:root"), CI_ROLE]},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        }]
    });
    format!(
        "{extra}\n[hardening.default]\nrepository_policy = '{pull}'\n\n[consumers]\naccounts = [\"{CLUSTER_ACCOUNT}\"]\nprincipals = [\"{CI_ROLE}\"]\n"
    )
}

async fn put_registry_policy(env: &TestEnv, policy: &Value) {
    env.ecr()
        .put_registry_policy()
        .policy_text(policy.to_string())
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot put the registry policy: {error:?}"));
}

async fn validate(env: &TestEnv, toml: &str) -> ValidateReport {
    let context = Arc::new(
        env.function_context("validate-cache-rules", env.config(toml))
            .with_metrics_sink(MetricsSink::captured()),
    );
    invoke::validate_cache_rules(
        context,
        LambdaEvent::new(
            sample_event("validate-cache-rules.json"),
            Context::default(),
        ),
    )
    .await
    .unwrap_or_else(|error| panic!("validation run failed: {}", error.full_message()))
}

fn cell_statuses(consumers: &Value) -> Vec<String> {
    let mut cells: Vec<String> = consumers
        .as_array()
        .unwrap_or_else(|| panic!("no consumer matrix: {consumers:#}"))
        .iter()
        .map(|cell| {
            format!(
                "{} {} {}",
                cell["consumer"].as_str().unwrap_or_default(),
                cell["prefix"].as_str().unwrap_or_default(),
                cell["status"].as_str().unwrap_or_default()
            )
        })
        .collect();
    cells.sort();
    cells
}

/// The JSON at the end of a next step (`… put-registry-policy`): {…}`).
fn trailing_json(step: &str) -> Value {
    let start = step
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in the step: {step}"));
    // The JSON ends the step, in a code span, after a quote when it is a command's argument.
    let text = step[start..].trim_end_matches(['`', '\'']);
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[tokio::test]
async fn one_broken_registry_policy_is_one_alert_whose_statements_fix_it() {
    let env = TestEnv::new().await;
    let inbox = env.alert_inbox().await;
    env.create_rule("quay", "quay.io", None).await;
    env.create_rule("ecr-public", "public.ecr.aws", None).await;
    // The cluster account may use `quay` only; the CI role nothing.
    let quay_only = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ClusterQuay",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{CLUSTER_ACCOUNT}:root")},
            "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
            "Resource": format!("arn:aws:ecr:{}:{}:repository/quay/*", env.region, env.account_id)
        }]
    });
    put_registry_policy(&env, &quay_only).await;
    let toml = consumers_toml(&format!("[alerts]\ntopic_arn = \"{}\"\n", inbox.topic_arn));

    let report = validate(&env, &toml).await;
    assert_eq!(
        cell_statuses(&report_json(&report)["consumers"]),
        [
            format!("{CLUSTER_ACCOUNT} ecr-public missing"),
            format!("{CLUSTER_ACCOUNT} quay ok"),
            format!("{CI_ROLE} ecr-public missing"),
            format!("{CI_ROLE} quay missing"),
        ]
    );
    let consumer_findings: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.check == Check::ConsumerAccess)
        .collect();
    assert_eq!(consumer_findings.len(), 1, "{consumer_findings:#?}");
    assert_eq!(report.summary["consumer_checks_missing"], 3);

    let delivered = inbox.receive(1, Duration::from_secs(10)).await;
    let alerts: Vec<_> = delivered
        .iter()
        .filter(|alert| alert.attributes["check"] == "consumer-access")
        .collect();
    assert_eq!(alerts.len(), 1, "{delivered:#?}");
    assert_eq!(alerts[0].attributes["severity"], "critical");
    let steps: Vec<&str> = alerts[0].message["content"]["nextSteps"]
        .as_array()
        .expect("next steps")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(steps.len(), 2, "one statement per prefix: {steps:#?}");

    // The statements the alert names are exactly what is missing.
    let mut fixed = quay_only.clone();
    for step in steps {
        fixed["Statement"]
            .as_array_mut()
            .expect("statements")
            .push(trailing_json(step));
    }
    put_registry_policy(&env, &fixed).await;
    let report = validate(&env, &toml).await;
    assert_eq!(
        report.summary["consumer_checks_ok"],
        4,
        "{:#}",
        report_json(&report)["consumers"]
    );
    assert!(!report
        .findings
        .iter()
        .any(|finding| finding.check == Check::ConsumerAccess));
}

#[tokio::test]
async fn a_deny_in_the_registry_policy_is_found_by_the_scheduled_run() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    put_registry_policy(
        &env,
        &json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "All", "Effect": "Allow", "Principal": {"AWS": [CLUSTER_ACCOUNT, CI_ROLE]}, "Action": "ecr:*", "Resource": "*"},
                {"Sid": "NoNewRepositories", "Effect": "Deny", "Principal": "*", "Action": "ecr:Create*", "Resource": "*"}
            ]
        }),
    )
    .await;
    let report = validate(&env, &consumers_toml("")).await;
    let finding = report
        .findings
        .iter()
        .find(|finding| finding.check == Check::ConsumerAccess)
        .expect("a consumer finding");
    assert!(
        finding
            .next_steps
            .iter()
            .any(|step| step.contains("`NoNewRepositories`")),
        "{finding:#?}"
    );
    assert_eq!(report.summary["consumer_checks_missing"], 2);
}

#[tokio::test]
async fn without_consumers_the_scheduled_run_reads_no_registry_policy() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    let report = validate(&env, "").await;
    assert!(
        report.details.consumers.is_none(),
        "{:#?}",
        report.details.consumers
    );
    assert!(!report.summary.contains_key("consumer_checks"));
}

/// The `ptc` binary, brought up to date once per test process.
///
/// The build is the one `make test` (and `make demo`) runs first, `--workspace --bins`: the same
/// package selection, so the same features, so nothing is compiled again. Building `-p ptc-cli`
/// alone would resolve the dependencies' features for that package only and compile the AWS SDKs
/// and everything above them a second time (a minute on a fresh 2-core machine).
fn ptc_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args([
                "build",
                "-q",
                "--workspace",
                "--bins",
                "--locked",
                "--message-format=json",
            ])
            .current_dir(repo_root())
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "cannot build ptc");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find_map(|message| {
                (message["target"]["name"] == "ptc")
                    .then(|| message["executable"].as_str().map(PathBuf::from))
                    .flatten()
            })
            .expect("the ptc executable")
    })
}

fn ptc(env: &TestEnv, toml: &str, args: &[&str]) -> Output {
    let workdir = tempfile::tempdir().expect("temporary folder");
    let config = workdir.path().join("ptc-ops.toml");
    std::fs::write(&config, toml).expect("configuration written");
    Command::new(ptc_binary())
        .arg("--config")
        .arg(&config)
        .args(args)
        .current_dir(workdir.path())
        .env_remove("PTC_CONFIG")
        .env("NO_COLOR", "1")
        .envs(env.process_env())
        .stdin(Stdio::null())
        .output()
        .expect("ptc runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn ptc_doctor_prints_the_matrix_and_fails_until_the_policy_it_prints_is_created() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    env.create_rule("ecr-public", "public.ecr.aws", None).await;
    let toml = format!(
        "{}\n[consumers.prefixes]\n\"{CI_ROLE}\" = [\"quay\"]\n",
        consumers_toml("")
    );

    // No registry policy at all: every cross-account consumer is missing.
    let output = ptc(&env, &toml, &["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        cell_statuses(&report["consumers"]),
        [
            format!("{CLUSTER_ACCOUNT} ecr-public missing"),
            format!("{CLUSTER_ACCOUNT} quay missing"),
            format!("{CI_ROLE} quay missing"),
        ]
    );
    let step = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .flat_map(|finding| {
            finding["next_steps"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|step| step.as_str().map(str::to_owned))
        .find(|step| {
            step.contains(&format!(
                "put-registry-policy --region {} --policy-text",
                env.region
            ))
        })
        .expect("the policy to create");

    let human = ptc(&env, &toml, &["doctor"]);
    assert_eq!(human.status.code(), Some(1));
    let text = stdout(&human);
    assert!(text.contains("CONSUMER"), "{text}");
    assert!(
        text.contains("ecr-public") && text.contains("missing"),
        "{text}"
    );

    // Creating the policy the finding prints is enough.
    put_registry_policy(&env, &trailing_json(&step)).await;
    let output = ptc(&env, &toml, &["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // One role, configured or not: a role of the cluster account is covered through `root`.
    let node_role = format!("arn:aws:iam::{CLUSTER_ACCOUNT}:role/eks-node");
    let output = ptc(
        &env,
        &toml,
        &["doctor", "--json", "--principal", &node_role],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        cell_statuses(&report["consumers"]),
        [
            format!("{node_role} ecr-public ok"),
            format!("{node_role} quay ok")
        ]
    );
    let stranger = "arn:aws:iam::333333333333:role/other";
    let output = ptc(&env, &toml, &["doctor", "--principal", stranger]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let output = ptc(
        &env,
        &toml,
        &[
            "doctor",
            "--principal",
            "arn:aws:sts::333333333333:assumed-role/x/y",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
}

#[tokio::test]
async fn a_profile_below_a_rule_is_checked_with_its_own_repository_policy() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    put_registry_policy(
        &env,
        &json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": [CLUSTER_ACCOUNT, CI_ROLE]}, "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"], "Resource": "*"}]
        }),
    )
    .await;
    // Repositories under `quay/internal` get the cluster account's pulls only.
    let internal = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": CLUSTER_ACCOUNT}, "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]
    });
    let toml = format!(
        "{}\n[hardening.profiles.\"quay/internal\"]\nrepository_policy = '{internal}'\n",
        consumers_toml("")
    );
    let report = validate(&env, &toml).await;
    assert_eq!(
        cell_statuses(&report_json(&report)["consumers"]),
        [
            format!("{CLUSTER_ACCOUNT} quay ok"),
            format!("{CLUSTER_ACCOUNT} quay/internal ok"),
            format!("{CI_ROLE} quay ok"),
            format!("{CI_ROLE} quay/internal missing"),
        ]
    );
    let findings: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.check == Check::ConsumerAccess)
        .collect();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].resource, "profile:quay/internal");
    assert!(
        findings[0].next_steps[0].contains(CI_ROLE),
        "{:#?}",
        findings[0]
    );
}

/// Creates `name` in the test's account with one inline policy (`None` for none), trusted by
/// EKS nodes; its ARN.
async fn create_role(env: &TestEnv, name: &str, policy: Option<&Value>) -> String {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    create_role_trusting(env, name, &trust, policy).await
}

async fn create_role_trusting(
    env: &TestEnv,
    name: &str,
    trust: &Value,
    policy: Option<&Value>,
) -> String {
    let role = env
        .iam()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot create role {name}: {error:?}"));
    if let Some(policy) = policy {
        put_role_policy(env, name, "ecr", policy).await;
    }
    role.role().expect("a role").arn().to_owned()
}

async fn put_role_policy(env: &TestEnv, role: &str, policy_name: &str, policy: &Value) {
    env.iam()
        .put_role_policy()
        .role_name(role)
        .policy_name(policy_name)
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot put {policy_name} on {role}: {error:?}"));
}

fn principals_toml(principals: &[&str]) -> String {
    let listed: Vec<String> = principals.iter().map(|arn| format!("\"{arn}\"")).collect();
    format!("[consumers]\nprincipals = [{}]\n", listed.join(", "))
}

fn cell<'r>(report: &'r Value, consumer: &str) -> &'r Value {
    report
        .as_array()
        .and_then(|cells| cells.iter().find(|cell| cell["consumer"] == consumer))
        .unwrap_or_else(|| panic!("no cell for {consumer}: {report:#}"))
}

/// Roles of the cache account: their IAM policies decide, simulated by the emulator.
#[tokio::test]
async fn the_iam_policies_of_roles_in_the_cache_account_are_simulated() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    let everything = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]});
    let no_import = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecr:CreateRepository", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"], "Resource": format!("arn:aws:ecr:{}:{}:repository/quay/*", env.region, env.account_id)},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    ]});
    let denied = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
        {"Sid": "NoNewRepositories", "Effect": "Deny", "Action": "ecr:CreateRepository", "Resource": "*"}
    ]});
    let ok = create_role(&env, "node-ok", Some(&everything)).await;
    let lacking = create_role(&env, "node-no-import", Some(&no_import)).await;
    let denying = create_role(&env, "node-denied", Some(&denied)).await;
    let unknown = format!("arn:aws:iam::{}:role/never-created", env.account_id);
    let toml = principals_toml(&[&ok, &lacking, &denying, &unknown]);

    env.clear_calls().await;
    let report = validate(&env, &toml).await;
    let consumers = &report_json(&report)["consumers"];
    assert_eq!(
        cell_statuses(consumers),
        [
            format!("{unknown} quay unknown"),
            format!("{denying} quay missing"),
            format!("{lacking} quay missing"),
            format!("{ok} quay ok"),
        ]
    );
    let missing = &cell(consumers, &lacking)["identity"]["missing"];
    assert_eq!(
        missing,
        &json!([{"action": "ecr:BatchImportUpstreamImage", "resource": format!("arn:aws:ecr:{}:{}:repository/quay/ptc-doctor-sample", env.region, env.account_id)}]),
        "{consumers:#}"
    );
    let denied_by = &cell(consumers, &denying)["identity"]["missing"][0]["denied_by"];
    assert!(
        denied_by.as_str().is_some_and(|by| by.contains("`ecr`")),
        "{consumers:#}"
    );
    let why = cell(consumers, &unknown)["identity"]["why"].to_string();
    assert!(why.contains("NoSuchEntity"), "{why}");
    // One call per principal and prefix, one for the login; the IAM calls are declared.
    let simulations = env
        .calls()
        .await
        .iter()
        .filter(|call| call.operation == "SimulatePrincipalPolicy")
        .count();
    assert_eq!(simulations, 8);
    ptc_ops_tests::assert_calls_permitted(
        &env,
        ptc_ops::validate_cache_rules::permissions::PERMISSIONS,
    )
    .await;

    let findings: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.check == Check::ConsumerAccess)
        .collect();
    let warning = findings
        .iter()
        .find(|finding| finding.resource == "iam-simulation")
        .expect("a warning for the principal that could not be simulated");
    assert!(warning.message.contains(&unknown), "{warning:#?}");
    let lacking_finding = findings
        .iter()
        .find(|finding| finding.resource == lacking)
        .expect("a finding for the role without the import");
    assert!(findings.iter().any(|finding| finding.resource == denying
        && finding
            .next_steps
            .iter()
            .any(|step| step.contains("narrow the `Deny`"))));

    // The statement the finding prints is what the role lacks.
    let add = &lacking_finding.next_steps[0];
    let policy = trailing_json(add);
    put_role_policy(&env, "node-no-import", "ptc-doctor", &policy).await;
    let report = validate(&env, &toml).await;
    assert_eq!(
        cell(&report_json(&report)["consumers"], &lacking)["status"],
        "ok",
        "{:#}",
        report_json(&report)["consumers"]
    );
}

#[tokio::test]
async fn ptc_doctor_answers_for_one_role_of_the_cache_account() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    let pull_only = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"], "Resource": "*"}]});
    let everything = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]});
    let pulling = create_role(&env, "pull-only", Some(&pull_only)).await;
    let complete = create_role(&env, "complete", Some(&everything)).await;

    // Not configured at all: `--principal` alone.
    let output = ptc(&env, "", &["doctor", "--json", "--principal", &pulling]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let identity = &cell(&report["consumers"], &pulling)["identity"];
    let actions: Vec<&str> = identity["missing"]
        .as_array()
        .expect("missing grants")
        .iter()
        .filter_map(|grant| grant["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]
    );

    let output = ptc(&env, "", &["doctor", "--principal", &complete]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("ok"), "{}", stdout(&output));
}

/// New cache repositories get the creation template's repository policy, not the profile's:
/// the template is what is checked, and the cell says so.
#[tokio::test]
async fn the_creation_templates_repository_policy_is_what_is_checked() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    put_registry_policy(
        &env,
        &json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": [CLUSTER_ACCOUNT, CI_ROLE]}, "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"], "Resource": "*"}]
        }),
    )
    .await;
    // The profile lets both pull; the template in place lets the cluster account only.
    let cluster_only = json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ClusterPull", "Effect": "Allow", "Principal": {"AWS": CLUSTER_ACCOUNT}, "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]
    });
    let template = ptc_ops::domain::CreationTemplate {
        applied_for: vec![ptc_ops::domain::APPLIED_FOR_PULL_THROUGH_CACHE.to_owned()],
        repository_policy: Some(cluster_only.to_string()),
        ..ptc_ops::domain::CreationTemplate::empty("quay")
    };
    env.clients
        .creation_templates()
        .create(&template)
        .await
        .unwrap_or_else(|error| panic!("cannot create the template: {error}"));
    let report = validate(&env, &consumers_toml("")).await;
    let consumers = &report_json(&report)["consumers"];
    assert_eq!(
        cell_statuses(consumers),
        [
            format!("{CLUSTER_ACCOUNT} quay ok"),
            format!("{CI_ROLE} quay missing"),
        ]
    );
    assert_eq!(
        cell(consumers, CI_ROLE)["repository_policy_source"],
        "creation template `quay`",
        "{consumers:#}"
    );
    let finding = report
        .findings
        .iter()
        .find(|finding| finding.check == Check::ConsumerAccess)
        .expect("a finding");
    assert!(
        finding.message.contains("creation template `quay`"),
        "{finding:#?}"
    );

    // Without a template, the profile's policy is what hardening gives the repositories.
    let other = TestEnv::new().await;
    other.create_rule("quay", "quay.io", None).await;
    put_registry_policy(
        &other,
        &json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": [CLUSTER_ACCOUNT, CI_ROLE]}, "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"], "Resource": "*"}]
        }),
    )
    .await;
    let report = validate(&other, &consumers_toml("")).await;
    assert_eq!(
        cell(&report_json(&report)["consumers"], CI_ROLE)["repository_policy_source"],
        "profile `default`"
    );
    assert_eq!(report.summary["consumer_checks_ok"], 2);
}

async fn create_ecr_rule(env: &TestEnv, prefix: &str, role: &str) {
    env.ecr()
        .create_pull_through_cache_rule()
        .ecr_repository_prefix(prefix)
        .upstream_registry_url("444455556666.dkr.ecr.us-east-1.amazonaws.com")
        .upstream_repository_prefix("base-images")
        .custom_role_arn(role)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot create rule `{prefix}`: {error:?}"));
}

fn role_statuses(report: &Value) -> Vec<String> {
    let mut statuses: Vec<String> = report
        .as_array()
        .unwrap_or_else(|| panic!("no upstream roles: {report:#}"))
        .iter()
        .map(|role| {
            format!(
                "{} {}",
                role["rule"].as_str().unwrap_or_default(),
                role["status"].as_str().unwrap_or_default()
            )
        })
        .collect();
    statuses.sort();
    statuses
}

/// ECR-to-ECR rules: the custom role must exist, trust pull through cache and be allowed to
/// pull from the upstream repositories.
#[tokio::test]
async fn the_custom_roles_of_ecr_to_ecr_rules_are_checked() {
    let env = TestEnv::new().await;
    put_registry_policy(
        &env,
        &json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": [CLUSTER_ACCOUNT, CI_ROLE]}, "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"], "Resource": "*"}]
        }),
    )
    .await;
    let pull_upstream = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "arn:aws:ecr:us-east-1:444455556666:repository/base-images/*"},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    ]});
    let trusted_by = |service: &str| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]});
    let good = create_role_trusting(
        &env,
        "ptc-upstream",
        &trusted_by("pullthroughcache.ecr.amazonaws.com"),
        Some(&pull_upstream),
    )
    .await;
    let wrong_trust = create_role_trusting(
        &env,
        "ptc-upstream-ecr",
        &trusted_by("ecr.amazonaws.com"),
        Some(&pull_upstream),
    )
    .await;
    let gone = format!("arn:aws:iam::{}:role/never-created", env.account_id);
    let toml = consumers_toml("");

    create_ecr_rule(&env, "central", &good).await;
    let output = ptc(&env, &toml, &["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(role_statuses(&report["upstream_roles"]), ["central ok"]);

    create_ecr_rule(&env, "mirror", &wrong_trust).await;
    create_ecr_rule(&env, "gone", &gone).await;
    let output = ptc(&env, &toml, &["doctor"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains(&format!("custom role `{gone}` of rule `gone`")),
        "{}",
        stdout(&output)
    );

    env.clear_calls().await;
    let report = validate(&env, &toml).await;
    assert_eq!(
        role_statuses(&report_json(&report)["upstream_roles"]),
        ["central ok", "gone missing", "mirror missing"]
    );
    let titles: Vec<(&str, &str)> = report
        .findings
        .iter()
        .filter(|finding| finding.resource.starts_with("custom-role:"))
        .map(|finding| (finding.resource.as_str(), finding.title.as_str()))
        .collect();
    assert_eq!(titles.len(), 2, "{titles:#?}");
    assert!(titles.iter().any(
        |(resource, title)| *resource == "custom-role:gone" && title.contains("does not exist")
    ));
    assert!(titles
        .iter()
        .any(|(resource, title)| *resource == "custom-role:mirror"
            && title.contains("does not trust pull through cache")));
    ptc_ops_tests::assert_calls_permitted(
        &env,
        ptc_ops::validate_cache_rules::permissions::PERMISSIONS,
    )
    .await;

    // The trust statement the finding prints is enough.
    let finding = report
        .findings
        .iter()
        .find(|finding| finding.resource == "custom-role:mirror")
        .expect("the mirror finding");
    let step = &finding.next_steps[0];
    let statement = trailing_json(step);
    env.iam()
        .update_assume_role_policy()
        .role_name("ptc-upstream-ecr")
        .policy_document(json!({"Version": "2012-10-17", "Statement": [statement]}).to_string())
        .send()
        .await
        .expect("the trust policy is updated");
    let report = validate(&env, &toml).await;
    assert_eq!(
        role_statuses(&report_json(&report)["upstream_roles"]),
        ["central ok", "gone missing", "mirror ok"]
    );
}

/// The adapter reads a simulation to its last page: 5 actions on 25 repositories are 125
/// results, two pages of the default 100 (`Marker`, `IsTruncated`).
#[tokio::test]
async fn a_simulation_is_read_to_its_last_page() {
    let env = TestEnv::new().await;
    let everything = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]});
    let role = create_role(&env, "many-repositories", Some(&everything)).await;
    let resources: Vec<String> = (0..25)
        .map(|index| {
            format!(
                "arn:aws:ecr:{}:{}:repository/quay/r{index}",
                env.region, env.account_id
            )
        })
        .collect();
    let actions = [
        "ecr:CreateRepository",
        "ecr:BatchImportUpstreamImage",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
    ];
    env.clear_calls().await;
    let decisions = env
        .clients
        .iam()
        .simulate(&role, &actions, &resources)
        .await
        .unwrap_or_else(|error| panic!("simulation failed: {error}"));
    assert_eq!(decisions.len(), 125);
    assert!(decisions
        .iter()
        .all(|decision| decision.decision == ptc_ops::domain::iam::EvalDecision::Allowed));
    let mut pairs: Vec<(&str, &str)> = decisions
        .iter()
        .map(|decision| (decision.action.as_str(), decision.resource.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    assert_eq!(pairs.len(), 125, "every action and resource once");
    let pages = env
        .calls()
        .await
        .iter()
        .filter(|call| call.operation == "SimulatePrincipalPolicy")
        .count();
    assert_eq!(pages, 2);
}

/// IAM simulations that take too long are cut at the time kept for the report: the run ends
/// before its deadline with the rules reported and one warning, not a timeout.
#[tokio::test]
async fn slow_simulations_are_cut_at_the_deadline_with_a_report() {
    let env = TestEnv::new().await;
    env.create_rule("quay", "quay.io", None).await;
    let everything = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]});
    let mut roles = Vec::new();
    for index in 0..4 {
        roles.push(create_role(&env, &format!("slow-{index}"), Some(&everything)).await);
    }
    // 8 simulations of 1.5 s each: 12 s, far past a 4 s deadline.
    env.inject(
        ptc_ops_tests::Fault::new(
            "SimulatePrincipalPolicy",
            ptc_ops_tests::FaultKind::Latency,
            None,
        )
        .latency(1500),
    )
    .await;
    let listed: Vec<&str> = roles.iter().map(String::as_str).collect();
    let context = Arc::new(
        env.function_context(
            "validate-cache-rules",
            env.config(&principals_toml(&listed)),
        )
        .with_metrics_sink(MetricsSink::captured()),
    );
    let allowed = Duration::from_secs(4);
    let mut lambda_context = Context::default();
    lambda_context.deadline =
        (chrono::Utc::now().timestamp_millis() as u64) + allowed.as_millis() as u64;
    // No wall-clock assertion (a loaded machine makes it flaky): without the cut, the run
    // would have answered every simulation and carried no `consumer-checks` finding.
    let report = invoke::validate_cache_rules(
        context,
        LambdaEvent::new(sample_event("validate-cache-rules.json"), lambda_context),
    )
    .await
    .unwrap_or_else(|error| panic!("validation run failed: {}", error.full_message()));
    assert_eq!(report.summary["rules_checked"], 1, "{:?}", report.summary);
    let cut: Vec<_> = report
        .findings
        .iter()
        .filter(|finding| finding.resource == "consumer-checks")
        .collect();
    assert_eq!(cut.len(), 1, "{:#?}", report.findings);
    assert_eq!(
        cut[0].title,
        "the consumer checks did not finish before the deadline"
    );
    assert!(!report.summary.contains_key("consumer_checks"));
}
