//! `run` against in-memory ports: a sweep's writes, a write the registry refuses, and a sweep
//! started too late, without the emulator (the emulator-backed tests hold the same runs to the
//! AWS contract).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::report::RepositoryOutcome;
use super::*;
use crate::events::{HardenRequest, HardenTarget};
use crate::ports::fakes::{self, FakeEcr, FakeSecretStore};

const NGINX: &str = "docker-hub/library/nginx";
const ALPINE: &str = "docker-hub/library/alpine";
const FOREIGN: &str = "team/app";

fn registry() -> FakeEcr {
    FakeEcr::default()
        .with_rule(crate::domain::CacheRule::new(
            "docker-hub",
            "registry-1.docker.io",
        ))
        .with_repository(NGINX)
        .with_repository(ALPINE)
        .with_repository(FOREIGN)
}

/// A sweep with the configuration the stack ships.
async fn sweep_with(ecr: &Arc<FakeEcr>, deadline: Deadline) -> HardenReport {
    let config =
        Config::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/config/ptc-ops.toml"))
            .expect("the shipped configuration is valid");
    sweep_configured(ecr, &config, deadline).await
}

async fn sweep_configured(ecr: &Arc<FakeEcr>, config: &Config, deadline: Deadline) -> HardenReport {
    let ports = fakes::ports(ecr, &Arc::new(FakeSecretStore::default()));
    let context = RunContext::new(&ports, config).with_deadline(deadline);
    let request = Request {
        invocation: HardenInvocation::Direct(HardenRequest {
            target: HardenTarget::Sweep,
            dry_run: Some(false),
            cursor: None,
        }),
        can_hand_off: true,
    };
    run(&context, request)
        .await
        .unwrap_or_else(|error| panic!("{}", error.full_message()))
        .report
}

fn outcomes(report: &HardenReport) -> Vec<(&str, RepositoryOutcome)> {
    report
        .details
        .repositories
        .iter()
        .map(|entry| (entry.repository.as_str(), entry.outcome))
        .collect()
}

/// Calls that change something (`Put…`, `Set…`, `Tag…`, `Create…`, `Update…`).
fn writes(calls: &[String]) -> Vec<&str> {
    calls
        .iter()
        .map(String::as_str)
        .filter(|call| {
            let action = call.split_once(':').map_or(*call, |(_, action)| action);
            ["Put", "Set", "Tag", "Create", "Update"]
                .iter()
                .any(|verb| action.starts_with(verb))
        })
        .collect()
}

#[tokio::test]
async fn a_sweep_hardens_the_cache_repositories_only_and_then_has_nothing_to_write() {
    let ecr = Arc::new(registry());
    let first = sweep_with(&ecr, Deadline::none()).await;
    assert_eq!(
        outcomes(&first),
        vec![
            (ALPINE, RepositoryOutcome::Changed),
            (NGINX, RepositoryOutcome::Changed)
        ]
    );
    let first_writes: Vec<String> = writes(&ecr.calls())
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert!(
        first_writes.contains(&format!("ecr:PutLifecyclePolicy {NGINX}")),
        "{first_writes:?}"
    );
    assert!(
        !first_writes.iter().any(|call| call.ends_with(FOREIGN)),
        "nothing outside the cache is written: {first_writes:?}"
    );
    assert!(ecr
        .stored(NGINX)
        .is_some_and(|stored| stored.lifecycle_policy.is_some()));

    let n_calls = ecr.calls().len();
    let second = sweep_with(&ecr, Deadline::none()).await;
    assert_eq!(
        outcomes(&second),
        vec![],
        "compliant repositories are counted, not listed"
    );
    assert_eq!(second.summary.get("repositories_compliant"), Some(&2));
    assert_eq!(writes(&ecr.calls()[n_calls..]), Vec::<&str>::new());
}

#[tokio::test]
async fn a_write_the_registry_refuses_fails_that_repository_alone() {
    let ecr = Arc::new(registry().failing(
        "ecr:PutLifecyclePolicy",
        Some(NGINX),
        "AccessDeniedException",
    ));
    let report = sweep_with(&ecr, Deadline::none()).await;
    assert_eq!(
        outcomes(&report),
        vec![
            (ALPINE, RepositoryOutcome::Changed),
            (NGINX, RepositoryOutcome::Failed)
        ]
    );
    let failed = report
        .findings
        .iter()
        .find(|finding| finding.resource == NGINX)
        .expect("a finding about the refused write");
    assert!(
        format!("{} {}", failed.message, failed.next_steps.join(" "))
            .contains("ecr:PutLifecyclePolicy"),
        "the finding names the permission: {failed:?}"
    );
}

#[tokio::test]
async fn a_sweep_started_inside_the_start_reserve_touches_nothing_and_hands_nothing_on() {
    let ecr = Arc::new(registry());
    let report = sweep_with(
        &ecr,
        Deadline::after(START_RESERVE - Duration::from_secs(1)),
    )
    .await;
    assert!(
        report
            .findings
            .iter()
            .any(|finding| finding.title == "the sweep made no progress before the deadline"),
        "{:?}",
        report.findings
    );
    assert_eq!(
        report.details.continuation, None,
        "a chain that makes no progress stops"
    );
    assert!(
        report.details.cursor.is_some(),
        "the report says where to carry on"
    );
    assert!(
        !ecr.calls()
            .iter()
            .any(|call| call.starts_with("ecr:PutLifecyclePolicy")),
        "{:?}",
        ecr.calls()
    );
}

#[tokio::test]
async fn a_scanning_batch_the_registry_refuses_is_read_one_repository_at_a_time() {
    // Scan on push per repository, the registry configuration left alone: the sweep reads the
    // repositories' scanning in one batch, and here ECR fails that batch as a whole.
    let config = Config::from_toml_str(
        "[hardening]\nregistry_scanning = \"off\"\n[hardening.default]\nscan_on_push = true\n",
        Path::new("."),
        "test",
    )
    .expect("a valid configuration");
    let batch = format!("{ALPINE},{NGINX}");
    let ecr = Arc::new(registry().failing(
        "ecr:BatchGetRepositoryScanningConfiguration",
        Some(&batch),
        "RepositoryNotFoundException",
    ));
    let report = sweep_configured(&ecr, &config, Deadline::none()).await;
    assert_eq!(
        outcomes(&report),
        vec![
            (ALPINE, RepositoryOutcome::Changed),
            (NGINX, RepositoryOutcome::Changed)
        ]
    );
    let mut scanning_reads: Vec<String> = ecr
        .calls()
        .into_iter()
        .filter(|call| call.starts_with("ecr:BatchGetRepositoryScanningConfiguration"))
        .collect();
    // The failed batch first, then per repository (in whatever order the workers ran): the
    // read, and the read-back of the write.
    assert_eq!(
        scanning_reads.first(),
        Some(&format!(
            "ecr:BatchGetRepositoryScanningConfiguration {batch}"
        ))
    );
    scanning_reads[1..].sort();
    assert_eq!(
        scanning_reads[1..],
        [ALPINE, ALPINE, NGINX, NGINX]
            .map(|name| format!("ecr:BatchGetRepositoryScanningConfiguration {name}"))
    );
    assert!(ecr
        .stored(NGINX)
        .is_some_and(|stored| stored.repository.scan_on_push));
}

/// A cache repository its owners tagged `ptc-ops:managed=false`.
const OPTED_OUT: &str = "docker-hub/team/pinned";

/// Writes the fake registry answered that touch the repository `repository` (by name or ARN;
/// not a creation template of the same name).
fn writes_to<'c>(calls: &'c [String], repository: &str) -> Vec<&'c str> {
    writes(calls)
        .into_iter()
        .filter(|call| !call.contains("RepositoryCreationTemplate"))
        .filter(|call| {
            call.ends_with(&format!(" {repository}"))
                || call.ends_with(&format!(":repository/{repository}"))
        })
        .collect()
}

async fn check_opted_out_is_never_written(name: &str, config: &Config) {
    let ecr = Arc::new(registry().with_tagged_repository(
        OPTED_OUT,
        &[("ptc-ops:managed", "false"), ("owner", "team-payments")],
    ));
    let report = sweep_configured(&ecr, config, Deadline::none()).await;
    let calls = ecr.calls();
    assert_eq!(
        writes_to(&calls, OPTED_OUT),
        Vec::<&str>::new(),
        "{name}: {calls:?}"
    );
    assert!(
        outcomes(&report).contains(&(OPTED_OUT, RepositoryOutcome::Skipped)),
        "{name}: {:?}",
        outcomes(&report)
    );
    assert_eq!(
        report.summary.get("repositories_opted_out"),
        Some(&1),
        "{name}"
    );
    let said: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|finding| finding.resource == OPTED_OUT)
        .collect();
    assert_eq!(said.len(), 1, "{name}: one finding says so: {said:?}");
    assert_eq!(said[0].severity, Severity::Info, "{name}");
    // The other cache repositories are still hardened.
    assert!(
        !writes_to(&calls, NGINX).is_empty(),
        "{name}: the others are hardened: {calls:?}"
    );
}

#[tokio::test]
async fn an_opted_out_repository_is_never_written_when_the_profile_reads_tags() {
    let config =
        Config::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/config/ptc-ops.toml"))
            .expect("the shipped configuration is valid");
    check_opted_out_is_never_written("shipped configuration", &config).await;
}

#[tokio::test]
async fn an_opted_out_repository_is_never_written_when_the_profile_sets_no_tags() {
    // Without tags in the profile, tags are read only before a write.
    let config = Config::from_toml_str(
        "[hardening]\nregistry_scanning = \"off\"\ncreation_templates = \"off\"\n[hardening.default]\ntag_mutability = \"IMMUTABLE_WITH_EXCLUSION\"\ntag_mutability_exclusions = [\"latest\"]\n",
        Path::new("."),
        "test",
    )
    .expect("a valid configuration");
    check_opted_out_is_never_written("profile without tags", &config).await;
}

#[tokio::test]
async fn a_compliant_repository_costs_no_tag_read_when_the_profile_sets_no_tags() {
    let config = Config::from_toml_str(
        "[hardening]\nregistry_scanning = \"off\"\ncreation_templates = \"off\"\n[hardening.default]\ntag_mutability = \"IMMUTABLE_WITH_EXCLUSION\"\ntag_mutability_exclusions = [\"latest\"]\n",
        Path::new("."),
        "test",
    )
    .expect("a valid configuration");
    let ecr = Arc::new(registry());
    sweep_configured(&ecr, &config, Deadline::none()).await;
    let n_calls = ecr.calls().len();
    sweep_configured(&ecr, &config, Deadline::none()).await;
    let tag_reads: Vec<String> = ecr.calls()[n_calls..]
        .iter()
        .filter(|call| call.starts_with("ecr:ListTagsForResource"))
        .cloned()
        .collect();
    assert_eq!(tag_reads, Vec::<String>::new());
}

#[tokio::test]
async fn a_repository_named_like_the_prefix_is_an_application_repository() {
    let ecr = Arc::new(registry().with_repository("docker-hub"));
    let report = sweep_with(&ecr, Deadline::none()).await;
    let calls = ecr.calls();
    assert_eq!(
        writes_to(&calls, "docker-hub"),
        Vec::<&str>::new(),
        "{calls:?}"
    );
    assert!(!outcomes(&report)
        .iter()
        .any(|(name, _)| *name == "docker-hub"));
    // A creation event for it, too, is left alone.
    let ports = fakes::ports(&ecr, &Arc::new(FakeSecretStore::default()));
    let config =
        Config::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/config/ptc-ops.toml"))
            .expect("the shipped configuration is valid");
    let context = RunContext::new(&ports, &config);
    let n_calls = ecr.calls().len();
    let named = run(
        &context,
        Request {
            invocation: HardenInvocation::Direct(HardenRequest {
                target: HardenTarget::Repositories(vec!["docker-hub".to_owned()]),
                dry_run: Some(false),
                cursor: None,
            }),
            can_hand_off: false,
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{}", error.full_message()))
    .report;
    assert_eq!(
        outcomes(&named),
        vec![("docker-hub", RepositoryOutcome::Skipped)]
    );
    assert_eq!(writes(&ecr.calls()[n_calls..]), Vec::<&str>::new());
}

/// The sweep respects the flap limit without counting: one state read per drifted repository
/// (none on a compliant sweep), and a setting whose live window already counts
/// `max_restorations` (counted by drift events) is left, said quietly, until the window ends.
#[tokio::test]
async fn the_sweep_respects_the_flap_limit_and_a_compliant_sweep_asks_no_state() {
    use crate::ports::fakes::FakeState;
    use crate::ports::{Registry, RestorationClaim, StateStore};

    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/config");
    let text = std::fs::read_to_string(shipped.join("ptc-ops.toml")).expect("shipped config");
    let config = Config::from_toml_str(
        &format!("{text}\n[hardening.drift]\nmax_restorations = 1\n"),
        &shipped,
        "test.toml",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let ecr = Arc::new(registry());
    let state = Arc::new(FakeState::default());
    let ports = fakes::ports_with_state(&ecr, &Arc::new(FakeSecretStore::default()), &state);
    let sweep = || async {
        let context = RunContext::new(&ports, &config);
        let request = Request {
            invocation: HardenInvocation::Direct(HardenRequest {
                target: HardenTarget::Sweep,
                dry_run: Some(false),
                cursor: None,
            }),
            can_hand_off: false,
        };
        run(&context, request)
            .await
            .unwrap_or_else(|error| panic!("{}", error.full_message()))
            .report
    };
    let changed_by_hand = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    let changed = |report: &HardenReport| report.summary.get("settings_changed").copied();

    let first = sweep().await;
    assert!(changed(&first).unwrap_or(0) > 0);
    assert_eq!(
        state.n_calls(),
        2,
        "one read per drifted repository (two bare repositories), nothing counted"
    );
    let compliant = sweep().await;
    assert_eq!(changed(&compliant).unwrap_or(0), 0);
    assert_eq!(state.n_calls(), 2, "a compliant sweep makes no state call");

    // Drift events restored NGINX's lifecycle policy up to the limit in this window.
    let now = chrono::Utc::now();
    StateStore::count_restoration(
        state.as_ref(),
        &RestorationClaim {
            key: format!("restorations#{NGINX}#lifecycle_policy"),
            now,
            window_ends_at: now + chrono::Duration::minutes(60),
            max_restorations: 1,
        },
    )
    .await
    .expect("counted");
    let n_calls = state.n_calls();
    for repository in [NGINX, ALPINE] {
        Registry::put_lifecycle_policy(ecr.as_ref(), repository, changed_by_hand)
            .await
            .expect("changed by hand");
    }
    let limited = sweep().await;
    assert_eq!(
        state.n_calls() - n_calls,
        2,
        "one read per drifted repository"
    );
    let left = |name: &str| ecr.stored(name).and_then(|stored| stored.lifecycle_policy);
    assert_eq!(
        left(NGINX).as_deref(),
        Some(changed_by_hand),
        "not restored"
    );
    assert_ne!(left(ALPINE).as_deref(), Some(changed_by_hand), "restored");
    let held: Vec<&Finding> = limited
        .findings
        .iter()
        .filter(|finding| finding.resource == NGINX)
        .collect();
    assert_eq!(held.len(), 1, "{held:#?}");
    assert_eq!(
        held[0].severity,
        Severity::Info,
        "the event alerted already"
    );
    assert!(
        held[0].title.contains("not restored (flap limit)"),
        "{}",
        held[0].title
    );
}
