//! Scan on push at the registry level, end to end on the emulator: the sweep of
//! `harden-repository` merges the managed prefixes into the registry scanning configuration
//! (foreign rules kept), repositories it covers cost no scanning call of their own, and the
//! others are read in batches and fall back to the deprecated per-repository setting.

use ptc_ops_tests::seeds::scanning_rule;
use std::sync::Arc;

use aws_sdk_ecr::types::{ImageScanningConfiguration, ScanFrequency, ScanType};
use ptc_ops::config::Config;
use ptc_ops::domain::Check;
use ptc_ops::harden_repository::HardenReport;
use ptc_ops::lambda::FunctionContext;
use ptc_ops_tests::{assert_calls_permitted, report_json, Call, TestEnv};
use serde_json::{json, Value};

const FUNCTION: &str = "harden-repository";
const NGINX: &str = "docker-hub/library/nginx";
const FLUX: &str = "ghcr/fluxcd/source-controller";
const FOREIGN: &str = "team/app";

fn profile(extra: &str) -> String {
    format!(
        r#"
[hardening]
prefixes = ["docker-hub", "ghcr"]
creation_templates = "off"
{extra}

[hardening.default]
scan_on_push = true
"#
    )
}

fn context(env: &TestEnv, config: Config) -> Arc<FunctionContext> {
    ptc_ops_tests::invoke::captured_context(env, FUNCTION, config)
}

async fn invoke(context: &Arc<FunctionContext>, payload: Value) -> HardenReport {
    ptc_ops_tests::invoke::harden(context, payload).await
}

/// (scan type, [(frequency, filters)]) as the registry has it.
async fn registry_scanning(env: &TestEnv) -> (String, Vec<(String, Vec<String>)>) {
    let answer = env
        .ecr()
        .get_registry_scanning_configuration()
        .send()
        .await
        .expect("registry scanning configuration");
    let configuration = answer.scanning_configuration().expect("configuration");
    (
        configuration
            .scan_type()
            .map(|scan_type| scan_type.as_str().to_owned())
            .unwrap_or_default(),
        configuration
            .rules()
            .iter()
            .map(|rule| {
                (
                    rule.scan_frequency().as_str().to_owned(),
                    rule.repository_filters()
                        .iter()
                        .map(|filter| filter.filter().to_owned())
                        .collect(),
                )
            })
            .collect(),
    )
}

/// Whether ECR reports `name` as scanned on push.
async fn scanned_on_push(env: &TestEnv, name: &str) -> bool {
    let answer = env
        .ecr()
        .batch_get_repository_scanning_configuration()
        .repository_names(name)
        .send()
        .await
        .expect("effective scanning");
    answer
        .scanning_configurations()
        .first()
        .is_some_and(|configuration| configuration.scan_on_push())
}

async fn create(env: &TestEnv, names: &[&str]) {
    for name in names {
        env.ecr()
            .create_repository()
            .repository_name(*name)
            .set_image_scanning_configuration(Some(
                ImageScanningConfiguration::builder()
                    .scan_on_push(false)
                    .build(),
            ))
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot create {name}: {error:?}"));
    }
}

fn operations(calls: &[Call], write: bool) -> Vec<String> {
    calls
        .iter()
        .filter(|call| call.is_write() == write)
        .map(|call| call.operation.clone())
        .collect()
}

fn count(calls: &[Call], operation: &str) -> usize {
    calls
        .iter()
        .filter(|call| call.operation == operation)
        .count()
}

fn scanning_titles(report: &HardenReport) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|finding| finding.check == Check::RegistryScanning)
        .map(|finding| finding.title.clone())
        .collect()
}

#[tokio::test]
async fn a_sweep_merges_the_prefixes_into_the_registry_configuration_then_writes_nothing() {
    let env = TestEnv::new().await;
    env.ecr()
        .put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .rules(scanning_rule(ScanFrequency::ScanOnPush, &["team/*"]))
        .send()
        .await
        .expect("foreign configuration");
    create(&env, &[NGINX, FLUX, FOREIGN]).await;
    env.clear_calls().await;

    let context = context(&env, env.config(&profile("")));
    let report = invoke(&context, json!({"sweep": true})).await;
    let calls = env.calls().await;
    assert_eq!(
        operations(&calls, true),
        ["PutRegistryScanningConfiguration"],
        "one registry write, no per-repository scanning write: {report:#?}"
    );
    assert_eq!(
        count(&calls, "BatchGetRepositoryScanningConfiguration"),
        0,
        "covered repositories are not read one by one"
    );
    assert_eq!(
        registry_scanning(&env).await,
        (
            "BASIC".to_owned(),
            vec![(
                "SCAN_ON_PUSH".to_owned(),
                vec![
                    "team/*".to_owned(),
                    "docker-hub/*".to_owned(),
                    "ghcr/*".to_owned()
                ]
            )]
        ),
        "the foreign filter and the scan type stay"
    );
    let section = &report_json(&report)["registry_scanning"];
    assert_eq!(section["outcome"], "updated", "{section:#}");
    assert_eq!(
        section["old"]["rules"][0]["repositoryFilters"],
        json!([{"filter": "team/*", "filterType": "WILDCARD"}])
    );
    assert_eq!(
        section["filters"],
        json!([
            {"prefix": "docker-hub", "profile": "default", "filter": "docker-hub/*", "status": "added"},
            {"prefix": "ghcr", "profile": "default", "filter": "ghcr/*", "status": "added"},
        ])
    );
    assert_eq!(
        report_json(&report)["scan_coverage"],
        json!({"by_registry": 2, "by_repository_setting": [], "not_scanned_on_push": [], "not_checked": 0})
    );
    assert!(scanned_on_push(&env, NGINX).await && scanned_on_push(&env, FLUX).await);
    assert_calls_permitted(&env, ptc_ops::harden_repository::permissions::PERMISSIONS).await;

    env.clear_calls().await;
    let again = invoke(&context, json!({"sweep": true})).await;
    let calls = env.calls().await;
    assert_eq!(operations(&calls, true), Vec::<String>::new(), "{again:#?}");
    assert_eq!(
        report_json(&again)["registry_scanning"]["outcome"],
        "in-sync"
    );
    assert_eq!(
        count(&calls, "GetRegistryScanningConfiguration"),
        1,
        "one read of the registry configuration per sweep"
    );
    assert_eq!(scanning_titles(&again), Vec::<String>::new());
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_reports_what_is_not_scanned() {
    let env = TestEnv::new().await;
    create(&env, &[NGINX, FLUX]).await;
    env.clear_calls().await;

    let context = context(&env, env.config(&profile("dry_run = true")));
    let report = invoke(&context, json!({"sweep": true})).await;
    let calls = env.calls().await;
    assert_eq!(operations(&calls, true), Vec::<String>::new());
    assert_eq!(
        count(&calls, "BatchGetRepositoryScanningConfiguration"),
        1,
        "both repositories are read in one batch"
    );
    assert_eq!(
        report_json(&report)["registry_scanning"]["outcome"],
        "would-update"
    );
    assert_eq!(
        report_json(&report)["registry_scanning"]["new"]["rules"][0]["repositoryFilters"],
        json!([
            {"filter": "docker-hub/*", "filterType": "WILDCARD"},
            {"filter": "ghcr/*", "filterType": "WILDCARD"},
        ])
    );
    let not_scanned: Vec<&str> = report
        .details
        .scan_coverage
        .iter()
        .flat_map(|coverage| &coverage.not_scanned_on_push)
        .map(|row| row.repository.as_str())
        .collect();
    assert_eq!(not_scanned, [NGINX, FLUX]);
    assert_eq!(
        scanning_titles(&report),
        ["2 managed repositories are not scanned on push"]
    );
    assert_eq!(registry_scanning(&env).await.1, Vec::new());
}

#[tokio::test]
async fn check_mode_reports_the_fix_and_falls_back_to_the_repository_setting() {
    let env = TestEnv::new().await;
    create(&env, &[NGINX]).await;
    env.clear_calls().await;

    let context = context(&env, env.config(&profile("registry_scanning = \"check\"")));
    let report = invoke(&context, json!({"sweep": true})).await;
    let calls = env.calls().await;
    assert_eq!(
        operations(&calls, true),
        ["PutImageScanningConfiguration"],
        "the registry is not written; the repository gets the deprecated setting"
    );
    assert_eq!(
        report_json(&report)["registry_scanning"]["outcome"],
        "drifted"
    );
    let finding = report
        .findings
        .iter()
        .find(|finding| finding.check == Check::RegistryScanning)
        .expect("drift finding");
    assert_eq!(
        finding.title,
        "the registry does not scan `docker-hub/*`, `ghcr/*` on push"
    );
    assert!(
        finding.next_steps[0].contains(
            r#"aws ecr put-registry-scanning-configuration --scan-type BASIC --rules '[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"docker-hub/*","filterType":"WILDCARD"},{"filter":"ghcr/*","filterType":"WILDCARD"}]}]'"#
        ),
        "{finding:#?}"
    );
    assert_eq!(
        report_json(&report)["scan_coverage"]["by_repository_setting"],
        json!([NGINX])
    );
    assert!(scanned_on_push(&env, NGINX).await);
}

#[tokio::test]
async fn a_new_repository_the_registry_covers_costs_reads_only() {
    let env = TestEnv::new().await;
    let context = context(&env, env.config(&profile("")));
    invoke(&context, json!({"sweep": true})).await;
    create(&env, &["docker-hub/library/redis"]).await;
    env.clear_calls().await;

    let report = invoke(
        &context,
        json!({"repositories": ["docker-hub/library/redis"]}),
    )
    .await;
    let calls = env.calls().await;
    assert_eq!(
        operations(&calls, true),
        Vec::<String>::new(),
        "{report:#?}"
    );
    assert_eq!(count(&calls, "BatchGetRepositoryScanningConfiguration"), 1);
    assert_eq!(report_json(&report)["scan_coverage"]["by_registry"], 1);

    // Without a registry filter the event falls back to the repository's own setting, and
    // reads it back.
    let off = context_off(&env);
    create(&env, &["ghcr/other/app"]).await;
    env.ecr()
        .put_registry_scanning_configuration()
        .scan_type(ScanType::Basic)
        .rules(scanning_rule(ScanFrequency::ScanOnPush, &["docker-hub/*"]))
        .send()
        .await
        .expect("narrowed configuration");
    env.clear_calls().await;
    let report = invoke(&off, json!({"repositories": ["ghcr/other/app"]})).await;
    let calls = env.calls().await;
    assert_eq!(
        operations(&calls, true),
        ["PutImageScanningConfiguration"],
        "{report:#?}"
    );
    assert_eq!(count(&calls, "BatchGetRepositoryScanningConfiguration"), 2);
    assert_eq!(
        report_json(&report)["scan_coverage"]["by_repository_setting"],
        json!(["ghcr/other/app"])
    );
}

fn context_off(env: &TestEnv) -> Arc<FunctionContext> {
    context(env, env.config(&profile("registry_scanning = \"off\"")))
}

#[tokio::test]
async fn no_room_in_the_registry_is_a_finding_and_foreign_rules_stay() {
    let env = TestEnv::new().await;
    env.ecr()
        .put_registry_scanning_configuration()
        .scan_type(ScanType::Enhanced)
        .rules(scanning_rule(ScanFrequency::ContinuousScan, &["prod/*"]))
        .rules(scanning_rule(ScanFrequency::ContinuousScan, &["stage/*"]))
        .send()
        .await
        .expect("two continuous rules");
    create(&env, &[NGINX]).await;
    let before = registry_scanning(&env).await;
    env.clear_calls().await;

    let context = context(&env, env.config(&profile("registry_scan_type = \"BASIC\"")));
    let report = invoke(&context, json!({"sweep": true})).await;
    let calls = env.calls().await;
    assert_eq!(
        registry_scanning(&env).await,
        before,
        "nothing foreign changed"
    );
    assert_eq!(count(&calls, "PutRegistryScanningConfiguration"), 0);
    let titles = scanning_titles(&report);
    assert!(
        titles.contains(
            &"registry scan type `BASIC` not set: the registry keeps `ENHANCED`".to_owned()
        ) && titles.contains(
            &"the registry scanning configuration has no room for `docker-hub/*`, `ghcr/*`"
                .to_owned()
        ),
        "{titles:#?}"
    );
    // Under ENHANCED the repository's own flag does not count: the write is read back and
    // reported, and the repository is listed as not scanned on push.
    assert_eq!(operations(&calls, true), ["PutImageScanningConfiguration"]);
    assert_eq!(
        report_json(&report)["scan_coverage"]["not_scanned_on_push"],
        json!([{"repository": NGINX, "profile": "default", "wanted": true, "scan_frequency": "MANUAL"}]),
        "{report:#?}"
    );
    assert!(report.findings.iter().any(|finding| finding.title
        == format!("`{NGINX}` is still not scanned on push after its own setting was changed")));

    // Its own flag is now set: the next run (and every duplicate event) writes nothing and says
    // once what would change it.
    env.clear_calls().await;
    let again = invoke(&context, json!({"repositories": [NGINX]})).await;
    let calls = env.calls().await;
    assert_eq!(
        operations(&calls, true),
        Vec::<String>::new(),
        "the flag is not written again: {again:#?}"
    );
    let said: Vec<&str> = again
        .findings
        .iter()
        .filter(|finding| finding.resource == NGINX)
        .map(|finding| finding.title.as_str())
        .collect();
    assert_eq!(
        said,
        [format!(
            "`{NGINX}` is not scanned on push although its own setting is on"
        )],
        "{again:#?}"
    );
    assert!(again.findings.iter().any(|finding| finding
        .next_steps
        .iter()
        .any(|step| step.contains("aws ecr put-registry-scanning-configuration"))));
}
