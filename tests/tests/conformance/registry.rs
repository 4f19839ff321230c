//! Registry-level settings around the cache: the registry permissions policy, registry scanning
//! and pull-time update exclusions (ECR user guide: registry-permissions.html,
//! image-scanning-filters.html, pull-time-update-exclusions.html; botocore ecr model).
//!
//! These are singletons of the registry. On a real account the suite only reads them, with one
//! exception: the registry policy round trip runs when the registry has no policy at all, with a
//! statement scoped to the suite's own repositories, and deletes it again.

use aws_sdk_ecr::types::{
    RegistryScanningRule, ScanFrequency, ScanType, ScanningRepositoryFilter,
    ScanningRepositoryFilterType,
};
use serde_json::{json, Value};

use crate::target::{refusal, Target};

fn cache_grant(target: &Target) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PtcConformanceFirstPull",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", target.account_id)},
            "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
            "Resource": format!(
                "arn:aws:ecr:{}:{}:repository/{}/*",
                target.region,
                target.account_id,
                target.name("")
            ),
        }]
    })
}

#[tokio::test]
async fn registry_policy_round_trip_grants_the_cache_actions() {
    let target = Target::new().await;
    let existing = target.ecr.get_registry_policy().send().await;
    match existing {
        Ok(output) if output.policy_text().is_some() => {
            assert!(
                target.real(),
                "a new emulator account has no registry policy"
            );
            target.record(
                "registry policy round trip",
                "skipped: the registry has a policy of its own, left untouched",
            );
            return;
        }
        Ok(_) => {}
        Err(error) => {
            let refused = refusal(error);
            assert_eq!(refused.code, "RegistryPolicyNotFoundException", "{refused}");
        }
    }
    let policy = cache_grant(&target);
    target
        .run_then_clean(
            async {
                // ECR accepts `ecr:BatchImportUpstreamImage` in a registry policy (policy scope
                // V2, the default: every ECR action); moto 5.2.5 refuses it.
                let put = target
                    .ecr
                    .put_registry_policy()
                    .policy_text(policy.to_string())
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("put: {}", refusal(error)));
                assert_eq!(put.registry_id(), Some(target.account_id.as_str()));
                let read = target
                    .ecr
                    .get_registry_policy()
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("get: {}", refusal(error)));
                let text = read.policy_text().unwrap_or_default();
                assert_eq!(
                    serde_json::from_str::<Value>(text).ok(),
                    Some(policy.clone()),
                    "{text}"
                );
                target
                    .ecr
                    .delete_registry_policy()
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("delete: {}", refusal(error)));
                let gone = target
                    .ecr
                    .get_registry_policy()
                    .send()
                    .await
                    .map_err(refusal)
                    .expect_err("deleted");
                assert_eq!(gone.code, "RegistryPolicyNotFoundException", "{gone}");
            },
            async {
                // Delete only what this test wrote: a policy that is still ours.
                if let Ok(output) = target.ecr.get_registry_policy().send().await {
                    let ours = output
                        .policy_text()
                        .and_then(|text| serde_json::from_str::<Value>(text).ok())
                        == Some(policy.clone());
                    if ours {
                        let _ = target.ecr.delete_registry_policy().send().await;
                    }
                }
            },
        )
        .await;
}

#[tokio::test]
async fn effective_scanning_configuration_per_repository() {
    let target = Target::new().await;
    let repository = target.name("scan");
    target.create_repository(&repository).await;
    target
        .run_then_clean(
            async {
                let registry = target
                    .ecr
                    .get_registry_scanning_configuration()
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("registry scanning: {}", refusal(error)));
                let scan_type = registry
                    .scanning_configuration()
                    .and_then(|configuration| configuration.scan_type())
                    .map(|scan_type| scan_type.as_str().to_owned());
                if target.real() {
                    target.record("registry scan type", scan_type.as_deref().unwrap_or("none"));
                } else {
                    let filter = ScanningRepositoryFilter::builder()
                        .filter(format!("{repository}*"))
                        .filter_type(ScanningRepositoryFilterType::Wildcard)
                        .build()
                        .expect("filter");
                    target
                        .ecr
                        .put_registry_scanning_configuration()
                        .scan_type(ScanType::Basic)
                        .rules(
                            RegistryScanningRule::builder()
                                .scan_frequency(ScanFrequency::ScanOnPush)
                                .repository_filters(filter)
                                .build()
                                .expect("rule"),
                        )
                        .send()
                        .await
                        .unwrap_or_else(|error| panic!("put scanning: {}", refusal(error)));
                    // A filter ECR refuses: upper case is outside its pattern.
                    let bad = ScanningRepositoryFilter::builder()
                        .filter("Team/*")
                        .filter_type(ScanningRepositoryFilterType::Wildcard)
                        .build()
                        .expect("filter");
                    let refused = target
                        .ecr
                        .put_registry_scanning_configuration()
                        .scan_type(ScanType::Basic)
                        .rules(
                            RegistryScanningRule::builder()
                                .scan_frequency(ScanFrequency::ScanOnPush)
                                .repository_filters(bad)
                                .build()
                                .expect("rule"),
                        )
                        .send()
                        .await
                        .map_err(refusal)
                        .expect_err("upper case filter");
                    assert!(
                        ["ValidationException", "InvalidParameterException"]
                            .contains(&refused.code.as_str()),
                        "{refused}"
                    );
                }
                let effective = target
                    .ecr
                    .batch_get_repository_scanning_configuration()
                    .repository_names(&repository)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("effective scanning: {}", refusal(error)));
                let configuration =
                    effective
                        .scanning_configurations()
                        .first()
                        .unwrap_or_else(|| {
                            panic!("no configuration for `{repository}`: {effective:?}")
                        });
                assert_eq!(configuration.repository_name(), Some(repository.as_str()));
                let frequency = configuration
                    .scan_frequency()
                    .map(|frequency| frequency.as_str().to_owned())
                    .unwrap_or_default();
                if target.real() {
                    target.record(
                        "effective scanning of a new repository",
                        &format!(
                            "scanOnPush {}, frequency {frequency}, filters {}",
                            configuration.scan_on_push(),
                            configuration.applied_scan_filters().len()
                        ),
                    );
                } else {
                    assert!(configuration.scan_on_push());
                    assert_eq!(frequency, "SCAN_ON_PUSH");
                    assert_eq!(configuration.applied_scan_filters().len(), 1);
                }
            },
            target.delete_repository(&repository),
        )
        .await;
}

#[tokio::test]
async fn pull_time_update_exclusions_register_list_deregister() {
    let target = Target::new().await;
    let principal = format!(
        "arn:aws:iam::{}:role/{}",
        target.account_id,
        target.name("warmer")
    );
    target
        .run_then_clean(
            async {
                let registered = target
                    .ecr
                    .register_pull_time_update_exclusion()
                    .principal_arn(&principal)
                    .send()
                    .await
                    .map_err(refusal);
                if let Err(refused) = registered {
                    // Whether ECR checks that the role exists is not documented.
                    assert!(
                        target.real(),
                        "the emulator registers any role ARN: {refused}"
                    );
                    target.record(
                        "register an exclusion for a role that does not exist",
                        &format!("refused ({refused})"),
                    );
                    return;
                }
                let listed = target
                    .ecr
                    .list_pull_time_update_exclusions()
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("list: {}", refusal(error)));
                assert!(
                    listed.pull_time_update_exclusions().contains(&principal),
                    "{listed:?}"
                );
                let again = target
                    .ecr
                    .register_pull_time_update_exclusion()
                    .principal_arn(&principal)
                    .send()
                    .await
                    .map_err(refusal)
                    .expect_err("registered twice");
                assert_eq!(again.code, "ExclusionAlreadyExistsException", "{again}");
                target
                    .ecr
                    .deregister_pull_time_update_exclusion()
                    .principal_arn(&principal)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("deregister: {}", refusal(error)));
                let gone = target
                    .ecr
                    .deregister_pull_time_update_exclusion()
                    .principal_arn(&principal)
                    .send()
                    .await
                    .map_err(refusal)
                    .expect_err("deregistered twice");
                assert_eq!(gone.code, "ExclusionNotFoundException", "{gone}");
            },
            async {
                let _ = target
                    .ecr
                    .deregister_pull_time_update_exclusion()
                    .principal_arn(&principal)
                    .send()
                    .await;
            },
        )
        .await;
}
