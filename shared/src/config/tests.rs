use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::*;
use crate::domain::{CountType, Severity, TagStatus};
use crate::test_cases::named_cases;

/// The shipped example folder: its policy files double as fixtures.
fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/config")
}

fn parse_shipped_dir(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, &shipped_dir(), "test.toml")
}

fn tags(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn lifecycle_file(profile: &Profile) -> Option<&str> {
    match &profile.lifecycle_policy.as_ref()?.origin {
        PolicyOrigin::File { written, .. } => Some(written),
        PolicyOrigin::Inline => None,
    }
}

const DESIGN_EXAMPLE: &str = r#"
[alerts]
topic_arn = "arn:aws:sns:eu-west-1:111111111111:ptc-ops-alerts"
min_severity = "warning"

[hardening]
prefixes = ["docker-hub", "ghcr", "k8s"]
concurrency = 8
dry_run = false

[hardening.default]
scan_on_push = true
tag_mutability = "MUTABLE"
tag_mutability_exclusions = []
lifecycle_policy = "lifecycle/default.json"
repository_policy = "policies/org-pull.json"
tags = { managed-by = "ecr-ptc-ops", cost-center = "platform" }
encryption = "AES256"
allow_public = false

[hardening.profiles."docker-hub"]
lifecycle_policy = "lifecycle/docker-hub.json"

[rules]
skip_prefixes = []

[credentials]
expiry_tag = "ptc-ops:expires-at"
warn_days = 30
critical_days = 7
max_age_days = 365
discover_expiry = false
write_back = false
github_api_url = "https://api.github.com"
gitlab_url = "https://gitlab.com"
dockerhub_api_url = "https://hub.docker.com"

[prewarm]
concurrency = 4
images = ["nginx:1.27", "ghcr.io/fluxcd/source-controller:v1.4.1", "registry.k8s.io/pause:3.10"]
"#;

/// A valid file must load, and `expect` asserts what it resolved to.
fn check_good(name: &str, text: &str, expect: fn(&Config)) {
    match parse_shipped_dir(text) {
        Ok(config) => expect(&config),
        Err(error) => panic!("{name}: {error}"),
    }
}

named_cases! {
    /// A valid file loads; each case asserts what it resolved to.
    mod good_files_resolve_to_the_expected_values => check_good;
    minimal_empty_file("", |config| {
        assert_eq!(config.alerts.topic_arn, None);
        assert_eq!(config.alerts.min_severity, Severity::Warning);
        assert_eq!(config.alerts.repeat_after_minutes, 60);
        assert_eq!(
            (config.hardening.drift.max_restorations, config.hardening.drift.window_minutes),
            (3, 60)
        );
        assert!(config.hardening.drift.ignore_callers.is_empty());
        let hardening = &config.hardening;
        assert_eq!(hardening.prefixes, None);
        assert_eq!((hardening.concurrency, hardening.dry_run), (8, false));
        assert!(hardening.profiles.is_empty());
        let nothing_managed = Profile {
            scan_on_push: None,
            tag_mutability: None,
            lifecycle_policy: None,
            repository_policy: None,
            tags: None,
            encryption: None,
            kms_key: None,
            allow_public: false,
            scan_alert_severity: ScanAlertSeverity::Critical,
        };
        assert_eq!(hardening.default_profile, nothing_managed);
        assert!(config.rules.skip_prefixes.is_empty());
        let credentials = &config.credentials;
        assert_eq!(credentials.expiry_tag, "ptc-ops:expires-at");
        assert_eq!(
            (
                credentials.warn_days,
                credentials.critical_days,
                credentials.max_age_days
            ),
            (30, 7, 365)
        );
        assert!(!credentials.discover_expiry && !credentials.write_back);
        assert_eq!(
            credentials.github_api_url.as_str(),
            "https://api.github.com"
        );
        assert_eq!(credentials.gitlab_url.as_str(), "https://gitlab.com");
        assert_eq!(
            credentials.dockerhub_api_url.as_str(),
            "https://hub.docker.com"
        );
        assert_eq!(config.prewarm.concurrency, 4);
        assert!(config.prewarm.images.is_empty());
    }),
    design_example(DESIGN_EXAMPLE, |config| {
        let topic = config.alerts.topic_arn.as_ref().map(SnsTopicArn::as_str);
        assert_eq!(
            topic,
            Some("arn:aws:sns:eu-west-1:111111111111:ptc-ops-alerts")
        );
        assert_eq!(
            config.alerts.topic_arn.as_ref().map(SnsTopicArn::region),
            Some("eu-west-1")
        );
        assert_eq!(
            config.hardening.prefixes.as_deref(),
            Some(&["docker-hub".to_owned(), "ghcr".to_owned(), "k8s".to_owned()][..])
        );
        let default = &config.hardening.default_profile;
        assert_eq!(default.scan_on_push, Some(true));
        assert_eq!(
            default.tag_mutability,
            Some(TagMutabilitySetting {
                mutability: TagMutability::Mutable,
                exclusion_filters: vec![]
            })
        );
        assert_eq!(lifecycle_file(default), Some("lifecycle/default.json"));
        assert_eq!(
            default.tags,
            tags(&[("cost-center", "platform"), ("managed-by", "ecr-ptc-ops")])
        );
        assert_eq!(default.encryption, Some(EncryptionType::Aes256));
        assert!(!default.allow_public);
        let org_pull = default
            .repository_policy
            .as_ref()
            .map(|p| p.policy.public_statements());
        assert_eq!(org_pull, Some(vec![]));
        // The docker-hub profile changes only its lifecycle policy.
        let docker_hub = &config.hardening.profiles["docker-hub"];
        assert_eq!(
            lifecycle_file(docker_hub),
            Some("lifecycle/docker-hub.json")
        );
        let inherited = Profile {
            lifecycle_policy: docker_hub.lifecycle_policy.clone(),
            ..default.clone()
        };
        assert_eq!(docker_hub, &inherited);
        assert_eq!(config.prewarm.images.len(), 3);
    }),
    inline_json_policies(
        r#"
        [hardening.default]
        lifecycle_policy = '{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":20},"action":{"type":"expire"}}]}'
        repository_policy = """
          {"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                         "Action": "ecr:BatchGetImage"}}
        """
        "#,
        |config| {
            let default = &config.hardening.default_profile;
            let lifecycle = default
                .lifecycle_policy
                .as_ref()
                .map(|p| (&p.origin, p.policy.rules().len()));
            assert_eq!(lifecycle, Some((&PolicyOrigin::Inline, 1)));
            let rule = default
                .lifecycle_policy
                .as_ref()
                .map(|p| p.policy.rules()[0].clone());
            assert_eq!(
                rule.map(|r| (r.tag_status, r.count_type, r.count_number)),
                Some((TagStatus::Any, CountType::ImageCountMoreThan, 20))
            );
            let repository = default.repository_policy.as_ref().map(|p| &p.origin);
            assert_eq!(repository, Some(&PolicyOrigin::Inline));
        },
    ),
    profiles_inherit_unset_keys(
        r#"
        [hardening]
        prefixes = ["docker-hub", "ghcr", "k8s"]
        [hardening.default]
        scan_on_push = true
        tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
        tag_mutability_exclusions = ["latest"]
        tags = { team = "platform" }
        encryption = "KMS"
        [hardening.profiles.ghcr]
        tag_mutability = "MUTABLE"           # brings its own (empty) filters
        scan_on_push = false
        [hardening.profiles.k8s]
        tag_mutability_exclusions = ["latest", "stable-*"]   # keeps the inherited mode
        [hardening.profiles."docker-hub/library"]
        tags = { team = "images" }            # replaces the default's tags
        encryption = "KMS_DSSE"
        "#,
        |config| {
            let profiles = &config.hardening.profiles;
            let ghcr = &profiles["ghcr"];
            assert_eq!(ghcr.scan_on_push, Some(false));
            assert_eq!(
                ghcr.tag_mutability,
                Some(TagMutabilitySetting {
                    mutability: TagMutability::Mutable,
                    exclusion_filters: vec![]
                })
            );
            assert_eq!(ghcr.tags, tags(&[("team", "platform")]));
            assert_eq!(ghcr.encryption, Some(EncryptionType::Kms));
            let k8s = &profiles["k8s"];
            assert_eq!(
                k8s.tag_mutability,
                Some(TagMutabilitySetting {
                    mutability: TagMutability::ImmutableWithExclusion,
                    exclusion_filters: vec!["latest".into(), "stable-*".into()]
                })
            );
            assert_eq!(k8s.scan_on_push, Some(true));
            let library = &profiles["docker-hub/library"];
            assert_eq!(library.tags, tags(&[("team", "images")]));
            assert_eq!(library.encryption, Some(EncryptionType::KmsDsse));
            assert_eq!(
                library.tag_mutability,
                config.hardening.default_profile.tag_mutability
            );
        },
    ),
    public_policy_allowed_explicitly(
        r#"
        [hardening.default]
        repository_policy = '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}'
        allow_public = true
        [hardening.profiles.ghcr]
        scan_on_push = true
        "#,
        |config| {
            let ghcr = &config.hardening.profiles["ghcr"];
            assert!(ghcr.allow_public);
            assert_eq!(
                ghcr.repository_policy
                    .as_ref()
                    .map(|p| p.policy.public_statements().len()),
                Some(1)
            );
        },
    ),
    credentials_alerts_and_prewarm_variants(
        r#"
        [alerts]
        topic_arn = "arn:aws-cn:sns:cn-north-1:123456789012:alerts.fifo"
        min_severity = "critical"
        [credentials]
        discover_expiry = true
        write_back = true
        critical_days = 30
        github_api_url = "https://ghe.example.com/api/v3/"
        gitlab_url = "https://gitlab.internal:8443//"
        dockerhub_api_url = "http://127.0.0.1:5000/hub/"
        [rules]
        skip_prefixes = ["ROOT", "ecr-public"]
        [prewarm]
        concurrency = 64
        "#,
        |config| {
            assert_eq!(config.alerts.min_severity, Severity::Critical);
            assert_eq!(
                config.alerts.topic_arn.as_ref().map(SnsTopicArn::region),
                Some("cn-north-1")
            );
            let credentials = &config.credentials;
            assert!(credentials.discover_expiry && credentials.write_back);
            assert_eq!((credentials.warn_days, credentials.critical_days), (30, 30));
            assert_eq!(
                credentials.github_api_url.as_str(),
                "https://ghe.example.com/api/v3"
            );
            assert_eq!(
                credentials.gitlab_url.as_str(),
                "https://gitlab.internal:8443"
            );
            assert_eq!(
                credentials.dockerhub_api_url.as_str(),
                "http://127.0.0.1:5000/hub"
            );
            assert_eq!(config.rules.skip_prefixes, ["ROOT", "ecr-public"]);
            assert_eq!(config.prewarm.concurrency, 64);
        },
    ),
}

/// Writes the policy files the bad-file table points to; returns the folder.
fn bad_fixtures() -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}"));
    let lifecycle = folder.path().join("lifecycle");
    std::fs::create_dir(&lifecycle).unwrap_or_else(|error| panic!("mkdir: {error}"));
    let files = [
        ("broken.json", r#"{"rules": ["#),
        (
            "bad-unit.json",
            r#"{"rules":[
                {"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3},"action":{"type":"expire"}},
                {"rulePriority":2,"selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"hours","countNumber":3},"action":{"type":"expire"}}
            ]}"#,
        ),
    ];
    for (name, text) in files {
        std::fs::write(lifecycle.join(name), text)
            .unwrap_or_else(|error| panic!("write {name}: {error}"));
    }
    folder
}

fn problems_of(text: &str, base_dir: &Path) -> Vec<ConfigProblem> {
    match Config::from_toml_str(text, base_dir, "bad.toml") {
        Ok(config) => panic!("accepted: {config:#?}"),
        Err(error) => error.problems().to_vec(),
    }
}

/// A wrong file must be refused with exactly these key paths (in any order).
fn check_bad(name: &str, text: &str, base_dir: &Path, expected_paths: &[&str]) {
    let problems = match Config::from_toml_str(text, base_dir, "bad.toml") {
        Ok(_) => panic!("{name}: accepted, expected problems at {expected_paths:?}"),
        Err(error) => error.problems().to_vec(),
    };
    let mut paths: Vec<&str> = problems.iter().map(ConfigProblem::key_path).collect();
    paths.sort_unstable();
    let mut expected = expected_paths.to_vec();
    expected.sort_unstable();
    assert_eq!(paths, expected, "{name}: {problems:#?}");
    for problem in &problems {
        // A policy problem starts with its JSON path (`Statement[0].Effect: …`), spelled as in the JSON.
        let message = problem.message();
        let text = message
            .split_once(": ")
            .filter(|(head, _)| !head.contains(' '))
            .map_or(message, |(_, rest)| rest);
        let starts_lowercase = !text.starts_with(char::is_uppercase);
        assert!(starts_lowercase, "{name}: message not lowercase: {problem}");
    }
}

/// A TOML value holding a repository policy that makes the repository public.
const PUBLIC_POLICY_TOML: &str = r#"'{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"ecr:BatchGetImage"}]}'"#;

/// Fifty-one `key = "v"` pairs: one tag more than ECR allows.
fn fifty_one_tags() -> String {
    (0..51)
        .map(|i| format!("t{i} = \"v\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// [`check_bad`] against the policy files of [`bad_fixtures`].
fn check_bad_file(name: &str, text: String, expected_paths: Vec<&str>) {
    let fixtures = bad_fixtures();
    check_bad(name, &text, fixtures.path(), &expected_paths);
}

named_cases! {
    /// A wrong file is refused with exactly these key paths (in any order).
    mod bad_files_report_every_key_path => check_bad_file;
    toml_syntax_error("[alerts\nmin_severity = 1".into(), vec![""]),
    unknown_section("[alert]\nmin_severity = \"info\"".into(), vec!["alert"]),
    unknown_key("[hardening]\nconcurency = 8".into(), vec!["hardening.concurency"]),
    section_not_a_table("hardening = 3".into(), vec!["hardening"]),
    integer_as_a_word("[hardening]\nconcurrency = \"eight\"".into(), vec!["hardening.concurrency"]),
    integers_out_of_range(
        "[hardening]\nconcurrency = 0\n[prewarm]\nconcurrency = 65".into(),
        vec!["hardening.concurrency", "prewarm.concurrency"],
    ),
    repeat_window_longer_than_a_week(
        "[alerts]\nrepeat_after_minutes = 10081".into(),
        vec!["alerts.repeat_after_minutes"],
    ),
    flap_limit_out_of_range(
        "[hardening.drift]\nmax_restorations = 0\nwindow_minutes = 10081".into(),
        vec!["hardening.drift.max_restorations", "hardening.drift.window_minutes"],
    ),
    ignored_callers_must_be_roles_or_users(
        "[hardening.drift]\nignore_callers = [\"arn:aws:sts::123456789012:assumed-role/terraform/ci\", \"123456789012\", \"arn:aws:iam::123456789012:role/*\"]".into(),
        vec![
            "hardening.drift.ignore_callers[0]",
            "hardening.drift.ignore_callers[1]",
            "hardening.drift.ignore_callers[2]",
        ],
    ),
    unknown_drift_key(
        "[hardening.drift]\nmax_restorationz = 3".into(),
        vec!["hardening.drift.max_restorationz"],
    ),
    repeat_window_negative(
        "[alerts]\nrepeat_after_minutes = -1".into(),
        vec!["alerts.repeat_after_minutes"],
    ),
    bool_as_a_word("[hardening]\ndry_run = \"yes\"".into(), vec!["hardening.dry_run"]),
    bad_severity("[alerts]\nmin_severity = \"error\"".into(), vec!["alerts.min_severity"]),
    bad_topic_arn(
        "[alerts]\ntopic_arn = \"arn:aws:sns:eu-west-1:1234:alerts\"".into(),
        vec!["alerts.topic_arn"],
    ),
    no_prefixes("[hardening]\nprefixes = []".into(), vec!["hardening.prefixes"]),
    invalid_prefix(
        "[hardening]\nprefixes = [\"ghcr\", \"Docker_Hub\", \"k8s/\"]".into(),
        vec!["hardening.prefixes[1]", "hardening.prefixes[2]"],
    ),
    duplicate_prefix(
        "[hardening]\nprefixes = [\"ghcr\", \"k8s\", \"ghcr\"]".into(),
        vec!["hardening.prefixes[2]"],
    ),
    bad_tag_mutability(
        "[hardening.default]\ntag_mutability = \"mutable\"".into(),
        vec!["hardening.default.tag_mutability"],
    ),
    exclusion_mode_without_filters(
        "[hardening.default]\ntag_mutability = \"IMMUTABLE_WITH_EXCLUSION\"".into(),
        vec!["hardening.default.tag_mutability_exclusions"],
    ),
    filters_without_exclusion_mode(
        "[hardening.default]\ntag_mutability = \"MUTABLE\"\ntag_mutability_exclusions = [\"latest\"]".into(),
        vec!["hardening.default.tag_mutability_exclusions"],
    ),
    filters_without_any_mode(
        "[hardening.default]\ntag_mutability_exclusions = [\"latest\"]".into(),
        vec!["hardening.default.tag_mutability_exclusions"],
    ),
    six_filters(
        "[hardening.default]\ntag_mutability = \"MUTABLE_WITH_EXCLUSION\"\ntag_mutability_exclusions = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]".into(),
        vec!["hardening.default.tag_mutability_exclusions"],
    ),
    bad_filter_characters(
        "[hardening.default]\ntag_mutability = \"MUTABLE_WITH_EXCLUSION\"\ntag_mutability_exclusions = [\"v1/2\", \"ok-*\"]".into(),
        vec!["hardening.default.tag_mutability_exclusions[0]"],
    ),
    profile_filters_under_an_inherited_mode_that_takes_none(
        "[hardening.default]\ntag_mutability = \"MUTABLE\"\n[hardening.profiles.ghcr]\ntag_mutability_exclusions = [\"latest\"]".into(),
        vec!["hardening.profiles.\"ghcr\".tag_mutability_exclusions"],
    ),
    missing_lifecycle_file(
        "[hardening.default]\nlifecycle_policy = \"lifecycle/missing.json\"".into(),
        vec!["hardening.default.lifecycle_policy"],
    ),
    invalid_json_file(
        "[hardening.default]\nlifecycle_policy = \"lifecycle/broken.json\"".into(),
        vec!["hardening.default.lifecycle_policy"],
    ),
    invalid_inline_json(
        "[hardening.default]\nlifecycle_policy = '{\"rules\": [}'".into(),
        vec!["hardening.default.lifecycle_policy"],
    ),
    lifecycle_rule_violation_in_a_profile(
        "[hardening.profiles.\"docker-hub\"]\nlifecycle_policy = \"lifecycle/bad-unit.json\"".into(),
        vec!["hardening.profiles.\"docker-hub\".lifecycle_policy"],
    ),
    empty_policy_reference(
        "[hardening.default]\nrepository_policy = \"\"".into(),
        vec!["hardening.default.repository_policy"],
    ),
    repository_policy_without_statement(
        "[hardening.default]\nrepository_policy = '{\"Version\": \"2012-10-17\"}'".into(),
        vec!["hardening.default.repository_policy"],
    ),
    public_policy_refused(
        format!("[hardening.default]\nrepository_policy = {PUBLIC_POLICY_TOML}"),
        vec!["hardening.default.repository_policy"],
    ),
    profile_turns_allow_public_off_under_an_inherited_public_policy(
        format!(
            "[hardening.default]\nrepository_policy = {PUBLIC_POLICY_TOML}\nallow_public = true\n[hardening.profiles.ghcr]\nallow_public = false"
        ),
        vec!["hardening.profiles.\"ghcr\".allow_public"],
    ),
    bad_tags(
        format!(
            "[hardening.default]\ntags = {{ \"aws:owner\" = \"me\", long = \"{}\", count = 3 }}",
            "x".repeat(257)
        ),
        vec![
            "hardening.default.tags.\"aws:owner\"",
            "hardening.default.tags.\"count\"",
            "hardening.default.tags.\"long\"",
        ],
    ),
    too_many_tags(
        format!("[hardening.default]\ntags = {{ {} }}", fifty_one_tags()),
        vec!["hardening.default.tags"],
    ),
    bad_encryption("[hardening.default]\nencryption = \"KMS-DSSE\"".into(), vec!["hardening.default.encryption"]),
    bad_profile_name(
        "[hardening.profiles.\"Docker_Hub\"]\nscan_on_push = true".into(),
        vec!["hardening.profiles.\"Docker_Hub\""],
    ),
    profile_outside_the_managed_prefixes(
        "[hardening]\nprefixes = [\"docker-hub\"]\n[hardening.profiles.\"docker-hubby\"]\nscan_on_push = true".into(),
        vec!["hardening.profiles.\"docker-hubby\""],
    ),
    profile_not_a_table("[hardening.profiles]\nghcr = 3".into(), vec!["hardening.profiles.\"ghcr\""]),
    bad_default_and_a_profile_with_an_unknown_key(
        "[hardening.default]\nscan_on_push = 1\n[hardening.profiles.ghcr]\nscan_on_pull = true".into(),
        vec!["hardening.default.scan_on_push", "hardening.profiles.\"ghcr\".scan_on_pull"],
    ),
    critical_after_warn("[credentials]\ncritical_days = 40".into(), vec!["credentials.critical_days"]),
    no_spurious_cross_check_on_an_invalid_value(
        "[credentials]\nwarn_days = \"x\"\ncritical_days = 40".into(),
        vec!["credentials.warn_days"],
    ),
    write_back_without_discovery("[credentials]\nwrite_back = true".into(), vec!["credentials.write_back"]),
    bad_expiry_tag_and_url(
        "[credentials]\nexpiry_tag = \"aws:expires\"\ngitlab_url = \"ftp://gitlab.com\"\ngithub_api_url = \"https://\"".into(),
        vec!["credentials.expiry_tag", "credentials.github_api_url", "credentials.gitlab_url"],
    ),
    url_with_a_password_before_another_host(
        "[credentials]\ngithub_api_url = \"http://localhost:x@other.host/\"".into(),
        vec!["credentials.github_api_url"],
    ),
    plain_http_to_public_hosts(
        "[credentials]\ngitlab_url = \"http://gitlab.internal:8080\"\ndockerhub_api_url = \"http://localhost.evil.com\"".into(),
        vec!["credentials.dockerhub_api_url", "credentials.gitlab_url"],
    ),
    url_not_a_string("[credentials]\ndockerhub_api_url = 443".into(), vec!["credentials.dockerhub_api_url"]),
    empty_image("[prewarm]\nimages = [\"nginx:1.27\", \"\"]".into(), vec!["prewarm.images[1]"]),
    skip_prefixes_not_a_list("[rules]\nskip_prefixes = \"ghcr\"".into(), vec!["rules.skip_prefixes"]),
}

#[test]
fn one_file_with_many_problems_reports_them_all() {
    let fixtures = bad_fixtures();
    let text = r#"
        [alerts]
        min_severity = "loud"
        colour = "red"

        [hardening]
        concurrency = "eight"

        [hardening.default]
        tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
        lifecycle_policy = "lifecycle/bad-unit.json"

        [credentials]
        warn_days = 5
        critical_days = 7

        [prewarm]
        images = [42]
    "#;
    let rendered: Vec<String> = problems_of(text, fixtures.path())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        rendered,
        [
            "alerts.min_severity: expected one of `info`, `warning`, `critical`, found \"loud\"",
            "alerts.colour: unknown key, expected one of `topic_arn`, `min_severity`, `repeat_after_minutes`",
            "hardening.concurrency: expected an integer from 1 to 64, found \"eight\"",
            "hardening.default.lifecycle_policy (lifecycle/bad-unit.json): rules[1].selection.countUnit: expected `days`, found \"hours\"",
            "hardening.default.tag_mutability_exclusions: expected 1 to 5 wildcard filters with `tag_mutability` `IMMUTABLE_WITH_EXCLUSION`, found 0",
            "credentials.critical_days: expected at most `warn_days` (5), found 7",
            "prewarm.images[0]: expected a string, found 42",
        ],
        "{rendered:#?}"
    );
}

#[test]
fn error_display_lists_every_problem() {
    let error =
        parse_shipped_dir("[hardening]\nconcurrency = 100\n[credentials]\nwrite_back = true\n")
            .err()
            .map(|error| error.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "invalid configuration `test.toml`, 2 problems:\n  \
             - hardening.concurrency: expected an integer from 1 to 64, found 100\n  \
             - credentials.write_back: `write_back = true` needs `discover_expiry = true` (only a discovered expiry is written back)"
        )
    );
}

/// The profile `profile_for` picks for `repository_name`: the one of prefix `expected`, or the
/// default one when `None`.
fn check_profile_for(name: &str, repository_name: &str, expected: Option<&str>) {
    let config = parse_shipped_dir(
        r#"
        [hardening.default]
        scan_on_push = false
        [hardening.profiles."docker-hub"]
        scan_on_push = true
        [hardening.profiles."docker-hub/library"]
        scan_on_push = true
        [hardening.profiles.ghcr]
        scan_on_push = true
        "#,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let (prefix, profile) = config.hardening.profile_for(repository_name);
    assert_eq!(prefix, expected, "{name}: {repository_name}");
    let expected_profile = match expected {
        Some(prefix) => &config.hardening.profiles[prefix],
        None => &config.hardening.default_profile,
    };
    assert_eq!(profile, expected_profile, "{name}: {repository_name}");
}

named_cases! {
    /// `profile_for` picks the profile of the longest matching prefix, else the default.
    mod profile_for_picks_the_longest_matching_prefix => check_profile_for;
    docker_hub_library_nginx("docker-hub/library/nginx", Some("docker-hub/library")),
    docker_hub_library("docker-hub/library", Some("docker-hub/library")),
    docker_hub_bitnami_redis("docker-hub/bitnami/redis", Some("docker-hub")),
    docker_hub("docker-hub", Some("docker-hub")),
    docker_hubby_x("docker-hubby/x", None),
    docker_hub_mirror_library_nginx("docker-hub-mirror/library/nginx", None),
    ghcr_fluxcd_source_controller("ghcr/fluxcd/source-controller", Some("ghcr")),
    k8s_pause("k8s/pause", None),
    empty_name("", None),
}

#[test]
fn environment_selects_the_file_and_overrides_the_topic() {
    let shipped = shipped_dir().join("ptc-ops.toml");
    let topic = "arn:aws:sns:us-east-1:222222222222:from-sam";
    let check = |config_path: Option<&OsStr>,
                 topic_arn: Option<&str>,
                 expected: Result<Option<&str>, &[&str]>| {
        let outcome = Config::load_from_env_values(config_path, topic_arn.map(OsStr::new));
        match (outcome, expected) {
            (Ok(config), Ok(expected_topic)) => {
                assert_eq!(
                    config.alerts.topic_arn.as_ref().map(SnsTopicArn::as_str),
                    expected_topic
                );
            }
            (Err(error), Err(expected_paths)) => {
                let paths: Vec<&str> = error
                    .problems()
                    .iter()
                    .map(ConfigProblem::key_path)
                    .collect();
                assert_eq!(paths, expected_paths, "{error}");
            }
            (outcome, _) => panic!("unexpected {outcome:?} for {config_path:?}, {topic_arn:?}"),
        }
    };
    check(Some(shipped.as_os_str()), None, Ok(None));
    check(Some(shipped.as_os_str()), Some(topic), Ok(Some(topic)));
    check(Some(shipped.as_os_str()), Some(""), Ok(None));
    check(
        Some(shipped.as_os_str()),
        Some("not-an-arn"),
        Err(&["alerts.topic_arn"]),
    );

    let missing = Config::load_from_env_values(Some(OsStr::new("/nonexistent/ptc-ops.toml")), None);
    assert!(
        matches!(&missing, Err(ConfigError::Unreadable { path, .. }) if path == Path::new("/nonexistent/ptc-ops.toml")),
        "{missing:?}"
    );
    // Unset and empty both mean the layer's default path (absent on a development machine).
    for unset in [None, Some(OsStr::new(""))] {
        let default = Config::load_from_env_values(unset, None);
        let expected_path = Path::new(crate::env::DEFAULT_CONFIG_PATH);
        assert!(
            matches!(&default, Err(ConfigError::Unreadable { path, .. }) if path == expected_path),
            "{default:?}"
        );
    }

    let bad_override = Config::load_from_env_values(
        Some(shipped.as_os_str()),
        Some(OsStr::new("arn:aws:sqs:eu-west-1:111111111111:q")),
    )
    .err()
    .map(|error| {
        error
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    });
    assert_eq!(
        bad_override,
        Some(vec![
            "alerts.topic_arn (PTC_ALERT_TOPIC_ARN): expected an SNS topic ARN `arn:<partition>:sns:<region>:<12-digit account id>:<topic name>`, found \"arn:aws:sqs:eu-west-1:111111111111:q\"".to_owned()
        ])
    );
}

#[test]
fn shipped_example_loads() {
    let config =
        Config::load(shipped_dir().join("ptc-ops.toml")).unwrap_or_else(|error| panic!("{error}"));
    let hardening = &config.hardening;
    assert_eq!(hardening.prefixes.as_ref().map(Vec::len), Some(3));
    let (prefix, docker_hub) = hardening.profile_for("docker-hub/library/nginx");
    assert_eq!(prefix, Some("docker-hub"));
    assert_eq!(
        lifecycle_file(docker_hub),
        Some("lifecycle/docker-hub.json")
    );
    let (prefix, ghcr) = hardening.profile_for("ghcr/fluxcd/source-controller");
    assert_eq!(prefix, None);
    assert_eq!(lifecycle_file(ghcr), Some("lifecycle/default.json"));
    // A repository policy replaces a repository's own grants: none is shipped, the user writes one.
    assert!(ghcr.repository_policy.is_none());
    // The default lifecycle only expires, by push age and count: ECR accepts it, and it does not
    // depend on pull times (which a pre-warmer refreshes).
    let count_types: Vec<CountType> = ghcr
        .lifecycle_policy
        .iter()
        .flat_map(|configured| configured.policy.rules())
        .map(|rule| rule.count_type)
        .collect();
    assert_eq!(
        count_types,
        [CountType::SinceImagePushed, CountType::ImageCountMoreThan]
    );
    assert_eq!(config.prewarm.images.len(), 3);
}

/// Every lifecycle policy shipped in `infra/config/lifecycle/`, the opt-in examples included,
/// is one ECR accepts.
#[test]
fn shipped_lifecycle_policies_are_valid() {
    let folder = shipped_dir().join("lifecycle");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&folder).expect("lifecycle folder") {
        let path = entry.expect("entry").path();
        if path.extension() != Some(OsStr::new("json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        if let Err(problems) = crate::domain::LifecyclePolicy::parse(&text) {
            panic!("{}: {problems:?}", path.display());
        }
        checked.push(
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned()),
        );
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            Some("archive-unpulled.json".to_owned()),
            Some("default.json".to_owned()),
            Some("docker-hub.json".to_owned())
        ]
    );
}

/// The pull actions of the policies below.
const PULL: &str = r#""Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]"#;

/// A repository policy holding `statement` loads (`expected` is `None`) or is refused with a reason
/// holding `expected`; with `allow_public = true` it always loads.
fn check_public_in_disguise(name: &str, statement: String, expected: Option<&str>) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}"));
    let policy =
        |statement: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
    std::fs::write(folder.path().join("policy.json"), policy(&statement))
        .unwrap_or_else(|error| panic!("write: {error}"));
    let text = "[hardening.default]\nrepository_policy = \"policy.json\"\n";
    match (
        Config::from_toml_str(text, folder.path(), "ptc-ops.toml"),
        expected,
    ) {
        (Ok(_), None) => {}
        (Err(error), Some(reason)) => {
            let problems = error.problems();
            assert_eq!(problems.len(), 1, "{name}: {error}");
            let problem = &problems[0];
            assert_eq!(
                problem.key_path(),
                "hardening.default.repository_policy",
                "{name}"
            );
            assert_eq!(
                problem.context(),
                Some("policy.json"),
                "{name}: names the file"
            );
            let message = problem.message();
            assert!(
                message.starts_with("makes the repository public: Statement[0] (`"),
                "{name}: {message}"
            );
            assert!(message.contains(reason), "{name}: {message}");
            assert!(message.contains("allow_public = true"), "{name}: {message}");
        }
        (outcome, expected) => panic!("{name}: got {outcome:?}, expected {expected:?}"),
    }
    // `allow_public = true` is the explicit way to publish such a policy.
    let allowed = "[hardening.default]\nrepository_policy = \"policy.json\"\nallow_public = true\n";
    assert!(
        Config::from_toml_str(allowed, folder.path(), "ptc-ops.toml").is_ok(),
        "{name}: refused with allow_public = true"
    );
}

named_cases! {
    /// A policy public in disguise is refused at load; policies pinned to an organisation, a VPC
    /// endpoint or an account load.
    mod public_in_disguise_is_refused_at_load_and_pinned_policies_load => check_public_in_disguise;
    notprincipal_with_allow(
        format!(
            r#"{{"Sid":"AllButOne","Effect":"Allow","NotPrincipal":{{"AWS":"arn:aws:iam::111111111111:root"}},{PULL}}}"#
        ),
        Some("`NotPrincipal`"),
    ),
    securetransport_only(
        format!(
            r#"{{"Sid":"Tls","Effect":"Allow","Principal":"*",{PULL},"Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}}"#
        ),
        Some("`aws:SecureTransport` does not name the caller"),
    ),
    principalorgid_star(
        format!(
            r#"{{"Sid":"Org","Effect":"Allow","Principal":"*",{PULL},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"*"}}}}}}"#
        ),
        Some("the value `*`"),
    ),
    stringlike_o(
        format!(
            r#"{{"Sid":"Org","Effect":"Allow","Principal":"*",{PULL},"Condition":{{"StringLike":{{"aws:PrincipalOrgID":"o-*"}}}}}}"#
        ),
        Some("the value `o-*`"),
    ),
    ifexists(
        format!(
            r#"{{"Sid":"Org","Effect":"Allow","Principal":"*",{PULL},"Condition":{{"StringEqualsIfExists":{{"aws:PrincipalOrgID":"o-abc123def4"}}}}}}"#
        ),
        Some("without the key"),
    ),
    aws_list_holding_a_star(
        format!(
            r#"{{"Sid":"Mixed","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::111111111111:root","*"]}},{PULL}}}"#
        ),
        Some("without a `Condition`"),
    ),
    pinned_to_an_organisation(
        format!(
            r#"{{"Sid":"Org","Effect":"Allow","Principal":"*",{PULL},"Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"o-abc123def4"}}}}}}"#
        ),
        None,
    ),
    pinned_to_a_vpc_endpoint(
        format!(
            r#"{{"Sid":"Vpce","Effect":"Allow","Principal":{{"AWS":"*"}},{PULL},"Condition":{{"StringEquals":{{"aws:SourceVpce":"vpce-0123456789abcdef0"}}}}}}"#
        ),
        None,
    ),
    named_account(
        format!(
            r#"{{"Sid":"Account","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111111111111:root"}},{PULL}}}"#
        ),
        None,
    ),
}

/// The key paths of the problems a file (read against the current folder) is refused with.
fn problem_key_paths(text: &str) -> Vec<String> {
    Config::from_toml_str(text, Path::new("."), "test")
        .err()
        .map(|error| {
            error
                .problems()
                .iter()
                .map(|p| p.key_path().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn creation_templates_mode_and_role_are_checked_at_load() {
    use crate::config::TemplateMode;
    let parse = |text: &str| Config::from_toml_str(text, Path::new("."), "test");
    let defaults = parse("").expect("defaults");
    assert_eq!(defaults.hardening.creation_templates, TemplateMode::Manage);
    assert_eq!(defaults.hardening.creation_template_role_arn, None);
    let set = parse(
        "[hardening]\ncreation_templates = \"check\"\ncreation_template_role_arn = \"arn:aws:iam::111122223333:role/templates\"\n",
    )
    .expect("valid");
    assert_eq!(set.hardening.creation_templates, TemplateMode::Check);
    let adopting = parse("[hardening]\ncreation_templates = \"adopt\"\n").expect("valid");
    assert_eq!(adopting.hardening.creation_templates, TemplateMode::Adopt);

    let shipped = shipped_dir().join("ptc-ops.toml");
    let role = "arn:aws:iam::222222222222:role/from-sam";
    let overridden = Config::load_from_environment(
        Some(shipped.as_os_str()),
        None,
        Some(OsStr::new(role)),
        None,
    )
    .expect("override");
    assert_eq!(
        overridden.hardening.creation_template_role_arn.as_deref(),
        Some(role)
    );
    let bad = Config::load_from_environment(
        Some(shipped.as_os_str()),
        None,
        Some(OsStr::new("not-a-role")),
        None,
    )
    .err()
    .map(|error| error.problems()[0].to_string())
    .unwrap_or_default();
    assert!(
        bad.starts_with("hardening.creation_template_role_arn (PTC_TEMPLATE_ROLE_ARN):"),
        "{bad}"
    );
}

/// A bad creation-template setting is refused with exactly one problem, at `expected`.
fn check_creation_template_key(name: &str, text: &str, expected: &str) {
    assert_eq!(problem_key_paths(text), [expected], "{name}");
}

named_cases! {
    /// Bad creation-template settings are refused at load, each under its own key.
    mod creation_template_settings_are_refused => check_creation_template_key;
    unknown_mode_is_refused(
        "[hardening]\ncreation_templates = \"sometimes\"\n",
        "hardening.creation_templates",
    ),
    user_arn_is_not_a_role(
        "[hardening]\ncreation_template_role_arn = \"arn:aws:iam::111122223333:user/me\"\n",
        "hardening.creation_template_role_arn",
    ),
    short_account_id_is_refused(
        "[hardening]\ncreation_template_role_arn = \"arn:aws:iam::1111:role/x\"\n",
        "hardening.creation_template_role_arn",
    ),
}

#[test]
fn registry_scanning_mode_and_scan_type_are_checked_at_load() {
    use crate::config::TemplateMode;
    use crate::domain::scanning::ScanType;
    let parse = |text: &str| Config::from_toml_str(text, Path::new("."), "test");
    let defaults = parse("").expect("defaults");
    assert_eq!(defaults.hardening.registry_scanning, TemplateMode::Manage);
    assert_eq!(
        defaults.hardening.registry_scan_type, None,
        "unset keeps the registry's"
    );
    let set =
        parse("[hardening]\nregistry_scanning = \"check\"\nregistry_scan_type = \"ENHANCED\"\n")
            .expect("valid");
    assert_eq!(set.hardening.registry_scanning, TemplateMode::Check);
    assert_eq!(set.hardening.registry_scan_type, Some(ScanType::Enhanced));
}

/// A bad registry-scanning setting is refused with exactly one problem, starting with `key`.
fn check_registry_scanning_key(name: &str, text: &str, key: &str) {
    let problems: Vec<String> = Config::from_toml_str(text, Path::new("."), "test")
        .err()
        .map(|error| error.problems().iter().map(|p| p.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(problems.len(), 1, "{name}: {problems:?}");
    assert!(problems[0].starts_with(key), "{name}: {problems:?}");
}

named_cases! {
    /// Bad registry-scanning settings are refused at load, each under its own key.
    mod registry_scanning_settings_are_refused => check_registry_scanning_key;
    unknown_mode_is_refused(
        "[hardening]\nregistry_scanning = \"always\"\n",
        "hardening.registry_scanning",
    ),
    adopt_is_for_templates_only(
        "[hardening]\nregistry_scanning = \"adopt\"\n",
        "hardening.registry_scanning",
    ),
    lowercase_scan_type_is_refused(
        "[hardening]\nregistry_scan_type = \"basic\"\n",
        "hardening.registry_scan_type",
    ),
    scan_type_that_is_not_a_string_is_refused(
        "[hardening]\nregistry_scan_type = 1\n",
        "hardening.registry_scan_type",
    ),
}

/// A profile's `kms_key`, as `text` sets it under `[hardening.default]`, loaded with the keys the
/// stack grants (`None`: not in a deployment): `Ok` with the key, or the problem's start.
fn check_kms_key(
    name: &str,
    text: &str,
    granted: Option<&str>,
    expected: Result<Option<&str>, &str>,
) {
    let folder = tempfile::tempdir().expect("folder");
    let path = folder.path().join("ptc-ops.toml");
    std::fs::write(&path, format!("[hardening.default]\n{text}")).expect("written");
    let loaded =
        Config::load_from_environment(Some(path.as_os_str()), None, None, granted.map(OsStr::new));
    match (loaded, expected) {
        (Ok(config), Ok(key)) => {
            assert_eq!(
                config.hardening.default_profile.kms_key.as_deref(),
                key,
                "{name}"
            )
        }
        (Err(error), Err(start)) => {
            let problems: Vec<String> = error.problems().iter().map(|p| p.to_string()).collect();
            assert!(
                problems.len() == 1 && problems[0].contains(start),
                "{name}: {problems:?}"
            );
        }
        (other, expected) => panic!("{name}: {other:?}, expected {expected:?}"),
    }
}

const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab";

named_cases! {
    /// A KMS profile's key is a key ARN, goes with KMS encryption, and, in a deployment, is one
    /// the stack grants ECR's creation-template role on.
    mod a_kms_profile_names_a_key_the_stack_grants => check_kms_key;
    aws_managed_key_needs_no_grant(
        "encryption = \"KMS\"\n",
        Some(""),
        Ok(None),
    ),
    granted_key(
        &format!("encryption = \"KMS\"\nkms_key = \"{KEY}\"\n"),
        Some(&format!("{OTHER_KEY},{KEY}")),
        Ok(Some(KEY)),
    ),
    outside_a_deployment_any_key(
        &format!("encryption = \"KMS_DSSE\"\nkms_key = \"{KEY}\"\n"),
        None,
        Ok(Some(KEY)),
    ),
    a_key_the_stack_does_not_grant(
        &format!("encryption = \"KMS\"\nkms_key = \"{KEY}\"\n"),
        Some(OTHER_KEY),
        Err("hardening.default.kms_key"),
    ),
    a_stack_that_grants_no_key(
        &format!("encryption = \"KMS\"\nkms_key = \"{KEY}\"\n"),
        Some(""),
        Err("is not among the keys the stack grants ECR's creation-template role (none)"),
    ),
    an_alias_is_no_key(
        "encryption = \"KMS\"\nkms_key = \"alias/ecr\"\n",
        None,
        Err("expected a KMS key ARN"),
    ),
    a_key_without_kms_encryption(
        &format!("encryption = \"AES256\"\nkms_key = \"{KEY}\"\n"),
        None,
        Err("but `encryption` is not `KMS` or `KMS_DSSE`"),
    ),
}
