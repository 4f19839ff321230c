//! The command line, as `ptc --help` shows it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ptc",
    version,
    about = "Operate an Amazon ECR pull-through cache: validate rules, check credentials, harden repositories, pre-warm images, audit a cluster",
    after_help = "Exit codes: 0 clean; 1 findings at or above --fail-on; 2 usage or configuration error; 3 the run could not complete (AWS unreachable, access denied on a listing call).\nAWS access uses the standard chain (AWS_PROFILE, AWS_REGION, ...); AWS_ENDPOINT_URL points it at the local emulator."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// Configuration file (`ptc-ops.toml`); default: `$PTC_CONFIG`, then `./ptc-ops.toml`, then built-in defaults
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// Exit 1 when a finding is at least this severe
    #[arg(long, global = true, value_enum, default_value_t = FailOn::Critical)]
    pub fail_on: FailOn,
    /// Log decisions to stderr (`-vv` for debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Critical,
    /// Never exit 1 for findings
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with the configuration file
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Pull-through cache rules
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Upstream credential secrets
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Bring cached repositories to their profile (lifecycle, tags, scanning, mutability, policy)
    Harden(HardenArgs),
    /// Repository creation templates of the managed prefixes, from the profiles
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Pull images through the cache ahead of need
    Prewarm(PrewarmArgs),
    /// Refresh cached tags now: delete each from the cache and pull it through again (its staleness is shown); exit 2 for an image outside the managed cache
    Refresh(RefreshArgs),
    /// Print the cache URI of upstream image references, or rewrite the files that use them
    Rewrite(RewriteArgs),
    /// Classify a cluster's or a folder's images: via cache, exempt, direct, broken, digest-only
    Audit(AuditArgs),
    /// Will the first pull through each rule work for each consumer (`[consumers]`)? Exit 1 when one would fail
    Doctor(DoctorArgs),
    /// Every role the deployment creates and the permissions it grants (`--json`: what infra/cdk/permissions.json holds)
    Permissions,
    /// Print a JSON Schema: of a function's report (what `--json` prints and the function returns), or of `ptc-ops.toml` (`config`)
    Schema(SchemaArgs),
    /// What the cache holds per managed prefix: repositories, images, bytes, monthly cost, unused repositories
    Usage(UsageArgs),
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Print one CSV row per prefix (and a `*` row for all of them) instead of tables
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// An image not pulled (never pulled: not pushed) in this many days is unused
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub unused_days: u32,
    /// Only this managed prefix (repeatable)
    #[arg(long = "prefix", value_name = "P")]
    pub prefixes: Vec<String>,
    /// List archived images too (one more `DescribeImages` per repository)
    #[arg(long)]
    pub archived: bool,
    /// List the cache repositories none of whose images was pulled in DAYS (at least 1), to
    /// delete them (with `--yes`); the next pull through the cache creates each one again
    // 0 would call every repository unused, pulled a second ago or not.
    #[arg(long, value_name = "DAYS", conflicts_with_all = ["unused_days", "csv"],
          value_parser = clap::value_parser!(u32).range(1..))]
    pub prune_unused: Option<u32>,
    /// With `--prune-unused`: delete them (`DeleteRepository` with force); without it, a dry run
    #[arg(long, requires = "prune_unused")]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The function whose report schema to print, or `config` for the configuration file
    #[arg(value_enum)]
    pub subject: SchemaSubject,
}

/// What `ptc schema` describes: a function that returns a report, or the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaSubject {
    HardenRepository,
    ValidateCacheRules,
    CheckCredentials,
    PrewarmImages,
    /// `ptc-ops.toml`, for editors with TOML schema support (schemas/ptc-ops.toml.schema.json)
    Config,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file and print every problem with its key path
    Check {
        /// The file to check (default: the `--config` resolution)
        file: Option<PathBuf>,
    },
    /// Print the reference of every key (Markdown, docs/configuration.md), generated from the same types as `ptc schema config`
    Reference,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate every rule (ValidatePullThroughCacheRule) and cross-check its secret
    Validate {
        /// Only these rule prefixes (repeatable)
        #[arg(long = "prefix", value_name = "PREFIX")]
        prefixes: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Check format, expiry, age and use of every `ecr-pullthroughcache/` secret
    Check {
        /// Only these secrets, by name (repeatable)
        #[arg(long = "secret", value_name = "NAME")]
        secrets: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Show how each template differs from its profile, and the hazards; change nothing
    Plan {
        /// Show each differing field in full, pretty-printed, as a unified diff
        #[arg(long)]
        diff: bool,
    },
    /// Create and update the templates (unless `hardening.creation_templates` is `check` or `off`)
    Apply,
}

#[derive(Debug, Args)]
pub struct HardenArgs {
    /// Plan and report; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Show each change in full (policies pretty-printed) as a unified diff under its line
    #[arg(long)]
    pub diff: bool,
    /// Every repository under the managed prefixes
    #[arg(long, conflicts_with = "repositories")]
    pub all: bool,
    /// Repositories by full name (`docker-hub/library/nginx`)
    #[arg(required_unless_present = "all")]
    pub repositories: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PrewarmArgs {
    /// Image references (`nginx:1.27`, `ghcr.io/fluxcd/source-controller:v1.4.1`)
    pub images: Vec<String>,
    /// Pre-warm the references these use: a list (one per line, `#` comments), manifests, Helm
    /// values, kustomizations, Dockerfiles, Compose files, or a folder of them; `-` reads stdin
    /// (repeatable)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub limits: FileLimits,
    #[command(flatten)]
    pub build: BuildArgs,
    /// Plan only: print the cache URIs, pull nothing
    #[arg(long)]
    pub dry_run: bool,
    /// A cached tag whose upstream moved: `never` (ask no upstream), `report` (status `stale`) or
    /// `stale` (delete it from the cache and pull it again); default `prewarm.refresh`
    #[arg(long, value_name = "MODE", value_parser = parse_refresh_mode)]
    pub refresh: Option<ptc_ops::domain::freshness::RefreshMode>,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Image references (`nginx:1.27`), each by tag
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Read the cache and the upstreams, show what is stale, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_refresh_mode(text: &str) -> Result<ptc_ops::domain::freshness::RefreshMode, String> {
    ptc_ops::domain::freshness::RefreshMode::CHOICES
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, mode)| *mode)
        .ok_or_else(|| format!("expected `never`, `report` or `stale`, found {text:?}"))
}

/// How `-f` reads files.
#[derive(Debug, Clone, Copy, Args)]
pub struct FileLimits {
    /// Skip files larger than this (`10MB`, `512KiB`, bytes), with a note; a file named with `-f` is a problem instead
    #[arg(long, value_name = "SIZE", default_value = "10MB", value_parser = ptc_ops::byte_size::parse_byte_size)]
    pub max_file_size: u64,
}

/// What a Dockerfile's build is given beyond the file.
#[derive(Debug, Clone, Default, Args)]
pub struct BuildArgs {
    /// A build argument, as `docker build --build-arg` gives it: it overrides the default of the
    /// `ARG` of that name before the first `FROM` (repeatable)
    #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = parse_build_arg)]
    pub build_args: Vec<(String, String)>,
}

impl BuildArgs {
    pub fn scan_options(&self) -> ptc_ops::cluster::manifests::ScanOptions {
        ptc_ops::cluster::manifests::ScanOptions {
            build_args: self.build_args.iter().cloned().collect(),
        }
    }
}

fn parse_build_arg(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value))
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "expected `NAME=VALUE` with a build argument's name (letters, digits, `_`), got `{text}`"
        )),
    }
}

#[derive(Debug, Args)]
pub struct RulesSource {
    /// Read the rules from `aws ecr describe-pull-through-cache-rules` output instead of asking AWS
    #[arg(long, value_name = "FILE")]
    pub rules_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RewriteArgs {
    /// Upstream image references
    #[arg(required_unless_present_any = ["emit", "files"])]
    pub images: Vec<String>,
    /// Rewrite the images these use: manifests, Helm values, a `HelmRelease`, a kustomization,
    /// a Dockerfile, a Compose file, a list, or a folder of them (walked); `-` reads stdin
    /// (repeatable)
    #[arg(short = 'f', long = "file", value_name = "PATH", conflicts_with_all = ["images", "emit"])]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub limits: FileLimits,
    /// Print a unified diff of the rewrite
    #[arg(long, requires = "files", conflicts_with_all = ["in_place", "check"])]
    pub diff: bool,
    /// Rewrite the files, changing only the image strings
    #[arg(long, requires = "files", conflicts_with = "check")]
    pub in_place: bool,
    /// Change nothing; exit 1 when any reference bypasses the cache (a CI gate)
    #[arg(long, requires = "files")]
    pub check: bool,
    /// With `--check`: exit 1 also on an ambiguous reference (one whose image the file alone does
    /// not determine: a chart's `hub`, a build argument without a default, a local build)
    #[arg(long, requires = "check")]
    pub strict: bool,
    /// References matching this pattern (`*` wildcards) may bypass the cache: kept as written and
    /// not counted by `--check` (repeatable)
    #[arg(long = "allow", value_name = "PATTERN")]
    pub allow: Vec<String>,
    #[command(flatten)]
    pub build: BuildArgs,
    /// Rewrite digest-only references too (a first pull by digest does not populate the cache); with `--emit kyverno`, every reference with a digest (`repo:tag@sha256:…` too)
    #[arg(long)]
    pub allow_digest: bool,
    /// The private registry host (`<account>.dkr.ecr.<region>.amazonaws.com`); default: from the rules and region
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
    #[command(flatten)]
    pub rules: RulesSource,
    /// Print a policy that rewrites at admission instead: `kyverno`, a Kyverno ClusterPolicy built from the rules
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "images")]
    pub emit: Option<Emit>,
}

/// What `ptc rewrite --emit` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    Kyverno,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Answer for this role, user or account only (`arn:aws:iam::111122223333:role/eks-node`)
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The private registry host (`<account>.dkr.ecr.<region>.amazonaws.com`); default: from the
    /// rules' registry id and the region
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
    /// `kubectl get pods -A -o json` output or a plain list of references; `-` reads stdin; with
    /// neither this, `-f` nor piped input, `kubectl get pods -A -o json` is run
    pub input: Option<PathBuf>,
    /// Audit the images these use: manifests, Helm values, a `HelmRelease`, a kustomization, a
    /// Dockerfile, a Compose file, or a folder of them (walked); `-` reads stdin (repeatable)
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        conflicts_with = "input"
    )]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub limits: FileLimits,
    /// Direct images matching this pattern (`*` wildcards) do not fail the audit (repeatable)
    #[arg(long = "allow", value_name = "PATTERN")]
    pub allow: Vec<String>,
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub rules: RulesSource,
}
