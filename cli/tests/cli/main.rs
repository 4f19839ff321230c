//! The `ptc` binary end to end, as one test binary (each test binary links the whole library
//! and the AWS SDKs, so one binary links once):
//!
//! - [`commands`]: the real binary against the local emulator and real upstream registries;
//! - [`manifests`]: `-f` on real-shaped manifests, against golden files;
//! - [`kyverno`]: `ptc rewrite --emit kyverno` against the golden policy;
//! - [`schema`]: `ptc schema` prints the checked-in schemas.

mod commands;
mod kyverno;
mod manifests;
mod schema;
mod support;
mod usage;
