//! The README's main command: the demo runs the four real Lambda binaries through the Runtime
//! API and shows each report, the chat alerts and the hardened repositories.

use std::process::Command;

#[test]
fn the_demo_shows_every_function_at_work() {
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the demo starts");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the demo failed:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for function in [
        "validate-cache-rules",
        "check-credentials",
        "harden-repository",
        "prewarm-images",
    ] {
        assert!(
            text.contains(&format!("report of {function}")),
            "no report of {function}:\n{text}"
        );
    }
    // The wrong ghcr token, the token expiring in 5 days, the hardened defaults, the warmed image.
    for expected in [
        "pull-through cache rule `ghcr` fails validation",
        "`ecr-pullthroughcache/docker-hub` expires in 5 days",
        "IMMUTABLE_WITH_EXCLUSION   true   set",
        "docker-hub/library/nginx:1.27",
        "warmed",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    // Another writer is restored three times, then one critical alert, then left alone.
    let fight = text
        .split("another writer")
        .nth(1)
        .and_then(|rest| rest.split("after hardening").next())
        .unwrap_or_default();
    let restored = fight
        .lines()
        .filter(|line| {
            line.contains("WARNING") && line.contains("k8s/pause") && line.ends_with("was restored")
        })
        .count();
    let stopped = fight
        .lines()
        .filter(|line| line.contains("CRITICAL") && line.contains("keeps being changed"))
        .count();
    assert_eq!((restored, stopped), (3, 1), "the flap limit:\n{fight}");
    // Registry-level events: chat hears of a rotation and of a deleted registry policy at once.
    let chat = |marker: &str| {
        text.lines()
            .find(|line| line.contains("chat, ") && line.contains(marker))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no chat line with {marker:?}:\n{text}"))
    };
    chat("rotation of `ecr-pullthroughcache/ghcr` verified");
    let policy = text
        .split("deletes the registry permissions policy")
        .nth(1)
        .unwrap_or_default();
    assert!(
        policy.contains("[critical]") && policy.contains("`210987654321` through `quay`"),
        "the deleted registry policy names the cluster account:\n{policy}"
    );
    let after = text.split("after hardening").nth(1).unwrap_or_default();
    let untouched = after
        .lines()
        .find(|line| line.contains("team/payments-api"))
        .unwrap_or_default();
    assert!(
        untouched.contains("MUTABLE ") && untouched.ends_with('-'),
        "a repository outside the managed prefixes changed: {untouched}"
    );
}
