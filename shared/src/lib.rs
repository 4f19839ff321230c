//! Core library of ecr-ptc-ops.
//!
//! - [`config`]: the `ptc-ops.toml` contract, raw then validated.
//! - [`events`]: every payload a function accepts, parsed once.
//! - [`harden_repository`], [`validate_cache_rules`], [`check_credentials`],
//!   [`prewarm_images`]: what each function does, named like it, callable from a Lambda
//!   handler and from the `ptc` CLI alike.
//! - [`consumers`]: will each consumer's first pull through each rule work (`ptc doctor`).
//! - [`templates`]: repository creation templates from the hardening profiles.
//! - [`run`]: the contract every feature keeps (`run(&RunContext, Request) -> Ran`).
//! - [`domain`]: pure types and rules (no I/O): severities, findings, reports, policies.
//! - [`ports`]: what the features ask of the outside world, as traits (registry, templates,
//!   scanning, secret store, IAM, upstream APIs, alerts, hand-off), and in-memory fakes of them
//!   for unit tests.
//! - [`aws`]: the only place that builds SDK clients and converts SDK types; its adapters
//!   implement the ports.
//! - [`upstream`]: the upstream registries' own APIs over HTTPS (token expiry).
//! - [`alerts`], [`metrics`], [`logging`]: what a run tells the outside world.
//! - [`deadline`]: the time an invocation has left (pure; the CLI has none).
//! - [`lambda`]: plumbing every function binary shares.
//! - [`audit`]: which images of a cluster bypass the cache (`ptc audit`).
//! - [`kyverno`]: a Kyverno policy that rewrites Pod images to the cache, from the rules.
//! - [`manifests`]: image references in manifests, values files and Dockerfiles, and their rewrite.
//! - [`remedies`]: every command and instruction the findings' next steps print.
//! - [`report_schema`]: the JSON Schema of each function's report (`schemas/`, `ptc schema`).

pub mod alerts;
pub mod audit;
pub mod aws;
pub mod byte_size;
pub mod check_credentials;
pub mod config;
pub mod consumers;
pub mod deadline;
pub mod domain;
pub mod env;
pub mod error;
pub mod events;
pub mod harden_repository;
pub mod kyverno;
pub mod lambda;
pub mod logging;
pub mod manifests;
pub mod metrics;
pub mod ports;
pub mod prewarm_images;
pub mod remedies;
pub mod report_schema;
pub mod run;
pub mod scanning;
pub mod templates;
pub mod upstream;
pub mod validate_cache_rules;

/// Named cases for table tests: a macro only, exported for the other crates' tests too.
mod test_cases;
