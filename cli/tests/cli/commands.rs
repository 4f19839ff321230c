//! `ptc` end to end: the real binary against the local emulator and real upstream registries.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{stderr, stdout, Aws};

use ptc_ops_tests::report_schemas::{assert_matches_schema, is_function_report};
use ptc_ops_tests::{assert_no_token, hostile_token, repo_root, TestEnv};
use serde_json::{json, Value};

/// Runs `ptc` with this test's slice of the emulator as its AWS account.
fn ptc(env: &TestEnv, args: &[&str], stdin: Option<&str>) -> Output {
    ptc_with_env(env, args, stdin, &[])
}

/// [`ptc`] with more environment variables.
fn ptc_with_env(
    env: &TestEnv,
    args: &[&str],
    stdin: Option<&str>,
    extra_env: &[(&str, &str)],
) -> Output {
    let workdir = tempfile::tempdir().expect("temporary folder");
    crate::support::run(
        workdir.path(),
        args,
        stdin,
        Aws::Emulator(env),
        extra_env,
        None,
    )
}

/// `ptc --json`'s output; a function's report must match its published schema.
fn json_stdout(output: &Output) -> Value {
    let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}\nstderr: {}",
            stdout(output),
            stderr(output)
        )
    });
    if is_function_report(&value) {
        assert_matches_schema(&value);
    }
    value
}

fn registry_host(env: &TestEnv) -> String {
    format!("{}.dkr.ecr.{}.amazonaws.com", env.account_id, env.region)
}

#[tokio::test]
async fn config_check_reports_every_problem_with_exit_two() {
    let env = TestEnv::new().await;
    let shipped = repo_root().join("infra/config/ptc-ops.toml");
    let good = ptc(
        &env,
        &["config", "check", shipped.to_str().expect("utf8 path")],
        None,
    );
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    assert!(stdout(&good).starts_with("valid: "), "{}", stdout(&good));

    let folder = tempfile::tempdir().expect("folder");
    let bad = folder.path().join("ptc-ops.toml");
    std::fs::write(
        &bad,
        "[alerts]\nmin_severity = \"loud\"\n[hardening]\nconcurrency = 0\n[prewarm]\nimages = \"nginx\"\n",
    )
    .expect("written");
    let output = ptc(
        &env,
        &["config", "check", bad.to_str().expect("utf8 path")],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    for key in [
        "alerts.min_severity",
        "hardening.concurrency",
        "prewarm.images",
    ] {
        assert!(message.contains(key), "{key} missing from: {message}");
    }
    let usage = ptc(&env, &["harden"], None);
    assert_eq!(
        usage.status.code(),
        Some(2),
        "a usage error: {}",
        stderr(&usage)
    );
}

/// The shipped default of the first release: ECR refuses `sinceImagePulled` with `expire`.
#[tokio::test]
async fn config_check_refuses_a_lifecycle_policy_ecr_would_refuse() {
    let env = TestEnv::new().await;
    let folder = tempfile::tempdir().expect("folder");
    std::fs::write(
        folder.path().join("expire-unpulled.json"),
        r#"{"rules":[
            {"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
            {"rulePriority":100,"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90},"action":{"type":"expire"}}
        ]}"#,
    )
    .expect("written");
    let config = folder.path().join("ptc-ops.toml");
    std::fs::write(
        &config,
        "[hardening.default]\nlifecycle_policy = \"expire-unpulled.json\"\n",
    )
    .expect("written");
    let output = ptc(
        &env,
        &["config", "check", config.to_str().expect("utf8 path")],
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    let message = stderr(&output);
    for part in [
        "hardening.default.lifecycle_policy",
        "expire-unpulled.json",
        "rules[1].action.type",
        "`sinceImagePulled` only pairs with `type` `transition`",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    assert_eq!(
        env.write_calls().await,
        vec![],
        "a refused configuration makes no AWS call"
    );
}

/// The operator's broad credentials change nothing: `ptc harden --all` under a `ROOT` rule
/// writes to no application repository.
#[tokio::test]
async fn harden_all_under_a_root_rule_spares_application_repositories() {
    let env = TestEnv::new().await;
    env.create_rule("ROOT", "999999999999.dkr.ecr.eu-west-1.amazonaws.com", None)
        .await;
    env.ecr()
        .create_repository()
        .repository_name("team/payments-api")
        .send()
        .await
        .expect("application repository");
    let folder = tempfile::tempdir().expect("folder");
    let config = folder.path().join("ptc-ops.toml");
    std::fs::write(
        &config,
        format!(
            "[hardening.default]\nscan_on_push = true\nlifecycle_policy = \"{}\"\n",
            repo_root()
                .join("infra/config/lifecycle/default.json")
                .display()
        ),
    )
    .expect("config written");
    let config = config.to_str().expect("utf8 path");
    env.clear_calls().await;
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec!["--config", config, "--json", "harden", "--all"];
        args.extend_from_slice(extra);
        let report = json_stdout(&ptc(&env, &args, None));
        assert_eq!(report["summary"]["repositories_skipped"], 1, "{report:#}");
        assert_eq!(report["summary"]["settings_planned"], 0, "{report:#}");
        assert_eq!(report["managed_prefixes"], json!([]), "{report:#}");
    }
    assert_eq!(env.write_calls().await, vec![], "nothing is written");
}

#[tokio::test]
async fn rules_validate_tables_json_and_exit_codes() {
    let env = TestEnv::new().await;
    let good = env
        .create_secret(
            "ecr-pullthroughcache/docker-hub",
            &env.valid_credential_json(),
        )
        .await;
    env.create_rule("docker-hub", "registry-1.docker.io", Some(&good))
        .await;
    env.create_rule("k8s", "registry.k8s.io", None).await;

    let clean = ptc(&env, &["rules", "validate"], None);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );
    let table = stdout(&clean);
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|header| header.starts_with("PREFIX")),
        "{table}"
    );
    assert!(
        table.contains("docker-hub") && table.contains("valid"),
        "{table}"
    );
    assert!(table.contains("nothing-to-validate"), "{table}");

    let wrong = env
        .create_secret(
            "ecr-pullthroughcache/ghcr",
            &env.credential_json_with_token("wrong"),
        )
        .await;
    env.create_rule("ghcr", "ghcr.io", Some(&wrong)).await;
    let broken = ptc(&env, &["rules", "validate", "--json"], None);
    assert_eq!(broken.status.code(), Some(1), "{}", stderr(&broken));
    let report = json_stdout(&broken);
    assert_eq!(report["function"], "validate-cache-rules");
    assert_eq!(report["summary"]["rules_invalid"], 1);
    let ghcr = report["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|rule| rule["prefix"] == "ghcr"))
        .expect("ghcr rule");
    assert_eq!(ghcr["status"], "invalid");

    let tolerant = ptc(
        &env,
        &[
            "rules",
            "validate",
            "--fail-on",
            "never",
            "--prefix",
            "ghcr",
        ],
        None,
    );
    assert_eq!(tolerant.status.code(), Some(0));
    assert!(
        stdout(&tolerant).contains("CRITICAL"),
        "{}",
        stdout(&tolerant)
    );
}

#[tokio::test]
async fn rewrite_prints_cache_uris() {
    let env = TestEnv::new().await;
    env.create_rule("docker-hub", "registry-1.docker.io", None)
        .await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    let host = registry_host(&env);

    let one = ptc(&env, &["rewrite", "nginx:1.27"], None);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert_eq!(
        stdout(&one).trim(),
        format!("{host}/docker-hub/library/nginx:1.27")
    );

    let many = ptc(
        &env,
        &[
            "rewrite",
            "--json",
            "registry.k8s.io/pause:3.10",
            "quay.io/org/app:1",
        ],
        None,
    );
    assert_eq!(many.status.code(), Some(1), "an image without a rule fails");
    let result = json_stdout(&many);
    assert_eq!(
        result["images"][0]["cache_uri"],
        format!("{host}/k8s/pause:3.10")
    );
    assert!(result["images"][1]["cache_uri"].is_null());
    assert!(result["images"][1]["problem"]
        .as_str()
        .is_some_and(|problem| problem.contains("quay.io")));
}

fn pods_document(env: &TestEnv) -> String {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/kubectl-get-pods.json"))
        .expect("fixture");
    text.replace("ACCOUNT", &env.account_id)
        .replace("REGION", &env.region)
}

#[tokio::test]
async fn audit_classifies_every_container_of_a_cluster() {
    let env = TestEnv::new().await;
    env.create_rule("docker-hub", "registry-1.docker.io", None)
        .await;
    env.create_rule("ghcr", "ghcr.io", None).await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    let host = registry_host(&env);
    let pods = pods_document(&env);

    let output = ptc(
        &env,
        &["audit", "--registry", &host, "--json", "-"],
        Some(&pods),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "direct images fail the audit: {}",
        stderr(&output)
    );
    let result = json_stdout(&output);
    let by_image: Vec<(String, String, String)> = result["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|image| {
            (
                image["kind"].as_str().unwrap_or_default().to_owned(),
                image["image"]
                    .as_str()
                    .unwrap_or_default()
                    .replace(&host, "<registry>"),
                image["source"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(&str, &str, &str)> = vec![
        ("container", "<registry>/ghcr/fluxcd/source-controller:v1.4.1", "via-cache"),
        ("container", "docker.io/grafana/grafana:11.3.0", "direct"),
        ("container", "quay.io/kiwigrid/k8s-sidecar:1.28.0", "direct"),
        ("init", "busybox:1.36", "direct"),
        (
            "container",
            "registry.k8s.io/coredns/coredns:v1.11.3@sha256:9caabbf6238b189a65d0d6e6ac138de60d6a1c419e5a341fbbb7c78382559c6e",
            "direct",
        ),
        ("ephemeral", "nginx", "direct"),
        ("container", "public.ecr.aws/karpenter/controller:1.0.6", "exempt"),
        ("container", "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.5-eksbuild.1", "exempt"),
        ("container", "<registry>/shop/api:2026.11.20", "exempt"),
    ];
    let got: Vec<(&str, &str, &str)> = by_image
        .iter()
        .map(|(kind, image, source)| (kind.as_str(), image.as_str(), source.as_str()))
        .collect();
    assert_eq!(got, expected);
    let uri_of = |needle: &str| {
        result["images"]
            .as_array()
            .and_then(|images| {
                images
                    .iter()
                    .find(|image| image["image"].as_str().is_some_and(|i| i.contains(needle)))
            })
            .map(|image| image["cache_uri"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        uri_of("busybox"),
        json!(format!("{host}/docker-hub/library/busybox:1.36"))
    );
    assert_eq!(
        uri_of("nginx"),
        json!(format!("{host}/docker-hub/library/nginx:latest"))
    );
    assert_eq!(uri_of("kiwigrid"), Value::Null, "no rule serves quay.io");
    assert_eq!(result["summary"]["direct"], 5);
    assert_eq!(result["summary"]["via_cache"], 1);
    assert_eq!(result["summary"]["exempt"], 3);

    // Allowing what remains makes the audit pass; the table is for humans.
    let folder = tempfile::tempdir().expect("folder");
    let pods_file = folder.path().join("pods.json");
    std::fs::write(&pods_file, &pods).expect("written");
    let allowed = ptc(
        &env,
        &[
            "audit",
            "--registry",
            &host,
            "--allow",
            "quay.io/*",
            "--allow",
            "docker.io/*",
            "--allow",
            "registry.k8s.io/*",
            pods_file.to_str().expect("utf8 path"),
        ],
        None,
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", stdout(&allowed));
    let table = stdout(&allowed);
    assert!(table.starts_with("NAMESPACE"), "{table}");
    assert!(table.contains("direct (allowed)"), "{table}");
    assert!(
        table.contains("9 images: 1 via cache, 3 exempt, 5 direct (5 allowed), 0 invalid"),
        "{table}"
    );

    // Offline: the rules from the AWS CLI's output, no AWS call.
    let rules_file = folder.path().join("rules.json");
    std::fs::write(
        &rules_file,
        json!({"pullThroughCacheRules": [{"ecrRepositoryPrefix": "docker-hub", "upstreamRegistryUrl": "registry-1.docker.io", "registryId": env.account_id}]})
            .to_string(),
    )
    .expect("written");
    env.clear_calls().await;
    let offline = ptc(
        &env,
        &[
            "audit",
            "--registry",
            &host,
            "--rules-file",
            rules_file.to_str().expect("utf8"),
            "--json",
        ],
        Some("nginx:1.27\n"),
    );
    assert_eq!(
        json_stdout(&offline)["images"][0]["cache_uri"],
        format!("{host}/docker-hub/library/nginx:1.27")
    );
    assert_eq!(env.calls().await, vec![], "offline audit makes no AWS call");
    assert!(Path::new(&rules_file).exists());
}

#[tokio::test]
async fn credentials_harden_and_prewarm_from_the_command_line() {
    let env = TestEnv::new().await;
    let secret = env
        .create_secret(
            "ecr-pullthroughcache/docker-hub",
            &env.valid_credential_json(),
        )
        .await;
    env.secrets()
        .tag_resource()
        .secret_id(&secret)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("ptc-ops:expires-at")
                .value(
                    (chrono::Utc::now() + chrono::Duration::days(3))
                        .format("%Y-%m-%d")
                        .to_string(),
                )
                .build(),
        )
        .send()
        .await
        .expect("tagged");
    env.create_rule("docker-hub", "registry-1.docker.io", Some(&secret))
        .await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    let folder = tempfile::tempdir().expect("folder");
    let config = folder.path().join("ptc-ops.toml");
    std::fs::write(
        &config,
        format!(
            "[hardening.default]\nscan_on_push = true\nlifecycle_policy = \"{}\"\ntags = {{ managed-by = \"ecr-ptc-ops\" }}\n",
            repo_root().join("infra/config/lifecycle/default.json").display()
        ),
    )
    .expect("config written");
    let config = config.to_str().expect("utf8 path");

    // A token expiring in 3 days is critical: exit 1, and the table names the secret.
    let credentials = ptc(&env, &["--config", config, "credentials", "check"], None);
    assert_eq!(
        credentials.status.code(),
        Some(1),
        "{}",
        stderr(&credentials)
    );
    let table = stdout(&credentials);
    assert!(table.starts_with("SECRET"), "{table}");
    assert!(table.contains("ecr-pullthroughcache/docker-hub"), "{table}");
    let credentials_json = json_stdout(&ptc(
        &env,
        &["--config", config, "--json", "credentials", "check"],
        None,
    ));
    assert_eq!(credentials_json["function"], "check-credentials");

    // Pre-warm: nginx through Docker Hub, pause through registry.k8s.io.
    let list = folder.path().join("images.txt");
    std::fs::write(&list, "# system images\nregistry.k8s.io/pause:3.10\n").expect("list written");
    let prewarm = ptc(
        &env,
        &[
            "--config",
            config,
            "--json",
            "prewarm",
            "nginx:1.27",
            "-f",
            list.to_str().expect("utf8"),
        ],
        None,
    );
    assert_eq!(prewarm.status.code(), Some(0), "{}", stderr(&prewarm));
    let warmed = json_stdout(&prewarm);
    let statuses: Vec<&str> = warmed["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(|image| image["status"].as_str())
        .collect();
    assert_eq!(statuses, ["warmed", "warmed"], "{warmed:#}");

    // Harden: the dry run plans and writes nothing; the real run changes; the next is compliant.
    env.clear_calls().await;
    let plan = ptc(
        &env,
        &["--config", config, "harden", "--all", "--dry-run"],
        None,
    );
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    assert!(
        stdout(&plan).starts_with("dry run") || stdout(&plan).contains("dry run"),
        "{}",
        stdout(&plan)
    );
    assert_eq!(env.write_calls().await, vec![], "a dry run writes nothing");
    let applied = json_stdout(&ptc(
        &env,
        &["--config", config, "--json", "harden", "--all"],
        None,
    ));
    assert!(
        applied["summary"]["settings_changed"]
            .as_u64()
            .is_some_and(|changed| changed > 0),
        "{applied:#}"
    );
    env.clear_calls().await;
    let again = json_stdout(&ptc(
        &env,
        &[
            "--config",
            config,
            "--json",
            "harden",
            "docker-hub/library/nginx",
            "k8s/pause",
        ],
        None,
    ));
    assert_eq!(again["summary"]["settings_changed"], 0, "{again:#}");
    assert_eq!(
        env.write_calls().await,
        vec![],
        "a compliant registry costs reads only"
    );
}

/// A plan people can read before the product touches a shared registry: `ptc harden --all
/// --dry-run` on repositories with hand-made settings prints one short line per change (no JSON
/// in a column), `--diff` shows the policies in full, and `--json` keeps every value whole.
#[tokio::test]
async fn a_harden_plan_is_one_short_line_per_change() {
    const HAND_MADE: &str = r#"{"rules":[{"rulePriority":5,"description":"old","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    for name in [
        "docker-hub/library/nginx",
        "docker-hub/bitnami/postgresql",
        "k8s/pause",
    ] {
        env.ecr()
            .create_repository()
            .repository_name(name)
            .send()
            .await
            .expect("repository created");
    }
    env.ecr()
        .put_lifecycle_policy()
        .repository_name("docker-hub/library/nginx")
        .lifecycle_policy_text(HAND_MADE)
        .send()
        .await
        .expect("hand-made policy");
    let folder = tempfile::tempdir().expect("folder");
    let config = folder.path().join("ptc-ops.toml");
    std::fs::write(
        &config,
        format!(
            "[hardening.default]\nscan_on_push = true\nlifecycle_policy = \"{}\"\ntags = {{ managed-by = \"ecr-ptc-ops\", cost-center = \"platform\" }}\ntag_mutability = \"IMMUTABLE_WITH_EXCLUSION\"\ntag_mutability_exclusions = [\"latest\"]\n",
            repo_root().join("infra/config/lifecycle/default.json").display()
        ),
    )
    .expect("config written");
    let config = config.to_str().expect("utf8 path");
    env.clear_calls().await;

    let dry_run = ptc(
        &env,
        &["--config", config, "harden", "--all", "--dry-run"],
        None,
    );
    let printed = stdout(&dry_run);
    assert!(dry_run.status.success(), "{printed}{}", stderr(&dry_run));
    // The plan is the block before the findings.
    let plan: Vec<&str> = printed
        .lines()
        .take_while(|line| !line.is_empty())
        .collect();
    for expected in [
        "docker-hub/library/nginx",
        "  lifecycle: +2 rules (Untagged images are superseded…; Keep the 50 most recently cache…), -1 rule (old)",
        "  tags: +cost-center, +managed-by",
        "  tag mutability: MUTABLE → IMMUTABLE_WITH_EXCLUSION (except latest)",
        "k8s/pause",
    ] {
        assert!(plan.contains(&expected), "`{expected}` not in the plan:\n{printed}");
    }
    let widest = plan.iter().map(|line| line.chars().count()).max();
    assert!(
        widest.is_some_and(|width| width <= 120),
        "{widest:?}:\n{printed}"
    );
    assert!(!printed.contains("rulePriority"), "no JSON:\n{printed}");

    let diff = stdout(&ptc(
        &env,
        &[
            "--config",
            config,
            "harden",
            "docker-hub/library/nginx",
            "--dry-run",
            "--diff",
        ],
        None,
    ));
    for expected in [
        "--- docker-hub/library/nginx lifecycle_policy (now)",
        "+++ docker-hub/library/nginx lifecycle_policy (planned)",
        "-      \"description\": \"old\",",
        "+      \"rulePriority\": 100,",
        "+  \"cost-center\": \"platform\",",
    ] {
        assert!(
            diff.lines().any(|line| line == expected),
            "`{expected}` not in the diff:\n{diff}"
        );
    }

    let report = json_stdout(&ptc(
        &env,
        &["--config", config, "--json", "harden", "--all", "--dry-run"],
        None,
    ));
    let lifecycle = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|change| {
            change["repository"] == "docker-hub/library/nginx"
                && change["setting"] == "lifecycle_policy"
        })
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(
        lifecycle["old"],
        serde_json::from_str::<Value>(HAND_MADE).expect("JSON"),
        "--json keeps the whole policy"
    );
    assert_eq!(env.write_calls().await, vec![], "dry runs write nothing");
}

/// Tokens no writer prints as they are (a quote, a backslash, non-ASCII), in a secret that
/// parses and in secrets that do not, with every log switch a user could turn on: `RUST_LOG` at
/// `trace`, the SDK's `LOG_SENSITIVE_BODIES`, `-vv`. Nothing `ptc` prints, table or JSON, stdout
/// or stderr, holds any form of any of them.
#[tokio::test]
async fn credentials_check_prints_no_token_in_any_form() {
    let env = TestEnv::new().await;
    let unique = env.account_id.clone();
    let token = |case: &str| hostile_token(&format!("{case}-{unique}"));
    let cases = [
        (
            "valid-json",
            json!({"username": "ptc-user", "accessToken": token("valid-json")}).to_string(),
        ),
        (
            "unescaped-quote",
            format!(
                r#"{{"username":"ptc-user","accessToken":"{}"}}"#,
                token("unescaped-quote")
            ),
        ),
        (
            "yaml-like",
            format!("username: ptc-user\naccessToken: {}\n", token("yaml-like")),
        ),
        ("bare-token", token("bare-token")),
        (
            "misspelled-key",
            json!({"username": "ptc-user", "access_token": token("misspelled-key")}).to_string(),
        ),
    ];
    let tokens: Vec<String> = cases.iter().map(|(case, _)| token(case)).collect();
    for (case, value) in &cases {
        let arn = env
            .create_secret(&format!("ecr-pullthroughcache/{case}"), value)
            .await;
        env.create_rule(case, "ghcr.io", Some(&arn)).await;
    }
    // Discovery on, towards a closed loopback port: the token is handed to the HTTP client.
    let folder = tempfile::tempdir().expect("folder");
    let config = folder.path().join("ptc-ops.toml");
    std::fs::write(
        &config,
        "[credentials]\ndiscover_expiry = true\ngithub_api_url = \"http://127.0.0.1:9\"\n",
    )
    .expect("config written");
    let config = config.to_str().expect("utf8 path");
    let noisy = [("RUST_LOG", "trace"), ("LOG_SENSITIVE_BODIES", "true")];
    for args in [
        vec!["--config", config, "-vv", "credentials", "check"],
        vec!["--config", config, "-vv", "--json", "credentials", "check"],
    ] {
        let output = ptc_with_env(&env, &args, None, &noisy);
        let (out, err) = (stdout(&output), stderr(&output));
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        for (case, _) in &cases {
            assert!(
                out.contains(&format!("ecr-pullthroughcache/{case}")),
                "{args:?}"
            );
        }
        assert!(
            err.contains("credential secret checked"),
            "{args:?}: the decisions are logged on stderr"
        );
        assert_no_token(&out, &tokens, &format!("stdout of {args:?}"));
        assert_no_token(&err, &tokens, &format!("stderr of {args:?}"));
    }
}

#[tokio::test]
async fn templates_plan_then_apply_then_nothing_to_do() {
    let env = TestEnv::new().await;
    let folder = tempfile::tempdir().expect("folder");
    let config = folder.path().join("ptc-ops.toml");
    std::fs::write(
        &config,
        format!(
            "[hardening]\nprefixes = [\"docker-hub\"]\n\n[hardening.default]\ntag_mutability = \"MUTABLE\"\nlifecycle_policy = \"{}\"\n",
            repo_root().join("infra/config/lifecycle/default.json").display()
        ),
    )
    .expect("config written");
    let config = config.to_str().expect("utf8 path");

    let plan = ptc(&env, &["--config", config, "templates", "plan"], None);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let table = stdout(&plan);
    assert!(
        table.lines().any(|line| line == "docker-hub: would-create")
            && table.contains("  lifecycle: +2 rules ("),
        "{table}"
    );
    let diff = stdout(&ptc(
        &env,
        &["--config", config, "templates", "plan", "--diff"],
        None,
    ));
    assert!(
        diff.contains("+++ docker-hub lifecycle_policy (planned)\n")
            && diff.contains("+      \"rulePriority\": 100,\n"),
        "{diff}"
    );
    assert_eq!(
        env.write_calls().await,
        vec![],
        "`templates plan` writes nothing"
    );

    let apply = ptc(
        &env,
        &["--config", config, "--json", "templates", "apply"],
        None,
    );
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    let report = json_stdout(&apply);
    assert_eq!(report["templates"]["templates"][0]["outcome"], "created");
    assert_eq!(report["summary"]["templates_created"], 1);

    env.clear_calls().await;
    let again = ptc(
        &env,
        &["--config", config, "--json", "templates", "apply"],
        None,
    );
    let report = json_stdout(&again);
    assert_eq!(report["templates"]["templates"][0]["outcome"], "in-sync");
    assert_eq!(env.write_calls().await, vec![]);
}

/// `infra/cdk/permissions.json` is what `ptc permissions --json` prints: the CDK roles are built
/// from that file, so a permission added to the code but not to the file fails here.
#[test]
fn the_cdk_permissions_file_is_what_ptc_permissions_prints() {
    let output = Command::new(env!("CARGO_BIN_EXE_ptc"))
        .args(["permissions", "--json"])
        .env_remove("PTC_CONFIG")
        .output()
        .expect("ptc runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = json_stdout(&output);
    let path = repo_root().join("infra/cdk/permissions.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let checked_in: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
    assert!(
        printed == checked_in,
        "infra/cdk/permissions.json is stale: run `make cdk-permissions` and commit it"
    );

    let roles: Vec<&str> = printed["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|role| role["role"].as_str().expect("role name"))
        .collect();
    assert_eq!(
        roles,
        [
            "harden-repository",
            "validate-cache-rules",
            "check-credentials",
            "prewarm-images",
            "creation-template"
        ]
    );
    let harden = &printed["roles"][0]["permissions"];
    for (action, scope) in [
        ("ecr:PutLifecyclePolicy", "managed-repositories"),
        ("logs:PutLogEvents", "own-log-group"),
        ("sqs:SendMessage", "failure-queue"),
    ] {
        assert!(
            harden
                .as_array()
                .expect("permissions")
                .iter()
                .any(|permission| permission["action"] == action && permission["scope"] == scope),
            "harden-repository lacks {action} on {scope}: {harden}"
        );
    }

    let table = Command::new(env!("CARGO_BIN_EXE_ptc"))
        .arg("permissions")
        .env("NO_COLOR", "1")
        .output()
        .expect("ptc runs");
    assert!(table.status.success(), "{}", stderr(&table));
    let table = stdout(&table);
    assert!(table.starts_with("ROLE"), "{table}");
    assert!(table.contains("only with credential-write-back"), "{table}");
}

#[tokio::test]
async fn refresh_replaces_cached_tags_and_refuses_what_is_not_the_caches() {
    let env = TestEnv::new().await;
    env.seed_standard_rules().await;
    let folder = tempfile::tempdir().expect("folder");
    let config = folder.path().join("ptc-ops.toml");
    std::fs::write(&config, env.upstream_registries_toml()).expect("config written");
    let config = config.to_str().expect("utf8 path");

    // Outside the cache, or a digest pin: exit 2, each named, nothing written.
    env.clear_calls().await;
    let refused = ptc(
        &env,
        &[
            "--config",
            config,
            "refresh",
            "ghcr.io/org/app:1.0",
            "nginx:1.27@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let message = stderr(&refused);
    for needle in [
        "nothing was changed",
        "`ghcr.io/org/app:1.0`",
        "no pull-through cache rule",
        "pins a digest",
    ] {
        assert!(message.contains(needle), "`{needle}` missing in {message}");
    }
    assert_eq!(env.write_calls().await, vec![], "a refusal writes nothing");

    let warmed = json_stdout(&ptc(
        &env,
        &["--config", config, "--json", "prewarm", "nginx:1.27"],
        None,
    ));
    let cached = warmed["images"][0]["digest"].clone();
    assert!(cached.is_string(), "{warmed:#}");

    // The dry run reads the cache and the upstream: current, nothing written.
    env.clear_calls().await;
    let dry = ptc(
        &env,
        &[
            "--config",
            config,
            "--json",
            "refresh",
            "--dry-run",
            "nginx:1.27",
        ],
        None,
    );
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let dry = json_stdout(&dry);
    assert_eq!(dry["images"][0]["status"], "already-cached", "{dry:#}");
    assert_eq!(dry["images"][0]["upstream_digest"], cached, "{dry:#}");
    assert_eq!(env.write_calls().await, vec![], "a dry run writes nothing");

    // The refresh deletes the tag and pulls it again, though it was current.
    env.clear_calls().await;
    let refreshed = ptc(
        &env,
        &["--config", config, "--json", "refresh", "nginx:1.27"],
        None,
    );
    assert_eq!(refreshed.status.code(), Some(0), "{}", stderr(&refreshed));
    let refreshed = json_stdout(&refreshed);
    let image = &refreshed["images"][0];
    assert_eq!(image["status"], "refreshed", "{refreshed:#}");
    assert_eq!(image["previous_digest"], cached, "{refreshed:#}");
    assert_eq!(
        image["digest"], cached,
        "the upstream did not move: {refreshed:#}"
    );
    assert!(
        env.calls()
            .await
            .iter()
            .any(|call| call.operation == "BatchDeleteImage"
                && call.resource.as_deref() == Some("docker-hub/library/nginx")),
        "the tag was deleted"
    );
}
