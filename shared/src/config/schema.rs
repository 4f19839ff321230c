//! The JSON Schema of `ptc-ops.toml` (`schemas/ptc-ops.toml.schema.json`, `ptc schema config`)
//! and the configuration reference generated from it (`docs/configuration.md`,
//! `ptc config reference`).
//!
//! The file is read by the typed reader of this module's siblings, which reports every problem
//! at once; these types describe the same keys as written, for editors (Taplo, Even Better
//! TOML) and for the reference. They are never deserialized. Unit tests hold them to the
//! reader: the same keys in every table, the same defaults, the same ranges and the same
//! choices, so the schema cannot drift from what the functions accept.

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::Value;

use super::alerts::{DEFAULT_REPEAT_AFTER_MINUTES, MAX_REPEAT_AFTER_MINUTES};
use super::drift::{
    DEFAULT_MAX_RESTORATIONS, DEFAULT_WINDOW_MINUTES, MAX_MAX_RESTORATIONS, MAX_WINDOW_MINUTES,
};
use super::hardening::{
    DEFAULT_CALLS_PER_SECOND, MAX_ECR_CALLS_PER_SECOND, MAX_HARDENING_CONCURRENCY,
};
use super::prewarm::MAX_PREWARM_CONCURRENCY;
use super::profile::MAX_REPOSITORY_TAGS;

/// The file name of the schema under `schemas/`.
pub const CONFIG_SCHEMA_FILE: &str = "ptc-ops.toml.schema.json";
/// Where the generated reference is written, from the repository's root.
pub const CONFIG_REFERENCE_FILE: &str = "docs/configuration.md";

/// One TOML file, `ptc-ops.toml`, configures every function and `ptc`. The functions read the
/// path in `PTC_CONFIG` (default `/opt/ptc-ops/ptc-ops.toml`, the configuration layer built from
/// `infra/config/`); `ptc` reads `--config`. Relative paths inside the file resolve against the
/// file's folder. Unknown keys are errors, and every problem is reported at once with its key
/// path when a function starts (not on the first event). Every section is optional.
#[derive(JsonSchema)]
#[schemars(title = "ptc-ops.toml", deny_unknown_fields)]
#[allow(dead_code)]
struct RawConfig {
    alerts: Option<RawAlerts>,
    hardening: Option<RawHardening>,
    rules: Option<RawRules>,
    credentials: Option<RawCredentials>,
    prewarm: Option<RawPrewarm>,
    consumers: Option<RawConsumers>,
    usage: Option<RawUsage>,
    /// The base URL of each upstream registry's own API (`/v2/…`), keyed by the upstream host
    /// as rules name it (`docker.io`, `registry-1.docker.io` and `index.docker.io` are one key).
    /// Where tag digests (stale tags) and Docker Hub's pull headroom are read; unset,
    /// `https://<host>`, and `https://registry-1.docker.io` for Docker Hub. `https://` only (plain
    /// `http://` only to `localhost`, `127.0.0.0/8` or `::1`), no `user:password@`, no query or
    /// fragment: the rule's credential goes to exactly this host.
    upstream_registries: Option<BTreeMap<String, String>>,
}

/// Where findings go as chat alerts, and how often the same one may repeat.
#[derive(JsonSchema)]
#[schemars(rename = "alerts", deny_unknown_fields)]
#[allow(dead_code)]
struct RawAlerts {
    /// The SNS topic chat alerts are published to,
    /// `arn:<partition>:sns:<region>:<12-digit account id>:<topic name>`. Unset: alerts stay in
    /// the report. `PTC_ALERT_TOPIC_ARN` overrides it (the SAM template passes the topic it
    /// creates).
    #[schemars(regex(
        pattern = r"^arn:[a-z0-9-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\.fifo)?$"
    ))]
    topic_arn: Option<String>,
    /// The lowest severity published; findings below it stay in the report.
    #[schemars(extend("default" = "warning", "enum" = ["info", "warning", "critical"]))]
    min_severity: Option<String>,
    /// Minutes during which an alert with the thread, check and resource of one already sent is
    /// held back; the next one sent says how many were ([Alert repeats](functions.md#alert-repeats),
    /// needs the state table). `0` sends every alert; at most a week (10080).
    #[schemars(range(min = 0, max = MAX_REPEAT_AFTER_MINUTES), extend("default" = DEFAULT_REPEAT_AFTER_MINUTES))]
    repeat_after_minutes: Option<u32>,
}

/// Which cached repositories the product manages, the profile each one gets, and how the sweep
/// treats creation templates, registry scanning and drift.
#[derive(JsonSchema)]
#[schemars(rename = "hardening", deny_unknown_fields)]
#[allow(dead_code)]
struct RawHardening {
    /// The repository prefixes the product manages (PTC rule prefixes, lowercase letters,
    /// digits, `.`, `_`, `-` and `/`); nothing else is ever touched. Unset: every PTC rule prefix
    /// but `ROOT`, so a new rule is covered without a change here. `ROOT` is an opt-in for
    /// repositories the cache created anywhere in the registry
    /// ([What the product may write](hardening.md#what-the-product-may-write)). At least one
    /// entry, no repeats.
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    prefixes: Option<Vec<String>>,
    /// Repositories hardened at once during a sweep.
    #[schemars(range(min = 1, max = MAX_HARDENING_CONCURRENCY), extend("default" = 8))]
    concurrency: Option<u32>,
    /// Client-side pacing of ECR calls, in calls per second and per API: a token bucket with one
    /// second of burst, shared by every ECR call of the process. ECR publishes no rate for the
    /// calls a sweep makes; pacing keeps a large registry under them, so a sweep takes longer
    /// instead of failing on throttling.
    #[schemars(range(min = 1, max = MAX_ECR_CALLS_PER_SECOND), extend("default" = DEFAULT_CALLS_PER_SECOND))]
    ecr_calls_per_second: Option<u32>,
    /// `true`: plan and report, write nothing.
    #[schemars(extend("default" = false))]
    dry_run: Option<bool>,
    /// The repository creation templates of the managed prefixes
    /// ([Creation templates](hardening.md#creation-templates)). `manage`: the sweep creates the
    /// template of each managed prefix from its profile and keeps the templates it created up to
    /// date; a template someone else created is never written, each difference a warning with
    /// its command. `adopt`: like `manage`, and existing templates are handed to the product.
    /// `check`: only report how they differ. `off`: leave templates alone.
    #[schemars(extend("default" = "manage", "enum" = ["manage", "check", "off", "adopt"]))]
    creation_templates: Option<String>,
    /// The `customRoleArn` of the creation templates: an IAM role ARN of this account that ECR
    /// assumes to create tagged (or KMS-encrypted) repositories. Unset: templates carry neither
    /// tags nor KMS encryption. `PTC_TEMPLATE_ROLE_ARN` overrides it (the SAM template passes the
    /// role it creates).
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"))]
    creation_template_role_arn: Option<String>,
    /// The registry scanning configuration
    /// ([Scanning at the registry level](hardening.md#scanning-at-the-registry-level)).
    /// `manage`: the sweep adds a `SCAN_ON_PUSH` filter `<prefix>/*` for each managed prefix
    /// whose profile sets `scan_on_push = true`. `check`: only report what is missing, with the
    /// command that fixes it. `off`: neither read nor write it.
    #[schemars(extend("default" = "manage", "enum" = ["manage", "check", "off"]))]
    registry_scanning: Option<String>,
    /// The registry's scan type. Unset: keep the registry's. Only set it to change the type on
    /// purpose: `ENHANCED` is Amazon Inspector, billed per image scanned.
    #[schemars(extend("enum" = ["BASIC", "ENHANCED"]))]
    registry_scan_type: Option<String>,
    drift: Option<RawDrift>,
    /// The profile of every managed repository that no `[hardening.profiles."<prefix>"]` matches.
    default: Option<RawProfile>,
    /// Profiles by repository prefix (a prefix under one of `prefixes`): the longest prefix that
    /// equals a repository's name or is followed by `/` in it wins. Each key left unset inherits
    /// `[hardening.default]`.
    profiles: Option<BTreeMap<String, RawProfile>>,
}

/// How far the product goes restoring a managed setting someone changed
/// ([Drift](events.md#drift)).
#[derive(JsonSchema)]
#[schemars(rename = "drift", deny_unknown_fields)]
#[allow(dead_code)]
struct RawDrift {
    /// Restorations of one setting of one repository within a window; the next change in the
    /// window is one critical alert and is not restored until the window ends (needs the state
    /// table).
    #[schemars(range(min = 1, max = MAX_MAX_RESTORATIONS), extend("default" = DEFAULT_MAX_RESTORATIONS))]
    max_restorations: Option<u32>,
    /// The window, in minutes from its first restoration; at most a week (10080).
    #[schemars(range(min = 1, max = MAX_WINDOW_MINUTES), extend("default" = DEFAULT_WINDOW_MINUTES))]
    window_minutes: Option<u32>,
    /// IAM role or user ARNs, as CloudTrail's `sessionIssuer.arn` writes them (Terraform's role,
    /// another automation's): their changes are accepted, not restored (needs the state table).
    /// A session ARN, an account or a wildcard is refused.
    #[schemars(extend("default" = []))]
    ignore_callers: Option<Vec<String>>,
}

/// The desired state of a managed repository. Each setting left unset is not managed: the
/// repository keeps what it has.
#[derive(JsonSchema)]
#[schemars(rename = "profile", deny_unknown_fields)]
#[allow(dead_code)]
struct RawProfile {
    /// Whether images are scanned on push (through the registry scanning configuration, or the
    /// repository's own setting).
    scan_on_push: Option<bool>,
    /// Whether image tags can be overwritten. Plain `IMMUTABLE` stops ECR from refreshing a
    /// cached tag from the upstream: prefer `IMMUTABLE_WITH_EXCLUSION` with the moving tags
    /// excluded.
    #[schemars(extend("enum" = ["MUTABLE", "IMMUTABLE", "MUTABLE_WITH_EXCLUSION", "IMMUTABLE_WITH_EXCLUSION"]))]
    tag_mutability: Option<String>,
    /// 1 to 5 wildcard filters (up to 128 of `a-z A-Z 0-9 . _ * -` each) of tags excluded from
    /// `tag_mutability`: required by, and only allowed with, the `*_WITH_EXCLUSION` modes.
    #[schemars(length(max = 5))]
    tag_mutability_exclusions: Option<Vec<String>>,
    /// The lifecycle policy: a JSON file (a path relative to this file) or inline JSON text,
    /// checked against ECR's lifecycle rules when the configuration loads
    /// ([Lifecycle policies](hardening.md#lifecycle-policies)).
    #[schemars(length(min = 1))]
    lifecycle_policy: Option<String>,
    /// The repository policy: a JSON file or inline JSON text. It **replaces** each managed
    /// repository's own policy, so none is shipped (start from
    /// `infra/config/policies/org-pull.json`). A public policy is refused unless `allow_public`.
    #[schemars(length(min = 1))]
    repository_policy: Option<String>,
    /// Tags merged into the repository's tags (other tags are kept): at most 50, keys of 1 to
    /// 128 and values of at most 256 letters, digits, spaces and `_ . : / = + - @`, keys not
    /// starting with `aws:`. Deployed with SAM, every key must be in `HardeningTagKeys`.
    #[schemars(extend("maxProperties" = MAX_REPOSITORY_TAGS))]
    tags: Option<BTreeMap<String, String>>,
    /// The encryption repositories are expected to have: reported when different, never
    /// changed (ECR cannot change it in place).
    #[schemars(extend("enum" = ["AES256", "KMS", "KMS_DSSE"]))]
    encryption: Option<String>,
    /// With `encryption` `KMS` or `KMS_DSSE`: the customer managed key (a key ARN, not an alias)
    /// the creation templates carry. Unset: ECR's AWS managed key. In a deployment it must be one
    /// of the stack's `TemplateKmsKeyArns`, or the functions refuse to start.
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$"))]
    kms_key: Option<String>,
    /// `false`: a public repository policy is refused when the configuration loads, and one
    /// found on a repository is a critical finding
    /// ([What counts as a public repository policy](hardening.md#what-counts-as-a-public-repository-policy));
    /// `true` allows both.
    #[schemars(extend("default" = false))]
    allow_public: Option<bool>,
    /// An `ECR Image Scan` event of an image under the prefix alerts when a finding count is at
    /// or above this severity, once per image digest
    /// ([Vulnerabilities in cached images](hardening.md#vulnerabilities-in-cached-images)).
    /// `off`: never.
    #[schemars(extend("default" = "CRITICAL", "enum" = ["CRITICAL", "HIGH", "MEDIUM", "off"]))]
    scan_alert_severity: Option<String>,
}

/// Which pull-through cache rules `validate-cache-rules` checks.
#[derive(JsonSchema)]
#[schemars(rename = "rules", deny_unknown_fields)]
#[allow(dead_code)]
struct RawRules {
    /// Rule prefixes (or `ROOT`) that `validate-cache-rules` leaves alone, such as a rule being
    /// migrated. No repeats.
    #[schemars(extend("default" = [], "uniqueItems" = true))]
    skip_prefixes: Option<Vec<String>>,
}

/// How the upstream credentials of the rules (`ecr-pullthroughcache/` secrets) are checked for
/// expiry and age.
#[derive(JsonSchema)]
#[schemars(rename = "credentials", deny_unknown_fields)]
#[allow(dead_code)]
struct RawCredentials {
    /// The secret's tag that holds the token's expiry (`YYYY-MM-DD` or RFC 3339): a Secrets
    /// Manager tag key of 1 to 128 characters, not starting with `aws:`.
    #[schemars(length(min = 1, max = 128), extend("default" = "ptc-ops:expires-at"))]
    expiry_tag: Option<String>,
    /// Days before a credential's expiry from which it is a warning.
    #[schemars(range(min = 1, max = 3650), extend("default" = 30))]
    warn_days: Option<u32>,
    /// Days before a credential's expiry from which it is critical; at most `warn_days`.
    #[schemars(range(min = 0, max = 3650), extend("default" = 7))]
    critical_days: Option<u32>,
    /// Without a known expiry: the age, in days, from which a secret value is a warning.
    #[schemars(range(min = 1, max = 3650), extend("default" = 365))]
    max_age_days: Option<u32>,
    /// `true`: ask GitHub, GitLab or Docker Hub when the token expires.
    #[schemars(extend("default" = false))]
    discover_expiry: Option<bool>,
    /// `true`: store a discovered expiry in `expiry_tag` (needs `discover_expiry`; deployed with
    /// SAM, also `CredentialWriteBack=true`).
    #[schemars(extend("default" = false))]
    write_back: Option<bool>,
    /// The GitHub REST API the expiry is asked of (GitHub Enterprise: its own API URL).
    /// `https://` only (plain `http://` only to `localhost`, `127.0.0.0/8` or `::1`), no
    /// `user:password@`, no query or fragment: the token goes to exactly this host.
    #[schemars(extend("default" = "https://api.github.com"))]
    github_api_url: Option<String>,
    /// The GitLab instance (self-managed GitLab: its own URL); the same rules as
    /// `github_api_url`.
    #[schemars(extend("default" = "https://gitlab.com"))]
    gitlab_url: Option<String>,
    /// The Docker Hub API; the same rules as `github_api_url`.
    #[schemars(extend("default" = "https://hub.docker.com"))]
    dockerhub_api_url: Option<String>,
    /// For each rule whose upstream is Docker Hub, the pulls its credential has left are read
    /// (`HEAD` of `ratelimitpreview/test:latest`, not counted as a pull): a warning below this
    /// share of the limit, critical at 0 or on a `429`.
    #[schemars(range(min = 0, max = 100), extend("default" = 20))]
    min_pulls_remaining_percent: Option<u32>,
}

/// Images pulled through the cache ahead of their first real pull
/// ([Pre-warming images](functions.md#pre-warming-images)).
#[derive(JsonSchema)]
#[schemars(rename = "prewarm", deny_unknown_fields)]
#[allow(dead_code)]
struct RawPrewarm {
    /// Images pulled at once.
    #[schemars(range(min = 1, max = MAX_PREWARM_CONCURRENCY), extend("default" = 4))]
    concurrency: Option<u32>,
    /// Upstream image references (`nginx:1.27`, `ghcr.io/fluxcd/source-controller:v1.4.1`,
    /// without spaces) a scheduled pre-warm pulls when its event names none.
    #[schemars(extend("default" = []))]
    images: Option<Vec<String>>,
    /// A cached tag whose upstream moved (read with a manifest `HEAD`): `report` marks it
    /// `stale`; `stale` deletes it from the cache and pulls it again (`refreshed`), never a
    /// digest pin and never outside the managed prefixes; `never` asks no upstream. An event's
    /// `"refresh"` overrides it.
    #[schemars(extend("default" = "report", "enum" = ["never", "report", "stale"]))]
    refresh: Option<String>,
    /// Whether the sweep registers the pre-warm function's role (`PTC_PREWARM_ROLE_ARN`) as a
    /// pull-time update exclusion, so that its pulls leave `lastRecordedPullTime` alone and the
    /// time means real use. ECR allows 100 exclusions per registry; none is ever removed.
    #[schemars(extend("default" = true))]
    exclude_from_pull_time: Option<bool>,
}

/// The storage prices `ptc usage` estimates the cache's monthly cost with
/// ([What the cache holds](cli.md#what-the-cache-holds-ptc-usage)).
#[derive(JsonSchema)]
#[schemars(rename = "usage", deny_unknown_fields)]
#[allow(dead_code)]
struct RawUsage {
    /// USD per GB-month (GB = 2^30 bytes) of ECR standard storage: the price of most regions on
    /// Amazon ECR pricing (<https://aws.amazon.com/ecr/pricing/>, "Storage"); set your region's.
    /// A positive number.
    #[schemars(extend("default" = 0.10, "exclusiveMinimum" = 0))]
    price_per_gb_month: Option<f64>,
    /// USD per GB-month of ECR archive storage (the same page: $0.10 up to 150 TB a month, $0.07
    /// above; retrieval is billed apart). A positive number.
    #[schemars(extend("default" = 0.10, "exclusiveMinimum" = 0))]
    archive_price_per_gb_month: Option<f64>,
}

/// Who pulls through the cache: the consumer doctor checks that each one's first pull through
/// each rule would work ([Consumer doctor](functions.md#consumer-doctor)).
#[derive(JsonSchema)]
#[schemars(rename = "consumers", deny_unknown_fields)]
#[allow(dead_code)]
struct RawConsumers {
    /// 12-digit ids of the accounts that pull through the cache (cluster accounts), checked as
    /// the whole account: the policies must trust the account (`arn:aws:iam::<id>:root` or the
    /// id).
    #[schemars(extend("default" = []))]
    accounts: Option<Vec<String>>,
    /// IAM role or user ARNs that pull through the cache (node, IRSA or Pod Identity roles, CI
    /// runners). A session ARN (`sts::…:assumed-role/…`), a group, a wildcard or a `…:root` is
    /// refused (put the account in `accounts`).
    #[schemars(extend("default" = []))]
    principals: Option<Vec<String>>,
    /// The rule prefixes (or `ROOT`) one consumer uses, keyed by the consumer exactly as written
    /// in `accounts` or `principals`. A consumer not listed here uses every rule.
    prefixes: Option<BTreeMap<String, Vec<String>>>,
    /// The AWS Organizations id (`o-` and 10 to 32 lowercase letters or digits) every consumer
    /// belongs to. Unset: a policy conditioned on `aws:PrincipalOrgID` answers `unknown`.
    #[schemars(regex(pattern = r"^o-[a-z0-9]{10,32}$"))]
    organization_id: Option<String>,
}

/// The JSON Schema (2020-12) of `ptc-ops.toml`, for editors that check TOML against one.
pub fn config_schema() -> Value {
    let mut value = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RawConfig>()
        .to_value();
    forbid_null(&mut value);
    if let Value::Object(fields) = &mut value {
        fields.insert(
            "$id".to_owned(),
            Value::String(format!("urn:ptc-ops:schemas/{CONFIG_SCHEMA_FILE}")),
        );
    }
    value
}

/// `Option` marks a key that may be left out, which schemars spells as "may be `null`"; TOML
/// has no null, so the schema allows none. Descriptions keep the doc comments' words, not their
/// line breaks, which editors would show mid-sentence.
fn forbid_null(schema: &mut Value) {
    match schema {
        Value::Object(fields) => {
            if let Some(Value::String(description)) = fields.get_mut("description") {
                *description = one_line(description);
            }
            if let Some(Value::Array(types)) = fields.get_mut("type") {
                types.retain(|kind| kind != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    fields.insert("type".to_owned(), only);
                }
            }
            let is_null = |option: &Value| option.get("type").is_some_and(|kind| kind == "null");
            if let Some(Value::Array(options)) = fields.get_mut("anyOf") {
                options.retain(|option| !is_null(option));
                if let [only] = options.as_slice() {
                    let only = only.clone();
                    fields.remove("anyOf");
                    if let Value::Object(inner) = only {
                        for (key, value) in inner {
                            fields.entry(key).or_insert(value);
                        }
                    }
                }
            }
            fields.values_mut().for_each(forbid_null);
        }
        Value::Array(items) => items.iter_mut().for_each(forbid_null),
        _ => {}
    }
}

/// The schema as written to `schemas/`: pretty JSON with a final newline.
pub fn config_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&config_schema())
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

/// `docs/configuration.md`: one table per TOML table of the file (key, type, default,
/// description), in the order the schema names them.
pub fn config_reference() -> String {
    let schema = config_schema();
    let mut out = String::new();
    out.push_str("# Configuration reference\n\n");
    out.push_str(
        "<!-- Generated from the configuration types by `make schemas` (`ptc config reference`); edit the doc comments in shared/src/config/schema.rs, not this file. -->\n\n",
    );
    out.push_str(&one_line(text_of(&schema, "description")));
    out.push_str("\n\n");
    out.push_str(&format!(
        "`PTC_ALERT_TOPIC_ARN` overrides `alerts.topic_arn`, `PTC_TEMPLATE_ROLE_ARN` `hardening.creation_template_role_arn`. The shipped example is [`infra/config/ptc-ops.toml`](../infra/config/ptc-ops.toml); `ptc config check FILE` checks a file. How the settings act: [Hardening in depth](hardening.md).\n\n\
         ## Editor support\n\n\
         [`schemas/{CONFIG_SCHEMA_FILE}`](../schemas/{CONFIG_SCHEMA_FILE}) (also `ptc schema config`) is the JSON Schema of the file, with these descriptions. Editors with TOML schema support (Taplo, and VS Code's Even Better TOML, which uses it) then complete keys and check values as you type. Either start the file with this line, the path relative to the file, as the shipped `infra/config/ptc-ops.toml` does (a file at the repository's root: `#:schema ./schemas/{CONFIG_SCHEMA_FILE}`):\n\n\
         ```toml\n#:schema ../../schemas/{CONFIG_SCHEMA_FILE}\n```\n\n\
         or associate the schema once in a `taplo.toml` (or `.taplo.toml`) at the repository's root:\n\n\
         ```toml\n[[rule]]\ninclude = [\"**/ptc-ops.toml\"]\n[rule.schema]\npath = \"./schemas/{CONFIG_SCHEMA_FILE}\"\n```\n\n\
         The schema checks the shape of each key; `ptc config check` checks everything else too (policies, files, keys that depend on each other).\n"
    ));
    let mut written = Vec::new();
    write_section(&schema, &schema, "", &mut written, &mut out);
    out
}

/// Writes the table of the object schema `object` at TOML path `path`, then its sub-tables.
fn write_section(
    root: &Value,
    object: &Value,
    path: &str,
    written: &mut Vec<(String, String)>,
    out: &mut String,
) {
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return;
    };
    let mut rows = Vec::new();
    let mut sections = Vec::new();
    for (key, property) in properties {
        let resolved = resolve(root, property);
        let key_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if resolved.get("properties").is_some() {
            sections.push((key_path, property, resolved));
        } else if let Some(entry) = resolved
            .get("additionalProperties")
            .map(|entry| resolve(root, entry))
            .filter(|entry| entry.get("properties").is_some())
        {
            let entry_path = format!("{key_path}.\"<prefix>\"");
            sections.push((entry_path, resolved, entry));
        } else {
            rows.push(format!(
                "| `{key}` | {} | {} | {} |",
                type_of(root, resolved),
                default_of(resolved),
                cell(text_of(property, "description"))
            ));
        }
    }
    if !path.is_empty() {
        out.push_str(&format!("\n## `[{path}]`\n\n"));
        let description = if text_of(object, "description").is_empty() {
            text_of(root_definition_of(root, object), "description")
        } else {
            text_of(object, "description")
        };
        if !description.is_empty() {
            out.push_str(&one_line(description));
            out.push_str("\n\n");
        }
    }
    if !rows.is_empty() {
        out.push_str("| key | type | default | description |\n|---|---|---|---|\n");
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
    }
    for (section_path, property, resolved) in sections {
        let reference = resolved.to_string();
        if let Some((first_path, _)) = written.iter().find(|(_, seen)| *seen == reference) {
            // A second table of the same shape (`[hardening.profiles."<prefix>"]`): its own
            // description, and the keys of the first.
            out.push_str(&format!("\n## `[{section_path}]`\n\n"));
            let description = text_of(property, "description");
            out.push_str(&one_line(if description.is_empty() {
                text_of(resolved, "description")
            } else {
                description
            }));
            out.push_str(&format!(
                " The keys are those of [`[{first_path}]`](#{}).\n",
                anchor(&format!("`[{first_path}]`"))
            ));
            continue;
        }
        written.push((section_path.clone(), reference));
        write_section(root, resolved, &section_path, written, out);
    }
}

/// The definition `object` was resolved from, for the description a `$ref` leaves out.
fn root_definition_of<'a>(root: &'a Value, object: &'a Value) -> &'a Value {
    root.get("$defs")
        .and_then(Value::as_object)
        .and_then(|definitions| {
            definitions
                .values()
                .find(|definition| *definition == object)
        })
        .unwrap_or(object)
}

/// Follows `$ref: #/$defs/Name`.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix("#/")
            .and_then(|pointer| root.pointer(&format!("/{pointer}")))
            .unwrap_or(schema),
        None => schema,
    }
}

fn text_of<'a>(schema: &'a Value, key: &str) -> &'a str {
    schema.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Doc comments keep their line breaks; a table cell or a paragraph is one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// `integer, 1–64`, `` `a`, `b` ``, `list of strings`, `table of strings`.
fn type_of(root: &Value, schema: &Value) -> String {
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        return choices
            .iter()
            .map(|choice| format!("`{}`", choice.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ");
    }
    let kind = text_of(schema, "type");
    match kind {
        "integer" => match (schema.get("minimum"), schema.get("maximum")) {
            (Some(min), Some(max)) => format!("integer, {min}–{max}"),
            _ => "integer".to_owned(),
        },
        "boolean" => "`true`, `false`".to_owned(),
        "array" => {
            let item = schema
                .get("items")
                .map(|items| plural_of(root, resolve(root, items)))
                .unwrap_or_default();
            let count = match (schema.get("minItems"), schema.get("maxItems")) {
                (Some(min), Some(max)) => format!(", {min}–{max} of them"),
                (Some(min), None) => format!(", at least {min}"),
                (None, Some(max)) => format!(", at most {max}"),
                (None, None) => String::new(),
            };
            format!("list of {item}{count}")
        }
        "object" => {
            let value = schema
                .get("additionalProperties")
                .map(|values| plural_of(root, resolve(root, values)))
                .unwrap_or_default();
            match schema.get("maxProperties") {
                Some(max) => format!("table of {value}, at most {max}"),
                None => format!("table of {value}"),
            }
        }
        other => other.to_owned(),
    }
}

/// `strings`, `lists of strings`: what a list or a table holds.
fn plural_of(root: &Value, schema: &Value) -> String {
    match text_of(schema, "type") {
        "array" => {
            let item = schema
                .get("items")
                .map(|items| plural_of(root, resolve(root, items)))
                .unwrap_or_default();
            format!("lists of {item}")
        }
        other => format!("{other}s"),
    }
}

fn default_of(schema: &Value) -> String {
    match schema.get("default") {
        Some(value) => format!("`{}`", toml_spelling(value)),
        None => "unset".to_owned(),
    }
}

/// A JSON default as it would be written in the TOML file.
fn toml_spelling(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(toml_spelling)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// GitHub's anchor of a heading: lowercase, spaces to `-`, punctuation but `-` and `_` dropped.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
