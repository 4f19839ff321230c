//! Integration tests: the product's real entry points against the local AWS emulator and real
//! upstream registries on loopback. One binary, one module per area.

mod alerts;
mod check_credentials;
mod check_credentials_expiry;
mod consumers;
mod creation_templates;
mod demo;
mod drift_events;
mod emulator;
mod functions;
mod harden_repository;
mod harden_sweep;
mod infra;
mod infra_routing;
mod kyverno;
mod organisation;
mod prewarm_images;
mod pull_time;
mod registry;
mod registry_events;
mod registry_scanning;
mod state;
mod usage;
mod validate_cache_rules;
