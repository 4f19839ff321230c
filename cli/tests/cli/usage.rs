//! `ptc usage` end to end on the emulator: the tables, `--json`, `--csv`, a prefix that is not
//! managed, and `--prune-unused` as a dry run then with `--yes`.

use std::process::Output;

use crate::support::{stderr, stdout, Aws};

use chrono::Utc;
use ptc_ops_tests::TestEnv;
use serde_json::{json, Value};

fn ptc(env: &TestEnv, config: &str, args: &[&str]) -> Output {
    let workdir = tempfile::tempdir().expect("temporary folder");
    let path = workdir.path().join("ptc-ops.toml");
    std::fs::write(&path, config).expect("config written");
    let path = path.to_str().expect("utf8 path").to_owned();
    let mut all = vec!["--config", path.as_str()];
    all.extend_from_slice(args);
    crate::support::run(workdir.path(), &all, None, Aws::Emulator(env), &[], None)
}

const CONFIG: &str =
    "[hardening]\nprefixes = [\"docker-hub\", \"quay\"]\n\n[usage]\nprice_per_gb_month = 0.5\n";

#[tokio::test]
async fn usage_tables_json_csv_and_pruning() {
    let env = TestEnv::new().await;
    env.seed_images("docker-hub/library/fresh", 2, 1 << 30)
        .await;
    env.seed_images("docker-hub/library/old", 1, 1 << 20).await;
    env.seed_images("quay/prometheus/old", 1, 1 << 20).await;
    env.seed_images("team/app", 1, 1 << 30).await;
    let long_ago = (Utc::now() - chrono::Duration::days(60)).timestamp();
    for repository in ["docker-hub/library/old", "quay/prometheus/old", "team/app"] {
        env.set_image_times(json!({"repository": repository, "image_pushed_at": long_ago}))
            .await;
    }

    let output = ptc(&env, CONFIG, &["usage"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains("UNUSED REPOS (30d)"), "{text}");
    // 2 GiB at $0.50 per GB-month.
    let docker_hub = text
        .lines()
        .find(|line| line.starts_with("docker-hub "))
        .unwrap_or_else(|| panic!("a docker-hub row: {text}"));
    assert!(docker_hub.contains("$1.00"), "{docker_hub}");
    assert!(!text.contains("team/app"), "{text}");

    let output = ptc(&env, CONFIG, &["--json", "usage", "--unused-days", "90"]);
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["total"]["n_repositories"], 3);
    assert_eq!(json["total"]["n_unused_repositories"], 0, "{json}");
    assert_eq!(json["unused_days"], 90);

    let output = ptc(&env, CONFIG, &["usage", "--csv", "--prefix", "quay"]);
    assert_eq!(
        stdout(&output).lines().nth(1),
        Some("quay,1,1,1048576,0,0.0005,1,1,0,0,0,0"),
        "{}",
        stdout(&output)
    );

    // Zero days would make every repository unused, however recently pulled.
    let output = ptc(&env, CONFIG, &["usage", "--prune-unused", "0", "--yes"]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("--prune-unused"),
        "{}",
        stderr(&output)
    );

    let output = ptc(&env, CONFIG, &["usage", "--prefix", "ghcr"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output)
            .contains("`ghcr` is not a managed prefix; the managed prefixes are: docker-hub, quay"),
        "{}",
        stderr(&output)
    );

    let output = ptc(&env, CONFIG, &["usage", "--prune-unused", "30"]);
    let text = stdout(&output);
    assert!(
        text.contains("would delete docker-hub/library/old"),
        "{text}"
    );
    assert!(text.contains("would delete quay/prometheus/old"), "{text}");
    assert!(text.contains("creates the repository again"), "{text}");
    assert!(
        text.contains("Dry run: 2 repositories would be deleted"),
        "{text}"
    );
    assert!(env
        .write_calls()
        .await
        .iter()
        .all(|call| call.operation != "DeleteRepository"));

    let output = ptc(
        &env,
        CONFIG,
        &["usage", "--prune-unused", "30", "--yes", "--prefix", "quay"],
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains("deleted quay/prometheus/old"), "{text}");
    let deleted: Vec<Option<String>> = env
        .write_calls()
        .await
        .into_iter()
        .filter(|call| call.operation == "DeleteRepository")
        .map(|call| call.resource)
        .collect();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(deleted[0]
        .as_deref()
        .is_some_and(|resource| resource.contains("quay/prometheus/old")));
}
