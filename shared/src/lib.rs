//! Core library of ecr-ptc-ops, laid out as ports and adapters:
//!
//! - Features, one per function, named like it and callable from a Lambda handler and from the
//!   `ptc` CLI alike: [`harden_repository`] (with its steps [`harden_repository::templates`]
//!   and [`harden_repository::scanning`]), [`validate_cache_rules`] (with the consumer checks of
//!   [`validate_cache_rules::consumers`], `ptc doctor`), [`check_credentials`],
//!   [`prewarm_images`]; and the [`cluster`] tools (`ptc audit`, `ptc kyverno`,
//!   `ptc manifests`).
//! - The core they share: [`config`] (the `ptc-ops.toml` contract, raw then validated),
//!   [`events`] (every payload a function accepts, parsed once), [`run`] (the contract every
//!   feature keeps: `run(&RunContext<P>, Request) -> Ran`), [`alerts`], [`metrics`],
//!   [`logging`], [`error`], [`deadline`], [`remedies`] (every command the findings' next steps
//!   print), [`report_schema`], [`registry_api`] (an upstream registry's manifest `HEAD` and token
//!   flow, through the upstream port).
//! - [`domain`] (the crate `ptc-ops-domain`, re-exported): pure types and rules (no I/O):
//!   findings, reports, policies, the image model and the cache mapping, the permissions model.
//! - [`ports`]: what the features ask of the outside world, as traits bundled in a
//!   [`ports::PortSet`], and in-memory fakes of them for unit tests.
//! - Adapters, which implement the ports and know no feature: [`aws`] (the only place that
//!   builds SDK clients and converts SDK types) and [`upstream`] (the upstream HTTPS client).
//! - [`lambda`]: the composition root and plumbing every function binary shares.
//!
//! Dependencies point inward: features → ports, core, domain; adapters → ports, domain.

pub mod alerts;
pub mod aws;
pub mod byte_size;
pub mod check_credentials;
pub mod cluster;
pub mod config;
pub mod deadline;
pub mod env;
pub mod error;
pub mod events;
pub mod harden_repository;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod ports;
pub mod prewarm_images;
pub mod registry_api;
pub mod remedies;
pub mod report_schema;
pub mod run;
pub mod upstream;
pub mod validate_cache_rules;

/// The pure domain is a crate of its own (`domain/`): the compiler keeps it free of the rest.
pub use ptc_ops_domain as domain;
pub use ptc_ops_domain::named_cases;

/// Named cases for table tests (the macro comes with the domain).
mod test_cases;
